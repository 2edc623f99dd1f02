// Records as the editor, history and outbox describe them.
import { fieldLabel, formatValue, sameValue } from './fields';
import type { Collection, CommandError, Field, Mutation, ServerRecord } from './types';

export type EditorTarget = { mode: 'edit'; id: string } | { mode: 'new' };

/** The field a refused value belongs to (the backend names it), if it is one of `fields`. */
export function invalidField(err: CommandError, fields: readonly Field[]): string | null {
  const name = err.kind === 'invalid' ? err.field : undefined;
  return name && fields.some((f) => f.name === name) ? name : null;
}

export interface Change {
  field: string;
  label: string;
  before: string;
  after: string;
}

export interface HistoryEntry {
  version: number;
  by: string;
  at: string;
  what: 'created' | 'changed' | 'deleted' | 'restored' | 'merged';
  changes: Change[];
  /** For a merge: the version the merged edit started from, and the versions since that it was combined with. */
  merged?: { from: number; with: { version: number; by: string }[] };
}

/** Versions newest first, each with what it changed compared with the one before. */
export function historyEntries(collection: Collection | undefined, versions: readonly ServerRecord[]): HistoryEntry[] {
  const fieldOf = (name: string) => collection?.fields.find((f) => f.name === name);
  const out: HistoryEntry[] = [];
  versions.forEach((v, k) => {
    const prev = k > 0 ? versions[k - 1] : undefined;
    const names = new Set([...Object.keys(v.fields), ...Object.keys(prev?.fields ?? {})]);
    const changes: Change[] = [];
    for (const name of names) {
      const field = fieldOf(name);
      if (!sameValue(prev?.fields[name], v.fields[name], field)) {
        changes.push({
          field: name,
          label: fieldLabel(collection, name),
          before: formatValue(field, prev?.fields[name]),
          after: formatValue(field, v.fields[name]),
        });
      }
    }
    const from = v.merged_from ?? null;
    const merge = from !== null && prev && !v.deleted && !prev.deleted;
    const what = !prev ? 'created' : v.deleted ? 'deleted' : prev.deleted ? 'restored' : merge ? 'merged' : 'changed';
    const entry: HistoryEntry = { version: Number(v.version), by: v.updated_by, at: v.updated_at, what, changes: what === 'deleted' ? [] : changes };
    if (merge) {
      const others = versions.filter((o) => Number(o.version) > Number(from) && Number(o.version) < Number(v.version));
      entry.merged = { from: Number(from), with: others.map((o) => ({ version: Number(o.version), by: o.updated_by })) };
    }
    out.push(entry);
  });
  return out.reverse();
}

/** What an outbox mutation does, in words: "Created", "Deleted", or the changed fields. */
export function describeMutation(collection: Collection | undefined, m: Mutation): { what: 'created' | 'changed' | 'deleted'; changes: Change[] } {
  if (m.op === 'delete') return { what: 'deleted', changes: [] };
  const created = m.base_version === null;
  const changes = Object.keys(m.fields).map((name) => {
    const field = collection?.fields.find((f) => f.name === name);
    return {
      field: name,
      label: fieldLabel(collection, name),
      before: created ? '' : formatValue(field, m.base[name]),
      after: formatValue(field, m.fields[name]),
    };
  });
  return { what: created ? 'created' : 'changed', changes };
}
