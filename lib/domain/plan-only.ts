/**
 * Plan-only runs: plans that are never applied, never approved and never take a branch queue.
 * Two kinds use them: a drift sweep (every target planned at its last applied commit, to find
 * changes made outside the pipeline) and a pull-request plan (the targets a pull request touches,
 * planned at its head commit).
 *
 * Pure data shared by the plan-only state machine (statemachines/plan-only.asl.json), the
 * pipeline function's plan-only steps, the runner and the local mode.
 *
 * How a plan-only run goes:
 * 1. its input is a {@link PlanOnlyRequest}: the kind, an id (the execution name) and the targets
 *    with the commit to plan each at (a drift sweep started by its schedule sends none: the start
 *    step plans every target at its last applied commit);
 * 2. the start step reports as `skipped` every target whose branch is held by a running deploy,
 *    and groups the rest by account and commit: one runner task each, in the account's
 *    read-only plan task definition, whose manifest carries {@link RunnerManifest.planOnly};
 * 3. the runner plans with {@link planOnlyPlanArgs} (`-lock=false`, and `-detailed-exitcode`
 *    for drift), records no plan hash (so no apply can ever use such a plan) and writes per
 *    module its result with the resource changes ({@link ResourceChange});
 * 4. each target ends as one {@link PlanOnlyTargetResult}; what happens with them is the kind's
 *    own business (a drift report, a pull-request comment).
 */
import { z } from 'zod';
import { CommitShaSchema } from './push-event';

/** What a plan-only run is for. */
export const PlanOnlyKindSchema = z.enum(['drift', 'pull-request']);
export type PlanOnlyKind = z.infer<typeof PlanOnlyKindSchema>;

const AccountNameSchema = z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, 'an account name');
const ModuleSchema = z
  .string()
  .min(1)
  .max(1024)
  .regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, 'a relative module path');
const BranchRefSchema = z.string().regex(/^refs\/heads\/[A-Za-z0-9._/-]+$/, 'a branch ref such as refs/heads/main');

/** One target (account + module) and the commit to plan it at. */
export const PlanOnlyTargetSchema = z
  .object({
    account: AccountNameSchema,
    module: ModuleSchema,
    commit: CommitShaSchema,
    /** The branch the commit is on: the runner's allowlist checks it, and a drift sweep skips the target while this branch is held. */
    ref: BranchRefSchema,
  })
  .strict();
export type PlanOnlyTarget = z.infer<typeof PlanOnlyTargetSchema>;

/** The most targets one plan-only request names (a sweep resolves its own and is not bound by it). */
export const MAX_PLAN_ONLY_TARGETS = 10_000;

/** The input of a plan-only run. */
export const PlanOnlyRequestSchema = z
  .object({
    kind: PlanOnlyKindSchema,
    /** The run's id: the execution name when absent (a schedule cannot name its executions). */
    id: z.string().regex(/^[A-Za-z0-9_-]{1,80}$/, 'an execution name').optional(),
    /** The repository, `owner/name` as in the config; a drift sweep without one sweeps every repository. */
    repository: z.string().min(1).max(200).optional(),
    /** Restricts a drift sweep to the accounts of these stages (each stage's schedule names its own). */
    stages: z.array(z.string().min(1)).optional(),
    /** Absent for a scheduled drift sweep: every target at its last applied commit. */
    targets: z.array(PlanOnlyTargetSchema).max(MAX_PLAN_ONLY_TARGETS).optional(),
    /** Restricts a drift sweep to these accounts. */
    accounts: z.array(AccountNameSchema).optional(),
    /** The pull request a `pull-request` run plans. */
    pullRequest: z
      .object({ number: z.number().int().min(1), headCommit: CommitShaSchema, baseRef: BranchRefSchema })
      .strict()
      .optional(),
    requestedAt: z.string().optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.kind === 'pull-request' && (!r.pullRequest || !r.targets || !r.repository)) {
      ctx.addIssue({ code: 'custom', path: ['pullRequest'], message: 'a pull-request run names its repository, its pull request and its targets' });
    }
  });
export type PlanOnlyRequest = z.infer<typeof PlanOnlyRequestSchema>;

/** What a plan would do to one resource to bring it back to the code. */
export const ResourceActionSchema = z.enum(['create', 'update', 'delete', 'replace', 'read']);
export type ResourceAction = z.infer<typeof ResourceActionSchema>;

/** One resource a plan would change: its address and the action, never a value. */
export const ResourceChangeSchema = z.object({ address: z.string().min(1).max(2048), action: ResourceActionSchema }).strict();
export type ResourceChange = z.infer<typeof ResourceChangeSchema>;

/** The most resource changes kept per target; `moreChanges` counts the rest. */
export const MAX_CHANGES_PER_TARGET = 100;

/**
 * How one target of a plan-only run ended:
 * - `clean`: the plan changes nothing;
 * - `changes`: the plan would change the listed resources (for drift: the target drifted);
 * - `error`: the plan failed or could not run (`error` says why);
 * - `skipped`: not planned (`skippedBecause` says why, such as the branch being held by a deploy).
 */
export const PlanOnlyStatusSchema = z.enum(['clean', 'changes', 'error', 'skipped']);
export type PlanOnlyStatus = z.infer<typeof PlanOnlyStatusSchema>;

export const PlanOnlyTargetResultSchema = z
  .object({
    account: AccountNameSchema,
    module: ModuleSchema,
    commit: CommitShaSchema,
    status: PlanOnlyStatusSchema,
    changes: z.array(ResourceChangeSchema).max(MAX_CHANGES_PER_TARGET).optional(),
    /** How many changes beyond `changes` the plan had. */
    moreChanges: z.number().int().min(1).optional(),
    error: z.string().max(2048).optional(),
    skippedBecause: z.string().max(512).optional(),
    /** When the plan finished (or the target was skipped). */
    at: z.string(),
  })
  .strict();
export type PlanOnlyTargetResult = z.infer<typeof PlanOnlyTargetResultSchema>;

/** What the runner's manifest says about a plan-only task (see RunnerManifestSchema). */
export const RunnerPlanOnlySchema = z.object({ kind: PlanOnlyKindSchema }).strict();
export type RunnerPlanOnly = z.infer<typeof RunnerPlanOnlySchema>;

/**
 * The arguments of `terraform plan` in a plan-only task, after `-input=false`: never a state
 * lock (a plan-only run must never block a deploy), and for drift `-detailed-exitcode` (exit 2:
 * the plan has changes; 0: none; 1: an error).
 */
export function planOnlyPlanArgs(kind: PlanOnlyKind): string[] {
  return ['-lock=false', ...(kind === 'drift' ? ['-detailed-exitcode'] : [])];
}

/** Terraform's `plan -detailed-exitcode` status for "succeeded, with changes". */
export const DETAILED_EXITCODE_CHANGES = 2;

/**
 * The action of one `resource_changes[].change.actions` list of `terraform show -json`, or
 * undefined for a no-op. `["delete","create"]` and `["create","delete"]` are replacements.
 */
export function resourceAction(actions: readonly string[]): ResourceAction | undefined {
  if (actions.includes('delete') && actions.includes('create')) return 'replace';
  const one = actions[0];
  if (one === 'create' || one === 'update' || one === 'delete' || one === 'read') return one;
  return undefined;
}

/** Order of actions when listing changes: destroys first. */
const ACTION_ORDER: Record<ResourceAction, number> = { delete: 0, replace: 1, update: 2, create: 3, read: 4 };

/** Sorts resource changes destroys first, then by address. */
export function sortChanges(changes: readonly ResourceChange[]): ResourceChange[] {
  return [...changes].sort((a, b) => ACTION_ORDER[a.action] - ACTION_ORDER[b.action] || a.address.localeCompare(b.address));
}

/** The plan-only outcome of a finished plan: clean when nothing changes. */
export function planOnlyOutcome(changes: readonly ResourceChange[]): Pick<PlanOnlyTargetResult, 'status' | 'changes' | 'moreChanges'> {
  if (changes.length === 0) return { status: 'clean' };
  const sorted = sortChanges(changes);
  const kept = sorted.slice(0, MAX_CHANGES_PER_TARGET);
  return { status: 'changes', changes: kept, ...(sorted.length > kept.length ? { moreChanges: sorted.length - kept.length } : {}) };
}
