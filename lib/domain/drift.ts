/**
 * The drift report: where each target stands after the last drift sweep, and what changed since
 * the sweep before. Pure: the pipeline's plan-only finish step, the CLI and the local mode share it.
 */
import type { PlanOnlyTargetResult, ResourceChange } from './plan-only';

/** Where a target stands in the drift report. */
export type DriftStatus = 'clean' | 'drifted' | 'error' | 'skipped';

/** One target's line of the drift report (`DRIFT#<repo>` / `<account>#<module>` in the run table). */
export interface DriftEntry {
  readonly repository: string;
  readonly account: string;
  readonly module: string;
  readonly status: DriftStatus;
  /** The commit planned: the target's last applied commit. */
  readonly commit: string;
  /**
   * What a plan would do to restore the code, destroys first: of the sweep that found it, kept
   * while a later sweep could not plan the target (error, skipped).
   */
  readonly changes?: readonly ResourceChange[];
  readonly moreChanges?: number;
  /** When the current drift was first seen; absent while the target is clean. */
  readonly firstSeen?: string;
  /** When the current drift was last seen. */
  readonly lastSeen?: string;
  readonly error?: string;
  readonly skippedBecause?: string;
  /** The sweep that wrote this entry, and when. */
  readonly sweep: string;
  readonly checkedAt: string;
}

/** A change in the report that people hear about. */
export interface DriftEvent {
  readonly kind: 'new' | 'resolved';
  readonly entry: DriftEntry;
}

function sameChanges(a: readonly ResourceChange[] | undefined, b: readonly ResourceChange[] | undefined): boolean {
  const key = (c: readonly ResourceChange[] | undefined) => (c ?? []).map((x) => `${x.action} ${x.address}`).sort().join('\n');
  return key(a) === key(b);
}

/**
 * The target's next report entry after a sweep planned (or skipped) it, and the event it makes:
 * - drift where there was none, or a different set of changes: `new`;
 * - clean where there was drift (also drift last seen before an error or a skip): `resolved`;
 * - an error or a skip keeps what was known about the drift and makes no event: nothing was
 *   learned about the resources.
 */
export function nextDriftEntry(
  previous: DriftEntry | undefined,
  result: PlanOnlyTargetResult,
  sweep: { id: string; at: string; repository: string },
): { entry: DriftEntry; event?: DriftEvent['kind'] } {
  const base = { repository: sweep.repository, account: result.account, module: result.module, commit: result.commit, sweep: sweep.id, checkedAt: sweep.at };
  const wasDrifted = previous?.firstSeen !== undefined;
  const carried = wasDrifted
    ? { changes: previous.changes, moreChanges: previous.moreChanges, firstSeen: previous.firstSeen, lastSeen: previous.lastSeen }
    : {};
  switch (result.status) {
    case 'clean':
      return { entry: { ...base, status: 'clean' }, ...(wasDrifted ? { event: 'resolved' as const } : {}) };
    case 'changes': {
      const changes = result.changes ?? [];
      const same = wasDrifted && sameChanges(previous.changes, changes) && (previous.moreChanges ?? 0) === (result.moreChanges ?? 0);
      const entry: DriftEntry = {
        ...base,
        status: 'drifted',
        changes,
        ...(result.moreChanges ? { moreChanges: result.moreChanges } : {}),
        firstSeen: same ? previous.firstSeen : sweep.at,
        lastSeen: sweep.at,
      };
      return { entry, ...(same ? {} : { event: 'new' as const }) };
    }
    case 'error':
      return { entry: { ...base, ...carried, status: 'error', ...(result.error ? { error: result.error } : {}) } };
    case 'skipped':
      return { entry: { ...base, ...carried, status: 'skipped', ...(result.skippedBecause ? { skippedBecause: result.skippedBecause } : {}) } };
  }
}

/** Whether an entry's drift destroys or replaces something. */
export function destroys(entry: DriftEntry): boolean {
  return (entry.changes ?? []).some((c) => c.action === 'delete' || c.action === 'replace');
}

/**
 * Events in the order a notice lists them: destroys first, then the newest drift first, then by
 * account and module.
 */
export function orderEvents(events: readonly DriftEvent[]): DriftEvent[] {
  const seen = (e: DriftEvent) => e.entry.firstSeen ?? e.entry.checkedAt;
  return [...events].sort(
    (a, b) =>
      Number(destroys(b.entry)) - Number(destroys(a.entry)) ||
      seen(b).localeCompare(seen(a)) ||
      a.entry.account.localeCompare(b.entry.account) ||
      a.entry.module.localeCompare(b.entry.module),
  );
}

/** Counts of a report by status. */
export function countByStatus(entries: readonly DriftEntry[]): Record<DriftStatus, number> {
  const counts: Record<DriftStatus, number> = { clean: 0, drifted: 0, error: 0, skipped: 0 };
  for (const e of entries) counts[e.status]++;
  return counts;
}

/** The report `tfstep drift` shows. */
export interface DriftReport {
  /** The last sweep, if any ran. */
  readonly lastSweep?: { readonly sweep: string; readonly at: string };
  readonly counts: Record<DriftStatus, number>;
  /** Drifted first, then errors, skipped and clean; by account and module within each. */
  readonly targets: DriftEntry[];
}

const REPORT_ORDER: Record<DriftStatus, number> = { drifted: 0, error: 1, skipped: 2, clean: 3 };

/** The report of `entries`, of one account when `account` is given. */
export function driftReportOf(entries: readonly DriftEntry[], lastSweep: DriftReport['lastSweep'], account?: string): DriftReport {
  const shown = entries
    .filter((t) => account === undefined || t.account === account)
    .sort((a, b) => REPORT_ORDER[a.status] - REPORT_ORDER[b.status] || a.account.localeCompare(b.account) || a.module.localeCompare(b.module));
  return { ...(lastSweep ? { lastSweep } : {}), counts: countByStatus(shown), targets: shown };
}

/** The report for people: one block per target that is not clean, then the counts. */
export function formatDriftReport(report: DriftReport): string[] {
  if (!report.lastSweep && report.targets.length === 0) return ['no drift sweep has run yet (turn one on with stages.<stage>.drift.schedule, or run tfstep local drift)'];
  const lines: string[] = [];
  if (report.lastSweep) lines.push(`last sweep ${report.lastSweep.sweep} at ${report.lastSweep.at}`);
  const c = report.counts;
  lines.push(`${c.drifted} drifted, ${c.error} error, ${c.skipped} skipped, ${c.clean} clean`);
  for (const t of report.targets) {
    if (t.status === 'clean') continue;
    const head = `${t.status.toUpperCase()} ${t.account} ${t.module} (${t.repository}) at ${t.commit.slice(0, 7)}`;
    if (t.status === 'drifted') {
      lines.push('', `${head}: first seen ${t.firstSeen}, last seen ${t.lastSeen}`);
      for (const ch of t.changes ?? []) lines.push(`    ${ch.action} ${ch.address}`);
      if (t.moreChanges) lines.push(`    ... and ${t.moreChanges} more`);
      continue;
    }
    lines.push('', `${head}: ${t.status === 'error' ? (t.error ?? 'the plan failed') : (t.skippedBecause ?? 'not planned')}`);
    if (t.firstSeen) lines.push(`    drifted before (first seen ${t.firstSeen}, last seen ${t.lastSeen}):`, ...(t.changes ?? []).map((ch) => `    ${ch.action} ${ch.address}`));
  }
  return lines;
}

/** The exit code of `tfstep drift` and `tfstep local drift`: 1 when something drifted or could not be planned, else 0. */
export function driftExitCode(counts: Record<DriftStatus, number>): number {
  return counts.drifted > 0 || counts.error > 0 ? 1 : 0;
}
