/**
 * The data behind `tfstep runs` and `tfstep show`: Step Functions executions joined with the
 * run table in AWS, the run table alone in the local mode.
 */
import {
  DescribeExecutionCommand,
  ListExecutionsCommand,
  type ExecutionListItem,
  type ExecutionStatus,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import type { Config } from '../config/schema';
import { executionArnOf, executionConsoleUrl, executionNameOf } from '../notify/links';
import { mapLimit } from '../domain/concurrency';
import { BadOptionError, ExecutionNotFoundError, explainAwsError } from './errors';
import { buildStages, type RunRecords, type StoredRun } from './run-records';
import { secondsBetween, type RunDetail, type RunSummary } from './views';

/** Execution statuses Step Functions filters on itself. */
const SFN_STATUSES = ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE'] as const;
/** Run statuses only the run table knows (a rejected run is a FAILED execution). */
const RUN_STATUSES = ['REJECTED', 'EXPIRED', 'SUPERSEDED', 'DUPLICATE'] as const;
/** Every value `--status` accepts. */
export const STATUS_FILTERS: readonly string[] = [...SFN_STATUSES, ...RUN_STATUSES];

/** Filters of `tfstep runs`. */
export interface RunsFilter {
  /** `owner/name` as in the config. */
  readonly repository?: string;
  readonly status?: string;
  readonly limit: number;
}

/** Reads runs and their details; one implementation per backend. */
export interface RunsSource {
  listRuns(filter: RunsFilter): Promise<RunSummary[]>;
  showRun(execution: string): Promise<RunDetail>;
}

/** Checks `--status` and returns it upper-cased. */
export function parseStatusFilter(status: string | undefined): string | undefined {
  if (status === undefined) return undefined;
  const upper = status.toUpperCase();
  if (!STATUS_FILTERS.includes(upper)) throw new BadOptionError('--status', status, `one of ${STATUS_FILTERS.join(', ')}`);
  return upper;
}

function summaryOf(run: StoredRun, base: Partial<RunSummary>, now: Date): RunSummary {
  const startedAt = base.startedAt ?? run.startedAt ?? null;
  const stoppedAt = base.stoppedAt ?? run.finishedAt ?? null;
  return {
    execution: run.execution,
    executionArn: base.executionArn ?? run.executionArn ?? null,
    repository: run.repository ?? base.repository ?? null,
    branch: run.branch ?? base.branch ?? null,
    commit: run.commit ?? base.commit ?? null,
    ...((run.pusher ?? base.pusher) ? { pusher: run.pusher ?? base.pusher } : {}),
    status: statusOf(base.status, run.status),
    stage: run.stage ?? null,
    startedAt,
    stoppedAt,
    durationSeconds: secondsBetween(startedAt, stoppedAt, stoppedAt ? undefined : now),
  };
}

/** The execution status, refined by the run table's (a FAILED execution may be REJECTED). */
function statusOf(execution: string | undefined, run: string | undefined): string {
  const stored = run?.toUpperCase();
  if (execution === undefined) return stored ?? 'UNKNOWN';
  if (execution === 'FAILED' && stored && (RUN_STATUSES as readonly string[]).includes(stored)) return stored;
  if (execution === 'SUCCEEDED' && (stored === 'SUPERSEDED' || stored === 'DUPLICATE')) return stored;
  return execution;
}

function emptyRun(execution: string): StoredRun {
  return { execution, modules: [], approvals: [] };
}

/** Statuses after which the push is not deployed: a replay goes on. */
const REPLAYABLE = new Set(['FAILED', 'TIMED_OUT', 'ABORTED', 'REJECTED', 'EXPIRED']);

/**
 * The commands that go on from a run. `options` are the options the user gave (`--state-dir`,
 * `--config`, ...), repeated so that each hint runs as printed.
 */
function hintsFor(detail: Pick<RunDetail, 'status' | 'execution' | 'stages'>, local: boolean, options = ''): string[] {
  const e = detail.execution;
  const flag = `${local ? ' --local' : ''}${options}`;
  if (REPLAYABLE.has(detail.status)) {
    return [local ? `tfstep local replay ${e}${options}` : `tfstep replay ${e}${options}`, `tfstep logs ${e}${flag}`];
  }
  if (detail.status === 'RUNNING') {
    const waiting = detail.stages.some((s) => s.status === 'AWAITING_APPROVAL');
    const as = local ? ' --as EMAIL' : '';
    return waiting
      ? [`tfstep approve ${e}${flag}${as} --comment "..."`, `tfstep reject ${e}${flag}${as} --comment "..."`]
      : [`tfstep logs ${e}${flag} --follow`];
  }
  return [];
}

function stageOfAccountIn(config: Config): (account: string) => string | undefined {
  return (account) => config.accounts.find((a) => a.name === account)?.stage;
}

function matches(summary: RunSummary, filter: RunsFilter, status: string | undefined): boolean {
  if (filter.repository && summary.repository?.toLowerCase() !== filter.repository.toLowerCase()) return false;
  if (status && summary.status !== status) return false;
  return true;
}

/** What the AWS source needs. */
export interface AwsRunsDeps {
  readonly sfn: SFNClient;
  readonly records: RunRecords;
  readonly config: Config;
  readonly stateMachineArn: string;
  readonly now?: () => Date;
  /** The options to repeat in hints, such as ` --config tfstep.yaml --profile ops`. */
  readonly hintOptions?: string;
}

/** Push facts from an execution input (the EventBridge event), whatever else it holds. */
function pushOf(input: string | undefined): Partial<RunSummary> {
  if (!input) return {};
  try {
    const detail = (JSON.parse(input) as { detail?: { repository?: { fullName?: unknown }; branch?: unknown; after?: unknown; pusher?: unknown } }).detail;
    return {
      ...(typeof detail?.pusher === 'string' ? { pusher: detail.pusher } : {}),
      repository: typeof detail?.repository?.fullName === 'string' ? detail.repository.fullName : null,
      branch: typeof detail?.branch === 'string' ? detail.branch : null,
      commit: typeof detail?.after === 'string' ? detail.after : null,
    };
  } catch {
    return {};
  }
}

/** Executions of the pipeline state machine, joined with the run table. */
export class AwsRunsSource implements RunsSource {
  private readonly now: () => Date;
  constructor(private readonly deps: AwsRunsDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  private async record(execution: string): Promise<StoredRun> {
    try {
      return (await this.deps.records.getRun(execution)) ?? emptyRun(execution);
    } catch (err) {
      throw explainAwsError(err, 'dynamodb:Query on the run table');
    }
  }

  async listRuns(filter: RunsFilter): Promise<RunSummary[]> {
    const status = parseStatusFilter(filter.status);
    const sfnStatus = (SFN_STATUSES as readonly string[]).includes(status ?? '') ? (status as ExecutionStatus) : undefined;
    const found: RunSummary[] = [];
    let nextToken: string | undefined;
    // Repository and run-table statuses are filtered here, so more pages may be needed; a bound
    // keeps a rare filter from reading the whole history.
    for (let page = 0; page < 10 && found.length < filter.limit; page++) {
      let items: ExecutionListItem[];
      try {
        const out = await this.deps.sfn.send(
          new ListExecutionsCommand({ stateMachineArn: this.deps.stateMachineArn, statusFilter: sfnStatus, maxResults: Math.min(100, Math.max(filter.limit, 20)), nextToken }),
        );
        items = out.executions ?? [];
        nextToken = out.nextToken;
      } catch (err) {
        throw explainAwsError(err, 'states:ListExecutions');
      }
      const joined = await mapLimit(items, 8, async (item) => {
        const run = await this.record(item.name ?? '');
        return summaryOf(
          run,
          {
            executionArn: item.executionArn ?? null,
            status: item.status,
            startedAt: item.startDate?.toISOString() ?? null,
            stoppedAt: item.stopDate?.toISOString() ?? null,
          },
          this.now(),
        );
      });
      found.push(...joined.filter((s) => matches(s, filter, status)));
      if (!nextToken) break;
    }
    return found.slice(0, filter.limit);
  }

  async showRun(execution: string): Promise<RunDetail> {
    const executionArn = execution.startsWith('arn:') ? execution : executionArnOf(this.deps.stateMachineArn, execution);
    const name = executionArn.split(':').pop() ?? execution;
    let described;
    try {
      described = await this.deps.sfn.send(new DescribeExecutionCommand({ executionArn }));
    } catch (err) {
      if ((err as { name?: string }).name === 'ExecutionDoesNotExist') throw new ExecutionNotFoundError(name, this.deps.stateMachineArn, { cause: err });
      throw explainAwsError(err, 'states:DescribeExecution');
    }
    const run = await this.record(name);
    const summary = summaryOf(
      run,
      {
        ...pushOf(described.input),
        executionArn,
        status: described.status,
        startedAt: described.startDate?.toISOString() ?? null,
        stoppedAt: described.stopDate?.toISOString() ?? null,
      },
      this.now(),
    );
    const sfnReason = described.error ? `${described.error}${described.cause ? `: ${described.cause}` : ''}` : undefined;
    const detail: RunDetail = {
      ...summary,
      reason: run.reason ?? sfnReason ?? null,
      stages: buildStages(run, this.deps.config.stageOrder, stageOfAccountIn(this.deps.config)),
      links: { console: executionConsoleUrl(executionArn) },
      hints: [],
    };
    return { ...detail, hints: hintsFor(detail, false, this.deps.hintOptions) };
  }
}

/** The run table of the local mode: no Step Functions to ask. */
export class LocalRunsSource implements RunsSource {
  private readonly now: () => Date;
  constructor(
    private readonly records: RunRecords,
    private readonly config: Config | undefined,
    now?: () => Date,
    /** The options to repeat in hints, such as ` --state-dir /srv/tfstep`. */
    private readonly hintOptions = '',
  ) {
    this.now = now ?? (() => new Date());
  }

  async listRuns(filter: RunsFilter): Promise<RunSummary[]> {
    const status = parseStatusFilter(filter.status);
    const runs = await this.records.listRuns({ limit: filter.repository || status ? Math.max(filter.limit * 10, 100) : filter.limit, repository: filter.repository });
    return runs
      .map((r) => summaryOf(r, {}, this.now()))
      .filter((s) => matches(s, filter, status))
      .slice(0, filter.limit);
  }

  async showRun(execution: string): Promise<RunDetail> {
    const run = await this.records.getRun(executionNameOf(execution));
    if (!run) throw new ExecutionNotFoundError(execution, 'the local state directory');
    const summary = summaryOf(run, {}, this.now());
    const detail: RunDetail = {
      ...summary,
      reason: run.reason ?? null,
      stages: buildStages(run, this.config?.stageOrder ?? [], this.config ? stageOfAccountIn(this.config) : () => undefined),
      links: { console: null },
      hints: [],
    };
    return { ...detail, hints: hintsFor(detail, true, this.hintOptions) };
  }
}
