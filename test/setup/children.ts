import type { ChildProcess } from 'node:child_process';

const running = new Set<ChildProcess>();

/**
 * Ends `child` (SIGKILL) after the current test if it is still running, even when the test
 * failed before its own cleanup: a child left behind keeps jest from exiting.
 */
export function endAfterTest<T extends ChildProcess>(child: T): T {
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

/** Registered for every test file by jest.config.cjs. */
export function endLeftoverChildren(): void {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  running.clear();
}
