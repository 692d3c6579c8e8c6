// Shared by the CDK tests: build the app from the example config without bundling, and
// resolve the template intrinsics the tests compare against.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { buildApp, type BuildAppOptions, type TfstepApp } from '../../lib/app';
import type { CentralFunctionEntries } from '../../lib/stacks/central-stack';

export const ROOT = join(__dirname, '..', '..');
export const EXAMPLE_CONFIG = join(ROOT, 'examples', 'tfstep.yaml');

/**
 * Test fixture handler: template tests do not depend on the real handlers (written and tested
 * elsewhere); bundling is skipped, so only the file's existence matters.
 */
export const FIXTURE_HANDLER = join(ROOT, 'test', 'fixtures', 'cdk', 'fixture-handler.ts');
export const FIXTURE_ENTRIES: CentralFunctionEntries = { webhook: FIXTURE_HANDLER, approval: FIXTURE_HANDLER, pipeline: FIXTURE_HANDLER };

/** The example app with fixture handlers and no bundling; validation off unless asked for. */
export function buildExampleApp(options: BuildAppOptions = {}, configFile = EXAMPLE_CONFIG): TfstepApp {
  // The assembly goes to a folder removeTempDirs deletes, not to a fresh cdk.out* left behind.
  return buildApp(configFile, tempDir('tfstep-cdk-out-'), { functionEntries: FIXTURE_ENTRIES, skipBundling: true, validate: false, ...options });
}

/**
 * Renders CloudFormation values the way they deploy in the `aws` partition: `Ref` to a pseudo
 * parameter becomes its value and `Fn::Join` becomes a string; anything else (GetAtt, Ref to a
 * resource) is rendered as `<LogicalId.Attr>` / `<LogicalId>`.
 */
export function render(value: unknown, pseudo: Readonly<Record<string, string>> = { 'AWS::Partition': 'aws' }): unknown {
  if (Array.isArray(value)) return value.map((v) => render(v, pseudo));
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj);
    if (keys.length === 1 && keys[0] === 'Ref') {
      const ref = obj.Ref as string;
      return pseudo[ref] ?? `<${ref}>`;
    }
    if (keys.length === 1 && keys[0] === 'Fn::GetAtt') {
      const [id, attr] = obj['Fn::GetAtt'] as [string, string];
      return `<${id}.${attr}>`;
    }
    if (keys.length === 1 && keys[0] === 'Fn::Join') {
      const [sep, parts] = obj['Fn::Join'] as [string, unknown[]];
      return parts.map((p) => String(render(p, pseudo))).join(sep);
    }
    return Object.fromEntries(keys.map((k) => [k, render(obj[k], pseudo)]));
  }
  return value;
}

/** A policy statement as rendered by {@link render}, with list-or-single fields normalized to lists. */
export interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string[];
  Resource: string[];
  Principal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

/** Policy fields hold a string or a list of strings once rendered. */
const list = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? (v as string[]) : [v as string]);

/** Normalizes the statements of a policy document. */
export function statementsOf(document: unknown): Statement[] {
  const doc = render(document) as { Statement: Record<string, unknown>[] };
  return doc.Statement.map((s) => ({ ...(s as object), Action: list(s.Action), Resource: list(s.Resource) }) as Statement);
}

const tempDirs: string[] = [];

/** A temporary folder removed by {@link removeTempDirs}. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** Removes every folder made by {@link tempDir}; call it in afterAll. */
export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Writes a variant of the example config (changed by `mutate`) and returns its path. */
export function writeExampleVariant(mutate: (doc: Record<string, unknown>) => void): string {
  const doc = parse(readFileSync(EXAMPLE_CONFIG, 'utf8')) as Record<string, unknown>;
  mutate(doc);
  const file = join(tempDir('tfstep-cdk-config-'), 'tfstep.yaml');
  writeFileSync(file, stringify(doc));
  return file;
}
