/**
 * `tfstep fleet`: every account a run can deploy (listed in the config, or in the fleet registry)
 * with its stage, where it came from and the last applied commit of each of its modules.
 */
import { z } from 'zod';
import type { Config } from '../config/schema';
import type { FleetRecord, FleetRefreshRecord } from '../fleet/registry';
import { waveMembership } from '../planning/waves';
import type { RunStore } from '../store/run-store';

const AppliedSchema = z.object({ repository: z.string(), module: z.string(), commit: z.string(), appliedAt: z.string() }).strict();

/** One row of `tfstep fleet --json`. */
export const FleetRowSchema = z
  .object({
    name: z.string(),
    id: z.string(),
    stage: z.string(),
    /**
     * The account's wave in its stage as `<wave>/<waves>` (`1/1` for a stage without waves), when
     * every active account of the stage deploys; null for an account that left. A run that deploys
     * only some accounts forms its waves from those.
     */
    wave: z.string().nullable(),
    region: z.string(),
    /** `explicit` (listed in the config), `ou` or `tag`. */
    source: z.enum(['explicit', 'ou', 'tag']),
    /** The OU path or `key=value` tag that matched; empty for listed accounts. */
    matched: z.string(),
    /** `active`, or `left`: no fleet rule matches it any more, nothing more is deployed there. */
    status: z.enum(['active', 'left']),
    /** The stage before its last move between OUs. */
    previousStage: z.string().optional(),
    /** Last applied commit per module, across repositories. */
    applied: z.array(AppliedSchema),
  })
  .strict();

export const FleetOutputSchema = z
  .object({
    accounts: z.array(FleetRowSchema),
    /** The last fleet refresh; absent before the first. */
    lastRefresh: z.object({ refreshedAt: z.string(), from: z.string(), active: z.number(), added: z.number(), moved: z.number(), left: z.number() }).strict().optional(),
  })
  .strict();

export type FleetRow = z.infer<typeof FleetRowSchema>;
export type FleetOutput = z.infer<typeof FleetOutputSchema>;

function matchedOf(record: FleetRecord): string {
  if (record.source.kind === 'ou') return record.source.ouPath;
  if (record.source.kind === 'tag') return `${record.source.key}=${record.source.value}`;
  return '';
}

/** Builds the listing from the config and the run table (listed accounts first, then the fleet by id). */
export async function fleetListing(config: Config, store: RunStore): Promise<FleetOutput> {
  const [records, lastRefresh, applied] = await Promise.all([
    config.fleet ? store.fleet.list() : Promise.resolve([]),
    config.fleet ? store.fleet.lastRefresh() : Promise.resolve(undefined),
    Promise.all(config.repositories.map((r) => store.listApplied(r.fullName))),
  ]);
  const byAccount = new Map<string, z.infer<typeof AppliedSchema>[]>();
  for (const a of applied.flat()) {
    const list = byAccount.get(a.account) ?? [];
    list.push({ repository: a.repository, module: a.module, commit: a.commit, appliedAt: a.appliedAt });
    byAccount.set(a.account, list);
  }
  const appliedOf = (name: string) => (byAccount.get(name) ?? []).sort((x, y) => `${x.repository}#${x.module}`.localeCompare(`${y.repository}#${y.module}`));
  const listed = new Set(config.accounts.map((a) => a.id));
  const rows: { -readonly [K in keyof FleetRow]: FleetRow[K] }[] = [
    ...config.accounts.map((a) => ({ name: a.name, id: a.id, stage: a.stage, wave: null, region: a.region, source: 'explicit' as const, matched: '', status: 'active' as const, applied: appliedOf(a.name) })),
    ...records
      .filter((r) => !listed.has(r.id))
      .map((r) => ({
        name: r.name,
        id: r.id,
        stage: r.stage,
        wave: null,
        region: r.region,
        source: r.source.kind,
        matched: matchedOf(r),
        status: r.status,
        ...(r.previousStage ? { previousStage: r.previousStage } : {}),
        applied: appliedOf(r.name),
      })),
  ];
  // Waves are formed over the stage's active accounts, as lib/planning/waves.ts forms them.
  const waves = waveMembership(
    rows.filter((r) => r.status === 'active'),
    config.stages,
  );
  for (const row of rows) {
    const w = waves.get(row.name);
    if (w && row.status === 'active') row.wave = `${w.wave + 1}/${w.waves}`;
  }
  return FleetOutputSchema.parse({ accounts: rows, ...(lastRefresh ? { lastRefresh: pickRefresh(lastRefresh) } : {}) });
}

function pickRefresh(r: FleetRefreshRecord): FleetRefreshRecord {
  return { refreshedAt: r.refreshedAt, from: r.from, active: r.active, added: r.added, moved: r.moved, left: r.left };
}
