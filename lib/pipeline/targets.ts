/**
 * `targets`: reads the repository and the run table, asks the planner which modules of which
 * accounts this push deploys, writes each stage's account items to the artifacts store (where
 * the stage's Distributed Maps read them) and answers the stages, small whatever their size.
 */
import type { z } from "zod";
import type { AccountConfig, Config } from "../config/schema";
import { launcherRoleArn, partitionOf } from "../domain/arns";
import { names } from "../domain/names";
import { dependencyGraphs } from "../planning/dependencies";
import { taskDependencies, type AccountGraph } from "../planning/module-graph";
import {
  basesToCompare,
  planTargets,
  targetKey,
  type AppliedTarget,
  type TargetPlan,
} from "../planning/targets";
import { mapLimit } from "../domain/concurrency";
import { hasRules } from "../domain/plan-policy";
import { artifactKeys } from "../domain/runner-contract";
import type {
  AccountItem,
  ItemsLocation,
  StageItem,
  TargetsRequestSchema,
  TargetsResult,
} from "../statemachine/contracts";
import { writeItems } from "../statemachine/items";
import { assignWaves } from "../planning/waves";
import { phaseAtWave, rolloutOf, waveCountOf } from "./waves";
import type { PipelineDeps } from "./deps";
import { runConfig } from "./fleet";
import { notifyRun } from "./notify";
import { LockLostError } from "./errors";
import { parseExecutionInput, repositoryOf } from "./push";

export type TargetsRequest = z.infer<typeof TargetsRequestSchema>;

/** How many compare calls run at once. */
const COMPARE_CONCURRENCY = 4;

/**
 * The item the state machine's Map gets for one account: where and how its runner task runs.
 * `phase` is the stage's first phase (`plan` where the stage needs approval).
 */
export function accountItem(
  config: Config,
  account: AccountConfig,
  modules: readonly string[],
  phase: "plan" | "plan-and-apply" = "plan-and-apply",
  graph?: AccountGraph,
): AccountItem {
  const dependencies =
    graph === undefined ? undefined : taskDependencies(graph, modules);
  const central = config.central.region;
  const planTaskDefinition = names.planTaskFamily(central);
  const applyTaskDefinition = names.applyTaskFamily(central);
  return {
    name: account.name,
    id: account.id,
    stage: account.stage,
    region: account.region,
    launcherRoleArn: launcherRoleArn(partitionOf(central), config, account),
    cluster: names.cluster(central),
    planTaskDefinition,
    applyTaskDefinition,
    network: {
      subnets: account.network?.subnetIds ?? [],
      securityGroups: account.network?.securityGroupIds ?? [],
      assignPublicIp: account.network?.assignPublicIp ? "ENABLED" : "DISABLED",
    },
    timeoutSeconds: config.runner.timeoutMinutes * 60,
    modules: [...modules],
    ...(dependencies === undefined ? {} : { dependencies }),
    ...(config.runner.moduleConcurrency === 1
      ? {}
      : { moduleConcurrency: config.runner.moduleConcurrency }),
    phase,
    taskDefinition: phase === "plan" ? planTaskDefinition : applyTaskDefinition,
    approvedPlans: {},
  };
}

/**
 * Why a stage without approval asks for one from the start, or undefined: the push changes more
 * of its accounts than its plan policies' `maxAccounts`.
 */
export function escalationOf(
  config: Config,
  stage: string,
  accountCount: number,
): string | undefined {
  const cfg = config.stages[stage];
  const max = cfg?.policies?.maxAccounts;
  if (cfg?.approval?.required || max === undefined || accountCount <= max)
    return undefined;
  return `policy maxAccounts: this push changes ${accountCount} accounts of stage ${stage}, more than ${max}; it needs a policy owner's approval`;
}

/**
 * The first phase of a stage: `plan` where it needs approval (or asks for one, see
 * {@link escalationOf}), else `plan-and-apply`.
 */
export function firstPhaseOf(
  config: Config,
  stage: string,
  accountCount = 0,
): "plan" | "plan-and-apply" {
  return config.stages[stage]?.approval?.required ||
    escalationOf(config, stage, accountCount) !== undefined
    ? "plan"
    : "plan-and-apply";
}

/** Used as the approval timeout of stages without approval (the state is never entered). */
const NO_APPROVAL_TIMEOUT_SECONDS = 24 * 3600;

/** One stage as the planner answered it: its name and account items. */
export interface PlannedStage {
  readonly name: string;
  readonly accounts: AccountItem[];
}

/** The item of one stage, with its approval rule; its accounts are written to `accounts` first. */
export function stageItem(
  config: Config,
  execution: string,
  index: number,
  stage: string,
  accounts: ItemsLocation,
): StageItem {
  const cfg = config.stages[stage];
  const rule = cfg?.approval ?? { required: false as const };
  const escalated = escalationOf(config, stage, accounts.count);
  // A stage without approval asks its policy owners when a plan policy wants an approval.
  const owners =
    cfg?.policies !== undefined &&
    (cfg.policies.maxAccounts !== undefined || hasRules(cfg.policies))
      ? [...config.policyOwners]
      : [];
  return {
    name: stage,
    index,
    concurrency: cfg?.concurrency ?? 10,
    approval: {
      ...(rule.required
        ? {
            required: true,
            approvers: [...rule.approvers],
            minApprovals: rule.minApprovals,
            allowSelfApproval: rule.allowSelfApproval,
            timeoutSeconds: Math.max(1, Math.round(rule.expiryHours * 3600)),
          }
        : {
            required: false,
            approvers: [],
            minApprovals: 0,
            allowSelfApproval: false,
            timeoutSeconds: NO_APPROVAL_TIMEOUT_SECONDS,
          }),
      ...(owners.length > 0 ? { policyOwners: owners } : {}),
      ...(escalated ? { escalated } : {}),
    },
    accounts,
    resultsPrefix: artifactKeys.stageResults(execution, index),
    phase: {
      name: firstPhaseOf(config, stage, accounts.count),
      items: accounts,
    },
  };
}

/**
 * Turns the planner's answer into each stage's account items, each with its rollout wave (the
 * waves are those of the accounts this push deploys in the stage, lib/planning/waves.ts) and its
 * module order from `graphs`.
 */
export function plannedStagesOf(
  config: Config,
  plan: TargetPlan,
  graphs: readonly AccountGraph[] = [],
): PlannedStage[] {
  const byAccount = new Map(graphs.map((g) => [g.account, g]));
  return plan.stages.map((s) => {
    const waves = assignWaves(
      s.name,
      s.accounts.map((a) => a.account.name),
      rolloutOf(config, s.name),
    );
    const waveOf = new Map(
      waves.flatMap((members, wave) =>
        members.map((name) => [name, wave] as const),
      ),
    );
    return {
      name: s.name,
      accounts: s.accounts.map((a) => ({
        ...accountItem(
          config,
          a.account,
          a.modules.map((m) => m.path),
          firstPhaseOf(config, s.name, s.accounts.length),
          byAccount.get(a.account.name),
        ),
        wave: waveOf.get(a.account.name) ?? 0,
      })),
    };
  });
}

/** Runs the targets action. */
export async function targets(
  req: TargetsRequest,
  deps: PipelineDeps,
): Promise<TargetsResult> {
  const { push } = parseExecutionInput(req.input);
  const repo = repositoryOf(deps.config, push);
  const execution = req.executionName;

  // A redriven execution that lost its branch while stopped must not deploy.
  const lock = await deps.store.getLock(repo.fullName, push.branch);
  if (lock.holder !== execution)
    throw new LockLostError(execution, lock.holder);

  const reader = deps.repoReader(push);
  // The fleet registry's accounts join the listed ones: an account added to an OU is deployed
  // without redeploying the central stack.
  const [modules, applied, config] = await Promise.all([
    reader.listModules(push.after),
    deps.store.listApplied(repo.fullName),
    runConfig(deps.config, deps.store),
  ]);
  const lastApplied = new Map<string, AppliedTarget>(
    applied.map((t) => [
      targetKey(t.account, t.module),
      { commit: t.commit, sequence: t.sequence, generation: t.generation },
    ]),
  );
  const bases = basesToCompare({ config, push, modules, lastApplied });
  const changes = new Map<string, readonly string[] | undefined>();
  const answers = await mapLimit(bases, COMPARE_CONCURRENCY, async (base) =>
    base === push.before && push.changes.complete
      ? push.changes.paths
      : reader.changedPaths(base, push.after),
  );
  bases.forEach((base, i) => changes.set(base, answers[i]));

  // A cycle, a dependency on no module or on another account's module fails the run here, before anything is planned.
  const graphs = await dependencyGraphs({
    config,
    modules,
    readFile: reader.readFile
      ? (path) => reader.readFile!(push.after, path)
      : undefined,
  });
  const plan = planTargets({
    config,
    push,
    modules,
    lastApplied,
    changes,
    generation: req.run.generation,
    graphs,
  });
  const planned = plannedStagesOf(config, plan, graphs);
  // Each stage's accounts go to the artifacts store: its Distributed Maps read them from there.
  const stages = await Promise.all(
    planned.map(async (s, index) => {
      const item = stageItem(
        config,
        execution,
        index,
        s.name,
        await writeItems(
          deps.artifacts,
          artifactKeys.stageAccounts(execution, index),
          s.accounts,
          execution,
        ),
      );
      // A plan phase plans every account at once (plans change nothing); the phase that changes
      // accounts starts at its first wave.
      const waveCount =
        item.phase.name === "plan" ? 1 : waveCountOf(s.accounts);
      const phase = await phaseAtWave(deps.artifacts, {
        execution,
        stage: item,
        phase: item.phase.name,
        all: s.accounts,
        allLocation: item.accounts,
        waveCount,
        from: 0,
      });
      return phase ? { ...item, phase } : item;
    }),
  );
  // What the run plans goes into one item per account: the run item must not grow with the fleet.
  await deps.store.putPlannedStages(
    execution,
    planned.map((s) => ({
      name: s.name,
      accounts: s.accounts.map((a) => ({
        name: a.name,
        modules: a.modules,
        ...(a.wave ? { wave: a.wave } : {}),
      })),
    })),
  );
  await deps.store.updateRun(execution, {
    removed: plan.removed.map((r) => ({ ...r })),
  });
  deps.logger.info("targets planned", {
    execution,
    stages: planned.map(
      (s) =>
        `${s.name}: ${s.accounts.length} account(s), ${s.accounts.reduce((n, a) => n + a.modules.length, 0)} module(s)`,
    ),
    skipped: plan.skipped.length,
    removed: plan.removed.map((r) => `${r.account}:${r.module}`),
    changesUnknown: plan.changesUnknown,
  });
  if (stages.length > 0) {
    await notifyRun(
      deps,
      "started",
      {
        execution,
        executionId: req.executionId ?? execution,
        repository: repo.fullName,
        branch: push.branch,
        commit: push.after,
        pusher: push.pusher,
        message: push.headCommit.message,
      },
      "STARTED",
    );
  }
  return {
    source: {
      repository: repo.cloneUrls[0]!,
      commit: push.after,
      ref: push.ref,
    },
    stages,
    stageCount: stages.length,
    removed: plan.removed.map((r) => ({ ...r })),
  };
}
