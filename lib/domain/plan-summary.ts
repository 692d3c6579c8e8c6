/**
 * The plan summary an approver sees, computed from `terraform show -json <planfile>`. Pure.
 *
 * It counts as Terraform's own "Plan: X to add, Y to change, Z to destroy" line does, so the
 * summary and the log never disagree:
 * - only managed resources count (a data source's "read" is not a change);
 * - ["create"] adds, ["update"] changes, ["delete"] destroys;
 * - a replacement (["delete","create"] or ["create","delete"]) adds one and destroys one;
 * - "no-op", "read" and "forget" count nothing.
 * It keeps addresses of deleted and replaced resources and never an attribute value: the
 * summary travels in notifications and approval pages, the values may be secrets.
 */
import { z } from 'zod';
import type { PlanSummary } from './runner-contract';

const ACTIONS = ['no-op', 'create', 'read', 'update', 'delete', 'forget'] as const;

/** The few keys of `terraform show -json` a summary reads; everything else is ignored. */
const ShowJsonSchema = z.object({
  format_version: z.string().optional(),
  resource_changes: z
    .array(
      z.object({
        address: z.string(),
        mode: z.string(),
        change: z.object({ actions: z.array(z.enum(ACTIONS)).min(1) }),
      }),
    )
    .optional(),
});

/**
 * At most this many deleted and this many replaced addresses are listed per module, then one
 * entry `... and N more`: a plan deleting thousands of resources still makes a summary small
 * enough for a run-table item (400 KB) and a Step Functions state (256 KiB). The counts stay exact.
 */
export const MAX_LISTED_ADDRESSES = 100;

const MORE = /^\.\.\. and (\d+) more$/;

/**
 * `addresses` with at most `max` addresses listed and the rest counted in a last entry
 * `... and N more`; a list capped before keeps its count.
 */
export function capAddresses(addresses: readonly string[], max = MAX_LISTED_ADDRESSES): string[] {
  const last = addresses.at(-1);
  const counted = last === undefined ? undefined : MORE.exec(last);
  const listed = counted ? addresses.slice(0, -1) : addresses;
  const more = counted ? Number(counted[1]) : 0;
  if (listed.length <= max) return [...addresses];
  return [...listed.slice(0, max), `... and ${listed.length - max + more} more`];
}

/** `summary` with its address lists capped at `max` each (see {@link capAddresses}). */
export function capSummary(summary: PlanSummary, max = MAX_LISTED_ADDRESSES): PlanSummary {
  return { ...summary, deleted: capAddresses(summary.deleted, max), replaced: capAddresses(summary.replaced, max) };
}

/** Thrown when the JSON is not a plan representation this summary can count exactly. */
export class PlanSummaryError extends Error {
  override name = 'PlanSummaryError';
}

type Kind = 'create' | 'update' | 'delete' | 'replace' | 'none';

function kindOf(actions: readonly string[]): Kind {
  const key = actions.join(',');
  switch (key) {
    case 'create':
      return 'create';
    case 'update':
      return 'update';
    case 'delete':
      return 'delete';
    case 'delete,create':
    case 'create,delete':
      return 'replace';
    case 'no-op':
    case 'read':
    case 'forget':
      return 'none';
    default:
      // Miscounting would show an approver the wrong plan; refuse instead.
      throw new PlanSummaryError(`unexpected action list [${key}] in the plan`);
  }
}

/**
 * Summarises a parsed `terraform show -json` document.
 * @throws PlanSummaryError when the document is not a plan representation.
 */
export function summarizePlan(showJson: unknown): PlanSummary {
  const parsed = ShowJsonSchema.safeParse(showJson);
  if (!parsed.success) throw new PlanSummaryError(`not a terraform plan JSON document: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  const summary: PlanSummary = { add: 0, change: 0, destroy: 0, deleted: [], replaced: [] };
  for (const rc of parsed.data.resource_changes ?? []) {
    if (rc.mode !== 'managed') continue;
    switch (kindOf(rc.change.actions)) {
      case 'create':
        summary.add += 1;
        break;
      case 'update':
        summary.change += 1;
        break;
      case 'delete':
        summary.destroy += 1;
        summary.deleted.push(rc.address);
        break;
      case 'replace':
        summary.add += 1;
        summary.destroy += 1;
        summary.replaced.push(rc.address);
        break;
      case 'none':
        break;
    }
  }
  return capSummary(summary);
}

/** The summary as Terraform prints it, for logs and notifications. */
export function formatPlanLine(s: Pick<PlanSummary, 'add' | 'change' | 'destroy'>): string {
  return `Plan: ${s.add} to add, ${s.change} to change, ${s.destroy} to destroy.`;
}
