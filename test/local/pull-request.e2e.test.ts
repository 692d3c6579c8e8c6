/**
 * Pull request plans through `tfstep local serve` (terraform test double): a pull request that
 * changes dev and prod modules gets one completed check run listing both accounts' plans, and
 * nothing is applied; a second push to the pull request cancels the first run.
 */
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { localServe, type LocalServer } from '../../lib/local/ui/serve';
import type { PullRequestRunView } from '../../lib/local/ui/pull-requests';
import { openLocalStore } from '../../lib/local/engine/store';
import { PullRequestRuns } from '../../lib/operator/pull-requests';
import { RunStore } from '../../lib/store/run-store';
import { commit, doubleLog, makeInfraRepo, moduleTf, runnerEnv, stateDirWithBundle, tempDir, toolPathWithoutTerraform, until } from './helpers';

jest.setTimeout(60_000);

const SECRET = 'local-webhook-secret-for-tests';

function configFor(repo: string): string {
  const file = path.join(tempDir('config'), 'tfstep.yaml');
  writeFileSync(
    file,
    [
      'version: 1',
      'central: { account: "999999999999", region: us-east-1 }',
      'repositories:',
      `  - { provider: github, fullName: acme/live, cloneUrls: [${JSON.stringify(repo)}] }`,
      'stageOrder: [dev, prod]',
      'stages: { dev: {}, prod: { approval: { required: true, approvers: [alice@example.com] } } }',
      'accounts:',
      '  - { name: dev-a, id: "111111111111", region: us-east-1, stage: dev, pullRequestPlans: true }',
      '  - { name: prod, id: "222222222222", region: us-east-1, stage: prod, pullRequestPlans: true }',
      'pullRequests: {}',
      '',
    ].join('\n'),
  );
  return file;
}

/** The `opened` example of @octokit/webhooks-examples, pointed at this repository and head. */
function pullRequestBody(action: string, headSha: string, before?: string): string {
  const text = readFileSync(path.join(__dirname, '..', 'fixtures', 'webhook', 'github-pull-request-opened.json'), 'utf8').split('acme/infrastructure-live').join('acme/live');
  const payload = JSON.parse(text) as { action: string; before?: string; after?: string; pull_request: { head: { ref: string; sha: string } } };
  payload.action = action;
  payload.pull_request.head.ref = 'raise-count';
  payload.pull_request.head.sha = headSha;
  if (before) Object.assign(payload, { before, after: headSha });
  return JSON.stringify(payload);
}

async function deliver(server: LocalServer, body: string, delivery: string): Promise<Response> {
  return fetch(`${server.url}/webhook`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'pull_request',
      'x-github-delivery': delivery,
      'x-hub-signature-256': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`,
    },
    body,
  });
}

async function pullRequestRuns(server: LocalServer): Promise<PullRequestRunView[]> {
  const res = await fetch(`${server.url}/runs`);
  return ((await res.json()) as { pullRequests: PullRequestRunView[] }).pullRequests;
}

describe('pull request plans in tfstep local serve', () => {
  let server: LocalServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('plans dev and prod on the pull request, applies nothing, and a second push cancels the first run', async () => {
    // GIVEN a repository whose pull request branch changes a dev and a prod module, and a server for it
    const repo = makeInfraRepo();
    execFileSync('git', ['-C', repo, 'checkout', '-q', '-b', 'raise-count']);
    const first = commit(repo, { 'dev-a/us-east-1/app/main.tf': moduleTf('app', 'v2'), 'prod/us-east-1/app/main.tf': moduleTf('app', 'v2') }, 'raise the count');
    execFileSync('git', ['-C', repo, 'checkout', '-q', 'main']);
    const log = path.join(tempDir('log'), 'double.log');
    const out = new PassThrough();
    const lines: string[] = [];
    out.on('data', (c: Buffer) => lines.push(c.toString('utf8')));
    const stateDir = await stateDirWithBundle();
    server = await localServe({
      configFile: configFor(repo),
      port: 0,
      stateDir,
      // Plans take a moment, so the second push arrives while the first run plans.
      env: { ...runnerEnv(toolPathWithoutTerraform(), log, { TFSTEP_TEST_DOUBLE_SLEEP_MS: '1500' }), TFSTEP_WEBHOOK_SECRET: SECRET },
      out,
    });

    // WHEN the pull request is opened, and a second commit is pushed to it while the first run plans
    expect((await deliver(server, pullRequestBody('opened', first), 'pr-open')).status).toBe(200);
    await until(() => doubleLog(log).some((l) => l.endsWith(' plan')), 30_000, 'the first run to plan').catch((e: Error) => { throw new Error(`${e.message}\n${lines.join('')}`); });
    execFileSync('git', ['-C', repo, 'checkout', '-q', 'raise-count']);
    const second = commit(repo, { 'prod/us-east-1/app/main.tf': moduleTf('app', 'v3') }, 'and prod a bit more');
    execFileSync('git', ['-C', repo, 'checkout', '-q', 'main']);
    expect((await deliver(server, pullRequestBody('synchronize', second, first), 'pr-sync')).status).toBe(200);
    let runs: PullRequestRunView[] = [];
    for (let i = 0; i < 300; i++) {
      runs = await pullRequestRuns(server);
      // The check runs complete before the server prints the summary, so wait for both.
      if (runs.length === 2 && runs.every((r) => r.checkRun?.status === 'completed') && lines.join('').includes(`for #2 at ${second.slice(0, 7)}: `)) break;
      await new Promise((r) => setTimeout(r, 100));
    }

    // THEN the first run was cancelled, its check run completed as cancelled
    const older = runs.find((r) => r.headSha === first)!;
    const newer = runs.find((r) => r.headSha === second)!;
    expect(older.status).toBe('CANCELLED');
    expect(older.checkRun).toMatchObject({ status: 'completed', conclusion: 'cancelled', statuses: ['queued', 'in_progress', 'completed'] });
    // AND the second run completed one check run listing both accounts' plans
    expect(newer.status).toBe('SUCCEEDED');
    expect(newer.checkRun).toMatchObject({ name: 'tfstep plan', head_sha: second, status: 'completed', conclusion: 'success', statuses: ['queued', 'in_progress', 'completed'] });
    const summary = newer.checkRun!.output!.summary;
    expect(summary).toMatch(/\| dev \| dev-a \| `dev-a\/us-east-1\/app` \|/);
    expect(summary).toMatch(/\| prod \| prod \| `prod\/us-east-1\/app` \|/);
    // AND nothing was applied anywhere, and the summary went to the server's log
    expect(doubleLog(log).filter((l) => l.endsWith(' apply'))).toEqual([]);
    expect(lines.join('')).toContain(`check run "tfstep plan" for #2 at ${second.slice(0, 7)}: success`);
    expect(lines.join('')).toContain(`cancelled ${older.name}`);
    // AND GET /runs/<name> serves the pull request run
    const detail = (await (await fetch(`${server.url}/runs/${newer.name}`)).json()) as PullRequestRunView;
    expect(detail).toMatchObject({ kind: 'pull-request', pullRequest: 2, headBranch: 'raise-count' });
    // AND both runs are in the run table, where `tfstep runs --pull-requests --local` reads them once the server is gone
    await server.close();
    server = undefined;
    const local = await openLocalStore(stateDir);
    try {
      const stored = await new PullRequestRuns(new RunStore(local.docClient, local.tableName), undefined).list();
      expect(stored.map((r) => [r.run, r.status, r.conclusion])).toEqual([
        [newer.name, 'SUCCEEDED', 'success'],
        [older.name, 'CANCELLED', 'cancelled'],
      ]);
    } finally {
      await local.close();
    }
  });
  it('of two pushes delivered at the same moment, finishes one and cancels the other', async () => {
    // GIVEN a pull request with two commits, and a server for its repository
    const repo = makeInfraRepo();
    execFileSync('git', ['-C', repo, 'checkout', '-q', '-b', 'raise-count']);
    const first = commit(repo, { 'dev-a/us-east-1/app/main.tf': moduleTf('app', 'v2') }, 'raise the count');
    const second = commit(repo, { 'dev-a/us-east-1/app/main.tf': moduleTf('app', 'v3') }, 'and a bit more');
    execFileSync('git', ['-C', repo, 'checkout', '-q', 'main']);
    const log = path.join(tempDir('log'), 'double.log');
    server = await localServe({
      configFile: configFor(repo),
      port: 0,
      stateDir: await stateDirWithBundle(),
      env: { ...runnerEnv(toolPathWithoutTerraform(), log), TFSTEP_WEBHOOK_SECRET: SECRET },
      out: new PassThrough(),
    });
    // WHEN both pushes' events arrive at once
    const [a, b] = await Promise.all([deliver(server, pullRequestBody('synchronize', first), 'pr-a'), deliver(server, pullRequestBody('synchronize', second, first), 'pr-b')]);
    expect([a.status, b.status]).toEqual([200, 200]);
    let runs: PullRequestRunView[] = [];
    for (let i = 0; i < 300; i++) {
      runs = await pullRequestRuns(server);
      if (runs.length === 2 && runs.every((r) => r.status !== 'QUEUED' && r.status !== 'RUNNING')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // THEN exactly one run went on to finish, the other was cancelled, and no check run is left open
    expect(runs.map((r) => r.status).sort()).toEqual(['CANCELLED', 'SUCCEEDED']);
    for (const r of runs) expect(r.checkRun?.status ?? 'completed').toBe('completed');
  });
});
