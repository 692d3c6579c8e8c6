/**
 * Waves inside a stage's phase: the phase's full item list stays in the artifacts store, and
 * the Map runs one wave's items at a time. `targets` starts the first phase of each stage at its
 * first wave, `start-waves` starts an approved apply phase the same way, and the stage gate
 * (./stage-complete.ts) hands the next wave to the Map while the failure budget holds. The
 * membership itself is the pure lib/planning/waves.ts; each account item carries its `wave`.
 */
import type { z } from 'zod';
import type { Config } from '../config/schema';
import { artifactKeys } from '../domain/runner-contract';
import type { RolloutConfig } from '../planning/waves';
import type { AccountItem, ItemsLocation, StageItem, StagePhase, StagePhaseName, StartWavesRequestSchema } from '../statemachine/contracts';
import { readItems, writeItems, type ItemsWriter } from '../statemachine/items';
import type { PipelineDeps } from './deps';
import { PipelineError } from './errors';

export type StartWavesRequest = z.infer<typeof StartWavesRequestSchema>;

/** A stage's rollout settings from the config (no waves: one wave). */
export function rolloutOf(config: Config, stage: string): RolloutConfig {
  const cfg = config.stages[stage];
  return { waves: cfg?.waves, canaries: cfg?.canaries };
}

/** Seconds to wait between two waves of a stage. */
export function bakeSecondsOf(config: Config, stage: string): number {
  return (config.stages[stage]?.bakeMinutes ?? 0) * 60;
}

/** The wave an item runs in (items written before waves have none: the first). */
export const waveOfItem = (item: AccountItem): number => item.wave ?? 0;

/**
 * The phase the Map runs for the first wave at or after `from` that holds any of `all`, or
 * undefined when no later wave holds any. A phase whose items all sit in one wave runs them
 * from `allLocation` itself, without writing a copy.
 */
export async function phaseAtWave(
  artifacts: ItemsWriter,
  input: {
    readonly execution: string;
    readonly stage: Pick<StageItem, 'index'>;
    readonly phase: StagePhaseName;
    readonly all: readonly AccountItem[];
    readonly allLocation: ItemsLocation;
    readonly waveCount: number;
    readonly from: number;
    /** The re-plan round (0 the first): its wave lists have keys of their own. */
    readonly round?: number;
    readonly approvalId?: string;
  },
): Promise<StagePhase | undefined> {
  const extra = input.approvalId !== undefined ? { approvalId: input.approvalId } : {};
  for (let wave = input.from; wave < input.waveCount; wave++) {
    // One wave (a plan phase, or a stage without waves): every item, whatever its `wave`.
    const members = input.waveCount === 1 ? input.all : input.all.filter((item) => waveOfItem(item) === wave);
    if (members.length === 0) continue;
    const waveInfo = { index: wave, count: input.waveCount, all: input.allLocation };
    if (members.length === input.all.length) return { name: input.phase, items: input.allLocation, ...extra, wave: waveInfo };
    const items = await writeItems(artifacts, artifactKeys.stageWaveItems(input.execution, input.stage.index, input.phase, wave, input.round ?? 0), members, input.execution);
    return { name: input.phase, items, ...extra, wave: waveInfo };
  }
  return undefined;
}

/** How many waves a stage's items span (their highest `wave` plus one). */
export function waveCountOf(items: readonly AccountItem[]): number {
  return items.reduce((n, item) => Math.max(n, waveOfItem(item) + 1), 1);
}

/** The start-waves action: an approved apply phase starts at its first wave that holds an approved item. */
export async function startWaves(req: StartWavesRequest, deps: PipelineDeps): Promise<StagePhase> {
  const [all, stageAccounts] = await Promise.all([readItems(deps.artifacts, req.phase.items), readItems(deps.artifacts, req.stage.accounts)]);
  const phase = await phaseAtWave(deps.artifacts, {
    execution: req.execution,
    stage: req.stage,
    phase: req.phase.name,
    all,
    allLocation: req.phase.items,
    waveCount: waveCountOf(stageAccounts),
    from: 0,
    round: req.round ?? 0,
    approvalId: req.phase.approvalId,
  });
  if (!phase) throw new PipelineError(`stage ${req.stage.name}: the ${req.phase.name} phase has no item in any wave`);
  return phase;
}
