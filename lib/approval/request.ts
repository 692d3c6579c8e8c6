import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { capAddresses, formatPlanLine } from '../domain/plan-summary';
import { artifactKeys, ModuleResultSchema, PlanSummarySchema, type PolicyFinding } from '../domain/runner-contract';
import { mayChangeMark } from '../domain/replan';
import { ApprovalRequestSchema, ReplanNotesSchema, type AccountItem, type ApprovalRequest, type ReplanNotes } from '../statemachine/contracts';
import { mapLimit } from '../domain/concurrency';
import { readItems } from '../statemachine/items';
import { ApprovalRequestError } from './errors';
import { buildLink, tokenHash } from './signing';
import type { ApprovalStore, NewApproval } from './store';
import {
  silentLogger,
  systemClock,
  type AccountSummary,
  type ApprovalNotifier,
  type ApprovalView,
  type ArtifactReader,
  type Clock,
  type Logger,
  type ModuleSummary,
  type PushInfo,
  type SigningKeyProvider,
  totalsLine,
} from './types';

/** At most this many deleted or replaced addresses are kept per module (the item stays small). */
export const MAX_ADDRESSES = 100;

/** The account summaries an approval record keeps, in bytes of JSON (DynamoDB's item limit is 400 KB). */
export const MAX_SUMMARY_BYTES = 200_000;

/** A notice (email) lists at most this many accounts; the page lists every kept summary. */
export const NOTICE_MAX_ACCOUNTS = 25;

/** What the approval request handler needs. */
export interface ApprovalRequestDeps {
  readonly store: ApprovalStore;
  readonly keys: SigningKeyProvider;
  readonly notifier: ApprovalNotifier;
  /**
   * Public base URL of the approval pages, such as the function URL, or a function that finds
   * it when first needed (the deployed function reads it from SSM: its own URL cannot be
   * passed to it at deploy time without a cycle).
   */
  readonly baseUrl: string | (() => Promise<string>);
  /** Reads the apply items and the plan summaries (`summary.json`). */
  readonly artifacts: ArtifactReader;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Makes approval ids; random by default. */
  readonly newId?: () => string;
}

/** What the handler answers (Step Functions ignores it: the step waits for its token). */
export interface ApprovalRequestResult {
  readonly approvalId: string;
  /** How many approvers were sent their link. */
  readonly notified: number;
  /** True when this was a retried invocation for a token already stored. */
  readonly reused: boolean;
}

/** A new random approval id: 128 bits, hex. */
export function newApprovalId(): string {
  return randomBytes(16).toString('hex');
}

const LoosePushSchema = z.object({
  repository: z.object({ fullName: z.string().optional() }).optional(),
  after: z.string().optional(),
  branch: z.string().optional(),
  pusher: z.string().optional(),
  headCommit: z.object({ message: z.string().optional(), url: z.string().optional() }).optional(),
});

function pushInfo(request: ApprovalRequest): { push: PushInfo; pusher: string } {
  // The run already validated the push; read it loosely so a field added later breaks nothing.
  const loose = LoosePushSchema.safeParse(request.push);
  const p = loose.success ? loose.data : {};
  return {
    push: {
      repository: p.repository?.fullName ?? request.run.repository,
      commit: p.after ?? request.run.commit,
      branch: p.branch ?? request.run.branch,
      message: p.headCommit?.message ?? '',
      ...(p.headCommit?.url ? { url: p.headCommit.url } : {}),
    },
    pusher: p.pusher ?? '',
  };
}

function cap(addresses: readonly string[]): string[] {
  return capAddresses(addresses, MAX_ADDRESSES);
}

/**
 * What the plan task's result says about `module` beyond its summary: the upstreams whose changes
 * may change its plan, and the plan policies' verdict (each absent when unreadable or not there).
 */
async function planResultOf(deps: ApprovalRequestDeps, executionName: string, account: string, module: string): Promise<Pick<ModuleSummary, 'mayChangeAfter' | 'policy'>> {
  const text = await deps.artifacts.get(artifactKeys.result(executionName, account, module)).catch(() => undefined);
  if (text === undefined) return {};
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return {};
  }
  const parsed = ModuleResultSchema.safeParse(json);
  if (!parsed.success || parsed.data.phase !== 'plan') return {};
  const { mayChangeAfter, policy } = parsed.data;
  return { ...(mayChangeAfter?.length ? { mayChangeAfter } : {}), ...(policy ? { policy } : {}) };
}

/** The notes of a re-plan round, checked against their SHA-256. */
async function replanNotesOf(request: ApprovalRequest, deps: ApprovalRequestDeps): Promise<ReplanNotes | undefined> {
  const where = request.stage.phase.replan;
  if (!where) return undefined;
  const problem = (why: string) => new ApprovalRequestError(`stage ${request.stage.name}: cannot read the notes of the plans made again (${where.key}): ${why}`);
  const text = await deps.artifacts.get(where.key);
  if (text === undefined) throw problem('not in the artifacts store');
  if (createHash('sha256').update(text, 'utf8').digest('hex') !== where.sha256) throw problem('changed after they were written');
  try {
    return ReplanNotesSchema.parse(JSON.parse(text));
  } catch (err) {
    throw problem(err instanceof Error ? err.message : String(err));
  }
}

function previousOf(note: ReplanNotes['modules'][number]): NonNullable<ModuleSummary['previous']> {
  return {
    reason: note.reason,
    ...(note.upstream ? { upstream: note.upstream } : {}),
    ...(note.approvedSha256 ? { planSha256: note.approvedSha256 } : {}),
    ...(note.approved ? { plan: { ...note.approved, deleted: cap(note.approved.deleted), replaced: cap(note.approved.replaced) } } : {}),
    ...(note.differences?.length ? { differences: note.differences } : {}),
  };
}

async function summarize(
  items: readonly AccountItem[],
  executionName: string,
  deps: ApprovalRequestDeps,
  logger: Logger,
  notes: ReplanNotes | undefined,
): Promise<AccountSummary[]> {
  const previous = new Map((notes?.modules ?? []).map((n) => [`${n.account}\0${n.module}`, previousOf(n)]));
  const work = items.flatMap((item) => item.modules.map((module) => ({ item, module })));
  const modules = await mapLimit(work, 8, async ({ item, module }): Promise<ModuleSummary> => {
    const planSha256 = item.approvedPlans?.[module];
    const fromResult = await planResultOf(deps, executionName, item.name, module);
    const before = previous.get(`${item.name}\0${module}`);
    const base: ModuleSummary = {
      path: module,
      ...(planSha256 ? { planSha256 } : {}),
      ...fromResult,
      ...(before ? { previous: before } : {}),
    };
    const key = artifactKeys.summary(executionName, item.name, module);
    try {
      const text = await deps.artifacts.get(key);
      if (text === undefined) return { ...base, note: 'plan summary not found' };
      const plan = PlanSummarySchema.parse(JSON.parse(text));
      return { ...base, plan: { ...plan, deleted: cap(plan.deleted), replaced: cap(plan.replaced) } };
    } catch (err) {
      logger.warn('unreadable plan summary', { key, error: err instanceof Error ? { name: err.name, message: err.message } : String(err) });
      return { ...base, note: 'plan summary unreadable' };
    }
  });
  let i = 0;
  return items.map((item) => ({
    account: item.name,
    accountId: item.id,
    region: item.region,
    modules: item.modules.map(() => modules[i++] as ModuleSummary),
  }));
}

/** Needs a closer look: a plan policy warns or denies, it deletes or replaces something, or its plan could not be read. */
function risky(account: AccountSummary): boolean {
  return account.modules.some((m) => (m.policy && m.policy.status !== 'pass') || !m.plan || m.plan.destroy > 0 || m.plan.deleted.length > 0 || m.plan.replaced.length > 0);
}

/** The plan policies' verdict over every account of the approval (before any summary is left out). */
export function policyOf(all: readonly AccountSummary[], stage: ApprovalRequest['stage']): ApprovalView['policy'] {
  const owners = stage.approval.policyOwners ?? [];
  const results = all.flatMap((a) => a.modules.flatMap((m) => (m.policy ? [m.policy] : [])));
  if (owners.length === 0 && results.length === 0 && !stage.approval.escalated) return undefined;
  const findings = results.flatMap((r) => r.findings);
  return {
    status: findings.some((f) => f.effect === 'deny') ? 'deny' : findings.length > 0 ? 'warn' : 'pass',
    owners: [...owners],
    findings: findings.length,
    ...(stage.approval.escalated ? { escalated: stage.approval.escalated } : {}),
  };
}

/**
 * Who approves, and how many: the stage's approvers, or, in a stage without approval that a plan
 * policy made ask for one, its policy owners (one of them approves). Undefined when nobody can.
 */
export function approversOf(rule: ApprovalRequest['stage']['approval']): { approvers: string[]; minApprovals: number; allowSelfApproval: boolean } | undefined {
  if (rule.required && rule.approvers.length > 0) return { approvers: rule.approvers, minApprovals: rule.minApprovals, allowSelfApproval: rule.allowSelfApproval };
  if (!rule.required && (rule.policyOwners?.length ?? 0) > 0) return { approvers: [...rule.policyOwners!], minApprovals: 1, allowSelfApproval: false };
  return undefined;
}

/**
 * The stage's totals over every account, and the summaries the approval record keeps: all of
 * them when they fit {@link MAX_SUMMARY_BYTES}, else the risky accounts first, then the others
 * in order, while they fit.
 */
export function bounded(all: readonly AccountSummary[]): Pick<ApprovalView, 'summaries' | 'omittedAccounts' | 'totals'> {
  const modules = all.flatMap((a) => a.modules);
  const sum = (f: (m: ModuleSummary) => number) => modules.reduce((n, m) => n + f(m), 0);
  const totals = {
    accounts: all.length,
    modules: modules.length,
    add: sum((m) => m.plan?.add ?? 0),
    change: sum((m) => m.plan?.change ?? 0),
    destroy: sum((m) => m.plan?.destroy ?? 0),
    unreadable: sum((m) => (m.plan ? 0 : 1)),
  };
  if (Buffer.byteLength(JSON.stringify(all)) <= MAX_SUMMARY_BYTES) return { summaries: [...all], omittedAccounts: 0, totals };
  const summaries: AccountSummary[] = [];
  let bytes = 2;
  for (const account of [...all.filter(risky), ...all.filter((a) => !risky(a))]) {
    const size = Buffer.byteLength(JSON.stringify(account)) + 1;
    if (bytes + size > MAX_SUMMARY_BYTES) break;
    summaries.push(account);
    bytes += size;
  }
  return { summaries, omittedAccounts: all.length - summaries.length, totals };
}

function withPolicy(all: readonly AccountSummary[], stage: ApprovalRequest['stage']): Pick<ApprovalView, 'summaries' | 'omittedAccounts' | 'totals' | 'policy'> {
  const policy = policyOf(all, stage);
  return { ...bounded(all), ...(policy ? { policy } : {}) };
}

/** The apply items the request points to, checked against their SHA-256. */
async function applyItemsOf(request: ApprovalRequest, deps: ApprovalRequestDeps): Promise<AccountItem[]> {
  try {
    return await readItems(deps.artifacts, request.applyItems);
  } catch (err) {
    throw new ApprovalRequestError(`stage ${request.stage.name}: cannot read the apply items to approve: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** The first words of an approval asked again. */
export function replanHeadline(replan: NonNullable<ApprovalView['replan']>): string {
  if (!replan.previousApprovalId && replan.round === 1) {
    return 'Held back: this stage applies without approval, but its plan policies asked for one. The modules below were not applied; they were planned again and wait for this decision.';
  }
  const before = replan.previousApprovalId ? ` (approval ${replan.previousApprovalId})` : '';
  return `Asked again: the plans approved before${before} changed once their upstream modules applied, so the modules below were not applied. Only they are here, each with the plan approved before and the new plan.`;
}

/** Why a module is asked again, in words. */
export function previousReason(previous: NonNullable<ModuleSummary['previous']>): string {
  if (previous.reason === 'policy') return 'not applied: the plan policies answered warn or deny on its plan';
  return previous.reason === 'changed'
    ? 'planned again after its upstreams applied: its changes differ from the approved plan'
    : `not run: its upstream ${previous.upstream ?? ''} needed a new approval first`.replace('  ', ' ');
}

/** One plan policy finding as text: `DENY keep-databases: message` and the addresses below it. */
export function findingLines(f: PolicyFinding): string[] {
  return [`${f.effect.toUpperCase()} ${f.rule}: ${f.message}`, ...f.addresses.map((a) => `  ${a}`)];
}

/**
 * The plan policies' verdict and every finding, for the top of a notice, the terminal and the CLI:
 * shown before the plans. Empty when the stage has no policies.
 */
export function policyLines(approval: Pick<ApprovalView, 'policy' | 'summaries' | 'omittedAccounts'>): string[] {
  const policy = approval.policy;
  if (!policy) return [];
  const lines: string[] = [];
  if (policy.escalated) lines.push(`Approval asked by a plan policy: ${policy.escalated}.`);
  if (policy.status === 'deny') {
    lines.push(`DENIED by a plan policy: nothing applies unless a policy owner overrides the deny, with a reason. Policy owners: ${policy.owners.join(', ') || 'none configured'}.`);
  } else if (policy.status === 'warn') {
    lines.push(`WARNINGS from the plan policies: read them before you approve (${policy.findings} finding(s)).`);
  } else if (!policy.escalated) {
    lines.push('Plan policies: every plan passed.');
  }
  for (const account of approval.summaries) {
    for (const m of account.modules) {
      for (const f of m.policy?.findings ?? []) lines.push(...findingLines(f).map((l, i) => `  ${i === 0 ? `${account.account}/${m.path}: ` : '  '}${l}`));
    }
  }
  if (approval.omittedAccounts > 0 && policy.findings > 0) lines.push(`  (${approval.omittedAccounts} account(s) not listed; the accounts with findings are listed first)`);
  return lines;
}

/**
 * One module as text (notices, the terminal): its plan, the "may change" mark, and on an
 * approval asked again the plan approved before and what differs. Addresses only, never values.
 */
export function moduleLines(m: ModuleSummary): string[] {
  const mark = mayChangeMark(m.mayChangeAfter);
  const lines = [`${m.path}: ${m.plan ? formatPlanLine(m.plan) : (m.note ?? 'no summary')}${mark ? ` (${mark})` : ''}`];
  for (const a of m.plan?.deleted ?? []) lines.push(`  DESTROY  ${a}`);
  for (const a of m.plan?.replaced ?? []) lines.push(`  REPLACE  ${a}`);
  if (m.policy && m.policy.status !== 'pass') lines.push(`  policy: ${m.policy.status.toUpperCase()} (${m.policy.findings.map((f) => f.rule).join(', ')})`);
  if (m.previous?.reason === 'policy') {
    lines.push(`  held back: ${previousReason(m.previous)}`);
  } else if (m.previous) {
    lines.push(`  asked again: ${previousReason(m.previous)}`);
    lines.push(`  approved before: ${m.previous.plan ? formatPlanLine(m.previous.plan) : 'summary not available'}${m.previous.planSha256 ? ` (plan ${m.previous.planSha256.slice(0, 12)})` : ''}`);
    lines.push(`  new plan:        ${m.plan ? formatPlanLine(m.plan) : 'summary not available'}${m.planSha256 ? ` (plan ${m.planSha256.slice(0, 12)})` : ''}`);
    for (const d of m.previous.differences ?? []) lines.push(`  differs: ${d}`);
  }
  return lines;
}

/** The plain-text part of an approval notice, shared by SNS email and the local terminal. */
export function noticeText(approval: ApprovalView, link: string): string {
  const policy = policyLines(approval);
  const lines = [
    `Approval needed to apply ${approval.push.repository} to ${approval.stage}.`,
    '',
    ...(policy.length > 0 ? [...policy, ''] : []),
    `Repository: ${approval.push.repository}`,
    `Branch:     ${approval.push.branch}`,
    `Commit:     ${approval.push.commit}`,
    `Message:    ${approval.push.message.split('\n')[0] ?? ''}`,
    `Pushed by:  ${approval.pusher || '(unknown)'}`,
    `Stage:      ${approval.stage} (${approval.requiredApprovals} approval${approval.requiredApprovals === 1 ? '' : 's'} needed)`,
    `Expires:    ${new Date(approval.deadline * 1000).toISOString()}`,
    '',
    ...(approval.replan ? [replanHeadline(approval.replan), ''] : []),
    `Plan: ${totalsLine(approval.totals)}`,
  ];
  for (const account of approval.summaries.slice(0, NOTICE_MAX_ACCOUNTS)) {
    lines.push(`  ${account.account} (${account.accountId}, ${account.region})`);
    for (const m of account.modules) lines.push(...moduleLines(m).map((l) => `    ${l}`));
  }
  const unlisted = approval.omittedAccounts + Math.max(0, approval.summaries.length - NOTICE_MAX_ACCOUNTS);
  if (unlisted > 0) lines.push(`  ... and ${unlisted} more account(s): see the page`);
  lines.push('', 'Review and decide on this page (your own link: do not forward it):', link, '', 'Opening the link changes nothing: you approve or reject on the page.');
  return lines.join('\n');
}

/** The notice subject: one line, at most 100 characters (the SNS limit). */
export function noticeSubject(approval: ApprovalView): string {
  const flag = approval.policy?.status === 'deny' ? '[DENIED by policy] ' : approval.policy?.status === 'warn' ? '[policy warnings] ' : '';
  const subject = `${flag}Approve ${approval.replan?.previousApprovalId ? 'again ' : ''}${approval.push.repository}@${approval.push.commit.slice(0, 7)} to ${approval.stage}`.replace(/[\r\n]+/g, ' ');
  return subject.length > 100 ? `${subject.slice(0, 97)}...` : subject;
}

/**
 * Builds the handler of the approval step (`lambda:invoke.waitForTaskToken`): stores the task
 * token under a new random approval id and sends each approver their own signed link. The
 * token is stored and never shown: not in a link, a notice or a log. A retried invocation
 * with the same token reuses its approval; a new token for the same run and stage (a redrive)
 * supersedes the old approval, so its links answer 410.
 */
export function createApprovalRequestHandler(deps: ApprovalRequestDeps): (event: unknown) => Promise<ApprovalRequestResult> {
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger ?? silentLogger;
  return async (event: unknown): Promise<ApprovalRequestResult> => {
    const parsed = ApprovalRequestSchema.safeParse(event);
    if (!parsed.success) {
      // Issue paths and messages only: the input holds the task token.
      const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`).join('; ');
      throw new ApprovalRequestError(`invalid approval request: ${problems}`);
    }
    const request = parsed.data;
    const rule = { ...request.stage.approval, ...approversOf(request.stage.approval) };
    if (approversOf(request.stage.approval) === undefined) {
      throw new ApprovalRequestError(`stage ${request.stage.name} has no approvers configured; approval needs approval.required: true and at least one approver (or, for plan policies, policyOwners)`);
    }
    const hash = tokenHash(request.taskToken);
    const pointer = await deps.store.getPointer(request.executionName, request.stage.name);

    let approval: ApprovalView | undefined;
    let reused = false;
    if (pointer && pointer.tokenHash === hash) {
      approval = await deps.store.get(pointer.approvalId);
      reused = approval !== undefined;
    }
    if (!approval) {
      const notes = await replanNotesOf(request, deps);
      const now = clock.now();
      const { push, pusher } = pushInfo(request);
      const fresh: NewApproval = {
        approvalId: (deps.newId ?? newApprovalId)(),
        executionId: request.executionId,
        executionName: request.executionName,
        stage: request.stage.name,
        status: 'PENDING',
        requiredApprovals: rule.minApprovals,
        approvers: rule.approvers,
        allowSelfApproval: rule.allowSelfApproval,
        pusher,
        push,
        createdAt: now.toISOString(),
        deadline: Math.floor(now.getTime() / 1000) + rule.timeoutSeconds,
        items: request.applyItems,
        ...withPolicy(await summarize(await applyItemsOf(request, deps), request.executionName, deps, logger, notes), request.stage),
        ...(notes ? { replan: { round: notes.round, ...(notes.previousApprovalId ? { previousApprovalId: notes.previousApprovalId } : {}) } } : {}),
        decisions: {},
        taskToken: request.taskToken,
        tokenHash: hash,
      };
      const stored = await deps.store.create(fresh);
      if (stored.created) {
        if (pointer) {
          await deps.store.supersede(pointer.approvalId, fresh.approvalId);
          logger.info('approval superseded by a new approval step', { approvalId: pointer.approvalId, supersededBy: fresh.approvalId });
        }
        const { taskToken: _token, tokenHash: _hash, ...view } = fresh;
        approval = view;
      } else {
        // A concurrent invocation for the same token won; it sends the links.
        return { approvalId: stored.approvalId, notified: 0, reused: true };
      }
    }

    if (approval.status !== 'PENDING') return { approvalId: approval.approvalId, notified: 0, reused };
    const key = await deps.keys.getKey();
    const baseUrl = typeof deps.baseUrl === 'string' ? deps.baseUrl : await deps.baseUrl();
    const current = approval;
    // On a deny, the policy owners get their own links too: only they can override it.
    const recipients = [...current.approvers];
    if (current.policy?.status === 'deny') {
      for (const owner of current.policy.owners) if (!recipients.some((r) => r.toLowerCase() === owner.toLowerCase())) recipients.push(owner);
    }
    await mapLimit(recipients, 4, async (approver) => {
      const link = buildLink(baseUrl, key, current.approvalId, approver, current.deadline);
      await deps.notifier.notify({ approvalId: current.approvalId, approver, subject: noticeSubject(current), text: noticeText(current, link) });
    });
    logger.info('approval requested', {
      approvalId: current.approvalId,
      executionName: current.executionName,
      stage: current.stage,
      approvers: current.approvers.length,
      requiredApprovals: current.requiredApprovals,
      policy: current.policy?.status,
      reused,
    });
    return { approvalId: current.approvalId, notified: recipients.length, reused };
  };
}
