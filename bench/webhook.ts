import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { parseConfig } from '../lib/config/parse';
import type { Config } from '../lib/config/schema';
import { createInMemoryDeps } from '../lib/webhook/deps';
import { handleWebhook } from '../lib/webhook/handler';
import type { WebhookRequest } from '../lib/webhook/types';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '..');
const ENTRY = join(ROOT, 'lambdas', 'webhook', 'index.ts');
const BENCH_SECRET = 'bench-webhook-secret';
const REPOSITORY = 'acme/infrastructure-live';

/** Options of {@link benchWebhook}. */
export interface WebhookBenchOptions {
  /** Handler invocations measured (after a warm-up). Default 2000. */
  readonly iterations?: number;
  /** Fresh processes that load the bundle; the median is reported. Default 7. */
  readonly coldRuns?: number;
  /** Size the signed push payload is padded to. Default 25 KiB. */
  readonly payloadBytes?: number;
}

/** What {@link benchWebhook} measured. */
export interface WebhookBenchResult {
  /** Handler latency, in-process with in-memory dependencies. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** The deployed bundle: minified, `@aws-sdk/*` external as NodejsFunction does on Node 18+. */
  readonly bundleBytes: number;
  /** Median time to load that bundle in a fresh Node process (require only, not Node's own start). */
  readonly coldInitMs: number;
  /** The same bundle with the AWS SDK bundled in, for comparison. */
  readonly bundleBytesWithSdk: number;
  readonly coldInitMsWithSdk: number;
  /** The signed payload's size and the invocations measured. */
  readonly payloadBytes: number;
  readonly iterations: number;
}

/** A bundle written by {@link bundleWebhook}. */
export interface WebhookBundle {
  readonly file: string;
  readonly bytes: number;
  /** Source files esbuild put in it, relative to the project root. */
  readonly inputs: readonly string[];
}

/**
 * Bundles the webhook function as CDK's NodejsFunction would: esbuild, platform node, target
 * node22, CommonJS, minified, nothing external but `@aws-sdk/*` (or nothing at all when
 * `externalSdk` is false).
 */
export async function bundleWebhook(outDir: string, options: { externalSdk: boolean }): Promise<WebhookBundle> {
  const file = join(outDir, options.externalSdk ? 'webhook.js' : 'webhook-with-sdk.js');
  const result = await build({
    entryPoints: [ENTRY],
    outfile: file,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    minify: true,
    external: options.externalSdk ? ['@aws-sdk/*'] : [],
    absWorkingDir: ROOT,
    metafile: true,
    logLevel: 'silent',
  });
  return { file, bytes: (await stat(file)).size, inputs: Object.keys(result.metafile.inputs) };
}

function benchConfig(): Config {
  return parseConfig({
    version: 1,
    central: { account: '999999999999', region: 'us-east-1' },
    repositories: [{ provider: 'github', fullName: REPOSITORY, cloneUrls: [`https://github.com/${REPOSITORY}.git`], deployBranch: 'main' }],
    stageOrder: ['dev'],
    stages: { dev: {} },
    accounts: [{ name: 'dev', id: '111111111111', region: 'us-east-1', stage: 'dev' }],
  });
}

/**
 * A realistic push to main of about `targetBytes`: 20 commits (GitHub's maximum), each
 * touching a few module files, in the shape GitHub sends.
 */
export function benchPushPayload(targetBytes = 25 * 1024): string {
  const sha = (n: number): string => createHmac('sha1', 'bench').update(String(n)).digest('hex');
  const commit = (i: number, files: number) => ({
    id: sha(i),
    tree_id: sha(1000 + i),
    distinct: true,
    message: `Change ${i}: adjust dev modules`,
    timestamp: '2026-03-01T12:00:00Z',
    url: `https://github.com/${REPOSITORY}/commit/${sha(i)}`,
    author: { name: 'Codertocat', email: '21031067+Codertocat@users.noreply.github.com', username: 'Codertocat' },
    committer: { name: 'GitHub', email: 'noreply@github.com', username: 'web-flow' },
    added: [],
    removed: [],
    modified: Array.from({ length: files }, (_, f) => `dev/us-east-1/module-${i}-${f}/main.tf`),
  });
  const payload = (files: number) => {
    const commits = Array.from({ length: 20 }, (_, i) => commit(i + 1, files));
    return {
      ref: 'refs/heads/main',
      before: sha(0),
      after: sha(20),
      repository: {
        id: 186853002,
        name: 'infrastructure-live',
        full_name: REPOSITORY,
        private: false,
        owner: { login: 'acme', id: 21031067, type: 'Organization' },
        html_url: `https://github.com/${REPOSITORY}`,
        clone_url: `https://github.com/${REPOSITORY}.git`,
        ssh_url: `git@github.com:${REPOSITORY}.git`,
        default_branch: 'main',
      },
      pusher: { name: 'Codertocat', email: '21031067+Codertocat@users.noreply.github.com' },
      sender: { login: 'Codertocat', id: 21031067, type: 'User' },
      created: false,
      deleted: false,
      forced: false,
      base_ref: null,
      compare: `https://github.com/${REPOSITORY}/compare/${sha(0).slice(0, 12)}...${sha(20).slice(0, 12)}`,
      commits,
      head_commit: commits[commits.length - 1],
    };
  };
  let files = 0;
  let text = JSON.stringify(payload(files));
  while (Buffer.byteLength(text) < targetBytes) text = JSON.stringify(payload(++files));
  return text;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? 0;
}

const median = (values: readonly number[]): number => percentile([...values].sort((a, b) => a - b), 0.5);
const round = (ms: number): number => Math.round(ms * 1000) / 1000;

/** Handler latency over `iterations` signed deliveries, each with a new delivery id. */
export async function measureHandler(iterations: number, payloadBytes = 25 * 1024): Promise<{ p50Ms: number; p99Ms: number; payloadBytes: number }> {
  const body = benchPushPayload(payloadBytes);
  const signature = `sha256=${createHmac('sha256', BENCH_SECRET).update(body).digest('hex')}`;
  const deps = createInMemoryDeps({ config: benchConfig(), secret: BENCH_SECRET });
  const request = (n: number): WebhookRequest => ({
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': `bench-${n}`, 'x-hub-signature-256': signature },
    body,
    isBase64Encoded: false,
  });
  const warmUp = Math.min(200, Math.max(10, Math.floor(iterations / 10)));
  for (let i = 0; i < warmUp; i++) await handleWebhook(request(-1 - i), deps);
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const req = request(i);
    const start = performance.now();
    const response = await handleWebhook(req, deps);
    samples.push(performance.now() - start);
    if (response.statusCode !== 200) throw new Error(`benchmark delivery answered ${response.statusCode}: ${response.body}`);
  }
  samples.sort((a, b) => a - b);
  return { p50Ms: round(percentile(samples, 0.5)), p99Ms: round(percentile(samples, 0.99)), payloadBytes: Buffer.byteLength(body) };
}

/**
 * Median time to `require` a bundle in fresh Node processes. The SDK, when external, resolves
 * from the project's node_modules, as Lambda resolves it from the runtime's.
 */
export async function measureColdInit(bundleFile: string, runs: number): Promise<number> {
  const script = `const t=process.hrtime.bigint();require(${JSON.stringify(bundleFile)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))`;
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const { stdout } = await run(process.execPath, ['-e', script], { env: { ...process.env, NODE_PATH: join(ROOT, 'node_modules') }, cwd: tmpdir() });
    times.push(Number(stdout));
  }
  return round(median(times));
}

/**
 * Measures the webhook: handler p50/p99 over a ~25 KB signed push, the bundled function's size
 * with and without the AWS SDK, and the median cold load time of each bundle.
 */
export async function benchWebhook(options: WebhookBenchOptions = {}): Promise<WebhookBenchResult> {
  const iterations = options.iterations ?? 2000;
  const coldRuns = options.coldRuns ?? 7;
  const outDir = await mkdtemp(join(tmpdir(), 'tfstep-bench-webhook-'));
  try {
    const handler = await measureHandler(iterations, options.payloadBytes);
    const deployed = await bundleWebhook(outDir, { externalSdk: true });
    const withSdk = await bundleWebhook(outDir, { externalSdk: false });
    return {
      p50Ms: handler.p50Ms,
      p99Ms: handler.p99Ms,
      bundleBytes: deployed.bytes,
      coldInitMs: await measureColdInit(deployed.file, coldRuns),
      bundleBytesWithSdk: withSdk.bytes,
      coldInitMsWithSdk: await measureColdInit(withSdk.file, coldRuns),
      payloadBytes: handler.payloadBytes,
      iterations,
    };
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}
