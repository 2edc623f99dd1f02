//! The durable outbox: entries waiting for their acknowledgement, push
//! batches, and the export file.
//!
//! An entry in flight (handed to a push whose answer is not stored yet) is
//! never modified, and an entry leaves the outbox only in the transaction
//! that stores its acknowledgement ([`super::ack`]). Every entry carries a
//! `mutation_id`, so re-sending after a crash or a lost response is always
//! safe.

use ferry_protocol::fields::apply_changes;
use ferry_protocol::{Fields, Mutation, Op};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::records::{self, parse_uuid, to_json};
use super::{LocalStore, hlc, now_rfc3339, write_private};
use crate::error::{Error, Result};
use crate::model::OutboxEntry;

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

/// The entry of a mutation, if it is still in the outbox.
pub(crate) fn entry(c: &Connection, mutation_id: Uuid) -> Result<Option<OutboxEntry>> {
    let mut stmt = c.prepare_cached(&format!("{ENTRY_SELECT} WHERE mutation_id = ?1"))?;
    let mut rows = stmt.query([mutation_id.to_string()])?;
    match rows.next()? {
        Some(row) => Ok(Some(entry_from_row(row)?)),
        None => Ok(None),
    }
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

impl LocalStore {
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
                hlc::observe(tx, &m.hlc)?;
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
