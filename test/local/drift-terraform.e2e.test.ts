/**
 * A drift sweep with the real terraform: drift made by changing the state out of band (the
 * `input` of a terraform_data resource edited in the state file, as if the resource had been
 * changed outside Terraform) is reported with the resource's address; skipped, with a notice,
 * where no terraform is installed.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { localDrift } from '../../lib/local/ui/drift';
import { localRun } from '../../lib/local/ui/run';
import { commit, memoryIo, realTerraform, stateDirWithBundle, tempDir, toolPathWithTerraform } from './helpers';

jest.setTimeout(180_000);

const terraform = realTerraform('the drift sweep test');

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

(terraform ? describe : describe.skip)('a drift sweep with the real terraform', () => {
  it('finds a terraform_data whose input was changed in the state, and nothing before', async () => {
    // GIVEN one module applied with the real terraform
    const bin = toolPathWithTerraform();
    const repo = tempDir('repo');
    execFileSync('git', ['-c', 'init.defaultBranch=main', 'init', '-q', '-b', 'main', repo]);
    commit(repo, { 'dev/eu-west-1/app/main.tf': 'resource "terraform_data" "app" {\n  input = "v1"\n}\n' }, 'app');
    const configFile = path.join(tempDir('config'), 'tfstep.yaml');
    writeFileSync(configFile, CONFIG);
    const stateDir = await stateDirWithBundle();
    const env = { PATH: bin, HOME: tempDir('home') };
    expect((await localRun({ configFile, repoDir: repo, approve: 'auto', stateDir, json: true, env, io: memoryIo().io })).exitCode).toBe(0);

    // WHEN a sweep runs THEN the target is clean
    const clean = await localDrift({ configFile, repoDir: repo, stateDir, json: true, env, io: memoryIo().io });
    expect(clean.report.counts).toEqual({ clean: 1, drifted: 0, error: 0, skipped: 0 });

    // WHEN the resource's input is changed in the state, outside the pipeline, and a sweep runs
    const stateFile = path.join(stateDir, 'terraform-state', 'dev', 'eu-west-1', 'dev', 'eu-west-1', 'app', 'terraform.tfstate');
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { serial: number; resources: { instances: { attributes: { input: { value: string } } }[] }[] };
    state.resources[0]!.instances[0]!.attributes.input.value = 'changed outside';
    state.serial += 1;
    writeFileSync(stateFile, JSON.stringify(state, null, 2));
    const drifted = await localDrift({ configFile, repoDir: repo, stateDir, json: true, env, io: memoryIo().io });

    // THEN the sweep reports the target drifted, naming the resource, and sends one notice
    expect(drifted.exitCode).toBe(1);
    const target = drifted.report.targets.find((t) => t.status === 'drifted');
    expect(target?.module).toBe('dev/eu-west-1/app');
    expect(target?.changes?.map((c) => c.address)).toEqual(['terraform_data.app']);
    expect(drifted.notices).toHaveLength(1);
  });
});
