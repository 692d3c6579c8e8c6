/** Errors of the git credentials area. */

/** Base class: git credentials that are malformed, unreadable or refused by the git host. */
export class GitAuthError extends Error {
  override readonly name: string = 'GitAuthError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The credential document (secret, file or environment variable) is not one of the accepted shapes. */
export class GitCredentialFormatError extends GitAuthError {
  override readonly name = 'GitCredentialFormatError';
}

/** GitHub refused to mint an installation token for the App. */
export class InstallationTokenError extends GitAuthError {
  override readonly name = 'InstallationTokenError';
  constructor(
    message: string,
    readonly status: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
