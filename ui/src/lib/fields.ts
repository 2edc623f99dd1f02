// Field values between JSON (what records hold), form drafts (what inputs
// hold) and text (what lists and dialogs show), per field type.
import {
  date, dateExample, dateTime, dateTimeExample, formatDateInput, formatDateTimeInput, formatNumberInput, isIsoDate, locale,
  number, parseDateInput, parseDateTimeInput, parseNumberInput,
} from './locale';
import { filesSummary } from './files';
import type { Collection, Field, Fields, JsonValue } from './types';

/** What a form input holds while the user edits a field. */
export type Draft = string | boolean | string[];

export type Parsed = { ok: true; value: JsonValue } | { ok: false; error: string };

/** Whether `s` is a real calendar date written YYYY-MM-DD. */
export const isDate = isIsoDate;

/** The input value for a stored value; dates and times in the locale's form ("31.12.2026"). */
export function toDraft(field: Field, value: JsonValue | undefined, loc = locale): Draft {
  switch (field.type) {
    case 'boolean':
      return value === true;
    case 'tags':
      return Array.isArray(value) ? value.filter((t): t is string => typeof t === 'string') : [];
    case 'number':
      return typeof value === 'number' ? formatNumberInput(value, loc) : '';
    case 'date':
      return typeof value === 'string' ? formatDateInput(value, loc) : '';
    case 'datetime':
      return typeof value === 'string' ? formatDateTimeInput(value, loc) : '';
    default:
      if (value === null || value === undefined) return '';
      return typeof value === 'string' ? value : String(value);
  }
}

/** Normalises a list of tags: trimmed, no blanks, no repeats. */
export function cleanTags(tags: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const raw of tags) {
    const t = raw.trim();
    if (t && !seen.has(t)) {
      seen.add(t);
      out.push(t);
    }
  }
  return out;
}

/** Checks and converts an input value to what the record stores (dates as YYYY-MM-DD, times as RFC 3339 UTC). */
export function parseDraft(field: Field, draft: Draft, loc = locale): Parsed {
  const required = (): Parsed =>
    field.required ? { ok: false, error: 'Required' } : { ok: true, value: null };
  switch (field.type) {
    case 'boolean':
      return { ok: true, value: draft === true };
    case 'tags': {
      const tags = cleanTags(Array.isArray(draft) ? draft : []);
      return tags.length ? { ok: true, value: tags } : required();
    }
  }
  const text = typeof draft === 'string' ? draft : '';
  if (text.trim() === '') return required();
  switch (field.type) {
    case 'text':
    case 'longtext':
      return { ok: true, value: text };
    case 'number': {
      const n = parseNumberInput(text, loc);
      return n === null ? { ok: false, error: 'Enter a number' } : { ok: true, value: n };
    }
    case 'date': {
      const iso = parseDateInput(text, loc);
      return iso ? { ok: true, value: iso } : { ok: false, error: `Enter a date like ${dateExample(loc)}` };
    }
    case 'datetime': {
      const iso = parseDateTimeInput(text, loc);
      return iso ? { ok: true, value: iso } : { ok: false, error: `Enter a date and time like ${dateTimeExample(loc)}` };
    }
    case 'choice': {
      const options = field.options ?? [];
      return options.includes(text)
        ? { ok: true, value: text }
        : { ok: false, error: `Choose one of: ${options.join(', ')}` };
    }
  }
  return { ok: false, error: 'Unsupported field type' };
}

const blank = (v: JsonValue | undefined) =>
  v === null || v === undefined || v === '' || (Array.isArray(v) && v.length === 0);

/** JSON equality where blanks are alike and datetimes compare as instants. */
export function sameValue(a: JsonValue | undefined, b: JsonValue | undefined, field?: Field): boolean {
  if (blank(a) && blank(b)) return true;
  if (blank(a) || blank(b)) return false;
  if (field?.type === 'datetime' && typeof a === 'string' && typeof b === 'string') {
    const ta = Date.parse(a);
    const tb = Date.parse(b);
    if (!Number.isNaN(ta) && !Number.isNaN(tb)) return ta === tb;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  }
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => sameValue(a[k], b[k]));
  }
  return a === b;
}

export interface FormCheck {
  /** Values that differ from `original`, ready to send. */
  changes: Fields;
  /** Field name → message, for fields whose input is not valid. */
  errors: Record<string, string>;
}

/** Validates every draft and collects what changed. */
export function checkForm(fields: readonly Field[], drafts: Record<string, Draft>, original: Fields): FormCheck {
  const changes: Fields = {};
  const errors: Record<string, string> = {};
  for (const field of fields) {
    const draft = drafts[field.name];
    if (draft === undefined) continue;
    const parsed = parseDraft(field, draft);
    if (!parsed.ok) {
      errors[field.name] = parsed.error;
    } else if (!sameValue(parsed.value, original[field.name], field)) {
      changes[field.name] = parsed.value;
    }
  }
  return { changes, errors };
}

/** A value as one line of text, in the user's locale; blank values give ''. */
export function formatValue(field: Field | undefined, value: JsonValue | undefined, loc = locale): string {
  if (blank(value)) return '';
  if (field?.type === 'file') return filesSummary(value);
  if (Array.isArray(value)) return value.map((v) => String(v)).join(', ');
  switch (field?.type) {
    case 'boolean':
      return value ? 'Yes' : 'No';
    case 'number':
      return typeof value === 'number' ? number(value, loc) : String(value);
    case 'date':
      return typeof value === 'string' ? date(value, loc) : String(value);
    case 'datetime': {
      const t = typeof value === 'string' ? Date.parse(value) : NaN;
      return Number.isNaN(t) ? String(value) : dateTime(t, loc);
    }
  }
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

/** The title of a record: its title field, or "Untitled". */
export function recordTitle(collection: Collection | undefined, fields: Fields | null | undefined): string {
  const name = collection?.title_field;
  const v = name && fields ? fields[name] : undefined;
  return typeof v === 'string' && v.trim() ? v : 'Untitled';
}

/** A field's label, or its name when the schema does not know it. */
export function fieldLabel(collection: Collection | undefined, name: string): string {
  return collection?.fields.find((f) => f.name === name)?.label ?? name;
}

/** Field types whose values can be filtered by equality. */
export function isFilterable(field: Field): boolean {
  return field.type === 'choice' || field.type === 'boolean' || field.type === 'tags';
}

/** Field types worth a column in the record list. */
export function isListColumn(field: Field): boolean {
  return field.type !== 'longtext';
}

/** How many colours choice badges cycle through (app.css: .tone-0 … .tone-7). */
export const CHOICE_TONES = 8;

/**
 * The colour slot of a choice value: its place among the field's options, so
 * options get distinct colours; a value the schema does not list, by a hash,
 * so it keeps its colour.
 */
export function choiceTone(field: Field, value: string): number {
  const i = (field.options ?? []).indexOf(value);
  if (i >= 0) return i % CHOICE_TONES;
  let h = 0;
  for (const ch of value) h = (Math.imul(h, 31) + ch.codePointAt(0)!) >>> 0;
  return h % CHOICE_TONES;
}
