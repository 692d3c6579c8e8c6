/**
 * Approvals of plans that may change, and approvals asked again: the plan gate's "may change after"
 * mark on the page and in the notice, and, when an apply held modules back because their plans
 * changed after their upstreams applied, a new approval (new id, new links) that shows the plan
 * approved before beside the new one and what differs. Real DynamoDB (dynalite), SFN mocked.
 */
import { createHash } from 'node:crypto';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { FunctionArtifactReader } from '../../lib/approval/artifacts';
import { handleApprovalHttp } from '../../lib/approval/http';
import { renderApprovalPage } from '../../lib/approval/page';
import { artifactKeys } from '../../lib/domain/runner-contract';
import type { ReplanNotes } from '../../lib/statemachine/contracts';
import { approvalSummary } from '../../lib/local/ui/run';
import { clearTable, csrfFrom, getRequest, harness, postRequest, requestApproval, scanTable, startDynalite, type Dynalite, type Harness } from './helpers';

const sfnMock = mockClient(SFNClient);
const EXEC = 'run-2f1c9e0';
const NETWORK = 'prod/us-east-1/network';
const APP = 'prod/us-east-1/app';
const NEW_APP_SHA = 'c'.repeat(64);
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

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The harness's artifacts plus `extra`. */
function withArtifacts(extra: Record<string, string>): Harness {
  const base = h.requestDeps.artifacts;
  return { ...h, requestDeps: { ...h.requestDeps, artifacts: new FunctionArtifactReader(async (key) => extra[key] ?? (await base.get(key))) } };
}

const planResult = (module: string, mayChangeAfter?: string[]) =>
  JSON.stringify({
    module,
    account: 'prod',
    commit: 'a'.repeat(40),
    phase: 'plan',
    status: 'planned',
    ...(mayChangeAfter ? { mayChangeAfter } : {}),
    startedAt: '2026-11-26T09:00:00.000Z',
    finishedAt: '2026-11-26T09:01:00.000Z',
  });

const page = (approval: Parameters<typeof renderApprovalPage>[0]) =>
  renderApprovalPage(approval, { approver: 'alice@example.com', action: '/approvals/x', csrf: 'c', nowEpochSeconds: Math.floor(h.clock.now().getTime() / 1000) });

describe('plans that may change after an upstream applies', () => {
  test('the notice, the page and the terminal prompt mark the module whose upstream has changes', async () => {
    // GIVEN the plan task found app's upstream network has changes
    const hx = withArtifacts({
      [artifactKeys.result(EXEC, 'prod', APP)]: planResult(APP, [NETWORK]),
      [artifactKeys.result(EXEC, 'prod', NETWORK)]: planResult(NETWORK),
    });
    // WHEN the approval is requested
    const { approvalId } = await requestApproval(hx);
    // THEN the stored summary, the notice, the page and the prompt carry the mark on app alone
    const approval = (await h.store.get(approvalId))!;
    const modules = approval.summaries[0]!.modules;
    expect(modules.find((m) => m.path === APP)?.mayChangeAfter).toEqual([NETWORK]);
    expect(modules.find((m) => m.path === NETWORK)?.mayChangeAfter).toBeUndefined();
    const notice = h.notifier.notices.at(-1)!.text;
    expect(notice).toMatch(new RegExp(`${APP}: Plan: .* \\(plan may change after ${NETWORK} applies\\)`));
    expect(notice).not.toMatch(new RegExp(`${NETWORK}: Plan: .*may change`));
    expect(page(approval)).toContain(`<span class="mark">plan may change after ${NETWORK} applies</span>`);
    expect(approvalSummary({ approvalId, approval } as Parameters<typeof approvalSummary>[0]).join('\n')).toContain(`(plan may change after ${NETWORK} applies)`);
  });

  test('a plan result that is not the plan phase\'s does not mark anything', async () => {
    const hx = withArtifacts({ [artifactKeys.result(EXEC, 'prod', APP)]: planResult(APP, [NETWORK]).replace('"phase":"plan"', '"phase":"apply"') });
    const { approvalId } = await requestApproval(hx);
    expect((await h.store.get(approvalId))!.summaries[0]!.modules.every((m) => m.mayChangeAfter === undefined)).toBe(true);
  });
});

describe('an approval asked again after a re-plan differed', () => {
  const notes = (previousApprovalId: string): ReplanNotes => ({
    round: 1,
    previousApprovalId,
    modules: [
      {
        account: 'prod',
        module: APP,
        reason: 'changed',
        approvedSha256: 'a'.repeat(64),
        approved: { add: 1, change: 0, destroy: 0, deleted: [], replaced: [] },
        replanned: { add: 1, change: 1, destroy: 0, deleted: [], replaced: [] },
        differences: ['aws_instance.app: update (not in the approved plan)'],
      },
    ],
  });

  /** Round 1: the gate's notes, the plan task's new plan of app, and a request for app alone with a new task token. */
  async function askAgain(previousApprovalId: string, body = `${JSON.stringify(notes(previousApprovalId))}\n`, sha = sha256(body)) {
    const notesKey = artifactKeys.stageReplanNotes(EXEC, 2, 1);
    const items = JSON.parse((await h.requestDeps.artifacts.get(artifactKeys.stageApplyItems(EXEC, 2)))!) as { modules: string[]; approvedPlans: Record<string, string> }[];
    const again = items.map((i) => ({ ...i, modules: [APP], approvedPlans: { [APP]: NEW_APP_SHA } }));
    const againText = JSON.stringify(again);
    const againKey = artifactKeys.stageApplyItems(EXEC, 2, 1);
    const hx = withArtifacts({ [notesKey]: body, [againKey]: againText });
    return requestApproval(hx, (request) => {
      request.taskToken = 'AQCEAAAAKgAAAAMAAAAAAAAAAsecond-round-task-token-0123456789';
      const stage = request.stage as { phase: Record<string, unknown> };
      stage.phase = { ...stage.phase, replan: { key: notesKey, sha256: sha } };
      request.applyItems = { bucket: 'tfstep-artifacts-test', key: againKey, count: again.length, sha256: sha256(againText) };
    });
  }

  test('the new approval has its own id and links; it shows the plan approved before beside the new one and what differs', async () => {
    // GIVEN the first approval, approved
    const first = await requestApproval(h);
    for (const approver of ['alice@example.com', 'bob@example.com']) {
      const link = first.links.get(approver)!;
      const got = await handleApprovalHttp(getRequest(link), h.httpDeps);
      const posted = await handleApprovalHttp(postRequest(link, { csrf: csrfFrom(got.body), decision: 'approve', comment: '' }), h.httpDeps);
      expect(posted.statusCode).toBe(200);
    }
    expect((await h.store.get(first.approvalId))!.status).toBe('APPROVED');

    // WHEN the apply held app back and the stage asks again
    const second = await askAgain(first.approvalId);

    // THEN a new approval, for app alone, with the previous plan and the differences
    expect(second.approvalId).not.toBe(first.approvalId);
    const approval = (await h.store.get(second.approvalId))!;
    expect(approval.status).toBe('PENDING');
    expect(approval.replan).toEqual({ round: 1, previousApprovalId: first.approvalId });
    const app = approval.summaries[0]!.modules;
    expect(app.map((m) => m.path)).toEqual([APP]);
    expect(app[0]).toMatchObject({
      planSha256: NEW_APP_SHA,
      previous: { reason: 'changed', planSha256: 'a'.repeat(64), plan: { add: 1, change: 0, destroy: 0 }, differences: ['aws_instance.app: update (not in the approved plan)'] },
    });

    const notice = h.notifier.notices.at(-1)!;
    expect(notice.subject).toMatch(/^Approve again /);
    expect(notice.text).toContain(`Asked again: the plans approved before (approval ${first.approvalId}) changed once their upstream modules applied`);
    expect(notice.text).toContain('asked again: planned again after its upstreams applied: its changes differ from the approved plan');
    expect(notice.text).toContain(`approved before: Plan: 1 to add, 0 to change, 0 to destroy. (plan ${'a'.repeat(12)})`);
    expect(notice.text).toContain(`new plan:        `);
    expect(notice.text).toContain('differs: aws_instance.app: update (not in the approved plan)');

    const html = page(approval);
    expect(html).toContain('Approved before');
    expect(html).toContain('New plan, to approve');
    expect(html).toContain('<li>aws_instance.app: update (not in the approved plan)</li>');
    expect(html).toContain(`title="${NEW_APP_SHA}"`);

    // AND the first approval's links do not decide the new one
    const old = first.links.get('carol@example.com')!;
    const oldGet = await handleApprovalHttp(getRequest(old), h.httpDeps);
    expect(oldGet.body).not.toContain('New plan, to approve');
    expect(oldGet.body).not.toContain('name="csrf"');
    const oldPost = await handleApprovalHttp(postRequest(old, { csrf: 'x', decision: 'approve', comment: '' }), h.httpDeps);
    expect(oldPost.statusCode).toBeGreaterThanOrEqual(400);
    const fresh = second.links.get('carol@example.com')!;
    expect(fresh.pathname).toContain(second.approvalId);
    expect(old.pathname).not.toContain(second.approvalId);
    expect((await h.store.get(second.approvalId))!.decisions).toEqual({});
  });

  test('an approver who approved the first plan must decide again: the first decision does not count for the new plan', async () => {
    const first = await requestApproval(h);
    const link = first.links.get('alice@example.com')!;
    const got = await handleApprovalHttp(getRequest(link), h.httpDeps);
    await handleApprovalHttp(postRequest(link, { csrf: csrfFrom(got.body), decision: 'approve', comment: '' }), h.httpDeps);
    const second = await askAgain(first.approvalId);
    // The old link, with its valid form token, still speaks for the old approval only.
    const again = await handleApprovalHttp(postRequest(link, { csrf: csrfFrom(got.body), decision: 'approve', comment: '' }), h.httpDeps);
    expect(again.statusCode).toBeGreaterThanOrEqual(400);
    const approval = (await h.store.get(second.approvalId))!;
    expect(approval.decisions).toEqual({});
    expect(approval.status).toBe('PENDING');
  });

  test('fails when the notes changed after the gate wrote them, storing no new approval', async () => {
    const first = await requestApproval(h);
    const before = (await scanTable(db.doc)).filter((i) => i.sk === 'APPROVAL').length;
    await expect(askAgain(first.approvalId, '{"round":1,"modules":[]}\n', 'f'.repeat(64))).rejects.toThrow(/cannot read the notes of the plans made again .*changed after they were written/);
    expect((await scanTable(db.doc)).filter((i) => i.sk === 'APPROVAL')).toHaveLength(before);
  });
});
