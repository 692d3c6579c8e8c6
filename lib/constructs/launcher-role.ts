import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { names } from '../domain/names';
import { InvalidPropsError } from './errors';

/** Props of {@link LauncherRole}. */
export interface LauncherRoleProps {
  readonly roleName: string;
  /** The central state machine's role (another account: by ARN). The only trusted principal. */
  readonly stateMachineRoleArn: string;
  /**
   * The central state machine's ARN. For a cross-account Task, Step Functions assumes the
   * `Credentials.RoleArn` role with the state machine ARN as `sts:ExternalId`. Which ARN a
   * Distributed Map child execution sends is not documented: it may be the labelled form
   * `stateMachine:<name>/<label>` its metrics carry ("Viewing a Distributed Map Run execution",
   * Step Functions developer guide), so both forms are trusted.
   */
  readonly stateMachineArn: string;
  /** The runner cluster's name (in this stack's account and region). */
  readonly clusterName: string;
  /** Families of the runner task definitions, the only ones it may run. */
  readonly taskDefinitionFamilies: readonly string[];
  /** Roles the tasks run with (task roles and execution role), the only ones it may pass. */
  readonly passableRoles: readonly iam.IRole[];
}

/**
 * The `sts:ExternalId` values a launcher role accepts: the state machine ARN, and its labelled
 * form `<arn>/<Map label>` that a Distributed Map child execution may send instead.
 */
export function launcherExternalIds(stateMachineArn: string): string[] {
  // The plan-only state machine (drift sweeps, pull-request plans) runs on the same role and
  // starts the read-only plan task definition only; its name sits beside the pipeline's.
  const planOnly = stateMachineArn.replace(new RegExp(`:${names.stateMachine()}$`), `:${names.planOnlyStateMachine()}`);
  return planOnly === stateMachineArn ? [stateMachineArn, `${stateMachineArn}/*`] : [stateMachineArn, `${stateMachineArn}/*`, planOnly, `${planOnly}/*`];
}

/**
 * The role the central state machine uses in this account to start and watch runner tasks.
 * It can start the runner task definitions on the runner cluster and nothing else: Terraform
 * runs on the task role, so the launcher's short session never limits a long apply.
 */
export class LauncherRole extends Construct {
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: LauncherRoleProps) {
    super(scope, id);
    const stack = Stack.of(this);
    if (props.taskDefinitionFamilies.length === 0 || props.passableRoles.length === 0) {
      throw new InvalidPropsError(this.node.path, ['expected at least one task definition family and one passable role']);
    }
    this.role = new iam.Role(this, 'Role', {
      roleName: props.roleName,
      description: 'tfstep launcher: the central state machine starts and watches runner tasks with it',
      assumedBy: new iam.ArnPrincipal(props.stateMachineRoleArn).withConditions({
        // A state machine name has no "/", so "<arn>/*" matches only this machine's labelled form.
        StringLike: { 'sts:ExternalId': launcherExternalIds(props.stateMachineArn) },
      }),
    });
    const clusterArn = stack.formatArn({ service: 'ecs', resource: 'cluster', resourceName: props.clusterName });
    const clusterCondition = { ArnEquals: { 'ecs:cluster': clusterArn } };
    const tasks = stack.formatArn({ service: 'ecs', resource: 'task', resourceName: `${props.clusterName}/*` });
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'RunRunnerTasks',
        actions: ['ecs:RunTask'],
        resources: props.taskDefinitionFamilies.map((family) => stack.formatArn({ service: 'ecs', resource: 'task-definition', resourceName: `${family}:*` })),
        conditions: clusterCondition,
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'WatchRunnerTasks',
        actions: ['ecs:DescribeTasks', 'ecs:StopTask'],
        resources: [tasks],
        conditions: clusterCondition,
      }),
    );
    // RunTask with Tags (the state machine tags each task with its execution) needs TagResource.
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'TagRunnerTasksOnLaunch',
        actions: ['ecs:TagResource'],
        resources: [tasks],
        conditions: { StringEquals: { 'ecs:CreateAction': 'RunTask' } },
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'PassRunnerRoles',
        actions: ['iam:PassRole'],
        resources: props.passableRoles.map((r) => r.roleArn),
        conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      }),
    );
  }
}
