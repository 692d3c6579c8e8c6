/**
 * Git never takes an option from data. Every git call that carries a URL, ref, SHA or path from
 * outside puts `--end-of-options` (or `--`) before it, refuses a value starting with "-" before
 * git runs, and runs with {@link GIT_ALLOW_PROTOCOL}, so no URL can reach a transport that runs a
 * command (`ext::`) or reads a file descriptor (`fd::`).
 */

/** The transports tfstep's git calls may use: local paths, git, HTTP(S) and SSH. */
export const GIT_ALLOW_PROTOCOL = 'file:git:http:https:ssh';

/** Thrown when a value from outside would be read by git as an option. */
export class GitArgumentError extends Error {
  constructor(
    readonly what: string,
    readonly value: string,
  ) {
    super(`refused ${what} ${JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}...` : value)}: it starts with "-", so git would read it as an option; expected a URL, path, ref or SHA`);
    this.name = 'GitArgumentError';
  }
}

/**
 * Returns `value` when git cannot mistake it for an option.
 * @throws GitArgumentError when it starts with "-"
 */
export function gitOperand(what: string, value: string): string {
  if (value.startsWith('-')) throw new GitArgumentError(what, value);
  return value;
}
