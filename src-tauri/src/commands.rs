//! The commands the UI calls. Each is async and does its database work on
//! a blocking thread, so the UI thread never waits on SQLite or the network.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ferry_core::protocol::{Fields, Mutation, Record};
use ferry_core::store::files::LocalFile;
use ferry_core::transfer::{
    self, Cancel, ExportReport, FileFormat, ImportOptions, ImportPreview, ImportReport,
};
use ferry_core::{BulkReport, Client, Conflict, LocalRecord, OutboxEntry, Query, SortOrder};
use tauri::{AppHandle, State};
use tauri_plugin_dialog::DialogExt;
use uuid::Uuid;

use crate::session::{self, Desktop, emit};
use crate::types::{
    AppInfo, CollectionInfo, CommandError, ErrorKind, EventName, ListQuery, LoginForm, RecordList,
    ResolutionInput, Security, Status,
};

type Result<T> = std::result::Result<T, CommandError>;

/// Runs store work on the blocking pool.
async fn blocking<T: Send + 'static>(
    client: &Arc<Client>,
    f: impl FnOnce(&Client) -> std::result::Result<T, ferry_core::Error> + Send + 'static,
) -> Result<T> {
    let c = client.clone();
    tauri::async_runtime::spawn_blocking(move || f(&c))
        .await
        .map_err(|e| CommandError::internal(format!("a background task failed: {e}")))?
        .map_err(CommandError::from)
}

#[tauri::command]
pub fn app_info(app: AppHandle, desktop: State<'_, Desktop>) -> AppInfo {
    crate::startup::first_command();
    let package = app.package_info();
    AppInfo {
        name: package.name.clone(),
        version: package.version.to_string(),
        profile_dir: desktop.dir.display().to_string(),
    }
}

#[tauri::command]
pub async fn status(desktop: State<'_, Desktop>) -> Result<Status> {
    crate::startup::first_command();
    Ok(desktop.status().await)
}

/// The address of a Ferry demo server on this computer, if one answers.
#[tauri::command]
pub async fn demo_server() -> Result<Option<String>> {
    const DEMO: &str = "http://127.0.0.1:8787";
    let url = std::env::var("FERRY_DEMO_URL").unwrap_or_else(|_| DEMO.to_string());
    let api = ferry_core::sync::Api::new(&url, None)?;
    let probe = tokio::time::timeout(Duration::from_millis(800), api.health()).await;
    Ok(matches!(probe, Ok(Ok(_))).then_some(url))
}

#[tauri::command]
pub async fn login(desktop: State<'_, Desktop>, form: LoginForm) -> Result<Status> {
    let client = desktop.client().await?;
    client
        .login(&form.server, &form.username, &form.password)
        .await?;
    Ok(desktop.status().await)
}

#[tauri::command]
pub async fn logout(desktop: State<'_, Desktop>) -> Result<Status> {
    desktop.client().await?.logout().await?;
    Ok(desktop.status().await)
}

/// This user's signed-in devices, from the server.
#[tauri::command]
pub async fn devices(desktop: State<'_, Desktop>) -> Result<Vec<ferry_core::protocol::Device>> {
    Ok(desktop.client().await?.devices().await?)
}

/// Signs another of this user's devices out; the devices left.
#[tauri::command]
pub async fn sign_out_device(
    desktop: State<'_, Desktop>,
    id: Uuid,
) -> Result<Vec<ferry_core::protocol::Device>> {
    let client = desktop.client().await?;
    client.sign_out_device(id).await?;
    Ok(client.devices().await?)
}

/// Opens records that wait for their passphrase, or chooses one for a new
/// profile on a computer without a keyring.
#[tauri::command]
pub async fn unlock_profile(desktop: State<'_, Desktop>, passphrase: String) -> Result<Status> {
    if passphrase.chars().count() < 8 {
        return Err(CommandError::new(
            ErrorKind::Invalid,
            "Use at least 8 characters.",
        ));
    }
    desktop.unlock(passphrase).await?;
    Ok(desktop.status().await)
}

/// Locks records kept with a passphrase (after being left idle).
#[tauri::command]
pub async fn lock_profile(desktop: State<'_, Desktop>) -> Result<Status> {
    desktop.lock().await?;
    Ok(desktop.status().await)
}

const LOCK_MINUTES_KEY: &str = "desktop.lock_minutes";

/// How the records on this computer are kept.
#[tauri::command]
pub async fn security(desktop: State<'_, Desktop>) -> Result<Security> {
    let client = desktop.client().await?;
    let store = client.store();
    Ok(Security {
        protection: client.profile().protection(),
        cipher: store.cipher_version()?,
        lock_minutes: store
            .setting(LOCK_MINUTES_KEY)?
            .and_then(|m| m.parse().ok()),
    })
}

/// Locks after `minutes` idle (`None`: never); passphrase profiles only.
#[tauri::command]
pub async fn set_app_lock(desktop: State<'_, Desktop>, minutes: Option<u32>) -> Result<Security> {
    let client = desktop.client().await?;
    if minutes.is_some() && client.profile().protection() != ferry_core::Protection::Passphrase {
        return Err(CommandError::new(
            ErrorKind::Invalid,
            "Locking needs a passphrase to unlock with; this computer keeps the key in its keyring.",
        ));
    }
    if minutes.is_some_and(|m| !(1..=24 * 60).contains(&m)) {
        return Err(CommandError::new(
            ErrorKind::Invalid,
            "Choose between 1 minute and 24 hours.",
        ));
    }
    let value = minutes.map(|m| m.to_string());
    client
        .store()
        .set_setting(LOCK_MINUTES_KEY, value.as_deref())?;
    security(desktop).await
}

/// Sets a damaged local database aside and rebuilds it from the server.
#[tauri::command]
pub async fn recover_profile(desktop: State<'_, Desktop>) -> Result<Status> {
    let recovery = desktop.recover().await?;
    tracing::warn!(damaged = %recovery.damaged.display(), "profile recovered");
    // Offline by choice is no failure of the recovery: the status tells.
    if let Err(e) = desktop.client().await?.sync_now() {
        tracing::info!(error = %e, "no sync after the recovery");
    }
    Ok(desktop.status().await)
}

#[tauri::command]
pub async fn collections(desktop: State<'_, Desktop>) -> Result<Vec<CollectionInfo>> {
    let client = desktop.client().await?;
    blocking(&client, |s| {
        let counts: std::collections::HashMap<String, i64> =
            s.store().collection_counts()?.into_iter().collect();
        Ok(s.store()
            .collections()?
            .into_iter()
            .map(|c| CollectionInfo {
                count: counts.get(&c.name).copied().unwrap_or(0),
                collection: c,
            })
            .collect())
    })
    .await
}

#[tauri::command]
pub async fn list_records(desktop: State<'_, Desktop>, query: ListQuery) -> Result<RecordList> {
    COUNTING.listing(&match_key(&query));
    let client = desktop.client().await?;
    blocking(&client, move |s| {
        let offset = query.offset;
        let page = s.store().query_json(&core_query(query))?;
        Ok(RecordList {
            records: page.records,
            offset,
            has_more: page.has_more,
        })
    })
    .await
}

/// How many records match a list's search and filters (its window
/// ignored); `None` when a newer count, or a list of other records, took
/// its place before it was done.
#[tauri::command]
pub async fn count_records(desktop: State<'_, Desktop>, query: ListQuery) -> Result<Option<i64>> {
    let cancel = COUNTING.start(match_key(&query));
    let client = desktop.client().await?;
    blocking(&client, move |s| {
        s.store()
            .count_unless_cancelled(&core_query(query), &cancel)
    })
    .await
}

/// The record list's count in progress and what it counts: counting a
/// word found in a million records takes a while, and the next query
/// would wait for it.
#[derive(Default)]
struct Counting(std::sync::Mutex<Option<(String, Cancel)>>);

impl Counting {
    fn slot(&self) -> std::sync::MutexGuard<'_, Option<(String, Cancel)>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A count of the records `key` stands for starts; the one running stops.
    fn start(&self, key: String) -> Cancel {
        let cancel = Cancel::default();
        if let Some((_, running)) = self.slot().replace((key, cancel.clone())) {
            running.cancel();
        }
        cancel
    }

    /// The records `key` stands for are listed: a count of others stops.
    fn listing(&self, key: &str) {
        if let Some((counted, running)) = &*self.slot()
            && counted != key
        {
            running.cancel();
        }
    }
}

static COUNTING: std::sync::LazyLock<Counting> = std::sync::LazyLock::new(Counting::default);

/// What a count depends on: the collection, search and filters.
fn match_key(query: &ListQuery) -> String {
    let search = query.search.as_deref().map(str::trim).unwrap_or("");
    serde_json::json!([query.collection, search, query.filters]).to_string()
}

fn core_query(query: ListQuery) -> Query {
    Query {
        collection: query.collection,
        search: query.search.filter(|t| !t.trim().is_empty()),
        sort: query.sort,
        order: if query.descending {
            SortOrder::Descending
        } else {
            SortOrder::Ascending
        },
        filters: query.filters,
        limit: query.limit as usize,
        offset: query.offset as usize,
    }
}

#[tauri::command]
pub async fn get_record(
    desktop: State<'_, Desktop>,
    collection: String,
    id: Uuid,
) -> Result<LocalRecord> {
    let client = desktop.client().await?;
    blocking(&client, move |s| s.store().record(&collection, id)).await
}

#[tauri::command]
pub async fn create_record(
    desktop: State<'_, Desktop>,
    collection: String,
    fields: Fields,
) -> Result<LocalRecord> {
    let client = desktop.client().await?;
    blocking(&client, move |c| c.create(&collection, fields)).await
}

#[tauri::command]
pub async fn update_record(
    desktop: State<'_, Desktop>,
    collection: String,
    id: Uuid,
    changes: Fields,
) -> Result<LocalRecord> {
    let client = desktop.client().await?;
    blocking(&client, move |c| c.update(&collection, id, changes)).await
}

#[tauri::command]
pub async fn delete_record(
    desktop: State<'_, Desktop>,
    collection: String,
    id: Uuid,
) -> Result<()> {
    let client = desktop.client().await?;
    blocking(&client, move |c| c.delete(&collection, id)).await
}

/// Undoes a delete.
#[tauri::command]
pub async fn restore_record(
    desktop: State<'_, Desktop>,
    collection: String,
    id: Uuid,
) -> Result<LocalRecord> {
    let client = desktop.client().await?;
    blocking(&client, move |c| c.restore(&collection, id)).await
}

/// Every version the server keeps of a record, oldest first.
#[tauri::command]
pub async fn record_history(
    desktop: State<'_, Desktop>,
    collection: String,
    id: Uuid,
) -> Result<Vec<Record>> {
    let client = desktop.client().await?;
    Ok(client.engine().history(&collection, id).await?)
}

#[tauri::command]
pub async fn outbox(desktop: State<'_, Desktop>) -> Result<Vec<OutboxEntry>> {
    let client = desktop.client().await?;
    blocking(&client, |s| s.store().outbox(1000)).await
}

#[tauri::command]
pub async fn conflicts(desktop: State<'_, Desktop>) -> Result<Vec<Conflict>> {
    let client = desktop.client().await?;
    blocking(&client, |s| s.store().conflicts()).await
}

#[tauri::command]
pub async fn resolve_conflict(
    app: AppHandle,
    desktop: State<'_, Desktop>,
    collection: String,
    id: Uuid,
    resolution: ResolutionInput,
) -> Result<()> {
    let client = desktop.client().await?;
    let resolved = blocking(&client, move |c| {
        c.resolve(&collection, id, &resolution.into())
    })
    .await?;
    emit(&app, EventName::ConflictsChanged, &resolved.conflicts);
    Ok(())
}

#[tauri::command]
pub async fn sync_now(desktop: State<'_, Desktop>) -> Result<()> {
    desktop.client().await?.sync_now()?;
    Ok(())
}

#[tauri::command]
pub async fn set_work_offline(
    app: AppHandle,
    desktop: State<'_, Desktop>,
    offline: bool,
) -> Result<Status> {
    desktop.client().await?.set_work_offline(offline)?;
    crate::menu::set_offline_checked(&app, offline);
    desktop.emit_status().await;
    Ok(desktop.status().await)
}

#[tauri::command]
pub async fn set_notifications(desktop: State<'_, Desktop>, enabled: bool) -> Result<Status> {
    let client = desktop.client().await?;
    session::set_notifications(&client, enabled)?;
    Ok(desktop.status().await)
}

/// Quits after the user confirmed; unsent changes stay in the outbox.
#[tauri::command]
pub async fn quit(app: AppHandle, desktop: State<'_, Desktop>) -> Result<()> {
    desktop.shutdown().await;
    app.exit(0);
    Ok(())
}

/// Stops the import running now (there is one at a time per window).
static IMPORT_CANCEL: std::sync::LazyLock<Cancel> = std::sync::LazyLock::new(Cancel::default);

/// A file to import, from the system's Open dialog (null: cancelled).
#[tauri::command]
pub async fn choose_import_file(app: AppHandle) -> Result<Option<String>> {
    let dialog = app.dialog().file().set_title("Import records").add_filter(
        "CSV or JSON lines",
        &["csv", "tsv", "txt", "jsonl", "ndjson", "json"],
    );
    let picked = tauri::async_runtime::spawn_blocking(move || dialog.blocking_pick_file())
        .await
        .map_err(|e| CommandError::internal(format!("the Open dialog failed: {e}")))?;
    Ok(picked
        .and_then(|p| p.into_path().ok())
        .map(|p| p.display().to_string()))
}

/// Where to export, from the system's Save dialog, `name` suggested (null: cancelled).
#[tauri::command]
pub async fn choose_export_file(app: AppHandle, name: String) -> Result<Option<String>> {
    let dialog = app
        .dialog()
        .file()
        .set_title("Export records")
        .set_file_name(name);
    let picked = tauri::async_runtime::spawn_blocking(move || dialog.blocking_save_file())
        .await
        .map_err(|e| CommandError::internal(format!("the Save dialog failed: {e}")))?;
    Ok(picked
        .and_then(|p| p.into_path().ok())
        .map(|p| p.display().to_string()))
}

/// What importing a file would do; nothing is written.
#[tauri::command]
pub async fn import_preview(
    desktop: State<'_, Desktop>,
    collection: String,
    path: String,
    options: Option<ImportOptions>,
) -> Result<ImportPreview> {
    let client = desktop.client().await?;
    blocking(&client, move |c| {
        transfer::preview(c.store(), &collection, Path::new(&path), options)
    })
    .await
}

/// Imports a file, telling its progress in `import-progress` events.
#[tauri::command]
pub async fn import_records(
    app: AppHandle,
    desktop: State<'_, Desktop>,
    collection: String,
    path: String,
    options: ImportOptions,
) -> Result<ImportReport> {
    let client = desktop.client().await?;
    IMPORT_CANCEL.reset();
    blocking(&client, move |c| {
        c.import(
            &collection,
            Path::new(&path),
            &options,
            false,
            &IMPORT_CANCEL,
            |p| emit(&app, EventName::ImportProgress, &p),
        )
    })
    .await
}

/// Stops the running import after its current batch.
#[tauri::command]
pub fn cancel_import() {
    IMPORT_CANCEL.cancel();
}

/// Writes every record a list's query matches to a file.
#[tauri::command]
pub async fn export_records(
    desktop: State<'_, Desktop>,
    query: ListQuery,
    format: FileFormat,
    path: String,
) -> Result<ExportReport> {
    let client = desktop.client().await?;
    blocking(&client, move |c| {
        transfer::export(c.store(), &core_query(query), format, Path::new(&path))
    })
    .await
}

/// The ids of every record a list's query matches, in its order.
#[tauri::command]
pub async fn record_ids(desktop: State<'_, Desktop>, query: ListQuery) -> Result<Vec<Uuid>> {
    let client = desktop.client().await?;
    blocking(&client, move |c| {
        let mut ids = Vec::new();
        c.store().each(&core_query(query), |r| {
            ids.push(r.id);
            Ok(())
        })?;
        Ok(ids)
    })
    .await
}

#[tauri::command]
pub async fn update_records(
    desktop: State<'_, Desktop>,
    collection: String,
    ids: Vec<Uuid>,
    changes: Fields,
) -> Result<BulkReport> {
    let client = desktop.client().await?;
    blocking(&client, move |c| c.update_many(&collection, &ids, &changes)).await
}

#[tauri::command]
pub async fn tag_records(
    desktop: State<'_, Desktop>,
    collection: String,
    ids: Vec<Uuid>,
    field: String,
    add: Vec<String>,
    remove: Vec<String>,
) -> Result<BulkReport> {
    let client = desktop.client().await?;
    blocking(&client, move |c| {
        c.tag_many(&collection, &ids, &field, &add, &remove)
    })
    .await
}

#[tauri::command]
pub async fn delete_records(
    desktop: State<'_, Desktop>,
    collection: String,
    ids: Vec<Uuid>,
) -> Result<BulkReport> {
    let client = desktop.client().await?;
    blocking(&client, move |c| c.delete_many(&collection, &ids)).await
}

#[tauri::command]
pub async fn restore_records(
    desktop: State<'_, Desktop>,
    collection: String,
    ids: Vec<Uuid>,
) -> Result<BulkReport> {
    let client = desktop.client().await?;
    blocking(&client, move |c| c.restore_many(&collection, &ids)).await
}

/// Takes back an unsent change; returns it, for undo.
#[tauri::command]
pub async fn discard_change(desktop: State<'_, Desktop>, mutation_id: Uuid) -> Result<OutboxEntry> {
    let client = desktop.client().await?;
    let entry = blocking(&client, move |c| c.discard(mutation_id)).await?;
    desktop.emit_status().await;
    Ok(entry)
}

/// Makes a discarded change again.
#[tauri::command]
pub async fn reapply_change(desktop: State<'_, Desktop>, mutation: Mutation) -> Result<()> {
    let client = desktop.client().await?;
    blocking(&client, move |c| c.reapply(&mutation)).await?;
    desktop.emit_status().await;
    Ok(())
}

/// Titles the window ("Ferry — alice — Contacts"), so windows of two
/// profiles are told apart.
#[tauri::command]
pub fn set_window_title(window: tauri::WebviewWindow, title: String) -> Result<()> {
    window
        .set_title(&title)
        .map_err(|e| CommandError::internal(format!("the window title could not be set: {e}")))
}

/// Files to attach, from the system's Open dialog (empty: cancelled).
/// `accept` narrows it to a file field's extensions where it names any.
#[tauri::command]
pub async fn choose_attach_files(
    app: AppHandle,
    accept: Option<Vec<String>>,
) -> Result<Vec<String>> {
    let mut dialog = app.dialog().file().set_title("Attach files");
    let extensions = crate::files::dialog_extensions(accept.as_deref().unwrap_or_default());
    if !extensions.is_empty() {
        let refs: Vec<&str> = extensions.iter().map(String::as_str).collect();
        dialog = dialog.add_filter("Files this field takes", &refs);
    }
    let picked = tauri::async_runtime::spawn_blocking(move || dialog.blocking_pick_files())
        .await
        .map_err(|e| CommandError::internal(format!("the Open dialog failed: {e}")))?;
    Ok(picked
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| p.into_path().ok())
        .map(|p| p.display().to_string())
        .collect())
}

/// Attaches files (dropped or picked) to a record's file field.
#[tauri::command]
pub async fn attach_files(
    desktop: State<'_, Desktop>,
    collection: String,
    id: Uuid,
    field: String,
    paths: Vec<String>,
) -> Result<LocalRecord> {
    let client = desktop.client().await?;
    let paths: Vec<std::path::PathBuf> = paths.into_iter().map(Into::into).collect();
    blocking(&client, move |c| c.attach(&collection, id, &field, &paths)).await
}

/// Removes one file from a record's file field.
#[tauri::command]
pub async fn detach_file(
    desktop: State<'_, Desktop>,
    collection: String,
    id: Uuid,
    field: String,
    sha256: String,
) -> Result<LocalRecord> {
    let client = desktop.client().await?;
    blocking(&client, move |c| {
        c.detach(&collection, id, &field, &[sha256])
    })
    .await
}

/// What this laptop knows of files: here or not, waiting to be sent,
/// failed and why. Files it knows nothing of are left out.
#[tauri::command]
pub async fn file_states(desktop: State<'_, Desktop>, shas: Vec<String>) -> Result<Vec<LocalFile>> {
    let client = desktop.client().await?;
    blocking(&client, move |c| {
        shas.iter()
            .filter_map(|s| c.store().file(s).transpose())
            .collect()
    })
    .await
}

/// Files waiting to be sent, for the outbox view.
#[tauri::command]
pub async fn waiting_files(desktop: State<'_, Desktop>) -> Result<Vec<LocalFile>> {
    let client = desktop.client().await?;
    blocking(&client, |c| c.store().files_to_send()).await
}

/// Tries every file that could not be sent again, now: the server's
/// limits or the quota may have changed since it refused them.
#[tauri::command]
pub async fn retry_files(desktop: State<'_, Desktop>) -> Result<usize> {
    let client = desktop.client().await?;
    let due = blocking(&client, |c| c.store().files_retry()).await?;
    client.sync_now()?;
    Ok(due)
}

/// Opens a record's file with the system's default app, fetching it first
/// when it is not on this laptop.
#[tauri::command]
pub async fn open_file(
    desktop: State<'_, Desktop>,
    collection: String,
    id: Uuid,
    sha256: String,
    name: String,
) -> Result<()> {
    let client = desktop.client().await?;
    let kept = client.fetch_file(&collection, id, &sha256).await?;
    let path = crate::files::named_copy(&client, &kept, &sha256, &name)?;
    open::that_detached(&path)
        .map_err(|e| CommandError::internal(format!("no app could open {}: {e}", path.display())))
}

/// Saves a copy of a record's file where the user says (false: cancelled).
#[tauri::command]
pub async fn save_file_as(
    app: AppHandle,
    desktop: State<'_, Desktop>,
    collection: String,
    id: Uuid,
    sha256: String,
    name: String,
) -> Result<bool> {
    let client = desktop.client().await?;
    let kept = client.fetch_file(&collection, id, &sha256).await?;
    let dialog = app
        .dialog()
        .file()
        .set_title("Save file")
        .set_file_name(&name);
    let picked = tauri::async_runtime::spawn_blocking(move || dialog.blocking_save_file())
        .await
        .map_err(|e| CommandError::internal(format!("the Save dialog failed: {e}")))?;
    let Some(to) = picked.and_then(|p| p.into_path().ok()) else {
        return Ok(false);
    };
    let files = client.files();
    tauri::async_runtime::spawn_blocking(move || files.copy_out(&kept, &to))
        .await
        .map_err(|e| CommandError::internal(format!("saving the file failed: {e}")))??;
    Ok(true)
}

/// A small picture of an image file (a `data:` URL), made on this laptop
/// and kept; null when the file is not an image or is not here.
#[tauri::command]
pub async fn file_thumbnail(
    desktop: State<'_, Desktop>,
    sha256: String,
    mime: String,
) -> Result<Option<String>> {
    let client = desktop.client().await?;
    blocking(&client, move |c| crate::files::thumbnail(c, &sha256, &mime)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(search: &str, sort: Option<&str>, offset: u32) -> ListQuery {
        ListQuery {
            collection: "tasks".into(),
            search: Some(search.into()),
            sort: sort.map(String::from),
            descending: false,
            filters: Fields::new(),
            offset,
            limit: 200,
        }
    }

    /// A count stops when a newer one starts or other records are listed,
    /// not when more of the same records are (a scroll, a new order).
    #[test]
    fn a_count_stops_when_it_is_no_longer_wanted() {
        let counting = Counting::default();
        let first = counting.start(match_key(&query("plumb", None, 0)));
        counting.listing(&match_key(&query(" plumb ", Some("due"), 400)));
        assert!(!first.is_cancelled(), "the same records, listed again");
        counting.listing(&match_key(&query("plumber", None, 0)));
        assert!(first.is_cancelled(), "other records");
        let second = counting.start(match_key(&query("plumber", None, 0)));
        assert!(!second.is_cancelled());
        let third = counting.start(match_key(&query("plumber", None, 0)));
        assert!(second.is_cancelled(), "a newer count");
        assert!(!third.is_cancelled());
    }
}
