//! The profile this window works on, its sync task, and the bridge that
//! turns core events into UI events and desktop notifications.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferry_core::{ConnState, Connectivity, ConnectivityOptions, Error, Event, Profile, SyncEngine};
use tauri::{AppHandle, Emitter};
use tokio::sync::{Mutex, RwLock};

use crate::notify;
use crate::types::{CommandError, ErrorKind, EventName, RecordsChanged, Status};

const NOTIFICATIONS_KEY: &str = "desktop.notifications";

static STATUS_SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

fn next_seq() -> u32 {
    STATUS_SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1
}

/// A profile that opened, with its engine and (once signed in) its sync task.
pub struct Session {
    pub profile: Arc<Profile>,
    pub engine: Arc<SyncEngine>,
    connectivity: Mutex<Option<Connectivity>>,
}

impl Session {
    pub fn store(&self) -> &Arc<ferry_core::LocalStore> {
        self.profile.store()
    }

    /// Tells the sync task about a local edit (it debounces).
    pub async fn local_edit(&self) {
        if let Some(c) = self.connectivity.lock().await.as_ref() {
            c.local_edit();
        }
    }

    pub async fn sync_now(&self) {
        if let Some(c) = self.connectivity.lock().await.as_ref() {
            c.sync_now();
        }
    }

    pub async fn set_work_offline(&self, offline: bool) -> Result<(), CommandError> {
        self.store().set_work_offline(offline)?;
        if let Some(c) = self.connectivity.lock().await.as_ref() {
            c.set_work_offline(offline);
        }
        Ok(())
    }

    async fn connection(&self) -> ConnState {
        match self.connectivity.lock().await.as_ref() {
            Some(c) => c.state(),
            None => ConnState::Offline {
                reason: "not signed in".into(),
                by_choice: false,
            },
        }
    }
}

/// The app's state: one profile directory, and the session on it if it opened.
pub struct Desktop {
    pub dir: PathBuf,
    app: AppHandle,
    session: Arc<RwLock<Option<Arc<Session>>>>,
    damaged: Arc<Mutex<Option<String>>>,
}

impl Desktop {
    /// Opens the profile in `dir` on a blocking thread, so the window shows
    /// while the database is created or migrated and the token is read;
    /// commands wait for it. A damaged database is reported in the status so
    /// the UI can offer recovery instead of failing to start.
    pub fn open(app: AppHandle, dir: &Path) -> Desktop {
        let session = Arc::new(RwLock::new(None));
        let damaged = Arc::new(Mutex::new(None));
        // Held until the profile is open, taken before any command can ask.
        let mut slot = session
            .clone()
            .try_write_owned()
            .expect("a lock nobody else has seen is free");
        let opening = damaged.clone();
        let (task_app, task_dir) = (app.clone(), dir.to_path_buf());
        tauri::async_runtime::spawn_blocking(move || {
            match Profile::open(&task_dir) {
                Ok(profile) => *slot = Some(start(&task_app, profile)),
                Err(e) => {
                    tracing::error!(error = %e, "the profile could not be opened");
                    *opening.blocking_lock() = Some(CommandError::from(e).message);
                }
            }
            crate::startup::mark("profile open");
        });
        Desktop {
            dir: dir.to_path_buf(),
            app,
            session,
            damaged,
        }
    }

    pub async fn session(&self) -> Result<Arc<Session>, CommandError> {
        match self.session.read().await.as_ref() {
            Some(s) => Ok(s.clone()),
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
        let mut slot = self.session.write().await;
        if let Some(old) = slot.take() {
            stop_sync(&old).await;
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
        // The session first: it waits for the profile to open.
        let session = self.session().await;
        let damaged = self.damaged.lock().await.clone();
        let Ok(session) = session else {
            return Status {
                seq: next_seq(),
                account: None,
                connection: ConnState::Error {
                    message: damaged.clone().unwrap_or_default(),
                },
                work_offline: false,
                outbox: 0,
                conflicts: 0,
                rejected: 0,
                last_sync: None,
                notifications: false,
                damaged,
            };
        };
        status_of(&session).await
    }

    pub async fn emit_status(&self) {
        let status = self.status().await;
        emit(&self.app, EventName::Status, &status);
    }

    /// Signs in and starts syncing.
    pub async fn login(
        &self,
        server: &str,
        username: &str,
        password: &str,
    ) -> Result<(), CommandError> {
        let session = self.session().await?;
        stop_sync(&session).await;
        let device = ferry_core::device::device_name("Ferry desktop");
        let result = session
            .engine
            .login(server, username, password, &device)
            .await;
        if result.is_ok() {
            session.store().set_work_offline(false)?;
        }
        if matches!(session.profile.token(), Ok(Some(_))) {
            start_sync(&session).await;
        }
        result?;
        Ok(())
    }

    pub async fn logout(&self) -> Result<(), CommandError> {
        let session = self.session().await?;
        stop_sync(&session).await;
        session.engine.logout().await?;
        Ok(())
    }

    /// Stops the sync task so the outbox is left consistent before exit.
    pub async fn shutdown(&self) {
        if let Some(session) = self.session.read().await.as_ref() {
            stop_sync(session).await;
        }
    }
}

/// Wraps a profile in a session and, when it is signed in, starts syncing.
fn start(app: &AppHandle, profile: Profile) -> Arc<Session> {
    let profile = Arc::new(profile);
    let engine = Arc::new(SyncEngine::new(profile.clone()));
    let session = Arc::new(Session {
        profile,
        engine,
        connectivity: Mutex::new(None),
    });
    tauri::async_runtime::spawn(forward_events(app.clone(), session.clone()));
    if matches!(session.profile.token(), Ok(Some(_))) {
        let s = session.clone();
        tauri::async_runtime::spawn(async move { start_sync(&s).await });
    }
    session
}

pub fn notifications_on(session: &Session) -> bool {
    !matches!(
        session
            .store()
            .setting(NOTIFICATIONS_KEY)
            .ok()
            .flatten()
            .as_deref(),
        Some("off")
    )
}

pub fn set_notifications(session: &Session, on: bool) -> Result<(), Error> {
    session
        .store()
        .set_setting(NOTIFICATIONS_KEY, (!on).then_some("off"))
}

async fn start_sync(session: &Arc<Session>) {
    let mut slot = session.connectivity.lock().await;
    if slot.is_none() {
        let c = Connectivity::spawn(session.engine.clone(), ConnectivityOptions::default());
        if session.store().work_offline().unwrap_or(false) {
            c.set_work_offline(true);
        }
        *slot = Some(c);
    }
}

async fn stop_sync(session: &Session) {
    let running = session.connectivity.lock().await.take();
    if let Some(c) = running {
        c.shutdown().await;
    }
}

async fn status_of(session: &Session) -> Status {
    let store = session.store();
    let counts = store.pending_counts().unwrap_or_default();
    let account = session.profile.account().ok().flatten();
    let signed_in = matches!(session.profile.token(), Ok(Some(_)));
    let seq = next_seq();
    Status {
        seq,
        account: account.filter(|_| signed_in),
        connection: session.connection().await,
        work_offline: store.work_offline().unwrap_or(false),
        outbox: counts.outbox,
        conflicts: counts.conflicts,
        rejected: counts.rejected,
        last_sync: store.last_sync().ok().flatten(),
        notifications: notifications_on(session),
        damaged: None,
    }
}

pub fn emit<T: serde::Serialize + Clone>(app: &AppHandle, name: EventName, payload: &T) {
    if let Err(e) = app.emit(name.as_str(), payload.clone()) {
        tracing::warn!(error = %e, event = name.as_str(), "could not reach the window");
    }
}

/// Turns core events into UI events, and notices what deserves a
/// notification: new conflicts, and changes sent after being offline.
async fn forward_events(app: AppHandle, session: Arc<Session>) {
    let mut events = session.engine.subscribe();
    let mut conflicts = session
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
            Event::DataChanged { records, truncated } => {
                emit(
                    &app,
                    EventName::RecordsChanged,
                    &RecordsChanged { records, truncated },
                );
            }
            Event::Synced(report) => {
                let sent = report.pushed.applied + report.pushed.merged;
                if was_offline && sent > 0 && notifications_on(&session) {
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
                if report.conflicts > conflicts && notifications_on(&session) {
                    let newest = session.store().conflicts().ok().and_then(|all| {
                        all.into_iter()
                            .max_by(|a, b| a.created_at.cmp(&b.created_at))
                    });
                    let new = report.conflicts - conflicts;
                    let body = match &newest {
                        Some(c) if new == 1 => {
                            let title = c.mine.get("title").or_else(|| c.mine.values().next());
                            let what = title.and_then(|v| v.as_str()).unwrap_or("a record");
                            format!(
                                "\"{what}\" was changed on the server too. Choose what to keep."
                            )
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
        let status = status_of(&session).await;
        emit(&app, EventName::Status, &status);
    }
}
