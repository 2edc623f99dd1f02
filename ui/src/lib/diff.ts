// Word-level differences between two texts, for the conflict dialog.

export type DiffPart = { kind: 'same' | 'added' | 'removed'; text: string };

/** Splits text into words and the runs of spaces and punctuation between them. */
export function tokenize(text: string): string[] {
  return text.match(/[\p{L}\p{N}_]+|\s+|[^\p{L}\p{N}_\s]/gu) ?? [];
}

// Above this many token pairs the table would be too big: show a plain replacement.
const MAX_CELLS = 250_000;

/**
 * The parts of `before` and `after`, in order: unchanged, removed (only in
 * `before`) and added (only in `after`). Neighbouring parts of one kind are
 * merged, so "a b c" → "a x c" gives same "a ", removed "b", added "x", same " c".
 */
export function diffWords(before: string, after: string): DiffPart[] {
  if (before === after) return before ? [{ kind: 'same', text: before }] : [];
  const a = tokenize(before);
  const b = tokenize(after);
  // Trim the common prefix and suffix; the table then only covers the middle.
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const parts: DiffPart[] = [];
  const push = (kind: DiffPart['kind'], text: string) => {
    if (!text) return;
    const last = parts[parts.length - 1];
    if (last && last.kind === kind) last.text += text;
    else parts.push({ kind, text });
  };
  push('same', a.slice(0, start).join(''));
  const midA = a.slice(start, endA);
  const midB = b.slice(start, endB);
  const n = midA.length;
  const m = midB.length;
  if (n * m > MAX_CELLS) {
    push('removed', midA.join(''));
    push('added', midB.join(''));
  } else {
    // lcs[i][j]: longest common subsequence of midA[i..] and midB[j..].
    const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i]![j] = midA[i] === midB[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n && j < m) {
      if (midA[i] === midB[j]) {
        push('same', midA[i]!);
        i++;
        j++;
      } else if (lcs[i + 1]![j]! >= lcs[i]![j + 1]!) {
        push('removed', midA[i]!);
        i++;
      } else {
        push('added', midB[j]!);
        j++;
      }
    }
    push('removed', midA.slice(i).join(''));
    push('added', midB.slice(j).join(''));
  }
  push('same', a.slice(endA).join(''));
  return tidy(parts);
}

/**
 * Orders each run of changes as removed-then-added. A bare space between two
 * changes joins both sides of the run, so "~~old~~ ~~words~~" reads as one change.
 */
function tidy(parts: DiffPart[]): DiffPart[] {
  const out: DiffPart[] = [];
  let removed = '';
  let added = '';
  const flush = () => {
    if (removed) out.push({ kind: 'removed', text: removed });
    if (added) out.push({ kind: 'added', text: added });
    removed = '';
    added = '';
  };
  parts.forEach((p, k) => {
    const inRun = removed !== '' || added !== '';
    const next = parts[k + 1];
    if (p.kind === 'removed') removed += p.text;
    else if (p.kind === 'added') added += p.text;
    else if (inRun && next && /^\s+$/.test(p.text)) {
      removed += p.text;
      added += p.text;
    } else {
      flush();
      const last = out[out.length - 1];
      if (last && last.kind === 'same') last.text += p.text;
      else out.push({ ...p });
    }
  });
  flush();
  return out;
}

/** The text one side of a diff shows: `before` without additions, `after` without removals. */
export function sideText(parts: readonly DiffPart[], side: 'before' | 'after'): string {
  const skip = side === 'before' ? 'added' : 'removed';
  return parts
    .filter((p) => p.kind !== skip)
    .map((p) => p.text)
    .join('');
}

/**
 * A word diff worth reading, or null when the texts share too little for
 * one (an email address changed, a sentence rewritten): then the whole new
 * value is the change.
 */
export function readableDiff(before: string, after: string): DiffPart[] | null {
  if (!before.trim() || !after.trim()) return null;
  const parts = diffWords(before, after);
  const kept = parts.filter((p) => p.kind === 'same').reduce((n, p) => n + p.text.trim().length, 0);
  const longest = Math.max(before.trim().length, after.trim().length);
  return kept / longest < 0.5 ? null : parts;
}
