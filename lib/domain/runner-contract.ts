/**
 * The contract between the state machine (or the local mode) and the runner in each account.
 * Pure data: no AWS imports, shared by the ASL checks, CDK, the runner and the local mode.
 */
import { z } from 'zod';
import { StagePoliciesSchema } from '../config/schema';
import { MAX_CHANGES_PER_TARGET, ResourceChangeSchema, RunnerPlanOnlySchema } from './plan-only';
import { CommitShaSchema } from './push-event';

/** The runner's exit codes; the state machine retries only {@link EXIT.INFRA}. */
export const EXIT = {
  OK: 0,
  /** Terraform (or tofu, terragrunt) failed: never retried. */
  TERRAFORM: 1,
  /** The input or a policy check was refused: never retried, nothing ran. */
  REFUSED: 3,
  /** git, storage or credentials failed: safe to retry. */
  INFRA: 4,
  /**
   * The task was asked to stop (SIGTERM from ECS): terraform got SIGINT, stopped gracefully and
   * released its state lock; what it had not reached is skipped. Not retried: replay the run.
   */
  INTERRUPTED: 5,
} as const;

export const PhaseSchema = z.enum(['plan', 'apply', 'plan-and-apply']);
export type Phase = z.infer<typeof PhaseSchema>;

/** A repository-relative module directory such as `dev/us-east-1/network`. */
export const ModulePathSchema = z
  .string()
  .min(1)
  .max(1024)
  .regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, 'a relative module path of letters, digits, ".", "_", "-" and "/"')
  .refine((p) => !p.split('/').some((s) => s === '..' || s === '.'), 'a path without "." or ".." segments');

/** A SHA-256 hex digest. */
export const Sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 hex digest');

/**
 * Environment variables the container overrides set for one runner task. Any other `TFSTEP_`
 * variable is rejected by the runner.
 */
export const RUNNER_ENV = {
  repository: 'TFSTEP_REPOSITORY',
  commit: 'TFSTEP_COMMIT',
  ref: 'TFSTEP_REF',
  account: 'TFSTEP_ACCOUNT',
  stage: 'TFSTEP_STAGE',
  phase: 'TFSTEP_PHASE',
  execution: 'TFSTEP_EXECUTION',
  /** The key of the task's manifest ({@link RunnerManifestSchema}) in the artifacts store. */
  manifest: 'TFSTEP_MANIFEST',
  /** The SHA-256 of the manifest's bytes: the runner refuses a manifest that does not match. */
  manifestSha256: 'TFSTEP_MANIFEST_SHA256',
} as const;

const NameSchema = z.string().regex(/^[a-z][a-z0-9-]{0,30}$/);
const ExecutionNameSchema = z.string().regex(/^[A-Za-z0-9_-]{1,80}$/, 'an execution name');

/**
 * What the container overrides carry (see {@link RUNNER_ENV}): small and of fixed size whatever
 * the number of modules. The lists that grow with the modules (module paths, approved plan
 * hashes) are in the manifest the overrides point at, since RunTask refuses overrides over
 * 8,192 characters.
 */
export const RunnerEnvInputSchema = z
  .object({
    repository: z.string().min(1).max(2048),
    commit: CommitShaSchema,
    ref: z.string().regex(/^refs\/heads\/[A-Za-z0-9._/-]+$/, 'a branch ref such as refs/heads/main'),
    account: NameSchema,
    stage: NameSchema,
    phase: PhaseSchema,
    execution: ExecutionNameSchema,
    manifest: z.string().min(1).max(1024),
    manifestSha256: Sha256Schema,
  })
  .strict();
export type RunnerEnvInput = z.infer<typeof RunnerEnvInputSchema>;

/**
 * The most modules one runner task takes: an account with more fails when its items are
 * written (the Targets step), naming the account, rather than in the account's runner.
 */
export const MAX_MODULES_PER_TASK = 500;

/** The most modules one runner task runs at once (`runner.moduleConcurrency`). */
export const MAX_MODULE_CONCURRENCY = 8;

/**
 * The manifest of one runner task, written to the artifacts store (under the account's own
 * prefix, at {@link artifactKeys.manifest}) by the pipeline step that builds the account's items,
 * and read by the runner with its own role. It repeats the account, execution and phase so a
 * manifest of another task cannot stand in for this one.
 */
export const RunnerManifestSchema = z
  .object({
    account: NameSchema,
    execution: ExecutionNameSchema,
    phase: PhaseSchema,
    modules: z.array(ModulePathSchema).min(1).max(MAX_MODULES_PER_TASK),
    /** module path -> SHA-256 of the approved plan file; apply only. */
    approvedPlans: z.record(ModulePathSchema, Sha256Schema).optional(),
    /**
     * module path -> the modules of this task it depends on (its upstreams). The runner runs the
     * modules in an order that respects these edges, never runs a dependent of a failed module
     * (its result is `skipped`, naming the upstream), and in apply re-plans a dependent after its
     * upstreams applied. Modules absent here depend on nothing in this task.
     */
    dependencies: z.record(ModulePathSchema, z.array(ModulePathSchema)).optional(),
    /** How many independent modules run at once (`runner.moduleConcurrency`); 1 when absent. */
    moduleConcurrency: z.number().int().min(1).max(MAX_MODULE_CONCURRENCY).optional(),
    /**
     * Plan phase only: a plan-only task (lib/domain/plan-only.ts). It plans without a state lock,
     * records no plan hash (nothing can apply its plans) and writes the resource changes.
     */
    planOnly: RunnerPlanOnlySchema.optional(),
  })
  .strict()
  .refine((m) => m.planOnly === undefined || m.phase === 'plan', { message: 'a plan-only manifest is for the plan phase', path: ['planOnly'] });
export type RunnerManifest = z.infer<typeof RunnerManifestSchema>;

/** The manifest's bytes as written: the SHA-256 in the overrides is of exactly these. */
export function encodeManifest(manifest: RunnerManifest): string {
  const { account, execution, phase, modules, approvedPlans, dependencies, moduleConcurrency, planOnly } = manifest;
  return `${JSON.stringify({
    account,
    execution,
    phase,
    modules,
    ...(approvedPlans === undefined ? {} : { approvedPlans }),
    ...(dependencies === undefined ? {} : { dependencies }),
    ...(moduleConcurrency === undefined ? {} : { moduleConcurrency }),
    ...(planOnly === undefined ? {} : { planOnly }),
  })}\n`;
}

/** The runner's inputs once its overrides ({@link RUNNER_ENV}) and its manifest are read. */
export const RunnerInputSchema = z
  .object({
    repository: z.string().min(1).max(2048),
    commit: CommitShaSchema,
    ref: z.string().regex(/^refs\/heads\/[A-Za-z0-9._/-]+$/, 'a branch ref such as refs/heads/main'),
    account: NameSchema,
    stage: NameSchema,
    phase: PhaseSchema,
    modules: z.array(ModulePathSchema).min(1).max(MAX_MODULES_PER_TASK),
    /** The execution name: the artifacts prefix. */
    execution: ExecutionNameSchema,
    /** module path -> SHA-256 of the approved plan file; required for `apply`. */
    approvedPlans: z.record(ModulePathSchema, Sha256Schema).optional(),
    /** module path -> its upstream modules in this task (see {@link RunnerManifestSchema}). */
    dependencies: z.record(ModulePathSchema, z.array(ModulePathSchema)).optional(),
    moduleConcurrency: z.number().int().min(1).max(MAX_MODULE_CONCURRENCY).optional(),
    /** A plan-only task (see {@link RunnerManifestSchema}). */
    planOnly: RunnerPlanOnlySchema.optional(),
  })
  .strict()
  .superRefine((input, ctx) => {
    if (input.planOnly && input.phase !== 'plan') {
      ctx.addIssue({ code: 'custom', path: ['planOnly'], message: 'a plan-only task runs the plan phase' });
    }
    if (input.phase === 'apply') {
      const missing = input.modules.filter((m) => !input.approvedPlans?.[m]);
      if (missing.length > 0) {
        ctx.addIssue({ code: 'custom', path: ['approvedPlans'], message: `apply needs an approved plan hash for ${missing.join(', ')}` });
      }
    }
  });
export type RunnerInput = z.infer<typeof RunnerInputSchema>;

/**
 * The account's own rules, written by the account stack (SSM parameter `/tfstep/runner/policy`
 * in AWS, a file in the local mode). Never taken from the task's input.
 */
export const RunnerPolicySchema = z
  .object({
    /** The account this runner serves; the input's account must equal it. */
    account: z.string(),
    /** Clone URLs allowed, in any spelling: compared normalized. */
    repositories: z.array(z.string().min(1)).min(1),
    /** Branch refs whose commits may run (`refs/heads/main`). */
    refs: z.array(z.string().regex(/^refs\/heads\/.+$/)).min(1),
    /**
     * Whether plan-only pull-request tasks may plan any branch (`refs/heads/*`) of the allowed
     * repositories, not only `refs`. Never a host's pull request ref (`refs/pull/<n>/head`):
     * forks write those, while a fork's commits are on no branch of the repository, so the
     * checkout (commit reachable from the fetched branch) refuses them here too. Absent: off.
     */
    pullRequestBranches: z.boolean().optional(),
    tool: z.enum(['terraform', 'tofu', 'terragrunt']),
    allowedSubcommands: z.array(z.string()).min(1),
    /** The phases this task definition may run (plan task: plan only). */
    phases: z.array(PhaseSchema).min(1),
    /** Where artifacts go: `s3://bucket` in AWS, `file:///dir` in the local mode. */
    artifacts: z.string().regex(/^(s3|file):\/\/.+/),
    /**
     * Where the account records the SHA-256 of every plan its own plan task made, and where its
     * apply task looks before applying one: `dynamodb://<table>` (a table of the account stack,
     * written only by the plan role) or, in the local mode, `file:///dir` (a folder of the
     * account's own). Never the central account's.
     */
    planRecords: z.string().regex(/^(dynamodb:\/\/[A-Za-z0-9_.-]{3,255}|file:\/\/\/.+)$/, 'dynamodb://<table> or file:///<dir>'),
    /** Secrets Manager secret (deploy key or token) used for git, if the repository is private. */
    gitCredentialsSecret: z.string().optional(),
    /** Refuse a module without a remote backend (its state would die with the task). Set by the account stack. */
    requireRemoteBackend: z.boolean().optional(),
    /** Refuse a module without a committed `.terraform.lock.hcl`, and init with `-lockfile=readonly`. Set by the account stack. */
    requireLockFile: z.boolean().optional(),
    /**
     * The account's region (`accounts[].region`): the tool gets it as AWS_REGION and
     * AWS_DEFAULT_REGION. The task itself runs in the central region, and ECS sets the task's
     * AWS_REGION to that; a provider or S3 backend without its own region would use it.
     */
    region: z.string().regex(/^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/, 'an AWS region such as us-east-1').optional(),
    /**
     * Local mode only (a policy file, never SSM): the absolute directory that keeps each module's
     * Terraform state between runs, as `<localStateDir>/<module>/terraform.tfstate`. The runner
     * makes it the module's backend with a generated override file. In AWS the modules' own
     * backends keep the state.
     */
    localStateDir: z.string().refine((p) => p.startsWith('/'), 'must be an absolute path').optional(),
    /**
     * The plan policies of the account's stage (`stages.<stage>.policies`), checked by the runner
     * after every plan. The account's own copy: the task's input cannot change or drop them.
     */
    planPolicies: StagePoliciesSchema.optional(),
    /**
     * The config's `redact` patterns: besides what Terraform marks sensitive, values under these
     * attribute names or of these shapes never appear in the log or a result. @default - the built-in patterns
     */
    redact: z
      .object({
        names: z.array(z.string().max(500)).max(100).optional(),
        values: z.array(z.string().max(500)).max(100).optional(),
        defaults: z.boolean().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type RunnerPolicy = z.infer<typeof RunnerPolicySchema>;

/**
 * What the plan task records in its own account about each plan it made, keyed by execution and
 * module. The apply task applies a plan only when such a record exists for its commit, module
 * and execution and names the plan's SHA-256.
 */
export const PlanRecordSchema = z
  .object({
    execution: ExecutionNameSchema,
    module: ModulePathSchema,
    account: NameSchema,
    commit: CommitShaSchema,
    sha256: Sha256Schema,
    recordedAt: z.string(),
  })
  .strict();
export type PlanRecord = z.infer<typeof PlanRecordSchema>;

/** The SSM parameter holding the runner policy in each account. */
export const RUNNER_POLICY_PARAMETER = '/tfstep/runner/policy';

/** Plan summary of one module, counted as Terraform's own "Plan:" line counts. */
export const PlanSummarySchema = z
  .object({
    add: z.number().int().min(0),
    change: z.number().int().min(0),
    destroy: z.number().int().min(0),
    /** Addresses of deleted resources (no attribute values, ever). */
    deleted: z.array(z.string()),
    /** Addresses of replaced resources. */
    replaced: z.array(z.string()),
  })
  .strict();
export type PlanSummary = z.infer<typeof PlanSummarySchema>;

/** The most differences a re-plan lists (see lib/domain/plan-compare.ts), and one line counting the rest. */
export const MAX_REPLAN_DIFFERENCES = 51;

/**
 * A plan made again in the apply phase after the module's upstreams applied, when its changes
 * differ from the approved plan's: it is not applied, and the stage asks for approval again.
 */
export const ReplanSchema = z
  .object({
    planSha256: Sha256Schema,
    plan: PlanSummarySchema,
    /** The SHA-256 of the plan that was approved, which this one replaces. */
    approvedSha256: Sha256Schema,
    /** The approved plan's summary. */
    approvedPlan: PlanSummarySchema.optional(),
    /** What differs from the approved plan: addresses and actions, never a value. */
    differences: z.array(z.string().max(2048)).max(MAX_REPLAN_DIFFERENCES).optional(),
  })
  .strict();
export type Replan = z.infer<typeof ReplanSchema>;

/** The most findings a module's policy result keeps, and the most addresses one finding names. */
export const MAX_POLICY_FINDINGS = 50;
export const MAX_POLICY_ADDRESSES = 50;

/** One plan policy rule that matched: which rule, what it does, why, and the resources it found. */
export const PolicyFindingSchema = z
  .object({
    rule: z.string().max(63),
    kind: z.enum(['protect', 'maxDestroys', 'custom']),
    effect: z.enum(['deny', 'warn']),
    message: z.string().max(1000),
    /** The resource addresses the rule found (no attribute values, ever); capped, the last line counting the rest. */
    addresses: z.array(z.string().max(2048)).max(MAX_POLICY_ADDRESSES + 1),
  })
  .strict();
export type PolicyFinding = z.infer<typeof PolicyFindingSchema>;

/**
 * The plan policies' verdict on one module's plan, made by the runner in the account: `deny` when
 * any deny rule matched, else `warn` when any warn rule did, else `pass`.
 */
export const PolicyResultSchema = z
  .object({
    status: z.enum(['pass', 'warn', 'deny']),
    findings: z.array(PolicyFindingSchema).max(MAX_POLICY_FINDINGS),
  })
  .strict();
export type PolicyResult = z.infer<typeof PolicyResultSchema>;

/** What the runner writes per module as `result.json`, read by the central record step. */
export const ModuleResultSchema = z
  .object({
    module: ModulePathSchema,
    account: z.string(),
    commit: CommitShaSchema,
    phase: PhaseSchema,
    /**
     * `awaiting-approval` (apply only): the module was planned again after its upstreams applied,
     * and the new plan differs from the approved one, so it was not applied; `replan` describes it.
     */
    status: z.enum(['planned', 'applied', 'failed', 'refused', 'skipped', 'interrupted', 'awaiting-approval']),
    /** Plan-only tasks: every resource the plan would change, destroys first (lib/domain/plan-only.ts). */
    changes: z.array(ResourceChangeSchema).max(MAX_CHANGES_PER_TARGET).optional(),
    /** Plan-only tasks: how many changes beyond `changes`. */
    moreChanges: z.number().int().min(1).optional(),
    /** `skipped` because this upstream module failed (or was itself skipped, refused or interrupted). */
    skippedBecause: ModulePathSchema.optional(),
    /**
     * Plan phase: upstream modules of this task whose own plans have changes, so this module's
     * plan may change after they apply (shown to the approver as "plan may change after ...").
     */
    mayChangeAfter: z.array(ModulePathSchema).optional(),
    /** `awaiting-approval`: the new plan made after the upstreams applied, not yet approved. */
    replan: ReplanSchema.optional(),
    plan: PlanSummarySchema.optional(),
    /**
     * The plan policies' verdict on this module's plan, made in the account after the plan (absent
     * where the stage has no policies). In `plan-and-apply`, a `warn` or `deny` keeps the module
     * from applying: its status is then `awaiting-approval`.
     */
    policy: PolicyResultSchema.optional(),
    /** SHA-256 of the saved plan file. */
    planSha256: Sha256Schema.optional(),
    /** SHA-256 of the module's committed `.terraform.lock.hcl`, when it has one. */
    lockFileSha256: Sha256Schema.optional(),
    error: z.string().optional(),
    startedAt: z.string(),
    finishedAt: z.string(),
  })
  .strict();
export type ModuleResult = z.infer<typeof ModuleResultSchema>;

/** How a runner manifest's key ends: the central pipeline may write only such keys under `accounts/`. */
export const MANIFEST_SUFFIX = '.manifest.json';

/**
 * Keys in the artifacts store (the S3 bucket, or a folder with the same layout locally).
 *
 * Everything a runner writes starts with its account: `accounts/<account>/<execution>/...`, and
 * each account's roles are granted `accounts/<account>/*` alone. In IAM resource ARNs `*` also
 * matches `/`, so the account must come first: a grant of "any execution, then the account, then
 * anything" would also match another account's `<execution>/<other>/<account>/...`, a module
 * folder that happens to carry the account's name. Account names never contain "/", so
 * `accounts/<a>/` is no other account's prefix, and `accounts/` is no execution's `_stages` folder.
 */
export const artifactKeys = {
  /** Everything one account's runners read and write: the prefix their grants name. */
  accountPrefix: (account: string) => `accounts/${account}/`,
  prefix: (execution: string, account: string, module: string) => `accounts/${account}/${execution}/${module}/`,
  planFile: (execution: string, account: string, module: string) => `accounts/${account}/${execution}/${module}/plan.tfplan`,
  planJson: (execution: string, account: string, module: string) => `accounts/${account}/${execution}/${module}/plan.json`,
  summary: (execution: string, account: string, module: string) => `accounts/${account}/${execution}/${module}/summary.json`,
  result: (execution: string, account: string, module: string) => `accounts/${account}/${execution}/${module}/result.json`,
  log: (execution: string, account: string, phase: string) => `accounts/${account}/${execution}/${phase}.log`,
  /**
   * A plan-only run's item list, written by its start step: one item per runner task, with the
   * task's name (`task`, its `execution` in the keys above) and its account item (name, modules).
   */
  planOnlyItems: (run: string) => `${run}/_plan-only/items.json`,
  /**
   * The manifest of one account's task in one phase ({@link RunnerManifestSchema}): written by
   * the central pipeline, read by the runner, bound by the SHA-256 the task's overrides carry.
   */
  manifest: (execution: string, account: string, phase: string) => `accounts/${account}/${execution}/${phase}${MANIFEST_SUFFIX}`,
  /**
   * Written by the central pipeline, never by a runner (runners write under `accounts/` only,
   * and `_stages` is no account's folder): a stage's account items, the apply items its plan gate
   * made, and where its Distributed Maps write their results.
   */
  stageAccounts: (execution: string, stageIndex: number) => `${execution}/_stages/${stageIndex}/accounts.json`,
  stageApplyItems: (execution: string, stageIndex: number, round = 0) =>
    round === 0 ? `${execution}/_stages/${stageIndex}/apply.json` : `${execution}/_stages/${stageIndex}/apply-${round}.json`,
  /** The plan items of a re-plan round (the modules held back at apply, planned again). */
  stageReplanItems: (execution: string, stageIndex: number, round: number) => `${execution}/_stages/${stageIndex}/replan-${round}.json`,
  /** What the gate found about a re-plan round's modules, shown by the round's approval. */
  stageReplanNotes: (execution: string, stageIndex: number, round: number) => `${execution}/_stages/${stageIndex}/replan-${round}-notes.json`,
  /** The items of one wave of a stage's phase (those of `all` whose `wave` is `wave`), in re-plan round `round`. */
  stageWaveItems: (execution: string, stageIndex: number, phase: string, wave: number, round = 0) =>
    `${execution}/_stages/${stageIndex}/${phase}-wave-${wave}${round === 0 ? '' : `-round-${round}`}.json`,
  stageResults: (execution: string, stageIndex: number) => `${execution}/_stages/${stageIndex}/results`,
};
