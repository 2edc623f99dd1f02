// The app's shared state, fed by the shell's events (never polled).
import { api, on } from './api';
import { toCommandError } from './errors';
import type { ListParams } from './query';
import type { Collection, CollectionInfo, Conflict, MenuCommand, OutboxEntry, RecordRef, RecordsChanged, Status } from './types';

export type View = { kind: 'collection'; name: string } | { kind: 'conflicts' } | { kind: 'outbox' } | { kind: 'settings' };

export interface Toast {
  id: number;
  message: string;
  tone: 'info' | 'error';
  action?: { label: string; testid: string; run: () => void | Promise<void> };
}

type ChangeListener = (change: RecordsChanged) => void;

/** The Import or Export dialog; `collection` null: it asks which one first. */
export interface Transfer {
  kind: MenuCommand;
  collection: string | null;
}

/** What the collection view shows, for "Export this view". */
export interface ShownView {
  collection: string;
  params: ListParams;
  /** How many records it matches. */
  matches: number;
}

export interface SortChoice {
  /** null: the collection's title field. */
  sort: string | null;
  descending: boolean;
}

const SORTS_KEY = 'ferry.sorts';

function readSorts(): Record<string, SortChoice> {
  try {
    const saved: unknown = JSON.parse(globalThis.localStorage?.getItem(SORTS_KEY) ?? '{}');
    return saved && typeof saved === 'object' && !Array.isArray(saved) ? (saved as Record<string, SortChoice>) : {};
  } catch {
    return {};
  }
}

export class AppState {
  status = $state<Status | null>(null);
  /** The first status failed to load: nothing else can work. */
  fatal = $state<string | null>(null);
  collections = $state<CollectionInfo[]>([]);
  /** Until the first answer, an empty list means "not loaded", not "none". */
  collectionsLoaded = $state(false);
  conflicts = $state<Conflict[]>([]);
  outbox = $state<OutboxEntry[]>([]);
  demoUrl = $state<string | null>(null);
  view = $state<View>({ kind: 'collection', name: '' });
  /** The conflict the dialog shows. */
  openConflict = $state<RecordRef | null>(null);
  /** Unsent changes when the user asked to quit; null when not asking. */
  quitOutbox = $state<number | null>(null);
  toasts = $state<Toast[]>([]);
  /** The record editor holds changes not saved yet. */
  editorDirty = $state(false);
  /** Where to go once the user agrees to discard unsaved changes. */
  pendingView = $state<View | null>(null);
  /** Who was signed in before signing out, to fill in the Connect screen. */
  lastAccount = $state<{ server: string; username: string } | null>(null);
  /** The sort chosen in each collection, kept across views (and restarts, in localStorage). */
  sorts = $state<Record<string, SortChoice>>(readSorts());
  /** The Import or Export dialog, when open. */
  transfer = $state<Transfer | null>(null);
  /** A record to open once its collection is on screen (from the Outbox). */
  openRecord = $state<RecordRef | null>(null);
  /** The collection view on screen, kept up to date by it. */
  shown = $state<ShownView | null>(null);
  /** Ticks every 30 s so "2 min ago" stays true. */
  now = $state(new Date());
  /** Lock after this many idle minutes (passphrase profiles); null: never. */
  lockMinutes = $state<number | null>(null);
  #lastActivity = Date.now();

  #changeListeners = new Set<ChangeListener>();
  #toastSeq = 0;
  #signedIn = false;

  get signedIn(): boolean {
    return !!this.status?.account && !this.status.damaged;
  }

  collectionInfo(name: string): CollectionInfo | undefined {
    return this.collections.find((c) => c.collection.name === name);
  }

  async start(): Promise<void> {
    await Promise.all([
      on('status', (s) => this.#setStatus(s)),
      on('records-changed', (c) => this.#recordsChanged(c)),
      on('conflicts-changed', () => void this.loadConflicts()),
      on('quit-requested', (q) => (this.quitOutbox = Number(q.outbox))),
      on('open-conflict', (ref) => this.showConflict(ref)),
      on('menu', (command) => this.openTransfer(command)),
    ]);
    setInterval(() => (this.now = new Date()), 30_000);
    for (const type of ['pointerdown', 'keydown', 'wheel', 'pointermove']) {
      globalThis.addEventListener?.(type, () => (this.#lastActivity = Date.now()), { passive: true, capture: true });
    }
    setInterval(() => void this.#lockIfIdle(), 15_000);
    try {
      this.#setStatus(await api.status());
    } catch (e) {
      this.fatal = toCommandError(e).message;
    }
  }

  #setStatus(s: Status): void {
    const before = this.status;
    // Events and command answers can cross; an older snapshot never wins.
    if (before && s.seq < before.seq) return;
    this.status = s;
    const signedIn = !!s.account && !s.damaged;
    if (signedIn && !this.#signedIn) {
      void this.#loadWorkspace();
    } else if (!signedIn && !s.damaged && !s.locked && !s.account) {
      void this.loadDemo();
    }
    this.#signedIn = signedIn;
    if (signedIn && before && before.outbox !== s.outbox && this.view.kind === 'outbox') void this.loadOutbox();
    if (signedIn && before && before.conflicts !== s.conflicts) void this.loadConflicts();
    // A finished sync may have brought new collections or counts.
    if (signedIn && before && before.last_sync !== s.last_sync) this.#reloadCounts();
  }

  async #lockIfIdle(): Promise<void> {
    if (this.lockMinutes === null || !this.status || this.status.locked) return;
    if (Date.now() - this.#lastActivity < this.lockMinutes * 60_000) return;
    try {
      this.#setStatus(await api.lockProfile());
    } catch (e) {
      this.notify(toCommandError(e).message, 'error');
    }
  }

  /** Applies a status a command returned (login, recovery, work offline). */
  applyStatus(s: Status): void {
    this.#setStatus(s);
  }

  /** Turns desktop notifications on or off (kept in the profile). */
  async setNotifications(enabled: boolean): Promise<void> {
    try {
      this.#setStatus(await api.setNotifications(enabled));
    } catch (e) {
      this.notify(toCommandError(e).message, 'error');
    }
  }

  /** Stops or resumes syncing without signing out. */
  async setWorkOffline(offline: boolean): Promise<void> {
    try {
      this.#setStatus(await api.setWorkOffline(offline));
    } catch (e) {
      this.notify(toCommandError(e).message, 'error');
    }
  }

  /** Signs out; records and unsent changes stay on this computer. */
  async signOut(): Promise<void> {
    const account = this.status?.account;
    try {
      const s = await api.logout();
      if (account) this.lastAccount = { server: account.server, username: account.username };
      this.#setStatus(s);
    } catch (e) {
      this.notify(toCommandError(e).message, 'error');
    }
  }

  async loadDemo(): Promise<void> {
    try {
      this.demoUrl = await api.demoServer();
    } catch {
      this.demoUrl = null;
    }
  }

  async #loadWorkspace(): Promise<void> {
    api.security().then(
      (s) => (this.lockMinutes = s?.lock_minutes ?? null),
      () => {},
    );
    await Promise.all([this.loadCollections(), this.loadConflicts()]);
    if (this.view.kind === 'collection' && !this.collectionInfo(this.view.name)) {
      const first = this.collections[0];
      if (first) this.view = { kind: 'collection', name: first.collection.name };
    }
  }

  async loadCollections(): Promise<void> {
    try {
      this.collections = await api.collections();
    } catch (e) {
      this.notify(toCommandError(e).message, 'error');
    } finally {
      this.collectionsLoaded = true;
    }
  }

  async loadConflicts(): Promise<void> {
    try {
      this.conflicts = await api.conflicts();
    } catch (e) {
      this.notify(toCommandError(e).message, 'error');
      return;
    }
    const open = this.openConflict;
    if (open && !this.conflicts.some((c) => c.collection === open.collection && c.record_id === open.id)) {
      this.openConflict = null;
    }
  }

  async loadOutbox(): Promise<void> {
    try {
      this.outbox = await api.outbox();
    } catch (e) {
      this.notify(toCommandError(e).message, 'error');
    }
  }

  #countsTimer: ReturnType<typeof setTimeout> | null = null;

  #recordsChanged(change: RecordsChanged): void {
    for (const listener of this.#changeListeners) listener(change);
    this.#reloadCounts();
  }

  /** Counts change with creates and deletes; a burst of events needs one reload. */
  #reloadCounts(): void {
    this.#countsTimer ??= setTimeout(() => {
      this.#countsTimer = null;
      void this.loadCollections();
      if (this.view.kind === 'outbox') void this.loadOutbox();
    }, 250);
  }

  /** Calls `listener` on every records-changed event until the returned function is called. */
  onRecordsChanged(listener: ChangeListener): () => void {
    this.#changeListeners.add(listener);
    return () => this.#changeListeners.delete(listener);
  }

  /** Shows a view; returns false if it waits for the user to discard unsaved changes. */
  show(view: View): boolean {
    const same = JSON.stringify(view) === JSON.stringify(this.view);
    if (this.editorDirty && !same) {
      this.pendingView = view;
      return false;
    }
    this.#go(view);
    return true;
  }

  /** Leaves the unsaved changes behind and goes where the user asked. */
  discardAndGo(): void {
    const view = this.pendingView;
    this.pendingView = null;
    this.editorDirty = false;
    if (view) this.#go(view);
  }

  #go(view: View): void {
    this.view = view;
    if (view.kind === 'outbox') void this.loadOutbox();
    if (view.kind === 'conflicts') void this.loadConflicts();
  }

  /** File › Import… or Export…: for the collection on screen, else the dialog asks which. */
  openTransfer(kind: MenuCommand, collection?: string): void {
    // One dialog at a time: a running import is never hidden behind another.
    if (this.transfer || !this.signedIn || this.openConflict || this.pendingView || this.quitOutbox !== null) return;
    const name = collection ?? (this.view.kind === 'collection' ? this.view.name : null);
    const info = name ? this.collectionInfo(name) : undefined;
    // Importing needs write access: for a read-only collection the dialog asks for another.
    const usable = info && (kind === 'export' || info.collection.access === 'write');
    this.transfer = { kind, collection: usable ? info.collection.name : null };
  }

  showConflict(ref: RecordRef): void {
    this.openConflict = { collection: ref.collection, id: ref.id };
    if (!this.conflicts.some((c) => c.collection === ref.collection && c.record_id === ref.id)) {
      void this.loadConflicts();
    }
  }

  /** The sort `collection` was last shown with, if its field still exists. */
  sortFor(collection: Collection): SortChoice {
    const saved = this.sorts[collection.name];
    if (!saved || (saved.sort !== null && !collection.fields.some((f) => f.name === saved.sort))) return { sort: null, descending: false };
    return { sort: saved.sort, descending: !!saved.descending };
  }

  setSort(collection: string, choice: SortChoice): void {
    this.sorts = { ...this.sorts, [collection]: { sort: choice.sort, descending: choice.descending } };
    try {
      globalThis.localStorage?.setItem(SORTS_KEY, JSON.stringify(this.sorts));
    } catch {
      // Storage full or denied: the sort still holds for this session.
    }
  }

  /** Shows a record in its collection's editor. */
  showRecord(ref: RecordRef): void {
    if (this.show({ kind: 'collection', name: ref.collection })) this.openRecord = ref;
  }

  notify(message: string, tone: Toast['tone'] = 'info', action?: Toast['action']): void {
    const id = ++this.#toastSeq;
    this.toasts = [...this.toasts, { id, message, tone, action }].slice(-3);
    setTimeout(() => this.dismiss(id), action ? 10_000 : 6_000);
  }

  dismiss(id: number): void {
    this.toasts = this.toasts.filter((t) => t.id !== id);
  }
}

export const app = new AppState();
