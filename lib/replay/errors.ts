import { TfstepError } from '../config/errors';

/** Base class of replay errors. */
export class ReplayError extends TfstepError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ReplayError';
  }
}

/** The execution cannot be replayed now (still running, succeeded, unknown). */
export class ReplayRefusedError extends ReplayError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ReplayRefusedError';
  }
}

/** The execution argument is neither an execution name nor an ARN. */
export class InvalidExecutionNameError extends ReplayError {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidExecutionNameError';
  }
}
