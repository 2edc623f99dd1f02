//! The local snapshot: one SQLite database (WAL) per profile holding records
//! with their local value and their base (the last server state seen), the
//! schema cache, the outbox, conflicts, the sync cursor and settings.
//!
//! Every method takes `&self`; one connection behind a mutex serialises
//! writers, and every multi-row change is one transaction.

mod bulk;
mod checkpoint;
mod migrations;
pub mod query;
pub mod records;
pub mod schema;
pub(crate) mod search;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params};

use crate::error::{Error, Result, classify};

pub use query::{Page, Query, SortOrder};
pub use records::{LocalRecord, RecordState};

/// Settings keys.
pub(crate) mod keys {
    pub const CURSOR: &str = "cursor";
    pub const LAST_SYNC: &str = "last_sync";
    pub const HLC: &str = "hlc";
    pub const NODE: &str = "node";
    pub const SERVER: &str = "server";
    pub const USERNAME: &str = "username";
    pub const DEVICE_ID: &str = "device_id";
    pub const WORK_OFFLINE: &str = "work_offline";
    /// Where the login token is kept: `keyring` or `file`.
    pub const TOKEN_STORE: &str = "token_store";
    /// The token's entry name in the OS keyring.
    pub const TOKEN_ENTRY: &str = "token_entry";
}

pub struct LocalStore {
    conn: Mutex<Connection>,
    path: PathBuf,
    _checkpointer: Option<checkpoint::Checkpointer>,
    search: search::SearchSettings,
}

impl std::fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl LocalStore {
    /// Opens (creating if needed) the database at `path`, migrating it to the
    /// latest version. A damaged, locked or too-new file gives an error that
    /// names it.
    pub fn open(path: &Path) -> Result<LocalStore> {
        let fresh = !path.exists();
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags).map_err(|e| classify(path, e))?;
        if fresh {
            restrict_to_owner(path)?;
        }
        let setup = |conn: &mut Connection| -> rusqlite::Result<i64> {
            conn.busy_timeout(std::time::Duration::from_secs(5))?;
            search::register_functions(conn)?;
            // Reading the schema is the first thing that notices a file that is not a database.
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            conn.pragma_update(None, "cache_size", bulk::STEADY_CACHE_KIB)?;
            conn.pragma_update(None, "temp_store", "MEMORY")?;
            conn.pragma_update(None, "wal_autocheckpoint", checkpoint::BACKSTOP_PAGES)?;
            conn.pragma_update(None, "foreign_keys", "ON")?;
            migrations::version(conn)
        };
        let found = setup(&mut conn).map_err(|e| classify(path, e))?;
        if found > migrations::latest() {
            return Err(Error::TooNew {
                path: path.to_path_buf(),
                found,
                known: migrations::latest(),
            });
        }
        migrations::migrate_to(&mut conn, migrations::latest()).map_err(|e| classify(path, e))?;
        let store = LocalStore {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
            _checkpointer: checkpoint::Checkpointer::start(path),
            search: search::SearchSettings::default(),
        };
        if found < migrations::SORT_INDEX_SHAPE {
            // Built by an older Ferry: the sort indexes get their current shape.
            store.write(|tx| {
                if bulk::active(tx)? {
                    return Ok(());
                }
                for index in schema::sort_indexes(tx)? {
                    tx.execute_batch(&format!("DROP INDEX IF EXISTS {index}"))?;
                }
                schema::sync_sort_indexes(tx, &schema::collections_in(tx)?, true)
            })?;
        }
        // A bulk load cut short by a crash is finished now.
        store.end_bulk_load()?;
        Ok(store)
    }

    /// An in-memory store, for tests.
    pub fn open_in_memory() -> Result<LocalStore> {
        let mut conn = Connection::open_in_memory()?;
        search::register_functions(&conn)?;
        migrations::migrate_to(&mut conn, migrations::latest())?;
        Ok(LocalStore {
            conn: Mutex::new(conn),
            path: PathBuf::from(":memory:"),
            _checkpointer: None,
            search: search::SearchSettings::default(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Test hook: with `full`, the database file may not grow any more, so a
    /// write that needs room fails as it would on a full disk.
    #[doc(hidden)]
    pub fn simulate_full_disk(&self, full: bool) -> Result<()> {
        let conn = self.lock();
        let pages: i64 = if full {
            conn.query_row("PRAGMA page_count", [], |r| r.get(0))?
        } else {
            i64::from(u32::MAX - 1)
        };
        conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))?;
        Ok(())
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `f` in one immediate transaction; commits if it returns `Ok`.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.lock();
        if self
            ._checkpointer
            .as_ref()
            .is_some_and(|c| c.backstop_due())
        {
            conn.pragma_update(None, "wal_autocheckpoint", checkpoint::BACKSTOP_PAGES)
                .map_err(|e| classify(&self.path, e))?;
        }
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| classify(&self.path, e))?;
        let out = f(&tx).map_err(|e| self.reclassify(e))?;
        tx.commit().map_err(|e| classify(&self.path, e))?;
        Ok(out)
    }

    /// Runs `f` on the connection (reads).
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.lock();
        f(&conn).map_err(|e| self.reclassify(e))
    }

    fn reclassify(&self, e: Error) -> Error {
        match e {
            Error::Database(e) => classify(&self.path, e),
            other => other,
        }
    }

    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        self.read(|c| get_setting(c, key))
    }

    pub fn set_setting(&self, key: &str, value: Option<&str>) -> Result<()> {
        self.write(|tx| set_setting(tx, key, value))
    }

    /// The pull cursor: `None` before the first pull.
    pub fn cursor(&self) -> Result<Option<String>> {
        self.setting(keys::CURSOR)
    }

    /// When the last full sync cycle ended (RFC 3339).
    pub fn last_sync(&self) -> Result<Option<String>> {
        self.setting(keys::LAST_SYNC)
    }

    pub fn work_offline(&self) -> Result<bool> {
        Ok(self.setting(keys::WORK_OFFLINE)?.as_deref() == Some("1"))
    }

    pub fn set_work_offline(&self, offline: bool) -> Result<()> {
        self.set_setting(keys::WORK_OFFLINE, offline.then_some("1"))
    }

    /// Counts for a status line.
    pub fn counts(&self) -> Result<Counts> {
        self.read(|c| {
            let n = |sql: &str| c.query_row(sql, [], |r| r.get::<_, i64>(0));
            Ok(Counts {
                outbox: n("SELECT count(*) FROM outbox")?,
                conflicts: n("SELECT count(*) FROM conflicts")?,
                rejected: n("SELECT count(*) FROM records WHERE error IS NOT NULL")?,
                records: n("SELECT count(*) FROM records WHERE deleted = 0")?,
            })
        })
    }

    /// Counts of what waits for the server or the user (cheap: no record scan).
    pub fn pending_counts(&self) -> Result<Pending> {
        self.read(|c| {
            let n = |sql: &str| c.query_row(sql, [], |r| r.get::<_, i64>(0));
            Ok(Pending {
                outbox: n("SELECT count(*) FROM outbox")?,
                conflicts: n("SELECT count(*) FROM conflicts")?,
                rejected: n("SELECT count(*) FROM records WHERE error IS NOT NULL")?,
            })
        })
    }
}

/// What waits for the server or the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Pending {
    pub outbox: i64,
    pub conflicts: i64,
    pub rejected: i64,
}

/// How much is waiting, for status displays.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Counts {
    pub outbox: i64,
    pub conflicts: i64,
    pub rejected: i64,
    pub records: i64,
}

pub(crate) fn get_setting(c: &Connection, key: &str) -> Result<Option<String>> {
    Ok(
        c.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()?,
    )
}

pub(crate) fn set_setting(c: &Connection, key: &str, value: Option<&str>) -> Result<()> {
    match value {
        Some(v) => c.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2",
            params![key, v],
        )?,
        None => c.execute("DELETE FROM settings WHERE key = ?1", [key])?,
    };
    Ok(())
}

pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Makes a file readable and writable by its owner only.
pub(crate) fn restrict_to_owner(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| Error::io(format!("cannot make {} private", path.display()), e))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_not_a_database_is_named_in_the_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ferry.db");
        std::fs::write(
            &path,
            b"this is not a database, just some text that is long enough to look like a header",
        )
        .expect("write");
        let err = LocalStore::open(&path).expect_err("refused");
        assert!(matches!(err, Error::Corrupt { .. }), "{err:?}");
        assert!(err.to_string().contains(&path.display().to_string()));
    }

    #[test]
    fn a_new_database_is_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ferry.db");
        let _store = LocalStore::open(&path).expect("open");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o077, 0, "mode {mode:o}");
        }
    }

    #[test]
    fn opening_a_database_of_an_older_ferry_reshapes_its_sort_indexes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ferry.db");
        {
            let mut conn = Connection::open(&path).expect("open");
            search::register_functions(&conn).expect("functions");
            migrations::migrate_to(&mut conn, 3).expect("version 3");
            let def = serde_json::to_string(&schema::tests::tasks(&["owner"])).expect("def");
            conn.execute(
                "INSERT INTO collections (name, position, def) VALUES ('tasks', 0, ?1)",
                [def],
            )
            .expect("schema");
            conn.execute_batch(
                "CREATE INDEX sort_tasks__owner ON records(deleted, json_extract(fields, '$.owner'), id)
                    WHERE collection = 'tasks';
                 INSERT INTO records (collection, id, fields)
                    VALUES ('tasks', '0190a000-0000-7000-8000-000000000001', '{\"title\":\"Fix the tap\",\"owner\":\"ann\"}');",
            )
            .expect("old index");
        }
        let store = LocalStore::open(&path).expect("open");
        let sql: String = store
            .read(|c| {
                Ok(c.query_row(
                    "SELECT sql FROM sqlite_master WHERE name = 'sort_tasks__owner'",
                    [],
                    |r| r.get(0),
                )?)
            })
            .expect("index");
        assert!(sql.contains("deleted = 0"), "{sql}");
        let mut q = Query::new("tasks");
        q.sort = Some("owner".into());
        q.search = Some("tap".into());
        let page = store.query(&q).expect("query");
        assert_eq!(page.records.len(), 1);
        assert_eq!(
            page.records[0].fields.get("owner"),
            Some(&serde_json::json!("ann"))
        );
    }

    #[test]
    fn settings_round_trip() {
        let store = LocalStore::open_in_memory().expect("open");
        assert_eq!(store.setting("x").expect("get"), None);
        store.set_setting("x", Some("1")).expect("set");
        assert_eq!(store.setting("x").expect("get").as_deref(), Some("1"));
        store.set_setting("x", None).expect("clear");
        assert_eq!(store.setting("x").expect("get"), None);
    }
}
