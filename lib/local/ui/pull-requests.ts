/**
 * Pull request plans in `tfstep local serve`: each pull request event the webhook publishes
 * becomes a plan-only run through the same definition, pipeline function and runner as AWS;
 * the check run GitHub would have got is kept (shown by `GET /runs`) and the summary printed.
 * A newer push to the same pull request, or closing it, stops the older run and its runners.
 * Authors are checked first, as the pipeline function does (lib/pipeline/pull-request-authors.ts).
 */
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Config } from '../../config/schema';
import { pullRequestKey, type PullRequestEvent } from '../../domain/pull-request-event';
import { renderPullRequestSummary, type PullRequestSummary } from '../../domain/pull-request-summary';
import { artifactKeys } from '../../domain/runner-contract';
import { GitRepoReader } from '../../planning/repo-reader';
import { checkAuthors, type TeamCheck } from '../../pull-requests/authors';
import { RecordingReporter, type CheckRunRecord } from '../../pull-requests/reporter';
import { planLogKeysOf, planRowsOf } from '../../pull-requests/rows';
import { readPullRequestTargets } from '../../pull-requests/targets';
import { pullRequestFields, type PullRequestRunRecord } from '../../store/pull-requests';
import type { LocalExecution } from '../engine/engine';
import type { LocalPipeline } from '../engine/session';

/** What `GET /runs` shows of one pull request run. */
export interface PullRequestRunView {
  readonly name: string;
  readonly kind: 'pull-request';
  readonly repository: string;
  readonly pullRequest: number;
  readonly headSha: string;
  readonly headBranch: string;
  status: 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
  readonly startedAt: string;
  stoppedAt?: string;
  /** Why it was cancelled or failed. */
  reason?: string;
  /** The check run that would have been posted to GitHub. */
  checkRun?: CheckRunRecord;
  /** Modules planned, and modules in accounts that do not plan pull requests. */
  targets?: number;
  notAllowed?: number;
}

interface Active {
  readonly name: string;
  readonly pr: PullRequestEvent;
  readonly pipeline: LocalPipeline;
  execution?: LocalExecution;
  cancelled: boolean;
}

/** Options of {@link LocalPullRequestRuns}. */
export interface LocalPullRequestRunsProps {
  readonly config: Config;
  readonly stateDir: string;
  /** Where log lines go (the rendered summary too). */
  readonly out: { write(text: string): unknown };
  /** The server's base URL, for the run links. */
  readonly baseUrl: () => string;
  /**
   * How `@org/team` entries of `pullRequests.authors` are checked for one event, as the pipeline
   * function does in AWS (`githubTeamCheck`). @default - they cannot be: team entries match nobody
   */
  readonly teams?: (pr: PullRequestEvent) => TeamCheck | Promise<TeamCheck>;
}

/** Runs and remembers the pull request plans of one local server. */
export class LocalPullRequestRuns {
  readonly reporter: RecordingReporter;
  private readonly runs = new Map<string, PullRequestRunView>();
  private readonly active = new Map<string, Active>();
  /** Each pull request's latest event's time. */
  private readonly latest = new Map<string, string>();
  /** Every run's completion, for tests and for closing the server. */
  readonly done: Promise<void>[] = [];
  private counter = 0;

  constructor(private readonly props: LocalPullRequestRunsProps) {
    this.reporter = new RecordingReporter(props.config.pullRequests?.checkName ?? 'tfstep plan');
  }

  /** Every pull request run, newest first. */
  list(): PullRequestRunView[] {
    return [...this.runs.values()].reverse().map((r) => ({ ...r, ...(this.checkRunOf(r) ? { checkRun: this.checkRunOf(r) } : {}) }));
  }

  /** One pull request run by name. */
  get(name: string): PullRequestRunView | undefined {
    const r = this.runs.get(name);
    return r ? { ...r, ...(this.checkRunOf(r) ? { checkRun: this.checkRunOf(r) } : {}) } : undefined;
  }

  private checkRunOf(r: PullRequestRunView): CheckRunRecord | undefined {
    return this.reporter.checkRunOf({ repository: { fullName: r.repository, cloneUrls: [] }, headSha: r.headSha });
  }

  /**
   * Writes the run to the run table, as the pipeline function does in AWS, so `tfstep runs
   * --pull-requests --local` and `tfstep show --local` see it after the server is gone.
   */
  private async persist(pipeline: LocalPipeline, pr: PullRequestEvent, view: PullRequestRunView): Promise<void> {
    const check = this.checkRunOf(view);
    const record: PullRequestRunRecord = {
      name: view.name,
      executionId: view.name,
      ...pullRequestFields(pr),
      status: view.status,
      startedAt: view.startedAt,
      ...(view.stoppedAt ? { stoppedAt: view.stoppedAt } : {}),
      ...(view.reason ? { reason: view.reason } : {}),
      targets: view.targets ?? 0,
      notAllowed: view.notAllowed ?? 0,
      ...(check?.status === 'completed' && check.conclusion ? { conclusion: check.conclusion } : {}),
      ...(check?.status === 'completed' && check.output ? { checkTitle: check.output.title } : {}),
    };
    try {
      await pipeline.runStore.pullRequests.put(record);
    } catch (e) {
      this.props.out.write(`could not record ${view.name} in the run table: ${(e as Error).message}\n`);
    }
  }

  /** Cancels a pull request's running run. */
  private async cancel(older: Active, reason: string): Promise<void> {
    older.cancelled = true;
    older.execution?.stop();
    const view = this.runs.get(older.name);
    if (view) Object.assign(view, { status: 'CANCELLED', reason, stoppedAt: new Date().toISOString() });
    await this.reporter.cancelled(older.pr, reason);
    if (view) await this.persist(older.pipeline, older.pr, view);
    this.props.out.write(`cancelled ${older.name} (#${older.pr.number} at ${older.pr.headSha.slice(0, 7)}): ${reason}\n`);
  }

  /**
   * Claims the pull request for an event, as the run table's conditional write does in AWS: an
   * event received before the one that holds the pull request claims nothing. Synchronous, so two
   * events handled at the same moment each replace exactly the one before. Answers whether it
   * claimed, and the run it replaced.
   */
  private claim(pr: PullRequestEvent, next: Active | undefined): { claimed: boolean; replaced?: Active } {
    const key = pullRequestKey(pr);
    const latest = this.latest.get(key);
    if (latest !== undefined && pr.receivedAt < latest) return { claimed: false };
    this.latest.set(key, pr.receivedAt);
    const replaced = this.active.get(key);
    if (next) this.active.set(key, next);
    else this.active.delete(key);
    return replaced ? { claimed: true, replaced } : { claimed: true };
  }

  /**
   * Handles one published pull request event: a cancel stops the running run; a plan stops the
   * older run of the same pull request and starts a new one. Resolves once the run is started.
   */
  async handle(pr: PullRequestEvent, pipeline: LocalPipeline): Promise<void> {
    if (pr.action === 'cancel') {
      const { replaced } = this.claim(pr, undefined);
      if (replaced) await this.cancel(replaced, `pull request #${pr.number} was closed`);
      return;
    }
    // As the pipeline function in AWS: before anything runs, and a failed request to GitHub throws.
    const teams = this.props.teams;
    const verdict = await checkAuthors(pr, this.props.config.pullRequests?.authors, () => (teams ? teams(pr) : { unavailable: 'this server has no way to ask GitHub about teams' }));
    if (!verdict.allowed) {
      this.props.out.write(`refused pull request #${pr.number} at ${pr.headSha.slice(0, 7)}: ${verdict.reason}\n`);
      return;
    }
    this.counter += 1;
    const name = `pr-${pr.number}-${pr.headSha.slice(0, 7)}-${Date.now().toString(36)}${this.counter}`;
    const active: Active = { name, pr, pipeline, cancelled: false };
    const claim = this.claim(pr, active);
    const view: PullRequestRunView = {
      name,
      kind: 'pull-request',
      repository: pr.repository.fullName,
      pullRequest: pr.number,
      headSha: pr.headSha,
      headBranch: pr.headBranch,
      status: 'QUEUED',
      startedAt: new Date().toISOString(),
    };
    this.runs.set(name, view);
    if (!claim.claimed) {
      Object.assign(view, { status: 'CANCELLED', reason: `a later event of #${pr.number} was handled first`, stoppedAt: new Date().toISOString() });
      await this.persist(pipeline, pr, view);
      this.props.out.write(`not planning #${pr.number} at ${pr.headSha.slice(0, 7)}: ${view.reason}\n`);
      return;
    }
    if (claim.replaced) await this.cancel(claim.replaced, `a newer push to #${pr.number} (${pr.headSha.slice(0, 7)}) replaced this run`);
    await this.reporter.queued(pr, `${this.props.baseUrl()}/runs/${name}`);
    await this.persist(pipeline, pr, view);
    this.props.out.write(`queued ${name} for pull request #${pr.number} at ${pr.headSha.slice(0, 7)}\n`);
    this.done.push(
      this.plan(active, view, pipeline).catch(async (e: unknown) => {
        const reason = (e as Error).message;
        Object.assign(view, { status: 'FAILED', reason, stoppedAt: new Date().toISOString() });
        if (!active.cancelled) {
          const failed: PullRequestSummary = { title: 'The plans could not run', summary: reason, conclusion: 'failure', listed: 0, counted: 0 };
          await this.reporter.completed(pr, failed).catch(() => undefined);
        }
        await this.persist(pipeline, pr, view);
        this.props.out.write(`FAILED ${name}: ${reason}\n`);
      }),
    );
  }

  private async plan(active: Active, view: PullRequestRunView, pipeline: LocalPipeline): Promise<void> {
    const { pr, name } = active;
    const { config } = this.props;
    const reader = new GitRepoReader(path.resolve(pipeline.opts.repoDir));
    const { targets, notAllowed } = await readPullRequestTargets({ config, pr, reader, listApplied: () => pipeline.runStore.listApplied(pr.repository.fullName) });
    Object.assign(view, { targets: targets.length, notAllowed: notAllowed.length });
    if (active.cancelled) return;

    const stageOf = (account: string) => config.accounts.find((a) => a.name === account)?.stage ?? '';
    let results: Awaited<ReturnType<typeof pipeline.runStore.planOnly.listResults>> = [];
    let logs: (account: string, module: string) => string | undefined = () => undefined;
    if (targets.length > 0) {
      await this.reporter.started(pr);
      view.status = 'RUNNING';
      await this.persist(pipeline, pr, view);
      this.props.out.write(`planning ${name}: ${targets.length} module(s) in ${new Set(targets.map((t) => t.account)).size} account(s)\n`);
      const execution = pipeline.startPlanOnly(
        {
          kind: 'pull-request',
          id: name,
          repository: pr.repository.fullName,
          targets: targets.map(({ account, module, commit, ref }) => ({ account, module, commit, ref })),
          pullRequest: { number: pr.number, headCommit: pr.headSha, baseRef: `refs/heads/${pr.baseBranch}` },
          requestedAt: pr.receivedAt,
        },
        name,
      );
      active.execution = execution;
      if (active.cancelled) execution.stop();
      const result = await execution.done;
      if (active.cancelled) return;
      if (result.status !== 'SUCCEEDED') throw new Error(`the plan-only execution ended ${result.status}${result.error ? `: ${result.error}` : ''}${result.cause ? ` (${result.cause})` : ''}`);
      results = await pipeline.runStore.planOnly.listResults(name);
      logs = await this.logFiles(name);
    }
    if (active.cancelled) return;
    const summary = renderPullRequestSummary({
      number: pr.number,
      headSha: pr.headSha,
      stageOrder: config.stageOrder,
      rows: planRowsOf(results, notAllowed, stageOf, logs),
      runUrl: `${this.props.baseUrl()}/runs/${name}`,
    });
    await this.reporter.completed(pr, summary);
    this.props.out.write(`check run "${this.reporter.checkRunOf(pr)?.name ?? ''}" for #${pr.number} at ${pr.headSha.slice(0, 7)}: ${summary.conclusion}: ${summary.title}\n${summary.summary}\n`);
    if (this.active.get(pullRequestKey(pr)) === active) this.active.delete(pullRequestKey(pr));
    Object.assign(view, { status: summary.conclusion === 'failure' ? 'FAILED' : 'SUCCEEDED', stoppedAt: new Date().toISOString() });
    await this.persist(pipeline, pr, view);
  }

  /** Each module's plan log of a run, as a file URL (the runner writes one per task: its account's modules). */
  private async logFiles(run: string): Promise<(account: string, module: string) => string | undefined> {
    const dir = path.join(this.props.stateDir, 'artifacts');
    let items: unknown = [];
    try {
      items = JSON.parse(await readFile(path.join(dir, artifactKeys.planOnlyItems(run)), 'utf8'));
    } catch {
      // No items (nothing planned) or an unreadable file: the summary goes without log links.
    }
    const keyOf = planLogKeysOf(items);
    return (account, module) => {
      const key = keyOf(account, module);
      return key === undefined ? undefined : pathToFileURL(path.join(dir, key)).href;
    };
  }
}
