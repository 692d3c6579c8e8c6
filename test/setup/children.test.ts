import { spawn, type ChildProcess } from 'node:child_process';
import { endAfterTest } from './children';

describe('endAfterTest', () => {
  let child: ChildProcess;
  let exited: Promise<NodeJS.Signals | null>;

  it('leaves a tracked child running during its test', () => {
    child = endAfterTest(spawn(process.execPath, ['-e', 'setTimeout(() => {}, 600000)'], { stdio: 'ignore' }));
    exited = new Promise((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    expect(child.exitCode).toBeNull();
  });

  it('ended it after that test, though the test did not', async () => {
    expect(await exited).toBe('SIGKILL');
  });
});
