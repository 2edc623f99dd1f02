//! The embedded store: one SQLite file in WAL mode.
//!
//! One writer connection behind a mutex serialises every write transaction,
//! so change sequence numbers are handed out in commit order and a reader
//! can never skip one. Readers use their own connections and see committed
//! snapshots. All database work runs on tokio's blocking pool.

mod admin;
mod checkpoint;
mod compact;
mod push;
mod read;
mod rules;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use ferry_protocol::{Access, Hlc, Mutation, Record};
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior, params,
};
use uuid::Uuid;

use super::{
    ChangesPage, CollectionSize, Cursor, DeviceRow, HistoryPage, NewDevice, PushContext,
    PushOutcome, Reader, RuleChange, Session, Store, StoreError, Team, TokenHash, UserRow,
    collection_sizes_from, json_err, newer_schema, no_such_user, now, prune_bounds, stored_access,
    stored_hlc, user_exists,
};
use crate::schema_file::CollectionDef;
use checkpoint::{Checkpointer, WRITER_AUTOCHECKPOINT_PAGES};
use read::{current, history_page, load_collections, max_seq, parse_uuid, record_at};

/// Forward-only migrations, oldest first; `PRAGMA user_version` counts those
/// applied. Never edit one that has shipped: add the next.
/// A device's columns, for [`device_row`].
const DEVICE_SELECT: &str = "SELECT s.device_id, s.user_id, u.username, s.device_name, s.platform, s.app_version,
    s.created_at, coalesce(s.last_seen_at, s.created_at), s.last_ip, s.revoked_at IS NOT NULL, s.wipe
    FROM sessions s JOIN users u ON u.id = s.user_id";

fn device_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<DeviceRow, StoreError>> {
    let (id, user_id): (String, String) = (r.get(0)?, r.get(1)?);
    let (id, user_id) = match (parse_uuid(&id), parse_uuid(&user_id)) {
        (Ok(id), Ok(user_id)) => (id, user_id),
        (Err(e), _) | (_, Err(e)) => return Ok(Err(e)),
    };
    Ok(Ok(DeviceRow {
        id,
        user_id,
        username: r.get(2)?,
        name: r.get(3)?,
        platform: r.get(4)?,
        app_version: r.get(5)?,
        first_seen: r.get(6)?,
        last_seen: r.get(7)?,
        last_ip: r.get(8)?,
        revoked: r.get(9)?,
        wipe: r.get(10)?,
    }))
}

const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_history_delta.sql"),
    include_str!("migrations/0003_mutation_age.sql"),
    include_str!("migrations/0004_merged_from.sql"),
    include_str!("migrations/0005_row_rules.sql"),
    include_str!("migrations/0006_feed_gained.sql"),
    include_str!("migrations/0007_write_only.sql"),
    include_str!("migrations/0008_blobs.sql"),
    include_str!("migrations/0009_devices.sql"),
    include_str!("migrations/0010_admin.sql"),
    include_str!("migrations/0011_meta.sql"),
];

pub struct SqliteStore {
    inner: Arc<Inner>,
}

/// Reads at once, by default: each holds a connection with its own page
/// cache, and on a few cores more readers only queue for them.
pub const DEFAULT_READERS: usize = 16;

struct Inner {
    path: String,
    writer: Mutex<Connection>,
    /// Idle reading connections, at most `reading`'s permits of them.
    readers: Mutex<Vec<Connection>>,
    /// One permit per read at once: 1,000 event streams checking at the
    /// same moment once held 500 connections (676 MB).
    reading: Arc<tokio::sync::Semaphore>,
    /// `None` for an in-memory database, which has no WAL.
    checkpoints: Option<Checkpointer>,
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

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it.
    /// `:memory:` gives a private in-memory database.
    pub fn open(path: &str) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with_readers(path, DEFAULT_READERS)
    }

    /// [`open`](Self::open) with at most `readers` reads at once (at least one).
    pub fn open_with_readers(path: &str, readers: usize) -> Result<SqliteStore, StoreError> {
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
        let checkpoints = if path.starts_with("file:") {
            None
        } else {
            writer
                .pragma_update(None, "wal_autocheckpoint", WRITER_AUTOCHECKPOINT_PAGES)
                .map_err(|e| open_error(&path, e))?;
            let conn = connect(&path).map_err(|e| open_error(&path, e))?;
            Some(Checkpointer::start(conn)?)
        };
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path,
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
                reading: Arc::new(tokio::sync::Semaphore::new(readers.max(1))),
                checkpoints,
            }),
        })
    }

    /// The query plan of the feed statement for `reader`, for benchmarks.
    pub async fn explain_feed(&self, reader: Reader) -> Result<Vec<String>, StoreError> {
        self.read(move |c| rules::explain_feed(c, &reader)).await
    }

    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        // Waits here, not on a blocking thread, for a read to end.
        let permit = inner
            .reading
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| StoreError::Internal(format!("reads closed: {e}")))?;
        blocking(move || {
            let conn = match lock(&inner.readers).pop() {
                Some(c) => c,
                None => connect(&inner.path).map_err(db_err)?,
            };
            let out = f(&conn);
            lock(&inner.readers).push(conn);
            drop(permit);
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
            drop(conn);
            if let Some(c) = &inner.checkpoints {
                c.nudge();
            }
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
            Some(newer_schema(applied, MIGRATIONS.len())),
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

#[async_trait]
impl Store for SqliteStore {
    fn kind(&self) -> &'static str {
        "sqlite"
    }

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
                return Err(user_exists(&username));
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
                return Err(no_such_user(&username));
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
                    "SELECT id, username, password_hash, role, disabled FROM users WHERE username = ?1",
                    params![username],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, bool>(4)?,
                        ))
                    },
                )
                .optional()
                .map_err(db_err)?;
            row.map(|(id, username, password_hash, role, disabled)| {
                Ok(UserRow {
                    id: parse_uuid(&id)?,
                    username,
                    password_hash,
                    role: ferry_protocol::admin::Role::parse(&role),
                    disabled,
                })
            })
            .transpose()
        })
        .await
    }

    async fn rules_for(&self, user_id: Uuid) -> Result<Vec<crate::rules::RuleRow>, StoreError> {
        self.read(move |c| rules::rules_for(c, &user_id.to_string()))
            .await
    }

    async fn change_rules(&self, change: RuleChange) -> Result<(), StoreError> {
        self.write(move |tx| rules::change_rules(tx, &change)).await
    }

    async fn teams(&self) -> Result<Vec<Team>, StoreError> {
        self.read(rules::teams).await
    }

    async fn add_blob_owner(
        &self,
        sha256: &str,
        user_id: Uuid,
        size: u64,
    ) -> Result<(), StoreError> {
        let (sha256, size) = (sha256.to_string(), i64::try_from(size).unwrap_or(i64::MAX));
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO blob_owners (sha256, user_id, size, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (sha256, user_id) DO NOTHING",
                params![sha256, user_id.to_string(), size, now()],
            )
            .map(|_| ())
            .map_err(db_err)
        })
        .await
    }

    async fn blob_readable(&self, sha256: &str, user_id: Uuid) -> Result<bool, StoreError> {
        let sha256 = sha256.to_string();
        self.read(move |c| {
            c.prepare_cached("SELECT 1 FROM blob_owners WHERE sha256 = ?1 AND user_id = ?2")
                .and_then(|mut s| s.exists(params![sha256, user_id.to_string()]))
                .map_err(db_err)
        })
        .await
    }

    async fn blob_bytes(&self, user_id: Uuid) -> Result<u64, StoreError> {
        self.read(move |c| {
            c.query_row(
                "SELECT COALESCE(SUM(size), 0) FROM blob_owners WHERE user_id = ?1",
                params![user_id.to_string()],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(db_err)
        })
        .await
    }

    async fn forget_blob(&self, sha256: &str) -> Result<(), StoreError> {
        let sha256 = sha256.to_string();
        self.write(move |tx| {
            tx.execute("DELETE FROM blob_owners WHERE sha256 = ?1", params![sha256])
                .map(|_| ())
                .map_err(db_err)
        })
        .await
    }

    async fn blob_refs(&self, collection: &str, field: &str) -> Result<Vec<String>, StoreError> {
        let (collection, path) = (collection.to_string(), format!("$.\"{field}\""));
        self.read(move |c| {
            let mut stmt = c
                .prepare(
                    "SELECT DISTINCT json_extract(f.value, '$.sha256')
                     FROM history h, json_each(h.fields, ?2) f
                     WHERE h.collection = ?1 AND json_type(h.fields, ?2) = 'array'
                       AND json_type(f.value, '$.sha256') = 'text'",
                )
                .map_err(db_err)?;
            let refs: Vec<String> = stmt
                .query_map(params![collection, path], |r| r.get::<_, String>(0))
                .map_err(db_err)?
                .collect::<Result<_, _>>()
                .map_err(db_err)?;
            Ok(refs)
        })
        .await
    }

    async fn current(&self, collection: &str, id: Uuid) -> Result<Option<Record>, StoreError> {
        let collection = collection.to_string();
        self.read(move |c| current(c, &collection, &id.to_string()))
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
                out.insert(collection, stored_access(&access));
            }
            Ok(out)
        })
        .await
    }

    async fn create_session(
        &self,
        user_id: Uuid,
        device: &NewDevice,
        token: &TokenHash,
    ) -> Result<Uuid, StoreError> {
        let (device, token) = (device.clone(), token.to_vec());
        self.write(move |tx| {
            let device_id = Uuid::now_v7();
            let at = now();
            tx.execute(
                "INSERT INTO sessions (token_hash, user_id, device_id, device_name, created_at, platform, app_version, last_seen_at, last_ip)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?5, ?8)",
                params![token, user_id.to_string(), device_id.to_string(), device.name, at, device.platform, device.app_version, device.ip],
            )
            .map_err(db_err)?;
            Ok(device_id)
        })
        .await
    }

    async fn session(&self, token: &TokenHash) -> Result<Option<Session>, StoreError> {
        Ok(self
            .token_device(token)
            .await?
            .filter(|d| !d.revoked)
            .map(|d| d.session()))
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

    async fn token_device(&self, token: &TokenHash) -> Result<Option<DeviceRow>, StoreError> {
        let token = token.to_vec();
        self.read(move |c| {
            let sql = format!("{DEVICE_SELECT} WHERE s.token_hash = ?1");
            c.prepare_cached(&sql)
                .and_then(|mut s| s.query_row(params![token], device_row).optional())
                .map_err(db_err)?
                .transpose()
        })
        .await
    }

    async fn touch_session(&self, token: &TokenHash, ip: Option<String>) -> Result<(), StoreError> {
        let token = token.to_vec();
        self.write(move |tx| {
            tx.execute(
                "UPDATE sessions SET last_seen_at = ?2, last_ip = coalesce(?3, last_ip) WHERE token_hash = ?1",
                params![token, now(), ip],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn devices(&self, user: Option<Uuid>) -> Result<Vec<DeviceRow>, StoreError> {
        let user = user.map(|u| u.to_string());
        self.read(move |c| {
            let sql = format!(
                "{DEVICE_SELECT} WHERE ?1 IS NULL OR s.user_id = ?1
                 ORDER BY coalesce(s.last_seen_at, s.created_at) DESC"
            );
            let mut stmt = c.prepare_cached(&sql).map_err(db_err)?;
            let rows = stmt
                .query_map(params![user], device_row)
                .map_err(db_err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db_err)?;
            rows.into_iter().collect()
        })
        .await
    }

    async fn revoke_device(&self, id: Uuid, wipe: bool) -> Result<Option<DeviceRow>, StoreError> {
        self.write(move |tx| {
            let sql = format!("{DEVICE_SELECT} WHERE s.device_id = ?1");
            let before = tx
                .query_row(&sql, params![id.to_string()], device_row)
                .optional()
                .map_err(db_err)?
                .transpose()?;
            tx.execute(
                "UPDATE sessions SET revoked_at = coalesce(revoked_at, ?2), wipe = (wipe OR ?3) WHERE device_id = ?1",
                params![id.to_string(), now(), wipe],
            )
            .map_err(db_err)?;
            Ok(before)
        })
        .await
    }

    async fn admin_users(&self) -> Result<Vec<ferry_protocol::admin::AdminUser>, StoreError> {
        self.read(admin::admin_users).await
    }

    async fn update_user(
        &self,
        username: &str,
        role: Option<ferry_protocol::admin::Role>,
        disabled: Option<bool>,
    ) -> Result<usize, StoreError> {
        let username = username.to_string();
        self.write(move |tx| admin::update_user(tx, &username, role, disabled))
            .await
    }

    async fn add_audit(&self, entry: super::NewAudit) -> Result<(), StoreError> {
        self.write(move |tx| admin::add_audit(tx, &entry)).await
    }

    async fn audit(
        &self,
        filter: super::AuditFilter,
    ) -> Result<Vec<ferry_protocol::admin::AuditEntry>, StoreError> {
        self.read(move |c| admin::audit(c, &filter)).await
    }

    async fn all_grants(&self) -> Result<Vec<ferry_protocol::admin::Grant>, StoreError> {
        self.read(admin::all_grants).await
    }

    async fn count_records(
        &self,
        collection: &str,
        values: Option<Vec<String>>,
    ) -> Result<u64, StoreError> {
        let collection = collection.to_string();
        self.read(move |c| admin::count_records(c, &collection, values.as_deref()))
            .await
    }

    async fn recent_changes(
        &self,
        filter: super::ChangesFilter,
    ) -> Result<Vec<(ferry_protocol::admin::RecordChange, String)>, StoreError> {
        self.read(move |c| admin::recent_changes(c, &filter)).await
    }

    async fn field_usage(
        &self,
        collection: &str,
        field: &str,
        choice: bool,
    ) -> Result<ferry_protocol::admin::FieldUsage, StoreError> {
        let (collection, field) = (collection.to_string(), field.to_string());
        self.read(move |c| admin::field_usage(c, &collection, &field, choice))
            .await
    }

    async fn put_collections(&self, defs: &[CollectionDef]) -> Result<(), StoreError> {
        let defs = defs.to_vec();
        self.write(move |tx| {
            let before = load_collections(tx)?;
            for def in &defs {
                def.validate().map_err(StoreError::Invalid)?;
                let old = before.iter().find(|d| d.name == def.name);
                if old.and_then(|d| d.partition_by.as_ref()) != def.partition_by.as_ref() {
                    rules::repartition(tx, def)?;
                }
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
        self.write(move |tx| push::push(tx, &ctx, &mutations)).await
    }

    async fn changes(
        &self,
        since: Cursor,
        limit: usize,
        reader: Reader,
    ) -> Result<ChangesPage, StoreError> {
        self.read(move |c| {
            // One read transaction: the page and the high-water mark come from the same snapshot.
            c.execute_batch("BEGIN").map_err(db_err)?;
            let out = rules::changes_page(c, since, limit, &reader).and_then(|page| {
                // Read after the page, in its snapshot: a deletion the page
                // missed because it was compacted away raised the horizon.
                let horizon = compact::horizon(c)?;
                if super::compact::expired(since, reader.walk, horizon) {
                    return Err(StoreError::CursorExpired(horizon));
                }
                Ok(page)
            });
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
        let (age, limit) = prune_bounds(older_than, limit);
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

    async fn collection_sizes(&self) -> Result<Vec<CollectionSize>, StoreError> {
        self.read(|c| {
            let grouped = |sql: &str| -> Result<Vec<(String, i64)>, StoreError> {
                let mut stmt = c.prepare(sql).map_err(db_err)?;
                let rows = stmt
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(db_err)?;
                rows.collect::<Result<_, _>>().map_err(db_err)
            };
            Ok(collection_sizes_from(
                grouped("SELECT collection, count(*) FROM records GROUP BY collection")?,
                grouped("SELECT collection, count(*) FROM history GROUP BY collection")?,
            ))
        })
        .await
    }

    async fn high_water(&self) -> Result<i64, StoreError> {
        self.read(max_seq).await
    }

    async fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        let key = key.to_string();
        self.read(move |c| compact::meta(c, &key)).await
    }

    async fn set_meta(&self, entries: Vec<(String, String)>) -> Result<(), StoreError> {
        self.write(move |tx| {
            for (k, v) in &entries {
                compact::set_meta(tx, k, v)?;
            }
            Ok(())
        })
        .await
    }

    async fn compact_window(
        &self,
        plan: &[(String, super::compact::Bounds)],
        lo: i64,
        hi: i64,
    ) -> Result<super::compact::CompactReport, StoreError> {
        let plan = plan.to_vec();
        self.write(move |tx| {
            let mut report = super::compact::CompactReport::default();
            for (collection, bounds) in &plan {
                report.add(compact::window(tx, collection, bounds, lo, hi)?);
            }
            Ok(report)
        })
        .await
    }

    async fn latest_stamp(&self) -> Result<Option<Hlc>, StoreError> {
        self.read(|c| {
            let s: Option<String> = c
                .query_row("SELECT max(updated_at) FROM history", [], |r| r.get(0))
                .map_err(db_err)?;
            s.as_deref().map(stored_hlc).transpose()
        })
        .await
    }
}
