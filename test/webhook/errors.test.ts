import { TfstepError } from '../../lib/config/errors';
import {
  AuthenticationError,
  MalformedRequestError,
  MethodNotAllowedError,
  PayloadTooLargeError,
  PublishError,
  UnknownRepositoryError,
  UnsupportedMediaTypeError,
  WebhookError,
  WebhookSecretError,
} from '../../lib/webhook/errors';

describe('webhook errors', () => {
  const cause = new Error('underlying');

  it.each([
    [new MethodNotAllowedError('GET', { cause }), 'MethodNotAllowedError', 405],
    [new UnsupportedMediaTypeError('no', { cause }), 'UnsupportedMediaTypeError', 415],
    [new PayloadTooLargeError(10, { cause }), 'PayloadTooLargeError', 413],
    [new MalformedRequestError('no', { cause }), 'MalformedRequestError', 400],
    [new AuthenticationError('no', { cause }), 'AuthenticationError', 401],
    [new UnknownRepositoryError('github', 'a/b', { cause }), 'UnknownRepositoryError', 403],
  ])('maps %s to its status, with its name and cause', (error, name, status) => {
    expect(error).toBeInstanceOf(WebhookError);
    expect(error).toBeInstanceOf(TfstepError);
    expect(error.name).toBe(name);
    expect(error.statusCode).toBe(status);
    expect(error.cause).toBe(cause);
  });

  it.each([
    [new PublishError('no', { cause }), 'PublishError'],
    [new WebhookSecretError('no', { cause }), 'WebhookSecretError'],
  ])('keeps server-side failures out of the 4xx family (%s)', (error, name) => {
    expect(error).not.toBeInstanceOf(WebhookError);
    expect(error.name).toBe(name);
    expect(error.cause).toBe(cause);
  });
});
