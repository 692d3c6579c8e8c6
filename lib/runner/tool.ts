/**
 * The infrastructure tool (terraform, tofu or terragrunt): which binary runs, with which
 * environment. The environment is built from an allowlist because the task's environment is
 * untrusted input: `TF_CLI_ARGS_apply`, `TF_VAR_*`, `GIT_SSH_COMMAND` or `NODE_OPTIONS` set by
 * whoever launched the task would change what runs.
 */
import * as path from 'node:path';
import type { RunnerPolicy } from '../domain/runner-contract';
import { InfraError } from './errors';
import { which } from './exec';
import { MODULE_PATH_ENV, TEST_DOUBLE_ENV } from './inputs';
import type { Logger } from './logger';

/** The binary that runs and whether it is the test double. */
export interface ResolvedTool {
  name: RunnerPolicy['tool'];
  bin: string;
  isTestDouble: boolean;
}

/** The terraform test double shipped in the repository (test/doubles/terraform). */
export function testDoublePath(repoRoot: string): string {
  return path.join(repoRoot, 'test', 'doubles', 'terraform');
}

/**
 * Finds `policy.tool` on `searchPath`. Only when the tool is terraform and none is installed
 * does the runner fall back to the test double (local mode and tests), and says so.
 * @param doublePath where the double lives, if this installation has one
 * @throws InfraError when the tool is not installed
 */
export function resolveTool(tool: RunnerPolicy['tool'], searchPath: string, doublePath: string | undefined, logger: Logger): ResolvedTool {
  const found = which(tool, searchPath);
  if (found) return { name: tool, bin: found, isTestDouble: false };
  if (tool === 'terraform' && doublePath !== undefined && which(path.basename(doublePath), path.dirname(doublePath))) {
    logger.info(`terraform is not on PATH: using the terraform TEST DOUBLE ${doublePath} (nothing real is planned or applied)`);
    return { name: tool, bin: doublePath, isTestDouble: true };
  }
  throw new InfraError(`${tool} is not installed (searched ${searchPath})`);
}

/** Variables copied from the runner's environment into the tool's, when set. */
export const TOOL_ENV_ALLOWLIST = [
  'LANG',
  'LC_ALL',
  'TZ',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  // ECS task role credentials (refreshed by ECS for the task's lifetime) and region.
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_EXECUTION_ENV',
  'ECS_CONTAINER_METADATA_URI',
  'ECS_CONTAINER_METADATA_URI_V4',
  // Local mode: the account's profile or static credentials.
  'AWS_PROFILE',
  'AWS_CONFIG_FILE',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  // Harmless Terraform settings an account stack may set on the task definition. The plugin
  // cache is the runner's own (one per task, shared by its modules), not taken from here.
  'TF_REGISTRY_CLIENT_TIMEOUT',
] as const;

/**
 * The tool's environment: the allowlist, a fixed PATH and HOME, non-interactive Terraform,
 * and (for the test double only) the double's own variables.
 * @returns the environment and the names of variables that were dropped (for one log line)
 */
export function toolEnv(opts: {
  from: NodeJS.ProcessEnv;
  searchPath: string;
  home: string;
  tool: ResolvedTool;
  module: string;
  /** The account's region from the runner policy: the tool's AWS_REGION and AWS_DEFAULT_REGION. */
  region?: string;
}): { env: Record<string, string>; dropped: string[] } {
  const env: Record<string, string> = {};
  for (const k of TOOL_ENV_ALLOWLIST) {
    const v = opts.from[k];
    if (v !== undefined) env[k] = v;
  }
  // The task runs in the central region and ECS sets AWS_REGION to it ("AWS_REGION - The
  // Region where the task runs", ECS task environment variables): Terraform must deploy to the
  // account's region instead. The runner's own clients keep the task's region.
  if (opts.region !== undefined) {
    env.AWS_REGION = opts.region;
    env.AWS_DEFAULT_REGION = opts.region;
  }
  env.PATH = opts.searchPath;
  env.HOME = opts.home;
  env.TF_IN_AUTOMATION = '1';
  env.TF_INPUT = '0';
  if (opts.tool.isTestDouble) {
    for (const k of Object.values(TEST_DOUBLE_ENV)) {
      const v = opts.from[k];
      if (v !== undefined) env[k] = v;
    }
    env[MODULE_PATH_ENV] = opts.module;
  }
  const kept = new Set<string>([...TOOL_ENV_ALLOWLIST, ...Object.values(TEST_DOUBLE_ENV)]);
  // Only names that could steer the tool are worth a log line; the rest of the environment is noise.
  const dropped = Object.keys(opts.from)
    .filter((k) => !kept.has(k) && /^(TF_|TERRAGRUNT_|TG_|GIT_|AWS_|NODE_|LD_)/.test(k))
    .sort();
  return { env, dropped };
}
