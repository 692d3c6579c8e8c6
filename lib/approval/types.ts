import { z } from 'zod';
import { ItemsLocationSchema, ReplanReasonSchema, type ApprovalOutput } from '../statemachine/contracts';
import { PlanSummarySchema, PolicyResultSchema } from '../domain/runner-contract';

/** Where approval code writes its log lines: tfstep's one structured logger. */
export { silentLogger, type Logger } from '../log';

/** The time source, injected so tests control expiry. */
export interface Clock {
  now(): Date;
}

/** The system clock. */
export const systemClock: Clock = { now: () => new Date() };

/** Where a decision came from. */
export const DecisionViaSchema = z.enum(['link', 'cli', 'local']);
export type DecisionVia = z.infer<typeof DecisionViaSchema>;

/** One person's decision, as stored. */
export const DecisionSchema = z.object({
  approver: z.string(),
  decision: z.enum(['approve', 'reject']),
  comment: z.string(),
  /** ISO 8601 time of the decision. */
  at: z.string(),
  via: DecisionViaSchema,
  /** A policy owner's override of a plan policy's deny, with the reason they gave. */
  override: z.object({ reason: z.string() }).optional(),
});
export type Decision = z.infer<typeof DecisionSchema>;

/**
 * The life of an approval. COMPLETING is held while Step Functions is being told the outcome,
 * so two approvers reaching the count at the same moment send it once.
 */
export const ApprovalStatusSchema = z.enum(['PENDING', 'COMPLETING', 'APPROVED', 'REJECTED', 'EXPIRED', 'SUPERSEDED']);
export type ApprovalStatus = z.infer<typeof ApprovalStatusSchema>;

/** One module of an account as the approver sees it. */
export const ModuleSummarySchema = z.object({
  path: z.string(),
  /** SHA-256 of the plan file that will be applied. */
  planSha256: z.string().optional(),
  /** Absent when the summary artifact could not be read. */
  plan: PlanSummarySchema.optional(),
  /** Why `plan` is absent. */
  note: z.string().optional(),
  /** Upstream modules with changes: this plan may change after they apply (it is then planned again). */
  mayChangeAfter: z.array(z.string()).optional(),
  /** The plan policies' verdict on this plan, made in the account. */
  policy: PolicyResultSchema.optional(),
  /**
   * On an approval asked again: the plan approved before, and why this module needs a new
   * approval (its plan changed after its upstreams applied, or an upstream's did).
   */
  previous: z
    .object({
      reason: ReplanReasonSchema,
      /** The held-back upstream (reason `upstream-held`). */
      upstream: z.string().optional(),
      planSha256: z.string().optional(),
      plan: PlanSummarySchema.optional(),
      /** What the apply found when it planned the module again after its upstreams applied: addresses and actions, no values. */
      differences: z.array(z.string()).optional(),
    })
    .optional(),
});
export type ModuleSummary = z.infer<typeof ModuleSummarySchema>;

/** One account of the stage with its modules' plan summaries. */
export const AccountSummarySchema = z.object({
  account: z.string(),
  accountId: z.string(),
  region: z.string(),
  modules: z.array(ModuleSummarySchema),
});
export type AccountSummary = z.infer<typeof AccountSummarySchema>;

/** The plan of the whole stage, counted over every account (listed or not). */
export const PlanTotalsSchema = z.object({
  accounts: z.number().int().min(0),
  modules: z.number().int().min(0),
  add: z.number().int().min(0),
  change: z.number().int().min(0),
  destroy: z.number().int().min(0),
  /** Modules whose plan summary could not be read. */
  unreadable: z.number().int().min(0),
});
export type PlanTotals = z.infer<typeof PlanTotalsSchema>;

/** One line with the stage's totals. */
export function totalsLine(totals: PlanTotals): string {
  const unreadable = totals.unreadable > 0 ? `; ${totals.unreadable} plan(s) could not be read` : '';
  return `${totals.accounts} account(s), ${totals.modules} module(s): ${totals.add} to add, ${totals.change} to change, ${totals.destroy} to destroy${unreadable}`;
}

/** What an approver needs to know about the push. */
export const PushInfoSchema = z.object({
  repository: z.string(),
  commit: z.string(),
  branch: z.string(),
  message: z.string(),
  url: z.string().optional(),
});
export type PushInfo = z.infer<typeof PushInfoSchema>;

/** The outcome handed to Step Functions, kept on the record so another process can follow it. */
export const ApprovalOutcomeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('success'), output: z.unknown() }),
  z.object({ kind: z.literal('failure'), error: z.string(), cause: z.string() }),
]);
export type ApprovalOutcome = z.infer<typeof ApprovalOutcomeSchema>;

/**
 * An approval as anyone outside the store sees it: everything except the task token, which
 * only the store and the task token sender ever handle.
 */
export const ApprovalViewSchema = z.object({
  approvalId: z.string(),
  executionId: z.string(),
  executionName: z.string(),
  stage: z.string(),
  status: ApprovalStatusSchema,
  requiredApprovals: z.number().int().min(0),
  approvers: z.array(z.string()),
  allowSelfApproval: z.boolean(),
  pusher: z.string(),
  push: PushInfoSchema,
  createdAt: z.string(),
  /** Epoch seconds after which nobody can decide (the approval step's timeout). */
  deadline: z.number().int(),
  /** Where the apply items are, exactly as they will be approved (their SHA-256 included). */
  items: ItemsLocationSchema,
  /**
   * Accounts with their modules' plans. A large stage lists as many as fit the approval record,
   * those with deletions, replacements or unreadable plans first; `omittedAccounts` counts the rest.
   */
  summaries: z.array(AccountSummarySchema),
  omittedAccounts: z.number().int().min(0),
  totals: PlanTotalsSchema,
  /**
   * Set when this approval is asked again: the apply of an earlier approval held modules back
   * because their plans changed after their upstreams applied. Only those modules are here.
   */
  replan: z.object({ round: z.number().int().min(1), previousApprovalId: z.string().optional() }).optional(),
  /**
   * The plan policies of the stage: their verdict over every plan of the approval (`deny`: only a
   * policy owner's override, with a reason, lets the plans apply), the policy owners, and why a
   * stage without approval asks for one. Absent where the stage has no policies.
   */
  policy: z
    .object({
      status: z.enum(['pass', 'warn', 'deny']),
      owners: z.array(z.string()),
      /** How many findings there are over every account (the kept summaries may not list all). */
      findings: z.number().int().min(0),
      escalated: z.string().optional(),
    })
    .optional(),
  /** Lower-cased approver -> decision. */
  decisions: z.record(z.string(), DecisionSchema),
  /**
   * Counts the changes to `decisions` and `status` made by deciding; absent until the first
   * decision. Each decision is written only if the revision is still the one it was judged
   * against, so whether it completes the approval is decided on the record as it really is.
   */
  revision: z.number().int().min(0).optional(),
  supersededBy: z.string().optional(),
  closedReason: z.string().optional(),
  outcome: ApprovalOutcomeSchema.optional(),
});
export type ApprovalView = z.infer<typeof ApprovalViewSchema>;

/** Tells Step Functions (or the local mode) the outcome of a `.waitForTaskToken` step. */
export interface TaskTokenSender {
  /** SendTaskSuccess. Throws {@link TaskGoneError} when the task no longer waits. */
  sendSuccess(token: string, output: ApprovalOutput): Promise<void>;
  /** SendTaskFailure. Throws {@link TaskGoneError} when the task no longer waits. */
  sendFailure(token: string, error: string, cause: string): Promise<void>;
}

/** Gives the HMAC key that signs approval links and form tokens. */
export interface SigningKeyProvider {
  getKey(): Promise<string>;
}

/** One approval notice: sent to one approver only, carrying that approver's own link. */
export interface ApprovalNotice {
  readonly approvalId: string;
  readonly approver: string;
  readonly subject: string;
  readonly text: string;
}

/** Sends approval notices (SNS in AWS, the terminal or memory locally). */
export interface ApprovalNotifier {
  notify(notice: ApprovalNotice): Promise<void>;
}

/** Reads an artifact (plan summary) by key; undefined when it does not exist. */
export interface ArtifactReader {
  get(key: string): Promise<string | undefined>;
}
