/**
 * Adapts the run store (lib/store) and the approval store (lib/approval) to the narrow
 * {@link RunRecords} port the operator commands read.
 */
import type { ApprovalStore } from '../approval/store';
import type { RunDetail as StoreRunDetail, RunRecord, RunStore } from '../store/run-store';
import { mapLimit } from '../domain/concurrency';
import type { RunRecords, StoredApproval, StoredModule, StoredRun } from './run-records';

type RunReader = Pick<RunStore, 'getRun' | 'listRuns'>;
type ApprovalReader = Pick<ApprovalStore, 'listPointers' | 'get'>;

function plannedOf(run: RunRecord): Map<string, { stage: string; wave?: number }> {
  const planned = new Map<string, { stage: string; wave?: number }>();
  for (const s of run.stages ?? []) for (const a of s.accounts) planned.set(a.name, { stage: s.name, wave: a.wave });
  return planned;
}

/** A run record (and, when given, its module results and approvals) as the operator sees it. */
export function toStoredRun(run: RunRecord, detail?: StoreRunDetail, approvals: readonly StoredApproval[] = []): StoredRun {
  const planned = plannedOf(run);
  const modules: StoredModule[] = (detail?.modules ?? []).map((m) => ({
    stage: planned.get(m.account)?.stage,
    wave: planned.get(m.account)?.wave ?? (planned.has(m.account) ? 0 : undefined),
    account: m.account,
    module: m.module,
    phase: m.phase,
    status: m.status,
    plan: m.plan,
    planSha256: m.planSha256,
    ...(m.skippedBecause ? { skippedBecause: m.skippedBecause } : {}),
    ...(m.mayChangeAfter?.length ? { mayChangeAfter: m.mayChangeAfter } : {}),
    ...(m.replan ? { replan: m.replan } : {}),
    error: m.error,
    startedAt: m.startedAt,
    finishedAt: m.finishedAt,
  }));
  // Planned modules without a result yet are shown as pending, so `show` lists the whole plan.
  if (detail) {
    for (const stage of run.stages ?? []) {
      for (const account of stage.accounts) {
        for (const module of account.modules) {
          if (!modules.some((m) => m.account === account.name && m.module === module)) {
            modules.push({ stage: stage.name, account: account.name, module, status: 'pending', wave: account.wave ?? 0 });
          }
        }
      }
    }
  }
  return {
    execution: run.execution,
    executionArn: run.executionId.startsWith('arn:') ? run.executionId : undefined,
    repository: run.repository,
    branch: run.branch,
    commit: run.commit,
    ...(run.pusher ? { pusher: run.pusher } : {}),
    status: run.status,
    stage: run.currentStage,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    reason: run.reason,
    modules,
    approvals,
    accountReasons: Object.fromEntries(
      Object.values(run.accounts ?? {})
        .filter((o) => !o.ok && o.reason)
        .map((o) => [o.account, o.reason!]),
    ),
  };
}

/** {@link RunRecords} over the real stores; approvals are optional (none shown without). */
export function runRecordsFromStores(runs: RunReader, approvals?: ApprovalReader): RunRecords {
  const approvalsOf = async (execution: string): Promise<StoredApproval[]> => {
    if (!approvals) return [];
    const pointers = await approvals.listPointers(execution);
    const views = await mapLimit(pointers, 4, (p) => approvals.get(p.approvalId));
    return views
      .filter((v) => v !== undefined)
      .map((v) => ({
        stage: v.stage,
        status: v.status,
        approvers: v.approvers,
        decisions: Object.values(v.decisions).map((d) => ({ approver: d.approver, decision: d.decision, comment: d.comment, at: d.at })),
      }));
  };
  return {
    async getRun(execution) {
      const detail = await runs.getRun(execution);
      if (!detail) return undefined;
      return toStoredRun(detail.run, detail, await approvalsOf(execution));
    },
    async listRuns({ limit, repository }) {
      return (await runs.listRuns({ limit, repository })).map((r) => toStoredRun(r));
    },
  };
}
