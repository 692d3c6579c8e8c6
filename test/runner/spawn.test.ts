/** The local mode's way in: the runner as a child process, exactly per the spawn contract. */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { artifactKeys, EXIT } from '../../lib/domain/runner-contract';
import { runnerCommand, spawnRunner } from '../../lib/runner/spawn';
import { baseInput, makeWorld, type World } from './helpers';

let world: World;
beforeAll(() => {
  world = makeWorld();
});
afterAll(() => world.cleanup());

describe('spawnRunner', () => {
  it('GIVEN a policy file WHEN the command is built THEN it is node, the entrypoint and exactly one --policy-source=file: argument', () => {
    const cmd = runnerCommand({ policyFile: world.policyFile, bundle: '/opt/x/runner.js' });
    expect(cmd).toEqual({ command: process.execPath, args: ['/opt/x/runner.js', `--policy-source=file:${world.policyFile}`] });
  });

  it('GIVEN a plan input WHEN the runner runs as a child process THEN it exits 0 and writes the artifacts', async () => {
    const lines: string[] = [];
    const code = await spawnRunner({
      input: baseInput(world, { execution: 'exec-child' }),
      policyFile: world.policyFile,
      env: { PATH: world.bin, TFSTEP_TEST_DOUBLE_LOG: world.doubleLog },
      onLine: (l) => lines.push(l),
    });
    expect(code).toBe(EXIT.OK);
    expect(lines.join('\n')).toContain('using the terraform TEST DOUBLE');
    expect(JSON.parse(readFileSync(path.join(world.artifacts, artifactKeys.result('exec-child', 'dev', 'dev/network')), 'utf8'))).toMatchObject({ status: 'planned' });
    expect(readFileSync(world.doubleLog, 'utf8')).toContain('dev/network plan');
  });

  it('fails when the child gets an unknown TFSTEP_ variable: exit 3', async () => {
    const lines: string[] = [];
    const code = await spawnRunner({
      input: baseInput(world, { execution: 'exec-child-2' }),
      policyFile: world.policyFile,
      env: { PATH: world.bin, TFSTEP_EXTRA: '1' },
      onLine: (l, stream) => lines.push(`${stream}: ${l}`),
    });
    expect(code).toBe(EXIT.REFUSED);
    expect(lines).toEqual(['stderr: refused input: unknown environment variable TFSTEP_EXTRA']);
  });
});
