/**
 * Plan policies over real `terraform show -json` outputs (test/fixtures/terraform-show-json, as
 * Terraform's own command tests write them).
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { StagePoliciesSchema, type StagePoliciesInput } from '../../lib/config/schema';
import { addressMatches, destroyedAddresses, evaluateModulePlan, evaluatePlans, resultOf } from '../../lib/domain/plan-policy';
import { compileCel } from '../../lib/config/cel';

const fixture = (name: string): unknown => JSON.parse(readFileSync(path.join(__dirname, '..', 'fixtures', 'terraform-show-json', `${name}.json`), 'utf8'));
const policies = (input: StagePoliciesInput) => StagePoliciesSchema.parse(input);

describe('protect', () => {
  it('denies a plan that deletes a resource of a protected type, naming its address', () => {
    // GIVEN test_instance is protected WHEN basic-delete (one update, one delete) is checked
    const findings = evaluateModulePlan(policies({ protect: [{ id: 'keep', types: ['test_instance'], message: 'instances stay' }] }), fixture('basic-delete'), 'app');
    // THEN only the deleted instance is named, not the updated one
    expect(findings).toEqual([{ rule: 'keep', kind: 'protect', effect: 'deny', message: 'instances stay', addresses: ['test_instance.test-delete'] }]);
  });

  it('counts a replacement as a destroy', () => {
    const findings = evaluateModulePlan(policies({ protect: [{ id: 'keep', addresses: ['test_instance.*'], effect: 'warn' }] }), fixture('requires-replace'), 'app');
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ effect: 'warn', addresses: ['test_instance.test'] });
  });

  it('passes a plan that only creates and updates', () => {
    const p = policies({ protect: [{ id: 'keep', types: ['test_instance'] }] });
    expect(evaluateModulePlan(p, fixture('nested-modules'), 'app')).toEqual([]);
    expect(evaluateModulePlan(p, fixture('multi-resource-update'), 'app')).toEqual([]);
  });

  it('matches address patterns with * across dots and ? for one character', () => {
    expect(addressMatches('module.*.test_instance.test', 'module.my_module.module.more.test_instance.test')).toBe(true);
    expect(addressMatches('test_instance.test[?]', 'test_instance.test[1]')).toBe(true);
    expect(addressMatches('test_instance.test', 'test_instance.test-delete')).toBe(false);
    expect(addressMatches('aws_db_instance.*', 'module.db.aws_db_instance.main')).toBe(false);
  });
});

describe('maxDestroys', () => {
  it('warns when one module destroys more than perModule', () => {
    const findings = evaluateModulePlan(policies({ maxDestroys: [{ id: 'few', effect: 'warn', perModule: 0 }] }), fixture('basic-delete'), 'app');
    expect(findings).toEqual([
      { rule: 'few', kind: 'maxDestroys', effect: 'warn', message: 'too many resources destroyed: app destroys 1, at most 0 per module', addresses: ['test_instance.test-delete'] },
    ]);
  });

  it('counts perRun over every module of the task, and gives the finding to the modules that destroy', () => {
    // GIVEN two modules destroying one resource each, at most one per run
    const results = evaluatePlans(
      policies({ maxDestroys: [{ id: 'run', perRun: 1 }] }),
      new Map([
        ['a', fixture('basic-delete')],
        ['b', fixture('requires-replace')],
        ['c', fixture('nested-modules')],
      ]),
    );
    // THEN a and b are denied with both addresses, c (which destroys nothing) passes
    expect(results.get('a')).toEqual(results.get('b'));
    expect(results.get('a')!.status).toBe('deny');
    expect(results.get('a')!.findings[0]!.addresses).toEqual(['a: test_instance.test-delete', 'b: test_instance.test']);
    expect(results.get('c')).toEqual({ status: 'pass', findings: [] });
  });
});

describe('custom (CEL)', () => {
  it('matches the issue\'s kind of rule: a delete of a given type', () => {
    const p = policies({ custom: [{ id: 'no-delete', expression: 'plan.resource_changes.exists(rc, rc.type == "test_instance" && "delete" in rc.change.actions)', message: 'no deletes' }] });
    expect(evaluateModulePlan(p, fixture('basic-delete'), 'app')).toEqual([{ rule: 'no-delete', kind: 'custom', effect: 'deny', message: 'no deletes', addresses: [] }]);
    expect(evaluateModulePlan(p, fixture('nested-modules'), 'app')).toEqual([]);
  });

  it('names the addresses when the expression answers a list', () => {
    const p = policies({ custom: [{ id: 'creates', effect: 'warn', expression: 'plan.resource_changes.filter(rc, "create" in rc.change.actions).map(rc, rc.address)' }] });
    expect(evaluateModulePlan(p, fixture('multi-resource-update'), 'app')[0]!.addresses).toEqual(['test_instance.test[1]']);
    expect(evaluateModulePlan(p, fixture('basic-delete'), 'app')).toEqual([]);
  });

  it('counts a rule that fails on this plan as matched, saying why', () => {
    const p = policies({ custom: [{ id: 'broken', effect: 'warn', expression: 'plan.no_such_key.exists(x, x)' }] });
    const [finding] = evaluateModulePlan(p, fixture('basic-delete'), 'app');
    expect(finding).toMatchObject({ rule: 'broken', effect: 'warn' });
    expect(finding!.message).toMatch(/could not be evaluated \(line 1, column \d+: No such key: no_such_key\)/);
  });

  it('fails when the expression does not compile, with its position', () => {
    const compiled = compileCel('plan.resource_changes.exists(rc, rc.type == )');
    expect(compiled).toMatchObject({ ok: false, problem: { line: 1, column: 45, reason: 'Unexpected token: RPAREN' } });
    const parsed = StagePoliciesSchema.safeParse({ custom: [{ id: 'x', expression: 'a &&\n  b ||' }] });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues[0]!.message).toBe('a CEL expression that compiles; at line 2, column 7: Unexpected token: EOF');
  });
});

describe('verdict', () => {
  it('is deny over warn, warn over pass, deny findings first', () => {
    const warn = { rule: 'w', kind: 'custom' as const, effect: 'warn' as const, message: 'w', addresses: [] };
    const deny = { ...warn, rule: 'd', effect: 'deny' as const };
    expect(resultOf([])).toEqual({ status: 'pass', findings: [] });
    expect(resultOf([warn])).toEqual({ status: 'warn', findings: [warn] });
    expect(resultOf([warn, deny])).toEqual({ status: 'deny', findings: [deny, warn] });
  });

  it('reads destroyed addresses from the fixtures as Terraform counts them', () => {
    expect(destroyedAddresses(fixture('basic-delete'))).toEqual(['test_instance.test-delete']);
    expect(destroyedAddresses(fixture('requires-replace'))).toEqual(['test_instance.test']);
    expect(destroyedAddresses(fixture('nested-modules'))).toEqual([]);
  });
});
