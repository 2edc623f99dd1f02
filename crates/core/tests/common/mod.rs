//! A real ferry-server on a random loopback port, with the demo schema and
//! users (alice and bob write, carol reads contacts; password "demo"), and
//! clients each in their own temporary profile. Everything stops and is
//! removed when the test ends.

#![allow(dead_code)]

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ferry_core::protocol::{Fields, Mutation, Op};
use ferry_core::{KeyringUse, Profile, SyncEngine, Unlock};
use ferry_server::store::postgres::testing::TestDb;
use ferry_server::store::postgres::{PgOptions, PgStore};
use ferry_server::store::sqlite::SqliteStore;
use ferry_server::store::{DynStore, PushContext};
use ferry_server::{AppState, Limits, auth, demo, serve};
use tokio::sync::oneshot;

/// argon2 is slow in debug builds: hash the demo password once per test binary.
fn demo_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| auth::hash_password("demo").expect("hash"))
}

/// The largest file the test servers take.
/// The passphrase of test profiles (no test touches the OS keyring).
pub const PASSPHRASE: &str = "correct horse battery staple";

/// How tests open a profile: encrypted, the key from [`PASSPHRASE`].
pub fn unlock() -> Unlock {
    Unlock::new(KeyringUse::Off).passphrase(PASSPHRASE)
}

/// Every file under `dir` that holds `needle`.
pub fn files_holding(dir: &std::path::Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read the profile") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            found.extend(files_holding(&path, needle));
        } else {
            let bytes = std::fs::read(&path).expect("read a file");
            if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

/// The names of the files and folders in `dir`.
pub fn file_names(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().to_string())
        .collect()
}

pub const MAX_FILE: u64 = 48 * 1024 * 1024;

pub struct TestServer {
    pub url: String,
    pub store: DynStore,
    pub state: AppState,
    stop: Option<oneshot::Sender<()>>,
    /// The server's files (`blobs`) and unfinished uploads (`uploads`).
    pub files: tempfile::TempDir,
    /// The PostgreSQL database behind `store`, dropped after the server.
    _db: Option<TestDb>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with_limits(Limits::default()).await
    }

    /// The same server on a fresh PostgreSQL database; `None` when no test
    /// server is configured (see `ferry_server::store::postgres::testing`).
    pub async fn start_on_postgres() -> Option<TestServer> {
        TestServer::start_on_postgres_with_limits(Limits::default()).await
    }

    /// [`start`](Self::start) with other limits (a short keep-alive, say).
    pub async fn start_with_limits(limits: Limits) -> TestServer {
        let store: DynStore = Arc::new(SqliteStore::open(":memory:").expect("store"));
        TestServer::start_with(store, None, limits).await
    }

    /// [`start_on_postgres`](Self::start_on_postgres) with other limits.
    pub async fn start_on_postgres_with_limits(limits: Limits) -> Option<TestServer> {
        let db = TestDb::create().await?;
        let store: DynStore = Arc::new(
            PgStore::open(&db.url, &PgOptions::default())
                .await
                .expect("postgres store"),
        );
        Some(TestServer::start_with(store, Some(db), limits).await)
    }

    async fn start_with(store: DynStore, db: Option<TestDb>, limits: Limits) -> TestServer {
        demo::seed_schema_and_users(&store, |_| Ok(demo_hash().to_string()))
            .await
            .expect("demo schema and users");
        let (mut state, stop_streams) = AppState::new(store.clone(), limits).await.expect("state");
        let files = tempfile::tempdir().expect("files dir");
        let blobs = ferry_server::blobs::open(&files.path().join("blobs").to_string_lossy())
            .expect("blob store");
        let mut blobs = ferry_server::blobs::Blobs::new(blobs, files.path().join("uploads"));
        blobs.max_blob_bytes = MAX_FILE;
        state.blobs = Some(Arc::new(blobs));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(serve(listener, state.clone(), stop_streams, async move {
            let _ = stopped.await;
        }));
        TestServer {
            url,
            store,
            state,
            stop: Some(stop),
            files,
            _db: db,
        }
    }

    /// Writes records straight into the server's store, as `username`.
    /// A new user (password "demo") with a grant on `collection`: the whole
    /// of it, or the rows of `values` only.
    pub async fn add_user(
        &self,
        username: &str,
        collection: &str,
        access: ferry_core::protocol::Access,
        values: &[&str],
    ) {
        self.store
            .create_user(username, demo_hash())
            .await
            .expect("user");
        self.grant(username, collection, Some(access), values).await;
    }

    /// Sets (or with `None` takes away) a user's grant, as `ferry-server grant` does.
    pub async fn grant(
        &self,
        username: &str,
        collection: &str,
        access: Option<ferry_core::protocol::Access>,
        values: &[&str],
    ) {
        self.grant_right(username, collection, access.map(Into::into), values)
            .await;
    }

    /// [`TestServer::grant`] of any right, write-only included.
    pub async fn grant_right(
        &self,
        username: &str,
        collection: &str,
        access: Option<ferry_server::rules::Right>,
        values: &[&str],
    ) {
        self.store
            .change_rules(ferry_server::store::RuleChange::Grant {
                subject: ferry_server::store::GrantSubject::User(username.to_string()),
                collection: collection.to_string(),
                access,
                values: values.iter().map(|v| v.to_string()).collect(),
            })
            .await
            .expect("grant");
    }

    pub async fn seed(&self, username: &str, collection: &str, records: Vec<Fields>) {
        let user = self
            .store
            .user_by_name(username)
            .await
            .expect("user")
            .expect("exists");
        let session = ferry_server::store::Session {
            user_id: user.id,
            username: user.username,
            device_id: uuid::Uuid::nil(),
        };
        let view = self.state.view(&session).await.expect("view");
        let ctx = PushContext {
            session,
            view: std::sync::Arc::new(view),
            clock: self.state.clock.clone(),
        };
        let hlc: ferry_core::protocol::Hlc =
            "2026-11-01T00:00:00.000Z-0000-seed".parse().expect("stamp");
        for chunk in records.chunks(1000) {
            let mutations = chunk
                .iter()
                .map(|fields| {
                    let id = uuid::Uuid::now_v7();
                    Mutation {
                        mutation_id: id,
                        collection: collection.to_string(),
                        record_id: id,
                        op: Op::Put,
                        base_version: None,
                        base: Fields::new(),
                        fields: fields.clone(),
                        hlc: hlc.clone(),
                    }
                })
                .collect();
            self.store
                .push(ctx.clone(), mutations)
                .await
                .expect("seed push");
        }
    }

    /// The server's current version of a record.
    /// Revokes the device called `name` (as an administrator would), and
    /// with `wipe` tells it to delete its data.
    pub async fn revoke_device(&self, name: &str, wipe: bool) {
        let device = self
            .store
            .devices(None)
            .await
            .expect("devices")
            .into_iter()
            .find(|d| d.name == name && !d.revoked)
            .unwrap_or_else(|| panic!("no device {name}"));
        self.store
            .revoke_device(device.id, wipe)
            .await
            .expect("revoke");
    }

    pub async fn record(
        &self,
        collection: &str,
        id: uuid::Uuid,
    ) -> Option<ferry_core::protocol::Record> {
        self.store
            .history(collection, id)
            .await
            .expect("history")
            .pop()
    }

    pub async fn history_len(&self, collection: &str, id: uuid::Uuid) -> usize {
        self.store
            .history(collection, id)
            .await
            .expect("history")
            .len()
    }

    /// Uploads this server refused as too large or over the quota.
    pub fn upload_refusals(&self) -> usize {
        let text = self.state.metrics.encode().expect("metrics");
        text.lines()
            .filter(|l| {
                l.starts_with("ferry_http_requests_total{")
                    && l.contains("route=\"/v1/blobs/{sha256}\"")
                    && l.contains("method=\"PUT\"")
                    && l.contains("status=\"413\"")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as usize
    }
}

pub struct Client {
    pub engine: Arc<SyncEngine>,
    pub dir: tempfile::TempDir,
}

impl Client {
    pub async fn login(server: &TestServer, username: &str) -> Client {
        let dir = tempfile::tempdir().expect("tempdir");
        let profile =
            Arc::new(Profile::open_with(&dir.path().join("profile"), &unlock()).expect("profile"));
        let engine = Arc::new(SyncEngine::new(profile));
        engine
            .login(&server.url, username, "demo", &format!("{username}-test"))
            .await
            .expect("login");
        Client { engine, dir }
    }

    pub fn store(&self) -> &ferry_core::LocalStore {
        self.engine.profile().store()
    }

    pub async fn sync(&self) -> ferry_core::SyncReport {
        self.engine.sync().await.expect("sync")
    }

    /// Reopens the profile from disk, as after a restart.
    pub fn restart(&mut self) {
        let profile = Arc::new(
            Profile::open_with(&self.dir.path().join("profile"), &unlock()).expect("reopen"),
        );
        self.engine = Arc::new(SyncEngine::new(profile));
    }
}

pub fn fields(v: serde_json::Value) -> Fields {
    v.as_object().expect("object").clone()
}

/// Waits for a condition with a deadline, never a fixed sleep.
pub async fn eventually<F: FnMut() -> bool>(what: &str, mut f: F) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A TCP proxy in front of a server that can drop the answer to the next
/// push after the server has sent it (so the server has committed).
pub struct LossyProxy {
    pub url: String,
    drop_next_push: Arc<std::sync::atomic::AtomicBool>,
    dropped: Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LossyProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LossyProxy {
    pub async fn start(server: &TestServer) -> LossyProxy {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let upstream = server.url.trim_start_matches("http://").to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind proxy");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let drop_next_push = Arc::new(AtomicBool::new(false));
        let dropped = Arc::new(AtomicUsize::new(0));
        let (flag, count) = (drop_next_push.clone(), dropped.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                    continue;
                };
                let (flag, count) = (flag.clone(), count.clone());
                tokio::spawn(async move {
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let doomed = Arc::new(AtomicBool::new(false));
                    let d = doomed.clone();
                    let up = tokio::spawn(async move {
                        let mut buf = vec![0u8; 64 * 1024];
                        while let Ok(n) = cr.read(&mut buf).await {
                            if n == 0 {
                                break;
                            }
                            if buf[..n].starts_with(b"POST /v1/push")
                                && flag.swap(false, Ordering::SeqCst)
                            {
                                d.store(true, Ordering::SeqCst);
                            }
                            if sw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    });
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(n) = sr.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        if doomed.load(Ordering::SeqCst) {
                            // The server answered, so it committed: the client never hears of it.
                            count.fetch_add(1, Ordering::SeqCst);
                            break;
                        }
                        if cw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    up.abort();
                });
            }
        });
        LossyProxy {
            url,
            drop_next_push,
            dropped,
            task,
        }
    }

    pub fn drop_next_push_response(&self) {
        self.drop_next_push
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn dropped(&self) -> usize {
        self.dropped.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Client {
    /// Logs in through another address (e.g. a proxy) than the server's own.
    pub async fn login_via(url: &str, username: &str) -> Client {
        let dir = tempfile::tempdir().expect("tempdir");
        let profile =
            Arc::new(Profile::open_with(&dir.path().join("profile"), &unlock()).expect("profile"));
        let engine = Arc::new(SyncEngine::new(profile));
        engine
            .login(url, username, "demo", &format!("{username}-test"))
            .await
            .expect("login");
        Client { engine, dir }
    }
}
