import { describe, expect, it } from 'vitest';
import { bothText, clashes, composeText, isComplete, lineEnding, mergedText, pickAll } from '../src/lib/textmerge';
import type { TextPart } from '../src/lib/types';

const clean = (text: string): TextPart => ({ clean: text });
const clash = (base: string, mine: string, theirs: string): TextPart => ({ clash: { base, mine, theirs } });

// Two lines agreed on around a word clash and a whole-line clash.
const HEAD = 'Met at the autumn fair.\nPrefers ';
const MID = ', mornings only.\nContract:\n';
const TAIL = '\nSend the brochure.';
const WORD = { base: 'email', mine: 'a phone call', theirs: 'video calls' };
const LINE = { base: 'draft', mine: 'signed by Ada', theirs: 'waiting for legal' };
const notes: TextPart[] = [
  clean(HEAD),
  clash(WORD.base, WORD.mine, WORD.theirs),
  clean(MID),
  clash(LINE.base, LINE.mine, LINE.theirs),
  clean(TAIL),
];

describe('composeText', () => {
  it('keeps every clean stretch and settles each clash as picked', () => {
    expect(composeText(notes, ['mine', 'theirs'])).toBe(HEAD + WORD.mine + MID + LINE.theirs + TAIL);
    expect(composeText(notes, ['theirs', 'mine'])).toBe(HEAD + WORD.theirs + MID + LINE.mine + TAIL);
  });

  it('reads an open clash as its original', () => {
    expect(composeText(notes, [])).toBe(HEAD + WORD.base + MID + LINE.base + TAIL);
    expect(composeText(notes, [undefined, 'mine'])).toBe(HEAD + WORD.base + MID + LINE.mine + TAIL);
  });

  it('is the clean text itself when nothing clashed', () => {
    expect(composeText([clean('all agreed\n')], [])).toBe('all agreed\n');
    expect(composeText([], [])).toBe('');
  });
});

describe('both', () => {
  it('puts mine before theirs, a space between them inside a line', () => {
    expect(composeText(notes, ['both', 'mine'])).toBe(`${HEAD}${WORD.mine} ${WORD.theirs}${MID}${LINE.mine}${TAIL}`);
  });

  it('keeps the versions of a clash that fills whole lines on lines of their own', () => {
    expect(composeText(notes, ['mine', 'both'])).toBe(`${HEAD}${WORD.mine}${MID}${LINE.mine}\n${LINE.theirs}${TAIL}`);
  });

  it('adds no separator when one side brings its own', () => {
    // Insertions at the same place, each starting with its space.
    const parts = [clean('Send the brochure'), clash('', ' and price list', ' by post'), clean('.')];
    expect(bothText(parts, 1)).toBe(' and price list' + ' by post');
    // Whole lines that end with their line end already.
    const lines = [clean('a\n'), clash('', 'mine\n', 'theirs\n'), clean('z\n')];
    expect(bothText(lines, 1)).toBe('mine\n' + 'theirs\n');
  });

  it('is the other side when one side removed the part', () => {
    const parts = [clean('a '), clash('b', '', 'c'), clean(' d')];
    expect(bothText(parts, 1)).toBe('c');
    expect(bothText([clean('a '), clash('b', 'c', ''), clean(' d')], 1)).toBe('c');
  });

  it('counts the start and end of the text as line boundaries', () => {
    expect(bothText([clash('old', 'mine', 'theirs')], 0)).toBe('mine\ntheirs');
    expect(bothText([clash('old', 'mine', 'theirs'), clean('\nrest')], 0)).toBe('mine\ntheirs');
    expect(bothText([clean('first\n'), clash('old', 'mine', 'theirs')], 1)).toBe('mine\ntheirs');
    // Not at a line start: the clash is inside the line.
    expect(bothText([clean('first '), clash('old', 'mine', 'theirs')], 1)).toBe('mine theirs');
  });

  it('uses the text\'s own line ending, CRLF included', () => {
    const parts = [clean('Contract:\r\n'), clash('draft', 'signed', 'waiting'), clean('\r\nSend it.\r\n')];
    expect(lineEnding(parts)).toBe('\r\n');
    expect(composeText(parts, ['both'])).toBe('Contract:\r\nsigned\r\nwaiting\r\nSend it.\r\n');
    expect(lineEnding(notes)).toBe('\n');
  });

  it('refuses a part that is not a clash', () => {
    expect(() => bothText(notes, 0)).toThrow();
  });
});

describe('characters are never split', () => {
  it('keeps emoji sequences and right-to-left text whole', () => {
    const family = '👩‍👩‍👧‍👦';
    const flag = '🏳️‍🌈';
    const arabic = 'مرحبا بالعالم';
    const hebrew = 'שלום עולם';
    const parts = [clean(`${flag} ${arabic}\n`), clash('x', `${family}👍🏽`, hebrew), clean(`\n${hebrew}`)];
    expect(composeText(parts, ['mine'])).toBe(`${flag} ${arabic}\n${family}👍🏽\n${hebrew}`);
    expect(composeText(parts, ['both'])).toBe(`${flag} ${arabic}\n${family}👍🏽\n${hebrew}\n${hebrew}`);
    // Inside a line, the join is a plain space after the last whole character.
    const inline = [clean(`${arabic} `), clash('', family, `${hebrew}!`), clean(' end')];
    expect(composeText(inline, ['both'])).toBe(`${arabic} ${family} ${hebrew}! end`);
  });
});

describe('isComplete and mergedText', () => {
  it('need a choice for every clash', () => {
    expect(isComplete(notes, [])).toBe(false);
    expect(isComplete(notes, ['mine'])).toBe(false);
    // A gap left open between choices.
    const gap: ('mine' | undefined)[] = [];
    gap[1] = 'mine';
    expect(isComplete(notes, gap)).toBe(false);
    expect(mergedText(notes, gap)).toBeNull();
    expect(isComplete(notes, ['mine', 'both'])).toBe(true);
    expect(mergedText(notes, ['mine', 'both'])).toBe(composeText(notes, ['mine', 'both']));
  });

  it('hold for a text without clashes', () => {
    expect(isComplete([clean('ok')], [])).toBe(true);
    expect(mergedText([clean('ok')], [])).toBe('ok');
  });
});

describe('pickAll and clashes', () => {
  it('gives one choice per clash, in order', () => {
    expect(clashes(notes)).toEqual([WORD, LINE]);
    expect(pickAll(notes, 'theirs')).toEqual(['theirs', 'theirs']);
    expect(composeText(notes, pickAll(notes, 'theirs'))).toBe(HEAD + WORD.theirs + MID + LINE.theirs + TAIL);
  });
});
