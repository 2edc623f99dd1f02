// Which records of a list are selected, kept as a set of ids so that a
// selection of every match (100,000 records) costs no per-row work.
import { count } from './locale';

/** The selection with `id` added, or taken out if it was in. */
export function toggled(selection: ReadonlySet<string>, id: string): Set<string> {
  const next = new Set(selection);
  if (!next.delete(id)) next.add(id);
  return next;
}

/** Rows `from` to `to` (either order, both included). */
export function span(from: number, to: number): [number, number] {
  return from <= to ? [from, to] : [to, from];
}

/**
 * The ids of rows `lo`..=`hi` from the rows on hand, or null when one of
 * them is not loaded (the caller then asks for the ids of the whole view).
 */
export function idsBetween(lo: number, hi: number, idAt: (i: number) => string | undefined): string[] | null {
  const out: string[] = [];
  for (let i = lo; i <= hi; i++) {
    const id = idAt(i);
    if (id === undefined) return null;
    out.push(id);
  }
  return out;
}

/** A range selected with Shift: it replaces the selection, or with Ctrl/⌘ adds to it. */
export function withRange(selection: ReadonlySet<string>, ids: readonly string[], add: boolean): Set<string> {
  const next = add ? new Set(selection) : new Set<string>();
  for (const id of ids) next.add(id);
  return next;
}

export interface Skips {
  /** "2 skipped: waiting for your decision on a conflict" */
  summary: string;
  /** Ids left alone, so that an undo leaves them alone too. */
  ids: Set<string>;
}

/** Records a bulk edit left alone, grouped by why. */
export function skips(skipped: readonly { id: string; reason: string }[], count: (n: number) => string): Skips | null {
  if (skipped.length === 0) return null;
  const byReason = new Map<string, number>();
  for (const s of skipped) byReason.set(s.reason, (byReason.get(s.reason) ?? 0) + 1);
  const reasons = [...byReason].map(([reason, n]) => (byReason.size === 1 ? reason : `${count(n)} ${reason}`));
  return { summary: `${count(skipped.length)} skipped: ${reasons.join('; ')}`, ids: new Set(skipped.map((s) => s.id)) };
}

/** "1 contact", "1,234 contacts", from the collection's (plural) label. */
export function recordCount(collection: { label: string }, n: number): string {
  const many = collection.label.toLowerCase();
  return `${count(n)} ${n === 1 ? many.replace(/s$/, '') : many}`;
}
