/**
 * Whether two plans of one module make the same changes. Pure.
 *
 * Two plans of the same changes almost never have the same bytes: a saved plan file is a zip
 * archive whose entries carry the time they were written, and Terraform 1.5 and later keep the
 * time the plan was made (for `plantimestamp()`; `terraform show -json` prints it as
 * `timestamp`). So the SHA-256 of the file says "identical" only when it matches; when it does
 * not, the changes are compared from `terraform show -json` of each plan:
 *
 * - every resource change but `no-op`, keyed by its address (and deposed key), with its
 *   `actions`, `before`, `after`, `after_unknown`, `before_sensitive`, `after_sensitive`,
 *   `replace_paths`, `previous_address` and `importing`;
 * - every output change but `no-op`, with the same fields.
 *
 * Left out as noise: the format and Terraform versions, `timestamp`, `prior_state`,
 * `planned_values`, `configuration`, `variables`, `relevant_attributes`, `checks`,
 * `resource_drift` (changes made outside Terraform, which the apply does not make) and each
 * change's `action_reason` (an explanation of the same actions).
 *
 * The differences it lists name addresses and actions, never a value: they travel to the
 * approval page, and values may be secrets.
 */
import { z } from 'zod';

/** What a compared change keeps: what the apply would do to one resource or output. */
const CHANGE_FIELDS = ['actions', 'before', 'after', 'after_unknown', 'before_sensitive', 'after_sensitive', 'replace_paths', 'importing'] as const;

const ChangeSchema = z
  .object({
    actions: z.array(z.string()).min(1),
  })
  .passthrough();

const ShowJsonSchema = z
  .object({
    resource_changes: z
      .array(
        z
          .object({
            address: z.string(),
            deposed: z.string().optional(),
            previous_address: z.string().optional(),
            change: ChangeSchema,
          })
          .passthrough(),
      )
      .optional(),
    output_changes: z.record(z.string(), ChangeSchema).optional(),
  })
  .passthrough();

/** One change as compared: its key and the canonical JSON of what it does. */
interface Normalized {
  readonly actions: readonly string[];
  readonly canonical: string;
}

/** A plan's changes, normalized for comparison (see the file's header). */
export interface NormalizedPlan {
  /** `address` (or `address (deposed <key>)`) -> change. */
  readonly resources: ReadonlyMap<string, Normalized>;
  /** output name -> change. */
  readonly outputs: ReadonlyMap<string, Normalized>;
}

/** Thrown when a document is not a `terraform show -json` plan. */
export class PlanCompareError extends Error {
  override name = 'PlanCompareError';
}

/** JSON with object keys sorted, so equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function normalizeChange(change: z.infer<typeof ChangeSchema>, extra: Record<string, unknown> = {}): Normalized {
  const kept: Record<string, unknown> = { ...extra };
  for (const f of CHANGE_FIELDS) if (change[f] !== undefined) kept[f] = change[f];
  return { actions: change.actions, canonical: canonicalJson(kept) };
}

const isNoOp = (actions: readonly string[]) => actions.length === 1 && actions[0] === 'no-op';

/**
 * Normalizes a parsed `terraform show -json` plan for {@link comparePlans}.
 * @throws PlanCompareError when the document is not a plan representation
 */
export function normalizePlan(showJson: unknown): NormalizedPlan {
  const parsed = ShowJsonSchema.safeParse(showJson);
  if (!parsed.success) throw new PlanCompareError(`not a terraform plan JSON document: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  const resources = new Map<string, Normalized>();
  for (const rc of parsed.data.resource_changes ?? []) {
    if (isNoOp(rc.change.actions)) continue;
    const key = rc.deposed ? `${rc.address} (deposed ${rc.deposed})` : rc.address;
    if (resources.has(key)) throw new PlanCompareError(`the plan lists ${key} twice`);
    resources.set(key, normalizeChange(rc.change, rc.previous_address ? { previous_address: rc.previous_address } : {}));
  }
  const outputs = new Map<string, Normalized>();
  for (const [name, change] of Object.entries(parsed.data.output_changes ?? {})) {
    if (isNoOp(change.actions)) continue;
    outputs.set(name, normalizeChange(change));
  }
  return { resources, outputs };
}

/** What {@link comparePlans} found. */
export interface PlanComparison {
  /** True when both plans make exactly the same changes. */
  readonly identical: boolean;
  /** One line per differing resource or output, at most {@link MAX_DIFFERENCES} and a count of the rest. */
  readonly differences: string[];
}

/** A comparison lists at most this many differences (the rest are counted). */
export const MAX_DIFFERENCES = 50;

function describe(kind: 'resource' | 'output', key: string, approved: Normalized | undefined, next: Normalized | undefined): string | undefined {
  const what = kind === 'output' ? `output ${key}` : key;
  const acts = (n: Normalized) => n.actions.join(', then ');
  if (approved && next) {
    if (approved.canonical === next.canonical) return undefined;
    if (canonicalJson(approved.actions) !== canonicalJson(next.actions)) return `${what}: ${acts(next)} (approved: ${acts(approved)})`;
    return `${what}: ${acts(next)} with different values than approved`;
  }
  if (next) return `${what}: ${acts(next)} (not in the approved plan)`;
  if (approved) return `${what}: no longer changes (approved: ${acts(approved)})`;
  return undefined;
}

function diffMaps(kind: 'resource' | 'output', approved: ReadonlyMap<string, Normalized>, next: ReadonlyMap<string, Normalized>): string[] {
  const keys = [...new Set([...approved.keys(), ...next.keys()])].sort();
  return keys.map((k) => describe(kind, k, approved.get(k), next.get(k))).filter((d): d is string => d !== undefined);
}

/**
 * Compares the approved plan with a new plan of the same module (both parsed from
 * `terraform show -json`): identical when they make the same resource and output changes.
 * @throws PlanCompareError when either document is not a plan representation
 */
export function comparePlans(approvedShowJson: unknown, newShowJson: unknown): PlanComparison {
  const approved = normalizePlan(approvedShowJson);
  const next = normalizePlan(newShowJson);
  const all = [...diffMaps('resource', approved.resources, next.resources), ...diffMaps('output', approved.outputs, next.outputs)];
  const differences = all.length > MAX_DIFFERENCES ? [...all.slice(0, MAX_DIFFERENCES), `... and ${all.length - MAX_DIFFERENCES} more`] : all;
  return { identical: all.length === 0, differences };
}
