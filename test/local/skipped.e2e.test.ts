/**
 * A failing upstream in the local mode: its dependent is skipped, naming it, in the run's JSON
 * and in `tfstep show` (text and JSON); a module that does not depend on it still runs. The
 * runner is the real one, as a child process; terraform is the test double.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { localRun } from '../../lib/local/ui/run';
import { RunDetailSchema } from '../../lib/operator/views';
import { runCli } from '../cli/run-cli';
import { commit, doubleLog, memoryIo, moduleTf, runnerEnv, stateDirWithBundle, tempDir, toolPathWithoutTerraform } from './helpers';

jest.setTimeout(180_000);

const CONFIG = `version: 1
central:
  account: "999999999999"
  region: us-east-1
repositories:
  - provider: github
    fullName: acme/live
    cloneUrls: [https://github.com/acme/live.git]
    deployBranch: main
stageOrder: [dev]
stages:
  dev: {}
accounts:
  - { name: dev, id: "111111111111", region: us-east-1, stage: dev }
dependsOn:
  - module: app
    on: [network]
runner:
  moduleConcurrency: 2
`;

interface ReportModule {
  path: string;
  status: string;
  skippedBecause?: string;
}

describe('a failing upstream in the local mode', () => {
  it('leaves its dependent skipped, naming it, in the run JSON and in tfstep show; the independent module still runs', async () => {
    // GIVEN network, app depending on network, and db depending on nothing; network's plan fails
    const repo = tempDir('repo');
    execFileSync('git', ['-c', 'init.defaultBranch=main', 'init', '-q', '-b', 'main', repo]);
    commit(
      repo,
      { 'dev/us-east-1/network/main.tf': moduleTf('network'), 'dev/us-east-1/app/main.tf': moduleTf('app'), 'dev/us-east-1/db/main.tf': moduleTf('db') },
      'network, app and db',
    );
    const configFile = path.join(tempDir('config'), 'tfstep.yaml');
    writeFileSync(configFile, CONFIG);
    const stateDir = await stateDirWithBundle();
    const log = path.join(tempDir('log'), 'double.log');
    const out = memoryIo();

    // WHEN the push runs
    const run = await localRun({
      configFile,
      repoDir: repo,
      approve: 'auto',
      stateDir,
      json: true,
      env: runnerEnv(toolPathWithoutTerraform(), log, { TFSTEP_TEST_DOUBLE_FAIL: 'dev/us-east-1/network' }),
      io: out.io,
    });

    // THEN the run failed; in its JSON app is skipped because of network, and db (a stage without approval: planned and applied in one task) was applied
    expect(run.exitCode).not.toBe(0);
    const report = JSON.parse(out.stdout()) as { status: string; stages: { accounts: { modules: ReportModule[] }[] }[] };
    expect(report.status).toBe('FAILED');
    const modules = Object.fromEntries((report.stages[0]?.accounts[0]?.modules ?? []).map((m) => [m.path, m]));
    expect(modules['dev/us-east-1/network']).toMatchObject({ status: 'failed' });
    expect(modules['dev/us-east-1/app']).toEqual({ path: 'dev/us-east-1/app', status: 'skipped', skippedBecause: 'dev/us-east-1/network' });
    expect(modules['dev/us-east-1/db']).toMatchObject({ status: 'applied' });
    // app was never initialised or planned
    expect(doubleLog(log).filter((l) => l.startsWith('dev/us-east-1/app'))).toEqual([]);

    // AND tfstep show names the failed upstream, as JSON and as text
    const execution = run.result.report.executionName;
    const json = await runCli(['show', execution, '--local', '--state-dir', stateDir, '--config', configFile, '--json']);
    expect(json.code).toBe(0);
    const detail = RunDetailSchema.parse(JSON.parse(json.stdout));
    const shown = detail.stages.flatMap((s) => s.accounts).flatMap((a) => a.modules);
    expect(shown.find((m) => m.path === 'dev/us-east-1/app')).toMatchObject({ status: 'SKIPPED', skippedBecause: 'dev/us-east-1/network' });
    expect(shown.find((m) => m.path === 'dev/us-east-1/db')).toMatchObject({ status: 'APPLIED', skippedBecause: null });

    const text = await runCli(['show', execution, '--local', '--state-dir', stateDir, '--config', configFile]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('dev/us-east-1/app skipped: dev/us-east-1/network failed');
  });
});
