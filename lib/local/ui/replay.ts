/**
 * `tfstep local replay <execution>`: a new execution with the original input. The local engine
 * has no redrive, so this is always the "new execution" path of `tfstep replay`; the planner
 * skips targets the replayed run already applied for its commit.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig, parseConfig } from '../../config/loader';
import { LocalAuditLog } from '../../audit/local';
import { auditRecord } from '../../domain/audit';
import { executionNameOf } from '../../notify/links';
import { REPLAY_FIELD } from '../../pipeline/push';
import { RunStore } from '../../store/run-store';
import { LocalModeError } from '../engine/errors';
import { repositoryRoot } from '../engine/git';
import { runLocalPipeline, testDoubleNotice, type ApproveMode, type LocalIo, type LocalRunOutcome } from './run';
import { abandonRun, liveOwner, recallExecution } from '../engine/session';
import { DEFAULT_STATE_DIR, openLocalStore } from '../engine/store';

/** Who runs this process, as the audit trail names them in the local mode. */
export function localUser(): string {
  try {
    return os.userInfo().username || 'local user';
  } catch {
    return 'local user';
  }
}

/** Options of {@link localReplay}. */
export interface LocalReplayOptions {
  execution: string;
  stateDir?: string;
  approve?: ApproveMode;
  json?: boolean;
  /** Another config than the one the execution ran with. */
  configFile?: string;
  env?: NodeJS.ProcessEnv;
  io?: Partial<LocalIo>;
}

/**
 * Replays an execution of this state directory.
 * @throws LocalModeError when the state directory has no such execution
 */
export async function localReplay(opts: LocalReplayOptions): Promise<LocalRunOutcome> {
  const io: LocalIo = { stdout: opts.io?.stdout ?? process.stdout, stderr: opts.io?.stderr ?? process.stderr, stdin: opts.io?.stdin ?? process.stdin };
  const stateDir = path.resolve(opts.stateDir ?? DEFAULT_STATE_DIR);
  // The name or the ARN `local run --json` prints: both name the same execution.
  opts = { ...opts, execution: executionNameOf(opts.execution) };
  const store = await openLocalStore(stateDir);
  try {
    const runs = new RunStore(store.docClient, store.tableName);
    const record = await runs.getRunItem(opts.execution);
    if (!record) throw new LocalModeError(`no run named ${opts.execution} in ${stateDir}; expected an execution name from \`tfstep runs --local\``);
    if (record.status === 'WAITING' || record.status === 'RUNNING') {
      const owner = liveOwner(stateDir, opts.execution);
      // A run still in progress keeps its branch: replaying it would run the same push twice.
      if (owner) {
        throw new LocalModeError(
          `run ${opts.execution} is still ${record.status} in process ${owner.pid}; wait for it to end, or abort it first (Ctrl-C in its terminal, or \`kill ${owner.pid}\`), then replay it`,
        );
      }
      await abandonRun(runs, record, `no tfstep process runs it any more (found by \`tfstep local replay\`)`);
      io.stderr.write(`run ${opts.execution} was ${record.status} with no process behind it: recorded as ABORTED and its branch released\n`);
    }
    const remembered = recallExecution(stateDir, opts.execution);
    const config = opts.configFile ? loadConfig(opts.configFile) : remembered ? parseConfig(remembered.config, `the config of ${opts.execution}`) : undefined;
    if (!config) throw new LocalModeError(`the config of ${opts.execution} is not recorded in ${stateDir}; pass --config FILE`);
    const input = JSON.parse(record.input) as Record<string, unknown>;
    const detail = input.detail as { repository?: { cloneUrls?: string[] } } | undefined;
    const repoDir = await repositoryRoot(remembered?.repoDir ?? detail?.repository?.cloneUrls?.[0] ?? '');
    const notice = testDoubleNotice(config, opts.env ?? process.env);
    if (notice) io.stderr.write(`${notice}\n`);
    // Recorded before the new execution starts: who replayed which run, at which commit.
    await new LocalAuditLog(stateDir).append(
      auditRecord({
        kind: 'redrive',
        who: localUser(),
        channel: 'local',
        run: opts.execution,
        repository: record.repository,
        branch: record.branch,
        commit: record.commit,
        outcome: 'start',
        detail: 'replayed as a new execution (the local mode has no redrive)',
      }),
    );
    return await runLocalPipeline(
      { config, stateDir, repoDir, store, env: opts.env },
      { approve: opts.approve, json: opts.json, io, stateDir: opts.stateDir, announce: `replaying ${opts.execution} (${record.repository} ${record.branch} ${record.commit.slice(0, 7)}) as a new execution` },
      (pipeline) => pipeline.start({ ...input, [REPLAY_FIELD]: { replayOf: opts.execution } }),
    );
  } finally {
    await store.close();
  }
}
