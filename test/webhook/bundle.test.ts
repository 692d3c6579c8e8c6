// @octokit/webhooks-methods exports only an `import` condition, which jest's CommonJS resolver
// does not use; load its ESM build directly (jest compiles it to CommonJS).
jest.mock('@octokit/webhooks-methods', () => jest.requireActual(`${__dirname}/../../node_modules/@octokit/webhooks-methods/dist-node/index.js`), { virtual: true });

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { benchPushPayload, benchWebhook, bundleWebhook, measureHandler } from '../../bench/webhook';
import { testConfig } from './helpers';

const run = promisify(execFile);

describe('webhook bundle', () => {
  let outDir: string;
  beforeAll(async () => {
    outDir = await mkdtemp(join(tmpdir(), 'tfstep-webhook-bundle-'));
  });
  afterAll(async () => {
    await rm(outDir, { recursive: true, force: true });
  });

  it.each([
    ['with the AWS SDK external', true],
    ['with the AWS SDK bundled', false],
  ])('contains no aws-cdk-lib %s', async (_what, externalSdk) => {
    // GIVEN the function bundled as NodejsFunction would
    // WHEN esbuild bundles lambdas/webhook/index.ts
    const bundle = await bundleWebhook(outDir, { externalSdk });
    const text = await readFile(bundle.file, 'utf8');

    // THEN neither CDK nor constructs got in, and the ESM-only verifier is bundled, not required
    expect(bundle.inputs.filter((f) => /node_modules\/(aws-cdk-lib|constructs|cdk-nag)\//.test(f))).toEqual([]);
    expect(text).not.toContain('aws-cdk-lib');
    expect(bundle.inputs.some((f) => f.includes('node_modules/@octokit/webhooks-methods/'))).toBe(true);
    expect(text).not.toMatch(/require\("@octokit/);
    // signature-v4-crt is an optional package the SDK requires inside a try; it is not installed.
    if (!externalSdk) expect([...text.matchAll(/require\("(@aws-sdk\/[^"]+)"\)/g)].map((m) => m[1]).filter((m) => m !== '@aws-sdk/signature-v4-crt')).toEqual([]);
  });

  it('runs in a fresh Node process from the bundle', async () => {
    // GIVEN the deployed bundle (SDK resolved as Lambda's runtime provides it) and its environment
    const bundle = await bundleWebhook(outDir, { externalSdk: true });
    const script = `require(${JSON.stringify(bundle.file)}).handler({ requestContext: { http: { method: 'GET' } }, headers: {} }).then((r) => process.stdout.write('\\n' + JSON.stringify(r)))`;

    // WHEN the exported handler gets a GET
    const { stdout } = await run(process.execPath, ['-e', script], {
      cwd: tmpdir(),
      env: {
        ...process.env,
        NODE_PATH: join(__dirname, '..', '..', 'node_modules'),
        AWS_REGION: 'us-east-1',
        TFSTEP_CONFIG: JSON.stringify(testConfig()),
        TFSTEP_WEBHOOK_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:999999999999:secret:tfstep/webhook-AbCdEf',
        TFSTEP_TABLE: 'tfstep-runs',
      },
    });

    // THEN it initialises from its environment, logs a JSON line and answers 405
    const lines = stdout.trim().split('\n');
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'warn', message: 'webhook refused', statusCode: 405 });
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ statusCode: 405, headers: { allow: 'POST' } });
  });
});

describe('webhook benchmark helper', () => {
  it('builds a push payload of about 25 KB', () => {
    const body = benchPushPayload();
    expect(Buffer.byteLength(body)).toBeGreaterThanOrEqual(25 * 1024);
    expect(Buffer.byteLength(body)).toBeLessThan(30 * 1024);
  });

  it('measures the handler', async () => {
    const result = await measureHandler(20);
    expect(result.p50Ms).toBeGreaterThan(0);
    expect(result.p99Ms).toBeGreaterThanOrEqual(result.p50Ms);
  });

  it('returns every measure', async () => {
    const result = await benchWebhook({ iterations: 20, coldRuns: 1 });
    expect(result).toEqual({
      p50Ms: expect.any(Number),
      p99Ms: expect.any(Number),
      bundleBytes: expect.any(Number),
      coldInitMs: expect.any(Number),
      bundleBytesWithSdk: expect.any(Number),
      coldInitMsWithSdk: expect.any(Number),
      payloadBytes: expect.any(Number),
      iterations: 20,
    });
    expect(result.bundleBytesWithSdk).toBeGreaterThan(result.bundleBytes);
    expect(result.coldInitMs).toBeGreaterThan(0);
  });
});
