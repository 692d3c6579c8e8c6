/**
 * The stage gate and the account record after an apply that held modules back: a module whose plan
 * changed after its upstreams applied (`awaiting-approval`), and those skipped below it, are no
 * failure; the gate writes the next round's plan items (those modules alone, on the read-only plan
 * task definition) and the notes the next approval shows. Real DynamoDB (dynalite) and git.
 */
import { createHash } from 'node:crypto';
import type { AccountOutcome, AdmitResult, AccountItem, ReplanNotes, StageItem } from '../../lib/statemachine/contracts';
import { ReplanNotesSchema } from '../../lib/statemachine/contracts';
import { applyItem, readItems, writeItems } from '../../lib/statemachine/items';
import type { StageCompleteResult } from '../../lib/pipeline/stage-complete';
import { accountItem, stageItem } from '../../lib/pipeline/targets';
import { artifactKeys, type ModuleResult } from '../../lib/domain/runner-contract';
import { heldBack } from '../../lib/domain/replan';
import type { RunStore } from '../../lib/store';
import { testConfig } from '../fixtures/pipeline/config';
import { startDynalite, type DynaliteTable } from '../fixtures/pipeline/dynalite';
import { baseFiles, envelope, executionId, makeHarness, pushOf, TestRepo, type Harness } from '../fixtures/pipeline/harness';

let db: DynaliteTable;
let store: RunStore;
let h: Harness;
let repo: TestRepo;
let c0: string;
let c1: string;
const config = testConfig();

beforeAll(async () => {
  db = await startDynalite();
  repo = new TestRepo();
  c0 = repo.commit(baseFiles(), 'base');
  c1 = repo.commit({ 'dev/us-east-1/app/main.tf': 'a1' }, 'app change');
});
afterAll(async () => {
  repo.remove();
  await db.close();
});
beforeEach(async () => {
  store = await db.freshStore();
  h = makeHarness(config, store, repo.dir);
});

async function admitted(): Promise<AdmitResult> {
  h.running.add(executionId('e1'));
  const input = envelope(pushOf(c0, c1, '2026-11-20T10:00:01.000Z', ['dev/us-east-1/app/main.tf']));
  return (await h.handler({ action: 'admit', input, executionId: executionId('e1'), executionName: 'e1', startedAt: '2026-11-20T10:00:02.000Z' })) as AdmitResult;
}

const NET = 'prod/eu-west-1/network';
const APP = 'prod/eu-west-1/app';
const DB = 'prod/eu-west-1/db';
const OTHER = 'prod/eu-west-1/other';
const sha = (c: string) => c.repeat(64);
const summary = (add: number, change = 0) => ({ add, change, destroy: 0, deleted: [], replaced: [] });

describe('heldBack', () => {
  it('holds back awaiting modules and, transitively, the modules skipped because of them; never a failure\'s dependents', () => {
    const held = heldBack([
      { path: 'a', status: 'applied' },
      { path: 'b', status: 'awaiting-approval' },
      { path: 'c', status: 'skipped', skippedBecause: 'd' },
      { path: 'd', status: 'skipped', skippedBecause: 'b' },
      { path: 'e', status: 'failed' },
      { path: 'f', status: 'skipped', skippedBecause: 'e' },
    ]);
    expect([...held]).toEqual([
      ['b', { reason: 'changed' }],
      ['d', { reason: 'upstream-held', upstream: 'b' }],
      ['c', { reason: 'upstream-held', upstream: 'd' }],
    ]);
  });
});

describe('record-account after an apply', () => {
  const source = () => ({ repository: 'https://github.com/acme/live.git', commit: c1, ref: 'refs/heads/main' });
  const result = (module: string, status: ModuleResult['status'], extra: Partial<ModuleResult> = {}): ModuleResult => ({
    module,
    account: 'dev',
    commit: c1,
    phase: 'apply',
    status,
    startedAt: '2026-11-20T10:01:00.000Z',
    finishedAt: '2026-11-20T10:02:00.000Z',
    ...extra,
  });
  const account = () => applyItem(accountItem(config, config.accounts[0]!, ['dev/us-east-1/network', 'dev/us-east-1/app'], 'plan'), { 'dev/us-east-1/network': sha('1'), 'dev/us-east-1/app': sha('2') });

  it('counts a module held back for a new approval as no failure, and keeps its new plan in the outcome and the run record', async () => {
    await admitted();
    const replan = { planSha256: sha('3'), plan: summary(1, 1), approvedSha256: sha('2'), approvedPlan: summary(1), differences: ['x.y: update (not in the approved plan)'] };
    h.artifacts.writeResult('e1', result('dev/us-east-1/network', 'applied'));
    h.artifacts.writeResult('e1', result('dev/us-east-1/app', 'awaiting-approval', { replan }));
    const out = (await h.handler({ action: 'record-account', phase: 'apply', ok: true, account: account(), source: source(), execution: 'e1' })) as AccountOutcome;
    expect(out.ok).toBe(true);
    expect(out.modules).toEqual([
      { path: 'dev/us-east-1/network', status: 'applied' },
      { path: 'dev/us-east-1/app', status: 'awaiting-approval', replan },
    ]);
    // The held-back module is not moved forward: it did not apply.
    expect(await store.getApplied('acme/live', 'dev', 'dev/us-east-1/app')).toBeUndefined();
    expect((await store.getRun('e1'))?.modules.find((m) => m.module === 'dev/us-east-1/app')).toMatchObject({ status: 'awaiting-approval', replan });
  });

  it('fails when a module was skipped for any other reason than a held-back upstream', async () => {
    await admitted();
    h.artifacts.writeResult('e1', result('dev/us-east-1/network', 'failed', { error: 'terraform apply exited with code 1' }));
    h.artifacts.writeResult('e1', result('dev/us-east-1/app', 'skipped', { skippedBecause: 'dev/us-east-1/network' }));
    const out = (await h.handler({ action: 'record-account', phase: 'apply', ok: false, account: account(), source: source(), execution: 'e1' })) as AccountOutcome;
    expect(out.ok).toBe(false);
    expect(out.reason).toContain('dev/us-east-1/app skipped');
  });
});

describe('stage-complete after an apply that held modules back', () => {
  const graph = {
    account: 'prod',
    root: 'prod/eu-west-1',
    modules: [APP, DB, NET, OTHER],
    dependencies: { [APP]: [NET], [DB]: [APP] },
  };
  const approved = { [APP]: sha('a'), [DB]: sha('d'), [NET]: sha('c'), [OTHER]: sha('f') };
  async function applyStage(): Promise<{ stage: StageItem; items: AccountItem[] }> {
    const planned = accountItem(config, config.accounts[2]!, [APP, DB, NET, OTHER], 'plan', graph);
    const accounts = await writeItems(h.artifacts, 'e1/_stages/2/accounts.json', [planned], 'e1');
    const stage = stageItem(config, 'e1', 2, 'prod', accounts);
    const items = [applyItem(planned, approved)];
    const applyLocation = await writeItems(h.artifacts, artifactKeys.stageApplyItems('e1', 2), items, 'e1');
    return { stage: { ...stage, phase: { name: 'apply', items: applyLocation, approvalId: 'approval-1' } }, items };
  }
  const gate = (stage: StageItem, phase: 'plan' | 'apply', run: AdmitResult, round?: number) =>
    h.handler({ action: 'stage-complete', phase, stage, items: stage.phase.items, execution: 'e1', run, ...(round === undefined ? {} : { round }) }) as Promise<StageCompleteResult>;

  it('plans the held-back modules again in round 1, alone, on the plan task definition, with notes for the next approval', async () => {
    // GIVEN network and other applied, app held back (its re-plan differed), db skipped below it
    const run = await admitted();
    const { stage } = await applyStage();
    await h.artifacts.put(artifactKeys.summary('e1', 'prod', DB), JSON.stringify(summary(2)));
    const replan = { planSha256: sha('b'), plan: summary(1, 1), approvedSha256: sha('a'), approvedPlan: summary(1), differences: ['aws_instance.app: update (not in the approved plan)'] };
    await store.setAccountOutcome('e1', 'prod', {
      account: 'prod',
      ok: true,
      phase: 'apply',
      modules: [
        { path: APP, status: 'awaiting-approval', replan },
        { path: DB, status: 'skipped', skippedBecause: APP },
        { path: NET, status: 'applied' },
        { path: OTHER, status: 'applied' },
      ],
    });

    // WHEN the gate runs after the apply
    const res = await gate(stage, 'apply', run);

    // THEN the stage neither fails nor ends: it plans app and db again, in round 1
    expect(res).toMatchObject({ failed: false, failedCount: 0, replan: { round: 1, items: { key: 'e1/_stages/2/replan-1.json', count: 1 } } });
    expect(res.reason).toBe('stage prod apply held back 2 module(s) in 1 account(s) for a new approval: 1 planned again after their upstreams applied and changed, 1 below them');
    const [item] = await readItems(h.artifacts, res.replan!.items);
    expect(item).toMatchObject({ phase: 'plan', taskDefinition: item!.planTaskDefinition, approvedPlans: {}, modules: [APP, DB], dependencies: { [DB]: [APP] } });
    const manifest = JSON.parse((await h.artifacts.get(item!.manifest!.key))!.toString('utf8')) as Record<string, unknown>;
    expect(manifest).toMatchObject({ phase: 'plan', modules: [APP, DB], dependencies: { [DB]: [APP] } });
    expect(manifest).not.toHaveProperty('approvedPlans');

    // AND the notes carry the approved plans, the new plan and what differs, bound by their SHA-256
    const body = (await h.artifacts.get(res.replan!.notes.key))!;
    expect(createHash('sha256').update(body).digest('hex')).toBe(res.replan!.notes.sha256);
    const notes: ReplanNotes = ReplanNotesSchema.parse(JSON.parse(body.toString('utf8')));
    expect(notes).toEqual({
      round: 1,
      previousApprovalId: 'approval-1',
      modules: [
        { account: 'prod', module: APP, reason: 'changed', approvedSha256: sha('a'), approved: summary(1), replanned: summary(1, 1), differences: replan.differences },
        { account: 'prod', module: DB, reason: 'upstream-held', upstream: APP, approvedSha256: sha('d'), approved: summary(2) },
      ],
    });
  });

  it('after the round\'s plan, writes its apply items under keys of their own and says the approval is asked again', async () => {
    const run = await admitted();
    const planned = accountItem(config, config.accounts[2]!, [APP, DB], 'plan', { ...graph, modules: [APP, DB] });
    const items = await writeItems(h.artifacts, artifactKeys.stageReplanItems('e1', 2, 1), [planned], 'e1');
    const base = stageItem(config, 'e1', 2, 'prod', items);
    const stage: StageItem = { ...base, phase: { name: 'plan', items } };
    await store.setAccountOutcome('e1', 'prod', {
      account: 'prod',
      ok: true,
      phase: 'plan',
      modules: [
        { path: APP, status: 'planned', planSha256: sha('b'), plan: summary(1, 1) },
        { path: DB, status: 'planned', planSha256: sha('e'), plan: summary(2), mayChangeAfter: [APP] },
      ],
    });
    const res = await gate(stage, 'plan', run, 1);
    expect(res.applyItems?.key).toBe('e1/_stages/2/apply-1.json');
    const [apply] = await readItems(h.artifacts, res.applyItems!);
    expect(apply!.approvedPlans).toEqual({ [APP]: sha('b'), [DB]: sha('e') });
    // The round-0 apply items are left as they were approved.
    expect(await h.artifacts.get('e1/_stages/2/apply.json')).toBeUndefined();
    const text = h.published.at(-1)!.text;
    expect(text).toContain('approval asked again (round 1)');
    expect(text).toContain(`prod ${DB}: 2 to add, 0 to change, 0 to destroy (plan may change after ${APP} applies)`);
  });

  it('fails the stage when a module failed, even if others were held back: nothing is planned again', async () => {
    const run = await admitted();
    const { stage } = await applyStage();
    await store.setAccountOutcome('e1', 'prod', {
      account: 'prod',
      ok: false,
      phase: 'apply',
      modules: [
        { path: APP, status: 'awaiting-approval' },
        { path: DB, status: 'skipped', skippedBecause: APP },
        { path: NET, status: 'applied' },
        { path: OTHER, status: 'failed' },
      ],
      reason: 'prod/eu-west-1/other failed: terraform apply exited with code 1',
    });
    const res = await gate(stage, 'apply', run);
    expect(res.failed).toBe(true);
    expect(res.replan).toBeUndefined();
  });

  it('goes on when nothing was held back', async () => {
    const run = await admitted();
    const { stage } = await applyStage();
    await store.setAccountOutcome('e1', 'prod', { account: 'prod', ok: true, phase: 'apply', modules: [APP, DB, NET, OTHER].map((path) => ({ path, status: 'applied' as const })) });
    const res = await gate(stage, 'apply', run);
    expect(res).toMatchObject({ failed: false });
    expect(res.replan).toBeUndefined();
  });
});
