import fc from 'fast-check';
import { findCycles, taskDependencies, upstreamClosure, type AccountGraph } from '../../lib/planning/module-graph';

function graphOf(dependencies: Record<string, string[]>): AccountGraph {
  const modules = [...new Set([...Object.keys(dependencies), ...Object.values(dependencies).flat()])].sort();
  return { account: 'dev', root: 'dev', modules, dependencies };
}

describe('taskDependencies', () => {
  it('keeps the order through modules the task does not run: app -> service -> network with only app and network', () => {
    // GIVEN app depends on service, which depends on network
    const graph = graphOf({ app: ['service'], service: ['network'] });
    // WHEN the task runs app and network only
    // THEN app still depends on network
    expect(taskDependencies(graph, ['app', 'network'])).toEqual({ app: ['network'] });
  });

  it('names only the nearest task modules, and nothing for a task with no edges between its modules', () => {
    const graph = graphOf({ app: ['service', 'network'], service: ['network'], web: ['cdn'] });
    expect(taskDependencies(graph, ['app', 'service', 'network'])).toEqual({ app: ['network', 'service'], service: ['network'] });
    expect(taskDependencies(graph, ['app', 'web'])).toBeUndefined();
  });

  it('orders every pair of task modules the whole graph orders (random graphs)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }).chain((n) =>
          fc.tuple(
            fc.constant(n),
            // edges i -> j with j < i only: always acyclic
            fc.array(fc.tuple(fc.integer({ min: 1, max: n - 1 || 1 }), fc.nat()), { maxLength: 30 }),
            fc.subarray(Array.from({ length: n }, (_, i) => `m${i}`)),
          ),
        ),
        ([n, rawEdges, task]) => {
          const dependencies: Record<string, string[]> = {};
          for (const [i, r] of rawEdges) {
            if (i >= n) continue;
            const j = r % i;
            dependencies[`m${i}`] = [...new Set([...(dependencies[`m${i}`] ?? []), `m${j}`])];
          }
          const graph: AccountGraph = { account: 'a', root: 'a', modules: Array.from({ length: n }, (_, i) => `m${i}`), dependencies };
          const restricted: AccountGraph = { ...graph, modules: task, dependencies: taskDependencies(graph, task) ?? {} };
          for (const module of task) {
            const want = [...upstreamClosure(graph, module)].filter((m) => task.includes(m)).sort();
            expect([...upstreamClosure(restricted, module)].sort()).toEqual(want);
          }
        },
      ),
    );
  });
});

describe('findCycles', () => {
  it('finds no cycle in a graph without one, and each cycle once when there are several', () => {
    expect(findCycles(graphOf({ a: ['b'], b: ['c'] }))).toEqual([]);
    expect(findCycles(graphOf({ a: ['b'], b: ['a'], x: ['y'], y: ['z'], z: ['x'], k: ['k'] }))).toEqual([
      ['a', 'b', 'a'],
      ['k', 'k'],
      ['x', 'y', 'z', 'x'],
    ]);
  });
});
