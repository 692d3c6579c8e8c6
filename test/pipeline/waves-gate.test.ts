/** The stage gate with waves: the failure budget across waves, the next wave, the stop. */
import type { Config } from '../../lib/config/schema';
import type { StageCompleteResult } from '../../lib/pipeline/stage-complete';
import { accountItem, stageItem } from '../../lib/pipeline/targets';
import { phaseAtWave } from '../../lib/pipeline/waves';
import type { RunStore } from '../../lib/store';
import type { AccountItem, AdmitResult, StageItem, StagePhase } from '../../lib/statemachine/contracts';
import { readItems, writeItems } from '../../lib/statemachine/items';
import { testConfig } from '../fixtures/pipeline/config';
import { startDynalite, type DynaliteTable } from '../fixtures/pipeline/dynalite';
import { baseFiles, envelope, executionId, makeHarness, pushOf, TestRepo, type Harness } from '../fixtures/pipeline/harness';

let db: DynaliteTable;
let store: RunStore;
let repo: TestRepo;
let c0: string;
let c1: string;

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

/** The test config with prod in two waves (no approval) and the given budget. */
function wavesConfig(budget?: { count: number } | { percent: number }): Config {
  const base = testConfig();
  return {
    ...base,
    stages: { ...base.stages, prod: { ...base.stages.prod!, approval: { required: false }, waves: [{ accounts: 2 }, { percent: 100 }], bakeMinutes: 15, ...(budget ? { toleratedFailures: budget } : {}) } },
  };
}

async function setup(config: Config): Promise<{ h: Harness; run: AdmitResult; stage: StageItem; all: AccountItem[] }> {
  store = await db.freshStore();
  const h = makeHarness(config, store, repo.dir);
  h.running.add(executionId('e1'));
  const input = envelope(pushOf(c0, c1, '2026-11-20T10:00:01.000Z', ['dev/us-east-1/app/main.tf']));
  const run = (await h.handler({ action: 'admit', input, executionId: executionId('e1'), executionName: 'e1', startedAt: '2026-11-20T10:00:02.000Z' })) as AdmitResult;
  // four prod accounts: p1 and p2 in the first wave, p3 and p4 in the second
  const base = accountItem(config, config.accounts[2]!, ['prod/eu-west-1/app'], 'plan-and-apply');
  const all = ['p1', 'p2', 'p3', 'p4'].map((name, i) => ({ ...base, name, wave: i < 2 ? 0 : 1 }));
  const accounts = await writeItems(h.artifacts, 'e1/_stages/2/accounts.json', all, 'e1');
  const item = stageItem(config, 'e1', 2, 'prod', accounts);
  const phase = (await phaseAtWave(h.artifacts, { execution: 'e1', stage: item, phase: 'plan-and-apply', all, allLocation: accounts, waveCount: 2, from: 0 }))!;
  return { h, run, stage: { ...item, phase }, all };
}

const gate = (h: Harness, stage: StageItem, run: AdmitResult) =>
  h.handler({ action: 'stage-complete', phase: stage.phase.name, stage, items: stage.phase.items, execution: 'e1', run }) as Promise<StageCompleteResult>;

const record = (account: string, ok: boolean, wave: number) =>
  store.setAccountOutcome('e1', 'prod', { account, ok, phase: 'plan-and-apply', wave, modules: [{ path: 'prod/eu-west-1/app', status: ok ? 'applied' : 'failed' }], ...(ok ? {} : { reason: 'terraform apply exited with code 1' }) });

describe('stage gate with waves', () => {
  it('hands on the next wave after the bake time while the failures stay within the budget', async () => {
    // GIVEN a budget of one failure and p1 failing in the first wave
    const { h, run, stage } = await setup(wavesConfig({ count: 1 }));
    expect((await readItems(h.artifacts, stage.phase.items)).map((i) => i.name)).toEqual(['p1', 'p2']);
    await record('p1', false, 0);
    await record('p2', true, 0);
    // WHEN the gate runs after the first wave
    const res = await gate(h, stage, run);
    // THEN the stage goes on: the second wave is the phase's next items, after 15 minutes
    expect(res.failed).toBe(false);
    expect(res.bakeSeconds).toBe(900);
    expect(res.nextWave).toMatchObject({ name: 'plan-and-apply', wave: { index: 1, count: 2 } });
    expect((await readItems(h.artifacts, res.nextWave!.items)).map((i) => i.name)).toEqual(['p3', 'p4']);
    expect(res.reason).toContain('wave 1 of 2: succeeded in 1 of 2 account(s); 1 account(s) failed, within the budget (1 failure(s) tolerated)');
  });

  it('stops after the wave in which the failures pass the budget, counting earlier waves too', async () => {
    // GIVEN a budget of one failure, p1 failed in the first wave and p4 in the second
    const { h, run, stage } = await setup(wavesConfig({ count: 1 }));
    await record('p1', false, 0);
    await record('p2', true, 0);
    const second = { ...stage, phase: (await gate(h, stage, run)).nextWave! };
    await record('p3', true, 1);
    await record('p4', false, 1);
    // WHEN the gate runs after the second wave
    const res = await gate(h, second, run);
    // THEN the stage fails: two failures in the stage, one tolerated
    expect(res).toMatchObject({ failed: true, failedCount: 2 });
    expect(res.nextWave).toBeUndefined();
    expect(res.reason).toMatch(/^stage prod wave 2 of 2: failed in 1 of 2 account\(s\) \(2 failed in the stage, 1 failure\(s\) tolerated\): account p4 /);
    expect(res.reason).toContain('account p1 ');
  });

  it('stops after the first wave by default, saying how many accounts never started', async () => {
    // GIVEN no budget (the default) and p2 failing in the first wave
    const { h, run, stage } = await setup(wavesConfig());
    await record('p1', true, 0);
    await record('p2', false, 0);
    // WHEN the gate runs
    const res = await gate(h, stage, run);
    // THEN the stage stops: no next wave, the second wave's two accounts never started
    expect(res).toMatchObject({ failed: true, failedCount: 1, failedAccounts: ['p2'] });
    expect(res.nextWave).toBeUndefined();
    expect(res.reason).toMatch(/^stage prod wave 1 of 2: failed in 1 of 2 account\(s\): account p2 .*; 2 account\(s\) in later waves never started$/);
  });

  it('takes a percentage budget of the stage accounts, rounded down', async () => {
    // GIVEN a 25% budget of 4 accounts (one failure) and p1 failing
    const { h, run, stage } = await setup(wavesConfig({ percent: 25 }));
    await record('p1', false, 0);
    await record('p2', true, 0);
    // THEN the next wave starts
    const res = await gate(h, stage, run);
    expect(res.failed).toBe(false);
    expect(res.nextWave?.wave?.index).toBe(1);
  });

  it('finishes the stage after the last wave within the budget', async () => {
    const { h, run, stage } = await setup(wavesConfig({ count: 1 }));
    await record('p1', true, 0);
    await record('p2', true, 0);
    const next: StagePhase = (await gate(h, stage, run)).nextWave!;
    await record('p3', true, 1);
    await record('p4', false, 1);
    const res = await gate(h, { ...stage, phase: next }, run);
    expect(res).toMatchObject({ failed: false, failedCount: 1 });
    expect(res.nextWave).toBeUndefined();
    expect(res.reason).toContain('stage prod plan-and-apply wave 2 of 2: succeeded in 1 of 2 account(s)');
  });
});
