/**
 * Task tokens for `.waitForTaskToken` states in the local mode. The engine gives every task the
 * same static token, so the local mode issues its own, one per wait (a state entered again, by a
 * retry or a loop, gets a new one, as in AWS), and settles the waiting state when the approval
 * code or the pipeline function (waking a queued run) calls {@link LocalTaskTokens.sendSuccess}
 * or {@link LocalTaskTokens.sendFailure}, as SendTaskSuccess/SendTaskFailure would. The state's
 * TimeoutSeconds and HeartbeatSeconds are enforced here, since the engine knows neither for
 * these waits.
 */
import { randomBytes } from 'node:crypto';
import { TaskGoneError } from '../../approval/errors';
import type { TaskTokenCallback } from '../../pipeline/deps';
import { StatesError } from './errors';

interface Waiter {
  resolve: (output: unknown) => void;
  reject: (error: Error) => void;
  /** Clears the armed timer. */
  disarm: (() => void) | undefined;
  /** Stops listening to the execution's stop signal. */
  detach?: () => void;
  /** When the state times out (TimeoutSeconds), in the timers' milliseconds. */
  deadline: number;
  /** HeartbeatSeconds in milliseconds, and when the current heartbeat interval ends. */
  heartbeat: { ms: number; deadline: number } | undefined;
  timeoutMs: number;
}

/** Node timers overflow above 2^31-1 ms (and then fire at once); longer waits are re-armed. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * The clock the waits run on: real timers in the local mode, simulated time in the benchmark
 * (where a run waits days on its branch in a few seconds).
 */
export interface LocalTimers {
  /** Calls `fire` after `ms` milliseconds; returns what cancels it. */
  schedule(ms: number, fire: () => void): () => void;
  /** The current time in milliseconds. */
  now(): number;
}

/** Node's own timers and clock. */
export const realTimers: LocalTimers = {
  schedule: (ms, fire) => {
    const timer = setTimeout(fire, ms);
    return () => clearTimeout(timer);
  },
  now: () => Date.now(),
};

/** The local SendTaskSuccess/SendTaskFailure/SendTaskHeartbeat: issues tokens and settles their waits. */
export class LocalTaskTokens {
  private readonly waiters = new Map<string, Waiter>();
  private readonly issued = new Set<string>();

  constructor(private readonly timers: LocalTimers = realTimers) {}

  /** Issues a fresh token, unguessable like the real ones. */
  issue(): string {
    const token = `local-${randomBytes(24).toString('base64url')}`;
    this.issued.add(token);
    return token;
  }

  /**
   * Waits until the token is settled. Past `timeoutMs` it rejects with `States.Timeout`, the
   * error Step Functions raises when a `.waitForTaskToken` state times out; with `heartbeatMs`,
   * a wait that gets no {@link sendHeartbeat} for that long rejects with
   * `States.HeartbeatTimeout` (which a Catch of `States.Timeout` also matches in AWS: both are
   * listed where the definition catches them).
   */
  wait(token: string, timeoutMs: number, signal?: AbortSignal, heartbeatMs?: number): Promise<unknown> {
    if (!this.issued.has(token) || this.waiters.has(token)) return Promise.reject(new TaskGoneError('unknown task token'));
    return new Promise<unknown>((resolve, reject) => {
      const now = this.timers.now();
      const waiter: Waiter = {
        resolve,
        reject,
        disarm: undefined,
        deadline: now + timeoutMs,
        heartbeat: heartbeatMs !== undefined && heartbeatMs < timeoutMs ? { ms: heartbeatMs, deadline: now + heartbeatMs } : undefined,
        timeoutMs,
      };
      this.waiters.set(token, waiter);
      this.arm(token, waiter);
      if (signal) {
        const onAbort = () => this.settle(token, (w) => w.reject(new StatesError('States.Aborted', 'the execution was stopped')));
        signal.addEventListener('abort', onAbort, { once: true });
        // A run that waits many times (a queued run looking again) must not pile up listeners.
        waiter.detach = () => signal.removeEventListener('abort', onAbort);
      }
    });
  }

  /** Arms the waiter's timer for its earliest deadline (heartbeat or timeout). */
  private arm(token: string, waiter: Waiter): void {
    waiter.disarm?.();
    const due = Math.min(waiter.deadline, waiter.heartbeat?.deadline ?? Infinity);
    const left = due - this.timers.now();
    waiter.disarm = this.timers.schedule(Math.max(1, Math.min(left, MAX_TIMER_MS)), () => {
      if (this.waiters.get(token) !== waiter) return;
      const now = this.timers.now();
      if (waiter.heartbeat && now >= waiter.heartbeat.deadline && waiter.heartbeat.deadline <= waiter.deadline) {
        const seconds = Math.round(waiter.heartbeat.ms / 1000);
        this.settle(token, (w) => w.reject(new StatesError('States.HeartbeatTimeout', `no heartbeat for the task token within ${seconds} s`)));
      } else if (now >= waiter.deadline) {
        this.settle(token, (w) => w.reject(new StatesError('States.Timeout', `no answer for the task token within ${Math.round(waiter.timeoutMs / 1000)} s`)));
      } else this.arm(token, waiter);
    });
  }

  /** SendTaskHeartbeat: the waiting state's heartbeat interval starts again. */
  sendHeartbeat(token: string): Promise<void> {
    const waiter = this.waiters.get(token);
    if (!waiter) return Promise.reject(new TaskGoneError(this.issued.has(token) ? 'the step no longer waits on this token' : 'unknown task token'));
    if (waiter.heartbeat) {
      waiter.heartbeat.deadline = this.timers.now() + waiter.heartbeat.ms;
      this.arm(token, waiter);
    }
    return Promise.resolve();
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

  /**
   * The pipeline function's way to wake a queued run: SendTaskSuccess that answers false, as the
   * AWS one does, when no state waits on the token any more.
   */
  callback(): TaskTokenCallback {
    return {
      sendSuccess: async (token, output) => {
        if (!this.isWaiting(token)) return false;
        await this.sendSuccess(token, output);
        return true;
      },
    };
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
    waiter.disarm?.();
    waiter.detach?.();
    fn(waiter);
    return true;
  }
}
