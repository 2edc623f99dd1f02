//! Rough client timings against the targets. Ignored by default;
//! run with `cargo test --release -p ferry-core --test perf -- --ignored --nocapture`.
//! (The real figures come from `ferry-bench client`.)

mod common;

use std::time::{Duration, Instant};

use common::{Client, TestServer, fields};
use ferry_core::{Query, SortOrder};
use serde_json::json;

fn p(samples: &mut [Duration], q: f64) -> Duration {
    samples.sort();
    let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
    samples[i]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "timing run; use --release --ignored"]
async fn client_timings() {
    let server = TestServer::start().await;
    let n = 100_000;
    let records = (0..n)
        .map(|i| {
            fields(json!({
                "name": format!("Person {i:06}"),
                "email": format!("p{i}@example.test"),
                "company": format!("Company {}", i % 977),
                "notes": format!("Met at conference {} about widget {}", i % 31, i % 1013),
                "tags": ["a", format!("t{}", i % 7)],
                "vip": i % 10 == 0
            }))
        })
        .collect();
    server.seed("alice", "contacts", records).await;
    let alice = Client::login(&server, "alice").await;

    let api = alice.engine.api().expect("api");
    let t = Instant::now();
    let mut cursor: Option<String> = None;
    let mut pages = Vec::new();
    loop {
        let page = api.changes(cursor.as_deref(), 2000).await.expect("page");
        cursor = Some(page.cursor.clone());
        let more = page.has_more;
        pages.push(page);
        if !more {
            break;
        }
    }
    println!("fetching all pages alone: {:?}", t.elapsed());
    for (label, drop_sql) in [
        ("as is", ""),
        ("without sort indexes", "SELECT 1"),
        (
            "without sort indexes and FTS",
            "DROP TRIGGER records_fts_insert; DROP TRIGGER records_fts_update;",
        ),
    ] {
        let path = alice.dir.path().join(format!("scratch-{}.db", label.len()));
        let scratch = ferry_core::LocalStore::open(&path).expect("scratch");
        scratch
            .replace_schema(&alice.store().collections().expect("schema"))
            .expect("schema");
        if !drop_sql.is_empty() {
            let c = rusqlite::Connection::open(&path).expect("side connection");
            let names: Vec<String> = c
                .prepare(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'sort_%'",
                )
                .expect("prepare")
                .query_map([], |r| r.get(0))
                .expect("query")
                .collect::<Result<_, _>>()
                .expect("names");
            for n in names {
                c.execute_batch(&format!("DROP INDEX {n}"))
                    .expect("drop index");
            }
            c.execute_batch(drop_sql).expect("drop");
        }
        let t = Instant::now();
        for page in &pages {
            scratch
                .apply_page(&page.changes, &page.cursor)
                .expect("apply");
        }
        println!("applying all pages alone, {label}: {:?}", t.elapsed());
        if label.contains("FTS") {
            let c = rusqlite::Connection::open(&path).expect("side connection");
            let t = Instant::now();
            for f in ["name", "email", "phone", "company", "vip"] {
                c.execute_batch(&format!(
                    "CREATE INDEX sort_contacts__{f} ON records(deleted, json_extract(fields, '$.{f}'), id) WHERE collection = 'contacts'"
                ))
                .expect("index");
            }
            println!("  then building the sort indexes: {:?}", t.elapsed());
            let t = Instant::now();
            c.execute_batch(
                "INSERT INTO records_fts(rowid, body) SELECT rid, (SELECT group_concat(value, ' ') FROM json_tree(records.fields) WHERE type = 'text') FROM records",
            )
            .expect("fts");
            println!("  then building the search index: {:?}", t.elapsed());
        }
    }
    drop(pages);

    let t = Instant::now();
    let report = alice.sync().await;
    println!(
        "initial pull of {} records: {:?}",
        report.pulled,
        t.elapsed()
    );

    let mut noop = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        alice.sync().await;
        noop.push(t.elapsed());
    }
    println!("no-op sync median: {:?}", p(&mut noop, 0.5));

    let store = alice.store();
    let mut page = Vec::new();
    for i in 0..200 {
        let mut q = Query::new("contacts");
        q.sort = Some(if i % 2 == 0 {
            "company".into()
        } else {
            "email".into()
        });
        q.order = if i % 3 == 0 {
            SortOrder::Descending
        } else {
            SortOrder::Ascending
        };
        q.limit = 100;
        q.offset = (i * 37) % 1000;
        let t = Instant::now();
        let got = store.query(&q).expect("page");
        page.push(t.elapsed());
        assert_eq!(got.records.len(), 100);
    }
    println!("sorted page of 100 p99: {:?}", p(&mut page, 0.99));

    let mut search = Vec::new();
    for i in 0..200 {
        let mut q = Query::new("contacts");
        q.search = Some(format!("widget {}", i % 1013));
        q.limit = 100;
        let t = Instant::now();
        store.query(&q).expect("search");
        search.push(t.elapsed());
    }
    println!("search p99: {:?}", p(&mut search, 0.99));

    let ids: Vec<_> = store
        .query(&{
            let mut q = Query::new("contacts");
            q.limit = 1000;
            q
        })
        .expect("ids")
        .records
        .into_iter()
        .map(|r| r.id)
        .collect();
    let mut edits = Vec::new();
    for (i, id) in ids.iter().cycle().take(10_000).enumerate() {
        let t = Instant::now();
        store
            .update(
                "contacts",
                *id,
                fields(json!({"company": format!("Edited {i}")})),
            )
            .expect("edit");
        edits.push(t.elapsed());
    }
    println!(
        "local edit p50 {:?} p99: {:?}",
        p(&mut edits, 0.5),
        p(&mut edits, 0.99)
    );
    alice.sync().await;
    // 10,000 edits of distinct records, pushed in one sync; then the same, step by step.
    let mut q = Query::new("contacts");
    q.limit = 1000;
    let mut ids = Vec::new();
    for page in 0..10 {
        q.offset = page * 1000;
        ids.extend(
            store
                .query(&q)
                .expect("ids")
                .records
                .into_iter()
                .map(|r| r.id),
        );
    }
    for id in &ids {
        store
            .update("contacts", *id, fields(json!({"phone": "+1 555 0100"})))
            .expect("edit");
    }
    let t = Instant::now();
    let report = alice.sync().await;
    println!(
        "push of {} edits in one sync: {:?}",
        report.pushed.total(),
        t.elapsed()
    );
    for id in &ids {
        store
            .update("contacts", *id, fields(json!({"phone": "+1 555 0199"})))
            .expect("edit");
    }
    let api = alice.engine.api().expect("api");
    let (mut take, mut send, mut ack) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    loop {
        let t = Instant::now();
        let batch = store.take_batch(1000).expect("batch");
        take += t.elapsed();
        if batch.is_empty() {
            break;
        }
        let mutations: Vec<_> = batch.iter().map(|e| e.mutation.clone()).collect();
        let t = Instant::now();
        let response = api.push(&mutations).await.expect("push");
        send += t.elapsed();
        let t = Instant::now();
        store.store_results(&batch, &response.results).expect("ack");
        ack += t.elapsed();
    }
    println!("  take {take:?}, push round trips {send:?}, storing answers {ack:?}");
}
