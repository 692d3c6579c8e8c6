/** The runner image: its Dockerfile parsed and linted, its pins, and the build-time download check. */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { validate } from 'dockerfile-utils';
import { buildRunnerBundle } from '../../lib/runner/build';
import { EXIT } from '../../lib/domain/runner-contract';
import { baseImages, parseImagetoolsDigest, pinDigest, resolvePins } from '../../runner/pin';

const root = path.join(__dirname, '..', '..');
const dockerfile = readFileSync(path.join(root, 'runner', 'Dockerfile'), 'utf8');
const doc = DockerfileParser.parse(dockerfile);
const froms = doc.getFROMs();
const finalStage = doc.getInstructions().filter((i) => i.getRange().start.line >= (froms.at(-1)?.getRange().start.line ?? 0));
const args = new Map(doc.getARGs().map((a) => [a.getProperty()?.getName() ?? '', a.getProperty()?.getValue() ?? '']));
const runs = doc.getInstructions().filter((i) => i.getKeyword() === 'RUN');

/** The pins and where each was checked against a public record (docs/runner-image.md says the same). */
const PINS = {
  TERRAFORM_VERSION: '1.11.4',
  TERRAFORM_SHA256: '1ce994251c00281d6845f0f268637ba50c0005657eb3cf096b92f753b42ef4dc',
  TOFU_VERSION: '1.8.5',
  TOFU_SHA256: 'e2951ba6be8ae9427aabbd5c6f243855e8b526cb2ae6bc33a05dae22d7e82632',
  TERRAGRUNT_VERSION: '0.55.2',
  TERRAGRUNT_SHA256: '85dae27ae962bba86b1aae2dc0f8095b05694bff95d223e6cf05a016de5a35fa',
};
const BASE_DIGEST = 'sha256:48e4b67d85f87bd551df43704e24d252f56cc5f8e9718841aace50f19948f0f9';

function runText(i: Instruction): string {
  return i.getArgumentsContent() ?? '';
}

describe('runner/Dockerfile', () => {
  it('GIVEN the file WHEN linted with dockerfile-utils THEN it has no problem', () => {
    expect(validate(dockerfile)).toEqual([]);
  });

  it('GIVEN every FROM WHEN parsed THEN the base image is the cited node:22-bookworm-slim index, pinned by digest', () => {
    expect(froms).toHaveLength(2);
    for (const f of froms) {
      expect(f.getImageName()).toBe('node');
      expect(f.getImageTag()).toBe('22-bookworm-slim');
      expect(f.getImageDigest()).toBe(BASE_DIGEST);
    }
    expect(froms[0]?.getBuildStage()).toBe('tools');
  });

  it('GIVEN the tool ARGs WHEN parsed THEN each version and SHA-256 is the cited one', () => {
    for (const [name, value] of Object.entries(PINS)) expect([name, args.get(name)]).toEqual([name, value]);
  });

  it.each([
    ['terraform', 'TERRAFORM', 'C874011F0AB405110D02105534365D9472D7468F'],
    ['tofu', 'TOFU', 'E3E6E43D84CB852EADB0051D0C0AF313E5FD9F80'],
    ['terragrunt', 'TERRAGRUNT', undefined],
  ])('GIVEN %s WHEN downloaded THEN fetch-verified checks it against the pin, the vendor checksum file and the signing key', (tool, arg, fingerprint) => {
    const run = runs.find((r) => runText(r).includes(`--sha256 "\${${arg}_SHA256}"`));
    expect(run).toBeDefined();
    const text = runText(run!);
    expect(text.startsWith('fetch-verified ')).toBe(true);
    expect(text).toMatch(/--sums "https:\/\/[^"]+SHA256SUMS"/);
    if (fingerprint) {
      expect(text).toContain(`--fingerprint ${fingerprint}`);
      expect(text).toMatch(/--sig "https:\/\/[^"]+SHA256SUMS\.(sig|gpgsig)"/);
    }
    // No other download of the tool escapes the check.
    expect(runs.filter((r) => runText(r).includes('curl') && runText(r).includes(tool))).toEqual([]);
  });

  it('GIVEN the final stage WHEN parsed THEN it installs only git, openssh-client and ca-certificates and its last USER is not root', () => {
    const installs = finalStage.filter((i) => i.getKeyword() === 'RUN' && runText(i).includes('apt-get install'));
    expect(installs.map(runText).join('\n')).toMatch(/apt-get install -y --no-install-recommends ca-certificates git openssh-client\b/);
    const users = finalStage.filter((i) => i.getKeyword() === 'USER');
    const user = users.at(-1)?.getArgumentsContent() ?? '';
    expect(user).toBe('10001:10001');
    // Nothing after USER runs as root again.
    const userLine = users.at(-1)?.getRange().start.line ?? 0;
    expect(finalStage.filter((i) => i.getRange().start.line > userLine && i.getKeyword() === 'RUN')).toEqual([]);
  });

  it('GIVEN the ENTRYPOINT WHEN parsed THEN it is exec form, fixes the SSM policy source, strips loader variables, and there is no CMD', () => {
    const eps = doc.getENTRYPOINTs();
    expect(eps).toHaveLength(1);
    const argv = eps[0]!.getJSONStrings().map((s) => s.getJSONValue());
    expect(argv.length).toBeGreaterThan(3);
    expect(argv[0]).toBe('/usr/bin/env');
    expect(argv.slice(-3)).toEqual(['/usr/local/bin/node', '/opt/tfstep/runner.js', '--policy-source=ssm:/tfstep/runner/policy']);
    for (const v of ['NODE_OPTIONS', 'NODE_PATH', 'LD_PRELOAD', 'LD_LIBRARY_PATH']) expect(argv.join(' ')).toContain(`-u ${v}`);
    // ECS `command` overrides become arguments after the ENTRYPOINT's: with no CMD, and a runner
    // that takes exactly one argument (below), no override can add a second policy source.
    expect(doc.getCMDs()).toEqual([]);
    expect(doc.getENVs().map((e) => e.getArgumentsContent())).toEqual([]);
  });

  it('GIVEN the read-only root filesystem of the task definition WHEN parsed THEN /tmp is a declared volume created before USER', () => {
    const vol = finalStage.find((i) => i.getKeyword() === 'VOLUME');
    expect(vol?.getArgumentsContent()).toBe('["/tmp"]');
    const user = finalStage.find((i) => i.getKeyword() === 'USER');
    expect(vol!.getRange().start.line).toBeLessThan(user!.getRange().start.line);
    expect(finalStage.some((i) => i.getKeyword() === 'RUN' && runText(i).includes('install -d -m 1777 /tmp'))).toBe(true);
  });

  it('fails lint when an instruction is malformed: the linter used above does report problems', () => {
    expect(validate(`${dockerfile}\nUSER\n`).length).toBeGreaterThan(0);
  });
});

describe('runner/pin.ts', () => {
  const other = `sha256:${'b'.repeat(64)}`;

  it('GIVEN the Dockerfile WHEN its base images are listed THEN the stage reference is left out', () => {
    expect(baseImages(dockerfile).map((b) => [b.ref, b.digest])).toEqual([
      ['node:22-bookworm-slim', BASE_DIGEST],
      ['node:22-bookworm-slim', BASE_DIGEST],
    ]);
  });

  it('GIVEN a new digest WHEN pinned THEN both FROM lines carry it and nothing else changes', () => {
    const next = pinDigest(dockerfile, 'node:22-bookworm-slim', other);
    expect(baseImages(next).map((b) => b.digest)).toEqual([other, other]);
    expect(next.replaceAll(other, BASE_DIGEST)).toBe(dockerfile);
    expect(validate(next)).toEqual([]);
  });

  it('GIVEN a FROM without digest WHEN pinned THEN the digest is added', () => {
    const next = pinDigest('FROM node:22-bookworm-slim AS x\nFROM x\n', 'node:22-bookworm-slim', other);
    expect(next).toBe(`FROM node:22-bookworm-slim@${other} AS x\nFROM x\n`);
  });

  it('fails when the digest is not a sha256 digest', () => {
    expect(() => pinDigest(dockerfile, 'node:22-bookworm-slim', 'sha256:abc')).toThrow(/expected sha256: and 64 lowercase hex digits/);
  });

  it('GIVEN the output of docker buildx imagetools inspect WHEN parsed THEN the index digest is returned', () => {
    const out = `Name:      docker.io/library/node:22-bookworm-slim\nMediaType: application/vnd.oci.image.index.v1+json\nDigest:    ${other}\n\nManifests:\n  Name: docker.io/library/node:22-bookworm-slim@sha256:${'c'.repeat(64)}\n`;
    expect(parseImagetoolsDigest(out)).toBe(other);
    expect(() => parseImagetoolsDigest('error: not found')).toThrow(/no "Digest: sha256:\.\.\." line/);
  });

  it('GIVEN a stand-in for the docker CLI (no Docker engine here) WHEN pins are resolved THEN it is asked once per image and the change is reported', async () => {
    const calls: string[][] = [];
    const docker = (a: string[]) => {
      calls.push(a);
      return Promise.resolve(`Name: x\nDigest:    ${other}\n`);
    };
    const { text, changes } = await resolvePins(dockerfile, docker);
    expect(calls).toEqual([['buildx', 'imagetools', 'inspect', 'node:22-bookworm-slim']]);
    expect(changes).toEqual([`node:22-bookworm-slim -> ${other}`]);
    expect(baseImages(text).map((b) => b.digest)).toEqual([other, other]);
  });
});

/** Makes an OpenPGP key in its own keyring: a vendor (or an impostor) for the tests below. */
function makeSigner(dir: string, name: string): { fingerprint: string; publicKey: string; sign: (file: string, out: string) => void } {
  const home = path.join(dir, `gnupg-${name}`);
  spawnSync('mkdir', ['-m', '0700', home]);
  const gpg = (a: string[]) => {
    const r = spawnSync('gpg', ['--batch', '--homedir', home, ...a], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`gpg ${a.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  gpg(['--passphrase', '', '--quick-gen-key', `${name} <${name}@example.com>`, 'ed25519', 'sign', 'never']);
  const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(gpg(['--with-colons', '--list-keys']))?.[1] ?? '';
  return {
    fingerprint,
    publicKey: gpg(['--armor', '--export']),
    sign: (file, out) => void gpg(['--yes', '--detach-sign', '--output', out, file]),
  };
}

describe('runner/fetch-verified.sh (the build-time check of every tool download)', () => {
  const script = path.join(root, 'runner', 'fetch-verified.sh');
  let dir: string;
  let server: http.Server;
  let base: string;
  /** What the loopback server serves, by path. */
  const files = new Map<string, Buffer>();
  let vendor: ReturnType<typeof makeSigner>;
  let impostor: ReturnType<typeof makeSigner>;
  const archive = Buffer.from('the release archive\n');
  const sha = createHash('sha256').update(archive).digest('hex');
  const sums = (hash: string) => Buffer.from(`${'0'.repeat(64)}  tool_1.0.0_darwin_arm64.zip\n${hash}  tool_1.0.0_linux_amd64.zip\n`);

  function signed(signer: ReturnType<typeof makeSigner>, content: Buffer): Buffer {
    const f = path.join(dir, 'to-sign');
    writeFileSync(f, content);
    signer.sign(f, `${f}.sig`);
    return readFileSync(`${f}.sig`);
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tfstep-fetch-'));
    vendor = makeSigner(dir, 'vendor');
    impostor = makeSigner(dir, 'impostor');
    server = http.createServer((req, res) => {
      const body = files.get(req.url ?? '');
      res.writeHead(body ? 200 : 404).end(body ?? 'not found');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }, 60_000);
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    for (const n of ['vendor', 'impostor']) spawnSync('gpgconf', ['--homedir', path.join(dir, `gnupg-${n}`), '--kill', 'all']);
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    files.clear();
    files.set('/tool.zip', archive);
    files.set('/SHA256SUMS', sums(sha));
    files.set('/SHA256SUMS.sig', signed(vendor, sums(sha)));
    files.set('/key.asc', Buffer.from(vendor.publicKey));
  });

  function fetch(opts: { sha256?: string; signed?: boolean; fingerprint?: string }): Promise<{ code: number; stdout: string; stderr: string; out: string }> {
    const out = path.join(dir, `out-${Math.random().toString(36).slice(2)}`);
    const a = ['--name', 'tool_1.0.0_linux_amd64.zip', '--out', out, '--sha256', opts.sha256 ?? sha, '--url', `${base}/tool.zip`, '--sums', `${base}/SHA256SUMS`];
    if (opts.signed !== false) a.push('--sig', `${base}/SHA256SUMS.sig`, '--key', `${base}/key.asc`, '--fingerprint', opts.fingerprint ?? vendor.fingerprint);
    return new Promise((resolve) => {
      execFile('sh', [script, ...a], { encoding: 'utf8' }, (err, stdout, stderr) => {
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr, out });
      });
    });
  }

  it('GIVEN the pin, the checksum file and the vendor signature agree WHEN fetched THEN the file is written', async () => {
    const r = await fetch({});
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readFileSync(r.out)).toEqual(archive);
    expect(r.stdout).toContain(`signature by ${vendor.fingerprint}`);
  });

  it('GIVEN an unsigned checksum file (terragrunt) that agrees with the pin WHEN fetched THEN the file is written', async () => {
    const r = await fetch({ signed: false });
    expect(r.code).toBe(0);
    expect(readFileSync(r.out)).toEqual(archive);
  });

  it('fails when the downloaded file is not the one pinned', async () => {
    files.set('/tool.zip', Buffer.from('something else\n'));
    const r = await fetch({});
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/the download's SHA-256 is [0-9a-f]{64}, expected/);
  });

  it('fails when the pin differs from the vendor checksum file', async () => {
    const r = await fetch({ sha256: 'a'.repeat(64) });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`the pinned SHA-256 ${'a'.repeat(64)} differs from the vendor's ${sha}`);
    expect(existsSync(r.out)).toBe(false);
  });

  it('fails when the checksum file was changed after it was signed', async () => {
    files.set('/SHA256SUMS', sums('a'.repeat(64)));
    const r = await fetch({ sha256: 'a'.repeat(64) });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/signature does not verify/);
  });

  it('fails when key and signature come from another key than the pinned fingerprint', async () => {
    files.set('/key.asc', Buffer.from(impostor.publicKey));
    files.set('/SHA256SUMS.sig', signed(impostor, sums(sha)));
    const r = await fetch({});
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`is signed by ${impostor.fingerprint}, not by the pinned key ${vendor.fingerprint}`);
  });

  it('fails when the file is not listed in the checksum file', async () => {
    files.set('/SHA256SUMS', Buffer.from(`${sha}  another_file.zip\n`));
    const r = await fetch({ signed: false });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("not listed in the vendor's checksum file");
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
