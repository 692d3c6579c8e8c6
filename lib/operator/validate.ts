/**
 * `tfstep validate`: the config, the allowlists the runners will enforce, and the pipeline
 * definition with its substitutions, each problem listed, nothing deployed or called.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../config/errors';
import { loadConfig } from '../config/loader';
import { deploymentProblems, type Config } from '../config/schema';
import { names } from '../domain/names';
import { RunnerPolicySchema } from '../domain/runner-contract';
import { fleetPolicyStages, fleetRunnerPolicyProblems, runnerPolicyInput } from '../domain/runner-policy';
import { AWS_LIMITS, RUNNER_POLICY_PARAMETER_TIER } from '../domain/aws-limits';
import { checkPipelineDefinition, checkPipelineText } from '../statemachine/checks';
import { allStates, PIPELINE_ASL_PATH, PIPELINE_PLACEHOLDERS, placeholdersIn, readPipelineDefinition, renderDefinition } from '../statemachine/definition';
import { formatPath } from '../config/loader';
import { discoverDependencies } from '../planning/dependencies';
import type { AccountGraph } from '../planning/module-graph';
import { moduleDirsOf } from '../planning/repo-reader';

/** One checked area and what is wrong with it. */
export const ValidationSectionSchema = z
  .object({
    name: z.enum(['config', 'deployment', 'allowlists', 'definition', 'dependencies']),
    ok: z.boolean(),
    /** What was checked, for the reader (`3 accounts, 3 stages`). */
    summary: z.string(),
    problems: z.array(z.string()),
  })
  .strict();
export type ValidationSection = z.infer<typeof ValidationSectionSchema>;

/** One account's module graph as `tfstep validate` shows it. */
export const AccountGraphReportSchema = z
  .object({
    account: z.string(),
    root: z.string(),
    /** The account's modules, each after the modules it depends on (then in path order). */
    order: z.array(z.string()),
    /** module -> the modules it depends on; modules without any are absent. */
    dependencies: z.record(z.string(), z.array(z.string())),
  })
  .strict();
export type AccountGraphReport = z.infer<typeof AccountGraphReportSchema>;

/** `tfstep validate --json`. */
export const ValidationReportSchema = z
  .object({
    file: z.string(),
    ok: z.boolean(),
    sections: z.array(ValidationSectionSchema),
    /** With `--repo`: each account's module graph (the valid edges, when there are problems). */
    graphs: z.array(AccountGraphReportSchema).optional(),
  })
  .strict();
export type ValidationReport = z.infer<typeof ValidationReportSchema>;


/**
 * Problems of the runner policies each account stack writes. Clone URLs are checked by the config
 * schema (the same normalisation the runner applies), so every tool refuses the same ones.
 */
export function checkAllowlists(config: Config): string[] {
  const problems: string[] = [];
  for (const account of config.accounts) {
    const result = RunnerPolicySchema.safeParse(runnerPolicyInput(config, account));
    if (!result.success) {
      for (const issue of result.error.issues) problems.push(`runner policy of account ${account.name}: ${formatPath(issue.path) || '(top level)'}: ${issue.message}`);
      continue;
    }
    // The account stack stores the policy as a Standard SSM parameter; plan policies make it grow.
    const bytes = Buffer.byteLength(JSON.stringify(result.data));
    const max = AWS_LIMITS.ssmParameterBytes[RUNNER_POLICY_PARAMETER_TIER];
    if (bytes > max) {
      problems.push(`runner policy of account ${account.name}: ${bytes} bytes, over the ${max} bytes of an SSM parameter (${RUNNER_POLICY_PARAMETER_TIER} tier); shorten the plan policies of stage ${account.stage} (messages, expressions)`);
    }
  }
  // The fleet's StackSet template writes one runner policy per stage (and one with every stage's rules).
  problems.push(...fleetRunnerPolicyProblems(config));
  return problems;
}

/** Substitutions like CDK's, built from the config, to render the definition as deployed. */
export function substitutionsFor(config: Config, partition: string): Record<string, string> {
  const { account, region } = config.central;
  return {
    Partition: partition,
    PipelineFunctionArn: `arn:${partition}:lambda:${region}:${account}:function:tfstep-pipeline`,
    ApprovalFunctionArn: `arn:${partition}:lambda:${region}:${account}:function:tfstep-approval`,
    RunnerContainerName: names.runnerContainer(),
  };
}

type AslValidator = (definition: unknown) => { isValid: boolean; errors: { 'Error code'?: string; Message?: string }[] };

function loadAslValidator(): AslValidator | undefined {
  try {
    // asl-validator is a development dependency: without it the schema check is skipped.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('asl-validator') as AslValidator;
  } catch {
    return undefined;
  }
}

/** Problems of the pipeline definition rendered for `config` (or with example values). */
export function checkDefinition(config: Config | undefined, partition: string, path = PIPELINE_ASL_PATH): { problems: string[]; summary: string } {
  let raw: string;
  try {
    raw = readPipelineDefinition(path);
  } catch (err) {
    return { problems: [`cannot read ${path}: ${(err as Error).message}`], summary: path };
  }
  const problems: string[] = [];
  const used = [...placeholdersIn(raw)].sort();
  const expected = [...PIPELINE_PLACEHOLDERS].sort();
  if (JSON.stringify(used) !== JSON.stringify(expected)) problems.push(`placeholders are ${used.join(', ')}; expected exactly ${expected.join(', ')}`);
  problems.push(...checkPipelineText(raw));
  const substitutions = config
    ? substitutionsFor(config, partition)
    : substitutionsFor({ central: { account: '000000000000', region: 'us-east-1' } } as Config, partition);
  let machine: unknown;
  try {
    const filtered = Object.fromEntries(Object.entries(substitutions).filter(([k]) => used.includes(k)));
    machine = JSON.parse(renderDefinition(raw, filtered));
  } catch (err) {
    problems.push(`cannot render the definition: ${(err as Error).message}`);
    return { problems, summary: path };
  }
  const validator = loadAslValidator();
  let note = '';
  if (validator) {
    const result = validator(machine);
    for (const e of result.errors) problems.push(`asl-validator: ${e['Error code'] ?? 'error'}: ${e.Message ?? JSON.stringify(e)}`);
  } else {
    note = ', asl-validator not installed: schema check skipped';
  }
  problems.push(...checkPipelineDefinition(machine as Parameters<typeof checkPipelineDefinition>[0]));
  const count = allStates(machine as Parameters<typeof allStates>[0]).length;
  return { problems, summary: `${relative(process.cwd(), path) || path}, ${count} states${note}` };
}

/** Runs every check; never throws for a problem in the checked files. */
export function validateAll(file: string, partition = 'aws'): ValidationReport {
  const sections: ValidationSection[] = [];
  let config: Config | undefined;
  try {
    config = loadConfig(file);
    sections.push({
      name: 'config',
      ok: true,
      summary: `${config.repositories.length} repositor${config.repositories.length === 1 ? 'y' : 'ies'}, ${config.stageOrder.length} stages, ${config.accounts.length} accounts`,
      problems: [],
    });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    sections.push({ name: 'config', ok: false, summary: relative(process.cwd(), file) || file, problems: err.problems.map((p) => `${p.path || '(top level)'}: got ${p.received}; expected ${p.expected}`) });
  }
  if (config) {
    // What AWS needs beyond a valid config: the CDK app refuses the same problems.
    const deployment = deploymentProblems(config).map((p) => `${formatPath(p.path)}: ${p.message}`);
    const withState = config.accounts.filter((a) => a.state).length;
    sections.push({
      name: 'deployment',
      ok: deployment.length === 0,
      summary: `networks of ${config.accounts.length} accounts, state settings of ${withState}`,
      problems: deployment,
    });
  } else {
    sections.push({ name: 'deployment', ok: false, summary: 'not checked', problems: ['not checked: the config must be valid first'] });
  }
  if (config) {
    const problems = checkAllowlists(config);
    const urls = config.repositories.reduce((n, r) => n + r.cloneUrls.length, 0);
    const fleetPolicies = config.fleet?.stackSet ? `, the fleet StackSet's for stages ${fleetPolicyStages(config).join(', ')}` : '';
    sections.push({ name: 'allowlists', ok: problems.length === 0, summary: `${urls} clone URLs, runner policies of ${config.accounts.map((a) => a.name).join(', ')}${fleetPolicies}`, problems });
  } else {
    sections.push({ name: 'allowlists', ok: false, summary: 'not checked', problems: ['not checked: the config must be valid first'] });
  }
  const definition = checkDefinition(config, partition);
  sections.push({ name: 'definition', ok: definition.problems.length === 0, summary: definition.summary, problems: definition.problems });
  return { file, ok: sections.every((s) => s.ok), sections };
}

/** The files of a working tree, repository-relative, hidden folders (`.git`, `.terraform`) left out. */
function workingTreeFiles(root: string): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const path = dir === '' ? entry.name : `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) files.push(path);
    }
  };
  walk('');
  return files;
}

/** The modules of a graph, each after its upstreams, ties in path order. Cycles come last, in path order. */
export function topologicalOrder(graph: AccountGraph): string[] {
  const waiting = new Map(graph.modules.map((m) => [m, new Set(graph.dependencies[m] ?? [])]));
  const order: string[] = [];
  while (waiting.size > 0) {
    const ready = [...waiting].filter(([, ups]) => [...ups].every((u) => !waiting.has(u))).map(([m]) => m).sort();
    const next = ready[0] ?? [...waiting.keys()].sort()[0]!;
    order.push(next);
    waiting.delete(next);
  }
  return order;
}

/**
 * Builds each account's module graph from a checkout's working tree (what is on disk, committed
 * or not) with the same discovery the pipeline uses, and answers the section and the graphs.
 */
export async function checkDependencies(config: Config, repoDir: string): Promise<{ section: ValidationSection; graphs: AccountGraphReport[] }> {
  let files: string[];
  try {
    if (!statSync(repoDir).isDirectory()) throw new Error('not a directory');
    files = workingTreeFiles(repoDir);
  } catch (err) {
    return { section: { name: 'dependencies', ok: false, summary: repoDir, problems: [`cannot read the repository ${repoDir}: ${(err as Error).message}`] }, graphs: [] };
  }
  const modules = moduleDirsOf(files);
  const found = await discoverDependencies({
    config,
    modules,
    readFile: (path) => {
      try {
        return Promise.resolve(readFileSync(join(repoDir, path), 'utf8'));
      } catch {
        return Promise.resolve(undefined);
      }
    },
  });
  const edges = found.accounts.reduce((n, g) => n + Object.values(g.dependencies).reduce((k, ups) => k + ups.length, 0), 0);
  const moduleCount = found.accounts.reduce((n, g) => n + g.modules.length, 0);
  return {
    section: {
      name: 'dependencies',
      ok: found.problems.length === 0,
      summary: `${moduleCount} modules of ${found.accounts.length} accounts, ${edges} dependenc${edges === 1 ? 'y' : 'ies'} (${relative(process.cwd(), repoDir) || '.'})`,
      problems: [...found.problems],
    },
    graphs: found.accounts.map((g) => ({ account: g.account, root: g.root, order: topologicalOrder(g), dependencies: Object.fromEntries(Object.entries(g.dependencies).map(([m, ups]) => [m, [...ups]])) })),
  };
}

/** {@link validateAll}, and with `repoDir` the module graph of each account. */
export async function validateWithRepository(file: string, partition = 'aws', repoDir?: string): Promise<ValidationReport> {
  const report = validateAll(file, partition);
  if (repoDir === undefined) return report;
  let config: Config;
  try {
    config = loadConfig(file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const section: ValidationSection = { name: 'dependencies', ok: false, summary: 'not checked', problems: ['not checked: the config must be valid first'] };
    return { ...report, ok: false, sections: [...report.sections, section] };
  }
  const { section, graphs } = await checkDependencies(config, repoDir);
  return { ...report, ok: report.ok && section.ok, sections: [...report.sections, section], graphs };
}
