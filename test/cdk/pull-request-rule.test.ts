/**
 * Pull request plans in CDK: a rule on the tfstep bus sends `Git Pull Request` events to the
 * pipeline function, which may start plan-only executions and stop them (and nothing else of
 * Step Functions beyond what it had), knows the plan-only state machine's ARN, and the synth
 * validators (cdk-nag) accept it.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { FUNCTION_ENV } from '../../lib/domain/function-env';
import { names } from '../../lib/domain/names';
import { buildExampleApp, removeTempDirs, render } from './support';

type Statement = { Sid?: string; Action: string | string[]; Resource: unknown };

describe('pull request rule', () => {
  afterAll(removeTempDirs);

  it('GIVEN the example config WHEN built with the validators THEN pull request events reach the pipeline function, which may start and stop plan-only runs only', () => {
    const app = buildExampleApp({ validate: true });
    const t = Template.fromStack(app.central);
    // The rule: on the tfstep bus, the pull request detail-type, to the pipeline function, with a dead-letter queue.
    const rules = Object.values(t.findResources('AWS::Events::Rule', { Properties: { EventPattern: { 'detail-type': ['Git Pull Request'] } } }));
    expect(rules).toHaveLength(1);
    const rule = rules[0]!.Properties as { EventBusName: unknown; EventPattern: { source: string[] }; Targets: { Arn: unknown; DeadLetterConfig?: unknown; RetryPolicy: { MaximumEventAgeInSeconds: number } }[] };
    expect(rule.EventPattern.source).toEqual(['tfstep.git']);
    expect(render(rule.EventBusName)).toBe(render(app.central.resolve(app.central.eventBus.eventBusName)));
    expect(rule.Targets).toHaveLength(1);
    expect(render(rule.Targets[0]!.Arn)).toBe(render(app.central.resolve(app.central.pipelineFunction.function.functionArn)));
    expect(rule.Targets[0]!.DeadLetterConfig).toBeDefined();
    expect(rule.Targets[0]!.RetryPolicy.MaximumEventAgeInSeconds).toBe(3600);

    // The function knows the plan-only state machine.
    const fn = t.toJSON().Resources[app.central.getLogicalId(app.central.pipelineFunction.function.node.defaultChild as never)] as { Properties: { Environment: { Variables: Record<string, unknown> } } };
    expect(render(fn.Properties.Environment.Variables[FUNCTION_ENV.planOnlyStateMachineArn])).toContain(`:stateMachine:${names.planOnlyStateMachine()}`);

    // Its role: StartExecution on the plan-only state machine, StopExecution on its executions, nothing wider.
    const roleRef = app.central.getLogicalId(app.central.pipelineFunction.role.node.defaultChild as never);
    const policies = Object.values(t.findResources('AWS::IAM::Policy')).filter((p) => JSON.stringify((p.Properties as { Roles: unknown }).Roles).includes(roleRef));
    const statements = policies.flatMap((p) => (p.Properties as { PolicyDocument: { Statement: Statement[] } }).PolicyDocument.Statement);
    const states = statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('states:')));
    const bySid = new Map(states.map((s) => [s.Sid, { actions: [s.Action].flat(), resource: render(s.Resource) }]));
    expect(bySid.get('StartPullRequestPlans')).toEqual({ actions: ['states:StartExecution'], resource: expect.stringMatching(new RegExp(`:stateMachine:${names.planOnlyStateMachine()}$`)) });
    expect(bySid.get('StopPullRequestPlans')).toEqual({ actions: ['states:StopExecution'], resource: expect.stringMatching(new RegExp(`:execution:${names.planOnlyStateMachine()}:\\*$`)) });
    // The execution status rule forwards plan-only executions too, so a run that fails before its finish step fails its check run.
    const statusRules = Object.values(t.findResources('AWS::Events::Rule', { Properties: { EventPattern: { source: ['aws.states'] } } }));
    expect(statusRules).toHaveLength(1);
    const arns = render((statusRules[0]!.Properties as { EventPattern: { detail: { stateMachineArn: unknown[] } } }).EventPattern.detail.stateMachineArn) as unknown[];
    const planOnlyId = Object.keys(t.findResources('AWS::StepFunctions::StateMachine', { Properties: { StateMachineName: names.planOnlyStateMachine() } }))[0];
    expect(arns).toHaveLength(2);
    expect(arns).toContainEqual(`<${planOnlyId}>`);
    // StartExecution and StopExecution appear nowhere else in the function's role.
    const elsewhere = states.filter((s) => !['StartPullRequestPlans', 'StopPullRequestPlans'].includes(s.Sid ?? '')).flatMap((s) => [s.Action].flat());
    expect(elsewhere).not.toContain('states:StartExecution');
    expect(elsewhere).not.toContain('states:StopExecution');
  });
});
