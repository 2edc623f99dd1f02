import { describe, expect, it } from 'vitest';
import {
  MAX_SCROLL_PX,
  moveSelection,
  pageRows,
  rowTop,
  scrollHeight,
  scrollRatio,
  scrollToReveal,
  visibleRange,
  windowsFor,
  windowsToDrop,
} from '../src/lib/virtual';

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

describe('a list taller than the browser lays out', () => {
  // WebKit and Blink stop at about 33.5 million pixels: a million rows of 36.
  const [ROW, VIEW, TOTAL] = [36, 700, 1_000_000];

  it('keeps the content within what the browser lays out', () => {
    expect(scrollHeight(TOTAL, ROW)).toBeLessThanOrEqual(MAX_SCROLL_PX);
    expect(MAX_SCROLL_PX).toBeLessThan(16_000_000);
    expect(scrollHeight(1000, ROW)).toBe(36_000);
    expect(scrollRatio(1000, ROW, VIEW)).toBe(1);
  });

  it('reaches the last row at the end of the scroll, bottom aligned', () => {
    const ratio = scrollRatio(TOTAL, ROW, VIEW);
    expect(ratio).toBeGreaterThan(4);
    const end = scrollHeight(TOTAL, ROW) - VIEW;
    const range = visibleRange(end * ratio, VIEW, ROW, TOTAL, 0);
    expect(range.end).toBe(TOTAL);
    expect(rowTop(TOTAL - 1, ROW, end, ratio) + ROW).toBeCloseTo(end + VIEW, 3);
    // Each row drawn is on screen, one below the other.
    const shown = rowTop(range.start, ROW, end, ratio);
    expect(shown).toBeGreaterThanOrEqual(end - ROW);
    expect(rowTop(range.start + 1, ROW, end, ratio) - shown).toBe(ROW);
  });

  it('shows the middle of the list halfway down, and row 0 at the top', () => {
    const ratio = scrollRatio(TOTAL, ROW, VIEW);
    const half = (scrollHeight(TOTAL, ROW) - VIEW) / 2;
    const first = visibleRange(half * ratio, VIEW, ROW, TOTAL, 0).start;
    expect(Math.abs(first - TOTAL / 2)).toBeLessThan(20);
    expect(rowTop(first, ROW, half, ratio)).toBeGreaterThan(half - ROW);
    expect(rowTop(first, ROW, half, ratio)).toBeLessThanOrEqual(half);
    expect(rowTop(0, ROW, 0, ratio)).toBe(0);
  });

  it('reveals a row by scrolling to where it is drawn', () => {
    const ratio = scrollRatio(TOTAL, ROW, VIEW);
    const row = 765_432;
    const top = scrollToReveal(row, 0, VIEW, ROW);
    expect(top).not.toBeNull();
    const scrolled = (top ?? 0) / ratio;
    const drawn = rowTop(row, ROW, scrolled, ratio);
    expect(drawn).toBeGreaterThanOrEqual(scrolled - 0.001);
    expect(drawn + ROW).toBeLessThanOrEqual(scrolled + VIEW + 0.001);
  });
});
