/**
 * The local SendTaskSuccess/SendTaskFailure.
 */
import { TaskGoneError } from '../../lib/approval/errors';
import { LocalTaskTokens } from '../../lib/local/engine/task-tokens';

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

  it('issues a different token for every wait', () => {
    // GIVEN one token source WHEN many tokens are issued THEN none repeats
    const tokens = new LocalTaskTokens();
    const issued = new Set(Array.from({ length: 100 }, () => tokens.issue()));
    expect(issued.size).toBe(100);
  });
});
