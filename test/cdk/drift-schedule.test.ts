/**
 * Drift sweeps in CDK: one EventBridge Scheduler schedule per stage with `drift.schedule`,
 * starting the plan-only state machine with a sweep of that stage; none without; the synth
 * validators (cdk-nag) accept it. And the config refuses an expression Scheduler would refuse.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { StageSchema } from '../../lib/config/schema';
import { names } from '../../lib/domain/names';
import { buildExampleApp, removeTempDirs, render, writeExampleVariant } from './support';

describe('drift sweep schedules', () => {
  afterAll(removeTempDirs);

  it('GIVEN drift.schedule on prod WHEN built THEN one schedule starts a sweep of prod on the plan-only state machine, and the validators accept it', () => {
    const file = writeExampleVariant((doc) => {
      const stages = doc.stages as Record<string, Record<string, unknown>>;
      stages.prod = { ...stages.prod, drift: { schedule: 'rate(1 day)' } };
    });
    const t = Template.fromStack(buildExampleApp({ validate: true }, file).central);
    const schedules = Object.values(t.findResources('AWS::Scheduler::Schedule'));
    expect(schedules).toHaveLength(1);
    const props = schedules[0]!.Properties as { ScheduleExpression: string; State?: string; Target: { Arn: unknown; Input: string; RetryPolicy: { MaximumRetryAttempts: number } } };
    expect(props.ScheduleExpression).toBe('rate(1 day)');
    expect(JSON.parse(props.Target.Input)).toEqual({ kind: 'drift', stages: ['prod'] });
    expect(props.Target.RetryPolicy.MaximumRetryAttempts).toBe(0);
    const machines = t.findResources('AWS::StepFunctions::StateMachine', { Properties: { StateMachineName: names.planOnlyStateMachine() } });
    expect(render(props.Target.Arn)).toEqual(`<${Object.keys(machines)[0]}>`);
  });

  it('GIVEN no drift config WHEN built THEN there is no schedule, and the plan-only state machine is there', () => {
    const t = Template.fromStack(buildExampleApp().central);
    expect(Object.keys(t.findResources('AWS::Scheduler::Schedule'))).toEqual([]);
    expect(Object.keys(t.findResources('AWS::StepFunctions::StateMachine', { Properties: { StateMachineName: names.planOnlyStateMachine() } }))).toHaveLength(1);
  });

  it('fails when the schedule is not a recurring Scheduler expression, saying what is expected', () => {
    for (const ok of ['rate(1 day)', 'rate(12 hours)', 'rate(30 minutes)', 'cron(0 6 * * ? *)']) expect(StageSchema.safeParse({ drift: { schedule: ok } }).success).toBe(true);
    for (const bad of ['rate(1 days)', 'rate(2 day)', 'rate(0 days)', 'at(2026-01-01T00:00:00)', 'daily', 'cron(0 6 * * ?)']) {
      const res = StageSchema.safeParse({ drift: { schedule: bad } });
      expect({ bad, ok: res.success }).toEqual({ bad, ok: false });
    }
    expect(JSON.stringify(StageSchema.safeParse({ drift: { schedule: 'daily' } }).error?.issues)).toContain('a recurring EventBridge Scheduler expression such as \\"rate(1 day)\\"');
  });
});
