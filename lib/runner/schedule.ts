/**
 * Running one task's modules in dependency order. Pure and generic: it knows module names,
 * edges and a `run` function, nothing about terraform or artifacts.
 *
 * - A module starts only after every upstream module (the modules it depends on) succeeded.
 * - Up to `concurrency` modules run at once; among the modules that are ready, the one listed
 *   first in `modules` starts first (the pipeline writes modules in path order), so the order is
 *   the same on every run.
 * - When a module does not succeed (it failed, was refused or interrupted), every module
 *   downstream of it is skipped, never started, naming the nearest upstream that did not
 *   succeed. Modules that do not depend on it still run to the end.
 * - When `stopped()` answers true, nothing more starts; the modules running finish (the runner
 *   has already asked their tools to stop), and every module not started is skipped.
 * - When `run` throws, nothing more starts; the modules running finish, then the error is
 *   rethrown. Modules not started get no callback (the task failed as a whole).
 *
 * {@link checkDependencies} refuses a cycle or an edge to a module outside the task before
 * anything runs.
 */
import { RefusedError } from './errors';
import { quote } from './inputs';

/** Edges: module -> the modules it depends on (its upstreams). Modules absent depend on nothing. */
export type Dependencies = Readonly<Record<string, readonly string[]>>;

/** Why a module was never started. */
export type SkipReason =
  /** `upstream` did not succeed (it failed, was refused or interrupted); it is the nearest such upstream. */
  | { kind: 'upstream'; upstream: string }
  /** The run was stopped (`stopped()` answered true) before this module could start. */
  | { kind: 'stopped' };

/** Options of {@link schedule}. */
export interface ScheduleOptions {
  /** Every module of the task, in tie-break order (the module listed first starts first). */
  modules: readonly string[];
  /** Edges between `modules`; see {@link checkDependencies}. */
  dependencies?: Dependencies;
  /** The most modules running at once; at least 1. */
  concurrency: number;
  /**
   * Runs one module. Resolves true when it succeeded and its dependents may start, false when
   * it did not (its dependents are skipped). A throw stops the schedule (see the module comment).
   */
  run: (module: string) => Promise<boolean>;
  /** Called once for every module that will never start, as soon as that is known. Awaited. */
  onSkip?: (module: string, reason: SkipReason) => Promise<void> | void;
  /** Checked before each start: true means start nothing more. */
  stopped?: () => boolean;
}

/** What {@link schedule} did. */
export interface ScheduleReport {
  /** Modules in the order they started. */
  started: string[];
  /** Modules whose `run` resolved true. */
  succeeded: string[];
  /** Modules whose `run` resolved false. */
  failed: string[];
  /** Modules never started, and why. */
  skipped: Map<string, SkipReason>;
}

/**
 * Checks the edges: every module named is in the task, and there is no cycle.
 * @returns the upstreams of every module (deduplicated, in `modules` order)
 * @throws RefusedError naming the module outside the task, or the modules of a cycle in order
 */
export function checkDependencies(modules: readonly string[], dependencies: Dependencies = {}): Map<string, string[]> {
  const index = new Map(modules.map((m, i) => [m, i]));
  if (index.size !== modules.length) {
    const dup = modules.find((m, i) => modules.indexOf(m) !== i);
    throw new RefusedError(`refused dependencies: module ${quote(String(dup))} is listed twice in the task`);
  }
  const upstreams = new Map<string, string[]>(modules.map((m) => [m, []]));
  for (const [module, ups] of Object.entries(dependencies)) {
    if (!index.has(module)) {
      throw new RefusedError(`refused dependencies: ${quote(module)} has dependencies but is not a module of this task (its modules: ${modules.join(', ')})`);
    }
    for (const up of ups) {
      if (!index.has(up)) {
        throw new RefusedError(
          `refused dependencies: ${quote(module)} depends on ${quote(up)}, which is not a module of this task; the edges must stay inside the task's modules (${modules.join(', ')})`,
        );
      }
    }
    upstreams.set(module, [...new Set(ups)].sort((a, b) => index.get(a)! - index.get(b)!));
  }
  const cycle = findCycle(modules, upstreams);
  if (cycle) throw new RefusedError(`refused dependencies: a cycle ${cycle.join(' -> ')}; the modules of a task must form a graph without cycles`);
  return upstreams;
}

/** A cycle as a path that ends where it starts (`a -> b -> a`), or undefined. */
function findCycle(modules: readonly string[], upstreams: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (m: string): string[] | undefined => {
    state.set(m, 'open');
    stack.push(m);
    for (const up of upstreams.get(m) ?? []) {
      const s = state.get(up);
      if (s === 'open') {
        // The stack runs dependent -> upstream; the cycle reads in the same direction.
        return [...stack.slice(stack.indexOf(up)), up];
      }
      if (s === undefined) {
        const found = visit(up);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(m, 'done');
    return undefined;
  };
  for (const m of modules) {
    if (state.has(m)) continue;
    const found = visit(m);
    if (found) return found;
  }
  return undefined;
}

/**
 * Runs `modules` in dependency order, at most `concurrency` at once (see the module comment).
 * @throws RefusedError before anything runs when the dependencies are invalid ({@link checkDependencies})
 * @throws the first error `run` threw, after the modules running have finished
 */
export async function schedule(opts: ScheduleOptions): Promise<ScheduleReport> {
  const { modules } = opts;
  if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1) {
    throw new RangeError(`concurrency must be an integer of at least 1, not ${opts.concurrency}`);
  }
  const upstreams = checkDependencies(modules, opts.dependencies);
  const downstreams = new Map<string, string[]>(modules.map((m) => [m, []]));
  for (const m of modules) for (const up of upstreams.get(m)!) downstreams.get(up)!.push(m);

  const report: ScheduleReport = { started: [], succeeded: [], failed: [], skipped: new Map() };
  const succeeded = new Set<string>();
  const failed = new Set<string>();
  const pending = new Set(modules);
  let running = 0;
  let thrown: { error: unknown } | undefined;

  /** The nearest upstream of `m` that did not succeed: breadth first, upstreams in `modules` order. */
  const nearestFailed = (m: string): string | undefined => {
    const seen = new Set<string>([m]);
    let level = [m];
    while (level.length > 0) {
      const next: string[] = [];
      for (const x of level) {
        for (const up of upstreams.get(x)!) {
          if (seen.has(up)) continue;
          if (failed.has(up)) return up;
          seen.add(up);
          next.push(up);
        }
      }
      level = next;
    }
    return undefined;
  };

  return new Promise<ScheduleReport>((resolve, reject) => {
    // All bookkeeping is synchronous; only the onSkip callbacks wait, in order, on this chain.
    let callbacks: Promise<void> = Promise.resolve();
    let finished = false;
    const fail = (e: unknown) => {
      thrown ??= { error: e };
    };

    const skip = (m: string, reason: SkipReason) => {
      pending.delete(m);
      report.skipped.set(m, reason);
      callbacks = callbacks.then(() => opts.onSkip?.(m, reason)).catch(fail);
    };

    /** Skips every pending module downstream of `m`, in `modules` order. */
    const skipDownstream = (m: string) => {
      const below = new Set<string>();
      const walk = (x: string) => {
        for (const d of downstreams.get(x)!) {
          if (below.has(d)) continue;
          below.add(d);
          walk(d);
        }
      };
      walk(m);
      for (const d of modules) {
        if (below.has(d) && pending.has(d)) skip(d, { kind: 'upstream', upstream: nearestFailed(d) ?? m });
      }
    };

    const ready = (m: string) => upstreams.get(m)!.every((up) => succeeded.has(up));

    const finishIfDone = () => {
      if (finished || running > 0 || (!thrown && pending.size > 0)) return;
      finished = true;
      void callbacks.then(() => {
        if (thrown) reject(thrown.error instanceof Error ? thrown.error : new Error(String(thrown.error)));
        else resolve(report);
      });
    };

    const step = () => {
      if (!thrown && opts.stopped?.()) {
        // Wait for the running modules: one still running may yet fail and be the reason.
        if (running === 0) {
          for (const m of modules) {
            if (!pending.has(m)) continue;
            const up = nearestFailed(m);
            skip(m, up ? { kind: 'upstream', upstream: up } : { kind: 'stopped' });
          }
        }
      } else if (!thrown) {
        for (const m of modules) {
          if (running >= opts.concurrency) break;
          if (!pending.has(m) || !ready(m)) continue;
          pending.delete(m);
          running++;
          report.started.push(m);
          void start(m);
          if (thrown || opts.stopped?.()) break;
        }
        // Nothing running, nothing ready, yet modules pending: impossible after checkDependencies.
        if (running === 0 && pending.size > 0) fail(new Error(`no module can start: ${[...pending].join(', ')} wait for modules that never finish`));
      }
      finishIfDone();
    };

    const start = async (m: string) => {
      let ok = false;
      let threw = false;
      try {
        ok = await opts.run(m);
      } catch (e) {
        threw = true;
        fail(e);
      }
      running--;
      if (!threw) {
        if (ok) {
          succeeded.add(m);
          report.succeeded.push(m);
        } else {
          failed.add(m);
          report.failed.push(m);
          skipDownstream(m);
        }
      }
      step();
    };

    step();
  });
}
