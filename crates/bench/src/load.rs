//! Load suite: many clients against real `ferry-server` processes, in three
//! setups: (a) one process on SQLite, (b) one on PostgreSQL, (c) two on one
//! PostgreSQL database, the bench sending each request to the next process
//! in turn.
//!
//! Every simulated client holds an event stream, pulls when told of a
//! commit (as the desktop app does), and pushes a batch of 10 new records
//! every `--pace` seconds (default 10; starts spread over the first pace).
//! All clients share one collection, so every client pulls every record:
//! with 200 clients the server sends 200 times what it receives. Figures:
//! mutations/s, push latency, event delivery (push sent → the commit known
//! to another client: event received), errors, and the server's memory.
//!
//! `cargo build --release -p ferry-server && cargo run --release -p ferry-bench -- load`
//! PostgreSQL comes from `FERRY_BENCH_PG_URL`, else `FERRY_TEST_PG_URL`, else
//! postgres://postgres@127.0.0.1:5432/test (`make pg` starts one).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use ferry_protocol::{Fields, Hlc, Mutation, Op, PushRequest};
use ferry_server::store::{self, DynStore};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::dataset::{COLLECTION, bench_collection, ms, quantile};

const BATCH: usize = 10;
const PULL_PAGE: usize = 5000;

struct Opts {
    clients: usize,
    secs: u64,
    pace: Duration,
    only: Option<String>,
}

fn opts(args: &[String]) -> Opts {
    let get = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    Opts {
        clients: get("--clients").and_then(|v| v.parse().ok()).unwrap_or(200),
        secs: get("--secs").and_then(|v| v.parse().ok()).unwrap_or(60),
        pace: Duration::from_secs_f64(get("--pace").and_then(|v| v.parse().ok()).unwrap_or(10.0)),
        only: get("--only"),
    }
}

pub fn run(args: &[String]) -> anyhow::Result<Value> {
    let opts = opts(args);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run_async(opts))
}

fn server_binary() -> anyhow::Result<std::path::PathBuf> {
    let exe = std::env::current_exe()?;
    let bin = exe.parent().context("bench location")?.join("ferry-server");
    if !bin.exists() {
        bail!(
            "{} is missing: build it first (cargo build --release -p ferry-server)",
            bin.display()
        );
    }
    Ok(bin)
}

pub(crate) fn pg_server_url() -> String {
    std::env::var("FERRY_BENCH_PG_URL")
        .or_else(|_| std::env::var("FERRY_TEST_PG_URL"))
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

async fn run_async(opts: Opts) -> anyhow::Result<Value> {
    let bin = server_binary()?;
    let mut results = serde_json::Map::new();
    let setups: [(&str, bool, usize); 3] = [
        ("a_sqlite_1_process", false, 1),
        ("b_postgres_1_process", true, 1),
        ("c_postgres_2_processes", true, 2),
    ];
    for (name, pg, processes) in setups {
        if opts.only.as_deref().is_some_and(|o| !name.starts_with(o)) {
            continue;
        }
        eprintln!("load: {name}: {} clients for {} s", opts.clients, opts.secs);
        let dir = tempfile::tempdir()?;
        let test_db;
        let url = if pg {
            test_db = Some(
                ferry_server::store::postgres::testing::TestDb::create_on(&pg_server_url()).await,
            );
            test_db.as_ref().map(|d| d.url.clone()).unwrap_or_default()
        } else {
            test_db = None;
            format!("sqlite://{}", dir.path().join("load.db").display())
        };
        let tokens = seed(&url, opts.clients).await?;
        let servers: Vec<ServerProcess> = (0..processes)
            .map(|_| ServerProcess::start(&bin, &url))
            .collect::<anyhow::Result<_>>()?;
        let figures = drive(&servers, tokens, &opts).await?;
        let rss: Vec<u64> = servers
            .iter()
            .filter_map(|s| s.memory_kb("VmHWM"))
            .collect();
        let mut figures = figures;
        figures["server_peak_rss_mb"] = json!(rss.iter().map(|kb| kb / 1024).collect::<Vec<_>>());
        drop(servers);
        drop(test_db);
        results.insert(name.into(), figures);
    }
    let get = |k: &str, f: &str| results.get(k).and_then(|v| v[f].as_f64());
    let mut targets = serde_json::Map::new();
    let errors: u64 = results
        .values()
        .map(|v| v["errors"].as_u64().unwrap_or(1))
        .sum();
    targets.insert("no_errors".into(), json!(errors == 0));
    if let Some(p99) = get("a_sqlite_1_process", "push_p99_ms") {
        targets.insert("a_push_p99_under_100_ms".into(), json!(p99 < 100.0));
    }
    if let (Some(b), Some(c)) = (
        get("b_postgres_1_process", "mutations_per_s"),
        get("c_postgres_2_processes", "mutations_per_s"),
    ) {
        targets.insert("c_within_20_percent_of_b".into(), json!(c >= 0.8 * b));
    }
    if let (Some(b), Some(c)) = (
        get("b_postgres_1_process", "push_p99_ms"),
        get("c_postgres_2_processes", "push_p99_ms"),
    ) {
        targets.insert(
            "c_push_p99_within_20_percent_of_b".into(),
            json!(c <= 1.2 * b.max(1.0)),
        );
    }
    Ok(json!({
        "suite": "load",
        "date": chrono::Utc::now().format("%Y-%m-%d").to_string(),
        "clients": opts.clients,
        "seconds": opts.secs,
        "push_every_s": opts.pace.as_secs_f64(),
        "mutations_per_push": BATCH,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "results": results,
        "targets": targets,
    }))
}

/// The bench collection, one user with write access, and a session per client.
async fn seed(url: &str, clients: usize) -> anyhow::Result<Vec<String>> {
    let store: DynStore = store::open(url).await?;
    store.put_collections(&[bench_collection()]).await?;
    let user = store.create_user("load", "x").await?;
    store
        .set_grant("load", COLLECTION, Some(ferry_protocol::Access::Write))
        .await?;
    let mut tokens = Vec::with_capacity(clients);
    for i in 0..clients {
        let token = ferry_server::auth::new_token();
        store
            .create_session(
                user,
                &ferry_server::store::NewDevice {
                    name: format!("client{i}"),
                    ..Default::default()
                },
                &ferry_server::auth::token_hash(&token),
            )
            .await?;
        tokens.push(token);
    }
    Ok(tokens)
}

pub(crate) struct ServerProcess {
    child: Child,
    pub(crate) base: String,
}

impl ServerProcess {
    fn start(bin: &std::path::Path, url: &str) -> anyhow::Result<ServerProcess> {
        let mut command = Command::new(bin);
        command.args(["--db", url, "serve", "--listen", "127.0.0.1:0"]);
        ServerProcess::spawn(command)
    }

    /// Runs `command`, a server that prints `ferry-server listening on
    /// URL` first, as `ferry-server serve` does.
    pub(crate) fn spawn(mut command: Command) -> anyhow::Result<ServerProcess> {
        let mut child = command
            .env("FERRY_LOG", "ferry_server=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("start {:?}", command.get_program()))?;
        let stdout = child.stdout.take().context("stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let base = line
            .trim()
            .strip_prefix("ferry-server listening on ")
            .with_context(|| format!("unexpected first line {line:?}"))?
            .to_string();
        Ok(ServerProcess { child, base })
    }

    pub(crate) fn memory_kb(&self, key: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find(|l| l.starts_with(key))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Default)]
struct Shared {
    /// When each push was sent, by the id of its first record.
    sent: Mutex<HashMap<Uuid, Instant>>,
    push: Mutex<Vec<Duration>>,
    delivery: Mutex<Vec<Duration>>,
    mutations: AtomicU64,
    pulls: AtomicU64,
    pulled: AtomicU64,
    events: AtomicU64,
    errors: crate::harness::Errors,
}

/// Round-robin over the processes.
struct Servers {
    bases: Vec<String>,
    next: AtomicU64,
}

impl Servers {
    fn pick(&self) -> &str {
        let i = self.next.fetch_add(1, Ordering::Relaxed) as usize;
        &self.bases[i % self.bases.len()]
    }
}

async fn drive(
    servers: &[ServerProcess],
    tokens: Vec<String>,
    opts: &Opts,
) -> anyhow::Result<Value> {
    let servers = Arc::new(Servers {
        bases: servers.iter().map(|s| s.base.clone()).collect(),
        next: AtomicU64::new(0),
    });
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(1024)
        .timeout(Duration::from_secs(30))
        .build()?;
    let shared = Arc::new(Shared::default());
    let start = Instant::now();
    let end = start + Duration::from_secs(opts.secs);
    let n = tokens.len();
    let mut tasks = Vec::new();
    for (i, token) in tokens.into_iter().enumerate() {
        let offset = opts.pace.mul_f64(i as f64 / n as f64);
        tasks.push(tokio::spawn(client(
            i,
            token,
            http.clone(),
            servers.clone(),
            shared.clone(),
            end,
            offset,
            opts.pace,
        )));
    }
    for t in tasks {
        if let Err(e) = t.await {
            shared.errors.add(format!("client task: {e}"));
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let mut push = shared
        .push
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let mut delivery = shared
        .delivery
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let mutations = shared.mutations.load(Ordering::Relaxed);
    let (errors, first_error) = shared.errors.report();
    Ok(json!({
        "processes": servers.bases.len(),
        "mutations": mutations,
        "mutations_per_s": (mutations as f64 / secs).round(),
        "pushes": push.len(),
        "push_p50_ms": ms(quantile(&mut push, 0.5)),
        "push_p99_ms": ms(quantile(&mut push, 0.99)),
        "event_delivery_p50_ms": ms(quantile(&mut delivery, 0.5)),
        "event_delivery_p99_ms": ms(quantile(&mut delivery, 0.99)),
        "delivery_samples": delivery.len(),
        "events": shared.events.load(Ordering::Relaxed),
        "pulls": shared.pulls.load(Ordering::Relaxed),
        "records_pulled": shared.pulled.load(Ordering::Relaxed),
        "errors": errors,
        "first_error": first_error,
    }))
}

const STATUSES: [&str; 3] = ["todo", "doing", "done"];

/// Small records: the load is in requests and commits, not in bytes.
fn fields(client: usize, n: usize) -> Fields {
    json!({
        "title": format!("Client {client} item {n}"),
        "status": STATUSES[n % 3],
        "priority": n % 5 + 1,
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

#[allow(clippy::too_many_arguments)]
async fn client(
    me: usize,
    token: String,
    http: reqwest::Client,
    servers: Arc<Servers>,
    shared: Arc<Shared>,
    end: Instant,
    offset: Duration,
    pace: Duration,
) {
    let auth = format!("Bearer {token}");
    // The event stream: each event wakes the puller with its arrival time.
    let (wake, mut woken) = tokio::sync::watch::channel::<Option<Instant>>(None);
    let stream = {
        let (http, auth, shared) = (http.clone(), auth.clone(), shared.clone());
        let base = servers.pick().to_string();
        tokio::spawn(async move {
            if let Err(e) = events(&http, &base, &auth, &shared, &wake, end).await {
                shared.errors.add(format!("event stream: {e:#}"));
            }
        })
    };
    // The puller: at the start, then after every event.
    let puller = {
        let (http, auth, shared, servers) =
            (http.clone(), auth.clone(), shared.clone(), servers.clone());
        tokio::spawn(async move {
            let mut cursor = String::new();
            let mut told: Option<Instant> = None;
            loop {
                match pull(&http, servers.pick(), &auth, &mut cursor).await {
                    Ok(ids) => {
                        shared.pulls.fetch_add(1, Ordering::Relaxed);
                        shared.pulled.fetch_add(ids.len() as u64, Ordering::Relaxed);
                        if let Some(at) = told {
                            let sent = shared.sent.lock().unwrap_or_else(|e| e.into_inner());
                            let mut samples: Vec<Duration> = ids
                                .iter()
                                .filter_map(|id| sent.get(id))
                                .filter(|s| **s <= at)
                                .map(|s| at - *s)
                                .collect();
                            drop(sent);
                            shared
                                .delivery
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .append(&mut samples);
                        }
                    }
                    Err(e) => {
                        if Instant::now() < end {
                            shared.errors.add(format!("pull: {e:#}"));
                        }
                    }
                }
                let until = tokio::time::Instant::from_std(end);
                tokio::select! {
                    changed = woken.changed() => {
                        if changed.is_err() { break; }
                        told = *woken.borrow_and_update();
                    }
                    _ = tokio::time::sleep_until(until) => break,
                }
            }
        })
    };
    tokio::time::sleep(offset).await;
    let mut n = 0usize;
    let mut next = Instant::now();
    while next < end {
        let ids: Vec<Uuid> = (0..BATCH).map(|_| Uuid::now_v7()).collect();
        let hlc = Hlc::new(chrono::Utc::now().timestamp_millis(), 0, "load");
        let Some(hlc) = hlc else {
            shared.errors.add("stamp".into());
            break;
        };
        let mutations = ids
            .iter()
            .map(|id| {
                n += 1;
                Mutation {
                    mutation_id: Uuid::now_v7(),
                    collection: COLLECTION.into(),
                    record_id: *id,
                    op: Op::Put,
                    base_version: None,
                    base: Fields::new(),
                    fields: fields(me, n),
                    hlc: hlc.clone(),
                }
            })
            .collect();
        let body = match serde_json::to_vec(&PushRequest { mutations }) {
            Ok(b) => b,
            Err(e) => {
                shared.errors.add(format!("encode: {e}"));
                break;
            }
        };
        let sent = Instant::now();
        shared
            .sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(ids[0], sent);
        match push(&http, servers.pick(), &auth, body).await {
            Ok(()) => {
                shared
                    .push
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(sent.elapsed());
                shared.mutations.fetch_add(BATCH as u64, Ordering::Relaxed);
            }
            Err(e) => shared.errors.add(format!("push: {e:#}")),
        }
        next += pace;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
    }
    let _ = puller.await;
    let _ = stream.await;
}

async fn push(http: &reqwest::Client, base: &str, auth: &str, body: Vec<u8>) -> anyhow::Result<()> {
    let results = crate::harness::push_all_applied(http, base, auth, body).await?;
    if results != BATCH {
        bail!("{results} results for {BATCH} mutations");
    }
    Ok(())
}

/// Pulls every page after `cursor`; returns the ids pulled.
async fn pull(
    http: &reqwest::Client,
    base: &str,
    auth: &str,
    cursor: &mut String,
) -> anyhow::Result<Vec<Uuid>> {
    let mut ids = Vec::new();
    loop {
        let body = http
            .get(format!(
                "{base}/v1/changes?since={cursor}&limit={PULL_PAGE}"
            ))
            .header("authorization", auth)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        #[derive(serde::Deserialize)]
        struct Change {
            id: Uuid,
        }
        #[derive(serde::Deserialize)]
        struct Page {
            changes: Vec<Change>,
            cursor: String,
            has_more: bool,
        }
        let page: Page = serde_json::from_slice(&body)?;
        ids.extend(page.changes.iter().map(|c| c.id));
        *cursor = page.cursor;
        if !page.has_more {
            return Ok(ids);
        }
    }
}

/// Reads the event stream until `end`, waking the puller on each event.
async fn events(
    http: &reqwest::Client,
    base: &str,
    auth: &str,
    shared: &Shared,
    wake: &tokio::sync::watch::Sender<Option<Instant>>,
    end: Instant,
) -> anyhow::Result<()> {
    use futures::StreamExt;
    let resp = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap_or_else(|_| http.clone())
        .get(format!("{base}/v1/events"))
        .header("authorization", auth)
        .send()
        .await?
        .error_for_status()?;
    let mut body = resp.bytes_stream();
    let mut buf: Vec<u8> = Vec::new();
    let until = tokio::time::Instant::from_std(end);
    loop {
        let chunk = tokio::select! {
            c = body.next() => c,
            _ = tokio::time::sleep_until(until) => return Ok(()),
        };
        let Some(chunk) = chunk else {
            bail!("the server ended the stream");
        };
        buf.extend_from_slice(&chunk?);
        while let Some(i) = buf.windows(2).position(|w| w == b"\n\n") {
            let frame: Vec<u8> = buf.drain(..i + 2).collect();
            if frame.starts_with(b"event: changes") {
                shared.events.fetch_add(1, Ordering::Relaxed);
                let _ = wake.send(Some(Instant::now()));
            }
        }
    }
}
