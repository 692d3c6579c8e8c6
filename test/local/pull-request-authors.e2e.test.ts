/**
 * `pullRequests.authors` with a GitHub team in `tfstep local serve`: the server checks team
 * membership as the pipeline function does in AWS, with the local git credentials
 * (TFSTEP_GIT_CREDENTIALS), against a real HTTP server on loopback standing in for the GitHub API.
 * Without credentials, team entries match nobody and the refusal names the missing variables.
 */
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import type { PullRequestRunView } from '../../lib/local/ui/pull-requests';
import { localServe, type LocalServer } from '../../lib/local/ui/serve';
import { startFakeGitHub, type FakeGitHub, type OtherRequest } from '../git-auth/fake-github';
import { commit, makeInfraRepo, stateDirWithBundle, tempDir, until } from './helpers';

jest.setTimeout(60_000);

const SECRET = 'local-webhook-secret-for-tests';

function configFor(repo: string): string {
  const file = path.join(tempDir('config'), 'tfstep.yaml');
  writeFileSync(
    file,
    [
      'version: 1',
      'central: { account: "999999999999", region: us-east-1 }',
      'repositories:',
      `  - { provider: github, fullName: acme/live, cloneUrls: [${JSON.stringify(repo)}] }`,
      'stageOrder: [dev]',
      'stages: { dev: {} }',
      'accounts:',
      '  - { name: dev-a, id: "111111111111", region: us-east-1, stage: dev, pullRequestPlans: true }',
      'pullRequests: { authors: [bob, "@acme/platform"] }',
      '',
    ].join('\n'),
  );
  return file;
}

/** The `opened` example of @octokit/webhooks-examples: pull request `number` by `login`, at `headSha`. */
function pullRequestBody(number: number, login: string, headSha: string): string {
  const text = readFileSync(path.join(__dirname, '..', 'fixtures', 'webhook', 'github-pull-request-opened.json'), 'utf8').split('acme/infrastructure-live').join('acme/live');
  const payload = JSON.parse(text) as { number: number; sender: { login: string }; pull_request: { number: number; user: { login: string }; head: { ref: string; sha: string } } };
  payload.number = number;
  payload.pull_request.number = number;
  payload.pull_request.user.login = login;
  payload.sender.login = login;
  payload.pull_request.head.ref = 'docs-only';
  payload.pull_request.head.sha = headSha;
  return JSON.stringify(payload);
}

async function deliver(server: LocalServer, body: string, delivery: string): Promise<unknown> {
  const res = await fetch(`${server.url}/webhook`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'pull_request',
      'x-github-delivery': delivery,
      'x-hub-signature-256': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`,
    },
    body,
  });
  return res.json();
}

async function pullRequestRuns(server: LocalServer): Promise<PullRequestRunView[]> {
  const res = await fetch(`${server.url}/runs`);
  return ((await res.json()) as { pullRequests: PullRequestRunView[] }).pullRequests;
}

/** A repository with a pull request branch that touches no module (nothing to plan, so the run completes at once). */
function repoWithBranch(): { repo: string; head: string } {
  const repo = makeInfraRepo();
  execFileSync('git', ['-C', repo, 'checkout', '-q', '-b', 'docs-only']);
  const head = commit(repo, { 'README.md': 'words\n' }, 'docs');
  execFileSync('git', ['-C', repo, 'checkout', '-q', 'main']);
  return { repo, head };
}

describe('team entries of pullRequests.authors in tfstep local serve', () => {
  let server: LocalServer | undefined;
  let github: FakeGitHub | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
    await github?.close();
    github = undefined;
  });

  it('refuses a team entry without local git credentials, naming the variables to set', async () => {
    // GIVEN a server without TFSTEP_GIT_CREDENTIALS
    const { repo, head } = repoWithBranch();
    const out = new PassThrough();
    const lines: string[] = [];
    out.on('data', (c: Buffer) => lines.push(c.toString('utf8')));
    server = await localServe({ configFile: configFor(repo), port: 0, stateDir: await stateDirWithBundle(), env: { PATH: process.env.PATH ?? '', TFSTEP_WEBHOOK_SECRET: SECRET }, out });

    // WHEN alice (not listed by login) opens a pull request
    expect(await deliver(server, pullRequestBody(2, 'alice', head), 'pr-alice')).toMatchObject({ outcome: 'published' });

    // THEN the server refuses it with the reason, and no run is made
    await until(() => lines.join('').includes('refused pull request #2'), 20_000, 'the refusal');
    expect(lines.join('')).toContain(
      `refused pull request #2 at ${head.slice(0, 7)}: pull request #2: alice is not one of pullRequests.authors by login, and team membership cannot be checked: no GitHub credentials to ask GitHub about teams (set TFSTEP_GIT_CREDENTIALS or TFSTEP_GIT_CREDENTIALS_FILE to a GitHub App with "Members: read", or a token with read:org); not planned`,
    );
    expect(await pullRequestRuns(server)).toEqual([]);
  });

  it('asks GitHub with the local GitHub App: an active member is planned, a pending one refused, an API error plans nothing', async () => {
    // GIVEN a GitHub stand-in where alice is an active member of @acme/platform, carol a pending one, and erin's answer fails
    const asked: OtherRequest[] = [];
    github = await startFakeGitHub({
      visible: ['live'],
      route: (req) => {
        asked.push(req);
        if (req.url === '/orgs/acme/teams/platform/memberships/alice') return { status: 200, body: { state: 'active', role: 'member' } };
        if (req.url === '/orgs/acme/teams/platform/memberships/carol') return { status: 200, body: { state: 'pending', role: 'member' } };
        if (req.url === '/orgs/acme/teams/platform/memberships/erin') return { status: 500, body: { message: 'Server Error' } };
        return { status: 404, body: { message: 'Not Found' } };
      },
    });
    const app = JSON.stringify({ githubApp: { appId: github.appId, installationId: github.installationId, privateKey: github.privateKey, apiBaseUrl: github.apiBaseUrl } });
    const { repo, head } = repoWithBranch();
    const out = new PassThrough();
    const lines: string[] = [];
    out.on('data', (c: Buffer) => lines.push(c.toString('utf8')));
    server = await localServe({ configFile: configFor(repo), port: 0, stateDir: await stateDirWithBundle(), env: { PATH: process.env.PATH ?? '', TFSTEP_WEBHOOK_SECRET: SECRET, TFSTEP_GIT_CREDENTIALS: app }, out });

    // WHEN carol, erin and alice each open a pull request
    await deliver(server, pullRequestBody(3, 'carol', head), 'pr-carol');
    await deliver(server, pullRequestBody(4, 'erin', head), 'pr-erin');
    await deliver(server, pullRequestBody(5, 'alice', head), 'pr-alice');
    await until(() => lines.join('').includes('refused pull request #3') && lines.join('').includes('HTTP 500') && lines.join('').includes('for pull request #5'), 20_000, 'the three answers').catch((e: Error) => {
      throw new Error(`${e.message}\n${lines.join('')}`);
    });

    // THEN carol is refused, erin's event fails with GitHub's answer, and only alice's pull request has a run
    const log = lines.join('');
    expect(log).toContain('refused pull request #3 at');
    expect(log).toContain('carol is not one of pullRequests.authors, nor an active member of @acme/platform; not planned');
    expect(log).toMatch(/could not start the pull request plans.*checking whether erin is a member of @acme\/platform failed with HTTP 500/);
    expect((await pullRequestRuns(server)).map((r) => r.pullRequest)).toEqual([5]);
    // AND each question was asked with an installation token scoped to the repository and members: read
    expect(asked.map((a) => a.url)).toEqual(['/orgs/acme/teams/platform/memberships/carol', '/orgs/acme/teams/platform/memberships/erin', '/orgs/acme/teams/platform/memberships/alice']);
    expect(github.requests.every((r) => JSON.stringify(r.repositories) === '["live"]' && JSON.stringify(r.permissions) === '{"members":"read"}')).toBe(true);
    expect(github.requests.length).toBeGreaterThan(0);
    expect(asked.map((a) => a.authorization)).toEqual(asked.map(() => expect.stringMatching(/^Bearer ghs_fake\d+x+$/) as unknown));
  });
});
