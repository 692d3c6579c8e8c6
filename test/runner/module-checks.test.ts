/**
 * In an account, a module must keep its state in a remote backend and commit its provider lock
 * file: the account stack's policy requires both (`requireRemoteBackend`, `requireLockFile`); the
 * local mode's does not. Real git repository, the terraform test double.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { artifactKeys, EXIT } from '../../lib/domain/runner-contract';
import { runnerPolicyFor } from '../../lib/domain/runner-policy';
import { localRunnerPolicy } from '../../lib/local/engine/runner-launcher';
import { declaredBackends } from '../../lib/runner/module-checks';
import { baseInput, envOf, git, makeWorld, run, type World } from './helpers';
import { testConfig } from '../fixtures/pipeline/config';

const LOCK = '# This file is maintained automatically by "terraform init".\nprovider "registry.terraform.io/hashicorp/aws" {\n  version = "5.80.0"\n}\n';

describe('module checks in an account', () => {
  let world: World;
  let commit: string;
  beforeAll(() => {
    world = makeWorld({ requireRemoteBackend: true, requireLockFile: true });
    const files: Record<string, string> = {
      'dev/remote/main.tf': 'terraform {\n  backend "s3" {\n    bucket = "acme-tf-state"\n    key    = "dev/remote.tfstate"\n  }\n}\nresource "x" "y" {}\n',
      'dev/remote/.terraform.lock.hcl': LOCK,
      'dev/nolock/main.tf': 'terraform {\n  backend "s3" {}\n}\nresource "x" "y" {}\n',
      'dev/localbackend/main.tf': 'terraform {\n  backend "local" {\n    path = "x.tfstate"\n  }\n}\n',
      'dev/localbackend/.terraform.lock.hcl': LOCK,
      'dev/commented/main.tf': '# terraform {\n#   backend "s3" {}\n# }\n/* backend "s3" {} */\nresource "x" "y" {}\n',
      'dev/commented/.terraform.lock.hcl': LOCK,
      'dev/json/main.tf.json': JSON.stringify({ terraform: { backend: { s3: { bucket: 'b', key: 'k' } } } }),
      'dev/json/.terraform.lock.hcl': LOCK,
    };
    for (const [f, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(world.repo, f)), { recursive: true });
      writeFileSync(path.join(world.repo, f), text);
    }
    git(world.repo, 'add', '-A');
    git(world.repo, 'commit', '-q', '-m', 'modules with backends');
    commit = git(world.repo, 'rev-parse', 'HEAD');
  });
  afterAll(() => world.cleanup());

  it('GIVEN an S3 backend and a committed lock file WHEN planned THEN init keeps the lock file read-only and the result records its hash', async () => {
    const out = await run(world, envOf(baseInput(world, { commit, execution: 'exec-ok', modules: ['dev/remote', 'dev/json'] })));
    expect(out.code).toBe(EXIT.OK);
    expect(out.stdout).toContain('[dev/remote] terraform init -input=false -lockfile=readonly');
    const result = JSON.parse(readFileSync(path.join(world.artifacts, artifactKeys.result('exec-ok', 'dev', 'dev/remote')), 'utf8')) as { lockFileSha256?: string };
    expect(result.lockFileSha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([
    ['no backend at all', 'dev/network', /refused module "dev\/network": it declares no remote backend;/],
    ['only a local backend', 'dev/localbackend', /refused module "dev\/localbackend": it declares no remote backend \(only "local"\)/],
    ['a backend in comments only', 'dev/commented', /refused module "dev\/commented": it declares no remote backend;/],
    ['no committed lock file', 'dev/nolock', /refused module "dev\/nolock": no \.terraform\.lock\.hcl is committed/],
  ])('refuses a module with %s before anything runs', async (_what, module, message) => {
    // GIVEN a good module first and the bad one second: nothing at all may run
    const out = await run(world, envOf(baseInput(world, { commit, execution: 'exec-bad', modules: ['dev/remote', module] })));
    expect(out.code).toBe(EXIT.REFUSED);
    expect(out.stderr).toMatch(message);
    expect(out.doubleCalls).toEqual([]);
  });

  it('reads backends from HCL and JSON, ignoring comments', async () => {
    expect(await declaredBackends(path.join(world.repo, 'dev', 'remote'))).toEqual(['s3']);
    expect(await declaredBackends(path.join(world.repo, 'dev', 'json'))).toEqual(['s3']);
    expect(await declaredBackends(path.join(world.repo, 'dev', 'commented'))).toEqual([]);
  });

  it('is what the account stack asks of every account, and the local mode does not', () => {
    const config = testConfig();
    expect(runnerPolicyFor(config, config.accounts[0]!)).toMatchObject({ requireRemoteBackend: true, requireLockFile: true });
    const local = localRunnerPolicy(config, config.accounts[0]!, world.root);
    expect([local.requireRemoteBackend, local.requireLockFile]).toEqual([undefined, undefined]);
  });
});
