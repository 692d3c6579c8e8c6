/**
 * Private repositories in the local mode: the same credential documents as the accounts' and the
 * central account's secrets, read from the environment or a file, and a repository reader that
 * fetches the configured remote with them (the stand-in for the pipeline function's API reads).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { httpCredentialFor, parseGitCredential, type GitCredential } from '../../git-auth';
import { GitRepoReader, type RepoReader } from '../../planning/repo-reader';
import { LocalModeError } from './errors';

const run = promisify(execFile);

/** Where the local mode looks for git credentials. */
export const LOCAL_GIT_CREDENTIALS_ENV = {
  /** The credential document itself (JSON or a plain token). */
  value: 'TFSTEP_GIT_CREDENTIALS',
  /** A file holding the document. */
  file: 'TFSTEP_GIT_CREDENTIALS_FILE',
} as const;

/** Credentials the local mode found, and the 0600 file the runners read them from. */
export interface LocalGitCredentials {
  readonly credential: GitCredential;
  /** Absolute path of a file (mode 0600) holding the document. */
  readonly file: string;
}

/**
 * Reads the credentials from `TFSTEP_GIT_CREDENTIALS_FILE` or `TFSTEP_GIT_CREDENTIALS` (not both).
 * A value from the environment is written to `<stateDir>/secrets/git-credentials` (mode 0600),
 * because the runner, like in an account, reads its credentials itself and never from its
 * environment.
 * @returns undefined when neither is set
 * @throws LocalModeError naming the variable when the value is unreadable or malformed
 */
export function loadLocalGitCredentials(env: NodeJS.ProcessEnv, stateDir: string): LocalGitCredentials | undefined {
  const value = env[LOCAL_GIT_CREDENTIALS_ENV.value];
  const fileVar = env[LOCAL_GIT_CREDENTIALS_ENV.file];
  if (value !== undefined && fileVar !== undefined) throw new LocalModeError(`set ${LOCAL_GIT_CREDENTIALS_ENV.value} or ${LOCAL_GIT_CREDENTIALS_ENV.file}, not both`);
  try {
    if (fileVar !== undefined) {
      const file = path.resolve(fileVar);
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        throw new LocalModeError(`${LOCAL_GIT_CREDENTIALS_ENV.file}=${fileVar}: cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
      return { credential: parseGitCredential(text, `${LOCAL_GIT_CREDENTIALS_ENV.file} (${file})`), file };
    }
    if (value !== undefined) {
      const credential = parseGitCredential(value, LOCAL_GIT_CREDENTIALS_ENV.value);
      const dir = path.join(path.resolve(stateDir), 'secrets');
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const file = path.join(dir, 'git-credentials');
      writeFileSync(file, value, { mode: 0o600 });
      chmodSync(file, 0o600);
      return { credential, file };
    }
  } catch (e) {
    if (e instanceof LocalModeError) throw e;
    throw new LocalModeError((e as Error).message);
  }
  return undefined;
}

/**
 * Reads a remote repository the way the pipeline function reads it through the host's API: with
 * the credentials, and nothing kept of them. It fetches every branch into a bare cache under the
 * state directory (a credential file exists only for the fetch), then answers with git.
 */
export class RemoteGitRepoReader implements RepoReader {
  private reader: Promise<GitRepoReader> | undefined;

  constructor(
    private readonly url: string,
    private readonly cacheRoot: string,
    private readonly credentials: LocalGitCredentials | undefined,
  ) {}

  private async sync(): Promise<GitRepoReader> {
    const dir = path.join(this.cacheRoot, createHash('sha256').update(this.url).digest('hex').slice(0, 16));
    if (!existsSync(dir)) {
      mkdirSync(dir, { recursive: true });
      await run('git', ['init', '--quiet', '--bare', dir]);
    }
    const args = ['-C', dir];
    let secretDir: string | undefined;
    if (this.credentials && /^https?:\/\//i.test(this.url)) {
      const cred = await httpCredentialFor(this.credentials.credential, this.url)();
      secretDir = mkdtempSync(path.join(this.cacheRoot, '.cred-'));
      const store = path.join(secretDir, 'store');
      const u = new URL(this.url);
      writeFileSync(store, `${u.protocol}//${encodeURIComponent(cred.username)}:${encodeURIComponent(cred.token)}@${u.host}\n`, { mode: 0o600 });
      args.push('-c', 'credential.helper=', '-c', `credential.helper=store --file=${store}`);
    }
    try {
      await run('git', [...args, 'fetch', '--quiet', '--prune', '--no-tags', '--', this.url, '+refs/heads/*:refs/heads/*'], {
        env: { PATH: process.env.PATH ?? '', HOME: this.cacheRoot, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', GIT_ALLOW_PROTOCOL: 'file:git:http:https:ssh' },
      });
    } catch (e) {
      const stderr = ((e as { stderr?: string }).stderr ?? '').trim().split('\n').slice(-1)[0] ?? '';
      throw new LocalModeError(`cannot fetch ${this.url}${this.credentials ? ' with the git credentials given' : ` (a private repository needs ${LOCAL_GIT_CREDENTIALS_ENV.file} or ${LOCAL_GIT_CREDENTIALS_ENV.value})`}: ${stderr}`);
    } finally {
      if (secretDir) rmSync(secretDir, { recursive: true, force: true });
    }
    return new GitRepoReader(dir);
  }

  private get(): Promise<GitRepoReader> {
    this.reader ??= this.sync();
    return this.reader;
  }

  /** {@inheritDoc RepoReader.listModules} */
  async listModules(sha: string): Promise<string[]> {
    return (await this.get()).listModules(sha);
  }

  /** {@inheritDoc RepoReader.changedPaths} */
  async changedPaths(base: string, head: string): Promise<string[] | undefined> {
    return (await this.get()).changedPaths(base, head);
  }

  /** {@inheritDoc RepoReader.isAncestor} */
  async isAncestor(ancestor: string, descendant: string): Promise<boolean | undefined> {
    return (await this.get()).isAncestor(ancestor, descendant);
  }

  /** {@inheritDoc RepoReader.readFile} */
  async readFile(sha: string, file: string): Promise<string | undefined> {
    return (await this.get()).readFile(sha, file);
  }
}
