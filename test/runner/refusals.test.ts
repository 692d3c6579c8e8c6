/**
 * Hostile inputs against real git repositories: each is refused with exit 3, one line on
 * stderr, and the terraform double never runs.
 */
import { execFileSync } from 'node:child_process';
import { EXIT, type RunnerInput } from '../../lib/domain/runner-contract';
import { checkInputAgainstPolicy } from '../../lib/runner/policy';
import { runnerTask } from '../../lib/runner/spawn';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { baseInput, envOf, makeWorld, manifestOf, run, type World } from './helpers';

let world: World;
beforeAll(() => {
  world = makeWorld();
});
afterAll(() => world.cleanup());

async function expectRefused(env: Record<string, string | undefined>, pattern: RegExp, argv?: string[]): Promise<void> {
  const out = await run(world, env, { argv });
  expect(out.stderr.trim().split('\n')).toHaveLength(1);
  expect(out.stderr).toMatch(pattern);
  expect(out.doubleCalls).toEqual([]);
  expect(out.code).toBe(EXIT.REFUSED);
}

const withInput = (overrides: Partial<RunnerInput>) => envOf(baseInput(world, overrides));

describe('runner refusals', () => {
  it('fails when the ref holds shell metacharacters', async () => {
    await expectRefused(withInput({ ref: 'refs/heads/main;touch ~/pwned' }), /TFSTEP_REF.*branch ref/);
  });

  it('fails when the ref is $(...) command substitution', async () => {
    await expectRefused(withInput({ ref: 'refs/heads/$(id)' }), /TFSTEP_REF/);
  });

  it('fails when a module path holds shell metacharacters', async () => {
    await expectRefused(withInput({ modules: ['dev/network;rm -rf /'] }), /refused manifest accounts\/dev\/exec-1\/plan\.manifest\.json: modules\[0\]/);
  });

  it('fails when a module path holds a backtick substitution', async () => {
    await expectRefused(withInput({ modules: ['dev/`id`'] }), /refused manifest accounts\/dev\/exec-1\/plan\.manifest\.json: modules\[0\]/);
  });

  it('fails when a module path climbs out with ..', async () => {
    await expectRefused(withInput({ modules: ['dev/../../outside'] }), /modules\[0\]="dev\/\.\.\/\.\.\/outside": a path without "\." or "\.\." segments/);
  });

  it('fails when a module path is absolute', async () => {
    await expectRefused(withInput({ modules: ['/etc'] }), /modules\[0\]="\/etc"/);
  });

  it('fails when a module directory is a symlink out of the checkout', async () => {
    await expectRefused(withInput({ modules: ['dev/escape'] }), /refused module "dev\/escape": resolves outside the checkout/);
  });

  it('fails when a module holds a file symlinked out of the checkout', async () => {
    await expectRefused(withInput({ modules: ['dev/linkfile'] }), /refused module "dev\/linkfile": "extra.tf" links outside the checkout/);
  });

  it('fails when one module of several is bad: the good ones do not run either', async () => {
    await expectRefused(withInput({ modules: ['dev/network', 'dev/app', 'dev/escape'] }), /dev\/escape/);
  });

  it('fails when a module does not exist at the commit', async () => {
    await expectRefused(withInput({ modules: ['dev/missing'] }), /refused module "dev\/missing": no such directory/);
  });

  it('fails when a module is inside .git', async () => {
    await expectRefused(withInput({ modules: ['.git/hooks'] }), /inside the \.git directory/);
  });

  it('fails when a branch name is given where a SHA is required', async () => {
    await expectRefused(withInput({ commit: 'main' }), /TFSTEP_COMMIT="main": a full 40-character hex commit SHA/);
  });

  it('fails when an abbreviated SHA is given', async () => {
    await expectRefused(withInput({ commit: world.main.slice(0, 12) }), /TFSTEP_COMMIT/);
  });

  it('fails when the SHA is not in the repository', async () => {
    await expectRefused(withInput({ commit: 'deadbeef'.repeat(5) }), /refused commit deadbeef.*not found in the repository/);
  });

  it('fails when the SHA names a tree, not a commit: a refusal (exit 3), not an infrastructure error', async () => {
    // GIVEN the SHA of the tree of main's head, an object the repository really holds
    const tree = execFileSync('git', ['-C', world.repo, 'rev-parse', `${world.main}^{tree}`], { encoding: 'utf8' }).trim();
    // WHEN the runner is asked to deploy it THEN it refuses it as not a commit
    await expectRefused(withInput({ commit: tree }), new RegExp(`refused commit ${tree}: .*not a commit`));
  });

  it('fails when the SHA names a blob, not a commit', async () => {
    const blob = execFileSync('git', ['-C', world.repo, 'rev-parse', `${world.main}:README.md`], { encoding: 'utf8' }).trim();
    await expectRefused(withInput({ commit: blob }), new RegExp(`refused commit ${blob}: .*not a commit`));
  });

  it('fails when the commit is not on the allowed ref', async () => {
    await expectRefused(withInput({ commit: world.feature }), new RegExp(`refused commit ${world.feature}: not reachable from the allowed ref refs/heads/main`));
  });

  it('fails when the ref is not in the policy', async () => {
    await expectRefused(withInput({ ref: 'refs/heads/feature', commit: world.feature }), /refused ref "refs\/heads\/feature"/);
  });

  it('fails when an unknown TFSTEP_ variable is set', async () => {
    await expectRefused({ ...withInput({}), TFSTEP_DEBUG: '1' }, /unknown environment variable TFSTEP_DEBUG/);
  });

  it('fails when the double-only TFSTEP_MODULE_PATH is injected as input', async () => {
    await expectRefused({ ...withInput({}), TFSTEP_MODULE_PATH: 'dev/app' }, /unknown environment variable TFSTEP_MODULE_PATH/);
  });

  it('fails when extra arguments follow the policy source (an ECS command override)', async () => {
    await expectRefused(withInput({}), /exactly one --policy-source=/, [`--policy-source=file:${world.policyFile}`, 'sh', '-c', 'id']);
  });

  it('fails when the only argument is not a policy source', async () => {
    await expectRefused(withInput({}), /--policy-source=ssm:NAME or --policy-source=file:PATH/, ['--policy-source=https://evil.example/policy']);
  });

  it('fails when the account is not the policy account', async () => {
    await expectRefused(withInput({ account: 'prod' }), /refused account "prod": this runner serves account "dev"/);
  });

  it('fails when the phase is not allowed by the policy', async () => {
    const w = makeWorld({ phases: ['plan'] });
    try {
      const out = await run(w, envOf(baseInput(w, { phase: 'plan-and-apply' })));
      expect(out.code).toBe(EXIT.REFUSED);
      expect(out.stderr).toMatch(/refused phase "plan-and-apply": this runner may only run plan/);
      expect(out.doubleCalls).toEqual([]);
    } finally {
      w.cleanup();
    }
  });

  it('fails when a subcommand the phase needs is not allowed', async () => {
    const w = makeWorld({ allowedSubcommands: ['init', 'plan', 'show'] });
    try {
      const out = await run(w, envOf(baseInput(w, { phase: 'plan-and-apply' })));
      expect(out.code).toBe(EXIT.REFUSED);
      expect(out.stderr).toMatch(/refused subcommand "apply": not in the policy's allowedSubcommands/);
      expect(out.doubleCalls).toEqual([]);
    } finally {
      w.cleanup();
    }
  });

  it.each([
    ['another repository on the same host', 'https://github.com/acme/evil'],
    ['a lookalike host', 'https://github.com.evil.example/acme/live'],
    ['userinfo hiding the real host', 'https://github.com@evil.example/acme/live'],
    ['a git remote helper', 'ext::sh -c touch% ~/pwned'],
    ['an option instead of a URL', '--upload-pack=touch ~/pwned'],
    ['another local path', '/tmp'],
  ])('fails when the repository is %s', async (_what, repository) => {
    await expectRefused(withInput({ repository }), /refused repository/);
  });

  it('fails when apply has no approved plan hashes', async () => {
    await expectRefused(withInput({ phase: 'apply' }), /approvedPlans.*apply needs an approved plan hash for dev\/network/);
  });

  describe('the manifest', () => {
    const file = (key: string) => path.join(world.artifacts, key);
    const plant = (key: string, body: string) => {
      mkdirSync(path.dirname(file(key)), { recursive: true });
      writeFileSync(file(key), body);
    };

    it('fails when the manifest was changed after its SHA-256 was taken: nothing runs', async () => {
      // GIVEN the task's manifest, then a module added to it in the store
      const { env, manifest } = runnerTask(baseInput(world, { execution: 'exec-altered' }));
      plant(manifest.key, manifest.body.replace('"dev/network"', '"dev/network","dev/app"'));
      // WHEN the runner reads it THEN it refuses, naming both hashes
      await expectRefused(env, /refused manifest accounts\/dev\/exec-altered\/plan\.manifest\.json: its SHA-256 is [0-9a-f]{64}, the task names [0-9a-f]{64}/);
    });

    it('fails when the task names a manifest under another account\'s prefix', async () => {
      const input = baseInput(world, { execution: 'exec-other' });
      const other = manifestOf({ ...input, account: 'prod' });
      plant(other.key, other.body);
      await expectRefused({ ...envOf(input), TFSTEP_MANIFEST: other.key, TFSTEP_MANIFEST_SHA256: other.sha256 }, /refused manifest "accounts\/prod\/exec-other\/plan\.manifest\.json": this task's manifest is accounts\/dev\/exec-other\/plan\.manifest\.json/);
    });

    it('fails when the manifest is not in the store', async () => {
      const input = baseInput(world, { execution: 'exec-missing' });
      const { key, sha256 } = manifestOf(input);
      await expectRefused({ ...envOf(input), TFSTEP_MANIFEST_SHA256: sha256.replace(/^./, (c) => (c === '0' ? '1' : '0')) }, new RegExp(`refused manifest ${key.replace(/[./]/g, '\\$&')}`));
    });

    it('fails when the manifest at the task\'s key is another task\'s, even with a matching hash', async () => {
      // GIVEN a plan task's manifest that says phase apply (as if copied from the apply task)
      const input = baseInput(world, { execution: 'exec-phase' });
      const { key } = manifestOf(input);
      const foreign = `${JSON.stringify({ account: 'dev', execution: 'exec-phase', phase: 'apply', modules: ['dev/network'], approvedPlans: { 'dev/network': 'a'.repeat(64) } })}\n`;
      plant(key, foreign);
      const sha = createHash('sha256').update(foreign).digest('hex');
      await expectRefused({ ...envOf(input), TFSTEP_MANIFEST_SHA256: sha }, /refused manifest accounts\/dev\/exec-phase\/plan\.manifest\.json: it is for phase "apply", the task runs "plan"/);
    });

    it('fails when the overrides carry no manifest', async () => {
      const env = envOf(baseInput(world, { execution: 'exec-none' }));
      await expectRefused({ ...env, TFSTEP_MANIFEST: undefined }, /refused input: TFSTEP_MANIFEST: Required|refused input: TFSTEP_MANIFEST/);
    });
  });

  it('fails when the module list comes as an override: TFSTEP_MODULES is no longer an input', async () => {
    await expectRefused({ ...withInput({}), TFSTEP_MODULES: '["dev/network"]' }, /unknown environment variable TFSTEP_MODULES/);
  });

});

describe('repository spellings the policy allows', () => {
  const policy = {
    account: 'dev',
    repositories: ['git@github.com:acme/live.git'],
    refs: ['refs/heads/main'],
    tool: 'terraform' as const,
    allowedSubcommands: ['init', 'plan', 'show', 'apply'],
    phases: ['plan' as const],
    artifacts: 's3://bucket',
    planRecords: 'dynamodb://tfstep-plan-records-us-east-1',
  };
  it.each([
    'git@github.com:acme/live.git',
    'https://github.com/acme/live',
    'https://github.com/acme/live.git',
    'ssh://git@github.com/acme/live.git',
    'https://GITHUB.com/acme/live/',
  ])('GIVEN the input spelling %s WHEN checked THEN git clones the policy spelling', (repository) => {
    const input = { repository, commit: 'a'.repeat(40), ref: 'refs/heads/main', account: 'dev', stage: 'dev', phase: 'plan' as const, modules: ['m'], execution: 'e' };
    expect(checkInputAgainstPolicy(input, policy)).toEqual({ cloneUrl: 'git@github.com:acme/live.git' });
  });

  it.each([
    ['file:// URL', (w: World) => `file://${w.repo}`],
    ['trailing slash', (w: World) => `${w.repo}/`],
  ])('GIVEN a local repository spelled with a %s WHEN planned THEN it runs', async (_what, spell) => {
    const out = await run(world, withInput({ repository: spell(world), execution: `spelling-${Math.random().toString(36).slice(2, 8)}` }));
    expect(out.stderr).toBe('');
    expect(out.code).toBe(EXIT.OK);
  });
});
