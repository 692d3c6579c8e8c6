/** A run's planned accounts: one item per account, so the run item stays small at any fleet size. */
import { startDynalite, type DynaliteTable } from '../fixtures/pipeline/dynalite';
import type { RunStore } from '../../lib/store';

let db: DynaliteTable;
let store: RunStore;

beforeAll(async () => {
  db = await startDynalite();
});
afterAll(async () => {
  await db.close();
});
beforeEach(async () => {
  store = await db.freshStore();
});

const newRun = (execution: string) =>
  store.createRun({ execution, executionId: execution, repository: 'acme/live', branch: 'main', commit: 'a'.repeat(40), sequence: `2026-11-20T10:00:00.000Z#${'a'.repeat(40)}`, status: 'RUNNING', startedAt: '2026-11-20T10:00:00.000Z', input: '{}' });

describe('planned accounts of a run', () => {
  it('keeps the run item the same size whatever the number of accounts, and gathers the plan back in stage order', async () => {
    // GIVEN two runs, planning 10 and 3,000 accounts
    const stagesOf = (n: number) => [
      { name: 'dev', accounts: [{ name: 'dev-1', modules: ['dev-1/app'] }] },
      { name: 'prod', accounts: Array.from({ length: n }, (_, i) => ({ name: `prod-${String(i).padStart(5, '0')}`, modules: [`prod-${i}/us-east-1/app`, `prod-${i}/us-east-1/network`], ...(i > 0 ? { wave: 1 } : {}) })) },
    ];
    await newRun('small');
    await newRun('large');
    await store.putPlannedStages('small', stagesOf(10));
    await store.putPlannedStages('large', stagesOf(3000));
    // WHEN the run items are read
    const small = await store.getRunItem('small');
    const large = await store.getRunItem('large');
    // THEN both hold only the stage names and sizes: the same bytes, apart from the count's digits
    expect(large?.plannedStages).toEqual([
      { name: 'dev', accounts: 1 },
      { name: 'prod', accounts: 3000 },
    ]);
    expect(Buffer.byteLength(JSON.stringify(large)) - Buffer.byteLength(JSON.stringify(small))).toBeLessThanOrEqual(10);
    expect(large?.stages).toBeUndefined();
    // AND the whole record gathers every planned account, stage by stage, with its wave
    const record = await store.getRunRecord('large');
    expect(record?.stages?.map((s) => [s.name, s.accounts.length])).toEqual([
      ['dev', 1],
      ['prod', 3000],
    ]);
    expect(record?.stages?.[1]?.accounts[0]).toEqual({ name: 'prod-00000', modules: ['prod-0/us-east-1/app', 'prod-0/us-east-1/network'] });
    expect(record?.stages?.[1]?.accounts[1]).toMatchObject({ name: 'prod-00001', wave: 1 });
    const detail = await store.getRun('large');
    expect(detail?.run.stages?.[1]?.accounts).toHaveLength(3000);
  });
});
