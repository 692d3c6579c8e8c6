import { PutEventsCommand, type EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { PUSH_EVENT_DETAIL_TYPE, PUSH_EVENT_SOURCE, type PushEvent } from '../domain/push-event';
import { PublishError } from './errors';
import type { Publisher } from './types';

/** Publishes canonical pushes to the tfstep event bus with PutEvents. */
export class EventBridgePublisher implements Publisher {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly eventBusName: string,
  ) {}

  /**
   * Publishes one event. PutEvents reports a rejected entry in `FailedEntryCount` rather than by
   * throwing, so that is turned into a {@link PublishError} too.
   */
  async publish(event: PushEvent): Promise<void> {
    let out;
    try {
      out = await this.client.send(
        new PutEventsCommand({
          Entries: [
            {
              EventBusName: this.eventBusName,
              Source: PUSH_EVENT_SOURCE,
              DetailType: PUSH_EVENT_DETAIL_TYPE,
              Detail: JSON.stringify(event),
              Time: new Date(event.receivedAt),
            },
          ],
        }),
      );
    } catch (err) {
      throw new PublishError(`PutEvents to bus ${this.eventBusName} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    if ((out.FailedEntryCount ?? 0) > 0) {
      const entry = out.Entries?.find((e) => e.ErrorCode !== undefined);
      throw new PublishError(
        `PutEvents to bus ${this.eventBusName} rejected the event: ${entry?.ErrorCode ?? 'unknown error'}${entry?.ErrorMessage ? ` (${entry.ErrorMessage})` : ''}`,
      );
    }
  }
}

/** Keeps published events in memory, for the local server, tests and the benchmark. */
export class MemoryPublisher implements Publisher {
  readonly events: PushEvent[] = [];

  /** Records the event; `onPublish` lets the local mode start its pipeline from here. */
  constructor(private readonly onPublish?: (event: PushEvent) => void | Promise<void>) {}

  /** {@inheritDoc Publisher.publish} */
  async publish(event: PushEvent): Promise<void> {
    this.events.push(event);
    await this.onPublish?.(event);
  }
}
