import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { artifactKeys } from '../domain/runner-contract';
import { InvalidPropsError } from './errors';

/** Where Terraform keeps its state in the account: the only storage a plan may write to. */
export interface TerraformStateLocation {
  /** S3 bucket name patterns (`*` allowed) holding state files. */
  readonly bucketPatterns: readonly string[];
  /** DynamoDB lock table name patterns (`*` allowed), for the `dynamodb_table` backend lock. */
  readonly lockTablePatterns: readonly string[];
}

/** The default state location: buckets and tables named after the usual conventions. */
export const DEFAULT_STATE_LOCATION: TerraformStateLocation = {
  bucketPatterns: ['*tfstate*', '*terraform-state*'],
  lockTablePatterns: ['*tfstate*', '*terraform-lock*'],
};

/** Props of {@link RunnerTaskRoles}. */
export interface RunnerTaskRolesProps {
  readonly planRoleName: string;
  readonly applyRoleName: string;
  /** The central artifacts bucket (another account: by name). */
  readonly artifactsBucketName: string;
  /** This account's name: its artifacts prefix is `accounts/<account>/`. */
  readonly accountName: string;
  /** @default {@link DEFAULT_STATE_LOCATION} */
  readonly stateLocation?: TerraformStateLocation;
  /**
   * What the apply role may change in the account.
   * @default - AdministratorAccess: Terraform deploys whatever the modules declare
   */
  readonly applyPolicies?: readonly iam.IManagedPolicy[];
}

/**
 * The ECS task roles Terraform runs with, and the task execution role. Plan runs provider code
 * from the repository, so the plan role gets read-only access plus state locking and its own
 * artifacts prefix, nothing more; the apply role is the deploy role.
 */
export class RunnerTaskRoles extends Construct {
  readonly planRole: iam.Role;
  readonly applyRole: iam.Role;
  /** Pulls the image and writes container logs; Terraform never sees its credentials. */
  readonly executionRole: iam.Role;

  constructor(scope: Construct, id: string, props: RunnerTaskRolesProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const state = props.stateLocation ?? DEFAULT_STATE_LOCATION;
    const problems: string[] = [];
    if (state.bucketPatterns.length === 0) problems.push('stateLocation.bucketPatterns is empty; expected at least one bucket name pattern');
    for (const p of [...state.bucketPatterns, ...state.lockTablePatterns]) {
      if (!/^[A-Za-z0-9.*_-]+$/.test(p)) problems.push(`state name pattern ${JSON.stringify(p)} is invalid; expected letters, digits, ".", "_", "-" and "*"`);
    }
    if (problems.length > 0) throw new InvalidPropsError(this.node.path, problems);

    const ecsTasks = new iam.ServicePrincipal('ecs-tasks.amazonaws.com', {
      conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
    });
    this.planRole = new iam.Role(this, 'PlanRole', {
      roleName: props.planRoleName,
      description: 'tfstep plan task: read-only, plus Terraform state locking and its artifacts prefix',
      assumedBy: ecsTasks,
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('ReadOnlyAccess')],
    });
    this.applyRole = new iam.Role(this, 'ApplyRole', {
      roleName: props.applyRoleName,
      description: 'tfstep apply task: deploys what the approved Terraform plan declares',
      assumedBy: ecsTasks,
      managedPolicies: [...(props.applyPolicies ?? [iam.ManagedPolicy.fromAwsManagedPolicyName('AdministratorAccess')])],
    });
    this.executionRole = new iam.Role(this, 'ExecutionRole', {
      description: 'tfstep runner task execution: image pull and container logs',
      assumedBy: ecsTasks,
    });

    // A plan takes the state lock: with use_lockfile, a `<key>.tflock` object next to the state.
    this.planRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'TerraformStateLockFile',
        actions: ['s3:PutObject', 's3:DeleteObject'],
        resources: state.bucketPatterns.map((b) => `arn:${stack.partition}:s3:::${b}/*.tflock`),
      }),
    );
    if (state.lockTablePatterns.length > 0) {
      this.planRole.addToPolicy(
        new iam.PolicyStatement({
          sid: 'TerraformStateLockTable',
          actions: ['dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:DescribeTable'],
          resources: state.lockTablePatterns.map((t) => stack.formatArn({ service: 'dynamodb', resource: 'table', resourceName: t })),
        }),
      );
    }

    for (const role of [this.planRole, this.applyRole]) {
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'TfstepArtifactsOwnPrefix',
          actions: ['s3:GetObject', 's3:PutObject'],
          resources: [`arn:${stack.partition}:s3:::${props.artifactsBucketName}/${artifactKeys.accountPrefix(props.accountName)}*`],
        }),
      );
    }

    Validations.of(this.planRole).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/ReadOnlyAccess]',
      reason: 'Terraform plan refreshes every resource its modules manage, which can be of any service: read-only access to all of them is the point.',
    });
    if (props.applyPolicies === undefined) {
      Validations.of(this.applyRole).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AdministratorAccess]',
        reason: 'This is the deploy role: Terraform apply creates whatever the approved plan declares. Narrow it with applyPolicies where the modules allow.',
      });
    }
    for (const b of state.bucketPatterns) {
      Validations.of(this.planRole).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::${b}/*.tflock]`,
        reason: 'Terraform state lock files (<state key>.tflock) in the state buckets: the only S3 objects a plan may write.',
      });
    }
    for (const t of state.lockTablePatterns) {
      Validations.of(this.planRole).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:dynamodb:${stack.region}:${stack.account}:table/${t}]`,
        reason: 'Terraform state lock tables (dynamodb_table backend setting): a plan takes and releases the lock.',
      });
    }
    for (const role of [this.planRole, this.applyRole]) {
      Validations.of(role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::${props.artifactsBucketName}/${artifactKeys.accountPrefix(props.accountName)}*]`,
        reason: 'The runner writes under accounts/<account>/<execution>/<module>/; the grant is limited to this account\'s own prefix.',
      });
    }
  }
}
