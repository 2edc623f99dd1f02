//! Local edits and the durable outbox.
//!
//! A local edit is one transaction: the record's local value changes and an
//! outbox entry is appended, or merged into the record's unsent entry (the
//! first entry's base is kept). An entry in flight — handed to a push whose
//! answer is not stored yet — is never modified, and an entry leaves the
//! outbox only in the transaction that stores its acknowledgement. Every
//! entry carries a `mutation_id`, so re-sending after a crash or a lost
//! response is always safe.

use ferry_protocol::{Access, Collection, Fields, Mutation, Op};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::store::records::{self, LocalRecord, parse_uuid, to_json};
use crate::store::schema::collection_in;
use crate::store::{LocalStore, now_rfc3339};

/// One outbox entry: a mutation waiting to be acknowledged.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxEntry {
    pub seq: i64,
    /// Handed to a push whose answer is not stored yet.
    pub in_flight: bool,
    pub created_at: String,
    pub mutation: Mutation,
}

/// JSON equality where `1` and `1.0` are the same number (as the server compares).
pub(crate) fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_value(a, b))
        }
        _ => a == b,
    }
}

pub(crate) fn get<'a>(fields: &'a Fields, name: &str) -> &'a Value {
    fields.get(name).unwrap_or(&Value::Null)
}

/// Sets changed fields; `null` removes a value (as the server does).
pub(crate) fn apply_changes(fields: &mut Fields, changes: &Fields) {
    for (name, value) in changes {
        if value.is_null() {
            fields.remove(name);
        } else {
            fields.insert(name.clone(), value.clone());
        }
    }
}

const ENTRY_SELECT: &str = "SELECT seq, in_flight, created_at, mutation_id, collection, record_id, op, base_version, base, fields, hlc FROM outbox";

fn op_name(op: Op) -> &'static str {
    match op {
        Op::Put => "put",
        Op::Delete => "delete",
    }
}

fn parse_op(s: &str) -> Result<Op> {
    match s {
        "put" => Ok(Op::Put),
        "delete" => Ok(Op::Delete),
        other => Err(Error::Inconsistent(format!("unknown outbox op {other:?}"))),
    }
}

fn json_fields(s: &str) -> Result<Fields> {
    serde_json::from_str(s).map_err(|e| Error::Inconsistent(format!("outbox entry: {e}")))
}

fn entry_from_row(row: &Row<'_>) -> Result<OutboxEntry> {
    let hlc: String = row.get(10)?;
    Ok(OutboxEntry {
        seq: row.get(0)?,
        in_flight: row.get(1)?,
        created_at: row.get(2)?,
        mutation: Mutation {
            mutation_id: parse_uuid(&row.get::<_, String>(3)?)?,
            collection: row.get(4)?,
            record_id: parse_uuid(&row.get::<_, String>(5)?)?,
            op: parse_op(&row.get::<_, String>(6)?)?,
            base_version: row.get(7)?,
            base: json_fields(&row.get::<_, String>(8)?)?,
            fields: json_fields(&row.get::<_, String>(9)?)?,
            hlc: hlc
                .parse()
                .map_err(|e: ferry_protocol::HlcError| Error::Inconsistent(e.to_string()))?,
        },
    })
}

pub(crate) fn entries_for(c: &Connection, collection: &str, id: Uuid) -> Result<Vec<OutboxEntry>> {
    let mut stmt = c.prepare_cached(&format!(
        "{ENTRY_SELECT} WHERE collection = ?1 AND record_id = ?2 ORDER BY seq"
    ))?;
    let mut rows = stmt.query(params![collection, id.to_string()])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(entry_from_row(row)?);
    }
    Ok(out)
}

pub(crate) fn insert_entry(c: &Connection, m: &Mutation) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO outbox (mutation_id, collection, record_id, op, base_version, base, fields, hlc, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        m.mutation_id.to_string(),
        m.collection,
        m.record_id.to_string(),
        op_name(m.op),
        m.base_version,
        to_json(&m.base)?,
        to_json(&m.fields)?,
        m.hlc.to_string(),
        now_rfc3339()
    ])?;
    Ok(())
}

/// Rewrites an entry that is not in flight.
pub(crate) fn update_entry(c: &Connection, seq: i64, m: &Mutation) -> Result<()> {
    c.prepare_cached(
        "UPDATE outbox SET op = ?2, base_version = ?3, base = ?4, fields = ?5, hlc = ?6 WHERE seq = ?1 AND in_flight = 0",
    )?
    .execute(params![seq, op_name(m.op), m.base_version, to_json(&m.base)?, to_json(&m.fields)?, m.hlc.to_string()])?;
    Ok(())
}

pub(crate) fn delete_entry(c: &Connection, mutation_id: Uuid) -> Result<bool> {
    Ok(
        c.prepare_cached("DELETE FROM outbox WHERE mutation_id = ?1")?
            .execute([mutation_id.to_string()])?
            > 0,
    )
}

/// The base values of `names` in the record's base (null where it has none).
fn base_values(record: Option<&LocalRecord>, names: impl Iterator<Item = String>) -> Fields {
    let base = record.and_then(|r| r.base.as_ref());
    names
        .map(|n| {
            let v = base.map_or(Value::Null, |b| get(&b.fields, &n).clone());
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
                // Created and deleted before the server ever saw it: nothing to send.
                delete_entry(c, last.mutation.mutation_id)?;
                c.execute(
                    "DELETE FROM records WHERE collection = ?1 AND id = ?2",
                    params![m.collection, m.record_id.to_string()],
                )?;
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
                    && !same_value(get(&r.fields, &k), get(base_fields, &k))
                {
                    let v = get(&r.fields, &k).clone();
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
fn writable(c: &Connection, collection: &str) -> Result<Collection> {
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
        hlc: crate::hlc::tick(c)?,
    })
}

impl LocalStore {
    /// Creates a record locally; returns its new id.
    pub fn create(&self, collection: &str, fields: Fields) -> Result<Uuid> {
        self.write(|tx| {
            let col = writable(tx, collection)?;
            let fields: Fields = fields.into_iter().filter(|(_, v)| !v.is_null()).collect();
            col.check_fields(&fields).map_err(Error::InvalidValue)?;
            col.check_required(&fields).map_err(Error::InvalidValue)?;
            // The server would reject it, dropping the edit: refuse it now.
            ferry_protocol::check_field_sizes(&fields).map_err(Error::InvalidValue)?;
            ferry_protocol::check_record_size(&fields, None).map_err(Error::InvalidValue)?;
            let id = Uuid::now_v7();
            records::set_local(tx, collection, id, &fields, false)?;
            let m = new_mutation(tx, collection, id, Op::Put, None, fields)?;
            record_edit(tx, None, &m)?;
            Ok(id)
        })
    }

    /// Changes some fields of a record locally (`null` clears a field).
    pub fn update(&self, collection: &str, id: Uuid, changes: Fields) -> Result<()> {
        self.write(|tx| {
            let col = writable(tx, collection)?;
            let before = editable(tx, collection, id)?;
            col.check_fields(&changes).map_err(Error::InvalidValue)?;
            let mut after = before.fields.clone();
            apply_changes(&mut after, &changes);
            col.check_required(&after).map_err(Error::InvalidValue)?;
            // The server would reject it, dropping the edit: refuse it now.
            ferry_protocol::check_field_sizes(&changes).map_err(Error::InvalidValue)?;
            ferry_protocol::check_record_size(&after, Some(&before.fields))
                .map_err(Error::InvalidValue)?;
            records::set_local(tx, collection, id, &after, false)?;
            let m = new_mutation(tx, collection, id, Op::Put, before.base_version(), changes)?;
            record_edit(tx, Some(&before), &m)
        })
    }

    /// Deletes a record locally (a tombstone until the server confirms).
    pub fn delete(&self, collection: &str, id: Uuid) -> Result<()> {
        self.write(|tx| {
            writable(tx, collection)?;
            let before = editable(tx, collection, id)?;
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
        })
    }

    /// Undoes a local delete: the record comes back with the values it had.
    /// An unsent deletion is withdrawn; after one already sent (or in
    /// flight), an edit with every value restores the record on the server.
    pub fn restore(&self, collection: &str, id: Uuid) -> Result<()> {
        self.write(|tx| {
            writable(tx, collection)?;
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
                    .filter(|(k, v)| !same_value(v, get(&base.fields, k)))
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
        })
    }

    /// The outbox, oldest first.
    pub fn outbox(&self, limit: usize) -> Result<Vec<OutboxEntry>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!("{ENTRY_SELECT} ORDER BY seq LIMIT ?1"))?;
            let mut rows = stmt.query([i64::try_from(limit).unwrap_or(i64::MAX)])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(entry_from_row(row)?);
            }
            Ok(out)
        })
    }

    /// Takes the next push batch, oldest first, and marks it in flight: at
    /// most `max` entries and at most one per record (a record's later entry
    /// waits until the earlier one's acknowledgement has rebased it).
    pub fn take_batch(&self, max: usize) -> Result<Vec<OutboxEntry>> {
        self.take_batch_within(max, usize::MAX)
    }

    /// [`take_batch`](Self::take_batch) of at most about `max_bytes` of
    /// mutations (as JSON), and at least one entry.
    pub fn take_batch_within(&self, max: usize, max_bytes: usize) -> Result<Vec<OutboxEntry>> {
        self.take_batch_besides(max, max_bytes, &[])
    }

    /// [`take_batch_within`](Self::take_batch_within) leaving out the records
    /// of `busy`, a batch whose answers are still being stored: their later
    /// entries wait to be rebased on what the server wrote for it.
    pub fn take_batch_besides(
        &self,
        max: usize,
        max_bytes: usize,
        busy: &[OutboxEntry],
    ) -> Result<Vec<OutboxEntry>> {
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(&format!("{ENTRY_SELECT} ORDER BY seq"))?;
            let mut rows = stmt.query([])?;
            let mut seen: std::collections::HashSet<(String, Uuid)> = busy
                .iter()
                .map(|e| (e.mutation.collection.clone(), e.mutation.record_id))
                .collect();
            let mut batch = Vec::new();
            let mut bytes = 0;
            while let Some(row) = rows.next()? {
                let e = entry_from_row(row)?;
                if seen.insert((e.mutation.collection.clone(), e.mutation.record_id)) {
                    bytes += serde_json::to_vec(&e.mutation).map_or(0, |v| v.len());
                    if bytes > max_bytes && !batch.is_empty() {
                        break;
                    }
                    batch.push(e);
                    if batch.len() == max {
                        break;
                    }
                }
            }
            drop(rows);
            let mut mark = tx.prepare_cached("UPDATE outbox SET in_flight = 1 WHERE seq = ?1")?;
            for e in &mut batch {
                mark.execute([e.seq])?;
                e.in_flight = true;
            }
            Ok(batch)
        })
    }

    /// Writes the outbox to a JSON file (entries stay in the outbox).
    pub fn export_outbox(&self, path: &std::path::Path) -> Result<usize> {
        let entries = self.outbox(usize::MAX)?;
        write_export(path, entries.into_iter().map(|e| e.mutation).collect())
    }

    /// Appends the entries of an export to the outbox (skipping those already
    /// there) and shows them in the local records. Returns how many were added.
    pub fn import_outbox(&self, path: &std::path::Path) -> Result<usize> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
        let export: OutboxExport = serde_json::from_str(&text).map_err(|e| Error::BadExport {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
        if export.format != EXPORT_FORMAT {
            return Err(Error::BadExport {
                path: path.to_path_buf(),
                detail: format!("unknown format {:?}", export.format),
            });
        }
        self.write(|tx| {
            let mut added = 0;
            for m in &export.mutations {
                let known: Option<i64> = tx
                    .query_row(
                        "SELECT seq FROM outbox WHERE mutation_id = ?1",
                        [m.mutation_id.to_string()],
                        |r| r.get(0),
                    )
                    .optional()?;
                if known.is_some() {
                    continue;
                }
                let before = records::load(tx, &m.collection, m.record_id)?;
                let mut fields = before
                    .as_ref()
                    .map(|r| r.fields.clone())
                    .unwrap_or_default();
                match m.op {
                    Op::Put => {
                        apply_changes(&mut fields, &m.fields);
                        records::set_local(tx, &m.collection, m.record_id, &fields, false)?;
                    }
                    Op::Delete => {
                        records::set_local(tx, &m.collection, m.record_id, &fields, true)?
                    }
                }
                crate::hlc::observe(tx, &m.hlc)?;
                insert_entry(tx, m)?;
                added += 1;
            }
            Ok(added)
        })
    }
}

const EXPORT_FORMAT: &str = "ferry-outbox-v1";

/// The file `export-outbox` writes: the mutations as they would be pushed.
#[derive(Debug, Serialize, Deserialize)]
struct OutboxExport {
    format: String,
    exported_at: String,
    mutations: Vec<Mutation>,
}

/// Writes mutations in the export format; returns how many.
pub(crate) fn write_export(path: &std::path::Path, mutations: Vec<Mutation>) -> Result<usize> {
    let export = OutboxExport {
        format: EXPORT_FORMAT.to_string(),
        exported_at: now_rfc3339(),
        mutations,
    };
    let text =
        serde_json::to_string_pretty(&export).map_err(|e| Error::Inconsistent(e.to_string()))?;
    write_private(path, text.as_bytes())?;
    Ok(export.mutations.len())
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
