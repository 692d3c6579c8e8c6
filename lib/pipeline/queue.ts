/**
 * The callback a queued run waits on, instead of polling.
 *
 * A run that admit tells to WAIT enters WaitForTurn, a `lambda:invoke.waitForTaskToken` state:
 * {@link enqueue} stores its task token with the run's queue entry and returns; the state then
 * waits until someone sends the token back ("Wait for a Callback with Task Token", Step Functions
 * developer guide). Whoever releases the branch (finish, or the execution status change rule when
 * an execution ended without finish) calls {@link wakeQueue}, which sends the token of every run
 * waiting on the branch; each of them runs admit again, which decides in push order which one
 * takes the branch and which ones step aside.
 *
 * A wake-up can race a release: the token is stored first and the lock read after, so either the
 * releaser finds the token, or enqueue finds the branch free and answers its own token at once.
 * A lost wake-up (a status change event is delivered on a best-effort basis) costs at most the
 * state's HeartbeatSeconds: nobody sends heartbeats, so the state times out and admit looks again.
 */
import type { z } from 'zod';
import type { EnqueueRequestSchema, EnqueueResultSchema, WakeOutputSchema } from '../statemachine/contracts';
import type { QueueEntry } from '../store/run-store';
import type { PipelineDeps } from './deps';

export type EnqueueRequest = z.infer<typeof EnqueueRequestSchema>;
export type EnqueueResult = z.infer<typeof EnqueueResultSchema>;
export type WakeOutput = z.infer<typeof WakeOutputSchema>;

function errorFields(err: unknown): { name: string; message: string } | string {
  return err instanceof Error ? { name: err.name, message: err.message } : String(err);
}

/** Runs the enqueue action; see the file comment. */
export async function enqueue(req: EnqueueRequest, deps: PipelineDeps): Promise<EnqueueResult> {
  const { store, executions, logger } = deps;
  const wakeSelf = async (why: string): Promise<EnqueueResult> => {
    await deps.tasks.sendSuccess(req.taskToken, { woken: true, by: req.execution } satisfies WakeOutput);
    logger.info('queued run looks again at once', { execution: req.execution, why });
    return { state: 'woken' };
  };
  const run = await store.getRunIdentity(req.execution);
  // Not waiting (any more): admit answers from the record.
  if (!run || run.status !== 'WAITING') return wakeSelf(`the run is ${run?.status ?? 'not recorded'}`);
  const entry = { repository: run.repository, branch: run.branch, sequence: run.sequence, execution: run.execution };
  // The entry went missing (removed as stale): admit joins the queue again.
  if (!(await store.setQueueToken(entry.repository, entry.branch, entry.sequence, entry.execution, req.taskToken))) return wakeSelf('its queue entry is gone');
  // The token is stored before the lock is read: a release from now on finds it.
  const lock = await store.getLock(run.repository, run.branch);
  const free = !lock.holder || lock.holder === run.execution || !(await executions.isRunning(lock.holderId ?? ''));
  if (free) {
    // Only the one who takes the token sends it: a releaser may have done so meanwhile.
    if (await store.takeQueueToken(entry, req.taskToken)) return wakeSelf('the branch is free');
    return { state: 'woken' };
  }
  logger.info('run queued for its branch', { execution: run.execution, repository: run.repository, branch: run.branch, holder: lock.holder });
  return { state: 'queued' };
}

/**
 * Sends the task token of every run waiting on the branch (but `by`'s own), so each runs admit
 * again. A token that no state waits on any more (timed out, stopped) is dropped. A failure to
 * send is logged and left to the waiting state's heartbeat timeout: the releaser's own work is
 * done and must not be repeated. Returns the runs woken.
 */
export async function wakeQueue(deps: PipelineDeps, repository: string, branch: string, by: string): Promise<string[]> {
  const woken: string[] = [];
  const entries: QueueEntry[] = await deps.store.listQueue(repository, branch);
  for (const entry of entries) {
    const token = entry.token;
    if (!token || entry.execution === by) continue;
    // Taken before it is sent: of two wakers (finish and the status change rule), one sends.
    if (!(await deps.store.takeQueueToken(entry, token))) continue;
    try {
      if (await deps.tasks.sendSuccess(token, { woken: true, by } satisfies WakeOutput)) woken.push(entry.execution);
    } catch (err) {
      deps.logger.error('could not wake a queued run; it looks again when its wait times out', { execution: entry.execution, by, error: errorFields(err) });
    }
  }
  if (woken.length > 0) deps.logger.info('woke the queued runs of the branch', { repository, branch, by, woken });
  return woken;
}
