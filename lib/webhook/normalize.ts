import { z } from 'zod';
import type { Config, RepositoryConfig } from '../config/schema';
import { boundChangedPaths, boundCommitMessage, PUSH_BUDGET, PushEventSchema, ZERO_SHA, type PushEvent } from '../domain/push-event';
import { formatPath } from '../config/parse';
import { MalformedRequestError, UnknownRepositoryError } from './errors';
import type { GitProvider } from './types';

/** GitHub lists at most 20 commits in a push payload (GitLab too, with a separate total). */
export const PAYLOAD_COMMIT_LIMIT = 20;

/**
 * Changed paths beyond this many bytes (as JSON) are dropped and the push marked incomplete:
 * EventBridge entries and Step Functions state payloads are capped at 256 KiB, and an incomplete
 * push makes the pipeline compute the changes from git instead, so nothing is lost.
 */
export const MAX_PATHS_BYTES = PUSH_BUDGET.pathsJsonBytes;

/** What the webhook does with a push: publish a canonical event, or answer 200 with the reason. */
export type PushDecision =
  | {
      readonly kind: 'deploy';
      readonly event: PushEvent;
      /** Why `changes.complete` is false, for the log; undefined when complete. */
      readonly incompleteReason?: string;
    }
  | { readonly kind: 'ignored'; readonly reason: string };

/** The provider-neutral facts read from a push payload. */
interface RawPush {
  readonly provider: GitProvider;
  readonly fullName: string;
  readonly cloneUrls: readonly string[];
  readonly ref: string;
  readonly before: string;
  readonly after: string;
  readonly created: boolean;
  readonly deleted: boolean;
  readonly forced: boolean;
  readonly commits: readonly RawCommit[];
  /** GitLab's count of every commit in the push; GitHub does not send one. */
  readonly totalCommits?: number;
  readonly headCommit?: RawCommit;
  readonly pusher?: string;
}

const PathList = z.array(z.string()).nullish().transform((v) => v ?? []);

const CommitSchema = z.object({
  id: z.string(),
  message: z.string().nullish(),
  url: z.string().nullish(),
  added: PathList,
  modified: PathList,
  removed: PathList,
});
type RawCommit = z.output<typeof CommitSchema>;

/** What both hosts' push payloads say of the ref: its name and the commits before and after. */
const RefUpdate = { ref: z.string(), before: z.string(), after: z.string() };

const GithubPushSchema = z.object({
  ...RefUpdate,
  created: z.boolean().optional(),
  deleted: z.boolean().optional(),
  forced: z.boolean().optional(),
  commits: z.array(CommitSchema).nullish(),
  head_commit: CommitSchema.nullish(),
  pusher: z.object({ name: z.string().nullish() }).nullish(),
  sender: z.object({ login: z.string().nullish() }).nullish(),
  repository: z.object({ full_name: z.string().min(1), clone_url: z.string().nullish(), ssh_url: z.string().nullish() }),
});

const GitlabPushSchema = z.object({
  ...RefUpdate,
  user_username: z.string().nullish(),
  user_name: z.string().nullish(),
  project: z.object({ path_with_namespace: z.string().min(1), git_http_url: z.string().nullish(), git_ssh_url: z.string().nullish() }),
  commits: z.array(CommitSchema).nullish(),
  total_commits_count: z.number().int().nonnegative().nullish(),
});

function parsePayload<T extends z.ZodType>(schema: T, payload: unknown, what: string): z.output<T> {
  const result = schema.safeParse(payload);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue ? formatPath(issue.path) || '(top level)' : '(top level)';
  throw new MalformedRequestError(`${what} payload is not understood at ${where}: ${issue?.message ?? 'invalid'}`, { cause: result.error });
}

/** The ref update as both hosts report it, taken from a parsed payload. */
const refUpdateOf = ({ ref, before, after }: { ref: string; before: string; after: string }) => ({ ref, before, after });

const defined = (values: readonly (string | null | undefined)[]): string[] => values.filter((v): v is string => typeof v === 'string' && v !== '');

/** Reads the facts of a GitHub `push` payload. */
export function readGithubPush(payload: unknown): RawPush {
  const p = parsePayload(GithubPushSchema, payload, 'GitHub push');
  return {
    provider: 'github',
    fullName: p.repository.full_name,
    cloneUrls: defined([p.repository.clone_url, p.repository.ssh_url]),
    ...refUpdateOf(p),
    created: p.created === true,
    deleted: p.deleted === true,
    forced: p.forced === true,
    commits: p.commits ?? [],
    headCommit: p.head_commit ?? undefined,
    pusher: defined([p.pusher?.name, p.sender?.login])[0],
  };
}

/** Reads the facts of a GitLab `Push Hook` payload. */
export function readGitlabPush(payload: unknown): RawPush {
  const p = parsePayload(GitlabPushSchema, payload, 'GitLab push');
  const commits = p.commits ?? [];
  return {
    provider: 'gitlab',
    fullName: p.project.path_with_namespace,
    cloneUrls: defined([p.project.git_http_url, p.project.git_ssh_url]),
    ...refUpdateOf(p),
    // GitLab has no created/deleted/forced flags; the zero SHAs say it.
    created: false,
    deleted: false,
    forced: false,
    commits,
    totalCommits: p.total_commits_count ?? undefined,
    // GitLab does not promise an order of commits; the head is the one whose id is `after`.
    headCommit: commits.find((c) => c.id === p.after) ?? commits.at(-1),
    pusher: defined([p.user_username, p.user_name])[0],
  };
}

/** The configured repository for a provider and full name (GitHub and GitLab names are case-insensitive). */
export function findRepository(config: Config, provider: GitProvider, fullName: string): RepositoryConfig | undefined {
  const wanted = fullName.toLowerCase();
  return config.repositories.find((r) => r.provider === provider && r.fullName.toLowerCase() === wanted);
}

/** Why the payload's changed paths cannot be trusted to be complete, or undefined when they can. */
function incompleteBecause(push: RawPush): string | undefined {
  if (push.forced) return 'forced push';
  if (push.created || push.before === ZERO_SHA) return 'created branch';
  if (push.commits.length === 0) return 'no commits listed';
  // Exactly 20 may already be a truncated list: GitHub does not say.
  if (push.commits.length >= PAYLOAD_COMMIT_LIMIT) return `${push.commits.length} commits listed, the payload limit`;
  if (push.totalCommits !== undefined && push.totalCommits > push.commits.length) {
    return `${push.totalCommits} commits pushed, ${push.commits.length} listed`;
  }
  return undefined;
}

/**
 * Decides what a push means: an unconfigured repository throws {@link UnknownRepositoryError};
 * tags, deletions and other branches are ignored with a reason; a push to the deploy branch
 * becomes a canonical {@link PushEvent}, validated against {@link PushEventSchema}.
 */
export function decidePush(push: RawPush, context: { config: Config; deliveryId: string; receivedAt: Date }): PushDecision {
  const repo = findRepository(context.config, push.provider, push.fullName);
  if (!repo) throw new UnknownRepositoryError(push.provider, push.fullName);

  if (push.ref.startsWith('refs/tags/')) {
    return { kind: 'ignored', reason: `tag push (${push.ref}); tags do not deploy` };
  }
  if (!push.ref.startsWith('refs/heads/')) {
    return { kind: 'ignored', reason: `ref ${push.ref} is not a branch` };
  }
  const branch = push.ref.slice('refs/heads/'.length);
  if (push.deleted || push.after === ZERO_SHA) {
    return { kind: 'ignored', reason: `branch ${branch} was deleted; deletions do not deploy` };
  }
  if (branch !== repo.deployBranch) {
    return { kind: 'ignored', reason: `push to branch ${branch}; only ${repo.deployBranch} deploys` };
  }

  const paths = new Set<string>();
  for (const commit of push.commits) {
    for (const path of [...commit.added, ...commit.modified, ...commit.removed]) paths.add(path);
  }
  let incomplete = incompleteBecause(push);
  let sortedPaths = boundChangedPaths([...paths].sort());
  if (!sortedPaths) {
    incomplete = `changed paths exceed ${MAX_PATHS_BYTES} bytes`;
    sortedPaths = [];
  }

  const candidate: PushEvent = {
    provider: push.provider,
    deliveryId: context.deliveryId,
    repository: {
      // The config's spelling, so everything downstream matches the config exactly.
      fullName: repo.fullName,
      cloneUrls: push.cloneUrls.length > 0 ? [...push.cloneUrls] : [...repo.cloneUrls],
    },
    ref: push.ref,
    branch,
    before: push.before,
    after: push.after,
    changes: { complete: incomplete === undefined, paths: sortedPaths },
    pusher: (push.pusher ?? 'unknown').slice(0, 320),
    headCommit: {
      // A commit message may be longer than the event allows; its head is enough to recognise it.
      message: boundCommitMessage(push.headCommit?.message ?? ''),
      ...(push.headCommit?.url ? { url: push.headCommit.url } : {}),
    },
    receivedAt: context.receivedAt.toISOString(),
  };
  const result = PushEventSchema.safeParse(candidate);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new MalformedRequestError(
      `push cannot be normalised: ${issue ? formatPath(issue.path) || '(top level)' : '(top level)'}: ${issue?.message ?? 'invalid'}`,
      { cause: result.error },
    );
  }
  return { kind: 'deploy', event: result.data, ...(incomplete ? { incompleteReason: incomplete } : {}) };
}
