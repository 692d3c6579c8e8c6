import { formatNotification, type NotificationKind, type NotificationRun } from '../notify/format';
import { executionConsoleUrl } from '../notify/links';
import type { PipelineDeps } from './deps';

/**
 * Publishes a run notification in the shared format. A lost message must never fail the run,
 * so a publish error is logged, not thrown.
 */
export async function notifyRun(deps: PipelineDeps, kind: NotificationKind, run: NotificationRun & { executionId: string }, status: string): Promise<void> {
  const { subject, text } = formatNotification(kind, run, { console: run.executionId.startsWith('arn:') ? executionConsoleUrl(run.executionId) : undefined });
  try {
    await deps.notifier.publish(subject, text, {
      status,
      execution: run.execution,
      ...(run.repository ? { repository: run.repository } : {}),
      ...(run.commit ? { commit: run.commit } : {}),
      ...(run.stage ? { stage: run.stage } : {}),
    });
  } catch (err) {
    deps.logger.error('could not send the run notification', { execution: run.execution, kind, error: err instanceof Error ? { name: err.name, message: err.message } : String(err) });
  }
}
