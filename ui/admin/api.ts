// The console's calls to ferry-server's administrator API, on the page's own
// origin. The session is an HttpOnly cookie; every request also carries
// `X-Ferry-CSRF: 1`, without which the server refuses a cookie's request.
import type {
  AccessPreview,
  AdminDevice,
  AdminDevicesResponse,
  AdminHealth,
  AdminTeam,
  AdminUser,
  AuditPage,
  CollectionSpec,
  CollectionsResponse,
  ConsoleSession,
  ErrorBody,
  FieldMigration,
  FieldUsage,
  GrantChange,
  GrantsResponse,
  HistoryResponse,
  MigrationJob,
  MigrationPlan,
  MigrationsResponse,
  NewUser,
  RecordChangesPage,
  TeamsResponse,
  UserChange,
  UsersResponse,
} from './types';

/** A refused or failed request: `message` is written for people. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId: string | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const SESSION_ENDED = 'Your session ended; sign in again.';

let sessionEnded: () => void = () => {};

/** Called when a request answers 401 (outside signing in): the session is over. */
export function onSessionEnded(f: () => void): void {
  sessionEnded = f;
}

type Query = Record<string, string | number | null | undefined>;

interface Options {
  query?: Query;
  body?: unknown;
  /** Signing in and asking for the session: a 401 is an answer, not the end of a session. */
  signIn?: boolean;
}

/** `path` with the non-empty `query` parameters. */
export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== null && v !== undefined && String(v) !== '') params.set(k, String(v));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

/** One path segment (a username, a team name, a device id). */
const seg = (s: string) => encodeURIComponent(s);

async function errorOf(res: Response): Promise<ApiError> {
  let body: { error?: Partial<ErrorBody> } | null = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  const e = body?.error;
  const requestId = e?.request_id ?? res.headers.get('x-request-id');
  if (e?.message) return new ApiError(res.status, e.code ?? 'error', e.message, requestId);
  const what =
    res.status >= 500
      ? 'The server failed to answer. Try again; if it keeps failing, its log says why.'
      : `The server refused the request (${res.status} ${res.statusText}).`;
  return new ApiError(res.status, 'http', what, requestId);
}

export async function request<T>(method: string, path: string, options: Options = {}): Promise<T> {
  const headers: Record<string, string> = { 'X-Ferry-CSRF': '1', accept: 'application/json' };
  const init: RequestInit = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(options.body);
  }
  let res: Response;
  try {
    res = await fetch(withQuery(path, options.query), init);
  } catch {
    throw new ApiError(0, 'network', 'The server could not be reached. Check that it is running and your connection, then try again.');
  }
  if (!res.ok) {
    const error = await errorOf(res);
    if (res.status === 401 && !options.signIn) {
      sessionEnded();
      throw new ApiError(401, error.code, SESSION_ENDED, error.requestId);
    }
    throw error;
  }
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export interface AuditFilter {
  actor?: string;
  action?: string;
  target?: string;
  before?: number | null;
  limit?: number;
}

export interface ChangesFilter {
  collection?: string;
  user?: string;
  before?: number | null;
  limit?: number;
}

export const admin = {
  session: () => request<ConsoleSession>('GET', '/v1/admin/session', { signIn: true }),
  signIn: (username: string, password: string) =>
    request<ConsoleSession>('POST', '/v1/admin/session', { body: { username, password }, signIn: true }),
  signOut: () => request<void>('DELETE', '/v1/admin/session', { signIn: true }),

  users: (q = '') => request<UsersResponse>('GET', '/v1/admin/users', { query: { q } }),
  addUser: (user: NewUser) => request<AdminUser>('POST', '/v1/admin/users', { body: user }),
  changeUser: (username: string, change: UserChange) =>
    request<AdminUser>('PATCH', `/v1/admin/users/${seg(username)}`, { body: change }),

  devices: (username = '') => request<AdminDevicesResponse>('GET', '/v1/admin/devices', { query: { username } }),
  revokeDevice: (id: string, wipe: boolean) =>
    request<AdminDevice>('POST', `/v1/admin/devices/${seg(id)}/revoke`, { body: { wipe } }),

  teams: () => request<TeamsResponse>('GET', '/v1/admin/teams'),
  addTeam: (name: string) => request<AdminTeam>('POST', '/v1/admin/teams', { body: { name } }),
  deleteTeam: (name: string) => request<void>('DELETE', `/v1/admin/teams/${seg(name)}`),
  addMember: (team: string, username: string) =>
    request<AdminTeam>('PUT', `/v1/admin/teams/${seg(team)}/members/${seg(username)}`),
  removeMember: (team: string, username: string) =>
    request<AdminTeam>('DELETE', `/v1/admin/teams/${seg(team)}/members/${seg(username)}`),

  grants: () => request<GrantsResponse>('GET', '/v1/admin/grants'),
  changeGrant: (change: GrantChange) => request<GrantsResponse>('POST', '/v1/admin/grants', { body: change }),
  preview: (username: string, collection: string) =>
    request<AccessPreview>('GET', '/v1/admin/preview', { query: { username, collection } }),

  collections: () => request<CollectionsResponse>('GET', '/v1/admin/collections'),
  addCollection: (spec: CollectionSpec) => request<CollectionSpec>('POST', '/v1/admin/collections', { body: spec }),
  editCollection: (spec: CollectionSpec) =>
    request<CollectionSpec>('PUT', `/v1/admin/collections/${seg(spec.name)}`, { body: spec }),
  fieldUsage: (collection: string, field: string) =>
    request<FieldUsage>('GET', `/v1/admin/collections/${seg(collection)}/fields/${seg(field)}/usage`),
  /** What a migration would do: nothing changes. */
  planMigration: (collection: string, migration: FieldMigration) =>
    request<MigrationPlan>('POST', `/v1/admin/collections/${seg(collection)}/migrations`, { query: { dry_run: 'true' }, body: migration }),
  startMigration: (collection: string, migration: FieldMigration) =>
    request<MigrationJob>('POST', `/v1/admin/collections/${seg(collection)}/migrations`, { body: migration }),
  migrations: () => request<MigrationsResponse>('GET', '/v1/admin/migrations'),
  changes: (filter: ChangesFilter = {}) =>
    request<RecordChangesPage>('GET', '/v1/admin/changes', {
      query: { collection: filter.collection, user: filter.user, before: filter.before, limit: filter.limit ?? 50 },
    }),
  recordHistory: (collection: string, id: string, afterVersion: number | null = null) =>
    request<HistoryResponse>('GET', `/v1/admin/records/${seg(collection)}/${seg(id)}/history`, { query: { after_version: afterVersion } }),
  audit: (filter: AuditFilter = {}) =>
    request<AuditPage>('GET', '/v1/admin/audit', {
      query: { actor: filter.actor, action: filter.action, target: filter.target, before: filter.before, limit: filter.limit ?? 50 },
    }),
  health: () => request<AdminHealth>('GET', '/v1/admin/health'),
};

/** Any thrown value as an ApiError, for showing. */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  return new ApiError(0, 'client', e instanceof Error ? e.message : String(e));
}
