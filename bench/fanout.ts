/**
 * Fan-out: one push that deploys N accounts in one stage without approval, through the real
 * definition in the local engine, with a runner that does no work (see ./harness.ts). Measures
 * wall time, orchestration overhead per account, billed transitions, estimated AWS history
 * events and peak memory.
 *
 * Peak RSS is per process, so each size runs in a fresh child process
 * (`tsx bench/fanout.ts --accounts N`), which prints its result as one JSON line.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { LimitsReport } from '../lib/domain/aws-limits';
import { BenchInputError, BenchRunError } from './errors';
import { BENCH_CONCURRENCY, benchPushInput, makeBenchFixture } from './fixture';
import { BenchPipeline } from './harness';
import { costUsd, estimateExecution, largestPayloadBytes } from './history';

/** One fan-out size's figures (the `fanout[]` entries of results.json). */
export interface FanoutResult {
  accounts: number;
  /**
   * `completed`: the execution ended and every account was recorded. `time-limit`: the run was
   * stopped at the time limit and every figure covers only what ran until then.
   */
  status: 'completed' | 'time-limit';
  /** Accounts whose outcome was recorded (all of them when completed). */
  accountsRecorded: number;
  /** The stage's Map concurrency (MaxConcurrencyPath). */
  concurrency: number;
  /** From StartExecution to the end of the execution. */
  wallMs: number;
  /** Time spent inside the runner stand-in (writing result.json files). */
  runnerMs: number;
  /** (wallMs - runnerMs) / accountsRecorded: engine, pipeline function and run table per account. */
  overheadMsPerAccount: number;
  transitions: number;
  /** Estimated AWS history events of the largest execution, parent or child (limit 25,000 each). */
  historyEvents: number;
  /** The parent execution's estimated history events. */
  parentHistoryEvents: number;
  /** Child executions the Distributed Maps started (one per account and phase). */
  childExecutions: number;
  /** The largest child execution's estimated history events. */
  largestChildHistoryEvents: number;
  costUsd: number;
  /** Peak resident memory of the process that ran this size. */
  peakRssMb: number;
  /** Resident memory just before the execution started (the same process's baseline). */
  rssBeforeRunMb: number;
  /** The largest state input or output, in bytes of JSON (AWS limit 262,144). */
  largestPayloadBytes: number;
  /** Making the config, the repository, the run table and the engine. */
  setupMs: number;
  /** The run's item in the run table at the end, in bytes of JSON (DynamoDB's item limit is 400 KB); its accounts' outcomes are items of their own. */
  runRecordBytes: number;
  /** The largest value of each AWS limit the run met, against the limit (as `local run --json` reports it). */
  limits: LimitsReport;
}

/** Options of {@link measureFanout}. */
export interface FanoutOptions {
  concurrency?: number;
  /** Stop the execution after this many seconds and report what ran until then. @default no limit */
  timeLimitS?: number;
}

/** A result line printed by the child process starts with this marker. */
export const RESULT_MARKER = 'TFSTEP_BENCH_RESULT ';

const round = (n: number, digits = 2): number => Math.round(n * 10 ** digits) / 10 ** digits;
const mb = (bytes: number): number => round(bytes / (1024 * 1024), 1);

/** Measures one size in this process (run it in a fresh process for a meaningful peak RSS). */
export async function measureFanout(accounts: number, options: FanoutOptions = {}): Promise<FanoutResult> {
  const concurrency = options.concurrency ?? BENCH_CONCURRENCY;
  const dir = await mkdtemp(path.join(tmpdir(), `tfstep-bench-fanout-${accounts}-`));
  let pipeline: BenchPipeline | undefined;
  try {
    const setupStart = performance.now();
    const fixture = await makeBenchFixture(dir, accounts, { concurrency });
    pipeline = await BenchPipeline.open({ config: fixture.config, repoDir: fixture.repoDir, stateDir: path.join(dir, 'state') });
    const input = benchPushInput(fixture, 0, new Date());
    const setupMs = performance.now() - setupStart;

    let peakSampled = process.memoryUsage().rss;
    const rssBefore = peakSampled;
    const sampler = setInterval(() => {
      peakSampled = Math.max(peakSampled, process.memoryUsage().rss);
    }, 25);
    const t0 = performance.now();
    const name = `bench-fanout-${accounts}`;
    const execution = pipeline.start(input, name);
    let stopped = false;
    const limit = options.timeLimitS
      ? setTimeout(() => {
          stopped = true;
          execution.stop();
        }, options.timeLimitS * 1000)
      : undefined;
    const result = await execution.done;
    const wallMs = performance.now() - t0;
    clearTimeout(limit);
    clearInterval(sampler);

    await pipeline.measureStoredItems(execution);
    const estimate = estimateExecution(execution.events, pipeline.definition);
    const applied = execution.events.filter((e) => e.type === 'StateExited' && (e.state as { name?: string } | undefined)?.name === 'RecordOutcome').length;
    // The run's own item as stored (its planned accounts and outcomes are items of their own).
    const record = await pipeline.runStore.getRunItem(name);
    const completed = result.status === 'SUCCEEDED' && (estimate.entriesByState.Succeeded ?? 0) === 1 && applied === accounts;
    if (!completed && !stopped) {
      throw new BenchRunError(
        `the ${accounts}-account run did not deploy every account: execution ${result.status}${result.error ? ` (${result.error}: ${result.cause ?? ''})` : ''}, ${applied} of ${accounts} accounts recorded`,
      );
    }
    const runnerMs = pipeline.runner.busyMs;
    // maxRSS is in kilobytes; the sampler catches nothing higher, but both are kept honest.
    const peak = Math.max(process.resourceUsage().maxRSS * 1024, peakSampled);
    return {
      accounts,
      status: completed ? 'completed' : 'time-limit',
      accountsRecorded: applied,
      concurrency,
      wallMs: round(wallMs, 1),
      runnerMs: round(runnerMs, 1),
      overheadMsPerAccount: applied > 0 ? round((wallMs - runnerMs) / applied) : 0,
      transitions: estimate.transitions,
      historyEvents: estimate.historyEvents,
      parentHistoryEvents: estimate.parentHistoryEvents,
      childExecutions: estimate.childExecutions,
      largestChildHistoryEvents: estimate.largestChildHistoryEvents,
      costUsd: round(costUsd(estimate.transitions), 6),
      peakRssMb: mb(peak),
      rssBeforeRunMb: mb(rssBefore),
      largestPayloadBytes: largestPayloadBytes(execution.events),
      setupMs: round(setupMs, 1),
      runRecordBytes: record ? Buffer.byteLength(JSON.stringify(record)) : 0,
      limits: execution.limits.report(),
    };
  } finally {
    await pipeline?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Reads `--accounts N [--concurrency C] [--time-limit-s S]`. */
export function parseFanoutArgs(argv: readonly string[]): { accounts: number } & FanoutOptions {
  const value = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const accounts = Number(value('--accounts'));
  if (!Number.isInteger(accounts) || accounts < 1) throw new BenchInputError(`--accounts ${String(value('--accounts'))} is not usable; expected a whole number of accounts, at least 1`);
  const c = value('--concurrency');
  const concurrency = c === undefined ? undefined : Number(c);
  if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1)) throw new BenchInputError(`--concurrency ${c} is not usable; expected a whole number, at least 1`);
  const t = value('--time-limit-s');
  const timeLimitS = t === undefined ? undefined : Number(t);
  if (timeLimitS !== undefined && !(timeLimitS >= 0)) throw new BenchInputError(`--time-limit-s ${t} is not usable; expected a number of seconds (0 for no limit)`);
  return { accounts, concurrency, timeLimitS: timeLimitS || undefined };
}

if (require.main === module) {
  (async () => {
    const args = parseFanoutArgs(process.argv.slice(2));
    const result = await measureFanout(args.accounts, args);
    process.stdout.write(`${RESULT_MARKER}${JSON.stringify(result)}\n`);
  })().catch((e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exitCode = 1;
  });
}
