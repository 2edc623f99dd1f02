//! Ferry's sync server.
//!
//! An axum application over a [`store::Store`]: clients push mutations,
//! which are merged field by field against what changed since their base
//! ([`merge`]), and pull changes by cursor from one strictly increasing
//! change sequence. Every accepted write is kept in history; a mutation seen
//! before (within the mutation horizon) is answered from memory and never
//! applied twice.

pub mod api;
pub mod auth;
pub mod clock;
pub mod config;
pub mod demo;
pub mod error;
pub mod events;
pub mod merge;
pub mod schema_file;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use uuid::Uuid;

pub use api::{openapi, router};

use crate::auth::LoginThrottle;
use crate::clock::Clock;
use crate::events::Events;
use crate::store::{DynStore, StoreError};

/// Request limits.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub keepalive: Duration,
    pub login_failures: u32,
    pub login_window: Duration,
    /// How far ahead of the server's wall clock a stamp may be before it is
    /// capped (DESIGN.md, "Clock drift").
    pub max_clock_drift: Duration,
    /// How long a mutation id is remembered (DESIGN.md, "Wire protocol v1").
    pub mutation_horizon: Duration,
}

/// Default of [`Limits::mutation_horizon`]: 400 days.
pub const MUTATION_HORIZON: Duration = Duration::from_secs(400 * 24 * 3600);

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 16 * 1024 * 1024,
            keepalive: Duration::from_secs(15),
            login_failures: 5,
            login_window: Duration::from_secs(300),
            max_clock_drift: Duration::from_millis(
                ferry_protocol::MAX_CLOCK_DRIFT_MS.unsigned_abs(),
            ),
            mutation_horizon: MUTATION_HORIZON,
        }
    }
}

/// Everything a request handler needs.
#[derive(Clone)]
pub struct AppState {
    pub store: DynStore,
    pub clock: Arc<Clock>,
    pub events: Events,
    pub throttle: Arc<LoginThrottle>,
    pub limits: Limits,
    /// Turns `true` when the server is shutting down; event streams end.
    pub shutdown: watch::Receiver<bool>,
    /// The store publishes commits (of every process) to `events` itself.
    pub store_relays_commits: bool,
    /// Directory of signed desktop releases (update manifests); none: no updates.
    pub releases: Option<Arc<std::path::Path>>,
    /// When remembered mutation ids were last pruned (Unix ms).
    last_prune_ms: Arc<AtomicI64>,
}

/// How often a push also prunes remembered mutation ids, and how many it
/// deletes at most then (so the push it rides on stays quick).
const PRUNE_EVERY_MS: i64 = 60_000;
const PRUNE_BATCH: usize = 10_000;

impl AppState {
    /// State over `store`, with a clock that continues from its latest stamp.
    /// Returns the sender that starts shutdown.
    pub async fn new(
        store: DynStore,
        limits: Limits,
    ) -> Result<(AppState, watch::Sender<bool>), StoreError> {
        let floor = store.latest_stamp().await?;
        let node = format!("srv{}", &Uuid::new_v4().simple().to_string()[..6]);
        let (tx, rx) = watch::channel(false);
        let events = Events::default();
        let store_relays_commits = store.relay_commits(events.clone());
        Ok((
            AppState {
                store,
                clock: Arc::new(Clock::new(&node, floor, limits.max_clock_drift)),
                events,
                store_relays_commits,
                throttle: Arc::new(LoginThrottle::new(
                    limits.login_failures,
                    limits.login_window,
                )),
                limits,
                shutdown: rx,
                releases: None,
                last_prune_ms: Arc::new(AtomicI64::new(0)),
            },
            tx,
        ))
    }

    /// Forgets, in one bounded batch, mutation ids remembered longer than
    /// the horizon; at most once a minute per process. A failure is logged
    /// and left for the next time: it must not fail the push.
    pub async fn prune_mutations_now_and_then(&self) {
        let now = chrono::Utc::now().timestamp_millis();
        let last = self.last_prune_ms.load(Ordering::Relaxed);
        if now - last < PRUNE_EVERY_MS
            || self
                .last_prune_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        match self
            .store
            .prune_mutations(self.limits.mutation_horizon, PRUNE_BATCH)
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(n, "forgot mutation ids past the horizon"),
            Err(e) => tracing::warn!(error = %e, "cannot prune remembered mutation ids"),
        }
    }

    /// Names of the collections a user may read (write implies read).
    pub async fn readable_collections(&self, user_id: Uuid) -> Result<Vec<String>, StoreError> {
        let mut names: Vec<String> = self.store.grants(user_id).await?.into_keys().collect();
        names.sort();
        Ok(names)
    }
}

/// Serves the API on an already-bound listener until `shutdown` resolves;
/// open event streams are ended first so the shutdown completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    stop_streams: watch::Sender<bool>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop_streams.send(true);
        })
        .await
}

/// Like [`serve`], over TLS with a PEM certificate chain and private key.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    state: AppState,
    stop_streams: watch::Sender<bool>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    cert: &std::path::Path,
    key: &std::path::Path,
) -> std::io::Result<()> {
    // Several crates may bring a rustls provider; ring is the one Ferry uses.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
        .await
        .map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!(
                    "cannot load TLS certificate {} and key {}: {e}",
                    cert.display(),
                    key.display()
                ),
            )
        })?;
    let handle = axum_server::Handle::new();
    let h = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_streams.send(true);
        h.graceful_shutdown(Some(Duration::from_secs(10)));
    });
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum_server::from_tcp_rustls(listener.into_std()?, config)
        .handle(handle)
        .serve(app)
        .await
}
