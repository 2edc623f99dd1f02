import { describe, expect, it } from 'vitest';
import { windowTitle } from '../src/lib/title';

describe('windowTitle', () => {
  const label = (name: string) => ({ contacts: 'Contacts' })[name] ?? null;
  it('names the account and the collection on screen', () => {
    expect(windowTitle('alice', { kind: 'collection', name: 'contacts' }, label)).toBe('Ferry — alice — Contacts');
    expect(windowTitle('bob', { kind: 'conflicts' }, label)).toBe('Ferry — bob — Conflicts');
    expect(windowTitle('bob', { kind: 'outbox' }, label)).toBe('Ferry — bob — Outbox');
    expect(windowTitle('bob', { kind: 'settings' }, label)).toBe('Ferry — bob — Settings');
  });
  it('is plain Ferry when signed out, and the account alone before a collection shows', () => {
    expect(windowTitle(null, { kind: 'collection', name: 'contacts' }, label)).toBe('Ferry');
    expect(windowTitle('alice', { kind: 'collection', name: '' }, label)).toBe('Ferry — alice');
  });
});
