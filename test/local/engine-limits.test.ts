/**
 * The local engine holds executions to AWS's limits and fails a breach the way AWS does: with
 * AWS's error, caught where AWS lets a Catch catch it and uncaught where AWS does not.
 */
import { AWS_LIMITS } from '../../lib/domain/aws-limits';
import type { JsonObject } from '../../lib/local/engine/definition';
import { LocalEngine, type LocalTaskRunner } from '../../lib/local/engine/engine';
import { LocalTaskTokens } from '../../lib/local/engine/task-tokens';

const FN = 'arn:aws:lambda:us-east-1:000000000000:function:tfstep-pipeline-local';

/** A runner double: ECS cannot run here; it records what it was asked and succeeds. */
class RecordingRunnerDouble implements LocalTaskRunner {
  readonly calls: JsonObject[] = [];
  runTask(parameters: JsonObject): Promise<JsonObject> {
    this.calls.push(parameters);
    return Promise.resolve({ LastStatus: 'STOPPED', Containers: [{ ExitCode: 0 }] });
  }
}

function engineFor(definition: JsonObject, fn: (payload: unknown) => Promise<unknown> = (p) => Promise.resolve(p), runner: LocalTaskRunner = new RecordingRunnerDouble()) {
  const calls: unknown[] = [];
  const engine = new LocalEngine({
    definition,
    functions: {
      [FN]: (p) => {
        calls.push(p);
        return fn(p);
      },
    },
    tokens: new LocalTaskTokens(),
    runner,
    objects: { get: () => Promise.resolve(undefined) },
    waitMs: 0,
    retryMs: 0,
  });
  return { engine, calls };
}

const invoke = (next: string, extra: JsonObject = {}): JsonObject => ({
  Type: 'Task',
  Resource: 'arn:aws:states:::lambda:invoke',
  Parameters: { FunctionName: FN, 'Payload.$': '$' },
  ResultSelector: { 'value.$': '$.Payload' },
  ResultPath: '$.result',
  Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Caught' }],
  Next: next,
  ...extra,
});

describe('LocalEngine limits', () => {
  it('fails the execution with States.DataLimitExceeded when a task result passes 256 KiB, and no Catch catches it', async () => {
    // GIVEN a task whose Catch catches States.ALL, and a function that returns 300 KiB
    const { engine, calls } = engineFor(
      { StartAt: 'Big', States: { Big: invoke('After'), After: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', Parameters: { FunctionName: FN, Payload: { after: true } }, End: true }, Caught: { Type: 'Pass', End: true } } },
      () => Promise.resolve({ blob: 'x'.repeat(300 * 1024) }),
    );
    // WHEN it runs
    const execution = engine.start({ small: true });
    const res = await execution.done;
    // THEN the execution fails with AWS's uncatchable error, and nothing after the task ran
    expect(res).toMatchObject({ status: 'FAILED', error: 'States.DataLimitExceeded' });
    expect(res.cause).toMatch(/Big \(result\).*307\d+ > 262144 bytes/);
    expect(calls).toHaveLength(1);
    expect(execution.events.some((e) => (e.state as { name?: string } | undefined)?.name === 'Caught')).toBe(false);
    expect(execution.limits.report().statePayloadBytes).toMatchObject({ limit: 262_144 });
    expect(execution.limits.report().statePayloadBytes.max).toBeGreaterThan(300 * 1024);
  });

  it('fails an execution whose input passes 256 KiB at its first state', async () => {
    const { engine, calls } = engineFor({ StartAt: 'P', States: { P: { Type: 'Pass', Next: 'T' }, T: invoke('Done'), Done: { Type: 'Succeed' }, Caught: { Type: 'Pass', End: true } } });
    const res = await engine.start({ blob: 'y'.repeat(AWS_LIMITS.statePayloadBytes) }).done;
    expect(res).toMatchObject({ status: 'FAILED', error: 'States.DataLimitExceeded' });
    expect(calls).toHaveLength(0);
  });

  it('fails a RunTask whose overrides pass 8,192 characters with ECS.InvalidParameterException, which Catch catches, and starts no task', async () => {
    // GIVEN overrides built from the input, as the pipeline builds them from module lists
    const runner = new RecordingRunnerDouble();
    const runTask = (name: string): JsonObject => ({
      Type: 'Task',
      Resource: 'arn:aws:states:::ecs:runTask.sync',
      Parameters: {
        Cluster: 'c',
        TaskDefinition: 't',
        Overrides: { ContainerOverrides: [{ Name: 'runner', Environment: [{ Name: 'TFSTEP_MODULES', 'Value.$': 'States.JsonToString($.modules)' }] }] },
      },
      ResultPath: null,
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Caught' }],
      Next: `${name}Done`,
    });
    const definition = { StartAt: 'Run', States: { Run: runTask('Run'), RunDone: { Type: 'Succeed' }, Caught: { Type: 'Pass', End: true } } };
    const { engine } = engineFor(definition, undefined, runner);
    // WHEN 250 modules go into the overrides (about 9,600 characters)
    const modules = Array.from({ length: 250 }, (_, i) => `accounts/dev/modules/service-${String(i).padStart(3, '0')}`);
    const big = await engine.start({ modules }).done;
    // THEN the state fails with ECS's error, the Catch takes it, and no task ran
    expect(big.status).toBe('SUCCEEDED');
    const error = (big.output as { error: { Error: string; Cause: string } }).error;
    expect(error.Error).toBe('ECS.InvalidParameterException');
    expect(error.Cause).toMatch(/Container Overrides length must be at most 8192/);
    expect(runner.calls).toHaveLength(0);
    // AND a short list runs the task, its overrides measured against the limit
    const small = engine.start({ modules: modules.slice(0, 3) });
    expect((await small.done).output).not.toHaveProperty('error');
    expect(runner.calls).toHaveLength(1);
    const use = small.limits.report().runTaskOverridesChars;
    expect(use.limit).toBe(8192);
    expect(use.max).toBe(JSON.stringify((runner.calls[0] as { Overrides: unknown }).Overrides).length);
  });

  it('fails an execution that reaches 25,000 history events', async () => {
    // GIVEN a loop of two states that never ends by itself (4 history events a turn)
    const definition = {
      StartAt: 'Count',
      States: {
        Count: { Type: 'Pass', Parameters: { 'n.$': 'States.MathAdd($.n, 1)' }, Next: 'Again?' },
        'Again?': { Type: 'Choice', Choices: [{ Variable: '$.n', NumericLessThan: 1_000_000, Next: 'Count' }], Default: 'Done' },
        Done: { Type: 'Succeed' },
      },
    };
    const { engine } = engineFor(definition);
    const execution = engine.start({ n: 0 });
    const res = await execution.done;
    // THEN it fails as AWS fails it, at the limit and not far past it
    expect(res).toMatchObject({ status: 'FAILED' });
    expect(res.cause).toMatch(/maximum number of history events \(25000\)/);
    const { max, limit } = execution.limits.report().historyEvents;
    expect(limit).toBe(25_000);
    expect(max).toBeGreaterThan(25_000);
    expect(max).toBeLessThan(25_100);
  }, 120_000);

  it('reports every limit of a small execution under its AWS value', async () => {
    const { engine } = engineFor({ StartAt: 'T', States: { T: invoke('Done'), Done: { Type: 'Succeed' }, Caught: { Type: 'Pass', End: true } } });
    const execution = engine.start({ hello: 'world' });
    expect((await execution.done).status).toBe('SUCCEEDED');
    const report = execution.limits.report();
    expect(report.statePayloadBytes.max).toBeGreaterThan(0);
    expect(report.historyEvents.max).toBeGreaterThan(0);
    expect(execution.limits.withinLimits()).toBe(true);
  });
});
