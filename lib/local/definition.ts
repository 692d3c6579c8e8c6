/**
 * The pipeline definition as the local mode runs it: the real statemachines/pipeline.asl.json,
 * rendered with local values by the same {@link renderDefinition} CDK's substitutions mirror.
 *
 * Two engine limits of aws-local-stepfunctions 3.0.0 are worked around here, and only these:
 * - it arms timeouts with one `setTimeout`, which fires at once above 2^31-1 ms (24.8 days), so
 *   the 30-day execution timeout is lowered to what a timer can hold;
 * - it evaluates `TimeoutSecondsPath` against the task's effective input (after `Parameters`)
 *   instead of the state input, where the path points to nothing and the state fails. Such
 *   states get the longest timer here; {@link compileTimeoutResolver} finds the same value in the
 *   effective input and the local task handler enforces it, raising `States.Timeout` as AWS does.
 */
import { names } from '../domain/names';
import { readPipelineDefinition, renderDefinition, type PipelineSubstitutions } from '../statemachine/definition';
import { LocalEngineError } from './errors';

/** The longest timeout (seconds) a Node timer can hold. */
export const MAX_ENGINE_TIMEOUT_SECONDS = Math.floor(2_147_483_647 / 1000);

/** The local stand-ins for the function ARNs: fixed, so the engine can tell the functions apart. */
export function localSubstitutions(centralRegion = 'us-east-1', centralAccount = '000000000000'): PipelineSubstitutions {
  return {
    Partition: 'aws',
    PipelineFunctionArn: `arn:aws:lambda:${centralRegion}:${centralAccount}:function:tfstep-pipeline-local`,
    ApprovalFunctionArn: `arn:aws:lambda:${centralRegion}:${centralAccount}:function:tfstep-approval-local`,
    RunnerContainerName: names.runnerContainer(),
  };
}

/** A JSON object, as states and templates are. */
export type JsonObject = Record<string, unknown>;

/** Renders the shipped definition with local values and parses it. */
export function renderLocalDefinition(subs: PipelineSubstitutions, text = readPipelineDefinition()): JsonObject {
  const rendered = renderDefinition(text, { ...subs });
  return JSON.parse(rendered) as JsonObject;
}

/** One Task state, wherever it sits (top level or inside a Map's ItemProcessor). */
export interface TaskStateRef {
  name: string;
  state: JsonObject;
  /** `Map` names from the top down, empty at the top level. */
  within: string[];
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every Task state of a definition, including those inside Map ItemProcessors and Parallel branches. */
export function collectTaskStates(definition: JsonObject, within: string[] = []): TaskStateRef[] {
  const states = definition.States;
  if (!isObject(states)) throw new LocalEngineError('the definition has no States object');
  const out: TaskStateRef[] = [];
  for (const [name, state] of Object.entries(states)) {
    if (!isObject(state)) continue;
    if (state.Type === 'Task') out.push({ name, state, within });
    const processor = state.ItemProcessor ?? state.Iterator;
    if (isObject(processor)) out.push(...collectTaskStates(processor, [...within, name]));
    if (Array.isArray(state.Branches)) for (const b of state.Branches) if (isObject(b)) out.push(...collectTaskStates(b, [...within, name]));
  }
  return out;
}

/**
 * A function that finds the value of a state's `TimeoutSecondsPath` in the task's effective
 * input, by following the `Parameters` entry that copies a prefix of that path. For
 * `$.current.stage.approval.timeoutSeconds` and `"stage.$": "$.current.stage"` under `Payload`,
 * it reads `Payload.stage.approval.timeoutSeconds`.
 * @returns undefined when no `Parameters` entry carries the value
 */
export function compileTimeoutResolver(state: JsonObject): ((effectiveInput: unknown) => number | undefined) | undefined {
  const pathExpr = state.TimeoutSecondsPath;
  if (typeof pathExpr !== 'string' || !pathExpr.startsWith('$.')) return undefined;
  const wanted = pathExpr.slice(2).split('.');
  let found: { at: string[]; rest: string[] } | undefined;
  const walk = (template: unknown, at: string[]) => {
    if (!isObject(template) || found) return;
    for (const [key, value] of Object.entries(template)) {
      if (key.endsWith('.$') && typeof value === 'string' && value.startsWith('$.')) {
        const source = value.slice(2).split('.');
        if (source.length <= wanted.length && source.every((s, i) => s === wanted[i])) {
          found = {
            at: [...at, key.slice(0, -2)],
            rest: wanted.slice(source.length),
          };
          return;
        }
      } else if (isObject(value)) walk(value, [...at, key]);
    }
  };
  walk(state.Parameters, []);
  if (!found) return undefined;
  const { at, rest } = found;
  return (input) => {
    let cur: unknown = input;
    for (const k of [...at, ...rest]) cur = isObject(cur) ? cur[k] : undefined;
    return typeof cur === 'number' && Number.isInteger(cur) && cur >= 1 ? cur : undefined;
  };
}

/**
 * The definition the engine runs: a deep copy with the two documented adjustments (see the
 * file comment). Nothing else changes.
 */
export function adaptForLocalEngine(definition: JsonObject): JsonObject {
  const copy = JSON.parse(JSON.stringify(definition)) as JsonObject;
  if (typeof copy.TimeoutSeconds === 'number' && copy.TimeoutSeconds > MAX_ENGINE_TIMEOUT_SECONDS) copy.TimeoutSeconds = MAX_ENGINE_TIMEOUT_SECONDS;
  for (const { state } of collectTaskStates(copy)) {
    if (typeof state.TimeoutSecondsPath === 'string') {
      delete state.TimeoutSecondsPath;
      state.TimeoutSeconds = MAX_ENGINE_TIMEOUT_SECONDS;
    } else if (typeof state.TimeoutSeconds === 'number' && state.TimeoutSeconds > MAX_ENGINE_TIMEOUT_SECONDS) {
      state.TimeoutSeconds = MAX_ENGINE_TIMEOUT_SECONDS;
    }
  }
  return copy;
}

/** Names of every Wait state (top level and nested), to shorten them locally. */
export function collectWaitStates(definition: JsonObject): string[] {
  const states = definition.States;
  if (!isObject(states)) return [];
  const out: string[] = [];
  for (const [name, state] of Object.entries(states)) {
    if (!isObject(state)) continue;
    if (state.Type === 'Wait') out.push(name);
    const processor = state.ItemProcessor ?? state.Iterator;
    if (isObject(processor)) out.push(...collectWaitStates(processor));
  }
  return out;
}

/** Names of every state with a Retry field, to shorten retry intervals locally. */
export function collectRetryStates(definition: JsonObject): string[] {
  const states = definition.States;
  if (!isObject(states)) return [];
  const out: string[] = [];
  for (const [name, state] of Object.entries(states)) {
    if (!isObject(state)) continue;
    if (Array.isArray(state.Retry)) out.push(name);
    const processor = state.ItemProcessor ?? state.Iterator;
    if (isObject(processor)) out.push(...collectRetryStates(processor));
  }
  return out;
}
