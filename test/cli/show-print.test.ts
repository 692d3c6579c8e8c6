/** What `tfstep show` prints for a run's approvals. */
import { printRun } from '../../lib/cli/commands/show';
import { Output } from '../../lib/cli/output';
import type { RunDetail } from '../../lib/operator/views';

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
});
