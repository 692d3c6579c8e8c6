import { verifyGithubSignature, verifyGitlabToken } from './auth';
import { MalformedRequestError, MethodNotAllowedError, PayloadTooLargeError, UnsupportedMediaTypeError, WebhookError } from './errors';
import { decidePush, readGithubPush, readGitlabPush } from './normalize';
import { decidePullRequest, readGithubPullRequest, readGitlabMergeRequest } from './pull-request';
import type { GitProvider, LogFields, SecretStage, WebhookDeps, WebhookRequest, WebhookResponse } from './types';

/**
 * The default body limit: 5 MiB. GitHub sends push payloads of up to 25 MB (its webhook docs:
 * larger events fire no webhook), and a push of 20 commits touching thousands of files is
 * several megabytes. A function URL invokes the function synchronously, whose request payload
 * Lambda caps at 6 MB, event envelope included ("Lambda quotas"; "Invoking ... using Lambda
 * function URLs": BUFFERED, 6 MB), so nothing larger can reach the function anyway; 5 MiB
 * leaves room for the envelope. A larger push is answered 413 by Lambda itself; the next push
 * to the branch deploys its changes too, since targets compares with each target's last
 * applied commit, not with the push's own path list.
 */
export const DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024;

/** What a 2xx answer did, in its body next to the reason. */
export type WebhookOutcome = 'published' | 'ignored' | 'duplicate' | 'pong' | 'refused';

type Headers = ReadonlyMap<string, string>;

/** Header names lower-cased; a repeated header counts by its first value. */
function normalizeHeaders(headers: WebhookRequest['headers']): Headers {
  const out = new Map<string, string>();
  for (const [name, value] of Object.entries(headers)) {
    const first = typeof value === 'string' ? value : value?.[0];
    if (first !== undefined) out.set(name.toLowerCase(), first);
  }
  return out;
}

function respond(statusCode: number, body: Record<string, unknown>, extraHeaders: Record<string, string> = {}): WebhookResponse {
  return { statusCode, headers: { 'content-type': 'application/json', ...extraHeaders }, body: JSON.stringify(body) };
}

/** Echoed header values are attacker-controlled: keep them short in reasons and logs. */
function clip(value: string, max = 100): string {
  return value.length > max ? `${value.slice(0, max)}...` : value;
}

function checkContentType(headers: Headers): void {
  const raw = headers.get('content-type');
  const mediaType = raw?.split(';')[0]?.trim().toLowerCase();
  if (mediaType === 'application/json') return;
  if (mediaType === 'application/x-www-form-urlencoded') {
    throw new UnsupportedMediaTypeError(
      'form-encoded webhooks (application/x-www-form-urlencoded) are not supported; set the webhook content type to application/json',
    );
  }
  throw new UnsupportedMediaTypeError(`content type ${raw === undefined ? '(missing)' : JSON.stringify(clip(raw))} is not supported; send application/json`);
}

/** The raw body as the text the signature covers, after base64 decoding and the size check. */
function readBody(request: WebhookRequest, maxBytes: number): string {
  const body = request.body ?? '';
  if (request.isBase64Encoded) {
    // Refuse before decoding: base64 text is 4/3 of the bytes it holds.
    if (body.length > Math.ceil(maxBytes / 3) * 4 + 4) throw new PayloadTooLargeError(maxBytes);
    const bytes = Buffer.from(body, 'base64');
    if (bytes.length > maxBytes) throw new PayloadTooLargeError(maxBytes);
    return bytes.toString('utf8');
  }
  if (body.length > maxBytes || Buffer.byteLength(body, 'utf8') > maxBytes) throw new PayloadTooLargeError(maxBytes);
  return body;
}

function detectProvider(headers: Headers): { provider: GitProvider; event: string } {
  const gitlab = headers.get('x-gitlab-event');
  if (gitlab !== undefined) return { provider: 'gitlab', event: gitlab };
  const github = headers.get('x-github-event');
  if (github !== undefined) return { provider: 'github', event: github };
  // Signed as GitHub signs, but naming no event: checked like any delivery, then ignored (202).
  if (headers.get('x-hub-signature-256') !== undefined) return { provider: 'github', event: '' };
  throw new MalformedRequestError('neither X-GitHub-Event nor X-Gitlab-Event is set; this is not a GitHub or GitLab webhook');
}

function parseJson(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new MalformedRequestError(`body is not valid JSON: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new MalformedRequestError('body is not a JSON object');
  return value;
}

function requireDeliveryId(headers: Headers, provider: GitProvider): string {
  const header = provider === 'github' ? 'X-GitHub-Delivery' : 'X-Gitlab-Event-UUID';
  const value = headers.get(header.toLowerCase());
  if (value === undefined || value === '') throw new MalformedRequestError(`missing ${header} header; it identifies the delivery`);
  // It becomes part of a table key and a log field: printable ASCII only, bounded.
  if (!/^[\x21-\x7e]{1,200}$/.test(value)) throw new MalformedRequestError(`${header} must be 1 to 200 printable ASCII characters`);
  return value;
}

/**
 * Handles one webhook delivery from GitHub or GitLab, whatever front end received it.
 *
 * Order matters: cheap checks that need no secret (method, content type, size) come first; the
 * signature or token is verified over the raw body before any JSON is parsed; only then is the
 * push read, matched to a configured repository and filtered. A push to a deploy branch is
 * claimed in the delivery store, published, and the claim released again if publishing fails,
 * so that the sender's redelivery after the 500 is published rather than called a duplicate.
 *
 * Bad input answers 4xx with `{ reason }`; failures of the dependencies answer 500. Nothing is
 * published for any of them. Logs never contain the secret, the signature or the token.
 */
export async function handleWebhook(request: WebhookRequest, deps: WebhookDeps): Promise<WebhookResponse> {
  const log: Record<string, unknown> = {};
  try {
    return await handle(request, deps, log);
  } catch (err) {
    if (err instanceof WebhookError) {
      deps.logger.warn('webhook refused', { ...log, statusCode: err.statusCode, error: err.name, reason: err.message });
      return respond(err.statusCode, { reason: err.message }, err instanceof MethodNotAllowedError ? { allow: 'POST' } : {});
    }
    deps.logger.error('webhook failed', { ...log, statusCode: 500, error: errorFields(err) });
    return respond(500, { reason: 'internal error; redeliver the webhook later' });
  }
}

function errorFields(err: unknown): LogFields {
  return err instanceof Error ? { name: err.name, message: err.message } : { message: String(err) };
}

async function handle(request: WebhookRequest, deps: WebhookDeps, log: Record<string, unknown>): Promise<WebhookResponse> {
  const method = request.method.toUpperCase();
  if (method !== 'POST') throw new MethodNotAllowedError(clip(request.method, 20));
  const headers = normalizeHeaders(request.headers);
  checkContentType(headers);
  const rawBody = readBody(request, deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
  const { provider, event } = detectProvider(headers);
  log.provider = provider;
  log.event = clip(event, 60);
  const headerDelivery = headers.get(provider === 'github' ? 'x-github-delivery' : 'x-gitlab-event-uuid');
  if (headerDelivery !== undefined) log.deliveryId = clip(headerDelivery, 200);
  if (rawBody === '') throw new MalformedRequestError('body is empty');

  let stage: SecretStage;
  if (provider === 'github') {
    stage = await verifyGithubSignature(deps.secrets, rawBody, headers.get('x-hub-signature-256'));
  } else {
    stage = await verifyGitlabToken(deps.secrets, headers.get('x-gitlab-token'));
  }
  if (stage === 'AWSPREVIOUS') {
    deps.logger.warn('delivery authenticated with the previous webhook secret; update the secret on the git host', { ...log });
  }

  const payload = parseJson(rawBody);

  if ((provider === 'github' && event === 'pull_request') || (provider === 'gitlab' && event === 'Merge Request Hook')) {
    return handlePullRequest(provider === 'github' ? readGithubPullRequest(payload) : readGitlabMergeRequest(payload), headers, provider, deps, log);
  }

  let read;
  if (provider === 'github' && event === 'ping') {
    deps.logger.info('ping answered', { ...log });
    return respond(200, { outcome: 'pong' satisfies WebhookOutcome, reason: 'pong: the webhook and its secret work' });
  } else if (provider === 'github' && event === 'push') {
    read = readGithubPush(payload);
  } else if (provider === 'gitlab' && (event === 'Push Hook' || event === 'Tag Push Hook')) {
    // Tag pushes are read too, so an unconfigured repository still answers 403 and a tag 200.
    read = readGitlabPush(payload);
  } else {
    deps.logger.info('event type ignored', { ...log });
    const what = event === '' ? 'a delivery without X-GitHub-Event' : `event type ${JSON.stringify(clip(event, 60))}`;
    return respond(202, { outcome: 'ignored' satisfies WebhookOutcome, reason: `${what} is ignored; only pushes and pull requests are read` });
  }
  log.repository = read.fullName;
  log.ref = read.ref;
  log.after = read.after;

  const deliveryId = requireDeliveryId(headers, provider);
  const decision = decidePush(read, { config: deps.config, deliveryId, receivedAt: deps.clock.now() });
  if (decision.kind === 'ignored') {
    deps.logger.info('push ignored', { ...log, reason: decision.reason });
    return respond(200, { outcome: 'ignored' satisfies WebhookOutcome, reason: decision.reason });
  }

  if ((await deps.deliveries.claim(provider, deliveryId)) === 'duplicate') {
    deps.logger.info('duplicate delivery ignored', { ...log });
    return respond(200, { outcome: 'duplicate' satisfies WebhookOutcome, reason: `delivery ${deliveryId} was already received` });
  }

  try {
    await deps.publisher.publish(decision.event);
  } catch (err) {
    try {
      await deps.deliveries.release(provider, deliveryId);
    } catch (releaseErr) {
      deps.logger.error('releasing the delivery claim failed; a redelivery counts as a duplicate until the claim goes stale', {
        ...log,
        error: errorFields(releaseErr),
      });
    }
    deps.logger.error('publishing the push failed', { ...log, statusCode: 500, error: errorFields(err) });
    return respond(500, { reason: 'publishing the push failed; redeliver the webhook' });
  }

  try {
    await deps.deliveries.complete(provider, deliveryId);
  } catch (err) {
    // Published already: answering 500 would invite a second publish. The claim stays pending.
    deps.logger.warn('marking the delivery published failed', { ...log, error: errorFields(err) });
  }

  const { event: push } = decision;
  deps.logger.info('push published', {
    ...log,
    branch: push.branch,
    complete: push.changes.complete,
    ...(decision.incompleteReason ? { incompleteReason: decision.incompleteReason } : {}),
    paths: push.changes.paths.length,
  });
  return respond(200, {
    outcome: 'published' satisfies WebhookOutcome,
    reason: `push of ${push.after.slice(0, 12)} to ${push.branch} published`,
    deliveryId,
  });
}

/** Claims the delivery, publishes, and releases the claim again when publishing fails (as for pushes). */
async function publishOnce(
  provider: GitProvider,
  deliveryId: string,
  publish: () => Promise<void>,
  deps: WebhookDeps,
  log: Record<string, unknown>,
): Promise<'published' | 'duplicate' | 'failed'> {
  if ((await deps.deliveries.claim(provider, deliveryId)) === 'duplicate') return 'duplicate';
  try {
    await publish();
  } catch (err) {
    try {
      await deps.deliveries.release(provider, deliveryId);
    } catch (releaseErr) {
      deps.logger.error('releasing the delivery claim failed; a redelivery counts as a duplicate until the claim goes stale', { ...log, error: errorFields(releaseErr) });
    }
    deps.logger.error('publishing failed', { ...log, statusCode: 500, error: errorFields(err) });
    return 'failed';
  }
  try {
    await deps.deliveries.complete(provider, deliveryId);
  } catch (err) {
    deps.logger.warn('marking the delivery published failed', { ...log, error: errorFields(err) });
  }
  return 'published';
}

/**
 * A pull request (merge request) delivery, already authenticated: forks and authors outside
 * `pullRequests.authors` are refused here, in the central account, before anything is published.
 */
async function handlePullRequest(
  read: ReturnType<typeof readGithubPullRequest>,
  headers: Headers,
  provider: GitProvider,
  deps: WebhookDeps,
  log: Record<string, unknown>,
): Promise<WebhookResponse> {
  log.repository = read.fullName;
  log.pullRequest = read.number;
  log.action = clip(read.hostAction, 40);
  log.headSha = read.headSha;
  const deliveryId = requireDeliveryId(headers, provider);
  const decision = decidePullRequest(read, { config: deps.config, deliveryId, receivedAt: deps.clock.now() });
  if (decision.kind === 'ignored') {
    deps.logger.info('pull request ignored', { ...log, reason: decision.reason });
    return respond(200, { outcome: 'ignored' satisfies WebhookOutcome, reason: decision.reason });
  }
  if (decision.kind === 'refused') {
    deps.logger.warn('pull request refused', { ...log, reason: decision.reason });
    return respond(200, { outcome: 'refused' satisfies WebhookOutcome, reason: decision.reason });
  }
  const pr = decision.event;
  const outcome = await publishOnce(provider, deliveryId, () => deps.publisher.publishPullRequest(pr), deps, log);
  if (outcome === 'duplicate') {
    deps.logger.info('duplicate delivery ignored', { ...log });
    return respond(200, { outcome: 'duplicate' satisfies WebhookOutcome, reason: `delivery ${deliveryId} was already received` });
  }
  if (outcome === 'failed') return respond(500, { reason: 'publishing the pull request failed; redeliver the webhook' });
  deps.logger.info('pull request published', { ...log, prAction: pr.action, ...(decision.teamCheck ? { teamCheck: decision.teamCheck } : {}) });
  const what = pr.action === 'plan' ? `plan of ${pr.headSha.slice(0, 12)}` : 'cancel';
  return respond(200, { outcome: 'published' satisfies WebhookOutcome, reason: `pull request #${pr.number}: ${what} published`, deliveryId });
}
