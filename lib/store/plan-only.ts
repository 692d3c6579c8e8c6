/**
 * Plan-only runs and the drift report in the run table:
 * - `PLANONLY#<id>` / `RESULT#<repo>#<account>#<module>`: one target's result in a plan-only run
 *   (expires with the runs);
 * - `DRIFT#<repo>` / `<account>#<module>`: the target's line of the drift report, beside its
 *   `TARGETS#<repo>` record (never expires; a target that is no longer applied is dropped by the
 *   next sweep);
 * - `DRIFT` / `LAST`: the last sweep: when, its counts, whether it sent a notice.
 * Layout in ./keys.ts.
 */
import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mapLimit } from '../domain/concurrency';
import { driftReportOf, type DriftEntry, type DriftReport, type DriftStatus } from '../domain/drift';
import type { PlanOnlyTargetResult } from '../domain/plan-only';
import { strip, type RunTable } from './table';

/** One target's result of a plan-only run, with its repository. */
export type StoredPlanOnlyResult = PlanOnlyTargetResult & { readonly repository: string };

/** The last drift sweep. */
export interface DriftSweepRecord {
  readonly sweep: string;
  readonly at: string;
  readonly counts: Readonly<Record<DriftStatus, number>>;
  /** How many targets the sweep's notice listed as new or resolved (0: no notice). */
  readonly events: number;
}

const WRITE_CONCURRENCY = 8;

export const planOnlyPk = (id: string) => `PLANONLY#${id}`;
export const driftPk = (repository: string) => `DRIFT#${repository}`;
const LAST_SWEEP_KEY = { pk: 'DRIFT', sk: 'LAST' } as const;

/** Plan-only results and the drift report. */
export class PlanOnlyStore {
  constructor(private readonly table: RunTable) {}

  /** Stores targets' results of a plan-only run (replacing earlier ones of the same target). */
  async putResults(id: string, results: readonly StoredPlanOnlyResult[]): Promise<void> {
    await mapLimit(results, WRITE_CONCURRENCY, (r) =>
      this.table.doc.send(
        new PutCommand({
          TableName: this.table.tableName,
          Item: { pk: planOnlyPk(id), sk: `RESULT#${r.repository}#${r.account}#${r.module}`, type: 'plan-only-result', ...r, expiresAt: this.table.expiresAt() },
        }),
      ),
    );
  }

  /** Every target's result of a plan-only run. */
  async listResults(id: string): Promise<StoredPlanOnlyResult[]> {
    return (await this.table.queryAll(planOnlyPk(id), 'RESULT#')).map((i) => {
      const { type: _type, expiresAt: _exp, ...rest } = strip<StoredPlanOnlyResult & { type: string; expiresAt: number }>(i)!;
      return rest;
    });
  }

  /** The drift report of a repository. */
  async listDrift(repository: string): Promise<DriftEntry[]> {
    return (await this.table.queryAll(driftPk(repository))).map((i) => {
      const { type: _type, ...rest } = strip<DriftEntry & { type: string }>(i)!;
      return rest;
    });
  }

  /** Writes report lines. */
  async putDrift(entries: readonly DriftEntry[]): Promise<void> {
    await mapLimit(entries, WRITE_CONCURRENCY, (e) =>
      this.table.doc.send(new PutCommand({ TableName: this.table.tableName, Item: { pk: driftPk(e.repository), sk: `${e.account}#${e.module}`, type: 'drift', ...e } })),
    );
  }

  /** Drops report lines of targets that are no longer applied. */
  async deleteDrift(entries: readonly Pick<DriftEntry, 'repository' | 'account' | 'module'>[]): Promise<void> {
    await mapLimit(entries, WRITE_CONCURRENCY, (e) =>
      this.table.doc.send(new DeleteCommand({ TableName: this.table.tableName, Key: { pk: driftPk(e.repository), sk: `${e.account}#${e.module}` } })),
    );
  }

  /** The drift report of these repositories, of one account when `account` is given. */
  async report(repositories: readonly string[], account?: string): Promise<DriftReport> {
    const entries: DriftEntry[] = [];
    for (const repo of repositories) entries.push(...(await this.listDrift(repo)));
    return driftReportOf(entries, await this.getLastSweep(), account);
  }

  async getLastSweep(): Promise<DriftSweepRecord | undefined> {
    const item = strip<DriftSweepRecord & { type: string }>(await this.table.get(LAST_SWEEP_KEY));
    if (!item) return undefined;
    const { type: _type, ...rest } = item;
    return rest;
  }

  async putLastSweep(record: DriftSweepRecord): Promise<void> {
    await this.table.doc.send(new PutCommand({ TableName: this.table.tableName, Item: { ...LAST_SWEEP_KEY, type: 'drift-sweep', ...record } }));
  }
}
