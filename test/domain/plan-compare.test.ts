import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { canonicalJson, comparePlans, MAX_DIFFERENCES, normalizePlan, PlanCompareError } from '../../lib/domain/plan-compare';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'terraform-show-json');
const load = (name: string): Record<string, unknown> => JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8')) as Record<string, unknown>;
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

interface Rc {
  address: string;
  change: { actions: string[]; before?: unknown; after?: unknown; [k: string]: unknown };
  [k: string]: unknown;
}
const changesOf = (doc: Record<string, unknown>) => doc.resource_changes as Rc[];

describe('comparePlans', () => {
  test('two plans of the same changes are identical whatever their timestamps, versions, prior state and key order', () => {
    // GIVEN a real plan, and the same plan made later by another Terraform version
    const approved = load('multi-resource-update.json');
    const later = clone(approved);
    later.timestamp = '2026-12-02T05:00:00Z';
    later.terraform_version = '1.9.8';
    later.prior_state = { format_version: '1.0', values: { serial: 7 } };
    later.resource_changes = changesOf(later)
      .reverse()
      .map((rc) => ({ ...rc, change: Object.fromEntries(Object.entries(rc.change).reverse()) as Rc['change'], action_reason: 'replace_because_tainted' }));
    // WHEN compared
    const result = comparePlans(approved, later);
    // THEN nothing differs
    expect(result).toEqual({ identical: true, differences: [] });
  });

  test('a changed planned value differs, and the difference names the address, never the value', () => {
    const approved = load('basic-delete.json');
    const next = clone(approved);
    const updated = changesOf(next).find((rc) => rc.change.actions.join() === 'update');
    expect(updated).toBeDefined();
    updated!.change.after = { ...(updated!.change.after as object), ami: 's3cr3t-new-value' };
    const result = comparePlans(approved, next);
    expect(result.identical).toBe(false);
    expect(result.differences).toEqual([`${updated!.address}: update with different values than approved`]);
    expect(result.differences.join('\n')).not.toContain('s3cr3t');
  });

  test('new, dropped and re-actioned resources and outputs are each listed', () => {
    const approved = {
      resource_changes: [
        { address: 'aws_vpc.main', change: { actions: ['update'], before: { cidr: 'a' }, after: { cidr: 'b' } } },
        { address: 'aws_subnet.a', change: { actions: ['create'], before: null, after: { id: 1 } } },
        { address: 'aws_route.r', change: { actions: ['no-op'], before: {}, after: {} } },
      ],
      output_changes: { vpc_id: { actions: ['update'], before: 'x', after: 'y' } },
    };
    const next = {
      resource_changes: [
        { address: 'aws_vpc.main', change: { actions: ['delete', 'create'], before: { cidr: 'a' }, after: { cidr: 'b' } } },
        { address: 'aws_route.r', change: { actions: ['update'], before: {}, after: { x: 1 } } },
      ],
      output_changes: { vpc_id: { actions: ['no-op'], before: 'x', after: 'x' } },
    };
    expect(comparePlans(approved, next).differences).toEqual([
      'aws_route.r: update (not in the approved plan)',
      'aws_subnet.a: no longer changes (approved: create)',
      'aws_vpc.main: delete, then create (approved: update)',
      'output vpc_id: no longer changes (approved: update)',
    ]);
  });

  test('a no-op listed in one plan and absent from the other is no difference', () => {
    const a = { resource_changes: [{ address: 'x.y', change: { actions: ['no-op'], before: {}, after: {} } }] };
    expect(comparePlans(a, {}).identical).toBe(true);
  });

  test('a deposed object is a change of its own', () => {
    const a = { resource_changes: [{ address: 'x.y', change: { actions: ['create'], after: {} } }] };
    const b = { resource_changes: [{ address: 'x.y', change: { actions: ['create'], after: {} } }, { address: 'x.y', deposed: '00aa', change: { actions: ['delete'] } }] };
    expect(comparePlans(a, b).differences).toEqual(['x.y (deposed 00aa): delete (not in the approved plan)']);
  });

  test('lists at most MAX_DIFFERENCES differences and counts the rest', () => {
    const many = { resource_changes: Array.from({ length: MAX_DIFFERENCES + 5 }, (_, i) => ({ address: `r.n${String(i).padStart(3, '0')}`, change: { actions: ['create'] } })) };
    const result = comparePlans({}, many);
    expect(result.differences).toHaveLength(MAX_DIFFERENCES + 1);
    expect(result.differences.at(-1)).toBe('... and 5 more');
  });

  test('fails when a document is not a plan', () => {
    expect(() => comparePlans({ resource_changes: 'nope' }, {})).toThrow(PlanCompareError);
    expect(() => normalizePlan({ resource_changes: [{ address: 'a.b', change: { actions: [] } }] })).toThrow(/not a terraform plan JSON document/);
  });

  test('fails when a plan lists one address twice', () => {
    const doc = { resource_changes: [0, 1].map(() => ({ address: 'a.b', change: { actions: ['create'] } })) };
    expect(() => normalizePlan(doc)).toThrow('the plan lists a.b twice');
  });
});

describe('canonicalJson', () => {
  test('sorts keys at every depth and drops undefined', () => {
    expect(canonicalJson({ b: [{ d: 1, c: 2 }], a: undefined, e: null })).toBe('{"b":[{"c":2,"d":1}],"e":null}');
  });
});
