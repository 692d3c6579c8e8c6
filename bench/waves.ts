/**
 * Waves: one push to a stage of N accounts rolled out in three waves (the canary first), with the
 * canary's task failing. The stage must stop after the first wave: no account of a later wave is
 * ever started. The baseline, measured in the same run on the same fixture, is the same stage
 * without waves: every account runs before the failure stops anything.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { assignWaves } from '../lib/planning/waves';
import { BenchRunError } from './errors';
import { BENCH_CONCURRENCY, BENCH_STAGE, benchAccountName, benchPushInput, makeBenchFixture, type BenchRollout } from './fixture';
import { BenchPipeline } from './harness';
import { costUsd, estimateExecution } from './history';

/** The rollout the waves row measures: the canary alone would be one account; ten make the first wave. */
export const BENCH_WAVES: BenchRollout = {
  canaries: [benchAccountName(1)],
  waves: [{ accounts: 10 }, { percent: 10 }, { percent: 100 }],
};

/** One measured run of the waves row. */
export interface WavesRun {
  /** Accounts whose runner task started. */
  accountsStarted: number;
  /** The run's end: FAILED with the stage stopped. */
  status: string;
  reason: string;
  wallMs: number;
  transitions: number;
  parentHistoryEvents: number;
  costUsd: number;
}

/** The waves row of results.json. */
export interface WavesResult {
  accounts: number;
  /** Accounts per wave, first wave first. */
  waveSizes: number[];
  /** The account whose task fails (in the first wave). */
  failedAccount: string;
  waves: WavesRun;
  /** The same push and failure without waves. */
  baseline: WavesRun;
  /** Accounts started with waves / without. */
  startedRatio: number;
}

const round = (n: number, digits = 2): number => Math.round(n * 10 ** digits) / 10 ** digits;

async function runOnce(accounts: number, rollout: BenchRollout | undefined, failed: string): Promise<WavesRun> {
  const dir = await mkdtemp(path.join(tmpdir(), `tfstep-bench-waves-${accounts}-`));
  let pipeline: BenchPipeline | undefined;
  try {
    const fixture = await makeBenchFixture(dir, accounts, { concurrency: BENCH_CONCURRENCY, rollout });
    pipeline = await BenchPipeline.open({ config: fixture.config, repoDir: fixture.repoDir, stateDir: path.join(dir, 'state'), failAccounts: new Set([failed]) });
    const t0 = performance.now();
    const execution = pipeline.start(benchPushInput(fixture, 0, new Date()), `bench-waves-${rollout ? 'on' : 'off'}-${accounts}`);
    const result = await execution.done;
    const wallMs = performance.now() - t0;
    const estimate = estimateExecution(execution.events, pipeline.definition);
    const record = await pipeline.runStore.getRunItem(execution.name);
    if (result.status !== 'FAILED' || record?.status !== 'FAILED') {
      throw new BenchRunError(`the waves run with a failing account should fail its stage; it ended ${result.status} (run ${record?.status ?? 'unrecorded'})`);
    }
    return {
      accountsStarted: pipeline.runner.tasks,
      status: record.status,
      reason: record.reason ?? '',
      wallMs: round(wallMs, 1),
      transitions: estimate.transitions,
      parentHistoryEvents: estimate.parentHistoryEvents,
      costUsd: round(costUsd(estimate.transitions), 6),
    };
  } finally {
    await pipeline?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Measures the waves row and its baseline. */
export async function measureWaves(accounts: number): Promise<WavesResult> {
  const names = Array.from({ length: accounts }, (_, i) => benchAccountName(i + 1));
  const waves = assignWaves(BENCH_STAGE, names, BENCH_WAVES);
  const failedAccount = waves[0]![0]!;
  const withWaves = await runOnce(accounts, BENCH_WAVES, failedAccount);
  if (withWaves.accountsStarted !== waves[0]!.length) {
    throw new BenchRunError(`the stage should stop after its first wave of ${waves[0]!.length} accounts; ${withWaves.accountsStarted} accounts started`);
  }
  const baseline = await runOnce(accounts, undefined, failedAccount);
  return { accounts, waveSizes: waves.map((w) => w.length), failedAccount, waves: withWaves, baseline, startedRatio: round(withWaves.accountsStarted / baseline.accountsStarted, 4) };
}
