//! Crashes: `ferry sync` killed with SIGKILL at random moments while it
//! pushes and pulls, and the server killed with SIGKILL in the middle of a
//! push. After restarts every edit is on the server exactly once and the
//! local snapshot equals the server (see `Ledger`). Each test runs on a
//! SQLite and on a PostgreSQL server (fewer kills there).
//!
//! `make test` builds the `ferry` and `ferry-server` binaries first.
//! `FERRY_SEED` replays a run; `FERRY_SOAK=1` kills 500 times.

#[path = "../../../crates/core/tests/common/mod.rs"]
mod common;

use std::future::Future;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Client, LossyProxy, TestServer};
use ferry_core::{Profile, SyncEngine};
use ferry_reliability::ledger::Ledger;
use ferry_reliability::server_process::{ServerProcess, seed_demo, seed_demo_on};
use ferry_reliability::{seed, sized, tool};
use ferry_server::store::postgres::testing::TestDb;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

fn engine(dir: &Path) -> Arc<SyncEngine> {
    let profile = Profile::open_with(dir, &common::unlock())
        .unwrap_or_else(|e| panic!("open the profile after a crash: {e}"));
    Arc::new(SyncEngine::new(Arc::new(profile)))
}

/// `ferry` on `profile` with `args`, off the OS keyring, killed if dropped.
fn ferry(profile: &Path, args: &[&std::ffi::OsStr]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(tool("ferry"));
    command
        .arg("--profile")
        .arg(profile)
        .args(args)
        .env("FERRY_KEYRING", "off")
        .env("FERRY_PASSPHRASE", common::PASSPHRASE)
        .env_remove("FERRY_PROFILE")
        .env_remove("FERRY_ENCRYPTION")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Starts `ferry sync` on the profile; the test kills it or lets it finish.
fn ferry_sync(profile: &Path) -> tokio::process::Child {
    ferry(profile, &["sync".as_ref()])
        .stdout(Stdio::null())
        .spawn()
        .expect("start ferry sync")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ferry_sync_killed_at_random_moments_loses_and_duplicates_nothing() {
    kill_ferry_sync("ferry sync kill -9", sized(20, 500), || async {
        Some(TestServer::start().await)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ferry_sync_killed_with_a_postgresql_server() {
    kill_ferry_sync(
        "ferry sync kill -9 on PostgreSQL",
        sized(8, 200),
        TestServer::start_on_postgres,
    )
    .await;
}

async fn kill_ferry_sync<F: Future<Output = Option<TestServer>>>(
    name: &str,
    kills: usize,
    start: impl FnOnce() -> F,
) {
    let seed = seed(name);
    let context = format!("{name}, seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    // No PostgreSQL configured outside `make test`: the store says so.
    let Some(server) = start().await else {
        return;
    };
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
    let (mut killed, mut finished, mut after_commit, mut retitled) = (0, 0, 0, 0);
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
        // bob also retitles alice's newest tasks on the server: among them
        // those of a push whose answer alice lost (or never stored, killed).
        // Her create, sent again, must get its first answer from the
        // server's memory of mutation ids; merged again instead, it would
        // meet bob's title and be a conflict.
        bob.sync().await;
        let on_server = ledger
            .ids()
            .into_iter()
            .filter(|id| bob.store().record("tasks", *id).is_ok())
            .take(10);
        for (i, id) in on_server.enumerate() {
            let title = common::fields(json!({ "title": format!("retitled by bob {round}.{i}") }));
            bob.store()
                .update("tasks", id, title)
                .unwrap_or_else(|e| panic!("{context}: bob edits {id}: {e}"));
            retitled += 1;
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
            "test": name,
            "seed": seed,
            "kills": killed,
            "finished_before_kill": finished,
            "killed_right_after_a_commit": after_commit,
            "retitled_by_bob": retitled,
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
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("ferry.db");
    seed_demo(&db);
    let server = ServerProcess::start(&db, 0);
    kill_the_server("ferry-server kill -9", sized(4, 100), server, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_killed_mid_push_on_postgresql() {
    // No PostgreSQL configured outside `make test`: the store says so.
    let Some(db) = TestDb::create().await else {
        return;
    };
    seed_demo_on(&db.url);
    let server = ServerProcess::start_on(&db.url, 0);
    let dir = tempfile::tempdir().expect("tempdir");
    kill_the_server(
        "ferry-server kill -9 on PostgreSQL",
        sized(2, 50),
        server,
        dir.path(),
    )
    .await;
}

/// Kills `server` with SIGKILL `crashes` times while a client in `dir` pushes.
async fn kill_the_server(name: &str, crashes: usize, mut server: ServerProcess, dir: &Path) {
    let seed = seed(name);
    let context = format!("{name}, seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let alice = engine(&dir.join("alice"));
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
            "test": name,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_sent_again_after_a_lost_answer_is_answered_from_memory() {
    resent_after_a_lost_answer(|| async { Some(TestServer::start().await) }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_sent_again_after_a_lost_answer_on_postgresql() {
    resent_after_a_lost_answer(TestServer::start_on_postgres).await;
}

/// alice's create is committed but its answer is lost; she edits the task
/// meanwhile, and bob retitles it. Sent again, the create must get its
/// first answer (`applied`, version 1) from the server's memory of mutation
/// ids — merged again it would meet bob's title and conflict — and her
/// edit must go on top of bob's title, which it leaves alone.
async fn resent_after_a_lost_answer<F: Future<Output = Option<TestServer>>>(
    start: impl FnOnce() -> F,
) {
    let Some(server) = start().await else {
        return;
    };
    let proxy = LossyProxy::start(&server).await;
    let alice = Client::login_via(&proxy.url, "alice").await;
    let bob = Client::login(&server, "bob").await;
    let id = alice
        .store()
        .create("tasks", common::fields(json!({"title": "Pack the van"})))
        .expect("alice creates");
    proxy.drop_next_push_response();
    assert!(
        alice.engine.sync().await.is_err(),
        "the push's answer was lost, so the sync fails"
    );
    assert_eq!(proxy.dropped(), 1, "the answer to the push was dropped");
    assert_eq!(
        server.history_len("tasks", id).await,
        1,
        "the create committed"
    );
    alice
        .store()
        .update("tasks", id, common::fields(json!({"notes": "by Friday"})))
        .expect("alice edits while her create is in flight");

    bob.sync().await;
    bob.store()
        .update(
            "tasks",
            id,
            common::fields(json!({"title": "Pack the blue van"})),
        )
        .expect("bob retitles");
    bob.sync().await;

    let report = alice.sync().await;
    assert_eq!(
        (
            report.pushed.applied,
            report.pushed.merged,
            report.pushed.conflicts
        ),
        (1, 1, 0),
        "the create answered from memory (applied), the edit merged: {report:?}"
    );
    let history = server.store.history("tasks", id).await.expect("history");
    let titles: Vec<(i64, Option<&str>, Option<&str>)> = history
        .iter()
        .map(|r| {
            (
                r.version,
                r.fields.get("title").and_then(|v| v.as_str()),
                r.fields.get("notes").and_then(|v| v.as_str()),
            )
        })
        .collect();
    assert_eq!(
        titles,
        vec![
            (1, Some("Pack the van"), None),
            (2, Some("Pack the blue van"), None),
            (3, Some("Pack the blue van"), Some("by Friday")),
        ],
        "each edit once, bob's title kept"
    );
    let local = alice.store().record("tasks", id).expect("alice's task");
    assert_eq!(local.fields, history[2].fields, "alice = server");
}

/// `ferry import` killed with SIGKILL at random moments, then run again
/// until it finishes: every row is imported exactly once (locally and, after
/// a sync, on the server), because each batch and the note of how far the
/// import got are one transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ferry_import_killed_at_random_moments_imports_each_row_once() {
    let name = "ferry import kill -9";
    let seed = seed(name);
    let context = format!("{name}, seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = dir.path().join("alice");
    engine(&profile)
        .login(&server.url, "alice", "demo", "alice-laptop")
        .await
        .expect("login");
    let rows = ferry_core::transfer::IMPORT_BATCH * 6 + 7;
    let file = dir.path().join("people.csv");
    let mut text = String::from("Name,Company,Notes\n");
    for i in 0..rows {
        text.push_str(&format!(
            "Imported {i},\"Acme, Inc.\",\"row {i}\nsecond line\"\n"
        ));
    }
    std::fs::write(&file, text).expect("write the file");
    let import_args = ["import".as_ref(), "contacts".as_ref(), file.as_os_str()];
    let import = || {
        ferry(&profile, &import_args)
            .spawn()
            .expect("start ferry import")
    };
    // How long a whole import takes here, to aim the kills: timed on a
    // second profile of alice's that never syncs.
    let span = {
        let timing = dir.path().join("timing");
        engine(&timing)
            .login(&server.url, "alice", "demo", "alice-desktop")
            .await
            .expect("login");
        let started = Instant::now();
        let out = ferry(&timing, &import_args)
            .output()
            .await
            .expect("ferry import ran");
        assert!(
            out.status.success(),
            "{context}: the timed import: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        started.elapsed()
    };
    let (mut killed, mut runs) = (0, 0);
    let batch_span =
        span / u32::try_from(rows / ferry_core::transfer::IMPORT_BATCH + 1).unwrap_or(1);
    loop {
        runs += 1;
        assert!(runs < 60, "{context}: the import never finished");
        let watcher = engine(&profile);
        let count = || {
            watcher
                .profile()
                .store()
                .count(&ferry_core::Query::new("contacts"))
                .expect("count")
        };
        let before = count();
        let mut child = import();
        // Kills stop a batch short of the end, so that the import is
        // always killed mid-way, a third of what is left at most each time.
        let cap = i64::try_from(rows - ferry_core::transfer::IMPORT_BATCH).unwrap_or(i64::MAX);
        if killed < sized(6, 60) && before + 1 < cap {
            // Aimed by progress rather than by time, which a busy machine
            // stretches: once the rows reach a point, and a moment into the
            // next batch, the import dies.
            let target = before + rng.gen_range(1..=((cap - before) / 3).max(1));
            while count() < target && matches!(child.try_wait(), Ok(None)) {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            tokio::time::sleep(batch_span.mul_f64(rng.gen_range(0.0..0.5))).await;
            if matches!(child.try_wait(), Ok(None)) {
                child.start_kill().expect("kill -9 ferry import");
                let _ = child.wait().await;
                killed += 1;
                continue;
            }
        }
        let out = child.wait_with_output().await.expect("ferry import ran");
        let said = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        // A run killed just after its last commit has done the whole import.
        assert!(
            out.status.success() || said.contains("nothing is left to import"),
            "{context}: ferry import: {said}"
        );
        break;
    }
    let alice = engine(&profile);
    let store = alice.profile().store();
    let names = |store: &ferry_core::LocalStore| {
        let mut seen = std::collections::HashMap::new();
        store
            .each(&ferry_core::Query::new("contacts"), |r| {
                if let Some(n) = r.fields.get("name").and_then(|v| v.as_str()) {
                    *seen.entry(n.to_string()).or_insert(0) += 1;
                }
                Ok(())
            })
            .expect("read contacts");
        seen
    };
    let check = |seen: std::collections::HashMap<String, i32>, where_: &str| {
        for i in 0..rows {
            let n = seen.get(&format!("Imported {i}")).copied().unwrap_or(0);
            assert_eq!(n, 1, "{context}: row {i} is {n} times {where_}");
        }
    };
    check(names(store), "in the local snapshot");
    alice.sync().await.expect("sync");
    let fresh = Client::login(&server, "alice").await;
    fresh.sync().await;
    check(names(fresh.store()), "on the server");
    println!(
        "{}",
        json!({"test": name, "seed": seed, "rows": rows, "kills": killed, "runs": runs, "lost": 0, "duplicated": 0})
    );
    assert!(
        killed >= 2,
        "{context}: only {killed} runs were killed mid-way"
    );
}

/// A plain profile from before encryption, encrypted by `ferry status` on
/// its first start, killed with SIGKILL at random moments of that: after
/// every kill the profile opens (plain or encrypted, never neither) with
/// its whole outbox, and once a run finishes nothing of it is plain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypting_a_plain_profile_killed_at_random_moments_loses_nothing() {
    let name = "encryption kill -9";
    let seed = seed(name);
    let context = format!("{name}, seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = dir.path().join("alice");
    let marker = "Plaintext-9917 should vanish";
    let edits: i64 = 2_000;
    {
        let plain = Profile::open_with(&profile, &common::unlock().unencrypted()).expect("plain");
        let alice = SyncEngine::new(Arc::new(plain));
        alice
            .login(&server.url, "alice", "demo", "alice-laptop")
            .await
            .expect("login");
        let notes = "n".repeat(4_000);
        for i in 0..edits {
            alice
                .profile()
                .store()
                .create(
                    "contacts",
                    common::fields(json!({"name": format!("{marker} {i}"), "notes": notes})),
                )
                .expect("create");
        }
    }
    let plain_header =
        |p: &Path| std::fs::read(p.join("ferry.db")).map(|b| b.starts_with(b"SQLite format 3\0"));
    let status_args = ["status".as_ref(), "--json".as_ref()];
    let status = || {
        ferry(&profile, &status_args)
            .spawn()
            .expect("start ferry status")
    };
    // How long encrypting takes here, to aim the kills: on a copy.
    let span = {
        let copy = dir.path().join("timing");
        std::fs::create_dir_all(&copy).expect("copy");
        for entry in std::fs::read_dir(&profile).expect("list") {
            let entry = entry.expect("entry");
            std::fs::copy(entry.path(), copy.join(entry.file_name())).expect("copy a file");
        }
        let started = Instant::now();
        let out = ferry(&copy, &status_args)
            .output()
            .await
            .expect("ferry status ran");
        assert!(
            out.status.success(),
            "{context}: the timed run: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            plain_header(&copy).ok(),
            Some(false),
            "{context}: encrypted"
        );
        started.elapsed()
    };
    // Kills while the database is still plain, each checked; then one run to the end.
    let (mut killed, mut interrupted, mut runs) = (0, 0, 0);
    while interrupted < sized(4, 40) && plain_header(&profile).unwrap_or(false) {
        runs += 1;
        assert!(
            runs < 60,
            "{context}: no kill landed mid-way in {runs} runs"
        );
        let mut child = status();
        tokio::time::sleep(span.mul_f64(rng.gen_range(0.05..0.95))).await;
        if !matches!(child.try_wait(), Ok(None)) {
            continue;
        }
        child.start_kill().expect("kill -9 ferry status");
        let _ = child.wait().await;
        killed += 1;
        // Plain or encrypted, the profile opens with every edit.
        let still_plain = plain_header(&profile).expect("the database is there");
        interrupted += usize::from(still_plain);
        let unlock = if still_plain {
            common::unlock().unencrypted()
        } else {
            common::unlock()
        };
        let p = Profile::open_with(&profile, &unlock)
            .unwrap_or_else(|e| panic!("{context}: open after a kill: {e}"));
        assert_eq!(
            p.store().pending_counts().expect("outbox").outbox,
            edits,
            "{context}: the outbox after a kill"
        );
    }
    let out = status().wait_with_output().await.expect("ferry status ran");
    assert!(
        out.status.success(),
        "{context}: ferry status: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(plain_header(&profile).ok(), Some(false), "{context}");
    assert_eq!(
        common::files_holding(&profile, marker),
        Vec::<String>::new(),
        "{context}: files holding plain records"
    );
    let alice = engine(&profile);
    assert_eq!(
        alice
            .profile()
            .store()
            .pending_counts()
            .expect("outbox")
            .outbox,
        edits
    );
    println!(
        "{}",
        json!({"test": name, "seed": seed, "edits": edits, "kills": killed, "mid_way": interrupted, "runs": runs, "lost": 0})
    );
}
