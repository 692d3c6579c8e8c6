/**
 * End to end in the local mode (the real state machine definition, dynalite, the runner as a child
 * process, the terraform TEST DOUBLE): plan policies checked by the runner in the account.
 *
 * The double prints a module's `tfstep-test-plan.json` verbatim for `show -json`; the modules here
 * carry Terraform's own basic-delete plan (test/fixtures/terraform-show-json), which deletes
 * `test_instance.test-delete`.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { findApprovalForExecution } from '../../lib/approval/decide';
import { localRun } from '../../lib/local/ui/run';
import { openBackend } from '../../lib/operator/backend';
import { commit, doubleLog, memoryIo, moduleTf, runnerEnv, stateDirWithBundle, tempDir, toolPathWithoutTerraform, until } from './helpers';

jest.setTimeout(120_000);

const DB = 'prod/us-east-1/db';
const APP = 'dev/us-east-1/app';
const DELETE_PLAN = readFileSync(path.join(__dirname, '..', 'fixtures', 'terraform-show-json', 'basic-delete.json'), 'utf8');

const CONFIG = `version: 1
central:
  account: "999999999999"
  region: us-east-1
repositories:
  - provider: github
    fullName: acme/live
    cloneUrls: [https://github.com/acme/live.git]
    deployBranch: main
policyOwners: [sec@example.com]
stageOrder: [dev, prod]
stages:
  dev:
    policies:
      maxDestroys:
        - id: few-destroys
          effect: warn
          perModule: 0
          message: dev rarely destroys anything
  prod:
    approval:
      required: true
      approvers: [alice@example.com]
    policies:
      protect:
        - id: keep-instances
          types: [test_instance]
          message: instances are never deleted by a push
accounts:
  - { name: dev, id: "111111111111", region: us-east-1, stage: dev }
  - { name: prod, id: "333333333333", region: us-east-1, stage: prod }
`;

let bin: string;
beforeAll(() => {
  bin = toolPathWithoutTerraform();
});

/** A repository whose one module (in `module`) plans the deletion of a test_instance. */
function setUp(module: string) {
  const repo = tempDir('repo');
  execFileSync('git', ['-c', 'init.defaultBranch=main', 'init', '-q', '-b', 'main', repo]);
  commit(repo, { [`${module}/main.tf`]: moduleTf('db'), [`${module}/tfstep-test-plan.json`]: DELETE_PLAN }, 'a plan that deletes an instance');
  const configFile = path.join(tempDir('config'), 'tfstep.yaml');
  writeFileSync(configFile, CONFIG);
  return { repo, configFile, log: path.join(tempDir('log'), 'double.log') };
}

const prompts = (text: string) => text.split('Decide as approver').length - 1;
const applies = (log: string) => doubleLog(log).filter((l) => l.endsWith(' apply'));

describe('plan policies in the local mode', () => {
  it('denies a prod plan that deletes a protected resource; an approver cannot override; a policy owner can, with a reason', async () => {
    // GIVEN prod protects test_instance, and the push deletes one
    const { repo, configFile, log } = setUp(DB);
    const stateDir = await stateDirWithBundle();
    const io = memoryIo();
    const shown = () => io.stderr() + io.stdout();

    // WHEN the run reaches the prod approval
    const running = localRun({ configFile, repoDir: repo, approve: 'prompt', stateDir, json: true, env: runnerEnv(bin, log), io: io.io });
    await until(() => prompts(shown()) >= 1, 60_000, 'the approval prompt');

    // THEN it is denied, naming the rule and the address, before anything is applied; the owner is offered
    expect(applies(log)).toEqual([]);
    const page = shown();
    expect(page).toContain('DENIED by a plan policy');
    expect(page).toContain(`prod/${DB}: DENY keep-instances: instances are never deleted by a push`);
    expect(page).toContain('test_instance.test-delete');
    expect(page.indexOf('DENIED by a plan policy')).toBeLessThan(page.indexOf('plan: '));
    expect(page).toContain('[1] alice@example.com  [2] sec@example.com');

    // WHEN the approver (not a policy owner) approves, then tries to override
    io.stdin.write('1\napprove\nlooks fine\n');
    await until(() => shown().includes('not accepted: a plan policy denied these plans'), 30_000, 'the refused approval');
    io.stdin.write('1\noverride\nI say so\n\n');
    await until(() => shown().includes('not accepted: alice@example.com is not a policy owner'), 30_000, 'the refused override');

    // THEN still nothing applied
    expect(applies(log)).toEqual([]);

    // WHEN the policy owner overrides with a reason
    io.stdin.write('2\noverride\ninstance retired, ticket OPS-12\n\n');
    const outcome = await running;

    // THEN the run applies and succeeds, and the approval records the override with its reason
    expect(outcome.result.status).toBe('SUCCEEDED');
    expect(applies(log)).toEqual([`${DB} apply`]);
    const backend = await openBackend({ local: true, stateDir, decide: { as: 'sec@example.com' } });
    try {
      const approval = await findApprovalForExecution(outcome.result.report.executionName, { store: backend.approvals });
      expect(approval?.status).toBe('APPROVED');
      expect(approval?.policy).toMatchObject({ status: 'deny', owners: ['sec@example.com'] });
      expect(Object.values(approval!.decisions)).toEqual([expect.objectContaining({ approver: 'sec@example.com', decision: 'approve', override: { reason: 'instance retired, ticket OPS-12' } })]);
      // The audit trail keeps the override as such, with its reason and the policy results
      const records = await backend.audit.list({});
      const override = records.find((r) => r.kind === 'override');
      expect(override).toMatchObject({ who: 'sec@example.com', override: { reason: 'instance retired, ticket OPS-12' } });
      expect(override!.policy).toEqual([expect.objectContaining({ account: 'prod', module: DB, status: 'deny' })]);
      // AND the two refused attempts before it, who tried what and why it was refused, then the apply
      expect(records.map((r) => [r.kind, r.who, r.decision ?? null, r.override ? 'override' : null])).toEqual([
        ['refused', 'alice@example.com', 'approve', null],
        ['refused', 'alice@example.com', 'approve', 'override'],
        ['override', 'sec@example.com', 'approve', 'override'],
        ['apply', 'pipeline', null, null],
      ]);
      expect(records[0]!.detail).toContain('a plan policy denied these plans');
      expect(records[1]!.detail).toContain('is not a policy owner');
      expect(records[1]!.override).toEqual({ reason: 'I say so' });
    } finally {
      await backend.close();
    }
    const report = JSON.parse(io.stdout().slice(io.stdout().indexOf('{'))) as { stages: { accounts: { modules: { path: string; status: string }[] }[] }[] };
    expect(report.stages.flatMap((s) => s.accounts.flatMap((a) => a.modules)).find((m) => m.path === DB)?.status).toBe('applied');
  });

  it('holds a warned plan in a stage without approval until a policy owner approves it', async () => {
    // GIVEN dev has no approval and warns on any destroy
    const { repo, configFile, log } = setUp(APP);
    const stateDir = await stateDirWithBundle();
    const io = memoryIo();
    const shown = () => io.stderr() + io.stdout();

    // WHEN the run plans dev
    const running = localRun({ configFile, repoDir: repo, approve: 'prompt', stateDir, json: true, env: runnerEnv(bin, log), io: io.io });
    await until(() => prompts(shown()) >= 1, 60_000, 'the approval prompt');

    // THEN the module was not applied, the warning comes first, and the policy owner is asked
    expect(applies(log)).toEqual([]);
    const page = shown();
    expect(page).toContain('WARNINGS from the plan policies');
    expect(page).toContain(`dev/${APP}: WARN few-destroys: dev rarely destroys anything: ${APP} destroys 1, at most 0 per module`);
    expect(page).toContain('Held back: this stage applies without approval, but its plan policies asked for one.');
    expect(page).toContain('[1] sec@example.com');

    // WHEN the policy owner approves
    io.stdin.write('1\napprove\nexpected\n');
    const outcome = await running;

    // THEN it applies, once
    expect(outcome.result.status).toBe('SUCCEEDED');
    expect(applies(log)).toEqual([`${APP} apply`]);
  });
});
