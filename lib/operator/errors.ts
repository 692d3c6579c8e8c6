/**
 * Errors of the operator commands. {@link OperatorError} and its subclasses are the user's to
 * fix (the CLI exits 2 and prints the message); each message says what to do.
 */
import { TfstepError } from '../config/errors';

/** Base class of the operator commands' errors. */
export class OperatorError extends TfstepError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OperatorError';
  }
}

/** The execution named on the command line does not exist where we looked. */
export class ExecutionNotFoundError extends OperatorError {
  constructor(
    readonly execution: string,
    where: string,
    options?: { cause?: unknown },
  ) {
    super(`no execution named "${execution}" in ${where}; run \`tfstep runs\` to list recent executions`, options);
    this.name = 'ExecutionNotFoundError';
  }
}

/** No AWS credentials could be found for a call. */
export class CredentialsMissingError extends OperatorError {
  constructor(options?: { cause?: unknown }) {
    super(
      'no AWS credentials found; provide them with AWS_PROFILE=<profile> (after `aws sso login --profile <profile>` for SSO), ' +
        'or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) in the environment; use --local to read the local state instead',
      options,
    );
    this.name = 'CredentialsMissingError';
  }
}

/** AWS refused a call: names the action and what permission is missing. */
export class AwsAccessDeniedError extends OperatorError {
  constructor(
    readonly action: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`AWS denied ${action}: ${detail}; use credentials (AWS_PROFILE) allowed to call ${action} in the central account`, options);
    this.name = 'AwsAccessDeniedError';
  }
}

/** An option value that cannot be used. */
export class BadOptionError extends OperatorError {
  constructor(option: string, received: string, expected: string) {
    super(`${option}: got ${JSON.stringify(received)}; expected ${expected}`);
    this.name = 'BadOptionError';
  }
}

const CREDENTIAL_ERRORS = new Set(['CredentialsProviderError', 'ExpiredTokenException', 'ExpiredToken', 'TokenRefreshRequired', 'UnrecognizedClientException', 'InvalidClientTokenId']);

/** Whether an SDK error means the caller has no (usable) credentials. */
export function isCredentialsError(err: unknown): boolean {
  const name = (err as { name?: unknown } | null)?.name;
  const message = err instanceof Error ? err.message : '';
  return (typeof name === 'string' && CREDENTIAL_ERRORS.has(name)) || /Could not load credentials|Token is expired|SSO session/.test(message);
}

/** Whether an SDK error means access was denied. */
export function isAccessDenied(err: unknown): boolean {
  const name = (err as { name?: unknown } | null)?.name;
  return typeof name === 'string' && /AccessDenied|UnauthorizedOperation|NotAuthorized/.test(name);
}

/**
 * Turns an SDK error of the central account into the operator error that says what to do,
 * or returns it unchanged when it is not one the user can fix.
 */
export function explainAwsError(err: unknown, action: string): unknown {
  if (isCredentialsError(err)) return new CredentialsMissingError({ cause: err });
  if (isAccessDenied(err)) return new AwsAccessDeniedError(action, err instanceof Error ? err.message : String(err), { cause: err });
  return err;
}
