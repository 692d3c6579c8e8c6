/**
 * Target planning: which modules of which accounts a push deploys, stage by stage. Pure: no AWS,
 * no git, no clock. The pipeline function, the local mode and the CLI feed it what they read and
 * all get the same answer.
 *
 * A target is one module state: repository + account + module. Each target is compared with ITS
 * OWN last applied commit, never only with the push's `before`, so the changes of a superseded
 * push are never lost (invariant 1), and a target already applied at `after` is skipped, so a
 * replay never applies it again (invariant 3). When in doubt a module is included: planning a
 * module that did not change is a no-op, missing one is a bug.
 */
import type { AccountConfig, Config } from '../config/schema';
import { ZERO_SHA, type PushEvent } from '../domain/push-event';
import { ModulePathSchema } from '../domain/runner-contract';
import { InvalidModulePathError } from './errors';
import { dependentsIndex, upstreamClosure, type AccountGraph } from './module-graph';

/** What the run table knows about a target's last apply. */
export interface AppliedTarget {
  readonly commit: string;
  /** The push sequence of that commit (see {@link pushSequence}); compared as strings. */
  readonly sequence: string;
  /** The admission generation of the run that applied it; absent on records written before generations. */
  readonly generation?: number;
}

/**
 * Whether a target was applied by a run admitted after this one: applying this run's commit
 * would move it backwards. Admission order (the lease generation) follows git ancestry; the
 * arrival sequence decides only between records that both lack a generation.
 */
export function appliedByNewerRun(applied: AppliedTarget, run: { readonly sequence: string; readonly generation?: number }): boolean {
  if (applied.generation !== undefined && run.generation !== undefined) return applied.generation > run.generation;
  if (applied.generation === undefined && run.generation === undefined) return applied.sequence > run.sequence;
  // One side predates generations: only a run without one can be the older.
  return run.generation === undefined;
}

/** Everything the planner needs, read beforehand by the caller. */
export interface PlanTargetsInput {
  readonly config: Config;
  readonly push: PushEvent;
  /** Module directories (repository-relative) present at `push.after`, from {@link RepoReader.listModules}. */
  readonly modules: readonly string[];
  /** Last applied commit per target, keyed by {@link targetKey}(account, module). */
  readonly lastApplied: ReadonlyMap<string, AppliedTarget>;
  /** The run's admission generation (its fencing token), when admitted. */
  readonly generation?: number;
  /**
   * Changed paths from each base commit to `push.after`; `undefined` (or a missing entry) means
   * unknown, and every target with that base is included. {@link basesToCompare} says which to read.
   */
  readonly changes: ReadonlyMap<string, readonly string[] | undefined>;
  /**
   * Each account's module graph (see `discoverDependencies`): a module whose upstream changed, or
   * runs in this push, runs too. Absent: modules are independent.
   */
  readonly graphs?: readonly AccountGraph[];
}

/** Why a module is in the plan. */
export type InclusionReason = 'never-applied' | 'module-changed' | 'account-changed' | 'repository-changed' | 'changes-unknown' | 'dependency-changed';

/** Why a module is not in the plan although it exists. */
export type SkipReason = 'applied-at-commit' | 'newer-commit-applied' | 'unchanged';

export interface PlannedModule {
  readonly path: string;
  readonly reason: InclusionReason;
  /** The commit it was last applied at, if any. */
  readonly since?: string;
  /** `dependency-changed`: the upstream module (of the same account) that changed or runs. */
  readonly upstream?: string;
}

export interface PlannedAccount {
  readonly account: AccountConfig;
  /** The account's root directory in the repository, such as `dev/us-east-1`. */
  readonly root: string;
  readonly modules: readonly PlannedModule[];
}

export interface PlannedStage {
  readonly name: string;
  readonly accounts: readonly PlannedAccount[];
}

/** A target that was applied once but whose module no longer exists at `after`: reported, never destroyed. */
export interface RemovedTarget {
  readonly account: string;
  readonly module: string;
  readonly lastAppliedCommit: string;
}

export interface SkippedTarget {
  readonly account: string;
  readonly module: string;
  readonly reason: SkipReason;
}

/** The planner's answer: only stages and accounts with work, in `config.stageOrder`. */
export interface TargetPlan {
  readonly stages: readonly PlannedStage[];
  readonly removed: readonly RemovedTarget[];
  readonly skipped: readonly SkippedTarget[];
  /** True when the push's own change list could not be trusted and every module was considered changed. */
  readonly changesUnknown: boolean;
}

/** The key of a target within one repository in {@link PlanTargetsInput.lastApplied}. */
export function targetKey(account: string, module: string): string {
  return `${account}#${module}`;
}

/**
 * The push order of a push: receivedAt (normalised to ISO with milliseconds, so string order is
 * time order) then the commit. Stored with applied targets and queue entries.
 */
export function pushSequence(push: Pick<PushEvent, 'receivedAt' | 'after'>): string {
  return `${new Date(push.receivedAt).toISOString()}#${push.after}`;
}

/** The account's root directory: its own `root` (fleet rules set one), else `layout.accountRoot`, with `{account}`, `{region}`, `{stage}` filled. */
export function accountRoot(config: Config, account: AccountConfig): string {
  return (account.root ?? config.layout.accountRoot).replaceAll('{account}', account.name).replaceAll('{region}', account.region).replaceAll('{stage}', account.stage);
}

function isUnder(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

/** Whether the push's own change list cannot be trusted: a new branch or an incomplete payload (forced pushes are sent incomplete). */
export function pushChangesUnknown(push: PushEvent): boolean {
  return !push.changes.complete || push.before === ZERO_SHA;
}

/** The modules of one account: inventory directories under its root. Sorted, so plans are stable. */
export function modulesOfAccount(config: Config, account: AccountConfig, modules: readonly string[]): string[] {
  const root = accountRoot(config, account);
  return modules.filter((m) => isUnder(m, root)).sort();
}

/**
 * The base commits whose changes the planner needs (each target's last applied commit, other than
 * `after`). The caller reads `changedPaths(base, after)` for each; when the push is complete and a
 * base equals `push.before`, the push's own paths can stand in for it.
 */
export function basesToCompare(input: Omit<PlanTargetsInput, 'changes'>): string[] {
  if (pushChangesUnknown(input.push)) return [];
  const bases = new Set<string>();
  for (const account of input.config.accounts) {
    for (const module of modulesOfAccount(input.config, account, input.modules)) {
      const applied = input.lastApplied.get(targetKey(account.name, module));
      if (applied && applied.commit !== input.push.after) bases.add(applied.commit);
    }
  }
  return [...bases].sort();
}

interface ChangeImpact {
  /** Every module of every account. */
  readonly everything: boolean;
  /** Accounts (by name) all of whose modules are touched. */
  readonly accounts: ReadonlySet<string>;
  /** Modules touched directly. */
  readonly modules: ReadonlySet<string>;
}

function impactOf(
  config: Config,
  paths: readonly string[],
  roots: ReadonlyMap<string, string>,
  modulesByAccount: ReadonlyMap<string, readonly string[]>,
  removedModules: ReadonlySet<string>,
): ChangeImpact {
  const accounts = new Set<string>();
  const modules = new Set<string>();
  let everything = false;
  for (const path of paths) {
    let underAccount = false;
    for (const [name, root] of roots) {
      if (!isUnder(path, root)) continue;
      underAccount = true;
      // Every module containing the path: nested module directories are often local sources of
      // the module above them, so the outer one changes too.
      const containing = (modulesByAccount.get(name) ?? []).filter((m) => isUnder(path, m));
      if (containing.length > 0) containing.forEach((m) => modules.add(m));
      else if (![...removedModules].some((m) => isUnder(path, m))) accounts.add(name);
    }
    if (!underAccount && !config.layout.ignore.some((prefix) => path.startsWith(prefix))) everything = true;
  }
  return { everything, accounts, modules };
}

/**
 * Decides the stages, accounts and modules a push deploys. Throws {@link InvalidModulePathError}
 * when a module under an account root has a name the runner contract cannot carry, rather than
 * silently leaving it out.
 */
export function planTargets(input: PlanTargetsInput): TargetPlan {
  const { config, push } = input;
  const unknown = pushChangesUnknown(push);
  const sequence = pushSequence(push);

  const roots = new Map<string, string>();
  const modulesByAccount = new Map<string, string[]>();
  for (const account of config.accounts) {
    roots.set(account.name, accountRoot(config, account));
    const mods = modulesOfAccount(config, account, input.modules);
    for (const m of mods) {
      const check = ModulePathSchema.safeParse(m);
      if (!check.success) throw new InvalidModulePathError(m, check.error.issues[0]?.message ?? 'invalid path');
    }
    modulesByAccount.set(account.name, mods);
  }

  const removed: RemovedTarget[] = [];
  const removedModules = new Set<string>();
  for (const account of config.accounts) {
    const present = new Set(modulesByAccount.get(account.name));
    const prefix = `${account.name}#`;
    for (const [key, applied] of input.lastApplied) {
      if (!key.startsWith(prefix)) continue;
      const module = key.slice(prefix.length);
      if (present.has(module)) continue;
      removed.push({ account: account.name, module, lastAppliedCommit: applied.commit });
      removedModules.add(module);
    }
  }

  const impacts = new Map<string, ChangeImpact | undefined>();
  const impactFor = (base: string): ChangeImpact | undefined => {
    if (!impacts.has(base)) {
      const paths = input.changes.get(base);
      impacts.set(base, paths === undefined ? undefined : impactOf(config, paths, roots, modulesByAccount, removedModules));
    }
    return impacts.get(base);
  };

  const graphs = new Map((input.graphs ?? []).map((g) => [g.account, g]));
  const skipped: SkippedTarget[] = [];
  const stages: PlannedStage[] = [];
  for (const stageName of config.stageOrder) {
    const accounts: PlannedAccount[] = [];
    for (const account of config.accounts.filter((a) => a.stage === stageName)) {
      const planned = new Map<string, PlannedModule>();
      const unchanged = new Map<string, AppliedTarget>();
      const graph = graphs.get(account.name);
      for (const module of modulesByAccount.get(account.name) ?? []) {
        const applied = input.lastApplied.get(targetKey(account.name, module));
        const skip = (reason: SkipReason) => skipped.push({ account: account.name, module, reason });
        if (!applied) {
          planned.set(module, { path: module, reason: 'never-applied' });
          continue;
        }
        if (applied.commit === push.after) {
          skip('applied-at-commit');
          continue;
        }
        // A newer push already reached this target: applying this older commit would move it backwards.
        if (appliedByNewerRun(applied, { sequence, generation: input.generation })) {
          skip('newer-commit-applied');
          continue;
        }
        const impact = unknown ? undefined : impactFor(applied.commit);
        let reason: InclusionReason | undefined;
        if (impact === undefined) reason = 'changes-unknown';
        else if (impact.everything) reason = 'repository-changed';
        else if (impact.accounts.has(account.name)) reason = 'account-changed';
        else if (impact.modules.has(module)) reason = 'module-changed';
        if (reason) planned.set(module, { path: module, reason, since: applied.commit });
        else if (graph) {
          // An upstream changed since this module's own last apply (even when that upstream
          // was applied since, by a run this module failed in): its inputs may have changed.
          const upstream = [...upstreamClosure(graph, module)].sort().find((up) => impact!.modules.has(up));
          if (upstream !== undefined) planned.set(module, { path: module, reason: 'dependency-changed', since: applied.commit, upstream });
          else unchanged.set(module, applied);
        } else skip('unchanged');
      }
      if (graph) {
        // The dependents of every module that runs run too, transitively: a change to network runs
        // app. The walk goes on through a dependent that does not run (applied at this commit), so
        // the modules below it still run, as they would for a change to it.
        const dependents = dependentsIndex(graph);
        const queue = [...planned.keys()].sort().map((module) => ({ module, cause: module }));
        const reached = new Set(queue.map((q) => q.module));
        while (queue.length > 0) {
          const { module: from, cause } = queue.shift()!;
          for (const module of (dependents.get(from) ?? []).sort()) {
            if (reached.has(module)) continue;
            reached.add(module);
            const applied = unchanged.get(module);
            if (applied !== undefined) {
              unchanged.delete(module);
              planned.set(module, { path: module, reason: 'dependency-changed', since: applied.commit, upstream: cause });
            }
            queue.push({ module, cause: planned.has(module) ? module : cause });
          }
        }
        for (const module of unchanged.keys()) skipped.push({ account: account.name, module, reason: 'unchanged' });
      }
      if (planned.size > 0) {
        const modules = [...planned.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
        accounts.push({ account, root: roots.get(account.name)!, modules });
      }
    }
    if (accounts.length > 0) stages.push({ name: stageName, accounts });
  }
  return { stages, removed, skipped, changesUnknown: unknown };
}
