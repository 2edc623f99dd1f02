//! The embedded store: one SQLite file in WAL mode.
//!
//! One writer connection behind a mutex serialises every write transaction,
//! so change sequence numbers are handed out in commit order and a reader
//! can never skip one. Readers use their own connections and see committed
//! snapshots. All database work runs on tokio's blocking pool.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use ferry_protocol::{
    Access, ChangesResponse, Conflict, Fields, Hlc, Mutation, MutationResult, Record, Status,
};
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior, params,
};
use uuid::Uuid;

use super::history::{PageReader, StoredVersion, reverse_delta};
use super::{
    ChangesPage, Cursor, HistoryPage, PushContext, PushOutcome, RawFields, Session, Store,
    StoreError, TokenHash, UserRow,
};
use crate::merge::{self, Current, Decision};
use crate::schema_file::CollectionDef;

/// Forward-only migrations; `PRAGMA user_version` counts those applied.
const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE grants (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    collection TEXT NOT NULL,
    access TEXT NOT NULL CHECK (access IN ('read', 'write')),
    PRIMARY KEY (user_id, collection)
);
CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    device_id TEXT NOT NULL,
    device_name TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE collections (
    name TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    definition TEXT NOT NULL
);
CREATE TABLE history (
    seq INTEGER PRIMARY KEY,
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    fields TEXT NOT NULL,
    deleted INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    hlc TEXT NOT NULL
);
CREATE UNIQUE INDEX history_by_version ON history(collection, id, version);
-- The latest version of each record is its history row `seq`; pulls walk this table in seq order.
CREATE TABLE records (
    seq INTEGER PRIMARY KEY,
    collection TEXT NOT NULL,
    id TEXT NOT NULL
);
CREATE UNIQUE INDEX records_by_id ON records(collection, id);
CREATE TABLE mutations (
    user_id TEXT NOT NULL,
    mutation_id TEXT NOT NULL,
    status TEXT NOT NULL,
    collection TEXT NOT NULL,
    record_id TEXT NOT NULL,
    version INTEGER,
    conflict TEXT,
    error TEXT,
    PRIMARY KEY (user_id, mutation_id)
) WITHOUT ROWID;
",
    r"
-- `fields` of a delta row holds only what differs from the next version (see store::history).
ALTER TABLE history ADD COLUMN delta INTEGER NOT NULL DEFAULT 0;
",
    // When each mutation id was first answered (Unix ms), so ids past the
    // horizon can be forgotten; those stored before count from now.
    r"
ALTER TABLE mutations ADD COLUMN created_at INTEGER;
UPDATE mutations SET created_at = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER);
CREATE INDEX mutations_by_age ON mutations(created_at);
",
];

pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: String,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

fn db_err(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    match e.sqlite_error_code() {
        Some(
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::CannotOpen
            | ErrorCode::DiskFull,
        ) => StoreError::Unavailable(e.to_string()),
        _ => StoreError::Internal(e.to_string()),
    }
}

fn json_err(e: serde_json::Error) -> StoreError {
    StoreError::Internal(format!("stored JSON is unreadable: {e}"))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it.
    /// `:memory:` gives a private in-memory database.
    pub fn open(path: &str) -> Result<SqliteStore, StoreError> {
        let path = if path == ":memory:" {
            format!("file:ferry-{}?mode=memory&cache=shared", Uuid::new_v4())
        } else {
            path.to_string()
        };
        create_private(&path).map_err(|e| {
            StoreError::Unavailable(format!("cannot create the database {path:?}: {e}"))
        })?;
        let writer = connect(&path).map_err(|e| open_error(&path, e))?;
        migrate(&writer).map_err(|e| open_error(&path, e))?;
        // A push reads the current version of every record it touches: with
        // SQLite's default 2 MB of cache those reads mostly miss.
        writer
            .pragma_update(None, "cache_size", WRITER_CACHE_KIB)
            .map_err(|e| open_error(&path, e))?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path,
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
            }),
        })
    }

    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        blocking(move || {
            let conn = match lock(&inner.readers).pop() {
                Some(c) => c,
                None => connect(&inner.path).map_err(db_err)?,
            };
            let out = f(&conn);
            lock(&inner.readers).push(conn);
            out
        })
        .await
    }

    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        blocking(move || {
            let mut conn = lock(&inner.writer);
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db_err)?;
            let out = f(&tx)?;
            tx.commit().map_err(db_err)?;
            Ok(out)
        })
        .await
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Internal(format!("database task failed: {e}")))?
}

/// The writer's page cache, in KiB (negative: a size rather than pages).
const WRITER_CACHE_KIB: i64 = -16 * 1024;

fn open_error(path: &str, e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(format!(
        "cannot open the database {path:?}: {e} (check that the path is writable and the file is a Ferry SQLite database)"
    ))
}

/// Creates a new database file readable by its owner only: it holds password
/// hashes and every record. SQLite gives the `-wal` and `-shm` files the
/// database's mode. An existing file keeps the mode its operator gave it.
fn create_private(path: &str) -> std::io::Result<()> {
    if path.starts_with("file:") {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

fn connect(path: &str) -> Result<Connection, rusqlite::Error> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // WAL lets readers work beside the writer; FULL makes an acknowledged push durable.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

fn migrate(conn: &Connection) -> Result<(), rusqlite::Error> {
    let applied: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if applied > MIGRATIONS.len() {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_MISMATCH),
            Some(format!(
                "the database was written by a newer ferry-server (schema version {applied}, this one knows {})",
                MIGRATIONS.len()
            )),
        ));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {sql}; PRAGMA user_version = {}; COMMIT;",
            i + 1
        ))?;
    }
    Ok(())
}

fn parse_uuid(s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s)
        .map_err(|e| StoreError::Internal(format!("stored id {s:?} is not a UUID: {e}")))
}

fn parse_hlc(s: &str) -> Result<Hlc, StoreError> {
    s.parse()
        .map_err(|e| StoreError::Internal(format!("stored stamp: {e}")))
}

/// Columns: collection, id, version, fields, deleted, updated_at, updated_by.
fn record_from_row(row: &rusqlite::Row<'_>) -> Result<Record, StoreError> {
    record_from_row_with(row, |text| serde_json::from_str(&text).map_err(json_err))
}

fn raw_record_from_row(row: &rusqlite::Row<'_>) -> Result<Record<RawFields>, StoreError> {
    record_from_row_with(row, |text| {
        serde_json::value::RawValue::from_string(text).map_err(json_err)
    })
}

fn record_from_row_with<F>(
    row: &rusqlite::Row<'_>,
    fields: impl FnOnce(String) -> Result<F, StoreError>,
) -> Result<Record<F>, StoreError> {
    let get = |e: rusqlite::Error| db_err(e);
    let id: String = row.get(1).map_err(get)?;
    let text: String = row.get(3).map_err(get)?;
    let updated_at: String = row.get(5).map_err(get)?;
    Ok(Record {
        collection: row.get(0).map_err(get)?,
        id: parse_uuid(&id)?,
        version: row.get(2).map_err(get)?,
        fields: fields(text)?,
        deleted: row.get(4).map_err(get)?,
        updated_at: parse_hlc(&updated_at)?,
        updated_by: row.get(6).map_err(get)?,
    })
}

const RECORD_COLUMNS: &str = "collection, id, version, fields, deleted, updated_at, updated_by";

/// Columns: those of [`RECORD_COLUMNS`], then delta.
fn stored_from_row(row: &rusqlite::Row<'_>) -> Result<(StoredVersion, usize), StoreError> {
    let len = row.get_ref(3).map_err(db_err)?.as_str().map_or(0, str::len);
    Ok((
        StoredVersion {
            record: record_from_row(row)?,
            delta: row.get(7).map_err(db_err)?,
        },
        len,
    ))
}

/// Reads a record's history from just after `after` into `reader`, until
/// it has enough to rebuild its versions.
fn read_history(
    conn: &Connection,
    collection: &str,
    id: &str,
    after: i64,
    reader: &mut PageReader,
) -> Result<(), StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS}, delta FROM history
             WHERE collection = ?1 AND id = ?2 AND version > ?3 ORDER BY version"
        ))
        .map_err(db_err)?;
    let mut rows = stmt.query(params![collection, id, after]).map_err(db_err)?;
    while let Some(row) = rows.next().map_err(db_err)? {
        let (stored, len) = stored_from_row(row)?;
        if !reader.push(stored, len) {
            break;
        }
    }
    Ok(())
}

fn record_at(
    conn: &Connection,
    collection: &str,
    id: &str,
    version: i64,
) -> Result<Option<Record>, StoreError> {
    let mut reader = PageReader::new(1, usize::MAX);
    read_history(conn, collection, id, version - 1, &mut reader)?;
    let first = reader
        .finish()
        .map_err(StoreError::Internal)?
        .into_iter()
        .next();
    Ok(first.filter(|r| r.version == version))
}

fn load_collections(conn: &Connection) -> Result<Vec<CollectionDef>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT definition FROM collections ORDER BY position")
        .map_err(db_err)?;
    let defs = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(db_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_err)?;
    defs.iter()
        .map(|d| serde_json::from_str(d).map_err(json_err))
        .collect()
}

/// The stored result of a mutation seen before, rebuilt as first answered.
fn replay(
    tx: &Connection,
    user_id: &str,
    m: &Mutation,
) -> Result<Option<MutationResult>, StoreError> {
    let mut stmt = tx
        .prepare_cached(
            "SELECT status, collection, record_id, version, conflict, error FROM mutations
             WHERE user_id = ?1 AND mutation_id = ?2",
        )
        .map_err(db_err)?;
    let row = stmt
        .query_row(params![user_id, m.mutation_id.to_string()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
            ))
        })
        .optional()
        .map_err(db_err)?;
    let Some((status, collection, record_id, version, conflict, error)) = row else {
        return Ok(None);
    };
    let status: Status =
        serde_json::from_value(serde_json::Value::String(status)).map_err(json_err)?;
    let record = match version {
        Some(v) => record_at(tx, &collection, &record_id, v)?,
        None => None,
    };
    Ok(Some(MutationResult {
        mutation_id: m.mutation_id,
        status,
        record,
        conflict: conflict
            .map(|c| serde_json::from_str(&c))
            .transpose()
            .map_err(json_err)?,
        error: error
            .map(|e| serde_json::from_str(&e))
            .transpose()
            .map_err(json_err)?,
    }))
}

struct CurrentRow {
    /// Its history row.
    seq: i64,
    current: Current,
    updated_at: String,
    updated_by: String,
}

fn load_current(
    tx: &Connection,
    collection: &str,
    id: &str,
) -> Result<Option<CurrentRow>, StoreError> {
    let mut stmt = tx
        .prepare_cached(
            "SELECT h.version, h.fields, h.deleted, h.hlc, h.updated_at, h.updated_by, h.seq
             FROM records r JOIN history h ON h.seq = r.seq WHERE r.collection = ?1 AND r.id = ?2",
        )
        .map_err(db_err)?;
    let row = stmt
        .query_row(params![collection, id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, bool>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, i64>(6)?,
            ))
        })
        .optional()
        .map_err(db_err)?;
    let Some((version, fields, deleted, hlc, updated_at, updated_by, seq)) = row else {
        return Ok(None);
    };
    Ok(Some(CurrentRow {
        seq,
        current: Current {
            version,
            fields: serde_json::from_str(&fields).map_err(json_err)?,
            deleted,
            hlc: parse_hlc(&hlc)?,
        },
        updated_at,
        updated_by,
    }))
}

fn status_name(s: Status) -> &'static str {
    match s {
        Status::Applied => "applied",
        Status::Merged => "merged",
        Status::Conflict => "conflict",
        Status::Rejected => "rejected",
    }
}

struct Pusher<'a> {
    tx: &'a Transaction<'a>,
    ctx: &'a PushContext,
    user_id: String,
    defs: HashMap<String, CollectionDef>,
    next_seq: i64,
    outcome: PushOutcome,
}

impl Pusher<'_> {
    fn apply(&mut self, m: &Mutation) -> Result<MutationResult, StoreError> {
        if let Some(previous) = replay(self.tx, &self.user_id, m)? {
            return Ok(previous);
        }
        let id = m.record_id.to_string();
        let row = load_current(self.tx, &m.collection, &id)?;
        let tx = self.tx;
        let decision = merge::decide(
            m,
            self.defs.get(&m.collection),
            self.ctx.grants.get(&m.collection).copied(),
            row.as_ref().map(|r| &r.current),
            |v| {
                record_at(tx, &m.collection, &id, v)
                    .ok()
                    .flatten()
                    .map(|r| r.fields)
            },
        );
        let current_record = |row: &CurrentRow| -> Result<Record, StoreError> {
            Ok(Record {
                collection: m.collection.clone(),
                id: m.record_id,
                version: row.current.version,
                fields: row.current.fields.clone(),
                deleted: row.current.deleted,
                updated_at: parse_hlc(&row.updated_at)?,
                updated_by: row.updated_by.clone(),
            })
        };
        let mut result = MutationResult {
            mutation_id: m.mutation_id,
            status: Status::Rejected,
            record: None,
            conflict: None,
            error: None,
        };
        match decision {
            Decision::Write {
                status,
                fields,
                deleted,
            } => {
                let version = row.as_ref().map_or(1, |r| r.current.version + 1);
                result.status = status;
                result.record = Some(self.write(m, version, fields, deleted, row.as_ref())?);
            }
            Decision::Unchanged { status } => {
                result.status = status;
                result.record = row.as_ref().map(current_record).transpose()?;
            }
            Decision::Conflict { kind, fields } => {
                result.status = Status::Conflict;
                result.record = row.as_ref().map(current_record).transpose()?;
                result.conflict = Some(Conflict { kind, fields });
            }
            Decision::Reject(error) => {
                result.error = Some(error);
            }
        }
        if merge::remembered(&result) {
            self.remember(m, &result)?;
        }
        Ok(result)
    }

    fn write(
        &mut self,
        m: &Mutation,
        version: i64,
        fields: Fields,
        deleted: bool,
        previous: Option<&CurrentRow>,
    ) -> Result<Record, StoreError> {
        // The version before keeps only what differs from this one.
        if let Some(prev) = previous {
            let delta = reverse_delta(&prev.current.fields, &fields);
            let delta = serde_json::to_string(&delta).map_err(json_err)?;
            self.tx
                .prepare_cached("UPDATE history SET fields = ?2, delta = 1 WHERE seq = ?1")
                .and_then(|mut s| s.execute(params![prev.seq, delta]))
                .map_err(db_err)?;
        }
        self.next_seq += 1;
        let seq = self.next_seq;
        let updated_at = self
            .ctx
            .clock
            .stamp(Some(&m.hlc))
            .map_err(super::clock_err)?;
        let fields_json = serde_json::to_string(&fields).map_err(json_err)?;
        let id = m.record_id.to_string();
        let stamp = updated_at.to_string();
        let hlc = m.hlc.to_string();
        let by = &self.ctx.session.username;
        self.tx
            .prepare_cached(
                "INSERT INTO history (seq, collection, id, version, fields, deleted, updated_at, updated_by, hlc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .and_then(|mut s| s.execute(params![seq, m.collection, id, version, fields_json, deleted, stamp, by, hlc]))
            .map_err(db_err)?;
        self.tx
            .prepare_cached(
                "INSERT INTO records (seq, collection, id) VALUES (?1, ?2, ?3)
                 ON CONFLICT (collection, id) DO UPDATE SET seq = excluded.seq",
            )
            .and_then(|mut s| s.execute(params![seq, m.collection, id]))
            .map_err(db_err)?;
        self.outcome.last_write = Some(Cursor(seq));
        if !self.outcome.touched.contains(&m.collection) {
            self.outcome.touched.push(m.collection.clone());
        }
        Ok(Record {
            collection: m.collection.clone(),
            id: m.record_id,
            version,
            fields,
            deleted,
            updated_at,
            updated_by: by.clone(),
        })
    }

    fn remember(&self, m: &Mutation, r: &MutationResult) -> Result<(), StoreError> {
        let conflict = r
            .conflict
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(json_err)?;
        let error = r
            .error
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(json_err)?;
        self.tx
            .prepare_cached(
                "INSERT INTO mutations (user_id, mutation_id, status, collection, record_id, version, conflict, error, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))",
            )
            .and_then(|mut s| {
                s.execute(params![
                    self.user_id,
                    m.mutation_id.to_string(),
                    status_name(r.status),
                    m.collection,
                    m.record_id.to_string(),
                    r.record.as_ref().map(|rec| rec.version),
                    conflict,
                    error
                ])
            })
            .map_err(db_err)?;
        Ok(())
    }
}

fn max_seq(conn: &Connection) -> Result<i64, StoreError> {
    conn.query_row("SELECT coalesce(max(seq), 0) FROM history", [], |r| {
        r.get(0)
    })
    .map_err(db_err)
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(db_err))
            .await
    }

    async fn create_user(&self, username: &str, password_hash: &str) -> Result<Uuid, StoreError> {
        let (username, hash) = (username.to_string(), password_hash.to_string());
        self.write(move |tx| {
            let id = Uuid::now_v7();
            let inserted = tx
                .execute(
                    "INSERT INTO users (id, username, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (username) DO NOTHING",
                    params![id.to_string(), username, hash, now()],
                )
                .map_err(db_err)?;
            if inserted == 0 {
                return Err(StoreError::Exists(format!("user \"{username}\" already exists")));
            }
            Ok(id)
        })
        .await
    }

    async fn set_password(&self, username: &str, password_hash: &str) -> Result<(), StoreError> {
        let (username, hash) = (username.to_string(), password_hash.to_string());
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE users SET password_hash = ?2 WHERE username = ?1",
                    params![username, hash],
                )
                .map_err(db_err)?;
            if n == 0 {
                return Err(StoreError::NotFound(format!(
                    "there is no user \"{username}\""
                )));
            }
            // A new password logs every device out.
            tx.execute(
                "DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE username = ?1)",
                params![username],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<UserRow>, StoreError> {
        let username = username.to_string();
        self.read(move |c| {
            let row = c
                .query_row(
                    "SELECT id, username, password_hash FROM users WHERE username = ?1",
                    params![username],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                        ))
                    },
                )
                .optional()
                .map_err(db_err)?;
            row.map(|(id, username, password_hash)| {
                Ok(UserRow {
                    id: parse_uuid(&id)?,
                    username,
                    password_hash,
                })
            })
            .transpose()
        })
        .await
    }

    async fn set_grant(
        &self,
        username: &str,
        collection: &str,
        access: Option<Access>,
    ) -> Result<(), StoreError> {
        let (username, collection) = (username.to_string(), collection.to_string());
        self.write(move |tx| {
            let user_id: Option<String> = tx
                .query_row(
                    "SELECT id FROM users WHERE username = ?1",
                    params![username],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db_err)?;
            let user_id = user_id
                .ok_or_else(|| StoreError::NotFound(format!("there is no user \"{username}\"")))?;
            match access {
                Some(a) => {
                    let a = if a == Access::Write { "write" } else { "read" };
                    tx.execute(
                        "INSERT INTO grants (user_id, collection, access) VALUES (?1, ?2, ?3)
                         ON CONFLICT (user_id, collection) DO UPDATE SET access = ?3",
                        params![user_id, collection, a],
                    )
                }
                None => tx.execute(
                    "DELETE FROM grants WHERE user_id = ?1 AND collection = ?2",
                    params![user_id, collection],
                ),
            }
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn grants(&self, user_id: Uuid) -> Result<HashMap<String, Access>, StoreError> {
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached("SELECT collection, access FROM grants WHERE user_id = ?1")
                .map_err(db_err)?;
            let rows = stmt
                .query_map(params![user_id.to_string()], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })
                .map_err(db_err)?;
            let mut out = HashMap::new();
            for row in rows {
                let (collection, access) = row.map_err(db_err)?;
                out.insert(
                    collection,
                    if access == "write" {
                        Access::Write
                    } else {
                        Access::Read
                    },
                );
            }
            Ok(out)
        })
        .await
    }

    async fn create_session(
        &self,
        user_id: Uuid,
        device_name: &str,
        token: &TokenHash,
    ) -> Result<Uuid, StoreError> {
        let (device_name, token) = (device_name.to_string(), token.to_vec());
        self.write(move |tx| {
            let device_id = Uuid::now_v7();
            tx.execute(
                "INSERT INTO sessions (token_hash, user_id, device_id, device_name, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![token, user_id.to_string(), device_id.to_string(), device_name, now()],
            )
            .map_err(db_err)?;
            Ok(device_id)
        })
        .await
    }

    async fn session(&self, token: &TokenHash) -> Result<Option<Session>, StoreError> {
        let token = token.to_vec();
        self.read(move |c| {
            let row = c
                .prepare_cached(
                    "SELECT s.user_id, u.username, s.device_id FROM sessions s JOIN users u ON u.id = s.user_id
                     WHERE s.token_hash = ?1",
                )
                .and_then(|mut s| {
                    s.query_row(params![token], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
                    })
                    .optional()
                })
                .map_err(db_err)?;
            row.map(|(user_id, username, device_id)| {
                Ok(Session { user_id: parse_uuid(&user_id)?, username, device_id: parse_uuid(&device_id)? })
            })
            .transpose()
        })
        .await
    }

    async fn revoke_session(&self, token: &TokenHash) -> Result<(), StoreError> {
        let token = token.to_vec();
        self.write(move |tx| {
            tx.execute("DELETE FROM sessions WHERE token_hash = ?1", params![token])
                .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn put_collections(&self, defs: &[CollectionDef]) -> Result<(), StoreError> {
        let defs = defs.to_vec();
        self.write(move |tx| {
            for def in &defs {
                def.validate().map_err(StoreError::Invalid)?;
                let json = serde_json::to_string(def).map_err(json_err)?;
                tx.execute(
                    "INSERT INTO collections (name, position, definition)
                     VALUES (?1, (SELECT coalesce(max(position), 0) + 1 FROM collections), ?2)
                     ON CONFLICT (name) DO UPDATE SET definition = ?2",
                    params![def.name, json],
                )
                .map_err(db_err)?;
            }
            Ok(())
        })
        .await
    }

    async fn collections(&self) -> Result<Vec<CollectionDef>, StoreError> {
        self.read(load_collections).await
    }

    async fn push(
        &self,
        ctx: PushContext,
        mutations: Vec<Mutation>,
    ) -> Result<PushOutcome, StoreError> {
        self.write(move |tx| {
            let defs = load_collections(tx)?
                .into_iter()
                .map(|d| (d.name.clone(), d))
                .collect();
            let next_seq = max_seq(tx)?;
            let mut pusher = Pusher {
                tx,
                ctx: &ctx,
                user_id: ctx.session.user_id.to_string(),
                defs,
                next_seq,
                outcome: PushOutcome {
                    results: Vec::with_capacity(mutations.len()),
                    last_write: None,
                    written_after: Cursor(next_seq),
                    touched: Vec::new(),
                },
            };
            for m in &mutations {
                let result = pusher.apply(m)?;
                pusher.outcome.results.push(result);
            }
            Ok(pusher.outcome)
        })
        .await
    }

    async fn changes(
        &self,
        since: Cursor,
        limit: usize,
        collections: Vec<String>,
    ) -> Result<ChangesPage, StoreError> {
        self.read(move |c| {
            // One read transaction: the page and the high-water mark come from the same snapshot.
            c.execute_batch("BEGIN").map_err(db_err)?;
            let out = changes_page(c, since, limit, &collections);
            let _ = c.execute_batch("COMMIT");
            out
        })
        .await
    }

    async fn history_page(
        &self,
        collection: &str,
        id: Uuid,
        after_version: i64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<HistoryPage, StoreError> {
        let collection = collection.to_string();
        self.read(move |c| {
            // One read transaction: the page and the latest version agree.
            c.execute_batch("BEGIN").map_err(db_err)?;
            let out = history_page(
                c,
                &collection,
                &id.to_string(),
                after_version,
                limit,
                max_bytes,
            );
            let _ = c.execute_batch("COMMIT");
            out
        })
        .await
    }

    async fn history_stored_bytes(&self, collection: &str, id: Uuid) -> Result<u64, StoreError> {
        let collection = collection.to_string();
        self.read(move |c| {
            c.query_row(
                "SELECT coalesce(sum(length(CAST(fields AS BLOB))), 0) FROM history WHERE collection = ?1 AND id = ?2",
                params![collection, id.to_string()],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
            .map_err(db_err)
        })
        .await
    }

    async fn prune_mutations(
        &self,
        older_than: std::time::Duration,
        limit: usize,
    ) -> Result<usize, StoreError> {
        let age = i64::try_from(older_than.as_millis())
            .unwrap_or(i64::MAX)
            .min(1 << 60);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.write(move |tx| {
            tx.execute(
                "DELETE FROM mutations WHERE (user_id, mutation_id) IN (
                     SELECT user_id, mutation_id FROM mutations
                     WHERE created_at < CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) - ?1
                     LIMIT ?2)",
                params![age, limit],
            )
            .map_err(db_err)
        })
        .await
    }

    async fn latest_stamp(&self) -> Result<Option<Hlc>, StoreError> {
        self.read(|c| {
            let s: Option<String> = c
                .query_row("SELECT max(updated_at) FROM history", [], |r| r.get(0))
                .map_err(db_err)?;
            s.as_deref().map(parse_hlc).transpose()
        })
        .await
    }
}

fn history_page(
    c: &Connection,
    collection: &str,
    id: &str,
    after: i64,
    limit: usize,
    max_bytes: usize,
) -> Result<HistoryPage, StoreError> {
    let mut reader = PageReader::new(limit, max_bytes);
    read_history(c, collection, id, after, &mut reader)?;
    let versions = reader.finish().map_err(StoreError::Internal)?;
    let latest: Option<i64> = c
        .prepare_cached("SELECT max(version) FROM history WHERE collection = ?1 AND id = ?2")
        .and_then(|mut s| s.query_row(params![collection, id], |r| r.get(0)))
        .map_err(db_err)?;
    let has_more = match (versions.last(), latest) {
        (Some(last), Some(latest)) => last.version < latest,
        _ => false,
    };
    Ok(HistoryPage { versions, has_more })
}

fn changes_page(
    c: &Connection,
    since: Cursor,
    limit: usize,
    collections: &[String],
) -> Result<ChangesPage, StoreError> {
    let high_water = max_seq(c)?;
    if collections.is_empty() {
        return Ok(ChangesResponse {
            changes: Vec::new(),
            cursor: Cursor(high_water.max(since.0)).to_string(),
            has_more: false,
        });
    }
    let placeholders = (0..collections.len())
        .map(|i| format!("?{}", i + 3))
        .collect::<Vec<_>>()
        .join(", ");
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT h.collection, h.id, h.version, h.fields, h.deleted, h.updated_at, h.updated_by, r.seq
             FROM records r JOIN history h ON h.seq = r.seq
             WHERE r.seq > ?1 AND +r.collection IN ({placeholders}) ORDER BY r.seq LIMIT ?2"
        ))
        .map_err(db_err)?;
    let fetch = i64::try_from(limit + 1).unwrap_or(i64::MAX);
    let mut args: Vec<&dyn rusqlite::ToSql> = vec![&since.0, &fetch];
    args.extend(collections.iter().map(|c| c as &dyn rusqlite::ToSql));
    let mut rows = stmt.query(args.as_slice()).map_err(db_err)?;
    let mut changes = Vec::with_capacity(limit.min(1024));
    let mut last_seq = since.0;
    let mut has_more = false;
    while let Some(row) = rows.next().map_err(db_err)? {
        if changes.len() == limit {
            has_more = true;
            break;
        }
        changes.push(raw_record_from_row(row)?);
        last_seq = row.get(7).map_err(db_err)?;
    }
    // With nothing more to read, skip past changes of collections the reader cannot see.
    let cursor = if has_more {
        last_seq
    } else {
        high_water.max(since.0)
    };
    Ok(ChangesResponse {
        changes,
        cursor: Cursor(cursor).to_string(),
        has_more,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn conformance() {
        super::super::conformance::run_all(|| async {
            let dir = tempfile::tempdir().map_err(|e| StoreError::Internal(e.to_string()))?;
            let path = dir.path().join("ferry.db");
            let store = SqliteStore::open(&path.to_string_lossy())?;
            Ok((
                Arc::new(store) as super::super::DynStore,
                Box::new(dir) as Box<dyn std::any::Any + Send>,
            ))
        })
        .await;
    }

    /// Prints how the database grows with 200 one-field edits of a record
    /// holding a 250 KB field (`cargo test -p ferry-server measure_history
    /// -- --ignored --nocapture`).
    #[tokio::test]
    #[ignore]
    async fn measure_history_growth() {
        use crate::store::conformance::testing;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("m.db");
        let store: super::super::DynStore =
            Arc::new(SqliteStore::open(&path.to_string_lossy()).expect("open"));
        let ctx = testing::setup(&store).await;
        let id = Uuid::now_v7();
        let size = |p: &std::path::Path| {
            let wal = p.with_extension("db-wal");
            std::fs::metadata(p).map_or(0, |m| m.len())
                + std::fs::metadata(wal).map_or(0, |m| m.len())
        };
        let create = testing::put(
            "a",
            id,
            None,
            serde_json::json!({"title": "t", "note": "n".repeat(250_000)}),
        );
        store.push(ctx.clone(), vec![create]).await.expect("create");
        let before = size(&path);
        let start = std::time::Instant::now();
        for v in 1..=200i64 {
            let m = testing::put("a", id, Some(v), serde_json::json!({"n": v}));
            store.push(ctx.clone(), vec![m]).await.expect("edit");
        }
        let took = start.elapsed();
        let stored = store.history_stored_bytes("a", id).await.expect("bytes");
        println!(
            "200 edits: database grew {} bytes, history fields hold {stored} bytes, {took:?}",
            size(&path).saturating_sub(before)
        );
    }

    #[test]
    fn refuses_a_file_that_is_not_a_database() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("junk.db");
        std::fs::write(&path, vec![b'x'; 8192]).expect("write");
        let err = SqliteStore::open(&path.to_string_lossy())
            .err()
            .expect("must fail");
        let msg = err.to_string();
        assert!(
            msg.contains("junk.db") && msg.contains("cannot open"),
            "{msg}"
        );
    }

    #[test]
    fn migrations_are_recorded_and_rerunnable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("m.db");
        let path = path.to_string_lossy().to_string();
        drop(SqliteStore::open(&path).expect("first open"));
        drop(SqliteStore::open(&path).expect("second open"));
        let conn = Connection::open(&path).expect("open");
        let v: usize = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("version");
        assert_eq!(v, MIGRATIONS.len());
        conn.pragma_update(None, "user_version", 99).expect("set");
        drop(conn);
        let err = SqliteStore::open(&path)
            .err()
            .expect("newer schema refused");
        assert!(err.to_string().contains("newer ferry-server"), "{err}");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn database_files_are_private_to_their_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("private.db");
        let store = SqliteStore::open(&path.to_string_lossy()).expect("open");
        // A write makes SQLite create the -wal and -shm files.
        store.create_user("dana", "hash").await.expect("write");
        for name in ["private.db", "private.db-wal", "private.db-shm"] {
            let meta = std::fs::metadata(dir.path().join(name)).expect(name);
            let mode = meta.permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{name} has mode {mode:o}");
        }
    }
}
