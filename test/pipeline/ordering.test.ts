/**
 * Ordering, locking, idempotency and replay under random interleavings. The real pipeline
 * handlers run against dynalite and a real git repository; the test plays the state machine
 * (admit until ADMITTED, targets, each stage's accounts, gates, finish) and the runner (it writes
 * result.json as the runner would). Up to 8 pushes to one branch arrive in random order, some
 * twice; runner tasks fail at random (Terraform failures and infrastructure failures); executions
 * are aborted at random; every failed or aborted run is replayed as a new execution.
 *
 * Checked: applies per target only move forward in push order and never repeat a commit; when
 * everything has settled, every target is applied at a commit whose content equals the last
 * push's (no change lost); the branch is free and its queue empty (no stuck lock).
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import type { AccountItem, AccountOutcome, AdmitResult, ItemsLocation, TargetsResult } from '../../lib/pipeline/contracts';
import { readItems } from '../../lib/pipeline/items';
import type { StageCompleteResult } from '../../lib/pipeline/stage-complete';
import type { ClassifyFailureResult } from '../../lib/pipeline/classify-failure';
import type { ModuleResult } from '../../lib/domain/runner-contract';
import type { RunStore } from '../../lib/store';
import { testConfig } from '../fixtures/pipeline/config';
import { startDynalite, type DynaliteTable } from '../fixtures/pipeline/dynalite';
import { baseFiles, envelope, executionId, makeHarness, pushOf, TestRepo, type Harness } from '../fixtures/pipeline/harness';
import { seededRandom } from '../../bench/random';

const config = testConfig();
let db: DynaliteTable;

beforeAll(async () => {
  db = await startDynalite();
});
afterAll(async () => db.close());

const TARGETS: readonly (readonly [string, string, string])[] = [
  ['dev', 'dev/us-east-1/network', 'dev/us-east-1'],
  ['dev', 'dev/us-east-1/app', 'dev/us-east-1'],
  ['staging', 'staging/us-east-1/network', 'staging/us-east-1'],
  ['staging', 'staging/us-east-1/app', 'staging/us-east-1'],
  ['prod', 'prod/eu-west-1/network', 'prod/eu-west-1'],
  ['prod', 'prod/eu-west-1/app', 'prod/eu-west-1'],
];

const CHANGEABLE = [
  'dev/us-east-1/network/main.tf',
  'dev/us-east-1/app/main.tf',
  'staging/us-east-1/network/main.tf',
  'staging/us-east-1/app/main.tf',
  'prod/eu-west-1/network/main.tf',
  'prod/eu-west-1/app/terragrunt.hcl',
  'dev/us-east-1/region.hcl',
  'staging/us-east-1/region.hcl',
  'modules/shared/main.tf',
  'README.md',
];

interface Scenario {
  readonly pushes: readonly { readonly files: readonly number[]; readonly complete: boolean; readonly duplicate: boolean }[];
  readonly seed: number;
  readonly failureRate: number;
  /** Abort this execution at its n-th step (a run stopped while holding the branch). */
  readonly forceAbort?: { readonly name: string; readonly atStep: number };
  /** Executions start in push order (default: a random order). */
  readonly inOrder?: boolean;
}

interface Apply {
  readonly target: string;
  readonly commit: string;
  readonly pushIndex: number;
}

class Simulation {
  readonly applies: Apply[] = [];
  readonly ended = new Map<string, string>();
  private readonly plans = new Map<string, string>();
  private step = 0;

  constructor(
    readonly h: Harness,
    readonly rand: () => number,
    readonly commitIndex: ReadonlyMap<string, number>,
    readonly failureRate: number,
  ) {}

  private call<T>(payload: Record<string, unknown>): Promise<T> {
    this.step++;
    return this.h.handler(payload) as Promise<T>;
  }

  /** The runner double: writes result.json per module as the real runner does, and fails on demand. */
  private runTask(execution: string, item: AccountItem, phase: 'plan' | 'apply' | 'plan-and-apply', commit: string, canFail: boolean): { ok: boolean; error?: { Error: string; Cause: string } } {
    const roll = canFail ? this.rand() : 1;
    if (roll < this.failureRate / 2) {
      // An infrastructure failure before any module ran (git or credentials): exit code 4.
      return { ok: false, error: { Error: 'States.TaskFailed', Cause: JSON.stringify({ StopCode: 'EssentialContainerExited', Containers: [{ Name: 'runner', ExitCode: 4 }] }) } };
    }
    const failAt = roll < this.failureRate ? Math.floor(this.rand() * item.modules.length) : -1;
    let failed = false;
    for (const [i, module] of item.modules.entries()) {
      const base = { module, account: item.name, commit, phase, startedAt: '2026-11-20T10:00:00.000Z', finishedAt: '2026-11-20T10:01:00.000Z' };
      let result: ModuleResult;
      if (failed && phase !== 'plan') result = { ...base, status: 'skipped' };
      else if (i === failAt) {
        failed = true;
        result = { ...base, status: 'failed', error: `terraform ${phase} exited with code 1` };
      } else if (phase === 'plan') {
        const planSha256 = createHash('sha256').update(`${execution}/${item.name}/${module}/${this.rand()}`).digest('hex');
        this.plans.set(`${execution}/${item.name}/${module}`, planSha256);
        result = { ...base, status: 'planned', planSha256, plan: { add: 1, change: 0, destroy: 0, deleted: [], replaced: [] } };
      } else {
        if (phase === 'apply' && item.approvedPlans?.[module] !== this.plans.get(`${execution}/${item.name}/${module}`)) {
          throw new Error(`apply of ${module} in ${execution} without the approved plan's hash`);
        }
        this.applies.push({ target: `${item.name}:${module}`, commit, pushIndex: this.commitIndex.get(commit)! });
        result = { ...base, status: 'applied' };
      }
      this.h.artifacts.writeResult(execution, result);
    }
    return failed ? { ok: false, error: { Error: 'States.TaskFailed', Cause: JSON.stringify({ Containers: [{ Name: 'runner', ExitCode: 1 }] }) } } : { ok: true };
  }

  private async runAccount(execution: string, item: AccountItem, phase: 'plan' | 'apply' | 'plan-and-apply', source: TargetsResult['source'], canFail: boolean): Promise<AccountOutcome> {
    for (let attempt = 0; ; attempt++) {
      const task = this.runTask(execution, item, phase, source.commit, canFail);
      const common = { action: 'record-account', phase, account: item, source, execution };
      if (task.ok) return this.call<AccountOutcome>({ ...common, ok: true, task: { taskArn: 't', stoppedReason: 'done' } });
      const c = await this.call<ClassifyFailureResult>({ action: 'classify-failure', account: item, attempt, error: task.error });
      if (!c.retry) return this.call<AccountOutcome>({ ...common, ok: false, error: task.error });
    }
  }

  /** One execution as the state machine runs it; yields where other executions may interleave. */
  async *execution(name: string, input: Record<string, unknown>, canFail: boolean): AsyncGenerator<void, string> {
    const id = executionId(name);
    const state: Record<string, unknown> = { ...input };
    const finish = async (status: 'SUCCEEDED' | 'FAILED', error?: { Error: string; Cause: string }) => {
      if (error) state.error = error;
      await this.call({ action: 'finish', status, input: state, executionId: id, executionName: name });
      return status;
    };
    let run: AdmitResult;
    for (;;) {
      run = await this.call<AdmitResult>({ action: 'admit', input: state, executionId: id, executionName: name, startedAt: '2026-11-20T10:00:00.000Z' });
      state.run = { value: run };
      if (run.decision === 'ADMITTED') break;
      if (run.decision !== 'WAIT') return run.decision;
      yield;
    }
    yield;
    const targets = await this.call<TargetsResult>({ action: 'targets', input: state, run, executionName: name });
    for (const stage of targets.stages) {
      yield;
      state.current = { stage };
      // The gates read the outcomes the record steps stored, as in the state machine.
      const gate = async (phase: string, items: ItemsLocation) =>
        this.call<StageCompleteResult>({ action: 'stage-complete', phase, stage, items, execution: name, run });
      if (!stage.approval.required) {
        for (const item of await readItems(this.h.artifacts, stage.accounts)) {
          await this.runAccount(name, item, 'plan-and-apply', targets.source, canFail);
          yield;
        }
        const g = await gate('plan-and-apply', stage.accounts);
        if (g.failed) return finish('FAILED', { Error: 'StageFailed', Cause: g.reason });
      } else {
        for (const item of await readItems(this.h.artifacts, stage.accounts)) await this.runAccount(name, item, 'plan', targets.source, canFail);
        const planned = await gate('plan', stage.accounts);
        if (planned.failed) return finish('FAILED', { Error: 'StageFailed', Cause: planned.reason });
        yield; // the approval wait
        for (const item of await readItems(this.h.artifacts, planned.applyItems!)) await this.runAccount(name, item, 'apply', targets.source, canFail);
        const g = await gate('apply', planned.applyItems!);
        if (g.failed) return finish('FAILED', { Error: 'StageFailed', Cause: g.reason });
      }
    }
    return finish('SUCCEEDED');
  }

  get steps(): number {
    return this.step;
  }
}

async function fingerprint(repo: TestRepo, cache: Map<string, string>, commit: string, module: string, root: string): Promise<string> {
  const key = `${commit}:${module}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const rev = (path: string) => repo.tryGit('rev-parse', `${commit}:${path}`) ?? 'none';
  // Everything the planner treats as an input of the module: itself, its account's files, shared code.
  const value = [rev(module), rev(`${root}/region.hcl`), rev('modules/shared')].join('/');
  cache.set(key, value);
  return Promise.resolve(value);
}

async function runScenario(s: Scenario): Promise<{ ended: ReadonlyMap<string, string>; store: RunStore }> {
  const rand = seededRandom(s.seed);
  const store = await db.freshStore();
  const repo = new TestRepo();
  try {
    // GIVEN a repository whose base commit is already fully applied, then N pushes
    const base = repo.commit(baseFiles(), 'base');
    for (const [, module] of TARGETS.entries()) {
      const [account, path] = [module[0], module[1]];
      await store.recordApplied({ repository: 'acme/live', account, module: path, commit: base, sequence: `2026-11-20T09:00:00.000Z#${base}`, execution: 'seed' });
    }
    const commits: string[] = [];
    const inputs: Record<string, unknown>[] = [];
    let before = base;
    for (const [i, p] of s.pushes.entries()) {
      const files = Object.fromEntries(p.files.map((f) => [CHANGEABLE[f]!, `v${i}-${f}`]));
      const after = repo.commit(files, `push ${i}`);
      const paths = repo.git('diff', '--name-only', before, after).split('\n').filter(Boolean);
      inputs.push(envelope(pushOf(before, after, `2026-11-20T10:00:${String(i).padStart(2, '0')}.000Z`, p.complete ? paths : undefined, `delivery-${i}`)));
      commits.push(after);
      before = after;
    }
    const h = makeHarness(config, store, repo.dir);
    const sim = new Simulation(h, rand, new Map(commits.map((c, i) => [c, i])), s.failureRate);

    // Arrivals in random order; some events delivered twice.
    const arrivals: { name: string; input: Record<string, unknown>; depth: number }[] = [];
    s.pushes.forEach((p, i) => {
      arrivals.push({ name: `push-${i}`, input: inputs[i]!, depth: 0 });
      if (p.duplicate) arrivals.push({ name: `push-${i}-again`, input: inputs[i]!, depth: 0 });
    });
    for (let i = arrivals.length - 1; i > 0 && !s.inOrder; i--) {
      const j = Math.floor(rand() * (i + 1));
      [arrivals[i], arrivals[j]] = [arrivals[j]!, arrivals[i]!];
    }

    const active = new Map<string, { gen: AsyncGenerator<void, string>; depth: number; input: Record<string, unknown> }>();
    const replays = new Map<string, number>();
    let aborts = 0;
    const stepsOf = new Map<string, number>();
    const start = (name: string, input: Record<string, unknown>, depth: number) => {
      h.running.add(executionId(name));
      active.set(name, { gen: sim.execution(name, input, depth < 2), depth, input });
    };
    const replay = (name: string, input: Record<string, unknown>, depth: number) => {
      const original = name.replace(/-replay-\d+$/, '');
      const n = (replays.get(original) ?? 0) + 1;
      replays.set(original, n);
      arrivals.push({ name: `${original}-replay-${n}`, input: { ...input, tfstep: { replayOf: name } }, depth: depth + 1 });
    };

    // WHEN the executions interleave at random
    let guard = 0;
    while (arrivals.length > 0 || active.size > 0) {
      if (++guard > 4000) throw new Error(`no progress after ${guard} scheduling steps: ${[...active.keys()].join(', ')} still active`);
      const names = [...active.keys()];
      const pick = Math.floor(rand() * (names.length + (arrivals.length > 0 ? 1 : 0)));
      if (pick === names.length) {
        const next = arrivals.shift()!;
        start(next.name, next.input, next.depth);
        continue;
      }
      const name = names[pick]!;
      const ex = active.get(name)!;
      stepsOf.set(name, (stepsOf.get(name) ?? 0) + 1);
      const forced = s.forceAbort?.name === name && s.forceAbort.atStep === stepsOf.get(name);
      if (forced || (ex.depth === 0 && aborts < 2 && rand() < 0.03)) {
        // Aborted by an operator: the execution stops wherever it is, holding what it holds.
        aborts++;
        active.delete(name);
        h.running.delete(executionId(name));
        sim.ended.set(name, 'ABORTED');
        replay(name, ex.input, ex.depth);
        continue;
      }
      const r = await ex.gen.next();
      if (r.done) {
        active.delete(name);
        h.running.delete(executionId(name));
        sim.ended.set(name, r.value);
        if (r.value === 'FAILED') replay(name, ex.input, ex.depth);
      }
    }

    // THEN applies per target only move forward in push order, never twice for a commit
    const last = new Map<string, number>();
    for (const a of sim.applies) {
      const prev = last.get(a.target);
      if (prev !== undefined && a.pushIndex <= prev) {
        throw new Error(`${a.target} applied push ${a.pushIndex} after push ${prev}: ${JSON.stringify(sim.applies)}`);
      }
      last.set(a.target, a.pushIndex);
    }
    // AND every target ends with the content of the last push: no change lost
    const cache = new Map<string, string>();
    const lastCommit = commits[commits.length - 1]!;
    for (const [account, module, root] of TARGETS) {
      const applied = await store.getApplied('acme/live', account, module);
      expect(applied).toBeDefined();
      const got = await fingerprint(repo, cache, applied!.commit, module, root);
      const want = await fingerprint(repo, cache, lastCommit, module, root);
      if (got !== want) {
        throw new Error(`${account}:${module} is at ${applied!.commit} (push ${commits.indexOf(applied!.commit)}), which differs from the last push; runs: ${JSON.stringify([...sim.ended])}`);
      }
    }
    // AND the branch is free with an empty queue
    expect((await store.getLock('acme/live', 'main')).holder).toBeUndefined();
    expect(await store.listQueue('acme/live', 'main')).toEqual([]);
    return { ended: sim.ended, store };
  } finally {
    repo.remove();
  }
}

describe('ordering under random interleavings', () => {
  it('applies in push order, never twice, loses no change and leaves no stuck lock', async () => {
    const push = fc.record({
      files: fc.uniqueArray(fc.integer({ min: 0, max: CHANGEABLE.length - 1 }), { minLength: 1, maxLength: 4 }),
      complete: fc.integer({ min: 0, max: 9 }).map((n) => n < 8),
      duplicate: fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.record({ pushes: fc.array(push, { minLength: 1, maxLength: 8 }), seed: fc.integer(), failureRate: fc.constantFrom(0, 0.15, 0.3) }),
        async (scenario) => {
          await runScenario(scenario);
        },
      ),
      { numRuns: Number(process.env.TFSTEP_ORDERING_RUNS ?? 12), endOnFailure: true },
    );
  }, 600_000);

  it('recovers a stale lock from an aborted run: the next push deploys and the branch ends free', async () => {
    // GIVEN three pushes; the first is aborted after it was admitted and planned (it holds the branch)
    // WHEN the others poll, THEN they release the stale lock, deploy, and the checks of runScenario hold
    const { ended, store } = await runScenario({
      pushes: [
        { files: [0], complete: true, duplicate: true },
        { files: [1, 6], complete: true, duplicate: false },
        { files: [4], complete: false, duplicate: false },
      ],
      seed: 7,
      failureRate: 0,
      forceAbort: { name: 'push-0', atStep: 3 },
      inOrder: true,
    });
    expect(ended.get('push-0')).toBe('ABORTED');
    expect(ended.get('push-0-again')).toBe('DUPLICATE');
    expect((await store.getRunRecord('push-0'))?.status).toBe('ABORTED');
  }, 120_000);
});
