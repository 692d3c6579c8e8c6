import { planOnlyOutcome, planOnlyPlanArgs, PlanOnlyRequestSchema, resourceAction, MAX_CHANGES_PER_TARGET } from '../../lib/domain/plan-only';
import { encodeManifest, RunnerManifestSchema } from '../../lib/domain/runner-contract';

describe('plan-only contract', () => {
  test('drift plans with -detailed-exitcode, every plan-only run without a state lock', () => {
    expect(planOnlyPlanArgs('drift')).toEqual(['-lock=false', '-detailed-exitcode']);
    expect(planOnlyPlanArgs('pull-request')).toEqual(['-lock=false']);
  });

  test('a scheduled drift sweep needs no targets; a pull-request run needs its pull request and targets', () => {
    expect(PlanOnlyRequestSchema.safeParse({ kind: 'drift', id: 'drift-1', repository: 'acme/infra' }).success).toBe(true);
    const pr = PlanOnlyRequestSchema.safeParse({ kind: 'pull-request', id: 'pr-1', repository: 'acme/infra' });
    expect(pr.success).toBe(false);
    expect(JSON.stringify(pr.error?.issues)).toContain('names its repository, its pull request and its targets');
  });

  test('actions of terraform show -json map to one action, replacements included', () => {
    expect(resourceAction(['no-op'])).toBeUndefined();
    expect(resourceAction(['update'])).toBe('update');
    expect(resourceAction(['delete', 'create'])).toBe('replace');
    expect(resourceAction(['create', 'delete'])).toBe('replace');
  });

  test('changes are listed destroys first and bounded, counting the rest', () => {
    expect(planOnlyOutcome([])).toEqual({ status: 'clean' });
    const many = Array.from({ length: MAX_CHANGES_PER_TARGET + 3 }, (_, i) => ({ address: `a.r${String(i).padStart(4, '0')}`, action: 'update' as const }));
    const out = planOnlyOutcome([...many, { address: 'z.gone', action: 'delete' }]);
    expect(out.status).toBe('changes');
    expect(out.changes?.[0]).toEqual({ address: 'z.gone', action: 'delete' });
    expect(out.changes).toHaveLength(MAX_CHANGES_PER_TARGET);
    expect(out.moreChanges).toBe(4);
  });

  test('fails when a manifest marks a phase other than plan as plan-only', () => {
    const base = { account: 'dev', execution: 'drift-1', modules: ['m'], planOnly: { kind: 'drift' as const } };
    expect(RunnerManifestSchema.safeParse({ ...base, phase: 'apply' }).success).toBe(false);
    const ok = RunnerManifestSchema.parse({ ...base, phase: 'plan' });
    expect(JSON.parse(encodeManifest(ok))).toEqual({ ...base, phase: 'plan' });
  });
});
