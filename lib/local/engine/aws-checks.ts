/**
 * The AWS limits the local mode checks outside the engine, shared by the local pipeline and the
 * benchmark: the push's EventBridge entry, each account's runner policy as an SSM parameter,
 * and the run table's items (see lib/domain/aws-limits.ts for the limits and their sources).
 */
import { ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Config } from '../../config/schema';
import { dynamoItemBytes, eventBridgeEntryBytes, LimitMeter, utf8Bytes, type AttributeValueLike } from '../../domain/aws-limits';
import { runnerPolicyFor } from '../../domain/runner-policy';

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * What AWS checks before an execution starts: the webhook's PutEvents entry for the push, and
 * the runner policy each account stack stores as an SSM parameter (Standard tier).
 * @returns a meter with both figures
 * @throws AwsLimitExceededError (ValidationException) as PutEvents or PutParameter would answer
 */
export function checkBeforeStart(input: unknown, config: Config): LimitMeter {
  const meter = new LimitMeter();
  if (isObject(input)) {
    const entry = {
      Time: typeof input.time === 'string' ? input.time : undefined,
      Source: typeof input.source === 'string' ? input.source : '',
      DetailType: typeof input['detail-type'] === 'string' ? input['detail-type'] : '',
      Detail: JSON.stringify(input.detail ?? {}),
      Resources: Array.isArray(input.resources) ? (input.resources as string[]) : [],
    };
    meter.check('eventBridgeEntryBytes', eventBridgeEntryBytes(entry), 'the push event');
  }
  for (const account of config.accounts) {
    meter.check('ssmParameterBytes', utf8Bytes(JSON.stringify(runnerPolicyFor(config, account))), `the runner policy of ${account.name}`);
  }
  return meter;
}

const sizeChecked = new WeakSet<object>();

/** The items a write command carries, in DynamoDB's wire format. */
function itemsWritten(commandName: string, input: Json): Record<string, AttributeValueLike>[] {
  type Items = Record<string, AttributeValueLike>[];
  switch (commandName) {
    case 'PutItemCommand':
      return [input.Item].filter(Boolean) as Items;
    case 'BatchWriteItemCommand':
      return Object.values((input.RequestItems ?? {}) as Record<string, { PutRequest?: { Item?: unknown } }[]>)
        .flat()
        .map((r) => r.PutRequest?.Item)
        .filter(Boolean) as Items;
    case 'TransactWriteItemsCommand':
      return ((input.TransactItems ?? []) as { Put?: { Item?: unknown } }[]).map((t) => t.Put?.Item).filter(Boolean) as Items;
    default:
      return [];
  }
}

/**
 * Refuses a put over DynamoDB's 400 KB item limit with ValidationException, counting UTF-8 bytes
 * as DynamoDB does (dynalite counts characters). Updates are left to dynalite's own check. It
 * runs in the build step, after the document client has marshalled the item.
 */
export function checkItemSizes(client: DynamoDBClient): void {
  if (sizeChecked.has(client)) return;
  sizeChecked.add(client);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const meter = new LimitMeter();
      for (const item of itemsWritten(context.commandName ?? '', args.input as Json)) {
        meter.check('dynamoItemBytes', dynamoItemBytes(item), `${context.commandName ?? 'write'} item`);
      }
      return next(args);
    },
    { step: 'build', priority: 'high', name: 'tfstepLocalItemSize' },
  );
}

/**
 * Records the largest item of the run table, measured as DynamoDB measures items: writes over
 * 400 KB are refused as they happen; this reports how close the items came.
 */
export async function measureStoredItems(store: { client: DynamoDBClient; tableName: string }, meter: LimitMeter): Promise<void> {
  let start: Json | undefined;
  do {
    const page = await store.client.send(new ScanCommand({ TableName: store.tableName, ExclusiveStartKey: start as never }));
    for (const item of page.Items ?? []) {
      const key = [item.pk, item.sk].map((v) => (v && 'S' in v ? v.S : '')).join(' ');
      meter.observe('dynamoItemBytes', dynamoItemBytes(item as unknown as Record<string, AttributeValueLike>), `run table item ${key}`);
    }
    start = page.LastEvaluatedKey;
  } while (start);
}
