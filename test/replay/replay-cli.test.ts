import { join } from 'node:path';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  DescribeStateMachineForExecutionCommand,
  GetExecutionHistoryCommand,
  RedriveExecutionCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { runCli } from '../cli/run-cli';

const CONFIG = join(__dirname, '..', '..', 'examples', 'tfstep.yaml');
const SM = 'arn:aws:states:us-east-1:999999999999:stateMachine:tfstep-pipeline';
const EX = 'arn:aws:states:us-east-1:999999999999:execution:tfstep-pipeline:run-7';

describe('tfstep replay', () => {
  const sfn = mockClient(SFNClient);
  const dynamodb = mockClient(DynamoDBDocumentClient);
  // The audit bucket and the caller's identity (AWS itself cannot run here).
  const s3 = mockClient(S3Client);
  const sts = mockClient(STSClient);
  const OPERATOR = 'arn:aws:sts::999999999999:assumed-role/Operators/dana@example.com';
  const audited = () => s3.commandCalls(PutObjectCommand).map((c) => JSON.parse(c.args[0].input.Body as string) as { kind: string; who: string; run: string; outcome: string });

  beforeEach(() => {
    sfn.reset();
    dynamodb.reset();
    s3.reset();
    sts.reset();
    s3.on(PutObjectCommand).resolves({});
    sts.on(GetCallerIdentityCommand).resolves({ Arn: OPERATOR, Account: '999999999999', UserId: 'AROA:dana' });
    sfn.on(DescribeStateMachineForExecutionCommand).resolves({ stateMachineArn: SM, definition: '{}', name: 'tfstep-pipeline', roleArn: 'r', updateDate: new Date() });
    sfn.on(DescribeStateMachineCommand).resolves({ stateMachineArn: SM, definition: '{}', name: 'tfstep-pipeline', roleArn: 'r', type: 'STANDARD', creationDate: new Date() });
    sfn.on(StartExecutionCommand).resolves({ executionArn: `${EX}-replay-1`, startDate: new Date() });
    sfn.on(RedriveExecutionCommand).resolves({ redriveDate: new Date() });
    // No account outcome recorded as failed unless a test says so.
    dynamodb.on(QueryCommand).resolves({ Items: [] });
  });

  function execution(status: string, stopDate: Date | undefined): void {
    sfn.on(DescribeExecutionCommand, { executionArn: EX }).resolves({ executionArn: EX, stateMachineArn: SM, name: 'run-7', status: status as never, startDate: new Date(), stopDate, input: '{"source":"tfstep.git"}' });
  }

  it('starts a new execution of a finished run that no longer holds its branch, and prints JSON', async () => {
    // GIVEN a failed run whose finish released the branch (its run record exists, the lock is free)
    execution('FAILED', new Date());
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [
        { id: 9, previousEventId: 8, timestamp: new Date(), type: 'ExecutionFailed', executionFailedEventDetails: { error: 'PipelineFailed' } },
        { id: 8, previousEventId: 7, timestamp: new Date(), type: 'FailStateEntered', stateEnteredEventDetails: { name: 'Failed' } },
      ],
    });
    dynamodb.on(GetCommand, { Key: { pk: 'RUN#run-7', sk: 'RUN' } }).resolves({ Item: { pk: 'RUN#run-7', sk: 'RUN', repository: 'acme/live', branch: 'main' } });
    dynamodb.on(GetCommand, { Key: { pk: 'QUEUE#acme/live#main', sk: 'LOCK' } }).resolves({});
    // WHEN replayed
    const res = await runCli(['replay', 'run-7', '--config', CONFIG, '--json']);
    // THEN a linked execution starts with the original input and the replay marker
    expect(res.code).toBe(0);
    const out = JSON.parse(res.stdout);
    expect(out).toMatchObject({ action: 'start', newExecutionName: 'run-7-replay-1', startedExecutionArn: `${EX}-replay-1`, dryRun: false });
    expect(JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input.input!)).toEqual({ source: 'tfstep.git', tfstep: { replayOf: 'run-7' } });
    // AND the replay is in the audit trail, with who started it
    expect(audited()).toEqual([expect.objectContaining({ kind: 'redrive', who: OPERATOR, run: 'run-7', outcome: 'start' })]);
  });

  it('redrives an aborted run that still holds its branch; --dry-run changes nothing', async () => {
    execution('ABORTED', new Date());
    dynamodb.on(GetCommand, { Key: { pk: 'RUN#run-7', sk: 'RUN' } }).resolves({ Item: { pk: 'RUN#run-7', sk: 'RUN', repository: 'acme/live', branch: 'main' } });
    dynamodb.on(GetCommand, { Key: { pk: 'QUEUE#acme/live#main', sk: 'LOCK' } }).resolves({ Item: { pk: 'QUEUE#acme/live#main', sk: 'LOCK', holder: 'run-7' } });
    const dry = await runCli(['replay', 'run-7', '--config', CONFIG, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`would redrive ${EX}`);
    expect(sfn.commandCalls(RedriveExecutionCommand)).toHaveLength(0);
    const real = await runCli(['replay', 'run-7', '--config', CONFIG]);
    expect(real.stdout).toContain(`redriven: ${EX}`);
    expect(sfn.commandCalls(RedriveExecutionCommand)).toHaveLength(1);
    // AND only the real redrive is in the audit trail
    expect(audited()).toEqual([expect.objectContaining({ kind: 'redrive', who: OPERATOR, run: 'run-7', outcome: 'redrive' })]);
  });

  it('starts an aborted run again when an account failure was caught and recorded: a redrive would not rerun it', async () => {
    execution('ABORTED', new Date());
    dynamodb.on(GetCommand, { Key: { pk: 'RUN#run-7', sk: 'RUN' } }).resolves({ Item: { pk: 'RUN#run-7', sk: 'RUN', repository: 'acme/live', branch: 'main' } });
    dynamodb.on(GetCommand, { Key: { pk: 'QUEUE#acme/live#main', sk: 'LOCK' } }).resolves({ Item: { pk: 'QUEUE#acme/live#main', sk: 'LOCK', holder: 'run-7' } });
    dynamodb.on(QueryCommand).resolves({ Items: [{ pk: 'RUN#run-7', sk: 'OUTCOME#dev#dev-a', outcome: { account: 'dev-a', ok: false, phase: 'plan-and-apply', modules: [], reason: 'apply failed' } }] });
    const res = await runCli(['replay', 'run-7', '--config', CONFIG, '--json']);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ action: 'start', newExecutionName: 'run-7-replay-1' });
    expect(JSON.parse(res.stdout).reason).toMatch(/failure of dev-a was caught/);
    expect(sfn.commandCalls(RedriveExecutionCommand)).toHaveLength(0);
  });

  it('fails with exit code 1 when the run is still running', async () => {
    execution('RUNNING', undefined);
    const res = await runCli(['replay', 'run-7', '--config', CONFIG]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('run-7 is still running');
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('fails with exit code 2 on a malformed execution name', async () => {
    const res = await runCli(['replay', 'bad name!', '--config', CONFIG]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('not an execution name or ARN');
  });
});
