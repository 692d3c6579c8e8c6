/**
 * `stage-complete`: the gate after each Map. It reads the phase's item list and each account's
 * recorded outcome (not the Map's results, which stay out of the execution's state). The stage
 * fails when any account is not ok (its siblings have finished by then); after a plan phase it
 * writes the apply items, each carrying the SHA-256 of the plans just made (which the runner
 * checks before applying), and hands the approval their location.
 */
import { createHash } from 'node:crypto';
import type { z } from 'zod';
import { artifactKeys } from '../domain/runner-contract';
import {
  MAX_LISTED_FAILURES,
  type AccountItem,
  type AccountOutcome,
  type ReplanNotes,
  type StageCompleteRequestSchema,
  type StageCompleteResultSchema,
} from '../statemachine/contracts';
import { applyItem, readItems, replanItem, writeItems } from '../statemachine/items';
import { heldBack, mayChangeMark } from '../domain/replan';
import { mapLimit } from '../domain/concurrency';
import { PlanSummarySchema, type PlanSummary } from '../domain/runner-contract';
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

  const round = req.round ?? 0;
  if (decision.kind === 'next' && wave) {
    const next = await phaseAtWave(deps.artifacts, {
      execution: req.execution,
      stage: req.stage,
      phase: req.phase,
      all: await readItems(deps.artifacts, wave.all),
      allLocation: wave.all,
      waveCount,
      from: decision.nextWave,
      round,
      approvalId: req.stage.phase.approvalId,
    });
    if (next) {
      const reason = `stage ${req.stage.name} ${req.phase} ${waveText}succeeded in ${items.length - failedAccounts.length} of ${items.length} account(s)${toleratedText}; next: wave ${(next.wave?.index ?? 0) + 1}`;
      deps.logger.info('wave done', { execution: req.execution, stage: req.stage.name, wave: waveIndex, next: next.wave?.index });
      return { failed: false, reason, failedAccounts: failedAccounts.slice(0, MAX_LISTED_FAILURES), failedCount: decision.failed, nextWave: next, bakeSeconds: bakeSecondsOf(deps.config, req.stage.name) };
    }
  }

  const done = `stage ${req.stage.name} ${req.phase} ${waveText}succeeded in ${items.length - failedAccounts.length} of ${items.length} account(s)${toleratedText}`;
  if (req.phase === 'apply' || req.phase === 'plan-and-apply') {
    // After the phase's last wave: the modules held back in any of its waves are planned and
    // approved again together (earlier waves' apply outcomes are still the accounts' latest).
    const applied = wave && waveCount > 1 ? await readItems(deps.artifacts, wave.all) : items;
    const replan = await planHeldBackAgain(req, deps, applied.filter((item) => byAccount.get(item.name)?.ok === true), byAccount, round);
    if (replan) return { failed: false, reason: replan.reason, failedAccounts: failedAccounts.slice(0, MAX_LISTED_FAILURES), failedCount: decision.failed, replan: replan.next };
  }
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
  const location = await writeItems(deps.artifacts, artifactKeys.stageApplyItems(req.execution, req.stage.index, round), applyItems, req.execution);
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
          .map((m) => ({
            account: item.name,
            module: m.path,
            add: m.plan!.add,
            change: m.plan!.change,
            destroy: m.plan!.destroy,
            ...(m.mayChangeAfter?.length ? { note: mayChangeMark(m.mayChangeAfter) } : {}),
          })),
      ),
      ...(round > 0 ? { reason: `approval asked again (round ${round}): these plans were made again after their upstream modules applied, and changed` } : {}),
    },
    'AWAITING_APPROVAL',
  );
  return { failed: false, reason: done, failedAccounts: failedAccounts.slice(0, MAX_LISTED_FAILURES), failedCount: decision.failed, applyItems: location };
}

/**
 * After an apply: the modules held back because their plans changed once their upstreams applied
 * (and the modules below them). When there are any, writes the plan items of the next round (those
 * modules alone, on the plan task definition, whose plans the account records) and the notes the
 * next approval shows, and answers where they are. Nothing held back is lost: the state machine
 * plans them again and asks for approval again before anything of theirs applies.
 */
async function planHeldBackAgain(
  req: StageCompleteRequest,
  deps: PipelineDeps,
  items: readonly AccountItem[],
  byAccount: ReadonlyMap<string, AccountOutcome>,
  round: number,
): Promise<{ reason: string; next: NonNullable<StageCompleteResult['replan']> } | undefined> {
  const held = items
    .map((item) => ({ item, outcome: byAccount.get(item.name)!, held: heldBack(byAccount.get(item.name)!.modules.map(heldInput)) }))
    .filter((a) => a.held.size > 0);
  if (held.length === 0) return undefined;
  const next = round + 1;
  const replanItems = held.map(({ item, held: h }) => replanItem(item, [...h.keys()]));
  const location = await writeItems(deps.artifacts, artifactKeys.stageReplanItems(req.execution, req.stage.index, next), replanItems, req.execution);

  const work = held.flatMap(({ item, outcome, held: h }) => [...h].map(([module, why]) => ({ item, outcome, module, why })));
  const modules = await mapLimit(work, 8, async ({ item, outcome, module, why }): Promise<ReplanNotes['modules'][number]> => {
    const result = outcome.modules.find((m) => m.path === module);
    const approvedSha256 = item.approvedPlans[module];
    // The approved plan's summary: from the apply task when it planned the module again, else the plan task's summary.
    const approved = result?.replan?.approvedPlan ?? (await readSummary(deps, artifactKeys.summary(req.execution, item.name, module)));
    return {
      account: item.name,
      module,
      reason: why.reason,
      ...(why.reason === 'upstream-held' ? { upstream: why.upstream } : {}),
      ...(approvedSha256 ? { approvedSha256 } : {}),
      ...(approved ? { approved } : {}),
      ...(result?.replan ? { replanned: result.replan.plan } : {}),
      ...(result?.replan?.differences ? { differences: result.replan.differences } : {}),
    };
  });
  const notes: ReplanNotes = { round: next, ...(req.stage.phase.approvalId ? { previousApprovalId: req.stage.phase.approvalId } : {}), modules };
  const body = `${JSON.stringify(notes)}\n`;
  const key = artifactKeys.stageReplanNotes(req.execution, req.stage.index, next);
  await deps.artifacts.put(key, body);
  const changed = modules.filter((m) => m.reason === 'changed').length;
  const byPolicy = modules.filter((m) => m.reason === 'policy').length;
  const why = [
    changed > 0 ? `${changed} planned again after their upstreams applied and changed` : '',
    byPolicy > 0 ? `${byPolicy} stopped by the plan policies (warn or deny)` : '',
    `${modules.length - changed - byPolicy} below them`,
  ].filter(Boolean);
  const reason = `stage ${req.stage.name} ${req.phase} held back ${modules.length} module(s) in ${held.length} account(s) for ${byPolicy > 0 && changed === 0 ? 'approval' : 'a new approval'}: ${why.join(', ')}`;
  deps.logger.info('modules held back for a new approval', { execution: req.execution, stage: req.stage.name, round: next, modules: modules.length });
  return { reason, next: { items: location, round: next, notes: { key, sha256: createHash('sha256').update(body).digest('hex') } } };
}

/** What {@link heldBack} reads of a module's outcome. */
function heldInput(m: AccountOutcome['modules'][number]): Parameters<typeof heldBack>[0][number] {
  return { path: m.path, status: m.status, skippedBecause: m.skippedBecause, policyStatus: m.policy?.status, replanned: m.replan !== undefined };
}

async function readSummary(deps: PipelineDeps, key: string): Promise<PlanSummary | undefined> {
  const body = await deps.artifacts.get(key);
  if (!body) return undefined;
  try {
    return PlanSummarySchema.parse(JSON.parse(body.toString('utf8')));
  } catch {
    return undefined;
  }
}
