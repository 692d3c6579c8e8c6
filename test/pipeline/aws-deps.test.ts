import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DescribeExecutionCommand, ExecutionDoesNotExist, SendTaskSuccessCommand, SFNClient, TaskTimedOut } from '@aws-sdk/client-sfn';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { EnvError } from '../../lib/env';
import { ConfigError } from '../../lib/config/errors';
import { startFakeGitHub, type FakeGitHub } from '../git-auth/fake-github';
import { AWS_MAX_ATTEMPTS, createAwsPipelineDeps, PIPELINE_ENV, s3Artifacts, secretToken, sfnExecutions, sfnTaskTokens } from '../../lib/pipeline/aws-deps';
import { silentPipelineLogger } from '../../lib/pipeline/deps';
import { GitHubRepoReader, GitLabRepoReader } from '../../lib/planning/repo-reader';
import { createHandler } from '../../lambdas/pipeline/index';
import { testConfig, testPush } from '../fixtures/pipeline/config';

const s3 = mockClient(S3Client);
const sfn = mockClient(SFNClient);
const sns = mockClient(SNSClient);
const secrets = mockClient(SecretsManagerClient);

beforeEach(() => {
  s3.reset();
  sfn.reset();
  sns.reset();
  secrets.reset();
});

const SM = 'arn:aws:states:us-east-1:111111111111:stateMachine:tfstep-pipeline';

describe('s3Artifacts', () => {
  it('reads an object and answers undefined for a missing key', async () => {
    s3.on(GetObjectCommand, { Key: 'accounts/dev/e1/m/result.json' }).resolves({ Body: { transformToByteArray: () => Promise.resolve(new TextEncoder().encode('{"a":1}')) } } as never);
    s3.on(GetObjectCommand, { Key: 'missing' }).rejects(new NoSuchKey({ message: 'no', $metadata: {} }));
    const artifacts = s3Artifacts(new S3Client({}), 'bucket');
    expect((await artifacts.get('accounts/dev/e1/m/result.json'))?.toString()).toBe('{"a":1}');
    expect(await artifacts.get('missing')).toBeUndefined();
    expect(s3.commandCalls(GetObjectCommand)[0]!.args[0].input).toEqual({ Bucket: 'bucket', Key: 'accounts/dev/e1/m/result.json' });
  });

  it('writes an item list as JSON to its bucket', async () => {
    s3.on(PutObjectCommand).resolves({});
    const artifacts = s3Artifacts(new S3Client({}), 'bucket');
    await artifacts.put('e1/_stages/0/accounts.json', '[]');
    expect(artifacts.bucket).toBe('bucket');
    expect(s3.commandCalls(PutObjectCommand)[0]!.args[0].input).toEqual({ Bucket: 'bucket', Key: 'e1/_stages/0/accounts.json', Body: '[]', ContentType: 'application/json' });
  });
});

describe('sfnExecutions', () => {
  it('is running only when DescribeExecution says RUNNING; unknown executions are not', async () => {
    sfn.on(DescribeExecutionCommand, { executionArn: `${SM.replace(':stateMachine:', ':execution:')}:live` }).resolves({ status: 'RUNNING' });
    sfn.on(DescribeExecutionCommand, { executionArn: 'arn:aws:states:us-east-1:111111111111:execution:tfstep-pipeline:done' }).resolves({ status: 'ABORTED' });
    sfn.on(DescribeExecutionCommand, { executionArn: 'arn:aws:states:us-east-1:111111111111:execution:tfstep-pipeline:gone' }).rejects(new ExecutionDoesNotExist({ message: 'x', $metadata: {} }));
    const ex = sfnExecutions(new SFNClient({}), SM);
    expect(await ex.isRunning('live')).toBe(true);
    expect(await ex.isRunning('arn:aws:states:us-east-1:111111111111:execution:tfstep-pipeline:done')).toBe(false);
    expect(await ex.isRunning('arn:aws:states:us-east-1:111111111111:execution:tfstep-pipeline:gone')).toBe(false);
  });
});

describe('sfnTaskTokens', () => {
  it('wakes a queued run with SendTaskSuccess and its output as JSON', async () => {
    sfn.on(SendTaskSuccessCommand).resolves({});
    await expect(sfnTaskTokens(new SFNClient({})).sendSuccess('token-1', { woken: true, by: 'e1' })).resolves.toBe(true);
    expect(sfn.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input).toEqual({ taskToken: 'token-1', output: '{"woken":true,"by":"e1"}' });
  });

  it('answers false for a token no state waits on any more, and throws any other failure', async () => {
    sfn.on(SendTaskSuccessCommand, { taskToken: 'old' }).rejects(new TaskTimedOut({ message: 'Task Timed Out', $metadata: {} }));
    sfn.on(SendTaskSuccessCommand, { taskToken: 'bad' }).rejects(Object.assign(new Error('Invalid Token'), { name: 'InvalidToken' }));
    sfn.on(SendTaskSuccessCommand, { taskToken: 'busy' }).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const tasks = sfnTaskTokens(new SFNClient({}));
    await expect(tasks.sendSuccess('old', {})).resolves.toBe(false);
    await expect(tasks.sendSuccess('bad', {})).resolves.toBe(false);
    await expect(tasks.sendSuccess('busy', {})).rejects.toThrow('Rate exceeded');
  });
});

describe('secretToken', () => {
  it('reads a plain or JSON token and caches it', async () => {
    secrets.on(GetSecretValueCommand, { SecretId: 'plain' }).resolves({ SecretString: 'ghp_abc\n' });
    secrets.on(GetSecretValueCommand, { SecretId: 'json' }).resolves({ SecretString: '{"token":"ghp_json"}' });
    const plain = secretToken(new SecretsManagerClient({}), 'plain', 'acme/live');
    expect(await plain()).toBe('ghp_abc');
    expect(await plain()).toBe('ghp_abc');
    expect(await secretToken(new SecretsManagerClient({}), 'json', 'acme/live')()).toBe('ghp_json');
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('fails when a JSON secret has no accepted shape', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: '{"key":"x"}' });
    await expect(secretToken(new SecretsManagerClient({}), 's', 'acme/live')()).rejects.toThrow(/secret s are not in an accepted shape/);
  });

  describe('GIVEN a GitHub App secret (GitHub stood in on loopback)', () => {
    let gh: FakeGitHub;
    beforeAll(async () => {
      gh = await startFakeGitHub({ visible: ['live'] });
    });
    afterAll(() => gh.close());

    beforeEach(() => {
      secrets.on(GetSecretValueCommand, { SecretId: 'app' }).resolves({
        SecretString: JSON.stringify({ githubApp: { appId: gh.appId, installationId: gh.installationId, privateKey: gh.privateKey, apiBaseUrl: gh.apiBaseUrl } }),
      });
    });

    it('WHEN the reader asks for a token THEN it is an installation token for that repository alone, minted once', async () => {
      const before = gh.requests.length;
      const token = secretToken(new SecretsManagerClient({}), 'app', 'acme/live');
      const first = await token();
      expect(await token()).toBe(first);
      expect(first).toBe(gh.issued.get(JSON.stringify(['live'])));
      expect(gh.requests.slice(before)).toEqual([{ installationId: gh.installationId, repositories: ['live'], permissions: { contents: 'read' } }]);
    });

    it('fails when the installation cannot see the repository, naming it', async () => {
      await expect(secretToken(new SecretsManagerClient({}), 'app', 'acme/private')()).rejects.toThrow(/cannot read acme\/private with the credentials of secret app: .*HTTP 422/);
    });
  });
});

describe('createAwsPipelineDeps', () => {
  const env = {
    [PIPELINE_ENV.config]: JSON.stringify(testConfigInput()),
    [PIPELINE_ENV.table]: 'tfstep-runs',
    [PIPELINE_ENV.artifactsBucket]: 'bucket',
    [PIPELINE_ENV.topicArn]: 'arn:aws:sns:us-east-1:111111111111:t',
    [PIPELINE_ENV.stateMachineArn]: SM,
    [PIPELINE_ENV.auditBucket]: 'audit-bucket',
  };

  it('builds the dependencies from the environment', () => {
    const deps = createAwsPipelineDeps(env, silentPipelineLogger);
    expect(deps.config.accounts.map((a) => a.name)).toEqual(['dev', 'staging', 'prod']);
    expect(deps.store.tableName).toBe('tfstep-runs');
    expect(deps.repoReader(testPush())).toBeInstanceOf(GitHubRepoReader);
    expect(deps.repoReader({ ...testPush(), provider: 'gitlab' })).toBeInstanceOf(GitLabRepoReader);
    expect(() => deps.repoReader({ ...testPush(), provider: 'local' })).toThrow(/GitHub or GitLab API/);
  });

  it('links pull request runs to the plan-only execution and to plan logs in the artifacts bucket the stack names', () => {
    // GIVEN the environment the central stack sets, with the plan-only state machine
    const deps = createAwsPipelineDeps({ ...env, [PIPELINE_ENV.planOnlyStateMachineArn]: 'arn:aws-cn:states:cn-north-1:111111111111:stateMachine:tfstep-plan-only' }, silentPipelineLogger);
    // THEN the pull request dependencies link the China console, the bucket of TFSTEP_ARTIFACTS_BUCKET and the command
    expect(deps.pullRequests?.runUrl?.('pr-1')).toBe('https://console.amazonaws.cn/states/home?region=cn-north-1#/v2/executions/details/arn:aws-cn:states:cn-north-1:111111111111:execution:tfstep-plan-only:pr-1');
    expect(deps.pullRequests?.logUrl?.('accounts/dev/pr-1-0/plan.log')).toBe('https://console.amazonaws.cn/s3/object/bucket?region=cn-north-1&bucketType=general&prefix=accounts%2Fdev%2Fpr-1-0%2Fplan.log');
    expect(deps.pullRequests?.logsCommand?.('pr-1')).toBe('tfstep logs pr-1');
    // AND without the plan-only state machine there are no pull request dependencies at all
    expect(createAwsPipelineDeps(env, silentPipelineLogger).pullRequests).toBeUndefined();
  });

  it('retries throttled DynamoDB calls more than the SDK default: a large stage records its accounts at once', async () => {
    const deps = createAwsPipelineDeps(env, silentPipelineLogger);
    expect(await deps.store.doc.config.maxAttempts()).toBe(AWS_MAX_ATTEMPTS);
    expect(AWS_MAX_ATTEMPTS).toBeGreaterThan(3);
  });

  it('publishes run notifications to the topic with their attributes, one-line subjects of at most 100 characters', async () => {
    // GIVEN the AWS deps (no GitHub token secret in the config: SNS only)
    sns.on(PublishCommand).resolves({ MessageId: 'm' });
    const deps = createAwsPipelineDeps(env, silentPipelineLogger, { sns: new SNSClient({}) });
    // WHEN the finish step publishes
    await deps.notifier.publish(`a\nb${'x'.repeat(200)}`, 'body', { status: 'FAILED', execution: 'run-1', commit: 'a'.repeat(40) });
    // THEN one message reaches the topic
    const input = sns.commandCalls(PublishCommand)[0]!.args[0].input;
    expect(input.TopicArn).toBe(env[PIPELINE_ENV.topicArn]);
    expect(input.Subject!.length).toBeLessThanOrEqual(100);
    expect(input.Subject).not.toContain('\n');
    expect(input.MessageAttributes?.status).toEqual({ DataType: 'String', StringValue: 'FAILED' });
  });

  it('fails when a variable is missing or the config is invalid', () => {
    expect(() => createAwsPipelineDeps({ ...env, TFSTEP_TABLE: undefined }, silentPipelineLogger)).toThrow(EnvError);
    expect(() => createAwsPipelineDeps({ ...env, TFSTEP_TABLE: undefined }, silentPipelineLogger)).toThrow(/TFSTEP_TABLE is not set/);
    expect(() => createAwsPipelineDeps({ ...env, TFSTEP_CONFIG: '{"version":2}' }, silentPipelineLogger)).toThrow(ConfigError);
  });

  it('fails every invocation of a misconfigured Lambda handler with the reason', async () => {
    const handler = createHandler({}, silentPipelineLogger);
    await expect(handler({ action: 'finish' })).rejects.toThrow(/TFSTEP_CONFIG is not set/);
  });
});

/** The raw (pre-default) form of the test config, as the stack would serialise it. */
function testConfigInput(): unknown {
  return JSON.parse(JSON.stringify(testConfig()));
}
