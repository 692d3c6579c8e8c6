import { createAwsApprovalDeps, type AwsApprovalDeps } from '../../lib/approval/deps';
import { handleApprovalHttp, type ApprovalHttpResponse } from '../../lib/approval/http';
import { jsonLogger } from '../../lib/log';
import { SECURITY_HEADERS, renderMessagePage } from '../../lib/approval/page';
import { createApprovalRequestHandler, type ApprovalRequestResult } from '../../lib/approval/request';

/** The part of a Lambda function URL event (payload format 2.0) the approval pages read. */
export interface FunctionUrlEvent {
  readonly rawPath?: string;
  readonly rawQueryString?: string;
  readonly headers?: Record<string, string | undefined>;
  readonly body?: string;
  readonly isBase64Encoded?: boolean;
  readonly requestContext: { readonly http: { readonly method: string; readonly path?: string } };
}

const logger = jsonLogger();
let deps: AwsApprovalDeps | undefined;
let requestHandler: ((event: unknown) => Promise<ApprovalRequestResult>) | undefined;

function getDeps(): AwsApprovalDeps {
  deps ??= createAwsApprovalDeps(process.env, {}, logger);
  return deps;
}

function isFunctionUrlEvent(event: unknown): event is FunctionUrlEvent {
  const ctx = (event as { requestContext?: { http?: { method?: unknown } } } | null)?.requestContext;
  return typeof ctx?.http?.method === 'string';
}

function firstValues(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(raw ?? '')) if (!(k in out)) out[k] = v;
  return out;
}

/**
 * One function, two entry points: the approval step invokes it with `{ action: "request" }`
 * (`lambda:invoke.waitForTaskToken`), and approvers reach it through its function URL (auth
 * NONE: each link's signature is the authentication).
 */
export async function handler(event: unknown): Promise<ApprovalHttpResponse | ApprovalRequestResult> {
  if (isFunctionUrlEvent(event)) {
    let current: AwsApprovalDeps;
    try {
      current = getDeps();
    } catch (err) {
      logger.error('approval function is misconfigured', { error: err instanceof Error ? { name: err.name, message: err.message } : String(err) });
      return { statusCode: 500, headers: { ...SECURITY_HEADERS }, body: renderMessagePage('Unavailable', 'The approval service is misconfigured; an operator must check its logs.') };
    }
    return handleApprovalHttp(
      {
        method: event.requestContext.http.method,
        path: event.rawPath ?? event.requestContext.http.path ?? '/',
        query: firstValues(event.rawQueryString),
        headers: event.headers ?? {},
        body: event.body,
        isBase64Encoded: event.isBase64Encoded ?? false,
      },
      current.http,
    );
  }
  // The approval step: errors propagate so the step fails (and Lambda errors are retried by the ASL).
  requestHandler ??= createApprovalRequestHandler(getDeps().request);
  return requestHandler(event);
}
