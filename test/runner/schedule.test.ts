/**
 * The scheduler that runs one task's modules in dependency order: examples, refusals, and a
 * property over random graphs.
 */
import fc from 'fast-check';
import { RefusedError } from '../../lib/runner/errors';
import { checkDependencies, schedule, type SkipReason } from '../../lib/runner/schedule';

/** A `run` that records start and end events and resolves after `delays[m]` timer turns. */
function recorder(opts: { fail?: readonly string[]; delays?: Record<string, number>; throwOn?: string } = {}) {
  const events: string[] = [];
  let running = 0;
  let maxRunning = 0;
  const runs = new Map<string, number>();
  const run = async (m: string): Promise<boolean> => {
    runs.set(m, (runs.get(m) ?? 0) + 1);
    running++;
    maxRunning = Math.max(maxRunning, running);
    events.push(`start ${m}`);
    for (let i = 0; i < (opts.delays?.[m] ?? 1); i++) await new Promise((r) => setImmediate(r));
    running--;
    events.push(`end ${m}`);
    if (opts.throwOn === m) throw new Error(`cannot write ${m}`);
    return !(opts.fail ?? []).includes(m);
  };
  return { run, events, runs, maxRunning: () => maxRunning };
}

describe('schedule', () => {
  it('runs a chain in dependency order, one at a time, whatever the listed order', async () => {
    const r = recorder();
    const report = await schedule({ modules: ['app', 'db', 'network'], dependencies: { app: ['db'], db: ['network'] }, concurrency: 4, run: r.run });
    expect(r.events).toEqual(['start network', 'end network', 'start db', 'end db', 'start app', 'end app']);
    expect(report.succeeded).toEqual(['network', 'db', 'app']);
    expect(report.skipped.size).toBe(0);
  });

  it('runs independent modules in parallel up to the concurrency, ready modules in listed order', async () => {
    const r = recorder({ delays: { a: 3, b: 3, c: 1, d: 1 } });
    await schedule({ modules: ['a', 'b', 'c', 'd'], concurrency: 2, run: r.run });
    expect(r.maxRunning()).toBe(2);
    expect(r.events.filter((e) => e.startsWith('start'))).toEqual(['start a', 'start b', 'start c', 'start d']);
    expect(r.events.slice(0, 2)).toEqual(['start a', 'start b']);
  });

  it('with concurrency 1 and no edges runs the modules in listed order, one after another', async () => {
    const r = recorder();
    await schedule({ modules: ['x', 'a', 'm'], concurrency: 1, run: r.run });
    expect(r.events).toEqual(['start x', 'end x', 'start a', 'end a', 'start m', 'end m']);
  });

  it('GIVEN a failing upstream THEN its dependents (transitively) are skipped naming it, and independent modules still finish', async () => {
    const r = recorder({ fail: ['network'], delays: { other: 5 } });
    const skipped: [string, SkipReason][] = [];
    const report = await schedule({
      modules: ['app', 'db', 'network', 'other'],
      dependencies: { app: ['db'], db: ['network'] },
      concurrency: 2,
      run: r.run,
      onSkip: (m, reason) => void skipped.push([m, reason]),
    });
    expect(report.failed).toEqual(['network']);
    expect(report.succeeded).toEqual(['other']);
    expect(skipped).toEqual([
      ['app', { kind: 'upstream', upstream: 'network' }],
      ['db', { kind: 'upstream', upstream: 'network' }],
    ]);
    expect([...r.runs.keys()].sort()).toEqual(['network', 'other']);
  });

  it('GIVEN a failure while other modules finish at the same moment THEN its dependent is skipped, not left waiting', async () => {
    // Found by the property below: a start queued by another module's end ran before the failure's dependents were skipped.
    const r = recorder({ fail: ['m02'], delays: { m00: 0, m01: 0, m02: 0, m03: 0, m04: 0 } });
    const report = await schedule({ modules: ['m00', 'm01', 'm02', 'm03', 'm04'], dependencies: { m03: ['m02'] }, concurrency: 4, run: r.run });
    expect(report.skipped).toEqual(new Map([['m03', { kind: 'upstream', upstream: 'm02' }]]));
    expect(report.succeeded.sort()).toEqual(['m00', 'm01', 'm04']);
  });

  it('names the nearest upstream that failed, not a farther one or a skipped one', async () => {
    // app -> cache -> db; db and network fail (network is independent of the chain)
    const chain = recorder({ fail: ['network', 'db'] });
    const report = await schedule({ modules: ['app', 'cache', 'db', 'network'], dependencies: { app: ['cache'], cache: ['db'] }, concurrency: 1, run: chain.run });
    expect(report.failed).toEqual(['db', 'network']);
    expect(report.skipped.get('cache')).toEqual({ kind: 'upstream', upstream: 'db' });
    // cache was skipped, not failed: app names db, the failure behind it
    expect(report.skipped.get('app')).toEqual({ kind: 'upstream', upstream: 'db' });

    // bottom -> left (fails), bottom -> right -> root (fails): left is one edge away, root two
    const diamond = recorder({ fail: ['left', 'root'] });
    const d = await schedule({
      modules: ['bottom', 'left', 'right', 'root'],
      dependencies: { bottom: ['left', 'right'], right: ['root'] },
      concurrency: 1,
      run: diamond.run,
    });
    expect(d.skipped.get('bottom')).toEqual({ kind: 'upstream', upstream: 'left' });
    expect(d.skipped.get('right')).toEqual({ kind: 'upstream', upstream: 'root' });
  });

  it('GIVEN a stop request THEN the running module finishes, nothing more starts, and the rest is skipped', async () => {
    let stop = false;
    const skipped = new Map<string, SkipReason>();
    const events: string[] = [];
    const report = await schedule({
      modules: ['a', 'b', 'c'],
      dependencies: { c: ['a'] },
      concurrency: 1,
      run: async (m) => {
        events.push(m);
        stop = true;
        await new Promise((r) => setImmediate(r));
        return false;
      },
      onSkip: (m, reason) => void skipped.set(m, reason),
      stopped: () => stop,
    });
    expect(events).toEqual(['a']);
    expect(report.failed).toEqual(['a']);
    expect(skipped).toEqual(new Map<string, SkipReason>([['b', { kind: 'stopped' }], ['c', { kind: 'upstream', upstream: 'a' }]]));
  });

  it('GIVEN run throws THEN the running modules finish, nothing more starts, and the error is rethrown', async () => {
    const r = recorder({ throwOn: 'a', delays: { a: 1, b: 4 } });
    await expect(schedule({ modules: ['a', 'b', 'c'], concurrency: 2, run: r.run })).rejects.toThrow('cannot write a');
    expect(r.events).toEqual(['start a', 'start b', 'end a', 'end b']);
  });

  it('refuses a bad concurrency', async () => {
    await expect(schedule({ modules: ['a'], concurrency: 0, run: () => Promise.resolve(true) })).rejects.toThrow('concurrency must be an integer of at least 1, not 0');
  });
});

describe('checkDependencies', () => {
  it('refuses a cycle, naming its modules in order', () => {
    const call = () => checkDependencies(['a', 'b', 'c', 'd'], { a: ['b'], b: ['c'], c: ['a'], d: ['a'] });
    expect(call).toThrow(RefusedError);
    expect(call).toThrow('refused dependencies: a cycle a -> b -> c -> a; the modules of a task must form a graph without cycles');
  });

  it('refuses a module that depends on itself', () => {
    expect(() => checkDependencies(['a'], { a: ['a'] })).toThrow('a cycle a -> a');
  });

  it('refuses a dependency on a module outside the task, and edges of a module outside it', () => {
    expect(() => checkDependencies(['dev/app'], { 'dev/app': ['dev/network'] })).toThrow(
      `refused dependencies: "dev/app" depends on "dev/network", which is not a module of this task; the edges must stay inside the task's modules (dev/app)`,
    );
    expect(() => checkDependencies(['dev/app'], { 'dev/db': [] })).toThrow('"dev/db" has dependencies but is not a module of this task');
  });

  it('refuses a module listed twice', () => {
    expect(() => checkDependencies(['a', 'a'])).toThrow('module "a" is listed twice');
  });

  it('answers deduplicated upstreams for every module', () => {
    expect(checkDependencies(['a', 'b', 'c'], { c: ['b', 'a', 'b'] })).toEqual(
      new Map([
        ['a', []],
        ['b', []],
        ['c', ['a', 'b']],
      ]),
    );
  });
});

/** A random DAG: edges only from a later module to an earlier one in a random permutation. */
const dagArb = fc
  .integer({ min: 1, max: 12 })
  .chain((n) =>
    fc.record({
      n: fc.constant(n),
      order: fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }),
      edges: fc.array(fc.tuple(fc.nat({ max: n - 1 }), fc.nat({ max: n - 1 })), { maxLength: n * 3 }),
      failing: fc.subarray([...Array(n).keys()]),
      delays: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: n, maxLength: n }),
      concurrency: fc.integer({ min: 1, max: 8 }),
    }),
  )
  .map(({ n, order, edges, failing, delays, concurrency }) => {
    const names = [...Array(n).keys()].map((i) => `m${String(i).padStart(2, '0')}`);
    const name = (i: number): string => names[i] ?? `m${i}`;
    // rank in a random topological order: an edge goes from the higher rank to the lower
    const rank = new Map(order.map((v, i) => [v, i]));
    const deps: Record<string, string[]> = {};
    for (const [x, y] of edges) {
      if (x === y) continue;
      const [down, up] = rank.get(x)! > rank.get(y)! ? [x, y] : [y, x];
      (deps[name(down)] ??= []).push(name(up));
    }
    return { modules: names, deps, failing: new Set(failing.map(name)), delays: Object.fromEntries(names.map((m, i) => [m, delays[i] ?? 0])), concurrency };
  });

describe('schedule over random graphs', () => {
  it('respects every edge, never runs a dependent of a failure, runs every other module exactly once, and never exceeds the concurrency', async () => {
    await fc.assert(
      fc.asyncProperty(dagArb, async ({ modules, deps, failing, delays, concurrency }) => {
        const r = recorder({ fail: [...failing], delays });
        const report = await schedule({ modules, dependencies: deps, concurrency, run: r.run });
        const ended = new Map<string, number>();
        const started = new Map<string, number>();
        r.events.forEach((e, i) => {
          const [kind = '', m = ''] = e.split(' ');
          (kind === 'start' ? started : ended).set(m, i);
        });
        // downstream of a failure, computed independently of the scheduler
        const downstreamOfFailure = new Set<string>();
        let grew = true;
        const ran = (m: string) => started.has(m);
        while (grew) {
          grew = false;
          for (const m of modules) {
            if (downstreamOfFailure.has(m)) continue;
            if ((deps[m] ?? []).some((up) => (failing.has(up) && ran(up)) || downstreamOfFailure.has(up))) {
              downstreamOfFailure.add(m);
              grew = true;
            }
          }
        }
        for (const m of modules) {
          // order: a module starts after every upstream ended
          if (started.has(m)) for (const up of deps[m] ?? []) expect(ended.get(up)! < started.get(m)!).toBe(true);
          if (downstreamOfFailure.has(m)) {
            expect(r.runs.has(m)).toBe(false);
            const reason = report.skipped.get(m);
            expect(reason?.kind).toBe('upstream');
            if (reason?.kind === 'upstream') expect(failing.has(reason.upstream) && ran(reason.upstream)).toBe(true);
          } else {
            expect(r.runs.get(m)).toBe(1);
          }
        }
        expect(r.maxRunning()).toBeLessThanOrEqual(concurrency);
        expect(report.started.length + report.skipped.size).toBe(modules.length);
      }),
      { numRuns: 300 },
    );
  });

  it('with enough independent work, reaches the concurrency', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 8 }), async (concurrency) => {
        const modules = [...Array(10).keys()].map((i) => `m${i}`);
        const r = recorder({ delays: Object.fromEntries(modules.map((m) => [m, 3])) });
        await schedule({ modules, concurrency, run: r.run });
        expect(r.maxRunning()).toBe(concurrency);
      }),
      { numRuns: 20 },
    );
  });
});
