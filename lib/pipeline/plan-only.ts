/**
 * The pipeline function's steps of a plan-only run (statemachines/plan-only.asl.json; the
 * contract is lib/domain/plan-only.ts):
 * - `plan-only-start`: resolves the targets, reports those whose branch is held by a running
 *   deploy as skipped, and writes one item per account, repository and commit;
 * - `plan-only-record`: turns what the runner wrote per module into one result per target;
 * - `plan-only-finish`: a drift sweep updates the drift report and sends one notice when drift
 *   appeared or was resolved.
 * None of them takes a branch queue or writes a run's lease: a plan-only run only reads them.
 */
import { z } from 'zod';
import type { AccountConfig, Config } from '../config/schema';
import { mapLimit } from '../domain/concurrency';
import { countByStatus, nextDriftEntry, orderEvents, type DriftEntry, type DriftEvent } from '../domain/drift';
import { planOnlyOutcome, PlanOnlyRequestSchema, type PlanOnlyKind, type PlanOnlyRequest, type PlanOnlyTarget } from '../domain/plan-only';
import { artifactKeys, ModuleResultSchema } from '../domain/runner-contract';
import { formatDriftNotice } from '../notify/format';
import { AccountItemSchema, type AccountItem } from '../statemachine/contracts';
import { withManifest } from '../statemachine/items';
import type { StoredPlanOnlyResult } from '../store/plan-only';
import type { PipelineDeps } from './deps';
import { finishPullRequestRun, pullRequestRunStarted } from './pull-request';
import { InvalidRequestError } from './errors';
import { runConfig } from './fleet';
import { accountItem } from './targets';

/** The actions of a plan-only run. */
export const PLAN_ONLY_ACTIONS = ['plan-only-start', 'plan-only-record', 'plan-only-finish'] as const;

/** Whether a payload is one of the plan-only actions. */
export function isPlanOnlyAction(payload: unknown): boolean {
  return !!payload && typeof payload === 'object' && (PLAN_ONLY_ACTIONS as readonly unknown[]).includes((payload as { action?: unknown }).action);
}

const StartSchema = z.object({ action: z.literal('plan-only-start'), run: z.string().min(1), request: z.unknown() }).strict();
const RecordSchema = z
  .object({
    action: z.literal('plan-only-record'),
    run: z.string().min(1),
    ok: z.boolean(),
    repository: z.string().min(1),
    account: AccountItemSchema,
    source: z.object({ repository: z.string(), commit: z.string(), ref: z.string() }).passthrough(),
    execution: z.string().min(1),
    task: z.unknown().optional(),
    error: z.unknown().optional(),
  })
  .strict();
const FinishSchema = z.object({ action: z.literal('plan-only-finish'), run: z.string().min(1), kind: z.enum(['drift', 'pull-request']) }).strict();

/** One item of a plan-only Map: the account item (phase plan, plan task definition) and its source. */
export interface PlanOnlyItem {
  readonly account: AccountItem;
  readonly source: { readonly repository: string; readonly commit: string; readonly ref: string };
  /** The runner task's own name (its artifacts prefix and manifest): one per account, repository and commit. */
  readonly task: string;
  /** `owner/name` of the repository. */
  readonly repository: string;
}

/** What the start step answers. */
export interface PlanOnlyStartResult {
  readonly kind: PlanOnlyKind;
  readonly items: { readonly bucket: string; readonly key: string; readonly count: number };
  readonly concurrency: number;
  readonly resultsPrefix: string;
  readonly skipped: number;
}

/** How many accounts a plan-only run plans at once. */
export const PLAN_ONLY_CONCURRENCY = 40;

const targetId = (repository: string, account: string, module: string) => `${repository}#${account}#${module}`;

/** A target with its repository. */
type RepoTarget = PlanOnlyTarget & { readonly repository: string };

/** A drift sweep's targets: every applied target of the swept repositories, at its last applied commit. */
async function driftTargets(request: PlanOnlyRequest, config: Config, deps: PipelineDeps): Promise<RepoTarget[]> {
  const repos = config.repositories.filter((r) => request.repository === undefined || r.fullName === request.repository);
  if (request.repository !== undefined && repos.length === 0) throw new InvalidRequestError(`a drift sweep of repository ${request.repository}, which the config does not name`);
  const accounts = new Map(config.accounts.map((a) => [a.name, a]));
  const out: RepoTarget[] = [];
  for (const repo of repos) {
    for (const applied of await deps.store.listApplied(repo.fullName)) {
      const account = accounts.get(applied.account);
      // A target of an account that left the config is not swept: nothing may run there.
      if (!account) continue;
      if (request.stages && !request.stages.includes(account.stage)) continue;
      if (request.accounts && !request.accounts.includes(account.name)) continue;
      out.push({ repository: repo.fullName, account: applied.account, module: applied.module, commit: applied.commit, ref: `refs/heads/${repo.deployBranch}` });
    }
  }
  return out;
}

/**
 * `plan-only-start`: answers where the Map's items are. Targets whose branch is held by a running
 * execution are recorded as skipped: planning state a deploy is changing would report its
 * half-done work as drift, and the sweep must never wait for the branch.
 */
export async function planOnlyStart(payload: unknown, deps: PipelineDeps): Promise<PlanOnlyStartResult> {
  const { run, request: raw } = StartSchema.parse(payload);
  const parsed = PlanOnlyRequestSchema.safeParse(raw);
  if (!parsed.success) {
    throw new InvalidRequestError(`a plan-only run's input is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`).join('; ')}; expected the shape in lib/domain/plan-only.ts`);
  }
  const request = parsed.data;
  const config = await runConfig(deps.config, deps.store);
  const at = deps.clock().toISOString();
  const targets: RepoTarget[] =
    request.kind === 'drift' && !request.targets ? await driftTargets(request, config, deps) : (request.targets ?? []).map((t) => ({ ...t, repository: request.repository! }));

  // Each branch is looked at once: a holder that still runs makes its targets skipped.
  const holders = new Map<string, string | undefined>();
  for (const t of targets) {
    const key = `${t.repository}#${t.ref}`;
    if (holders.has(key)) continue;
    const lock = await deps.store.getLock(t.repository, t.ref.slice('refs/heads/'.length));
    const running = lock.holder !== undefined && (await deps.executions.isRunning(lock.holderId ?? ''));
    holders.set(key, running ? lock.holder : undefined);
  }
  const skipped: StoredPlanOnlyResult[] = [];
  const groups = new Map<string, RepoTarget[]>();
  for (const t of targets) {
    const holder = holders.get(`${t.repository}#${t.ref}`);
    if (holder !== undefined) {
      skipped.push({ repository: t.repository, account: t.account, module: t.module, commit: t.commit, status: 'skipped', skippedBecause: `a deploy (${holder}) holds branch ${t.ref.slice('refs/heads/'.length)}`, at });
      continue;
    }
    const key = `${t.account}#${t.repository}#${t.commit}`;
    groups.set(key, [...(groups.get(key) ?? []), t]);
  }
  await deps.store.planOnly.putResults(run, skipped);

  const accounts = new Map<string, AccountConfig>(config.accounts.map((a) => [a.name, a]));
  const repos = new Map(config.repositories.map((r) => [r.fullName, r]));
  const entries = [...groups.values()];
  const items = await mapLimit(entries, 8, async (group, i): Promise<PlanOnlyItem> => {
    const first = group[0]!;
    const account = accounts.get(first.account);
    if (!account) throw new InvalidRequestError(`a plan-only target in account ${first.account}, which the config does not name`);
    const repo = repos.get(first.repository);
    if (!repo) throw new InvalidRequestError(`a plan-only target of repository ${first.repository}, which the config does not name`);
    const task = `${run.slice(0, 70)}-${i}`;
    const item = await withManifest(deps.artifacts, task, { ...accountItem(config, account, group.map((t) => t.module), 'plan'), planOnly: { kind: request.kind } });
    return { account: item, source: { repository: repo.cloneUrls[0]!, commit: first.commit, ref: first.ref }, task, repository: first.repository };
  });
  const key = artifactKeys.planOnlyItems(run);
  await deps.artifacts.put(key, JSON.stringify(items));
  if (request.kind === 'pull-request') await pullRequestRunStarted(run, deps, deps.pullRequests);
  deps.logger.info('plan-only run started', { run, kind: request.kind, targets: targets.length, skipped: skipped.length, tasks: items.length });
  return {
    kind: request.kind,
    items: { bucket: deps.artifacts.bucket, key, count: items.length },
    concurrency: PLAN_ONLY_CONCURRENCY,
    resultsPrefix: `${run}/_plan-only/results`,
    skipped: skipped.length,
  };
}

/**
 * `plan-only-record`: one result per module of the item. A task that failed before a module's
 * result was written makes that module an error with the task's error.
 */
export async function planOnlyRecord(payload: unknown, deps: PipelineDeps): Promise<{ count: number }> {
  const req = RecordSchema.parse(payload);
  const at = deps.clock().toISOString();
  const taskError = req.ok ? undefined : describeTaskError(req.error);
  const results = await mapLimit(req.account.modules, 8, async (module): Promise<StoredPlanOnlyResult> => {
    const base = { repository: req.repository, account: req.account.name, module, commit: req.source.commit };
    const bytes = await deps.artifacts.get(artifactKeys.result(req.execution, req.account.name, module));
    const parsed = bytes ? ModuleResultSchema.safeParse(JSON.parse(bytes.toString('utf8'))) : undefined;
    if (!parsed?.success) return { ...base, status: 'error', error: (taskError ?? 'the runner wrote no result for this module').slice(0, 2048), at };
    const result = parsed.data;
    if (result.status !== 'planned') {
      return { ...base, status: 'error', error: (result.error ?? `the plan ended ${result.status}`).slice(0, 2048), at: result.finishedAt };
    }
    const outcome = planOnlyOutcome(result.changes ?? []);
    // The runner bounded the list; the count of the rest is its own.
    return { ...base, ...outcome, ...(result.moreChanges ? { moreChanges: (outcome.moreChanges ?? 0) + result.moreChanges } : {}), at: result.finishedAt };
  });
  await deps.store.planOnly.putResults(req.run, results);
  return { count: results.length };
}

function describeTaskError(error: unknown): string {
  if (error && typeof error === 'object') {
    const e = error as { Error?: unknown; Cause?: unknown };
    return `the runner task failed: ${typeof e.Error === 'string' ? e.Error : 'error'}${typeof e.Cause === 'string' ? `: ${e.Cause.slice(0, 400)}` : ''}`;
  }
  return 'the runner task failed';
}

/** What a drift sweep found. */
export interface DriftSweepSummary {
  readonly sweep: string;
  readonly at: string;
  readonly counts: Record<string, number>;
  readonly events: DriftEvent[];
  readonly notified: boolean;
}

/**
 * `plan-only-finish`: for a drift sweep, moves the report forward with each target's result,
 * drops the lines of targets no longer applied, and publishes one notice listing new and
 * resolved drift when there is any. A pull-request run completes its check run with the summary
 * (./pull-request.ts).
 */
export async function planOnlyFinish(payload: unknown, deps: PipelineDeps): Promise<DriftSweepSummary | { run: string; results: number }> {
  const { run, kind } = FinishSchema.parse(payload);
  if (kind === 'pull-request') return finishPullRequestRun(run, deps, deps.pullRequests);
  return finishDriftSweep(run, await deps.store.planOnly.listResults(run), deps);
}

async function finishDriftSweep(run: string, results: readonly StoredPlanOnlyResult[], deps: PipelineDeps): Promise<DriftSweepSummary> {
  const at = deps.clock().toISOString();
  const repositories = [...new Set([...deps.config.repositories.map((r) => r.fullName), ...results.map((r) => r.repository)])];
  const previous = new Map<string, DriftEntry>();
  for (const repo of repositories) for (const e of await deps.store.planOnly.listDrift(repo)) previous.set(targetId(e.repository, e.account, e.module), e);

  const entries: DriftEntry[] = [];
  const events: DriftEvent[] = [];
  const swept = new Set<string>();
  for (const r of results) {
    const id = targetId(r.repository, r.account, r.module);
    swept.add(id);
    const { repository, ...result } = r;
    const next = nextDriftEntry(previous.get(id), result, { id: run, at, repository });
    entries.push(next.entry);
    if (next.event) events.push({ kind: next.event, entry: next.entry });
  }
  await deps.store.planOnly.putDrift(entries);
  // Lines of targets no longer applied anywhere (their account left, or their module was removed).
  const applied = new Set<string>();
  for (const repo of repositories) for (const a of await deps.store.listApplied(repo)) applied.add(targetId(repo, a.account, a.module));
  await deps.store.planOnly.deleteDrift([...previous.values()].filter((e) => !swept.has(targetId(e.repository, e.account, e.module)) && !applied.has(targetId(e.repository, e.account, e.module))));

  const report = [...previous.values()].filter((e) => !swept.has(targetId(e.repository, e.account, e.module)) && applied.has(targetId(e.repository, e.account, e.module)));
  const counts = countByStatus([...entries, ...report]);
  const ordered = orderEvents(events);
  let notified = false;
  if (ordered.length > 0) {
    const { subject, text } = formatDriftNotice({ sweep: run, at, events: ordered, counts });
    try {
      await deps.notifier.publish(subject, text, { status: 'drift', execution: run });
      notified = true;
    } catch (err) {
      deps.logger.error('could not send the drift notice', { run, error: err instanceof Error ? { name: err.name, message: err.message } : String(err) });
    }
  }
  await deps.store.planOnly.putLastSweep({ sweep: run, at, counts, events: ordered.length });
  deps.logger.info('drift sweep finished', { run, ...counts, new: events.filter((e) => e.kind === 'new').length, resolved: events.filter((e) => e.kind === 'resolved').length });
  return { sweep: run, at, counts, events: ordered, notified };
}

/** Answers one plan-only action. */
export async function planOnlyAction(payload: unknown, deps: PipelineDeps): Promise<unknown> {
  const action = (payload as { action: string }).action;
  try {
    if (action === 'plan-only-start') return await planOnlyStart(payload, deps);
    if (action === 'plan-only-record') return await planOnlyRecord(payload, deps);
    return await planOnlyFinish(payload, deps);
  } catch (e) {
    if (e instanceof z.ZodError) {
      throw new InvalidRequestError(`pipeline function payload with action ${JSON.stringify(action)} is invalid: ${e.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`).join('; ')}`);
    }
    throw e;
  }
}
