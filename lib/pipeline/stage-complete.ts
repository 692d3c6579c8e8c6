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
import { decideAfterWave } from '../planning/waves';
import { bakeSecondsOf, phaseAtWave, waveOfItem } from './waves';

export type StageCompleteRequest = z.infer<typeof StageCompleteRequestSchema>;
export type StageCompleteResult = z.infer<typeof StageCompleteResultSchema>;

/** One line per failed account: which modules, and why. */
export function describeFailure(outcome: AccountOutcome): string {
  const bad = outcome.modules.filter((m) => !['planned', 'applied'].includes(m.status));
  const mods = bad.length ? ` (${bad.map((m) => `${m.path} ${m.status}`).join(', ')})` : '';
  return `account ${outcome.account}${mods}: ${outcome.reason ?? 'failed'}`;
}

/** What a failure budget tolerates, in words. */
function budgetText(tolerated: number): string {
  return tolerated === 0 ? 'no failure tolerated' : `${tolerated} failure(s) tolerated`;
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
  // The failure budget spans the stage's waves and phases: accounts failed in an earlier wave (or
  // whose plan failed within the budget) still count.
  const inThisWave = new Set(items.map((i) => i.name));
  const earlier = outcomes.filter((o) => !o.ok && !inThisWave.has(o.account));
  const wave = req.stage.phase.wave;
  const waveIndex = wave?.index ?? 0;
  const waveCount = req.phase === 'plan' ? 1 : (wave?.count ?? 1);
  const decision = decideAfterWave({
    wave: waveIndex,
    waveCount,
    failed: failedAccounts.length + earlier.length,
    total: req.stage.accounts.count,
    budget: deps.config.stages[req.stage.name]?.toleratedFailures,
  });
  const waved = waveCount > 1;
  const waveText = waved ? `wave ${waveIndex + 1} of ${waveCount}: ` : '';
  await deps.store.updateRun(req.execution, { currentStage: req.stage.name });
  if (decision.kind === 'stop') {
    const all = [...failures, ...earlier.map(describeFailure)];
    const more = all.length > MAX_LISTED_FAILURES ? `; and ${all.length - MAX_LISTED_FAILURES} more account(s)` : '';
    let notStarted = '';
    if (waved && wave && waveIndex + 1 < waveCount) {
      const later = (await readItems(deps.artifacts, wave.all)).filter((i) => waveOfItem(i) > waveIndex);
      if (later.length > 0) notStarted = `; ${later.length} account(s) in later waves never started`;
    }
    const budget = decision.tolerated > 0 || earlier.length > 0 ? ` (${decision.failed} failed in the stage, ${budgetText(decision.tolerated)})` : '';
    const reason = `stage ${req.stage.name} ${req.phase === 'plan' ? 'plan ' : ''}${waveText}failed in ${failures.length} of ${items.length} account(s)${budget}: ${all.slice(0, MAX_LISTED_FAILURES).join('; ')}${more}${notStarted}`;
    deps.logger.warn('stage failed', { execution: req.execution, stage: req.stage.name, wave: waveIndex, failedAccounts });
    return { failed: true, reason, failedAccounts: [...failedAccounts, ...earlier.map((o) => o.account)].slice(0, MAX_LISTED_FAILURES), failedCount: decision.failed };
  }
  const toleratedText = decision.failed > 0 ? `; ${decision.failed} account(s) failed, within the budget (${budgetText(decision.tolerated)}): ${[...failures, ...earlier.map(describeFailure)].slice(0, MAX_LISTED_FAILURES).join('; ')}` : '';

  // Going on to a later step: make sure this run still holds its branch (see LockLostError).
  const lock = await deps.store.getLock(req.run.repository, req.run.branch);
  if (lock.holder !== req.execution) throw new LockLostError(req.execution, lock.holder);

  if (decision.kind === 'next' && wave) {
    const next = await phaseAtWave(deps.artifacts, {
      execution: req.execution,
      stage: req.stage,
      phase: req.phase,
      all: await readItems(deps.artifacts, wave.all),
      allLocation: wave.all,
      waveCount,
      from: decision.nextWave,
      approvalId: req.stage.phase.approvalId,
    });
    if (next) {
      const reason = `stage ${req.stage.name} ${req.phase} ${waveText}succeeded in ${items.length - failedAccounts.length} of ${items.length} account(s)${toleratedText}; next: wave ${(next.wave?.index ?? 0) + 1}`;
      deps.logger.info('wave done', { execution: req.execution, stage: req.stage.name, wave: waveIndex, next: next.wave?.index });
      return { failed: false, reason, failedAccounts: failedAccounts.slice(0, MAX_LISTED_FAILURES), failedCount: decision.failed, nextWave: next, bakeSeconds: bakeSecondsOf(deps.config, req.stage.name) };
    }
  }

  const done = `stage ${req.stage.name} ${req.phase} ${waveText}succeeded in ${items.length - failedAccounts.length} of ${items.length} account(s)${toleratedText}`;
  if (req.phase !== 'plan') return { failed: false, reason: done, failedAccounts: failedAccounts.slice(0, MAX_LISTED_FAILURES), failedCount: decision.failed };

  // Within the budget, an account whose plan failed is left out of the approval and the apply.
  const planned = items.filter((item) => byAccount.get(item.name)?.ok === true);
  if (planned.length === 0) {
    return { failed: true, reason: `stage ${req.stage.name} plan failed in every account: ${failures.slice(0, MAX_LISTED_FAILURES).join('; ')}`, failedAccounts: failedAccounts.slice(0, MAX_LISTED_FAILURES), failedCount: failedAccounts.length };
  }
  const applyItems = planned.map((item): AccountItem => {
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
      plans: planned.flatMap((item) =>
        byAccount
          .get(item.name)!
          .modules.filter((m) => m.plan)
          .map((m) => ({ account: item.name, module: m.path, add: m.plan!.add, change: m.plan!.change, destroy: m.plan!.destroy })),
      ),
    },
    'AWAITING_APPROVAL',
  );
  return { failed: false, reason: done, failedAccounts: failedAccounts.slice(0, MAX_LISTED_FAILURES), failedCount: decision.failed, applyItems: location };
}
