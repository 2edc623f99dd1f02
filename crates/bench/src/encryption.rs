//! What encrypting the profile costs: the initial pull of every record and
//! the local edit, with encryption on and off, in turns in the same run
//! (the best of each compared), and the database's size both ways.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use ferry_core::{KeyringUse, Profile, Query, SyncEngine, Unlock};
use serde_json::{Value, json};

use crate::dataset::{COLLECTION, ms, quantile, ratio, record_fields};
use crate::harness::{BenchServer, PASSWORD, USER, batches, create_body};

const ROUNDS: usize = 3;
const EDITS: usize = 2_000;

pub fn run(n: usize) -> anyhow::Result<Value> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run_async(n))
}

struct Side {
    pulls: Vec<f64>,
    edits: Vec<Duration>,
    bytes: u64,
}

async fn run_async(n: usize) -> anyhow::Result<Value> {
    let dir = tempfile::tempdir()?;
    let server = BenchServer::start(dir.path()).await?;
    let auth = server.login().await?;
    for range in batches(n) {
        let (body, _) = create_body(range)?;
        server.push_body(&auth, body).await?;
    }
    let mut sides = [
        Side {
            pulls: Vec::new(),
            edits: Vec::new(),
            bytes: 0,
        },
        Side {
            pulls: Vec::new(),
            edits: Vec::new(),
            bytes: 0,
        },
    ];
    for round in 0..ROUNDS {
        for (i, encrypted) in [false, true].into_iter().enumerate() {
            let at = dir.path().join(format!("p{round}-{encrypted}"));
            let unlock = Unlock::new(KeyringUse::Off).passphrase("bench passphrase");
            let unlock = if encrypted {
                unlock
            } else {
                unlock.unencrypted()
            };
            let profile = Profile::open_with(&at, &unlock)?;
            if profile.store().encrypted() != encrypted {
                bail!("the profile is not as asked (encrypted: {encrypted})");
            }
            let engine = Arc::new(SyncEngine::new(Arc::new(profile)));
            engine.login(&server.base, USER, PASSWORD, "bench").await?;
            let start = Instant::now();
            let report = engine.sync().await?;
            sides[i].pulls.push(start.elapsed().as_secs_f64());
            if report.pulled != n {
                bail!("pulled {} records, expected {n}", report.pulled);
            }
            if round == 0 {
                let store = engine.profile().store();
                let mut ids = Vec::with_capacity(EDITS);
                store.each(&Query::new(COLLECTION), |r| {
                    if ids.len() < EDITS {
                        ids.push(r.id);
                    }
                    Ok(())
                })?;
                for (k, id) in ids.iter().enumerate() {
                    let changes = record_fields(n + k)
                        .into_iter()
                        .filter(|(f, _)| f == "status" || f == "owner")
                        .collect();
                    let t = Instant::now();
                    store.update(COLLECTION, *id, changes)?;
                    sides[i].edits.push(t.elapsed());
                }
                sides[i].bytes = size_of_db(&at)?;
            }
            drop(engine);
            std::fs::remove_dir_all(&at).context("remove a profile")?;
        }
    }
    server.stop().await;
    let best = |s: &Side| s.pulls.iter().copied().fold(f64::INFINITY, f64::min);
    let [mut off, mut on] = sides;
    let (pull_off, pull_on) = (best(&off), best(&on));
    let (p99_off, p99_on) = (
        ms(quantile(&mut off.edits, 0.99)),
        ms(quantile(&mut on.edits, 0.99)),
    );
    let (p50_off, p50_on) = (
        ms(quantile(&mut off.edits, 0.5)),
        ms(quantile(&mut on.edits, 0.5)),
    );
    let pull_cost = ratio(pull_on, pull_off);
    let edit_cost_ms = ((p99_on - p99_off) * 1000.0).round() / 1000.0;
    Ok(json!({
        "suite": "encryption",
        "date": chrono::Utc::now().format("%Y-%m-%d").to_string(),
        "records": n,
        "initial_pull_seconds": {
            "off": round3(pull_off),
            "on": round3(pull_on),
            "runs_off": off.pulls.iter().map(|s| round3(*s)).collect::<Vec<_>>(),
            "runs_on": on.pulls.iter().map(|s| round3(*s)).collect::<Vec<_>>(),
            "compared": "the best of each; off and on take turns",
        },
        "local_edit_ms": {
            "off": {"p50": p50_off, "p99": p99_off},
            "on": {"p50": p50_on, "p99": p99_on},
            "runs": EDITS,
        },
        "database_mb": {
            "off": mb(off.bytes),
            "on": mb(on.bytes),
            "what": "ferry.db and its -wal after the pull and the edits",
        },
        "ratios": {
            "initial_pull_on_vs_off": pull_cost,
            "local_edit_p99_added_ms": edit_cost_ms,
        },
        "targets": {
            "initial_pull_costs_at_most_20_percent": pull_cost <= 1.2,
            "local_edit_p99_costs_at_most_half_a_ms": edit_cost_ms <= 0.5,
        }
    }))
}

fn round3(s: f64) -> f64 {
    (s * 1000.0).round() / 1000.0
}

fn mb(bytes: u64) -> f64 {
    (bytes as f64 / 1024.0 / 1024.0 * 10.0).round() / 10.0
}

fn size_of_db(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for name in ["ferry.db", "ferry.db-wal"] {
        if let Ok(m) = std::fs::metadata(dir.join(name)) {
            total += m.len();
        }
    }
    Ok(total)
}
