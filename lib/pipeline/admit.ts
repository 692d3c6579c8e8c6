/**
 * `admit`: the first state of every execution, and again each time a waiting one is woken.
 *
 * One run per repository branch at a time, in push order (invariants 1 and 2):
 * - the same push twice (EventBridge delivers at least once) is a DUPLICATE and touches nothing;
 * - a push joins its branch queue;
 * - which push is newer comes from git, not from arrival ({@link PushOrder}): the `before` chain,
 *   then ancestry, and the arrival sequence only where git cannot tell;
 * - a push is SUPERSEDED, before it started, when a newer push is queued or was already
 *   admitted: the newer run plans every change since each target's last applied commit, so
 *   nothing this push carried is lost; it says by which run;
 * - it is ADMITTED when no newer push is queued and no live execution holds the branch; the
 *   lease's generation it gets is its fencing token (`check-lease` compares it before every task);
 * - otherwise it WAITs: the state machine then waits on a callback (./queue.ts) until the run
 *   that releases the branch wakes it, and calls admit again.
 * An execution that stopped (aborted, timed out) while queued or holding the branch is noticed
 * here through {@link ExecutionTracker.isRunning} and removed, so no lock stays stuck.
 */
import type { AdmitResult } from '../statemachine/contracts';
import { AdmitRequestSchema } from '../statemachine/contracts';
import type { z } from 'zod';
import { pushSequence } from '../planning/targets';
import { PushOrder, type OrderedPush } from '../planning/push-order';
import type { BranchLock, CommitRecord, QueueEntry } from '../store/run-store';
import { mapLimit } from '../domain/concurrency';
import type { PipelineDeps } from './deps';
import { PipelineError, RunAlreadyFinishedError } from './errors';
import { parseExecutionInput, repositoryOf } from './push';
import type { PushEvent } from '../domain/push-event';

export type AdmitRequest = z.infer<typeof AdmitRequestSchema>;

interface Ctx {
  readonly deps: PipelineDeps;
  readonly execution: string;
  readonly executionId: string;
  readonly repository: string;
  readonly branch: string;
  readonly commit: string;
  readonly before: string;
  readonly sequence: string;
  readonly push: PushEvent;
}

/** Runs the admit action. */
export async function admit(req: AdmitRequest, deps: PipelineDeps): Promise<AdmitResult> {
  const { push, replayOf } = parseExecutionInput(req.input);
  const repo = repositoryOf(deps.config, push);
  const ctx: Ctx = {
    deps,
    execution: req.executionName,
    executionId: req.executionId,
    repository: repo.fullName,
    branch: push.branch,
    commit: push.after,
    before: push.before,
    sequence: pushSequence(push),
    push,
  };
  const base = { runId: ctx.execution, repository: ctx.repository, branch: ctx.branch, commit: ctx.commit };

  const existing = await deps.store.getRunItem(ctx.execution);
  if (existing) {
    // A poll of a waiting run, or a retried invocation: answer from what is recorded.
    if (existing.status === 'RUNNING') return { ...base, decision: 'ADMITTED', generation: existing.generation ?? 0 };
    if (existing.status === 'SUPERSEDED') return { ...base, decision: 'SUPERSEDED', carriedBy: existing.carriedBy };
    if (existing.status !== 'WAITING') throw new RunAlreadyFinishedError(ctx.execution, existing.status);
  } else {
    const carrier = await claimPush(ctx, replayOf);
    if (carrier) {
      deps.logger.info('duplicate push: already carried by another run', { execution: ctx.execution, carriedBy: carrier.execution, commit: ctx.commit });
      return { ...base, decision: 'DUPLICATE', carriedBy: carrier.execution };
    }
    await deps.store.createRun({
      execution: ctx.execution,
      executionId: ctx.executionId,
      repository: ctx.repository,
      branch: ctx.branch,
      commit: ctx.commit,
      sequence: ctx.sequence,
      status: 'WAITING',
      pusher: push.pusher,
      receivedAt: push.receivedAt,
      startedAt: req.startedAt,
      input: JSON.stringify(req.input),
      replayOf,
    });
  }
  return decide(ctx, base);
}

/**
 * Claims the push for this execution. Returns the record of the execution that already carries
 * it (a duplicate), or undefined once this execution carries it.
 */
async function claimPush(ctx: Ctx, replayOf: string | undefined): Promise<CommitRecord | undefined> {
  const { store, executions } = ctx.deps;
  for (let attempt = 0; attempt < 5; attempt++) {
    const current = await store.getCommit(ctx.repository, ctx.branch, ctx.commit);
    if (current?.execution === ctx.execution) return undefined;
    if (current) {
      let takeOver = false;
      if (replayOf) {
        // An operator's replay carries the push from now on, unless its carrier still runs.
        takeOver = !(await executions.isRunning(current.executionId));
      } else if (current.sequence !== ctx.sequence) {
        // The same commit pushed again after a newer push (a revert) is a new deploy; pushed again
        // with nothing in between, it has nothing new to deploy, unless its run never deployed it.
        const lock = await store.getLock(ctx.repository, ctx.branch);
        takeOver = (lock.joinedHighWater !== undefined && lock.joinedHighWater > current.sequence) || (await carrierGaveUp(ctx, current));
      }
      if (!takeOver) return current;
    }
    if (await store.claimCommit(ctx.repository, ctx.branch, ctx.commit, { execution: ctx.execution, executionId: ctx.executionId, sequence: ctx.sequence }, current)) {
      await store.joinQueue({
        repository: ctx.repository,
        branch: ctx.branch,
        sequence: ctx.sequence,
        execution: ctx.execution,
        executionId: ctx.executionId,
        commit: ctx.commit,
        before: ctx.before,
      });
      return undefined;
    }
  }
  throw new PipelineError(`could not claim commit ${ctx.commit} of ${ctx.repository} ${ctx.branch} for ${ctx.execution}: other executions kept changing it`);
}

/** Run statuses that end without deploying the push: pushing the commit again deploys it. */
const GAVE_UP = new Set(['FAILED', 'REJECTED', 'EXPIRED', 'ABORTED']);

/**
 * Whether the execution carrying a commit ended without deploying it (failed, rejected, expired,
 * aborted) or was left RUNNING or WAITING with no execution behind it. DUPLICATE is only for a
 * commit whose run succeeded or still runs.
 */
async function carrierGaveUp(ctx: Ctx, carrier: CommitRecord): Promise<boolean> {
  const run = await ctx.deps.store.getRunItem(carrier.execution);
  if (!run) return false;
  if (GAVE_UP.has(run.status)) return true;
  if (run.status === 'RUNNING' || run.status === 'WAITING') return !(await ctx.deps.executions.isRunning(carrier.executionId));
  return false;
}

async function decide(ctx: Ctx, base: Omit<AdmitResult, 'decision'>): Promise<AdmitResult> {
  const { store, executions, logger } = ctx.deps;
  const lock = await store.getLock(ctx.repository, ctx.branch);
  if (lock.holder === ctx.execution) return admitted(ctx, base, lock.generation ?? 0);

  let entries = await store.listQueue(ctx.repository, ctx.branch);
  if (!entries.some((e) => e.execution === ctx.execution)) {
    // Our entry went missing (removed as stale while this execution was paused): join again.
    await store.joinQueue({ repository: ctx.repository, branch: ctx.branch, sequence: ctx.sequence, execution: ctx.execution, executionId: ctx.executionId, commit: ctx.commit, before: ctx.before });
    entries = await store.listQueue(ctx.repository, ctx.branch);
  }
  // Stopped executions leave the queue first, whatever this one's fate: an execution aborted
  // while it waited is recorded ABORTED even when this one is superseded at once.
  entries = await pruneStopped(ctx, entries, lock);
  const admittedPushes = (lock.admitted ?? []).filter((a) => a.execution !== ctx.execution);
  const me: OrderedPush = { commit: ctx.commit, before: ctx.before, sequence: ctx.sequence };
  const reader = ctx.deps.repoReader(ctx.push);
  const order = new PushOrder([me, ...entries, ...admittedPushes], (a, d) => reader.isAncestor(a, d), ctx.repository);

  // A push older than one already admitted never runs: that run (or a newer one) carries it.
  for (const a of admittedPushes) {
    if (await order.isNewer(a, me)) return supersede(ctx, base, a.execution);
  }

  const others = entries.filter((e) => e.execution !== ctx.execution);
  const newer: QueueEntry[] = [];
  for (const e of others) if (await order.isNewer(e, me)) newer.push(e);
  if (newer.length > 0) {
    // Name the newest of them: it is the one that will carry this push.
    let carrier = newer[0]!;
    for (const e of newer.slice(1)) if (await order.isNewer(e, carrier)) carrier = e;
    return supersede(ctx, base, carrier.execution);
  }

  // Every other queued push is older: each will find this one and step aside. Only a live
  // holder of the branch makes this one wait.
  const fresh = await store.getLock(ctx.repository, ctx.branch);
  if (fresh.holder && fresh.holder !== ctx.execution) {
    if (await executions.isRunning(fresh.holderId ?? '')) return wait(ctx, base);
    await releaseStopped(ctx, fresh.holder, fresh.holderSequence);
  }
  const generation = await store.acquireLock(ctx.repository, ctx.branch, {
    execution: ctx.execution,
    executionId: ctx.executionId,
    sequence: ctx.sequence,
    commit: ctx.commit,
    before: ctx.before,
  });
  if (generation === undefined) return wait(ctx, base);
  logger.info('run admitted', { execution: ctx.execution, repository: ctx.repository, branch: ctx.branch, commit: ctx.commit, generation });
  return admitted(ctx, base, generation);
}

/** Removes queue entries (and the lock) of executions that no longer run; returns the rest in order. */
async function pruneStopped(ctx: Ctx, entries: QueueEntry[], lock: BranchLock): Promise<QueueEntry[]> {
  const others = entries.filter((e) => e.execution !== ctx.execution);
  const alive = await mapLimit(others, 4, (e) => ctx.deps.executions.isRunning(e.executionId));
  const stopped = new Set<string>();
  for (const [i, e] of others.entries()) {
    if (alive[i]) continue;
    stopped.add(e.execution);
    if (lock.holder === e.execution) await releaseStopped(ctx, e.execution, e.sequence);
    else {
      await ctx.deps.store.leaveQueue(ctx.repository, ctx.branch, e.sequence, e.execution);
      await ctx.deps.store.finishRun(e.execution, 'ABORTED', { reason: 'the execution stopped while waiting for its branch', finishedAt: ctx.deps.clock().toISOString() });
      ctx.deps.logger.warn('removed a stopped execution from the branch queue', { execution: e.execution, by: ctx.execution });
    }
  }
  return entries.filter((e) => !stopped.has(e.execution));
}

/** Releases the branch held by an execution that stopped without finishing. */
async function releaseStopped(ctx: Ctx, holder: string, holderSequence: string | undefined): Promise<void> {
  const { store, logger, clock } = ctx.deps;
  if (await store.releaseLock(ctx.repository, ctx.branch, holder)) {
    logger.warn('released the branch held by a stopped execution', { holder, by: ctx.execution, repository: ctx.repository, branch: ctx.branch });
  }
  if (holderSequence) await store.leaveQueue(ctx.repository, ctx.branch, holderSequence, holder);
  await store.finishRun(holder, 'ABORTED', { reason: 'the execution stopped while holding its branch; the branch was released', finishedAt: clock().toISOString() });
}

async function admitted(ctx: Ctx, base: Omit<AdmitResult, 'decision'>, generation: number): Promise<AdmitResult> {
  await ctx.deps.store.updateRun(ctx.execution, { status: 'RUNNING', admittedAt: ctx.deps.clock().toISOString(), generation });
  return { ...base, decision: 'ADMITTED', generation };
}

async function wait(ctx: Ctx, base: Omit<AdmitResult, 'decision'>): Promise<AdmitResult> {
  const polls = await ctx.deps.store.countPoll(ctx.execution);
  return { ...base, decision: 'WAIT', polls };
}

async function supersede(ctx: Ctx, base: Omit<AdmitResult, 'decision'>, carriedBy: string | undefined): Promise<AdmitResult> {
  const { store, logger, clock } = ctx.deps;
  await store.leaveQueue(ctx.repository, ctx.branch, ctx.sequence, ctx.execution);
  await store.finishRun(ctx.execution, 'SUPERSEDED', {
    reason: `a newer push to ${ctx.branch}${carriedBy ? ` (run ${carriedBy})` : ''} deploys every change of this one`,
    carriedBy,
    finishedAt: clock().toISOString(),
  });
  logger.info('run superseded', { execution: ctx.execution, carriedBy });
  return { ...base, decision: 'SUPERSEDED', carriedBy };
}
