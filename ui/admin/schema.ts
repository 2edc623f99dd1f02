// Editing collection definitions: what the server accepts (checked in the
// forms before anything is sent), what an edit changes, and which
// migrations a field allows. The server has the last word on each.
import type { CollectionSpec, Field, FieldMigration, FieldType, Policy, Retention } from './types';
import { count, plural } from './format';

export const TYPE_WORDS: Record<FieldType, string> = {
  text: 'Text',
  longtext: 'Long text',
  number: 'Number',
  boolean: 'Yes / no',
  date: 'Date',
  datetime: 'Date and time',
  choice: 'Choice',
  tags: 'Tags',
  file: 'File',
};

/** The types a new field may have here (file fields come from a schema file). */
export const NEW_FIELD_TYPES: FieldType[] = ['text', 'longtext', 'number', 'boolean', 'date', 'datetime', 'choice', 'tags'];

export const POLICY_WORDS: Record<Policy, string> = {
  manual: 'People choose (conflicts)',
  newest_wins: 'The newest wins',
};

export const MAX_NAME = 64;

/** Why `name` cannot name a collection or a field, or null when it can. */
export function nameProblem(name: string, what: 'collection' | 'field', taken: readonly string[] = []): string | null {
  if (name === '') return `Enter a ${what} name.`;
  if (name.length > MAX_NAME) return `A ${what} name has at most ${MAX_NAME} characters.`;
  if (!/^[a-z]/.test(name)) return `A ${what} name starts with a lowercase letter (a–z).`;
  if (!/^[a-z0-9_]+$/.test(name)) return 'Use only lowercase letters (a–z), digits and “_”.';
  if (taken.includes(name)) return `There is already a ${what} “${name}”.`;
  return null;
}

/** Why `label` cannot be a label, or null. */
/** The three limits of a collection's history, as the console names them. */
export const RETENTION_KEYS = ['versions', 'days', 'tombstone_days'] as const;
export type RetentionKey = (typeof RETENTION_KEYS)[number];

/** Why a limit typed for history is not one; blank (keep everything) is. */
export function retentionProblem(text: string): string | null {
  const t = text.trim();
  if (t === '') return null;
  if (!/^[0-9]+$/.test(t)) return 'Enter a whole number, or leave it empty.';
  const n = Number(t);
  return n >= 1 && n <= 36500 ? null : 'Enter a number from 1 to 36500.';
}

/** How much history a collection keeps, in words. */
export function retentionWords(h: Retention | undefined): string {
  const parts: string[] = [];
  if (h?.versions) parts.push(`the latest ${plural(h.versions, 'version')} of each record`);
  if (h?.days) parts.push(`${parts.length ? 'and ' : ''}versions younger than ${plural(h.days, 'day')}`);
  const tombstones = h?.tombstone_days ?? h?.days;
  const kept = parts.length ? `Keeps ${parts.join(' ')}` : 'Keeps every version';
  return tombstones
    ? `${kept}; deleted records are forgotten ${plural(tombstones, 'day')} after deletion`
    : `${kept}; deleted records are kept`;
}

export function labelProblem(label: string): string | null {
  return label.trim() === '' ? 'Enter a label.' : null;
}

/** The options written in `text`, separated by commas: trimmed, blanks and repeats left out. */
export function parseOptions(text: string): string[] {
  const out: string[] = [];
  for (const o of text.split(',').map((s) => s.trim())) if (o && !out.includes(o)) out.push(o);
  return out;
}

/** Why `option` cannot be added to `existing`, or null. */
export function optionProblem(option: string, existing: readonly string[]): string | null {
  const o = option.trim();
  if (o === '') return 'Enter an option.';
  if (existing.includes(o)) return `“${o}” is already an option.`;
  return null;
}

/** A label from a field name: "due_date" → "Due date". */
export function labelFromName(name: string): string {
  const s = name.replace(/_+/g, ' ').trim();
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * The types a field may change to by a migration (as the server's
 * `convertible`): to text or long text from any plain type, and to a
 * number, a date or tags from text. A partition field stays text.
 */
export function typeTargets(field: Field, spec: CollectionSpec): FieldType[] {
  const plain: FieldType[] = ['text', 'longtext', 'number', 'boolean', 'date', 'datetime', 'choice', 'tags'];
  if (!plain.includes(field.type)) return [];
  const targets: FieldType[] = ['text', 'longtext'];
  if (field.type === 'text' || field.type === 'longtext') targets.push('number', 'date', 'tags');
  return targets.filter((t) => t !== field.type && (spec.partition_by !== field.name || t === 'text'));
}

/** A deep copy to edit. */
export function cloneSpec(spec: CollectionSpec): CollectionSpec {
  return JSON.parse(JSON.stringify(spec)) as CollectionSpec;
}

export function sameSpec(a: CollectionSpec, b: CollectionSpec): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

const quote = (s: string) => `“${s}”`;

/** What editing `old` into `next` changes, one line each; empty when nothing does. */
export function editSummary(old: CollectionSpec, next: CollectionSpec): string[] {
  const out: string[] = [];
  if (old.label !== next.label) out.push(`Label: ${quote(old.label)} → ${quote(next.label)}`);
  if (old.policy !== next.policy) out.push(`Edits of the same field: ${POLICY_WORDS[next.policy]}`);
  if (JSON.stringify(old.history ?? {}) !== JSON.stringify(next.history ?? {})) {
    out.push(`History: ${retentionWords(next.history).toLowerCase()}`);
  }
  if (old.title_field !== next.title_field) {
    const f = next.fields.find((f) => f.name === next.title_field);
    out.push(`Title: ${f?.label ?? next.title_field}`);
  }
  for (const f of next.fields) {
    const before = old.fields.find((o) => o.name === f.name);
    if (!before) {
      out.push(`New field ${f.label} (${f.name}, ${TYPE_WORDS[f.type].toLowerCase()}${f.required ? ', required' : ''})`);
      continue;
    }
    if (before.label !== f.label) out.push(`${before.label}: label ${quote(f.label)}`);
    if (before.required !== f.required) out.push(`${f.label}: ${f.required ? 'required' : 'optional'}`);
    const added = (f.options ?? []).filter((o) => !(before.options ?? []).includes(o));
    const dropped = (before.options ?? []).filter((o) => !(f.options ?? []).includes(o));
    if (added.length) out.push(`${f.label}: new ${added.length === 1 ? 'option' : 'options'} ${added.map(quote).join(', ')}`);
    if (dropped.length) out.push(`${f.label}: ${dropped.length === 1 ? 'option' : 'options'} ${dropped.map(quote).join(', ')} dropped`);
  }
  const kept = next.fields.filter((f) => old.fields.some((o) => o.name === f.name)).map((f) => f.name);
  if (kept.join() !== old.fields.map((f) => f.name).join()) out.push('Order of the fields');
  return out;
}

/** Fields `next` makes required that were not (`isNew`: a field `old` lacks). */
export function newlyRequired(old: CollectionSpec, next: CollectionSpec): { field: Field; isNew: boolean }[] {
  return next.fields
    .filter((f) => f.required)
    .map((f) => ({ field: f, before: old.fields.find((o) => o.name === f.name) }))
    .filter(({ before }) => !before?.required)
    .map(({ field, before }) => ({ field, isNew: !before }));
}

/** Options of choice fields `next` drops. */
export function droppedOptions(old: CollectionSpec, next: CollectionSpec): { field: Field; options: string[] }[] {
  const out: { field: Field; options: string[] }[] = [];
  for (const f of next.fields) {
    const before = old.fields.find((o) => o.name === f.name);
    const gone = (before?.options ?? []).filter((o) => !(f.options ?? []).includes(o));
    if (gone.length) out.push({ field: f, options: gone });
  }
  return out;
}

/** "20 of 160 records have no value — they must get one first". */
export function missingSentence(missing: number, live: number): string {
  return `${count(missing)} of ${count(live)} ${live === 1 ? 'record has' : 'records have'} no value — they must get one first`;
}

/** "Rename Assignee to “owner”", for the progress of a migration. */
export function migrationWords(m: FieldMigration, spec?: CollectionSpec): string {
  const label = spec?.fields.find((f) => f.name === m.field)?.label;
  const field = label ? `${label} (${m.field})` : m.field;
  switch (m.kind) {
    case 'rename_field':
      return `Renaming ${field} to ${quote(m.to)}`;
    case 'remove_field':
      return `Removing ${field}`;
    case 'change_type':
      return `Changing ${field} to ${TYPE_WORDS[m.to].toLowerCase()}`;
  }
}

/** A value a migration could not convert, as text. */
export function valueText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return '';
  return JSON.stringify(v);
}
