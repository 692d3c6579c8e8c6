import { join } from 'node:path';
import { loadConfig } from '../../lib/config/loader';
import { RunnerPolicySchema } from '../../lib/domain/runner-contract';
import { FLEET_ALL_STAGES, fleetPlanPoliciesOf, fleetRunnerPolicyInput, runnerPolicyFor, runnerPolicyInput } from '../../lib/domain/runner-policy';

const EXAMPLE = join(__dirname, '..', '..', 'examples', 'tfstep.yaml');

describe('runnerPolicyFor', () => {
  it('allows each account exactly the configured repositories, deploy branches and subcommands', () => {
    // GIVEN the example config
    const config = loadConfig(EXAMPLE);
    for (const account of config.accounts) {
      // WHEN the account's policy is built
      const policy = runnerPolicyFor(config, account);
      // THEN it names the account and nothing beyond the config
      expect(policy.account).toBe(account.name);
      expect(policy.repositories).toEqual(['https://github.com/acme/infrastructure-live.git', 'git@github.com:acme/infrastructure-live.git']);
      expect(policy.refs).toEqual(['refs/heads/main']);
      expect(policy.allowedSubcommands).toEqual(['init', 'plan', 'show', 'apply']);
      expect(policy.artifacts).toBe('s3://tfstep-artifacts-999999999999-us-east-1');
    }
  });

  it('fails when the config would give the runner an unusable policy', () => {
    // GIVEN a config whose runner allows no subcommand (possible only by editing a parsed config)
    const config = loadConfig(EXAMPLE);
    const broken = { ...config, runner: { ...config.runner, allowedSubcommands: [] } };
    // WHEN built THEN the unvalidated input shows it, and the validated policy refuses it
    expect(runnerPolicyInput(broken, config.accounts[0]!)).toMatchObject({ allowedSubcommands: [] });
    expect(() => runnerPolicyFor(broken, config.accounts[0]!)).toThrow(/allowedSubcommands/);
  });
});

describe('fleetPlanPoliciesOf', () => {
  it("gives the pseudo-stage ALL every stage's rules, ids unique and valid even when a stage name and a long id together pass 63 characters", () => {
    // GIVEN two stages using the same rule id, one of them a 63-character id
    const config = loadConfig(EXAMPLE);
    const longId = `r${'x'.repeat(62)}`;
    const protect = (id: string) => ({ id, effect: 'deny' as const, types: ['aws_db_instance'], addresses: [] });
    config.stages.prod!.policies = { protect: [protect('keep'), protect(longId)], maxDestroys: [], custom: [] };
    config.stages.dev!.policies = { protect: [protect('keep')], maxDestroys: [], custom: [] };
    // WHEN the ALL policies are built
    const all = fleetPlanPoliciesOf(config, FLEET_ALL_STAGES).planPolicies!;
    // THEN every rule is there, prefixed with its stage, the long one shortened with a hash
    const ids = all.protect.map((r) => r.id);
    expect(ids.slice(0, 2)).toEqual(['dev-keep', 'prod-keep']);
    expect(ids[2]).toMatch(/^prod-rx+-[0-9a-f]{8}$/);
    expect(ids[2]).toHaveLength(63);
    // AND the runner accepts the policy that carries them (rule ids are checked there too)
    expect(RunnerPolicySchema.parse(fleetRunnerPolicyInput(config, FLEET_ALL_STAGES, 'eu-west-1')).planPolicies?.protect).toHaveLength(3);
    // AND a named stage gets its own rules, unprefixed
    expect(fleetPlanPoliciesOf(config, 'dev').planPolicies!.protect.map((r) => r.id)).toEqual(['keep']);
    expect(fleetPlanPoliciesOf(config, 'stage')).toEqual({});
  });
});
