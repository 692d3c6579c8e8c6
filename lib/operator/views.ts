/**
 * What `tfstep runs` and `tfstep show` print with `--json`. These schemas are the stable output
 * contract: fields are added, never renamed or removed, and tests validate the output against
 * them.
 */
import { z } from 'zod';

/** Status of an execution, a stage, an account or a module, upper-case as Step Functions spells it. */
export const ViewStatusSchema = z.string();

/** One line of `tfstep runs`. */
export const RunSummarySchema = z
  .object({
    execution: z.string(),
    executionArn: z.string().nullable(),
    repository: z.string().nullable(),
    branch: z.string().nullable(),
    commit: z.string().nullable(),
    /** Who pushed the commit, where the run table recorded it. */
    pusher: z.string().optional(),
    status: ViewStatusSchema,
    /** The last stage the run reached (running or finished), if known. */
    stage: z.string().nullable(),
    startedAt: z.string().nullable(),
    stoppedAt: z.string().nullable(),
    durationSeconds: z.number().nullable(),
  })
  .strict();
export type RunSummary = z.infer<typeof RunSummarySchema>;

/** `tfstep runs --json`. */
export const RunsOutputSchema = z.object({ runs: z.array(RunSummarySchema) }).strict();
export type RunsOutput = z.infer<typeof RunsOutputSchema>;

export const PlanCountsSchema = z.object({ add: z.number(), change: z.number(), destroy: z.number() }).strict();

export const ModuleViewSchema = z
  .object({
    path: z.string(),
    phase: z.string().nullable(),
    status: ViewStatusSchema,
    plan: PlanCountsSchema.nullable(),
    planSha256: z.string().nullable(),
    /** SKIPPED: the upstream module of the same task that failed or was interrupted, so this one never ran. */
    skippedBecause: z.string().nullable(),
    /** PLAN: upstream modules with changes, after whose apply this plan may change (it is then planned again). */
    mayChangeAfter: z.array(z.string()).nullable(),
    /**
     * AWAITING-APPROVAL: the plan made at apply after the module's upstreams applied, which differs
     * from the approved one; the stage plans the module again and asks for approval again.
     */
    replan: z
      .object({
        planSha256: z.string(),
        approvedSha256: z.string(),
        plan: PlanCountsSchema,
        approvedPlan: PlanCountsSchema.nullable(),
        differences: z.array(z.string()),
      })
      .strict()
      .nullable(),
    error: z.string().nullable(),
    durationSeconds: z.number().nullable(),
    /** Addresses the plan destroys (at most 100, then `... and N more`); present when it destroys any. */
    deleted: z.array(z.string()).optional(),
    /** Addresses the plan replaces (destroy, then create), listed the same way; present when it replaces any. */
    replaced: z.array(z.string()).optional(),
  })
  .strict();
export type ModuleView = z.infer<typeof ModuleViewSchema>;

export const AccountViewSchema = z
  .object({
    name: z.string(),
    status: ViewStatusSchema,
    durationSeconds: z.number().nullable(),
    modules: z.array(ModuleViewSchema),
    /** The account's rollout wave in its stage (1 first), where known. */
    wave: z.number().int().min(1).nullable(),
    /** Why the account's task failed, as its outcome recorded it; present for a failed account. */
    reason: z.string().optional(),
  })
  .strict();
export type AccountView = z.infer<typeof AccountViewSchema>;

export const ApprovalViewSchema = z
  .object({
    status: ViewStatusSchema,
    approvers: z.array(z.string()),
    decisions: z.array(z.object({ approver: z.string(), decision: z.string(), comment: z.string(), at: z.string().nullable() }).strict()),
  })
  .strict();
export type ApprovalView = z.infer<typeof ApprovalViewSchema>;

/** One rollout wave of a stage: what ran, failed and never started. */
export const WaveViewSchema = z
  .object({
    /** 1 for the first wave. */
    wave: z.number().int().min(1),
    /** APPLIED, PLANNED, FAILED, RUNNING, PENDING or NOT STARTED (the stage stopped before it). */
    status: ViewStatusSchema,
    accounts: z.array(z.string()),
    failed: z.array(z.string()),
    notStarted: z.array(z.string()),
  })
  .strict();
export type WaveView = z.infer<typeof WaveViewSchema>;

export const StageViewSchema = z
  .object({
    name: z.string(),
    status: ViewStatusSchema,
    durationSeconds: z.number().nullable(),
    approval: ApprovalViewSchema.nullable(),
    accounts: z.array(AccountViewSchema),
    /** The stage's rollout waves; null for a stage that ran in one wave. */
    waves: z.array(WaveViewSchema).nullable(),
  })
  .strict();
export type StageView = z.infer<typeof StageViewSchema>;

/** `tfstep show --json`. */
export const RunDetailSchema = RunSummarySchema.extend({
  /** Why the run failed, was rejected or expired. */
  reason: z.string().nullable(),
  stages: z.array(StageViewSchema),
  links: z.object({ console: z.string().nullable() }).strict(),
  /** What to run next, such as the replay command of a failed run. */
  hints: z.array(z.string()),
}).strict();
export type RunDetail = z.infer<typeof RunDetailSchema>;

/** Seconds between two ISO times, or null when either is unknown. */
export function secondsBetween(start: string | null | undefined, stop: string | null | undefined, now?: Date): number | null {
  if (!start) return null;
  const a = Date.parse(start);
  const b = stop ? Date.parse(stop) : now ? now.getTime() : NaN;
  if (Number.isNaN(a) || Number.isNaN(b)) return null;
  return Math.max(0, Math.round((b - a) / 1000));
}
