import { Aws, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { PIPELINE_PLACEHOLDERS, placeholdersIn, readPipelineDefinition, type PipelineSubstitutions } from '../statemachine/definition';
import { InvalidPropsError } from './errors';

/** Props of {@link PipelineStateMachine}. */
export interface PipelineStateMachineProps {
  readonly stateMachineName: string;
  /** Name of the state machine's role: launcher roles in other accounts trust it by this name. */
  readonly roleName: string;
  /** The pipeline steps function (admit, targets, record, gates, finish). */
  readonly pipelineFunction: lambda.IFunction;
  /** The approval function (request step, `.waitForTaskToken`). */
  readonly approvalFunction: lambda.IFunction;
  /** Name of the runner container in every account's task definitions. */
  readonly runnerContainerName: string;
  /** Launcher role ARNs in the target accounts; they may not exist yet. */
  readonly launcherRoleArns: readonly string[];
  /** @default - the definition shipped in statemachines/pipeline.asl.json */
  readonly definitionText?: string;
  /** @default - one month */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The pipeline state machine, rendered from the shipped ASL file with CDK substitutions. Raw
 * ASL gets no inferred IAM, so every permission the definition needs is granted here, next to
 * the substitution that names its resource.
 */
export class PipelineStateMachine extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  /** The substitutions handed to CloudFormation, for tests and the local mode's parity checks. */
  readonly substitutions: PipelineSubstitutions;

  constructor(scope: Construct, id: string, props: PipelineStateMachineProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const definition = props.definitionText ?? readPipelineDefinition();
    this.substitutions = {
      Partition: Aws.PARTITION,
      PipelineFunctionArn: props.pipelineFunction.functionArn,
      ApprovalFunctionArn: props.approvalFunction.functionArn,
      RunnerContainerName: props.runnerContainerName,
    };
    const used = [...placeholdersIn(definition)].sort();
    const expected = [...PIPELINE_PLACEHOLDERS].sort();
    if (used.join(',') !== expected.join(',')) {
      throw new InvalidPropsError(this.node.path, [`the pipeline definition uses placeholders [${used.join(', ')}] but CDK fills [${expected.join(', ')}]; they must be the same`]);
    }

    this.role = new iam.Role(this, 'Role', {
      roleName: props.roleName,
      description: 'tfstep pipeline state machine; launcher roles in the target accounts trust it by name',
      assumedBy: new iam.ServicePrincipal('states.amazonaws.com', {
        // Confused-deputy guard: only Step Functions acting for this account.
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
    });

    // lambda:invoke and lambda:invoke.waitForTaskToken with FunctionName = the unqualified ARN.
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'InvokePipelineFunctions',
        actions: ['lambda:InvokeFunction'],
        resources: [props.pipelineFunction.functionArn, props.approvalFunction.functionArn],
      }),
    );
    // ecs:runTask.sync runs with Credentials.RoleArn = each account's launcher role.
    if (props.launcherRoleArns.length > 0) {
      this.role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'AssumeLauncherRoles',
          actions: ['sts:AssumeRole'],
          resources: [...props.launcherRoleArns],
        }),
      );
    }
    // What Step Functions needs for the .sync pattern on ECS (the managed rule it watches tasks with).
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'EcsSyncManagedRule',
        actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
        resources: [stack.formatArn({ service: 'events', resource: 'rule', resourceName: 'StepFunctionsGetEventsForECSTaskRule' })],
      }),
    );

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `/aws/vendedlogs/states/${props.stateMachineName}`,
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: props.stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromString(definition),
      definitionSubstitutions: { ...this.substitutions },
      role: this.role,
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });

    const policy = this.role.node.tryFindChild('DefaultPolicy');
    if (policy) {
      // CloudWatch Logs delivery and X-Ray accept no resource narrower than "*".
      Validations.of(policy).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'Step Functions log delivery (logs:*LogDelivery*) and X-Ray (xray:PutTraceSegments) only support Resource "*".',
      });
    }
  }
}
