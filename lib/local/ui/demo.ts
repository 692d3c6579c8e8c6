/**
 * `tfstep local demo` (`npm start`): the example infrastructure repository as a git repository
 * in the state directory, pushed through the whole pipeline with examples/tfstep.yaml, prod
 * approval at the prompt (or automatic with `--yes`).
 */
import { cpSync, existsSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { gitOrThrow } from '../engine/git';
import { REPO_ROOT } from '../engine/runner-launcher';
import { localRun, type LocalIo, type LocalRunOutcome } from './run';
import { DEFAULT_STATE_DIR } from '../engine/store';

/** The example config and infrastructure repository shipped with tfstep. */
export const EXAMPLE_CONFIG = path.join(REPO_ROOT, 'examples', 'tfstep.yaml');
export const EXAMPLE_REPOSITORY = path.join(REPO_ROOT, 'examples', 'infrastructure-live');

/** The demo's commits have a fixed author and date, so the same files always make the same commit. */
const DEMO_GIT_ENV = {
  GIT_AUTHOR_NAME: 'tfstep demo',
  GIT_AUTHOR_EMAIL: 'demo@tfstep.invalid',
  GIT_AUTHOR_DATE: '2026-01-01T00:00:00Z',
  GIT_COMMITTER_NAME: 'tfstep demo',
  GIT_COMMITTER_EMAIL: 'demo@tfstep.invalid',
  GIT_COMMITTER_DATE: '2026-01-01T00:00:00Z',
};

/**
 * Creates the demo repository under `<state dir>/demo/infrastructure-live` from the example, or
 * reuses the one already there.
 * @returns its path and whether it was created now
 */
export async function ensureDemoRepository(stateDir: string): Promise<{ dir: string; created: boolean }> {
  const dir = path.join(path.resolve(stateDir), 'demo', 'infrastructure-live');
  if (existsSync(path.join(dir, '.git'))) return { dir, created: false };
  mkdirSync(dir, { recursive: true });
  cpSync(EXAMPLE_REPOSITORY, dir, { recursive: true });
  await gitOrThrow(dir, ['-c', 'init.defaultBranch=main', 'init', '-q', '-b', 'main']);
  await gitOrThrow(dir, ['add', '-A']);
  await gitOrThrow(dir, ['-c', 'commit.gpgsign=false', 'commit', '-q', '-m', 'Example infrastructure: dev, stage and prod'], DEMO_GIT_ENV);
  return { dir, created: true };
}

/** Options of {@link localDemo}. */
export interface LocalDemoOptions {
  /** Approve prod without asking. */
  yes?: boolean;
  stateDir?: string;
  json?: boolean;
  env?: NodeJS.ProcessEnv;
  io?: Partial<LocalIo>;
  /** The address of the dashboard served while the demo runs, when one is. */
  dashboardUrl?: string;
}

/** Runs the demo; see the file comment. */
export async function localDemo(opts: LocalDemoOptions = {}): Promise<LocalRunOutcome> {
  const stateDir = path.resolve(opts.stateDir ?? DEFAULT_STATE_DIR);
  const out = opts.io?.stdout ?? process.stdout;
  const { dir, created } = await ensureDemoRepository(stateDir);
  if (!opts.json) {
    out.write(
      [
        'tfstep local demo: the real pipeline definition, run on this machine (no AWS account needed).',
        `  config:     ${path.relative(process.cwd(), EXAMPLE_CONFIG) || EXAMPLE_CONFIG}`,
        `  repository: ${shortPath(dir)} (${created ? 'created now' : 'reused'})`,
        `  state:      ${shortPath(stateDir)}`,
        ...(opts.dashboardUrl ? [`  dashboard:  ${opts.dashboardUrl}  (live while the demo runs; later: node bin/tfstep.cjs ui --local${stateDirFlag(stateDir)})`] : []),
        opts.yes ? '  prod is approved automatically (--yes).' : '  prod waits for your approval at the prompt (npm start -- --yes approves automatically).',
        '',
      ].join('\n'),
    );
  }
  const outcome = await localRun({ configFile: EXAMPLE_CONFIG, repoDir: dir, approve: opts.yes ? 'auto' : 'prompt', stateDir, json: opts.json, env: opts.env, io: opts.io });
  if (!opts.json && outcome.result.report.stages.length === 0 && outcome.exitCode === 0) {
    out.write(
      `\nEverything is already applied at this commit. Change a module in ${dir}, commit it, and run:\n` +
        `  node bin/tfstep.cjs local run --config ${EXAMPLE_CONFIG} --repo ${dir} --state-dir ${stateDir}\n` +
        `or delete ${stateDir} to start the demo afresh.\n`,
    );
  }
  return outcome;
}

/** ` --state-dir DIR` unless `stateDir` is the default. */
function stateDirFlag(stateDir: string): string {
  return path.resolve(stateDir) === path.resolve(DEFAULT_STATE_DIR) ? '' : ` --state-dir ${shortPath(stateDir)}`;
}

/** A path relative to the working directory when it lies below it, else as given. */
function shortPath(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}
