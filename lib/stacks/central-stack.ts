import { join } from 'node:path';
import { ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import type { Construct } from 'constructs';
import type { Config } from '../config/schema';
import { APPLY_RECORD_ID_PREFIX, AUDIT_PREFIX } from '../domain/audit';
import { FUNCTION_ENV } from '../domain/function-env';
import { names } from '../domain/names';
import { artifactKeys, MANIFEST_SUFFIX } from '../domain/runner-contract';
import { ArtifactsBucket } from '../constructs/artifacts-bucket';
import { AuditBucket } from '../constructs/audit-bucket';
import { ExecutionStatusRule } from '../constructs/execution-status-rule';
import { FleetAccess } from '../constructs/fleet-access';
import { FLEET_NAME_PREFIX } from '../fleet/resolve';
import { FLEET_REFRESH_ACTION } from '../fleet/registry';
import { GitPushRule } from '../constructs/git-push-rule';
import { PipelineStateMachine } from '../constructs/pipeline-state-machine';
import { PlanOnlyStateMachine } from '../constructs/plan-only-state-machine';
import { PullRequestRule } from '../constructs/pull-request-rule';
import { TfstepFunction, type TfstepFunctionProps } from '../constructs/tfstep-function';
import { centralStateMachineArn, launcherRoleArn, runnerRoleArns } from '../domain/arns';
import { BUNDLED_CONFIG_FILE } from '../env';
import { HCL_PARSER_PACKAGE } from '../planning/dependencies';

/** Secrets Manager names of the generated secrets, so operators can find them. */
export const CENTRAL_SECRET_NAMES = {
  /** Shared with the git host, which signs each delivery with it. */
  webhook: 'tfstep/webhook-secret',
  /** Signs and verifies approval links. */
  approvalKey: 'tfstep/approval-link-key',
} as const;

/**
 * The SSM parameter holding the approval function URL. The function cannot receive its own URL
 * as an environment variable (the URL depends on the function: a cycle), so it reads this
 * parameter by name; the approval side reads the same name (DEFAULT_BASE_URL_PARAMETER).
 */
export const APPROVAL_BASE_URL_PARAMETER = '/tfstep/approval-base-url';

/** Handler files of the central functions (each exports `handler`). */
export interface CentralFunctionEntries {
  readonly webhook: string;
  readonly approval: string;
  readonly pipeline: string;
}

/** The handler files in this repository. */
export function defaultFunctionEntries(root = join(__dirname, '..', '..')): CentralFunctionEntries {
  return {
    webhook: join(root, 'lambdas', 'webhook', 'index.ts'),
    approval: join(root, 'lambdas', 'approval', 'index.ts'),
    pipeline: join(root, 'lambdas', 'pipeline', 'index.ts'),
  };
}

/** Props of {@link CentralStack}. */
export interface CentralStackProps extends StackProps {
  /** The validated config; `env` is taken from `config.central`. */
  readonly config: Config;
  /** @default - {@link defaultFunctionEntries} */
  readonly functionEntries?: CentralFunctionEntries;
  /**
   * Reserved concurrency of the two functions behind public URLs (webhook, approval), or
   * `false` for none. It caps what a flood of requests can take from the account's pool, so the
   * pipeline function keeps its share. Lambda keeps at least 100 of the account's concurrency
   * unreserved ("Configuring reserved concurrency for a function", AWS Lambda developer guide):
   * an account still at a low initial quota must raise it first, or pass `false`.
   * @default - { webhook: 10, approval: 5 }
   */
  readonly publicFunctionConcurrency?: { readonly webhook: number; readonly approval: number } | false;
}

/** Reserved concurrency of the public functions unless the props say otherwise. */
export const DEFAULT_PUBLIC_FUNCTION_CONCURRENCY = { webhook: 10, approval: 5 } as const;

/**
 * The central account: the event bus and its rule, the pipeline state machine and its role,
 * the webhook, approval and pipeline functions, the run table, the artifacts bucket and the
 * notification topic. Deployed before any account stack: launcher roles trust its role.
 */
export class CentralStack extends Stack {
  readonly eventBus: events.EventBus;
  readonly table: dynamodb.Table;
  readonly artifacts: ArtifactsBucket;
  /** The audit trail (Object Lock, compliance mode): the approval and pipeline functions append to it. */
  readonly audit: AuditBucket;
  readonly topic: sns.Topic;
  readonly webhookSecret: secretsmanager.Secret;
  readonly approvalKey: secretsmanager.Secret;
  readonly webhookFunction: TfstepFunction;
  readonly approvalFunction: TfstepFunction;
  readonly pipelineFunction: TfstepFunction;
  readonly pipeline: PipelineStateMachine;
  /** Plan-only runs: drift sweeps (scheduled per stage) and pull-request plans. */
  readonly planOnly: PlanOnlyStateMachine;
  readonly gitPushRule: GitPushRule;
  /** Pull request events to the pipeline function, which starts their plan-only runs. */
  readonly pullRequestRule: PullRequestRule;
  /** Hands executions that ended without their finish state to the pipeline function. */
  readonly executionStatusRule: ExecutionStatusRule;
  readonly webhookUrl: lambda.FunctionUrl;
  readonly approvalUrl: lambda.FunctionUrl;
  /** The topic the alarms notify. */
  readonly alarmTopic: sns.Topic;
  /** Alarms on the alarm topic: dead-lettered pushes and failed or timed-out runs. */
  readonly alarms: { readonly deadLetters: cloudwatch.Alarm; readonly failedRuns: cloudwatch.Alarm; readonly unrecordedEnds: cloudwatch.Alarm };
  /** Where the approval function finds its own URL. */
  readonly approvalBaseUrl: ssm.StringParameter;
  /** The fleet's grants and refresh schedule, when `fleet.organizations` is set. */
  readonly fleet?: FleetAccess;

  constructor(scope: Construct, id: string, props: CentralStackProps) {
    const { config } = props;
    super(scope, id, {
      ...props,
      env: { account: config.central.account, region: config.central.region },
      description: 'tfstep central: webhook, event bus, pipeline state machine, run table, artifacts',
    });
    const entries = props.functionEntries ?? defaultFunctionEntries();
    const configJson = JSON.stringify(config);

    this.eventBus = new events.EventBus(this, 'Bus', { eventBusName: names.eventBus() });

    this.table = new dynamodb.Table(this, 'RunTable', {
      tableName: names.runTable(),
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'expiresAt',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.artifacts = new ArtifactsBucket(this, 'Artifacts', {
      bucketName: names.artifactsBucket(config.central.account, config.central.region),
      writers: config.accounts.map((account) => {
        const roles = runnerRoleArns(this.partition, config, account);
        return { accountName: account.name, accountId: account.id, roleArns: [roles.plan, roles.apply] };
      }),
    });

    this.audit = new AuditBucket(this, 'Audit', {
      bucketName: names.auditBucket(config.central.account, config.central.region),
      retentionDays: config.audit.retentionDays,
      accessLogs: this.artifacts.accessLogs,
    });

    const topicKey = new kms.Key(this, 'TopicKey', {
      description: 'tfstep notifications topic',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.topic = new sns.Topic(this, 'Topic', { topicName: names.topic(), masterKey: topicKey, enforceSSL: true });
    // Alarms get their own topic: the notification topic's subscriptions filter on `approver`,
    // which an alarm message does not carry. CloudWatch must be able to use the topic's key.
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', { topicName: names.alarmTopic(), masterKey: topicKey, enforceSSL: true });
    topicKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    );
    // Each approver gets an email subscription filtered on the `approver` attribute, so the
    // approval function's per-approver messages reach only their own person.
    const approvers = [...new Set(Object.values(config.stages).flatMap((stage) => (stage.approval.required ? stage.approval.approvers : [])))].sort();
    for (const approver of approvers) {
      this.topic.addSubscription(
        new subscriptions.EmailSubscription(approver, {
          filterPolicy: { approver: sns.SubscriptionFilter.stringFilter({ allowlist: [approver] }) },
        }),
      );
    }

    this.webhookSecret = new secretsmanager.Secret(this, 'WebhookSecret', {
      secretName: CENTRAL_SECRET_NAMES.webhook,
      description: 'tfstep: the git host signs each webhook delivery with this value (HMAC-SHA256)',
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
    });
    this.approvalKey = new secretsmanager.Secret(this, 'ApprovalKey', {
      secretName: CENTRAL_SECRET_NAMES.approvalKey,
      description: 'tfstep: signs and verifies approval links',
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    });
    for (const secret of [this.webhookSecret, this.approvalKey]) {
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason: 'Rotated by an operator: the webhook secret must change on the git host at the same moment, and rotating the link key invalidates pending approval links.',
      });
    }

    // The config travels in each function's bundle: Lambda's 4 KiB environment holds a dozen accounts at most.
    const bundledFiles = { [BUNDLED_CONFIG_FILE]: configJson };
    const stateMachineArn = centralStateMachineArn(this.partition, config);
    const planOnlyStateMachineArn = this.formatArn({ service: 'states', resource: 'stateMachine', resourceName: names.planOnlyStateMachine(), arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    const publicConcurrency = props.publicFunctionConcurrency ?? DEFAULT_PUBLIC_FUNCTION_CONCURRENCY;
    // The repository reader's credentials: `git.centralSecret`, else the commit-status token.
    const githubToken = config.git.centralSecret ?? config.notifications.githubStatusTokenSecret;
    // Every function finds the config beside its handler and the run table in its environment;
    // besides that, each gets the variables it reads (declared beside its dependency builder).
    const tfstepFunction = (id: string, entry: string, description: string, fnProps: Omit<TfstepFunctionProps, 'entry' | 'description' | 'bundledFiles'>) =>
      new TfstepFunction(this, id, { ...fnProps, entry, description, bundledFiles, environment: { [FUNCTION_ENV.table]: this.table.tableName, ...fnProps.environment } });
    this.webhookFunction = tfstepFunction('Webhook', entries.webhook, 'tfstep webhook: verifies a git push delivery and puts the canonical event on the bus', {
      environment: { [FUNCTION_ENV.eventBus]: this.eventBus.eventBusName, [FUNCTION_ENV.webhookSecretArn]: this.webhookSecret.secretArn },
      timeoutSeconds: 15,
      reservedConcurrency: publicConcurrency ? publicConcurrency.webhook : undefined,
    });
    this.approvalFunction = tfstepFunction('Approval', entries.approval, 'tfstep approval: sends approval links and records approve/reject decisions', {
      environment: {
        [FUNCTION_ENV.artifactsBucket]: this.artifacts.bucket.bucketName,
        [FUNCTION_ENV.topicArn]: this.topic.topicArn,
        [FUNCTION_ENV.approvalKeySecretArn]: this.approvalKey.secretArn,
        [FUNCTION_ENV.auditBucket]: this.audit.bucket.bucketName,
      },
      timeoutSeconds: 30,
      reservedConcurrency: publicConcurrency ? publicConcurrency.approval : undefined,
    });
    this.pipelineFunction = tfstepFunction('PipelineSteps', entries.pipeline, 'tfstep pipeline steps: admit, targets, record, stage gates, finish', {
      // The HCL parser of terragrunt dependencies loads its WebAssembly from its own package folder.
      externalPackages: [HCL_PARSER_PACKAGE],
      environment: {
        [FUNCTION_ENV.artifactsBucket]: this.artifacts.bucket.bucketName,
        [FUNCTION_ENV.topicArn]: this.topic.topicArn,
        // Built from the name rather than taken from the construct: the state machine depends on
        // the functions, so the reverse reference would be a cycle.
        [FUNCTION_ENV.stateMachineArn]: stateMachineArn,
        // Pull request plans start plan-only executions (named ARN, for the same reason).
        [FUNCTION_ENV.planOnlyStateMachineArn]: planOnlyStateMachineArn,
        [FUNCTION_ENV.auditBucket]: this.audit.bucket.bucketName,
        ...(githubToken === undefined ? {} : { [FUNCTION_ENV.gitTokenSecretArn]: githubToken }),
      },
      timeoutSeconds: 90,
      memoryMiB: 1024,
    });

    this.grantWebhook(this.webhookFunction.role);
    this.grantApproval(this.approvalFunction.role, stateMachineArn);
    this.grantPipelineSteps(this.pipelineFunction.role, config, stateMachineArn, planOnlyStateMachineArn);
    for (const role of [this.approvalFunction.role, this.pipelineFunction.role]) {
      this.audit.grantAppend(role);
      Validations.of(role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${this.getLogicalId(this.audit.bucket.node.defaultChild as s3.CfnBucket)}.Arn>/${AUDIT_PREFIX}*]`,
        reason: 'Each audit record is a new object under records/ (its key is the time and a fresh id); the grant is s3:PutObject on those keys only, with no read or delete.',
      });
    }
    this.audit.grantConfirmApplies(this.pipelineFunction.role);
    Validations.of(this.pipelineFunction.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${this.getLogicalId(this.audit.bucket.node.defaultChild as s3.CfnBucket)}.Arn>/${AUDIT_PREFIX}*_${APPLY_RECORD_ID_PREFIX}*]`,
      reason: 'A retried record step reads back the account apply record it may already have written (its key comes from the apply), to count it as written; read only, of apply records only.',
    });

    // auth NONE: the git host's HMAC signature and the signed approval link are the authentication.
    this.webhookUrl = this.webhookFunction.function.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
    this.approvalUrl = this.approvalFunction.function.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
    this.approvalBaseUrl = new ssm.StringParameter(this, 'ApprovalBaseUrl', {
      parameterName: APPROVAL_BASE_URL_PARAMETER,
      description: 'tfstep: base URL of the approval pages (the approval function URL)',
      stringValue: this.approvalUrl.url,
    });

    this.pipeline = new PipelineStateMachine(this, 'Pipeline', {
      stateMachineName: names.stateMachine(),
      roleName: names.stateMachineRole(config.central.region),
      pipelineFunction: this.pipelineFunction.function,
      approvalFunction: this.approvalFunction.function,
      runnerContainerName: names.runnerContainer(),
      launcherRoleArns: config.accounts.map((account) => launcherRoleArn(this.partition, config, account)),
      artifactsBucket: this.artifacts.bucket,
    });

    // Plan-only runs (drift sweeps, pull-request plans) on the pipeline's role and launcher roles.
    this.planOnly = new PlanOnlyStateMachine(this, 'PlanOnly', {
      stateMachineName: names.planOnlyStateMachine(),
      role: this.pipeline.role,
      pipelineFunction: this.pipelineFunction.function,
      runnerContainerName: names.runnerContainer(),
      artifactsBucket: this.artifacts.bucket,
      driftSchedules: config.stageOrder.flatMap((stage) => {
        const expression = config.stages[stage]?.drift?.schedule;
        return expression ? [{ stage, expression }] : [];
      }),
    });

    // Accounts from AWS Organizations: trusted within the organization, refreshed on a schedule.
    const org = config.fleet?.organizations;
    if (org) {
      this.fleet = new FleetAccess(this, 'Fleet', {
        organizationId: org.id,
        organizationsRoleArn: org.roleArn,
        refreshMinutes: org.refreshMinutes,
        refreshFunction: this.pipelineFunction.function,
        refreshPayload: { action: FLEET_REFRESH_ACTION },
        stateMachineRole: this.pipeline.role,
        artifactsBucket: this.artifacts.bucket,
        accountNamePrefix: FLEET_NAME_PREFIX,
        launcherRoleName: names.launcherRole(config.central.region),
        planRoleName: names.planRole(config.central.region),
        applyRoleName: names.applyRole(config.central.region),
      });
    }

    this.gitPushRule = new GitPushRule(this, 'GitPush', {
      eventBus: this.eventBus,
      stateMachine: this.pipeline.stateMachine,
      maxEventAgeHours: 24,
      retryAttempts: 185,
    });

    this.pullRequestRule = new PullRequestRule(this, 'PullRequest', {
      eventBus: this.eventBus,
      target: this.pipelineFunction.function,
      // A pull request event older than an hour has most likely been superseded by a newer push.
      maxEventAgeHours: 1,
    });

    this.executionStatusRule = new ExecutionStatusRule(this, 'ExecutionEnded', {
      stateMachineArn: this.pipeline.stateMachine.stateMachineArn,
      moreStateMachineArns: [this.planOnly.stateMachine.stateMachineArn],
      target: this.pipelineFunction.function,
    });

    this.alarms = this.addAlarms();

    new CfnOutput(this, 'WebhookUrl', { value: this.webhookUrl.url, description: 'Payload URL for the git host webhook' });
    new CfnOutput(this, 'ApprovalUrl', { value: this.approvalUrl.url, description: 'Base URL of the approval pages' });
    new CfnOutput(this, 'WebhookSecretArn', { value: this.webhookSecret.secretArn });
    new CfnOutput(this, 'StateMachineArn', { value: this.pipeline.stateMachine.stateMachineArn });
    new CfnOutput(this, 'TopicArn', { value: this.topic.topicArn, description: 'Subscribe approvers and operators here' });
    new CfnOutput(this, 'ArtifactsBucketName', { value: this.artifacts.bucket.bucketName });
    new CfnOutput(this, 'AuditBucketName', { value: this.audit.bucket.bucketName, description: 'The audit trail: tfstep audit reads it' });
  }

  /** Reads any object of the artifacts bucket: summaries, results and logs of every account. */
  /**
   * A push the rule could not deliver to the state machine lands in the dead-letter queue and
   * is never run; a run that fails or times out applies nothing more. Either deserves a person.
   */
  private addAlarms(): CentralStack['alarms'] {
    const action = new actions.SnsAction(this.alarmTopic);
    const deadLetters = new cloudwatch.Alarm(this, 'DeadLettersAlarm', {
      alarmDescription: 'tfstep: a git push event could not start the pipeline and is in the dead-letter queue; it will not run by itself (see docs/operations.md)',
      metric: this.gitPushRule.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const machine = this.pipeline.stateMachine;
    const failedRuns = new cloudwatch.Alarm(this, 'FailedRunsAlarm', {
      alarmDescription: 'tfstep: a pipeline run failed or timed out (tfstep runs --status FAILED)',
      metric: new cloudwatch.MathExpression({
        expression: 'FILL(failed, 0) + FILL(timedOut, 0)',
        usingMetrics: { failed: machine.metricFailed({ statistic: 'Sum' }), timedOut: machine.metricTimedOut({ statistic: 'Sum' }) },
        period: Duration.minutes(5),
        label: 'failed or timed-out runs',
      }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    // An ended execution the pipeline function could not handle: its branch may stay held until
    // the next admit finds the holder gone, and its record may still say RUNNING.
    const unrecordedEnds = new cloudwatch.Alarm(this, 'UnrecordedEndsAlarm', {
      alarmDescription: 'tfstep: the end of a pipeline execution that stopped without finish could not be recorded; it is in the execution status rule\'s dead-letter queue (see docs/operations.md)',
      metric: this.executionStatusRule.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    unrecordedEnds.addAlarmAction(action);
    deadLetters.addAlarmAction(action);
    failedRuns.addAlarmAction(action);
    return { deadLetters, failedRuns, unrecordedEnds };
  }

  private grantReadArtifacts(role: iam.Role): void {
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadArtifacts',
        actions: ['s3:GetObject'],
        resources: [this.artifacts.bucket.arnForObjects('*')],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({ sid: 'ListArtifacts', actions: ['s3:ListBucket'], resources: [this.artifacts.bucket.bucketArn] }),
    );
  }

  private grantWebhook(role: iam.Role): void {
    this.webhookSecret.grantRead(role);
    this.table.grantReadWriteData(role);
    this.eventBus.grantPutEventsTo(role);
  }

  private grantApproval(role: iam.Role, stateMachineArn: string): void {
    this.approvalKey.grantRead(role);
    this.table.grantReadWriteData(role);
    this.grantPublish(role);
    this.grantReadArtifacts(role);
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'AnswerApprovalTasks',
        actions: ['states:SendTaskSuccess', 'states:SendTaskFailure', 'states:SendTaskHeartbeat'],
        resources: [stateMachineArn],
      }),
    );
    // By name, not by reference: the parameter holds this function's URL, which depends on it.
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadApprovalBaseUrl',
        actions: ['ssm:GetParameter'],
        resources: [this.formatArn({ service: 'ssm', resource: 'parameter', resourceName: APPROVAL_BASE_URL_PARAMETER.replace(/^\//, '') })],
      }),
    );
    this.acknowledgeArtifactReads(role);
  }

  private grantPipelineSteps(role: iam.Role, config: Config, stateMachineArn: string, planOnlyStateMachineArn: string): void {
    this.table.grantReadWriteData(role);
    this.grantPublish(role);
    this.grantReadArtifacts(role);
    // targets and the plan gates write the stages' item lists; runners cannot write there (`_stages` is no account name).
    role.addToPolicy(new iam.PolicyStatement({ sid: 'WriteStageItems', actions: ['s3:PutObject'], resources: [this.artifacts.bucket.arnForObjects('*/_stages/*')] }));
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${this.getLogicalId(this.artifacts.bucket.node.defaultChild as s3.CfnBucket)}.Arn>/*/_stages/*]`,
      reason: 'Each run writes its stages\' item lists under its own prefix (<execution>/_stages/); runners cannot write there.',
    });
    // ...and each account task's manifest (its modules and approved plans), which the runner reads with its own role.
    const manifests = this.artifacts.bucket.arnForObjects(`${artifactKeys.accountPrefix('*')}*${MANIFEST_SUFFIX}`);
    role.addToPolicy(new iam.PolicyStatement({ sid: 'WriteRunnerManifests', actions: ['s3:PutObject'], resources: [manifests] }));
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${this.getLogicalId(this.artifacts.bucket.node.defaultChild as s3.CfnBucket)}.Arn>/${artifactKeys.accountPrefix('*')}*${MANIFEST_SUFFIX}]`,
      reason: 'Each account task\'s manifest goes under that account\'s prefix (accounts/<account>/<execution>/<phase>.manifest.json); the grant is limited to manifest objects.',
    });
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'DescribeRuns',
        actions: ['states:DescribeExecution'],
        resources: [this.formatArn({ service: 'states', resource: 'execution', resourceName: `${names.stateMachine()}:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME })],
      }),
    );
    // Plan-only runs write their item lists, and pull request runs the modules not planned, under `<run>/_plan-only/`.
    role.addToPolicy(new iam.PolicyStatement({ sid: 'WritePlanOnlyItems', actions: ['s3:PutObject'], resources: [this.artifacts.bucket.arnForObjects('*/_plan-only/*')] }));
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${this.getLogicalId(this.artifacts.bucket.node.defaultChild as s3.CfnBucket)}.Arn>/*/_plan-only/*]`,
      reason: "Each plan-only run writes its item list under its own prefix (<execution>/_plan-only/); runners cannot write there.",
    });
    // Pull request plans: start the head's plan-only run, stop the pull request's older one.
    role.addToPolicy(new iam.PolicyStatement({ sid: 'StartPullRequestPlans', actions: ['states:StartExecution'], resources: [planOnlyStateMachineArn] }));
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'StopPullRequestPlans',
        actions: ['states:StopExecution'],
        resources: [this.formatArn({ service: 'states', resource: 'execution', resourceName: `${names.planOnlyStateMachine()}:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME })],
      }),
    );
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:${this.region}:${this.account}:execution:${names.planOnlyStateMachine()}:*]`,
      reason: "Pull request runs get a name per head commit; the grant stops executions of the plan-only state machine only.",
    });
    // The run that releases a branch wakes the runs queued on it by answering their WaitForTurn task tokens.
    role.addToPolicy(new iam.PolicyStatement({ sid: 'WakeQueuedRuns', actions: ['states:SendTaskSuccess'], resources: [stateMachineArn] }));
    const tokenSecrets = [
      ['GithubStatusToken', config.notifications.githubStatusTokenSecret],
      ['GitCredentials', config.git.centralSecret],
    ] as const;
    const granted = new Set<string>();
    for (const [id, tokenSecret] of tokenSecrets) {
      if (tokenSecret === undefined || granted.has(tokenSecret)) continue;
      granted.add(tokenSecret);
      const secret = tokenSecret.startsWith('arn:')
        ? secretsmanager.Secret.fromSecretCompleteArn(this, id, tokenSecret)
        : secretsmanager.Secret.fromSecretNameV2(this, id, tokenSecret);
      secret.grantRead(role);
      if (!tokenSecret.startsWith('arn:')) {
        Validations.of(role).acknowledge({
          id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:${this.region}:${this.account}:secret:${tokenSecret}-??????]`,
          reason: 'A secret named in the config: "-??????" is the random suffix Secrets Manager appends to every secret ARN.',
        });
      }
    }
    this.acknowledgeArtifactReads(role);
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:${this.region}:${this.account}:execution:${names.stateMachine()}:*]`,
      reason: 'Execution names are generated per push; the grant is limited to executions of the tfstep state machine.',
    });
  }

  /** Publish to the topic, which needs its KMS key. */
  private grantPublish(role: iam.Role): void {
    this.topic.grantPublish(role);
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
      reason: 'Publishing to the KMS-encrypted topic needs data keys of its one key; the grant is limited to that key.',
    });
  }

  private acknowledgeArtifactReads(role: iam.Role): void {
    const bucketLogicalId = this.getLogicalId(this.artifacts.bucket.node.defaultChild as s3.CfnBucket);
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${bucketLogicalId}.Arn>/*]`,
      reason: 'Artifacts are keyed by execution name, account and module; the function reads summaries and results of any run.',
    });
  }
}
