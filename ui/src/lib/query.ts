// What the record list asks for: search, sort and filters.
import type { Collection, Fields, JsonValue, ListQuery } from './types';

export interface ListParams {
  search: string;
  /** null: the collection's title field. */
  sort: string | null;
  descending: boolean;
  filters: Fields;
}

export const emptyParams = (): ListParams => ({ search: '', sort: null, descending: false, filters: {} });

export function toListQuery(collection: string, params: ListParams, offset: number, limit: number): ListQuery {
  const search = params.search.trim();
  return {
    collection,
    search: search ? search : null,
    sort: params.sort,
    descending: params.descending,
    filters: params.filters,
    offset,
    limit,
  };
}

/** Clicking a column header: sort by it, or flip the order if it is already the sort. */
export function nextSort(params: ListParams, field: string, collection: Collection): ListParams {
  const current = params.sort ?? collection.title_field;
  return current === field
    ? { ...params, descending: !params.descending }
    : { ...params, sort: field === collection.title_field ? null : field, descending: false };
}

/** Sets or clears (value undefined or '') one filter. */
export function withFilter(params: ListParams, field: string, value: JsonValue | undefined): ListParams {
  const filters: Fields = { ...params.filters };
  if (value === undefined || value === '' || value === null) delete filters[field];
  else filters[field] = value;
  return { ...params, filters };
}
