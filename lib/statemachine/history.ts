/**
 * What an execution would cost and weigh in AWS, read from the local engine's event log. The
 * local engine counts history with it while an execution runs; the benchmark reports it.
 *
 * - Transitions: Step Functions bills every state entered, inside Map iterations too, and every
 *   retry attempt, and one more for each child execution a Distributed Map starts. So: one per
 *   `StateEntered`, one per `StateRetried`, one per Distributed Map iteration.
 * - History events: AWS fails a Standard execution at 25,000 events. The local log is not AWS's
 *   history, so each local event is mapped to the events AWS writes for it
 *   ({@link AWS_HISTORY_EVENTS}, the one place the mapping lives). A Map in DISTRIBUTED mode
 *   runs each iteration as a child execution with its own history; the figure that matters is
 *   the largest single history, the max over the parent and its children.
 *
 * The estimator only needs the event log and the definition (to tell Task kinds and Map modes
 * apart), so it keeps working when the definition is restructured.
 */
import { AWS_LIMITS } from '../domain/aws-limits';
import { allStates } from './definition';

/** One event of the local engine's log (see lib/local/engine.ts). */
export interface HistoryEvent {
  type: string;
  timestamp: number;
  [key: string]: unknown;
}

/**
 * Where the local engine's stand-in of a Distributed Map's ItemReader keeps the items; AWS keeps
 * them in S3, so payload sizes leave the field out.
 */
export const LOCAL_ITEMS_FIELD = 'localItems';

/** The AWS price of one state transition, in US dollars (Standard workflows). */
export const USD_PER_TRANSITION = 0.025 / 1000;

/** A Distributed Map is billed one transition for each child execution it starts (an inline iteration is not). */
export const TRANSITIONS_PER_CHILD_EXECUTION = 1;

/** The history-event limit of one Standard execution. */
export const AWS_HISTORY_LIMIT = AWS_LIMITS.historyEvents;

/** The payload limit of one state's input or output, in bytes. */
export const AWS_PAYLOAD_LIMIT_BYTES = AWS_LIMITS.statePayloadBytes;

/**
 * AWS history events written per local event, by state kind. Sources: the execution history
 * of Standard workflows (event types of GetExecutionHistory).
 */
export const AWS_HISTORY_EVENTS = {
  /** ExecutionStarted + ExecutionSucceeded | ExecutionFailed | ExecutionAborted. */
  execution: 2,
  /** {Pass,Choice,Wait,Succeed}StateEntered + ...StateExited. */
  simpleState: 2,
  /** FailStateEntered; the ExecutionFailed that follows is counted with the execution. */
  failState: 1,
  /** TaskStateEntered, TaskScheduled, TaskStarted, TaskSucceeded | TaskFailed, TaskStateExited. */
  task: 5,
  /** A `.sync` or `.waitForTaskToken` task also writes TaskSubmitted. */
  taskSubmitted: 1,
  /** Each retry of a task: TaskFailed, then TaskScheduled and TaskStarted again (and TaskSubmitted for `.sync`/token). */
  taskRetry: 3,
  /** Inline Map: MapStateEntered, MapStateStarted, MapStateSucceeded, MapStateExited. Distributed: MapRunStarted/Succeeded in place of the middle two. */
  mapState: 4,
  /** Inline Map iteration: MapIterationStarted + MapIterationSucceeded | MapIterationFailed. */
  mapIteration: 2,
  /** Parallel: ParallelStateEntered, ParallelStateStarted, ParallelStateSucceeded, ParallelStateExited. */
  parallelState: 4,
} as const;

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

interface StateInfo {
  type: string;
  /** `.sync` or `.waitForTaskToken` task. */
  submitted: boolean;
  /** A Map whose iterations run as child executions. */
  distributed: boolean;
}

/** Every state of a definition by name, nested ones included (the first of a duplicated name wins). */
function stateIndex(definition: Json): Map<string, StateInfo> {
  const index = new Map<string, StateInfo>();
  for (const [name, state] of allStates(definition)) {
    if (index.has(name)) continue;
    const processor = isObject(state.ItemProcessor) ? state.ItemProcessor : isObject(state.Iterator) ? state.Iterator : undefined;
    const mode = processor && isObject(processor.ProcessorConfig) ? processor.ProcessorConfig.Mode : undefined;
    const resource = typeof state.Resource === 'string' ? state.Resource : '';
    index.set(name, { type: String(state.Type), submitted: /\.(sync(:2)?|waitForTaskToken)$/.test(resource), distributed: mode === 'DISTRIBUTED' });
  }
  return index;
}

function eventsOnEntry(info: StateInfo | undefined, fallbackType: string): number {
  switch (info?.type ?? fallbackType) {
    case 'Task':
      return AWS_HISTORY_EVENTS.task + (info?.submitted ? AWS_HISTORY_EVENTS.taskSubmitted : 0);
    case 'Map':
      return AWS_HISTORY_EVENTS.mapState;
    case 'Parallel':
      return AWS_HISTORY_EVENTS.parallelState;
    case 'Fail':
      return AWS_HISTORY_EVENTS.failState;
    default:
      return AWS_HISTORY_EVENTS.simpleState;
  }
}

/** What {@link estimateExecution} found. */
export interface ExecutionEstimate {
  /** Billed state transitions over the parent and all its children. */
  transitions: number;
  /** Estimated AWS history events of the largest single execution (parent or child). */
  historyEvents: number;
  /** The parent's estimated history events. */
  parentHistoryEvents: number;
  /** Child executions (Distributed Map iterations) and the largest child's history events. */
  childExecutions: number;
  largestChildHistoryEvents: number;
  /** StateEntered events counted per state name. */
  entriesByState: Record<string, number>;
}

/**
 * Counts, event by event, the transitions and AWS history events of one execution, so the local
 * engine can stop an execution at AWS's history limit while it runs.
 *
 * Events of Map iterations carry their iteration index; they belong to the Map that the parent
 * last entered (top-level states run one at a time in this definition, and nested Maps are
 * attributed to their outer iteration).
 */
export class HistoryCounter {
  private readonly index: Map<string, StateInfo>;
  transitions = 0;
  parent: number = AWS_HISTORY_EVENTS.execution;
  readonly children = new Map<string, number>();
  readonly entriesByState: Record<string, number> = {};
  private activeMap: { name: string; distributed: boolean } | undefined;
  private largest: { key?: string; events: number } = { events: 0 };

  constructor(definition: Json) {
    this.index = stateIndex(definition);
  }

  /** The largest child execution's history so far, and which one it is. */
  largestChild(): { key?: string; events: number } {
    return this.largest;
  }

  private addToChild(key: string, n: number): void {
    const events = (this.children.get(key) ?? 0) + n;
    this.children.set(key, events);
    if (events > this.largest.events) this.largest = { key, events };
  }

  /** Counts one event of the local log. */
  add(e: HistoryEvent): void {
    const state = isObject(e.state) ? e.state : undefined;
    const name = typeof state?.name === 'string' ? state.name : '';
    const info = this.index.get(name);
    const nested = typeof e.index === 'number';
    const childKey = nested && this.activeMap?.distributed ? `${this.activeMap.name}#${String(e.index)}` : undefined;
    const add = (n: number): void => {
      if (childKey) this.addToChild(childKey, n);
      else this.parent += n;
    };
    // A state the definition does not have is the local engine's own (a Distributed Map's local
    // ItemReader stand-in, see lib/local/definition.ts): AWS writes nothing for it.
    if (name && !info && (e.type === 'StateEntered' || e.type === 'StateRetried')) return;
    switch (e.type) {
      case 'StateEntered':
        this.transitions++;
        this.entriesByState[name] = (this.entriesByState[name] ?? 0) + 1;
        add(eventsOnEntry(info, typeof state?.type === 'string' ? state.type : ''));
        if (!nested && (info?.type ?? state?.type) === 'Map') this.activeMap = { name, distributed: info?.distributed ?? false };
        break;
      case 'StateRetried':
        this.transitions++;
        add(AWS_HISTORY_EVENTS.taskRetry + (info?.submitted ? AWS_HISTORY_EVENTS.taskSubmitted : 0));
        break;
      case 'MapIterationStarted': {
        const parentState = isObject(e.parentState) ? e.parentState : undefined;
        const mapName = typeof parentState?.name === 'string' ? parentState.name : (this.activeMap?.name ?? '');
        const distributed = this.index.get(mapName)?.distributed ?? false;
        if (distributed) {
          this.addToChild(`${mapName}#${String(e.index)}`, AWS_HISTORY_EVENTS.execution);
          this.transitions += TRANSITIONS_PER_CHILD_EXECUTION;
        } else this.parent += AWS_HISTORY_EVENTS.mapIteration;
        break;
      }
      default:
        // Exits, failures, catches and iteration ends are counted with the entry that opened them.
        break;
    }
  }

  /** The figures so far. */
  estimate(): ExecutionEstimate {
    const largestChild = this.largestChild().events;
    return {
      transitions: this.transitions,
      historyEvents: Math.max(this.parent, largestChild),
      parentHistoryEvents: this.parent,
      childExecutions: this.children.size,
      largestChildHistoryEvents: largestChild,
      entriesByState: { ...this.entriesByState },
    };
  }
}

/** Estimates transitions and history events of one execution from its local event log. */
export function estimateExecution(events: readonly HistoryEvent[], definition: Json): ExecutionEstimate {
  const counter = new HistoryCounter(definition);
  for (const e of events) counter.add(e);
  return counter.estimate();
}

/** The cost in US dollars of a number of transitions. */
export function costUsd(transitions: number): number {
  return transitions * USD_PER_TRANSITION;
}

/**
 * The largest state input or output in the log, in bytes of JSON (what the 256 KiB limit
 * counts). The items the local engine keeps in `$.localItems` for its stand-in of a Distributed
 * Map's ItemReader are left out: in AWS they stay in S3.
 */
export function largestPayloadBytes(events: readonly HistoryEvent[]): number {
  let largest = 0;
  const seen = new WeakSet<object>();
  const measure = (v: unknown): void => {
    if (v === undefined) return;
    if (typeof v === 'object' && v !== null) {
      // Iteration events share their Map's input object: measure each object once.
      if (seen.has(v)) return;
      seen.add(v);
    }
    const inAws = isObject(v) && LOCAL_ITEMS_FIELD in v ? { ...v, [LOCAL_ITEMS_FIELD]: undefined } : v;
    largest = Math.max(largest, Buffer.byteLength(JSON.stringify(inAws)));
  };
  for (const e of events) {
    if (!isObject(e.state)) continue;
    if (e.type === 'StateEntered') measure(e.state.input);
    if (e.type === 'StateExited') measure(e.state.output);
  }
  return largest;
}
