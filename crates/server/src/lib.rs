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
pub mod blobs;
pub mod clock;
pub mod config;
pub mod console;
pub mod demo;
pub mod error;
pub mod events;
pub mod maintenance;
pub mod merge;
pub mod metrics;
pub mod migration;
pub mod request_id;
pub mod rules;
pub mod schema_change;
pub mod schema_file;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, watch};
use uuid::Uuid;

pub use api::{openapi, router};

use crate::auth::LoginThrottle;
use crate::clock::Clock;
use crate::events::{Events, StreamRegistry};
use crate::schema_file::CollectionDef;
use crate::store::{DynStore, StoreError};

/// Request and connection limits.
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
    /// Largest `POST /v1/auth/login` body: its fields fit in far less.
    pub login_body_bytes: usize,
    /// Password checks (about 19 MiB of memory each) running at once.
    pub login_concurrency: usize,
    /// How long a login waits for a free password check before 503 `busy`.
    pub login_wait: Duration,
    /// Time a client has to send a request's headers, counted from when the
    /// connection opens or its previous response ends: so it is also the
    /// idle timeout of a kept-alive connection.
    pub header_timeout: Duration,
    /// Open connections at most; past it, new ones wait in the listen backlog.
    pub max_connections: usize,
    /// Open event streams per user at most; one more ends the oldest.
    pub max_event_streams: usize,
    /// How long a session lasts unused (each use starts it again).
    pub session_lifetime: Duration,
    /// How often an idle event stream checks that its device is still
    /// signed in (a revoke ends it within this).
    pub session_check: Duration,
    /// The server speaks HTTPS: the console's cookie is `Secure`.
    pub https: bool,
}

/// One password check per core.
pub fn default_login_concurrency() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
}

/// Default of [`Limits::session_lifetime`]: 30 days.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

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
            login_body_bytes: 8 * 1024,
            login_concurrency: default_login_concurrency(),
            login_wait: Duration::from_secs(2),
            header_timeout: Duration::from_secs(10),
            max_connections: 1000,
            https: false,
            max_event_streams: 8,
            session_lifetime: SESSION_LIFETIME,
            session_check: Duration::from_secs(10),
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
    /// Bounds the password checks running at once (`Limits::login_concurrency`).
    pub password_checks: Arc<Semaphore>,
    /// The threads that check passwords, one per permit of `password_checks`.
    pub password_checker: Arc<auth::PasswordChecker>,
    /// Each user's open event streams, to end the oldest past the limit.
    pub streams: Arc<StreamRegistry>,
    pub limits: Limits,
    /// Turns `true` when the server is shutting down; event streams end.
    pub shutdown: watch::Receiver<bool>,
    /// The store publishes commits (of every process) to `events` itself.
    pub store_relays_commits: bool,
    /// Directory of signed desktop releases (update manifests); none: no updates.
    pub releases: Option<Arc<std::path::Path>>,
    /// Where attached files live, and their limits; none: this server keeps no files.
    pub blobs: Option<Arc<blobs::Blobs>>,
    /// The series served at `/metrics` (on the metrics listener).
    pub metrics: Arc<metrics::Metrics>,
    /// Migrations of fields this process runs or ran.
    pub migrations: Arc<migration::Jobs>,
    /// When remembered mutation ids were last pruned (Unix ms).
    last_prune_ms: Arc<AtomicI64>,
    /// The database's epoch as this process started on it.
    pub epoch: Arc<Epoch>,
}

/// The database's epoch (DESIGN.md, "Backups and restore"): read once at
/// start, since a restore replaces the database while no server runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Epoch {
    pub id: String,
    /// When the backup the database was last restored from was taken.
    pub restored_from: Option<String>,
}

/// The header clients send their last-seen epoch in, and every answer
/// carries the server's.
pub const EPOCH_HEADER: &str = "x-ferry-epoch";

impl AppState {
    /// Refuses a request made against an earlier epoch: the client saw a
    /// server that a restore took back in time, and must first re-send what
    /// the restore lost, then pull everything again.
    pub fn check_epoch(&self, headers: &axum::http::HeaderMap) -> Result<(), error::ApiError> {
        let Some(theirs) = headers.get(EPOCH_HEADER) else {
            return Ok(());
        };
        if theirs.as_bytes() == self.epoch.id.as_bytes() {
            return Ok(());
        }
        let when = self
            .epoch
            .restored_from
            .as_deref()
            .map(|at| format!(" taken at {at}"))
            .unwrap_or_default();
        Err(error::ApiError::EpochChanged(format!(
            "the server was restored from a backup{when}: send again the changes it acknowledged since, then pull everything again from the start"
        )))
    }
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
        let metrics = Arc::new(metrics::Metrics::new());
        let store = store::timed::TimedStore::wrap(store, metrics.clone());
        let floor = store.latest_stamp().await?;
        let node = format!("srv{}", &Uuid::new_v4().simple().to_string()[..6]);
        let (tx, rx) = watch::channel(false);
        let password_checker = auth::PasswordChecker::new(limits.login_concurrency.clamp(1, 256))
            .map_err(|e| {
            StoreError::Internal(format!("cannot start the password-check threads: {e}"))
        })?;
        let events = Events::default();
        let store_relays_commits = store.relay_commits(events.clone());
        let epoch = Arc::new(Epoch {
            id: store.epoch().await?,
            restored_from: store.meta("restored_from").await?,
        });
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
                password_checks: Arc::new(Semaphore::new(limits.login_concurrency.clamp(1, 256))),
                password_checker: Arc::new(password_checker),
                streams: Arc::new(StreamRegistry::new(limits.max_event_streams)),
                limits,
                shutdown: rx,
                releases: None,
                blobs: None,
                metrics,
                migrations: Default::default(),
                last_prune_ms: Arc::new(AtomicI64::new(0)),
                epoch,
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

    /// The rows a signed-in user may read and write, as the grants stand now.
    pub async fn view(&self, session: &store::Session) -> Result<rules::View, StoreError> {
        self.view_of(session.user_id, &session.username).await
    }

    pub async fn view_of(&self, user_id: Uuid, username: &str) -> Result<rules::View, StoreError> {
        Ok(self.view_and_collections_of(user_id, username).await?.0)
    }

    /// The user's view and the collection definitions it was made from.
    pub async fn view_and_collections(
        &self,
        session: &store::Session,
    ) -> Result<(rules::View, Vec<CollectionDef>), StoreError> {
        self.view_and_collections_of(session.user_id, &session.username)
            .await
    }

    async fn view_and_collections_of(
        &self,
        user_id: Uuid,
        username: &str,
    ) -> Result<(rules::View, Vec<CollectionDef>), StoreError> {
        let (rules, defs) =
            tokio::try_join!(self.store.rules_for(user_id), self.store.collections())?;
        Ok((rules::View::new(username, &rules, &defs), defs))
    }
}

/// Serves the API on an already-bound listener until `shutdown` resolves;
/// open event streams are ended first so the shutdown completes.
///
/// HTTP/1.1 with [`Limits::header_timeout`] for headers and idle kept-alive
/// connections, and at most [`Limits::max_connections`] connections open:
/// at the cap the server stops accepting, and new connections wait in the
/// kernel's listen backlog until one closes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    stop_streams: watch::Sender<bool>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    accept_loop(listener, state, stop_streams, shutdown, None).await
}

/// Like [`serve`], over TLS with a PEM certificate chain and private key;
/// the TLS handshake too must finish within [`Limits::header_timeout`].
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
    // HTTP/1.1 only: the header timeout that bounds slow and idle clients is HTTP/1's.
    let mut tls = (*config.get_inner()).clone();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    accept_loop(listener, state, stop_streams, shutdown, Some(acceptor)).await
}

/// Largest request head (line and headers) accepted.
const MAX_HEADER_BYTES: usize = 64 * 1024;

/// How long a shutdown waits for open requests to finish.
const DRAIN: Duration = Duration::from_secs(10);

async fn accept_loop(
    listener: tokio::net::TcpListener,
    state: AppState,
    stop_streams: watch::Sender<bool>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> std::io::Result<()> {
    let header_timeout = state.limits.header_timeout;
    let max_connections = state
        .limits
        .max_connections
        .clamp(1, Semaphore::MAX_PERMITS);
    let app = router(state);
    let slots = Arc::new(Semaphore::new(max_connections));
    let (closing_tx, closing) = watch::channel(false);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_timeout)
        // Heads past 64 KiB are refused (431): a thousand connections may not buffer 400 KiB each.
        .max_header_size(MAX_HEADER_BYTES)
        .keep_alive(true);
    let http = Arc::new(http);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = WithPeer {
            app: app.clone(),
            peer,
        };
        let (http, tls, closing) = (http.clone(), tls.clone(), closing.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let Some(tls) = tls else {
                return serve_connection(&http, stream, service, closing).await;
            };
            match tokio::time::timeout(header_timeout, tls.accept(stream)).await {
                Ok(Ok(stream)) => serve_connection(&http, stream, service, closing).await,
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
    drop(listener);
    let _ = stop_streams.send(true);
    let _ = closing_tx.send(true);
    // All slots free again: every connection has closed.
    let all = u32::try_from(max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(DRAIN, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            "connections still open {} s after shutdown began; leaving them",
            DRAIN.as_secs()
        );
    }
    Ok(())
}

/// One connection until it closes; once `closing` turns true, it ends after
/// the request in progress.
async fn serve_connection<I>(
    http: &hyper::server::conn::http1::Builder,
    io: I,
    service: WithPeer,
    mut closing: watch::Receiver<bool>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let peer = service.peer;
    let conn = http.serve_connection(hyper_util::rt::TokioIo::new(io), service);
    tokio::pin!(conn);
    let mut told = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                // Timeouts and resets are the client's business, not the operator's.
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended");
                }
                return;
            }
            _ = closing.wait_for(|c| *c), if !told => {
                told = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// The router, with the client's address for handlers (`ConnectInfo`).
#[derive(Clone)]
struct WithPeer {
    app: axum::Router,
    peer: SocketAddr,
}

impl hyper::service::Service<axum::http::Request<hyper::body::Incoming>> for WithPeer {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = tower::util::Oneshot<axum::Router, axum::http::Request<hyper::body::Incoming>>;

    fn call(&self, mut req: axum::http::Request<hyper::body::Incoming>) -> Self::Future {
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(self.peer));
        tower::ServiceExt::oneshot(self.app.clone(), req)
    }
}
