/** Plan, apply and plan-and-apply against real git repositories and the terraform double. */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { artifactKeys, EXIT, ModuleResultSchema, PlanSummarySchema } from '../../lib/domain/runner-contract';
import { baseInput, envOf, git, makeWorld, run, type World } from './helpers';

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

  it('fails when the first module fails: later modules are skipped, not applied', async () => {
    const out = await run(world, {
      ...envOf(baseInput(world, { execution: 'exec-pa-fail', phase: 'plan-and-apply', modules: ['dev/network', 'dev/app'] })),
      TFSTEP_TEST_DOUBLE_FAIL: 'dev/network',
    });
    expect(out.code).toBe(EXIT.TERRAFORM);
    expect(out.doubleCalls.some((c) => c.startsWith('dev/app'))).toBe(false);
    expect(readJson(artifactKeys.result('exec-pa-fail', 'dev', 'dev/app'))).toMatchObject({ status: 'skipped' });
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
