/**
 * Drift sweeps in the local mode, end to end: the real plan-only definition in the local engine,
 * the pipeline function in-process, the runner as child processes, terraform as the test double
 * (TFSTEP_TEST_DOUBLE_DRIFT stands in for a change made outside Terraform).
 */
import * as path from 'node:path';
import { localDrift } from '../../lib/local/ui/drift';
import { localRun } from '../../lib/local/ui/run';
import { LocalPipeline } from '../../lib/local/engine/session';
import { openLocalStore } from '../../lib/local/engine/store';
import { buildLocalPush, resolveLocalSource } from '../../lib/local/engine/push';
import { loadConfig } from '../../lib/config/loader';
import { RunStore } from '../../lib/store/run-store';
import { execFileSync } from 'node:child_process';
import { commit, devConfigFor, doubleLog, memoryIo, moduleTf, runnerEnv, stateDirWithBundle, tempDir, toolPathWithoutTerraform, until } from './helpers';

jest.setTimeout(120_000);

const APP_B = 'dev-b/us-east-1/app';
/** dev-b's app changed outside Terraform: its input is now "v2" where the code says "v1". */
const DRIFT_APP_B = `${APP_B}:terraform_data.app=input = "v2"`;

/** The example: one dev stage of two accounts, an app module in each and a db module in dev-b. */
function example(): { repo: string; configFile: string } {
  const repo = tempDir('repo');
  execFileSync('git', ['-c', 'init.defaultBranch=main', 'init', '-q', '-b', 'main', repo]);
  commit(repo, { 'dev-a/us-east-1/app/main.tf': moduleTf('app'), [`${APP_B}/main.tf`]: moduleTf('app'), 'dev-b/us-east-1/db/main.tf': moduleTf('db') }, 'the example');
  return { repo, configFile: devConfigFor(repo, ['dev-a', 'dev-b']) };
}

describe('drift sweeps in the local mode', () => {
  it('reports exactly the drifted target with its addresses, notices once, and reports it resolved after matching code is pushed', async () => {
    // GIVEN the example applied to every account
    const { repo, configFile } = example();
    const stateDir = await stateDirWithBundle();
    const bin = toolPathWithoutTerraform();
    const log = path.join(tempDir('log'), 'double.log');
    const env = runnerEnv(bin, log);
    const applied = await localRun({ configFile, repoDir: repo, approve: 'auto', stateDir, json: true, env, io: memoryIo().io });
    expect(applied.result.status).toBe('SUCCEEDED');

    // WHEN a sweep runs
    const first = await localDrift({ configFile, repoDir: repo, stateDir, json: true, env, io: memoryIo().io });
    // THEN every target is clean, nobody hears about it, and the plans took no state lock
    expect(first.report.counts).toEqual({ clean: 3, drifted: 0, error: 0, skipped: 0 });
    expect(first.notices).toEqual([]);
    expect(first.exitCode).toBe(0);
    expect(doubleLog(log).filter((l) => l.endsWith(' plan')).length).toBeGreaterThan(0);

    // WHEN dev-b's app drifts and a sweep runs
    const driftEnv = { ...env, TFSTEP_TEST_DOUBLE_DRIFT: DRIFT_APP_B };
    const second = await localDrift({ configFile, repoDir: repo, stateDir, json: true, env: driftEnv, io: memoryIo().io });
    // THEN exactly that target is reported, with its address and action, and one notice names it
    expect(second.exitCode).toBe(1);
    const drifted = second.report.targets.filter((t) => t.status === 'drifted');
    expect(drifted.map((t) => [t.account, t.module, t.changes])).toEqual([['dev-b', APP_B, [{ address: 'terraform_data.app', action: 'update' }]]]);
    expect(drifted[0]?.firstSeen).toBeDefined();
    expect(second.report.counts).toEqual({ clean: 2, drifted: 1, error: 0, skipped: 0 });
    expect(second.notices).toHaveLength(1);
    expect(second.notices[0]?.text).toContain(`DRIFTED dev-b ${APP_B}`);
    expect(second.notices[0]?.text).toContain('update terraform_data.app');

    // WHEN another sweep finds the same
    const third = await localDrift({ configFile, repoDir: repo, stateDir, json: true, env: driftEnv, io: memoryIo().io });
    // THEN the report keeps when it was first seen, and no new notice goes out
    expect(third.notices).toEqual([]);
    const still = third.report.targets.find((t) => t.module === APP_B)!;
    expect(still.status).toBe('drifted');
    expect(still.firstSeen).toBe(drifted[0]?.firstSeen);
    expect(still.lastSeen! > still.firstSeen!).toBe(true);

    // WHEN code that matches what is there now is pushed and applied, and a sweep runs
    commit(repo, { [`${APP_B}/main.tf`]: moduleTf('app', 'v2') }, 'dev-b app: input v2, as it is in the account');
    const pushed = await localRun({ configFile, repoDir: repo, approve: 'auto', stateDir, json: true, env: driftEnv, io: memoryIo().io });
    expect(pushed.result.status).toBe('SUCCEEDED');
    const fourth = await localDrift({ configFile, repoDir: repo, stateDir, json: true, env: driftEnv, io: memoryIo().io });
    // THEN the target is clean again and one notice says it was resolved
    expect(fourth.report.counts).toEqual({ clean: 3, drifted: 0, error: 0, skipped: 0 });
    expect(fourth.notices).toHaveLength(1);
    expect(fourth.notices[0]?.subject).toContain('1 resolved');
    expect(fourth.notices[0]?.text).toContain(`RESOLVED dev-b ${APP_B}`);
  });

  it('reports the targets of a branch held by a running deploy as skipped, and the deploy goes on undisturbed', async () => {
    // GIVEN the example applied, then a slow deploy holding branch main
    const { repo, configFile } = example();
    const stateDir = await stateDirWithBundle();
    const log = path.join(tempDir('log'), 'double.log');
    const env = runnerEnv(toolPathWithoutTerraform(), log);
    const config = loadConfig(configFile);
    expect((await localRun({ configFile, repoDir: repo, approve: 'auto', stateDir, json: true, env, io: memoryIo().io })).result.status).toBe('SUCCEEDED');
    commit(repo, { 'dev-a/us-east-1/app/main.tf': moduleTf('app', 'v3') }, 'dev-a app v3');
    const store = await openLocalStore(stateDir);
    try {
      const runStore = new RunStore(store.docClient, store.tableName);
      const pipeline = await LocalPipeline.create({ config, stateDir, repoDir: repo, store, env: { ...env, TFSTEP_TEST_DOUBLE_SLEEP_MS: '3000' } });
      const source = await resolveLocalSource({ config, repoDir: repo });
      const { input } = await buildLocalPush(source, runStore);
      const deploy = pipeline.start(input);
      await until(() => doubleLog(log).filter((l) => l === 'dev-a/us-east-1/app plan').length >= 2, 30_000, 'the deploy to start planning');
      const holder = await runStore.getLock('acme/live', 'main');
      expect(holder.holder).toBe(deploy.executionName);
      const before = doubleLog(log).length;

      // WHEN a sweep runs meanwhile
      const sweep = await pipeline.runPlanOnly({ kind: 'drift' });
      const sweptAt = Date.now();

      // THEN every target of the held branch is skipped, naming the deploy, and none was planned by the sweep
      expect(sweep.execution.status).toBe('SUCCEEDED');
      const results = await runStore.planOnly.listResults(sweep.name);
      expect(results).toHaveLength(3);
      for (const r of results) {
        expect(r.status).toBe('skipped');
        expect(r.skippedBecause).toContain(deploy.executionName);
      }
      const report = await runStore.planOnly.listDrift('acme/live');
      expect(report.every((e) => e.status === 'skipped')).toBe(true);
      // AND the deploy was still running when the sweep ended, and succeeds
      const done = await deploy.done;
      expect(done.status).toBe('SUCCEEDED');
      expect(Date.now()).toBeGreaterThan(sweptAt);
      expect(doubleLog(log).slice(before).filter((l) => !l.startsWith('dev-a/us-east-1/app'))).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
