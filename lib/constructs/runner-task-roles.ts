import { Stack, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { StateConfig } from '../config/schema';
import { artifactKeys } from '../domain/runner-contract';
import { InvalidPropsError } from './errors';

/** Where Terraform keeps its state in the account when the config names no `state:`: name patterns. */
export interface TerraformStateLocation {
  /** S3 bucket name patterns (`*` allowed) holding state files. */
  readonly bucketPatterns: readonly string[];
  /** DynamoDB lock table name patterns (`*` allowed), for the `dynamodb_table` backend lock, in any region. */
  readonly lockTablePatterns: readonly string[];
}

/** The default state location: buckets and tables named after the usual conventions. */
export const DEFAULT_STATE_LOCATION: TerraformStateLocation = {
  bucketPatterns: ['*tfstate*', '*terraform-state*', '*tf-state*'],
  lockTablePatterns: ['*tfstate*', '*terraform-state*', '*tf-state*', '*terraform-lock*', '*tf-lock*'],
};

/** Props of {@link RunnerTaskRoles}. */
export interface RunnerTaskRolesProps {
  readonly planRoleName: string;
  readonly applyRoleName: string;
  /** The central artifacts bucket (another account: by name). */
  readonly artifactsBucketName: string;
  /** This account's name: its artifacts prefix is `accounts/<account>/`. */
  readonly accountName: string;
  /** {@link accountName} as cdk-nag renders it, when the name is computed in the template. @default accountName */
  readonly nagAccountName?: string;
  /**
   * The account's own state settings (`accounts[].state`): the roles are granted exactly these.
   * @default - the {@link stateLocation} name patterns
   */
  readonly state?: StateConfig;
  /** The account's region: the default region of {@link state}. */
  readonly accountRegion?: string;
  /** Used only without {@link state}. @default {@link DEFAULT_STATE_LOCATION} */
  readonly stateLocation?: TerraformStateLocation;
  /**
   * What the plan role may read in the account.
   * @default - ReadOnlyAccess: a plan refreshes every resource its modules manage
   */
  readonly planPolicies?: readonly iam.IManagedPolicy[];
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
      managedPolicies: [...(props.planPolicies ?? [iam.ManagedPolicy.fromAwsManagedPolicyName('ReadOnlyAccess')])],
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

    if (props.state) this.grantState(props.state, props.accountRegion ?? stack.region);
    else this.grantStatePatterns(state);

    for (const role of [this.planRole, this.applyRole]) {
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'TfstepArtifactsOwnPrefix',
          actions: ['s3:GetObject', 's3:PutObject'],
          resources: [`arn:${stack.partition}:s3:::${props.artifactsBucketName}/${artifactKeys.accountPrefix(props.accountName)}*`],
        }),
      );
    }

    if (props.planPolicies === undefined) {
      Validations.of(this.planRole).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/ReadOnlyAccess]',
        reason: 'Terraform plan refreshes every resource its modules manage, which can be of any service: read-only access to all of them is the point.',
      });
    }
    if (props.applyPolicies === undefined) {
      Validations.of(this.applyRole).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AdministratorAccess]',
        reason: 'This is the deploy role: Terraform apply creates whatever the approved plan declares. Narrow it with applyPolicies where the modules allow.',
      });
    }
    for (const role of [this.planRole, this.applyRole]) {
      Validations.of(role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::${props.artifactsBucketName}/${artifactKeys.accountPrefix(props.nagAccountName ?? props.accountName)}*]`,
        reason: 'The runner writes under accounts/<account>/<execution>/<module>/; the grant is limited to this account\'s own prefix.',
      });
    }
  }

  /** Acknowledges a wildcard resource for cdk-nag, with the reason it is scoped as it is. */
  private acknowledgeWildcard(role: iam.Role, resource: string, reason: string): void {
    const stack = Stack.of(this);
    let rendered = resource.replace(`arn:${stack.partition}:`, 'arn:<AWS::Partition>:');
    // An account-agnostic stack (the fleet's StackSet template): cdk-nag shows the pseudo parameter.
    if (Token.isUnresolved(stack.account)) rendered = rendered.replaceAll(stack.account, '<AWS::AccountId>');
    Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[Resource::${rendered}]`, reason });
  }

  /** No `state:` in the config: lock writes in buckets and tables named like state storage. */
  private grantStatePatterns(state: TerraformStateLocation): void {
    const stack = Stack.of(this);
    // A plan takes the state lock: with use_lockfile, a `<key>.tflock` object next to the state.
    const lockFiles = state.bucketPatterns.map((b) => `arn:${stack.partition}:s3:::${b}/*.tflock`);
    this.planRole.addToPolicy(new iam.PolicyStatement({ sid: 'TerraformStateLockFile', actions: ['s3:PutObject', 's3:DeleteObject'], resources: lockFiles }));
    for (const r of lockFiles) this.acknowledgeWildcard(this.planRole, r, 'Terraform state lock files (<state key>.tflock) in the state buckets: the only S3 objects a plan may write.');
    if (state.lockTablePatterns.length > 0) {
      // The lock table sits in the state's region, which need not be the central one.
      const tables = state.lockTablePatterns.map((t) => `arn:${stack.partition}:dynamodb:*:${stack.account}:table/${t}`);
      this.planRole.addToPolicy(
        new iam.PolicyStatement({ sid: 'TerraformStateLockTable', actions: ['dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:DescribeTable'], resources: tables }),
      );
      for (const r of tables) this.acknowledgeWildcard(this.planRole, r, 'Terraform state lock tables (dynamodb_table backend setting), in any region: a plan takes and releases the lock.');
    }
  }

  /**
   * The account's `state:` settings: plan reads the state and takes the lock, apply also writes
   * the state; with a state account, both may only assume its role.
   */
  private grantState(state: StateConfig, accountRegion: string): void {
    const stack = Stack.of(this);
    const p = stack.partition;
    if (state.roleArn) {
      for (const role of [this.planRole, this.applyRole]) {
        role.addToPolicy(new iam.PolicyStatement({ sid: 'TerraformStateAccountRole', actions: ['sts:AssumeRole', 'sts:TagSession'], resources: [state.roleArn] }));
      }
      return;
    }
    const region = state.region ?? accountRegion;
    const bucket = `arn:${p}:s3:::${state.bucket}`;
    const objects = `${bucket}/${state.keyPrefix}*`;
    const list = new iam.PolicyStatement({
      sid: 'TerraformStateList',
      actions: ['s3:ListBucket'],
      resources: [bucket],
      ...(state.keyPrefix ? { conditions: { StringLike: { 's3:prefix': [`${state.keyPrefix}*`] } } } : {}),
    });
    this.planRole.addToPolicy(list);
    this.applyRole.addToPolicy(list);
    this.planRole.addToPolicy(new iam.PolicyStatement({ sid: 'TerraformStateRead', actions: ['s3:GetObject'], resources: [objects] }));
    this.applyRole.addToPolicy(new iam.PolicyStatement({ sid: 'TerraformStateReadWrite', actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'], resources: [objects] }));
    this.acknowledgeWildcard(this.planRole, objects, 'The state objects under the configured key prefix of the configured state bucket.');
    this.acknowledgeWildcard(this.applyRole, objects, 'The state objects under the configured key prefix of the configured state bucket.');
    if (state.lockfile) {
      const lockFiles = `${bucket}/${state.keyPrefix}*.tflock`;
      this.planRole.addToPolicy(new iam.PolicyStatement({ sid: 'TerraformStateLockFile', actions: ['s3:PutObject', 's3:DeleteObject'], resources: [lockFiles] }));
      this.acknowledgeWildcard(this.planRole, lockFiles, 'Terraform state lock files (<state key>.tflock): the only S3 objects a plan may write.');
    }
    if (state.lockTable) {
      const table = `arn:${p}:dynamodb:${region}:${stack.account}:table/${state.lockTable}`;
      const lock = new iam.PolicyStatement({ sid: 'TerraformStateLockTable', actions: ['dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:DescribeTable'], resources: [table] });
      this.planRole.addToPolicy(lock);
      this.applyRole.addToPolicy(lock);
    }
    if (state.kmsKey) {
      // SSE-KMS state: reading needs kms:Decrypt; writing (the state, or a lock file) a data key.
      const readKey = state.lockfile ? ['kms:Decrypt', 'kms:GenerateDataKey'] : ['kms:Decrypt'];
      this.planRole.addToPolicy(new iam.PolicyStatement({ sid: 'TerraformStateKey', actions: readKey, resources: [state.kmsKey] }));
      this.applyRole.addToPolicy(new iam.PolicyStatement({ sid: 'TerraformStateKey', actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'], resources: [state.kmsKey] }));
    }
  }
}
