import { ZERO_SHA } from '../../lib/domain/push-event';
import { handleWebhook } from '../../lib/webhook/handler';
import { bodyOf, fixture, fixtureText, gitlabRequest, NOW, PREVIOUS_SECRET, SECRET, testDeps } from './helpers';

describe('GitLab webhook', () => {
  it('publishes a Push Hook to the deploy branch, normalised', async () => {
    // GIVEN GitLab's documented push payload for the configured project, with the right token
    const deps = testDeps();
    const request = gitlabRequest(fixtureText('gitlab-push.json'), { deliveryId: '9cebe914-4827-408f-b014-cf1b1aeee76b' });

    // WHEN it is delivered
    const response = await handleWebhook(request, deps);

    // THEN the canonical event carries GitLab's names for the same facts
    expect(response.statusCode).toBe(200);
    expect(deps.publisher.events).toEqual([
      {
        provider: 'gitlab',
        deliveryId: '9cebe914-4827-408f-b014-cf1b1aeee76b',
        repository: {
          fullName: 'acme/platform/infrastructure-live',
          cloneUrls: ['https://gitlab.example.com/acme/platform/infrastructure-live.git', 'git@gitlab.example.com:acme/platform/infrastructure-live.git'],
        },
        ref: 'refs/heads/main',
        branch: 'main',
        before: '95790bf891e76fee5e1747ab589903a6a1f80f22',
        after: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
        changes: {
          complete: true,
          paths: ['stage/us-east-1/app/main.tf', 'stage/us-east-1/app/outputs.tf', 'stage/us-east-1/network/main.tf'],
        },
        pusher: 'jsmith',
        headCommit: {
          message: 'Drop the old app outputs',
          url: 'https://gitlab.example.com/acme/platform/infrastructure-live/-/commit/da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
        },
        receivedAt: NOW.toISOString(),
      },
    ]);
  });

  it('takes the head commit by id, whatever the order of commits', async () => {
    // GIVEN the commits listed newest first
    const deps = testDeps();
    const payload = fixture('gitlab-push.json');
    payload.commits = [...(payload.commits as unknown[])].reverse();

    // WHEN it is delivered
    await handleWebhook(gitlabRequest(JSON.stringify(payload)), deps);

    // THEN the head commit is still the one whose id is `after`
    expect(deps.publisher.events[0]!.headCommit.message).toBe('Drop the old app outputs');
  });

  it('marks a push incomplete when total_commits_count is more than the commits listed', async () => {
    // GIVEN a push of 4 commits of which 2 are listed
    const deps = testDeps();
    const payload = fixture('gitlab-push.json');
    payload.total_commits_count = 4;

    // WHEN it is delivered
    await handleWebhook(gitlabRequest(JSON.stringify(payload)), deps);

    // THEN the event is incomplete
    expect(deps.publisher.events[0]!.changes.complete).toBe(false);
  });

  it('marks a created branch incomplete', async () => {
    // GIVEN a push that creates main (before all zeros)
    const deps = testDeps();
    const payload = fixture('gitlab-push.json');
    payload.before = ZERO_SHA;

    // WHEN it is delivered
    await handleWebhook(gitlabRequest(JSON.stringify(payload)), deps);

    // THEN the event is incomplete
    expect(deps.publisher.events[0]!.changes.complete).toBe(false);
  });

  it('ignores a deleted branch', async () => {
    // GIVEN a push that deletes main (after all zeros, no commits)
    const deps = testDeps();
    const payload = fixture('gitlab-push.json');
    payload.after = ZERO_SHA;
    payload.checkout_sha = null;
    payload.commits = [];
    payload.total_commits_count = 0;

    // WHEN it is delivered
    const response = await handleWebhook(gitlabRequest(JSON.stringify(payload)), deps);

    // THEN it answers 200 with the reason
    expect(bodyOf(response)).toMatchObject({ outcome: 'ignored', reason: 'branch main was deleted; deletions do not deploy' });
    expect(deps.publisher.events).toHaveLength(0);
  });

  it('ignores a Tag Push Hook', async () => {
    // GIVEN a tag push event for the configured project
    const deps = testDeps();
    const payload = fixture('gitlab-push.json');
    payload.object_kind = 'tag_push';
    payload.ref = 'refs/tags/v1.0.0';

    // WHEN it is delivered
    const response = await handleWebhook(gitlabRequest(JSON.stringify(payload), { event: 'Tag Push Hook' }), deps);

    // THEN it answers 200 ignored
    expect(bodyOf(response)).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('tag push') });
    expect(deps.publisher.events).toHaveLength(0);
  });

  it('ignores an unknown GitLab event with 202', async () => {
    // GIVEN an issue event
    const deps = testDeps();

    // WHEN it is delivered
    const response = await handleWebhook(gitlabRequest('{"object_kind":"issue"}', { event: 'Issue Hook' }), deps);

    // THEN it answers 202
    expect(response.statusCode).toBe(202);
  });

  it('accepts the previous token during a rotation', async () => {
    // GIVEN a secret that was rotated while GitLab still sends the previous token
    const deps = testDeps({ previousSecret: PREVIOUS_SECRET });

    // WHEN it is delivered
    const response = await handleWebhook(gitlabRequest(fixtureText('gitlab-push.json'), { token: PREVIOUS_SECRET }), deps);

    // THEN it is published and the operator is told to update the hook
    expect(response.statusCode).toBe(200);
    expect(deps.logger.entries.some((e) => e.level === 'warn' && e.message.includes('previous webhook secret'))).toBe(true);
  });

  it.each([
    ['wrong', 'not-the-token'],
    ['a prefix of the secret', SECRET.slice(0, -1)],
    ['the secret with a trailing newline', `${SECRET}\n`],
  ])('fails when the token is %s', async (_what, token) => {
    // GIVEN a push with a token that is not the secret
    const deps = testDeps();

    // WHEN it is delivered
    const response = await handleWebhook(gitlabRequest(fixtureText('gitlab-push.json'), { token }), deps);

    // THEN it answers 401 and publishes nothing
    expect(response.statusCode).toBe(401);
    expect(bodyOf(response)).toEqual({ reason: 'token does not match the webhook secret' });
    expect(deps.publisher.events).toHaveLength(0);
  });

  it('fails when the token is missing', async () => {
    // GIVEN a hook without a secret token
    const deps = testDeps();

    // WHEN it is delivered
    const response = await handleWebhook(gitlabRequest(fixtureText('gitlab-push.json'), { headers: { 'X-Gitlab-Token': undefined } }), deps);

    // THEN it answers 401
    expect(response.statusCode).toBe(401);
    expect(bodyOf(response).reason).toContain('X-Gitlab-Token');
  });

  it('fails when the project is not configured', async () => {
    // GIVEN a push from another project, with the right token
    const deps = testDeps();
    const payload = fixture('gitlab-push.json');
    (payload.project as Record<string, unknown>).path_with_namespace = 'acme/platform/other';

    // WHEN it is delivered
    const response = await handleWebhook(gitlabRequest(JSON.stringify(payload)), deps);

    // THEN it answers 403
    expect(response.statusCode).toBe(403);
    expect(bodyOf(response)).toEqual({ reason: 'repository gitlab:acme/platform/other is not configured' });
  });

  it('fails when a GitHub repository of the same name pushes through GitLab headers', async () => {
    // GIVEN a GitLab push naming the configured GitHub repository
    const deps = testDeps();
    const payload = fixture('gitlab-push.json');
    (payload.project as Record<string, unknown>).path_with_namespace = 'acme/infrastructure-live';

    // WHEN it is delivered
    const response = await handleWebhook(gitlabRequest(JSON.stringify(payload)), deps);

    // THEN the provider must match too
    expect(response.statusCode).toBe(403);
  });

  it('fails when X-Gitlab-Event-UUID is missing from a push', async () => {
    // GIVEN a push without an event UUID
    const deps = testDeps();

    // WHEN it is delivered
    const response = await handleWebhook(gitlabRequest(fixtureText('gitlab-push.json'), { headers: { 'X-Gitlab-Event-UUID': undefined } }), deps);

    // THEN it answers 400
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response).reason).toContain('X-Gitlab-Event-UUID');
  });

  it('drops a redelivered event UUID as a duplicate', async () => {
    // GIVEN a published push
    const deps = testDeps();
    const body = fixtureText('gitlab-push.json');
    await handleWebhook(gitlabRequest(body, { deliveryId: 'gl-1' }), deps);

    // WHEN it is redelivered
    const again = await handleWebhook(gitlabRequest(body, { deliveryId: 'gl-1' }), deps);

    // THEN it is a duplicate
    expect(bodyOf(again)).toMatchObject({ outcome: 'duplicate' });
    expect(deps.publisher.events).toHaveLength(1);
  });
});
