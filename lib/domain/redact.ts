/**
 * Keeping secrets out of everything tfstep shows (summaries, approval pages, notifications,
 * run JSON, logs). Pure. Two sources of secrets:
 *
 * - values Terraform marks sensitive: in `terraform show -json`, `before_sensitive` and
 *   `after_sensitive` mirror `before`/`after` with `true` where a value is sensitive, output
 *   changes and planned outputs carry `sensitive`, and a variable declared `sensitive` has its
 *   value in `variables` in clear text ({@link sensitiveValues} collects them all);
 * - values that look like secrets although no provider marked them (a token in a plain map):
 *   an attribute whose name matches a name pattern, or a value of a known secret shape
 *   ({@link redactText}).
 *
 * The full plan stays in the artifacts bucket; nothing here changes it.
 */
import type { RedactConfig } from '../config/schema';

/** What replaces a hidden value. */
export const REDACTED = '(redacted)';

/** Attribute names whose values are secrets (case-insensitive, anywhere in the name). */
export const DEFAULT_NAME_PATTERNS: readonly string[] = [
  'pass(word|wd|phrase)',
  'secret',
  'token',
  'private[_-]?key',
  'api[_-]?key',
  'credential',
  'connection[_-]?string',
];

/** Value shapes that are secrets wherever they appear. */
export const DEFAULT_VALUE_PATTERNS: readonly string[] = [
  // A PEM private key, whole.
  '-----BEGIN [A-Z ]*PRIVATE KEY-----[\\s\\S]*?-----END [A-Z ]*PRIVATE KEY-----',
  // GitHub tokens (classic and fine-grained), Slack tokens.
  'gh[pousr]_[A-Za-z0-9]{36,255}',
  'github_pat_[A-Za-z0-9_]{22,255}',
  'xox[abposr]-[A-Za-z0-9-]{10,}',
  // Credentials in a URL: scheme://user:password@host
  '(?<=[a-z][a-z0-9+.-]*://[^:/@\\s]+:)[^@\\s/]+(?=@)',
];

/**
 * An AWS secret access key by shape: 40 characters of base64 (A-Z, a-z, 0-9, "/", "+") standing
 * alone, with upper and lower case letters and a digit, "/" or "+" (so a 40-character git
 * commit, lower-case hex, is not one).
 */
const AWS_SECRET_CANDIDATE = /(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/g;
function isAwsSecretShape(s: string): boolean {
  return /[A-Z]/.test(s) && /[a-z]/.test(s) && /[0-9/+]/.test(s);
}

/** Compiled redaction patterns. */
export interface Redaction {
  readonly names: readonly RegExp[];
  readonly values: readonly RegExp[];
  /** Whether the built-in AWS secret access key shape applies. */
  readonly awsSecretShape: boolean;
}

/**
 * Compiles the `redact` settings (the defaults unless `defaults: false`, plus the configured
 * patterns). Patterns were checked when the config was read.
 */
export function compileRedaction(config: Partial<RedactConfig> = {}): Redaction {
  const defaults = config.defaults !== false;
  const names = [...(defaults ? DEFAULT_NAME_PATTERNS : []), ...(config.names ?? [])];
  const values = [...(defaults ? DEFAULT_VALUE_PATTERNS : []), ...(config.values ?? [])];
  return {
    names: names.map((p) => new RegExp(p, 'i')),
    values: values.map((p) => new RegExp(p, 'g')),
    awsSecretShape: defaults,
  };
}

/** The defaults alone. */
export const DEFAULT_REDACTION: Redaction = compileRedaction();

/** Whether an attribute named `name` holds a secret. */
export function isSecretName(name: string, redaction: Redaction = DEFAULT_REDACTION): boolean {
  return redaction.names.some((re) => re.test(name));
}

/**
 * `name = value`, `name: value`, `"name": "value"`, `name=value` in a line of text: the name, the
 * separator, and a quoted string or a bare word as the value.
 */
const ASSIGNMENT = /(["']?)([A-Za-z_][A-Za-z0-9_.-]*)\1(\s*[=:]\s*)("(?:[^"\\]|\\.)*"?|'[^']*'?|[^\s,;}\])"']+)/g;

/** Values that are no secret whatever their name says. */
function isPlaceholder(value: string): boolean {
  const quoted = /^["']/.test(value);
  const v = value.replace(/^["']|["']$/g, '');
  if (v === '' || v === REDACTED || v === '***') return true;
  // Unquoted: Terraform's own placeholders, literals and the start of a block, not a value.
  return !quoted && (v.startsWith('(') || /^(null|true|false|\d+|<<-?\w*)$/.test(v) || v.startsWith('{') || v.startsWith('['));
}

/**
 * Hides, in free text (a log line, an error message), every value of a secret shape and every
 * value assigned to an attribute whose name matches a name pattern.
 */
export function redactText(text: string, redaction: Redaction = DEFAULT_REDACTION): string {
  let out = text;
  // A value masked already (`***` of a registered secret) stays as it is.
  for (const re of redaction.values) out = out.replace(re, (m) => (m === '***' || m === REDACTED ? m : REDACTED));
  if (redaction.awsSecretShape) out = out.replace(AWS_SECRET_CANDIDATE, (m) => (isAwsSecretShape(m) ? REDACTED : m));
  out = out.replace(ASSIGNMENT, (whole, q: string, name: string, sep: string, value: string) => {
    if (!isSecretName(name, redaction) || isPlaceholder(value)) return whole;
    const quote = value.startsWith('"') ? '"' : value.startsWith("'") ? "'" : '';
    return `${q}${name}${q}${sep}${quote}${REDACTED}${quote}`;
  });
  return out;
}

/** Every string and number inside a JSON value (a secret may be a number, or nested). */
function leaves(value: unknown, into: Set<string>): void {
  if (typeof value === 'string') into.add(value);
  else if (typeof value === 'number') into.add(String(value));
  else if (Array.isArray(value)) for (const v of value) leaves(v, into);
  else if (value !== null && typeof value === 'object') for (const v of Object.values(value)) leaves(v, into);
}

/** Collects the leaves of `value` where `mask` (a sensitivity mirror) says `true`. */
function masked(value: unknown, mask: unknown, into: Set<string>): void {
  if (mask === true) {
    leaves(value, into);
    return;
  }
  if (mask === null || typeof mask !== 'object' || value === null || typeof value !== 'object') return;
  if (Array.isArray(mask)) {
    if (!Array.isArray(value)) return;
    mask.forEach((m, i) => masked(value[i], m, into));
    return;
  }
  for (const [k, m] of Object.entries(mask as Record<string, unknown>)) masked((value as Record<string, unknown>)[k], m, into);
}

/** Collects the leaves under attributes whose names are secret names. */
function named(value: unknown, redaction: Redaction, into: Set<string>): void {
  if (Array.isArray(value)) for (const v of value) named(v, redaction, into);
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (isSecretName(k, redaction)) leaves(v, into);
      else named(v, redaction, into);
    }
  }
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function moduleResources(module: unknown): unknown[] {
  const m = obj(module);
  return [...arr(m.resources), ...arr(m.child_modules).flatMap(moduleResources)];
}

/**
 * Every value a `terraform show -json` plan marks sensitive, and every value under an attribute
 * with a secret name, as strings: what must never leave the artifacts bucket in clear text.
 * Reads resource changes, output changes, planned and prior values, and sensitive variables.
 */
export function sensitiveValues(showJson: unknown, redaction: Redaction = DEFAULT_REDACTION): Set<string> {
  const out = new Set<string>();
  const plan = obj(showJson);
  for (const rc of arr(plan.resource_changes)) {
    const change = obj(obj(rc).change);
    masked(change.before, change.before_sensitive, out);
    masked(change.after, change.after_sensitive, out);
    named(change.before, redaction, out);
    named(change.after, redaction, out);
  }
  for (const [name, c] of Object.entries(obj(plan.output_changes))) {
    const change = obj(c);
    masked(change.before, change.before_sensitive, out);
    masked(change.after, change.after_sensitive, out);
    if (isSecretName(name, redaction)) {
      leaves(change.before, out);
      leaves(change.after, out);
    }
  }
  for (const values of [obj(plan.planned_values), obj(obj(plan.prior_state).values)]) {
    for (const [name, o] of Object.entries(obj(values.outputs))) {
      if (obj(o).sensitive === true || isSecretName(name, redaction)) leaves(obj(o).value, out);
    }
    for (const r of moduleResources(values.root_module)) {
      masked(obj(r).values, obj(r).sensitive_values, out);
      named(obj(r).values, redaction, out);
    }
  }
  const declared = obj(obj(obj(plan.configuration).root_module).variables);
  for (const [name, v] of Object.entries(obj(plan.variables))) {
    if (obj(declared[name]).sensitive === true || isSecretName(name, redaction)) leaves(obj(v).value, out);
  }
  // A sensitive variable's default is in the configuration too.
  for (const [name, v] of Object.entries(declared)) {
    if (obj(v).sensitive === true || isSecretName(name, redaction)) leaves(obj(v).default, out);
  }
  return out;
}
