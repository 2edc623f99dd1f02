//! The background connectivity task against a real server.

mod common;

use std::time::Duration;

use common::{Client, TestServer, fields};
use ferry_core::{ConnState, Connectivity, ConnectivityOptions};
use serde_json::json;
use tokio::sync::watch;

fn quick() -> ConnectivityOptions {
    ConnectivityOptions {
        min_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(400),
        debounce: Duration::from_millis(50),
        interval: Duration::from_secs(300),
        ..ConnectivityOptions::default()
    }
}

async fn wait_for(
    state: &mut watch::Receiver<ConnState>,
    what: &str,
    f: impl Fn(&ConnState) -> bool,
) {
    let waited = tokio::time::timeout(Duration::from_secs(10), state.wait_for(|s| f(s)))
        .await
        .map(|r| r.is_ok());
    assert!(
        waited == Ok(true),
        "timed out waiting for {what}; state {:?}",
        *state.borrow()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bob_sees_alice_edit_without_asking_and_alice_edits_go_out_by_themselves() {
    let server = TestServer::start().await;
    let alice = Client::login(&server, "alice").await;
    let bob = Client::login(&server, "bob").await;
    let conn = Connectivity::spawn(bob.engine.clone(), quick());
    let mut state = conn.watch();
    wait_for(&mut state, "online", |s| *s == ConnState::Online).await;

    // A server event makes bob pull.
    let id = alice
        .store()
        .create("tasks", fields(json!({"title": "Pushed by alice"})))
        .expect("create");
    alice.sync().await;
    common::eventually("bob to pull alice's task", || {
        bob.store().record("tasks", id).is_ok()
    })
    .await;

    // A local edit makes bob push (debounced).
    bob.store()
        .update("tasks", id, fields(json!({"status": "done"})))
        .expect("edit");
    conn.local_edit();
    common::eventually("bob's outbox to empty", || {
        bob.store().counts().map(|c| c.outbox == 0).unwrap_or(false)
    })
    .await;
    assert_eq!(
        server
            .record("tasks", id)
            .await
            .expect("server")
            .fields
            .get("status"),
        Some(&json!("done"))
    );

    // Work offline holds everything.
    conn.set_work_offline(true);
    wait_for(&mut state, "offline by choice", |s| {
        matches!(
            s,
            ConnState::Offline {
                by_choice: true,
                ..
            }
        )
    })
    .await;
    bob.store()
        .update("tasks", id, fields(json!({"status": "doing"})))
        .expect("edit");
    conn.local_edit();
    conn.sync_now();
    conn.set_work_offline(false);
    wait_for(&mut state, "online again", |s| *s == ConnState::Online).await;
    common::eventually("the held edit to go out", || {
        bob.store().counts().map(|c| c.outbox == 0).unwrap_or(false)
    })
    .await;
    conn.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_goes_away_is_reported_offline() {
    let server = TestServer::start().await;
    let alice = Client::login(&server, "alice").await;
    let conn = Connectivity::spawn(alice.engine.clone(), quick());
    let mut state = conn.watch();
    wait_for(&mut state, "online", |s| *s == ConnState::Online).await;
    drop(server);
    wait_for(&mut state, "offline", |s| {
        matches!(
            s,
            ConnState::Offline {
                by_choice: false,
                ..
            }
        )
    })
    .await;
    conn.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_signed_out_elsewhere_says_so_in_the_apps_words() {
    let server = TestServer::start().await;
    let alice = Client::login(&server, "alice").await;
    let conn = Connectivity::spawn(alice.engine.clone(), quick());
    let mut state = conn.watch();
    wait_for(&mut state, "online", |s| *s == ConnState::Online).await;
    server.revoke_device("alice-test", false).await;
    alice
        .store()
        .create("tasks", fields(json!({"title": "After the sign-out"})))
        .expect("create");
    conn.local_edit();
    wait_for(&mut state, "the sign-in refused, said for the window", |s| {
        matches!(s, ConnState::Error { message }
            if message.starts_with("This device was signed out") && !message.contains("ferry login"))
    })
    .await;
    assert_eq!(alice.store().counts().expect("counts").outbox, 1);
}

/// Told to wipe, the background sync deletes the profile's key and data and
/// says so with `Event::Wiped` (the app then starts over).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_told_to_wipe_deletes_its_data_and_says_how_much_was_unsent() {
    let server = TestServer::start().await;
    let alice = Client::login(&server, "alice").await;
    let mut events = alice.engine.subscribe();
    let conn = Connectivity::spawn(alice.engine.clone(), quick());
    let mut state = conn.watch();
    wait_for(&mut state, "online", |s| *s == ConnState::Online).await;
    server.revoke_device("alice-test", true).await;
    for title in ["Unsent one", "Unsent two"] {
        alice
            .store()
            .create("tasks", fields(json!({"title": title})))
            .expect("create");
    }
    conn.local_edit();
    let unsent = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.recv().await {
                Ok(ferry_core::Event::Wiped { unsent }) => return unsent,
                Ok(_) => {}
                Err(e) => panic!("events ended: {e}"),
            }
        }
    })
    .await
    .expect("wiped within 10 s");
    assert_eq!(unsent, 2);
    let dir = alice.dir.path().join("profile");
    let left = common::file_names(&dir);
    assert!(
        !left
            .iter()
            .any(|n| n.starts_with("ferry.db") || n == "encryption.json"),
        "left behind: {left:?}"
    );
    conn.shutdown().await;
}
