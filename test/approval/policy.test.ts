/**
 * Plan policies on an approval: a deny is shown first and can only be overridden by a policy
 * owner, with a reason; the page offers the override to policy owners only.
 */
import { decide } from '../../lib/approval/decide';
import { NotAPolicyOwnerError, PolicyDeniedError } from '../../lib/approval/errors';
import { renderApprovalPage } from '../../lib/approval/page';
import { RecordOnlyTaskTokenSender } from '../../lib/approval/task-token';
import { FunctionArtifactReader } from '../../lib/approval/artifacts';
import { artifactKeys } from '../../lib/domain/runner-contract';
import { clearTable, harness, requestApproval, startDynalite, type Dynalite, type Harness } from './helpers';

let db: Dynalite;
let h: Harness;
beforeAll(async () => {
  db = await startDynalite();
});
afterAll(async () => {
  await db.close();
});

const APP = 'prod/us-east-1/app';
const denyResult = JSON.stringify({
  module: APP,
  account: 'prod',
  commit: 'a'.repeat(40),
  phase: 'plan',
  status: 'planned',
  policy: { status: 'deny', findings: [{ rule: 'keep-db', kind: 'protect', effect: 'deny', message: 'databases stay', addresses: ['aws_db_instance.main'] }] },
  startedAt: '2026-01-01T00:00:00Z',
  finishedAt: '2026-01-01T00:00:01Z',
});

beforeEach(async () => {
  await clearTable(db.doc);
  const base = harness(db);
  const reader = base.requestDeps.artifacts;
  const extra: Record<string, string> = { [artifactKeys.result('run-2f1c9e0', 'prod', APP)]: denyResult };
  h = { ...base, requestDeps: { ...base.requestDeps, artifacts: new FunctionArtifactReader(async (key) => extra[key] ?? (await reader.get(key))) } };
});

/** A denied approval of the fixture stage, with sec@example.com as its policy owner. */
async function denied() {
  return requestApproval(h, (r) => {
    (r.stage as { approval: Record<string, unknown> }).approval.policyOwners = ['sec@example.com'];
  });
}

describe('a plan policy deny on an approval', () => {
  test('the notice shows the deny and its addresses before the plans, and the policy owner gets a link', async () => {
    const { approvalId, links } = await denied();
    const notice = h.notifier.notices.find((n) => n.approvalId === approvalId && n.approver === 'alice@example.com')!;
    expect(notice.subject).toMatch(/^\[DENIED by policy\] /);
    expect(notice.text.indexOf('DENIED by a plan policy')).toBeGreaterThan(-1);
    expect(notice.text.indexOf('DENIED by a plan policy')).toBeLessThan(notice.text.indexOf('Repository:'));
    expect(notice.text).toContain(`prod/${APP}: DENY keep-db: databases stay`);
    expect(notice.text).toContain('aws_db_instance.main');
    expect(links.has('sec@example.com')).toBe(true);
  });

  test('fails when an approver approves or overrides; a policy owner overrides with a reason', async () => {
    const { approvalId } = await denied();
    const deps = { store: h.store, tasks: new RecordOnlyTaskTokenSender(), clock: h.clock };
    await expect(decide({ approvalId, approver: 'alice@example.com', decision: 'approve', via: 'cli' }, deps)).rejects.toBeInstanceOf(PolicyDeniedError);
    await expect(decide({ approvalId, approver: 'alice@example.com', decision: 'approve', via: 'cli', override: { reason: 'trust me' } }, deps)).rejects.toBeInstanceOf(NotAPolicyOwnerError);
    await expect(decide({ approvalId, approver: 'sec@example.com', decision: 'approve', via: 'cli', override: { reason: '  ' } }, deps)).rejects.toThrow('a reason for the override');

    // WHEN the policy owner overrides
    const result = await decide({ approvalId, approver: 'sec@example.com', decision: 'approve', via: 'cli', override: { reason: 'db retired' } }, deps);

    // THEN the override is recorded with its reason, and counts as an approval
    expect(result.approval.decisions['sec@example.com']).toMatchObject({ decision: 'approve', override: { reason: 'db retired' } });
    // AND the other approvers' approvals count again (the fixture stage needs 2)
    const second = await decide({ approvalId, approver: 'bob@example.com', decision: 'approve', via: 'cli' }, deps);
    expect(second.outcome).toBe('approved');
  });

  test('the page offers no Approve button to an approver, and the override (with a required reason) to a policy owner', async () => {
    const { approvalId } = await denied();
    const approval = (await h.store.get(approvalId))!;
    const ctx = { action: '/x', csrf: 'c', nowEpochSeconds: Math.floor(h.clock.now().getTime() / 1000) };
    const forApprover = renderApprovalPage(approval, { ...ctx, approver: 'alice@example.com' });
    expect(forApprover).toContain('Denied by a plan policy.');
    expect(forApprover).not.toContain('value="approve"');
    expect(forApprover).toContain('value="reject"');
    const forOwner = renderApprovalPage(approval, { ...ctx, approver: 'sec@example.com' });
    expect(forOwner).toContain('Override the deny and approve');
    expect(forOwner).toContain('name="reason" maxlength="2000" required');
  });
});
