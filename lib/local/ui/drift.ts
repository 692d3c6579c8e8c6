/**
 * `tfstep local drift`: one drift sweep on this machine, through the real plan-only definition
 * in the local engine, the pipeline function in-process and the runner as child processes; then
 * the drift report as `tfstep drift --local` shows it.
 */
import * as path from 'node:path';
import { loadConfig } from '../../config/loader';
import { driftExitCode, formatDriftReport, type DriftReport } from '../../domain/drift';
import { RunStore } from '../../store/run-store';
import { LocalPipeline } from '../engine/session';
import { DEFAULT_STATE_DIR, openLocalStore } from '../engine/store';
import { LocalModeError } from '../engine/errors';
import { resolveLocalSource } from '../engine/push';
import { testDoubleNotice, type LocalIo } from './run';

/** Options of {@link localDrift}. */
export interface LocalDriftOptions {
  configFile: string;
  repoDir: string;
  stateDir?: string;
  /** Sweep these accounts only. @default every account */
  accounts?: string[];
  json?: boolean;
  env?: NodeJS.ProcessEnv;
  io?: Partial<LocalIo>;
}

/** What a local sweep hands back. */
export interface LocalDriftOutcome {
  exitCode: number;
  sweep: string;
  report: DriftReport;
  /** The drift notices the sweep published (none when nothing changed since the last sweep). */
  notices: { subject: string; text: string }[];
}

/** Runs one drift sweep locally and prints the report. */
export async function localDrift(opts: LocalDriftOptions): Promise<LocalDriftOutcome> {
  const io = { stdout: opts.io?.stdout ?? process.stdout, stderr: opts.io?.stderr ?? process.stderr };
  const config = loadConfig(opts.configFile);
  for (const a of opts.accounts ?? []) {
    if (!config.accounts.some((x) => x.name === a)) throw new LocalModeError(`--account ${JSON.stringify(a)} is not an account of the config; expected one of ${config.accounts.map((x) => x.name).join(', ')}`);
  }
  // A folder that is no git repository is refused before the state directory is touched.
  const source = await resolveLocalSource({ config, repoDir: opts.repoDir });
  const env = opts.env ?? process.env;
  const stateDir = path.resolve(opts.stateDir ?? DEFAULT_STATE_DIR);
  const store = await openLocalStore(stateDir);
  const notices: { subject: string; text: string }[] = [];
  try {
    const notice = testDoubleNotice(config, env);
    if (notice) io.stderr.write(`${notice}\n`);
    const pipeline = await LocalPipeline.create({
      config,
      stateDir,
      repoDir: source.root,
      store,
      env,
      onNotification: (subject, text, attributes) => {
        if (attributes.status !== 'drift') return;
        notices.push({ subject, text });
        if (!opts.json) io.stdout.write(`notice: ${subject}\n${text}\n`);
      },
    });
    const run = await pipeline.runPlanOnly({ kind: 'drift', ...(opts.accounts?.length ? { accounts: opts.accounts } : {}) });
    if (run.execution.status !== 'SUCCEEDED') {
      throw new LocalModeError(`drift sweep ${run.name} ended ${run.execution.status}${run.execution.error ? `: ${run.execution.error}` : ''}${run.execution.cause ? ` (${run.execution.cause})` : ''}`);
    }
    const report = await new RunStore(store.docClient, store.tableName).planOnly.report(config.repositories.map((r) => r.fullName), opts.accounts?.length === 1 ? opts.accounts[0] : undefined);
    if (opts.json) io.stdout.write(`${JSON.stringify({ sweep: run.name, notices, ...report }, null, 2)}\n`);
    else io.stdout.write(`${formatDriftReport(report).join('\n')}\n`);
    return { exitCode: driftExitCode(report.counts), sweep: run.name, report, notices };
  } finally {
    await store.close();
  }
}
