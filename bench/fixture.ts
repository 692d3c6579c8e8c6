/**
 * The benchmark's inputs, made in a temp folder: a config with N accounts in one stage and a git
 * repository with one Terraform module per account, so the real planner finds N targets.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import { stringify } from 'yaml';
import { loadConfig } from '../lib/config/loader';
import { StageSchema, type Config, type ConfigInput } from '../lib/config/schema';
import { boundChangedPaths, PUSH_EVENT_DETAIL_TYPE, PUSH_EVENT_SOURCE, PushEventSchema, ZERO_SHA, type PipelineInput } from '../lib/domain/push-event';
import { BenchInputError } from './errors';

const run = promisify(execFile);

/** The repository every benchmark config deploys from. */
export const BENCH_REPOSITORY = 'acme/bench-live';
/** The one stage of the benchmark configs. */
export const BENCH_STAGE = 'fleet';
/** Accounts of the benchmark: acct-0001, acct-0002, ... */
export const BENCH_REGION = 'us-east-1';

/**
 * The stage concurrency the benchmark uses: 40, which keeps its figures comparable with runs made
 * when a stage was an inline Map (40 at most in AWS). A stage's Distributed Maps take any
 * concurrency the config schema accepts.
 */
export const BENCH_CONCURRENCY = 40;

/** The name of account `i` (1-based). */
export function benchAccountName(i: number): string {
  return `acct-${String(i).padStart(4, '0')}`;
}

/** A 12-digit account id, distinct per account. */
export function benchAccountId(i: number): string {
  return String(100_000_000_000 + i);
}

/** The largest concurrency the config schema accepts for a stage. */
export function maxStageConcurrency(): number {
  const shape = StageSchema.shape.concurrency.unwrap();
  return shape.maxValue ?? Number.POSITIVE_INFINITY;
}

/** The most accounts a benchmark config holds. */
export const MAX_BENCH_ACCOUNTS = 20_000;

/** A stage's rollout settings in a benchmark config (see docs/waves.md). */
export type BenchRollout = Pick<NonNullable<ConfigInput['stages'][string]>, 'waves' | 'canaries' | 'toleratedFailures' | 'bakeMinutes'>;

/** The config, as it is written to the file, of N accounts in one stage without approval. */
export function benchConfigInput(accounts: number, concurrency = BENCH_CONCURRENCY, repoDir?: string, rollout: BenchRollout = {}): ConfigInput {
  if (!Number.isInteger(accounts) || accounts < 1 || accounts > MAX_BENCH_ACCOUNTS) {
    throw new BenchInputError(`account count ${accounts} is not usable; expected a whole number from 1 to ${MAX_BENCH_ACCOUNTS}`);
  }
  return {
    version: 1,
    central: { account: '999999999999', region: BENCH_REGION },
    repositories: [
      {
        provider: 'github',
        fullName: BENCH_REPOSITORY,
        cloneUrls: [...(repoDir ? [repoDir] : []), `https://github.com/${BENCH_REPOSITORY}.git`],
        deployBranch: 'main',
      },
    ],
    stageOrder: [BENCH_STAGE],
    stages: { [BENCH_STAGE]: { concurrency, approval: { required: false }, ...rollout } },
    accounts: Array.from({ length: accounts }, (_, k) => ({
      name: benchAccountName(k + 1),
      id: benchAccountId(k + 1),
      region: BENCH_REGION,
      stage: BENCH_STAGE,
    })),
    layout: { accountRoot: '{account}/{region}' },
  };
}

/** A config file and a repository made for one benchmark size. */
export interface BenchFixture {
  readonly config: Config;
  readonly configFile: string;
  readonly repoDir: string;
  /** Commits on main, oldest first (one per {@link makeBenchFixture} `commits`). */
  readonly commits: readonly string[];
}

async function git(dir: string, args: readonly string[]): Promise<string> {
  const { stdout } = await run('git', ['-C', dir, ...args], {
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'Bench Pusher',
      GIT_AUTHOR_EMAIL: 'bench@example.com',
      GIT_COMMITTER_NAME: 'Bench Pusher',
      GIT_COMMITTER_EMAIL: 'bench@example.com',
      GIT_TERMINAL_PROMPT: '0',
    },
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout.trim();
}

/**
 * Writes `config.yaml` and a git repository (`repo/`, branch main) under `dir`, validated by the
 * same loader the CLI uses. Each commit touches every module, so each push targets every account.
 */
export async function makeBenchFixture(dir: string, accounts: number, options: { concurrency?: number; commits?: number; rollout?: BenchRollout } = {}): Promise<BenchFixture> {
  const repoDir = path.join(dir, 'repo');
  const configFile = path.join(dir, 'config.yaml');
  const input = benchConfigInput(accounts, options.concurrency ?? BENCH_CONCURRENCY, repoDir, options.rollout);
  await mkdir(repoDir, { recursive: true });
  await writeFile(configFile, stringify(input));
  const config = loadConfig(configFile);

  await git(repoDir, ['init', '--quiet', '--initial-branch=main']);
  const commits: string[] = [];
  for (let c = 0; c < (options.commits ?? 1); c++) {
    for (const account of config.accounts) {
      const moduleDir = path.join(repoDir, account.name, account.region);
      await mkdir(moduleDir, { recursive: true });
      await writeFile(path.join(moduleDir, 'main.tf'), `# ${account.name} (${account.id}), revision ${c + 1}\nterraform {}\n`);
    }
    await git(repoDir, ['add', '-A']);
    await git(repoDir, ['commit', '--quiet', '-m', `bench revision ${c + 1}`]);
    commits.push(await git(repoDir, ['rev-parse', 'HEAD']));
  }
  return { config, configFile, repoDir, commits };
}

/** The push's changes as the webhook carries them: the paths, or none when they pass the budget. */
function changesOf(paths: string[]): { complete: boolean; paths: string[] } {
  const bounded = boundChangedPaths(paths);
  return bounded ? { complete: true, paths: bounded } : { complete: false, paths: [] };
}

/**
 * The execution input of a push of `commits[index]` to main, as the rule delivers it: `before`
 * is the previous revision (all zeros for the first), and the changed paths are every module's
 * `main.tf`, which each revision rewrites. As the webhook does, a list of paths past the push's
 * budget is dropped and the push marked incomplete: the targets step then reads the changes from
 * the repository, and the execution input stays small whatever the number of accounts.
 */
export function benchPushInput(fixture: BenchFixture, index: number, receivedAt: Date): PipelineInput {
  const after = fixture.commits[index];
  if (!after) throw new BenchInputError(`revision ${index} does not exist; the fixture has ${fixture.commits.length}`);
  const repository = fixture.config.repositories[0]!;
  const push = PushEventSchema.parse({
    provider: 'local',
    deliveryId: `bench-${randomUUID()}`,
    repository: { fullName: repository.fullName, cloneUrls: repository.cloneUrls },
    ref: `refs/heads/${repository.deployBranch}`,
    branch: repository.deployBranch,
    before: index === 0 ? ZERO_SHA : fixture.commits[index - 1]!,
    after,
    changes: changesOf(fixture.config.accounts.map((a) => `${a.name}/${a.region}/main.tf`)),
    pusher: 'bench@example.com',
    headCommit: { message: `bench revision ${index + 1}` },
    receivedAt: receivedAt.toISOString(),
  });
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': PUSH_EVENT_DETAIL_TYPE,
    source: PUSH_EVENT_SOURCE,
    account: fixture.config.central.account,
    time: push.receivedAt.replace(/\.\d+Z$/, 'Z'),
    region: fixture.config.central.region,
    resources: [],
    detail: push,
  };
}
