//! The PostgreSQL store's own tests; the shared suite is `store::conformance`.

use super::testing::TestDb;
use super::*;
use std::sync::Arc;

#[tokio::test]
async fn conformance() {
    if testing::server_url().is_none() {
        return;
    }
    crate::store::conformance::run_all(|| async {
        let db = TestDb::create().await.expect("test database");
        let store = PgStore::open(&db.url, &PgOptions::default()).await?;
        Ok((
            Arc::new(store) as crate::store::DynStore,
            Box::new(db) as Box<dyn std::any::Any + Send>,
        ))
    })
    .await;
}

#[tokio::test]
async fn migrations_are_recorded_and_rerunnable() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    drop(
        PgStore::open(&db.url, &PgOptions::default())
            .await
            .expect("first open"),
    );
    let store = PgStore::open(&db.url, &PgOptions::default())
        .await
        .expect("second open");
    assert_eq!(
        store.schema_version().await.expect("version"),
        MIGRATIONS.len() as i32
    );
    let client = store.pool().get().await.expect("client");
    client
        .execute("UPDATE ferry_schema SET version = 99", &[])
        .await
        .expect("set");
    drop(client);
    drop(store);
    let err = PgStore::open(&db.url, &PgOptions::default())
        .await
        .err()
        .expect("newer schema refused");
    assert!(err.to_string().contains("newer ferry-server"), "{err}");
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_and_names_the_url_without_password() {
    let options = PgOptions {
        pool_size: 2,
        timeout: Duration::from_secs(2),
        wait: Duration::from_secs(2),
    };
    // Port 1 on loopback: nothing listens there.
    let err = PgStore::open("postgres://u:secret@127.0.0.1:1/x", &options)
        .await
        .err()
        .expect("must fail");
    let msg = err.to_string();
    assert!(matches!(err, StoreError::Unavailable(_)), "{msg}");
    assert!(
        msg.contains("127.0.0.1:1") && !msg.contains("secret"),
        "{msg}"
    );
}

/// `/metrics` reads the pool at each scrape: its size, and a held connection in use.
#[tokio::test]
async fn the_metrics_show_the_pool() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let options = PgOptions {
        pool_size: 3,
        ..PgOptions::default()
    };
    let store = Arc::new(PgStore::open(&db.url, &options).await.expect("open"));
    let (state, _stop) = crate::AppState::new(store.clone(), crate::Limits::default())
        .await
        .expect("state");
    let held = store.pool().get().await.expect("a connection");
    let request = axum::http::Request::get("/metrics")
        .body(axum::body::Body::empty())
        .expect("request");
    let response = tower::ServiceExt::oneshot(crate::metrics::metrics_router(state), request)
        .await
        .expect("scrape");
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let text = String::from_utf8_lossy(&body);
    let gauge = |state: &str| -> f64 {
        let prefix = format!("ferry_db_pool_connections{{state=\"{state}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no pool gauge {state}: {text}"))
    };
    assert!((gauge("max") - 3.0).abs() < f64::EPSILON, "{text}");
    assert!(gauge("in_use") >= 1.0, "{text}");
    drop(held);
}

/// A request finding every connection of the pool in use queues for one
/// (many laptops catching up at once) rather than failing as soon as
/// connecting would have timed out; past the wait it is unavailable.
#[tokio::test]
async fn a_request_queues_for_a_busy_pool_then_gives_up() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let options = PgOptions {
        pool_size: 1,
        timeout: Duration::from_millis(300),
        wait: Duration::from_millis(1500),
    };
    let store = Arc::new(PgStore::open(&db.url, &options).await.expect("open"));
    let held = store.pool().get().await.expect("the only connection");
    let queued = tokio::spawn({
        let store = store.clone();
        async move { store.schema_version().await }
    });
    // Longer than connecting may take, shorter than the wait.
    tokio::time::sleep(Duration::from_millis(700)).await;
    drop(held);
    let version = queued.await.expect("task").expect("served once free");
    assert_eq!(version, MIGRATIONS.len() as i32);

    let _held = store.pool().get().await.expect("the only connection");
    let started = std::time::Instant::now();
    let err = store
        .schema_version()
        .await
        .expect_err("no connection within the wait");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    assert!(
        started.elapsed() >= Duration::from_millis(1400),
        "{:?}",
        started.elapsed()
    );
}
