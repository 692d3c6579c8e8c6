// @octokit/webhooks-methods exports only an `import` condition, which jest's CommonJS resolver
// does not use; load its ESM build directly (jest compiles it to CommonJS).
jest.mock('@octokit/webhooks-methods', () => jest.requireActual(`${__dirname}/../../node_modules/@octokit/webhooks-methods/dist-node/index.js`), { virtual: true });

import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { createHandler, handler as exportedHandler, type FunctionUrlEvent, type FunctionUrlHandler } from '../../lambdas/webhook/index';
import { jsonLogger } from '../../lib/log';
import { fixtureText, githubRequest, SECRET, testConfig } from './helpers';

const secretsManager = mockClient(SecretsManagerClient);
const eventBridge = mockClient(EventBridgeClient);
const dynamo = mockClient(DynamoDBDocumentClient);

const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:999999999999:secret:tfstep/webhook-AbCdEf';
const savedEnv = { ...process.env };

const writes: string[] = [];

/** A handler as in a new execution environment, logging into `writes`. */
function loadHandler(): FunctionUrlHandler {
  return createHandler(process.env, jsonLogger((line) => writes.push(line)));
}

/** The push as a function URL passes it: lower-case headers, method in the request context. */
function functionUrlEvent(body: string, base64 = false): FunctionUrlEvent {
  const signed = githubRequest(body);
  return {
    headers: signed.headers as Record<string, string>,
    body: base64 ? Buffer.from(body).toString('base64') : body,
    isBase64Encoded: base64,
    requestContext: { http: { method: 'POST' } },
  };
}

describe('webhook Lambda function', () => {
  beforeEach(() => {
    writes.length = 0;
    secretsManager.reset();
    eventBridge.reset();
    dynamo.reset();
    process.env = {
      ...savedEnv,
      AWS_REGION: 'us-east-1',
      TFSTEP_CONFIG: JSON.stringify(testConfig()),
      TFSTEP_WEBHOOK_SECRET_ARN: SECRET_ARN,
      TFSTEP_TABLE: 'tfstep-runs',
    };
    delete process.env.TFSTEP_EVENT_BUS;
    delete process.env.TFSTEP_WEBHOOK_MAX_BYTES;
    secretsManager.on(GetSecretValueCommand, { SecretId: SECRET_ARN, VersionStage: 'AWSCURRENT' }).resolves({ SecretString: SECRET });
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e1' }] });
    dynamo.on(PutCommand).resolves({});
    dynamo.on(UpdateCommand).resolves({});
  });
  afterAll(() => {
    process.env = savedEnv;
  });

  it('exports the handler the function runs', () => {
    expect(typeof exportedHandler).toBe('function');
  });

  it('builds its dependencies once per execution environment', async () => {
    // GIVEN one handler
    const handler = loadHandler();

    // WHEN two pushes arrive
    await handler(functionUrlEvent(fixtureText('github-push.json')));
    await handler(functionUrlEvent(fixtureText('github-push.json')));

    // THEN the secret was fetched once: the cache lived across invocations
    expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('logs JSON lines with the delivery id and without the secret', async () => {
    // GIVEN a handler
    const handler = loadHandler();

    // WHEN a push arrives
    await handler(functionUrlEvent(fixtureText('github-push.json')));

    // THEN each line is JSON and none holds the secret
    const lines = writes.map((w) => JSON.parse(w) as Record<string, unknown>);
    expect(lines.find((l) => l.message === 'push published')).toMatchObject({ level: 'info', deliveryId: expect.any(String) });
    expect(writes.join('')).not.toContain(SECRET);
  });

  it('publishes a push to the default bus and records the delivery in the configured table', async () => {
    // GIVEN the function's environment as the stack sets it, without TFSTEP_EVENT_BUS
    const handler = loadHandler();

    // WHEN a function URL event with a base64 body arrives
    const response = await handler(functionUrlEvent(fixtureText('github-push.json'), true));

    // THEN it is published to the bus named tfstep and recorded in the table
    expect(response.statusCode).toBe(200);
    expect(eventBridge.commandCalls(PutEventsCommand)[0]!.args[0].input.Entries![0]!.EventBusName).toBe('tfstep');
    expect(dynamo.commandCalls(PutCommand)[0]!.args[0].input).toMatchObject({ TableName: 'tfstep-runs', Item: { sk: 'DELIVERY' } });
  });

  it('publishes to the bus named in TFSTEP_EVENT_BUS', async () => {
    // GIVEN another bus name
    process.env.TFSTEP_EVENT_BUS = 'tfstep-staging';
    const handler = loadHandler();

    // WHEN a push arrives
    await handler(functionUrlEvent(fixtureText('github-push.json')));

    // THEN it goes to that bus
    expect(eventBridge.commandCalls(PutEventsCommand)[0]!.args[0].input.Entries![0]!.EventBusName).toBe('tfstep-staging');
  });

  it('applies TFSTEP_WEBHOOK_MAX_BYTES', async () => {
    // GIVEN a 1 KiB limit
    process.env.TFSTEP_WEBHOOK_MAX_BYTES = '1024';
    const handler = loadHandler();

    // WHEN a 7 KB push arrives
    const response = await handler(functionUrlEvent(fixtureText('github-push.json')));

    // THEN it answers 413
    expect(response.statusCode).toBe(413);
  });

  it.each(['TFSTEP_CONFIG', 'TFSTEP_WEBHOOK_SECRET_ARN', 'TFSTEP_TABLE'])('fails with 500 and a logged reason when %s is missing', async (name) => {
    // GIVEN a function missing one variable
    delete process.env[name];
    const handler = loadHandler();

    // WHEN a push arrives
    const response = await handler(functionUrlEvent(fixtureText('github-push.json')));

    // THEN it answers 500 and the log names the variable
    expect(response.statusCode).toBe(500);
    expect(writes.join('')).toContain(`environment variable ${name} is not set`);
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(0);
  });

  it('fails with 500 when TFSTEP_CONFIG is not a valid config', async () => {
    // GIVEN a config without repositories
    process.env.TFSTEP_CONFIG = JSON.stringify({ ...testConfig(), repositories: [] });
    const handler = loadHandler();

    // WHEN a push arrives
    const response = await handler(functionUrlEvent(fixtureText('github-push.json')));

    // THEN it answers 500 and the log says what is wrong
    expect(response.statusCode).toBe(500);
    expect(writes.join('')).toContain('repositories');
  });
});
