// A fake desktop shell in memory: every command the UI calls, and the events
// the real shell sends. Tests drive it through `window.ferry`.
import type {
  BulkReport, Collection, CollectionInfo, CommandError, Conflict, Device, ConnState, Fields, FileFormat, ImportOptions, ImportPreview, ImportReport,
  JsonValue, ListQuery, LocalFile, LocalRecord, LoginForm, OutboxEntry, ResolutionInput, RowProblem, ServerRecord, Status,
} from '../../src/lib/types';
import { composeText, pickAll } from '../../src/lib/textmerge';
import { filesOf } from '../../src/lib/files';
import { CONTACTS, MERGED_NOTES, REGIONAL_CONTACTS, TASKS, hlc, idFor, indexOf, serverRecord, synced } from './data';

export interface Scenario {
  /** Signed in as alice (default), or the Connect screen. */
  signedIn?: boolean;
  /** The local database could not be opened: this message. */
  damaged?: string | null;
  /** The records wait for a passphrase (no keyring): to choose one, or to type it. */
  locked?: 'choose_passphrase' | 'passphrase' | null;
  /** How the records are kept (default: encrypted, key in the keyring). */
  protection?: 'keyring' | 'passphrase' | 'off';
  /** Said on the sign-in screen (after a wipe). */
  notice?: string | null;
  /** The signed-in account's server (https://ferry.example.com). */
  server?: string;
  /** What `demo_server` answers. */
  demo?: string | null;
  connection?: ConnState;
  workOffline?: boolean;
  contacts?: number;
  tasks?: number;
  /** One conflict of each kind. */
  conflicts?: boolean;
  /**
   * Contacts partitioned by region (the user reads the north and east, writes
   * the north), and a contact moved to the south while I had unsent edits: a
   * `lost_access` conflict.
   */
  lostAccess?: boolean;
  /** With `lostAccess`: the west is mine to write but not to read (a hand-over). */
  handOver?: boolean;
  /** An edit/edit conflict whose notes the server merged as text, with two clashing parts. */
  textConflict?: boolean;
  /** A few unsent changes. */
  pending?: boolean;
  /** A record the server refused. */
  rejected?: boolean;
  lastSync?: string | null;
  /** Read-only tasks. */
  readOnlyTasks?: boolean;
  /** Tasks with an `attachments` file field; the Open dialog picks `attachPaths`. */
  withFiles?: boolean;
  attachPaths?: string[];
  /** The server's limit per file in bytes: a larger file is refused when sent. */
  serverFileLimit?: number;
  /** Milliseconds every count of a list's matches takes. */
  countDelayMs?: number;
  /** Files the import can read, by path (CSV, or JSON lines for `.jsonl`). */
  files?: Record<string, string>;
  /** What the system's Open dialog returns (null: the user cancelled it). */
  openChoice?: string | null;
  /** What the system's Save dialog returns (null: the user cancelled it). */
  saveChoice?: string | null;
  /** Rows per import batch (the shell writes 2,000 per transaction). */
  importBatch?: number;
  /** Milliseconds each import batch takes. */
  importDelayMs?: number;
}

export type EventSink = (name: string, payload: unknown) => void;

/** The words a search can find in a record: every text value, lower-cased. */
function tokenize(fields: Fields): string[] {
  return Object.values(fields)
    .flatMap((v) => (typeof v === 'string' ? [v] : Array.isArray(v) ? v.map(String) : []))
    .join(' ')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u);
}

const fail = (kind: CommandError['kind'], message: string, more: Pick<CommandError, 'field' | 'connection'> = {}): CommandError => ({ kind, message, ...more });

type Key = number | string;

interface Table {
  collection: Collection;
  generated: number;
  /** Records changed, created or deleted here, by id. */
  overrides: Map<string, LocalRecord>;
  /** Live records in title order, rebuilt after writes. */
  order: Key[] | null;
  sorted: Map<string, Key[]>;
  /** Lower-cased words of each generated record, built on the first search. */
  words: string[][] | null;
}

export class FakeBackend {
  readonly now = Date.now();
  #status!: Omit<Status, 'seq'>;
  #statusSeq = 0;
  /** Each read is a new snapshot, numbered like the shell numbers them. */
  get status(): Status {
    return { ...this.#status, seq: ++this.#statusSeq };
  }
  set status(s: Omit<Status, 'seq'> & { seq?: number }) {
    const { seq: _seq, ...rest } = s;
    this.#status = rest;
  }
  tables = new Map<string, Table>();
  outboxEntries: OutboxEntry[] = [];
  conflictList: Conflict[] = [];
  calls: { cmd: string; args: unknown }[] = [];
  quitCalled = false;
  /** What the UI last titled the window. */
  windowTitle = 'Ferry';
  historyOffline = false;
  files: Record<string, string>;
  openChoice: string | null;
  saveChoice: string | null;
  importBatch: number;
  importDelayMs: number;
  /** What the next import fails with, once (a full disk, say). */
  importError: CommandError | null = null;
  #cancelImport = false;
  /** Rows of each (file, options) already imported, as the shell keeps them to resume. */
  #imported = new Map<string, number>();
  #seq = 0;
  #emit: EventSink;
  #scenario: Scenario;

  constructor(scenario: Scenario, emit: EventSink) {
    this.#scenario = scenario;
    this.files = { ...(scenario.files ?? {}) };
    this.openChoice = scenario.openChoice === undefined ? null : scenario.openChoice;
    this.saveChoice = scenario.saveChoice === undefined ? null : scenario.saveChoice;
    this.importBatch = scenario.importBatch ?? 2000;
    this.importDelayMs = scenario.importDelayMs ?? 0;
    // Seeding makes changes too; nobody listens yet.
    this.#emit = () => {};
    const signedIn = scenario.signedIn ?? true;
    this.status = {
      account: signedIn ? { server: scenario.server ?? 'https://ferry.example.com', username: 'alice', device_id: 'dev-1' } : null,
      connection: scenario.connection ?? (scenario.workOffline ? { state: 'offline', reason: 'You chose to work offline.', by_choice: true } : { state: 'online' }),
      work_offline: scenario.workOffline ?? false,
      outbox: 0,
      conflicts: 0,
      rejected: 0,
      last_sync: scenario.lastSync === undefined ? new Date(this.now - 2 * 60_000).toISOString() : scenario.lastSync,
      notifications: true,
      damaged: scenario.damaged ?? null,
      locked: scenario.locked ?? null,
      notice: scenario.notice ?? null,
    };
    this.protection = scenario.protection ?? (scenario.locked ? 'passphrase' : 'keyring');
    if (scenario.damaged) this.#status.connection = { state: 'error', message: scenario.damaged };
    let tasks = scenario.readOnlyTasks ? { ...TASKS, access: 'read' as const } : TASKS;
    if (scenario.withFiles) {
      tasks = { ...tasks, fields: [...tasks.fields, { name: 'attachments', label: 'Attachments', type: 'file', required: false, multiple: true, max_size: 5_000_000 }] };
    }
    this.attachPaths = scenario.attachPaths ?? [];
    this.serverFileLimit = scenario.serverFileLimit ?? null;
    const regional = scenario.handOver
      ? { ...REGIONAL_CONTACTS, rows: { field: 'region', read: ['north', 'east'], write: ['north', 'west'] } }
      : REGIONAL_CONTACTS;
    this.#table(scenario.lostAccess ? regional : CONTACTS, scenario.contacts ?? 100_000);
    this.#table(tasks, scenario.tasks ?? 120);
    if (scenario.pending) this.#seedPending();
    if (scenario.conflicts) this.#seedConflicts();
    if (scenario.textConflict) this.#seedTextConflict();
    if (scenario.lostAccess) this.#seedLostAccess();
    if (scenario.rejected) this.#seedRejected();
    this.#counts();
    this.#emit = emit;
  }

  #table(collection: Collection, generated: number) {
    this.tables.set(collection.name, { collection, generated, overrides: new Map(), order: null, sorted: new Map(), words: null });
  }

  #t(name: string): Table {
    const t = this.tables.get(name);
    if (!t) throw fail('not_found', `There is no collection "${name}".`);
    return t;
  }

  #record(t: Table, key: Key): LocalRecord {
    if (typeof key === 'string') return t.overrides.get(key)!;
    const id = idFor(t.collection.name, key);
    return t.overrides.get(id) ?? synced(serverRecord(t.collection.name, key, this.now));
  }

  /** The record with `id`, or an error like the shell's. */
  get(collection: string, id: string): LocalRecord {
    const t = this.#t(collection);
    const o = t.overrides.get(id);
    if (o) return o;
    const i = indexOf(collection, id);
    if (i === null || i >= t.generated) throw fail('not_found', 'This record no longer exists.');
    return synced(serverRecord(collection, i, this.now));
  }

  #keys(t: Table): Key[] {
    if (!t.order) {
      const keys: Key[] = [];
      for (let i = 0; i < t.generated; i++) {
        const o = t.overrides.get(idFor(t.collection.name, i));
        if (!o || !o.deleted) keys.push(i);
      }
      for (const [id, r] of t.overrides) if (indexOf(t.collection.name, id) === null && !r.deleted) keys.push(id);
      t.order = keys;
    }
    return t.order;
  }

  #sortedKeys(t: Table, sort: string): Key[] {
    let keys = t.sorted.get(sort);
    if (!keys) {
      const values = new Map<Key, string | number>();
      for (const k of this.#keys(t)) {
        const v = this.#record(t, k).fields[sort];
        values.set(k, typeof v === 'number' ? v : typeof v === 'boolean' ? Number(v) : Array.isArray(v) ? v.join(',') : (v ?? '') as string);
      }
      // Each distinct value ranked once: a million records share a few
      // thousand names, and the collator is the slow part.
      const collator = new Intl.Collator('en');
      const distinct = [...new Set(values.values())].sort((x, y) =>
        typeof x === 'number' && typeof y === 'number' ? x - y : collator.compare(String(x), String(y)),
      );
      const rank = new Map(distinct.map((v, i) => [v, i]));
      const rankOf = new Map([...values].map(([k, v]) => [k, rank.get(v)!]));
      keys = [...this.#keys(t)].sort((a, b) => rankOf.get(a)! - rankOf.get(b)! || String(a).localeCompare(String(b)));
      t.sorted.set(sort, keys);
    }
    return keys;
  }

  #words(t: Table): string[][] {
    if (!t.words) {
      t.words = [];
      for (let i = 0; i < t.generated; i++) t.words.push(tokenize(serverRecord(t.collection.name, i, this.now).fields));
    }
    return t.words;
  }

  #changed(t: Table) {
    t.order = null;
    t.sorted.clear();
  }

  /** The keys of the records `q` finds, in its order. */
  #find(q: ListQuery) {
    const t = this.#t(q.collection);
    let keys = this.#sortedKeys(t, q.sort ?? t.collection.title_field);
    const words = (q.search ?? '').toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);
    const filters = Object.entries(q.filters ?? {});
    if (words.length || filters.length) {
      const index = words.length ? this.#words(t) : [];
      keys = keys.filter((k) => {
        const generated = typeof k === 'number' && !t.overrides.has(idFor(t.collection.name, k));
        let record: LocalRecord | null = null;
        const r = () => (record ??= this.#record(t, k));
        for (const [name, want] of filters) {
          const v = r().fields[name];
          if (Array.isArray(v) ? !v.includes(want as string) : v !== want && !(want === false && v == null)) return false;
        }
        if (!words.length) return true;
        const tokens = generated ? index[k as number]! : tokenize(r().fields);
        return words.every((w) => tokens.some((tok) => tok.startsWith(w)));
      });
    }
    return { t, keys };
  }

  list(q: ListQuery) {
    const { t, keys } = this.#find(q);
    const total = keys.length;
    const page: LocalRecord[] = [];
    for (let k = q.offset; k < Math.min(total, q.offset + q.limit); k++) {
      const key = q.descending ? keys[total - 1 - k]! : keys[k]!;
      page.push(this.#record(t, key));
    }
    return { records: page, offset: q.offset, has_more: q.offset + q.limit < total };
  }

  count(q: ListQuery) {
    return this.#find(q).keys.length;
  }

  #counts() {
    let rejected = 0;
    for (const t of this.tables.values()) for (const r of t.overrides.values()) if (r.state === 'rejected') rejected++;
    this.status = { ...this.status, outbox: this.outboxEntries.length, conflicts: this.conflictList.length, rejected };
  }

  emitStatus() {
    this.#counts();
    this.#emit('status', this.status);
  }

  #touched(collection: string, id: string) {
    this.#emit('records-changed', { records: [{ collection, id }], truncated: false });
    this.emitStatus();
  }

  #hlc(): string {
    return hlc(Date.now(), 'dev1');
  }

  #enqueue(r: LocalRecord, op: 'put' | 'delete', changes: Fields) {
    const base: Fields = {};
    for (const k of Object.keys(changes)) base[k] = r.base?.fields[k] ?? null;
    const existing = this.outboxEntries.find((e) => e.mutation.record_id === r.id && !e.in_flight);
    if (existing && op === 'put' && existing.mutation.op === 'put') {
      existing.mutation.fields = { ...existing.mutation.fields, ...changes };
      existing.mutation.base = { ...base, ...existing.mutation.base };
      return;
    }
    this.outboxEntries.push({
      seq: ++this.#seq,
      in_flight: false,
      created_at: new Date().toISOString(),
      mutation: {
        mutation_id: crypto.randomUUID(),
        collection: r.collection,
        record_id: r.id,
        op,
        base_version: r.base ? r.base.version : null,
        base,
        fields: op === 'delete' ? {} : changes,
        hlc: this.#hlc(),
      },
    });
  }

  #check(c: Collection, values: Fields, whole: boolean) {
    for (const f of c.fields) {
      if (!(f.name in values) && !(whole && f.required)) continue;
      const v = values[f.name] ?? null;
      if (v === null || (typeof v === 'string' && f.required && !v.trim())) {
        if (f.required) throw fail('invalid', `Field "${f.name}" is required`, { field: f.name });
        continue;
      }
      const ok =
        f.type === 'number' ? typeof v === 'number' :
        f.type === 'boolean' ? typeof v === 'boolean' :
        f.type === 'tags' ? Array.isArray(v) :
        f.type === 'file' ? filesOf(v).length === (v as unknown[]).length && Array.isArray(v) :
        f.type === 'choice' ? (f.options ?? []).includes(v as string) :
        typeof v === 'string';
      if (!ok) throw fail('invalid', `Field "${f.name}" must be ${f.type}`, { field: f.name });
    }
    for (const k of Object.keys(values)) {
      if (!c.fields.some((f) => f.name === k)) throw fail('invalid', `Collection "${c.name}" has no field "${k}"`, { field: k });
    }
  }

  create(collection: string, fields: Fields): LocalRecord {
    const t = this.#t(collection);
    if (t.collection.access !== 'write') throw fail('read_only', `You may only read "${collection}"; ask an administrator for write access.`);
    this.#check(t.collection, fields, true);
    const r: LocalRecord = { collection, id: crypto.randomUUID(), fields: { ...fields }, deleted: false, base: null, state: 'pending', error: null };
    t.overrides.set(r.id, r);
    this.#changed(t);
    this.#enqueue(r, 'put', fields);
    this.#touched(collection, r.id);
    return r;
  }

  attachPaths: string[] = [];
  serverFileLimit: number | null = null;
  protection: 'keyring' | 'passphrase' | 'off' = 'keyring';
  lockMinutes: number | null = null;
  /** The passphrase that opens the records (chosen on first unlock when new). */
  passphrase = 'correct horse battery staple';
  devices: Device[] = [
    {
      id: '0193a1b2-0000-7000-8000-000000000001', name: 'alice-laptop', platform: 'linux', app_version: 'ferry-desktop 0.1.0',
      first_seen: '2026-11-02T09:00:00.000Z', last_seen: new Date().toISOString(), last_ip: '192.0.2.7',
      expires_at: new Date(Date.now() + 30 * 86400000).toISOString(), current: true,
    },
    {
      id: '0193a1b2-0000-7000-8000-000000000002', name: 'alice-office', platform: 'windows', app_version: 'ferry-desktop 0.1.0',
      first_seen: '2026-10-12T08:00:00.000Z', last_seen: new Date(Date.now() - 3 * 86400000).toISOString(), last_ip: '198.51.100.4',
      expires_at: new Date(Date.now() + 27 * 86400000).toISOString(), current: false,
    },
  ];
  localFiles = new Map<string, LocalFile>();

  /** Attaches files by path: a fake but well-formed hash, a size from the name's length. */
  attach(collection: string, id: string, field: string, paths: string[]): LocalRecord {
    const f = this.#t(collection).collection.fields.find((x) => x.name === field);
    const added = paths.map((p, i) => {
      const name = p.split('/').pop() ?? p;
      const ext = name.split('.').pop()?.toLowerCase() ?? '';
      const mime = ({ jpg: 'image/jpeg', png: 'image/png', pdf: 'application/pdf' } as Record<string, string>)[ext] ?? 'application/octet-stream';
      const size = name.startsWith('huge') ? 9_000_000 : 1000 * (name.length + i);
      const sha256 = Array.from({ length: 64 }, (_, k) => '0123456789abcdef'[(name.charCodeAt(k % name.length) + k) % 16]).join('');
      return { sha256, name, size, mime };
    });
    const big = added.find((x) => f?.max_size && x.size > f.max_size);
    if (big) throw { kind: 'invalid', field, message: `"${big.name}" is larger than field "${field}" takes (${f!.max_size} bytes at most)` };
    for (const x of added) this.localFiles.set(x.sha256, { sha256: x.sha256, size: x.size, present: true, upload: 'waiting', sent: 0, error: null, retry_at: null });
    const files = [...filesOf(this.get(collection, id).fields[field]), ...added];
    return this.update(collection, id, { [field]: files });
  }

  update(collection: string, id: string, changes: Fields): LocalRecord {
    const t = this.#t(collection);
    const old = this.get(collection, id);
    if (old.state === 'conflict') throw fail('in_conflict', 'This record has a conflict. Resolve it before editing.');
    this.#check(t.collection, changes, false);
    const r: LocalRecord = { ...old, fields: { ...old.fields, ...changes }, state: 'pending', error: null };
    t.overrides.set(id, r);
    this.#changed(t);
    this.#enqueue(r, 'put', changes);
    this.#touched(collection, id);
    return r;
  }

  remove(collection: string, id: string) {
    const t = this.#t(collection);
    const old = this.get(collection, id);
    const r: LocalRecord = { ...old, deleted: true, state: 'pending' };
    t.overrides.set(id, r);
    this.#changed(t);
    this.#enqueue(r, 'delete', {});
    this.#touched(collection, id);
    return null;
  }

  restore(collection: string, id: string): LocalRecord {
    const t = this.#t(collection);
    const old = this.get(collection, id);
    const r: LocalRecord = { ...old, deleted: false, state: 'pending' };
    t.overrides.set(id, r);
    this.outboxEntries = this.outboxEntries.filter((e) => !(e.mutation.record_id === id && e.mutation.op === 'delete'));
    if (!this.outboxEntries.some((e) => e.mutation.record_id === id)) r.state = r.base ? 'synced' : 'pending';
    this.#changed(t);
    this.#touched(collection, id);
    return r;
  }

  /** Every match of a list's query, in its order (offset and limit aside). */
  ids(q: ListQuery): string[] {
    const { t, keys } = this.#find(q);
    const ordered = q.descending ? [...keys].reverse() : keys;
    return ordered.map((k) => this.#record(t, k).id);
  }

  /**
   * An edit of many records, as the shell makes it: each like a single edit,
   * those waiting for a decision or deleted skipped with the reason, and a
   * value the field does not take changes none.
   */
  many(collection: string, ids: string[], edit: (r: LocalRecord) => Fields | 'delete' | 'restore' | null): BulkReport {
    const report: BulkReport = { changed: 0, skipped: [] };
    for (const id of ids) {
      const r = this.get(collection, id);
      const what = r.state === 'conflict' ? 'conflict' : edit(r);
      if (what === 'conflict') report.skipped.push({ id, reason: 'waiting for your decision on a conflict' });
      else if (what === 'restore') {
        if (r.deleted) (this.restore(collection, id), report.changed++);
      } else if (r.deleted) report.skipped.push({ id, reason: 'deleted' });
      else if (what === 'delete') (this.remove(collection, id), report.changed++);
      else if (what !== null) (this.update(collection, id, what), report.changed++);
    }
    return report;
  }

  updateMany(collection: string, ids: string[], changes: Fields): BulkReport {
    this.#check(this.#t(collection).collection, changes, false);
    return this.many(collection, ids, (r) =>
      Object.entries(changes).some(([k, v]) => JSON.stringify(r.fields[k] ?? null) !== JSON.stringify(v)) ? changes : null,
    );
  }

  tagMany(collection: string, ids: string[], field: string, add: string[], remove: string[]): BulkReport {
    return this.many(collection, ids, (r) => {
      const now = Array.isArray(r.fields[field]) ? (r.fields[field] as string[]) : [];
      const next = [...now.filter((x) => !remove.includes(x)), ...add.filter((x) => !now.includes(x))];
      if (JSON.stringify(next) === JSON.stringify(now)) return null;
      return { [field]: next.length ? next : null };
    });
  }

  /** Takes back an unsent change: the record goes back to its base (or away). */
  discard(mutationId: string): OutboxEntry {
    const entry = this.outboxEntries.find((e) => e.mutation.mutation_id === mutationId);
    if (!entry) throw fail('invalid', 'That change is no longer waiting to be sent.');
    if (entry.in_flight) throw fail('invalid', 'That change is being sent right now; wait for the sync to finish.');
    const m = entry.mutation;
    const t = this.#t(m.collection);
    this.outboxEntries = this.outboxEntries.filter((e) => e !== entry);
    const r = this.get(m.collection, m.record_id);
    if (r.base) t.overrides.set(r.id, { ...r, fields: { ...r.base.fields }, deleted: r.base.deleted, state: 'synced', error: null });
    else t.overrides.set(r.id, { ...r, deleted: true, state: 'synced' });
    this.#changed(t);
    this.#touched(m.collection, m.record_id);
    return entry;
  }

  reapply(m: OutboxEntry['mutation']) {
    const r = this.get(m.collection, m.record_id);
    if (m.op === 'delete') return this.remove(m.collection, m.record_id);
    if (r.deleted) this.restore(m.collection, m.record_id);
    this.update(m.collection, m.record_id, m.fields);
    return null;
  }

  history(collection: string, id: string): ServerRecord[] {
    const online = this.status.connection.state === 'online' || this.status.connection.state === 'syncing';
    if (!online || this.historyOffline) throw fail('unreachable', 'Cannot reach the server at https://ferry.example.com. Check the address and your network.');
    const r = this.get(collection, id);
    if (!r.base) return [];
    const versions: ServerRecord[] = [];
    const n = r.base.version;
    for (let v = 1; v <= n; v++) {
      const fields: Fields = { ...r.base.fields };
      if (v < n && 'phone' in fields) fields.phone = `+44 20 7946 ${String(v).padStart(4, '0')}`;
      if (v < n - 1 && 'company' in fields) fields.company = 'Harbor & Pine';
      if (v < n && 'status' in fields) fields.status = 'todo';
      versions.push({
        ...r.base,
        version: v,
        fields,
        updated_by: v === n ? r.base.updated_by : ['alice', 'bob'][v % 2]!,
        updated_at: v === n ? r.base.updated_at : hlc(Date.parse(r.base.updated_at.slice(0, 24)) - (n - v) * 26 * 3_600_000),
      });
    }
    return versions;
  }

  /** Files written by exports of lost edits, by path. */
  written = new Map<string, string>();

  /** As the shell does for a record I may no longer see: export, copy or discard, then it leaves. */
  #resolveLost(c: Conflict, resolution: ResolutionInput) {
    const t = this.#t(c.collection);
    const noun = t.collection.label.toLowerCase();
    switch (resolution.kind) {
      case 'export':
        if (resolution.path.startsWith('/readonly/')) {
          throw fail('internal', `Cannot write ${resolution.path}: Permission denied (os error 13)`);
        }
        this.written.set(resolution.path, JSON.stringify({ format: 'ferry-lost-edits-1', collection: c.collection, id: c.record_id, fields: c.mine, changes: c.mine_changes }, null, 2));
        break;
      case 'copy_as_new':
      case 'keep_both': {
        const set = resolution.kind === 'copy_as_new' ? resolution.set : {};
        const fields: Fields = { ...c.mine, ...set };
        const rows = t.collection.rows;
        const value = rows ? fields[rows.field] : undefined;
        if (rows?.write && !(typeof value === 'string' && rows.write.includes(value))) {
          throw fail('invalid', `You may write only ${noun} whose ${rows.field} is ${rows.write.join(', ')}`);
        }
        const copy: LocalRecord = { collection: c.collection, id: crypto.randomUUID(), fields, deleted: false, base: null, state: 'pending', error: null };
        t.overrides.set(copy.id, copy);
        this.#enqueue(copy, 'put', fields);
        break;
      }
      case 'discard':
      case 'theirs':
        break;
      default:
        throw fail('invalid', 'You may no longer see or edit this record: export your edits to a file, copy them as a new record, or discard them');
    }
    this.conflictList = this.conflictList.filter((k) => k !== c);
    const gone = t.overrides.get(c.record_id);
    if (gone) t.overrides.set(c.record_id, { ...gone, deleted: true, state: 'synced' });
    this.#changed(t);
    this.#emit('conflicts-changed', this.conflictList.length);
    this.#touched(c.collection, c.record_id);
    return null;
  }

  resolve(collection: string, id: string, resolution: ResolutionInput) {
    const c = this.conflictList.find((k) => k.collection === collection && k.record_id === id);
    if (!c) throw fail('not_found', 'This conflict was already resolved.');
    if (c.kind === 'lost_access') return this.#resolveLost(c, resolution);
    if (resolution.kind === 'export' || resolution.kind === 'copy_as_new' || resolution.kind === 'discard') {
      throw fail('invalid', 'Export, copy and discard are for records you may no longer see');
    }
    const t = this.#t(collection);
    this.conflictList = this.conflictList.filter((k) => k !== c);
    const theirs = c.theirs;
    let fields: Fields = { ...theirs.fields };
    let deleted = false;
    switch (resolution.kind) {
      case 'mine':
        if (c.mine_op === 'delete') deleted = true;
        else fields = { ...theirs.fields, ...c.mine_changes };
        break;
      case 'theirs':
        deleted = theirs.deleted;
        break;
      case 'fields':
        fields = { ...theirs.fields, ...c.mine_changes };
        for (const ch of resolution.choices) {
          const parts = c.parts[ch.field];
          // As the shell does: a side for a text-merged field settles its clashes, keeping the clean merges.
          if (parts && ch.choice.take !== 'value') fields[ch.field] = composeText(parts, pickAll(parts, ch.choice.take));
          else fields[ch.field] = ch.choice.take === 'mine' ? c.mine[ch.field] ?? null : ch.choice.take === 'theirs' ? theirs.fields[ch.field] ?? null : ch.choice.value;
        }
        break;
      case 'restore':
        fields = c.kind === 'edit_delete' ? { ...c.mine } : { ...theirs.fields };
        break;
      case 'accept_delete':
        deleted = true;
        break;
      case 'keep_both': {
        const copy: LocalRecord = { collection, id: crypto.randomUUID(), fields: { ...c.mine }, deleted: false, base: null, state: 'pending', error: null };
        t.overrides.set(copy.id, copy);
        break;
      }
    }
    const r: LocalRecord = { collection, id, fields, deleted, base: theirs, state: 'pending', error: null };
    t.overrides.set(id, r);
    this.#enqueue(r, deleted ? 'delete' : 'put', fields);
    this.#changed(t);
    this.#emit('conflicts-changed', this.conflictList.length);
    this.#touched(collection, id);
    return null;
  }

  login(form: LoginForm): Status {
    const server = form.server.trim();
    if (server.includes('unreachable')) throw fail('unreachable', `Cannot reach the server at ${server}. Check the address and your network.`, { connection: 'refused' });
    if (server.includes('selfsigned')) throw fail('tls', `The secure connection to ${server} failed: its certificate is not trusted or does not match (invalid peer certificate: UnknownIssuer).`, { connection: 'tls' });
    if (server.includes('example.org')) throw fail('incompatible', `${server} is not a Ferry server this app can talk to (it does not speak protocol v1).`);
    if (/\s/.test(server)) throw fail('invalid', `"${server}" is not a server address. Use one like http://127.0.0.1:8787.`);
    if (form.password !== 'demo') throw fail('bad_credentials', 'Wrong username or password.');
    this.status = { ...this.status, account: { server, username: form.username, device_id: 'dev-1' }, connection: { state: 'online' }, work_offline: false };
    this.emitStatus();
    return this.status;
  }

  syncNow() {
    if (this.status.work_offline) throw fail('offline', 'You are working offline. Go online to reach the server.');
    this.status = { ...this.status, connection: { state: 'syncing' } };
    this.emitStatus();
    setTimeout(() => this.finishSync(), 400);
    return null;
  }

  /** Sends the outbox: every entry is acknowledged and its record is synced. */
  finishSync() {
    // Files first, as the shell sends them; one over the server's limit is
    // refused, tried again in an hour, and holds back the change naming it.
    const limit = this.serverFileLimit;
    for (const [sha, f] of this.localFiles) {
      if (f.upload === null) continue;
      if (limit !== null && f.size > limit) {
        const retry_at = new Date(Date.now() + 3_600_000).toISOString();
        this.localFiles.set(sha, { ...f, upload: 'failed', error: `a file may be at most ${limit} bytes`, retry_at });
      } else {
        this.localFiles.set(sha, { ...f, upload: null, sent: f.size, error: null, retry_at: null });
      }
    }
    const refused = [...this.localFiles.values()].filter((f) => f.upload === 'failed').map((f) => f.sha256);
    const held = this.outboxEntries.filter((e) => refused.some((sha) => JSON.stringify(e.mutation).includes(sha)));
    const touched: { collection: string; id: string }[] = [];
    for (const e of this.outboxEntries) {
      if (held.includes(e)) continue;
      const t = this.#t(e.mutation.collection);
      const r = t.overrides.get(e.mutation.record_id);
      if (r && r.state === 'pending') {
        const version = (r.base?.version ?? 0) + 1;
        const base: ServerRecord = { collection: r.collection, id: r.id, version, fields: { ...r.fields }, deleted: r.deleted, updated_at: this.#hlc(), updated_by: 'alice' };
        t.overrides.set(r.id, { ...r, base, state: 'synced' });
        touched.push({ collection: r.collection, id: r.id });
      }
    }
    this.outboxEntries = held;
    this.status = { ...this.status, connection: { state: 'online' }, last_sync: new Date().toISOString() };
    if (touched.length) this.#emit('records-changed', { records: touched, truncated: false });
    this.emitStatus();
  }

  setWorkOffline(offline: boolean): Status {
    this.status = {
      ...this.status,
      work_offline: offline,
      connection: offline ? { state: 'offline', reason: 'You chose to work offline.', by_choice: true } : { state: 'online' },
    };
    this.emitStatus();
    return this.status;
  }

  /** Puts the status bar in a state, as the sync task would. */
  setConnection(connection: ConnState) {
    this.status = { ...this.status, connection, work_offline: connection.state === 'offline' && connection.by_choice };
    this.emitStatus();
  }

  collections(): CollectionInfo[] {
    return [...this.tables.values()].map((t) => ({ collection: t.collection, count: this.#keys(t).length }));
  }

  #seedPending() {
    this.update('contacts', idFor('contacts', 3), { email: 'new.address@example.com', phone: '+44 20 7946 0000' });
    const task = idFor('tasks', 5);
    this.update('tasks', task, { status: this.get('tasks', task).fields.status === 'done' ? 'doing' : 'done' });
    this.create('contacts', { name: 'Marta Lindqvist', company: 'Fjord Shipping', tags: ['lead'], vip: false });
    this.remove('contacts', idFor('contacts', 8));
  }

  #seedRejected() {
    const t = this.#t('tasks');
    const id = idFor('tasks', 7);
    const r = this.get('tasks', id);
    t.overrides.set(id, {
      ...r,
      fields: { ...r.fields, priority: 12 },
      state: 'rejected',
      error: { code: 'invalid_field', message: 'Field "priority" must be between 1 and 5.' },
    });
    this.#changed(t);
  }

  #seedConflicts() {
    const t = this.#t('contacts');
    const make = (i: number, kind: Conflict['kind']): Conflict => {
      const id = idFor('contacts', i);
      const server = serverRecord('contacts', i, this.now);
      const baseFields = server.fields;
      let mine: Fields = { ...baseFields };
      let mineChanges: Fields = {};
      let theirs: ServerRecord = { ...server, version: server.version + 1, updated_by: 'bob', updated_at: hlc(this.now - 5 * 60_000) };
      let fields: string[] = [];
      let base: Fields = {};
      if (kind === 'edit_edit') {
        // At the base, both sides started from the spring notes and no VIP flag.
        baseFields.notes = 'Met at the spring trade fair. Prefers email over phone.';
        baseFields.vip = null;
        mineChanges = {
          email: 'ada@harborpine.example',
          notes: 'Met at the spring trade fair. Prefers a phone call in the morning.',
          vip: true,
          phone: '+44 20 7946 0321',
        };
        mine = { ...baseFields, ...mineChanges };
        theirs = {
          ...theirs,
          fields: { ...baseFields, email: 'ada.lovelace@northwind.example', notes: 'Met at the autumn trade fair. Prefers email over phone.', vip: false },
        };
        fields = ['email', 'notes', 'vip'];
        base = { email: baseFields.email ?? null, notes: baseFields.notes, vip: null, phone: baseFields.phone ?? null };
      } else if (kind === 'edit_delete') {
        mineChanges = { company: 'Atlas Engineering', tags: ['customer', 'board'] };
        mine = { ...baseFields, ...mineChanges };
        theirs = { ...theirs, deleted: true };
        base = { company: baseFields.company ?? null, tags: baseFields.tags ?? [] };
      } else {
        mine = { ...baseFields };
        theirs = { ...theirs, fields: { ...baseFields, phone: '+44 20 7946 0999', company: 'Kestrel Foods' } };
        fields = ['phone', 'company'];
        base = {};
      }
      const local: LocalRecord = { collection: 'contacts', id, fields: mine, deleted: kind === 'delete_edit', base: server, state: 'conflict', error: null };
      t.overrides.set(id, local);
      return {
        collection: 'contacts',
        record_id: id,
        kind,
        fields,
        base_version: server.version,
        base,
        mine_op: kind === 'delete_edit' ? 'delete' : 'put',
        mine,
        mine_changes: mineChanges,
        theirs,
        created_at: new Date(this.now - 3 * 60_000).toISOString(),
        // Notes here conflict whole, as from a server that merges every field whole.
        parts: {},
      };
    };
    this.conflictList = [make(0, 'edit_edit'), make(1, 'edit_delete'), make(2, 'delete_edit')];
    // The conflicted contacts get recognisable names.
    const names = ['Ada Lovelace', 'Alan Turing', 'Grace Hopper'];
    this.conflictList.forEach((c, k) => {
      const name: JsonValue = names[k]!;
      c.mine.name = name;
      c.theirs.fields.name = name;
      const r = t.overrides.get(c.record_id)!;
      r.fields.name = name;
    });
    this.#changed(t);
  }

  #seedLostAccess() {
    const t = this.#t('contacts');
    const i = 4;
    const id = idFor('contacts', i);
    const server = serverRecord('contacts', i, this.now);
    const name = 'Marie Curie';
    server.fields = { ...server.fields, name, region: 'north' };
    // I moved her to the south, which I may not write: the server refused it.
    const mineChanges: Fields = { phone: '+33 1 40 51 00 00', region: 'south', notes: 'Call back about the radium order on Monday.' };
    const mine: Fields = { ...server.fields, ...mineChanges };
    t.overrides.set(id, { collection: 'contacts', id, fields: mine, deleted: false, base: server, state: 'conflict', error: null });
    this.conflictList.push({
      collection: 'contacts',
      record_id: id,
      kind: 'lost_access',
      fields: Object.keys(mineChanges),
      base_version: server.version,
      base: { phone: server.fields.phone ?? null, region: 'north', notes: server.fields.notes ?? null },
      mine_op: 'put',
      mine,
      mine_changes: mineChanges,
      theirs: server,
      created_at: new Date(this.now - 60_000).toISOString(),
      parts: {},
    });
    this.#changed(t);
  }

  #seedTextConflict() {
    const t = this.#t('contacts');
    const i = 3;
    const id = idFor('contacts', i);
    const server = serverRecord('contacts', i, this.now);
    const name = 'Katherine Johnson';
    server.fields = { ...server.fields, name, notes: MERGED_NOTES.base };
    const mine: Fields = { ...server.fields, notes: MERGED_NOTES.mine };
    const theirs: ServerRecord = {
      ...server,
      version: server.version + 1,
      fields: { ...server.fields, notes: MERGED_NOTES.theirs },
      updated_by: 'bob',
      updated_at: hlc(this.now - 4 * 60_000),
    };
    t.overrides.set(id, { collection: 'contacts', id, fields: mine, deleted: false, base: server, state: 'conflict', error: null });
    this.conflictList.push({
      collection: 'contacts',
      record_id: id,
      kind: 'edit_edit',
      fields: ['notes'],
      base_version: server.version,
      base: { notes: MERGED_NOTES.base },
      mine_op: 'put',
      mine,
      mine_changes: { notes: MERGED_NOTES.mine },
      theirs,
      created_at: new Date(this.now - 2 * 60_000).toISOString(),
      parts: { notes: MERGED_NOTES.parts },
    });
    this.#changed(t);
  }

  // Import and export. The file parsing here is a small test double, not the shell's
  // reader: CSV with a header row and double-quoted cells, or one JSON object a line.

  #read(path: string): { format: FileFormat; columns: string[]; rows: string[][] } {
    const text = this.files[path];
    if (text === undefined) throw fail('not_found', `Cannot read ${path}: there is no such file.`);
    const format: FileFormat = /\.(jsonl|ndjson)$/i.test(path) ? 'jsonl' : 'csv';
    const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
    if (format === 'jsonl') {
      const objects = lines.map((l, i) => {
        try {
          return JSON.parse(l) as Record<string, JsonValue>;
        } catch {
          throw fail('invalid', `${path} is not a JSON lines file: row ${i + 1} is not a JSON object.`);
        }
      });
      const columns = [...new Set(objects.flatMap((o) => Object.keys(o)))];
      const cell = (v: JsonValue | undefined) => (v == null ? '' : Array.isArray(v) ? v.join('; ') : String(v));
      return { format, columns, rows: objects.map((o) => columns.map((c) => cell(o[c]))) };
    }
    const split = (line: string, row: number): string[] => {
      const cells: string[] = [];
      let cur = '';
      let quoted = false;
      for (let i = 0; i < line.length; i++) {
        const ch = line[i]!;
        if (quoted) {
          if (ch === '"' && line[i + 1] === '"') (cur += '"'), i++;
          else if (ch === '"') quoted = false;
          else cur += ch;
        } else if (ch === '"') quoted = true;
        else if (ch === ',') cells.push(cur), (cur = '');
        else cur += ch;
      }
      if (quoted) throw fail('invalid', `${path} is not a valid CSV file: row ${row}: a quoted cell is not closed.`);
      cells.push(cur);
      return cells;
    };
    const [header, ...rest] = lines;
    if (header === undefined) return { format, columns: [], rows: [] };
    return { format, columns: split(header, 0), rows: rest.map((l, i) => split(l, i + 1)) };
  }

  /** A cell as `field`'s value, or the reason it does not fit. */
  #value(f: Collection['fields'][number], cell: string): { value: JsonValue } | { reason: string } {
    const s = cell.trim();
    if (!s) return f.required ? { reason: `${f.label} is required` } : { value: null };
    switch (f.type) {
      case 'number':
        return Number.isFinite(Number(s)) ? { value: Number(s) } : { reason: `${f.label}: “${s}” is not a number` };
      case 'boolean':
        if (/^(true|yes|1)$/i.test(s)) return { value: true };
        if (/^(false|no|0)$/i.test(s)) return { value: false };
        return { reason: `${f.label}: “${s}” is not yes or no` };
      case 'choice':
        return (f.options ?? []).includes(s) ? { value: s } : { reason: `${f.label}: “${s}” is not one of ${(f.options ?? []).join(', ')}` };
      case 'tags':
        return { value: s.split(/[;,]/).map((t) => t.trim()).filter(Boolean) };
      default:
        return { value: s };
    }
  }

  #plan(collection: string, path: string, given: ImportOptions | null) {
    const t = this.#t(collection);
    const c = t.collection;
    const file = this.#read(path);
    const guess = (col: string) =>
      c.fields.find((f) => f.name.toLowerCase() === col.trim().toLowerCase() || f.label.toLowerCase() === col.trim().toLowerCase())?.name ?? null;
    const options: ImportOptions = given ?? { mapping: file.columns.map((column) => ({ column, field: guess(column) })), key: null };
    if (options.key !== null && !c.fields.some((f) => f.name === options.key)) {
      throw fail('invalid', `Collection "${c.name}" has no field "${options.key}" to match records by.`);
    }
    // Records by key value, for update mode.
    const byKey = new Map<string, string>();
    if (options.key !== null) {
      for (const k of this.#keys(t)) {
        const r = this.#record(t, k);
        const v = r.fields[options.key];
        if (v != null && !byKey.has(String(v))) byKey.set(String(v), r.id);
      }
    }
    const problems: RowProblem[] = [];
    const good: { row: number; fields: Fields }[] = [];
    file.rows.forEach((cells, i) => {
      const fields: Fields = {};
      const reasons: string[] = [];
      options.mapping.forEach((m, k) => {
        const f = m.field === null ? undefined : c.fields.find((x) => x.name === m.field);
        if (!f) return;
        const v = this.#value(f, cells[file.columns.indexOf(m.column)] ?? cells[k] ?? '');
        if ('reason' in v) reasons.push(v.reason);
        else fields[f.name] = v.value;
      });
      // A row that creates a record needs every required field.
      const matched = options.key !== null && byKey.has(String(fields[options.key] ?? ''));
      if (!matched) for (const f of c.fields) if (f.required && !(f.name in fields) && !reasons.length) reasons.push(`${f.label} is required`);
      if (reasons.length) problems.push({ row: i + 1, reasons });
      else good.push({ row: i + 1, fields });
    });
    const signature = `${collection}\n${path}\n${JSON.stringify(options)}`;
    const resume = this.#imported.get(signature) ?? 0;
    return { t, file, options, problems, good, byKey, signature, resume };
  }

  importPreview(collection: string, path: string, given: ImportOptions | null): ImportPreview {
    const p = this.#plan(collection, path, given);
    const left = p.good.filter((g) => g.row > p.resume);
    const matches = p.options.key === null ? 0 : left.filter((g) => p.byKey.has(String(g.fields[p.options.key!]))).length;
    return {
      path,
      format: p.file.format,
      columns: p.file.columns,
      sample: p.file.rows.slice(0, 5),
      rows: p.file.rows.length,
      valid: left.length,
      problems: p.problems.slice(0, 100),
      problem_rows: p.problems.length,
      options: p.options,
      matches,
      resume_from: p.resume,
      already_imported: p.resume > 0 && p.resume >= p.file.rows.length,
    };
  }

  async importRecords(collection: string, path: string, options: ImportOptions): Promise<ImportReport> {
    const p = this.#plan(collection, path, options);
    const failure = this.importError;
    this.importError = null;
    if (failure) throw failure;
    const report: ImportReport = {
      rows: p.file.rows.length, created: 0, updated: 0, unchanged: 0, skipped: 0, problems: [], resumed_from: p.resume, cancelled: false, done: p.resume,
    };
    if (p.resume >= p.file.rows.length) return report;
    this.#cancelImport = false;
    const total = p.file.rows.length;
    for (let start = p.resume; start < total; start += this.importBatch) {
      const end = Math.min(total, start + this.importBatch);
      await new Promise((r) => setTimeout(r, this.importDelayMs));
      // One batch, one transaction: all its rows or none.
      for (const g of p.good) {
        if (g.row <= start || g.row > end) continue;
        const id = p.options.key === null ? undefined : p.byKey.get(String(g.fields[p.options.key]));
        if (id) {
          const old = this.get(collection, id);
          const changes = Object.fromEntries(Object.entries(g.fields).filter(([k, v]) => JSON.stringify(old.fields[k] ?? null) !== JSON.stringify(v)));
          if (!Object.keys(changes).length) {
            report.unchanged++;
            continue;
          }
          const r: LocalRecord = { ...old, fields: { ...old.fields, ...changes }, state: 'pending', error: null };
          p.t.overrides.set(id, r);
          this.#enqueue(r, 'put', changes);
          report.updated++;
        } else {
          this.#check(p.t.collection, g.fields, true);
          const r: LocalRecord = { collection, id: crypto.randomUUID(), fields: { ...g.fields }, deleted: false, base: null, state: 'pending', error: null };
          p.t.overrides.set(r.id, r);
          this.#enqueue(r, 'put', g.fields);
          report.created++;
        }
      }
      for (const pr of p.problems) if (pr.row > start && pr.row <= end) report.skipped++, report.problems.length < 100 && report.problems.push(pr);
      report.done = end;
      this.#imported.set(p.signature, end);
      this.#changed(p.t);
      this.#emit('records-changed', { records: [], truncated: true });
      this.#emit('import-progress', { done: end - p.resume, total: total - p.resume });
      if (this.#cancelImport && end < total) {
        report.cancelled = true;
        break;
      }
    }
    this.emitStatus();
    return report;
  }

  exportRecords(query: ListQuery, format: FileFormat, path: string) {
    if (path.startsWith('/readonly/')) throw fail('internal', `Cannot write ${path}: permission denied. Choose a folder you can write to.`);
    return { path, format, rows: this.count(query) };
  }

  #security() {
    return { protection: this.protection, cipher: this.protection === 'off' ? null : '4.5.7 community', lock_minutes: this.lockMinutes };
  }

  /** Every command the UI may call. */
  handle(cmd: string, args: Record<string, unknown>): unknown {
    this.calls.push({ cmd, args: JSON.parse(JSON.stringify(args ?? {})) });
    // The shell validates argument types; the fake trusts the UI to send them right.
    const a = args as Record<string, any>;
    const needSession = () => {
      if (this.status.locked) throw fail('locked', 'Your records are locked. Type the passphrase to open them.');
      if (this.status.damaged) throw fail('damaged', this.status.damaged);
    };
    switch (cmd) {
      case 'app_info':
        return { name: 'Ferry', version: '0.1.0', profile_dir: '/home/alice/.local/share/ferry' };
      case 'status':
        this.#counts();
        return this.status;
      case 'demo_server':
        return this.#scenario.demo === undefined ? 'http://127.0.0.1:8787' : this.#scenario.demo;
      case 'login':
        return this.login(a.form);
      case 'logout':
        this.status = { ...this.status, account: null };
        return this.status;
      case 'devices':
        if (this.status.work_offline) throw { kind: 'offline', message: 'You are working offline. Go online to reach the server.', field: null };
        return this.devices;
      case 'sign_out_device':
        this.devices = this.devices.filter((d) => d.id !== a.id);
        return this.devices;
      case 'unlock_profile': {
        const p = String(a.passphrase ?? '');
        if (p.length < 8) throw fail('invalid', 'Use at least 8 characters.');
        if (this.status.locked === 'choose_passphrase') this.passphrase = p;
        else if (p !== this.passphrase) throw fail('locked', 'That passphrase does not open your records. Nothing was changed; try again.');
        this.status = { ...this.status, locked: null };
        this.emitStatus();
        return this.status;
      }
      case 'lock_profile':
        if (this.protection !== 'passphrase') throw fail('invalid', 'Only records kept with a passphrase can be locked: their key is not in a keyring.');
        this.status = { ...this.status, locked: 'idle' };
        this.emitStatus();
        return this.status;
      case 'recover_profile':
        this.status = { ...this.status, damaged: null, connection: { state: 'online' } };
        this.emitStatus();
        return this.status;
    }
    needSession();
    switch (cmd) {
      case 'security':
        return this.#security();
      case 'set_app_lock':
        if (a.minutes !== null && this.protection !== 'passphrase') {
          throw fail('invalid', 'Locking needs a passphrase to unlock with; this computer keeps the key in its keyring.');
        }
        this.lockMinutes = a.minutes;
        return this.#security();
      case 'collections':
        return this.collections();
      case 'list_records':
        return this.list(a.query);
      case 'count_records':
        return this.count(a.query);
      case 'get_record':
        return this.get(a.collection, a.id);
      case 'create_record':
        return this.create(a.collection, a.fields);
      case 'update_record':
        return this.update(a.collection, a.id, a.changes);
      case 'delete_record':
        return this.remove(a.collection, a.id);
      case 'restore_record':
        return this.restore(a.collection, a.id);
      case 'record_history':
        return this.history(a.collection, a.id);
      case 'outbox':
        return this.outboxEntries;
      case 'conflicts':
        return this.conflictList;
      case 'resolve_conflict':
        return this.resolve(a.collection, a.id, a.resolution);
      case 'sync_now':
        return this.syncNow();
      case 'set_work_offline':
        return this.setWorkOffline(a.offline);
      case 'set_notifications':
        this.status = { ...this.status, notifications: a.enabled };
        return this.status;
      case 'quit':
        this.quitCalled = true;
        return null;
      case 'record_ids':
        return this.ids(a.query);
      case 'update_records':
        return this.updateMany(a.collection, a.ids, a.changes);
      case 'tag_records':
        return this.tagMany(a.collection, a.ids, a.field, a.add, a.remove);
      case 'delete_records':
        return this.many(a.collection, a.ids, () => 'delete');
      case 'restore_records':
        return this.many(a.collection, a.ids, () => 'restore');
      case 'discard_change':
        return this.discard(a.mutationId);
      case 'reapply_change':
        return this.reapply(a.mutation);
      case 'set_window_title':
        this.windowTitle = a.title;
        return null;
      case 'choose_attach_files':
        return this.attachPaths;
      case 'attach_files':
        return this.attach(a.collection, a.id, a.field, a.paths);
      case 'detach_file': {
        const kept = filesOf(this.get(a.collection, a.id).fields[a.field]).filter((f) => f.sha256 !== a.sha256);
        return this.update(a.collection, a.id, { [a.field]: kept.length ? kept : null });
      }
      case 'file_states':
        return (a.shas as string[]).flatMap((s) => (this.localFiles.has(s) ? [this.localFiles.get(s)!] : []));
      case 'waiting_files':
        return [...this.localFiles.values()].filter((f) => f.upload !== null);
      case 'retry_files': {
        const failed = [...this.localFiles.values()].filter((f) => f.upload === 'failed');
        for (const f of failed) this.localFiles.set(f.sha256, { ...f, upload: 'waiting', error: null, retry_at: null });
        this.syncNow();
        return failed.length;
      }
      case 'open_file':
        return null;
      case 'save_file_as':
        return false;
      case 'file_thumbnail':
        return null;
      case 'choose_import_file':
        return this.openChoice;
      case 'choose_export_file':
        return this.saveChoice;
      case 'import_preview':
        return this.importPreview(a.collection, a.path, a.options);
      case 'import_records':
        return this.importRecords(a.collection, a.path, a.options);
      case 'cancel_import':
        this.#cancelImport = true;
        return null;
      case 'export_records':
        return this.exportRecords(a.query, a.format, a.path);
    }
    throw fail('internal', `Unknown command ${cmd}`);
  }
}
