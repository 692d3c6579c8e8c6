import type { Config } from '../config/schema';
import type { PullRequestEvent } from '../domain/pull-request-event';
import type { PushEvent } from '../domain/push-event';
import type { LogFields, Logger } from '../log';

/** The git hosts whose webhooks are accepted. */
export type GitProvider = 'github' | 'gitlab';

/**
 * An HTTP request as any front end sees it (Lambda function URL, a local HTTP server).
 * Header names may have any case; a repeated header may arrive as an array.
 */
export interface WebhookRequest {
  readonly method: string;
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** The raw body, exactly as received; base64 when `isBase64Encoded`. */
  readonly body: string | undefined;
  readonly isBase64Encoded?: boolean;
}

/** The answer: a status, headers and a small JSON body. */
export interface WebhookResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Where the webhook writes its log lines: tfstep's one structured logger. */
export type { LogFields, Logger };

/** The time source, injected so tests and the local mode control `receivedAt`. */
export interface Clock {
  now(): Date;
}

/** A Secrets Manager rotation stage: the current secret and, during a rotation, the previous one. */
export type SecretStage = 'AWSCURRENT' | 'AWSPREVIOUS';

/** Gives the shared webhook secret (GitHub HMAC key, GitLab token). */
export interface SecretProvider {
  /**
   * The secret at a rotation stage, or undefined when that stage does not exist (a secret that
   * was never rotated has no AWSPREVIOUS). `refresh` asks to bypass the cache; implementations
   * may rate-limit it.
   */
  getSecret(stage: SecretStage, options?: { refresh?: boolean }): Promise<string | undefined>;
}

/** Publishes canonical events. Throws (a PublishError) when the event was not accepted. */
export interface Publisher {
  publish(event: PushEvent): Promise<void>;
  /** Publishes a pull request event under its own detail-type. */
  publishPullRequest(event: PullRequestEvent): Promise<void>;
}

/** What a claim found. */
export type ClaimResult = 'claimed' | 'duplicate';

/**
 * Remembers delivery ids so a redelivered push is published once. A delivery is claimed before
 * publishing, completed after, and released when publishing fails, so the sender's redelivery
 * is published rather than dropped as a duplicate.
 */
export interface DeliveryStore {
  /** Claims a delivery; `duplicate` when it was already published or is being published now. */
  claim(provider: GitProvider, deliveryId: string): Promise<ClaimResult>;
  /** Marks a claimed delivery as published. */
  complete(provider: GitProvider, deliveryId: string): Promise<void>;
  /** Forgets a claimed delivery whose publish failed. */
  release(provider: GitProvider, deliveryId: string): Promise<void>;
}

/** Everything the webhook core needs; the Lambda and the local server each build one. */
export interface WebhookDeps {
  /** The validated config (see `parseConfig`). */
  readonly config: Config;
  readonly secrets: SecretProvider;
  readonly publisher: Publisher;
  readonly deliveries: DeliveryStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Largest accepted body in bytes (after base64 decoding). Default 5 MiB. */
  readonly maxBodyBytes?: number;
}
