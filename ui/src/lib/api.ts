// The desktop shell's commands and events, typed by the generated bindings.
import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import { getCurrentWebview } from '@tauri-apps/api/webview';
import { toCommandError } from './errors';
import type { CommandName } from './bindings/commands';
import type {
  AppInfo, BulkReport, CollectionInfo, Conflict, Device, EventName, EventPayloads, ExportReport, Fields, FileFormat, ImportOptions,
  ImportPreview, ImportReport, ListQuery, LocalRecord, LoginForm, Mutation, OutboxEntry, RecordList, ResolutionInput,
  LocalFile, Security, ServerRecord, Status,
} from './types';

// Command names come from the shell's one list (src-tauri/src/command_list.rs);
// a Rust test checks that this file calls each of them.
async function call<T>(command: CommandName, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (e) {
    throw toCommandError(e);
  }
}

export const api = {
  appInfo: () => call<AppInfo>('app_info'),
  status: () => call<Status>('status'),
  demoServer: () => call<string | null>('demo_server'),
  login: (form: LoginForm) => call<Status>('login', { form }),
  logout: () => call<Status>('logout'),
  recoverProfile: () => call<Status>('recover_profile'),
  /** Opens records that wait for their passphrase (or chooses one). */
  unlockProfile: (passphrase: string) => call<Status>('unlock_profile', { passphrase }),
  /** Locks records kept with a passphrase. */
  lockProfile: () => call<Status>('lock_profile'),
  /** How the records on this computer are kept. */
  security: () => call<Security>('security'),
  /** Lock after this many idle minutes; null: never. */
  setAppLock: (minutes: number | null) => call<Security>('set_app_lock', { minutes }),
  collections: () => call<CollectionInfo[]>('collections'),
  listRecords: (query: ListQuery) => call<RecordList>('list_records', { query }),
  countRecords: (query: ListQuery) => call<number | null>('count_records', { query }),
  getRecord: (collection: string, id: string) => call<LocalRecord>('get_record', { collection, id }),
  createRecord: (collection: string, fields: Fields) => call<LocalRecord>('create_record', { collection, fields }),
  updateRecord: (collection: string, id: string, changes: Fields) =>
    call<LocalRecord>('update_record', { collection, id, changes }),
  deleteRecord: (collection: string, id: string) => call<null>('delete_record', { collection, id }),
  restoreRecord: (collection: string, id: string) => call<LocalRecord>('restore_record', { collection, id }),
  recordHistory: (collection: string, id: string) => call<ServerRecord[]>('record_history', { collection, id }),
  outbox: () => call<OutboxEntry[]>('outbox'),
  conflicts: () => call<Conflict[]>('conflicts'),
  resolveConflict: (collection: string, id: string, resolution: ResolutionInput) =>
    call<null>('resolve_conflict', { collection, id, resolution }),
  syncNow: () => call<null>('sync_now'),
  setWorkOffline: (offline: boolean) => call<Status>('set_work_offline', { offline }),
  setNotifications: (enabled: boolean) => call<Status>('set_notifications', { enabled }),
  quit: () => call<null>('quit'),
  /** This user's signed-in devices, from the server. */
  devices: () => call<Device[]>('devices'),
  /** Signs another of this user's devices out; the devices left. */
  signOutDevice: (id: string) => call<Device[]>('sign_out_device', { id }),
  /** A file chosen in the system's Open dialog (null: cancelled). */
  chooseImportFile: () => call<string | null>('choose_import_file'),
  /** A path chosen in the system's Save dialog, `name` suggested (null: cancelled). */
  chooseExportFile: (name: string) => call<string | null>('choose_export_file', { name }),
  /** What importing `path` would do; `options` null: the mapping is guessed. */
  importPreview: (collection: string, path: string, options: ImportOptions | null) =>
    call<ImportPreview>('import_preview', { collection, path, options }),
  /** Imports the file; `import-progress` events tell how far it is. */
  importRecords: (collection: string, path: string, options: ImportOptions) =>
    call<ImportReport>('import_records', { collection, path, options }),
  /** Stops the running import after its current batch (its report says `cancelled`). */
  cancelImport: () => call<null>('cancel_import'),
  /** Writes every record `query` matches (offset and limit aside), in its order. */
  exportRecords: (query: ListQuery, format: FileFormat, path: string) =>
    call<ExportReport>('export_records', { query, format, path }),
  /** The ids of every record `query` matches (offset and limit aside), in its order. */
  recordIds: (query: ListQuery) => call<string[]>('record_ids', { query }),
  updateRecords: (collection: string, ids: string[], changes: Fields) =>
    call<BulkReport>('update_records', { collection, ids, changes }),
  /** Adds and removes values of a tags field on each record. */
  tagRecords: (collection: string, ids: string[], field: string, add: string[], remove: string[]) =>
    call<BulkReport>('tag_records', { collection, ids, field, add, remove }),
  deleteRecords: (collection: string, ids: string[]) => call<BulkReport>('delete_records', { collection, ids }),
  restoreRecords: (collection: string, ids: string[]) => call<BulkReport>('restore_records', { collection, ids }),
  /** Takes back one unsent change: the record returns to its last synced state. Returns the entry. */
  discardChange: (mutationId: string) => call<OutboxEntry>('discard_change', { mutationId }),
  /** Undoes a discard: the change is made again. */
  reapplyChange: (mutation: Mutation) => call<null>('reapply_change', { mutation }),
  setWindowTitle: (title: string) => call<null>('set_window_title', { title }),
  /** Files chosen in the system's Open dialog, narrowed to a field's `accept` (empty: cancelled). */
  chooseAttachFiles: (accept: string[] | null) => call<string[]>('choose_attach_files', { accept }),
  /** Copies the files in and attaches them to a record's file field (offline too). */
  attachFiles: (collection: string, id: string, field: string, paths: string[]) =>
    call<LocalRecord>('attach_files', { collection, id, field, paths }),
  detachFile: (collection: string, id: string, field: string, sha256: string) =>
    call<LocalRecord>('detach_file', { collection, id, field, sha256 }),
  /** What this laptop knows of these files (unknown ones: on the server only). */
  fileStates: (shas: string[]) => call<LocalFile[]>('file_states', { shas }),
  /** Files waiting to be sent, for the outbox. */
  waitingFiles: () => call<LocalFile[]>('waiting_files'),
  /** Tries the files that could not be sent again, now; how many. */
  retryFiles: () => call<number>('retry_files'),
  /** Opens a record's file with the system's app, fetching it first when needed. */
  openFile: (collection: string, id: string, sha256: string, name: string) =>
    call<null>('open_file', { collection, id, sha256, name }),
  /** Saves a copy where the user says (false: cancelled). */
  saveFileAs: (collection: string, id: string, sha256: string, name: string) =>
    call<boolean>('save_file_as', { collection, id, sha256, name }),
  /** A thumbnail (data: URL) of an image file on this laptop, else null. */
  fileThumbnail: (sha256: string, mime: string) => call<string | null>('file_thumbnail', { sha256, mime }),
};

/** Payload of each event the shell sends (generated from the shell's `EventPayloads`). */
export type Events = EventPayloads;

// Fails to compile when an event name has no payload or a payload no name.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const eventsCovered: Same<keyof Events, EventName> = true;
void eventsCovered;

export function on<K extends keyof Events>(name: K, handler: (payload: Events[K]) => void): Promise<UnlistenFn> {
  return listen<Events[K]>(name, (event) => handler(event.payload));
}

/** Files dragged over the window (`over`, with where, in CSS pixels), dropped (`drop`, with their paths) or taken away (`leave`). */
export type FileDrag = { type: 'over' | 'drop' | 'leave'; paths: string[]; x: number; y: number };

/** Follows files dragged onto the window from the system (the shell's drag-and-drop, which gives their paths). */
export function onFileDrag(handler: (drag: FileDrag) => void): Promise<UnlistenFn> {
  return getCurrentWebview().onDragDropEvent((event) => {
    const p = event.payload;
    if (p.type === 'leave') {
      handler({ type: 'leave', paths: [], x: 0, y: 0 });
      return;
    }
    // The shell reports physical pixels.
    const scale = window.devicePixelRatio || 1;
    handler({
      type: p.type === 'drop' ? 'drop' : 'over',
      paths: 'paths' in p ? p.paths : [],
      x: p.position.x / scale,
      y: p.position.y / scale,
    });
  });
}
