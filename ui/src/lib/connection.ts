// The connection state in words, for the status bar.
import { count } from './locale';
import type { Status } from './types';

export type ConnKind = 'online' | 'offline' | 'syncing' | 'connecting' | 'error';

export interface ConnView {
  kind: ConnKind;
  /** One or two words: "Online", "Offline", "Syncing…". */
  label: string;
  /** A sentence with the reason, when there is one. */
  detail: string;
}

export function connectionView(status: Status): ConnView {
  const c = status.connection;
  switch (c.state) {
    case 'online':
      return { kind: 'online', label: 'Online', detail: 'Connected; changes are sent as you make them.' };
    case 'syncing':
      return { kind: 'syncing', label: 'Syncing…', detail: 'Sending and receiving changes.' };
    case 'connecting':
      return { kind: 'connecting', label: 'Connecting…', detail: 'Looking for the server.' };
    case 'offline':
      return c.by_choice || status.work_offline
        ? { kind: 'offline', label: 'Working offline', detail: 'Changes are kept on this computer until you go online.' }
        : { kind: 'offline', label: 'Offline', detail: c.reason || 'The server cannot be reached. Changes are kept on this computer.' };
    case 'error':
      return { kind: 'error', label: 'Sync problem', detail: c.message };
  }
}

/** "1 change waiting", "3 changes waiting", or "All changes sent". */
export function pendingLabel(n: number): string {
  if (n <= 0) return 'All changes sent';
  return `${count(n)} ${n === 1 ? 'change' : 'changes'} waiting`;
}

/** Conflicts are changes not sent either: "1 change needs your decision". */
export function decisionsLabel(n: number): string {
  return `${count(n)} ${n === 1 ? 'change needs' : 'changes need'} your decision`;
}
