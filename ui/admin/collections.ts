// Reading a collection definition as the console needs it.
import type { CollectionSpec, Field, Grant, GrantAccess, Subject } from './types';

/** The field a collection is partitioned by, or null. */
export function partitionField(c: CollectionSpec): Field | null {
  const name = c.partition_by ?? null;
  if (!name) return null;
  return c.fields.find((f) => f.name === name) ?? { name, label: name, type: 'text', required: false };
}

export const ACCESS_WORDS: Record<GrantAccess, string> = {
  read: 'Read',
  write: 'Read and write',
  write_only: 'Write only',
};

export function subjectWords(s: Subject): string {
  switch (s.kind) {
    case 'user':
      return s.name;
    case 'team':
      return `Team ${s.name}`;
    case 'everyone':
      return 'Everyone';
  }
}

/** A stable key of a grant, for lists. */
export function grantKey(g: Grant): string {
  return JSON.stringify([g.subject, g.collection, g.access, g.values]);
}
