/**
 * End to end in the local mode (the real state machine definition, dynalite, the runner as a child
 * process, the terraform TEST DOUBLE): a stage with approval where app depends on network. The plan
 * marks app "plan may change after network applies"; at apply, app is planned again after network
 * applied. When its plan differs (the double plans app from network's applied state:
 * TFSTEP_TEST_DOUBLE_READS), the stage asks for approval again and app is not applied until then;
 * when it is the same, it applies without a second approval.
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { localRun } from '../../lib/local/ui/run';
import { commit, doubleLog, memoryIo, moduleTf, runnerEnv, stateDirWithBundle, tempDir, toolPathWithoutTerraform, until } from './helpers';
import { execFileSync } from 'node:child_process';

jest.setTimeout(300_000);

const NETWORK = 'prod/us-east-1/network';
const APP = 'prod/us-east-1/app';
const CONFIG = `version: 1
central:
  account: "999999999999"
  region: us-east-1
repositories:
  - provider: github
    fullName: acme/live
    cloneUrls: [https://github.com/acme/live.git]
    deployBranch: main
stageOrder: [prod]
stages:
  prod:
    approval:
      required: true
      approvers: [alice@example.com, bob@example.com]
      minApprovals: 1
accounts:
  - { name: prod, id: "333333333333", region: us-east-1, stage: prod }
dependsOn:
  - module: app
    on: [network]
`;

let bin: string;
beforeAll(() => {
  bin = toolPathWithoutTerraform();
});

function setUp() {
  const repo = tempDir('repo');
  execFileSync('git', ['-c', 'init.defaultBranch=main', 'init', '-q', '-b', 'main', repo]);
  commit(repo, { [`${NETWORK}/main.tf`]: moduleTf('network'), [`${APP}/main.tf`]: moduleTf('app') }, 'network and app');
  const configFile = path.join(tempDir('config'), 'tfstep.yaml');
  writeFileSync(configFile, CONFIG);
  const log = path.join(tempDir('log'), 'double.log');
  return { repo, configFile, log };
}

const prompts = (text: string) => text.split('Decide as approver').length - 1;

interface JsonReport {
  status: string;
  stages: { name: string; status: string; accounts: { modules: { path: string; status: string }[] }[] }[];
}

describe('re-plan after the upstream applies, in a stage with approval', () => {
  it('asks for approval again when app\'s new plan differs, and applies app only after that approval', async () => {
    // GIVEN app reads network's applied state, so its plan changes once network applies
    const { repo, configFile, log } = setUp();
    const stateDir = await stateDirWithBundle();
    const io = memoryIo();
    const env = runnerEnv(bin, log, { TFSTEP_TEST_DOUBLE_READS: `${APP}=${NETWORK}` });

    // WHEN the run reaches its first approval
    const running = localRun({ configFile, repoDir: repo, approve: 'prompt', stateDir, json: true, env, io: io.io });
    await until(() => prompts(io.stderr() + io.stdout()) >= 1, 120_000, 'the first approval prompt');

    // THEN both were planned, app marked, nothing applied
    const shown = () => io.stderr() + io.stdout();
    expect(shown()).toContain(`${APP}: Plan: 1 to add, 0 to change, 0 to destroy. (plan may change after ${NETWORK} applies)`);
    expect(doubleLog(log).filter((l) => l.endsWith(' apply'))).toEqual([]);

    // WHEN bob approves
    io.stdin.write('2\napprove\nfirst plans\n');
    await until(() => prompts(shown()) >= 2, 120_000, 'the second approval prompt');

    // THEN network applied, app was planned again after it and NOT applied, and the approval is asked again for app alone
    expect(doubleLog(log).filter((l) => l.endsWith(' apply'))).toEqual([`${NETWORK} apply`]);
    const second = shown().slice(shown().lastIndexOf('Approval needed'));
    expect(second).toContain('Asked again');
    expect(second).toContain(`${APP}: Plan: 1 to add, 0 to change, 0 to destroy.`);
    expect(second).not.toContain(`${NETWORK}:`);
    expect(second).toContain('asked again: planned again after its upstreams applied: its changes differ from the approved plan');
    expect(second).toContain('approved before: Plan: 1 to add, 0 to change, 0 to destroy.');
    expect(second).toContain('differs: terraform_data.app: create with different values than approved');

    // WHEN bob approves the new plan
    io.stdin.write('2\napprove\nnew plan\n');
    const outcome = await running;

    // THEN app applied once, after the second approval; network was not applied again; the run succeeded
    expect(outcome.exitCode).toBe(0);
    expect(outcome.result.status).toBe('SUCCEEDED');
    expect(doubleLog(log).filter((l) => l.endsWith(' apply'))).toEqual([`${NETWORK} apply`, `${APP} apply`]);
    const report = JSON.parse(io.stdout().slice(io.stdout().indexOf('{'))) as JsonReport;
    expect(report.status).toBe('SUCCEEDED');
    const modules = Object.fromEntries(report.stages[0]!.accounts[0]!.modules.map((m) => [m.path, m.status]));
    expect(modules).toEqual({ [NETWORK]: 'applied', [APP]: 'applied' });
  });

  it('applies app without a second approval when its new plan makes the same changes', async () => {
    // GIVEN app does not read network's state
    const { repo, configFile, log } = setUp();
    const stateDir = await stateDirWithBundle();
    const io = memoryIo();

    // WHEN the run is approved once
    const running = localRun({ configFile, repoDir: repo, approve: 'prompt', stateDir, json: true, env: runnerEnv(bin, log), io: io.io });
    await until(() => prompts(io.stderr() + io.stdout()) >= 1, 120_000, 'the approval prompt');
    io.stdin.write('2\napprove\nok\n');
    const outcome = await running;

    // THEN app was planned again after network applied, and applied: one approval in all
    expect(outcome.exitCode).toBe(0);
    expect(outcome.result.status).toBe('SUCCEEDED');
    expect(prompts(io.stderr() + io.stdout())).toBe(1);
    const calls = doubleLog(log);
    expect(calls.filter((l) => l.endsWith(' apply'))).toEqual([`${NETWORK} apply`, `${APP} apply`]);
    // app: planned in the plan phase, then shown, planned and shown again in the apply, then applied
    expect(calls.filter((l) => l.startsWith(`${APP} `) && !l.endsWith(' init'))).toEqual([`${APP} plan`, `${APP} show`, `${APP} show`, `${APP} plan`, `${APP} show`, `${APP} apply`]);
  });
});
