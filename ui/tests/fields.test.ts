import { describe, expect, it } from 'vitest';
import {
  CHOICE_TONES, checkForm, choiceTone, cleanTags, formatValue, isDate, parseDraft, recordTitle, sameValue, toDraft,
} from '../src/lib/fields';
import type { Collection, Field } from '../src/lib/types';

const f = (type: Field['type'], extra: Partial<Field> = {}): Field => ({ name: 'x', label: 'X', type, required: false, ...extra });

describe('parseDraft', () => {
  it('keeps text as typed and blanks as null', () => {
    expect(parseDraft(f('text'), 'Ada ')).toEqual({ ok: true, value: 'Ada ' });
    expect(parseDraft(f('longtext'), 'line 1\nline 2')).toEqual({ ok: true, value: 'line 1\nline 2' });
    expect(parseDraft(f('text'), '   ')).toEqual({ ok: true, value: null });
  });

  it('requires required fields of every type', () => {
    for (const type of ['text', 'longtext', 'number', 'date', 'datetime', 'choice', 'tags'] as const) {
      const draft = type === 'tags' ? [] : '';
      expect(parseDraft(f(type, { required: true, options: ['a'] }), draft)).toEqual({ ok: false, error: 'Required' });
    }
  });

  it('reads numbers, with a decimal comma too', () => {
    expect(parseDraft(f('number'), '42')).toEqual({ ok: true, value: 42 });
    expect(parseDraft(f('number'), '-1.5')).toEqual({ ok: true, value: -1.5 });
    expect(parseDraft(f('number'), '3,25')).toEqual({ ok: true, value: 3.25 });
    expect(parseDraft(f('number'), '1e3')).toEqual({ ok: true, value: 1000 });
    expect(parseDraft(f('number'), 'twelve')).toEqual({ ok: false, error: 'Enter a number' });
    expect(parseDraft(f('number'), 'Infinity')).toEqual({ ok: false, error: 'Enter a number' });
  });

  it('accepts only real calendar dates', () => {
    expect(parseDraft(f('date'), '2026-02-28')).toEqual({ ok: true, value: '2026-02-28' });
    expect(parseDraft(f('date'), '2026-02-30').ok).toBe(false);
    expect(parseDraft(f('date'), '28/02/2026').ok).toBe(false);
    expect(isDate('2024-02-29')).toBe(true);
    expect(isDate('2023-02-29')).toBe(false);
  });

  it('stores a local date-time as RFC 3339 UTC', () => {
    const parsed = parseDraft(f('datetime'), '2026-11-26T09:30');
    expect(parsed.ok).toBe(true);
    const value = (parsed as { value: string }).value;
    expect(value).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(new Date(value).getTime()).toBe(new Date(2026, 10, 26, 9, 30).getTime());
    expect(parseDraft(f('datetime'), '2026-13-01T09:30').ok).toBe(false);
    expect(parseDraft(f('datetime'), 'tomorrow').ok).toBe(false);
  });

  it('checks choices against the options', () => {
    const status = f('choice', { options: ['todo', 'done'] });
    expect(parseDraft(status, 'done')).toEqual({ ok: true, value: 'done' });
    expect(parseDraft(status, 'later')).toEqual({ ok: false, error: 'Choose one of: todo, done' });
  });

  it('cleans tags and stores booleans as they are', () => {
    expect(parseDraft(f('tags'), [' vip', 'lead', 'vip', ''])).toEqual({ ok: true, value: ['vip', 'lead'] });
    expect(parseDraft(f('tags'), [])).toEqual({ ok: true, value: null });
    expect(parseDraft(f('boolean'), true)).toEqual({ ok: true, value: true });
    expect(parseDraft(f('boolean'), false)).toEqual({ ok: true, value: false });
    expect(cleanTags(['a', ' a ', 'b'])).toEqual(['a', 'b']);
  });
});

describe('drafts', () => {
  it('turns stored values into input values', () => {
    expect(toDraft(f('number'), 7)).toBe('7');
    expect(toDraft(f('number'), null)).toBe('');
    expect(toDraft(f('boolean'), null)).toBe(false);
    expect(toDraft(f('tags'), ['a', 'b'])).toEqual(['a', 'b']);
    expect(toDraft(f('text'), undefined)).toBe('');
    expect(toDraft(f('choice'), 'todo')).toBe('todo');
  });

  it('round-trips a date-time through the input, in the locale given', () => {
    const stored = '2026-11-26T09:30:00Z';
    for (const loc of ['de-DE', 'en-US', 'en-GB']) {
      const local = toDraft(f('datetime'), stored, loc) as string;
      expect(local).toMatch(/2026/);
      expect(parseDraft(f('datetime'), local, loc)).toEqual({ ok: true, value: '2026-11-26T09:30:00.000Z' });
    }
    expect(toDraft(f('datetime'), 'not a time')).toBe('');
  });

  it('shows dates and numbers in the locale form and reads them back as stored', () => {
    expect(toDraft(f('date'), '2026-12-31', 'de-DE')).toBe('31.12.2026');
    expect(toDraft(f('date'), '2026-12-31', 'en-US')).toBe('12/31/2026');
    expect(toDraft(f('date'), '2026-12-31', 'en-GB')).toBe('31/12/2026');
    expect(toDraft(f('date'), null, 'de-DE')).toBe('');
    expect(parseDraft(f('date'), '31.12.2026', 'de-DE')).toEqual({ ok: true, value: '2026-12-31' });
    expect(parseDraft(f('date'), '2026-12-31', 'de-DE')).toEqual({ ok: true, value: '2026-12-31' });
    expect(parseDraft(f('date'), '31.02.2026', 'de-DE')).toEqual({ ok: false, error: 'Enter a date like 31.12.2026' });
    expect(parseDraft(f('date'), '31/12/2026', 'en-US')).toEqual({ ok: false, error: 'Enter a date like 12/31/2026' });
    expect(toDraft(f('number'), 1234.5, 'de-DE')).toBe('1234,5');
    expect(parseDraft(f('number'), '1.234,5', 'de-DE')).toEqual({ ok: true, value: 1234.5 });
    expect(parseDraft(f('number'), '1,234.5', 'en-US')).toEqual({ ok: true, value: 1234.5 });
  });
});

describe('sameValue and checkForm', () => {
  const fields: Field[] = [
    f('text', { name: 'name', required: true }),
    f('number', { name: 'priority' }),
    f('datetime', { name: 'at' }),
    f('tags', { name: 'tags' }),
  ];

  it('treats blanks alike and datetimes as instants', () => {
    expect(sameValue(null, '')).toBe(true);
    expect(sameValue(undefined, [])).toBe(true);
    expect(sameValue('a', null)).toBe(false);
    expect(sameValue('2026-11-26T09:30:00Z', '2026-11-26T09:30:00.000Z', f('datetime'))).toBe(true);
    expect(sameValue(['a', 'b'], ['a', 'b'])).toBe(true);
    expect(sameValue(['a', 'b'], ['b', 'a'])).toBe(false);
  });

  it('returns only changed values, and errors per field', () => {
    const original = { name: 'Ada', priority: 2, at: '2026-11-26T09:30:00Z', tags: null };
    const drafts = { name: 'Ada', priority: '3', at: toDraft(f('datetime'), '2026-11-26T09:30:00Z'), tags: [] };
    expect(checkForm(fields, drafts, original)).toEqual({ changes: { priority: 3 }, errors: {} });
    expect(checkForm(fields, { ...drafts, name: ' ', priority: 'x' }, original).errors).toEqual({
      name: 'Required',
      priority: 'Enter a number',
    });
  });
});

describe('formatValue and recordTitle', () => {
  it('formats each type for a list cell', () => {
    expect(formatValue(f('boolean'), true)).toBe('Yes');
    expect(formatValue(f('tags'), ['a', 'b'])).toBe('a, b');
    expect(formatValue(f('number'), 1234.5)).toMatch(/1.?234.5/);
    expect(formatValue(f('date'), '2026-11-26')).toMatch(/2026/);
    expect(formatValue(f('text'), null)).toBe('');
  });

  it('titles a record by its title field', () => {
    const c = { title_field: 'name' } as Collection;
    expect(recordTitle(c, { name: 'Ada' })).toBe('Ada');
    expect(recordTitle(c, { name: '  ' })).toBe('Untitled');
    expect(recordTitle(undefined, {})).toBe('Untitled');
  });
});

describe('choiceTone', () => {
  const status: Field = { name: 'status', label: 'Status', type: 'choice', required: false, options: ['todo', 'doing', 'done', 'blocked'] };

  it('gives each option of a field its own colour', () => {
    const tones = status.options!.map((o) => choiceTone(status, o));
    expect(new Set(tones).size).toBe(status.options!.length);
    for (const t of tones) expect(t).toBeGreaterThanOrEqual(0);
    for (const t of tones) expect(t).toBeLessThan(CHOICE_TONES);
  });

  it('keeps a value its colour, listed or not', () => {
    expect(choiceTone(status, 'doing')).toBe(choiceTone({ ...status }, 'doing'));
    const unlisted = choiceTone(status, 'archived');
    expect(unlisted).toBe(choiceTone(status, 'archived'));
    expect(Number.isInteger(unlisted) && unlisted >= 0 && unlisted < CHOICE_TONES).toBe(true);
  });
});
