// Wording and small rules of the Import and Export dialogs, kept apart so they can be unit tested.
import { count as grouped } from './locale';
import type { Collection, ColumnMapping, FileFormat, ImportOptions, ImportPreview, ImportReport } from './types';

/** A count in the user's locale: "1,234", "1.234". */
export const n = (x: number | bigint): string => grouped(x);

/** "1 row", "1,234 rows". */
export function count(x: number | bigint, one: string, many = `${one}s`): string {
  return `${n(x)} ${Number(x) === 1 ? one : many}`;
}

/** Why the Import button cannot be used, or null when it can. */
export function importBlocker(collection: Collection, preview: ImportPreview, options: ImportOptions): string | null {
  const mapped = options.mapping.filter((m) => m.field !== null);
  if (mapped.length === 0) return 'Choose a field for at least one column.';
  const seen = new Set<string>();
  for (const m of mapped) {
    if (seen.has(m.field!)) {
      const label = collection.fields.find((f) => f.name === m.field)?.label ?? m.field;
      return `Two columns go to ${label}: leave one of them out.`;
    }
    seen.add(m.field!);
  }
  if (options.key !== null && !mapped.some((m) => m.field === options.key)) {
    const label = collection.fields.find((f) => f.name === options.key)?.label ?? options.key;
    return `No column goes to ${label}, so no record can match: choose a column for it, or create a record for every row.`;
  }
  if (Number(preview.valid) === 0) {
    return Number(preview.rows) === 0 ? 'The file has no rows to import.' : 'No row can be imported: see the problems below.';
  }
  return null;
}

/** The same mapping, with `column` going to `field` (null: left out). */
export function remap(mapping: ColumnMapping[], column: string, field: string | null): ColumnMapping[] {
  return mapping.map((m) => (m.column === column ? { column, field } : m));
}

/** What the finished (or cancelled) import did, in one sentence. */
export function reportSummary(report: ImportReport): string {
  const done = Number(report.done);
  if (report.cancelled) {
    if (done === 0) return 'Import cancelled before any row was saved: nothing was imported.';
    return `Import cancelled after ${n(done)} of ${count(report.rows, 'row')}. Those rows are saved; importing the same file again continues after them.`;
  }
  const parts = [`${n(report.created)} new`, `${n(report.updated)} updated`];
  if (Number(report.unchanged) > 0) parts.push(`${n(report.unchanged)} unchanged`);
  // `done` is how far into the file it got; the rows imported are those written or found unchanged.
  const imported = Number(report.created) + Number(report.updated) + Number(report.unchanged);
  let s = `Imported ${count(imported, 'row')}: ${parts.join(', ')}`;
  if (Number(report.skipped) > 0) s += `; ${count(report.skipped, 'row')} left out`;
  return `${s}.`;
}

/** The file name the Save dialog suggests: "contacts.csv". */
export function exportName(collection: string, format: FileFormat): string {
  return `${collection}.${format}`;
}

/** A typed path follows a change of format when its extension named the other one. */
export function withFormat(path: string, format: FileFormat): string {
  return path.replace(/\.(csv|jsonl|ndjson)$/i, `.${format}`);
}
