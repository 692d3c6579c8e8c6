/**
 * End to end with the real `terraform` binary and the example's modules, in a stage with approval:
 * app reads network's output through terraform_remote_state. Real plan files of the same changes
 * differ in their bytes (they record when they were made), so this checks the comparison by
 * changes, not by SHA-256. Skipped, with a printed notice, where no terraform is on PATH.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { localRun } from '../../lib/local/ui/run';
import { commit, memoryIo, realTerraform, stateDirWithBundle, tempDir, toolPathWithTerraform, until } from './helpers';

jest.setTimeout(300_000);

const terraform = realTerraform('the end-to-end test of re-plans under approval');

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
  dev:
    approval:
      required: true
      approvers: [alice@example.com, bob@example.com]
      minApprovals: 1
accounts:
  - { name: dev, id: "111111111111", region: us-east-1, stage: dev }
dependsOn:
  - module: app
    on: [network]
`;

const EXAMPLE = path.join(__dirname, '..', '..', 'examples', 'infrastructure-live', 'dev', 'us-east-1');
const networkTf = () => readFileSync(path.join(EXAMPLE, 'network', 'main.tf'), 'utf8');
const appTf = () => readFileSync(path.join(EXAMPLE, 'app', 'main.tf'), 'utf8');
const NETWORK = 'dev/us-east-1/network';
const APP = 'dev/us-east-1/app';
const prompts = (text: string) => text.split('Decide as approver').length - 1;

(terraform ? describe : describe.skip)('re-plans under approval with the real terraform', () => {
  it('asks again when app\'s plan changes once network applies, and applies an unchanged re-plan without asking', async () => {
    // GIVEN the example's network and app in a stage with approval, and the real terraform on PATH
    const bin = toolPathWithTerraform();
    const repo = tempDir('repo');
    execFileSync('git', ['-c', 'init.defaultBranch=main', 'init', '-q', '-b', 'main', repo]);
    commit(repo, { [`${NETWORK}/main.tf`]: networkTf(), [`${APP}/main.tf`]: appTf() }, 'network and app');
    const configFile = path.join(tempDir('config'), 'tfstep.yaml');
    writeFileSync(configFile, CONFIG);
    const stateDir = await stateDirWithBundle();
    const env = { PATH: bin, HOME: tempDir('home') };
    const appState = path.join(stateDir, 'terraform-state', 'dev', 'us-east-1', APP, 'terraform.tfstate');

    // WHEN the first push is planned: app is planned before network has any state
    const first = memoryIo();
    const shown = () => first.stderr() + first.stdout();
    const one = localRun({ configFile, repoDir: repo, approve: 'prompt', stateDir, json: true, env, io: first.io });
    await until(() => prompts(shown()) >= 1, 180_000, 'the first approval prompt');
    expect(shown()).toContain(`(plan may change after ${NETWORK} applies)`);
    first.stdin.write('2\napprove\n\n');

    // THEN after network applied, app's new plan (with the network's real output) differs: asked again
    await until(() => prompts(shown()) >= 2, 180_000, 'the approval asked again');
    const again = shown().slice(shown().lastIndexOf('Approval needed'));
    expect(again).toContain('Asked again');
    expect(again).toContain('differs: terraform_data.service: create with different values than approved');
    expect(() => readFileSync(appState, 'utf8')).toThrow();
    first.stdin.write('2\napprove\n\n');
    const r1 = await one;
    expect(r1.exitCode).toBe(0);
    expect(readFileSync(appState, 'utf8')).toContain('"cidr": "10.10.0.0/16"');

    // WHEN a push changes network without changing its output (a comment)
    commit(repo, { [`${NETWORK}/main.tf`]: `${networkTf()}\n# reviewed\n` }, 'network: comment');
    const second = memoryIo();
    const shown2 = () => second.stderr() + second.stdout();
    const two = localRun({ configFile, repoDir: repo, approve: 'prompt', stateDir, json: true, env, io: second.io });
    await until(() => prompts(shown2()) >= 1, 180_000, 'the approval of the second push');
    second.stdin.write('2\napprove\n\n');
    const r2 = await two;

    // THEN app is planned again after network applied, its plan files differ in bytes but not in
    // changes, and it applies with one approval in all
    expect(r2.exitCode).toBe(0);
    expect(r2.result.status).toBe('SUCCEEDED');
    expect(prompts(shown2())).toBe(1);
    const report = JSON.parse(second.stdout().slice(second.stdout().indexOf('{'))) as { stages: { accounts: { modules: { path: string; status: string }[] }[] }[] };
    const statuses = Object.fromEntries(report.stages[0]!.accounts[0]!.modules.map((m) => [m.path, m.status]));
    expect(statuses).toEqual({ [NETWORK]: 'applied', [APP]: 'applied' });
  });
});
