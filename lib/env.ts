import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TfstepError } from './config/errors';

/** An environment variable that is missing or unusable: a deployment mistake, reported by name. */
export class EnvError extends TfstepError {
  constructor(
    readonly variable: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'EnvError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads a required environment variable. Throws an {@link EnvError} naming the variable when it
 * is unset or empty, so a misconfigured function fails with a message that says what to set.
 */
export function requireEnv(name: string, env: Env = process.env): string {
  const value = env[name];
  if (value === undefined || value.trim() === '') {
    throw new EnvError(name, `environment variable ${name} is not set; it is required`);
  }
  return value;
}

/** Reads an optional environment variable; unset or empty gives the fallback. */
export function optionalEnv(name: string, fallback: string, env: Env = process.env): string {
  const value = env[name];
  return value === undefined || value.trim() === '' ? fallback : value;
}

/**
 * Reads an optional positive integer environment variable. A value that is set but not a
 * positive integer throws rather than silently falling back, because a typo in a limit should
 * not go unnoticed.
 */
export function positiveIntEnv(name: string, fallback: number, env: Env = process.env): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw.trim());
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new EnvError(name, `environment variable ${name} must be a positive integer; got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** Reads a required environment variable holding JSON and parses it. */
export function requireJsonEnv(name: string, env: Env = process.env): unknown {
  const raw = requireEnv(name, env);
  try {
    return JSON.parse(raw) as unknown;
  } catch (err) {
    throw new EnvError(name, `environment variable ${name} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

/** The file CDK bundles beside each function's handler, holding the validated config as JSON. */
export const BUNDLED_CONFIG_FILE = 'tfstep-config.json';

/**
 * The config a function was deployed with, as parsed JSON. `TFSTEP_CONFIG` wins when set (tests,
 * local runs); otherwise the file CDK bundles beside the handler in `LAMBDA_TASK_ROOT`. The
 * config travels in the bundle because Lambda allows only 4 KiB of environment, which a config
 * of a dozen accounts already exceeds.
 */
export function functionConfigJson(name: string, env: Env = process.env): unknown {
  if (env[name] !== undefined && env[name].trim() !== '') return requireJsonEnv(name, env);
  const root = env.LAMBDA_TASK_ROOT;
  if (root === undefined || root.trim() === '') {
    throw new EnvError(name, `environment variable ${name} is not set, and there is no ${BUNDLED_CONFIG_FILE} bundled with the function; one of them is required`);
  }
  const file = join(root, BUNDLED_CONFIG_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new EnvError(name, `environment variable ${name} is not set and ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)}); redeploy the central stack`, { cause: err });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new EnvError(name, `${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}
