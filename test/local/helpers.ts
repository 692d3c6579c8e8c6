/**
 * Helpers of the local mode's end-to-end tests: real git repositories in temp folders, a PATH
 * without terraform (so the runner uses the terraform test double), captured output streams.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { ensureRunnerBundle } from '../../lib/local/engine/runner-launcher';
import type { LocalIo } from '../../lib/local/ui/run';

export const FIXTURES = path.join(__dirname, '..', 'fixtures', 'local');
export const TWO_DEV_CONFIG = path.join(FIXTURES, 'two-dev-accounts.yaml');

/** A fresh temp folder. */
export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `tfstep-local-${prefix}-`));
}

function which(bin: string): string {
  return execFileSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' }).trim();
}

/**
 * The real terraform binary on PATH, or undefined after printing a notice that `what` (an
 * end-to-end test that needs it) is skipped.
 */
export function realTerraform(what: string): string | undefined {
  let found = '';
  try {
    found = which('terraform');
  } catch {
    // not on PATH
  }
  if (!found) process.stderr.write(`NOTICE: no terraform on PATH: ${what} with the real binary is skipped\n`);
  return found || undefined;
}

/**
 * A folder holding only git and node: as PATH it hides any installed terraform, so the runner
 * falls back to the terraform test double.
 */
export function toolPathWithoutTerraform(): string {
  const dir = tempDir('bin');
  for (const bin of ['git', 'node']) symlinkSync(which(bin), path.join(dir, bin));
  return dir;
}

/** A folder holding git, node and the real terraform (see {@link realTerraform}): a PATH with nothing else. */
export function toolPathWithTerraform(): string {
  const dir = toolPathWithoutTerraform();
  symlinkSync(which('terraform'), path.join(dir, 'terraform'));
  return dir;
}

const GIT_ENV = {
  GIT_AUTHOR_NAME: 'Pat Pusher',
  GIT_AUTHOR_EMAIL: 'pat@example.com',
  GIT_COMMITTER_NAME: 'Pat Pusher',
  GIT_COMMITTER_EMAIL: 'pat@example.com',
};

function git(dir: string, args: string[]): string {
  return execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8', env: { ...process.env, ...GIT_ENV } }).trim();
}

/** One Terraform module's main.tf, using only terraform_data. */
export function moduleTf(name: string, value = 'v1'): string {
  return `resource "terraform_data" "${name}" {\n  input = "${value}"\n}\n`;
}

/** Writes files and commits them; returns the new commit. */
export function commit(repo: string, files: Record<string, string>, message: string): string {
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(repo, file)), { recursive: true });
    writeFileSync(path.join(repo, file), text);
  }
  git(repo, ['add', '-A']);
  git(repo, ['-c', 'commit.gpgsign=false', 'commit', '-q', '-m', message]);
  return git(repo, ['rev-parse', 'HEAD']);
}

/** A git repository on branch main with the modules of the two-dev-accounts config. */
export function makeInfraRepo(): string {
  const repo = tempDir('repo');
  git(repo, ['-c', 'init.defaultBranch=main', 'init', '-q', '-b', 'main']);
  commit(
    repo,
    {
      'README.md': '# live\n',
      'dev-a/us-east-1/app/main.tf': moduleTf('app'),
      'dev-b/us-east-1/app/main.tf': moduleTf('app'),
      'stage/us-east-1/app/main.tf': moduleTf('app'),
      'stage/us-east-1/network/main.tf': moduleTf('network'),
      'prod/us-east-1/app/main.tf': moduleTf('app'),
    },
    'initial infrastructure',
  );
  return repo;
}

let bundle: Promise<string> | undefined;

/**
 * A state directory with the runner bundle already in it: the bundle is built once per test
 * file and copied, so each test does not pay for esbuild.
 */
export async function stateDirWithBundle(): Promise<string> {
  bundle ??= ensureRunnerBundle(tempDir('bundle'));
  const built = await bundle;
  const dir = tempDir('state');
  mkdirSync(path.join(dir, 'runner'), { recursive: true });
  copyFileSync(built, path.join(dir, 'runner', 'runner.js'));
  return dir;
}

/** Captured output streams and a stdin the test writes to. */
export interface MemoryIo {
  io: LocalIo;
  stdin: PassThrough;
  stdout(): string;
  stderr(): string;
}

export function memoryIo(): MemoryIo {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stdout.on('data', (c: Buffer) => out.push(c.toString('utf8')));
  stderr.on('data', (c: Buffer) => err.push(c.toString('utf8')));
  const stdin = new PassThrough();
  return { io: { stdout, stderr, stdin }, stdin, stdout: () => out.join(''), stderr: () => err.join('') };
}

/** The terraform test double's invocation log: `<module path> <subcommand>` per line. */
export function doubleLog(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l !== '') : [];
}

/** Waits until `predicate` holds, polling. */
export async function until(predicate: () => boolean, timeoutMs = 60000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The runner's environment for a test: no terraform on PATH, the double logging to `logFile`. */
export function runnerEnv(bin: string, logFile: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: bin, HOME: os.homedir(), TFSTEP_TEST_DOUBLE_LOG: logFile, ...extra };
}

/**
 * A config file for `local serve` tests: acme/live cloned from `repo`, one dev stage with the
 * accounts named (dev-a, dev-b, ...: ids 111111111111, 111111111112, ...).
 */
export function devConfigFor(repo: string, accounts: readonly string[] = ['dev-a']): string {
  const file = path.join(tempDir('config'), 'tfstep.yaml');
  writeFileSync(
    file,
    [
      'version: 1',
      'central: { account: "999999999999", region: us-east-1 }',
      'repositories:',
      `  - { provider: github, fullName: acme/live, cloneUrls: [${JSON.stringify(repo)}] }`,
      'stageOrder: [dev]',
      'stages: { dev: {} }',
      'accounts:',
      ...accounts.map((name, i) => `  - { name: ${name}, id: "${111111111111 + i}", region: us-east-1, stage: dev }`),
      '',
    ].join('\n'),
  );
  return file;
}
