/**
 * Makespan: how long one stage of N accounts takes with tfstep's bounded-concurrency Map,
 * against the same accounts run one after another (what a CI loop over per-account runners does).
 *
 * Time is simulated (./virtual-clock.ts): each account's task takes a task start of 50 to 70 s
 * (uniform, "about a minute" for Fargate to pull and start) plus an apply time drawn from a
 * lognormal distribution with a median of 180 s and sigma 0.5 (so the middle 50% of applies take
 * 128 to 252 s and a few take 8 minutes or more), all from a seeded PRNG, so every run of the
 * benchmark draws the same durations. The real definition runs in the local engine and the
 * engine's own MaxConcurrency decides which task starts when; the pipeline function takes no
 * virtual time. The sequential baseline is the sum of the same durations.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { BenchRunError } from './errors';
import { BENCH_CONCURRENCY, benchPushInput, makeBenchFixture } from './fixture';
import { BenchPipeline } from './harness';
import { costUsd, estimateExecution } from './history';
import { seededRandom } from './random';
import { VirtualClock } from './virtual-clock';

export { seededRandom } from './random';

/** The simulated task model; see the file comment. */
export const TASK_MODEL = {
  startMinS: 50,
  startMaxS: 70,
  applyMedianS: 180,
  applySigma: 0.5,
} as const;

/** The default seed of the duration draws. */
export const DEFAULT_SEED = 20260101;



/** One account's simulated task: start and apply, in seconds. */
export interface TaskDuration {
  startS: number;
  applyS: number;
  totalS: number;
}

/** The task durations of `accounts` accounts, in account order. */
export function simulatedDurations(accounts: number, seed = DEFAULT_SEED): TaskDuration[] {
  const random = seededRandom(seed);
  const out: TaskDuration[] = [];
  for (let i = 0; i < accounts; i++) {
    const startS = TASK_MODEL.startMinS + (TASK_MODEL.startMaxS - TASK_MODEL.startMinS) * random();
    // Box-Muller: a standard normal from two uniforms (1 - u keeps log away from 0).
    const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    const applyS = TASK_MODEL.applyMedianS * Math.exp(TASK_MODEL.applySigma * z);
    out.push({ startS, applyS, totalS: startS + applyS });
  }
  return out;
}

/**
 * The makespan of list scheduling: items start in order, each as soon as one of `slots` is free.
 * What a Map with MaxConcurrency should do with zero orchestration time; a check on the engine.
 */
export function listScheduleMakespan(durations: readonly number[], slots: number): number {
  const free: number[] = Array.from({ length: Math.min(slots, durations.length) }, () => 0);
  let end = 0;
  for (const d of durations) {
    let best = 0;
    for (let i = 1; i < free.length; i++) if (free[i]! < free[best]!) best = i;
    free[best] = free[best]! + d;
    end = Math.max(end, free[best]!);
  }
  return end;
}

/** The `makespan` entry of results.json. */
export interface MakespanResult {
  accounts: number;
  concurrency: number;
  /** Virtual seconds from StartExecution to the end of the execution. */
  parallelS: number;
  /** The same task durations one after another. */
  sequentialS: number;
  /** sequentialS / parallelS: how many times faster the stage is than a loop. */
  ratio: number;
  /** Ideal bounded-concurrency makespan of the same durations (no orchestration time). */
  listScheduleS: number;
  /** The longest single task: no schedule can beat it. */
  longestTaskS: number;
  seed: number;
  model: typeof TASK_MODEL;
  transitions: number;
  costUsd: number;
  /** Real time the simulation took. */
  realMs: number;
}

const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits;

/** Runs the simulated stage; see the file comment. */
export async function measureMakespan(accounts = 100, options: { concurrency?: number; seed?: number } = {}): Promise<MakespanResult> {
  const concurrency = options.concurrency ?? BENCH_CONCURRENCY;
  const seed = options.seed ?? DEFAULT_SEED;
  const durations = simulatedDurations(accounts, seed);
  const byAccount = new Map<string, number>();
  const dir = await mkdtemp(path.join(tmpdir(), `tfstep-bench-makespan-`));
  let pipeline: BenchPipeline | undefined;
  try {
    const fixture = await makeBenchFixture(dir, accounts, { concurrency });
    fixture.config.accounts.forEach((a, i) => byAccount.set(a.name, durations[i]!.totalS * 1000));
    const clock = new VirtualClock();
    pipeline = await BenchPipeline.open({
      config: fixture.config,
      repoDir: fixture.repoDir,
      stateDir: path.join(dir, 'state'),
      clock,
      taskMsFor: (task) => byAccount.get(task.account) ?? 0,
    });
    const realStart = Date.now();
    const startedAt = clock.elapsedMs;
    const execution = pipeline.start(benchPushInput(fixture, 0, clock.now()), `bench-makespan-${accounts}`);
    const result = await clock.run(execution.done);
    const parallelS = (clock.elapsedMs - startedAt) / 1000;
    const estimate = estimateExecution(execution.events, pipeline.definition);
    if (result.status !== 'SUCCEEDED' || (estimate.entriesByState.RecordOutcome ?? 0) !== accounts) {
      throw new BenchRunError(`the simulated ${accounts}-account run did not deploy every account: execution ${result.status}${result.error ? ` (${result.error})` : ''}`);
    }
    const sequentialS = durations.reduce((sum, d) => sum + d.totalS, 0);
    return {
      accounts,
      concurrency,
      parallelS: round(parallelS),
      sequentialS: round(sequentialS),
      ratio: round(sequentialS / parallelS, 2),
      listScheduleS: round(listScheduleMakespan(durations.map((d) => d.totalS), concurrency)),
      longestTaskS: round(Math.max(...durations.map((d) => d.totalS))),
      seed,
      model: TASK_MODEL,
      transitions: estimate.transitions,
      costUsd: round(costUsd(estimate.transitions), 6),
      realMs: Date.now() - realStart,
    };
  } finally {
    await pipeline?.close();
    await rm(dir, { recursive: true, force: true });
  }
}
