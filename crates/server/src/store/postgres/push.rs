//! A push inside its transaction: the batch's stored state read with a few
//! statements up front, every mutation decided in memory, and all new rows
//! written at the end, so the sequence lock is held for a handful of round
//! trips whatever the batch's size.

use std::collections::HashMap;

use ferry_protocol::{Mutation, MutationResult, Record};
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::super::history::{PageReader, reverse_delta};
use super::super::outcome::{self, NewVersion, OutcomeColumns, Remembered};
use super::super::{Cursor, PushContext, PushOutcome, StoreError, json_err};
use super::{CHANNEL, Version, collections, pg_err, read_history, version_from_row};
use crate::merge;
use crate::rules;
use crate::schema_file::CollectionDef;

/// Applies `mutations` in order in one transaction on `client`.
pub(super) async fn push(
    client: &mut deadpool_postgres::Object,
    ctx: &PushContext,
    mutations: &[Mutation],
) -> Result<PushOutcome, StoreError> {
    let defs = collections(&*client)
        .await?
        .into_iter()
        .map(|d| (d.name.clone(), d))
        .collect();
    let tx = client.transaction().await.map_err(pg_err)?;
    let mut pusher = Pusher {
        tx: &tx,
        ctx,
        defs,
        remembered: HashMap::new(),
        answered: HashMap::new(),
        current: HashMap::new(),
        written: HashMap::new(),
        to_delta: Default::default(),
        next_seq: 0,
        parts: HashMap::new(),
        history: HistoryRows::default(),
        mutations: MutationRows::default(),
        outcome: PushOutcome::new(mutations.len(), Cursor::default()),
    };
    // Pushes take turns from here to the commit, and so take sequence numbers in commit order (see the top).
    pusher.lock_and_prefetch(mutations).await?;
    pusher.outcome.written_after = Cursor(pusher.next_seq);
    for m in mutations {
        let result = pusher.apply(m).await?;
        pusher.outcome.results.push(result);
    }
    pusher.flush().await?;
    let outcome = pusher.outcome;
    tx.commit().await.map_err(pg_err)?;
    Ok(outcome)
}

/// Where a push moved a record: the partition values it left, those it is
/// in now, and the sequence number of its last write.
type PartsMove = (Vec<String>, Vec<String>, i64);

/// `record_parts` rows: collection, value, id, seq, present.
type PartsRows = (Vec<String>, Vec<String>, Vec<Uuid>, Vec<i64>, Vec<bool>);

/// One push inside its transaction.
struct Pusher<'a> {
    tx: &'a deadpool_postgres::Transaction<'a>,
    ctx: &'a PushContext,
    defs: HashMap<String, CollectionDef>,
    /// Outcomes stored by earlier pushes, by mutation id.
    remembered: HashMap<Uuid, Remembered>,
    /// Results given in this push, by mutation id.
    answered: HashMap<Uuid, MutationResult>,
    /// Latest version of each record the batch touches (`None`: no such record).
    current: HashMap<(String, Uuid), Option<Version>>,
    /// Versions written by this push, by (collection, id, version), with
    /// their index in `history`.
    written: HashMap<(String, Uuid, i64), (Version, usize)>,
    /// Stored versions that now hold only what differs from the next one:
    /// (collection, id, version, delta).
    to_delta: (Vec<String>, Vec<Uuid>, Vec<i64>, Vec<String>),
    next_seq: i64,
    /// Partition values of the records written to partitioned collections:
    /// (values left, values now, seq of the last write), by record.
    parts: HashMap<(String, Uuid), PartsMove>,
    history: HistoryRows,
    mutations: MutationRows,
    outcome: PushOutcome,
}

#[derive(Default)]
struct HistoryRows {
    seq: Vec<i64>,
    collection: Vec<String>,
    id: Vec<Uuid>,
    version: Vec<i64>,
    fields: Vec<String>,
    deleted: Vec<bool>,
    updated_at: Vec<String>,
    updated_by: Vec<String>,
    hlc: Vec<String>,
    delta: Vec<bool>,
    merged_from: Vec<Option<i64>>,
}

#[derive(Default)]
struct MutationRows {
    mutation_id: Vec<Uuid>,
    status: Vec<String>,
    collection: Vec<String>,
    record_id: Vec<Uuid>,
    version: Vec<Option<i64>>,
    conflict: Vec<Option<String>>,
    error: Vec<Option<String>>,
}

impl Pusher<'_> {
    /// Takes the sequence lock and reads the batch's stored outcomes and
    /// records, in one round trip: the statements run in order on one
    /// connection, so both reads see every push committed before the lock
    /// was granted.
    async fn lock_and_prefetch(&mut self, mutations: &[Mutation]) -> Result<(), StoreError> {
        let ids: Vec<Uuid> = mutations.iter().map(|m| m.mutation_id).collect();
        let lock = self
            .tx
            .prepare_cached("SELECT value FROM change_seq FOR UPDATE")
            .await
            .map_err(pg_err)?;
        let outcomes = self
            .tx
            .prepare_cached(
                "SELECT mutation_id, status, collection, record_id, version, conflict, error
                 FROM mutations WHERE user_id = $1 AND mutation_id = ANY($2)",
            )
            .await
            .map_err(pg_err)?;
        let records = self
            .tx
            .prepare_cached(
                "SELECT r.collection, r.id, h.version, h.fields, h.deleted, h.hlc, h.updated_at, h.updated_by, h.merged_from
                 FROM unnest($1::text[], $2::uuid[]) AS k(collection, id)
                 JOIN records r ON r.collection = k.collection AND r.id = k.id
                 JOIN history h ON h.seq = r.seq",
            )
            .await
            .map_err(pg_err)?;
        let mut collections = Vec::new();
        let mut record_ids = Vec::new();
        for m in mutations {
            let key = (m.collection.clone(), m.record_id);
            if let std::collections::hash_map::Entry::Vacant(e) = self.current.entry(key) {
                e.insert(None);
                collections.push(m.collection.clone());
                record_ids.push(m.record_id);
            }
        }
        let user_id = self.ctx.session.user_id;
        let outcome_params: [&(dyn ToSql + Sync); 2] = [&user_id, &ids];
        let record_params: [&(dyn ToSql + Sync); 2] = [&collections, &record_ids];
        // Sent together, run in this order.
        let (seq, outcome_rows, record_rows) = tokio::try_join!(
            self.tx.query_one(&lock, &[]),
            self.tx.query(&outcomes, &outcome_params),
            self.tx.query(&records, &record_params),
        )
        .map_err(pg_err)?;
        self.next_seq = seq.get(0);
        for row in outcome_rows {
            self.remembered.insert(
                row.get(0),
                Remembered {
                    status: row.get(1),
                    collection: row.get(2),
                    record_id: row.get(3),
                    version: row.get(4),
                    conflict: row.get(5),
                    error: row.get(6),
                },
            );
        }
        for row in record_rows {
            let key = (row.get::<_, String>(0), row.get::<_, Uuid>(1));
            self.current.insert(key, Some(version_from_row(&row, 2)?));
        }
        Ok(())
    }

    /// A stored version of a record: written by this push, or read.
    async fn version_at(
        &self,
        collection: &str,
        id: Uuid,
        version: i64,
    ) -> Result<Option<Version>, StoreError> {
        if let Some((v, _)) = self.written.get(&(collection.to_string(), id, version)) {
            return Ok(Some(v.clone()));
        }
        // Stored rows are not rewritten before the flush: read as they are.
        let mut reader = PageReader::new(1, usize::MAX);
        read_history(self.tx, collection, id, version - 1, &mut reader).await?;
        let first = reader.finish_at(version).map_err(StoreError::Internal)?;
        Ok(first.map(|r| Version {
            version: r.version,
            fields: r.fields,
            deleted: r.deleted,
            // Only replies and conflict names use a version read here.
            hlc: r.updated_at.clone(),
            updated_at: r.updated_at,
            updated_by: r.updated_by,
            merged_from: r.merged_from,
        }))
    }

    async fn replay(&self, m: &Mutation, r: &Remembered) -> Result<MutationResult, StoreError> {
        let record = match r.version {
            Some(v) => match self.version_at(&r.collection, r.record_id, v).await? {
                Some(found) => Some(found.record(&r.collection, r.record_id)),
                // A version retention removed: the record as it is now.
                None => self
                    .current
                    .get(&(r.collection.clone(), r.record_id))
                    .cloned()
                    .flatten()
                    .map(|v| v.record(&r.collection, r.record_id)),
            },
            None => None,
        };
        r.result(m, record)
    }

    async fn apply(&mut self, m: &Mutation) -> Result<MutationResult, StoreError> {
        if let Some(first) = self.answered.get(&m.mutation_id) {
            return Ok(first.clone());
        }
        if let Some(r) = self.remembered.get(&m.mutation_id) {
            return self.replay(m, r).await;
        }
        let key = (m.collection.clone(), m.record_id);
        let row = self.current.get(&key).cloned().flatten();
        // The base version's fields, needed only to name a delete/edit conflict's fields.
        let base = match (m.base_version, &row) {
            (Some(b), Some(cur))
                if matches!(m.op, ferry_protocol::Op::Delete) && b < cur.version =>
            {
                self.version_at(&m.collection, m.record_id, b)
                    .await?
                    .map(|v| v.fields)
            }
            _ => None,
        };
        let current = row.as_ref().map(Version::current);
        let decision = rules::decide_in_view(
            m,
            self.defs.get(&m.collection),
            &self.ctx.view,
            current.as_ref(),
            |_| base,
        );
        let current_version = row.as_ref().map(|r| r.version);
        let result = outcome::result_of(
            m,
            decision,
            current_version,
            || Ok(row.map(|r| r.record(&m.collection, m.record_id))),
            |new| self.write(m, new),
        )?;
        if merge::remembered(&result) {
            self.remember(m, &result)?;
        }
        self.answered.insert(m.mutation_id, result.clone());
        Ok(result)
    }

    fn write(&mut self, m: &Mutation, new: NewVersion) -> Result<Record, StoreError> {
        let NewVersion {
            version,
            fields,
            deleted,
            merged_from,
        } = new;
        let key = (m.collection.clone(), m.record_id);
        let def = self.defs.get(&m.collection);
        let touched = if def.is_some_and(|d| d.partition_by.is_some()) {
            let before = match self.current.get(&key) {
                Some(Some(prev)) => rules::parts_of(def, &prev.fields),
                _ => Vec::new(),
            };
            let after = rules::parts_of(def, &fields);
            let entry = self
                .parts
                .entry(key.clone())
                .or_insert_with(|| (Vec::new(), Vec::new(), 0));
            entry.0.extend(before.iter().cloned());
            entry.0.retain(|v| !after.contains(v));
            entry.0.sort();
            entry.0.dedup();
            entry.1 = after.clone();
            entry.2 = self.next_seq + 1;
            Some(before.into_iter().chain(after).collect())
        } else {
            None
        };
        // The version before keeps only what differs from this one.
        if let Some(Some(prev)) = self.current.get(&key) {
            let delta = reverse_delta(&prev.fields, &fields);
            let delta = serde_json::to_string(&delta).map_err(json_err)?;
            let prev_key = (m.collection.clone(), m.record_id, prev.version);
            if let Some((_, i)) = self.written.get(&prev_key) {
                self.history.fields[*i] = delta;
                self.history.delta[*i] = true;
            } else {
                let d = &mut self.to_delta;
                d.0.push(m.collection.clone());
                d.1.push(m.record_id);
                d.2.push(prev.version);
                d.3.push(delta);
            }
        }
        self.next_seq += 1;
        let updated_at = self.ctx.stamp(m)?;
        let index = self.history.seq.len();
        let h = &mut self.history;
        h.seq.push(self.next_seq);
        h.collection.push(m.collection.clone());
        h.id.push(m.record_id);
        h.version.push(version);
        h.fields
            .push(serde_json::to_string(&fields).map_err(json_err)?);
        h.deleted.push(deleted);
        h.updated_at.push(updated_at.to_string());
        h.updated_by.push(self.ctx.session.username.clone());
        h.hlc.push(m.hlc.to_string());
        h.delta.push(false);
        h.merged_from.push(merged_from);
        let v = Version {
            version,
            fields,
            deleted,
            hlc: m.hlc.clone(),
            updated_at,
            updated_by: self.ctx.session.username.clone(),
            merged_from,
        };
        self.written.insert(
            (m.collection.clone(), m.record_id, version),
            (v.clone(), index),
        );
        let record = v.record(&m.collection, m.record_id);
        self.current.insert(key, Some(v));
        self.outcome.wrote(self.next_seq, &m.collection, touched);
        Ok(record)
    }

    fn remember(&mut self, m: &Mutation, r: &MutationResult) -> Result<(), StoreError> {
        let row = OutcomeColumns::of(r)?;
        let rows = &mut self.mutations;
        rows.mutation_id.push(m.mutation_id);
        rows.status.push(row.status.to_string());
        rows.collection.push(m.collection.clone());
        rows.record_id.push(m.record_id);
        rows.version.push(row.version);
        rows.conflict.push(row.conflict);
        rows.error.push(row.error);
        Ok(())
    }

    /// Writes the new history rows, moves the records to them, stores every
    /// new outcome, advances the sequence and queues the commit
    /// notification: all in one round trip (statements pipelined on the
    /// connection, run in order).
    async fn flush(&mut self) -> Result<(), StoreError> {
        let tx = self.tx;
        let h = &self.history;
        let r = &self.mutations;
        let history = tx
            .prepare_cached(
                "INSERT INTO history (seq, collection, id, version, fields, deleted, updated_at, updated_by, hlc, delta,
                                      merged_from)
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::uuid[], $4::bigint[], $5::text[],
                                      $6::boolean[], $7::text[], $8::text[], $9::text[], $10::boolean[],
                                      $11::bigint[])",
            )
            .await
            .map_err(pg_err)?;
        let to_delta = tx
            .prepare_cached(
                "UPDATE history h SET fields = d.fields, delta = true
                 FROM unnest($1::text[], $2::uuid[], $3::bigint[], $4::text[]) AS d(collection, id, version, fields)
                 WHERE h.collection = d.collection AND h.id = d.id AND h.version = d.version",
            )
            .await
            .map_err(pg_err)?;
        let records = tx
            .prepare_cached(
                "INSERT INTO records (collection, id, seq, parts)
                 SELECT * FROM unnest($1::text[], $2::uuid[], $3::bigint[], $4::text[])
                 ON CONFLICT (collection, id) DO UPDATE SET seq = excluded.seq, parts = excluded.parts",
            )
            .await
            .map_err(pg_err)?;
        let parts = tx
            .prepare_cached(
                "INSERT INTO record_parts (collection, value, id, seq, present)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::bigint[], $5::boolean[])
                 ON CONFLICT (collection, value, id) DO UPDATE SET seq = excluded.seq, present = excluded.present",
            )
            .await
            .map_err(pg_err)?;
        let outcomes = tx
            .prepare_cached(
                "INSERT INTO mutations (user_id, mutation_id, status, collection, record_id, version, conflict, error)
                 SELECT $1, * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::bigint[],
                                          $7::text[], $8::text[])",
            )
            .await
            .map_err(pg_err)?;
        let advance = tx
            .prepare_cached("UPDATE change_seq SET value = $1")
            .await
            .map_err(pg_err)?;
        let notify = tx
            .prepare_cached("SELECT pg_notify($1, $2)")
            .await
            .map_err(pg_err)?;

        // Each record once, at its last version of this push.
        let mut last: HashMap<(&str, Uuid), i64> = HashMap::new();
        for i in 0..h.seq.len() {
            last.insert((h.collection[i].as_str(), h.id[i]), h.seq[i]);
        }
        let mut cols = Vec::with_capacity(last.len());
        let mut ids = Vec::with_capacity(last.len());
        let mut seqs = Vec::with_capacity(last.len());
        let mut parts_json: Vec<Option<String>> = Vec::with_capacity(last.len());
        for ((c, id), seq) in last {
            let stored = self
                .parts
                .get(&(c.to_string(), id))
                .and_then(|(_, now, _)| rules::parts_json(self.defs.get(c), now));
            cols.push(c.to_string());
            ids.push(id);
            seqs.push(seq);
            parts_json.push(stored);
        }
        let mut p_rows: PartsRows = Default::default();
        for ((c, id), (left, now, seq)) in &self.parts {
            for (values, present) in [(now, true), (left, false)] {
                for v in values {
                    p_rows.0.push(c.clone());
                    p_rows.1.push(v.clone());
                    p_rows.2.push(*id);
                    p_rows.3.push(*seq);
                    p_rows.4.push(present);
                }
            }
        }
        let parts_params: [&(dyn ToSql + Sync); 5] =
            [&p_rows.0, &p_rows.1, &p_rows.2, &p_rows.3, &p_rows.4];
        let d = &self.to_delta;
        let to_delta_params: [&(dyn ToSql + Sync); 4] = [&d.0, &d.1, &d.2, &d.3];
        let history_params: [&(dyn ToSql + Sync); 11] = [
            &h.seq,
            &h.collection,
            &h.id,
            &h.version,
            &h.fields,
            &h.deleted,
            &h.updated_at,
            &h.updated_by,
            &h.hlc,
            &h.delta,
            &h.merged_from,
        ];
        let records_params: [&(dyn ToSql + Sync); 4] = [&cols, &ids, &seqs, &parts_json];
        let outcome_params: [&(dyn ToSql + Sync); 8] = [
            &self.ctx.session.user_id,
            &r.mutation_id,
            &r.status,
            &r.collection,
            &r.record_id,
            &r.version,
            &r.conflict,
            &r.error,
        ];
        let last_seq = self.outcome.last_write.map(|c| c.0);
        let payload = serde_json::json!({
            "cursor": last_seq.unwrap_or_default().to_string(),
            "collections": self.outcome.touched,
            "parts": self.outcome.touched_parts,
        })
        .to_string();
        let advance_params: [&(dyn ToSql + Sync); 1] = [&last_seq];
        let notify_params: [&(dyn ToSql + Sync); 2] = [&CHANNEL, &payload];

        let mut writes = Vec::new();
        if last_seq.is_some() {
            writes.push(tx.execute(&history, &history_params[..]));
            if !d.0.is_empty() {
                writes.push(tx.execute(&to_delta, &to_delta_params[..]));
            }
            writes.push(tx.execute(&records, &records_params[..]));
            if !p_rows.0.is_empty() {
                writes.push(tx.execute(&parts, &parts_params[..]));
            }
        }
        if !r.mutation_id.is_empty() {
            writes.push(tx.execute(&outcomes, &outcome_params[..]));
        }
        if last_seq.is_some() {
            writes.push(tx.execute(&advance, &advance_params[..]));
            writes.push(tx.execute(&notify, &notify_params[..]));
        }
        futures::future::try_join_all(writes)
            .await
            .map_err(pg_err)?;
        Ok(())
    }
}
