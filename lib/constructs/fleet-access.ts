import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { artifactKeys } from '../domain/runner-contract';

/** Props of {@link FleetAccess}. */
export interface FleetAccessProps {
  /** The organization (`o-...`) whose accounts the fleet rules take. */
  readonly organizationId: string;
  /** The role in the management account or a delegated administrator the refresh reads Organizations with. */
  readonly organizationsRoleArn: string;
  /** Minutes between scheduled refreshes. */
  readonly refreshMinutes: number;
  /** The function that refreshes the fleet (the pipeline function, action `fleet-refresh`). */
  readonly refreshFunction: lambda.IFunction;
  /** The payload the schedule sends it. */
  readonly refreshPayload: Record<string, unknown>;
  /** The state machine role, which assumes each account's launcher role. */
  readonly stateMachineRole: iam.Role;
  readonly artifactsBucket: s3.Bucket;
  /** The fleet's account name prefix: an account's artifacts live under `accounts/<prefix><id>/`. */
  readonly accountNamePrefix: string;
  readonly launcherRoleName: string;
  readonly planRoleName: string;
  readonly applyRoleName: string;
}

/**
 * What the central account needs for accounts it learns at run time rather than from the config:
 * the launcher roles of any account of the organization, their runners' artifacts prefixes, the
 * Organizations role, and the schedule that refreshes the fleet registry. Every grant names the
 * organization, so an account outside it gains nothing.
 */
export class FleetAccess extends Construct {
  readonly schedule: events.Rule;

  constructor(scope: Construct, id: string, props: FleetAccessProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const p = stack.partition;

    // aws:ResourceOrgID: the organization of the account that owns the role being assumed
    // (IAM global condition keys, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-resourceorgid).
    const launchers = `arn:${p}:iam::*:role/${props.launcherRoleName}`;
    props.stateMachineRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'AssumeFleetLauncherRoles',
        actions: ['sts:AssumeRole'],
        resources: [launchers],
        conditions: { StringEquals: { 'aws:ResourceOrgID': props.organizationId } },
      }),
    );
    Validations.of(props.stateMachineRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::*:role/${props.launcherRoleName}]`,
      reason: 'Fleet accounts are learnt from AWS Organizations at run time: the launcher role of any account of the organization (aws:ResourceOrgID), which itself trusts only this state machine role with its ARN as external id.',
    });

    // Each fleet account's runner roles may use its own prefix only: the prefix carries the
    // caller's account id through the aws:PrincipalAccount policy variable.
    props.artifactsBucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'FleetRunnerArtifacts',
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:GetObject', 's3:PutObject'],
        resources: [props.artifactsBucket.arnForObjects(`${artifactKeys.accountPrefix(`${props.accountNamePrefix}\${aws:PrincipalAccount}`)}*`)],
        conditions: {
          StringEquals: { 'aws:PrincipalOrgID': props.organizationId },
          ArnLike: { 'aws:PrincipalArn': [`arn:${p}:iam::*:role/${props.planRoleName}`, `arn:${p}:iam::*:role/${props.applyRoleName}`] },
        },
      }),
    );

    // The refresh reads Organizations through the management account's (or delegated administrator's) role.
    props.refreshFunction.addToRolePolicy(new iam.PolicyStatement({ sid: 'ReadOrganizations', actions: ['sts:AssumeRole'], resources: [props.organizationsRoleArn] }));

    this.schedule = new events.Rule(this, 'RefreshSchedule', {
      description: 'tfstep: reads the fleet from AWS Organizations into the run table',
      schedule: events.Schedule.rate(Duration.minutes(props.refreshMinutes)),
      targets: [
        new targets.LambdaFunction(props.refreshFunction, {
          event: events.RuleTargetInput.fromObject(props.refreshPayload),
          retryAttempts: 2,
          maxEventAge: Duration.minutes(Math.min(props.refreshMinutes, 60)),
        }),
      ],
    });
  }
}
