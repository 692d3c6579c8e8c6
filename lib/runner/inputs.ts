/**
 * The runner's untrusted inputs: the command line (ECS `command` overrides are appended to the
 * entrypoint) and the environment (ECS `environment` overrides). Both are checked before
 * anything else happens.
 */
import type { z } from 'zod';
import { RUNNER_ENV, RunnerEnvInputSchema, type RunnerEnvInput } from '../domain/runner-contract';
import { RefusedError } from './errors';

/** Where the policy comes from: an SSM parameter (AWS) or a JSON file (local mode). */
export type PolicySource = { kind: 'ssm'; name: string } | { kind: 'file'; path: string };

/**
 * `TFSTEP_` variables allowed besides {@link RUNNER_ENV}. They only steer the terraform test
 * double (test/doubles/terraform) and are passed to it alone, never to a real tool.
 */
export const TEST_DOUBLE_ENV = {
  /** Comma-separated repository-relative module paths whose plan and apply exit 1. */
  fail: 'TFSTEP_TEST_DOUBLE_FAIL',
  /** A file the double appends `<module path> <subcommand>` to on each invocation. */
  log: 'TFSTEP_TEST_DOUBLE_LOG',
  /** Milliseconds the double's plan and apply wait (holding their lock) before working. */
  sleepMs: 'TFSTEP_TEST_DOUBLE_SLEEP_MS',
  /** A folder standing in for the backend's state lock: the double's plan and apply lock there. */
  lockDir: 'TFSTEP_TEST_DOUBLE_LOCK_DIR',
  /** A file the double appends the AWS region and plugin cache settings it was given to. */
  envLog: 'TFSTEP_TEST_DOUBLE_ENV_LOG',
  /**
   * Comma-separated `<module>=<upstream>` pairs: the double plans the module's values from the
   * upstream's applied state, so its plan changes once the upstream applies.
   */
  reads: 'TFSTEP_TEST_DOUBLE_READS',
  /**
   * Comma-separated `<module>` or `<module>:<address>=<body>`: the double's plan sees those
   * resources changed outside Terraform (drift).
   */
  drift: 'TFSTEP_TEST_DOUBLE_DRIFT',
  /** A file the double appends `<module path> <subcommand> start` and `... end <code>` to. */
  timeline: 'TFSTEP_TEST_DOUBLE_TIMELINE',
} as const;

/** Set by the runner (not accepted as input) for the double: the repository-relative module path. */
export const MODULE_PATH_ENV = 'TFSTEP_MODULE_PATH';

const ALLOWED_TFSTEP = new Set<string>([...Object.values(RUNNER_ENV), ...Object.values(TEST_DOUBLE_ENV)]);

/**
 * Parses the command line (without `node` and the script): exactly one `--policy-source=`.
 * @throws RefusedError on anything else, so an appended `command` override never runs.
 */
export function parseArgs(argv: readonly string[]): PolicySource {
  if (argv.length !== 1) {
    throw new RefusedError(`refused command line: expected exactly one --policy-source= argument, got ${argv.length} arguments`);
  }
  const arg = argv[0] ?? '';
  const m = /^--policy-source=(ssm|file):(.+)$/.exec(arg);
  if (!m) throw new RefusedError('refused command line: the only argument must be --policy-source=ssm:NAME or --policy-source=file:PATH');
  const [, kind, value = ''] = m;
  if (kind === 'ssm') {
    if (!/^\/?[A-Za-z0-9_.\-/]+$/.test(value)) throw new RefusedError('refused command line: invalid SSM parameter name in --policy-source');
    return { kind: 'ssm', name: value };
  }
  return { kind: 'file', path: value };
}

/** A short printable rendering of an untrusted value for a refusal line. */
export function quote(value: unknown): string {
  const s = JSON.stringify(value) ?? String(value);
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

/**
 * The refusal line of a failed schema check: where (`name[path]`), the value found, and what was expected.
 * @param nameOf the displayed name of a top-level field
 */
export function describeIssue(error: z.ZodError, raw: unknown, nameOf: (field: string) => string): string {
  const issue = error.issues[0];
  const field = issue?.path[0];
  const name = nameOf(typeof field === 'string' ? field : String(field ?? 'input'));
  const where = issue && issue.path.length > 1 ? `${name}[${issue.path.slice(1).map(String).join('.')}]` : name;
  let value: unknown = raw;
  for (const key of issue?.path ?? []) value = value !== null && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[key] : undefined;
  const shown = value === undefined || issue?.path.length === 0 ? '' : `=${quote(value)}`;
  return `${where}${shown}: ${issue?.message ?? 'invalid'}`;
}

/**
 * Reads the task's overrides from the environment: the fixed-size fields and where the manifest
 * is (see {@link RunnerEnvInputSchema}); the module list and approved plans are in the manifest.
 * @throws RefusedError for an unknown `TFSTEP_` variable or an input that fails the schema
 */
export function parseRunnerEnv(env: NodeJS.ProcessEnv): RunnerEnvInput {
  const unknown = Object.keys(env).filter((k) => k.toUpperCase().startsWith('TFSTEP_') && !ALLOWED_TFSTEP.has(k));
  if (unknown.length > 0) throw new RefusedError(`refused input: unknown environment variable ${unknown.sort().join(', ')}`);
  const raw: Record<string, unknown> = {};
  for (const [field, name] of Object.entries(RUNNER_ENV)) {
    const value = env[name];
    if (value !== undefined) raw[field] = value;
  }
  const parsed = RunnerEnvInputSchema.safeParse(raw);
  if (!parsed.success) {
    const detail = describeIssue(parsed.error, raw, (field) => (field in RUNNER_ENV ? RUNNER_ENV[field as keyof typeof RUNNER_ENV] : field));
    throw new RefusedError(`refused input: ${detail}`);
  }
  return parsed.data;
}
