//! Conflicts the server reported, and their resolution.
//!
//! A conflict keeps the three versions a person needs to decide: the base
//! (what the edit started from), mine (the local value and what I changed)
//! and theirs (the server's latest state, kept current by pulls). A
//! resolution becomes one new outbox entry based on the server's current
//! version, written in the same transaction that removes the conflict.

use std::collections::BTreeMap;

use ferry_protocol::fields::{field_value, same_value, set_field, with_changes};
use ferry_protocol::merge3::{FieldMerge, merge_value, settle_clashes};
use ferry_protocol::{Collection, ConflictKind, Field, Fields, MergeKind, Mutation, Op, Record};
use rusqlite::{Connection, Row, params};
use serde_json::Value;
use uuid::Uuid;

use super::outbox::{entries_for, insert_entry};
use super::records::{self, parse_uuid, to_json};
use super::schema::collection_in;
use super::{LocalStore, hlc, now_rfc3339};
use crate::error::{Error, Result};
use crate::model::{Conflict, FieldChoice, Resolution};

fn kind_name(k: ConflictKind) -> &'static str {
    match k {
        ConflictKind::EditEdit => "edit_edit",
        ConflictKind::EditDelete => "edit_delete",
        ConflictKind::DeleteEdit => "delete_edit",
        ConflictKind::LostAccess => "lost_access",
    }
}

fn parse<T: serde::de::DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| Error::Inconsistent(format!("conflict: {e}")))
}

const CONFLICT_SELECT: &str =
    "SELECT collection, record_id, kind, fields, base_version, base, mine_op, mine, mine_changes,
    theirs, created_at FROM conflicts";

fn from_row(row: &Row<'_>) -> Result<Conflict> {
    Ok(Conflict {
        collection: row.get(0)?,
        record_id: parse_uuid(&row.get::<_, String>(1)?)?,
        kind: parse(&format!("\"{}\"", row.get::<_, String>(2)?))?,
        fields: parse(&row.get::<_, String>(3)?)?,
        base_version: row.get(4)?,
        base: parse(&row.get::<_, String>(5)?)?,
        mine_op: parse(&format!("\"{}\"", row.get::<_, String>(6)?))?,
        mine: parse(&row.get::<_, String>(7)?)?,
        mine_changes: parse(&row.get::<_, String>(8)?)?,
        theirs: parse(&row.get::<_, String>(9)?)?,
        created_at: row.get(10)?,
        parts: BTreeMap::new(),
    })
}

fn kind_of(col: Option<&Collection>, name: &str) -> MergeKind {
    col.and_then(|c| c.field(name))
        .map_or(MergeKind::Whole, Field::merge_kind)
}

/// How each field I changed meets theirs, by the field's merge kind: the
/// same rules as the server's (`merge3::merge_value`).
fn merges(col: Option<&Collection>, k: &Conflict, theirs: &Fields) -> Vec<(String, FieldMerge)> {
    k.mine_changes
        .iter()
        .map(|(name, mine)| {
            let merged = merge_value(
                kind_of(col, name),
                field_value(&k.base, name),
                mine,
                field_value(theirs, name),
            );
            (name.clone(), merged)
        })
        .collect()
}

/// Fills in the parts of the conflict's clashing text fields.
fn with_parts(c: &Connection, mut k: Conflict) -> Result<Conflict> {
    if k.kind != ConflictKind::EditEdit {
        return Ok(k);
    }
    let col = collection_in(c, &k.collection)?;
    for (name, merged) in merges(col.as_ref(), &k, &k.theirs.fields) {
        if let FieldMerge::Clash(parts) = merged
            && !parts.is_empty()
            && k.fields.contains(&name)
        {
            k.parts.insert(name, parts);
        }
    }
    Ok(k)
}

/// Stores a conflict for a pushed entry (replacing an older one for the record).
pub(crate) fn insert(
    c: &Connection,
    m: &Mutation,
    kind: ConflictKind,
    fields: &[String],
    mine: &Fields,
    mine_changes: &Fields,
    theirs: &Record,
) -> Result<()> {
    let op = match m.op {
        Op::Put => "put",
        Op::Delete => "delete",
    };
    c.prepare_cached(
        "INSERT OR REPLACE INTO conflicts (collection, record_id, kind, fields, base_version, base, mine_op, mine,
                                           mine_changes, theirs, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        m.collection,
        m.record_id.to_string(),
        kind_name(kind),
        to_json(&fields)?,
        m.base_version,
        to_json(&m.base)?,
        op,
        to_json(mine)?,
        to_json(mine_changes)?,
        to_json(theirs)?,
        now_rfc3339()
    ])?;
    Ok(())
}

/// The kind of a conflict as things stand now: since it was reported the
/// server may have deleted the record, or someone may have restored it.
fn kind_now(mine_op: Op, theirs: &Record) -> ConflictKind {
    match (mine_op, theirs.deleted) {
        (Op::Put, true) => ConflictKind::EditDelete,
        (Op::Put, false) => ConflictKind::EditEdit,
        (Op::Delete, _) => ConflictKind::DeleteEdit,
    }
}

/// Brings a conflict in line with a newly pulled "theirs": its kind and
/// fields follow the server's latest state, and a conflict that no longer
/// exists (the server now holds what I wanted) is settled.
pub(crate) fn refresh(c: &Connection, collection: &str, id: Uuid) -> Result<()> {
    let k = load(c, collection, id)?;
    let theirs = &k.theirs;
    let kind = kind_now(k.mine_op, theirs);
    let fields: Vec<String> = match kind {
        ConflictKind::EditDelete | ConflictKind::LostAccess => {
            k.mine_changes.keys().cloned().collect()
        }
        ConflictKind::EditEdit => {
            let col = collection_in(c, collection)?;
            let mut differ = Vec::new();
            let mut both = Vec::new();
            for (name, merged) in merges(col.as_ref(), &k, &theirs.fields) {
                match merged {
                    FieldMerge::Merged(v) if same_value(&v, field_value(&theirs.fields, &name)) => {
                    }
                    FieldMerge::Merged(_) => differ.push(name),
                    FieldMerge::Clash(_) => both.push(name),
                }
            }
            // Clashes need a person; fields that merge are still mine to send.
            if both.is_empty() && differ.is_empty() {
                return settle(c, collection, id);
            }
            if both.is_empty() { differ } else { both }
        }
        ConflictKind::DeleteEdit if theirs.deleted => {
            return settle(c, collection, id);
        }
        ConflictKind::DeleteEdit => k.fields.clone(),
    };
    let mut fields = fields;
    fields.sort();
    c.prepare_cached(
        "UPDATE conflicts SET kind = ?3, fields = ?4 WHERE collection = ?1 AND record_id = ?2",
    )?
    .execute(params![
        collection,
        id.to_string(),
        kind_name(kind),
        to_json(&fields)?
    ])?;
    Ok(())
}

/// Removes a conflict the server has made moot: the record shows the
/// server's state (its base) unless later edits wait to be sent.
fn settle(c: &Connection, collection: &str, id: Uuid) -> Result<()> {
    c.execute(
        "DELETE FROM conflicts WHERE collection = ?1 AND record_id = ?2",
        params![collection, id.to_string()],
    )?;
    // Later edits still waiting to be sent stay on show.
    if !entries_for(c, collection, id)?.is_empty() {
        return Ok(());
    }
    c.prepare_cached(
        "UPDATE records SET fields = coalesce(base_fields, fields), deleted = base_deleted,
            base_fields = NULL, error = NULL
         WHERE collection = ?1 AND id = ?2",
    )?
    .execute(params![collection, id.to_string()])?;
    Ok(())
}

/// A stored conflict without its text parts: refresh and resolve merge
/// against the latest "theirs" themselves.
fn load(c: &Connection, collection: &str, id: Uuid) -> Result<Conflict> {
    let mut stmt = c.prepare_cached(&format!(
        "{CONFLICT_SELECT} WHERE collection = ?1 AND record_id = ?2"
    ))?;
    let mut rows = stmt.query(params![collection, id.to_string()])?;
    match rows.next()? {
        Some(row) => from_row(row),
        None => Err(Error::NoConflict {
            collection: collection.to_string(),
            id: id.to_string(),
        }),
    }
}

/// Theirs with my changes, each merged by its field's kind; where a field
/// clashes my side wins (for a text, only its clashing stretches).
fn merged_with(merged: &BTreeMap<String, FieldMerge>, k: &Conflict, theirs: &Fields) -> Fields {
    let mut target = theirs.clone();
    for (name, merged) in merged {
        let value = match merged {
            FieldMerge::Merged(v) => v.clone(),
            FieldMerge::Clash(parts) if !parts.is_empty() => {
                Value::String(settle_clashes(parts, true))
            }
            FieldMerge::Clash(_) => field_value(&k.mine_changes, name).clone(),
        };
        set_field(&mut target, name, value);
    }
    target
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::InvalidResolution(msg.into())
}

/// What the record should become on the server, and locally.
enum Outcome {
    /// Live with these fields.
    Live(Fields),
    Deleted,
}

impl LocalStore {
    /// Every conflict, oldest first.
    pub fn conflicts(&self) -> Result<Vec<Conflict>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "{CONFLICT_SELECT} ORDER BY created_at, collection, record_id"
            ))?;
            let mut rows = stmt.query([])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(with_parts(c, from_row(row)?)?);
            }
            Ok(out)
        })
    }

    pub fn conflict(&self, collection: &str, id: Uuid) -> Result<Conflict> {
        self.read(|c| with_parts(c, load(c, collection, id)?))
    }

    /// Settles a conflict. The result is queued as a new outbox entry based on
    /// the server's current version; for keep-both, returns the new record's id.
    pub fn resolve(
        &self,
        collection: &str,
        id: Uuid,
        resolution: &Resolution,
    ) -> Result<Option<Uuid>> {
        self.write(|tx| {
            let conflict = load(tx, collection, id)?;
            let record = records::load(tx, collection, id)?
                .ok_or_else(|| Error::UnknownRecord { collection: collection.to_string(), id: id.to_string() })?;
            // The base is the latest server state seen; it is at least as new as the conflict's "theirs".
            let theirs = record.base.clone().unwrap_or_else(|| conflict.theirs.clone());
            let col = collection_in(tx, collection)?.ok_or_else(|| Error::UnknownCollection(collection.to_string()))?;
            let mut kept_copy = None;
            let kind = kind_now(conflict.mine_op, &theirs);
            // How each of my fields meets theirs, worked out once (text merges cost).
            let merged: BTreeMap<String, FieldMerge> = if kind == ConflictKind::EditEdit {
                merges(Some(&col), &conflict, &theirs.fields).into_iter().collect()
            } else {
                BTreeMap::new()
            };
            if super::lost::is_lost(conflict.kind) {
                return super::lost::resolve(tx, &conflict, &col, resolution);
            }
            let outcome = match (kind, resolution) {
                (ConflictKind::LostAccess, _) | (_, Resolution::Export { .. } | Resolution::CopyAsNew { .. } | Resolution::Discard) => {
                    return Err(invalid("export, copy and discard are for records you may no longer see; this conflict is settled with --mine, --theirs, --field, --keep-both, --restore or --accept-delete"));
                }
                // Both sides deleted it: nothing is left to settle.
                (ConflictKind::DeleteEdit, _) if theirs.deleted => Outcome::Deleted,
                (ConflictKind::EditEdit, Resolution::Mine) => Outcome::Live(merged_with(&merged, &conflict, &theirs.fields)),
                (ConflictKind::EditEdit, Resolution::Theirs) => Outcome::Live(theirs.fields.clone()),
                (ConflictKind::EditEdit, Resolution::Fields(choices)) => {
                    if let Some((n, _)) = choices.iter().find(|(n, _)| !conflict.fields.contains(n)) {
                        return Err(invalid(format!(
                            "field \"{n}\" is not in conflict (conflicting: {})",
                            conflict.fields.join(", ")
                        )));
                    }
                    let mut target = merged_with(&merged, &conflict, &theirs.fields);
                    for name in &conflict.fields {
                        let choice = choices
                            .iter()
                            .find(|(n, _)| n == name)
                            .map(|(_, c)| c)
                            .ok_or_else(|| invalid(format!("say how to settle field \"{name}\": mine, theirs, or the final value")))?;
                        // A text keeps what merged cleanly, only its clashing stretches take a side;
                        // a field that merges whole (tags) is mine with theirs' changes in it.
                        let value = match (choice, merged.get(name)) {
                            (FieldChoice::Value(v), _) => v.clone(),
                            (FieldChoice::Mine, Some(FieldMerge::Clash(parts))) if !parts.is_empty() => Value::String(settle_clashes(parts, true)),
                            (FieldChoice::Theirs, Some(FieldMerge::Clash(parts))) if !parts.is_empty() => Value::String(settle_clashes(parts, false)),
                            (FieldChoice::Mine, Some(FieldMerge::Merged(v))) => v.clone(),
                            (FieldChoice::Mine, _) => field_value(&conflict.mine_changes, name).clone(),
                            (FieldChoice::Theirs, _) => field_value(&theirs.fields, name).clone(),
                        };
                        set_field(&mut target, name, value);
                    }
                    Outcome::Live(target)
                }
                (ConflictKind::EditEdit | ConflictKind::EditDelete, Resolution::KeepBoth) => {
                    kept_copy = Some(conflict.mine.clone());
                    if kind == ConflictKind::EditDelete { Outcome::Deleted } else { Outcome::Live(theirs.fields.clone()) }
                }
                // The record as it was last, with my changes: edits others made before the deletion stay.
                (ConflictKind::EditDelete, Resolution::Mine | Resolution::Restore) if !theirs.fields.is_empty() => {
                    Outcome::Live(with_changes(&theirs.fields, &conflict.mine_changes))
                }
                (ConflictKind::EditDelete, Resolution::Mine | Resolution::Restore) => Outcome::Live(conflict.mine.clone()),
                (ConflictKind::EditDelete, Resolution::Theirs | Resolution::AcceptDelete) => Outcome::Deleted,
                (ConflictKind::DeleteEdit, Resolution::Mine | Resolution::AcceptDelete) => Outcome::Deleted,
                (ConflictKind::DeleteEdit, Resolution::Theirs | Resolution::Restore) => Outcome::Live(theirs.fields.clone()),
                (ConflictKind::EditEdit, Resolution::Restore | Resolution::AcceptDelete) => {
                    return Err(invalid("this is an edit/edit conflict: use --mine, --theirs, --field or --keep-both"));
                }
                (ConflictKind::EditDelete, Resolution::Fields(_)) => {
                    return Err(invalid("the server deleted this record: use --restore, --accept-delete or --keep-both"));
                }
                (ConflictKind::DeleteEdit, Resolution::Fields(_) | Resolution::KeepBoth) => {
                    return Err(invalid("you deleted a record the server changed: use --restore or --accept-delete"));
                }
            };
            tx.execute(
                "DELETE FROM conflicts WHERE collection = ?1 AND record_id = ?2",
                params![collection, id.to_string()],
            )?;
            records::set_error(tx, collection, id, None)?;
            let hlc = hlc::tick(tx)?;
            match outcome {
                Outcome::Live(fields) => {
                    col.check_fields(&fields.iter().filter(|(k, _)| col.field(k).is_some()).map(|(k, v)| (k.clone(), v.clone())).collect())
                        .map_err(Error::InvalidValue)?;
                    col.check_required(&fields).map_err(Error::InvalidValue)?;
                    records::set_local(tx, collection, id, &fields, false)?;
                    let mut changes = Fields::new();
                    for name in fields.keys().chain(theirs.fields.keys()) {
                        let (mine, server) = (field_value(&fields, name), field_value(&theirs.fields, name));
                        if !same_value(mine, server) {
                            changes.insert(name.clone(), mine.clone());
                        }
                    }
                    if !changes.is_empty() || theirs.deleted {
                        let base = changes.keys().map(|k| (k.clone(), field_value(&theirs.fields, k).clone())).collect();
                        insert_entry(tx, &Mutation {
                            mutation_id: Uuid::now_v7(),
                            collection: collection.to_string(),
                            record_id: id,
                            op: Op::Put,
                            base_version: Some(theirs.version),
                            base,
                            fields: changes,
                            hlc: hlc.clone(),
                        })?;
                    }
                }
                Outcome::Deleted => {
                    records::set_local(tx, collection, id, &theirs.fields, true)?;
                    if !theirs.deleted {
                        insert_entry(tx, &Mutation {
                            mutation_id: Uuid::now_v7(),
                            collection: collection.to_string(),
                            record_id: id,
                            op: Op::Delete,
                            base_version: Some(theirs.version),
                            base: Fields::new(),
                            fields: Fields::new(),
                            hlc: hlc.clone(),
                        })?;
                    }
                }
            }
            if let Some(mine) = kept_copy {
                // Only the fields the schema still has; required ones must be there.
                let fields: Fields = mine.into_iter().filter(|(k, v)| col.field(k).is_some() && !v.is_null()).collect();
                col.check_required(&fields).map_err(Error::InvalidValue)?;
                let copy = Uuid::now_v7();
                records::set_local(tx, collection, copy, &fields, false)?;
                insert_entry(tx, &Mutation {
                    mutation_id: Uuid::now_v7(),
                    collection: collection.to_string(),
                    record_id: copy,
                    op: Op::Put,
                    base_version: None,
                    base: Fields::new(),
                    fields,
                    hlc: hlc::tick(tx)?,
                })?;
                return Ok(Some(copy));
            }
            Ok(None)
        })
    }
}
