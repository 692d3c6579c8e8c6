/**
 * The pipeline definition as the local mode runs it: the real statemachines/pipeline.asl.json,
 * rendered with local values by the same {@link renderDefinition} CDK's substitutions mirror.
 *
 * Four engine limits of aws-local-stepfunctions 3.0.0 are worked around here, and only these:
 * - it does not know HeartbeatSeconds: the field is left out here, and the local handler of a
 *   `.waitForTaskToken` state enforces it (lib/local/engine/task-tokens.ts);
 * - it arms timeouts with one `setTimeout`, which fires at once above 2^31-1 ms (24.8 days), so
 *   the 30-day execution timeout is lowered to what a timer can hold;
 * - it evaluates `TimeoutSecondsPath` against the task's effective input (after `Parameters`)
 *   instead of the state input, where the path points to nothing and the state fails. Such
 *   states get the longest timer here; {@link compileTimeoutResolver} finds the same value in the
 *   effective input and the local task handler enforces it, raising `States.Timeout` as AWS does;
 * - it has no Distributed Map: it ignores `ItemReader` and `ResultWriter` and runs every Map
 *   inline. Each Distributed Map here becomes three states: `<Map>ReadItems`, a Task whose local
 *   handler reads the ItemReader's object from the artifacts folder into `$.localItems`; the Map
 *   itself, inline over `$.localItems` with the same ItemSelector, concurrency, ItemProcessor
 *   and Catch; and `<Map>DropItems`, a Pass that sets `$.localItems` to an empty list again. The iterations
 *   run the real ItemProcessor states; what AWS adds (a child execution per item, results
 *   written to S3) is left out, and the benchmark's estimator counts it separately.
 */
import { names } from '../../domain/names';
import { allStates, readPipelineDefinition, readPlanOnlyDefinition, renderDefinition, type PipelineSubstitutions } from '../../statemachine/definition';
import { LOCAL_ITEMS_FIELD } from '../../statemachine/history';
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

/** Renders the plan-only definition with the same local values (it has no approval function). */
export function renderLocalPlanOnlyDefinition(subs: PipelineSubstitutions, text = readPlanOnlyDefinition()): JsonObject {
  const { ApprovalFunctionArn: _approval, ...rest } = subs;
  return JSON.parse(renderDefinition(text, { ...rest })) as JsonObject;
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

/** Where the local stand-in of an ItemReader puts the items (AWS never puts them in the state). */
export { LOCAL_ITEMS_FIELD };

/** The name of the Task state that reads a Distributed Map's items locally. */
export const itemReaderStateName = (mapName: string): string => `${mapName}ReadItems`;

/** A top-level Distributed Map with an ItemReader. */
export interface DistributedMapRef {
  name: string;
  state: JsonObject;
  reader: JsonObject;
}

/** The Distributed Maps with an ItemReader at the top level of a definition. */
export function collectDistributedMaps(definition: JsonObject): DistributedMapRef[] {
  const states = isObject(definition.States) ? definition.States : {};
  const out: DistributedMapRef[] = [];
  for (const [name, state] of Object.entries(states)) {
    if (!isObject(state) || state.Type !== 'Map' || !isObject(state.ItemReader)) continue;
    const processor = isObject(state.ItemProcessor) ? state.ItemProcessor : {};
    if (!isObject(processor.ProcessorConfig) || processor.ProcessorConfig.Mode !== 'DISTRIBUTED') continue;
    out.push({ name, state, reader: state.ItemReader });
  }
  return out;
}

function inlineDistributedMaps(copy: JsonObject): void {
  const states = copy.States as JsonObject;
  for (const { name, state, reader } of collectDistributedMaps(copy)) {
    const readName = itemReaderStateName(name);
    const dropName = `${name}DropItems`;
    if (readName in states || dropName in states) throw new LocalEngineError(`state ${name}: the local mode needs the names ${readName} and ${dropName} for itself`);
    const redirect = (s: unknown): void => {
      if (!isObject(s)) return;
      if (s.Next === name) s.Next = readName;
      if (s.Default === name) s.Default = readName;
      const branches: unknown[] = [...(Array.isArray(s.Choices) ? (s.Choices as unknown[]) : []), ...(Array.isArray(s.Catch) ? (s.Catch as unknown[]) : [])];
      for (const c of branches) if (isObject(c) && c.Next === name) c.Next = readName;
    };
    Object.values(states).forEach(redirect);
    if (copy.StartAt === name) copy.StartAt = readName;
    states[readName] = {
      Type: 'Task',
      Comment: `the local stand-in of ${name}'s ItemReader`,
      Resource: reader.Resource,
      Parameters: reader.Parameters,
      ResultPath: `$.${LOCAL_ITEMS_FIELD}`,
      TimeoutSeconds: 60,
      ...(Array.isArray(state.Catch) ? { Catch: state.Catch } : {}),
      Next: name,
    };
    // An empty list, not null: the engine reads `Result: null` as no Result and would copy the whole input there.
    states[dropName] = { Type: 'Pass', Result: [], ResultPath: `$.${LOCAL_ITEMS_FIELD}`, ...(state.End === true ? { End: true } : { Next: state.Next }) };
    const { ItemReader: _reader, ResultWriter: _writer, Label: _label, End: _end, Next: _next, ...rest } = state;
    const processor = { ...(rest.ItemProcessor as JsonObject), ProcessorConfig: { Mode: 'INLINE' } };
    states[name] = { ...rest, ItemsPath: `$.${LOCAL_ITEMS_FIELD}`, ItemProcessor: processor, Next: dropName };
  }
}

/**
 * The definition the engine runs: a deep copy with the four documented adjustments (see the
 * file comment). Nothing else changes.
 */
export function adaptForLocalEngine(definition: JsonObject): JsonObject {
  const copy = JSON.parse(JSON.stringify(definition)) as JsonObject;
  inlineDistributedMaps(copy);
  if (typeof copy.TimeoutSeconds === 'number' && copy.TimeoutSeconds > MAX_ENGINE_TIMEOUT_SECONDS) copy.TimeoutSeconds = MAX_ENGINE_TIMEOUT_SECONDS;
  for (const { state } of collectTaskStates(copy)) {
    delete state.HeartbeatSeconds;
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
  return allStates(definition)
    .filter(([, state]) => state.Type === 'Wait')
    .map(([name]) => name);
}

/** Names of every state with a Retry field, to shorten retry intervals locally. */
export function collectRetryStates(definition: JsonObject): string[] {
  return allStates(definition)
    .filter(([, state]) => Array.isArray(state.Retry))
    .map(([name]) => name);
}
