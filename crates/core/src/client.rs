//! The client policy every Ferry front end shares: signing in and out,
//! working offline, the status snapshot, and local edits that tell listeners
//! which record changed and wake the sync task. The desktop app and the
//! `ferry` CLI are adapters over this type, so they behave the same:
//! signing in clears "work offline" (the user just asked to reach a server).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ferry_protocol::{Collection, Fields, FileRef};
use serde::Serialize;
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::model::{BulkReport, OutboxEntry};
use crate::sync::Api;
use crate::transfer::{self, Cancel, ImportOptions, ImportProgress, ImportReport};
use crate::{
    Account, ConnState, Connectivity, ConnectivityOptions, Error, Event, LocalRecord, LocalStore,
    Profile, RecordRef, Resolution, Result, SyncEngine, SyncReport,
};
use ferry_protocol::Mutation;

static STATUS_SEQ: AtomicU32 = AtomicU32::new(0);

/// The next status number: snapshots can arrive out of order, and a UI
/// keeps the newest.
pub fn next_status_seq() -> u32 {
    STATUS_SEQ.fetch_add(1, Ordering::SeqCst) + 1
}

/// What a status bar shows.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientStatus {
    /// Grows with every snapshot (see [`next_status_seq`]).
    pub seq: u32,
    /// The signed-in account; `None` when signed out.
    pub account: Option<Account>,
    pub connection: ConnState,
    pub work_offline: bool,
    /// Unsent changes.
    pub outbox: i64,
    pub conflicts: i64,
    /// Edits the server refused; they stay visible with their error.
    pub rejected: i64,
    /// RFC 3339, when the last full sync finished.
    pub last_sync: Option<String>,
}

/// What settling a conflict left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// For keep-both: the id of the new record holding my version.
    pub copy: Option<Uuid>,
    /// Conflicts still open.
    pub conflicts: i64,
}

/// One profile, its sync engine and, while running in the background, its
/// connectivity task.
pub struct Client {
    engine: Arc<SyncEngine>,
    /// Names this device to the server, e.g. "Ferry desktop".
    app: &'static str,
    connectivity: Mutex<Option<Connectivity>>,
    /// Keep a connectivity task while signed in (the desktop); the CLI
    /// syncs on request only.
    background: AtomicBool,
    options: ConnectivityOptions,
}

impl Client {
    pub fn new(profile: Arc<Profile>, app: &'static str) -> Client {
        Client::with_engine(Arc::new(SyncEngine::new(profile)), app)
    }

    pub fn with_engine(engine: Arc<SyncEngine>, app: &'static str) -> Client {
        Client {
            engine,
            app,
            connectivity: Mutex::new(None),
            background: AtomicBool::new(false),
            options: ConnectivityOptions::default(),
        }
    }

    /// Other timings for the background task (tests).
    #[must_use]
    pub fn with_options(mut self, options: ConnectivityOptions) -> Client {
        self.options = options;
        self
    }

    pub fn profile(&self) -> &Arc<Profile> {
        self.engine.profile()
    }

    pub fn engine(&self) -> &Arc<SyncEngine> {
        &self.engine
    }

    pub fn store(&self) -> &Arc<LocalStore> {
        self.engine.profile().store()
    }

    /// Sync results, connection changes and changed records (sync or local).
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.engine.subscribe()
    }

    /// Whether a login token is kept.
    pub fn signed_in(&self) -> bool {
        matches!(self.profile().token(), Ok(Some(_)))
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Connectivity>> {
        // The slot holds no invariant a panic could break.
        self.connectivity
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps syncing in the background while signed in (needs a tokio runtime).
    pub fn run_in_background(&self) {
        self.background.store(true, Ordering::SeqCst);
        self.start_sync();
    }

    fn start_sync(&self) {
        if !self.background.load(Ordering::SeqCst) || !self.signed_in() {
            return;
        }
        let mut slot = self.slot();
        if slot.is_none() {
            let c = Connectivity::spawn(self.engine.clone(), self.options.clone());
            if self.store().work_offline().unwrap_or(false) {
                c.set_work_offline(true);
            }
            *slot = Some(c);
        }
    }

    /// Stops the background task, leaving the outbox consistent.
    pub async fn stop_sync(&self) {
        let running = self.slot().take();
        if let Some(c) = running {
            c.shutdown().await;
        }
    }

    /// Signs in, clears "work offline" and (in the background mode) starts
    /// syncing. A failed sign-in keeps an earlier one syncing.
    pub async fn login(&self, server: &str, username: &str, password: &str) -> Result<Account> {
        self.stop_sync().await;
        let device = crate::device::device_name(self.app);
        let result = self
            .engine
            .login_as(server.trim(), username.trim(), password, &device, self.app)
            .await;
        if result.is_ok() {
            self.store().set_work_offline(false)?;
        }
        self.start_sync();
        result
    }

    /// Signs out; local data and unsent edits stay.
    pub async fn logout(&self) -> Result<()> {
        self.stop_sync().await;
        self.engine.logout().await
    }

    /// This user's signed-in devices, from the server.
    pub async fn devices(&self) -> Result<Vec<crate::protocol::Device>> {
        if self.store().work_offline()? {
            return Err(Error::WorkingOffline);
        }
        self.engine.api()?.devices().await
    }

    /// Signs another of this user's devices out.
    pub async fn sign_out_device(&self, id: Uuid) -> Result<()> {
        if self.store().work_offline()? {
            return Err(Error::WorkingOffline);
        }
        self.engine.api()?.sign_out_device(id).await
    }

    pub fn work_offline(&self) -> Result<bool> {
        self.store().work_offline()
    }

    /// Holds (or allows again) all network traffic; kept in the profile.
    pub fn set_work_offline(&self, offline: bool) -> Result<()> {
        self.store().set_work_offline(offline)?;
        if let Some(c) = self.slot().as_ref() {
            c.set_work_offline(offline);
        }
        Ok(())
    }

    /// Asks the background task for a sync now.
    pub fn sync_now(&self) -> Result<()> {
        if self.work_offline()? {
            return Err(Error::WorkingOffline);
        }
        if let Some(c) = self.slot().as_ref() {
            c.sync_now();
        }
        Ok(())
    }

    /// One full sync cycle, here and now.
    pub async fn sync(&self) -> Result<SyncReport> {
        self.engine.sync().await
    }

    /// The connection as the background task sees it; without one, signed
    /// out or offline by choice.
    pub fn connection(&self) -> ConnState {
        if let Some(c) = self.slot().as_ref() {
            return c.state();
        }
        let (reason, by_choice) = if !self.signed_in() {
            ("not signed in", false)
        } else if self.work_offline().unwrap_or(false) {
            ("working offline", true)
        } else {
            ("not syncing", false)
        };
        ConnState::Offline {
            reason: reason.into(),
            by_choice,
        }
    }

    /// Asks the saved account's server whether it answers (no background task
    /// needed): online, an incompatible server, or offline.
    pub async fn check_connection(&self, timeout: Duration) -> Result<ConnState> {
        if self.work_offline()? {
            return Ok(ConnState::Offline {
                reason: "working offline".into(),
                by_choice: true,
            });
        }
        let Some(account) = self.profile().account()? else {
            return Ok(ConnState::Offline {
                reason: "not signed in".into(),
                by_choice: false,
            });
        };
        let api = Api::new(&account.server, None)?;
        Ok(match tokio::time::timeout(timeout, api.health()).await {
            Ok(Ok(_)) => ConnState::Online,
            Ok(Err(e @ Error::Incompatible { .. })) => ConnState::Error {
                message: e.to_string(),
            },
            Ok(Err(e)) => ConnState::Offline {
                reason: e.to_string(),
                by_choice: false,
            },
            Err(_) => ConnState::Offline {
                reason: "the server did not answer in time".into(),
                by_choice: false,
            },
        })
    }

    /// A snapshot for a status bar; never fails (what cannot be read shows
    /// as zero or none).
    pub fn status(&self) -> ClientStatus {
        let store = self.store();
        let pending = store.pending_counts().unwrap_or_default();
        let account = self
            .profile()
            .account()
            .ok()
            .flatten()
            .filter(|_| self.signed_in());
        ClientStatus {
            seq: next_status_seq(),
            account,
            connection: self.connection(),
            work_offline: store.work_offline().unwrap_or(false),
            outbox: pending.outbox,
            conflicts: pending.conflicts,
            rejected: pending.rejected,
            last_sync: store.last_sync().ok().flatten(),
        }
    }

    /// Tells listeners which records a local edit changed and wakes the sync
    /// task (it debounces).
    fn edited(&self, records: Vec<RecordRef>) {
        self.announce(records, false);
    }

    fn announce(&self, records: Vec<RecordRef>, truncated: bool) {
        self.engine
            .publish(Event::DataChanged { records, truncated });
        if let Some(c) = self.slot().as_ref() {
            c.local_edit();
        }
    }

    fn one(collection: &str, id: Uuid) -> Vec<RecordRef> {
        vec![RecordRef {
            collection: collection.to_string(),
            id,
        }]
    }

    /// Creates a record; returns it as stored.
    pub fn create(&self, collection: &str, fields: Fields) -> Result<LocalRecord> {
        let store = self.store();
        let id = store
            .create(collection, fields.clone())
            .map_err(|e| self.name_the_field(e, collection, &fields, None))?;
        let record = store.record(collection, id)?;
        self.edited(Self::one(collection, id));
        Ok(record)
    }

    /// Changes fields of a record; returns it as stored.
    pub fn update(&self, collection: &str, id: Uuid, changes: Fields) -> Result<LocalRecord> {
        let store = self.store();
        store.update(collection, id, changes.clone()).map_err(|e| {
            let before = store.record(collection, id).ok().map(|r| r.fields);
            self.name_the_field(e, collection, &changes, before.as_ref())
        })?;
        let record = store.record(collection, id)?;
        self.edited(Self::one(collection, id));
        Ok(record)
    }

    pub fn delete(&self, collection: &str, id: Uuid) -> Result<()> {
        self.store().delete(collection, id)?;
        self.edited(Self::one(collection, id));
        Ok(())
    }

    /// Undoes a delete; returns the record as stored.
    pub fn restore(&self, collection: &str, id: Uuid) -> Result<LocalRecord> {
        let store = self.store();
        store.restore(collection, id)?;
        let record = store.record(collection, id)?;
        self.edited(Self::one(collection, id));
        Ok(record)
    }

    /// Tells listeners about an edit of many records: each by name when
    /// few, else "refresh what you show".
    fn edited_many(&self, collection: &str, ids: &[Uuid]) {
        const LISTED: usize = 200;
        if ids.len() <= LISTED {
            let refs = ids.iter().map(|&id| RecordRef {
                collection: collection.to_string(),
                id,
            });
            self.edited(refs.collect());
        } else {
            self.edited_unlisted();
        }
    }

    /// Tells listeners that records changed, too many to list.
    fn edited_unlisted(&self) {
        self.announce(Vec::new(), true);
    }

    /// Sets the same values on many records (see [`LocalStore::update_many`]).
    pub fn update_many(
        &self,
        collection: &str,
        ids: &[Uuid],
        changes: &Fields,
    ) -> Result<BulkReport> {
        let report = self.store().update_many(collection, ids, changes)?;
        self.edited_many(collection, ids);
        Ok(report)
    }

    /// Adds and removes values of a tags field on many records.
    pub fn tag_many(
        &self,
        collection: &str,
        ids: &[Uuid],
        field: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<BulkReport> {
        let report = self.store().tag_many(collection, ids, field, add, remove)?;
        self.edited_many(collection, ids);
        Ok(report)
    }

    pub fn delete_many(&self, collection: &str, ids: &[Uuid]) -> Result<BulkReport> {
        let report = self.store().delete_many(collection, ids)?;
        self.edited_many(collection, ids);
        Ok(report)
    }

    pub fn restore_many(&self, collection: &str, ids: &[Uuid]) -> Result<BulkReport> {
        let report = self.store().restore_many(collection, ids)?;
        self.edited_many(collection, ids);
        Ok(report)
    }

    /// Takes back an unsent change (see [`LocalStore::discard`]).
    pub fn discard(&self, mutation_id: Uuid) -> Result<OutboxEntry> {
        let entry = self.store().discard(mutation_id)?;
        let m = &entry.mutation;
        self.edited(Self::one(&m.collection, m.record_id));
        Ok(entry)
    }

    /// Makes a discarded change again.
    pub fn reapply(&self, m: &Mutation) -> Result<()> {
        self.store().reapply(m)?;
        self.edited(Self::one(&m.collection, m.record_id));
        Ok(())
    }

    /// Imports a file (see [`crate::transfer::import`]); the new and changed
    /// records are sent like any edit.
    pub fn import(
        &self,
        collection: &str,
        path: &std::path::Path,
        options: &ImportOptions,
        again: bool,
        cancel: &Cancel,
        progress: impl FnMut(ImportProgress),
    ) -> Result<ImportReport> {
        let result = transfer::import(
            self.store(),
            collection,
            path,
            options,
            again,
            cancel,
            progress,
        );
        // Even a failed import may have brought in whole batches.
        self.edited_unlisted();
        result
    }

    /// Settles a conflict.
    pub fn resolve(&self, collection: &str, id: Uuid, resolution: &Resolution) -> Result<Resolved> {
        let store = self.store();
        let copy = store.resolve(collection, id, resolution)?;
        let mut changed = Self::one(collection, id);
        changed.extend(copy.map(|c| RecordRef {
            collection: collection.to_string(),
            id: c,
        }));
        self.edited(changed);
        Ok(Resolved {
            copy,
            conflicts: store.pending_counts()?.conflicts,
        })
    }

    /// The profile's file directory.
    pub fn files(&self) -> crate::files::Files {
        self.profile().files()
    }

    /// The file field `field` of a record, and its files now.
    fn file_field(
        &self,
        collection: &str,
        id: Uuid,
        field: &str,
    ) -> Result<(ferry_protocol::Field, LocalRecord, Vec<FileRef>)> {
        let col = self.store().collection(collection)?;
        let f = col
            .field(field)
            .filter(|f| f.field_type == ferry_protocol::FieldType::File)
            .cloned()
            .ok_or_else(|| {
                let names: Vec<&str> = col
                    .fields
                    .iter()
                    .filter(|f| f.field_type == ferry_protocol::FieldType::File)
                    .map(|f| f.name.as_str())
                    .collect();
                Error::InvalidValue(if names.is_empty() {
                    format!("collection \"{collection}\" has no file fields")
                } else {
                    format!(
                        "\"{field}\" is not a file field of \"{collection}\"; its file fields: {}",
                        names.join(", ")
                    )
                })
            })?;
        let record = self.store().record(collection, id)?;
        let files = FileRef::list(record.fields.get(field));
        Ok((f, record, files))
    }

    /// Attaches files to a record's file field: their bytes are copied into
    /// the profile first (usable at once, offline too), then the record is
    /// changed; the files are sent before that change. A field holding one
    /// file gets the new one in place of the old. Blocking (copies files).
    pub fn attach(
        &self,
        collection: &str,
        id: Uuid,
        field: &str,
        paths: &[std::path::PathBuf],
    ) -> Result<LocalRecord> {
        let (f, _, mut files) = self.file_field(collection, id, field)?;
        if paths.len() > 1 && !f.multiple {
            return Err(Error::InvalidField {
                field: field.to_string(),
                message: format!("field \"{field}\" holds one file; attach one"),
            });
        }
        let store = self.store();
        let dir = self.files();
        for path in paths {
            let file = dir.import(path)?;
            // The field's own limits, before anything waits to be sent.
            f.check(&serde_json::json!([&file]))
                .map_err(|message| Error::InvalidField {
                    field: field.to_string(),
                    message,
                })?;
            store.file_added(&file.sha256, file.size)?;
            if !f.multiple {
                files.clear();
            }
            if !files
                .iter()
                .any(|x| x.sha256 == file.sha256 && x.name == file.name)
            {
                files.push(file);
            }
        }
        let value = serde_json::to_value(&files).map_err(|e| Error::Inconsistent(e.to_string()))?;
        self.update(
            collection,
            id,
            Fields::from_iter([(field.to_string(), value)]),
        )
    }

    /// Removes files from a record's file field: those whose name or
    /// SHA-256 (or its first 8 or more digits) is in `which`.
    pub fn detach(
        &self,
        collection: &str,
        id: Uuid,
        field: &str,
        which: &[String],
    ) -> Result<LocalRecord> {
        let (_, _, files) = self.file_field(collection, id, field)?;
        let matches = |f: &FileRef, w: &str| {
            f.name == w || (w.len() >= 8 && f.sha256.starts_with(&w.to_ascii_lowercase()))
        };
        for w in which {
            if !files.iter().any(|f| matches(f, w)) {
                let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
                return Err(Error::InvalidValue(if names.is_empty() {
                    format!("field \"{field}\" holds no files")
                } else {
                    format!(
                        "no file \"{w}\" in field \"{field}\"; it holds: {}",
                        names.join(", ")
                    )
                }));
            }
        }
        let kept: Vec<&FileRef> = files
            .iter()
            .filter(|f| !which.iter().any(|w| matches(f, w)))
            .collect();
        let value = if kept.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::to_value(&kept).map_err(|e| Error::Inconsistent(e.to_string()))?
        };
        self.update(
            collection,
            id,
            Fields::from_iter([(field.to_string(), value)]),
        )
    }

    /// The files of a record's file field on this laptop, fetching those
    /// that are not (which needs the server).
    pub async fn fetch_files(
        &self,
        collection: &str,
        id: Uuid,
        field: &str,
    ) -> Result<Vec<(FileRef, std::path::PathBuf)>> {
        use futures::StreamExt;
        let (_, _, files) = self.file_field(collection, id, field)?;
        // One fetch per file, even if the field names it twice.
        let mut seen = std::collections::HashSet::new();
        let unique: Vec<&FileRef> = files.iter().filter(|f| seen.insert(&f.sha256)).collect();
        let fetched: Vec<(String, std::path::PathBuf)> = futures::stream::iter(unique)
            .map(|file| async move {
                let path = self.fetch_file(collection, id, &file.sha256).await?;
                Ok((file.sha256.clone(), path))
            })
            .buffered(crate::files::PARALLEL_TRANSFERS)
            .collect::<Vec<Result<_>>>()
            .await
            .into_iter()
            .collect::<Result<_>>()?;
        let paths: std::collections::HashMap<String, std::path::PathBuf> =
            fetched.into_iter().collect();
        Ok(files
            .into_iter()
            .filter_map(|f| paths.get(&f.sha256).cloned().map(|p| (f, p)))
            .collect())
    }

    /// One file a record names, on this laptop: at once when it is here,
    /// else fetched through the record.
    pub async fn fetch_file(
        &self,
        collection: &str,
        id: Uuid,
        sha256: &str,
    ) -> Result<std::path::PathBuf> {
        let dir = self.files();
        let store = self.store();
        if let Some(path) = dir.present(store, sha256)? {
            store.file_used(sha256)?;
            return Ok(path);
        }
        if store.work_offline()? {
            return Err(Error::WorkingOffline);
        }
        let api = self.engine().api()?;
        let engine = self.engine().clone();
        let progress = move |p| engine.publish(Event::File(p));
        dir.fetch(&api, store, sha256, (collection, id), &progress)
            .await
    }

    /// A refused edit as [`Error::InvalidField`] when one field's own check
    /// fails, so a form can mark that field; the store stays the judge.
    fn name_the_field(
        &self,
        e: Error,
        collection: &str,
        changes: &Fields,
        before: Option<&Fields>,
    ) -> Error {
        let Error::InvalidValue(message) = e else {
            return e;
        };
        let field = self
            .store()
            .collection(collection)
            .ok()
            .and_then(|col| failing_field(&col, changes, before));
        match field {
            Some(field) => Error::InvalidField { field, message },
            None => Error::InvalidValue(message),
        }
    }
}

/// The first field whose value its schema refuses, in the order the store
/// checks them: unknown or invalid changes, then oversized ones, then a
/// required field left empty.
fn failing_field(col: &Collection, changes: &Fields, before: Option<&Fields>) -> Option<String> {
    let bad = changes.iter().find(|(name, value)| {
        col.field(name).is_none_or(|f| f.check(value).is_err())
            || ferry_protocol::check_field_sizes(&Fields::from_iter([(
                (*name).clone(),
                (*value).clone(),
            )]))
            .is_err()
    });
    if let Some((name, _)) = bad {
        return Some(name.clone());
    }
    let mut after = before.cloned().unwrap_or_default();
    after.extend(changes.iter().map(|(k, v)| (k.clone(), v.clone())));
    col.fields
        .iter()
        .filter(|f| f.required)
        .find(|f| {
            f.check(after.get(&f.name).unwrap_or(&serde_json::Value::Null))
                .is_err()
        })
        .map(|f| f.name.clone())
}
