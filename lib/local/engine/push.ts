/**
 * The canonical push of the local mode, built from a git repository on disk the way the
 * webhook builds it from a git host's payload: provider `local`, `after` the commit, `before`
 * the branch's last applied commit (from the run table), the changed paths from `git diff`.
 */
import { randomUUID } from 'node:crypto';
import type { Config, RepositoryConfig } from '../../config/schema';
import { boundChangedPaths, boundCommitMessage, PUSH_EVENT_DETAIL_TYPE, PUSH_EVENT_SOURCE, PushEventSchema, ZERO_SHA, type PipelineInput, type PushEvent } from '../../domain/push-event';
import { appliedByNewerRun, type AppliedTarget } from '../../planning/targets';
import { sameRepository } from '../../config/repo-url';
import type { RunStore } from '../../store/run-store';
import { LocalModeError } from './errors';
import { changedPaths, commitExists, commitInfo, originUrl, repositoryRoot, resolveRef, verifyCommitOnRef } from './git';

/** Where a local push comes from, checked before anything is opened or written. */
export interface LocalSource {
  /** The repository's absolute top-level directory. */
  root: string;
  repository: RepositoryConfig;
  ref: string;
  branch: string;
  /** The commit to deploy. */
  after: string;
}

/** What {@link resolveLocalSource} needs. */
export interface LocalSourceOptions {
  config: Config;
  /** The repository directory (any folder inside the work tree). */
  repoDir: string;
  /** @default refs/heads/<the repository's deploy branch> */
  ref?: string;
  /** @default the ref's head */
  sha?: string;
  /** `owner/name` of the configured repository, when the config has several and origin does not tell. */
  repository?: string;
}

/** The push, its envelope and where it came from. */
export interface LocalPush extends LocalSource {
  push: PushEvent;
  input: PipelineInput;
}

/** Which configured repository a local repository is. */
async function pickRepository(config: Config, root: string, wanted?: string): Promise<RepositoryConfig> {
  if (wanted) {
    const repo = config.repositories.find((r) => r.fullName.toLowerCase() === wanted.toLowerCase());
    if (!repo) throw new LocalModeError(`repository ${wanted} is not in the config; expected one of ${config.repositories.map((r) => r.fullName).join(', ')}`);
    return repo;
  }
  if (config.repositories.length === 1) return config.repositories[0]!;
  const origin = await originUrl(root);
  const match = origin ? config.repositories.find((r) => r.cloneUrls.some((u) => sameRepository(u, origin))) : undefined;
  if (match) return match;
  throw new LocalModeError(
    `cannot tell which configured repository ${root} is (its origin ${origin ?? 'is not set'}); pass --repository with one of ${config.repositories.map((r) => r.fullName).join(', ')}`,
  );
}

/** The newest commit the run table recorded as applied for the repository, if any. */
export async function lastAppliedCommit(store: RunStore, repository: string): Promise<string | undefined> {
  const applied = await store.listApplied(repository);
  let best: AppliedTarget | undefined;
  for (const a of applied) if (!best || appliedByNewerRun(a, best)) best = a;
  return best?.commit;
}

/**
 * Checks the repository, ref and commit.
 * @throws NotAGitRepositoryError, UnknownRefError, UnknownCommitError, LocalModeError for bad input
 */
export async function resolveLocalSource(opts: LocalSourceOptions): Promise<LocalSource> {
  const root = await repositoryRoot(opts.repoDir);
  const repository = await pickRepository(opts.config, root, opts.repository);
  const ref = opts.ref ?? `refs/heads/${repository.deployBranch}`;
  if (!/^refs\/heads\/.+/.test(ref)) throw new LocalModeError(`ref ${ref} is not a branch ref; expected refs/heads/<branch> such as refs/heads/${repository.deployBranch}`);
  const branch = ref.slice('refs/heads/'.length);
  if (branch !== repository.deployBranch) {
    throw new LocalModeError(`branch ${branch} of ${repository.fullName} does not deploy; only ${repository.deployBranch} does (ref refs/heads/${repository.deployBranch})`);
  }
  const head = await resolveRef(root, ref);
  const after = opts.sha ? await verifyCommitOnRef(root, opts.sha, ref) : head;
  return { root, repository, ref, branch, after };
}

/**
 * Builds the push of a checked source: `before` is the newest commit the run table recorded as
 * applied for the repository (all zeros when none, or when that commit is not in the repository).
 */
export async function buildLocalPush(source: LocalSource, store: RunStore, now = new Date()): Promise<LocalPush> {
  const { root, repository, ref, branch, after } = source;
  const applied = await lastAppliedCommit(store, repository.fullName);
  const before = applied && (await commitExists(root, applied)) ? applied : ZERO_SHA;
  const found = before === after ? { complete: true, paths: [] } : await changedPaths(root, before, after);
  // The same budget as the webhook: a list too long for the execution input is left to targets to read from git.
  const bounded = boundChangedPaths(found.paths);
  const changes = bounded ? { complete: found.complete, paths: bounded } : { complete: false, paths: [] };
  const info = await commitInfo(root, after);
  const push = PushEventSchema.parse({
    provider: 'local',
    deliveryId: `local-${randomUUID()}`,
    repository: { fullName: repository.fullName, cloneUrls: [root, ...repository.cloneUrls] },
    ref,
    branch,
    before,
    after,
    changes,
    pusher: info.author,
    headCommit: { message: boundCommitMessage(info.message) },
    receivedAt: now.toISOString(),
  });
  return { ...source, push, input: pipelineInput(push) };
}

/** The EventBridge envelope the state machine receives, as the bus rule delivers it. */
export function pipelineInput(push: PushEvent): PipelineInput {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': PUSH_EVENT_DETAIL_TYPE,
    source: PUSH_EVENT_SOURCE,
    account: '000000000000',
    time: push.receivedAt.replace(/\.\d+Z$/, 'Z'),
    region: 'us-east-1',
    resources: [],
    detail: push,
  };
}
