//! The local snapshot: one SQLite database (WAL) per profile holding records
//! with their local value and their base (the last server state seen), the
//! schema cache, the outbox, conflicts, the sync cursor and settings.
//!
//! Every SQL statement on the snapshot is in this folder, and every method
//! takes `&self`: one connection behind a mutex serialises writers, and every
//! multi-row change is one transaction. Below it are only `ferry_protocol`,
//! [`crate::error`] and [`crate::model`] (the plain types it stores); sync,
//! the profile and the shells above call the handle's methods.
//!
//! The handle's methods, one module per concern (a test keeps this true):
//!
//! | file | the handle's public methods |
//! |---|---|
//! | mod.rs (the handle) | `open`, `open_with_key`, `open_in_memory`, `path`, `encrypted`, `file_key`, `cipher_version`, `second_connection`, `simulate_full_disk` |
//! | settings.rs | `setting`, `set_setting`, `set_settings`, `cursor`, `last_sync`, `work_offline`, `set_work_offline` |
//! | counts.rs | `counts`, `pending_counts` |
//! | schema.rs | `replace_schema`, `collections`, `collection` |
//! | records.rs | `record` |
//! | query.rs | `count`, `count_unless_cancelled`, `collection_counts`, `each`, `query`, `query_json` |
//! | edits.rs | `create`, `update`, `delete`, `restore`, `update_many`, `tag_many`, `delete_many`, `restore_many`, `discard`, `reapply` |
//! | imports.rs | `key_matches`, `import_journal`, `import_batch` |
//! | outbox.rs | `outbox`, `take_batch`, `take_batch_within`, `take_batch_besides`, `export_outbox`, `import_outbox` |
//! | ack.rs | `store_results` |
//! | pull.rs | `apply_page`, `take_pull_timings` |
//! | resync.rs | `server_epoch`, `note_server_epoch`, `begin_resync`, `finish_resync`, `resyncing`, `acked_count` |
//! | conflicts.rs | `conflicts`, `conflict`, `resolve` |
//! | bulk.rs | `begin_bulk_load`, `end_bulk_load` |
//! | files.rs | `file_added`, `file_fetched`, `file`, `files_to_send`, `files_due`, `files_waiting`, `file_sent`, `file_uploaded`, `file_upload_failed`, `files_retry`, `files_resend`, `file_used`, `files_to_evict`, `file_evicted`, `files_missing` |
//!
//! Without methods of their own: hlc.rs (this device's clock, stamped in
//! the transaction of the edit it stamps), search.rs (full-text search),
//! salvage.rs (reading a damaged file, for [`crate::recovery`]),
//! migrations.rs and checkpoint.rs (the WAL's checkpoints).

mod ack;
mod bulk;
mod checkpoint;
mod conflicts;
mod counts;
mod edits;
pub mod files;
pub(crate) mod hlc;
pub mod imports;
pub mod lost;
mod migrations;
pub(crate) mod outbox;
mod pull;
pub mod query;
pub mod records;
pub mod resync;
pub(crate) mod salvage;
pub mod schema;
pub(crate) mod search;
mod settings;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OpenFlags, Transaction};

use crate::encryption::DbKey;
use crate::error::{Error, Result, classify};

pub use counts::{Counts, Pending};
pub use pull::PullTimings;
pub use query::{Page, Query, SortOrder};
pub use records::{LocalRecord, RecordState};
pub(crate) use settings::{get_setting, keys, set_setting};

pub struct LocalStore {
    conn: Mutex<Connection>,
    path: PathBuf,
    /// The SQLCipher key, for the connections opened besides this one.
    key: Option<DbKey>,
    _checkpointer: Option<checkpoint::Checkpointer>,
    search: search::SearchSettings,
    pull_timings: Mutex<PullTimings>,
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
        LocalStore::open_with_key(path, None)
    }

    /// [`LocalStore::open`] for a database encrypted under `key` (a new one
    /// is created encrypted).
    pub fn open_with_key(path: &Path, key: Option<DbKey>) -> Result<LocalStore> {
        let fresh = !path.exists();
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = connect(path, flags, key.as_ref()).map_err(|e| classify(path, e))?;
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
            _checkpointer: checkpoint::Checkpointer::start(path, key.as_ref()),
            key,
            search: search::SearchSettings::default(),
            pull_timings: Mutex::default(),
        };
        if found < migrations::SORT_KEY_SHAPE {
            // Built by an older Ferry: the sort keys get their current shape
            // (a bulk load cut short builds them at its end, below).
            store.write(|tx| {
                let build = !bulk::active(tx)?;
                schema::sync_sort_keys(tx, &schema::collections_in(tx)?, build)
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
            key: None,
            _checkpointer: None,
            search: search::SearchSettings::default(),
            pull_timings: Mutex::default(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Another connection to the database, unlocked: for tests that act as
    /// a second process holding it.
    #[doc(hidden)]
    pub fn second_connection(&self) -> Result<Connection> {
        connect(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            self.key.as_ref(),
        )
        .map_err(|e| classify(&self.path, e))
    }

    /// Whether the database is encrypted.
    pub fn encrypted(&self) -> bool {
        self.key.is_some()
    }

    /// The key that seals the profile's attached files; `None` when the
    /// database is not encrypted (they are kept as they are).
    pub fn file_key(&self) -> Option<crate::sealed::FileKey> {
        self.key.as_ref().map(DbKey::file_key)
    }

    /// SQLCipher's version, when the database is encrypted.
    pub fn cipher_version(&self) -> Result<Option<String>> {
        if self.key.is_none() {
            return Ok(None);
        }
        self.read(|c| Ok(c.query_row("PRAGMA cipher_version", [], |r| r.get(0)).ok()))
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

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `f` in one immediate transaction; commits if it returns `Ok`.
    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
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
}

pub(crate) fn now_rfc3339() -> String {
    rfc3339(chrono::Utc::now())
}

/// A moment as the store writes it: always milliseconds and `Z`, so two
/// compare as text.
pub(crate) fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Makes a file readable and writable by its owner only.
/// Opens a connection to `path`, unlocked with `key` when it is encrypted.
/// The key must be the connection's first statement.
pub(crate) fn connect(
    path: &Path,
    flags: OpenFlags,
    key: Option<&DbKey>,
) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(path, flags)?;
    if let Some(key) = key {
        key.apply(&conn)?;
    }
    Ok(conn)
}

/// Creates an empty file only its owner can read (an existing one is left).
pub(crate) fn restrict_new_file(path: &Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .map(|_| ())
        .map_err(|e| Error::io(format!("cannot create {}", path.display()), e))
}

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

/// Writes a file only its owner can read.
pub(crate) fn write_private(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite is built with a page cache per connection (`.cargo/config.toml`
    /// takes `SQLITE_ENABLE_MEMORY_MANAGEMENT` out): a pull's writer and
    /// reader do not take turns on one cache's mutex.
    #[test]
    fn each_connection_has_a_page_cache_of_its_own() {
        let store = LocalStore::open_in_memory().expect("open");
        let options = store
            .read(|c| {
                Ok(c.prepare("PRAGMA compile_options")?
                    .query_map([], |r| r.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .expect("options");
        assert!(options.iter().any(|o| o == "THREADSAFE=1"), "{options:?}");
        assert!(
            !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "{options:?}"
        );
    }

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
    fn opening_a_database_of_an_older_ferry_moves_its_sort_indexes_into_sort_keys() {
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
        let (legacy, keys) = store
            .read(|c| {
                Ok((
                    schema::names_in(c, "index", "sort_")?,
                    schema::names_in(c, "index", "sort:")?,
                ))
            })
            .expect("indexes");
        assert!(legacy.is_empty(), "{legacy:?}");
        assert_eq!(keys, vec!["sort:tasks:owner", "sort:tasks:title"]);
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

    /// The index at the top of this file names every public method of the
    /// handle, in the module that defines it, and nothing else.
    #[test]
    fn the_index_of_the_handles_methods_is_true() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store");
        let index = include_str!("mod.rs");
        let listed = |module: &str| -> Vec<String> {
            let prefix = if module == "mod" {
                "//! | mod.rs (the handle) |".to_string()
            } else {
                format!("//! | {module}.rs |")
            };
            let line = index
                .lines()
                .find(|l| l.starts_with(&prefix))
                .unwrap_or_default();
            let names = line.strip_prefix(&prefix).unwrap_or_default();
            let mut names: Vec<String> = names
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect();
            names.sort();
            names
        };
        let mut modules = 0;
        for entry in std::fs::read_dir(&dir).expect("store folder") {
            let path = entry.expect("entry").path();
            let Some(module) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            let source = std::fs::read_to_string(&path).expect("source");
            let mut methods = Vec::new();
            let mut in_impl = false;
            for line in source.lines() {
                if line == "impl LocalStore {" {
                    in_impl = true;
                } else if line == "}" {
                    in_impl = false;
                } else if let Some(rest) = line.strip_prefix("    pub fn ")
                    && in_impl
                {
                    let name = rest.split(['(', '<']).next().unwrap_or_default();
                    methods.push(name.to_string());
                }
            }
            methods.sort();
            if !methods.is_empty() {
                modules += 1;
            }
            assert_eq!(listed(module), methods, "the index's line for {module}.rs");
        }
        assert!(modules >= 10, "only {modules} modules with methods");
    }
}
