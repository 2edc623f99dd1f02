//! Server suite: push and pull throughput over loopback HTTP, against the
//! raw rate of inserting the same rows into SQLite in one transaction.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use ferry_protocol::{
    ChangesResponse, Field, FieldType, Fields, Hlc, LoginRequest, LoginResponse, Mutation, Op,
    Policy, PushRequest,
};
use ferry_server::schema_file::CollectionDef;
use ferry_server::store::Store;
use ferry_server::store::sqlite::SqliteStore;
use ferry_server::{AppState, Limits};
use serde_json::{Value, json};
use uuid::Uuid;

const PUSH_BATCH: usize = 1000;
const PULL_PAGE: usize = 5000;
const STATUSES: [&str; 3] = ["todo", "doing", "done"];

fn bench_collection() -> CollectionDef {
    let f = |name: &str, t: FieldType| Field {
        name: name.into(),
        label: name.into(),
        field_type: t,
        required: name == "title",
        options: (t == FieldType::Choice)
            .then(|| vec!["todo".into(), "doing".into(), "done".into()]),
    };
    CollectionDef {
        name: "items".into(),
        label: "Items".into(),
        title_field: "title".into(),
        policy: Policy::Manual,
        fields: vec![
            f("title", FieldType::Text),
            f("body", FieldType::Longtext),
            f("status", FieldType::Choice),
            f("priority", FieldType::Number),
            f("due", FieldType::Date),
            f("done", FieldType::Boolean),
            f("tags", FieldType::Tags),
            f("owner", FieldType::Text),
            f("email", FieldType::Text),
            f("updated", FieldType::Datetime),
        ],
    }
}

/// A record of about 1 KB with 10 fields; different for every `i`.
pub fn record_fields(i: usize) -> Fields {
    let words = [
        "harbour", "ledger", "invoice", "crane", "tide", "cargo", "berth", "manifest", "pilot",
        "quay",
    ];
    let w = |k: usize| words[(i * 7 + k * 3) % words.len()];
    let body: String = (0..110).map(w).collect::<Vec<_>>().join(" ");
    let v = json!({
        "title": format!("Item {i}: {} {}", w(1), w(2)),
        "body": &body[..body.len().min(900)],
        "status": STATUSES[i % 3],
        "priority": (i % 5) + 1,
        "due": format!("2027-{:02}-{:02}", i % 12 + 1, i % 28 + 1),
        "done": i.is_multiple_of(2),
        "tags": [w(4), w(5)],
        "owner": format!("owner{}", i % 50),
        "email": format!("owner{}@example.com", i % 50),
        "updated": format!("2026-11-{:02}T{:02}:30:00Z", i % 28 + 1, i % 24),
    });
    match v {
        Value::Object(m) => m,
        _ => Fields::new(),
    }
}

fn rate(n: usize, secs: f64) -> f64 {
    (n as f64 / secs.max(1e-9)).round()
}

/// Inserts the rows the server would store for `n` creates, in one
/// transaction, with the server's pragmas: the fastest SQLite can take them.
fn raw_insert(dir: &std::path::Path, n: usize) -> anyhow::Result<f64> {
    let conn = rusqlite::Connection::open(dir.join("raw.db"))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(
        "CREATE TABLE records (collection TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL,
           fields TEXT NOT NULL, deleted INTEGER NOT NULL, updated_at TEXT NOT NULL, updated_by TEXT NOT NULL,
           hlc TEXT NOT NULL, seq INTEGER NOT NULL);
         CREATE UNIQUE INDEX records_by_id ON records(collection, id)",
    )?;
    let rows: Vec<(String, String)> = (0..n)
        .map(|i| {
            Ok((
                Uuid::now_v7().to_string(),
                serde_json::to_string(&record_fields(i))?,
            ))
        })
        .collect::<anyhow::Result<_>>()?;
    let stamp = "2026-11-26T09:30:00.000Z-0000-srv";
    let start = Instant::now();
    let tx = conn.unchecked_transaction()?;
    {
        let mut stmt = tx.prepare(
            "INSERT INTO records (collection, id, version, fields, deleted, updated_at, updated_by, hlc, seq)
             VALUES ('items', ?1, 1, ?2, 0, ?3, 'bench', ?3, ?4)",
        )?;
        for (seq, (id, fields)) in rows.iter().enumerate() {
            stmt.execute(rusqlite::params![id, fields, stamp, seq as i64 + 1])?;
        }
    }
    tx.commit()?;
    Ok(rate(n, start.elapsed().as_secs_f64()))
}

pub fn run(n: usize) -> anyhow::Result<Value> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run_async(n))
}

async fn run_async(n: usize) -> anyhow::Result<Value> {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(SqliteStore::open(
        &dir.path().join("server.db").to_string_lossy(),
    )?);
    store.put_collections(&[bench_collection()]).await?;
    let hash = ferry_server::auth::hash_password("bench").map_err(anyhow::Error::msg)?;
    store.create_user("bench", &hash).await?;
    store
        .set_grant("bench", "items", Some(ferry_protocol::Access::Write))
        .await?;
    let (state, stop) = AppState::new(store, Limits::default()).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(ferry_server::serve(listener, state, stop, async {
        let _ = shutdown_rx.await;
    }));

    let http = reqwest::Client::new();
    let login: LoginResponse = http
        .post(format!("{base}/v1/auth/login"))
        .json(&LoginRequest {
            username: "bench".into(),
            password: "bench".into(),
            device_name: "bench".into(),
        })
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let auth = format!("Bearer {}", login.token);

    // Request bodies are built before the clock starts: this measures the server.
    let hlc = Hlc::new(chrono::Utc::now().timestamp_millis(), 0, "bench").context("stamp")?;
    let mut record_bytes = 0usize;
    let bodies: Vec<Vec<u8>> = (0..n)
        .collect::<Vec<_>>()
        .chunks(PUSH_BATCH)
        .map(|chunk| {
            let mutations = chunk
                .iter()
                .map(|&i| {
                    let fields = record_fields(i);
                    record_bytes += serde_json::to_string(&fields).map(|s| s.len()).unwrap_or(0);
                    Mutation {
                        mutation_id: Uuid::now_v7(),
                        collection: "items".into(),
                        record_id: Uuid::now_v7(),
                        op: Op::Put,
                        base_version: None,
                        base: Fields::new(),
                        fields,
                        hlc: hlc.clone(),
                    }
                })
                .collect();
            serde_json::to_vec(&PushRequest { mutations })
        })
        .collect::<Result<_, _>>()?;

    let start = Instant::now();
    for body in bodies {
        let body = http
            .post(format!("{base}/v1/push"))
            .header("authorization", &auth)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        // Only the statuses are read: this measures the server, not the client's parser.
        #[derive(serde::Deserialize)]
        struct Outcome {
            status: ferry_protocol::Status,
        }
        #[derive(serde::Deserialize)]
        struct Results {
            results: Vec<Outcome>,
        }
        let resp: Results = serde_json::from_slice(&body)?;
        if let Some(bad) = resp
            .results
            .iter()
            .find(|r| r.status != ferry_protocol::Status::Applied)
        {
            bail!("push not applied: {:?}", bad.status);
        }
    }
    let push_secs = start.elapsed().as_secs_f64();

    let (pulled, pull_secs) = pull_all(&http, &base, &auth, false).await?;
    if pulled != n {
        bail!("pulled {pulled} records, expected {n}");
    }
    let (_, pull_parsed_secs) = pull_all(&http, &base, &auth, true).await?;
    let _ = shutdown_tx.send(());
    let _ = server.await;

    let raw = raw_insert(dir.path(), n)?;
    let push = rate(n, push_secs);
    let pull = rate(n, pull_secs);
    Ok(json!({
        "suite": "server",
        "date": chrono::Utc::now().format("%Y-%m-%d").to_string(),
        "records": n,
        "avg_record_bytes": record_bytes / n.max(1),
        "push_mutations_per_s": push,
        "push_batch": PUSH_BATCH,
        "pull_records_per_s": pull,
        "pull_page": PULL_PAGE,
        "pull_parsed_into_records_per_s": rate(n, pull_parsed_secs),
        "raw_sqlite_insert_rows_per_s": raw,
        "push_slowdown_vs_raw": ((raw / push.max(1.0)) * 100.0).round() / 100.0,
        "targets": {
            "push_at_least_25000_per_s": push >= 25_000.0,
            "push_within_4x_of_raw": raw / push.max(1.0) <= 4.0,
            "pull_at_least_150000_per_s": pull >= 150_000.0,
        }
    }))
}

/// Pages through every change; with `parse`, into the protocol's types as a
/// client would, else only counting bytes (the server's share of the cost).
async fn pull_all(
    http: &reqwest::Client,
    base: &str,
    auth: &str,
    parse: bool,
) -> anyhow::Result<(usize, f64)> {
    let start = Instant::now();
    let mut pulled = 0usize;
    let mut cursor = String::new();
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
        let has_more;
        if parse {
            let page: ChangesResponse = serde_json::from_slice(&body)?;
            pulled += page.changes.len();
            cursor = page.cursor;
            has_more = page.has_more;
        } else {
            #[derive(serde::Deserialize)]
            struct Page {
                changes: Vec<serde::de::IgnoredAny>,
                cursor: String,
                has_more: bool,
            }
            let page: Page = serde_json::from_slice(&body)?;
            pulled += page.changes.len();
            cursor = page.cursor;
            has_more = page.has_more;
        }
        if !has_more {
            break;
        }
    }
    Ok((pulled, start.elapsed().as_secs_f64()))
}
