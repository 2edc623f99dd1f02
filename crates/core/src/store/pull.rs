//! Applying pulled pages: records without local changes take the server's
//! state, those with them only rebase, and the cursor moves in the same
//! transaction as its page.

use ferry_protocol::fields::apply_changes;
use ferry_protocol::{Hlc, Record};
use std::collections::HashMap;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, params};

use super::outbox::entries_for;
use super::records::{PulledFields, set_base_of, set_local, to_json};
use super::{LocalStore, bulk, conflicts, hlc, keys, set_setting};
use crate::error::Result;

/// The statement [`insert_new`] runs, prepared once for a page.
fn new_record_insert(c: &Connection) -> Result<rusqlite::CachedStatement<'_>> {
    Ok(c.prepare_cached(
        "INSERT INTO records (collection, id, fields, deleted, base_version, base_fields, base_deleted,
                              base_updated_at, base_updated_by)
         VALUES (?1, ?2, jsonb(?3), ?4, ?5, NULL, ?4, ?6, ?7)
         ON CONFLICT (collection, id) DO NOTHING",
    )?)
}

/// Stores a pulled record that is not in the snapshot yet; false, writing
/// nothing, if it is.
fn insert_new<F: PulledFields>(
    insert: &mut rusqlite::Statement<'_>,
    r: &Record<F>,
) -> Result<bool> {
    let inserted = insert.execute(params![
        r.collection,
        r.id.to_string(),
        r.fields.json()?,
        r.deleted,
        r.version,
        r.updated_at.to_string(),
        r.updated_by
    ])?;
    Ok(inserted == 1)
}

/// What applying a pulled record needs to know about its local row.
#[derive(Debug, Clone, Copy)]
struct LocalRow {
    rid: i64,
    base_version: Option<i64>,
    /// Outbox entries, a conflict or a rejected edit.
    local_changes: bool,
}

const LOCAL_ROW: &str = "SELECT r.id, r.rid, r.base_version,
        r.error IS NOT NULL
        OR EXISTS (SELECT 1 FROM outbox o WHERE o.collection = r.collection AND o.record_id = r.id)
        OR EXISTS (SELECT 1 FROM conflicts k WHERE k.collection = r.collection AND k.record_id = r.id)
    FROM records r";

fn read_local_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, LocalRow)> {
    Ok((
        r.get(0)?,
        LocalRow {
            rid: r.get(1)?,
            base_version: r.get(2)?,
            local_changes: r.get(3)?,
        },
    ))
}

/// The local rows of many records of one collection at once: only those
/// that exist are in the map.
fn local_rows(
    c: &Connection,
    collection: &str,
    ids: Vec<String>,
) -> Result<HashMap<String, LocalRow>> {
    let ids = std::rc::Rc::new(
        ids.into_iter()
            .map(rusqlite::types::Value::Text)
            .collect::<Vec<_>>(),
    );
    let mut stmt = c.prepare_cached(&format!(
        "{LOCAL_ROW} WHERE r.collection = ?1 AND r.id IN rarray(?2)"
    ))?;
    let rows = stmt.query_map(params![collection, ids], read_local_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// One record's local row, as it is now.
fn local_row(c: &Connection, collection: &str, id: &str) -> Result<Option<LocalRow>> {
    Ok(c.prepare_cached(&format!(
        "{LOCAL_ROW} WHERE r.collection = ?1 AND r.id = ?2"
    ))?
    .query_row(params![collection, id], read_local_row)
    .optional()?
    .map(|(_, row)| row))
}

/// What applying one pulled record did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Applied {
    /// Nothing: a version this device holds already.
    Nothing,
    /// Only the base moved (the local value stays as it was).
    Base,
    /// The local value of the record at this row id changed.
    Local(i64),
    /// The record is new here, at this row id.
    New(i64),
}

/// Applies one pulled record, given its local row: replaces a record
/// without local changes, only rebases one with them; never goes back to
/// an older version. With `in_place` (a page of many changes, whose index
/// triggers are set aside), a record without local changes is rewritten
/// by row id ([`replace_clean`]).
fn apply_pulled<F: PulledFields>(
    c: &Connection,
    r: &Record<F>,
    row: Option<LocalRow>,
    resyncing: bool,
    in_place: bool,
) -> Result<Applied> {
    let id = r.id.to_string();
    let base_version = row.and_then(|w| w.base_version);
    let local_changes = row.is_some_and(|w| w.local_changes);
    // Pulling everything again (after a restore the server's versions may
    // be below those held here), the server's record is the truth.
    if !resyncing
        && !super::records::newer_than_base(
            c,
            &r.collection,
            &id,
            base_version,
            r.version,
            &r.updated_at,
        )?
    {
        // Back in my view at a version I hold: a `lost_access` conflict's
        // record is mine to see again, and stays when the conflict is settled.
        if local_changes {
            c.prepare_cached(
                "UPDATE conflicts SET gone = 0 WHERE collection = ?1 AND record_id = ?2 AND gone = 1",
            )?
            .execute(params![r.collection, id])?;
        }
        return Ok(Applied::Nothing);
    }
    let Some(row) = row else {
        set_base_of(c, r, true, false)?;
        let rid = c
            .prepare_cached("SELECT rid FROM records WHERE collection = ?1 AND id = ?2")?
            .query_row(params![r.collection, id], |r| r.get(0))?;
        return Ok(Applied::New(rid));
    };
    if !local_changes {
        if in_place {
            return replace_clean(c, row.rid, r);
        }
        set_base_of(c, r, true, true)?;
        return Ok(Applied::Local(row.rid));
    }
    set_base_of(c, r, false, true)?;
    let mut applied = Applied::Base;
    if base_version.is_none() {
        // Pending edits known before the record itself (an imported outbox):
        // show them on top of the server's record.
        let mut fields = r.fields.values()?;
        let mut deleted = r.deleted;
        for e in entries_for(c, &r.collection, r.id)? {
            match e.mutation.op {
                ferry_protocol::Op::Put => apply_changes(&mut fields, &e.mutation.fields),
                ferry_protocol::Op::Delete => deleted = true,
            }
        }
        set_local(c, &r.collection, r.id, &fields, deleted)?;
        applied = Applied::Local(row.rid);
    }
    // A conflict shows the server's latest state as "theirs".
    let updated = c
        .prepare_cached(
            "UPDATE conflicts SET theirs = ?3, gone = 0 WHERE collection = ?1 AND record_id = ?2",
        )?
        .execute(params![r.collection, id, to_json(r)?])?;
    if updated > 0 {
        conflicts::refresh(c, &r.collection, r.id)?;
    }
    Ok(applied)
}

/// A record without local changes takes the server's state, in place: its
/// local value only where it differs (rewriting an unchanged one would
/// still redo its search and sort index entries), its base always. What
/// `set_base_of` stores replacing the local value, found by row id.
fn replace_clean<F: PulledFields>(c: &Connection, rid: i64, r: &Record<F>) -> Result<Applied> {
    let fields = r.fields.json()?;
    let (stamp, deleted) = (r.updated_at.to_string(), r.deleted);
    let replaced = c
        .prepare_cached(
            "UPDATE records SET fields = jsonb(?2), deleted = ?3, base_version = ?4, base_fields = NULL,
                base_deleted = ?3, base_updated_at = ?5, base_updated_by = ?6, error = NULL
             WHERE rid = ?1 AND (fields IS NOT jsonb(?2) OR deleted IS NOT ?3)",
        )?
        .execute(params![rid, fields, deleted, r.version, stamp, r.updated_by])?;
    if replaced > 0 {
        return Ok(Applied::Local(rid));
    }
    c.prepare_cached(
        "UPDATE records SET base_version = ?3, base_fields = NULL, base_deleted = ?2,
            base_updated_at = ?4, base_updated_by = ?5, error = NULL
         WHERE rid = ?1",
    )?
    .execute(params![rid, deleted, r.version, stamp, r.updated_by])?;
    Ok(Applied::Base)
}

/// Where the pulls' time went in this store, summed until taken
/// ([`LocalStore::take_pull_timings`]): for the bench and the debug log.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PullTimings {
    /// Pages applied.
    pub pages: usize,
    /// Records in them.
    pub records: usize,
    /// Storing the records (each page's transaction, commit included, but
    /// for the two below).
    pub write: Duration,
    /// Keeping the search index: at the end of each page of many changes,
    /// or, after a first pull, indexing every record (reading them back
    /// included).
    pub search_index: Duration,
    /// Keeping the sort keys: at the end of each page of many changes, or,
    /// after a first pull, storing every record's and indexing them.
    pub sort_index: Duration,
}

impl PullTimings {
    pub(crate) fn add_index_times(&mut self, search: Duration, sort: Duration) {
        self.search_index += search;
        self.sort_index += sort;
    }
}

impl LocalStore {
    /// Applies one page of pulled changes and moves the cursor, in one
    /// transaction. Returns how many records changed locally.
    pub fn apply_page<F: PulledFields>(
        &self,
        changes: &[Record<F>],
        removed: &[ferry_protocol::Removed],
        cursor: &str,
    ) -> Result<usize> {
        let start = Instant::now();
        let (changed, index) = self.write(|tx| {
            let mut changed = super::lost::apply_removed(tx, removed)?;
            let mut latest: Option<&Hlc> = None;
            // A first pull: nearly every record is new, and inserting one is
            // how to find out, without reading its row first.
            let first_pull = bulk::active(tx)?;
            let resyncing = super::resync::active(tx)?;
            // Otherwise the local rows of the page, read at once.
            let mut rows = HashMap::new();
            let mut collections: Vec<&str> = changes
                .iter()
                .filter(|_| !first_pull)
                .map(|r| r.collection.as_str())
                .collect();
            collections.sort_unstable();
            collections.dedup();
            for collection in collections {
                let ids = changes
                    .iter()
                    .filter(|r| r.collection == collection)
                    .map(|r| r.id.to_string())
                    .collect();
                for (id, row) in local_rows(tx, collection, ids)? {
                    rows.insert((collection, id), row);
                }
            }
            let mut seen = std::collections::HashSet::new();
            let mut insert = first_pull.then(|| new_record_insert(tx)).transpose()?;
            let mut index = bulk::ManyEdits::begin_page(tx, changes.len())?;
            for r in changes {
                latest = latest.max(Some(&r.updated_at));
                if let Some(insert) = insert.as_mut()
                    && insert_new(insert, r)?
                {
                    changed += 1;
                    continue;
                }
                let id = r.id.to_string();
                let row = if !first_pull && seen.insert((r.collection.as_str(), r.id)) {
                    rows.remove(&(r.collection.as_str(), id))
                } else {
                    // Stored before this first pull, or twice in the page: its row as it is now.
                    local_row(tx, &r.collection, &id)?
                };
                match apply_pulled(tx, r, row, resyncing, index.sets_aside())? {
                    Applied::Nothing => {}
                    Applied::Base => changed += 1,
                    Applied::Local(rid) => {
                        changed += 1;
                        index.edited_row(rid);
                    }
                    Applied::New(rid) => {
                        changed += 1;
                        index.inserted_row(rid);
                    }
                }
            }
            let index = index.finish(tx)?;
            if let Some(stamp) = latest {
                hlc::observe(tx, stamp)?;
            }
            super::resync::seen(tx, changes, removed)?;
            set_setting(tx, keys::CURSOR, Some(cursor))?;
            Ok((changed, index))
        })?;
        let mut timings = self.lock_pull_timings();
        timings.pages += 1;
        timings.records += changes.len();
        timings.write += start.elapsed().saturating_sub(index.search + index.sort);
        timings.add_index_times(index.search, index.sort);
        Ok(changed)
    }

    /// Where the pulls' time went since the last call (or since the store
    /// was opened); starts the sums again.
    pub fn take_pull_timings(&self) -> PullTimings {
        std::mem::take(&mut *self.lock_pull_timings())
    }

    pub(crate) fn lock_pull_timings(&self) -> std::sync::MutexGuard<'_, PullTimings> {
        self.pull_timings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use ferry_protocol::Fields;
    use uuid::Uuid;

    use super::*;
    use crate::store::schema::tests::tasks;

    fn pulled(id: Uuid, version: i64, title: &str) -> Record {
        let fields = match serde_json::json!({ "title": title }) {
            serde_json::Value::Object(m) => m,
            _ => Fields::new(),
        };
        Record {
            collection: "tasks".into(),
            id,
            version,
            fields,
            deleted: false,
            updated_at: Hlc::new(1_795_700_000_000 + version, 0, "srv").expect("stamp"),
            updated_by: "bob".into(),
            merged_from: None,
        }
    }

    /// id, fields, deleted; base version, fields, deleted, stamp and author; error.
    type Row = (
        String,
        String,
        bool,
        Option<i64>,
        Option<String>,
        bool,
        Option<String>,
        Option<String>,
        Option<String>,
    );

    /// Every record's row as text, in id order.
    fn rows(store: &LocalStore) -> Vec<Row> {
        store
            .read(|c| {
                Ok(c.prepare(
                    "SELECT id, json(fields), deleted, base_version, json(base_fields), base_deleted,
                            base_updated_at, base_updated_by, error
                     FROM records ORDER BY id",
                )?
                .query_map([], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                        r.get(8)?,
                    ))
                })?
                .collect::<rusqlite::Result<_>>()?)
            })
            .expect("rows")
    }

    #[test]
    fn a_first_pull_stores_what_any_other_pull_would() {
        let (other, once) = (Uuid::now_v7(), Uuid::now_v7());
        let mut results = Vec::new();
        for first_pull in [false, true] {
            let store = LocalStore::open_in_memory().expect("open");
            store.replace_schema(&[tasks(&[])]).expect("schema");
            // A record made here and not sent yet, which the server's pages
            // then bring too (as after importing an outbox).
            let fields = pulled(other, 0, "mine").fields;
            let mine = store.create("tasks", fields).expect("create");
            if first_pull {
                store.begin_bulk_load().expect("begin");
            }
            let page = [
                pulled(other, 1, "new"),
                pulled(once, 1, "once"),
                pulled(mine, 3, "theirs"),
                pulled(other, 2, "newer"),
            ];
            assert_eq!(store.apply_page(&page, &[], "4").expect("apply"), 4);
            if first_pull {
                store.end_bulk_load().expect("end");
            }
            let rows = rows(&store);
            let of = |id: Uuid| rows.iter().find(|r| r.0 == id.to_string()).cloned();
            let stored = of(other).expect("the new record");
            assert_eq!(
                (stored.2, stored.3, stored.4.clone()),
                (false, Some(2), None)
            );
            assert!(stored.1.contains("newer"), "{stored:?}");
            let single = of(once).expect("a record pulled once");
            assert_eq!((single.3, single.7.as_deref()), (Some(1), Some("bob")));
            let kept = of(mine).expect("my record");
            assert_eq!(kept.3, Some(3));
            assert!(
                kept.1.contains("mine") && kept.4.as_deref().is_some_and(|b| b.contains("theirs")),
                "{kept:?}"
            );
            // My record's id is made anew each time round.
            let same: Vec<Row> = rows
                .into_iter()
                .map(|mut r| {
                    if r.0 == mine.to_string() {
                        r.0 = "mine".into();
                    }
                    r
                })
                .collect();
            results.push(same);
        }
        assert_eq!(results[0], results[1]);
    }

    /// A page of many changed records is searched by their new text, not
    /// their old (the search index is written once for the page), and an
    /// edit afterwards is indexed as ever.
    #[test]
    fn a_page_of_many_changes_keeps_the_search_index_true() {
        let store = LocalStore::open_in_memory().expect("open");
        store.replace_schema(&[tasks(&[])]).expect("schema");
        let ids: Vec<Uuid> = (0..80).map(|_| Uuid::now_v7()).collect();
        let first: Vec<Record> = ids
            .iter()
            .map(|id| pulled(*id, 1, "ancient pottery"))
            .collect();
        store.apply_page(&first, &[], "1").expect("first");
        let count = |text: &str| {
            let mut q = crate::store::Query::new("tasks");
            q.search = Some(text.into());
            store.count(&q).expect("count")
        };
        assert_eq!((count("ancient"), count("modern")), (80, 0));
        let mut next: Vec<Record> = ids
            .iter()
            .map(|id| pulled(*id, 2, "modern sculpture"))
            .collect();
        next.push(pulled(Uuid::now_v7(), 1, "modern glass"));
        store.apply_page(&next, &[], "2").expect("next");
        assert_eq!(
            (count("ancient"), count("modern"), count("glass")),
            (0, 81, 1)
        );
        let mut f = Fields::new();
        f.insert("title".into(), "ancient coins".into());
        store.update("tasks", ids[0], f).expect("edit");
        assert_eq!((count("ancient"), count("modern")), (1, 80));
    }
}

/// A page of many changes takes the fast path: the index triggers set
/// aside, clean records rewritten in place by row id, the search index and
/// sort keys brought up to date at the end. What it stores must be what the
/// ordinary path stores, one record at a time with every trigger in place.
#[cfg(test)]
mod many_changes {
    use std::collections::{BTreeMap, BTreeSet};

    use ferry_protocol::{Fields, Hlc, Record};
    use uuid::Uuid;

    use crate::store::LocalStore;
    use crate::store::schema::tests::{assert_sort_keys_true, tasks};

    fn record(collection: &str, id: Uuid, version: i64, fields: serde_json::Value) -> Record {
        Record {
            collection: collection.into(),
            id,
            version,
            fields: fields.as_object().cloned().unwrap_or_default(),
            deleted: false,
            updated_at: Hlc::new(1_795_700_000_000 + version, 0, "srv").expect("stamp"),
            updated_by: "bob".into(),
            merged_from: None,
        }
    }

    fn task(id: Uuid, version: i64, title: &str, owner: &str) -> Record {
        record(
            "tasks",
            id,
            version,
            serde_json::json!({ "title": title, "owner": owner }),
        )
    }

    fn note(id: Uuid, version: i64, kind: &str) -> Record {
        record(
            "notes",
            id,
            version,
            serde_json::json!({ "title": format!("note {kind}"), "kind": kind }),
        )
    }

    struct Setup {
        store: LocalStore,
        tasks: Vec<Uuid>,
        notes: Vec<Uuid>,
        mine: Uuid,
    }

    /// A store holding 70 tasks and 5 notes, one task edited here and not
    /// sent, one refused by the server, one deleted, and a task made here.
    /// The same ids each time.
    fn setup(tasks_ids: &[Uuid], notes_ids: &[Uuid]) -> Setup {
        let store = LocalStore::open_in_memory().expect("open");
        let mut notes = tasks(&["kind"]);
        notes.name = "notes".into();
        store
            .replace_schema(&[tasks(&["owner"]), notes])
            .expect("schema");
        let mut page: Vec<Record> = tasks_ids
            .iter()
            .enumerate()
            .map(|(i, id)| task(*id, 1, &format!("task {i} harbour"), &format!("o{}", i % 7)))
            .collect();
        page[65].deleted = true;
        page.extend(notes_ids.iter().map(|id| note(*id, 1, "memo")));
        store.apply_page(&page, &[], "1").expect("first page");
        let mut edit = Fields::new();
        edit.insert("title".into(), "my own title".into());
        store.update("tasks", tasks_ids[0], edit).expect("edit");
        store
            .write(|tx| {
                tx.execute(
                    "UPDATE records SET error = '{\"code\":\"invalid\",\"message\":\"no\"}' WHERE id = ?1",
                    [tasks_ids[2].to_string()],
                )?;
                Ok(())
            })
            .expect("refused");
        let mut fields = Fields::new();
        fields.insert("title".into(), "made here".into());
        let mine = store.create("tasks", fields).expect("create");
        Setup {
            store,
            tasks: tasks_ids.to_vec(),
            notes: notes_ids.to_vec(),
            mine,
        }
    }

    /// The second page: most tasks changed (some only in their version), one
    /// deleted, one restored, one twice, one older than held, the unsent and
    /// refused ones, the one made here, new ones (one twice) and notes.
    fn page(s: &Setup, new: &[Uuid]) -> Vec<Record> {
        let mut page = Vec::new();
        for (i, id) in s.tasks.iter().enumerate().take(60) {
            match i {
                3 => page.push(task(*id, 2, "task 3 harbour", "o3")),
                4 => {
                    let mut gone = task(*id, 2, "task 4 harbour", "o4");
                    gone.deleted = true;
                    page.push(gone);
                }
                5 => {
                    page.push(task(*id, 2, "task 5 quay", "o5"));
                    page.push(task(*id, 3, "task 5 tide", "zed"));
                }
                6 => page.push(task(*id, 1, "task 6 old", "o6")),
                _ => page.push(task(
                    *id,
                    2,
                    &format!("task {i} ledger"),
                    &format!("p{}", i % 5),
                )),
            }
        }
        page.push(task(s.tasks[65], 2, "back again", "o65"));
        page.push(task(s.mine, 1, "made here", "me"));
        page.push(task(new[0], 1, "new pilot", "n"));
        page.push(task(new[1], 1, "new crane", "n"));
        page.push(task(new[1], 2, "newer crane", "m"));
        page.extend(s.notes.iter().take(3).map(|id| note(*id, 2, "letter")));
        page
    }

    type Dump = (
        Vec<Vec<rusqlite::types::Value>>,
        BTreeMap<String, Vec<Vec<rusqlite::types::Value>>>,
        BTreeMap<String, BTreeSet<String>>,
        Vec<(String, String, String)>,
    );

    /// Every record's row, every sort key table, the records each term of
    /// `terms` finds, the outbox: by record id, as row ids may differ.
    fn dump(store: &LocalStore, terms: &BTreeSet<String>) -> Dump {
        use rusqlite::types::Value;
        store
            .read(|c| {
                let all = |sql: &str| -> crate::error::Result<Vec<Vec<Value>>> {
                    let mut stmt = c.prepare(sql)?;
                    let n = stmt.column_count();
                    Ok(stmt
                        .query_map([], |r| (0..n).map(|i| r.get::<_, Value>(i)).collect())?
                        .collect::<rusqlite::Result<_>>()?)
                };
                let records = all(
                    "SELECT collection, id, json(fields), deleted, base_version, json(base_fields), base_deleted,
                            base_updated_at, base_updated_by, error FROM records ORDER BY collection, id",
                )?;
                let mut sort = BTreeMap::new();
                for table in crate::store::schema::names_in(c, "table", "sort:")? {
                    sort.insert(
                        table.clone(),
                        all(&format!(
                            "SELECT r.id, s.* FROM \"{table}\" s JOIN records r USING (rid) ORDER BY r.id"
                        ))?,
                    );
                }
                let mut found = BTreeMap::new();
                for term in terms {
                    let ids = c
                        .prepare(
                            "SELECT id FROM records WHERE rid IN
                                (SELECT rowid FROM records_fts WHERE records_fts MATCH ?1)",
                        )?
                        .query_map([format!("\"{term}\"")], |r| r.get(0))?
                        .collect::<rusqlite::Result<BTreeSet<String>>>()?;
                    found.insert(term.clone(), ids);
                }
                let outbox = c
                    .prepare("SELECT record_id, op, fields FROM outbox ORDER BY seq")?
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect::<rusqlite::Result<_>>()?;
                Ok((records, sort, found, outbox))
            })
            .expect("dump")
    }

    fn terms(store: &LocalStore) -> BTreeSet<String> {
        store
            .read(|c| {
                Ok(c.prepare("SELECT term FROM records_fts_terms")?
                    .query_map([], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?)
            })
            .expect("terms")
    }

    #[test]
    fn a_page_of_many_changes_stores_what_one_record_at_a_time_would() {
        let tasks_ids: Vec<Uuid> = (0..70).map(|_| Uuid::now_v7()).collect();
        let notes_ids: Vec<Uuid> = (0..5).map(|_| Uuid::now_v7()).collect();
        let new = [Uuid::now_v7(), Uuid::now_v7()];
        let (fast, slow) = (setup(&tasks_ids, &notes_ids), setup(&tasks_ids, &notes_ids));
        // The outbox entries of the record made here differ only in their ids.
        let mine = slow.mine;
        let slow_page: Vec<Record> = page(&slow, &new);
        let fast_page = page(&fast, &new);
        assert!(fast_page.len() >= 50, "the page takes the fast path");
        let changed = fast.store.apply_page(&fast_page, &[], "2").expect("fast");
        let mut one_by_one = 0;
        for r in &slow_page {
            one_by_one += slow
                .store
                .apply_page(std::slice::from_ref(r), &[], "2")
                .expect("slow");
        }
        assert_eq!(changed, one_by_one);
        let mut words = terms(&fast.store);
        words.extend(terms(&slow.store));
        words.extend(
            [
                "harbour", "ledger", "quay", "tide", "zed", "letter", "memo", "back",
            ]
            .map(String::from),
        );
        let (mut a, b) = (dump(&fast.store, &words), dump(&slow.store, &words));
        // The record made here has an id of its own in each store.
        let (theirs, ours) = (fast.mine.to_string(), mine.to_string());
        for row in &mut a.0 {
            if row[1] == rusqlite::types::Value::Text(theirs.clone()) {
                row[1] = rusqlite::types::Value::Text(ours.clone());
            }
        }
        for row in a.1.values_mut().flatten() {
            if row[0] == rusqlite::types::Value::Text(theirs.clone()) {
                row[0] = rusqlite::types::Value::Text(ours.clone());
            }
        }
        for ids in a.2.values_mut() {
            if ids.remove(&theirs) {
                ids.insert(ours.clone());
            }
        }
        for entry in &mut a.3 {
            if entry.0 == theirs {
                entry.0.clone_from(&ours);
            }
        }
        assert_eq!(a.0, b.0, "records");
        assert_eq!(a.1, b.1, "sort keys");
        assert_eq!(a.2, b.2, "search");
        assert_eq!(a.3, b.3, "outbox");
        assert_sort_keys_true(&fast.store, "tasks", &["title", "owner"], "tasks");
        assert_sort_keys_true(&fast.store, "notes", &["title", "kind"], "notes");

        // The record edited here keeps its edit; only its base moved.
        let edited = fast.store.record("tasks", tasks_ids[0]).expect("edited");
        assert_eq!(edited.fields["title"], "my own title");
        let base = edited.base.expect("base");
        assert_eq!(
            (base.version, base.fields["title"].as_str()),
            (2, Some("task 0 ledger"))
        );
        assert_eq!(fast.store.outbox(10).expect("outbox").len(), 2);
        // A search finds the new text of what changed, and not the old.
        let count = |text: &str| {
            let mut q = crate::store::Query::new("tasks");
            q.search = Some(text.into());
            fast.store.count(&q).expect("count")
        };
        // 56 tasks took "ledger", but for the one edited here and the one refused.
        assert_eq!((count("ledger"), count("tide"), count("quay")), (54, 1, 0));

        // An edit of many records here afterwards keeps the indexes too.
        let mut set = Fields::new();
        set.insert("owner".into(), "everyone".into());
        set.insert("title".into(), "all the same".into());
        let report = fast
            .store
            .update_many("tasks", &tasks_ids[10..65], &set)
            .expect("edit many");
        assert!(report.changed >= 50, "{report:?}");
        assert_sort_keys_true(&fast.store, "tasks", &["title", "owner"], "edited many");
        assert_eq!(u64::try_from(count("same")).ok(), Some(report.changed));
    }
}

#[cfg(test)]
mod removals {
    use ferry_protocol::{ConflictKind, Fields, Hlc, Record, Removed};
    use uuid::Uuid;

    use crate::store::LocalStore;
    use crate::store::schema::tests::tasks;

    fn pulled(id: Uuid, title: &str) -> Record {
        let mut fields = Fields::new();
        fields.insert("title".into(), title.into());
        Record {
            collection: "tasks".into(),
            id,
            version: 1,
            fields,
            deleted: false,
            updated_at: Hlc::new(1_795_700_000_000, 0, "srv").expect("stamp"),
            updated_by: "bob".into(),
            merged_from: None,
        }
    }

    fn gone(id: Uuid) -> Removed {
        Removed {
            collection: "tasks".into(),
            id,
        }
    }

    #[test]
    fn a_removal_drops_a_clean_record_and_keeps_one_with_an_unsent_edit_as_lost_access() {
        let store = LocalStore::open_in_memory().expect("open");
        store.replace_schema(&[tasks(&[])]).expect("schema");
        let (clean, edited, never) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        store
            .apply_page(
                &[pulled(clean, "Clean"), pulled(edited, "Edited")],
                &[],
                "2",
            )
            .expect("pull");
        let mut change = Fields::new();
        change.insert("title".into(), "Edited here".into());
        store.update("tasks", edited, change).expect("edit");

        let changed = store
            .apply_page::<Fields>(&[], &[gone(clean), gone(edited), gone(never)], "3")
            .expect("removals");
        assert_eq!(changed, 2, "a record never held is no change");
        assert!(store.record("tasks", clean).is_err(), "the clean one left");
        let kept = store.record("tasks", edited).expect("the edited one stays");
        assert_eq!(kept.fields["title"], "Edited here");
        let conflicts = store.conflicts().expect("conflicts");
        assert_eq!(conflicts.len(), 1);
        assert_eq!(conflicts[0].kind, ConflictKind::LostAccess);
        assert_eq!(conflicts[0].mine_changes["title"], "Edited here");
        assert_eq!(conflicts[0].theirs.fields["title"], "Edited");
        assert!(
            store.outbox(10).expect("outbox").is_empty(),
            "the edit waits in the conflict, not to be sent"
        );
        assert_eq!(store.cursor().expect("cursor").as_deref(), Some("3"));
    }
}
