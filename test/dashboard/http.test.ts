/**
 * The dashboard inside `tfstep local serve`, over its real run table on loopback: the pages at
 * `/` beside the JSON `GET /runs`, the live feed's snapshot, patch and snapshot again after a
 * reconnect, and the refusals (another host name, a write).
 */
import { request, type IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import { seedDashboardRun, type SeededRun } from '../../bench/dashboard-run';
import { localDashboardPages } from '../../lib/dashboard/local';
import { openLocalStore, type LocalStore } from '../../lib/local/engine/store';
import { localServe, type LocalServer } from '../../lib/local/ui/serve';
import { RunStore } from '../../lib/store/run-store';
import { devConfigFor, makeInfraRepo, tempDir } from '../local/helpers';

let server: LocalServer;
let local: LocalStore;
let store: RunStore;
let seeded: SeededRun;
const lines: string[] = [];

beforeAll(async () => {
  const stateDir = tempDir('dashboard');
  const out = new PassThrough();
  out.on('data', (c: Buffer) => lines.push(c.toString('utf8')));
  server = await localServe({ configFile: devConfigFor(makeInfraRepo()), port: 0, stateDir, env: { ...process.env, TFSTEP_WEBHOOK_SECRET: 'secret' }, out, pages: localDashboardPages });
  local = await openLocalStore(stateDir);
  store = new RunStore(local.docClient, local.tableName);
  seeded = await seedDashboardRun(store, { execution: 'run-http', accounts: 10 });
});

afterAll(async () => {
  await local?.close();
  await server?.close();
});

function get(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${server.url}${path}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Reads server-sent events from `path` until `until` says stop; then closes the connection. */
function events(path: string, until: (got: { event: string; data: unknown }[]) => boolean): Promise<{ event: string; data: unknown }[]> {
  return new Promise((resolve, reject) => {
    const got: { event: string; data: unknown }[] = [];
    const req = request(`${server.url}${path}`, (res) => {
      let buffer = '';
      res.on('data', (c: Buffer) => {
        buffer += c.toString('utf8');
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) got.push({ event, data: JSON.parse(data) });
          if (until(got)) {
            req.destroy();
            resolve(got);
            return;
          }
        }
      });
    });
    req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? undefined : reject(e)));
    req.end();
  });
}

type Live = { cells: Record<string, [string, string, string]>; fragments: Record<string, string>; structure: string };

describe('the dashboard in tfstep local serve', () => {
  test('serves the pages at / and keeps GET /runs as JSON', async () => {
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toMatch(/script-src 'sha256-/);
    expect(page.body).toContain('href="/run/run-http"');
    const runs = await get('/runs');
    expect(runs.headers['content-type']).toBe('application/json');
    expect((JSON.parse(runs.body) as { runs: { execution: string }[] }).runs.map((r) => r.execution)).toEqual(['run-http']);
    expect(lines.join('')).toContain(`the dashboard at ${server.url}/`);
    const account = await get(`/run/run-http/account/${seeded.failed}?fragment=1`);
    expect(account.body).toContain('NatGatewayLimitExceeded');
  });

  test('the live feed sends the whole state, then what changed, and the whole state again after a reconnect', async () => {
    // GIVEN a browser connected to the run's feed
    const page = await get('/run/run-http');
    const cellId = new RegExp(`id="(c[\\d-]+)" href="/run/run-http/account/${seeded.running}"`).exec(page.body)![1]!;
    const first = await events('/run/run-http/events', (got) => got.length >= 1);
    expect(first[0]!.event).toBe('snapshot');
    expect((first[0]!.data as Live).cells[cellId]![2]).toBe('running');
    expect(page.body).toContain(`data-structure="${(first[0]!.data as Live).structure}"`);

    // WHEN, while it listens, the account finishes
    const listening = events('/run/run-http/events', (got) => got.some((g) => g.event === 'patch'));
    await new Promise((r) => setTimeout(r, 300));
    await store.putModuleResult({ execution: 'run-http', account: seeded.running, module: 'core/network', phase: 'apply', status: 'applied', commit: 'a'.repeat(40) });
    const got = await listening;

    // THEN it gets a patch with that cell only among the cells
    const patch = got.find((g) => g.event === 'patch')!.data as Live;
    expect(patch.cells).toEqual({ [cellId]: ['ok', '✓', 'applied'] });

    // AND a browser that connects again starts from the whole, current state
    const again = await events('/run/run-http/events', (g) => g.length >= 1);
    expect(again[0]!.event).toBe('snapshot');
    expect((again[0]!.data as Live).cells[cellId]).toEqual(['ok', '✓', 'applied']);
  });

  test('refuses another host name and any write', async () => {
    expect((await get('/', { host: 'rebound.example' })).status).toBe(421);
    expect((await get('/run/run-http', {}, 'POST')).status).toBe(405);
    expect((await get('/run/no-such-run')).status).toBe(404);
  });
});
