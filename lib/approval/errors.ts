import { TfstepError } from '../config/errors';

/** What each refusal answers with: its HTTP status and a short title for the answer page. */
const ANSWERS = {
  ApprovalError: { statusCode: 400, title: 'Request refused' },
  BadApprovalRequestError: { statusCode: 400, title: 'Bad request' },
  ForgedLinkError: { statusCode: 403, title: 'This link is not valid' },
  CsrfError: { statusCode: 403, title: 'Form not accepted' },
  NotAnApproverError: { statusCode: 403, title: 'Not an approver' },
  SelfApprovalError: { statusCode: 403, title: 'You cannot approve your own push' },
  NotAPolicyOwnerError: { statusCode: 403, title: 'Not a policy owner' },
  PolicyDeniedError: { statusCode: 409, title: 'Denied by a plan policy' },
  ApprovalNotFoundError: { statusCode: 404, title: 'Approval not found' },
  AlreadyDecidedError: { statusCode: 409, title: 'Already decided' },
  ApprovalGoneError: { statusCode: 410, title: 'This approval is closed' },
  TaskGoneError: { statusCode: 410, title: 'This approval is closed' },
} as const;
type Refusal = keyof typeof ANSWERS;

/**
 * An approval action that is refused, answered with the HTTP status and title {@link ANSWERS}
 * gives its name. The message is shown to the person on the answer page or in the CLI, so it
 * never contains a task token, a signature or a key.
 */
export class ApprovalError extends TfstepError {
  override name: Refusal = 'ApprovalError';

  /** The HTTP status this refusal answers with. */
  get statusCode(): number {
    return ANSWERS[this.name].statusCode;
  }

  /** A short title for the answer page. */
  get title(): string {
    return ANSWERS[this.name].title;
  }
}

/** 400: the request (form, query, payload) cannot be understood. */
export class BadApprovalRequestError extends ApprovalError {
  override name: Refusal = 'BadApprovalRequestError';
}

/** 403: the link's signature does not match (forged or altered link). */
export class ForgedLinkError extends ApprovalError {
  override name: Refusal = 'ForgedLinkError';

  constructor(message = 'the link is not valid: its signature does not match; use the link from your own email', options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** 403: the form's CSRF token or its origin is missing or wrong. */
export class CsrfError extends ApprovalError {
  override name: Refusal = 'CsrfError';
}

/** 403: the person is not one of the approvers of this stage. */
export class NotAnApproverError extends ApprovalError {
  override name: Refusal = 'NotAnApproverError';

  constructor(
    readonly approver: string,
    readonly allowed: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(`${approver} is not an approver of this stage; the approvers are ${allowed.join(', ')}`, options);
  }
}

/** 403: someone who is not a policy owner tried to override a plan policy's deny. */
export class NotAPolicyOwnerError extends ApprovalError {
  override name: Refusal = 'NotAPolicyOwnerError';

  constructor(
    readonly approver: string,
    readonly owners: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(`${approver} is not a policy owner; only a policy owner (${owners.join(', ') || 'none configured'}) can override a plan policy's deny`, options);
  }
}

/** 409: the plans are denied by a plan policy, and this approval is no override by a policy owner. */
export class PolicyDeniedError extends ApprovalError {
  override name: Refusal = 'PolicyDeniedError';
}

/** 403: the pusher tried to approve their own push and the stage does not allow it. */
export class SelfApprovalError extends ApprovalError {
  override name: Refusal = 'SelfApprovalError';

  constructor(
    readonly approver: string,
    readonly pusher: string,
    options?: { cause?: unknown },
  ) {
    super(
      `${approver} pushed this change (as "${pusher}") and this stage does not allow self-approval (allowSelfApproval: false); another approver must approve it`,
      options,
    );
  }
}

/** 404: no approval with this id. */
export class ApprovalNotFoundError extends ApprovalError {
  override name: Refusal = 'ApprovalNotFoundError';

  constructor(
    readonly approvalId: string,
    options?: { cause?: unknown },
  ) {
    super(`no approval ${approvalId} exists (it may have been removed after its retention period)`, options);
  }
}

/** 409: this approver already decided (a reused link) or the approval was already decided. */
export class AlreadyDecidedError extends ApprovalError {
  override name: Refusal = 'AlreadyDecidedError';
}

/**
 * 410: the approval can no longer be decided: its link or deadline expired, the task timed
 * out, or a redrive replaced it with a new approval.
 */
export class ApprovalGoneError extends ApprovalError {
  override name: Refusal = 'ApprovalGoneError';
}

/**
 * Step Functions no longer waits for this task token (TaskTimedOut, TaskDoesNotExist,
 * InvalidToken): the step timed out or was redriven. Answered as 410.
 */
export class TaskGoneError extends ApprovalGoneError {
  override name: Refusal = 'TaskGoneError';
}

/** The approval request payload from the state machine is not what the contract says. */
export class ApprovalRequestError extends TfstepError {
  override name = 'ApprovalRequestError';
}
