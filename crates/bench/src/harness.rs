//! A real ferry-server in this process, on a random loopback port, over a
//! SQLite file, with one user (`bench`, password `bench`) who may write the
//! bench collection. Stopped when dropped.

use std::sync::Arc;

use anyhow::{Context, bail};
use ferry_protocol::{Fields, Hlc, LoginRequest, LoginResponse, Mutation, Op, PushRequest};
use ferry_server::store::Store;
use ferry_server::store::sqlite::SqliteStore;
use ferry_server::{AppState, Limits};
use uuid::Uuid;

use crate::dataset::{COLLECTION, bench_collection, record_fields};

pub const USER: &str = "bench";
pub const PASSWORD: &str = "bench";
/// Mutations per push request.
pub const PUSH_BATCH: usize = 1000;

pub struct BenchServer {
    pub base: String,
    pub http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl BenchServer {
    /// Starts a server whose database lives in `dir`.
    pub async fn start(dir: &std::path::Path) -> anyhow::Result<BenchServer> {
        let store = Arc::new(SqliteStore::open(&dir.join("server.db").to_string_lossy())?);
        store.put_collections(&[bench_collection()]).await?;
        let hash = ferry_server::auth::hash_password(PASSWORD).map_err(anyhow::Error::msg)?;
        store.create_user(USER, &hash).await?;
        store
            .set_grant(USER, COLLECTION, Some(ferry_protocol::Access::Write))
            .await?;
        let (state, stop_streams) = AppState::new(store, Limits::default()).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(ferry_server::serve(listener, state, stop_streams, async {
            let _ = stopped.await;
        }));
        Ok(BenchServer {
            base,
            http: reqwest::Client::new(),
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Logs the bench user in; returns the `Authorization` header value.
    pub async fn login(&self) -> anyhow::Result<String> {
        let login: LoginResponse = self
            .http
            .post(format!("{}/v1/auth/login", self.base))
            .json(&LoginRequest {
                username: USER.into(),
                password: PASSWORD.into(),
                device_name: "bench".into(),
                platform: None,
                app_version: None,
            })
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(format!("Bearer {}", login.token))
    }

    /// Sends one push request body; fails unless every mutation was applied.
    pub async fn push_body(&self, auth: &str, body: Vec<u8>) -> anyhow::Result<()> {
        push_all_applied(&self.http, &self.base, auth, body).await?;
        Ok(())
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for BenchServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The body of a push creating records `range` of the data set, and its
/// records' total JSON size.
pub fn create_body(range: std::ops::Range<usize>) -> anyhow::Result<(Vec<u8>, usize)> {
    let hlc = Hlc::new(chrono::Utc::now().timestamp_millis(), 0, "bench").context("stamp")?;
    let mut record_bytes = 0;
    let mutations = range
        .map(|i| {
            let fields = record_fields(i);
            record_bytes += serde_json::to_string(&fields).map(|s| s.len()).unwrap_or(0);
            Mutation {
                mutation_id: Uuid::now_v7(),
                collection: COLLECTION.into(),
                record_id: Uuid::now_v7(),
                op: Op::Put,
                base_version: None,
                base: Fields::new(),
                fields,
                hlc: hlc.clone(),
            }
        })
        .collect();
    Ok((
        serde_json::to_vec(&PushRequest { mutations })?,
        record_bytes,
    ))
}

/// Records `0..n` cut into push requests of `PUSH_BATCH`.
pub fn batches(n: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    (0..n)
        .step_by(PUSH_BATCH)
        .map(move |start| start..(start + PUSH_BATCH).min(n))
}

/// Pushes a request body and fails unless every mutation in it was applied;
/// returns how many results came back. Only the statuses are read: this
/// measures the server, not a parser.
pub async fn push_all_applied(
    http: &reqwest::Client,
    base: &str,
    auth: &str,
    body: Vec<u8>,
) -> anyhow::Result<usize> {
    Ok(push_applied(http, base, auth, body).await?.results)
}

/// What a push whose every mutation was applied answered: how many results,
/// and where its writes sit in the feed (`written.cursor`), if it wrote.
pub struct Applied {
    pub results: usize,
    pub written: Option<String>,
}

/// [`push_all_applied`], with where the push's writes sit in the feed.
pub async fn push_applied(
    http: &reqwest::Client,
    base: &str,
    auth: &str,
    body: Vec<u8>,
) -> anyhow::Result<Applied> {
    let body = http
        .post(format!("{base}/v1/push"))
        .header("authorization", auth)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    #[derive(serde::Deserialize)]
    struct Outcome {
        status: ferry_protocol::Status,
    }
    #[derive(serde::Deserialize)]
    struct Written {
        cursor: String,
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        results: Vec<Outcome>,
        written: Option<Written>,
    }
    let answer: Answer = serde_json::from_slice(&body)?;
    if let Some(bad) = answer
        .results
        .iter()
        .find(|r| r.status != ferry_protocol::Status::Applied)
    {
        bail!("push not applied: {:?}", bad.status);
    }
    Ok(Applied {
        results: answer.results.len(),
        written: answer.written.map(|w| w.cursor),
    })
}

/// Errors the simulated clients met: how many, and the first in words.
#[derive(Default)]
pub struct Errors {
    count: std::sync::atomic::AtomicU64,
    first: std::sync::Mutex<Option<String>>,
}

impl Errors {
    pub fn add(&self, what: String) {
        self.count
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut first = self.first.lock().unwrap_or_else(|e| e.into_inner());
        if first.is_none() {
            *first = Some(what);
        }
    }

    /// How many, and the first.
    pub fn report(&self) -> (u64, Option<String>) {
        let first = self.first.lock().unwrap_or_else(|e| e.into_inner()).clone();
        (self.count.load(std::sync::atomic::Ordering::Relaxed), first)
    }
}
