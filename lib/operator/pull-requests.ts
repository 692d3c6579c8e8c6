/**
 * Pull request runs for `tfstep runs --pull-requests` and `tfstep show <run>`: read from the run
 * table (the pipeline function in AWS, `tfstep local serve` locally, write them there).
 */
import { z } from 'zod';
import type { Config } from '../config/schema';
import { planRowsOf } from '../pull-requests/rows';
import type { RunStore } from '../store/run-store';

/** One line of `tfstep runs --pull-requests`. */
export const PullRequestRunSummarySchema = z.object({
  run: z.string(),
  kind: z.literal('pull-request'),
  repository: z.string(),
  pullRequest: z.number(),
  headSha: z.string(),
  headBranch: z.string(),
  author: z.string(),
  status: z.enum(['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED']),
  startedAt: z.string(),
  stoppedAt: z.string().nullable(),
  targets: z.number(),
  notAllowed: z.number(),
  /** The check run's conclusion once completed (`cancelled` for a superseded or closed run). */
  conclusion: z.string().nullable(),
  reason: z.string().nullable(),
});
export type PullRequestRunSummary = z.infer<typeof PullRequestRunSummarySchema>;

export const PullRequestRunsOutputSchema = z.object({ pullRequestRuns: z.array(PullRequestRunSummarySchema) });
export type PullRequestRunsOutput = z.infer<typeof PullRequestRunsOutputSchema>;

/** One planned module of a pull request run. */
export const PullRequestModuleSchema = z.object({
  stage: z.string(),
  account: z.string(),
  module: z.string(),
  status: z.enum(['clean', 'changes', 'failed', 'skipped', 'not-allowed']),
  add: z.number(),
  change: z.number(),
  destroy: z.number(),
  /** Why it failed or was skipped. */
  reason: z.string().nullable(),
});

/** `tfstep show <run>` of a pull request run. */
export const PullRequestRunDetailSchema = PullRequestRunSummarySchema.extend({
  title: z.string(),
  checkTitle: z.string().nullable(),
  modules: z.array(PullRequestModuleSchema),
});
export type PullRequestRunDetail = z.infer<typeof PullRequestRunDetailSchema>;

/** Pull request runs of the run table. */
export class PullRequestRuns {
  constructor(
    private readonly store: RunStore,
    private readonly config: Config | undefined,
  ) {}

  /** The newest runs first, of one repository when given. */
  async list(options: { readonly repository?: string; readonly limit?: number } = {}): Promise<PullRequestRunSummary[]> {
    const all = await this.store.pullRequests.list();
    const wanted = options.repository === undefined ? all : all.filter((r) => r.repository.toLowerCase() === options.repository!.toLowerCase());
    return wanted.slice(0, options.limit ?? wanted.length).map((r) => ({
      run: r.name,
      kind: 'pull-request',
      repository: r.repository,
      pullRequest: r.pullRequest,
      headSha: r.headSha,
      headBranch: r.headBranch,
      author: r.author,
      status: r.status,
      startedAt: r.startedAt,
      stoppedAt: r.stoppedAt ?? null,
      targets: r.targets,
      notAllowed: r.notAllowed,
      conclusion: r.conclusion ?? (r.status === 'CANCELLED' ? 'cancelled' : null),
      reason: r.reason ?? null,
    }));
  }

  /** One run with its modules' plan counts; `undefined` when no pull request run has this name. */
  async show(name: string): Promise<PullRequestRunDetail | undefined> {
    const r = await this.store.pullRequests.get(name);
    if (!r) return undefined;
    const [summary] = (await this.list()).filter((s) => s.run === name);
    const stageOf = (account: string) => this.config?.accounts.find((a) => a.name === account)?.stage ?? '-';
    const stageIndex = new Map((this.config?.stageOrder ?? []).map((s, i) => [s, i]));
    // The same counts as the check run's summary (a replacement counts as one add and one destroy).
    const modules = planRowsOf(await this.store.planOnly.listResults(name), [], stageOf).map((m) => ({
      stage: m.stage,
      account: m.account,
      module: m.module,
      status: m.status,
      add: m.add,
      change: m.change,
      destroy: m.destroy,
      reason: m.reason ?? null,
    }));
    modules.sort((a, b) => (stageIndex.get(a.stage) ?? 99) - (stageIndex.get(b.stage) ?? 99) || a.account.localeCompare(b.account) || a.module.localeCompare(b.module));
    return { ...summary!, title: r.title, checkTitle: r.checkTitle ?? null, modules };
  }
}
