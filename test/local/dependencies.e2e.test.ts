/**
 * End to end with the real `terraform` binary and the example's modules: app reads network's
 * output through terraform_remote_state, and depends on it. A push changing network's output
 * applies network first, and app's plan shows the change coming from the new output. Skipped,
 * with a printed notice, where no terraform is on PATH.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { localRun } from '../../lib/local/ui/run';
import { commit, memoryIo, realTerraform, stateDirWithBundle, tempDir, toolPathWithTerraform } from './helpers';

jest.setTimeout(240_000);

const terraform = realTerraform('the end-to-end test of module dependencies');

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

const EXAMPLE = path.join(__dirname, '..', '..', 'examples', 'infrastructure-live', 'dev', 'us-east-1');
const networkTf = () => readFileSync(path.join(EXAMPLE, 'network', 'main.tf'), 'utf8');
const appTf = () => readFileSync(path.join(EXAMPLE, 'app', 'main.tf'), 'utf8');

interface ModuleReport {
  path: string;
  status: string;
  plan?: { add: number; change: number; destroy: number };
}
interface Report {
  status: string;
  stages: { accounts: { modules: ModuleReport[] }[] }[];
}

const modulesOf = (report: Report) => Object.fromEntries((report.stages[0]?.accounts[0]?.modules ?? []).map((m) => [m.path, m]));

(terraform ? describe : describe.skip)('module dependencies with the real terraform', () => {
  it("applies network before app, and a change to network's output runs app, whose plan shows the new value", async () => {
    // GIVEN the example's dev network and app, app depending on network, and the real terraform on PATH
    const bin = toolPathWithTerraform();
    const repo = tempDir('repo');
    execFileSync('git', ['-c', 'init.defaultBranch=main', 'init', '-q', '-b', 'main', repo]);
    commit(repo, { 'dev/us-east-1/network/main.tf': networkTf(), 'dev/us-east-1/app/main.tf': appTf() }, 'network and app');
    const configFile = path.join(tempDir('config'), 'tfstep.yaml');
    writeFileSync(configFile, CONFIG);
    const stateDir = await stateDirWithBundle();
    const env = { PATH: bin, HOME: tempDir('home') };
    const appState = path.join(stateDir, 'terraform-state', 'dev', 'us-east-1', 'dev', 'us-east-1', 'app', 'terraform.tfstate');

    // WHEN the first push runs
    const first = memoryIo();
    const one = await localRun({ configFile, repoDir: repo, approve: 'auto', stateDir, json: true, env, io: first.io });

    // THEN both applied, network first: app's resource holds the network's real output, not the placeholder
    expect(first.stderr()).not.toContain('TEST DOUBLE');
    expect(one.exitCode).toBe(0);
    const r1 = modulesOf(JSON.parse(first.stdout()) as Report);
    expect(r1['dev/us-east-1/network']).toMatchObject({ status: 'applied', plan: { add: 1, change: 0, destroy: 0 } });
    expect(r1['dev/us-east-1/app']).toMatchObject({ status: 'applied', plan: { add: 1, change: 0, destroy: 0 } });
    expect(readFileSync(appState, 'utf8')).toContain('"cidr": "10.10.0.0/16"');
    expect(readFileSync(appState, 'utf8')).toContain('"vpc": "dev-vpc"');

    // WHEN a push changes only the network's cidr (its output)
    commit(repo, { 'dev/us-east-1/network/main.tf': networkTf().replace('10.10.0.0/16', '10.20.0.0/16') }, 'network: new cidr');
    const second = memoryIo();
    const two = await localRun({ configFile, repoDir: repo, approve: 'auto', stateDir, json: true, env, io: second.io });

    // THEN app runs too although its files did not change, after network applied: its plan changes
    // its resource, and its state holds the network's new cidr
    expect(two.exitCode).toBe(0);
    const r2 = modulesOf(JSON.parse(second.stdout()) as Report);
    expect(r2['dev/us-east-1/network']).toMatchObject({ status: 'applied', plan: { add: 0, change: 1, destroy: 0 } });
    expect(r2['dev/us-east-1/app']).toMatchObject({ status: 'applied', plan: { add: 0, change: 1, destroy: 0 } });
    expect(readFileSync(appState, 'utf8')).toContain('"cidr": "10.20.0.0/16"');
  });
});

describe('module dependencies in a local run', () => {
  it('fails the run before anything is planned when the dependencies form a cycle, naming it', async () => {
    // GIVEN app and network depending on each other
    const repo = tempDir('repo');
    execFileSync('git', ['-c', 'init.defaultBranch=main', 'init', '-q', '-b', 'main', repo]);
    commit(repo, { 'dev/us-east-1/network/main.tf': networkTf(), 'dev/us-east-1/app/main.tf': appTf() }, 'network and app');
    const configFile = path.join(tempDir('config'), 'tfstep.yaml');
    writeFileSync(configFile, `${CONFIG.replace('runner:', '  - module: network\n    on: [app]\nrunner:')}`);
    const stateDir = await stateDirWithBundle();
    // WHEN it runs
    const io = memoryIo();
    const run = await localRun({ configFile, repoDir: repo, approve: 'auto', stateDir, json: true, io: io.io });
    // THEN it fails with the cycle's path, and no module ran
    expect(run.exitCode).toBe(1);
    const report = JSON.parse(io.stdout()) as Report & { reason?: string };
    expect(report.status).toBe('FAILED');
    expect(JSON.stringify(report)).toContain('account dev: the dependencies form a cycle: dev/us-east-1/app -> dev/us-east-1/network -> dev/us-east-1/app');
    expect(report.stages.flatMap((s) => s.accounts.flatMap((a) => a.modules))).toEqual([]);
  });
});
