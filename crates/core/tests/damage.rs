//! A damaged local database: a clear error, and a recovery that rebuilds
//! from the server without losing unsent edits.

mod common;

use std::sync::Arc;

use common::{Client, TestServer, fields};
use ferry_core::{Error, Profile, SyncEngine};
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
        Profile::recover_with(&profile_dir, &common::unlock()).expect("recover");
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

    let err = Profile::open_with(&profile_dir, &common::unlock()).expect_err("refused");
    assert!(matches!(err, Error::Corrupt { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&db.display().to_string()) && message.contains("--recover"),
        "{message}"
    );

    let (profile, recovery) =
        Profile::recover_with(&profile_dir, &common::unlock()).expect("recover");
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

/// A long write transaction of another process: the edit waits, then gives
/// up with an error that names the file and says what to do.
#[tokio::test]
async fn a_locked_database_is_named_and_says_another_ferry_holds_it() {
    let server = TestServer::start().await;
    let alice = Client::login(&server, "alice").await;
    let id = alice
        .store()
        .create("tasks", fields(json!({"title": "before"})))
        .expect("create");
    let db = alice.store().path().to_path_buf();
    let other = alice
        .store()
        .second_connection()
        .expect("another connection");
    other
        .execute_batch("BEGIN EXCLUSIVE")
        .expect("hold the write lock");

    let store = alice.engine.profile().store().clone();
    let err = tokio::task::spawn_blocking(move || {
        store.update("tasks", id, fields(json!({"title": "after"})))
    })
    .await
    .expect("edit ran")
    .expect_err("locked");
    assert!(matches!(err, Error::Locked { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&db.display().to_string()) && message.contains("another Ferry"),
        "{message}"
    );

    other.execute_batch("ROLLBACK").expect("let go");
    alice
        .store()
        .update("tasks", id, fields(json!({"title": "after"})))
        .expect("edits work again");
}

/// A write that needs room on a full disk fails with an error naming the
/// file, and leaves the record and the outbox as they were.
#[tokio::test]
async fn a_full_disk_is_named_and_a_failed_edit_leaves_nothing_half_written() {
    let server = TestServer::start().await;
    let alice = Client::login(&server, "alice").await;
    let store = alice.store();
    let id = store
        .create("tasks", fields(json!({"title": "small"})))
        .expect("create");
    alice.sync().await;
    store
        .update("tasks", id, fields(json!({"status": "doing"})))
        .expect("a pending edit");
    let before = (
        store.record("tasks", id).expect("record"),
        store.outbox(100).expect("outbox"),
        store.counts().expect("counts"),
    );

    store.simulate_full_disk(true).expect("fill the disk");
    // Within the field size limit (256 KiB), still more than a full disk takes.
    let big = "lorem ipsum ".repeat(20_000);
    for attempt in [
        store
            .update("tasks", id, fields(json!({"notes": big})))
            .map(|()| None),
        store
            .create("tasks", fields(json!({"title": "new", "notes": big})))
            .map(Some),
    ] {
        let err = attempt.expect_err("no room");
        assert!(matches!(err, Error::DiskFull { .. }), "{err:?}");
        let message = err.to_string();
        assert!(
            message.contains(&store.path().display().to_string())
                && message.contains("free some space"),
            "{message}"
        );
    }
    let after = (
        store.record("tasks", id).expect("record"),
        store.outbox(100).expect("outbox"),
        store.counts().expect("counts"),
    );
    assert_eq!(before, after, "nothing half-written");

    store.simulate_full_disk(false).expect("free some space");
    store
        .update("tasks", id, fields(json!({"notes": big})))
        .expect("the same edit works with room");
    alice.sync().await;
    assert_eq!(
        server
            .record("tasks", id)
            .await
            .expect("on the server")
            .fields
            .get("status"),
        Some(&json!("doing"))
    );
}

/// Makes files read-only for this process, and writable again when dropped:
/// by their mode, or (for root, whom modes do not stop) by the immutable
/// attribute.
struct ReadOnlyFiles(Vec<std::path::PathBuf>, bool);

impl ReadOnlyFiles {
    fn set(paths: Vec<std::path::PathBuf>) -> ReadOnlyFiles {
        use std::os::unix::fs::PermissionsExt;
        for p in &paths {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o444)).expect("chmod");
        }
        let writable =
            |p: &std::path::Path| std::fs::OpenOptions::new().write(true).open(p).is_ok();
        if !paths.iter().any(|p| writable(p)) {
            return ReadOnlyFiles(paths, false);
        }
        for p in &paths {
            let ok = std::process::Command::new("chattr")
                .arg("+i")
                .arg(p)
                .status()
                .is_ok_and(|s| s.success());
            assert!(
                ok && !writable(p),
                "cannot make {} read-only here (root, and no chattr +i on this filesystem)",
                p.display()
            );
        }
        ReadOnlyFiles(paths, true)
    }
}

impl Drop for ReadOnlyFiles {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        for p in &self.0 {
            if self.1 {
                let _ = std::process::Command::new("chattr")
                    .arg("-i")
                    .arg(p)
                    .status();
            }
            let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600));
        }
    }
}

/// A read-only local database: the error names the file and the way out;
/// once it is writable again, the unsent edit is still there and goes out.
#[tokio::test]
async fn a_read_only_database_is_named_and_keeps_its_unsent_edits() {
    let server = TestServer::start().await;
    // On the target directory's disk: a tmpfs may not take the immutable attribute.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let profile_dir = dir.path().join("profile");
    let open = || Profile::open_with(&profile_dir, &common::unlock());
    let engine = SyncEngine::new(Arc::new(open().expect("profile")));
    engine
        .login(&server.url, "alice", "demo", "alice-test")
        .await
        .expect("login");
    let id = engine
        .profile()
        .store()
        .create("tasks", fields(json!({"title": "before"})))
        .expect("create");
    engine.sync().await.expect("sync");
    engine
        .profile()
        .store()
        .update("tasks", id, fields(json!({"status": "doing"})))
        .expect("an unsent edit");
    let db = engine.profile().store().path().to_path_buf();
    drop(engine);

    let files: Vec<_> = ["", "-wal", "-shm"]
        .iter()
        .map(|s| std::path::PathBuf::from(format!("{}{s}", db.display())))
        .filter(|p| p.exists())
        .collect();
    let read_only = ReadOnlyFiles::set(files);
    let err = match open() {
        Err(e) => e,
        Ok(profile) => profile
            .store()
            .update("tasks", id, fields(json!({"status": "done"})))
            .expect_err("a read-only database takes no edit"),
    };
    assert!(matches!(err, Error::ReadOnlyDatabase { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&db.display().to_string()) && message.contains("write access"),
        "{message}"
    );

    drop(read_only);
    let engine = SyncEngine::new(Arc::new(open().expect("writable again")));
    assert_eq!(engine.profile().store().counts().expect("counts").outbox, 1);
    engine.sync().await.expect("sync");
    assert_eq!(
        server
            .record("tasks", id)
            .await
            .expect("on the server")
            .fields
            .get("status"),
        Some(&json!("doing"))
    );
}
