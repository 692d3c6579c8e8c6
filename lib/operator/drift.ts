/**
 * `tfstep drift`: the drift report as the last sweep left it, read from the run table (AWS) or
 * the local state directory (`--local`), as text or JSON.
 */
import type { Config } from '../config/schema';
import { countByStatus, type DriftEntry, type DriftStatus } from '../domain/drift';
import type { DriftSweepRecord } from '../store/plan-only';
import type { RunStore } from '../store/run-store';

/** The report `tfstep drift` shows. */
export interface DriftReport {
  /** The last sweep, if any ran. */
  readonly lastSweep?: DriftSweepRecord;
  readonly counts: Record<DriftStatus, number>;
  /** Drifted first, then errors, skipped and clean; by account and module within each. */
  readonly targets: DriftEntry[];
}

const ORDER: Record<DriftStatus, number> = { drifted: 0, error: 1, skipped: 2, clean: 3 };

/** Reads the drift report of every configured repository, of one account when `account` is given. */
export async function readDriftReport(config: Config, store: RunStore, options: { account?: string } = {}): Promise<DriftReport> {
  const targets: DriftEntry[] = [];
  for (const repo of config.repositories) targets.push(...(await store.planOnly.listDrift(repo.fullName)));
  const shown = targets
    .filter((t) => options.account === undefined || t.account === options.account)
    .sort((a, b) => ORDER[a.status] - ORDER[b.status] || a.account.localeCompare(b.account) || a.module.localeCompare(b.module));
  const lastSweep = await store.planOnly.getLastSweep();
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

/** The exit code of `tfstep drift` and `tfstep local drift`: 2 when something drifted, 1 when a plan failed, else 0. */
export function driftExitCode(counts: Record<DriftStatus, number>): number {
  if (counts.drifted > 0) return 2;
  return counts.error > 0 ? 1 : 0;
}
