/**
 * The fleet at run time: the refresh that reads the organization into the registry (on a
 * schedule, on `tfstep fleet refresh`, and in the local mode before each run), and the config a
 * run plans with, whose accounts are the listed ones plus the registry's active ones.
 */
import type { AccountConfig, Config } from '../config/schema';
import { configWithFleet, resolveFleet } from '../fleet/resolve';
import { accountOfRecord, registryChanges, type FleetRefreshRecord } from '../fleet/registry';
import { readOrganization, type OrganizationsReader } from '../fleet/walk';
import type { Logger } from '../log';
import type { RunStore } from '../store/run-store';

export { FLEET_REFRESH_ACTION } from '../fleet/registry';

/** What a refresh needs. */
export interface FleetRefreshDeps {
  readonly config: Config;
  readonly store: RunStore;
  /** Organizations, or the fleet file standing in for it. */
  readonly reader: OrganizationsReader;
  /** `organizations` or `file`, recorded with the refresh. */
  readonly from: string;
  readonly clock: () => Date;
  readonly logger?: Logger;
}

/**
 * Reads the organization, resolves the rules and writes what changed. Nothing is written unless
 * the whole organization was read: a refresh that fails half-way leaves the registry as it was.
 */
export async function refreshFleet(deps: FleetRefreshDeps): Promise<FleetRefreshRecord> {
  const { config } = deps;
  if (!config.fleet) return { refreshedAt: deps.clock().toISOString(), from: deps.from, active: 0, added: 0, moved: 0, left: 0 };
  const snapshot = await readOrganization(deps.reader, config.fleet);
  const resolved = resolveFleet(config, snapshot);
  const now = deps.clock().toISOString();
  const changes = registryChanges(await deps.store.fleet.list(), resolved, now);
  const summary: FleetRefreshRecord = { refreshedAt: now, from: deps.from, active: changes.active, added: changes.added, moved: changes.moved, left: changes.left };
  await deps.store.fleet.write(changes.put, summary);
  deps.logger?.info('fleet refreshed', { ...summary, written: changes.put.length, organizationAccounts: snapshot.accounts.length });
  return summary;
}

/** The registry's active accounts (none without a fleet section). */
export async function fleetAccounts(config: Config, store: RunStore): Promise<AccountConfig[]> {
  if (!config.fleet) return [];
  return (await store.fleet.active()).map(accountOfRecord);
}

/** The config a run plans with: the listed accounts and the registry's. */
export async function runConfig(config: Config, store: RunStore): Promise<Config> {
  return configWithFleet(config, await fleetAccounts(config, store));
}
