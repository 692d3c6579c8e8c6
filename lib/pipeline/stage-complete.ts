/**
 * `stage-complete`: the gate after each Map. It reads the phase's item list and each account's
 * recorded outcome (not the Map's results, which stay out of the execution's state). The stage
 * fails when any account is not ok (its siblings have finished by then); after a plan phase it
 * writes the apply items, each carrying the SHA-256 of the plans just made (which the runner
 * checks before applying), and hands the approval their location.
 */
import type { z } from 'zod';
import { artifactKeys } from '../domain/runner-contract';
import { MAX_LISTED_FAILURES, type AccountItem, type AccountOutcome, type StageCompleteRequestSchema, type StageCompleteResultSchema } from '../statemachine/contracts';
import { applyItem, readItems, writeItems } from '../statemachine/items';
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
  const [items, outcomes] = await Promise.all([readItems(deps.artifacts, req.items), deps.store.listAccountOutcomes(req.execution, req.stage.name)]);
  // Only this phase's outcome counts: after a plan, an account that never applied still holds its plan outcome.
  const byAccount = new Map(outcomes.filter((o) => o.phase === req.phase).map((o) => [o.account, o]));
  const failures: string[] = [];
  const failedAccounts: string[] = [];
  for (const item of items) {
    const outcome = byAccount.get(item.name);
    if (!outcome) {
      failedAccounts.push(item.name);
      failures.push(`account ${item.name}: no outcome was recorded`);
    } else if (!outcome.ok) {
      failedAccounts.push(item.name);
      failures.push(describeFailure(outcome));
    }
  }
  await deps.store.updateRun(req.execution, { currentStage: req.stage.name });
  if (failures.length > 0) {
    const more = failures.length > MAX_LISTED_FAILURES ? `; and ${failures.length - MAX_LISTED_FAILURES} more account(s)` : '';
    const reason = `stage ${req.stage.name} ${req.phase === 'plan' ? 'plan ' : ''}failed in ${failures.length} of ${items.length} account(s): ${failures.slice(0, MAX_LISTED_FAILURES).join('; ')}${more}`;
    deps.logger.warn('stage failed', { execution: req.execution, stage: req.stage.name, failedAccounts });
    return { failed: true, reason, failedAccounts: failedAccounts.slice(0, MAX_LISTED_FAILURES), failedCount: failedAccounts.length };
  }

  // Going on to a later step: make sure this run still holds its branch (see LockLostError).
  const lock = await deps.store.getLock(req.run.repository, req.run.branch);
  if (lock.holder !== req.execution) throw new LockLostError(req.execution, lock.holder);

  const done = `stage ${req.stage.name} ${req.phase} succeeded in ${items.length} account(s)`;
  if (req.phase !== 'plan') return { failed: false, reason: done, failedAccounts: [], failedCount: 0 };

  const applyItems = items.map((item): AccountItem => {
    const outcome = byAccount.get(item.name)!;
    const approvedPlans: Record<string, string> = {};
    for (const m of outcome.modules) if (m.planSha256 && item.modules.includes(m.path)) approvedPlans[m.path] = m.planSha256;
    return applyItem(item, approvedPlans);
  });
  const location = await writeItems(deps.artifacts, artifactKeys.stageApplyItems(req.execution, req.stage.index), applyItems, req.execution);
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
      plans: items.flatMap((item) =>
        byAccount
          .get(item.name)!
          .modules.filter((m) => m.plan)
          .map((m) => ({ account: item.name, module: m.path, add: m.plan!.add, change: m.plan!.change, destroy: m.plan!.destroy })),
      ),
    },
    'AWAITING_APPROVAL',
  );
  return { failed: false, reason: done, failedAccounts: [], failedCount: 0, applyItems: location };
}
