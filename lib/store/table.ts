/**
 * What every part of the run table's code shares: the document client and table name, the
 * clock, consistent reads, and the helpers that turn items into records. Each concern (runs,
 * outcomes and targets, the branch queue) builds on {@link RunTable}.
 */
import { ConditionalCheckFailedException, CreateTableCommand, DynamoDBClient, ResourceInUseException, UpdateTimeToLiveCommand, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { GetCommand, QueryCommand, type DynamoDBDocumentClient, type NativeAttributeValue } from '@aws-sdk/lib-dynamodb';
import { RUN_TABLE_KEYS, RUN_TTL_DAYS } from './keys';

/** A raw item of the run table. */
export type Item = Record<string, NativeAttributeValue>;

/** Whether an error is DynamoDB's answer to a failed condition expression. */
export function isConditionFailure(err: unknown): boolean {
  return err instanceof ConditionalCheckFailedException || (err as { name?: string }).name === 'ConditionalCheckFailedException';
}

/** An item without its key, type and TTL attributes: the record it stores. */
export function strip<T>(item: Item | undefined): T | undefined {
  if (!item) return undefined;
  const { pk: _pk, sk: _sk, type: _type, expiresAt: _exp, ...rest } = item;
  return rest as T;
}

/** The table and clock every part of the run table's code uses. */
export class RunTable {
  constructor(
    readonly doc: DynamoDBDocumentClient,
    readonly tableName: string,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** The clock's time as ISO text. */
  now(): string {
    return this.clock().toISOString();
  }

  /** The TTL (epoch seconds) of an item written now that expires after {@link RUN_TTL_DAYS}. */
  expiresAt(): number {
    return Math.floor(this.clock().getTime() / 1000) + RUN_TTL_DAYS * 24 * 3600;
  }

  /** One item, read consistently. */
  async get(key: { pk: string; sk: string }): Promise<Item | undefined> {
    const res = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }));
    return res.Item;
  }

  /** Every item of a partition (or those whose sort key starts with `skPrefix`), read consistently. */
  async queryAll(pk: string, skPrefix?: string): Promise<Item[]> {
    const items: Item[] = [];
    let start: Record<string, NativeAttributeValue> | undefined;
    do {
      const res = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: skPrefix ? 'pk = :pk AND begins_with(sk, :prefix)' : 'pk = :pk',
          ExpressionAttributeValues: skPrefix ? { ':pk': pk, ':prefix': skPrefix } : { ':pk': pk },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(res.Items ?? []));
      start = res.LastEvaluatedKey;
    } while (start);
    return items;
  }
}

/**
 * Creates the run table (on-demand, keys {@link RUN_TABLE_KEYS}) and waits until it is active.
 * Used by the local mode against dynalite and by tests; CDK creates the real one. An existing
 * table is left as it is. The TTL setting is best effort: dynalite does not implement it.
 */
export async function createRunTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        AttributeDefinitions: [
          { AttributeName: RUN_TABLE_KEYS.partitionKey, AttributeType: 'S' },
          { AttributeName: RUN_TABLE_KEYS.sortKey, AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: RUN_TABLE_KEYS.partitionKey, KeyType: 'HASH' },
          { AttributeName: RUN_TABLE_KEYS.sortKey, KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  } catch (err) {
    if (!(err instanceof ResourceInUseException || (err as { name?: string }).name === 'ResourceInUseException')) throw err;
  }
  await waitUntilTableExists({ client, maxWaitTime: 60, minDelay: 1 }, { TableName: tableName });
  try {
    await client.send(new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { AttributeName: RUN_TABLE_KEYS.timeToLiveAttribute, Enabled: true } }));
  } catch {
    // dynalite has no UpdateTimeToLive; records then simply never expire locally.
  }
}
