/**
 * Plan policies: the stage's rules checked against `terraform show -json` output. Pure: the
 * runner calls it in each account after every plan, on the account's own copy of the rules.
 *
 * - `protect`: a resource of a listed type, or whose address matches a listed pattern, that the
 *   plan deletes or replaces;
 * - `maxDestroys`: more resources destroyed (deleted or replaced) than allowed in one module
 *   (`perModule`) or over every module the run plans in the account (`perRun`);
 * - `custom`: a CEL expression over the plan that answers true, or a non-empty list of addresses.
 *
 * A rule that cannot be evaluated (its CEL expression fails on this plan, say) counts as matched:
 * a guard that cannot look does not let the plan through.
 */
import type { StagePolicies } from '../config/schema';
import { MAX_POLICY_ADDRESSES, MAX_POLICY_FINDINGS, type PolicyFinding, type PolicyResult } from './runner-contract';
import { compileCel, celProblemText, runCel } from '../config/cel';

/** A managed resource change as the rules read it. */
interface ResourceChange {
  readonly address: string;
  readonly type: string;
  readonly actions: readonly string[];
}

function asRecord(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** The managed resource changes of a plan document; anything unreadable is left out. */
export function resourceChangesOf(plan: unknown): ResourceChange[] {
  const list = asRecord(plan).resource_changes;
  if (!Array.isArray(list)) return [];
  const out: ResourceChange[] = [];
  for (const raw of list) {
    const rc = asRecord(raw);
    const actions = asRecord(rc.change).actions;
    if (typeof rc.address !== 'string' || rc.mode === 'data' || !Array.isArray(actions)) continue;
    const type = typeof rc.type === 'string' ? rc.type : rc.address.replace(/^(module\.[^.]+(\[[^\]]*\])?\.)*/, '').split('.')[0]!;
    out.push({ address: rc.address, type, actions: actions.filter((a): a is string => typeof a === 'string') });
  }
  return out;
}

/** Deleted or replaced: the plan's actions include `delete`. */
export function destroys(rc: ResourceChange): boolean {
  return rc.actions.includes('delete');
}

/** The addresses a plan destroys (deletes or replaces). */
export function destroyedAddresses(plan: unknown): string[] {
  return resourceChangesOf(plan)
    .filter(destroys)
    .map((rc) => rc.address);
}

/** Whether `address` matches `glob`: `*` any characters (dots and brackets included), `?` one. */
export function addressMatches(glob: string, address: string): boolean {
  const re = new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');
  return re.test(address);
}

function capped(addresses: readonly string[]): string[] {
  if (addresses.length <= MAX_POLICY_ADDRESSES) return [...addresses];
  return [...addresses.slice(0, MAX_POLICY_ADDRESSES), `... and ${addresses.length - MAX_POLICY_ADDRESSES} more`];
}

/** The verdict of a list of findings: the strongest effect among them. */
export function verdictOf(findings: readonly PolicyFinding[]): PolicyResult['status'] {
  if (findings.some((f) => f.effect === 'deny')) return 'deny';
  return findings.length > 0 ? 'warn' : 'pass';
}

/** A result from findings, the deny findings first, capped to what a module result holds. */
export function resultOf(findings: readonly PolicyFinding[]): PolicyResult {
  const ordered = [...findings.filter((f) => f.effect === 'deny'), ...findings.filter((f) => f.effect !== 'deny')];
  return { status: verdictOf(ordered), findings: ordered.slice(0, MAX_POLICY_FINDINGS) };
}

/** Whether a stage's policies have any rule the runner checks. */
export function hasRules(policies: StagePolicies | undefined): policies is StagePolicies {
  return policies !== undefined && policies.protect.length + policies.maxDestroys.length + policies.custom.length > 0;
}

/** The addresses a custom rule's answer names: true -> [], a list -> its strings (or their `address`). */
function customAnswer(value: unknown): { matched: boolean; addresses: string[] } | { error: string } {
  if (typeof value === 'boolean') return { matched: value, addresses: [] };
  if (Array.isArray(value)) {
    const addresses = value.map((v) => (typeof v === 'string' ? v : typeof asRecord(v).address === 'string' ? (asRecord(v).address as string) : undefined));
    if (addresses.some((a) => a === undefined)) return { error: 'answered a list that is not of addresses (strings, or objects with an address)' };
    return { matched: addresses.length > 0, addresses: addresses as string[] };
  }
  return { error: `answered ${value === null ? 'null' : typeof value}; expected a bool or a list of addresses` };
}

/**
 * The findings of the rules that look at one module's plan: `protect`, `maxDestroys.perModule`
 * and `custom`. `module` names the module in messages.
 */
export function evaluateModulePlan(policies: StagePolicies, plan: unknown, module: string): PolicyFinding[] {
  const changes = resourceChangesOf(plan);
  const destroyed = changes.filter(destroys);
  const findings: PolicyFinding[] = [];
  for (const rule of policies.protect) {
    const hit = destroyed.filter((rc) => rule.types.includes(rc.type) || rule.addresses.some((g) => addressMatches(g, rc.address)));
    if (hit.length === 0) continue;
    findings.push({
      rule: rule.id,
      kind: 'protect',
      effect: rule.effect,
      message: rule.message ?? `${module}: the plan deletes or replaces protected resources`,
      addresses: capped(hit.map((rc) => rc.address)),
    });
  }
  for (const rule of policies.maxDestroys) {
    if (rule.perModule === undefined || destroyed.length <= rule.perModule) continue;
    findings.push({
      rule: rule.id,
      kind: 'maxDestroys',
      effect: rule.effect,
      message: `${rule.message ?? 'too many resources destroyed'}: ${module} destroys ${destroyed.length}, at most ${rule.perModule} per module`,
      addresses: capped(destroyed.map((rc) => rc.address)),
    });
  }
  for (const rule of policies.custom) {
    const compiled = compileCel(rule.expression);
    const outcome = compiled.ok ? runCel(rule.expression, compiled.program, { plan }) : { ok: false as const, problem: compiled.problem };
    const answer = outcome.ok ? customAnswer(outcome.value) : { error: `could not be evaluated (${celProblemText(outcome.problem)})` };
    if ('error' in answer) {
      findings.push({ rule: rule.id, kind: 'custom', effect: rule.effect, message: `${module}: rule ${rule.id} ${answer.error}; it counts as matched`, addresses: [] });
    } else if (answer.matched) {
      findings.push({ rule: rule.id, kind: 'custom', effect: rule.effect, message: rule.message ?? `${module}: custom rule ${rule.id} matched`, addresses: capped(answer.addresses) });
    }
  }
  return findings.map((f) => ({ ...f, message: f.message.slice(0, 1000) }));
}

/**
 * The findings of `maxDestroys.perRun` over the modules one account's task planned in the run:
 * `destroyed` maps each module to the addresses its plan destroys.
 */
export function evaluateRunTotals(policies: StagePolicies, destroyed: ReadonlyMap<string, readonly string[]>): PolicyFinding[] {
  const all = [...destroyed].flatMap(([module, addresses]) => addresses.map((a) => `${module}: ${a}`));
  const findings: PolicyFinding[] = [];
  for (const rule of policies.maxDestroys) {
    if (rule.perRun === undefined || all.length <= rule.perRun) continue;
    findings.push({
      rule: rule.id,
      kind: 'maxDestroys',
      effect: rule.effect,
      message: `${rule.message ?? 'too many resources destroyed'}: the run destroys ${all.length} in this account, at most ${rule.perRun} per run`.slice(0, 1000),
      addresses: capped(all),
    });
  }
  return findings;
}

/**
 * Every rule over the plans of one account's task: `plans` maps each module to its parsed
 * `terraform show -json` document. Answers each module's result; `perRun` findings go to every
 * module that destroys something (each of them adds to the total).
 */
export function evaluatePlans(policies: StagePolicies, plans: ReadonlyMap<string, unknown>): Map<string, PolicyResult> {
  const destroyed = new Map([...plans].map(([module, plan]) => [module, destroyedAddresses(plan)] as const));
  const run = evaluateRunTotals(policies, destroyed);
  const out = new Map<string, PolicyResult>();
  for (const [module, plan] of plans) {
    const own = evaluateModulePlan(policies, plan, module);
    out.set(module, resultOf((destroyed.get(module) ?? []).length > 0 ? [...own, ...run] : own));
  }
  return out;
}
