/** Plan, apply and plan-and-apply against real git repositories and the terraform double. */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { artifactKeys, EXIT, ModuleResultSchema, PlanSummarySchema } from '../../lib/domain/runner-contract';
import { FolderPlanRecordStore } from '../../lib/runner/plan-records';
import { baseInput, DOUBLE, envOf, git, makeWorld, run, type World } from './helpers';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

let world: World;
beforeEach(() => {
  world = makeWorld();
});
afterEach(() => world.cleanup());

const artifact = (key: string) => path.join(world.artifacts, key);
const readJson = (key: string): unknown => JSON.parse(readFileSync(artifact(key), 'utf8'));

async function plan(execution: string, modules = ['dev/network', 'dev/app']) {
  return run(world, envOf(baseInput(world, { execution, modules })));
}

describe('plan', () => {
  it('GIVEN two modules WHEN planned THEN each gets plan file, plan JSON, summary and result with the plan hash', async () => {
    const out = await plan('exec-plan');
    expect(out.stderr).toBe('');
    expect(out.code).toBe(EXIT.OK);
    expect(out.doubleCalls).toEqual([
      'dev/network init',
      'dev/network plan',
      'dev/network show',
      'dev/app init',
      'dev/app plan',
      'dev/app show',
    ]);
    expect(out.stdout).toContain('using the terraform TEST DOUBLE');
    for (const [m, add] of [['dev/network', 1], ['dev/app', 2]] as const) {
      const planBytes = readFileSync(artifact(artifactKeys.planFile('exec-plan', 'dev', m)));
      const result = ModuleResultSchema.parse(readJson(artifactKeys.result('exec-plan', 'dev', m)));
      expect(result).toMatchObject({ module: m, account: 'dev', commit: world.main, phase: 'plan', status: 'planned', planSha256: sha256(planBytes) });
      expect(PlanSummarySchema.parse(readJson(artifactKeys.summary('exec-plan', 'dev', m)))).toEqual({ add, change: 0, destroy: 0, deleted: [], replaced: [] });
      expect(readJson(artifactKeys.planJson('exec-plan', 'dev', m))).toHaveProperty('resource_changes');
    }
    expect(readFileSync(artifact(artifactKeys.log('exec-plan', 'dev', 'plan')), 'utf8')).toContain('Plan: 1 to add, 0 to change, 0 to destroy.');
  });

  it('GIVEN a module whose show -json is a real Terraform fixture WHEN planned THEN the summary counts the replacement', async () => {
    const out = await plan('exec-fixture', ['dev/fixture']);
    expect(out.code).toBe(EXIT.OK);
    expect(readJson(artifactKeys.summary('exec-fixture', 'dev', 'dev/fixture'))).toEqual({
      add: 1,
      change: 0,
      destroy: 1,
      deleted: [],
      replaced: ['test_instance.test'],
    });
  });

  it('GIVEN a changed module WHEN planned again THEN the plan hash differs', async () => {
    await plan('exec-a', ['dev/network']);
    const first = readFileSync(artifact(artifactKeys.planFile('exec-a', 'dev', 'dev/network')));
    writeFileSync(path.join(world.repo, 'dev/network/main.tf'), 'resource "aws_vpc" "main" {\n  cidr_block = "10.1.0.0/16"\n}\n');
    git(world.repo, 'commit', '-q', '-am', 'change network');
    const next = git(world.repo, 'rev-parse', 'HEAD');
    const out = await run(world, envOf(baseInput(world, { execution: 'exec-b', commit: next })));
    expect(out.code).toBe(EXIT.OK);
    const second = readFileSync(artifact(artifactKeys.planFile('exec-b', 'dev', 'dev/network')));
    expect(sha256(second)).not.toBe(sha256(first));
  });

  it('fails when terraform fails for one module: exit 1, the other module is still planned', async () => {
    const out = await run(world, { ...envOf(baseInput(world, { execution: 'exec-fail', modules: ['dev/network', 'dev/app'] })), TFSTEP_TEST_DOUBLE_FAIL: 'dev/network' });
    expect(out.code).toBe(EXIT.TERRAFORM);
    expect(readJson(artifactKeys.result('exec-fail', 'dev', 'dev/network'))).toMatchObject({ status: 'failed', error: 'terraform plan exited with code 1' });
    expect(readJson(artifactKeys.result('exec-fail', 'dev', 'dev/app'))).toMatchObject({ status: 'planned' });
  });
});

describe('apply', () => {
  async function planned(execution: string) {
    const out = await plan(execution, ['dev/network']);
    expect(out.code).toBe(EXIT.OK);
    return sha256(readFileSync(artifact(artifactKeys.planFile(execution, 'dev', 'dev/network'))));
  }
  const applyEnv = (execution: string, hash: string) =>
    envOf(baseInput(world, { execution, phase: 'apply', modules: ['dev/network'], approvedPlans: { 'dev/network': hash } }));

  it('GIVEN an approved plan WHEN applied with its hash THEN exactly that plan file is applied and the result says applied', async () => {
    const hash = await planned('exec-apply');
    const out = await run(world, applyEnv('exec-apply', hash));
    expect(out.stderr).toBe('');
    expect(out.code).toBe(EXIT.OK);
    expect(out.doubleCalls).toEqual(['dev/network init', 'dev/network apply']);
    expect(out.stdout).toContain('terraform apply -input=false plan.tfplan');
    expect(out.stdout).toContain(`applied plan ${hash}`);
    expect(ModuleResultSchema.parse(readJson(artifactKeys.result('exec-apply', 'dev', 'dev/network')))).toMatchObject({
      status: 'applied',
      phase: 'apply',
      commit: world.main,
      planSha256: hash,
    });
  });

  it('fails when the approved hash does not match the saved plan: nothing is applied', async () => {
    await planned('exec-mismatch');
    const out = await run(world, applyEnv('exec-mismatch', 'f'.repeat(64)));
    expect(out.code).toBe(EXIT.REFUSED);
    expect(out.stderr.trim().split('\n')).toHaveLength(1);
    expect(out.stderr).toMatch(/refused apply of module "dev\/network": the saved plan's SHA-256 [0-9a-f]{64} is not the approved f{64}/);
    expect(out.doubleCalls).toEqual([]);
  });

  it('fails when the plan file is tampered with after approval: nothing is applied', async () => {
    const hash = await planned('exec-tamper');
    const file = artifact(artifactKeys.planFile('exec-tamper', 'dev', 'dev/network'));
    const tampered = JSON.parse(readFileSync(file, 'utf8')) as { resources: Record<string, string> };
    tampered.resources['aws_iam_user.backdoor'] = 'x';
    writeFileSync(file, JSON.stringify(tampered));
    const out = await run(world, applyEnv('exec-tamper', hash));
    expect(out.code).toBe(EXIT.REFUSED);
    expect(out.stderr).toMatch(/refused apply of module "dev\/network"/);
    expect(out.doubleCalls).toEqual([]);
  });

  it('fails when the approved plan belongs to another execution', async () => {
    const hash = await planned('exec-one');
    const out = await run(world, applyEnv('exec-two', hash));
    expect(out.code).toBe(EXIT.REFUSED);
    expect(out.stderr).toMatch(/no saved plan at accounts\/dev\/exec-two\/dev\/network\/plan.tfplan/);
    expect(out.doubleCalls).toEqual([]);
  });

  describe('a plan this account did not make', () => {
    /** A plan made outside the checkout, by whoever controls the central account: its own configuration, its own plan. */
    function plantedPlan(): Buffer {
      const dir = path.join(world.outside, 'planted');
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'main.tf'), 'resource "null_resource" "backdoor" {\n  provisioner "local-exec" { command = "touch pwned" }\n}\n');
      const env = { ...process.env, TFSTEP_MODULE_PATH: 'dev/network' };
      execFileSync(process.execPath, [DOUBLE, 'init'], { cwd: dir, env });
      execFileSync(process.execPath, [DOUBLE, 'plan', '-out=planted.tfplan'], { cwd: dir, env });
      return readFileSync(path.join(dir, 'planted.tfplan'));
    }

    it('fails when a plan made outside the checkout is in the store and its hash in the input, in an execution this account never planned: exit 3, nothing runs', async () => {
      // GIVEN a plan made outside the checkout, saved where the apply reads it, with its hash as the approved one
      const planted = plantedPlan();
      const file = artifact(artifactKeys.planFile('exec-planted', 'dev', 'dev/network'));
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, planted);
      // WHEN the apply task is told to apply it
      const out = await run(world, applyEnv('exec-planted', sha256(planted)));
      // THEN the runner refuses before terraform runs at all
      expect(out.code).toBe(EXIT.REFUSED);
      expect(out.stderr.trim().split('\n')).toHaveLength(1);
      expect(out.stderr).toMatch(/refused apply of module "dev\/network": this account's plan task recorded no plan of it in execution exec-planted/);
      expect(out.doubleCalls).toEqual([]);
    });

    it('fails when a plan made outside the checkout replaces the one this account planned, and the input names the new hash: exit 3, nothing runs', async () => {
      // GIVEN the account planned dev/network in this execution (and recorded that plan)
      const recorded = await planned('exec-swapped');
      // AND the saved plan is replaced by one made outside the checkout, the input naming its hash
      const planted = plantedPlan();
      writeFileSync(artifact(artifactKeys.planFile('exec-swapped', 'dev', 'dev/network')), planted);
      // WHEN the apply task is told to apply it
      const out = await run(world, applyEnv('exec-swapped', sha256(planted)));
      // THEN it is refused: the account recorded another plan
      expect(out.code).toBe(EXIT.REFUSED);
      expect(out.stderr).toContain(`the saved plan's SHA-256 ${sha256(planted)} is not the plan this account's plan task recorded (${recorded})`);
      expect(out.doubleCalls).toEqual([]);
    });

    it('fails when the plan was recorded for another commit of the same execution', async () => {
      // GIVEN a plan recorded at main, then a newer commit on main
      const hash = await planned('exec-commit');
      writeFileSync(path.join(world.repo, 'README.md'), 'live, later\n');
      git(world.repo, 'commit', '-q', '-am', 'later');
      const later = git(world.repo, 'rev-parse', 'HEAD');
      // WHEN an apply of the same execution is told to run at the newer commit
      const out = await run(world, envOf(baseInput(world, { execution: 'exec-commit', commit: later, phase: 'apply', modules: ['dev/network'], approvedPlans: { 'dev/network': hash } })));
      // THEN it is refused: the account recorded that plan at another commit
      expect(out.code).toBe(EXIT.REFUSED);
      expect(out.stderr).toContain(`recorded its plan at commit ${world.main} in account dev, not ${later} in dev`);
      expect(out.doubleCalls).toEqual([]);
    });

    it('GIVEN the plan phase WHEN it plans THEN each plan is recorded in the account with its module, commit, execution and hash', async () => {
      const hash = await planned('exec-record');
      const record = await new FolderPlanRecordStore(path.join(world.root, 'plan-records')).get('exec-record', 'dev/network');
      expect(record).toEqual({ execution: 'exec-record', module: 'dev/network', account: 'dev', commit: world.main, sha256: hash, recordedAt: expect.any(String) });
    });

    it('GIVEN plan-and-apply WHEN it runs THEN it records nothing: its plan never leaves the task before it is applied', async () => {
      const out = await run(world, envOf(baseInput(world, { execution: 'exec-pa-record', phase: 'plan-and-apply', modules: ['dev/network'] })));
      expect(out.code).toBe(EXIT.OK);
      expect(await new FolderPlanRecordStore(path.join(world.root, 'plan-records')).get('exec-pa-record', 'dev/network')).toBeUndefined();
    });
  });

  it('fails when terraform apply fails: exit 1 and result failed', async () => {
    const hash = await planned('exec-apply-fail');
    const out = await run(world, { ...applyEnv('exec-apply-fail', hash), TFSTEP_TEST_DOUBLE_FAIL: 'dev/network' });
    expect(out.code).toBe(EXIT.TERRAFORM);
    expect(readJson(artifactKeys.result('exec-apply-fail', 'dev', 'dev/network'))).toMatchObject({ status: 'failed', planSha256: hash });
  });
});

describe('plan-and-apply', () => {
  it('GIVEN a stage without approval WHEN run THEN it plans, stores the plan and applies the plan it just made', async () => {
    const out = await run(world, envOf(baseInput(world, { execution: 'exec-pa', phase: 'plan-and-apply', modules: ['dev/network', 'dev/app'] })));
    expect(out.stderr).toBe('');
    expect(out.code).toBe(EXIT.OK);
    expect(out.doubleCalls.filter((c) => c.startsWith('dev/app'))).toEqual(['dev/app init', 'dev/app plan', 'dev/app show', 'dev/app apply']);
    const hash = sha256(readFileSync(artifact(artifactKeys.planFile('exec-pa', 'dev', 'dev/app'))));
    expect(readJson(artifactKeys.result('exec-pa', 'dev', 'dev/app'))).toMatchObject({
      status: 'applied',
      phase: 'plan-and-apply',
      planSha256: hash,
      plan: { add: 2, change: 0, destroy: 0 },
    });
  });

  it('GIVEN app depends on network WHEN network fails THEN app is skipped naming network, never planned or applied', async () => {
    const out = await run(world, {
      ...envOf(baseInput(world, { execution: 'exec-pa-fail', phase: 'plan-and-apply', modules: ['dev/network', 'dev/app'], dependencies: { 'dev/app': ['dev/network'] } })),
      TFSTEP_TEST_DOUBLE_FAIL: 'dev/network',
    });
    expect(out.code).toBe(EXIT.TERRAFORM);
    expect(out.doubleCalls.some((c) => c.startsWith('dev/app'))).toBe(false);
    expect(readJson(artifactKeys.result('exec-pa-fail', 'dev', 'dev/app'))).toMatchObject({ status: 'skipped', skippedBecause: 'dev/network' });
  });

  it('GIVEN no dependency between them WHEN network fails THEN app is still applied', async () => {
    const out = await run(world, {
      ...envOf(baseInput(world, { execution: 'exec-pa-indep', phase: 'plan-and-apply', modules: ['dev/network', 'dev/app'] })),
      TFSTEP_TEST_DOUBLE_FAIL: 'dev/network',
    });
    expect(out.code).toBe(EXIT.TERRAFORM);
    expect(readJson(artifactKeys.result('exec-pa-indep', 'dev', 'dev/network'))).toMatchObject({ status: 'failed' });
    expect(readJson(artifactKeys.result('exec-pa-indep', 'dev', 'dev/app'))).toMatchObject({ status: 'applied' });
  });
});

describe('environment of the tool', () => {
  it('GIVEN hostile TF_ and GIT_ variables WHEN planned THEN the tool never sees them and the log names them', async () => {
    const probe = path.join(world.root, 'probe');
    const out = await run(world, {
      ...envOf(baseInput(world, { execution: 'exec-env' })),
      TF_CLI_ARGS_plan: '-destroy',
      TF_VAR_admin_cidr: '0.0.0.0/0',
      GIT_SSH_COMMAND: `touch ${probe}`,
    });
    expect(out.code).toBe(EXIT.OK);
    expect(out.stdout).toContain('not passed to terraform: GIT_SSH_COMMAND, TF_CLI_ARGS_plan, TF_VAR_admin_cidr');
    expect(existsSync(probe)).toBe(false);
    expect(readJson(artifactKeys.summary('exec-env', 'dev', 'dev/network'))).toMatchObject({ add: 1, destroy: 0 });
  });
});
