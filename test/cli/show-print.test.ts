/** What `tfstep show` prints for a run's approvals. */
import { printRun } from '../../lib/cli/commands/show';
import { Output } from '../../lib/cli/output';
import { buildStages, type StoredRun } from '../../lib/operator/run-records';
import { RunDetailSchema, type RunDetail } from '../../lib/operator/views';

function printed(run: RunDetail): string {
  const chunks: string[] = [];
  const stream = { write: (c: string) => chunks.push(c), isTTY: false };
  printRun(new Output(stream, stream, { NO_COLOR: '1' }), run);
  return chunks.join('');
}

describe('tfstep show text', () => {
  it('prints each decision as a past tense verb: approved, rejected', () => {
    // GIVEN a run whose prod approval was approved by alice and rejected by bob
    const run: RunDetail = {
      execution: 'run-1',
      executionArn: null,
      repository: 'acme/live',
      branch: 'main',
      commit: 'a'.repeat(40),
      status: 'REJECTED',
      stage: 'prod',
      startedAt: '2026-11-20T10:00:00.000Z',
      stoppedAt: '2026-11-20T10:05:00.000Z',
      durationSeconds: 300,
      reason: 'Rejected by bob@example.com',
      stages: [
        {
          name: 'prod',
          status: 'REJECTED',
          durationSeconds: null,
          approval: {
            status: 'REJECTED',
            approvers: ['alice@example.com', 'bob@example.com'],
            decisions: [
              { approver: 'alice@example.com', decision: 'approve', comment: '', at: null },
              { approver: 'bob@example.com', decision: 'reject', comment: 'not now', at: null },
            ],
          },
          accounts: [],
          waves: null,
        },
      ],
      links: { console: null },
      hints: [],
    };
    // WHEN it is printed THEN the decisions read "approved" and "rejected"
    const text = printed(run);
    expect(text).toContain('alice@example.com approved; bob@example.com rejected ("not now")');
    expect(text).not.toContain('rejectd');
  });

  it('shows a stopped stage wave by wave: what ran, what failed and what never started', () => {
    // GIVEN a run whose prod canary failed in wave 1, so wave 2 (prod-2, prod-3) never started
    const stored: StoredRun = {
      execution: 'run-2',
      status: 'FAILED',
      reason: 'stage prod wave 1 of 2: failed in 1 of 1 account(s)',
      modules: [
        { stage: 'prod', account: 'prod-1', module: 'prod-1/app', phase: 'plan-and-apply', status: 'failed', wave: 0, error: 'terraform failed' },
        { stage: 'prod', account: 'prod-2', module: 'prod-2/app', status: 'pending', wave: 1 },
        { stage: 'prod', account: 'prod-3', module: 'prod-3/app', status: 'pending', wave: 1 },
      ],
      approvals: [],
    };
    // WHEN its stages are built
    const stages = buildStages(stored, ['prod'], () => 'prod');
    // THEN the stage lists its waves, with what failed and what never started
    expect(stages[0]!.waves).toEqual([
      { wave: 1, status: 'FAILED', accounts: ['prod-1'], failed: ['prod-1'], notStarted: [] },
      { wave: 2, status: 'NOT STARTED', accounts: ['prod-2', 'prod-3'], failed: [], notStarted: ['prod-2', 'prod-3'] },
    ]);
    expect(stages[0]!.accounts.map((a) => [a.name, a.wave])).toEqual([
      ['prod-1', 1],
      ['prod-2', 2],
      ['prod-3', 2],
    ]);
    // AND the JSON output contract holds, and the text shows each wave
    const run: RunDetail = RunDetailSchema.parse({
      execution: 'run-2',
      executionArn: null,
      repository: null,
      branch: null,
      commit: null,
      status: 'FAILED',
      stage: 'prod',
      startedAt: null,
      stoppedAt: null,
      durationSeconds: null,
      reason: stored.reason,
      stages,
      links: { console: null },
      hints: [],
    });
    const text = printed(run);
    expect(text).toContain('wave 1  FAILED  1 account(s); failed: prod-1');
    expect(text).toContain('wave 2  NOT STARTED  2 account(s); never started: 2');
  });

  it('shows no waves for a stage that ran in one wave', () => {
    const stages = buildStages({ execution: 'r', status: 'SUCCEEDED', modules: [{ stage: 'dev', account: 'dev', module: 'dev/app', status: 'applied', wave: 0 }], approvals: [] }, ['dev'], () => 'dev');
    expect(stages[0]!.waves).toBeNull();
  });

  it('shows a plan that may change after its upstream applies, and a module waiting for a new approval with what differs', () => {
    // GIVEN prod's app planned with the mark, then held back at apply because its re-plan differed
    const stored: StoredRun = {
      execution: 'run-3',
      status: 'RUNNING',
      modules: [
        { stage: 'prod', account: 'prod', module: 'prod/app', phase: 'plan', status: 'planned', plan: { add: 1, change: 0, destroy: 0 }, mayChangeAfter: ['prod/network'] },
        {
          stage: 'prod',
          account: 'prod',
          module: 'prod/app',
          phase: 'apply',
          status: 'awaiting-approval',
          replan: { planSha256: 'b'.repeat(64), approvedSha256: 'a'.repeat(64), plan: { add: 1, change: 1, destroy: 0 }, approvedPlan: { add: 1, change: 0, destroy: 0 }, differences: ['aws_instance.app: update (not in the approved plan)'] },
        },
        { stage: 'prod', account: 'prod', module: 'prod/network', phase: 'apply', status: 'applied' },
      ],
      approvals: [],
    };
    // WHEN it is shown
    const stages = buildStages(stored, ['prod'], () => 'prod');
    const run: RunDetail = RunDetailSchema.parse({
      execution: 'run-3',
      executionArn: null,
      repository: null,
      branch: null,
      commit: null,
      status: 'RUNNING',
      stage: 'prod',
      startedAt: null,
      stoppedAt: null,
      durationSeconds: null,
      reason: null,
      stages,
      links: { console: null },
      hints: [],
    });
    // THEN the JSON carries the mark and the re-plan, and the text shows both, with the difference
    const app = stages[0]!.accounts[0]!.modules.filter((m) => m.path === 'prod/app');
    expect(app.map((m) => m.mayChangeAfter)).toEqual([['prod/network'], null]);
    expect(app[1]!.replan).toEqual({
      planSha256: 'b'.repeat(64),
      approvedSha256: 'a'.repeat(64),
      plan: { add: 1, change: 1, destroy: 0 },
      approvedPlan: { add: 1, change: 0, destroy: 0 },
      differences: ['aws_instance.app: update (not in the approved plan)'],
    });
    const text = printed(run);
    expect(text).toContain('plan may change after prod/network applies');
    expect(text).toMatch(/planned again after its upstreams applied: \+1 ~1 -0 \(plan bbbbbbb\w*\), approved \+1 ~0 -0 \(plan aaaaaaa\w*\); waits for a new approval/);
    expect(text).toContain('differs: aws_instance.app: update (not in the approved plan)');
  });
});

describe('tfstep show text of a skipped module', () => {
  it('names the upstream that failed, with its status in the same phase', () => {
    const module = (path: string, status: string, extra: Partial<RunDetail['stages'][number]['accounts'][number]['modules'][number]> = {}) => ({
      path,
      phase: 'plan-and-apply',
      status,
      plan: null,
      planSha256: null,
      skippedBecause: null,
      mayChangeAfter: null,
      replan: null,
      error: null,
      durationSeconds: null,
      ...extra,
    });
    // GIVEN app skipped because network failed, and db, which does not depend on network, applied
    const run: RunDetail = {
      execution: 'run-2',
      executionArn: null,
      repository: 'acme/live',
      branch: 'main',
      commit: 'b'.repeat(40),
      status: 'FAILED',
      stage: 'dev',
      startedAt: null,
      stoppedAt: null,
      durationSeconds: null,
      reason: null,
      stages: [
        {
          name: 'dev',
          status: 'FAILED',
          durationSeconds: null,
          approval: null,
          waves: null,
          accounts: [
            {
              name: 'dev',
              status: 'FAILED',
              durationSeconds: null,
              wave: null,
              modules: [
                module('dev/app', 'SKIPPED', { skippedBecause: 'dev/network', error: 'not run: dev/network failed' }),
                module('dev/db', 'APPLIED'),
                module('dev/network', 'FAILED', { error: 'terraform apply exited with code 1' }),
              ],
            },
          ],
        },
      ],
      links: { console: null },
      hints: [],
    };
    // WHEN it is printed THEN app's line names network and how it ended
    const text = printed(run);
    expect(text).toContain('dev/app skipped: dev/network failed');
    expect(text).toContain('terraform apply exited with code 1');
    expect(text).not.toContain('not run: dev/network failed');
  });
});
