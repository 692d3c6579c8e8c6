import { Aws, BootstraplessSynthesizer, CfnMapping, CfnOutput, CfnParameter, Fn, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import type { Construct } from 'constructs';
import type { AccountConfig, Config } from '../config/schema';
import { names } from '../domain/names';
import { RUNNER_POLICY_PARAMETER, RunnerPolicySchema } from '../domain/runner-contract';
import { FLEET_ALL_STAGES, fleetPolicyStages, fleetRunnerPolicyInput, fleetRunnerPolicyProblems, runnerPolicyFor } from '../domain/runner-policy';
import { UndeployableConfigError } from '../constructs/errors';
import { FLEET_NAME_PREFIX } from '../fleet/resolve';
import { guardRunner } from '../constructs/runner-guard';
import { LauncherRole } from '../constructs/launcher-role';
import { RunnerTaskDefinition } from '../constructs/runner-task-definition';
import { RunnerPlanRecords } from '../constructs/runner-plan-records';
import { RunnerTaskRoles, type TerraformStateLocation } from '../constructs/runner-task-roles';
import { centralStateMachineArn, centralStateMachineRoleArn } from '../domain/arns';

/** Props of {@link AccountStack}. */
export interface AccountStackProps extends StackProps {
  readonly config: Config;
  /** The target account; the stack's env is this account in the central region. */
  readonly account: AccountConfig;
  /** Used when the account has no `state:` in the config. @default - buckets and tables named like `*tfstate*` (see DEFAULT_STATE_LOCATION) */
  readonly stateLocation?: TerraformStateLocation;
  /** @default - ReadOnlyAccess for the plan role */
  readonly planPolicies?: readonly iam.IManagedPolicy[];
  /** @default - AdministratorAccess for the apply role */
  readonly applyPolicies?: readonly iam.IManagedPolicy[];
  /** @default - X86_64 */
  readonly runnerCpuArchitecture?: ecs.CpuArchitecture;
  /**
   * Render the template of the fleet's service-managed StackSet instead of one account's stack:
   * the account id is `AWS::AccountId`, the account name `acct-<id>` (the fleet's naming), and
   * Terraform's region the `TerraformRegion` parameter (set per OU by the StackSet), and the plan
   * policies those of the `TfstepStage` parameter. `account` then only gives the region's default. No bootstrap parameter: a StackSet instance has none.
   * @default false
   */
  readonly stackSetTemplate?: boolean;
}

/** The parameter of the StackSet template that carries an OU's region. */
export const TERRAFORM_REGION_PARAMETER = 'TerraformRegion';

/** The parameter of the StackSet template that carries an OU's stage (whose plan policies the runner enforces). */
export const FLEET_STAGE_PARAMETER = 'TfstepStage';

/** The template's mapping of each stage to the end of its runner policy (its plan policies). */
export const FLEET_STAGE_POLICIES_MAPPING = 'TfstepStagePolicies';

/** Placeholders replaced in the runner policy of the StackSet template (through Fn::Sub). */
const PLACEHOLDER_ID = '000000000000';


/** The named AWS managed policies, or undefined when they are the default (the roles' own default and its acknowledgement apply). */
function managedPolicies(names: readonly string[], defaults: readonly string[]): iam.IManagedPolicy[] | undefined {
  if (names.length === defaults.length && names.every((n, i) => n === defaults[i])) return undefined;
  return names.map((n) => iam.ManagedPolicy.fromAwsManagedPolicyName(n));
}

/**
 * One target account: the runner cluster and task definitions, the plan, apply and execution
 * roles, the launcher role the central state machine assumes, the runner policy, and the table
 * where the plan task records the plans it made. Lives in
 * the central region; Terraform inside the task can deploy to any region.
 */
export class AccountStack extends Stack {
  /** The runner cluster (L1: the L2 would create a VPC; tasks use the account's own). */
  readonly cluster: ecs.CfnCluster;
  readonly roles: RunnerTaskRoles;
  /** The runner's git credentials in this account, when `git.accountSecretName` is set. */
  readonly gitCredentials?: secretsmanager.Secret;
  /** The runner output of both task definitions. */
  readonly runnerLogs: logs.LogGroup;
  readonly planTask: RunnerTaskDefinition;
  readonly applyTask: RunnerTaskDefinition;
  readonly launcher: LauncherRole;
  readonly policyParameter: ssm.StringParameter;
  /** Where the plan task records each plan it made; the apply task applies nothing else. */
  readonly planRecords: RunnerPlanRecords;

  constructor(scope: Construct, id: string, props: AccountStackProps) {
    const { config } = props;
    const templated = props.stackSetTemplate ?? false;
    // The template's account is whichever account the StackSet deploys it in.
    const account = templated ? { ...props.account, name: `${FLEET_NAME_PREFIX}${PLACEHOLDER_ID}`, id: PLACEHOLDER_ID, state: undefined } : props.account;
    const region = config.central.region;
    super(scope, id, {
      ...props,
      env: templated ? { region } : { account: account.id, region },
      ...(templated ? { synthesizer: new BootstraplessSynthesizer() } : {}),
      description: templated
        ? `tfstep runner for each account of the fleet, driven from ${config.central.account}/${region}`
        : `tfstep runner for account ${account.name} (${account.id}), driven from ${config.central.account}/${region}`,
    });
    const regionParameter = templated
      ? new CfnParameter(this, TERRAFORM_REGION_PARAMETER, {
          type: 'String',
          default: account.region,
          allowedPattern: '^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\\d$',
          description: "Terraform's default region in this account (the fleet rule's region)",
        })
      : undefined;
    const stageParameter = templated
      ? new CfnParameter(this, FLEET_STAGE_PARAMETER, {
          type: 'String',
          // Without an override an account gets every stage's rules: the strictest, never the weakest.
          default: FLEET_ALL_STAGES,
          allowedValues: fleetPolicyStages(config),
          description: `The stage whose plan policies this account's runner enforces (the OU rule's stage; ${FLEET_ALL_STAGES}: every stage's rules)`,
        })
      : undefined;
    // The account's name and id as the template writes them, and as cdk-nag renders them.
    const accountName = templated ? Fn.join('', [FLEET_NAME_PREFIX, Aws.ACCOUNT_ID]) : account.name;
    const nagAccountId = templated ? '<AWS::AccountId>' : account.id;

    this.cluster = new ecs.CfnCluster(this, 'Cluster', {
      clusterName: names.cluster(region),
      clusterSettings: [{ name: 'containerInsights', value: 'enabled' }],
    });

    this.roles = new RunnerTaskRoles(this, 'Roles', {
      planRoleName: names.planRole(region),
      applyRoleName: names.applyRole(region),
      artifactsBucketName: names.artifactsBucket(config.central.account, region),
      accountName,
      nagAccountName: templated ? `${FLEET_NAME_PREFIX}<AWS::AccountId>` : undefined,
      state: account.state,
      accountRegion: account.region,
      stateLocation: props.stateLocation,
      planPolicies: props.planPolicies ?? managedPolicies(config.runner.planManagedPolicies, ['ReadOnlyAccess']),
      applyPolicies: props.applyPolicies ?? managedPolicies(config.runner.applyManagedPolicies, ['AdministratorAccess']),
    });

    // Managed policies named in the config are deliberate choices, acknowledged with where they come from.
    for (const [role, list, field] of [
      [this.roles.planRole, config.runner.planManagedPolicies, 'runner.planManagedPolicies'],
      [this.roles.applyRole, config.runner.applyManagedPolicies, 'runner.applyManagedPolicies'],
    ] as const) {
      for (const name of list) {
        Validations.of(role).acknowledge({
          id: `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${name}]`,
          reason: `Named in the config (${field}): the rights Terraform needs for the modules of this installation.`,
        });
      }
    }

    // One log group for both task definitions, named as the operator CLI expects.
    this.runnerLogs = new logs.LogGroup(this, 'RunnerLogs', {
      logGroupName: names.runnerLogGroup(region),
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const common = {
      logGroup: this.runnerLogs,
      logStreamPrefix: names.runnerLogStreamPrefix(),
      containerName: names.runnerContainer(),
      image: config.runner.image,
      cpu: config.runner.cpu,
      memoryMiB: config.runner.memoryMiB,
      executionRole: this.roles.executionRole,
      cpuArchitecture: props.runnerCpuArchitecture,
    };
    this.planTask = new RunnerTaskDefinition(this, 'PlanTask', { ...common, family: names.planTaskFamily(region), taskRole: this.roles.planRole });
    this.applyTask = new RunnerTaskDefinition(this, 'ApplyTask', { ...common, family: names.applyTaskFamily(region), taskRole: this.roles.applyRole });

    this.policyParameter = new ssm.StringParameter(this, 'RunnerPolicy', {
      parameterName: RUNNER_POLICY_PARAMETER,
      description: 'tfstep runner policy: what the runner in this account may run (never taken from the task input)',
      stringValue: templated ? templatedPolicy(this, config, account.region, regionParameter!, stageParameter!) : JSON.stringify(runnerPolicyFor(config, account)),
      tier: ssm.ParameterTier.STANDARD,
    });
    this.policyParameter.grantRead(this.roles.planRole);
    this.policyParameter.grantRead(this.roles.applyRole);

    this.planRecords = new RunnerPlanRecords(this, 'PlanRecords', {
      tableName: names.planRecordsTable(region),
      planRole: this.roles.planRole,
      applyRole: this.roles.applyRole,
    });

    // The runner's git credentials live in this account and are read by the runner's own task
    // roles: never passed in task overrides (so never in DescribeTasks), and the runner gives
    // them to git alone, never to Terraform's environment.
    if (config.git.accountSecretName !== undefined) {
      this.gitCredentials = new secretsmanager.Secret(this, 'GitCredentials', {
        secretName: config.git.accountSecretName,
        description: 'tfstep: the credentials the runner clones private repositories with (a GitHub App, an access token or a deploy key); put the value after the first deploy',
        removalPolicy: RemovalPolicy.RETAIN,
      });
      this.gitCredentials.grantRead(this.roles.planRole);
      this.gitCredentials.grantRead(this.roles.applyRole);
      Validations.of(this.gitCredentials).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason: 'Git host credentials are issued by the git host (a GitHub App key, an access token): they are rotated there, then put here.',
      });
    }

    this.launcher = new LauncherRole(this, 'Launcher', {
      roleName: names.launcherRole(region),
      stateMachineRoleArn: centralStateMachineRoleArn(this.partition, config),
      stateMachineArn: centralStateMachineArn(this.partition, config),
      clusterName: names.cluster(region),
      taskDefinitionFamilies: [names.planTaskFamily(region), names.applyTaskFamily(region)],
      passableRoles: [this.roles.planRole, this.roles.applyRole, this.roles.executionRole],
    });
    Validations.of(this.launcher.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:${region}:${nagAccountId}:task/${names.cluster(region)}/*]`,
      reason: 'Task ids are only known once RunTask returns; the grant is limited to tasks of the runner cluster (ecs:cluster condition).',
    });
    for (const family of [names.planTaskFamily(region), names.applyTaskFamily(region)]) {
      Validations.of(this.launcher.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:${region}:${nagAccountId}:task-definition/${family}:*]`,
        reason: 'Every revision of the runner task definition family; a new image or size creates a new revision.',
      });
    }

    // Terraform applies as the apply role: it must not be able to loosen what guards the account.
    guardRunner(this.roles.applyRole, {
      parameterArn: this.policyParameter.parameterArn,
      roles: [this.launcher.role, this.roles.planRole, this.roles.applyRole, this.roles.executionRole],
      clusterName: names.cluster(region),
      taskDefinitionFamilies: [names.planTaskFamily(region), names.applyTaskFamily(region)],
      logGroupName: names.runnerLogGroup(region),
      // A StackSet names its instances `StackSet-<name>-<id>`.
      stackName: templated ? `StackSet-${names.fleetStackSet()}-*` : this.stackName,
      planRecordsTableArn: this.planRecords.tableArn,
      secretArns: this.gitCredentials ? [this.gitCredentials.secretArn] : [],
    });

    new CfnOutput(this, 'LauncherRoleArn', { value: this.launcher.role.roleArn });
    new CfnOutput(this, 'ClusterName', { value: this.cluster.ref });
  }
}

/**
 * The runner policy of the StackSet template: validated with placeholder values for every stage
 * the `TfstepStage` parameter allows, then written with `Fn::Sub` so each instance names its own
 * account, the region its OU gives, and its stage's plan policies.
 *
 * The policy's end differs by stage (`,"planPolicies":{...}}`, or just `}` for a stage without
 * rules), so it comes from a `Mappings` entry per stage, picked with `Fn::FindInMap` by the stage
 * parameter and put in through the variable map of `Fn::Sub`: the string of `Fn::Sub` must be a
 * literal, while its variable values may be `Fn::FindInMap` or `Ref` ("Fn::Sub", Supported
 * functions, AWS CloudFormation Template Reference). Mapping values must be literal strings
 * ("CloudFormation template Mappings syntax"), never empty here; a mapping holds at most 200
 * attributes ("Understand CloudFormation quotas"), refused beyond that. The second-level
 * key is alphanumeric, as CloudFormation and CDK require; the stage names are the top-level keys.
 */
function templatedPolicy(scope: Stack, config: Config, placeholderRegion: string, regionParameter: CfnParameter, stageParameter: CfnParameter): string {
  const problems = fleetRunnerPolicyProblems(config);
  if (problems.length > 0) throw new UndeployableConfigError(problems.join('\n'));
  const stages = fleetPolicyStages(config);
  if (stages.length > MAPPING_ATTRIBUTES_MAX) {
    throw new UndeployableConfigError(`the fleet's StackSet template maps each of ${stages.length} stages (with ${FLEET_ALL_STAGES}) to its plan policies; a CloudFormation mapping holds at most ${MAPPING_ATTRIBUTES_MAX}`);
  }
  const tails: Record<string, Record<string, string>> = {};
  let head: string | undefined;
  for (const stage of stages) {
    const { planPolicies, ...base } = RunnerPolicySchema.parse(fleetRunnerPolicyInput(config, stage, placeholderRegion));
    const json = JSON.stringify(base);
    head ??= json.slice(0, -1);
    if (json.slice(0, -1) !== head) throw new Error(`the runner policy of stage ${stage} differs from the others beyond its plan policies`);
    tails[stage] = { [POLICY_TAIL_KEY]: planPolicies === undefined ? '}' : `,"planPolicies":${JSON.stringify(planPolicies)}}` };
  }
  const mapping = new CfnMapping(scope, FLEET_STAGE_POLICIES_MAPPING, { mapping: tails });
  const escaped = head!.replaceAll('${', '${!');
  const withId = escaped.replaceAll(`${FLEET_NAME_PREFIX}${PLACEHOLDER_ID}`, `${FLEET_NAME_PREFIX}\${AWS::AccountId}`);
  const withRegion = withId.replaceAll(`"region":"${placeholderRegion}"`, `"region":"\${${regionParameter.logicalId}}"`);
  return Fn.sub(`${withRegion}\${${POLICY_TAIL_VARIABLE}}`, { [POLICY_TAIL_VARIABLE]: mapping.findInMap(stageParameter.valueAsString, POLICY_TAIL_KEY) });
}

/** "Mapping attributes: maximum number of mapping attributes for each mapping" (Understand CloudFormation quotas). */
const MAPPING_ATTRIBUTES_MAX = 200;
/** The second-level key of each stage's entry in the mapping. */
const POLICY_TAIL_KEY = 'PolicyEnd';
/** The `Fn::Sub` variable that receives it. */
const POLICY_TAIL_VARIABLE = 'StagePolicyEnd';
