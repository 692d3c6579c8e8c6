import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeExecutionCommand, ExecutionDoesNotExist, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { openLocalStore } from '../../lib/local/engine/store';
import { createRunTable, RunStore } from '../../lib/store/run-store';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { RunDetailSchema, RunsOutputSchema } from '../../lib/operator/views';
import { names } from '../../lib/domain/names';
import { REPO, SHA_FAILED, SHA_OK, seedRuns } from '../operator/seed';
import { runCli } from './run-cli';

const CONFIG = join(__dirname, '..', '..', 'examples', 'tfstep.yaml');
const SM_ARN = 'arn:aws:states:us-east-1:999999999999:stateMachine:tfstep-pipeline';
const execArn = (name: string) => `arn:aws:states:us-east-1:999999999999:execution:tfstep-pipeline:${name}`;

describe('tfstep runs and show --local', () => {
  let stateDir: string;

  beforeAll(async () => {
    // GIVEN a local state directory holding three runs written through the real stores
    stateDir = mkdtempSync(join(tmpdir(), 'tfstep-state-'));
    const local = await openLocalStore(stateDir);
    try {
      await seedRuns(new RunStore(local.docClient, local.tableName));
    } finally {
      await local.close();
    }
  });

  it('lists runs newest first as a table', async () => {
    // WHEN runs is asked for the local state
    const res = await runCli(['runs', '--local', '--state-dir', stateDir, '--config', CONFIG]);
    // THEN it prints one line per run with repository, short commit, status and stage
    expect(res.code).toBe(0);
    const lines = res.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^EXECUTION\s+REPOSITORY\s+COMMIT\s+STATUS\s+STAGE\s+STARTED\s+DURATION$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['run-waiting', 'run-failed', 'run-ok']);
    expect(lines[3]).toMatch(new RegExp(`run-ok\\s+${REPO}\\s+aaaaaaa\\s+SUCCEEDED\\s+prod\\s+2026-11-20 10:00:00Z\\s+5m30s`));
    // no colour codes when stdout is not a terminal
    expect(res.stdout).not.toContain('\u001b[');
  });

  it('prints stable JSON that matches the schema, and filters by status and limit', async () => {
    const res = await runCli(['runs', '--local', '--state-dir', stateDir, '--config', CONFIG, '--json', '--status', 'failed']);
    expect(res.code).toBe(0);
    const parsed = RunsOutputSchema.parse(JSON.parse(res.stdout));
    expect(parsed.runs).toEqual([
      {
        execution: 'run-failed',
        executionArn: execArn('run-failed'),
        repository: REPO,
        branch: 'main',
        commit: SHA_FAILED,
        pusher: 'dave',
        status: 'FAILED',
        stage: 'stage',
        startedAt: '2026-11-21T09:00:00.000Z',
        stoppedAt: '2026-11-21T09:02:30.000Z',
        durationSeconds: 150,
      },
    ]);
    const limited = RunsOutputSchema.parse(JSON.parse((await runCli(['runs', '--local', '--state-dir', stateDir, '--json', '--limit', '1', '--config', CONFIG])).stdout));
    expect(limited.runs.map((r) => r.execution)).toEqual(['run-waiting']);
  });

  it('fails when --status is not a status, naming the accepted ones', async () => {
    const res = await runCli(['runs', '--local', '--state-dir', stateDir, '--config', CONFIG, '--status', 'green']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('--status: got "green"; expected one of RUNNING, SUCCEEDED, FAILED');
  });

  it('fails when --limit is not a positive integer', async () => {
    const res = await runCli(['runs', '--local', '--state-dir', stateDir, '--limit', '0']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('--limit: got "0"; expected a positive integer');
  });

  it('shows a failed run: stages in order, the failed module with its error, and the replay command', async () => {
    const res = await runCli(['show', 'run-failed', '--local', '--state-dir', stateDir, '--config', CONFIG]);
    expect(res.code).toBe(0);
    const out = res.stdout;
    expect(out.indexOf('stage dev')).toBeLessThan(out.indexOf('stage stage'));
    expect(out.indexOf('stage stage')).toBeLessThan(out.indexOf('stage prod'));
    expect(out).toMatch(/stage stage\s+FAILED/);
    expect(out).toMatch(/stage\/us-east-1\/network\s+plan-and-apply\s+FAILED/);
    expect(out).toContain('terraform apply exited 1: Error: creating EC2 VPC: UnauthorizedOperation');
    expect(out).toMatch(/stage prod\s+PENDING/);
    expect(out).toContain('reason  stage stage failed: account stage, module stage/us-east-1/network failed');
    expect(out).toContain(`next: tfstep local replay run-failed --state-dir ${stateDir} --config ${CONFIG}\n`);
    expect(out).toContain(`next: tfstep logs run-failed --local --state-dir ${stateDir} --config ${CONFIG}\n`);
  });

  it('shows a run waiting for approval with its plan summary and approvers as JSON', async () => {
    const res = await runCli(['show', 'run-waiting', '--local', '--state-dir', stateDir, '--config', CONFIG, '--json']);
    expect(res.code).toBe(0);
    const detail = RunDetailSchema.parse(JSON.parse(res.stdout));
    const prod = detail.stages.find((s) => s.name === 'prod')!;
    expect(prod.status).toBe('AWAITING_APPROVAL');
    expect(prod.approval).toEqual({ status: 'PENDING', approvers: ['alice@example.com', 'bob@example.com'], decisions: [] });
    const app = prod.accounts[0]!.modules.find((m) => m.path === 'prod/us-east-1/app')!;
    expect(app).toEqual({ path: 'prod/us-east-1/app', phase: 'plan', status: 'PLANNED', plan: { add: 2, change: 1, destroy: 1 }, planSha256: 'd'.repeat(64), skippedBecause: null, mayChangeAfter: null, replan: null, error: null, durationSeconds: 60, deleted: ['aws_s3_bucket.old'] });
    // every hint carries the options this command was given, so it runs as printed
    expect(detail.hints).toEqual([
      `tfstep approve run-waiting --local --state-dir ${stateDir} --config ${CONFIG} --as EMAIL --comment "..."`,
      `tfstep reject run-waiting --local --state-dir ${stateDir} --config ${CONFIG} --as EMAIL --comment "..."`,
    ]);
    // the task token never leaves the store
    expect(res.stdout).not.toContain('token-that-never-shows');
  });

  it('takes the execution ARN as well as its name, and gives the ARN in --json', async () => {
    // GIVEN the ARN that `local run --json` and `runs --json` print for a local run
    const arn = execArn('run-failed');
    // WHEN show is given the ARN
    const byArn = await runCli(['show', arn, '--local', '--state-dir', stateDir, '--config', CONFIG, '--json']);
    // THEN it shows the same run as by name, with the ARN filled in
    expect(byArn.code).toBe(0);
    const detail = RunDetailSchema.parse(JSON.parse(byArn.stdout));
    expect(detail.execution).toBe('run-failed');
    expect(detail.executionArn).toBe(arn);
    const byName = RunDetailSchema.parse(JSON.parse((await runCli(['show', 'run-failed', '--local', '--state-dir', stateDir, '--config', CONFIG, '--json'])).stdout));
    expect(byName).toEqual(detail);
  });

  it.each(['REJECTED', 'ABORTED', 'EXPIRED'] as const)('names the command that goes on after a %s run', async (status) => {
    // GIVEN a local run that ended without deploying its push
    const dir = mkdtempSync(join(tmpdir(), 'tfstep-state-'));
    const local = await openLocalStore(dir);
    try {
      const store = new RunStore(local.docClient, local.tableName);
      await store.createRun({ execution: 'run-x', executionId: execArn('run-x'), repository: REPO, branch: 'main', commit: SHA_OK, sequence: 's', status: 'RUNNING', startedAt: '2026-11-20T10:00:00.000Z', input: '{}' });
      await store.finishRun('run-x', status, { reason: 'stopped' });
    } finally {
      await local.close();
    }
    // WHEN it is shown THEN the hints replay it and read its logs, with the state directory given
    const res = await runCli(['show', 'run-x', '--local', '--state-dir', dir, '--json']);
    expect(res.code).toBe(0);
    expect(RunDetailSchema.parse(JSON.parse(res.stdout)).hints).toEqual([`tfstep local replay run-x --state-dir ${dir}`, `tfstep logs run-x --local --state-dir ${dir}`]);
  });

  it('fails when the execution does not exist, saying how to list them', async () => {
    const res = await runCli(['show', 'nope', '--local', '--state-dir', stateDir, '--config', CONFIG]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('no execution named "nope" in the local state directory; run `tfstep runs`');
  });

  it('fails when the state directory does not exist', async () => {
    const res = await runCli(['runs', '--local', '--state-dir', join(stateDir, 'missing'), '--config', CONFIG]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('does not exist; run `tfstep local run` first, or pass --state-dir DIR');
  });
});

describe('tfstep runs and show against AWS', () => {
  const sfn = mockClient(SFNClient);
  let server: import('node:http').Server;
  let client: DynamoDBClient;
  const saved = { ...process.env };

  beforeAll(async () => {
    // GIVEN the central run table (dynalite standing in for DynamoDB) seeded through the real store
    server = require('dynalite')({ createTableMs: 0 });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const endpoint = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`;
    client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    await createRunTable(client, names.runTable());
    await seedRuns(RunStore.fromClient(client, names.runTable()));
    Object.assign(process.env, { AWS_ENDPOINT_URL_DYNAMODB: endpoint, AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x', AWS_REGION: 'us-east-1' });
  });
  afterAll(async () => {
    process.env = saved;
    client.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  beforeEach(() => sfn.reset());

  it('joins ListExecutions with the run table, keeping executions the table does not know', async () => {
    // GIVEN Step Functions lists three executions, one of them unknown to the run table
    sfn.on(ListExecutionsCommand, { stateMachineArn: SM_ARN }).resolves({
      executions: [
        { executionArn: execArn('run-new'), stateMachineArn: SM_ARN, name: 'run-new', status: 'RUNNING', startDate: new Date('2026-11-23T08:00:00Z') },
        { executionArn: execArn('run-failed'), stateMachineArn: SM_ARN, name: 'run-failed', status: 'FAILED', startDate: new Date('2026-11-21T09:00:00Z'), stopDate: new Date('2026-11-21T09:02:31Z') },
        { executionArn: execArn('run-ok'), stateMachineArn: SM_ARN, name: 'run-ok', status: 'SUCCEEDED', startDate: new Date('2026-11-20T10:00:00Z'), stopDate: new Date('2026-11-20T10:05:31Z') },
      ],
    });
    // WHEN runs --json is asked
    const res = await runCli(['runs', '--config', CONFIG, '--json']);
    // THEN each execution is listed with what the run table adds
    expect(res.code).toBe(0);
    const { runs } = RunsOutputSchema.parse(JSON.parse(res.stdout));
    expect(runs.map((r) => [r.execution, r.status, r.repository, r.stage, r.durationSeconds])).toEqual([
      ['run-new', 'RUNNING', null, null, expect.any(Number)],
      ['run-failed', 'FAILED', REPO, 'stage', 151],
      ['run-ok', 'SUCCEEDED', REPO, 'prod', 331],
    ]);
    expect(runs[2]!.executionArn).toBe(execArn('run-ok'));
  });

  it('filters by repository and passes an execution status to Step Functions', async () => {
    sfn.on(ListExecutionsCommand).resolves({
      executions: [
        { executionArn: execArn('run-new'), stateMachineArn: SM_ARN, name: 'run-new', status: 'SUCCEEDED', startDate: new Date('2026-11-23T08:00:00Z') },
        { executionArn: execArn('run-ok'), stateMachineArn: SM_ARN, name: 'run-ok', status: 'SUCCEEDED', startDate: new Date('2026-11-20T10:00:00Z') },
      ],
    });
    const res = await runCli(['runs', '--config', CONFIG, '--json', '--repo', REPO, '--status', 'succeeded']);
    expect(RunsOutputSchema.parse(JSON.parse(res.stdout)).runs.map((r) => r.execution)).toEqual(['run-ok']);
    expect(sfn.commandCalls(ListExecutionsCommand)[0]!.args[0].input.statusFilter).toBe('SUCCEEDED');
  });

  it('shows an execution from DescribeExecution and the run table, with the console link', async () => {
    sfn.on(DescribeExecutionCommand, { executionArn: execArn('run-ok') }).resolves({
      executionArn: execArn('run-ok'),
      stateMachineArn: SM_ARN,
      name: 'run-ok',
      status: 'SUCCEEDED',
      startDate: new Date('2026-11-20T10:00:00Z'),
      stopDate: new Date('2026-11-20T10:05:31Z'),
      input: JSON.stringify({ detail: { repository: { fullName: REPO }, branch: 'main', after: SHA_OK } }),
    });
    const res = await runCli(['show', 'run-ok', '--config', CONFIG, '--json']);
    expect(res.code).toBe(0);
    const detail = RunDetailSchema.parse(JSON.parse(res.stdout));
    expect(detail.links.console).toBe(`https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/${execArn('run-ok')}`);
    expect(detail.stages.map((s) => [s.name, s.status])).toEqual([
      ['dev', 'APPLIED'],
      ['stage', 'APPLIED'],
      ['prod', 'APPLIED'],
    ]);
    expect(detail.stages[2]!.accounts[0]!.modules.map((m) => m.plan)).toEqual([
      { add: 0, change: 2, destroy: 0 },
      { add: 0, change: 2, destroy: 0 },
    ]);
    expect(detail.hints).toEqual([]);
  });

  it('shows an execution the run table does not know, with the reason Step Functions gives', async () => {
    // GIVEN an execution that failed before admit recorded it
    sfn.on(DescribeExecutionCommand).resolves({
      executionArn: execArn('run-early'),
      stateMachineArn: SM_ARN,
      status: 'FAILED',
      startDate: new Date('2026-11-24T10:00:00Z'),
      stopDate: new Date('2026-11-24T10:00:04Z'),
      error: 'InvalidInput',
      cause: 'detail.after: a full 40-character hex commit SHA',
      input: '{}',
    } as any);
    // WHEN shown
    const detail = RunDetailSchema.parse(JSON.parse((await runCli(['show', 'run-early', '--config', CONFIG, '--json'])).stdout));
    // THEN the reason and the next steps come from the execution alone
    expect(detail).toEqual(
      expect.objectContaining({
        status: 'FAILED',
        repository: null,
        stages: [],
        durationSeconds: 4,
        reason: 'InvalidInput: detail.after: a full 40-character hex commit SHA',
        hints: [`tfstep replay run-early --config ${CONFIG}`, `tfstep logs run-early --config ${CONFIG}`],
      }),
    );
  });

  it('fails with exit 1 and the cause when the run table cannot be reached', async () => {
    sfn.on(DescribeExecutionCommand).resolves({ executionArn: execArn('run-ok'), stateMachineArn: SM_ARN, status: 'SUCCEEDED', startDate: new Date() } as any);
    const saved = process.env.AWS_ENDPOINT_URL_DYNAMODB;
    // GIVEN nothing listening where the run table should be
    process.env.AWS_ENDPOINT_URL_DYNAMODB = 'http://127.0.0.1:1';
    try {
      const res = await runCli(['show', 'run-ok', '--config', CONFIG]);
      expect(res.code).toBe(1);
      expect(res.stderr).toContain('ECONNREFUSED');
    } finally {
      process.env.AWS_ENDPOINT_URL_DYNAMODB = saved;
    }
  });

  it('fails when Step Functions does not know the execution', async () => {
    sfn.on(DescribeExecutionCommand).rejects(new ExecutionDoesNotExist({ message: 'Execution Does Not Exist', $metadata: {} }));
    const res = await runCli(['show', 'ghost', '--config', CONFIG]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`no execution named "ghost" in ${SM_ARN}`);
  });

  it('fails when no credentials are found, saying how to provide them', async () => {
    const err = Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
    sfn.on(ListExecutionsCommand).rejects(err);
    const res = await runCli(['runs', '--config', CONFIG]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('no AWS credentials found; provide them with AWS_PROFILE=<profile> (after `aws sso login');
  });
});
