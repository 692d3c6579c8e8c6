/**
 * HTTP hygiene of `tfstep local serve`, against the real server on loopback: an early refusal
 * closes the connection it did not read to the end, an oversized approval form answers 413, and
 * a signed request that names no event is not published.
 */
import { createHmac } from 'node:crypto';
import { Agent, request } from 'node:http';
import { PassThrough } from 'node:stream';
import { localServe, type LocalServer } from '../../lib/local/ui/serve';
import { makeInfraRepo, tempDir, devConfigFor } from './helpers';

jest.setTimeout(60_000);

const SECRET = 'local-webhook-secret-for-tests';
const TWO_MIB = 2 * 1024 * 1024;


interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  /** The socket's local port: the same port means the same connection. */
  readonly localPort: number | undefined;
}

/** One request through `agent`, keeping its connection alive when the server lets it. */
function send(agent: Agent, url: string, method: string, headers: Record<string, string>, body?: Buffer | string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), localPort: res.socket?.localPort }));
      res.on('error', reject);
    });
    // The server may answer and close before the whole body is sent; the answer is what counts.
    req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? undefined : reject(e)));
    req.end(body);
  });
}

describe('local serve HTTP hygiene', () => {
  let server: LocalServer | undefined;
  let agent: Agent;
  let lines: string[];
  beforeEach(async () => {
    const out = new PassThrough();
    lines = [];
    out.on('data', (c: Buffer) => lines.push(c.toString('utf8')));
    server = await localServe({ configFile: devConfigFor(makeInfraRepo()), port: 0, stateDir: tempDir('state'), env: { ...process.env, TFSTEP_WEBHOOK_SECRET: SECRET }, out });
    agent = new Agent({ keepAlive: true, maxSockets: 1 });
  });
  afterEach(async () => {
    agent.destroy();
    await server?.close();
    server = undefined;
  });

  it('fails a 2 MiB webhook body with 413 and closes that connection: the next request on the agent is answered', async () => {
    // GIVEN a keep-alive client WHEN it posts a body over the limit
    const big = Buffer.alloc(TWO_MIB, 0x61);
    const refused = await send(agent, `${server!.url}/webhook`, 'POST', { 'content-type': 'application/json', 'x-github-event': 'push', 'content-length': String(big.length) }, big);
    // THEN it answers 413 and says the connection closes
    expect(refused.status).toBe(413);
    expect(refused.headers.connection).toBe('close');
    // AND the next request on the same client is answered, not reset
    const next = await send(agent, `${server!.url}/runs`, 'GET', {});
    expect(next.status).toBe(200);
    expect(JSON.parse(next.body)).toEqual({ runs: [], pullRequests: [] });
  });

  it('fails a 2 MiB POST to an approval link with 413, not 403', async () => {
    // GIVEN an approval link (its signature does not matter: the size is checked first)
    const big = Buffer.alloc(TWO_MIB, 0x61);
    // WHEN a 2 MiB form is posted to it
    const refused = await send(agent, `${server!.url}/approvals/a-1?approver=bob%40example.com&exp=9999999999&sig=x`, 'POST', { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(big.length) }, big);
    // THEN it answers 413 and closes the connection
    expect(refused.status).toBe(413);
    expect(refused.body).toMatch(/larger than/);
    expect(refused.headers.connection).toBe('close');
    expect((await send(agent, `${server!.url}/runs`, 'GET', {})).status).toBe(200);
  });

  it('does not publish a signed request without X-GitHub-Event: 202, as for any event that is not a push', async () => {
    // GIVEN a correctly signed push body WHEN it arrives without X-GitHub-Event
    const body = JSON.stringify({
      ref: 'refs/heads/main',
      before: '0'.repeat(40),
      after: 'a'.repeat(40),
      commits: [],
      head_commit: null,
      pusher: { name: 'pat' },
      repository: { full_name: 'acme/live', clone_url: 'https://github.com/acme/live.git' },
    });
    const answer = await send(agent, `${server!.url}/webhook`, 'POST', {
      'content-type': 'application/json',
      'x-github-delivery': 'no-event-1',
      'x-hub-signature-256': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`,
    }, body);
    // THEN it is ignored with 202 and nothing starts or is recorded
    expect(answer.status).toBe(202);
    expect(JSON.parse(answer.body)).toMatchObject({ outcome: 'ignored' });
    await new Promise((r) => setTimeout(r, 300));
    expect(server!.runs).toHaveLength(0);
    expect(JSON.parse((await send(agent, `${server!.url}/runs`, 'GET', {})).body)).toEqual({ runs: [], pullRequests: [] });
    expect(lines.join('')).not.toMatch(/started|FAILED/);
  });
});
