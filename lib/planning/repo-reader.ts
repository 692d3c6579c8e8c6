/**
 * Reading a repository for the planner: the module inventory at a commit and the paths changed
 * between two commits. Three implementations: the git CLI on a local clone (the local mode), and
 * the GitHub and GitLab REST APIs (the pipeline function in AWS, which has no clone).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { z } from 'zod';
import { RepoReadError } from './errors';

const execFileAsync = promisify(execFile);

/** What the planner reads from a repository. */
export interface RepoReader {
  /** Repository-relative directories holding `*.tf` or `terragrunt.hcl` at `sha`, sorted. */
  listModules(sha: string): Promise<string[]>;
  /**
   * Paths added, modified, removed or renamed (both names) from `base` to `head`; `undefined`
   * when that cannot be known completely (unknown base, history rewritten, too many files).
   */
  changedPaths(base: string, head: string): Promise<string[] | undefined>;
  /**
   * Whether `ancestor` is `descendant` or one of its ancestors (git's `merge-base --is-ancestor`);
   * `undefined` when that cannot be known (a commit the host does not have). Orders pushes that
   * arrive out of order.
   */
  isAncestor(ancestor: string, descendant: string): Promise<boolean | undefined>;
  /**
   * The text of the file at `path` (repository-relative) at `sha`; undefined when there is no
   * such file. Reads terragrunt files for their dependencies.
   */
  readFile?(sha: string, path: string): Promise<string | undefined>;
}

/** A repository-relative file path that a reader may pass on to git or an API. */
function checkFilePath(path: string): void {
  if (path === '' || path.startsWith('/') || path.split('/').some((s) => s === '' || s === '.' || s === '..') || path.includes('\0')) {
    throw new RepoReadError(`file path "${path}" is not a repository-relative path without "." or ".." segments`);
  }
}

/** The text of a contents answer (GitHub and GitLab both answer base64 with `encoding`). */
function decodeContent(content: string, encoding: string | undefined, where: string): string {
  if (encoding === undefined || encoding === 'base64') return Buffer.from(content, 'base64').toString('utf8');
  if (encoding === 'text' || encoding === 'utf-8') return content;
  throw new RepoReadError(`${where} came back in the encoding "${encoding}"; expected base64`);
}

/** Whether a file marks its directory as a module; hidden directories (`.terraform`, caches) never count. */
export function isModuleFile(path: string): boolean {
  const segments = path.split('/');
  if (segments.slice(0, -1).some((s) => s.startsWith('.'))) return false;
  const base = segments[segments.length - 1] ?? '';
  return base.endsWith('.tf') || base === 'terragrunt.hcl';
}

/** The sorted module directories among a list of file paths. Files at the repository root are not a module. */
export function moduleDirsOf(files: Iterable<string>): string[] {
  const dirs = new Set<string>();
  for (const file of files) {
    if (!isModuleFile(file)) continue;
    const slash = file.lastIndexOf('/');
    if (slash > 0) dirs.add(file.slice(0, slash));
  }
  return [...dirs].sort();
}

const SHA = /^[0-9a-f]{40}$/;

function checkSha(sha: string, what: string): void {
  if (!SHA.test(sha)) throw new RepoReadError(`${what} "${sha}" is not a full 40-character hex commit SHA`);
}

/**
 * Reads a local git repository (a clone or the working repository itself) with the git CLI.
 * Used by the local mode: `new GitRepoReader('/path/to/repo')`.
 */
export class GitRepoReader implements RepoReader {
  constructor(private readonly repoDir: string) {}

  private async git(args: readonly string[]): Promise<string> {
    try {
      const { stdout } = await execFileAsync('git', ['-C', this.repoDir, ...args], { maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' });
      return stdout;
    } catch (err) {
      const stderr = (err as { stderr?: string }).stderr?.trim();
      throw new RepoReadError(`git ${args.join(' ')} failed in ${this.repoDir}: ${stderr || (err as Error).message}`, { cause: err });
    }
  }

  private async hasCommit(sha: string): Promise<boolean> {
    try {
      await this.git(['cat-file', '-e', '--end-of-options', `${sha}^{commit}`]);
      return true;
    } catch {
      return false;
    }
  }

  /** {@inheritDoc RepoReader.listModules} */
  async listModules(sha: string): Promise<string[]> {
    checkSha(sha, 'commit');
    const out = await this.git(['ls-tree', '-r', '--name-only', '-z', '--end-of-options', sha]);
    return moduleDirsOf(out.split('\0').filter(Boolean));
  }

  /** {@inheritDoc RepoReader.changedPaths} */
  async changedPaths(base: string, head: string): Promise<string[] | undefined> {
    checkSha(base, 'base commit');
    checkSha(head, 'head commit');
    if (!(await this.hasCommit(base))) return undefined;
    // A tree diff, not a range of commits: it is exactly what differs between the applied state
    // and the new one, even across a rewritten history. --no-renames lists both names of a move.
    const out = await this.git(['diff', '--name-only', '--no-renames', '-z', '--end-of-options', base, head]);
    return [...new Set(out.split('\0').filter(Boolean))].sort();
  }

  /** {@inheritDoc RepoReader.readFile} */
  async readFile(sha: string, path: string): Promise<string | undefined> {
    checkSha(sha, 'commit');
    checkFilePath(path);
    // ls-tree first: a missing file is an answer (undefined), not an error of `git show`.
    const entry = await this.git(['ls-tree', '-z', '--end-of-options', sha, '--', path]);
    if (!entry.split('\0').some((line) => /^\d+ blob /.test(line))) return undefined;
    return this.git(['show', '--end-of-options', `${sha}:${path}`]);
  }

  /** {@inheritDoc RepoReader.isAncestor} */
  async isAncestor(ancestor: string, descendant: string): Promise<boolean | undefined> {
    checkSha(ancestor, 'commit');
    checkSha(descendant, 'commit');
    try {
      // Exit 0: an ancestor; 1: not; 128: a commit this clone does not have (or no repository).
      await execFileAsync('git', ['-C', this.repoDir, 'merge-base', '--is-ancestor', '--end-of-options', ancestor, descendant]);
      return true;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === 1) return false;
      if (code === 128) return undefined;
      throw new RepoReadError(`git merge-base --is-ancestor failed in ${this.repoDir}: ${(err as Error).message}`, { cause: err });
    }
  }
}

/** Options of {@link GitHubRepoReader}. */
export interface GitHubRepoReaderOptions {
  /** `owner/name`. */
  readonly fullName: string;
  /** A token for private repositories; called once per request so a rotated secret is picked up by its cache. */
  readonly token?: () => Promise<string | undefined>;
  /** @default 'https://api.github.com' (GitHub Enterprise: `https://host/api/v3`) */
  readonly apiBaseUrl?: string;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

/** The compare API lists at most this many files; a longer diff is treated as unknown. */
export const GITHUB_COMPARE_FILE_LIMIT = 300;

const TreeSchema = z.object({
  truncated: z.boolean(),
  tree: z.array(z.object({ path: z.string(), type: z.string() })),
});
const ContentsSchema = z.object({ type: z.literal('file'), content: z.string(), encoding: z.string().optional(), size: z.number().optional() });
const CompareSchema = z.object({
  status: z.string(),
  files: z.array(z.object({ filename: z.string(), previous_filename: z.string().optional() })).optional(),
});

/** Reads a GitHub repository through the REST API (git trees, compare). */
export class GitHubRepoReader implements RepoReader {
  private readonly base: string;
  private readonly doFetch: typeof fetch;

  constructor(private readonly options: GitHubRepoReaderOptions) {
    if (!/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(options.fullName)) {
      throw new RepoReadError(`GitHub repository "${options.fullName}" is not in owner/name form`);
    }
    this.base = (options.apiBaseUrl ?? 'https://api.github.com').replace(/\/+$/, '');
    this.doFetch = options.fetch ?? fetch;
  }

  private async get(path: string): Promise<{ status: number; body: unknown }> {
    const token = await this.options.token?.();
    const headers: Record<string, string> = {
      accept: 'application/vnd.github+json',
      'x-github-api-version': '2022-11-28',
      'user-agent': 'tfstep',
    };
    if (token) headers.authorization = `Bearer ${token}`;
    const url = `${this.base}/repos/${this.options.fullName}${path}`;
    let res: Response;
    try {
      res = await this.doFetch(url, { headers });
    } catch (err) {
      throw new RepoReadError(`GitHub API request GET ${url} failed: ${(err as Error).message}`, { cause: err });
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch (err) {
      throw new RepoReadError(`GitHub API GET ${url} answered ${res.status} with a body that is not JSON`, { cause: err });
    }
    return { status: res.status, body };
  }

  /** {@inheritDoc RepoReader.listModules} */
  async listModules(sha: string): Promise<string[]> {
    checkSha(sha, 'commit');
    const { status, body } = await this.get(`/git/trees/${sha}?recursive=1`);
    if (status !== 200) throw new RepoReadError(`GitHub could not list the tree of ${this.options.fullName}@${sha}: HTTP ${status} ${messageOf(body)}`);
    const tree = TreeSchema.safeParse(body);
    if (!tree.success) throw new RepoReadError(`GitHub tree answer for ${this.options.fullName}@${sha} is not the expected shape: ${tree.error.issues[0]?.message ?? ''}`);
    // A truncated listing could hide modules, and a module left out of the inventory would never deploy.
    if (tree.data.truncated) {
      throw new RepoReadError(`GitHub truncated the tree of ${this.options.fullName}@${sha} (too many files); the module inventory would be incomplete`);
    }
    return moduleDirsOf(tree.data.tree.filter((e) => e.type === 'blob').map((e) => e.path));
  }

  /** {@inheritDoc RepoReader.changedPaths} */
  async changedPaths(base: string, head: string): Promise<string[] | undefined> {
    checkSha(base, 'base commit');
    checkSha(head, 'head commit');
    const { status, body } = await this.get(`/compare/${base}...${head}`);
    // An unknown base (history rewritten, commit gone) is not an error: every module is included.
    if (status === 404 || status === 422) return undefined;
    if (status !== 200) throw new RepoReadError(`GitHub could not compare ${base}...${head} in ${this.options.fullName}: HTTP ${status} ${messageOf(body)}`);
    const cmp = CompareSchema.safeParse(body);
    if (!cmp.success) throw new RepoReadError(`GitHub compare answer for ${this.options.fullName} is not the expected shape: ${cmp.error.issues[0]?.message ?? ''}`);
    // The compare API diffs from the merge base: only when head descends from base is that the
    // whole difference. Behind or diverged (a rollback or a forced push) is reported as unknown.
    if (cmp.data.status !== 'ahead' && cmp.data.status !== 'identical') return undefined;
    const files = cmp.data.files ?? [];
    if (files.length >= GITHUB_COMPARE_FILE_LIMIT) return undefined;
    const paths = new Set<string>();
    for (const f of files) {
      paths.add(f.filename);
      if (f.previous_filename) paths.add(f.previous_filename);
    }
    return [...paths].sort();
  }

  /** {@inheritDoc RepoReader.isAncestor} */
  async isAncestor(ancestor: string, descendant: string): Promise<boolean | undefined> {
    checkSha(ancestor, 'commit');
    checkSha(descendant, 'commit');
    if (ancestor === descendant) return true;
    // "ahead": the head has commits the base lacks and none the other way, so the base is its ancestor.
    const { status, body } = await this.get(`/compare/${ancestor}...${descendant}?per_page=1`);
    if (status === 404 || status === 422) return undefined;
    if (status !== 200) throw new RepoReadError(`GitHub could not compare ${ancestor}...${descendant} in ${this.options.fullName}: HTTP ${status} ${messageOf(body)}`);
    const cmp = CompareSchema.safeParse(body);
    if (!cmp.success) throw new RepoReadError(`GitHub compare answer for ${this.options.fullName} is not the expected shape: ${cmp.error.issues[0]?.message ?? ''}`);
    return cmp.data.status === 'ahead' || cmp.data.status === 'identical';
  }

  /**
   * {@inheritDoc RepoReader.readFile}
   * The contents API answers a file of up to 1 MB with its base64 `content` ("Get repository
   * content", GitHub REST API); a terragrunt file is far smaller.
   */
  async readFile(sha: string, path: string): Promise<string | undefined> {
    checkSha(sha, 'commit');
    checkFilePath(path);
    const { status, body } = await this.get(`/contents/${path.split('/').map(encodeURIComponent).join('/')}?ref=${sha}`);
    if (status === 404) return undefined;
    if (status !== 200) throw new RepoReadError(`GitHub could not read ${path} at ${this.options.fullName}@${sha}: HTTP ${status} ${messageOf(body)}`);
    const file = ContentsSchema.safeParse(body);
    // A directory answers a list, and a submodule or symlink another type: none is a file.
    if (!file.success) return undefined;
    if (file.data.content === '' && (file.data.size ?? 0) > 0) {
      throw new RepoReadError(`GitHub did not return the content of ${path} at ${this.options.fullName}@${sha} (${file.data.size} bytes: too large for the contents API)`);
    }
    return decodeContent(file.data.content, file.data.encoding, `GitHub's content of ${path}`);
  }
}

function messageOf(body: unknown): string {
  if (body && typeof body === 'object' && 'message' in body && typeof body.message === 'string') return `(${body.message})`;
  return '';
}

/** Options of {@link GitLabRepoReader}. */
export interface GitLabRepoReaderOptions {
  /** The project's full path, `group/subgroup/name`. */
  readonly fullName: string;
  /** A token (`PRIVATE-TOKEN`) for private projects. */
  readonly token?: () => Promise<string | undefined>;
  /** @default 'https://gitlab.com/api/v4' */
  readonly apiBaseUrl?: string;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

/** A GitLab compare listing this many files or more is treated as unknown (GitLab caps diffs). */
export const GITLAB_COMPARE_FILE_LIMIT = 1000;
/** Tree pages read at most (100 entries each). */
const GITLAB_MAX_TREE_PAGES = 2000;

const GitLabTreeSchema = z.array(z.object({ path: z.string(), type: z.string() }));
const GitLabCompareSchema = z.object({
  compare_timeout: z.boolean().optional(),
  diffs: z.array(z.object({ old_path: z.string(), new_path: z.string() })),
});

/**
 * The GitHub API base of a repository from its clone URLs: `https://api.github.com` for
 * github.com, `https://HOST/api/v3` for a GitHub Enterprise Server (from the first HTTPS URL).
 */
export function githubApiBase(cloneUrls: readonly string[]): string {
  const https = cloneUrls.find((u) => u.startsWith('https://'));
  const host = https ? new URL(https).host : 'github.com';
  return host === 'github.com' ? 'https://api.github.com' : `https://${host}/api/v3`;
}

/**
 * The GitLab API base of a project from its clone URLs: `https://host/...` or `git@host:...`
 * give `https://host/api/v4`.
 */
export function gitlabApiBase(cloneUrls: readonly string[]): string {
  for (const url of cloneUrls) {
    const https = /^https:\/\/([^/@]+@)?([^/]+)\//.exec(url);
    if (https) return `https://${https[2]}/api/v4`;
    const scp = /^[^@/]+@([^:/]+):/.exec(url);
    if (scp) return `https://${scp[1]}/api/v4`;
    const ssh = /^ssh:\/\/[^@/]+@([^:/]+)(:\d+)?\//.exec(url);
    if (ssh) return `https://${ssh[1]}/api/v4`;
  }
  return 'https://gitlab.com/api/v4';
}

/** Reads a GitLab project through the REST API (repository tree, compare). */
export class GitLabRepoReader implements RepoReader {
  private readonly base: string;
  private readonly doFetch: typeof fetch;

  constructor(private readonly options: GitLabRepoReaderOptions) {
    if (!/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)+$/.test(options.fullName)) {
      throw new RepoReadError(`GitLab project "${options.fullName}" is not in group/name form`);
    }
    this.base = `${(options.apiBaseUrl ?? 'https://gitlab.com/api/v4').replace(/\/+$/, '')}/projects/${encodeURIComponent(options.fullName)}`;
    this.doFetch = options.fetch ?? fetch;
  }

  private async get(path: string): Promise<{ status: number; body: unknown; nextPage?: string }> {
    const token = await this.options.token?.();
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'tfstep' };
    if (token) headers['private-token'] = token;
    const url = `${this.base}${path}`;
    let res: Response;
    try {
      res = await this.doFetch(url, { headers });
    } catch (err) {
      throw new RepoReadError(`GitLab API request GET ${url} failed: ${(err as Error).message}`, { cause: err });
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch (err) {
      throw new RepoReadError(`GitLab API GET ${url} answered ${res.status} with a body that is not JSON`, { cause: err });
    }
    return { status: res.status, body, nextPage: res.headers.get('x-next-page') || undefined };
  }

  /** {@inheritDoc RepoReader.listModules} */
  async listModules(sha: string): Promise<string[]> {
    checkSha(sha, 'commit');
    const files: string[] = [];
    let page: string | undefined = '1';
    for (let pages = 0; page; pages++) {
      if (pages >= GITLAB_MAX_TREE_PAGES) throw new RepoReadError(`GitLab tree of ${this.options.fullName}@${sha} has more than ${GITLAB_MAX_TREE_PAGES} pages; the module inventory would be incomplete`);
      const { status, body, nextPage } = await this.get(`/repository/tree?ref=${sha}&recursive=true&per_page=100&page=${page}`);
      if (status !== 200) throw new RepoReadError(`GitLab could not list the tree of ${this.options.fullName}@${sha}: HTTP ${status} ${messageOf(body)}`);
      const tree = GitLabTreeSchema.safeParse(body);
      if (!tree.success) throw new RepoReadError(`GitLab tree answer for ${this.options.fullName}@${sha} is not the expected shape: ${tree.error.issues[0]?.message ?? ''}`);
      files.push(...tree.data.filter((e) => e.type === 'blob').map((e) => e.path));
      page = nextPage;
    }
    return moduleDirsOf(files);
  }

  /** {@inheritDoc RepoReader.changedPaths} */
  async changedPaths(base: string, head: string): Promise<string[] | undefined> {
    checkSha(base, 'base commit');
    checkSha(head, 'head commit');
    // straight=true: the diff of the two trees, not from the merge base, so a rewritten history is right too.
    const { status, body } = await this.get(`/repository/compare?from=${base}&to=${head}&straight=true`);
    if (status === 404 || status === 422) return undefined;
    if (status !== 200) throw new RepoReadError(`GitLab could not compare ${base}..${head} in ${this.options.fullName}: HTTP ${status} ${messageOf(body)}`);
    const cmp = GitLabCompareSchema.safeParse(body);
    if (!cmp.success) throw new RepoReadError(`GitLab compare answer for ${this.options.fullName} is not the expected shape: ${cmp.error.issues[0]?.message ?? ''}`);
    if (cmp.data.compare_timeout || cmp.data.diffs.length >= GITLAB_COMPARE_FILE_LIMIT) return undefined;
    return [...new Set(cmp.data.diffs.flatMap((d) => [d.old_path, d.new_path]))].sort();
  }

  /** {@inheritDoc RepoReader.isAncestor} */
  async isAncestor(ancestor: string, descendant: string): Promise<boolean | undefined> {
    checkSha(ancestor, 'commit');
    checkSha(descendant, 'commit');
    if (ancestor === descendant) return true;
    // The merge base of the two is the first exactly when it is an ancestor of the second.
    const { status, body } = await this.get(`/repository/merge_base?refs[]=${ancestor}&refs[]=${descendant}`);
    if (status === 404 || status === 400) return undefined;
    if (status !== 200) throw new RepoReadError(`GitLab could not find the merge base of ${ancestor} and ${descendant} in ${this.options.fullName}: HTTP ${status} ${messageOf(body)}`);
    const base = z.object({ id: z.string() }).safeParse(body);
    if (!base.success) throw new RepoReadError(`GitLab merge base answer for ${this.options.fullName} is not the expected shape: ${base.error.issues[0]?.message ?? ''}`);
    return base.data.id === ancestor;
  }

  /** {@inheritDoc RepoReader.readFile} */
  async readFile(sha: string, path: string): Promise<string | undefined> {
    checkSha(sha, 'commit');
    checkFilePath(path);
    const { status, body } = await this.get(`/repository/files/${encodeURIComponent(path)}?ref=${sha}`);
    if (status === 404) return undefined;
    if (status !== 200) throw new RepoReadError(`GitLab could not read ${path} at ${this.options.fullName}@${sha}: HTTP ${status} ${messageOf(body)}`);
    const file = z.object({ content: z.string(), encoding: z.string().optional() }).safeParse(body);
    if (!file.success) throw new RepoReadError(`GitLab file answer for ${path} in ${this.options.fullName} is not the expected shape: ${file.error.issues[0]?.message ?? ''}`);
    return decodeContent(file.data.content, file.data.encoding, `GitLab's content of ${path}`);
  }
}
