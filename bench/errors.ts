/**
 * Errors of the benchmark harness. {@link BenchInputError} is bad input (a size or an option
 * that makes no sense); {@link BenchRunError} means a measured run did not end as it must for its
 * figures to mean anything, so no figure is reported for it.
 */
import { TfstepError } from '../lib/config/errors';

/** Base class of the benchmark's errors. */
export class BenchError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BenchError';
  }
}

/** An option or size the benchmark cannot run with. */
export class BenchInputError extends TfstepError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BenchInputError';
  }
}

/** A measured execution ended otherwise than SUCCEEDED, or stopped making progress. */
export class BenchRunError extends BenchError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BenchRunError';
  }
}
