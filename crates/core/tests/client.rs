//! The client policy the desktop and the CLI share, through `ferry_core::Client`:
//! signing in, working offline, the status snapshot, and local edits that
//! announce the records they changed.

mod common;

use std::sync::Arc;

use common::{TestServer, fields};
use ferry_core::{Client, ConnectionFailure, Error, Event, Profile};
use serde_json::json;

fn client(dir: &tempfile::TempDir) -> Client {
    let profile =
        Profile::open_with(&dir.path().join("profile"), &common::unlock()).expect("profile");
    Client::new(Arc::new(profile), "client-test")
}

/// Alice signed in to `server`, in a new profile under `dir`.
async fn alice(server: &TestServer, dir: &tempfile::TempDir) -> Client {
    let alice = client(dir);
    alice
        .login(&server.url, "alice", "demo")
        .await
        .expect("login");
    alice
}

#[tokio::test]
async fn signing_in_clears_work_offline() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let alice = client(&dir);
    alice.set_work_offline(true).expect("offline");
    assert!(alice.status().work_offline);

    // A failed sign-in changes nothing.
    let wrong = alice.login(&server.url, "alice", "nope").await;
    assert!(matches!(wrong, Err(Error::BadCredentials)), "{wrong:?}");
    assert!(alice.work_offline().expect("read"));

    let account = alice
        .login(&server.url, "alice", "demo")
        .await
        .expect("login");
    assert_eq!(account.username, "alice");
    assert!(!alice.work_offline().expect("read"));
    let status = alice.status();
    assert!(!status.work_offline);
    assert_eq!(
        status.account.as_ref().map(|a| a.username.as_str()),
        Some("alice")
    );
}

#[tokio::test]
async fn the_status_counts_unsent_edits_and_forgets_the_account_on_sign_out() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let alice = client(&dir);
    let before = alice.status();
    assert_eq!(before.account, None);
    alice
        .login(&server.url, "alice", "demo")
        .await
        .expect("login");
    alice
        .create("tasks", fields(json!({"title": "Call Bob"})))
        .expect("create");
    let status = alice.status();
    assert!(status.seq > before.seq);
    assert_eq!(
        (status.outbox, status.conflicts, status.rejected),
        (1, 0, 0)
    );
    assert_eq!(status.last_sync, None);

    alice.sync().await.expect("sync");
    let synced = alice.status();
    assert_eq!(synced.outbox, 0);
    assert!(synced.last_sync.is_some());

    alice.logout().await.expect("logout");
    assert_eq!(alice.status().account, None);
}

#[tokio::test]
async fn a_local_edit_returns_the_record_and_announces_it() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let alice = alice(&server, &dir).await;
    let mut events = alice.subscribe();

    let created = alice
        .create(
            "tasks",
            fields(json!({"title": "Water plants", "priority": 2})),
        )
        .expect("create");
    assert_eq!(created.fields.get("title"), Some(&json!("Water plants")));
    let Ok(Event::DataChanged { records, truncated }) = events.try_recv() else {
        panic!("no records-changed event after a create");
    };
    assert!(!truncated);
    assert_eq!(records.len(), 1);
    assert_eq!(
        (records[0].collection.as_str(), records[0].id),
        ("tasks", created.id)
    );

    let updated = alice
        .update("tasks", created.id, fields(json!({"priority": 3})))
        .expect("update");
    assert_eq!(updated.fields.get("priority"), Some(&json!(3)));
    assert!(matches!(events.try_recv(), Ok(Event::DataChanged { .. })));
}

#[tokio::test]
async fn an_invalid_value_names_its_field_and_keeps_its_message() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let alice = alice(&server, &dir).await;

    let bad = alice
        .create("tasks", fields(json!({"title": "x", "due": "soon"})))
        .expect_err("a date");
    assert_eq!(bad.field(), Some("due"));
    assert!(bad.to_string().contains("\"due\""), "{bad}");

    let missing = alice
        .create("tasks", fields(json!({"priority": 1})))
        .expect_err("required");
    assert_eq!(missing.field(), Some("title"));

    let id = alice
        .create("tasks", fields(json!({"title": "ok"})))
        .expect("create")
        .id;
    let cleared = alice
        .update("tasks", id, fields(json!({"title": null})))
        .expect_err("required");
    assert_eq!(cleared.field(), Some("title"));
}

/// Why signing in at `url` could not reach a server.
async fn failure_signing_in_at(url: &str) -> Option<ConnectionFailure> {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = client(&dir)
        .login(url, "alice", "demo")
        .await
        .expect_err("no server there");
    e.connection_failure()
}

#[tokio::test]
async fn a_refused_connection_says_so() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let failure = failure_signing_in_at(&format!("http://127.0.0.1:{port}")).await;
    assert_eq!(failure, Some(ConnectionFailure::Refused));
}

#[tokio::test]
async fn a_failed_secure_connection_says_so() {
    // The test server speaks plain HTTP: a TLS handshake with it fails.
    let server = TestServer::start().await;
    let https = server.url.replace("http://", "https://");
    assert_eq!(
        failure_signing_in_at(&https).await,
        Some(ConnectionFailure::Tls)
    );
}
