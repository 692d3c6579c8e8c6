/**
 * The local pipeline as the benchmark runs it: the real statemachines/pipeline.asl.json in the
 * local engine, the real pipeline function over the local run table (dynalite), the planner on a
 * real git repository, and one stand-in: the ECS task.
 *
 * The stand-in ({@link InProcessTaskRunner}) is "a runner that does no work": it reads the
 * container overrides as the runner would (validated against the runner contract), writes the
 * `result.json` of each module to the local artifacts folder exactly where and as the runner
 * writes it (status `applied` for plan-and-apply), and returns an ECS-like task description at
 * once. It writes synchronously, so on this single thread its time is exactly the sum of its
 * calls, and wall time minus that sum is the orchestration: engine, functions, run table.
 * In simulated mode it first awaits a virtual sleep (the task's start and apply time).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Config } from '../lib/config/schema';
import type { PipelineInput } from '../lib/domain/push-event';
import { artifactKeys, ModuleResultSchema, RUNNER_ENV, RunnerEnvInputSchema, RunnerInputSchema, RunnerManifestSchema, type ModuleResult } from '../lib/domain/runner-contract';
import { folderArtifacts } from '../lib/local/engine/artifacts';
import { localSubstitutions, renderLocalDefinition, renderLocalPlanOnlyDefinition, type JsonObject } from '../lib/local/engine/definition';
import { LimitMeter, snsPublishBytes, type LimitName } from '../lib/domain/aws-limits';
import { checkBeforeStart, checkItemSizes, measureStoredItems } from '../lib/local/engine/aws-checks';
import { LocalEngine, type LocalExecution, type LocalTaskContext, type LocalTaskRunner } from '../lib/local/engine/engine';
import { StatesError } from '../lib/local/engine/errors';
import { openLocalStore, type LocalStore } from '../lib/local/engine/store';
import { LocalTaskTokens, type LocalTimers } from '../lib/local/engine/task-tokens';
import { createPipelineHandler } from '../lib/pipeline/handler';
import { silentPipelineLogger } from '../lib/pipeline/deps';
import { GitRepoReader } from '../lib/planning/repo-reader';
import { RunStore } from '../lib/store/run-store';
import type { VirtualClock } from './virtual-clock';

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Timers on simulated time: a wait of days passes as soon as nothing else is left to do. */
export function virtualTimers(clock: VirtualClock): LocalTimers {
  return {
    schedule: (ms, fire) => {
      let cancelled = false;
      void clock.sleep(ms).then(() => {
        if (!cancelled) fire();
      });
      return () => {
        cancelled = true;
      };
    },
    now: () => clock.now().getTime(),
  };
}

/** The runner's environment from RunTask's container overrides, as ECS would hand it over. */
function overridesEnv(parameters: JsonObject): Record<string, string> {
  const overrides = isObject(parameters.Overrides) ? parameters.Overrides.ContainerOverrides : undefined;
  const container: unknown = Array.isArray(overrides) ? overrides[0] : undefined;
  const env: Record<string, string> = {};
  if (!isObject(container) || !Array.isArray(container.Environment)) return env;
  for (const item of container.Environment) if (isObject(item) && typeof item.Name === 'string' && typeof item.Value === 'string') env[item.Name] = item.Value;
  return env;
}

/** The task a simulated duration is asked for. */
export interface SimulatedTask {
  account: string;
  execution: string;
}

/** Options of {@link InProcessTaskRunner}. */
export interface InProcessTaskRunnerOptions {
  config: Config;
  /** The local artifacts folder the pipeline function reads `result.json` from. */
  artifactsDir: string;
  /** Awaited before the task "exits": the simulated start and apply time. @default none */
  delayFor?: (task: SimulatedTask) => Promise<void>;
  /** The clock the results are stamped with. @default the wall clock */
  clock?: () => Date;
  /** Accounts whose task fails as terraform failing would: a `failed` result and exit code 1. @default none */
  failAccounts?: ReadonlySet<string>;
}

/** The ECS task stand-in; see the file comment. */
export class InProcessTaskRunner implements LocalTaskRunner {
  /** Tasks run and the time spent in their synchronous work, in milliseconds. */
  tasks = 0;
  busyMs = 0;

  constructor(private readonly opts: InProcessTaskRunnerOptions) {}

  /** {@inheritDoc LocalTaskRunner.runTask} */
  async runTask(parameters: JsonObject, _ctx: LocalTaskContext): Promise<JsonObject> {
    const env = overridesEnv(parameters);
    const refuse = (why: string): never => {
      // The real runner exits 3 (refused) on input it cannot accept: the task fails.
      throw new StatesError('States.TaskFailed', JSON.stringify({ StoppedReason: `runner input refused: ${why}`, Containers: [{ ExitCode: 3 }] }));
    };
    // Read as the runner reads it: the overrides name the manifest and its SHA-256; the manifest holds the modules.
    const task = RunnerEnvInputSchema.safeParse(Object.fromEntries(Object.entries(RUNNER_ENV).map(([field, name]) => [field, env[name]])));
    if (!task.success) return refuse(task.error.issues[0]?.message ?? '');
    let body: Buffer;
    try {
      body = readFileSync(path.join(this.opts.artifactsDir, task.data.manifest));
    } catch {
      return refuse(`no manifest at ${task.data.manifest}`);
    }
    if (createHash('sha256').update(body).digest('hex') !== task.data.manifestSha256) return refuse(`manifest ${task.data.manifest} does not match its SHA-256`);
    const manifest = RunnerManifestSchema.safeParse(JSON.parse(body.toString('utf8')));
    if (!manifest.success) return refuse(manifest.error.issues[0]?.message ?? '');
    const { manifest: _key, manifestSha256: _sha, ...fields } = task.data;
    const parsed = RunnerInputSchema.safeParse({ ...fields, modules: manifest.data.modules, approvedPlans: manifest.data.approvedPlans });
    if (!parsed.success) return refuse(parsed.error.issues[0]?.message ?? '');
    const input = parsed.data;
    const startedAt = (this.opts.clock ?? (() => new Date()))();
    if (this.opts.delayFor) await this.opts.delayFor({ account: input.account, execution: input.execution });

    const t0 = performance.now();
    const finishedAt = (this.opts.clock ?? (() => new Date()))();
    const fails = this.opts.failAccounts?.has(input.account) === true;
    const status: ModuleResult['status'] = fails ? 'failed' : input.phase === 'plan' ? 'planned' : 'applied';
    for (const module of input.modules) {
      const result = ModuleResultSchema.parse({
        module,
        account: input.account,
        commit: input.commit,
        phase: input.phase,
        status,
        ...(fails ? { error: 'terraform apply exited with code 1 (failure injected by the benchmark)' } : {}),
        plan: { add: 0, change: 0, destroy: 0, deleted: [], replaced: [] },
        startedAt: startedAt.toISOString(),
        finishedAt: finishedAt.toISOString(),
      });
      const file = path.join(this.opts.artifactsDir, artifactKeys.result(input.execution, input.account, module));
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, JSON.stringify(result));
    }
    const account = this.opts.config.accounts.find((a) => a.name === input.account);
    const region = account?.region ?? this.opts.config.central.region;
    const cluster = typeof parameters.Cluster === 'string' ? parameters.Cluster : 'tfstep';
    const description = {
      TaskArn: `arn:aws:ecs:${region}:${account?.id ?? '000000000000'}:task/${cluster}/${randomBytes(16).toString('hex')}`,
      LastStatus: 'STOPPED',
      StartedAt: startedAt.toISOString(),
      StoppedAt: finishedAt.toISOString(),
      StopCode: 'EssentialContainerExited',
      StoppedReason: 'Essential container in task exited',
      Containers: [{ Name: 'runner', LastStatus: 'STOPPED', ExitCode: 0 }],
    };
    this.busyMs += performance.now() - t0;
    this.tasks++;
    // A non-zero exit fails the .sync task (States.TaskFailed, the task description as the cause).
    if (fails) throw new StatesError('States.TaskFailed', JSON.stringify({ ...description, Containers: [{ Name: 'runner', LastStatus: 'STOPPED', ExitCode: 1 }] }));
    return description;
  }
}

/** Options of {@link BenchPipeline.open}. */
export interface BenchPipelineOptions {
  config: Config;
  repoDir: string;
  /** Holds the run table and the artifacts. */
  stateDir: string;
  /** Simulated time: the runner sleeps on it and the functions' calls are tracked by it. */
  clock?: VirtualClock;
  /** The simulated time (milliseconds) of a task, from start to exit; only with `clock`. */
  taskMsFor?: (task: SimulatedTask) => number;
  /** Called with each admit answer. */
  onAdmit?: (answer: JsonObject) => void;
  /** Accounts whose runner task fails. @default none */
  failAccounts?: ReadonlySet<string>;
}

/** The pipeline under measurement; see the file comment. */
export class BenchPipeline {
  private readonly running = new Set<string>();
  /** Function calls in progress: the run table must outlive them, even after a stop. */
  private readonly calls = new Set<Promise<unknown>>();
  /** The limit meters of the executions running now, by name. */
  readonly meters = new Map<string, LimitMeter>();

  private constructor(
    readonly engine: LocalEngine,
    readonly runner: InProcessTaskRunner,
    /** The rendered definition the engine runs. */
    readonly definition: JsonObject,
    readonly store: LocalStore,
    readonly runStore: RunStore,
    private readonly opts: BenchPipelineOptions,
    /** The pipeline function, also the target of the execution status change rule. */
    private readonly pipelineFn: (payload: unknown) => Promise<unknown>,
  ) {}

  /** Opens the run table in `stateDir` and builds the engine over the real definition. */
  static async open(opts: BenchPipelineOptions): Promise<BenchPipeline> {
    const { config, clock } = opts;
    const store = await openLocalStore(opts.stateDir);
    checkItemSizes(store.client);
    const now = clock ? () => clock.now() : () => new Date();
    const runStore = new RunStore(store.docClient, store.tableName, { clock: now });
    const artifactsDir = path.join(path.resolve(opts.stateDir), 'artifacts');
    const subs = localSubstitutions(config.central.region, config.central.account);
    const definition = renderLocalDefinition(subs);
    const runner = new InProcessTaskRunner({
      config,
      artifactsDir,
      clock: now,
      failAccounts: opts.failAccounts,
      delayFor: clock && opts.taskMsFor ? (task) => clock.sleep(opts.taskMsFor!(task)) : undefined,
    });
    const artifacts = folderArtifacts(artifactsDir);
    // In simulated mode a queued run's wait (and its heartbeat timeout) runs on virtual time.
    const tokens = new LocalTaskTokens(clock ? virtualTimers(clock) : undefined);
    const ref: { pipeline?: BenchPipeline } = {};
    const pipelineFn = createPipelineHandler({
      config,
      store: runStore,
      artifacts: artifacts.store,
      repoReader: () => new GitRepoReader(opts.repoDir),
      executions: { isRunning: (id) => Promise.resolve(ref.pipeline?.running.has(id) ?? false) },
      tasks: tokens.callback(),
      // SNS would refuse a run notification over 256 KB: measured against the execution it reports.
      notifier: {
        publish: (_subject, text, attributes = {}) => {
          const meter = ref.pipeline?.meters.get(attributes.execution?.split(':').pop() ?? '');
          try {
            (meter ?? new LimitMeter()).check('snsMessageBytes', snsPublishBytes(text, attributes), 'the run notification');
            return Promise.resolve();
          } catch (e) {
            return Promise.reject(e instanceof Error ? e : new Error(String(e)));
          }
        },
      },
      clock: now,
      logger: silentPipelineLogger,
    });
    const call = (payload: unknown): Promise<unknown> => {
      const p = pipelineFn(payload);
      const calls = ref.pipeline?.calls;
      calls?.add(p);
      void p.then(
        () => calls?.delete(p),
        () => calls?.delete(p),
      );
      return p;
    };
    const served = async (payload: unknown): Promise<unknown> => {
      const answer = clock ? await clock.track(() => call(payload)) : await call(payload);
      if (isObject(payload) && payload.action === 'admit' && isObject(answer)) opts.onAdmit?.(answer);
      return answer;
    };
    const engine = new LocalEngine({
      definition,
      functions: {
        [subs.PipelineFunctionArn]: served,
        [subs.ApprovalFunctionArn]: () => Promise.reject(new Error('the benchmark stages require no approval; the approval function must not be called')),
      },
      tokens,
      runner,
      objects: artifacts.objects,
      // Real mode: the engine's own short pauses. Simulated mode: Wait states take no real time.
      waitMs: clock ? 0 : undefined,
      retryMs: clock ? 0 : undefined,
      stateMachineArn: `arn:aws:states:${config.central.region}:${config.central.account}:stateMachine:tfstep-pipeline`,
    });
    const pipeline = new BenchPipeline(engine, runner, definition, store, runStore, opts, served);
    // Plan-only runs (drift sweeps) over the same function, runner and artifacts.
    pipeline.planOnlyDefinition = renderLocalPlanOnlyDefinition(subs);
    pipeline.planOnlyEngine = new LocalEngine({
      definition: pipeline.planOnlyDefinition,
      functions: { [subs.PipelineFunctionArn]: served },
      tokens,
      runner,
      objects: artifacts.objects,
      waitMs: clock ? 0 : undefined,
      retryMs: clock ? 0 : undefined,
      stateMachineArn: `arn:aws:states:${config.central.region}:${config.central.account}:stateMachine:tfstep-plan-only`,
    });
    ref.pipeline = pipeline;
    return pipeline;
  }

  /** The plan-only definition as rendered, and its engine (set by {@link BenchPipeline.open}). */
  planOnlyDefinition!: JsonObject;
  planOnlyEngine!: LocalEngine;

  /** Starts an execution; it counts as running (for admit) until it ends. */
  start(input: PipelineInput, name: string): LocalExecution {
    const arn = this.engine.executionArn(name);
    // The push event and the runner policies, as AWS checks them before the execution starts.
    const before = checkBeforeStart(input, this.opts.config);
    this.running.add(arn);
    const execution = this.engine.start(input, name);
    for (const [limit, use] of Object.entries(before.report())) if (use.max > 0) execution.limits.observe(limit as LimitName, use.max, use.at ?? '');
    this.meters.set(name, execution.limits);
    void execution.done.then(async (result) => {
      this.running.delete(arn);
      this.meters.delete(name);
      // As the status change rule does in AWS: an execution that ended without finish releases its branch.
      const ended = this.engine.statusChangeEvent(execution, result, this.opts.clock?.now());
      if (ended) await this.pipelineFn(ended).catch(() => undefined);
    });
    return execution;
  }

  /** The run table's largest item, added to an execution's limits once it ended. */
  measureStoredItems(execution: LocalExecution): Promise<void> {
    return measureStoredItems(this.store, execution.limits);
  }

  /** Stops what still runs, lets function calls in progress end, and closes the run table. */
  async close(): Promise<void> {
    this.engine.stopAll();
    this.planOnlyEngine.stopAll();
    await Promise.allSettled([...this.calls]);
    await this.store.close();
  }
}
