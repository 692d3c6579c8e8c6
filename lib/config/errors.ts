/** Base class of every tfstep error that is the user's to fix (bad input, bad config). */
export class TfstepError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TfstepError';
  }
}

/** One problem in a config file: where, what arrived, what was expected. */
export interface ConfigProblem {
  /** Dotted path of the field, such as `accounts[2].id`. */
  readonly path: string;
  /** The value found there, as JSON (or `(missing)`). */
  readonly received: string;
  /** What was expected instead. */
  readonly expected: string;
}

/** A config file that cannot be used; lists every problem at once. */
export class ConfigError extends TfstepError {
  constructor(
    readonly file: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(
      `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'} in the config\n` +
        problems.map((p) => `  - ${p.path || '(top level)'}: got ${p.received}; expected ${p.expected}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}
