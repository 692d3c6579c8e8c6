import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo, Server } from 'node:net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { parseConfig } from '../../lib/config/loader';
import type { Config } from '../../lib/config/schema';
import { createInMemoryDeps, type InMemoryWebhookDeps } from '../../lib/webhook/deps';
import { memoryLogger, type MemoryLogger } from '../../lib/log';
import type { Clock, WebhookRequest, WebhookResponse } from '../../lib/webhook/types';

/** The secret the git hosts sign with in these tests. */
export const SECRET = 'It\'s a Secret to Everybody';
export const PREVIOUS_SECRET = 'the-secret-before-rotation';
export const NOW = new Date('2026-03-01T12:00:00.000Z');
export const fixedClock: Clock = { now: () => NOW };

/** A config with one GitHub and one GitLab repository. */
export function testConfig(): Config {
  return parseConfig({
    version: 1,
    central: { account: '999999999999', region: 'us-east-1' },
    repositories: [
      {
        provider: 'github',
        fullName: 'acme/infrastructure-live',
        cloneUrls: ['https://github.com/acme/infrastructure-live.git', 'git@github.com:acme/infrastructure-live.git'],
        deployBranch: 'main',
      },
      {
        provider: 'gitlab',
        fullName: 'acme/platform/infrastructure-live',
        cloneUrls: ['https://gitlab.example.com/acme/platform/infrastructure-live.git'],
        deployBranch: 'main',
      },
    ],
    stageOrder: ['dev'],
    stages: { dev: {} },
    accounts: [{ name: 'dev', id: '111111111111', region: 'us-east-1', stage: 'dev' }],
  });
}

/** A fixture file's exact text. */
export function fixtureText(name: string): string {
  return readFileSync(join(__dirname, '..', 'fixtures', 'webhook', name), 'utf8');
}

/** A fixture parsed, to adapt it further in a test. */
export function fixture(name: string): Record<string, unknown> {
  return JSON.parse(fixtureText(name)) as Record<string, unknown>;
}

/** How GitHub signs a delivery: `sha256=` and the HMAC-SHA256 hex of the raw body. */
export function githubSignature(body: string, secret = SECRET): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

let deliveryCounter = 0;
/** A fresh delivery id in GitHub's format. */
export function newDeliveryId(): string {
  deliveryCounter += 1;
  return `72d3162e-cc78-11e3-81ab-${deliveryCounter.toString(16).padStart(12, '0')}`;
}

/** A GitHub delivery of `body`, signed with `secret`; headers can be overridden or removed (undefined). */
export function githubRequest(
  body: string,
  options: { event?: string; deliveryId?: string; secret?: string; headers?: Record<string, string | undefined> } = {},
): WebhookRequest {
  return {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'user-agent': 'GitHub-Hookshot/044aadd',
      'x-github-event': options.event ?? 'push',
      'x-github-delivery': options.deliveryId ?? newDeliveryId(),
      'x-github-hook-id': '292430182',
      'x-hub-signature-256': githubSignature(body, options.secret ?? SECRET),
      ...options.headers,
    },
    body,
    isBase64Encoded: false,
  };
}

/** A GitLab delivery of `body` with `token`. */
export function gitlabRequest(
  body: string,
  options: { event?: string; deliveryId?: string; token?: string; headers?: Record<string, string | undefined> } = {},
): WebhookRequest {
  return {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'User-Agent': 'GitLab/17.0.0',
      'X-Gitlab-Event': options.event ?? 'Push Hook',
      'X-Gitlab-Event-UUID': options.deliveryId ?? `9cebe914-4827-408f-b014-${(deliveryCounter++).toString(16).padStart(12, '0')}`,
      'X-Gitlab-Instance': 'https://gitlab.example.com',
      'X-Gitlab-Token': options.token ?? SECRET,
      ...options.headers,
    },
    body,
    isBase64Encoded: false,
  };
}

/** In-memory deps with a capturing logger and a fixed clock. */
export function testDeps(overrides: { previousSecret?: string; maxBodyBytes?: number } = {}): InMemoryWebhookDeps & { logger: MemoryLogger } {
  const logger = memoryLogger();
  const deps = createInMemoryDeps({ config: testConfig(), secret: SECRET, clock: fixedClock, logger, ...overrides });
  return { ...deps, logger };
}

/** The parsed JSON body of a response. */
export function bodyOf(response: WebhookResponse): Record<string, unknown> {
  return JSON.parse(response.body) as Record<string, unknown>;
}

/** Everything the logger received, as one string, to search for leaked secrets. */
export function logText(logger: MemoryLogger): string {
  return JSON.stringify(logger.entries);
}

type DynaliteServer = Server;
type DynaliteFactory = (options: { createTableMs?: number; deleteTableMs?: number; updateTableMs?: number }) => DynaliteServer;

/** The run table's shape: string keys pk and sk. */
export const TABLE = 'tfstep-runs-test';

/** Starts dynalite in-process on a random loopback port and creates the run table. */
export async function startDynalite(): Promise<{ client: DynamoDBClient; stop: () => Promise<void> }> {
  // dynalite ships no types; only its factory is used.
  const dynalite = require('dynalite') as DynaliteFactory;
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const client = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  await client.send(
    new CreateTableCommand({
      TableName: TABLE,
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  return {
    client,
    stop: async () => {
      client.destroy();
      await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
  };
}
