/**
 * The per-account runner: the security boundary of tfstep. It runs in an ECS task in the
 * target account (or as a child process in the local mode), checks the task's input against
 * the account's own policy, checks out exactly the allowed commit, and plans or applies the
 * requested modules.
 *
 * Spawn contract (the local mode starts the runner exactly like this; see ./spawn.ts):
 *
 *   node <repo>/dist/runner.js --policy-source=file:<absolute path of policy.json>
 *     (or, without a bundle: node --import <file URL of tsx's loader> <repo>/runner/entrypoint.ts
 *      --policy-source=file:<...>; runnerCommand() in ./spawn.ts builds either form)
 *   cwd:  any directory
 *   env:  TFSTEP_REPOSITORY, TFSTEP_COMMIT, TFSTEP_REF, TFSTEP_ACCOUNT, TFSTEP_STAGE,
 *         TFSTEP_PHASE, TFSTEP_EXECUTION, TFSTEP_MANIFEST (the key of the task's manifest in the
 *         artifacts store: modules, the dependencies between them, the module concurrency and,
 *         for apply, approved plan hashes; see ./manifest.ts),
 *         TFSTEP_MANIFEST_SHA256 (the SHA-256 of its bytes),
 *         PATH (where git and terraform are found), HOME, AWS_PROFILE or other AWS_* credentials,
 *         optionally the terraform test double's TFSTEP_TEST_DOUBLE_* (TEST_DOUBLE_ENV in ./inputs.ts);
 *         any other TFSTEP_* variable is refused.
 *   order: modules run in dependency order (./schedule.ts): a module starts once every module
 *         it depends on succeeded; up to `moduleConcurrency` independent modules run at once,
 *         each in its own module folder, their tools' lines prefixed `[<module>] ` when more
 *         than one may run; among ready modules the manifest's order decides. A module that
 *         did not succeed (failed, interrupted, or held back for a new approval) has its
 *         dependents written `skipped` with `skippedBecause` naming the nearest such upstream,
 *         never initialised, planned or applied; independent modules still run to the end.
 *   exit: EXIT.OK 0 (also when modules are only held back for a new approval), EXIT.TERRAFORM 1
 *         (a module failed), EXIT.REFUSED 3 (one line on stderr, nothing ran; among others a
 *         cycle in the dependencies or an edge to a module outside the task), EXIT.INFRA 4,
 *         EXIT.INTERRUPTED 5 (SIGTERM or SIGINT: every running tool got one SIGINT and stopped,
 *         nothing more started; see ./interrupt.ts).
 *   output: log lines on stdout (secrets masked); artifacts (plan.tfplan, plan.json,
 *         summary.json, result.json per module, <phase>.log) under artifactKeys in the policy's
 *         `artifacts` store: every module of the task gets a result.json, a skipped one too
 *         (unless the task fails as a whole, exit 4: then the modules not started get none);
 *         for each plan of the plan phase, a record in the policy's `planRecords` store, the
 *         only plans the apply phase applies (see ./plan-records.ts).
 *
 * In the container the policy source is fixed by the image's ENTRYPOINT
 * (`--policy-source=ssm:/tfstep/runner/policy`); ECS overrides cannot change it.
 */
import { createHash } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { GIT_ALLOW_PROTOCOL } from '../domain/git-args';
import { comparePlans, normalizePlan, type PlanComparison } from '../domain/plan-compare';
import { formatPlanLine, summarizePlan } from '../domain/plan-summary';
import { compileRedaction, sensitiveValues } from '../domain/redact';
import { mayChangeMark } from '../domain/replan';
import { destroyedAddresses, evaluateModulePlan, evaluateRunTotals, resultOf } from '../domain/plan-policy';
import { DETAILED_EXITCODE_CHANGES, planOnlyOutcome, planOnlyPlanArgs, resourceAction, type ResourceChange } from '../domain/plan-only';
import {
  artifactKeys,
  EXIT,
  ModuleResultSchema,
  type ModuleResult,
  type PlanSummary,
  type PolicyResult,
  type Replan,
  type RunnerInput,
  type RunnerPolicy,
} from '../domain/runner-contract';
import { ArtifactNotFoundError, artifactStoreFromUri, type ArtifactStore } from './artifacts';
import { InfraError, RefusedError } from './errors';
import { exec, which } from './exec';
import { checkoutCommit, prepareGitAccess } from './git';
import { parseArgs, parseRunnerEnv, quote } from './inputs';
import { readManifest } from './manifest';
import { PlanRecordAccessDeniedError, planRecordStoreFromUri, type PlanRecordStore } from './plan-records';
import { InterruptedError, Interruption } from './interrupt';
import { Logger, type LineSink } from './logger';
import { checkModules, type ModuleFacts } from './module-checks';
import { resolveModules } from './modules';
import { schedule, checkDependencies, type SkipReason } from './schedule';
import { assertSubcommandAllowed, checkInputAgainstPolicy, loadPolicy } from './policy';
import { resolveTool, testDoublePath, toolEnv, type ResolvedTool } from './tool';

/**
 * Where tools are looked up when the policy comes from SSM (the container): the image's own
 * directories, never the task's PATH, which an environment override could point elsewhere.
 */
export const IMAGE_SEARCH_PATH = '/usr/local/bin:/usr/bin:/bin';

/** The saved plan's name inside each module directory. */
export const PLAN_FILE = 'plan.tfplan';

/** The plan an apply makes again after the module's upstreams applied, beside the approved one. */
export const REPLAN_FILE = 'replan.tfplan';

/**
 * The override file the runner writes into a module in the local mode, so that Terraform keeps
 * the module's state under the state directory instead of in the checkout, which is deleted
 * after every task. Terraform merges `*_override.tf` files last, and a `backend` block there
 * replaces the module's own backend (or `cloud` block).
 */
export const LOCAL_BACKEND_FILE = 'tfstep_local_backend_override.tf';

/** Where a module's state lives under a policy's `localStateDir`. */
export function localStateFile(localStateDir: string, module: string): string {
  return path.join(localStateDir, ...module.split('/'), 'terraform.tfstate');
}

/** An HCL quoted string: JSON's escapes are HCL's, and `${`/`%{` would start a template. */
function hclString(value: string): string {
  return JSON.stringify(value).replace(/\$\{/g, '$$${').replace(/%\{/g, '%%{');
}

async function writeLocalBackend(dir: string, localStateDir: string, module: string): Promise<string> {
  const stateFile = localStateFile(localStateDir, module);
  await mkdir(path.dirname(stateFile), { recursive: true });
  await writeFile(
    path.join(dir, LOCAL_BACKEND_FILE),
    `# Written by the tfstep runner in the local mode: this module's state lives outside the checkout.\nterraform {\n  backend "local" {\n    path = ${hclString(stateFile)}\n  }\n}\n`,
  );
  return stateFile;
}

/** Injected collaborators; every one has a production default. */
export interface RunnerDeps {
  ssm?: SSMClient;
  secrets?: SecretsManagerClient;
  s3?: S3Client;
  /** The client of the account's plan records table (`dynamodb://` in the policy). */
  dynamodb?: DynamoDBClient;
  stdout?: LineSink;
  stderr?: LineSink;
  /** Directories searched for git and the tool. Default: PATH in the local mode, {@link IMAGE_SEARCH_PATH} with SSM. */
  searchPath?: string;
  /** The terraform test double, or null for none. Default: found in the repository, local mode only. */
  testDouble?: string | null;
  /** Parent of the runner's temporary work folder. Default: os.tmpdir(). */
  workRoot?: string;
  now?: () => Date;
  /** Where SIGTERM and SIGINT arrive, or null to listen to none. Default: the process. */
  signals?: EventEmitter | null;
}

/** A tool invocation that exited non-zero: the module failed, exit {@link EXIT.TERRAFORM}. */
class ToolFailedError extends Error {
  override name = 'ToolFailedError';
}

/**
 * One provider plugin cache for every module of the task. Without it each module's `init`
 * unpacks its own copy of every provider (the AWS provider alone is 0.5-0.7 GB), and some 70
 * modules fill the task's 50 GiB. Terraform links cached providers into each module's
 * `.terraform` when the module's lock file names their checksums.
 */
async function makePluginCache(work: string): Promise<string> {
  const dir = path.join(work, 'plugin-cache');
  await mkdir(dir, { mode: 0o700 });
  return dir;
}

/** SHA-256 hex digest of bytes. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function findTestDouble(): string | undefined {
  // The bundle (dist/runner.js) and the sources (lib/runner/main.ts) both sit below the repository root.
  let dir = __dirname;
  for (let i = 0; i < 4; i++) {
    const candidate = testDoublePath(dir);
    if (existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  return undefined;
}

/**
 * Runs the runner once.
 * @param argv the arguments after the script (`process.argv.slice(2)`)
 * @param env the untrusted environment (`process.env`)
 * @returns the exit code, one of {@link EXIT}
 */
export async function runRunner(argv: readonly string[], env: NodeJS.ProcessEnv, deps: RunnerDeps = {}): Promise<number> {
  const logger = new Logger(deps.stdout ?? process.stdout, deps.stderr ?? process.stderr);
  const interruption = new Interruption(logger);
  const signals = deps.signals === undefined ? process : deps.signals;
  const stopListening = signals ? interruption.listen(signals) : () => undefined;
  let work: string | undefined;
  let logTarget: { store: ArtifactStore; key: string } | undefined;
  try {
    const source = parseArgs(argv);
    const task = parseRunnerEnv(env);
    const policy = await loadPolicy(source, deps.ssm);
    logger.setRedaction(compileRedaction(policy.redact));
    let store: ArtifactStore;
    let records: PlanRecordStore;
    try {
      store = artifactStoreFromUri(policy.artifacts, deps.s3);
      records = planRecordStoreFromUri(policy.planRecords, deps.dynamodb, deps.now);
    } catch (e) {
      throw new RefusedError(`refused: invalid artifacts or plan records location in the runner policy: ${(e as Error).message}`);
    }
    // The module list and approved plans come from the manifest, read with this task's own role.
    const input = await readManifest(store, task, policy.account);
    const { cloneUrl } = checkInputAgainstPolicy(input, policy);
    // A cycle or an edge to a module outside the task is refused before anything is fetched.
    checkDependencies(input.modules, input.dependencies);
    logger.info(`tfstep runner: ${input.phase} of ${input.modules.length} module(s) in account ${input.account} at ${input.commit}`);

    const searchPath = deps.searchPath ?? (source.kind === 'ssm' ? IMAGE_SEARCH_PATH : (env.PATH ?? ''));
    const git = which('git', searchPath);
    if (!git) throw new InfraError(`git is not installed (searched ${searchPath})`);
    // The test double must never stand in for terraform in the account's container.
    const doublePath = deps.testDouble === null ? undefined : (deps.testDouble ?? (source.kind === 'file' ? findTestDouble() : undefined));
    const tool = resolveTool(policy.tool, searchPath, doublePath, logger);
    logTarget = { store, key: artifactKeys.log(input.execution, input.account, input.phase) };

    work = await mkdtemp(path.join(deps.workRoot ?? os.tmpdir(), 'tfstep-runner-'));
    const home = path.join(work, 'home');
    await mkdir(home, { mode: 0o700 });
    const pluginCacheDir = await makePluginCache(work);
    const secretDir = path.join(work, 'secrets');
    const access = await prepareGitAccess({
      secretId: policy.gitCredentialsSecret,
      cloneUrl,
      secretDir,
      logger,
      secrets: deps.secrets,
      allowFileCredentials: source.kind === 'file',
    });
    const gitEnv: Record<string, string> = {
      PATH: searchPath,
      HOME: home,
      GIT_TERMINAL_PROMPT: '0',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: os.devNull,
      // Remote helpers such as ext:: run commands; only plain transports are allowed.
      GIT_ALLOW_PROTOCOL,
    };
    for (const k of ['LANG', 'SSL_CERT_FILE', 'SSL_CERT_DIR']) if (env[k] !== undefined) gitEnv[k] = env[k];
    const checkout = path.join(work, 'checkout');
    try {
      await checkoutCommit({ git, cloneUrl, ref: input.ref, commit: input.commit, dir: checkout, access, env: gitEnv, logger });
    } finally {
      // The repository's Terraform must not be able to read the deploy key with file("../..").
      await rm(secretDir, { recursive: true, force: true });
    }

    interruption.throwIfRequested('the first module');
    // Every module and every approved plan is checked before the tool runs even once.
    const dirs = await resolveModules(checkout, input.modules);
    const facts = await checkModules(dirs, policy);
    const approved = input.phase === 'apply' ? await fetchApprovedPlans(store, records, input) : new Map<string, Uint8Array>();

    const ctx: ModuleContext = {
      input,
      policy,
      tool,
      store,
      records,
      logger,
      env,
      searchPath,
      home,
      pluginCacheDir,
      interruption,
      now: deps.now ?? (() => new Date()),
      initLock: new Mutex(),
      done: new Map(),
      destroyed: new Map(),
    };
    return await runModules(ctx, dirs, approved, facts);
  } catch (e) {
    // A step cut short by the stop request (a git clone killed by SIGINT, say) is the stop, not its own failure.
    if (e instanceof InterruptedError || interruption.requestedBy) {
      logger.error(`tfstep runner: stopped: ${e instanceof InterruptedError ? e.message : `interrupted by ${interruption.requestedBy} (${(e as Error).message})`}`);
      return EXIT.INTERRUPTED;
    }
    if (e instanceof RefusedError) {
      logger.error(e.message);
      return EXIT.REFUSED;
    }
    logger.error(e instanceof InfraError ? e.message : `runner failed: ${(e as Error).message ?? String(e)}`);
    return EXIT.INFRA;
  } finally {
    stopListening();
    if (work) await rm(work, { recursive: true, force: true }).catch(() => undefined);
    if (logTarget) {
      await logTarget.store.put(logTarget.key, `${logger.lines().join('\n')}\n`).catch(() => undefined);
    }
  }
}

/**
 * The saved plan of every module, checked before the tool runs at all: this account's own plan
 * task must have recorded exactly this plan for this execution, module and commit (the central
 * account can write the saved plan and the task's input, not the record), and it must be the plan
 * the approver approved.
 */
async function fetchApprovedPlans(store: ArtifactStore, records: PlanRecordStore, input: RunnerInput): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const m of input.modules) {
    const key = artifactKeys.planFile(input.execution, input.account, m);
    let bytes: Uint8Array;
    try {
      bytes = await store.get(key);
    } catch (e) {
      if (e instanceof ArtifactNotFoundError) throw new RefusedError(`refused apply of module ${quote(m)}: no saved plan at ${key}`);
      throw new InfraError(`cannot read the saved plan ${key}: ${(e as Error).message}`);
    }
    const actual = sha256Hex(bytes);
    let record;
    try {
      record = await records.get(input.execution, m);
    } catch (e) {
      throw new InfraError(`cannot read this account's plan record of module ${quote(m)}: ${(e as Error).message}`);
    }
    if (!record) {
      throw new RefusedError(`refused apply of module ${quote(m)}: this account's plan task recorded no plan of it in execution ${input.execution}`);
    }
    if (record.commit !== input.commit || record.account !== input.account) {
      throw new RefusedError(
        `refused apply of module ${quote(m)}: this account's plan task recorded its plan at commit ${record.commit} in account ${record.account}, not ${input.commit} in ${input.account}`,
      );
    }
    if (record.sha256 !== actual) {
      throw new RefusedError(`refused apply of module ${quote(m)}: the saved plan's SHA-256 ${actual} is not the plan this account's plan task recorded (${record.sha256})`);
    }
    const expected = input.approvedPlans?.[m];
    if (actual !== expected) {
      throw new RefusedError(`refused apply of module ${quote(m)}: the saved plan's SHA-256 ${actual} is not the approved ${String(expected)}`);
    }
    out.set(m, bytes);
  }
  return out;
}

interface ModuleContext {
  input: RunnerInput;
  policy: RunnerPolicy;
  tool: ResolvedTool;
  store: ArtifactStore;
  records: PlanRecordStore;
  logger: Logger;
  env: NodeJS.ProcessEnv;
  searchPath: string;
  home: string;
  pluginCacheDir: string;
  interruption: Interruption;
  now: () => Date;
  /** What each module that ran in this task came to, for the modules that depend on it. */
  done: Map<string, DoneModule>;
  /** Serializes `init` across the modules running at once (see runModule). */
  initLock: Mutex;
  /** The addresses each module planned so far in this task destroys (for `maxDestroys.perRun`). */
  destroyed: Map<string, string[]>;
}

/** A module that ran in this task, as its dependents see it. */
interface DoneModule {
  status: ModuleResult['status'];
  /**
   * Plan phase: its plan changes something (a resource or an output), or may change after its own
   * upstreams apply; either way a module reading it may plan differently once it applies.
   */
  mayChange: boolean;
}

/** What a module's run found, written into its result even when the run fails half way. */
interface Progress {
  /** See {@link DoneModule.mayChange}; not written into the result. */
  mayChange?: boolean;
  plan?: PlanSummary;
  planSha256?: string;
  mayChangeAfter?: string[];
  replan?: Replan;
  policy?: PolicyResult;
  changes?: ResourceChange[];
  moreChanges?: number;
}

/** The upstreams of `module` in this task (the manifest's dependencies). */
function upstreamsOf(input: RunnerInput, module: string): string[] {
  return (input.dependencies?.[module] ?? []).filter((u) => input.modules.includes(u) && u !== module);
}

/** Runs one function at a time, in call order. */
class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/**
 * Runs the modules in dependency order ({@link schedule}): independent ones at once, up to the
 * input's `moduleConcurrency`, each in its own module directory. A module that failed, was
 * interrupted or is held back never has its dependents started: they are written `skipped`, with
 * `skippedBecause` naming it. Modules that do not depend on it still run.
 */
async function runModules(ctx: ModuleContext, dirs: Map<string, string>, approved: Map<string, Uint8Array>, facts: Map<string, ModuleFacts>): Promise<number> {
  const { input } = ctx;
  const concurrency = input.moduleConcurrency ?? 1;
  const statuses = new Map<string, ModuleResult['status']>();
  if (concurrency > 1) ctx.logger.info(`tfstep runner: up to ${concurrency} modules at once; their tools' lines start with [<module>]`);
  const base = (module: string) => ({ module, account: input.account, commit: input.commit, phase: input.phase, ...facts.get(module) });

  const runOne = async (module: string): Promise<boolean> => {
    const dir = dirs.get(module)!;
    const startedAt = ctx.now().toISOString();
    const progress: Progress = {};
    const finish = async (status: ModuleResult['status'], error?: string) => {
      statuses.set(module, status);
      ctx.done.set(module, { status, mayChange: progress.mayChange ?? false });
      const { mayChange: _mayChange, ...found } = progress;
      await writeResult(ctx, { ...base(module), startedAt, ...found, status, ...(error === undefined ? {} : { error }), finishedAt: ctx.now().toISOString() });
      return status === 'planned' || status === 'applied';
    };
    try {
      return await finish(await runModule(ctx, module, dir, approved.get(module), progress, concurrency > 1));
    } catch (e) {
      if (e instanceof InterruptedError) {
        ctx.logger.info(`[${module}] interrupted: ${e.message}`);
        return finish('interrupted', e.message);
      }
      if (!(e instanceof ToolFailedError)) throw e;
      ctx.logger.info(`[${module}] failed: ${e.message}`);
      return finish('failed', e.message);
    }
  };

  const onSkip = async (module: string, reason: SkipReason) => {
    const at = ctx.now().toISOString();
    statuses.set(module, 'skipped');
    ctx.done.set(module, { status: 'skipped', mayChange: false });
    if (reason.kind === 'upstream') {
      const upstream = statuses.get(reason.upstream);
      // Held back is not a failure: the stage plans it again, and this module with it.
      const why = upstream === 'awaiting-approval' ? `${reason.upstream} awaits a new approval` : `${reason.upstream} ${upstream ?? 'failed'}`;
      ctx.logger.info(`[${module}] skipped: ${why}`);
      await writeResult(ctx, { ...base(module), startedAt: at, status: 'skipped', skippedBecause: reason.upstream, error: `not run: ${why}`, finishedAt: at });
    } else {
      ctx.logger.info(`[${module}] skipped: the runner was interrupted by ${ctx.interruption.requestedBy ?? 'a stop signal'}`);
      await writeResult(ctx, { ...base(module), startedAt: at, status: 'skipped', error: 'interrupted before this module started', finishedAt: at });
    }
  };

  await schedule({
    modules: input.modules,
    dependencies: input.dependencies,
    concurrency,
    run: runOne,
    onSkip,
    stopped: () => ctx.interruption.requestedBy !== undefined,
  });
  const all = [...statuses.values()];
  if (ctx.interruption.requestedBy || all.includes('interrupted')) return EXIT.INTERRUPTED;
  // A skipped module always has a failed (or interrupted) one upstream, which decides the code.
  return all.some((s) => s === 'failed' || s === 'refused') ? EXIT.TERRAFORM : EXIT.OK;
}

/**
 * Registers every value a plan marks sensitive (or holds under a secret name) with the logger:
 * from now on no log line, error or result of this task shows it, whatever prints it.
 */
function registerPlanSecrets(ctx: ModuleContext, showJson: unknown): void {
  for (const value of sensitiveValues(showJson, compileRedaction(ctx.policy.redact))) ctx.logger.addSecret(value);
}

async function writeResult(ctx: ModuleContext, result: ModuleResult): Promise<void> {
  // A result travels to the run table, pages and notifications: its free text is masked like a log line.
  const masked: ModuleResult = {
    ...result,
    ...(result.error === undefined ? {} : { error: ctx.logger.mask(result.error) }),
    ...(result.replan?.differences ? { replan: { ...result.replan, differences: result.replan.differences.map((d) => ctx.logger.mask(d)) } } : {}),
  };
  const valid = ModuleResultSchema.parse(masked);
  await putArtifact(ctx, artifactKeys.result(ctx.input.execution, ctx.input.account, result.module), `${JSON.stringify(valid, null, 2)}\n`);
}

async function recordPlan(ctx: ModuleContext, module: string, sha256: string): Promise<void> {
  const { input } = ctx;
  try {
    await ctx.records.put({ execution: input.execution, module, account: input.account, commit: input.commit, sha256, recordedAt: ctx.now().toISOString() });
  } catch (e) {
    const hint = e instanceof PlanRecordAccessDeniedError ? ' (only the plan task definition may run the plan phase)' : '';
    throw new InfraError(`cannot record the plan of module ${quote(module)} in this account${hint}: ${(e as Error).message}`);
  }
}

/**
 * A plan-only task's plan (lib/domain/plan-only.ts): no state lock, `-detailed-exitcode` for
 * drift, and never a plan record or a saved plan file, so nothing can apply it. It keeps the
 * summary and the resource changes, addresses and actions only.
 */
async function planOnly(
  ctx: ModuleContext,
  module: string,
  a: { run: (sub: string, args: string[], capture?: boolean, okCodes?: readonly number[]) => Promise<string>; planPath: string; planArg: string; progress: Progress },
): Promise<ModuleResult['status']> {
  const { input, logger } = ctx;
  const kind = input.planOnly!.kind;
  const okCodes = kind === 'drift' ? [0, DETAILED_EXITCODE_CHANGES] : [0];
  await a.run('plan', ['-input=false', ...planOnlyPlanArgs(kind), `-out=${a.planArg}`], false, okCodes);
  const showJson = await a.run('show', ['-json', a.planArg], true);
  await rm(a.planPath, { force: true });
  let doc: unknown;
  try {
    doc = JSON.parse(showJson);
  } catch (e) {
    throw new ToolFailedError(`cannot read the plan: ${(e as Error).message}`);
  }
  const summary = summarizePlan(doc);
  const outcome = planOnlyOutcome(resourceChangesOf(doc));
  a.progress.plan = summary;
  a.progress.changes = outcome.changes;
  a.progress.moreChanges = outcome.moreChanges;
  await putArtifact(ctx, artifactKeys.summary(input.execution, input.account, module), `${JSON.stringify(summary, null, 2)}\n`);
  logger.info(`[${module}] ${kind} plan: ${formatPlanLine(summary)} ${outcome.status === 'clean' ? 'no changes' : `${(outcome.changes?.length ?? 0) + (outcome.moreChanges ?? 0)} resource change(s)`}`);
  for (const c of outcome.changes ?? []) logger.info(`[${module}]   ${c.action} ${c.address}`);
  return 'planned';
}

/** The changed resources of a `terraform show -json` plan document: address and action, never a value. */
export function resourceChangesOf(doc: unknown): ResourceChange[] {
  const list = (doc as { resource_changes?: unknown }).resource_changes;
  if (!Array.isArray(list)) return [];
  const out: ResourceChange[] = [];
  for (const rc of list as { address?: unknown; change?: { actions?: unknown } }[]) {
    const actions = Array.isArray(rc?.change?.actions) ? (rc.change.actions as string[]) : [];
    const action = resourceAction(actions);
    if (action && typeof rc.address === 'string') out.push({ address: rc.address, action });
  }
  return out;
}

async function putArtifact(ctx: ModuleContext, key: string, body: Uint8Array | string): Promise<void> {
  try {
    await ctx.store.put(key, body);
  } catch (e) {
    throw new InfraError(`cannot write artifact ${key}: ${(e as Error).message}`);
  }
}

async function runModule(
  ctx: ModuleContext,
  module: string,
  dir: string,
  approvedPlan: Uint8Array | undefined,
  progress: Progress,
  prefixToolLines = false,
): Promise<ModuleResult['status']> {
  const { input, tool, logger } = ctx;
  // With several modules at once, the tools' interleaved lines say whose they are.
  const toolLogger = prefixToolLines ? logger.withPrefix(`[${module}] `) : logger;
  const { env, dropped } = toolEnv({ from: ctx.env, searchPath: ctx.searchPath, home: ctx.home, tool, module, region: ctx.policy.region });
  env.TF_PLUGIN_CACHE_DIR = ctx.pluginCacheDir;
  if (dropped.length > 0) logger.info(`[${module}] not passed to ${tool.name}: ${dropped.join(', ')}`);
  const run = async (sub: string, args: string[], capture = false, okCodes: readonly number[] = [0]) => {
    // Checked again before every invocation, not only up front.
    assertSubcommandAllowed(ctx.policy, sub);
    ctx.interruption.throwIfRequested(`${tool.name} ${sub}`);
    logger.info(`[${module}] ${tool.name} ${[sub, ...args].join(' ')}`);
    const res = await exec(tool.bin, [sub, ...args], { cwd: dir, env, logger: toolLogger, captureStdout: capture, interruption: ctx.interruption });
    // A tool that finished its work before the signal reached it succeeded; the next step stops.
    if (res.code !== 0 && ctx.interruption.requestedBy) {
      throw new InterruptedError(`${tool.name} ${sub} stopped on SIGINT after ${ctx.interruption.requestedBy} (exit code ${res.code})`);
    }
    if (!okCodes.includes(res.code)) throw new ToolFailedError(`${tool.name} ${sub} exited with code ${res.code}`);
    return res.stdout;
  };
  // terragrunt runs terraform in its cache folder, so a relative plan path would land there.
  const planPath = path.join(dir, PLAN_FILE);
  const planArg = tool.name === 'terragrunt' ? planPath : PLAN_FILE;
  const keys = {
    planFile: artifactKeys.planFile(input.execution, input.account, module),
    planJson: artifactKeys.planJson(input.execution, input.account, module),
    summary: artifactKeys.summary(input.execution, input.account, module),
  };

  if (ctx.policy.localStateDir !== undefined) {
    const stateFile = await writeLocalBackend(dir, ctx.policy.localStateDir, module);
    logger.info(`[${module}] local mode: state in ${stateFile}`);
  }
  // With a required lock file, init may not change it: the committed providers are the ones used.
  // One init at a time: the plugin cache all modules share is not safe for concurrent installs
  // (two inits unpacking the same provider corrupt it: hashicorp/terraform issue 31964).
  await ctx.initLock.run(() => run('init', ctx.policy.requireLockFile && tool.name !== 'terragrunt' ? ['-input=false', '-lockfile=readonly'] : ['-input=false']));
  let expectedSha: string;
  // The plan file applied: the approved one, or the apply's own new plan when it makes the same changes.
  let applyPath = planPath;
  let applyArg = planArg;
  if (input.phase === 'apply') {
    if (!approvedPlan) throw new RefusedError(`refused apply of module ${quote(module)}: no approved plan`);
    await writeFile(planPath, approvedPlan);
    expectedSha = sha256Hex(approvedPlan);
    progress.planSha256 = expectedSha;
    const appliedUpstreams = upstreamsOf(input, module).filter((u) => ctx.done.get(u)?.status === 'applied');
    if (appliedUpstreams.length > 0) {
      const replanPath = path.join(dir, REPLAN_FILE);
      const replanArg = tool.name === 'terragrunt' ? replanPath : REPLAN_FILE;
      const after = `planned again after ${appliedUpstreams.join(', ')} applied`;
      const approvedJson = await run('show', ['-json', planArg], true);
      await run('plan', ['-input=false', `-out=${replanArg}`]);
      const newJson = await run('show', ['-json', replanArg], true);
      const newSha = sha256Hex(await readFile(replanPath));
      let approvedDoc: unknown;
      let newDoc: unknown;
      let comparison: PlanComparison;
      try {
        approvedDoc = JSON.parse(approvedJson);
        newDoc = JSON.parse(newJson);
        registerPlanSecrets(ctx, approvedDoc);
        registerPlanSecrets(ctx, newDoc);
        comparison = newSha === expectedSha ? { identical: true, differences: [] } : comparePlans(approvedDoc, newDoc);
      } catch (e) {
        throw new ToolFailedError(`cannot compare the new plan with the approved one: ${(e as Error).message}`);
      }
      if (!comparison.identical) {
        progress.replan = {
          planSha256: newSha,
          plan: summarizePlan(newDoc),
          approvedSha256: expectedSha,
          approvedPlan: summarizePlan(approvedDoc),
          differences: comparison.differences,
        };
        logger.info(`[${module}] ${after}: its changes differ from the approved plan ${expectedSha}; not applied, it needs a new approval (new plan sha256 ${newSha})`);
        for (const d of comparison.differences) logger.info(`[${module}]   ${d}`);
        return 'awaiting-approval';
      }
      // The same changes the approver approved, planned by this task itself against the state as it is now.
      logger.info(`[${module}] ${after}: same changes as the approved plan ${expectedSha}; applying the new plan ${newSha}`);
      progress.plan = summarizePlan(newDoc);
      expectedSha = newSha;
      progress.planSha256 = newSha;
      applyPath = replanPath;
      applyArg = replanArg;
    }
  } else if (input.planOnly) {
    return planOnly(ctx, module, { run, planPath, planArg, progress });
  } else {
    await run('plan', ['-input=false', `-out=${planArg}`]);
    const showJson = await run('show', ['-json', planArg], true);
    const planBytes = await readFile(planPath);
    expectedSha = sha256Hex(planBytes);
    let summary: PlanSummary;
    try {
      const doc: unknown = JSON.parse(showJson);
      registerPlanSecrets(ctx, doc);
      summary = summarizePlan(doc);
    } catch (e) {
      throw new ToolFailedError(`cannot summarise the plan: ${(e as Error).message}`);
    }
    progress.plan = summary;
    progress.planSha256 = expectedSha;
    const policy = checkPlanPolicies(ctx, module, showJson);
    if (policy) progress.policy = policy;
    if (input.phase === 'plan') {
      // A module reading an upstream that changes may plan differently once that upstream applies.
      const mayChangeAfter = upstreamsOf(input, module).filter((u) => ctx.done.get(u)?.mayChange);
      if (mayChangeAfter.length > 0) {
        progress.mayChangeAfter = mayChangeAfter;
        logger.info(`[${module}] ${mayChangeMark(mayChangeAfter)}: it is planned again then, and approved again if it changes`);
      }
      let changes: boolean;
      try {
        const normalized = normalizePlan(JSON.parse(showJson));
        changes = normalized.resources.size + normalized.outputs.size > 0;
      } catch (e) {
        throw new ToolFailedError(`cannot read the plan's changes: ${(e as Error).message}`);
      }
      progress.mayChange = changes || mayChangeAfter.length > 0;
    }
    // Recorded in the account before the plan leaves the task: the apply applies only recorded plans.
    if (input.phase === 'plan') await recordPlan(ctx, module, expectedSha);
    await putArtifact(ctx, keys.planFile, planBytes);
    await putArtifact(ctx, keys.planJson, showJson);
    await putArtifact(ctx, keys.summary, `${JSON.stringify(summary, null, 2)}\n`);
    logger.info(`[${module}] ${formatPlanLine(summary)} plan sha256 ${expectedSha}`);
    if (input.phase === 'plan') return 'planned';
    if (policy && policy.status !== 'pass') {
      // The account's own policies stop the apply here; the stage plans the module again and asks for approval.
      logger.info(`[${module}] not applied: the plan policies answered ${policy.status}; it needs ${policy.status === 'deny' ? "a policy owner's override" : 'an approval'} first`);
      return 'awaiting-approval';
    }
  }
  // The file on disk is hashed once more right before apply: exactly the approved bytes run.
  const onDisk = sha256Hex(await readFile(applyPath));
  if (onDisk !== expectedSha) {
    throw new RefusedError(`refused apply of module ${quote(module)}: the plan file on disk (${onDisk}) is not the approved plan (${expectedSha})`);
  }
  await run('apply', ['-input=false', applyArg]);
  logger.info(`[${module}] applied plan ${expectedSha}`);
  return 'applied';
}

/**
 * Checks the plan against the account's own plan policies (its runner policy, never the task's
 * input) and logs every finding. Undefined when the account has none.
 */
function checkPlanPolicies(ctx: ModuleContext, module: string, showJson: string): PolicyResult | undefined {
  const policies = ctx.policy.planPolicies;
  if (!policies) return undefined;
  let plan: unknown;
  try {
    plan = JSON.parse(showJson);
  } catch (e) {
    throw new ToolFailedError(`cannot check the plan policies: the plan JSON is unreadable: ${(e as Error).message}`);
  }
  const destroyed = destroyedAddresses(plan);
  ctx.destroyed.set(module, destroyed);
  // perRun counts what the task planned so far; a module that destroys nothing adds nothing to it.
  const run = destroyed.length > 0 ? evaluateRunTotals(policies, ctx.destroyed) : [];
  const result = resultOf([...evaluateModulePlan(policies, plan, module), ...run]);
  for (const f of result.findings) {
    ctx.logger.info(`[${module}] policy ${f.effect.toUpperCase()} ${f.rule}: ${f.message}${f.addresses.length ? ` (${f.addresses.join(', ')})` : ''}`);
  }
  ctx.logger.info(`[${module}] plan policies: ${result.status}`);
  return result;
}
