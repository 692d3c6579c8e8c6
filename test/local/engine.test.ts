/**
 * The local engine's checks and adjustments, on the real pipeline definition.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createApprovalRequestHandler } from '../../lib/approval/request';
import { StaticKeyProvider } from '../../lib/approval/signing';
import { ApprovalStore } from '../../lib/approval/store';
import { MemoryApprovalNotifier } from '../../lib/approval/notifier';
import { parseConfig } from '../../lib/config/loader';
import { adaptForLocalEngine, collectTaskStates, compileTimeoutResolver, localSubstitutions, MAX_ENGINE_TIMEOUT_SECONDS, renderLocalDefinition, type JsonObject } from '../../lib/local/engine/definition';
import { LocalEngine, type LocalExecutionResult } from '../../lib/local/engine/engine';
import { LocalEngineError } from '../../lib/local/engine/errors';
import { ChildProcessTaskRunner } from '../../lib/local/engine/runner-launcher';
import { LocalTaskTokens } from '../../lib/local/engine/task-tokens';
import { createPipelineHandler } from '../../lib/pipeline/handler';
import { silentPipelineLogger } from '../../lib/pipeline/deps';
import { GitRepoReader } from '../../lib/planning/repo-reader';
import { RunStore } from '../../lib/store/run-store';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { TWO_DEV_CONFIG, tempDir } from './helpers';

const subs = localSubstitutions();
const config = parseConfig(parse(readFileSync(TWO_DEV_CONFIG, 'utf8')), TWO_DEV_CONFIG);

/** The real functions and runner, built but never called: these tests stop at construction. */
function realParts() {
  const client = new DynamoDBClient({ endpoint: 'http://127.0.0.1:1', region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  const store = RunStore.fromClient(client, 'tfstep-runs');
  const pipeline = createPipelineHandler({
    config,
    store,
    artifacts: { bucket: 'unused', get: () => Promise.resolve(undefined), put: () => Promise.reject(new Error('these tests stop at construction')) },
    repoReader: () => new GitRepoReader('.'),
    executions: { isRunning: () => Promise.resolve(false) },
    tasks: new LocalTaskTokens().callback(),
    notifier: { publish: () => Promise.resolve() },
    clock: () => new Date(),
    logger: silentPipelineLogger,
  });
  const approval = createApprovalRequestHandler({
    store: new ApprovalStore(store.doc, 'tfstep-runs'),
    keys: new StaticKeyProvider('0123456789abcdef0123'),
    notifier: new MemoryApprovalNotifier(),
    baseUrl: 'http://127.0.0.1',
    artifacts: { get: () => Promise.resolve(undefined) },
  });
  return {
    functions: { [subs.PipelineFunctionArn]: pipeline, [subs.ApprovalFunctionArn]: approval as (p: unknown) => Promise<unknown> },
    tokens: new LocalTaskTokens(),
    runner: new ChildProcessTaskRunner({ config, stateDir: tempDir('state') }),
    objects: { get: () => Promise.resolve(undefined) },
  };
}

function states(def: JsonObject): Record<string, JsonObject> {
  return def.States as Record<string, JsonObject>;
}

describe('LocalEngine', () => {
  it('builds a handler for every Task state of the real definition, Map item processors included', () => {
    // GIVEN the rendered pipeline definition
    const definition = renderLocalDefinition(subs);
    // WHEN the engine is built
    const engine = new LocalEngine({ definition, ...realParts() });
    // THEN every Task state, nested ones too, has a local handler, and so does each Distributed Map's ItemReader
    const tasks = collectTaskStates(definition).map((t) => t.name);
    const readers = ['AccountsReadItems'];
    expect(engine.taskStates.sort()).toEqual([...tasks, ...readers].sort());
    expect(tasks).toEqual(expect.arrayContaining(['Admit', 'RunTerraform', 'RequestApproval', 'RecordFailure', 'Finish']));
  });

  it('fails at construction when a Task state uses a resource the local mode does not run, naming the state', () => {
    // GIVEN a definition whose stage gate calls SNS directly
    const definition = renderLocalDefinition(subs);
    states(definition).StageGate!.Resource = 'arn:aws:states:::sns:publish';
    // WHEN the engine is built THEN it refuses, naming the state and the resource
    expect(() => new LocalEngine({ definition, ...realParts() })).toThrow(LocalEngineError);
    expect(() => new LocalEngine({ definition, ...realParts() })).toThrow(/state StageGate: resource arn:aws:states:::sns:publish is not supported by the local mode/);
  });

  it('fails at construction when a nested Task invokes a function nobody serves', () => {
    // GIVEN a definition whose record step inside a Map invokes another function
    const definition = renderLocalDefinition(subs);
    const map = states(definition).Accounts!;
    const inner = (map.ItemProcessor as JsonObject).States as Record<string, JsonObject>;
    (inner.RecordOutcome!.Parameters as JsonObject).FunctionName = 'arn:aws:lambda:us-east-1:000000000000:function:other';
    // WHEN the engine is built THEN it refuses, naming the state and the ARN
    expect(() => new LocalEngine({ definition, ...realParts() })).toThrow(/state RecordOutcome: .*invokes arn:aws:lambda:us-east-1:000000000000:function:other, which the local mode does not serve/);
  });
});

describe('definition adjustments for the engine', () => {
  it('lowers the 30-day execution timeout to what a Node timer holds, and nothing else at the top level', () => {
    // GIVEN the real definition (30 days)
    const definition = renderLocalDefinition(subs);
    expect(definition.TimeoutSeconds).toBe(2_592_000);
    // WHEN it is adapted
    const adapted = adaptForLocalEngine(definition);
    // THEN the timeout fits a timer and the original is untouched
    expect(adapted.TimeoutSeconds).toBe(MAX_ENGINE_TIMEOUT_SECONDS);
    expect(definition.TimeoutSeconds).toBe(2_592_000);
    const added = Object.keys(adapted.States as object).filter((n) => !(n in (definition.States as object)));
    expect(added.sort()).toEqual(['AccountsDropItems', 'AccountsReadItems']);
    expect(Object.keys(definition.States as object).every((n) => n in (adapted.States as object))).toBe(true);
  });

  it('runs each Distributed Map inline over the items its ItemReader reads, with everything else of the Map kept', () => {
    // GIVEN the real definition, whose account Maps are Distributed Maps reading S3
    const definition = renderLocalDefinition(subs);
    const original = states(definition).Accounts!;
    // WHEN it is adapted
    const adapted = states(adaptForLocalEngine(definition));
    // THEN every state that led to the Map (a stage's first phase, the apply's first wave after
    // the approval, the next wave after the bake time) leads to its item reader first
    const ledToMap = Object.entries(states(definition)).filter(([, s]) => s.Next === 'Accounts').map(([name]) => name);
    expect(ledToMap).toEqual(expect.arrayContaining(['SelectStage', 'StartWaves']));
    for (const name of ledToMap) expect([name, adapted[name]!.Next]).toEqual([name, 'AccountsReadItems']);
    expect(adapted.AccountsReadItems).toMatchObject({
      Type: 'Task',
      Resource: 'arn:aws:states:::s3:getObject',
      Parameters: { 'Bucket.$': '$.current.stage.phase.items.bucket', 'Key.$': '$.current.stage.phase.items.key' },
      ResultPath: '$.localItems',
      Catch: original.Catch,
      Next: 'Accounts',
    });
    // AND the Map runs inline over those items with its own selector, concurrency, processor and catch
    const map = adapted.Accounts!;
    expect(map).toMatchObject({ ItemsPath: '$.localItems', ItemSelector: original.ItemSelector, MaxConcurrencyPath: original.MaxConcurrencyPath, Catch: original.Catch, ResultPath: null });
    expect(map.ItemReader).toBeUndefined();
    expect(map.ResultWriter).toBeUndefined();
    expect((map.ItemProcessor as JsonObject).ProcessorConfig).toEqual({ Mode: 'INLINE' });
    expect(Object.keys((map.ItemProcessor as JsonObject).States as object)).toEqual(Object.keys((original.ItemProcessor as JsonObject).States as object));
    // AND the items leave the state before the gate
    expect(map.Next).toBe('AccountsDropItems');
    expect(adapted.AccountsDropItems).toEqual({ Type: 'Pass', Result: [], ResultPath: '$.localItems', Next: original.Next });
  });


  it("finds the approval step's TimeoutSecondsPath value in its effective input", () => {
    // GIVEN the approval state, whose timeout path points into the state input ($.current.stage...)
    const definition = renderLocalDefinition(subs);
    const request = states(definition).RequestApproval!;
    // WHEN its resolver reads the effective input (after Parameters)
    const resolve = compileTimeoutResolver(request)!;
    // THEN it follows "stage.$": "$.current.stage" into Payload.stage
    expect(resolve({ FunctionName: 'f', Payload: { stage: { approval: { timeoutSeconds: 86400 } } } })).toBe(86400);
    expect(resolve({ FunctionName: 'f', Payload: {} })).toBeUndefined();
    // AND the adapted state no longer asks the engine to evaluate the path
    const adapted = states(adaptForLocalEngine(definition)).RequestApproval!;
    expect(adapted.TimeoutSecondsPath).toBeUndefined();
    expect(adapted.TimeoutSeconds).toBe(MAX_ENGINE_TIMEOUT_SECONDS);
  });
});

describe('the local ItemReader', () => {
  const definition = renderLocalDefinition(subs);
  const itemsOf = async (body: string | undefined): Promise<LocalExecutionResult> => {
    // A definition holding only the Map, so the reader's answer is what the run ends with.
    const map: JsonObject = {
      ...states(definition).Accounts!,
      End: true,
      ResultPath: '$.out',
      ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' }, StartAt: 'Echo', States: { Echo: { Type: 'Pass', End: true } } },
    };
    delete map.Next;
    delete map.Catch;
    const engine = new LocalEngine({
      ...realParts(),
      definition: { StartAt: 'Accounts', States: { Accounts: map } },
      objects: { get: (bucket, key) => Promise.resolve(bucket === 'b' && key === 'k' && body !== undefined ? Buffer.from(body) : undefined) },
    });
    return engine.start({ current: { stage: { phase: { items: { bucket: 'b', key: 'k' } }, concurrency: 2, resultsPrefix: 'r' } }, plan: { source: {} }, run: { value: { generation: 1 } } }).done;
  };

  it('hands the Map the items of the object, each through the ItemSelector, and drops them afterwards', async () => {
    const res = await itemsOf(JSON.stringify([{ name: 'a' }, { name: 'b' }]));
    expect(res.status).toBe('SUCCEEDED');
    const output = res.output as { out: { account: unknown; attempt: number }[]; localItems: unknown };
    expect(output.out.map((o) => o.account)).toEqual([{ name: 'a' }, { name: 'b' }]);
    expect(output.out.every((o) => o.attempt === 0)).toBe(true);
    expect(output.localItems).toEqual([]);
  });

  it.each([
    ['missing', undefined, /s3:\/\/b\/k does not exist/],
    ['not JSON', '{', /s3:\/\/b\/k is not JSON/],
    ['not an array', '{"name":"a"}', /s3:\/\/b\/k is not a JSON array/],
  ])('fails the state with States.ItemReaderFailed when the object is %s', async (_what, body, cause) => {
    const res = await itemsOf(body);
    expect(res).toMatchObject({ status: 'FAILED', error: 'States.ItemReaderFailed' });
    expect(res.cause).toMatch(cause);
  });
});
