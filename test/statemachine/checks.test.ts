import { readPipelineDefinition, renderDefinition } from '../../lib/statemachine/definition';
import { checkPipelineDefinition, checkPipelineText } from '../../lib/statemachine/checks';
import { TEST_SUBSTITUTIONS } from '../fixtures/statemachine';

const RAW = readPipelineDefinition();
const machine = () => JSON.parse(renderDefinition(RAW, { ...TEST_SUBSTITUTIONS }));

describe('checkPipelineDefinition', () => {
  it('finds nothing wrong with the shipped definition', () => {
    expect(checkPipelineDefinition(machine())).toEqual([]);
    expect(checkPipelineText(RAW)).toEqual([]);
  });

  it('fails when a runner task retries a Terraform failure', () => {
    // GIVEN the runner task retrying States.TaskFailed
    const m = machine();
    m.States.Accounts.ItemProcessor.States.RunTerraform.Retry.push({ ErrorEquals: ['States.TaskFailed'], BackoffRate: 2 });
    // WHEN checked THEN the problem is named
    expect(checkPipelineDefinition(m)).toEqual(['task RunTerraform retries States.TaskFailed: a Terraform failure must never be retried']);
  });

  it('fails when a task runs without the launcher role, a state is unreachable and a target is missing', () => {
    const m = machine();
    delete m.States.Accounts.ItemProcessor.States.RunTerraform.Credentials;
    m.States.Orphan = { Type: 'Pass', End: true };
    m.States.Finish.Next = 'Nowhere';
    const problems = checkPipelineDefinition(m);
    expect(problems).toEqual(
      expect.arrayContaining([
        'task RunTerraform does not run through Credentials.RoleArn.$ = $.account.launcherRoleArn',
        'state Orphan is never reached',
        'state Finish points at Nowhere, which does not exist',
      ]),
    );
  });

  it('fails when the module list goes back into the overrides, where RunTask allows 8,192 characters', () => {
    // GIVEN the runner task passing its modules as an override again
    const m = machine();
    m.States.Accounts.ItemProcessor.States.RunTerraform.Parameters.Overrides.ContainerOverrides[0].Environment.push({ Name: 'TFSTEP_MODULES', 'Value.$': 'States.JsonToString($.account.modules)' });
    // WHEN checked THEN both the variable and the serialisation are named
    expect(checkPipelineDefinition(m)).toEqual([
      'task RunTerraform passes TFSTEP_MODULES in its overrides: lists that grow with the modules go in the manifest (RunTask allows 8,192 characters of overrides)',
      'task RunTerraform serialises TFSTEP_MODULES into its overrides with States.JsonToString: its size would grow with its data',
    ]);
  });

  it('fails when the runner task does not name the item\'s manifest', () => {
    const m = machine();
    const env = m.States.Accounts.ItemProcessor.States.RunTerraform.Parameters.Overrides.ContainerOverrides[0].Environment as { Name: string }[];
    m.States.Accounts.ItemProcessor.States.RunTerraform.Parameters.Overrides.ContainerOverrides[0].Environment = env.filter((e) => e.Name !== 'TFSTEP_MANIFEST_SHA256');
    expect(checkPipelineDefinition(m)).toEqual(['task RunTerraform does not pass TFSTEP_MANIFEST_SHA256 to the runner']);
  });

  it('fails when another state waits for a task token', () => {
    const m = machine();
    m.States.Targets.Resource = 'arn:aws:states:::lambda:invoke.waitForTaskToken';
    expect(checkPipelineDefinition(m)).toContain('the states waiting for a task token are RequestApproval, Targets, WaitForTurn; expected RequestApproval and WaitForTurn');
  });

  it('fails when an account Map would put the stage through the execution state or its children could not outlast five minutes', () => {
    // GIVEN the account Map inline over an items path, then with Express children, then keeping its results
    const inline = machine();
    const map = inline.States.Accounts;
    map.ItemProcessor.ProcessorConfig = { Mode: 'INLINE' };
    delete map.ItemReader;
    map.ItemsPath = '$.current.stage.accounts';
    const express = machine();
    express.States.Accounts.ItemProcessor.ProcessorConfig.ExecutionType = 'EXPRESS';
    const keeping = machine();
    keeping.States.Accounts.ResultPath = '$.current.results';
    // WHEN checked THEN each problem is named
    expect(checkPipelineDefinition(inline)).toEqual([
      "Map Accounts is not a Distributed Map: a large stage would put every account in the execution's history and state",
      'Map Accounts does not run its children as STANDARD executions: an EXPRESS child ends after five minutes',
      'Map Accounts does not read its items from S3 with an ItemReader: the accounts would pass through the 256 KiB state',
    ]);
    expect(checkPipelineDefinition(express)).toEqual(['Map Accounts does not run its children as STANDARD executions: an EXPRESS child ends after five minutes']);
    expect(checkPipelineDefinition(keeping)).toEqual([
      'Map Accounts does not write its results to S3 and discard them (ResultWriter, ResultPath null): they would pass through the 256 KiB state',
    ]);
  });

  it('fails when a path reaches the runner task without the lease check', () => {
    // GIVEN the retry loop going straight back to the runner task, and an iteration that starts with it
    const retry = machine();
    retry.States.Accounts.ItemProcessor.States.SetAttempt.Next = 'RunTerraform';
    const start = machine();
    start.States.Accounts.ItemProcessor.StartAt = 'RunTerraform';
    // WHEN checked THEN each is named
    expect(checkPipelineDefinition(retry)).toEqual(['state SetAttempt starts the runner task without the check-lease step']);
    expect(checkPipelineDefinition(start)).toEqual(['Map Accounts does not start each iteration with the check-lease step']);
  });

  it('fails on literal ARNs in the raw text', () => {
    expect(checkPipelineText('{"Resource":"arn:aws:lambda:us-east-1:123456789012:function:x"}')).toHaveLength(2);
  });
});
