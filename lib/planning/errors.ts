import { TfstepError } from '../config/errors';

/** Base class of errors raised while working out what a push deploys. */
export class PlanningError extends TfstepError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PlanningError';
  }
}

/** A module directory whose name the runner contract cannot carry. */
export class InvalidModulePathError extends PlanningError {
  constructor(
    readonly modulePath: string,
    reason: string,
  ) {
    super(`module directory "${modulePath}" cannot be deployed: ${reason}; rename it to letters, digits, ".", "_", "-" and "/"`);
    this.name = 'InvalidModulePathError';
  }
}

/** The repository could not be read (git failed, or the git host answered with an error). */
export class RepoReadError extends PlanningError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RepoReadError';
  }
}

/** The module dependencies are wrong: a cycle, a path that is no module, a module of another account. */
export class DependencyGraphError extends PlanningError {
  constructor(readonly problems: readonly string[]) {
    super(`the module dependencies cannot be used (${problems.length} problem${problems.length === 1 ? '' : 's'}): ${problems.join('; ')}`);
    this.name = 'DependencyGraphError';
  }
}
