import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ClaimResult, Clock, DeliveryStore, GitProvider } from './types';

/** Delivery records expire after 7 days (git hosts offer redelivery for about that long). */
export const DELIVERY_TTL_SECONDS = 7 * 24 * 60 * 60;

/**
 * A claim still `pending` after this long belongs to an invocation that died between claiming
 * and publishing (a Lambda runs at most 15 minutes); a redelivery may then claim it again
 * instead of being dropped as a duplicate of a push that was never published.
 */
export const DEFAULT_STALE_CLAIM_MS = 15 * 60 * 1000;

/** The run table key of a delivery record. */
export function deliveryKey(provider: GitProvider, deliveryId: string): { pk: string; sk: string } {
  return { pk: `DELIVERY#${provider}#${deliveryId}`, sk: 'DELIVERY' };
}

/** Options shared by the delivery stores. */
export interface DeliveryStoreOptions {
  readonly clock?: Clock;
  /** See {@link DEFAULT_STALE_CLAIM_MS}. */
  readonly staleClaimMs?: number;
}

const systemClock: Clock = { now: () => new Date() };

/**
 * Delivery records in the run table (string keys `pk`/`sk`, TTL attribute `expiresAt`). A claim is
 * a conditional put, so two concurrent invocations for the same delivery cannot both claim it.
 */
export class DynamoDeliveryStore implements DeliveryStore {
  private readonly clock: Clock;
  private readonly staleClaimMs: number;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    options: DeliveryStoreOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.staleClaimMs = options.staleClaimMs ?? DEFAULT_STALE_CLAIM_MS;
  }

  /** {@inheritDoc DeliveryStore.claim} */
  async claim(provider: GitProvider, deliveryId: string): Promise<ClaimResult> {
    const now = this.clock.now().getTime();
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...deliveryKey(provider, deliveryId),
            type: 'delivery',
            provider,
            deliveryId,
            status: 'pending',
            claimedAt: now,
            expiresAt: Math.floor(now / 1000) + DELIVERY_TTL_SECONDS,
          },
          ConditionExpression: 'attribute_not_exists(pk) OR (#status = :pending AND claimedAt < :staleBefore)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':pending': 'pending', ':staleBefore': now - this.staleClaimMs },
        }),
      );
      return 'claimed';
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return 'duplicate';
      throw err;
    }
  }

  /** {@inheritDoc DeliveryStore.complete} */
  async complete(provider: GitProvider, deliveryId: string): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: deliveryKey(provider, deliveryId),
        UpdateExpression: 'SET #status = :published, publishedAt = :now',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':published': 'published', ':now': this.clock.now().getTime() },
      }),
    );
  }

  /** {@inheritDoc DeliveryStore.release} */
  async release(provider: GitProvider, deliveryId: string): Promise<void> {
    try {
      await this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: deliveryKey(provider, deliveryId),
          // Never forget a delivery that some invocation did publish.
          ConditionExpression: '#status = :pending',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':pending': 'pending' },
        }),
      );
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return;
      throw err;
    }
  }
}

/** The same semantics in memory, for the local server, tests and the benchmark. */
export class MemoryDeliveryStore implements DeliveryStore {
  /** Records by table key, visible to tests. */
  readonly records = new Map<string, { status: 'pending' | 'published'; claimedAt: number }>();
  private readonly clock: Clock;
  private readonly staleClaimMs: number;

  constructor(options: DeliveryStoreOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.staleClaimMs = options.staleClaimMs ?? DEFAULT_STALE_CLAIM_MS;
  }

  private static key(provider: GitProvider, deliveryId: string): string {
    return deliveryKey(provider, deliveryId).pk;
  }

  /** {@inheritDoc DeliveryStore.claim} */
  claim(provider: GitProvider, deliveryId: string): Promise<ClaimResult> {
    const key = MemoryDeliveryStore.key(provider, deliveryId);
    const now = this.clock.now().getTime();
    const existing = this.records.get(key);
    if (existing && !(existing.status === 'pending' && existing.claimedAt < now - this.staleClaimMs)) {
      return Promise.resolve('duplicate');
    }
    this.records.set(key, { status: 'pending', claimedAt: now });
    return Promise.resolve('claimed');
  }

  /** {@inheritDoc DeliveryStore.complete} */
  complete(provider: GitProvider, deliveryId: string): Promise<void> {
    const record = this.records.get(MemoryDeliveryStore.key(provider, deliveryId));
    if (record) record.status = 'published';
    return Promise.resolve();
  }

  /** {@inheritDoc DeliveryStore.release} */
  release(provider: GitProvider, deliveryId: string): Promise<void> {
    const key = MemoryDeliveryStore.key(provider, deliveryId);
    if (this.records.get(key)?.status === 'pending') this.records.delete(key);
    return Promise.resolve();
  }
}
