import { SendTaskFailureCommand, SendTaskSuccessCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { ApprovalOutput } from '../statemachine/contracts';
import { TaskGoneError } from './errors';
import type { TaskTokenSender } from './types';

/** Step Functions errors that mean the step no longer waits for this token. */
const GONE = new Set(['TaskTimedOut', 'TaskDoesNotExist', 'InvalidToken']);

function gone(err: unknown): TaskGoneError | undefined {
  const name = (err as { name?: string }).name;
  if (name === undefined || !GONE.has(name)) return undefined;
  const why =
    name === 'TaskTimedOut'
      ? 'the approval step already timed out, so the run ended as expired; nothing was applied'
      : 'the approval step no longer waits (it timed out, or the run was redriven with a new approval); nothing was applied';
  return new TaskGoneError(why, { cause: err });
}

/** Sends task outcomes to Step Functions. */
export class SfnTaskTokenSender implements TaskTokenSender {
  constructor(private readonly client: SFNClient) {}

  /** {@inheritDoc TaskTokenSender.sendSuccess} */
  async sendSuccess(token: string, output: ApprovalOutput): Promise<void> {
    try {
      await this.client.send(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify(output) }));
    } catch (err) {
      throw gone(err) ?? err;
    }
  }

  /** {@inheritDoc TaskTokenSender.sendFailure} */
  async sendFailure(token: string, error: string, cause: string): Promise<void> {
    try {
      // Step Functions limits: error 256 characters, cause 32768.
      await this.client.send(new SendTaskFailureCommand({ taskToken: token, error: error.slice(0, 256), cause: cause.slice(0, 32768) }));
    } catch (err) {
      throw gone(err) ?? err;
    }
  }
}

/** A failure handed to a waiting local step: `name` is the error the ASL's Catch matches. */
export class TaskFailedError extends Error {
  constructor(
    readonly error: string,
    readonly causeText: string,
  ) {
    super(causeText);
    this.name = error;
  }
}

/**
 * Task tokens in one process, for the local mode: the approval step registers its token and
 * awaits the promise; a decision resolves or rejects it.
 */
export class PromiseTaskTokenSender implements TaskTokenSender {
  private readonly waiting = new Map<string, { resolve: (output: ApprovalOutput) => void; reject: (err: TaskFailedError) => void }>();

  /** Waits for the outcome of `token`: resolves with the approval output, rejects with a {@link TaskFailedError}. */
  wait(token: string): Promise<ApprovalOutput> {
    return new Promise<ApprovalOutput>((resolve, reject) => {
      this.waiting.set(token, { resolve, reject });
    });
  }

  /** Stops waiting for `token` (its step timed out); a later decision answers 410. */
  cancel(token: string): void {
    this.waiting.delete(token);
  }

  /** {@inheritDoc TaskTokenSender.sendSuccess} */
  sendSuccess(token: string, output: ApprovalOutput): Promise<void> {
    this.take(token).resolve(output);
    return Promise.resolve();
  }

  /** {@inheritDoc TaskTokenSender.sendFailure} */
  sendFailure(token: string, error: string, cause: string): Promise<void> {
    this.take(token).reject(new TaskFailedError(error, cause));
    return Promise.resolve();
  }

  private take(token: string): { resolve: (output: ApprovalOutput) => void; reject: (err: TaskFailedError) => void } {
    const entry = this.waiting.get(token);
    if (!entry) throw new TaskGoneError('the approval step no longer waits for this decision; nothing was applied');
    this.waiting.delete(token);
    return entry;
  }
}

/**
 * For a decision made in another process than the waiting step (the CLI with `--local`):
 * delivers nothing itself, because {@link ApprovalStore.close} keeps the outcome on the record
 * and the waiting process follows it with {@link waitForOutcome}.
 */
export class RecordOnlyTaskTokenSender implements TaskTokenSender {
  /** {@inheritDoc TaskTokenSender.sendSuccess} */
  sendSuccess(): Promise<void> {
    return Promise.resolve();
  }

  /** {@inheritDoc TaskTokenSender.sendFailure} */
  sendFailure(): Promise<void> {
    return Promise.resolve();
  }
}
