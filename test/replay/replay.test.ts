import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  DescribeStateMachineForExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  RedriveExecutionCommand,
  SFNClient,
  StartExecutionCommand,
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

function given(status: string, stoppedDaysAgo: number, opts: { definitionNow?: string; redriveStatus?: string } = {}): void {
  sfnMock.on(DescribeExecutionCommand, { executionArn: EX }).resolves({
    executionArn: EX,
    stateMachineArn: SM,
    name: 'run-1',
    status: status as never,
    startDate: new Date(NOW.getTime() - (stoppedDaysAgo + 1) * 86_400_000),
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
