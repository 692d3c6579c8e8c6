/**
 * Runs and their module results: `RUN#<execution>` / `RUN` and `MODULE#<account>#<module>#<phase>`
 * (layout in ./keys.ts). A run's per-account outcomes live in ./outcomes.ts; reading a whole run
 * gathers them.
 */
import { BatchWriteCommand, GetCommand, PutCommand, ScanCommand, UpdateCommand, type NativeAttributeValue } from '@aws-sdk/lib-dynamodb';
import type { PlanSummary, PolicyResult, Replan } from '../domain/runner-contract';
import type { AccountOutcome } from '../statemachine/contracts';
import { moduleKey, PLANNED_PREFIX, plannedKey, runKey } from './keys';
import { outcomesByAccount } from './outcomes';
import { isConditionFailure, strip, type Item, type RunTable } from './table';

/** A run's status in the table: the execution's life, beyond Step Functions' own. */
export type RunRecordStatus = 'WAITING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'REJECTED' | 'EXPIRED' | 'SUPERSEDED' | 'ABORTED' | 'TIMED_OUT';

/** The accounts and modules a run planned for one stage. */
export interface PlannedStageRecord {
  readonly name: string;
  readonly accounts: readonly { readonly name: string; readonly modules: readonly string[]; readonly wave?: number }[];
}

/** A run (`RUN#<execution>` / `RUN`). */
export interface RunRecord {
  readonly execution: string;
  readonly executionId: string;
  readonly repository: string;
  readonly branch: string;
  readonly commit: string;
  /** Push order of the run's push. */
  readonly sequence: string;
  readonly status: RunRecordStatus;
  readonly pusher?: string;
  readonly receivedAt?: string;
  /** When the execution started. */
  readonly startedAt: string;
  /** When the run got its branch (ADMITTED). */
  readonly admittedAt?: string;
  /**
   * The branch lease's generation this run was admitted with: its fencing token. Every task the
   * run starts checks that the lease still has this generation and holder; it also orders the
   * run's applies after every earlier admitted run's.
   */
  readonly generation?: number;
  readonly finishedAt?: string;
  readonly reason?: string;
  /** The execution input as JSON text, for replays. */
  readonly input: string;
  /** How many times admit answered WAIT (once per wake-up or wait timeout). */
  readonly polls: number;
  /** For SUPERSEDED: the run that carries this push. */
  readonly carriedBy?: string;
  /** For a replay started as a new execution: the execution it replays. */
  readonly replayOf?: string;
  /** The stage running or last run. */
  readonly currentStage?: string;
  /**
   * The accounts and modules planned per stage. Kept in items of their own (`PLANNED#`, one per
   * account: a run item that grew with the fleet passed DynamoDB's 400 KB at about 5,000
   * accounts) and gathered by {@link Runs.getRunRecord} and {@link Runs.getRun}; the run item
   * holds only the stage names and counts ({@link RunRecord.plannedStages}).
   */
  readonly stages?: readonly PlannedStageRecord[];
  /** The stages planned, in order, with how many accounts each: what the run item itself holds. */
  readonly plannedStages?: readonly { readonly name: string; readonly accounts: number }[];
  /** Modules applied once but gone at this commit: reported, never destroyed. */
  readonly removed?: readonly { account: string; module: string; lastAppliedCommit: string }[];
  /**
   * Latest outcome per account (`<account>` -> outcome of its last phase). Kept in items of their
   * own (one per account, so a run of any size stays under DynamoDB's 400 KB item limit) and
   * gathered by {@link Runs.getRunRecord} and {@link Runs.getRun}; empty in {@link Runs.listRuns}.
   */
  readonly accounts: Readonly<Record<string, AccountOutcome>>;
}

/** A module's result in a run (`RUN#<execution>` / `MODULE#<account>#<module>#<phase>`). */
export interface ModuleRecord {
  readonly execution: string;
  readonly account: string;
  readonly module: string;
  readonly phase: string;
  readonly status: string;
  readonly commit: string;
  readonly plan?: PlanSummary;
  readonly planSha256?: string;
  /** `skipped`: the upstream module of its task that failed (or was interrupted), so this one never ran. */
  readonly skippedBecause?: string;
  /** Plan phase: the upstreams whose changes may change this plan once they apply. */
  readonly mayChangeAfter?: readonly string[];
  /** `awaiting-approval`: the plan made after the upstreams applied, which differs from the approved one. */
  readonly replan?: Replan;
  /** The plan policies' verdict on the plan, made in the account. */
  readonly policy?: PolicyResult;
  readonly error?: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly recordedAt: string;
}

/** Filters of {@link Runs.listRuns}. */
export interface ListRunsOptions {
  /** @default 20 */
  readonly limit?: number;
  readonly repository?: string;
  /** A {@link RunRecordStatus}; any other value matches nothing. */
  readonly status?: string;
}

/** A run with its module results, for `tfstep show` and the local mode. */
export interface RunDetail {
  readonly run: RunRecord;
  readonly modules: readonly ModuleRecord[];
}

/** DynamoDB's BatchWriteItem takes at most 25 items. */
const BATCH_WRITE_MAX = 25;

/**
 * The run's planned stages gathered from its `PLANNED#` items, in the order the run item lists
 * them; a run item written before those items keeps its own `stages`.
 */
function withPlanned(run: Pick<RunRecord, 'stages' | 'plannedStages'>, planned: readonly Item[]): Pick<RunRecord, 'stages'> {
  if (!run.plannedStages) return run.stages ? { stages: run.stages } : {};
  const byStage = new Map<string, { name: string; modules: string[]; wave?: number }[]>();
  for (const item of planned) {
    const stage = String(item.stage);
    byStage.set(stage, [...(byStage.get(stage) ?? []), { name: String(item.account), modules: (item.modules as string[]) ?? [], ...(typeof item.wave === 'number' && item.wave > 0 ? { wave: item.wave } : {}) }]);
  }
  return { stages: run.plannedStages.map((s) => ({ name: s.name, accounts: byStage.get(s.name) ?? [] })) };
}

/** Run records and module results in the run table. */
export class Runs {
  constructor(private readonly table: RunTable) {}

  /** Creates the run record unless it exists; returns the stored record either way. */
  async createRun(run: Omit<RunRecord, 'polls' | 'accounts'>): Promise<RunRecord> {
    const item = { ...runKey(run.execution), type: 'run', ...run, polls: 0, expiresAt: this.table.expiresAt() };
    try {
      await this.table.doc.send(new PutCommand({ TableName: this.table.tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }));
      return { ...strip<Omit<RunRecord, 'accounts'>>(item)!, accounts: {} };
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      return (await this.getRunRecord(run.execution))!;
    }
  }

  /** The run record with its accounts' outcomes, or undefined. */
  async getRunRecord(execution: string): Promise<RunRecord | undefined> {
    const run = await this.getRunItem(execution);
    if (!run) return undefined;
    const [outcomes, planned] = await Promise.all([this.table.queryAll(runKey(execution).pk, 'OUTCOME#'), run.plannedStages ? this.table.queryAll(runKey(execution).pk, PLANNED_PREFIX) : Promise.resolve([])]);
    return { ...run, ...withPlanned(run, planned), accounts: outcomesByAccount(outcomes) };
  }

  /**
   * Records what a run plans: one item per account (its modules and wave) and, on the run item,
   * the stages' names and sizes. Written before any account of the run starts.
   */
  async putPlannedStages(execution: string, stages: readonly PlannedStageRecord[]): Promise<void> {
    const expiresAt = this.table.expiresAt();
    const items = stages.flatMap((s) =>
      s.accounts.map((a) => ({ ...plannedKey(execution, s.name, a.name), type: 'planned', stage: s.name, account: a.name, modules: [...a.modules], ...(a.wave ? { wave: a.wave } : {}), expiresAt })),
    );
    for (let i = 0; i < items.length; i += BATCH_WRITE_MAX) {
      let pending: Record<string, unknown>[] = items.slice(i, i + BATCH_WRITE_MAX).map((Item) => ({ PutRequest: { Item } }));
      // BatchWriteItem may leave items unprocessed under load: write them again, backing off.
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(1000, 25 * 2 ** attempt)));
        if (attempt > 8) throw new Error(`writing the planned accounts of run ${execution}: ${pending.length} item(s) still unprocessed after ${attempt} attempts`);
        const res = await this.table.doc.send(new BatchWriteCommand({ RequestItems: { [this.table.tableName]: pending } }));
        pending = (res.UnprocessedItems?.[this.table.tableName] ?? []);
      }
    }
    await this.updateRun(execution, { plannedStages: stages.map((s) => ({ name: s.name, accounts: s.accounts.length })) });
  }

  /** The run's own item, without its accounts' outcomes (one read): status, push, input, planned stages. */
  async getRunItem(execution: string): Promise<Omit<RunRecord, 'accounts'> | undefined> {
    return strip<Omit<RunRecord, 'accounts'>>(await this.table.get(runKey(execution)));
  }

  /**
   * The identity of a run, without its per-account outcomes: what a step needs on the hot path
   * (each account's record step), where reading the whole record would grow with the stage.
   */
  async getRunIdentity(execution: string): Promise<Pick<RunRecord, 'execution' | 'executionId' | 'repository' | 'branch' | 'commit' | 'sequence' | 'status' | 'generation'> | undefined> {
    const res = await this.table.doc.send(
      new GetCommand({
        TableName: this.table.tableName,
        Key: runKey(execution),
        ConsistentRead: true,
        ProjectionExpression: '#e, executionId, repository, branch, #c, #q, #s, #g',
        ExpressionAttributeNames: { '#e': 'execution', '#c': 'commit', '#q': 'sequence', '#s': 'status', '#g': 'generation' },
      }),
    );
    return strip(res.Item);
  }

  /** Sets fields of an existing run record (undefined values are left alone). */
  async updateRun(execution: string, fields: Partial<Omit<RunRecord, 'execution' | 'accounts' | 'polls'>>): Promise<void> {
    const entries = Object.entries(fields).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return;
    const names: Record<string, string> = {};
    const values: Record<string, NativeAttributeValue> = {};
    const sets = entries.map(([k, v], i) => {
      names[`#f${i}`] = k;
      values[`:v${i}`] = v as unknown;
      return `#f${i} = :v${i}`;
    });
    await this.table.doc.send(
      new UpdateCommand({
        TableName: this.table.tableName,
        Key: runKey(execution),
        UpdateExpression: `SET ${sets.join(', ')}`,
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
  }

  /** Moves a run to a final status only if it is not final yet; returns whether it moved. */
  async finishRun(execution: string, status: RunRecordStatus, fields: { reason?: string; finishedAt?: string; carriedBy?: string } = {}): Promise<boolean> {
    try {
      await this.table.doc.send(
        new UpdateCommand({
          TableName: this.table.tableName,
          Key: runKey(execution),
          UpdateExpression: 'SET #s = :s, finishedAt = :f, reason = :r' + (fields.carriedBy ? ', carriedBy = :c' : ''),
          ConditionExpression: 'attribute_exists(pk) AND (#s = :waiting OR #s = :running)',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: {
            ':s': status,
            ':f': fields.finishedAt ?? this.table.now(),
            ':r': fields.reason ?? '',
            ':waiting': 'WAITING',
            ':running': 'RUNNING',
            ...(fields.carriedBy ? { ':c': fields.carriedBy } : {}),
          },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  /** Adds one to the run's poll count and returns the new count. */
  async countPoll(execution: string): Promise<number> {
    const res = await this.table.doc.send(
      new UpdateCommand({
        TableName: this.table.tableName,
        Key: runKey(execution),
        UpdateExpression: 'ADD polls :one',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':one': 1 },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return Number(res.Attributes?.polls ?? 0);
  }

  /**
   * Runs, newest first. Scans the table (runs are kept `RUN_TTL_DAYS` days), which suits an
   * operator command; nothing on the deploy path lists runs.
   */
  async listRuns(options: ListRunsOptions = {}): Promise<RunRecord[]> {
    const limit = options.limit ?? 20;
    const filters = ['sk = :run'];
    const values: Record<string, NativeAttributeValue> = { ':run': 'RUN' };
    const names: Record<string, string> = {};
    if (options.repository) {
      filters.push('repository = :repo');
      values[':repo'] = options.repository;
    }
    if (options.status) {
      filters.push('#s = :status');
      names['#s'] = 'status';
      values[':status'] = options.status;
    }
    const runs: RunRecord[] = [];
    let start: Record<string, NativeAttributeValue> | undefined;
    do {
      const res = await this.table.doc.send(
        new ScanCommand({
          TableName: this.table.tableName,
          FilterExpression: filters.join(' AND '),
          ExpressionAttributeValues: values,
          ExpressionAttributeNames: Object.keys(names).length ? names : undefined,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of res.Items ?? []) runs.push({ ...strip<Omit<RunRecord, 'accounts'>>(item)!, accounts: {} });
      start = res.LastEvaluatedKey;
    } while (start);
    runs.sort((a, b) => (a.startedAt === b.startedAt ? b.execution.localeCompare(a.execution) : b.startedAt.localeCompare(a.startedAt)));
    return runs.slice(0, limit);
  }

  /** A run with its module results (sorted by account, module, phase), or undefined. */
  async getRun(execution: string): Promise<RunDetail | undefined> {
    const items = await this.table.queryAll(runKey(execution).pk);
    const runItem = items.find((i) => i.sk === 'RUN');
    if (!runItem) return undefined;
    const modules = items
      .filter((i) => typeof i.sk === 'string' && i.sk.startsWith('MODULE#'))
      .map((i) => strip<ModuleRecord>(i)!)
      .sort((a, b) => `${a.account}#${a.module}#${a.phase}`.localeCompare(`${b.account}#${b.module}#${b.phase}`));
    const stored = strip<Omit<RunRecord, 'accounts'>>(runItem)!;
    const planned = items.filter((i) => typeof i.sk === 'string' && i.sk.startsWith(PLANNED_PREFIX));
    const run: RunRecord = { ...stored, ...withPlanned(stored, planned), accounts: outcomesByAccount(items.filter((i) => typeof i.sk === 'string' && i.sk.startsWith('OUTCOME#'))) };
    return { run, modules };
  }

  /** Writes (or overwrites, on a retried attempt) a module's result in a run. */
  async putModuleResult(record: Omit<ModuleRecord, 'recordedAt'>): Promise<void> {
    await this.table.doc.send(
      new PutCommand({
        TableName: this.table.tableName,
        Item: { ...moduleKey(record.execution, record.account, record.module, record.phase), type: 'module', ...record, recordedAt: this.table.now(), expiresAt: this.table.expiresAt() },
      }),
    );
  }
}
