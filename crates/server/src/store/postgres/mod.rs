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
//! listens on one dedicated connection and feeds its own event streams
//! ([`relay`]).

mod admin;
mod compact;
mod push;
mod read;
mod relay;
mod rules;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use ferry_protocol::{Access, Hlc, Mutation, Record};
use tokio_postgres::NoTls;
use uuid::Uuid;

use super::history::PageReader;
use super::{
    ChangesPage, CollectionSize, Cursor, DeviceRow, HistoryPage, NewDevice, PoolUsage, PushContext,
    PushOutcome, Reader, RuleChange, Session, Store, StoreError, Team, TokenHash, UserRow,
    collection_sizes_from, json_err, newer_schema, no_such_user, now, prune_bounds, stored_access,
    stored_hlc, user_exists,
};
use crate::events::Events;
use crate::schema_file::CollectionDef;
use read::{Version, collections, read_history, version_from_row};

/// The channel of commit notifications.
const CHANNEL: &str = "ferry_changes";

/// Forward-only migrations, oldest first; `ferry_schema.version` counts
/// those applied. Never edit one that has shipped: add the next.
/// A device's columns, for [`device_row`].
const DEVICE_SELECT: &str = "SELECT s.device_id, s.user_id, u.username, s.device_name, s.platform, s.app_version,
    s.created_at, coalesce(s.last_seen_at, s.created_at), s.last_ip, s.revoked_at IS NOT NULL, s.wipe
    FROM sessions s JOIN users u ON u.id = s.user_id";

fn device_row(r: &tokio_postgres::Row) -> DeviceRow {
    DeviceRow {
        id: r.get(0),
        user_id: r.get(1),
        username: r.get(2),
        name: r.get(3),
        platform: r.get(4),
        app_version: r.get(5),
        first_seen: r.get(6),
        last_seen: r.get(7),
        last_ip: r.get(8),
        revoked: r.get(9),
        wipe: r.get(10),
    }
}

const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_history_delta.sql"),
    include_str!("migrations/0003_mutation_age.sql"),
    include_str!("migrations/0004_merged_from.sql"),
    include_str!("migrations/0005_row_rules.sql"),
    include_str!("migrations/0006_feed_gained.sql"),
    include_str!("migrations/0007_write_only.sql"),
    include_str!("migrations/0008_blobs.sql"),
    include_str!("migrations/0009_devices.sql"),
    include_str!("migrations/0010_admin.sql"),
    include_str!("migrations/0011_meta.sql"),
];

/// Settings of the connection pool.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Most connections this process opens (plus one that listens for events).
    pub pool_size: usize,
    /// How long connecting to the database may take.
    pub timeout: Duration,
    /// How long a request queues for a connection of the pool before it is
    /// answered 503: longer than connecting, so that a burst of heavy reads
    /// (many laptops catching up at once) waits its turn instead of failing.
    pub wait: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            pool_size: 16,
            timeout: Duration::from_secs(5),
            wait: Duration::from_secs(30),
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
            .wait_timeout(Some(options.wait))
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
            return Err(StoreError::Invalid(newer_schema(applied, MIGRATIONS.len())));
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

    /// The plan of the feed statement for `reader`, for benchmarks.
    pub async fn explain_feed(&self, reader: &Reader) -> Result<Vec<String>, StoreError> {
        rules::explain_feed(&self.client().await?, reader).await
    }

    /// The pool, for the SQLite import and tests.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }
}

#[async_trait]
impl Store for PgStore {
    fn kind(&self) -> &'static str {
        "postgres"
    }

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
            return Err(user_exists(username));
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
            return Err(no_such_user(username));
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
            .prepare_cached(
                "SELECT id, username, password_hash, role, disabled FROM users WHERE username = $1",
            )
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
                role: ferry_protocol::admin::Role::parse(r.get(3)),
                disabled: r.get(4),
            }))
    }

    async fn rules_for(&self, user_id: Uuid) -> Result<Vec<crate::rules::RuleRow>, StoreError> {
        rules::rules_for(&self.client().await?, user_id).await
    }

    async fn change_rules(&self, change: RuleChange) -> Result<(), StoreError> {
        rules::change_rules(&mut self.client().await?, &change).await
    }

    async fn teams(&self) -> Result<Vec<Team>, StoreError> {
        rules::teams(&self.client().await?).await
    }

    async fn add_blob_owner(
        &self,
        sha256: &str,
        user_id: Uuid,
        size: u64,
    ) -> Result<(), StoreError> {
        let size = i64::try_from(size).unwrap_or(i64::MAX);
        self.client()
            .await?
            .execute(
                "INSERT INTO blob_owners (sha256, user_id, size) VALUES ($1, $2, $3)
                 ON CONFLICT (sha256, user_id) DO NOTHING",
                &[&sha256, &user_id, &size],
            )
            .await
            .map(|_| ())
            .map_err(pg_err)
    }

    async fn blob_readable(&self, sha256: &str, user_id: Uuid) -> Result<bool, StoreError> {
        Ok(self
            .client()
            .await?
            .query_opt(
                "SELECT 1 FROM blob_owners WHERE sha256 = $1 AND user_id = $2",
                &[&sha256, &user_id],
            )
            .await
            .map_err(pg_err)?
            .is_some())
    }

    async fn blob_bytes(&self, user_id: Uuid) -> Result<u64, StoreError> {
        let n: i64 = self
            .client()
            .await?
            .query_one(
                "SELECT COALESCE(SUM(size), 0)::bigint FROM blob_owners WHERE user_id = $1",
                &[&user_id],
            )
            .await
            .map_err(pg_err)?
            .get(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn forget_blob(&self, sha256: &str) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute("DELETE FROM blob_owners WHERE sha256 = $1", &[&sha256])
            .await
            .map_err(pg_err)?;
        Ok(())
    }

    async fn blob_refs(&self, collection: &str, field: &str) -> Result<Vec<String>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT DISTINCT f->>'sha256'
                 FROM history h, jsonb_array_elements(
                     CASE WHEN jsonb_typeof(h.fields::jsonb -> $2) = 'array'
                          THEN h.fields::jsonb -> $2 ELSE '[]'::jsonb END) f
                 WHERE h.collection = $1 AND jsonb_typeof(f -> 'sha256') = 'string'",
                &[&collection, &field],
            )
            .await
            .map_err(pg_err)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn current(&self, collection: &str, id: Uuid) -> Result<Option<Record>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT h.version, h.fields, h.deleted, h.hlc, h.updated_at, h.updated_by, h.merged_from
                 FROM records r JOIN history h ON h.seq = r.seq WHERE r.collection = $1 AND r.id = $2",
                &[&collection, &id],
            )
            .await
            .map_err(pg_err)?;
        row.map(|row| version_from_row(&row, 0).map(|v| v.record(collection, id)))
            .transpose()
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
            .map(|r| (r.get::<_, String>(0), stored_access(r.get(1))))
            .collect())
    }

    async fn create_session(
        &self,
        user_id: Uuid,
        device: &NewDevice,
        token: &TokenHash,
    ) -> Result<Uuid, StoreError> {
        let client = self.client().await?;
        let device_id = Uuid::now_v7();
        client
            .execute(
                "INSERT INTO sessions (token_hash, user_id, device_id, device_name, created_at, platform, app_version, last_seen_at, last_ip)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $5, $8)",
                &[
                    &&token[..],
                    &user_id,
                    &device_id,
                    &device.name,
                    &now(),
                    &device.platform,
                    &device.app_version,
                    &device.ip,
                ],
            )
            .await
            .map_err(pg_err)?;
        Ok(device_id)
    }

    async fn session(&self, token: &TokenHash) -> Result<Option<Session>, StoreError> {
        Ok(self
            .token_device(token)
            .await?
            .filter(|d| !d.revoked)
            .map(|d| d.session()))
    }

    async fn revoke_session(&self, token: &TokenHash) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute("DELETE FROM sessions WHERE token_hash = $1", &[&&token[..]])
            .await
            .map_err(pg_err)?;
        Ok(())
    }

    async fn token_device(&self, token: &TokenHash) -> Result<Option<DeviceRow>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!("{DEVICE_SELECT} WHERE s.token_hash = $1"))
            .await
            .map_err(pg_err)?;
        Ok(client
            .query_opt(&stmt, &[&&token[..]])
            .await
            .map_err(pg_err)?
            .map(|r| device_row(&r)))
    }

    async fn touch_session(&self, token: &TokenHash, ip: Option<String>) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE sessions SET last_seen_at = $2, last_ip = coalesce($3, last_ip) WHERE token_hash = $1",
                &[&&token[..], &now(), &ip],
            )
            .await
            .map_err(pg_err)?;
        Ok(())
    }

    async fn devices(&self, user: Option<Uuid>) -> Result<Vec<DeviceRow>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "{DEVICE_SELECT} WHERE $1::uuid IS NULL OR s.user_id = $1
                     ORDER BY coalesce(s.last_seen_at, s.created_at) DESC"
                ),
                &[&user],
            )
            .await
            .map_err(pg_err)?;
        Ok(rows.iter().map(device_row).collect())
    }

    async fn revoke_device(&self, id: Uuid, wipe: bool) -> Result<Option<DeviceRow>, StoreError> {
        let client = self.client().await?;
        let before = client
            .query_opt(&format!("{DEVICE_SELECT} WHERE s.device_id = $1"), &[&id])
            .await
            .map_err(pg_err)?
            .map(|r| device_row(&r));
        client
            .execute(
                "UPDATE sessions SET revoked_at = coalesce(revoked_at, $2), wipe = (wipe OR $3) WHERE device_id = $1",
                &[&id, &now(), &wipe],
            )
            .await
            .map_err(pg_err)?;
        Ok(before)
    }

    async fn admin_users(&self) -> Result<Vec<ferry_protocol::admin::AdminUser>, StoreError> {
        admin::admin_users(&self.client().await?).await
    }

    async fn update_user(
        &self,
        username: &str,
        role: Option<ferry_protocol::admin::Role>,
        disabled: Option<bool>,
    ) -> Result<usize, StoreError> {
        admin::update_user(&mut self.client().await?, username, role, disabled).await
    }

    async fn add_audit(&self, entry: super::NewAudit) -> Result<(), StoreError> {
        admin::add_audit(&self.client().await?, &entry).await
    }

    async fn audit(
        &self,
        filter: super::AuditFilter,
    ) -> Result<Vec<ferry_protocol::admin::AuditEntry>, StoreError> {
        admin::audit(&self.client().await?, &filter).await
    }

    async fn all_grants(&self) -> Result<Vec<ferry_protocol::admin::Grant>, StoreError> {
        admin::all_grants(&self.client().await?).await
    }

    async fn count_records(
        &self,
        collection: &str,
        values: Option<Vec<String>>,
    ) -> Result<u64, StoreError> {
        admin::count_records(&self.client().await?, collection, values.as_deref()).await
    }

    async fn recent_changes(
        &self,
        filter: super::ChangesFilter,
    ) -> Result<Vec<(ferry_protocol::admin::RecordChange, String)>, StoreError> {
        admin::recent_changes(&self.client().await?, &filter).await
    }

    async fn field_usage(
        &self,
        collection: &str,
        field: &str,
        choice: bool,
    ) -> Result<ferry_protocol::admin::FieldUsage, StoreError> {
        admin::field_usage(&self.client().await?, collection, field, choice).await
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
        let before = collections(&tx).await?;
        for def in defs {
            let old = before.iter().find(|d| d.name == def.name);
            if old.and_then(|d| d.partition_by.as_ref()) != def.partition_by.as_ref() {
                rules::repartition(&tx, def).await?;
            }
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
        collections(&self.client().await?).await
    }

    async fn push(
        &self,
        ctx: PushContext,
        mutations: Vec<Mutation>,
    ) -> Result<PushOutcome, StoreError> {
        let mut client = self.client().await?;
        push::push(&mut client, &ctx, &mutations).await
    }

    async fn changes(
        &self,
        since: Cursor,
        limit: usize,
        reader: Reader,
    ) -> Result<ChangesPage, StoreError> {
        let client = self.client().await?;
        let page = rules::changes_page(&client, since, limit, &reader).await?;
        // Read after the page: a deletion the page missed because it was
        // compacted away had raised the horizon before the page was read.
        let horizon = compact::horizon(&client).await?;
        if super::compact::expired(since, reader.walk, horizon) {
            return Err(StoreError::CursorExpired(horizon));
        }
        Ok(page)
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
        Ok(HistoryPage::new(versions, latest))
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
        let (age, limit) = prune_bounds(older_than, limit);
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

    async fn collection_sizes(&self) -> Result<Vec<CollectionSize>, StoreError> {
        let client = self.client().await?;
        let mut grouped = Vec::with_capacity(2);
        for sql in [
            "SELECT collection, count(*) FROM records GROUP BY collection",
            "SELECT collection, count(*) FROM history GROUP BY collection",
        ] {
            let rows = client.query(sql, &[]).await.map_err(pg_err)?;
            grouped.push(
                rows.iter()
                    .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1)))
                    .collect::<Vec<_>>(),
            );
        }
        let history = grouped.pop().unwrap_or_default();
        let records = grouped.pop().unwrap_or_default();
        Ok(collection_sizes_from(records, history))
    }

    fn pool_usage(&self) -> Option<PoolUsage> {
        let status = self.pool.status();
        Some(PoolUsage {
            size: status.size,
            idle: status.available,
            max: status.max_size,
            waiting: status.waiting,
        })
    }

    async fn high_water(&self) -> Result<i64, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("SELECT value FROM change_seq")
            .await
            .map_err(pg_err)?;
        Ok(client.query_one(&stmt, &[]).await.map_err(pg_err)?.get(0))
    }

    async fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        compact::meta(&self.client().await?, key).await
    }

    async fn set_meta(&self, entries: Vec<(String, String)>) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        for (k, v) in &entries {
            compact::set_meta(&tx, k, v).await?;
        }
        tx.commit().await.map_err(pg_err)
    }

    async fn compact_window(
        &self,
        plan: &[(String, super::compact::Bounds)],
        lo: i64,
        hi: i64,
    ) -> Result<super::compact::CompactReport, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        tx.query_one("SELECT value FROM change_seq FOR UPDATE", &[])
            .await
            .map_err(pg_err)?;
        let mut report = super::compact::CompactReport::default();
        for (collection, bounds) in plan {
            report.add(compact::window(&tx, collection, bounds, lo, hi).await?);
        }
        tx.commit().await.map_err(pg_err)?;
        Ok(report)
    }

    async fn latest_stamp(&self) -> Result<Option<Hlc>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT max(updated_at) FROM history", &[])
            .await
            .map_err(pg_err)?;
        row.get::<_, Option<&str>>(0).map(stored_hlc).transpose()
    }

    fn relay_commits(&self, events: Events) -> bool {
        let task = tokio::spawn(relay::relay(self.config.clone(), self.pool.clone(), events));
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(task);
        true
    }
}
