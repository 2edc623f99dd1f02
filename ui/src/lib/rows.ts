import type { Rows } from './bindings/Rows';

/** The partition values a field value places a record in: a text or choice is one, tags one each. */
export function partitionValues(value: unknown): string[] {
  if (typeof value === 'string') return value ? [value] : [];
  if (Array.isArray(value)) return [...new Set(value.filter((v): v is string => typeof v === 'string'))].sort();
  return [];
}

/**
 * The values a record placed by `value` would be handed to: ones I may
 * write but not read (a `--write-only` grant), so the record leaves my
 * laptop once the save is sent. Empty when I would still see it.
 */
export function handedTo(rows: Rows | null | undefined, value: unknown): string[] {
  if (!rows?.read) return [];
  const parts = partitionValues(value);
  if (parts.some((p) => rows.read!.includes(p))) return [];
  return parts.filter((p) => !rows.write || rows.write.includes(p));
}
