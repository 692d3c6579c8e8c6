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
