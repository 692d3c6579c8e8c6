/**
 * End to end: an account with 200 modules runs through the local mode to SUCCEEDED, plan,
 * approval and apply. Its module list and approved plan hashes would overflow RunTask's 8,192
 * characters of overrides; they travel in the manifest, and the overrides carry its key and
 * SHA-256 only.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { artifactKeys } from '../../lib/domain/runner-contract';
import { localRun } from '../../lib/local/ui/run';
import { commit, doubleLog, memoryIo, moduleTf, runnerEnv, stateDirWithBundle, tempDir, toolPathWithoutTerraform, TWO_DEV_CONFIG } from './helpers';

jest.setTimeout(900_000);

const MODULES = 200;

interface Use {
  max: number;
  limit: number;
}

describe('an account with 200 modules', () => {
  it('plans, waits for approval and applies all 200 in one account to SUCCEEDED, with its RunTask overrides far below 8,192 characters', async () => {
    // GIVEN a repository whose prod account holds 200 modules with realistic path lengths
    const repo = tempDir('repo');
    execFileSync('git', ['-c', 'init.defaultBranch=main', 'init', '-q', '-b', 'main', repo]);
    const files: Record<string, string> = { 'README.md': '# live\n' };
    const modules = Array.from({ length: MODULES }, (_, i) => `prod/us-east-1/services/payments-service-${String(i).padStart(3, '0')}`);
    for (const m of modules) files[`${m}/main.tf`] = moduleTf('svc');
    commit(repo, files, 'prod: 200 services');
    const stateDir = await stateDirWithBundle();
    const log = path.join(tempDir('log'), 'double.log');
    const out = memoryIo();

    // WHEN the push runs, prod approved at the prompt
    const outcome = await localRun({ configFile: TWO_DEV_CONFIG, repoDir: repo, approve: 'auto', stateDir, json: true, env: runnerEnv(toolPathWithoutTerraform(), log), io: out.io });

    // THEN the run succeeds and every module was planned and then applied, in prod
    const report = JSON.parse(out.stdout()) as { status: string; limits: Record<string, Use> };
    expect({ status: report.status, exitCode: outcome.exitCode }).toEqual({ status: 'SUCCEEDED', exitCode: 0 });
    const calls = doubleLog(log);
    expect(calls.filter((c) => c.endsWith(' plan'))).toHaveLength(MODULES);
    expect(calls.filter((c) => c.endsWith(' apply'))).toHaveLength(MODULES);

    // AND the largest RunTask overrides stayed far below AWS's 8,192 characters
    const overrides = report.limits.runTaskOverridesChars!;
    expect(overrides.limit).toBe(8192);
    expect(overrides.max).toBeGreaterThan(0);
    expect(overrides.max).toBeLessThan(1024);

    // AND what travelled in the manifests instead would not have fit: the approved plans alone pass the limit
    const executions = readdirSync(path.join(stateDir, 'artifacts', 'accounts', 'prod'));
    expect(executions).toHaveLength(1);
    const apply = JSON.parse(readFileSync(path.join(stateDir, 'artifacts', artifactKeys.manifest(executions[0]!, 'prod', 'apply')), 'utf8')) as {
      modules: string[];
      approvedPlans: Record<string, string>;
    };
    expect(apply.modules).toEqual(modules);
    expect(Object.keys(apply.approvedPlans)).toHaveLength(MODULES);
    expect(JSON.stringify(apply.modules).length + JSON.stringify(apply.approvedPlans).length).toBeGreaterThan(8192);
    // AND the account's runner recorded each of its 200 plans in its own folder, which the apply checked
    expect(readdirSync(path.join(stateDir, 'plan-records', 'prod', executions[0]!))).toHaveLength(MODULES);
  });
});
