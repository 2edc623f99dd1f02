//! The shared store: PostgreSQL, for any number of `ferry-server` processes.
//!
//! ## The change sequence
//! A pull asks for changes after a cursor (`WHERE seq > cursor`). With a
//! plain PostgreSQL sequence, concurrent transactions take numbers in one
//! order and commit in another: a reader could see 11 committed, move its
//! cursor past it, and never see 10 when it commits a moment later.
//!
//! Here sequence numbers are handed out in commit order instead. Every push
//! first locks the single row of `change_seq` (`SELECT … FOR UPDATE`), takes
//! its numbers from it, writes, stores the new value and commits; the lock
//! is released only after the commit is visible. So the committed changes
//! are always exactly the numbers `1..=change_seq.value`, with no gaps, and a
//! reader's snapshot always sees a prefix of the sequence: it can never skip
//! a change. Pages are read in one statement (one snapshot) together with
//! the high-water mark they may move the cursor to.
//!
//! The same lock makes pushes from all processes take turns, as SQLite's
//! single writer does: a mutation replayed through two processes at once is
//! applied once, and concurrent merges of one record never lose an update.
//! The cost is that writes commit one at a time (readers never wait); each
//! push holds the lock for a handful of round trips, since it reads and
//! writes a whole batch with a few set-based statements.
//!
//! ## Events across processes
//! Each push sends `pg_notify('ferry_changes', …)` inside its transaction,
//! so the notification goes out on commit, in commit order. Every process
//! listens on one dedicated connection and feeds its own event streams.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use ferry_protocol::{
    Access, ChangesResponse, Conflict, Fields, Hlc, Mutation, MutationResult, Record, Status,
};
use tokio_postgres::NoTls;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::history::{PageReader, StoredVersion, reverse_delta};
use super::{
    ChangesPage, Cursor, HistoryPage, PushContext, PushOutcome, Session, Store, StoreError,
    TokenHash, UserRow,
};
use crate::events::{Commit, Events};
use crate::merge::{self, Current, Decision};
use crate::schema_file::CollectionDef;

/// The channel of commit notifications.
const CHANNEL: &str = "ferry_changes";

/// Forward-only migrations; `ferry_schema.version` counts those applied.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE users (
    id uuid PRIMARY KEY,
    username text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    created_at text NOT NULL
);
CREATE TABLE grants (
    user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    collection text NOT NULL,
    access text NOT NULL CHECK (access IN ('read', 'write')),
    PRIMARY KEY (user_id, collection)
);
CREATE TABLE sessions (
    token_hash bytea PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    device_id uuid NOT NULL,
    device_name text NOT NULL,
    created_at text NOT NULL
);
CREATE TABLE collections (
    name text PRIMARY KEY,
    position bigint NOT NULL,
    definition text NOT NULL
);
-- Stamps compare as bytes, as they do in SQLite: COLLATE "C".
CREATE TABLE history (
    seq bigint PRIMARY KEY,
    collection text NOT NULL,
    id uuid NOT NULL,
    version bigint NOT NULL,
    fields text NOT NULL,
    deleted boolean NOT NULL,
    updated_at text COLLATE "C" NOT NULL,
    updated_by text NOT NULL,
    hlc text COLLATE "C" NOT NULL
);
CREATE UNIQUE INDEX history_by_version ON history (collection, id, version);
CREATE INDEX history_by_stamp ON history (updated_at);
-- The latest version of each record is its history row `seq`; pulls walk this table in seq order.
CREATE TABLE records (
    collection text NOT NULL,
    id uuid NOT NULL,
    seq bigint NOT NULL,
    PRIMARY KEY (collection, id)
);
CREATE UNIQUE INDEX records_by_seq ON records (seq);
CREATE TABLE mutations (
    user_id uuid NOT NULL,
    mutation_id uuid NOT NULL,
    status text NOT NULL,
    collection text NOT NULL,
    record_id uuid NOT NULL,
    version bigint,
    conflict text,
    error text,
    PRIMARY KEY (user_id, mutation_id)
);
-- The last change sequence number handed out; its row lock orders pushes.
CREATE TABLE change_seq (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    value bigint NOT NULL
);
INSERT INTO change_seq (one, value) VALUES (true, 0);
"#,
    r#"
-- `fields` of a delta row holds only what differs from the next version (see store::history).
ALTER TABLE history ADD COLUMN delta boolean NOT NULL DEFAULT false;
"#,
    // When each mutation id was first answered (Unix ms, the database's clock),
    // so ids past the horizon can be forgotten; those stored before count from now.
    r#"
ALTER TABLE mutations ADD COLUMN created_at bigint NOT NULL
    DEFAULT (extract(epoch FROM clock_timestamp()) * 1000)::bigint;
CREATE INDEX mutations_by_age ON mutations (created_at);
"#,
];

/// Settings of the connection pool.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Most connections this process opens (plus one that listens for events).
    pub pool_size: usize,
    /// How long a request waits for a free connection, or for a new one.
    pub timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            pool_size: 16,
            timeout: Duration::from_secs(5),
        }
    }
}

pub struct PgStore {
    pool: Pool,
    config: tokio_postgres::Config,
    /// Event relays, stopped with the store.
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        for t in self
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            t.abort();
        }
    }
}

fn pg_err(e: tokio_postgres::Error) -> StoreError {
    if let Some(code) = e.code() {
        let c = code.code();
        // Connection failures, shutdown, too many connections, serialisation retries.
        if c.starts_with("08") || c.starts_with("57P") || c.starts_with("53") || c == "40001" {
            return StoreError::Unavailable(e.to_string());
        }
        return StoreError::Internal(e.to_string());
    }
    let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
    if e.is_closed() || io {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Internal(e.to_string())
    }
}

fn pool_err(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => pg_err(e),
        other => StoreError::Unavailable(other.to_string()),
    }
}

fn json_err(e: serde_json::Error) -> StoreError {
    StoreError::Internal(format!("stored JSON is unreadable: {e}"))
}

fn parse_hlc(s: &str) -> Result<Hlc, StoreError> {
    s.parse()
        .map_err(|e| StoreError::Internal(format!("stored stamp: {e}")))
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The connection settings of a `postgres://` URL, password kept out of errors.
pub fn parse_url(url: &str) -> Result<tokio_postgres::Config, StoreError> {
    tokio_postgres::Config::from_str(url).map_err(|e| {
        StoreError::Invalid(format!(
            "cannot read the database URL {}: {e}",
            crate::config::redact_url(url)
        ))
    })
}

impl PgStore {
    /// Connects to the database `url` names and migrates it.
    pub async fn open(url: &str, options: &PgOptions) -> Result<PgStore, StoreError> {
        let mut config = parse_url(url)?;
        if config.get_application_name().is_none() {
            config.application_name("ferry-server");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.timeout);
        }
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                // Connections found closed (a restarted server) are replaced.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.timeout))
            .create_timeout(Some(options.timeout))
            .recycle_timeout(Some(options.timeout))
            .build()
            .map_err(|e| StoreError::Invalid(format!("connection pool: {e}")))?;
        let store = PgStore {
            pool,
            config,
            tasks: Mutex::new(Vec::new()),
        };
        store.migrate().await.map_err(|e| match e {
            StoreError::Unavailable(msg) => StoreError::Unavailable(format!(
                "cannot reach the database {}: {msg}",
                crate::config::redact_url(url)
            )),
            other => other,
        })?;
        Ok(store)
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(pool_err)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        // One process migrates at a time; the others wait and find it done.
        tx.batch_execute(
            "SELECT pg_advisory_xact_lock(7406551698281350451);
             CREATE TABLE IF NOT EXISTS ferry_schema (version integer NOT NULL);",
        )
        .await
        .map_err(pg_err)?;
        let row = tx
            .query_opt("SELECT version FROM ferry_schema", &[])
            .await
            .map_err(pg_err)?;
        let applied = match row {
            Some(r) => usize::try_from(r.get::<_, i32>(0)).unwrap_or(0),
            None => {
                tx.execute("INSERT INTO ferry_schema (version) VALUES (0)", &[])
                    .await
                    .map_err(pg_err)?;
                0
            }
        };
        if applied > MIGRATIONS.len() {
            return Err(StoreError::Invalid(format!(
                "the database was written by a newer ferry-server (schema version {applied}, this one knows {})",
                MIGRATIONS.len()
            )));
        }
        for sql in &MIGRATIONS[applied..] {
            tx.batch_execute(sql).await.map_err(pg_err)?;
        }
        let version = i32::try_from(MIGRATIONS.len()).unwrap_or(i32::MAX);
        tx.execute("UPDATE ferry_schema SET version = $1", &[&version])
            .await
            .map_err(pg_err)?;
        tx.commit().await.map_err(pg_err)
    }

    /// The schema version, for tests.
    pub async fn schema_version(&self) -> Result<i32, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT version FROM ferry_schema", &[])
            .await
            .map_err(pg_err)?;
        Ok(row.get(0))
    }

    /// The pool, for the SQLite import and tests.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    async fn high_water(&self) -> Result<i64, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("SELECT value FROM change_seq")
            .await
            .map_err(pg_err)?;
        let row = client.query_one(&stmt, &[]).await.map_err(pg_err)?;
        Ok(row.get(0))
    }
}

/// A version as stored in history.
#[derive(Clone)]
struct Version {
    version: i64,
    fields: Fields,
    deleted: bool,
    hlc: Hlc,
    updated_at: Hlc,
    updated_by: String,
}

impl Version {
    fn record(&self, collection: &str, id: Uuid) -> Record {
        Record {
            collection: collection.to_string(),
            id,
            version: self.version,
            fields: self.fields.clone(),
            deleted: self.deleted,
            updated_at: self.updated_at.clone(),
            updated_by: self.updated_by.clone(),
        }
    }

    fn current(&self) -> Current {
        Current {
            version: self.version,
            fields: self.fields.clone(),
            deleted: self.deleted,
            hlc: self.hlc.clone(),
        }
    }
}

/// Columns: version, fields, deleted, hlc, updated_at, updated_by.
fn version_from_row(row: &tokio_postgres::Row, at: usize) -> Result<Version, StoreError> {
    let fields: String = row.get(at + 1);
    let hlc: String = row.get(at + 3);
    let updated_at: String = row.get(at + 4);
    Ok(Version {
        version: row.get(at),
        fields: serde_json::from_str(&fields).map_err(json_err)?,
        deleted: row.get(at + 2),
        hlc: parse_hlc(&hlc)?,
        updated_at: parse_hlc(&updated_at)?,
        updated_by: row.get(at + 5),
    })
}

/// Rows read per round trip while walking a record's history.
const HISTORY_CHUNK: i64 = 64;

/// Reads a record's history from just after `after` into `reader`, a chunk
/// at a time, until it has enough to rebuild its versions.
async fn read_history(
    client: &impl deadpool_postgres::GenericClient,
    collection: &str,
    id: Uuid,
    mut after: i64,
    reader: &mut PageReader,
) -> Result<(), StoreError> {
    let stmt = client
        .prepare_cached(
            "SELECT version, fields, deleted, hlc, updated_at, updated_by, delta FROM history
             WHERE collection = $1 AND id = $2 AND version > $3 ORDER BY version LIMIT $4",
        )
        .await
        .map_err(pg_err)?;
    loop {
        let rows = client
            .query(&stmt, &[&collection, &id, &after, &HISTORY_CHUNK])
            .await
            .map_err(pg_err)?;
        let full = rows.len() as i64 == HISTORY_CHUNK;
        for row in &rows {
            let len = row.get::<_, &str>(1).len();
            let v = version_from_row(row, 0)?;
            after = v.version;
            let stored = StoredVersion {
                record: v.record(collection, id),
                delta: row.get(6),
            };
            if !reader.push(stored, len) {
                return Ok(());
            }
        }
        if !full {
            return Ok(());
        }
    }
}

/// A mutation's stored outcome.
struct Remembered {
    status: String,
    collection: String,
    record_id: Uuid,
    version: Option<i64>,
    conflict: Option<String>,
    error: Option<String>,
}

fn status_name(s: Status) -> &'static str {
    match s {
        Status::Applied => "applied",
        Status::Merged => "merged",
        Status::Conflict => "conflict",
        Status::Rejected => "rejected",
    }
}

/// One push inside its transaction: reads the batch's stored state with a
/// few statements up front, decides every mutation in memory, and writes
/// all new rows at the end.
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
                "SELECT r.collection, r.id, h.version, h.fields, h.deleted, h.hlc, h.updated_at, h.updated_by
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
        let first = reader
            .finish()
            .map_err(StoreError::Internal)?
            .into_iter()
            .next()
            .filter(|r| r.version == version);
        Ok(first.map(|r| Version {
            version: r.version,
            fields: r.fields,
            deleted: r.deleted,
            // Only replies and conflict names use a version read here.
            hlc: r.updated_at.clone(),
            updated_at: r.updated_at,
            updated_by: r.updated_by,
        }))
    }

    async fn replay(&self, m: &Mutation, r: &Remembered) -> Result<MutationResult, StoreError> {
        let status: Status = serde_json::from_value(serde_json::Value::String(r.status.clone()))
            .map_err(json_err)?;
        let record = match r.version {
            Some(v) => self
                .version_at(&r.collection, r.record_id, v)
                .await?
                .map(|v| v.record(&r.collection, r.record_id)),
            None => None,
        };
        Ok(MutationResult {
            mutation_id: m.mutation_id,
            status,
            record,
            conflict: r
                .conflict
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(json_err)?,
            error: r
                .error
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(json_err)?,
        })
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
        let decision = merge::decide(
            m,
            self.defs.get(&m.collection),
            self.ctx.grants.get(&m.collection).copied(),
            current.as_ref(),
            |_| base,
        );
        let mut result = MutationResult {
            mutation_id: m.mutation_id,
            status: Status::Rejected,
            record: None,
            conflict: None,
            error: None,
        };
        match decision {
            Decision::Write {
                status,
                fields,
                deleted,
            } => {
                let version = row.as_ref().map_or(1, |r| r.version + 1);
                result.status = status;
                result.record = Some(self.write(m, version, fields, deleted)?);
            }
            Decision::Unchanged { status } => {
                result.status = status;
                result.record = row.map(|r| r.record(&m.collection, m.record_id));
            }
            Decision::Conflict { kind, fields } => {
                result.status = Status::Conflict;
                result.record = row.map(|r| r.record(&m.collection, m.record_id));
                result.conflict = Some(Conflict { kind, fields });
            }
            Decision::Reject(error) => {
                result.error = Some(error);
            }
        }
        if merge::remembered(&result) {
            self.remember(m, &result)?;
        }
        self.answered.insert(m.mutation_id, result.clone());
        Ok(result)
    }

    fn write(
        &mut self,
        m: &Mutation,
        version: i64,
        fields: Fields,
        deleted: bool,
    ) -> Result<Record, StoreError> {
        let key = (m.collection.clone(), m.record_id);
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
        let updated_at = self
            .ctx
            .clock
            .stamp(Some(&m.hlc))
            .map_err(super::clock_err)?;
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
        let v = Version {
            version,
            fields,
            deleted,
            hlc: m.hlc.clone(),
            updated_at,
            updated_by: self.ctx.session.username.clone(),
        };
        self.written.insert(
            (m.collection.clone(), m.record_id, version),
            (v.clone(), index),
        );
        let record = v.record(&m.collection, m.record_id);
        self.current.insert(key, Some(v));
        self.outcome.last_write = Some(Cursor(self.next_seq));
        if !self.outcome.touched.contains(&m.collection) {
            self.outcome.touched.push(m.collection.clone());
        }
        Ok(record)
    }

    fn remember(&mut self, m: &Mutation, r: &MutationResult) -> Result<(), StoreError> {
        let rows = &mut self.mutations;
        rows.mutation_id.push(m.mutation_id);
        rows.status.push(status_name(r.status).to_string());
        rows.collection.push(m.collection.clone());
        rows.record_id.push(m.record_id);
        rows.version.push(r.record.as_ref().map(|rec| rec.version));
        rows.conflict.push(
            r.conflict
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(json_err)?,
        );
        rows.error.push(
            r.error
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(json_err)?,
        );
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
                "INSERT INTO history (seq, collection, id, version, fields, deleted, updated_at, updated_by, hlc, delta)
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::uuid[], $4::bigint[], $5::text[],
                                      $6::boolean[], $7::text[], $8::text[], $9::text[], $10::boolean[])",
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
                "INSERT INTO records (collection, id, seq)
                 SELECT * FROM unnest($1::text[], $2::uuid[], $3::bigint[])
                 ON CONFLICT (collection, id) DO UPDATE SET seq = excluded.seq",
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
        for ((c, id), seq) in last {
            cols.push(c.to_string());
            ids.push(id);
            seqs.push(seq);
        }
        let d = &self.to_delta;
        let to_delta_params: [&(dyn ToSql + Sync); 4] = [&d.0, &d.1, &d.2, &d.3];
        let history_params: [&(dyn ToSql + Sync); 10] = [
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
        ];
        let records_params: [&(dyn ToSql + Sync); 3] = [&cols, &ids, &seqs];
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

fn parse_collections(rows: Vec<tokio_postgres::Row>) -> Result<Vec<CollectionDef>, StoreError> {
    rows.iter()
        .map(|r| serde_json::from_str(r.get::<_, &str>(0)).map_err(json_err))
        .collect()
}

const COLLECTIONS_SQL: &str = "SELECT definition FROM collections ORDER BY position";

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        client.simple_query("SELECT 1").await.map_err(pg_err)?;
        Ok(())
    }

    async fn create_user(&self, username: &str, password_hash: &str) -> Result<Uuid, StoreError> {
        let client = self.client().await?;
        let id = Uuid::now_v7();
        let n = client
            .execute(
                "INSERT INTO users (id, username, password_hash, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (username) DO NOTHING",
                &[&id, &username, &password_hash, &now()],
            )
            .await
            .map_err(pg_err)?;
        if n == 0 {
            return Err(StoreError::Exists(format!(
                "user \"{username}\" already exists"
            )));
        }
        Ok(id)
    }

    async fn set_password(&self, username: &str, password_hash: &str) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let row = tx
            .query_opt(
                "UPDATE users SET password_hash = $2 WHERE username = $1 RETURNING id",
                &[&username, &password_hash],
            )
            .await
            .map_err(pg_err)?;
        let Some(row) = row else {
            return Err(StoreError::NotFound(format!(
                "there is no user \"{username}\""
            )));
        };
        let id: Uuid = row.get(0);
        // A new password logs every device out.
        tx.execute("DELETE FROM sessions WHERE user_id = $1", &[&id])
            .await
            .map_err(pg_err)?;
        tx.commit().await.map_err(pg_err)
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<UserRow>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("SELECT id, username, password_hash FROM users WHERE username = $1")
            .await
            .map_err(pg_err)?;
        Ok(client
            .query_opt(&stmt, &[&username])
            .await
            .map_err(pg_err)?
            .map(|r| UserRow {
                id: r.get(0),
                username: r.get(1),
                password_hash: r.get(2),
            }))
    }

    async fn set_grant(
        &self,
        username: &str,
        collection: &str,
        access: Option<Access>,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        let user = client
            .query_opt("SELECT id FROM users WHERE username = $1", &[&username])
            .await
            .map_err(pg_err)?
            .ok_or_else(|| StoreError::NotFound(format!("there is no user \"{username}\"")))?;
        let user_id: Uuid = user.get(0);
        match access {
            Some(a) => {
                let a = if a == Access::Write { "write" } else { "read" };
                client
                    .execute(
                        "INSERT INTO grants (user_id, collection, access) VALUES ($1, $2, $3)
                         ON CONFLICT (user_id, collection) DO UPDATE SET access = excluded.access",
                        &[&user_id, &collection, &a],
                    )
                    .await
            }
            None => {
                client
                    .execute(
                        "DELETE FROM grants WHERE user_id = $1 AND collection = $2",
                        &[&user_id, &collection],
                    )
                    .await
            }
        }
        .map_err(pg_err)?;
        Ok(())
    }

    async fn grants(&self, user_id: Uuid) -> Result<HashMap<String, Access>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("SELECT collection, access FROM grants WHERE user_id = $1")
            .await
            .map_err(pg_err)?;
        Ok(client
            .query(&stmt, &[&user_id])
            .await
            .map_err(pg_err)?
            .iter()
            .map(|r| {
                let access = if r.get::<_, &str>(1) == "write" {
                    Access::Write
                } else {
                    Access::Read
                };
                (r.get::<_, String>(0), access)
            })
            .collect())
    }

    async fn create_session(
        &self,
        user_id: Uuid,
        device_name: &str,
        token: &TokenHash,
    ) -> Result<Uuid, StoreError> {
        let client = self.client().await?;
        let device_id = Uuid::now_v7();
        client
            .execute(
                "INSERT INTO sessions (token_hash, user_id, device_id, device_name, created_at)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&&token[..], &user_id, &device_id, &device_name, &now()],
            )
            .await
            .map_err(pg_err)?;
        Ok(device_id)
    }

    async fn session(&self, token: &TokenHash) -> Result<Option<Session>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT s.user_id, u.username, s.device_id FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.token_hash = $1",
            )
            .await
            .map_err(pg_err)?;
        Ok(client
            .query_opt(&stmt, &[&&token[..]])
            .await
            .map_err(pg_err)?
            .map(|r| Session {
                user_id: r.get(0),
                username: r.get(1),
                device_id: r.get(2),
            }))
    }

    async fn revoke_session(&self, token: &TokenHash) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute("DELETE FROM sessions WHERE token_hash = $1", &[&&token[..]])
            .await
            .map_err(pg_err)?;
        Ok(())
    }

    async fn put_collections(&self, defs: &[CollectionDef]) -> Result<(), StoreError> {
        for def in defs {
            def.validate().map_err(StoreError::Invalid)?;
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        // Positions are handed out one process at a time.
        tx.execute("LOCK TABLE collections IN EXCLUSIVE MODE", &[])
            .await
            .map_err(pg_err)?;
        for def in defs {
            let json = serde_json::to_string(def).map_err(json_err)?;
            tx.execute(
                "INSERT INTO collections (name, position, definition)
                 VALUES ($1, (SELECT coalesce(max(position), 0) + 1 FROM collections), $2)
                 ON CONFLICT (name) DO UPDATE SET definition = excluded.definition",
                &[&def.name, &json],
            )
            .await
            .map_err(pg_err)?;
        }
        tx.commit().await.map_err(pg_err)
    }

    async fn collections(&self) -> Result<Vec<CollectionDef>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(COLLECTIONS_SQL)
            .await
            .map_err(pg_err)?;
        parse_collections(client.query(&stmt, &[]).await.map_err(pg_err)?)
    }

    async fn push(
        &self,
        ctx: PushContext,
        mutations: Vec<Mutation>,
    ) -> Result<PushOutcome, StoreError> {
        let mut client = self.client().await?;
        let stmt = client
            .prepare_cached(COLLECTIONS_SQL)
            .await
            .map_err(pg_err)?;
        let defs = parse_collections(client.query(&stmt, &[]).await.map_err(pg_err)?)?
            .into_iter()
            .map(|d| (d.name.clone(), d))
            .collect();
        let tx = client.transaction().await.map_err(pg_err)?;
        let mut pusher = Pusher {
            tx: &tx,
            ctx: &ctx,
            defs,
            remembered: HashMap::new(),
            answered: HashMap::new(),
            current: HashMap::new(),
            written: HashMap::new(),
            to_delta: Default::default(),
            next_seq: 0,
            history: HistoryRows::default(),
            mutations: MutationRows::default(),
            outcome: PushOutcome {
                results: Vec::with_capacity(mutations.len()),
                last_write: None,
                written_after: Cursor::default(),
                touched: Vec::new(),
            },
        };
        // Pushes take turns from here to the commit, and so take sequence numbers in commit order (see the top).
        pusher.lock_and_prefetch(&mutations).await?;
        pusher.outcome.written_after = Cursor(pusher.next_seq);
        for m in &mutations {
            let result = pusher.apply(m).await?;
            pusher.outcome.results.push(result);
        }
        pusher.flush().await?;
        let outcome = pusher.outcome;
        tx.commit().await.map_err(pg_err)?;
        Ok(outcome)
    }

    async fn changes(
        &self,
        since: Cursor,
        limit: usize,
        collections: Vec<String>,
    ) -> Result<ChangesPage, StoreError> {
        if collections.is_empty() {
            let high_water = self.high_water().await?;
            return Ok(ChangesResponse {
                changes: Vec::new(),
                cursor: Cursor(high_water.max(since.0)).to_string(),
                has_more: false,
            });
        }
        let client = self.client().await?;
        // One statement, one snapshot: the page and the high-water mark agree.
        let stmt = client
            .prepare_cached(
                "SELECT hw.value, p.collection, p.id, p.version, p.fields, p.deleted, p.updated_at, p.updated_by, p.seq
                 FROM change_seq hw LEFT JOIN LATERAL (
                     SELECT h.collection, h.id, h.version, h.fields, h.deleted, h.updated_at, h.updated_by, r.seq
                     FROM records r JOIN history h ON h.seq = r.seq
                     WHERE r.seq > $1 AND r.collection = ANY($3)
                     ORDER BY r.seq LIMIT $2
                 ) p ON true
                 ORDER BY p.seq",
            )
            .await
            .map_err(pg_err)?;
        let fetch = i64::try_from(limit + 1).unwrap_or(i64::MAX);
        let rows = client
            .query(&stmt, &[&since.0, &fetch, &collections])
            .await
            .map_err(pg_err)?;
        let high_water: i64 = rows.first().map_or(since.0, |r| r.get(0));
        let mut changes = Vec::with_capacity(rows.len().min(limit));
        let mut last_seq = since.0;
        let mut has_more = false;
        for row in &rows {
            let Some(seq) = row.get::<_, Option<i64>>(8) else {
                break;
            };
            if changes.len() == limit {
                has_more = true;
                break;
            }
            let fields: String = row.get(4);
            let updated_at: String = row.get(6);
            changes.push(Record {
                collection: row.get(1),
                id: row.get(2),
                version: row.get(3),
                fields: serde_json::value::RawValue::from_string(fields).map_err(json_err)?,
                deleted: row.get(5),
                updated_at: parse_hlc(&updated_at)?,
                updated_by: row.get(7),
            });
            last_seq = seq;
        }
        // With nothing more to read, skip past changes of collections the reader cannot see.
        let cursor = if has_more {
            last_seq
        } else {
            high_water.max(since.0)
        };
        Ok(ChangesResponse {
            changes,
            cursor: Cursor(cursor).to_string(),
            has_more,
        })
    }

    async fn history_page(
        &self,
        collection: &str,
        id: Uuid,
        after_version: i64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<HistoryPage, StoreError> {
        let mut client = self.client().await?;
        // One snapshot: the chunks and the latest version agree.
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(pg_err)?;
        let mut reader = PageReader::new(limit, max_bytes);
        read_history(&tx, collection, id, after_version, &mut reader).await?;
        let versions = reader.finish().map_err(StoreError::Internal)?;
        let stmt = tx
            .prepare_cached("SELECT max(version) FROM history WHERE collection = $1 AND id = $2")
            .await
            .map_err(pg_err)?;
        let latest: Option<i64> = tx
            .query_one(&stmt, &[&collection, &id])
            .await
            .map_err(pg_err)?
            .get(0);
        tx.commit().await.map_err(pg_err)?;
        let has_more = match (versions.last(), latest) {
            (Some(last), Some(latest)) => last.version < latest,
            _ => false,
        };
        Ok(HistoryPage { versions, has_more })
    }

    async fn history_stored_bytes(&self, collection: &str, id: Uuid) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT coalesce(sum(octet_length(fields)), 0)::bigint FROM history WHERE collection = $1 AND id = $2",
                &[&collection, &id],
            )
            .await
            .map_err(pg_err)?;
        Ok(row.get::<_, i64>(0).max(0) as u64)
    }

    async fn prune_mutations(
        &self,
        older_than: Duration,
        limit: usize,
    ) -> Result<usize, StoreError> {
        let age = i64::try_from(older_than.as_millis())
            .unwrap_or(i64::MAX)
            .min(1 << 60);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let client = self.client().await?;
        let n = client
            .execute(
                "DELETE FROM mutations WHERE (user_id, mutation_id) IN (
                     SELECT user_id, mutation_id FROM mutations
                     WHERE created_at < (extract(epoch FROM clock_timestamp()) * 1000)::bigint - $1
                     LIMIT $2)",
                &[&age, &limit],
            )
            .await
            .map_err(pg_err)?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    async fn latest_stamp(&self) -> Result<Option<Hlc>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT max(updated_at) FROM history", &[])
            .await
            .map_err(pg_err)?;
        row.get::<_, Option<&str>>(0).map(parse_hlc).transpose()
    }

    fn relay_commits(&self, events: Events) -> bool {
        let task = tokio::spawn(relay(self.config.clone(), self.pool.clone(), events));
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(task);
        true
    }
}

/// Listens for commit notifications on a connection of its own and
/// publishes them to this process's event streams; reconnects when the
/// connection is lost, then tells every stream to pull (commits may have
/// been missed meanwhile).
async fn relay(config: tokio_postgres::Config, pool: Pool, events: Events) {
    let mut backoff = Duration::from_millis(100);
    let mut lost = false;
    loop {
        match listen(&config, &pool, &events, lost).await {
            Ok(()) => backoff = Duration::from_millis(100),
            Err(e) => {
                tracing::warn!(error = %e, "event listener connection failed; retrying");
            }
        }
        lost = true;
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

async fn listen(
    config: &tokio_postgres::Config,
    pool: &Pool,
    events: &Events,
    after_loss: bool,
) -> Result<(), tokio_postgres::Error> {
    use futures::StreamExt;
    let (client, mut connection) = config.connect(NoTls).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(msg) = messages.next().await {
            match msg {
                Ok(m) => {
                    if tx.send(m).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "event listener connection lost");
                    break;
                }
            }
        }
    });
    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    if after_loss {
        // Streams learn of anything committed while nobody listened.
        catch_up(pool, events).await;
    }
    while let Some(msg) = rx.recv().await {
        if let tokio_postgres::AsyncMessage::Notification(n) = msg
            && n.channel() == CHANNEL
        {
            #[derive(serde::Deserialize)]
            struct Payload {
                cursor: String,
                collections: Vec<String>,
            }
            if let Ok(p) = serde_json::from_str::<Payload>(n.payload()) {
                events.publish(Commit {
                    cursor: p.cursor,
                    collections: p.collections,
                });
            }
        }
    }
    driver.abort();
    drop(client);
    Ok(())
}

async fn catch_up(pool: &Pool, events: &Events) {
    let Ok(client) = pool.get().await else {
        return;
    };
    let Ok(rows) = client
        .query(
            "SELECT (SELECT value FROM change_seq), name FROM collections",
            &[],
        )
        .await
    else {
        return;
    };
    if let Some(first) = rows.first() {
        events.publish(Commit {
            cursor: first.get::<_, i64>(0).to_string(),
            collections: rows.iter().map(|r| r.get(1)).collect(),
        });
    }
}

/// Fresh PostgreSQL databases for tests: each test gets its own, dropped
/// when the guard is. The server comes from `FERRY_TEST_PG_URL`
/// (`make test` sets it and starts PostgreSQL; see scripts/postgres.sh).
pub mod testing {
    use super::*;

    /// The test server's URL; `None` (with a note on standard error) when
    /// it is not set, unless `CI` or `FERRY_REQUIRE_PG` is set: then a panic,
    /// so a CI run never passes without having run the PostgreSQL tests.
    pub fn server_url() -> Option<String> {
        match std::env::var("FERRY_TEST_PG_URL") {
            Ok(url) if !url.is_empty() => Some(url),
            _ => {
                if std::env::var_os("CI").is_some()
                    || std::env::var_os("FERRY_REQUIRE_PG").is_some()
                {
                    panic!(
                        "FERRY_TEST_PG_URL is not set: the PostgreSQL tests need a server \
                         (run `make test`, or scripts/postgres.sh and \
                         FERRY_TEST_PG_URL=postgres://postgres@127.0.0.1:5432/test)"
                    );
                }
                eprintln!(
                    "SKIPPED: FERRY_TEST_PG_URL is not set, so this PostgreSQL test did not run \
                     (`make test` sets it up)"
                );
                None
            }
        }
    }

    /// A database that exists until dropped.
    pub struct TestDb {
        pub url: String,
        pub name: String,
        server: String,
    }

    impl TestDb {
        /// Creates a fresh database on the test server; `None` if there is none configured.
        pub async fn create() -> Option<TestDb> {
            Some(TestDb::create_on(&server_url()?).await)
        }

        /// Creates a fresh database on the server `server` (a URL) names.
        pub async fn create_on(server: &str) -> TestDb {
            let server = server.to_string();
            let name = format!("ferry_test_{}", Uuid::new_v4().simple());
            let client = admin(&server).await;
            client
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap_or_else(|e| panic!("create database {name}: {e}"));
            let url = with_dbname(&server, &name);
            TestDb { url, name, server }
        }
    }

    /// `url` naming database `name` instead.
    pub fn with_dbname(url: &str, name: &str) -> String {
        let (base, query) = match url.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (url, None),
        };
        let after_scheme = base.find("://").map_or(0, |i| i + 3);
        let base = match base[after_scheme..].find('/') {
            Some(i) => &base[..after_scheme + i],
            None => base,
        };
        match query {
            Some(q) => format!("{base}/{name}?{q}"),
            None => format!("{base}/{name}"),
        }
    }

    async fn admin(server: &str) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(server, NoTls)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "cannot connect to the PostgreSQL test server {} (FERRY_TEST_PG_URL): {e}",
                    crate::config::redact_url(server)
                )
            });
        tokio::spawn(conn);
        client
    }

    impl Drop for TestDb {
        fn drop(&mut self) {
            let (server, name) = (self.server.clone(), self.name.clone());
            // Its own thread and runtime: a Drop cannot await, and may run outside any runtime.
            let done = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(rt) = rt {
                    rt.block_on(async {
                        if let Ok((client, conn)) = tokio_postgres::connect(&server, NoTls).await {
                            tokio::spawn(conn);
                            let _ = client
                                .batch_execute(&format!(
                                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                                ))
                                .await;
                        }
                    });
                }
            });
            let _ = done.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::TestDb;
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn conformance() {
        if testing::server_url().is_none() {
            return;
        }
        super::super::conformance::run_all(|| async {
            let db = TestDb::create().await.expect("test database");
            let store = PgStore::open(&db.url, &PgOptions::default()).await?;
            Ok((
                Arc::new(store) as super::super::DynStore,
                Box::new(db) as Box<dyn std::any::Any + Send>,
            ))
        })
        .await;
    }

    #[tokio::test]
    async fn migrations_are_recorded_and_rerunnable() {
        let Some(db) = TestDb::create().await else {
            return;
        };
        drop(
            PgStore::open(&db.url, &PgOptions::default())
                .await
                .expect("first open"),
        );
        let store = PgStore::open(&db.url, &PgOptions::default())
            .await
            .expect("second open");
        assert_eq!(
            store.schema_version().await.expect("version"),
            MIGRATIONS.len() as i32
        );
        let client = store.pool().get().await.expect("client");
        client
            .execute("UPDATE ferry_schema SET version = 99", &[])
            .await
            .expect("set");
        drop(client);
        drop(store);
        let err = PgStore::open(&db.url, &PgOptions::default())
            .await
            .err()
            .expect("newer schema refused");
        assert!(err.to_string().contains("newer ferry-server"), "{err}");
    }

    #[tokio::test]
    async fn an_unreachable_server_is_unavailable_and_names_the_url_without_password() {
        let options = PgOptions {
            pool_size: 2,
            timeout: Duration::from_secs(2),
        };
        // Port 1 on loopback: nothing listens there.
        let err = PgStore::open("postgres://u:secret@127.0.0.1:1/x", &options)
            .await
            .err()
            .expect("must fail");
        let msg = err.to_string();
        assert!(matches!(err, StoreError::Unavailable(_)), "{msg}");
        assert!(
            msg.contains("127.0.0.1:1") && !msg.contains("secret"),
            "{msg}"
        );
    }
}
