import { ArnFormat, Aws, CfnElement, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { allStates, PIPELINE_PLACEHOLDERS, placeholdersIn, readPipelineDefinition, type MachineLike, type PipelineSubstitutions } from '../statemachine/definition';
import { InvalidPropsError } from './errors';

/** The `Label` of every Distributed Map of a definition (its child executions are named `<machine>/<label>:<id>`). */
export function mapLabelsIn(definitionText: string): string[] {
  const labels = allStates(JSON.parse(definitionText) as MachineLike)
    .map(([, state]) => (state.Type === 'Map' ? state.Label : undefined))
    .filter((label): label is string => typeof label === 'string');
  return [...new Set(labels)].sort();
}

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
  /** The artifacts bucket: the Distributed Maps read their item lists and write their results under `<execution>/_stages/`. */
  readonly artifactsBucket: s3.IBucket;
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

    // The Distributed Maps: each account runs in a child execution of this state machine.
    // The name is known up front, so the role needs no reference to the state machine (no cycle).
    const ownArn = stack.formatArn({ service: 'states', resource: 'stateMachine', resourceName: props.stateMachineName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    const childArns = (label: string) =>
      stack.formatArn({ service: 'states', resource: 'execution', resourceName: `${props.stateMachineName}/${label}`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    // Children are named `execution:<machine>/<label>:<id>`: DescribeExecution and StopExecution are
    // granted on `execution:<machine>/*`, the form "IAM policies for using Distributed Map states"
    // (Step Functions developer guide) documents; `execution:<machine>:*` would match the parents only.
    this.role.addToPolicy(new iam.PolicyStatement({ sid: 'StartChildExecutions', actions: ['states:StartExecution'], resources: [ownArn] }));
    this.role.addToPolicy(
      new iam.PolicyStatement({ sid: 'FollowChildExecutions', actions: ['states:DescribeExecution', 'states:StopExecution'], resources: [childArns('*')] }),
    );
    // Redriving a run redrives its failed Map Run, which redrives the failed children.
    this.role.addToPolicy(
      new iam.PolicyStatement({ sid: 'RedriveChildExecutions', actions: ['states:RedriveExecution'], resources: mapLabelsIn(definition).map((label) => `${childArns(label)}:*`) }),
    );
    // ItemReader (s3:getObject) reads the stage's item lists; ResultWriter (s3:putObject) writes results beside them.
    const stageObjects = props.artifactsBucket.arnForObjects('*/_stages/*');
    this.role.addToPolicy(new iam.PolicyStatement({ sid: 'ReadStageItems', actions: ['s3:GetObject'], resources: [stageObjects] }));
    this.role.addToPolicy(
      new iam.PolicyStatement({ sid: 'WriteMapResults', actions: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'], resources: [stageObjects] }),
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
      // cdk-nag names each finding by the resource as CloudFormation sees it.
      const childPrefix = `arn:<AWS::Partition>:states:${stack.region}:${stack.account}:execution:${props.stateMachineName}/`;
      for (const resource of [`${childPrefix}*`, ...mapLabelsIn(definition).map((label) => `${childPrefix}${label}:*`)]) {
        Validations.of(policy).acknowledge({
          id: `AwsSolutions-IAM5[Resource::${resource}]`,
          reason: 'Child executions of the Distributed Maps get generated names (<machine>/<label>:<id>); the grant covers this state machine\'s children only.',
        });
      }
      const bucket = props.artifactsBucket.node.defaultChild;
      if (bucket instanceof CfnElement) {
        Validations.of(policy).acknowledge({
          id: `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(bucket)}.Arn>/*/_stages/*]`,
          reason: 'Each run keeps its stages\' item lists and Map results under its own prefix (<execution>/_stages/); runners cannot write there.',
        });
      }
    }
  }
}
