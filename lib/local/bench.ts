/**
 * What the local orchestration costs: one push deploying N accounts in one stage, through the
 * real definition, the real pipeline function and the local run table, with a runner that does
 * no work. The no-op runner writes each module's `result.json` where the runner would and
 * returns at once, so wall time minus its own time is the orchestration (engine, functions,
 * table). `npm run bench` calls {@link benchLocalFanout}.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseConfig } from '../config/loader';
import type { ConfigInput } from '../config/schema';
import { artifactKeys, ModuleResultSchema, RUNNER_ENV } from '../domain/runner-contract';
import { RunStore } from '../store/run-store';
import type { JsonObject } from './definition';
import type { LocalTaskRunner } from './engine';
import { gitOrThrow } from './git';
import { buildLocalPush, resolveLocalSource } from './push';
import { overrideEnv } from './runner-launcher';
import { LocalPipeline } from './session';
import { openLocalStore } from './store';

/** One measurement. */
export interface LocalBenchResult {
  accounts: number;
  /** From the execution's start to its end. */
  wallMs: number;
  /** Time spent inside the no-op runner. */
  runnerMs: number;
  /** (wall - runner) / accounts. */
  overheadPerAccountMs: number;
  /** States entered (Step Functions bills a transition per state entered). */
  stateTransitions: number;
  /** Every event of the local history (execution, states, Map iterations). */
  historyEvents: number;
  /** Peak resident set size of this process, in MiB. */
  peakRssMiB: number;
  status: string;
}

/** "A runner that does no work": writes every module's result as applied and returns. */
class NoopTaskRunner implements LocalTaskRunner {
  busyMs = 0;

  constructor(private readonly artifactsDir: string) {}

  runTask(parameters: JsonObject): Promise<JsonObject> {
    const started = performance.now();
    const { env, account, phase, execution } = overrideEnv(parameters);
    const modules = JSON.parse(env[RUNNER_ENV.modules] ?? '[]') as string[];
    const now = new Date().toISOString();
    for (const module of modules) {
      const result = ModuleResultSchema.parse({
        module,
        account,
        commit: env[RUNNER_ENV.commit],
        phase,
        status: phase === 'plan' ? 'planned' : 'applied',
        plan: { add: 0, change: 0, destroy: 0, deleted: [], replaced: [] },
        startedAt: now,
        finishedAt: now,
      });
      const file = path.join(this.artifactsDir, artifactKeys.result(execution, account, module));
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, JSON.stringify(result));
    }
    this.busyMs += performance.now() - started;
    return Promise.resolve({ TaskArn: `arn:aws:ecs:us-east-1:000000000000:task/bench/${account}`, StoppedReason: 'Essential container in task exited', Containers: [{ Name: 'runner', ExitCode: 0 }] });
  }
}

/** A config of N accounts in one stage `dev`, at most 40 at a time (the inline Map limit). */
function fanoutConfig(accounts: number): ConfigInput {
  return {
    version: 1,
    central: { account: '999999999999', region: 'us-east-1' },
    repositories: [{ provider: 'github', fullName: 'bench/live', cloneUrls: ['https://github.com/bench/live.git'] }],
    stageOrder: ['dev'],
    stages: { dev: { concurrency: Math.min(accounts, 40) } },
    accounts: Array.from({ length: accounts }, (_, i) => ({ name: `acct-${i}`, id: String(100000000000 + i), region: 'us-east-1', stage: 'dev' })),
  };
}

/**
 * Measures one fan-out of `accounts` accounts (one module each) in a temporary folder.
 * @param opts.keep keep the temporary folder (its path is returned in the error otherwise)
 */
export async function benchLocalFanout(accounts: number, opts: { keep?: boolean } = {}): Promise<LocalBenchResult> {
  if (!Number.isInteger(accounts) || accounts < 1 || accounts > 1000) throw new RangeError(`accounts must be an integer from 1 to 1000; got ${accounts}`);
  const root = path.join(os.tmpdir(), `tfstep-bench-${process.pid}-${Date.now()}`);
  const repo = path.join(root, 'repo');
  const stateDir = path.join(root, 'state');
  mkdirSync(repo, { recursive: true });
  for (let i = 0; i < accounts; i++) {
    const dir = path.join(repo, `acct-${i}`, 'us-east-1', 'app');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'main.tf'), `resource "terraform_data" "app" {\n  input = ${i}\n}\n`);
  }
  const author = { GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'bench@example.com', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'bench@example.com' };
  await gitOrThrow(repo, ['-c', 'init.defaultBranch=main', 'init', '-q', '-b', 'main']);
  await gitOrThrow(repo, ['add', '-A']);
  await gitOrThrow(repo, ['-c', 'commit.gpgsign=false', 'commit', '-q', '-m', 'bench'], author);

  const config = parseConfig(fanoutConfig(accounts), 'bench config');
  const store = await openLocalStore(stateDir);
  try {
    const runner = new NoopTaskRunner(path.join(stateDir, 'artifacts'));
    const pipeline = await LocalPipeline.create({ config, stateDir, repoDir: repo, store, taskRunner: runner, waitMs: 0 });
    const source = await resolveLocalSource({ config, repoDir: repo });
    const { input } = await buildLocalPush(source, new RunStore(store.docClient, store.tableName));
    const started = performance.now();
    const result = await pipeline.start(input).done;
    const wallMs = performance.now() - started;
    return {
      accounts,
      wallMs: Math.round(wallMs),
      runnerMs: Math.round(runner.busyMs),
      overheadPerAccountMs: Math.round(((wallMs - runner.busyMs) / accounts) * 10) / 10,
      stateTransitions: result.events.filter((e) => e.type === 'StateEntered').length,
      historyEvents: result.events.length,
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
      status: result.status,
    };
  } finally {
    await store.close();
    if (!opts.keep) rmSync(root, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const sizes = process.argv.slice(2).map(Number);
  void (async () => {
    for (const n of sizes.length ? sizes : [1, 10, 100]) console.log(JSON.stringify(await benchLocalFanout(n)));
  })();
}
