/**
 * The module graph of one account and what is read off it: cycles, the dependents of a change,
 * and the edges one runner task needs. Pure: no config, no repository.
 *
 * An edge goes from a dependent to one of its upstreams ("app depends on network"): the
 * upstream runs, and applies, first.
 */

/** One account's modules and their dependencies. */
export interface AccountGraph {
  readonly account: string;
  /** The account's root directory in the repository. */
  readonly root: string;
  /** Every module of the account, sorted. */
  readonly modules: readonly string[];
  /** module -> the modules of the same account it depends on (sorted); modules without any are absent. */
  readonly dependencies: Readonly<Record<string, readonly string[]>>;
}

function upstreamsOf(graph: AccountGraph, module: string): readonly string[] {
  return Object.prototype.hasOwnProperty.call(graph.dependencies, module) ? (graph.dependencies[module] ?? []) : [];
}

/**
 * The cycles of the graph, each as the path of modules that leads back to its first one
 * (`["a", "b", "a"]`: a depends on b, which depends on a). One cycle per strongly connected
 * group of modules, starting at its first module in path order, so the answer is stable.
 */
export function findCycles(graph: AccountGraph): string[][] {
  // Tarjan's strongly connected components, iteratively: a deep graph must not overflow the stack.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const groups: string[][] = [];
  let next = 0;
  const nodes = [...new Set([...graph.modules, ...Object.keys(graph.dependencies)])].sort();
  for (const start of nodes) {
    if (index.has(start)) continue;
    const work: { node: string; edge: number }[] = [{ node: start, edge: 0 }];
    index.set(start, next);
    low.set(start, next);
    next++;
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const ups = upstreamsOf(graph, frame.node);
      if (frame.edge < ups.length) {
        const up = ups[frame.edge++]!;
        if (!index.has(up)) {
          index.set(up, next);
          low.set(up, next);
          next++;
          stack.push(up);
          onStack.add(up);
          work.push({ node: up, edge: 0 });
        } else if (onStack.has(up)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(up)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) === index.get(frame.node)) {
        const group: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          group.push(member);
        } while (member !== frame.node);
        const selfLoop = group.length === 1 && upstreamsOf(graph, member).includes(member);
        if (group.length > 1 || selfLoop) groups.push(group.sort());
      }
    }
  }
  return groups.map((group) => shortestCycle(graph, group)).sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/** The shortest path from the group's first module back to it, within the group. */
function shortestCycle(graph: AccountGraph, group: readonly string[]): string[] {
  const members = new Set(group);
  const start = group[0]!;
  const cameFrom = new Map<string, string>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const node = queue[i]!;
    for (const up of upstreamsOf(graph, node)) {
      if (!members.has(up)) continue;
      if (up === start) {
        const path = [start];
        for (let at: string | undefined = node; at !== undefined && at !== start; at = cameFrom.get(at)) path.splice(1, 0, at);
        return [...path, start];
      }
      if (!cameFrom.has(up)) {
        cameFrom.set(up, node);
        queue.push(up);
      }
    }
  }
  // A strongly connected group always leads back to its start; this is never reached.
  return [...group, start];
}

/** `a -> b -> a`: how a cycle is written in messages. */
export function formatCycle(cycle: readonly string[]): string {
  return cycle.join(' -> ');
}

/** Every module `module` depends on, directly or through others (not itself). */
export function upstreamClosure(graph: AccountGraph, module: string): Set<string> {
  const seen = new Set<string>();
  const queue = [...upstreamsOf(graph, module)];
  while (queue.length > 0) {
    const up = queue.pop()!;
    if (seen.has(up) || up === module) continue;
    seen.add(up);
    queue.push(...upstreamsOf(graph, up));
  }
  return seen;
}

/** module -> the modules that depend on it directly. */
export function dependentsIndex(graph: AccountGraph): Map<string, string[]> {
  const index = new Map<string, string[]>();
  for (const [module, ups] of Object.entries(graph.dependencies)) {
    for (const up of ups) index.set(up, [...(index.get(up) ?? []), module]);
  }
  return index;
}

/**
 * The edges one runner task needs: for each of `taskModules`, the task modules it depends on,
 * directly or through modules the task does not run (app -> service -> network, with only app
 * and network in the task, still runs network first). Only the nearest task modules are named:
 * their own edges carry the rest. Undefined when no task module depends on another.
 */
export function taskDependencies(graph: AccountGraph, taskModules: readonly string[]): Record<string, string[]> | undefined {
  const inTask = new Set(taskModules);
  const result: Record<string, string[]> = {};
  for (const module of [...inTask].sort()) {
    const found = new Set<string>();
    const seen = new Set<string>([module]);
    const queue = [...upstreamsOf(graph, module)];
    while (queue.length > 0) {
      const up = queue.shift()!;
      if (seen.has(up)) continue;
      seen.add(up);
      if (inTask.has(up)) found.add(up);
      else queue.push(...upstreamsOf(graph, up));
    }
    if (found.size > 0) result[module] = [...found].sort();
  }
  return Object.keys(result).length > 0 ? result : undefined;
}
