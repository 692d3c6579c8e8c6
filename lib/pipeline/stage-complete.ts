/**
 * `stage-complete`: the gate after each Map. The stage fails when any account is not ok (its
 * siblings have finished by then); after a plan phase it hands the approval the apply items,
 * each carrying the SHA-256 of the plans just made, which the runner checks before applying.
 */
import type { z } from 'zod';
import type { AccountItem, AccountOutcome, StageCompleteRequestSchema, StageCompleteResultSchema } from './contracts';
import type { PipelineDeps } from './deps';
import { notifyRun } from './notify';
import { LockLostError } from './errors';

export type StageCompleteRequest = z.infer<typeof StageCompleteRequestSchema>;
export type StageCompleteResult = z.infer<typeof StageCompleteResultSchema>;

/** One line per failed account: which modules, and why. */
export function describeFailure(outcome: AccountOutcome): string {
  const bad = outcome.modules.filter((m) => !['planned', 'applied'].includes(m.status));
  const mods = bad.length ? ` (${bad.map((m) => `${m.path} ${m.status}`).join(', ')})` : '';
  return `account ${outcome.account}${mods}: ${outcome.reason ?? 'failed'}`;
}

/** Runs the stage-complete action. */
export async function stageComplete(req: StageCompleteRequest, deps: PipelineDeps): Promise<StageCompleteResult> {
  const byAccount = new Map(req.results.map((r) => [r.account, r]));
  const failures: string[] = [];
  const failedAccounts: string[] = [];
  for (const item of req.stage.accounts) {
    const outcome = byAccount.get(item.name);
    if (!outcome) {
      failedAccounts.push(item.name);
      failures.push(`account ${item.name}: no outcome was recorded`);
    } else if (!outcome.ok) {
      failedAccounts.push(item.name);
      failures.push(describeFailure(outcome));
    }
  }
  const failed = failures.length > 0;
  await deps.store.updateRun(req.execution, { currentStage: req.stage.name });
  if (failed) {
    const reason = `stage ${req.stage.name} ${req.phase === 'plan' ? 'plan ' : ''}failed: ${failures.join('; ')}`;
    deps.logger.warn('stage failed', { execution: req.execution, stage: req.stage.name, failedAccounts });
    return { failed, reason, failedAccounts, applyItems: [] };
  }

  // Going on to a later step: make sure this run still holds its branch (see LockLostError).
  const lock = await deps.store.getLock(req.run.repository, req.run.branch);
  if (lock.holder !== req.execution) throw new LockLostError(req.execution, lock.holder);

  let applyItems: AccountItem[] = [];
  if (req.phase === 'plan') {
    applyItems = req.stage.accounts.map((item) => {
      const outcome = byAccount.get(item.name)!;
      const approvedPlans: Record<string, string> = {};
      for (const m of outcome.modules) if (m.planSha256 && item.modules.includes(m.path)) approvedPlans[m.path] = m.planSha256;
      return { ...item, approvedPlans };
    });
    await notifyRun(
      deps,
      'awaiting-approval',
      {
        execution: req.execution,
        executionId: req.executionId ?? req.execution,
        repository: req.run.repository,
        branch: req.run.branch,
        commit: req.run.commit,
        stage: req.stage.name,
        plans: req.results.flatMap((r) => r.modules.filter((m) => m.plan).map((m) => ({ account: r.account, module: m.path, add: m.plan!.add, change: m.plan!.change, destroy: m.plan!.destroy }))),
      },
      'AWAITING_APPROVAL',
    );
  }
  return { failed: false, reason: `stage ${req.stage.name} ${req.phase} succeeded in ${req.stage.accounts.length} account(s)`, failedAccounts: [], applyItems };
}
