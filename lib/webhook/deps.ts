import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { parseConfig } from '../config/parse';
import { FUNCTION_ENV, type FunctionEnvReads } from '../domain/function-env';
import type { Config } from '../config/schema';
import { names } from '../domain/names';
import type { PullRequestEvent } from '../domain/pull-request-event';
import type { PushEvent } from '../domain/push-event';
import { functionConfigJson, optionalEnv, positiveIntEnv, requireEnv } from '../env';
import { DynamoDeliveryStore, MemoryDeliveryStore } from './deliveries';
import { DEFAULT_MAX_BODY_BYTES } from './handler';
import { jsonLogger, silentLogger } from '../log';
import { EventBridgePublisher, MemoryPublisher } from './publisher';
import { SecretsManagerSecretProvider, StaticSecretProvider } from './secrets';
import type { Clock, Logger, WebhookDeps } from './types';

/** Environment variables the webhook function reads, by their names in {@link FUNCTION_ENV}. */
export const WEBHOOK_ENV = {
  /** The config as JSON (validated with parseConfig); else the bundled file. */
  config: FUNCTION_ENV.config,
  /** ARN (or name) of the Secrets Manager secret holding the webhook secret. */
  secretArn: FUNCTION_ENV.webhookSecretArn,
  /** The run table (delivery records). */
  table: FUNCTION_ENV.table,
  /** The event bus; defaults to names.eventBus(). */
  eventBus: FUNCTION_ENV.eventBus,
  /** Body limit in bytes; defaults to 5 MiB (Lambda's synchronous payload limit is 6 MB). */
  maxBytes: FUNCTION_ENV.webhookMaxBytes,
} as const;

/** What {@link createAwsWebhookDeps} refuses to start without, and what it reads when set. */
export const WEBHOOK_ENV_READS: FunctionEnvReads = {
  required: [WEBHOOK_ENV.secretArn, WEBHOOK_ENV.table],
  optional: [WEBHOOK_ENV.config, WEBHOOK_ENV.eventBus, WEBHOOK_ENV.maxBytes],
};

/** The AWS clients the function uses; injectable so tests can pass mocked clients. */
export interface AwsWebhookClients {
  readonly secretsManager?: SecretsManagerClient;
  readonly eventBridge?: EventBridgeClient;
  readonly dynamoDb?: DynamoDBClient;
}

/**
 * Builds the deployed function's dependencies from its environment. Every variable is read
 * here, once, so a missing one fails the first invocation with a message naming it.
 */
export function createAwsWebhookDeps(
  env: Readonly<Record<string, string | undefined>> = process.env,
  clients: AwsWebhookClients = {},
  logger: Logger = jsonLogger(),
): WebhookDeps {
  const config = parseConfig(functionConfigJson(WEBHOOK_ENV.config, env), WEBHOOK_ENV.config);
  const secretArn = requireEnv(WEBHOOK_ENV.secretArn, env);
  const table = requireEnv(WEBHOOK_ENV.table, env);
  const bus = optionalEnv(WEBHOOK_ENV.eventBus, names.eventBus(), env);
  const maxBodyBytes = positiveIntEnv(WEBHOOK_ENV.maxBytes, DEFAULT_MAX_BODY_BYTES, env);
  const clock: Clock = { now: () => new Date() };
  const dynamoDb = clients.dynamoDb ?? new DynamoDBClient({});
  return {
    config,
    secrets: new SecretsManagerSecretProvider(clients.secretsManager ?? new SecretsManagerClient({}), secretArn, { clock }),
    publisher: new EventBridgePublisher(clients.eventBridge ?? new EventBridgeClient({}), bus),
    deliveries: new DynamoDeliveryStore(DynamoDBDocumentClient.from(dynamoDb), table, { clock }),
    clock,
    logger,
    maxBodyBytes,
  };
}

/** Options of {@link createInMemoryDeps}. */
export interface InMemoryDepsOptions {
  readonly config: Config;
  /** The webhook secret the git host (or test) signs with. */
  readonly secret: string;
  /** A previous secret still accepted, as during a rotation. */
  readonly previousSecret?: string;
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly maxBodyBytes?: number;
  /** Called with every published push, e.g. to start the local pipeline. */
  readonly onPublish?: (event: PushEvent) => void | Promise<void>;
  /** Called with every published pull request event. */
  readonly onPullRequest?: (event: PullRequestEvent) => void | Promise<void>;
}

/** In-memory dependencies plus handles on the publisher and store to inspect them. */
export interface InMemoryWebhookDeps extends WebhookDeps {
  readonly publisher: MemoryPublisher;
  readonly deliveries: MemoryDeliveryStore;
}

/** Dependencies without AWS, for the local HTTP server, tests and the benchmark. */
export function createInMemoryDeps(options: InMemoryDepsOptions): InMemoryWebhookDeps {
  const clock = options.clock ?? { now: () => new Date() };
  return {
    config: options.config,
    secrets: new StaticSecretProvider(options.secret, options.previousSecret),
    publisher: new MemoryPublisher(options.onPublish, options.onPullRequest),
    deliveries: new MemoryDeliveryStore({ clock }),
    clock,
    logger: options.logger ?? silentLogger,
    ...(options.maxBodyBytes !== undefined ? { maxBodyBytes: options.maxBodyBytes } : {}),
  };
}
