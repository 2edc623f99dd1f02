//! Bulk loading: the first pull into an empty snapshot can bring hundreds of
//! thousands of records. Keeping the search index and the sort indexes up
//! to date row by row costs several times the insert itself, so during an
//! initial pull they are dropped, and rebuilt in one pass at the end.
//!
//! The state is persisted: a process that dies mid-load finishes the
//! rebuild the next time the database is opened.

use std::path::Path;
use std::sync::mpsc::SyncSender;
use std::time::{Duration, Instant};

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::schema::{
    SortKeys, collections_in, missing_sort_keys, names_in, safe_name, sort_column, sort_table,
    sort_value, sync_sort_keys,
};
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

/// Keeps the search and sort indexes of many records written in one
/// transaction (a bulk edit, or a page of a pull into a snapshot holding
/// them). The triggers that keep them fire once per record: the search
/// index's makes each record's write a statement transaction, at every one
/// of which the search index writes its pending terms to disk, and each
/// sort key has a trigger of its own. So they are set aside, and the
/// records written are indexed at the end with plain statements, whose
/// terms are written once, at commit.
pub(crate) struct ManyEdits {
    /// None: the triggers keep the indexes (few records), or a bulk load is
    /// under way, whose end indexes everything.
    aside: Option<Aside>,
}

#[derive(Default)]
struct Aside {
    /// The statements that made the triggers set aside, to put them back.
    triggers: Vec<String>,
    /// Records whose local value changed: by id (an edit), by row id (a pull).
    by_id: Vec<(String, uuid::Uuid)>,
    edited: Vec<i64>,
    /// Records inserted, not in the search index yet (a pull sets aside the
    /// insert trigger too).
    inserted: Vec<i64>,
}

/// Where [`ManyEdits::finish`] spent its time.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct IndexTimes {
    pub search: Duration,
    pub sort: Duration,
}

impl ManyEdits {
    /// Below this many records the triggers are cheaper than a schema change.
    const FROM: usize = 50;

    /// For an edit of `records` records, which never inserts one.
    pub(crate) fn begin(tx: &Connection, records: usize) -> Result<ManyEdits> {
        Self::set_aside(tx, records, false)
    }

    /// For a pulled page of `records` records: each one it inserts must be
    /// given to [`Self::inserted_row`].
    pub(crate) fn begin_page(tx: &Connection, records: usize) -> Result<ManyEdits> {
        Self::set_aside(tx, records, true)
    }

    fn set_aside(tx: &Connection, records: usize, inserts: bool) -> Result<ManyEdits> {
        if records < Self::FROM || active(tx)? {
            return Ok(ManyEdits { aside: None });
        }
        // The search index's update trigger (and insert trigger), and the
        // sort keys' update triggers; the others write once per record
        // inserted or deleted, which a page seldom holds.
        let triggers: Vec<(String, String)> = tx
            .prepare(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'records'
                 AND (name = 'records_fts_update' OR (name = 'records_fts_insert' AND ?1)
                      OR (substr(name, 1, 5) = 'sort:' AND sql LIKE '% AFTER UPDATE %'))",
            )?
            .query_map([inserts], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        search_index_purges_late(tx)?;
        let mut aside = Aside::default();
        for (name, sql) in triggers {
            tx.execute_batch(&format!("DROP TRIGGER \"{}\"", name.replace('"', "\"\"")))?;
            aside.triggers.push(sql);
        }
        Ok(ManyEdits { aside: Some(aside) })
    }

    /// Whether the triggers are set aside: the records written are
    /// indexed by [`Self::finish`].
    pub(crate) fn sets_aside(&self) -> bool {
        self.aside.is_some()
    }

    pub(crate) fn edited(&mut self, collection: &str, id: uuid::Uuid) {
        if let Some(aside) = &mut self.aside {
            aside.by_id.push((collection.to_string(), id));
        }
    }

    /// A record whose local value changed, by its row id.
    pub(crate) fn edited_row(&mut self, rid: i64) {
        if let Some(aside) = &mut self.aside {
            aside.edited.push(rid);
        }
    }

    /// A record inserted.
    pub(crate) fn inserted_row(&mut self, rid: i64) {
        if let Some(aside) = &mut self.aside {
            aside.inserted.push(rid);
        }
    }

    /// Indexes the records written and puts the triggers back.
    ///
    /// The search index in row id order, a chunk at a time, all of a
    /// chunk's old entries out before its new ones in: the search index
    /// writes what it holds and merges its segments whenever a delete
    /// follows an insert or a row id goes backwards, which one record after
    /// another did at every record (a pulled page of 1,000 changes spent
    /// most of its time merging).
    pub(crate) fn finish(self, tx: &Connection) -> Result<IndexTimes> {
        const CHUNK: usize = 5000;
        let mut times = IndexTimes::default();
        let Some(aside) = self.aside else {
            return Ok(times);
        };
        let start = Instant::now();
        let mut rids = aside.edited;
        let mut rid =
            tx.prepare_cached("SELECT rid FROM records WHERE collection = ?1 AND id = ?2")?;
        for (collection, id) in aside.by_id {
            if let Some(r) = rid
                .query_row(rusqlite::params![collection, id.to_string()], |r| {
                    r.get::<_, i64>(0)
                })
                .optional()?
            {
                rids.push(r);
            }
        }
        let mut inserted = aside.inserted;
        inserted.sort_unstable();
        inserted.dedup();
        rids.sort_unstable();
        rids.dedup();
        // A record inserted and then changed in the same page has no old entry.
        rids.retain(|r| inserted.binary_search(r).is_err());
        let mut text =
            tx.prepare_cached("SELECT ferry_text(fields) FROM records WHERE rid = ?1")?;
        let mut delete = tx.prepare_cached("DELETE FROM records_fts WHERE rowid = ?1")?;
        let mut insert =
            tx.prepare_cached("INSERT INTO records_fts(rowid, body) VALUES (?1, ?2)")?;
        for chunk in rids.chunks(CHUNK) {
            let mut bodies = Vec::with_capacity(chunk.len());
            for rid in chunk {
                bodies.push(text.query_row([rid], |r| r.get::<_, String>(0))?);
                delete.execute([rid])?;
            }
            for (rid, body) in chunk.iter().zip(bodies) {
                insert.execute(rusqlite::params![rid, body])?;
            }
        }
        for rid in &inserted {
            let body = text.query_row([rid], |r| r.get::<_, String>(0))?;
            insert.execute(rusqlite::params![rid, body])?;
        }
        times.search = start.elapsed();
        let start = Instant::now();
        // A record inserted got its sort keys from its trigger, but may have
        // changed after.
        let mut written = rids;
        written.extend(inserted);
        written.sort_unstable();
        refresh_sort_keys(tx, &written)?;
        for sql in &aside.triggers {
            tx.execute_batch(sql)?;
        }
        times.sort = start.elapsed();
        Ok(times)
    }
}

/// Brings the sort keys of the records `rids` (ascending) in line with
/// them, every collection's: a row for each live record, with the values
/// in its fields, and none for another. Only the values that changed are
/// written, as each has an index of its own.
fn refresh_sort_keys(tx: &Connection, rids: &[i64]) -> Result<()> {
    if rids.is_empty() {
        return Ok(());
    }
    let set = std::rc::Rc::new(
        rids.iter()
            .map(|r| SqlValue::Integer(*r))
            .collect::<Vec<_>>(),
    );
    for table in names_in(tx, "table", "sort:")? {
        let collection = &table["sort:".len()..];
        if !safe_name(collection) {
            continue;
        }
        let columns: Vec<String> = tx
            .prepare_cached(
                "SELECT name FROM pragma_table_info(?1) WHERE name <> 'rid' ORDER BY cid",
            )?
            .query_map([&table], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let fields: Vec<&str> = columns
            .iter()
            .filter_map(|c| c.strip_prefix("f:"))
            .filter(|f| safe_name(f))
            .collect();
        if fields.is_empty() || fields.len() != columns.len() {
            continue;
        }
        let keys = SortKeys { collection, fields };
        let width = keys.fields.len();
        let sort = sort_table(collection);
        // The collection is checked per row: in the WHERE clause it would
        // lead SQLite through the collection's index instead of the row ids.
        let mut read = format!(
            "SELECT r.rid, r.collection = '{collection}' AND r.deleted = 0, s.rid IS NOT NULL"
        );
        for f in &keys.fields {
            read.push_str(&format!(", {}", sort_value("r", f)));
        }
        for f in &keys.fields {
            read.push_str(&format!(", s.{}", sort_column(f)));
        }
        read.push_str(&format!(
            " FROM records r LEFT JOIN {sort} s ON s.rid = r.rid WHERE r.rid IN rarray(?1)"
        ));
        let mut rows = Vec::new();
        {
            let mut stmt = tx.prepare_cached(&read)?;
            let mut found = stmt.query([&set])?;
            while let Some(row) = found.next()? {
                let values = (0..2 * width)
                    .map(|j| row.get::<_, SqlValue>(3 + j))
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                rows.push((
                    row.get::<_, i64>(0)?,
                    row.get::<_, bool>(1)?,
                    row.get::<_, bool>(2)?,
                    values,
                ));
            }
        }
        for (rid, live, stored, values) in rows {
            let (new, old) = values.split_at(width);
            match (live, stored) {
                (false, true) => {
                    tx.prepare_cached(&format!("DELETE FROM {sort} WHERE rid = ?1"))?
                        .execute([rid])?;
                }
                (true, false) => {
                    let values = std::iter::once(SqlValue::Integer(rid)).chain(new.iter().cloned());
                    tx.prepare_cached(&keys.insert())?
                        .execute(rusqlite::params_from_iter(values))?;
                }
                (true, true) => {
                    for (j, f) in keys.fields.iter().enumerate() {
                        if new[j] != old[j] {
                            tx.prepare_cached(&format!(
                                "UPDATE {sort} SET {} = ?2 WHERE rid = ?1",
                                sort_column(f)
                            ))?
                            .execute(rusqlite::params![rid, new[j]])?;
                        }
                    }
                }
                (false, false) => {}
            }
        }
    }
    Ok(())
}

/// Share of a level of the search index (in percent) taken out before the
/// level is rewritten without them. The index marks a record's old entries
/// as removed when its text changes, and by SQLite's default rewrites a
/// level once a tenth of it is removed: for 100,000 records about half a
/// second, after every 10,000 records changed, most of a daily pull's time.
/// At 30% it rewrites a third as often; a search reads at most that many
/// removed entries more.
const SEARCH_PURGE_PERCENT: i64 = 30;

/// Sets [`SEARCH_PURGE_PERCENT`] (kept in the index's own settings) where
/// it is not yet.
fn search_index_purges_late(tx: &Connection) -> Result<()> {
    let set: Option<i64> = tx
        .query_row(
            "SELECT v FROM records_fts_config WHERE k = 'deletemerge'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if set != Some(SEARCH_PURGE_PERCENT) {
        tx.execute(
            "INSERT INTO records_fts(records_fts, rank) VALUES ('deletemerge', ?1)",
            [SEARCH_PURGE_PERCENT],
        )?;
    }
    Ok(())
}

pub(crate) fn active(c: &Connection) -> Result<bool> {
    Ok(get_setting(c, BULK_LOAD)?.is_some())
}

/// A record as the end of a bulk load indexes it: its row id, its text to
/// search and, live in a collection with sort keys, which one (by position)
/// and their values.
type IndexRow = (i64, String, Option<(usize, Vec<SqlValue>)>);

/// The statement reading every record's [`IndexRow`]: the row id, the text,
/// the position of its sort keys and then as many values as the widest.
fn index_rows_sql(keys: &[&SortKeys<'_>]) -> String {
    let mut which = String::from("NULL");
    if !keys.is_empty() {
        which = String::from("CASE WHEN deleted = 0 THEN CASE collection");
        for (i, k) in keys.iter().enumerate() {
            which.push_str(&format!(" WHEN '{}' THEN {i}", k.collection));
        }
        which.push_str(" END END");
    }
    let widest = keys.iter().map(|k| k.fields.len()).max().unwrap_or(0);
    let mut sql = format!("SELECT rid, ferry_text(fields), {which}");
    for j in 0..widest {
        sql.push_str(", CASE collection");
        for k in keys {
            if let Some(f) = k.fields.get(j) {
                sql.push_str(&format!(
                    " WHEN '{}' THEN {}",
                    k.collection,
                    sort_value("records", f)
                ));
            }
        }
        sql.push_str(" END");
    }
    sql.push_str(" FROM records");
    sql
}

/// Every record's [`IndexRow`], read on a connection of its own and sent
/// on in batches; `widths` is how many sort keys each collection has.
fn index_rows(
    path: &Path,
    key: Option<&DbKey>,
    sql: &str,
    widths: &[usize],
    send: &SyncSender<Vec<IndexRow>>,
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
    let mut stmt = c.prepare(sql)?;
    let mut rows = stmt.query([])?;
    let mut batch = Vec::with_capacity(BATCH);
    while let Some(row) = rows.next()? {
        let keys = match row.get::<_, Option<usize>>(2)? {
            Some(i) => {
                let width = widths.get(i).copied().unwrap_or(0);
                Some((
                    i,
                    (0..width)
                        .map(|j| row.get(3 + j))
                        .collect::<rusqlite::Result<_>>()?,
                ))
            }
            None => None,
        };
        batch.push((row.get(0)?, row.get(1)?, keys));
        if batch.len() == BATCH && send.send(std::mem::take(&mut batch)).is_err() {
            return Ok(());
        }
    }
    let _ = send.send(batch);
    Ok(())
}

impl LocalStore {
    /// Stops maintaining the search and sort indexes until [`Self::end_bulk_load`].
    pub fn begin_bulk_load(&self) -> Result<()> {
        self.pause_checkpoints(true)?;
        self.write(|tx| {
            tx.pragma_update(None, "cache_size", BULK_CACHE_KIB)?;
            set_setting(tx, BULK_LOAD, Some("1"))?;
            tx.execute_batch("DROP TRIGGER IF EXISTS records_fts_insert; DROP TRIGGER IF EXISTS records_fts_update;")?;
            sync_sort_keys(tx, &[], false)
        })
    }

    /// Rebuilds the search and sort indexes in one pass and maintains them again.
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
            search_index_purges_late(tx)?;
            let collections = collections_in(tx)?;
            let wanted = SortKeys::wanted(&collections);
            let keys = missing_sort_keys(tx, &wanted)?;
            for k in &keys {
                k.create(tx)?;
            }
            // A second connection reads each record once, for its text to
            // search and its sort keys, while this one stores them. This
            // transaction holds the write lock, so no write can come
            // between: both see the same records.
            let sql = index_rows_sql(&keys);
            let widths: Vec<usize> = keys.iter().map(|k| k.fields.len()).collect();
            let mut sort_rows = Duration::ZERO;
            let streamed = std::thread::scope(|scope| -> Result<bool> {
                let (send, rows) = std::sync::mpsc::sync_channel(4);
                let (sql, widths) = (&sql, &widths);
                let reader = scope.spawn(move || {
                    index_rows(&self.path, self.key.as_ref(), sql, widths, &send)
                });
                let mut text = tx.prepare("INSERT INTO records_fts(rowid, body) VALUES (?1, ?2)")?;
                let mut sort = keys
                    .iter()
                    .map(|k| tx.prepare(&k.insert()))
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                for batch in rows {
                    for (rid, body, keys) in batch {
                        text.execute(rusqlite::params![rid, body])?;
                        if let Some((i, values)) = keys
                            && let Some(insert) = sort.get_mut(i)
                        {
                            let inserting = Instant::now();
                            let values = std::iter::once(SqlValue::Integer(rid)).chain(values);
                            insert.execute(rusqlite::params_from_iter(values))?;
                            sort_rows += inserting.elapsed();
                        }
                    }
                }
                Ok(match reader.join() {
                    Ok(Ok(())) => true,
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, "records indexed on this connection instead");
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
                for k in &keys {
                    tx.execute_batch(&format!("DELETE FROM {}", sort_table(k.collection)))?;
                    k.fill(tx)?;
                }
            }
            let searchable = start.elapsed();
            for k in &keys {
                k.index(tx)?;
            }
            let sortable = start.elapsed() - searchable;
            tracing::debug!(
                ?searchable,
                ?sortable,
                ?sort_rows,
                "bulk load: search and sort indexes built"
            );
            self.lock_pull_timings()
                .add_index_times(searchable.saturating_sub(sort_rows), sortable + sort_rows);
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

    /// The end of a bulk load reads each record once, on a second
    /// connection, for its text and its sort keys; in-memory, on this one.
    /// Either way every collection's sort keys are those of its live
    /// records, whatever their fields.
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
