import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient, TaskDoesNotExist, TaskTimedOut } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { handleApprovalHttp } from '../../lib/approval/http';
import { ITEM_LISTS, clearTable, csrfFrom, getRequest, harness, postRequest, requestApproval, requestFixture, scanTable, startDynalite, type Dynalite, type Harness } from './helpers';

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
  sfnMock.on(SendTaskFailureCommand).resolves({});
  h = harness(db);
});

async function approveVia(link: URL, decision: 'approve' | 'reject', comment = ''): Promise<{ statusCode: number; body: string }> {
  const page = await handleApprovalHttp(getRequest(link), h.httpDeps);
  return handleApprovalHttp(postRequest(link, { csrf: csrfFrom(page.body), decision, comment }), h.httpDeps);
}

describe('GET /approvals/:id', () => {
  test('fifty GETs change nothing in the table', async () => {
    // GIVEN a pending approval
    const { links } = await requestApproval(h);
    const link = links.get('alice@example.com')!;
    const before = await scanTable(db.doc);

    // WHEN the link is opened fifty times (a mail scanner, a preview, a person)
    for (let i = 0; i < 50; i++) {
      const res = await handleApprovalHttp(getRequest(link), h.httpDeps);
      expect(res.statusCode).toBe(200);
    }

    // THEN the table is identical and Step Functions was never called
    expect(await scanTable(db.doc)).toEqual(before);
    expect(sfnMock.calls()).toHaveLength(0);
  });

  test('renders the push, the plan with deletions and replacements, the approvals and the form', async () => {
    // GIVEN a pending approval with a destructive plan
    const { links } = await requestApproval(h);

    // WHEN alice opens her link
    const res = await handleApprovalHttp(getRequest(links.get('alice@example.com')!), h.httpDeps);

    // THEN the page shows what will be applied and how to decide, with strict headers
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('acme/infrastructure-live');
    expect(res.body).toContain('0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c');
    expect(res.body).toContain('Move the NAT gateway to the new subnet');
    expect(res.body).toContain('dave');
    expect(res.body).toMatch(/class="addr"[\s\S]*destroy <code>aws_subnet\.legacy_private<\/code>/);
    expect(res.body).toContain('replace (destroy, then create) <code>aws_nat_gateway.main</code>');
    expect(res.body).toContain('<span class="danger">2</span>');
    expect(res.body).toContain('2 of 2 approvals');
    expect(res.body).toContain('2026-11-27 10:00:00 UTC');
    expect(res.body).toMatch(/<button type="submit" class="approve" name="decision" value="approve">Approve<\/button>/);
    expect(res.body).toContain('name="csrf"');
    expect(res.body).not.toMatch(/<script|https?:\/\/(?!approvals\.example\.com|github\.com)/);
    expect(res.headers['content-security-policy']).toMatch(/^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'; form-action 'self'; frame-ancestors 'none'/);
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['cache-control']).toBe('no-store');
  });

  test('escapes HTML in the commit message', async () => {
    // GIVEN a push whose message holds markup
    const { links } = await requestApproval(h, (r) => {
      (r.push as { headCommit: { message: string } }).headCommit.message = '<script>alert(1)</script><img src=x onerror=alert(2)>';
    });

    // WHEN the page is rendered
    const res = await handleApprovalHttp(getRequest(links.get('bob@example.com')!), h.httpDeps);

    // THEN the markup is text, not HTML
    expect(res.body).not.toContain('<script>');
    expect(res.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;');
  });

  test('fails when the signature is forged (403)', async () => {
    // GIVEN bob's link with the approver changed to alice
    const { links } = await requestApproval(h);
    const forged = new URL(links.get('bob@example.com')!);
    forged.searchParams.set('approver', 'alice@example.com');

    // WHEN it is opened and posted
    const get = await handleApprovalHttp(getRequest(forged), h.httpDeps);
    const post = await handleApprovalHttp(postRequest(forged, { csrf: 'x', decision: 'approve' }), h.httpDeps);

    // THEN both are refused and nothing is sent
    expect(get.statusCode).toBe(403);
    expect(post.statusCode).toBe(403);
    expect(get.body).toContain('signature does not match');
    expect(sfnMock.calls()).toHaveLength(0);
  });

  test('fails when the expiry is extended by hand (403)', async () => {
    // GIVEN a link whose exp was changed
    const { links } = await requestApproval(h);
    const forged = new URL(links.get('bob@example.com')!);
    forged.searchParams.set('exp', String(Number(forged.searchParams.get('exp')) + 86400));

    // WHEN it is opened
    const res = await handleApprovalHttp(getRequest(forged), h.httpDeps);

    // THEN the signature no longer matches
    expect(res.statusCode).toBe(403);
  });

  test('fails when the link has expired (410), for GET and POST', async () => {
    // GIVEN a link opened while valid, then the deadline passes
    const { links } = await requestApproval(h);
    const link = links.get('alice@example.com')!;
    const page = await handleApprovalHttp(getRequest(link), h.httpDeps);
    h.clock.advance(86400 + 1);

    // WHEN it is opened and posted after expiry
    const get = await handleApprovalHttp(getRequest(link), h.httpDeps);
    const post = await handleApprovalHttp(postRequest(link, { csrf: csrfFrom(page.body), decision: 'approve' }), h.httpDeps);

    // THEN both answer 410 and nothing is sent
    expect(get.statusCode).toBe(410);
    expect(post.statusCode).toBe(410);
    expect(post.body).toContain('nothing is applied');
    expect(sfnMock.calls()).toHaveLength(0);
  });

  test('fails with 404 for an unknown path and 405 for another method', async () => {
    // GIVEN a request to the root and a PUT to an approval
    const { links } = await requestApproval(h);
    const link = links.get('alice@example.com')!;

    // WHEN they are handled
    const root = await handleApprovalHttp({ method: 'GET', path: '/', query: {}, headers: {} }, h.httpDeps);
    const put = await handleApprovalHttp({ ...getRequest(link), method: 'PUT' }, h.httpDeps);

    // THEN they are refused with pages
    expect(root.statusCode).toBe(404);
    expect(put.statusCode).toBe(405);
    expect(put.headers.allow).toBe('GET, HEAD, POST');
  });
});

describe('POST /approvals/:id', () => {
  test('two of three: SendTaskSuccess only after the second approval, with both approvers and the plan hashes', async () => {
    // GIVEN an approval needing 2 of alice, bob and carol
    const { approvalId, links } = await requestApproval(h);

    // WHEN alice approves
    const first = await approveVia(links.get('alice@example.com')!, 'approve', 'network change looks right');

    // THEN it is recorded and Step Functions is not told yet
    expect(first.statusCode).toBe(200);
    expect(first.body).toContain('1 more approval is needed');
    expect(sfnMock.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);

    // WHEN carol approves
    const second = await approveVia(links.get('carol@example.com')!, 'approve');

    // THEN the step gets the output with both approvers and the exact approved hashes
    expect(second.statusCode).toBe(200);
    expect(second.body).toContain('alice@example.com, carol@example.com');
    const calls = sfnMock.commandCalls(SendTaskSuccessCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args[0].input.taskToken).toBe('AQCEAAAAKgAAAAMAAAAAAAAAAfixture-task-token-never-shown-0123456789abcdefABCDEF');
    const output = JSON.parse(calls[0]!.args[0].input.output!);
    expect(output).toEqual({
      approvalId,
      approvers: ['alice@example.com', 'carol@example.com'],
      comments: [{ approver: 'alice@example.com', comment: 'network change looks right' }],
      items: requestFixture().applyItems,
    });
    // AND that item list holds the exact approved plan hashes
    const approved = JSON.parse(ITEM_LISTS[(output as { items: { key: string } }).items.key]!) as { name: string; approvedPlans: Record<string, string> }[];
    expect(approved.map((i) => [i.name, i.approvedPlans])).toEqual([
      [
        'prod',
        {
          'prod/us-east-1/network': '9f2b5c1e0d4a7b8c3e6f1a2d5b8c0e3f6a9d2c5b8e1f4a7d0c3b6e9f2a5d8c1b',
          'prod/us-east-1/app': '1b4e7a0d3c6f9b2e5a8d1c4f7b0e3a6d9c2f5b8e1a4d7c0f3b6e9a2d5c8f1b4e',
        },
      ],
    ]);
    const stored = await h.store.get(approvalId);
    expect(stored?.status).toBe('APPROVED');
    expect(await h.store.getTaskToken(approvalId)).toBeUndefined();
  });

  test('fails when a link is used again (409)', async () => {
    // GIVEN alice already approved (1 of 2)
    const { links } = await requestApproval(h);
    const link = links.get('alice@example.com')!;
    const page = await handleApprovalHttp(getRequest(link), h.httpDeps);
    const csrf = csrfFrom(page.body);
    expect((await handleApprovalHttp(postRequest(link, { csrf, decision: 'approve' }), h.httpDeps)).statusCode).toBe(200);

    // WHEN the same form is posted again
    const again = await handleApprovalHttp(postRequest(link, { csrf, decision: 'approve' }), h.httpDeps);

    // THEN it is refused as already decided, and the count did not move
    expect(again.statusCode).toBe(409);
    expect(again.body).toContain('alice@example.com already approved this');
    expect(sfnMock.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
  });

  test('fails when the pusher approves their own push (403, the page says why)', async () => {
    // GIVEN a push by "alice" (the git host user name), with alice@example.com an approver
    const { links } = await requestApproval(h, (r) => {
      (r.push as { pusher: string }).pusher = 'Alice';
    });
    const link = links.get('alice@example.com')!;

    // WHEN alice opens and posts an approval
    const page = await handleApprovalHttp(getRequest(link), h.httpDeps);
    const res = await handleApprovalHttp(postRequest(link, { csrf: csrfFrom(page.body), decision: 'approve' }), h.httpDeps);

    // THEN the page disables Approve and the POST is refused, naming the rule
    expect(page.body).toContain('You pushed this change');
    expect(page.body).toMatch(/value="approve" disabled/);
    expect(res.statusCode).toBe(403);
    expect(res.body).toContain('allowSelfApproval');
    expect(sfnMock.calls()).toHaveLength(0);
  });

  test('a rejection sends SendTaskFailure Rejected, naming who and why', async () => {
    // GIVEN a pending approval, with alice's page already open
    const { approvalId, links } = await requestApproval(h);
    const alice = links.get('alice@example.com')!;
    const aliceCsrf = csrfFrom((await handleApprovalHttp(getRequest(alice), h.httpDeps)).body);

    // WHEN bob rejects with a reason
    const res = await approveVia(links.get('bob@example.com')!, 'reject', 'the NAT gateway replacement needs a window');

    // THEN the step fails with Rejected and a cause naming bob and his reason
    expect(res.statusCode).toBe(200);
    // AND the confirmation page is not styled as a success: nothing will be applied
    expect(res.body).toContain('<h1>Rejected</h1>');
    expect(res.body).toMatch(/class="banner stopped"/);
    expect(res.body).not.toMatch(/class="banner ok"/);
    const calls = sfnMock.commandCalls(SendTaskFailureCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args[0].input.error).toBe('Rejected');
    expect(calls[0]!.args[0].input.cause).toBe('Rejected by bob@example.com (via link): the NAT gateway replacement needs a window');
    expect(sfnMock.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
    expect((await h.store.get(approvalId))?.status).toBe('REJECTED');

    // AND another approver's link now answers 409
    const late = await handleApprovalHttp(postRequest(alice, { csrf: aliceCsrf, decision: 'approve' }), h.httpDeps);
    expect(late.statusCode).toBe(409);
    expect(late.body).toContain('already rejected by bob@example.com');
  });

  test('fails when the task already timed out (410) and the approval is closed as expired', async () => {
    // GIVEN Step Functions answers TaskTimedOut
    sfnMock.on(SendTaskSuccessCommand).rejects(new TaskTimedOut({ message: 'Task Timed Out', $metadata: {} }));
    const { approvalId, links } = await requestApproval(h, (r) => {
      (r.stage as { approval: { minApprovals: number } }).approval.minApprovals = 1;
    });

    // WHEN bob approves
    const res = await approveVia(links.get('bob@example.com')!, 'approve');

    // THEN the answer is 410 and the approval is expired, never a success
    expect(res.statusCode).toBe(410);
    expect(res.body).toContain('timed out');
    expect((await h.store.get(approvalId))?.status).toBe('EXPIRED');
  });

  test('fails when the task no longer exists (410)', async () => {
    // GIVEN Step Functions answers TaskDoesNotExist for a rejection
    sfnMock.on(SendTaskFailureCommand).rejects(new TaskDoesNotExist({ message: 'no such task', $metadata: {} }));
    const { links } = await requestApproval(h);

    // WHEN bob rejects
    const res = await approveVia(links.get('bob@example.com')!, 'reject', 'no');

    // THEN the answer is 410
    expect(res.statusCode).toBe(410);
  });

  test('when Step Functions is unreachable the decision is undone, so the same link works again', async () => {
    // GIVEN the first SendTaskSuccess is throttled
    sfnMock.on(SendTaskSuccessCommand).rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' })).resolves({});
    const { approvalId, links } = await requestApproval(h, (r) => {
      (r.stage as { approval: { minApprovals: number } }).approval.minApprovals = 1;
    });
    const link = links.get('bob@example.com')!;

    // WHEN bob approves, fails, and tries again
    const first = await approveVia(link, 'approve');
    const second = await approveVia(link, 'approve');

    // THEN the first answers 500 with nothing recorded, the second succeeds
    expect(first.statusCode).toBe(500);
    expect(second.statusCode).toBe(200);
    expect(sfnMock.commandCalls(SendTaskSuccessCommand)).toHaveLength(2);
    expect((await h.store.get(approvalId))?.status).toBe('APPROVED');
  });

  test('fails when the approval step was redriven: the old link answers 410, the new one works', async () => {
    // GIVEN an approval, then a redrive of the step with a new token
    const { approvalId: oldId, links: oldLinks } = await requestApproval(h);
    const oldLink = oldLinks.get('alice@example.com')!;
    const oldPage = await handleApprovalHttp(getRequest(oldLink), h.httpDeps);
    const { approvalId: newId, links: newLinks } = await requestApproval(h, (r) => {
      r.taskToken = 'AQCEAAAAKgAAAAMAAAAAAAAAAredriven-token-0123456789';
    });

    // WHEN the old link is opened and posted
    const get = await handleApprovalHttp(getRequest(oldLink), h.httpDeps);
    const post = await handleApprovalHttp(postRequest(oldLink, { csrf: csrfFrom(oldPage.body), decision: 'approve' }), h.httpDeps);

    // THEN both answer 410, and the new approval is a different one that still works
    expect(newId).not.toBe(oldId);
    expect(get.statusCode).toBe(410);
    expect(post.statusCode).toBe(410);
    expect(post.body).toContain(`replaced by approval ${newId}`);
    expect((await h.store.get(oldId))?.status).toBe('SUPERSEDED');
    expect(await h.store.getTaskToken(oldId)).toBeUndefined();
    const fresh = await approveVia(newLinks.get('alice@example.com')!, 'approve');
    expect(fresh.statusCode).toBe(200);
    expect(sfnMock.calls()).toHaveLength(0);
  });

  test('fails when the CSRF token is missing or wrong (403)', async () => {
    // GIVEN a pending approval and carol's link
    const { links } = await requestApproval(h);
    const link = links.get('carol@example.com')!;
    const before = await scanTable(db.doc);

    // WHEN forms arrive without a token, with a wrong one, and with the link signature instead
    const missing = await handleApprovalHttp(postRequest(link, { decision: 'approve' }), h.httpDeps);
    const wrong = await handleApprovalHttp(postRequest(link, { decision: 'approve', csrf: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }), h.httpDeps);
    const reused = await handleApprovalHttp(postRequest(link, { decision: 'approve', csrf: link.searchParams.get('sig')! }), h.httpDeps);

    // THEN all are refused and nothing changed
    expect([missing.statusCode, wrong.statusCode, reused.statusCode]).toEqual([403, 403, 403]);
    expect(missing.body).toContain('no CSRF token');
    expect(await scanTable(db.doc)).toEqual(before);
  });

  test('fails when the form comes from another site (403), and accepts Origin: null from our own page', async () => {
    // GIVEN carol's page and its token
    const { links } = await requestApproval(h);
    const link = links.get('carol@example.com')!;
    const csrf = csrfFrom((await handleApprovalHttp(getRequest(link), h.httpDeps)).body);

    // WHEN posted cross-site, from a foreign origin, and from our page under no-referrer (Origin: null)
    const crossSite = await handleApprovalHttp(postRequest(link, { csrf, decision: 'approve' }, { 'sec-fetch-site': 'cross-site' }), h.httpDeps);
    const foreign = await handleApprovalHttp(postRequest(link, { csrf, decision: 'approve' }, { origin: 'https://evil.example.net' }), h.httpDeps);
    const own = await handleApprovalHttp(postRequest(link, { csrf, decision: 'approve' }, { origin: 'null' }), h.httpDeps);

    // THEN the first two are refused and the last is recorded
    expect(crossSite.statusCode).toBe(403);
    expect(foreign.statusCode).toBe(403);
    expect(own.statusCode).toBe(200);
  });

  test('fails when the body is not a form (400)', async () => {
    // GIVEN a JSON body
    const { links } = await requestApproval(h);
    const link = links.get('carol@example.com')!;

    // WHEN posted
    const res = await handleApprovalHttp({ ...postRequest(link, {}), headers: { host: link.host, 'content-type': 'application/json' }, body: '{"decision":"approve"}' }, h.httpDeps);

    // THEN it is refused, saying what was expected
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('application/x-www-form-urlencoded');
  });

  test('accepts a base64-encoded form, as a function URL may deliver it', async () => {
    // GIVEN carol's page and a form body encoded as base64
    const { links } = await requestApproval(h);
    const link = links.get('carol@example.com')!;
    const csrf = csrfFrom((await handleApprovalHttp(getRequest(link), h.httpDeps)).body);
    const plain = postRequest(link, { csrf, decision: 'approve', comment: 'ok' });

    // WHEN it is posted
    const res = await handleApprovalHttp({ ...plain, body: Buffer.from(plain.body!).toString('base64'), isBase64Encoded: true }, h.httpDeps);

    // THEN it is recorded
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('Approval recorded');
  });
});

describe('HEAD /approvals/:id', () => {
  test('answers like GET without a body and without a write', async () => {
    // GIVEN a pending approval
    const { links } = await requestApproval(h);
    const before = await scanTable(db.doc);

    // WHEN the link is probed with HEAD
    const res = await handleApprovalHttp({ ...getRequest(links.get('bob@example.com')!), method: 'HEAD' }, h.httpDeps);

    // THEN it answers 200 with the security headers, no body, and nothing changed
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(await scanTable(db.doc)).toEqual(before);
  });
});
