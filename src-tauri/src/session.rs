//! The profile this window works on, as a core [`Client`] syncing in the
//! background, and the bridge that turns its events into UI events and
//! desktop notifications. Policy (sign-in, work offline, status, edits)
//! lives in `ferry_core::Client`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferry_core::{Client, ConnState, Error, Event, Profile, Protection, Unlock};
use tauri::{AppHandle, Emitter, Manager};
use tokio::sync::{Mutex, RwLock};

use crate::notify;
use crate::types::{CommandError, ErrorKind, EventName, LockReason, RecordsChanged, Status};

const NOTIFICATIONS_KEY: &str = "desktop.notifications";

/// The app's state: one profile directory, and the client on it if it opened.
pub struct Desktop {
    pub dir: PathBuf,
    app: AppHandle,
    client: Arc<RwLock<Option<Arc<Client>>>>,
    damaged: Arc<Mutex<Option<String>>>,
    /// Why the profile waits for a passphrase, when it does.
    locked: Arc<Mutex<Option<LockReason>>>,
    /// Said once on the sign-in screen (after a wipe).
    notice: Arc<Mutex<Option<String>>>,
}

/// What opening a profile came to.
enum Opened {
    Open(Profile),
    Locked(LockReason),
    Failed(String),
}

fn open_profile(dir: &Path, unlock: &Unlock) -> Opened {
    match Profile::open_with(dir, unlock) {
        Ok(profile) => Opened::Open(profile),
        Err(Error::PassphraseNeeded { new }) => Opened::Locked(if new {
            LockReason::ChoosePassphrase
        } else {
            LockReason::Passphrase
        }),
        Err(e) => {
            tracing::error!(error = %e, "the profile could not be opened");
            Opened::Failed(CommandError::from(e).message)
        }
    }
}

impl Desktop {
    /// Opens the profile in `dir` on a blocking thread, so the window shows
    /// while the database is created or migrated and the token is read;
    /// commands wait for it. A damaged database is reported in the status so
    /// the UI can offer recovery instead of failing to start.
    pub fn open(app: AppHandle, dir: &Path) -> Desktop {
        let client = Arc::new(RwLock::new(None));
        let damaged = Arc::new(Mutex::new(None));
        // Held until the profile is open, taken before any command can ask.
        let mut slot = client
            .clone()
            .try_write_owned()
            .expect("a lock nobody else has seen is free");
        let locked = Arc::new(Mutex::new(None));
        let (opening, locking) = (damaged.clone(), locked.clone());
        let (task_app, task_dir) = (app.clone(), dir.to_path_buf());
        tauri::async_runtime::spawn_blocking(move || {
            match open_profile(&task_dir, &Unlock::from_env()) {
                Opened::Open(profile) => *slot = Some(start(&task_app, profile)),
                Opened::Locked(why) => *locking.blocking_lock() = Some(why),
                Opened::Failed(message) => *opening.blocking_lock() = Some(message),
            }
            crate::startup::mark("profile open");
        });
        Desktop {
            dir: dir.to_path_buf(),
            app,
            client,
            damaged,
            locked,
            notice: Arc::new(Mutex::new(None)),
        }
    }

    /// Opens a profile that waits for its passphrase (or has a new one chosen).
    pub async fn unlock(&self, passphrase: String) -> Result<(), CommandError> {
        let mut slot = self.client.write().await;
        if slot.is_some() {
            return Ok(());
        }
        let dir = self.dir.clone();
        let unlock = Unlock::from_env().passphrase(passphrase);
        let opened =
            tauri::async_runtime::spawn_blocking(move || Profile::open_with(&dir, &unlock))
                .await
                .map_err(|e| CommandError::internal(e.to_string()))?;
        match opened {
            Ok(profile) => {
                *slot = Some(start(&self.app, profile));
                *self.locked.lock().await = None;
                *self.damaged.lock().await = None;
                Ok(())
            }
            Err(e) => Err(CommandError::from(e)),
        }
    }

    /// Closes a passphrase profile until its passphrase is typed again: the
    /// key leaves memory with the database connection. Other profiles have
    /// no passphrase to ask for and stay open.
    pub async fn lock(&self) -> Result<(), CommandError> {
        let mut slot = self.client.write().await;
        let Some(client) = slot.as_ref() else {
            return Ok(());
        };
        if client.profile().protection() != Protection::Passphrase {
            return Err(CommandError::new(
                ErrorKind::Invalid,
                "Only records kept with a passphrase can be locked: their key is not in a keyring.",
            ));
        }
        client.stop_sync().await;
        *slot = None;
        *self.locked.lock().await = Some(LockReason::Idle);
        Ok(())
    }

    /// After a wipe: the profile starts anew, and the sign-in screen says why.
    pub async fn start_over(&self, unsent: i64) {
        let mut slot = self.client.write().await;
        if let Some(old) = slot.take() {
            old.stop_sync().await;
        }
        let lost = match unsent {
            0 => String::new(),
            1 => " One change that was not sent yet was discarded.".into(),
            n => format!(" {n} changes that were not sent yet were discarded."),
        };
        *self.notice.lock().await = Some(format!(
            "An administrator removed Ferry's records from this computer.{lost} Sign in to start again."
        ));
        let dir = self.dir.clone();
        let opened =
            tauri::async_runtime::spawn_blocking(move || open_profile(&dir, &Unlock::from_env()))
                .await
                .unwrap_or_else(|e| Opened::Failed(e.to_string()));
        match opened {
            Opened::Open(profile) => *slot = Some(start(&self.app, profile)),
            Opened::Locked(why) => *self.locked.lock().await = Some(why),
            Opened::Failed(message) => *self.damaged.lock().await = Some(message),
        }
    }

    pub async fn client(&self) -> Result<Arc<Client>, CommandError> {
        match self.client.read().await.as_ref() {
            Some(c) => Ok(c.clone()),
            None if self.locked.lock().await.is_some() => Err(CommandError::new(
                ErrorKind::Locked,
                "Your records are locked. Type the passphrase to open them.",
            )),
            None => Err(CommandError::new(
                ErrorKind::Damaged,
                self.damaged
                    .lock()
                    .await
                    .clone()
                    .unwrap_or_else(|| "The profile is not open.".into()),
            )),
        }
    }

    /// Sets a damaged database aside and rebuilds it (unsent changes kept).
    pub async fn recover(&self) -> Result<ferry_core::Recovery, CommandError> {
        let mut slot = self.client.write().await;
        if let Some(old) = slot.take() {
            old.stop_sync().await;
        }
        let dir = self.dir.clone();
        let (profile, recovery) =
            tauri::async_runtime::spawn_blocking(move || Profile::recover(&dir))
                .await
                .map_err(|e| CommandError::internal(e.to_string()))??;
        *slot = Some(start(&self.app, profile));
        *self.damaged.lock().await = None;
        Ok(recovery)
    }

    pub async fn status(&self) -> Status {
        // The client first: it waits for the profile to open.
        let client = self.client().await;
        let damaged = self.damaged.lock().await.clone();
        let locked = *self.locked.lock().await;
        let notice = self.notice.lock().await.clone();
        match client {
            Ok(client) => {
                let mut status = status_of(&client);
                // The notice stays until someone signs in again.
                if status.client.account.is_some() {
                    *self.notice.lock().await = None;
                } else {
                    status.notice = notice;
                }
                status
            }
            Err(_) => Status {
                client: ferry_core::ClientStatus {
                    seq: ferry_core::client::next_status_seq(),
                    account: None,
                    connection: ConnState::Error {
                        message: damaged.clone().unwrap_or_default(),
                    },
                    work_offline: false,
                    outbox: 0,
                    conflicts: 0,
                    rejected: 0,
                    last_sync: None,
                },
                notifications: false,
                damaged: if locked.is_some() { None } else { damaged },
                locked,
                notice,
            },
        }
    }

    pub async fn emit_status(&self) {
        let status = self.status().await;
        emit(&self.app, EventName::Status, &status);
    }

    /// Stops the sync task so the outbox is left consistent before exit.
    pub async fn shutdown(&self) {
        if let Some(client) = self.client.read().await.as_ref() {
            client.stop_sync().await;
        }
    }
}

/// Wraps a profile in a client that syncs in the background while signed in.
fn start(app: &AppHandle, profile: Profile) -> Arc<Client> {
    let client = Arc::new(Client::new(Arc::new(profile), "Ferry desktop"));
    tauri::async_runtime::spawn(forward_events(app.clone(), client.clone()));
    let c = client.clone();
    // Connectivity spawns on the runtime: start it from a task on it.
    tauri::async_runtime::spawn(async move { c.run_in_background() });
    client
}

pub fn notifications_on(client: &Client) -> bool {
    !matches!(
        client
            .store()
            .setting(NOTIFICATIONS_KEY)
            .ok()
            .flatten()
            .as_deref(),
        Some("off")
    )
}

pub fn set_notifications(client: &Client, on: bool) -> Result<(), Error> {
    client
        .store()
        .set_setting(NOTIFICATIONS_KEY, (!on).then_some("off"))
}

pub fn status_of(client: &Client) -> Status {
    Status {
        client: client.status(),
        notifications: notifications_on(client),
        damaged: None,
        locked: None,
        notice: None,
    }
}

pub fn emit<T: serde::Serialize + Clone>(app: &AppHandle, name: EventName, payload: &T) {
    if let Err(e) = app.emit(name.as_str(), payload.clone()) {
        tracing::warn!(error = %e, event = name.as_str(), "could not reach the window");
    }
}

/// Turns core events (sync results and local edits) into UI events, and
/// notices what deserves a notification: new conflicts, and changes sent
/// after being offline.
async fn forward_events(app: AppHandle, client: Arc<Client>) {
    let mut events = client.subscribe();
    let mut conflicts = client
        .store()
        .pending_counts()
        .map(|c| c.conflicts)
        .unwrap_or(0);
    let mut was_offline = false;
    loop {
        let event = match events.recv().await {
            Ok(e) => e,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                emit(
                    &app,
                    EventName::RecordsChanged,
                    &RecordsChanged {
                        records: Vec::new(),
                        truncated: true,
                    },
                );
                continue;
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
        };
        match event {
            Event::State(state) => {
                if matches!(state, ConnState::Offline { .. } | ConnState::Error { .. }) {
                    was_offline = true;
                }
            }
            Event::File(progress) => emit(&app, EventName::FileProgress, &progress),
            Event::Wiped { unsent } => {
                let app = app.clone();
                tauri::async_runtime::spawn(async move {
                    let desktop = app.state::<Desktop>();
                    desktop.start_over(unsent).await;
                    desktop.emit_status().await;
                });
                break;
            }
            Event::DataChanged { records, truncated } => {
                emit(
                    &app,
                    EventName::RecordsChanged,
                    &RecordsChanged { records, truncated },
                );
            }
            Event::Synced(report) => {
                let sent = report.pushed.applied + report.pushed.merged;
                if was_offline && sent > 0 && notifications_on(&client) {
                    let noun = if sent == 1 { "change" } else { "changes" };
                    notify::show(
                        &app,
                        "Back online",
                        &format!("{sent} {noun} sent to the server."),
                        None,
                    );
                }
                was_offline = false;
                if report.conflicts != conflicts {
                    emit(&app, EventName::ConflictsChanged, &report.conflicts);
                }
                if report.conflicts > conflicts && notifications_on(&client) {
                    let newest = client.store().conflicts().ok().and_then(|all| {
                        all.into_iter()
                            .max_by(|a, b| a.created_at.cmp(&b.created_at))
                    });
                    let new = report.conflicts - conflicts;
                    let body = match &newest {
                        Some(c) if new == 1 => {
                            let col = client.store().collection(&c.collection).ok();
                            one_conflict_notice(c, col.as_ref().map(|col| col.title_field.as_str()))
                        }
                        _ => format!(
                            "{new} records were changed on the server too. Choose what to keep."
                        ),
                    };
                    let open = newest.map(|c| crate::types::OpenConflict {
                        collection: c.collection,
                        id: c.record_id,
                    });
                    notify::show(&app, "Conflicts need your attention", &body, open);
                }
                conflicts = report.conflicts;
            }
        }
        emit(&app, EventName::Status, &status_of(&client));
    }
}

/// The notification for one new conflict, naming the record by its
/// collection's title field (a contact by its name, a task by its title).
fn one_conflict_notice(c: &ferry_core::Conflict, title_field: Option<&str>) -> String {
    // What I deleted I no longer hold: the server's version names it.
    let fields = if c.kind == ferry_core::protocol::ConflictKind::DeleteEdit {
        &c.theirs.fields
    } else {
        &c.mine
    };
    let what = title_field
        .and_then(|f| fields.get(f))
        .and_then(|v| v.as_str())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or("a record");
    format!("\"{what}\" was changed on the server too. Choose what to keep.")
}

#[cfg(test)]
mod tests {
    use ferry_core::protocol::{ConflictKind, Op, Record};
    use serde_json::json;

    use super::one_conflict_notice;

    fn conflict(
        kind: ConflictKind,
        mine: serde_json::Value,
        theirs: serde_json::Value,
    ) -> ferry_core::Conflict {
        let fields = |v: serde_json::Value| v.as_object().cloned().unwrap_or_default();
        ferry_core::Conflict {
            collection: "contacts".into(),
            record_id: uuid::Uuid::nil(),
            kind,
            fields: vec!["company".into()],
            base_version: Some(1),
            base: fields(json!({})),
            mine_op: if kind == ConflictKind::DeleteEdit {
                Op::Delete
            } else {
                Op::Put
            },
            mine: fields(mine),
            mine_changes: fields(json!({})),
            theirs: Record {
                collection: "contacts".into(),
                id: uuid::Uuid::nil(),
                version: 2,
                fields: fields(theirs),
                deleted: false,
                updated_at: "2026-12-04T10:00:00.000Z-0000-srv".parse().expect("stamp"),
                updated_by: "bob".into(),
                merged_from: None,
            },
            created_at: "2026-12-04T10:00:00Z".into(),
            parts: Default::default(),
        }
    }

    #[test]
    fn a_conflict_notice_names_the_record_by_its_title_field() {
        let edit = conflict(
            ConflictKind::EditEdit,
            json!({"company": "Acme", "name": "Ada Lovelace"}),
            json!({"company": "Initech", "name": "Ada Lovelace"}),
        );
        assert_eq!(
            one_conflict_notice(&edit, Some("name")),
            "\"Ada Lovelace\" was changed on the server too. Choose what to keep."
        );
        let deleted = conflict(
            ConflictKind::DeleteEdit,
            json!({}),
            json!({"name": "Grace Hopper"}),
        );
        assert!(one_conflict_notice(&deleted, Some("name")).starts_with("\"Grace Hopper\""));
        assert!(one_conflict_notice(&edit, None).starts_with("\"a record\""));
        assert!(one_conflict_notice(&edit, Some("title")).starts_with("\"a record\""));
    }
}
