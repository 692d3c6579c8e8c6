import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ApprovalGoneError, ApprovalNotFoundError, AlreadyDecidedError } from './errors';
import { normalizeApprover } from './signing';
import { ApprovalViewSchema, type ApprovalOutcome, type ApprovalStatus, type ApprovalView, type Decision } from './types';

/** Keys of the run table items the approval code owns. */
export const approvalKeys = {
  /** The approval itself. */
  approval: (approvalId: string) => ({ pk: `APPROVAL#${approvalId}`, sk: 'APPROVAL' }),
  /** The pointer from a run to its approval of one stage, so the CLI finds it by execution. */
  pointer: (executionName: string, stage: string) => ({ pk: `RUN#${executionName}`, sk: `APPROVAL#${stage}` }),
};

/** How long a decided or expired approval stays readable after its deadline, for the record. */
export const DEFAULT_RETENTION_SECONDS = 30 * 24 * 3600;

/** A new approval as the request handler creates it. */
export interface NewApproval extends ApprovalView {
  readonly taskToken: string;
  readonly tokenHash: string;
}

/** The pointer item of a run's approval for one stage. */
export interface ApprovalPointer {
  readonly approvalId: string;
  readonly stage: string;
  readonly tokenHash: string;
  readonly createdAt: string;
}

function isConditionFailure(err: unknown): boolean {
  return err instanceof ConditionalCheckFailedException || (err as { name?: string }).name === 'ConditionalCheckFailedException';
}

function toView(item: Record<string, unknown>): ApprovalView {
  // The token never leaves the store through a view.
  const { taskToken: _t, tokenHash: _h, pk: _pk, sk: _sk, expiresAt: _e, ...rest } = item;
  return ApprovalViewSchema.parse(rest);
}

/**
 * Approvals in the run table (string keys `pk`/`sk`, TTL attribute `expiresAt`). Every state
 * change is a conditional write, so a reused link, a race between two approvers or a decision
 * after a redrive cannot slip through.
 */
export class ApprovalStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly retentionSeconds = DEFAULT_RETENTION_SECONDS,
  ) {}

  /**
   * Stores a new approval and points the run's stage at it. When a concurrent invocation for
   * the same task token pointed the stage at its own approval first, this one is removed and
   * the other's id returned, so one step never has two live approvals.
   */
  async create(approval: NewApproval): Promise<{ approvalId: string; created: boolean }> {
    const expiresAt = approval.deadline + this.retentionSeconds;
    await this.doc.send(
      new PutCommand({
        TableName: this.table,
        Item: { ...approvalKeys.approval(approval.approvalId), ...approval, expiresAt },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    const pointer: ApprovalPointer = { approvalId: approval.approvalId, stage: approval.stage, tokenHash: approval.tokenHash, createdAt: approval.createdAt };
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...approvalKeys.pointer(approval.executionName, approval.stage), ...pointer, expiresAt },
          ConditionExpression: 'attribute_not_exists(pk) OR tokenHash <> :hash',
          ExpressionAttributeValues: { ':hash': approval.tokenHash },
        }),
      );
      return { approvalId: approval.approvalId, created: true };
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      await this.doc.send(new DeleteCommand({ TableName: this.table, Key: approvalKeys.approval(approval.approvalId) }));
      const winner = await this.getPointer(approval.executionName, approval.stage);
      if (!winner) throw err;
      return { approvalId: winner.approvalId, created: false };
    }
  }

  /** The approval, without its task token; undefined when it does not exist. */
  async get(approvalId: string): Promise<ApprovalView | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: approvalKeys.approval(approvalId), ConsistentRead: true }));
    return out.Item ? toView(out.Item) : undefined;
  }

  /** The pointer of a run's approval for one stage. */
  async getPointer(executionName: string, stage: string): Promise<ApprovalPointer | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: approvalKeys.pointer(executionName, stage), ConsistentRead: true }));
    return out.Item as ApprovalPointer | undefined;
  }

  /** Every approval pointer of a run (one per stage that asked for approval). */
  async listPointers(executionName: string): Promise<ApprovalPointer[]> {
    const out = await this.doc.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': `RUN#${executionName}`, ':prefix': 'APPROVAL#' },
        ConsistentRead: true,
      }),
    );
    return (out.Items ?? []) as ApprovalPointer[];
  }

  /** The task token of a pending approval, read only to hand it to Step Functions. */
  async getTaskToken(approvalId: string): Promise<string | undefined> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: approvalKeys.approval(approvalId), ConsistentRead: true, ProjectionExpression: 'taskToken' }),
    );
    const token: unknown = out.Item?.taskToken;
    return typeof token === 'string' ? token : undefined;
  }

  /**
   * Marks an approval replaced by a redrive: its links answer 410 from now on. An approval
   * that was already decided keeps its status and only learns its successor.
   */
  async supersede(approvalId: string, by: string): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: approvalKeys.approval(approvalId),
          UpdateExpression: 'SET #status = :superseded, supersededBy = :by, closedReason = :reason REMOVE taskToken',
          ConditionExpression: 'attribute_exists(pk) AND #status IN (:pending, :completing)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':superseded': 'SUPERSEDED',
            ':by': by,
            ':reason': `replaced by approval ${by} when the approval step ran again`,
            ':pending': 'PENDING',
            ':completing': 'COMPLETING',
          },
        }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      await this.doc
        .send(
          new UpdateCommand({
            TableName: this.table,
            Key: approvalKeys.approval(approvalId),
            UpdateExpression: 'SET supersededBy = :by REMOVE taskToken',
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeValues: { ':by': by },
          }),
        )
        .catch((inner: unknown) => {
          if (!isConditionFailure(inner)) throw inner;
        });
    }
  }

  /**
   * Records one person's decision, once, against the approval exactly as the caller read it
   * (`seen`): the write succeeds only while the approval is pending, before its deadline, when
   * this approver has not decided yet, and when no other decision was written since `seen`
   * (its revision). A decision that completes the approval (`completes`) moves it to
   * COMPLETING in the same write, so the decisions on the record at that moment are exactly
   * the ones that count, and any decision after it is refused rather than recorded.
   *
   * Returns `{ recorded }`, the approval after the write, or `{ changed }`, the approval as it
   * is now when another decision was written since `seen` and it can still be decided: judge
   * the decision again against that.
   * @throws ApprovalNotFoundError, ApprovalGoneError (superseded, expired), AlreadyDecidedError
   */
  async recordDecision(
    approvalId: string,
    decision: Decision,
    nowEpochSeconds: number,
    seen: { readonly revision?: number | undefined; readonly completes: boolean },
  ): Promise<{ readonly recorded: ApprovalView } | { readonly changed: ApprovalView }> {
    const key = normalizeApprover(decision.approver);
    // Optimistic locking on a revision attribute: the write states the revision it was judged
    // against and fails if any other decision landed in between.
    // https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/BestPractices_OptimisticLocking.html
    const values: Record<string, unknown> = { ':decision': decision, ':pending': 'PENDING', ':now': nowEpochSeconds, ':next': (seen.revision ?? 0) + 1 };
    let unchanged = 'attribute_not_exists(revision)';
    if (seen.revision !== undefined) {
      unchanged = 'revision = :seen';
      values[':seen'] = seen.revision;
    }
    let update = 'SET decisions.#who = :decision, revision = :next';
    if (seen.completes) {
      update += ', #status = :completing';
      values[':completing'] = 'COMPLETING';
    }
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: approvalKeys.approval(approvalId),
          UpdateExpression: update,
          ConditionExpression: `attribute_exists(pk) AND #status = :pending AND deadline > :now AND attribute_not_exists(decisions.#who) AND ${unchanged}`,
          ExpressionAttributeNames: { '#status': 'status', '#who': key },
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return { recorded: toView(out.Attributes ?? {}) };
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      const current = await this.get(approvalId);
      if (!current) throw new ApprovalNotFoundError(approvalId, { cause: err });
      const mine = current.decisions[key];
      if (mine) {
        const verb = mine.decision === 'approve' ? 'approved' : 'rejected';
        throw new AlreadyDecidedError(`${mine.approver} already ${verb} this at ${mine.at} (via ${mine.via}); each approver decides once`, { cause: err });
      }
      if (current.status !== 'PENDING' || current.deadline <= nowEpochSeconds) throw closedError(current, nowEpochSeconds, err);
      return { changed: current };
    }
  }

  /** Closes an approval for good with its outcome, and forgets the task token. */
  async close(approvalId: string, status: Exclude<ApprovalStatus, 'PENDING' | 'COMPLETING'>, reason: string, outcome?: ApprovalOutcome): Promise<void> {
    const values: Record<string, unknown> = { ':status': status, ':reason': reason };
    let set = 'SET #status = :status, closedReason = :reason';
    if (outcome) {
      set += ', outcome = :outcome';
      values[':outcome'] = outcome;
    }
    await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: approvalKeys.approval(approvalId),
        UpdateExpression: `${set} REMOVE taskToken`,
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: values,
      }),
    );
  }

  /**
   * Undoes the decision that completed an approval when its outcome could not be delivered
   * (Step Functions unreachable): the approval is pending again without it, so the same person
   * can try again rather than meet a 409. Nothing changes when the approval has moved on in
   * the meantime (a redrive superseded it).
   */
  async undoDecision(approvalId: string, approver: string): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: approvalKeys.approval(approvalId),
          UpdateExpression: 'REMOVE decisions.#who SET #status = :pending, revision = revision + :one',
          ConditionExpression: 'attribute_exists(pk) AND #status = :completing',
          ExpressionAttributeNames: { '#who': normalizeApprover(approver), '#status': 'status' },
          ExpressionAttributeValues: { ':pending': 'PENDING', ':completing': 'COMPLETING', ':one': 1 },
        }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }

  /** Deletes an approval and its pointer (tests and local clean-up only). */
  async delete(approval: Pick<ApprovalView, 'approvalId' | 'executionName' | 'stage'>): Promise<void> {
    await this.doc.send(new DeleteCommand({ TableName: this.table, Key: approvalKeys.approval(approval.approvalId) }));
    await this.doc.send(new DeleteCommand({ TableName: this.table, Key: approvalKeys.pointer(approval.executionName, approval.stage) }));
  }
}

/**
 * Why an approval that exists can no longer be decided, or undefined when it still can.
 */
export function closedError(approval: ApprovalView, nowEpochSeconds: number, cause?: unknown): Error {
  const options = cause === undefined ? undefined : { cause };
  switch (approval.status) {
    case 'SUPERSEDED':
      return new ApprovalGoneError(
        `this approval was replaced${approval.supersededBy ? ` by approval ${approval.supersededBy}` : ''} when the approval step ran again; use the newest link`,
        options,
      );
    case 'EXPIRED':
      return new ApprovalGoneError(`this approval expired${approval.closedReason ? `: ${approval.closedReason}` : ''}; nothing was applied`, options);
    case 'APPROVED':
      return new AlreadyDecidedError(`this approval was already approved by ${approverList(approval, 'approve')}`, options);
    case 'REJECTED':
      return new AlreadyDecidedError(`this approval was already rejected by ${approverList(approval, 'reject')}`, options);
    case 'COMPLETING':
      // The decision that completed it is on the record; the run is being told right now.
      return Object.values(approval.decisions).some((d) => d.decision === 'reject')
        ? new AlreadyDecidedError(`this approval was just rejected by ${approverList(approval, 'reject')}; the run is being told now`, options)
        : new AlreadyDecidedError(`this approval was just approved by ${approverList(approval, 'approve')}; the run is being told now`, options);
    case 'PENDING':
      if (approval.deadline <= nowEpochSeconds) {
        return new ApprovalGoneError(`this approval expired at ${new Date(approval.deadline * 1000).toISOString()}; nothing was applied`, options);
      }
      return new AlreadyDecidedError('this approval changed while deciding; reload and try again', options);
  }
}

function approverList(approval: ApprovalView, decision: 'approve' | 'reject'): string {
  const who = Object.values(approval.decisions)
    .filter((d) => d.decision === decision)
    .map((d) => d.approver);
  return who.length > 0 ? who.join(', ') : 'someone';
}
