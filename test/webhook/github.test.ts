// @octokit/webhooks-methods exports only an `import` condition, which jest's CommonJS resolver
// does not use; load its ESM build directly (jest compiles it to CommonJS).
jest.mock('@octokit/webhooks-methods', () => jest.requireActual(`${__dirname}/../../node_modules/@octokit/webhooks-methods/dist-node/index.js`), { virtual: true });

import { PUSH_EVENT_DETAIL_TYPE, PushEventSchema, ZERO_SHA } from '../../lib/domain/push-event';
import { handleWebhook } from '../../lib/webhook/handler';
import { bodyOf, fixture, fixtureText, githubRequest, NOW, testDeps } from './helpers';

describe('GitHub webhook', () => {
  it('publishes a push to the deploy branch as a canonical event', async () => {
    // GIVEN a real push payload to main, signed with the webhook secret
    const deps = testDeps();
    const body = fixtureText('github-push.json');
    const request = githubRequest(body, { deliveryId: 'f5a1d1f0-1a2b-11ef-8e1c-0242ac120002' });

    // WHEN it is delivered
    const response = await handleWebhook(request, deps);

    // THEN it answers 200 and publishes exactly one valid canonical push
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/json');
    expect(bodyOf(response)).toMatchObject({ outcome: 'published', deliveryId: 'f5a1d1f0-1a2b-11ef-8e1c-0242ac120002' });
    expect(deps.publisher.events).toHaveLength(1);
    const event = deps.publisher.events[0]!;
    expect(PushEventSchema.parse(event)).toEqual(event);
    expect(event).toEqual({
      provider: 'github',
      deliveryId: 'f5a1d1f0-1a2b-11ef-8e1c-0242ac120002',
      repository: {
        fullName: 'acme/infrastructure-live',
        cloneUrls: ['https://github.com/acme/infrastructure-live.git', 'git@github.com:acme/infrastructure-live.git'],
      },
      ref: 'refs/heads/main',
      branch: 'main',
      before: '6113728f27ae82c7b1a177c8d03f9e96e0adf246',
      after: '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c',
      changes: {
        complete: true,
        paths: ['dev/us-east-1/app/main.tf', 'dev/us-east-1/app/variables.tf', 'dev/us-east-1/network/outputs.tf'],
      },
      pusher: 'Codertocat',
      headCommit: {
        message: 'Raise app instance count in dev\n\nMore headroom for the load test.',
        url: 'https://github.com/acme/infrastructure-live/commit/0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c',
      },
      receivedAt: NOW.toISOString(),
    });
  });

  it('verifies a base64-encoded body after decoding it', async () => {
    // GIVEN the push as a function URL may pass it: base64, signed over the decoded text
    const deps = testDeps();
    const body = fixtureText('github-push.json');
    const signed = githubRequest(body);
    const request = { ...signed, body: Buffer.from(body, 'utf8').toString('base64'), isBase64Encoded: true };

    // WHEN it is delivered
    const response = await handleWebhook(request, deps);

    // THEN it is published
    expect(response.statusCode).toBe(200);
    expect(deps.publisher.events).toHaveLength(1);
  });

  it('verifies the signature over the raw UTF-8 bytes of a non-ASCII payload', async () => {
    // GIVEN a push whose commit message has non-ASCII characters, sent unescaped
    const deps = testDeps();
    const body = fixtureText('github-push.json').replaceAll('Raise app instance count in dev', 'Größere App-Instanzen für dev ✓');

    // WHEN it is delivered
    const response = await handleWebhook(githubRequest(body), deps);

    // THEN the signature matches and the message arrives intact
    expect(response.statusCode).toBe(200);
    expect(deps.publisher.events[0]!.headCommit.message).toMatch(/^Größere App-Instanzen für dev ✓/);
  });

  it('answers a ping with 200 and publishes nothing', async () => {
    // GIVEN GitHub's ping sent when a hook is created
    const deps = testDeps();
    const request = githubRequest(fixtureText('github-ping.json'), { event: 'ping' });

    // WHEN it is delivered
    const response = await handleWebhook(request, deps);

    // THEN it answers 200 pong
    expect(response.statusCode).toBe(200);
    expect(bodyOf(response)).toMatchObject({ outcome: 'pong' });
    expect(deps.publisher.events).toHaveLength(0);
  });

  it.each([
    ['a created tag', 'github-tag-created.json', /tag push \(refs\/tags\/simple-tag\)/],
    ['a deleted tag', 'github-tag-deleted.json', /tag push/],
    ['a deleted branch', 'github-branch-deleted.json', /branch main was deleted/],
  ])('ignores %s with 200 and the reason', async (_what, file, reason) => {
    // GIVEN a real payload that is not a deploy
    const deps = testDeps();

    // WHEN it is delivered
    const response = await handleWebhook(githubRequest(fixtureText(file)), deps);

    // THEN it answers 200 with the reason and publishes nothing
    expect(response.statusCode).toBe(200);
    expect(bodyOf(response)).toMatchObject({ outcome: 'ignored', reason: expect.stringMatching(reason) });
    expect(deps.publisher.events).toHaveLength(0);
    expect(deps.deliveries.records.size).toBe(0);
  });

  it('ignores a deletion flagged only by the all-zero after', async () => {
    // GIVEN a deletion whose `deleted` flag is missing
    const deps = testDeps();
    const payload = fixture('github-push.json');
    payload.after = ZERO_SHA;
    delete payload.deleted;

    // WHEN it is delivered
    const response = await handleWebhook(githubRequest(JSON.stringify(payload)), deps);

    // THEN it is not a deploy
    expect(bodyOf(response)).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('deleted') });
    expect(deps.publisher.events).toHaveLength(0);
  });

  it('ignores a push to another branch', async () => {
    // GIVEN a push to a feature branch
    const deps = testDeps();
    const payload = fixture('github-push.json');
    payload.ref = 'refs/heads/feature/bigger-app';

    // WHEN it is delivered
    const response = await handleWebhook(githubRequest(JSON.stringify(payload)), deps);

    // THEN it answers 200 naming the branch that deploys
    expect(response.statusCode).toBe(200);
    expect(bodyOf(response)).toEqual({ outcome: 'ignored', reason: 'push to branch feature/bigger-app; only main deploys' });
    expect(deps.publisher.events).toHaveLength(0);
  });

  it('publishes a created deploy branch as incomplete', async () => {
    // GIVEN the real branch-created payload (before all zeros, created: true)
    const deps = testDeps();

    // WHEN it is delivered
    const response = await handleWebhook(githubRequest(fixtureText('github-push-branch-created.json')), deps);

    // THEN it is published, but the payload's paths are not trusted to be complete
    expect(response.statusCode).toBe(200);
    expect(deps.publisher.events[0]).toMatchObject({ before: ZERO_SHA, changes: { complete: false, paths: ['README.md'] } });
  });

  it('marks a push with 21 commits incomplete', async () => {
    // GIVEN a push listing 21 commits (GitHub lists at most 20 of a bigger push)
    const deps = testDeps();
    const payload = fixture('github-push.json');
    const [first] = payload.commits as Record<string, unknown>[];
    payload.commits = Array.from({ length: 21 }, (_, i) => ({ ...first, id: i.toString(16).padStart(40, 'a'), added: [`dev/us-east-1/m${i}/main.tf`], modified: [], removed: [] }));

    // WHEN it is delivered
    const response = await handleWebhook(githubRequest(JSON.stringify(payload)), deps);

    // THEN the event says its paths are not complete, and still lists those it has
    expect(response.statusCode).toBe(200);
    const event = deps.publisher.events[0]!;
    expect(event.changes.complete).toBe(false);
    expect(event.changes.paths).toHaveLength(21);
  });

  it('marks a push with exactly 20 commits incomplete', async () => {
    // GIVEN 20 commits: GitHub may have cut the list there
    const deps = testDeps();
    const payload = fixture('github-push.json');
    const [first] = payload.commits as Record<string, unknown>[];
    payload.commits = Array.from({ length: 20 }, () => first);

    // WHEN it is delivered
    await handleWebhook(githubRequest(JSON.stringify(payload)), deps);

    // THEN it is incomplete
    expect(deps.publisher.events[0]!.changes.complete).toBe(false);
  });

  it.each([
    ['a forced push', (p: Record<string, unknown>) => (p.forced = true)],
    ['a push listing no commits', (p: Record<string, unknown>) => (p.commits = [])],
  ])('marks %s incomplete', async (_what, adapt) => {
    // GIVEN a push whose payload cannot list every change
    const deps = testDeps();
    const payload = fixture('github-push.json');
    adapt(payload);

    // WHEN it is delivered
    await handleWebhook(githubRequest(JSON.stringify(payload)), deps);

    // THEN it is published as incomplete
    expect(deps.publisher.events[0]!.changes.complete).toBe(false);
  });

  it('takes the pusher from sender.login when pusher.name is missing', async () => {
    // GIVEN a push without pusher
    const deps = testDeps();
    const payload = fixture('github-push.json');
    delete payload.pusher;

    // WHEN it is delivered
    await handleWebhook(githubRequest(JSON.stringify(payload)), deps);

    // THEN the sender is the pusher
    expect(deps.publisher.events[0]!.pusher).toBe('Codertocat');
  });

  it('matches the repository name case-insensitively and publishes the configured spelling', async () => {
    // GIVEN a push naming the repository in another case
    const deps = testDeps();
    const payload = fixture('github-push.json');
    (payload.repository as Record<string, unknown>).full_name = 'ACME/Infrastructure-Live';

    // WHEN it is delivered
    const response = await handleWebhook(githubRequest(JSON.stringify(payload)), deps);

    // THEN it is the configured repository
    expect(response.statusCode).toBe(200);
    expect(deps.publisher.events[0]!.repository.fullName).toBe('acme/infrastructure-live');
  });

  it('drops a redelivered delivery id as a duplicate', async () => {
    // GIVEN a push that was published
    const deps = testDeps();
    const body = fixtureText('github-push.json');
    const first = await handleWebhook(githubRequest(body, { deliveryId: 'redelivered-1' }), deps);
    expect(first.statusCode).toBe(200);

    // WHEN GitHub redelivers it with the same delivery id
    const again = await handleWebhook(githubRequest(body, { deliveryId: 'redelivered-1' }), deps);

    // THEN it answers 200 duplicate and publishes nothing more
    expect(again.statusCode).toBe(200);
    expect(bodyOf(again)).toMatchObject({ outcome: 'duplicate' });
    expect(deps.publisher.events).toHaveLength(1);
  });

  it('publishes the same push again under a new delivery id', async () => {
    // GIVEN a published push
    const deps = testDeps();
    const body = fixtureText('github-push.json');
    await handleWebhook(githubRequest(body), deps);

    // WHEN it arrives under another delivery id (a second hook, a manual resend)
    await handleWebhook(githubRequest(body), deps);

    // THEN both are published: deduplicating pushes is the pipeline's admit step's job
    expect(deps.publisher.events).toHaveLength(2);
  });

  it('ignores an unknown event type with 202', async () => {
    // GIVEN an authentic event tfstep does not handle
    const deps = testDeps();
    const request = githubRequest(JSON.stringify({ action: 'opened', repository: { full_name: 'acme/infrastructure-live' } }), { event: 'issues' });

    // WHEN it is delivered
    const response = await handleWebhook(request, deps);

    // THEN it answers 202 ignored
    expect(response.statusCode).toBe(202);
    expect(bodyOf(response)).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('"issues"') });
    expect(deps.publisher.events).toHaveLength(0);
  });

  it('fails when the repository is not configured', async () => {
    // GIVEN a validly signed push from another repository
    const deps = testDeps();
    const payload = fixture('github-push.json');
    (payload.repository as Record<string, unknown>).full_name = 'acme/other';

    // WHEN it is delivered
    const response = await handleWebhook(githubRequest(JSON.stringify(payload)), deps);

    // THEN it answers 403 and publishes nothing
    expect(response.statusCode).toBe(403);
    expect(bodyOf(response)).toEqual({ reason: 'repository github:acme/other is not configured' });
    expect(deps.publisher.events).toHaveLength(0);
  });

  it('fails when a tag is pushed to a repository that is not configured', async () => {
    // GIVEN a tag push from an unknown repository
    const deps = testDeps();
    const payload = fixture('github-tag-created.json');
    (payload.repository as Record<string, unknown>).full_name = 'acme/other';

    // WHEN it is delivered
    const response = await handleWebhook(githubRequest(JSON.stringify(payload)), deps);

    // THEN the repository check comes first
    expect(response.statusCode).toBe(403);
  });

  it('fails when the push payload lacks its repository', async () => {
    // GIVEN a signed push without repository
    const deps = testDeps();
    const payload = fixture('github-push.json');
    delete payload.repository;

    // WHEN it is delivered
    const response = await handleWebhook(githubRequest(JSON.stringify(payload)), deps);

    // THEN it answers 400 naming the field
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response).reason).toContain('repository');
  });

  it('fails when a SHA is not a full commit id', async () => {
    // GIVEN a push whose after is abbreviated
    const deps = testDeps();
    const payload = fixture('github-push.json');
    payload.after = '0d1a26e';

    // WHEN it is delivered
    const response = await handleWebhook(githubRequest(JSON.stringify(payload)), deps);

    // THEN the canonical schema refuses it with 400
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response).reason).toContain('after');
    expect(deps.publisher.events).toHaveLength(0);
    expect(deps.deliveries.records.size).toBe(0);
  });

  it('fails when X-GitHub-Delivery is missing from a push', async () => {
    // GIVEN a signed push without a delivery id
    const deps = testDeps();
    const request = githubRequest(fixtureText('github-push.json'), { headers: { 'x-github-delivery': undefined } });

    // WHEN it is delivered
    const response = await handleWebhook(request, deps);

    // THEN it answers 400: without it a redelivery could not be recognised
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response).reason).toContain('X-GitHub-Delivery');
  });

  it('keeps the published detail small when a push lists a huge number of paths', async () => {
    // GIVEN 19 commits listing 300 KB of paths
    const deps = testDeps();
    const payload = fixture('github-push.json');
    const [first] = payload.commits as Record<string, unknown>[];
    payload.commits = Array.from({ length: 19 }, (_, c) => ({
      ...first,
      added: Array.from({ length: 160 }, (_, i) => `dev/us-east-1/${'deep/'.repeat(18)}c${c}-f${i}.tf`),
      modified: [],
      removed: [],
    }));

    // WHEN it is delivered
    const response = await handleWebhook(githubRequest(JSON.stringify(payload)), deps);

    // THEN it is published without paths, marked incomplete, so the pipeline reads git instead
    expect(response.statusCode).toBe(200);
    expect(deps.publisher.events[0]!.changes).toEqual({ complete: false, paths: [] });
    expect(JSON.stringify(deps.publisher.events[0]).length).toBeLessThan(256 * 1024);
  });

  it('uses the canonical detail type name', () => {
    expect(PUSH_EVENT_DETAIL_TYPE).toBe('Git Push');
  });
});
