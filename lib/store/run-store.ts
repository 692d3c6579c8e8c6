/**
 * The pipeline's records in the run table (layout in ./keys.ts), one facade over three concerns:
 * runs and module results (./runs.ts), account outcomes and targets (./outcomes.ts), and the
 * branch queue with its lock and commit claims (./queue.ts). Every write that decides something
 * (joining, locking, moving a target forward, claiming a commit) is a conditional write, so
 * concurrent executions and retried Lambda invocations cannot both win.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Outcomes } from './outcomes';
import { BranchQueue } from './queue';
import { PullRequestRunStore } from './pull-requests';
import { PlanOnlyStore } from './plan-only';
import { FleetRegistry } from './fleet';
import { Runs } from './runs';
import { RunTable } from './table';

export { RUN_TABLE_KEYS } from './keys';
export { createRunTable } from './table';
export type { AppliedRecord } from './outcomes';
export { ADMITTED_KEPT, type AdmittedPush, type BranchLock, type CommitRecord, type QueueEntry } from './queue';
export type { ListRunsOptions, ModuleRecord, PlannedStageRecord, RunDetail, RunRecord, RunRecordStatus } from './runs';

/** Options of {@link RunStore}. */
export interface RunStoreOptions {
  /** @default () => new Date() */
  readonly clock?: () => Date;
}

/**
 * The pipeline's view of the run table. Construct it with a document client and the table name:
 * `new RunStore(DynamoDBDocumentClient.from(client), 'tfstep-runs')`, or {@link RunStore.fromClient}.
 * Each method is that of one concern's class; the facade only spares callers from knowing which.
 */
export class RunStore {
  /** Runs and module results. */
  readonly runs: Runs;
  /** Account outcomes and target records. */
  readonly outcomes: Outcomes;
  /** Commit claims, the branch queue and its lock. */
  readonly queue: BranchQueue;
  /** The fleet registry: accounts from AWS Organizations (./fleet.ts). */
  readonly fleet: FleetRegistry;
  /** Plan-only results and the drift report (./plan-only.ts). */
  readonly planOnly: PlanOnlyStore;
  /** Pull request runs (./pull-requests.ts). */
  readonly pullRequests: PullRequestRunStore;

  constructor(
    readonly doc: DynamoDBDocumentClient,
    readonly tableName: string,
    options: RunStoreOptions = {},
  ) {
    const table = new RunTable(doc, tableName, options.clock);
    this.runs = new Runs(table);
    this.outcomes = new Outcomes(table);
    this.queue = new BranchQueue(table);
    this.fleet = new FleetRegistry(table);
    this.planOnly = new PlanOnlyStore(table);
    this.pullRequests = new PullRequestRunStore(table);
  }

  /** Wraps a plain DynamoDB client (undefined attributes are dropped on write). */
  static fromClient(client: DynamoDBClient, tableName: string, options: RunStoreOptions = {}): RunStore {
    return new RunStore(DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } }), tableName, options);
  }

  // ---- runs and module results (./runs.ts) ----------------------------------------------------

  createRun(...a: Parameters<Runs['createRun']>): ReturnType<Runs['createRun']> {
    return this.runs.createRun(...a);
  }
  getRunRecord(...a: Parameters<Runs['getRunRecord']>): ReturnType<Runs['getRunRecord']> {
    return this.runs.getRunRecord(...a);
  }
  getRunItem(...a: Parameters<Runs['getRunItem']>): ReturnType<Runs['getRunItem']> {
    return this.runs.getRunItem(...a);
  }
  getRunIdentity(...a: Parameters<Runs['getRunIdentity']>): ReturnType<Runs['getRunIdentity']> {
    return this.runs.getRunIdentity(...a);
  }
  updateRun(...a: Parameters<Runs['updateRun']>): ReturnType<Runs['updateRun']> {
    return this.runs.updateRun(...a);
  }
  finishRun(...a: Parameters<Runs['finishRun']>): ReturnType<Runs['finishRun']> {
    return this.runs.finishRun(...a);
  }
  countPoll(...a: Parameters<Runs['countPoll']>): ReturnType<Runs['countPoll']> {
    return this.runs.countPoll(...a);
  }
  listRuns(...a: Parameters<Runs['listRuns']>): ReturnType<Runs['listRuns']> {
    return this.runs.listRuns(...a);
  }
  getRun(...a: Parameters<Runs['getRun']>): ReturnType<Runs['getRun']> {
    return this.runs.getRun(...a);
  }
  putModuleResult(...a: Parameters<Runs['putModuleResult']>): ReturnType<Runs['putModuleResult']> {
    return this.runs.putModuleResult(...a);
  }
  putPlannedStages(...a: Parameters<Runs['putPlannedStages']>): ReturnType<Runs['putPlannedStages']> {
    return this.runs.putPlannedStages(...a);
  }

  // ---- account outcomes and targets (./outcomes.ts) ------------------------------------------

  setAccountOutcome(...a: Parameters<Outcomes['setAccountOutcome']>): ReturnType<Outcomes['setAccountOutcome']> {
    return this.outcomes.setAccountOutcome(...a);
  }
  getAccountOutcome(...a: Parameters<Outcomes['getAccountOutcome']>): ReturnType<Outcomes['getAccountOutcome']> {
    return this.outcomes.getAccountOutcome(...a);
  }
  listAccountOutcomes(...a: Parameters<Outcomes['listAccountOutcomes']>): ReturnType<Outcomes['listAccountOutcomes']> {
    return this.outcomes.listAccountOutcomes(...a);
  }
  getApplied(...a: Parameters<Outcomes['getApplied']>): ReturnType<Outcomes['getApplied']> {
    return this.outcomes.getApplied(...a);
  }
  listApplied(...a: Parameters<Outcomes['listApplied']>): ReturnType<Outcomes['listApplied']> {
    return this.outcomes.listApplied(...a);
  }
  recordApplied(...a: Parameters<Outcomes['recordApplied']>): ReturnType<Outcomes['recordApplied']> {
    return this.outcomes.recordApplied(...a);
  }

  // ---- commit claims, branch queue and lock (./queue.ts) --------------------------------------

  getCommit(...a: Parameters<BranchQueue['getCommit']>): ReturnType<BranchQueue['getCommit']> {
    return this.queue.getCommit(...a);
  }
  claimCommit(...a: Parameters<BranchQueue['claimCommit']>): ReturnType<BranchQueue['claimCommit']> {
    return this.queue.claimCommit(...a);
  }
  joinQueue(...a: Parameters<BranchQueue['joinQueue']>): ReturnType<BranchQueue['joinQueue']> {
    return this.queue.joinQueue(...a);
  }
  listQueue(...a: Parameters<BranchQueue['listQueue']>): ReturnType<BranchQueue['listQueue']> {
    return this.queue.listQueue(...a);
  }
  leaveQueue(...a: Parameters<BranchQueue['leaveQueue']>): ReturnType<BranchQueue['leaveQueue']> {
    return this.queue.leaveQueue(...a);
  }
  setQueueToken(...a: Parameters<BranchQueue['setQueueToken']>): ReturnType<BranchQueue['setQueueToken']> {
    return this.queue.setQueueToken(...a);
  }
  takeQueueToken(...a: Parameters<BranchQueue['takeQueueToken']>): ReturnType<BranchQueue['takeQueueToken']> {
    return this.queue.takeQueueToken(...a);
  }
  getLock(...a: Parameters<BranchQueue['getLock']>): ReturnType<BranchQueue['getLock']> {
    return this.queue.getLock(...a);
  }
  acquireLock(...a: Parameters<BranchQueue['acquireLock']>): ReturnType<BranchQueue['acquireLock']> {
    return this.queue.acquireLock(...a);
  }
  releaseLock(...a: Parameters<BranchQueue['releaseLock']>): ReturnType<BranchQueue['releaseLock']> {
    return this.queue.releaseLock(...a);
  }
}
