/**
 * The pipeline's records in the run table (layout in ./keys.ts). Every write that decides
 * something (joining, locking, moving a target forward, claiming a commit) is a conditional
 * write, so concurrent executions and retried Lambda invocations cannot both win.
 */
import { ConditionalCheckFailedException, CreateTableCommand, DynamoDBClient, ResourceInUseException, UpdateTimeToLiveCommand, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, ScanCommand, UpdateCommand, type NativeAttributeValue } from '@aws-sdk/lib-dynamodb';
import type { AccountOutcome } from '../statemachine/contracts';
import type { PlanSummary } from '../domain/runner-contract';
import {
  commitKey,
  lockKey,
  moduleKey,
  outcomeKey,
  outcomePrefix,
  queueEntryKey,
  queuePk,
  RUN_TABLE_KEYS,
  RUN_TTL_DAYS,
  runKey,
  targetIndexKey,
  targetKeyOf,
} from './keys';

export { RUN_TABLE_KEYS } from './keys';

/** A run's status in the table: the execution's life, beyond Step Functions' own. */
export type RunRecordStatus = 'WAITING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'REJECTED' | 'EXPIRED' | 'SUPERSEDED' | 'ABORTED' | 'TIMED_OUT';

/** The accounts and modules a run planned for one stage. */
export interface PlannedStageRecord {
  readonly name: string;
  readonly accounts: readonly { readonly name: string; readonly modules: readonly string[] }[];
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
  readonly stages?: readonly PlannedStageRecord[];
  /** Modules applied once but gone at this commit: reported, never destroyed. */
  readonly removed?: readonly { account: string; module: string; lastAppliedCommit: string }[];
  /**
   * Latest outcome per account (`<account>` -> outcome of its last phase). Kept in items of their
   * own (one per account, so a run of any size stays under DynamoDB's 400 KB item limit) and
   * gathered by {@link RunStore.getRunRecord} and {@link RunStore.getRun}; empty in {@link RunStore.listRuns}.
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
  readonly error?: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly recordedAt: string;
}

/** A target's last apply (`TARGET#...` / `APPLIED`). */
export interface AppliedRecord {
  readonly repository: string;
  readonly account: string;
  readonly module: string;
  readonly commit: string;
  readonly sequence: string;
  /** The admission generation of the run that applied it (see {@link RunRecord.generation}); absent on records written before generations. */
  readonly generation?: number;
  readonly execution: string;
  readonly appliedAt: string;
}

/** A push in its branch queue. */
export interface QueueEntry {
  readonly repository: string;
  readonly branch: string;
  readonly sequence: string;
  readonly execution: string;
  readonly executionId: string;
  readonly commit: string;
  /** The branch's commit before this push (the push's `before`): orders pushes without asking git. */
  readonly before?: string;
  readonly joinedAt: string;
  /**
   * The task token of the run's WaitForTurn state while it waits for a callback; whoever
   * releases the branch takes it ({@link RunStore.takeQueueToken}) and sends it.
   */
  readonly token?: string;
}

/** A push that was admitted on a branch: what later pushes are ordered against. */
export interface AdmittedPush {
  readonly execution: string;
  readonly commit: string;
  readonly before?: string;
  readonly sequence: string;
}

/** The branch lock and what the branch has seen. */
export interface BranchLock {
  /** The execution holding the branch, if any. */
  readonly holder?: string;
  readonly holderId?: string;
  readonly holderSequence?: string;
  readonly since?: string;
  /** The newest push sequence ever admitted on the branch. */
  readonly admittedHighWater?: string;
  /** The newest push sequence ever queued on the branch. */
  readonly joinedHighWater?: string;
  /** The lease's generation: raised each time a new holder takes the branch (the fencing token). */
  readonly generation?: number;
  /** The last pushes admitted on the branch, newest first (at most {@link ADMITTED_KEPT}). */
  readonly admitted?: readonly AdmittedPush[];
}

/** How many admitted pushes the lock item remembers for ordering later ones (the item stays small). */
export const ADMITTED_KEPT = 10;

/** Which execution carries a push (`COMMIT#<repo>#<branch>#<sha>`). */
export interface CommitRecord {
  readonly execution: string;
  readonly executionId: string;
  readonly sequence: string;
  readonly at: string;
}

/** Filters of {@link RunStore.listRuns}. */
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

/** Options of {@link RunStore}. */
export interface RunStoreOptions {
  /** @default () => new Date() */
  readonly clock?: () => Date;
}

function isConditionFailure(err: unknown): boolean {
  return err instanceof ConditionalCheckFailedException || (err as { name?: string }).name === 'ConditionalCheckFailedException';
}

type Item = Record<string, NativeAttributeValue>;

function strip<T>(item: Item | undefined): T | undefined {
  if (!item) return undefined;
  const { pk: _pk, sk: _sk, type: _type, expiresAt: _exp, ...rest } = item;
  return rest as T;
}

/** A run record with the outcomes of its `OUTCOME#` items. */
function withOutcomes(run: Omit<RunRecord, 'accounts'>, outcomeItems: readonly Item[]): RunRecord {
  const accounts: Record<string, AccountOutcome> = {};
  for (const item of outcomeItems) {
    const outcome = item.outcome as AccountOutcome;
    accounts[outcome.account] = outcome;
  }
  return { ...run, accounts };
}

/**
 * Creates the run table (on-demand, keys {@link RUN_TABLE_KEYS}) and waits until it is active.
 * Used by the local mode against dynalite and by tests; CDK creates the real one. An existing
 * table is left as it is. The TTL setting is best effort: dynalite does not implement it.
 */
export async function createRunTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        AttributeDefinitions: [
          { AttributeName: RUN_TABLE_KEYS.partitionKey, AttributeType: 'S' },
          { AttributeName: RUN_TABLE_KEYS.sortKey, AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: RUN_TABLE_KEYS.partitionKey, KeyType: 'HASH' },
          { AttributeName: RUN_TABLE_KEYS.sortKey, KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  } catch (err) {
    if (!(err instanceof ResourceInUseException || (err as { name?: string }).name === 'ResourceInUseException')) throw err;
  }
  await waitUntilTableExists({ client, maxWaitTime: 60, minDelay: 1 }, { TableName: tableName });
  try {
    await client.send(new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { AttributeName: RUN_TABLE_KEYS.timeToLiveAttribute, Enabled: true } }));
  } catch {
    // dynalite has no UpdateTimeToLive; records then simply never expire locally.
  }
}

/**
 * The pipeline's view of the run table. Construct it with a document client and the table name:
 * `new RunStore(DynamoDBDocumentClient.from(client), 'tfstep-runs')`, or {@link RunStore.fromClient}.
 */
export class RunStore {
  private readonly clock: () => Date;

  constructor(
    readonly doc: DynamoDBDocumentClient,
    readonly tableName: string,
    options: RunStoreOptions = {},
  ) {
    this.clock = options.clock ?? (() => new Date());
  }

  /** Wraps a plain DynamoDB client (undefined attributes are dropped on write). */
  static fromClient(client: DynamoDBClient, tableName: string, options: RunStoreOptions = {}): RunStore {
    return new RunStore(DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } }), tableName, options);
  }

  private now(): string {
    return this.clock().toISOString();
  }

  private expiresAt(): number {
    return Math.floor(this.clock().getTime() / 1000) + RUN_TTL_DAYS * 24 * 3600;
  }

  private async get(key: { pk: string; sk: string }): Promise<Item | undefined> {
    const res = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }));
    return res.Item;
  }

  private async queryAll(pk: string, skPrefix?: string): Promise<Item[]> {
    const items: Item[] = [];
    let start: Record<string, NativeAttributeValue> | undefined;
    do {
      const res = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: skPrefix ? 'pk = :pk AND begins_with(sk, :prefix)' : 'pk = :pk',
          ExpressionAttributeValues: skPrefix ? { ':pk': pk, ':prefix': skPrefix } : { ':pk': pk },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(res.Items ?? []));
      start = res.LastEvaluatedKey;
    } while (start);
    return items;
  }

  // ---- runs -----------------------------------------------------------------------------------

  /** Creates the run record unless it exists; returns the stored record either way. */
  async createRun(run: Omit<RunRecord, 'polls' | 'accounts'>): Promise<RunRecord> {
    const item = { ...runKey(run.execution), type: 'run', ...run, polls: 0, expiresAt: this.expiresAt() };
    try {
      await this.doc.send(new PutCommand({ TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }));
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
    return withOutcomes(run, await this.queryAll(runKey(execution).pk, 'OUTCOME#'));
  }

  /** The run's own item, without its accounts' outcomes (one read): status, push, input, planned stages. */
  async getRunItem(execution: string): Promise<Omit<RunRecord, 'accounts'> | undefined> {
    return strip<Omit<RunRecord, 'accounts'>>(await this.get(runKey(execution)));
  }

  /**
   * The identity of a run, without its per-account outcomes: what a step needs on the hot path
   * (each account's record step), where reading the whole record would grow with the stage.
   */
  async getRunIdentity(execution: string): Promise<Pick<RunRecord, 'execution' | 'executionId' | 'repository' | 'branch' | 'commit' | 'sequence' | 'status' | 'generation'> | undefined> {
    const res = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
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
    await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
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
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: runKey(execution),
          UpdateExpression: 'SET #s = :s, finishedAt = :f, reason = :r' + (fields.carriedBy ? ', carriedBy = :c' : ''),
          ConditionExpression: 'attribute_exists(pk) AND (#s = :waiting OR #s = :running)',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: {
            ':s': status,
            ':f': fields.finishedAt ?? this.now(),
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
    const res = await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: runKey(execution),
        UpdateExpression: 'ADD polls :one',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':one': 1 },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return Number(res.Attributes?.polls ?? 0);
  }

  /** Stores an account's latest outcome in a run (replacing that of an earlier phase or attempt). */
  async setAccountOutcome(execution: string, stage: string, outcome: AccountOutcome): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...outcomeKey(execution, stage, outcome.account), type: 'outcome', stage, outcome, expiresAt: this.expiresAt() },
      }),
    );
  }

  /** The latest outcome of each account of a stage that has one: what a stage gate reads. */
  async listAccountOutcomes(execution: string, stage: string): Promise<AccountOutcome[]> {
    const items = await this.queryAll(runKey(execution).pk, outcomePrefix(stage));
    return items.map((i) => i.outcome as AccountOutcome);
  }

  /**
   * Runs, newest first. Scans the table (runs are kept {@link RUN_TTL_DAYS} days), which suits an
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
      const res = await this.doc.send(
        new ScanCommand({
          TableName: this.tableName,
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
    const items = await this.queryAll(runKey(execution).pk);
    const runItem = items.find((i) => i.sk === 'RUN');
    if (!runItem) return undefined;
    const modules = items
      .filter((i) => typeof i.sk === 'string' && i.sk.startsWith('MODULE#'))
      .map((i) => strip<ModuleRecord>(i)!)
      .sort((a, b) => `${a.account}#${a.module}#${a.phase}`.localeCompare(`${b.account}#${b.module}#${b.phase}`));
    const run = withOutcomes(strip<Omit<RunRecord, 'accounts'>>(runItem)!, items.filter((i) => typeof i.sk === 'string' && i.sk.startsWith('OUTCOME#')));
    return { run, modules };
  }

  // ---- module results -------------------------------------------------------------------------

  /** Writes (or overwrites, on a retried attempt) a module's result in a run. */
  async putModuleResult(record: Omit<ModuleRecord, 'recordedAt'>): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...moduleKey(record.execution, record.account, record.module, record.phase), type: 'module', ...record, recordedAt: this.now(), expiresAt: this.expiresAt() },
      }),
    );
  }

  // ---- targets --------------------------------------------------------------------------------

  /** A target's last apply, or undefined. */
  async getApplied(repository: string, account: string, module: string): Promise<AppliedRecord | undefined> {
    return strip<AppliedRecord>(await this.get(targetKeyOf(repository, account, module)));
  }

  /** Every target's last apply in a repository. */
  async listApplied(repository: string): Promise<AppliedRecord[]> {
    return (await this.queryAll(`TARGETS#${repository}`)).map((i) => strip<AppliedRecord>(i)!);
  }

  /**
   * Records that a target was applied at a commit, only if that push is newer than the one
   * recorded: a target never moves backwards. Returns whether the record moved.
   */
  async recordApplied(record: Omit<AppliedRecord, 'appliedAt'> & { appliedAt?: string }): Promise<boolean> {
    const item = { type: 'target', ...record, appliedAt: record.appliedAt ?? this.now() };
    // Runs apply in admission order (the lease generation), which follows git ancestry; the push
    // sequence (arrival) orders only records written without a generation.
    const condition =
      record.generation === undefined
        ? { ConditionExpression: 'attribute_not_exists(pk) OR (attribute_not_exists(#gen) AND #seq < :seq)', ExpressionAttributeNames: { '#seq': 'sequence', '#gen': 'generation' }, ExpressionAttributeValues: { ':seq': record.sequence } }
        : { ConditionExpression: 'attribute_not_exists(pk) OR #gen < :gen OR (attribute_not_exists(#gen) AND #seq < :seq)', ExpressionAttributeNames: { '#seq': 'sequence', '#gen': 'generation' }, ExpressionAttributeValues: { ':seq': record.sequence, ':gen': record.generation } };
    let moved = false;
    for (const key of [targetKeyOf(record.repository, record.account, record.module), targetIndexKey(record.repository, record.account, record.module)]) {
      try {
        await this.doc.send(new PutCommand({ TableName: this.tableName, Item: { ...key, ...item }, ...condition }));
        moved = true;
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
      }
    }
    return moved;
  }

  // ---- commit admission -----------------------------------------------------------------------

  /** Which execution carries a push of this commit to this branch, if any. */
  async getCommit(repository: string, branch: string, sha: string): Promise<CommitRecord | undefined> {
    return strip<CommitRecord>(await this.get(commitKey(repository, branch, sha)));
  }

  /**
   * Claims the push for an execution. `expected` is the record read before (undefined when
   * there was none): the claim fails (returns false) if someone else changed it meanwhile.
   */
  async claimCommit(repository: string, branch: string, sha: string, claim: Omit<CommitRecord, 'at'>, expected: CommitRecord | undefined): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...commitKey(repository, branch, sha), type: 'commit', ...claim, at: this.now(), expiresAt: this.expiresAt() },
          ConditionExpression: expected ? '#e = :e AND #seq = :seq' : 'attribute_not_exists(pk)',
          ExpressionAttributeNames: expected ? { '#e': 'execution', '#seq': 'sequence' } : undefined,
          ExpressionAttributeValues: expected ? { ':e': expected.execution, ':seq': expected.sequence } : undefined,
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  // ---- branch queue and lock ------------------------------------------------------------------

  /** Adds a push to its branch queue (idempotent) and raises the branch's joined high water. */
  async joinQueue(entry: Omit<QueueEntry, 'joinedAt'>): Promise<void> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...queueEntryKey(entry.repository, entry.branch, entry.sequence, entry.execution), type: 'queue', ...entry, joinedAt: this.now() },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
    await this.raiseHighWater(entry.repository, entry.branch, 'joinedHighWater', entry.sequence);
  }

  /** The branch queue in push order. */
  async listQueue(repository: string, branch: string): Promise<QueueEntry[]> {
    return (await this.queryAll(queuePk(repository, branch), 'ENTRY#')).map((i) => strip<QueueEntry>(i)!);
  }

  /** Removes a push from its branch queue (no-op if gone). */
  async leaveQueue(repository: string, branch: string, sequence: string, execution: string): Promise<void> {
    await this.doc.send(new DeleteCommand({ TableName: this.tableName, Key: queueEntryKey(repository, branch, sequence, execution) }));
  }

  /**
   * Stores the task token a queued run waits on with its queue entry; false when the entry is
   * gone (the run was removed from the queue meanwhile).
   */
  async setQueueToken(repository: string, branch: string, sequence: string, execution: string, token: string): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: queueEntryKey(repository, branch, sequence, execution),
          UpdateExpression: 'SET #t = :t, tokenAt = :now',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#t': 'token' },
          ExpressionAttributeValues: { ':t': token, ':now': this.now() },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  /**
   * Takes a queued run's task token off its entry, only if it is still that token: of two
   * wakers (finish and the status change rule, or a retried call) exactly one sends it.
   */
  async takeQueueToken(entry: Pick<QueueEntry, 'repository' | 'branch' | 'sequence' | 'execution'>, token: string): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: queueEntryKey(entry.repository, entry.branch, entry.sequence, entry.execution),
          UpdateExpression: 'REMOVE #t, tokenAt',
          ConditionExpression: '#t = :t',
          ExpressionAttributeNames: { '#t': 'token' },
          ExpressionAttributeValues: { ':t': token },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  /** The branch lock item (an empty object when the branch never had one). */
  async getLock(repository: string, branch: string): Promise<BranchLock> {
    return strip<BranchLock>(await this.get(lockKey(repository, branch))) ?? {};
  }

  /**
   * Takes the branch for an execution when nobody holds it, raising the lease's generation and
   * remembering the push among the branch's admitted ones. Answers the generation the holder
   * got (the one it already has, when it already holds the branch), or undefined when another
   * execution holds it.
   */
  async acquireLock(repository: string, branch: string, holder: { execution: string; executionId: string; sequence: string; commit: string; before?: string }): Promise<number | undefined> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const lock = await this.getLock(repository, branch);
      if (lock.holder === holder.execution) return lock.generation ?? 0;
      if (lock.holder) return undefined;
      const generation = (lock.generation ?? 0) + 1;
      const pushed: AdmittedPush = { execution: holder.execution, commit: holder.commit, sequence: holder.sequence, ...(holder.before ? { before: holder.before } : {}) };
      const admitted = [pushed, ...(lock.admitted ?? []).filter((a) => a.execution !== holder.execution)].slice(0, ADMITTED_KEPT);
      try {
        await this.doc.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: lockKey(repository, branch),
            UpdateExpression: 'SET holder = :h, holderId = :hid, holderSequence = :seq, since = :now, generation = :gen, admitted = :adm',
            // The generation read above must still be the item's: two admits never get the same one.
            ConditionExpression: 'attribute_not_exists(holder) AND (attribute_not_exists(generation) OR generation = :prev)',
            ExpressionAttributeValues: {
              ':h': holder.execution,
              ':hid': holder.executionId,
              ':seq': holder.sequence,
              ':now': this.now(),
              ':gen': generation,
              ':prev': lock.generation ?? 0,
              ':adm': admitted,
            },
          }),
        );
      } catch (err) {
        if (isConditionFailure(err)) continue;
        throw err;
      }
      await this.raiseHighWater(repository, branch, 'admittedHighWater', holder.sequence);
      return generation;
    }
    return undefined;
  }

  /** Releases the branch if `execution` holds it; returns whether it did. */
  async releaseLock(repository: string, branch: string, execution: string): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: lockKey(repository, branch),
          UpdateExpression: 'REMOVE holder, holderId, holderSequence, since',
          ConditionExpression: 'holder = :h',
          ExpressionAttributeValues: { ':h': execution },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  private async raiseHighWater(repository: string, branch: string, attribute: 'joinedHighWater' | 'admittedHighWater', sequence: string): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: lockKey(repository, branch),
          UpdateExpression: 'SET #hw = :seq',
          ConditionExpression: 'attribute_not_exists(#hw) OR #hw < :seq',
          ExpressionAttributeNames: { '#hw': attribute },
          ExpressionAttributeValues: { ':seq': sequence },
        }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }
}
