import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { handleApprovalHttp, type ApprovalHttpDeps } from '../../lib/approval/http';
import { ApprovalStore } from '../../lib/approval/store';
import { clearTable, csrfFrom, getRequest, harness, postRequest, requestApproval, startDynalite, TABLE, type Dynalite, type Harness } from './helpers';

// Two approvers deciding "at the same moment" are two function invocations, each with its own
// DynamoDB client, whose calls interleave. A Lockstep makes that interleaving exact and
// repeatable: the two invocations take turns, one DynamoDB call each, starting with the first
// named. Every call still goes to the real (dynalite) table with its real conditions.

const sfnMock = mockClient(SFNClient);
let db: Dynalite;
let h: Harness;
const clients: DynamoDBClient[] = [];

beforeAll(async () => {
  db = await startDynalite();
});
afterAll(async () => {
  for (const c of clients) c.destroy();
  await db.close();
});
beforeEach(async () => {
  await clearTable(db.doc);
  sfnMock.reset();
  sfnMock.on(SendTaskSuccessCommand).resolves({});
  sfnMock.on(SendTaskFailureCommand).resolves({});
  h = harness(db);
});

/** Lets two parties make their DynamoDB calls in strict alternation, the first named first. */
class Lockstep {
  private turn: string;
  private readonly finished = new Set<string>();
  private readonly wakers: (() => void)[] = [];

  constructor(private readonly parties: readonly [string, string]) {
    this.turn = parties[0];
  }

  private other(party: string): string {
    return party === this.parties[0] ? this.parties[1] : this.parties[0];
  }

  private wake(): void {
    for (const w of this.wakers.splice(0)) w();
  }

  async enter(party: string): Promise<void> {
    while (this.turn !== party && !this.finished.has(this.other(party))) {
      await new Promise<void>((resolve) => this.wakers.push(resolve));
    }
  }

  leave(party: string): void {
    this.turn = this.other(party);
    this.wake();
  }

  finish(party: string): void {
    this.finished.add(party);
    this.wake();
  }
}

/** The deps of one approver's request: its own DynamoDB client, gated by the lockstep. */
function gatedDeps(gate: Lockstep, party: string): ApprovalHttpDeps {
  const client = new DynamoDBClient({ endpoint: db.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  clients.push(client);
  client.middlewareStack.add(
    (next) => async (args) => {
      await gate.enter(party);
      try {
        return await next(args);
      } finally {
        gate.leave(party);
      }
    },
    { step: 'initialize', name: 'lockstep' },
  );
  return { ...h.httpDeps, store: new ApprovalStore(DynamoDBDocumentClient.from(client), TABLE) };
}

interface Submission {
  readonly approver: string;
  readonly decision: 'approve' | 'reject';
}

/** Opens each approver's page, then posts both forms at once, interleaved call by call, `first` first. */
async function decideAtOnce(links: Map<string, URL>, first: Submission, second: Submission): Promise<{ statusCode: number; body: string }[]> {
  const forms = await Promise.all(
    [first, second].map(async (s) => {
      const link = links.get(s.approver)!;
      const page = await handleApprovalHttp(getRequest(link), h.httpDeps);
      return postRequest(link, { csrf: csrfFrom(page.body), decision: s.decision, comment: `${s.decision} from ${s.approver}` });
    }),
  );
  const gate = new Lockstep([first.approver, second.approver]);
  return Promise.all(
    [first, second].map((s, i) => {
      const deps = gatedDeps(gate, s.approver);
      return handleApprovalHttp(forms[i]!, deps).finally(() => gate.finish(s.approver));
    }),
  );
}

/** The recorded decisions as (approver, decision) pairs, sorted. */
async function recordedDecisions(approvalId: string): Promise<[string, string][]> {
  const approval = await h.store.get(approvalId);
  return Object.values(approval!.decisions)
    .map((d): [string, string] => [d.approver, d.decision])
    .sort((a, b) => a[0].localeCompare(b[0]));
}

/** The approvers Step Functions was told about, from the one SendTaskSuccess. */
function approversSent(): string[] {
  const calls = sfnMock.commandCalls(SendTaskSuccessCommand);
  expect(calls).toHaveLength(1);
  return (JSON.parse(calls[0]!.args[0].input.output!) as { approvers: string[] }).approvers;
}

const oneOfThree = (r: Record<string, unknown>) => {
  (r.stage as { approval: { minApprovals: number } }).approval.minApprovals = 1;
};

describe('decisions arriving at the same moment', () => {
  test('a reject that wins: the run is rejected, the approve is answered 409 and is not in the record', async () => {
    // GIVEN an approval needing 1 of alice, bob and carol
    const { approvalId, links } = await requestApproval(h, oneOfThree);

    // WHEN carol rejects and bob approves at the same moment, carol's call first
    const [carol, bob] = await decideAtOnce(links, { approver: 'carol@example.com', decision: 'reject' }, { approver: 'bob@example.com', decision: 'approve' });

    // THEN carol is told the run is rejected
    expect(carol!.statusCode).toBe(200);
    expect(carol!.body).toContain('The run was rejected');
    // AND bob is told his approval did not count, and why
    expect(bob!.statusCode).toBe(409);
    expect(bob!.body).toContain('rejected by carol@example.com');
    expect(bob!.body).not.toContain('Your approval is recorded');
    // AND the step failed once, was never told to go on, and the record shows the reject alone
    expect(sfnMock.commandCalls(SendTaskFailureCommand)).toHaveLength(1);
    expect(sfnMock.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
    const stored = await h.store.get(approvalId);
    expect(stored?.status).toBe('REJECTED');
    expect(await recordedDecisions(approvalId)).toEqual([['carol@example.com', 'reject']]);
  });

  test('an approve that wins: the run is approved, the reject is answered 409 and is not in the record', async () => {
    // GIVEN an approval needing 1 of alice, bob and carol
    const { approvalId, links } = await requestApproval(h, oneOfThree);

    // WHEN bob approves and carol rejects at the same moment, bob's call first
    const [bob, carol] = await decideAtOnce(links, { approver: 'bob@example.com', decision: 'approve' }, { approver: 'carol@example.com', decision: 'reject' });

    // THEN bob is told the apply starts, carol that the approval was already approved by bob
    expect(bob!.statusCode).toBe(200);
    expect(bob!.body).toContain('approved by bob@example.com; the apply starts now');
    expect(carol!.statusCode).toBe(409);
    expect(carol!.body).toContain('approved by bob@example.com');
    // AND the step went on once with bob alone, and the record shows bob's approve alone
    expect(approversSent()).toEqual(['bob@example.com']);
    expect(sfnMock.commandCalls(SendTaskFailureCommand)).toHaveLength(0);
    expect((await h.store.get(approvalId))?.status).toBe('APPROVED');
    expect(await recordedDecisions(approvalId)).toEqual([['bob@example.com', 'approve']]);
  });

  test('two approves past the count: the second is answered 409 and the record matches what Step Functions was told', async () => {
    // GIVEN an approval needing 1 of alice, bob and carol
    const { approvalId, links } = await requestApproval(h, oneOfThree);

    // WHEN bob and carol approve at the same moment, bob's call first
    const [bob, carol] = await decideAtOnce(links, { approver: 'bob@example.com', decision: 'approve' }, { approver: 'carol@example.com', decision: 'approve' });

    // THEN bob completes the approval and carol is told hers came after it
    expect(bob!.statusCode).toBe(200);
    expect(bob!.body).toContain('approved by bob@example.com; the apply starts now');
    expect(carol!.statusCode).toBe(409);
    expect(carol!.body).toContain('approved by bob@example.com');
    expect(carol!.body).not.toContain('the apply is starting');
    // AND the record lists exactly the approvers Step Functions was given
    expect(approversSent()).toEqual(['bob@example.com']);
    const stored = await h.store.get(approvalId);
    expect(stored?.status).toBe('APPROVED');
    expect(await recordedDecisions(approvalId)).toEqual([['bob@example.com', 'approve']]);
    expect(stored?.outcome).toMatchObject({ kind: 'success', output: { approvers: ['bob@example.com'] } });
  });

  test('two approves that together reach the count: both count and the step goes on once', async () => {
    // GIVEN an approval needing 2 of alice, bob and carol, with nobody decided yet
    const { approvalId, links } = await requestApproval(h);

    // WHEN bob and carol approve at the same moment, bob's call first
    const [bob, carol] = await decideAtOnce(links, { approver: 'bob@example.com', decision: 'approve' }, { approver: 'carol@example.com', decision: 'approve' });

    // THEN one is told one more approval is needed, the other that the apply starts
    const bodies = [bob!, carol!].map((r) => r.body);
    expect([bob!.statusCode, carol!.statusCode]).toEqual([200, 200]);
    expect(bodies.filter((b) => b.includes('1 more approval is needed'))).toHaveLength(1);
    expect(bodies.filter((b) => b.includes('the apply starts now'))).toHaveLength(1);
    // AND Step Functions got both approvers once, and the record holds both approves
    expect(approversSent().sort()).toEqual(['bob@example.com', 'carol@example.com']);
    expect((await h.store.get(approvalId))?.status).toBe('APPROVED');
    expect(await recordedDecisions(approvalId)).toEqual([
      ['bob@example.com', 'approve'],
      ['carol@example.com', 'approve'],
    ]);
  });
});
