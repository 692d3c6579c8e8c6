import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ConfigError } from '../../lib/config/errors';
import { MAX_MODULE_CONCURRENCY as CONFIG_MAX } from '../../lib/config/schema';
import { MAX_MODULE_CONCURRENCY } from '../../lib/domain/runner-contract';
import { dependencyGraphs, discoverDependencies, normalizeRepoPath } from '../../lib/planning/dependencies';
import { DependencyGraphError } from '../../lib/planning/errors';
import { GitRepoReader } from '../../lib/planning/repo-reader';
import { TEST_MODULES, testConfig } from '../fixtures/pipeline/config';

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, ...args], {
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' },
  }).trim();
}

/** A real git repository holding `files`, committed; answers the reader and the commit. */
function repoWith(files: Record<string, string>): { dir: string; sha: string; reader: GitRepoReader } {
  const dir = mkdtempSync(join(tmpdir(), 'tfstep-deps-'));
  git(dir, 'init', '-q', '-b', 'main');
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), text);
  }
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'modules');
  return { dir, sha: git(dir, 'rev-parse', 'HEAD'), reader: new GitRepoReader(dir) };
}

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Discovers the graphs of a terragrunt repository made of `files`. */
async function discoverTerragrunt(files: Record<string, string>) {
  const repo = repoWith(files);
  dirs.push(repo.dir);
  const config = testConfig({ runner: { tool: 'terragrunt' } });
  const modules = await repo.reader.listModules(repo.sha);
  return discoverDependencies({ config, modules, readFile: (path) => repo.reader.readFile(repo.sha, path) });
}

describe('dependsOn rules', () => {
  it('gives every account the same edges from one rule relative to the account root', async () => {
    // GIVEN one rule: app depends on network
    const config = testConfig({ dependsOn: [{ module: 'app', on: ['network'] }] });
    // WHEN the graphs are built
    const found = await discoverDependencies({ config, modules: TEST_MODULES });
    // THEN each account's app depends on its own network, and nothing is wrong
    expect(found.problems).toEqual([]);
    expect(found.accounts.map((g) => [g.account, g.dependencies])).toEqual([
      ['dev', { 'dev/us-east-1/app': ['dev/us-east-1/network'] }],
      ['staging', { 'staging/us-east-1/app': ['staging/us-east-1/network'] }],
      ['prod', { 'prod/eu-west-1/app': ['prod/eu-west-1/network'] }],
    ]);
    expect(found.accounts[0]!.modules).toEqual(['dev/us-east-1/app', 'dev/us-east-1/network']);
  });

  it('fills {account}, {region} and {stage} in patterns relative to the repository, and matches * and **', async () => {
    // GIVEN repository-relative patterns and nested modules
    const modules = ['dev/us-east-1/network', 'dev/us-east-1/services/api', 'dev/us-east-1/services/web/frontend', 'dev/us-east-1/db'];
    const config = testConfig({ dependsOn: [{ module: '/{account}/{region}/services/**', on: ['/{account}/{region}/network', 'd?'] }] });
    // WHEN the graphs are built
    const found = await discoverDependencies({ config, modules });
    // THEN both services (at any depth) depend on network and db
    expect(found.problems).toEqual([]);
    expect(found.accounts[0]!.dependencies).toEqual({
      'dev/us-east-1/services/api': ['dev/us-east-1/db', 'dev/us-east-1/network'],
      'dev/us-east-1/services/web/frontend': ['dev/us-east-1/db', 'dev/us-east-1/network'],
    });
  });

  it('leaves a module out of its own upstreams: "everything depends on network"', async () => {
    const config = testConfig({ dependsOn: [{ module: '*', on: ['network'] }] });
    const found = await discoverDependencies({ config, modules: TEST_MODULES });
    expect(found.problems).toEqual([]);
    expect(found.accounts[0]!.dependencies).toEqual({ 'dev/us-east-1/app': ['dev/us-east-1/network'] });
  });

  it('fails when a rule names a module that does not exist, naming the account, the module and the rule', async () => {
    const config = testConfig({ dependsOn: [{ module: 'app', on: ['vpc'] }] });
    const found = await discoverDependencies({ config, modules: TEST_MODULES });
    expect(found.problems).toContain('account dev: dev/us-east-1/app depends on dev/us-east-1/vpc (dependsOn[0]: on "vpc"), which is not a module (no *.tf or terragrunt.hcl there)');
    expect(found.problems).toHaveLength(3);
    await expect(dependencyGraphs({ config, modules: TEST_MODULES })).rejects.toThrow(DependencyGraphError);
  });

  it('fails when a rule reaches a module of another account, saying that stages order accounts', async () => {
    // GIVEN app depending on the dev network wherever it is
    const config = testConfig({ dependsOn: [{ module: 'app', on: ['/dev/us-east-1/network'] }] });
    const found = await discoverDependencies({ config, modules: TEST_MODULES });
    // THEN dev is fine, the other accounts are refused
    expect(found.accounts[0]!.dependencies).toEqual({ 'dev/us-east-1/app': ['dev/us-east-1/network'] });
    expect(found.problems).toEqual([
      'account staging: staging/us-east-1/app depends on dev/us-east-1/network (dependsOn[0]: on "/dev/us-east-1/network"), a module of account dev; a dependency stays within one account, and accounts are ordered by the stages (stageOrder)',
      'account prod: prod/eu-west-1/app depends on dev/us-east-1/network (dependsOn[0]: on "/dev/us-east-1/network"), a module of account dev; a dependency stays within one account, and accounts are ordered by the stages (stageOrder)',
    ]);
  });

  it('fails when the rules form a cycle, naming its modules in order', async () => {
    const config = testConfig({
      dependsOn: [
        { module: 'app', on: ['network'] },
        { module: 'network', on: ['app'] },
      ],
    });
    const found = await discoverDependencies({ config, modules: TEST_MODULES });
    expect(found.problems).toContain('account dev: the dependencies form a cycle: dev/us-east-1/app -> dev/us-east-1/network -> dev/us-east-1/app');
  });

  it('names a longer cycle along its edges, once per cycle', async () => {
    const modules = ['dev/us-east-1/a', 'dev/us-east-1/b', 'dev/us-east-1/c', 'dev/us-east-1/d'];
    const config = testConfig({
      dependsOn: [
        { module: 'a', on: ['c'] },
        { module: 'c', on: ['b'] },
        { module: 'b', on: ['a'] },
        { module: 'd', on: ['a'] },
      ],
    });
    const found = await discoverDependencies({ config, modules });
    expect(found.problems).toEqual(['account dev: the dependencies form a cycle: dev/us-east-1/a -> dev/us-east-1/c -> dev/us-east-1/b -> dev/us-east-1/a']);
  });

  it('refuses bad patterns and a moduleConcurrency above the limit in the config, saying what was expected', () => {
    const bad = (dependsOn: unknown, runner: unknown = {}) => {
      try {
        testConfig({ dependsOn, runner });
      } catch (err) {
        if (err instanceof ConfigError) return err.problems.map((p) => `${p.path}: ${p.expected}`);
        throw err;
      }
      return [];
    };
    expect(bad([{ module: '../app', on: ['network'] }])[0]).toMatch(/^dependsOn\[0\]\.module: "\.\.\/app" has a "\.\." segment/);
    expect(bad([{ module: 'app', on: ['net[0-9]'] }])[0]).toMatch(/^dependsOn\[0\]\.on\[0\]: "net\[0-9\]" has the character "\["/);
    expect(bad([{ module: 'app/**x', on: ['network'] }])[0]).toMatch(/"\*\*" stands alone between slashes/);
    expect(bad([{ module: '{account}/app', on: ['network'] }])[0]).toMatch(/start the pattern with "\/"/);
    expect(bad([{ module: 'app/', on: ['network'] }])[0]).toMatch(/empty segment/);
    expect(bad([{ module: 'app', on: [] }])[0]).toMatch(/^dependsOn\[0\]\.on: at least one module pattern/);
    expect(bad([], { moduleConcurrency: 9 })[0]).toMatch(/^runner\.moduleConcurrency: /);
    expect(testConfig().runner.moduleConcurrency).toBe(1);
    expect(CONFIG_MAX).toBe(MAX_MODULE_CONCURRENCY);
  });
});

describe('terragrunt dependency blocks', () => {
  it('reads dependency and dependencies blocks of real terragrunt.hcl files', async () => {
    // GIVEN app with a dependency block (and mock outputs) and a dependencies block, db with a get_terragrunt_dir() path
    const found = await discoverTerragrunt({
      'dev/us-east-1/network/terragrunt.hcl': 'terraform { source = "../../../modules/network" }\n',
      'dev/us-east-1/db/terragrunt.hcl': 'dependency "net" {\n  config_path = "${get_terragrunt_dir()}/../network"\n}\n',
      'dev/us-east-1/app/terragrunt.hcl': [
        'include "root" {\n  path = find_in_parent_folders()\n}',
        'dependency "vpc" {\n  config_path = "../network"\n  mock_outputs = { vpc_id = "vpc-mock" }\n}',
        'dependencies {\n  paths = ["../db", "./../network"]\n}',
        'dependency "off" {\n  config_path = "../gone"\n  enabled     = false\n}',
        'inputs = {\n  vpc_id = dependency.vpc.outputs.vpc_id\n}\n',
      ].join('\n'),
      'staging/us-east-1/app/terragrunt.hcl': '',
    });
    // THEN the edges are those, and the disabled one orders nothing
    expect(found.problems).toEqual([]);
    expect(found.accounts[0]!.dependencies).toEqual({
      'dev/us-east-1/app': ['dev/us-east-1/db', 'dev/us-east-1/network'],
      'dev/us-east-1/db': ['dev/us-east-1/network'],
    });
    expect(found.accounts[1]!.dependencies).toEqual({});
  });

  it('fails when a dependency is no module, in another account, outside the repository or an expression', async () => {
    const found = await discoverTerragrunt({
      'dev/us-east-1/network/terragrunt.hcl': '',
      'staging/us-east-1/network/terragrunt.hcl': '',
      'dev/us-east-1/app/terragrunt.hcl': [
        'dependency "a" {\n  config_path = "../vpc"\n}',
        'dependency "b" {\n  config_path = "../../../staging/us-east-1/network"\n}',
        'dependency "c" {\n  config_path = "../../../../elsewhere"\n}',
        'dependency "d" {\n  config_path = find_in_parent_folders("network")\n}\n',
      ].join('\n'),
    });
    expect([...found.problems].sort()).toEqual(
      [
        'account dev: dev/us-east-1/app depends on dev/us-east-1/vpc (dev/us-east-1/app/terragrunt.hcl: dependency "a" config_path), which is not a module (no *.tf or terragrunt.hcl there)',
        'account dev: dev/us-east-1/app depends on staging/us-east-1/network (dev/us-east-1/app/terragrunt.hcl: dependency "b" config_path), a module of account staging; a dependency stays within one account, and accounts are ordered by the stages (stageOrder)',
        'dev/us-east-1/app/terragrunt.hcl: dependency "c" config_path "../../../../elsewhere" leads outside the repository',
        'dev/us-east-1/app/terragrunt.hcl: dependency "d" config_path is "${find_in_parent_folders("network")}"; tfstep reads dependencies without running terragrunt, so it takes a path relative to the module ("../network"), optionally starting with ${get_terragrunt_dir()}',
      ].sort(),
    );
  });

  it('fails on a cycle through terragrunt files, and on a file that is not HCL', async () => {
    const found = await discoverTerragrunt({
      'dev/us-east-1/a/terragrunt.hcl': 'dependencies {\n  paths = ["../b"]\n}\n',
      'dev/us-east-1/b/terragrunt.hcl': 'dependency "a" {\n  config_path = "../a"\n}\n',
      'dev/us-east-1/c/terragrunt.hcl': 'dependency "x" {\n',
    });
    expect(found.problems[0]).toMatch(/^dev\/us-east-1\/c\/terragrunt\.hcl cannot be parsed as HCL: .*Unclosed configuration block/);
    expect(found.problems).toContain('account dev: the dependencies form a cycle: dev/us-east-1/a -> dev/us-east-1/b -> dev/us-east-1/a');
  });
});

describe('normalizeRepoPath', () => {
  it('resolves "." and ".." and refuses climbing above the root', () => {
    expect(normalizeRepoPath('dev/us-east-1/app/../network')).toBe('dev/us-east-1/network');
    expect(normalizeRepoPath('dev/./app')).toBe('dev/app');
    expect(normalizeRepoPath('dev/../../x')).toBeUndefined();
  });
});
