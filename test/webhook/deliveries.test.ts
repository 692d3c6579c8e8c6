// @octokit/webhooks-methods exports only an `import` condition, which jest's CommonJS resolver
// does not use; load its ESM build directly (jest compiles it to CommonJS).
jest.mock('@octokit/webhooks-methods', () => jest.requireActual(`${__dirname}/../../node_modules/@octokit/webhooks-methods/dist-node/index.js`), { virtual: true });

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { DELIVERY_TTL_SECONDS, DynamoDeliveryStore } from '../../lib/webhook/deliveries';
import { createInMemoryDeps } from '../../lib/webhook/deps';
import { handleWebhook } from '../../lib/webhook/handler';
import type { Clock, Publisher } from '../../lib/webhook/types';
import { bodyOf, fixtureText, githubRequest, SECRET, startDynalite, TABLE, testConfig } from './helpers';

describe('DynamoDeliveryStore (dynalite)', () => {
  let dynamo: { client: DynamoDBClient; stop: () => Promise<void> };
  let doc: DynamoDBDocumentClient;
  let now: number;
  const clock: Clock = { now: () => new Date(now) };

  beforeAll(async () => {
    dynamo = await startDynalite();
    doc = DynamoDBDocumentClient.from(dynamo.client);
  });
  afterAll(async () => {
    await dynamo.stop();
  });
  beforeEach(() => {
    now = Date.parse('2026-03-01T12:00:00.000Z');
  });

  const item = async (pk: string) => (await doc.send(new GetCommand({ TableName: TABLE, Key: { pk, sk: 'DELIVERY' } }))).Item;

  it('claims a new delivery once and writes the key and a 7-day TTL', async () => {
    // GIVEN an empty table
    const store = new DynamoDeliveryStore(doc, TABLE, { clock });

    // WHEN the same delivery is claimed twice
    const first = await store.claim('github', 'd-1');
    const second = await store.claim('github', 'd-1');

    // THEN the first claims it, the second is a duplicate, and the record expires in 7 days
    expect([first, second]).toEqual(['claimed', 'duplicate']);
    expect(await item('DELIVERY#github#d-1')).toMatchObject({
      pk: 'DELIVERY#github#d-1',
      sk: 'DELIVERY',
      status: 'pending',
      expiresAt: Math.floor(now / 1000) + DELIVERY_TTL_SECONDS,
    });
    expect(DELIVERY_TTL_SECONDS).toBe(604800);
  });

  it('keeps providers apart', async () => {
    // GIVEN a GitHub delivery claimed
    const store = new DynamoDeliveryStore(doc, TABLE, { clock });
    await store.claim('github', 'same-id');

    // WHEN a GitLab delivery with the same id is claimed
    // THEN it is not a duplicate
    expect(await store.claim('gitlab', 'same-id')).toBe('claimed');
  });

  it('lets a released delivery be claimed again', async () => {
    // GIVEN a claim whose publish failed and was released
    const store = new DynamoDeliveryStore(doc, TABLE, { clock });
    await store.claim('github', 'd-2');
    await store.release('github', 'd-2');

    // WHEN it is redelivered
    // THEN it is claimed again
    expect(await item('DELIVERY#github#d-2')).toBeUndefined();
    expect(await store.claim('github', 'd-2')).toBe('claimed');
  });

  it('never releases a published delivery', async () => {
    // GIVEN a published delivery
    const store = new DynamoDeliveryStore(doc, TABLE, { clock });
    await store.claim('github', 'd-3');
    await store.complete('github', 'd-3');

    // WHEN a release comes late
    await store.release('github', 'd-3');

    // THEN the record stays and a redelivery is still a duplicate
    expect(await item('DELIVERY#github#d-3')).toMatchObject({ status: 'published' });
    expect(await store.claim('github', 'd-3')).toBe('duplicate');
  });

  it('lets a redelivery take over a claim left pending by a crashed invocation', async () => {
    // GIVEN a claim that was never completed nor released
    const store = new DynamoDeliveryStore(doc, TABLE, { clock, staleClaimMs: 60_000 });
    await store.claim('github', 'd-4');

    // WHEN it is redelivered soon, then after the stale interval
    const soon = await store.claim('github', 'd-4');
    now += 61_000;
    const later = await store.claim('github', 'd-4');

    // THEN the first is a duplicate (maybe still publishing), the second takes over
    expect([soon, later]).toEqual(['duplicate', 'claimed']);
  });

  it('never takes over a published delivery, however old', async () => {
    // GIVEN a published delivery
    const store = new DynamoDeliveryStore(doc, TABLE, { clock, staleClaimMs: 60_000 });
    await store.claim('github', 'd-5');
    await store.complete('github', 'd-5');

    // WHEN it is redelivered a day later
    now += 24 * 60 * 60 * 1000;

    // THEN it is a duplicate
    expect(await store.claim('github', 'd-5')).toBe('duplicate');
  });

  it('lets exactly one of concurrent claims win', async () => {
    // GIVEN ten concurrent invocations for one delivery
    const store = new DynamoDeliveryStore(doc, TABLE, { clock });

    // WHEN they all claim it
    const results = await Promise.all(Array.from({ length: 10 }, () => store.claim('github', 'd-6')));

    // THEN one claims it
    expect(results.filter((r) => r === 'claimed')).toHaveLength(1);
  });

  it('publishes a redelivery after a failed publish, end to end', async () => {
    // GIVEN the handler with the DynamoDB store and a publisher that fails once
    let failures = 1;
    const published: string[] = [];
    const publisher: Publisher = {
      publish: (event) => {
        if (failures-- > 0) return Promise.reject(new Error('PutEvents failed'));
        published.push(event.deliveryId);
        return Promise.resolve();
      },
      publishPullRequest: () => Promise.reject(new Error('no pull requests in this test')),
    };
    const deps = { ...createInMemoryDeps({ config: testConfig(), secret: SECRET, clock }), publisher, deliveries: new DynamoDeliveryStore(doc, TABLE, { clock }) };
    const body = fixtureText('github-push.json');

    // WHEN the push is delivered, fails, is redelivered, and redelivered again
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push(await handleWebhook(githubRequest(body, { deliveryId: 'e2e-1' }), deps));

    // THEN 500, published, duplicate: published exactly once
    expect(statuses.map((r) => r.statusCode)).toEqual([500, 200, 200]);
    expect(statuses.map((r) => bodyOf(r).outcome)).toEqual([undefined, 'published', 'duplicate']);
    expect(published).toEqual(['e2e-1']);
  });

  it('fails with 500 when the table cannot be written', async () => {
    // GIVEN a store pointing at a table that does not exist
    const deps = { ...createInMemoryDeps({ config: testConfig(), secret: SECRET, clock }), deliveries: new DynamoDeliveryStore(doc, 'no-such-table', { clock }) };

    // WHEN a push arrives
    const response = await handleWebhook(githubRequest(fixtureText('github-push.json')), deps);

    // THEN it answers 500 and publishes nothing: a push is never published unrecorded
    expect(response.statusCode).toBe(500);
    expect(deps.publisher.events).toHaveLength(0);
  });
});
