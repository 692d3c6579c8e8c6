/**
 * The local mode's git calls never take an option from data: a value starting with "-" is
 * refused before git runs, on a real repository in a temp folder.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { GitArgumentError, gitOperand } from '../../lib/domain/git-args';
import { changedPaths, commitInfo } from '../../lib/local/engine/git';
import { makeInfraRepo, tempDir } from './helpers';

describe('git arguments from data', () => {
  it('fails when a commit given to `git log` is an option: nothing is written', async () => {
    // GIVEN a real repository and a "commit" that is git's --output option
    const repo = makeInfraRepo();
    const written = path.join(tempDir('out'), 'written');
    // WHEN its message is read THEN the value is refused and git never writes the file
    await expect(commitInfo(repo, `--output=${written}`)).rejects.toThrow(GitArgumentError);
    expect(existsSync(written)).toBe(false);
  });

  it('fails when the commit of a changed-paths question is an option: nothing is written', async () => {
    const repo = makeInfraRepo();
    const head = execFileSync('git', ['-C', repo, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    const written = path.join(tempDir('out'), 'written');
    await expect(changedPaths(repo, head, `--output=${written}`)).rejects.toThrow(/starts with "-", so git would read it as an option/);
    expect(existsSync(written)).toBe(false);
  });

  it('passes a URL, path or SHA through unchanged', () => {
    expect(gitOperand('clone URL', 'https://github.com/acme/live.git')).toBe('https://github.com/acme/live.git');
    expect(gitOperand('path', '/srv/live')).toBe('/srv/live');
    expect(() => gitOperand('clone URL', '--upload-pack=touch x')).toThrow(/refused clone URL "--upload-pack=touch x"/);
  });
});
