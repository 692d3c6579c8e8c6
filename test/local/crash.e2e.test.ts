/**
 * A local run whose tfstep process is killed (SIGKILL: nothing can clean up) leaves its runner
 * children running and its run RUNNING. The next tfstep process on the state directory stops
 * those runners (terraform gets SIGINT and releases its lock), records the run ABORTED and
 * releases its branch, so the same commit deploys again at once.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { localReplay } from '../../lib/local/ui/replay';
import { localServe } from '../../lib/local/ui/serve';
import { openLocalStore } from '../../lib/local/engine/store';
import { processAlive } from '../../lib/local/engine/orphans';
import { RunStore } from '../../lib/store/run-store';
import { doubleLog, makeInfraRepo, memoryIo, runnerEnv, stateDirWithBundle, tempDir, toolPathWithoutTerraform, TWO_DEV_CONFIG, until } from './helpers';
import { endAfterTest } from '../setup/children';

jest.setTimeout(180_000);

const CLI = path.join(__dirname, '..', '..', 'bin', 'tfstep.cjs');

function runnerPids(stateDir: string): number[] {
  const dir = path.join(stateDir, 'runners');
  return existsSync(dir) ? readdirSync(dir).map((f) => (JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as { pid: number }).pid) : [];
}

describe('a local run whose process was killed', () => {
  it('is recognised by the next tfstep process: its runners are stopped, the run is ABORTED and the commit deploys again', async () => {
    // GIVEN `tfstep local run` with a terraform that sleeps mid-plan, holding its lock
    const repo = makeInfraRepo();
    const stateDir = await stateDirWithBundle();
    const bin = toolPathWithoutTerraform();
    const log = path.join(tempDir('log'), 'double.log');
    const lockDir = path.join(tempDir('locks'), 'locks');
    mkdirSync(lockDir);
    const slow = { ...runnerEnv(bin, log), TFSTEP_TEST_DOUBLE_SLEEP_MS: '600000', TFSTEP_TEST_DOUBLE_LOCK_DIR: lockDir, NO_COLOR: '1' };
    const first = endAfterTest(spawn(process.execPath, [CLI, 'local', 'run', '--config', TWO_DEV_CONFIG, '--repo', repo, '--state-dir', stateDir, '--approve', 'auto'], {
      env: { ...process.env, ...slow },
      stdio: 'ignore',
    }));
    const exited = new Promise((resolve) => first.on('exit', resolve));
    // (both dev accounts run at once: two runners, each with terraform holding its module's lock)
    await until(() => runnerPids(stateDir).length === 2 && readdirSync(lockDir).length === 2, 120_000, 'two runners holding their locks');
    const orphans = runnerPids(stateDir);
    const [name] = readdirSync(path.join(stateDir, 'executions')).map((f) => f.replace(/\.json$/, ''));

    // WHEN the tfstep process is killed outright
    first.kill('SIGKILL');
    await exited;
    // THEN its runners go on: orphans nobody drives
    expect(orphans.every(processAlive)).toBe(true);

    // AND WHEN `tfstep local serve` starts again on the state directory
    const out = new PassThrough();
    let said = '';
    out.on('data', (c: Buffer) => (said += c.toString('utf8')));
    const server = await localServe({ configFile: TWO_DEV_CONFIG, port: 0, stateDir, env: { ...runnerEnv(bin, log), TFSTEP_WEBHOOK_SECRET: 'secret-for-tests' }, out });
    await server.close();

    // THEN it stopped the orphaned runners at once: terraform got SIGINT and released its lock
    expect(orphans.some(processAlive)).toBe(false);
    expect(doubleLog(log).some((l) => l.endsWith(' SIGINT'))).toBe(true);
    expect(readdirSync(lockDir)).toEqual([]);
    expect(runnerPids(stateDir)).toEqual([]);
    // AND the killed run is recorded ABORTED, and says so
    expect(said).toContain(`run ${name} was left running by a tfstep process that is gone`);
    const store = await openLocalStore(stateDir);
    try {
      const killed = await new RunStore(store.docClient, store.tableName).getRunItem(name!);
      expect(killed?.status).toBe('ABORTED');
      expect(killed?.reason).toContain('is gone');
    } finally {
      await store.close();
    }
    // AND a replay of it deploys the commit to the end: nothing holds the branch any more
    const io = memoryIo();
    const replay = await localReplay({ execution: name!, stateDir, approve: 'auto', json: true, env: runnerEnv(bin, log), io: io.io });
    expect(replay.result.status).toBe('SUCCEEDED');
    expect(doubleLog(log)).toContain('prod/us-east-1/app apply');
  });
});
