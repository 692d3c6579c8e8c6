/**
 * `finish`: the last state of every admitted (or failed) execution. Records the final status,
 * leaves the branch queue, releases the branch and wakes the runs queued on it, then tells people
 * how it ended: which account and module failed, why, and the command that replays it.
 *
 * It is given the run's outcome only (status, the caught error, the stage where the definition
 * knows it), never the whole state: the push and everything else come from the run record, so a
 * large push cannot push finish's payload over 256 KiB and end the run without it.
 */
import type { Config } from '../config/schema';
import type { z } from 'zod';
import type { RunRecord, RunRecordStatus } from '../store/run-store';
import type { FinishRequestSchema, FinishResultSchema, RunOutcome } from '../statemachine/contracts';
import type { PipelineDeps } from './deps';
import { parseExecutionInput } from './push';
import { wakeQueue } from './queue';
import { formatNotification, type Notification, type NotificationKind } from '../notify/format';
import { executionConsoleUrl } from '../notify/links';

export type FinishRequest = z.infer<typeof FinishRequestSchema>;
export type FinishResult = z.infer<typeof FinishResultSchema>;

type Json = Record<string, unknown>;

function obj(v: unknown): Json | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
}

/** A caught error's readable cause: Lambda errors carry JSON with `errorMessage`. */
export function causeText(error: unknown): string | undefined {
  const e = obj(error);
  if (!e) return undefined;
  const name = typeof e.Error === 'string' ? e.Error : undefined;
  const cause = typeof e.Cause === 'string' ? e.Cause : undefined;
  let message = cause;
  if (cause) {
    try {
      const parsed = obj(JSON.parse(cause));
      if (parsed && typeof parsed.errorMessage === 'string') message = parsed.errorMessage;
    } catch {
      // a plain text cause
    }
  }
  if (name === 'StageFailed' && message) return message;
  return [name, message].filter(Boolean).join(': ') || undefined;
}

/** Where an account comes in a run: its stage's place in `stageOrder`, then its place in the config. */
function accountRank(config: Config): (account: string) => number {
  return (account) => {
    const i = config.accounts.findIndex((a) => a.name === account);
    const stage = i === -1 ? -1 : config.stageOrder.indexOf(config.accounts[i]!.stage);
    return (stage === -1 ? config.stageOrder.length : stage) * (config.accounts.length + 1) + (i === -1 ? config.accounts.length : i);
  };
}

/** A succeeded run's reason names at most this many accounts; the rest are counted. */
export const MAX_NAMED_ACCOUNTS = 20;

function reasonFor(outcome: RunOutcome, run: RunRecord | undefined, config: Config): string {
  const stage = outcome.stage ?? run?.currentStage;
  const cause = causeText(outcome.error);
  switch (outcome.status) {
    case 'SUCCEEDED': {
      const applied = Object.values(run?.accounts ?? {}).flatMap((a) => a.modules.filter((m) => m.status === 'applied').map(() => a.account));
      if (applied.length === 0) return 'nothing to deploy: no module changed since its last apply';
      const rank = accountRank(config);
      const accounts = [...new Set(applied)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
      // The reason is stored on the run item and is finish's output: it must not grow with the fleet.
      const more = accounts.length > MAX_NAMED_ACCOUNTS ? ` and ${accounts.length - MAX_NAMED_ACCOUNTS} more account(s)` : '';
      return `applied ${applied.length} module(s) in ${accounts.slice(0, MAX_NAMED_ACCOUNTS).join(', ')}${more}`;
    }
    case 'REJECTED':
      return `rejected at stage ${stage ?? '?'}${cause ? `: ${cause}` : ''}`;
    case 'EXPIRED':
      return `the approval for stage ${stage ?? '?'} expired; nothing was applied there`;
    case 'FAILED':
      return cause ?? 'the run failed';
  }
}

function shortSha(sha: string | undefined): string {
  return sha ? sha.slice(0, 12) : '?';
}

const KIND: Record<RunOutcome['status'], NotificationKind> = { SUCCEEDED: 'succeeded', FAILED: 'failed', REJECTED: 'rejected', EXPIRED: 'expired' };

/** The run notification: the shared format, plus modules removed from the repository. */
export function runNotification(args: {
  execution: string;
  executionId: string;
  status: RunOutcome['status'];
  reason: string;
  stage?: string;
  repository?: string;
  branch?: string;
  commit?: string;
  pusher?: string;
  message?: string;
  run?: RunRecord;
}): Notification {
  const failed = Object.values(args.run?.accounts ?? {})
    .filter((a) => !a.ok)
    .flatMap((a) => {
      const bad = a.modules.filter((m) => !['planned', 'applied'].includes(m.status));
      return bad.length === 0 ? [{ account: a.account, error: a.reason ?? 'failed' }] : bad.map((m) => ({ account: a.account, module: m.path, error: `${m.status}${a.reason ? `: ${a.reason}` : ''}` }));
    });
  const notification = formatNotification(
    KIND[args.status],
    { execution: args.execution, repository: args.repository, branch: args.branch, commit: args.commit, pusher: args.pusher, message: args.message, stage: args.stage, reason: args.reason, failed },
    // The console link exists only for real executions (an ARN), not for local ones.
    { console: args.executionId.startsWith('arn:') ? executionConsoleUrl(args.executionId) : undefined },
  );
  const removed = args.run?.removed ?? [];
  const lines = args.run ? waveLines(args.run) : [];
  if (removed.length > 0) {
    lines.push('modules removed from the repository (their resources were NOT destroyed):');
    for (const r of removed) lines.push(`  - account ${r.account}, module ${r.module} (last applied at ${shortSha(r.lastAppliedCommit)})`);
  }
  if (lines.length === 0) return notification;
  return { subject: notification.subject, text: `${notification.text}\n${lines.join('\n')}\n` };
}

/** At most this many account names per wave line of a notification; the rest are counted. */
const NAMES_PER_WAVE_LINE = 10;

function names(list: readonly string[]): string {
  const more = list.length > NAMES_PER_WAVE_LINE ? ` and ${list.length - NAMES_PER_WAVE_LINE} more` : '';
  return `${list.slice(0, NAMES_PER_WAVE_LINE).join(', ')}${more}`;
}

/**
 * The notification's lines about stages that rolled out in waves: per wave, how many accounts
 * ran, which failed and how many never started.
 */
export function waveLines(run: Pick<RunRecord, 'stages' | 'accounts'>): string[] {
  const lines: string[] = [];
  for (const stage of run.stages ?? []) {
    const count = stage.accounts.reduce((n, a) => Math.max(n, (a.wave ?? 0) + 1), 1);
    if (count < 2) continue;
    lines.push(`stage ${stage.name} in ${count} waves:`);
    for (let wave = 0; wave < count; wave++) {
      const members = stage.accounts.filter((a) => (a.wave ?? 0) === wave).map((a) => a.name);
      const ran = members.filter((a) => run.accounts[a] !== undefined);
      const failed = ran.filter((a) => run.accounts[a]?.ok === false);
      const notStarted = members.length - ran.length;
      const parts = [`${ran.length} of ${members.length} account(s) ran`, failed.length ? `failed: ${names(failed)}` : '', notStarted ? `${notStarted} never started` : ''];
      lines.push(`  - wave ${wave + 1}: ${parts.filter(Boolean).join('; ')}`);
    }
  }
  return lines;
}

/** Runs the finish action. */
export async function finish(req: FinishRequest, deps: PipelineDeps): Promise<FinishResult> {
  const { outcome } = req;
  const execution = req.executionName;
  const run = await deps.store.getRunRecord(execution);
  const reason = reasonFor(outcome, run, deps.config);
  const status: RunRecordStatus = outcome.status;

  if (run) {
    await deps.store.finishRun(execution, status, { reason, finishedAt: deps.clock().toISOString() });
    await deps.store.releaseLock(run.repository, run.branch, execution);
    await deps.store.leaveQueue(run.repository, run.branch, run.sequence, execution);
    await wakeQueue(deps, run.repository, run.branch, execution);
  }

  const push = pushOfRecord(run);
  const { subject, text } = runNotification({
    execution,
    executionId: req.executionId,
    status: outcome.status,
    reason,
    stage: outcome.stage ?? run?.currentStage,
    repository: run?.repository,
    branch: run?.branch,
    commit: run?.commit,
    pusher: run?.pusher,
    message: push?.headCommit.message,
    // finishRun changed only the status and reason; the accounts and removed modules are as read.
    run,
  });
  try {
    await deps.notifier.publish(subject, text, { status, ...(run ? { repository: run.repository, commit: run.commit } : {}), execution });
  } catch (err) {
    // The run's end is recorded and the branch released; a lost message must not fail the run.
    deps.logger.error('could not send the run notification', { execution, error: err instanceof Error ? { name: err.name, message: err.message } : String(err) });
  }
  deps.logger.info('run finished', { execution, status, reason });
  return { status, reason };
}

/** The push a run record keeps (its input, as admit stored it), or undefined. */
export function pushOfRecord(run: Pick<RunRecord, 'input'> | undefined): ReturnType<typeof parseExecutionInput>['push'] | undefined {
  if (!run?.input) return undefined;
  try {
    return parseExecutionInput(JSON.parse(run.input)).push;
  } catch {
    return undefined;
  }
}
