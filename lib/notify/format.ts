/**
 * The text of run notifications (SNS email, the terminal in the local mode). Plain text, so it
 * reads the same in a mail client and a terminal; links are written out in full.
 */

/** What a notification can say. */
export type NotificationKind = 'started' | 'awaiting-approval' | 'failed' | 'succeeded' | 'rejected' | 'expired';

/** A module that failed, or was refused, in an account. */
export interface FailedTarget {
  readonly account: string;
  readonly module?: string;
  readonly error?: string;
}

/** A module's plan, as shown to approvers. */
export interface PlannedTarget {
  readonly account: string;
  readonly module: string;
  readonly add: number;
  readonly change: number;
  readonly destroy: number;
  /** A remark shown after the counts, such as "plan may change after <upstream> applies". */
  readonly note?: string;
}

/** The run facts a notification is made of. */
export interface NotificationRun {
  readonly execution: string;
  readonly repository?: string;
  readonly branch?: string;
  readonly commit?: string;
  readonly pusher?: string;
  /** First line is used. */
  readonly message?: string;
  /** The stage concerned (the one awaiting approval, failed or rejected). */
  readonly stage?: string;
  readonly reason?: string;
  readonly failed?: readonly FailedTarget[];
  readonly plans?: readonly PlannedTarget[];
  /** Who rejected, with their comment. */
  readonly decisions?: readonly { approver: string; decision: string; comment?: string }[];
}

/** Where the notification points. */
export interface NotificationLinks {
  /** The execution in the Step Functions console. */
  readonly console?: string;
  /** The approval page (awaiting-approval only). */
  readonly approval?: string;
}

/** A formatted notification. */
export interface Notification {
  /** At most 100 characters, one line, ASCII (SNS rejects anything else). */
  readonly subject: string;
  readonly text: string;
}

/** A notification lists at most this many failed modules or plans (SNS messages stop at 256 KB). */
export const MAX_LISTED = 25;

const HEADLINE: Record<NotificationKind, string> = {
  started: 'started',
  'awaiting-approval': 'awaiting approval',
  failed: 'FAILED',
  succeeded: 'succeeded',
  rejected: 'rejected',
  expired: 'approval expired',
};

/** An SNS-safe subject: printable ASCII, one line, at most 100 characters. */
export function safeSubject(text: string): string {
  const clean = text
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/[^\x20-\x7e]/g, '?')
    .replace(/\s+/g, ' ')
    .trim();
  return clean.length <= 100 ? clean : `${clean.slice(0, 97)}...`;
}

function short(sha: string | undefined): string {
  return sha ? sha.slice(0, 7) : '';
}

/** Builds the subject and text of a run notification. */
export function formatNotification(kind: NotificationKind, run: NotificationRun, links: NotificationLinks = {}): Notification {
  const where = [run.repository, run.branch, short(run.commit)].filter(Boolean).join(' ');
  const stagePart = run.stage && (kind === 'awaiting-approval' || kind === 'failed' || kind === 'rejected' || kind === 'expired') ? ` in ${run.stage}` : '';
  const subject = safeSubject(`tfstep: ${HEADLINE[kind]}${stagePart}: ${where || run.execution}`);

  const lines: string[] = [`tfstep run ${run.execution} ${HEADLINE[kind]}${stagePart}.`, ''];
  if (run.repository) lines.push(`repository: ${run.repository}${run.branch ? ` (${run.branch})` : ''}`);
  if (run.commit) lines.push(`commit:     ${run.commit}${run.pusher ? `, pushed by ${run.pusher}` : ''}`);
  const message = run.message?.split('\n')[0]?.trim();
  if (message) lines.push(`message:    ${message}`);
  if (run.reason && kind !== 'succeeded' && kind !== 'started') lines.push(`reason:     ${run.reason}`);

  if (kind === 'failed' && run.failed && run.failed.length > 0) {
    lines.push('', 'failed:');
    for (const f of run.failed.slice(0, MAX_LISTED)) {
      lines.push(`  - account ${f.account}${f.module ? `, module ${f.module}` : ''}`);
      if (f.error) lines.push(`    ${f.error.split('\n')[0]}`);
    }
    if (run.failed.length > MAX_LISTED) lines.push(`  ... and ${run.failed.length - MAX_LISTED} more (tfstep show ${run.execution})`);
  }
  if (kind === 'awaiting-approval' && run.plans && run.plans.length > 0) {
    lines.push('', 'plan:');
    // Destroys first: a long list is cut, and those are what an approver must not miss.
    const plans = [...run.plans.filter((p) => p.destroy > 0), ...run.plans.filter((p) => p.destroy === 0)];
    for (const p of plans.slice(0, MAX_LISTED)) {
      lines.push(`  - ${p.account} ${p.module}: ${p.add} to add, ${p.change} to change, ${p.destroy} to destroy${p.note ? ` (${p.note})` : ''}`);
    }
    if (plans.length > MAX_LISTED) lines.push(`  ... and ${plans.length - MAX_LISTED} more module plan(s) on the approval page`);
  }
  if ((kind === 'rejected' || kind === 'expired') && run.decisions && run.decisions.length > 0) {
    lines.push('', 'decisions:');
    for (const d of run.decisions) lines.push(`  - ${d.approver}: ${d.decision}${d.comment ? ` ("${d.comment}")` : ''}`);
  }

  lines.push('');
  if (kind === 'awaiting-approval') {
    lines.push(links.approval ? `review and decide: ${links.approval}` : `decide with: tfstep approve ${run.execution} (or tfstep reject)`);
  }
  if (links.console) lines.push(`execution:  ${links.console}`);
  if (kind === 'failed') {
    lines.push(`logs:       tfstep logs ${run.execution}${run.failed?.[0] ? ` --account ${run.failed[0].account}` : ''}`);
    lines.push(`replay:     tfstep replay ${run.execution}`);
  }
  return { subject, text: `${lines.join('\n')}\n` };
}

/** One target in a drift notice (the shape of lib/domain/drift.ts `DriftEvent`). */
export interface DriftNoticeEvent {
  readonly kind: 'new' | 'resolved';
  readonly entry: {
    readonly repository: string;
    readonly account: string;
    readonly module: string;
    readonly commit: string;
    readonly changes?: readonly { readonly address: string; readonly action: string }[];
    readonly moreChanges?: number;
    readonly firstSeen?: string;
    readonly checkedAt: string;
  };
}

/** What a drift notice is made of (lib/domain/drift.ts). */
export interface DriftNotice {
  /** The sweep (its execution name). */
  readonly sweep: string;
  readonly at: string;
  /** New and resolved drift, in the order to list them (destroys first, newest first). */
  readonly events: readonly DriftNoticeEvent[];
  /** How the fleet stands after the sweep. */
  readonly counts: Readonly<Record<string, number>>;
}

/**
 * A drift notice: sent only after a sweep that found new drift or resolved drift. Lists at most
 * {@link MAX_LISTED} targets, each with the resources a plan would change to restore the code.
 */
export function formatDriftNotice(notice: DriftNotice): Notification {
  const created = notice.events.filter((e) => e.kind === 'new').length;
  const resolved = notice.events.length - created;
  const parts = [created ? `${created} target(s) drifted` : '', resolved ? `${resolved} resolved` : ''].filter(Boolean).join(', ');
  const subject = safeSubject(`tfstep: drift: ${parts}`);
  const lines: string[] = [`tfstep drift sweep ${notice.sweep} at ${notice.at}: ${parts}.`, ''];
  for (const e of notice.events.slice(0, MAX_LISTED)) {
    const t = e.entry;
    if (e.kind === 'resolved') {
      lines.push(`  - RESOLVED ${t.account} ${t.module} (${t.repository}): clean again at ${short(t.commit)}`);
      continue;
    }
    lines.push(`  - DRIFTED ${t.account} ${t.module} (${t.repository}), first seen ${t.firstSeen ?? t.checkedAt}; a plan at ${short(t.commit)} would:`);
    for (const c of t.changes ?? []) lines.push(`      ${c.action} ${c.address}`);
    if (t.moreChanges) lines.push(`      ... and ${t.moreChanges} more`);
  }
  if (notice.events.length > MAX_LISTED) lines.push(`  ... and ${notice.events.length - MAX_LISTED} more target(s) (tfstep drift)`);
  const counts = Object.entries(notice.counts)
    .map(([k, v]) => `${v} ${k}`)
    .join(', ');
  lines.push('', `fleet:      ${counts}`, 'report:     tfstep drift', 'fix:        push code that matches, or import or revert the change (docs/drift.md)');
  return { subject, text: `${lines.join('\n')}\n` };
}
