//! What an operator runs beside the API, from outside: `ferry-server
//! compact`, `backup` and `restore`, and what clients see of them on the
//! wire (410 `cursor_expired`, `X-Ferry-Epoch`, 410 `epoch_changed`).

mod common;

use std::process::{Command, Stdio};

use common::{TestServer, assert_error, create, delete, server_cli};
use serde_json::json;
use uuid::Uuid;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The demo schema, its tasks (the last collection) forgetting deletions
/// after a day.
fn short_retention() -> String {
    format!(
        "{}\n[collections.history]\nversions = 1\ntombstone_days = 1\n",
        ferry_server::demo::DEMO_SCHEMA
    )
}

#[tokio::test]
async fn an_old_cursor_answers_gone_after_compaction_and_a_pull_from_the_start_works() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("dir");
    let schema = dir.path().join("schema.toml");
    std::fs::write(&schema, short_retention()).expect("schema");
    let out = server_cli(&server, &["schema", "apply", &schema.to_string_lossy()], "");
    assert!(out.status.success(), "{}", stderr(&out));
    let defs = server.store.collections().await.expect("collections");
    let tasks = defs.iter().find(|d| d.name == "tasks").expect("tasks");
    assert_eq!(tasks.retention().tombstone_days, Some(1));
    let alice = server.login("alice").await;
    let (kept, gone) = (Uuid::now_v7(), Uuid::now_v7());
    server
        .push(
            &alice,
            &[
                create("tasks", kept, json!({"title": "kept"})),
                create("tasks", gone, json!({"title": "gone"})),
            ],
        )
        .await;
    let old = server.cursor(&alice).await;
    server.push(&alice, &[delete("tasks", gone, 1)]).await;
    // Nothing is a day old yet: compacting now keeps the deletion.
    let out = server_cli(&server, &["compact"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("0 deleted records"),
        "{}",
        stdout(&out)
    );
    server.changes(&alice, &format!("since={old}")).await;

    // Two days on, as the store sees it.
    let plan = ferry_server::store::compact::CompactPlan::of(
        &server.store.collections().await.expect("collections"),
        chrono::Utc::now() + chrono::Duration::days(2),
    );
    let report = server.store.compact(&plan).await.expect("compact");
    assert_eq!(report.records_forgotten, 1);
    let resp = server
        .get(&format!("/v1/changes?since={old}"), &alice)
        .send()
        .await
        .expect("pull");
    let message = assert_error(resp, 410, "cursor_expired").await;
    assert!(message.contains("pull everything again"), "{message}");
    let all = server.changes(&alice, "").await;
    let ids: Vec<&str> = all["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|r| r["collection"] == "tasks")
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert!(ids.contains(&kept.to_string().as_str()) && !ids.contains(&gone.to_string().as_str()));
    // An edit of the forgotten record is an edit of a deleted one.
    let edit = common::update(
        "tasks",
        gone,
        1,
        json!({"title": "gone"}),
        json!({"title": "mine"}),
    );
    let result = &server.push(&alice, &[edit]).await[0];
    assert_eq!(result["status"], "conflict", "{result}");
    assert_eq!(result["conflict"]["kind"], "edit_delete");
    assert_eq!(result["record"]["version"], 0);
    assert_eq!(result["record"]["deleted"], true);
}

#[tokio::test]
async fn every_answer_names_the_epoch_and_another_one_is_refused_on_push_and_pull() {
    let server = TestServer::start().await;
    let alice = server.login("alice").await;
    let resp = server
        .get("/v1/health", &alice)
        .send()
        .await
        .expect("health");
    let epoch = resp
        .headers()
        .get("x-ferry-epoch")
        .and_then(|v| v.to_str().ok())
        .expect("an epoch on every answer")
        .to_string();
    assert_eq!(epoch.len(), 32, "{epoch}");
    // The right one, or none, is served.
    let ok = server
        .get("/v1/changes", &alice)
        .header("x-ferry-epoch", &epoch)
        .send()
        .await
        .expect("pull");
    assert_eq!(ok.status(), 200);
    let other = "0123456789abcdef0123456789abcdef";
    let pull = server
        .get("/v1/changes", &alice)
        .header("x-ferry-epoch", other)
        .send()
        .await
        .expect("pull");
    assert_eq!(
        pull.headers()
            .get("x-ferry-epoch")
            .and_then(|v| v.to_str().ok()),
        Some(epoch.as_str())
    );
    assert_error(pull, 410, "epoch_changed").await;
    let id = Uuid::now_v7();
    let push = server
        .post("/v1/push", &alice)
        .header("x-ferry-epoch", other)
        .json(&json!({"mutations": [create("tasks", id, json!({"title": "x"}))]}))
        .send()
        .await
        .expect("push");
    let message = assert_error(push, 410, "epoch_changed").await;
    assert!(message.contains("restored from a backup"), "{message}");
    assert!(
        server
            .store
            .current("tasks", id)
            .await
            .expect("current")
            .is_none(),
        "nothing applied"
    );
}

/// `ferry-server serve` on `db` in a child process; killed when dropped.
struct Serving(std::process::Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn cli(db: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ferry-server"))
        .args(["--db", db])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run ferry-server")
}

#[test]
fn backups_and_restores_refuse_what_would_lose_data_and_say_why() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("ferry.db");
    let db = format!("sqlite://{}", path.display());
    assert!(cli(&db, &["seed-demo"]).status.success());
    let backup = dir.path().join("ferry.backup");
    let b = backup.to_string_lossy().to_string();
    let out = cli(&db, &["backup", "--to", &b]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("backed up"), "{}", stdout(&out));
    // Never over an existing file.
    let again = cli(&db, &["backup", "--to", &b]);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("exists"), "{}", stderr(&again));
    // Not a Ferry database: refused, the database untouched.
    let junk = dir.path().join("junk.backup");
    std::fs::write(&junk, b"not a database at all").expect("junk");
    let out = cli(&db, &["restore", "--from", &junk.to_string_lossy()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not a SQLite database"),
        "{}",
        stderr(&out)
    );
    // Not while a server serves it.
    let serving = Serving(
        Command::new(env!("CARGO_BIN_EXE_ferry-server"))
            .args([
                "--db",
                &db,
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--metrics-listen",
                "off",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve"),
    );
    let mut serving = serving;
    let out_pipe = serving.0.stdout.take().expect("stdout");
    common::listening_base(out_pipe);
    let out = cli(&db, &["restore", "--from", &b]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("stop it first"), "{}", stderr(&out));
    drop(serving);
    // Stopped: restored, the database as it was kept beside it.
    let out = cli(&db, &["restore", "--from", &b]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("new epoch"), "{}", stdout(&out));
    let aside: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with("ferry.db.before-restore-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    let users = cli(&db, &["device", "list"]);
    assert!(
        users.status.success(),
        "the restored database opens: {}",
        stderr(&users)
    );
}
