//! A push on the writer connection: each mutation read, decided and
//! written in turn, inside the push's one transaction.

use std::collections::HashMap;

use ferry_protocol::{Mutation, MutationResult, Record};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::super::history::reverse_delta;
use super::super::outcome::{self, NewVersion, OutcomeColumns, Remembered};
use super::super::{Cursor, PushContext, PushOutcome, StoreError, json_err, stored_hlc};
use super::{db_err, load_collections, max_seq, parse_uuid, record_at};
use crate::merge::{self, Current};
use crate::rules;
use crate::schema_file::CollectionDef;

/// Applies `mutations` in order inside `tx`.
pub(super) fn push(
    tx: &Transaction<'_>,
    ctx: &PushContext,
    mutations: &[Mutation],
) -> Result<PushOutcome, StoreError> {
    let defs = load_collections(tx)?
        .into_iter()
        .map(|d| (d.name.clone(), d))
        .collect();
    let next_seq = max_seq(tx)?;
    let mut pusher = Pusher {
        tx,
        ctx,
        user_id: ctx.session.user_id.to_string(),
        defs,
        next_seq,
        outcome: PushOutcome::new(mutations.len(), Cursor(next_seq)),
    };
    for m in mutations {
        let result = pusher.apply(m)?;
        pusher.outcome.results.push(result);
    }
    Ok(pusher.outcome)
}

/// The stored result of a mutation seen before, rebuilt as first answered.
fn replay(
    tx: &Connection,
    user_id: &str,
    m: &Mutation,
) -> Result<Option<MutationResult>, StoreError> {
    let mut stmt = tx
        .prepare_cached(
            "SELECT status, collection, record_id, version, conflict, error FROM mutations
             WHERE user_id = ?1 AND mutation_id = ?2",
        )
        .map_err(db_err)?;
    let row = stmt
        .query_row(params![user_id, m.mutation_id.to_string()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
            ))
        })
        .optional()
        .map_err(db_err)?;
    let Some((status, collection, record_id, version, conflict, error)) = row else {
        return Ok(None);
    };
    let record = match version {
        // A version retention removed: the record as it is now.
        Some(v) => match record_at(tx, &collection, &record_id, v)? {
            Some(r) => Some(r),
            None => super::read::current(tx, &collection, &record_id)?,
        },
        None => None,
    };
    let stored = Remembered {
        status,
        collection,
        record_id: parse_uuid(&record_id)?,
        version,
        conflict,
        error,
    };
    stored.result(m, record).map(Some)
}

struct CurrentRow {
    /// Its history row.
    seq: i64,
    current: Current,
    updated_at: String,
    updated_by: String,
    merged_from: Option<i64>,
}

fn load_current(
    tx: &Connection,
    collection: &str,
    id: &str,
) -> Result<Option<CurrentRow>, StoreError> {
    let mut stmt = tx
        .prepare_cached(
            "SELECT h.version, h.fields, h.deleted, h.hlc, h.updated_at, h.updated_by, h.seq, h.merged_from
             FROM records r JOIN history h ON h.seq = r.seq WHERE r.collection = ?1 AND r.id = ?2",
        )
        .map_err(db_err)?;
    let row = stmt
        .query_row(params![collection, id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, bool>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, Option<i64>>(7)?,
            ))
        })
        .optional()
        .map_err(db_err)?;
    let Some((version, fields, deleted, hlc, updated_at, updated_by, seq, merged_from)) = row
    else {
        return Ok(None);
    };
    Ok(Some(CurrentRow {
        seq,
        current: Current {
            version,
            fields: serde_json::from_str(&fields).map_err(json_err)?,
            deleted,
            hlc: stored_hlc(&hlc)?,
        },
        updated_at,
        updated_by,
        merged_from,
    }))
}

struct Pusher<'a> {
    tx: &'a Transaction<'a>,
    ctx: &'a PushContext,
    user_id: String,
    defs: HashMap<String, CollectionDef>,
    next_seq: i64,
    outcome: PushOutcome,
}

impl Pusher<'_> {
    fn apply(&mut self, m: &Mutation) -> Result<MutationResult, StoreError> {
        if let Some(previous) = replay(self.tx, &self.user_id, m)? {
            return Ok(previous);
        }
        let id = m.record_id.to_string();
        let row = load_current(self.tx, &m.collection, &id)?;
        let tx = self.tx;
        let decision = rules::decide_in_view(
            m,
            self.defs.get(&m.collection),
            &self.ctx.view,
            row.as_ref().map(|r| &r.current),
            |v| {
                record_at(tx, &m.collection, &id, v)
                    .ok()
                    .flatten()
                    .map(|r| r.fields)
            },
        );
        let current = || -> Result<Option<Record>, StoreError> {
            let Some(row) = row.as_ref() else {
                return Ok(None);
            };
            Ok(Some(Record {
                collection: m.collection.clone(),
                id: m.record_id,
                version: row.current.version,
                fields: row.current.fields.clone(),
                deleted: row.current.deleted,
                updated_at: stored_hlc(&row.updated_at)?,
                updated_by: row.updated_by.clone(),
                merged_from: row.merged_from,
            }))
        };
        let result = outcome::result_of(
            m,
            decision,
            row.as_ref().map(|r| r.current.version),
            current,
            |new| self.write(m, new, row.as_ref()),
        )?;
        if merge::remembered(&result) {
            self.remember(m, &result)?;
        }
        Ok(result)
    }

    fn write(
        &mut self,
        m: &Mutation,
        new: NewVersion,
        previous: Option<&CurrentRow>,
    ) -> Result<Record, StoreError> {
        // The version before keeps only what differs from this one.
        if let Some(prev) = previous {
            let delta = reverse_delta(&prev.current.fields, &new.fields);
            let delta = serde_json::to_string(&delta).map_err(json_err)?;
            self.tx
                .prepare_cached("UPDATE history SET fields = ?2, delta = 1 WHERE seq = ?1")
                .and_then(|mut s| s.execute(params![prev.seq, delta]))
                .map_err(db_err)?;
        }
        self.next_seq += 1;
        let seq = self.next_seq;
        let updated_at = self.ctx.stamp(m)?;
        let fields_json = serde_json::to_string(&new.fields).map_err(json_err)?;
        let id = m.record_id.to_string();
        let stamp = updated_at.to_string();
        let hlc = m.hlc.to_string();
        let by = &self.ctx.session.username;
        self.tx
            .prepare_cached(
                "INSERT INTO history (seq, collection, id, version, fields, deleted, updated_at, updated_by, hlc, merged_from)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .and_then(|mut s| {
                s.execute(params![seq, m.collection, id, new.version, fields_json, new.deleted, stamp, by, hlc, new.merged_from])
            })
            .map_err(db_err)?;
        let def = self.defs.get(&m.collection);
        let parts = rules::parts_of(def, &new.fields);
        self.tx
            .prepare_cached(
                "INSERT INTO records (seq, collection, id, parts) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (collection, id) DO UPDATE SET seq = excluded.seq, parts = excluded.parts",
            )
            .and_then(|mut s| s.execute(params![seq, m.collection, id, rules::parts_json(def, &parts)]))
            .map_err(db_err)?;
        let touched = if def.is_some_and(|d| d.partition_by.is_some()) {
            let before = previous
                .map(|p| rules::parts_of(def, &p.current.fields))
                .unwrap_or_default();
            write_parts(self.tx, &m.collection, &id, seq, &before, &parts)?;
            Some(before.into_iter().chain(parts).collect())
        } else {
            None
        };
        self.outcome.wrote(seq, &m.collection, touched);
        Ok(Record {
            collection: m.collection.clone(),
            id: m.record_id,
            version: new.version,
            fields: new.fields,
            deleted: new.deleted,
            updated_at,
            updated_by: by.clone(),
            merged_from: new.merged_from,
        })
    }

    fn remember(&self, m: &Mutation, r: &MutationResult) -> Result<(), StoreError> {
        let row = OutcomeColumns::of(r)?;
        self.tx
            .prepare_cached(
                "INSERT INTO mutations (user_id, mutation_id, status, collection, record_id, version, conflict, error, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))",
            )
            .and_then(|mut s| {
                s.execute(params![
                    self.user_id,
                    m.mutation_id.to_string(),
                    row.status,
                    m.collection,
                    m.record_id.to_string(),
                    row.version,
                    row.conflict,
                    row.error
                ])
            })
            .map_err(db_err)?;
        Ok(())
    }
}

/// Keeps `record_parts` in step with a write at `seq` that moves a record
/// from the partition values `before` to `after`: it is present in each of
/// `after` as of `seq`, and has left the others of `before` at `seq`.
pub(super) fn write_parts(
    tx: &Connection,
    collection: &str,
    id: &str,
    seq: i64,
    before: &[String],
    after: &[String],
) -> Result<(), StoreError> {
    let mut upsert = tx
        .prepare_cached(
            "INSERT INTO record_parts (collection, value, id, seq, present) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (collection, value, id) DO UPDATE SET seq = excluded.seq, present = excluded.present",
        )
        .map_err(db_err)?;
    for v in after {
        upsert
            .execute(params![collection, v, id, seq, true])
            .map_err(db_err)?;
    }
    for v in before.iter().filter(|v| !after.contains(v)) {
        upsert
            .execute(params![collection, v, id, seq, false])
            .map_err(db_err)?;
    }
    Ok(())
}
