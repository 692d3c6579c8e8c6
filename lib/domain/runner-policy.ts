import type { AccountConfig, Config } from '../config/schema';
import { names } from './names';
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
export function planPoliciesOf(config: Config, account: Pick<AccountConfig, 'stage'>): { planPolicies?: { protect: unknown[]; maxDestroys: unknown[]; custom: unknown[] } } {
  const policies = config.stages[account.stage]?.policies;
  if (!hasRules(policies)) return {};
  const { protect, maxDestroys, custom } = policies;
  return { planPolicies: { protect, maxDestroys, custom } };
}

/** The validated runner policy of one account. */
export function runnerPolicyFor(config: Config, account: AccountConfig): RunnerPolicy {
  return RunnerPolicySchema.parse(runnerPolicyInput(config, account));
}
