/**
 * Admission: which execution carries a push (`COMMIT#<repo>#<branch>#<sha>`), the branch queue
 * (`QUEUE#<repo>#<branch>` / `ENTRY#...`) and the branch lock, the lease whose generation fences
 * every task of the run holding it (`QUEUE#<repo>#<branch>` / `LOCK`). Layout in ./keys.ts.
 */
import { DeleteCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { commitKey, lockKey, queueEntryKey, queuePk } from './keys';
import { isConditionFailure, strip, type RunTable } from './table';

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
   * releases the branch takes it ({@link BranchQueue.takeQueueToken}) and sends it.
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

/** Commit claims, the branch queue and the branch lock in the run table. */
export class BranchQueue {
  constructor(private readonly table: RunTable) {}

  /** Which execution carries a push of this commit to this branch, if any. */
  async getCommit(repository: string, branch: string, sha: string): Promise<CommitRecord | undefined> {
    return strip<CommitRecord>(await this.table.get(commitKey(repository, branch, sha)));
  }

  /**
   * Claims the push for an execution. `expected` is the record read before (undefined when
   * there was none): the claim fails (returns false) if someone else changed it meanwhile.
   */
  async claimCommit(repository: string, branch: string, sha: string, claim: Omit<CommitRecord, 'at'>, expected: CommitRecord | undefined): Promise<boolean> {
    try {
      await this.table.doc.send(
        new PutCommand({
          TableName: this.table.tableName,
          Item: { ...commitKey(repository, branch, sha), type: 'commit', ...claim, at: this.table.now(), expiresAt: this.table.expiresAt() },
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

  /** Adds a push to its branch queue (idempotent) and raises the branch's joined high water. */
  async joinQueue(entry: Omit<QueueEntry, 'joinedAt'>): Promise<void> {
    try {
      await this.table.doc.send(
        new PutCommand({
          TableName: this.table.tableName,
          Item: { ...queueEntryKey(entry.repository, entry.branch, entry.sequence, entry.execution), type: 'queue', ...entry, joinedAt: this.table.now() },
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
    return (await this.table.queryAll(queuePk(repository, branch), 'ENTRY#')).map((i) => strip<QueueEntry>(i)!);
  }

  /** Removes a push from its branch queue (no-op if gone). */
  async leaveQueue(repository: string, branch: string, sequence: string, execution: string): Promise<void> {
    await this.table.doc.send(new DeleteCommand({ TableName: this.table.tableName, Key: queueEntryKey(repository, branch, sequence, execution) }));
  }

  /**
   * Stores the task token a queued run waits on with its queue entry; false when the entry is
   * gone (the run was removed from the queue meanwhile).
   */
  async setQueueToken(repository: string, branch: string, sequence: string, execution: string, token: string): Promise<boolean> {
    try {
      await this.table.doc.send(
        new UpdateCommand({
          TableName: this.table.tableName,
          Key: queueEntryKey(repository, branch, sequence, execution),
          UpdateExpression: 'SET #t = :t, tokenAt = :now',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#t': 'token' },
          ExpressionAttributeValues: { ':t': token, ':now': this.table.now() },
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
      await this.table.doc.send(
        new UpdateCommand({
          TableName: this.table.tableName,
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
    return strip<BranchLock>(await this.table.get(lockKey(repository, branch))) ?? {};
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
        await this.table.doc.send(
          new UpdateCommand({
            TableName: this.table.tableName,
            Key: lockKey(repository, branch),
            UpdateExpression: 'SET holder = :h, holderId = :hid, holderSequence = :seq, since = :now, generation = :gen, admitted = :adm',
            // The generation read above must still be the item's: two admits never get the same one.
            ConditionExpression: 'attribute_not_exists(holder) AND (attribute_not_exists(generation) OR generation = :prev)',
            ExpressionAttributeValues: {
              ':h': holder.execution,
              ':hid': holder.executionId,
              ':seq': holder.sequence,
              ':now': this.table.now(),
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
      await this.table.doc.send(
        new UpdateCommand({
          TableName: this.table.tableName,
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
      await this.table.doc.send(
        new UpdateCommand({
          TableName: this.table.tableName,
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
