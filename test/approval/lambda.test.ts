import { join } from 'node:path';
import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetParameterCommand, ParameterNotFound, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { createAwsApprovalDeps } from '../../lib/approval/deps';
import { createApprovalRequestHandler } from '../../lib/approval/request';
import { SecretsManagerKeyProvider } from '../../lib/approval/signing';
import { loadConfig } from '../../lib/config/loader';
import { handler } from '../../lambdas/approval';
import { ITEM_LISTS, SIGNING_KEY, clearTable, csrfFrom, fixture, requestFixture, startDynalite, TABLE, type Dynalite } from './helpers';

const secretsMock = mockClient(SecretsManagerClient);
const snsMock = mockClient(SNSClient);
const s3Mock = mockClient(S3Client);
const sfnMock = mockClient(SFNClient);
const ssmMock = mockClient(SSMClient);
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const config = loadConfig(join(__dirname, '..', '..', 'examples', 'tfstep.yaml'));
const TOPIC = 'arn:aws:sns:us-east-1:999999999999:tfstep-notifications';
const BASE = 'https://abcdefghijklmnop.lambda-url.us-east-1.on.aws';
let db: Dynalite;
const savedEnv = { ...process.env };

function env(): Record<string, string> {
  return {
    TFSTEP_CONFIG: JSON.stringify(config),
    TFSTEP_TABLE: TABLE,
    TFSTEP_TOPIC_ARN: TOPIC,
    TFSTEP_APPROVAL_KEY_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:999999999999:secret:tfstep-approval-key',
    TFSTEP_APPROVAL_BASE_URL: BASE,
    TFSTEP_AUDIT_BUCKET: 'tfstep-audit-999999999999-us-east-1',
  };
}

beforeAll(async () => {
  db = await startDynalite();
  Object.assign(process.env, env(), { AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_DYNAMODB: db.endpoint, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' });
});
afterAll(async () => {
  process.env = savedEnv;
  await db.close();
});
beforeEach(async () => {
  await clearTable(db.doc);
  secretsMock.reset();
  snsMock.reset();
  s3Mock.reset();
  sfnMock.reset();
  ssmMock.reset();
  secretsMock.on(GetSecretValueCommand).resolves({ SecretString: SIGNING_KEY });
  snsMock.on(PublishCommand).resolves({ MessageId: 'm' });
  sfnMock.on(SendTaskSuccessCommand).resolves({});
  s3Mock.on(PutObjectCommand).resolves({});
  s3Mock.on(GetObjectCommand).callsFake((input: { Key: string }) => {
    const body = ITEM_LISTS[input.Key] ?? (input.Key.includes('/network/') ? fixture('summary-network.json') : undefined);
    if (body === undefined) throw new NoSuchKey({ message: 'The specified key does not exist.', $metadata: {} });
    // A test double of the S3 response body: only the method the reader calls.
    return { Body: { transformToString: () => Promise.resolve(body) } };
  });
});

function urlEvent(method: string, url: URL, extra: { headers?: Record<string, string>; body?: string } = {}) {
  return {
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers: { host: url.host, ...extra.headers },
    body: extra.body,
    isBase64Encoded: false,
    requestContext: { http: { method, path: url.pathname } },
  };
}

describe('the approval function', () => {
  test('handles the approval step and then the function URL: GET renders, POST approves', async () => {
    // GIVEN the approval step invokes the function (needing 1 approval)
    const request = requestFixture();
    (request.stage as { approval: { minApprovals: number } }).approval.minApprovals = 1;
    const result = (await handler(request)) as { approvalId: string; notified: number };
    expect(result.notified).toBe(3);
    const message = snsMock.commandCalls(PublishCommand)[0]!.args[0].input.Message!;
    const link = new URL(message.split('\n').find((l) => l.startsWith(BASE))!);
    expect(message).toContain('prod/us-east-1/network: Plan: 2 to add, 1 to change, 2 to destroy.');
    expect(message).toContain('prod/us-east-1/app: plan summary not found');

    // WHEN the approver opens the link and posts Approve through the function URL
    const page = (await handler(urlEvent('GET', link))) as { statusCode: number; body: string };
    const post = (await handler(
      urlEvent('POST', link, {
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: BASE, 'sec-fetch-site': 'same-origin' },
        body: new URLSearchParams({ csrf: csrfFrom(page.body), decision: 'approve' }).toString(),
      }),
    )) as { statusCode: number; body: string };

    // THEN the page renders, the POST completes the step, and the key was read once (cached)
    expect(page.statusCode).toBe(200);
    expect(post.statusCode).toBe(200);
    expect(sfnMock.commandCalls(SendTaskSuccessCommand)).toHaveLength(1);
    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    // AND the decision went to the audit bucket as a new record, before the step was told
    const puts = s3Mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    expect(puts).toHaveLength(1);
    expect(puts[0]).toMatchObject({ Bucket: 'tfstep-audit-999999999999-us-east-1', Key: expect.stringMatching(/^records\//) as unknown, IfNoneMatch: '*' });
    expect(JSON.parse(puts[0]!.Body as string)).toMatchObject({ kind: 'decision', channel: 'link', decision: 'approve', run: request.executionName });
  });

  test('fails when a variable is missing, naming it', () => {
    // GIVEN an environment without the topic WHEN deps are built THEN the error names the variable
    const { TFSTEP_TOPIC_ARN: _omit, ...rest } = env();
    expect(() => createAwsApprovalDeps(rest, {}, silent)).toThrow('environment variable TFSTEP_TOPIC_ARN is not set');
  });

  test('without a base URL variable, the links use the SSM parameter the stack writes', async () => {
    // GIVEN no TFSTEP_APPROVAL_BASE_URL and the function URL in SSM
    ssmMock.on(GetParameterCommand, { Name: '/tfstep/approval-base-url' }).resolves({ Parameter: { Value: BASE } });
    const { TFSTEP_APPROVAL_BASE_URL: _omit, ...rest } = env();
    const deps = createAwsApprovalDeps(rest, { dynamoDb: db.client }, silent);

    // WHEN the approval step runs twice (a retry)
    await createApprovalRequestHandler(deps.request)(requestFixture());
    await createApprovalRequestHandler(deps.request)(requestFixture());

    // THEN the links use the parameter's URL, read once and cached
    const message = snsMock.commandCalls(PublishCommand)[0]!.args[0].input.Message!;
    expect(message).toContain(`${BASE}/approvals/`);
    expect(ssmMock.commandCalls(GetParameterCommand)).toHaveLength(1);
    expect(deps.http.baseUrl).toBeUndefined();
  });

  test('fails when there is no base URL anywhere, naming what to set', async () => {
    // GIVEN no variable, no config value and no SSM parameter
    ssmMock.on(GetParameterCommand).rejects(new ParameterNotFound({ message: 'not found', $metadata: {} }));
    const { TFSTEP_APPROVAL_BASE_URL: _omit, ...rest } = env();
    const deps = createAwsApprovalDeps(rest, { dynamoDb: db.client }, silent);

    // WHEN the approval step runs
    const run = createApprovalRequestHandler(deps.request)(requestFixture());

    // THEN it fails saying what to set, and nothing was sent
    await expect(run).rejects.toThrow(/no approval base URL: TFSTEP_APPROVAL_BASE_URL is not set, the config has no notifications.approvalBaseUrl, and SSM parameter \/tfstep\/approval-base-url could not be read \(ParameterNotFound\)/);
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(0);
  });

  test('fails when the base URL is not https', () => {
    // GIVEN an http base URL WHEN deps are built THEN it is refused
    expect(() => createAwsApprovalDeps({ ...env(), TFSTEP_APPROVAL_BASE_URL: 'http://approvals.example.com' }, {}, silent)).toThrow('is not an https URL');
  });

  test('fails when the signing key secret is too short', async () => {
    // GIVEN a secret holding a short string WHEN the key is read THEN it is refused
    secretsMock.on(GetSecretValueCommand).resolves({ SecretString: 'short' });
    const keys = new SecretsManagerKeyProvider(new SecretsManagerClient({ region: 'us-east-1' }), 'tfstep-approval-key');
    await expect(keys.getKey()).rejects.toThrow('has no usable approval signing key');
  });
});
