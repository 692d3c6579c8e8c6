/**
 * Installation tokens of a GitHub App, minted when needed and kept only in this process's memory.
 *
 * The App's JWT is made by `@octokit/auth-app`; the token request goes through `fetch` to the
 * configured API (GitHub Enterprise Server or a test server on loopback). Each token is scoped to
 * the repositories named and to the permissions asked for, never the App's whole installation
 * ("Generating an installation access token for a GitHub App":
 * https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/generating-an-installation-access-token-for-a-github-app
 * — a token without `repositories` would reach every repository of the installation).
 */
import type { GitHubAppCredential } from './credentials';
import { InstallationTokenError } from './errors';

/** Permissions an installation token is asked for, as the REST API names them. */
export type InstallationPermissions = Readonly<Record<string, 'read' | 'write'>>;

/** What tfstep needs to read a repository: its contents (clone, trees, compare). */
export const READ_CONTENTS: InstallationPermissions = { contents: 'read' };

/** A minted installation token. */
export interface InstallationToken {
  readonly token: string;
  /** ISO 8601; GitHub makes them last one hour. */
  readonly expiresAt: string;
}

type AppAuth = (options: { type: 'installation'; repositoryNames: string[]; permissions: Record<string, string> }) => Promise<{ token: string; expiresAt: string }>;
type AppAuthFactory = (options: { appId: string; privateKey: string; installationId: string; request: unknown; log: { warn: (m: string) => void } }) => AppAuth;

let factory: Promise<AppAuthFactory> | undefined;

/**
 * @octokit/auth-app is ESM-only: a dynamic import resolves under the `import` condition in
 * CommonJS (tsx, jest) as well, and esbuild still bundles it into the runner and the function.
 */
function loadFactory(): Promise<AppAuthFactory> {
  factory ??= import('@octokit/auth-app').then(
    (m) => m.createAppAuth as unknown as AppAuthFactory,
    (err: unknown) => {
      factory = undefined;
      throw err;
    },
  );
  return factory;
}

/** Options of {@link GitHubAppTokens}. */
export interface GitHubAppTokensOptions {
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

/** Mints and caches installation tokens for one App installation. */
export class GitHubAppTokens {
  private auth: Promise<AppAuth> | undefined;
  private readonly base: string;
  private readonly doFetch: typeof fetch;

  constructor(
    private readonly app: GitHubAppCredential,
    options: GitHubAppTokensOptions = {},
  ) {
    this.base = (app.apiBaseUrl ?? 'https://api.github.com').replace(/\/+$/, '');
    this.doFetch = options.fetch ?? fetch;
  }

  /**
   * A token for `repositories` (names without the owner) with `permissions`. The same request
   * within a token's life is answered from memory (auth-app refreshes it before it expires).
   * @throws InstallationTokenError when GitHub refuses (wrong App id, key, installation, or a
   *   repository the installation cannot see)
   */
  async token(repositories: readonly string[], permissions: InstallationPermissions = READ_CONTENTS): Promise<InstallationToken> {
    if (repositories.length === 0 || repositories.length > 500) {
      throw new InstallationTokenError(`an installation token is scoped to 1 to 500 repositories, got ${repositories.length}`, undefined);
    }
    this.auth ??= loadFactory().then((create) =>
      create({
        appId: this.app.appId,
        privateKey: this.app.privateKey,
        installationId: this.app.installationId,
        request: this.request.bind(this),
        // auth-app would print to the console; nothing of a token path may reach the logs.
        log: { warn: () => undefined },
      }),
    );
    const auth = await this.auth;
    try {
      const res = await auth({ type: 'installation', repositoryNames: [...repositories], permissions: { ...permissions } });
      return { token: res.token, expiresAt: res.expiresAt };
    } catch (err) {
      if (err instanceof InstallationTokenError) throw err;
      throw new InstallationTokenError(`cannot mint a GitHub App installation token: ${(err as Error).message}`, undefined, { cause: err });
    }
  }

  /**
   * The one request auth-app makes for an installation token, sent with `fetch`. auth-app puts
   * the App's JWT in `headers.authorization` and the scope in `repositories` and `permissions`.
   */
  private async request(route: string, params: Record<string, unknown>): Promise<{ data: unknown }> {
    if (route !== 'POST /app/installations/{installation_id}/access_tokens') throw new InstallationTokenError(`unexpected GitHub API request ${route}`, undefined);
    const headers = (params.headers ?? {}) as Record<string, string>;
    const url = `${this.base}/app/installations/${encodeURIComponent(String(params.installation_id))}/access_tokens`;
    const body: Record<string, unknown> = {};
    if (params.repositories) body.repositories = params.repositories;
    if (params.permissions) body.permissions = params.permissions;
    let res: Response;
    try {
      res = await this.doFetch(url, {
        method: 'POST',
        headers: {
          accept: 'application/vnd.github+json',
          'x-github-api-version': '2022-11-28',
          'content-type': 'application/json',
          'user-agent': 'tfstep',
          authorization: headers.authorization ?? '',
        },
        body: JSON.stringify(body),
      });
    } catch (err) {
      throw new InstallationTokenError(`GitHub API request POST ${url} failed: ${(err as Error).message}`, undefined, { cause: err });
    }
    const text = await res.text();
    let data: unknown;
    try {
      data = text ? JSON.parse(text) : undefined;
    } catch {
      data = undefined;
    }
    if (res.status !== 201 && res.status !== 200) {
      const message = data && typeof data === 'object' && 'message' in data && typeof data.message === 'string' ? data.message : text.slice(0, 200);
      throw new InstallationTokenError(
        `GitHub refused an installation token for App ${this.app.appId}, installation ${this.app.installationId}: HTTP ${res.status} (${message}); check the App id, its private key, the installation id, and that the installation can see ${JSON.stringify(body.repositories ?? [])}`,
        res.status,
      );
    }
    if (!data || typeof data !== 'object' || typeof (data as { token?: unknown }).token !== 'string') {
      throw new InstallationTokenError(`GitHub answered POST ${url} without a token`, res.status);
    }
    return { data };
  }
}
