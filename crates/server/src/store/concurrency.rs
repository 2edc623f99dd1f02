//! Stores under concurrency, run against SQLite and PostgreSQL. Two store
//! instances over one database stand for two `ferry-server` processes: each
//! has its own connections (and pool) and its own clock.
//!
//! - No reader ever skips a change: 8 writers and 4 readers paging all the
//!   while; every reader sees every committed change exactly once, in order.
//! - The same mutation sent through both at once is applied once.
//! - Concurrent edits of different fields of one record all survive.
//! - With rows: readers of two zones of four, while writers create and move
//!   records between zones, end holding exactly the records of their zones.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ferry_protocol::{Access, Field, FieldType, Fields, Hlc, Mutation, Op, Policy, Status};
use serde_json::json;
use uuid::Uuid;

use super::postgres::testing::TestDb;
use super::postgres::{PgOptions, PgStore};
use super::sqlite::SqliteStore;
use super::{Cursor, DynStore, PushContext, Session};
use crate::clock::Clock;
use crate::schema_file::CollectionDef;

const FIELDS: usize = 8;

/// Two handles on one fresh database, and what keeps it alive.
type Pair = (DynStore, DynStore, Box<dyn std::any::Any + Send>);

async fn sqlite_pair() -> Option<Pair> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ferry.db").to_string_lossy().to_string();
    let a = SqliteStore::open(&path).expect("open");
    let b = SqliteStore::open(&path).expect("open");
    Some((Arc::new(a), Arc::new(b), Box::new(dir)))
}

async fn pg_pair() -> Option<Pair> {
    let db = TestDb::create().await?;
    let options = PgOptions {
        pool_size: 8,
        ..Default::default()
    };
    let a = PgStore::open(&db.url, &options).await.expect("open");
    let b = PgStore::open(&db.url, &options).await.expect("open");
    Some((Arc::new(a), Arc::new(b), Box::new(db)))
}

fn def() -> CollectionDef {
    CollectionDef {
        partition_by: None,
        fetch_files: None,
        retired: Default::default(),
        history: None,
        name: "c".into(),
        label: "C".into(),
        title_field: "title".into(),
        policy: Policy::Manual,
        fields: std::iter::once(Field {
            name: "title".into(),
            label: "Title".into(),
            field_type: FieldType::Text,
            required: true,
            options: None,
            merge: None,
            multiple: false,
            max_size: None,
            accept: None,
        })
        .chain((0..FIELDS).map(|i| Field {
            name: format!("f{i}"),
            label: format!("F{i}"),
            field_type: FieldType::Number,
            required: false,
            options: None,
            merge: None,
            multiple: false,
            max_size: None,
            accept: None,
        }))
        .collect(),
    }
}

/// The collection, a user who may write it, and one push context per process.
async fn setup(a: &DynStore, b: &DynStore) -> (PushContext, PushContext) {
    a.put_collections(&[def()]).await.expect("collections");
    let user_id = a.create_user("w", "hash").await.expect("user");
    a.set_grant("w", "c", Some(Access::Write))
        .await
        .expect("grant");
    let ctx = |store: &DynStore, node: &str| {
        let store = store.clone();
        let node = node.to_string();
        async move {
            PushContext {
                session: Session {
                    user_id,
                    username: "w".into(),
                    device_id: Uuid::now_v7(),
                },
                view: Arc::new(super::view_of_grants(
                    &store.grants(user_id).await.expect("grants"),
                )),
                clock: Arc::new(Clock::new(
                    &node,
                    None,
                    crate::Limits::default().max_clock_drift,
                )),
            }
        }
    };
    (ctx(a, "srvA").await, ctx(b, "srvB").await)
}

fn obj(v: serde_json::Value) -> Fields {
    v.as_object().cloned().unwrap_or_default()
}

fn put(id: Uuid, base_version: Option<i64>, fields: serde_json::Value) -> Mutation {
    let base = match base_version {
        Some(_) => fields
            .as_object()
            .map(|o| {
                o.keys()
                    .map(|k| (k.clone(), serde_json::Value::Null))
                    .collect()
            })
            .unwrap_or_default(),
        None => Fields::new(),
    };
    Mutation {
        mutation_id: Uuid::now_v7(),
        collection: "c".into(),
        record_id: id,
        op: Op::Put,
        base_version,
        base,
        fields: obj(fields),
        hlc: Hlc::new(chrono::Utc::now().timestamp_millis(), 0, "dev").expect("stamp"),
    }
}

async fn with_pair<F, Fut>(make: impl Future<Output = Option<Pair>>, test: F)
where
    F: FnOnce(DynStore, DynStore) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some((a, b, guard)) = make.await else {
        return;
    };
    test(a.clone(), b.clone()).await;
    drop((a, b));
    drop(guard);
}

/// 8 writers (half through each process) create records in batches of 1 to
/// 4 for `WRITE_FOR`; 4 readers page from the start the whole time, 7
/// changes a page, and on until they reach the last commit. Each writer
/// notes the sequence number of every record it committed; each reader must
/// have seen exactly that list, ordered by sequence number.
async fn no_reader_skips_a_change(a: DynStore, b: DynStore) {
    const WRITE_FOR: Duration = Duration::from_secs(4);
    let (ctx_a, ctx_b) = setup(&a, &b).await;
    let stop = Arc::new(AtomicBool::new(false));

    let mut writers = Vec::new();
    for w in 0..8 {
        let (store, ctx) = if w % 2 == 0 {
            (a.clone(), ctx_a.clone())
        } else {
            (b.clone(), ctx_b.clone())
        };
        writers.push(tokio::spawn(async move {
            let mut committed: Vec<(i64, Uuid)> = Vec::new();
            let start = Instant::now();
            let mut n = 0usize;
            while start.elapsed() < WRITE_FOR {
                let batch = 1 + (n + w) % 4;
                n += 1;
                let ids: Vec<Uuid> = (0..batch).map(|_| Uuid::now_v7()).collect();
                let mutations = ids
                    .iter()
                    .map(|id| put(*id, None, json!({"title": format!("w{w}")})))
                    .collect();
                let out = store.push(ctx.clone(), mutations).await.expect("push");
                assert!(out.results.iter().all(|r| r.status == Status::Applied));
                let last = out.last_write.expect("written").0;
                let first = last - batch as i64 + 1;
                committed.extend(
                    ids.into_iter()
                        .enumerate()
                        .map(|(i, id)| (first + i as i64, id)),
                );
            }
            committed
        }));
    }
    let mut readers = Vec::new();
    for r in 0..4 {
        let store = if r % 2 == 0 { a.clone() } else { b.clone() };
        let stop = stop.clone();
        readers.push(tokio::spawn(async move {
            let mut seen: Vec<Uuid> = Vec::new();
            let mut cursor = Cursor(0);
            let mut pages = 0usize;
            loop {
                // Read after the flag: once set, every commit is visible, so an empty page is the end.
                let done = stop.load(Ordering::SeqCst);
                let page = store
                    .changes(cursor, 7, super::Reader::of_collections(vec!["c".into()]))
                    .await
                    .expect("page");
                pages += 1;
                let next = page.cursor;
                assert!(next >= cursor, "the cursor went back");
                cursor = next;
                seen.extend(page.changes.iter().map(|c| c.id));
                if done && !page.has_more {
                    break;
                }
            }
            (seen, pages)
        }));
    }
    let mut committed = Vec::new();
    for w in writers {
        committed.extend(w.await.expect("writer"));
    }
    stop.store(true, Ordering::SeqCst);
    committed.sort();
    let seqs: Vec<i64> = committed.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        seqs,
        (1..=committed.len() as i64).collect::<Vec<_>>(),
        "sequence numbers are handed out without gaps or repeats"
    );
    let expected: Vec<Uuid> = committed.iter().map(|(_, id)| *id).collect();
    assert!(expected.len() > 100, "only {} writes", expected.len());
    for r in readers {
        let (seen, pages) = r.await.expect("reader");
        assert!(pages > 10, "the reader paged while writes went on");
        assert_eq!(
            seen.len(),
            expected.len(),
            "the reader saw every change once"
        );
        assert!(
            seen == expected,
            "the reader saw the changes in commit order"
        );
    }
    eprintln!(
        "no-skip: {} changes by 8 writers, seen exactly once and in order by 4 readers",
        expected.len()
    );
}

/// The same mutations through both processes at the same moment: one write each.
async fn the_same_mutation_through_two_processes_is_applied_once(a: DynStore, b: DynStore) {
    let (ctx_a, ctx_b) = setup(&a, &b).await;
    for round in 0..20 {
        let id = Uuid::now_v7();
        let create = put(id, None, json!({"title": format!("r{round}")}));
        let edit = put(id, Some(1), json!({"f0": round}));
        let (ra, rb) = tokio::join!(
            a.push(ctx_a.clone(), vec![create.clone(), edit.clone()]),
            b.push(ctx_b.clone(), vec![create.clone(), edit.clone()]),
        );
        let (ra, rb) = (ra.expect("push"), rb.expect("push"));
        assert_eq!(ra.results, rb.results, "both are told the first result");
        assert!(
            ra.last_write.is_none() != rb.last_write.is_none(),
            "exactly one of them wrote"
        );
        let history = a.history("c", id).await.expect("history");
        assert_eq!(history.len(), 2, "created and edited once each");
    }
}

/// Several processes edit different fields of one record from the same
/// base version at once: every edit is kept (merged), none is lost.
async fn concurrent_edits_of_one_record_all_survive(a: DynStore, b: DynStore) {
    let (ctx_a, ctx_b) = setup(&a, &b).await;
    for round in 0..5 {
        let id = Uuid::now_v7();
        a.push(ctx_a.clone(), vec![put(id, None, json!({"title": "t"}))])
            .await
            .expect("create");
        let mut edits = Vec::new();
        for f in 0..FIELDS {
            let (store, ctx) = if f % 2 == 0 {
                (a.clone(), ctx_a.clone())
            } else {
                (b.clone(), ctx_b.clone())
            };
            let m = put(id, Some(1), json!({ format!("f{f}"): round * 100 + f }));
            edits.push(tokio::spawn(async move { store.push(ctx, vec![m]).await }));
        }
        for e in edits {
            let out = e.await.expect("task").expect("push");
            let status = out.results[0].status;
            assert!(
                matches!(status, Status::Applied | Status::Merged),
                "{:?}",
                out.results[0]
            );
        }
        let history = b.history("c", id).await.expect("history");
        assert_eq!(history.len(), 1 + FIELDS, "one version per edit");
        let last = &history[FIELDS].fields;
        for f in 0..FIELDS {
            assert_eq!(
                last[&format!("f{f}")],
                json!(round * 100 + f),
                "edit of f{f} kept"
            );
        }
    }
}

macro_rules! both_stores {
    ($name:ident) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                with_pair(sqlite_pair(), super::$name).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                with_pair(pg_pair(), super::$name).await;
            }
        }
    };
}

/// The same with rows: writers create records in four zones and move their
/// own records between zones; readers who may see two zones page the whole
/// time. Each reader ends holding exactly the records now in its zones, each
/// at its last version: no change and no move out of its view was skipped.
async fn no_reader_of_some_rows_skips_a_change(a: DynStore, b: DynStore) {
    const WRITE_FOR: Duration = Duration::from_secs(4);
    const ZONES: [&str; 4] = ["z0", "z1", "z2", "z3"];
    let (ctx_a, ctx_b) = setup(&a, &b).await;
    let mut zoned = def();
    zoned.fields.push(Field {
        name: "zone".into(),
        label: "Zone".into(),
        field_type: FieldType::Text,
        required: false,
        options: None,
        merge: None,
        multiple: false,
        max_size: None,
        accept: None,
    });
    zoned.partition_by = Some("zone".into());
    a.put_collections(&[zoned]).await.expect("collections");
    let stop = Arc::new(AtomicBool::new(false));

    let mut writers = Vec::new();
    for w in 0..6 {
        let (store, ctx) = if w % 2 == 0 {
            (a.clone(), ctx_a.clone())
        } else {
            (b.clone(), ctx_b.clone())
        };
        writers.push(tokio::spawn(async move {
            // Each writer's own records: id -> (zone, version).
            let mut mine: Vec<(Uuid, usize, i64)> = Vec::new();
            let start = Instant::now();
            let mut n = 0usize;
            while start.elapsed() < WRITE_FOR {
                n += 1;
                let mut mutations = Vec::new();
                if n.is_multiple_of(3) && !mine.is_empty() {
                    let i = (n * 7 + w) % mine.len();
                    let (id, zone, version) = mine[i];
                    let to = (zone + 1 + n % 3) % ZONES.len();
                    mutations.push(put(id, Some(version), json!({"zone": ZONES[to]})));
                    mine[i] = (id, to, version + 1);
                } else {
                    for k in 0..1 + (n + w) % 3 {
                        let id = Uuid::now_v7();
                        let zone = (n + k + w) % ZONES.len();
                        mutations.push(put(
                            id,
                            None,
                            json!({"title": format!("w{w}"), "zone": ZONES[zone]}),
                        ));
                        mine.push((id, zone, 1));
                    }
                }
                let out = store.push(ctx.clone(), mutations).await.expect("push");
                assert!(
                    out.results.iter().all(|r| r.status == Status::Applied),
                    "{:?}",
                    out.results
                );
            }
            mine
        }));
    }
    let reader_view = || {
        let mut view = crate::rules::View::default();
        view.collections.insert(
            "c".into(),
            crate::rules::CollectionView {
                field: Some("zone".into()),
                read: crate::rules::Scope::Values(["z0".to_string(), "z1".to_string()].into()),
                write: None,
            },
        );
        super::Reader {
            user_id: Uuid::nil(),
            view,
            walk: None,
        }
    };
    let mut readers = Vec::new();
    for r in 0..4 {
        let store = if r % 2 == 0 { a.clone() } else { b.clone() };
        let stop = stop.clone();
        let reader = reader_view();
        readers.push(tokio::spawn(async move {
            let mut held: std::collections::HashMap<Uuid, i64> = Default::default();
            let mut cursor = Cursor(0);
            let mut pages = 0usize;
            loop {
                let done = stop.load(Ordering::SeqCst);
                let page = store
                    .changes(cursor, 7, reader.clone())
                    .await
                    .expect("page");
                pages += 1;
                assert!(page.cursor >= cursor, "the cursor went back");
                cursor = page.cursor;
                for c in &page.changes {
                    let before = held.insert(c.id, c.version);
                    assert!(before.is_none_or(|v| v <= c.version), "a version went back");
                }
                for gone in &page.removed {
                    held.remove(&gone.id);
                }
                if done && !page.has_more {
                    break;
                }
            }
            (held, pages)
        }));
    }
    let mut truth: std::collections::HashMap<Uuid, i64> = Default::default();
    let mut moves = 0;
    for w in writers {
        for (id, zone, version) in w.await.expect("writer") {
            moves += version - 1;
            if zone < 2 {
                truth.insert(id, version);
            }
        }
    }
    stop.store(true, Ordering::SeqCst);
    assert!(
        truth.len() > 50 && moves > 20,
        "only {} records, {moves} moves",
        truth.len()
    );
    for r in readers {
        let (held, pages) = r.await.expect("reader");
        assert!(pages > 10, "the reader paged while writes went on");
        assert_eq!(
            held.len(),
            truth.len(),
            "the reader holds exactly the records of its zones"
        );
        assert!(held == truth, "each at its last version");
    }
    eprintln!(
        "no-skip with rows: {} records in view after {moves} moves",
        truth.len()
    );
}

both_stores!(no_reader_skips_a_change);
both_stores!(no_reader_of_some_rows_skips_a_change);
both_stores!(the_same_mutation_through_two_processes_is_applied_once);
both_stores!(concurrent_edits_of_one_record_all_survive);
