/**
 * Task tokens for `.waitForTaskToken` states in the local mode. The engine gives every task the
 * same static token, so the local mode issues its own, one per wait, and settles the waiting
 * state when the approval code calls {@link LocalTaskTokens.sendSuccess} or
 * {@link LocalTaskTokens.sendFailure}, as SendTaskSuccess/SendTaskFailure would.
 */
import { randomBytes } from 'node:crypto';
import { TaskGoneError } from '../../approval/errors';
import { StatesError } from './errors';

interface Waiter {
  resolve: (output: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

/** Node timers overflow above 2^31-1 ms (and then fire at once); longer waits are re-armed. */
const MAX_TIMER_MS = 2_147_483_647;

/** The local SendTaskSuccess/SendTaskFailure: issues tokens and settles their waits. */
export class LocalTaskTokens {
  private readonly waiters = new Map<string, Waiter>();
  private readonly issued = new Set<string>();

  /** Issues a fresh token, unguessable like the real ones. */
  issue(): string {
    const token = `local-${randomBytes(24).toString('base64url')}`;
    this.issued.add(token);
    return token;
  }

  /**
   * Waits until the token is settled. Past `timeoutMs` it rejects with `States.Timeout`, the
   * error Step Functions raises when a `.waitForTaskToken` state times out.
   */
  wait(token: string, timeoutMs: number, signal?: AbortSignal): Promise<unknown> {
    if (!this.issued.has(token) || this.waiters.has(token)) return Promise.reject(new TaskGoneError('unknown task token'));
    return new Promise<unknown>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, timer: undefined };
      const deadline = Date.now() + timeoutMs;
      const arm = () => {
        const left = deadline - Date.now();
        waiter.timer = setTimeout(
          () => {
            if (Date.now() < deadline) return arm();
            this.settle(token, (w) => w.reject(new StatesError('States.Timeout', `no answer for the task token within ${Math.round(timeoutMs / 1000)} s`)));
          },
          Math.max(1, Math.min(left, MAX_TIMER_MS)),
        );
      };
      this.waiters.set(token, waiter);
      arm();
      signal?.addEventListener('abort', () => this.settle(token, (w) => w.reject(new StatesError('States.Aborted', 'the execution was stopped'))), {
        once: true,
      });
    });
  }

  /** Drops a wait without settling it (its task failed before anyone could answer). */
  cancel(token: string): void {
    this.settle(token, () => undefined);
    this.issued.delete(token);
  }

  /** Whether a state is waiting on this token right now. */
  isWaiting(token: string): boolean {
    return this.waiters.has(token);
  }

  /** SendTaskSuccess: the waiting state succeeds with `output`. */
  sendSuccess(token: string, output: unknown): Promise<void> {
    try {
      this.settleOrThrow(token, (w) => w.resolve(output));
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  /** SendTaskFailure: the waiting state fails with `error` (matched by Catch) and `cause`. */
  sendFailure(token: string, error: string, cause: string): Promise<void> {
    try {
      this.settleOrThrow(token, (w) => w.reject(new StatesError(error, cause)));
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  private settleOrThrow(token: string, fn: (w: Waiter) => void): void {
    if (!this.settle(token, fn)) {
      // The approval code answers 410 for this: the step no longer waits, nothing was applied.
      throw new TaskGoneError(
        this.issued.has(token)
          ? 'the approval step no longer waits (already answered, timed out or stopped); nothing was applied'
          : 'unknown task token; nothing was applied',
      );
    }
  }

  private settle(token: string, fn: (w: Waiter) => void): boolean {
    const waiter = this.waiters.get(token);
    if (!waiter) return false;
    this.waiters.delete(token);
    if (waiter.timer) clearTimeout(waiter.timer);
    fn(waiter);
    return true;
  }
}
