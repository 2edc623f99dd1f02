//! Attached files through faults: `ferry sync` killed with SIGKILL in the
//! middle of an upload and `ferry fetch` in the middle of a download each
//! continue where they stopped when run again, and a connection dropped
//! mid-transfer (through the fault proxy) resumes instead of starting over;
//! the bytes that arrive are always the file's.
//!
//! `make test` builds the `ferry` binary first.

#[path = "../../../crates/core/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{Client, TestServer, eventually, fields};
use ferry_core::protocol::FileRef;
use ferry_reliability::fault_proxy::{Fault, FaultProxy};
use ferry_reliability::tool;
use serde_json::json;

const SIZE: usize = 24 * 1024 * 1024;

fn make_file(dir: &Path, seed: u8) -> PathBuf {
    let path = dir.join("survey.bin");
    let bytes: Vec<u8> = (0..SIZE).map(|i| ((i / 7) % 251) as u8 ^ seed).collect();
    std::fs::write(&path, bytes).expect("write the file");
    path
}

/// Bytes of the largest file under `dir` (unfinished uploads or fetches).
fn largest_under(dir: &Path) -> u64 {
    let mut best = 0;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    for e in entries.flatten() {
        let path = e.path();
        let len = if path.is_dir() {
            largest_under(&path)
        } else {
            e.metadata().map_or(0, |m| m.len())
        };
        best = best.max(len);
    }
    best
}

fn ferry(profile: &Path, args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(tool("ferry"));
    cmd.arg("--profile")
        .arg(profile)
        .args(args)
        .env("FERRY_KEYRING", "off")
        .env("FERRY_PASSPHRASE", common::PASSPHRASE)
        .env_remove("FERRY_PROFILE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Runs `cmd` to its end; a run that hangs fails the test instead.
async fn finish(mut cmd: tokio::process::Command) -> std::process::Output {
    tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("ferry finished within two minutes")
        .expect("ferry ran")
}

/// Runs `args` slowed by the proxy, kills it with SIGKILL once `partial`
/// holds some bytes but not all, and says how many it held.
async fn kill_midway(proxy: &FaultProxy, profile: &Path, args: &[&str], partial: &Path) -> u64 {
    proxy.set(Fault::Latency(Duration::from_millis(15)));
    let mut child = ferry(profile, args).spawn().expect("start ferry");
    eventually("part of the file to arrive", || largest_under(partial) > 0).await;
    child.start_kill().expect("kill -9");
    let _ = child.wait().await;
    proxy.set(Fault::None);
    let held = largest_under(partial);
    assert!(
        held > 0 && held < SIZE as u64,
        "killed after {held} of {SIZE} bytes"
    );
    held
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_killed_midway_continue_where_they_stopped() {
    let server = TestServer::start().await;
    let proxy = FaultProxy::start(&server.url).await;
    let alice = Client::login_via(&proxy.url, "alice").await;
    let id = alice
        .store()
        .create("tasks", fields(json!({"title": "Survey"})))
        .expect("create");
    let src = tempfile::tempdir().expect("dir");
    let original = make_file(src.path(), 3);
    ferry_core::Client::with_engine(alice.engine.clone(), "test")
        .attach("tasks", id, "attachments", std::slice::from_ref(&original))
        .expect("attach");
    let profile = alice.dir.path().join("profile");

    // Upload: the server keeps what arrived; the next sync goes on from there.
    let uploads = server.files.path().join("uploads");
    let held = kill_midway(&proxy, &profile, &["sync"], &uploads).await;
    let out = finish(ferry(&profile, &["sync"])).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let record = server
        .record("tasks", id)
        .await
        .expect("pushed after the file");
    let file = FileRef::list(record.fields.get("attachments")).remove(0);
    assert_eq!(file.size, SIZE as u64);
    assert!(held < file.size);

    // Download: bob's fetch keeps what arrived and asks for the rest.
    let bob = Client::login_via(&proxy.url, "bob").await;
    bob.sync().await;
    let bob_profile = bob.dir.path().join("profile");
    let id_text = id.to_string();
    let out_dir = bob.dir.path().join("fetched");
    let out_text = out_dir.display().to_string();
    let fetch = [
        "fetch",
        "tasks",
        id_text.as_str(),
        "attachments",
        "--out",
        out_text.as_str(),
    ];
    kill_midway(
        &proxy,
        &bob_profile,
        &fetch,
        &bob_profile.join("files").join("partial"),
    )
    .await;
    let out = finish(ferry(&bob_profile, &fetch)).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(out_dir.join(&file.name)).expect("fetched"),
        std::fs::read(&original).expect("original")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_midway_resumes_instead_of_starting_over() {
    let server = TestServer::start().await;
    let proxy = FaultProxy::start(&server.url).await;
    let alice = Client::login_via(&proxy.url, "alice").await;
    let app = ferry_core::Client::with_engine(alice.engine.clone(), "test");
    let id = alice
        .store()
        .create("tasks", fields(json!({"title": "Drop"})))
        .expect("create");
    let src = tempfile::tempdir().expect("dir");
    app.attach("tasks", id, "attachments", &[make_file(src.path(), 7)])
        .expect("attach");
    let sha = FileRef::list(
        alice
            .store()
            .record("tasks", id)
            .expect("record")
            .fields
            .get("attachments"),
    )
    .remove(0)
    .sha256;

    // The network goes while the file travels: the sync fails, nothing is pushed.
    proxy.set(Fault::Latency(Duration::from_millis(15)));
    let uploads = server.files.path().join("uploads");
    let engine = alice.engine.clone();
    let sync = tokio::spawn(async move { engine.sync().await });
    eventually("part of the file to arrive", || largest_under(&uploads) > 0).await;
    proxy.set(Fault::Refuse);
    assert!(sync.await.expect("join").is_err());
    assert!(server.record("tasks", id).await.is_none());
    let held = largest_under(&uploads);
    assert!(held > 0 && held < SIZE as u64, "{held}");
    // Healed: the upload continues at the server's offset, then the change goes.
    proxy.set(Fault::None);
    let sent_before = alice
        .store()
        .file(&sha)
        .expect("state")
        .expect("known")
        .sent;
    alice.sync().await;
    assert!(server.record("tasks", id).await.is_some());
    assert!(sent_before <= held);

    // A fetch cut off midway keeps its part and goes on from there.
    let bob = Client::login_via(&proxy.url, "bob").await;
    bob.sync().await;
    let bob_app = ferry_core::Client::with_engine(bob.engine.clone(), "test");
    let partial = bob.dir.path().join("profile").join("files").join("partial");
    proxy.set(Fault::Latency(Duration::from_millis(15)));
    let (fetcher, s) = (
        ferry_core::Client::with_engine(bob.engine.clone(), "test"),
        sha.clone(),
    );
    let fetch = tokio::spawn(async move { fetcher.fetch_file("tasks", id, &s).await });
    eventually("part of the file to arrive", || largest_under(&partial) > 0).await;
    proxy.set(Fault::Refuse);
    assert!(fetch.await.expect("join").is_err());
    let part = largest_under(&partial);
    assert!(part > 0 && part < SIZE as u64, "{part}");
    proxy.set(Fault::None);
    let path = bob_app.fetch_file("tasks", id, &sha).await.expect("fetch");
    let mut plain = bob_app.files().reader(&path, 0).expect("open");
    assert_eq!(
        std::io::copy(&mut plain, &mut std::io::sink()).expect("read"),
        SIZE as u64
    );
}
