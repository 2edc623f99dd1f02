// The console's shapes: the types generated from the Rust protocol crate
// (crates/protocol/src/admin.rs), shared with the desktop UI's bindings.
export type { AccessPreview } from '../src/lib/bindings/AccessPreview';
export type { AdminDevice } from '../src/lib/bindings/AdminDevice';
export type { AdminDevicesResponse } from '../src/lib/bindings/AdminDevicesResponse';
export type { AdminHealth } from '../src/lib/bindings/AdminHealth';
export type { AdminTeam } from '../src/lib/bindings/AdminTeam';
export type { AdminUser } from '../src/lib/bindings/AdminUser';
export type { AuditEntry } from '../src/lib/bindings/AuditEntry';
export type { AuditPage } from '../src/lib/bindings/AuditPage';
export type { CollectionCount } from '../src/lib/bindings/CollectionCount';
export type { CollectionSpec } from '../src/lib/bindings/CollectionSpec';
export type { CollectionsResponse } from '../src/lib/bindings/CollectionsResponse';
export type { ConsoleSession } from '../src/lib/bindings/ConsoleSession';
export type { Grant } from '../src/lib/bindings/Grant';
export type { GrantAccess } from '../src/lib/bindings/GrantAccess';
export type { GrantChange } from '../src/lib/bindings/GrantChange';
export type { GrantsResponse } from '../src/lib/bindings/GrantsResponse';
export type { NewTeam } from '../src/lib/bindings/NewTeam';
export type { NewUser } from '../src/lib/bindings/NewUser';
export type { PushMinute } from '../src/lib/bindings/PushMinute';
export type { RevokeDevice } from '../src/lib/bindings/RevokeDevice';
export type { Role } from '../src/lib/bindings/Role';
export type { Subject } from '../src/lib/bindings/Subject';
export type { TeamsResponse } from '../src/lib/bindings/TeamsResponse';
export type { UserChange } from '../src/lib/bindings/UserChange';
export type { UsersResponse } from '../src/lib/bindings/UsersResponse';
export type { ErrorBody, Field, FieldType } from '../src/lib/types';
