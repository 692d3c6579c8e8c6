import { TfstepError } from '../config/errors';

/** Base class of the pipeline function's known errors. The state machine catches them and fails the run. */
export class PipelineError extends TfstepError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PipelineError';
  }
}

/** A payload that is not one of the shapes in lib/statemachine/contracts.ts. */
export class InvalidRequestError extends PipelineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InvalidRequestError';
  }
}

/** A push for a repository (or branch) the config does not deploy. */
export class UnknownRepositoryError extends PipelineError {
  constructor(message: string) {
    super(message);
    this.name = 'UnknownRepositoryError';
  }
}

/** The run lost its branch (taken over as stale while the execution was stopped): it must not go on. */
export class LockLostError extends PipelineError {
  constructor(
    readonly execution: string,
    holder: string | undefined,
  ) {
    super(`run ${execution} no longer holds its branch (${holder ? `held by ${holder}` : 'free'}); start a new run with tfstep replay ${execution}`);
    this.name = 'LockLostError';
  }
}

/** A run that already ended was asked to start again (a redrive of a finished run). */
export class RunAlreadyFinishedError extends PipelineError {
  constructor(execution: string, status: string) {
    super(`run ${execution} already ended as ${status}; replay it as a new execution with tfstep replay ${execution}`);
    this.name = 'RunAlreadyFinishedError';
  }
}

/**
 * A run asked to start a runner task without holding its branch at the lease generation it was
 * admitted with: it was aborted, superseded or replayed, or its lease was taken over. Never retried.
 */
export class LeaseLostError extends PipelineError {
  constructor(
    readonly execution: string,
    readonly account: string,
    why: string,
  ) {
    super(`run ${execution} may not start a task in account ${account}: ${why}; nothing was started`);
    this.name = 'LeaseLostError';
  }
}
