import type { ApprovalOutput } from '../statemachine/contracts';
import { ApprovalGoneError, ApprovalNotFoundError } from './errors';
import type { ApprovalStore } from './store';
import { TaskFailedError } from './task-token';

/** Options of {@link waitForOutcome}. */
export interface WaitForOutcomeOptions {
  readonly pollMs?: number;
  readonly signal?: AbortSignal;
}

/**
 * Follows an approval in the store until it is decided, for a waiting step whose decision
 * may be made in another process (the CLI with `--local`). Resolves with the approval output;
 * rejects with a {@link TaskFailedError} (`Rejected`), or an {@link ApprovalGoneError} when it
 * expired or was superseded.
 */
export async function waitForOutcome(store: ApprovalStore, approvalId: string, options: WaitForOutcomeOptions = {}): Promise<ApprovalOutput> {
  const pollMs = options.pollMs ?? 500;
  for (;;) {
    options.signal?.throwIfAborted();
    const approval = await store.get(approvalId);
    if (!approval) throw new ApprovalNotFoundError(approvalId);
    if (approval.outcome?.kind === 'success') return approval.outcome.output as ApprovalOutput;
    if (approval.outcome?.kind === 'failure') throw new TaskFailedError(approval.outcome.error, approval.outcome.cause);
    if (approval.status === 'EXPIRED' || approval.status === 'SUPERSEDED') throw new ApprovalGoneError(approval.closedReason ?? `approval ${approval.status.toLowerCase()}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
