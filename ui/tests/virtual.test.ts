import { describe, expect, it } from 'vitest';
import { moveSelection, pageRows, scrollToReveal, visibleRange, windowsFor, windowsToDrop } from '../src/lib/virtual';

describe('visibleRange', () => {
  it('covers the viewport plus overscan, clamped to the list', () => {
    expect(visibleRange(0, 360, 36, 100_000, 5)).toEqual({ start: 0, end: 15 });
    expect(visibleRange(36_000, 360, 36, 100_000, 5)).toEqual({ start: 995, end: 1015 });
    expect(visibleRange(3_599_000, 720, 36, 100_000, 5)).toEqual({ start: 99_967, end: 99_998 });
    expect(visibleRange(0, 360, 36, 0)).toEqual({ start: 0, end: 0 });
  });

  it('holds only a screenful of rows however deep the scroll', () => {
    const r = visibleRange(2_000_000, 800, 36, 100_000, 10);
    expect(r.end - r.start).toBeLessThan(60);
  });
});

describe('windows', () => {
  it('lists the fetch windows a range needs', () => {
    expect(windowsFor({ start: 0, end: 30 }, 100)).toEqual([0]);
    expect(windowsFor({ start: 95, end: 130 }, 100)).toEqual([0, 1]);
    expect(windowsFor({ start: 200, end: 200 }, 100)).toEqual([]);
  });

  it('drops the cached windows farthest from the ones in use', () => {
    expect(windowsToDrop([0, 1, 2, 50, 51, 99], [50, 51], 4)).toEqual([0, 1]);
    expect(windowsToDrop([0, 50, 51, 120], [50, 51], 3)).toEqual([120]);
    expect(windowsToDrop([0, 1], [1], 4)).toEqual([]);
    // Never drops a window in use, even past the limit.
    expect(windowsToDrop([3, 4, 5], [3, 4, 5], 2)).toEqual([]);
  });
});

describe('keyboard', () => {
  it('moves the selection with arrows, pages, Home and End', () => {
    expect(moveSelection('ArrowDown', -1, 10, 5)).toBe(0);
    expect(moveSelection('ArrowDown', 3, 10, 5)).toBe(4);
    expect(moveSelection('ArrowDown', 9, 10, 5)).toBe(9);
    expect(moveSelection('ArrowUp', 0, 10, 5)).toBe(0);
    expect(moveSelection('PageDown', 3, 10, 5)).toBe(8);
    expect(moveSelection('PageDown', 8, 10, 5)).toBe(9);
    expect(moveSelection('PageUp', 3, 10, 5)).toBe(0);
    expect(moveSelection('Home', 7, 10, 5)).toBe(0);
    expect(moveSelection('End', 0, 100_000, 5)).toBe(99_999);
    expect(moveSelection('a', 0, 10, 5)).toBeNull();
    expect(moveSelection('ArrowDown', -1, 0, 5)).toBeNull();
  });

  it('pages by a screenful less one row', () => {
    expect(pageRows(360, 36)).toBe(9);
    expect(pageRows(10, 36)).toBe(1);
  });

  it('scrolls just enough to reveal a row', () => {
    expect(scrollToReveal(5, 0, 400, 36, 34)).toBeNull();
    expect(scrollToReveal(20, 0, 400, 36, 34)).toBe(21 * 36 - 366);
    expect(scrollToReveal(2, 360, 400, 36, 34)).toBe(72);
  });
});
