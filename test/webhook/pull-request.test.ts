// @octokit/webhooks-methods exports only an `import` condition, which jest's CommonJS resolver
// does not use; load its ESM build directly (jest compiles it to CommonJS).
jest.mock('@octokit/webhooks-methods', () => jest.requireActual(`${__dirname}/../../node_modules/@octokit/webhooks-methods/dist-node/index.js`), { virtual: true });

import { parseConfig } from '../../lib/config/loader';
import type { Config } from '../../lib/config/schema';
import { PullRequestEventSchema } from '../../lib/domain/pull-request-event';
import { createInMemoryDeps } from '../../lib/webhook/deps';
import { handleWebhook } from '../../lib/webhook/handler';
import { memoryLogger } from '../../lib/log';
import { bodyOf, fixedClock, fixture, fixtureText, githubRequest, gitlabRequest, NOW, SECRET, testConfig } from './helpers';

/** The test config with pull request plans on, optionally limited to `authors`. */
function prConfig(authors?: string[]): Config {
  const base = testConfig();
  return parseConfig({ ...JSON.parse(JSON.stringify(base)) as Record<string, unknown>, pullRequests: authors ? { authors } : {} });
}

function depsFor(config: Config) {
  const logger = memoryLogger();
  return { ...createInMemoryDeps({ config, secret: SECRET, clock: fixedClock, logger }), logger };
}

describe('pull request webhook (GitHub pull_request)', () => {
  it('publishes an opened pull request as a plan of its head commit', async () => {
    // GIVEN a real `opened` payload of a same-repository pull request into main
    const deps = depsFor(prConfig());
    const request = githubRequest(fixtureText('github-pull-request-opened.json'), { event: 'pull_request', deliveryId: 'pr-opened-1' });

    // WHEN it is delivered
    const response = await handleWebhook(request, deps);

    // THEN one canonical pull request event is published, and no push
    expect(response.statusCode).toBe(200);
    expect(bodyOf(response)).toMatchObject({ outcome: 'published', deliveryId: 'pr-opened-1' });
    expect(deps.publisher.events).toHaveLength(0);
    expect(deps.publisher.pullRequests).toHaveLength(1);
    const event = deps.publisher.pullRequests[0]!;
    expect(PullRequestEventSchema.parse(event)).toEqual(event);
    expect(event).toEqual({
      provider: 'github',
      deliveryId: 'pr-opened-1',
      action: 'plan',
      repository: { fullName: 'acme/infrastructure-live', cloneUrls: ['https://github.com/acme/infrastructure-live.git', 'git@github.com:acme/infrastructure-live.git'] },
      number: 2,
      headBranch: 'changes',
      headSha: 'ec26c3e57ca3a959ca5aad62de7213c562f8c821',
      baseBranch: 'main',
      author: 'Codertocat',
      sender: 'Codertocat',
      title: 'Update the README with new information.',
      url: 'https://github.com/acme/infrastructure-live/pull/2',
      receivedAt: NOW.toISOString(),
    });
  });

  it('refuses a pull request from a fork and publishes nothing', async () => {
    // GIVEN an `opened` payload whose head repository is a fork
    const deps = depsFor(prConfig());
    const request = githubRequest(fixtureText('github-pull-request-fork.json'), { event: 'pull_request' });

    // WHEN it is delivered
    const response = await handleWebhook(request, deps);

    // THEN it is refused with the fork named, answered 200 so GitHub does not retry, and nothing is published
    expect(response.statusCode).toBe(200);
    expect(bodyOf(response)).toEqual({ outcome: 'refused', reason: 'pull request #2 comes from a fork (mallory/infrastructure-live); forks are never planned' });
    expect(deps.publisher.pullRequests).toHaveLength(0);
    expect(deps.logger.entries.some((e) => e.message === 'pull request refused')).toBe(true);
  });

  it('refuses a fork whose repository was deleted (head.repo null)', async () => {
    // GIVEN a payload whose head repository no longer exists, as GitHub sends it
    const deps = depsFor(prConfig());
    const payload = fixture('github-pull-request-opened.json') as { pull_request: { head: { repo: unknown } } };
    payload.pull_request.head.repo = null;

    // WHEN it is delivered
    const response = await handleWebhook(githubRequest(JSON.stringify(payload), { event: 'pull_request' }), deps);

    // THEN it is refused
    expect(bodyOf(response)).toMatchObject({ outcome: 'refused' });
    expect(deps.publisher.pullRequests).toHaveLength(0);
  });

  it('publishes a closed pull request as a cancel', async () => {
    // GIVEN a real `closed` payload
    const deps = depsFor(prConfig());

    // WHEN it is delivered
    const response = await handleWebhook(githubRequest(fixtureText('github-pull-request-closed.json'), { event: 'pull_request' }), deps);

    // THEN a cancel for that pull request is published
    expect(bodyOf(response)).toMatchObject({ outcome: 'published', reason: 'pull request #2: cancel published' });
    expect(deps.publisher.pullRequests.map((e) => [e.action, e.number])).toEqual([['cancel', 2]]);
  });

  it('publishes synchronize after synchronize as two plans, and a redelivery once', async () => {
    // GIVEN two pushes to the pull request: the example's synchronize and one more on top of it
    const deps = depsFor(prConfig());
    const first = fixtureText('github-pull-request-synchronize.json');
    const secondPayload = fixture('github-pull-request-synchronize.json') as { before: string; after: string; pull_request: { head: { sha: string } } };
    secondPayload.before = secondPayload.after;
    secondPayload.after = '1111111111111111111111111111111111111111';
    secondPayload.pull_request.head.sha = secondPayload.after;
    const second = JSON.stringify(secondPayload);

    // WHEN both are delivered, and the second one is redelivered with the same delivery id
    const r1 = await handleWebhook(githubRequest(first, { event: 'pull_request', deliveryId: 'sync-1' }), deps);
    const r2 = await handleWebhook(githubRequest(second, { event: 'pull_request', deliveryId: 'sync-2' }), deps);
    const r3 = await handleWebhook(githubRequest(second, { event: 'pull_request', deliveryId: 'sync-2' }), deps);

    // THEN each head is published once, in order, and the redelivery is a duplicate
    expect([r1, r2].map((r) => bodyOf(r).outcome)).toEqual(['published', 'published']);
    expect(bodyOf(r3).outcome).toBe('duplicate');
    expect(deps.publisher.pullRequests.map((e) => [e.action, e.headSha])).toEqual([
      ['plan', 'ec26c3e57ca3a959ca5aad62de7213c562f8c821'],
      ['plan', '1111111111111111111111111111111111111111'],
    ]);
  });

  it('fails when the signature does not match, before reading the payload', async () => {
    // GIVEN an opened payload signed with another secret
    const deps = depsFor(prConfig());

    // WHEN it is delivered
    const response = await handleWebhook(githubRequest(fixtureText('github-pull-request-opened.json'), { event: 'pull_request', secret: 'wrong' }), deps);

    // THEN 401, nothing published
    expect(response.statusCode).toBe(401);
    expect(deps.publisher.pullRequests).toHaveLength(0);
  });

  it('ignores pull requests while the config has no pullRequests section', async () => {
    // GIVEN the config without pullRequests
    const deps = depsFor(testConfig());

    // WHEN an opened pull request arrives
    const response = await handleWebhook(githubRequest(fixtureText('github-pull-request-opened.json'), { event: 'pull_request' }), deps);

    // THEN it is ignored with the reason
    expect(bodyOf(response)).toEqual({ outcome: 'ignored', reason: 'pull request plans are not enabled (no pullRequests section in the config)' });
    expect(deps.publisher.pullRequests).toHaveLength(0);
  });

  it('ignores actions other than opened, synchronize, reopened and closed, and other base branches', async () => {
    // GIVEN a `labeled` delivery and an `opened` one into another branch
    const deps = depsFor(prConfig());
    const labeled = fixture('github-pull-request-opened.json');
    labeled.action = 'labeled';
    const intoRelease = fixture('github-pull-request-opened.json') as { pull_request: { base: { ref: string } } };
    intoRelease.pull_request.base.ref = 'release';

    // WHEN both are delivered
    const a = await handleWebhook(githubRequest(JSON.stringify(labeled), { event: 'pull_request' }), deps);
    const b = await handleWebhook(githubRequest(JSON.stringify(intoRelease), { event: 'pull_request' }), deps);

    // THEN both are ignored with their reasons
    expect(bodyOf(a)).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('"labeled" is ignored') as unknown });
    expect(bodyOf(b)).toMatchObject({ outcome: 'ignored', reason: 'pull request into release; only pull requests into main are planned' });
    expect(deps.publisher.pullRequests).toHaveLength(0);
  });

  it('refuses authors outside pullRequests.authors and accepts listed logins, case-insensitively', async () => {
    // GIVEN authors limited to logins only
    const onlyAlice = depsFor(prConfig(['alice']));
    const byLogin = depsFor(prConfig(['codertocat']));
    const body = fixtureText('github-pull-request-opened.json');

    // WHEN the same pull request by Codertocat reaches each
    const refused = await handleWebhook(githubRequest(body, { event: 'pull_request' }), onlyAlice);
    const login = await handleWebhook(githubRequest(body, { event: 'pull_request' }), byLogin);

    // THEN the list without Codertocat refuses and publishes nothing; the other publishes
    expect(bodyOf(refused)).toEqual({ outcome: 'refused', reason: 'pull request #2: Codertocat is not one of pullRequests.authors; not planned' });
    expect(onlyAlice.publisher.pullRequests).toHaveLength(0);
    expect(bodyOf(login).outcome).toBe('published');
    expect(byLogin.publisher.pullRequests).toHaveLength(1);
  });

  it('forwards an author it cannot rule out when the list has GitHub teams, for the pipeline function to check', async () => {
    // GIVEN a list of a login and a team; the webhook holds no GitHub credentials to ask about the team
    const deps = depsFor(prConfig(['alice', '@acme/platform']));

    // WHEN a pull request by Codertocat (not listed by login) arrives
    const response = await handleWebhook(githubRequest(fixtureText('github-pull-request-opened.json'), { event: 'pull_request' }), deps);

    // THEN it is published with its author and sender, and the log says who is left to the team check
    expect(bodyOf(response).outcome).toBe('published');
    expect(deps.publisher.pullRequests).toHaveLength(1);
    expect(deps.publisher.pullRequests[0]).toMatchObject({ author: 'Codertocat', sender: 'Codertocat' });
    expect(deps.logger.entries.find((l) => l.message === 'pull request published')?.fields).toMatchObject({ teamCheck: ['Codertocat'] });
  });

  it('forwards a team-only list too, and refuses a sender outside the list even when the author is listed', async () => {
    // GIVEN a pull request by a listed author, pushed to by someone else
    const pushedByOther = fixture('github-pull-request-opened.json') as { sender: { login: string } };
    pushedByOther.sender.login = 'mallory';
    const teamOnly = depsFor(prConfig(['@acme/platform']));
    const loginsOnly = depsFor(prConfig(['codertocat']));

    // WHEN it reaches a team-only list and a logins-only list
    const forwarded = await handleWebhook(githubRequest(JSON.stringify(pushedByOther), { event: 'pull_request' }), teamOnly);
    const refused = await handleWebhook(githubRequest(JSON.stringify(pushedByOther), { event: 'pull_request' }), loginsOnly);

    // THEN the team-only list forwards both names; the logins-only list refuses the sender
    expect(bodyOf(forwarded).outcome).toBe('published');
    expect(teamOnly.publisher.pullRequests[0]).toMatchObject({ author: 'Codertocat', sender: 'mallory' });
    expect(bodyOf(refused)).toEqual({ outcome: 'refused', reason: 'pull request #2: mallory is not one of pullRequests.authors; not planned' });
    expect(loginsOnly.publisher.pullRequests).toHaveLength(0);
  });
  it('fails with 400 naming the field when a pull_request payload is malformed', async () => {
    // GIVEN a payload without pull_request.head
    const deps = depsFor(prConfig());
    const payload = fixture('github-pull-request-opened.json') as { pull_request: Record<string, unknown> };
    delete payload.pull_request.head;

    // WHEN it is delivered
    const response = await handleWebhook(githubRequest(JSON.stringify(payload), { event: 'pull_request' }), deps);

    // THEN 400 says where
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response).reason).toBe('GitHub pull_request payload is not understood at pull_request.head: Invalid input: expected object, received undefined');
  });
});

describe('merge request webhook (GitLab Merge Request Hook)', () => {
  it('publishes an update that pushed commits as a plan', async () => {
    // GIVEN GitLab's merge request example with new commits (oldrev set)
    const deps = depsFor(prConfig());

    // WHEN it is delivered
    const response = await handleWebhook(gitlabRequest(fixtureText('gitlab-merge-request-update.json'), { event: 'Merge Request Hook', deliveryId: 'mr-1' }), deps);

    // THEN a plan of the last commit is published, with the project id for the notes API
    expect(bodyOf(response)).toMatchObject({ outcome: 'published' });
    expect(deps.publisher.pullRequests).toEqual([
      expect.objectContaining({
        provider: 'gitlab',
        action: 'plan',
        number: 1,
        headBranch: 'ms-viewport',
        headSha: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
        baseBranch: 'main',
        author: 'root',
        projectId: 1,
        repository: { fullName: 'acme/platform/infrastructure-live', cloneUrls: ['https://gitlab.example.com/acme/platform/infrastructure-live.git', 'git@gitlab.example.com:acme/platform/infrastructure-live.git'] },
      }),
    ]);
  });

  it('refuses a user outside pullRequests.authors even when the list has teams: GitLab has no GitHub teams', async () => {
    // GIVEN a list of a GitHub team and a login that is not the acting user (root)
    const deps = depsFor(prConfig(['@acme/platform', 'alice']));

    // WHEN a merge request update by root arrives
    const response = await handleWebhook(gitlabRequest(fixtureText('gitlab-merge-request-update.json'), { event: 'Merge Request Hook' }), deps);

    // THEN it is refused by the webhook, not forwarded
    expect(bodyOf(response)).toEqual({ outcome: 'refused', reason: 'pull request #1: root is not one of pullRequests.authors; not planned' });
    expect(deps.publisher.pullRequests).toHaveLength(0);
  });

  it('ignores an update without new commits, and cancels on merge', async () => {
    // GIVEN a title edit (no oldrev) and a merge
    const deps = depsFor(prConfig());
    const edit = fixture('gitlab-merge-request-update.json') as { object_attributes: Record<string, unknown> };
    delete edit.object_attributes.oldrev;
    const merge = fixture('gitlab-merge-request-update.json') as { object_attributes: Record<string, unknown> };
    merge.object_attributes.action = 'merge';

    // WHEN both are delivered
    const a = await handleWebhook(gitlabRequest(JSON.stringify(edit), { event: 'Merge Request Hook' }), deps);
    const b = await handleWebhook(gitlabRequest(JSON.stringify(merge), { event: 'Merge Request Hook' }), deps);

    // THEN the edit is ignored and the merge cancels
    expect(bodyOf(a)).toMatchObject({ outcome: 'ignored', reason: 'merge request updated without new commits; only new commits are planned again' });
    expect(deps.publisher.pullRequests.map((e) => e.action)).toEqual(['cancel']);
    expect(bodyOf(b).outcome).toBe('published');
  });

  it('refuses a merge request from a fork (another source project)', async () => {
    // GIVEN a merge request whose source project is not the target project
    const deps = depsFor(prConfig());
    const fork = fixture('gitlab-merge-request-update.json') as { object_attributes: Record<string, unknown> & { source: Record<string, unknown> } };
    fork.object_attributes.source_project_id = 77;
    fork.object_attributes.source.path_with_namespace = 'mallory/infrastructure-live';

    // WHEN it is delivered
    const response = await handleWebhook(gitlabRequest(JSON.stringify(fork), { event: 'Merge Request Hook' }), deps);

    // THEN it is refused
    expect(bodyOf(response)).toEqual({ outcome: 'refused', reason: 'pull request #1 comes from a fork (mallory/infrastructure-live); forks are never planned' });
    expect(deps.publisher.pullRequests).toHaveLength(0);
  });

  it('fails with 401 when the token is wrong', async () => {
    // GIVEN a wrong token
    const deps = depsFor(prConfig());

    // WHEN the merge request is delivered
    const response = await handleWebhook(gitlabRequest(fixtureText('gitlab-merge-request-update.json'), { event: 'Merge Request Hook', token: 'nope' }), deps);

    // THEN 401
    expect(response.statusCode).toBe(401);
    expect(deps.publisher.pullRequests).toHaveLength(0);
  });
});
