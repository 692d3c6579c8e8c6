import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { main } from '../../lib/cli/main';
import { createApprovalRequestHandler } from '../../lib/approval/request';
import { ApprovalStore } from '../../lib/approval/store';
import { loadConfig } from '../../lib/config/loader';
import { rememberExecution } from '../../lib/local/engine/session';
import { openLocalStore } from '../../lib/local/engine/store';
import { clearTable, harness, requestApproval, requestFixture, startDynalite, type Dynalite, type Harness } from './helpers';

const stsMock = mockClient(STSClient);
const sfnMock = mockClient(SFNClient);
/** The audit bucket: each decision is put there as a new record. */
const s3Mock = mockClient(S3Client);
const CONFIG = join(__dirname, '..', '..', 'examples', 'tfstep.yaml');
let db: Dynalite;
let h: Harness;
const savedEnv = { ...process.env };
let lines: string[];
let errors: string[];

beforeAll(async () => {
  db = await startDynalite();
  // The command builds its own clients; these point DynamoDB at dynalite, STS and SFN are mocked.
  process.env.AWS_ENDPOINT_URL_DYNAMODB = db.endpoint;
  process.env.AWS_ACCESS_KEY_ID = 'test';
  process.env.AWS_SECRET_ACCESS_KEY = 'test';
  delete process.env.AWS_PROFILE;
});
afterAll(async () => {
  process.env = savedEnv;
  await db.close();
});
beforeEach(async () => {
  await clearTable(db.doc);
  stsMock.reset();
  sfnMock.reset();
  sfnMock.on(SendTaskSuccessCommand).resolves({});
  sfnMock.on(SendTaskFailureCommand).resolves({});
  s3Mock.reset();
  s3Mock.on(PutObjectCommand).resolves({});
  h = harness(db);
  // The command uses the system clock, so the approvals are made now.
  h.clock.set(new Date());
  lines = [];
  errors = [];
  jest.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line));
  jest.spyOn(console, 'error').mockImplementation((line: string) => void errors.push(line));
  process.exitCode = undefined;
});
afterEach(() => {
  jest.restoreAllMocks();
  process.exitCode = undefined;
});

function callerIs(arn: string): void {
  stsMock.on(GetCallerIdentityCommand).resolves({ Arn: arn, Account: '999999999999', UserId: 'AROAEXAMPLE:session' });
}

describe('tfstep approve / reject', () => {
  test('approve by execution name records the STS identity and completes with SendTaskSuccess', async () => {
    // GIVEN an approval needing 1 and an SSO session of carol
    const { approvalId } = await requestApproval(h, (r) => {
      (r.stage as { approval: { minApprovals: number } }).approval.minApprovals = 1;
    });
    callerIs('arn:aws:sts::999999999999:assumed-role/AWSReservedSSO_Deployers_0123456789abcdef/carol@example.com');

    // WHEN carol runs tfstep approve run-2f1c9e0
    const code = await main(['node', 'tfstep', 'approve', 'run-2f1c9e0', '--config', CONFIG, '--comment', 'checked the NAT change']);

    // THEN the step gets the output naming carol, and the command says so
    expect(errors).toEqual([]);
    expect(code).toBe(0);
    expect(lines.join('\n')).toContain(`approved: approval ${approvalId} (run-2f1c9e0, stage prod) by carol@example.com`);
    const output = JSON.parse(sfnMock.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input.output!);
    expect(output.approvers).toEqual(['carol@example.com']);
    expect(output.comments).toEqual([{ approver: 'carol@example.com', comment: 'checked the NAT change' }]);
    const stored = await h.store.get(approvalId);
    expect(stored?.decisions['carol@example.com']).toMatchObject({ decision: 'approve', via: 'cli' });
    // AND the audit bucket got the decision, naming carol and the CLI
    const put = s3Mock.commandCalls(PutObjectCommand)[0]!.args[0].input;
    expect(put).toMatchObject({ Bucket: 'tfstep-audit-999999999999-us-east-1', IfNoneMatch: '*' });
    expect(JSON.parse(put.Body as string)).toMatchObject({ kind: 'decision', who: 'carol@example.com', channel: 'cli', decision: 'approve', comment: 'checked the NAT change' });
  });

  test('reject by approval id sends SendTaskFailure Rejected with the reason', async () => {
    // GIVEN a pending approval and bob as an IAM role session named bob
    const { approvalId } = await requestApproval(h);
    callerIs('arn:aws:sts::999999999999:assumed-role/operators/bob');

    // WHEN bob rejects it by id
    const code = await main(['node', 'tfstep', 'reject', approvalId, '--config', CONFIG, '--comment', 'freeze week']);

    // THEN the step fails with Rejected naming bob and why
    expect(code).toBe(0);
    const input = sfnMock.commandCalls(SendTaskFailureCommand)[0]!.args[0].input;
    expect(input).toMatchObject({ error: 'Rejected', cause: 'Rejected by bob@example.com (via cli): freeze week' });
    expect(lines.join('\n')).toContain('rejected:');
  });

  test('fails when the caller is not an approver, naming the identity and the approvers (exit 2)', async () => {
    // GIVEN a pending approval and a CI role session
    await requestApproval(h);
    callerIs('arn:aws:sts::999999999999:assumed-role/ci/github-actions');

    // WHEN it tries to approve
    const code = await main(['node', 'tfstep', 'approve', 'run-2f1c9e0', '--config', CONFIG]);

    // THEN it is refused and nothing is sent
    expect(code).toBe(2);
    expect(errors.join('\n')).toContain('arn:aws:sts::999999999999:assumed-role/ci/github-actions (name "github-actions") is not an approver of this stage');
    expect(errors.join('\n')).toContain('alice@example.com, bob@example.com, carol@example.com');
    expect(sfnMock.calls()).toHaveLength(0);
  });

  test('fails when the pusher approves their own push from the CLI (exit 2)', async () => {
    // GIVEN a push by dave, who is made an approver
    await requestApproval(h, (r) => {
      (r.stage as { approval: { approvers: string[] } }).approval.approvers.push('dave@example.com');
    });
    callerIs('arn:aws:iam::999999999999:user/dave');

    // WHEN dave approves
    const code = await main(['node', 'tfstep', 'approve', 'run-2f1c9e0', '--config', CONFIG]);

    // THEN the self-approval rule refuses it
    expect(code).toBe(2);
    expect(errors.join('\n')).toContain('does not allow self-approval');
  });

  test('fails when nothing waits under that name (exit 2)', async () => {
    // GIVEN an empty table WHEN approving an unknown execution THEN it says so
    callerIs('arn:aws:sts::999999999999:assumed-role/operators/alice');
    const code = await main(['node', 'tfstep', 'approve', 'run-missing', '--config', CONFIG]);
    expect(code).toBe(2);
    expect(errors.join('\n')).toContain('no approval run-missing exists');
  });

  test('--local records the decision in the local store as the --as approver', async () => {
    // GIVEN a local state directory with a pending approval
    const stateDir = mkdtempSync(join(tmpdir(), 'tfstep-approve-'));
    try {
      const local = await openLocalStore(stateDir);
      const store = new ApprovalStore(local.docClient, local.tableName);
      const { approvalId } = await createApprovalRequestHandler({ ...h.requestDeps, store })(requestFixture());
      await local.close();
      // (its run is followed by a live tfstep process: this one stands in for it)
      rememberExecution(stateDir, 'run-2f1c9e0', { config: loadConfig(CONFIG), repoDir: stateDir, owner: { pid: process.pid } });

      // WHEN alice approves with --local
      const code = await main(['node', 'tfstep', 'approve', 'run-2f1c9e0', '--local', '--state-dir', stateDir, '--as', 'alice@example.com']);

      // THEN it is recorded there (1 of 2) and nothing went to AWS
      expect(errors).toEqual([]);
      expect(code).toBe(0);
      expect(lines.join('\n')).toContain('1 more approval needed');
      expect(sfnMock.calls()).toHaveLength(0);
      expect(stsMock.calls()).toHaveLength(0);
      const again = await openLocalStore(stateDir);
      const view = await new ApprovalStore(again.docClient, again.tableName).get(approvalId);
      await again.close();
      expect(view?.decisions['alice@example.com']).toMatchObject({ decision: 'approve', via: 'cli' });
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  test('fails when --local finds no process waiting for the decision: nothing is recorded, and it says how to go on (exit 2)', async () => {
    // GIVEN a pending approval whose run's process is gone (Ctrl-C, a crash)
    const stateDir = mkdtempSync(join(tmpdir(), 'tfstep-approve-'));
    try {
      const local = await openLocalStore(stateDir);
      const store = new ApprovalStore(local.docClient, local.tableName);
      const { approvalId } = await createApprovalRequestHandler({ ...h.requestDeps, store })(requestFixture());
      await local.close();
      rememberExecution(stateDir, 'run-2f1c9e0', { config: loadConfig(CONFIG), repoDir: stateDir });

      // WHEN alice approves it with --local
      const code = await main(['node', 'tfstep', 'approve', 'run-2f1c9e0', '--local', '--state-dir', stateDir, '--as', 'alice@example.com']);

      // THEN it says nothing waits and names the command that goes on; no decision is recorded
      expect(code).toBe(2);
      expect(lines).toEqual([]);
      expect(errors.join('\n')).toContain('nothing is waiting for this decision: no tfstep process runs run-2f1c9e0 any more');
      expect(errors.join('\n')).toContain(`tfstep local replay run-2f1c9e0 --state-dir ${stateDir}`);
      const again = await openLocalStore(stateDir);
      const view = await new ApprovalStore(again.docClient, again.tableName).get(approvalId);
      await again.close();
      expect(view?.decisions).toEqual({});
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  test('fails when --local has no --as (exit 2)', async () => {
    // GIVEN a state directory WHEN approving locally without --as THEN it says what to pass
    const stateDir = mkdtempSync(join(tmpdir(), 'tfstep-approve-'));
    try {
      const code = await main(['node', 'tfstep', 'approve', 'run-2f1c9e0', '--local', '--state-dir', stateDir]);
      expect(code).toBe(2);
      expect(errors.join('\n')).toContain('with --local, pass --as EMAIL');
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
