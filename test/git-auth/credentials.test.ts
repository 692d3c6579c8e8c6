/** Git credentials: the accepted shapes, GitHub App installation tokens, HTTP credentials per repository. */
import { GitCredentialFormatError, GitHubAppTokens, InstallationTokenError, httpCredentialFor, parseGitCredential, repositoryNameOf, secretValues } from '../../lib/git-auth';
import { startFakeGitHub, type FakeGitHub } from './fake-github';

describe('parseGitCredential', () => {
  it.each([
    ['a plain token', 'ghp_abc', { token: 'ghp_abc' }],
    ['a plain SSH key', '-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----', { sshPrivateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----' }],
    ['a GitLab token with a user', '{"token":"glpat-1","username":"oauth2"}', { token: 'glpat-1', username: 'oauth2' }],
    [
      'a GitHub App with numeric ids',
      '{"githubApp":{"appId":12,"installationId":"34","privateKey":"-----BEGIN RSA PRIVATE KEY-----\\nk\\n-----END RSA PRIVATE KEY-----"}}',
      { githubApp: { appId: '12', installationId: '34', privateKey: '-----BEGIN RSA PRIVATE KEY-----\nk\n-----END RSA PRIVATE KEY-----' } },
    ],
  ])('GIVEN %s WHEN parsed THEN it is accepted', (_what, text, expected) => {
    expect(parseGitCredential(text, 'the test')).toEqual(expected);
  });

  it('fails when the JSON has no accepted shape, naming the field and never echoing the value', () => {
    const text = '{"githubApp":{"appId":"12","installationId":"34","privateKey":"not-a-key-SECRETVALUE"}}';
    expect(() => parseGitCredential(text, 'secret tfstep/git')).toThrow(GitCredentialFormatError);
    try {
      parseGitCredential(text, 'secret tfstep/git');
    } catch (e) {
      expect((e as Error).message).toContain('secret tfstep/git');
      expect((e as Error).message).toContain('githubApp.privateKey');
      expect((e as Error).message).not.toContain('SECRETVALUE');
    }
  });

  it('fails when the document is empty or not JSON', () => {
    expect(() => parseGitCredential('  ', 'file x')).toThrow(/are empty/);
    expect(() => parseGitCredential('{token', 'file x')).toThrow(/not valid JSON/);
  });

  it('GIVEN each shape WHEN its secret values are listed THEN the secret string is among them', () => {
    expect(secretValues({ token: 't' })).toEqual(['t']);
    expect(secretValues({ sshPrivateKey: 'k' })).toEqual(['k']);
  });

  it.each([
    ['acme/live', 'acme', 'live'],
    ['https://github.com/acme/live.git', 'acme', 'live'],
    ['git@github.com:acme/live.git', 'acme', 'live'],
    ['ssh://git@github.com/acme/live', 'acme', 'live'],
  ])('GIVEN %s WHEN its repository name is read THEN it is %s/%s', (input, owner, name) => {
    expect(repositoryNameOf(input)).toEqual({ owner, name });
  });
});

describe('GitHubAppTokens against a GitHub stand-in on loopback', () => {
  let gh: FakeGitHub;
  beforeAll(async () => {
    gh = await startFakeGitHub({ visible: ['live', 'modules'] });
  });
  afterAll(() => gh.close());

  const app = () => ({ appId: gh.appId, installationId: gh.installationId, privateKey: gh.privateKey, apiBaseUrl: gh.apiBaseUrl });

  it('GIVEN an App WHEN a token is asked for one repository THEN GitHub is asked for that repository and contents:read only, once while the token lives', async () => {
    const tokens = new GitHubAppTokens(app());
    const before = gh.requests.length;
    const first = await tokens.token(['live']);
    const second = await tokens.token(['live']);
    expect(first.token).toMatch(/^ghs_fake/);
    expect(second.token).toBe(first.token);
    expect(gh.requests.slice(before)).toEqual([{ installationId: gh.installationId, repositories: ['live'], permissions: { contents: 'read' } }]);
  });

  it('fails when the installation cannot see the repository, with GitHub status and message', async () => {
    const tokens = new GitHubAppTokens(app());
    await expect(tokens.token(['secret-repo'])).rejects.toThrow(InstallationTokenError);
    await expect(tokens.token(['secret-repo'])).rejects.toThrow(/HTTP 422 \(There is at least one repository/);
  });

  it('fails when the private key is not the App key: GitHub refuses the JWT', async () => {
    const other = await startFakeGitHub();
    try {
      const tokens = new GitHubAppTokens({ ...app(), privateKey: other.privateKey });
      await expect(tokens.token(['live'])).rejects.toThrow(/HTTP 401 \(A JSON web token could not be decoded \(JWT signature does not verify\)\)/);
    } finally {
      await other.close();
    }
  });

  it('GIVEN an App credential WHEN the HTTP credential of a clone URL is asked THEN it is a token for that repository alone', async () => {
    const source = httpCredentialFor({ githubApp: app() }, 'https://github.com/acme/modules.git');
    const cred = await source();
    expect(cred.username).toBe('x-access-token');
    expect(gh.issued.get(JSON.stringify(['modules']))).toBe(cred.token);
  });

  it('GIVEN a token or an SSH key WHEN the HTTP credential is asked THEN the token is used as is, and the key is refused with a reason', async () => {
    await expect(httpCredentialFor({ token: 'glpat-x', username: 'oauth2' }, 'group/sub/live')()).resolves.toEqual({ username: 'oauth2', token: 'glpat-x' });
    await expect(httpCredentialFor({ sshPrivateKey: 'k' }, 'acme/live')()).rejects.toThrow(/SSH key, which cannot read acme\/live over HTTPS/);
  });
});
