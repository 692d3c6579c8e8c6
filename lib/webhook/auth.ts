import { createHash, timingSafeEqual } from 'node:crypto';
import { AuthenticationError, WebhookSecretError } from './errors';
import type { SecretProvider, SecretStage } from './types';

type Verify = (secret: string, payload: string, signature: string) => Promise<boolean>;
let verifyModule: Promise<Verify> | undefined;

/**
 * @octokit/webhooks-methods is ESM-only and exports nothing under the `require` condition, so a
 * static import compiled to `require()` (tsx in CommonJS mode, jest) cannot resolve it. A dynamic
 * import resolves under the `import` condition everywhere, and esbuild still bundles it.
 */
function loadVerify(): Promise<Verify> {
  verifyModule ??= import('@octokit/webhooks-methods').then(
    (m) => m.verify,
    (err: unknown) => {
      verifyModule = undefined;
      throw err;
    },
  );
  return verifyModule;
}

/** Tried in this order: during a rotation the git host may still sign with the previous secret. */
const STAGES: readonly SecretStage[] = ['AWSCURRENT', 'AWSPREVIOUS'];

/**
 * Finds the rotation stage whose secret the check accepts. When no cached secret matches, the
 * secrets are fetched again once (the provider rate-limits that), because a rotation may have
 * happened since they were cached and the git host may already use the new one.
 */
async function matchSecret(secrets: SecretProvider, check: (secret: string) => Promise<boolean>): Promise<SecretStage | undefined> {
  const tried = new Set<string>();
  for (const refresh of [false, true]) {
    for (const stage of STAGES) {
      const secret = await secrets.getSecret(stage, { refresh });
      if (secret === undefined || secret === '' || tried.has(secret)) continue;
      tried.add(secret);
      if (await check(secret)) return stage;
    }
  }
  // Every delivery would be refused with 401, which looks like the git host's fault: say it is ours.
  if (tried.size === 0) throw new WebhookSecretError('the webhook secret has no value (empty SecretString); set it in Secrets Manager');
  return undefined;
}

/**
 * Verifies GitHub's `X-Hub-Signature-256` (HMAC-SHA256 of the raw body, `sha256=<hex>`).
 * Returns the rotation stage that matched; throws {@link AuthenticationError} otherwise.
 */
export async function verifyGithubSignature(secrets: SecretProvider, rawBody: string, signature: string | undefined): Promise<SecretStage> {
  if (signature === undefined || signature === '') {
    throw new AuthenticationError('missing X-Hub-Signature-256 header; give the webhook a secret');
  }
  if (!/^sha256=[0-9a-f]{64}$/i.test(signature)) {
    throw new AuthenticationError('X-Hub-Signature-256 is not of the form sha256=<64 hex digits>');
  }
  // GitHub writes lower-case hex; compare in that spelling so case does not cause a mismatch.
  const normalized = `sha256=${signature.slice('sha256='.length).toLowerCase()}`;
  const verify = await loadVerify();
  const stage = await matchSecret(secrets, (secret) => verify(secret, rawBody, normalized));
  if (stage === undefined) throw new AuthenticationError('signature does not match the webhook secret');
  return stage;
}

/** SHA-256 digests have equal length, which timingSafeEqual requires, whatever the inputs' lengths. */
function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * Checks GitLab's `X-Gitlab-Token` against the secret in constant time. Returns the rotation
 * stage that matched; throws {@link AuthenticationError} otherwise.
 */
export async function verifyGitlabToken(secrets: SecretProvider, token: string | undefined): Promise<SecretStage> {
  if (token === undefined || token === '') {
    throw new AuthenticationError('missing X-Gitlab-Token header; give the webhook a secret token');
  }
  const given = digest(token);
  const stage = await matchSecret(secrets, (secret) => Promise.resolve(timingSafeEqual(given, digest(secret))));
  if (stage === undefined) throw new AuthenticationError('token does not match the webhook secret');
  return stage;
}
