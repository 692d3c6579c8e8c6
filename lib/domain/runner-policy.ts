import { createHash } from 'node:crypto';
import type { AccountConfig, Config, StagePolicies } from '../config/schema';
import { names } from './names';
import { AWS_LIMITS, RUNNER_POLICY_PARAMETER_TIER } from './aws-limits';
import { hasRules } from './plan-policy';
import { RunnerPolicySchema, type RunnerPolicy } from './runner-contract';

/**
 * The runner policy of one account as the account stack writes it to SSM, before validation
 * (so `tfstep validate` can list every problem). Both task definitions read the one parameter
 * the image's ENTRYPOINT names, so it lists every phase; the plan task still cannot apply
 * anything, since its task role is read-only.
 */
export function runnerPolicyInput(config: Config, account: AccountConfig): unknown {
  return {
    account: account.name,
    repositories: [...new Set(config.repositories.flatMap((r) => r.cloneUrls))],
    refs: [...new Set(config.repositories.map((r) => `refs/heads/${r.deployBranch}`))],
    tool: config.runner.tool,
    allowedSubcommands: config.runner.allowedSubcommands,
    phases: ['plan', 'apply', 'plan-and-apply'],
    artifacts: `s3://${names.artifactsBucket(config.central.account, config.central.region)}`,
    region: account.region,
    planRecords: `dynamodb://${names.planRecordsTable(config.central.region)}`,
    requireRemoteBackend: true,
    requireLockFile: true,
    // Off unless the account opts in: a pull request's plan runs provider and `external` code from an unmerged branch.
    ...(account.pullRequestPlans === true ? { pullRequestBranches: true } : {}),
    redact: config.redact,
    // The account's own secret (the account stack creates it); never a value from the central account.
    ...(config.git.accountSecretName === undefined ? {} : { gitCredentialsSecret: config.git.accountSecretName }),
    ...planPoliciesOf(config, account),
  };
}

/**
 * The plan policies of the account's stage as its runner policy carries them (none when the stage
 * has no rule the runner checks). `maxAccounts` stays central: one account cannot count the others.
 */
export function planPoliciesOf(config: Config, account: Pick<AccountConfig, 'stage'>): { planPolicies?: RunnerPlanPolicies } {
  const policies = config.stages[account.stage]?.policies;
  if (!hasRules(policies)) return {};
  const { protect, maxDestroys, custom } = policies;
  return { planPolicies: { protect, maxDestroys, custom } };
}

/**
 * The pseudo-stage of the fleet's StackSet accounts whose stage is unknown when the StackSet is
 * deployed (those of `fleet.stackSet.extraOrganizationalUnitIds`, where tag rules pick the
 * stage later): it carries every stage's rules at once. Upper case, so no stage can be named so.
 */
export const FLEET_ALL_STAGES = 'ALL';

/** The plan policies one runner checks, as the runner policy carries them (`maxAccounts` stays central). */
export type RunnerPlanPolicies = Pick<StagePolicies, 'protect' | 'maxDestroys' | 'custom'>;

/** A rule id made unique across stages: `<stage>-<id>`, shortened with a hash past the 63 characters an id may have. */
function stageRuleId(stage: string, id: string): string {
  const full = `${stage}-${id}`;
  if (full.length <= 63) return full;
  return `${full.slice(0, 54)}-${createHash('sha256').update(full).digest('hex').slice(0, 8)}`;
}

/**
 * The plan policies a StackSet account of `stage` checks: its stage's own, or for
 * {@link FLEET_ALL_STAGES} every stage's rules together, each id prefixed with its stage. Every
 * rule is checked and the strongest effect wins (a deny of any stage stops the apply), so an
 * account whose stage is unknown is held to the strictest rules there are, never to the weakest.
 */
export function fleetPlanPoliciesOf(config: Config, stage: string): { planPolicies?: RunnerPlanPolicies } {
  if (stage !== FLEET_ALL_STAGES) return planPoliciesOf(config, { stage });
  const all: RunnerPlanPolicies = { protect: [], maxDestroys: [], custom: [] };
  for (const name of config.stageOrder) {
    const policies: StagePolicies | undefined = config.stages[name]?.policies;
    if (!hasRules(policies)) continue;
    const renamed = <R extends { id: string; message?: string }>(rule: R): R => ({ ...rule, id: stageRuleId(name, rule.id), message: rule.message ?? `stage ${name}'s rule ${rule.id}` });
    all.protect.push(...policies.protect.map(renamed));
    all.maxDestroys.push(...policies.maxDestroys.map(renamed));
    all.custom.push(...policies.custom.map(renamed));
  }
  return all.protect.length + all.maxDestroys.length + all.custom.length > 0 ? { planPolicies: all } : {};
}

/** The stages a StackSet account may be given (the template's stage parameter): every stage, then {@link FLEET_ALL_STAGES}. */
export function fleetPolicyStages(config: Config): string[] {
  return [...config.stageOrder, FLEET_ALL_STAGES];
}

/**
 * The runner policy of a StackSet account of `stage` in `region`, before validation, for
 * `tfstep validate` and the StackSet template (which writes the account id and region per
 * instance; `000000000000` has the length of any account id). OU rules set nothing else an
 * account's runner policy depends on (no `pullRequestPlans`), so the stage is all that differs.
 */
export function fleetRunnerPolicyInput(config: Config, stage: string, region: string): Record<string, unknown> {
  const account: AccountConfig = { name: 'acct-000000000000', id: '000000000000', region, stage: stage === FLEET_ALL_STAGES ? config.stageOrder[0]! : stage };
  const { planPolicies: _own, ...base } = runnerPolicyInput(config, account) as Record<string, unknown>;
  return { ...base, ...fleetPlanPoliciesOf(config, stage) };
}

/**
 * Problems of the runner policies the fleet's StackSet template writes, one per stage it may be
 * given: each must be valid and fit the Standard SSM parameter it is stored in, measured with the
 * longest region an OU rule gives (the account id always has 12 digits).
 */
export function fleetRunnerPolicyProblems(config: Config): string[] {
  const fleet = config.fleet;
  if (!fleet?.stackSet) return [];
  const region = [config.central.region, ...fleet.ous.map((r) => r.region)].reduce((a, b) => (b.length > a.length ? b : a));
  const max = AWS_LIMITS.ssmParameterBytes[RUNNER_POLICY_PARAMETER_TIER];
  const problems: string[] = [];
  for (const stage of fleetPolicyStages(config)) {
    const what = stage === FLEET_ALL_STAGES ? `runner policy of the fleet's StackSet accounts of stage ${stage} (every stage's rules)` : `runner policy of the fleet's StackSet accounts of stage ${stage}`;
    const result = RunnerPolicySchema.safeParse(fleetRunnerPolicyInput(config, stage, region));
    if (!result.success) {
      for (const issue of result.error.issues) problems.push(`${what}: ${issue.path.join('.') || '(top level)'}: ${issue.message}`);
      continue;
    }
    const bytes = Buffer.byteLength(JSON.stringify(result.data));
    if (bytes > max) {
      const fix = stage === FLEET_ALL_STAGES ? 'shorten the plan policies of the stages (messages, expressions): together they must fit' : `shorten the plan policies of stage ${stage} (messages, expressions)`;
      problems.push(`${what}: ${bytes} bytes, over the ${max} bytes of an SSM parameter (${RUNNER_POLICY_PARAMETER_TIER} tier); ${fix}`);
    }
  }
  return problems;
}

/** The validated runner policy of one account. */
export function runnerPolicyFor(config: Config, account: AccountConfig): RunnerPolicy {
  return RunnerPolicySchema.parse(runnerPolicyInput(config, account));
}
