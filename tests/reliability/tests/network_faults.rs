//! Network faults between a client and the server: latency, connections
//! reset mid-response, truncated bodies, refused connections and a black
//! hole. The client's background connectivity task must report the right
//! state, back off while the server cannot be reached, recover by itself
//! when the network heals, and lose or duplicate nothing (see `Ledger`).
//!
//! `FERRY_SEED` replays a run; `FERRY_SOAK=1` repeats the faults 25 times.

#[path = "../../../crates/core/tests/common/mod.rs"]
mod common;

use std::time::Duration;

use common::{Client, TestServer};
use ferry_core::{ConnState, Connectivity, ConnectivityOptions};
use ferry_reliability::fault_proxy::{Fault, FaultProxy};
use ferry_reliability::ledger::Ledger;
use ferry_reliability::{seed, sized};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::json;
use tokio::sync::watch;

fn quick() -> ConnectivityOptions {
    ConnectivityOptions {
        min_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(400),
        debounce: Duration::from_millis(50),
        interval: Duration::from_secs(300),
    }
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
    let rounds = sized(1, 25);
    let seed = seed("network faults");
    let context = format!("seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let server = TestServer::start().await;
    let proxy = FaultProxy::start(&server.url).await;
    let alice = Client::login_via(&proxy.url, "alice").await;
    let store = alice.engine.profile().store().clone();
    let conn = Connectivity::spawn(alice.engine.clone(), quick());
    let mut state = conn.watch();
    wait_for(&mut state, 10, "online", |s| *s == ConnState::Online).await;

    let mut ledger = Ledger::default();
    let mut max_probes = 0;
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

        for fault in [
            Fault::ResetMidResponse,
            Fault::TruncateBody,
            Fault::Refuse,
            Fault::BlackHole,
        ] {
            proxy.set(Fault::None);
            wait_for(&mut state, 20, "online before the fault", |s| {
                *s == ConnState::Online
            })
            .await;
            // Edits made online meet the fault on their way out.
            ledger.create(&store, 5);
            ledger.edit(&store, &mut rng, 5);
            proxy.set(fault);
            // A push started into a black hole waits for its timeout (120 s,
            // see RELIABILITY.md); there the health probe finds it out.
            if fault != Fault::BlackHole {
                conn.sync_now();
            }
            // The black hole is noticed when the health probe times out (10 s).
            wait_for(&mut state, 30, &format!("offline under {fault:?}"), |s| {
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
            wait_for(&mut state, 20, &format!("online after {fault:?}"), |s| {
                *s == ConnState::Online
            })
            .await;
            common::eventually("the held edits to go out", || {
                store.counts().map(|c| c.outbox == 0).unwrap_or(false)
            })
            .await;
        }
    }
    conn.shutdown().await;
    ledger.check(&alice.engine, &context).await;
    println!(
        "{}",
        json!({
            "test": "network_faults",
            "seed": seed,
            "rounds": rounds,
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
