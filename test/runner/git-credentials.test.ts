/** The runner's git credentials: a GitHub App in the account's secret, and file credentials of the local mode. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { InfraError, RefusedError } from '../../lib/runner/errors';
import { prepareGitAccess } from '../../lib/runner/git';
import { Logger, MASK } from '../../lib/runner/logger';
import { startFakeGitHub, type FakeGitHub } from '../git-auth/fake-github';

function collect() {
  const out: string[] = [];
  return { out, logger: new Logger({ write: (c: string) => out.push(c) }, { write: (c: string) => out.push(c) }) };
}

describe('prepareGitAccess with a GitHub App (Secrets Manager mocked; GitHub stood in on loopback)', () => {
  const sm = mockClient(SecretsManagerClient);
  let gh: FakeGitHub;
  let dir: string;
  beforeAll(async () => {
    gh = await startFakeGitHub({ visible: ['live'] });
  });
  afterAll(() => gh.close());
  beforeEach(() => {
    sm.reset();
    dir = mkdtempSync(path.join(os.tmpdir(), 'tfstep-app-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const appSecret = () => JSON.stringify({ githubApp: { appId: gh.appId, installationId: gh.installationId, privateKey: gh.privateKey, apiBaseUrl: gh.apiBaseUrl } });

  it('GIVEN an App secret WHEN the runner prepares an HTTPS clone THEN git gets a token minted for that repository alone, and the key and token are masked', async () => {
    sm.on(GetSecretValueCommand, { SecretId: 'tfstep/git-credentials' }).resolves({ SecretString: appSecret() });
    const { logger, out } = collect();
    const before = gh.requests.length;
    const access = await prepareGitAccess({ secretId: 'tfstep/git-credentials', cloneUrl: 'https://github.com/acme/live.git', secretDir: path.join(dir, 's'), logger, secrets: new SecretsManagerClient({}) });
    expect(gh.requests.slice(before)).toEqual([{ installationId: gh.installationId, repositories: ['live'], permissions: { contents: 'read' } }]);
    const token = gh.issued.get(JSON.stringify(['live']))!;
    expect(readFileSync(path.join(dir, 's', 'git-credentials'), 'utf8')).toBe(`https://x-access-token:${token}@github.com\n`);
    expect(JSON.stringify(access)).not.toContain(token);
    logger.info(`token ${token} key ${gh.privateKey.split('\n')[1]}`);
    expect(out.join('')).toBe(`token ${MASK} key ${MASK}\n`);
  });

  it('fails when the installation cannot see the repository: an infrastructure error naming the clone URL', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: appSecret() });
    const { logger } = collect();
    const p = prepareGitAccess({ secretId: 'k', cloneUrl: 'https://github.com/acme/other.git', secretDir: dir, logger, secrets: new SecretsManagerClient({}) });
    await expect(p).rejects.toBeInstanceOf(InfraError);
    await expect(prepareGitAccess({ secretId: 'k', cloneUrl: 'https://github.com/acme/other.git', secretDir: dir, logger, secrets: new SecretsManagerClient({}) })).rejects.toThrow(
      /cannot get a token for https:\/\/github.com\/acme\/other.git: .*HTTP 422/,
    );
  });

  it('fails when the secret is JSON of no accepted shape, without echoing it', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: '{"password":"hunter2-secret"}' });
    const { logger } = collect();
    const p = prepareGitAccess({ secretId: 'k', cloneUrl: 'https://github.com/acme/live.git', secretDir: dir, logger, secrets: new SecretsManagerClient({}) });
    await expect(p).rejects.toThrow(/not in an accepted shape/);
    await expect(prepareGitAccess({ secretId: 'k', cloneUrl: 'https://github.com/acme/live.git', secretDir: dir, logger, secrets: new SecretsManagerClient({}) })).rejects.not.toThrow(/hunter2/);
  });
});

describe('prepareGitAccess with file credentials (the local mode)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tfstep-filecred-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('GIVEN a policy read from a file WHEN the credentials are file:<path> THEN the file is read', async () => {
    const file = path.join(dir, 'cred.json');
    writeFileSync(file, '{"token":"local-token-123","username":"ci"}', { mode: 0o600 });
    const { logger } = collect();
    await prepareGitAccess({ secretId: `file:${file}`, cloneUrl: 'http://127.0.0.1:1/live.git', secretDir: path.join(dir, 's'), logger, allowFileCredentials: true });
    expect(readFileSync(path.join(dir, 's', 'git-credentials'), 'utf8')).toBe('http://ci:local-token-123@127.0.0.1:1\n');
  });

  it('fails when file credentials come from a policy that was not read from a file (SSM in AWS): refused', async () => {
    const { logger } = collect();
    await expect(prepareGitAccess({ secretId: 'file:/etc/passwd', cloneUrl: 'https://github.com/acme/live.git', secretDir: dir, logger })).rejects.toBeInstanceOf(RefusedError);
  });
});
