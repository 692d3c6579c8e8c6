import { createServer, type IncomingMessage, type Server } from 'node:http';
import { MAX_FORM_BYTES, handleApprovalHttp, type ApprovalHttpDeps } from './http';
import { SECURITY_HEADERS, renderMessagePage } from './page';

/** Reads a request body as UTF-8; undefined once it grows past `limit` bytes. */
export async function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) return undefined;
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * A node:http server in front of {@link handleApprovalHttp}, for the local mode and tests.
 * Listen on 127.0.0.1 only: the links are bearer credentials.
 */
export function createApprovalServer(deps: ApprovalHttpDeps): Server {
  return createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const headers: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) if (!(k in query)) query[k] = v;
    readBody(req, MAX_FORM_BYTES + 1)
      .then(async (body) => {
        // The rest of the body is still on the wire: the connection is closed after this answer.
        if (body === undefined) return { statusCode: 413, headers: { ...SECURITY_HEADERS, connection: 'close' }, body: renderMessagePage('Too large', `the form is larger than ${MAX_FORM_BYTES} bytes`) };
        return handleApprovalHttp({ method: req.method ?? 'GET', path: url.pathname, query, headers, body, isBase64Encoded: false }, deps);
      })
      .then(
        (answer) => {
          res.writeHead(answer.statusCode, answer.headers);
          res.end(answer.body);
        },
        (err: unknown) => {
          deps.logger?.error('approval server failed', { error: err instanceof Error ? { name: err.name, message: err.message } : String(err) });
          res.writeHead(500, { ...SECURITY_HEADERS });
          res.end(renderMessagePage('Something went wrong', 'Your decision was not recorded; try again.'));
        },
      );
  });
}
