/** Failures that end a runner with a specific exit code (see EXIT in the runner contract). */
import { EXIT } from '../domain/runner-contract';

/** An input or policy check refused the task: exit {@link EXIT.REFUSED}, nothing ran. */
export class RefusedError extends Error {
  override name = 'RefusedError';
  readonly exitCode = EXIT.REFUSED;
}

/** git, storage or credentials failed: exit {@link EXIT.INFRA}, safe to retry. */
export class InfraError extends Error {
  override name = 'InfraError';
  readonly exitCode = EXIT.INFRA;
}
