import {
  AlreadyDecidedError,
  ApprovalError,
  ApprovalGoneError,
  ApprovalNotFoundError,
  ApprovalRequestError,
  BadApprovalRequestError,
  CsrfError,
  ForgedLinkError,
  NotAnApproverError,
  SelfApprovalError,
  TaskGoneError,
} from '../../lib/approval/errors';
import { TfstepError } from '../../lib/config/errors';

describe('approval refusals', () => {
  it.each([
    [new ApprovalError('x'), 'ApprovalError', 400, 'Request refused'],
    [new BadApprovalRequestError('x'), 'BadApprovalRequestError', 400, 'Bad request'],
    [new ForgedLinkError(), 'ForgedLinkError', 403, 'This link is not valid'],
    [new CsrfError('x'), 'CsrfError', 403, 'Form not accepted'],
    [new NotAnApproverError('eve@example.com', ['alice@example.com']), 'NotAnApproverError', 403, 'Not an approver'],
    [new SelfApprovalError('alice@example.com', 'alice'), 'SelfApprovalError', 403, 'You cannot approve your own push'],
    [new ApprovalNotFoundError('a1'), 'ApprovalNotFoundError', 404, 'Approval not found'],
    [new AlreadyDecidedError('x'), 'AlreadyDecidedError', 409, 'Already decided'],
    [new ApprovalGoneError('x'), 'ApprovalGoneError', 410, 'This approval is closed'],
    [new TaskGoneError('x'), 'TaskGoneError', 410, 'This approval is closed'],
  ])('%#: %s answers with its own name, status and title', (err, name, statusCode, title) => {
    // THEN each refusal is an ApprovalError and a TfstepError that answers as its class says
    expect(err).toBeInstanceOf(ApprovalError);
    expect(err).toBeInstanceOf(TfstepError);
    expect({ name: err.name, statusCode: err.statusCode, title: err.title }).toEqual({ name, statusCode, title });
  });

  it('keeps the message and the cause', () => {
    const cause = new Error('underlying');
    const err = new CsrfError('the form has no CSRF token', { cause });
    expect(err.message).toBe('the form has no CSRF token');
    expect(err.cause).toBe(cause);
    expect(new ForgedLinkError().message).toMatch(/its signature does not match/);
    expect(new TaskGoneError('gone')).toBeInstanceOf(ApprovalGoneError);
  });

  it('names a broken request payload from the state machine', () => {
    const err = new ApprovalRequestError('payload is not an object');
    expect(err.name).toBe('ApprovalRequestError');
    expect(err).not.toBeInstanceOf(ApprovalError);
  });
});
