// @octokit/webhooks-methods exports only an `import` condition, which jest's CommonJS resolver
// does not use; load its ESM build directly (jest compiles it to CommonJS).
jest.mock('@octokit/webhooks-methods', () => jest.requireActual(`${__dirname}/../../node_modules/@octokit/webhooks-methods/dist-node/index.js`), { virtual: true });

import { handleWebhook } from '../../lib/webhook/handler';
import type { WebhookRequest } from '../../lib/webhook/types';
import { bodyOf, fixtureText, githubRequest, githubSignature, gitlabRequest, logText, SECRET, testDeps } from './helpers';

const push = (): string => fixtureText('github-push.json');

describe('webhook bad input', () => {
  it.each(['GET', 'PUT', 'HEAD', 'OPTIONS'])('fails when the method is %s', async (method) => {
    // GIVEN a correctly signed push sent with another method
    const deps = testDeps();
    const request = { ...githubRequest(push()), method };

    // WHEN it arrives
    const response = await handleWebhook(request, deps);

    // THEN it answers 405 with Allow: POST
    expect(response.statusCode).toBe(405);
    expect(response.headers.allow).toBe('POST');
    expect(bodyOf(response).reason).toContain(method);
    expect(deps.publisher.events).toHaveLength(0);
  });

  it('fails when GitHub sends a form-encoded webhook', async () => {
    // GIVEN a hook configured with content type application/x-www-form-urlencoded
    const deps = testDeps();
    const body = `payload=${encodeURIComponent(push())}`;
    const request = githubRequest(body, { headers: { 'content-type': 'application/x-www-form-urlencoded' } });

    // WHEN it arrives
    const response = await handleWebhook(request, deps);

    // THEN it answers 415 telling how to configure the hook
    expect(response.statusCode).toBe(415);
    expect(bodyOf(response).reason).toMatch(/form-encoded .* not supported; set the webhook content type to application\/json/);
    expect(deps.publisher.events).toHaveLength(0);
  });

  it.each([
    ['text/plain', 'text/plain'],
    ['missing', undefined],
  ])('fails when the content type is %s', async (_what, contentType) => {
    // GIVEN a signed push with a content type that is not JSON
    const deps = testDeps();
    const request = githubRequest(push(), { headers: { 'content-type': contentType } });

    // WHEN it arrives
    const response = await handleWebhook(request, deps);

    // THEN it answers 415
    expect(response.statusCode).toBe(415);
    expect(bodyOf(response).reason).toContain('application/json');
  });

  it('accepts application/json with a charset parameter', async () => {
    // GIVEN a content type with parameters, in another case
    const deps = testDeps();
    const request = githubRequest(push(), { headers: { 'content-type': 'Application/JSON; charset=utf-8' } });

    // WHEN it arrives
    const response = await handleWebhook(request, deps);

    // THEN it is accepted
    expect(response.statusCode).toBe(200);
  });

  it('accepts a large push of several megabytes: 20 commits with thousands of paths each', async () => {
    // GIVEN the fixture push with 20 commits of 3,000 changed paths each (over 2 MiB, once refused)
    const deps = testDeps();
    const payload = JSON.parse(push()) as { commits: Record<string, unknown>[] };
    const template = payload.commits[0]!;
    payload.commits = Array.from({ length: 20 }, (_, i) => ({
      ...template,
      modified: Array.from({ length: 3000 }, (_, j) => `dev/us-east-1/app/generated/file-${i}-${j}-with-a-long-descriptive-name.json`),
    }));
    const body = JSON.stringify(payload);
    expect(Buffer.byteLength(body)).toBeGreaterThan(2 * 1024 * 1024);

    // WHEN it arrives
    const response = await handleWebhook(githubRequest(body), deps);

    // THEN it is accepted and published, its path list marked incomplete rather than carried whole
    expect(response.statusCode).toBe(200);
    expect(deps.publisher.events).toHaveLength(1);
    expect(deps.publisher.events[0]!.changes).toEqual({ complete: false, paths: [] });
  });

  it('fails when the body is over 5 MiB', async () => {
    // GIVEN a signed body one byte over the default limit
    const deps = testDeps();
    const body = JSON.stringify({ padding: 'x'.repeat(5 * 1024 * 1024 - 13) });
    expect(Buffer.byteLength(body)).toBe(5 * 1024 * 1024 + 1);

    // WHEN it arrives
    const response = await handleWebhook(githubRequest(body), deps);

    // THEN it answers 413 before looking at the signature
    expect(response.statusCode).toBe(413);
    expect(bodyOf(response)).toEqual({ reason: 'body is larger than 5242880 bytes' });
  });

  it('fails when the body is over a configured limit', async () => {
    // GIVEN a limit of 4 KiB and a 7 KB push
    const deps = testDeps({ maxBodyBytes: 4096 });

    // WHEN it arrives
    const response = await handleWebhook(githubRequest(push()), deps);

    // THEN it answers 413
    expect(response.statusCode).toBe(413);
  });

  it('fails when a base64 body decodes to more than the limit', async () => {
    // GIVEN a base64 body whose decoded size is over the limit
    const deps = testDeps({ maxBodyBytes: 4096 });
    const signed = githubRequest(push());
    const request: WebhookRequest = { ...signed, body: Buffer.from(push()).toString('base64'), isBase64Encoded: true };

    // WHEN it arrives
    const response = await handleWebhook(request, deps);

    // THEN it answers 413
    expect(response.statusCode).toBe(413);
  });

  it('fails when the body is malformed JSON, even correctly signed', async () => {
    // GIVEN a truncated payload with a valid signature over it
    const deps = testDeps();
    const body = push().slice(0, 500);

    // WHEN it arrives
    const response = await handleWebhook(githubRequest(body), deps);

    // THEN it answers 400
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response).reason).toMatch(/^body is not valid JSON/);
  });

  it('fails when the body is JSON but not an object', async () => {
    // GIVEN a signed JSON array
    const deps = testDeps();

    // WHEN it arrives
    const response = await handleWebhook(githubRequest('[1,2,3]'), deps);

    // THEN it answers 400
    expect(response.statusCode).toBe(400);
  });

  it('fails when the body is empty', async () => {
    // GIVEN an empty body
    const deps = testDeps();
    const request = { ...githubRequest('x'), body: '' };

    // WHEN it arrives
    const response = await handleWebhook(request, deps);

    // THEN it answers 400
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response)).toEqual({ reason: 'body is empty' });
  });

  it('fails when the signature is missing', async () => {
    // GIVEN a push without X-Hub-Signature-256 (a hook without secret)
    const deps = testDeps();
    const request = githubRequest(push(), { headers: { 'x-hub-signature-256': undefined } });

    // WHEN it arrives
    const response = await handleWebhook(request, deps);

    // THEN it answers 401
    expect(response.statusCode).toBe(401);
    expect(bodyOf(response).reason).toContain('missing X-Hub-Signature-256');
    expect(deps.publisher.events).toHaveLength(0);
  });

  it('fails when the signature was made with another secret', async () => {
    // GIVEN a push signed with the wrong secret
    const deps = testDeps();

    // WHEN it arrives
    const response = await handleWebhook(githubRequest(push(), { secret: 'not the secret' }), deps);

    // THEN it answers 401
    expect(response.statusCode).toBe(401);
    expect(bodyOf(response)).toEqual({ reason: 'signature does not match the webhook secret' });
    expect(deps.publisher.events).toHaveLength(0);
  });

  it('fails when the body was changed after signing', async () => {
    // GIVEN a signature over the original body and a body with one path changed
    const deps = testDeps();
    const original = push();
    const tampered = original.replace('dev/us-east-1/app/main.tf', 'prod/us-east-1/app/main.tf');
    const request = { ...githubRequest(original), body: tampered };

    // WHEN it arrives
    const response = await handleWebhook(request, deps);

    // THEN it answers 401
    expect(response.statusCode).toBe(401);
  });

  it.each([
    ['the legacy SHA-1 form', `sha1=${'a'.repeat(40)}`],
    ['a bare hex digest', 'a'.repeat(64)],
    ['garbage', 'sha256=not-hex'],
  ])('fails when the signature is %s', async (_what, signature) => {
    // GIVEN a signature header in the wrong form
    const deps = testDeps();
    const request = githubRequest(push(), { headers: { 'x-hub-signature-256': signature } });

    // WHEN it arrives
    const response = await handleWebhook(request, deps);

    // THEN it answers 401
    expect(response.statusCode).toBe(401);
  });

  it('fails when no git host event header and no signature are present', async () => {
    // GIVEN a JSON POST that names neither GitHub nor GitLab and carries no signature
    const deps = testDeps();
    const request = githubRequest(push(), { headers: { 'x-github-event': undefined, 'x-hub-signature-256': undefined } });

    // WHEN it arrives
    const response = await handleWebhook(request, deps);

    // THEN it answers 400 and nothing is published
    expect(response.statusCode).toBe(400);
    expect(deps.publisher.events).toHaveLength(0);
  });

  it('ignores a signed push without X-GitHub-Event: 202, nothing published', async () => {
    // GIVEN a push body correctly signed, but with no X-GitHub-Event header
    const deps = testDeps();
    const request = githubRequest(push(), { headers: { 'x-github-event': undefined } });

    // WHEN it arrives
    const response = await handleWebhook(request, deps);

    // THEN it is treated as an event that is not a push: 202 ignored, nothing published
    expect(response.statusCode).toBe(202);
    expect(bodyOf(response)).toMatchObject({ outcome: 'ignored', reason: expect.stringMatching(/without X-GitHub-Event/) as unknown });
    expect(deps.publisher.events).toHaveLength(0);
  });

  it('fails when a push without X-GitHub-Event is signed with a wrong secret (401)', async () => {
    const deps = testDeps();
    const request = githubRequest(push(), { secret: 'not the secret', headers: { 'x-github-event': undefined } });
    expect((await handleWebhook(request, deps)).statusCode).toBe(401);
  });

  it('never logs the secret, the signature or the token', async () => {
    // GIVEN a capturing logger and every kind of request, good and bad
    const deps = testDeps();
    const body = push();
    const signature = githubSignature(body);
    const wrongSignature = githubSignature(body, 'wrong secret');
    const gitlabBody = fixtureText('gitlab-push.json');
    const requests: WebhookRequest[] = [
      githubRequest(body),
      githubRequest(body, { deliveryId: 'same' }),
      githubRequest(body, { deliveryId: 'same' }),
      githubRequest(body, { secret: 'wrong secret' }),
      { ...githubRequest(body), method: 'GET' },
      githubRequest(body, { headers: { 'content-type': 'text/plain' } }),
      githubRequest('{"broken":'),
      githubRequest(fixtureText('github-ping.json'), { event: 'ping' }),
      githubRequest(body, { event: 'issues' }),
      githubRequest(body.replace('acme/infrastructure-live', 'acme/other')),
      gitlabRequest(gitlabBody),
      gitlabRequest(gitlabBody, { token: 'wrong token' }),
      gitlabRequest(gitlabBody, { token: SECRET.toUpperCase() }),
    ];

    // WHEN they all arrive
    const statuses: number[] = [];
    for (const request of requests) statuses.push((await handleWebhook(request, deps)).statusCode);

    // THEN every request was logged, and no line holds a secret, a signature or a token
    expect(statuses).toEqual([200, 200, 200, 401, 405, 415, 400, 200, 202, 403, 200, 401, 401]);
    expect(deps.logger.entries.length).toBeGreaterThanOrEqual(requests.length);
    const text = logText(deps.logger);
    for (const leaked of [SECRET, signature, signature.slice(7), wrongSignature.slice(7), 'wrong token', 'wrong secret', SECRET.toUpperCase()]) {
      expect(text).not.toContain(leaked);
    }
  });
});
