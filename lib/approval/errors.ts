import { TfstepError } from '../config/errors';

/**
 * An approval action that is refused. Each subclass carries the HTTP status it maps to; the
 * message is shown to the person on the answer page or in the CLI, so it never contains a
 * task token, a signature or a key.
 */
export class ApprovalError extends TfstepError {
  /** The HTTP status this refusal answers with. */
  readonly statusCode: number = 400;
  /** A short title for the answer page. */
  readonly title: string = 'Request refused';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ApprovalError';
  }
}

/** 400: the request (form, query, payload) cannot be understood. */
export class BadApprovalRequestError extends ApprovalError {
  override readonly statusCode = 400;
  override readonly title = 'Bad request';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BadApprovalRequestError';
  }
}

/** 403: the link's signature does not match (forged or altered link). */
export class ForgedLinkError extends ApprovalError {
  override readonly statusCode = 403;
  override readonly title = 'This link is not valid';

  constructor(message = 'the link is not valid: its signature does not match; use the link from your own email', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ForgedLinkError';
  }
}

/** 403: the form's CSRF token or its origin is missing or wrong. */
export class CsrfError extends ApprovalError {
  override readonly statusCode = 403;
  override readonly title = 'Form not accepted';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CsrfError';
  }
}

/** 403: the person is not one of the approvers of this stage. */
export class NotAnApproverError extends ApprovalError {
  override readonly statusCode = 403;
  override readonly title = 'Not an approver';

  constructor(
    readonly approver: string,
    readonly allowed: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(`${approver} is not an approver of this stage; the approvers are ${allowed.join(', ')}`, options);
    this.name = 'NotAnApproverError';
  }
}

/** 403: the pusher tried to approve their own push and the stage does not allow it. */
export class SelfApprovalError extends ApprovalError {
  override readonly statusCode = 403;
  override readonly title = 'You cannot approve your own push';

  constructor(
    readonly approver: string,
    readonly pusher: string,
    options?: { cause?: unknown },
  ) {
    super(
      `${approver} pushed this change (as "${pusher}") and this stage does not allow self-approval (allowSelfApproval: false); another approver must approve it`,
      options,
    );
    this.name = 'SelfApprovalError';
  }
}

/** 404: no approval with this id. */
export class ApprovalNotFoundError extends ApprovalError {
  override readonly statusCode = 404;
  override readonly title = 'Approval not found';

  constructor(
    readonly approvalId: string,
    options?: { cause?: unknown },
  ) {
    super(`no approval ${approvalId} exists (it may have been removed after its retention period)`, options);
    this.name = 'ApprovalNotFoundError';
  }
}

/** 409: this approver already decided (a reused link) or the approval was already decided. */
export class AlreadyDecidedError extends ApprovalError {
  override readonly statusCode = 409;
  override readonly title = 'Already decided';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AlreadyDecidedError';
  }
}

/**
 * 410: the approval can no longer be decided: its link or deadline expired, the task timed
 * out, or a redrive replaced it with a new approval.
 */
export class ApprovalGoneError extends ApprovalError {
  override readonly statusCode = 410;
  override readonly title = 'This approval is closed';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ApprovalGoneError';
  }
}

/**
 * Step Functions no longer waits for this task token (TaskTimedOut, TaskDoesNotExist,
 * InvalidToken): the step timed out or was redriven. Answered as 410.
 */
export class TaskGoneError extends ApprovalGoneError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TaskGoneError';
  }
}

/** The approval request payload from the state machine is not what the contract says. */
export class ApprovalRequestError extends TfstepError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ApprovalRequestError';
  }
}
