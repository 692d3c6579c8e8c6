/** HTTP credentials for one repository, from any kind of git credential. */
import { repositoryNameOf, type GitCredential } from './credentials';
import { GitAuthError } from './errors';
import { GitHubAppTokens, READ_CONTENTS, type GitHubAppTokensOptions } from './github-app';

/** A username and password for git over HTTPS, or a bearer/private token for the host's API. */
export interface HttpCredential {
  readonly username: string;
  readonly token: string;
}

/** Returns the credential to use now: an App token is minted (or reused) on each call. */
export type HttpCredentialSource = () => Promise<HttpCredential>;

const apps = new WeakMap<object, GitHubAppTokens>();

/**
 * The HTTP credential for `repository` (`owner/name` or a clone URL).
 * - a GitHub App: an installation token scoped to that one repository with `contents: read`,
 *   user `x-access-token` (what GitHub documents for App tokens over HTTPS);
 * - a token (a GitHub personal access token, a GitLab personal, project or group access token):
 *   the token itself, user `x-access-token` unless the credential names one (GitLab accepts any
 *   non-empty user name with an access token);
 * - an SSH key has no HTTP form: the error says so.
 */
export function httpCredentialFor(credential: GitCredential, repository: string, options: GitHubAppTokensOptions = {}): HttpCredentialSource {
  if ('githubApp' in credential) {
    let tokens = apps.get(credential);
    if (!tokens) {
      tokens = new GitHubAppTokens(credential.githubApp, options);
      apps.set(credential, tokens);
    }
    const { name } = repositoryNameOf(repository);
    const app = tokens;
    return async () => ({ username: 'x-access-token', token: (await app.token([name], READ_CONTENTS)).token });
  }
  if ('token' in credential) {
    const fixed = { username: credential.username ?? 'x-access-token', token: credential.token };
    return () => Promise.resolve(fixed);
  }
  return () => Promise.reject(new GitAuthError(`the git credentials hold an SSH key, which cannot read ${repository} over HTTPS; give a GitHub App or an access token`));
}
