import { describe, expect, it } from 'vitest';
import { diffWords, readableDiff, sideText, tokenize } from '../src/lib/diff';

describe('diffWords', () => {
  it('marks the changed word and keeps the rest', () => {
    expect(diffWords('a b c', 'a x c')).toEqual([
      { kind: 'same', text: 'a ' },
      { kind: 'removed', text: 'b' },
      { kind: 'added', text: 'x' },
      { kind: 'same', text: ' c' },
    ]);
  });

  it('finds insertions and deletions inside a sentence', () => {
    const parts = diffWords('Met at the spring trade fair.', 'Met at the autumn trade fair in Oslo.');
    expect(parts).toEqual([
      { kind: 'same', text: 'Met at the ' },
      { kind: 'removed', text: 'spring' },
      { kind: 'added', text: 'autumn' },
      { kind: 'same', text: ' trade fair' },
      { kind: 'added', text: ' in Oslo' },
      { kind: 'same', text: '.' },
    ]);
  });

  it('joins neighbouring changed words into one change', () => {
    expect(diffWords('old words here', 'new text here')).toEqual([
      { kind: 'removed', text: 'old words' },
      { kind: 'added', text: 'new text' },
      { kind: 'same', text: ' here' },
    ]);
  });

  it('handles empty sides and equal texts', () => {
    expect(diffWords('', 'hello')).toEqual([{ kind: 'added', text: 'hello' }]);
    expect(diffWords('hello', '')).toEqual([{ kind: 'removed', text: 'hello' }]);
    expect(diffWords('same', 'same')).toEqual([{ kind: 'same', text: 'same' }]);
    expect(diffWords('', '')).toEqual([]);
  });

  it('always rebuilds both texts exactly', () => {
    const pairs: [string, string][] = [
      ['The quick brown fox', 'A quick red fox jumps'],
      ['line one\nline two', 'line one\nline 2\nline three'],
      ['Grüße aus Köln', 'Grüße aus Zürich!'],
      ['a  b', 'a b'],
    ];
    for (const [a, b] of pairs) {
      const parts = diffWords(a, b);
      expect(sideText(parts, 'before')).toBe(a);
      expect(sideText(parts, 'after')).toBe(b);
    }
  });

  it('falls back to a plain replacement for huge texts', () => {
    const a = Array.from({ length: 800 }, (_, i) => `w${i}`).join(' ');
    const b = Array.from({ length: 800 }, (_, i) => `v${i}`).join(' ');
    const parts = diffWords(a, b);
    expect(sideText(parts, 'before')).toBe(a);
    expect(sideText(parts, 'after')).toBe(b);
  });

  it('splits words, spaces and punctuation', () => {
    expect(tokenize('Hi, there!')).toEqual(['Hi', ',', ' ', 'there', '!']);
  });
});

describe('readableDiff', () => {
  it('keeps a word diff when most of the text stayed', () => {
    expect(readableDiff('Met at the spring trade fair.', 'Met at the autumn trade fair.')).not.toBeNull();
  });

  it('gives up when little is shared, or one side is empty', () => {
    expect(readableDiff('keiko.dubois@example.com', 'ada@harborpine.example')).toBeNull();
    expect(readableDiff('', 'new')).toBeNull();
    expect(readableDiff('old', '')).toBeNull();
  });
});
