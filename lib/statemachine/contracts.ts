/**
 * The payloads the state machine (statemachines/pipeline.asl.json) sends to the pipeline and
 * approval functions, and what they answer. The ASL, the Lambda handlers and the local mode all
 * rely on these shapes; tests run the real ASL against them.
 */
import { z } from 'zod';
import { CommitShaSchema } from '../domain/push-event';
import { RunnerPlanOnlySchema } from '../domain/plan-only';
import { MAX_MODULE_CONCURRENCY, ModulePathSchema, PlanSummarySchema, PolicyResultSchema, ReplanSchema, Sha256Schema } from '../domain/runner-contract';

/** Where the runner fetches the code: the same for every account of a run. */
export const SourceSchema = z.object({
  /** A clone URL of the repository (the runner checks it against its own allowlist). */
  repository: z.string(),
  commit: CommitShaSchema,
  ref: z.string(),
});
export type Source = z.infer<typeof SourceSchema>;

/**
 * The phases of a stage: `plan-and-apply` where the stage needs no approval; `plan`, then the
 * approved `apply`, where it does. The one account Map runs whichever phase its items carry.
 */
export const StagePhaseNameSchema = z.enum(['plan', 'apply', 'plan-and-apply']);
export type StagePhaseName = z.infer<typeof StagePhaseNameSchema>;

/**
 * One account of a stage, as the Map iterates it. Built by `targets` from the config (for the
 * stage's first phase) and by the plan gate (for the apply phase). It carries everything the
 * per-account work differs in between phases: the phase, its task definition and the approved
 * plans, so the definition writes that work once.
 */
export const AccountItemSchema = z
  .object({
  name: z.string(),
  id: z.string(),
  stage: z.string(),
  region: z.string(),
  /** The launcher role in the account: the Task state's `Credentials.RoleArn`. */
  launcherRoleArn: z.string(),
  cluster: z.string(),
  planTaskDefinition: z.string(),
  applyTaskDefinition: z.string(),
  network: z.object({
    subnets: z.array(z.string()),
    securityGroups: z.array(z.string()),
    assignPublicIp: z.enum(['ENABLED', 'DISABLED']),
  }),
  /** The runner task's timeout (the Task state's `TimeoutSecondsPath`). */
  timeoutSeconds: z.number().int().positive(),
  /** Repository-relative module paths to run, in order. */
  modules: z.array(ModulePathSchema).min(1),
  /**
   * module -> the modules of this item it depends on (its upstreams, also through modules the
   * item does not run), written into the runner's manifest: the runner's order. Absent or empty:
   * the modules depend on nothing in this item.
   */
  dependencies: z.record(ModulePathSchema, z.array(ModulePathSchema)).optional(),
  /** How many independent modules the runner task runs at once (`runner.moduleConcurrency`). */
  moduleConcurrency: z.number().int().min(1).max(MAX_MODULE_CONCURRENCY).optional(),
  /** The phase this item runs. */
  phase: StagePhaseNameSchema,
  /** The task definition of this phase: the read-only plan task definition for `plan`, else the apply one. */
  taskDefinition: z.string(),
  /** module -> SHA-256 of the approved plan file; empty except on apply items. */
  approvedPlans: z.record(z.string(), Sha256Schema),
  /**
   * The runner task's manifest (its modules and approved plans) in the artifacts store, under
   * the account's own prefix: the task's overrides carry only this key and SHA-256, so they stay
   * far below RunTask's 8,192 characters whatever the number of modules. Set by `writeItems`
   * when the item list is written.
   */
  manifest: z.object({ key: z.string().min(1), sha256: Sha256Schema }).optional(),
  /** The account's rollout wave in its stage (0 first; lib/planning/waves.ts). @default 0 */
  wave: z.number().int().min(0).optional(),
  /** A plan-only task (lib/domain/plan-only.ts): written into the runner's manifest. */
  planOnly: RunnerPlanOnlySchema.optional(),
  })
  .superRefine((item, ctx) => {
    // Plan runs provider code: it must never run on the apply task definition's role.
    const expected = item.phase === 'plan' ? item.planTaskDefinition : item.applyTaskDefinition;
    if (item.taskDefinition !== expected) {
      ctx.addIssue({ code: 'custom', path: ['taskDefinition'], message: `a ${item.phase} item must run ${expected}, not ${item.taskDefinition}` });
    }
    // The runner orders only the modules it runs: an edge to any other would never be satisfied.
    const modules = new Set(item.modules);
    for (const [module, upstreams] of Object.entries(item.dependencies ?? {})) {
      const outside = [module, ...upstreams].filter((m) => !modules.has(m));
      if (outside.length > 0) {
        ctx.addIssue({ code: 'custom', path: ['dependencies', module], message: `dependencies between the item's own modules; ${outside.join(', ')} is not one of them` });
      }
    }
    if (item.phase !== 'apply' && Object.keys(item.approvedPlans).length > 0) {
      ctx.addIssue({ code: 'custom', path: ['approvedPlans'], message: `only an apply item carries approved plans, not a ${item.phase} item` });
    }
  });
export type AccountItem = z.infer<typeof AccountItemSchema>;

/**
 * Where a list of account items lives: a JSON array in the artifacts bucket (the local mode's
 * artifacts folder). The stage's Distributed Map reads it with its ItemReader, so a stage of any
 * size never passes its accounts through the execution's state (256 KiB at most).
 */
export const ItemsLocationSchema = z.object({
  bucket: z.string().min(1),
  key: z.string().min(1),
  /** How many items the array holds. */
  count: z.number().int().min(1),
  /** SHA-256 (hex) of the object's bytes, checked by whoever reads it back. */
  sha256: Sha256Schema,
});
export type ItemsLocation = z.infer<typeof ItemsLocationSchema>;

/**
 * Where a phase that rolls out in waves stands: the wave its `items` hold and the phase's full
 * item list, from which the gate takes the next wave.
 */
export const PhaseWaveSchema = z.object({
  /** The wave the phase's `items` hold (0 first). */
  index: z.number().int().min(0),
  /** How many waves the stage has (some may hold none of this phase's accounts; they are skipped). */
  count: z.number().int().min(1),
  /** Every item of the phase, each with its `wave`. */
  all: ItemsLocationSchema,
});
export type PhaseWave = z.infer<typeof PhaseWaveSchema>;

/** The phase the stage's account Map runs next and its items. */
export const StagePhaseSchema = z.object({
  name: StagePhaseNameSchema,
  items: ItemsLocationSchema,
  /** On the apply phase: the approval that approved its items. */
  approvalId: z.string().optional(),
  /**
   * On a re-plan (a plan phase the stage runs again for the modules whose plans changed after
   * their upstreams applied): the notes the gate wrote about them ({@link ReplanNotesSchema}),
   * which the next approval shows beside the new plans.
   */
  replan: z.object({ key: z.string().min(1), sha256: Sha256Schema }).optional(),
  /** Where a phase that rolls out in waves stands; absent: the items are the whole phase. */
  wave: PhaseWaveSchema.optional(),
});
export type StagePhase = z.infer<typeof StagePhaseSchema>;

/** One stage of a run, in the configured order. Its accounts are in S3, not in the state. */
export const StageItemSchema = z.object({
  name: z.string(),
  /** The stage's position in the run (0 first). */
  index: z.number().int().min(0),
  concurrency: z.number().int().positive(),
  approval: z.object({
    required: z.boolean(),
    approvers: z.array(z.string()),
    minApprovals: z.number().int().min(0),
    allowSelfApproval: z.boolean(),
    /** The approval task's `TimeoutSecondsPath`: past it the run ends as expired. */
    timeoutSeconds: z.number().int().positive(),
    /**
     * The stage has plan policies: these may override a deny (with a reason) and, in a stage
     * without approval, approve what a policy holds back.
     */
    policyOwners: z.array(z.string()).optional(),
    /** Why a stage without approval asks for one from the start (its `maxAccounts`). */
    escalated: z.string().optional(),
  }),
  /** The stage's account items ({@link AccountItemSchema}), in the configured order. */
  accounts: ItemsLocationSchema,
  /** Where the Distributed Maps of this stage write their child executions' results. */
  resultsPrefix: z.string().min(1),
  /**
   * The phase the stage's account Map runs next and its items: first `plan-and-apply` or `plan`
   * over {@link accounts}; after an approval, `apply` over the approved items (the approval
   * step writes it here).
   */
  phase: StagePhaseSchema,
});
export type StageItem = z.infer<typeof StageItemSchema>;

// ---- admit ----------------------------------------------------------------------------------

export const AdmitRequestSchema = z.object({
  action: z.literal('admit'),
  /**
   * The execution input (`$$.Execution.Input`): the EventBridge event with the canonical push in
   * `detail`. Never the state, which grows as the run goes on.
   */
  input: z.unknown(),
  executionId: z.string(),
  executionName: z.string(),
  startedAt: z.string(),
});
export const AdmitDecisionSchema = z.enum(['ADMITTED', 'WAIT', 'DUPLICATE', 'SUPERSEDED']);
export const AdmitResultSchema = z.object({
  decision: AdmitDecisionSchema,
  /** The run id (the execution name). */
  runId: z.string(),
  repository: z.string(),
  branch: z.string(),
  commit: CommitShaSchema,
  /** For DUPLICATE / SUPERSEDED: which run carries this push. */
  carriedBy: z.string().optional(),
  /** For ADMITTED: the branch lease's generation, the run's fencing token. */
  generation: z.number().int().min(0).optional(),
  /** For WAIT: how many times this run was told to wait. */
  polls: z.number().int().min(0).optional(),
});
export type AdmitResult = z.infer<typeof AdmitResultSchema>;

// ---- enqueue (the callback a queued run waits on) -------------------------------------------

export const EnqueueRequestSchema = z.object({
  action: z.literal('enqueue'),
  /** The WaitForTurn state's task token: stored with the run's queue entry, sent back to wake it. */
  taskToken: z.string().min(1).max(2048),
  execution: z.string(),
});
/** What enqueue answers (the state waits for the token, not for this). */
export const EnqueueResultSchema = z.object({
  /** `queued`: the token waits in the queue; `woken`: the branch was free already, the token was sent at once. */
  state: z.enum(['queued', 'woken']),
});
/** What the releasing run sends to a queued run's token. */
export const WakeOutputSchema = z.object({ woken: z.literal(true), by: z.string() });

// ---- targets --------------------------------------------------------------------------------

export const TargetsRequestSchema = z.object({
  action: z.literal('targets'),
  input: z.unknown(),
  run: AdmitResultSchema,
  executionName: z.string(),
  /** The execution ARN, for console links in notifications. */
  executionId: z.string().optional(),
});
export const TargetsResultSchema = z.object({
  source: SourceSchema,
  stages: z.array(StageItemSchema),
  stageCount: z.number().int().min(0),
  /** Modules applied once but gone at this commit: reported to the user, never destroyed. */
  removed: z.array(z.object({ account: z.string(), module: z.string(), lastAppliedCommit: z.string() })).optional(),
});
export type TargetsResult = z.infer<typeof TargetsResultSchema>;

// ---- record-account (the last state of each Map iteration) ------------------------------------

export const ModuleOutcomeSchema = z.object({
  path: ModulePathSchema,
  status: z.enum(['planned', 'applied', 'failed', 'refused', 'skipped', 'interrupted', 'awaiting-approval', 'not-run']),
  plan: PlanSummarySchema.optional(),
  planSha256: Sha256Schema.optional(),
  /** `skipped` because of this upstream module (see ModuleResultSchema). */
  skippedBecause: ModulePathSchema.optional(),
  /** Plan phase: the upstreams whose changes may change this module's plan once they apply. */
  mayChangeAfter: z.array(ModulePathSchema).optional(),
  /** `awaiting-approval`: the plan made after its upstreams applied, which differs from the approved one. */
  replan: ReplanSchema.optional(),
  /** The plan policies' verdict on this module's plan, made in the account (see ModuleResultSchema). */
  policy: PolicyResultSchema.optional(),
});
export type ModuleOutcome = z.infer<typeof ModuleOutcomeSchema>;

export const RecordAccountRequestSchema = z.object({
  action: z.literal('record-account'),
  phase: StagePhaseNameSchema,
  ok: z.boolean(),
  account: AccountItemSchema,
  source: SourceSchema,
  execution: z.string(),
  /** The lease generation (fencing token) the task ran under; recorded with the outcome. */
  fence: z.number().int().min(0).optional(),
  task: z.unknown().optional(),
  /** The caught error (`Error`, `Cause`) when the task failed. */
  error: z.object({ Error: z.string(), Cause: z.string().optional() }).optional(),
});
/** An account's outcome: stored for the stage gate, and the child execution's output (written to S3 by the Map's ResultWriter). */
export const AccountOutcomeSchema = z.object({
  account: z.string(),
  ok: z.boolean(),
  phase: StagePhaseNameSchema,
  modules: z.array(ModuleOutcomeSchema),
  reason: z.string().optional(),
  /** The lease generation the account's task ran under. */
  fence: z.number().int().min(0).optional(),
  /** The account's rollout wave in its stage (0 first). */
  wave: z.number().int().min(0).optional(),
});
export type AccountOutcome = z.infer<typeof AccountOutcomeSchema>;

// ---- check-lease (the first state of each Map iteration) ---------------------------------------

export const CheckLeaseRequestSchema = z.object({
  action: z.literal('check-lease'),
  execution: z.string(),
  /** The account about to start a task (for the refusal message). */
  account: z.string(),
  /** The lease generation the run was admitted with: its fencing token. */
  generation: z.number().int().min(0),
});
export const CheckLeaseResultSchema = z.object({ generation: z.number().int().min(0) });

// ---- classify-failure ---------------------------------------------------------------------------

export const ClassifyFailureRequestSchema = z.object({
  action: z.literal('classify-failure'),
  account: AccountItemSchema,
  attempt: z.number().int().min(0),
  error: z.object({ Error: z.string(), Cause: z.string().optional() }),
});
export const ClassifyFailureResultSchema = z.object({
  /** Only a runner infrastructure failure (exit code 4) or a task that never started is retried. */
  retry: z.boolean(),
  delaySeconds: z.number().int().min(0),
  /**
   * What ended the task: `interrupted` is a runner that was stopped (SIGTERM from ECS) and
   * stopped terraform gracefully, its lock released (exit code 5).
   */
  kind: z.enum(['timeout', 'infra', 'terraform', 'refused', 'interrupted', 'never-started', 'other']),
  exitCode: z.number().int().nullable(),
  reason: z.string(),
});

// ---- stage-complete (the stage gate) ------------------------------------------------------------

export const StageCompleteRequestSchema = z.object({
  action: z.literal('stage-complete'),
  phase: StagePhaseNameSchema,
  /**
   * How many times the stage was planned again for modules whose plans changed after their
   * upstreams applied (0 the first time): the gate's item lists of each round have keys of their own.
   */
  round: z.number().int().min(0).optional(),
  stage: StageItemSchema,
  /** The items the phase ran: the stage's accounts, or the approved apply items. */
  items: ItemsLocationSchema,
  execution: z.string(),
  /** The execution ARN, for console links in notifications. */
  executionId: z.string().optional(),
  run: AdmitResultSchema,
});
export const StageCompleteResultSchema = z.object({
  failed: z.boolean(),
  /** Human-readable: which accounts and modules failed and why. */
  reason: z.string(),
  /** The first failed accounts (at most {@link MAX_LISTED_FAILURES}); `failedCount` has them all. */
  failedAccounts: z.array(z.string()),
  failedCount: z.number().int().min(0),
  /** After a plan phase: where the apply items are, each with the hashes of the plans just made. */
  applyItems: ItemsLocationSchema.optional(),
  /** After a wave within the failure budget with a later wave left: the phase of that wave, which the Map runs next. */
  nextWave: StagePhaseSchema.optional(),
  /** With `nextWave`: how long to wait before it starts (the stage's bake time). */
  bakeSeconds: z.number().int().min(0).optional(),
  /**
   * After an apply phase in which modules were held back because their plans changed after their
   * upstreams applied (or an upstream was held back): the stage plans them again (`items`, a plan
   * phase over those modules alone), in round `round`, and asks for approval again.
   */
  replan: z
    .object({
      items: ItemsLocationSchema,
      round: z.number().int().min(1),
      notes: z.object({ key: z.string().min(1), sha256: Sha256Schema }),
    })
    .optional(),
});

/** Why a module is planned again and approved again. */
export const ReplanReasonSchema = z.enum(['changed', 'policy', 'upstream-held']);

/**
 * What the gate writes about a re-plan round (at {@link artifactKeys.stageReplanNotes}): for each
 * held-back module, the plan that had been approved and, when the apply task planned it again,
 * what it found. The approval of the round shows these beside the new plans.
 */
export const ReplanNotesSchema = z.object({
  round: z.number().int().min(1),
  /** The approval whose plans these modules no longer match. */
  previousApprovalId: z.string().optional(),
  modules: z.array(
    z.object({
      account: z.string(),
      module: ModulePathSchema,
      /** `changed`: planned again after its upstreams applied, and different; `upstream-held`: an upstream was held back, so it did not run. */
      reason: ReplanReasonSchema,
      /** The held-back upstream (reason `upstream-held`). */
      upstream: ModulePathSchema.optional(),
      approvedSha256: Sha256Schema.optional(),
      /** The approved plan's summary. */
      approved: PlanSummarySchema.optional(),
      /** The plan the apply task made after the upstreams applied (reason `changed`). */
      replanned: PlanSummarySchema.optional(),
      /** How the apply task's plan differs from the approved one: addresses and actions, no values. */
      differences: z.array(z.string()).optional(),
    }),
  ),
});
export type ReplanNotes = z.infer<typeof ReplanNotesSchema>;

// ---- start-waves (after an approval: the apply phase's first wave) --------------------------------

export const StartWavesRequestSchema = z.object({
  action: z.literal('start-waves'),
  stage: StageItemSchema,
  /** The approved phase: `apply` over every approved item. */
  phase: StagePhaseSchema,
  execution: z.string(),
  /** The re-plan round the approval was for (0 the first): its wave item lists have keys of their own. */
  round: z.number().int().min(0).optional(),
});
/** The phase the Map runs: its first wave that holds any of the phase's items. */
export const StartWavesResultSchema = StagePhaseSchema;

/** A gate names at most this many failed accounts in its answer (the state stays small). */
export const MAX_LISTED_FAILURES = 20;

// ---- finish ---------------------------------------------------------------------------------

export const RunStatusSchema = z.enum(['SUCCEEDED', 'FAILED', 'REJECTED', 'EXPIRED', 'SUPERSEDED', 'DUPLICATE']);
export type RunStatus = z.infer<typeof RunStatusSchema>;

/** A caught error as Step Functions writes it into the state. */
export const CaughtErrorSchema = z.object({ Error: z.string(), Cause: z.string().optional() }).passthrough();

/**
 * How a run ended, built by the outcome states (RunSucceeded, RunFailed, ...): only what finish
 * needs, never the whole state, so a large push cannot push finish's payload over 256 KiB.
 */
export const RunOutcomeSchema = z.object({
  status: z.enum(['SUCCEEDED', 'FAILED', 'REJECTED', 'EXPIRED']),
  /** The caught error that ended the run (every outcome but SUCCEEDED). */
  error: CaughtErrorSchema.optional(),
  /** The stage the run ended in, where the definition knows it (rejected, expired). */
  stage: z.string().optional(),
});
export type RunOutcome = z.infer<typeof RunOutcomeSchema>;

export const FinishRequestSchema = z.object({
  action: z.literal('finish'),
  outcome: RunOutcomeSchema,
  executionId: z.string(),
  executionName: z.string(),
});
export const FinishResultSchema = z.object({
  status: RunStatusSchema,
  reason: z.string(),
});

// ---- execution status change (EventBridge, not the state machine) ----------------------------

/** The EventBridge detail-type Step Functions sends for every execution status change. */
export const EXECUTION_STATUS_CHANGE = { source: 'aws.states', detailType: 'Step Functions Execution Status Change' } as const;

/** The statuses an execution can end in without reaching its finish state. */
export const ENDED_WITHOUT_FINISH = ['FAILED', 'TIMED_OUT', 'ABORTED'] as const;

/**
 * The "Step Functions Execution Status Change" event ("Step Functions events", EventBridge events
 * reference): the rule forwards only those of the pipeline state machine that ended FAILED,
 * TIMED_OUT or ABORTED. `input` and `output` may be left out when large; nothing here reads them.
 */
export const ExecutionStatusChangeSchema = z
  .object({
    source: z.literal(EXECUTION_STATUS_CHANGE.source),
    'detail-type': z.literal(EXECUTION_STATUS_CHANGE.detailType),
    detail: z
      .object({
        executionArn: z.string().min(1),
        stateMachineArn: z.string().min(1),
        name: z.string().min(1),
        status: z.enum(['RUNNING', 'SUCCEEDED', 'PENDING_REDRIVE', ...ENDED_WITHOUT_FINISH]),
        error: z.string().nullish(),
        cause: z.string().nullish(),
        stopDate: z.number().nullish(),
      })
      .passthrough(),
  })
  .passthrough();
export type ExecutionStatusChange = z.infer<typeof ExecutionStatusChangeSchema>;

/** What the pipeline function did about an ended execution. */
export const ExecutionEndedResultSchema = z.object({
  execution: z.string(),
  /** Whether this call recorded the run's end (finish had not). */
  recorded: z.boolean(),
  /** Whether this call released the branch (the execution still held it). */
  released: z.boolean(),
  /** The queued runs woken. */
  woken: z.array(z.string()),
});

/** Every payload the pipeline function accepts. */
export const PipelineRequestSchema = z.discriminatedUnion('action', [
  AdmitRequestSchema,
  TargetsRequestSchema,
  RecordAccountRequestSchema,
  CheckLeaseRequestSchema,
  ClassifyFailureRequestSchema,
  StageCompleteRequestSchema,
  FinishRequestSchema,
  EnqueueRequestSchema,
  StartWavesRequestSchema,
]);
export type PipelineRequest = z.infer<typeof PipelineRequestSchema>;

// ---- approval request (lambda:invoke.waitForTaskToken) -------------------------------------------

export const ApprovalRequestSchema = z.object({
  action: z.literal('request'),
  /** Stored, never shown: not in a link, an email or a log. */
  taskToken: z.string().min(1).max(2048),
  executionId: z.string(),
  executionName: z.string(),
  stage: StageItemSchema,
  /** The apply items the approvers approve: the plan gate's file. */
  applyItems: ItemsLocationSchema,
  /** The canonical push (for the page: repository, commit, message, pusher). */
  push: z.unknown(),
  run: AdmitResultSchema,
});
export type ApprovalRequest = z.infer<typeof ApprovalRequestSchema>;

/** What SendTaskSuccess returns to the state machine: the stage's apply phase runs `items`. */
export const ApprovalOutputSchema = z.object({
  approvalId: z.string(),
  approvers: z.array(z.string()),
  comments: z.array(z.object({ approver: z.string(), comment: z.string() })),
  /** The apply items exactly as approved (their SHA-256 checked), each with `approvedPlans`. */
  items: ItemsLocationSchema,
});
export type ApprovalOutput = z.infer<typeof ApprovalOutputSchema>;
