import { PutEventsCommand, type EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { PULL_REQUEST_EVENT_DETAIL_TYPE, type PullRequestEvent } from '../domain/pull-request-event';
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
    await this.put(PUSH_EVENT_DETAIL_TYPE, event);
  }

  /** Publishes a pull request event under {@link PULL_REQUEST_EVENT_DETAIL_TYPE}. */
  async publishPullRequest(event: PullRequestEvent): Promise<void> {
    await this.put(PULL_REQUEST_EVENT_DETAIL_TYPE, event);
  }

  private async put(detailType: string, event: PushEvent | PullRequestEvent): Promise<void> {
    let out;
    try {
      out = await this.client.send(
        new PutEventsCommand({
          Entries: [
            {
              EventBusName: this.eventBusName,
              Source: PUSH_EVENT_SOURCE,
              DetailType: detailType,
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
  readonly pullRequests: PullRequestEvent[] = [];

  /** Records the event; `onPublish` lets the local mode start its pipeline from here. */
  constructor(
    private readonly onPublish?: (event: PushEvent) => void | Promise<void>,
    private readonly onPullRequest?: (event: PullRequestEvent) => void | Promise<void>,
  ) {}

  /** {@inheritDoc Publisher.publishPullRequest} */
  async publishPullRequest(event: PullRequestEvent): Promise<void> {
    this.pullRequests.push(event);
    await this.onPullRequest?.(event);
  }

  /** {@inheritDoc Publisher.publish} */
  async publish(event: PushEvent): Promise<void> {
    this.events.push(event);
    await this.onPublish?.(event);
  }
}
