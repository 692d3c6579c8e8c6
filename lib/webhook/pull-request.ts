/**
 * Pull request (GitHub) and merge request (GitLab) deliveries: read the payload, refuse what
 * must never be planned (forks, authors outside `pullRequests.authors`), and turn the rest into
 * the canonical {@link PullRequestEvent}.
 */
import { z } from 'zod';
import type { Config } from '../config/schema';
import { formatPath } from '../config/parse';
import { isListedLogin, teamEntriesOf } from '../domain/pull-request-authors';
import { boundTitle, PullRequestEventSchema, type PullRequestAction, type PullRequestEvent } from '../domain/pull-request-event';
import { MalformedRequestError, UnknownRepositoryError } from './errors';
import { findRepository } from './normalize';
import type { GitProvider } from './types';

/** The provider-neutral facts of a pull request delivery. */
export interface RawPullRequest {
  readonly provider: GitProvider;
  /** The host's action (`opened`, `synchronize`; GitLab `open`, `update`, ...). */
  readonly hostAction: string;
  /** What tfstep does with it, or undefined when the action is not one it acts on. */
  readonly action: PullRequestAction | undefined;
  /** Why an `update` without new commits is ignored, for the answer. */
  readonly ignoreReason?: string;
  readonly fullName: string;
  readonly cloneUrls: readonly string[];
  readonly number: number;
  /** `owner/name` of the repository the head branch lives in; undefined when it was deleted. */
  readonly headRepository: string | undefined;
  readonly sameRepository: boolean;
  readonly headBranch: string;
  readonly headSha: string;
  readonly baseBranch: string;
  readonly author: string;
  /** Who caused this delivery (pushed the new commits, reopened it). */
  readonly sender: string | undefined;
  readonly title: string;
  readonly url?: string;
  readonly installationId?: number;
  readonly projectId?: number;
}

const GithubRepo = z.object({ id: z.number(), full_name: z.string().min(1), clone_url: z.string().nullish(), ssh_url: z.string().nullish() });

const GithubPullRequestSchema = z.object({
  action: z.string(),
  number: z.number().int().positive(),
  pull_request: z.object({
    html_url: z.string().nullish(),
    title: z.string().nullish(),
    user: z.object({ login: z.string().min(1) }),
    head: z.object({ ref: z.string().min(1), sha: z.string(), repo: GithubRepo.nullish() }),
    base: z.object({ ref: z.string().min(1), repo: GithubRepo }),
  }),
  repository: GithubRepo,
  sender: z.object({ login: z.string().nullish() }).nullish(),
  installation: z.object({ id: z.number().int().positive() }).nullish(),
});

const GitlabMergeRequestSchema = z.object({
  user: z.object({ username: z.string().nullish() }).nullish(),
  project: z.object({ id: z.number().int().positive(), path_with_namespace: z.string().min(1), git_http_url: z.string().nullish(), git_ssh_url: z.string().nullish() }),
  object_attributes: z.object({
    iid: z.number().int().positive(),
    action: z.string().nullish(),
    title: z.string().nullish(),
    url: z.string().nullish(),
    source_branch: z.string().min(1),
    target_branch: z.string().min(1),
    source_project_id: z.number().int(),
    target_project_id: z.number().int(),
    author_id: z.number().int().nullish(),
    /** GitLab sends `oldrev` on an `update` that pushed commits, and not on one that edited the title. */
    oldrev: z.string().nullish(),
    last_commit: z.object({ id: z.string() }),
    /** The source project; null when it was deleted. */
    source: z.object({ path_with_namespace: z.string().nullish() }).nullish(),
  }),
});

function parsePayload<T extends z.ZodType>(schema: T, payload: unknown, what: string): z.output<T> {
  const result = schema.safeParse(payload);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue ? formatPath(issue.path) || '(top level)' : '(top level)';
  throw new MalformedRequestError(`${what} payload is not understood at ${where}: ${issue?.message ?? 'invalid'}`, { cause: result.error });
}

const defined = (values: readonly (string | null | undefined)[]): string[] => values.filter((v): v is string => typeof v === 'string' && v !== '');

const GITHUB_ACTIONS: Readonly<Record<string, PullRequestAction>> = { opened: 'plan', synchronize: 'plan', reopened: 'plan', closed: 'cancel' };

/** Reads a GitHub `pull_request` payload. */
export function readGithubPullRequest(payload: unknown): RawPullRequest {
  const p = parsePayload(GithubPullRequestSchema, payload, 'GitHub pull_request');
  const head = p.pull_request.head;
  const base = p.pull_request.base;
  // A deleted fork leaves `head.repo` null: that is a fork too. Ids compare renamed repositories right.
  const sameRepository = head.repo != null && head.repo.id === base.repo.id && head.repo.full_name.toLowerCase() === base.repo.full_name.toLowerCase();
  return {
    provider: 'github',
    hostAction: p.action,
    action: GITHUB_ACTIONS[p.action],
    fullName: p.repository.full_name,
    cloneUrls: defined([p.repository.clone_url, p.repository.ssh_url]),
    number: p.number,
    headRepository: head.repo?.full_name,
    sameRepository,
    headBranch: head.ref,
    headSha: head.sha,
    baseBranch: base.ref,
    author: p.pull_request.user.login,
    sender: p.sender?.login ?? undefined,
    title: p.pull_request.title ?? '',
    ...(p.pull_request.html_url ? { url: p.pull_request.html_url } : {}),
    ...(p.installation ? { installationId: p.installation.id } : {}),
  };
}

/** Reads a GitLab `Merge Request Hook` payload. */
export function readGitlabMergeRequest(payload: unknown): RawPullRequest {
  const p = parsePayload(GitlabMergeRequestSchema, payload, 'GitLab merge request');
  const a = p.object_attributes;
  const hostAction = a.action ?? '';
  let action: PullRequestAction | undefined;
  let ignoreReason: string | undefined;
  if (hostAction === 'open' || hostAction === 'reopen') action = 'plan';
  else if (hostAction === 'update') {
    if (a.oldrev) action = 'plan';
    else ignoreReason = 'merge request updated without new commits; only new commits are planned again';
  } else if (hostAction === 'close' || hostAction === 'merge') action = 'cancel';
  const sender = p.user?.username ?? undefined;
  return {
    provider: 'gitlab',
    hostAction,
    action,
    ...(ignoreReason ? { ignoreReason } : {}),
    fullName: p.project.path_with_namespace,
    cloneUrls: defined([p.project.git_http_url, p.project.git_ssh_url]),
    number: a.iid,
    headRepository: a.source?.path_with_namespace ?? undefined,
    sameRepository: a.source_project_id === a.target_project_id,
    headBranch: a.source_branch,
    headSha: a.last_commit.id,
    baseBranch: a.target_branch,
    // GitLab sends the author's id, not the username; the user who acted stands in for both.
    author: sender ?? 'unknown',
    sender,
    title: a.title ?? '',
    ...(a.url ? { url: a.url } : {}),
    projectId: p.project.id,
  };
}

/** What the webhook does with a pull request delivery. */
export type PullRequestDecision =
  /** `teamCheck`: who is not listed by login and is left to the pipeline function's team check. */
  | { readonly kind: 'publish'; readonly event: PullRequestEvent; readonly teamCheck?: readonly string[] }
  | { readonly kind: 'ignored'; readonly reason: string }
  /** Never planned: a fork or an author outside the list. Answered 200 so the host does not retry. */
  | { readonly kind: 'refused'; readonly reason: string };

/**
 * What the webhook can tell of `login` against `authors`: listed by login (compared
 * case-insensitively), or undecided when only a GitHub team entry could let it through. The
 * webhook holds no GitHub credentials, so team membership is checked by the pipeline function
 * before anything is planned (see lib/pull-requests/authors.ts). GitLab has no team entries.
 */
export function authorStanding(login: string, authors: readonly string[], provider: GitProvider): 'listed' | 'team check' | 'not listed' {
  if (isListedLogin(login, authors)) return 'listed';
  return provider === 'github' && teamEntriesOf(authors).length > 0 ? 'team check' : 'not listed';
}

/**
 * Decides what a pull request delivery means. Refusals come before anything else is looked at
 * beyond the repository: a fork is refused whatever it asks, since planning runs provider and
 * `external` code from the head commit in every account.
 */
export function decidePullRequest(pr: RawPullRequest, context: { config: Config; deliveryId: string; receivedAt: Date }): PullRequestDecision {
  const repo = findRepository(context.config, pr.provider, pr.fullName);
  if (!repo) throw new UnknownRepositoryError(pr.provider, pr.fullName);
  const settings = context.config.pullRequests;
  if (settings === undefined) return { kind: 'ignored', reason: 'pull request plans are not enabled (no pullRequests section in the config)' };
  if (pr.action === undefined) {
    return { kind: 'ignored', reason: pr.ignoreReason ?? `pull request action ${JSON.stringify(pr.hostAction.slice(0, 40))} is ignored; only opened, synchronize, reopened and closed are` };
  }
  if (pr.baseBranch !== repo.deployBranch) {
    return { kind: 'ignored', reason: `pull request into ${pr.baseBranch}; only pull requests into ${repo.deployBranch} are planned` };
  }
  if (!pr.sameRepository && pr.action === 'plan') {
    return { kind: 'refused', reason: `pull request #${pr.number} comes from a fork (${pr.headRepository ?? 'a deleted repository'}); forks are never planned` };
  }
  const teamCheck: string[] = [];
  if (settings.authors !== undefined && pr.action === 'plan') {
    // The sender pushed the commits that would run: both must be allowed. Someone who may only
    // be let in by a team is forwarded; the pipeline function asks GitHub before planning.
    for (const who of new Set(defined([pr.author, pr.sender]))) {
      const standing = authorStanding(who, settings.authors, pr.provider);
      if (standing === 'not listed') return { kind: 'refused', reason: `pull request #${pr.number}: ${who} is not one of pullRequests.authors; not planned` };
      if (standing === 'team check') teamCheck.push(who);
    }
  }
  const candidate: PullRequestEvent = {
    provider: pr.provider,
    deliveryId: context.deliveryId,
    action: pr.action,
    repository: { fullName: repo.fullName, cloneUrls: pr.cloneUrls.length > 0 ? [...pr.cloneUrls] : [...repo.cloneUrls] },
    number: pr.number,
    headBranch: pr.headBranch,
    headSha: pr.headSha,
    baseBranch: pr.baseBranch,
    author: pr.author.slice(0, 320),
    ...(pr.sender ? { sender: pr.sender.slice(0, 320) } : {}),
    title: boundTitle(pr.title),
    ...(pr.url ? { url: pr.url } : {}),
    ...(pr.installationId ? { installationId: pr.installationId } : {}),
    ...(pr.projectId ? { projectId: pr.projectId } : {}),
    receivedAt: context.receivedAt.toISOString(),
  };
  const result = PullRequestEventSchema.safeParse(candidate);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new MalformedRequestError(`pull request cannot be normalised: ${issue ? formatPath(issue.path) || '(top level)' : '(top level)'}: ${issue?.message ?? 'invalid'}`, { cause: result.error });
  }
  return { kind: 'publish', event: result.data, ...(teamCheck.length > 0 ? { teamCheck } : {}) };
}
