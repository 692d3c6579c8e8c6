import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { loadConfig } from '../../lib/config/loader';
import { GitHubStatusError, GitHubTokenError } from '../../lib/notify/errors';
import { GitHubStatusClient, secretsManagerToken } from '../../lib/notify/github-status';
import { createNotifier } from '../../lib/notify/notifier';
import { join } from 'node:path';

const SHA = '0123456789abcdef0123456789abcdef01234567';
const SM_ARN = 'arn:aws:states:us-east-1:999999999999:stateMachine:tfstep-pipeline';

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: any;
}

/** A GitHub API stand-in on loopback that records requests and answers with `answer`. */
async function githubServer(answer: (req: Received) => { status: number; body: unknown }): Promise<{ server: Server; baseUrl: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let data = '';
    req.on('data', (c: Buffer) => (data += c.toString()));
    req.on('end', () => {
      const r = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: data ? JSON.parse(data) : undefined };
      received.push(r);
      const a = answer(r);
      res.writeHead(a.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

describe('GitHubStatusClient', () => {
  let gh: Awaited<ReturnType<typeof githubServer>>;
  afterEach(async () => new Promise<void>((r) => gh.server.close(() => r())));

  it('posts the status with the token, the console link and the context', async () => {
    // GIVEN a GitHub stand-in that accepts statuses
    gh = await githubServer(() => ({ status: 201, body: { id: 1 } }));
    const client = new GitHubStatusClient({ token: () => Promise.resolve('ghp_token'), baseUrl: `${gh.baseUrl}/` });
    // WHEN a status is set
    await client.setStatus({ repository: 'acme/live', sha: SHA, state: 'pending', targetUrl: 'https://console/x', description: 'd'.repeat(200), context: 'tfstep/prod' });
    // THEN GitHub received one authenticated POST with the documented body
    expect(gh.received).toHaveLength(1);
    const [req] = gh.received;
    expect(req!.method).toBe('POST');
    expect(req!.url).toBe(`/repos/acme/live/statuses/${SHA}`);
    expect(req!.headers.authorization).toBe('Bearer ghp_token');
    expect(req!.body).toEqual({ state: 'pending', target_url: 'https://console/x', description: `${'d'.repeat(137)}...`, context: 'tfstep/prod' });
  });

  it('fails when GitHub refuses, saying which permission the token needs', async () => {
    gh = await githubServer(() => ({ status: 404, body: { message: 'Not Found' } }));
    const client = new GitHubStatusClient({ token: () => Promise.resolve('t'), baseUrl: gh.baseUrl });
    const err = await client.setStatus({ repository: 'acme/live', sha: SHA, state: 'success', context: 'tfstep/pipeline' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GitHubStatusError);
    expect((err as Error).message).toBe(
      'GitHub commit status for acme/live failed with HTTP 404: Not Found; the token cannot write statuses to this repository: give it the "Commit statuses: write" permission (or repo:status scope)',
    );
  });

  it('fails when the sha is not a full commit SHA, before any request', async () => {
    gh = await githubServer(() => ({ status: 201, body: {} }));
    const client = new GitHubStatusClient({ token: () => Promise.resolve('t'), baseUrl: gh.baseUrl });
    await expect(client.setStatus({ repository: 'acme/live', sha: 'abc', state: 'success', context: 'c' })).rejects.toThrow('is not a full 40-character commit SHA');
    expect(gh.received).toHaveLength(0);
  });
});

describe('secretsManagerToken', () => {
  const secrets = mockClient(SecretsManagerClient);
  beforeEach(() => secrets.reset());

  it('reads a plain or JSON secret once', async () => {
    secrets.on(GetSecretValueCommand, { SecretId: 'plain' }).resolves({ SecretString: ' ghp_abc \n' });
    secrets.on(GetSecretValueCommand, { SecretId: 'json' }).resolves({ SecretString: '{"token":"ghp_json"}' });
    const plain = secretsManagerToken(new SecretsManagerClient({}), 'plain');
    expect(await plain()).toBe('ghp_abc');
    expect(await plain()).toBe('ghp_abc');
    expect(await secretsManagerToken(new SecretsManagerClient({}), 'json')()).toBe('ghp_json');
    expect(secrets.commandCalls(GetSecretValueCommand, { SecretId: 'plain' })).toHaveLength(1);
  });

  it('fails when the secret holds no token', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: '{"user":"x"}' });
    await expect(secretsManagerToken(new SecretsManagerClient({}), 'gh')()).rejects.toBeInstanceOf(GitHubTokenError);
  });
});

describe('createNotifier', () => {
  const sns = mockClient(SNSClient);
  const secrets = mockClient(SecretsManagerClient);
  let gh: Awaited<ReturnType<typeof githubServer>>;
  const base = loadConfig(join(__dirname, '..', '..', 'examples', 'tfstep.yaml'));
  beforeEach(async () => {
    sns.reset();
    secrets.reset();
    sns.on(PublishCommand).resolves({ MessageId: 'm1' });
    secrets.on(GetSecretValueCommand).resolves({ SecretString: 'ghp_secret' });
    gh = await githubServer(() => ({ status: 201, body: {} }));
  });
  afterEach(async () => new Promise<void>((r) => gh.server.close(() => r())));

  const deps = (extra: Record<string, unknown> = {}) => ({
    sns: new SNSClient({}),
    secrets: new SecretsManagerClient({}),
    topicArn: 'arn:aws:sns:us-east-1:999999999999:tfstep-notifications',
    stateMachineArn: SM_ARN,
    githubBaseUrl: gh.baseUrl,
    ...extra,
  });

  it('publishes to SNS and posts a failure status on the commit the run table names', async () => {
    // GIVEN a config with a status token secret, and the pipeline's finish attributes (no commit)
    const config = { ...base, notifications: { githubStatusTokenSecret: 'tfstep/github-status' } };
    const notifier = createNotifier(config, deps({ commitOf: (e: string) => Promise.resolve(e === 'run-9' ? SHA : undefined) }));
    // WHEN the finish action publishes
    await notifier.publish('tfstep: FAILED acme/infrastructure-live main 0123456', 'text', { status: 'FAILED', repository: 'acme/infrastructure-live', execution: 'run-9' });
    // THEN SNS got the message with filterable attributes
    const [call] = sns.commandCalls(PublishCommand);
    expect(call!.args[0].input).toEqual({
      TopicArn: 'arn:aws:sns:us-east-1:999999999999:tfstep-notifications',
      Subject: 'tfstep: FAILED acme/infrastructure-live main 0123456',
      Message: 'text',
      MessageAttributes: {
        status: { DataType: 'String', StringValue: 'FAILED' },
        repository: { DataType: 'String', StringValue: 'acme/infrastructure-live' },
        execution: { DataType: 'String', StringValue: 'run-9' },
      },
    });
    // AND GitHub got a failure status pointing at the console
    expect(gh.received.map((r) => [r.url, r.body])).toEqual([
      [
        `/repos/acme/infrastructure-live/statuses/${SHA}`,
        {
          state: 'failure',
          target_url: `https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/arn:aws:states:us-east-1:999999999999:execution:tfstep-pipeline:run-9`,
          description: 'tfstep run-9: failed',
          context: 'tfstep/pipeline',
        },
      ],
    ]);
    expect(gh.received[0]!.headers.authorization).toBe('Bearer ghp_secret');
  });

  it('posts a pending status per stage when the attributes name the stage and commit', async () => {
    const config = { ...base, notifications: { githubStatusTokenSecret: 'tfstep/github-status' } };
    await createNotifier(config, deps()).publish('s', 't', { kind: 'awaiting-approval', stage: 'prod', commit: SHA, repository: 'acme/infrastructure-live', execution: 'run-9' });
    expect(gh.received[0]!.body).toEqual(expect.objectContaining({ state: 'pending', context: 'tfstep/prod', description: 'tfstep run-9: awaiting approval (prod)' }));
  });

  it('posts nothing to GitHub when no token secret is configured', async () => {
    await createNotifier(base, deps()).publish('s', 't', { status: 'SUCCEEDED', repository: 'acme/infrastructure-live', execution: 'run-9', commit: SHA });
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
    expect(gh.received).toHaveLength(0);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(0);
  });

  it('still publishes when GitHub fails, and logs why', async () => {
    gh.server.close();
    const warnings: unknown[] = [];
    const config = { ...base, notifications: { githubStatusTokenSecret: 'tfstep/github-status' } };
    const notifier = createNotifier(config, deps({ githubBaseUrl: 'http://127.0.0.1:1', logger: { warn: (m: string, f: unknown) => warnings.push([m, f]) } }));
    await notifier.publish('s', 't', { status: 'SUCCEEDED', repository: 'acme/infrastructure-live', execution: 'run-9', commit: SHA });
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
    expect(warnings).toEqual([['could not post the GitHub commit status', expect.objectContaining({ execution: 'run-9' })]]);
    gh = await githubServer(() => ({ status: 201, body: {} }));
  });

  it('fails when SNS refuses the message', async () => {
    sns.on(PublishCommand).rejects(Object.assign(new Error('topic does not exist'), { name: 'NotFoundException' }));
    await expect(createNotifier(base, deps()).publish('s', 't')).rejects.toThrow('topic does not exist');
  });
});
