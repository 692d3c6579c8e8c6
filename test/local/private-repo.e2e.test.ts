/**
 * End to end: a private repository served over HTTP with basic auth (`git http-backend` behind a
 * Node server on loopback). `tfstep local run --from-remote` reads it (the planner) and clones it
 * (the runner) with credentials from a file or the environment; without them nothing runs.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { localRun } from '../../lib/local/ui/run';
import { LOCAL_GIT_CREDENTIALS_ENV } from '../../lib/local/engine/git-credentials';
import { commit, memoryIo, moduleTf, stateDirWithBundle, tempDir, toolPathWithoutTerraform } from './helpers';

jest.setTimeout(180_000);

const USER = 'ci-bot';
const TOKEN = 'glpat-private-token-0123456789';

interface Served {
  url: string;
  /** Each request: its path and whether it carried the right credentials. */
  requests: { path: string; authorized: boolean }[];
  close(): Promise<void>;
}

/** git http-backend (smart HTTP) behind basic auth: 401 with a challenge unless user and token match. */
async function serveGit(root: string): Promise<Served> {
  const requests: Served['requests'] = [];
  const expected = `Basic ${Buffer.from(`${USER}:${TOKEN}`).toString('base64')}`;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const authorized = req.headers.authorization === expected;
    requests.push({ path: url.pathname, authorized });
    if (!authorized) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="git"' }).end('authentication required\n');
      return;
    }
    const cgi = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env.PATH,
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: '1',
        PATH_INFO: url.pathname,
        QUERY_STRING: url.search.slice(1),
        REQUEST_METHOD: req.method,
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        REMOTE_USER: USER,
        REMOTE_ADDR: '127.0.0.1',
        GIT_HTTP_MAX_REQUEST_BUFFER: '100M',
        ...(req.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: req.headers['content-encoding'] } : {}),
      },
    });
    req.pipe(cgi.stdin);
    const chunks: Buffer[] = [];
    cgi.stdout.on('data', (c: Buffer) => chunks.push(c));
    cgi.on('close', () => {
      const out = Buffer.concat(chunks);
      const split = out.indexOf('\r\n\r\n');
      const head = out.subarray(0, split).toString('utf8');
      const headers: Record<string, string> = {};
      let status = 200;
      for (const line of head.split('\r\n')) {
        const i = line.indexOf(':');
        const k = line.slice(0, i).trim().toLowerCase();
        const v = line.slice(i + 1).trim();
        if (k === 'status') status = Number(v.split(' ')[0]);
        else headers[k] = v;
      }
      res.writeHead(status, headers).end(out.subarray(split + 4));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/live.git`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function config(url: string): string {
  return `version: 1
central:
  account: "999999999999"
  region: us-east-1
repositories:
  - provider: gitlab
    fullName: acme/live
    cloneUrls: [${url}]
    deployBranch: main
stageOrder: [dev]
stages:
  dev: {}
accounts:
  - { name: dev, id: "111111111111", region: us-east-1, stage: dev }
`;
}

/** Every file under `dir` whose text contains `needle`. */
function filesContaining(dir: string, needle: string): string[] {
  const hits: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const p = path.join(entry.parentPath, entry.name);
    if (!entry.isFile() || statSync(p).size > 5_000_000) continue;
    if (readFileSync(p).includes(needle)) hits.push(p);
  }
  return hits;
}

describe('a private repository in the local mode', () => {
  let served: Served;
  let work: string;
  let configFile: string;
  let bin: string;

  beforeAll(async () => {
    // GIVEN a work tree with one module, and its bare copy served only with credentials
    work = tempDir('work');
    execFileSync('git', ['-c', 'init.defaultBranch=main', 'init', '-q', '-b', 'main', work]);
    commit(work, { 'dev/us-east-1/app/main.tf': moduleTf('app') }, 'app');
    const root = tempDir('served');
    execFileSync('git', ['clone', '-q', '--bare', work, path.join(root, 'live.git')]);
    served = await serveGit(root);
    configFile = path.join(tempDir('config'), 'tfstep.yaml');
    writeFileSync(configFile, config(served.url));
    bin = toolPathWithoutTerraform();
  });
  afterAll(() => served.close());

  it('GIVEN credentials in a file WHEN run from the remote THEN the planner and the runner both read it authenticated, and the run succeeds with the token in no log', async () => {
    const credFile = path.join(tempDir('cred'), 'git.json');
    writeFileSync(credFile, JSON.stringify({ token: TOKEN, username: USER }), { mode: 0o600 });
    const stateDir = await stateDirWithBundle();
    const before = served.requests.length;
    const io = memoryIo();
    const out = await localRun({
      configFile,
      repoDir: work,
      approve: 'auto',
      stateDir,
      json: true,
      fromRemote: true,
      env: { PATH: bin, HOME: tempDir('home'), [LOCAL_GIT_CREDENTIALS_ENV.file]: credFile },
      io: io.io,
    });
    if (out.exitCode !== 0) throw new Error(`run failed:\n${io.stderr()}\n${io.stdout().slice(0, 3000)}`);
    expect((JSON.parse(io.stdout()) as { status: string }).status).toBe('SUCCEEDED');
    // Two authenticated fetches at least: the planner's and the runner's (git-upload-pack).
    const packs = served.requests.slice(before).filter((r) => r.path.endsWith('/git-upload-pack') && r.authorized);
    expect(packs.length).toBeGreaterThanOrEqual(2);
    expect(filesContaining(stateDir, TOKEN)).toEqual([]);
  });

  it('GIVEN credentials in the environment WHEN run from the remote THEN it succeeds, the value kept in a 0600 file only', async () => {
    const stateDir = await stateDirWithBundle();
    const io = memoryIo();
    const out = await localRun({
      configFile,
      repoDir: work,
      approve: 'auto',
      stateDir,
      json: true,
      fromRemote: true,
      env: { PATH: bin, HOME: tempDir('home'), [LOCAL_GIT_CREDENTIALS_ENV.value]: JSON.stringify({ token: TOKEN, username: USER }) },
      io: io.io,
    });
    expect(out.exitCode).toBe(0);
    const kept = filesContaining(stateDir, TOKEN);
    expect(kept).toEqual([path.join(stateDir, 'secrets', 'git-credentials')]);
    expect(statSync(kept[0]!).mode & 0o777).toBe(0o600);
  });

  it('fails when no credentials are given: the remote answers 401, the run fails and no runner starts', async () => {
    const stateDir = await stateDirWithBundle();
    const io = memoryIo();
    const before = served.requests.length;
    const out = await localRun({ configFile, repoDir: work, approve: 'auto', stateDir, json: true, fromRemote: true, env: { PATH: bin, HOME: tempDir('home') }, io: io.io });
    expect(out.exitCode).not.toBe(0);
    const report = JSON.parse(io.stdout()) as { status: string; stages: unknown[] };
    expect({ status: report.status, stages: report.stages }).toEqual({ status: 'FAILED', stages: [] });
    expect(`${out.result.reason ?? ''} ${JSON.stringify(out.result.execution)}`).toMatch(/a private repository needs TFSTEP_GIT_CREDENTIALS_FILE or TFSTEP_GIT_CREDENTIALS/);
    expect(served.requests.slice(before).filter((r) => r.authorized)).toEqual([]);
  });

  it('fails when the token is wrong, saying the credentials were refused', async () => {
    const stateDir = await stateDirWithBundle();
    const io = memoryIo();
    const before = served.requests.length;
    const env = { PATH: bin, HOME: tempDir('home'), [LOCAL_GIT_CREDENTIALS_ENV.value]: 'not-the-token' };
    const out = await localRun({ configFile, repoDir: work, approve: 'auto', stateDir, json: true, fromRemote: true, env, io: io.io });
    expect(out.exitCode).not.toBe(0);
    expect((JSON.parse(io.stdout()) as { stages: unknown[] }).stages).toEqual([]);
    expect(`${out.result.reason ?? ''} ${JSON.stringify(out.result.execution)}`).toMatch(/cannot fetch http:\/\/127\.0\.0\.1:\d+\/live\.git with the git credentials given/);
    expect(served.requests.slice(before).length).toBeGreaterThan(0);
    expect(served.requests.slice(before).filter((r) => r.authorized)).toEqual([]);
  });
});
