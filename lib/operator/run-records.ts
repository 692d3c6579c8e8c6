/**
 * The run table as the operator commands read it. {@link RunRecords} is the narrow port the
 * run store (lib/store) satisfies; {@link buildStages} turns stored module results into the
 * stages, accounts and modules `tfstep show` prints.
 */
import type { AccountView, ApprovalView, ModuleView, StageView, WaveView } from './views';
import { secondsBetween } from './views';

/** One module result of a run, as stored. */
export interface StoredModule {
  readonly stage?: string;
  readonly account: string;
  readonly module: string;
  readonly phase?: string;
  readonly status: string;
  readonly plan?: { readonly add: number; readonly change: number; readonly destroy: number; readonly deleted?: readonly string[]; readonly replaced?: readonly string[] };
  readonly planSha256?: string;
  /** `skipped`: the upstream module that failed (or was interrupted), so this one never ran. */
  readonly skippedBecause?: string;
  /** Plan phase: the upstreams after whose apply this plan may change. */
  readonly mayChangeAfter?: readonly string[];
  /** `awaiting-approval`: the plan made at apply that differs from the approved one. */
  readonly replan?: {
    readonly planSha256: string;
    readonly approvedSha256: string;
    readonly plan: { readonly add: number; readonly change: number; readonly destroy: number };
    readonly approvedPlan?: { readonly add: number; readonly change: number; readonly destroy: number };
    readonly differences?: readonly string[];
  };
  readonly error?: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  /** The account's rollout wave in its stage (0 first), where the run planned it. */
  readonly wave?: number;
}

const counts = (p: { readonly add: number; readonly change: number; readonly destroy: number }) => ({ add: p.add, change: p.change, destroy: p.destroy });

/** One approval of a run, as stored. */
export interface StoredApproval {
  readonly stage: string;
  readonly status: string;
  readonly approvers: readonly string[];
  readonly decisions: readonly { approver: string; decision: string; comment: string; at?: string }[];
}

/** One run, as stored. */
export interface StoredRun {
  readonly execution: string;
  /** The execution's ARN, as the run table recorded it. */
  readonly executionArn?: string;
  readonly repository?: string;
  readonly branch?: string;
  readonly commit?: string;
  /** Who pushed the commit. */
  readonly pusher?: string;
  readonly status?: string;
  /** The stage the run is in or stopped in. */
  readonly stage?: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly reason?: string;
  readonly modules: readonly StoredModule[];
  readonly approvals: readonly StoredApproval[];
  /** Why an account's task failed, by account, from its latest outcome. */
  readonly accountReasons?: Readonly<Record<string, string>>;
}

/** What the operator commands need from the run table. */
export interface RunRecords {
  getRun(execution: string): Promise<StoredRun | undefined>;
  /** Most recent first. */
  listRuns(options: { limit: number; repository?: string }): Promise<StoredRun[]>;
}

const FAILED = new Set(['FAILED', 'REFUSED']);
const PHASES = ['plan', 'plan-and-apply', 'apply'];

function phaseRank(phase: string | undefined): number {
  const i = PHASES.indexOf(phase ?? '');
  return i === -1 ? PHASES.length : i;
}

function aggregate(statuses: readonly string[]): string {
  if (statuses.length === 0) return 'PENDING';
  if (statuses.some((s) => FAILED.has(s))) return 'FAILED';
  if (statuses.every((s) => s === 'PENDING' || s === 'NOT-RUN')) return 'PENDING';
  if (statuses.every((s) => s === 'APPLIED' || s === 'SKIPPED')) return 'APPLIED';
  if (statuses.every((s) => s === 'PLANNED' || s === 'APPLIED' || s === 'SKIPPED')) return 'PLANNED';
  return 'RUNNING';
}

function span(items: readonly { startedAt?: string; finishedAt?: string }[]): number | null {
  const starts = items.map((i) => i.startedAt).filter((s): s is string => !!s).sort();
  const ends = items.map((i) => i.finishedAt).filter((s): s is string => !!s).sort();
  return secondsBetween(starts[0], ends[ends.length - 1]);
}

/**
 * A stage's accounts wave by wave (what ran, failed and never started), or null for a stage
 * that ran in one wave. An account of a finished run that never left PENDING never started.
 */
export function wavesOf(accounts: readonly AccountView[], runStatus: string | undefined): WaveView[] | null {
  const count = accounts.reduce((n, a) => Math.max(n, a.wave ?? 1), 1);
  if (count < 2) return null;
  const finished = runStatus !== undefined && runStatus.toUpperCase() !== 'RUNNING' && runStatus.toUpperCase() !== 'WAITING';
  const waves: WaveView[] = [];
  for (let wave = 1; wave <= count; wave++) {
    const members = accounts.filter((a) => (a.wave ?? 1) === wave);
    const failed = members.filter((a) => a.status === 'FAILED').map((a) => a.name);
    const pending = members.filter((a) => a.status === 'PENDING').map((a) => a.name);
    const status =
      members.length > 0 && pending.length === members.length
        ? finished
          ? 'NOT STARTED'
          : 'PENDING'
        : failed.length > 0
          ? 'FAILED'
          : aggregate(members.map((a) => a.status));
    waves.push({ wave, status, accounts: members.map((a) => a.name), failed, notStarted: finished ? pending : [] });
  }
  return waves;
}

/**
 * Groups module results by stage (in `stageOrder`, unknown stages last), then account, and
 * attaches each stage's approval. `stageOfAccount` fills in the stage of results stored
 * without one.
 */
export function buildStages(run: StoredRun, stageOrder: readonly string[], stageOfAccount: (account: string) => string | undefined): StageView[] {
  const byStage = new Map<string, Map<string, StoredModule[]>>();
  for (const m of run.modules) {
    const stage = m.stage ?? stageOfAccount(m.account) ?? 'unknown';
    const accounts = byStage.get(stage) ?? new Map<string, StoredModule[]>();
    byStage.set(stage, accounts);
    accounts.set(m.account, [...(accounts.get(m.account) ?? []), m]);
  }
  for (const a of run.approvals) if (!byStage.has(a.stage)) byStage.set(a.stage, new Map());
  const rank = (s: string): number => {
    const i = stageOrder.indexOf(s);
    return i === -1 ? stageOrder.length : i;
  };
  return [...byStage.entries()]
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
    .map(([name, accounts]): StageView => {
      const accountViews = [...accounts.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([account, unsorted]): AccountView => {
          const modules = [...unsorted].sort((a, b) => a.module.localeCompare(b.module) || phaseRank(a.phase) - phaseRank(b.phase));
          const moduleViews = modules.map(
            (m): ModuleView => ({
              path: m.module,
              phase: m.phase ?? null,
              status: m.status.toUpperCase(),
              plan: m.plan ? { add: m.plan.add, change: m.plan.change, destroy: m.plan.destroy } : null,
              planSha256: m.planSha256 ?? null,
              skippedBecause: m.skippedBecause ?? null,
              mayChangeAfter: m.mayChangeAfter?.length ? [...m.mayChangeAfter] : null,
              replan: m.replan
                ? {
                    planSha256: m.replan.planSha256,
                    approvedSha256: m.replan.approvedSha256,
                    plan: counts(m.replan.plan),
                    approvedPlan: m.replan.approvedPlan ? counts(m.replan.approvedPlan) : null,
                    differences: [...(m.replan.differences ?? [])],
                  }
                : null,
              error: m.error ?? null,
              durationSeconds: secondsBetween(m.startedAt, m.finishedAt),
              ...(m.plan?.deleted?.length ? { deleted: [...m.plan.deleted] } : {}),
              ...(m.plan?.replaced?.length ? { replaced: [...m.plan.replaced] } : {}),
            }),
          );
          // A module's latest phase decides: planned then applied is applied.
          const latest = new Map<string, string>();
          for (const v of moduleViews) latest.set(v.path, v.status);
          const wave = modules.find((m) => m.wave !== undefined)?.wave;
          const status = aggregate([...latest.values()]);
          const reason = status === 'FAILED' ? run.accountReasons?.[account] : undefined;
          return { name: account, status, durationSeconds: span(modules), modules: moduleViews, wave: wave === undefined ? null : wave + 1, ...(reason ? { reason } : {}) };
        });
      const stored = run.approvals.filter((a) => a.stage === name).pop();
      const approval: ApprovalView | null = stored
        ? {
            status: stored.status.toUpperCase(),
            approvers: [...stored.approvers],
            decisions: stored.decisions.map((d) => ({ approver: d.approver, decision: d.decision, comment: d.comment, at: d.at ?? null })),
          }
        : null;
      const all = [...accounts.values()].flat();
      let status = aggregate(accountViews.map((a) => a.status));
      if (approval && (approval.status === 'PENDING' || approval.status === 'REJECTED' || approval.status === 'EXPIRED') && status !== 'FAILED') {
        status = approval.status === 'PENDING' ? 'AWAITING_APPROVAL' : approval.status;
      }
      return { name, status, durationSeconds: span(all), approval, accounts: accountViews, waves: wavesOf(accountViews, run.status) };
    });
}
