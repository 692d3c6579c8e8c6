/**
 * End to end with the real `terraform` binary: the local mode keeps each module's Terraform
 * state under the state directory, so a changed attribute plans as a change, not as a new
 * resource. Skipped, with a printed notice, where no terraform is on PATH.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { localRun } from '../../lib/local/ui/run';
import { commit, memoryIo, realTerraform, stateDirWithBundle, tempDir, toolPathWithTerraform } from './helpers';

jest.setTimeout(180_000);

const terraform = realTerraform('the end-to-end test of local Terraform state');

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
  - { name: dev, id: "111111111111", region: eu-west-1, stage: dev }
`;

function appTf(replicas: number): string {
  return `resource "terraform_data" "service" {\n  input = { name = "service", replicas = ${replicas} }\n}\n`;
}

interface Report {
  status: string;
  stages: { accounts: { modules: { path: string; status: string; plan?: { add: number; change: number; destroy: number } }[] }[] }[];
}

(terraform ? describe : describe.skip)('local runs with the real terraform', () => {
  it('keep state between runs: replicas 1 -> 2 plans 1 to change', async () => {
    // GIVEN a repository with one module and a PATH with git, node and the real terraform
    const bin = toolPathWithTerraform();
    const repo = tempDir('repo');
    execFileSync('git', ['-c', 'init.defaultBranch=main', 'init', '-q', '-b', 'main', repo]);
    commit(repo, { 'dev/eu-west-1/app/main.tf': appTf(1) }, 'app with one replica');
    const configFile = path.join(tempDir('config'), 'tfstep.yaml');
    writeFileSync(configFile, CONFIG);
    const stateDir = await stateDirWithBundle();
    const env = { PATH: bin, HOME: tempDir('home') };

    // WHEN it is applied
    const first = memoryIo();
    const one = await localRun({ configFile, repoDir: repo, approve: 'auto', stateDir, json: true, env, io: first.io });

    // THEN terraform (not the double) created the resource and its state lives under the state directory
    expect(first.stderr()).not.toContain('TEST DOUBLE');
    expect(one.exitCode).toBe(0);
    const r1 = JSON.parse(first.stdout()) as Report;
    expect(r1.stages[0]?.accounts[0]?.modules[0]).toMatchObject({ path: 'dev/eu-west-1/app', status: 'applied', plan: { add: 1, change: 0, destroy: 0 } });
    const stateFile = path.join(stateDir, 'terraform-state', 'dev', 'eu-west-1', 'dev', 'eu-west-1', 'app', 'terraform.tfstate');
    expect(existsSync(stateFile)).toBe(true);
    expect(readFileSync(stateFile, 'utf8')).toContain('"replicas": 1');

    // WHEN replicas changes to 2 and that commit runs
    commit(repo, { 'dev/eu-west-1/app/main.tf': appTf(2) }, 'two replicas');
    const second = memoryIo();
    const two = await localRun({ configFile, repoDir: repo, approve: 'auto', stateDir, json: true, env, io: second.io });

    // THEN the plan changes the resource in place, and the state holds the new value
    expect(two.exitCode).toBe(0);
    const r2 = JSON.parse(second.stdout()) as Report;
    expect(r2.stages[0]?.accounts[0]?.modules[0]).toMatchObject({ path: 'dev/eu-west-1/app', status: 'applied', plan: { add: 0, change: 1, destroy: 0 } });
    expect(readFileSync(stateFile, 'utf8')).toContain('"replicas": 2');
  });
});
