import { createAwsWebhookDeps } from '../../lib/webhook/deps';
import { handleWebhook } from '../../lib/webhook/handler';
import { jsonLogger } from '../../lib/log';
import type { Logger, WebhookDeps, WebhookResponse } from '../../lib/webhook/types';

/** The part of a Lambda function URL event (payload format 2.0) the webhook reads. */
export interface FunctionUrlEvent {
  readonly headers?: Record<string, string | undefined>;
  readonly body?: string;
  readonly isBase64Encoded?: boolean;
  readonly requestContext: { readonly http: { readonly method: string } };
}

/** A function URL handler. */
export type FunctionUrlHandler = (event: FunctionUrlEvent) => Promise<WebhookResponse>;

/**
 * Creates the function's handler. Dependencies are built on the first invocation and reused
 * while the execution environment lives, so the secret cache and the SDK clients' connections
 * carry over. They are not kept when building throws (a missing variable, an invalid config):
 * every invocation then answers 500 and logs the reason, rather than the function failing to
 * initialise with the reason buried in an init error.
 */
export function createHandler(env: Readonly<Record<string, string | undefined>> = process.env, logger: Logger = jsonLogger()): FunctionUrlHandler {
  let deps: WebhookDeps | undefined;
  return async (event) => {
    try {
      deps ??= createAwsWebhookDeps(env, {}, logger);
    } catch (err) {
      logger.error('webhook function is misconfigured', { error: err instanceof Error ? { name: err.name, message: err.message } : String(err) });
      return {
        statusCode: 500,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ reason: 'webhook function is misconfigured; see its logs' }),
      };
    }
    return handleWebhook(
      { method: event.requestContext.http.method, headers: event.headers ?? {}, body: event.body, isBase64Encoded: event.isBase64Encoded ?? false },
      deps,
    );
  };
}

/** The webhook function: a Lambda function URL with auth NONE; the signature is the authentication. */
export const handler: FunctionUrlHandler = createHandler();
