/**
 * The local SendTaskSuccess/SendTaskFailure.
 */
import { TaskGoneError } from '../../lib/approval/errors';
import { LocalTaskTokens, type LocalTimers } from '../../lib/local/engine/task-tokens';

/** Hand-driven time: `advance` fires what is due, in order. */
function manualTimers(): LocalTimers & { advance(ms: number): void } {
  let now = 0;
  let timers: { at: number; fire: () => void; live: boolean }[] = [];
  return {
    now: () => now,
    schedule(ms, fire) {
      const t = { at: now + ms, fire, live: true };
      timers.push(t);
      return () => {
        t.live = false;
      };
    },
    advance(ms) {
      const end = now + ms;
      for (;;) {
        const due = timers.filter((t) => t.live && t.at <= end).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        now = due.at;
        due.live = false;
        timers = timers.filter((t) => t.live);
        due.fire();
      }
      now = end;
    },
  };
}

describe('LocalTaskTokens', () => {
  it('resolves a waiting task with the output sent for its token', async () => {
    // GIVEN a task waiting on a fresh token
    const tokens = new LocalTaskTokens();
    const token = tokens.issue();
    const waiting = tokens.wait(token, 60_000);
    // WHEN success is sent
    await tokens.sendSuccess(token, { approvalId: 'a1', approvers: ['auto'], comments: [], items: [] });
    // THEN the task gets that output and no longer waits
    await expect(waiting).resolves.toEqual({ approvalId: 'a1', approvers: ['auto'], comments: [], items: [] });
    expect(tokens.isWaiting(token)).toBe(false);
  });

  it('fails the waiting task with the error name the Catch matches', async () => {
    // GIVEN a waiting task
    const tokens = new LocalTaskTokens();
    const token = tokens.issue();
    const waiting = tokens.wait(token, 60_000);
    // WHEN failure "Rejected" is sent
    await tokens.sendFailure(token, 'Rejected', 'Rejected by alice@example.com (via local): no');
    // THEN the task fails with name Rejected and the cause as message
    await expect(waiting).rejects.toMatchObject({ name: 'Rejected', message: 'Rejected by alice@example.com (via local): no' });
  });

  it('fails with States.Timeout when nobody answers in time, and a later answer is refused as gone', async () => {
    // GIVEN a task waiting 50 ms
    const tokens = new LocalTaskTokens();
    const token = tokens.issue();
    // WHEN the time passes
    await expect(tokens.wait(token, 50)).rejects.toMatchObject({ name: 'States.Timeout' });
    // THEN an approval arriving afterwards is refused: the step no longer waits
    await expect(tokens.sendSuccess(token, {})).rejects.toBeInstanceOf(TaskGoneError);
  });

  it('fails when a token is answered twice or was never issued', async () => {
    // GIVEN a task already answered
    const tokens = new LocalTaskTokens();
    const token = tokens.issue();
    const waiting = tokens.wait(token, 60_000);
    await tokens.sendSuccess(token, { ok: true });
    await waiting;
    // WHEN answered again, or with a forged token THEN both are refused
    await expect(tokens.sendFailure(token, 'Rejected', 'late')).rejects.toBeInstanceOf(TaskGoneError);
    await expect(tokens.sendSuccess('local-forged', {})).rejects.toBeInstanceOf(TaskGoneError);
  });

  it('fails with States.HeartbeatTimeout when no heartbeat comes within HeartbeatSeconds, before the timeout', async () => {
    // GIVEN a wait of 30 days with a 12-hour heartbeat, on hand-driven time
    const timers = manualTimers();
    const tokens = new LocalTaskTokens(timers);
    const token = tokens.issue();
    const waiting = tokens.wait(token, 30 * 86400_000, undefined, 12 * 3600_000);
    const settled = jest.fn();
    waiting.then(settled, settled);
    // WHEN 11 hours pass THEN it still waits
    timers.advance(11 * 3600_000);
    await Promise.resolve();
    expect(settled).not.toHaveBeenCalled();
    // WHEN a heartbeat comes and 11 more hours pass THEN it still waits (the interval started again)
    await tokens.sendHeartbeat(token);
    timers.advance(11 * 3600_000);
    await Promise.resolve();
    expect(tokens.isWaiting(token)).toBe(true);
    // WHEN 12 hours pass without one THEN the state fails with the error the definition catches
    timers.advance(3600_000);
    await expect(waiting).rejects.toMatchObject({ name: 'States.HeartbeatTimeout' });
    expect(tokens.isWaiting(token)).toBe(false);
  });

  it('fails with States.Timeout when the timeout comes before the heartbeat would', async () => {
    const timers = manualTimers();
    const tokens = new LocalTaskTokens(timers);
    const token = tokens.issue();
    const waiting = tokens.wait(token, 1000, undefined, 5000);
    timers.advance(1000);
    await expect(waiting).rejects.toMatchObject({ name: 'States.Timeout' });
  });

  it('answers false through the pipeline callback for a token nobody waits on any more', async () => {
    // GIVEN one waiting token and one that timed out
    const timers = manualTimers();
    const tokens = new LocalTaskTokens(timers);
    const live = tokens.issue();
    const stale = tokens.issue();
    const waiting = tokens.wait(live, 60_000);
    const timedOut = tokens.wait(stale, 10);
    timers.advance(10);
    await expect(timedOut).rejects.toMatchObject({ name: 'States.Timeout' });
    // WHEN the pipeline function wakes both THEN only the live one is sent, as SendTaskSuccess would
    await expect(tokens.callback().sendSuccess(live, { woken: true, by: 'e1' })).resolves.toBe(true);
    await expect(tokens.callback().sendSuccess(stale, { woken: true, by: 'e1' })).resolves.toBe(false);
    await expect(waiting).resolves.toEqual({ woken: true, by: 'e1' });
  });

  it('stops listening to the execution once a wait is settled, so a run that waits many times adds no listeners', async () => {
    const controller = new AbortController();
    const tokens = new LocalTaskTokens();
    const added = jest.spyOn(controller.signal, 'addEventListener');
    const removed = jest.spyOn(controller.signal, 'removeEventListener');
    for (let i = 0; i < 20; i++) {
      const token = tokens.issue();
      const waiting = tokens.wait(token, 60_000, controller.signal);
      await tokens.sendSuccess(token, {});
      await waiting;
    }
    expect(added).toHaveBeenCalledTimes(20);
    expect(removed).toHaveBeenCalledTimes(20);
  });

  it('issues a different token for every wait', () => {
    // GIVEN one token source WHEN many tokens are issued THEN none repeats
    const tokens = new LocalTaskTokens();
    const issued = new Set(Array.from({ length: 100 }, () => tokens.issue()));
    expect(issued.size).toBe(100);
  });
});
