/**
 * How the local mode runs the runner: as a child process, exactly as the container would,
 * with the policy from a file. See the spawn contract at the top of ./main.ts.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { RUNNER_ENV, RunnerPolicySchema, type RunnerInput } from '../domain/runner-contract';
import { artifactStoreFromUri } from './artifacts';
import { manifestFor, type WrittenManifest } from './manifest';

/** The command line that starts the runner. */
export interface RunnerCommand {
  command: string;
  args: string[];
}

/**
 * The runner's command line.
 * @param opts.policyFile absolute path of the policy JSON
 * @param opts.bundle the esbuild bundle (`npm run build:runner` writes dist/runner.js); without
 *   it, the TypeScript entrypoint runs through tsx
 * @param opts.repoRoot the repository root, to find runner/entrypoint.ts (default: this checkout)
 */
export function runnerCommand(opts: { policyFile: string; bundle?: string; repoRoot?: string }): RunnerCommand {
  const policyArg = `--policy-source=file:${path.resolve(opts.policyFile)}`;
  if (opts.bundle) return { command: process.execPath, args: [path.resolve(opts.bundle), policyArg] };
  const root = opts.repoRoot ?? path.resolve(__dirname, '..', '..');
  // tsx resolved here, so the child works from any working directory.
  const tsx = pathToFileURL(require.resolve('tsx')).href;
  return { command: process.execPath, args: ['--import', tsx, path.join(root, 'runner', 'entrypoint.ts'), policyArg] };
}

/**
 * One runner task as the pipeline hands it over: the `TFSTEP_*` variables of its overrides, and
 * the manifest (modules, approved plans) that must be in the artifacts store under `manifest.key`
 * before the task starts. The overrides name the manifest and its SHA-256, nothing that grows
 * with the number of modules.
 */
export function runnerTask(input: RunnerInput): { env: Record<string, string>; manifest: WrittenManifest } {
  const manifest = manifestFor({
    account: input.account,
    execution: input.execution,
    phase: input.phase,
    modules: input.modules,
    ...(input.approvedPlans === undefined ? {} : { approvedPlans: input.approvedPlans }),
    ...(input.dependencies === undefined ? {} : { dependencies: input.dependencies }),
    ...(input.moduleConcurrency === undefined ? {} : { moduleConcurrency: input.moduleConcurrency }),
    ...(input.planOnly === undefined ? {} : { planOnly: input.planOnly }),
  });
  const env: Record<string, string> = {
    [RUNNER_ENV.repository]: input.repository,
    [RUNNER_ENV.commit]: input.commit,
    [RUNNER_ENV.ref]: input.ref,
    [RUNNER_ENV.account]: input.account,
    [RUNNER_ENV.stage]: input.stage,
    [RUNNER_ENV.phase]: input.phase,
    [RUNNER_ENV.execution]: input.execution,
    [RUNNER_ENV.manifest]: manifest.key,
    [RUNNER_ENV.manifestSha256]: manifest.sha256,
  };
  return { env, manifest };
}

/** Options of {@link spawnRunner}. */
export interface SpawnRunnerOptions {
  input: RunnerInput;
  policyFile: string;
  bundle?: string;
  /** Extra environment: PATH, HOME, AWS_PROFILE, TFSTEP_TEST_DOUBLE_*. Other TFSTEP_ names are refused. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Each line the runner prints on stdout or stderr. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

/**
 * Runs the runner as a child process (local mode) and resolves with its exit code. First writes
 * the task's manifest to the policy's artifacts store, as the pipeline does before a task.
 * Only PATH and HOME are inherited from this process unless given in `env`.
 */
export async function spawnRunner(opts: SpawnRunnerOptions): Promise<number> {
  const { command, args } = runnerCommand({ policyFile: opts.policyFile, bundle: opts.bundle });
  const policy = RunnerPolicySchema.parse(JSON.parse(await readFile(opts.policyFile, 'utf8')));
  const task = runnerTask(opts.input);
  await artifactStoreFromUri(policy.artifacts).put(task.manifest.key, task.manifest.body);
  const env: Record<string, string> = {};
  for (const k of ['PATH', 'HOME']) if (process.env[k] !== undefined) env[k] = process.env[k];
  for (const [k, v] of Object.entries(opts.env ?? {})) if (v !== undefined) env[k] = v;
  Object.assign(env, task.env);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd ?? process.cwd(), env, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of ['stdout', 'stderr'] as const) {
      let buf = '';
      child[stream].setEncoding('utf8');
      child[stream].on('data', (c: string) => {
        buf += c;
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          opts.onLine?.(buf.slice(0, i), stream);
          buf = buf.slice(i + 1);
        }
      });
      child[stream].on('end', () => {
        if (buf) opts.onLine?.(buf, stream);
      });
    }
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
}
