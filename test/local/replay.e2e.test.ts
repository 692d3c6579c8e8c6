/**
 * `tfstep local replay`: a new execution with the original input; modules the first run
 * already applied at that commit are skipped by the planner.
 */
import * as path from 'node:path';
import { localReplay } from '../../lib/local/ui/replay';
import { localRun } from '../../lib/local/ui/run';
import { LocalModeError } from '../../lib/local/engine/errors';
import { doubleLog, makeInfraRepo, memoryIo, runnerEnv, stateDirWithBundle, tempDir, toolPathWithoutTerraform, TWO_DEV_CONFIG } from './helpers';

jest.setTimeout(180_000);

describe('tfstep local replay', () => {
  const bin = toolPathWithoutTerraform();

  it('replays a failed run: only what failed runs again, and the run then goes on to the end', async () => {
    // GIVEN a run that failed because dev-a failed (dev-b applied)
    const repo = makeInfraRepo();
    const stateDir = await stateDirWithBundle();
    const failLog = path.join(tempDir('log'), 'double.log');
    const first = await localRun({
      configFile: TWO_DEV_CONFIG,
      repoDir: repo,
      approve: 'auto',
      stateDir,
      json: true,
      env: runnerEnv(bin, failLog, { TFSTEP_TEST_DOUBLE_FAIL: 'dev-a/us-east-1/app' }),
      io: memoryIo().io,
    });
    expect(first.result.status).toBe('FAILED');

    // WHEN it is replayed once the failure is fixed, named by the ARN `local run --json` printed
    expect(first.result.report.executionId).toMatch(/^arn:aws:states:.*:execution:tfstep-pipeline:local-/);
    const log = path.join(tempDir('log'), 'double.log');
    const out = memoryIo();
    const replay = await localReplay({ execution: first.result.report.executionId, stateDir, approve: 'auto', json: true, env: runnerEnv(bin, log), io: out.io });

    // THEN the replay succeeds as a new execution
    expect(replay.exitCode).toBe(0);
    expect(replay.result.status).toBe('SUCCEEDED');
    expect(replay.result.report.executionName).not.toBe(first.result.report.executionName);
    // AND dev-b, already applied at that commit, is not applied again
    const modules = doubleLog(log).map((l) => l.split(' ')[0]);
    expect(modules).toContain('dev-a/us-east-1/app');
    expect(modules).not.toContain('dev-b/us-east-1/app');
    expect(doubleLog(log)).toContain('prod/us-east-1/app apply');
  });

  it('fails when the state directory has no such execution', async () => {
    // GIVEN an empty state directory WHEN a replay is asked THEN it is refused as bad input
    await expect(localReplay({ execution: 'local-nothing', stateDir: tempDir('state'), approve: 'auto', io: memoryIo().io })).rejects.toThrow(LocalModeError);
  });
});
