import { describe, expect, it } from 'vitest';
import { OPEN_PARTS, buildFieldResolution, deleteChoices } from '../src/lib/resolution';
import type { Conflict, Field, TextPart } from '../src/lib/types';

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

describe('buildFieldResolution for a field merged as text', () => {
  const notesField: Field = { name: 'notes', label: 'Notes', type: 'longtext', required: true };
  const parts: TextPart[] = [
    { clean: 'Met at the fair.\n' },
    { clash: { base: 'Call Dana.', mine: 'Call Dana today.', theirs: 'Email Dana.' } },
    { clean: '\nThanks' },
    { clash: { base: '', mine: ' Ada', theirs: ' all' } },
  ];
  const textConflict = { ...conflict, fields: ['notes'], parts: { notes: parts } } as Conflict;
  const build = (pick?: Parameters<typeof buildFieldResolution>[2][string]) =>
    buildFieldResolution(textConflict, [notesField], { notes: pick });
  const value = (text: string) => ({
    ok: true,
    resolution: { kind: 'fields', choices: [{ field: 'notes', choice: { take: 'value', value: text } }] },
  });

  it('asks for each clashing part until all are chosen', () => {
    expect(build()).toEqual({ ok: false, errors: { notes: OPEN_PARTS } });
    expect(build({ take: 'parts', parts: ['mine'], text: null })).toEqual({ ok: false, errors: { notes: OPEN_PARTS } });
  });

  it('sends the merged text: clean stretches and each part as chosen', () => {
    expect(build({ take: 'parts', parts: ['theirs', 'both'], text: null })).toEqual(
      value('Met at the fair.\n' + 'Email Dana.' + '\nThanks' + ' Ada' + ' all'),
    );
  });

  it('sends the text as typed once the user edited it, parts chosen or not', () => {
    expect(build({ take: 'parts', parts: [], text: 'Typed by hand' })).toEqual(value('Typed by hand'));
    expect(build({ take: 'parts', parts: ['mine', 'mine'], text: 'Typed by hand' })).toEqual(value('Typed by hand'));
  });

  it('checks the text like any value of its field', () => {
    expect(build({ take: 'parts', parts: [], text: '  ' })).toEqual({ ok: false, errors: { notes: 'Required' } });
  });

  it('still takes a whole side, which the shell applies to every part', () => {
    expect(build({ take: 'mine' })).toEqual({
      ok: true,
      resolution: { kind: 'fields', choices: [{ field: 'notes', choice: { take: 'mine' } }] },
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
