/**
 * The account's region reaches the tool, and only the tool: the task runs in the central region
 * and ECS sets AWS_REGION to it, so without the policy's region a provider or S3 backend with no
 * region of its own would deploy to, or look for state in, the central region.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { EXIT } from '../../lib/domain/runner-contract';
import { baseInput, envOf, makeWorld, run, type World } from './helpers';

interface Seen {
  module: string;
  sub: string;
  AWS_REGION: string | null;
  AWS_DEFAULT_REGION: string | null;
  TF_PLUGIN_CACHE_DIR: string | null;
}

function seenBy(file: string): Seen[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Seen);
}

describe("the account's region and the plugin cache", () => {
  let world: World;
  beforeAll(() => {
    world = makeWorld({ region: 'eu-west-1' });
  });
  afterAll(() => world.cleanup());

  it('GIVEN a policy for an account in eu-west-1 and a task in us-east-1 WHEN it plans THEN terraform sees eu-west-1 and the runner environment is untouched', async () => {
    const envLog = path.join(world.root, 'env-region.log');
    writeFileSync(envLog, '');
    const taskEnv = { ...envOf(baseInput(world, { modules: ['dev/network', 'dev/app'] })), AWS_REGION: 'us-east-1', AWS_DEFAULT_REGION: 'us-east-1', TFSTEP_TEST_DOUBLE_ENV_LOG: envLog };
    const before = { ...taskEnv };
    // WHEN
    const out = await run(world, taskEnv);
    // THEN
    expect(out.code).toBe(EXIT.OK);
    const seen = seenBy(envLog);
    expect(seen.map((s) => `${s.module} ${s.sub}`)).toEqual(['dev/network init', 'dev/network plan', 'dev/network show', 'dev/app init', 'dev/app plan', 'dev/app show']);
    for (const s of seen) expect([s.AWS_REGION, s.AWS_DEFAULT_REGION]).toEqual(['eu-west-1', 'eu-west-1']);
    expect(taskEnv).toEqual(before);
  });

  it('GIVEN two modules WHEN they run THEN they share one provider plugin cache inside the task work folder, gone afterwards', async () => {
    const envLog = path.join(world.root, 'env-cache.log');
    writeFileSync(envLog, '');
    const out = await run(world, { ...envOf(baseInput(world, { execution: 'exec-cache', modules: ['dev/network', 'dev/app'] })), TF_PLUGIN_CACHE_DIR: '/elsewhere', TFSTEP_TEST_DOUBLE_ENV_LOG: envLog });
    expect(out.code).toBe(EXIT.OK);
    const dirs = new Set(seenBy(envLog).map((s) => s.TF_PLUGIN_CACHE_DIR));
    expect(dirs.size).toBe(1);
    const [dir] = [...dirs];
    expect(dir).toMatch(new RegExp(`^${world.root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/tfstep-runner-[^/]+/plugin-cache$`));
    expect(existsSync(dir!)).toBe(false);
  });
});

describe('a policy without a region', () => {
  let world: World;
  beforeAll(() => {
    world = makeWorld();
  });
  afterAll(() => world.cleanup());

  it("GIVEN no region in the policy WHEN it plans THEN terraform keeps the task's region", async () => {
    const envLog = path.join(world.root, 'env.log');
    writeFileSync(envLog, '');
    const out = await run(world, { ...envOf(baseInput(world)), AWS_REGION: 'ap-south-1', TFSTEP_TEST_DOUBLE_ENV_LOG: envLog });
    expect(out.code).toBe(EXIT.OK);
    expect(seenBy(envLog).map((s) => [s.AWS_REGION, s.AWS_DEFAULT_REGION])).toEqual([
      ['ap-south-1', null],
      ['ap-south-1', null],
      ['ap-south-1', null],
    ]);
  });
});
