import { mapLimit } from '../../lib/domain/concurrency';
import { CredentialsMissingError, AwsAccessDeniedError, explainAwsError } from '../../lib/operator/errors';
import { buildStages, type StoredRun } from '../../lib/operator/run-records';
import { parseStatusFilter } from '../../lib/operator/runs';
import { toStoredRun } from '../../lib/operator/store-adapter';
import type { RunRecord } from '../../lib/store/run-store';

const RUN: StoredRun = {
  execution: 'r1',
  modules: [
    { account: 'prod', module: 'p/app', phase: 'plan', status: 'planned', plan: { add: 1, change: 0, destroy: 0 } },
    { account: 'dev', module: 'd/net', phase: 'plan-and-apply', status: 'applied', startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:01:00Z' },
    { account: 'dev', module: 'd/app', phase: 'plan-and-apply', status: 'failed', error: 'boom', startedAt: '2026-01-01T00:00:30Z', finishedAt: '2026-01-01T00:02:00Z' },
    { account: 'sandbox', module: 's/x', status: 'pending' },
  ],
  approvals: [{ stage: 'prod', status: 'REJECTED', approvers: ['a@example.com'], decisions: [{ approver: 'a@example.com', decision: 'reject', comment: 'no' }] }],
};

describe('buildStages', () => {
  it('orders stages as configured, puts unknown ones last, and rolls statuses up', () => {
    // GIVEN results of three accounts, one of them in no configured stage
    const stageOf = (a: string) => ({ dev: 'dev', prod: 'prod' })[a as 'dev' | 'prod'];
    // WHEN grouped
    const stages = buildStages(RUN, ['dev', 'prod'], stageOf);
    // THEN dev failed (one module failed), prod was rejected, the unknown stage is last
    expect(stages.map((s) => [s.name, s.status, s.durationSeconds])).toEqual([
      ['dev', 'FAILED', 120],
      ['prod', 'REJECTED', null],
      ['unknown', 'PENDING', null],
    ]);
    expect(stages[0]!.accounts[0]!.modules.map((m) => [m.path, m.status, m.error])).toEqual([
      ['d/app', 'FAILED', 'boom'],
      ['d/net', 'APPLIED', null],
    ]);
    expect(stages[1]!.approval).toEqual({ status: 'REJECTED', approvers: ['a@example.com'], decisions: [{ approver: 'a@example.com', decision: 'reject', comment: 'no', at: null }] });
  });
});

describe('buildStages with approval phases', () => {
  it('rolls an account up by each module latest phase, listing plan before apply', () => {
    const run: StoredRun = {
      execution: 'r3',
      modules: [
        { account: 'prod', module: 'm', phase: 'apply', status: 'applied' },
        { account: 'prod', module: 'm', phase: 'plan', status: 'planned', plan: { add: 1, change: 0, destroy: 0 } },
      ],
      approvals: [{ stage: 'prod', status: 'APPROVED', approvers: ['a@example.com'], decisions: [] }],
    };
    const [prod] = buildStages(run, ['prod'], () => 'prod');
    expect(prod!.status).toBe('APPLIED');
    expect(prod!.accounts[0]!.modules.map((m) => m.phase)).toEqual(['plan', 'apply']);
  });
});

describe('toStoredRun', () => {
  it('lists planned modules without a result as pending, in their stage', () => {
    const run = {
      execution: 'r2',
      executionId: 'arn:aws:states:us-east-1:111111111111:execution:tfstep-pipeline:r2',
      repository: 'acme/x',
      branch: 'main',
      commit: 'a'.repeat(40),
      status: 'RUNNING',
      startedAt: '2026-01-01T00:00:00Z',
      currentStage: 'dev',
      stages: [{ name: 'dev', accounts: [{ name: 'dev', modules: ['m1', 'm2'] }] }],
      accounts: {},
    } as unknown as RunRecord;
    const stored = toStoredRun(run, { run, modules: [{ execution: 'r2', account: 'dev', module: 'm1', phase: 'plan-and-apply', status: 'applied', commit: 'a'.repeat(40), recordedAt: 'x' }] });
    expect(stored.executionArn).toBe('arn:aws:states:us-east-1:111111111111:execution:tfstep-pipeline:r2');
    expect(stored.modules.map((m) => [m.stage, m.module, m.status])).toEqual([
      ['dev', 'm1', 'applied'],
      ['dev', 'm2', 'pending'],
    ]);
    expect(stored.stage).toBe('dev');
  });
});

describe('parseStatusFilter', () => {
  it('accepts execution and run statuses in any case', () => {
    expect(parseStatusFilter('failed')).toBe('FAILED');
    expect(parseStatusFilter('Rejected')).toBe('REJECTED');
    expect(parseStatusFilter(undefined)).toBeUndefined();
  });

  it('fails when the status is unknown, listing the accepted ones', () => {
    expect(() => parseStatusFilter('done')).toThrow(/--status: got "done"; expected one of RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE, REJECTED/);
  });
});

describe('explainAwsError', () => {
  it('turns credential and access errors into ones that say what to do, and keeps the rest', () => {
    expect(explainAwsError(Object.assign(new Error('Token is expired'), { name: 'ExpiredTokenException' }), 'x')).toBeInstanceOf(CredentialsMissingError);
    const denied = explainAwsError(Object.assign(new Error('no'), { name: 'AccessDeniedException' }), 'states:ListExecutions');
    expect(denied).toBeInstanceOf(AwsAccessDeniedError);
    expect((denied as Error).message).toContain('use credentials (AWS_PROFILE) allowed to call states:ListExecutions');
    const other = new Error('throttled');
    expect(explainAwsError(other, 'x')).toBe(other);
  });
});

describe('mapLimit', () => {
  it('keeps order and never runs more than the limit at once', async () => {
    let running = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, n * 3));
      running--;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30]);
    expect(peak).toBe(2);
  });
});
