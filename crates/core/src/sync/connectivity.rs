//! The connectivity task: knows whether the server can be reached, keeps an
//! event listener open while it can, and runs sync cycles on the triggers:
//! a local edit (debounced), a server event, reconnecting, a timer, and
//! "sync now". "Work offline" holds all traffic until it is switched off.
//!
//! Health probes back off exponentially with jitter, from `min_backoff`
//! (1 s) to `max_backoff` (60 s). Every state change is published on the
//! engine's event channel and on a watch channel.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{Event, SyncEngine, events};
use crate::error::{AuthFailure, Error};

/// Where the connection stands.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnState {
    /// No traffic: the server cannot be reached, or the user chose to work offline.
    Offline {
        reason: String,
        by_choice: bool,
    },
    Connecting,
    Online,
    Syncing,
    /// Needs the user: the login was refused, or the server is incompatible.
    Error {
        message: String,
    },
}

/// What can wake the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    LocalEdit,
    ServerEvent,
    SyncNow,
    SetWorkOffline(bool),
    /// The event stream ended.
    Disconnected,
    Shutdown,
}

#[derive(Debug, Clone)]
pub struct ConnectivityOptions {
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// Quiet time after a local edit before syncing.
    pub debounce: Duration,
    /// Sync at least this often while online.
    pub interval: Duration,
    /// An event stream with nothing on it (not even the server's keep-alive,
    /// every 15 s) for this long is taken for dead, and reconnected.
    pub event_silence: Duration,
}

impl Default for ConnectivityOptions {
    fn default() -> Self {
        ConnectivityOptions {
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            debounce: Duration::from_millis(500),
            interval: Duration::from_secs(300),
            event_silence: Duration::from_secs(45),
        }
    }
}

/// A handle on the running task.
pub struct Connectivity {
    triggers: mpsc::Sender<Trigger>,
    state: watch::Receiver<ConnState>,
    task: JoinHandle<()>,
}

impl Connectivity {
    /// Starts the task on the current tokio runtime.
    pub fn spawn(engine: Arc<SyncEngine>, options: ConnectivityOptions) -> Connectivity {
        let (triggers, rx) = mpsc::channel(64);
        let (state_tx, state) = watch::channel(ConnState::Connecting);
        let task = Task {
            engine,
            options,
            rx,
            tx: triggers.clone(),
            state: state_tx,
            listener: None,
        };
        Connectivity {
            triggers,
            state,
            task: tokio::spawn(task.run()),
        }
    }

    pub fn trigger(&self, trigger: Trigger) {
        let _ = self.triggers.try_send(trigger);
    }

    pub fn local_edit(&self) {
        self.trigger(Trigger::LocalEdit);
    }

    pub fn sync_now(&self) {
        self.trigger(Trigger::SyncNow);
    }

    pub fn set_work_offline(&self, offline: bool) {
        self.trigger(Trigger::SetWorkOffline(offline));
    }

    pub fn state(&self) -> ConnState {
        self.state.borrow().clone()
    }

    pub fn watch(&self) -> watch::Receiver<ConnState> {
        self.state.clone()
    }

    /// Stops the task and waits for it.
    pub async fn shutdown(self) {
        let _ = self.triggers.send(Trigger::Shutdown).await;
        let _ = self.task.await;
    }
}

/// A delay between `backoff / 2` and `backoff`, so many clients do not retry in step.
fn jittered(backoff: Duration) -> Duration {
    let half = backoff / 2;
    half + half.mul_f64(rand::thread_rng().gen_range(0.0..=1.0))
}

enum Next {
    Reconnect,
    Stop,
}

struct Task {
    engine: Arc<SyncEngine>,
    options: ConnectivityOptions,
    rx: mpsc::Receiver<Trigger>,
    tx: mpsc::Sender<Trigger>,
    state: watch::Sender<ConnState>,
    listener: Option<JoinHandle<()>>,
}

impl Task {
    fn set(&self, state: ConnState) {
        if *self.state.borrow() != state {
            tracing::debug!(?state, "connectivity");
            let _ = self.state.send(state.clone());
            self.engine.publish(Event::State(state));
        }
    }

    fn work_offline(&self, offline: bool) {
        if let Err(e) = self.engine.profile().store().set_work_offline(offline) {
            tracing::warn!(error = %e, "cannot save the work-offline switch");
        }
    }

    fn stop_listener(&mut self) {
        if let Some(l) = self.listener.take() {
            l.abort();
        }
    }

    /// Waits up to `delay` for a trigger; `None` when the time is up.
    async fn wait(&mut self, delay: Option<Duration>) -> Option<Trigger> {
        match delay {
            Some(d) => tokio::time::timeout(d, self.rx.recv())
                .await
                .ok()
                .map(|t| t.unwrap_or(Trigger::Shutdown)),
            None => Some(self.rx.recv().await.unwrap_or(Trigger::Shutdown)),
        }
    }

    async fn run(mut self) {
        let mut backoff = self.options.min_backoff;
        loop {
            let store = self.engine.profile().store().clone();
            if store.work_offline().unwrap_or(false) {
                self.set(ConnState::Offline {
                    reason: "working offline".into(),
                    by_choice: true,
                });
                match self.wait(None).await {
                    Some(Trigger::Shutdown) => return,
                    Some(Trigger::SetWorkOffline(false)) => self.work_offline(false),
                    _ => {}
                }
                continue;
            }
            let api = match self.engine.api() {
                Ok(api) => api,
                Err(e) => {
                    self.set(ConnState::Error {
                        message: e.to_string(),
                    });
                    match self.wait(None).await {
                        Some(Trigger::Shutdown) => return,
                        Some(Trigger::SetWorkOffline(o)) => self.work_offline(o),
                        _ => {}
                    }
                    continue;
                }
            };
            self.set(ConnState::Connecting);
            if let Err(e) = api.health().await {
                let delay = if matches!(e, Error::Incompatible { .. }) {
                    self.set(ConnState::Error {
                        message: e.to_string(),
                    });
                    self.options.max_backoff
                } else {
                    self.set(ConnState::Offline {
                        reason: e.to_string(),
                        by_choice: false,
                    });
                    let d = jittered(backoff);
                    backoff = (backoff * 2).min(self.options.max_backoff);
                    d
                };
                match self.wait(Some(delay)).await {
                    Some(Trigger::Shutdown) => return,
                    Some(Trigger::SetWorkOffline(o)) => self.work_offline(o),
                    _ => {}
                }
                continue;
            }
            let (tx, silence) = (self.tx.clone(), self.options.event_silence);
            self.listener = Some(tokio::spawn(async move {
                if let Err(e) = events::listen(&api, &tx, silence).await {
                    tracing::debug!(error = %e, "event stream failed");
                }
                let _ = tx.send(Trigger::Disconnected).await;
            }));
            let since = Instant::now();
            let next = self.online().await;
            self.stop_listener();
            if let Next::Stop = next {
                return;
            }
            // A connection that keeps dropping right away (an event stream the
            // server ends at once, say) must not become a tight reconnect loop.
            let chose_offline = self
                .engine
                .profile()
                .store()
                .work_offline()
                .unwrap_or(false);
            if chose_offline
                || since.elapsed() >= self.options.max_backoff.min(Duration::from_secs(10))
            {
                backoff = self.options.min_backoff;
            } else {
                let delay = jittered(backoff);
                backoff = (backoff * 2).min(self.options.max_backoff);
                match self.wait(Some(delay)).await {
                    Some(Trigger::Shutdown) => return,
                    Some(Trigger::SetWorkOffline(o)) => self.work_offline(o),
                    _ => {}
                }
            }
        }
    }

    /// One sync; `Err` when the connection should be re-established.
    async fn sync(&mut self) -> Result<(), Next> {
        self.set(ConnState::Syncing);
        match self.engine.sync().await {
            Ok(_) => {
                self.set(ConnState::Online);
                Ok(())
            }
            Err(Error::WorkingOffline) => Err(Next::Reconnect),
            Err(Error::AuthFailed {
                why: AuthFailure::Wipe,
            }) => {
                match self.engine.profile().wipe() {
                    Ok(unsent) => self.engine.publish(Event::Wiped { unsent }),
                    Err(e) => {
                        tracing::error!(error = %e, "cannot delete the local data as the server asked")
                    }
                }
                self.set(ConnState::Error {
                    message: AuthFailure::Wipe.in_app().to_string(),
                });
                Err(Next::Reconnect)
            }
            // Said for the app's window: it offers "Sign in again".
            Err(Error::AuthFailed { why }) => {
                self.set(ConnState::Error {
                    message: why.in_app().to_string(),
                });
                Err(Next::Reconnect)
            }
            Err(e @ Error::Incompatible { .. }) => {
                self.set(ConnState::Error {
                    message: e.to_string(),
                });
                Err(Next::Reconnect)
            }
            Err(e) if e.is_transient() => {
                self.set(ConnState::Offline {
                    reason: e.to_string(),
                    by_choice: false,
                });
                Err(Next::Reconnect)
            }
            Err(e) => {
                // A local problem or a refused request: stay online, report it.
                tracing::warn!(error = %e, "sync failed");
                self.set(ConnState::Error {
                    message: e.to_string(),
                });
                Ok(())
            }
        }
    }

    /// Online: sync on reconnect, then on every trigger, until disconnected.
    async fn online(&mut self) -> Next {
        if self.sync().await.is_err() {
            return self.after_error().await;
        }
        let mut edit_deadline: Option<Instant> = None;
        let mut timer = Instant::now() + self.options.interval;
        loop {
            let deadline = edit_deadline.map_or(timer, |d| d.min(timer));
            let trigger = tokio::select! {
                t = self.rx.recv() => t.unwrap_or(Trigger::Shutdown),
                () = tokio::time::sleep_until(deadline) => Trigger::SyncNow,
            };
            match trigger {
                Trigger::Shutdown => return Next::Stop,
                Trigger::Disconnected => return Next::Reconnect,
                Trigger::SetWorkOffline(true) => {
                    self.work_offline(true);
                    return Next::Reconnect;
                }
                Trigger::SetWorkOffline(false) => continue,
                Trigger::LocalEdit => {
                    edit_deadline = Some(Instant::now() + self.options.debounce);
                    continue;
                }
                Trigger::ServerEvent | Trigger::SyncNow => {}
            }
            edit_deadline = None;
            timer = Instant::now() + self.options.interval;
            if self.sync().await.is_err() {
                return self.after_error().await;
            }
        }
    }

    /// After an auth or compatibility error, wait for the user; otherwise reconnect.
    async fn after_error(&mut self) -> Next {
        if !matches!(*self.state.borrow(), ConnState::Error { .. }) {
            return Next::Reconnect;
        }
        self.stop_listener();
        loop {
            match self.wait(None).await {
                Some(Trigger::Shutdown) | None => return Next::Stop,
                Some(Trigger::SetWorkOffline(o)) => {
                    self.work_offline(o);
                    return Next::Reconnect;
                }
                Some(Trigger::SyncNow) => return Next::Reconnect,
                Some(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_half_to_full_backoff() {
        for _ in 0..100 {
            let d = jittered(Duration::from_secs(8));
            assert!(
                d >= Duration::from_secs(4) && d <= Duration::from_secs(8),
                "{d:?}"
            );
        }
    }
}
