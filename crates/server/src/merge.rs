//! What to do with one mutation, given the record as the server has it.
//!
//! Pure: no I/O, no clock. Every store calls [`decide`] inside its write
//! transaction, so the rules of DESIGN.md live in exactly one place.

use std::collections::BTreeMap;

use ferry_protocol::fields::{apply_changes, changed_fields, field_value, same_value, set_field};
use ferry_protocol::merge3::{FieldMerge, TextPart, merge_value, settle_clashes};
use ferry_protocol::{
    Access, ConflictKind, ErrorBody, Field, Fields, Hlc, MergeKind, Mutation, MutationResult, Op,
    Policy, Status,
};
use serde_json::Value;

use crate::schema_file::{self, CollectionDef};

/// Codes of rejections that are not remembered: they come before anything
/// about the record is looked at, and say only that this user may not write
/// there. Remembering them would let a user without write access grow the
/// database forever.
const NOT_REMEMBERED: [&str; 3] = ["invalid_collection", "unknown_collection", "forbidden"];

/// Whether a store keeps a mutation's result for replays. A rejection by
/// [`NOT_REMEMBERED`] is not kept: a replay is decided again. That is safe
/// because nothing was written, so nothing can be applied twice; if access
/// was granted (or the collection defined) in between, the replay is applied
/// once, as if it had first arrived then (DESIGN.md, "Wire protocol v1").
pub fn remembered(result: &MutationResult) -> bool {
    !(result.status == Status::Rejected
        && result
            .error
            .as_ref()
            .is_some_and(|e| NOT_REMEMBERED.contains(&e.code.as_str())))
}

/// The record as stored: its latest version.
#[derive(Debug, Clone, PartialEq)]
pub struct Current {
    pub version: i64,
    pub fields: Fields,
    pub deleted: bool,
    /// The client stamp of the write that made this version.
    pub hlc: Hlc,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Write a new version with these (complete) fields.
    Write {
        status: Status,
        fields: Fields,
        deleted: bool,
    },
    /// Nothing to write: the server already holds what the client wants.
    Unchanged {
        status: Status,
    },
    Conflict {
        kind: ConflictKind,
        fields: Vec<String>,
        /// For conflicting fields merged as text: the text with its clashes.
        parts: BTreeMap<String, Vec<TextPart>>,
    },
    Reject(ErrorBody),
}

fn reject(code: &str, message: String) -> Decision {
    Decision::Reject(ErrorBody::new(code, message))
}

/// Decides one mutation. `access` is the user's access to its collection
/// (`None`: none), `def` the collection (`None`: unknown). `base_fields`
/// gives a stored version's fields, used only to name the fields of a
/// delete/edit conflict.
pub fn decide(
    m: &Mutation,
    def: Option<&CollectionDef>,
    access: Option<Access>,
    current: Option<&Current>,
    base_fields: impl FnOnce(i64) -> Option<Fields>,
) -> Decision {
    // Checked first, and never echoed: the name may be anything a client sent.
    if !schema_file::valid_name(&m.collection) {
        return reject(
            "invalid_collection",
            "a collection name starts with a-z and holds only a-z, 0-9 and _ (at most 64 bytes)"
                .to_string(),
        );
    }
    let Some(def) = def else {
        return reject(
            "unknown_collection",
            format!("there is no collection \"{}\"", m.collection),
        );
    };
    if access != Some(Access::Write) {
        return reject(
            "forbidden",
            format!("you may not write to collection \"{}\"", m.collection),
        );
    }
    // A base version of a record the server does not hold: its deletion was
    // forgotten (history retention). An edit of it is an edit of a deleted
    // record; a deletion of it is done already. Base 0 creates it again.
    if let Some(base) = m.base_version
        && base > 0
        && current.is_none()
    {
        return match m.op {
            Op::Put => match check_changes(def, &m.fields) {
                Err(d) => d,
                Ok(()) => {
                    let mut fields: Vec<String> = m.fields.keys().cloned().collect();
                    fields.sort();
                    Decision::Conflict {
                        kind: ConflictKind::EditDelete,
                        fields,
                        parts: BTreeMap::new(),
                    }
                }
            },
            Op::Delete => Decision::Unchanged {
                status: Status::Applied,
            },
        };
    }
    // A base version past the current one: a client that saw versions a
    // restore took away, or an earlier life of a record compaction forgot
    // and someone created again. Its edit merges from the base values it
    // carries, like any edit of an older version.
    if let Some(base) = m.base_version
        && base < 0
    {
        return reject(
            "invalid_base_version",
            format!(
                "base_version {base} is not a version of record {}",
                m.record_id
            ),
        );
    }
    match m.op {
        Op::Put => decide_put(m, def, current),
        Op::Delete => decide_delete(m, current, base_fields),
    }
}

fn check_changes(def: &CollectionDef, changes: &Fields) -> Result<(), Decision> {
    // Clearing a field a migration retired is how the migration empties it.
    let retired =
        |(name, value): (&String, &serde_json::Value)| value.is_null() && def.retired.holds(name);
    let checked;
    let changes = if changes.iter().any(retired) {
        checked = changes
            .iter()
            .filter(|e| !retired(*e))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Fields>();
        &checked
    } else {
        changes
    };
    ferry_protocol::check_fields(&def.name, &def.fields, changes)
        .map_err(|msg| reject("invalid_field", msg))?;
    // Every version is kept and sent: one huge value costs on each of them.
    ferry_protocol::check_field_sizes(changes).map_err(|msg| reject("field_too_large", msg))
}

/// A write of `fields` unless it would leave a required field empty, or
/// grow a record past [`MAX_RECORD_BYTES`] (one already past it, stored
/// before the limit, may still be edited as long as it does not grow).
fn write(def: &CollectionDef, fields: Fields, status: Status, before: Option<&Fields>) -> Decision {
    if let Err(msg) = ferry_protocol::check_required(&def.fields, &fields) {
        return reject("invalid_field", msg);
    }
    if let Err(msg) = ferry_protocol::check_record_size(&fields, before) {
        return reject("record_too_large", msg);
    }
    Decision::Write {
        status,
        fields,
        deleted: false,
    }
}

fn decide_put(m: &Mutation, def: &CollectionDef, current: Option<&Current>) -> Decision {
    if let Err(d) = check_changes(def, &m.fields) {
        return d;
    }
    // `decide` already answered a base version for a record that does not exist.
    let Some(current) = current else {
        let mut fields = Fields::new();
        apply_changes(&mut fields, &m.fields);
        return write(def, fields, Status::Applied, None);
    };
    // A create of a record that already exists merges as an edit of "nothing".
    let base_version = m.base_version.unwrap_or(0);
    if current.deleted {
        if base_version != current.version {
            let mut fields: Vec<String> = m.fields.keys().cloned().collect();
            fields.sort();
            return Decision::Conflict {
                kind: ConflictKind::EditDelete,
                fields,
                parts: BTreeMap::new(),
            };
        }
        // The client saw the deletion and edits anyway: a restore.
        let mut fields = current.fields.clone();
        apply_changes(&mut fields, &m.fields);
        return write(def, fields, Status::Applied, Some(&current.fields));
    }
    if base_version == current.version {
        let mut fields = current.fields.clone();
        apply_changes(&mut fields, &m.fields);
        if fields == current.fields {
            return Decision::Unchanged {
                status: Status::Applied,
            };
        }
        return write(def, fields, Status::Applied, Some(&current.fields));
    }
    let mut merged = current.fields.clone();
    let mut conflicts = Vec::new();
    let mut parts = BTreeMap::new();
    let mut changed = false;
    for (name, mine) in &m.fields {
        let theirs = field_value(&current.fields, name);
        let base = field_value(&m.base, name);
        let kind = def.field(name).map_or(MergeKind::Whole, Field::merge_kind);
        let value = match merge_value(kind, base, mine, theirs) {
            FieldMerge::Merged(v) => v,
            // Each clashing stretch of a text, or the whole value, goes to the later stamp.
            FieldMerge::Clash(text) if def.policy == Policy::NewestWins => {
                let newer = m.hlc > current.hlc;
                if !text.is_empty() {
                    Value::String(settle_clashes(&text, newer))
                } else if newer {
                    mine.clone()
                } else {
                    continue;
                }
            }
            FieldMerge::Clash(text) => {
                conflicts.push(name.clone());
                if !text.is_empty() {
                    parts.insert(name.clone(), text);
                }
                continue;
            }
        };
        if !same_value(&value, theirs) {
            set_field(&mut merged, name, value);
            changed = true;
        }
    }
    if !conflicts.is_empty() {
        conflicts.sort();
        return Decision::Conflict {
            kind: ConflictKind::EditEdit,
            fields: conflicts,
            parts,
        };
    }
    if !changed {
        return Decision::Unchanged {
            status: Status::Merged,
        };
    }
    write(def, merged, Status::Merged, Some(&current.fields))
}

fn decide_delete(
    m: &Mutation,
    current: Option<&Current>,
    base_fields: impl FnOnce(i64) -> Option<Fields>,
) -> Decision {
    let Some(current) = current else {
        return reject(
            "unknown_record",
            format!("record {} does not exist", m.record_id),
        );
    };
    if current.deleted {
        return Decision::Unchanged {
            status: Status::Applied,
        };
    }
    match m.base_version {
        Some(base) if base != current.version => {
            let fields = base_fields(base)
                .map(|b| changed_fields(&b, &current.fields))
                .unwrap_or_default();
            Decision::Conflict {
                kind: ConflictKind::DeleteEdit,
                fields,
                parts: BTreeMap::new(),
            }
        }
        _ => Decision::Write {
            status: Status::Applied,
            fields: current.fields.clone(),
            deleted: true,
        },
    }
}

#[cfg(test)]
mod tests;
