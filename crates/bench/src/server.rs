//! Server suite: push and pull throughput over loopback HTTP, against the
//! raw rate of inserting the same rows into SQLite in one transaction.

use std::time::Instant;

use anyhow::bail;
use ferry_protocol::ChangesResponse;
use serde_json::{Value, json};

use crate::dataset::{Synchronous, rate, ratio, raw_insert};
use crate::harness::{BenchServer, PUSH_BATCH, batches, create_body};

const PULL_PAGE: usize = 5000;

pub fn run(n: usize) -> anyhow::Result<Value> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run_async(n))
}

async fn run_async(n: usize) -> anyhow::Result<Value> {
    let dir = tempfile::tempdir()?;
    let server = BenchServer::start(dir.path()).await?;
    let auth = server.login().await?;

    // Request bodies are built before the clock starts: this measures the server.
    let mut record_bytes = 0usize;
    let mut bodies = Vec::new();
    for range in batches(n) {
        let (body, bytes) = create_body(range)?;
        record_bytes += bytes;
        bodies.push(body);
    }
    let start = Instant::now();
    for body in bodies {
        server.push_body(&auth, body).await?;
    }
    let push_secs = start.elapsed().as_secs_f64();

    let (pulled, pull_secs) = pull_all(&server, &auth, false).await?;
    if pulled != n {
        bail!("pulled {pulled} records, expected {n}");
    }
    let (_, pull_parsed_secs) = pull_all(&server, &auth, true).await?;
    server.stop().await;

    let raw = raw_insert(dir.path(), n, Synchronous::Full)?;
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
        "push_slowdown_vs_raw": ratio(raw, push),
        "targets": {
            "push_at_least_25000_per_s": push >= 25_000.0,
            "push_within_4x_of_raw": raw / push.max(1.0) <= 4.0,
            "pull_at_least_150000_per_s": pull >= 150_000.0,
        }
    }))
}

/// Pages through every change; with `parse`, into the protocol's types as a
/// client would, else only counting bytes (the server's share of the cost).
async fn pull_all(server: &BenchServer, auth: &str, parse: bool) -> anyhow::Result<(usize, f64)> {
    let start = Instant::now();
    let mut pulled = 0usize;
    let mut cursor = String::new();
    loop {
        let body = server
            .http
            .get(format!(
                "{}/v1/changes?since={cursor}&limit={PULL_PAGE}",
                server.base
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
