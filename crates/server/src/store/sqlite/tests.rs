//! The SQLite store's own tests; the shared suite is `store::conformance`.

use super::*;

#[tokio::test]
async fn conformance() {
    crate::store::conformance::run_all(|| async {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Internal(e.to_string()))?;
        let path = dir.path().join("ferry.db");
        let store = SqliteStore::open(&path.to_string_lossy())?;
        Ok((
            Arc::new(store) as crate::store::DynStore,
            Box::new(dir) as Box<dyn std::any::Any + Send>,
        ))
    })
    .await;
}

/// Reads beyond the limit wait for one to end, on no thread of their own,
/// and no more connections are opened than reads may run at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_at_once_are_bounded() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ferry.db");
    let store = Arc::new(SqliteStore::open_with_readers(&path.to_string_lossy(), 3).expect("open"));
    let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let reads = (0..24).map(|_| {
        let (store, now, most) = (store.clone(), now.clone(), most.clone());
        tokio::spawn(async move {
            store
                .read(move |c| {
                    let at_once = now.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(at_once, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    let one: i64 = c.query_row("SELECT 1", [], |r| r.get(0)).map_err(db_err)?;
                    now.fetch_sub(1, Ordering::SeqCst);
                    Ok(one)
                })
                .await
        })
    });
    for read in futures::future::join_all(reads).await {
        assert_eq!(read.expect("task").expect("read"), 1);
    }
    assert_eq!(most.load(Ordering::SeqCst), 3);
    assert!(lock(&store.inner.readers).len() <= 3);
}

/// Prints how the database grows with 200 one-field edits of a record
/// holding a 250 KB field (`cargo test -p ferry-server measure_history
/// -- --ignored --nocapture`).
#[tokio::test]
#[ignore]
async fn measure_history_growth() {
    use crate::store::conformance::testing;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("m.db");
    let store: crate::store::DynStore =
        Arc::new(SqliteStore::open(&path.to_string_lossy()).expect("open"));
    let ctx = testing::setup(&store).await;
    let id = Uuid::now_v7();
    let size = |p: &std::path::Path| {
        let wal = p.with_extension("db-wal");
        std::fs::metadata(p).map_or(0, |m| m.len()) + std::fs::metadata(wal).map_or(0, |m| m.len())
    };
    let create = testing::put(
        "a",
        id,
        None,
        serde_json::json!({"title": "t", "note": "n".repeat(250_000)}),
    );
    store.push(ctx.clone(), vec![create]).await.expect("create");
    let before = size(&path);
    let start = std::time::Instant::now();
    for v in 1..=200i64 {
        let m = testing::put("a", id, Some(v), serde_json::json!({"n": v}));
        store.push(ctx.clone(), vec![m]).await.expect("edit");
    }
    let took = start.elapsed();
    let stored = store.history_stored_bytes("a", id).await.expect("bytes");
    println!(
        "200 edits: database grew {} bytes, history fields hold {stored} bytes, {took:?}",
        size(&path).saturating_sub(before)
    );
}

#[test]
fn refuses_a_file_that_is_not_a_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("junk.db");
    std::fs::write(&path, vec![b'x'; 8192]).expect("write");
    let err = SqliteStore::open(&path.to_string_lossy())
        .err()
        .expect("must fail");
    let msg = err.to_string();
    assert!(
        msg.contains("junk.db") && msg.contains("cannot open"),
        "{msg}"
    );
}

#[test]
fn migrations_are_recorded_and_rerunnable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("m.db");
    let path = path.to_string_lossy().to_string();
    drop(SqliteStore::open(&path).expect("first open"));
    drop(SqliteStore::open(&path).expect("second open"));
    let conn = Connection::open(&path).expect("open");
    let v: usize = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("version");
    assert_eq!(v, MIGRATIONS.len());
    conn.pragma_update(None, "user_version", 99).expect("set");
    drop(conn);
    let err = SqliteStore::open(&path)
        .err()
        .expect("newer schema refused");
    assert!(err.to_string().contains("newer ferry-server"), "{err}");
}

#[cfg(unix)]
#[tokio::test]
async fn database_files_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("private.db");
    let store = SqliteStore::open(&path.to_string_lossy()).expect("open");
    // A write makes SQLite create the -wal and -shm files.
    store.create_user("dana", "hash").await.expect("write");
    for name in ["private.db", "private.db-wal", "private.db-shm"] {
        let meta = std::fs::metadata(dir.path().join(name)).expect(name);
        let mode = meta.permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name} has mode {mode:o}");
    }
}

/// Fails if commits leave their pages in the WAL until one of them crosses
/// SQLite's threshold: the checkpoint thread copies them soon after a commit.
#[tokio::test]
async fn commits_are_checkpointed_in_the_background() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("c.db");
    let store = SqliteStore::open(&path.to_string_lossy()).expect("open");
    // The schema sits in the WAL: the file holds at most its first page.
    let before = std::fs::metadata(&path).expect("db").len();
    assert!(before <= 4096, "{before}");
    store.create_user("erin", "hash").await.expect("write");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::fs::metadata(&path).expect("db").len() <= before {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing was checkpointed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// An in-memory database shares one cache between its connections, where a
/// write to a table another connection is reading fails at once instead of
/// waiting as a file database does; the store must wait rather than answer
/// 503 (tests and `--db :memory:` run this way).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_memory_database_waits_for_readers_instead_of_failing() {
    let store = Arc::new(SqliteStore::open(":memory:").expect("open"));
    let user = store.create_user("alice", "hash").await.expect("user");
    let token: TokenHash = [7; 32];
    let device = crate::store::NewDevice {
        name: "laptop".into(),
        platform: "linux".into(),
        app_version: "test".into(),
        ip: None,
    };
    store
        .create_session(user, &device, &token)
        .await
        .expect("session");
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..200 {
                if i % 2 == 0 {
                    store
                        .touch_session(&token, Some("127.0.0.1".into()))
                        .await?;
                } else {
                    store.devices(None).await?;
                    store.session(&token).await?;
                }
            }
            Ok::<_, StoreError>(())
        }));
    }
    for t in tasks {
        t.await.expect("task").expect("no store call fails");
    }
}
