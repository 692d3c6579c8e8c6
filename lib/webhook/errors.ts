import { TfstepError } from '../config/errors';

/**
 * A request the webhook refuses. Each subclass carries the HTTP status it maps to; the message
 * becomes the `reason` of the response, so it must never contain a secret, a signature or a
 * token.
 */
export class WebhookError extends TfstepError {
  /** The HTTP status this refusal answers with. */
  readonly statusCode: number = 400;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WebhookError';
  }
}

/** 405: only POST carries a webhook delivery. */
export class MethodNotAllowedError extends WebhookError {
  override readonly statusCode = 405;

  constructor(method: string, options?: { cause?: unknown }) {
    super(`method ${method} is not allowed; webhooks are delivered with POST`, options);
    this.name = 'MethodNotAllowedError';
  }
}

/** 415: the body is not JSON (GitHub's form-encoded deliveries included). */
export class UnsupportedMediaTypeError extends WebhookError {
  override readonly statusCode = 415;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UnsupportedMediaTypeError';
  }
}

/** 413: the body is larger than the configured limit. */
export class PayloadTooLargeError extends WebhookError {
  override readonly statusCode = 413;

  constructor(limitBytes: number, options?: { cause?: unknown }) {
    super(`body is larger than ${limitBytes} bytes`, options);
    this.name = 'PayloadTooLargeError';
  }
}

/** 400: the body or a required header cannot be understood. */
export class MalformedRequestError extends WebhookError {
  override readonly statusCode = 400;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MalformedRequestError';
  }
}

/** 401: the signature (GitHub) or token (GitLab) is missing or does not match. */
export class AuthenticationError extends WebhookError {
  override readonly statusCode = 401;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AuthenticationError';
  }
}

/** 403: an authentic delivery for a repository that is not in the config. */
export class UnknownRepositoryError extends WebhookError {
  override readonly statusCode = 403;

  constructor(
    readonly provider: string,
    readonly fullName: string,
    options?: { cause?: unknown },
  ) {
    super(`repository ${provider}:${fullName} is not configured`, options);
    this.name = 'UnknownRepositoryError';
  }
}

/**
 * Publishing to EventBridge failed. Not a 4xx: the handler answers 500 so the sender (or an
 * operator) redelivers.
 */
export class PublishError extends TfstepError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PublishError';
  }
}

/** The webhook secret cannot be used (no value). A 500: every delivery would otherwise be a 401. */
export class WebhookSecretError extends TfstepError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WebhookSecretError';
  }
}
