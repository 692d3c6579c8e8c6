// @octokit/webhooks-methods exports only an `import` condition, which jest's CommonJS resolver
// does not use; load its ESM build directly (jest compiles it to CommonJS).
jest.mock('@octokit/webhooks-methods', () => jest.requireActual(`${__dirname}/../../node_modules/@octokit/webhooks-methods/dist-node/index.js`), { virtual: true });

import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { PipelineInputSchema, PUSH_EVENT_DETAIL_TYPE, PUSH_EVENT_SOURCE } from '../../lib/domain/push-event';
import { createInMemoryDeps } from '../../lib/webhook/deps';
import { handleWebhook } from '../../lib/webhook/handler';
import { memoryLogger } from '../../lib/log';
import { EventBridgePublisher } from '../../lib/webhook/publisher';
import { bodyOf, fixedClock, fixtureText, githubRequest, logText, SECRET, testConfig } from './helpers';

const eventBridge = mockClient(EventBridgeClient);

function deps() {
  const logger = memoryLogger();
  const base = createInMemoryDeps({ config: testConfig(), secret: SECRET, clock: fixedClock, logger });
  return { ...base, logger, publisher: new EventBridgePublisher(new EventBridgeClient({ region: 'us-east-1' }), 'tfstep') };
}

describe('publishing to EventBridge', () => {
  beforeEach(() => eventBridge.reset());

  it('puts one entry on the bus with the canonical source, detail type and detail', async () => {
    // GIVEN EventBridge accepting events
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: '11710aed-b79e-4468-a20b-bb3c0c3b4860' }] });
    const d = deps();

    // WHEN a push to main arrives
    const response = await handleWebhook(githubRequest(fixtureText('github-push.json'), { deliveryId: 'eb-1' }), d);

    // THEN one entry was put, and the envelope is what the state machine accepts
    expect(response.statusCode).toBe(200);
    const puts = eventBridge.commandCalls(PutEventsCommand);
    expect(puts).toHaveLength(1);
    const [entry] = puts[0]!.args[0].input.Entries!;
    expect(entry).toMatchObject({ EventBusName: 'tfstep', Source: PUSH_EVENT_SOURCE, DetailType: PUSH_EVENT_DETAIL_TYPE });
    const envelope = { source: entry!.Source, 'detail-type': entry!.DetailType, detail: JSON.parse(entry!.Detail!) };
    expect(PipelineInputSchema.parse(envelope).detail).toMatchObject({ deliveryId: 'eb-1', after: '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c' });
    expect(d.deliveries.records.get('DELIVERY#github#eb-1')?.status).toBe('published');
  });

  it('fails with 500 on a partial PutEvents failure and forgets the delivery so a redelivery is published', async () => {
    // GIVEN EventBridge rejecting the entry (FailedEntryCount 1, no exception)
    eventBridge.on(PutEventsCommand).resolvesOnce({
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'Internal service error' }],
    });
    const d = deps();
    const body = fixtureText('github-push.json');

    // WHEN the push arrives
    const response = await handleWebhook(githubRequest(body, { deliveryId: 'eb-2' }), d);

    // THEN it answers 500, logs the delivery id and the error, and keeps no delivery record
    expect(response.statusCode).toBe(500);
    expect(bodyOf(response)).toEqual({ reason: 'publishing the push failed; redeliver the webhook' });
    expect(d.deliveries.records.size).toBe(0);
    const failure = d.logger.entries.find((e) => e.message === 'publishing the push failed');
    expect(failure?.fields).toMatchObject({ deliveryId: 'eb-2', error: { name: 'PublishError', message: expect.stringContaining('InternalFailure') } });
    expect(logText(d.logger)).not.toContain(SECRET);

    // AND WHEN GitHub redelivers it after EventBridge recovers
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e2' }] });
    const again = await handleWebhook(githubRequest(body, { deliveryId: 'eb-2' }), d);

    // THEN the redelivery is published, not dropped as a duplicate
    expect(again.statusCode).toBe(200);
    expect(bodyOf(again)).toMatchObject({ outcome: 'published' });
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(2);
  });

  it('fails with 500 when PutEvents throws and forgets the delivery', async () => {
    // GIVEN EventBridge throttling
    eventBridge.on(PutEventsCommand).rejects(new Error('Rate exceeded'));
    const d = deps();

    // WHEN a push arrives
    const response = await handleWebhook(githubRequest(fixtureText('github-push.json'), { deliveryId: 'eb-3' }), d);

    // THEN it answers 500 and the delivery can be redelivered
    expect(response.statusCode).toBe(500);
    expect(d.deliveries.records.size).toBe(0);
  });

  it('puts nothing for an ignored push', async () => {
    // GIVEN a tag push
    const d = deps();

    // WHEN it arrives
    await handleWebhook(githubRequest(fixtureText('github-tag-created.json')), d);

    // THEN EventBridge was not called
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(0);
  });
});
