import type { CfnElement } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import type { TfstepApp } from '../../lib/app';
import { DEFAULT_BASE_URL_PARAMETER } from '../../lib/approval/deps';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildApp } from '../../lib/app';
import { BUNDLED_CONFIG_FILE } from '../../lib/env';
import { names } from '../../lib/domain/names';
import { PUSH_EVENT_DETAIL_TYPE, PUSH_EVENT_SOURCE } from '../../lib/domain/push-event';
import { FUNCTION_ENV } from '../../lib/domain/function-env';
import { APPROVAL_BASE_URL_PARAMETER } from '../../lib/stacks/central-stack';
import { PIPELINE_PLACEHOLDERS, placeholdersIn, readPipelineDefinition } from '../../lib/statemachine/definition';
import { buildExampleApp, FIXTURE_ENTRIES, removeTempDirs, render, statementsOf, tempDir, writeExampleVariant, type Statement } from './support';

const REGION = 'us-east-1';
const CENTRAL = '999999999999';
const ACCOUNTS = { dev: '111111111111', stage: '222222222222', prod: '333333333333' };

function logicalIdOf(template: Template, type: string, props: Record<string, unknown> = {}): string {
  const ids = Object.keys(template.findResources(type, { Properties: props }));
  expect(ids).toHaveLength(1);
  return ids[0]!;
}

function inlineStatements(template: Template, roleLogicalId: string): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleLogicalId))
    .flatMap((p) => statementsOf(p.Properties.PolicyDocument));
}

describe('central stack', () => {
  let built: TfstepApp;
  let template: Template;

  beforeAll(() => {
    // GIVEN the example config; WHEN the app is built
    built = buildExampleApp();
    template = Template.fromStack(built.central);
  });

  afterAll(removeTempDirs);

  it('deploys to the central account and region', () => {
    // THEN
    expect(built.central.account).toBe(CENTRAL);
    expect(built.central.region).toBe(REGION);
    expect(built.central.stackName).toBe(names.centralStack());
  });

  it('keeps the logical ids of stateful resources', () => {
    // THEN renaming any of these would replace the resource and lose its data
    expect(logicalIdOf(template, 'AWS::DynamoDB::Table')).toBe('RunTable09D1EA90');
    expect(logicalIdOf(template, 'AWS::S3::Bucket', { BucketName: names.artifactsBucket(CENTRAL, REGION) })).toBe('ArtifactsBucket88671897');
    expect(logicalIdOf(template, 'AWS::S3::Bucket', { LoggingConfiguration: Match.absent() })).toBe('ArtifactsAccessLogs4D97777C');
    expect(logicalIdOf(template, 'AWS::KMS::Key')).toBe('TopicKeyB2E0C9CB');
    expect(logicalIdOf(template, 'AWS::SecretsManager::Secret', { Name: 'tfstep/webhook-secret' })).toBe('WebhookSecretF21E29CC');
    expect(logicalIdOf(template, 'AWS::SecretsManager::Secret', { Name: 'tfstep/approval-link-key' })).toBe('ApprovalKey5E5C8775');
  });

  it('keeps the run table durable: pk/sk, TTL, point-in-time recovery, encryption, retained', () => {
    // THEN
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        TableName: names.runTable(),
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: Match.arrayWith([
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ]),
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
      },
    });
  });

  it('runs the real pipeline definition, with exactly its placeholders substituted', () => {
    // GIVEN
    const definition = new Capture();
    const substitutions = new Capture();
    // WHEN
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      DefinitionString: definition,
      DefinitionSubstitutions: substitutions,
    });
    // THEN
    expect(definition.asString()).toBe(readPipelineDefinition());
    const keys = Object.keys(substitutions.asObject()).sort();
    expect(keys).toEqual([...PIPELINE_PLACEHOLDERS].sort());
    expect(keys).toEqual([...placeholdersIn(readPipelineDefinition())].sort());
    expect(render(substitutions.asObject())).toEqual({
      Partition: 'aws',
      PipelineFunctionArn: `<${logicalIdOf(template, 'AWS::Lambda::Function', { Description: Match.stringLikeRegexp('pipeline steps') })}.Arn>`,
      ApprovalFunctionArn: `<${logicalIdOf(template, 'AWS::Lambda::Function', { Description: Match.stringLikeRegexp('tfstep approval') })}.Arn>`,
      RunnerContainerName: names.runnerContainer(),
    });
  });

  it('logs every state machine event and traces executions', () => {
    // THEN
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineName: names.stateMachine(),
      StateMachineType: 'STANDARD',
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: true, Destinations: [Match.anyValue()] },
      TracingConfiguration: { Enabled: true },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: `/aws/vendedlogs/states/${names.stateMachine()}`,
      RetentionInDays: Match.anyValue(),
    });
  });

  it('grants the state machine role what the raw definition needs, by name', () => {
    // GIVEN
    const roleId = logicalIdOf(template, 'AWS::IAM::Role', { RoleName: names.stateMachineRole(REGION) });
    // WHEN
    const statements = inlineStatements(template, roleId);
    const byAction = (action: string) => statements.filter((s) => s.Action.includes(action));
    // THEN it invokes exactly the two functions
    expect(byAction('lambda:InvokeFunction').flatMap((s) => s.Resource).sort()).toEqual(
      [
        `<${logicalIdOf(template, 'AWS::Lambda::Function', { Description: Match.stringLikeRegexp('pipeline steps') })}.Arn>`,
        `<${logicalIdOf(template, 'AWS::Lambda::Function', { Description: Match.stringLikeRegexp('tfstep approval') })}.Arn>`,
      ].sort(),
    );
    // AND assumes each configured account's launcher role
    expect(byAction('sts:AssumeRole').flatMap((s) => s.Resource).sort()).toEqual(
      Object.values(ACCOUNTS).map((id) => `arn:aws:iam::${id}:role/${names.launcherRole(REGION)}`).sort(),
    );
    // AND manages the rule Step Functions watches ECS tasks with (.sync)
    for (const action of ['events:PutTargets', 'events:PutRule', 'events:DescribeRule']) {
      expect(byAction(action).flatMap((s) => s.Resource)).toEqual([`arn:aws:events:${REGION}:${CENTRAL}:rule/StepFunctionsGetEventsForECSTaskRule`]);
    }
    // AND runs the Distributed Maps: starts children of itself only, follows and redrives them
    const sm = names.stateMachine();
    // (and those of the plan-only state machine, which runs on the same role)
    const po = names.planOnlyStateMachine();
    expect(byAction('states:StartExecution').flatMap((s) => s.Resource)).toEqual([`arn:aws:states:${REGION}:${CENTRAL}:stateMachine:${sm}`, `arn:aws:states:${REGION}:${CENTRAL}:stateMachine:${po}`]);
    expect(byAction('states:DescribeExecution').flatMap((s) => s.Resource)).toEqual([`arn:aws:states:${REGION}:${CENTRAL}:execution:${sm}/*`, `arn:aws:states:${REGION}:${CENTRAL}:execution:${po}/*`]);
    expect(byAction('states:StopExecution').flatMap((s) => s.Resource)).toEqual([`arn:aws:states:${REGION}:${CENTRAL}:execution:${sm}/*`, `arn:aws:states:${REGION}:${CENTRAL}:execution:${po}/*`]);
    expect(byAction('states:RedriveExecution').flatMap((s) => s.Resource).sort()).toEqual(
      ['Accounts'].map((label) => `arn:aws:states:${REGION}:${CENTRAL}:execution:${sm}/${label}:*`),
    );
    // AND reads the stages' (and plan-only runs') item lists and writes the Map results beside them, nowhere else in the bucket
    for (const action of ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts']) {
      expect(byAction(action).flatMap((s) => s.Resource)).toEqual(['<ArtifactsBucket88671897.Arn>/*/_stages/*', '<ArtifactsBucket88671897.Arn>/*/_plan-only/*']);
    }
    // AND only Step Functions acting for this account may assume it
    template.hasResourceProperties('AWS::IAM::Role', {
      RoleName: names.stateMachineRole(REGION),
      AssumeRolePolicyDocument: {
        Statement: [Match.objectLike({ Principal: { Service: 'states.amazonaws.com' }, Condition: { StringEquals: { 'aws:SourceAccount': CENTRAL } } })],
      },
    });
  });

  it('routes canonical pushes on the tfstep bus to the state machine, with retries and a dead-letter queue', () => {
    // GIVEN
    const queueId = built.central.getLogicalId(built.central.gitPushRule.deadLetterQueue.node.defaultChild as CfnElement);
    // THEN
    template.hasResourceProperties('AWS::Events::EventBus', { Name: names.eventBus() });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { Ref: logicalIdOf(template, 'AWS::Events::EventBus') },
      EventPattern: { source: [PUSH_EVENT_SOURCE], 'detail-type': [PUSH_EVENT_DETAIL_TYPE] },
      Targets: [
        Match.objectLike({
          Arn: { Ref: logicalIdOf(template, 'AWS::StepFunctions::StateMachine', { StateMachineName: names.stateMachine() }) },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [queueId, 'Arn'] } },
          RetryPolicy: { MaximumEventAgeInSeconds: 86400, MaximumRetryAttempts: 185 },
        }),
      ],
    });
  });

  it('hands every pipeline execution that ended FAILED, TIMED_OUT or ABORTED to the pipeline function, from the default bus', () => {
    // GIVEN
    const fnId = logicalIdOf(template, 'AWS::Lambda::Function', { Description: Match.stringLikeRegexp('pipeline steps') });
    const queueId = built.central.getLogicalId(built.central.executionStatusRule.deadLetterQueue.node.defaultChild as CfnElement);
    // THEN the rule is on the default bus (no EventBusName), matches only the pipeline's own executions
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: Match.absent(),
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: {
          status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
          // the pipeline's executions, and the plan-only ones (a pull request run that fails before its finish step fails its check run)
          stateMachineArn: [
            { Ref: logicalIdOf(template, 'AWS::StepFunctions::StateMachine', { StateMachineName: names.stateMachine() }) },
            { Ref: logicalIdOf(template, 'AWS::StepFunctions::StateMachine', { StateMachineName: names.planOnlyStateMachine() }) },
          ],
        },
      },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [fnId, 'Arn'] },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [queueId, 'Arn'] } },
          RetryPolicy: { MaximumEventAgeInSeconds: 86400, MaximumRetryAttempts: 185 },
        }),
      ],
    });
    // AND EventBridge may invoke the function for that rule
    template.hasResourceProperties('AWS::Lambda::Permission', { Action: 'lambda:InvokeFunction', Principal: 'events.amazonaws.com', FunctionName: { 'Fn::GetAtt': [fnId, 'Arn'] } });
  });

  it('encrypts the dead-letter queue and refuses it over plain HTTP', () => {
    // THEN
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({ Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' }, Action: 'sqs:SendMessage' }),
        ]),
      },
    });
  });

  it('runs every function on ARM64 and Node.js 22 with a log group that expires', () => {
    // GIVEN
    const functions = template.findResources('AWS::Lambda::Function');
    const logGroups = template.findResources('AWS::Logs::LogGroup');
    // THEN
    expect(Object.keys(functions)).toHaveLength(3);
    for (const fn of Object.values(functions)) {
      expect(fn.Properties.Architectures).toEqual(['arm64']);
      expect(fn.Properties.Runtime).toMatch(/^nodejs(22|24)\.x$/);
      const logGroup = (fn.Properties.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
      expect(logGroups[logGroup]?.Properties.RetentionInDays).toEqual(expect.any(Number));
    }
  });

  it('gives the functions the config and every resource name, without a cycle through the state machine', () => {
    // GIVEN
    const env = new Capture();
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('pipeline steps'),
      Environment: { Variables: env },
    });
    // WHEN
    const vars = render(env.asObject()) as Record<string, string>;
    // THEN
    // (that each function gets what its reader requires is checked in function-env.test.ts)
    expect(vars[FUNCTION_ENV.gitTokenSecretArn]).toBeUndefined();
    // The config travels in the bundle, not in the 4 KiB environment.
    expect(vars.TFSTEP_CONFIG).toBeUndefined();
    expect(vars[FUNCTION_ENV.stateMachineArn]).toBe(`arn:aws:states:${REGION}:${CENTRAL}:stateMachine:${names.stateMachine()}`);
    expect(vars[FUNCTION_ENV.table]).toBe(`<${logicalIdOf(template, 'AWS::DynamoDB::Table')}>`);
  });

  it('subscribes each approver by email, filtered to the messages that carry their own link', () => {
    // THEN one subscription per distinct approver of the example config, each with its filter
    const subs = template.findResources('AWS::SNS::Subscription');
    const endpoints = Object.values(subs).map((r) => r.Properties.Endpoint as string).sort();
    expect(endpoints).toEqual(['alice@example.com', 'bob@example.com', 'carol@example.com']);
    for (const sub of Object.values(subs)) {
      expect(sub.Properties.Protocol).toBe('email');
      expect(sub.Properties.FilterPolicy).toEqual({ approver: [sub.Properties.Endpoint] });
    }
  });

  it('exposes the webhook and approval functions through function URLs without IAM auth', () => {
    // THEN
    template.resourceCountIs('AWS::Lambda::Url', 2);
    template.allResourcesProperties('AWS::Lambda::Url', { AuthType: 'NONE' });
  });

  it('keeps the artifacts bucket encrypted, TLS-only, versioned, owner-enforced and private', () => {
    // THEN
    template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: {
        BucketName: names.artifactsBucket(CENTRAL, REGION),
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
        VersioningConfiguration: { Status: 'Enabled' },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        LoggingConfiguration: { DestinationBucketName: { Ref: 'ArtifactsAccessLogs4D97777C' }, LogFilePrefix: 'artifacts/' },
        LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ NoncurrentVersionExpiration: Match.anyValue(), Status: 'Enabled' })]) },
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: 'ArtifactsBucket88671897' },
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it("lets each account's plan and apply roles read and write only under their account's prefix", () => {
    // GIVEN
    const policy = Object.values(template.findResources('AWS::S3::BucketPolicy', { Properties: { Bucket: { Ref: 'ArtifactsBucket88671897' } } }))[0]!;
    // WHEN
    const grants = statementsOf(policy.Properties.PolicyDocument).filter((s) => s.Effect === 'Allow');
    // THEN
    expect(grants).toHaveLength(3);
    for (const [name, id] of Object.entries(ACCOUNTS)) {
      const grant = grants.find((s) => s.Resource.includes(`<ArtifactsBucket88671897.Arn>/accounts/${name}/*`));
      expect(grant).toMatchObject({
        Action: ['s3:GetObject', 's3:PutObject'],
        Resource: [`<ArtifactsBucket88671897.Arn>/accounts/${name}/*`],
        Principal: { AWS: `arn:aws:iam::${id}:root` },
        Condition: { ArnEquals: { 'aws:PrincipalArn': [`arn:aws:iam::${id}:role/${names.planRole(REGION)}`, `arn:aws:iam::${id}:role/${names.applyRole(REGION)}`] } },
      });
    }
  });

  it('encrypts the notification topic with its own rotating key and refuses plain HTTP', () => {
    // THEN
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    template.hasResourceProperties('AWS::SNS::Topic', { TopicName: names.topic(), KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it('hands the GitHub token secret to the pipeline function only, when the config names one', () => {
    // GIVEN a config with a GitHub token secret
    const file = writeExampleVariant((doc) => {
      doc.notifications = { githubStatusTokenSecret: 'tfstep/github-token' };
    });
    // WHEN
    const withToken = Template.fromStack(buildExampleApp({}, file).central);
    // THEN the pipeline function gets it and may read it
    withToken.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('pipeline steps'),
      Environment: { Variables: Match.objectLike({ [FUNCTION_ENV.gitTokenSecretArn]: 'tfstep/github-token' }) },
    });
    withToken.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
            Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:secretsmanager:${REGION}:${CENTRAL}:secret:tfstep/github-token-??????`]] },
          }),
        ]),
      },
    });
    // AND no other function sees it
    const others = withToken.findResources('AWS::Lambda::Function', {
      Properties: { Environment: { Variables: Match.objectLike({ [FUNCTION_ENV.gitTokenSecretArn]: Match.anyValue() }) } },
    });
    expect(Object.keys(others)).toHaveLength(1);
  });

  it('locks audit records for the retention the config sets', () => {
    // GIVEN a config keeping records seven years
    const file = writeExampleVariant((doc) => {
      doc.audit = { retentionDays: 2557 };
    });
    // WHEN
    const central = Template.fromStack(buildExampleApp({}, file).central);
    // THEN
    central.hasResourceProperties('AWS::S3::Bucket', {
      BucketName: names.auditBucket(CENTRAL, REGION),
      ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 2557 } } },
    });
  });

  it('bundles a config larger than the 4 KiB Lambda environment beside each handler', () => {
    // GIVEN a config with 21 accounts, about twice what the Lambda environment could hold
    const file = writeExampleVariant((doc) => {
      const [first] = doc.accounts as Record<string, unknown>[];
      const stages = ['dev', 'stage', 'prod'];
      doc.accounts = Array.from({ length: 21 }, (_, i) => ({ ...first, name: `acct-${i}`, id: String(100000000000 + i), stage: stages[i % 3] }));
    });
    // WHEN the app is built with bundling on
    const outdir = tempDir('tfstep-cdk-bundled-');
    const built = buildApp(file, outdir, { functionEntries: FIXTURE_ENTRIES, validate: false });
    built.app.synth();
    // THEN every function's asset holds the whole validated config as tfstep-config.json
    const functions = Object.values(Template.fromStack(built.central).findResources('AWS::Lambda::Function')).filter((f) => f.Properties.Handler === 'index.handler');
    expect(functions).toHaveLength(3);
    const bundled = functions.map((f) => join(outdir, `asset.${String(f.Properties.Code.S3Key).replace(/\.zip$/, '')}`, BUNDLED_CONFIG_FILE));
    for (const f of bundled) expect(existsSync(f)).toBe(true);
    const configJson = JSON.stringify(built.config);
    expect(Buffer.byteLength(configJson)).toBeGreaterThan(4096);
    for (const f of bundled) expect(JSON.parse(readFileSync(f, 'utf8'))).toEqual(JSON.parse(configJson));
  });

  it('reserves concurrency for the two functions behind public URLs only, so a flood cannot starve the pipeline function', () => {
    const reserved = (description: string) =>
      Object.values(template.findResources('AWS::Lambda::Function', { Properties: { Description: Match.stringLikeRegexp(description) } }))[0]!.Properties.ReservedConcurrentExecutions as unknown;
    expect([reserved('tfstep webhook'), reserved('tfstep approval'), reserved('pipeline steps')]).toEqual([10, 5, undefined]);
    // AND both public functions are the ones with a URL
    expect(Object.keys(template.findResources('AWS::Lambda::Url'))).toHaveLength(2);
  });

  it('alarms on a dead-lettered push, an unrecorded execution end and failed or timed-out runs, to an alarm topic CloudWatch can publish to', () => {
    // WHEN
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    const [topicId] = Object.keys(template.findResources('AWS::SNS::Topic', { Properties: { TopicName: names.alarmTopic() } }));
    // THEN
    expect(alarms).toHaveLength(3);
    for (const alarm of alarms) {
      expect(alarm.Properties).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching', AlarmActions: [{ Ref: topicId }] });
    }
    // one on each dead-letter queue: the git push rule's and the execution status rule's
    const dlqs = alarms.filter((a) => a.Properties.MetricName === 'ApproximateNumberOfMessagesVisible');
    expect(dlqs.map((a) => a.Properties.Namespace)).toEqual(['AWS/SQS', 'AWS/SQS']);
    const queueOf = (q: { node: { defaultChild?: unknown } }) => built.central.getLogicalId(q.node.defaultChild as CfnElement);
    expect(dlqs.map((a) => (a.Properties.Dimensions as { Value: { 'Fn::GetAtt': string[] } }[])[0]!.Value['Fn::GetAtt'][0]).sort()).toEqual(
      [queueOf(built.central.gitPushRule.deadLetterQueue), queueOf(built.central.executionStatusRule.deadLetterQueue)].sort(),
    );
    const runs = alarms.find((a) => Array.isArray(a.Properties.Metrics));
    const metricNames = (runs!.Properties.Metrics as { MetricStat?: { Metric: { MetricName: string; Namespace: string } } }[])
      .filter((m) => m.MetricStat)
      .map((m) => `${m.MetricStat!.Metric.Namespace}/${m.MetricStat!.Metric.MetricName}`)
      .sort();
    expect(metricNames).toEqual(['AWS/States/ExecutionsFailed', 'AWS/States/ExecutionsTimedOut']);
    // AND the encrypted topic's key lets CloudWatch publish
    const key = Object.values(template.findResources('AWS::KMS::Key'))[0]!;
    const cw = statementsOf(key.Properties.KeyPolicy).find((st) => st.Sid === 'CloudWatchAlarmsPublish');
    expect(cw).toMatchObject({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'] });
  });
});

describe('central function grants', () => {
  let template: Template;

  beforeAll(() => {
    // GIVEN the example app
    template = Template.fromStack(buildExampleApp().central);
  });

  afterAll(removeTempDirs);

  /** Actions of a function's role, each with the resources it is granted on. */
  function grantsOf(descriptionPattern: string): Record<string, string[]> {
    const roleId = logicalIdOf(template, 'AWS::IAM::Role', { Description: Match.stringLikeRegexp(descriptionPattern) });
    const grants: Record<string, string[]> = {};
    for (const s of inlineStatements(template, roleId)) {
      expect(s.Effect).toBe('Allow');
      for (const a of s.Action) grants[a] = [...(grants[a] ?? []), ...s.Resource].sort();
    }
    return grants;
  }

  it('lets the webhook function read its secret, write the run table and put events on the bus, nothing else', () => {
    // WHEN
    const grants = grantsOf('tfstep webhook');
    // THEN
    expect(Object.keys(grants).filter((a) => !a.startsWith('dynamodb:')).sort()).toEqual(
      ['events:PutEvents', 'logs:CreateLogStream', 'logs:PutLogEvents', 'secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'].sort(),
    );
    expect(grants['secretsmanager:GetSecretValue']).toEqual([`<${logicalIdOf(template, 'AWS::SecretsManager::Secret', { Name: 'tfstep/webhook-secret' })}>`]);
    expect(grants['events:PutEvents']).toEqual([`<${logicalIdOf(template, 'AWS::Events::EventBus')}.Arn>`]);
    expect(grants['dynamodb:PutItem']).toEqual([`<RunTable09D1EA90.Arn>`]);
  });

  it('lets the approval function answer task tokens of the pipeline only', () => {
    // WHEN
    const grants = grantsOf('tfstep approval');
    // THEN
    for (const action of ['states:SendTaskSuccess', 'states:SendTaskFailure']) {
      expect(grants[action]).toEqual([`arn:aws:states:${REGION}:${CENTRAL}:stateMachine:${names.stateMachine()}`]);
    }
    expect(grants['secretsmanager:GetSecretValue']).toEqual([`<${logicalIdOf(template, 'AWS::SecretsManager::Secret', { Name: 'tfstep/approval-link-key' })}>`]);
    expect(grants['sns:Publish']).toEqual([`<${logicalIdOf(template, 'AWS::SNS::Topic', { TopicName: names.topic() })}>`]);
    expect(grants['s3:GetObject']).toEqual(['<ArtifactsBucket88671897.Arn>/*']);
    // AND it appends audit records, and writes nothing else
    expect(grants['s3:PutObject']).toEqual(['<AuditBucket7486E833.Arn>/records/*']);
    expect(Object.keys(grants).some((a) => (a.startsWith('s3:Put') && a !== 's3:PutObject') || a.startsWith('s3:Delete'))).toBe(false);
  });

  it('keeps audit records in a bucket with Object Lock in compliance mode, the configured retention, and no way to delete them', () => {
    // THEN the bucket locks every record for the default retention in compliance mode
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketName: names.auditBucket(CENTRAL, REGION),
      ObjectLockEnabled: true,
      ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 400 } } },
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
    });
    // AND the bucket and its logical id are kept (stateful: a new logical id would be a new, empty trail)
    template.hasResource('AWS::S3::Bucket', { Properties: Match.objectLike({ BucketName: names.auditBucket(CENTRAL, REGION) }), DeletionPolicy: 'Retain' });
    expect(logicalIdOf(template, 'AWS::S3::Bucket', { BucketName: names.auditBucket(CENTRAL, REGION) })).toBe('AuditBucket7486E833');
    // AND its policy denies deleting records or changing their lock to everyone
    const policy = new Capture();
    template.hasResourceProperties('AWS::S3::BucketPolicy', { Bucket: { Ref: 'AuditBucket7486E833' }, PolicyDocument: { Statement: policy } });
    const deny = (policy.asArray() as { Sid?: string; Effect: string; Action: string[] }[]).find((s) => s.Sid === 'DenyDeletingAuditRecords');
    expect(deny?.Effect).toBe('Deny');
    expect(deny?.Action).toEqual(expect.arrayContaining(['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:PutObjectRetention']));
    // AND no function may delete anything in it
    for (const fn of ['tfstep approval', 'tfstep pipeline steps', 'tfstep webhook']) {
      const grants = grantsOf(fn);
      for (const [action, resources] of Object.entries(grants)) {
        if (resources.some((r) => r.includes('AuditBucket'))) expect(['s3:PutObject', 's3:GetObject']).toContain(action);
      }
    }
  });

  it('publishes the approval function URL in SSM and lets the approval function read it by name', () => {
    // GIVEN
    const urlId = logicalIdOf(template, 'AWS::Lambda::Url', { TargetFunctionArn: Match.objectLike({ 'Fn::GetAtt': Match.arrayWith([Match.stringLikeRegexp('^Approval')]) }) });
    // THEN the parameter holds the URL
    template.hasResourceProperties('AWS::SSM::Parameter', { Name: APPROVAL_BASE_URL_PARAMETER, Value: { 'Fn::GetAtt': [urlId, 'FunctionUrl'] } });
    // AND the function reads it by its name (a reference would be a cycle through the function)
    expect(grantsOf('tfstep approval')['ssm:GetParameter']).toEqual([`arn:aws:ssm:${REGION}:${CENTRAL}:parameter${APPROVAL_BASE_URL_PARAMETER}`]);
    // AND it is the name the approval function looks for
    expect(APPROVAL_BASE_URL_PARAMETER).toBe(DEFAULT_BASE_URL_PARAMETER);
  });

  it('lets the pipeline function describe executions of the pipeline and read artifacts, and write only the stages\' item lists and the runner manifests', () => {
    // WHEN
    const grants = grantsOf('tfstep pipeline steps');
    // THEN
    expect(grants['states:DescribeExecution']).toEqual([`arn:aws:states:${REGION}:${CENTRAL}:execution:${names.stateMachine()}:*`]);
    // AND of the audit bucket it reads back only the account applies' records (a retried record step confirms its record)
    expect(grants['s3:GetObject']).toEqual(['<ArtifactsBucket88671897.Arn>/*', '<AuditBucket7486E833.Arn>/records/*_apply-*']);
    // A missing key answers NoSuchKey (not AccessDenied) only with ListBucket.
    expect(grants['s3:ListBucket']).toEqual(['<ArtifactsBucket88671897.Arn>']);
    // targets and the plan gates write item lists under <execution>/_stages/, which no runner may write (no account is named "_stages")
    // AND each account task's manifest under that account's prefix, only as a manifest object
    // AND plan-only runs' item lists under <execution>/_plan-only/
    expect(grants['s3:PutObject']).toEqual(['<ArtifactsBucket88671897.Arn>/*/_plan-only/*', '<ArtifactsBucket88671897.Arn>/*/_stages/*', '<ArtifactsBucket88671897.Arn>/accounts/*/*.manifest.json', '<AuditBucket7486E833.Arn>/records/*']);
    // AND it answers task tokens of the pipeline only, to wake queued runs; it never fails or stops a pipeline run
    expect(grants['states:SendTaskSuccess']).toEqual([`arn:aws:states:${REGION}:${CENTRAL}:stateMachine:${names.stateMachine()}`]);
    // AND it starts and stops pull request plans on the plan-only state machine only
    expect(grants['states:StartExecution']).toEqual([`arn:aws:states:${REGION}:${CENTRAL}:stateMachine:${names.planOnlyStateMachine()}`]);
    expect(grants['states:StopExecution']).toEqual([`arn:aws:states:${REGION}:${CENTRAL}:execution:${names.planOnlyStateMachine()}:*`]);
    expect(Object.keys(grants).filter((a) => /^(s3:Delete|states:SendTaskFailure|secretsmanager:)/.test(a))).toEqual([]);
  });
});
