/** The runner image pins and the esbuild bundle (no Docker engine needed). */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { buildRunnerBundle } from '../../lib/runner/build';
import { EXIT } from '../../lib/domain/runner-contract';

const dockerfile = readFileSync(path.join(__dirname, '..', '..', 'runner', 'Dockerfile'), 'utf8');
const lines = dockerfile.split('\n');

describe('runner/Dockerfile', () => {
  it('GIVEN every FROM WHEN read THEN the base image is pinned by digest', () => {
    const froms = lines.filter((l) => /^FROM\s/.test(l));
    expect(froms.length).toBeGreaterThan(0);
    for (const f of froms) expect(f).toMatch(/^FROM node:22-bookworm-slim@sha256:[0-9a-f]{64}(\s+AS\s+\w+)?$/);
  });

  it.each([
    ['TERRAFORM', 'terraform.zip'],
    ['TOFU', 'tofu.zip'],
    ['TERRAGRUNT', 'terragrunt'],
  ])('GIVEN %s WHEN downloaded THEN its version is pinned and the file is checked against a SHA-256 in the Dockerfile', (tool, file) => {
    expect(dockerfile).toMatch(new RegExp(`^ARG ${tool}_VERSION=\\d+\\.\\d+\\.\\d+$`, 'm'));
    expect(dockerfile).toMatch(new RegExp(`^ARG ${tool}_SHA256=[0-9a-f]{64}$`, 'm'));
    expect(dockerfile).toContain(`echo "\${${tool}_SHA256}  ${file}" | sha256sum -c -`);
  });

  it('GIVEN the final stage WHEN read THEN it installs only git, openssh-client and ca-certificates and runs as a non-root user', () => {
    const final = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(final).toContain('apt-get install -y --no-install-recommends ca-certificates git openssh-client \\');
    const user = /^USER\s+(\S+)$/m.exec(final)?.[1] ?? '';
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    expect(user).not.toBe('');
  });

  it('GIVEN the ENTRYPOINT WHEN read THEN it is exec form, fixes the SSM policy source and strips NODE_OPTIONS; there is no CMD', () => {
    const line = lines.find((l) => l.startsWith('ENTRYPOINT ')) ?? '';
    const argv = JSON.parse(line.slice('ENTRYPOINT '.length)) as string[];
    expect(argv.slice(-3)).toEqual(['/usr/local/bin/node', '/opt/tfstep/runner.js', '--policy-source=ssm:/tfstep/runner/policy']);
    expect(argv[0]).toBe('/usr/bin/env');
    expect(argv.join(' ')).toContain('-u NODE_OPTIONS');
    expect(lines.some((l) => l.startsWith('CMD'))).toBe(false);
  });

  it('GIVEN the read-only root filesystem of the task definition WHEN read THEN /tmp is a declared volume the non-root user can write', () => {
    const final = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(final).toMatch(/^VOLUME \["\/tmp"\]$/m);
    expect(final).toContain('install -d -m 1777 /tmp');
    expect(final.indexOf('VOLUME')).toBeLessThan(final.indexOf('USER '));
  });
});

describe('buildRunnerBundle', () => {
  let dir: string;
  let bundle: string;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tfstep-bundle-'));
    bundle = path.join(dir, 'runner.js');
    await buildRunnerBundle(bundle);
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('GIVEN the entrypoint WHEN bundled THEN one self-contained file is written without aws-cdk-lib', () => {
    expect(existsSync(bundle)).toBe(true);
    expect(statSync(bundle).size).toBeGreaterThan(10_000);
    const text = readFileSync(bundle, 'utf8');
    expect(text).not.toContain('aws-cdk-lib');
    // The SDK clients and zod are inlined: the image has no node_modules.
    expect(text).not.toMatch(/require\(["'](zod|@aws-sdk\/client-[a-z-]+)["']\)/);
  });

  // Started from a temporary folder, far from any node_modules: the bundle needs none.
  it('fails when the bundle is started with an extra argument: exit 3 and one line on stderr', () => {
    const res = spawnSync(process.execPath, [bundle, '--policy-source=file:/nonexistent', 'extra'], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    expect(res.status).toBe(EXIT.REFUSED);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toMatch(/exactly one --policy-source=/);
  });
});
