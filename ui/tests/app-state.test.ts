// @vitest-environment jsdom
import { afterEach, describe, expect, it } from 'vitest';
import { emit } from '@tauri-apps/api/event';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { AppState } from '../src/lib/app.svelte';
import type { Conflict, Status } from '../src/lib/types';

afterEach(() => clearMocks());

let seq = 0;
const status = (over: Partial<Status> = {}): Status => ({
  seq: ++seq,
  account: { server: 'https://ferry.example.com', username: 'alice', device_id: null },
  connection: { state: 'online' },
  work_offline: false,
  outbox: 0,
  conflicts: 0,
  rejected: 0,
  last_sync: null,
  notifications: true,
  damaged: null,
  locked: null,
  notice: null,
  ...over,
});

const until = async (check: () => boolean) => {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
};

function backend(initial: Status) {
  const calls: string[] = [];
  let conflicts: Partial<Conflict>[] = [];
  mockIPC(
    (cmd) => {
      calls.push(cmd);
      switch (cmd) {
        case 'status':
          return initial;
        case 'collections':
          return [{ collection: { name: 'tasks', label: 'Tasks', title_field: 'title', policy: 'manual', access: 'write', fields: [] }, count: 3 }];
        case 'conflicts':
          return conflicts;
        case 'demo_server':
          return null;
        default:
          return null;
      }
    },
    { shouldMockEvents: true },
  );
  return { calls, setConflicts: (c: Partial<Conflict>[]) => (conflicts = c) };
}

describe('AppState', () => {
  it('loads the workspace when signed in and opens the first collection', async () => {
    const b = backend(status());
    const app = new AppState();
    await app.start();
    await until(() => app.collections.length === 1);
    expect(app.view).toEqual({ kind: 'collection', name: 'tasks' });
    expect(b.calls).toContain('conflicts');
    expect(b.calls).not.toContain('demo_server');
  });

  it('asks for the demo server when nobody is signed in', async () => {
    const b = backend(status({ account: null }));
    const app = new AppState();
    await app.start();
    await until(() => b.calls.includes('demo_server'));
    expect(b.calls).not.toContain('collections');
  });

  it('follows the shell’s events', async () => {
    const b = backend(status());
    const app = new AppState();
    await app.start();
    await emit('status', status({ outbox: 2, connection: { state: 'syncing' } }));
    expect(app.status?.connection).toEqual({ state: 'syncing' });

    b.setConflicts([{ collection: 'tasks', record_id: 'r1', kind: 'edit_edit', fields: ['title'] }]);
    await emit('conflicts-changed', 1);
    await until(() => app.conflicts.length === 1);

    await emit('open-conflict', { collection: 'tasks', id: 'r1' });
    expect(app.openConflict).toEqual({ collection: 'tasks', id: 'r1' });

    // A conflict resolved elsewhere closes its dialog.
    b.setConflicts([]);
    await emit('conflicts-changed', 0);
    await until(() => app.openConflict === null);

    await emit('quit-requested', { outbox: 2 });
    expect(app.quitOutbox).toBe(2);
  });

  it('passes records-changed to listeners, and reloads counts once per burst', async () => {
    const b = backend(status());
    const app = new AppState();
    await app.start();
    await until(() => app.collections.length === 1);
    const seen: unknown[] = [];
    const stop = app.onRecordsChanged((c) => seen.push(c));
    const before = b.calls.filter((c) => c === 'collections').length;
    for (let i = 0; i < 5; i++) await emit('records-changed', { records: [{ collection: 'tasks', id: `r${i}` }], truncated: false });
    expect(seen).toHaveLength(5);
    await new Promise((r) => setTimeout(r, 350));
    expect(b.calls.filter((c) => c === 'collections').length).toBe(before + 1);
    stop();
    await emit('records-changed', { records: [], truncated: true });
    expect(seen).toHaveLength(5);
  });

  it('holds a view change while the editor has unsaved changes', async () => {
    backend(status());
    const app = new AppState();
    await app.start();
    app.editorDirty = true;
    expect(app.show({ kind: 'outbox' })).toBe(false);
    expect(app.pendingView).toEqual({ kind: 'outbox' });
    app.discardAndGo();
    expect(app.view).toEqual({ kind: 'outbox' });
    expect(app.editorDirty).toBe(false);
  });
});
