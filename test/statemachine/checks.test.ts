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
    // GIVEN RunPlan retrying States.TaskFailed
    const m = machine();
    m.States.PlanAccounts.ItemProcessor.States.RunPlan.Retry.push({ ErrorEquals: ['States.TaskFailed'], BackoffRate: 2 });
    // WHEN checked THEN the problem is named
    expect(checkPipelineDefinition(m)).toEqual(['task RunPlan retries States.TaskFailed: a Terraform failure must never be retried']);
  });

  it('fails when a task runs without the launcher role, a state is unreachable and a target is missing', () => {
    const m = machine();
    delete m.States.ApplyAccounts.ItemProcessor.States.RunApply.Credentials;
    m.States.Orphan = { Type: 'Pass', End: true };
    m.States.Finish.Next = 'Nowhere';
    const problems = checkPipelineDefinition(m);
    expect(problems).toEqual(
      expect.arrayContaining([
        'task RunApply does not run through Credentials.RoleArn.$ = $.account.launcherRoleArn',
        'state Orphan is never reached',
        'state Finish points at Nowhere, which does not exist',
      ]),
    );
  });

  it('fails when another state waits for a task token', () => {
    const m = machine();
    m.States.Targets.Resource = 'arn:aws:states:::lambda:invoke.waitForTaskToken';
    expect(checkPipelineDefinition(m)).toContain('the states waiting for a task token are Targets, RequestApproval; expected only RequestApproval');
  });

  it('fails when an account Map would put the stage through the execution state or its children could not outlast five minutes', () => {
    // GIVEN one Map inline over an items path, one with Express children, one keeping its results
    const m = machine();
    const inline = m.States.PlanAndApplyAccounts;
    inline.ItemProcessor.ProcessorConfig = { Mode: 'INLINE' };
    delete inline.ItemReader;
    inline.ItemsPath = '$.current.stage.accounts';
    m.States.PlanAccounts.ItemProcessor.ProcessorConfig.ExecutionType = 'EXPRESS';
    m.States.ApplyAccounts.ResultPath = '$.current.results';
    // WHEN checked THEN each problem is named
    expect(checkPipelineDefinition(m)).toEqual([
      "Map PlanAndApplyAccounts is not a Distributed Map: a large stage would put every account in the execution's history and state",
      'Map PlanAndApplyAccounts does not run its children as STANDARD executions: an EXPRESS child ends after five minutes',
      'Map PlanAndApplyAccounts does not read its items from S3 with an ItemReader: the accounts would pass through the 256 KiB state',
      'Map PlanAccounts does not run its children as STANDARD executions: an EXPRESS child ends after five minutes',
      'Map ApplyAccounts does not write its results to S3 and discard them (ResultWriter, ResultPath null): they would pass through the 256 KiB state',
    ]);
  });

  it('fails on literal ARNs in the raw text', () => {
    expect(checkPipelineText('{"Resource":"arn:aws:lambda:us-east-1:123456789012:function:x"}')).toHaveLength(2);
  });
});
