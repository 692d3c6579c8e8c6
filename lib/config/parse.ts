/**
 * Validates a config object. Kept apart from the YAML loader so the Lambda bundles, which
 * receive the config as JSON, carry no YAML parser.
 */
import type { z } from 'zod';
import { ConfigError, type ConfigProblem } from './errors';
import { ConfigSchema, crossFieldProblems, type Config } from './schema';

/** Formats a zod path as `accounts[2].id`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? String(part) : `.${String(part)}`))
    .join('');
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = input;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

function describe(value: unknown): string {
  if (value === undefined) return '(missing)';
  const json = JSON.stringify(value);
  return json.length > 80 ? `${json.slice(0, 77)}...` : json;
}

function expectedOf(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.expected === 'undefined' ? 'nothing here' : `a value of type ${issue.expected}`;
    case 'unrecognized_keys':
      return `no unknown keys (remove ${issue.keys.map((k) => `"${k}"`).join(', ')})`;
    case 'invalid_value':
      return `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_format':
      return issue.message.replace(/^Invalid string: /, '');
    default:
      return issue.message;
  }
}

/**
 * Validates a parsed config object. Every problem is collected and thrown at once as a
 * {@link ConfigError}; nothing is returned half-valid.
 */
export function parseConfig(input: unknown, file = 'config'): Config {
  const result = ConfigSchema.safeParse(input);
  if (result.success) return result.data;
  const problems: ConfigProblem[] = result.error.issues.map((issue) => {
    const received = issue.code === 'unrecognized_keys' ? describe(issue.keys) : describe(valueAt(input, issue.path));
    return { path: formatPath(issue.path), received, expected: expectedOf(issue) };
  });
  // zod skips the config's refinement once a field fails; run the cross-field checks anyway so
  // every problem is reported in one go (once: the refinement may have run after all).
  const reported = new Set(result.error.issues.map((i) => `${formatPath(i.path)}\n${i.message}`));
  for (const p of crossFieldProblems(input)) {
    if (reported.has(`${formatPath(p.path)}\n${p.message}`)) continue;
    problems.push({ path: formatPath(p.path), received: describe(valueAt(input, p.path)), expected: p.message });
  }
  throw new ConfigError(file, problems);
}
