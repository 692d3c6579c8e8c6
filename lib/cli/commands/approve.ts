import type { Command } from 'commander';
import { approvalsOf, decide, findApprovalForExecution, type DecideResult } from '../../approval/decide';
import { ApprovalNotFoundError } from '../../approval/errors';
import { policyLines } from '../../approval/request';
import { BadOptionError } from '../../operator/errors';
import type { ApprovalStore } from '../../approval/store';
import type { ApprovalView } from '../../approval/types';
import { openBackend } from '../../operator/backend';
import type { CommonOptions } from '../../operator/context';
import { addCommonOptions } from '../options';

interface DecisionOptions extends CommonOptions {
  readonly comment?: string;
  readonly as?: string;
  /** Approve despite a plan policy's deny (policy owners only), for `reason`. */
  readonly override?: boolean;
  readonly reason?: string;
}

async function resolveApproval(store: ApprovalStore, target: string): Promise<ApprovalView> {
  const byId = /^[A-Za-z0-9_-]{1,100}$/.test(target) ? await store.get(target) : undefined;
  if (byId) return byId;
  const byExecution = await findApprovalForExecution(target, { store });
  if (byExecution) return byExecution;
  throw new ApprovalNotFoundError(target);
}

function report(result: DecideResult, approver: string): string {
  const a = result.approval;
  const what = `approval ${a.approvalId} (${a.executionName}, stage ${a.stage})`;
  switch (result.outcome) {
    case 'approved':
      return `approved: ${what} by ${approvalsOf(a)
        .map((d) => (d.override ? `${d.approver} (override: ${d.override.reason})` : d.approver))
        .join(', ')}; the apply starts`;
    case 'rejected':
      return `rejected: ${what} by ${approver}; nothing is applied`;
    case 'recorded':
      return result.remaining > 0
        ? `recorded: ${approver} approved ${what}; ${result.remaining} more approval${result.remaining === 1 ? '' : 's'} needed`
        : `recorded: ${approver} approved ${what}; it is being completed`;
  }
}

/**
 * Decides one approval from the command line, with the same rules as the links. Exported for
 * the local mode and tests.
 */
export async function runDecision(decision: 'approve' | 'reject', target: string, opts: DecisionOptions, write: (line: string) => void = console.log): Promise<DecideResult> {
  if (opts.reason !== undefined && !opts.override) throw new BadOptionError('--reason', opts.reason, "--override beside it (the reason is for overriding a plan policy's deny); for a note, use --comment");
  if (opts.override && (opts.reason ?? '').trim() === '') throw new BadOptionError('--reason', opts.reason ?? '', 'why the deny is overridden, with --override (recorded with your name)');
  const backend = await openBackend({ ...opts, decide: { as: opts.as } });
  try {
    const approval = await resolveApproval(backend.approvals, target);
    backend.refuseUnwaited(approval);
    // The plan policies' findings come first: a warning is read before anything is decided.
    for (const line of policyLines(approval)) write(line);
    const approver = await backend.approverFor(approval);
    const override = opts.override ? { override: { reason: opts.reason ?? '' } } : {};
    const result = await decide({ approvalId: approval.approvalId, approver, decision, comment: opts.comment ?? '', via: 'cli', ...override }, { store: backend.approvals, tasks: backend.tasks, audit: backend.audit });
    write(report(result, approver));
    return result;
  } finally {
    await backend.close();
  }
}

function decisionCommand(program: Command, decision: 'approve' | 'reject', description: string): void {
  const cmd = program
    .command(decision)
    .description(description)
    .argument('<execution-or-approval-id>', 'the execution name (or ARN) waiting for approval, or the approval id from the email link')
    .option('--comment <text>', decision === 'reject' ? 'why (shown to the others and kept with the run)' : 'a comment kept with the approval')
    .option('--as <email>', 'with --local: the approver you decide as');
  if (decision === 'approve') {
    cmd
      .option('--override', "approve despite a plan policy's deny (policy owners only; needs --reason)")
      .option('--reason <text>', 'with --override: why the deny is overridden (recorded with your name)');
  }
  addCommonOptions(cmd, { local: true });
  cmd.action(async (target: string, opts: DecisionOptions) => {
    await runDecision(decision, target, opts);
    process.exitCode = 0;
  });
}

/**
 * `tfstep approve` and `tfstep reject`: decide with your AWS credentials. The caller's STS
 * identity (an assumed role's session name or an IAM user name) must equal an approver's
 * address or its local part; with `--local`, `--as` names the approver.
 */
export function register(program: Command): void {
  decisionCommand(program, 'approve', 'approve a stage waiting for approval (as your AWS identity, which must be one of its approvers)');
  decisionCommand(program, 'reject', 'reject a stage waiting for approval: the run ends as rejected and nothing is applied');
}
