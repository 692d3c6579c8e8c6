/**
 * GitHub commit statuses (`POST /repos/{owner}/{repo}/statuses/{sha}`), so a push shows the
 * pipeline's progress next to the commit. Plain fetch; the token comes from Secrets Manager.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GitHubStatusError, GitHubTokenError } from './errors';

/** The states GitHub accepts. */
export type CommitState = 'pending' | 'success' | 'failure' | 'error';

/** One commit status. */
export interface CommitStatus {
  /** `owner/name`. */
  readonly repository: string;
  readonly sha: string;
  readonly state: CommitState;
  /** The execution's console page. */
  readonly targetUrl?: string;
  /** At most 140 characters (GitHub's limit); longer text is cut. */
  readonly description?: string;
  /** `tfstep/<stage>` or `tfstep/pipeline`. */
  readonly context: string;
}

/** Where the token comes from; called once per status, so it may cache. */
export type TokenSource = () => Promise<string>;

/** Options of {@link GitHubStatusClient}. */
export interface GitHubStatusClientProps {
  readonly token: TokenSource;
  /** @default 'https://api.github.com' (GitHub Enterprise: `https://<host>/api/v3`) */
  readonly baseUrl?: string;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

const REPO = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;
const SHA = /^[0-9a-f]{40}$/;

/** Posts commit statuses to GitHub. */
export class GitHubStatusClient {
  private readonly baseUrl: string;
  private readonly fetch: typeof fetch;

  constructor(private readonly props: GitHubStatusClientProps) {
    this.baseUrl = (props.baseUrl ?? 'https://api.github.com').replace(/\/+$/, '');
    this.fetch = props.fetch ?? globalThis.fetch;
  }

  /** Creates a status; throws {@link GitHubStatusError} when GitHub refuses it. */
  async setStatus(status: CommitStatus): Promise<void> {
    if (!REPO.test(status.repository)) throw new TypeError(`repository ${JSON.stringify(status.repository)} is not owner/name`);
    if (!SHA.test(status.sha)) throw new TypeError(`sha ${JSON.stringify(status.sha)} is not a full 40-character commit SHA`);
    const token = await this.props.token();
    const description = status.description && status.description.length > 140 ? `${status.description.slice(0, 137)}...` : status.description;
    const res = await this.fetch(`${this.baseUrl}/repos/${status.repository}/statuses/${status.sha}`, {
      method: 'POST',
      headers: {
        accept: 'application/vnd.github+json',
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'user-agent': 'tfstep',
        'x-github-api-version': '2022-11-28',
      },
      body: JSON.stringify({ state: status.state, target_url: status.targetUrl, description, context: status.context }),
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      let detail = text.slice(0, 200);
      try {
        const message = (JSON.parse(text) as { message?: unknown }).message;
        if (typeof message === 'string') detail = message;
      } catch {
        // not JSON: keep the text
      }
      throw new GitHubStatusError(res.status, status.repository, detail);
    }
  }
}

/**
 * Reads the token from a Secrets Manager secret once and keeps it: the secret string itself, or
 * JSON with a `token` field.
 */
export function secretsManagerToken(client: SecretsManagerClient, secretId: string): TokenSource {
  let cached: Promise<string> | undefined;
  return () => {
    cached ??= (async () => {
      const out = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
      const raw = out.SecretString?.trim() ?? '';
      let token = raw;
      if (raw.startsWith('{')) {
        try {
          const value = (JSON.parse(raw) as { token?: unknown }).token;
          token = typeof value === 'string' ? value.trim() : '';
        } catch (err) {
          throw new GitHubTokenError(secretId, { cause: err });
        }
      }
      if (!token) throw new GitHubTokenError(secretId);
      return token;
    })();
    cached.catch(() => {
      // A failed read is retried on the next status rather than cached.
      cached = undefined;
    });
    return cached;
  };
}
