import { describe, expect, it } from 'vitest';
import { exportName, importBlocker, remap, reportSummary, withFormat } from '../src/lib/transfer';
import type { Collection, ImportPreview, ImportReport } from '../src/lib/types';

const contacts = {
  name: 'contacts',
  label: 'Contacts',
  title_field: 'name',
  fields: [
    { name: 'name', label: 'Name', type: 'text', required: true },
    { name: 'email', label: 'Email', type: 'text', required: false },
  ],
} as Collection;

const preview = (over: Partial<ImportPreview> = {}): ImportPreview => ({
  path: '/tmp/a.csv', format: 'csv', columns: ['A', 'B'], sample: [], rows: 10, valid: 8, problems: [], problem_rows: 2,
  options: { mapping: [], key: null }, matches: 0, resume_from: 0, already_imported: false, ...over,
});

const report = (over: Partial<ImportReport> = {}): ImportReport => ({
  rows: 100_000, created: 0, updated: 0, unchanged: 0, skipped: 0, problems: [], resumed_from: 0, cancelled: false, done: 0, ...over,
});

describe('import', () => {
  it('says why Import is off', () => {
    const none = { mapping: [{ column: 'A', field: null }, { column: 'B', field: null }], key: null };
    expect(importBlocker(contacts, preview(), none)).toBe('Choose a field for at least one column.');
    const twice = { mapping: [{ column: 'A', field: 'email' }, { column: 'B', field: 'email' }], key: null };
    expect(importBlocker(contacts, preview(), twice)).toBe('Two columns go to Email: leave one of them out.');
    const keyless = { mapping: [{ column: 'A', field: 'email' }, { column: 'B', field: null }], key: 'name' };
    expect(importBlocker(contacts, preview(), keyless)).toMatch(/^No column goes to Name/);
    const ok = { mapping: [{ column: 'A', field: 'name' }, { column: 'B', field: 'email' }], key: 'name' };
    expect(importBlocker(contacts, preview(), ok)).toBeNull();
    expect(importBlocker(contacts, preview({ valid: 0 }), ok)).toBe('No row can be imported: see the problems below.');
    expect(importBlocker(contacts, preview({ valid: 0, rows: 0 }), ok)).toBe('The file has no rows to import.');
  });

  it('changes one column of the mapping', () => {
    expect(remap([{ column: 'A', field: null }, { column: 'B', field: 'name' }], 'A', 'email')).toEqual([
      { column: 'A', field: 'email' },
      { column: 'B', field: 'name' },
    ]);
  });

  it('sums up a finished import', () => {
    expect(reportSummary(report({ created: 9000, updated: 980, skipped: 20, done: 10_000, rows: 10_000 }))).toBe(
      'Imported 9,980 rows: 9,000 new, 980 updated; 20 rows left out.',
    );
    expect(reportSummary(report({ created: 1, done: 1, rows: 1 }))).toBe('Imported 1 row: 1 new, 0 updated.');
    expect(reportSummary(report({ created: 2, unchanged: 3, done: 5, rows: 5 }))).toBe('Imported 5 rows: 2 new, 0 updated, 3 unchanged.');
  });

  it('says how many rows a cancelled import kept', () => {
    expect(reportSummary(report({ cancelled: true, created: 4000, done: 4000 }))).toBe(
      'Import cancelled after 4,000 of 100,000 rows. Those rows are saved; importing the same file again continues after them.',
    );
    expect(reportSummary(report({ cancelled: true }))).toBe('Import cancelled before any row was saved: nothing was imported.');
  });
});

describe('export', () => {
  it('suggests a file name and keeps a typed extension in step with the format', () => {
    expect(exportName('contacts', 'csv')).toBe('contacts.csv');
    expect(withFormat('/tmp/a.csv', 'jsonl')).toBe('/tmp/a.jsonl');
    expect(withFormat('/tmp/a.ndjson', 'csv')).toBe('/tmp/a.csv');
    expect(withFormat('/tmp/report', 'csv')).toBe('/tmp/report');
  });
});
