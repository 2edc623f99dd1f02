// A text field the server merged by lines and words: its clean stretches and
// clashing parts, and the text that results from a choice for each clash.
// Strings are only ever joined, never cut, so no character (emoji, accents,
// right-to-left marks, "\r\n") is split.
import type { TextPart } from './types';

/** What to keep of one clashing part. */
export type PartChoice = 'mine' | 'theirs' | 'both';

/** A choice per clashing part, in order of the clashes; a gap is still open. */
export type PartPicks = readonly (PartChoice | null | undefined)[];

export type Clash = { base: string; mine: string; theirs: string };

const isClash = (p: TextPart): p is { clash: Clash } => 'clash' in p;

/** The clashing parts, in order. */
export function clashes(parts: readonly TextPart[]): Clash[] {
  return parts.filter(isClash).map((p) => p.clash);
}

/** "\r\n" if the text uses it anywhere, else "\n". */
export function lineEnding(parts: readonly TextPart[]): '\n' | '\r\n' {
  const crlf = parts.some((p) =>
    isClash(p) ? [p.clash.base, p.clash.mine, p.clash.theirs].some((s) => s.includes('\r\n')) : p.clean.includes('\r\n'),
  );
  return crlf ? '\r\n' : '\n';
}

/**
 * Mine then theirs for the part at `at` (an index into `parts`). A clash that
 * fills whole lines keeps the two versions on lines of their own; one inside
 * a line gets a space between them unless one side brings its own.
 */
export function bothText(parts: readonly TextPart[], at: number): string {
  const part = parts[at];
  if (!part || !isClash(part)) throw new Error(`part ${at} is not a clash`);
  const { mine, theirs } = part.clash;
  if (mine === '') return theirs;
  if (theirs === '') return mine;
  if (mine.endsWith('\n')) return mine + theirs;
  const before = parts[at - 1];
  const after = parts[at + 1];
  const startsLine = !before || (!isClash(before) && before.clean.endsWith('\n'));
  const endsLine = !after || (!isClash(after) && /^\r?\n/.test(after.clean));
  if (startsLine && endsLine) return mine + lineEnding(parts) + theirs;
  if (/\s$/u.test(mine) || /^\s/u.test(theirs)) return mine + theirs;
  return `${mine} ${theirs}`;
}

/**
 * The merged text with each clash settled as picked. An open clash reads as
 * its original text, so the result stays readable while the user chooses.
 */
export function composeText(parts: readonly TextPart[], picks: PartPicks): string {
  let out = '';
  let k = 0;
  parts.forEach((part, at) => {
    if (!isClash(part)) {
      out += part.clean;
      return;
    }
    const choice = picks[k++];
    out += choice === 'both' ? bothText(parts, at) : choice ? part.clash[choice] : part.clash.base;
  });
  return out;
}

/** Whether every clash has a choice. */
export function isComplete(parts: readonly TextPart[], picks: PartPicks): boolean {
  return clashes(parts).every((_, k) => !!picks[k]);
}

/** The merged text, or null while a clash is open. */
export function mergedText(parts: readonly TextPart[], picks: PartPicks): string | null {
  return isComplete(parts, picks) ? composeText(parts, picks) : null;
}

/** The same choice for every clash (the field-level "Keep mine" / "Keep theirs"). */
export function pickAll(parts: readonly TextPart[], choice: PartChoice): PartChoice[] {
  return clashes(parts).map(() => choice);
}
