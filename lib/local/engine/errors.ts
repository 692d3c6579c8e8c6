/**
 * Errors of the local mode. {@link LocalModeError} and its subclasses are the user's to fix
 * (exit code 2 through the CLI); {@link LocalEngineError} means the definition asks for
 * something the local engine cannot run.
 */
import { TfstepError } from '../../config/errors';

/** Base class of the local mode's bad-input errors. */
export class LocalModeError extends TfstepError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LocalModeError';
  }
}

/** The directory given as the repository is not a git repository. */
export class NotAGitRepositoryError extends LocalModeError {
  constructor(
    readonly dir: string,
    options?: { cause?: unknown },
  ) {
    super(`${dir} is not a git repository; expected the path of a local git repository (a folder with .git)`, options);
    this.name = 'NotAGitRepositoryError';
  }
}

/** A ref that does not exist in the repository. */
export class UnknownRefError extends LocalModeError {
  constructor(
    readonly ref: string,
    readonly dir: string,
  ) {
    super(`ref ${ref} does not exist in ${dir}; expected an existing branch ref such as refs/heads/main`);
    this.name = 'UnknownRefError';
  }
}

/** A commit SHA that does not exist in the repository (or is not on the ref). */
export class UnknownCommitError extends LocalModeError {
  constructor(
    readonly sha: string,
    readonly dir: string,
    detail = 'does not exist in',
  ) {
    super(`commit ${sha} ${detail} ${dir}; expected a full 40-character SHA of a commit in the repository`);
    this.name = 'UnknownCommitError';
  }
}

/** Another tfstep process holds the state directory (its DynamoDB files are single-writer). */
export class StateDirLockedError extends LocalModeError {
  constructor(
    readonly stateDir: string,
    readonly pid: number,
  ) {
    super(
      `the state directory ${stateDir} is in use by another tfstep process (pid ${pid}); stop it (for example a running \`tfstep local serve\`) or pass another --state-dir`,
    );
    this.name = 'StateDirLockedError';
  }
}

/** The definition holds a state the local engine cannot run; raised before anything runs. */
export class LocalEngineError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LocalEngineError';
  }
}

/**
 * An error a local Task handler throws so the engine matches it in `Retry`/`Catch` exactly as
 * Step Functions would: `name` is the ASL error name (`States.TaskFailed`, `States.Timeout`,
 * `Rejected`), `message` is the Cause.
 */
export class StatesError extends Error {
  constructor(errorName: string, cause: string) {
    super(cause);
    this.name = errorName;
  }
}
