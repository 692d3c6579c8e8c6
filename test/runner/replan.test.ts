/**
 * Modules that depend on each other in one task: the plan marks a plan that may change after its
 * upstream applies; the apply plans a dependent again after its upstream applied, applies it when
 * its changes match the approved plan, and holds it back (with its own dependents) when they do not.
 * Real git repositories; the terraform test double plans `dev/app` from `dev/network`'s applied
 * state when TFSTEP_TEST_DOUBLE_READS says it reads it.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { artifactKeys, EXIT, ModuleResultSchema, type ModuleResult } from '../../lib/domain/runner-contract';
import { FolderPlanRecordStore } from '../../lib/runner/plan-records';
import { baseInput, envOf, makeWorld, run, type World } from './helpers';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

let world: World;
beforeEach(() => {
  world = makeWorld();
});
afterEach(() => world.cleanup());

const MODULES = ['dev/network', 'dev/app', 'dev/fixture'];
/** app reads network; fixture reads app. */
const DEPENDENCIES = { 'dev/app': ['dev/network'], 'dev/fixture': ['dev/app'] };
const READS = { TFSTEP_TEST_DOUBLE_READS: 'dev/app=dev/network' };

const result = (execution: string, module: string): ModuleResult =>
  ModuleResultSchema.parse(JSON.parse(readFileSync(path.join(world.artifacts, artifactKeys.result(execution, 'dev', module)), 'utf8')));
const planHash = (execution: string, module: string) => sha256(readFileSync(path.join(world.artifacts, artifactKeys.planFile(execution, 'dev', module))));

async function planAll(execution: string, extraEnv: Record<string, string> = {}) {
  const out = await run(world, { ...envOf(baseInput(world, { execution, modules: MODULES, dependencies: DEPENDENCIES })), ...extraEnv });
  expect(out.code).toBe(EXIT.OK);
  return Object.fromEntries(MODULES.map((m) => [m, planHash(execution, m)]));
}

async function applyAll(execution: string, approvedPlans: Record<string, string>, extraEnv: Record<string, string> = {}) {
  return run(world, { ...envOf(baseInput(world, { execution, phase: 'apply', modules: MODULES, dependencies: DEPENDENCIES, approvedPlans })), ...extraEnv });
}

describe('plan', () => {
  it('GIVEN app depends on network, which has changes WHEN planned THEN app (and fixture below it) are marked "plan may change after"', async () => {
    const out = await run(world, envOf(baseInput(world, { execution: 'exec-mark', modules: MODULES, dependencies: DEPENDENCIES })));
    expect(out.code).toBe(EXIT.OK);
    expect(result('exec-mark', 'dev/network').mayChangeAfter).toBeUndefined();
    expect(result('exec-mark', 'dev/app').mayChangeAfter).toEqual(['dev/network']);
    // fixture's own upstream, app, has changes too.
    expect(result('exec-mark', 'dev/fixture').mayChangeAfter).toEqual(['dev/app']);
    expect(out.stdout).toContain('[dev/app] plan may change after dev/network applies');
  });

  it('GIVEN the manifest lists a dependent before its upstream WHEN planned THEN the upstream is planned first', async () => {
    const out = await run(world, envOf(baseInput(world, { execution: 'exec-order', modules: ['dev/app', 'dev/network'], dependencies: { 'dev/app': ['dev/network'] } })));
    expect(out.code).toBe(EXIT.OK);
    expect(out.doubleCalls.filter((c) => c.endsWith(' plan'))).toEqual(['dev/network plan', 'dev/app plan']);
  });
});

describe('apply after the upstream applied', () => {
  it('GIVEN app does not read what network changes WHEN applied THEN app is planned again, its changes match, and it applies without a new approval', async () => {
    const approved = await planAll('exec-same');
    const out = await applyAll('exec-same', approved);
    expect(out.code).toBe(EXIT.OK);
    expect(out.doubleCalls).toEqual([
      'dev/network init',
      'dev/network apply',
      'dev/app init',
      'dev/app show',
      'dev/app plan',
      'dev/app show',
      'dev/app apply',
      'dev/fixture init',
      'dev/fixture show',
      'dev/fixture plan',
      'dev/fixture show',
      'dev/fixture apply',
    ]);
    expect(out.stdout).toContain('[dev/app] planned again after dev/network applied: same changes as the approved plan');
    for (const m of MODULES) expect(result('exec-same', m).status).toBe('applied');
  });

  it('GIVEN app reads network state WHEN network applies THEN app is held back for a new approval, fixture below it is skipped, and neither applies', async () => {
    const approved = await planAll('exec-differs', READS);
    const out = await applyAll('exec-differs', approved, READS);
    // Held back is not a failure: the task succeeds, the pipeline asks again.
    expect(out.code).toBe(EXIT.OK);
    expect(out.doubleCalls).toEqual(['dev/network init', 'dev/network apply', 'dev/app init', 'dev/app show', 'dev/app plan', 'dev/app show']);
    expect(result('exec-differs', 'dev/network').status).toBe('applied');

    const app = result('exec-differs', 'dev/app');
    expect(app.status).toBe('awaiting-approval');
    expect(app.replan).toMatchObject({
      approvedSha256: approved['dev/app'],
      plan: { add: 2, change: 0, destroy: 0 },
      approvedPlan: { add: 2, change: 0, destroy: 0 },
      differences: ['aws_instance.app: create with different values than approved', 'aws_s3_bucket.logs: create with different values than approved'],
    });
    expect(app.replan?.planSha256).not.toBe(approved['dev/app']);
    expect(out.stdout).toContain('[dev/app] planned again after dev/network applied: its changes differ from the approved plan');

    expect(result('exec-differs', 'dev/fixture')).toMatchObject({ status: 'skipped', skippedBecause: 'dev/app' });
    expect(out.stdout).toContain('[dev/fixture] skipped: dev/app awaits a new approval');
  });

  it('GIVEN a held-back re-plan WHEN the apply ends THEN the account still records only the plan its plan task made: the new plan cannot be applied without a new plan task', async () => {
    const approved = await planAll('exec-record', READS);
    await applyAll('exec-record', approved, READS);
    const record = await new FolderPlanRecordStore(path.join(world.root, 'plan-records')).get('exec-record', 'dev/app');
    expect(record?.sha256).toBe(approved['dev/app']);
    expect(result('exec-record', 'dev/app').replan?.planSha256).not.toBe(record?.sha256);
    // The saved plan of the plan task is still the one in the artifacts store: the apply wrote no plan.
    expect(planHash('exec-record', 'dev/app')).toBe(approved['dev/app']);
  });

  it('GIVEN the held-back module planned again by the plan task WHEN that plan is approved and applied alone THEN it applies', async () => {
    const approved = await planAll('exec-round', READS);
    await applyAll('exec-round', approved, READS);
    // The next round: app and fixture alone, planned on the plan task, then applied.
    const again = ['dev/app', 'dev/fixture'];
    const deps = { 'dev/fixture': ['dev/app'] };
    const planned = await run(world, { ...envOf(baseInput(world, { execution: 'exec-round', modules: again, dependencies: deps })), ...READS });
    expect(planned.code).toBe(EXIT.OK);
    const hashes = Object.fromEntries(again.map((m) => [m, planHash('exec-round', m)]));
    expect(hashes['dev/app']).toBe(result('exec-round', 'dev/app').planSha256);
    const applied = await run(world, { ...envOf(baseInput(world, { execution: 'exec-round', phase: 'apply', modules: again, dependencies: deps, approvedPlans: hashes })), ...READS });
    expect(applied.code).toBe(EXIT.OK);
    expect(result('exec-round', 'dev/app').status).toBe('applied');
    expect(result('exec-round', 'dev/fixture').status).toBe('applied');
  });
});
