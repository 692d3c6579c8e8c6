/**
 * Pull request plans in AWS. The rule on the `Git Pull Request` detail-type sends each canonical
 * pull request event to the pipeline function, which calls {@link pullRequestEvent}:
 * - `plan`: computes the targets the head touches (each target's changes since its last applied
 *   commit), stops the pull request's older run, starts a plan-only execution of the head, records
 *   the run in the run table and posts the check run (GitLab: the note) as queued;
 * - `cancel` (closed or merged): stops the pull request's run and marks its check run cancelled.
 * The plan-only run's `plan-only-finish` step then calls {@link finishPullRequestRun}, which
 * renders the summary and completes the check run.
 *
 * Stopping an execution: StopExecution ("StopExecution", AWS Step Functions API reference) ends
 * a Standard execution as ABORTED; the runner tasks it started with `ecs:runTask.sync` are
 * stopped by Step Functions itself, through the launcher role's `ecs:StopTask` ("Run Amazon ECS
 * or Fargate tasks with Step Functions" and its IAM page: only tasks Step Functions started).
 * A plan-only run holds no branch, so nothing else needs releasing.
 *
 * Order: the rule's target is an unordered subscriber, which delivers events in parallel ("Ordering
 * and deduplicating events on a Custom Event Bus", Amazon EventBridge User Guide), so two pushes
 * within a second can be handled at once or the older last. Each event claims the pull request in
 * the run table by the webhook's receive time (`PullRequestRunStore.claim`), and every status
 * change is conditional, so only the newest head's run is left running.
 */
import { z } from 'zod';
import type { PlanOnlyRequest } from '../domain/plan-only';
import { PULL_REQUEST_EVENT_DETAIL_TYPE, pullRequestKey, PullRequestEventSchema, type PullRequestEvent } from '../domain/pull-request-event';
import { renderPullRequestSummary, type PullRequestSummary } from '../domain/pull-request-summary';
import { PUSH_EVENT_SOURCE } from '../domain/push-event';
import type { PullRequestReporter } from '../pull-requests/reporter';
import { planRowsOf } from '../pull-requests/rows';
import { pushOfPullRequest, readPullRequestTargets, type NotAllowedTarget } from '../pull-requests/targets';
import { pullRequestFields, type PullRequestRunRecord } from '../store/pull-requests';
import type { PipelineDeps, PullRequestDeps } from './deps';
import { InvalidRequestError } from './errors';
import { authorRefusal } from './pull-request-authors';
import { runConfig } from './fleet';
import { pullRequestLinks } from './pull-request-links';

export type { PlanOnlyExecutions, PullRequestDeps } from './deps';

/** Whether a payload is a `Git Pull Request` event from the bus. */
export function isPullRequestEvent(payload: unknown): boolean {
  if (!payload || typeof payload !== 'object') return false;
  const p = payload as Record<string, unknown>;
  return p.source === PUSH_EVENT_SOURCE && p['detail-type'] === PULL_REQUEST_EVENT_DETAIL_TYPE;
}

/** Step Functions execution names: 1 to 80 characters of letters, digits, `-` and `_` ("StartExecution", name). */
export const EXECUTION_NAME_LIMIT = 80;

/**
 * The plan-only execution's name of a pull request head: `pr-<repository>-<number>-<sha>-<time>`,
 * the repository cut so the whole fits 80 characters, anything but letters, digits, `-` and `_`
 * turned into `-`. The time keeps a head planned twice (closed and reopened) from reusing a name,
 * which Step Functions refuses for 90 days.
 */
export function pullRequestExecutionName(pr: Pick<PullRequestEvent, 'repository' | 'number' | 'headSha'>, at: Date): string {
  const tail = `-${pr.number}-${pr.headSha.slice(0, 12)}-${at.getTime().toString(36)}`;
  const repo = pr.repository.fullName.replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, EXECUTION_NAME_LIMIT - 3 - tail.length);
  return `pr-${repo}${tail}`;
}

const notAllowedKey = (run: string) => `${run}/_plan-only/not-allowed.json`;

/** What {@link pullRequestEvent} answers. */
export interface PullRequestEventResult {
  readonly action: 'plan' | 'cancel';
  /** The run started (plan), if any. */
  readonly run?: string;
  /** Why the pull request was not planned (its author or sender is not allowed); no run was started. */
  readonly refused?: string;
  /** The older run stopped, if any. */
  readonly stopped?: string;
  /** The run was not started, or stopped as it started: a later event of the pull request replaced it. */
  readonly superseded?: boolean;
  readonly targets: number;
  readonly notAllowed: number;
}

/**
 * Cancels a run that is queued or running: one conditional update, so a run that finished or was
 * cancelled meanwhile is left as it is (answers false). The execution is stopped by name, which
 * also covers a run whose own event is starting it right now: StopExecution of an execution not
 * yet there fails with ExecutionDoesNotExist (counted as stopped), and that event then finds its
 * run cancelled and stops the execution it started (see {@link pullRequestEvent}).
 */
async function cancelRun(name: string, reason: string, deps: PipelineDeps, prDeps: PullRequestDeps): Promise<boolean> {
  const cancelled = await deps.store.pullRequests.update(name, { status: 'CANCELLED', reason, stoppedAt: deps.clock().toISOString() }, ['QUEUED', 'RUNNING']);
  if (!cancelled) return false;
  await prDeps.planOnlyExecutions.stop(cancelled.executionId, reason);
  await report(deps, prDeps, recordEvent(cancelled), (r) => r.cancelled(recordEvent(cancelled), reason), name);
  deps.logger.info('pull request run stopped', { run: name, pullRequest: cancelled.pullRequest, reason });
  return true;
}

/** A reporter that can carry a GitHub check run's id from one invocation to the next. */
interface CheckRunIds {
  idOf(pr: PullRequestEvent): number | undefined;
  remember(pr: PullRequestEvent, id: number): void;
}
const hasIds = (r: PullRequestReporter): r is PullRequestReporter & CheckRunIds => typeof (r as Partial<CheckRunIds>).idOf === 'function' && typeof (r as Partial<CheckRunIds>).remember === 'function';

/**
 * Feedback never fails the run: a failure is logged. Each invocation makes its own reporter, so
 * the check run's id travels in the run's record: each step updates the one check run.
 */
async function report(deps: PipelineDeps, prDeps: PullRequestDeps, pr: PullRequestEvent, call: (r: PullRequestReporter) => Promise<void>, run?: string): Promise<void> {
  try {
    const reporter = await prDeps.reporter(pr);
    // Every step's reporter links the run's page, not only the one that queued it.
    const detailsUrl = run ? prDeps.runUrl?.(run) : undefined;
    if (detailsUrl) reporter.linkRun?.(pr, detailsUrl);
    const record = run && hasIds(reporter) ? await deps.store.pullRequests.get(run) : undefined;
    if (record?.checkRunId !== undefined && hasIds(reporter)) reporter.remember(pr, record.checkRunId);
    await call(reporter);
    const id = hasIds(reporter) ? reporter.idOf(pr) : undefined;
    if (run && id !== undefined && id !== record?.checkRunId) await deps.store.pullRequests.update(run, { checkRunId: id });
  } catch (err) {
    deps.logger.error('could not update the pull request', { repository: pr.repository.fullName, pullRequest: pr.number, error: err instanceof Error ? { name: err.name, message: err.message } : String(err) });
  }
}

/** The event a stored run was made from, enough for the reporters. */
function recordEvent(r: PullRequestRunRecord): PullRequestEvent {
  return {
    provider: r.provider,
    deliveryId: r.name,
    action: 'plan',
    repository: { fullName: r.repository, cloneUrls: ['(stored)'] },
    number: r.pullRequest,
    headBranch: r.headBranch,
    headSha: r.headSha,
    baseBranch: r.baseBranch,
    author: r.author,
    title: r.title,
    ...(r.url ? { url: r.url } : {}),
    ...(r.projectId !== undefined ? { projectId: r.projectId } : {}),
    receivedAt: r.startedAt,
  };
}

/** Handles one `Git Pull Request` event; see the file comment. */
export async function pullRequestEvent(payload: unknown, deps: PipelineDeps, prDeps: PullRequestDeps | undefined): Promise<PullRequestEventResult> {
  if (!prDeps) throw new InvalidRequestError('a pull request event reached the pipeline function, but it was built without pull request plans (no plan-only state machine or reporter)');
  const parsed = PullRequestEventSchema.safeParse((payload as { detail?: unknown }).detail);
  if (!parsed.success) {
    throw new InvalidRequestError(`a "${PULL_REQUEST_EVENT_DETAIL_TYPE}" event whose detail is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`).join('; ')}; expected the shape in lib/domain/pull-request-event.ts`);
  }
  const pr = parsed.data;
  const key = pullRequestKey(pr);
  if (pr.action === 'cancel') {
    const claim = await deps.store.pullRequests.claim(key, undefined, pr.receivedAt);
    if (!claim.claimed) return { action: 'cancel', targets: 0, notAllowed: 0 };
    const stopped = claim.replaced && (await cancelRun(claim.replaced, `pull request #${pr.number} was closed`, deps, prDeps)) ? claim.replaced : undefined;
    return { action: 'cancel', ...(stopped ? { stopped } : {}), targets: 0, notAllowed: 0 };
  }
  // Before anything is read or started: a refused pull request gets no run and no check run.
  const refused = await authorRefusal(pr, deps, prDeps);
  if (refused !== undefined) return { action: 'plan', refused, targets: 0, notAllowed: 0 };
  const config = await runConfig(deps.config, deps.store);
  const { targets, notAllowed } = await readPullRequestTargets({ config, pr, reader: deps.repoReader(pushOfPullRequest(pr)), listApplied: () => deps.store.listApplied(pr.repository.fullName) });

  const now = deps.clock();
  const name = pullRequestExecutionName(pr, now);
  const request: PlanOnlyRequest = {
    kind: 'pull-request',
    id: name,
    repository: pr.repository.fullName,
    targets: targets.map(({ account, module, commit, ref }) => ({ account, module, commit, ref })),
    pullRequest: { number: pr.number, headCommit: pr.headSha, baseRef: `refs/heads/${pr.baseBranch}` },
    requestedAt: pr.receivedAt,
  };
  await deps.artifacts.put(notAllowedKey(name), JSON.stringify(notAllowed));
  const record: PullRequestRunRecord = {
    name,
    executionId: name,
    ...pullRequestFields(pr),
    status: 'QUEUED',
    startedAt: now.toISOString(),
    targets: targets.length,
    notAllowed: notAllowed.length,
  };
  // Recorded before the claim, so an event that replaces this one finds the run to cancel, and
  // before the start, so the finish step (which may come quickly) finds it.
  await deps.store.pullRequests.put(record);
  const claim = await deps.store.pullRequests.claim(key, name, pr.receivedAt);
  if (!claim.claimed) {
    // A later event of the pull request was handled first: this head is already out of date.
    const reason = `a later event of #${pr.number}${claim.holder ? ` (${claim.holder})` : ''} was handled first`;
    await deps.store.pullRequests.update(name, { status: 'CANCELLED', reason, stoppedAt: deps.clock().toISOString() });
    deps.logger.info('pull request run not started', { run: name, pullRequest: pr.number, headSha: pr.headSha, reason });
    return { action: 'plan', run: name, superseded: true, targets: targets.length, notAllowed: notAllowed.length };
  }
  const stopped = claim.replaced && (await cancelRun(claim.replaced, `a newer push to #${pr.number} (${pr.headSha.slice(0, 7)}) replaced this run`, deps, prDeps)) ? claim.replaced : undefined;
  await report(deps, prDeps, pr, (r) => r.queued(pr, prDeps.runUrl?.(name)), name);
  let executionId: string;
  try {
    executionId = await prDeps.planOnlyExecutions.start(name, request);
  } catch (err) {
    const reason = `the plan-only execution could not start: ${err instanceof Error ? err.message : String(err)}`;
    if (await deps.store.pullRequests.update(name, { status: 'FAILED', reason, stoppedAt: deps.clock().toISOString() }, ['QUEUED'])) {
      await report(deps, prDeps, pr, (r) => r.completed(pr, { title: 'The plans could not run', summary: reason, conclusion: 'failure', listed: 0, counted: 0 }), name);
    }
    throw err;
  }
  if (!(await deps.store.pullRequests.update(name, { executionId, status: 'RUNNING' }, ['QUEUED']))) {
    // A newer event cancelled this run while it started: stop what just started, and make sure
    // the check run ends cancelled (its queued post may have come after the cancel).
    const reason = (await deps.store.pullRequests.get(name))?.reason ?? `a newer push to #${pr.number} replaced this run`;
    await prDeps.planOnlyExecutions.stop(executionId, reason);
    await report(deps, prDeps, pr, (r) => r.cancelled(pr, reason), name);
    deps.logger.info('pull request run stopped as it started', { run: name, pullRequest: pr.number, reason });
    return { action: 'plan', run: name, superseded: true, ...(stopped ? { stopped } : {}), targets: targets.length, notAllowed: notAllowed.length };
  }
  deps.logger.info('pull request run started', { run: name, pullRequest: pr.number, headSha: pr.headSha, targets: targets.length, notAllowed: notAllowed.length, ...(stopped ? { stopped } : {}) });
  return { action: 'plan', run: name, ...(stopped ? { stopped } : {}), targets: targets.length, notAllowed: notAllowed.length };
}

const NotAllowedListSchema = z.array(z.object({ stage: z.string(), account: z.string(), module: z.string() }));

/**
 * The last step of a pull request's plan-only run: renders the summary from the run's results
 * and completes the check run. A run stopped meanwhile (a newer push) posts nothing.
 */
export async function finishPullRequestRun(run: string, deps: PipelineDeps, prDeps: PullRequestDeps | undefined): Promise<{ run: string; results: number; conclusion?: string }> {
  const results = await deps.store.planOnly.listResults(run);
  const record = await deps.store.pullRequests.get(run);
  if (!record || !prDeps) return { run, results: results.length };
  if (record.status === 'CANCELLED') return { run, results: results.length };
  const config = await runConfig(deps.config, deps.store);
  const raw = await deps.artifacts.get(notAllowedKey(run));
  const notAllowed: NotAllowedTarget[] = raw ? NotAllowedListSchema.parse(JSON.parse(raw.toString('utf8'))) : [];
  const stageOf = (account: string) => config.accounts.find((a) => a.name === account)?.stage ?? '';
  const links = await pullRequestLinks(run, deps.artifacts, prDeps);
  const summary: PullRequestSummary = renderPullRequestSummary({
    number: record.pullRequest,
    headSha: record.headSha,
    stageOrder: config.stageOrder,
    rows: planRowsOf(results, notAllowed, stageOf, links.logUrl),
    ...links.summary,
  });
  const pr = recordEvent(record);
  // Conditional, so a run cancelled while this step rendered posts nothing over its cancelled check run.
  const finished = await deps.store.pullRequests.update(run, { status: summary.conclusion === 'failure' ? 'FAILED' : 'SUCCEEDED', conclusion: summary.conclusion, checkTitle: summary.title, stoppedAt: deps.clock().toISOString() }, ['QUEUED', 'RUNNING']);
  if (!finished) return { run, results: results.length };
  await report(deps, prDeps, pr, (r) => r.completed(pr, summary), run);
  deps.logger.info('pull request run finished', { run, pullRequest: record.pullRequest, conclusion: summary.conclusion, results: results.length });
  return { run, results: results.length, conclusion: summary.conclusion };
}

/**
 * A plan-only execution that ended FAILED, TIMED_OUT or ABORTED (the execution status rule):
 * when it is a pull request run still queued or running, the run is marked failed and its check
 * run completed as failed with the reason. A run this function stopped (a newer push, a closed
 * pull request) is already cancelled and left alone. Answers whether it was a pull request run.
 */
export async function pullRequestRunEnded(execution: string, status: string, reason: string, deps: PipelineDeps, prDeps: PullRequestDeps | undefined): Promise<boolean> {
  const record = await deps.store.pullRequests.get(execution);
  if (!record) return false;
  if (record.status !== 'QUEUED' && record.status !== 'RUNNING') return true;
  const failed = await deps.store.pullRequests.update(execution, { status: 'FAILED', reason, conclusion: 'failure', checkTitle: 'The plans could not run', stoppedAt: deps.clock().toISOString() }, ['QUEUED', 'RUNNING']);
  if (failed && prDeps) {
    const pr = recordEvent(record);
    await report(deps, prDeps, pr, (r) => r.completed(pr, { title: 'The plans could not run', summary: reason, conclusion: 'failure', listed: 0, counted: 0 }), execution);
  }
  deps.logger.warn('a pull request run ended before its finish step', { run: execution, status });
  return true;
}

/**
 * The plan-only run's start step of a pull request run: the check run goes to in progress. A run
 * stopped meanwhile (a newer push) is left as it is.
 */
export async function pullRequestRunStarted(run: string, deps: PipelineDeps, prDeps: PullRequestDeps | undefined): Promise<void> {
  const record = await deps.store.pullRequests.get(run);
  if (!record || !prDeps || (record.status !== 'QUEUED' && record.status !== 'RUNNING')) return;
  const pr = recordEvent(record);
  await report(deps, prDeps, pr, (r) => r.started(pr), run);
}
