/** Unit checks of the runner's pieces: logger masking, tool environment, git credentials. */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { InfraError } from '../../lib/runner/errors';
import { prepareGitAccess } from '../../lib/runner/git';
import { parseArgs } from '../../lib/runner/inputs';
import { LineSplitter, Logger, MASK } from '../../lib/runner/logger';
import { toolEnv } from '../../lib/runner/tool';

function collect() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, logger: new Logger({ write: (c: string) => out.push(c) }, { write: (c: string) => err.push(c) }) };
}

describe('Logger', () => {
  it('GIVEN a registered token WHEN a line contains it THEN the line is masked on stdout and in the kept log', () => {
    const { out, logger } = collect();
    logger.addSecret('ghp_supersecrettoken123');
    logger.info('cloning https://x:ghp_supersecrettoken123@github.com/acme/live\nsecond ghp_supersecrettoken123');
    expect(out.join('')).toBe(`cloning https://x:${MASK}@github.com/acme/live\nsecond ${MASK}\n`);
    expect(logger.lines().join('\n')).not.toContain('ghp_supersecrettoken123');
  });

  it('GIVEN a registered SSH key WHEN one of its lines is printed THEN that line is masked', () => {
    const { out, logger } = collect();
    const key = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\nQyNTUxOQAAACBm2mDx8yVq9Ow\n-----END OPENSSH PRIVATE KEY-----';
    logger.addSecret(key);
    logger.info('debug: b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ');
    expect(out.join('')).toBe(`debug: ${MASK}\n`);
  });

  it('GIVEN a refusal WHEN written THEN it is exactly one line on stderr', () => {
    const { err, logger } = collect();
    logger.error('refused\nsomething');
    expect(err).toEqual(['refused something\n']);
  });

  it('GIVEN a prefixed logger for one module WHEN a secret is registered later on the runner\'s logger THEN the prefixed lines are masked and kept in the one log', () => {
    const { out, logger } = collect();
    const app = logger.withPrefix('[dev/app] ');
    logger.addSecret('ghp_supersecrettoken123');
    app.info('token ghp_supersecrettoken123\nsecond line');
    logger.info('runner line');
    expect(out.join('')).toBe(`[dev/app] token ${MASK}\n[dev/app] second line\nrunner line\n`);
    expect(logger.lines()).toEqual([`[dev/app] token ${MASK}`, '[dev/app] second line', 'runner line']);
  });

  it('GIVEN chunks split mid-line WHEN split THEN whole lines come out', () => {
    const lines: string[] = [];
    const s = new LineSplitter((l) => lines.push(l));
    s.push('ab');
    s.push('c\nde');
    s.push('f\r\n');
    s.push('tail');
    s.end();
    expect(lines).toEqual(['abc', 'def', 'tail']);
  });
});

describe('toolEnv', () => {
  const from = {
    PATH: '/attacker/bin',
    HOME: '/root',
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/abc',
    AWS_REGION: 'eu-west-1',
    TF_CLI_ARGS_apply: '-replace=aws_iam_role.admin',
    TF_VAR_x: '1',
    TF_LOG: 'trace',
    GIT_SSH_COMMAND: 'ssh -i ~/.ssh/stolen',
    NODE_OPTIONS: '--import=data:text/javascript,1',
    TFSTEP_COMMIT: 'a'.repeat(40),
    TFSTEP_TEST_DOUBLE_FAIL: 'x',
  };
  const tool = (isTestDouble: boolean) => ({ name: 'terraform' as const, bin: '/usr/local/bin/terraform', isTestDouble });

  it('GIVEN a hostile environment WHEN building the real tool env THEN only the allowlist, a fixed PATH and HOME pass', () => {
    const { env, dropped } = toolEnv({ from, searchPath: '/usr/local/bin:/usr/bin:/bin', home: '/home/runner', tool: tool(false), module: 'dev/a' });
    expect(env).toEqual({
      PATH: '/usr/local/bin:/usr/bin:/bin',
      HOME: '/home/runner',
      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/abc',
      AWS_REGION: 'eu-west-1',
      TF_IN_AUTOMATION: '1',
      TF_INPUT: '0',
    });
    expect(dropped).toEqual(['GIT_SSH_COMMAND', 'NODE_OPTIONS', 'TF_CLI_ARGS_apply', 'TF_LOG', 'TF_VAR_x']);
  });

  it('GIVEN the test double WHEN building its env THEN it also gets its own variables and the module path', () => {
    const { env } = toolEnv({ from, searchPath: '/bin', home: '/home/runner', tool: tool(true), module: 'dev/a' });
    expect(env).toMatchObject({ TFSTEP_TEST_DOUBLE_FAIL: 'x', TFSTEP_MODULE_PATH: 'dev/a' });
    expect(env).not.toHaveProperty('TFSTEP_COMMIT');
  });
});

describe('parseArgs', () => {
  it('GIVEN the image entrypoint argument WHEN parsed THEN the policy comes from SSM', () => {
    expect(parseArgs(['--policy-source=ssm:/tfstep/runner/policy'])).toEqual({ kind: 'ssm', name: '/tfstep/runner/policy' });
  });
  it('fails when there is no argument', () => {
    expect(() => parseArgs([])).toThrow(/exactly one --policy-source=/);
  });
});

describe('prepareGitAccess', () => {
  const sm = mockClient(SecretsManagerClient);
  let dir: string;
  beforeEach(() => {
    sm.reset();
    dir = mkdtempSync(path.join(os.tmpdir(), 'tfstep-secrets-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('GIVEN a token secret and an HTTPS URL WHEN prepared THEN git gets a 0600 credential file path, never the token', async () => {
    sm.on(GetSecretValueCommand, { SecretId: 'git/live' }).resolves({ SecretString: JSON.stringify({ token: 'ghp_tok_abcdef123456' }) });
    const { logger, out } = collect();
    const access = await prepareGitAccess({ secretId: 'git/live', cloneUrl: 'https://github.com/acme/live.git', secretDir: path.join(dir, 's'), logger, secrets: new SecretsManagerClient({}) });
    expect(JSON.stringify(access)).not.toContain('ghp_tok_abcdef123456');
    const store = path.join(dir, 's', 'git-credentials');
    expect(access.configArgs).toEqual(['-c', 'credential.helper=', '-c', `credential.helper=store --file=${store}`]);
    expect(readFileSync(store, 'utf8')).toBe('https://x-access-token:ghp_tok_abcdef123456@github.com\n');
    expect(statSync(store).mode & 0o777).toBe(0o600);
    logger.info('token ghp_tok_abcdef123456');
    expect(out.join('')).toBe(`token ${MASK}\n`);
  });

  it('GIVEN a deploy key and an SSH URL WHEN prepared THEN GIT_SSH_COMMAND names a 0600 key file and pins host keys', async () => {
    const key = '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAkeymaterialAAAA\n-----END OPENSSH PRIVATE KEY-----';
    sm.on(GetSecretValueCommand).resolves({ SecretString: key });
    const { logger } = collect();
    const access = await prepareGitAccess({ secretId: 'k', cloneUrl: 'git@github.com:acme/live.git', secretDir: path.join(dir, 's'), logger, secrets: new SecretsManagerClient({}) });
    const keyFile = path.join(dir, 's', 'deploy_key');
    expect(access.env.GIT_SSH_COMMAND).toContain(`-i '${keyFile}'`);
    expect(access.env.GIT_SSH_COMMAND).toContain('StrictHostKeyChecking=yes');
    expect(access.env.GIT_SSH_COMMAND).not.toContain('keymaterial');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(path.join(dir, 's', 'known_hosts'), 'utf8')).toMatch(/^github\.com ssh-ed25519 /);
  });

  it('fails when Secrets Manager cannot be read: an infrastructure error (retryable)', async () => {
    sm.on(GetSecretValueCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    const { logger } = collect();
    await expect(
      prepareGitAccess({ secretId: 'k', cloneUrl: 'git@github.com:acme/live.git', secretDir: dir, logger, secrets: new SecretsManagerClient({}) }),
    ).rejects.toBeInstanceOf(InfraError);
  });

  it('fails when a token is configured for an SSH URL', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: 'plain-token-value' });
    const { logger } = collect();
    await expect(
      prepareGitAccess({ secretId: 'k', cloneUrl: 'git@github.com:acme/live.git', secretDir: dir, logger, secrets: new SecretsManagerClient({}) }),
    ).rejects.toThrow(/holds no SSH key/);
  });
});
