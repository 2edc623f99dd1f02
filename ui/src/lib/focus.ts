// Keeping keyboard focus inside a dialog.

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

export function focusables(root: HTMLElement): HTMLElement[] {
  return Array.from(root.querySelectorAll<HTMLElement>(FOCUSABLE)).filter(
    (el) => !el.closest('[hidden]') && el.getClientRects().length > 0,
  );
}

/** Wraps Tab and Shift+Tab at the ends of `root`; returns true if it moved focus. */
export function trapTab(root: HTMLElement, event: KeyboardEvent): boolean {
  if (event.key !== 'Tab') return false;
  const items = focusables(root);
  if (items.length === 0) {
    event.preventDefault();
    root.focus();
    return true;
  }
  const first = items[0]!;
  const last = items[items.length - 1]!;
  const active = document.activeElement;
  if (event.shiftKey && (active === first || !root.contains(active))) {
    event.preventDefault();
    last.focus();
    return true;
  }
  if (!event.shiftKey && (active === last || !root.contains(active))) {
    event.preventDefault();
    first.focus();
    return true;
  }
  return false;
}

/**
 * Where focus goes back to when a dialog closes. Usually the element that opened it; but when
 * closing removed that element (a conflict resolved from the list), the one now in its place
 * (same `data-testid`, same position, or the last), else the current page's sidebar entry.
 */
export function focusReturn(opener: HTMLElement | null): () => void {
  const testid = opener?.dataset.testid;
  const index = testid ? Array.from(document.querySelectorAll(`[data-testid="${testid}"]`)).indexOf(opener!) : -1;
  const back = (): boolean => {
    if (opener && opener.isConnected) {
      opener.focus();
      return true;
    }
    return false;
  };
  return () => {
    back();
    // The opener may go in the same update that closes the dialog: look again once the page has settled.
    setTimeout(() => {
      const active = document.activeElement;
      if ((active && active !== document.body) || back()) return;
      const same = testid ? document.querySelectorAll<HTMLElement>(`[data-testid="${testid}"]`) : [];
      const next = index >= 0 && same.length ? same[Math.min(index, same.length - 1)] : null;
      (next ?? document.querySelector<HTMLElement>('[aria-current="page"]'))?.focus();
    }, 0);
  };
}
