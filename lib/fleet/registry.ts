/**
 * The fleet registry: one record per account the fleet rules ever deployed, kept in the run table
 * (lib/store/fleet.ts) so runs read the fleet at run time and a new account in an OU is deployed
 * without redeploying the central stack. Pure: {@link registryChanges} compares a refresh's
 * answer with the stored records and says which to write.
 *
 * An account that moves to another OU changes stage (its previous stage is kept); an account that
 * no longer matches any rule, or left the organization, is marked `left`, never deleted, so
 * `tfstep fleet` still shows what was applied there.
 */
import type { AccountConfig } from '../config/schema';
import type { FleetAccount, FleetSource } from './resolve';

/** The `action` of the payload the schedule sends the pipeline function to refresh the fleet. */
export const FLEET_REFRESH_ACTION = 'fleet-refresh';

/** One account's record in the registry. */
export interface FleetRecord {
  readonly id: string;
  readonly name: string;
  readonly stage: string;
  readonly region: string;
  readonly network?: AccountConfig['network'];
  readonly root?: string;
  readonly source: FleetSource;
  readonly orgName: string;
  readonly ouPath?: string;
  /** `active`: deployed by runs; `left`: no rule matches it any more (or it left the organization). */
  readonly status: 'active' | 'left';
  readonly firstSeenAt: string;
  /** When stage, defaults, source or status last changed. */
  readonly changedAt: string;
  /** The stage before the last move. */
  readonly previousStage?: string;
  readonly leftAt?: string;
}

/** The refresh's summary, kept beside the records. */
export interface FleetRefreshRecord {
  readonly refreshedAt: string;
  /** `organizations` or `file`. */
  readonly from: string;
  readonly active: number;
  readonly added: number;
  readonly moved: number;
  readonly left: number;
}

/** The account config of an active record: what a run deploys. */
export function accountOfRecord(record: FleetRecord): AccountConfig {
  return {
    name: record.name,
    id: record.id,
    region: record.region,
    stage: record.stage,
    ...(record.network ? { network: record.network } : {}),
    ...(record.root ? { root: record.root } : {}),
  };
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** What a refresh writes. */
export interface RegistryChanges {
  readonly put: FleetRecord[];
  readonly added: number;
  readonly moved: number;
  readonly left: number;
  readonly active: number;
}

/**
 * Compares the resolved fleet with the stored records. Only records that change are written, so
 * a refresh of an unchanged fleet of 10,000 accounts writes nothing but its summary.
 */
export function registryChanges(previous: readonly FleetRecord[], resolved: readonly FleetAccount[], now: string): RegistryChanges {
  const before = new Map(previous.map((r) => [r.id, r]));
  const put: FleetRecord[] = [];
  let added = 0;
  let moved = 0;
  let left = 0;
  const seen = new Set<string>();
  for (const f of resolved) {
    seen.add(f.account.id);
    const old = before.get(f.account.id);
    const next: FleetRecord = {
      id: f.account.id,
      name: f.account.name,
      stage: f.account.stage,
      region: f.account.region,
      ...(f.account.network ? { network: f.account.network } : {}),
      ...(f.account.root ? { root: f.account.root } : {}),
      source: f.source,
      orgName: f.orgName,
      ...(f.ouPath !== undefined ? { ouPath: f.ouPath } : {}),
      status: 'active',
      firstSeenAt: old?.firstSeenAt ?? now,
      changedAt: now,
      ...(old && old.stage !== f.account.stage ? { previousStage: old.stage } : old?.previousStage ? { previousStage: old.previousStage } : {}),
    };
    if (!old || old.status === 'left') added++;
    else if (old.status === 'active' && old.stage !== next.stage) moved++;
    if (old && same({ ...old, changedAt: '' }, { ...next, changedAt: '' })) continue;
    put.push(next);
  }
  for (const old of previous) {
    if (seen.has(old.id) || old.status === 'left') continue;
    left++;
    put.push({ ...old, status: 'left', leftAt: now, changedAt: now });
  }
  return { put, added, moved, left, active: resolved.length };
}
