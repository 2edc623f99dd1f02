//! The administrator's API (`/v1/admin/…`): users, teams, grants, devices,
//! the audit log and the server's health. Only users whose role is `admin`
//! may call it; everyone else gets 403 `forbidden`. The console at `/admin`
//! is written against these shapes, as any other tool may be.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a user may do beyond their grants: an `admin` manages the server.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    #[default]
    Member,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    /// Reads [`Role::name`]; anything else is a member.
    pub fn parse(s: &str) -> Role {
        if s == "admin" {
            Role::Admin
        } else {
            Role::Member
        }
    }
}

/// A user as the administrator sees them. `devices`: signed-in devices
/// (not revoked); `last_seen`: the latest contact of any of their devices.
///
/// ```
/// # use ferry_protocol::admin::AdminUser;
/// let json = r#"{"id":"0193a1b2-0000-7000-8000-000000000001","username":"dana","role":"member","disabled":false,"created_at":"2026-12-01T09:00:00.000Z","devices":2,"last_seen":"2026-12-05T10:12:00.000Z"}"#;
/// let v: AdminUser = serde_json::from_str(json).unwrap();
/// assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// ```
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminUser {
    pub id: Uuid,
    pub username: String,
    pub role: Role,
    /// A disabled user cannot sign in, and their devices were signed out.
    pub disabled: bool,
    pub created_at: String,
    pub devices: u32,
    pub last_seen: Option<String>,
}

/// `GET /v1/admin/users`: users by name.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsersResponse {
    pub users: Vec<AdminUser>,
}

/// `POST /v1/admin/users`: a new user (a member unless `role` says).
///
/// ```
/// # use ferry_protocol::admin::NewUser;
/// let json = r#"{"username":"dana","password":"correct horse","role":"member"}"#;
/// let v: NewUser = serde_json::from_str(json).unwrap();
/// assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// ```
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewUser {
    pub username: String,
    pub password: String,
    /// A member when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub role: Option<Role>,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("username", &self.username)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// `PATCH /v1/admin/users/{username}`: what to change; absent fields stay.
/// Disabling signs out every device of the user; a new password too.
///
/// ```
/// # use ferry_protocol::admin::UserChange;
/// let json = r#"{"disabled":true}"#;
/// let v: UserChange = serde_json::from_str(json).unwrap();
/// assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// ```
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub role: Option<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub disabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub password: Option<String>,
}

impl std::fmt::Debug for UserChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserChange")
            .field("role", &self.role)
            .field("disabled", &self.disabled)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A device of any user, revoked ones too.
///
/// ```
/// # use ferry_protocol::admin::AdminDevice;
/// let json = r#"{"id":"0193a1b2-0000-7000-8000-000000000001","username":"dana","name":"dana-laptop","platform":"linux","app_version":"ferry-desktop 0.4.0","first_seen":"2026-12-01T09:00:00.000Z","last_seen":"2026-12-05T10:12:00.000Z","last_ip":"192.0.2.7","revoked":false,"wipe":false}"#;
/// let v: AdminDevice = serde_json::from_str(json).unwrap();
/// assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// ```
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminDevice {
    pub id: Uuid,
    pub username: String,
    pub name: String,
    pub platform: String,
    pub app_version: String,
    pub first_seen: String,
    pub last_seen: String,
    pub last_ip: Option<String>,
    pub revoked: bool,
    /// Told to delete its local data at its next contact.
    pub wipe: bool,
}

/// `GET /v1/admin/devices`: most recently seen first.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminDevicesResponse {
    pub devices: Vec<AdminDevice>,
}

/// `POST /v1/admin/devices/{id}/revoke`: sign the device out; with `wipe`
/// it is also told to delete its local data (unsent edits are lost).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevokeDevice {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub wipe: Option<bool>,
}

/// A team and its members' usernames.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminTeam {
    pub name: String,
    pub members: Vec<String>,
}

/// `GET /v1/admin/teams`: teams by name.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TeamsResponse {
    pub teams: Vec<AdminTeam>,
}

/// `POST /v1/admin/teams`.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewTeam {
    pub name: String,
}

/// Whom a grant is for.
///
/// ```
/// # use ferry_protocol::admin::Subject;
/// for json in [r#"{"kind":"user","name":"dana"}"#, r#"{"kind":"team","name":"north"}"#, r#"{"kind":"everyone"}"#] {
///     let v: Subject = serde_json::from_str(json).unwrap();
///     assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// }
/// ```
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Subject {
    User { name: String },
    Team { name: String },
    Everyone,
}

/// What a grant gives: read, read and write, or (on partition values only)
/// write without read.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum GrantAccess {
    Read,
    Write,
    WriteOnly,
}

/// A grant as stored: to the whole collection (`values` empty) or to the
/// records whose partition field holds one of `values`.
///
/// ```
/// # use ferry_protocol::admin::Grant;
/// let json = r#"{"subject":{"kind":"team","name":"north"},"collection":"contacts","access":"write","values":["north"]}"#;
/// let v: Grant = serde_json::from_str(json).unwrap();
/// assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// ```
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Grant {
    pub subject: Subject,
    pub collection: String,
    pub access: GrantAccess,
    pub values: Vec<String>,
}

/// `GET /v1/admin/grants`: by collection, then subject.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GrantsResponse {
    pub grants: Vec<Grant>,
}

/// `POST /v1/admin/grants`: gives `access` (or with `null` takes away every
/// grant of the subject on the collection, or on `values` when given).
///
/// ```
/// # use ferry_protocol::admin::GrantChange;
/// let json = r#"{"subject":{"kind":"user","name":"dana"},"collection":"contacts","access":"read","values":["north","south"]}"#;
/// let v: GrantChange = serde_json::from_str(json).unwrap();
/// assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// ```
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GrantChange {
    pub subject: Subject,
    pub collection: String,
    pub access: Option<GrantAccess>,
    /// Partition values; empty: the whole collection.
    #[serde(default)]
    pub values: Vec<String>,
}

/// `GET /v1/admin/preview?username=…&collection=…`: how many of the
/// collection's live records the user's grants let them see, now.
///
/// ```
/// # use ferry_protocol::admin::AccessPreview;
/// let json = r#"{"username":"dana","collection":"contacts","visible":2314,"total":61002}"#;
/// let v: AccessPreview = serde_json::from_str(json).unwrap();
/// assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// ```
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccessPreview {
    pub username: String,
    pub collection: String,
    pub visible: u64,
    pub total: u64,
}

/// One administrative action. `actor` is the admin's username, or
/// `cli:<account>` for `ferry-server` subcommands run on the server;
/// `detail` never holds a password or token.
///
/// ```
/// # use ferry_protocol::admin::AuditEntry;
/// let json = r#"{"seq":42,"at":"2026-12-05T10:12:00.000Z","actor":"ann","device_id":"0193a1b2-0000-7000-8000-000000000001","ip":"192.0.2.7","action":"user.disable","target":"dana","detail":{"devices_signed_out":2}}"#;
/// let v: AuditEntry = serde_json::from_str(json).unwrap();
/// assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// ```
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub device_id: Option<Uuid>,
    pub ip: Option<String>,
    pub action: String,
    pub target: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    pub detail: serde_json::Value,
}

/// `GET /v1/admin/audit`: newest first; `next` is the `before` of the next
/// (older) page, absent on the last.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub next: Option<i64>,
}

/// Rows of one collection.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CollectionCount {
    pub collection: String,
    /// Records, deleted ones included.
    pub records: i64,
    pub history_rows: i64,
}

/// Pushes answered in one minute.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushMinute {
    /// Its start, RFC 3339.
    pub minute: String,
    pub pushes: u64,
    /// The slowest push of the minute, in milliseconds.
    pub max_ms: f64,
    pub mean_ms: f64,
}

/// `GET /v1/admin/health`.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminHealth {
    pub version: String,
    /// `sqlite` or `postgres`.
    pub database: String,
    pub collections: Vec<CollectionCount>,
    /// Open event streams (connected clients) of this server process.
    pub event_streams: u64,
    /// The last minutes, oldest first (this process's pushes).
    pub pushes: Vec<PushMinute>,
}

/// `GET /v1/admin/collections`: every collection as defined (each field
/// naming its merge kind), in definition order.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CollectionsResponse {
    pub collections: Vec<CollectionSpec>,
}

/// `POST /v1/admin/session`: an administrator signing in to the console.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConsoleSignIn {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for ConsoleSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleSignIn")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// `POST /v1/admin/session`: the console's sign-in; the answer sets an
/// `HttpOnly`, `SameSite=Strict` cookie and names the signed-in admin.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConsoleSession {
    pub username: String,
}

/// A collection as an administrator defines it (`POST /v1/admin/collections`,
/// `PUT /v1/admin/collections/{name}`): the shape of a `[[collections]]`
/// entry of the TOML schema file, checked by the same rules.
///
/// ```
/// # use ferry_protocol::admin::CollectionSpec;
/// let json = r#"{"name":"visits","label":"Visits","title_field":"place","policy":"manual","fields":[{"name":"place","label":"Place","type":"text","required":true}]}"#;
/// let v: CollectionSpec = serde_json::from_str(json).unwrap();
/// assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// ```
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CollectionSpec {
    pub name: String,
    pub label: String,
    pub title_field: String,
    #[serde(default)]
    pub policy: crate::Policy,
    pub fields: Vec<crate::Field>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub partition_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub fetch_files: Option<crate::FetchFiles>,
    /// How long its records' history is kept (an addition): absent, as it
    /// was (a new collection: everything); `{}` keeps everything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub history: Option<Retention>,
}

/// How much of a collection's history the server keeps (`history` of a
/// collection; `ferry-server compact` and the server's compaction task
/// apply it). Nothing set keeps everything. A version goes once every
/// limit set lets it go: with both, the latest `versions` and those
/// younger than `days` stay. A record's latest version always stays, except
/// a deletion older than `tombstone_days` (default: `days`; without either,
/// deletions stay): then the record is forgotten entirely, and a client
/// whose cursor is older gets 410 `cursor_expired` and pulls everything
/// again (DESIGN.md, "Retention").
///
/// ```
/// # use ferry_protocol::admin::Retention;
/// let json = r#"{"versions":20,"days":365,"tombstone_days":90}"#;
/// let v: Retention = serde_json::from_str(json).unwrap();
/// assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// assert!(!v.keeps_all());
/// assert!(Retention::default().keeps_all());
/// ```
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Keep the latest N versions of each record (at least 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub versions: Option<u32>,
    /// Keep versions younger than D days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub days: Option<u32>,
    /// Forget deleted records this many days after their deletion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub tombstone_days: Option<u32>,
}

impl Retention {
    /// Whether nothing is ever removed.
    pub fn keeps_all(&self) -> bool {
        self.versions.is_none() && self.days.is_none() && self.tombstone_days.is_none()
    }

    /// Days after which a deletion is forgotten, if ever.
    pub fn tombstone_days(&self) -> Option<u32> {
        self.tombstone_days.or(self.days)
    }
}

/// How many live records of a collection hold a value for one field
/// (`GET /v1/admin/collections/{name}/fields/{field}/usage`): what making it
/// required or removing it would touch. For a choice field, `options`
/// counts the records holding each value (values no longer among the
/// options included).
///
/// ```
/// # use ferry_protocol::admin::FieldUsage;
/// let json = r#"{"collection":"tasks","field":"status","live":160,"with_value":152,"options":[{"value":"done","records":40},{"value":"todo","records":112}]}"#;
/// let v: FieldUsage = serde_json::from_str(json).unwrap();
/// assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// ```
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldUsage {
    pub collection: String,
    pub field: String,
    /// Records not deleted.
    pub live: u64,
    /// Of those, records with a value (not null, not "", not []).
    pub with_value: u64,
    pub options: Vec<OptionUsage>,
}

/// Records holding one value of a choice field.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OptionUsage {
    pub value: String,
    pub records: u64,
}

/// A migration of one field of a collection that holds records
/// (`POST /v1/admin/collections/{name}/migrations`): what an edit in place
/// may not do. Each writes a new version of every record holding a value,
/// so the old one stays in the record's history and every device pulls the
/// change; an edit made offline before it still lands (see DESIGN.md,
/// "Administration").
///
/// ```
/// # use ferry_protocol::admin::FieldMigration;
/// for json in [
///     r#"{"kind":"rename_field","field":"notes","to":"details"}"#,
///     r#"{"kind":"remove_field","field":"fax"}"#,
///     r#"{"kind":"change_type","field":"notes","to":"longtext"}"#,
/// ] {
///     let v: FieldMigration = serde_json::from_str(json).unwrap();
///     assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// }
/// ```
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FieldMigration {
    /// The values move to the new name; the label stays unless edited after.
    RenameField { field: String, to: String },
    /// The field leaves the collection; its values stay in history.
    RemoveField { field: String },
    /// Every value is converted; allowed only where every one converts.
    ChangeType { field: String, to: crate::FieldType },
}

/// A record a migration could not convert.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Unconvertible {
    pub id: Uuid,
    /// The record's title.
    pub title: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    #[cfg_attr(feature = "ts", ts(type = "unknown"))]
    pub value: serde_json::Value,
}

/// What a migration would do (`?dry_run=true`): the live records holding a
/// value it rewrites, and (a type change) those whose value would not
/// convert: the first 50 of `unconvertible`.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MigrationPlan {
    pub records: u64,
    pub unconvertible: u64,
    pub examples: Vec<Unconvertible>,
}

/// Where a migration is.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MigrationState {
    Running,
    Done,
    Failed,
}

/// A migration and its progress (`GET /v1/admin/migrations`).
///
/// ```
/// # use ferry_protocol::admin::MigrationJob;
/// let json = r#"{"id":"0193a1b2-0000-7000-8000-000000000009","collection":"tasks","migration":{"kind":"rename_field","field":"notes","to":"details"},"state":"running","done":1200,"total":100000,"started_at":"2026-12-05T10:12:00.000Z"}"#;
/// let v: MigrationJob = serde_json::from_str(json).unwrap();
/// assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// ```
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MigrationJob {
    pub id: Uuid,
    pub collection: String,
    pub migration: FieldMigration,
    pub state: MigrationState,
    /// Live records looked at so far, of `total`.
    pub done: u64,
    pub total: u64,
    pub started_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub finished_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub error: Option<String>,
}

/// `GET /v1/admin/migrations`: this server's migrations, newest first.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MigrationsResponse {
    pub migrations: Vec<MigrationJob>,
}

/// One version a write made (`GET /v1/admin/changes`): who wrote which
/// record when. `title` is the record's title now.
///
/// ```
/// # use ferry_protocol::admin::RecordChange;
/// let json = r#"{"seq":812,"collection":"tasks","id":"0193a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b","version":3,"title":"Call the plumber","deleted":false,"updated_by":"alice","updated_at":"2026-11-26T09:30:00.000Z-0000-srv"}"#;
/// let v: RecordChange = serde_json::from_str(json).unwrap();
/// assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// ```
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordChange {
    pub seq: i64,
    pub collection: String,
    pub id: Uuid,
    pub version: i64,
    pub title: String,
    /// The version is a deletion.
    pub deleted: bool,
    pub updated_by: String,
    /// The server's stamp of the write (RFC 3339 time first).
    pub updated_at: String,
}

/// `GET /v1/admin/changes`: newest first; `next` is the `before` of the
/// next (older) page, absent on the last.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordChangesPage {
    pub changes: Vec<RecordChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub next: Option<i64>,
}
