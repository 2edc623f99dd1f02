//! Ferry wire protocol v1.
//!
//! The single definition of every JSON shape that crosses the network between
//! a Ferry client and `ferry-server`. Third-party clients are written against
//! these shapes, so they only ever grow: new optional fields and new
//! endpoints, never renames. No I/O happens here.
//!
//! Every type documents its JSON with an example that is also a test: it is
//! parsed and serialised back to the same text.

pub mod admin;
pub mod fields;
mod hlc;
pub mod merge3;
mod schema;

pub use hlc::{Hlc, HlcError, MAX_CLOCK_DRIFT_MS, MAX_NODE_LEN};
pub use schema::{
    Access, Collection, FetchFiles, Field, FieldType, FileRef, MergeKind, Policy, Rows,
    SchemaResponse, check_fields, check_required, is_sha256, partition_values,
};

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Protocol version this crate speaks, reported by `GET /v1/health`.
pub const PROTOCOL_VERSION: u32 = 1;
/// Default and largest page size of `GET /v1/changes`.
pub const CHANGES_DEFAULT_LIMIT: usize = 500;
pub const CHANGES_MAX_LIMIT: usize = 5000;
/// Most mutations one `POST /v1/push` may carry.
pub const PUSH_MAX_MUTATIONS: usize = 1000;
/// Most mutations of one record one `POST /v1/push` may carry (a push over
/// it is refused whole with 413 `too_many_versions`). Ferry's own client
/// sends at most one per record.
pub const PUSH_MAX_PER_RECORD: usize = 16;
/// Largest JSON text of one field value a mutation may set (rejected
/// `field_too_large` past it).
pub const MAX_FIELD_BYTES: usize = 256 * 1024;
/// Largest JSON text of a record's fields a write may leave (rejected
/// `record_too_large` past it, unless the write shrinks the record).
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;
/// Default and largest page of `GET /v1/records/{collection}/{id}/history`,
/// in versions; a page also stops before [`HISTORY_MAX_BYTES`] of records
/// (but always holds at least one version).
pub const HISTORY_DEFAULT_LIMIT: usize = 100;
pub const HISTORY_MAX_LIMIT: usize = 1000;
pub const HISTORY_MAX_BYTES: usize = 4 * 1024 * 1024;

/// Checks changed values against [`MAX_FIELD_BYTES`]; the error names the
/// field and the limit (code `field_too_large`).
pub fn check_field_sizes(values: &Fields) -> Result<(), String> {
    for (name, value) in values {
        if json_len_bound(value) <= MAX_FIELD_BYTES {
            continue;
        }
        let len = json_len(value);
        if len > MAX_FIELD_BYTES {
            return Err(format!(
                "field \"{name}\" is {len} bytes of JSON; a field value may be at most {MAX_FIELD_BYTES} bytes"
            ));
        }
    }
    Ok(())
}

/// Checks a record's fields after a write against [`MAX_RECORD_BYTES`]
/// (code `record_too_large`). A record already larger (`before`, stored
/// before the limit) may still be written as long as it does not grow.
pub fn check_record_size(after: &Fields, before: Option<&Fields>) -> Result<(), String> {
    if map_len_bound(after) <= MAX_RECORD_BYTES {
        return Ok(());
    }
    let len = json_len(after);
    if len > MAX_RECORD_BYTES && before.is_none_or(|b| len > json_len(b)) {
        return Err(format!(
            "the record's fields would be {len} bytes of JSON; a record may be at most {MAX_RECORD_BYTES} bytes"
        ));
    }
    Ok(())
}

/// An upper bound of `value`'s JSON length, without formatting anything:
/// every push checks sizes, and nearly every value is far below the limits.
fn json_len_bound(value: &serde_json::Value) -> usize {
    use serde_json::Value;
    match value {
        Value::Null | Value::Bool(_) => 5,
        // f64 and i64/u64 print in at most 24 characters.
        Value::Number(_) => 24,
        // A character escapes to at most 6 bytes (`\u001f`).
        Value::String(s) => s.len() * 6 + 2,
        Value::Array(a) => a.iter().map(|v| json_len_bound(v) + 1).sum::<usize>() + 2,
        Value::Object(o) => map_len_bound(o),
    }
}

fn map_len_bound(map: &Fields) -> usize {
    map.iter()
        .map(|(k, v)| k.len() * 6 + 3 + json_len_bound(v))
        .sum::<usize>()
        + 2
}

/// Length of `value`'s JSON text, counted without building it.
pub fn json_len(value: &impl Serialize) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    // Writing into a counter cannot fail for JSON values and maps.
    let _ = serde_json::to_writer(&mut c, value);
    c.0
}

/// A record's field values, by field name. Values are JSON: strings, numbers,
/// booleans, arrays of strings (tags) or `null`.
pub type Fields = serde_json::Map<String, serde_json::Value>;

/// `GET /v1/health`.
///
/// ```
/// # use ferry_protocol::Health;
/// let json = r#"{"status":"ok","version":"0.1.0"}"#;
/// let v: Health = serde_json::from_str(json).unwrap();
/// assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    pub status: String,
    pub version: String,
}

/// `POST /v1/auth/login` request. Its `Debug` never shows the password.
///
/// ```
/// # use ferry_protocol::LoginRequest;
/// let json = r#"{"username":"alice","password":"demo","device_name":"alice-laptop"}"#;
/// let v: LoginRequest = serde_json::from_str(json).unwrap();
/// assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// assert!(!format!("{v:?}").contains("demo"));
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    pub device_name: String,
    /// An addition: the device's system (`linux`, `macos`, `windows`), shown in device lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// An addition: the signing-in app and its version (`ferry-desktop 0.4.0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
}

impl fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginRequest")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("device_name", &self.device_name)
            .field("platform", &self.platform)
            .field("app_version", &self.app_version)
            .finish()
    }
}

/// `POST /v1/auth/login` response. Its `Debug` never shows the token.
///
/// ```
/// # use ferry_protocol::LoginResponse;
/// let json = r#"{"token":"q8Xn…","device_id":"0193a1b2-0000-7000-8000-000000000001","user":{"id":"0193a1b2-0000-7000-8000-00000000000a","username":"alice"}}"#;
/// let v: LoginResponse = serde_json::from_str(json).unwrap();
/// assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// assert!(!format!("{v:?}").contains("q8Xn"));
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginResponse {
    pub token: String,
    pub device_id: Uuid,
    pub user: User,
}

impl fmt::Debug for LoginResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginResponse")
            .field("token", &"<redacted>")
            .field("device_id", &self.device_id)
            .field("user", &self.user)
            .finish()
    }
}

/// A user as the protocol shows it.
///
/// ```
/// # use ferry_protocol::User;
/// let json = r#"{"id":"0193a1b2-0000-7000-8000-00000000000a","username":"alice"}"#;
/// let v: User = serde_json::from_str(json).unwrap();
/// assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    pub id: Uuid,
    pub username: String,
}

/// One of a user's devices: a sign-in the server keeps (`GET /v1/devices`,
/// an addition). Times are RFC 3339; a session not used until `expires_at`
/// ends, and each use moves it on.
///
/// ```
/// # use ferry_protocol::Device;
/// let json = r#"{"id":"0193a1b2-0000-7000-8000-000000000001","name":"alice-laptop","platform":"linux","app_version":"ferry-desktop 0.4.0","first_seen":"2026-12-01T09:00:00Z","last_seen":"2026-12-05T10:12:00Z","last_ip":"192.0.2.7","expires_at":"2027-01-04T10:12:00Z","current":true}"#;
/// let v: Device = serde_json::from_str(json).unwrap();
/// assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Device {
    pub id: Uuid,
    pub name: String,
    /// Empty when the device did not say.
    pub platform: String,
    pub app_version: String,
    pub first_seen: String,
    pub last_seen: String,
    /// The address of its last contact, when known.
    pub last_ip: Option<String>,
    pub expires_at: String,
    /// The device of the request itself.
    pub current: bool,
}

/// `GET /v1/devices`: the user's devices, most recently seen first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DevicesResponse {
    pub devices: Vec<Device>,
}

/// A record: one row of a collection at one server version.
///
/// `version` is 1 on create and grows by one on every accepted change;
/// `deleted: true` is a tombstone; `updated_at` is the server's HLC stamp of
/// the change and `updated_by` the username that made it.
///
/// ```
/// # use ferry_protocol::Record;
/// let json = r#"{"collection":"tasks","id":"0193a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b","version":3,"fields":{"due":"2026-12-01","priority":2,"status":"todo","tags":["home"],"title":"Call the plumber"},"deleted":false,"updated_at":"2026-11-26T09:30:00.000Z-0000-srv","updated_by":"alice"}"#;
/// let v: Record = serde_json::from_str(json).unwrap();
/// assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// // Version 5 merged bob's edit of version 3 with version 4.
/// let json = r#"{"collection":"tasks","id":"0193a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b","version":5,"fields":{"title":"Call the plumber"},"deleted":false,"updated_at":"2026-11-26T09:35:00.000Z-0000-srv","updated_by":"bob","merged_from":3}"#;
/// let v: Record = serde_json::from_str(json).unwrap();
/// assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// ```
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "ServerRecord", concrete(F = Fields)))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(bound = ""))]
pub struct Record<F = Fields> {
    pub collection: String,
    pub id: Uuid,
    pub version: i64,
    /// [`Fields`]; a server may hold them as already-serialised JSON.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub fields: F,
    pub deleted: bool,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub updated_at: Hlc,
    pub updated_by: String,
    /// Set on a version a `merged` push wrote (in history pages and push
    /// results, not in change pages): the version the merged edit was made
    /// from. This version combines that edit with the versions after it.
    /// Servers older than it never send it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = 3))]
    pub merged_from: Option<i64>,
}

/// `GET /v1/changes` response: a page of records changed after the cursor,
/// in change order, each record at most once per page.
///
/// ```
/// # use ferry_protocol::ChangesResponse;
/// let json = r#"{"changes":[],"cursor":"42","has_more":false}"#;
/// let v: ChangesResponse = serde_json::from_str(json).unwrap();
/// assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(bound = ""))]
pub struct ChangesResponse<F = Fields> {
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Record>))]
    pub changes: Vec<Record<F>>,
    /// Opaque: pass it back as `since` to continue.
    pub cursor: String,
    pub has_more: bool,
    /// Records the reader held that it may no longer see (an addition): a
    /// record moved to a partition value outside its rows, or its grants
    /// changed. A record is in `changes` or here, never both, in one page.
    /// Servers without row rules never send it; a client that ignores it
    /// keeps stale rows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<Removed>,
}

/// A record that left the reader's view (`ChangesResponse::removed`).
///
/// ```
/// # use ferry_protocol::ChangesResponse;
/// let json = r#"{"changes":[],"cursor":"42","has_more":false,"removed":[{"collection":"contacts","id":"0193a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b"}]}"#;
/// let v: ChangesResponse = serde_json::from_str(json).unwrap();
/// assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// ```
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Removed {
    pub collection: String,
    pub id: Uuid,
}

/// What a mutation does to its record.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Put,
    Delete,
}

/// One change a client asks the server to make.
///
/// `base_version: null` creates the record. Otherwise `fields` holds only the
/// changed fields and `base` their values at `base_version`, so the server
/// can merge with whatever changed since.
///
/// ```
/// # use ferry_protocol::Mutation;
/// let json = r#"{"mutation_id":"0193a1b2-0000-7000-8000-0000000000ff","collection":"tasks","record_id":"0193a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b","op":"put","base_version":3,"base":{"status":"todo"},"fields":{"status":"done"},"hlc":"2026-11-26T09:31:00.000Z-0000-dev1"}"#;
/// let v: Mutation = serde_json::from_str(json).unwrap();
/// assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// ```
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Mutation {
    pub mutation_id: Uuid,
    pub collection: String,
    pub record_id: Uuid,
    pub op: Op,
    #[serde(default)]
    pub base_version: Option<i64>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub base: Fields,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub fields: Fields,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub hlc: Hlc,
}

/// `POST /v1/push` request.
///
/// ```
/// # use ferry_protocol::PushRequest;
/// let json = r#"{"mutations":[]}"#;
/// let v: PushRequest = serde_json::from_str(json).unwrap();
/// assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushRequest {
    pub mutations: Vec<Mutation>,
}

/// `POST /v1/push` response: one result per mutation, in request order.
///
/// ```
/// # use ferry_protocol::PushResponse;
/// let json = r#"{"results":[]}"#;
/// let v: PushResponse = serde_json::from_str(json).unwrap();
/// assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushResponse {
    pub results: Vec<MutationResult>,
    /// Where the push's own writes sit in the change feed; absent when it
    /// wrote nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written: Option<PushWritten>,
}

/// Every change after `after` up to `cursor` is one of the push's own
/// results, so a client whose cursor is `after` may move it to `cursor`
/// without pulling them back.
///
/// ```
/// # use ferry_protocol::PushWritten;
/// let json = r#"{"after":"41","cursor":"44"}"#;
/// let v: PushWritten = serde_json::from_str(json).unwrap();
/// assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushWritten {
    /// Opaque: the feed position just before the push's first write.
    pub after: String,
    /// Opaque: the feed position of its last write.
    pub cursor: String,
}

/// How the server dealt with one mutation.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Written as sent.
    Applied,
    /// Written after a field-by-field merge with changes made since the base.
    Merged,
    /// Nothing written: the record changed in a way that needs a person.
    Conflict,
    /// Nothing written: invalid for the schema, or no write access.
    Rejected,
}

/// The kind of a conflict.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    /// Both sides changed the same fields to different values.
    EditEdit,
    /// The client edited a record that was deleted on the server.
    EditDelete,
    /// The client deleted a record that was changed on the server.
    DeleteEdit,
    /// The client has unsent edits of a record it may no longer see or
    /// write (a removal, or a push `rejected` with `forbidden`). Kept on the
    /// client until its user exports, copies or discards the edits; a server
    /// never sends it.
    LostAccess,
}

/// The conflicting part of a mutation. `parts` is set for each conflicting
/// field merged as `text`: the text as merged, with the stretches both
/// sides changed differently marked (DESIGN.md, "Merge rules"). Servers
/// older than merge kinds leave it out.
///
/// ```
/// # use ferry_protocol::Conflict;
/// let json = r#"{"kind":"edit_edit","fields":["status"]}"#;
/// let v: Conflict = serde_json::from_str(json).unwrap();
/// assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// let json = r#"{"kind":"edit_edit","fields":["notes"],"parts":{"notes":[{"clean":"Call "},{"clash":{"base":"Mon","mine":"Tue","theirs":"Wed"}},{"clean":".\nBring the contract.\n"}]}}"#;
/// let v: Conflict = serde_json::from_str(json).unwrap();
/// assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Conflict {
    pub kind: ConflictKind,
    pub fields: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[cfg_attr(feature = "openapi", schema(example = json!({"notes": [{"clean": "Call "}, {"clash": {"base": "Mon", "mine": "Tue", "theirs": "Wed"}}, {"clean": ".\n"}]})))]
    pub parts: BTreeMap<String, Vec<merge3::TextPart>>,
}

/// The outcome of one mutation. `record` is the server's record after the
/// mutation (or, on conflict, its current state); `conflict` is set only on
/// `conflict`, `error` only on `rejected`.
///
/// ```
/// # use ferry_protocol::MutationResult;
/// let json = r#"{"mutation_id":"0193a1b2-0000-7000-8000-0000000000ff","status":"rejected","record":null,"conflict":null,"error":{"code":"invalid_field","message":"field \"due\" must be a date (YYYY-MM-DD)"}}"#;
/// let v: MutationResult = serde_json::from_str(json).unwrap();
/// assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MutationResult {
    pub mutation_id: Uuid,
    pub status: Status,
    pub record: Option<Record>,
    pub conflict: Option<Conflict>,
    pub error: Option<ErrorBody>,
}

/// `GET /v1/records/{collection}/{id}/history`: a page of versions, oldest
/// first. `has_more`: later versions exist; ask again with `after_version`
/// set to the last version of this page. A server older than paging sends
/// every version and no `has_more` (read as `false`).
///
/// ```
/// # use ferry_protocol::HistoryResponse;
/// let json = r#"{"versions":[],"has_more":false}"#;
/// let v: HistoryResponse = serde_json::from_str(json).unwrap();
/// assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// ```
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HistoryResponse {
    pub versions: Vec<Record>,
    #[serde(default)]
    pub has_more: bool,
}

/// Data of the `changes` Server-Sent Event on `GET /v1/events`: the cursor
/// after a commit the user may see.
///
/// ```
/// # use ferry_protocol::ChangesEvent;
/// let json = r#"{"cursor":"42"}"#;
/// let v: ChangesEvent = serde_json::from_str(json).unwrap();
/// assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangesEvent {
    pub cursor: String,
}

/// An upload of a file's bytes (`PUT /v1/blobs/{sha256}`, an addition):
/// how much of `size` the server holds. `received == size`: stored, and the
/// uploader may read it.
///
/// ```
/// # use ferry_protocol::BlobStatus;
/// let json = r#"{"sha256":"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824","size":5,"received":5}"#;
/// let v: BlobStatus = serde_json::from_str(json).unwrap();
/// assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BlobStatus {
    pub sha256: String,
    pub size: u64,
    pub received: u64,
}

/// The body of every error response.
///
/// ```
/// # use ferry_protocol::ErrorResponse;
/// let json = r#"{"error":{"code":"unauthenticated","message":"missing or invalid bearer token"}}"#;
/// let v: ErrorResponse = serde_json::from_str(json).unwrap();
/// assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorResponse {
    pub error: ErrorBody,
}

/// A machine-readable `code` (snake_case) and a sentence for people.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    /// The id of the request, as in its `X-Request-Id` response header: quote
    /// it to the operator, who finds the request's log lines by it. Servers
    /// older than it never send it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = "3f2a9c1e7b4d4e0a"))]
    pub request_id: Option<String>,
}

impl ErrorBody {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            request_id: None,
        }
    }
}

impl fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_size_bound_is_never_below_the_json_length() {
        let values = [
            json!(null),
            json!(true),
            json!(-1.797_693_134_862_315_7e308),
            json!(i64::MIN),
            json!(u64::MAX),
            json!("\u{1}\u{1f}\"\\\n"),
            json!("é👩‍💻שלום"),
            json!(["", "\u{0}", "a b"]),
            json!({"\u{2}k": {"x": [1, 2.5, null]}, "": ""}),
        ];
        for v in &values {
            assert!(json_len_bound(v) >= json_len(v), "{v}");
        }
        let serde_json::Value::Object(map) = json!({"a\u{3}": "\u{7}".repeat(1000), "n": 1}) else {
            unreachable!()
        };
        assert!(map_len_bound(&map) >= json_len(&map));
        // Past the bound the exact length decides, and still refuses.
        let big = Fields::from_iter([(
            "notes".to_string(),
            json!("\u{1}".repeat(MAX_FIELD_BYTES / 6 + 1)),
        )]);
        assert!(check_field_sizes(&big).is_err());
        let fine =
            Fields::from_iter([("notes".to_string(), json!("a".repeat(MAX_FIELD_BYTES - 2)))]);
        assert!(check_field_sizes(&fine).is_ok());
    }

    #[test]
    fn mutation_defaults_missing_base_and_fields() {
        let m: Mutation = serde_json::from_value(json!({
            "mutation_id": "0193a1b2-0000-7000-8000-0000000000ff",
            "collection": "tasks",
            "record_id": "0193a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b",
            "op": "delete",
            "hlc": "2026-11-26T09:31:00.000Z-0000-dev1"
        }))
        .expect("parses");
        assert_eq!(m.base_version, None);
        assert!(m.base.is_empty() && m.fields.is_empty());
        assert_eq!(m.op, Op::Delete);
    }

    #[test]
    fn result_serialises_nulls_explicitly() {
        let r = MutationResult {
            mutation_id: Uuid::nil(),
            status: Status::Applied,
            record: None,
            conflict: None,
            error: None,
        };
        let v = serde_json::to_value(&r).expect("serialises");
        assert_eq!(v["record"], serde_json::Value::Null);
        assert!(
            v.as_object()
                .is_some_and(|o| o.contains_key("conflict") && o.contains_key("error"))
        );
    }

    /// A number with more than 17 significant digits is read as the nearest
    /// double and written back as that double, from the first parse on.
    /// Without serde_json's `float_roundtrip` this one is read one unit in the
    /// last place off (5860402102.123842 instead of …843).
    #[test]
    fn long_numbers_round_trip_exactly_from_the_first_parse() {
        let long = "5860402102.123842989";
        let nearest: f64 = long.parse().expect("a number");
        let text = format!(
            r#"{{"mutation_id":"0193a1b2-0000-7000-8000-0000000000ff","collection":"tasks",
            "record_id":"0193a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b","op":"put",
            "hlc":"2026-11-26T09:31:00.000Z-0000-dev1","fields":{{"estimate":{long}}}}}"#
        );
        let m: Mutation = serde_json::from_str(&text).expect("parses");
        assert_eq!(m.fields["estimate"].as_f64(), Some(nearest));
        let again: Mutation =
            serde_json::from_str(&serde_json::to_string(&m).expect("serialises")).expect("parses");
        assert_eq!(again, m);
        assert_eq!(again.fields["estimate"].as_f64(), Some(nearest));
    }

    #[test]
    fn unknown_op_and_bad_ids_are_refused() {
        let base = json!({
            "mutation_id": "0193a1b2-0000-7000-8000-0000000000ff",
            "collection": "tasks",
            "record_id": "0193a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b",
            "op": "put",
            "hlc": "2026-11-26T09:31:00.000Z-0000-dev1"
        });
        let mut bad_op = base.clone();
        bad_op["op"] = json!("upsert");
        assert!(serde_json::from_value::<Mutation>(bad_op).is_err());
        let mut bad_id = base.clone();
        bad_id["record_id"] = json!("not-a-uuid");
        assert!(serde_json::from_value::<Mutation>(bad_id).is_err());
        let mut bad_hlc = base;
        bad_hlc["hlc"] = json!("yesterday");
        assert!(serde_json::from_value::<Mutation>(bad_hlc).is_err());
    }
}
