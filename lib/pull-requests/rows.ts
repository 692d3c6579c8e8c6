/**
 * The summary's rows from a plan-only run's per-target results: counts from the resource changes
 * (a replacement counts one to add and one to destroy, as Terraform's "Plan:" line does),
 * addresses of destroyed and replaced resources, and the accounts that do not plan pull requests.
 */
import type { PlanRow } from '../domain/pull-request-summary';
import { artifactKeys } from '../domain/runner-contract';
import type { NotAllowedTarget } from './targets';

/** What a plan-only run reports per target (lib/domain/plan-only.ts), as far as the summary reads it. */
export interface TargetResultLike {
  readonly account: string;
  readonly module: string;
  readonly status: 'clean' | 'changes' | 'error' | 'skipped';
  readonly changes?: readonly { readonly address: string; readonly action: string }[];
  readonly moreChanges?: number;
  readonly error?: string;
  readonly skippedBecause?: string;
}

/** Rows for the summary; `stageOf` names each account's stage, `logUrl` links a module's log. */
export function planRowsOf(
  results: readonly TargetResultLike[],
  notAllowed: readonly NotAllowedTarget[],
  stageOf: (account: string) => string,
  logUrl?: (account: string, module: string) => string | undefined,
): PlanRow[] {
  const rows: PlanRow[] = results.map((r) => {
    const link = logUrl?.(r.account, r.module);
    const base = { stage: stageOf(r.account), account: r.account, module: r.module, ...(link ? { logUrl: link } : {}) };
    if (r.status === 'error') return { ...base, status: 'failed', add: 0, change: 0, destroy: 0, reason: (r.error ?? 'the plan failed').split('\n')[0]!.slice(0, 300) };
    if (r.status === 'skipped') return { ...base, status: 'skipped', add: 0, change: 0, destroy: 0, reason: r.skippedBecause ?? 'not planned' };
    if (r.status === 'clean') return { ...base, status: 'clean', add: 0, change: 0, destroy: 0 };
    let add = 0;
    let change = 0;
    let destroy = 0;
    const destroyed: string[] = [];
    const replaced: string[] = [];
    for (const c of r.changes ?? []) {
      if (c.action === 'create') add += 1;
      else if (c.action === 'update') change += 1;
      else if (c.action === 'delete') {
        destroy += 1;
        destroyed.push(c.address);
      } else if (c.action === 'replace') {
        add += 1;
        destroy += 1;
        replaced.push(c.address);
      }
    }
    return {
      ...base,
      status: 'changes',
      add,
      change,
      destroy,
      ...(destroyed.length ? { destroyed } : {}),
      ...(replaced.length ? { replaced } : {}),
      // The runner keeps the first changes (destroys first) and counts the rest.
      ...(r.moreChanges ? { reason: `and ${r.moreChanges} more changes, in the log` } : {}),
    };
  });
  for (const n of notAllowed) {
    rows.push({ stage: n.stage, account: n.account, module: n.module, status: 'not-allowed', add: 0, change: 0, destroy: 0, reason: 'this account does not plan pull requests (pullRequestPlans)' });
  }
  return rows;
}

/**
 * Where each module's plan log is, from a plan-only run's item list (`artifactKeys.planOnlyItems`):
 * each item is one runner task, which writes one log for its account's modules at
 * `artifactKeys.log(task, account, 'plan')`. Answers the key of an account's module, or undefined
 * for one no item names (not planned, skipped) and when the list is not of that shape.
 */
export function planLogKeysOf(items: unknown): (account: string, module: string) => string | undefined {
  const keys = new Map<string, string>();
  for (const item of Array.isArray(items) ? (items as unknown[]) : []) {
    const { task, account } = (item ?? {}) as { task?: unknown; account?: { name?: unknown; modules?: unknown } };
    if (typeof task !== 'string' || typeof account?.name !== 'string') continue;
    const key = artifactKeys.log(task, account.name, 'plan');
    for (const module of Array.isArray(account.modules) ? account.modules : []) if (typeof module === 'string') keys.set(`${account.name}\n${module}`, key);
  }
  return (account, module) => keys.get(`${account}\n${module}`);
}
