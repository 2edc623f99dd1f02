//! Local edits: create, update, delete, restore.
//!
//! A local edit is one transaction: the record's local value changes and an
//! outbox entry is appended, or merged into the record's unsent entry (the
//! first entry's base is kept). An entry in flight is never modified.

use ferry_protocol::fields::{apply_changes, field_value, same_value};
use ferry_protocol::{Access, Collection, Fields, Mutation, Op};
use rusqlite::Connection;
use serde_json::Value;
use uuid::Uuid;

use super::LocalStore;
use super::bulk::ManyEdits;
use super::outbox::{delete_entry, entries_for, insert_entry, update_entry};
use super::records::{self, LocalRecord};
use super::schema::collection_in;
use crate::error::{Error, Result};
use crate::model::{BulkReport, BulkSkip, OutboxEntry};

/// The base values of `names` in the record's base (null where it has none).
fn base_values(record: Option<&LocalRecord>, names: impl Iterator<Item = String>) -> Fields {
    let base = record.and_then(|r| r.base.as_ref());
    names
        .map(|n| {
            let v = base.map_or(Value::Null, |b| field_value(&b.fields, &n).clone());
            (n, v)
        })
        .collect()
}

/// Appends the outbox side of an edit of `record` (its state before the
/// edit), coalescing into the record's unsent entry when there is one.
/// `changes` are the fields the user just set (for a put).
pub(crate) fn record_edit(
    c: &Connection,
    before: Option<&LocalRecord>,
    m: &Mutation,
) -> Result<()> {
    let entries = entries_for(c, &m.collection, m.record_id)?;
    let hlc = m.hlc.clone();
    if let Some(last) = entries.last().filter(|e| !e.in_flight) {
        let mut merged = last.mutation.clone();
        merged.hlc = hlc;
        match (m.op, last.mutation.op) {
            (Op::Delete, Op::Put) if last.mutation.base_version.is_none() && entries.len() == 1 => {
                // Created and deleted before the server ever saw it: nothing
                // to send. The local tombstone stays, so the deletion can be undone.
                delete_entry(c, last.mutation.mutation_id)?;
                return Ok(());
            }
            (Op::Delete, _) => {
                merged.op = Op::Delete;
                merged.base = Fields::new();
                merged.fields = Fields::new();
            }
            (Op::Put, _) => {
                let new_names: Vec<String> = m
                    .fields
                    .keys()
                    .filter(|k| !merged.base.contains_key(*k))
                    .cloned()
                    .collect();
                if merged.base_version.is_some() {
                    for (k, v) in base_values(before, new_names.into_iter()) {
                        merged.base.insert(k, v);
                    }
                }
                for (k, v) in &m.fields {
                    merged.fields.insert(k.clone(), v.clone());
                }
            }
        }
        return update_entry(c, last.seq, &merged);
    }
    let mut m = m.clone();
    if m.op == Op::Put {
        // A record whose last edit was refused still differs from its base:
        // send those fields again with this edit, so fixing it is one edit.
        if let Some(r) = before {
            let empty = Fields::new();
            let base_fields = r.base.as_ref().map_or(&empty, |b| &b.fields);
            let names: Vec<String> = r.fields.keys().chain(base_fields.keys()).cloned().collect();
            for k in names {
                if !m.fields.contains_key(&k)
                    && !same_value(field_value(&r.fields, &k), field_value(base_fields, &k))
                {
                    let v = field_value(&r.fields, &k).clone();
                    m.fields.insert(k, v);
                }
            }
        }
        m.base = if m.base_version.is_some() {
            base_values(before, m.fields.keys().cloned())
        } else {
            Fields::new()
        };
    }
    insert_entry(c, &m)
}

/// Checks that the user may write to the collection and returns it.
pub(crate) fn writable(c: &Connection, collection: &str) -> Result<Collection> {
    let col = collection_in(c, collection)?
        .ok_or_else(|| Error::UnknownCollection(collection.to_string()))?;
    if col.access != Access::Write {
        return Err(Error::ReadOnly(collection.to_string()));
    }
    Ok(col)
}

fn editable(c: &Connection, collection: &str, id: Uuid) -> Result<LocalRecord> {
    let r = records::load(c, collection, id)?.ok_or_else(|| Error::UnknownRecord {
        collection: collection.to_string(),
        id: id.to_string(),
    })?;
    if r.state == records::RecordState::Conflict {
        return Err(Error::InConflict {
            collection: collection.to_string(),
            id: id.to_string(),
        });
    }
    if r.deleted {
        return Err(Error::RecordDeleted {
            collection: collection.to_string(),
            id: id.to_string(),
        });
    }
    Ok(r)
}

fn new_mutation(
    c: &Connection,
    collection: &str,
    id: Uuid,
    op: Op,
    base_version: Option<i64>,
    fields: Fields,
) -> Result<Mutation> {
    Ok(Mutation {
        mutation_id: Uuid::now_v7(),
        collection: collection.to_string(),
        record_id: id,
        op,
        base_version,
        base: Fields::new(),
        fields,
        hlc: super::hlc::tick(c)?,
    })
}

impl LocalStore {
    /// Creates a record locally; returns its new id.
    pub fn create(&self, collection: &str, fields: Fields) -> Result<Uuid> {
        self.write(|tx| {
            let col = writable(tx, collection)?;
            create_in(tx, &col, fields)
        })
    }

    /// Changes some fields of a record locally (`null` clears a field).
    pub fn update(&self, collection: &str, id: Uuid, changes: Fields) -> Result<()> {
        self.write(|tx| {
            let col = writable(tx, collection)?;
            update_in(tx, &col, id, changes).map(|_| ())
        })
    }

    /// Deletes a record locally (a tombstone until the server confirms).
    pub fn delete(&self, collection: &str, id: Uuid) -> Result<()> {
        self.write(|tx| {
            writable(tx, collection)?;
            delete_in(tx, collection, id)
        })
    }

    /// Undoes a local delete: the record comes back with the values it had.
    /// An unsent deletion is withdrawn; after one already sent (or in
    /// flight), an edit with every value restores the record on the server.
    pub fn restore(&self, collection: &str, id: Uuid) -> Result<()> {
        self.write(|tx| {
            writable(tx, collection)?;
            restore_in(tx, collection, id)
        })
    }
}

/// Creates a record in the open transaction; returns its new id.
pub(crate) fn create_in(tx: &Connection, col: &Collection, fields: Fields) -> Result<Uuid> {
    let fields: Fields = fields.into_iter().filter(|(_, v)| !v.is_null()).collect();
    col.check_fields(&fields).map_err(Error::InvalidValue)?;
    col.check_required(&fields).map_err(Error::InvalidValue)?;
    // The server would reject it, dropping the edit: refuse it now.
    ferry_protocol::check_field_sizes(&fields).map_err(Error::InvalidValue)?;
    ferry_protocol::check_record_size(&fields, None).map_err(Error::InvalidValue)?;
    super::lost::check_writable(col, &fields)?;
    let id = Uuid::now_v7();
    records::set_local(tx, &col.name, id, &fields, false)?;
    let m = new_mutation(tx, &col.name, id, Op::Put, None, fields)?;
    record_edit(tx, None, &m)?;
    Ok(id)
}

/// Changes some fields of a record in the open transaction; false when
/// every value was already the record's (nothing is written).
pub(crate) fn update_in(
    tx: &Connection,
    col: &Collection,
    id: Uuid,
    changes: Fields,
) -> Result<bool> {
    let before = editable(tx, &col.name, id)?;
    update_loaded(tx, col, before, changes)
}

/// [`update_in`] of a record already loaded (and checked editable).
pub(crate) fn update_loaded(
    tx: &Connection,
    col: &Collection,
    before: LocalRecord,
    changes: Fields,
) -> Result<bool> {
    col.check_fields(&changes).map_err(Error::InvalidValue)?;
    let mut after = before.fields.clone();
    apply_changes(&mut after, &changes);
    col.check_required(&after).map_err(Error::InvalidValue)?;
    // Outside the rows I may write, before or after: the server would refuse it.
    super::lost::check_writable(col, &before.fields)?;
    super::lost::check_writable(col, &after)?;
    // The server would reject it, dropping the edit: refuse it now.
    ferry_protocol::check_field_sizes(&changes).map_err(Error::InvalidValue)?;
    ferry_protocol::check_record_size(&after, Some(&before.fields)).map_err(Error::InvalidValue)?;
    records::set_local(tx, &col.name, before.id, &after, false)?;
    let m = new_mutation(
        tx,
        &col.name,
        before.id,
        Op::Put,
        before.base_version(),
        changes,
    )?;
    record_edit(tx, Some(&before), &m)?;
    Ok(true)
}

pub(crate) fn delete_in(tx: &Connection, collection: &str, id: Uuid) -> Result<()> {
    let before = editable(tx, collection, id)?;
    if let Some(col) = collection_in(tx, collection)? {
        super::lost::check_writable(&col, &before.fields)?;
    }
    records::set_local(tx, collection, id, &before.fields, true)?;
    let m = new_mutation(
        tx,
        collection,
        id,
        Op::Delete,
        before.base_version(),
        Fields::new(),
    )?;
    record_edit(tx, Some(&before), &m)
}

pub(crate) fn restore_in(tx: &Connection, collection: &str, id: Uuid) -> Result<()> {
    let unknown = || Error::UnknownRecord {
        collection: collection.to_string(),
        id: id.to_string(),
    };
    let r = records::load(tx, collection, id)?.ok_or_else(unknown)?;
    if !r.deleted {
        return Ok(());
    }
    if r.state == records::RecordState::Conflict {
        return Err(Error::InConflict {
            collection: collection.to_string(),
            id: id.to_string(),
        });
    }
    let entries = entries_for(tx, collection, id)?;
    let withdrawn = match entries.last() {
        Some(last) if !last.in_flight && last.mutation.op == Op::Delete => {
            delete_entry(tx, last.mutation.mutation_id)?
        }
        _ => false,
    };
    records::set_local(tx, collection, id, &r.fields, false)?;
    let live_base = r.base.as_ref().filter(|b| !b.deleted);
    let changes: Fields = match live_base {
        Some(base) if withdrawn => r
            .fields
            .iter()
            .filter(|(k, v)| !same_value(v, field_value(&base.fields, k)))
            .map(|(k, v)| (k.clone(), v.clone()))
            .chain(
                base.fields
                    .keys()
                    .filter(|k| !r.fields.contains_key(*k))
                    .map(|k| (k.clone(), Value::Null)),
            )
            .collect(),
        _ => r.fields.clone(),
    };
    if changes.is_empty() {
        return Ok(());
    }
    let before = LocalRecord {
        deleted: false,
        ..r.clone()
    };
    let m = new_mutation(tx, collection, id, Op::Put, r.base_version(), changes)?;
    record_edit(tx, Some(&before), &m)
}

/// The changes that differ from the record's values (nothing to write when empty).
pub(crate) fn real_changes(before: &LocalRecord, changes: Fields) -> Fields {
    changes
        .into_iter()
        .filter(|(k, v)| !same_value(field_value(&before.fields, k), v))
        .collect()
}

/// Why a record is left out of an edit of many, or the error that stops it.
fn skip_reason(e: Error) -> Result<String> {
    match e {
        Error::InConflict { .. } => Ok("waiting for your decision on a conflict".into()),
        Error::RecordDeleted { .. } => Ok("deleted".into()),
        Error::UnknownRecord { .. } => Ok("no longer here".into()),
        other => Err(other),
    }
}

impl LocalStore {
    /// Applies `edit` to each record in one transaction: each changes like
    /// a single edit (one outbox entry per record, coalesced with its unsent
    /// one). Records waiting for a decision, deleted or gone are skipped
    /// with the reason; any other error (an invalid value) changes nothing.
    fn edit_many(
        &self,
        collection: &str,
        ids: &[Uuid],
        fields_change: bool,
        mut edit: impl FnMut(&Connection, &Collection, LocalRecord) -> Result<bool>,
    ) -> Result<BulkReport> {
        self.write(|tx| {
            let col = writable(tx, collection)?;
            let mut report = BulkReport::default();
            let mut index = ManyEdits::begin(tx, if fields_change { ids.len() } else { 0 })?;
            for &id in ids {
                let outcome = editable(tx, collection, id).and_then(|r| edit(tx, &col, r));
                match outcome {
                    Ok(true) => {
                        report.changed += 1;
                        index.edited(collection, id);
                    }
                    Ok(false) => {}
                    Err(e) => report.skipped.push(BulkSkip {
                        id,
                        reason: skip_reason(e)?,
                    }),
                }
            }
            index.finish(tx)?;
            Ok(report)
        })
    }

    /// Sets the same values on many records (`null` clears a field).
    pub fn update_many(
        &self,
        collection: &str,
        ids: &[Uuid],
        changes: &Fields,
    ) -> Result<BulkReport> {
        self.edit_many(collection, ids, true, |tx, col, r| {
            let changes = real_changes(&r, changes.clone());
            if changes.is_empty() {
                return Ok(false);
            }
            update_loaded(tx, col, r, changes)
        })
    }

    /// Adds and removes values of a tags field on many records.
    pub fn tag_many(
        &self,
        collection: &str,
        ids: &[Uuid],
        field: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<BulkReport> {
        self.edit_many(collection, ids, true, |tx, col, r| {
            let is_tags = col
                .field(field)
                .is_some_and(|f| f.field_type == ferry_protocol::FieldType::Tags);
            if !is_tags {
                return Err(Error::InvalidValue(format!(
                    "\"{field}\" is not a tags field of {}",
                    col.label
                )));
            }
            let mut tags: Vec<String> = field_value(&r.fields, field)
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            tags.retain(|t| !remove.contains(t));
            for t in add {
                if !tags.contains(t) {
                    tags.push(t.clone());
                }
            }
            let value = if tags.is_empty() {
                Value::Null
            } else {
                Value::from(tags)
            };
            let changes = real_changes(&r, Fields::from_iter([(field.to_string(), value)]));
            if changes.is_empty() {
                return Ok(false);
            }
            update_loaded(tx, col, r, changes)
        })
    }

    /// Deletes many records; [`LocalStore::restore_many`] undoes it.
    pub fn delete_many(&self, collection: &str, ids: &[Uuid]) -> Result<BulkReport> {
        self.edit_many(collection, ids, false, |tx, col, r| {
            delete_in(tx, &col.name, r.id).map(|()| true)
        })
    }

    /// Brings back many deleted records (see [`LocalStore::restore`]).
    pub fn restore_many(&self, collection: &str, ids: &[Uuid]) -> Result<BulkReport> {
        self.write(|tx| {
            writable(tx, collection)?;
            let mut report = BulkReport::default();
            for &id in ids {
                match restore_in(tx, collection, id) {
                    Ok(()) => report.changed += 1,
                    Err(e) => report.skipped.push(BulkSkip {
                        id,
                        reason: skip_reason(e)?,
                    }),
                }
            }
            Ok(report)
        })
    }

    /// Takes back an unsent change: the record returns to its last synced
    /// state (a record never synced is removed). Returns the entry, for
    /// [`LocalStore::reapply`]. An entry being sent cannot be discarded.
    pub fn discard(&self, mutation_id: Uuid) -> Result<OutboxEntry> {
        self.write(|tx| {
            let entry = super::outbox::entry(tx, mutation_id)?.ok_or_else(|| {
                Error::InvalidValue("that change is no longer waiting to be sent".into())
            })?;
            let m = &entry.mutation;
            let entries = entries_for(tx, &m.collection, m.record_id)?;
            if entry.in_flight || entries.iter().any(|e| e.in_flight) {
                return Err(Error::InvalidValue(
                    "that change is being sent right now; wait for the sync to finish".into(),
                ));
            }
            for e in &entries {
                delete_entry(tx, e.mutation.mutation_id)?;
            }
            records::revert_to_base(tx, &m.collection, m.record_id)?;
            Ok(entry)
        })
    }

    /// Makes a discarded change again, as a new edit.
    pub fn reapply(&self, m: &Mutation) -> Result<()> {
        self.write(|tx| {
            let col = writable(tx, &m.collection)?;
            let now = records::load(tx, &m.collection, m.record_id)?;
            match (m.op, now) {
                (Op::Delete, Some(r)) if !r.deleted => delete_in(tx, &m.collection, r.id),
                (Op::Delete, _) => Ok(()),
                (Op::Put, None) => {
                    // A new record discarded: it comes back with its id.
                    let fields: Fields = m
                        .fields
                        .iter()
                        .filter(|(_, v)| !v.is_null())
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    col.check_fields(&fields).map_err(Error::InvalidValue)?;
                    records::set_local(tx, &m.collection, m.record_id, &fields, false)?;
                    let again =
                        new_mutation(tx, &m.collection, m.record_id, Op::Put, None, fields)?;
                    record_edit(tx, None, &again)
                }
                (Op::Put, Some(r)) => {
                    if r.deleted {
                        restore_in(tx, &m.collection, r.id)?;
                    }
                    let r = editable(tx, &m.collection, r.id)?;
                    let changes = real_changes(&r, m.fields.clone());
                    if !changes.is_empty() {
                        update_loaded(tx, &col, r, changes)?;
                    }
                    Ok(())
                }
            }
        })
    }
}
