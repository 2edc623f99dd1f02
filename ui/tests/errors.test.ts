import { describe, expect, it } from 'vitest';
import { checkConnectForm, connectProblem, toCommandError } from '../src/lib/errors';
import type { ErrorKind } from '../src/lib/types';

describe('connectProblem', () => {
  it('places each sign-in failure next to the input it concerns', () => {
    const cases: [ErrorKind, string, string][] = [
      ['unreachable', 'server', 'Can’t reach the server'],
      ['tls', 'server', 'Secure connection failed'],
      ['incompatible', 'server', 'Not a Ferry server'],
      ['invalid', 'server', 'Check the server address'],
      ['bad_credentials', 'password', 'Wrong username or password'],
      ['internal', 'form', 'Couldn’t sign in'],
      ['disk_full', 'form', 'Couldn’t sign in'],
    ];
    for (const [kind, field, title] of cases) {
      expect(connectProblem({ kind, message: 'why' })).toEqual({ field, title, message: 'why' });
    }
  });

  it('does not repeat a message that says what the title says', () => {
    expect(connectProblem({ kind: 'bad_credentials', message: 'Wrong username or password.' }).message).toBe('');
  });
});

describe('toCommandError', () => {
  it('keeps a CommandError and wraps anything else', () => {
    expect(toCommandError({ kind: 'offline', message: 'You are offline.' })).toEqual({ kind: 'offline', message: 'You are offline.' });
    expect(toCommandError({ kind: 'nonsense', message: 'x' }).kind).toBe('internal');
    expect(toCommandError(new Error('boom'))).toEqual({ kind: 'internal', message: 'boom' });
    expect(toCommandError('plain')).toEqual({ kind: 'internal', message: 'plain' });
  });
});

describe('checkConnectForm', () => {
  it('asks for every input and an http(s) address', () => {
    expect(checkConnectForm('', '', '')).toEqual({
      server: 'Enter the server address',
      username: 'Enter your username',
      password: 'Enter your password',
    });
    expect(checkConnectForm('ferry.example.com', 'a', 'b')).toEqual({ server: 'Start the address with http:// or https://' });
    expect(checkConnectForm('https://ferry.example.com', 'a', 'b')).toEqual({});
  });
});
