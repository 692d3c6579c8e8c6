import { z } from 'zod';
import type { AuditWriter } from '../domain/audit';
import type { ApprovalOutput } from '../statemachine/contracts';
import { decisionAuditRecord, refusalAuditRecord, type DecisionAuditExtras } from './audit';
import {
  ApprovalGoneError,
  ApprovalNotFoundError,
  AlreadyDecidedError,
  BadApprovalRequestError,
  NotAnApproverError,
  NotAPolicyOwnerError,
  PolicyDeniedError,
  SelfApprovalError,
  TaskGoneError,
} from './errors';
import { normalizeApprover } from './signing';
import { closedError, type ApprovalStore } from './store';
import { DecisionViaSchema, silentLogger, systemClock, type ApprovalView, type Clock, type Decision, type Logger, type TaskTokenSender } from './types';

/** The approver name the local `--approve auto` mode decides as. */
export const AUTO_APPROVER = 'auto';

/** Longest comment kept; longer ones are refused rather than cut. */
export const MAX_COMMENT_LENGTH = 2000;

/**
 * How many times a decision is judged again when other decisions keep landing between its read
 * and its write; each retry means another approver decided, so a few cover every approver list.
 */
const MAX_DECISION_ATTEMPTS = 10;

/** The error name a rejection fails the approval step with (the ASL catches it). */
export const REJECTED_ERROR = 'Rejected';

/** What {@link decide} needs. */
export interface DecideDeps {
  readonly store: ApprovalStore;
  readonly tasks: TaskTokenSender;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Accept the approver `auto` (local `--approve auto` only; never set in AWS). */
  readonly allowAutoApprover?: boolean;
  /**
   * Where every recorded decision is appended as an audit record. A decision that completes the
   * approval is undone when its record cannot be written, so nothing is applied or rejected
   * without a record. @default - no audit record (tests of the rules alone)
   */
  readonly audit?: AuditWriter;
}

/** One decision as the link, the CLI or the local prompt submits it. */
export const DecideInputSchema = z.object({
  approvalId: z.string().min(1).max(200),
  approver: z.string().trim().min(1, 'an approver identity').max(320),
  decision: z.enum(['approve', 'reject']),
  comment: z.string().max(MAX_COMMENT_LENGTH, `a comment of at most ${MAX_COMMENT_LENGTH} characters`).default(''),
  via: DecisionViaSchema,
  /** A policy owner's override of a plan policy's deny: approves despite it, for the reason given. */
  override: z
    .object({ reason: z.string().trim().min(1, 'a reason for the override').max(MAX_COMMENT_LENGTH, `a reason of at most ${MAX_COMMENT_LENGTH} characters`) })
    .optional(),
});
export type DecideInput = z.input<typeof DecideInputSchema>;

/** What became of a decision. */
export interface DecideResult {
  /**
   * `recorded`: counted, and more approvals are needed before the step goes on;
   * `approved`: the step was told to go on; `rejected`: the step was failed with `Rejected`.
   */
  readonly outcome: 'recorded' | 'approved' | 'rejected';
  /** The approval after the decision. */
  readonly approval: ApprovalView;
  /** Approvals still needed (0 once approved or rejected). */
  readonly remaining: number;
}

/**
 * True when this approver is the pusher: the full address or its local part equals the
 * pusher's identity, ignoring case. The pusher is often a git host user name while approvers
 * are addresses, so `alice` matches `alice@example.com`.
 */
export function isPusher(approver: string, pusher: string): boolean {
  const a = normalizeApprover(approver);
  const p = normalizeApprover(pusher);
  if (p === '') return false;
  const local = a.includes('@') ? a.slice(0, a.indexOf('@')) : a;
  return a === p || local === p;
}

/** The configured spelling of an approver, or undefined when not listed. */
export function findApprover(approval: Pick<ApprovalView, 'approvers'>, approver: string): string | undefined {
  const key = normalizeApprover(approver);
  return approval.approvers.find((a) => normalizeApprover(a) === key);
}

/** The configured spelling of a policy owner of the approval's stage, or undefined when not one. */
export function findPolicyOwner(approval: Pick<ApprovalView, 'policy'>, person: string): string | undefined {
  const key = normalizeApprover(person);
  return approval.policy?.owners.find((o) => normalizeApprover(o) === key);
}

/** Whether the approval's plans are denied by a plan policy (only a policy owner's override lets them apply). */
export function isDenied(approval: Pick<ApprovalView, 'policy'>): boolean {
  return approval.policy?.status === 'deny';
}

/** Whether a policy owner has overridden the deny already (other approvers' approvals then count). */
export function isOverridden(approval: Pick<ApprovalView, 'decisions'>): boolean {
  return Object.values(approval.decisions).some((d) => d.decision === 'approve' && d.override !== undefined);
}

/** A decision refused because of who decided or what the policies say (not a malformed or late one). */
function isRefusal(err: unknown): err is Error {
  return err instanceof NotAnApproverError || err instanceof SelfApprovalError || err instanceof NotAPolicyOwnerError || err instanceof PolicyDeniedError;
}

/** The override and the plan policies' results a decision's audit record keeps. */
export function policyExtras(approval: ApprovalView, entry: Decision): DecisionAuditExtras {
  const results = approval.summaries.flatMap((a) => a.modules.filter((m) => m.policy).map((m) => ({ account: a.account, module: m.path, ...m.policy! })));
  return { ...(entry.override ? { override: { reason: entry.override.reason } } : {}), ...(results.length > 0 ? { policy: results } : {}) };
}

/** Approvals counted so far, in the order they were made. */
export function approvalsOf(approval: ApprovalView): Decision[] {
  return Object.values(approval.decisions)
    .filter((d) => d.decision === 'approve')
    .sort((a, b) => a.at.localeCompare(b.at));
}

/** Approvals still needed before the step goes on. */
export function remainingApprovals(approval: ApprovalView): number {
  if (approval.status === 'APPROVED' || approval.status === 'REJECTED') return 0;
  return Math.max(0, approval.requiredApprovals - approvalsOf(approval).length);
}

/** The SendTaskSuccess output: the state machine applies exactly `items`. */
export function approvalOutput(approval: ApprovalView): ApprovalOutput {
  const approvals = approvalsOf(approval);
  return {
    approvalId: approval.approvalId,
    approvers: approvals.map((d) => d.approver),
    comments: approvals.filter((d) => d.comment.trim() !== '').map((d) => ({ approver: d.approver, comment: d.comment })),
    items: approval.items,
  };
}

/** Why the approval cannot be decided now, or undefined when it can. */
export function whyClosed(approval: ApprovalView, nowEpochSeconds: number): Error | undefined {
  if (approval.status === 'PENDING' && approval.deadline > nowEpochSeconds) return undefined;
  return closedError(approval, nowEpochSeconds);
}

/** Reads an approval (without its task token). */
export async function getApproval(approvalId: string, deps: { readonly store: ApprovalStore }): Promise<ApprovalView> {
  const approval = await deps.store.get(approvalId);
  if (!approval) throw new ApprovalNotFoundError(approvalId);
  return approval;
}

/**
 * The approval of a run: the pending one when there is one, else the newest. Accepts an
 * execution name or an execution ARN. Undefined when the run never asked for an approval.
 */
export async function findApprovalForExecution(execution: string, deps: { readonly store: ApprovalStore }): Promise<ApprovalView | undefined> {
  const name = execution.startsWith('arn:') ? (execution.split(':').pop() ?? execution) : execution;
  const pointers = await deps.store.listPointers(name);
  const approvals: ApprovalView[] = [];
  for (const pointer of pointers) {
    const approval = await deps.store.get(pointer.approvalId);
    if (approval) approvals.push(approval);
  }
  const pending = approvals.find((a) => a.status === 'PENDING');
  if (pending) return pending;
  return approvals.sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
}

/**
 * Decides an approval for one person, with every rule the link, the CLI and the local mode
 * share: listed approvers only, no self-approval unless allowed, one decision per approver,
 * nothing after the deadline or a redrive. Reaching the required count sends SendTaskSuccess
 * with {@link ApprovalOutput}; any rejection sends SendTaskFailure `Rejected`.
 */
export async function decide(input: DecideInput, deps: DecideDeps, extras: DecisionAuditExtras = {}): Promise<DecideResult> {
  const parsed = DecideInputSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BadApprovalRequestError(`invalid decision: ${issue ? `${issue.path.join('.') || 'input'}: ${issue.message}` : 'invalid input'}`);
  }
  const { approvalId, decision, comment, via, override } = parsed.data;
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger ?? silentLogger;
  const now = clock.now();
  const nowEpoch = Math.floor(now.getTime() / 1000);

  let approval = await getApproval(approvalId, deps);
  const closed = whyClosed(approval, nowEpoch);
  if (closed) throw closed;

  const auto = normalizeApprover(parsed.data.approver) === AUTO_APPROVER;
  let approver!: string;
  try {
    if (auto) {
      if (!deps.allowAutoApprover) throw new NotAnApproverError(AUTO_APPROVER, approval.approvers);
      approver = AUTO_APPROVER;
    } else {
      // A policy owner may decide a denied approval (override or reject) without being an approver.
      const owner = findPolicyOwner(approval, parsed.data.approver);
      const listed = findApprover(approval, parsed.data.approver) ?? (isDenied(approval) ? owner : undefined);
      if (!listed) throw new NotAnApproverError(parsed.data.approver, approval.approvers);
      approver = listed;
      if (decision === 'approve' && !approval.allowSelfApproval && isPusher(approver, approval.pusher)) {
        throw new SelfApprovalError(approver, approval.pusher);
      }
      if (override) {
        if (decision !== 'approve') throw new BadApprovalRequestError('an override approves despite a deny; it cannot reject (reject without --override)');
        if (!owner) throw new NotAPolicyOwnerError(approver, approval.policy?.owners ?? []);
        if (!isDenied(approval)) throw new BadApprovalRequestError('there is no deny to override: no plan policy denied these plans; approve without an override');
      } else if (decision === 'approve' && isDenied(approval) && !isOverridden(approval)) {
        throw new PolicyDeniedError(
          `a plan policy denied these plans; approving is not enough: a policy owner (${approval.policy?.owners.join(', ') || 'none configured'}) must override the deny, with a reason${owner ? ' (you are one: override with a reason)' : ''}`,
        );
      }
    }
    if (auto && isDenied(approval)) {
      // `--approve auto` never overrides a deny: a person who owns the policy must.
      if (decision === 'approve') throw new PolicyDeniedError('a plan policy denied these plans; automatic approval never overrides a deny: a policy owner must, with a reason');
    }
  } catch (err) {
    // Who was refused, and why, is evidence too: kept beside the decisions that were accepted.
    if (deps.audit && !auto && isRefusal(err)) {
      const attempt = { approver: parsed.data.approver, decision, via, ...(override ? { override: { reason: override.reason } } : {}) };
      const { policy } = policyExtras(approval, { approver: attempt.approver, decision, comment, at: now.toISOString(), via });
      await deps.audit.append(refusalAuditRecord(approval, attempt, err.message, policy ? { policy } : {}, now)).catch((e: unknown) => {
        logger.error('could not write the audit record of a refused decision', { approvalId, approver: attempt.approver, error: e instanceof Error ? { name: e.name, message: e.message } : String(e) });
      });
    }
    throw err;
  }

  // Whether this decision completes the approval is judged against the record as read, and
  // the write holds only if nobody else decided since; otherwise judge again on the new record.
  // A decision that comes after the one that completed it is refused (409) and never recorded.
  const entry: Decision = { approver, decision, comment, at: now.toISOString(), via, ...(override ? { override: { reason: override.reason } } : {}) };
  let recorded: ApprovalView | undefined;
  for (let attempt = 1; recorded === undefined; attempt++) {
    // A denied approval completes with an approval only once a policy owner has overridden the deny.
    const released = !isDenied(approval) || isOverridden(approval) || entry.override !== undefined;
    const completes = decision === 'reject' || (released && (auto || approvalsOf(approval).length + 1 >= approval.requiredApprovals));
    const write = await deps.store.recordDecision(approvalId, entry, nowEpoch, { revision: approval.revision, completes });
    if ('recorded' in write) {
      recorded = write.recorded;
    } else {
      if (attempt >= MAX_DECISION_ATTEMPTS) throw new AlreadyDecidedError('this approval kept changing while deciding; nothing of yours was recorded, reload and try again');
      approval = write.changed;
    }
  }
  logger.info('approval decision recorded', { approvalId, approver, decision, via, executionName: approval.executionName, stage: approval.stage, ...(override ? { override: override.reason } : {}) });
  if (deps.audit) {
    try {
      await deps.audit.append(decisionAuditRecord(recorded, entry, { ...policyExtras(recorded, entry), ...extras }, now));
    } catch (err) {
      // Without its record the decision does not complete anything: this person tries again.
      if (recorded.status === 'COMPLETING') await deps.store.undoDecision(approvalId, approver);
      logger.error('could not write the audit record of a decision', { approvalId, approver, error: err instanceof Error ? { name: err.name, message: err.message } : String(err) });
      throw err;
    }
  }

  if (recorded.status !== 'COMPLETING') return { outcome: 'recorded', approval: recorded, remaining: remainingApprovals(recorded) };

  const token = await deps.store.getTaskToken(approvalId);
  if (token === undefined) {
    await deps.store.close(approvalId, 'EXPIRED', 'the task token is gone');
    throw new ApprovalGoneError('this approval no longer has a waiting step; nothing was applied');
  }

  try {
    if (decision === 'reject') {
      const cause = `Rejected by ${approver} (via ${via})${comment.trim() ? `: ${comment.trim()}` : ': no reason given'}`;
      await deps.tasks.sendFailure(token, REJECTED_ERROR, cause);
      await deps.store.close(approvalId, 'REJECTED', cause, { kind: 'failure', error: REJECTED_ERROR, cause });
      logger.info('approval rejected', { approvalId, approver });
      return { outcome: 'rejected', approval: await getApproval(approvalId, deps), remaining: 0 };
    }
    const output = approvalOutput(recorded);
    await deps.tasks.sendSuccess(token, output);
    await deps.store.close(approvalId, 'APPROVED', `approved by ${output.approvers.join(', ')}`, { kind: 'success', output });
    logger.info('approval approved', { approvalId, approvers: output.approvers });
    return { outcome: 'approved', approval: await getApproval(approvalId, deps), remaining: 0 };
  } catch (err) {
    if (err instanceof TaskGoneError) {
      await deps.store.close(approvalId, 'EXPIRED', err.message);
      logger.warn('approval step no longer waits', { approvalId, reason: err.message });
      throw err;
    }
    // Step Functions could not be told: undo so this person can simply try again.
    await deps.store.undoDecision(approvalId, approver);
    logger.error('could not deliver the approval outcome', { approvalId, error: err instanceof Error ? { name: err.name, message: err.message } : String(err) });
    throw err;
  }
}
