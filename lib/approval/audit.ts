/**
 * The audit record of a decision on an approval (see lib/domain/audit.ts): written by
 * {@link decide} when the decision is recorded, for the link, the CLI and the local mode alike.
 */
import { auditRecord, type AuditPlan, type AuditRecord } from '../domain/audit';
import type { ApprovalView, Decision } from './types';

/** What a decision may carry besides the decision itself. */
export interface DecisionAuditExtras {
  /** A policy owner's override of a denying policy. */
  readonly override?: { readonly reason: string };
  /** The policy results the approver saw. */
  readonly policy?: readonly unknown[];
}

/** The plans an approval lists, by SHA-256. */
export function approvalPlans(approval: ApprovalView): AuditPlan[] {
  return approval.summaries.flatMap((a) => a.modules.filter((m) => m.planSha256).map((m) => ({ account: a.account, module: m.path, sha256: m.planSha256! })));
}

/**
 * The audit record of `entry` on `approval` (the approval as recorded with the decision in it).
 * An override makes it an `override` record; otherwise a `decision` record.
 */
export function decisionAuditRecord(approval: ApprovalView, entry: Decision, extras: DecisionAuditExtras = {}, now = new Date()): AuditRecord {
  const approvals = Object.values(approval.decisions)
    .filter((d) => d.decision === 'approve')
    .sort((a, b) => a.at.localeCompare(b.at))
    .map((d) => ({ approver: d.approver, at: d.at, via: d.via }));
  return auditRecord(
    {
      kind: extras.override ? 'override' : 'decision',
      at: entry.at,
      who: entry.approver,
      channel: entry.via,
      run: approval.executionName,
      stage: approval.stage,
      repository: approval.push.repository,
      branch: approval.push.branch,
      commit: approval.push.commit,
      accounts: approval.summaries.map((a) => a.account),
      plans: approvalPlans(approval),
      itemsSha256: approval.items.sha256,
      approvalId: approval.approvalId,
      decision: entry.decision,
      ...(entry.comment.trim() ? { comment: entry.comment } : {}),
      approvals,
      ...(extras.override ? { override: { ...extras.override } } : {}),
      ...(extras.policy ? { policy: [...extras.policy] } : {}),
    },
    now,
  );
}

/**
 * The audit record of a decision tfstep refused from an identified person (see `refused` in
 * lib/domain/audit.ts): what they tried, on which plans, and why it was refused.
 */
export function refusalAuditRecord(
  approval: ApprovalView,
  attempt: { readonly approver: string; readonly decision: 'approve' | 'reject'; readonly via: Decision['via']; readonly override?: { readonly reason: string } },
  why: string,
  extras: Pick<DecisionAuditExtras, 'policy'> = {},
  now = new Date(),
): AuditRecord {
  return auditRecord(
    {
      kind: 'refused',
      at: now.toISOString(),
      who: attempt.approver,
      channel: attempt.via,
      run: approval.executionName,
      stage: approval.stage,
      repository: approval.push.repository,
      branch: approval.push.branch,
      commit: approval.push.commit,
      accounts: approval.summaries.map((a) => a.account),
      plans: approvalPlans(approval),
      itemsSha256: approval.items.sha256,
      approvalId: approval.approvalId,
      decision: attempt.decision,
      ...(attempt.override ? { override: { reason: attempt.override.reason } } : {}),
      ...(extras.policy ? { policy: [...extras.policy] } : {}),
      detail: why.slice(0, 2000),
    },
    now,
  );
}
