/**
 * Which targets a pull request's plans cover: every module, in every stage, whose files changed
 * between the target's last applied commit and the pull request's head (or that depends on one
 * that did), exactly as a push of that head to the deploy branch would deploy. Accounts that do
 * not allow pull request plans (`accounts[].pullRequestPlans`) are reported, never planned.
 */
import type { Config } from '../config/schema';
import { mapLimit } from '../domain/concurrency';
import type { PullRequestEvent } from '../domain/pull-request-event';
import type { PushEvent } from '../domain/push-event';
import { dependencyGraphs } from '../planning/dependencies';
import type { AccountGraph } from '../planning/module-graph';
import type { RepoReader } from '../planning/repo-reader';
import { planTargets, targetKey, type AppliedTarget } from '../planning/targets';

/** One module to plan at the pull request's head. */
export interface PullRequestTarget {
  readonly stage: string;
  readonly account: string;
  readonly module: string;
  readonly commit: string;
  /** The pull request's source branch: the runner fetches it and checks the commit is on it. */
  readonly ref: string;
}

/** A module the change touches in an account that does not plan pull requests. */
export interface NotAllowedTarget {
  readonly stage: string;
  readonly account: string;
  readonly module: string;
}

/** What {@link pullRequestTargets} answers. */
export interface PullRequestTargets {
  readonly targets: readonly PullRequestTarget[];
  readonly notAllowed: readonly NotAllowedTarget[];
}

/**
 * The push the planner would see if the head were pushed to the deploy branch. Its own change
 * list is empty and marked complete with a non-zero `before`, so the planner reads each target's
 * changes from the caller's per-base diffs (last applied commit to head); a base whose diff is
 * unknown plans every target applied at it.
 */
export function pushOfPullRequest(pr: PullRequestEvent): PushEvent {
  return {
    provider: pr.provider,
    deliveryId: pr.deliveryId,
    repository: { fullName: pr.repository.fullName, cloneUrls: [...pr.repository.cloneUrls] },
    ref: `refs/heads/${pr.headBranch}`,
    branch: pr.headBranch,
    before: pr.headSha,
    after: pr.headSha,
    changes: { complete: true, paths: [] },
    pusher: pr.author,
    headCommit: { message: pr.title },
    receivedAt: pr.receivedAt,
  };
}

/** The targets of a pull request, from what the caller read (modules at head, last applies, changed paths per base). */
export function pullRequestTargets(input: {
  readonly config: Config;
  readonly pr: PullRequestEvent;
  readonly modules: readonly string[];
  readonly lastApplied: ReadonlyMap<string, AppliedTarget>;
  readonly changes: ReadonlyMap<string, readonly string[] | undefined>;
  readonly graphs?: readonly AccountGraph[];
}): PullRequestTargets {
  const push = pushOfPullRequest(input.pr);
  const plan = planTargets({ config: input.config, push, modules: input.modules, lastApplied: input.lastApplied, changes: input.changes, ...(input.graphs ? { graphs: input.graphs } : {}) });
  const targets: PullRequestTarget[] = [];
  const notAllowed: NotAllowedTarget[] = [];
  for (const stage of plan.stages) {
    for (const a of stage.accounts) {
      for (const m of a.modules) {
        if (a.account.pullRequestPlans === true) targets.push({ stage: stage.name, account: a.account.name, module: m.path, commit: push.after, ref: push.ref });
        else notAllowed.push({ stage: stage.name, account: a.account.name, module: m.path });
      }
    }
  }
  return { targets, notAllowed };
}

/** A target's last apply as the run table lists it. */
export interface LastApplied extends AppliedTarget {
  readonly account: string;
  readonly module: string;
}

/** Diffs read at once, from each last applied commit to the head. */
const DIFF_CONCURRENCY = 4;

/**
 * Reads what {@link pullRequestTargets} needs and answers the targets: the modules at the head,
 * the diff from each target's last applied commit to the head, and the dependency graphs at the
 * head. The pipeline function and `tfstep local serve` both call it, so the local mode plans the
 * same targets as AWS.
 */
export async function readPullRequestTargets(input: {
  readonly config: Config;
  readonly pr: PullRequestEvent;
  readonly reader: RepoReader;
  readonly listApplied: () => Promise<readonly LastApplied[]>;
}): Promise<PullRequestTargets> {
  const { config, pr, reader } = input;
  const [modules, applied] = await Promise.all([reader.listModules(pr.headSha), input.listApplied()]);
  const lastApplied = new Map<string, AppliedTarget>(applied.map((t) => [targetKey(t.account, t.module), { commit: t.commit, sequence: t.sequence, ...(t.generation !== undefined ? { generation: t.generation } : {}) }]));
  const bases = [...new Set(applied.map((t) => t.commit).filter((c) => c !== pr.headSha))];
  const diffs = await mapLimit(bases, DIFF_CONCURRENCY, (base) => reader.changedPaths(base, pr.headSha));
  const changes = new Map(bases.map((b, i) => [b, diffs[i]]));
  const graphs = await dependencyGraphs({ config, modules, ...(reader.readFile ? { readFile: (p: string) => reader.readFile!(pr.headSha, p) } : {}) });
  return pullRequestTargets({ config, pr, modules, lastApplied, changes, graphs });
}
