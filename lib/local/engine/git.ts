/**
 * The few git questions the local mode asks of a repository on disk. Every call goes through
 * `execFile` with an argument list (no shell), and every answer is checked, so a wrong path,
 * ref or SHA becomes one clear error.
 */
import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { GIT_ALLOW_PROTOCOL, gitOperand } from '../../domain/git-args';
import { CommitShaSchema, ZERO_SHA } from '../../domain/push-event';
import { NotAGitRepositoryError, UnknownCommitError, UnknownRefError } from './errors';

const run = promisify(execFile);

/** Runs git in `dir`; resolves with stdout, or undefined when git exits non-zero. */
async function git(dir: string, args: readonly string[]): Promise<string | undefined> {
  try {
    const { stdout } = await run('git', ['-C', dir, ...args], {
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_ALLOW_PROTOCOL, LC_ALL: 'C' },
    });
    return stdout;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('git is not installed or not on PATH; the local mode needs git', { cause: e });
    return undefined;
  }
}

/**
 * The absolute top-level directory of the repository holding `dir`.
 * @throws NotAGitRepositoryError when `dir` is missing or not inside a git work tree
 */
export async function repositoryRoot(dir: string): Promise<string> {
  const abs = path.resolve(dir);
  let isDir = false;
  try {
    isDir = statSync(abs).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir) throw new NotAGitRepositoryError(abs);
  const out = await git(abs, ['rev-parse', '--show-toplevel']);
  if (out === undefined || out.trim() === '') throw new NotAGitRepositoryError(abs);
  return path.resolve(out.trim());
}

/**
 * The commit a branch ref points to.
 * @throws UnknownRefError when the ref does not exist
 */
export async function resolveRef(dir: string, ref: string): Promise<string> {
  if (!/^refs\/heads\/[A-Za-z0-9._/-]+$/.test(ref) || ref.includes('..')) throw new UnknownRefError(ref, dir);
  const out = await git(dir, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${gitOperand('ref', ref)}^{commit}`]);
  const sha = out?.trim();
  if (!sha || !CommitShaSchema.safeParse(sha).success) throw new UnknownRefError(ref, dir);
  return sha;
}

/**
 * Checks that `sha` is a full SHA of a commit reachable from `ref`: the runner checks out
 * exactly that commit from that ref, so anything else would fail later and less clearly.
 * @throws UnknownCommitError otherwise
 */
export async function verifyCommitOnRef(dir: string, sha: string, ref: string): Promise<string> {
  const lower = sha.toLowerCase();
  if (!CommitShaSchema.safeParse(lower).success) {
    throw new UnknownCommitError(sha, dir, 'is not a full 40-character hex SHA, so it cannot name a commit in');
  }
  const exists = await git(dir, ['cat-file', '-e', '--end-of-options', `${lower}^{commit}`]);
  if (exists === undefined) throw new UnknownCommitError(sha, dir);
  const onRef = await git(dir, ['merge-base', '--is-ancestor', '--end-of-options', lower, gitOperand('ref', ref)]);
  if (onRef === undefined) throw new UnknownCommitError(sha, dir, `is not reachable from ${ref} in`);
  return lower;
}

/** Whether `sha` names a commit in the repository. */
export async function commitExists(dir: string, sha: string): Promise<boolean> {
  if (sha === ZERO_SHA || !CommitShaSchema.safeParse(sha).success) return false;
  return (await git(dir, ['cat-file', '-e', '--end-of-options', `${sha}^{commit}`])) !== undefined;
}

/** Splits NUL-separated git output. */
function splitZ(out: string): string[] {
  return out.split('\0').filter((p) => p !== '');
}

/**
 * Paths changed between two commits, as a git host would report them. When `before` is
 * unknown (all zeros or not in the repository) every file of `after` is listed and the list is
 * marked incomplete, so the planner falls back to its own comparison.
 */
export async function changedPaths(dir: string, before: string, after: string): Promise<{ complete: boolean; paths: string[] }> {
  if (await commitExists(dir, before)) {
    // Without rename detection a move lists both the old and the new path: both modules changed.
    const out = await git(dir, ['diff', '--name-only', '-z', '--no-renames', '--end-of-options', before, gitOperand('commit', after)]);
    if (out !== undefined) return { complete: true, paths: splitZ(out) };
  }
  const all = await git(dir, ['ls-tree', '-r', '--name-only', '-z', '--end-of-options', gitOperand('commit', after)]);
  if (all === undefined) throw new UnknownCommitError(after, dir);
  return { complete: false, paths: splitZ(all) };
}

/** The commit's message and author email (the local stand-in for the pusher). */
export async function commitInfo(dir: string, sha: string): Promise<{ message: string; author: string }> {
  const out = await git(dir, ['log', '-1', '--format=%ae%x00%B', '--end-of-options', gitOperand('commit', sha)]);
  if (out === undefined) throw new UnknownCommitError(sha, dir);
  const [author = '', ...rest] = out.split('\0');
  return {
    author: author.trim() || 'local',
    message: rest.join('\0').replace(/\n+$/, ''),
  };
}

/** The URL of the `origin` remote, if the repository has one. */
export async function originUrl(dir: string): Promise<string | undefined> {
  const out = await git(dir, ['remote', 'get-url', 'origin']);
  return out?.trim() || undefined;
}

/** Runs a git command that must succeed (used to create the demo repository). */
export async function gitOrThrow(dir: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  try {
    const { stdout } = await run('git', ['-C', dir, ...args], {
      env: { ...process.env, ...env, GIT_TERMINAL_PROMPT: '0', GIT_ALLOW_PROTOCOL },
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`git ${args.join(' ')} failed in ${dir}: ${(err.stderr ?? err.message).trim()}`, { cause: e });
  }
}
