/**
 * Rollout waves and failure budgets: which accounts of a stage run in which wave, and whether a
 * stage may go on after a wave. Pure functions: the pipeline's gates, the local mode, the CLI
 * (`tfstep fleet`, `tfstep show`) and the benchmark all call these same ones, so a replay of a
 * push, or a listing of the fleet, always makes the same waves.
 *
 * Semantics (docs/waves.md):
 * - a wave is `{accounts: N}` or `{percent: P}`, each the CUMULATIVE share of the stage's
 *   accounts deployed once that wave is done: `[{accounts: 1}, {percent: 10}, {percent: 100}]`
 *   is one account, then up to 10% of the stage in all, then the rest. A percentage is rounded
 *   up (so 10% of 5 accounts is 1 account). A wave that would add no account is dropped.
 * - canary accounts come first, in the order they are named; the first wave holds at least
 *   all of them. The other accounts are ordered by SHA-256 of `<stage>/<account name>`: stable
 *   whatever the order of the config or of the fleet registry, and different in each stage.
 * - the failure budget `{count: N}` or `{percent: P}` (of the stage's accounts, rounded down)
 *   spans all the waves (and phases) of a stage: the stage stops after the first wave at whose
 *   end more accounts than that have failed.
 */
import { createHash } from 'node:crypto';

/** One wave: the cumulative number, or share, of the stage's accounts deployed once it is done. */
export type WaveSpec = { readonly accounts: number } | { readonly percent: number };

/** How many failed accounts a stage tolerates before it stops: a number, or a share of its accounts. */
export type FailureBudget = { readonly count: number } | { readonly percent: number };

/** A stage's rollout settings, as the config holds them. */
export interface RolloutConfig {
  /** @default - one wave of every account (today's behaviour) */
  readonly waves?: readonly WaveSpec[];
  /** Accounts of the stage that go first, in this order. @default - none */
  readonly canaries?: readonly string[];
}

/** The SHA-256 (hex) an account is ordered by within its stage. */
export function waveHash(stage: string, account: string): string {
  return createHash('sha256').update(`${stage}/${account}`).digest('hex');
}

/**
 * The order a stage's accounts roll out in: the canaries present in `accounts` (in the order they
 * are named), then the others by {@link waveHash}. Duplicate names count once.
 */
export function rolloutOrder(stage: string, accounts: readonly string[], canaries: readonly string[] = []): string[] {
  const present = new Set(accounts);
  const first = [...new Set(canaries)].filter((c) => present.has(c));
  const firstSet = new Set(first);
  const rest = [...present]
    .filter((a) => !firstSet.has(a))
    .map((a) => ({ a, h: waveHash(stage, a) }))
    .sort((x, y) => (x.h === y.h ? (x.a < y.a ? -1 : x.a > y.a ? 1 : 0) : x.h < y.h ? -1 : 1))
    .map((x) => x.a);
  return [...first, ...rest];
}

/** The cumulative number of accounts a wave reaches in a stage of `total` accounts. */
export function cumulativeTarget(spec: WaveSpec, total: number): number {
  const target = 'accounts' in spec ? spec.accounts : Math.ceil((spec.percent * total) / 100 - 1e-9);
  return Math.max(0, Math.min(total, target));
}

/**
 * How many accounts each wave adds, for a stage of `total` accounts with `canaryCount` canaries:
 * the first wave holds at least the canaries, the last wave everything left (the config requires
 * the last wave to be `{percent: 100}`; should it not be, the rest still goes in a last wave, so
 * no account is ever left out), and waves that would add nothing are dropped.
 */
export function waveSizes(total: number, waves: readonly WaveSpec[] | undefined, canaryCount = 0): number[] {
  if (total <= 0) return [];
  if (!waves || waves.length === 0) return [total];
  const sizes: number[] = [];
  let reached = 0;
  waves.forEach((spec, i) => {
    let target = cumulativeTarget(spec, total);
    if (i === 0) target = Math.max(target, Math.min(canaryCount, total));
    if (target > reached) {
      sizes.push(target - reached);
      reached = target;
    }
  });
  if (reached < total) sizes.push(total - reached);
  return sizes;
}

/**
 * The waves of a stage: each a list of account names, in rollout order. Together they hold every
 * account of `accounts` exactly once, whatever the order `accounts` is given in.
 */
export function assignWaves(stage: string, accounts: readonly string[], rollout: RolloutConfig = {}): string[][] {
  const order = rolloutOrder(stage, accounts, rollout.canaries);
  const canaryCount = (rollout.canaries ?? []).filter((c, i, all) => all.indexOf(c) === i && order.includes(c)).length;
  const sizes = waveSizes(order.length, rollout.waves, canaryCount);
  const waves: string[][] = [];
  let at = 0;
  for (const size of sizes) {
    waves.push(order.slice(at, at + size));
    at += size;
  }
  return waves;
}

/**
 * Each account's wave (0 first) in its stage: what `tfstep fleet` shows. Accounts are grouped by
 * `stage`; `rollouts` gives each stage's settings (a stage without an entry has one wave).
 */
export function waveMembership(
  accounts: readonly { readonly name: string; readonly stage: string }[],
  rollouts: Readonly<Record<string, RolloutConfig | undefined>>,
): Map<string, { readonly stage: string; readonly wave: number; readonly waves: number }> {
  const byStage = new Map<string, string[]>();
  for (const a of accounts) byStage.set(a.stage, [...(byStage.get(a.stage) ?? []), a.name]);
  const out = new Map<string, { stage: string; wave: number; waves: number }>();
  for (const [stage, names] of byStage) {
    const waves = assignWaves(stage, names, rollouts[stage] ?? {});
    waves.forEach((members, wave) => {
      for (const name of members) out.set(name, { stage, wave, waves: waves.length });
    });
  }
  return out;
}

/** How many failed accounts a budget tolerates in a stage of `total` accounts (a percentage rounds down). */
export function toleratedCount(budget: FailureBudget | undefined, total: number): number {
  if (!budget) return 0;
  if ('count' in budget) return budget.count;
  return Math.floor((budget.percent * total) / 100 + 1e-9);
}

/** What a stage does after one of its waves. */
export type WaveDecision =
  /** The budget holds and a later wave is left: start it (after the bake time). */
  | { readonly kind: 'next'; readonly nextWave: number; readonly tolerated: number; readonly failed: number }
  /** The budget holds and this was the last wave: the stage is done. */
  | { readonly kind: 'done'; readonly tolerated: number; readonly failed: number }
  /** More accounts failed than the budget tolerates: the stage stops, later waves never start. */
  | { readonly kind: 'stop'; readonly tolerated: number; readonly failed: number };

/**
 * The decision after wave `wave` of `waveCount` has finished.
 * @param failed accounts of the stage failed so far, in every wave and phase that ran
 * @param total the stage's accounts: what a percentage budget is a share of
 */
export function decideAfterWave(input: { readonly wave: number; readonly waveCount: number; readonly failed: number; readonly total: number; readonly budget?: FailureBudget }): WaveDecision {
  const tolerated = toleratedCount(input.budget, input.total);
  if (input.failed > tolerated) return { kind: 'stop', tolerated, failed: input.failed };
  if (input.wave + 1 < input.waveCount) return { kind: 'next', nextWave: input.wave + 1, tolerated, failed: input.failed };
  return { kind: 'done', tolerated, failed: input.failed };
}
