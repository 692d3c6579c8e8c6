/**
 * Finding each account's module graph. Two sources, both read for every tool:
 *
 * - the config's `dependsOn` rules: module path patterns relative to each account's root (or to
 *   the repository's root with a leading "/"), so one rule serves every account;
 * - with `runner.tool: terragrunt`, the `dependency` and `dependencies` blocks of each module's
 *   `terragrunt.hcl`, read with an HCL parser.
 *
 * A dependency must name a module of the same account: a path that is no module, a module of
 * another account (cross-account order belongs to the stages) and a cycle are problems, each
 * reported with what was wrong. Callers decide: `tfstep validate` lists them, the pipeline
 * refuses to plan.
 */
import type { AccountConfig, Config } from '../config/schema';
import { globInAccount, globMatcher, isLiteralGlob } from '../config/module-glob';
import { mapLimit } from '../domain/concurrency';
import { DependencyGraphError } from './errors';
import { findCycles, formatCycle, type AccountGraph } from './module-graph';
import { accountRoot, modulesOfAccount } from './targets';

/** Reads a file of the repository (at the commit being planned); undefined when it does not exist. */
export type ReadRepoFile = (path: string) => Promise<string | undefined>;

/** Everything discovery needs, read beforehand by the caller except the files. */
export interface DiscoverInput {
  readonly config: Config;
  /** Module directories (repository-relative) of the repository, from `RepoReader.listModules`. */
  readonly modules: readonly string[];
  /** Required when `runner.tool` is terragrunt: reads each module's `terragrunt.hcl`. */
  readonly readFile?: ReadRepoFile;
}

/** The graphs, or the problems found while building them (every one, not only the first). */
export interface DiscoveredGraphs {
  /** One per account, in config order, each holding only edges that were valid. */
  readonly accounts: readonly AccountGraph[];
  readonly problems: readonly string[];
}

/** A dependency as declared, before it is checked. */
interface DeclaredEdge {
  readonly module: string;
  readonly upstream: string;
  /** Where it was declared, for messages: `dependsOn[0]`, `dev/us-east-1/app/terragrunt.hcl`. */
  readonly source: string;
}

/** How many terragrunt files are read at once (API calls in the pipeline function). */
const READ_CONCURRENCY = 8;

/** The terragrunt file of a module. */
export const TERRAGRUNT_FILE = 'terragrunt.hcl';

/** `a/b/../c` -> `a/c`; undefined when it climbs above the repository root. */
export function normalizeRepoPath(path: string): string | undefined {
  const out: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (out.length === 0) return undefined;
      out.pop();
    } else out.push(segment);
  }
  return out.join('/');
}

function globAccountOf(account: AccountConfig) {
  return { account: account.name, region: account.region, stage: account.stage };
}

/** The edges the `dependsOn` rules declare in one account, and the problems of literal patterns that name nothing. */
export function ruleEdges(config: Config, account: AccountConfig, accountModules: readonly string[], allModules: readonly string[]): { edges: DeclaredEdge[]; problems: string[] } {
  const root = accountRoot(config, account);
  const edges: DeclaredEdge[] = [];
  const problems: string[] = [];
  config.dependsOn.forEach((rule, i) => {
    const source = `dependsOn[${i}]`;
    const matchesModule = globMatcher(globInAccount(rule.module, root, globAccountOf(account)));
    const dependents = accountModules.filter(matchesModule);
    if (dependents.length === 0) return;
    for (const on of rule.on) {
      const placed = globInAccount(on, root, globAccountOf(account));
      const upstreams = allModules.filter(globMatcher(placed));
      if (upstreams.length === 0 && isLiteralGlob(on)) {
        problems.push(
          `account ${account.name}: ${dependents.join(', ')} ${dependents.length === 1 ? 'depends' : 'depend'} on ${placed} (${source}: on "${on}"), which is not a module (no *.tf or ${TERRAGRUNT_FILE} there)`,
        );
      }
      for (const module of dependents) {
        // "every module depends on network" leaves network itself out.
        for (const upstream of upstreams) if (upstream !== module) edges.push({ module, upstream, source: `${source}: on "${on}"` });
      }
    }
  });
  return { edges, problems };
}

/**
 * The npm package of the HCL parser. It loads its WebAssembly from its own folder, so the
 * pipeline function ships it beside its bundle rather than inside it (see the central stack).
 */
export const HCL_PARSER_PACKAGE = '@cdktf/hcl2json';

/** The HCL parser, loaded only for terragrunt repositories (it is a WebAssembly build). */
type HclParse = (filename: string, text: string) => Promise<Record<string, unknown>>;
let hclParse: HclParse | undefined;
function loadHclParser(): HclParse {
  // A literal, not HCL_PARSER_PACKAGE: the bundler sees which package this is (a test ties the two).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  hclParse ??= (require('@cdktf/hcl2json') as { parse: HclParse }).parse;
  return hclParse;
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
function asRecord(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

const TERRAGRUNT_DIR = '${get_terragrunt_dir()}';

/**
 * The module paths a terragrunt file's `dependency` blocks (`config_path`) and `dependencies`
 * block (`paths`) name, resolved from `module`. A path is a literal, relative to the module or
 * starting with `${get_terragrunt_dir()}`; any other expression needs terragrunt itself to
 * evaluate and is a problem.
 */
export async function terragruntEdges(module: string, text: string): Promise<{ edges: DeclaredEdge[]; problems: string[] }> {
  const file = `${module}/${TERRAGRUNT_FILE}`;
  let json: Record<string, unknown>;
  try {
    json = await loadHclParser()(file, text);
  } catch (err) {
    return { edges: [], problems: [`${file} cannot be parsed as HCL: ${(err as Error).message}`] };
  }
  const edges: DeclaredEdge[] = [];
  const problems: string[] = [];
  const add = (raw: unknown, where: string) => {
    if (typeof raw !== 'string' || raw === '') {
      problems.push(`${file}: ${where} is ${JSON.stringify(raw) ?? 'missing'}; expected a path to another module such as "../network"`);
      return;
    }
    let relative = raw;
    if (relative.startsWith(TERRAGRUNT_DIR)) relative = `.${relative.slice(TERRAGRUNT_DIR.length)}`;
    if (relative.includes('${')) {
      problems.push(`${file}: ${where} is "${raw}"; tfstep reads dependencies without running terragrunt, so it takes a path relative to the module ("../network"), optionally starting with \${get_terragrunt_dir()}`);
      return;
    }
    if (relative.startsWith('/')) {
      problems.push(`${file}: ${where} is the absolute path "${raw}"; expected a path relative to the module, such as "../network"`);
      return;
    }
    const upstream = normalizeRepoPath(`${module}/${relative}`);
    if (upstream === undefined) {
      problems.push(`${file}: ${where} "${raw}" leads outside the repository`);
      return;
    }
    edges.push({ module, upstream, source: `${file}: ${where}` });
  };
  for (const [name, blocks] of Object.entries(asRecord(json.dependency))) {
    for (const block of asArray(blocks).map(asRecord)) {
      // A disabled dependency (terragrunt's `enabled = false`) orders nothing.
      if (block.enabled === false) continue;
      add(block.config_path, `dependency "${name}" config_path`);
    }
  }
  for (const block of asArray(json.dependencies).map(asRecord)) {
    const paths = block.paths;
    if (!Array.isArray(paths)) {
      problems.push(`${file}: dependencies.paths is ${JSON.stringify(paths) ?? 'missing'}; expected a list of module paths such as ["../network"]`);
      continue;
    }
    paths.forEach((p, i) => add(p, `dependencies.paths[${i}]`));
  }
  return { edges, problems };
}

/**
 * Builds every account's graph from the config's rules and, for terragrunt, its files. Never
 * throws for a problem in the repository or the rules: they are all in `problems`.
 */
export async function discoverDependencies(input: DiscoverInput): Promise<DiscoveredGraphs> {
  const { config } = input;
  const allModules = [...new Set(input.modules)].sort();
  const owner = new Map<string, string>();
  const byAccount = new Map<string, string[]>();
  for (const account of config.accounts) {
    const mods = modulesOfAccount(config, account, allModules);
    byAccount.set(account.name, mods);
    for (const m of mods) if (!owner.has(m)) owner.set(m, account.name);
  }
  const known = new Set(allModules);
  const problems: string[] = [];

  const hclEdges = new Map<string, DeclaredEdge[]>();
  if (config.runner.tool === 'terragrunt') {
    const read = input.readFile;
    if (read === undefined) throw new DependencyGraphError(['terragrunt dependencies cannot be read: this repository reader cannot read files']);
    const modules = [...owner.keys()].sort();
    const texts = await mapLimit(modules, READ_CONCURRENCY, (module) => read(`${module}/${TERRAGRUNT_FILE}`));
    for (const [i, module] of modules.entries()) {
      const text = texts[i];
      if (text === undefined) continue;
      const found = await terragruntEdges(module, text);
      hclEdges.set(module, found.edges);
      problems.push(...found.problems);
    }
  }

  const graphs: AccountGraph[] = [];
  for (const account of config.accounts) {
    const mods = byAccount.get(account.name) ?? [];
    const rules = ruleEdges(config, account, mods, allModules);
    problems.push(...rules.problems);
    const declared = [...rules.edges, ...mods.flatMap((m) => hclEdges.get(m) ?? [])];
    const dependencies = new Map<string, Set<string>>();
    for (const edge of declared) {
      if (owner.get(edge.module) !== account.name) continue;
      const upstreamOwner = owner.get(edge.upstream);
      if (!known.has(edge.upstream)) {
        problems.push(`account ${account.name}: ${edge.module} depends on ${edge.upstream} (${edge.source}), which is not a module (no *.tf or ${TERRAGRUNT_FILE} there)`);
      } else if (upstreamOwner === undefined) {
        problems.push(`account ${account.name}: ${edge.module} depends on ${edge.upstream} (${edge.source}), which is under no account's root, so no account deploys it`);
      } else if (upstreamOwner !== account.name) {
        problems.push(
          `account ${account.name}: ${edge.module} depends on ${edge.upstream} (${edge.source}), a module of account ${upstreamOwner}; a dependency stays within one account, and accounts are ordered by the stages (stageOrder)`,
        );
      } else if (edge.upstream === edge.module) {
        problems.push(`account ${account.name}: ${edge.module} depends on itself (${edge.source})`);
      } else {
        dependencies.set(edge.module, (dependencies.get(edge.module) ?? new Set()).add(edge.upstream));
      }
    }
    const graph: AccountGraph = {
      account: account.name,
      root: accountRoot(config, account),
      modules: mods,
      dependencies: Object.fromEntries([...dependencies].sort(([a], [b]) => a.localeCompare(b)).map(([m, ups]) => [m, [...ups].sort()])),
    };
    for (const cycle of findCycles(graph)) problems.push(`account ${account.name}: the dependencies form a cycle: ${formatCycle(cycle)}`);
    graphs.push(graph);
  }
  return { accounts: graphs, problems: [...new Set(problems)] };
}

/** {@link discoverDependencies}, refusing any problem: what the pipeline plans with. */
export async function dependencyGraphs(input: DiscoverInput): Promise<AccountGraph[]> {
  const found = await discoverDependencies(input);
  if (found.problems.length > 0) throw new DependencyGraphError(found.problems);
  return [...found.accounts];
}
