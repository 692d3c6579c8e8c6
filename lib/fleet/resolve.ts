/**
 * Fleet resolution: which accounts of the organization deploy, in which stage, with which
 * defaults. Pure: the organization arrives as an {@link OrgSnapshot} read beforehand (from AWS
 * Organizations or a fleet file, ./walk.ts), so AWS, the local mode and tests get the same answer.
 *
 * Precedence, most specific first: an account listed under `accounts:` (by id); then the first
 * matching tag rule, in config order; then the deepest matching OU rule (an account in
 * `/workloads/prod/team-a` matched by rules for `/workloads/prod` and `/workloads/prod/team-a`
 * takes the second). Only ACTIVE accounts deploy.
 */
import type { AccountConfig, Config, FleetConfig, NetworkConfig } from '../config/schema';
import { FleetError } from './errors';

/** One account as the organization shows it. */
export interface OrgAccount {
  readonly id: string;
  /** The account's name in Organizations (free text). */
  readonly name: string;
  /** `ACTIVE`, `SUSPENDED`, `PENDING_CLOSURE`, ...: only ACTIVE accounts deploy. */
  readonly state: string;
  /** Its OU chain from the root down: ids and the path of names (`/workloads/prod`; `/` at the root). Absent when only tags were read. */
  readonly ou?: { readonly ids: readonly string[]; readonly path: string };
  /** Its tags, when tag rules asked for them. */
  readonly tags?: Readonly<Record<string, string>>;
}

/** What was read from the organization for one refresh. */
export interface OrgSnapshot {
  readonly accounts: readonly OrgAccount[];
  /** Each OU rule's OU as found: its id and path (index of `fleet.ous`). */
  readonly ous: readonly { readonly id: string; readonly path: string }[];
}

/** Where a fleet account came from. */
export type FleetSource =
  | { readonly kind: 'ou'; readonly ouPath: string; readonly ouId: string }
  | { readonly kind: 'tag'; readonly key: string; readonly value: string }
  | { readonly kind: 'explicit' };

/** An account the fleet rules deploy. */
export interface FleetAccount {
  readonly account: AccountConfig;
  readonly source: FleetSource;
  /** Its name in Organizations. */
  readonly orgName: string;
  /** Its OU path, when known. */
  readonly ouPath?: string;
}

/** The prefix of a fleet account's tfstep name. */
export const FLEET_NAME_PREFIX = 'acct-';

/**
 * The tfstep name of a fleet account: `acct-<id>`. Organizations names are free text and can be
 * renamed; the id is stable, unique and fits the config's name rule (a letter first, at most 31
 * characters), so target records, artifact keys and the runner policy never move. List the
 * account under `accounts:` to give it another name.
 */
export function fleetAccountName(id: string): string {
  return `${FLEET_NAME_PREFIX}${id}`;
}

/** Whether `path` is `ou` or below it. */
function pathUnder(path: string, ou: string): boolean {
  return path === ou || path.startsWith(`${ou}/`);
}

function accountOf(id: string, rule: { stage: string; region: string; network?: NetworkConfig; root?: string }): AccountConfig {
  return {
    name: fleetAccountName(id),
    id,
    region: rule.region,
    stage: rule.stage,
    ...(rule.network ? { network: rule.network } : {}),
    ...(rule.root ? { root: rule.root } : {}),
  };
}

/**
 * The accounts the fleet rules deploy, sorted by id. Accounts listed under `accounts:` are left
 * out (they are deployed as listed); {@link effectiveAccounts} puts both together.
 */
export function resolveFleet(config: Config, snapshot: OrgSnapshot): FleetAccount[] {
  const fleet: FleetConfig | undefined = config.fleet;
  if (!fleet) return [];
  if (snapshot.ous.length !== fleet.ous.length) throw new FleetError(`the organization snapshot names ${snapshot.ous.length} OUs for ${fleet.ous.length} OU rules`);
  const explicit = new Set(config.accounts.map((a) => a.id));
  const out: FleetAccount[] = [];
  for (const org of snapshot.accounts) {
    if (org.state !== 'ACTIVE' || explicit.has(org.id)) continue;
    const tagRule = fleet.tags.find((rule) => org.tags?.[rule.tag.key] === rule.tag.value);
    if (tagRule) {
      out.push({ account: accountOf(org.id, tagRule), source: { kind: 'tag', key: tagRule.tag.key, value: tagRule.tag.value }, orgName: org.name, ...(org.ou ? { ouPath: org.ou.path } : {}) });
      continue;
    }
    if (!org.ou) continue;
    let best: { index: number; depth: number } | undefined;
    fleet.ous.forEach((_rule, index) => {
      const found = snapshot.ous[index]!;
      if (!org.ou!.ids.includes(found.id) && !pathUnder(org.ou!.path, found.path)) return;
      const depth = found.path === '/' ? 0 : found.path.split('/').length - 1;
      if (!best || depth > best.depth) best = { index, depth };
    });
    if (!best) continue;
    const rule = fleet.ous[best.index]!;
    const found = snapshot.ous[best.index]!;
    out.push({ account: accountOf(org.id, rule), source: { kind: 'ou', ouPath: found.path, ouId: found.id }, orgName: org.name, ouPath: org.ou.path });
  }
  return out.sort((a, b) => a.account.id.localeCompare(b.account.id));
}

/**
 * The accounts a run deploys: those listed under `accounts:`, then the fleet's (from the registry)
 * whose id is not listed. Listed ones come first and keep their order, so plans stay stable.
 */
export function effectiveAccounts(config: Config, fleet: readonly AccountConfig[]): AccountConfig[] {
  const listed = new Set(config.accounts.map((a) => a.id));
  const names = new Set(config.accounts.map((a) => a.name));
  const extra = fleet.filter((a) => !listed.has(a.id) && !names.has(a.name) && a.stage in config.stages).sort((a, b) => a.id.localeCompare(b.id));
  return [...config.accounts, ...extra];
}

/** The config a run plans with: its accounts are {@link effectiveAccounts}. */
export function configWithFleet(config: Config, fleet: readonly AccountConfig[]): Config {
  if (fleet.length === 0) return config;
  return { ...config, accounts: effectiveAccounts(config, fleet) };
}
