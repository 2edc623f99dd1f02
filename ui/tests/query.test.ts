import { describe, expect, it } from 'vitest';
import { emptyParams, nextSort, toListQuery, withFilter } from '../src/lib/query';
import type { Collection } from '../src/lib/types';

const contacts = { name: 'contacts', title_field: 'name' } as Collection;

describe('list queries', () => {
  it('asks for one window with the search trimmed', () => {
    expect(toListQuery('contacts', { ...emptyParams(), search: '  ada ' }, 200, 100)).toEqual({
      collection: 'contacts', search: 'ada', sort: null, descending: false, filters: {}, offset: 200, limit: 100,
    });
    expect(toListQuery('contacts', emptyParams(), 0, 100).search).toBeNull();
  });

  it('sorts by a clicked column, and flips on a second click', () => {
    let p = nextSort(emptyParams(), 'email', contacts);
    expect(p).toMatchObject({ sort: 'email', descending: false });
    p = nextSort(p, 'email', contacts);
    expect(p).toMatchObject({ sort: 'email', descending: true });
    expect(nextSort(emptyParams(), 'name', contacts)).toMatchObject({ sort: null, descending: true });
    expect(nextSort(p, 'name', contacts)).toMatchObject({ sort: null, descending: false });
  });

  it('sets and clears filters', () => {
    let p = withFilter(emptyParams(), 'vip', true);
    p = withFilter(p, 'tags', 'lead');
    expect(p.filters).toEqual({ vip: true, tags: 'lead' });
    expect(withFilter(p, 'vip', undefined).filters).toEqual({ tags: 'lead' });
    expect(withFilter(p, 'tags', '').filters).toEqual({ vip: true });
    expect(withFilter(p, 'vip', false).filters).toEqual({ vip: false, tags: 'lead' });
  });
});
