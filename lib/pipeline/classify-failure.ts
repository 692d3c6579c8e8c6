/**
 * `classify-failure`: decides whether a failed runner task is tried again. Only an
 * infrastructure failure is: the runner's exit code 4 (git, storage, credentials) or a task
 * that never started (capacity, image pull, ENI). A Terraform failure (1), a refusal (3) or an
 * interruption (5: the task was stopped and terraform stopped gracefully) is never retried: running it again would do the same thing, or worse, half of it again.
 */
import type { z } from 'zod';
import { names } from '../domain/names';
import { EXIT } from '../domain/runner-contract';
import type { ClassifyFailureRequestSchema, ClassifyFailureResultSchema } from '../statemachine/contracts';

export type ClassifyFailureRequest = z.infer<typeof ClassifyFailureRequestSchema>;
export type ClassifyFailureResult = z.infer<typeof ClassifyFailureResultSchema>;

/** Attempts per account task in all, the first included. */
export const MAX_TASK_ATTEMPTS = 3;
/** Delay before the first retry; doubles each time. */
export const FIRST_RETRY_DELAY_SECONDS = 30;

type Json = Record<string, unknown>;

/** Reads `Key` or `key`: Step Functions spells the ECS task description in PascalCase, the SDK in camelCase. */
function field(o: Json, key: string): unknown {
  return o[key] ?? o[key.charAt(0).toLowerCase() + key.slice(1)];
}

/** What a task description says about how the task ended. */
export interface TaskEnd {
  /** The runner container's exit code, if it ran and exited. */
  readonly exitCode: number | null;
  /** True when no container ever ran. */
  readonly neverStarted: boolean;
  readonly stoppedReason?: string;
}

const START_FAILURES = /CannotPullContainerError|ResourceInitializationError|CannotStartContainerError|TaskFailedToStart|ResourceNotFoundException|not enough|capacity|ENI|Timeout waiting for network interface/i;

/** Reads a task description (the `Cause` of a failed `ecs:runTask.sync`); undefined when it is not one. */
export function readTaskEnd(cause: string | undefined): TaskEnd | undefined {
  if (!cause) return undefined;
  let task: unknown;
  try {
    task = JSON.parse(cause);
  } catch {
    return undefined;
  }
  if (!task || typeof task !== 'object') return undefined;
  const t = task as Json;
  const containers = field(t, 'Containers');
  if (!Array.isArray(containers)) return undefined;
  const list = containers.filter((c): c is Json => !!c && typeof c === 'object');
  const runner = list.find((c) => field(c, 'Name') === names.runnerContainer()) ?? (list.length === 1 ? list[0] : undefined);
  const code = runner ? field(runner, 'ExitCode') : undefined;
  const exitCode = typeof code === 'number' ? code : null;
  const stopCode = field(t, 'StopCode');
  const stoppedReason = typeof field(t, 'StoppedReason') === 'string' ? (field(t, 'StoppedReason') as string) : undefined;
  const anyExited = list.some((c) => typeof field(c, 'ExitCode') === 'number');
  const neverStarted = !anyExited && (stopCode === 'TaskFailedToStart' || START_FAILURES.test(stoppedReason ?? '') || list.every((c) => field(c, 'ExitCode') === undefined));
  return { exitCode, neverStarted, stoppedReason };
}

/** Runs the classify-failure action. */
export function classifyFailure(req: ClassifyFailureRequest): ClassifyFailureResult {
  const end = readTaskEnd(req.error.Cause);
  const exitCode = end?.exitCode ?? null;
  const nextAttempt = req.attempt + 1;
  const delaySeconds = FIRST_RETRY_DELAY_SECONDS * 2 ** req.attempt;
  const account = req.account.name;

  let retryable: boolean;
  let kind: ClassifyFailureResult['kind'];
  let why: string;
  if (req.error.Error === 'States.Timeout') {
    retryable = false;
    kind = 'timeout';
    why = `the runner task in ${account} ran past its ${req.account.timeoutSeconds}s timeout`;
  } else if (end && exitCode === EXIT.INFRA) {
    retryable = true;
    kind = 'infra';
    why = `the runner in ${account} hit an infrastructure failure (exit code ${EXIT.INFRA})`;
  } else if (end && exitCode === EXIT.TERRAFORM) {
    retryable = false;
    kind = 'terraform';
    why = `terraform failed in ${account} (exit code ${EXIT.TERRAFORM})`;
  } else if (end && exitCode === EXIT.REFUSED) {
    retryable = false;
    kind = 'refused';
    why = `the runner in ${account} refused the task (exit code ${EXIT.REFUSED})`;
  } else if (end && exitCode === EXIT.INTERRUPTED) {
    // Stopped from outside (StopTask, Fargate retiring the task): an apply may have been cut
    // short half-way, so running the same task again on its own is not safe; a replay is.
    retryable = false;
    kind = 'interrupted';
    why = `the runner in ${account} was interrupted${end.stoppedReason ? ` (${end.stoppedReason})` : ''}: terraform stopped gracefully and released its lock; replay the run to finish`;
  } else if (end && exitCode !== null) {
    retryable = false;
    kind = 'other';
    why = `the runner in ${account} exited with code ${exitCode}`;
  } else if (end?.neverStarted || /^(ECS\.|AmazonECS\.)/.test(req.error.Error)) {
    retryable = true;
    kind = 'never-started';
    why = `the runner task in ${account} never started (${end?.stoppedReason ?? req.error.Error})`;
  } else {
    retryable = false;
    kind = 'other';
    why = `the runner task in ${account} failed: ${req.error.Error}`;
  }
  if (retryable && nextAttempt >= MAX_TASK_ATTEMPTS) {
    return { retry: false, kind, delaySeconds: 0, exitCode, reason: `${why}; gave up after ${MAX_TASK_ATTEMPTS} attempts` };
  }
  return retryable
    ? { retry: true, kind, delaySeconds, exitCode, reason: `${why}; attempt ${nextAttempt + 1} of ${MAX_TASK_ATTEMPTS} in ${delaySeconds}s` }
    : { retry: false, kind, delaySeconds: 0, exitCode, reason: why };
}
