import fc from 'fast-check';
import { ZERO_SHA } from '../../lib/domain/push-event';
import { InvalidModulePathError } from '../../lib/planning/errors';
import { basesToCompare, planTargets, pushSequence, targetKey, type AppliedTarget, type PlanTargetsInput, type TargetPlan } from '../../lib/planning/targets';
import { upstreamClosure, type AccountGraph } from '../../lib/planning/module-graph';
import { sha, TEST_MODULES, testConfig, testPush } from '../fixtures/pipeline/config';

const config = testConfig();

function planned(plan: TargetPlan): string[] {
  return plan.stages.flatMap((s) => s.accounts.flatMap((a) => a.modules.map((m) => `${a.account.name}:${m.path}`))).sort();
}

function appliedAll(commit: string, sequence = '2026-11-19T00:00:00.000Z#' + commit): Map<string, AppliedTarget> {
  const map = new Map<string, AppliedTarget>();
  for (const m of TEST_MODULES) map.set(targetKey(m.split('/')[0]!, m), { commit, sequence });
  return map;
}

function input(partial: Partial<PlanTargetsInput>): PlanTargetsInput {
  return { config, push: testPush(), modules: TEST_MODULES, lastApplied: new Map(), changes: new Map(), ...partial };
}

describe('planTargets', () => {
  it('includes every module that was never applied, stage by stage in stageOrder', () => {
    // GIVEN nothing applied yet
    // WHEN planning
    const plan = planTargets(input({}));
    // THEN every module of every account is planned, in dev, stage, prod order
    expect(plan.stages.map((s) => s.name)).toEqual(['dev', 'stage', 'prod']);
    expect(planned(plan)).toHaveLength(6);
    expect(plan.stages[0]!.accounts[0]!.modules.every((m) => m.reason === 'never-applied')).toBe(true);
  });

  it('includes only the changed module since each target last applied commit', () => {
    // GIVEN everything applied at the push's before, and one module changed
    const before = sha(1);
    const plan = planTargets(
      input({ push: testPush({ before }), lastApplied: appliedAll(before), changes: new Map([[before, ['dev/us-east-1/app/main.tf']]]) }),
    );
    // THEN only that module runs, and stages without work are left out
    expect(planned(plan)).toEqual(['dev:dev/us-east-1/app']);
    expect(plan.stages.map((s) => s.name)).toEqual(['dev']);
    expect(plan.stages[0]!.accounts[0]!.modules[0]).toEqual({ path: 'dev/us-east-1/app', reason: 'module-changed', since: before });
  });

  it('keeps the changes of a superseded push: a target is compared with its own last applied commit', () => {
    // GIVEN dev/app was last applied at commit 1, a superseded push 2 changed it, and push 3 changed only network
    const lastApplied = appliedAll(sha(2));
    lastApplied.set(targetKey('dev', 'dev/us-east-1/app'), { commit: sha(1), sequence: '0' });
    const changes = new Map<string, string[]>([
      [sha(2), ['dev/us-east-1/network/vpc.tf']],
      [sha(1), ['dev/us-east-1/app/main.tf', 'dev/us-east-1/network/vpc.tf']],
    ]);
    // WHEN planning push 3 (before = 2)
    const plan = planTargets(input({ push: testPush({ before: sha(2), after: sha(3) }), lastApplied, changes }));
    // THEN dev/app is included although push 3 did not touch it
    expect(planned(plan)).toEqual(['dev:dev/us-east-1/app', 'dev:dev/us-east-1/network']);
  });

  it('skips targets already applied at the commit (a replay never applies them again)', () => {
    // GIVEN dev was applied at after, the rest at before
    const after = sha(9);
    const lastApplied = appliedAll(sha(1));
    lastApplied.set(targetKey('dev', 'dev/us-east-1/app'), { commit: after, sequence: 'z' });
    lastApplied.set(targetKey('dev', 'dev/us-east-1/network'), { commit: after, sequence: 'z' });
    const changes = new Map([[sha(1), ['modules/shared/main.tf']]]);
    // WHEN planning the same push again
    const plan = planTargets(input({ push: testPush({ before: sha(1), after }), lastApplied, changes }));
    // THEN dev is skipped, the others run
    expect(planned(plan).some((t) => t.startsWith('dev:'))).toBe(false);
    expect(plan.skipped.filter((s) => s.reason === 'applied-at-commit')).toHaveLength(2);
    expect(planned(plan)).toHaveLength(4);
  });

  it('never moves a target backwards: a target applied by a newer push is skipped', () => {
    // GIVEN dev/app applied by a push received after this one
    const push = testPush({ before: sha(1), after: sha(2), receivedAt: '2026-11-20T10:00:00.000Z' });
    const lastApplied = new Map([[targetKey('dev', 'dev/us-east-1/app'), { commit: sha(3), sequence: '2026-11-20T11:00:00.000Z#' + sha(3) }]]);
    // WHEN planning with unknown changes
    const plan = planTargets(input({ push, lastApplied, modules: ['dev/us-east-1/app'] }));
    // THEN it is not planned
    expect(planned(plan)).toEqual([]);
    expect(plan.skipped).toEqual([{ account: 'dev', module: 'dev/us-east-1/app', reason: 'newer-commit-applied' }]);
  });

  it('includes every module of the account when a file under its root but outside modules changed', () => {
    const before = sha(1);
    const plan = planTargets(input({ push: testPush({ before }), lastApplied: appliedAll(before), changes: new Map([[before, ['staging/us-east-1/region.hcl']]]) }));
    expect(planned(plan)).toEqual(['staging:staging/us-east-1/app', 'staging:staging/us-east-1/network']);
    expect(plan.stages[0]!.accounts[0]!.modules[0]!.reason).toBe('account-changed');
  });

  it('includes every module of the account when the account-level file above the region changed', () => {
    // GIVEN an accountRoot of {account} only, so dev/account.hcl is under the root
    const cfg = testConfig({ layout: { accountRoot: '{account}' } });
    const before = sha(1);
    const plan = planTargets(input({ config: cfg, push: testPush({ before }), lastApplied: appliedAll(before), changes: new Map([[before, ['dev/account.hcl']]]) }));
    expect(planned(plan)).toEqual(['dev:dev/us-east-1/app', 'dev:dev/us-east-1/network']);
  });

  it('includes everything when a path outside every account root changed, and nothing for ignored paths', () => {
    const before = sha(1);
    const shared = planTargets(input({ push: testPush({ before }), lastApplied: appliedAll(before), changes: new Map([[before, ['modules/vpc/main.tf']]]) }));
    expect(planned(shared)).toHaveLength(6);
    const docs = planTargets(input({ push: testPush({ before }), lastApplied: appliedAll(before), changes: new Map([[before, ['README.md', 'docs/x.md', '.github/workflows/ci.yml']]]) }));
    expect(planned(docs)).toEqual([]);
    expect(docs.stages).toEqual([]);
  });

  it.each([
    ['an incomplete push', testPush({ before: sha(1), changes: { complete: false, paths: [] } })],
    ['a new branch', testPush({ before: ZERO_SHA })],
  ])('includes every module of every account for %s', (_name, push) => {
    // GIVEN change lists that would say nothing changed
    const plan = planTargets(input({ push, lastApplied: appliedAll(sha(1)), changes: new Map([[sha(1), []]]) }));
    // THEN nothing is left out
    expect(planned(plan)).toHaveLength(6);
    expect(plan.changesUnknown).toBe(true);
  });

  it('includes every module whose base is unknown', () => {
    const plan = planTargets(input({ push: testPush({ before: sha(1) }), lastApplied: appliedAll(sha(1)), changes: new Map([[sha(1), undefined]]) }));
    expect(planned(plan)).toHaveLength(6);
    expect(plan.stages[0]!.accounts[0]!.modules[0]!.reason).toBe('changes-unknown');
  });

  it('reports removed modules without planning them, and their deleted files trigger nothing else', () => {
    // GIVEN dev/old was applied but is gone at after
    const before = sha(1);
    const lastApplied = appliedAll(before);
    lastApplied.set(targetKey('dev', 'dev/us-east-1/old'), { commit: before, sequence: '0' });
    const plan = planTargets(input({ push: testPush({ before }), lastApplied, changes: new Map([[before, ['dev/us-east-1/old/main.tf']]]) }));
    expect(plan.removed).toEqual([{ account: 'dev', module: 'dev/us-east-1/old', lastAppliedCommit: before }]);
    expect(planned(plan)).toEqual([]);
  });

  it('includes the outer module when a nested module directory changed', () => {
    const before = sha(1);
    const modules = [...TEST_MODULES, 'dev/us-east-1/app/modules/queue'];
    const lastApplied = appliedAll(before);
    lastApplied.set(targetKey('dev', 'dev/us-east-1/app/modules/queue'), { commit: before, sequence: '0' });
    const plan = planTargets(input({ push: testPush({ before }), modules, lastApplied, changes: new Map([[before, ['dev/us-east-1/app/modules/queue/sqs.tf']]]) }));
    expect(planned(plan)).toEqual(['dev:dev/us-east-1/app', 'dev:dev/us-east-1/app/modules/queue']);
  });

  it('fails when a module directory name cannot be passed to the runner', () => {
    expect(() => planTargets(input({ modules: ['dev/us-east-1/my module'] }))).toThrow(InvalidModulePathError);
    expect(() => planTargets(input({ modules: ['dev/us-east-1/my module'] }))).toThrow(/my module.*cannot be deployed/);
  });
});

describe('planTargets with module dependencies', () => {
  const modules = ['dev/us-east-1/network', 'dev/us-east-1/db', 'dev/us-east-1/app', 'dev/us-east-1/docs-site'];
  // app -> db -> network; docs-site depends on nothing
  const graphs: AccountGraph[] = [
    { account: 'dev', root: 'dev/us-east-1', modules: [...modules].sort(), dependencies: { 'dev/us-east-1/app': ['dev/us-east-1/db'], 'dev/us-east-1/db': ['dev/us-east-1/network'] } },
  ];
  const appliedAt = (commit: string) => new Map(modules.map((m) => [targetKey('dev', m), { commit, sequence: '2026-11-19T00:00:00.000Z#' + commit }]));

  it('runs the dependents of a changed module too, transitively: a change to network runs db and app', () => {
    // GIVEN everything applied at before, and only network changed
    const before = sha(1);
    const plan = planTargets(input({ push: testPush({ before }), modules, lastApplied: appliedAt(before), changes: new Map([[before, ['dev/us-east-1/network/main.tf']]]), graphs }));
    // THEN network runs for its change, db and app because of it (each naming the changed module), docs-site not at all
    expect(plan.stages[0]!.accounts[0]!.modules).toEqual([
      { path: 'dev/us-east-1/app', reason: 'dependency-changed', since: before, upstream: 'dev/us-east-1/network' },
      { path: 'dev/us-east-1/db', reason: 'dependency-changed', since: before, upstream: 'dev/us-east-1/network' },
      { path: 'dev/us-east-1/network', reason: 'module-changed', since: before },
    ]);
    expect(plan.skipped).toEqual([{ account: 'dev', module: 'dev/us-east-1/docs-site', reason: 'unchanged' }]);
  });

  it('runs nothing upstream of a change: a change to app runs app alone', () => {
    const before = sha(1);
    const plan = planTargets(input({ push: testPush({ before }), modules, lastApplied: appliedAt(before), changes: new Map([[before, ['dev/us-east-1/app/main.tf']]]), graphs }));
    expect(planned(plan)).toEqual(['dev:dev/us-east-1/app']);
  });

  it('runs a dependent whose upstream changed since its own last apply, although that upstream is applied already', () => {
    // GIVEN network applied at after by an earlier run of this commit, and app still at before
    const before = sha(1);
    const after = sha(2);
    const lastApplied = appliedAt(before);
    lastApplied.set(targetKey('dev', 'dev/us-east-1/network'), { commit: after, sequence: 'z' });
    lastApplied.set(targetKey('dev', 'dev/us-east-1/db'), { commit: after, sequence: 'z' });
    const plan = planTargets(input({ push: testPush({ before, after }), modules, lastApplied, changes: new Map([[before, ['dev/us-east-1/network/main.tf']]]), graphs }));
    // THEN app runs (its upstream network changed since app's own last apply), network and db do not
    expect(plan.stages[0]!.accounts[0]!.modules).toEqual([{ path: 'dev/us-east-1/app', reason: 'dependency-changed', since: before, upstream: 'dev/us-east-1/network' }]);
  });

  it('never brings back a dependent applied at this commit or by a newer run', () => {
    const before = sha(1);
    const after = sha(2);
    const lastApplied = appliedAt(before);
    lastApplied.set(targetKey('dev', 'dev/us-east-1/app'), { commit: after, sequence: 'z' });
    const plan = planTargets(input({ push: testPush({ before, after }), modules, lastApplied, changes: new Map([[before, ['dev/us-east-1/network/main.tf']]]), graphs }));
    expect(planned(plan)).toEqual(['dev:dev/us-east-1/db', 'dev:dev/us-east-1/network']);
    expect(plan.skipped).toContainEqual({ account: 'dev', module: 'dev/us-east-1/app', reason: 'applied-at-commit' });
  });

  it('runs the dependents of a module that was never applied', () => {
    const before = sha(1);
    const lastApplied = appliedAt(before);
    lastApplied.delete(targetKey('dev', 'dev/us-east-1/db'));
    const plan = planTargets(input({ push: testPush({ before }), modules, lastApplied, changes: new Map([[before, []]]), graphs }));
    expect(planned(plan)).toEqual(['dev:dev/us-east-1/app', 'dev:dev/us-east-1/db']);
  });
});

describe('planTargets with module dependencies, property', () => {
  it('runs every dependent of a module that runs, unless applied at this commit, and nothing else because of the graph', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10 }).chain((n) =>
          fc.tuple(
            fc.constant(n),
            // i depends on j < i: acyclic
            fc.array(fc.tuple(fc.integer({ min: 1, max: Math.max(1, n - 1) }), fc.nat()), { maxLength: 20 }),
            fc.subarray(Array.from({ length: n }, (_, i) => i)),
            fc.subarray(Array.from({ length: n }, (_, i) => i)),
            fc.subarray(Array.from({ length: n }, (_, i) => i)),
          ),
        ),
        ([n, rawEdges, changedIdx, neverIdx, atAfterIdx]) => {
          const name = (i: number) => `dev/us-east-1/m${i}`;
          const modules = Array.from({ length: n }, (_, i) => name(i));
          const dependencies: Record<string, string[]> = {};
          for (const [i, r] of rawEdges) {
            if (i >= n) continue;
            dependencies[name(i)] = [...new Set([...(dependencies[name(i)] ?? []), name(r % i)])].sort();
          }
          const graph: AccountGraph = { account: 'dev', root: 'dev/us-east-1', modules: [...modules].sort(), dependencies };
          const before = sha(1);
          const after = sha(2);
          const lastApplied = new Map<string, AppliedTarget>();
          modules.forEach((m, i) => {
            if (neverIdx.includes(i)) return;
            lastApplied.set(targetKey('dev', m), atAfterIdx.includes(i) ? { commit: after, sequence: 'z' } : { commit: before, sequence: `0#${before}` });
          });
          const changed = changedIdx.map((i) => `${name(i)}/main.tf`);
          const plan = planTargets(input({ push: testPush({ before, after }), modules, lastApplied, changes: new Map([[before, changed]]), graphs: [graph] }));
          const runs = new Set(plan.stages.flatMap((s) => s.accounts.flatMap((a) => a.modules.map((m) => m.path))));
          const atAfter = (m: string) => lastApplied.get(targetKey('dev', m))?.commit === after;
          const changedSince = (m: string) => !atAfter(m) && (changedIdx.includes(modules.indexOf(m)) || !lastApplied.has(targetKey('dev', m)));
          for (const m of modules) {
            const ups = upstreamClosure(graph, m);
            const expected = !atAfter(m) && (changedSince(m) || [...ups].some((u) => changed.includes(`${u}/main.tf`) || runs.has(u)));
            expect(runs.has(m)).toBe(expected);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('basesToCompare', () => {
  it('lists the distinct last applied commits other than after', () => {
    const lastApplied = appliedAll(sha(1));
    lastApplied.set(targetKey('dev', 'dev/us-east-1/app'), { commit: sha(2), sequence: '0' });
    lastApplied.set(targetKey('prod', 'prod/eu-west-1/app'), { commit: sha(9), sequence: '0' });
    expect(basesToCompare({ config, push: testPush({ after: sha(9) }), modules: TEST_MODULES, lastApplied })).toEqual([sha(1), sha(2)]);
  });

  it('needs no comparison when the push changes are unknown anyway', () => {
    expect(basesToCompare({ config, push: testPush({ changes: { complete: false, paths: [] } }), modules: TEST_MODULES, lastApplied: appliedAll(sha(1)) })).toEqual([]);
  });
});

describe('pushSequence', () => {
  it('orders pushes by received time whatever the fraction digits, then by commit', () => {
    const a = pushSequence({ receivedAt: '2026-11-20T10:00:00Z', after: sha(5) });
    const b = pushSequence({ receivedAt: '2026-11-20T10:00:00.5Z', after: sha(1) });
    const c = pushSequence({ receivedAt: '2026-11-20T10:00:00.500Z', after: sha(2) });
    expect([c, b, a].sort()).toEqual([a, b, c]);
  });
});

describe('planTargets property', () => {
  const segment = fc.constantFrom('network', 'app', 'db', 'dns', 'x');
  const accountNames = config.accounts.map((a) => a.name);
  const rootOf = new Map(config.accounts.map((a) => [a.name, `${a.name}/${a.region}`]));
  const modulePath = fc.tuple(fc.constantFrom(...accountNames), segment, fc.option(segment, { nil: undefined })).map(([acc, a, b]) => `${rootOf.get(acc)}/${a}${b ? `/${b}` : ''}`);
  const changedPath = fc.oneof(
    modulePath.map((m) => `${m}/main.tf`),
    fc.constantFrom(...accountNames).map((acc) => `${rootOf.get(acc)}/region.hcl`),
    fc.constantFrom('README.md', 'docs/a.md', 'modules/shared/main.tf', '.github/x.yml'),
  );

  it('never leaves out a changed path under an account, nor a never-applied module', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(modulePath, { minLength: 1, maxLength: 12 }),
        fc.array(fc.tuple(fc.integer({ min: 1, max: 4 }), fc.array(changedPath, { maxLength: 6 }), fc.boolean())),
        fc.dictionary(fc.integer({ min: 0, max: 11 }).map(String), fc.integer({ min: 1, max: 5 })),
        (modules, changeSets, appliedIdx) => {
          const after = sha(5);
          const changes = new Map<string, string[] | undefined>();
          for (const [base, paths, known] of changeSets) changes.set(sha(base), known ? paths : undefined);
          const lastApplied = new Map<string, AppliedTarget>();
          for (const [i, commit] of Object.entries(appliedIdx)) {
            const m = modules[Number(i)];
            if (m) lastApplied.set(targetKey(m.split('/')[0]!, m), { commit: sha(commit), sequence: `0#${sha(commit)}` });
          }
          const plan = planTargets({ config, push: testPush({ before: sha(1), after }), modules, lastApplied, changes });
          const inPlan = new Set(planned(plan));
          for (const m of modules) {
            const account = m.split('/')[0]!;
            const root = rootOf.get(account)!;
            const applied = lastApplied.get(targetKey(account, m));
            const key = `${account}:${m}`;
            if (!applied) {
              expect(inPlan.has(key)).toBe(true);
              continue;
            }
            if (applied.commit === after) {
              expect(inPlan.has(key)).toBe(false);
              continue;
            }
            const paths = changes.get(applied.commit);
            if (paths === undefined) {
              expect(inPlan.has(key)).toBe(true);
              continue;
            }
            for (const p of paths) {
              const inModule = p.startsWith(`${m}/`);
              const accountLevel = p.startsWith(`${root}/`) && !modules.some((o) => p.startsWith(`${o}/`));
              const global = !config.accounts.some((a) => p.startsWith(`${rootOf.get(a.name)}/`)) && !config.layout.ignore.some((i) => p.startsWith(i));
              if (inModule || accountLevel || global) expect(inPlan.has(key)).toBe(true);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
