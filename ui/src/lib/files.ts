// Attached files: their sizes and states in words, and which files a
// field takes (the same rule as the server's: a MIME type, a family such
// as image/*, or an extension such as .pdf, ignoring case).
import { dateTime } from './locale';
import type { FileRef, JsonValue, LocalFile } from './types';

/** The files a file field's value holds. */
export function filesOf(value: JsonValue | undefined): FileRef[] {
  if (!Array.isArray(value)) return [];
  return value.filter(
    (v): v is FileRef =>
      typeof v === 'object' && v !== null && !Array.isArray(v) && typeof v.sha256 === 'string' && typeof v.name === 'string',
  );
}

/** "812 B", "3.4 kB", "12.0 MB". */
export function humanSize(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)} kB`;
  if (bytes < 1e9) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${(bytes / 1e9).toFixed(1)} GB`;
}

/** Whether a field's `accept` list takes a file. */
export function accepts(accept: readonly string[] | null | undefined, file: { name: string; mime: string }): boolean {
  if (!accept || accept.length === 0) return true;
  const mime = file.mime.toLowerCase();
  const name = file.name.toLowerCase();
  return accept.some((raw) => {
    const a = raw.trim().toLowerCase();
    if (a.endsWith('/*')) return mime.split('/')[0] === a.slice(0, -2);
    if (a.startsWith('.')) return name.endsWith(a);
    return mime === a;
  });
}

/** When a refused file is sent again unasked, as a sentence (or nothing). */
export function retryWhen(local: LocalFile): string {
  return local.retry_at ? `. Ferry tries again after ${dateTime(local.retry_at)}.` : '';
}

/** Where a file stands, in words; `progress` is an upload's or fetch's share done (0–1). */
export function fileState(local: LocalFile | undefined, progress?: { direction: string; share: number }): string {
  if (progress && progress.share < 1) {
    const pct = Math.floor(progress.share * 100);
    return progress.direction === 'upload' ? `Sending ${pct}%` : `Fetching ${pct}%`;
  }
  if (!local) return 'On the server';
  if (local.upload === 'failed') return `Failed: ${local.error ?? 'unknown error'}${retryWhen(local)}`;
  if (local.upload === 'waiting') return 'Waiting to send';
  if (!local.present) return 'On the server';
  // Sent from here, or fetched from the server.
  return local.size > 0 && local.sent >= local.size ? 'Sent' : 'On this laptop';
}

/** A one-line summary for lists: the name of one file, or how many. */
export function filesSummary(value: JsonValue | undefined): string {
  const files = filesOf(value);
  if (files.length === 0) return '';
  return files.length === 1 ? files[0]!.name : `${files.length} files`;
}
