import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { RepoReadError } from '../../lib/planning/errors';
import { GitHubRepoReader, GitLabRepoReader, gitlabApiBase, GitRepoReader, moduleDirsOf } from '../../lib/planning/repo-reader';

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, ...args], {
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' },
  }).trim();
}

function write(dir: string, file: string, text: string): void {
  mkdirSync(dirname(join(dir, file)), { recursive: true });
  writeFileSync(join(dir, file), text);
}

function commit(dir: string, message: string): string {
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', message);
  return git(dir, 'rev-parse', 'HEAD');
}

describe('moduleDirsOf', () => {
  it('keeps directories with .tf or terragrunt.hcl, never hidden ones or the root', () => {
    expect(
      moduleDirsOf(['main.tf', 'dev/us-east-1/a/main.tf', 'dev/us-east-1/a/vars.tf', 'dev/us-east-1/b/terragrunt.hcl', 'dev/us-east-1/region.hcl', 'dev/us-east-1/a/.terraform/modules/x/main.tf', 'docs/x.md']),
    ).toEqual(['dev/us-east-1/a', 'dev/us-east-1/b']);
  });
});

describe('GitRepoReader', () => {
  let dir: string;
  let first: string;
  let second: string;

  beforeAll(() => {
    // GIVEN a real repository with two commits: a module added, one edited, one removed, one renamed
    dir = mkdtempSync(join(tmpdir(), 'tfstep-reader-'));
    git(dir, 'init', '-q', '-b', 'main');
    write(dir, 'dev/us-east-1/network/main.tf', 'a');
    write(dir, 'dev/us-east-1/app/terragrunt.hcl', 'b');
    write(dir, 'dev/us-east-1/old/main.tf', 'c');
    write(dir, 'dev/us-east-1/region.hcl', 'r');
    write(dir, 'README.md', 'x');
    first = commit(dir, 'first');
    write(dir, 'dev/us-east-1/network/main.tf', 'a2');
    unlinkSync(join(dir, 'dev/us-east-1/old/main.tf'));
    git(dir, 'mv', 'dev/us-east-1/app', 'dev/us-east-1/service');
    second = commit(dir, 'second');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lists the modules at a commit', async () => {
    const reader = new GitRepoReader(dir);
    await expect(reader.listModules(first)).resolves.toEqual(['dev/us-east-1/app', 'dev/us-east-1/network', 'dev/us-east-1/old']);
    await expect(reader.listModules(second)).resolves.toEqual(['dev/us-east-1/network', 'dev/us-east-1/service']);
  });

  it('lists changed paths with both names of a rename and deleted files', async () => {
    const paths = await new GitRepoReader(dir).changedPaths(first, second);
    expect(paths).toEqual(['dev/us-east-1/app/terragrunt.hcl', 'dev/us-east-1/network/main.tf', 'dev/us-east-1/old/main.tf', 'dev/us-east-1/service/terragrunt.hcl']);
  });

  it('answers unknown for a base commit the repository does not have', async () => {
    await expect(new GitRepoReader(dir).changedPaths('e'.repeat(40), second)).resolves.toBeUndefined();
  });

  it('reads a file at a commit, and answers undefined for a missing file or a directory', async () => {
    const reader = new GitRepoReader(dir);
    await expect(reader.readFile(first, 'dev/us-east-1/app/terragrunt.hcl')).resolves.toBe('b');
    await expect(reader.readFile(second, 'dev/us-east-1/app/terragrunt.hcl')).resolves.toBeUndefined();
    await expect(reader.readFile(second, 'dev/us-east-1/network')).resolves.toBeUndefined();
    await expect(reader.readFile(second, '../outside')).rejects.toThrow(/not a repository-relative path/);
  });

  it('fails when the commit is not a full SHA or does not exist', async () => {
    const reader = new GitRepoReader(dir);
    await expect(reader.listModules('HEAD')).rejects.toThrow(/not a full 40-character hex commit SHA/);
    await expect(reader.listModules('e'.repeat(40))).rejects.toThrow(RepoReadError);
  });
});

describe('GitHubRepoReader', () => {
  let server: Server;
  let baseUrl: string;
  const seen: { url: string; headers: IncomingHttpHeaders }[] = [];
  let routes: Record<string, { status: number; body: unknown; headers?: Record<string, string> }> = {};

  beforeAll(async () => {
    // GIVEN a real HTTP server on loopback serving canned GitHub API answers
    server = createServer((req, res) => {
      seen.push({ url: req.url ?? '', headers: req.headers });
      const route = routes[req.url ?? ''] ?? { status: 404, body: { message: 'Not Found' } };
      res.writeHead(route.status, { 'content-type': 'application/json', ...route.headers });
      res.end(JSON.stringify(route.body));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => {
    seen.length = 0;
    routes = {};
  });

  const A = 'a'.repeat(40);
  const B = 'b'.repeat(40);

  it('lists modules from the recursive tree and sends the token', async () => {
    routes[`/repos/acme/live/git/trees/${B}?recursive=1`] = {
      status: 200,
      body: {
        truncated: false,
        tree: [
          { path: 'dev', type: 'tree' },
          { path: 'dev/us-east-1/network/main.tf', type: 'blob' },
          { path: 'dev/us-east-1/app/terragrunt.hcl', type: 'blob' },
          { path: 'README.md', type: 'blob' },
        ],
      },
    };
    const reader = new GitHubRepoReader({ fullName: 'acme/live', apiBaseUrl: baseUrl, token: () => Promise.resolve('tok123') });
    await expect(reader.listModules(B)).resolves.toEqual(['dev/us-east-1/app', 'dev/us-east-1/network']);
    expect(seen[0]!.headers.authorization).toBe('Bearer tok123');
  });

  it('fails when the tree is truncated', async () => {
    routes[`/repos/acme/live/git/trees/${B}?recursive=1`] = { status: 200, body: { truncated: true, tree: [] } };
    await expect(new GitHubRepoReader({ fullName: 'acme/live', apiBaseUrl: baseUrl }).listModules(B)).rejects.toThrow(/truncated/);
  });

  it('lists changed files of a fast-forward, with previous names of renames', async () => {
    routes[`/repos/acme/live/compare/${A}...${B}`] = {
      status: 200,
      body: { status: 'ahead', files: [{ filename: 'dev/x/main.tf' }, { filename: 'dev/y/main.tf', previous_filename: 'dev/z/main.tf' }] },
    };
    const reader = new GitHubRepoReader({ fullName: 'acme/live', apiBaseUrl: baseUrl });
    await expect(reader.changedPaths(A, B)).resolves.toEqual(['dev/x/main.tf', 'dev/y/main.tf', 'dev/z/main.tf']);
    expect(seen[0]!.headers.authorization).toBeUndefined();
  });

  it.each([
    ['300 files or more', { status: 200, body: { status: 'ahead', files: Array.from({ length: 300 }, (_, i) => ({ filename: `f${i}.tf` })) } }],
    ['a diverged history', { status: 200, body: { status: 'diverged', files: [{ filename: 'a.tf' }] } }],
    ['a rollback (behind)', { status: 200, body: { status: 'behind', files: [] } }],
    ['an unknown base', { status: 404, body: { message: 'Not Found' } }],
  ])('answers unknown for %s', async (_name, route) => {
    routes[`/repos/acme/live/compare/${A}...${B}`] = route;
    await expect(new GitHubRepoReader({ fullName: 'acme/live', apiBaseUrl: baseUrl }).changedPaths(A, B)).resolves.toBeUndefined();
  });

  it('reads a file from the contents API, and answers undefined for a missing file or a directory', async () => {
    routes[`/repos/acme/live/contents/dev/us-east-1/app/terragrunt.hcl?ref=${B}`] = {
      status: 200,
      body: { type: 'file', encoding: 'base64', size: 34, content: Buffer.from('dependency "vpc" {\n  config_path = "../vpc"\n}\n').toString('base64') },
    };
    routes[`/repos/acme/live/contents/dev/us-east-1?ref=${B}`] = { status: 200, body: [{ type: 'dir', name: 'app' }] };
    const reader = new GitHubRepoReader({ fullName: 'acme/live', apiBaseUrl: baseUrl });
    await expect(reader.readFile(B, 'dev/us-east-1/app/terragrunt.hcl')).resolves.toBe('dependency "vpc" {\n  config_path = "../vpc"\n}\n');
    await expect(reader.readFile(B, 'dev/us-east-1/network/terragrunt.hcl')).resolves.toBeUndefined();
    await expect(reader.readFile(B, 'dev/us-east-1')).resolves.toBeUndefined();
  });

  it('fails when the API answers an error other than not found', async () => {
    routes[`/repos/acme/live/compare/${A}...${B}`] = { status: 500, body: { message: 'boom' } };
    await expect(new GitHubRepoReader({ fullName: 'acme/live', apiBaseUrl: baseUrl }).changedPaths(A, B)).rejects.toThrow(/HTTP 500 \(boom\)/);
  });

  describe('GitLabRepoReader', () => {
    const P = '/api/v4/projects/acme%2Fsub%2Flive';
    const reader = (token?: string) => new GitLabRepoReader({ fullName: 'acme/sub/live', apiBaseUrl: `${baseUrl}/api/v4`, token: token ? () => Promise.resolve(token) : undefined });

    it('lists modules across tree pages and sends the private token', async () => {
      routes[`${P}/repository/tree?ref=${B}&recursive=true&per_page=100&page=1`] = {
        status: 200,
        body: [
          { path: 'dev', type: 'tree' },
          { path: 'dev/us-east-1/network/main.tf', type: 'blob' },
        ],
        headers: { 'x-next-page': '2' },
      };
      routes[`${P}/repository/tree?ref=${B}&recursive=true&per_page=100&page=2`] = { status: 200, body: [{ path: 'prod/eu-west-1/app/terragrunt.hcl', type: 'blob' }], headers: { 'x-next-page': '' } };
      await expect(reader('glpat-1').listModules(B)).resolves.toEqual(['dev/us-east-1/network', 'prod/eu-west-1/app']);
      expect(seen.map((r) => r.headers['private-token'])).toEqual(['glpat-1', 'glpat-1']);
    });

    it('lists both names of every changed file of a straight compare', async () => {
      routes[`${P}/repository/compare?from=${A}&to=${B}&straight=true`] = {
        status: 200,
        body: { compare_timeout: false, diffs: [{ old_path: 'dev/a/main.tf', new_path: 'dev/a/main.tf' }, { old_path: 'dev/old/x.tf', new_path: 'dev/new/x.tf' }] },
      };
      await expect(reader().changedPaths(A, B)).resolves.toEqual(['dev/a/main.tf', 'dev/new/x.tf', 'dev/old/x.tf']);
    });

    it.each([
      ['a compare that timed out', { status: 200, body: { compare_timeout: true, diffs: [] } }],
      ['1000 files or more', { status: 200, body: { diffs: Array.from({ length: 1000 }, (_, i) => ({ old_path: `f${i}`, new_path: `f${i}` })) } }],
      ['an unknown commit', { status: 404, body: { message: '404 Not Found' } }],
    ])('answers unknown for %s', async (_n, route) => {
      routes[`${P}/repository/compare?from=${A}&to=${B}&straight=true`] = route;
      await expect(reader().changedPaths(A, B)).resolves.toBeUndefined();
    });

    it('reads a file through the files API, and answers undefined for a missing one', async () => {
      routes[`${P}/repository/files/dev%2Fus-east-1%2Fapp%2Fterragrunt.hcl?ref=${B}`] = {
        status: 200,
        body: { file_path: 'dev/us-east-1/app/terragrunt.hcl', encoding: 'base64', content: Buffer.from('dependencies {\n  paths = ["../db"]\n}\n').toString('base64') },
      };
      await expect(reader().readFile(B, 'dev/us-east-1/app/terragrunt.hcl')).resolves.toBe('dependencies {\n  paths = ["../db"]\n}\n');
      await expect(reader().readFile(B, 'dev/us-east-1/db/terragrunt.hcl')).resolves.toBeUndefined();
    });

    it('fails when the tree cannot be read', async () => {
      routes[`${P}/repository/tree?ref=${B}&recursive=true&per_page=100&page=1`] = { status: 403, body: { message: '403 Forbidden' } };
      await expect(reader().listModules(B)).rejects.toThrow(/HTTP 403 \(403 Forbidden\)/);
    });

    it('derives the API base from clone URLs in any spelling', () => {
      expect(gitlabApiBase(['git@gitlab.example.com:acme/live.git'])).toBe('https://gitlab.example.com/api/v4');
      expect(gitlabApiBase(['https://gitlab.example.com/acme/live.git'])).toBe('https://gitlab.example.com/api/v4');
      expect(gitlabApiBase(['ssh://git@gitlab.example.com:2222/acme/live.git'])).toBe('https://gitlab.example.com/api/v4');
      expect(gitlabApiBase([])).toBe('https://gitlab.com/api/v4');
    });
  });
});
