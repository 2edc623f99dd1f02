//! Client suite: ferry-core against a real ferry-server in this process on a
//! loopback port, over the same records as the server suite. Each figure is
//! printed with its target, and the initial pull also as a ratio to a raw
//! SQLite insert of the same rows measured in the same run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use ferry_core::store::PullTimings;
use ferry_core::{LocalStore, Profile, Query, SortOrder, SyncEngine};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::dataset::{
    COLLECTION, Synchronous, ms, quantile, rate, ratio, raw_insert, record_fields,
};
use crate::harness::{BenchServer, PASSWORD, USER, batches, create_body};

/// Offline edits pushed in one sync (and timed one by one as local edits).
const EDITS: usize = 10_000;
/// Initial pulls, each into a new profile, taking turns with raw inserts:
/// the best of six of each stands up to the bursts of load this shared
/// machine has.
const PULL_ROUNDS: usize = 6;
/// Runs of each latency figure.
const SAMPLES: usize = 400;
const PAGE: usize = 100;
/// Fields a list can be sorted by (long text and tags are not sortable).
const SORT_FIELDS: [&str; 8] = [
    "title", "status", "priority", "due", "done", "owner", "email", "updated",
];

pub fn run(n: usize) -> anyhow::Result<Value> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run_async(n))
}

async fn run_async(n: usize) -> anyhow::Result<Value> {
    if n < EDITS {
        bail!("the client suite needs at least {EDITS} records");
    }
    let dir = tempfile::tempdir()?;
    let server = BenchServer::start(dir.path()).await?;
    let auth = server.login().await?;
    // Built one request at a time, so the pull below starts from a small process.
    let mut record_bytes = 0usize;
    for range in batches(n) {
        let (body, bytes) = create_body(range)?;
        record_bytes += bytes;
        server.push_body(&auth, body).await?;
    }

    // The initial pull into an empty profile and the raw insert of the same
    // rows take turns, PULL_ROUNDS times: the best of each is compared, so a
    // burst of load from another process on this shared machine skews
    // neither. The first pull also gives the process's peak memory.
    let (mut pulls, mut raws, mut breakdowns) = (Vec::new(), Vec::new(), Vec::new());
    let (mut rss_before, mut peak, mut peak_reset, mut first) = (None, None, false, None);
    let mut other = None;
    for round in 0..PULL_ROUNDS {
        let engine = bench_profile(&dir.path().join(format!("profile{round}")), &server).await?;
        if round == 0 {
            rss_before = memory("VmRSS");
            peak_reset = reset_peak_memory();
        }
        let start = Instant::now();
        let report = engine.sync().await?;
        pulls.push(start.elapsed().as_secs_f64());
        breakdowns.push(engine.profile().store().take_pull_timings());
        if round == 0 {
            peak = memory("VmHWM");
        }
        if report.pulled != n {
            bail!("pulled {} records, expected {n}", report.pulled);
        }
        raws.push(raw_insert(dir.path(), n, Synchronous::Normal)?);
        if first.is_none() {
            first = Some(engine);
        } else if other.is_none() {
            // A second laptop, which pulls the first one's edits below.
            other = Some(engine);
        } else {
            drop(engine);
            std::fs::remove_dir_all(dir.path().join(format!("profile{round}")))?;
        }
    }
    let engine = first.context("no pull")?;
    let store = engine.profile().store().clone();
    let pull_secs = pulls.iter().copied().fold(f64::INFINITY, f64::min);
    let best = pulls
        .iter()
        .position(|s| *s == pull_secs)
        .and_then(|i| breakdowns.get(i).copied())
        .unwrap_or_default();
    let raw = raws.iter().copied().fold(0.0, f64::max);

    let mut noop = Vec::with_capacity(SAMPLES);
    engine.sync().await?;
    for _ in 0..SAMPLES {
        let t = Instant::now();
        let r = engine.sync().await?;
        noop.push(t.elapsed());
        if r.pulled != 0 || r.pushed.total() != 0 {
            bail!("a sync with nothing to do did something: {r:?}");
        }
    }

    let pages = sorted_pages(&store)?;
    let searches = searches(&store)?;

    let ids = record_ids(&store, EDITS)?;
    let mut edits = Vec::with_capacity(EDITS);
    for (i, id) in ids.iter().enumerate() {
        let changes = record_fields(n + i)
            .into_iter()
            .filter(|(k, _)| k == "status" || k == "owner")
            .collect();
        let t = Instant::now();
        store.update(COLLECTION, *id, changes)?;
        edits.push(t.elapsed());
    }
    let start = Instant::now();
    let report = engine.sync().await?;
    let push_secs = start.elapsed().as_secs_f64();
    if report.pushed.applied != EDITS || report.outbox != 0 {
        bail!("the push of {EDITS} edits ended with {report:?}");
    }
    // The daily pull: another profile holding every record pulls the
    // records just edited.
    let other = other.context("no second profile")?;
    other.profile().store().take_pull_timings();
    let start = Instant::now();
    let report = other.sync().await?;
    let daily_secs = start.elapsed().as_secs_f64();
    let daily_breakdown = other.profile().store().take_pull_timings();
    // An edit that set what was already there makes no new version.
    let daily_records = report.pulled;
    if daily_records < EDITS * 9 / 10 {
        bail!("the daily pull brought {daily_records} records, expected about {EDITS}");
    }
    server.stop().await;
    drop(engine);
    drop(other);
    let daily_cost = ratio(daily_secs / daily_records as f64, pull_secs / n as f64);

    let pull = rate(n, pull_secs);
    let push = rate(EDITS, push_secs);
    let (noop_median, noop_p99) = (ms(quantile(&mut noop, 0.5)), ms(quantile(&mut noop, 0.99)));
    let (edit_p50, edit_p99) = (
        ms(quantile(&mut edits, 0.5)),
        ms(quantile(&mut edits, 0.99)),
    );
    let page_p99 = ms(quantile(&mut pages.clone(), 0.99));
    let search_p99 = ms(quantile(&mut searches.clone(), 0.99));
    let peak_mb = peak.map(|kb| (kb as f64 / 1024.0).round());
    Ok(json!({
        "suite": "client",
        "date": chrono::Utc::now().format("%Y-%m-%d").to_string(),
        "records": n,
        "avg_record_bytes": record_bytes / n.max(1),
        "initial_pull": {
            "seconds": (pull_secs * 1000.0).round() / 1000.0,
            "records_per_s": pull,
            "raw_sqlite_insert_rows_per_s": raw,
            "runs": {
                "pull_seconds": pulls.iter().map(|s| (s * 1000.0).round() / 1000.0).collect::<Vec<_>>(),
                "raw_rows_per_s": raws,
                "compared": "the best pull with the best raw insert",
                "slowdown_each_round": pulls
                    .iter()
                    .zip(&raws)
                    .map(|(secs, raw)| ratio(*raw, rate(n, *secs)))
                    .collect::<Vec<_>>(),
            },
            "slowdown_vs_raw": ratio(raw, pull),
            "breakdown": breakdown(pull_secs, &best),
            "peak_rss_mb": peak_mb,
            "rss_before_mb": rss_before.map(|kb| (kb as f64 / 1024.0).round()),
            "peak_rss_measured": if peak_reset {
                "VmHWM of the whole bench process (client and in-process server) during the first pull; reset to the current RSS just before it through /proc/self/clear_refs"
            } else {
                "VmHWM of the whole bench process since it started (client and in-process server): the peak could not be reset, so this bounds the pull's peak from above"
            },
        },
        "push_offline_edits": {
            "edits": EDITS,
            "seconds": (push_secs * 1000.0).round() / 1000.0,
            "mutations_per_s": push,
            "what": "one sync: push in batches of 1000 over HTTP, store every answer, pull the changes back",
        },
        "daily_pull": {
            "records": daily_records,
            "seconds": (daily_secs * 1000.0).round() / 1000.0,
            "cost_per_record_vs_initial_pull": daily_cost,
            "breakdown": breakdown(daily_secs, &daily_breakdown),
            "what": "one sync of a profile holding every record, bringing the records another profile just edited",
        },
        "noop_sync_ms": { "median": noop_median, "p99": noop_p99, "runs": SAMPLES },
        "local_edit_ms": {
            "p50": edit_p50,
            "p99": edit_p99,
            "runs": EDITS,
            "what": "two fields of a synced record: record, search and sort indexes and outbox entry, one committed transaction",
        },
        "sorted_page_ms": {
            "p99": page_p99,
            "median": ms(quantile(&mut pages.clone(), 0.5)),
            "runs": pages.len(),
            "what": "100 records sorted by one of 8 fields, either direction, one of the first 20 pages",
        },
        "search_ms": {
            "p99": search_p99,
            "median": ms(quantile(&mut searches.clone(), 0.5)),
            "runs": searches.len(),
            "what": "a page of 100 matches sorted by title; queries from rare to every record, prefixes of 2 letters and more",
        },
        "ratios": {
            "initial_pull_vs_raw_insert": ratio(raw, pull),
            "push_vs_target": ratio(push, 10_000.0),
            "daily_pull_vs_target": ratio(daily_secs, 0.5),
            "noop_sync_median_vs_target": ratio(noop_median, 5.0),
            "local_edit_p99_vs_target": ratio(edit_p99, 2.0),
            "sorted_page_p99_vs_target": ratio(page_p99, 10.0),
            "search_p99_vs_target": ratio(search_p99, 20.0),
        },
        "targets": {
            "initial_pull_within_3x_of_raw": raw / pull.max(1.0) <= 3.0,
            "initial_pull_peak_rss_at_most_200_mb": peak_mb.is_some_and(|mb| mb <= 200.0),
            "push_at_least_10000_per_s": push >= 10_000.0,
            "daily_pull_of_10000_under_half_a_second": daily_secs < 0.5,
            "daily_pull_at_most_2x_initial_cost_per_record": daily_cost <= 2.0,
            "noop_sync_median_under_5_ms": noop_median < 5.0,
            "local_edit_p99_under_2_ms": edit_p99 < 2.0,
            "sorted_page_p99_under_10_ms": page_p99 < 10.0,
            "search_p99_under_20_ms": search_p99 < 20.0,
        }
    }))
}

/// Where a pull's `secs` went, from the store's timings: writing the
/// pages, the search index, the sort keys, and the rest, receiving (what
/// the writes did not hide of the wait for the server's pages).
fn breakdown(secs: f64, t: &PullTimings) -> Value {
    let s = |d: Duration| (d.as_secs_f64() * 1000.0).round() / 1000.0;
    let stored = t.write + t.search_index + t.sort_index;
    json!({
        "receive_s": s(Duration::from_secs_f64(secs).saturating_sub(stored)),
        "write_s": s(t.write),
        "search_index_s": s(t.search_index),
        "sort_index_s": s(t.sort_index),
        "pages": t.pages,
        "what": "seconds of the pull: receive is the time not spent storing (waiting for the server's pages while none was being written, the schema, the cursor); write stores the pages (commits included); search_index and sort_index keep those indexes (for a first pull, built once at its end)",
    })
}

/// A profile of its own, logged in, that never touches the OS keyring.
async fn bench_profile(
    dir: &std::path::Path,
    server: &BenchServer,
) -> anyhow::Result<Arc<SyncEngine>> {
    let profile = Profile::open_with(dir, &crate::unlock())?;
    let engine = Arc::new(SyncEngine::new(Arc::new(profile)));
    engine
        .login(&server.base, USER, PASSWORD, "bench client")
        .await?;
    Ok(engine)
}

/// A line of `/proc/self/status` in kB (`None` where there is no procfs).
fn memory(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Resets the peak resident set size (VmHWM) to the current one.
fn reset_peak_memory() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn timed(store: &LocalStore, q: &Query, expect_full: bool) -> anyhow::Result<Duration> {
    let t = Instant::now();
    let page = store.query(q)?;
    let took = t.elapsed();
    if expect_full && page.records.len() != q.limit {
        bail!("{q:?} returned {} records", page.records.len());
    }
    Ok(took)
}

fn sorted_pages(store: &LocalStore) -> anyhow::Result<Vec<Duration>> {
    (0..SAMPLES)
        .map(|i| {
            let mut q = Query::new(COLLECTION);
            q.sort = Some(SORT_FIELDS[i % SORT_FIELDS.len()].into());
            q.order = if (i / SORT_FIELDS.len()).is_multiple_of(2) {
                SortOrder::Ascending
            } else {
                SortOrder::Descending
            };
            q.limit = PAGE;
            q.offset = (i * 7 % 20) * PAGE;
            timed(store, &q, true)
        })
        .collect()
}

/// What people type, from a word in every record to one in none.
fn search_text(i: usize) -> String {
    const WORDS: [&str; 6] = ["harbour", "ledger", "manifest", "pilot", "quay", "tide"];
    let w = WORDS[i % WORDS.len()];
    match i % 10 {
        0 => format!("item {}", 1000 + i * 97), // a title: a few records
        1 => format!("owner{}", i % 50),        // one owner: 2% of the records
        2 => w.to_string(),                     // a word in every record
        3 => w[..2].to_string(),                // two letters
        4 => w[..3].to_string(),                // three letters
        5 => format!("owner{} {w}", i % 50),    // an owner and a word
        6 => format!("{} {w}", i * 31 % 10_000), // a number and a word
        7 => "zebra".to_string(),               // nothing
        8 => format!("owner{}@example.com", i % 50), // an address
        _ => format!("{w} {}", &w[..4]),        // two words in every record
    }
}

fn searches(store: &LocalStore) -> anyhow::Result<Vec<Duration>> {
    let out: Vec<Duration> = (0..SAMPLES)
        .map(|i| {
            let mut q = Query::new(COLLECTION);
            q.search = Some(search_text(i));
            q.limit = PAGE;
            timed(store, &q, false)
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(out)
}

/// The ids of the first `count` records by title.
fn record_ids(store: &LocalStore, count: usize) -> anyhow::Result<Vec<Uuid>> {
    let mut ids = Vec::with_capacity(count);
    let mut q = Query::new(COLLECTION);
    q.limit = ferry_core::store::query::MAX_PAGE;
    while ids.len() < count {
        q.offset = ids.len();
        let page = store.query(&q)?;
        if page.records.is_empty() {
            break;
        }
        ids.extend(page.records.into_iter().map(|r| r.id));
    }
    ids.truncate(count);
    if ids.len() < count {
        return Err(anyhow::anyhow!("only {} records to edit", ids.len())).context("edits");
    }
    Ok(ids)
}
