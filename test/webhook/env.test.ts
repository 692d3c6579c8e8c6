import { EnvError, optionalEnv, positiveIntEnv, requireEnv, requireJsonEnv } from '../../lib/env';

describe('environment helpers', () => {
  it('returns a set variable', () => {
    expect(requireEnv('A', { A: 'x' })).toBe('x');
    expect(optionalEnv('A', 'd', { A: 'x' })).toBe('x');
    expect(optionalEnv('A', 'd', {})).toBe('d');
    expect(positiveIntEnv('N', 5, { N: ' 2048 ' })).toBe(2048);
    expect(positiveIntEnv('N', 5, {})).toBe(5);
    expect(requireJsonEnv('J', { J: '{"a":1}' })).toEqual({ a: 1 });
  });

  it.each([
    ['unset', {}],
    ['empty', { A: '' }],
    ['blank', { A: '  ' }],
  ])('fails when a required variable is %s', (_what, env) => {
    // GIVEN an environment without A
    // WHEN it is required
    // THEN the error names it
    expect(() => requireEnv('A', env)).toThrow(new EnvError('A', 'environment variable A is not set; it is required'));
  });

  it.each(['0', '-1', '1.5', '1MiB', 'abc'])('fails when a positive integer variable is %s', (value) => {
    expect(() => positiveIntEnv('N', 5, { N: value })).toThrow(/N must be a positive integer/);
  });

  it('fails when a JSON variable is not JSON, keeping the cause', () => {
    // GIVEN a truncated JSON value
    let error: unknown;
    try {
      requireJsonEnv('J', { J: '{"a":' });
    } catch (err) {
      error = err;
    }
    // THEN the error names the variable and keeps the parser's error
    expect(error).toBeInstanceOf(EnvError);
    expect((error as EnvError).name).toBe('EnvError');
    expect((error as EnvError).variable).toBe('J');
    expect((error as EnvError).cause).toBeInstanceOf(SyntaxError);
  });
});
