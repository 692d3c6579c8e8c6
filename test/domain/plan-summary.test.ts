import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { capAddresses, formatPlanLine, MAX_LISTED_ADDRESSES, PlanSummaryError, summarizePlan } from '../../lib/domain/plan-summary';

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(path.join(__dirname, '..', 'fixtures', 'terraform-show-json', name), 'utf8'));

describe('summarizePlan', () => {
  // Expected counts from the fixtures' README (Terraform's own "Plan:" line).
  it.each([
    ['basic-delete.json', 0, 1, 1, ['test_instance.test-delete'], []],
    ['requires-replace.json', 1, 0, 1, [], ['test_instance.test']],
    ['nested-modules.json', 1, 0, 0, [], []],
    ['multi-resource-update.json', 1, 0, 0, [], []],
  ])('GIVEN the real show -json output %s WHEN summarised THEN it counts %i add, %i change, %i destroy', (file, add, change, destroy, deleted, replaced) => {
    expect(summarizePlan(fixture(file))).toEqual({ add, change, destroy, deleted, replaced });
  });

  it('GIVEN every action kind WHEN summarised THEN only managed changes count and replacements count twice', () => {
    const plan = {
      format_version: '1.2',
      resource_changes: [
        { address: 'a.create', mode: 'managed', change: { actions: ['create'] } },
        { address: 'a.update', mode: 'managed', change: { actions: ['update'] } },
        { address: 'a.delete', mode: 'managed', change: { actions: ['delete'] } },
        { address: 'a.cbd', mode: 'managed', change: { actions: ['create', 'delete'] } },
        { address: 'a.dbc', mode: 'managed', change: { actions: ['delete', 'create'] } },
        { address: 'a.noop', mode: 'managed', change: { actions: ['no-op'] } },
        { address: 'a.forget', mode: 'managed', change: { actions: ['forget'] } },
        { address: 'data.a.read', mode: 'data', change: { actions: ['read'] } },
        { address: 'data.a.weird', mode: 'data', change: { actions: ['create'] } },
      ],
    };
    expect(summarizePlan(plan)).toEqual({ add: 3, change: 1, destroy: 3, deleted: ['a.delete'], replaced: ['a.cbd', 'a.dbc'] });
  });

  it('GIVEN attribute values in the plan WHEN summarised THEN none of them is in the summary', () => {
    const summary = JSON.stringify(summarizePlan(fixture('basic-delete.json')));
    const raw = JSON.stringify(fixture('basic-delete.json'));
    const values = [...raw.matchAll(/"ami":"([^"]+)"/g)].map((m) => m[1]!);
    expect(values.length).toBeGreaterThan(0);
    for (const v of values) expect(summary).not.toContain(v);
  });

  it('GIVEN a plan without changes WHEN summarised THEN all counts are zero', () => {
    expect(summarizePlan({ format_version: '1.2' })).toEqual({ add: 0, change: 0, destroy: 0, deleted: [], replaced: [] });
  });

  it('fails when an action list is unknown', () => {
    expect(() => summarizePlan({ resource_changes: [{ address: 'x', mode: 'managed', change: { actions: ['update', 'delete'] } }] })).toThrow(PlanSummaryError);
  });

  it('fails when the document is not a plan', () => {
    expect(() => summarizePlan('nope')).toThrow(PlanSummaryError);
    expect(() => summarizePlan({ resource_changes: [{ address: 'x' }] })).toThrow(PlanSummaryError);
  });

  it('GIVEN counts WHEN formatted THEN it reads like Terraform', () => {
    expect(formatPlanLine({ add: 1, change: 0, destroy: 2 })).toBe('Plan: 1 to add, 0 to change, 2 to destroy.');
  });
});

describe('address lists', () => {
  it('lists at most MAX_LISTED_ADDRESSES deleted addresses and counts the rest, with exact counts', () => {
    // GIVEN a plan deleting 2,500 resources
    const plan = { format_version: '1.2', resource_changes: Array.from({ length: 2500 }, (_, i) => ({ address: `aws_s3_object.o[${i}]`, mode: 'managed', change: { actions: ['delete'] } })) };
    // WHEN it is summarised
    const s = summarizePlan(plan);
    // THEN the count is exact, the list holds the first addresses and one entry counting the rest
    expect(s.destroy).toBe(2500);
    expect(s.deleted).toHaveLength(MAX_LISTED_ADDRESSES + 1);
    expect(s.deleted[0]).toBe('aws_s3_object.o[0]');
    expect(s.deleted.at(-1)).toBe(`... and ${2500 - MAX_LISTED_ADDRESSES} more`);
  });

  it('keeps the count of a list capped before when capping it again', () => {
    const once = capAddresses(['a', 'b', 'c', 'd', 'e'], 3);
    expect(once).toEqual(['a', 'b', 'c', '... and 2 more']);
    expect(capAddresses(once, 1)).toEqual(['a', '... and 4 more']);
    expect(capAddresses(once, 3)).toEqual(once);
    expect(capAddresses(once, 0)).toEqual(['... and 5 more']);
    expect(capAddresses([], 0)).toEqual([]);
  });
});
