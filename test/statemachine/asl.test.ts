import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allStates, PIPELINE_PLACEHOLDERS, placeholdersIn, readPipelineDefinition, renderDefinition } from '../../lib/statemachine/definition';
import { TEST_SUBSTITUTIONS as SUBSTITUTIONS } from '../fixtures/statemachine';

type State = Record<string, any>;
interface Machine {
  StartAt: string;
  States: Record<string, State>;
}

const RAW = readPipelineDefinition();
const RENDERED = renderDefinition(RAW, { ...SUBSTITUTIONS });
const ASL = JSON.parse(RENDERED) as Machine;

const STATES = allStates(ASL) as [string, State, Machine][];
const TASKS = STATES.filter(([, s]) => s.Type === 'Task');

describe('pipeline.asl.json', () => {
  it('passes asl-validator once rendered', () => {
    // GIVEN the rendered definition in a file WHEN asl-validator checks it by path
    const dir = mkdtempSync(join(tmpdir(), 'tfstep-asl-'));
    const file = join(dir, 'pipeline.json');
    writeFileSync(file, RENDERED);
    const out = execFileSync(join(__dirname, '..', '..', 'node_modules', '.bin', 'asl-validator'), ['--json-path', file], { encoding: 'utf8' });
    // THEN it is valid (a non-zero exit would throw above)
    expect(out).toContain('is valid');
  });

  it('asl-validator does fail on a broken definition, so the check above can fail', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tfstep-asl-'));
    const file = join(dir, 'broken.json');
    writeFileSync(file, JSON.stringify({ ...ASL, StartAt: 'Nowhere' }));
    expect(() => execFileSync(join(__dirname, '..', '..', 'node_modules', '.bin', 'asl-validator'), ['--json-path', file], { stdio: 'pipe' })).toThrow();
  });

  it('uses exactly the placeholders that CDK and the local mode substitute', () => {
    expect([...placeholdersIn(RAW)].sort()).toEqual([...PIPELINE_PLACEHOLDERS].sort());
  });

  it('fails to render when a substitution is missing or unused', () => {
    const { Partition: _p, ...missing } = SUBSTITUTIONS;
    expect(() => renderDefinition(RAW, missing)).toThrow(/missing: Partition/);
    expect(() => renderDefinition(RAW, { ...SUBSTITUTIONS, Extra: 'x' })).toThrow(/unused: Extra/);
  });

  it('names no literal ARN: partitions and resources come from placeholders', () => {
    expect(RAW).not.toMatch(/arn:aws[a-z-]*:/);
    expect(RAW).not.toMatch(/\b\d{12}\b/);
  });

  it('points every Next, Default and Catch at a state that exists, and reaches every state', () => {
    for (const [name, state, machine] of STATES) {
      const targets = [state.Next, state.Default, ...(state.Choices ?? []).map((c: State) => c.Next), ...(state.Catch ?? []).map((c: State) => c.Next)].filter(Boolean);
      for (const target of targets) expect({ from: name, to: target, exists: target in machine.States }).toEqual({ from: name, to: target, exists: true });
    }
    const machines = new Set(STATES.map(([, , m]) => m));
    for (const machine of machines) {
      const seen = new Set<string>();
      const queue = [machine.StartAt];
      while (queue.length) {
        const name = queue.pop()!;
        if (seen.has(name)) continue;
        seen.add(name);
        const s = machine.States[name]!;
        queue.push(...[s.Next, s.Default, ...(s.Choices ?? []).map((c: State) => c.Next), ...(s.Catch ?? []).map((c: State) => c.Next)].filter(Boolean));
      }
      expect(Object.keys(machine.States).filter((n) => !seen.has(n))).toEqual([]);
    }
  });

  it('gives every Task a timeout, a Retry and a Catch', () => {
    expect(TASKS.map(([n]) => n).sort()).toEqual(['Admit', 'CheckLease', 'ClassifyFailure', 'Finish', 'RecordFailure', 'RecordOutcome', 'RequestApproval', 'RunTerraform', 'StageGate', 'StartWaves', 'Targets', 'WaitForTurn']);
    for (const [name, task] of TASKS) {
      expect({ name, timeout: typeof task.TimeoutSeconds === 'number' || typeof task.TimeoutSecondsPath === 'string' }).toEqual({ name, timeout: true });
      expect({ name, retry: Array.isArray(task.Retry) && task.Retry.length > 0 }).toEqual({ name, retry: true });
      expect({ name, catch: Array.isArray(task.Catch) && task.Catch.length > 0 }).toEqual({ name, catch: true });
    }
  });

  it('retries every pipeline function step on Lambda service errors and on AWS throttling, with backoff and jitter', () => {
    const steps = TASKS.filter(([, task]) => (task.Parameters as { FunctionName?: string } | undefined)?.FunctionName === SUBSTITUTIONS.PipelineFunctionArn);
    expect(steps.map(([n]) => n).sort()).toEqual(['Admit', 'CheckLease', 'ClassifyFailure', 'Finish', 'RecordFailure', 'RecordOutcome', 'StageGate', 'StartWaves', 'Targets', 'WaitForTurn']);
    for (const [name, task] of steps) {
      const retrier = (task.Retry as { ErrorEquals: string[]; BackoffRate: number; JitterStrategy?: string }[]).find((r) => r.ErrorEquals.includes('Lambda.TooManyRequestsException'));
      expect({ name, errors: retrier?.ErrorEquals }).toEqual({ name, errors: expect.arrayContaining(['ThrottlingException', 'ProvisionedThroughputExceededException', 'RequestLimitExceeded', 'SlowDown']) });
      expect({ name, backoff: retrier!.BackoffRate > 1 && retrier!.JitterStrategy === 'FULL' }).toEqual({ name, backoff: true });
    }
  });

  it('runs every ECS task in the account through Credentials and never retries a Terraform failure', () => {
    const ecs = TASKS.filter(([, t]) => String(t.Resource).includes(':ecs:runTask.sync'));
    expect(ecs.map(([n]) => n).sort()).toEqual(['RunTerraform']);
    for (const [name, task] of ecs) {
      expect({ name, role: task.Credentials?.['RoleArn.$'] }).toEqual({ name, role: '$.account.launcherRoleArn' });
      const retried = (task.Retry as State[]).flatMap((r) => r.ErrorEquals as string[]);
      // A non-zero container exit is States.TaskFailed: retrying it would re-run a failed apply.
      expect(retried).not.toContain('States.TaskFailed');
      expect(retried).not.toContain('States.ALL');
      for (const r of task.Retry as State[]) expect(r.BackoffRate).toBeGreaterThan(1);
      const env = task.Parameters.Overrides.ContainerOverrides[0].Environment as State[];
      expect(env.map((e) => e.Name)).toEqual(expect.arrayContaining(['TFSTEP_REPOSITORY', 'TFSTEP_COMMIT', 'TFSTEP_PHASE', 'TFSTEP_EXECUTION', 'TFSTEP_MANIFEST', 'TFSTEP_MANIFEST_SHA256']));
      // Nothing that grows with the number of modules goes into the 8,192 characters of overrides.
      expect(env.map((e) => e.Name)).not.toEqual(expect.arrayContaining(['TFSTEP_MODULES']));
      expect(env.map((e) => e.Name)).not.toEqual(expect.arrayContaining(['TFSTEP_APPROVED_PLANS']));
      expect(JSON.stringify(env)).not.toContain('JsonToString');
    }
    // The item chooses the phase's task definition; AccountItemSchema ties a plan item to the read-only one.
    const [, run] = ecs[0]!;
    const env = run.Parameters.Overrides.ContainerOverrides[0].Environment as State[];
    expect(env.find((e) => e.Name === 'TFSTEP_MANIFEST')?.['Value.$']).toBe('$.account.manifest.key');
    expect(env.find((e) => e.Name === 'TFSTEP_MANIFEST_SHA256')?.['Value.$']).toBe('$.account.manifest.sha256');
    expect(env.find((e) => e.Name === 'TFSTEP_PHASE')?.['Value.$']).toBe('$.account.phase');
    expect(run.Parameters['TaskDefinition.$']).toBe('$.account.taskDefinition');
  });

  it('hands the approval function the task token, and only the approval and a queued run wait for one', () => {
    const waiting = TASKS.filter(([, t]) => String(t.Resource).endsWith('.waitForTaskToken'));
    expect(waiting.map(([n]) => n).sort()).toEqual(['RequestApproval', 'WaitForTurn']);
    const [, approval] = waiting.find(([n]) => n === 'RequestApproval')!;
    expect(approval.Parameters.Payload['taskToken.$']).toBe('$$.Task.Token');
    expect(approval.Parameters.FunctionName).toBe(SUBSTITUTIONS.ApprovalFunctionArn);
    const caught = (approval.Catch as State[]).map((c) => c.ErrorEquals.join(','));
    expect(caught).toEqual(['Rejected', 'States.Timeout,ApprovalExpired', 'States.ALL']);
  });

  it('makes a queued run wait on a callback with explicit timeouts, never a poll loop', () => {
    // GIVEN the WAIT branch of Admitted?
    const choice = ASL.States['Admitted?']!;
    const waitBranch = (choice.Choices as State[]).find((c) => c.StringEquals === 'WAIT')!;
    const wait = ASL.States[waitBranch.Next]!;
    // THEN it is a callback task on the pipeline function that stores $$.Task.Token
    expect(waitBranch.Next).toBe('WaitForTurn');
    expect(wait.Type).toBe('Task');
    expect(wait.Resource).toBe('arn:aws:states:::lambda:invoke.waitForTaskToken');
    expect(wait.Parameters.FunctionName).toBe(SUBSTITUTIONS.PipelineFunctionArn);
    expect(wait.Parameters.Payload).toEqual({ action: 'enqueue', 'taskToken.$': '$$.Task.Token', 'execution.$': '$$.Execution.Name' });
    // AND it times out explicitly: 12 h without a wake-up sends the run back to admit, 30 days at most
    expect({ heartbeat: wait.HeartbeatSeconds, timeout: wait.TimeoutSeconds }).toEqual({ heartbeat: 43200, timeout: 2592000 });
    expect((wait.Catch as State[]).map((c) => [c.ErrorEquals.join(','), c.Next])).toEqual([
      ['States.HeartbeatTimeout,States.Timeout', 'Admit'],
      ['States.ALL', 'RunFailed'],
    ]);
    expect(wait.Next).toBe('Admit');
    // AND no Wait state is left anywhere
    expect(allStates(ASL as never).filter(([, st]) => st.Type === 'Wait' && st.Next === 'Admit')).toEqual([]);
  });

  it('gives admit the execution input and finish the outcome alone, never the whole state', () => {
    const admit = ASL.States.Admit!;
    const finish = ASL.States.Finish!;
    expect(admit.Parameters.Payload['input.$']).toBe('$$.Execution.Input');
    expect(finish.Parameters.Payload).toEqual({ action: 'finish', 'outcome.$': '$.outcome', 'executionId.$': '$$.Execution.Id', 'executionName.$': '$$.Execution.Name' });
    for (const name of ['Admit', 'Finish']) expect(Object.values(ASL.States[name]!.Parameters.Payload)).not.toContain('$');
    // AND every way into RunFailed carries the caught error the outcome reads
    expect(ASL.States.RunFailed!.Parameters).toEqual({ status: 'FAILED', 'error.$': '$.error' });
  });

  it('leaves StartedBy to Step Functions: no task sets it', () => {
    for (const [name, task] of TASKS) expect({ name, startedBy: JSON.stringify(task.Parameters ?? {}).includes('"StartedBy') }).toEqual({ name, startedBy: false });
  });

  it('catches a failed account inside the Map so its siblings finish, and gates the stage after', () => {
    for (const map of ['Accounts']) {
      const state = ASL.States[map]!;
      expect(state.Type).toBe('Map');
      expect(state.MaxConcurrencyPath).toBe('$.current.stage.concurrency');
      const inner = state.ItemProcessor as Machine;
      const run = inner.States[inner.StartAt]!;
      expect(run.Catch[0].ErrorEquals).toEqual(['States.ALL']);
      expect(inner.States[run.Catch[0].Next]).toBeDefined();
      const gate = ASL.States[state.Next]!;
      expect(gate.Parameters.Payload.action).toBe('stage-complete');
    }
    expect(ASL.States['StageDone?']!.Choices[0].Next).toBe('StageFailed');
    expect(ASL.States.StageFailed!.Next).toBe('RunFailed');
  });

  it('writes the per-account work once: one account Map, one runner task, one classify step, one record step per outcome, for every phase', () => {
    // GIVEN the states of every Map's item processor, and the steps by pipeline action
    const maps = allStates(ASL as never).filter(([, s]) => s.Type === 'Map');
    const actions = TASKS.map(([, t]) => (t.Parameters as { Payload?: { action?: string } } | undefined)?.Payload?.action).filter(Boolean);
    const count = (a: string) => actions.filter((x) => x === a).length;
    // THEN one Map fans out over accounts, with one runner task, one classification and one success and one failure record
    expect(maps.map(([n]) => n)).toEqual(['Accounts']);
    expect(RAW.split('runTask.sync').length - 1).toBe(1);
    expect([count('classify-failure'), count('record-account'), count('stage-complete')]).toEqual([1, 2, 1]);
    // AND the approval hands the approved items back as the stage's apply phase, which runs the same Map
    const approval = ASL.States.RequestApproval!;
    expect(approval.ResultPath).toBe('$.current.stage.phase');
    expect(approval.ResultSelector).toEqual({ name: 'apply', 'items.$': '$.items', 'approvalId.$': '$.approvalId' });
    // the approved apply starts at its first wave, then runs in the same account Map
    expect(approval.Next).toBe('StartWaves');
    expect(ASL.States.StartWaves!.ResultPath).toBe('$.current.stage.phase');
    expect(ASL.States.StartWaves!.Next).toBe('Accounts');
    expect(ASL.States.Accounts!.ItemReader.Parameters).toEqual({ 'Bucket.$': '$.current.stage.phase.items.bucket', 'Key.$': '$.current.stage.phase.items.key' });
  });

  it('runs a stage wave by wave: the gate hands on the next wave after the bake time, into the same account Map', () => {
    // GIVEN the gate's choice
    const done = ASL.States['StageDone?']! as { Choices: { Variable: string; Next: string; IsPresent?: boolean }[] };
    // THEN a failed stage stops before any later wave is looked at
    expect(done.Choices[0]).toMatchObject({ Variable: '$.current.gate.value.failed', Next: 'StageFailed' });
    // AND a next wave waits the bake time, becomes the stage's phase and runs in the one Map
    expect(done.Choices[1]).toEqual({ Variable: '$.current.gate.value.nextWave', IsPresent: true, Next: 'BakeBeforeWave' });
    expect(ASL.States.BakeBeforeWave).toMatchObject({ Type: 'Wait', SecondsPath: '$.current.gate.value.bakeSeconds', Next: 'NextWave' });
    expect(ASL.States.NextWave).toMatchObject({ Type: 'Pass', InputPath: '$.current.gate.value.nextWave', ResultPath: '$.current.stage.phase', Next: 'Accounts' });
  });

  it('ends every path through Finish, except a duplicate or superseded run', () => {
    const ends = STATES.filter(([, s, m]) => m === ASL && (s.Type === 'Succeed' || s.Type === 'Fail')).map(([n]) => n).sort();
    expect(ends).toEqual(['Duplicate', 'Expired', 'Failed', 'FinishFailed', 'Rejected', 'Succeeded', 'Superseded']);
    for (const outcome of ['RunSucceeded', 'RunFailed', 'RunRejected', 'RunExpired']) expect(ASL.States[outcome]!.Next).toBe('Finish');
  });
});
