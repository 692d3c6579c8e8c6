/**
 * An execution that ends without reaching its finish state still releases its branch and records
 * its outcome. Finish is a state of the execution: an execution stopped by an operator (ABORTED),
 * past its 30-day timeout (TIMED_OUT), or ended by an error no Catch catches (FAILED with
 * `States.DataLimitExceeded` or `States.Runtime`, which `States.ALL` does not match) never gets
 * there. Step Functions sends a "Step Functions Execution Status Change" event to the default
 * event bus for each of them; a rule forwards those of the pipeline to the pipeline function,
 * which calls {@link executionEnded}. The local mode calls it the same way when an execution ends.
 *
 * It is safe on any ended execution: finish may have run (a run that failed in its Fail state
 * ends FAILED too), in which case the record is final already and the branch released, and only
 * runs still waiting on the branch are woken. An execution without a run record (a Distributed
 * Map child, an execution that failed before admit recorded it) is ignored.
 */
import type { z } from 'zod';
import type { ExecutionEndedResultSchema, ExecutionStatusChange } from '../statemachine/contracts';
import type { RunRecordStatus } from '../store/run-store';
import type { PipelineDeps } from './deps';
import { pushOfRecord, runNotification } from './finish';
import { pullRequestRunEnded } from './pull-request';
import { wakeQueue } from './queue';

export type ExecutionEndedResult = z.infer<typeof ExecutionEndedResultSchema>;

const RECORDED_AS: Record<string, RunRecordStatus> = { FAILED: 'FAILED', TIMED_OUT: 'TIMED_OUT', ABORTED: 'ABORTED' };

function reasonOf(detail: ExecutionStatusChange['detail'], releases = true): string {
  const what = detail.status === 'ABORTED' ? 'the execution was stopped' : detail.status === 'TIMED_OUT' ? 'the execution timed out' : 'the execution failed';
  const why = [detail.error, detail.cause].filter((v): v is string => typeof v === 'string' && v.length > 0).join(': ');
  return `${what} before it could record its end${why ? ` (${why.slice(0, 500)})` : ''}${releases ? '; its branch was released' : ''}`;
}

/** Handles one status change event; see the file comment. */
export async function executionEnded(event: ExecutionStatusChange, deps: PipelineDeps): Promise<ExecutionEndedResult> {
  const { detail } = event;
  const execution = detail.name;
  const nothing: ExecutionEndedResult = { execution, recorded: false, released: false, woken: [] };
  const status = RECORDED_AS[detail.status];
  if (!status) {
    deps.logger.info('execution status change ignored: the execution has not ended', { execution, status: detail.status });
    return nothing;
  }
  // A pull request's plan-only run that ended before its finish step: its check run fails.
  if (await pullRequestRunEnded(execution, detail.status, reasonOf(detail, false), deps, deps.pullRequests)) return nothing;
  const run = await deps.store.getRunRecord(execution);
  // Names are unique per state machine; the ARN check keeps another machine's execution of the same name out.
  if (!run || (run.executionId.startsWith('arn:') && run.executionId !== detail.executionArn)) {
    deps.logger.info('execution status change ignored: no run of this execution', { execution, executionArn: detail.executionArn });
    return nothing;
  }
  const reason = reasonOf(detail);
  const recorded = await deps.store.finishRun(execution, status, { reason, finishedAt: deps.clock().toISOString() });
  const released = await deps.store.releaseLock(run.repository, run.branch, execution);
  await deps.store.leaveQueue(run.repository, run.branch, run.sequence, execution);
  const woken = await wakeQueue(deps, run.repository, run.branch, execution);
  if (recorded || released) deps.logger.warn('an execution ended without finish: its outcome was recorded and its branch released', { execution, status, recorded, released, woken });
  if (recorded) {
    const { subject, text } = runNotification({
      execution,
      executionId: detail.executionArn,
      status: 'FAILED',
      reason,
      stage: run.currentStage,
      repository: run.repository,
      branch: run.branch,
      commit: run.commit,
      pusher: run.pusher,
      message: pushOfRecord(run)?.headCommit.message,
      run,
    });
    try {
      await deps.notifier.publish(subject, text, { status, repository: run.repository, commit: run.commit, execution });
    } catch (err) {
      deps.logger.error('could not send the run notification', { execution, error: err instanceof Error ? { name: err.name, message: err.message } : String(err) });
    }
  }
  return { execution, recorded, released, woken };
}
