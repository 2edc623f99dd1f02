import { describe, expect, it } from 'vitest';
import { hlcTime, relativeTime } from '../src/lib/time';

describe('relativeTime', () => {
  const now = new Date('2026-11-26T12:00:00Z');
  const ago = (ms: number) => new Date(now.getTime() - ms);

  it('speaks in minutes, hours and days', () => {
    expect(relativeTime(ago(10_000), now)).toBe('just now');
    expect(relativeTime(ago(-5_000), now)).toBe('just now');
    expect(relativeTime(ago(2 * 60_000), now)).toBe('2 min ago');
    expect(relativeTime(ago(59 * 60_000), now)).toBe('59 min ago');
    expect(relativeTime(ago(3 * 3_600_000), now)).toBe('3 h ago');
    expect(relativeTime(ago(30 * 3_600_000), now)).toBe('yesterday');
    expect(relativeTime(ago(5 * 86_400_000), now)).toBe('5 days ago');
  });

  it('gives a date for older times', () => {
    expect(relativeTime(ago(40 * 86_400_000), now)).toMatch(/Oct|17/);
    expect(relativeTime(new Date('2024-03-04T10:00:00Z'), now)).toMatch(/2024/);
    expect(relativeTime(null, now)).toBe('');
  });
});

describe('hlcTime', () => {
  it('reads the wall-clock part of an HLC stamp', () => {
    expect(hlcTime('2026-11-26T09:30:00.000Z-0000-node')?.toISOString()).toBe('2026-11-26T09:30:00.000Z');
    expect(hlcTime('2026-11-26T09:30:00.000Z-00ff-dev.1')?.getTime()).toBe(Date.UTC(2026, 10, 26, 9, 30));
    expect(hlcTime('garbage')).toBeNull();
    expect(hlcTime(null)).toBeNull();
  });
});
