/**
 * End to end: the fleet in the local mode. The fleet file stands in for AWS Organizations; an
 * account added to it is deployed by the next push, with no change to the config.
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { localRun } from '../../lib/local/ui/run';
import { commit, FIXTURES, makeInfraRepo, memoryIo, moduleTf, runnerEnv, stateDirWithBundle, tempDir, toolPathWithoutTerraform } from './helpers';

jest.setTimeout(180_000);

interface JsonReport {
  status: string;
  stages: { name: string; accounts: { name: string; modules: { path: string; status: string }[] }[] }[];
}

/** An organization with /workloads/dev holding the given accounts. */
function organization(accounts: string[]): string {
  return stringify({
    Roots: [{ Id: 'r-ab12', Name: 'Root' }],
    OrganizationalUnits: [
      { Id: 'ou-ab12-11111111', Name: 'workloads', ParentId: 'r-ab12' },
      { Id: 'ou-ab12-22222222', Name: 'dev', ParentId: 'ou-ab12-11111111' },
    ],
    Accounts: accounts.map((Id) => ({ Id, Name: `team ${Id}`, State: 'ACTIVE', ParentId: 'ou-ab12-22222222' })),
  });
}

describe('tfstep local run with a fleet', () => {
  const bin = toolPathWithoutTerraform();

  it('deploys an account added to the fleet file at the next push, without a config change', async () => {
    // GIVEN the fleet config beside a fleet file with one account in /workloads/dev
    const dir = tempDir('fleet');
    const configFile = path.join(dir, 'tfstep.yaml');
    copyFileSync(path.join(FIXTURES, 'fleet.yaml'), configFile);
    const fleetFile = path.join(dir, 'fleet-organization.yaml');
    writeFileSync(fleetFile, organization(['500000000001']));
    // AND a repository with the listed account's module and the fleet's shared baseline
    const repo = makeInfraRepo();
    commit(repo, { 'baseline/us-east-1/app/main.tf': moduleTf('baseline') }, 'baseline for the fleet');
    const stateDir = await stateDirWithBundle();
    const log = path.join(tempDir('log'), 'double.log');

    // WHEN the head is pushed
    const first = memoryIo();
    const one = await localRun({ configFile, repoDir: repo, approve: 'auto', stateDir, json: true, env: runnerEnv(bin, log), io: first.io });

    // THEN the listed account and the fleet's account are both deployed, the fleet's from the shared root
    expect(one.exitCode).toBe(0);
    const report = JSON.parse(first.stdout()) as JsonReport;
    expect(report.stages.flatMap((s) => s.accounts.map((a) => [a.name, a.modules.map((m) => [m.path, m.status])]))).toEqual([
      ['dev-a', [['dev-a/us-east-1/app', 'applied']]],
      ['acct-500000000001', [['baseline/us-east-1/app', 'applied']]],
    ]);

    // GIVEN a second account added to the OU in the fleet file, and nothing else but a README change
    writeFileSync(fleetFile, organization(['500000000001', '500000000002']));
    commit(repo, { 'README.md': '# live\n\nmore words\n' }, 'docs only');

    // WHEN the next push runs
    const second = memoryIo();
    const two = await localRun({ configFile, repoDir: repo, approve: 'auto', stateDir, json: true, env: runnerEnv(bin, log), io: second.io });

    // THEN only the new account is deployed: the others were applied and nothing of theirs changed
    expect(two.exitCode).toBe(0);
    const report2 = JSON.parse(second.stdout()) as JsonReport;
    expect(report2.status).toBe('SUCCEEDED');
    expect(report2.stages.flatMap((s) => s.accounts.map((a) => [a.name, a.modules.map((m) => [m.path, m.status])]))).toEqual([['acct-500000000002', [['baseline/us-east-1/app', 'applied']]]]);
  });
});
