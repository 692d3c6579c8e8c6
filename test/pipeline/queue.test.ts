import type { AdmitResult } from '../../lib/statemachine/contracts';
import { InvalidRequestError } from '../../lib/pipeline/errors';
import type { RunStore } from '../../lib/store';
import { sha, testConfig } from '../fixtures/pipeline/config';
import { startDynalite, type DynaliteTable } from '../fixtures/pipeline/dynalite';
import { envelope, executionId, makeHarness, statusChangeEvent, pushOf, type Harness } from '../fixtures/pipeline/harness';

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
const p1 = envelope(pushOf(sha(1), sha(2), at(1), ['dev/us-east-1/app/main.tf']));
const p2 = envelope(pushOf(sha(2), sha(3), at(2), ['dev/us-east-1/app/main.tf']));

async function admit(name: string, input: unknown): Promise<AdmitResult> {
  h.running.add(executionId(name));
  return (await h.handler({ action: 'admit', input, executionId: executionId(name), executionName: name, startedAt: at(59) })) as AdmitResult;
}

const enqueue = (name: string, token: string) => h.handler({ action: 'enqueue', taskToken: token, execution: name });

const statusChange = statusChangeEvent;

describe('a queued run waits on a callback', () => {
  it('stores the task token with the run\'s queue entry while a live run holds the branch, and sends nothing', async () => {
    // GIVEN e1 holds the branch and e2 was told to WAIT
    await admit('e1', p1);
    expect((await admit('e2', p2)).decision).toBe('WAIT');
    // WHEN e2's WaitForTurn state hands over its token
    const res = await enqueue('e2', 'token-e2');
    // THEN the token waits in the queue and nobody was woken
    expect(res).toEqual({ state: 'queued' });
    expect((await store.listQueue('acme/live', 'main')).find((e) => e.execution === 'e2')?.token).toBe('token-e2');
    expect(h.sent).toEqual([]);
  });

  it('is woken by the finish of the run that held the branch, once, and is then admitted', async () => {
    // GIVEN e2 waits on its token behind e1
    await admit('e1', p1);
    await admit('e2', p2);
    await enqueue('e2', 'token-e2');
    // WHEN e1 finishes
    await h.handler({ action: 'finish', outcome: { status: 'SUCCEEDED' }, executionId: executionId('e1'), executionName: 'e1' });
    h.running.delete(executionId('e1'));
    // THEN e2's token was sent, saying who released the branch, and taken off its entry
    expect(h.sent).toEqual([{ token: 'token-e2', output: { woken: true, by: 'e1' } }]);
    expect((await store.listQueue('acme/live', 'main')).find((e) => e.execution === 'e2')?.token).toBeUndefined();
    // AND admit, run again by the woken state, admits it
    expect((await admit('e2', p2)).decision).toBe('ADMITTED');
  });

  it('answers its own token at once when the branch was released between admit and enqueue', async () => {
    // GIVEN e2 was told to WAIT, then e1 finished before e2's token was stored (nobody to wake)
    await admit('e1', p1);
    await admit('e2', p2);
    await h.handler({ action: 'finish', outcome: { status: 'SUCCEEDED' }, executionId: executionId('e1'), executionName: 'e1' });
    expect(h.sent).toEqual([]);
    // WHEN e2's WaitForTurn hands over its token
    const res = await enqueue('e2', 'token-e2');
    // THEN the token is answered at once: no wake-up can be lost in that gap
    expect(res).toEqual({ state: 'woken' });
    expect(h.sent).toEqual([{ token: 'token-e2', output: { woken: true, by: 'e2' } }]);
  });

  it('answers at once for a run that no longer waits (finished meanwhile), so admit answers from its record', async () => {
    await admit('e1', p1);
    await expect(enqueue('e1', 'token-e1')).resolves.toEqual({ state: 'woken' });
    expect(h.sent.map((s) => s.token)).toEqual(['token-e1']);
  });

  it('drops a token no state waits on any more (timed out or stopped) instead of failing the release', async () => {
    // GIVEN e2's token is stale: its state timed out and a new one has not been stored yet
    await admit('e1', p1);
    await admit('e2', p2);
    await enqueue('e2', 'token-e2');
    h.gone.add('token-e2');
    // WHEN e1 finishes
    const res = await h.handler({ action: 'finish', outcome: { status: 'SUCCEEDED' }, executionId: executionId('e1'), executionName: 'e1' });
    // THEN the finish succeeded and the stale token is gone from the queue
    expect(res).toMatchObject({ status: 'SUCCEEDED' });
    expect(h.sent).toEqual([]);
    expect((await store.listQueue('acme/live', 'main')).find((e) => e.execution === 'e2')?.token).toBeUndefined();
  });

  it('still finishes when SendTaskSuccess fails: the waiter looks again when its heartbeat times out', async () => {
    await admit('e1', p1);
    await admit('e2', p2);
    await enqueue('e2', 'token-e2');
    h.deps.tasks.sendSuccess = () => Promise.reject(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    await expect(h.handler({ action: 'finish', outcome: { status: 'SUCCEEDED' }, executionId: executionId('e1'), executionName: 'e1' })).resolves.toMatchObject({ status: 'SUCCEEDED' });
    expect((await store.getLock('acme/live', 'main')).holder).toBeUndefined();
  });
});

describe('an execution that ends without finish', () => {
  it('releases its branch, records its outcome, wakes the queue and tells people, when it was stopped holding the branch', async () => {
    // GIVEN e1 holds the branch and e2 waits on its token
    await admit('e1', p1);
    await admit('e2', p2);
    await enqueue('e2', 'token-e2');
    // WHEN e1 is stopped (it never reaches finish) and its status change arrives
    h.running.delete(executionId('e1'));
    const res = await h.handler(statusChange('e1', 'ABORTED'));
    // THEN the branch is released and e1 recorded as aborted, saying why
    expect(res).toEqual({ execution: 'e1', recorded: true, released: true, woken: ['e2'] });
    expect((await store.getLock('acme/live', 'main')).holder).toBeUndefined();
    expect(await store.getRunRecord('e1')).toMatchObject({ status: 'ABORTED', reason: expect.stringMatching(/^the execution was stopped before it could record its end/) });
    expect((await store.listQueue('acme/live', 'main')).map((e) => e.execution)).toEqual(['e2']);
    // AND e2 was woken, and people were told
    expect(h.sent).toEqual([{ token: 'token-e2', output: { woken: true, by: 'e1' } }]);
    expect(h.published).toHaveLength(1);
    expect(h.published[0]!.attributes).toMatchObject({ status: 'ABORTED', repository: 'acme/live', execution: 'e1' });
    expect((await admit('e2', p2)).decision).toBe('ADMITTED');
  });

  it('records the error no Catch could catch, such as a state over 256 KiB', async () => {
    await admit('e1', p1);
    const res = await h.handler(statusChange('e1', 'FAILED', { error: 'States.DataLimitExceeded', cause: 'The state/task returned a result with a size exceeding the maximum number of bytes service limit.' }));
    expect(res).toMatchObject({ recorded: true, released: true });
    expect((await store.getRunRecord('e1'))?.reason).toMatch(/^the execution failed before it could record its end \(States.DataLimitExceeded: The state\/task returned a result/);
  });

  it('records a timed-out execution as TIMED_OUT', async () => {
    await admit('e1', p1);
    await h.handler(statusChange('e1', 'TIMED_OUT'));
    expect(await store.getRunRecord('e1')).toMatchObject({ status: 'TIMED_OUT' });
  });

  it('changes nothing and tells nobody again for an execution that reached finish before it failed', async () => {
    // GIVEN e1 failed through finish (its Fail state ends the execution FAILED too)
    await admit('e1', p1);
    await h.handler({ action: 'finish', outcome: { status: 'FAILED', error: { Error: 'StageFailed', Cause: 'stage dev failed' } }, executionId: executionId('e1'), executionName: 'e1' });
    const before = await store.getRunRecord('e1');
    // WHEN its FAILED status change arrives
    const res = await h.handler(statusChange('e1', 'FAILED', { error: 'PipelineFailed', cause: 'stage dev failed' }));
    // THEN the record is as finish left it and no second notification went out
    expect(res).toEqual({ execution: 'e1', recorded: false, released: false, woken: [] });
    expect(await store.getRunRecord('e1')).toEqual(before);
    expect(h.published).toHaveLength(1);
  });

  it('ignores an execution without a run: a Distributed Map child, or one that failed before admit recorded it', async () => {
    const res = await h.handler(statusChange('0f6c2a52-child', 'FAILED'));
    expect(res).toEqual({ execution: '0f6c2a52-child', recorded: false, released: false, woken: [] });
    expect(h.published).toEqual([]);
  });

  it('ignores an execution of the same name under another state machine', async () => {
    await admit('e1', p1);
    const res = await h.handler(statusChange('e1', 'ABORTED', { executionArn: 'arn:aws:states:us-east-1:111111111111:execution:other-machine:e1' }));
    expect(res).toMatchObject({ recorded: false, released: false });
    expect((await store.getLock('acme/live', 'main')).holder).toBe('e1');
  });

  it('fails on an aws.states event it cannot read, saying what was wrong', async () => {
    const bad = { source: 'aws.states', 'detail-type': 'Step Functions Execution Status Change', detail: { name: 'e1' } };
    await expect(h.handler(bad)).rejects.toThrow(InvalidRequestError);
    await expect(h.handler(bad)).rejects.toThrow(/aws.states event the pipeline function cannot handle: detail.executionArn: .*expected a "Step Functions Execution Status Change" event/);
  });
});
