import { join } from 'node:path';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  DescribeStateMachineForExecutionCommand,
  RedriveExecutionCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { runCli } from '../cli/run-cli';

const CONFIG = join(__dirname, '..', '..', 'examples', 'tfstep.yaml');
const SM = 'arn:aws:states:us-east-1:999999999999:stateMachine:tfstep-pipeline';
const EX = 'arn:aws:states:us-east-1:999999999999:execution:tfstep-pipeline:run-7';

describe('tfstep replay', () => {
  const sfn = mockClient(SFNClient);
  const dynamodb = mockClient(DynamoDBDocumentClient);

  beforeEach(() => {
    sfn.reset();
    dynamodb.reset();
    sfn.on(DescribeStateMachineForExecutionCommand).resolves({ stateMachineArn: SM, definition: '{}', name: 'tfstep-pipeline', roleArn: 'r', updateDate: new Date() });
    sfn.on(DescribeStateMachineCommand).resolves({ stateMachineArn: SM, definition: '{}', name: 'tfstep-pipeline', roleArn: 'r', type: 'STANDARD', creationDate: new Date() });
    sfn.on(StartExecutionCommand).resolves({ executionArn: `${EX}-replay-1`, startDate: new Date() });
    sfn.on(RedriveExecutionCommand).resolves({ redriveDate: new Date() });
  });

  function execution(status: string, stopDate: Date | undefined): void {
    sfn.on(DescribeExecutionCommand, { executionArn: EX }).resolves({ executionArn: EX, stateMachineArn: SM, name: 'run-7', status: status as never, startDate: new Date(), stopDate, input: '{"source":"tfstep.git"}' });
  }

  it('starts a new execution of a finished run that no longer holds its branch, and prints JSON', async () => {
    // GIVEN a failed run whose finish released the branch (its run record exists, the lock is free)
    execution('FAILED', new Date());
    dynamodb.on(GetCommand, { Key: { pk: 'RUN#run-7', sk: 'RUN' } }).resolves({ Item: { pk: 'RUN#run-7', sk: 'RUN', repository: 'acme/live', branch: 'main' } });
    dynamodb.on(GetCommand, { Key: { pk: 'QUEUE#acme/live#main', sk: 'LOCK' } }).resolves({});
    // WHEN replayed
    const res = await runCli(['replay', 'run-7', '--config', CONFIG, '--json']);
    // THEN a linked execution starts with the original input and the replay marker
    expect(res.code).toBe(0);
    const out = JSON.parse(res.stdout);
    expect(out).toMatchObject({ action: 'start', newExecutionName: 'run-7-replay-1', startedExecutionArn: `${EX}-replay-1`, dryRun: false });
    expect(JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input.input!)).toEqual({ source: 'tfstep.git', tfstep: { replayOf: 'run-7' } });
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
