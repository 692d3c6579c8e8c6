/**
 * `tfstep local run`: one push of a local repository through the whole pipeline, with progress
 * on the terminal, approvals at the prompt (or automatic), and a final report.
 */
import { loadLocalGitCredentials } from '../engine/git-credentials';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { localFleetFile } from '../../fleet/fleet-file';
import { createInterface } from 'node:readline';
import { formatPlanLine } from '../../domain/plan-summary';
import { totalsLine } from '../../approval/types';
import { moduleLines, policyLines, replanHeadline } from '../../approval/request';
import { loadConfig } from '../../config/loader';
import type { Config } from '../../config/schema';
import { RunStore } from '../../store/run-store';
import { LocalModeError } from '../engine/errors';
import type { RunReport } from '../engine/tracker';
import { jsonReport, ProgressView } from './progress';
import { buildLocalPush, resolveLocalSource } from '../engine/push';
import { LocalPipeline, type LocalApprovalRequest, type LocalPipelineOptions, type LocalRunResult } from '../engine/session';
import { DEFAULT_STATE_DIR, openLocalStore } from '../engine/store';

/** How approvals are answered in a local run. */
export type ApproveMode = 'prompt' | 'auto' | 'reject';

/** Streams a local command talks to; the process's by default. */
export interface LocalIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
}

/** Options of {@link localRun}. */
export interface LocalRunOptions {
  configFile: string;
  repoDir: string;
  ref?: string;
  sha?: string;
  repository?: string;
  approve?: ApproveMode;
  stateDir?: string;
  json?: boolean;
  /** The runner's environment (PATH decides terraform or its test double). @default process.env */
  env?: NodeJS.ProcessEnv;
  io?: Partial<LocalIo>;
  /** Wait states' local pause in ms. */
  waitMs?: number;
  /**
   * Clone and read the configured remote (a private repository) instead of the work tree, with
   * credentials from TFSTEP_GIT_CREDENTIALS_FILE or TFSTEP_GIT_CREDENTIALS in `env`. @default false
   */
  fromRemote?: boolean;
  /** The fleet file standing in for AWS Organizations. @default - the config's `fleet.file` */
  fleetFile?: string;
}

/** What a finished local run hands back. */
export interface LocalRunOutcome {
  exitCode: number;
  result: LocalRunResult;
}

function ioOf(io: Partial<LocalIo> | undefined): LocalIo {
  return { stdout: io?.stdout ?? process.stdout, stderr: io?.stderr ?? process.stderr, stdin: io?.stdin ?? process.stdin };
}

/** Whether a binary is on a PATH. */
export function onPath(bin: string, pathVar: string | undefined): boolean {
  return (pathVar ?? '').split(path.delimiter).some((dir) => dir !== '' && existsSync(path.join(dir, bin)));
}

/** Says once that the terraform test double stands in for terraform, when it does. */
export function testDoubleNotice(config: Config, env: NodeJS.ProcessEnv): string | undefined {
  if (config.runner.tool !== 'terraform' || onPath('terraform', env.PATH)) return undefined;
  return 'terraform is not on PATH: the runner uses the terraform TEST DOUBLE (test/doubles/terraform); nothing real is planned or applied';
}

/** The last `n` lines of a file, or a note that it is missing. */
export function tailOf(file: string | undefined, n = 15): string[] {
  if (!file || !existsSync(file)) return ['(no runner log)'];
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
  return lines.slice(-n);
}

/** The approval as the prompt shows it. */
export function approvalSummary(request: LocalApprovalRequest): string[] {
  const a = request.approval;
  const lines = [
    `Approval needed: stage ${a.stage} of ${a.push.repository} at ${a.push.commit.slice(0, 12)} (${a.push.message.split('\n')[0] ?? ''})`,
    // The plan policies' findings first: every warning is read before the plans.
    ...policyLines(a).map((l) => `  ${l}`),
    ...(a.replan ? [`  ${replanHeadline(a.replan)}`] : []),
    `  plan: ${totalsLine(a.totals)}`,
  ];
  for (const account of a.summaries) {
    lines.push(`  account ${account.account} (${account.accountId}, ${account.region})`);
    for (const m of account.modules) lines.push(...moduleLines(m).map((l) => `    ${l}`));
  }
  if (a.omittedAccounts > 0) lines.push(`  ... and ${a.omittedAccounts} more account(s) not listed (those with deletions, replacements or unreadable plans come first)`);
  return lines;
}

/**
 * Answers approvals as `mode` says. `prompt` asks on the terminal which approver decides,
 * approve or reject, and a comment.
 */
export function approvalResponder(
  mode: ApproveMode,
  pipeline: () => LocalPipeline,
  io: LocalIo,
  view: () => ProgressView | undefined = () => undefined,
): (request: LocalApprovalRequest) => void {
  let queue = Promise.resolve();
  return (request) => {
    queue = queue.then(async () => {
      const p = pipeline();
      try {
        if (mode === 'auto' && request.approval.policy?.status === 'deny') {
          // Automatic approval never overrides a plan policy's deny: only a policy owner can.
          await p.decide(request.approvalId, 'auto', 'reject', 'rejected automatically: a plan policy denied the plans, and --approve auto never overrides a deny');
          return;
        }
        if (mode === 'auto') {
          await p.decide(request.approvalId, 'auto', 'approve', 'approved automatically (tfstep local --approve auto)');
          return;
        }
        if (mode === 'reject') {
          await p.decide(request.approvalId, 'auto', 'reject', 'rejected automatically (tfstep local --approve reject)');
          return;
        }
        view()?.pause();
        await promptDecision(request, p, io);
      } catch (e) {
        io.stderr.write(`tfstep: could not answer approval ${request.approvalId}: ${(e as Error).message}\n`);
      } finally {
        view()?.resume();
      }
    });
  };
}

async function promptDecision(request: LocalApprovalRequest, pipeline: LocalPipeline, io: LocalIo): Promise<void> {
  const out = io.stdout;
  out.write(`\n${approvalSummary(request).join('\n')}\n`);
  // On a deny the policy owners decide too: only they can override it.
  const denied = request.approval.policy?.status === 'deny';
  const owners = request.approval.policy?.owners ?? [];
  const approvers = denied ? [...request.approval.approvers, ...owners.filter((o) => !request.approval.approvers.some((a) => a.toLowerCase() === o.toLowerCase()))] : request.approval.approvers;
  const pusher = request.approval.pusher.toLowerCase();
  const fallback = Math.max(0, approvers.findIndex((a) => a.toLowerCase() !== pusher && a.toLowerCase().split('@')[0] !== pusher));
  const rl = createInterface({ input: io.stdin, output: out, terminal: Boolean(io.stdin.isTTY && out.isTTY) });
  // Lines typed (or piped) ahead of a question are kept, not dropped as rl.question would.
  const lines = rl[Symbol.asyncIterator]();
  const ask = async (question: string): Promise<string> => {
    out.write(question);
    const next = await lines.next();
    if (next.done) throw new LocalModeError('the input ended before the approval was decided');
    return String(next.value);
  };
  try {
    for (;;) {
      out.write(`Approvers: ${approvers.map((a, i) => `[${i + 1}] ${a}`).join('  ')}\n`);
      const who = (await ask(`Decide as approver number [${fallback + 1}]: `)).trim();
      const index = who === '' ? fallback : Number(who) - 1;
      const approver = approvers[index];
      if (!approver) {
        out.write(`  expected a number from 1 to ${approvers.length}\n`);
        continue;
      }
      const answer = (await ask(denied ? 'Override the deny, approve or reject? [override/approve/reject]: ' : 'Approve or reject? [approve/reject]: ')).trim().toLowerCase();
      const overriding = denied && (answer === 'override' || answer === 'o');
      const decision =
        overriding || answer === 'approve' || answer === 'a' || answer === 'yes' || answer === 'y' ? 'approve' : answer === 'reject' || answer === 'r' || answer === 'no' || answer === 'n' ? 'reject' : undefined;
      if (!decision) {
        out.write(`  expected ${denied ? 'override, ' : ''}approve or reject\n`);
        continue;
      }
      const reason = overriding ? (await ask('Reason for the override (required): ')).trim() : undefined;
      const comment = (await ask('Comment (optional): ')).trim();
      try {
        const result = await pipeline.decide(request.approvalId, approver, decision, comment, reason === undefined ? undefined : { reason });
        out.write(`  ${result.outcome === 'recorded' ? `recorded; ${result.remaining} more approval(s) needed` : result.outcome}\n\n`);
        if (result.outcome !== 'recorded') return;
      } catch (e) {
        out.write(`  not accepted: ${(e as Error).message}\n`);
      }
    }
  } finally {
    rl.close();
  }
}

/** One line per account that failed, with the end of its runner log. */
export function failureDetails(report: RunReport): string[] {
  const lines: string[] = [];
  for (const s of report.stages) {
    for (const a of s.accounts.filter((x) => x.status === 'failed')) {
      lines.push(`account ${a.name} (stage ${s.name}) failed${a.reason ? `: ${a.reason}` : ''}`);
      if (a.logFile) lines.push(`  log: ${a.logFile}`);
      for (const l of tailOf(a.logFile)) lines.push(`  | ${l}`);
    }
  }
  return lines;
}

/** The final lines of a run for humans. */
export function summaryLines(result: LocalRunResult): string[] {
  const r = result.report;
  const lines = [`run ${r.executionName}: ${result.status}${result.reason ? ` (${result.reason})` : ''}`];
  for (const s of r.stages) {
    for (const w of s.waves ?? []) {
      const parts = [`${w.accounts.length} account(s)`, w.failed.length ? `failed: ${w.failed.join(', ')}` : '', w.notStarted.length && w.status !== 'not started' ? `not started: ${w.notStarted.join(', ')}` : ''];
      lines.push(`  ${s.name} wave ${w.wave}: ${w.status} (${parts.filter(Boolean).join('; ')})`);
    }
    for (const a of s.accounts) {
      for (const m of a.modules) {
        // "app: skipped: network failed": the upstream's own status, as this report has it.
        const because = m.skippedBecause ? `: ${m.skippedBecause} ${a.modules.find((u) => u.path === m.skippedBecause)?.status ?? 'did not succeed'}` : '';
        lines.push(`  ${s.name}/${a.name}  ${m.path}: ${m.status}${because}${m.plan ? `  ${formatPlanLine(m.plan)}` : ''}`);
      }
    }
  }
  if (result.status === 'FAILED') lines.push(...failureDetails(r));
  return lines;
}

/** The run that carries a DUPLICATE run's push, from the execution's output. */
function carrierOf(result: LocalRunResult): string | undefined {
  const out = result.execution.output as { run?: { value?: { carriedBy?: unknown } } } | undefined;
  const carrier = out?.run?.value?.carriedBy;
  return typeof carrier === 'string' ? carrier : undefined;
}

/**
 * What to do after a run, with the options it needs (` --state-dir DIR` when not the default):
 * a run that did not deploy its push names the replay; a duplicate names the run that carries it.
 */
export function nextLines(result: LocalRunResult, options = ''): string[] {
  const name = result.report.executionName;
  if (result.status === 'FAILED' || result.status === 'REJECTED' || result.status === 'ABORTED' || result.status === 'EXPIRED') {
    return [`next: tfstep local replay ${name}${options}`, `next: tfstep logs ${name} --local${options}`];
  }
  if (result.status === 'DUPLICATE') {
    const carrier = carrierOf(result);
    return carrier ? [`this commit is already deployed by run ${carrier}; next: tfstep show ${carrier} --local${options}`] : [];
  }
  return [];
}

/** The exit code of a run's status: 0 for success (and for a push another run carries), 1 otherwise. */
export function exitCodeOf(status: LocalRunResult['status']): number {
  return status === 'SUCCEEDED' || status === 'DUPLICATE' || status === 'SUPERSEDED' ? 0 : 1;
}

/** Waits for a run and reports it; shared by run, demo and replay. */
export async function followRun(
  pipeline: LocalPipeline,
  start: () => ReturnType<LocalPipeline['start']>,
  opts: { json?: boolean; io: LocalIo; onView?: (view: ProgressView) => void; stateDir?: string },
): Promise<LocalRunOutcome> {
  const run = start();
  const out = opts.io.stdout;
  let view: ProgressView | undefined;
  if (!opts.json) {
    view = new ProgressView(run.tracker, out);
    opts.onView?.(view);
    view.start();
  }
  const result = await run.done;
  view?.stop();
  if (opts.json) out.write(`${JSON.stringify({ ...(jsonReport(result.report) as object), limits: result.limits }, null, 2)}\n`);
  else {
    const options = opts.stateDir && path.resolve(opts.stateDir) !== path.resolve(DEFAULT_STATE_DIR) ? ` --state-dir ${opts.stateDir}` : '';
    out.write(`${[...summaryLines(result), ...nextLines(result, options)].join('\n')}\n`);
  }
  if (opts.json && result.status === 'FAILED') opts.io.stderr.write(`${failureDetails(result.report).join('\n')}\n`);
  return { exitCode: exitCodeOf(result.status), result };
}

/**
 * Creates the local pipeline, answers its approvals as `approve` says (prompting above the
 * progress view), starts one run and follows it to its end; shared by run and replay.
 */
export async function runLocalPipeline(
  options: Omit<LocalPipelineOptions, 'onApprovalRequested'>,
  opts: { approve?: ApproveMode; json?: boolean; io: LocalIo; announce: string; stateDir?: string },
  start: (pipeline: LocalPipeline) => ReturnType<LocalPipeline['start']>,
): Promise<LocalRunOutcome> {
  const { io, json } = opts;
  let view: ProgressView | undefined;
  const ref: { p?: LocalPipeline } = {};
  const onApprovalRequested = approvalResponder(opts.approve ?? 'prompt', () => ref.p!, json ? { ...io, stdout: io.stderr } : io, () => view);
  const pipeline = (ref.p = await LocalPipeline.create({ ...options, onApprovalRequested }));
  if (!json) io.stdout.write(`${opts.announce}\n`);
  return followRun(pipeline, () => start(pipeline), { json, io, stateDir: opts.stateDir, onView: (v) => (view = v) });
}

/**
 * Runs `tfstep local run`. Bad input (config, repository, ref, SHA) throws a TfstepError
 * before anything runs.
 */
export async function localRun(opts: LocalRunOptions): Promise<LocalRunOutcome> {
  const io = ioOf(opts.io);
  const config = loadConfig(opts.configFile);
  // Bad input is refused before the state directory is touched.
  const source = await resolveLocalSource({ config, repoDir: opts.repoDir, ref: opts.ref, sha: opts.sha, repository: opts.repository });
  const root = source.root;
  const env = opts.env ?? process.env;
  const stateDir = path.resolve(opts.stateDir ?? DEFAULT_STATE_DIR);
  const store = await openLocalStore(stateDir);
  try {
    const { push, input, repository } = await buildLocalPush(source, new RunStore(store.docClient, store.tableName));
    const notice = testDoubleNotice(config, env);
    if (notice) io.stderr.write(`${notice}\n`);
    return await runLocalPipeline(
      {
        config,
        stateDir,
        repoDir: root,
        store,
        env,
        waitMs: opts.waitMs,
        cloneFromRemote: opts.fromRemote,
        gitCredentials: opts.fromRemote ? loadLocalGitCredentials(env, stateDir) : undefined,
        fleetFile: localFleetFile(opts.configFile, config, opts.fleetFile),
      },
      { approve: opts.approve, json: opts.json, io, stateDir: opts.stateDir, announce: `push ${repository.fullName} ${push.branch} ${push.before.slice(0, 7)}..${push.after.slice(0, 7)}: ${push.changes.paths.length} changed path(s)` },
      (pipeline) => pipeline.start(input),
    );
  } finally {
    await store.close();
  }
}

/** Refuses a `--approve` value that is not one of the modes. */
export function parseApproveMode(value: string): ApproveMode {
  if (value === 'prompt' || value === 'auto' || value === 'reject') return value;
  throw new LocalModeError(`--approve ${JSON.stringify(value)} is not a mode; expected prompt, auto or reject`);
}
