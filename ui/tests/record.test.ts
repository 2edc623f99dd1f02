import { describe, expect, it } from 'vitest';
import { describeMutation, historyEntries, invalidField } from '../src/lib/record';
import type { Collection, Mutation, ServerRecord } from '../src/lib/types';

const contacts: Collection = {
  name: 'contacts', label: 'Contacts', title_field: 'name', policy: 'manual', access: 'write',
  fields: [
    { name: 'name', label: 'Name', type: 'text', required: true },
    { name: 'email', label: 'Email', type: 'text', required: false },
    { name: 'vip', label: 'VIP', type: 'boolean', required: false },
  ],
};

const version = (v: number, fields: ServerRecord['fields'], deleted = false): ServerRecord => ({
  collection: 'contacts', id: 'r', version: v, fields, deleted, updated_at: `2026-11-2${v}T09:00:00.000Z-0000-srv`, updated_by: v % 2 ? 'alice' : 'bob',
});

describe('historyEntries', () => {
  it('lists versions newest first with what each changed', () => {
    const entries = historyEntries(contacts, [
      version(1, { name: 'Ada', email: 'a@x' }),
      version(2, { name: 'Ada', email: 'ada@x', vip: true }),
      version(3, { name: 'Ada', email: 'ada@x', vip: true }, true),
    ]);
    expect(entries.map((e) => [e.version, e.what, e.by])).toEqual([
      [3, 'deleted', 'alice'],
      [2, 'changed', 'bob'],
      [1, 'created', 'alice'],
    ]);
    expect(entries[1]!.changes).toEqual([
      { field: 'email', label: 'Email', before: 'a@x', after: 'ada@x' },
      { field: 'vip', label: 'VIP', before: '', after: 'Yes' },
    ]);
  });
  it('shows a merged version as a merge of an edit with the versions since its base', () => {
    const entries = historyEntries(contacts, [
      version(1, { name: 'Ada' }),
      version(2, { name: 'Ada', email: 'a@x' }),
      { ...version(3, { name: 'Ada', email: 'a@x', vip: true }), updated_by: 'bob' },
      { ...version(4, { name: 'Ada Lovelace', email: 'a@x', vip: true }), updated_by: 'carol', merged_from: 1 },
    ]);
    expect(entries[0]).toMatchObject({
      version: 4,
      what: 'merged',
      by: 'carol',
      merged: { from: 1, with: [{ version: 2, by: 'bob' }, { version: 3, by: 'bob' }] },
      changes: [{ field: 'name', label: 'Name', before: 'Ada', after: 'Ada Lovelace' }],
    });
    expect(entries.slice(1).map((e) => e.what)).toEqual(['changed', 'changed', 'created']);
    expect(entries[1]!.merged).toBeUndefined();
  });
});

describe('describeMutation', () => {
  const m = (over: Partial<Mutation>): Mutation => ({
    mutation_id: 'm', collection: 'contacts', record_id: 'r', op: 'put', base_version: 2, base: {}, fields: {}, hlc: 'h', ...over,
  });

  it('says what an outbox entry changes', () => {
    expect(describeMutation(contacts, m({ base: { email: 'a@x' }, fields: { email: 'b@x' } }))).toEqual({
      what: 'changed',
      changes: [{ field: 'email', label: 'Email', before: 'a@x', after: 'b@x' }],
    });
    expect(describeMutation(contacts, m({ base_version: null, fields: { name: 'Ada' } })).what).toBe('created');
    expect(describeMutation(contacts, m({ op: 'delete' }))).toEqual({ what: 'deleted', changes: [] });
  });
});

describe('invalidField', () => {
  it('finds the field a backend error names', () => {
    expect(invalidField({ kind: 'invalid', message: 'Field "email" must be text', field: 'email' }, contacts.fields)).toBe('email');
    expect(invalidField({ kind: 'invalid', message: 'Field "nope" must be text', field: 'nope' }, contacts.fields)).toBeNull();
    expect(invalidField({ kind: 'invalid', message: 'Something else' }, contacts.fields)).toBeNull();
    expect(invalidField({ kind: 'server', message: 'Field "email" is odd', field: 'email' }, contacts.fields)).toBeNull();
  });
});
