/**
 * `tfstep logs`: the runner tasks' output, as if Terraform ran in this terminal.
 *
 * AWS: the runner tasks are found in the execution histories (the ECS `.sync` task events carry
 * the task description with its ARN and environment). Each account's task runs inside a
 * Distributed Map child execution, and each child keeps its own history ("Using Map state in
 * Distributed mode", Step Functions developer guide): the reader lists the execution's Map Runs
 * (ListMapRuns), their child executions (ListExecutions with `mapRunArn`), and reads the task
 * events from each child's history as well as from the parent's. A finished task is read from the copy
 * the runner writes to the central artifacts bucket; a running one (or one whose copy is
 * missing) from CloudWatch Logs in its account, which needs credentials in that account.
 * Local: the runner's log files in the state directory.
 */
import { existsSync, readdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { GetLogEventsCommand, type CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeTasksCommand, type ECSClient } from '@aws-sdk/client-ecs';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, GetExecutionHistoryCommand, ListExecutionsCommand, ListMapRunsCommand, type HistoryEvent, type ListExecutionsCommandOutput, type SFNClient } from '@aws-sdk/client-sfn';
import type { Config } from '../config/schema';
import { mapLimit } from '../domain/concurrency';
import { names } from '../domain/names';
import { artifactKeys } from '../domain/runner-contract';
import { executionArnOf, executionNameOf } from '../notify/links';
import { ExecutionNotFoundError, OperatorError, explainAwsError, isAccessDenied, isCredentialsError } from './errors';
import type { RunRecords } from './run-records';

/** Where log output goes: the CLI prints headers dimmed and lines as they are. */
export interface LogWriter {
  /** Starts a task's section: `==> dev plan-and-apply (task 0123abcd, STOPPED)`. */
  header(text: string): void;
  /** One line of runner output. */
  line(text: string): void;
  /** A remark about the logs themselves (where they came from, what could not be read). */
  note(text: string): void;
  /** Transient progress while following; the CLI shows it only on a terminal. */
  progress?(text: string): void;
}

/** What to show. */
export interface LogsRequest {
  readonly execution: string;
  readonly account?: string;
  readonly module?: string;
  readonly follow: boolean;
}

/** Prints an execution's runner logs; with `follow`, until the execution and its tasks stop. */
export interface LogReader {
  run(req: LogsRequest, writer: LogWriter): Promise<void>;
}

/** One runner task found in an execution's history. */
export interface RunnerTask {
  readonly taskArn: string;
  readonly taskId: string;
  readonly clusterArn?: string;
  readonly account: string;
  readonly phase: string;
  /**
   * The name the task writes its artifacts under (`TFSTEP_EXECUTION`): the execution's own name
   * in a deploy, the task's name in a plan-only run (one per account). @default - the execution's name
   */
  readonly execution?: string;
  readonly modules: readonly string[];
  /** The account id and region, from the task ARN. */
  readonly accountId: string;
  readonly region: string;
  /** The history says the `.sync` task ended (succeeded or failed). */
  readonly ended: boolean;
}

/**
 * Keeps only the lines of one module: the runner starts each of a module's lines it writes
 * itself with `[<module>]`, and the tool's output follows them.
 */
export class ModuleLineFilter {
  private current: string | undefined;
  constructor(
    private readonly module: string,
    private readonly modules: readonly string[],
  ) {}

  accept(line: string): boolean {
    const m = /^\[([^\]]+)\] /.exec(line);
    // With no module list (the task's modules are in its manifest, not its overrides), any runner prefix starts a module.
    if (m && (this.modules.length === 0 || this.modules.includes(m[1]!))) this.current = m[1];
    return this.current === this.module;
  }
}

type Json = Record<string, unknown>;

function parseJson(text: string | undefined): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function pick(obj: unknown, ...keys: string[]): unknown {
  if (obj === null || typeof obj !== 'object') return undefined;
  for (const k of keys) if (k in (obj as Json)) return (obj as Json)[k];
  return undefined;
}

/** The environment of the runner container, whichever casing the event uses. */
function envOf(task: unknown): Record<string, string> {
  const overrides = pick(task, 'Overrides', 'overrides');
  const containers = pick(overrides, 'ContainerOverrides', 'containerOverrides');
  const env: Record<string, string> = {};
  for (const c of Array.isArray(containers) ? containers : []) {
    const vars = pick(c, 'Environment', 'environment');
    for (const v of Array.isArray(vars) ? vars : []) {
      const name = pick(v, 'Name', 'name');
      const value = pick(v, 'Value', 'value');
      if (typeof name === 'string' && typeof value === 'string') env[name] = value;
    }
  }
  return env;
}

function firstTask(output: unknown): unknown {
  const tasks = pick(output, 'Tasks', 'tasks');
  return Array.isArray(tasks) ? tasks[0] : output;
}

const TASK_ARN = /arn:[a-z-]+:ecs:[a-z0-9-]+:\d{12}:task\/[A-Za-z0-9_/-]+/;

/** Runner tasks in order of submission, from the ECS `.sync` events of an execution history. */
export function runnerTasksFromHistory(events: readonly HistoryEvent[]): RunnerTask[] {
  const byId = new Map<number, HistoryEvent>(events.map((e) => [e.id ?? -1, e]));
  const tasks = new Map<string, RunnerTask>();
  const ended = new Set<string>();
  const scheduledOf = (e: HistoryEvent): HistoryEvent | undefined => {
    let cur: HistoryEvent | undefined = e;
    for (let i = 0; i < 5 && cur; i++) {
      if (cur.type === 'TaskScheduled') return cur;
      cur = cur.previousEventId !== undefined ? byId.get(cur.previousEventId) : undefined;
    }
    return undefined;
  };
  for (const e of events) {
    if (e.type === 'TaskSubmitted' && e.taskSubmittedEventDetails?.resourceType === 'ecs') {
      const task = firstTask(parseJson(e.taskSubmittedEventDetails.output));
      const taskArn = pick(task, 'TaskArn', 'taskArn');
      if (typeof taskArn !== 'string') continue;
      let env = envOf(task);
      if (!env.TFSTEP_ACCOUNT) {
        const scheduled = scheduledOf(e);
        env = envOf(parseJson(scheduled?.taskScheduledEventDetails?.parameters));
      }
      const [, , , region = '', accountId = ''] = taskArn.split(':');
      const clusterArn = pick(task, 'ClusterArn', 'clusterArn');
      let modules: string[] = [];
      const parsedModules = parseJson(env.TFSTEP_MODULES);
      if (Array.isArray(parsedModules)) modules = parsedModules.filter((m): m is string => typeof m === 'string');
      tasks.set(taskArn, {
        taskArn,
        taskId: taskArn.split('/').pop() ?? taskArn,
        clusterArn: typeof clusterArn === 'string' ? clusterArn : undefined,
        account: env.TFSTEP_ACCOUNT ?? accountId,
        phase: env.TFSTEP_PHASE ?? 'unknown',
        ...(env.TFSTEP_EXECUTION ? { execution: env.TFSTEP_EXECUTION } : {}),
        modules,
        accountId,
        region,
        ended: false,
      });
    } else if (e.type === 'TaskSucceeded' && e.taskSucceededEventDetails?.resourceType === 'ecs') {
      const arn = pick(firstTask(parseJson(e.taskSucceededEventDetails.output)), 'TaskArn', 'taskArn');
      if (typeof arn === 'string') ended.add(arn);
    } else if (e.type === 'TaskFailed' && e.taskFailedEventDetails?.resourceType === 'ecs') {
      const arn = TASK_ARN.exec(e.taskFailedEventDetails.cause ?? '')?.[0];
      if (arn) ended.add(arn);
    }
  }
  return [...tasks.values()].map((t) => ({ ...t, ended: ended.has(t.taskArn) }));
}

function selectTasks(tasks: readonly RunnerTask[], req: LogsRequest): RunnerTask[] {
  // A task whose overrides name a manifest carries no module list: its lines are filtered instead.
  return tasks.filter((t) => (!req.account || t.account === req.account || t.accountId === req.account) && (!req.module || t.modules.length === 0 || t.modules.includes(req.module)));
}

/** Writes lines through the module filter, if any. */
function lineSink(writer: LogWriter, req: LogsRequest, modules: readonly string[]): (line: string) => void {
  const filter = req.module ? new ModuleLineFilter(req.module, modules) : undefined;
  return (line) => {
    if (!filter || filter.accept(line)) writer.line(line);
  };
}

/** What the AWS log reader needs; per-account clients carry that account's credentials. */
export interface AwsLogsDeps {
  readonly sfn: SFNClient;
  readonly s3: S3Client;
  readonly config: Config;
  readonly stateMachineArn: string;
  /**
   * The plan-only state machine (pull request plans, drift sweeps): a name the pipeline state
   * machine does not know is looked up there. @default - names are the pipeline's only
   */
  readonly planOnlyStateMachineArn?: string;
  /** CloudWatch Logs in the task's account and region. */
  logsFor(task: RunnerTask): CloudWatchLogsClient;
  /** ECS in the task's account and region. */
  ecsFor(task: RunnerTask): ECSClient;
  /** How the user can give credentials for an account, for error messages. */
  readonly credentialsHint: (task: RunnerTask) => string;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Milliseconds between polls with `--follow`. */
  readonly pollMs?: number;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Reads and, with `follow`, streams an execution's runner logs from AWS. */
export class AwsLogReader implements LogReader {
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly pollMs: number;
  /** CloudWatch position per task. */
  private readonly tokens = new Map<string, string | undefined>();
  private readonly done = new Set<string>();
  private readonly sinks = new Map<string, (line: string) => void>();
  /** Runner tasks of child executions that have ended: their histories no longer change. */
  private readonly endedChildren = new Map<string, RunnerTask[]>();

  constructor(private readonly deps: AwsLogsDeps) {
    this.sleep = deps.sleep ?? defaultSleep;
    this.pollMs = deps.pollMs ?? 3000;
  }

  private executionArn(execution: string): string {
    return execution.startsWith('arn:') ? execution : executionArnOf(this.deps.stateMachineArn, execution);
  }

  /**
   * The execution's ARN and its runner tasks: a name is the pipeline's execution, or else the
   * plan-only state machine's one of that name (a pull request run, a drift sweep).
   */
  private async findTasks(execution: string): Promise<{ executionArn: string; tasks: RunnerTask[] }> {
    const executionArn = this.executionArn(execution);
    const planOnly = this.deps.planOnlyStateMachineArn;
    try {
      return { executionArn, tasks: await this.runnerTasks(executionArn) };
    } catch (err) {
      if (!(err instanceof ExecutionNotFoundError) || execution.startsWith('arn:') || !planOnly) throw err;
    }
    const planOnlyArn = executionArnOf(planOnly, execution);
    try {
      return { executionArn: planOnlyArn, tasks: await this.runnerTasks(planOnlyArn) };
    } catch (err) {
      if (err instanceof ExecutionNotFoundError) throw new ExecutionNotFoundError(execution, `${this.deps.stateMachineArn} or ${planOnly}`, { cause: err });
      throw err;
    }
  }

  /** Every event of the execution history, oldest first. */
  async history(executionArn: string): Promise<HistoryEvent[]> {
    const events: HistoryEvent[] = [];
    let nextToken: string | undefined;
    do {
      try {
        const out = await this.deps.sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000, includeExecutionData: true, nextToken }));
        events.push(...(out.events ?? []));
        nextToken = out.nextToken;
      } catch (err) {
        if ((err as { name?: string }).name === 'ExecutionDoesNotExist') throw new ExecutionNotFoundError(executionArn.split(':').pop() ?? executionArn, this.deps.stateMachineArn, { cause: err });
        throw explainAwsError(err, 'states:GetExecutionHistory');
      }
    } while (nextToken);
    return events;
  }

  /**
   * The child executions the execution's Distributed Maps started, Map Run by Map Run in the
   * order they started, each child with its status.
   */
  async childExecutions(executionArn: string): Promise<{ executionArn: string; status?: string }[]> {
    const mapRuns: { mapRunArn: string; startDate?: Date }[] = [];
    let nextToken: string | undefined;
    do {
      try {
        const out = await this.deps.sfn.send(new ListMapRunsCommand({ executionArn, maxResults: 1000, nextToken }));
        for (const m of out?.mapRuns ?? []) if (m.mapRunArn) mapRuns.push({ mapRunArn: m.mapRunArn, startDate: m.startDate });
        nextToken = out?.nextToken;
      } catch (err) {
        throw explainAwsError(err, 'states:ListMapRuns');
      }
    } while (nextToken);
    mapRuns.sort((a, b) => (a.startDate?.getTime() ?? 0) - (b.startDate?.getTime() ?? 0));
    const children: { executionArn: string; status?: string }[] = [];
    for (const { mapRunArn } of mapRuns) {
      const ofRun: { executionArn: string; status?: string; startDate?: Date }[] = [];
      nextToken = undefined;
      do {
        try {
          // With mapRunArn, ListExecutions lists the child workflow executions that Map Run started.
          const out: ListExecutionsCommandOutput | undefined = await this.deps.sfn.send(new ListExecutionsCommand({ mapRunArn, maxResults: 1000, nextToken }));
          for (const e of out?.executions ?? []) if (e.executionArn) ofRun.push({ executionArn: e.executionArn, status: e.status, startDate: e.startDate });
          nextToken = out?.nextToken;
        } catch (err) {
          throw explainAwsError(err, 'states:ListExecutions');
        }
      } while (nextToken);
      ofRun.sort((a, b) => (a.startDate?.getTime() ?? 0) - (b.startDate?.getTime() ?? 0));
      children.push(...ofRun.map(({ executionArn: arn, status }) => ({ executionArn: arn, status })));
    }
    return children;
  }

  /**
   * Every runner task of the execution: those in its own history, then those of its child
   * executions, Map Run by Map Run. An ended child's tasks are read once.
   */
  async runnerTasks(executionArn: string): Promise<RunnerTask[]> {
    const tasks = runnerTasksFromHistory(await this.history(executionArn));
    const children = await this.childExecutions(executionArn);
    const perChild = await mapLimit(children, 8, async (child) => {
      const known = this.endedChildren.get(child.executionArn);
      if (known) return known;
      const found = runnerTasksFromHistory(await this.history(child.executionArn));
      if (child.status !== undefined && child.status !== 'RUNNING' && child.status !== 'PENDING_REDRIVE') this.endedChildren.set(child.executionArn, found);
      return found;
    });
    const seen = new Set(tasks.map((t) => t.taskArn));
    for (const t of perChild.flat()) {
      if (seen.has(t.taskArn)) continue;
      seen.add(t.taskArn);
      tasks.push(t);
    }
    return tasks;
  }

  private async executionStatus(executionArn: string): Promise<string | undefined> {
    try {
      return (await this.deps.sfn.send(new DescribeExecutionCommand({ executionArn }))).status;
    } catch (err) {
      throw explainAwsError(err, 'states:DescribeExecution');
    }
  }

  /** Prints the logs; with `follow`, keeps printing until the execution and its tasks stop. */
  async run(req: LogsRequest, writer: LogWriter): Promise<void> {
    const found = await this.findTasks(req.execution);
    const executionArn = found.executionArn;
    const execution = executionArn.split(':').pop() ?? req.execution;
    let tasks = selectTasks(found.tasks, req);
    if (tasks.length === 0 && !req.follow) {
      writer.note(`no runner task${req.account ? ` for account ${req.account}` : ''}${req.module ? ` running ${req.module}` : ''} in ${execution} yet`);
      return;
    }
    // The artifacts copy holds the last attempt of an account's phase; earlier attempts
    // (retried infrastructure failures) are only in CloudWatch.
    const last = new Map<string, string>();
    for (;;) {
      for (const t of tasks) last.set(`${t.account}/${t.phase}`, t.taskArn);
      for (const task of tasks) {
        if (this.done.has(task.taskArn)) continue;
        if (!this.sinks.has(task.taskArn)) {
          writer.header(`${task.account} ${task.phase} (task ${task.taskId}${task.ended ? ', stopped' : ''})`);
          this.sinks.set(task.taskArn, lineSink(writer, req, task.modules));
        }
        const sink = this.sinks.get(task.taskArn)!;
        if (task.ended && last.get(`${task.account}/${task.phase}`) === task.taskArn && !this.tokens.has(task.taskArn)) {
          if (await this.fromArtifacts(execution, task, sink)) {
            this.done.add(task.taskArn);
            continue;
          }
        }
        const stopped = task.ended || (req.follow && (await this.taskStopped(task)));
        await this.fromCloudWatch(task, sink, writer);
        if (stopped || !req.follow) {
          // A stopped task's stream may still receive its last lines: read it dry once more.
          if (stopped && req.follow) await this.fromCloudWatch(task, sink, writer);
          this.done.add(task.taskArn);
        }
      }
      if (!req.follow) return;
      const status = await this.executionStatus(executionArn);
      tasks = selectTasks(await this.runnerTasks(executionArn), req);
      const pending = tasks.filter((t) => !this.done.has(t.taskArn));
      if (status !== 'RUNNING' && pending.length === 0) {
        writer.note(`execution ${execution} is ${status ?? 'gone'}`);
        return;
      }
      if (pending.length === 0) writer.progress?.(`waiting for the next runner task of ${execution} (it may be waiting for an approval)`);
      await this.sleep(this.pollMs);
    }
  }

  private async taskStopped(task: RunnerTask): Promise<boolean> {
    try {
      const out = await this.deps.ecsFor(task).send(new DescribeTasksCommand({ cluster: task.clusterArn ?? names.cluster(this.deps.config.central.region), tasks: [task.taskArn] }));
      const t = out.tasks?.[0];
      // A task ECS no longer knows has been stopped for a while.
      return !t || t.lastStatus === 'STOPPED';
    } catch (err) {
      if (isCredentialsError(err) || isAccessDenied(err)) {
        throw new OperatorError(`cannot see task ${task.taskId} in account ${task.account} (${task.accountId}): ${(err as Error).message}; ${this.deps.credentialsHint(task)}`, { cause: err });
      }
      throw err;
    }
  }

  private async fromArtifacts(execution: string, task: RunnerTask, sink: (line: string) => void): Promise<boolean> {
    const bucket = names.artifactsBucket(this.deps.config.central.account, this.deps.config.central.region);
    try {
      const out = await this.deps.s3.send(new GetObjectCommand({ Bucket: bucket, Key: artifactKeys.log(task.execution ?? execution, task.account, task.phase) }));
      const text = (await out.Body?.transformToString('utf8')) ?? '';
      for (const line of text.replace(/\n$/, '').split('\n')) if (text !== '') sink(line);
      return true;
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (name === 'NoSuchKey' || name === 'NotFound' || isAccessDenied(err)) return false;
      throw explainAwsError(err, 's3:GetObject');
    }
  }

  /** Reads the task's stream from where the last read stopped until it is dry. */
  private async fromCloudWatch(task: RunnerTask, sink: (line: string) => void, writer: LogWriter): Promise<void> {
    const logGroupName = names.runnerLogGroup(this.deps.config.central.region);
    const logStreamName = `${names.runnerLogStreamPrefix()}/${names.runnerContainer()}/${task.taskId}`;
    let token = this.tokens.get(task.taskArn);
    for (let page = 0; page < 1000; page++) {
      let out;
      try {
        out = await this.deps.logsFor(task).send(new GetLogEventsCommand({ logGroupName, logStreamName, startFromHead: true, nextToken: token }));
      } catch (err) {
        const name = (err as { name?: string }).name;
        // The stream appears when the container starts writing.
        if (name === 'ResourceNotFoundException') return;
        if (isCredentialsError(err) || isAccessDenied(err)) {
          writer.note(`cannot read ${logGroupName}:${logStreamName} in account ${task.account} (${task.accountId}); ${this.deps.credentialsHint(task)}`);
          this.done.add(task.taskArn);
          return;
        }
        throw err;
      }
      for (const e of out.events ?? []) sink((e.message ?? '').replace(/\n$/, ''));
      const next = out.nextForwardToken;
      if (!next || next === token) break;
      token = next;
      this.tokens.set(task.taskArn, token);
    }
  }
}

/** What the local log reader needs. */
export interface LocalLogsDeps {
  readonly stateDir: string;
  readonly records: RunRecords;
  readonly config?: Config;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly pollMs?: number;
}

const PHASE_ORDER = ['plan', 'plan-and-apply', 'apply'];
const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'REJECTED', 'EXPIRED', 'SUPERSEDED', 'DUPLICATE', 'ABORTED', 'TIMED_OUT']);

/** Reads and follows the runner's log files of the local mode. */
export class LocalLogReader implements LogReader {
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly pollMs: number;

  constructor(private readonly deps: LocalLogsDeps) {
    this.sleep = deps.sleep ?? defaultSleep;
    this.pollMs = deps.pollMs ?? 500;
  }

  /** `<state dir>/logs/<execution>/<account>/<phase>.log` of the selected accounts, in stage order. */
  logFiles(req: LogsRequest): { account: string; phase: string; file: string }[] {
    const dir = join(this.deps.stateDir, 'logs', req.execution);
    if (!existsSync(dir)) return [];
    const stageRank = (account: string): number => {
      const stage = this.deps.config?.accounts.find((a) => a.name === account)?.stage;
      const i = stage ? (this.deps.config?.stageOrder.indexOf(stage) ?? -1) : -1;
      return i === -1 ? 1000 : i;
    };
    const files: { account: string; phase: string; file: string }[] = [];
    for (const account of readdirSync(dir).sort((a, b) => stageRank(a) - stageRank(b) || a.localeCompare(b))) {
      if (req.account && req.account !== account) continue;
      const phases = readdirSync(join(dir, account))
        .filter((f) => f.endsWith('.log'))
        .map((f) => f.slice(0, -'.log'.length))
        .sort((a, b) => PHASE_ORDER.indexOf(a) - PHASE_ORDER.indexOf(b));
      for (const phase of phases) files.push({ account, phase, file: join(dir, account, `${phase}.log`) });
    }
    return files;
  }

  async run(request: LogsRequest, writer: LogWriter): Promise<void> {
    const req = { ...request, execution: executionNameOf(request.execution) };
    const run = await this.deps.records.getRun(req.execution);
    if (!run) throw new ExecutionNotFoundError(req.execution, `the local state directory ${this.deps.stateDir}`);
    const modules = [...new Set(run.modules.map((m) => m.module))];
    const offsets = new Map<string, number>();
    const partial = new Map<string, string>();
    const sinks = new Map<string, (line: string) => void>();
    for (;;) {
      const latest = req.follow ? await this.deps.records.getRun(req.execution) : run;
      const finished = !!latest?.finishedAt || TERMINAL.has((latest?.status ?? '').toUpperCase());
      for (const { account, phase, file } of this.logFiles(req)) {
        if (!sinks.has(file)) {
          writer.header(`${account} ${phase}`);
          sinks.set(file, lineSink(writer, req, modules));
        }
        const sink = sinks.get(file)!;
        const from = offsets.get(file) ?? 0;
        const handle = await open(file, 'r');
        try {
          const { size } = await handle.stat();
          if (size > from) {
            const buf = Buffer.alloc(size - from);
            await handle.read(buf, 0, buf.length, from);
            offsets.set(file, size);
            const text = (partial.get(file) ?? '') + buf.toString('utf8');
            const lines = text.split('\n');
            // Keep an unfinished last line until its newline arrives (or the run ends).
            partial.set(file, lines.pop() ?? '');
            for (const line of lines) sink(line);
          }
        } finally {
          await handle.close();
        }
        if (finished || !req.follow) {
          const rest = partial.get(file);
          if (rest) sink(rest);
          partial.set(file, '');
        }
      }
      if (!req.follow || finished) {
        if (sinks.size === 0) writer.note(`no runner logs for ${req.execution}${req.account ? ` in account ${req.account}` : ''} yet`);
        return;
      }
      if (sinks.size === 0) writer.progress?.(`waiting for the first runner log of ${req.execution}`);
      await this.sleep(this.pollMs);
    }
  }
}
