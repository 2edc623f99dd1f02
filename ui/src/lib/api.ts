// The desktop shell's commands and events, typed by the generated bindings.
import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import { toCommandError } from './errors';
import type { CommandName } from './bindings/commands';
import type {
  AppInfo, CollectionInfo, Conflict, EventName, EventPayloads, Fields, ListQuery, LocalRecord, LoginForm, OutboxEntry,
  RecordList, ResolutionInput, ServerRecord, Status,
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
  collections: () => call<CollectionInfo[]>('collections'),
  listRecords: (query: ListQuery) => call<RecordList>('list_records', { query }),
  countRecords: (query: ListQuery) => call<number>('count_records', { query }),
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
