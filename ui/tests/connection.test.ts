import { describe, expect, it } from 'vitest';
import { connectionView, pendingLabel } from '../src/lib/connection';
import type { ConnState, Status } from '../src/lib/types';

const status = (connection: ConnState, work_offline = false): Status => ({
  seq: 1, account: null, connection, work_offline, outbox: 0, conflicts: 0, rejected: 0, last_sync: null, notifications: true, damaged: null, locked: null, notice: null,
});

describe('connectionView', () => {
  it('names each state', () => {
    expect(connectionView(status({ state: 'online' }))).toMatchObject({ kind: 'online', label: 'Online' });
    expect(connectionView(status({ state: 'syncing' }))).toMatchObject({ kind: 'syncing', label: 'Syncing…' });
    expect(connectionView(status({ state: 'connecting' }))).toMatchObject({ kind: 'connecting' });
    expect(connectionView(status({ state: 'error', message: 'Login refused' }))).toEqual({ kind: 'error', label: 'Sync problem', detail: 'Login refused' });
  });

  it('tells working offline apart from losing the network', () => {
    expect(connectionView(status({ state: 'offline', reason: 'x', by_choice: true }, true)).label).toBe('Working offline');
    expect(connectionView(status({ state: 'offline', reason: 'No route to host', by_choice: false }))).toMatchObject({
      label: 'Offline',
      detail: 'No route to host',
    });
  });
});

describe('pendingLabel', () => {
  it('counts unsent changes', () => {
    expect(pendingLabel(0)).toBe('All changes sent');
    expect(pendingLabel(1)).toBe('1 change waiting');
    expect(pendingLabel(1200)).toMatch(/^1.200 changes waiting$/);
  });
});
