/**
 * Ordering, locking, fencing, idempotency and replay under random interleavings. The real
 * pipeline handlers run against dynalite and a real git repository; the test plays the state
 * machine (admit until ADMITTED, targets, each stage's accounts with the lease check before each
 * task, gates, the approval, finish) and the runner (it writes result.json as the runner would).
 *
 * Up to 8 pushes to one branch arrive in random order, some twice, their webhooks received in
 * any order or at the same moment (so arrival says nothing about which is newer); runner tasks
 * fail at random (Terraform failures and infrastructure failures); approvers approve or reject;
 * executions are aborted at random (during plan, approval or apply), sometimes all at once (the
 * local process crashed); an abort sometimes does not stop the execution (a run whose branch is
 * taken while it still goes on, or a redrive after a newer push); runs that wait or run are
 * replayed; every failed, rejected or aborted run is replayed as a new execution.
 *
 * Checked: no target is applied twice at a commit, and applies per target only move forward in
 * push order; every apply is made by the run holding the branch at its admission generation; no
 * run is superseded by an older push; when everything has settled, every target is applied at a
 * commit whose content equals the last push's (no change lost), no run is left RUNNING or WAITING,
 * and the branch is free with an empty queue.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import type { AccountItem, AccountOutcome, AdmitResult, ItemsLocation, TargetsResult } from '../../lib/statemachine/contracts';
import { LeaseLostError } from '../../lib/pipeline/errors';
import { readItems } from '../../lib/statemachine/items';
import type { StageCompleteResult } from '../../lib/pipeline/stage-complete';
import type { ClassifyFailureResult } from '../../lib/pipeline/classify-failure';
import type { ModuleResult } from '../../lib/domain/runner-contract';
import type { RunStore } from '../../lib/store';
import { testConfig } from '../fixtures/pipeline/config';
import { startDynalite, type DynaliteTable } from '../fixtures/pipeline/dynalite';
import { GitRepoReader, type RepoReader } from '../../lib/planning/repo-reader';
import { baseFiles, envelope, executionId, makeHarness, pushOf, statusChangeEvent, TestRepo, type Harness } from '../fixtures/pipeline/harness';
import { seededRandom } from '../../bench/random';

const config = testConfig();
let db: DynaliteTable;

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
  /** Webhooks are received in push order (default: at random times, some at the same moment). */
  readonly receivedInOrder?: boolean;
}

interface Apply {
  readonly target: string;
  readonly commit: string;
  readonly pushIndex: number;
  readonly execution: string;
}

class Simulation {
  readonly applies: Apply[] = [];
  readonly ended = new Map<string, string>();
  /** Applies made by a run that did not hold its branch at its admission generation. */
  readonly unfenced: string[] = [];
  private readonly plans = new Map<string, string>();
  private readonly generations = new Map<string, number>();
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
  private async runTask(execution: string, item: AccountItem, phase: 'plan' | 'apply' | 'plan-and-apply', commit: string, canFail: boolean): Promise<{ ok: boolean; error?: { Error: string; Cause: string } }> {
    // The invariant the lease check exists for: whoever runs a task holds the branch at its generation.
    const lock = await this.h.deps.store.getLock('acme/live', 'main');
    const holds = lock.holder === execution && lock.generation === this.generations.get(execution);
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
        this.applies.push({ target: `${item.name}:${module}`, commit, pushIndex: this.commitIndex.get(commit)!, execution });
        if (!holds) this.unfenced.push(`${execution} applied ${module} while the branch was ${lock.holder ?? 'free'} at generation ${lock.generation}`);
        result = { ...base, status: 'applied' };
      }
      this.h.artifacts.writeResult(execution, result);
    }
    return failed ? { ok: false, error: { Error: 'States.TaskFailed', Cause: JSON.stringify({ Containers: [{ Name: 'runner', ExitCode: 1 }] }) } } : { ok: true };
  }

  private async runAccount(execution: string, item: AccountItem, phase: 'plan' | 'apply' | 'plan-and-apply', source: TargetsResult['source'], canFail: boolean): Promise<AccountOutcome> {
    for (let attempt = 0; ; attempt++) {
      const common = { action: 'record-account', phase, account: item, source, execution };
      // CheckLease: the first state of each iteration and of each retry; a refusal is caught and recorded.
      try {
        await this.call({ action: 'check-lease', execution, account: item.name, generation: this.generations.get(execution) ?? -1 });
      } catch (err) {
        if (!(err instanceof LeaseLostError)) throw err;
        return this.call<AccountOutcome>({ ...common, ok: false, error: { Error: err.name, Cause: err.message } });
      }
      const task = await this.runTask(execution, item, phase, source.commit, canFail);
      if (task.ok) return this.call<AccountOutcome>({ ...common, ok: true, task: { taskArn: 't', stoppedReason: 'done' } });
      const c = await this.call<ClassifyFailureResult>({ action: 'classify-failure', account: item, attempt, error: task.error });
      if (!c.retry) return this.call<AccountOutcome>({ ...common, ok: false, error: task.error });
    }
  }

  /** One execution as the state machine runs it; yields where other executions may interleave. */
  async *execution(name: string, input: Record<string, unknown>, canFail: boolean): AsyncGenerator<void, string> {
    const id = executionId(name);
    const state: Record<string, unknown> = { ...input };
    const finish = async (status: 'SUCCEEDED' | 'FAILED' | 'REJECTED', error?: { Error: string; Cause: string }) => {
      if (error) state.error = error;
      // The outcome states hand finish the outcome alone (RunSucceeded, RunFailed, ...).
      await this.call({ action: 'finish', outcome: error ? { status, error } : { status }, executionId: id, executionName: name });
      return status;
    };
    let run: AdmitResult;
    for (;;) {
      try {
        run = await this.call<AdmitResult>({ action: 'admit', input, executionId: id, executionName: name, startedAt: '2026-11-20T10:00:00.000Z' });
      } catch (err) {
        // Admit's Catch: a run that already ended (aborted while it waited) fails through Finish.
        return finish('FAILED', { Error: (err as Error).name, Cause: (err as Error).message });
      }
      state.run = { value: run };
      if (run.decision === 'ADMITTED') {
        this.generations.set(name, run.generation!);
        break;
      }
      if (run.decision !== 'WAIT') return run.decision;
      yield;
    }
    yield;
    let targets: TargetsResult;
    try {
      targets = await this.call<TargetsResult>({ action: 'targets', input: state, run, executionName: name });
    } catch (err) {
      // The state machine catches it (a run that lost its branch) and fails the run.
      return finish('FAILED', { Error: (err as Error).name, Cause: (err as Error).message });
    }
    for (const stage of targets.stages) {
      yield;
      state.current = { stage };
      // The gates read the outcomes the record steps stored, as in the state machine.
      const gate = async (phase: string, items: ItemsLocation) =>
        this.call<StageCompleteResult>({ action: 'stage-complete', phase, stage, items, execution: name, run });
      // The gate refuses to go on for a run that lost its branch; the state machine catches that and fails the run.
      const gateOrLost = async (phase: string, items: ItemsLocation): Promise<StageCompleteResult> => {
        try {
          return await gate(phase, items);
        } catch (err) {
          return { failed: true, reason: (err as Error).message, failedAccounts: [], failedCount: 0 };
        }
      };
      if (!stage.approval.required) {
        for (const item of await readItems(this.h.artifacts, stage.accounts)) {
          await this.runAccount(name, item, 'plan-and-apply', targets.source, canFail);
          yield;
        }
        const g = await gateOrLost('plan-and-apply', stage.accounts);
        if (g.failed) return finish('FAILED', { Error: 'StageFailed', Cause: g.reason });
      } else {
        for (const item of await readItems(this.h.artifacts, stage.accounts)) await this.runAccount(name, item, 'plan', targets.source, canFail);
        const planned = await gateOrLost('plan', stage.accounts);
        if (planned.failed) return finish('FAILED', { Error: 'StageFailed', Cause: planned.reason });
        yield; // the approval wait
        if (canFail && this.rand() < 0.15) return finish('REJECTED', { Error: 'Rejected', Cause: 'rejected by an approver' });
        for (const item of await readItems(this.h.artifacts, planned.applyItems!)) await this.runAccount(name, item, 'apply', targets.source, canFail);
        const g = await gateOrLost('apply', planned.applyItems!);
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

/**
 * A repository whose base commit is already fully applied, then a linear chain of pushes. Git
 * objects never change, so one history serves many interleavings, and its reads are memoised.
 */
interface History {
  readonly repo: TestRepo;
  readonly reader: RepoReader;
  readonly base: string;
  readonly commits: readonly string[];
  readonly pushes: readonly { readonly before: string; readonly after: string; readonly paths: readonly string[]; readonly complete: boolean; readonly duplicate: boolean }[];
  readonly fingerprints: Map<string, string>;
}

function buildHistory(pushes: Scenario['pushes']): History {
  const repo = new TestRepo();
  const base = repo.commit(baseFiles(), 'base');
  const commits: string[] = [];
  const built: History['pushes'][number][] = [];
  let before = base;
  for (const [i, p] of pushes.entries()) {
    const files = Object.fromEntries(p.files.map((f) => [CHANGEABLE[f]!, `v${i}-${f}`]));
    const after = repo.commit(files, `push ${i}`);
    const paths = repo.git('diff', '--name-only', before, after).split('\n').filter(Boolean);
    built.push({ before, after, paths, complete: p.complete, duplicate: p.duplicate });
    commits.push(after);
    before = after;
  }
  return { repo, reader: memoisedReader(new GitRepoReader(repo.dir)), base, commits, pushes: built, fingerprints: new Map() };
}

/** A reader whose answers are kept: every question it answers is about immutable git objects. */
function memoisedReader(inner: RepoReader): RepoReader {
  const cache = new Map<string, Promise<unknown>>();
  const memo = <T>(key: string, read: () => Promise<T>): Promise<T> => {
    if (!cache.has(key)) cache.set(key, read());
    return cache.get(key) as Promise<T>;
  };
  return {
    listModules: (sha) => memo(`modules ${sha}`, () => inner.listModules(sha)),
    changedPaths: (from, to) => memo(`changed ${from} ${to}`, () => inner.changedPaths(from, to)),
    isAncestor: (a, d) => memo(`ancestor ${a} ${d}`, () => inner.isAncestor(a, d)),
  };
}

async function runScenario(s: Scenario, shared?: History): Promise<{ ended: ReadonlyMap<string, string>; store: RunStore }> {
  const history = shared ?? buildHistory(s.pushes);
  try {
    return await runInterleaving(s, history);
  } finally {
    if (!shared) history.repo.remove();
  }
}

async function runInterleaving(s: Scenario, history: History): Promise<{ ended: ReadonlyMap<string, string>; store: RunStore }> {
  const rand = seededRandom(s.seed);
  const store = await db.freshStore();
  const { repo, base, commits } = history;
  const cache = history.fingerprints;
  {
    for (const [account, path] of TARGETS) {
      await store.recordApplied({ repository: 'acme/live', account, module: path, commit: base, sequence: `2026-11-20T09:00:00.000Z#${base}`, execution: 'seed' });
    }
    const inputs = history.pushes.map((p, i) => {
      // Arrival times say nothing about order: random seconds, so some pushes share a moment.
      const second = s.receivedInOrder ? i : Math.floor(rand() * 4);
      return envelope(pushOf(p.before, p.after, `2026-11-20T10:00:${String(second).padStart(2, '0')}.000Z`, p.complete ? [...p.paths] : undefined, `delivery-${i}`));
    });
    const h = makeHarness(config, store, history.reader);
    const sim = new Simulation(h, rand, new Map(commits.map((c, i) => [c, i])), s.failureRate);

    // Arrivals in random order; some events delivered twice.
    const arrivals: { name: string; input: Record<string, unknown>; depth: number }[] = [];
    history.pushes.forEach((p, i) => {
      arrivals.push({ name: `push-${i}`, input: inputs[i]!, depth: 0 });
      if (p.duplicate) arrivals.push({ name: `push-${i}-again`, input: inputs[i]!, depth: 0 });
    });
    for (let i = arrivals.length - 1; i > 0 && !s.inOrder; i--) {
      const j = Math.floor(rand() * (i + 1));
      [arrivals[i], arrivals[j]] = [arrivals[j]!, arrivals[i]!];
    }

    const active = new Map<string, { gen: AsyncGenerator<void, string>; depth: number; input: Record<string, unknown> }>();
    /** Executions that were aborted but go on (their branch may be taken meanwhile): resumed later. */
    const zombies = new Map<string, { gen: AsyncGenerator<void, string>; depth: number; input: Record<string, unknown> }>();
    const replays = new Map<string, number>();
    let aborts = 0;
    let crashed = false;
    const stepsOf = new Map<string, number>();
    const start = (name: string, input: Record<string, unknown>, depth: number) => {
      h.running.add(executionId(name));
      active.set(name, { gen: sim.execution(name, input, depth < 2), depth, input });
    };
    const replay = (name: string, input: Record<string, unknown>, depth: number) => {
      const original = name.replace(/-replay-\d+$/, '');
      const n = (replays.get(original) ?? 0) + 1;
      replays.set(original, n);
      const { tfstep: _marker, ...push } = input;
      arrivals.push({ name: `${original}-replay-${n}`, input: { ...push, tfstep: { replayOf: name } }, depth: depth + 1 });
    };
    /**
     * The status change events of stopped executions: EventBridge delivers them late, in any
     * order, or (best effort) never, and after a redrive as well.
     */
    const statusEvents: string[] = [];
    const abort = (name: string, mayGoOn = true) => {
      const ex = active.get(name)!;
      aborts++;
      active.delete(name);
      h.running.delete(executionId(name));
      sim.ended.set(name, 'ABORTED');
      if (rand() < 0.6) statusEvents.push(name);
      // Sometimes the abort does not stop it: it goes on later, its branch perhaps taken by then.
      if (mayGoOn && ex.depth === 0 && rand() < 0.3) zombies.set(name, ex);
      replay(name, ex.input, ex.depth);
    };

    // WHEN the executions interleave at random
    let guard = 0;
    while (arrivals.length > 0 || active.size > 0) {
      if (++guard > 4000) throw new Error(`no progress after ${guard} scheduling steps: ${[...active.keys()].join(', ')} still active`);
      if (statusEvents.length > 0 && rand() < 0.15) {
        // The status change rule hands a stopped execution's event to the pipeline function.
        const [stopped] = statusEvents.splice(Math.floor(rand() * statusEvents.length), 1);
        await h.handler(statusChangeEvent(stopped!, 'ABORTED'));
        continue;
      }
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
      const roll = rand();
      if (forced || (ex.depth === 0 && aborts < 2 && roll < 0.03)) {
        // Aborted by an operator: the execution stops wherever it is (plan, approval, apply), holding what it holds.
        abort(name, !forced);
        continue;
      }
      if (!crashed && roll > 0.995 && s.failureRate > 0) {
        // The local process crashed: every execution stops at once.
        crashed = true;
        for (const n of [...active.keys()]) abort(n);
        continue;
      }
      if (roll > 0.98 && ex.depth === 0) {
        // An operator replays a run that still waits or runs: it must not deploy the push a second time.
        replay(name, ex.input, ex.depth);
      }
      if (zombies.size > 0 && roll < 0.05) {
        // An aborted execution goes on after all (redriven after a newer push, or never really stopped).
        const [zname, z] = [...zombies.entries()][0]!;
        zombies.delete(zname);
        h.running.add(executionId(zname));
        sim.ended.delete(zname);
        active.set(zname, z);
        continue;
      }
      const r = await ex.gen.next();
      if (r.done) {
        active.delete(name);
        h.running.delete(executionId(name));
        sim.ended.set(name, r.value);
        if (r.value === 'FAILED' || r.value === 'REJECTED') replay(name, ex.input, ex.depth);
      }
    }

    // THEN every apply was made by the run holding the branch at its admission generation
    expect(sim.unfenced).toEqual([]);
    // AND no target was applied twice at one commit
    const seen = new Set<string>();
    for (const a of sim.applies) {
      const key = `${a.target}@${a.commit}`;
      if (seen.has(key)) throw new Error(`${a.target} applied twice at push ${a.pushIndex}: ${JSON.stringify(sim.applies)}`);
      seen.add(key);
    }
    // AND applies per target only move forward in push order
    const last = new Map<string, number>();
    for (const a of sim.applies) {
      const prev = last.get(a.target);
      if (prev !== undefined && a.pushIndex <= prev) {
        throw new Error(`${a.target} applied push ${a.pushIndex} after push ${prev}: ${JSON.stringify(sim.applies)}`);
      }
      last.set(a.target, a.pushIndex);
    }
    // AND every target ends with the content of the last push: no change lost
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
    // AND no run was superseded by an older push, and none is left RUNNING or WAITING with nothing behind it
    const runCommit = new Map<string, string>();
    const pushIndexOf = (execution: string) => commits.indexOf(runCommit.get(execution) ?? '');
    for (const name of sim.ended.keys()) {
      const record = await store.getRunItem(name);
      if (record) runCommit.set(name, record.commit);
    }
    for (const name of sim.ended.keys()) {
      const record = await store.getRunItem(name);
      if (!record) continue;
      if (record.status === 'RUNNING' || record.status === 'WAITING') throw new Error(`${name} is left ${record.status}; runs: ${JSON.stringify([...sim.ended])}`);
      if (record.status === 'SUPERSEDED' && record.carriedBy && pushIndexOf(record.carriedBy) < pushIndexOf(name)) {
        throw new Error(`${name} (push ${pushIndexOf(name)}) was superseded by the older ${record.carriedBy} (push ${pushIndexOf(record.carriedBy)})`);
      }
    }
    // AND the branch is free with an empty queue
    expect((await store.getLock('acme/live', 'main')).holder).toBeUndefined();
    expect(await store.listQueue('acme/live', 'main')).toEqual([]);
    return { ended: sim.ended, store };
  }
}

/**
 * The ordering suite, part `part` of `parts`: the interleavings are shared between test files so
 * that jest runs them on every worker.
 */
export function describeOrdering(part: number, parts: number): void {
  describe(`ordering under random interleavings (part ${part + 1} of ${parts})`, () => {
    beforeAll(async () => {
      db = await startDynalite();
    });
    afterAll(async () => db.close());

    it('applies in push order, never twice, loses no change and leaves no stuck lock', async () => {
      // Each generated history (its repository built once) is run under many random interleavings:
      // TFSTEP_ORDERING_RUNS interleavings in all (1,000 unless set), shared between the parts.
      const total = Math.ceil(Number(process.env.TFSTEP_ORDERING_RUNS ?? 1000) / parts);
      const perHistory = Math.min(40, total);
      let interleavings = 0;
      const push = fc.record({
        files: fc.uniqueArray(fc.integer({ min: 0, max: CHANGEABLE.length - 1 }), { minLength: 1, maxLength: 4 }),
        complete: fc.integer({ min: 0, max: 9 }).map((n) => n < 8),
        duplicate: fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
      });
      const interleaving = fc.record({ seed: fc.integer(), failureRate: fc.constantFrom(0, 0.15, 0.3) });
      await fc.assert(
        fc.asyncProperty(
          fc.array(push, { minLength: 1, maxLength: 8 }),
          fc.array(interleaving, { minLength: perHistory, maxLength: perHistory }),
          async (pushes, runs) => {
            const history = buildHistory(pushes);
            try {
              for (const run of runs) {
                await runScenario({ pushes, ...run }, history);
                interleavings++;
              }
            } finally {
              history.repo.remove();
            }
          },
        ),
        { numRuns: Math.ceil(total / perHistory), endOnFailure: true },
      );
      expect(interleavings).toBeGreaterThanOrEqual(total);
    }, 1_800_000);

    if (part === 0) it('recovers a stale lock from an aborted run: the next push deploys and the branch ends free', async () => {
      // GIVEN three pushes; the first is aborted after it was admitted and planned (it holds the branch)
      // WHEN the others poll, THEN they release the stale lock, deploy, and the checks of runScenario hold
      const { ended, store } = await runScenario({
        pushes: [
          { files: [0], complete: true, duplicate: true },
          { files: [1, 6], complete: true, duplicate: false },
          { files: [4], complete: false, duplicate: false },
        ],
        seed: 1,
        failureRate: 0,
        forceAbort: { name: 'push-0', atStep: 3 },
        inOrder: true,
      });
      expect(ended.get('push-0')).toBe('ABORTED');
      expect(ended.get('push-0-again')).toBe('DUPLICATE');
      expect((await store.getRunRecord('push-0'))?.status).toBe('ABORTED');
    }, 120_000);
  });
}
