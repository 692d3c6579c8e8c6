import { join } from 'node:path';
import { loadConfig } from '../../lib/config/loader';
import { runnerPolicyFor, runnerPolicyInput } from '../../lib/domain/runner-policy';

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
