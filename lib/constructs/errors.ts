import { TfstepError } from '../config/errors';

/**
 * Base class of the CDK app's errors: a config or props the stacks cannot be built from. The
 * message names the construct path, what arrived and what was expected.
 */
export class CdkAppError extends TfstepError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CdkAppError';
  }
}

/** Construct props that break a rule of the construct (every problem listed at once). */
export class InvalidPropsError extends CdkAppError {
  constructor(
    readonly constructPath: string,
    readonly problems: readonly string[],
  ) {
    super(`${constructPath}: ${problems.join('; ')}`);
    this.name = 'InvalidPropsError';
  }
}

/** A config the app cannot deploy, although it passed the schema (too large, ids reused). */
export class UndeployableConfigError extends CdkAppError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UndeployableConfigError';
  }
}
