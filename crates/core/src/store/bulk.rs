//! Bulk loading: the first pull into an empty snapshot can bring hundreds of
//! thousands of records. Keeping the search index and the sort indexes up
//! to date row by row costs several times the insert itself, so during an
//! initial pull they are dropped, and rebuilt in one pass at the end.
//!
//! The state is persisted: a process that dies mid-load finishes the
//! rebuild the next time the database is opened.

use std::path::Path;
use std::sync::mpsc::SyncSender;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Statement};

use super::schema::{SortKeys, collections_in, missing_sort_keys, sync_sort_keys};
use super::{LocalStore, get_setting, set_setting};
use crate::encryption::DbKey;
use crate::error::Result;

const BULK_LOAD: &str = "bulk_load";

/// Page cache (negative: KiB) in normal use: enough for the sort and search
/// indexes' working set, small enough that a long-running app does not grow
/// with the data.
pub(crate) const STEADY_CACHE_KIB: i64 = -16_384;
/// During a bulk load the index rebuild sorts everything: a larger cache,
/// given back at the end.
const BULK_CACHE_KIB: i64 = -65_536;

/// The search index's triggers, as migration 5 made them.
const FTS_TRIGGERS: &str = "
    CREATE TRIGGER IF NOT EXISTS records_fts_insert AFTER INSERT ON records BEGIN
        INSERT INTO records_fts(rowid, body) VALUES (new.rid, ferry_text(json(new.fields)));
    END;
    CREATE TRIGGER IF NOT EXISTS records_fts_update AFTER UPDATE OF fields ON records WHEN old.fields IS NOT new.fields BEGIN
        DELETE FROM records_fts WHERE rowid = old.rid;
        INSERT INTO records_fts(rowid, body) VALUES (new.rid, ferry_text(json(new.fields)));
    END;";

/// Keeps the search index of many records edited in one transaction. The
/// update trigger makes each record's write a statement transaction, and
/// the search index writes its pending terms to disk at every one: for
/// 10,000 records most of the time. So the trigger is set aside, and the
/// records edited are indexed at the end with plain statements, whose
/// terms are written once, at commit.
pub(crate) struct ManyEdits {
    /// None: the trigger keeps the index (few records), or a bulk load is
    /// under way, whose end indexes everything.
    edited: Option<Vec<uuid::Uuid>>,
}

impl ManyEdits {
    /// Below this many records the trigger is cheaper than a schema change.
    const FROM: usize = 50;

    pub(crate) fn begin(tx: &Connection, records: usize) -> Result<ManyEdits> {
        if records < Self::FROM || active(tx)? {
            return Ok(ManyEdits { edited: None });
        }
        tx.execute_batch("DROP TRIGGER IF EXISTS records_fts_update")?;
        Ok(ManyEdits {
            edited: Some(Vec::new()),
        })
    }

    pub(crate) fn edited(&mut self, id: uuid::Uuid) {
        if let Some(edited) = &mut self.edited {
            edited.push(id);
        }
    }

    /// Indexes the records of `collection` edited and puts the trigger back.
    pub(crate) fn finish(self, tx: &Connection, collection: &str) -> Result<()> {
        let Some(edited) = self.edited else {
            return Ok(());
        };
        let mut text = tx.prepare_cached(
            "SELECT rid, ferry_text(json(fields)) FROM records WHERE collection = ?1 AND id = ?2",
        )?;
        let mut delete = tx.prepare_cached("DELETE FROM records_fts WHERE rowid = ?1")?;
        let mut insert =
            tx.prepare_cached("INSERT INTO records_fts(rowid, body) VALUES (?1, ?2)")?;
        for id in edited {
            let row: Option<(i64, String)> = text
                .query_row(rusqlite::params![collection, id.to_string()], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            if let Some((rid, body)) = row {
                delete.execute([rid])?;
                insert.execute(rusqlite::params![rid, body])?;
            }
        }
        tx.execute_batch(FTS_TRIGGERS)?;
        Ok(())
    }
}

pub(crate) fn active(c: &Connection) -> Result<bool> {
    Ok(get_setting(c, BULK_LOAD)?.is_some())
}

/// Every record's text to search, read on a connection of its own and
/// sent on in batches.
fn search_texts(
    path: &Path,
    key: Option<&DbKey>,
    send: &SyncSender<Vec<(i64, String)>>,
) -> Result<()> {
    const BATCH: usize = 1000;
    if path == Path::new(":memory:") {
        return Err(crate::error::Error::Inconsistent(
            "an in-memory store has no second connection".into(),
        ));
    }
    let c = super::connect(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        key,
    )?;
    super::search::register_functions(&c)?;
    let mut stmt = c.prepare("SELECT rid, ferry_text(fields) FROM records")?;
    let mut rows = stmt.query([])?;
    let mut batch = Vec::with_capacity(BATCH);
    while let Some(row) = rows.next()? {
        batch.push((row.get(0)?, row.get(1)?));
        if batch.len() == BATCH && send.send(std::mem::take(&mut batch)).is_err() {
            return Ok(());
        }
    }
    let _ = send.send(batch);
    Ok(())
}

/// The statements storing the sort keys of the collections whose tables
/// the end of a bulk load builds: one reading their records, one insert
/// per table, and how many values each takes.
struct SortFill<'c> {
    select: Option<Statement<'c>>,
    inserts: Vec<Statement<'c>>,
    widths: Vec<usize>,
}

impl<'c> SortFill<'c> {
    fn new(tx: &'c Connection, keys: &[&SortKeys<'_>]) -> Result<SortFill<'c>> {
        Ok(SortFill {
            select: if keys.is_empty() {
                None
            } else {
                Some(tx.prepare(&SortKeys::rows(keys))?)
            },
            inserts: keys
                .iter()
                .map(|k| tx.prepare(&k.insert()))
                .collect::<rusqlite::Result<_>>()?,
            widths: keys.iter().map(|k| k.fields.len()).collect(),
        })
    }
}

impl LocalStore {
    /// Stops maintaining the search index and the sort keys until [`Self::end_bulk_load`].
    pub fn begin_bulk_load(&self) -> Result<()> {
        self.pause_checkpoints(true)?;
        self.write(|tx| {
            tx.pragma_update(None, "cache_size", BULK_CACHE_KIB)?;
            set_setting(tx, BULK_LOAD, Some("1"))?;
            tx.execute_batch("DROP TRIGGER IF EXISTS records_fts_insert; DROP TRIGGER IF EXISTS records_fts_update;")?;
            sync_sort_keys(tx, &[], false)
        })
    }

    /// Rebuilds the search index and the sort keys and maintains them again.
    pub fn end_bulk_load(&self) -> Result<()> {
        if !self.read(active)? {
            return Ok(());
        }
        self.write(|tx| {
            if !active(tx)? {
                return Ok(());
            }
            let start = std::time::Instant::now();
            tx.execute_batch(FTS_TRIGGERS)?;
            tx.execute_batch("INSERT INTO records_fts(records_fts) VALUES ('delete-all')")?;
            let collections = collections_in(tx)?;
            let wanted = SortKeys::wanted(&collections);
            let keys = missing_sort_keys(tx, &wanted)?;
            for k in &keys {
                k.create(tx)?;
            }
            let mut sort_keys = SortFill::new(tx, &keys)?;
            let mut rows = sort_keys.select.as_mut().map(|s| s.query([])).transpose()?;
            // Stores up to `n` more records' sort keys; false once all are.
            let mut fill = |n: usize| -> Result<bool> {
                let Some(rows) = rows.as_mut() else {
                    return Ok(false);
                };
                for _ in 0..n {
                    let Some(row) = rows.next()? else {
                        return Ok(false);
                    };
                    let (rid, i): (i64, usize) = (row.get(0)?, row.get(1)?);
                    if let (Some(insert), Some(width)) =
                        (sort_keys.inserts.get_mut(i), sort_keys.widths.get(i))
                    {
                        let values = (0..*width)
                            .map(|j| row.get::<_, SqlValue>(2 + j))
                            .collect::<rusqlite::Result<Vec<_>>>()?;
                        let values = std::iter::once(SqlValue::Integer(rid)).chain(values);
                        insert.execute(rusqlite::params_from_iter(values))?;
                    }
                }
                Ok(true)
            };
            // A second connection reads the text to search while this one
            // indexes it and, in the time it would wait for the text, stores
            // the sort keys. This transaction holds the write lock, so no
            // write can come between: both see the same records.
            let streamed = std::thread::scope(|scope| -> Result<bool> {
                let (send, texts) = std::sync::mpsc::sync_channel(4);
                let reader = scope.spawn(move || search_texts(&self.path, self.key.as_ref(), &send));
                let mut insert = tx.prepare("INSERT INTO records_fts(rowid, body) VALUES (?1, ?2)")?;
                for batch in texts {
                    let n = batch.len();
                    for (rid, body) in batch {
                        insert.execute(rusqlite::params![rid, body])?;
                    }
                    fill(n)?;
                }
                Ok(match reader.join() {
                    Ok(Ok(())) => true,
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, "search text read on this connection instead");
                        false
                    }
                    Err(_) => false,
                })
            })?;
            if !streamed {
                tx.execute_batch(
                    "INSERT INTO records_fts(records_fts) VALUES ('delete-all');
                     INSERT INTO records_fts(rowid, body) SELECT rid, ferry_text(fields) FROM records;",
                )?;
            }
            while fill(1000)? {}
            drop(rows);
            let searchable = start.elapsed();
            for k in &keys {
                k.index(tx)?;
            }
            tracing::debug!(
                ?searchable,
                sortable = ?start.elapsed() - searchable,
                "bulk load: search index and sort keys built"
            );
            set_setting(tx, BULK_LOAD, None)
        })?;
        self.pause_checkpoints(false)?;
        self.read(|c| {
            c.pragma_update(None, "cache_size", STEADY_CACHE_KIB)?;
            c.execute_batch("PRAGMA shrink_memory")?;
            Ok(())
        })
    }

    /// Stops copying the log back into the database while a bulk load
    /// writes it (copying it as it grows competes with the load for the
    /// disk and the processor); afterwards the background checkpoints copy
    /// it in one go, and only then does the writer's automatic checkpoint
    /// come back (see [`LocalStore::write`]).
    fn pause_checkpoints(&self, pause: bool) -> Result<()> {
        if let Some(c) = &self._checkpointer {
            c.pause(pause);
        }
        let pages = if pause || self._checkpointer.is_some() {
            0
        } else {
            super::checkpoint::BACKSTOP_PAGES
        };
        self.lock()
            .pragma_update(None, "wal_autocheckpoint", pages)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Query;

    #[test]
    fn search_and_sorting_work_after_a_bulk_load_even_one_cut_short() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ferry.db");
        {
            let store = LocalStore::open(&path).expect("open");
            store
                .replace_schema(&[crate::store::schema::tests::tasks(&[])])
                .expect("schema");
            store.begin_bulk_load().expect("begin");
            store
                .write(|tx| {
                    tx.execute(
                        "INSERT INTO records (collection, id, fields) VALUES ('tasks', ?1, '{\"title\":\"Call the plumber\"}')",
                        [uuid::Uuid::now_v7().to_string()],
                    )?;
                    Ok(())
                })
                .expect("insert");
            // The process dies here.
        }
        let store = LocalStore::open(&path).expect("reopen");
        let mut q = Query::new("tasks");
        q.search = Some("plumb".into());
        assert_eq!(store.query(&q).expect("search").records.len(), 1);
        assert_eq!(
            store
                .read(|c| super::super::schema::names_in(c, "table", "sort:"))
                .expect("sort keys"),
            vec!["sort:tasks"]
        );
        assert!(!store.read(active).expect("bulk state"));
    }

    /// The end of a bulk load builds the sort keys: on disk and in memory,
    /// every collection's are those of its live records, whatever their
    /// fields.
    #[test]
    fn a_bulk_load_stores_the_sort_keys_of_every_collection() {
        use crate::store::schema::tests::{assert_sort_keys_true, tasks};
        let dir = tempfile::tempdir().expect("tempdir");
        let on_disk = LocalStore::open(&dir.path().join("ferry.db")).expect("open");
        for store in [on_disk, LocalStore::open_in_memory().expect("open")] {
            let mut notes = tasks(&["kind"]);
            notes.name = "notes".into();
            store
                .replace_schema(&[tasks(&["owner", "due"]), notes])
                .expect("schema");
            store.begin_bulk_load().expect("begin");
            store
                .write(|tx| {
                    let mut insert = tx.prepare(
                        "INSERT INTO records (collection, id, fields, deleted) VALUES (?1, ?2, jsonb(?3), ?4)",
                    )?;
                    for i in 0..3000 {
                        let collection = ["tasks", "notes", "gone"][i % 3];
                        let fields = serde_json::json!({
                            "title": format!("record {i}"),
                            "owner": (i % 5 != 0).then(|| format!("o{}", i % 7)),
                            "due": i % 11,
                            "kind": (i % 2 == 0).then_some("memo"),
                        });
                        insert.execute(rusqlite::params![
                            collection,
                            uuid::Uuid::now_v7().to_string(),
                            fields.to_string(),
                            i % 13 == 0
                        ])?;
                    }
                    Ok(())
                })
                .expect("insert");
            store.end_bulk_load().expect("end");
            assert_sort_keys_true(&store, "tasks", &["title", "owner", "due"], "tasks");
            assert_sort_keys_true(&store, "notes", &["title", "kind"], "notes");
            let stored: i64 = store
                .read(|c| Ok(c.query_row("SELECT count(*) FROM \"sort:tasks\"", [], |r| r.get(0))?))
                .expect("count");
            assert!(stored > 900, "{stored}");
        }
    }
}
