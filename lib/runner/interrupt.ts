/**
 * Stopping gracefully. When ECS stops a task (StopTask from a Step Functions abort or timeout,
 * or Fargate retiring the task) it sends SIGTERM to the container and SIGKILL `stopTimeout`
 * seconds later (ECS API reference, StopTask; at most 120 s on Fargate, set by the task
 * definition). Killing terraform mid-apply leaves the state lock held and recent state writes
 * lost, so the runner:
 *
 * - catches SIGTERM (and SIGINT: Ctrl-C in the local mode) instead of dying;
 * - sends every running tool (several when modules run at once) exactly one SIGINT:
 *   terraform's graceful stop, which finishes the operations in flight, writes the state and
 *   releases the lock (a second SIGINT would make it exit at once, so it is never sent);
 * - starts nothing more, waits for every running tool, records those modules as interrupted and
 *   the modules not started as skipped, and exits EXIT.INTERRUPTED (5), which the state machine
 *   classifies as interrupted.
 *
 * The tool runs in its own process group (see ./exec.ts), so a terminal's Ctrl-C reaches the
 * runner only and terraform gets one SIGINT, from the runner. In the container, the task
 * definition's init process (initProcessEnabled) is PID 1 and forwards SIGTERM to node, which
 * as PID 1 would otherwise ignore it.
 */
import type { ChildProcess } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import type { Logger } from './logger';

/** The signals that ask the runner to stop. */
export const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/** The tool was interrupted, or the runner stopped before starting it: exit EXIT.INTERRUPTED. */
export class InterruptedError extends Error {
  override name = 'InterruptedError';
}

/** Tracks whether a stop was asked for and forwards it to the child that runs. */
export class Interruption {
  private signal: string | undefined;
  private readonly children = new Set<ChildProcess>();

  constructor(private readonly logger: Logger) {}

  /** The signal that asked the runner to stop, if one did. */
  get requestedBy(): string | undefined {
    return this.signal;
  }

  /** Handles a stop signal: the first one is forwarded as SIGINT, later ones are only logged. */
  request(signal: string): void {
    if (this.signal) {
      this.logger.info(`tfstep runner: ${signal} received again; still waiting for the tool to stop`);
      return;
    }
    this.signal = signal;
    const running = [...this.children].filter((c) => c.exitCode === null && c.signalCode === null);
    this.logger.info(
      running.length > 0
        ? running.length === 1
          ? `tfstep runner: ${signal} received; sent SIGINT to the running tool and waiting for it to stop and release its lock`
          : `tfstep runner: ${signal} received; sent SIGINT to the ${running.length} running tools and waiting for them to stop and release their locks`
        : `tfstep runner: ${signal} received; stopping before the next step`,
    );
    for (const child of running) child.kill('SIGINT');
  }

  /** Registers a child for the time it runs; a child started after the stop request is stopped at once. */
  track(child: ChildProcess): void {
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    if (this.signal) child.kill('SIGINT');
  }

  /** Throws {@link InterruptedError} when a stop was asked for: called before each step. */
  throwIfRequested(what: string): void {
    if (this.signal) throw new InterruptedError(`interrupted by ${this.signal} before ${what}`);
  }

  /**
   * Listens for {@link STOP_SIGNALS} on `source` (the process).
   * @returns a function that removes the listeners again
   */
  listen(source: EventEmitter): () => void {
    const handler = (signal: string) => this.request(signal);
    for (const s of STOP_SIGNALS) source.on(s, handler);
    return () => {
      for (const s of STOP_SIGNALS) source.off(s, handler);
    };
  }
}
