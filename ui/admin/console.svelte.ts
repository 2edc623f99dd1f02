// The console's shared state: who is signed in, the page shown (from the
// URL's hash, `#/users`, `#/devices?user=dana`), and short notices.
import type { Toast } from '../src/lib/app.svelte';
import { admin, onSessionEnded, SESSION_ENDED, toApiError } from './api';

export const PAGES = [
  { id: 'users', title: 'Users', icon: 'user' },
  { id: 'access', title: 'Teams & access', icon: 'tag' },
  { id: 'collections', title: 'Collections', icon: 'stack' },
  { id: 'devices', title: 'Devices', icon: 'plug' },
  { id: 'activity', title: 'Activity', icon: 'history' },
  { id: 'health', title: 'Health', icon: 'database' },
] as const;

export type PageId = (typeof PAGES)[number]['id'];

export interface Route {
  page: PageId;
  params: URLSearchParams;
}

/** The route a location hash names; the Users page for anything else. */
export function parseHash(hash: string): Route {
  const [path = '', query = ''] = hash.replace(/^#\/?/, '').split('?', 2);
  const page = PAGES.find((p) => p.id === path)?.id ?? 'users';
  return { page, params: new URLSearchParams(query) };
}

/** The hash of a page with its parameters (empty ones left out). */
export function href(page: PageId, params: Record<string, string> = {}): string {
  const qs = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== '')).toString();
  return `#/${page}${qs ? `?${qs}` : ''}`;
}

class ConsoleState {
  /** The signed-in administrator; null: the sign-in form. */
  user = $state<string | null>(null);
  /** Asking the server whether the cookie still holds a session. */
  checking = $state(true);
  /** Said above the sign-in form (the session ended). */
  notice = $state<string | null>(null);
  /** Set when the first check of the session failed for another reason than 401. */
  startError = $state<string | null>(null);
  route = $state<Route>(parseHash(typeof location === 'undefined' ? '' : location.hash));
  toasts = $state<Toast[]>([]);
  #toastSeq = 0;

  constructor() {
    onSessionEnded(() => this.ended());
  }

  async start(): Promise<void> {
    window.addEventListener('hashchange', () => (this.route = parseHash(location.hash)));
    this.checking = true;
    this.startError = null;
    try {
      this.user = (await admin.session()).username;
    } catch (e) {
      const err = toApiError(e);
      if (err.status !== 401) this.startError = err.message;
      this.user = null;
    } finally {
      this.checking = false;
    }
  }

  signedIn(username: string): void {
    this.notice = null;
    this.user = username;
  }

  /** A request answered 401 (or the admin made themself a member): back to the sign-in form, saying why. */
  ended(why: string = SESSION_ENDED): void {
    if (this.user === null) return;
    this.user = null;
    this.toasts = [];
    this.notice = why;
  }

  async signOut(): Promise<void> {
    try {
      await admin.signOut();
    } catch {
      // Signed out or not, the form comes back; the cookie is the server's.
    }
    this.user = null;
    this.toasts = [];
    this.notice = 'You are signed out.';
  }

  notify(message: string, tone: Toast['tone'] = 'info'): void {
    const id = ++this.#toastSeq;
    this.toasts = [...this.toasts, { id, message, tone }].slice(-3);
    setTimeout(() => this.dismiss(id), 6_000);
  }

  dismiss(id: number): void {
    this.toasts = this.toasts.filter((t) => t.id !== id);
  }
}

export const ferry = new ConsoleState();
