/**
 * The git intake: verifies GitHub and GitLab webhooks, turns deploy pushes into the canonical
 * push event and publishes it. Framework-agnostic; the Lambda and the local server wrap it.
 */
export { handleWebhook, DEFAULT_MAX_BODY_BYTES, type WebhookOutcome } from './handler';
export type * from './types';
export * from './errors';
export { createAwsWebhookDeps, createInMemoryDeps, WEBHOOK_ENV, WEBHOOK_ENV_READS, type AwsWebhookClients, type InMemoryDepsOptions, type InMemoryWebhookDeps } from './deps';
export { DynamoDeliveryStore, MemoryDeliveryStore, deliveryKey, DELIVERY_TTL_SECONDS, DEFAULT_STALE_CLAIM_MS, type DeliveryStoreOptions } from './deliveries';
export { EventBridgePublisher, MemoryPublisher } from './publisher';
export { SecretsManagerSecretProvider, StaticSecretProvider, type SecretsManagerSecretProviderOptions } from './secrets';
export { jsonLogger, memoryLogger, silentLogger, type MemoryLogger } from '../log';
export { verifyGithubSignature, verifyGitlabToken } from './auth';
export { decidePush, readGithubPush, readGitlabPush, findRepository, PAYLOAD_COMMIT_LIMIT, MAX_PATHS_BYTES, type PushDecision } from './normalize';
