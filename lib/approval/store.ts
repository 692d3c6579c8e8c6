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
   * Records one person's decision, once: the write succeeds only while the approval is
   * pending, before its deadline, and when this approver has not decided yet.
   * @throws ApprovalNotFoundError, ApprovalGoneError (superseded, expired), AlreadyDecidedError
   */
  async recordDecision(approvalId: string, decision: Decision, nowEpochSeconds: number): Promise<ApprovalView> {
    const key = normalizeApprover(decision.approver);
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: approvalKeys.approval(approvalId),
          UpdateExpression: 'SET decisions.#who = :decision',
          ConditionExpression: 'attribute_exists(pk) AND #status = :pending AND deadline > :now AND attribute_not_exists(decisions.#who)',
          ExpressionAttributeNames: { '#status': 'status', '#who': key },
          ExpressionAttributeValues: { ':decision': decision, ':pending': 'PENDING', ':now': nowEpochSeconds },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toView(out.Attributes ?? {});
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      throw await this.whyNot(approvalId, key, nowEpochSeconds, err);
    }
  }

  /** Explains a failed conditional decision from the item as it is now. */
  private async whyNot(approvalId: string, approverKey: string, nowEpochSeconds: number, cause: unknown): Promise<Error> {
    const current = await this.get(approvalId);
    if (!current) return new ApprovalNotFoundError(approvalId, { cause });
    const mine = current.decisions[approverKey];
    if (mine) {
      const verb = mine.decision === 'approve' ? 'approved' : 'rejected';
      return new AlreadyDecidedError(`${mine.approver} already ${verb} this at ${mine.at} (via ${mine.via}); each approver decides once`, { cause });
    }
    return closedError(current, nowEpochSeconds, cause);
  }

  /**
   * Moves the approval from one status to another; false when it was no longer in `from`
   * (another approver completed it first).
   */
  async transition(approvalId: string, from: ApprovalStatus, to: ApprovalStatus): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: approvalKeys.approval(approvalId),
          UpdateExpression: 'SET #status = :to',
          ConditionExpression: 'attribute_exists(pk) AND #status = :from',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':to': to, ':from': from },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
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
   * Undoes a decision whose outcome could not be delivered (Step Functions unreachable), so
   * the same person can try again rather than meet a 409.
   */
  async undoDecision(approvalId: string, approver: string, reopen: boolean): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: approvalKeys.approval(approvalId),
        UpdateExpression: reopen ? 'REMOVE decisions.#who SET #status = :pending' : 'REMOVE decisions.#who',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: reopen ? { '#who': normalizeApprover(approver), '#status': 'status' } : { '#who': normalizeApprover(approver) },
        ...(reopen ? { ExpressionAttributeValues: { ':pending': 'PENDING' } } : {}),
      }),
    );
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
      return new AlreadyDecidedError('this approval is being completed by another approver right now', options);
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
