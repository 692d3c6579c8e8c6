import { ArnFormat, Aws, CfnElement, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { PlanOnlyRequest } from '../domain/plan-only';
import { placeholdersIn, readPlanOnlyDefinition } from '../statemachine/definition';
import { InvalidPropsError } from './errors';

/** Props of {@link PlanOnlyStateMachine}. */
export interface PlanOnlyStateMachineProps {
  readonly stateMachineName: string;
  /**
   * The pipeline state machine's role: the launcher roles in the target accounts trust it by
   * name, with this state machine's ARN among the external ids they accept.
   */
  readonly role: iam.Role;
  /** The pipeline steps function (plan-only-start, -record, -finish). */
  readonly pipelineFunction: lambda.IFunction;
  readonly runnerContainerName: string;
  /** The artifacts bucket: the Map reads its items and writes its results under `<execution>/_plan-only/`. */
  readonly artifactsBucket: s3.IBucket;
  /** Drift sweep schedules, one per stage that has `drift.schedule`. @default - none */
  readonly driftSchedules?: readonly { readonly stage: string; readonly expression: string }[];
  /** @default - one month */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The plan-only state machine (statemachines/plan-only.asl.json): drift sweeps and pull-request
 * plans. It runs on the pipeline's role, so every launcher role that trusts the pipeline can
 * start its plan tasks, and it never takes a branch queue or applies. Each stage with
 * `drift.schedule` gets an EventBridge Scheduler schedule that starts a sweep of that stage
 * (templated target Step Functions StartExecution: "Using templated targets in EventBridge
 * Scheduler", EventBridge Scheduler user guide; the execution gets a generated name, which the
 * sweep uses as its id).
 */
export class PlanOnlyStateMachine extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly logGroup: logs.LogGroup;
  readonly schedules: scheduler.Schedule[] = [];

  constructor(scope: Construct, id: string, props: PlanOnlyStateMachineProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const definition = readPlanOnlyDefinition();
    const substitutions = { Partition: Aws.PARTITION, PipelineFunctionArn: props.pipelineFunction.functionArn, RunnerContainerName: props.runnerContainerName };
    const used = [...placeholdersIn(definition)].sort().join(',');
    if (used !== Object.keys(substitutions).sort().join(',')) {
      throw new InvalidPropsError(this.node.path, [`the plan-only definition uses placeholders [${used}] but CDK fills [${Object.keys(substitutions).join(', ')}]`]);
    }
    const role = props.role;
    const ownArn = stack.formatArn({ service: 'states', resource: 'stateMachine', resourceName: props.stateMachineName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    const children = stack.formatArn({ service: 'states', resource: 'execution', resourceName: `${props.stateMachineName}/*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    role.addToPolicy(new iam.PolicyStatement({ sid: 'PlanOnlyStartChildExecutions', actions: ['states:StartExecution'], resources: [ownArn] }));
    role.addToPolicy(new iam.PolicyStatement({ sid: 'PlanOnlyFollowChildExecutions', actions: ['states:DescribeExecution', 'states:StopExecution'], resources: [children] }));
    const objects = props.artifactsBucket.arnForObjects('*/_plan-only/*');
    role.addToPolicy(new iam.PolicyStatement({ sid: 'PlanOnlyReadItems', actions: ['s3:GetObject'], resources: [objects] }));
    role.addToPolicy(new iam.PolicyStatement({ sid: 'PlanOnlyWriteResults', actions: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'], resources: [objects] }));

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `/aws/vendedlogs/states/${props.stateMachineName}`,
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: props.stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromString(definition),
      definitionSubstitutions: substitutions,
      role,
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });

    const policy = role.node.tryFindChild('DefaultPolicy');
    const bucket = props.artifactsBucket.node.defaultChild;
    if (policy) {
      // cdk-nag names each finding by the resource as CloudFormation sees it.
      Validations.of(policy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:${stack.region}:${stack.account}:execution:${props.stateMachineName}/*]`,
        reason: "Child executions of the plan-only Distributed Map get generated names (<machine>/<label>:<id>); the grant covers this state machine's children only.",
      });
      if (bucket instanceof CfnElement) {
        Validations.of(policy).acknowledge({
          id: `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(bucket)}.Arn>/*/_plan-only/*]`,
          reason: "Each plan-only run keeps its item list and Map results under its own prefix (<execution>/_plan-only/); runners cannot write there.",
        });
      }
    }

    for (const { stage, expression } of props.driftSchedules ?? []) {
      const input: PlanOnlyRequest = { kind: 'drift', stages: [stage] };
      this.schedules.push(
        new scheduler.Schedule(this, `DriftSweep-${stage}`, {
          description: `tfstep drift sweep of stage ${stage}`,
          schedule: scheduler.ScheduleExpression.expression(expression),
          target: new targets.StepFunctionsStartExecution(this.stateMachine, {
            input: scheduler.ScheduleTargetInput.fromObject(input),
            // A missed sweep is made up by the next one: no retries that could overlap it.
            retryAttempts: 0,
          }),
        }),
      );
    }
  }
}
