/**
 * An execution that ends without reaching Finish, through the real definition in the local engine:
 * the local mode hands its status change to the pipeline function, as the EventBridge rule does
 * in AWS, so the branch is released, the run recorded, and a run queued behind it is woken.
 *
 * The ECS task is a stand-in that never exits until the execution is stopped (named as such):
 * what is tested is the pipeline around it.
 */
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';
import { parseConfig } from '../../lib/config/parse';
import type { JsonObject } from '../../lib/local/engine/definition';
import type { LocalTaskContext, LocalTaskRunner } from '../../lib/local/engine/engine';
import { StatesError } from '../../lib/local/engine/errors';
import { buildLocalPush, resolveLocalSource } from '../../lib/local/engine/push';
import { LocalPipeline } from '../../lib/local/engine/session';
import { openLocalStore, type LocalStore } from '../../lib/local/engine/store';
import { commit, makeInfraRepo, moduleTf, tempDir, TWO_DEV_CONFIG, until } from './helpers';

jest.setTimeout(120_000);

/** Waits until an asynchronous condition holds. */
async function untilTrue(predicate: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Stands in for an ECS task that runs until its execution is stopped. */
class HangingTaskRunner implements LocalTaskRunner {
  /** The executions that started a task, one entry per task. */
  readonly started: string[] = [];
  runTask(_parameters: JsonObject, ctx: LocalTaskContext): Promise<JsonObject> {
    this.started.push(ctx.executionName);
    return new Promise((_resolve, reject) => {
      ctx.signal.addEventListener('abort', () => reject(new StatesError('States.TaskFailed', JSON.stringify({ StoppedReason: 'the execution was stopped' }))), { once: true });
    });
  }
}

describe('an execution that ends without finish in the local mode', () => {
  let store: LocalStore | undefined;
  let pipeline: LocalPipeline | undefined;
  afterEach(async () => {
    pipeline?.stopAll();
    await store?.close();
    store = undefined;
    pipeline = undefined;
  });

  it('releases the branch, records the run ABORTED and wakes the run queued behind it', async () => {
    // GIVEN a run holding the branch with a task that never ends, and a second push queued behind it
    const repo = makeInfraRepo();
    const stateDir = tempDir('state');
    const config = parseConfig(parse(readFileSync(TWO_DEV_CONFIG, 'utf8')), TWO_DEV_CONFIG);
    store = await openLocalStore(stateDir);
    const runner = new HangingTaskRunner();
    pipeline = await LocalPipeline.create({ config, stateDir, repoDir: repo, store, taskRunner: runner, noBundle: true });
    const first = await buildLocalPush(await resolveLocalSource({ config, repoDir: repo }), pipeline.runStore);
    const holder = pipeline.start(first.input);
    await until(() => runner.started.includes(holder.executionName), 60_000, 'the first run to start its task');
    commit(repo, { 'dev-a/us-east-1/app/main.tf': moduleTf('app', 'v2') }, 'second change');
    const second = await buildLocalPush(await resolveLocalSource({ config, repoDir: repo }), pipeline.runStore, new Date(Date.now() + 1000));
    const queued = pipeline.start(second.input);
    const runs = pipeline.runStore;
    await untilTrue(async () => (await runs.listQueue('acme/live', 'main')).some((e) => e.execution === queued.executionName && e.token !== undefined), 60_000, 'the second run to wait on its token');

    // WHEN the holder's execution is stopped: it never reaches Finish
    holder.execution.stop();
    const ended = await holder.done;

    // THEN it ended ABORTED, and the status change recorded it and released the branch
    expect(ended.execution.status).toBe('ABORTED');
    expect(await runs.getRunRecord(holder.executionName)).toMatchObject({ status: 'ABORTED', reason: expect.stringMatching(/^the execution was stopped before it could record its end/) });
    // AND the queued run was woken, took the branch and started its own task
    expect(runner.started).not.toContain(queued.executionName);
    await until(() => runner.started.includes(queued.executionName), 60_000, 'the queued run to start its task');
    expect((await runs.getLock('acme/live', 'main')).holder).toBe(queued.executionName);
    queued.execution.stop();
    await queued.done;
  });
});
