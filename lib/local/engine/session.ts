/**
 * One local installation of tfstep: the real definition in the local engine, the real pipeline
 * and approval functions in-process over the local run table, the runner as child processes.
 * `tfstep local run`, `demo`, `serve` and `replay` all drive a {@link LocalPipeline}.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { createApprovalRequestHandler } from '../../approval/request';
import { decide, type DecideResult } from '../../approval/decide';
import { LocalAuditLog } from '../../audit/local';
import { FunctionArtifactReader } from '../../approval/artifacts';
import { MemoryApprovalNotifier } from '../../approval/notifier';
import { StaticKeyProvider } from '../../approval/signing';
import { ApprovalStore } from '../../approval/store';
import { TaskFailedError } from '../../approval/task-token';
import type { ApprovalNotice, ApprovalView } from '../../approval/types';
import { waitForOutcome } from '../../approval/wait';
import type { Config } from '../../config/schema';
import type { PushEvent } from '../../domain/push-event';
import { AwsLimitExceededError, LimitMeter, snsPublishBytes, type LimitsReport } from '../../domain/aws-limits';
import { checkBeforeStart, checkItemSizes, measureStoredItems } from './aws-checks';
import { createPipelineHandler, type PipelineLogger } from '../../pipeline/handler';
import { silentPipelineLogger, type ArtifactStore } from '../../pipeline/deps';
import { readItems } from '../../statemachine/items';
import type { AccountOutcome, RunStatus, StageItem } from '../../statemachine/contracts';
import { GitRepoReader } from '../../planning/repo-reader';
import { RemoteGitRepoReader, type LocalGitCredentials } from './git-credentials';
import { LocalModeError } from './errors';
import { RunStore, type RunRecord } from '../../store/run-store';
import { folderArtifacts } from './artifacts';
import { localSubstitutions, renderLocalDefinition, renderLocalPlanOnlyDefinition } from './definition';
import type { PlanOnlyRequest } from '../../domain/plan-only';
import { names } from '../../domain/names';
import { LocalEngine, type HistoryEvent, type LocalExecution, type LocalExecutionResult, type LocalTaskRunner } from './engine';
import { RunTracker, type RunReport } from './tracker';
import { ChildProcessTaskRunner, ensureRunnerBundle, type RunnerEvent } from './runner-launcher';
import type { LocalStore } from './store';
import { LocalTaskTokens } from './task-tokens';
import { processAlive, stopOrphanedRunners } from './orphans';
import { fleetFileReader } from '../../fleet/fleet-file';
import type { FleetRefreshRecord } from '../../fleet/registry';
import { fleetAccounts, refreshFleet } from '../../pipeline/fleet';

/** An approval the local run waits for. */
export interface LocalApprovalRequest {
  approvalId: string;
  executionName: string;
  stage: string;
  /** The approval as stored: approvers, pusher, plan summaries per account and module. */
  approval: ApprovalView;
}

/** Options of {@link LocalPipeline.create}. */
export interface LocalPipelineOptions {
  config: Config;
  stateDir: string;
  /** The git repository the runner clones and the planner reads (a local path). */
  repoDir: string;
  /**
   * Read and clone the configured remote (`cloneUrls[0]`) instead of `repoDir`, with
   * `gitCredentials`: what the pipeline does in AWS with a private repository. @default false
   */
  cloneFromRemote?: boolean;
  /** Credentials for a private remote (see loadLocalGitCredentials). */
  gitCredentials?: LocalGitCredentials;
  store: LocalStore;
  /** The runner's environment (PATH, HOME, test double variables). @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Base URL of the approval pages (`local serve`). @default http://127.0.0.1 */
  approvalBaseUrl?: string;
  /** Run the runner through tsx instead of the bundle (slower; for debugging the runner). */
  noBundle?: boolean;
  /** Every Wait state's local pause. @default 200 */
  waitMs?: number;
  /** Called when an execution waits for an approval. */
  onApprovalRequested?: (request: LocalApprovalRequest) => void;
  /** Each approval notice (one per approver), as email would carry it. */
  onNotice?: (notice: ApprovalNotice) => void;
  /** Each runner start and stop. */
  onRunner?: (event: RunnerEvent) => void;
  /** Runs the ECS tasks; the runner as a child process unless given (the benchmark's no-op runner). */
  taskRunner?: LocalTaskRunner;
  /** The pipeline function's logger. @default silent */
  logger?: PipelineLogger;
  /** Each notification the pipeline publishes (SNS in AWS): run notices and drift notices. */
  onNotification?: (subject: string, text: string, attributes: Record<string, string>) => void;
  /**
   * The fleet file standing in for AWS Organizations (`fleet.file` resolved against the config's
   * folder, or `--fleet-file`): read into the fleet registry before each run plans its targets.
   * @default - no fleet refresh; the registry is used as it is
   */
  fleetFile?: string;
}

/** How a local run ended. */
export interface LocalRunResult {
  status: RunStatus | 'ABORTED';
  reason?: string;
  execution: LocalExecutionResult;
  report: RunReport;
  events: HistoryEvent[];
  /** The largest value of each AWS limit the run met, against the limit. */
  limits: LimitsReport;
}

/** A started local run. */
export interface LocalRun {
  executionId: string;
  executionName: string;
  tracker: RunTracker;
  execution: LocalExecution;
  done: Promise<LocalRunResult>;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The key approval links are signed with, kept in the state directory so links survive restarts. */
export function signingKey(stateDir: string): string {
  const file = path.join(stateDir, 'approval-signing.key');
  if (existsSync(file)) {
    const key = readFileSync(file, 'utf8').trim();
    if (key.length >= 16) return key;
  }
  const key = randomBytes(32).toString('hex');
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return key;
}

/** A unique execution name, valid as the runner's artifacts prefix. */
export function newExecutionName(commit: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  return `local-${stamp}-${commit.slice(0, 7)}-${randomBytes(3).toString('hex')}`;
}

/**
 * The config as the local functions see it: the repository's first clone URL is the local
 * repository, because the targets step hands `cloneUrls[0]` to the runner as its source.
 */
export function localConfig(config: Config, repoDir: string, fullName?: string): Config {
  const target = fullName?.toLowerCase();
  return {
    ...config,
    repositories: config.repositories.map((r) =>
      target === undefined || r.fullName.toLowerCase() === target ? { ...r, cloneUrls: [repoDir, ...r.cloneUrls.filter((u) => u !== repoDir)] } : r,
    ),
  };
}

/** The local pipeline; see the file comment. */
export class LocalPipeline {
  readonly tokens = new LocalTaskTokens();
  readonly runStore: RunStore;
  readonly approvals: ApprovalStore;
  /** The state directory's audit trail (audit.jsonl): decisions, applies and replays. */
  readonly audit: LocalAuditLog;
  private readonly trackers = new Map<string, RunTracker>();
  private readonly running = new Set<string>();
  private readonly followers = new Map<string, AbortController>();
  /** The limit meters of the executions running now, by execution name. */
  private readonly meters = new Map<string, LimitMeter>();
  private engine!: LocalEngine;
  /** The plan-only definition (drift sweeps, pull-request plans) over the same functions and runner. */
  private planOnlyEngine!: LocalEngine;
  /** The pipeline function, also the target of the execution status change rule. */
  private pipelineFn!: (payload: unknown) => Promise<unknown>;

  private constructor(
    readonly opts: LocalPipelineOptions,
    readonly config: Config,
  ) {
    this.runStore = new RunStore(opts.store.docClient, opts.store.tableName);
    this.approvals = new ApprovalStore(opts.store.docClient, opts.store.tableName);
    this.audit = new LocalAuditLog(path.resolve(opts.stateDir));
  }

  /** Builds the runner bundle (once), renders the definition and checks every Task state. */
  static async create(opts: LocalPipelineOptions): Promise<LocalPipeline> {
    const repoDir = path.resolve(opts.repoDir);
    const pipeline = new LocalPipeline(opts, opts.cloneFromRemote ? opts.config : localConfig(opts.config, repoDir));
    checkItemSizes(opts.store.client);
    const bundle = opts.noBundle || opts.taskRunner ? undefined : await ensureRunnerBundle(opts.stateDir);
    pipeline.engine = pipeline.buildEngine(bundle, repoDir);
    const reaped = await reapAbandoned(opts.stateDir, pipeline.runStore);
    for (const name of reaped.runs) (opts.logger ?? silentPipelineLogger).warn('a run whose process is gone was recorded ABORTED and its branch released', { execution: name });
    if (reaped.runners.length > 0) (opts.logger ?? silentPipelineLogger).warn('stopped runners left behind by a process that is gone', { pids: reaped.runners });
    return pipeline;
  }

  /** The configured clone URL of a repository: what the runner clones when reading the remote. */
  private remoteUrlOf(fullName: string): string {
    const repo = this.config.repositories.find((r) => r.fullName.toLowerCase() === fullName.toLowerCase());
    if (!repo?.cloneUrls[0]) throw new LocalModeError(`repository ${fullName} is not in the config`);
    return repo.cloneUrls[0];
  }

  private buildEngine(bundle: string | undefined, repoDir: string): LocalEngine {
    const { opts, config } = this;
    const subs = localSubstitutions(config.central.region, config.central.account);
    const artifactsDir = path.join(path.resolve(opts.stateDir), 'artifacts');
    const folder = folderArtifacts(artifactsDir);
    const artifacts = folder.store;
    const pipelineFn = createPipelineHandler({
      config,
      store: this.runStore,
      artifacts,
      repoReader: opts.cloneFromRemote
        ? (push) => new RemoteGitRepoReader(this.remoteUrlOf(push.repository.fullName), path.join(path.resolve(opts.stateDir), 'repo-cache'), opts.gitCredentials)
        : () => new GitRepoReader(repoDir),
      // Another tfstep process may run executions against the same state directory (a replay or
      // an approve from a second terminal): theirs are running while their process lives.
      executions: { isRunning: (id) => Promise.resolve(this.running.has(id) || liveOwner(opts.stateDir, id.split(':').pop() ?? '') !== undefined) },
      tasks: this.tokens.callback(),
      // SNS refuses a message over 256 KB; the local notifier checks what the real one would publish.
      notifier: {
        publish: (_subject, text, attributes = {}) => {
          try {
            this.checkAll('snsMessageBytes', snsPublishBytes(text, attributes), 'the run notification', attributes.execution);
            opts.onNotification?.(_subject, text, attributes);
            return Promise.resolve();
          } catch (e) {
            return Promise.reject(e instanceof Error ? e : new Error(String(e)));
          }
        },
      },
      clock: () => new Date(),
      logger: opts.logger ?? silentPipelineLogger,
      audit: this.audit,
      auditChannel: 'local',
      ...(opts.fleetFile ? { organizations: { from: 'file', reader: () => fleetFileReader(opts.fleetFile!) } } : {}),
    });
    const approvalFn = createApprovalRequestHandler({
      store: this.approvals,
      keys: new StaticKeyProvider(signingKey(opts.stateDir)),
      notifier: new MemoryApprovalNotifier((notice) => {
        this.checkAll('snsMessageBytes', snsPublishBytes(notice.text, { approver: notice.approver, kind: 'approval' }), `the approval notice to ${notice.approver}`);
        opts.onNotice?.(notice);
      }),
      baseUrl: opts.approvalBaseUrl ?? 'http://127.0.0.1',
      artifacts: new FunctionArtifactReader(async (key) => (await artifacts.get(key))?.toString('utf8')),
    });
    this.pipelineFn = pipelineFn;
    const timeouts = new Map<string, number>();
    const runner = opts.taskRunner ?? new ChildProcessTaskRunner({
      config,
      stateDir: path.resolve(opts.stateDir),
      extraRepositories: opts.cloneFromRemote ? [] : [repoDir],
      gitCredentialsFile: opts.gitCredentials?.file,
      bundle,
      env: opts.env,
      timeoutSecondsFor: (account) => timeouts.get(account),
      // Fleet accounts are in the registry, not the config.
      accountNamed: async (name) => (await fleetAccounts(config, this.runStore)).find((a) => a.name === name),
      onEvent: (event) => {
        this.trackers.get(event.execution)?.onRunner(event);
        opts.onRunner?.(event);
      },
    });
    const functions = {
        [subs.PipelineFunctionArn]: async (payload: unknown) => {
          // The local stand-in for the fleet schedule: the fleet file is read before each run plans.
          if (opts.fleetFile && isObject(payload) && payload.action === 'targets') await this.refreshFleet();
          const result = await pipelineFn(payload);
          await this.observe(payload, result, timeouts, artifacts);
          return result;
        },
        [subs.ApprovalFunctionArn]: async (payload: unknown) => {
          const result = (await approvalFn(payload)) as { approvalId: string };
          this.approvalRequested(payload, result.approvalId);
          return result;
        },
    };
    this.planOnlyEngine = new LocalEngine({
      definition: renderLocalPlanOnlyDefinition(subs),
      functions: { [subs.PipelineFunctionArn]: functions[subs.PipelineFunctionArn]! },
      tokens: this.tokens,
      runner,
      objects: folder.objects,
      waitMs: opts.waitMs,
      stateMachineArn: `arn:aws:states:${config.central.region}:${config.central.account}:stateMachine:${names.planOnlyStateMachine()}`,
    });
    return new LocalEngine({
      definition: renderLocalDefinition(subs),
      functions,
      tokens: this.tokens,
      runner,
      objects: folder.objects,
      waitMs: opts.waitMs,
      stateMachineArn: `arn:aws:states:${config.central.region}:${config.central.account}:stateMachine:tfstep-pipeline`,
    });
  }

  /**
   * Runs a plan-only execution (a drift sweep, a pull request's plans) to its end: the same
   * functions and runner as the pipeline, never a branch queue. Answers the finish step's output.
   */
  async runPlanOnly(request: PlanOnlyRequest, name = `${request.kind}-${new Date().toISOString().replace(/[-:.]/g, '').replace('T', '-')}-${randomBytes(3).toString('hex')}`): Promise<{ execution: LocalExecutionResult; name: string; output: unknown; events: HistoryEvent[] }> {
    const execution = this.planOnlyEngine.start(request, name);
    const result = await execution.done;
    const out = result.output;
    const output = isObject(out) && isObject(out.finish) ? out.finish.value : undefined;
    return { execution: result, name, output, events: execution.events };
  }

  /** Feeds the run's tracker from what the pipeline function answered. */
  private async observe(payload: unknown, result: unknown, timeouts: Map<string, number>, artifacts: ArtifactStore): Promise<void> {
    if (!isObject(payload) || !isObject(result)) return;
    const name = typeof payload.executionName === 'string' ? payload.executionName : typeof payload.execution === 'string' ? payload.execution : undefined;
    const tracker = name ? this.trackers.get(name) : undefined;
    switch (payload.action) {
      case 'targets': {
        const stages = (result.stages ?? []) as StageItem[];
        const planned = await Promise.all(stages.map(async (s) => ({ name: s.name, accounts: await readItems(artifacts, s.accounts) })));
        for (const s of planned) for (const a of s.accounts) timeouts.set(a.name, a.timeoutSeconds);
        tracker?.onTargets(planned.map((s) => ({ name: s.name, accounts: s.accounts.map((a) => ({ name: a.name, modules: a.modules, wave: a.wave })) })));
        break;
      }
      case 'record-account':
        tracker?.onAccountOutcome(result as unknown as AccountOutcome);
        break;
      case 'stage-complete': {
        const stage = payload.stage as StageItem | undefined;
        if (stage) tracker?.onStageComplete(stage.name, String(payload.phase), result.failed === true, result.replan !== undefined && result.replan !== null);
        break;
      }
      case 'finish':
        tracker?.onFinished(result.status as RunStatus, typeof result.reason === 'string' ? result.reason : undefined);
        break;
    }
  }

  /**
   * The approval step stored its request. Its decision may come from this process (prompt,
   * auto, the serve pages: they settle the token directly) or from another one (`tfstep approve
   * --local`, which only records it): following the record covers both.
   */
  private approvalRequested(payload: unknown, approvalId: string): void {
    if (!isObject(payload) || typeof payload.taskToken !== 'string') return;
    const token = payload.taskToken;
    const executionName = String(payload.executionName);
    const stage = isObject(payload.stage) ? String(payload.stage.name) : '';
    const controller = new AbortController();
    this.followers.set(token, controller);
    const tracker = this.trackers.get(executionName);
    waitForOutcome(this.approvals, approvalId, { pollMs: 250, signal: controller.signal }).then(
      async (output) => {
        tracker?.onApprovalSettled(stage, 'approved');
        if (this.tokens.isWaiting(token)) await this.tokens.sendSuccess(token, output);
      },
      async (err: unknown) => {
        if (controller.signal.aborted) return;
        if (err instanceof TaskFailedError) {
          tracker?.onApprovalSettled(stage, 'rejected');
          if (this.tokens.isWaiting(token)) await this.tokens.sendFailure(token, err.error, err.causeText);
        } else tracker?.onApprovalSettled(stage, 'expired');
      },
    ).catch(() => undefined);
    void this.approvals.get(approvalId).then((approval) => {
      if (approval) this.opts.onApprovalRequested?.({ approvalId, executionName, stage, approval });
    });
  }

  /**
   * Decides an approval as `via: local` (the prompt, `--approve auto|reject`); the `auto`
   * approver is accepted here and nowhere in AWS.
   */
  decide(approvalId: string, approver: string, decision: 'approve' | 'reject', comment = '', override?: { readonly reason: string }): Promise<DecideResult> {
    return decide(
      { approvalId, approver, decision, comment, via: 'local', ...(override ? { override: { reason: override.reason } } : {}) },
      { store: this.approvals, tasks: this.tokens, allowAutoApprover: true, audit: this.audit },
    );
  }

  /** Reads the fleet file into the fleet registry (what the schedule does in AWS). */
  async refreshFleet(): Promise<FleetRefreshRecord> {
    if (!this.opts.fleetFile) throw new LocalModeError('no fleet file: set fleet.file in the config or pass --fleet-file');
    return refreshFleet({ config: this.config, store: this.runStore, reader: fleetFileReader(this.opts.fleetFile), from: 'file', clock: () => new Date(), logger: this.opts.logger });
  }

  /** Starts an execution of the pipeline with an execution input (the EventBridge envelope). */
  start(input: unknown, name?: string): LocalRun {
    const detail = isObject(input) && isObject(input.detail) ? (input.detail as Partial<PushEvent>) : {};
    const executionName = name ?? newExecutionName(detail.after ?? '0000000');
    const executionId = this.engine.executionArn(executionName);
    const tracker = new RunTracker(executionId, executionName);
    this.trackers.set(executionName, tracker);
    // What AWS checks before any execution starts: the bus's entry size (the webhook's PutEvents)
    // and the runner policy each account stack stores as an SSM parameter.
    const before = checkBeforeStart(input, this.opts.config);
    this.running.add(executionId);
    rememberExecution(this.opts.stateDir, executionName, { config: this.opts.config, repoDir: path.resolve(this.opts.repoDir), owner: { pid: process.pid } });
    const execution = this.engine.start(input, executionName);
    for (const [name, use] of Object.entries(before.report())) if (use.max > 0) execution.limits.observe(name as keyof LimitsReport, use.max, use.at ?? '');
    this.meters.set(executionName, execution.limits);
    const done = execution.done.then(async (result) => {
      this.running.delete(executionId);
      // As in AWS: an execution that ended FAILED, TIMED_OUT or ABORTED sends a status change
      // event, and the rule hands it to the pipeline function, which releases the branch and
      // records the outcome when finish could not.
      const ended = this.engine.statusChangeEvent(execution, result);
      if (ended) {
        await this.pipelineFn(ended).catch((err: unknown) =>
          (this.opts.logger ?? silentPipelineLogger).error('the execution status change could not be handled', { execution: executionName, error: err instanceof Error ? err.message : String(err) }),
        );
      }
      await measureStoredItems(this.opts.store, execution.limits).catch(() => undefined);
      this.meters.delete(executionName);
      endExecution(this.opts.stateDir, executionName);
      for (const [token, follower] of this.followers) {
        if (!this.tokens.isWaiting(token)) {
          follower.abort();
          this.followers.delete(token);
        }
      }
      const status = finalStatus(result, tracker);
      if (tracker.status !== status) tracker.onFinished(status === 'ABORTED' ? 'FAILED' : status, tracker.reason ?? result.cause);
      return { status, reason: tracker.reason ?? result.cause, execution: result, report: tracker.report(), events: execution.events, limits: execution.limits.report() };
    });
    return { executionId, executionName, tracker, execution, done };
  }

  /**
   * Records a value in the meters of the running executions (in the named one only, when
   * named) and refuses it past the limit with AWS's error.
   */
  private checkAll(name: keyof LimitsReport, value: number, what: string, execution?: string): void {
    const key = execution?.split(':').pop();
    const meters = key && this.meters.has(key) ? [this.meters.get(key)!] : [...this.meters.values()];
    let breach: AwsLimitExceededError | undefined;
    for (const m of meters) {
      try {
        m.check(name, value, what);
      } catch (e) {
        if (!(e instanceof AwsLimitExceededError)) throw e;
        breach = e;
      }
    }
    if (meters.length === 0) new LimitMeter().check(name, value, what);
    if (breach) throw breach;
  }

  /** Stops every running execution. */
  stopAll(): void {
    this.engine.stopAll();
    this.planOnlyEngine.stopAll();
    for (const f of this.followers.values()) f.abort();
    this.followers.clear();
  }
}

/** What a replay needs besides the stored input: the config and the repository the run used. */
export interface RememberedExecution {
  config: Config;
  repoDir: string;
  /** The process running the execution, until it ends. */
  owner?: { pid: number };
}

function executionFile(stateDir: string, name: string): string {
  return path.join(path.resolve(stateDir), 'executions', `${name.replace(/[^A-Za-z0-9_-]/g, '_')}.json`);
}

/** Keeps the config and repository of an execution in the state directory, for `local replay`. */
export function rememberExecution(stateDir: string, name: string, what: RememberedExecution): void {
  const file = executionFile(stateDir, name);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(what)}\n`);
}

/** The config and repository an execution ran with, if this state directory ran it. */
export function recallExecution(stateDir: string, name: string): RememberedExecution | undefined {
  const file = executionFile(stateDir, name);
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as RememberedExecution;
}

/** Marks an execution of this process as ended: no process runs it any more. */
export function endExecution(stateDir: string, name: string): void {
  const what = recallExecution(stateDir, name);
  if (what?.owner?.pid !== process.pid) return;
  const { owner: _owner, ...rest } = what;
  rememberExecution(stateDir, name, rest);
}

/**
 * The live process that runs an execution of this state directory, if any: undefined when it
 * ended, or when its process is gone (killed, crashed) and the run was abandoned.
 */
export function liveOwner(stateDir: string, name: string): { pid: number } | undefined {
  let what: RememberedExecution | undefined;
  try {
    what = recallExecution(stateDir, name);
  } catch {
    return undefined;
  }
  const pid = what?.owner?.pid;
  return pid !== undefined && processAlive(pid) ? { pid } : undefined;
}

/**
 * Records a run whose process is gone as ABORTED, takes it out of its branch queue and releases
 * the branch if it held it, so nothing stays stuck behind a crashed or killed tfstep.
 */
export async function abandonRun(runs: RunStore, run: Pick<RunRecord, 'execution' | 'repository' | 'branch' | 'sequence'>, why: string): Promise<void> {
  await runs.finishRun(run.execution, 'ABORTED', { reason: `abandoned: ${why}`, finishedAt: new Date().toISOString() });
  await runs.leaveQueue(run.repository, run.branch, run.sequence, run.execution);
  await runs.releaseLock(run.repository, run.branch, run.execution);
}

/**
 * Recognises what a killed or crashed tfstep process left behind on this state directory: its
 * runner children are stopped, and its runs still RUNNING or WAITING are recorded ABORTED with
 * their branch released (see {@link abandonRun}). Runs of a live process are left alone.
 */
export async function reapAbandoned(stateDir: string, runs: RunStore): Promise<{ runs: string[]; runners: number[] }> {
  const dir = path.join(path.resolve(stateDir), 'executions');
  const names = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -'.json'.length)) : [];
  const gone = names.filter((name) => {
    try {
      const pid = recallExecution(stateDir, name)?.owner?.pid;
      return pid !== undefined && pid !== process.pid && !processAlive(pid);
    } catch {
      return false;
    }
  });
  const runners = await stopOrphanedRunners(stateDir, (execution) => !gone.includes(execution));
  const abandoned: string[] = [];
  for (const name of gone) {
    const record = await runs.getRunItem(name);
    const what = recallExecution(stateDir, name)!;
    if (record && (record.status === 'RUNNING' || record.status === 'WAITING')) {
      await abandonRun(runs, record, `its process (pid ${what.owner!.pid}) is gone`);
      abandoned.push(name);
    }
    const { owner: _owner, ...rest } = what;
    rememberExecution(stateDir, name, rest);
  }
  return { runs: abandoned, runners };
}

/** The run's status from how the execution ended and what finish recorded. */
export function finalStatus(result: LocalExecutionResult, tracker: RunTracker): RunStatus | 'ABORTED' {
  if (result.status === 'ABORTED') return 'ABORTED';
  if (result.status === 'SUCCEEDED') {
    const out = result.output;
    const decision = isObject(out) && isObject(out.run) && isObject(out.run.value) ? out.run.value.decision : undefined;
    if (decision === 'DUPLICATE' || decision === 'SUPERSEDED') return decision;
    return tracker.status ?? 'SUCCEEDED';
  }
  switch (result.error) {
    case 'Rejected':
      return 'REJECTED';
    case 'ApprovalExpired':
      return 'EXPIRED';
    default:
      return tracker.status && tracker.status !== 'SUCCEEDED' ? tracker.status : 'FAILED';
  }
}
