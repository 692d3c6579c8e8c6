/**
 * `tfstep local serve`: a signed GitHub push to the loopback webhook starts a local execution
 * against the repository (its clone URL is a local path), and the runs are served as JSON.
 */
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { EnvError } from '../../lib/env';
import { localServe, type LocalServer } from '../../lib/local/ui/serve';
import { doubleLog, makeInfraRepo, runnerEnv, stateDirWithBundle, tempDir, toolPathWithoutTerraform, devConfigFor } from './helpers';

jest.setTimeout(120_000);

const SECRET = 'local-webhook-secret-for-tests';


function headOf(repo: string): string {
  return execFileSync('git', ['-C', repo, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
}

const DEV_ACCOUNTS = ['dev-a', 'dev-b'];

describe('tfstep local serve', () => {
  let server: LocalServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('starts a local execution for a signed push and serves the run as JSON', async () => {
    // GIVEN a server for a config whose repository clone URL is a local path
    const repo = makeInfraRepo();
    const after = headOf(repo);
    const log = path.join(tempDir('log'), 'double.log');
    const out = new PassThrough();
    const lines: string[] = [];
    out.on('data', (c: Buffer) => lines.push(c.toString('utf8')));
    server = await localServe({
      configFile: devConfigFor(repo, DEV_ACCOUNTS),
      port: 0,
      stateDir: await stateDirWithBundle(),
      env: { ...runnerEnv(toolPathWithoutTerraform(), log), TFSTEP_WEBHOOK_SECRET: SECRET },
      out,
    });
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    // WHEN GitHub delivers a push of the main branch
    const body = JSON.stringify({
      ref: 'refs/heads/main',
      before: '0000000000000000000000000000000000000000',
      after,
      created: true,
      deleted: false,
      forced: false,
      commits: [{ id: after, message: 'initial infrastructure', added: ['dev-a/us-east-1/app/main.tf'], modified: [], removed: [] }],
      head_commit: { id: after, message: 'initial infrastructure', added: [], modified: [], removed: [] },
      pusher: { name: 'pat' },
      repository: { full_name: 'acme/live', clone_url: 'https://github.com/acme/live.git', ssh_url: 'git@github.com:acme/live.git' },
    });
    const res = await fetch(`${server.url}/webhook`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'push',
        'x-github-delivery': 'delivery-1',
        'x-hub-signature-256': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`,
      },
      body,
    });

    // THEN the webhook accepts it and the execution runs both dev accounts to success
    expect(res.status).toBeLessThan(300);
    await new Promise((r) => setTimeout(r, 500));
    expect(server.runs).toHaveLength(1);
    const result = await server.runs[0]!;
    expect(result.status).toBe('SUCCEEDED');
    expect(new Set(doubleLog(log).filter((l) => l.endsWith(' apply')))).toEqual(new Set(['dev-a/us-east-1/app apply', 'dev-b/us-east-1/app apply']));
    // AND GET /runs and GET /runs/<execution> show it from the run table
    const runs = (await (await fetch(`${server.url}/runs`)).json()) as { runs: { execution: string; status: string; commit: string }[] };
    expect(runs.runs.map((r) => [r.execution, r.status, r.commit])).toEqual([[result.report.executionName, 'SUCCEEDED', after]]);
    const detail = (await (await fetch(`${server.url}/runs/${result.report.executionName}`)).json()) as { modules: { module: string }[] };
    expect(detail.modules.map((m) => m.module)).toEqual(expect.arrayContaining(['dev-a/us-east-1/app', 'dev-b/us-east-1/app']));
    expect((await fetch(`${server.url}/runs/local-no-such-run`)).status).toBe(404);
  });

  function signedPush(after: string, repository: Record<string, unknown>, delivery: string): { body: string; headers: Record<string, string> } {
    const body = JSON.stringify({
      ref: 'refs/heads/main',
      before: '0000000000000000000000000000000000000000',
      after,
      created: true,
      deleted: false,
      forced: false,
      commits: [{ id: after, message: 'change', added: ['dev-a/us-east-1/app/main.tf'], modified: [], removed: [] }],
      head_commit: { id: after, message: 'change', added: [], modified: [], removed: [] },
      pusher: { name: 'pat' },
      repository: { full_name: 'acme/live', ...repository },
    });
    return {
      body,
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'push',
        'x-github-delivery': delivery,
        'x-hub-signature-256': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`,
      },
    };
  }

  async function waitForRuns(url: string, count: number): Promise<{ execution: string; status: string; commit: string; reason?: string }[]> {
    for (let i = 0; i < 100; i++) {
      const { runs } = (await (await fetch(`${url}/runs`)).json()) as { runs: { execution: string; status: string; commit: string; reason?: string }[] };
      if (runs.length >= count) return runs;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`fewer than ${count} run(s) recorded after 10 s`);
  }

  it('fails when a signed payload names a clone URL starting with "--": git runs nothing from it, and the push is recorded FAILED with the reason', async () => {
    // GIVEN a server whose mirror of acme/live exists, and whose configured clone URL no longer answers
    const repo = makeInfraRepo();
    const after = headOf(repo);
    const state = tempDir('state');
    execFileSync('git', ['clone', '--quiet', '--bare', repo, path.join(state, 'repos', 'acme__live.git')]);
    const gone = path.join(tempDir('gone'), 'live');
    const marker = path.join(tempDir('marker'), 'pwned');
    const out = new PassThrough();
    const lines: string[] = [];
    out.on('data', (c: Buffer) => lines.push(c.toString('utf8')));
    server = await localServe({ configFile: devConfigFor(gone, DEV_ACCOUNTS), port: 0, stateDir: state, env: { ...process.env, TFSTEP_WEBHOOK_SECRET: SECRET }, out });

    // WHEN a correctly signed push names a clone URL that git would read as an option
    const { body, headers } = signedPush(after, { clone_url: `--upload-pack=touch ${marker};`, ssh_url: `--upload-pack=touch ${marker};` }, 'delivery-hostile');
    const res = await fetch(`${server.url}/webhook`, { method: 'POST', headers, body });
    expect(res.status).toBe(200);

    // THEN no command ran, and the push is a FAILED run saying why, in GET /runs and in the run table
    const runs = await waitForRuns(server.url, 1);
    expect(existsSync(marker)).toBe(false);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ status: 'FAILED', commit: after });
    expect(runs[0]!.reason).toMatch(/cannot fetch acme\/live from any clone URL of the config/);
    expect(runs[0]!.reason).toMatch(/fetchable from the machine running `tfstep local serve`/);
    expect(runs[0]!.reason).not.toMatch(/upload-pack/);
    expect(server.runs).toHaveLength(0);
    expect(lines.join('')).toMatch(/FAILED local-\S+ for acme\/live main/);
  });

  it('fetches from the configured clone URL, never from the one the payload names', async () => {
    // GIVEN a server for a config whose clone URL cannot be fetched
    const repo = makeInfraRepo();
    const after = headOf(repo);
    const gone = path.join(tempDir('gone'), 'live');
    server = await localServe({ configFile: devConfigFor(gone, DEV_ACCOUNTS), port: 0, stateDir: tempDir('state'), env: { ...process.env, TFSTEP_WEBHOOK_SECRET: SECRET }, out: new PassThrough() });
    // WHEN a signed push names a reachable repository of its own choosing
    const { body, headers } = signedPush(after, { clone_url: repo, ssh_url: repo }, 'delivery-elsewhere');
    expect((await fetch(`${server.url}/webhook`, { method: 'POST', headers, body })).status).toBe(200);
    // THEN nothing runs from it: the push is recorded FAILED, naming the configured URL
    const runs = await waitForRuns(server.url, 1);
    expect(runs[0]).toMatchObject({ status: 'FAILED', commit: after });
    expect(runs[0]!.reason).toContain(gone);
    expect(server.runs).toHaveLength(0);
  });

  it('fails when a push is not signed with the secret: nothing starts', async () => {
    // GIVEN a running server
    const repo = makeInfraRepo();
    server = await localServe({ configFile: devConfigFor(repo, DEV_ACCOUNTS), port: 0, stateDir: tempDir('state'), env: { ...process.env, TFSTEP_WEBHOOK_SECRET: SECRET }, out: new PassThrough() });
    // WHEN a push arrives with a wrong signature
    const body = JSON.stringify({ ref: 'refs/heads/main' });
    const res = await fetch(`${server.url}/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': 'd-2', 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` },
      body,
    });
    // THEN it is refused and no execution starts
    expect(res.status).toBe(401);
    expect(server.runs).toHaveLength(0);
  });

  it('fails to start without TFSTEP_WEBHOOK_SECRET', async () => {
    // GIVEN no webhook secret in the environment
    const repo = makeInfraRepo();
    // WHEN the server starts THEN it refuses, naming the variable
    await expect(localServe({ configFile: devConfigFor(repo, DEV_ACCOUNTS), port: 0, stateDir: tempDir('state'), env: {}, out: new PassThrough() })).rejects.toThrow(EnvError);
    await expect(localServe({ configFile: devConfigFor(repo, DEV_ACCOUNTS), port: 0, stateDir: tempDir('state'), env: {}, out: new PassThrough() })).rejects.toThrow(/TFSTEP_WEBHOOK_SECRET/);
  });
});
