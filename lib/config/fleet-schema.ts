/**
 * The `fleet:` section of the config: accounts taken from AWS Organizations rather than listed
 * one by one. Organizational units (by path or id) and account tags map accounts to stages, with
 * defaults for region, network and repository root; an account listed under `accounts:` overrides
 * whatever a rule says about it.
 *
 * The schema is built from the config's own field schemas ({@link fleetSchemaOf}), so a region or
 * network is checked exactly like an explicit account's.
 */
import { z } from 'zod';

/** The field schemas of the config the fleet rules reuse. */
export interface FleetSchemaParts<N extends z.ZodTypeAny> {
  readonly name: z.ZodType<string>;
  readonly region: z.ZodType<string>;
  readonly accountId: z.ZodType<string>;
  readonly roleArn: z.ZodType<string>;
  readonly network: N;
  readonly root: z.ZodType<string>;
}

/** An OU path as shown by the Organizations console: `/workloads/prod` (names below the root). */
export const OU_PATH = /^(\/[^/\s][^/]{0,127})+$/;
/** An OU id (`ou-` + root part + OU part) or the root's id (`r-...`). */
export const OU_ID = /^(ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|r-[0-9a-z]{4,32})$/;

/** Builds the `fleet:` schema from the config's field schemas. */
export function fleetSchemaOf<N extends z.ZodTypeAny>(parts: FleetSchemaParts<N>) {
  const defaults = {
    /** The stage the matched accounts deploy in. */
    stage: parts.name,
    /** The accounts' region (Terraform's default region in their runner). */
    region: parts.region,
    /** Where their runner tasks run; `tfstep validate` requires one for AWS. */
    network: parts.network.optional(),
    /**
     * The accounts' directory in the repository. @default - `layout.accountRoot`; a root without
     * `{account}` is shared: each of its modules is deployed in every matched account.
     */
    root: parts.root.optional(),
  };
  const OuRule = z
    .object({
      /** The OU by path from the root, such as `/workloads/prod`. */
      path: z.string().regex(OU_PATH, 'an OU path from the root such as /workloads/prod').optional(),
      /** The OU by id (`ou-...`); the StackSet path needs it. With `path` too, both must name the same OU. */
      id: z.string().regex(OU_ID, 'an OU id such as ou-ab12-cd34ef56 (or a root id r-ab12)').optional(),
      ...defaults,
    })
    .strict()
    .refine((rule) => rule.path !== undefined || rule.id !== undefined, { message: 'an OU named by path (/workloads/prod), by id (ou-...), or both' });
  const TagRule = z
    .object({
      /** The account tag, as `key` and `value`: `tfstep:stage` = `prod`. */
      tag: z
        .object({
          key: z.string().min(1).max(128),
          value: z.string().max(256),
        })
        .strict(),
      ...defaults,
    })
    .strict();
  return z
    .object({
      /**
       * Where the central side reads Organizations: a role in the management account or in a
       * delegated administrator account, trusted by the central account (docs/fleet.md).
       */
      organizations: z
        .object({
          /** The organization's id: launcher roles and artifact writers are trusted within it only. */
          id: z.string().regex(/^o-[a-z0-9]{10,32}$/, 'an organization id such as o-a1b2c3d4e5'),
          /** The role the fleet refresh assumes to call Organizations. */
          roleArn: parts.roleArn,
          /** Minutes between scheduled refreshes of the fleet registry. */
          refreshMinutes: z.number().int().min(5).max(24 * 60).default(60),
        })
        .strict()
        .optional(),
      /** The local mode's stand-in for Organizations: a YAML or JSON fleet file, relative to the config. */
      file: z.string().min(1).optional(),
      /** Organizational units whose accounts (in child OUs too) deploy; the deepest matching OU wins. */
      ous: z.array(OuRule).default([]),
      /** Account tags; a matching tag rule (the first, in this order) wins over an OU rule. */
      tags: z.array(TagRule).default([]),
      /**
       * The account stacks of the fleet as one service-managed StackSet targeting the OUs above
       * (docs/fleet.md). Without it, no StackSet is synthesized.
       */
      stackSet: z
        .object({
          /** Where the StackSet is created: the management account or a delegated administrator. */
          account: parts.accountId,
          /** `DELEGATED_ADMIN` when `account` is a delegated administrator, `SELF` for the management account. */
          callAs: z.enum(['SELF', 'DELEGATED_ADMIN']).default('DELEGATED_ADMIN'),
          /** More OUs to deploy the runner stack to, such as where tag-matched accounts live. */
          extraOrganizationalUnitIds: z.array(z.string().regex(OU_ID, 'an OU id such as ou-ab12-cd34ef56')).default([]),
          /** At most this percentage of accounts is deployed at once. */
          maxConcurrentPercentage: z.number().int().min(1).max(100).default(25),
          /** The StackSet operation stops once more than this percentage of accounts failed. */
          failureTolerancePercentage: z.number().int().min(0).max(100).default(0),
        })
        .strict()
        .optional(),
    })
    .strict();
}

interface Problem {
  readonly path: (string | number)[];
  readonly message: string;
}

function rec(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
function arr(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** The stages the fleet rules deploy to (read defensively, like the other cross-field checks). */
export function fleetStages(cfg: unknown): Set<string> {
  const fleet = rec(rec(cfg).fleet);
  const stages = new Set<string>();
  for (const rule of [...arr(fleet.ous), ...arr(fleet.tags)]) {
    const stage = rec(rule).stage;
    if (typeof stage === 'string') stages.add(stage);
  }
  return stages;
}

/** Cross-field problems of the `fleet:` section: unknown stages, duplicate rules, nothing to read. */
export function fleetCrossFieldProblems(cfg: unknown): Problem[] {
  const root = rec(cfg);
  if (root.fleet === undefined) return [];
  const fleet = rec(root.fleet);
  const stages = rec(root.stages);
  const problems: Problem[] = [];
  const ous = arr(fleet.ous).map(rec);
  const tags = arr(fleet.tags).map(rec);
  const seen = new Map<string, number>();
  ous.forEach((rule, i) => {
    for (const field of ['path', 'id'] as const) {
      const value = rule[field];
      if (typeof value !== 'string') continue;
      const prev = seen.get(`${field}:${value}`);
      if (prev !== undefined) problems.push({ path: ['fleet', 'ous', i, field], message: `each OU once (${value} is also fleet.ous[${prev}])` });
      else seen.set(`${field}:${value}`, i);
    }
  });
  const stageOf = (kind: 'ous' | 'tags', rule: Record<string, unknown>, i: number) => {
    const stage = rule.stage;
    if (typeof stage === 'string' && !(stage in stages)) {
      problems.push({ path: ['fleet', kind, i, 'stage'], message: `one of the stages under stages (${Object.keys(stages).join(', ') || 'none defined'}); "${stage}" is unknown` });
    }
  };
  ous.forEach((rule, i) => stageOf('ous', rule, i));
  tags.forEach((rule, i) => stageOf('tags', rule, i));
  if (ous.length === 0 && tags.length === 0) {
    problems.push({ path: ['fleet'], message: 'at least one rule under fleet.ous or fleet.tags, or no fleet section' });
  }
  if (fleet.organizations === undefined && fleet.file === undefined) {
    problems.push({ path: ['fleet'], message: 'where the fleet is read: fleet.organizations (AWS Organizations) and/or fleet.file (the local mode)' });
  }
  return problems;
}
