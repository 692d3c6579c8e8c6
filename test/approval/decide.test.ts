import { SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { decide, findApprovalForExecution, getApproval, isPusher } from '../../lib/approval/decide';
import { AlreadyDecidedError, ApprovalNotFoundError, NotAnApproverError, SelfApprovalError, TaskGoneError } from '../../lib/approval/errors';
import { approverForCaller, parseCallerArn } from '../../lib/approval/identity';
import { PromiseTaskTokenSender, RecordOnlyTaskTokenSender, TaskFailedError } from '../../lib/approval/task-token';
import { waitForOutcome } from '../../lib/approval/wait';
import { clearTable, harness, requestApproval, requestFixture, startDynalite, type Dynalite, type Harness } from './helpers';

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

describe('decide', () => {
  test('the approver auto completes the approval at once, in the local mode only', async () => {
    // GIVEN an approval needing 2 approvals and a local waiting step
    const { approvalId } = await requestApproval(h);
    const tasks = new PromiseTaskTokenSender();
    const waiting = tasks.wait('AQCEAAAAKgAAAAMAAAAAAAAAAfixture-task-token-never-shown-0123456789abcdefABCDEF');

    // WHEN auto decides without and with allowAutoApprover
    const refused = decide({ approvalId, approver: 'auto', decision: 'approve', via: 'local' }, { store: h.store, tasks, clock: h.clock });
    await expect(refused).rejects.toBeInstanceOf(NotAnApproverError);
    const result = await decide({ approvalId, approver: 'auto', decision: 'approve', via: 'local' }, { store: h.store, tasks, clock: h.clock, allowAutoApprover: true });

    // THEN the step resumes with auto as the approver, though the count is 2
    expect(result.outcome).toBe('approved');
    const output = await waiting;
    expect(output.approvers).toEqual(['auto']);
    // AND the apply step gets exactly the approved item list
    expect(output.items).toEqual(requestFixture().applyItems);
  });

  test('fails when the person is not an approver, naming the allowed ones', async () => {
    // GIVEN a pending approval
    const { approvalId } = await requestApproval(h);

    // WHEN mallory decides through the CLI
    const run = decide({ approvalId, approver: 'mallory@example.com', decision: 'approve', via: 'cli' }, { store: h.store, tasks: new RecordOnlyTaskTokenSender(), clock: h.clock });

    // THEN she is refused
    await expect(run).rejects.toThrow('mallory@example.com is not an approver of this stage; the approvers are alice@example.com, bob@example.com, carol@example.com');
  });

  test('fails when the pusher approves by full address, whatever the case; rejecting is allowed', async () => {
    // GIVEN a push by BOB@example.com
    const { approvalId } = await requestApproval(h, (r) => {
      (r.push as { pusher: string }).pusher = 'BOB@example.com';
    });
    const tasks = new PromiseTaskTokenSender();
    const failure = tasks.wait('AQCEAAAAKgAAAAMAAAAAAAAAAfixture-task-token-never-shown-0123456789abcdefABCDEF').then(
      () => undefined,
      (err: unknown) => err,
    );

    // WHEN bob approves, then rejects
    const approve = decide({ approvalId, approver: 'bob@example.com', decision: 'approve', via: 'cli' }, { store: h.store, tasks, clock: h.clock });
    await expect(approve).rejects.toBeInstanceOf(SelfApprovalError);
    const reject = await decide({ approvalId, approver: 'bob@example.com', decision: 'reject', comment: 'wrong branch', via: 'cli' }, { store: h.store, tasks, clock: h.clock });

    // THEN the approval is refused and the rejection fails the step with Rejected
    expect(reject.outcome).toBe('rejected');
    const err = await failure;
    expect(err).toBeInstanceOf(TaskFailedError);
    expect(err).toMatchObject({ name: 'Rejected', error: 'Rejected', causeText: 'Rejected by bob@example.com (via cli): wrong branch' });
  });

  test('two approvers reaching the count at the same time send SendTaskSuccess once', async () => {
    // GIVEN an approval needing 2, with alice already approved
    const { approvalId } = await requestApproval(h, (r) => {
      (r.stage as { approval: { approvers: string[]; minApprovals: number } }).approval.minApprovals = 1;
    });
    const deps = { store: h.store, tasks: h.httpDeps.tasks, clock: h.clock };

    // WHEN bob and carol approve concurrently
    const results = await Promise.allSettled([
      decide({ approvalId, approver: 'bob@example.com', decision: 'approve', via: 'cli' }, deps),
      decide({ approvalId, approver: 'carol@example.com', decision: 'approve', via: 'cli' }, deps),
    ]);

    // THEN exactly one completion reaches Step Functions
    expect(sfnMock.commandCalls(SendTaskSuccessCommand)).toHaveLength(1);
    const outcomes = results.map((r) => (r.status === 'fulfilled' ? r.value.outcome : (r.reason as Error).name));
    expect(outcomes).toContain('approved');
  });

  test('fails when the local step no longer waits (410)', async () => {
    // GIVEN a local sender that is not waiting for the token
    const { approvalId } = await requestApproval(h, (r) => {
      (r.stage as { approval: { minApprovals: number } }).approval.minApprovals = 1;
    });

    // WHEN alice approves
    const run = decide({ approvalId, approver: 'alice@example.com', decision: 'approve', via: 'local' }, { store: h.store, tasks: new PromiseTaskTokenSender(), clock: h.clock });

    // THEN it answers gone and the approval is expired
    await expect(run).rejects.toBeInstanceOf(TaskGoneError);
    expect((await getApproval(approvalId, { store: h.store })).status).toBe('EXPIRED');
    await expect(decide({ approvalId, approver: 'bob@example.com', decision: 'approve', via: 'local' }, { store: h.store, tasks: new PromiseTaskTokenSender(), clock: h.clock })).rejects.toThrow(
      /expired/,
    );
  });

  test('a decision from another process reaches the waiting process through the record', async () => {
    // GIVEN an approval followed by a waiting process
    const { approvalId } = await requestApproval(h, (r) => {
      (r.stage as { approval: { minApprovals: number } }).approval.minApprovals = 1;
    });
    const waiting = waitForOutcome(h.store, approvalId, { pollMs: 20 });

    // WHEN the CLI (another process: it only records) approves
    await decide({ approvalId, approver: 'carol@example.com', decision: 'approve', comment: 'ok', via: 'cli' }, { store: h.store, tasks: new RecordOnlyTaskTokenSender(), clock: h.clock });

    // THEN the waiting process gets the output
    await expect(waiting).resolves.toMatchObject({ approvalId, approvers: ['carol@example.com'], comments: [{ approver: 'carol@example.com', comment: 'ok' }] });
  });

  test('finds an approval by execution name or ARN; fails for an unknown id', async () => {
    // GIVEN an approval of run-2f1c9e0
    const { approvalId } = await requestApproval(h);

    // WHEN it is looked up
    const byName = await findApprovalForExecution('run-2f1c9e0', { store: h.store });
    const byArn = await findApprovalForExecution('arn:aws:states:us-east-1:999999999999:execution:tfstep-pipeline:run-2f1c9e0', { store: h.store });

    // THEN both find it, and an unknown id is a clear error
    expect(byName?.approvalId).toBe(approvalId);
    expect(byArn?.approvalId).toBe(approvalId);
    expect(await findApprovalForExecution('run-unknown', { store: h.store })).toBeUndefined();
    await expect(getApproval('nope', { store: h.store })).rejects.toBeInstanceOf(ApprovalNotFoundError);
  });

  test('fails when the comment is too long, without recording anything', async () => {
    // GIVEN a pending approval
    const { approvalId } = await requestApproval(h);

    // WHEN a 2001-character comment is sent
    const run = decide({ approvalId, approver: 'alice@example.com', decision: 'approve', comment: 'x'.repeat(2001), via: 'cli' }, { store: h.store, tasks: new RecordOnlyTaskTokenSender(), clock: h.clock });

    // THEN it is refused and alice can still decide
    await expect(run).rejects.toThrow('comment: a comment of at most 2000 characters');
    expect((await getApproval(approvalId, { store: h.store })).decisions).toEqual({});
    await expect(decide({ approvalId, approver: 'alice@example.com', decision: 'approve', via: 'cli' }, { store: h.store, tasks: new RecordOnlyTaskTokenSender(), clock: h.clock })).resolves.toMatchObject({
      outcome: 'recorded',
      remaining: 1,
    });
    await expect(decide({ approvalId, approver: 'ALICE@example.com', decision: 'reject', via: 'cli' }, { store: h.store, tasks: new RecordOnlyTaskTokenSender(), clock: h.clock })).rejects.toBeInstanceOf(
      AlreadyDecidedError,
    );
  });
});

describe('isPusher', () => {
  test.each([
    ['alice@example.com', 'alice', true],
    ['alice@example.com', 'ALICE', true],
    ['Alice@Example.com', 'alice@example.com', true],
    ['alice@example.com', 'alice2', false],
    ['alice@example.com', 'example.com', false],
    ['alice@example.com', '', false],
  ])('%s vs pusher %s -> %s', (approver, pusher, expected) => {
    // GIVEN an approver and a pusher WHEN compared THEN the local part or the full address matches
    expect(isPusher(approver, pusher)).toBe(expected);
  });
});

describe('caller identity', () => {
  const approvers = ['alice@example.com', 'bob@example.com'];

  test('maps an SSO session named after the address, a role session named after the local part, and an IAM user', () => {
    // GIVEN three caller ARNs WHEN parsed and mapped THEN each names its approver
    expect(approverForCaller(parseCallerArn('arn:aws:sts::999999999999:assumed-role/AWSReservedSSO_Admin_0123/Alice@example.com'), approvers)).toBe('alice@example.com');
    expect(approverForCaller(parseCallerArn('arn:aws:sts::999999999999:assumed-role/deployers/bob'), approvers)).toBe('bob@example.com');
    expect(approverForCaller(parseCallerArn('arn:aws:iam::999999999999:user/people/alice'), approvers)).toBe('alice@example.com');
  });

  test('fails when the caller matches no approver, naming the identity and the approvers', () => {
    // GIVEN a role session of someone else WHEN mapped THEN the error names both sides
    expect(() => approverForCaller(parseCallerArn('arn:aws:sts::999999999999:assumed-role/deployers/ci-bot'), approvers)).toThrow(
      'arn:aws:sts::999999999999:assumed-role/deployers/ci-bot (name "ci-bot") is not an approver of this stage; its session or user name must equal one of alice@example.com, bob@example.com',
    );
  });
});
