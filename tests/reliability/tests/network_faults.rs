//! Network faults between a client and the server: latency, connections
//! reset mid-response, truncated bodies, refused connections and black holes,
//! on all traffic or aimed at pushes (after the batch left the outbox). The
//! client's background connectivity task must report the right state, back
//! off while the server cannot be reached, notice a silent connection in
//! seconds, recover by itself when the network heals, and lose or duplicate
//! nothing (see `Ledger`). Each test runs on SQLite and on PostgreSQL.
//!
//! Timeouts are test-sized here (read timeout 2 s, event stream deadline
//! 3 s, keep-alive every 250 ms); the bounds the tests wait for are several
//! times longer, so a busy machine does not fail them.
//!
//! `FERRY_SEED` replays a run; `FERRY_SOAK=1` repeats the faults 25 times.

#[path = "../../../crates/core/tests/common/mod.rs"]
mod common;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use common::{Client, TestServer};
use ferry_core::{ConnState, Connectivity, ConnectivityOptions, HttpOptions, SyncEngine};
use ferry_reliability::fault_proxy::{Fault, FaultProxy};
use ferry_reliability::ledger::Ledger;
use ferry_reliability::{seed, sized};
use ferry_server::Limits;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::json;
use tokio::sync::watch;
use tokio::time::Instant;

fn quick() -> ConnectivityOptions {
    ConnectivityOptions {
        min_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(400),
        debounce: Duration::from_millis(50),
        interval: Duration::from_secs(300),
        event_silence: Duration::from_secs(3),
    }
}

fn quick_http() -> HttpOptions {
    HttpOptions {
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(2),
    }
}

fn quick_keepalive() -> Limits {
    Limits {
        keepalive: Duration::from_millis(250),
        ..Limits::default()
    }
}

async fn sqlite() -> Option<TestServer> {
    Some(TestServer::start_with_limits(quick_keepalive()).await)
}

/// `None` (the test says so and returns) without a PostgreSQL test server.
async fn postgres() -> Option<TestServer> {
    TestServer::start_on_postgres_with_limits(quick_keepalive()).await
}

/// alice, logged in through the proxy, with test-sized timeouts.
async fn alice_via(proxy: &FaultProxy) -> (Client, Arc<SyncEngine>) {
    let alice = Client::login_via(&proxy.url, "alice").await;
    let mut engine = SyncEngine::new(alice.engine.profile().clone());
    engine.http = quick_http();
    (alice, Arc::new(engine))
}

/// Waits (up to `secs`) for the connection state to satisfy `f`.
async fn wait_for(
    state: &mut watch::Receiver<ConnState>,
    secs: u64,
    what: &str,
    f: impl Fn(&ConnState) -> bool,
) {
    let waited = tokio::time::timeout(Duration::from_secs(secs), state.wait_for(|s| f(s)))
        .await
        .map(|r| r.is_ok());
    assert!(
        waited == Ok(true),
        "timed out waiting for {what}; state {:?}",
        *state.borrow()
    );
}

fn offline_not_by_choice(s: &ConnState) -> bool {
    matches!(s, ConnState::Offline { by_choice: false, reason } if !reason.is_empty())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_rides_out_network_faults_and_loses_nothing() {
    ride_out_faults("network faults", sized(1, 25), sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_rides_out_network_faults_on_a_postgresql_server() {
    ride_out_faults("network faults on PostgreSQL", sized(1, 10), postgres).await;
}

async fn ride_out_faults<F: Future<Output = Option<TestServer>>>(
    name: &str,
    rounds: usize,
    start: impl FnOnce() -> F,
) {
    let seed = seed(name);
    let context = format!("{name}, seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let Some(server) = start().await else {
        return;
    };
    let proxy = FaultProxy::start(&server.url).await;
    let (_alice, engine) = alice_via(&proxy).await;
    let store = engine.profile().store().clone();
    let conn = Connectivity::spawn(engine.clone(), quick());
    let mut state = conn.watch();
    wait_for(&mut state, 10, "online", |s| *s == ConnState::Online).await;

    let mut ledger = Ledger::default();
    let mut max_probes = 0;
    let mut kinds = 0;
    for _ in 0..rounds {
        // Slow but working: edits still go out, and the client stays online.
        proxy.set(Fault::Latency(Duration::from_millis(100)));
        ledger.create(&store, 10);
        ledger.edit(&store, &mut rng, 10);
        conn.local_edit();
        common::eventually("edits to go out through a slow network", || {
            store.counts().map(|c| c.outbox == 0).unwrap_or(false)
        })
        .await;
        wait_for(&mut state, 10, "online with latency", |s| {
            *s == ConnState::Online
        })
        .await;

        // (fault, aimed at pushes only): those hit a push after its batch
        // was taken from the outbox, so the entries are in flight.
        let faults = [
            (Fault::ResetMidResponse, false),
            (Fault::TruncateBody, false),
            (Fault::ResetMidResponse, true),
            (Fault::TruncateBody, true),
            (Fault::BlackHole, true),
            (Fault::Refuse, false),
            (Fault::BlackHole, false),
        ];
        kinds = faults.len() + 1;
        for (fault, on_push) in faults {
            let what = format!("{fault:?}{}", if on_push { " on a push" } else { "" });
            proxy.set(Fault::None);
            wait_for(&mut state, 20, "online before the fault", |s| {
                *s == ConnState::Online
            })
            .await;
            // Edits made online meet the fault on their way out.
            ledger.create(&store, 5);
            ledger.edit(&store, &mut rng, 5);
            let injected = proxy.faults_injected();
            if on_push {
                proxy.set_on_push(fault);
            } else {
                proxy.set(fault);
            }
            conn.sync_now();
            // A busy machine may time out a request before the fault acts;
            // the client then tries again, and meets it.
            common::eventually(&format!("{context}: {what} to act"), || {
                proxy.faults_injected() > injected
            })
            .await;
            // A stalled connection fails after the read timeout (2 s here).
            wait_for(&mut state, 20, &format!("offline under {what}"), |s| {
                offline_not_by_choice(s)
            })
            .await;
            // Edits made while offline wait in the outbox.
            ledger.create(&store, 5);
            ledger.edit(&store, &mut rng, 5);
            conn.local_edit();
            if fault == Fault::Refuse {
                // Backing off: a few probes a second, not a tight loop.
                let before = proxy.connections();
                tokio::time::sleep(Duration::from_secs(2)).await;
                let probes = proxy.connections() - before;
                max_probes = max_probes.max(probes);
                assert!(
                    probes <= 20,
                    "{context}: {probes} connection attempts in 2 s while the server refuses"
                );
                assert!(offline_not_by_choice(&state.borrow()), "{context}");
            }
            // The network heals: the client finds out by itself.
            proxy.set(Fault::None);
            wait_for(&mut state, 20, &format!("online after {what}"), |s| {
                *s == ConnState::Online
            })
            .await;
            common::eventually(&format!("the held edits to go out after {what}"), || {
                store.counts().map(|c| c.outbox == 0).unwrap_or(false)
            })
            .await;
        }
    }
    conn.shutdown().await;
    ledger.check(&engine, &context).await;
    println!(
        "{}",
        json!({
            "test": name,
            "seed": seed,
            "rounds": rounds,
            "fault_kinds": kinds,
            "faults_injected": proxy.faults_injected(),
            "connections": proxy.connections(),
            "most_probes_in_2s_refused": max_probes,
            "creates": ledger.creates,
            "edits": ledger.edits,
            "lost": 0,
            "duplicated": 0,
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_into_a_black_hole_fails_in_seconds_and_arrives_once_later() {
    push_into_a_black_hole(sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_into_a_black_hole_on_a_postgresql_server() {
    push_into_a_black_hole(postgres).await;
}

/// The push leaves the outbox and vanishes (no reset, no answer): within
/// seconds, not at a two-minute timeout, the client says it is offline;
/// when the hole closes, the edit reaches the server exactly once.
async fn push_into_a_black_hole<F: Future<Output = Option<TestServer>>>(start: impl FnOnce() -> F) {
    let Some(server) = start().await else {
        return;
    };
    let proxy = FaultProxy::start(&server.url).await;
    let (_alice, engine) = alice_via(&proxy).await;
    let store = engine.profile().store().clone();
    let conn = Connectivity::spawn(engine.clone(), quick());
    let mut state = conn.watch();
    wait_for(&mut state, 10, "online", |s| *s == ConnState::Online).await;
    let id = store
        .create("tasks", common::fields(json!({"title": "Into the void"})))
        .expect("create");
    conn.sync_now();
    common::eventually("the task to go out", || {
        store.counts().map(|c| c.outbox == 0).unwrap_or(false)
    })
    .await;

    store
        .update("tasks", id, common::fields(json!({"notes": "sent once"})))
        .expect("edit");
    let swallowed = proxy.faults_injected();
    // Open connections are reset: the client reconnects and syncs at once.
    proxy.set_on_push(Fault::BlackHole);
    conn.sync_now();
    common::eventually("the push to go into the black hole", || {
        proxy.faults_injected() > swallowed
    })
    .await;
    let pushed = Instant::now();
    wait_for(
        &mut state,
        20,
        "offline after a push into a black hole",
        offline_not_by_choice,
    )
    .await;
    let noticed = pushed.elapsed();
    let on_server = server.record("tasks", id).await.expect("the task is there");
    assert_eq!(on_server.version, 1, "the edit went through the black hole");

    proxy.set(Fault::None);
    wait_for(&mut state, 20, "online after the black hole", |s| {
        *s == ConnState::Online
    })
    .await;
    common::eventually("the edit to go out after the black hole", || {
        store.counts().map(|c| c.outbox == 0).unwrap_or(false)
    })
    .await;
    conn.shutdown().await;
    let history = server.store.history("tasks", id).await.expect("history");
    let versions: Vec<(i64, Option<&str>)> = history
        .iter()
        .map(|r| (r.version, r.fields.get("notes").and_then(|v| v.as_str())))
        .collect();
    assert_eq!(
        versions,
        vec![(1, None), (2, Some("sent once"))],
        "the edit is on the server exactly once"
    );
    println!(
        "{}",
        json!({
            "test": "push_into_a_black_hole",
            "read_timeout_s": quick_http().read_timeout.as_secs_f64(),
            "offline_after_s": noticed.as_secs_f64(),
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_event_stream_is_noticed_and_the_listener_reconnects() {
    silent_event_stream(sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_event_stream_on_a_postgresql_server() {
    silent_event_stream(postgres).await;
}

/// An idle client whose network dies: no request is running, only the
/// event stream is open. The missing keep-alives tell it within seconds;
/// once the network is back it listens again and hears of others' edits.
async fn silent_event_stream<F: Future<Output = Option<TestServer>>>(start: impl FnOnce() -> F) {
    let Some(server) = start().await else {
        return;
    };
    let proxy = FaultProxy::start(&server.url).await;
    let bob = Client::login(&server, "bob").await;
    let (_alice, engine) = alice_via(&proxy).await;
    let store = engine.profile().store().clone();
    let conn = Connectivity::spawn(engine.clone(), quick());
    let mut state = conn.watch();
    wait_for(&mut state, 10, "online", |s| *s == ConnState::Online).await;

    // Keep-alives hold a quiet stream open: longer than its deadline (3 s)
    // without a new connection.
    let before = proxy.connections();
    tokio::time::sleep(quick().event_silence + Duration::from_secs(1)).await;
    assert_eq!(
        proxy.connections(),
        before,
        "a quiet event stream with keep-alives was reconnected"
    );
    assert_eq!(*state.borrow(), ConnState::Online);

    // The network dies under the open stream: nothing is reset, nothing arrives.
    let silenced = proxy.faults_injected();
    let died = Instant::now();
    proxy.set(Fault::BlackHole);
    wait_for(&mut state, 20, "the silent stream to be noticed", |s| {
        !matches!(s, ConnState::Online | ConnState::Syncing)
    })
    .await;
    let noticed = died.elapsed();
    assert!(
        proxy.faults_injected() > silenced,
        "no open connection fell into the black hole"
    );
    wait_for(&mut state, 20, "offline in the black hole", |s| {
        offline_not_by_choice(s)
    })
    .await;

    proxy.set(Fault::None);
    wait_for(&mut state, 20, "online again", |s| *s == ConnState::Online).await;
    // Only the event stream can tell alice now (her timer is 5 min away).
    let id = bob
        .store()
        .create(
            "tasks",
            common::fields(json!({"title": "Heard through the stream"})),
        )
        .expect("bob creates");
    bob.sync().await;
    common::eventually("alice to hear of bob's task", || {
        store.record("tasks", id).is_ok()
    })
    .await;
    conn.shutdown().await;
    println!(
        "{}",
        json!({
            "test": "silent_event_stream",
            "event_silence_s": quick().event_silence.as_secs_f64(),
            "noticed_after_s": noticed.as_secs_f64(),
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_push_and_pull_through_a_slow_network_still_work() {
    let server = TestServer::start_with_limits(quick_keepalive()).await;
    let proxy = FaultProxy::start(&server.url).await;
    let alice = Client::login_via(&proxy.url, "alice").await;
    let alice = {
        let mut e = SyncEngine::new(alice.engine.profile().clone());
        e.http = quick_http();
        e.push_bytes = 256 * 1024;
        (alice, Arc::new(e))
    };
    let bob = Client::login_via(&proxy.url, "bob").await;
    let bob = {
        let mut e = SyncEngine::new(bob.engine.profile().clone());
        e.http = quick_http();
        (bob, Arc::new(e))
    };
    let tasks = 1000;
    let filler = "x".repeat(1500);
    for i in 0..tasks {
        alice
            .1
            .profile()
            .store()
            .create(
                "tasks",
                common::fields(
                    json!({"title": format!("big {i}"), "notes": format!("{i} {filler}")}),
                ),
            )
            .expect("create");
    }
    // 64 KiB at most every 100 ms each way: about 1.7 MB goes up, and down
    // again, in more time than the read timeout, but never silent for it.
    proxy.set(Fault::Latency(Duration::from_millis(100)));
    let report = alice
        .1
        .sync()
        .await
        .unwrap_or_else(|e| panic!("the slow push: {e}"));
    assert_eq!(report.pushed.applied, tasks, "{report:?}");
    let started = Instant::now();
    bob.1
        .sync()
        .await
        .unwrap_or_else(|e| panic!("the slow pull: {e}"));
    let pulled_in = started.elapsed();
    assert!(
        pulled_in > quick_http().read_timeout,
        "the pull took {pulled_in:?}, not longer than the read timeout: it proves nothing"
    );
    let mut all = ferry_core::Query::new("tasks");
    all.limit = tasks * 2;
    let page = bob.1.profile().store().query(&all).expect("bob's tasks");
    let bigs = page
        .records
        .iter()
        .filter(|r| {
            r.fields
                .get("notes")
                .and_then(|v| v.as_str())
                .is_some_and(|n| n.ends_with(&filler))
        })
        .count();
    assert_eq!(bigs, tasks, "bob has every task alice pushed");
    println!(
        "{}",
        json!({
            "test": "slow_large_push_and_pull",
            "tasks": tasks,
            "pull_s": pulled_in.as_secs_f64(),
            "read_timeout_s": quick_http().read_timeout.as_secs_f64(),
        })
    );
}
