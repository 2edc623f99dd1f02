import { describe, expect, it } from 'vitest';
import { checkConnectForm, connectProblem, plainHttpWarning, toCommandError } from '../src/lib/errors';
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

  it('keeps the field and the connection failure the backend names', () => {
    const invalid = { kind: 'invalid', message: 'Field "due" must be a date', field: 'due' };
    expect(toCommandError(invalid)).toEqual(invalid);
    const tls = { kind: 'tls', message: 'The secure connection failed.', connection: 'tls' };
    expect(toCommandError(tls)).toEqual(tls);
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

describe('plainHttpWarning', () => {
  it('warns about plain http beyond this computer only', () => {
    for (const quiet of ['https://ferry.example.com', 'http://127.0.0.1:8787', 'http://127.8.0.1', 'http://localhost:8787', 'http://LOCALHOST', 'http://[::1]:8787', 'ferry.example.com', '']) {
      expect(plainHttpWarning(quiet), quiet).toBeNull();
    }
    for (const loud of ['http://ferry.example.com', 'http://192.168.1.20:8787', 'http://localhost.example.com', 'http://[fe80::1]']) {
      expect(plainHttpWarning(loud), loud).toMatch(/not encrypted/);
    }
  });
});
