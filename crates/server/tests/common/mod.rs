//! A real `ferry-server` on a random 127.0.0.1 port for HTTP-level tests:
//! a fresh SQLite file with the demo schema and users (no records), small
//! limits, and a stop signal sent when the test drops it.

#![allow(dead_code)]

use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ferry_protocol::Hlc;
use ferry_server::store::DynStore;
use ferry_server::store::sqlite::SqliteStore;
use ferry_server::{AppState, Limits, auth, demo};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::time::Instant;
use uuid::Uuid;

/// The demo users' password.
pub const PASSWORD: &str = "demo";

/// How long a test waits for something that should happen promptly.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Argon2 is slow in debug builds: hash the demo password once per test
/// binary and give every user the same hash.
fn demo_password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| auth::hash_password(PASSWORD).expect("hash the demo password"))
}

/// Small limits, so tests see keep-alives and body limits quickly.
/// Largest file the test servers take, and each user's quota.
pub const TEST_MAX_FILE: u64 = 8 * 1024 * 1024;
pub const TEST_QUOTA: u64 = 12 * 1024 * 1024;

/// File storage in `store`, or in `dir` when none, with the test limits;
/// unfinished uploads in `dir`.
pub fn test_blobs(
    dir: &std::path::Path,
    store: Option<ferry_server::blobs::DynBlobs>,
) -> ferry_server::blobs::Blobs {
    let store = store.unwrap_or_else(|| {
        ferry_server::blobs::open(&dir.join("blobs").to_string_lossy()).expect("blobs")
    });
    let mut blobs = ferry_server::blobs::Blobs::new(store, dir.join("uploads"));
    blobs.max_blob_bytes = TEST_MAX_FILE;
    blobs.quota_bytes = Some(TEST_QUOTA);
    blobs
}

pub fn test_limits() -> Limits {
    Limits {
        max_body_bytes: 1024 * 1024,
        keepalive: Duration::from_millis(200),
        session_check: Duration::from_millis(200),
        login_failures: 5,
        login_window: Duration::from_secs(300),
        login_body_bytes: 8 * 1024,
        login_concurrency: 4,
        login_wait: Duration::from_secs(10),
        header_timeout: Duration::from_secs(10),
        max_connections: 64,
        max_event_streams: 8,
        ..Limits::default()
    }
}

/// A running server; stopped (and its database deleted) when dropped.
pub struct TestServer {
    pub base: String,
    pub http: reqwest::Client,
    pub store: DynStore,
    /// `http://127.0.0.1:PORT` of the metrics listener (its own port), which
    /// samples the collection sizes every 100 ms; none for a remote server.
    pub metrics_base: Option<String>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    metrics_task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    /// The server's files, when it runs here.
    pub blobs: Option<Arc<ferry_server::blobs::Blobs>>,
    /// Its SQLite database, when it runs here.
    pub db_path: Option<std::path::PathBuf>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with(test_limits()).await
    }

    pub async fn start_with(limits: Limits) -> TestServer {
        TestServer::start_on(limits, None).await
    }

    /// A server whose files live in a bucket of `moto`.
    pub async fn start_s3(moto: &ferry_server::blobs::moto::Moto) -> TestServer {
        let bucket = format!("ferry-{}", uuid::Uuid::new_v4().simple());
        let store: ferry_server::blobs::DynBlobs = Arc::new(moto.store(&bucket).await);
        TestServer::start_on(test_limits(), Some(store)).await
    }

    /// A server whose files live in `blob_store` (a directory beside its
    /// database when none).
    pub async fn start_on(
        limits: Limits,
        blob_store: Option<ferry_server::blobs::DynBlobs>,
    ) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("ferry.db");
        let store: DynStore =
            Arc::new(SqliteStore::open(&path.to_string_lossy()).expect("open the store"));
        TestServer::serve(store, limits, blob_store, dir, Some(path)).await
    }

    /// A server over `store` (PostgreSQL, say), seeded like the others.
    pub async fn start_over(store: DynStore) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        TestServer::serve(store, test_limits(), None, dir, None).await
    }

    async fn serve(
        store: DynStore,
        limits: Limits,
        blob_store: Option<ferry_server::blobs::DynBlobs>,
        dir: tempfile::TempDir,
        path: Option<std::path::PathBuf>,
    ) -> TestServer {
        seed(&store).await;
        let (mut state, stop_streams) = AppState::new(store.clone(), limits)
            .await
            .expect("app state");
        let blobs = Arc::new(test_blobs(dir.path(), blob_store));
        state.blobs = Some(blobs.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let metrics_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0 for metrics");
        let metrics_addr = metrics_listener.local_addr().expect("metrics addr");
        let metrics_task = tokio::spawn(ferry_server::metrics::serve_metrics(
            metrics_listener,
            state.clone(),
            Duration::from_millis(100),
            std::future::pending(),
        ));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(ferry_server::serve(
            listener,
            state,
            stop_streams,
            async move {
                let _ = stopped.await;
            },
        ));
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("http client");
        TestServer {
            base: format!("http://{addr}"),
            http,
            store,
            metrics_base: Some(format!("http://{metrics_addr}")),
            stop: Some(stop),
            task,
            metrics_task: Some(metrics_task),
            blobs: Some(blobs),
            db_path: path,
            _dir: dir,
        }
    }

    /// A server that runs elsewhere (another process) at `base`, over `store`.
    pub fn remote(base: String, store: DynStore) -> TestServer {
        TestServer {
            base,
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("http client"),
            store,
            metrics_base: None,
            stop: None,
            task: tokio::spawn(async { Ok(()) }),
            metrics_task: None,
            blobs: None,
            db_path: None,
            _dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn get(&self, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.http.get(self.url(path)).bearer_auth(token)
    }

    pub fn post(&self, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.http.post(self.url(path)).bearer_auth(token)
    }

    /// `POST /v1/auth/login`; the raw response.
    pub async fn try_login(&self, username: &str, password: &str) -> reqwest::Response {
        self.http
            .post(self.url("/v1/auth/login"))
            .json(&json!({"username": username, "password": password, "device_name": format!("{username}-laptop")}))
            .send()
            .await
            .expect("login request")
    }

    /// Logs a demo user in; the bearer token.
    pub async fn login(&self, username: &str) -> String {
        let resp = self.try_login(username, PASSWORD).await;
        assert_eq!(resp.status(), 200, "login of {username}");
        let body: Value = resp.json().await.expect("login JSON");
        body["token"].as_str().expect("token").to_string()
    }

    /// Pushes mutations that must be answered 200; the results, each
    /// checked to have exactly the protocol's shape.
    pub async fn push(&self, token: &str, mutations: &[Value]) -> Vec<Value> {
        let resp = self
            .post("/v1/push", token)
            .json(&json!({"mutations": mutations}))
            .send()
            .await
            .expect("push");
        let status = resp.status();
        let body = resp.text().await.expect("push body");
        assert_eq!(status, 200, "push answered {status}: {body}");
        let body: Value = serde_json::from_str(&body).expect("push JSON");
        let results = body["results"].as_array().expect("results array").clone();
        // `written` names the push's own writes in the feed; absent when none.
        if body.get("written").is_some() {
            assert_keys(&body, &["results", "written"]);
            assert_keys(&body["written"], &["after", "cursor"]);
            assert!(
                results
                    .iter()
                    .any(|r| r["status"] == "applied" || r["status"] == "merged"),
                "a push that wrote nothing names no writes: {body}"
            );
        } else {
            assert_keys(&body, &["results"]);
        }
        assert_eq!(results.len(), mutations.len(), "one result per mutation");
        for (m, r) in mutations.iter().zip(&results) {
            assert_result_shape(r);
            assert_eq!(
                r["mutation_id"], m["mutation_id"],
                "results come in request order"
            );
        }
        results
    }

    /// One page of `GET /v1/changes?{query}`, checked for shape.
    pub async fn changes(&self, token: &str, query: &str) -> Value {
        let path = if query.is_empty() {
            "/v1/changes".to_string()
        } else {
            format!("/v1/changes?{query}")
        };
        let resp = self.get(&path, token).send().await.expect("changes");
        let status = resp.status();
        let body = resp.text().await.expect("changes body");
        assert_eq!(status, 200, "changes answered {status}: {body}");
        let page: Value = serde_json::from_str(&body).expect("changes JSON");
        assert_keys(&page, &["changes", "cursor", "has_more"]);
        assert!(
            page["cursor"].is_string() && page["has_more"].is_boolean(),
            "{page}"
        );
        for r in page["changes"].as_array().expect("changes array") {
            assert_record_shape(r);
        }
        page
    }

    /// Every change from the start, page by page; the records and the final cursor.
    pub async fn pull_all(&self, token: &str) -> (Vec<Value>, String) {
        let mut records = Vec::new();
        let mut since = String::new();
        loop {
            let page = self
                .changes(token, &format!("since={since}&limit=1000"))
                .await;
            records.extend(page["changes"].as_array().expect("changes").iter().cloned());
            since = page["cursor"].as_str().expect("cursor").to_string();
            if !page["has_more"].as_bool().expect("has_more") {
                return (records, since);
            }
        }
    }

    /// The cursor a pull from the start ends at.
    pub async fn cursor(&self, token: &str) -> String {
        self.pull_all(token).await.1
    }

    /// Every version, paging `GET /v1/records/{collection}/{id}/history`,
    /// which must answer 200.
    pub async fn history(&self, token: &str, collection: &str, id: Uuid) -> Vec<Value> {
        let mut versions: Vec<Value> = Vec::new();
        loop {
            let after = versions
                .last()
                .map_or(0, |v| v["version"].as_i64().expect("version"));
            let body = self
                .history_page(token, collection, id, &format!("after_version={after}"))
                .await;
            let page = body["versions"].as_array().expect("versions").clone();
            versions.extend(page);
            if body["has_more"] == false {
                return versions;
            }
        }
    }

    /// One page of `GET /v1/records/{collection}/{id}/history?{query}`,
    /// which must answer 200, checked for shape.
    pub async fn history_page(
        &self,
        token: &str,
        collection: &str,
        id: Uuid,
        query: &str,
    ) -> Value {
        let resp = self
            .get(
                &format!("/v1/records/{collection}/{id}/history?{query}"),
                token,
            )
            .send()
            .await
            .expect("history");
        assert_eq!(resp.status(), 200, "history of {collection}/{id}");
        let body: Value = resp.json().await.expect("history JSON");
        assert_keys(&body, &["versions", "has_more"]);
        for v in body["versions"].as_array().expect("versions") {
            assert_record_shape(v);
        }
        body
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
        if let Some(task) = self.metrics_task.take() {
            task.abort();
        }
    }
}

/// The demo schema and users, through the `Store` trait; no records.
pub async fn seed(store: &DynStore) {
    demo::seed_schema_and_users(store, |_| Ok(demo_password_hash().to_string()))
        .await
        .expect("demo schema and users");
}

/// Checks an error response: its status, `Content-Type: application/json`,
/// and a body of exactly `{"error":{"code","message","request_id"}}` with
/// `code`, the request id being the one of the `X-Request-Id` header.
/// Returns the message.
pub async fn assert_error(resp: reqwest::Response, status: u16, code: &str) -> String {
    let got = resp.status();
    let url = resp.url().clone();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let request_id = resp
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = resp.text().await.expect("error body");
    assert_eq!(got.as_u16(), status, "{url} answered {got} with {body}");
    assert!(
        content_type.starts_with("application/json"),
        "{url}: content-type {content_type:?} for an error"
    );
    let value: Value = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("{url}: error body is not JSON ({e}): {body}"));
    assert_keys(&value, &["error"]);
    assert_keys(&value["error"], &["code", "message", "request_id"]);
    assert_eq!(value["error"]["code"], code, "{url}: {body}");
    let request_id = request_id.unwrap_or_else(|| panic!("{url}: no X-Request-Id"));
    assert_eq!(
        value["error"]["request_id"], request_id,
        "{url}: the body's request_id is the X-Request-Id header"
    );
    let message = value["error"]["message"]
        .as_str()
        .expect("message is a string");
    assert!(!message.trim().is_empty(), "{url}: empty error message");
    message.to_string()
}

/// `value` is an object with exactly these keys.
pub fn assert_keys(value: &Value, keys: &[&str]) {
    let obj = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"));
    let mut got: Vec<&str> = obj.keys().map(String::as_str).collect();
    got.sort_unstable();
    let mut want = keys.to_vec();
    want.sort_unstable();
    assert_eq!(got, want, "keys of {value}");
}

pub fn assert_record_shape(r: &Value) {
    let mut keys = vec![
        "collection",
        "id",
        "version",
        "fields",
        "deleted",
        "updated_at",
        "updated_by",
    ];
    // Only on a version a merge wrote.
    if r.get("merged_from").is_some() {
        assert!(r["merged_from"].as_i64().is_some_and(|v| v >= 0), "{r}");
        keys.push("merged_from");
    }
    assert_keys(r, &keys);
    assert!(
        r["collection"].is_string() && r["fields"].is_object() && r["deleted"].is_boolean(),
        "{r}"
    );
    // Version 0: a record the server forgot (DESIGN.md, "Retention"), only as a deletion.
    let least = if r["deleted"] == true { 0 } else { 1 };
    assert!(r["version"].as_i64().is_some_and(|v| v >= least), "{r}");
    assert!(
        r["id"]
            .as_str()
            .is_some_and(|id| Uuid::parse_str(id).is_ok()),
        "{r}"
    );
    assert!(
        r["updated_at"]
            .as_str()
            .is_some_and(|s| s.parse::<Hlc>().is_ok()),
        "{r}"
    );
}

/// A push result: exactly `mutation_id, status, record, conflict, error`,
/// with `conflict` only on conflict and `error` only on rejected.
pub fn assert_result_shape(r: &Value) {
    assert_keys(r, &["mutation_id", "status", "record", "conflict", "error"]);
    let status = r["status"].as_str().expect("status");
    assert!(
        ["applied", "merged", "conflict", "rejected"].contains(&status),
        "{r}"
    );
    assert_eq!(r["conflict"].is_null(), status != "conflict", "{r}");
    assert_eq!(r["error"].is_null(), status != "rejected", "{r}");
    if status == "rejected" {
        assert!(r["record"].is_null(), "{r}");
        assert_keys(&r["error"], &["code", "message"]);
    } else {
        assert_record_shape(&r["record"]);
    }
    if status == "conflict" {
        assert_keys(&r["conflict"], &["kind", "fields"]);
    }
}

// ---------------------------------------------------------------- mutations

/// A client HLC stamp for now.
pub fn hlc() -> String {
    Hlc::new(chrono::Utc::now().timestamp_millis(), 0, "testdev")
        .expect("stamp")
        .to_string()
}

/// A create (`base_version: null`).
pub fn create(collection: &str, id: Uuid, fields: Value) -> Value {
    json!({
        "mutation_id": Uuid::now_v7(),
        "collection": collection,
        "record_id": id,
        "op": "put",
        "base_version": null,
        "base": {},
        "fields": fields,
        "hlc": hlc(),
    })
}

/// An edit of `fields`, whose values at `base_version` were `base`.
pub fn update(collection: &str, id: Uuid, base_version: i64, base: Value, fields: Value) -> Value {
    json!({
        "mutation_id": Uuid::now_v7(),
        "collection": collection,
        "record_id": id,
        "op": "put",
        "base_version": base_version,
        "base": base,
        "fields": fields,
        "hlc": hlc(),
    })
}

pub fn delete(collection: &str, id: Uuid, base_version: i64) -> Value {
    json!({
        "mutation_id": Uuid::now_v7(),
        "collection": collection,
        "record_id": id,
        "op": "delete",
        "base_version": base_version,
        "base": {},
        "fields": {},
        "hlc": hlc(),
    })
}

// ---------------------------------------------------------------- events

type ByteStream = Pin<Box<dyn futures::Stream<Item = reqwest::Result<axum::body::Bytes>> + Send>>;

/// One Server-Sent Events frame (the lines up to a blank line).
#[derive(Debug, Clone, Default)]
pub struct SseFrame {
    pub raw: String,
    pub event: Option<String>,
    pub data: Option<String>,
    pub comments: Vec<String>,
}

/// A reader of `GET /v1/events`.
pub struct EventStream {
    body: ByteStream,
    buf: Vec<u8>,
}

impl EventStream {
    /// Connects with a token that must be accepted. The server subscribes
    /// before it answers, so commits after this returns are seen.
    pub async fn connect(server: &TestServer, token: &str) -> EventStream {
        let resp = server
            .get("/v1/events", token)
            .send()
            .await
            .expect("events request");
        assert_eq!(resp.status(), 200, "events");
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        assert_eq!(content_type, Some("text/event-stream"));
        let body: Pin<Box<_>> = Box::pin(resp.bytes_stream());
        EventStream {
            body,
            buf: Vec::new(),
        }
    }

    /// The next frame, or `None` once the server ends the stream; panics
    /// if nothing arrives by `deadline`.
    pub async fn next_frame(&mut self, deadline: Instant) -> Option<SseFrame> {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.buf.drain(..end + 2).collect();
                return Some(parse_frame(&block[..end]));
            }
            match tokio::time::timeout_at(deadline, self.body.next()).await {
                Err(_) => panic!(
                    "no event before the deadline; unparsed: {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
                Ok(None) => {
                    assert!(
                        self.buf.is_empty(),
                        "stream ended mid-frame: {:?}",
                        String::from_utf8_lossy(&self.buf)
                    );
                    return None;
                }
                Ok(Some(Err(e))) => panic!("event stream failed: {e}"),
                Ok(Some(Ok(bytes))) => self.buf.extend_from_slice(&bytes),
            }
        }
    }

    /// The next `changes` event, skipping comments; `None` if the stream ends.
    pub async fn next_changes(&mut self, deadline: Instant) -> Option<SseFrame> {
        loop {
            let frame = self.next_frame(deadline).await?;
            if frame.event.is_none() && frame.data.is_none() {
                continue;
            }
            assert_eq!(
                frame.event.as_deref(),
                Some("changes"),
                "unexpected event {frame:?}"
            );
            return Some(frame);
        }
    }
}

/// The cursor a `changes` event carries, its data checked to be exactly
/// `{"cursor":"…"}`.
pub fn event_cursor(frame: &SseFrame) -> String {
    let data: Value =
        serde_json::from_str(frame.data.as_deref().expect("data")).expect("event data is JSON");
    assert_keys(&data, &["cursor"]);
    data["cursor"]
        .as_str()
        .expect("cursor is a string")
        .to_string()
}

fn parse_frame(block: &[u8]) -> SseFrame {
    let raw = String::from_utf8(block.to_vec()).expect("events are UTF-8");
    let mut frame = SseFrame {
        raw: raw.clone(),
        ..SseFrame::default()
    };
    for line in raw.lines() {
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value).to_string();
        match name {
            "" => frame.comments.push(value),
            "event" => frame.event = Some(value),
            "data" => match &mut frame.data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(&value);
                }
                None => frame.data = Some(value),
            },
            _ => {}
        }
    }
    frame
}

/// A deadline `PATIENCE` from now.
pub fn deadline() -> Instant {
    Instant::now() + PATIENCE
}

/// The base URL a `ferry-server serve` child prints first on its stdout.
#[allow(dead_code)]
pub fn listening_base(stdout: std::process::ChildStdout) -> String {
    use std::io::BufRead;
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the listening line");
    line.trim()
        .strip_prefix("ferry-server listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string()
}

/// Each named scenario `async fn NAME(server: TestServer)` as two tests:
/// files on disk (`disk::NAME`) and in S3, moto on loopback (`s3::NAME`).
#[allow(unused_macros)]
macro_rules! both_blob_stores {
    ($($name:ident),* $(,)?) => {
        mod disk {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::TestServer::start().await).await
                }
            )*
        }
        mod s3 {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(moto) = ferry_server::blobs::moto::Moto::start().await else {
                        return;
                    };
                    super::$name(super::TestServer::start_s3(&moto).await).await
                }
            )*
        }
    };
}

/// Log output gathered in memory.
#[derive(Clone, Default)]
pub struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Gathers this thread's log lines at `filter` until the guard is dropped
    /// (a `current_thread` test runtime keeps the server's on it too).
    pub fn logs(filter: &str) -> (Captured, tracing::subscriber::DefaultGuard) {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        (captured, tracing::subscriber::set_default(subscriber))
    }

    pub fn text(&self) -> String {
        let bytes = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// `ferry-server --db THE_TEST_DB ARGS` on `server`'s database, with `stdin`.
pub fn server_cli(server: &TestServer, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let db = format!(
        "sqlite://{}",
        server.db_path.as_ref().expect("a local database").display()
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ferry-server"))
        .args(["--db", &db])
        .args(args)
        .env("USER", "operator")
        .env_remove("SUDO_USER")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run ferry-server");
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes()).expect("stdin");
    }
    child.wait_with_output().expect("ferry-server ran")
}
