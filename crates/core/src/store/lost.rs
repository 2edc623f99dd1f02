//! Records that left my view (row rules, DESIGN.md "Row rules"): a record
//! removed by the server leaves this device, unless something of mine waits
//! on it (unsent edits, a conflict, a refused edit). Then it stays, as a
//! `lost_access` conflict holding my edits, until I export them, copy them
//! as a new record where I may write, or discard them. The same happens to
//! an edit the server refuses as `forbidden`. No edit is ever dropped
//! without my say.

use std::path::Path;

use ferry_protocol::fields::field_value;
use ferry_protocol::{Collection, ConflictKind, Fields, Mutation, Op, Record, Removed};
use rusqlite::{Connection, params};
use serde_json::json;
use uuid::Uuid;

use super::outbox::{delete_entry, entries_for, insert_entry};
use super::records::{self, to_json};
use super::{hlc, now_rfc3339, write_private};
use crate::error::{Error, Result};
use crate::model::{Conflict, Resolution};

/// The format name of an export of lost edits.
pub const LOST_EDITS_FORMAT: &str = "ferry-lost-edits-1";

/// Takes a record off this device: its row, its conflict, its unsent edits.
pub(crate) fn remove(c: &Connection, collection: &str, id: Uuid) -> Result<()> {
    let id = id.to_string();
    for sql in [
        "DELETE FROM outbox WHERE collection = ?1 AND record_id = ?2 AND in_flight = 0",
        "DELETE FROM conflicts WHERE collection = ?1 AND record_id = ?2",
        "DELETE FROM records WHERE collection = ?1 AND id = ?2",
    ] {
        c.prepare_cached(sql)?.execute(params![collection, id])?;
    }
    Ok(())
}

/// Applies a page's removals: each record leaves, or stays as a
/// `lost_access` conflict when something of mine waits on it. Returns how
/// many records changed.
pub(crate) fn apply_removed(c: &Connection, removed: &[Removed]) -> Result<usize> {
    let mut changed = 0;
    for r in removed {
        let id = r.id.to_string();
        if records::local_row(c, &r.collection, &id)?.is_none() {
            continue;
        }
        if records::has_local_changes(c, &r.collection, &id)? {
            keep(c, &r.collection, r.id, None)?;
            c.prepare_cached(
                "UPDATE conflicts SET gone = 1 WHERE collection = ?1 AND record_id = ?2",
            )?
            .execute(params![r.collection, id])?;
        } else {
            remove(c, &r.collection, r.id)?;
        }
        changed += 1;
    }
    Ok(changed)
}

/// Keeps my edits of a record I may no longer see or write as a
/// `lost_access` conflict: those waiting in the outbox (they leave it),
/// those of an earlier conflict, and `refused`, an edit the server just
/// refused (already out of the outbox).
pub(crate) fn keep(
    c: &Connection,
    collection: &str,
    id: Uuid,
    refused: Option<&Mutation>,
) -> Result<()> {
    let Some(local) = records::load(c, collection, id)? else {
        return Ok(());
    };
    let mut changes = Fields::new();
    let mut op = Op::Put;
    let earlier = c
        .prepare_cached(
            "SELECT mine_op, mine_changes, gone FROM conflicts WHERE collection = ?1 AND record_id = ?2",
        )?
        .query_row(params![collection, id.to_string()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, bool>(2)?))
        });
    let mut gone = false;
    match earlier {
        Ok((mine_op, mine_changes, was_gone)) => {
            gone = was_gone;
            let earlier: Fields = serde_json::from_str(&mine_changes)
                .map_err(|e| Error::Inconsistent(format!("conflict: {e}")))?;
            changes.extend(earlier);
            if mine_op == "delete" {
                op = Op::Delete;
            }
        }
        Err(rusqlite::Error::QueryReturnedNoRows) => {}
        Err(e) => return Err(e.into()),
    }
    let pending = entries_for(c, collection, id)?;
    for m in refused
        .into_iter()
        .chain(pending.iter().filter(|e| !e.in_flight).map(|e| &e.mutation))
    {
        changes.extend(m.fields.clone());
        if m.op == Op::Delete {
            op = Op::Delete;
        }
    }
    for e in pending.iter().filter(|e| !e.in_flight) {
        delete_entry(c, e.mutation.mutation_id)?;
    }
    // A record the server never had (a refused create): nothing of theirs.
    let theirs = match local.base.clone() {
        Some(base) => base,
        None => Record {
            collection: collection.to_string(),
            id,
            version: 0,
            fields: Fields::new(),
            deleted: false,
            updated_at: ferry_protocol::Hlc::zero("local")
                .ok_or_else(|| Error::Inconsistent("the zero stamp".into()))?,
            updated_by: String::new(),
            merged_from: None,
        },
    };
    let base: Fields = changes
        .keys()
        .map(|k| (k.clone(), field_value(&theirs.fields, k).clone()))
        .collect();
    let fields: Vec<&String> = changes.keys().collect();
    c.prepare_cached(
        "INSERT OR REPLACE INTO conflicts (collection, record_id, kind, fields, base_version, base, mine_op, mine,
                                           mine_changes, theirs, created_at, gone)
         VALUES (?1, ?2, 'lost_access', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        collection,
        id.to_string(),
        to_json(&fields)?,
        local.base_version(),
        to_json(&base)?,
        if op == Op::Delete { "delete" } else { "put" },
        to_json(&local.fields)?,
        to_json(&changes)?,
        to_json(&theirs)?,
        now_rfc3339(),
        gone
    ])?;
    records::set_error(c, collection, id, None)?;
    Ok(())
}

/// Writes `bytes` to `path` whole or not at all: a temporary file beside
/// it, then a rename.
fn write_whole(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let part = path.with_file_name(format!(".{name}.part"));
    write_private(&part, bytes)?;
    std::fs::rename(&part, path).map_err(|e| {
        let _ = std::fs::remove_file(&part);
        Error::io(format!("cannot write {}", path.display()), e)
    })
}

/// The partition values `rows.write` of the collection lets me write, and
/// its field, when my rows are limited.
fn writable(col: &Collection) -> Option<(&str, &[String])> {
    let rows = col.rows.as_ref()?;
    Some((rows.field.as_str(), rows.write.as_deref()?))
}

/// Whether I may read a record of `col` holding `fields` (my rows say so,
/// or are not limited).
pub(crate) fn readable(col: &Collection, fields: &Fields) -> bool {
    col.rows.as_ref().is_none_or(|rows| {
        ferry_protocol::Rows::admits(rows.read.as_deref(), fields.get(&rows.field))
    })
}

/// Refuses fields that would place a record outside the rows I may write.
pub(crate) fn check_writable(col: &Collection, fields: &Fields) -> Result<()> {
    let Some((field, values)) = writable(col) else {
        return Ok(());
    };
    if ferry_protocol::Rows::admits(Some(values), fields.get(field)) {
        return Ok(());
    }
    let label = col.field(field).map_or(field, |f| f.label.as_str());
    let message = if values.is_empty() {
        format!("you may not add or change records in {}", col.label)
    } else {
        format!(
            "you may write only {} whose {label} is {}",
            col.label.to_lowercase(),
            values.join(", ")
        )
    };
    Err(Error::InvalidField {
        field: field.to_string(),
        message,
    })
}

/// Settles a `lost_access` conflict; returns the id of a copy it made.
pub(crate) fn resolve(
    c: &Connection,
    conflict: &Conflict,
    col: &Collection,
    resolution: &Resolution,
) -> Result<Option<Uuid>> {
    let (collection, id) = (conflict.collection.as_str(), conflict.record_id);
    let copy = match resolution {
        Resolution::Export { path } => {
            let export = json!({
                "format": LOST_EDITS_FORMAT,
                "exported_at": now_rfc3339(),
                "collection": collection,
                "id": id,
                "title": field_value(&conflict.mine, &col.title_field),
                "base_version": conflict.base_version,
                "fields": conflict.mine,
                "changes": conflict.mine_changes,
            });
            let text = serde_json::to_string_pretty(&export)
                .map_err(|e| Error::Inconsistent(e.to_string()))?;
            write_whole(path, text.as_bytes())?;
            None
        }
        Resolution::CopyAsNew { set } => Some(copy_as_new(c, conflict, col, set)?),
        Resolution::KeepBoth => Some(copy_as_new(c, conflict, col, &Fields::new())?),
        Resolution::Discard | Resolution::Theirs => None,
        Resolution::Mine
        | Resolution::Restore
        | Resolution::AcceptDelete
        | Resolution::Fields(_) => {
            return Err(Error::InvalidResolution(
                "you may no longer see or edit this record: export your edits to a file (--export FILE), copy them as a new record (--copy), or discard them (--discard)"
                    .into(),
            ));
        }
    };
    settle(c, collection, id)?;
    Ok(copy)
}

/// After a `lost_access` resolution: a record the server took out of my
/// view leaves this device; one whose edit it only refused shows the
/// server's version again (I may still see it).
fn settle(c: &Connection, collection: &str, id: Uuid) -> Result<()> {
    let gone: bool = c
        .prepare_cached("SELECT gone FROM conflicts WHERE collection = ?1 AND record_id = ?2")?
        .query_row(params![collection, id.to_string()], |r| r.get(0))?;
    if gone {
        return remove(c, collection, id);
    }
    c.prepare_cached(
        "DELETE FROM outbox WHERE collection = ?1 AND record_id = ?2 AND in_flight = 0",
    )?
    .execute(params![collection, id.to_string()])?;
    c.prepare_cached("DELETE FROM conflicts WHERE collection = ?1 AND record_id = ?2")?
        .execute(params![collection, id.to_string()])?;
    records::revert_to_base(c, collection, id)
}

/// My version of the record, with `set` over it, as a new record queued
/// for the server.
fn copy_as_new(
    c: &Connection,
    conflict: &Conflict,
    col: &Collection,
    set: &Fields,
) -> Result<Uuid> {
    col.check_fields(set).map_err(Error::InvalidValue)?;
    let mut fields: Fields = conflict
        .mine
        .iter()
        .filter(|(k, v)| col.field(k).is_some() && !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, v) in set {
        if v.is_null() {
            fields.remove(k);
        } else {
            fields.insert(k.clone(), v.clone());
        }
    }
    col.check_required(&fields).map_err(Error::InvalidValue)?;
    check_writable(col, &fields)?;
    let copy = Uuid::now_v7();
    records::set_local(c, &col.name, copy, &fields, false)?;
    insert_entry(
        c,
        &Mutation {
            mutation_id: Uuid::now_v7(),
            collection: col.name.clone(),
            record_id: copy,
            op: Op::Put,
            base_version: None,
            base: Fields::new(),
            fields,
            hlc: hlc::tick(c)?,
        },
    )?;
    Ok(copy)
}

/// Whether a stored conflict is of my lost access (its kind is kept as
/// stored, not worked out from the server's state).
pub(crate) fn is_lost(kind: ConflictKind) -> bool {
    kind == ConflictKind::LostAccess
}
