/**
 * End to end: the real definition in the local engine, the real pipeline and approval
 * functions over dynalite, real git repositories, and the runner as a child process with the
 * terraform test double (PATH holds no terraform).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse, stringify } from 'yaml';
import { localRun } from '../../lib/local/ui/run';
import { commit, doubleLog, makeInfraRepo, memoryIo, moduleTf, runnerEnv, stateDirWithBundle, tempDir, toolPathWithoutTerraform, TWO_DEV_CONFIG, until } from './helpers';

jest.setTimeout(180_000);

interface JsonReport {
  executionId: string;
  status: string;
  stages: { name: string; status: string; accounts: { name: string; status: string; modules: { path: string; status: string; plan?: { add: number; change: number; destroy: number } }[] }[] }[];
}

const stageOf = (line: string) => {
  const account = line.split('/')[0]!;
  return account.startsWith('dev') ? 'dev' : account;
};

describe('tfstep local run', () => {
  const bin = toolPathWithoutTerraform();

  it('runs every stage in order, and a later push runs only the changed modules of the changed account', async () => {
    // GIVEN a repository with modules for dev-a, dev-b, stage (two modules) and prod
    const repo = makeInfraRepo();
    const stateDir = await stateDirWithBundle();
    const log = path.join(tempDir('log'), 'double.log');
    const first = memoryIo();

    // WHEN its head is pushed through the pipeline with approvals answered automatically
    const outcome = await localRun({ configFile: TWO_DEV_CONFIG, repoDir: repo, approve: 'auto', stateDir, json: true, env: runnerEnv(bin, log), io: first.io });

    // THEN every stage succeeds, each module applied with its plan summary
    expect(outcome.exitCode).toBe(0);
    const report = JSON.parse(first.stdout()) as JsonReport;
    expect(report.status).toBe('SUCCEEDED');
    expect(report.executionId).toMatch(/:execution:tfstep-pipeline:local-/);
    expect(report.stages.map((s) => [s.name, s.status])).toEqual([
      ['dev', 'succeeded'],
      ['stage', 'succeeded'],
      ['prod', 'succeeded'],
    ]);
    const modules = report.stages.flatMap((s) => s.accounts.flatMap((a) => a.modules.map((m) => [a.name, m.path, m.status, m.plan])));
    expect(modules).toEqual([
      ['dev-a', 'dev-a/us-east-1/app', 'applied', { add: 1, change: 0, destroy: 0 }],
      ['dev-b', 'dev-b/us-east-1/app', 'applied', { add: 1, change: 0, destroy: 0 }],
      ['stage', 'stage/us-east-1/app', 'applied', { add: 1, change: 0, destroy: 0 }],
      ['stage', 'stage/us-east-1/network', 'applied', { add: 1, change: 0, destroy: 0 }],
      ['prod', 'prod/us-east-1/app', 'applied', { add: 1, change: 0, destroy: 0 }],
    ]);
    // AND the test double was called stage after stage: every dev call before any stage call, stage before prod
    const calls = doubleLog(log);
    const order = calls.map(stageOf);
    expect(order.lastIndexOf('dev')).toBeLessThan(order.indexOf('stage'));
    expect(order.lastIndexOf('stage')).toBeLessThan(order.indexOf('prod'));
    expect(calls).toContain('prod/us-east-1/app apply');
    // AND the one line about the test double was printed, once
    expect(first.stderr().match(/TEST DOUBLE/g)).toHaveLength(1);
    // AND the history confirms it: the one account Map ran dev, stage, prod's plan and prod's apply, each
    // phase exited before the next was entered
    const maps = outcome.result.events.filter((e) => (e.type === 'StateEntered' || e.type === 'StateExited') && (e.state as { name: string }).name === 'Accounts');
    expect(maps.map((e) => e.type)).toEqual(['StateEntered', 'StateExited', 'StateEntered', 'StateExited', 'StateEntered', 'StateExited', 'StateEntered', 'StateExited']);
    for (let i = 1; i < maps.length; i++) expect(maps[i - 1]!.timestamp).toBeLessThanOrEqual(maps[i]!.timestamp);

    // GIVEN a second commit that changes only the stage account's app module
    commit(repo, { 'stage/us-east-1/app/main.tf': moduleTf('app', 'v2') }, 'stage: new app input');
    const log2 = path.join(tempDir('log'), 'double.log');
    const second = memoryIo();

    // WHEN it is pushed
    const again = await localRun({ configFile: TWO_DEV_CONFIG, repoDir: repo, approve: 'auto', stateDir, json: true, env: runnerEnv(bin, log2), io: second.io });

    // THEN only the stage account runs, and only its changed module
    expect(again.exitCode).toBe(0);
    const report2 = JSON.parse(second.stdout()) as JsonReport;
    expect(report2.status).toBe('SUCCEEDED');
    expect(report2.stages.map((s) => ({ name: s.name, accounts: s.accounts.map((a) => ({ name: a.name, modules: a.modules.map((m) => [m.path, m.status]) })) }))).toEqual([
      { name: 'stage', accounts: [{ name: 'stage', modules: [['stage/us-east-1/app', 'applied']] }] },
    ]);
    // AND its plan is made against the state the first run left: the resource changes, nothing is added
    expect(report2.stages[0]?.accounts[0]?.modules[0]?.plan).toEqual({ add: 0, change: 1, destroy: 0 });
    expect(new Set(doubleLog(log2).map((l) => l.split(' ')[0]))).toEqual(new Set(['stage/us-east-1/app']));
  });

  it('fails when a dev account fails: its sibling finishes, later stages never start, exit code 1', async () => {
    // GIVEN dev-a's module fails in terraform (the double fails it on purpose)
    const repo = makeInfraRepo();
    const stateDir = await stateDirWithBundle();
    const log = path.join(tempDir('log'), 'double.log');
    const out = memoryIo();

    // WHEN the push runs
    const outcome = await localRun({
      configFile: TWO_DEV_CONFIG,
      repoDir: repo,
      approve: 'auto',
      stateDir,
      json: true,
      env: runnerEnv(bin, log, { TFSTEP_TEST_DOUBLE_FAIL: 'dev-a/us-east-1/app' }),
      io: out.io,
    });

    // THEN the run fails with exit code 1
    expect(outcome.exitCode).toBe(1);
    const report = JSON.parse(out.stdout()) as JsonReport;
    expect(report.status).toBe('FAILED');
    const dev = report.stages.find((s) => s.name === 'dev')!;
    expect(dev.status).toBe('failed');
    // AND dev-a failed while dev-b still applied
    expect(dev.accounts.map((a) => [a.name, a.status, a.modules.map((m) => m.status)])).toEqual([
      ['dev-a', 'failed', ['failed']],
      ['dev-b', 'succeeded', ['applied']],
    ]);
    expect(doubleLog(log)).toContain('dev-b/us-east-1/app apply');
    // AND stage and prod never started
    expect(report.stages.filter((s) => s.name !== 'dev').map((s) => s.status)).toEqual(['not run', 'not run']);
    expect(doubleLog(log).filter((l) => !l.startsWith('dev-'))).toEqual([]);
    // AND the failing account is named with the end of its runner log
    expect(out.stderr()).toContain('account dev-a (stage dev) failed');
    expect(out.stderr()).toMatch(/\| .*fails on purpose/);
  });

  it('waits for the prod approval at the prompt: nothing is applied in prod until it is approved', async () => {
    // GIVEN a push whose prod approval is asked at the prompt
    const repo = makeInfraRepo();
    const stateDir = await stateDirWithBundle();
    const log = path.join(tempDir('log'), 'double.log');
    const io = memoryIo();

    // WHEN the run reaches the prompt
    const running = localRun({ configFile: TWO_DEV_CONFIG, repoDir: repo, approve: 'prompt', stateDir, env: runnerEnv(bin, log), io: io.io });
    await until(() => io.stdout().includes('Decide as approver'), 120_000, 'the approval prompt');

    // THEN prod was planned, shown with its summary, and not applied
    expect(io.stdout()).toContain('Approval needed: stage prod');
    expect(io.stdout()).toContain('prod/us-east-1/app: Plan: 1 to add, 0 to change, 0 to destroy.');
    await new Promise((r) => setTimeout(r, 1000));
    expect(doubleLog(log)).toContain('prod/us-east-1/app plan');
    expect(doubleLog(log)).not.toContain('prod/us-east-1/app apply');

    // WHEN bob approves with a comment
    io.stdin.write('2\napprove\nlooks right\n');
    const outcome = await running;

    // THEN prod is applied and the run succeeds
    expect(outcome.exitCode).toBe(0);
    expect(outcome.result.status).toBe('SUCCEEDED');
    expect(doubleLog(log)).toContain('prod/us-east-1/app apply');
    expect(io.stdout()).toContain('approved');
  });

  it('fails when prod is rejected: the run is REJECTED and nothing is applied in prod', async () => {
    // GIVEN a push whose approvals are rejected
    const repo = makeInfraRepo();
    const stateDir = await stateDirWithBundle();
    const log = path.join(tempDir('log'), 'double.log');
    const out = memoryIo();

    // WHEN it runs
    const outcome = await localRun({ configFile: TWO_DEV_CONFIG, repoDir: repo, approve: 'reject', stateDir, json: true, env: runnerEnv(bin, log), io: out.io });

    // THEN the run is REJECTED with exit code 1, after dev and stage applied
    expect(outcome.exitCode).toBe(1);
    const report = JSON.parse(out.stdout()) as JsonReport;
    expect(report.status).toBe('REJECTED');
    expect(report.stages.map((s) => [s.name, s.status])).toEqual([
      ['dev', 'succeeded'],
      ['stage', 'succeeded'],
      ['prod', 'rejected'],
    ]);
    // AND prod was planned but never applied
    expect(doubleLog(log)).toContain('prod/us-east-1/app plan');
    expect(doubleLog(log).filter((l) => l.startsWith('prod/') && l.endsWith(' apply'))).toEqual([]);
  });

  it('fails when nobody approves before the expiry: the run is EXPIRED, nothing is applied in prod, and --json stdout stays one document', async () => {
    // GIVEN a config whose prod approval expires after 3.6 seconds, and a prompt nobody answers
    const doc = parse(readFileSync(TWO_DEV_CONFIG, 'utf8')) as { stages: { prod: { approval: Record<string, unknown> } } };
    doc.stages.prod.approval.expiryHours = 0.001;
    const configFile = path.join(tempDir('config'), 'tfstep.yaml');
    writeFileSync(configFile, stringify(doc));
    const repo = makeInfraRepo();
    const stateDir = await stateDirWithBundle();
    const log = path.join(tempDir('log'), 'double.log');
    const out = memoryIo();

    // WHEN it runs
    const outcome = await localRun({ configFile, repoDir: repo, approve: 'prompt', stateDir, json: true, env: runnerEnv(bin, log), io: out.io });

    // THEN the run ends EXPIRED with exit code 1: expired is never a success
    expect(outcome.exitCode).toBe(1);
    const report = JSON.parse(out.stdout()) as JsonReport;
    expect(report.status).toBe('EXPIRED');
    expect(report.stages.find((s) => s.name === 'prod')!.status).toBe('expired');
    // AND the prompt spoke on stderr, prod was planned and never applied
    expect(out.stderr()).toContain('Approval needed: stage prod');
    expect(doubleLog(log)).toContain('prod/us-east-1/app plan');
    expect(doubleLog(log).filter((l) => l.startsWith('prod/') && l.endsWith(' apply'))).toEqual([]);
  });
});
