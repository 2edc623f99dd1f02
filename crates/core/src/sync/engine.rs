//! One sync cycle: refresh the schema, push the outbox in FIFO batches, then
//! pull pages since the cursor, each page applied in one transaction.

use std::collections::HashMap;
use std::sync::Arc;

use ferry_protocol::{
    CHANGES_MAX_LIMIT, ChangesResponse, Collection, FieldType, FileRef, Mutation,
    PUSH_MAX_MUTATIONS, PushResponse, Record,
};
use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::broadcast;
use tracing::Instrument;

use super::api::{Api, HttpOptions, normalise_url};
use super::{ChangedRecords, Event};
use crate::error::{Error, Result};
use crate::files::Files;
use crate::model::PushSummary;
use crate::profile::{Account, Profile, Token};
use crate::store::{LocalStore, keys, now_rfc3339};

/// What one sync cycle did and what is left.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SyncReport {
    pub pushed: PushSummary,
    pub pulled: usize,
    pub outbox: i64,
    pub conflicts: i64,
    pub rejected: i64,
    pub cursor: Option<String>,
}

pub struct SyncEngine {
    profile: Arc<Profile>,
    events: broadcast::Sender<Event>,
    cycle: tokio::sync::Mutex<()>,
    /// Records per pulled page.
    pub page_size: usize,
    /// Mutations per push.
    pub batch_size: usize,
    /// Bytes of mutations (as JSON) per push, about: a push must go up and
    /// be answered within the read timeout, 1 MiB in 30 s needs 35 kB/s.
    pub push_bytes: usize,
    /// Network timeouts of every request this engine makes.
    pub http: HttpOptions,
}

impl std::fmt::Debug for SyncEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncEngine")
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

impl SyncEngine {
    pub fn new(profile: Arc<Profile>) -> SyncEngine {
        let (events, _) = broadcast::channel(256);
        SyncEngine {
            profile,
            events,
            cycle: tokio::sync::Mutex::new(()),
            page_size: 2000,
            batch_size: PUSH_MAX_MUTATIONS,
            push_bytes: 1024 * 1024,
            http: HttpOptions::default(),
        }
    }

    pub fn profile(&self) -> &Arc<Profile> {
        &self.profile
    }

    /// Status and data changes, for any UI.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    pub(crate) fn publish(&self, event: Event) {
        let _ = self.events.send(event);
    }

    /// A client for the logged-in account.
    pub fn api(&self) -> Result<Api> {
        let account = self.profile.account()?.ok_or(Error::NotLoggedIn)?;
        let token = self.profile.token()?.ok_or(Error::NotLoggedIn)?;
        let unsent = self.profile.store().pending_counts()?.outbox;
        let epoch = self.profile.store().server_epoch()?;
        Ok(
            Api::with_options(&account.server, Some(token), self.http.clone())?
                .with_unsent(unsent)
                .with_epoch(epoch),
        )
    }

    /// Logs in and keeps the token; then fetches the schema.
    pub async fn login(
        &self,
        server: &str,
        username: &str,
        password: &str,
        device_name: &str,
    ) -> Result<Account> {
        self.login_as(server, username, password, device_name, "ferry-core")
            .await
    }

    /// [`SyncEngine::login`] for app `app` (as the server's device list names it).
    pub async fn login_as(
        &self,
        server: &str,
        username: &str,
        password: &str,
        device_name: &str,
        app: &str,
    ) -> Result<Account> {
        let server = normalise_url(server)?;
        let store = self.profile.store();
        if let Some(current) = self.profile.account()? {
            let counts = store.counts()?;
            if (current.server != server || current.username != username)
                && (counts.records > 0 || counts.outbox > 0)
            {
                return Err(Error::OtherAccount {
                    username: current.username,
                    server: current.server,
                    wanted: format!("{username}@{server}"),
                });
            }
        }
        let api = Api::with_options(&server, None, self.http.clone())?;
        api.health().await?;
        let login = api.login(username, password, device_name, app).await?;
        let account = Account {
            server: server.clone(),
            username: login.user.username.clone(),
            device_id: Some(login.device_id.to_string()),
        };
        let token = Token::new(login.token.clone());
        self.profile.save_login(&account, &token)?;
        tracing::info!(server = %server, username = %account.username, "logged in");
        let api = Api::with_options(&server, Some(token), self.http.clone())?;
        self.refresh_schema(&api).await?;
        Ok(account)
    }

    /// Revokes the token on the server when it can be reached, and forgets it here.
    pub async fn logout(&self) -> Result<()> {
        let offline = self.profile.store().work_offline()?;
        let told = match self.api() {
            Ok(api) if !offline => Some(api.logout().await),
            _ => None,
        };
        if let Some(Err(e)) = told {
            tracing::warn!(error = %e, "the server could not be told about the logout");
        }
        self.profile.clear_token()
    }

    /// Every version of one record the server keeps, oldest first.
    pub async fn history(&self, collection: &str, id: uuid::Uuid) -> Result<Vec<Record>> {
        if self.profile.store().work_offline()? {
            return Err(Error::WorkingOffline);
        }
        let api = self.api()?;
        let mut versions: Vec<Record> = Vec::new();
        loop {
            let after = versions.last().map_or(0, |r| r.version);
            let page = api.history(collection, id, after).await?;
            // A page that does not move on ends the walk, whatever has_more says.
            let moved = page.versions.last().is_some_and(|r| r.version > after);
            versions.extend(page.versions);
            if !page.has_more || !moved {
                return Ok(versions);
            }
        }
    }

    pub async fn refresh_schema(&self, api: &Api) -> Result<Vec<Collection>> {
        let schema = api.schema().await?;
        self.profile.store().replace_schema(&schema.collections)?;
        Ok(schema.collections)
    }

    /// One full cycle. Fails without touching anything while working offline.
    pub async fn sync(&self) -> Result<SyncReport> {
        let _cycle = self.cycle.lock().await;
        let store = self.profile.store();
        if store.work_offline()? {
            return Err(Error::WorkingOffline);
        }
        let api = self.api()?;
        let span = tracing::info_span!("sync", server = %api.base());
        match self.cycle_with(&api).instrument(span.clone()).await {
            // The history since the cursor is gone: everything again, once.
            Err(Error::CursorExpired) => {
                store.begin_resync(None)?;
                self.cycle_with(&self.api()?).instrument(span).await
            }
            // Restored from a backup: send again what it lost, then everything.
            Err(Error::EpochChanged { epoch }) => {
                let Some(epoch) = epoch.or_else(|| api.seen_epoch()) else {
                    return Err(Error::Incompatible {
                        url: api.base().to_string(),
                        detail: "410 epoch_changed without the server's new epoch".into(),
                    });
                };
                store.begin_resync(Some(&epoch))?;
                self.cycle_with(&self.api()?).instrument(span).await
            }
            other => other,
        }
    }

    async fn cycle_with(&self, api: &Api) -> Result<SyncReport> {
        let store = self.profile.store();
        let page_size = self.page_size.clamp(1, CHANGES_MAX_LIMIT);
        // With nothing to push, the schema and the first page come in one round trip.
        let mut first_page = None;
        let schema = if store.outbox(1)?.is_empty() {
            let cursor = store.cursor()?;
            let (schema, page) =
                tokio::join!(api.schema(), api.changes(cursor.as_deref(), page_size));
            match page {
                Ok(page) => first_page = Some(page),
                // The history since the cursor is gone: everything again.
                Err(Error::CursorExpired) => {
                    store.begin_resync(None)?;
                }
                Err(e) => return Err(e),
            }
            schema?
        } else {
            api.schema().await?
        };
        store.replace_schema(&schema.collections)?;
        let schema: HashMap<&str, &Collection> = schema
            .collections
            .iter()
            .map(|c| (c.name.as_str(), c))
            .collect();
        let mut report = SyncReport::default();
        let mut changed = ChangedRecords::default();
        // Files first: a change never names a file the server lacks.
        let files = self.profile.files();
        let progress = |p| self.publish(Event::File(p));
        files.send_waiting(api, store, &progress).await?;
        self.push(api, store, &schema, &mut report, &mut changed)
            .await?;
        // The first pull into an empty snapshot builds its indexes once, at the end.
        let bulk = store.cursor()?.is_none() && !store.resyncing()?;
        if bulk {
            store.begin_bulk_load()?;
        }
        let pulled = match self.pull(api, first_page, page_size, &mut changed).await {
            Err(Error::CursorExpired) => {
                store.begin_resync(None)?;
                self.pull(api, None, page_size, &mut changed).await
            }
            other => other,
        };
        if bulk {
            store.end_bulk_load()?;
        }
        report.pulled = pulled?;
        // The pull reached its end: a full pull again is done, and a first
        // contact learns the server's epoch.
        store.finish_resync()?;
        if let Some(epoch) = api.seen_epoch() {
            store.note_server_epoch(&epoch)?;
        }
        self.fetch_eager(api, &files, &schema, &progress).await?;
        store.set_setting(keys::LAST_SYNC, Some(&now_rfc3339()))?;
        let counts = store.pending_counts()?;
        report.outbox = counts.outbox;
        report.conflicts = counts.conflicts;
        report.rejected = counts.rejected;
        report.cursor = store.cursor()?;
        tracing::info!(
            pushed = report.pushed.total(),
            pulled = report.pulled,
            "sync done"
        );
        if report.pulled > 0 || report.pushed.total() > 0 {
            self.publish(changed.into_event());
        }
        self.publish(Event::Synced(report.clone()));
        Ok(report)
    }

    /// Pushes the outbox in FIFO batches. A batch goes out once the server
    /// has answered the one before; the answers to that one are stored while
    /// it travels, so the network and the local disk work at the same time.
    async fn push(
        &self,
        api: &Api,
        store: &Arc<LocalStore>,
        schema: &HashMap<&str, &Collection>,
        report: &mut SyncReport,
        changed: &mut ChangedRecords,
    ) -> Result<()> {
        let max = self.batch_size.clamp(1, PUSH_MAX_MUTATIONS);
        let mut batch = store.take_batch_within(max, self.push_bytes)?;
        let mut storing: Option<tokio::task::JoinHandle<Result<PushSummary>>> = None;
        while !batch.is_empty() {
            let mutations: Vec<Mutation> = batch
                .iter()
                // Sent as made, fields the schema no longer has too: the server
                // moves a renamed field's value to its new name, and refuses an
                // edit of a removed one saying so, and the edit stays here.
                .map(|e| e.mutation.clone())
                .collect();
            let response = api.push(&mutations).await;
            if let Some(stored) = storing.take() {
                report.pushed.add(joined(stored.await)?);
            }
            let response = response?;
            if response.results.len() != mutations.len() {
                return Err(Error::Incompatible {
                    url: api.base().to_string(),
                    detail: format!(
                        "{} results for {} mutations",
                        response.results.len(),
                        mutations.len()
                    ),
                });
            }
            for e in &batch {
                changed.add(&e.mutation.collection, e.mutation.record_id);
            }
            // A file the server lacks (collected while the change waited):
            // the change stays queued, its files are sent again next cycle.
            let (kept, results, resend) =
                set_aside_missing_files(std::mem::take(&mut batch), response.results, schema);
            batch = kept;
            let response = PushResponse {
                results,
                written: response.written,
            };
            let resending = !resend.is_empty();
            if resending {
                store.files_resend(&resend)?;
                if batch.is_empty() {
                    return Ok(());
                }
            }
            // After a resend nothing more goes this cycle: its files first.
            let next = if resending {
                Vec::new()
            } else {
                store.take_batch_besides(max, self.push_bytes, &batch)?
            };
            let (writer, url) = (store.clone(), api.base().to_string());
            let stored = tokio::task::spawn_blocking(move || {
                let summary =
                    writer.store_results(&batch, &response.results, response.written.as_ref())?;
                if summary.total() == 0 {
                    return Err(Error::Incompatible {
                        url,
                        detail: "push results match no mutation".into(),
                    });
                }
                tracing::debug!(?summary, "pushed a batch");
                Ok(summary)
            });
            batch = next;
            if batch.is_empty() {
                // What was left out waited for these answers.
                report.pushed.add(joined(stored.await)?);
                if resending {
                    return Ok(());
                }
                batch = store.take_batch_within(max, self.push_bytes)?;
            } else {
                storing = Some(stored);
            }
        }
        Ok(())
    }

    /// Fetches the files that records of collections fetched eagerly name
    /// and that are not here. A file the server no longer gives (the record
    /// changed, access was taken away) is left for the next sync.
    async fn fetch_eager(
        &self,
        api: &Api,
        files: &Files,
        schema: &HashMap<&str, &Collection>,
        progress: crate::files::Progress<'_>,
    ) -> Result<()> {
        let store = self.profile.store();
        for c in schema.values() {
            if c.fetch_files != Some(ferry_protocol::FetchFiles::Eager) {
                continue;
            }
            let fields: Vec<String> = c
                .fields
                .iter()
                .filter(|f| f.field_type == FieldType::File)
                .map(|f| f.name.clone())
                .collect();
            if fields.is_empty() {
                continue;
            }
            use futures::StreamExt;
            let mut seen = std::collections::HashSet::new();
            // One fetch per file, however many records name it.
            let mut missing = store.files_missing(&c.name, &fields)?;
            missing.retain(|(sha, _, _)| seen.insert(sha.clone()));
            let results: Vec<(String, Result<std::path::PathBuf>)> = futures::stream::iter(missing)
                .map(|(sha, _size, id)| async move {
                    let got = files.fetch(api, store, &sha, (&c.name, id), progress).await;
                    (sha, got)
                })
                .buffer_unordered(crate::files::PARALLEL_TRANSFERS)
                .collect()
                .await;
            for (sha, result) in results {
                match result {
                    Ok(_) => {}
                    Err(
                        e @ (Error::Unreachable { .. }
                        | Error::AuthFailed { .. }
                        | Error::Io { .. }),
                    ) => {
                        return Err(e);
                    }
                    Err(e) => tracing::warn!(%sha, error = %e, "file not fetched"),
                }
            }
        }
        Ok(())
    }

    /// Pulls pages since the cursor until there are no more; each page is
    /// one transaction, written while the next page is on its way.
    async fn pull(
        &self,
        api: &Api,
        first_page: Option<ChangesResponse<Box<RawValue>>>,
        page_size: usize,
        changed: &mut ChangedRecords,
    ) -> Result<usize> {
        let store = self.profile.store().clone();
        let mut pulled = 0;
        let (start, mut applying) = (std::time::Instant::now(), std::time::Duration::ZERO);
        let mut page = match first_page {
            Some(page) => page,
            None => api.changes(store.cursor()?.as_deref(), page_size).await?,
        };
        loop {
            if page.has_more && page.changes.is_empty() && page.removed.is_empty() {
                return Err(Error::Incompatible {
                    url: api.base().to_string(),
                    detail: "an empty page claims more".into(),
                });
            }
            for r in &page.changes {
                changed.add(&r.collection, r.id);
            }
            for r in &page.removed {
                changed.add(&r.collection, r.id);
            }
            let has_more = page.has_more;
            let cursor = page.cursor.clone();
            let writer = store.clone();
            let apply = tokio::task::spawn_blocking(move || {
                let start = std::time::Instant::now();
                writer
                    .apply_page(&page.changes, &page.removed, &page.cursor)
                    .map(|n| (n, start.elapsed()))
            });
            let (applied, next) = if has_more {
                let (applied, next) = tokio::join!(apply, api.changes(Some(&cursor), page_size));
                (applied, Some(next))
            } else {
                (apply.await, None)
            };
            let (n, took) = applied
                .map_err(|e| Error::Inconsistent(format!("writing a pulled page failed: {e}")))??;
            pulled += n;
            applying += took;
            match next {
                Some(next) => page = next?,
                None => break,
            }
        }
        tracing::debug!(pulled, took = ?start.elapsed(), ?applying, "pulled");
        Ok(pulled)
    }
}

/// Splits off the results the server refused with `missing_file`: those
/// mutations stay in the outbox, and the files they name are to be sent.
fn set_aside_missing_files(
    batch: Vec<crate::outbox::OutboxEntry>,
    results: Vec<ferry_protocol::MutationResult>,
    schema: &HashMap<&str, &Collection>,
) -> (
    Vec<crate::outbox::OutboxEntry>,
    Vec<ferry_protocol::MutationResult>,
    Vec<String>,
) {
    let missing = |r: &ferry_protocol::MutationResult| {
        r.error.as_ref().is_some_and(|e| e.code == "missing_file")
    };
    if !results.iter().any(missing) {
        return (batch, results, Vec::new());
    }
    let mut resend = Vec::new();
    let (mut kept, mut kept_results) = (Vec::new(), Vec::new());
    for (entry, result) in batch.into_iter().zip(results) {
        if missing(&result) {
            if let Some(c) = schema.get(entry.mutation.collection.as_str()) {
                for f in c.fields.iter().filter(|f| f.field_type == FieldType::File) {
                    resend.extend(
                        FileRef::list(entry.mutation.fields.get(&f.name))
                            .into_iter()
                            .map(|r| r.sha256),
                    );
                }
            }
        } else {
            kept.push(entry);
            kept_results.push(result);
        }
    }
    (kept, kept_results, resend)
}

/// The result of a blocking store task.
fn joined<T>(r: std::result::Result<Result<T>, tokio::task::JoinError>) -> Result<T> {
    r.map_err(|e| Error::Inconsistent(format!("storing push results failed: {e}")))?
}
