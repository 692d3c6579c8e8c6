import { approvalsOf, decide, whyClosed, type DecideDeps } from './decide';
import { ApprovalError, ApprovalGoneError, ApprovalNotFoundError, BadApprovalRequestError, CsrfError, ForgedLinkError } from './errors';
import { renderApprovalPage, renderMessagePage, SECURITY_HEADERS } from './page';
import { csrfToken, linkPath, verifyCsrf, verifyLink } from './signing';
import { silentLogger, systemClock, type SigningKeyProvider } from './types';

/** An HTTP request as any front end sees it (a Lambda function URL, a local node:http server). */
export interface ApprovalHttpRequest {
  readonly method: string;
  /** The path without the query, such as `/approvals/3f2a...`. */
  readonly path: string;
  readonly query: Readonly<Record<string, string | undefined>>;
  /** Header names in any case. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body?: string | undefined;
  readonly isBase64Encoded?: boolean | undefined;
}

/** The answer: always a human HTML page. */
export interface ApprovalHttpResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** What the HTTP core needs: the decision deps plus the signing key. */
export interface ApprovalHttpDeps extends DecideDeps {
  readonly keys: SigningKeyProvider;
  /** The public base URL; its origin is accepted as the form's Origin. */
  readonly baseUrl?: string;
}

/** Largest accepted form body. */
export const MAX_FORM_BYTES = 16 * 1024;

const ROUTE = /^\/approvals\/([A-Za-z0-9_-]{1,100})\/?$/;

function page(statusCode: number, body: string, extra: Record<string, string> = {}): ApprovalHttpResponse {
  return { statusCode, headers: { ...SECURITY_HEADERS, ...extra }, body };
}

function lowerHeaders(headers: ApprovalHttpRequest['headers']): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out.set(k.toLowerCase(), v);
  return out;
}

interface Link {
  readonly approvalId: string;
  readonly approver: string;
  readonly exp: number;
  readonly sig: string;
}

function parseLink(approvalId: string, query: ApprovalHttpRequest['query']): Link {
  const approver = query.approver?.trim() ?? '';
  const expText = query.exp ?? '';
  const sig = query.sig ?? '';
  if (approver === '' || approver.length > 320) throw new BadApprovalRequestError('the link has no approver; use the complete link from your email');
  if (!/^\d{1,12}$/.test(expText)) throw new BadApprovalRequestError('the link has no valid expiry; use the complete link from your email');
  if (sig === '' || sig.length > 200) throw new BadApprovalRequestError('the link has no signature; use the complete link from your email');
  return { approvalId, approver, exp: Number(expText), sig };
}

function allowedOrigins(headers: Map<string, string>, baseUrl: string | undefined): Set<string> {
  const origins = new Set<string>();
  if (baseUrl) origins.add(new URL(baseUrl).origin);
  const host = headers.get('host');
  if (host) {
    origins.add(`https://${host}`);
    // Plain http only for the local server on loopback.
    if (/^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/.test(host)) origins.add(`http://${host}`);
  }
  return origins;
}

/**
 * Checks that the form comes from our own page: the browser's fetch metadata and Origin where
 * present, and always the CSRF token. A page served with `Referrer-Policy: no-referrer` makes
 * browsers send `Origin: null` on its own form posts, so `null` is left to the token.
 */
function checkForm(headers: Map<string, string>, form: URLSearchParams, link: Link, key: string, baseUrl: string | undefined): void {
  const site = headers.get('sec-fetch-site');
  if (site !== undefined && site !== 'same-origin') throw new CsrfError(`the form was sent from another site (Sec-Fetch-Site: ${site}); decide on the approval page itself`);
  const origin = headers.get('origin');
  if (origin !== undefined && origin !== 'null' && !allowedOrigins(headers, baseUrl).has(origin)) {
    throw new CsrfError(`the form was sent from ${origin}, not from the approval page; decide on the approval page itself`);
  }
  const token = form.get('csrf');
  if (!token) throw new CsrfError('the form has no CSRF token; reload the approval page and decide there');
  if (!verifyCsrf(key, link.approvalId, link.approver, link.exp, token)) throw new CsrfError('the form token does not match; reload the approval page and decide there');
}

function readForm(request: ApprovalHttpRequest, headers: Map<string, string>): URLSearchParams {
  const type = headers.get('content-type') ?? '';
  if (!type.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    throw new BadApprovalRequestError(`expected a form (application/x-www-form-urlencoded); got ${type || 'no content type'}`);
  }
  const raw = request.body ?? '';
  const bytes = request.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
  if (bytes.length > MAX_FORM_BYTES) throw new BadApprovalRequestError(`the form is larger than ${MAX_FORM_BYTES} bytes`);
  return new URLSearchParams(bytes.toString('utf8'));
}

/**
 * The approval pages. GET renders the page and has no side effect at all (mail scanners open
 * links); POST checks the link's signature and expiry, the form's CSRF token and origin, then
 * decides through {@link decide}. Every answer is an HTML page with strict security headers.
 */
export async function handleApprovalHttp(request: ApprovalHttpRequest, deps: ApprovalHttpDeps): Promise<ApprovalHttpResponse> {
  const logger = deps.logger ?? silentLogger;
  const clock = deps.clock ?? systemClock;
  const method = request.method.toUpperCase();
  const match = ROUTE.exec(request.path);
  if (!match?.[1]) return page(404, renderMessagePage('Not found', 'There is no page here. Approval links look like /approvals/<id>?approver=...&exp=...&sig=...'));
  if (method !== 'GET' && method !== 'HEAD' && method !== 'POST') {
    return page(405, renderMessagePage('Method not allowed', `${method} is not allowed here; open the link (GET) and decide with the buttons (POST)`), { allow: 'GET, HEAD, POST' });
  }
  const approvalId = match[1];
  try {
    const link = parseLink(approvalId, request.query);
    const key = await deps.keys.getKey();
    if (!verifyLink(key, link.approvalId, link.approver, link.exp, link.sig)) throw new ForgedLinkError();
    const nowEpoch = Math.floor(clock.now().getTime() / 1000);
    if (link.exp <= nowEpoch) throw new ApprovalGoneError(`this link expired at ${new Date(link.exp * 1000).toISOString()}; the run ends as expired and nothing is applied`);

    if (method === 'GET' || method === 'HEAD') {
      const approval = await deps.store.get(approvalId);
      if (!approval) throw new ApprovalNotFoundError(approvalId);
      const closed = whyClosed(approval, nowEpoch);
      const status = closed instanceof ApprovalGoneError ? 410 : 200;
      const html = renderApprovalPage(approval, {
        approver: link.approver,
        action: linkPath(approvalId, link.approver, link.exp, link.sig),
        csrf: csrfToken(key, approvalId, link.approver, link.exp),
        nowEpochSeconds: nowEpoch,
      });
      return page(status, method === 'HEAD' ? '' : html);
    }

    const headers = lowerHeaders(request.headers);
    const form = readForm(request, headers);
    checkForm(headers, form, link, key, deps.baseUrl);
    const decision = form.get('decision');
    if (decision !== 'approve' && decision !== 'reject') throw new BadApprovalRequestError('choose Approve or Reject');
    // The override form also offers Reject: a rejection is never an override.
    const override = decision === 'approve' && form.get('override') === 'yes' ? { reason: form.get('reason') ?? '' } : undefined;
    const result = await decide({ approvalId, approver: link.approver, decision, comment: form.get('comment') ?? '', via: 'link', ...(override ? { override } : {}) }, deps);
    switch (result.outcome) {
      case 'approved':
        return page(200, renderMessagePage('Approved', `Thank you. ${result.approval.stage} is approved by ${approvalsOf(result.approval).map((d) => d.approver).join(', ')}; the apply starts now.`, 'ok'));
      case 'rejected':
        return page(200, renderMessagePage('Rejected', `The run was rejected: nothing will be applied to ${result.approval.stage}. ${result.approval.closedReason ?? ''}`.trim(), 'stopped'));
      case 'recorded':
        return page(
          200,
          renderMessagePage('Approval recorded', `Your approval is recorded. ${result.remaining} more approval${result.remaining === 1 ? ' is' : 's are'} needed before the apply starts.`, 'ok'),
        );
    }
  } catch (err) {
    if (err instanceof ApprovalError) {
      logger.info('approval request refused', { approvalId, method, status: err.statusCode, reason: err.name });
      return page(err.statusCode, renderMessagePage(err.title, err.message));
    }
    logger.error('approval request failed', { approvalId, method, error: err instanceof Error ? { name: err.name, message: err.message } : String(err) });
    return page(500, renderMessagePage('Something went wrong', 'Your decision was not recorded. Please try again in a minute; if it keeps failing, use `tfstep approve` or ask an operator.'));
  }
}
