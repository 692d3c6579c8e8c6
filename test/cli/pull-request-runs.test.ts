/**
 * `tfstep runs --pull-requests` and `tfstep show <run>` of pull request runs, read from the run
 * table: the local state directory's (written through the real store), and the central one in
 * AWS (dynalite standing in for DynamoDB).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { names } from '../../lib/domain/names';
import { openLocalStore } from '../../lib/local/engine/store';
import { PullRequestRunDetailSchema, PullRequestRunsOutputSchema } from '../../lib/operator/pull-requests';
import type { PullRequestRunRecord } from '../../lib/store/pull-requests';
import { createRunTable, RunStore } from '../../lib/store/run-store';
import { runCli } from './run-cli';

const CONFIG = join(__dirname, '..', '..', 'examples', 'tfstep.yaml');
const HEAD1 = '1'.repeat(40);
const HEAD2 = '2'.repeat(40);

const record = (name: string, headSha: string, fields: Partial<PullRequestRunRecord>): PullRequestRunRecord => ({
  name,
  kind: 'pull-request',
  executionId: name,
  provider: 'github',
  repository: 'acme/live',
  pullRequest: 7,
  headSha,
  headBranch: 'feature/app',
  baseBranch: 'main',
  author: 'alice',
  title: 'Bigger app',
  status: 'RUNNING',
  startedAt: '2026-11-20T10:00:00.000Z',
  targets: 2,
  notAllowed: 1,
  ...fields,
});

/** Two runs of one pull request: the first superseded, the second completed with a destroy in dev. */
async function seed(store: RunStore): Promise<void> {
  await store.pullRequests.put(record('pr-acme-live-7-111', HEAD1, { status: 'CANCELLED', reason: 'a newer push to #7 (2222222) replaced this run', stoppedAt: '2026-11-20T10:01:00.000Z' }));
  await store.pullRequests.put(record('pr-acme-live-7-222', HEAD2, { status: 'SUCCEEDED', startedAt: '2026-11-20T10:01:00.000Z', stoppedAt: '2026-11-20T10:04:00.000Z', conclusion: 'success', checkTitle: '1 to destroy in dev' }));
  await store.planOnly.putResults('pr-acme-live-7-222', [
    { repository: 'acme/live', account: 'dev', module: 'dev/app', commit: HEAD2, status: 'changes', changes: [{ address: 'aws_instance.a', action: 'delete' }, { address: 'aws_instance.b', action: 'replace' }, { address: 'aws_s3_bucket.c', action: 'update' }], at: '2026-11-20T10:03:00.000Z' },
    { repository: 'acme/live', account: 'prod', module: 'prod/app', commit: HEAD2, status: 'clean', at: '2026-11-20T10:03:00.000Z' },
  ]);
}

function checkList(stdout: string): void {
  const { pullRequestRuns } = PullRequestRunsOutputSchema.parse(JSON.parse(stdout));
  expect(pullRequestRuns.map((r) => [r.run, r.status, r.conclusion, r.headSha])).toEqual([
    ['pr-acme-live-7-222', 'SUCCEEDED', 'success', HEAD2],
    ['pr-acme-live-7-111', 'CANCELLED', 'cancelled', HEAD1],
  ]);
}

describe('pull request runs --local', () => {
  let stateDir: string;

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'tfstep-state-'));
    const local = await openLocalStore(stateDir);
    try {
      await seed(new RunStore(local.docClient, local.tableName));
    } finally {
      await local.close();
    }
  });

  it('lists pull request runs newest first, as a table and as JSON', async () => {
    const table = await runCli(['runs', '--pull-requests', '--local', '--state-dir', stateDir, '--config', CONFIG]);
    expect(table.code).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^RUN\s+REPOSITORY\s+PR\s+HEAD\s+STATUS\s+CHECK\s+MODULES\s+STARTED$/);
    expect(lines[1]).toMatch(/^pr-acme-live-7-222\s+acme\/live\s+#7\s+2222222\s+SUCCEEDED\s+success\s+2 \(\+1 not allowed\)\s+2026-11-20 10:01:00Z$/);
    const json = await runCli(['runs', '--pull-requests', '--json', '--local', '--state-dir', stateDir, '--config', CONFIG]);
    expect(json.code).toBe(0);
    checkList(json.stdout);
  });

  it('shows one run: each module with its stage and counts (a replacement adds and destroys), and the check run', async () => {
    const json = await runCli(['show', 'pr-acme-live-7-222', '--json', '--local', '--state-dir', stateDir, '--config', CONFIG]);
    expect(json.code).toBe(0);
    const detail = PullRequestRunDetailSchema.parse(JSON.parse(json.stdout));
    expect(detail).toMatchObject({ pullRequest: 7, conclusion: 'success', checkTitle: '1 to destroy in dev' });
    expect(detail.modules).toEqual([
      { stage: 'dev', account: 'dev', module: 'dev/app', status: 'changes', add: 1, change: 1, destroy: 2, reason: null },
      { stage: 'prod', account: 'prod', module: 'prod/app', status: 'clean', add: 0, change: 0, destroy: 0, reason: null },
    ]);
    const text = await runCli(['show', 'pr-acme-live-7-222', '--local', '--state-dir', stateDir, '--config', CONFIG]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('check run   success: 1 to destroy in dev');
    expect(text.stdout).toMatch(/dev\s+dev\s+dev\/app\s+changes\s+1\s+1\s+2/);
  });

  it('shows a cancelled run with its reason', async () => {
    const text = await runCli(['show', 'pr-acme-live-7-111', '--local', '--state-dir', stateDir, '--config', CONFIG]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('CANCELLED');
    expect(text.stdout).toContain('reason  a newer push to #7 (2222222) replaced this run');
  });

  it('refuses --status with --pull-requests, saying why', async () => {
    const res = await runCli(['runs', '--pull-requests', '--status', 'failed', '--local', '--state-dir', stateDir, '--config', CONFIG]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('--status filters pipeline runs');
  });
});

describe('pull request runs in AWS', () => {
  let server: import('node:http').Server;
  let client: DynamoDBClient;
  const saved = { ...process.env };

  beforeAll(async () => {
    server = require('dynalite')({ createTableMs: 0 });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const endpoint = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`;
    client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    await createRunTable(client, names.runTable());
    await seed(RunStore.fromClient(client, names.runTable()));
    Object.assign(process.env, { AWS_ENDPOINT_URL_DYNAMODB: endpoint, AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x', AWS_REGION: 'us-east-1' });
  });
  afterAll(async () => {
    process.env = saved;
    client.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('lists and shows pull request runs from the central run table', async () => {
    const list = await runCli(['runs', '--pull-requests', '--json', '--config', CONFIG]);
    expect(list.code).toBe(0);
    checkList(list.stdout);
    const show = await runCli(['show', 'pr-acme-live-7-222', '--json', '--config', CONFIG]);
    expect(show.code).toBe(0);
    expect(PullRequestRunDetailSchema.parse(JSON.parse(show.stdout)).modules.map((m) => m.module)).toEqual(['dev/app', 'prod/app']);
  });
});
