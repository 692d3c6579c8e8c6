/**
 * A stopped task: ECS sends the runner SIGTERM; the runner must give terraform one SIGINT, wait
 * for it to stop and release its state lock, and exit with the interrupted code. The runner
 * runs as a real child process and terraform is the test double, which sleeps holding a
 * stand-in lock file and records each SIGINT it receives.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { artifactKeys, EXIT, type RunnerInput } from '../../lib/domain/runner-contract';
import { runnerCommand, runnerTask } from '../../lib/runner/spawn';
import { baseInput, makeWorld, type World } from './helpers';

let world: World;
beforeAll(() => {
  world = makeWorld();
});
afterAll(() => world.cleanup());

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

interface Started {
  pid: number;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

function startRunner(input: RunnerInput, extraEnv: Record<string, string>): Started {
  const { command, args } = runnerCommand({ policyFile: world.policyFile });
  const task = runnerTask(input);
  mkdirSync(path.dirname(path.join(world.artifacts, task.manifest.key)), { recursive: true });
  writeFileSync(path.join(world.artifacts, task.manifest.key), task.manifest.body);
  const env = { PATH: world.bin, HOME: world.root, TFSTEP_TEST_DOUBLE_LOG: world.doubleLog, ...extraEnv, ...task.env };
  const child = spawn(command, args, { cwd: world.root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  return { pid: child.pid!, output: () => out, exited };
}

function resultOf(execution: string, module: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(world.artifacts, artifactKeys.result(execution, 'dev', module)), 'utf8')) as Record<string, unknown>;
}

describe('runner on SIGTERM', () => {
  it('GIVEN terraform holding its lock mid-plan WHEN the runner gets SIGTERM (twice) THEN terraform gets one SIGINT, releases the lock, and the runner exits interrupted', async () => {
    const lockDir = path.join(world.root, 'locks-plan');
    mkdirSync(lockDir);
    const sleepMs = 60_000;
    const input = baseInput(world, { execution: 'exec-sigterm', modules: ['dev/network', 'dev/app'] });
    const runner = startRunner(input, { TFSTEP_TEST_DOUBLE_SLEEP_MS: String(sleepMs), TFSTEP_TEST_DOUBLE_LOCK_DIR: lockDir });

    // WHEN terraform holds the lock of the first module
    await until('the plan to take its lock', () => readdirSync(lockDir).length > 0);
    expect(readdirSync(lockDir)).toEqual(['dev__network.tflock']);
    const sentAt = Date.now();
    process.kill(runner.pid, 'SIGTERM');
    // ECS sends SIGTERM once, but a second one must not turn into terraform's "exit at once" second SIGINT.
    await new Promise((r) => setTimeout(r, 50));
    process.kill(runner.pid, 'SIGTERM');
    const end = await runner.exited;

    // THEN the runner exited by itself, with the interrupted code, long before the plan would have ended
    expect({ code: end.code, signal: end.signal }).toEqual({ code: EXIT.INTERRUPTED, signal: null });
    expect(end.at - sentAt).toBeLessThan(sleepMs / 2);
    // terraform got exactly one SIGINT and released its lock; the second module never started
    const calls = readFileSync(world.doubleLog, 'utf8').split('\n').filter((l) => l.startsWith('dev/'));
    expect(calls.filter((l) => l.endsWith('SIGINT'))).toEqual(['dev/network plan SIGINT']);
    expect(calls).not.toContain('dev/app plan');
    expect(readdirSync(lockDir)).toEqual([]);
    expect(runner.output()).toContain('SIGTERM received; sent SIGINT to the running tool');
    // the results say what happened, for the record step and the operator
    expect(resultOf('exec-sigterm', 'dev/network')).toMatchObject({ status: 'interrupted', phase: 'plan' });
    expect(resultOf('exec-sigterm', 'dev/app')).toMatchObject({ status: 'skipped', error: 'interrupted before this module started' });
    expect(existsSync(path.join(world.artifacts, artifactKeys.log('exec-sigterm', 'dev', 'plan')))).toBe(true);
  }, 60_000);

  it('GIVEN an apply under way WHEN SIGTERM arrives THEN terraform stops, releases its lock, and the rest is skipped', async () => {
    // GIVEN a plan of both modules, made without interruption
    const plan = baseInput(world, { execution: 'exec-apply-sigterm', modules: ['dev/network', 'dev/app'] });
    const planned = startRunner(plan, {});
    expect((await planned.exited).code).toBe(EXIT.OK);
    const approvedPlans = Object.fromEntries(plan.modules.map((m) => [m, resultOf('exec-apply-sigterm', m).planSha256 as string]));
    const lockDir = path.join(world.root, 'locks-apply');
    mkdirSync(lockDir);

    // WHEN the apply of the first module is under way and SIGTERM arrives
    const apply = baseInput(world, { execution: 'exec-apply-sigterm', phase: 'apply', modules: plan.modules, approvedPlans });
    const runner = startRunner(apply, { TFSTEP_TEST_DOUBLE_SLEEP_MS: '60000', TFSTEP_TEST_DOUBLE_LOCK_DIR: lockDir });
    await until('the apply to take its lock', () => readdirSync(lockDir).length > 0);
    process.kill(runner.pid, 'SIGTERM');
    const end = await runner.exited;

    // THEN
    expect(end.code).toBe(EXIT.INTERRUPTED);
    expect(readdirSync(lockDir)).toEqual([]);
    expect(resultOf('exec-apply-sigterm', 'dev/network')).toMatchObject({ status: 'interrupted', phase: 'apply' });
    expect(resultOf('exec-apply-sigterm', 'dev/app')).toMatchObject({ status: 'skipped', phase: 'apply' });
  }, 90_000);
  it('GIVEN two modules planning at once WHEN the runner gets SIGTERM THEN each tool gets exactly one SIGINT, both locks are released, and their dependent is skipped naming its upstream', async () => {
    const lockDir = path.join(world.root, 'locks-parallel');
    mkdirSync(lockDir);
    const sleepMs = 60_000;
    const input = baseInput(world, {
      execution: 'exec-sigterm-parallel',
      modules: ['dev/app', 'dev/fixture', 'dev/network'],
      dependencies: { 'dev/fixture': ['dev/network'] },
      moduleConcurrency: 2,
    });
    const before = readFileSync(world.doubleLog, 'utf8').length;
    const runner = startRunner(input, { TFSTEP_TEST_DOUBLE_SLEEP_MS: String(sleepMs), TFSTEP_TEST_DOUBLE_LOCK_DIR: lockDir });

    // WHEN both plans hold their locks
    await until('both plans to take their locks', () => readdirSync(lockDir).length === 2);
    expect(readdirSync(lockDir).sort()).toEqual(['dev__app.tflock', 'dev__network.tflock']);
    const sentAt = Date.now();
    process.kill(runner.pid, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 50));
    process.kill(runner.pid, 'SIGTERM');
    const end = await runner.exited;

    // THEN
    expect({ code: end.code, signal: end.signal }).toEqual({ code: EXIT.INTERRUPTED, signal: null });
    expect(end.at - sentAt).toBeLessThan(sleepMs / 2);
    const calls = readFileSync(world.doubleLog, 'utf8').slice(before).split('\n').filter((l) => l.startsWith('dev/'));
    expect(calls.filter((l) => l.endsWith('SIGINT')).sort()).toEqual(['dev/app plan SIGINT', 'dev/network plan SIGINT']);
    expect(calls.some((l) => l.startsWith('dev/fixture'))).toBe(false);
    expect(readdirSync(lockDir)).toEqual([]);
    expect(runner.output()).toContain('SIGTERM received; sent SIGINT to the 2 running tools');
    expect(resultOf('exec-sigterm-parallel', 'dev/app')).toMatchObject({ status: 'interrupted' });
    expect(resultOf('exec-sigterm-parallel', 'dev/network')).toMatchObject({ status: 'interrupted' });
    expect(resultOf('exec-sigterm-parallel', 'dev/fixture')).toMatchObject({ status: 'skipped', skippedBecause: 'dev/network', error: 'not run: dev/network interrupted' });
  }, 60_000);
});
