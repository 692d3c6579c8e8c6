import { SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { decide } from '../../lib/approval/decide';
import { PromiseTaskTokenSender } from '../../lib/approval/task-token';
import type { AuditRecord, AuditWriter } from '../../lib/domain/audit';
import { clearTable, harness, requestApproval, startDynalite, type Dynalite, type Harness } from './helpers';

const sfnMock = mockClient(SFNClient);
let db: Dynalite;
let h: Harness;

beforeAll(async () => {
  db = await startDynalite();
});
afterAll(async () => {
  await db.close();
});
beforeEach(async () => {
  await clearTable(db.doc);
  sfnMock.reset();
  sfnMock.on(SendTaskSuccessCommand).resolves({});
  h = harness(db);
});

/** The fixture's prod stage with one approval needed. */
function oneApproval(request: Record<string, unknown>): void {
  ((request.stage as { approval: { minApprovals: number } }).approval).minApprovals = 1;
}

class MemoryAudit implements AuditWriter {
  readonly records: AuditRecord[] = [];
  failing = false;
  append(record: AuditRecord): Promise<void> {
    if (this.failing) return Promise.reject(new Error('audit bucket unreachable'));
    this.records.push(record);
    return Promise.resolve();
  }
}

describe('audit records of decisions', () => {
  test('every decision is appended with who, channel, time, run, commit and the plan SHA-256s', async () => {
    // GIVEN an approval needing 2 approvals
    const { approvalId } = await requestApproval(h);
    const audit = new MemoryAudit();
    const tasks = new PromiseTaskTokenSender();
    const waiting = tasks.wait('AQCEAAAAKgAAAAMAAAAAAAAAAfixture-task-token-never-shown-0123456789abcdefABCDEF');
    // WHEN alice approves by link and bob through the CLI
    await decide({ approvalId, approver: 'alice@example.com', decision: 'approve', comment: 'NAT change checked', via: 'link' }, { store: h.store, tasks, clock: h.clock, audit });
    h.clock.advance(60);
    const result = await decide({ approvalId, approver: 'bob@example.com', decision: 'approve', via: 'cli' }, { store: h.store, tasks, clock: h.clock, audit });
    await waiting;
    // THEN two records, in order
    expect(result.outcome).toBe('approved');
    expect(audit.records.map((r) => [r.kind, r.who, r.channel, r.decision])).toEqual([
      ['decision', 'alice@example.com', 'link', 'approve'],
      ['decision', 'bob@example.com', 'cli', 'approve'],
    ]);
    const last = audit.records[1]!;
    const approval = result.approval;
    expect(last).toMatchObject({ run: approval.executionName, stage: approval.stage, commit: approval.push.commit, approvalId, itemsSha256: approval.items.sha256, at: h.clock.now().toISOString() });
    // AND the plans are named by SHA-256, as the approver saw them
    const shown = approval.summaries.flatMap((a) => a.modules.map((m) => m.planSha256)).filter(Boolean);
    expect(last.plans.map((p) => p.sha256)).toEqual(shown);
    expect(last.plans.length).toBeGreaterThan(0);
    // AND the completing record names everyone whose approval let the apply go on
    expect(last.approvals?.map((a) => [a.approver, a.via])).toEqual([
      ['alice@example.com', 'link'],
      ['bob@example.com', 'cli'],
    ]);
    expect(audit.records[0]!.comment).toBe('NAT change checked');
  });

  test('an override is recorded as an override with its reason and the policy results', async () => {
    // GIVEN
    const { approvalId } = await requestApproval(h, oneApproval);
    const audit = new MemoryAudit();
    // WHEN a decision carries an override
    await decide(
      { approvalId, approver: 'alice@example.com', decision: 'approve', via: 'link' },
      { store: h.store, tasks: h.httpDeps.tasks, clock: h.clock, audit },
      { override: { reason: 'planned database migration, ticket OPS-42' }, policy: [{ rule: 'protect', result: 'deny', message: 'aws_db_instance.main would be destroyed' }] },
    );
    // THEN
    expect(audit.records[0]).toMatchObject({ kind: 'override', override: { reason: 'planned database migration, ticket OPS-42' }, policy: [{ result: 'deny' }] });
  });

  test('a refused decision from a person who is not an approver is recorded as refused, with why, and changes nothing', async () => {
    // GIVEN an approval
    const { approvalId } = await requestApproval(h, oneApproval);
    const audit = new MemoryAudit();
    // WHEN someone not listed approves through the CLI
    const run = decide({ approvalId, approver: 'mallory@example.com', decision: 'approve', via: 'cli' }, { store: h.store, tasks: h.httpDeps.tasks, clock: h.clock, audit });
    // THEN it is refused, the refusal is kept with who, channel and why, and nothing was decided
    await expect(run).rejects.toThrow(/mallory@example.com/);
    expect(audit.records).toHaveLength(1);
    expect(audit.records[0]).toMatchObject({ kind: 'refused', who: 'mallory@example.com', channel: 'cli', decision: 'approve', approvalId });
    expect(audit.records[0]!.detail).toContain('mallory@example.com');
    expect(Object.keys((await h.store.get(approvalId))?.decisions ?? {})).toEqual([]);
    expect(sfnMock.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
  });

  test('a decision that would complete the approval is undone when its record cannot be written: nothing is applied', async () => {
    // GIVEN an approval needing one approval and an audit store that fails
    const { approvalId } = await requestApproval(h, oneApproval);
    const audit = new MemoryAudit();
    audit.failing = true;
    // WHEN alice approves
    const run = decide({ approvalId, approver: 'alice@example.com', decision: 'approve', via: 'link' }, { store: h.store, tasks: h.httpDeps.tasks, clock: h.clock, audit });
    // THEN she is told, the step is not told to go on, and the approval waits for her again
    await expect(run).rejects.toThrow('audit bucket unreachable');
    expect(sfnMock.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
    const after = await h.store.get(approvalId);
    expect(after?.status).toBe('PENDING');
    expect(Object.keys(after?.decisions ?? {})).toEqual([]);
    // AND once the store works again, her decision goes through with its record
    audit.failing = false;
    const again = await decide({ approvalId, approver: 'alice@example.com', decision: 'approve', via: 'link' }, { store: h.store, tasks: h.httpDeps.tasks, clock: h.clock, audit });
    expect(again.outcome).toBe('approved');
    expect(audit.records).toHaveLength(1);
  });
});
