/**
 * `ecs:runTask.sync` in the local mode: the runner runs as a child process, exactly as the
 * container would (see the spawn contract in lib/runner/main.ts), with the account's own policy
 * file, its own work directory, and the container overrides' environment. Its exit code is the
 * contract, as in ECS: 0 gives a task description, anything else fails the state with
 * `States.TaskFailed` and the task description as the Cause, so classify-failure reads the same
 * exit code locally as in AWS.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import type { AccountConfig, Config } from '../../config/schema';
import { RUNNER_ENV, RunnerPolicySchema, type Phase, type RunnerPolicy } from '../../domain/runner-contract';
import { planPoliciesOf } from '../../domain/runner-policy';
import { runnerCommand } from '../../runner/spawn';
import { forgetRunner, recordRunner } from './orphans';
import { TEST_DOUBLE_ENV } from '../../runner/inputs';
import type { JsonObject } from './definition';
import type { LocalTaskContext, LocalTaskRunner } from './engine';
import { StatesError } from './errors';

/** The repository root of this checkout (lib/local/engine -> ../../..). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

/** What every launcher event names: the task of one account in one phase of an execution. */
interface RunnerTask {
  execution: string;
  account: string;
  stage: string;
  phase: string;
  logFile: string;
  at: Date;
}

/** What the launcher reports as tasks start and stop. */
export type RunnerEvent = (RunnerTask & { kind: 'started' }) | (RunnerTask & { kind: 'stopped'; exitCode: number | null; durationMs: number; reason: string });

/** Options of {@link ChildProcessTaskRunner}. */
export interface ChildProcessTaskRunnerOptions {
  config: Config;
  /** Accounts not in the config (the fleet registry's). @default - only the config's accounts */
  accountNamed?: (name: string) => Promise<AccountConfig | undefined>;
  stateDir: string;
  /** Clone URLs every account's policy allows besides the configured ones (the local repository). */
  extraRepositories?: readonly string[];
  /**
   * An absolute path to the git credentials file the runners clone private repositories with
   * (the local stand-in for each account's secret). @default - no credentials
   */
  gitCredentialsFile?: string;
  /** The runner bundle; see {@link ensureRunnerBundle}. Without it, the runner runs through tsx (slower). */
  bundle?: string;
  /**
   * Environment the runner inherits: PATH, HOME and the test double's variables are taken from
   * here. @default process.env
   */
  env?: NodeJS.ProcessEnv;
  /** An account's runner timeout (the Task's TimeoutSecondsPath value). @default the config's runner.timeoutMinutes */
  timeoutSecondsFor?: (account: string) => number | undefined;
  onEvent?: (event: RunnerEvent) => void;
}

/** Where an account's runner log of one phase is kept: `logs/<execution>/<account>/<phase>.log`. */
export function runnerLogFile(stateDir: string, execution: string, account: string, phase: string): string {
  return path.join(stateDir, 'logs', safeSegment(execution), safeSegment(account), `${safeSegment(phase)}.log`);
}

function safeSegment(s: string): string {
  return /^[A-Za-z0-9._-]+$/.test(s) && s !== '.' && s !== '..' ? s : s.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
}

/** The artifacts store of a state directory, as the runner policy names it. */
export function artifactsUri(stateDir: string): string {
  return `file://${path.resolve(stateDir, 'artifacts')}`;
}

/**
 * Where an account's runner records the plans its plan phase made, and where its apply phase
 * looks before applying one: `<stateDir>/plan-records/<account>`. Only that account's runner
 * writes there; the local pipeline (the central side) never does.
 */
export function localPlanRecordsDir(stateDir: string, account: AccountConfig): string {
  return path.join(path.resolve(stateDir), 'plan-records', safeSegment(account.name));
}

/**
 * Where the local mode keeps an account's Terraform state between runs:
 * `<stateDir>/terraform-state/<account>/<region>`, one `<module>/terraform.tfstate` below it.
 */
export function localTerraformStateDir(stateDir: string, account: AccountConfig): string {
  return path.join(path.resolve(stateDir), 'terraform-state', safeSegment(account.name), safeSegment(account.region));
}

/** The account's own runner policy in the local mode (the account stack writes it to SSM in AWS). */
export function localRunnerPolicy(config: Config, account: AccountConfig, stateDir: string, extraRepositories: readonly string[] = [], gitCredentialsFile?: string): RunnerPolicy {
  const repositories = [...new Set([...extraRepositories, ...config.repositories.flatMap((r) => r.cloneUrls)])];
  const refs = [...new Set(config.repositories.map((r) => `refs/heads/${r.deployBranch}`))];
  return RunnerPolicySchema.parse({
    account: account.name,
    repositories,
    refs,
    tool: config.runner.tool,
    allowedSubcommands: config.runner.allowedSubcommands,
    phases: ['plan', 'apply', 'plan-and-apply'] satisfies Phase[],
    artifacts: artifactsUri(stateDir),
    planRecords: pathToFileURL(localPlanRecordsDir(stateDir, account)).href,
    region: account.region,
    localStateDir: localTerraformStateDir(stateDir, account),
    ...(gitCredentialsFile === undefined ? {} : { gitCredentialsSecret: `file:${path.resolve(gitCredentialsFile)}` }),
    ...planPoliciesOf(config, account),
  });
}

function newestMtime(dir: string): number {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * Bundles the runner once into `<stateDir>/runner/runner.js` (again only when its sources are
 * newer), so each child starts in a fraction of the time tsx needs. The bundle's `__dirname` is
 * pinned to lib/runner so the runner finds the terraform test double of this checkout as it
 * would from the sources.
 */
export async function ensureRunnerBundle(stateDir: string): Promise<string> {
  const out = path.join(stateDir, 'runner', 'runner.js');
  const sources = Math.max(
    newestMtime(path.join(REPO_ROOT, 'lib', 'runner')),
    newestMtime(path.join(REPO_ROOT, 'lib', 'domain')),
    newestMtime(path.join(REPO_ROOT, 'runner')),
  );
  if (existsSync(out) && statSync(out).mtimeMs >= sources) return out;
  mkdirSync(path.dirname(out), { recursive: true });
  await build({
    entryPoints: [path.join(REPO_ROOT, 'runner', 'entrypoint.ts')],
    outfile: out,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    legalComments: 'none',
    logLevel: 'warning',
    define: {
      __dirname: JSON.stringify(path.join(REPO_ROOT, 'lib', 'runner')),
    },
  });
  return out;
}

/** The runner's environment and the fields the launcher reads from it. */
export interface OverrideEnv {
  env: Record<string, string>;
  account: string;
  stage: string;
  phase: string;
  execution: string;
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The runner container's environment from RunTask's `Overrides.ContainerOverrides`. */
export function overrideEnv(parameters: JsonObject): OverrideEnv {
  const overrides = isObject(parameters.Overrides) ? parameters.Overrides.ContainerOverrides : undefined;
  const container = Array.isArray(overrides) ? (overrides[0] as unknown) : undefined;
  const list = isObject(container) && Array.isArray(container.Environment) ? container.Environment : [];
  const env: Record<string, string> = {};
  for (const item of list) {
    if (isObject(item) && typeof item.Name === 'string' && typeof item.Value === 'string') env[item.Name] = item.Value;
  }
  return {
    env,
    account: env[RUNNER_ENV.account] ?? '',
    stage: env[RUNNER_ENV.stage] ?? '',
    phase: env[RUNNER_ENV.phase] ?? 'unknown',
    execution: env[RUNNER_ENV.execution] ?? 'unknown',
  };
}

/** Runs RunTask locally as a runner child process; see the file comment. */
export class ChildProcessTaskRunner implements LocalTaskRunner {
  private readonly policies = new Map<string, string>();

  constructor(private readonly opts: ChildProcessTaskRunnerOptions) {}

  private policyFile(account: AccountConfig): string {
    const cached = this.policies.get(account.name);
    if (cached) return cached;
    const file = path.join(this.opts.stateDir, 'policies', `${safeSegment(account.name)}.json`);
    mkdirSync(path.dirname(file), { recursive: true });
    const policy = localRunnerPolicy(this.opts.config, account, this.opts.stateDir, this.opts.extraRepositories, this.opts.gitCredentialsFile);
    writeFileSync(file, `${JSON.stringify(policy, null, 2)}\n`, {
      mode: 0o600,
    });
    this.policies.set(account.name, file);
    return file;
  }

  /** {@inheritDoc LocalTaskRunner.runTask} */
  async runTask(parameters: JsonObject, ctx: LocalTaskContext): Promise<JsonObject> {
    const { env: containerEnv, account: accountName, stage, phase, execution } = overrideEnv(parameters);
    const account = this.opts.config.accounts.find((a) => a.name === accountName) ?? (await this.opts.accountNamed?.(accountName));
    const cluster = typeof parameters.Cluster === 'string' ? parameters.Cluster : 'tfstep-local';
    const region = account?.region ?? this.opts.config.central.region;
    const taskArn = `arn:aws:ecs:${region}:${account?.id ?? '000000000000'}:task/${cluster}/${randomBytes(16).toString('hex')}`;
    const taskDefinitionArn = typeof parameters.TaskDefinition === 'string' ? parameters.TaskDefinition : 'tfstep-local';
    const started = new Date();
    const describe = (exitCode: number | null, reason: string, stopCode: string): JsonObject => ({
      TaskArn: taskArn,
      ClusterArn: `arn:aws:ecs:${region}:${account?.id ?? '000000000000'}:cluster/${cluster}`,
      TaskDefinitionArn: taskDefinitionArn,
      LastStatus: 'STOPPED',
      DesiredStatus: 'STOPPED',
      StartedBy: 'tfstep',
      StartedAt: started.toISOString(),
      StoppedAt: new Date().toISOString(),
      StopCode: stopCode,
      StoppedReason: reason,
      Containers: [
        {
          Name: 'runner',
          LastStatus: 'STOPPED',
          ExitCode: exitCode,
          Reason: exitCode === null ? reason : undefined,
        },
      ],
    });
    if (!account) {
      // RunTask in an account the config does not know cannot start anything.
      throw new StatesError(
        'States.TaskFailed',
        JSON.stringify(describe(null, `no configured account named ${JSON.stringify(accountName)}`, 'TaskFailedToStart')),
      );
    }

    const logFile = runnerLogFile(this.opts.stateDir, execution, account.name, phase);
    mkdirSync(path.dirname(logFile), { recursive: true });
    const workDir = path.join(this.opts.stateDir, 'work', safeSegment(account.name));
    mkdirSync(workDir, { recursive: true });
    const from = this.opts.env ?? process.env;
    const env: Record<string, string> = {};
    for (const k of ['PATH', 'HOME', 'LANG', ...Object.values(TEST_DOUBLE_ENV)]) {
      const v = from[k];
      if (v !== undefined) env[k] = v;
    }
    if (account.profile) env.AWS_PROFILE = account.profile;
    env.AWS_REGION = account.region;
    // The runner makes its checkout under os.tmpdir(): one work directory per account.
    env.TMPDIR = workDir;
    Object.assign(env, containerEnv);

    const { command, args } = runnerCommand({
      policyFile: this.policyFile(account),
      bundle: this.opts.bundle,
      repoRoot: REPO_ROOT,
    });
    const timeoutSeconds = this.opts.timeoutSecondsFor?.(account.name) ?? this.opts.config.runner.timeoutMinutes * 60;
    this.opts.onEvent?.({
      kind: 'started',
      execution,
      account: account.name,
      stage,
      phase,
      logFile,
      at: started,
    });

    const log = createWriteStream(logFile, { flags: 'a' });
    log.write(`--- ${started.toISOString()} ${phase} in ${account.name} (task ${taskArn.split('/').pop()})\n`);
    const outcome = await new Promise<{
      code: number | null;
      reason: string;
      timedOut: boolean;
      spawnError?: Error;
    }>((resolve) => {
      let timedOut = false;
      const child = spawn(command, args, {
        cwd: workDir,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      if (child.pid !== undefined) recordRunner(this.opts.stateDir, execution, child.pid, this.policyFile(account));
      child.stdout.pipe(log, { end: false });
      child.stderr.pipe(log, { end: false });
      const kill = () => {
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      };
      const timer = setTimeout(
        () => {
          timedOut = true;
          kill();
        },
        Math.min(timeoutSeconds * 1000, 2_147_483_647),
      );
      const onAbort = () => kill();
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      child.on('error', (e) => {
        clearTimeout(timer);
        resolve({
          code: null,
          reason: `CannotStartContainerError: ${e.message}`,
          timedOut: false,
          spawnError: e,
        });
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (child.pid !== undefined) forgetRunner(this.opts.stateDir, child.pid);
        ctx.signal.removeEventListener('abort', onAbort);
        resolve({
          code,
          reason: signal ? `Task stopped (${signal})` : 'Essential container in task exited',
          timedOut,
        });
      });
    });
    await new Promise<void>((r) => log.end(r));
    const durationMs = Date.now() - started.getTime();
    this.opts.onEvent?.({
      kind: 'stopped',
      execution,
      account: account.name,
      stage,
      phase,
      logFile,
      at: new Date(),
      exitCode: outcome.code,
      durationMs,
      reason: outcome.reason,
    });

    if (outcome.timedOut) throw new StatesError('States.Timeout', `the runner task in ${account.name} ran longer than ${timeoutSeconds} s and was stopped`);
    if (outcome.spawnError) throw new StatesError('States.TaskFailed', JSON.stringify(describe(null, outcome.reason, 'TaskFailedToStart')));
    if (outcome.code !== 0) throw new StatesError('States.TaskFailed', JSON.stringify(describe(outcome.code, outcome.reason, 'EssentialContainerExited')));
    return describe(0, outcome.reason, 'EssentialContainerExited');
  }
}
