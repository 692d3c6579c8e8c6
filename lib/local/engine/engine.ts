/**
 * The local engine: the real pipeline definition run in-process by aws-local-stepfunctions,
 * with a local handler for every Task state built from its `Resource` and `Parameters`:
 *
 * - `lambda:invoke` of a known function ARN calls that function in-process and wraps its answer
 *   as Lambda's integration does (`{ Payload }`);
 * - `lambda:invoke.waitForTaskToken` issues a fresh local task token, calls the function with it,
 *   then waits until the token is settled through {@link LocalTaskTokens} or the state's
 *   TimeoutSeconds (or HeartbeatSeconds without a heartbeat) passes;
 * - `ecs:runTask.sync` hands the RunTask parameters to a {@link LocalTaskRunner} (the runner as
 *   a child process);
 * - a Distributed Map's ItemReader (`s3:getObject`, JSON) reads the object through
 *   {@link LocalObjects} (the artifacts folder); see lib/local/engine/definition.ts for how the Map runs.
 *
 * Any other resource, or a function ARN nobody serves, fails at construction, naming the state,
 * so a definition the local mode cannot run never passes silently.
 */
import './polyfills';
import { randomUUID } from 'node:crypto';
import { StateMachine, type RunOptions, type StateMachineDefinition } from 'aws-local-stepfunctions';
import {
  adaptForLocalEngine,
  collectDistributedMaps,
  itemReaderStateName,
  type DistributedMapRef,
  collectRetryStates, collectTaskStates, collectWaitStates, compileTimeoutResolver, type JsonObject } from './definition';
import { AwsLimitExceededError, LimitMeter, payloadBytes, runTaskOverridesChars } from '../../domain/aws-limits';
import { EXECUTION_STATUS_CHANGE, type ExecutionStatusChange } from '../../statemachine/contracts';
import { HistoryCounter, LOCAL_ITEMS_FIELD } from '../../statemachine/history';
import { LocalEngineError, StatesError } from './errors';
import type { LocalTaskTokens } from './task-tokens';

/** One function the state machine invokes, served in-process. */
export type LocalFunction = (payload: unknown) => Promise<unknown>;

/** What a local ECS task run is told besides the RunTask parameters. */
export interface LocalTaskContext {
  stateName: string;
  executionName: string;
  /** Stops the task (the execution was stopped). */
  signal: AbortSignal;
}

/**
 * Runs `ecs:runTask.sync` tasks locally. Resolves with an ECS-like task description when the
 * container exits 0; rejects with a {@link StatesError} (`States.TaskFailed`, Cause = the task
 * description as JSON) otherwise, as the `.sync` integration does.
 */
export interface LocalTaskRunner {
  runTask(parameters: JsonObject, ctx: LocalTaskContext): Promise<JsonObject>;
}

/** Reads the objects a Distributed Map's ItemReader names (the local artifacts folder). */
export interface LocalObjects {
  /** The object's bytes, or undefined when there is none. */
  get(bucket: string, key: string): Promise<Buffer | undefined>;
}

/** One event of the execution history, as the engine logs it. */
export interface HistoryEvent {
  type: string;
  timestamp: number;
  [key: string]: unknown;
}

/** How an execution ended. */
export interface LocalExecutionResult {
  status: 'SUCCEEDED' | 'FAILED' | 'ABORTED' | 'TIMED_OUT';
  output?: unknown;
  /** The Fail state's (or the failing state's) error name. */
  error?: string;
  cause?: string;
}

/** A started execution. */
export interface LocalExecution {
  executionId: string;
  name: string;
  startedAt: Date;
  /** The history so far; complete once `done` has settled. */
  readonly events: HistoryEvent[];
  done: Promise<LocalExecutionResult>;
  /** The largest value of each AWS limit this execution met (see lib/domain/aws-limits.ts). */
  readonly limits: LimitMeter;
  /** Its AWS history events, parent and children, counted as it runs. */
  readonly history: HistoryCounter;
  stop(): void;
}

/** Options of {@link LocalEngine}. */
export interface LocalEngineOptions {
  /** The rendered definition (see renderLocalDefinition). */
  definition: JsonObject;
  /** Function ARN -> the function served in-process. */
  functions: Readonly<Record<string, LocalFunction>>;
  tokens: LocalTaskTokens;
  runner: LocalTaskRunner;
  /** Where Distributed Maps read their items. */
  objects: LocalObjects;
  /** Every Wait state pauses this long, so queue polls and retry waits do not stall. @default 200 */
  waitMs?: number;
  /** Every Retry waits this long between attempts. @default 100 */
  retryMs?: number;
  /** The state machine ARN the execution ARNs derive from. */
  stateMachineArn?: string;
  /** Called with each history event as it happens. */
  onEvent?: (event: HistoryEvent) => void;
}

/** What a local handler is told about the execution it runs in. */
interface HandlerContext {
  executionName: string;
  signal: AbortSignal;
  limits: LimitMeter;
  /**
   * Ends the execution with an error no Catch can catch (States.DataLimitExceeded, the history
   * limit), as AWS does; resolves never, rejects once the execution is stopped.
   */
  failExecution(error: AwsLimitExceededError): Promise<never>;
}

type Handler = (input: unknown, ctx: HandlerContext) => Promise<unknown>;

const LAMBDA_INVOKE = /^arn:[a-z-]+:states:::lambda:invoke$/;
const LAMBDA_WAIT = /^arn:[a-z-]+:states:::lambda:invoke\.waitForTaskToken$/;
const ECS_SYNC = /^arn:[a-z-]+:states:::ecs:runTask\.sync$/;
const S3_GET = /^arn:[a-z-]+:states:::s3:getObject$/;
/** The token the engine itself would pass; local waits never use it. */
const ENGINE_STATIC_TOKEN = 'local-engine-static-token';

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A function's thrown error as the Lambda integration reports it: Error = errorType. */
function asLambdaError(e: unknown): Error {
  if (e instanceof StatesError) return e;
  const err = e instanceof Error ? e : new Error(String(e));
  const errorType = err.name && err.name !== 'Error' ? err.name : 'Error';
  return new StatesError(errorType, JSON.stringify({ errorType, errorMessage: err.message }));
}

/** Where the task token goes in the Payload: the key whose template is `$$.Task.Token`. */
function tokenKeyOf(name: string, parameters: unknown): string {
  const payload = isObject(parameters) ? parameters.Payload : undefined;
  if (isObject(payload)) {
    for (const [k, v] of Object.entries(payload)) if (k.endsWith('.$') && v === '$$.Task.Token') return k.slice(0, -2);
  }
  throw new LocalEngineError(`state ${name}: a .waitForTaskToken task must pass "$$.Task.Token" in its Payload`);
}

/**
 * Checks a task's payload against 256 KiB; over it, ends the execution with
 * States.DataLimitExceeded, which no Catch catches.
 */
async function checkPayload(ctx: HandlerContext, value: unknown, what: string): Promise<void> {
  try {
    ctx.limits.check('statePayloadBytes', payloadBytes(value), what);
  } catch (e) {
    if (e instanceof AwsLimitExceededError) return ctx.failExecution(e);
    throw e;
  }
}

/** A state's input or output as AWS would hold it: without the local ItemReader stand-in's items. */
function asInAws(v: unknown): unknown {
  return isObject(v) && LOCAL_ITEMS_FIELD in v ? { ...v, [LOCAL_ITEMS_FIELD]: undefined } : v;
}

/** Runs the pipeline definition locally; see the file comment. */
export class LocalEngine {
  private readonly machine: StateMachine;
  private readonly handlers = new Map<string, Handler>();
  private readonly runOverrides: NonNullable<RunOptions['overrides']>;
  private readonly stateMachineArn: string;
  private readonly running = new Set<{ controller: AbortController }>();

  /** @throws LocalEngineError naming the first state the local mode cannot run */
  constructor(private readonly opts: LocalEngineOptions) {
    const definition = opts.definition;
    for (const { name, state, within } of collectTaskStates(definition)) {
      if (this.handlers.has(name)) {
        // Local handlers are keyed by state name; two states of one name could not be told apart.
        throw new LocalEngineError(
          `state ${name}${within.length ? ` (in ${within.join(' > ')})` : ''}: another Task state has the same name; the local engine needs unique Task state names`,
        );
      }
      this.handlers.set(name, this.buildHandler(name, state));
    }
    for (const map of collectDistributedMaps(definition)) this.handlers.set(itemReaderStateName(map.name), this.buildItemReader(map));
    this.stateMachineArn = opts.stateMachineArn ?? 'arn:aws:states:us-east-1:000000000000:stateMachine:tfstep-pipeline';
    this.machine = new StateMachine(adaptForLocalEngine(definition) as unknown as StateMachineDefinition, {
      validationOptions: { checkArn: false, checkPaths: true },
    });
    const waitMs = opts.waitMs ?? 200;
    const retryMs = opts.retryMs ?? 100;
    this.runOverrides = {
      waitTimeOverrides: Object.fromEntries(collectWaitStates(definition).map((n) => [n, waitMs])),
      retryIntervalOverrides: Object.fromEntries(collectRetryStates(definition).map((n) => [n, retryMs])),
    };
  }

  /** Names of the Task states with a local handler (all of them). */
  get taskStates(): string[] {
    return [...this.handlers.keys()];
  }

  private buildHandler(name: string, state: JsonObject): Handler {
    const resource = state.Resource;
    if (typeof resource !== 'string') throw new LocalEngineError(`state ${name}: Task without a Resource`);
    const params = state.Parameters;
    const timeoutOf = compileTimeoutResolver(state);
    if (typeof state.TimeoutSecondsPath === 'string' && !timeoutOf && !ECS_SYNC.test(resource)) {
      throw new LocalEngineError(
        `state ${name}: cannot find TimeoutSecondsPath ${state.TimeoutSecondsPath} in its Parameters, so the local mode cannot enforce it`,
      );
    }
    if (LAMBDA_INVOKE.test(resource) || LAMBDA_WAIT.test(resource)) {
      const fnArn = isObject(params) ? params.FunctionName : undefined;
      if (typeof fnArn !== 'string')
        throw new LocalEngineError(`state ${name}: resource ${resource} needs a literal Parameters.FunctionName in the local mode`);
      const fn = this.opts.functions[fnArn];
      if (!fn) {
        throw new LocalEngineError(
          `state ${name}: resource ${resource} invokes ${fnArn}, which the local mode does not serve (it serves ${Object.keys(this.opts.functions).join(', ') || 'nothing'})`,
        );
      }
      if (LAMBDA_INVOKE.test(resource)) {
        return async (input, ctx) => {
          const payload = isObject(input) ? input.Payload : undefined;
          let result: unknown;
          try {
            result = await fn(payload);
          } catch (e) {
            throw asLambdaError(e);
          }
          await checkPayload(ctx, result, `${name} (result)`);
          return {
            ExecutedVersion: '$LATEST',
            StatusCode: 200,
            Payload: result,
          };
        };
      }
      const tokenKey = tokenKeyOf(name, params);
      const staticTimeout = typeof state.TimeoutSeconds === 'number' ? state.TimeoutSeconds : undefined;
      const heartbeatSeconds = typeof state.HeartbeatSeconds === 'number' ? state.HeartbeatSeconds : undefined;
      return async (input, ctx) => {
        const payload = isObject(input) && isObject(input.Payload) ? input.Payload : {};
        // AWS's default TimeoutSeconds is 99999999 s; a wait that long is "never" here too.
        const timeoutSeconds = timeoutOf?.(input) ?? staticTimeout ?? 99_999_999;
        const token = this.opts.tokens.issue();
        // Waiting starts before the function runs: an answer may arrive before it returns.
        const answer = this.opts.tokens.wait(token, timeoutSeconds * 1000, ctx.signal, heartbeatSeconds === undefined ? undefined : heartbeatSeconds * 1000);
        answer.catch(() => undefined);
        try {
          await fn({ ...payload, [tokenKey]: token });
        } catch (e) {
          this.opts.tokens.cancel(token);
          throw asLambdaError(e);
        }
        return answer;
      };
    }
    if (ECS_SYNC.test(resource)) {
      return async (input, ctx) => {
        if (!isObject(input)) throw new StatesError('States.Runtime', `state ${name}: RunTask parameters are not an object`);
        // RunTask refuses overrides over 8,192 characters before any task starts; the Task state
        // fails with the service's error, which its Catch can match.
        try {
          ctx.limits.check('runTaskOverridesChars', runTaskOverridesChars(input.Overrides), `${name} overrides`);
        } catch (e) {
          if (e instanceof AwsLimitExceededError) throw new StatesError(e.name, JSON.stringify({ errorType: 'InvalidParameterException', errorMessage: e.message }));
          throw e;
        }
        return this.opts.runner.runTask(input, {
          stateName: name,
          executionName: ctx.executionName,
          signal: ctx.signal,
        });
      };
    }
    throw new LocalEngineError(
      `state ${name}: resource ${resource} is not supported by the local mode (supported: lambda:invoke, lambda:invoke.waitForTaskToken, ecs:runTask.sync)`,
    );
  }

  /** Reads a Distributed Map's items as its ItemReader does: a JSON array in an object. */
  private buildItemReader(map: DistributedMapRef): Handler {
    const resource = String(map.reader.Resource);
    const config = isObject(map.reader.ReaderConfig) ? map.reader.ReaderConfig : {};
    if (!S3_GET.test(resource) || config.InputType !== 'JSON') {
      throw new LocalEngineError(`state ${map.name}: the local mode reads Map items from s3:getObject with InputType JSON only (found ${resource}, ${String(config.InputType)})`);
    }
    return async (input) => {
      const bucket = isObject(input) ? input.Bucket : undefined;
      const key = isObject(input) ? input.Key : undefined;
      if (typeof bucket !== 'string' || typeof key !== 'string') throw new StatesError('States.ItemReaderFailed', `state ${map.name}: the ItemReader needs a Bucket and a Key`);
      const body = await this.opts.objects.get(bucket, key);
      if (!body) throw new StatesError('States.ItemReaderFailed', `state ${map.name}: s3://${bucket}/${key} does not exist`);
      let items: unknown;
      try {
        items = JSON.parse(body.toString('utf8'));
      } catch {
        throw new StatesError('States.ItemReaderFailed', `state ${map.name}: s3://${bucket}/${key} is not JSON`);
      }
      if (!Array.isArray(items)) throw new StatesError('States.ItemReaderFailed', `state ${map.name}: s3://${bucket}/${key} is not a JSON array`);
      return items as unknown[];
    };
  }

  /** The execution ARN of a name, as Step Functions forms it. */
  executionArn(name: string): string {
    return this.stateMachineArn.replace(':stateMachine:', ':execution:') + `:${name}`;
  }

  /**
   * Starts an execution.
   * @param name the execution name (unique per state machine, like in AWS)
   */
  start(input: unknown, name: string = randomUUID()): LocalExecution {
    const executionId = this.executionArn(name);
    const controller = new AbortController();
    const entry = { controller };
    this.running.add(entry);
    const limits = new LimitMeter();
    const history = new HistoryCounter(this.opts.definition);
    let fatal: AwsLimitExceededError | undefined;
    const failExecution = (error: AwsLimitExceededError): Promise<never> => {
      fatal ??= error;
      controller.abort();
      return Promise.reject(new StatesError('States.Aborted', 'the execution failed with an error no Catch catches'));
    };
    const ctx: HandlerContext = { executionName: name, signal: controller.signal, limits, failExecution };
    const taskResourceLocalHandlers = Object.fromEntries(
      [...this.handlers].map(([stateName, h]) => [
        stateName,
        async (i: unknown) => {
          // A state the engine schedules after the execution ended (stopped, or failed with an
          // uncatchable error) must not run: in AWS nothing follows the end of an execution.
          if (controller.signal.aborted) throw new StatesError('States.Aborted', 'the execution has ended');
          await checkPayload(ctx, i, `${stateName} (task payload)`);
          return (await h(i, ctx)) as never;
        },
      ]),
    );
    const startedAt = new Date();
    const run = this.machine.run(input as never, {
      overrides: { ...this.runOverrides, taskResourceLocalHandlers },
      context: {
        Execution: {
          Id: executionId,
          Name: name,
          StartTime: startedAt.toISOString(),
          RoleArn: 'arn:aws:iam::000000000000:role/tfstep-local',
        },
        StateMachine: {
          Id: this.stateMachineArn,
          Name: this.stateMachineArn.split(':').pop(),
        },
        Task: { Token: ENGINE_STATIC_TOKEN },
      },
    });
    controller.signal.addEventListener('abort', () => run.abort(), {
      once: true,
    });
    const events: HistoryEvent[] = [];
    const drained = (async () => {
      const measured = new WeakSet<object>();
      const measure = (v: unknown, what: string): void => {
        if (v === undefined || fatal) return;
        if (typeof v === 'object' && v !== null) {
          // Iteration events share their Map's input object: measure each object once.
          if (measured.has(v)) return;
          measured.add(v);
        }
        try {
          limits.check('statePayloadBytes', payloadBytes(asInAws(v)), what);
        } catch (err) {
          if (err instanceof AwsLimitExceededError) void failExecution(err).catch(() => undefined);
          else throw err;
        }
      };
      for await (const event of run.eventLogs) {
        const e = event as unknown as HistoryEvent;
        events.push(e);
        history.add(e);
        const state = isObject(e.state) ? e.state : undefined;
        if (state && e.type === 'StateEntered') measure(state.input, `${String(state.name)} (input)`);
        if (state && e.type === 'StateExited') measure(state.output, `${String(state.name)} (output)`);
        const child = history.largestChild();
        const [events_, at] = history.parent >= child.events ? [history.parent, 'the execution'] : [child.events, `child execution ${child.key ?? ''}`];
        try {
          if (!fatal) limits.check('historyEvents', events_, at);
        } catch (err) {
          if (err instanceof AwsLimitExceededError) void failExecution(err).catch(() => undefined);
          else throw err;
        }
        this.opts.onEvent?.(e);
      }
    })().catch(() => undefined);
    const done = run.result.then(
      (output): LocalExecutionResult => ({ status: 'SUCCEEDED', output }),
      (err: unknown): LocalExecutionResult => {
        const e = err as Error & { cause?: unknown };
        if (fatal) return { status: 'FAILED', error: fatal.name, cause: fatal.message };
        if (e.name === 'ExecutionAbortedError')
          return {
            status: 'ABORTED',
            error: 'States.Aborted',
            cause: 'the execution was stopped',
          };
        if (e.name === 'ExecutionTimeoutError')
          return {
            status: 'TIMED_OUT',
            error: 'States.Timeout',
            cause: 'the execution timed out',
          };
        const cause = e.cause instanceof Error ? e.cause : e;
        return { status: 'FAILED', error: cause.name, cause: cause.message };
      },
    );
    const finished = done.then(async (r) => {
      await drained;
      this.running.delete(entry);
      // An uncatchable error found while the log drained still decides how the execution ended.
      if (fatal && r.status !== 'FAILED') return { status: 'FAILED' as const, error: fatal.name, cause: fatal.message };
      return r;
    });
    return {
      executionId,
      name,
      startedAt,
      events,
      done: finished,
      limits,
      history,
      stop: () => controller.abort(),
    };
  }

  /**
   * The "Step Functions Execution Status Change" event AWS would send to the default event bus
   * for an execution that ended this way, or undefined for one that succeeded (the status
   * change rule forwards only FAILED, TIMED_OUT and ABORTED).
   */
  statusChangeEvent(execution: Pick<LocalExecution, 'executionId' | 'name' | 'startedAt'>, result: LocalExecutionResult, stoppedAt: Date = new Date()): ExecutionStatusChange | undefined {
    if (result.status === 'SUCCEEDED') return undefined;
    return {
      source: EXECUTION_STATUS_CHANGE.source,
      'detail-type': EXECUTION_STATUS_CHANGE.detailType,
      detail: {
        executionArn: execution.executionId,
        stateMachineArn: this.stateMachineArn,
        name: execution.name,
        status: result.status,
        error: result.error ?? null,
        cause: result.cause ?? null,
        startDate: execution.startedAt.getTime(),
        stopDate: stoppedAt.getTime(),
      },
    };
  }

  /** Stops every running execution (their waits reject, their runner children are killed). */
  stopAll(): void {
    for (const { controller } of this.running) controller.abort();
  }
}
