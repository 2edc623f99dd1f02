import { describe, expect, it } from 'vitest';
import { accepts, fileState, filesOf, filesSummary, humanSize } from '../src/lib/files';
import type { LocalFile } from '../src/lib/types';

const sha = 'a'.repeat(64);
const file = (name: string, mime: string) => ({ sha256: sha, name, size: 10, mime });
const local = (over: Partial<LocalFile>): LocalFile => ({
  sha256: sha, size: 10, present: true, upload: null, sent: 0, error: null, retry_at: null, ...over,
});

describe('files', () => {
  it('sizes read as people say them', () => {
    expect([humanSize(812), humanSize(3400), humanSize(12_000_000), humanSize(2_500_000_000)]).toEqual([
      '812 B', '3.4 kB', '12.0 MB', '2.5 GB',
    ]);
  });

  it('a field takes files by MIME type, family or extension, ignoring case', () => {
    expect(accepts(['image/*'], file('a.jpg', 'image/jpeg'))).toBe(true);
    expect(accepts(['image/*'], file('a.pdf', 'application/pdf'))).toBe(false);
    expect(accepts(['.PDF'], file('plan.pdf', 'application/octet-stream'))).toBe(true);
    expect(accepts(['application/pdf'], file('x', 'Application/PDF'))).toBe(true);
    expect(accepts(null, file('x', 'text/plain'))).toBe(true);
  });

  it('each state has its words', () => {
    expect(fileState(undefined)).toBe('On the server');
    expect(fileState(local({ upload: 'waiting' }))).toBe('Waiting to send');
    expect(fileState(local({ upload: 'failed', error: 'a file may be at most 8 MB' }))).toBe(
      'Failed: a file may be at most 8 MB',
    );
    const refused = local({ upload: 'failed', error: 'over your quota', retry_at: '2026-12-06T15:20:00.000Z' });
    expect(fileState(refused)).toMatch(/^Failed: over your quota\. Ferry tries again after .*2026.*\.$/);
    expect(fileState(local({ sent: 10 }))).toBe('Sent');
    expect(fileState(local({}))).toBe('On this laptop');
    expect(fileState(local({ upload: 'waiting' }), { direction: 'upload', share: 0.456 })).toBe('Sending 45%');
    expect(fileState(undefined, { direction: 'download', share: 0.5 })).toBe('Fetching 50%');
  });

  it('lists show a name or a count, and ignore what is not a file', () => {
    expect(filesSummary([file('a.jpg', 'image/jpeg')])).toBe('a.jpg');
    expect(filesSummary([file('a.jpg', 'image/jpeg'), file('b.jpg', 'image/jpeg')])).toBe('2 files');
    expect(filesOf(['x', 1, null, file('a', 'b')])).toHaveLength(1);
    expect(filesSummary(null)).toBe('');
  });
});
