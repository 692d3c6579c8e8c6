import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  DescribeStateMachineForExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  RedriveExecutionCommand,
  SFNClient,
  StartExecutionCommand,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { ReplayRefusedError } from '../../lib/replay/errors';
import { planReplay, replayExecution, replayInput, replayName } from '../../lib/replay/replay';

const sfnMock = mockClient(SFNClient);
const sfn = new SFNClient({ region: 'us-east-1' });
const SM = 'arn:aws:states:us-east-1:111111111111:stateMachine:tfstep-pipeline';
const EX = 'arn:aws:states:us-east-1:111111111111:execution:tfstep-pipeline:run-1';
const NOW = new Date('2026-11-20T12:00:00.000Z');
const INPUT = JSON.stringify({ source: 'tfstep.git', 'detail-type': 'Git Push', detail: { after: 'b'.repeat(40) } });

/** How the history of the execution ends: in a Fail state, or with an error raised by a state. */
type End = { failState: string; error: string } | { stateError: string } | undefined;

function historyEnding(status: string, end: End): HistoryEvent[] {
  const at = NOW;
  if (status === 'ABORTED') return [{ id: 30, previousEventId: 29, timestamp: at, type: 'ExecutionAborted', executionAbortedEventDetails: {} }];
  if (status === 'TIMED_OUT') return [{ id: 30, previousEventId: 29, timestamp: at, type: 'ExecutionTimedOut', executionTimedOutEventDetails: { error: 'States.Timeout' } }];
  if (status !== 'FAILED') return [];
  if (end && 'failState' in end) {
    return [
      { id: 30, previousEventId: 29, timestamp: at, type: 'ExecutionFailed', executionFailedEventDetails: { error: end.error, cause: 'see the run' } },
      { id: 29, previousEventId: 28, timestamp: at, type: 'FailStateEntered', stateEnteredEventDetails: { name: end.failState } },
    ];
  }
  const error = end?.stateError ?? 'Lambda.ServiceException';
  return [
    { id: 30, previousEventId: 29, timestamp: at, type: 'ExecutionFailed', executionFailedEventDetails: { error, cause: 'raised by Targets' } },
    { id: 29, previousEventId: 28, timestamp: at, type: 'TaskFailed', taskFailedEventDetails: { resourceType: 'lambda', resource: 'invoke', error } },
  ];
}

function given(status: string, stoppedDaysAgo: number, opts: { definitionNow?: string; redriveStatus?: string; end?: End; startedDaysAgo?: number } = {}): void {
  sfnMock.on(GetExecutionHistoryCommand, { executionArn: EX }).resolves({ events: historyEnding(status, opts.end) });
  sfnMock.on(DescribeExecutionCommand, { executionArn: EX }).resolves({
    executionArn: EX,
    stateMachineArn: SM,
    name: 'run-1',
    status: status as never,
    startDate: new Date(NOW.getTime() - (opts.startedDaysAgo ?? stoppedDaysAgo + 1) * 86_400_000),
    stopDate: status === 'RUNNING' ? undefined : new Date(NOW.getTime() - stoppedDaysAgo * 86_400_000),
    input: INPUT,
    redriveStatus: opts.redriveStatus as never,
  });
  sfnMock.on(DescribeStateMachineForExecutionCommand, { executionArn: EX }).resolves({ stateMachineArn: SM, definition: '{"v":1}', name: 'tfstep-pipeline', roleArn: 'r', updateDate: NOW });
  sfnMock.on(DescribeStateMachineCommand, { stateMachineArn: SM }).resolves({ stateMachineArn: SM, definition: opts.definitionNow ?? '{"v":1}', name: 'tfstep-pipeline', roleArn: 'r', type: 'STANDARD', creationDate: NOW });
  sfnMock.on(RedriveExecutionCommand).resolves({ redriveDate: NOW });
  sfnMock.on(StartExecutionCommand).resolves({ executionArn: `${EX}-replay-1`, startDate: NOW });
}

beforeEach(() => sfnMock.reset());

describe('replayExecution', () => {
  it('redrives an eligible execution: failed, recent, same definition', async () => {
    // GIVEN a run that failed 2 days ago under the current definition
    given('FAILED', 2);
    // WHEN replayed by name
    const res = await replayExecution(sfn, { execution: 'run-1', stateMachineArn: SM, now: () => NOW });
    // THEN it is redriven, and no new execution starts
    expect(res).toMatchObject({ action: 'redrive', executionArn: EX, startedExecutionArn: EX, dryRun: false });
    expect(sfnMock.commandCalls(RedriveExecutionCommand)[0]!.args[0].input).toEqual({ executionArn: EX });
    expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('starts a new execution with the original input when it stopped more than 14 days ago', async () => {
    given('TIMED_OUT', 15);
    const res = await replayExecution(sfn, { execution: EX, stateMachineArn: SM, now: () => NOW });
    expect(res.action).toBe('start');
    expect(res.reason).toMatch(/15 days ago, past the 14-day redrive window/);
    const start = sfnMock.commandCalls(StartExecutionCommand)[0]!.args[0].input;
    expect(start.name).toBe('run-1-replay-1');
    expect(start.stateMachineArn).toBe(SM);
    expect(JSON.parse(start.input!)).toEqual({ ...JSON.parse(INPUT), tfstep: { replayOf: 'run-1' } });
    expect(sfnMock.commandCalls(RedriveExecutionCommand)).toHaveLength(0);
  });

  it('starts a new execution when the definition changed since the run', async () => {
    given('ABORTED', 1, { definitionNow: '{"v":2}' });
    const res = await replayExecution(sfn, { execution: 'run-1', stateMachineArn: SM, now: () => NOW });
    expect(res).toMatchObject({ action: 'start', newExecutionName: 'run-1-replay-1' });
    expect(res.reason).toMatch(/definition changed/);
  });

  it('starts a new execution when Step Functions says it is not redrivable, or the run lost its branch', async () => {
    given('FAILED', 1, { redriveStatus: 'NOT_REDRIVABLE' });
    expect((await planReplay(sfn, { execution: 'run-1', stateMachineArn: SM, now: () => NOW })).action).toBe('start');
    sfnMock.reset();
    given('FAILED', 1);
    const plan = await planReplay(sfn, { execution: 'run-1', stateMachineArn: SM, now: () => NOW, holdsBranch: () => Promise.resolve(false) });
    expect(plan.action).toBe('start');
    expect(plan.reason).toMatch(/no longer holds its branch/);
  });

  it('counts on past replays whose names are taken', async () => {
    given('FAILED', 20);
    sfnMock.on(StartExecutionCommand, { name: 'run-1-replay-1' }).rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));
    sfnMock.on(StartExecutionCommand, { name: 'run-1-replay-2' }).resolves({ executionArn: `${EX}-replay-2`, startDate: NOW });
    const res = await replayExecution(sfn, { execution: 'run-1', stateMachineArn: SM, now: () => NOW });
    expect(res).toMatchObject({ newExecutionName: 'run-1-replay-2', startedExecutionArn: `${EX}-replay-2` });
  });

  it('changes nothing with dry run', async () => {
    given('FAILED', 20);
    const res = await replayExecution(sfn, { execution: 'run-1', stateMachineArn: SM, now: () => NOW, dryRun: true });
    expect(res).toMatchObject({ action: 'start', dryRun: true, newExecutionName: 'run-1-replay-1' });
    expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(0);
    expect(sfnMock.commandCalls(RedriveExecutionCommand)).toHaveLength(0);
  });

  it.each([
    ['still running', 'RUNNING', /still running/],
    ['succeeded', 'SUCCEEDED', /succeeded; there is nothing to replay/],
  ])('fails when the execution %s', async (_n, status, message) => {
    given(status, 0);
    await expect(replayExecution(sfn, { execution: 'run-1', stateMachineArn: SM, now: () => NOW })).rejects.toThrow(ReplayRefusedError);
    await expect(replayExecution(sfn, { execution: 'run-1', stateMachineArn: SM, now: () => NOW })).rejects.toThrow(message);
    expect(sfnMock.commandCalls(RedriveExecutionCommand)).toHaveLength(0);
    expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('fails when the execution does not exist or the name is malformed', async () => {
    sfnMock.on(DescribeExecutionCommand).rejects(new ExecutionDoesNotExist({ message: 'nope', $metadata: {} }));
    await expect(replayExecution(sfn, { execution: 'ghost', stateMachineArn: SM })).rejects.toThrow(/execution .*:ghost does not exist/);
    await expect(replayExecution(sfn, { execution: 'bad name!', stateMachineArn: SM })).rejects.toThrow(/not an execution name or ARN/);
  });
});

describe('redrive or restart, for every way a run can end', () => {
  const HOLDS = () => Promise.resolve(true);
  const NONE_CAUGHT = () => Promise.resolve([] as string[]);
  type Case = [string, string, number, Parameters<typeof given>[2], { holds?: boolean; caught?: string[] }, 'redrive' | 'start', RegExp];
  const cases: Case[] = [
    ['failed in its Fail state Failed (an account or stage failed)', 'FAILED', 1, { end: { failState: 'Failed', error: 'PipelineFailed' } }, { holds: false }, 'start', /Fail state Failed \(PipelineFailed\); a redrive re-enters that state and fails again/],
    ['was rejected (Fail state Rejected)', 'FAILED', 1, { end: { failState: 'Rejected', error: 'Rejected' } }, { holds: false }, 'start', /Fail state Rejected/],
    ['expired waiting for approval (Fail state Expired)', 'FAILED', 1, { end: { failState: 'Expired', error: 'ApprovalExpired' } }, { holds: false }, 'start', /Fail state Expired/],
    ['failed in FinishFailed, still holding its branch', 'FAILED', 1, { end: { failState: 'FinishFailed', error: 'FinishFailed' } }, { holds: true }, 'start', /Fail state FinishFailed/],
    ['failed with States.DataLimitExceeded, which no Catch catches', 'FAILED', 1, { end: { stateError: 'States.DataLimitExceeded' } }, { holds: true }, 'start', /States.DataLimitExceeded, which the same state and input raise again/],
    ['failed with States.Runtime', 'FAILED', 1, { end: { stateError: 'States.Runtime' } }, { holds: true }, 'start', /States.Runtime/],
    ['failed with an uncaught service error outside any Fail state, holding its branch', 'FAILED', 1, { end: { stateError: 'Lambda.ServiceException' } }, { holds: true }, 'redrive', /redrive it/],
    ['was aborted while holding its branch, nothing caught', 'ABORTED', 1, {}, { holds: true }, 'redrive', /ABORTED less than 14 days ago/],
    ['was aborted after an account failure was caught', 'ABORTED', 1, {}, { holds: true, caught: ['dev-a'] }, 'start', /failure of dev-a was caught and recorded, so a redrive would not run it again/],
    ['was aborted and its branch was released', 'ABORTED', 1, {}, { holds: false }, 'start', /no longer holds its branch/],
    ['timed out 3 days ago, holding its branch (a redrive resets the timeout)', 'TIMED_OUT', 3, {}, { holds: true }, 'redrive', /TIMED_OUT/],
    ['timed out 15 days ago', 'TIMED_OUT', 15, {}, { holds: true }, 'start', /past the 14-day redrive window/],
    ['was opened more than a year ago', 'TIMED_OUT', 2, { startedDaysAgo: 400 }, { holds: true }, 'start', /more than 365 days ago/],
    ['reached the history limit (not redrivable)', 'FAILED', 1, { redriveStatus: 'NOT_REDRIVABLE', end: { stateError: 'States.Runtime' } }, { holds: true }, 'start', /not redrivable/],
    ['ran under a definition that changed since', 'ABORTED', 1, { definitionNow: '{"v":2}' }, { holds: true }, 'start', /definition changed/],
  ];

  it.each(cases)('a run that %s', async (_what, status, daysAgo, givenOpts, branch, action, reason) => {
    given(status, daysAgo, givenOpts);
    const res = await replayExecution(sfn, {
      execution: 'run-1',
      stateMachineArn: SM,
      now: () => NOW,
      holdsBranch: branch.holds === undefined ? HOLDS : () => Promise.resolve(branch.holds!),
      caughtFailures: branch.caught ? () => Promise.resolve(branch.caught!) : NONE_CAUGHT,
    });
    expect(res.action).toBe(action);
    expect(res.reason).toMatch(reason);
    expect(sfnMock.commandCalls(RedriveExecutionCommand)).toHaveLength(action === 'redrive' ? 1 : 0);
    expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(action === 'start' ? 1 : 0);
  });

  it('refuses a run that is still running, pending a redrive, or succeeded', async () => {
    for (const status of ['RUNNING', 'PENDING_REDRIVE', 'SUCCEEDED']) {
      sfnMock.reset();
      given(status, 0);
      await expect(replayExecution(sfn, { execution: 'run-1', stateMachineArn: SM, now: () => NOW })).rejects.toThrow(ReplayRefusedError);
      expect(sfnMock.commandCalls(RedriveExecutionCommand)).toHaveLength(0);
      expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(0);
    }
  });
});

describe('replayName and replayInput', () => {
  it('links back to the original, stays within 80 characters and counts on from a replay', () => {
    expect(replayName('abc', 1)).toBe('abc-replay-1');
    expect(replayName('abc-replay-1', 2)).toBe('abc-replay-2');
    const long = 'x'.repeat(80);
    expect(replayName(long, 12)).toHaveLength(80);
    expect(replayName(long, 12).endsWith('-replay-12')).toBe(true);
  });

  it('replaces an earlier replay marker', () => {
    expect(JSON.parse(replayInput(JSON.stringify({ a: 1, tfstep: { replayOf: 'old' } }), 'new'))).toEqual({ a: 1, tfstep: { replayOf: 'new' } });
  });

  it('fails when the original input is not a JSON object', () => {
    expect(() => replayInput('[1]', 'x')).toThrow(/not a JSON object/);
    expect(() => replayInput(undefined, 'x')).toThrow(/not JSON/);
  });
});
