/**
 * The runner's untrusted inputs: the command line (ECS `command` overrides are appended to the
 * entrypoint) and the environment (ECS `environment` overrides). Both are checked before
 * anything else happens.
 */
import { RUNNER_ENV, RunnerInputSchema, type RunnerInput } from '../domain/runner-contract';
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

function parseJsonVar(name: string, raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    throw new RefusedError(`refused input: ${name} is not valid JSON`);
  }
}

/**
 * Reads the runner input from the environment.
 * @throws RefusedError for an unknown `TFSTEP_` variable or an input that fails the schema
 */
export function parseRunnerEnv(env: NodeJS.ProcessEnv): RunnerInput {
  const unknown = Object.keys(env).filter((k) => k.toUpperCase().startsWith('TFSTEP_') && !ALLOWED_TFSTEP.has(k));
  if (unknown.length > 0) throw new RefusedError(`refused input: unknown environment variable ${unknown.sort().join(', ')}`);
  const raw: Record<string, unknown> = {};
  for (const [field, name] of Object.entries(RUNNER_ENV)) {
    const value = env[name];
    if (value === undefined) continue;
    raw[field] = field === 'modules' || field === 'approvedPlans' ? parseJsonVar(name, value) : value;
  }
  const parsed = RunnerInputSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path[0];
    const name = typeof field === 'string' && field in RUNNER_ENV ? RUNNER_ENV[field as keyof typeof RUNNER_ENV] : String(field ?? 'input');
    const where = issue && issue.path.length > 1 ? `${name}[${issue.path.slice(1).map(String).join('.')}]` : name;
    let value: unknown = raw;
    for (const key of issue?.path ?? []) value = value !== null && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[key] : undefined;
    const shown = value === undefined || issue?.path.length === 0 ? '' : `=${quote(value)}`;
    throw new RefusedError(`refused input: ${where}${shown}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}
