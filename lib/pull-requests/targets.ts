/**
 * Which targets a pull request's plans cover: every module, in every stage, whose files changed
 * between the target's last applied commit and the pull request's head (or that depends on one
 * that did), exactly as a push of that head to the deploy branch would deploy. Accounts that do
 * not allow pull request plans (`accounts[].pullRequestPlans`) are reported, never planned.
 */
import type { Config } from '../config/schema';
import type { PullRequestEvent } from '../domain/pull-request-event';
import type { PushEvent } from '../domain/push-event';
import type { AccountGraph } from '../planning/module-graph';
import { planTargets, type AppliedTarget } from '../planning/targets';

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
