import { invoke, isTauri } from '@tauri-apps/api/core';
import type { AppInfo } from './version';

/**
 * Asks the desktop shell who it is. Resolves to `null` outside Tauri (a plain
 * browser during `npm run dev`) or if the command fails, so the UI can simply
 * show nothing.
 */
export async function fetchAppInfo(): Promise<AppInfo | null> {
  if (!isTauri()) {
    return null;
  }
  try {
    return await invoke<AppInfo>('app_info');
  } catch (error) {
    console.warn('app_info failed', error);
    return null;
  }
}
