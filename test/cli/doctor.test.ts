import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DescribeClustersCommand, DescribeTaskDefinitionCommand, ECSClient } from '@aws-sdk/client-ecs';
import { IAMClient, SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import { DescribeSecretCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DescribeStateMachineCommand, SFNClient, StateMachineDoesNotExist } from '@aws-sdk/client-sfn';
import { ListSubscriptionsByTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { CENTRAL_SECRET_NAMES } from '../../lib/stacks/central-stack';
import { DoctorReportSchema, WEBHOOK_SECRET_NAME } from '../../lib/operator/doctor';
import { runCli } from './run-cli';

const CONFIG = join(__dirname, '..', '..', 'examples', 'tfstep.yaml');
const SM_ARN = 'arn:aws:states:us-east-1:999999999999:stateMachine:tfstep-pipeline';
const SM_ROLE = 'arn:aws:iam::999999999999:role/tfstep-pipeline-us-east-1';
const launcher = (id: string) => `arn:aws:iam::${id}:role/tfstep-launcher-us-east-1`;

describe('tfstep doctor', () => {
  const sts = mockClient(STSClient);
  const iam = mockClient(IAMClient);
  const sfn = mockClient(SFNClient);
  const secrets = mockClient(SecretsManagerClient);
  const sns = mockClient(SNSClient);
  const ecs = mockClient(ECSClient);

  /** A healthy installation: every call answers as a deployed setup would. */
  function healthy(): void {
    for (const m of [sts, iam, sfn, secrets, sns, ecs]) m.reset();
    sts.on(GetCallerIdentityCommand).resolves({ Account: '999999999999', Arn: 'arn:aws:sts::999999999999:assumed-role/Admin/me' });
    sts.on(AssumeRoleCommand).resolves({ Credentials: { AccessKeyId: 'AKIA', SecretAccessKey: 's', SessionToken: 't', Expiration: new Date() } });
    sfn.on(DescribeStateMachineCommand, { stateMachineArn: SM_ARN }).resolves({ stateMachineArn: SM_ARN, roleArn: SM_ROLE, status: 'ACTIVE', type: 'STANDARD' } as any);
    secrets.on(DescribeSecretCommand, { SecretId: WEBHOOK_SECRET_NAME }).resolves({ Name: WEBHOOK_SECRET_NAME });
    sns.on(ListSubscriptionsByTopicCommand).resolves({ Subscriptions: [{ SubscriptionArn: 'arn:aws:sns:us-east-1:999999999999:tfstep-notifications:1', Protocol: 'email' }] });
    iam.on(SimulatePrincipalPolicyCommand).resolves({ EvaluationResults: [{ EvalActionName: 'sts:AssumeRole', EvalDecision: 'allowed' }] });
    ecs.on(DescribeClustersCommand).resolves({ clusters: [{ clusterName: 'tfstep-us-east-1', status: 'ACTIVE' }] });
    ecs.on(DescribeTaskDefinitionCommand).callsFake((input: { taskDefinition: string }) => Promise.resolve({ taskDefinition: { family: input.taskDefinition, revision: 3, status: 'ACTIVE' } }));
  }
  beforeEach(healthy);

  it('reports a healthy setup and exits 0', async () => {
    // WHEN doctor runs against a healthy setup
    const res = await runCli(['doctor', '--config', CONFIG, '--json']);
    // THEN every check is ok
    expect(res.code).toBe(0);
    const report = DoctorReportSchema.parse(JSON.parse(res.stdout));
    expect(report).toEqual(expect.objectContaining({ ok: true, problems: 0, unchecked: 0 }));
    expect(report.checks.map((c) => c.check)).toEqual([
      'credentials',
      'state-machine',
      'webhook-secret',
      'topic',
      ...['dev', 'stage', 'prod'].flatMap(() => ['launcher.policy', 'launcher.assume', 'cluster', 'task-definition', 'task-definition']),
    ]);
    // AND each launcher role was simulated for the state machine role and assumed with the ExternalId
    expect(iam.commandCalls(SimulatePrincipalPolicyCommand).map((c) => c.args[0].input)).toContainEqual({ PolicySourceArn: SM_ROLE, ActionNames: ['sts:AssumeRole'], ResourceArns: [launcher('333333333333')] });
    expect(sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input.ExternalId)).toEqual([SM_ARN, SM_ARN, SM_ARN]);
  });

  it('names every problem with what to do, and exits 3', async () => {
    // GIVEN a missing state machine and secret, a topic nobody confirmed, a launcher the role may not assume, an inactive cluster
    sfn.on(DescribeStateMachineCommand).rejects(new StateMachineDoesNotExist({ message: 'State Machine Does Not Exist', $metadata: {} }));
    secrets.on(DescribeSecretCommand).rejects(new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret.", $metadata: {} }));
    sns.on(ListSubscriptionsByTopicCommand).resolves({ Subscriptions: [{ SubscriptionArn: 'PendingConfirmation' }] });
    iam.on(SimulatePrincipalPolicyCommand, { ResourceArns: [launcher('222222222222')] }).resolves({ EvaluationResults: [{ EvalActionName: 'sts:AssumeRole', EvalDecision: 'implicitDeny' }] });
    ecs.on(DescribeClustersCommand).resolves({ clusters: [], failures: [{ arn: 'x', reason: 'MISSING' }] });
    // WHEN doctor runs
    const res = await runCli(['doctor', '--config', CONFIG]);
    // THEN the exit code says setup problems were found, and each says how to fix it
    expect(res.code).toBe(3);
    expect(res.stdout).toContain('PROBLEM    state-machine    ' + SM_ARN);
    expect(res.stdout).toContain('fix: deploy the central stack first: npx cdk deploy tfstep-central (in 999999999999 us-east-1)');
    expect(res.stdout).toContain("fix: deploy the central stack (tfstep-central), which creates it; then set the same value as the git host's webhook secret");
    expect(res.stdout).toContain('fix: confirm the subscription from the email AWS sent');
    expect(res.stdout).toContain(`the state machine role ${SM_ROLE} may not assume ${launcher('222222222222')} (implicitDeny)`);
    expect(res.stdout).toContain('fix: add account stage to the config and redeploy the central stack (tfstep-central)');
    expect(res.stdout).toContain('cluster tfstep-us-east-1 is missing');
    expect(res.stdout).toContain('fix: deploy the account stack: npx cdk deploy tfstep-account-dev (in 111111111111 us-east-1)');
    expect(res.stdout).toMatch(/\n\d+ problems found\n$/);
  });

  it('reports what it cannot check when the launcher roles refuse the caller, without calling it ok', async () => {
    sts.on(AssumeRoleCommand).rejects(Object.assign(new Error('not authorized to perform: sts:AssumeRole'), { name: 'AccessDenied' }));
    const res = await runCli(['doctor', '--config', CONFIG, '--json']);
    expect(res.code).toBe(0);
    const report = DoctorReportSchema.parse(JSON.parse(res.stdout));
    expect(report.unchecked).toBe(3);
    const dev = report.checks.find((c) => c.check === 'launcher.assume' && c.subject.startsWith('account dev'))!;
    expect(dev.status).toBe('unchecked');
    expect(dev.fix).toBe('in account 111111111111: aws ecs describe-clusters --clusters tfstep-us-east-1 --region us-east-1 (if the launcher role is missing, deploy tfstep-account-dev there)');
    expect(dev.detail).toContain('cannot assume arn:aws:iam::111111111111:role/tfstep-launcher-us-east-1 (AccessDenied); expected');
    expect(ecs.commandCalls(DescribeClustersCommand)).toHaveLength(0);
  });

  it('fails when no credentials are found, saying how to provide them, and checks nothing else', async () => {
    sts.on(GetCallerIdentityCommand).rejects(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }));
    const res = await runCli(['doctor', '--config', CONFIG]);
    expect(res.code).toBe(3);
    expect(res.stdout).toContain('no usable AWS credentials found');
    expect(res.stdout).toContain('fix: provide credentials of the central account: AWS_PROFILE=<profile> (after `aws sso login --profile <profile>` for SSO)');
    expect(sfn.commandCalls(DescribeStateMachineCommand)).toHaveLength(0);
    // AND the exit-code table of the manual says the same of doctor without credentials
    const table = new Map(
      [...readFileSync(join(__dirname, '..', '..', 'docs', 'operations.md'), 'utf8').matchAll(/^\| (\d) \| (.*) \|$/gm)].map((m) => [Number(m[1]), m[2]!]),
    );
    expect(table.get(3)).toMatch(/doctor.*credentials|credentials.*doctor/);
    expect(table.get(2)).toMatch(/no AWS credentials \(every command but `doctor`/);
  });

  it('fails when the credentials are of another account', async () => {
    sts.on(GetCallerIdentityCommand).resolves({ Account: '111111111111', Arn: 'arn:aws:sts::111111111111:assumed-role/Dev/me' });
    const res = await runCli(['doctor', '--config', CONFIG, '--json']);
    const report = DoctorReportSchema.parse(JSON.parse(res.stdout));
    expect(report.checks[0]).toEqual(expect.objectContaining({ check: 'credentials', status: 'problem', fix: 'use a profile of the central account 999999999999 (AWS_PROFILE or --profile)' }));
  });

  it('uses the webhook secret name the central stack creates', () => {
    expect(WEBHOOK_SECRET_NAME).toBe(CENTRAL_SECRET_NAMES.webhook);
  });

  it('fails when --region is not a region', async () => {
    const res = await runCli(['doctor', '--config', CONFIG, '--region', 'moon-1']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('--region: got "moon-1"; expected an AWS region such as us-east-1');
  });
});
