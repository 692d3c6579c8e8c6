/**
 * The git credentials tfstep reads private repositories with: one document, the same in a
 * Secrets Manager secret (central account: the repository reader; target account: the runner),
 * a file or an environment variable (the local mode).
 *
 * ```jsonc
 * {"githubApp": {"appId": "123456", "installationId": "7890123", "privateKey": "-----BEGIN RSA PRIVATE KEY-----..."}}
 * {"token": "glpat-...", "username": "oauth2"}   // a personal, project or group access token
 * {"sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----...", "knownHosts": "..."}
 * ```
 * A plain string is a token, or an SSH private key when it starts with `-----BEGIN`.
 */
import { z } from 'zod';
import { GitCredentialFormatError } from './errors';

const NumericId = z.union([z.number().int().positive(), z.string().regex(/^\d+$/, 'a numeric id')]).transform((v) => String(v));

/** A GitHub App: the runner and the reader mint short-lived installation tokens from it. */
export const GitHubAppCredentialSchema = z
  .object({
    /** The App's id (App settings, "About"). */
    appId: NumericId,
    /** The installation on the organization or user that owns the repositories. */
    installationId: NumericId,
    /** The App's private key (PEM), as GitHub generated it. */
    privateKey: z.string().regex(/-----BEGIN ([A-Z]+ )?PRIVATE KEY-----/, 'a PEM private key as GitHub generates it (-----BEGIN RSA PRIVATE KEY-----)'),
    /** GitHub Enterprise Server: `https://HOST/api/v3`. @default https://api.github.com */
    apiBaseUrl: z.string().url().optional(),
  })
  .strict();
export type GitHubAppCredential = z.infer<typeof GitHubAppCredentialSchema>;

export const GitCredentialSchema = z.union([
  z.object({ githubApp: GitHubAppCredentialSchema }).strict(),
  z.object({ token: z.string().min(1), username: z.string().min(1).optional() }).strict(),
  z.object({ sshPrivateKey: z.string().min(1), knownHosts: z.string().optional() }).strict(),
]);
/** One of: a GitHub App, a token (GitHub personal access token, GitLab personal, project or group access token), an SSH key. */
export type GitCredential = z.infer<typeof GitCredentialSchema>;

const EXPECTED = 'expected {"githubApp": {"appId", "installationId", "privateKey"}}, {"token": "..."}, {"sshPrivateKey": "..."}, or a plain token';

/**
 * Parses a credential document. The error names `where` (a secret id, a file, a variable) and
 * never echoes the value.
 */
export function parseGitCredential(text: string, where: string): GitCredential {
  const t = text.trim();
  if (t === '') throw new GitCredentialFormatError(`the git credentials in ${where} are empty; ${EXPECTED}`);
  if (!t.startsWith('{')) return t.startsWith('-----BEGIN') ? { sshPrivateKey: t } : { token: t };
  let json: unknown;
  try {
    json = JSON.parse(t);
  } catch {
    throw new GitCredentialFormatError(`the git credentials in ${where} are not valid JSON; ${EXPECTED}`);
  }
  const parsed = GitCredentialSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  // Only paths and messages: a zod issue can carry the received value, which may be the secret.
  const app = z.object({ githubApp: GitHubAppCredentialSchema }).safeParse(json);
  const issues = (app.success ? parsed.error.issues : (json && typeof json === 'object' && 'githubApp' in json ? app.error.issues : parsed.error.issues))
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(document)'}: ${i.message}`);
  throw new GitCredentialFormatError(`the git credentials in ${where} are not in an accepted shape (${issues.join('; ')}); ${EXPECTED}`);
}

/** The values to mask in logs: every secret string the credential holds. */
export function secretValues(credential: GitCredential): string[] {
  if ('githubApp' in credential) return [credential.githubApp.privateKey];
  if ('token' in credential) return [credential.token];
  return [credential.sshPrivateKey];
}

/**
 * The repository name an installation token is scoped to, from `owner/name` or a clone URL
 * (`https://host/owner/name.git`, `git@host:owner/name.git`).
 */
export function repositoryNameOf(fullNameOrUrl: string): { owner: string; name: string } {
  const m = /^(?:[a-z+]+:\/\/[^/]+\/|[^@/:]+@[^:/]+:)?([^/]+)\/([^/]+?)(?:\.git)?\/?$/i.exec(fullNameOrUrl.trim());
  if (!m?.[1] || !m[2]) throw new GitCredentialFormatError(`cannot tell the owner and name of the repository from "${fullNameOrUrl}"; expected owner/name or a clone URL such as https://github.com/owner/name.git`);
  return { owner: m[1], name: m[2] };
}
