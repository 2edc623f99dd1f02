import { describe, expect, it } from 'vitest';
import { idsBetween, skips, span, toggled, withRange } from '../src/lib/selection';

describe('selection', () => {
  it('toggles one id without touching the set it was given', () => {
    const before = new Set(['a', 'b']);
    expect([...toggled(before, 'c')]).toEqual(['a', 'b', 'c']);
    expect([...toggled(before, 'a')]).toEqual(['b']);
    expect([...before]).toEqual(['a', 'b']);
  });

  it('orders a span either way', () => {
    expect(span(7, 3)).toEqual([3, 7]);
    expect(span(3, 7)).toEqual([3, 7]);
    expect(span(4, 4)).toEqual([4, 4]);
  });

  it('takes a range from the loaded rows, or says one is missing', () => {
    const rows = ['r0', 'r1', 'r2', undefined, 'r4'];
    expect(idsBetween(0, 2, (i) => rows[i])).toEqual(['r0', 'r1', 'r2']);
    expect(idsBetween(1, 4, (i) => rows[i])).toBeNull();
  });

  it('replaces the selection with a range, or adds it with Ctrl', () => {
    const sel = new Set(['x']);
    expect([...withRange(sel, ['a', 'b'], false)]).toEqual(['a', 'b']);
    expect([...withRange(sel, ['a', 'x'], true)]).toEqual(['x', 'a']);
  });

  it('groups skipped records by reason', () => {
    const n = (k: number) => `${k} record${k === 1 ? '' : 's'}`;
    expect(skips([], n)).toBeNull();
    const one = skips([{ id: 'a', reason: 'deleted' }, { id: 'b', reason: 'deleted' }], n)!;
    expect(one.summary).toBe('2 records skipped: deleted');
    const two = skips(
      [
        { id: 'a', reason: 'deleted' },
        { id: 'b', reason: 'waiting for your decision on a conflict' },
        { id: 'c', reason: 'deleted' },
      ],
      n,
    )!;
    expect(two.summary).toBe('3 records skipped: 2 records deleted; 1 record waiting for your decision on a conflict');
    expect([...two.ids]).toEqual(['a', 'b', 'c']);
  });
});
