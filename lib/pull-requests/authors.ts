/**
 * The author check before a pull request is planned: `pullRequests.authors` read again where the
 * GitHub credentials are (the pipeline function in AWS, `tfstep local serve` on this machine).
 * The webhook has already refused forks and authors it can rule out by login; it forwards a
 * pull request whose author or sender could only be let in through a GitHub team, and this
 * check decides. Logins are checked here again too, so a bus event not made by the webhook is
 * held to the same list.
 *
 * Team membership: GitHub's "Get team membership for a user"
 * (`GET /orgs/{org}/teams/{team_slug}/memberships/{username}`, "REST API endpoints for team
 * members", https://docs.github.com/rest/teams/members#get-team-membership-for-a-user):
 * 200 with `state: active` is a member; `state: pending` (invited, not yet accepted) is not;
 * 404 is not a member (or no such team). A GitHub App needs the organization permission
 * "Members: read" for it; a personal access token needs the `read:org` scope.
 */
import { isListedLogin, teamEntriesOf } from '../domain/pull-request-authors';
import type { PullRequestEvent } from '../domain/pull-request-event';
import { InstallationTokenError } from '../git-auth/errors';
import { GitHubAppTokens, type InstallationPermissions } from '../git-auth/github-app';
import { repositoryNameOf, type GitCredential } from '../git-auth/credentials';

/** Answers whether a GitHub user is an active member of a team. */
export interface TeamMembership {
  isMember(org: string, teamSlug: string, login: string): Promise<boolean>;
}

/** How team entries can be checked for one event: a way to ask GitHub, or why there is none. */
export type TeamCheck = { readonly membership: TeamMembership } | { readonly unavailable: string };

/** What an installation token for the team check asks for: the organization's members, read. */
export const MEMBERS_READ: InstallationPermissions = { members: 'read' };

/** GitHub answered the team membership request with neither a membership nor 404. */
export class TeamMembershipError extends Error {
  override readonly name = 'TeamMembershipError';
  constructor(
    message: string,
    readonly status: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Options of {@link GitHubTeamMembership}. */
export interface GitHubTeamMembershipProps {
  /** `https://api.github.com` or `https://HOST/api/v3`. */
  readonly baseUrl: string;
  /** Called before each request, so it may mint or cache. */
  readonly token: () => Promise<string>;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

/**
 * Team membership through GitHub's REST API. Answers are kept in this object only: make one per
 * event, so a membership removed on GitHub counts from the next event on.
 */
export class GitHubTeamMembership implements TeamMembership {
  private readonly answers = new Map<string, Promise<boolean>>();
  private readonly baseUrl: string;
  private readonly doFetch: typeof fetch;

  constructor(private readonly props: GitHubTeamMembershipProps) {
    this.baseUrl = props.baseUrl.replace(/\/+$/, '');
    this.doFetch = props.fetch ?? globalThis.fetch;
  }

  isMember(org: string, teamSlug: string, login: string): Promise<boolean> {
    const key = `${org}/${teamSlug}:${login}`.toLowerCase();
    let answer = this.answers.get(key);
    if (!answer) {
      answer = this.ask(org, teamSlug, login);
      // A failure is not remembered: the next event asks again.
      answer.catch(() => this.answers.delete(key));
      this.answers.set(key, answer);
    }
    return answer;
  }

  private async ask(org: string, teamSlug: string, login: string): Promise<boolean> {
    const enc = encodeURIComponent;
    const url = `${this.baseUrl}/orgs/${enc(org)}/teams/${enc(teamSlug)}/memberships/${enc(login)}`;
    const what = `checking whether ${login} is a member of @${org}/${teamSlug}`;
    let res: Response;
    try {
      const token = await this.props.token();
      res = await this.doFetch(url, {
        method: 'GET',
        headers: { accept: 'application/vnd.github+json', authorization: `Bearer ${token}`, 'user-agent': 'tfstep', 'x-github-api-version': '2022-11-28' },
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err) {
      // A GitHub App whose installation lacks "Members: read" is refused its token (422).
      const hint = err instanceof InstallationTokenError ? '; a GitHub App needs the organization permission "Members: read" for team entries of pullRequests.authors' : '';
      throw new TeamMembershipError(`${what} failed: ${(err as Error).message}${hint}`, undefined, { cause: err });
    }
    if (res.status === 404) return false;
    const text = await res.text().catch(() => '');
    let doc: unknown;
    try {
      doc = text ? JSON.parse(text) : undefined;
    } catch {
      doc = undefined;
    }
    if (res.status !== 200) {
      const message = doc && typeof doc === 'object' && typeof (doc as { message?: unknown }).message === 'string' ? (doc as { message: string }).message : text.slice(0, 200);
      const hint =
        res.status === 401
          ? 'the token is invalid or expired'
          : res.status === 403
            ? 'the credentials may not read the organization\'s teams (a GitHub App needs the organization permission "Members: read"; a personal access token the read:org scope), or the API rate limit was reached'
            : 'GitHub could not answer';
      throw new TeamMembershipError(`${what} failed with HTTP ${res.status}: ${message.slice(0, 200)}; ${hint}`, res.status);
    }
    const state = doc && typeof doc === 'object' ? (doc as { state?: unknown }).state : undefined;
    if (state !== 'active' && state !== 'pending') throw new TeamMembershipError(`${what}: GitHub answered 200 without a membership state (expected "active" or "pending")`, res.status);
    return state === 'active';
  }
}

/** What {@link githubTeamCheck} needs. */
export interface GitHubTeamCheckProps {
  /** The central git credentials, as parsed; undefined when none are configured. */
  readonly credential: GitCredential | undefined;
  /** What to set to give credentials, for the reason when there are none (`git.centralSecret`, an environment variable). */
  readonly credentialName: string;
  /** The pull request's repository, `owner/name`: an App's installation token is scoped to it. */
  readonly repository: string;
  /** `https://api.github.com` or `https://HOST/api/v3` (a GitHub App's own `apiBaseUrl` wins). */
  readonly apiBaseUrl: string;
  readonly fetch?: typeof fetch;
}

/**
 * The team check the central git credentials allow: a GitHub App asks with an installation token
 * scoped to the pull request's repository and `members: read` (an organization permission, so the
 * repository scope does not narrow it); a token asks as it is; without credentials, or with an SSH
 * key, there is no way to ask and the reason says what to give.
 */
export function githubTeamCheck(props: GitHubTeamCheckProps): TeamCheck {
  const { credential } = props;
  const fetchOption = props.fetch ? { fetch: props.fetch } : {};
  if (credential === undefined) return { unavailable: `no GitHub credentials to ask GitHub about teams (set ${props.credentialName} to a GitHub App with "Members: read", or a token with read:org)` };
  if ('githubApp' in credential) {
    const baseUrl = credential.githubApp.apiBaseUrl ?? props.apiBaseUrl;
    const tokens = new GitHubAppTokens({ ...credential.githubApp, apiBaseUrl: baseUrl }, fetchOption);
    const name = repositoryNameOf(props.repository).name;
    return { membership: new GitHubTeamMembership({ baseUrl, token: async () => (await tokens.token([name], MEMBERS_READ)).token, ...fetchOption }) };
  }
  if ('token' in credential) {
    const token = credential.token;
    return { membership: new GitHubTeamMembership({ baseUrl: props.apiBaseUrl, token: () => Promise.resolve(token), ...fetchOption }) };
  }
  return { unavailable: `${props.credentialName} holds an SSH key, which cannot ask GitHub about teams (give a GitHub App with "Members: read", or a token with read:org)` };
}

/** The verdict on a pull request's author and sender. */
export type AuthorVerdict = { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

/**
 * Whether the pull request may be planned under `authors`: its author and, when the event names
 * one, its sender (who pushed the commits that would run) must each be listed by login or, on
 * GitHub, be an active member of a listed team. No list allows everyone.
 *
 * `teams` is called at most once, and only when a team entry has to be asked about. A team entry
 * that cannot be asked about (no credentials) matches nobody, and the reason says why. A failed
 * request to GitHub throws a {@link TeamMembershipError}: it never lets a pull request through,
 * and the caller decides whether the event is tried again.
 */
export async function checkAuthors(pr: Pick<PullRequestEvent, 'provider' | 'number' | 'author' | 'sender'>, authors: readonly string[] | undefined, teams: () => TeamCheck | Promise<TeamCheck>): Promise<AuthorVerdict> {
  if (authors === undefined) return { allowed: true };
  const entries = pr.provider === 'github' ? teamEntriesOf(authors) : [];
  let check: TeamCheck | undefined;
  for (const who of new Set([pr.author, ...(pr.sender ? [pr.sender] : [])])) {
    if (isListedLogin(who, authors)) continue;
    const notOne = `pull request #${pr.number}: ${who} is not one of pullRequests.authors`;
    if (entries.length === 0) return { allowed: false, reason: `${notOne}; not planned` };
    check ??= await teams();
    if ('unavailable' in check) return { allowed: false, reason: `${notOne} by login, and team membership cannot be checked: ${check.unavailable}; not planned` };
    let member = false;
    for (const { org, team } of entries) {
      if (await check.membership.isMember(org, team, who)) {
        member = true;
        break;
      }
    }
    if (!member) return { allowed: false, reason: `${notOne}, nor an active member of ${entries.map((e) => e.entry).join(', ')}; not planned` };
  }
  return { allowed: true };
}
