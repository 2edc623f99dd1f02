// "2 min ago" and friends, and the time inside an HLC stamp.
import { dayMonth, dayMonthYear, fullDateTime } from './locale';

/** The wall-clock time of an HLC stamp (`2026-11-26T09:30:00.000Z-0000-node`), or null. */
export function hlcTime(stamp: string | null | undefined): Date | null {
  if (!stamp || stamp.length < 24) return null;
  const t = Date.parse(stamp.slice(0, 24));
  return Number.isNaN(t) ? null : new Date(t);
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** How long ago `then` was, in words: "just now", "2 min ago", "3 h ago", "yesterday", "5 days ago", "Mar 4". */
export function relativeTime(then: Date | null, now: Date = new Date()): string {
  if (!then) return '';
  const ms = now.getTime() - then.getTime();
  // A clock a little ahead of ours still reads as now.
  if (ms < 45_000) return 'just now';
  if (ms < HOUR) return `${Math.max(1, Math.round(ms / MINUTE))} min ago`;
  if (ms < DAY) return `${Math.round(ms / HOUR)} h ago`;
  const days = Math.floor(ms / DAY);
  if (days === 1) return 'yesterday';
  if (days < 7) return `${days} days ago`;
  return then.getFullYear() === now.getFullYear() ? dayMonth(then) : dayMonthYear(then);
}

/** A full date and time, for tooltips. */
export function fullTime(d: Date | null): string {
  return d ? fullDateTime(d) : '';
}
