/**
 * `record-account`: the last state of each account iteration. Reads the `result.json` the
 * runner wrote per module, records each module's result, moves applied targets forward (never
 * backwards), and answers the compact outcome the stage gate reads.
 */
import { createHash } from 'node:crypto';
import type { z } from 'zod';
import { APPLY_RECORD_ID_PREFIX, auditRecord } from '../domain/audit';
import { artifactKeys, ModuleResultSchema, type ModuleResult } from '../domain/runner-contract';
import { capAddresses, capSummary } from '../domain/plan-summary';
import { mapLimit } from '../domain/concurrency';
import { heldBack } from '../domain/replan';
import type { AccountOutcome, ModuleOutcome, RecordAccountRequestSchema } from '../statemachine/contracts';
import type { PipelineDeps } from './deps';
import { PipelineError } from './errors';

export type RecordAccountRequest = z.infer<typeof RecordAccountRequestSchema>;

const READ_CONCURRENCY = 8;

/** The module status that means success in each phase. */
const SUCCESS: Record<RecordAccountRequest['phase'], ModuleResult['status']> = {
  plan: 'planned',
  apply: 'applied',
  'plan-and-apply': 'applied',
};

interface Read {
  readonly module: string;
  readonly result?: ModuleResult;
  /** Why there is no usable result. */
  readonly problem?: string;
}

async function readResult(deps: PipelineDeps, req: RecordAccountRequest, module: string): Promise<Read> {
  const key = artifactKeys.result(req.execution, req.account.name, module);
  const body = await deps.artifacts.get(key);
  if (!body) return { module, problem: 'no result was written (the task did not reach this module)' };
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return { module, problem: `${key} is not JSON` };
  }
  const parsed = ModuleResultSchema.safeParse(json);
  if (!parsed.success) return { module, problem: `${key} is not a module result: ${parsed.error.issues[0]?.message ?? ''}` };
  const r = parsed.data;
  // The key has no phase: an apply task that stopped early leaves the plan's result in place.
  if (r.phase !== req.phase || r.commit !== req.source.commit || r.module !== module || r.account !== req.account.name) {
    return { module, problem: 'no result was written for this phase (the task did not reach this module)' };
  }
  return { module, result: r };
}

/** Runs the record-account action. */
export async function recordAccount(req: RecordAccountRequest, deps: PipelineDeps): Promise<AccountOutcome> {
  const run = await deps.store.getRunIdentity(req.execution);
  if (!run) throw new PipelineError(`run ${req.execution} is not in the run table; cannot record account ${req.account.name}`);
  const reads = await mapLimit(req.account.modules, READ_CONCURRENCY, (m) => readResult(deps, req, m));
  const success = SUCCESS[req.phase];
  const now = deps.clock().toISOString();

  const modules: ModuleOutcome[] = [];
  const problems: string[] = [];
  await mapLimit(reads, READ_CONCURRENCY, async (read) => {
    const r = read.result;
    await deps.store.putModuleResult(fitModule({
      execution: req.execution,
      account: req.account.name,
      module: read.module,
      phase: req.phase,
      status: r?.status ?? 'not-run',
      commit: req.source.commit,
      plan: r?.plan,
      planSha256: r?.planSha256,
      ...(r?.skippedBecause ? { skippedBecause: r.skippedBecause } : {}),
      ...(r?.mayChangeAfter?.length ? { mayChangeAfter: r.mayChangeAfter } : {}),
      ...(r?.replan ? { replan: r.replan } : {}),
      ...(r?.policy ? { policy: r.policy } : {}),
      error: r?.error ?? read.problem,
      startedAt: r?.startedAt,
      finishedAt: r?.finishedAt ?? now,
    }));
    if (r?.status === 'applied') {
      const moved = await deps.store.recordApplied({
        repository: run.repository,
        account: req.account.name,
        module: read.module,
        commit: req.source.commit,
        sequence: run.sequence,
        generation: run.generation,
        execution: req.execution,
      });
      if (!moved) deps.logger.info('target already at this or a newer push; record left as it is', { account: req.account.name, module: read.module });
    }
  });
  // Held back for a (new) approval: not a failure, the stage plans them again. In an apply, their
  // plans changed after their upstreams applied; in a plan-and-apply, the plan policies asked for it.
  const held =
    req.phase === 'plan'
      ? new Map()
      : heldBack(
          reads.map((r) => ({
            path: r.module,
            status: r.result?.status ?? 'not-run',
            skippedBecause: r.result?.skippedBecause,
            policyStatus: r.result?.policy?.status,
            replanned: r.result?.replan !== undefined,
          })),
        );
  for (const read of reads) {
    const r = read.result;
    const status = r?.status ?? 'not-run';
    modules.push({
      path: read.module,
      status,
      plan: r?.plan,
      planSha256: r?.planSha256,
      ...(r?.skippedBecause ? { skippedBecause: r.skippedBecause } : {}),
      ...(r?.mayChangeAfter?.length ? { mayChangeAfter: r.mayChangeAfter } : {}),
      ...(r?.replan ? { replan: r.replan } : {}),
      ...(r?.policy ? { policy: r.policy } : {}),
    });
    if (status !== success && !held.has(read.module)) problems.push(`${read.module} ${status}${read.result?.error ? `: ${read.result.error}` : read.problem ? `: ${read.problem}` : ''}`);
  }

  const ok = req.ok && problems.length === 0;
  let reason: string | undefined;
  if (!ok) {
    const taskError = req.error ? `the runner task failed (${req.error.Error}${req.error.Cause ? `: ${shortCause(req.error.Cause)}` : ''})` : undefined;
    reason = [taskError, ...problems].filter(Boolean).join('; ') || 'the runner task failed';
  }
  // A re-plan round's task runs only the modules held back; the modules applied earlier in this
  // run stay applied, so the account's outcome (read by finish and show) keeps them. Rounds exist
  // only after a first phase (plan, or a plan-and-apply that held modules back), so a plan-and-apply
  // task, always the first of its stage, needs no read.
  const previous = req.phase === 'plan-and-apply' ? undefined : await deps.store.getAccountOutcome(req.execution, req.account.stage, req.account.name);
  const inTask = new Set(req.account.modules);
  const appliedBefore = (previous?.modules ?? []).filter((m) => m.status === 'applied' && !inTask.has(m.path));
  if (appliedBefore.length > 0) {
    modules.push(...appliedBefore);
    modules.sort((a, b) => a.path.localeCompare(b.path));
  }
  const outcome = fitOutcome({ account: req.account.name, ok, phase: req.phase, modules, ...(reason ? { reason } : {}), ...(req.fence !== undefined ? { fence: req.fence } : {}), ...(req.account.wave !== undefined ? { wave: req.account.wave } : {}) });
  await deps.store.setAccountOutcome(req.execution, req.account.stage, outcome);
  if (req.phase !== 'plan') await auditApply(deps, req, run, reads, ok, reason);
  return outcome;
}

/**
 * The most an account's outcome, or one module's record, may take as JSON. The outcome is one
 * run-table item (DynamoDB's limit is 400 KB per item) and the output of a Map iteration (Step
 * Functions' limit is 256 KiB per state payload:
 * https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html); a module's record is
 * one item. Both stay well under; each module's `result.json` in the artifacts keeps every detail.
 */
export const OUTCOME_MAX_BYTES = 96 * 1024;

/** The parts of a module's outcome or record that grow with the plan. */
type Details = Pick<ModuleOutcome, 'plan' | 'policy' | 'replan'>;

/** `m` with at most `max` addresses per list and per policy finding, and `max` differences; counts stay exact. */
function trimDetails<T extends Details>(m: T, max: number): T {
  return {
    ...m,
    ...(m.plan ? { plan: capSummary(m.plan, max) } : {}),
    // The verdict stays whole; each finding names fewer addresses (and says how many more).
    ...(m.policy ? { policy: { ...m.policy, findings: m.policy.findings.map((f) => ({ ...f, addresses: capAddresses(f.addresses, max), message: max === 0 ? f.message.slice(0, 200) : f.message })) } } : {}),
    ...(m.replan
      ? {
          replan: {
            ...m.replan,
            plan: capSummary(m.replan.plan, max),
            ...(m.replan.approvedPlan ? { approvedPlan: capSummary(m.replan.approvedPlan, max) } : {}),
            ...(m.replan.differences ? { differences: capAddresses(m.replan.differences, max) } : {}),
          },
        }
      : {}),
  };
}

/** `value` as it is when it fits `maxBytes` as JSON, else trimmed in steps (20, 5, then 0 per list) until it does. */
function fit<T>(value: T, trim: (max: number) => T, maxBytes: number, what: string): T {
  const size = (v: T): number => Buffer.byteLength(JSON.stringify(v), 'utf8');
  if (size(value) <= maxBytes) return value;
  let fitted = value;
  for (const max of [20, 5, 0]) {
    fitted = trim(max);
    if (size(fitted) <= maxBytes) return fitted;
  }
  throw new PipelineError(`${what} takes ${size(fitted)} bytes with every address list left out, over the ${maxBytes} bytes it may take; split its modules across more accounts or runner tasks`);
}

/** The outcome, trimmed to fit {@link OUTCOME_MAX_BYTES}. */
export function fitOutcome(outcome: AccountOutcome, maxBytes = OUTCOME_MAX_BYTES): AccountOutcome {
  return fit(outcome, (max) => ({ ...outcome, modules: outcome.modules.map((m) => trimDetails(m, max)) }), maxBytes, `the outcome of account ${outcome.account}`);
}

/** A module's record, trimmed to fit {@link OUTCOME_MAX_BYTES}. */
function fitModule<T extends Details & { account: string; module: string }>(record: T): T {
  return fit(record, (max) => trimDetails(record, max), OUTCOME_MAX_BYTES, `the record of module ${record.module} in account ${record.account}`);
}

/**
 * Appends the account's apply to the audit trail: which plans (by SHA-256) were applied at
 * which commit, and what became of each module. Written before the outcome is answered, so a
 * failed write fails the step (the state machine retries it) rather than losing the record.
 * Exactly once: the record's time is the last module's finish and its id a hash of the run, the
 * account and each module's result (finish time included), so a retried step writes the same key
 * and the trail keeps the first (lib/audit/s3.ts); a redriven apply finishes at other times, so
 * it is a record of its own.
 */
async function auditApply(
  deps: PipelineDeps,
  req: RecordAccountRequest,
  run: { repository?: string; branch?: string },
  reads: readonly Read[],
  ok: boolean,
  reason: string | undefined,
): Promise<void> {
  if (!deps.audit) return;
  const ran = reads.filter((r) => r.result && r.result.status !== 'skipped');
  if (ran.length === 0 && ok) return;
  const finished = ran.map((r) => r.result!.finishedAt).filter((t) => !Number.isNaN(Date.parse(t))).sort();
  const identity = createHash('sha256')
    .update(JSON.stringify([req.execution, req.account.name, req.phase, req.source.commit, ok, reason ?? '', ran.map((r) => [r.module, r.result!.status, r.result!.planSha256 ?? '', r.result!.finishedAt])]))
    .digest('hex');
  await deps.audit.append(
    auditRecord(
      {
        // Without a module's finish time (no module ran), the step's clock: a retry may then add a second record.
        ...(finished.length > 0 ? { id: `${APPLY_RECORD_ID_PREFIX}${identity.slice(0, 32)}`, at: new Date(finished.at(-1)!).toISOString() } : {}),
        kind: 'apply',
        who: 'pipeline',
        channel: deps.auditChannel ?? 'pipeline',
        run: req.execution,
        stage: req.account.stage,
        ...(run.repository ? { repository: run.repository } : {}),
        ...(run.branch ? { branch: run.branch } : {}),
        commit: req.source.commit,
        accounts: [req.account.name],
        plans: ran.filter((r) => r.result?.planSha256).map((r) => ({ account: req.account.name, module: r.module, sha256: r.result!.planSha256!, status: r.result!.status })),
        outcome: ok ? 'succeeded' : 'failed',
        ...(reason ? { detail: reason.slice(0, 2000) } : {}),
      },
      deps.clock(),
    ),
  );
}

/** A readable cause: the ECS stopped reason or exit code rather than the whole task description. */
export function shortCause(cause: string): string {
  try {
    const task = JSON.parse(cause) as Record<string, unknown>;
    const get = (o: Record<string, unknown>, k: string): unknown => o[k] ?? o[k.charAt(0).toLowerCase() + k.slice(1)];
    const containers = (get(task, 'Containers') as Record<string, unknown>[] | undefined) ?? [];
    const exits = containers.map((c) => get(c, 'ExitCode')).filter((x) => typeof x === 'number');
    const stopped = get(task, 'StoppedReason');
    const parts = [exits.length ? `exit code ${exits.join(', ')}` : undefined, typeof stopped === 'string' ? stopped : undefined].filter(Boolean);
    if (parts.length) return parts.join(', ');
    const msg = get(task, 'ErrorMessage');
    if (typeof msg === 'string') return msg;
  } catch {
    // not JSON: used as it is
  }
  return cause.length > 300 ? `${cause.slice(0, 297)}...` : cause;
}
