import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { createRunTable, RUN_TABLE_KEYS, type RunRecord, type RunStore } from '../../lib/store';
import { sha } from '../fixtures/pipeline/config';
import { startDynalite, type DynaliteTable } from '../fixtures/pipeline/dynalite';

let db: DynaliteTable;
let store: RunStore;

beforeAll(async () => {
  db = await startDynalite();
});
afterAll(async () => db.close());
beforeEach(async () => {
  store = await db.freshStore(() => new Date('2026-11-20T12:00:00.000Z'));
});

function run(execution: string, fields: Partial<RunRecord> = {}): Omit<RunRecord, 'polls' | 'accounts'> {
  return {
    execution,
    executionId: `arn:aws:states:us-east-1:111111111111:execution:tfstep-pipeline:${execution}`,
    repository: 'acme/live',
    branch: 'main',
    commit: sha(1),
    sequence: `2026-11-20T10:00:00.000Z#${sha(1)}`,
    status: 'WAITING',
    startedAt: '2026-11-20T10:00:01.000Z',
    input: '{}',
    ...fields,
  };
}

describe('createRunTable', () => {
  it('creates the table with string pk/sk keys and leaves an existing one alone', async () => {
    // GIVEN a table created once
    await createRunTable(db.client, 'twice');
    // WHEN created again
    await createRunTable(db.client, 'twice');
    // THEN it exists with the documented keys
    const res = await db.client.send(new DescribeTableCommand({ TableName: 'twice' }));
    expect(res.Table?.KeySchema).toEqual([
      { AttributeName: RUN_TABLE_KEYS.partitionKey, KeyType: 'HASH' },
      { AttributeName: RUN_TABLE_KEYS.sortKey, KeyType: 'RANGE' },
    ]);
  });
});

describe('runs', () => {
  it('creates a run once and returns the stored one on a second create', async () => {
    await store.createRun(run('e1'));
    const again = await store.createRun(run('e1', { commit: sha(2) }));
    expect(again.commit).toBe(sha(1));
    expect(again.polls).toBe(0);
  });

  it('counts polls, stores account outcomes and finishes only once', async () => {
    await store.createRun(run('e1'));
    expect(await store.countPoll('e1')).toBe(1);
    expect(await store.countPoll('e1')).toBe(2);
    await store.setAccountOutcome('e1', 'dev', { account: 'dev', ok: true, phase: 'plan-and-apply', modules: [{ path: 'dev/a', status: 'applied' }] });
    expect(await store.finishRun('e1', 'FAILED', { reason: 'dev failed' })).toBe(true);
    expect(await store.finishRun('e1', 'SUCCEEDED')).toBe(false);
    const stored = await store.getRunRecord('e1');
    expect(stored).toMatchObject({ status: 'FAILED', reason: 'dev failed', polls: 2, finishedAt: '2026-11-20T12:00:00.000Z' });
    expect(stored?.accounts.dev?.ok).toBe(true);
  });

  it('lists runs newest first, filtered by repository and status, and reads one with its modules', async () => {
    await store.createRun(run('old', { startedAt: '2026-11-20T09:00:00.000Z' }));
    await store.createRun(run('new', { startedAt: '2026-11-20T11:00:00.000Z', status: 'RUNNING' }));
    await store.createRun(run('other', { repository: 'acme/other', startedAt: '2026-11-20T10:00:00.000Z' }));
    await store.putModuleResult({ execution: 'new', account: 'dev', module: 'dev/b', phase: 'apply', status: 'applied', commit: sha(1) });
    await store.putModuleResult({ execution: 'new', account: 'dev', module: 'dev/a', phase: 'plan', status: 'planned', commit: sha(1), planSha256: 'f'.repeat(64) });
    expect((await store.listRuns()).map((r) => r.execution)).toEqual(['new', 'other', 'old']);
    expect((await store.listRuns({ repository: 'acme/live' })).map((r) => r.execution)).toEqual(['new', 'old']);
    expect((await store.listRuns({ status: 'RUNNING' })).map((r) => r.execution)).toEqual(['new']);
    expect((await store.listRuns({ limit: 1 })).map((r) => r.execution)).toEqual(['new']);
    const detail = await store.getRun('new');
    expect(detail?.modules.map((m) => `${m.module}:${m.phase}`)).toEqual(['dev/a:plan', 'dev/b:apply']);
    expect(await store.getRun('missing')).toBeUndefined();
  });

  it('keeps each account outcome in an item of its own, listed per stage, replaced by a later phase', async () => {
    // GIVEN a run with outcomes in two stages, one account planned and then applied
    await store.createRun(run('e1'));
    await store.setAccountOutcome('e1', 'prod', { account: 'p1', ok: true, phase: 'plan', modules: [{ path: 'prod/a', status: 'planned' }] });
    await store.setAccountOutcome('e1', 'prod', { account: 'p1', ok: false, phase: 'apply', modules: [{ path: 'prod/a', status: 'failed' }] });
    await store.setAccountOutcome('e1', 'prod', { account: 'p2', ok: true, phase: 'plan', modules: [{ path: 'prod/b', status: 'planned' }] });
    await store.setAccountOutcome('e1', 'prod-eu', { account: 'e1a', ok: true, phase: 'plan', modules: [{ path: 'eu/a', status: 'planned' }] });
    // WHEN a stage's outcomes are listed THEN only that stage's (not prod-eu's), latest phase each
    const prod = await store.listAccountOutcomes('e1', 'prod');
    expect(prod.map((o) => `${o.account}:${o.phase}:${o.ok}`).sort()).toEqual(['p1:apply:false', 'p2:plan:true']);
    // AND the run record and the run detail gather all of them, while the run item itself holds none
    expect(Object.keys((await store.getRunRecord('e1'))!.accounts).sort()).toEqual(['e1a', 'p1', 'p2']);
    expect(Object.keys((await store.getRun('e1'))!.run.accounts).sort()).toEqual(['e1a', 'p1', 'p2']);
    expect((await store.listRuns())[0]!.accounts).toEqual({});
  });

  it('reads a run identity without its account outcomes', async () => {
    // GIVEN a run with an account outcome
    await store.createRun(run('e1'));
    await store.setAccountOutcome('e1', 'dev', { account: 'dev', ok: true, phase: 'plan-and-apply', modules: [{ path: 'dev/a', status: 'applied' }] });
    // WHEN its identity is read THEN it names the run and carries no outcomes
    const identity = await store.getRunIdentity('e1');
    expect(identity).toMatchObject({ execution: 'e1', repository: 'acme/live', commit: sha(1) });
    expect(identity).toHaveProperty('sequence');
    expect(identity).not.toHaveProperty('accounts');
    expect(await store.getRunIdentity('missing')).toBeUndefined();
  });

  it('fails when updating a run that does not exist', async () => {
    await expect(store.updateRun('ghost', { status: 'RUNNING' })).rejects.toThrow();
  });
});

describe('targets', () => {
  it('moves a target forward only, never backwards, and lists them per repository', async () => {
    // GIVEN a target applied at push 2
    expect(await store.recordApplied({ repository: 'acme/live', account: 'dev', module: 'dev/a', commit: sha(2), sequence: `2#${sha(2)}`, execution: 'e2' })).toBe(true);
    // WHEN an older push 1 tries to record its apply
    const moved = await store.recordApplied({ repository: 'acme/live', account: 'dev', module: 'dev/a', commit: sha(1), sequence: `1#${sha(1)}`, execution: 'e1' });
    // THEN the record stays at push 2
    expect(moved).toBe(false);
    expect((await store.getApplied('acme/live', 'dev', 'dev/a'))?.commit).toBe(sha(2));
    // AND a newer push 3 moves it
    expect(await store.recordApplied({ repository: 'acme/live', account: 'dev', module: 'dev/a', commit: sha(3), sequence: `3#${sha(3)}`, execution: 'e3' })).toBe(true);
    await store.recordApplied({ repository: 'acme/live', account: 'prod', module: 'prod/a', commit: sha(3), sequence: `3#${sha(3)}`, execution: 'e3' });
    await store.recordApplied({ repository: 'acme/other', account: 'prod', module: 'prod/a', commit: sha(3), sequence: `3#${sha(3)}`, execution: 'e3' });
    expect((await store.listApplied('acme/live')).map((t) => `${t.account}:${t.module}@${t.commit}`)).toEqual([`dev:dev/a@${sha(3)}`, `prod:prod/a@${sha(3)}`]);
  });
});

describe('commit admission', () => {
  it('claims a commit once; a competing claim with a stale read fails', async () => {
    expect(await store.claimCommit('acme/live', 'main', sha(1), { execution: 'e1', executionId: 'id1', sequence: 's1' }, undefined)).toBe(true);
    expect(await store.claimCommit('acme/live', 'main', sha(1), { execution: 'e2', executionId: 'id2', sequence: 's1' }, undefined)).toBe(false);
    const current = await store.getCommit('acme/live', 'main', sha(1));
    expect(current?.execution).toBe('e1');
    expect(await store.claimCommit('acme/live', 'main', sha(1), { execution: 'e3', executionId: 'id3', sequence: 's3' }, current)).toBe(true);
    expect(await store.claimCommit('acme/live', 'main', sha(1), { execution: 'e4', executionId: 'id4', sequence: 's4' }, current)).toBe(false);
  });
});

describe('branch queue and lock', () => {
  it('keeps the queue in push order and tracks high waters', async () => {
    await store.joinQueue({ repository: 'acme/live', branch: 'main', sequence: `2026-11-20T10:00:02.000Z#${sha(2)}`, execution: 'e2', executionId: 'i2', commit: sha(2) });
    await store.joinQueue({ repository: 'acme/live', branch: 'main', sequence: `2026-11-20T10:00:01.000Z#${sha(1)}`, execution: 'e1', executionId: 'i1', commit: sha(1) });
    await store.joinQueue({ repository: 'acme/live', branch: 'main', sequence: `2026-11-20T10:00:01.000Z#${sha(1)}`, execution: 'e1', executionId: 'i1', commit: sha(1) });
    expect((await store.listQueue('acme/live', 'main')).map((e) => e.execution)).toEqual(['e1', 'e2']);
    expect((await store.getLock('acme/live', 'main')).joinedHighWater).toBe(`2026-11-20T10:00:02.000Z#${sha(2)}`);
    await store.leaveQueue('acme/live', 'main', `2026-11-20T10:00:01.000Z#${sha(1)}`, 'e1');
    expect((await store.listQueue('acme/live', 'main')).map((e) => e.execution)).toEqual(['e2']);
  });

  it('gives the branch to one execution at a time, with a new lease generation for each new holder', async () => {
    const e1 = { execution: 'e1', executionId: 'i1', sequence: 's1', commit: sha(1), before: sha(0) };
    const e2 = { execution: 'e2', executionId: 'i2', sequence: 's2', commit: sha(2), before: sha(1) };
    expect(await store.acquireLock('acme/live', 'main', e1)).toBe(1);
    // The holder asking again keeps its generation; another execution gets nothing
    expect(await store.acquireLock('acme/live', 'main', e1)).toBe(1);
    expect(await store.acquireLock('acme/live', 'main', e2)).toBeUndefined();
    expect(await store.releaseLock('acme/live', 'main', 'e2')).toBe(false);
    expect(await store.releaseLock('acme/live', 'main', 'e1')).toBe(true);
    expect(await store.acquireLock('acme/live', 'main', e2)).toBe(2);
    expect(await store.getLock('acme/live', 'main')).toMatchObject({
      holder: 'e2',
      admittedHighWater: 's2',
      generation: 2,
      admitted: [
        { execution: 'e2', commit: sha(2), before: sha(1), sequence: 's2' },
        { execution: 'e1', commit: sha(1), before: sha(0), sequence: 's1' },
      ],
    });
  });

  it('never gives two executions racing for a free branch the same generation', async () => {
    // GIVEN a free branch WHEN eight executions take it at once, each releasing it after
    const takers = Array.from({ length: 8 }, (_, i) => ({ execution: `r${i}`, executionId: `ri${i}`, sequence: `s${i}`, commit: sha(i) }));
    const got: number[] = [];
    await Promise.all(
      takers.map(async (t) => {
        for (let tries = 0; tries < 50; tries++) {
          const g = await store.acquireLock('acme/live', 'race', t);
          if (g !== undefined) {
            got.push(g);
            await store.releaseLock('acme/live', 'race', t.execution);
            return;
          }
        }
      }),
    );
    // THEN each got the branch once, with generations 1 to 8, each once
    expect(got.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect((await store.getLock('acme/live', 'race')).admitted).toHaveLength(8);
  });

  it('keeps a target at the newest admission generation, whatever the arrival sequence says', async () => {
    // GIVEN a target applied by generation 3, whose push arrived late (a high sequence)
    const base = { repository: 'acme/live', account: 'dev', module: 'dev/app', execution: 'x' };
    expect(await store.recordApplied({ ...base, commit: sha(3), sequence: '2026-11-20T10:00:09.000Z#c', generation: 3 })).toBe(true);
    // WHEN a later admitted run (generation 4) whose push arrived earlier applies THEN the target moves
    expect(await store.recordApplied({ ...base, commit: sha(4), sequence: '2026-11-20T10:00:01.000Z#d', generation: 4 })).toBe(true);
    // AND an older generation never moves it back
    expect(await store.recordApplied({ ...base, commit: sha(2), sequence: '2026-11-20T10:00:30.000Z#e', generation: 2 })).toBe(false);
    expect((await store.getApplied('acme/live', 'dev', 'dev/app'))?.commit).toBe(sha(4));
  });
});
