// Words and numbers the console shows, through the desktop UI's locale helpers.
import { count, dateTime, locale, number } from '../src/lib/locale';
import { relativeTime } from '../src/lib/time';

export { count, dateTime, number };

/** "1 device", "2,314 records". */
export function plural(n: number | bigint, one: string, many: string = `${one}s`): string {
  return `${count(n)} ${Number(n) === 1 ? one : many}`;
}

/** An RFC 3339 time as "2 min ago"; "Never" when absent. */
export function ago(iso: string | null | undefined): string {
  if (!iso) return 'Never';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : relativeTime(d);
}

/** An RFC 3339 time in full, for a tooltip or a table. */
export function at(iso: string | null | undefined): string {
  return iso ? dateTime(iso) : '';
}

/** "dana will see 2,314 of 61,002 records". */
export function previewSentence(username: string, visible: number | bigint, total: number | bigint): string {
  return `${username} will see ${count(visible)} of ${plural(total, 'record')}`;
}

const clockFormat = new Intl.DateTimeFormat(locale, { timeStyle: 'short' });

/** The time of day: "14:05" (en-GB), "2:05 PM" (en-US). */
export function clock(d: Date): string {
  return Number.isNaN(d.getTime()) ? '' : clockFormat.format(d);
}
