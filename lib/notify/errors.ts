/** Errors of the notifications: the SNS topic and the GitHub commit statuses. */

/** Base class of notification errors; a lost notification never fails a run. */
export class NotifyError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NotifyError';
  }
}

/** GitHub answered a commit status request with an error. */
export class GitHubStatusError extends NotifyError {
  constructor(
    readonly status: number,
    readonly repository: string,
    detail: string,
  ) {
    const hint =
      status === 401
        ? 'the token is invalid or expired: store a new one in the status token secret'
        : status === 403 || status === 404
          ? 'the token cannot write statuses to this repository: give it the "Commit statuses: write" permission (or repo:status scope)'
          : 'GitHub refused the request';
    super(`GitHub commit status for ${repository} failed with HTTP ${status}: ${detail}; ${hint}`);
    this.name = 'GitHubStatusError';
  }
}

/** The token secret exists but holds nothing usable. */
export class GitHubTokenError extends NotifyError {
  constructor(secretId: string, options?: { cause?: unknown }) {
    super(`secret ${secretId} holds no GitHub token; store the token as the secret string, or as JSON {"token": "..."}`, options);
    this.name = 'GitHubTokenError';
  }
}
