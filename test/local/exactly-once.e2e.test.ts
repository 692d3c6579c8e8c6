/**
 * Exactly once, end to end through the real definition: a run waiting at the prod prompt cannot
 * be replayed from a second terminal, and a run that lost its branch while it waited applies
 * nothing when the approval finally comes (the lease check before every runner task).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { localRun } from '../../lib/local/ui/run';
import { openLocalStore } from '../../lib/local/engine/store';
import { RunStore } from '../../lib/store/run-store';
import { doubleLog, makeInfraRepo, memoryIo, runnerEnv, stateDirWithBundle, tempDir, toolPathWithoutTerraform, TWO_DEV_CONFIG, until } from './helpers';
import { endAfterTest } from '../setup/children';

jest.setTimeout(180_000);

const CLI = path.join(__dirname, '..', '..', 'bin', 'tfstep.cjs');

/** The execution names a state directory has run. */
function executions(stateDir: string): string[] {
  return readdirSync(path.join(stateDir, 'executions')).map((f) => f.replace(/\.json$/, ''));
}

describe('exactly once', () => {
  const bin = toolPathWithoutTerraform();

  it('refuses to replay a run that waits at the prod prompt in another process; the approval then applies prod once', async () => {
    // GIVEN `tfstep local run` in one process, waiting at the prod approval prompt
    const repo = makeInfraRepo();
    const stateDir = await stateDirWithBundle();
    const log = path.join(tempDir('log'), 'double.log');
    const env = { ...runnerEnv(bin, log), NO_COLOR: '1' };
    const first: ChildProcess = endAfterTest(spawn(process.execPath, [CLI, 'local', 'run', '--config', TWO_DEV_CONFIG, '--repo', repo, '--state-dir', stateDir, '--approve', 'prompt'], {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    }));
    let out = '';
    first.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
    first.stderr!.on('data', (c: Buffer) => (out += c.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => first.on('exit', resolve));
    try {
      await until(() => out.includes('Decide as approver number'), 120_000, 'the prod approval prompt');
      const [name] = executions(stateDir);

      // WHEN a second terminal replays it
      const replay = spawnSync(process.execPath, [CLI, 'local', 'replay', name!, '--state-dir', stateDir, '--approve', 'auto'], { encoding: 'utf8', env: { ...process.env, ...env } });

      // THEN the replay is refused, saying what to do, and nothing more was applied
      expect(replay.status).not.toBe(0);
      expect(replay.stderr).toContain(`run ${name} is still RUNNING in process ${first.pid}`);
      expect(replay.stderr).toContain('wait for it to end, or abort it first');
      expect(doubleLog(log).filter((l) => l.startsWith('prod/'))).toEqual(expect.not.arrayContaining(['prod/us-east-1/app apply']));

      // AND when the prompt is answered, prod is applied exactly once
      first.stdin!.write('1\napprove\n\n');
      expect(await exited).toBe(0);
      expect(doubleLog(log).filter((l) => l === 'prod/us-east-1/app apply')).toHaveLength(1);
      expect(executions(stateDir)).toEqual([name]);
    } finally {
      first.kill('SIGKILL');
    }
  });

  it('applies nothing when the approval comes after the run lost its branch', async () => {
    // GIVEN a run waiting at the prod prompt
    const repo = makeInfraRepo();
    const stateDir = await stateDirWithBundle();
    const log = path.join(tempDir('log'), 'double.log');
    const io = memoryIo();
    const running = localRun({ configFile: TWO_DEV_CONFIG, repoDir: repo, approve: 'prompt', stateDir, json: true, env: runnerEnv(bin, log), io: io.io });
    await until(() => io.stderr().includes('Decide as approver number'), 120_000, 'the prod approval prompt');
    const [name] = executions(stateDir);

    // WHEN its branch is taken from it meanwhile (recorded aborted and released, as a stale lock would be)
    const store = await openLocalStore(stateDir);
    try {
      const runs = new RunStore(store.docClient, store.tableName);
      const run = (await runs.getRunItem(name!))!;
      await runs.finishRun(name!, 'ABORTED', { reason: 'taken over in this test' });
      expect(await runs.releaseLock(run.repository, run.branch, name!)).toBe(true);
    } finally {
      await store.close();
    }
    // AND the approval then arrives
    io.stdin.write('1\napprove\n\n');
    const outcome = await running;

    // THEN no apply task started in prod, and the run says why
    expect(outcome.exitCode).not.toBe(0);
    expect(doubleLog(log).filter((l) => l.startsWith('prod/') && l.endsWith(' apply'))).toEqual([]);
    expect(io.stderr()).toContain('may not start a task in account prod');
  });
});
