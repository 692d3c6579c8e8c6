import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { PLAN_RECORD_TABLE_ACTIONS, PLAN_RECORD_WRITE_ACTIONS } from './runner-plan-records';

/** What defends a target account: the resources the runner's enforcement rests on. */
export interface RunnerGuard {
  /** The runner policy parameter (the allowlists the runner enforces). */
  readonly parameterArn: string;
  /** The launcher, plan, apply and execution roles. */
  readonly roles: readonly iam.IRole[];
  readonly clusterName: string;
  readonly taskDefinitionFamilies: readonly string[];
  readonly logGroupName: string;
  /** The account stack itself: CloudFormation could otherwise rewrite all of the above. */
  readonly stackName: string;
  /** The plan records table: only the plan role may write a record, and nobody may loosen that. */
  readonly planRecordsTableArn: string;
  /** The runner's git credentials: Terraform must not replace what the runner clones with. @default - none */
  readonly secretArns?: readonly string[];
}

/** IAM actions that change a role's trust, permissions or existence. */
export const ROLE_WRITE_ACTIONS = [
  'iam:AttachRolePolicy',
  'iam:DeleteRole',
  'iam:DeleteRolePermissionsBoundary',
  'iam:DeleteRolePolicy',
  'iam:DetachRolePolicy',
  // A task definition revision (or anything else) that runs as a tfstep role must pass it.
  'iam:PassRole',
  'iam:PutRolePermissionsBoundary',
  'iam:PutRolePolicy',
  'iam:TagRole',
  'iam:UntagRole',
  'iam:UpdateAssumeRolePolicy',
  'iam:UpdateRole',
  'iam:UpdateRoleDescription',
] as const;

/**
 * Explicit denies on `role` (the apply role: Terraform runs as it, usually with
 * AdministratorAccess) for every change to what guards the account: the runner policy
 * parameter, tfstep's roles (its own included, so it cannot drop these denies), the runner
 * cluster and task definitions, the runner logs, the plan records table and the account stack.
 * An explicit deny wins
 * over any allow, whatever the managed policies attached.
 *
 * Not fully covered, and said in docs/security.md: a deny on `ecs:RegisterTaskDefinition` for the
 * runner families is not relied on. What makes a new revision harmless is `iam:PassRole`: it is
 * denied on tfstep's roles, so a revision registered by apply cannot run as the plan or apply
 * role, and the launcher may pass no other role, so RunTask of a revision with a foreign role fails.
 */
export function guardRunner(role: iam.Role, guard: RunnerGuard): void {
  const stack = Stack.of(role);
  const arn = (service: string, resource: string, resourceName: string) =>
    stack.formatArn({ service, resource, resourceName, arnFormat: service === 'logs' ? ArnFormat.COLON_RESOURCE_NAME : ArnFormat.SLASH_RESOURCE_NAME });
  role.addToPolicy(
    new iam.PolicyStatement({
      sid: 'GuardRunnerPolicy',
      effect: iam.Effect.DENY,
      actions: ['ssm:PutParameter', 'ssm:DeleteParameter', 'ssm:DeleteParameters', 'ssm:LabelParameterVersion', 'ssm:UnlabelParameterVersion', 'ssm:AddTagsToResource', 'ssm:RemoveTagsFromResource'],
      resources: [guard.parameterArn],
    }),
  );
  role.addToPolicy(new iam.PolicyStatement({ sid: 'GuardRunnerRoles', effect: iam.Effect.DENY, actions: [...ROLE_WRITE_ACTIONS], resources: guard.roles.map((r) => r.roleArn) }));
  role.addToPolicy(
    new iam.PolicyStatement({
      sid: 'GuardRunnerCluster',
      effect: iam.Effect.DENY,
      actions: ['ecs:DeleteCluster', 'ecs:UpdateCluster', 'ecs:PutClusterCapacityProviders', 'ecs:DeregisterTaskDefinition', 'ecs:DeleteTaskDefinitions'],
      resources: [arn('ecs', 'cluster', guard.clusterName), ...guard.taskDefinitionFamilies.map((f) => arn('ecs', 'task-definition', `${f}:*`))],
    }),
  );
  role.addToPolicy(
    new iam.PolicyStatement({
      sid: 'GuardPlanRecords',
      effect: iam.Effect.DENY,
      actions: [...PLAN_RECORD_WRITE_ACTIONS, 'dynamodb:DeleteItem', ...PLAN_RECORD_TABLE_ACTIONS],
      resources: [guard.planRecordsTableArn],
    }),
  );
  role.addToPolicy(
    new iam.PolicyStatement({
      sid: 'GuardRunnerLogsAndStack',
      effect: iam.Effect.DENY,
      actions: ['logs:DeleteLogGroup', 'logs:DeleteLogStream', 'logs:PutRetentionPolicy', 'logs:DeleteRetentionPolicy', 'cloudformation:UpdateStack', 'cloudformation:DeleteStack', 'cloudformation:CreateChangeSet', 'cloudformation:ExecuteChangeSet', 'cloudformation:SetStackPolicy', 'cloudformation:UpdateTerminationProtection'],
      resources: [
        arn('logs', 'log-group', `${guard.logGroupName}:*`),
        arn('logs', 'log-group', guard.logGroupName),
        arn('cloudformation', 'stack', `${guard.stackName}/*`),
      ],
    }),
  );
  if (guard.secretArns && guard.secretArns.length > 0) {
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'GuardRunnerGitCredentials',
        effect: iam.Effect.DENY,
        actions: [
          'secretsmanager:PutSecretValue',
          'secretsmanager:UpdateSecret',
          'secretsmanager:UpdateSecretVersionStage',
          'secretsmanager:DeleteSecret',
          'secretsmanager:RestoreSecret',
          'secretsmanager:RotateSecret',
          'secretsmanager:CancelRotateSecret',
          'secretsmanager:PutResourcePolicy',
          'secretsmanager:DeleteResourcePolicy',
          'secretsmanager:TagResource',
          'secretsmanager:UntagResource',
        ],
        resources: [...guard.secretArns],
      }),
    );
  }
}
