/**
 * Modules with dependencies inside one runner task: graph order, parallel independent modules,
 * skipped dependents of a failure, and refused graphs. Real git repositories; terraform is the
 * test double, whose timeline file shows when each invocation started and ended.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { artifactKeys, EXIT, ModuleResultSchema, type ModuleResult } from '../../lib/domain/runner-contract';
import { baseInput, envOf, makeWorld, run, type World } from './helpers';

let world: World;
let timeline: string;
beforeEach(() => {
  world = makeWorld();
  timeline = path.join(world.root, 'timeline.log');
  writeFileSync(timeline, '');
});
afterEach(() => world.cleanup());

function result(execution: string, module: string): ModuleResult {
  return ModuleResultSchema.parse(JSON.parse(readFileSync(path.join(world.artifacts, artifactKeys.result(execution, 'dev', module)), 'utf8')));
}

/** Timeline lines of plan and apply only (init and show are quick and not of interest here). */
function events(): string[] {
  return readFileSync(timeline, 'utf8')
    .split('\n')
    .filter((l) => / (plan|apply) (start|end)/.test(l));
}

describe('modules with dependencies', () => {
  it('GIVEN network listed after the app that depends on it WHEN planned and applied THEN network is applied before app is even planned', async () => {
    const input = baseInput(world, {
      execution: 'exec-order',
      phase: 'plan-and-apply',
      modules: ['dev/app', 'dev/network'],
      dependencies: { 'dev/app': ['dev/network'] },
    });
    const out = await run(world, { ...envOf(input), TFSTEP_TEST_DOUBLE_TIMELINE: timeline });
    expect(out.stderr).toBe('');
    expect(out.code).toBe(EXIT.OK);
    expect(events()).toEqual([
      'dev/network plan start',
      'dev/network plan end 0',
      'dev/network apply start',
      'dev/network apply end 0',
      'dev/app plan start',
      'dev/app plan end 0',
      'dev/app apply start',
      'dev/app apply end 0',
    ]);
    expect(result('exec-order', 'dev/app').status).toBe('applied');
  });

  it('GIVEN a failing upstream WHEN planned THEN its dependent is skipped naming it, and the independent module is still planned', async () => {
    const input = baseInput(world, {
      execution: 'exec-skip',
      modules: ['dev/app', 'dev/fixture', 'dev/network'],
      dependencies: { 'dev/app': ['dev/network'] },
    });
    const out = await run(world, { ...envOf(input), TFSTEP_TEST_DOUBLE_FAIL: 'dev/network' });
    expect(out.code).toBe(EXIT.TERRAFORM);
    expect(result('exec-skip', 'dev/network')).toMatchObject({ status: 'failed', error: 'terraform plan exited with code 1' });
    expect(result('exec-skip', 'dev/app')).toMatchObject({ status: 'skipped', skippedBecause: 'dev/network', error: 'not run: dev/network failed' });
    expect(result('exec-skip', 'dev/fixture')).toMatchObject({ status: 'planned' });
    // the dependent was never initialised, planned or applied
    expect(out.doubleCalls.filter((c) => c.startsWith('dev/app'))).toEqual([]);
    expect(out.stdout).toContain('[dev/app] skipped: dev/network failed');
  });

  it('GIVEN moduleConcurrency 2 WHEN two independent modules plan THEN they overlap, their tool lines carry the module, and a dependent waits for its upstream', async () => {
    const input = baseInput(world, {
      execution: 'exec-parallel',
      modules: ['dev/app', 'dev/fixture', 'dev/network'],
      dependencies: { 'dev/fixture': ['dev/network'] },
      moduleConcurrency: 2,
    });
    const out = await run(world, { ...envOf(input), TFSTEP_TEST_DOUBLE_TIMELINE: timeline, TFSTEP_TEST_DOUBLE_SLEEP_MS: '700' });
    expect(out.code).toBe(EXIT.OK);
    const ev = events();
    const at = (line: string) => {
      const i = ev.indexOf(line);
      if (i < 0) throw new Error(`no "${line}" in the timeline:\n${ev.join('\n')}`);
      return i;
    };
    // app and network both started before either ended
    expect(Math.max(at('dev/app plan start'), at('dev/network plan start'))).toBeLessThan(Math.min(at('dev/app plan end 0'), at('dev/network plan end 0')));
    // fixture only after network
    expect(at('dev/fixture plan start')).toBeGreaterThan(at('dev/network plan end 0'));
    // interleaved tool output is attributable
    expect(out.stdout).toContain('[dev/app] Plan: 2 to add, 0 to change, 0 to destroy. (test double)');
    expect(out.stdout).toContain('[dev/network] Plan: 1 to add, 0 to change, 0 to destroy. (test double)');
    expect(out.stdout).toContain('up to 2 modules at once');
  });

  it('GIVEN a cycle in the manifest THEN the runner refuses it, naming the cycle, before the tool runs', async () => {
    const input = baseInput(world, {
      execution: 'exec-cycle',
      modules: ['dev/app', 'dev/network'],
      dependencies: { 'dev/app': ['dev/network'], 'dev/network': ['dev/app'] },
    });
    const out = await run(world, envOf(input));
    expect(out.code).toBe(EXIT.REFUSED);
    expect(out.stderr.trim()).toBe('refused dependencies: a cycle dev/app -> dev/network -> dev/app; the modules of a task must form a graph without cycles');
    expect(out.doubleCalls).toEqual([]);
  });

  it('GIVEN a dependency on a module outside the task THEN the runner refuses it before the tool runs', async () => {
    const input = baseInput(world, { execution: 'exec-outside', modules: ['dev/app'], dependencies: { 'dev/app': ['dev/network'] } });
    const out = await run(world, envOf(input));
    expect(out.code).toBe(EXIT.REFUSED);
    expect(out.stderr).toContain(`refused dependencies: "dev/app" depends on "dev/network", which is not a module of this task`);
    expect(out.doubleCalls).toEqual([]);
  });
});
