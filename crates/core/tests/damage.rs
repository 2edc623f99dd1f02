//! A damaged local database: a clear error, and a recovery that rebuilds
//! from the server without losing unsent edits.

mod common;

use std::sync::Arc;

use common::{Client, TestServer, fields};
use ferry_core::{Error, KeyringUse, Profile, SyncEngine};
use serde_json::json;

#[tokio::test]
async fn recovery_keeps_unsent_edits_and_rebuilds_the_snapshot_from_the_server() {
    let server = TestServer::start().await;
    let alice = Client::login(&server, "alice").await;
    let synced = alice
        .store()
        .create("tasks", fields(json!({"title": "synced"})))
        .expect("create");
    alice.sync().await;
    alice
        .store()
        .update("tasks", synced, fields(json!({"status": "doing"})))
        .expect("edit offline");
    let fresh = alice
        .store()
        .create("tasks", fields(json!({"title": "offline"})))
        .expect("create offline");
    let Client { engine, dir } = alice;
    drop(engine);
    let profile_dir = dir.path().join("profile");

    let (profile, recovery) =
        Profile::recover_with(&profile_dir, KeyringUse::Off).expect("recover");
    assert_eq!(recovery.rescued_entries, 2);
    assert!(recovery.damaged.exists(), "the old file is kept");
    assert!(recovery.rescued.as_ref().is_some_and(|p| p.exists()));
    let engine = Arc::new(SyncEngine::new(Arc::new(profile)));
    let report = engine.sync().await.expect("sync after recovery");
    assert_eq!(
        (report.outbox, report.conflicts, report.rejected),
        (0, 0, 0)
    );
    let store = engine.profile().store();
    assert_eq!(
        store
            .record("tasks", synced)
            .expect("rebuilt")
            .fields
            .get("status"),
        Some(&json!("doing"))
    );
    assert_eq!(
        store
            .record("tasks", fresh)
            .expect("kept")
            .fields
            .get("title"),
        Some(&json!("offline"))
    );
    assert_eq!(server.history_len("tasks", synced).await, 2);
    assert_eq!(server.history_len("tasks", fresh).await, 1);
}

#[tokio::test]
async fn a_garbage_database_is_refused_by_name_and_recovery_starts_over_from_the_server() {
    let server = TestServer::start().await;
    let alice = Client::login(&server, "alice").await;
    let id = alice
        .store()
        .create("contacts", fields(json!({"name": "Ann"})))
        .expect("create");
    alice.sync().await;
    let Client { engine, dir } = alice;
    drop(engine);
    let profile_dir = dir.path().join("profile");
    let db = profile_dir.join("ferry.db");
    let _ = std::fs::remove_file(profile_dir.join("ferry.db-wal"));
    let _ = std::fs::remove_file(profile_dir.join("ferry.db-shm"));
    std::fs::write(&db, vec![0xA5u8; 16 * 1024]).expect("scribble over it");

    let err = Profile::open_with(&profile_dir, KeyringUse::Off).expect_err("refused");
    assert!(matches!(err, Error::Corrupt { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&db.display().to_string()) && message.contains("--recover"),
        "{message}"
    );

    let (profile, recovery) =
        Profile::recover_with(&profile_dir, KeyringUse::Off).expect("recover");
    assert_eq!(recovery.rescued_entries, 0);
    // The account could not be read back either: log in again, then sync.
    let engine = Arc::new(SyncEngine::new(Arc::new(profile)));
    engine
        .login(&server.url, "alice", "demo", "again")
        .await
        .expect("login");
    engine.sync().await.expect("sync");
    assert_eq!(
        engine
            .profile()
            .store()
            .record("contacts", id)
            .expect("rebuilt")
            .fields
            .get("name"),
        Some(&json!("Ann"))
    );
}
