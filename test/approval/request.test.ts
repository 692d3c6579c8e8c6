import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { SnsApprovalNotifier } from '../../lib/approval/notifier';
import { bounded, createApprovalRequestHandler, MAX_SUMMARY_BYTES, NOTICE_MAX_ACCOUNTS, noticeText } from '../../lib/approval/request';
import type { AccountSummary, ApprovalView } from '../../lib/approval/types';
import { verifyLink } from '../../lib/approval/signing';
import { approvalKeys } from '../../lib/approval/store';
import { BASE_URL, ITEM_LISTS, SIGNING_KEY, captureLogger, clearTable, harness, requestFixture, scanTable, startDynalite, type Dynalite, type Harness } from './helpers';

const snsMock = mockClient(SNSClient);
const TOPIC = 'arn:aws:sns:us-east-1:999999999999:tfstep-notifications';
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
  snsMock.reset();
  snsMock.on(PublishCommand).resolves({ MessageId: 'm-1' });
  h = harness(db);
});

function snsDeps(logger = captureLogger()) {
  return { ...h.requestDeps, notifier: new SnsApprovalNotifier(new SNSClient({ region: 'us-east-1' }), TOPIC), logger };
}

describe('createApprovalRequestHandler', () => {
  test('publishes one SNS message per approver with the approver attribute, each with its own signed link, and no task token anywhere', async () => {
    // GIVEN the approval request the state machine sends
    const request = requestFixture();
    const logger = captureLogger();

    // WHEN the handler runs
    const result = await createApprovalRequestHandler(snsDeps(logger))(request);

    // THEN each approver gets exactly one message carrying only their own link
    const calls = snsMock.commandCalls(PublishCommand);
    expect(calls).toHaveLength(3);
    const inputs = calls.map((c) => c.args[0].input);
    expect(inputs.map((i) => i.MessageAttributes?.approver)).toEqual([
      { DataType: 'String', StringValue: 'alice@example.com' },
      { DataType: 'String', StringValue: 'bob@example.com' },
      { DataType: 'String', StringValue: 'carol@example.com' },
    ]);
    for (const input of inputs) {
      const approver = input.MessageAttributes!.approver!.StringValue!;
      expect(input.TopicArn).toBe(TOPIC);
      expect(input.Subject).toBe('Approve acme/infrastructure-live@0d1a26e to prod');
      const links = input.Message!.split('\n').filter((l) => l.startsWith(`${BASE_URL}/approvals/`));
      expect(links).toHaveLength(1);
      const link = new URL(links[0]!);
      expect(link.pathname).toBe(`/approvals/${result.approvalId}`);
      expect(link.searchParams.get('approver')).toBe(approver);
      expect(Number(link.searchParams.get('exp'))).toBe(Date.parse('2026-11-27T10:00:00Z') / 1000);
      expect(verifyLink(SIGNING_KEY, result.approvalId, approver, Number(link.searchParams.get('exp')), link.searchParams.get('sig')!)).toBe(true);
      expect(input.Message).toContain('REPLACE  aws_nat_gateway.main');
      expect(input.Message).toContain('DESTROY  aws_subnet.legacy_private');
    }
    const everything = JSON.stringify({ calls: inputs, logs: logger.entries, result });
    expect(everything).not.toContain(request.taskToken);
    expect(everything).not.toContain('fixture-task-token');
  });

  test('stores the approval with its rule, pusher, items and summaries, plus a pointer from the run', async () => {
    // GIVEN the approval request
    const request = requestFixture();

    // WHEN the handler runs
    const { approvalId } = await createApprovalRequestHandler(h.requestDeps)(request);

    // THEN the approval and the pointer are in the table; the token is stored but not in the view
    const items = await scanTable(db.doc);
    expect(items.map((i) => `${String(i.pk)} ${String(i.sk)}`)).toEqual([approvalKeys.approval(approvalId), approvalKeys.pointer('run-2f1c9e0', 'prod')].map((k) => `${k.pk} ${k.sk}`));
    const stored = items.find((i) => i.sk === 'APPROVAL')!;
    expect(stored.taskToken).toBe(request.taskToken);
    expect(stored.expiresAt).toBeGreaterThan(stored.deadline as number);
    const view = await h.store.get(approvalId);
    expect(view).toMatchObject({
      status: 'PENDING',
      stage: 'prod',
      requiredApprovals: 2,
      approvers: ['alice@example.com', 'bob@example.com', 'carol@example.com'],
      allowSelfApproval: false,
      pusher: 'dave',
      push: { repository: 'acme/infrastructure-live', commit: '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c', branch: 'main' },
      deadline: Date.parse('2026-11-27T10:00:00Z') / 1000,
      decisions: {},
    });
    expect(view).not.toHaveProperty('taskToken');
    expect(view!.summaries[0]!.modules[0]).toEqual({
      path: 'prod/us-east-1/network',
      planSha256: '9f2b5c1e0d4a7b8c3e6f1a2d5b8c0e3f6a9d2c5b8e1f4a7d0c3b6e9f2a5d8c1b',
      plan: { add: 2, change: 1, destroy: 2, deleted: ['aws_subnet.legacy_private'], replaced: ['aws_nat_gateway.main'] },
    });
  });

  test('a retried invocation with the same token reuses the approval', async () => {
    // GIVEN one request handled
    const handler = createApprovalRequestHandler(h.requestDeps);
    const first = await handler(requestFixture());

    // WHEN Lambda retries the same invocation
    const second = await handler(requestFixture());

    // THEN the same approval id is used and no second approval exists
    expect(second).toEqual({ approvalId: first.approvalId, notified: 3, reused: true });
    expect((await scanTable(db.doc)).filter((i) => i.sk === 'APPROVAL')).toHaveLength(1);
  });

  test('two concurrent invocations with the same token leave one approval', async () => {
    // GIVEN two invocations racing for the same token (a Lambda retry while the first still runs)
    const handler = createApprovalRequestHandler(h.requestDeps);

    // WHEN both run at once
    const [a, b] = await Promise.all([handler(requestFixture()), handler(requestFixture())]);

    // THEN both answer the same approval, and only it exists
    expect(a.approvalId).toBe(b.approvalId);
    const approvals = (await scanTable(db.doc)).filter((i) => i.sk === 'APPROVAL');
    expect(approvals.map((i) => i.approvalId)).toEqual([a.approvalId]);
  });

  test('a module without a summary artifact is shown as such, not hidden', async () => {
    // GIVEN no artifacts for the app module
    const deps = {
      ...h.requestDeps,
      artifacts: {
        get: (key: string) => Promise.resolve(ITEM_LISTS[key] ?? (key.includes('/network/') ? '{"add":1,"change":0,"destroy":0,"deleted":[],"replaced":[]}' : undefined)),
      },
    };

    // WHEN the handler runs
    const { approvalId } = await createApprovalRequestHandler(deps)(requestFixture());

    // THEN the app module carries a note instead of a plan
    const view = await h.store.get(approvalId);
    expect(view!.summaries[0]!.modules[1]).toEqual({ path: 'prod/us-east-1/app', planSha256: expect.any(String), note: 'plan summary not found' });
  });

  test('refuses apply items that are missing or changed after the plan gate wrote them, storing nothing', async () => {
    // GIVEN the apply item list rewritten after the gate (another account's role swapped in)
    const tampered = JSON.stringify([{ ...(JSON.parse(ITEM_LISTS['run-2f1c9e0/_stages/2/apply.json']!) as object[])[0], launcherRoleArn: 'arn:aws:iam::999999999999:role/x' }]);
    const objects = (over: Record<string, string | undefined>) => ({ ...h.requestDeps, artifacts: { get: (key: string) => Promise.resolve(key in over ? over[key] : ITEM_LISTS[key]) } });
    // WHEN the handler runs on it, or on a list that is gone
    const changed = createApprovalRequestHandler(objects({ 'run-2f1c9e0/_stages/2/apply.json': tampered }))(requestFixture());
    const gone = createApprovalRequestHandler(objects({ 'run-2f1c9e0/_stages/2/apply.json': undefined }))(requestFixture());
    // THEN both fail saying why, and no approval (no link) exists
    await expect(changed).rejects.toThrow(/cannot read the apply items to approve: item list run-2f1c9e0\/_stages\/2\/apply.json changed after it was written/);
    await expect(gone).rejects.toThrow(/item list run-2f1c9e0\/_stages\/2\/apply.json is not in the artifacts store/);
    expect((await scanTable(db.doc)).filter((i) => i.sk === 'APPROVAL')).toEqual([]);
    expect(h.notifier.notices).toEqual([]);
  });

  test('fails when the payload is not the contract, without echoing the token', async () => {
    // GIVEN a request without applyItems
    const request = requestFixture();
    delete request.applyItems;

    // WHEN the handler runs
    const run = createApprovalRequestHandler(h.requestDeps)(request);

    // THEN it fails naming the field, and the message holds no token
    await expect(run).rejects.toThrow(/invalid approval request: applyItems/);
    await run.catch((err: Error) => expect(err.message).not.toContain(request.taskToken));
    expect(await scanTable(db.doc)).toEqual([]);
  });

  test('fails when the stage has no approvers', async () => {
    // GIVEN a stage whose approval is not required
    const request = requestFixture();
    (request.stage as { approval: { required: boolean } }).approval.required = false;

    // WHEN the handler runs
    const run = createApprovalRequestHandler(h.requestDeps)(request);

    // THEN it fails saying what is needed
    await expect(run).rejects.toThrow('stage prod has no approvers configured');
  });
});

describe('approvals of large stages', () => {
  const account = (i: number, destroy = 0): AccountSummary => ({
    account: `acct-${String(i).padStart(4, '0')}`,
    accountId: String(100_000_000_000 + i),
    region: 'us-east-1',
    modules: [
      {
        path: `accounts/acct-${i}/app`,
        planSha256: 'a'.repeat(64),
        plan: { add: 2, change: 1, destroy, deleted: destroy ? [`aws_instance.old_${i}`] : [], replaced: [] },
      },
    ],
  });

  it('keeps every summary of a small stage, in order, with totals', () => {
    const all = [account(1), account(2, 1)];
    const kept = bounded(all);
    expect(kept.summaries).toEqual(all);
    expect(kept.omittedAccounts).toBe(0);
    expect(kept.totals).toEqual({ accounts: 2, modules: 2, add: 4, change: 2, destroy: 1, unreadable: 0 });
  });

  it('keeps a 2,000-account stage under the record budget, accounts that destroy first, and counts every account', () => {
    // GIVEN 2,000 accounts, three of which destroy something (late in the list), and one unreadable plan
    const all = Array.from({ length: 2000 }, (_, i) => account(i, [1500, 1800, 1999].includes(i) ? 2 : 0));
    all[1700] = { ...all[1700]!, modules: [{ path: 'accounts/acct-1700/app', note: 'plan summary not found' }] };
    // WHEN bounded
    const kept = bounded(all);
    // THEN the kept summaries fit the budget, the risky ones lead, the rest are counted as omitted
    expect(Buffer.byteLength(JSON.stringify(kept.summaries))).toBeLessThanOrEqual(MAX_SUMMARY_BYTES);
    expect(kept.summaries.slice(0, 4).map((a) => a.account)).toEqual(['acct-1500', 'acct-1700', 'acct-1800', 'acct-1999']);
    expect(kept.omittedAccounts).toBe(2000 - kept.summaries.length);
    expect(kept.omittedAccounts).toBeGreaterThan(0);
    expect(kept.totals).toEqual({ accounts: 2000, modules: 2000, add: 3998, change: 1999, destroy: 6, unreadable: 1 });
  });

  it('lists at most 25 accounts in a notice and says how many more there are', () => {
    const kept = bounded(Array.from({ length: 40 }, (_, i) => account(i)));
    const view = { ...kept, stage: 'prod', requiredApprovals: 1, deadline: 1_900_000_000, pusher: 'dave', push: { repository: 'acme/live', branch: 'main', commit: 'c'.repeat(40), message: 'm' } };
    const text = noticeText(view as unknown as ApprovalView, 'https://approvals.example.com/x');
    expect(text).toContain('Plan: 40 account(s), 40 module(s): 80 to add, 40 to change, 0 to destroy');
    expect(text.split('\n').filter((l) => /^ {2}acct-/.test(l))).toHaveLength(NOTICE_MAX_ACCOUNTS);
    expect(text).toContain('  ... and 15 more account(s): see the page');
  });
});
