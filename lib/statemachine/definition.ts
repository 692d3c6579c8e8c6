import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The pipeline definition file, shipped as is and rendered by CDK and the local mode alike. */
export const PIPELINE_ASL_PATH = join(__dirname, '..', '..', 'statemachines', 'pipeline.asl.json');

/**
 * The plan-only definition (drift sweeps, pull-request plans): its placeholders are the
 * pipeline's, without the approval function.
 */
export const PLAN_ONLY_ASL_PATH = join(__dirname, '..', '..', 'statemachines', 'plan-only.asl.json');

/** Reads the raw plan-only definition text. */
export function readPlanOnlyDefinition(path = PLAN_ONLY_ASL_PATH): string {
  return readFileSync(path, 'utf8');
}

/** Every `${Name}` placeholder the pipeline definition uses, with what fills it. */
export interface PipelineSubstitutions {
  /** The AWS partition (`aws`, `aws-us-gov`, `aws-cn`). */
  readonly Partition: string;
  /** ARN of the pipeline steps function (admit, targets, record, gates, finish). */
  readonly PipelineFunctionArn: string;
  /** ARN of the approval function (request step). */
  readonly ApprovalFunctionArn: string;
  /** Name of the runner container in both runner task definitions. */
  readonly RunnerContainerName: string;
}

/** The placeholder names, for CDK's `definitionSubstitutions`. */
export const PIPELINE_PLACEHOLDERS: readonly (keyof PipelineSubstitutions)[] = [
  'Partition',
  'PipelineFunctionArn',
  'ApprovalFunctionArn',
  'RunnerContainerName',
];

/** Reads the raw definition text, with its `${Placeholders}`. */
export function readPipelineDefinition(path = PIPELINE_ASL_PATH): string {
  return readFileSync(path, 'utf8');
}

/** Names of the `${X}` placeholders in a definition text. */
export function placeholdersIn(text: string): Set<string> {
  return new Set([...text.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1]!));
}

/**
 * Fills every placeholder, as CDK's `definitionSubstitutions` does at deploy time. Throws when a
 * placeholder has no value or a value names no placeholder, so the two can never drift.
 */
export function renderDefinition(text: string, substitutions: Readonly<Record<string, string>>): string {
  const used = placeholdersIn(text);
  const missing = [...used].filter((name) => !(name in substitutions));
  const unused = Object.keys(substitutions).filter((name) => !used.has(name));
  if (missing.length > 0 || unused.length > 0) {
    throw new Error(
      `pipeline definition substitutions do not match its placeholders` +
        (missing.length ? `; missing: ${missing.join(', ')}` : '') +
        (unused.length ? `; unused: ${unused.join(', ')}` : ''),
    );
  }
  return text.replace(/\$\{([A-Za-z0-9_]+)\}/g, (_m, name: string) => substitutions[name]!);
}

/** One state of a definition, as {@link allStates} walks it. */
export type State = Record<string, unknown>;

/** A state machine or a Map's item processor. */
export interface MachineLike {
  readonly StartAt?: unknown;
  readonly States?: unknown;
}

function asRecord(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/**
 * Every (name, state, machine) of a parsed definition, top level first, Map item processors and
 * Parallel branches included: the one walker the checks, the local engine, CDK and the
 * benchmark share.
 */
export function allStates(machine: MachineLike, into: [string, State, MachineLike][] = []): [string, State, MachineLike][] {
  for (const [name, raw] of Object.entries(asRecord(machine.States))) {
    const state = asRecord(raw);
    into.push([name, state, machine]);
    const inner = state.ItemProcessor ?? state.Iterator;
    if (inner) allStates(asRecord(inner), into);
    for (const branch of Array.isArray(state.Branches) ? (state.Branches as unknown[]) : []) allStates(asRecord(branch), into);
  }
  return into;
}
