/**
 * `npm run bench`: every benchmark in one command. Prints a table and writes bench/results.json.
 *
 *   npm run bench                         sizes 1, 10, 100, 1000; the 1000 run stops at 60 s
 *   npm run bench -- --full               no time limit on the 1000-account run
 *   npm run bench -- --quick              small sizes, for a smoke run
 *   npm run bench -- --only fanout,waves --sizes 1000,10000
 *                                         only those rows; the other sections of --out are kept
 *   options: --sizes 1,10  --makespan-accounts 100  --queued-days 30  --fanout-time-limit-s 60
 *            --waves-accounts 1000  --dashboard-accounts 10000  --webhook-iterations 2000  --webhook-cold-runs 7  --out <file>  --seed <n>
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
import { measureWaves, type WavesResult } from './waves';
import { measureDashboard } from './dashboard';
import { measureDriftSweep } from './drift';
import { readFileSync } from 'node:fs';

/** The benchmark's rows, as `--only` names them. */
export const BENCH_ROWS = ['fanout', 'waves', 'makespan', 'queued', 'webhook', 'dashboard', 'drift'] as const;
export type BenchRow = (typeof BENCH_ROWS)[number];

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
  /** Accounts of the waves row. */
  wavesAccounts: number;
  /** Accounts of the run the dashboard row renders. */
  dashboardAccounts: number;
  /** Accounts the drift row applies and then sweeps. @default 1000 */
  driftAccounts?: number;
  /** The rows to run. @default every row */
  only: BenchRow[];
  /** Where results.json goes; undefined to write nothing. */
  out?: string;
  /** Where progress lines go. @default stderr */
  log?: (line: string) => void;
}

/** The default options: the figures the README performance section quotes. */
export const DEFAULT_OPTIONS: BenchOptions = {
  sizes: [1, 10, 100, 1000, 10000],
  // The 10,000-account row takes minutes; the limit stops a run that got stuck.
  fanoutTimeLimitS: 1200,
  wavesAccounts: 1000,
  dashboardAccounts: 10000,
  only: [...BENCH_ROWS],
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
  const opts: BenchOptions = { ...DEFAULT_OPTIONS, sizes: [...DEFAULT_OPTIONS.sizes], only: [...DEFAULT_OPTIONS.only] };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const next = (): string | undefined => argv[++i];
    switch (flag) {
      case '--full':
        opts.fanoutTimeLimitS = undefined;
        break;
      case '--quick':
        Object.assign(opts, { sizes: [1, 10], makespanAccounts: 20, webhookIterations: 200, webhookColdRuns: 2, wavesAccounts: 100, dashboardAccounts: 100 });
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
      case '--waves-accounts':
        opts.wavesAccounts = positiveInt(flag, next());
        break;
      case '--dashboard-accounts':
        opts.dashboardAccounts = positiveInt(flag, next());
        break;
      case '--only': {
        const raw = (next() ?? '').split(',').map((s) => s.trim());
        const bad = raw.filter((r) => !(BENCH_ROWS as readonly string[]).includes(r));
        if (raw.length === 0 || bad.length > 0) throw new BenchInputError(`--only ${raw.join(',')} is not usable; expected rows from ${BENCH_ROWS.join(', ')}, separated by commas`);
        opts.only = raw as BenchRow[];
        break;
      }
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
          `unknown option ${flag}; expected --full, --quick, --only, --sizes, --fanout-time-limit-s, --makespan-accounts, --waves-accounts, --dashboard-accounts, --queued-days, --seed, --webhook-iterations, --webhook-cold-runs or --out`,
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

/** The results file as it stands, or undefined when there is none (or it is not a results file). */
function readPrevious(file: string | undefined): BenchResults | undefined {
  if (!file) return undefined;
  try {
    const parsed = BenchResultsSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Runs every benchmark; writes `opts.out` when set; returns the validated results. */
export async function runBench(opts: BenchOptions): Promise<BenchResults> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const started = performance.now();
  const runs = (row: BenchRow): boolean => opts.only.includes(row);
  // Rows left out keep their figures from the results file, so one row can be measured again alone.
  const previous = opts.only.length < BENCH_ROWS.length ? readPrevious(opts.out) : undefined;
  if (opts.only.length < BENCH_ROWS.length && !previous) {
    throw new BenchInputError(`--only ${opts.only.join(',')} needs the other rows from an existing results file; ${opts.out ?? '(no --out)'} has none: run the whole benchmark once`);
  }
  const fanout: FanoutResult[] = [];
  if (runs('fanout')) {
    for (const size of opts.sizes) {
      log(`fan-out: ${size} account(s) in a fresh process${opts.fanoutTimeLimitS ? `, stopped at ${opts.fanoutTimeLimitS} s` : ''} ...`);
      fanout.push(await fanoutInChild(size, opts.fanoutTimeLimitS));
    }
  }
  const keptFanout = (previous?.fanout ?? []).filter((f) => !fanout.some((x) => x.accounts === f.accounts));
  const allFanout = [...keptFanout, ...fanout].sort((a, b) => a.accounts - b.accounts);
  let waves: WavesResult | undefined = previous?.waves;
  if (runs('waves')) {
    log(`waves: ${opts.wavesAccounts} accounts in 3 waves, the canary failing; then the same without waves ...`);
    waves = await measureWaves(opts.wavesAccounts);
  }
  let makespan = previous?.makespan;
  if (runs('makespan')) {
    log(`makespan: ${opts.makespanAccounts} accounts in simulated time ...`);
    makespan = await measureMakespan(opts.makespanAccounts, { seed: opts.seed });
  }
  let queued = previous?.queued;
  if (runs('queued')) {
    log(`queue: a run waiting ${opts.queuedDays} days behind another, simulated ...`);
    queued = await measureQueued(opts.queuedDays);
  }
  let webhook = previous?.webhook;
  if (runs('webhook')) {
    log('webhook: handler latency, bundle, cold load ...');
    webhook = await benchWebhook({ iterations: opts.webhookIterations, coldRuns: opts.webhookColdRuns });
  }
  let drift = previous?.drift;
  if (runs('drift')) {
    const accounts = opts.driftAccounts ?? 1000;
    log(`drift: a push applies ${accounts} accounts, then one drift sweep plans them all ...`);
    drift = await measureDriftSweep(accounts);
  }
  let dashboard = previous?.dashboard;
  if (runs('dashboard')) {
    log(`dashboard: a ${opts.dashboardAccounts}-account run rendered in headless Chromium ...`);
    dashboard = await measureDashboard(opts.dashboardAccounts, 5, log);
  }
  const results = BenchResultsSchema.parse({
    fanout: allFanout,
    limits: worstLimits(allFanout),
    makespan,
    webhook,
    queued,
    ...(waves ? { waves } : {}),
    ...(dashboard ? { dashboard } : {}),
    ...(drift ? { drift } : {}),
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
  const big = r.fanout.find((f) => f.accounts === 10_000 && f.status === 'completed');
  if (big) {
    const verdict = (ok: boolean): string => (ok ? 'met' : 'MISSED');
    out.push(
      `  10,000 accounts: parent history ${big.parentHistoryEvents} events (goal <= 100: ${verdict(big.parentHistoryEvents <= 100)}), overhead ${fmtMs(big.overheadMsPerAccount)}/account (goal <= 5 ms: ${verdict(big.overheadMsPerAccount <= 5)}), ${(big.transitions / big.accounts).toFixed(4)} transitions/account (goal <= 4: ${verdict(big.transitions / big.accounts <= 4)}), peak RSS ${big.peakRssMb.toFixed(0)} MB, $${big.costUsd.toFixed(4)}/run = $${(big.costUsd / big.accounts).toFixed(6)}/account, run item ${fmtKb(big.runRecordBytes)}`,
    );
  }
  const base = r.fanout.find((f) => f.accounts === 1000 && f.status === 'completed');
  if (big && base) {
    out.push(`  10,000 vs 1,000 in this run: overhead/account x${(big.overheadMsPerAccount / base.overheadMsPerAccount).toFixed(2)}, transitions/account x${(big.transitions / big.accounts / (base.transitions / base.accounts)).toFixed(3)}, peak RSS x${(big.peakRssMb / base.peakRssMb).toFixed(2)}`);
  }
  if (r.waves) {
    const w = r.waves;
    out.push('');
    out.push(`Waves: ${w.accounts} accounts in waves of ${w.waveSizes.join(', ')} (canary first), the task of ${w.failedAccount} failing; baseline: the same without waves`);
    out.push(
      ...table(
        ['', 'accounts started', 'wall', 'transitions', 'parent history', 'cost/run'],
        [
          ['waves', String(w.waves.accountsStarted), fmtMs(w.waves.wallMs), String(w.waves.transitions), String(w.waves.parentHistoryEvents), `$${w.waves.costUsd.toFixed(4)}`],
          ['no waves (baseline)', String(w.baseline.accountsStarted), fmtMs(w.baseline.wallMs), String(w.baseline.transitions), String(w.baseline.parentHistoryEvents), `$${w.baseline.costUsd.toFixed(4)}`],
          ['ratio', `${w.startedRatio}`, `${(w.waves.wallMs / w.baseline.wallMs).toFixed(2)}`, `${(w.waves.transitions / w.baseline.transitions).toFixed(2)}`, '', ''],
        ],
      ),
    );
    out.push(`  stop: ${w.waves.reason.length > 200 ? `${w.waves.reason.slice(0, 197)}...` : w.waves.reason}`);
  }
  out.push('');
  if (r.drift) {
    const d = r.drift;
    out.push(`Drift sweep: ${d.accounts} accounts (${d.targets} targets) planned at their last applied commit, plan-only state machine; next to the push that applied them`);
    out.push(
      ...table(
        ['', 'wall', 'transitions', 'history events', 'child executions', 'cost'],
        [
          ['drift sweep', fmtMs(d.wallMs), String(d.transitions), String(d.historyEvents), String(d.childExecutions), `$${d.costUsd.toFixed(4)}`],
          ['push (plan and apply)', '', String(d.push.transitions), String(d.push.historyEvents), '', `$${d.push.costUsd.toFixed(4)}`],
        ],
      ),
    );
    out.push('');
  }
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
  if (r.dashboard) {
    const d = r.dashboard;
    out.push('');
    out.push(
      `Dashboard: the run page of a ${d.accounts}-account run in headless Chromium, request to rendered grid (the run already read): median ${fmtMs(d.renderMs)} of ${d.renderRunsMs.length} (goal < ${fmtMs(d.goalMs)}: ${d.renderMs < d.goalMs ? "met" : "MISSED"}); page ${fmtKb(d.htmlBytes)}; reading the run from the local table (dynalite) takes ${fmtMs(d.readMs)} more${d.blocks ? `; blocks of 100 against one flat grid, same run: ${fmtMs(d.blocks.blocksMs)} vs ${fmtMs(d.blocks.flatMs)} (ratio ${d.blocks.ratio})` : ''}`,
    );
  }
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
