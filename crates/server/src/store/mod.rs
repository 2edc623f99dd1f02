//! Storage behind one trait.
//!
//! Handlers only ever see [`Store`]; each backend (SQLite here, PostgreSQL
//! for scale) implements it and passes the same conformance suite
//! ([`conformance`]). The invariants every backend keeps:
//! - a push is applied mutation by mutation, each with its own outcome, and
//!   the mutations of one push commit together or not at all;
//! - every accepted write gets the next value of one strictly increasing
//!   change sequence, and a reader never skips a change;
//! - every accepted write is kept in the record's history;
//! - a mutation id seen before from the same user returns its first result
//!   and writes nothing.

pub mod compact;
pub mod history;
pub mod migrate;
mod outcome;
pub mod postgres;
pub mod sqlite;
pub mod timed;

#[cfg(test)]
mod concurrency;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ferry_protocol::admin::{AdminUser, AuditEntry, Grant, Role};
use ferry_protocol::{Access, ChangesResponse, Hlc, Mutation, MutationResult, Record};
use uuid::Uuid;

use crate::clock::Clock;
use crate::events::Events;
use crate::rules::{RuleRow, View};
use crate::schema_file::CollectionDef;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Exists(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    /// The change would leave the server with no administrator who can sign in.
    #[error("{0}")]
    LastAdmin(String),
    /// A pull from a cursor older than the history kept (the horizon).
    #[error("{}", compact::expired_message(*.0))]
    CursorExpired(i64),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Internal(String),
}

/// The server clock has no later stamp (year 9999): nothing is written.
fn clock_err(e: ferry_protocol::HlcError) -> StoreError {
    StoreError::Internal(e.to_string())
}

fn json_err(e: serde_json::Error) -> StoreError {
    StoreError::Internal(format!("stored JSON is unreadable: {e}"))
}

/// A stamp as stored (text that orders as the clock does).
fn stored_hlc(s: &str) -> Result<Hlc, StoreError> {
    s.parse()
        .map_err(|e| StoreError::Internal(format!("stored stamp: {e}")))
}

/// Creation times of users and sessions: UTC, milliseconds.
fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// How a grant's access is stored.
fn stored_access(s: &str) -> Access {
    if s == "write" {
        Access::Write
    } else {
        Access::Read
    }
}

fn user_exists(username: &str) -> StoreError {
    StoreError::Exists(format!("user \"{username}\" already exists"))
}

fn no_such_user(username: &str) -> StoreError {
    StoreError::NotFound(format!("there is no user \"{username}\""))
}

fn last_admin(username: &str) -> StoreError {
    StoreError::LastAdmin(format!(
        "\"{username}\" is the last administrator who can sign in: make another user an admin first"
    ))
}

/// The error of a database a newer server has migrated further.
fn newer_schema(applied: usize, known: usize) -> String {
    format!(
        "the database was written by a newer ferry-server (schema version {applied}, this one knows {known})"
    )
}

/// [`Store::prune_mutations`]' bounds as SQL integers: the age in
/// milliseconds (capped far below overflow when subtracted from now) and
/// the row limit.
fn prune_bounds(older_than: Duration, limit: usize) -> (i64, i64) {
    let age = i64::try_from(older_than.as_millis())
        .unwrap_or(i64::MAX)
        .min(1 << 60);
    (age, i64::try_from(limit).unwrap_or(i64::MAX))
}

/// A user account as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: Uuid,
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    /// May not sign in; their devices were signed out.
    pub disabled: bool,
}

impl std::fmt::Debug for UserRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRow")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("password_hash", &"<redacted>")
            .field("role", &self.role)
            .field("disabled", &self.disabled)
            .finish()
    }
}

/// A logged-in device, found by the hash of its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user_id: Uuid,
    pub username: String,
    pub device_id: Uuid,
}

/// What a new sign-in says of its device, and where it came from.
#[derive(Debug, Clone, Default)]
pub struct NewDevice {
    pub name: String,
    pub platform: String,
    pub app_version: String,
    pub ip: Option<String>,
}

/// A device: one sign-in of a user, as the server keeps it. Times are RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub username: String,
    pub name: String,
    pub platform: String,
    pub app_version: String,
    pub first_seen: String,
    pub last_seen: String,
    pub last_ip: Option<String>,
    pub revoked: bool,
    pub wipe: bool,
}

impl DeviceRow {
    pub fn session(&self) -> Session {
        Session {
            user_id: self.user_id,
            username: self.username.clone(),
            device_id: self.id,
        }
    }
}

/// Who pushes, what they may write, and the clock that stamps the writes.
#[derive(Clone)]
pub struct PushContext {
    pub session: Session,
    /// The rows the user may read and write, collection by collection.
    pub view: Arc<View>,
    pub clock: Arc<Clock>,
}

impl PushContext {
    /// A context for a user whose view is the whole collections of `grants`.
    pub fn with_grants(
        session: Session,
        grants: &HashMap<String, Access>,
        clock: Arc<Clock>,
    ) -> PushContext {
        PushContext {
            session,
            view: Arc::new(view_of_grants(grants)),
            clock,
        }
    }
}

/// Who reads a page of changes, and what they may see.
#[derive(Debug, Clone)]
pub struct Reader {
    pub user_id: Uuid,
    pub view: View,
    /// Where the reader's walk through the feed began, when this page is
    /// not its first.
    pub walk: Option<Walk>,
}

/// Where a walk through the feed (pages read one after another while
/// `has_more`) began: the cursor of its first page and the last change
/// then. A record that came into the reader's view before the walk began
/// and was written after its start reaches them through their rows in
/// this walk, so its queued feed entry is not sent again: a fresh pull
/// gets each record of a backfill once. A mid-walk cursor carries it
/// (`SEQ~START~BEGAN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Walk {
    pub start: i64,
    pub began: i64,
}

impl Walk {
    /// The walk the page after `page` (read after `since` within `walk`)
    /// belongs to: none once there is nothing more. A walk begins at the
    /// last change committed before the reader's rules were read
    /// (`before_view`), or the first page's, whichever is earlier: only a
    /// grant those rules already held can be relied on to have sent its
    /// records through the rows.
    pub fn after(
        walk: Option<Walk>,
        since: Cursor,
        before_view: i64,
        page: &ChangesPage,
    ) -> Option<Walk> {
        let walk = walk.unwrap_or(Walk {
            start: since.0,
            began: page.high_water.min(before_view).max(since.0),
        });
        page.has_more.then_some(walk)
    }

    /// The feed arguments of `walk`: (began, start), matching nothing without one.
    pub fn bounds(walk: Option<Walk>) -> (i64, i64) {
        walk.map_or((-1, 0), |w| (w.began, w.start))
    }
}

impl Reader {
    /// A reader of the whole of `collections`, with nothing in their own feed.
    pub fn of_collections(collections: Vec<String>) -> Reader {
        let grants = collections.into_iter().map(|c| (c, Access::Read)).collect();
        Reader {
            user_id: Uuid::nil(),
            view: view_of_grants(&grants),
            walk: None,
        }
    }
}

/// The view whole-collection `grants` give.
fn view_of_grants(grants: &HashMap<String, Access>) -> View {
    View {
        collections: grants
            .iter()
            .map(|(c, a)| {
                let write = (*a == Access::Write).then_some(crate::rules::Scope::All);
                let view = crate::rules::CollectionView {
                    field: None,
                    read: crate::rules::Scope::All,
                    write,
                };
                (c.clone(), view)
            })
            .collect(),
    }
}

/// A change of grants or teams (`ferry-server grant`, `ferry-server team`).
/// Records that come into or leave a user's view through it are queued in
/// that user's change feed, in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleChange {
    /// Gives (`Some`) or takes away (`None`) access; `values` empty: the
    /// whole collection (taking it away then removes every grant of the
    /// subject on it), else those partition values.
    Grant {
        subject: GrantSubject,
        collection: String,
        access: Option<crate::rules::Right>,
        values: Vec<String>,
    },
    TeamAdd(String),
    TeamRemove(String),
    Member {
        team: String,
        username: String,
        add: bool,
    },
}

/// Whom a grant is for, as an administrator names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantSubject {
    User(String),
    Team(String),
    Everyone,
}

/// A team and its members' usernames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub name: String,
    pub members: Vec<String>,
}

/// The SQL both stores list teams with: (team, member or NULL), in order.
const TEAMS_SQL: &str = "SELECT t.name, u.username FROM teams t
     LEFT JOIN team_members m ON m.team = t.name LEFT JOIN users u ON u.id = m.user_id
     ORDER BY t.name, u.username";

/// Teams from the rows of [`TEAMS_SQL`].
fn teams_from(rows: impl IntoIterator<Item = (String, Option<String>)>) -> Vec<Team> {
    let mut out: Vec<Team> = Vec::new();
    for (name, member) in rows {
        if out.last().is_none_or(|t| t.name != name) {
            out.push(Team {
                name,
                members: Vec::new(),
            });
        }
        if let (Some(t), Some(m)) = (out.last_mut(), member) {
            t.members.push(m);
        }
    }
    out
}

fn no_such_team(name: &str) -> StoreError {
    StoreError::NotFound(format!("there is no team \"{name}\""))
}

/// Checks a grant against the collections before it is stored.
fn check_grant(change: &RuleChange, defs: &[CollectionDef]) -> Result<(), StoreError> {
    match change {
        RuleChange::Grant {
            collection,
            values,
            access,
            ..
        } => {
            if values.is_empty() && *access == Some(crate::rules::Right::WriteOnly) {
                return Err(StoreError::Invalid(
                    "say where one may write without reading: --write-only needs --where FIELD=VALUE[,VALUE…]"
                        .into(),
                ));
            }
            // A whole collection may be granted before its schema is applied.
            if values.is_empty() || access.is_none() {
                return Ok(());
            }
            let Some(def) = defs.iter().find(|d| &d.name == collection) else {
                return Err(StoreError::NotFound(format!(
                    "there is no collection \"{collection}\""
                )));
            };
            let field = def.partition_by.clone().unwrap_or_default();
            crate::rules::check_where(def, &field, values).map_err(StoreError::Invalid)
        }
        RuleChange::TeamAdd(name) => {
            if schema_file_name_ok(name) {
                Ok(())
            } else {
                Err(StoreError::Invalid(format!(
                    "team name \"{name}\" must start with a lowercase letter and hold only a-z, 0-9, - and _ (at most 64)"
                )))
            }
        }
        _ => Ok(()),
    }
}

fn schema_file_name_ok(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

/// Sorts a page's rows into records the reader may see and removals of
/// those they may not, each record once: `rows` are (collection, record,
/// its stored partition values), in change order.
fn sort_page(
    view: &View,
    rows: Vec<(Record<RawFields>, Option<String>)>,
) -> (Vec<Record<RawFields>>, Vec<ferry_protocol::Removed>) {
    let mut seen = std::collections::HashSet::new();
    let mut changes = Vec::with_capacity(rows.len());
    let mut removed = Vec::new();
    for (record, parts) in rows {
        if !seen.insert((record.collection.clone(), record.id)) {
            continue;
        }
        let parts = crate::rules::parse_parts(parts.as_deref());
        if view.reads(&record.collection, &parts) {
            changes.push(record);
        } else {
            removed.push(ferry_protocol::Removed {
                collection: record.collection,
                id: record.id,
            });
        }
    }
    (changes, removed)
}

impl PushContext {
    /// The server stamp of a write `m` makes.
    fn stamp(&self, m: &Mutation) -> Result<Hlc, StoreError> {
        self.clock.stamp(Some(&m.hlc)).map_err(clock_err)
    }
}

/// What a push did.
#[derive(Debug, Clone, PartialEq)]
pub struct PushOutcome {
    /// One per mutation, in order.
    pub results: Vec<MutationResult>,
    /// The sequence position of the last write, if anything was written.
    pub last_write: Option<Cursor>,
    /// The sequence position just before the push's first write: every
    /// position after it up to `last_write` is one of its writes.
    pub written_after: Cursor,
    /// Collections that got a new version, for change events.
    pub touched: Vec<String>,
    /// For each partitioned collection written: the partition values the
    /// written records were in, before or after (events go only to those
    /// who read one of them).
    pub touched_parts: std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
}

impl PushOutcome {
    /// An outcome with nothing written yet, after `written_after`.
    fn new(mutations: usize, written_after: Cursor) -> PushOutcome {
        PushOutcome {
            results: Vec::with_capacity(mutations),
            last_write: None,
            written_after,
            touched: Vec::new(),
            touched_parts: Default::default(),
        }
    }

    /// Notes a write at sequence position `seq` to `collection`; `parts`:
    /// the partition values the record was in before and is in now, `None`
    /// for a collection that is not partitioned.
    fn wrote(&mut self, seq: i64, collection: &str, parts: Option<Vec<String>>) {
        self.last_write = Some(Cursor(seq));
        if !self.touched.iter().any(|c| c == collection) {
            self.touched.push(collection.to_string());
        }
        if let Some(parts) = parts {
            self.touched_parts
                .entry(collection.to_string())
                .or_default()
                .extend(parts);
        }
    }
}

/// An administrative action, for the audit log ([`Store::add_audit`]).
/// `detail` never holds a password or a token.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAudit {
    /// The admin's username, or `cli:<account>` for `ferry-server` subcommands.
    pub actor: String,
    pub device_id: Option<Uuid>,
    pub ip: Option<String>,
    /// `<thing>.<verb>`, e.g. `user.disable`.
    pub action: String,
    pub target: String,
    pub detail: serde_json::Value,
}

/// Which audit lines to read ([`Store::audit`]): newest first, those before
/// `before` (a `seq`), at most `limit`; `action` matches as a prefix
/// (`user.` finds every action on users).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    pub before: Option<i64>,
    pub limit: usize,
}

/// The SQL both stores read the audit log with (SQLite numbers its
/// parameters `?N`); parameters: actor, action prefix, target, before,
/// limit (NULL: any).
const AUDIT_SQL: &str = "SELECT seq, at, actor, device_id, ip, action, target, detail FROM audit
     WHERE (CAST($1 AS TEXT) IS NULL OR actor = $1)
       AND (CAST($2 AS TEXT) IS NULL OR substr(action, 1, length(CAST($2 AS TEXT))) = $2)
       AND (CAST($3 AS TEXT) IS NULL OR target = $3)
       AND (CAST($4 AS BIGINT) IS NULL OR seq < $4)
     ORDER BY seq DESC LIMIT $5";

/// The SQL both stores list users with, by name: the user, their devices
/// still signed in, and the latest contact of any device.
const ADMIN_USERS_SQL: &str = "SELECT u.id, u.username, u.role, u.disabled, u.created_at,
         count(s.token_hash) FILTER (WHERE s.revoked_at IS NULL),
         max(coalesce(s.last_seen_at, s.created_at))
     FROM users u LEFT JOIN sessions s ON s.user_id = u.id
     GROUP BY u.id, u.username, u.role, u.disabled, u.created_at
     ORDER BY u.username";

/// The SQL both stores list every grant with: (kind, name, collection,
/// access, value), `value` '' for the whole collection.
const GRANTS_SQL: &str = "SELECT 'user', u.username, g.collection, g.access, ''
     FROM grants g JOIN users u ON u.id = g.user_id
     UNION ALL
     SELECT CASE WHEN r.subject = '*' THEN 'everyone' WHEN r.subject LIKE 'team:%' THEN 'team' ELSE 'user' END,
            CASE WHEN r.subject LIKE 'team:%' THEN substr(r.subject, 6) ELSE coalesce(u.username, '') END,
            r.collection, r.access, r.value
     FROM rules r LEFT JOIN users u ON r.subject = 'user:' || u.id";

/// Grants from the rows of [`GRANTS_SQL`], the values of one subject's
/// grant of one access gathered, by collection and subject.
fn grants_from(
    rows: impl IntoIterator<Item = (String, String, String, String, String)>,
) -> Vec<Grant> {
    use ferry_protocol::admin::{GrantAccess, Subject};
    let mut by_key: std::collections::BTreeMap<(String, Subject, &'static str), Vec<String>> =
        Default::default();
    for (kind, name, collection, access, value) in rows {
        let subject = match kind.as_str() {
            "everyone" => Subject::Everyone,
            "team" => Subject::Team { name },
            _ => Subject::User { name },
        };
        let access = crate::rules::Right::parse(&access).name();
        let values = by_key.entry((collection, subject, access)).or_default();
        if !value.is_empty() {
            values.push(value);
        }
    }
    by_key
        .into_iter()
        .map(|((collection, subject, access), mut values)| {
            values.sort();
            Grant {
                subject,
                collection,
                access: match access {
                    "write" => GrantAccess::Write,
                    "write_only" => GrantAccess::WriteOnly,
                    _ => GrantAccess::Read,
                },
                values,
            }
        })
        .collect()
}

/// Which versions [`Store::recent_changes`] reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangesFilter {
    pub collection: Option<String>,
    pub user: Option<String>,
    pub before: Option<i64>,
    pub limit: usize,
}

/// The SQL both stores read recent versions with (SQLite numbers its
/// parameters `?N`): collection, user, before, limit.
const RECENT_CHANGES_SQL: &str =
    "SELECT h.seq, h.collection, h.id, h.version, h.deleted, h.updated_by, h.updated_at, cur.fields
     FROM history h
     JOIN records r ON r.collection = h.collection AND r.id = h.id
     JOIN history cur ON cur.seq = r.seq
     WHERE (CAST($1 AS TEXT) IS NULL OR h.collection = $1)
       AND (CAST($2 AS TEXT) IS NULL OR h.updated_by = $2)
       AND (CAST($3 AS BIGINT) IS NULL OR h.seq < $3)
     ORDER BY h.seq DESC LIMIT $4";

/// A [`Store::field_usage`] from its counts; `options` by value.
fn field_usage_from(
    collection: &str,
    field: &str,
    live: i64,
    with_value: i64,
    options: Vec<(String, i64)>,
) -> ferry_protocol::admin::FieldUsage {
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    let mut options: Vec<_> = options
        .into_iter()
        .map(|(value, n)| ferry_protocol::admin::OptionUsage {
            value,
            records: count(n),
        })
        .collect();
    options.sort_by(|a, b| a.value.cmp(&b.value));
    ferry_protocol::admin::FieldUsage {
        collection: collection.to_string(),
        field: field.to_string(),
        live: count(live),
        with_value: count(with_value),
        options,
    }
}

/// Refuses a field name that is not one (it is spliced into a JSON path).
fn checked_field(field: &str) -> Result<&str, StoreError> {
    if crate::schema_file::valid_name(field) {
        Ok(field)
    } else {
        Err(StoreError::Invalid(format!(
            "\"{field}\" is not a field name"
        )))
    }
}

/// An audit line as stored; `detail` is JSON text.
fn audit_entry(
    seq: i64,
    at: String,
    actor: String,
    device_id: Option<Uuid>,
    ip: Option<String>,
    (action, target, detail): (String, String, String),
) -> AuditEntry {
    AuditEntry {
        seq,
        at,
        actor,
        device_id,
        ip,
        action,
        target,
        detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
    }
}

/// The SHA-256 of a bearer token; tokens themselves are never stored.
pub type TokenHash = [u8; 32];

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Reachability of the database, for readiness checks.
    async fn ping(&self) -> Result<(), StoreError>;
    /// `sqlite` or `postgres`.
    fn kind(&self) -> &'static str;

    async fn create_user(&self, username: &str, password_hash: &str) -> Result<Uuid, StoreError>;
    async fn set_password(&self, username: &str, password_hash: &str) -> Result<(), StoreError>;
    async fn user_by_name(&self, username: &str) -> Result<Option<UserRow>, StoreError>;
    /// Sets (or with `None` removes) a user's access to a whole collection.
    async fn set_grant(
        &self,
        username: &str,
        collection: &str,
        access: Option<Access>,
    ) -> Result<(), StoreError> {
        self.change_rules(RuleChange::Grant {
            subject: GrantSubject::User(username.to_string()),
            collection: collection.to_string(),
            access: access.map(Into::into),
            values: Vec::new(),
        })
        .await
    }
    /// A user's grants to whole collections (not counting teams, everyone
    /// or partition values: see [`Store::rules_for`]).
    async fn grants(&self, user_id: Uuid) -> Result<HashMap<String, Access>, StoreError>;
    /// Every grant that applies to a user: their own, their teams' and
    /// everyone's.
    async fn rules_for(&self, user_id: Uuid) -> Result<Vec<RuleRow>, StoreError>;
    /// Changes grants or teams, and queues what came into or left each
    /// affected user's view in their change feed, in one transaction.
    async fn change_rules(&self, change: RuleChange) -> Result<(), StoreError>;
    /// Every team with its members, by name.
    async fn teams(&self) -> Result<Vec<Team>, StoreError>;
    /// Notes that `user_id` uploaded blob `sha256` of `size` bytes (again:
    /// nothing changes).
    async fn add_blob_owner(
        &self,
        sha256: &str,
        user_id: Uuid,
        size: u64,
    ) -> Result<(), StoreError>;
    /// Whether `user_id` may read blob `sha256`: they uploaded it.
    async fn blob_readable(&self, sha256: &str, user_id: Uuid) -> Result<bool, StoreError>;
    /// Bytes of the blobs `user_id` uploaded: what their quota counts.
    async fn blob_bytes(&self, user_id: Uuid) -> Result<u64, StoreError>;
    /// Forgets who uploaded blob `sha256` (it was collected): their quota
    /// no longer counts it.
    async fn forget_blob(&self, sha256: &str) -> Result<(), StoreError>;
    /// The blobs any stored version of a record of `collection` names in
    /// its file field `field`: what garbage collection keeps.
    async fn blob_refs(&self, collection: &str, field: &str) -> Result<Vec<String>, StoreError>;
    /// The latest version of a record; `None` if there is none.
    async fn current(&self, collection: &str, id: Uuid) -> Result<Option<Record>, StoreError>;

    /// Records a login from `device`; returns the new device id.
    async fn create_session(
        &self,
        user_id: Uuid,
        device: &NewDevice,
        token: &TokenHash,
    ) -> Result<Uuid, StoreError>;
    /// The session of a token that is not revoked (expiry aside).
    async fn session(&self, token: &TokenHash) -> Result<Option<Session>, StoreError>;
    /// Ends a session (sign out): its token is forgotten.
    async fn revoke_session(&self, token: &TokenHash) -> Result<(), StoreError>;
    /// The device of a token, revoked or not.
    async fn token_device(&self, token: &TokenHash) -> Result<Option<DeviceRow>, StoreError>;
    /// Notes a device's contact: now, from `ip`.
    async fn touch_session(&self, token: &TokenHash, ip: Option<String>) -> Result<(), StoreError>;
    /// The devices of `user` (everyone's when `None`), revoked ones too,
    /// most recently seen first.
    async fn devices(&self, user: Option<Uuid>) -> Result<Vec<DeviceRow>, StoreError>;
    /// Revokes device `id` (its token answers `device_revoked`, or `wipe`
    /// when `wipe`); the device as it was, `None` when there is none.
    async fn revoke_device(&self, id: Uuid, wipe: bool) -> Result<Option<DeviceRow>, StoreError>;

    /// Every user with their role, state and signed-in devices, by name.
    async fn admin_users(&self) -> Result<Vec<AdminUser>, StoreError>;
    /// Sets a user's role and whether they are disabled, in one transaction;
    /// disabling signs out every device of theirs. Refused
    /// ([`StoreError::LastAdmin`]) when no enabled admin would be left.
    /// Returns how many devices were signed out.
    async fn update_user(
        &self,
        username: &str,
        role: Option<Role>,
        disabled: Option<bool>,
    ) -> Result<usize, StoreError>;
    /// Appends a line to the audit log.
    async fn add_audit(&self, entry: NewAudit) -> Result<(), StoreError>;
    /// Lines of the audit log, newest first (see [`AuditFilter`]).
    async fn audit(&self, filter: AuditFilter) -> Result<Vec<AuditEntry>, StoreError>;
    /// Every grant: users', teams' and everyone's, by collection and subject.
    async fn all_grants(&self) -> Result<Vec<Grant>, StoreError>;
    /// Live records of `collection`, all of them or (with `values`) those in
    /// one of these partition values.
    async fn count_records(
        &self,
        collection: &str,
        values: Option<Vec<String>>,
    ) -> Result<u64, StoreError>;

    /// Versions written, newest first: of one collection, by one user,
    /// before `before` (a history `seq`), at most `limit`; each with the
    /// record's current fields (JSON), for its title.
    async fn recent_changes(
        &self,
        filter: ChangesFilter,
    ) -> Result<Vec<(ferry_protocol::admin::RecordChange, String)>, StoreError>;
    /// How many live records of `collection` hold a value for `field` (of a
    /// valid field name); with `choice`, how many hold each value.
    async fn field_usage(
        &self,
        collection: &str,
        field: &str,
        choice: bool,
    ) -> Result<ferry_protocol::admin::FieldUsage, StoreError>;

    /// Adds or replaces collection definitions, keeping the others.
    async fn put_collections(&self, defs: &[CollectionDef]) -> Result<(), StoreError>;
    /// Every collection, in definition order.
    async fn collections(&self) -> Result<Vec<CollectionDef>, StoreError>;

    /// Applies a batch of mutations; one result per mutation, in order.
    async fn push(
        &self,
        ctx: PushContext,
        mutations: Vec<Mutation>,
    ) -> Result<PushOutcome, StoreError>;
    /// Records `reader` may see changed after `since`, oldest change first,
    /// and removals of those that left their view.
    async fn changes(
        &self,
        since: Cursor,
        limit: usize,
        reader: Reader,
    ) -> Result<ChangesPage, StoreError>;
    /// Versions of a record after `after_version`, oldest first: at most
    /// `limit`, and no more than `max_bytes` of them unless the first alone
    /// is larger; empty if there are none.
    async fn history_page(
        &self,
        collection: &str,
        id: Uuid,
        after_version: i64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<HistoryPage, StoreError>;
    /// Forgets at most `limit` remembered mutation ids first seen longer than
    /// `older_than` ago (by the database's clock); returns how many.
    async fn prune_mutations(
        &self,
        older_than: Duration,
        limit: usize,
    ) -> Result<usize, StoreError>;
    /// Every version of a record, oldest first; empty if there is none.
    /// For tests and tools: it holds the whole history in memory.
    async fn history(&self, collection: &str, id: Uuid) -> Result<Vec<Record>, StoreError> {
        let mut out: Vec<Record> = Vec::new();
        loop {
            let after = out.last().map_or(0, |r| r.version);
            let page = self
                .history_page(
                    collection,
                    id,
                    after,
                    ferry_protocol::HISTORY_MAX_LIMIT,
                    usize::MAX,
                )
                .await?;
            out.extend(page.versions);
            if !page.has_more {
                return Ok(out);
            }
        }
    }
    /// Bytes of field JSON a record's history rows hold, for tests and
    /// diagnostics.
    async fn history_stored_bytes(&self, collection: &str, id: Uuid) -> Result<u64, StoreError>;
    /// The latest server HLC stamp written, so a restarted clock never goes back.
    async fn latest_stamp(&self) -> Result<Option<ferry_protocol::Hlc>, StoreError>;
    /// The position of the last committed change (pushes and grant changes).
    async fn high_water(&self) -> Result<i64, StoreError>;
    /// Records (deleted ones included) and history rows of each collection
    /// that has any, for the sampled gauges of `/metrics`: one grouped count
    /// of each table, read now and then, never per request.
    async fn collection_sizes(&self) -> Result<Vec<CollectionSize>, StoreError>;
    /// The connection pool's use now, where the store has a pool of
    /// database connections (PostgreSQL); `None` otherwise.
    fn pool_usage(&self) -> Option<PoolUsage> {
        None
    }

    /// A fact about the database itself (the `meta` table): `epoch`,
    /// `compacted_seq`, `restored_at`, `restored_from`.
    async fn meta(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Sets facts about the database, in one transaction.
    async fn set_meta(&self, entries: Vec<(String, String)>) -> Result<(), StoreError>;
    /// The database's epoch: it changes when a backup is restored, so that
    /// clients notice the server went back in time (DESIGN.md, "Backups").
    async fn epoch(&self) -> Result<String, StoreError> {
        self.meta("epoch")
            .await?
            .ok_or_else(|| StoreError::Internal("the database has no epoch".into()))
    }
    /// Starts a new epoch: the database was just restored from a backup
    /// taken at `backup_taken_at`. Returns the new epoch.
    async fn start_epoch(&self, backup_taken_at: Option<String>) -> Result<String, StoreError> {
        let epoch = Uuid::new_v4().simple().to_string();
        let mut entries = vec![
            ("epoch".to_string(), epoch.clone()),
            ("restored_at".to_string(), now()),
        ];
        if let Some(at) = backup_taken_at {
            entries.push(("restored_from".to_string(), at));
        }
        self.set_meta(entries).await?;
        Ok(epoch)
    }
    /// The horizon: no cursor below it is good (0: every cursor is).
    async fn horizon(&self) -> Result<i64, StoreError> {
        Ok(self
            .meta(compact::HORIZON_KEY)
            .await?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }
    /// Compacts the history rows and records at sequence positions in
    /// `(lo, hi]` of each collection by its bounds, in one transaction, and
    /// raises the horizon past every record forgotten.
    async fn compact_window(
        &self,
        plan: &[(String, compact::Bounds)],
        lo: i64,
        hi: i64,
    ) -> Result<compact::CompactReport, StoreError>;
    /// Applies `plan`: every collection's retention, window by window.
    async fn compact(
        &self,
        plan: &compact::CompactPlan,
    ) -> Result<compact::CompactReport, StoreError> {
        let bounds: Vec<(String, compact::Bounds)> = plan
            .collections
            .iter()
            .map(|(name, r)| (name.clone(), compact::Bounds::of(r, plan.now)))
            .collect();
        let mut report = compact::CompactReport::default();
        if !bounds.is_empty() {
            let high = self.high_water().await?;
            let window = plan.window.max(1);
            let mut lo = 0;
            while lo < high {
                let hi = lo.saturating_add(window).min(high);
                report.add(self.compact_window(&bounds, lo, hi).await?);
                lo = hi;
            }
        }
        report.horizon = report.horizon.max(self.horizon().await?);
        Ok(report)
    }

    /// Starts publishing to `events` every commit made through any process
    /// that shares this database, and returns `true`; then handlers do not
    /// publish their own commits. A store only one process uses returns
    /// `false` (the default), and handlers publish.
    fn relay_commits(&self, _events: Events) -> bool {
        false
    }
}

pub type DynStore = Arc<dyn Store>;

/// Rows a collection holds (see [`Store::collection_sizes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionSize {
    pub collection: String,
    pub records: i64,
    pub history_rows: i64,
}

/// Connections of a pool: open now, idle among them, the most it opens,
/// and requests waiting for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUsage {
    pub size: usize,
    pub idle: usize,
    pub max: usize,
    pub waiting: usize,
}

/// Merges grouped counts of records and of history rows into one row per
/// collection, in name order.
fn collection_sizes_from(
    records: Vec<(String, i64)>,
    history: Vec<(String, i64)>,
) -> Vec<CollectionSize> {
    fn size(
        by_name: &mut std::collections::BTreeMap<String, CollectionSize>,
        collection: String,
    ) -> &mut CollectionSize {
        by_name
            .entry(collection.clone())
            .or_insert_with(|| CollectionSize {
                collection,
                records: 0,
                history_rows: 0,
            })
    }
    let mut by_name = std::collections::BTreeMap::new();
    for (collection, n) in records {
        size(&mut by_name, collection).records = n;
    }
    for (collection, n) in history {
        size(&mut by_name, collection).history_rows = n;
    }
    by_name.into_values().collect()
}

/// A page of a record's history.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPage {
    pub versions: Vec<Record>,
    /// Later versions exist.
    pub has_more: bool,
}

impl HistoryPage {
    /// `versions`, read from a snapshot whose latest version is `latest`.
    fn new(versions: Vec<Record>, latest: Option<i64>) -> HistoryPage {
        let has_more = match (versions.last(), latest) {
            (Some(last), Some(latest)) => last.version < latest,
            _ => false,
        };
        HistoryPage { versions, has_more }
    }
}

/// Field values as the JSON text they are stored as: pages of changes are
/// sent without parsing and re-serialising every record.
pub type RawFields = Box<serde_json::value::RawValue>;

/// A page of changes (`GET /v1/changes`), with its cursor typed.
#[derive(Debug)]
pub struct ChangesPage {
    pub changes: Vec<Record<RawFields>>,
    pub removed: Vec<ferry_protocol::Removed>,
    /// Where the next page starts.
    pub cursor: Cursor,
    pub has_more: bool,
    /// The last change of the snapshot the page was read from.
    pub high_water: i64,
}

impl ChangesPage {
    /// A page of `changes` read after `since`, from a snapshot whose last
    /// change is `high_water`; `last_seq` is the position of the last one.
    fn new(
        changes: Vec<Record<RawFields>>,
        since: Cursor,
        last_seq: i64,
        has_more: bool,
        high_water: i64,
    ) -> ChangesPage {
        // With nothing more to read, skip past changes of collections the reader cannot see.
        let cursor = if has_more {
            last_seq
        } else {
            high_water.max(since.0)
        };
        ChangesPage {
            changes,
            removed: Vec::new(),
            cursor: Cursor(cursor),
            has_more,
            high_water,
        }
    }
}

impl From<ChangesPage> for ChangesResponse<RawFields> {
    fn from(page: ChangesPage) -> Self {
        ChangesResponse {
            changes: page.changes,
            cursor: page.cursor.to_string(),
            has_more: page.has_more,
            removed: page.removed,
        }
    }
}

/// A position in the change sequence. On the wire it is an opaque string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Cursor(pub i64);

impl Cursor {
    pub fn parse(s: &str) -> Option<Cursor> {
        s.parse::<i64>().ok().filter(|n| *n >= 0).map(Cursor)
    }

    /// Reads a cursor as `GET /v1/changes` gives it: a position, mid-walk
    /// followed by where the walk began (see [`Walk`]).
    pub fn parse_with_walk(s: &str) -> Option<(Cursor, Option<Walk>)> {
        let mut parts = s.split('~');
        let seq = Cursor::parse(parts.next()?)?;
        let (Some(start), Some(began), None) = (parts.next(), parts.next(), parts.next()) else {
            return (!s.contains('~')).then_some((seq, None));
        };
        let (start, began) = (Cursor::parse(start)?.0, Cursor::parse(began)?.0);
        (start <= seq.0 && start <= began).then_some((seq, Some(Walk { start, began })))
    }

    /// This cursor as the wire gives it within `walk`.
    pub fn with_walk(self, walk: Option<Walk>) -> String {
        match walk {
            Some(w) => format!("{}~{}~{}", self.0, w.start, w.began),
            None => self.to_string(),
        }
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Opens the store a `--db` URL names: `sqlite://PATH` (or `sqlite::memory:`)
/// or `postgres://…`, with default pool settings.
pub async fn open(url: &str) -> Result<DynStore, StoreError> {
    open_with(url, &postgres::PgOptions::default()).await
}

/// Like [`open`], with the PostgreSQL pool settings `pg`.
pub async fn open_with(url: &str, pg: &postgres::PgOptions) -> Result<DynStore, StoreError> {
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        return Ok(Arc::new(sqlite::SqliteStore::open_with_readers(
            path,
            pg.pool_size,
        )?));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(postgres::PgStore::open(url, pg).await?));
    }
    Err(StoreError::Invalid(format!(
        "unknown database URL {:?}: use sqlite://PATH or postgres://USER@HOST/DATABASE",
        crate::config::redact_url(url)
    )))
}

#[cfg(test)]
mod tests {
    use super::{Cursor, Walk};

    #[test]
    fn a_mid_walk_cursor_reads_back_and_nonsense_is_refused() {
        assert_eq!(Cursor::parse_with_walk("812"), Some((Cursor(812), None)));
        let walk = Walk {
            start: 3,
            began: 900,
        };
        let wire = Cursor(812).with_walk(Some(walk));
        assert_eq!(wire, "812~3~900");
        assert_eq!(
            Cursor::parse_with_walk(&wire),
            Some((Cursor(812), Some(walk)))
        );
        for bad in [
            "",
            "812~3",
            "812~3~900~1",
            "812~913~900",
            "812~3~2",
            "a~b~c",
            "-1",
            "812~-3~900",
            "~~",
        ] {
            assert_eq!(Cursor::parse_with_walk(bad), None, "{bad:?}");
        }
    }
}
