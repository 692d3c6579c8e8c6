import { z } from 'zod';
import { fleetCrossFieldProblems, fleetSchemaOf, fleetStages } from './fleet-schema';
import { globProblem } from './module-glob';
import { normalizeRepoUrl } from './repo-url';
import { celProblemText, compileCel } from './cel';

/** A stage or account name: lower-case, usable in resource names and S3 keys. */
const Name = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,30}$/, 'a lower-case name of letters, digits and "-" (at most 31 characters, starting with a letter)');

const AwsRegion = z.string().regex(/^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/, 'an AWS region such as us-east-1');

export const AccountIdSchema = z.string().regex(/^\d{12}$/, 'a 12-digit AWS account id, quoted as a string');

const Approver = z
  .string()
  .regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, 'an email address (the approver identity and where the approval link is sent)');

/** How approvals work for one stage. */
export const ApprovalRuleSchema = z.discriminatedUnion('required', [
  z.object({ required: z.literal(false) }).strict(),
  z
    .object({
      required: z.literal(true),
      /** Who may approve; each receives their own signed link. */
      approvers: z.array(Approver).min(1, 'at least one approver'),
      /** How many distinct approvers must approve (N of M). */
      minApprovals: z.number().int().min(1).default(1),
      /** Whether the pusher may approve their own push. */
      allowSelfApproval: z.boolean().default(false),
      /** Past this many hours the run ends as expired, with nothing applied. */
      expiryHours: z.number().positive().max(24 * 30).default(24),
    })
    .strict(),
]);

/**
 * One rollout wave: the CUMULATIVE number (`accounts`) or share (`percent`, rounded up) of the
 * stage's accounts deployed once the wave is done (lib/planning/waves.ts, docs/waves.md).
 */
export const WaveSpecSchema = z.union([
  z.object({ accounts: z.number().int().min(1, 'at least 1 account') }).strict(),
  z.object({ percent: z.number().gt(0, 'a share above 0').max(100, 'at most 100 (percent)') }).strict(),
]);

/** How many failed accounts a stage tolerates, over all its waves: a number, or a share of its accounts (rounded down). */
export const FailureBudgetSchema = z.union([
  z.object({ count: z.number().int().min(0, 'a count of 0 or more') }).strict(),
  z.object({ percent: z.number().min(0).max(100, 'at most 100 (percent)') }).strict(),
]);

/**
 * An EventBridge Scheduler expression of a recurring schedule: `rate(<n> minutes|hours|days)` or
 * `cron(<minutes> <hours> <day of month> <month> <day of week> <year>)` ("Schedule types in
 * EventBridge Scheduler", EventBridge Scheduler user guide). A one-time `at(...)` is refused: a
 * sweep recurs.
 */
export const DriftScheduleSchema = z
  .string()
  .regex(
    /^(rate\(([1-9]\d*) (minute|minutes|hour|hours|day|days)\)|cron\(\S+( \S+){5}\))$/,
    'a recurring EventBridge Scheduler expression such as "rate(1 day)", "rate(12 hours)" or "cron(0 6 * * ? *)"',
  )
  .refine((v) => !/^rate\(1 (minutes|hours|days)\)$/.test(v) && !/^rate\(([2-9]|\d{2,}) (minute|hour|day)\)$/.test(v), 'a rate in the singular for 1 ("rate(1 day)") and the plural otherwise ("rate(2 days)")');

/** What a plan policy rule does when it matches: `deny` stops the apply, `warn` asks for approval. */
export const PolicyEffectSchema = z.enum(['deny', 'warn']);

const PolicyRuleId = z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'a rule id of lower-case letters, digits and "-" (at most 63 characters, starting with a letter)');

/** A Terraform resource address pattern: `*` matches any characters (dots included), `?` one. */
const AddressGlob = z.string().min(1).max(512);

/** A resource type such as aws_db_instance. */
const ResourceType = z.string().regex(/^[a-z0-9_]+$/, 'a resource type such as aws_db_instance');

const ruleBase = {
  id: PolicyRuleId,
  /** @default deny */
  effect: PolicyEffectSchema.default('deny'),
  /** Shown to the approver with the rule's id and the addresses it found. @default - a message naming the rule */
  message: z.string().min(1).max(500).optional(),
};

/** `protect`: resources that may not be deleted or replaced (by type or by address pattern). */
export const ProtectRuleSchema = z
  .object({
    ...ruleBase,
    types: z.array(ResourceType).default([]),
    addresses: z.array(AddressGlob).default([]),
  })
  .strict()
  .refine((r) => r.types.length + r.addresses.length > 0, 'at least one resource type (types) or address pattern (addresses)');

/** `maxDestroys`: at most this many resources destroyed (deleted or replaced). */
export const MaxDestroysRuleSchema = z
  .object({
    ...ruleBase,
    /** In any one module. */
    perModule: z.number().int().min(0).optional(),
    /** Over every module the run plans in one account. */
    perRun: z.number().int().min(0).optional(),
  })
  .strict()
  .refine((r) => r.perModule !== undefined || r.perRun !== undefined, 'perModule, perRun or both');

/** A custom rule: a CEL expression over the plan (`plan`, the `terraform show -json` document). */
export const CustomRuleSchema = z
  .object({
    ...ruleBase,
    /**
     * True (or a non-empty list of resource addresses) when the rule matches, such as
     * `plan.resource_changes.exists(rc, rc.type == "aws_db_instance" && "delete" in rc.change.actions)`.
     */
    expression: z
      .string()
      .min(1)
      .max(2000)
      .superRefine((expression, ctx) => {
        const compiled = compileCel(expression);
        if (!compiled.ok) ctx.addIssue({ code: 'custom', message: `a CEL expression that compiles; at ${celProblemText(compiled.problem)}` });
      }),
  })
  .strict();

/**
 * A stage's plan policies, evaluated by the runner in each account after every plan, on the
 * account's own copy (its runner policy). See docs/policies.md.
 */
export const StagePoliciesSchema = z
  .object({
    protect: z.array(ProtectRuleSchema).default([]),
    maxDestroys: z.array(MaxDestroysRuleSchema).default([]),
    custom: z.array(CustomRuleSchema).default([]),
    /** A push that changes more accounts of the stage than this needs approval, even in a stage without approval. */
    maxAccounts: z.number().int().min(1).optional(),
  })
  .strict()
  .superRefine((policies, ctx) => {
    const seen = new Set<string>();
    for (const kind of ['protect', 'maxDestroys', 'custom'] as const) {
      policies[kind].forEach((rule, i) => {
        if (seen.has(rule.id)) ctx.addIssue({ code: 'custom', path: [kind, i, 'id'], message: `a rule id used once in the stage ("${rule.id}" is used twice)` });
        seen.add(rule.id);
      });
    }
  });
export type StagePolicies = z.output<typeof StagePoliciesSchema>;
export type StagePoliciesInput = z.input<typeof StagePoliciesSchema>;

export const StageSchema = z
  .object({
    /** Accounts of this stage that run at the same time. Above 40, a Distributed Map is used. */
    concurrency: z.number().int().min(1).max(1000).default(10),
    approval: ApprovalRuleSchema.default({ required: false }),
    /**
     * Roll the stage out in waves, each starting only when the one before finished within the
     * failure budget. The last wave must be `{percent: 100}`.
     * @default - one wave of every account
     */
    waves: z.array(WaveSpecSchema).min(1, 'at least one wave (or leave waves out)').max(20, 'at most 20 waves').optional(),
    /** Minutes to wait between two waves (to let alarms fire). @default 0 */
    bakeMinutes: z.number().int().min(0).max(24 * 60, 'at most 1440 minutes (a day)').optional(),
    /** Failed accounts tolerated over all the stage's waves. @default - {count: 0}: the first failure stops the stage */
    toleratedFailures: FailureBudgetSchema.optional(),
    /** Accounts of the stage that go first (they make up at least the first wave), in this order. */
    canaries: z.array(Name).min(1, 'at least one canary (or leave canaries out)').optional(),
    /**
     * Drift detection: a schedule plans every target of the stage at its last applied commit and
     * reports what changed outside the pipeline (docs/drift.md).
     * @default - no drift sweeps
     */
    drift: z.object({ schedule: DriftScheduleSchema }).strict().optional(),
    /** Plan policies checked in each account after every plan; see docs/policies.md. */
    policies: StagePoliciesSchema.optional(),
  })
  .strict();

/** An IAM role ARN. */
const RoleArn = z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/, 'an IAM role ARN such as arn:aws:iam::123456789012:role/terraform-state');

/**
 * Where an account's Terraform state lives: the S3 backend settings the plan and apply roles are
 * granted for. Without it the roles get the default name patterns (see DEFAULT_STATE_LOCATION).
 */
export const StateSchema = z
  .object({
    /** The S3 bucket holding the state (an exact name: the grants name it). */
    bucket: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name (3 to 63 lower-case letters, digits, "." and "-")'),
    /** The folder of the state objects in the bucket (the backend's `key` starts with it); "" for the whole bucket. */
    keyPrefix: z
      .string()
      .max(512)
      .regex(/^([A-Za-z0-9!_.()'-]+\/)*$/, 'a key prefix of folders ending in "/" (such as "live/"), without "*", "?" or a leading "/"')
      .default(''),
    /** The bucket's (and the lock table's) region. @default the account's region */
    region: AwsRegion.optional(),
    /** DynamoDB lock table (`dynamodb_table`), in the state region of the account (or of the state account). */
    lockTable: z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/, 'a DynamoDB table name').optional(),
    /** S3 native locking (`use_lockfile = true`, Terraform 1.10 and later): a `<key>.tflock` object. */
    lockfile: z.boolean().default(false),
    /** The SSE-KMS key of the state objects: a key ARN (IAM cannot grant on an alias). */
    kmsKey: z
      .string()
      .regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/, 'a KMS key ARN such as arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab (not an alias)')
      .optional(),
    /**
     * State kept in a separate state account: the role there the backend assumes
     * (`assume_role.role_arn` in the backend block). The plan and apply roles may then only
     * assume it; the state rights are that role's.
     */
    roleArn: RoleArn.optional(),
  })
  .strict();

/** Where runner tasks run in an account (ECS awsvpc networking, central region). */
export const NetworkSchema = z
  .object({
    vpcId: z.string().regex(/^vpc-[0-9a-f]{8,17}$/, 'a VPC id such as vpc-0123456789abcdef0'),
    subnetIds: z.array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/, 'a subnet id such as subnet-0123456789abcdef0')).min(1),
    securityGroupIds: z.array(z.string().regex(/^sg-[0-9a-f]{8,17}$/, 'a security group id such as sg-0123456789abcdef0')).default([]),
    assignPublicIp: z.boolean().default(false),
  })
  .strict();

/** A repository directory pattern: relative, no leading or trailing "/". */
const RootPattern = z.string().regex(/^[^/].*[^/]$|^[^/]$/, 'a relative path without leading or trailing "/"');

export const AccountSchema = z
  .object({
    name: Name,
    id: AccountIdSchema,
    region: AwsRegion,
    stage: Name,
    /** Where the runner tasks run in this account (ECS awsvpc networking, central region). */
    network: NetworkSchema.optional(),
    /** The account's directory pattern, overriding `layout.accountRoot` (fleet rules set it). */
    root: RootPattern.optional(),
    /** Local mode only: the AWS profile the runner uses for this account. */
    profile: z.string().min(1).optional(),
    /** Where this account's Terraform state lives; the plan and apply roles are granted exactly that. */
    state: StateSchema.optional(),
    /**
     * Whether this account's runner plans pull requests. Its policy then lets plan-only
     * pull-request tasks plan any branch of the configured repositories, and never a host's pull
     * request ref (`refs/pull/<n>/head`): a fork's commits are on no branch of the repository, so
     * the runner cannot reach them. See docs/pull-requests.md.
     * @default false - pull requests are never planned in this account
     */
    pullRequestPlans: z.boolean().optional(),
  })
  .strict();

/** A clone URL the runner can compare against its policy: the same normalisation it applies. */
const CloneUrl = z
  .string()
  .min(1)
  .refine(
    (url) => normalizeRepoUrl(url) !== undefined,
    'a clone URL the runner accepts: https://host/owner/name(.git), ssh://git@host/owner/name.git or git@host:owner/name.git',
  );

export const RepositorySchema = z
  .object({
    provider: z.enum(['github', 'gitlab']),
    /** `owner/name` on the git host (GitLab: the full project path). */
    fullName: z.string().regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)+$/, 'owner/name'),
    /** Clone URLs, in any spelling (SSH or HTTPS); the runner compares them normalized. */
    cloneUrls: z.array(CloneUrl).min(1, 'at least one clone URL'),
    /** The branch whose pushes deploy. */
    deployBranch: z.string().regex(/^[A-Za-z0-9._/-]+$/, 'a branch name such as main').default('main'),
  })
  .strict();

export const LayoutSchema = z
  .object({
    /**
     * Where an account's modules live in the repository. `{account}`, `{region}` and `{stage}`
     * are replaced by the account's values; every directory below it holding `*.tf` or
     * `terragrunt.hcl` is a module.
     */
    accountRoot: RootPattern.refine((v) => v.includes('{account}'), 'a pattern that contains {account}')
      .default('{account}/{region}'),
    /** Changed paths matching these prefixes trigger nothing (documentation, CI files). */
    ignore: z.array(z.string()).default(['README.md', 'docs/', '.github/', '.gitlab-ci.yml']),
  })
  .strict();

/**
 * Fargate CPU units and the memory sizes each allows ("Task CPU and memory", Amazon ECS
 * developer guide): the config refuses a pair ECS would refuse at deploy time.
 */
export const FARGATE_MEMORY_MIB: Readonly<Record<number, { readonly min: number; readonly max: number; readonly step: number }>> = {
  256: { min: 512, max: 2048, step: 512 },
  512: { min: 1024, max: 4096, step: 1024 },
  1024: { min: 2048, max: 8192, step: 1024 },
  2048: { min: 4096, max: 16384, step: 1024 },
  4096: { min: 8192, max: 30720, step: 1024 },
  8192: { min: 16384, max: 61440, step: 4096 },
  16384: { min: 32768, max: 122880, step: 8192 },
};

/**
 * The most modules one runner task runs at once: the runner contract's MAX_MODULE_CONCURRENCY
 * (the config floor cannot import it; a test ties the two).
 */
export const MAX_MODULE_CONCURRENCY = 8;

/** CPU units Fargate accepts. */
const FARGATE_CPU: readonly number[] = Object.keys(FARGATE_MEMORY_MIB).map(Number);

/** Why `memoryMiB` does not fit `cpu` on Fargate, or undefined when it does. */
export function fargateMemoryProblem(cpu: number, memoryMiB: number): string | undefined {
  const memory = FARGATE_MEMORY_MIB[cpu];
  if (!memory) return `cpu ${cpu} is not a Fargate size; expected one of ${FARGATE_CPU.join(', ')}`;
  if (memoryMiB < memory.min || memoryMiB > memory.max || memoryMiB % memory.step !== 0) {
    return `memoryMiB ${memoryMiB} does not fit cpu ${cpu}; expected ${memory.min} to ${memory.max} in steps of ${memory.step}`;
  }
  return undefined;
}

/** An AWS managed policy name, such as ReadOnlyAccess or job-function/ViewOnlyAccess. */
const ManagedPolicyName = z.string().regex(/^[A-Za-z0-9+=,.@_-]+(\/[A-Za-z0-9+=,.@_-]+)*$/, 'an AWS managed policy name such as ReadOnlyAccess or job-function/ViewOnlyAccess');

export const RunnerToolSchema = z.enum(['terraform', 'tofu', 'terragrunt']);

export const RunnerSchema = z
  .object({
    tool: RunnerToolSchema.default('terraform'),
    /** Subcommands the runner may run; anything else is refused in the account itself. */
    allowedSubcommands: z
      .array(z.enum(['init', 'plan', 'show', 'apply', 'validate', 'output']))
      .min(1)
      .default(['init', 'plan', 'show', 'apply']),
    /** The runner image, ideally pinned by digest. */
    image: z.string().min(1).default('public.ecr.aws/tfstep/runner:latest'),
    cpu: z
      .number()
      .refine((v) => FARGATE_CPU.includes(v), `a Fargate cpu value: one of ${FARGATE_CPU.join(', ')}`)
      .default(1024),
    memoryMiB: z.number().int().min(512).max(122880).default(2048),
    timeoutMinutes: z.number().int().min(1).max(24 * 60).default(120),
    /**
     * AWS managed policies (by name) of the plan role in every account, besides its state and
     * artifacts grants. A plan refreshes every resource its modules manage, so it needs reads
     * of their services; `ReadOnlyAccess` also lets repository code read every S3 object and SSM
     * parameter of the account at plan time. Name narrower policies to limit that.
     */
    planManagedPolicies: z.array(ManagedPolicyName).min(1).default(['ReadOnlyAccess']),
    /** AWS managed policies (by name) of the apply role: what Terraform may change. */
    applyManagedPolicies: z.array(ManagedPolicyName).min(1).default(['AdministratorAccess']),
    /**
     * How many independent modules of one account a runner task runs at once; dependent modules
     * always wait for their upstreams (see docs/dependencies.md).
     */
    moduleConcurrency: z.number().int().min(1).max(MAX_MODULE_CONCURRENCY).default(1),
  })
  .strict()
  .superRefine((runner, ctx) => {
    // An unknown cpu is reported by its own field; here only the pair.
    const problem = FARGATE_CPU.includes(runner.cpu) ? fargateMemoryProblem(runner.cpu, runner.memoryMiB) : undefined;
    if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['memoryMiB'], message: problem });
  });

/** A module path pattern of a `dependsOn` rule; see {@link globProblem} for what is accepted. */
const ModuleGlob = z.string().superRefine((glob, ctx) => {
  const problem = globProblem(glob);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

/** One `dependsOn` rule: the modules matching `module` depend on the modules matching `on`. */
export const DependsOnRuleSchema = z
  .object({
    /** The dependent modules. */
    module: ModuleGlob,
    /** Their upstreams: modules of the same account that run (and apply) first. */
    on: z.array(ModuleGlob).min(1, 'at least one module pattern'),
  })
  .strict();

export const NotificationsSchema = z
  .object({
    /** Public base URL of the approval pages (the approval function URL or a custom domain). */
    approvalBaseUrl: z.string().url().optional(),
    /** Post GitHub commit statuses; the token is read from this Secrets Manager secret. */
    githubStatusTokenSecret: z.string().min(1).optional(),
  })
  .strict();

/** Audit records are locked this many days unless `audit.retentionDays` says otherwise. */
export const DEFAULT_AUDIT_RETENTION_DAYS = 400;

/** Longest audit retention accepted: 100 years (Object Lock takes a whole number of days). */
export const MAX_AUDIT_RETENTION_DAYS = 36500;

/** The audit trail in the central account; see docs/security.md. */
export const AuditSchema = z
  .object({
    /**
     * Days each audit record stays locked (S3 Object Lock, compliance mode): nobody, the root
     * user included, can delete or change it before then, and the retention cannot be shortened
     * for records already written. @default 400 (more than a year of evidence)
     */
    retentionDays: z.number().int().min(1, 'at least 1 day').max(MAX_AUDIT_RETENTION_DAYS, `at most ${MAX_AUDIT_RETENTION_DAYS} days`).default(DEFAULT_AUDIT_RETENTION_DAYS),
  })
  .strict();

/** A regular expression as a string, checked to compile. */
const RegexSource = z
  .string()
  .min(1)
  .max(500)
  .superRefine((source, ctx) => {
    try {
      new RegExp(source, 'i');
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: `not a valid regular expression: ${(e as Error).message}` });
    }
  });

/**
 * What summaries, pages, notifications, run JSON and logs never show besides the values
 * Terraform marks sensitive; see docs/security.md.
 */
export const RedactSchema = z
  .object({
    /** Attribute names (regular expressions, case-insensitive) whose values are hidden, added to the defaults. */
    names: z.array(RegexSource).default([]),
    /** Value shapes (regular expressions) hidden wherever they appear, added to the defaults. */
    values: z.array(RegexSource).default([]),
    /** Keep the built-in patterns (passwords, secrets, tokens, private keys, AWS secret keys). @default true */
    defaults: z.boolean().default(true),
  })
  .strict();

/** A GitHub login (`octocat`), a GitHub team (`@acme/platform`) or a GitLab username. */
const PullRequestAuthor = z
  .string()
  .regex(/^(@[A-Za-z0-9][A-Za-z0-9-]{0,38}\/[A-Za-z0-9._-]{1,100}|[A-Za-z0-9][A-Za-z0-9._-]{0,254})$/, 'a login such as octocat or a team such as @acme/platform');

/** Plans of pull requests (merge requests) before merge; see docs/pull-requests.md. */
export const PullRequestsSchema = z
  .object({
    /**
     * Only pull requests by these authors are planned: logins, or GitHub teams as `@org/team`
     * (asked of GitHub with `git.centralSecret`: a GitHub App needs "Members: read"; see
     * docs/pull-requests.md). @default - every author of a same-repository pull request
     */
    authors: z.array(PullRequestAuthor).min(1, 'at least one author (or leave authors out)').optional(),
    /** The GitHub check run's name. */
    checkName: z.string().min(1).max(100).default('tfstep plan'),
  })
  .strict();

/** A Secrets Manager secret name (not an ARN): the same name in every target account. */
const SecretName = z.string().regex(/^[A-Za-z0-9/_+=.@-]{1,512}$/, 'a Secrets Manager secret name such as tfstep/git-credentials (letters, digits and /_+=.@-)');

/**
 * Credentials for private repositories. Each secret holds one document: a GitHub App
 * (`{"githubApp": {"appId", "installationId", "privateKey"}}`), an access token
 * (`{"token": "..."}`: a GitHub personal access token, or a GitLab personal, project or group
 * access token) or, for the runner over SSH, a deploy key (`{"sshPrivateKey": "..."}`).
 */
export const GitCredentialsSchema = z
  .object({
    /**
     * The secret (name or ARN) in the central account the pipeline function reads repositories
     * with (trees, diffs). @default `notifications.githubStatusTokenSecret`, else no credentials
     */
    centralSecret: z.string().min(1).optional(),
    /**
     * The name of the secret each account stack creates in its own account; the runner clones
     * with it, read by the runner's own task role. Put its value after the first deploy.
     * @default - the runner clones without credentials (public repositories)
     */
    accountSecretName: SecretName.optional(),
  })
  .strict();

export const ConfigSchema = z
  .object({
    version: z.literal(1),
    /** Central account and region: the bus, the state machine, the run table. */
    central: z.object({ account: AccountIdSchema, region: AwsRegion }).strict(),
    repositories: z.array(RepositorySchema).min(1, 'at least one repository'),
    /** Stages run in this order; a later stage never starts after a failure in an earlier one. */
    stageOrder: z.array(Name).min(1, 'at least one stage'),
    stages: z.record(Name, StageSchema),
    /**
     * Who may override a plan policy's deny (with a reason), and who approves a stage without
     * approval when a policy asks for one. A list apart from the approvers; see docs/policies.md.
     */
    policyOwners: z.array(Approver).default([]),
    /** Accounts listed one by one; they override what `fleet` rules say about the same account id. */
    accounts: z.array(AccountSchema).default([]),
    /** Accounts from AWS Organizations by OU and tag; see docs/fleet.md. */
    fleet: fleetSchemaOf({ name: Name, region: AwsRegion, accountId: AccountIdSchema, roleArn: RoleArn, network: NetworkSchema, root: RootPattern }).optional(),
    layout: LayoutSchema.default({ accountRoot: '{account}/{region}', ignore: ['README.md', 'docs/', '.github/', '.gitlab-ci.yml'] }),
    runner: RunnerSchema.default({
      tool: 'terraform',
      allowedSubcommands: ['init', 'plan', 'show', 'apply'],
      image: 'public.ecr.aws/tfstep/runner:latest',
      cpu: 1024,
      memoryMiB: 2048,
      timeoutMinutes: 120,
      planManagedPolicies: ['ReadOnlyAccess'],
      applyManagedPolicies: ['AdministratorAccess'],
      moduleConcurrency: 1,
    }),
    /**
     * Module dependencies for every account: each module matching `module` runs after the modules
     * matching `on`, in the same account. Patterns are relative to each account's root, or to the
     * repository's root when they start with "/". See docs/dependencies.md.
     */
    dependsOn: z.array(DependsOnRuleSchema).default([]),
    notifications: NotificationsSchema.default({}),
    /** Credentials for private repositories; see docs/private-repositories.md. */
    git: GitCredentialsSchema.default({}),
    /** The permanent audit trail of decisions, overrides, applies and replays. */
    audit: AuditSchema.default({ retentionDays: DEFAULT_AUDIT_RETENTION_DAYS }),
    /** Patterns of secrets kept out of everything tfstep shows, on top of Terraform's sensitive values. */
    redact: RedactSchema.default({ names: [], values: [], defaults: true }),
    /** Plans of pull requests before merge; absent: pull request events are ignored. */
    pullRequests: PullRequestsSchema.optional(),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    for (const problem of crossFieldProblems(cfg)) ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
  });

/** A problem that involves more than one field, such as an account naming an unknown stage. */
export interface CrossFieldProblem {
  readonly path: (string | number)[];
  readonly message: string;
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
function asRecord(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/**
 * Checks that span fields: stage names, duplicates, approval counts. It reads its input
 * defensively, so it also runs on a config whose single fields are broken, and every problem
 * is reported at once.
 */
export function crossFieldProblems(input: unknown): CrossFieldProblem[] {
  const problems: CrossFieldProblem[] = [];
  const cfg = asRecord(input);
  const order = asArray(cfg.stageOrder).map(str);
  const stages = asRecord(cfg.stages);
  const stageNames = Object.keys(stages);
  const seen = new Set<string>();
  order.forEach((stage, i) => {
    if (stage === undefined) return;
    if (seen.has(stage)) problems.push({ path: ['stageOrder', i], message: `each stage once ("${stage}" is listed twice)` });
    seen.add(stage);
    if (!(stage in stages)) {
      problems.push({ path: ['stageOrder', i], message: `a stage defined under stages (${stageNames.join(', ') || 'none defined'}); "${stage}" is unknown` });
    }
  });
  const accounts = asArray(cfg.accounts).map(asRecord);
  const fleetStageNames = fleetStages(cfg);
  if (accounts.length === 0 && cfg.fleet === undefined) problems.push({ path: ['accounts'], message: 'at least one account, or a fleet section (docs/fleet.md)' });
  for (const [name, raw] of Object.entries(stages)) {
    if (!order.includes(name)) {
      problems.push({ path: ['stages', name], message: `a stage that is also in stageOrder (${order.join(', ')}); add "${name}" there or remove it` });
    } else if (!accounts.some((a) => a.stage === name) && !fleetStageNames.has(name)) {
      problems.push({ path: ['stages', name], message: `at least one account (or fleet rule) in stage "${name}", or no such stage` });
    }
    problems.push(...rolloutProblems(name, asRecord(raw), accounts, fleetStageNames.has(name)));
    const policies = asRecord(asRecord(raw).policies);
    const rules = ['protect', 'maxDestroys', 'custom'].reduce((n, k) => n + asArray(policies[k]).length, 0);
    if ((rules > 0 || policies.maxAccounts !== undefined) && asArray(cfg.policyOwners).length === 0) {
      problems.push({
        path: ['stages', name, 'policies'],
        message: `at least one address in policyOwners: stage "${name}" has plan policies, and only a policy owner can override a deny (policy owners also approve a stage without approval when a policy asks for approval)`,
      });
    }
    const approval = asRecord(asRecord(raw).approval);
    const approvers = asArray(approval.approvers);
    const min = typeof approval.minApprovals === 'number' ? approval.minApprovals : 1;
    if (approval.required === true && approvers.length > 0 && min > approvers.length) {
      problems.push({
        path: ['stages', name, 'approval', 'minApprovals'],
        message: `at most ${approvers.length} required approvals, since only ${approvers.length} approvers are listed`,
      });
    }
  }
  const names = new Map<string, number>();
  const ids = new Map<string, number>();
  accounts.forEach((account, i) => {
    const name = str(account.name);
    if (name !== undefined) {
      const prev = names.get(name);
      if (prev !== undefined) problems.push({ path: ['accounts', i, 'name'], message: `a unique account name ("${name}" is also accounts[${prev}])` });
      else names.set(name, i);
    }
    // One runner per account id: its cluster, roles and task definitions have fixed names, so a
    // second entry (even in another region) would deploy the same resources twice.
    const id = str(account.id);
    if (id !== undefined) {
      const prevId = ids.get(id);
      if (prevId !== undefined) {
        problems.push({ path: ['accounts', i, 'id'], message: `each account id once (${id} is also accounts[${prevId}]); tfstep deploys one runner per account id` });
      } else ids.set(id, i);
    }
    const stage = str(account.stage);
    if (stage !== undefined && !(stage in stages)) {
      problems.push({ path: ['accounts', i, 'stage'], message: `one of the stages in stageOrder (${order.join(', ')})` });
    }
  });
  const repos = new Set<string>();
  const urlOwners = new Map<string, string>();
  asArray(cfg.repositories).map(asRecord).forEach((repo, i) => {
    const fullName = str(repo.fullName) ?? '';
    const key = `${str(repo.provider) ?? ''}:${fullName.toLowerCase()}`;
    if (repos.has(key)) problems.push({ path: ['repositories', i, 'fullName'], message: `each repository once (${fullName} is listed twice)` });
    repos.add(key);
    asArray(repo.cloneUrls).forEach((url, j) => {
      const urlKey = typeof url === 'string' ? normalizeRepoUrl(url) : undefined;
      if (urlKey === undefined) return;
      const owner = urlOwners.get(urlKey);
      if (owner !== undefined && owner !== fullName) {
        problems.push({ path: ['repositories', i, 'cloneUrls', j], message: `a clone URL of one repository (${JSON.stringify(url)} is also a clone URL of ${owner})` });
      }
      urlOwners.set(urlKey, fullName);
    });
  });
  problems.push(...fleetCrossFieldProblems(input));
  return problems;
}

/** Combinations of a stage's rollout settings (waves, canaries, bake time) that cannot work. */
function rolloutProblems(stage: string, raw: Record<string, unknown>, accounts: readonly Record<string, unknown>[], fromFleet: boolean): CrossFieldProblem[] {
  const problems: CrossFieldProblem[] = [];
  const at = (...path: (string | number)[]) => ['stages', stage, ...path];
  const waves = Array.isArray(raw.waves) ? raw.waves.map(asRecord) : undefined;
  if (waves && waves.length > 0) {
    const last = waves[waves.length - 1]!;
    if (last.percent !== 100) {
      problems.push({ path: at('waves', waves.length - 1), message: `the last wave {percent: 100}, so every account of stage "${stage}" is deployed (waves are cumulative shares of the stage)` });
    }
    let prevAccounts = 0;
    let prevPercent = 0;
    waves.forEach((w, i) => {
      if (typeof w.accounts === 'number') {
        if (w.accounts >= 1 && w.accounts <= prevAccounts) problems.push({ path: at('waves', i, 'accounts'), message: `more accounts than the wave before (${prevAccounts}): waves are cumulative, each reaches further than the last` });
        prevAccounts = Math.max(prevAccounts, w.accounts);
      }
      if (typeof w.percent === 'number') {
        if (w.percent > 0 && w.percent <= prevPercent) problems.push({ path: at('waves', i, 'percent'), message: `a larger share than the wave before (${prevPercent}%): waves are cumulative, each reaches further than the last` });
        prevPercent = Math.max(prevPercent, w.percent);
      }
    });
  }
  const bake = raw.bakeMinutes;
  if (typeof bake === 'number' && bake > 0 && (!waves || waves.length < 2)) {
    problems.push({ path: at('bakeMinutes'), message: `bakeMinutes is the wait between waves, and stage "${stage}" has ${waves ? 'one wave' : 'no waves'}: add waves or remove bakeMinutes` });
  }
  const canaries = Array.isArray(raw.canaries) ? raw.canaries : undefined;
  if (canaries) {
    const inStage = new Set(accounts.filter((a) => a.stage === stage).map((a) => str(a.name)));
    const seen = new Set<unknown>();
    canaries.forEach((c, i) => {
      if (seen.has(c)) problems.push({ path: at('canaries', i), message: `each canary once (${JSON.stringify(c)} is listed twice)` });
      seen.add(c);
      // A stage fed by fleet rules gets its accounts at run time: a canary that is not among them then is skipped.
      if (typeof c === 'string' && !inStage.has(c) && !fromFleet) problems.push({ path: at('canaries', i), message: `an account of stage "${stage}"; "${c}" is not one` });
    });
    if (!waves || waves.length < 2) {
      problems.push({ path: at('canaries'), message: `canaries go in the first of several waves, and stage "${stage}" has ${waves ? 'one wave' : 'no waves'}: add waves such as [{accounts: ${canaries.length}}, {percent: 100}]` });
    } else {
      const first = waves[0]!;
      if (typeof first.accounts === 'number' && first.accounts < canaries.length) {
        problems.push({ path: at('waves', 0, 'accounts'), message: `at least ${canaries.length} accounts in the first wave, which holds every canary (${canaries.length} named)` });
      }
    }
  }
  const budget = asRecord(raw.toleratedFailures);
  if (typeof budget.percent === 'number' && budget.percent >= 100) {
    problems.push({ path: at('toleratedFailures', 'percent'), message: 'less than 100 (percent): a budget of every account would never stop the stage' });
  }
  return problems;
}

/**
 * What a deployment to AWS needs beyond a valid config (the local mode needs none of it):
 * every account has a network for its runner tasks, and its `state:` settings are ones the plan
 * and apply roles can be granted. `tfstep validate` lists these problems and the CDK app refuses
 * to synthesise with any of them.
 */
export function deploymentProblems(cfg: Config): CrossFieldProblem[] {
  const problems: CrossFieldProblem[] = [];
  cfg.accounts.forEach((account, i) => {
    if (!account.network) {
      problems.push({
        path: ['accounts', i, 'network'],
        message: `account ${account.name} has no network: ECS RunTask needs the subnets (and security groups) its runner tasks run in; add network.vpcId and network.subnetIds`,
      });
    }
    const state = account.state;
    if (!state) return;
    const at = (field: string) => ['accounts', i, 'state', field];
    const stateRegion = state.region ?? account.region;
    if (!state.lockTable && !state.lockfile) {
      problems.push({
        path: at('lockTable'),
        message: `account ${account.name} keeps its state without a lock: set lockTable (a DynamoDB table) or lockfile: true, so two runs can never write the state at once`,
      });
    }
    if (state.kmsKey) {
      const keyRegion = state.kmsKey.split(':')[3];
      if (keyRegion !== stateRegion) {
        problems.push({
          path: at('kmsKey'),
          message: `account ${account.name}: the state key is in ${keyRegion ?? '?'} but the state bucket is in ${stateRegion}; S3 encrypts with a key of the bucket's own region`,
        });
      }
    }
    if (state.roleArn) {
      const roleAccount = state.roleArn.split(':')[4];
      if (roleAccount === account.id) {
        problems.push({
          path: at('roleArn'),
          message: `account ${account.name}: roleArn is a role of the account itself (${account.id}); it names a role in a separate state account. Drop it and the plan and apply roles are granted the state directly`,
        });
      }
      if (state.kmsKey && state.kmsKey.split(':')[4] === account.id) {
        problems.push({
          path: at('kmsKey'),
          message: `account ${account.name}: the state key is in the account itself while the state is reached through a role in another account (roleArn); the state role cannot use a key it is not granted. Expected a key of the state account`,
        });
      }
    }
  });
  problems.push(...fleetDeploymentProblems(cfg));
  return problems;
}

/** What the fleet needs in AWS: Organizations to read, a network per rule, OU ids for the StackSet. */
function fleetDeploymentProblems(cfg: Config): CrossFieldProblem[] {
  const fleet = cfg.fleet;
  if (!fleet) return [];
  const problems: CrossFieldProblem[] = [];
  if (!fleet.organizations) {
    problems.push({ path: ['fleet', 'organizations'], message: 'where the central side reads AWS Organizations (id and roleArn); fleet.file serves the local mode only' });
  } else if (fleet.organizations.roleArn.split(':')[4] === cfg.central.account && fleet.stackSet?.account !== cfg.central.account) {
    problems.push({
      path: ['fleet', 'organizations', 'roleArn'],
      message: `a role in the management account or a delegated administrator; ${cfg.central.account} is the central account, which can read Organizations only if it is one of them (then also set fleet.stackSet.account to it)`,
    });
  }
  const rules = [...fleet.ous.map((r, i) => ['ous', i, r] as const), ...fleet.tags.map((r, i) => ['tags', i, r] as const)];
  for (const [kind, i, rule] of rules) {
    if (!rule.network) {
      problems.push({ path: ['fleet', kind, i, 'network'], message: `fleet.${kind}[${i}] has no network: ECS RunTask needs the subnets its runner tasks run in, the same in every matched account (a shared VPC or one made by the account vending process)` });
    }
  }
  if (fleet.stackSet) {
    fleet.ous.forEach((rule, i) => {
      if (rule.id === undefined) problems.push({ path: ['fleet', 'ous', i, 'id'], message: `the OU id of ${rule.path ?? 'this rule'}: a StackSet targets OUs by id` });
    });
  }
  return problems;
}

/** The config file as written (before defaults). */
export type ConfigInput = z.input<typeof ConfigSchema>;
/** The validated config with every default filled in. */
export type Config = z.output<typeof ConfigSchema>;
export type AccountConfig = z.output<typeof AccountSchema>;
export type StageConfig = z.output<typeof StageSchema>;
export type WaveSpecConfig = z.output<typeof WaveSpecSchema>;
export type FailureBudgetConfig = z.output<typeof FailureBudgetSchema>;
export type RepositoryConfig = z.output<typeof RepositorySchema>;
export type ApprovalRule = z.output<typeof ApprovalRuleSchema>;
export type RunnerConfig = z.output<typeof RunnerSchema>;
export type StateConfig = z.output<typeof StateSchema>;
export type FleetConfig = NonNullable<Config['fleet']>;
export type NetworkConfig = z.output<typeof NetworkSchema>;
export type DependsOnRule = z.output<typeof DependsOnRuleSchema>;
export type RedactConfig = z.output<typeof RedactSchema>;
export type PullRequestsConfig = z.output<typeof PullRequestsSchema>;
