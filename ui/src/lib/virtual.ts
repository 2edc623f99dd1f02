// The arithmetic of a virtualised list: which rows are on screen, which
// windows of rows to fetch, and which cached windows to drop.

export interface Range {
  /** First row index shown (inclusive). */
  start: number;
  /** One past the last row shown. */
  end: number;
}

/** Rows intersecting the viewport, plus `overscan` rows either side, clamped to [0, total). */
export function visibleRange(scrollTop: number, viewport: number, rowHeight: number, total: number, overscan = 8): Range {
  if (total <= 0 || rowHeight <= 0) return { start: 0, end: 0 };
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const last = Math.ceil((Math.max(0, scrollTop) + Math.max(0, viewport)) / rowHeight);
  return {
    start: Math.max(0, Math.min(total, first - overscan)),
    end: Math.max(0, Math.min(total, last + overscan)),
  };
}

/** Indexes of the fetch windows (each `size` rows) that cover `range`. */
export function windowsFor(range: Range, size: number): number[] {
  if (range.end <= range.start) return [];
  const first = Math.floor(range.start / size);
  const last = Math.floor((range.end - 1) / size);
  const out: number[] = [];
  for (let w = first; w <= last; w++) out.push(w);
  return out;
}

/**
 * Cached windows to drop so that at most `keep` remain: the ones farthest
 * from the windows in use; windows in use are never dropped.
 */
export function windowsToDrop(cached: readonly number[], inUse: readonly number[], keep: number): number[] {
  if (cached.length <= keep) return [];
  const used = new Set(inUse);
  const centre = inUse.length ? (inUse[0]! + inUse[inUse.length - 1]!) / 2 : 0;
  const candidates = cached.filter((w) => !used.has(w)).sort((a, b) => Math.abs(b - centre) - Math.abs(a - centre));
  return candidates.slice(0, Math.max(0, cached.length - Math.max(keep, used.size)));
}

/** Rows that fit fully in the viewport: how far PageUp/PageDown move. */
export function pageRows(viewport: number, rowHeight: number): number {
  return Math.max(1, Math.floor(viewport / rowHeight) - 1);
}

/** Where a keyboard key moves the selection, or null if the key does not move it. */
export function moveSelection(key: string, current: number, total: number, page: number): number | null {
  if (total <= 0) return null;
  const clamp = (n: number) => Math.max(0, Math.min(total - 1, n));
  switch (key) {
    case 'ArrowDown':
      return current < 0 ? 0 : clamp(current + 1);
    case 'ArrowUp':
      return current < 0 ? 0 : clamp(current - 1);
    case 'PageDown':
      return clamp((current < 0 ? 0 : current) + page);
    case 'PageUp':
      return clamp((current < 0 ? 0 : current) - page);
    case 'Home':
      return 0;
    case 'End':
      return total - 1;
  }
  return null;
}

/** The scroll position that brings `row` into view, or null if it is already fully visible. */
export function scrollToReveal(row: number, scrollTop: number, viewport: number, rowHeight: number, headerHeight = 0): number | null {
  const top = row * rowHeight;
  const bottom = top + rowHeight;
  const visibleTop = scrollTop;
  const visibleBottom = scrollTop + viewport - headerHeight;
  if (top < visibleTop) return top;
  if (bottom > visibleBottom) return bottom - (viewport - headerHeight);
  return null;
}

/**
 * Tallest list the browser is given, in pixels. WebKit and Blink lay out at
 * most about 33.5 million pixels (and Gecko half that): a million rows of 36
 * px would put the last rows out of reach. Past this, the scrollbar moves
 * through the list proportionally instead (a pixel scrolled is several).
 */
export const MAX_SCROLL_PX = 8_000_000;

/** Pixels of the list per pixel scrolled: 1 for lists under the cap. */
export function scrollRatio(total: number, rowHeight: number, viewport: number): number {
  const height = total * rowHeight;
  if (height <= MAX_SCROLL_PX) return 1;
  const room = MAX_SCROLL_PX - Math.max(0, viewport);
  return room > 0 ? (height - Math.max(0, viewport)) / room : 1;
}

/** Height given to the list's scrolled content. */
export function scrollHeight(total: number, rowHeight: number): number {
  return Math.min(total * rowHeight, MAX_SCROLL_PX);
}

/**
 * Where row `row` is drawn in the scrolled content, given the scroll
 * position: its place in the list, moved with the scroll so that the rows
 * on screen are those at `scrollTop * ratio`.
 */
export function rowTop(row: number, rowHeight: number, scrollTop: number, ratio: number): number {
  return row * rowHeight - scrollTop * (ratio - 1);
}
