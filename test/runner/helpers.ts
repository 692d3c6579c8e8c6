/** Real git repositories, policies and runner invocations for the runner tests. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { RunnerPolicy } from '../../lib/domain/runner-contract';
import { runRunner, type RunnerDeps } from '../../lib/runner/main';
import { runnerTask } from '../../lib/runner/spawn';
import type { WrittenManifest } from '../../lib/runner/manifest';
import type { RunnerInput } from '../../lib/domain/runner-contract';

export const DOUBLE = path.resolve(__dirname, '..', 'doubles', 'terraform');

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.com',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.com',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: os.devNull,
};

/** Runs git in `cwd` and returns its trimmed stdout. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8' }).trim();
}

function which(name: string): string {
  return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
}

/** A scratch world: a repository with modules, a policy, an artifacts folder, a bin folder without terraform. */
export interface World {
  root: string;
  repo: string;
  /** Outside the repository: the target of the escaping symlink. */
  outside: string;
  main: string;
  /** A commit on branch `feature` only. */
  feature: string;
  policyFile: string;
  artifacts: string;
  bin: string;
  doubleLog: string;
  policy: RunnerPolicy;
  cleanup(): void;
}

/** Creates a world in os.tmpdir(). */
export function makeWorld(policyOverrides: Partial<RunnerPolicy> = {}): World {
  const root = mkdtempSync(path.join(os.tmpdir(), 'tfstep-runner-test-'));
  const repo = path.join(root, 'live');
  const outside = path.join(root, 'outside');
  mkdirSync(outside);
  writeFileSync(path.join(outside, 'main.tf'), 'resource "outside" "x" {}\n');
  mkdirSync(repo);
  git(repo, 'init', '-q', '-b', 'main');
  const files: Record<string, string> = {
    'dev/network/main.tf': 'resource "aws_vpc" "main" {\n  cidr_block = "10.0.0.0/16"\n}\n',
    'dev/app/main.tf': 'resource "aws_instance" "app" {\n  ami = "ami-1"\n}\nresource "aws_s3_bucket" "logs" {\n  bucket = "logs"\n}\n',
    'dev/fixture/main.tf': 'resource "x" "y" {}\n',
    'dev/fixture/tfstep-test-plan.json': readFileSync(path.join(__dirname, '..', 'fixtures', 'terraform-show-json', 'requires-replace.json'), 'utf8'),
    'dev/linkfile/main.tf': 'resource "x" "y" {}\n',
    'README.md': 'live\n',
  };
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(repo, f)), { recursive: true });
    writeFileSync(path.join(repo, f), text);
  }
  symlinkSync(outside, path.join(repo, 'dev', 'escape'));
  symlinkSync(path.join(outside, 'main.tf'), path.join(repo, 'dev', 'linkfile', 'extra.tf'));
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', 'modules');
  const main = git(repo, 'rev-parse', 'HEAD');
  git(repo, 'checkout', '-q', '-b', 'feature');
  writeFileSync(path.join(repo, 'dev/network/main.tf'), 'resource "aws_vpc" "main" {\n  cidr_block = "10.9.0.0/16"\n}\n');
  git(repo, 'commit', '-q', '-am', 'feature change');
  const feature = git(repo, 'rev-parse', 'HEAD');
  git(repo, 'checkout', '-q', 'main');

  const bin = path.join(root, 'bin');
  mkdirSync(bin);
  // Only node and git: terraform is absent, so the runner falls back to the test double.
  symlinkSync(process.execPath, path.join(bin, 'node'));
  symlinkSync(which('git'), path.join(bin, 'git'));

  const artifacts = path.join(root, 'artifacts');
  const policy: RunnerPolicy = {
    account: 'dev',
    repositories: ['git@github.com:acme/live.git', repo],
    refs: ['refs/heads/main'],
    tool: 'terraform',
    allowedSubcommands: ['init', 'plan', 'show', 'apply'],
    phases: ['plan', 'apply', 'plan-and-apply'],
    artifacts: `file://${artifacts}`,
    planRecords: `file://${path.join(root, 'plan-records')}`,
    ...policyOverrides,
  };
  const policyFile = path.join(root, 'policy.json');
  writeFileSync(policyFile, JSON.stringify(policy));
  const doubleLog = path.join(root, 'double.log');
  writeFileSync(doubleLog, '');
  return { root, repo, outside, main, feature, policyFile, artifacts, bin, doubleLog, policy, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** A valid input for `world`: plan of dev/network at main. */
export function baseInput(world: World, overrides: Partial<RunnerInput> = {}): RunnerInput {
  return {
    repository: world.repo,
    commit: world.main,
    ref: 'refs/heads/main',
    account: 'dev',
    stage: 'dev',
    phase: 'plan',
    modules: ['dev/network'],
    execution: 'exec-1',
    ...overrides,
  };
}

/** What one runner invocation did. */
export interface RunOutcome {
  code: number;
  stdout: string;
  stderr: string;
  /** Lines the terraform double logged (`<module> <subcommand>`). */
  doubleCalls: string[];
}

/** Runs the runner in-process against `world`. */
export async function run(
  world: World,
  env: Record<string, string | undefined>,
  opts: { argv?: string[]; deps?: RunnerDeps } = {},
): Promise<RunOutcome> {
  let stdout = '';
  let stderr = '';
  const before = readFileSync(world.doubleLog, 'utf8');
  // The step before the task writes its manifest, as the pipeline does (only a file store here; an S3 test serves it itself).
  const manifest = preparedManifests.get(env.TFSTEP_MANIFEST_SHA256 ?? '');
  if (manifest && env.TFSTEP_MANIFEST === manifest.key && world.policy.artifacts.startsWith('file://')) {
    const file = path.join(world.artifacts, manifest.key);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, manifest.body);
  }
  const fullEnv: NodeJS.ProcessEnv = { PATH: world.bin, HOME: world.root, TFSTEP_TEST_DOUBLE_LOG: world.doubleLog };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete fullEnv[k];
    else fullEnv[k] = v;
  }
  const code = await runRunner(opts.argv ?? [`--policy-source=file:${world.policyFile}`], fullEnv, {
    stdout: { write: (c: string) => (stdout += c) },
    stderr: { write: (c: string) => (stderr += c) },
    searchPath: world.bin,
    testDouble: DOUBLE,
    workRoot: world.root,
    ...opts.deps,
  });
  const after = existsSync(world.doubleLog) ? readFileSync(world.doubleLog, 'utf8') : '';
  const doubleCalls = after.slice(before.length).split('\n').filter(Boolean);
  return { code, stdout, stderr, doubleCalls };
}

/** Manifests {@link envOf} made, by SHA-256: {@link run} writes the one its environment names before the runner starts. */
const preparedManifests = new Map<string, WrittenManifest>();

/** The manifest of `input` as the pipeline would write it. */
export function manifestOf(input: RunnerInput): WrittenManifest {
  return runnerTask(input).manifest;
}

/** The overrides' environment carrying `input`; its manifest is written to the world's artifacts by {@link run}. */
export function envOf(input: RunnerInput): Record<string, string> {
  const task = runnerTask(input);
  preparedManifests.set(task.manifest.sha256, task.manifest);
  return task.env;
}
