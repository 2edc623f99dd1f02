//! Applying pulled pages: records without local changes take the server's
//! state, those with them only rebase, and the cursor moves in the same
//! transaction as its page.

use ferry_protocol::fields::apply_changes;
use ferry_protocol::{Hlc, Record};
use rusqlite::{Connection, params};

use super::outbox::entries_for;
use super::records::{PulledFields, local_row, set_base_of, set_local, to_json};
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

/// [`local_row`] for many records of one collection at once: only those
/// that exist are in the map.
fn local_rows(
    c: &Connection,
    collection: &str,
    ids: Vec<String>,
) -> Result<std::collections::HashMap<String, (Option<i64>, bool)>> {
    let ids = std::rc::Rc::new(
        ids.into_iter()
            .map(rusqlite::types::Value::Text)
            .collect::<Vec<_>>(),
    );
    let mut stmt = c.prepare_cached(
        "SELECT r.id, r.base_version,
                r.error IS NOT NULL
                OR EXISTS (SELECT 1 FROM outbox o WHERE o.collection = r.collection AND o.record_id = r.id)
                OR EXISTS (SELECT 1 FROM conflicts k WHERE k.collection = r.collection AND k.record_id = r.id)
         FROM records r WHERE r.collection = ?1 AND r.id IN rarray(?2)",
    )?;
    let rows = stmt.query_map(params![collection, ids], |r| {
        Ok((r.get::<_, String>(0)?, (r.get(1)?, r.get(2)?)))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Applies one pulled record, given its local row ([`local_row`]): replaces
/// a record without local changes, only rebases one with them; never goes
/// back to an older version. Returns whether anything changed.
fn apply_pulled<F: PulledFields>(
    c: &Connection,
    r: &Record<F>,
    row: Option<(Option<i64>, bool)>,
    resyncing: bool,
) -> Result<bool> {
    let id = r.id.to_string();
    let (base_version, local_changes) = row.unwrap_or((None, false));
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
        return Ok(false);
    }
    set_base_of(c, r, !local_changes, row.is_some())?;
    if local_changes && base_version.is_none() {
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
    }
    if local_changes {
        // A conflict shows the server's latest state as "theirs".
        let updated = c
            .prepare_cached(
                "UPDATE conflicts SET theirs = ?3, gone = 0 WHERE collection = ?1 AND record_id = ?2",
            )?
            .execute(params![r.collection, id, to_json(r)?])?;
        if updated > 0 {
            conflicts::refresh(c, &r.collection, r.id)?;
        }
    }
    Ok(true)
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
        self.write(|tx| {
            let mut changed = super::lost::apply_removed(tx, removed)?;
            let mut latest: Option<&Hlc> = None;
            // A first pull: nearly every record is new, and inserting one is
            // how to find out, without reading its row first.
            let first_pull = bulk::active(tx)?;
            let resyncing = super::resync::active(tx)?;
            // Otherwise the local rows of the page, read at once.
            let mut rows = std::collections::HashMap::new();
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
            let mut index = bulk::ManyEdits::begin(tx, changes.len())?;
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
                if apply_pulled(tx, r, row, resyncing)? {
                    changed += 1;
                    index.edited(&r.collection, r.id);
                }
            }
            index.finish(tx)?;
            if let Some(stamp) = latest {
                hlc::observe(tx, stamp)?;
            }
            super::resync::seen(tx, changes, removed)?;
            set_setting(tx, keys::CURSOR, Some(cursor))?;
            Ok(changed)
        })
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
