import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { names } from '../../lib/domain/names';
import { removeTempDirs, ROOT, tempDir } from './support';

/** `cdk synth` bundles three functions and runs both validators: slow on a busy machine. */
const SYNTH_TIMEOUT_MS = 300_000;

interface Manifest {
  artifacts: Record<string, { type: string; environment?: string; properties?: { templateFile?: string } }>;
}

/** An environment with no AWS credentials or profile, no version check and no Docker. */
function cleanEnv(): NodeJS.ProcessEnv {
  const home = tempDir('tfstep-cdk-home-');
  return {
    PATH: process.env.PATH,
    HOME: home,
    CDK_DISABLE_VERSION_CHECK: 'true',
    CDK_DISABLE_CLI_TELEMETRY: 'true',
    AWS_CONFIG_FILE: join(home, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    // CDK runs this instead of `docker`: any attempt to bundle in a container fails the synth.
    CDK_DOCKER: join(home, 'docker-is-not-used'),
  };
}

describe('cdk synth', () => {
  let outdir: string;
  let result: ReturnType<typeof spawnSync>;

  beforeAll(() => {
    // GIVEN a clean environment: no AWS credentials or profile, no version check, no Docker
    outdir = tempDir('tfstep-cdk-synth-');
    const env = cleanEnv();
    // WHEN the CLI synthesizes the app from cdk.json
    result = spawnSync('npx', ['cdk', 'synth', '--quiet', '--output', outdir], { cwd: ROOT, env, encoding: 'utf8', timeout: SYNTH_TIMEOUT_MS - 10_000 });
  }, SYNTH_TIMEOUT_MS);

  afterAll(removeTempDirs);

  it('succeeds offline without credentials', () => {
    // THEN
    expect({ status: result.status, stderr: result.status === 0 ? '' : String(result.stderr) }).toEqual({ status: 0, stderr: '' });
  });

  it('lists the central stack and one stack per example account, each in its environment', () => {
    // GIVEN
    const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8')) as Manifest;
    // WHEN
    const stacks = Object.fromEntries(
      Object.entries(manifest.artifacts)
        .filter(([, a]) => a.type === 'aws:cloudformation:stack')
        .map(([id, a]) => [id, a.environment]),
    );
    // THEN
    expect(stacks).toEqual({
      [names.centralStack()]: 'aws://999999999999/us-east-1',
      [names.accountStack('dev')]: 'aws://111111111111/us-east-1',
      [names.accountStack('stage')]: 'aws://222222222222/us-east-1',
      [names.accountStack('prod')]: 'aws://333333333333/us-east-1',
    });
  });

  it('bundles the three functions locally with esbuild', () => {
    // WHEN
    const bundles = readdirSync(outdir).filter((d) => d.startsWith('asset.') && existsSync(join(outdir, d, 'index.js')));
    // THEN
    expect(bundles).toHaveLength(3);
  });

  it('leaves a validation report with no violation', () => {
    // WHEN
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as { pluginReports: { violations: unknown[] }[] };
    // THEN
    expect(report.pluginReports.flatMap((r) => r.violations)).toEqual([]);
  });
});

describe('cdk synth with a bad config', () => {
  afterAll(removeTempDirs);

  it(
    'fails when the config file does not exist, saying so without a stack trace',
    () => {
      // GIVEN a context value naming a missing file
      const missing = join(tempDir('tfstep-cdk-missing-'), 'tfstep.yaml');
      // WHEN
      const res = spawnSync('npx', ['cdk', 'synth', '--quiet', '-c', `tfstep:config=${missing}`, '--output', tempDir('tfstep-cdk-synth-')], {
        cwd: ROOT,
        env: cleanEnv(),
        encoding: 'utf8',
        timeout: 110_000,
      });
      // THEN
      expect(res.status).not.toBe(0);
      expect(res.stderr).toContain(`${missing}: 1 problem in the config`);
      expect(res.stderr).toContain('got no such file; expected a readable tfstep YAML config file');
      expect(res.stderr).not.toMatch(/^\s+at /m);
    },
    120_000,
  );
});
