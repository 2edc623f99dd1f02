//! Storing the server's answers to a push: the only place outbox entries
//! leave the outbox, each in the transaction that stores its outcome.

use std::collections::HashMap;

use ferry_protocol::fields::{field_value, same_value};
use ferry_protocol::{MutationResult, Op, PushWritten, Status};
use rusqlite::Connection;
use uuid::Uuid;

use super::outbox::{delete_entry, entries_for, update_entry};
use super::{LocalStore, conflicts, get_setting, keys, records, set_setting};
use crate::error::{Error, Result};
use crate::model::{OutboxEntry, PushSummary};

/// After an entry is acknowledged, the record's later entries were made on top
/// of it: they now start from the version the server wrote, so the server
/// does not mistake them for a conflict with this device's own edit. Fields
/// that version already holds are no changes any more and leave the entry:
/// an edit made while the record's create was in flight carries the whole
/// record, and someone else's later change of those fields is not a conflict.
fn rebase_later_entries(c: &Connection, record: &ferry_protocol::Record) -> Result<()> {
    for e in entries_for(c, &record.collection, record.id)? {
        if e.in_flight {
            continue;
        }
        let mut m = e.mutation;
        m.base_version = Some(record.version);
        if m.op == Op::Put {
            m.fields
                .retain(|k, v| !same_value(v, field_value(&record.fields, k)));
            m.base = m
                .fields
                .keys()
                .map(|k| (k.clone(), field_value(&record.fields, k).clone()))
                .collect();
        }
        update_entry(c, e.seq, &m)?;
    }
    Ok(())
}

fn store_one(
    c: &Connection,
    entry: &OutboxEntry,
    result: &MutationResult,
    summary: &mut PushSummary,
) -> Result<()> {
    let m = &entry.mutation;
    // Already stored (a duplicate answer): nothing to do.
    if !delete_entry(c, m.mutation_id)? {
        return Ok(());
    }
    match result.status {
        Status::Applied | Status::Merged => {
            super::resync::keep_acked(c, entry)?;
            if result.status == Status::Applied {
                summary.applied += 1;
            } else {
                summary.merged += 1;
            }
            records::set_error(c, &m.collection, m.record_id, None)?;
            if let Some(record) = &result.record {
                let id = record.id.to_string();
                let (newer, more) = match records::local_row(c, &record.collection, &id)? {
                    Some((base_version, more)) => {
                        let newer = base_version.is_some_and(|v| v > record.version)
                            && !records::newer_than_base(
                                c,
                                &record.collection,
                                &id,
                                base_version,
                                record.version,
                                &record.updated_at,
                            )?;
                        (newer, more)
                    }
                    None => (
                        false,
                        records::has_local_changes(c, &record.collection, &id)?,
                    ),
                };
                if !newer {
                    records::set_base(c, record, !more)?;
                }
                rebase_later_entries(c, record)?;
                // My write took the record where I may write but not read
                // (a hand-over): it leaves this device, as a removal would.
                if !more
                    && !newer
                    && !record.deleted
                    && let Some(col) = super::schema::collection_in(c, &record.collection)?
                    && !super::lost::readable(&col, &record.fields)
                {
                    super::lost::remove(c, &record.collection, record.id)?;
                }
            }
        }
        Status::Conflict => {
            summary.conflicts += 1;
            let (Some(theirs), Some(conflict)) = (&result.record, &result.conflict) else {
                return Err(Error::Inconsistent(format!(
                    "the server reported a conflict for {} without the record",
                    m.record_id
                )));
            };
            let local = records::load(c, &m.collection, m.record_id)?;
            let mine = local
                .as_ref()
                .map(|r| r.fields.clone())
                .unwrap_or_else(|| m.fields.clone());
            // Later unsent edits of the record are part of "mine" now; the resolution replaces them.
            let mut mine_changes = m.fields.clone();
            for later in entries_for(c, &m.collection, m.record_id)? {
                if !later.in_flight {
                    for (k, v) in &later.mutation.fields {
                        mine_changes.insert(k.clone(), v.clone());
                    }
                    delete_entry(c, later.mutation.mutation_id)?;
                }
            }
            conflicts::insert(
                c,
                m,
                conflict.kind,
                &conflict.fields,
                &mine,
                &mine_changes,
                theirs,
            )?;
            records::set_base(c, theirs, false)?;
        }
        // The record (or the place the edit puts it) is outside what I may
        // write now: keep the edit for me to export, copy or discard.
        Status::Rejected if result.error.as_ref().is_some_and(|e| e.code == "forbidden") => {
            summary.conflicts += 1;
            super::lost::keep(c, &m.collection, m.record_id, Some(m))?;
        }
        Status::Rejected => {
            summary.rejected += 1;
            let error = result.error.clone().unwrap_or_else(|| {
                ferry_protocol::ErrorBody::new("rejected", "the server refused this edit")
            });
            records::set_error(c, &m.collection, m.record_id, Some(&error))?;
        }
    }
    Ok(())
}

impl LocalStore {
    /// Stores the answers to a pushed batch in one transaction; each answered
    /// entry leaves the outbox here. Entries without an answer stay in flight.
    /// When the push's writes follow right on from this snapshot's cursor,
    /// the cursor moves past them: they are already stored, and need not be
    /// pulled back.
    pub fn store_results(
        &self,
        batch: &[OutboxEntry],
        results: &[MutationResult],
        written: Option<&PushWritten>,
    ) -> Result<PushSummary> {
        let by_id: HashMap<Uuid, &MutationResult> =
            results.iter().map(|r| (r.mutation_id, r)).collect();
        self.write(|tx| {
            let mut summary = PushSummary::default();
            super::resync::prune_acked(tx)?;
            for entry in batch {
                if let Some(result) = by_id.get(&entry.mutation.mutation_id) {
                    store_one(tx, entry, result, &mut summary)?;
                }
            }
            if let Some(w) = written
                && get_setting(tx, keys::CURSOR)?.as_deref() == Some(w.after.as_str())
            {
                set_setting(tx, keys::CURSOR, Some(&w.cursor))?;
            }
            Ok(summary)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(after: &str, cursor: &str) -> PushWritten {
        PushWritten {
            after: after.into(),
            cursor: cursor.into(),
        }
    }

    #[test]
    fn the_cursor_moves_past_my_own_writes_only_when_they_follow_on_from_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalStore::open(&dir.path().join("ferry.db")).expect("open");
        // Never pulled: the snapshot has not seen what came before the push.
        store
            .store_results(&[], &[], Some(&written("0", "3")))
            .expect("store");
        assert_eq!(store.cursor().expect("cursor"), None);

        store.set_setting(keys::CURSOR, Some("5")).expect("cursor");
        store
            .store_results(&[], &[], Some(&written("5", "9")))
            .expect("store");
        assert_eq!(store.cursor().expect("cursor").as_deref(), Some("9"));
        // Someone else wrote 10 and 11: they must still be pulled.
        store
            .store_results(&[], &[], Some(&written("11", "14")))
            .expect("store");
        assert_eq!(store.cursor().expect("cursor").as_deref(), Some("9"));
        store.store_results(&[], &[], None).expect("store");
        assert_eq!(store.cursor().expect("cursor").as_deref(), Some("9"));
    }
}
