// Command failures as the UI shows them.
import type { CommandError, ErrorKind } from './types';

const KINDS: readonly ErrorKind[] = [
  'not_signed_in', 'offline', 'unreachable', 'tls', 'bad_credentials', 'session_expired', 'incompatible',
  'invalid', 'read_only', 'not_found', 'in_conflict', 'damaged', 'locked', 'disk_full', 'server', 'internal',
];

/** Whatever a command rejected with, as a CommandError. */
export function toCommandError(e: unknown): CommandError {
  if (e && typeof e === 'object' && 'kind' in e && 'message' in e) {
    const { kind, message, field, connection } = e as Record<string, unknown>;
    if (typeof kind === 'string' && (KINDS as readonly string[]).includes(kind) && typeof message === 'string') {
      const err: CommandError = { kind: kind as ErrorKind, message };
      if (typeof field === 'string') err.field = field;
      if (typeof connection === 'string') err.connection = connection as CommandError['connection'];
      return err;
    }
  }
  const message = e instanceof Error ? e.message : typeof e === 'string' ? e : 'Something went wrong.';
  return { kind: 'internal', message };
}

/** Which part of the sign-in form a failure belongs to. */
export type ConnectField = 'server' | 'username' | 'password' | 'form';

export interface ConnectProblem {
  field: ConnectField;
  title: string;
  message: string;
}

/** A sign-in failure: a short title, the backend's sentence, and the input it concerns. */
export function connectProblem(e: CommandError): ConnectProblem {
  const titles: Partial<Record<ErrorKind, [ConnectField, string]>> = {
    unreachable: ['server', 'Can’t reach the server'],
    tls: ['server', 'Secure connection failed'],
    incompatible: ['server', 'Not a Ferry server'],
    invalid: ['server', 'Check the server address'],
    bad_credentials: ['password', 'Wrong username or password'],
    session_expired: ['password', 'Sign in again'],
  };
  const [field, title] = titles[e.kind] ?? ['form', 'Couldn’t sign in'];
  const plain = (s: string) => s.toLowerCase().replace(/[^a-z]/g, '');
  // "Wrong username or password." needs no second line saying the same.
  return { field, title, message: plain(e.message) === plain(title) ? '' : e.message };
}

/** Checks the sign-in form before it is sent; returns field → message. */
export function checkConnectForm(server: string, username: string, password: string): Partial<Record<ConnectField, string>> {
  const errors: Partial<Record<ConnectField, string>> = {};
  const s = server.trim();
  if (!s) errors.server = 'Enter the server address';
  else if (!/^https?:\/\/[^\s/]+/i.test(s)) errors.server = 'Start the address with http:// or https://';
  if (!username.trim()) errors.username = 'Enter your username';
  if (!password) errors.password = 'Enter your password';
  return errors;
}

/**
 * A warning for an address reached over plain http:// beyond this computer
 * (the rule of ferry-core's `plain_http_warning`): the password and records
 * would cross the network unencrypted. `null` for https:// and loopback.
 */
export function plainHttpWarning(server: string): string | null {
  let url: URL;
  try {
    url = new URL(server.trim());
  } catch {
    return null;
  }
  if (url.protocol !== 'http:') return null;
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const loopback = host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
  return loopback ? null : 'This address is not encrypted: your password and records would cross the network readable by others. Ask for an https:// address.';
}
