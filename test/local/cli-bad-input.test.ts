/**
 * `tfstep local run` refuses bad input with exit code 2 and one clear message, before anything
 * runs: the CLI as users run it (node bin/tfstep.cjs), against real git repositories.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { FIXTURES, TWO_DEV_CONFIG, makeInfraRepo, tempDir } from './helpers';

jest.setTimeout(60_000);

const CLI = path.join(__dirname, '..', '..', 'bin', 'tfstep.cjs');

function tfstep(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const res = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}

/** The lines a refusal printed on stderr. */
function messageLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.trim() !== '');
}

describe('tfstep local run (bad input)', () => {
  const repo = makeInfraRepo();

  it('fails when the config file does not exist', () => {
    // GIVEN a config path that names no file
    const stateDir = tempDir('state');
    // WHEN the run starts
    const res = tfstep(['local', 'run', '--config', path.join(FIXTURES, 'missing.yaml'), '--repo', repo, '--state-dir', stateDir]);
    // THEN it exits 2 with one message naming the file and what was expected, and touches no state
    expect(res.status).toBe(2);
    expect(res.stderr).toMatch(/^tfstep: .*missing\.yaml: 1 problem in the config/);
    expect(res.stderr).toContain('no such file; expected a readable tfstep YAML config file');
    expect(existsSync(path.join(stateDir, 'dynamodb'))).toBe(false);
  });

  it('fails when the config is invalid, listing every problem', () => {
    // GIVEN a config with a short account id and an unknown stage
    // WHEN the run starts
    const res = tfstep(['local', 'run', '--config', path.join(FIXTURES, 'invalid.yaml'), '--repo', repo, '--state-dir', tempDir('state')]);
    // THEN it exits 2 and says what was wrong and what was expected
    expect(res.status).toBe(2);
    expect(res.stderr).toMatch(/^tfstep: .*invalid\.yaml: \d+ problems in the config/);
    expect(res.stderr).toContain('accounts[0].id: got "12345"; expected a 12-digit AWS account id');
    expect(res.stderr).toContain('accounts[0].stage');
  });

  it('fails when the repository directory is not a git repository', () => {
    // GIVEN an empty folder
    const notRepo = tempDir('plain');
    // WHEN the run starts
    const res = tfstep(['local', 'run', '--config', TWO_DEV_CONFIG, '--repo', notRepo, '--state-dir', tempDir('state')]);
    // THEN it exits 2 with one message
    expect(res.status).toBe(2);
    expect(messageLines(res.stderr)).toEqual([`tfstep: ${notRepo} is not a git repository; expected the path of a local git repository (a folder with .git)`]);
  });

  it('fails when the ref is not the deploy branch', () => {
    // GIVEN a config that deploys main
    // WHEN the run starts with another branch ref
    const res = tfstep(['local', 'run', '--config', TWO_DEV_CONFIG, '--repo', repo, '--ref', 'refs/heads/main-missing', '--state-dir', tempDir('state')]);
    // THEN it exits 2 with one message
    expect(res.status).toBe(2);
    expect(messageLines(res.stderr)).toHaveLength(1);
    expect(res.stderr).toMatch(/^tfstep: branch main-missing of acme\/live does not deploy; only main does/);
  });

  it('fails when the ref does not exist in the repository', () => {
    // GIVEN a repository whose only branch is not the deploy branch
    const other = makeInfraRepo();
    spawnSync('git', ['-C', other, 'branch', '-m', 'main', 'trunk']);
    // WHEN the run starts (the config deploys main)
    const res = tfstep(['local', 'run', '--config', TWO_DEV_CONFIG, '--repo', other, '--state-dir', tempDir('state')]);
    // THEN it exits 2 with one message naming the ref
    expect(res.status).toBe(2);
    expect(messageLines(res.stderr)).toEqual([`tfstep: ref refs/heads/main does not exist in ${other}; expected an existing branch ref such as refs/heads/main`]);
  });

  it('fails when the SHA names no commit of the repository', () => {
    // GIVEN a well-formed SHA that is not in the repository
    const sha = 'f'.repeat(40);
    // WHEN the run starts with it
    const res = tfstep(['local', 'run', '--config', TWO_DEV_CONFIG, '--repo', repo, '--sha', sha, '--state-dir', tempDir('state')]);
    // THEN it exits 2 with one message
    expect(res.status).toBe(2);
    expect(messageLines(res.stderr)).toEqual([`tfstep: commit ${sha} does not exist in ${repo}; expected a full 40-character SHA of a commit in the repository`]);
  });

  it('fails when the SHA is abbreviated', () => {
    // WHEN the run starts with a short SHA
    const res = tfstep(['local', 'run', '--config', TWO_DEV_CONFIG, '--repo', repo, '--sha', 'abc1234', '--state-dir', tempDir('state')]);
    // THEN it exits 2 and says a full SHA is expected
    expect(res.status).toBe(2);
    expect(messageLines(res.stderr)).toHaveLength(1);
    expect(res.stderr).toContain('expected a full 40-character SHA');
  });

  it('fails when --approve is not a mode', () => {
    // WHEN the run starts with an unknown approval mode
    const res = tfstep(['local', 'run', '--config', TWO_DEV_CONFIG, '--repo', repo, '--approve', 'maybe', '--state-dir', tempDir('state')]);
    // THEN it exits 2 naming the modes
    expect(res.status).toBe(2);
    expect(messageLines(res.stderr)).toEqual(['tfstep: --approve "maybe" is not a mode; expected prompt, auto or reject']);
  });
});
