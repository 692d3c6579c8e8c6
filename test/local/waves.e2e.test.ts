/**
 * End to end: rollout waves in the real definition on the local engine, with the runner as a
 * child process and the terraform test double (PATH holds no terraform).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse, stringify } from 'yaml';
import { localRun } from '../../lib/local/ui/run';
import { commit, doubleLog, FIXTURES, memoryIo, moduleTf, runnerEnv, stateDirWithBundle, tempDir, toolPathWithoutTerraform } from './helpers';
import { execFileSync } from 'node:child_process';

jest.setTimeout(180_000);

const WAVES_CONFIG = path.join(FIXTURES, 'waves.yaml');

interface JsonReport {
  status: string;
  reason?: string;
  stages: { name: string; status: string; accounts: { name: string; status: string; wave?: number }[]; waves?: unknown[] }[];
}

function wavesRepo(): string {
  const repo = tempDir('repo');
  execFileSync('git', ['-c', 'init.defaultBranch=main', 'init', '-q', '-b', 'main'], { cwd: repo });
  commit(
    repo,
    {
      'README.md': '# live\n',
      'dev/us-east-1/app/main.tf': moduleTf('app'),
      ...Object.fromEntries([1, 2, 3, 4].map((i) => [`prod-${i}/us-east-1/app/main.tf`, moduleTf('app')])),
    },
    'initial infrastructure',
  );
  return repo;
}

/** The waves config with prod's approval turned off (plan and apply in one task, wave by wave). */
function withoutApproval(): string {
  const cfg = parse(readFileSync(WAVES_CONFIG, 'utf8')) as { stages: { prod: Record<string, unknown> } };
  delete cfg.stages.prod.approval;
  const file = path.join(tempDir('config'), 'tfstep.yaml');
  writeFileSync(file, stringify(cfg));
  return file;
}

describe('tfstep local run with rollout waves', () => {
  const bin = toolPathWithoutTerraform();

  it('stops the stage after a failing canary wave: no account of the second wave is ever planned', async () => {
    // GIVEN prod in two waves, the canary prod-1 alone in the first, and prod-1's module failing in terraform
    const repo = wavesRepo();
    const stateDir = await stateDirWithBundle();
    const log = path.join(tempDir('log'), 'double.log');
    const out = memoryIo();

    // WHEN the push runs
    const outcome = await localRun({
      configFile: withoutApproval(),
      repoDir: repo,
      approve: 'auto',
      stateDir,
      json: true,
      env: runnerEnv(bin, log, { TFSTEP_TEST_DOUBLE_FAIL: 'prod-1/us-east-1/app' }),
      io: out.io,
    });

    // THEN the run fails, naming the wave and the accounts that never started
    expect(outcome.exitCode).toBe(1);
    const report = JSON.parse(out.stdout()) as JsonReport;
    expect(report.status).toBe('FAILED');
    const prod = report.stages.find((s) => s.name === 'prod')!;
    expect(prod.status).toBe('failed');
    expect(prod.accounts.find((a) => a.name === 'prod-1')!.status).toBe('failed');
    // AND terraform never ran (not even a plan) in prod-2, prod-3 or prod-4
    const calls = doubleLog(log);
    expect(calls.some((l) => l.startsWith('prod-1/'))).toBe(true);
    expect(calls.filter((l) => /^prod-[234]\//.test(l))).toEqual([]);
    // AND the account Map ran twice only: dev, then prod's first wave
    const maps = outcome.result.events.filter((e) => e.type === 'StateEntered' && (e.state as { name: string }).name === 'Accounts');
    expect(maps).toHaveLength(2);
    expect(report.reason).toContain('stage prod wave 1 of 2: failed in 1 of 1 account(s)');
    expect(report.reason).toContain('3 account(s) in later waves never started');
    // AND the report shows wave by wave what ran, failed and never started
    const later = ['prod-2', 'prod-3', 'prod-4'];
    expect(prod.waves).toEqual([
      { wave: 1, status: 'failed', accounts: ['prod-1'], failed: ['prod-1'], notStarted: [] },
      { wave: 2, status: 'not started', accounts: expect.arrayContaining(later), failed: [], notStarted: expect.arrayContaining(later) },
    ]);
  });

  it('applies an approved stage wave by wave: the canary before every other account', async () => {
    // GIVEN prod behind an approval, in two waves
    const repo = wavesRepo();
    const stateDir = await stateDirWithBundle();
    const log = path.join(tempDir('log'), 'double.log');
    const out = memoryIo();

    // WHEN the push runs and the approval is given
    const outcome = await localRun({ configFile: WAVES_CONFIG, repoDir: repo, approve: 'auto', stateDir, json: true, env: runnerEnv(bin, log), io: out.io });

    // THEN every prod account applied
    expect(outcome.exitCode).toBe(0);
    const report = JSON.parse(out.stdout()) as JsonReport;
    expect(report.status).toBe('SUCCEEDED');
    const applies = doubleLog(log).filter((l) => l.startsWith('prod-') && l.endsWith(' apply'));
    expect(applies.map((l) => l.split('/')[0]).sort()).toEqual(['prod-1', 'prod-2', 'prod-3', 'prod-4']);
    // AND the canary's apply came before any other prod apply, while all four were planned before the approval
    expect(applies[0]).toBe('prod-1/us-east-1/app apply');
    const calls = doubleLog(log);
    const lastPlan = Math.max(...calls.map((l, i) => (l.startsWith('prod-') && l.endsWith(' plan') ? i : -1)));
    expect(lastPlan).toBeLessThan(calls.indexOf('prod-1/us-east-1/app apply'));
    // AND the account Map ran dev, prod's plan, then the two apply waves
    const maps = outcome.result.events.filter((e) => e.type === 'StateEntered' && (e.state as { name: string }).name === 'Accounts');
    expect(maps).toHaveLength(4);
  });
});
