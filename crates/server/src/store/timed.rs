//! A [`Store`] that times every operation of the store it wraps, for
//! `ferry_store_query_duration_seconds{operation}`. It decides nothing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ferry_protocol::{Access, Hlc, Mutation, Record};
use uuid::Uuid;

use super::{
    ChangesPage, CollectionSize, Cursor, DeviceRow, DynStore, HistoryPage, NewDevice, PoolUsage,
    PushContext, PushOutcome, Reader, RuleChange, Session, Store, StoreError, Team, TokenHash,
    UserRow,
};
use crate::events::Events;
use crate::metrics::Metrics;
use crate::schema_file::CollectionDef;

pub struct TimedStore {
    inner: DynStore,
    metrics: Arc<Metrics>,
}

impl TimedStore {
    pub fn wrap(inner: DynStore, metrics: Arc<Metrics>) -> DynStore {
        Arc::new(TimedStore { inner, metrics })
    }

    async fn timed<T>(
        &self,
        operation: &'static str,
        work: impl std::future::Future<Output = T>,
    ) -> T {
        let started = Instant::now();
        let out = work.await;
        self.metrics.store_operation(operation, started.elapsed());
        out
    }
}

#[async_trait]
impl Store for TimedStore {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.timed("ping", self.inner.ping()).await
    }

    async fn create_user(&self, username: &str, password_hash: &str) -> Result<Uuid, StoreError> {
        self.timed(
            "create_user",
            self.inner.create_user(username, password_hash),
        )
        .await
    }

    async fn set_password(&self, username: &str, password_hash: &str) -> Result<(), StoreError> {
        self.timed(
            "set_password",
            self.inner.set_password(username, password_hash),
        )
        .await
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<UserRow>, StoreError> {
        self.timed("user_by_name", self.inner.user_by_name(username))
            .await
    }

    async fn set_grant(
        &self,
        username: &str,
        collection: &str,
        access: Option<Access>,
    ) -> Result<(), StoreError> {
        self.timed(
            "set_grant",
            self.inner.set_grant(username, collection, access),
        )
        .await
    }

    async fn grants(&self, user_id: Uuid) -> Result<HashMap<String, Access>, StoreError> {
        self.timed("grants", self.inner.grants(user_id)).await
    }

    async fn rules_for(&self, user_id: Uuid) -> Result<Vec<crate::rules::RuleRow>, StoreError> {
        self.timed("rules_for", self.inner.rules_for(user_id)).await
    }

    async fn change_rules(&self, change: RuleChange) -> Result<(), StoreError> {
        self.timed("change_rules", self.inner.change_rules(change))
            .await
    }

    async fn teams(&self) -> Result<Vec<Team>, StoreError> {
        self.timed("teams", self.inner.teams()).await
    }

    async fn add_blob_owner(
        &self,
        sha256: &str,
        user_id: Uuid,
        size: u64,
    ) -> Result<(), StoreError> {
        self.timed(
            "add_blob_owner",
            self.inner.add_blob_owner(sha256, user_id, size),
        )
        .await
    }

    async fn blob_readable(&self, sha256: &str, user_id: Uuid) -> Result<bool, StoreError> {
        self.timed("blob_readable", self.inner.blob_readable(sha256, user_id))
            .await
    }

    async fn blob_bytes(&self, user_id: Uuid) -> Result<u64, StoreError> {
        self.timed("blob_bytes", self.inner.blob_bytes(user_id))
            .await
    }

    async fn forget_blob(&self, sha256: &str) -> Result<(), StoreError> {
        self.timed("forget_blob", self.inner.forget_blob(sha256))
            .await
    }

    async fn blob_refs(&self, collection: &str, field: &str) -> Result<Vec<String>, StoreError> {
        self.timed("blob_refs", self.inner.blob_refs(collection, field))
            .await
    }

    async fn current(&self, collection: &str, id: Uuid) -> Result<Option<Record>, StoreError> {
        self.timed("current", self.inner.current(collection, id))
            .await
    }

    async fn create_session(
        &self,
        user_id: Uuid,
        device: &NewDevice,
        token: &TokenHash,
    ) -> Result<Uuid, StoreError> {
        self.timed(
            "create_session",
            self.inner.create_session(user_id, device, token),
        )
        .await
    }

    async fn session(&self, token: &TokenHash) -> Result<Option<Session>, StoreError> {
        self.timed("session", self.inner.session(token)).await
    }

    async fn revoke_session(&self, token: &TokenHash) -> Result<(), StoreError> {
        self.timed("revoke_session", self.inner.revoke_session(token))
            .await
    }

    async fn token_device(&self, token: &TokenHash) -> Result<Option<DeviceRow>, StoreError> {
        self.timed("token_device", self.inner.token_device(token))
            .await
    }

    async fn touch_session(&self, token: &TokenHash, ip: Option<String>) -> Result<(), StoreError> {
        self.timed("touch_session", self.inner.touch_session(token, ip))
            .await
    }

    async fn devices(&self, user: Option<Uuid>) -> Result<Vec<DeviceRow>, StoreError> {
        self.timed("devices", self.inner.devices(user)).await
    }

    async fn revoke_device(&self, id: Uuid, wipe: bool) -> Result<Option<DeviceRow>, StoreError> {
        self.timed("revoke_device", self.inner.revoke_device(id, wipe))
            .await
    }

    async fn admin_users(&self) -> Result<Vec<ferry_protocol::admin::AdminUser>, StoreError> {
        self.timed("admin_users", self.inner.admin_users()).await
    }

    async fn update_user(
        &self,
        username: &str,
        role: Option<ferry_protocol::admin::Role>,
        disabled: Option<bool>,
    ) -> Result<usize, StoreError> {
        self.timed(
            "update_user",
            self.inner.update_user(username, role, disabled),
        )
        .await
    }

    async fn add_audit(&self, entry: super::NewAudit) -> Result<(), StoreError> {
        self.timed("add_audit", self.inner.add_audit(entry)).await
    }

    async fn audit(
        &self,
        filter: super::AuditFilter,
    ) -> Result<Vec<ferry_protocol::admin::AuditEntry>, StoreError> {
        self.timed("audit", self.inner.audit(filter)).await
    }

    async fn all_grants(&self) -> Result<Vec<ferry_protocol::admin::Grant>, StoreError> {
        self.timed("all_grants", self.inner.all_grants()).await
    }

    async fn count_records(
        &self,
        collection: &str,
        values: Option<Vec<String>>,
    ) -> Result<u64, StoreError> {
        self.timed(
            "count_records",
            self.inner.count_records(collection, values),
        )
        .await
    }

    async fn recent_changes(
        &self,
        filter: super::ChangesFilter,
    ) -> Result<Vec<(ferry_protocol::admin::RecordChange, String)>, StoreError> {
        self.timed("recent_changes", self.inner.recent_changes(filter))
            .await
    }

    async fn field_usage(
        &self,
        collection: &str,
        field: &str,
        choice: bool,
    ) -> Result<ferry_protocol::admin::FieldUsage, StoreError> {
        self.timed(
            "field_usage",
            self.inner.field_usage(collection, field, choice),
        )
        .await
    }

    async fn put_collections(&self, defs: &[CollectionDef]) -> Result<(), StoreError> {
        self.timed("put_collections", self.inner.put_collections(defs))
            .await
    }

    async fn collections(&self) -> Result<Vec<CollectionDef>, StoreError> {
        self.timed("collections", self.inner.collections()).await
    }

    async fn push(
        &self,
        ctx: PushContext,
        mutations: Vec<Mutation>,
    ) -> Result<PushOutcome, StoreError> {
        self.timed("push", self.inner.push(ctx, mutations)).await
    }

    async fn changes(
        &self,
        since: Cursor,
        limit: usize,
        reader: Reader,
    ) -> Result<ChangesPage, StoreError> {
        self.timed("changes", self.inner.changes(since, limit, reader))
            .await
    }

    async fn history_page(
        &self,
        collection: &str,
        id: Uuid,
        after_version: i64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<HistoryPage, StoreError> {
        self.timed(
            "history_page",
            self.inner
                .history_page(collection, id, after_version, limit, max_bytes),
        )
        .await
    }

    async fn prune_mutations(
        &self,
        older_than: Duration,
        limit: usize,
    ) -> Result<usize, StoreError> {
        self.timed(
            "prune_mutations",
            self.inner.prune_mutations(older_than, limit),
        )
        .await
    }

    async fn history_stored_bytes(&self, collection: &str, id: Uuid) -> Result<u64, StoreError> {
        self.timed(
            "history_stored_bytes",
            self.inner.history_stored_bytes(collection, id),
        )
        .await
    }

    async fn latest_stamp(&self) -> Result<Option<Hlc>, StoreError> {
        self.timed("latest_stamp", self.inner.latest_stamp()).await
    }

    async fn high_water(&self) -> Result<i64, StoreError> {
        self.timed("high_water", self.inner.high_water()).await
    }

    async fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.timed("meta", self.inner.meta(key)).await
    }

    async fn set_meta(&self, entries: Vec<(String, String)>) -> Result<(), StoreError> {
        self.timed("set_meta", self.inner.set_meta(entries)).await
    }

    async fn compact_window(
        &self,
        plan: &[(String, super::compact::Bounds)],
        lo: i64,
        hi: i64,
    ) -> Result<super::compact::CompactReport, StoreError> {
        self.timed("compact_window", self.inner.compact_window(plan, lo, hi))
            .await
    }

    async fn collection_sizes(&self) -> Result<Vec<CollectionSize>, StoreError> {
        self.timed("collection_sizes", self.inner.collection_sizes())
            .await
    }

    fn pool_usage(&self) -> Option<PoolUsage> {
        self.inner.pool_usage()
    }

    fn relay_commits(&self, events: Events) -> bool {
        self.inner.relay_commits(events)
    }
}
