import type { AdmitResult } from '../../lib/statemachine/contracts';
import type { RunStore } from '../../lib/store';
import { sha, testConfig } from '../fixtures/pipeline/config';
import { startDynalite, type DynaliteTable } from '../fixtures/pipeline/dynalite';
import { baseFiles, envelope, executionId, makeHarness, pushOf, TestRepo, type Harness } from '../fixtures/pipeline/harness';

let db: DynaliteTable;
let store: RunStore;
let h: Harness;

beforeAll(async () => {
  db = await startDynalite();
});
afterAll(async () => db.close());
beforeEach(async () => {
  store = await db.freshStore();
  h = makeHarness(testConfig(), store, '/nonexistent');
});

const at = (s: number) => `2026-11-20T10:00:${String(s).padStart(2, '0')}.000Z`;

async function admit(name: string, input: unknown): Promise<AdmitResult> {
  h.running.add(executionId(name));
  return (await h.handler({ action: 'admit', input, executionId: executionId(name), executionName: name, startedAt: at(59) })) as AdmitResult;
}

async function finish(name: string, _input: unknown, status: 'SUCCEEDED' | 'FAILED' = 'SUCCEEDED'): Promise<void> {
  await h.handler({ action: 'finish', outcome: { status }, executionId: executionId(name), executionName: name });
  h.running.delete(executionId(name));
}

const p1 = envelope(pushOf(sha(1), sha(2), at(1), ['dev/us-east-1/app/main.tf']));
const p2 = envelope(pushOf(sha(2), sha(3), at(2), ['dev/us-east-1/app/main.tf']));
const p3 = envelope(pushOf(sha(3), sha(4), at(3), ['dev/us-east-1/app/main.tf']));

describe('admit', () => {
  it('admits the first push of a branch and records the run', async () => {
    const res = await admit('e1', p1);
    expect(res).toEqual({ decision: 'ADMITTED', runId: 'e1', repository: 'acme/live', branch: 'main', commit: sha(2), generation: 1 });
    expect(await store.getRunRecord('e1')).toMatchObject({ status: 'RUNNING', commit: sha(2), executionId: executionId('e1') });
    expect((await store.getLock('acme/live', 'main')).holder).toBe('e1');
  });

  it('answers ADMITTED again to a retried call of the admitted execution', async () => {
    await admit('e1', p1);
    expect((await admit('e1', p1)).decision).toBe('ADMITTED');
  });

  it('marks the same event delivered twice as DUPLICATE and touches nothing', async () => {
    // GIVEN a push admitted by e1
    await admit('e1', p1);
    const before = await db.client.send(new (await import('@aws-sdk/client-dynamodb')).ScanCommand({ TableName: store.tableName }));
    // WHEN the same event starts a second execution
    const res = await admit('e1-dup', p1);
    // THEN it is a duplicate carried by e1, and the table is unchanged
    expect(res).toMatchObject({ decision: 'DUPLICATE', carriedBy: 'e1' });
    const after = await db.client.send(new (await import('@aws-sdk/client-dynamodb')).ScanCommand({ TableName: store.tableName }));
    expect(after.Items).toEqual(before.Items);
    expect(await store.getRunRecord('e1-dup')).toBeUndefined();
  });

  describe('the same commit pushed again', () => {
    const again = envelope(pushOf(sha(1), sha(2), at(9), ['dev/us-east-1/app/main.tf']));

    it('is DUPLICATE after a run of it that succeeded', async () => {
      await admit('e1', p1);
      await finish('e1', p1, 'SUCCEEDED');
      expect(await admit('e1-again', again)).toMatchObject({ decision: 'DUPLICATE', carriedBy: 'e1' });
    });

    it.each(['FAILED', 'REJECTED', 'EXPIRED', 'ABORTED'] as const)('deploys again after a run of it that ended %s', async (status) => {
      // GIVEN the commit's run ended without deploying it
      await admit('e1', p1);
      if (status === 'ABORTED' || status === 'REJECTED' || status === 'EXPIRED') {
        await store.finishRun('e1', status, { reason: 'stopped' });
        await store.releaseLock('acme/live', 'main', 'e1');
        h.running.delete(executionId('e1'));
      } else await finish('e1', p1, status);
      // WHEN it is pushed (or run) again THEN the new execution carries it and is admitted
      expect(await admit('e1-again', again)).toMatchObject({ decision: 'ADMITTED' });
      expect((await store.getLock('acme/live', 'main')).holder).toBe('e1-again');
    });

    it('deploys again after a run of it that was left RUNNING with nothing behind it', async () => {
      // GIVEN the commit's run is RUNNING, but its execution is gone (Ctrl-C, a killed process)
      await admit('e1', p1);
      h.running.delete(executionId('e1'));
      // WHEN it is pushed again THEN it is admitted, not a duplicate of the dead run
      expect(await admit('e1-again', again)).toMatchObject({ decision: 'ADMITTED' });
    });

    it('is DUPLICATE while the run of it still runs', async () => {
      await admit('e1', p1);
      expect(await admit('e1-again', again)).toMatchObject({ decision: 'DUPLICATE', carriedBy: 'e1' });
    });
  });

  it('makes a later push WAIT while the branch is held, counting each time it is told so', async () => {
    await admit('e1', p1);
    const first = await admit('e2', p2);
    const second = await admit('e2', p2);
    expect(first).toMatchObject({ decision: 'WAIT', polls: 1 });
    expect(second).toMatchObject({ decision: 'WAIT', polls: 2 });
    expect(first).not.toHaveProperty('waitSeconds');
  });

  it('admits the waiting push once the holder finishes', async () => {
    await admit('e1', p1);
    await admit('e2', p2);
    await finish('e1', p1);
    expect((await admit('e2', p2)).decision).toBe('ADMITTED');
  });

  it('supersedes a waiting push when a newer one queues behind it; the newest runs next', async () => {
    // GIVEN e1 holds the branch, e2 and e3 wait
    await admit('e1', p1);
    await admit('e2', p2);
    await admit('e3', p3);
    // WHEN e2 polls
    const res = await admit('e2', p2);
    // THEN e2 is superseded by e3 and leaves the queue
    expect(res).toMatchObject({ decision: 'SUPERSEDED', carriedBy: 'e3' });
    expect(await store.getRunRecord('e2')).toMatchObject({ status: 'SUPERSEDED', carriedBy: 'e3' });
    expect((await store.listQueue('acme/live', 'main')).map((e) => e.execution)).toEqual(['e1', 'e3']);
    await finish('e1', p1);
    expect((await admit('e3', p3)).decision).toBe('ADMITTED');
  });

  it('supersedes an older push that arrives after a newer one was admitted', async () => {
    await admit('e2', p2);
    await finish('e2', p2);
    expect(await admit('e1', p1)).toMatchObject({ decision: 'SUPERSEDED', carriedBy: 'e2' });
  });

  it('orders pushes by git, not by arrival: the newest commit wins whatever order their webhooks came in', async () => {
    // GIVEN a real repository with three successive commits, whose pushes' webhooks arrived newest first
    const repo = new TestRepo();
    try {
      const c0 = repo.commit(baseFiles(), 'base');
      const [c1, c2, c3] = [1, 2, 3].map((i) => repo.commit({ 'dev/us-east-1/app/main.tf': `v${i}` }, `push ${i}`));
      h = makeHarness(testConfig(), store, repo.dir);
      const q1 = envelope(pushOf(c0, c1!, at(30), ['dev/us-east-1/app/main.tf']));
      const q2 = envelope(pushOf(c1!, c2!, at(20), ['dev/us-east-1/app/main.tf']));
      const q3 = envelope(pushOf(c2!, c3!, at(10), ['dev/us-east-1/app/main.tf']));
      // WHEN the oldest commit's run is admitted first, and the newest polls before the middle one is known
      expect((await admit('e1', q1)).decision).toBe('ADMITTED');
      // THEN git ancestry (the chain has a gap) keeps the newest waiting, not superseded by the admitted oldest
      expect((await admit('e3', q3)).decision).toBe('WAIT');
      // AND the middle one steps aside for the newest, naming it
      expect(await admit('e2', q2)).toMatchObject({ decision: 'SUPERSEDED', carriedBy: 'e3' });
      await finish('e1', q1);
      expect(await admit('e3', q3)).toMatchObject({ decision: 'ADMITTED', generation: 2 });
      expect(await store.getRunRecord('e2')).toMatchObject({ status: 'SUPERSEDED', carriedBy: 'e3' });
    } finally {
      repo.remove();
    }
  });

  it('orders pushes by their before-after chain without asking git', async () => {
    // GIVEN three successive pushes whose webhooks arrived newest first, and no repository to ask
    const q1 = envelope(pushOf(sha(1), sha(2), at(30), ['dev/us-east-1/app/main.tf']));
    const q2 = envelope(pushOf(sha(2), sha(3), at(20), ['dev/us-east-1/app/main.tf']));
    const q3 = envelope(pushOf(sha(3), sha(4), at(10), ['dev/us-east-1/app/main.tf']));
    // WHEN they queue behind a holder of another commit and poll as they come
    const p0 = envelope(pushOf(sha(8), sha(9), at(0), ['dev/us-east-1/app/main.tf']));
    expect((await admit('e0', p0)).decision).toBe('ADMITTED');
    for (const [name, q] of [['e2', q2], ['e1', q1], ['e3', q3], ['e2', q2]] as const) await admit(name, q);
    // THEN each steps aside for the push right after it, and only the newest is left waiting
    expect((await store.listQueue('acme/live', 'main')).map((e) => e.execution).sort()).toEqual(['e0', 'e3']);
    expect(await store.getRunRecord('e1')).toMatchObject({ status: 'SUPERSEDED', carriedBy: 'e2' });
    expect(await store.getRunRecord('e2')).toMatchObject({ status: 'SUPERSEDED', carriedBy: 'e3' });
    await finish('e0', p0);
    expect((await admit('e3', q3)).decision).toBe('ADMITTED');
  });

  it('supersedes a late push of an older commit by the run that was admitted with a newer one, naming it', async () => {
    // GIVEN the newest push admitted and finished
    const q2 = envelope(pushOf(sha(2), sha(3), at(20), ['dev/us-east-1/app/main.tf']));
    const q3 = envelope(pushOf(sha(3), sha(4), at(10), ['dev/us-east-1/app/main.tf']));
    await admit('e3', q3);
    await finish('e3', q3);
    // WHEN the older commit's webhook arrives last (and says it was received later)
    // THEN its run never starts: the newer one carried it
    expect(await admit('e2', q2)).toMatchObject({ decision: 'SUPERSEDED', carriedBy: 'e3' });
  });

  it('never supersedes the run holding the branch', async () => {
    await admit('e1', p1);
    await admit('e2', p2);
    expect((await admit('e1', p1)).decision).toBe('ADMITTED');
  });

  it('recovers a stale lock held by an execution that was aborted', async () => {
    // GIVEN e1 holds the branch, then its execution is stopped without finishing
    await admit('e1', p1);
    h.running.delete(executionId('e1'));
    // WHEN the next push polls
    const res = await admit('e2', p2);
    // THEN the branch is released, e1 is recorded as aborted, e2 runs
    expect(res.decision).toBe('ADMITTED');
    expect(await store.getRunRecord('e1')).toMatchObject({ status: 'ABORTED' });
    expect((await store.listQueue('acme/live', 'main')).map((e) => e.execution)).toEqual(['e2']);
  });

  it('removes a stopped waiting execution from the queue head', async () => {
    await admit('e1', p1);
    await admit('e2', p2);
    h.running.delete(executionId('e2'));
    await finish('e1', p1);
    // e3 is newer, so e2 (dead) would have been superseded anyway; a dead head must not block e3
    expect((await admit('e3', p3)).decision).toBe('ADMITTED');
    expect(await store.getRunRecord('e2')).toMatchObject({ status: 'ABORTED' });
  });

  it('records a waiting run aborted after a newer one was admitted as ABORTED, even when its replay is superseded', async () => {
    // GIVEN e1 holds the branch and e2, e3 wait; e1 finishes and the newer e3 is admitted
    await admit('e1', p1);
    await admit('e2', p2);
    await admit('e3', p3);
    await finish('e1', p1);
    expect((await admit('e3', p3)).decision).toBe('ADMITTED');
    // WHEN e2 is stopped before its next poll, and an operator replays it
    h.running.delete(executionId('e2'));
    const replay = await admit('e2-replay-1', { ...p2, tfstep: { replayOf: 'e2' } });
    // THEN the replay is superseded by e3, and e2 is no longer left WAITING in the queue
    expect(replay).toMatchObject({ decision: 'SUPERSEDED', carriedBy: 'e3' });
    expect(await store.getRunRecord('e2')).toMatchObject({ status: 'ABORTED' });
    await finish('e3', p3);
    expect(await store.listQueue('acme/live', 'main')).toEqual([]);
  });

  it('admits a replay of a failed run carrying the same push', async () => {
    await admit('e1', p1);
    await finish('e1', p1, 'FAILED');
    const res = await admit('e1-replay-1', { ...p1, tfstep: { replayOf: 'e1' } });
    expect(res.decision).toBe('ADMITTED');
    expect((await store.getCommit('acme/live', 'main', sha(2)))?.execution).toBe('e1-replay-1');
  });

  it('treats a replay as a duplicate while the original still runs', async () => {
    await admit('e1', p1);
    expect(await admit('e1-replay-1', { ...p1, tfstep: { replayOf: 'e1' } })).toMatchObject({ decision: 'DUPLICATE', carriedBy: 'e1' });
  });

  it('deploys a commit pushed again after a newer push (a revert) instead of dropping it', async () => {
    await admit('e1', p1);
    await finish('e1', p1);
    await admit('e2', p2);
    await finish('e2', p2);
    const again = envelope(pushOf(sha(3), sha(2), at(9), undefined, 'revert'));
    expect((await admit('e4', again)).decision).toBe('ADMITTED');
  });

  it('fails when the input is not a push event', async () => {
    await expect(admit('bad', { source: 'aws.s3', detail: {} })).rejects.toThrow(/not a tfstep push event.*source/);
  });

  it('fails when the repository is not configured, or the branch does not deploy', async () => {
    const other = pushOf(sha(1), sha(2), at(1), []);
    await expect(admit('x', envelope({ ...other, repository: { fullName: 'evil/repo', cloneUrls: ['https://x/y'] } }))).rejects.toThrow(/evil\/repo is not in the config; expected one of acme\/live/);
    await expect(admit('y', envelope({ ...other, ref: 'refs/heads/dev', branch: 'dev' }))).rejects.toThrow(/branch dev of acme\/live does not deploy/);
  });
});
