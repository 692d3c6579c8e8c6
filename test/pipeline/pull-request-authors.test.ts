/**
 * The pipeline function's author check of pull request events: `pullRequests.authors` read again
 * before planning, team membership asked of GitHub. Real run table (dynalite), a real git
 * repository and a real HTTP server on loopback standing in for the GitHub API (GitHub itself
 * cannot be reached from the tests); Step Functions is a test double (aws-sdk-client-mock).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SFNClient, StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import type { Config } from '../../lib/config/schema';
import type { PullRequestEvent } from '../../lib/domain/pull-request-event';
import { memoryLogger, type MemoryLogger } from '../../lib/log';
import { awsPullRequestDeps, sfnPlanOnlyExecutions } from '../../lib/pipeline/aws-deps';
import { createPipelineHandler } from '../../lib/pipeline/handler';
import type { PullRequestDeps, PullRequestEventResult } from '../../lib/pipeline/pull-request';
import { githubTeamCheck, TeamMembershipError } from '../../lib/pull-requests/authors';
import { RecordingReporter } from '../../lib/pull-requests/reporter';
import type { RunStore } from '../../lib/store';
import { startFakeGitHub } from '../git-auth/fake-github';
import { testConfig } from '../fixtures/pipeline/config';
import { startDynalite, type DynaliteTable } from '../fixtures/pipeline/dynalite';
import { baseFiles, makeHarness, TestRepo } from '../fixtures/pipeline/harness';

const PLAN_ONLY_ARN = 'arn:aws:states:us-east-1:111111111111:stateMachine:tfstep-plan-only';
const sfn = mockClient(SFNClient);

/** One request the GitHub stand-in received. */
interface Seen {
  readonly method: string;
  readonly url: string;
  readonly authorization: string | undefined;
}

/** A GitHub API stand-in on loopback: `answer` gives each request's status and JSON body. */
async function startGitHubStandIn(answer: (url: string) => { status: number; body: unknown }): Promise<{ baseUrl: string; seen: Seen[]; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
    const { status, body } = answer(req.url ?? '');
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** GitHub's answers for team @acme/platform: alice active, carol invited (pending), anyone else 404; errors for @acme/broken. */
const MEMBERSHIPS = (url: string): { status: number; body: unknown } => {
  if (url === '/orgs/acme/teams/platform/memberships/alice') return { status: 200, body: { state: 'active', role: 'member', url } };
  if (url === '/orgs/acme/teams/platform/memberships/carol') return { status: 200, body: { state: 'pending', role: 'member', url } };
  if (url.startsWith('/orgs/acme/teams/broken/')) return { status: 502, body: { message: 'Server Error' } };
  return { status: 404, body: { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/teams/members#get-team-membership-for-a-user' } };
};

let db: DynaliteTable;
let store: RunStore;
let repo: TestRepo;
let head: string;
let api: Awaited<ReturnType<typeof startGitHubStandIn>>;

const base = testConfig();
const configWith = (authors: string[]): Config => ({ ...base, accounts: base.accounts.map((a) => (a.name === 'dev' ? { ...a, pullRequestPlans: true } : a)), pullRequests: { authors, checkName: 'tfstep plan' } });

beforeAll(async () => {
  db = await startDynalite();
  repo = new TestRepo();
  repo.commit(baseFiles(), 'base');
  head = repo.commit({ 'dev/us-east-1/app/main.tf': 'a1' }, 'a push to the pull request');
  api = await startGitHubStandIn(MEMBERSHIPS);
});
afterAll(async () => {
  await api.close();
  repo.remove();
  await db.close();
});
beforeEach(async () => {
  sfn.reset();
  sfn.on(StartExecutionCommand).callsFake((input: { name: string }) => ({ executionArn: `arn:aws:states:us-east-1:111111111111:execution:tfstep-plan-only:${input.name}` }));
  sfn.on(StopExecutionCommand).resolves({});
  store = await db.freshStore();
  api.seen.length = 0;
});

const pr = (author: string, sender?: string): PullRequestEvent => ({
  provider: 'github',
  deliveryId: `d-${author}-${sender ?? ''}`,
  action: 'plan',
  repository: { fullName: 'acme/live', cloneUrls: ['https://github.com/acme/live.git'] },
  number: 7,
  headBranch: 'feature/app',
  headSha: head,
  baseBranch: 'main',
  author,
  ...(sender ? { sender } : {}),
  title: 'Bigger app',
  receivedAt: '2026-11-20T11:59:59.000Z',
});
const busEvent = (detail: PullRequestEvent) => ({ version: '0', id: `ev-${detail.deliveryId}`, source: 'tfstep.git', 'detail-type': 'Git Pull Request', detail });

const centralToken: NonNullable<PullRequestDeps['teams']> = (event) => githubTeamCheck({ credential: { token: 'ghp_central' }, credentialName: 'git.centralSecret', repository: event.repository.fullName, apiBaseUrl: api.baseUrl });

/** The pipeline function under `authors`, checking teams with `teams` (by default a central token asking the stand-in). */
function pipeline(authors: string[], teams: NonNullable<PullRequestDeps['teams']> = centralToken) {
  const config = configWith(authors);
  const h = makeHarness(config, store, repo.dir);
  const logger: MemoryLogger = memoryLogger();
  const reporter = new RecordingReporter('tfstep plan');
  const pullRequests: PullRequestDeps = {
    planOnlyExecutions: sfnPlanOnlyExecutions(sfn as unknown as SFNClient, PLAN_ONLY_ARN),
    reporter: () => Promise.resolve(reporter),
    teams,
  };
  const handler = createPipelineHandler({ ...h.deps, logger, pullRequests });
  return { handle: (e: PullRequestEvent) => handler(busEvent(e)) as Promise<PullRequestEventResult>, logger, reporter };
}

/** The deps' team check; the AWS deps always have one. */
function teamsOf(deps: PullRequestDeps): NonNullable<PullRequestDeps['teams']> {
  if (!deps.teams) throw new Error('the AWS pull request deps have no team check');
  return deps.teams;
}

/** Nothing of a plan happened: no execution, no run recorded, no check run. */
async function expectNothingPlanned(reporter: RecordingReporter): Promise<void> {
  expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  expect(await store.pullRequests.list()).toEqual([]);
  expect(reporter.checkRuns.size).toBe(0);
}

describe('the author check before a pull request is planned', () => {
  it('plans the pull request of an active member of a listed team, asking GitHub with the central token', async () => {
    const { handle, reporter } = pipeline(['bob', '@acme/platform']);

    // WHEN alice (not listed by login, an active member of @acme/platform) opens a pull request
    const res = await handle(pr('alice'));

    // THEN GitHub was asked once, with the token, and the run started with its check run
    expect(api.seen).toEqual([{ method: 'GET', url: '/orgs/acme/teams/platform/memberships/alice', authorization: 'Bearer ghp_central' }]);
    expect(res.refused).toBeUndefined();
    expect(res.run).toBeDefined();
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(1);
    expect(reporter.checkRunOf(pr('alice'))?.status).toBe('queued');
  });

  it('refuses a pending member: no run, no check run, and the reason is logged and returned', async () => {
    const { handle, logger, reporter } = pipeline(['@acme/platform']);

    // WHEN carol, invited to the team but not yet a member, opens a pull request
    const res = await handle(pr('carol'));

    // THEN it is refused, and nothing was planned
    const reason = 'pull request #7: carol is not one of pullRequests.authors, nor an active member of @acme/platform; not planned';
    expect(res).toEqual({ action: 'plan', refused: reason, targets: 0, notAllowed: 0 });
    await expectNothingPlanned(reporter);
    expect(logger.entries).toContainEqual({ level: 'warn', message: 'pull request refused', fields: expect.objectContaining({ repository: 'acme/live', pullRequest: 7, author: 'carol', reason }) as unknown });
  });

  it('refuses someone GitHub answers 404 for (not a member), through every listed team', async () => {
    const { handle, reporter } = pipeline(['@acme/platform', '@acme/security']);

    // WHEN mallory opens a pull request
    const res = await handle(pr('mallory'));

    // THEN both teams were asked, and it is refused
    expect(api.seen.map((s) => s.url)).toEqual(['/orgs/acme/teams/platform/memberships/mallory', '/orgs/acme/teams/security/memberships/mallory']);
    expect(res.refused).toBe('pull request #7: mallory is not one of pullRequests.authors, nor an active member of @acme/platform, @acme/security; not planned');
    await expectNothingPlanned(reporter);
  });

  it('fails the event on a GitHub error other than 404, so it is tried again, and plans nothing', async () => {
    const { handle, reporter } = pipeline(['@acme/broken']);

    // WHEN GitHub answers 502 for the team
    const attempt = handle(pr('alice'));

    // THEN the event fails with GitHub's answer (EventBridge retries it), and nothing was planned
    await expect(attempt).rejects.toThrow(TeamMembershipError);
    await expect(handle(pr('alice'))).rejects.toThrow('checking whether alice is a member of @acme/broken failed with HTTP 502: Server Error');
    await expectNothingPlanned(reporter);
  });

  it('checks listed logins without asking GitHub, the sender as well as the author, and asks again for each event', async () => {
    const { handle, reporter } = pipeline(['bob', '@acme/platform']);

    // WHEN bob (listed) opens a pull request that mallory pushed to, then bob pushes himself, twice
    const pushedByMallory = await handle(pr('bob', 'mallory'));
    const pushedByBob = await handle(pr('bob', 'BOB'));
    const pushedByAlice = await handle({ ...pr('bob', 'alice'), deliveryId: 'd-1' });
    const again = await handle({ ...pr('bob', 'alice'), deliveryId: 'd-2' });

    // THEN mallory's push is refused; bob needs no question; alice is asked about once per event
    expect(pushedByMallory.refused).toBe('pull request #7: mallory is not one of pullRequests.authors, nor an active member of @acme/platform; not planned');
    expect(pushedByBob.run).toBeDefined();
    expect(pushedByAlice.run).toBeDefined();
    expect(again.run).toBeDefined();
    expect(api.seen.map((s) => s.url)).toEqual(['/orgs/acme/teams/platform/memberships/mallory', '/orgs/acme/teams/platform/memberships/alice', '/orgs/acme/teams/platform/memberships/alice']);
    expect(reporter.checkRuns.size).toBe(1);
  });

  it('asks GitHub once per login and team within an event, whatever the case of the login', async () => {
    const { handle } = pipeline(['@acme/platform']);

    // WHEN alice opens a pull request that "Alice" pushed to (GitHub logins are not case-sensitive)
    const res = await handle(pr('alice', 'Alice'));

    // THEN one question answered both, and the pull request is planned
    expect(api.seen.map((s) => s.url)).toEqual(['/orgs/acme/teams/platform/memberships/alice']);
    expect(res.run).toBeDefined();
  });

  it('refuses someone not listed by login when the list has no teams, or the event is from GitLab', async () => {
    const logins = pipeline(['bob']);
    const teams = pipeline(['bob', '@acme/platform']);

    // WHEN alice opens a GitHub pull request under a logins-only list, and a GitLab merge request under a list with a team
    const github = await logins.handle(pr('alice'));
    const gitlab = await teams.handle({ ...pr('alice'), provider: 'gitlab', projectId: 3 });

    // THEN both are refused without asking GitHub
    expect(github.refused).toBe('pull request #7: alice is not one of pullRequests.authors; not planned');
    expect(gitlab.refused).toBe('pull request #7: alice is not one of pullRequests.authors; not planned');
    expect(api.seen).toEqual([]);
    await expectNothingPlanned(logins.reporter);
  });

  it('refuses team entries without central credentials, naming git.centralSecret', async () => {
    // GIVEN the AWS pull request deps built without a credentials secret
    const deps = awsPullRequestDeps(configWith(['@acme/platform']), sfn as unknown as SFNClient, PLAN_ONLY_ARN, undefined);
    const { handle, reporter } = pipeline(['@acme/platform'], teamsOf(deps));

    // WHEN alice opens a pull request
    const res = await handle(pr('alice'));

    // THEN it is refused with what to configure
    expect(res.refused).toBe(
      'pull request #7: alice is not one of pullRequests.authors by login, and team membership cannot be checked: no GitHub credentials to ask GitHub about teams (set git.centralSecret to a GitHub App with "Members: read", or a token with read:org); not planned',
    );
    expect(api.seen).toEqual([]);
    await expectNothingPlanned(reporter);
  });

  it('fails the event when GitHub refuses the App its token, saying which permission team entries need', async () => {
    // GIVEN a GitHub App whose installation GitHub refuses a token for (422)
    const github = await startFakeGitHub({ visible: [] });
    try {
      const app = { githubApp: { appId: github.appId, installationId: github.installationId, privateKey: github.privateKey, apiBaseUrl: github.apiBaseUrl } };
      const deps = awsPullRequestDeps(configWith(['@acme/platform']), sfn as unknown as SFNClient, PLAN_ONLY_ARN, () => Promise.resolve(app));
      const { handle, reporter } = pipeline(['@acme/platform'], teamsOf(deps));

      // WHEN alice opens a pull request
      const attempt = handle(pr('alice'));

      // THEN the event fails with GitHub's refusal and the permission to check; nothing was planned
      await expect(attempt).rejects.toThrow(/checking whether alice is a member of @acme\/platform failed: GitHub refused an installation token .*HTTP 422.*"Members: read"/);
      await expectNothingPlanned(reporter);
    } finally {
      await github.close();
    }
  });

  it('asks with a GitHub App installation token scoped to the repository and members: read', async () => {
    // GIVEN the central credential is a GitHub App, whose API is the stand-in
    const asked: Seen[] = [];
    const github = await startFakeGitHub({
      visible: ['live'],
      route: (req) => {
        asked.push(req);
        return MEMBERSHIPS(req.url);
      },
    });
    try {
      const app = { githubApp: { appId: github.appId, installationId: github.installationId, privateKey: github.privateKey, apiBaseUrl: github.apiBaseUrl } };
      const deps = awsPullRequestDeps(configWith(['@acme/platform']), sfn as unknown as SFNClient, PLAN_ONLY_ARN, () => Promise.resolve(app));
      const { handle } = pipeline(['@acme/platform'], teamsOf(deps));

      // WHEN alice opens a pull request
      const res = await handle(pr('alice'));

      // THEN a token was minted for the one repository with members: read, GitHub was asked with it, and alice counted
      expect(github.requests).toEqual([{ installationId: github.installationId, repositories: ['live'], permissions: { members: 'read' } }]);
      expect(asked).toEqual([{ method: 'GET', url: '/orgs/acme/teams/platform/memberships/alice', authorization: `Bearer ${github.issued.get('["live"]')}` }]);
      expect(res.run).toBeDefined();
    } finally {
      await github.close();
    }
  });
});
