/**
 * `npm run bench`: every benchmark in one command. Prints a table and writes bench/results.json.
 *
 *   npm run bench                         sizes 1, 10, 100, 1000; the 1000 run stops at 60 s
 *   npm run bench -- --full               no time limit on the 1000-account run
 *   npm run bench -- --quick              small sizes, for a smoke run
 *   options: --sizes 1,10  --makespan-accounts 100  --queued-days 30  --fanout-time-limit-s 60
 *            --webhook-iterations 2000  --webhook-cold-runs 7  --out <file>  --seed <n>
 *
 * Each fan-out size runs in a fresh child process, so its peak RSS is its own. The makespan and
 * queue scenarios run in simulated time in this process; the webhook figures come from
 * bench/webhook.ts.
 */
import { execFile, execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { LIMIT_NAMES, LimitMeter, type LimitsReport } from '../lib/domain/aws-limits';
import { BenchInputError, BenchRunError } from './errors';
import { RESULT_MARKER, type FanoutResult } from './fanout';
import { AWS_HISTORY_LIMIT, AWS_PAYLOAD_LIMIT_BYTES } from './history';
import { measureMakespan, DEFAULT_SEED } from './makespan';
import { measureQueued } from './queued';
import { BenchResultsSchema, type BenchResults } from './schema';
import { benchWebhook } from './webhook';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..');

/** What {@link runBench} runs. */
export interface BenchOptions {
  sizes: number[];
  /** Seconds after which a fan-out run is stopped and reported as such; undefined for none. */
  fanoutTimeLimitS?: number;
  makespanAccounts: number;
  /** Days the queued run waits behind the holder. */
  queuedDays: number;
  seed: number;
  webhookIterations: number;
  webhookColdRuns: number;
  /** Where results.json goes; undefined to write nothing. */
  out?: string;
  /** Where progress lines go. @default stderr */
  log?: (line: string) => void;
}

/** The default options: the figures the README performance section quotes. */
export const DEFAULT_OPTIONS: BenchOptions = {
  sizes: [1, 10, 100, 1000],
  fanoutTimeLimitS: 60,
  makespanAccounts: 100,
  queuedDays: 30,
  seed: DEFAULT_SEED,
  webhookIterations: 2000,
  webhookColdRuns: 7,
  out: path.join(ROOT, 'bench', 'results.json'),
};

function positiveInt(flag: string, raw: string | undefined): number {
  const v = Number(raw);
  if (raw === undefined || !Number.isInteger(v) || v < 1) throw new BenchInputError(`${flag} ${String(raw)} is not usable; expected a whole number, at least 1`);
  return v;
}

/** Parses the command line; unknown flags are refused. */
export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  const opts: BenchOptions = { ...DEFAULT_OPTIONS, sizes: [...DEFAULT_OPTIONS.sizes] };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const next = (): string | undefined => argv[++i];
    switch (flag) {
      case '--full':
        opts.fanoutTimeLimitS = undefined;
        break;
      case '--quick':
        Object.assign(opts, { sizes: [1, 10], makespanAccounts: 20, webhookIterations: 200, webhookColdRuns: 2 });
        break;
      case '--sizes': {
        const raw = next();
        opts.sizes = (raw ?? '').split(',').map((s) => positiveInt('--sizes', s.trim()));
        break;
      }
      case '--fanout-time-limit-s': {
        const raw = next();
        const v = Number(raw);
        if (raw === undefined || !(v >= 0)) throw new BenchInputError(`--fanout-time-limit-s ${String(raw)} is not usable; expected seconds (0 for no limit)`);
        opts.fanoutTimeLimitS = v || undefined;
        break;
      }
      case '--makespan-accounts':
        opts.makespanAccounts = positiveInt(flag, next());
        break;
      case '--queued-days':
        opts.queuedDays = positiveInt(flag, next());
        break;
      case '--seed':
        opts.seed = positiveInt(flag, next());
        break;
      case '--webhook-iterations':
        opts.webhookIterations = positiveInt(flag, next());
        break;
      case '--webhook-cold-runs':
        opts.webhookColdRuns = positiveInt(flag, next());
        break;
      case '--out': {
        const raw = next();
        if (!raw) throw new BenchInputError('--out needs a file path');
        opts.out = path.resolve(raw);
        break;
      }
      default:
        throw new BenchInputError(
          `unknown option ${flag}; expected --full, --quick, --sizes, --fanout-time-limit-s, --makespan-accounts, --queued-days, --seed, --webhook-iterations, --webhook-cold-runs or --out`,
        );
    }
  }
  return opts;
}

/** Runs one fan-out size in a fresh Node process (through tsx) and reads its result line. */
export async function fanoutInChild(accounts: number, timeLimitS: number | undefined): Promise<FanoutResult> {
  const tsxCli = require.resolve('tsx/cli');
  const args = [tsxCli, path.join(ROOT, 'bench', 'fanout.ts'), '--accounts', String(accounts), ...(timeLimitS ? ['--time-limit-s', String(timeLimitS)] : [])];
  try {
    const { stdout } = await run(process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, NODE_NO_WARNINGS: '1' },
      maxBuffer: 16 * 1024 * 1024,
    });
    const line = stdout.split('\n').find((l) => l.startsWith(RESULT_MARKER));
    if (!line) throw new BenchRunError(`the ${accounts}-account fan-out printed no result line; its output was:\n${stdout}`);
    return JSON.parse(line.slice(RESULT_MARKER.length)) as FanoutResult;
  } catch (e) {
    if (e instanceof BenchRunError) throw e;
    const stderr = (e as { stderr?: string }).stderr ?? '';
    throw new BenchRunError(`the ${accounts}-account fan-out failed: ${stderr.trim() || (e as Error).message}`, { cause: e });
  }
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** The largest value of each AWS limit over every fan-out size. */
export function worstLimits(fanout: readonly FanoutResult[]): LimitsReport {
  const worst = new LimitMeter().report();
  for (const f of fanout) {
    for (const name of LIMIT_NAMES) {
      const use = f.limits[name];
      if (use.max > worst[name].max) worst[name] = { ...use, at: `${f.accounts} accounts: ${use.at ?? ''}` };
    }
  }
  return worst;
}

/** Runs every benchmark; writes `opts.out` when set; returns the validated results. */
export async function runBench(opts: BenchOptions): Promise<BenchResults> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const started = performance.now();
  const fanout: FanoutResult[] = [];
  for (const size of opts.sizes) {
    log(`fan-out: ${size} account(s) in a fresh process${opts.fanoutTimeLimitS ? `, stopped at ${opts.fanoutTimeLimitS} s` : ''} ...`);
    fanout.push(await fanoutInChild(size, opts.fanoutTimeLimitS));
  }
  log(`makespan: ${opts.makespanAccounts} accounts in simulated time ...`);
  const makespan = await measureMakespan(opts.makespanAccounts, { seed: opts.seed });
  log(`queue: a run waiting ${opts.queuedDays} days behind another, simulated ...`);
  const queued = await measureQueued(opts.queuedDays);
  log('webhook: handler latency, bundle, cold load ...');
  const webhook = await benchWebhook({ iterations: opts.webhookIterations, coldRuns: opts.webhookColdRuns });
  const results = BenchResultsSchema.parse({
    fanout,
    limits: worstLimits(fanout),
    makespan,
    webhook,
    queued,
    meta: {
      date: new Date().toISOString(),
      commit: gitCommit(),
      node: process.version,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
      memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
      fanoutTimeLimitS: opts.fanoutTimeLimitS ?? null,
      durationS: Math.round((performance.now() - started) / 100) / 10,
    },
  });
  if (opts.out) await writeFile(opts.out, `${JSON.stringify(results, null, 2)}\n`);
  return results;
}

const fmtMs = (ms: number): string => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(ms < 10 ? 2 : 0)} ms`);
const fmtMin = (s: number): string => `${(s / 60).toFixed(1)} min`;
const fmtKb = (bytes: number): string => `${(bytes / 1024).toFixed(0)} KiB`;

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}

/** The results as the terminal shows them. */
export function formatResults(r: BenchResults): string {
  const out: string[] = [];
  const m = r.meta;
  out.push(`tfstep benchmark  ${m.date.slice(0, 16).replace('T', ' ')} UTC  commit ${m.commit}  node ${m.node}  ${m.cpus} CPU (${m.cpuModel}), ${m.memoryGiB} GiB`);
  out.push('');
  const concurrency = r.fanout[0]?.concurrency ?? r.makespan.concurrency;
  out.push(`Fan-out: one stage, no approval, Distributed Map concurrency ${concurrency}; local engine, run table on dynalite, runner that does no work`);
  out.push(
    ...table(
      ['accounts', 'wall', 'overhead/account', 'transitions', 'history events*', 'parent / child', 'cost/run', 'peak RSS', 'largest state payload'],
      r.fanout.map((f) => [
        f.status === 'completed' ? String(f.accounts) : `${f.accounts} (stopped)`,
        fmtMs(f.wallMs),
        fmtMs(f.overheadMsPerAccount),
        String(f.transitions),
        `${f.historyEvents}${f.historyEvents > AWS_HISTORY_LIMIT ? ' OVER LIMIT' : ''}`,
        `${f.parentHistoryEvents} / ${f.largestChildHistoryEvents} x ${f.childExecutions}`,
        `$${f.costUsd.toFixed(4)}`,
        `${f.peakRssMb.toFixed(0)} MB`,
        `${fmtKb(f.largestPayloadBytes)}${f.largestPayloadBytes > AWS_PAYLOAD_LIMIT_BYTES ? ' > 256 KiB' : ''}`,
      ]),
    ),
  );
  for (const f of r.fanout.filter((x) => x.status === 'time-limit')) {
    out.push(`  ${f.accounts} accounts: stopped at the ${m.fanoutTimeLimitS ?? '?'} s limit with ${f.accountsRecorded} of ${f.accounts} recorded; its figures cover those only (--full runs it to the end)`);
  }
  out.push(
    `  * estimated AWS history events of the largest execution (limit ${AWS_HISTORY_LIMIT.toLocaleString('en-US')} each): the parent's, or the largest of its child executions (one per account); transitions at $0.025 per 1,000`,
  );
  out.push('');
  const s = r.makespan;
  out.push(
    `Makespan: ${s.accounts} accounts, concurrency ${s.concurrency}, simulated tasks of ${s.model.startMinS}-${s.model.startMaxS} s start + lognormal apply (median ${s.model.applyMedianS} s, sigma ${s.model.applySigma}), seed ${s.seed}`,
  );
  out.push(
    ...table(
      ['', 'time'],
      [
        ['tfstep stage (Distributed Map, real engine, virtual time)', fmtMin(s.parallelS)],
        ['one account after another (CI loop)', fmtMin(s.sequentialS)],
        ['ratio (sequential / tfstep)', `${s.ratio.toFixed(1)}x`],
        ['check: ideal list schedule / longest task', `${fmtMin(s.listScheduleS)} / ${fmtMin(s.longestTaskS)}`],
      ],
    ),
  );
  out.push('');
  const q = r.queued;
  out.push(
    `Queue: a run waiting ${(q.holderS / 86400).toFixed(1)} days behind another waits on a callback: ${q.wakeUps} wake-up(s) and ${q.heartbeatTimeouts} heartbeat re-check(s), admitted after ${q.admittedAfterS} s; ${q.queuedHistoryEvents} history events (budget ${q.historyBudget}), ${q.queuedTransitions} transitions ($${q.queuedCostUsd.toFixed(5)})`,
  );
  out.push('');
  const w = r.webhook;
  out.push(
    `Webhook: handler p50 ${fmtMs(w.p50Ms)}, p99 ${fmtMs(w.p99Ms)} (${fmtKb(w.payloadBytes)} signed push, ${w.iterations} deliveries); bundle ${fmtKb(w.bundleBytes)}, cold load ${fmtMs(w.coldInitMs)} (with the SDK bundled: ${fmtKb(w.bundleBytesWithSdk)}, ${fmtMs(w.coldInitMsWithSdk)})`,
  );
  out.push('');
  out.push(`Total ${m.durationS} s.`);
  return out.join('\n');
}

if (require.main === module) {
  (async () => {
    const opts = parseBenchArgs(process.argv.slice(2));
    const results = await runBench(opts);
    console.log(formatResults(results));
    if (opts.out) console.log(`Results written to ${path.relative(process.cwd(), opts.out) || opts.out}`);
  })().catch((e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exitCode = e instanceof BenchInputError ? 2 : 1;
  });
}
