/**
 * Replaying a run that did not succeed. A redrive (same ARN, same input and definition) reruns
 * only the states and Map iterations that failed or were aborted ("Restarting state machine
 * executions with redrive in Step Functions",
 * https://docs.aws.amazon.com/step-functions/latest/dg/redrive-executions.html). `tfstep replay`
 * redrives only where that can succeed:
 * - the execution failed, timed out or was aborted less than 14 days ago, was opened less than a
 *   year ago, and Step Functions does not call it NOT_REDRIVABLE (history limit and the like);
 * - it did not end in one of its own Fail states: a redrive re-enters the Fail state and fails
 *   again. Every run that reached `Finish` ends in one (`Failed`, `Rejected`, `Expired`, or
 *   `FinishFailed` when `Finish` itself failed);
 * - it did not fail with an error that the same state and input raise again
 *   (States.DataLimitExceeded, States.Runtime);
 * - no account's failure was caught: the pipeline catches every account's error inside its Map
 *   iteration and records it, so such an iteration succeeded and a redrive would not run it again;
 * - the definition has not changed, and the run still holds its branch.
 * A timed-out execution can be redriven: the redrive resets the state machine's timeout.
 * Otherwise the replay is a new execution with the original input and a name linking back
 * (`<original>-replay-<n>`), marked with `tfstep.replayOf` so `admit` lets it carry the push
 * again. Either way, targets already applied at that commit are skipped by the planner
 * (invariant 3), and a replay of a push that a newer one already deployed is superseded.
 */
import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  DescribeStateMachineForExecutionCommand,
  GetExecutionHistoryCommand,
  RedriveExecutionCommand,
  StartExecutionCommand,
  type DescribeExecutionCommandOutput,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { REPLAY_FIELD } from '../pipeline/push';
import { InvalidExecutionNameError, ReplayError, ReplayRefusedError } from './errors';

/** Step Functions redrives executions that stopped at most this long ago. */
export const REDRIVE_WINDOW_DAYS = 14;
/** Step Functions redrives no execution opened longer than a year ago (its maximum open time). */
export const MAX_OPEN_DAYS = 365;
/** Errors a redrive of the same state, with the same input and definition, raises again. */
export const DETERMINISTIC_ERRORS: readonly string[] = ['States.DataLimitExceeded', 'States.Runtime'];
/** Execution names are at most this long. */
export const MAX_EXECUTION_NAME = 80;

/** What a replay does. */
export interface ReplayPlan {
  readonly action: 'redrive' | 'start';
  /** The execution replayed. */
  readonly executionArn: string;
  readonly execution: string;
  readonly status: string;
  /** Why this action: readable, for the CLI. */
  readonly reason: string;
  /** For `start`: the new execution's first candidate name and its input. */
  readonly newExecutionName?: string;
  readonly input?: string;
}

/** What a replay did. */
export interface ReplayOutcome extends ReplayPlan {
  readonly dryRun: boolean;
  /** The execution that now runs (the same ARN for a redrive). */
  readonly startedExecutionArn?: string;
}

/** Options of {@link replayExecution}. */
export interface ReplayOptions {
  /** An execution name or ARN. */
  readonly execution: string;
  /** The pipeline state machine, to turn a name into an ARN. */
  readonly stateMachineArn: string;
  readonly dryRun?: boolean;
  /** @default () => new Date() */
  readonly now?: () => Date;
  /**
   * Whether the execution still holds its branch in the run table. A redrive continues where the
   * run stopped without going through `admit` again, so it is only safe while the run holds its
   * branch; otherwise a new execution queues like any push.
   */
  readonly holdsBranch?: (execution: string) => Promise<boolean>;
  /**
   * The accounts whose failure the run caught and recorded. Their Map iterations succeeded, so a
   * redrive would not run them again: a run with any of them is started again instead.
   */
  readonly caughtFailures?: (execution: string) => Promise<readonly string[]>;
}

/** How an execution ended, from the last events of its history. */
export interface ExecutionEnd {
  /** The Fail state it ended in, if it ended in one. */
  failState?: string;
  error?: string;
  cause?: string;
}

/** Reads the last events of an execution's history: its terminal event and the state before it. */
export async function executionEnd(sfn: SFNClient, executionArn: string): Promise<ExecutionEnd> {
  const res = await sfn.send(new GetExecutionHistoryCommand({ executionArn, reverseOrder: true, maxResults: 20, includeExecutionData: false }));
  const events = res.events ?? [];
  const terminal = events.find((e) => e.type === 'ExecutionFailed' || e.type === 'ExecutionAborted' || e.type === 'ExecutionTimedOut');
  if (!terminal) return {};
  const details = terminal.executionFailedEventDetails ?? terminal.executionAbortedEventDetails ?? terminal.executionTimedOutEventDetails;
  const before = events.find((e) => e.id === terminal.previousEventId);
  return {
    failState: before?.type === 'FailStateEntered' ? (before.stateEnteredEventDetails?.name ?? 'a Fail state') : undefined,
    error: details?.error,
    cause: details?.cause,
  };
}

const NAME = /^[A-Za-z0-9_-]{1,80}$/;

/** The execution ARN for a name (or the ARN itself). */
export function executionArnOf(execution: string, stateMachineArn: string): string {
  if (execution.startsWith('arn:')) return execution;
  if (!NAME.test(execution)) throw new InvalidExecutionNameError(`"${execution}" is not an execution name or ARN; expected letters, digits, "-" and "_" (at most 80)`);
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${execution}`;
}

/**
 * The name of the n-th replay of an execution: `<original>-replay-<n>`, the original cut so the
 * whole stays within 80 characters. A replay of a replay counts on from the same original.
 */
export function replayName(execution: string, n: number): string {
  const original = execution.replace(/-replay-\d+$/, '');
  const suffix = `-replay-${n}`;
  return `${original.slice(0, MAX_EXECUTION_NAME - suffix.length)}${suffix}`;
}

/** The first replay number to try after `execution` (a replay's own number plus one). */
function firstReplayNumber(execution: string): number {
  const m = /-replay-(\d+)$/.exec(execution);
  return m ? Number(m[1]) + 1 : 1;
}

/** The original input with the replay marker set. */
export function replayInput(originalInput: string | undefined, replayOf: string): string {
  let input: unknown;
  try {
    input = JSON.parse(originalInput ?? '');
  } catch (err) {
    throw new ReplayError(`the execution's input is not JSON; cannot start it again`, { cause: err });
  }
  if (!input || typeof input !== 'object' || Array.isArray(input)) throw new ReplayError(`the execution's input is not a JSON object; cannot start it again`);
  return JSON.stringify({ ...(input as Record<string, unknown>), [REPLAY_FIELD]: { replayOf } });
}

async function describe(sfn: SFNClient, executionArn: string): Promise<DescribeExecutionCommandOutput> {
  try {
    return await sfn.send(new DescribeExecutionCommand({ executionArn }));
  } catch (err) {
    if ((err as { name?: string }).name === 'ExecutionDoesNotExist') throw new ReplayRefusedError(`execution ${executionArn} does not exist`, { cause: err });
    throw err;
  }
}

/** Why a redrive is not possible, or undefined when it is. */
async function redriveBlocker(sfn: SFNClient, ex: DescribeExecutionCommandOutput, opts: ReplayOptions): Promise<string | undefined> {
  const now = (opts.now ?? (() => new Date()))();
  if (!ex.stopDate) return 'the execution has no stop date';
  const ageDays = (now.getTime() - ex.stopDate.getTime()) / 86_400_000;
  if (ageDays > REDRIVE_WINDOW_DAYS) return `it stopped ${Math.floor(ageDays)} days ago, past the ${REDRIVE_WINDOW_DAYS}-day redrive window`;
  if (ex.startDate && (now.getTime() - ex.startDate.getTime()) / 86_400_000 > MAX_OPEN_DAYS) return `it started more than ${MAX_OPEN_DAYS} days ago, past the longest an execution may stay open`;
  if (ex.redriveStatus === 'NOT_REDRIVABLE') return `Step Functions says it is not redrivable${ex.redriveStatusReason ? ` (${ex.redriveStatusReason})` : ''}`;
  if (ex.status === 'FAILED') {
    const end = await executionEnd(sfn, ex.executionArn!);
    if (end.failState) return `it ended in its Fail state ${end.failState}${end.error ? ` (${end.error})` : ''}; a redrive re-enters that state and fails again`;
    const error = end.error ?? ex.error;
    if (error && DETERMINISTIC_ERRORS.includes(error)) return `it failed with ${error}, which the same state and input raise again on a redrive`;
  }
  const caught = opts.caughtFailures ? await opts.caughtFailures(ex.name ?? '') : [];
  if (caught.length > 0) {
    return `the failure of ${caught.join(', ')} was caught and recorded, so a redrive would not run ${caught.length === 1 ? 'it' : 'them'} again`;
  }
  const used = await sfn.send(new DescribeStateMachineForExecutionCommand({ executionArn: ex.executionArn }));
  const current = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: ex.stateMachineVersionArn ?? ex.stateMachineArn }));
  if (ex.stateMachineVersionArn === undefined) {
    // Unversioned: the execution used whatever the definition was then; compare it with now.
    if (used.definition !== current.definition) return 'the state machine definition changed since it ran';
  } else {
    const latest = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: ex.stateMachineArn }));
    if (latest.definition !== current.definition) return 'the state machine has a newer version than the one it ran';
  }
  if (opts.holdsBranch && !(await opts.holdsBranch(ex.name ?? ''))) {
    return 'the run no longer holds its branch (it finished, or a later run took the branch); a redrive would continue without it';
  }
  return undefined;
}

/** Works out what a replay does, without doing it. Refuses a running, pending or succeeded execution. */
export async function planReplay(sfn: SFNClient, opts: ReplayOptions): Promise<ReplayPlan> {
  const executionArn = executionArnOf(opts.execution, opts.stateMachineArn);
  const ex = await describe(sfn, executionArn);
  const status = ex.status ?? 'UNKNOWN';
  const execution = ex.name ?? executionArn.split(':').pop()!;
  if (status === 'RUNNING' || status === 'PENDING_REDRIVE') {
    throw new ReplayRefusedError(`execution ${execution} is still running (${status}); wait for it to end, or stop it first`);
  }
  if (status === 'SUCCEEDED') throw new ReplayRefusedError(`execution ${execution} succeeded; there is nothing to replay`);
  if (!['FAILED', 'TIMED_OUT', 'ABORTED'].includes(status)) throw new ReplayRefusedError(`execution ${execution} is ${status}; only FAILED, TIMED_OUT and ABORTED executions are replayed`);

  const blocker = await redriveBlocker(sfn, { ...ex, executionArn }, opts);
  if (!blocker) {
    return {
      action: 'redrive',
      executionArn,
      execution,
      status,
      reason: `${status} less than ${REDRIVE_WINDOW_DAYS} days ago, outside any Fail state, with an unchanged definition and its branch held: redrive it (only what failed or was stopped runs again)`,
    };
  }
  const newExecutionName = replayName(execution, firstReplayNumber(execution));
  return {
    action: 'start',
    executionArn,
    execution,
    status,
    reason: `cannot redrive: ${blocker}; start a new execution with the original input`,
    newExecutionName,
    input: replayInput(ex.input, execution),
  };
}

/** Replays an execution: redrives it when possible, else starts a new one (see the module doc). */
export async function replayExecution(sfn: SFNClient, opts: ReplayOptions): Promise<ReplayOutcome> {
  const plan = await planReplay(sfn, opts);
  if (opts.dryRun) return { ...plan, dryRun: true };
  if (plan.action === 'redrive') {
    await sfn.send(new RedriveExecutionCommand({ executionArn: plan.executionArn }));
    return { ...plan, dryRun: false, startedExecutionArn: plan.executionArn };
  }
  const ex = await describe(sfn, plan.executionArn);
  const stateMachineArn = ex.stateMachineArn ?? opts.stateMachineArn;
  // Names are unique for 90 days: count on past replays that already used a number.
  for (let n = firstReplayNumber(plan.execution), tries = 0; tries < 50; n++, tries++) {
    const name = replayName(plan.execution, n);
    try {
      const res = await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: plan.input }));
      return { ...plan, newExecutionName: name, dryRun: false, startedExecutionArn: res.executionArn };
    } catch (err) {
      if ((err as { name?: string }).name !== 'ExecutionAlreadyExists') throw err;
    }
  }
  throw new ReplayError(`could not find a free replay name for ${plan.execution} after 50 tries`);
}
