import { describe, expect, it } from 'vitest';
import { buildFieldResolution, deleteChoices } from '../src/lib/resolution';
import type { Conflict, Field } from '../src/lib/types';

const fields: Field[] = [
  { name: 'email', label: 'Email', type: 'text', required: false },
  { name: 'priority', label: 'Priority', type: 'number', required: false },
  { name: 'vip', label: 'VIP', type: 'boolean', required: false },
];

const conflict = {
  collection: 'contacts',
  record_id: 'r1',
  kind: 'edit_edit',
  fields: ['email', 'priority', 'vip'],
} as Conflict;

describe('buildFieldResolution', () => {
  it('sends one choice per conflicting field, merged values parsed', () => {
    const built = buildFieldResolution(conflict, fields, {
      email: { take: 'mine' },
      priority: { take: 'edit', draft: '4' },
      vip: { take: 'theirs' },
    });
    expect(built).toEqual({
      ok: true,
      resolution: {
        kind: 'fields',
        choices: [
          { field: 'email', choice: { take: 'mine' } },
          { field: 'priority', choice: { take: 'value', value: 4 } },
          { field: 'vip', choice: { take: 'theirs' } },
        ],
      },
    });
  });

  it('asks for every field and checks edited values', () => {
    const built = buildFieldResolution(conflict, fields, { email: { take: 'mine' }, priority: { take: 'edit', draft: 'soon' } });
    expect(built).toEqual({
      ok: false,
      errors: { priority: 'Enter a number', vip: 'Choose mine, theirs, or edit a value' },
    });
  });
});

describe('deleteChoices', () => {
  it('offers restore or accept for an edit the server deleted', () => {
    expect(deleteChoices('edit_delete').map((c) => [c.label, c.resolution])).toEqual([
      ['Restore with my changes', { kind: 'restore' }],
      ['Accept deletion', { kind: 'accept_delete' }],
    ]);
  });

  it('offers their version or my delete for a delete the server edited', () => {
    expect(deleteChoices('delete_edit').map((c) => [c.label, c.resolution])).toEqual([
      ['Keep their version', { kind: 'restore' }],
      ['Delete anyway', { kind: 'mine' }],
    ]);
  });

  it('has no whole-record choices for edit/edit', () => {
    expect(deleteChoices('edit_edit')).toEqual([]);
  });
});
