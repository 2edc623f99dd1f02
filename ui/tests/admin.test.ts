// The admin console's helpers: form checks, routes, and the request wrapper
// (the CSRF header on every request, errors for people, the end of a session).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { admin, ApiError, onSessionEnded, SESSION_ENDED, withQuery } from '../admin/api';
import { href, parseHash } from '../admin/console.svelte';
import { previewSentence } from '../admin/format';
import { passwordProblem, usernameProblem } from '../admin/validate';

describe('form checks', () => {
  it('takes the usernames the server takes', () => {
    expect(usernameProblem('dana')).toBeNull();
    expect(usernameProblem('d.ana_2-x')).toBeNull();
    expect(usernameProblem('a'.repeat(64))).toBeNull();
    expect(usernameProblem('')).toBe('Enter a username.');
    expect(usernameProblem('Dana')).toBe('A username starts with a lowercase letter.');
    expect(usernameProblem('2dana')).toBe('A username starts with a lowercase letter.');
    expect(usernameProblem('da na')).toMatch(/^Use only/);
    expect(usernameProblem('a'.repeat(65))).toBe('A username has at most 64 characters.');
  });

  it('wants passwords of at least 8 characters', () => {
    expect(passwordProblem('')).toBe('Enter a password.');
    expect(passwordProblem('1234567')).toBe('A password has at least 8 characters.');
    expect(passwordProblem('12345678')).toBeNull();
  });
});

describe('routes', () => {
  it('reads a page and its parameters from the hash, Users by default', () => {
    expect(parseHash('#/devices?user=dana').page).toBe('devices');
    expect(parseHash('#/devices?user=dana').params.get('user')).toBe('dana');
    expect(parseHash('').page).toBe('users');
    expect(parseHash('#/nonsense').page).toBe('users');
    expect(href('devices', { user: 'dana' })).toBe('#/devices?user=dana');
    expect(href('devices', { user: '' })).toBe('#/devices');
  });
});

describe('the preview sentence', () => {
  it('counts with separators', () => {
    expect(previewSentence('dana', 2314, 61002)).toMatch(/^dana will see 2[,.\u202f\u00a0]?314 of 61[,.\u202f\u00a0]?002 records$/);
    expect(previewSentence('dana', 0, 1)).toBe('dana will see 0 of 1 record');
  });
});

describe('requests', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    onSessionEnded(() => {});
  });

  function stub(status: number, body: unknown, headers: Record<string, string> = {}) {
    const calls: { url: string; init: RequestInit }[] = [];
    vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
      calls.push({ url, init });
      return new Response(status === 204 ? null : JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
    });
    return calls;
  }

  it('sends the CSRF header and the cookie with every request, JSON bodies typed', async () => {
    const calls = stub(200, { users: [] });
    await admin.users('da');
    await admin.changeUser('dana', { disabled: true });
    await admin.devices();
    expect(calls.map((c) => c.url)).toEqual(['/v1/admin/users?q=da', '/v1/admin/users/dana', '/v1/admin/devices']);
    for (const { init } of calls) {
      expect((init.headers as Record<string, string>)['X-Ferry-CSRF']).toBe('1');
      expect(init.credentials).toBe('same-origin');
    }
    expect(calls[1]!.init.method).toBe('PATCH');
    expect((calls[1]!.init.headers as Record<string, string>)['content-type']).toBe('application/json');
    expect(calls[1]!.init.body).toBe('{"disabled":true}');
  });

  it('escapes names in paths and leaves empty filters out', async () => {
    const calls = stub(200, { entries: [] });
    await admin.removeMember('north/east', 'd a');
    await admin.audit({ actor: '', action: 'user.', before: 42 });
    expect(calls[0]!.url).toBe('/v1/admin/teams/north%2Feast/members/d%20a');
    expect(calls[1]!.url).toBe('/v1/admin/audit?action=user.&before=42&limit=50');
    expect(withQuery('/x', { a: null, b: undefined, c: '' })).toBe('/x');
  });

  it('gives the server’s message and request id', async () => {
    stub(409, { error: { code: 'last_admin', message: 'ann is the last administrator.', request_id: 'r-1' } });
    const e = await admin.changeUser('ann', { role: 'member' }).catch((e: unknown) => e);
    expect(e).toBeInstanceOf(ApiError);
    expect(e).toMatchObject({ status: 409, code: 'last_admin', message: 'ann is the last administrator.', requestId: 'r-1' });
  });

  it('says what to do when the answer is not an error body', async () => {
    stub(502, 'bad gateway', { 'x-request-id': 'r-2' });
    const e = (await admin.health().catch((e: unknown) => e)) as ApiError;
    expect(e.message).toMatch(/Try again/);
    expect(e.requestId).toBe('r-2');
  });

  it('ends the session on a 401, except when signing in', async () => {
    const ended = vi.fn();
    onSessionEnded(ended);
    stub(401, { error: { code: 'unauthorized', message: 'sign in' } });
    const e = (await admin.teams().catch((e: unknown) => e)) as ApiError;
    expect(e.message).toBe(SESSION_ENDED);
    expect(ended).toHaveBeenCalledTimes(1);
    stub(401, { error: { code: 'bad_credentials', message: 'Wrong username or password.' } });
    const wrong = (await admin.signIn('ann', 'x').catch((e: unknown) => e)) as ApiError;
    expect(wrong.message).toBe('Wrong username or password.');
    expect(ended).toHaveBeenCalledTimes(1);
  });

  it('reads a 204 as nothing', async () => {
    stub(204, null);
    await expect(admin.deleteTeam('north')).resolves.toBeUndefined();
  });
});
