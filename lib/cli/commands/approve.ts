import { existsSync } from 'node:fs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Command } from 'commander';
import { approvalsOf, decide, findApprovalForExecution, type DecideResult } from '../../approval/decide';
import { ApprovalNotFoundError } from '../../approval/errors';
import { approverForCaller, parseCallerArn } from '../../approval/identity';
import { ApprovalStore } from '../../approval/store';
import { RecordOnlyTaskTokenSender, SfnTaskTokenSender } from '../../approval/task-token';
import type { ApprovalView, TaskTokenSender } from '../../approval/types';
import { TfstepError } from '../../config/errors';
import { names } from '../../domain/names';
import { liveOwner } from '../../local/engine/session';
import { openLocalStore } from '../../local/engine/store';
import { addCommonOptions } from '../../operator/cli-options';
import { awsSettings, clientConfig, loadOperatorConfig, stateDirOf, type CommonOptions } from '../../operator/context';

interface DecisionOptions extends CommonOptions {
  readonly comment?: string;
  readonly as?: string;
}

/** Where the decision is recorded and sent, and who makes it. */
interface DecisionContext {
  readonly store: ApprovalStore;
  readonly tasks: TaskTokenSender;
  /** Maps the approval's approvers to the caller's approver identity. */
  readonly approver: (approval: ApprovalView) => Promise<string>;
  /** Refuses a decision nothing is waiting for. */
  readonly waiting?: (approval: ApprovalView) => void;
  readonly close: () => Promise<void>;
}

async function resolveApproval(store: ApprovalStore, target: string): Promise<ApprovalView> {
  const byId = /^[A-Za-z0-9_-]{1,100}$/.test(target) ? await store.get(target) : undefined;
  if (byId) return byId;
  const byExecution = await findApprovalForExecution(target, { store });
  if (byExecution) return byExecution;
  throw new ApprovalNotFoundError(target);
}

function awsContext(opts: DecisionOptions): DecisionContext {
  if (opts.as) throw new TfstepError('--as is only for --local; in AWS your identity comes from your credentials (STS GetCallerIdentity)');
  const config = loadOperatorConfig(opts.config);
  const settings = awsSettings(config, opts);
  const client = new DynamoDBClient(clientConfig(settings));
  const sts = new STSClient(clientConfig(settings));
  const sfn = new SFNClient(clientConfig(settings));
  return {
    store: new ApprovalStore(DynamoDBDocumentClient.from(client), names.runTable()),
    tasks: new SfnTaskTokenSender(sfn),
    approver: async (approval) => {
      const who = await sts.send(new GetCallerIdentityCommand({}));
      if (!who.Arn) throw new TfstepError('STS GetCallerIdentity returned no ARN; cannot tell who is deciding');
      return approverForCaller(parseCallerArn(who.Arn), approval.approvers);
    },
    close: () => {
      client.destroy();
      sts.destroy();
      sfn.destroy();
      return Promise.resolve();
    },
  };
}

async function localContext(opts: DecisionOptions): Promise<DecisionContext> {
  const stateDir = stateDirOf(opts);
  if (!existsSync(stateDir)) throw new TfstepError(`the state directory ${stateDir} does not exist; run \`tfstep local run\` first, or pass --state-dir DIR`);
  const as = opts.as;
  if (!as) throw new TfstepError('with --local, pass --as EMAIL (one of the stage\'s approvers): there are no AWS credentials to tell who you are');
  const local = await openLocalStore(stateDir);
  return {
    store: new ApprovalStore(local.docClient, local.tableName),
    // The waiting `tfstep local` process follows the record and settles its own step.
    tasks: new RecordOnlyTaskTokenSender(),
    approver: () => Promise.resolve(as),
    waiting: (approval) => {
      // Only a live tfstep process settles a local approval; without one the decision would apply nothing.
      if (approval.status === 'PENDING' && !liveOwner(stateDir, approval.executionName)) {
        const flag = opts.stateDir ? ` --state-dir ${opts.stateDir}` : '';
        throw new TfstepError(
          `nothing is waiting for this decision: no tfstep process runs ${approval.executionName} any more (it was stopped, or its process is gone), so an approval would apply nothing. ` +
            `Run it again with \`tfstep local replay ${approval.executionName}${flag}\` and decide at its prompt`,
        );
      }
    },
    close: () => local.close(),
  };
}

function report(result: DecideResult, approver: string): string {
  const a = result.approval;
  const what = `approval ${a.approvalId} (${a.executionName}, stage ${a.stage})`;
  switch (result.outcome) {
    case 'approved':
      return `approved: ${what} by ${approvalsOf(a).map((d) => d.approver).join(', ')}; the apply starts`;
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
  const ctx = opts.local ? await localContext(opts) : awsContext(opts);
  try {
    const approval = await resolveApproval(ctx.store, target);
    ctx.waiting?.(approval);
    const approver = await ctx.approver(approval);
    const result = await decide({ approvalId: approval.approvalId, approver, decision, comment: opts.comment ?? '', via: 'cli' }, { store: ctx.store, tasks: ctx.tasks });
    write(report(result, approver));
    return result;
  } finally {
    await ctx.close();
  }
}

function decisionCommand(program: Command, decision: 'approve' | 'reject', description: string): void {
  const cmd = program
    .command(decision)
    .description(description)
    .argument('<execution-or-approval-id>', 'the execution name (or ARN) waiting for approval, or the approval id from the email link')
    .option('--comment <text>', decision === 'reject' ? 'why (shown to the others and kept with the run)' : 'a comment kept with the approval')
    .option('--as <email>', 'with --local: the approver you decide as');
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
