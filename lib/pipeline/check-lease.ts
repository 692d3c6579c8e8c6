/**
 * `check-lease`: the first state of every account's iteration, immediately before its runner
 * task starts (and before each retry of it). The run must still hold its branch with the lease
 * generation it was admitted with (its fencing token) and still be RUNNING. A run that was
 * aborted, superseded, replayed or lost its branch therefore never starts another task, plan
 * or apply, whatever its execution still has in flight.
 */
import type { z } from 'zod';
import type { CheckLeaseRequestSchema, CheckLeaseResultSchema } from '../statemachine/contracts';
import type { PipelineDeps } from './deps';
import { LeaseLostError } from './errors';

export type CheckLeaseRequest = z.infer<typeof CheckLeaseRequestSchema>;
export type CheckLeaseResult = z.infer<typeof CheckLeaseResultSchema>;

/** Runs the check-lease action. */
export async function checkLease(req: CheckLeaseRequest, deps: PipelineDeps): Promise<CheckLeaseResult> {
  const run = await deps.store.getRunIdentity(req.execution);
  if (!run) throw new LeaseLostError(req.execution, req.account, 'the run is not in the run table');
  if (run.status !== 'RUNNING') throw new LeaseLostError(req.execution, req.account, `the run is ${run.status}`);
  if (run.generation !== req.generation) {
    throw new LeaseLostError(req.execution, req.account, `the run was admitted with lease generation ${run.generation ?? 'none'}, the task carries ${req.generation}`);
  }
  const lock = await deps.store.getLock(run.repository, run.branch);
  if (lock.holder !== req.execution || lock.generation !== req.generation) {
    throw new LeaseLostError(
      req.execution,
      req.account,
      `the branch is ${lock.holder ? `held by ${lock.holder}` : 'free'} at lease generation ${lock.generation ?? 'none'}, not by this run at generation ${req.generation}`,
    );
  }
  return { generation: req.generation };
}
