/**
 * A stand-in for GitHub's installation token endpoint on loopback (GitHub itself cannot be
 * reached from the tests). It checks what GitHub checks: an RS256 JWT signed by the App's key,
 * issued by the App id, valid now and for at most ten minutes.
 */
import { createPublicKey, createVerify, generateKeyPairSync, type KeyObject } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface MintRequest {
  installationId: string;
  repositories: string[] | undefined;
  permissions: Record<string, string> | undefined;
}

export interface FakeGitHub {
  readonly apiBaseUrl: string;
  readonly appId: string;
  readonly installationId: string;
  /** The App's private key, PKCS#1 PEM as GitHub generates it. */
  readonly privateKey: string;
  readonly requests: MintRequest[];
  /** Repositories the installation can see; others get GitHub's 422. */
  readonly visible: Set<string>;
  /** The tokens handed out, by repository list. */
  readonly issued: Map<string, string>;
  close(): Promise<void>;
}

function b64url(s: string): Buffer {
  return Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

function checkJwt(header: string | undefined, appId: string, key: KeyObject): string | undefined {
  const m = /^bearer (.+)$/i.exec(header ?? '');
  if (!m?.[1]) return 'no bearer JWT';
  const [h, p, s] = m[1].split('.');
  if (!h || !p || !s) return 'not a JWT';
  const head = JSON.parse(b64url(h).toString('utf8')) as { alg?: string };
  if (head.alg !== 'RS256') return 'JWT is not RS256';
  const verify = createVerify('RSA-SHA256');
  verify.update(`${h}.${p}`);
  if (!verify.verify(key, b64url(s))) return 'JWT signature does not verify';
  const claims = JSON.parse(b64url(p).toString('utf8')) as { iss?: unknown; iat?: number; exp?: number };
  const now = Math.floor(Date.now() / 1000);
  if (String(claims.iss) !== appId) return `JWT issuer ${String(claims.iss)} is not the App ${appId}`;
  if (!claims.iat || !claims.exp || claims.iat > now + 1 || claims.exp < now || claims.exp - claims.iat > 600) return 'JWT times are out of range';
  return undefined;
}

/** A request to another route than the token endpoint, for `opts.route` to answer. */
export interface OtherRequest {
  readonly method: string;
  readonly url: string;
  readonly authorization: string | undefined;
}

/**
 * `opts.route` answers other routes of the API (team memberships, say); without it they get 404.
 */
export async function startFakeGitHub(opts: { visible?: string[]; route?: (req: OtherRequest) => { status: number; body: unknown } } = {}): Promise<FakeGitHub> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const appId = '424242';
  const installationId = '9001';
  const requests: MintRequest[] = [];
  const visible = new Set(opts.visible ?? ['live']);
  const issued = new Map<string, string>();
  const key = createPublicKey(publicKey.export({ type: 'spki', format: 'pem' }));
  let counter = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const m = /^\/app\/installations\/([^/]+)\/access_tokens$/.exec(req.url ?? '');
      const send = (status: number, doc: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
      if (req.method !== 'POST' || !m) {
        const answer = opts.route?.({ method: req.method ?? 'GET', url: req.url ?? '/', authorization: req.headers.authorization }) ?? { status: 404, body: { message: 'Not Found' } };
        return send(answer.status, answer.body);
      }
      const problem = checkJwt(req.headers.authorization, appId, key);
      if (problem) return send(401, { message: `A JSON web token could not be decoded (${problem})` });
      if (m[1] !== installationId) return send(404, { message: 'Not Found' });
      const doc = JSON.parse(body || '{}') as { repositories?: string[]; permissions?: Record<string, string> };
      requests.push({ installationId: m[1], repositories: doc.repositories, permissions: doc.permissions });
      if (doc.repositories?.some((r) => !visible.has(r))) {
        return send(422, { message: 'There is at least one repository that does not exist or is not accessible to the parent installation.' });
      }
      const token = `ghs_fake${++counter}${'x'.repeat(20)}`;
      issued.set(JSON.stringify(doc.repositories ?? []), token);
      return send(201, {
        token,
        expires_at: new Date(Date.now() + 3600_000).toISOString(),
        permissions: doc.permissions ?? { contents: 'write', metadata: 'read' },
        repository_selection: doc.repositories ? 'selected' : 'all',
        repositories: (doc.repositories ?? []).map((name, id) => ({ id: id + 1, name })),
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    apiBaseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    appId,
    installationId,
    privateKey: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    requests,
    visible,
    issued,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
