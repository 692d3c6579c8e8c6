/**
 * Which modules of an apply were held back for a new approval. Pure.
 *
 * A module is held back when the apply planned it again after its upstreams applied and the new
 * plan's changes differ from the approved plan's (`awaiting-approval`), when a stage without
 * approval planned it and the plan policies answered warn or deny (`awaiting-approval` in
 * `plan-and-apply`: it needs an approval, or a policy owner's override), or when it was `skipped`
 * because an upstream was held back: a dependent never runs before its upstream has applied.
 * Held-back modules are not failures: the stage plans them again and asks for approval again.
 */

/** The little a module's result says about why it did not apply. */
export interface HeldInput {
  readonly path: string;
  readonly status: string;
  readonly skippedBecause?: string | undefined;
  /** The plan policies' verdict, when the stage has policies. */
  readonly policyStatus?: string | undefined;
  /** Whether the apply planned it again (its plan changed after its upstreams applied). */
  readonly replanned?: boolean | undefined;
}

/** Why a module was held back. */
export type Held = { readonly reason: 'changed' } | { readonly reason: 'policy' } | { readonly reason: 'upstream-held'; readonly upstream: string };

/** The held-back modules among `modules`, each with its reason. */
export function heldBack(modules: readonly HeldInput[]): Map<string, Held> {
  const held = new Map<string, Held>();
  for (const m of modules) {
    if (m.status !== 'awaiting-approval') continue;
    // A stage without approval applies in the plan's own task, unless the account's plan policies warn or deny.
    const byPolicy = !m.replanned && (m.policyStatus === 'warn' || m.policyStatus === 'deny');
    held.set(m.path, { reason: byPolicy ? 'policy' : 'changed' });
  }
  // A skipped module names one upstream; that upstream may itself be skipped because of another.
  let grew = true;
  while (grew) {
    grew = false;
    for (const m of modules) {
      if (m.status !== 'skipped' || !m.skippedBecause || held.has(m.path) || !held.has(m.skippedBecause)) continue;
      held.set(m.path, { reason: 'upstream-held', upstream: m.skippedBecause });
      grew = true;
    }
  }
  return held;
}

/**
 * `dependencies` restricted to `modules`: the edges a task over those modules alone keeps.
 * An upstream outside `modules` has applied already, so it orders nothing any more.
 */
export function restrictDependencies(dependencies: Readonly<Record<string, readonly string[]>> | undefined, modules: readonly string[]): Record<string, string[]> | undefined {
  if (!dependencies) return undefined;
  const keep = new Set(modules);
  const out: Record<string, string[]> = {};
  for (const m of modules) {
    const ups = (dependencies[m] ?? []).filter((u) => keep.has(u));
    if (ups.length > 0) out[m] = ups;
  }
  return out;
}

/** The mark of a plan that may change after its upstreams apply ('' when it has none). */
export function mayChangeMark(upstreams: readonly string[] | undefined): string {
  if (!upstreams || upstreams.length === 0) return '';
  return `plan may change after ${upstreams.join(' and ')} ${upstreams.length === 1 ? 'applies' : 'apply'}`;
}
