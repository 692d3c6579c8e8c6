import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudWatchLogsClient, GetLogEventsCommand, ResourceNotFoundException } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeTasksCommand, ECSClient } from '@aws-sdk/client-ecs';
import { GetObjectCommand, NoSuchKey, S3Client } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, GetExecutionHistoryCommand, ListExecutionsCommand, ListMapRunsCommand, SFNClient, type HistoryEvent } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { openLocalStore } from '../../lib/local/engine/store';
import { ModuleLineFilter, runnerTasksFromHistory } from '../../lib/operator/logs';
import { RunStore } from '../../lib/store/run-store';
import { endAfterTest } from '../setup/children';
import { runCli } from './run-cli';

const CONFIG = join(__dirname, '..', '..', 'examples', 'tfstep.yaml');
const CLI = join(__dirname, '..', '..', 'bin', 'tfstep.cjs');
const EXEC = 'run-42';
const EXEC_ARN = `arn:aws:states:us-east-1:999999999999:execution:tfstep-pipeline:${EXEC}`;
const DEV_TASK = 'arn:aws:ecs:us-east-1:111111111111:task/tfstep-us-east-1/0a1b2c3d4e5f';
const PROD_TASK = 'arn:aws:ecs:us-east-1:333333333333:task/tfstep-us-east-1/9f8e7d6c5b4a';

/** The ECS `.sync` events Step Functions writes for one runner task (PascalCase, as it returns them). */
function taskEvents(firstId: number, taskArn: string, account: string, phase: string, modules: string[], ended: 'succeeded' | 'failed' | 'running', execution = EXEC): HistoryEvent[] {
  const env = [
    { Name: 'TFSTEP_ACCOUNT', Value: account },
    { Name: 'TFSTEP_PHASE', Value: phase },
    { Name: 'TFSTEP_MODULES', Value: JSON.stringify(modules) },
    { Name: 'TFSTEP_EXECUTION', Value: execution },
  ];
  const task = { TaskArn: taskArn, ClusterArn: 'arn:aws:ecs:us-east-1:111111111111:cluster/tfstep-us-east-1', LastStatus: 'PROVISIONING', Overrides: { ContainerOverrides: [{ Name: 'runner', Environment: env }] } };
  const t = new Date('2026-11-26T10:00:00Z');
  const events: HistoryEvent[] = [
    { id: firstId, type: 'TaskScheduled', timestamp: t, previousEventId: firstId - 1, taskScheduledEventDetails: { resourceType: 'ecs', resource: 'runTask.sync', region: 'us-east-1', parameters: '{}' } },
    { id: firstId + 1, type: 'TaskStarted', timestamp: t, previousEventId: firstId, taskStartedEventDetails: { resourceType: 'ecs', resource: 'runTask.sync' } },
    { id: firstId + 2, type: 'TaskSubmitted', timestamp: t, previousEventId: firstId + 1, taskSubmittedEventDetails: { resourceType: 'ecs', resource: 'runTask.sync', output: JSON.stringify({ Tasks: [task], Failures: [] }) } },
  ];
  if (ended === 'succeeded') {
    events.push({ id: firstId + 3, type: 'TaskSucceeded', timestamp: t, previousEventId: firstId + 2, taskSucceededEventDetails: { resourceType: 'ecs', resource: 'runTask.sync', output: JSON.stringify({ ...task, LastStatus: 'STOPPED' }) } });
  } else if (ended === 'failed') {
    events.push({
      id: firstId + 3,
      type: 'TaskFailed',
      timestamp: t,
      previousEventId: firstId + 2,
      taskFailedEventDetails: { resourceType: 'ecs', resource: 'runTask.sync', error: 'States.TaskFailed', cause: JSON.stringify({ ...task, LastStatus: 'STOPPED', Containers: [{ ExitCode: 1 }] }) },
    });
  }
  return events;
}

const body = (text: string) => ({ transformToString: () => Promise.resolve(text) }) as any;

describe('runnerTasksFromHistory', () => {
  it('finds each runner task with its account, phase, modules and whether it ended', () => {
    // GIVEN a history with a finished dev task and a running prod task
    const events = [...taskEvents(10, DEV_TASK, 'dev', 'plan-and-apply', ['dev/us-east-1/network'], 'succeeded'), ...taskEvents(20, PROD_TASK, 'prod', 'apply', ['prod/us-east-1/app'], 'running')];
    // WHEN the tasks are read from it
    const tasks = runnerTasksFromHistory(events);
    // THEN both are found, in submission order
    expect(tasks).toEqual([
      expect.objectContaining({ taskArn: DEV_TASK, taskId: '0a1b2c3d4e5f', account: 'dev', phase: 'plan-and-apply', modules: ['dev/us-east-1/network'], accountId: '111111111111', region: 'us-east-1', ended: true }),
      expect.objectContaining({ taskArn: PROD_TASK, account: 'prod', phase: 'apply', ended: false }),
    ]);
  });

  it('reads the environment from the scheduled parameters when the submitted task lacks overrides', () => {
    const events = taskEvents(1, DEV_TASK, 'dev', 'plan', ['a'], 'failed');
    events[0]!.taskScheduledEventDetails!.parameters = JSON.stringify({ Overrides: { ContainerOverrides: [{ Environment: [{ Name: 'TFSTEP_ACCOUNT', Value: 'dev' }, { Name: 'TFSTEP_PHASE', Value: 'plan' }] }] } });
    events[2]!.taskSubmittedEventDetails!.output = JSON.stringify({ Tasks: [{ TaskArn: DEV_TASK }] });
    expect(runnerTasksFromHistory(events)).toEqual([expect.objectContaining({ account: 'dev', phase: 'plan', ended: true })]);
  });
});

describe('ModuleLineFilter', () => {
  it("keeps the runner's lines of one module and the tool output that follows them", () => {
    const filter = new ModuleLineFilter('b', ['a', 'b']);
    const lines = ['tfstep runner: plan of 2 module(s)', '[a] terraform plan', 'a output', '[b] terraform plan', 'b output', '[a] done'];
    expect(lines.filter((l) => filter.accept(l))).toEqual(['[b] terraform plan', 'b output']);
  });
});

describe('a task whose overrides name a manifest instead of listing modules', () => {
  it('is found, and the module filter keeps its lines of that module', () => {
    // GIVEN a task whose overrides carry TFSTEP_MANIFEST (no TFSTEP_MODULES)
    const events = taskEvents(10, DEV_TASK, 'dev', 'plan', [], 'succeeded');
    const output = JSON.parse(events[2]!.taskSubmittedEventDetails!.output!) as { Tasks: { Overrides: { ContainerOverrides: { Environment: { Name: string; Value: string }[] }[] } }[] };
    const env = output.Tasks[0]!.Overrides.ContainerOverrides[0]!.Environment;
    output.Tasks[0]!.Overrides.ContainerOverrides[0]!.Environment = [...env.filter((e) => e.Name !== 'TFSTEP_MODULES'), { Name: 'TFSTEP_MANIFEST', Value: `accounts/dev/${EXEC}/plan.manifest.json` }];
    events[2]!.taskSubmittedEventDetails!.output = JSON.stringify(output);
    // WHEN the tasks are read THEN it is found with no module list
    const [task] = runnerTasksFromHistory(events);
    expect(task).toMatchObject({ account: 'dev', phase: 'plan', modules: [] });
    // AND a filter without a module list still keeps the lines of the module asked for
    const filter = new ModuleLineFilter('b', task!.modules);
    const lines = ['tfstep runner: plan of 2 module(s)', '[a] terraform plan', 'a output', '[b] terraform plan', 'b output', '[a] done'];
    expect(lines.filter((l) => filter.accept(l))).toEqual(['[b] terraform plan', 'b output']);
  });
});

describe('tfstep logs against AWS', () => {
  const sfn = mockClient(SFNClient);
  const s3 = mockClient(S3Client);
  const logs = mockClient(CloudWatchLogsClient);
  const ecs = mockClient(ECSClient);
  beforeEach(() => {
    sfn.reset();
    s3.reset();
    logs.reset();
    ecs.reset();
  });

  it('prints a finished task from the artifacts copy in the central bucket', async () => {
    // GIVEN a finished dev task whose log the runner copied to the artifacts bucket
    sfn.on(GetExecutionHistoryCommand, { executionArn: EXEC_ARN }).resolves({ events: taskEvents(10, DEV_TASK, 'dev', 'plan-and-apply', ['dev/us-east-1/network'], 'succeeded') });
    s3.on(GetObjectCommand, { Bucket: 'tfstep-artifacts-999999999999-us-east-1', Key: `accounts/dev/${EXEC}/plan-and-apply.log` }).resolves({
      Body: body('[dev/us-east-1/network] terraform plan\nPlan: 1 to add, 0 to change, 0 to destroy.\n'),
    });
    // WHEN logs is asked
    const res = await runCli(['logs', EXEC, '--config', CONFIG]);
    // THEN the header and the lines are printed, and CloudWatch is not read
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('==> dev plan-and-apply (task 0a1b2c3d4e5f, stopped)\n[dev/us-east-1/network] terraform plan\nPlan: 1 to add, 0 to change, 0 to destroy.\n');
    expect(logs.commandCalls(GetLogEventsCommand)).toHaveLength(0);
  });

  it('follows the Distributed Map child executions: each account task is in its child\'s own history', async () => {
    // GIVEN a parent whose history has no ECS event (the tasks ran in child executions), two Map
    // Runs listed newest first, and the first Map Run's children on two pages
    const MAP_RUN = (label: string) => `arn:aws:states:us-east-1:999999999999:mapRun:tfstep-pipeline/Accounts:${label}`;
    const CHILD = (id: string) => `arn:aws:states:us-east-1:999999999999:execution:tfstep-pipeline/Accounts:${id}`;
    sfn.on(GetExecutionHistoryCommand, { executionArn: EXEC_ARN }).resolves({
      events: [{ id: 1, type: 'ExecutionStarted', timestamp: new Date('2026-11-26T10:00:00Z') }, { id: 2, type: 'MapRunStarted', timestamp: new Date('2026-11-26T10:00:01Z') }],
    });
    sfn.on(ListMapRunsCommand, { executionArn: EXEC_ARN }).resolves({
      mapRuns: [
        { mapRunArn: MAP_RUN('prod'), executionArn: EXEC_ARN, stateMachineArn: 'x', startDate: new Date('2026-11-26T11:00:00Z') },
        { mapRunArn: MAP_RUN('dev'), executionArn: EXEC_ARN, stateMachineArn: 'x', startDate: new Date('2026-11-26T10:00:00Z') },
      ],
    });
    sfn
      .on(ListExecutionsCommand, { mapRunArn: MAP_RUN('dev'), nextToken: undefined })
      .resolves({ executions: [{ executionArn: CHILD('dev-1'), stateMachineArn: 'x', name: 'dev-1', status: 'SUCCEEDED', startDate: new Date('2026-11-26T10:00:02Z') }], nextToken: 'page-2' })
      .on(ListExecutionsCommand, { mapRunArn: MAP_RUN('dev'), nextToken: 'page-2' })
      .resolves({ executions: [] })
      .on(ListExecutionsCommand, { mapRunArn: MAP_RUN('prod') })
      .resolves({ executions: [{ executionArn: CHILD('prod-1'), stateMachineArn: 'x', name: 'prod-1', status: 'FAILED', startDate: new Date('2026-11-26T11:00:02Z') }] });
    sfn.on(GetExecutionHistoryCommand, { executionArn: CHILD('dev-1') }).resolves({ events: taskEvents(3, DEV_TASK, 'dev', 'plan-and-apply', ['dev/us-east-1/network'], 'succeeded') });
    sfn.on(GetExecutionHistoryCommand, { executionArn: CHILD('prod-1') }).resolves({ events: taskEvents(3, PROD_TASK, 'prod', 'apply', ['prod/us-east-1/app'], 'failed') });
    s3.on(GetObjectCommand, { Key: `accounts/dev/${EXEC}/plan-and-apply.log` }).resolves({ Body: body('dev line\n') });
    s3.on(GetObjectCommand, { Key: `accounts/prod/${EXEC}/apply.log` }).resolves({ Body: body('prod line\n') });
    // WHEN logs is asked for the parent execution
    const res = await runCli(['logs', EXEC, '--config', CONFIG]);
    // THEN both children's tasks are printed, in the order their Map Runs started
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('==> dev plan-and-apply (task 0a1b2c3d4e5f, stopped)\ndev line\n==> prod apply (task 9f8e7d6c5b4a, stopped)\nprod line\n');
    // AND the children were listed by Map Run, every page of them
    expect(sfn.commandCalls(ListExecutionsCommand).map((c) => [c.args[0].input.mapRunArn, c.args[0].input.nextToken])).toEqual([
      [MAP_RUN('dev'), undefined],
      [MAP_RUN('dev'), 'page-2'],
      [MAP_RUN('prod'), undefined],
    ]);
  });

  it('finds a pull request run by its name in the plan-only state machine, and reads its task\'s log under the task\'s own name', async () => {
    // GIVEN a plan-only execution (a pull request run) whose dev task, named after the run, ran in a Map child
    const RUN = 'pr-acme-live-7-0123456789ab-mhx1';
    const TASK = `${RUN}-0`;
    const PIPELINE_ARN = `arn:aws:states:us-east-1:999999999999:execution:tfstep-pipeline:${RUN}`;
    const PLAN_ONLY_ARN = `arn:aws:states:us-east-1:999999999999:execution:tfstep-plan-only:${RUN}`;
    const MAP_RUN = 'arn:aws:states:us-east-1:999999999999:mapRun:tfstep-plan-only/Plans:1';
    const CHILD = 'arn:aws:states:us-east-1:999999999999:execution:tfstep-plan-only/Plans:dev-1';
    sfn.on(GetExecutionHistoryCommand, { executionArn: PIPELINE_ARN }).rejects(Object.assign(new Error('Execution Does Not Exist'), { name: 'ExecutionDoesNotExist' }));
    sfn.on(GetExecutionHistoryCommand, { executionArn: PLAN_ONLY_ARN }).resolves({ events: [{ id: 1, type: 'ExecutionStarted', timestamp: new Date('2026-11-26T10:00:00Z') }] });
    sfn.on(ListMapRunsCommand, { executionArn: PLAN_ONLY_ARN }).resolves({ mapRuns: [{ mapRunArn: MAP_RUN, executionArn: PLAN_ONLY_ARN, stateMachineArn: 'x', startDate: new Date('2026-11-26T10:00:00Z') }] });
    sfn.on(ListExecutionsCommand, { mapRunArn: MAP_RUN }).resolves({ executions: [{ executionArn: CHILD, stateMachineArn: 'x', name: 'dev-1', status: 'SUCCEEDED', startDate: new Date('2026-11-26T10:00:02Z') }] });
    sfn.on(GetExecutionHistoryCommand, { executionArn: CHILD }).resolves({ events: taskEvents(3, DEV_TASK, 'dev', 'plan', ['dev/us-east-1/network'], 'succeeded', TASK) });
    s3.on(GetObjectCommand, { Bucket: 'tfstep-artifacts-999999999999-us-east-1', Key: `accounts/dev/${TASK}/plan.log` }).resolves({ Body: body('[dev/us-east-1/network] terraform plan\n') });
    // WHEN logs is asked for the run's name
    const res = await runCli(['logs', RUN, '--config', CONFIG]);
    // THEN the plan-only execution's task is printed from the artifacts bucket, without CloudWatch
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('==> dev plan (task 0a1b2c3d4e5f, stopped)\n[dev/us-east-1/network] terraform plan\n');
    expect(logs.commandCalls(GetLogEventsCommand)).toHaveLength(0);
  });

  it('says in which state machines it looked when no execution has the name', async () => {
    sfn.on(GetExecutionHistoryCommand).rejects(Object.assign(new Error('Execution Does Not Exist'), { name: 'ExecutionDoesNotExist' }));
    const res = await runCli(['logs', 'pr-nothing', '--config', CONFIG]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/no execution named "pr-nothing" in arn:aws:states:.*:stateMachine:tfstep-pipeline or arn:aws:states:.*:stateMachine:tfstep-plan-only/);
  });

  it('fails with the permission to add when ListMapRuns is refused', async () => {
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [] });
    sfn.on(ListMapRunsCommand).rejects(Object.assign(new Error('User is not authorized to perform: states:ListMapRuns'), { name: 'AccessDeniedException' }));
    const res = await runCli(['logs', EXEC, '--config', CONFIG]);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('states:ListMapRuns');
  });

  it('falls back to CloudWatch Logs when the artifacts copy is missing, reading every page', async () => {
    sfn.on(GetExecutionHistoryCommand).resolves({ events: taskEvents(10, DEV_TASK, 'dev', 'plan', ['dev/us-east-1/network'], 'failed') });
    s3.on(GetObjectCommand).rejects(new NoSuchKey({ message: 'no', $metadata: {} }));
    logs
      .on(GetLogEventsCommand, { logGroupName: '/tfstep/runner-us-east-1', logStreamName: 'tfstep/runner/0a1b2c3d4e5f', nextToken: undefined })
      .resolves({ events: [{ message: 'line 1', timestamp: 1 }], nextForwardToken: 'f/1' })
      .on(GetLogEventsCommand, { nextToken: 'f/1' })
      .resolves({ events: [{ message: 'line 2\n', timestamp: 2 }], nextForwardToken: 'f/2' })
      .on(GetLogEventsCommand, { nextToken: 'f/2' })
      .resolves({ events: [], nextForwardToken: 'f/2' });
    const res = await runCli(['logs', EXEC, '--config', CONFIG]);
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('==> dev plan (task 0a1b2c3d4e5f, stopped)\nline 1\nline 2\n');
  });

  it('--follow streams a running task until ECS says it stopped, then drains its stream', async () => {
    // GIVEN a prod apply task that is RUNNING at the first poll and STOPPED at the second
    const running = taskEvents(20, PROD_TASK, 'prod', 'apply', ['prod/us-east-1/app'], 'running');
    sfn.on(GetExecutionHistoryCommand).resolvesOnce({ events: running }).resolvesOnce({ events: running }).resolves({ events: taskEvents(20, PROD_TASK, 'prod', 'apply', ['prod/us-east-1/app'], 'succeeded') });
    sfn.on(DescribeExecutionCommand).resolvesOnce({ status: 'RUNNING' } as any).resolves({ status: 'SUCCEEDED' } as any);
    ecs.on(DescribeTasksCommand).resolvesOnce({ tasks: [{ taskArn: PROD_TASK, lastStatus: 'RUNNING' }] }).resolves({ tasks: [{ taskArn: PROD_TASK, lastStatus: 'STOPPED' }] });
    logs
      .on(GetLogEventsCommand, { nextToken: undefined })
      .resolves({ events: [{ message: '[prod/us-east-1/app] terraform apply' }], nextForwardToken: 't1' })
      .on(GetLogEventsCommand, { nextToken: 't1' })
      .resolvesOnce({ events: [], nextForwardToken: 't1' })
      .resolvesOnce({ events: [{ message: 'Apply complete! Resources: 2 added, 0 changed, 0 destroyed.' }], nextForwardToken: 't2' })
      .on(GetLogEventsCommand, { nextToken: 't2' })
      .resolves({ events: [], nextForwardToken: 't2' });
    // WHEN logs --follow runs
    const res = await runCli(['logs', EXEC, '--follow', '--poll-ms', '1', '--config', CONFIG, '--profile-for', 'prod=prod-admin']);
    // THEN every line arrives once, in order, and it stops after the task and the execution did
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('==> prod apply (task 9f8e7d6c5b4a)\n[prod/us-east-1/app] terraform apply\nApply complete! Resources: 2 added, 0 changed, 0 destroyed.\n');
    expect(ecs.commandCalls(DescribeTasksCommand).map((c) => c.args[0].input.tasks)).toEqual([[PROD_TASK], [PROD_TASK]]);
    expect(res.stderr).toContain('execution run-42 is SUCCEEDED');
    // the finished task is not read again from the artifacts copy after it was streamed
    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(0);
  });

  it('filters by account and by module', async () => {
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [...taskEvents(10, DEV_TASK, 'dev', 'plan-and-apply', ['dev/a', 'dev/b'], 'succeeded'), ...taskEvents(20, PROD_TASK, 'prod', 'apply', ['prod/a'], 'succeeded')],
    });
    s3.on(GetObjectCommand, { Key: `accounts/dev/${EXEC}/plan-and-apply.log` }).resolves({ Body: body('start\n[dev/a] plan\nA\n[dev/b] plan\nB\n') });
    const res = await runCli(['logs', EXEC, '--account', 'dev', '--module', 'dev/b', '--config', CONFIG]);
    expect(res.stdout).toBe('==> dev plan-and-apply (task 0a1b2c3d4e5f, stopped)\n[dev/b] plan\nB\n');
    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(1);
  });

  it('fails when CloudWatch in the target account refuses, saying which profile to pass', async () => {
    sfn.on(GetExecutionHistoryCommand).resolves({ events: taskEvents(20, PROD_TASK, 'prod', 'apply', ['prod/a'], 'running') });
    logs.on(GetLogEventsCommand).rejects(Object.assign(new Error('not authorized to perform logs:GetLogEvents'), { name: 'AccessDeniedException' }));
    const res = await runCli(['logs', EXEC, '--config', CONFIG]);
    expect(res.code).toBe(0);
    expect(res.stderr).toContain('cannot read /tfstep/runner-us-east-1:tfstep/runner/9f8e7d6c5b4a in account prod (333333333333); pass --profile-for prod=<profile>');
  });

  it('says so when the stream does not exist yet', async () => {
    sfn.on(GetExecutionHistoryCommand).resolves({ events: taskEvents(20, PROD_TASK, 'prod', 'apply', ['prod/a'], 'running') });
    logs.on(GetLogEventsCommand).rejects(new ResourceNotFoundException({ message: 'The specified log stream does not exist.', $metadata: {} }));
    const res = await runCli(['logs', EXEC, '--config', CONFIG]);
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('==> prod apply (task 9f8e7d6c5b4a)\n');
  });

  it('fails when --profile-for is not ACCOUNT=PROFILE', async () => {
    const res = await runCli(['logs', EXEC, '--config', CONFIG, '--profile-for', 'prod']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('--profile-for: got "prod"; expected ACCOUNT=PROFILE');
  });
});

describe('tfstep logs --local', () => {
  it('prints the log files of every account in stage order', async () => {
    // GIVEN a finished local run with logs of two accounts
    const stateDir = mkdtempSync(join(tmpdir(), 'tfstep-logs-'));
    const local = await openLocalStore(stateDir);
    const store = new RunStore(local.docClient, local.tableName);
    await store.createRun({ execution: 'local-1', executionId: 'local-1', repository: 'acme/x', branch: 'main', commit: 'a'.repeat(40), sequence: 's', status: 'RUNNING', startedAt: '2026-11-26T10:00:00Z', input: '{}' });
    await store.finishRun('local-1', 'SUCCEEDED');
    await local.close();
    for (const [account, phase, text] of [
      ['prod', 'apply', 'prod apply line\n'],
      ['dev', 'plan-and-apply', 'dev line\n'],
      ['prod', 'plan', 'prod plan line\n'],
    ] as const) {
      mkdirSync(join(stateDir, 'logs', 'local-1', account), { recursive: true });
      writeFileSync(join(stateDir, 'logs', 'local-1', account, `${phase}.log`), text);
    }
    // WHEN logs --local runs
    const res = await runCli(['logs', 'local-1', '--local', '--state-dir', stateDir, '--config', CONFIG]);
    // THEN dev comes before prod, and prod's plan before its apply
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('==> dev plan-and-apply\ndev line\n==> prod plan\nprod plan line\n==> prod apply\nprod apply line\n');
    // AND the execution's ARN names the same run
    const byArn = await runCli(['logs', 'arn:aws:states:us-east-1:999999999999:execution:tfstep-pipeline:local-1', '--local', '--state-dir', stateDir, '--config', CONFIG]);
    expect(byArn).toEqual(res);
  });

  it('--follow tails the files until the run record is finished', async () => {
    // GIVEN a running local run whose log grows while it is followed
    const stateDir = mkdtempSync(join(tmpdir(), 'tfstep-logs-'));
    const seed = await openLocalStore(stateDir);
    await new RunStore(seed.docClient, seed.tableName).createRun({
      execution: 'local-2',
      executionId: 'local-2',
      repository: 'acme/x',
      branch: 'main',
      commit: 'a'.repeat(40),
      sequence: 's',
      status: 'RUNNING',
      startedAt: '2026-11-26T10:00:00Z',
      input: '{}',
    });
    await seed.close();
    const file = join(stateDir, 'logs', 'local-2', 'dev', 'plan-and-apply.log');
    mkdirSync(join(stateDir, 'logs', 'local-2', 'dev'), { recursive: true });
    writeFileSync(file, 'first\npart');
    const later = (async () => {
      await new Promise((r) => setTimeout(r, 300));
      appendFileSync(file, 'ial line\nlast line\n');
      await new Promise((r) => setTimeout(r, 200));
      // the CLI holds the state directory: a second open in this process shares its server
      const writer = await openLocalStore(stateDir);
      await new RunStore(writer.docClient, writer.tableName).finishRun('local-2', 'SUCCEEDED');
      await writer.close();
    })();
    // WHEN logs --local --follow runs
    const res = await runCli(['logs', 'local-2', '--local', '--state-dir', stateDir, '--follow', '--poll-ms', '50', '--config', CONFIG]);
    await later;
    // THEN it printed every line once, the partial one joined, and returned after the run finished
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('==> dev plan-and-apply\nfirst\npartial line\nlast line\n');
  });

  it('--follow survives the end of the process serving the state directory: it prints the last lines and exits 0', async () => {
    // GIVEN `tfstep local serve` holding the state directory, and a running run whose log grows
    const stateDir = mkdtempSync(join(tmpdir(), 'tfstep-logs-'));
    const holder = endAfterTest(spawn(process.execPath, [CLI, 'local', 'serve', '--config', CONFIG, '--port', '0', '--state-dir', stateDir], {
      env: { ...process.env, TFSTEP_WEBHOOK_SECRET: 'secret-for-tests' },
      stdio: ['ignore', 'pipe', 'inherit'],
    }));
    const exited = new Promise((resolve) => holder.on('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      holder.stdout.on('data', (c: Buffer) => (c.toString('utf8').includes('tfstep local serve on') ? resolve() : undefined));
      holder.on('exit', (code) => reject(new Error(`local serve exited with ${code}`)));
    });
    const seed = await openLocalStore(stateDir);
    expect(seed.owner).toBe(false);
    await new RunStore(seed.docClient, seed.tableName).createRun({
      execution: 'local-3', executionId: 'local-3', repository: 'acme/x', branch: 'main', commit: 'a'.repeat(40), sequence: 's', status: 'RUNNING', startedAt: '2026-11-26T10:00:00Z', input: '{}',
    });
    await seed.close();
    const file = join(stateDir, 'logs', 'local-3', 'prod', 'apply.log');
    mkdirSync(join(stateDir, 'logs', 'local-3', 'prod'), { recursive: true });
    writeFileSync(file, 'Plan: 0 to add, 1 to change\n');
    const later = (async () => {
      await new Promise((r) => setTimeout(r, 300));
      // the process serving the table ends (its run finished) between two polls of the follower
      appendFileSync(file, 'Apply complete! Resources: 0 added, 1 changed, 0 destroyed.\n');
      holder.kill('SIGTERM');
      await exited;
      const writer = await openLocalStore(stateDir);
      await new RunStore(writer.docClient, writer.tableName).finishRun('local-3', 'SUCCEEDED');
      await writer.close();
    })();
    // WHEN logs --local --follow follows it
    const res = await runCli(['logs', 'local-3', '--local', '--state-dir', stateDir, '--follow', '--poll-ms', '50', '--config', CONFIG]);
    await later;
    // THEN it printed the last apply line and exited 0, with no connection error
    expect(res.stderr).not.toMatch(/ECONNREFUSED|Error/);
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('==> prod apply\nPlan: 0 to add, 1 to change\nApply complete! Resources: 0 added, 1 changed, 0 destroyed.\n');
  });

  it('fails when the execution is unknown to the local state', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'tfstep-logs-'));
    await (await openLocalStore(stateDir)).close();
    const res = await runCli(['logs', 'nope', '--local', '--state-dir', stateDir, '--config', CONFIG]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('no execution named "nope"');
  });
});
