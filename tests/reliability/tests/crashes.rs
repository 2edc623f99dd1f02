//! Crashes: `ferry sync` killed with SIGKILL at random moments while it
//! pushes and pulls, and the server killed with SIGKILL in the middle of a
//! push. After restarts every edit is on the server exactly once and the
//! local snapshot equals the server (see `Ledger`).
//!
//! `make test` builds the `ferry` and `ferry-server` binaries first.
//! `FERRY_SEED` replays a run; `FERRY_SOAK=1` kills 500 times.

#[path = "../../../crates/core/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Client, LossyProxy, TestServer};
use ferry_core::{KeyringUse, Profile, SyncEngine};
use ferry_reliability::ledger::Ledger;
use ferry_reliability::server_process::{ServerProcess, seed_demo};
use ferry_reliability::{seed, sized, tool};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

fn engine(dir: &Path) -> Arc<SyncEngine> {
    let profile = Profile::open_with(dir, KeyringUse::Off)
        .unwrap_or_else(|e| panic!("open the profile after a crash: {e}"));
    Arc::new(SyncEngine::new(Arc::new(profile)))
}

/// Starts `ferry sync` on the profile; the test kills it or lets it finish.
fn ferry_sync(profile: &Path) -> tokio::process::Child {
    tokio::process::Command::new(tool("ferry"))
        .arg("--profile")
        .arg(profile)
        .arg("sync")
        .env("FERRY_KEYRING", "off")
        .env_remove("FERRY_PROFILE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start ferry sync")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ferry_sync_killed_at_random_moments_loses_and_duplicates_nothing() {
    let kills = sized(20, 500);
    let seed = seed("ferry sync kill -9");
    let context = format!("seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let server = TestServer::start().await;
    // bob writes too, so that every sync also has something to pull.
    let bob = Client::login(&server, "bob").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = dir.path().join("alice");
    // alice's traffic goes through a proxy that can lose the answer to a push.
    let proxy = LossyProxy::start(&server).await;
    engine(&profile)
        .login(&proxy.url, "alice", "demo", "alice-laptop")
        .await
        .expect("login");

    let mut ledger = Ledger::default();
    // How long an uninterrupted `ferry sync` takes here, to aim the kills.
    let mut span = Duration::from_millis(200);
    let (mut killed, mut finished, mut after_commit) = (0, 0, 0);
    for round in 0..=kills {
        {
            let alice = engine(&profile);
            ledger.create(alice.profile().store(), rng.gen_range(20..120));
            ledger.edit(alice.profile().store(), &mut rng, 40);
        }
        for _ in 0..20 {
            bob.store()
                .create("contacts", common::fields(json!({"name": "Someone"})))
                .expect("bob creates");
        }
        // bob also retitles alice's newest tasks: a create or an edit of
        // hers sent again after that must be answered from its first result,
        // not merged again (which would be a conflict).
        bob.sync().await;
        for (i, id) in ledger.newest().into_iter().take(10).enumerate() {
            let title = common::fields(json!({ "title": format!("retitled by bob {round}.{i}") }));
            match bob.store().update("tasks", id, title) {
                Ok(()) | Err(ferry_core::Error::UnknownRecord { .. }) => {}
                Err(e) => panic!("{context}: bob edits {id}: {e}"),
            }
        }
        bob.sync().await;

        let started = Instant::now();
        let mut child = ferry_sync(&profile);
        if round == 0 {
            let out = child.wait_with_output().await.expect("ferry sync ran");
            assert!(
                out.status.success(),
                "{context}: ferry sync: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            span = started.elapsed();
            continue;
        }
        if round % 2 == 0 {
            // At a random moment.
            tokio::time::sleep(span.mul_f64(rng.gen_range(0.0..1.2))).await;
        } else {
            // Right after the server committed a push and answered: the
            // answer is lost on the way, and ferry dies waiting for it.
            let before = proxy.dropped();
            proxy.drop_next_push_response();
            let deadline = Instant::now() + span * 3;
            while proxy.dropped() == before && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            if proxy.dropped() > before {
                after_commit += 1;
            }
        }
        match child.try_wait() {
            Ok(Some(_)) => finished += 1,
            _ => {
                child.start_kill().expect("kill -9 ferry sync");
                killed += 1;
            }
        }
        let _ = child.wait().await;
    }
    // After the last crash: sync until done, as the user would (a lost
    // answer still armed in the proxy fails one more run).
    let mut out = ferry_sync(&profile)
        .wait_with_output()
        .await
        .expect("ferry sync ran");
    if !out.status.success() {
        out = ferry_sync(&profile)
            .wait_with_output()
            .await
            .expect("ferry sync ran");
    }
    assert!(
        out.status.success(),
        "{context}: the sync after the crashes: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alice = engine(&profile);
    ledger.check(&alice, &context).await;
    println!(
        "{}",
        json!({
            "test": "ferry_sync_kill9",
            "seed": seed,
            "kills": killed,
            "finished_before_kill": finished,
            "killed_right_after_a_commit": after_commit,
            "records": ledger.len(),
            "creates": ledger.creates,
            "edits": ledger.edits,
            "lost": 0,
            "duplicated": 0,
        })
    );
    assert!(
        killed >= kills / 2,
        "{context}: only {killed} of {kills} runs were killed mid-way"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_killed_in_the_middle_of_a_push_loses_and_duplicates_nothing() {
    let crashes = sized(4, 100);
    let seed = seed("ferry-server kill -9");
    let context = format!("seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("ferry.db");
    seed_demo(&db);
    let mut server = ServerProcess::start(&db, 0);
    let alice = engine(&dir.path().join("alice"));
    alice
        .login(&server.url, "alice", "demo", "alice-laptop")
        .await
        .expect("login");
    // Small batches: a push is many requests, so a kill lands between and within them.
    let alice = {
        let mut e = SyncEngine::new(alice.profile().clone());
        e.batch_size = 50;
        Arc::new(e)
    };
    alice.sync().await.expect("first sync");

    let mut ledger = Ledger::default();
    let mut span = Duration::from_millis(300);
    let mut interrupted = 0;
    for round in 0..=crashes {
        ledger.create(alice.profile().store(), rng.gen_range(200..400));
        ledger.edit(alice.profile().store(), &mut rng, 100);
        let started = Instant::now();
        if round == 0 {
            alice.sync().await.expect("sync");
            span = started.elapsed();
            continue;
        }
        // Kill when a random part of the outbox has gone out: in the middle
        // of the push, between batches or with one on the wire.
        let outbox = |e: &SyncEngine| e.profile().store().counts().map(|c| c.outbox).unwrap_or(0);
        let target = (outbox(&alice) as f64 * rng.gen_range(0.1..0.9)) as i64;
        let push = tokio::spawn({
            let alice = alice.clone();
            async move { alice.sync().await }
        });
        let deadline = Instant::now() + span * 3;
        while outbox(&alice) > target && !push.is_finished() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        server.kill9();
        let result = push.await.expect("sync task");
        if result.is_err() {
            interrupted += 1;
        }
        server.restart();
        alice
            .sync()
            .await
            .unwrap_or_else(|e| panic!("{context}: sync after the restart: {e}"));
    }
    ledger.check(&alice, &context).await;
    println!(
        "{}",
        json!({
            "test": "server_kill9_mid_push",
            "seed": seed,
            "server_kills": crashes,
            "pushes_interrupted": interrupted,
            "records": ledger.len(),
            "creates": ledger.creates,
            "edits": ledger.edits,
            "lost": 0,
            "duplicated": 0,
        })
    );
    assert!(
        interrupted > 0,
        "{context}: no kill landed in the middle of a sync"
    );
}
