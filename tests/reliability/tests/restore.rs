//! Backups and restores (DESIGN.md, "Backups and restore"): the server is
//! backed up while it serves, two laptops go on editing and syncing, then
//! the server is restored from the backup, which loses what they synced
//! since. At their next sync each laptop notices the new epoch, sends again
//! the changes the restore lost, and pulls everything again: the server
//! ends with every edit, each applied once, and the laptops equal it.
//! Against the `ferry-server` binary on SQLite and on PostgreSQL, with its
//! own `backup` and `restore` commands.

#[path = "../../../crates/core/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::sync::Arc;

use common::fields;
use ferry_core::{Profile, RecordState, SyncEngine};
use ferry_reliability::server_process::{ServerProcess, admin_on, seed_demo_on};
use ferry_server::store::postgres::testing::TestDb;
use serde_json::json;

async fn laptop(dir: &Path, server: &str, user: &str) -> Arc<SyncEngine> {
    let profile = Profile::open_with(dir, &common::unlock()).expect("profile");
    let engine = Arc::new(SyncEngine::new(Arc::new(profile)));
    engine
        .login(server, user, "demo", &format!("{user}-laptop"))
        .await
        .expect("login");
    engine
}

async fn sync(engine: &SyncEngine, who: &str) -> ferry_core::SyncReport {
    engine
        .sync()
        .await
        .unwrap_or_else(|e| panic!("{who} syncs: {e}"))
}

async fn backup_restore_and_converge(db: &str, dir: &Path) {
    seed_demo_on(db);
    let mut server = ServerProcess::start_on(db, 0);
    let alice = laptop(&dir.join("alice"), &server.url, "alice").await;
    let bob = laptop(&dir.join("bob"), &server.url, "bob").await;
    let store = |e: &Arc<SyncEngine>| e.profile().store().clone();
    let shared = store(&alice)
        .create(
            "tasks",
            fields(json!({"title": "Shared", "status": "todo"})),
        )
        .expect("create");
    sync(&alice, "alice").await;
    sync(&bob, "bob").await;
    store(&alice)
        .update("tasks", shared, fields(json!({"status": "doing"})))
        .expect("edit");
    let lost = store(&alice)
        .create(
            "tasks",
            fields(json!({"title": "Edited on a laptop that is lost"})),
        )
        .expect("create");
    sync(&alice, "alice").await;
    sync(&bob, "bob").await;
    let spare = laptop(&dir.join("spare"), &server.url, "alice").await;
    sync(&spare, "the spare laptop").await;

    // The backup, while the server serves.
    let backup = dir.join("ferry.backup");
    let backup_arg = backup.to_string_lossy().to_string();
    admin_on(db, &["backup", "--to", &backup_arg], "");

    // After it: both edit and sync; these are what the restore loses.
    store(&alice)
        .update("tasks", shared, fields(json!({"notes": "alice's note"})))
        .expect("edit");
    let alices = store(&alice)
        .create(
            "tasks",
            fields(json!({"title": "After the backup (alice)"})),
        )
        .expect("create");
    sync(&alice, "alice").await;
    store(&bob)
        .update("tasks", shared, fields(json!({"priority": 5})))
        .expect("edit");
    let bobs = store(&bob)
        .create("tasks", fields(json!({"title": "After the backup (bob)"})))
        .expect("create");
    let doomed = store(&bob)
        .create(
            "tasks",
            fields(json!({"title": "Made and deleted after the backup"})),
        )
        .expect("create");
    sync(&bob, "bob").await;
    // An edit from a laptop that never comes back: only the restore's loss.
    store(&spare)
        .update("tasks", lost, fields(json!({"status": "done"})))
        .expect("edit");
    sync(&spare, "the spare laptop").await;
    drop(spare);
    store(&bob).delete("tasks", doomed).expect("delete");
    sync(&bob, "bob").await;
    sync(&alice, "alice").await;
    assert!(store(&bob).acked_count().expect("kept") >= 4);

    // The server is lost and restored from the backup.
    server.kill9();
    admin_on(db, &["restore", "--from", &backup_arg], "");
    server.restart();
    // Bob edits before he next syncs: an unsent edit on top of sent ones.
    store(&bob)
        .update(
            "tasks",
            shared,
            fields(json!({"title": "Shared, renamed by bob"})),
        )
        .expect("edit");

    for _ in 0..2 {
        sync(&alice, "alice").await;
        sync(&bob, "bob").await;
    }

    // A fresh laptop sees what the server holds now.
    let witness = laptop(&dir.join("witness"), &server.url, "alice").await;
    sync(&witness, "a fresh laptop").await;
    let on_server = |id| {
        store(&witness)
            .record("tasks", id)
            .unwrap_or_else(|e| panic!("{id} on the server: {e}"))
    };
    assert_eq!(
        on_server(shared).fields,
        fields(json!({
            "title": "Shared, renamed by bob",
            "status": "doing",
            "notes": "alice's note",
            "priority": 5
        }))
    );
    assert_eq!(
        on_server(alices).fields["title"],
        json!("After the backup (alice)")
    );
    assert_eq!(
        on_server(bobs).fields["title"],
        json!("After the backup (bob)")
    );
    assert!(on_server(doomed).deleted);
    assert_eq!(
        on_server(lost).fields.get("status"),
        None,
        "the lost laptop's edit is gone"
    );
    // Each applied once: the shared task's versions are its create, the
    // edit before the backup, and the three after it, once each.
    let history = witness.history("tasks", shared).await.expect("history");
    assert_eq!(history.len(), 5, "{history:#?}");
    assert_eq!(
        witness
            .history("tasks", alices)
            .await
            .expect("history")
            .len(),
        1
    );
    assert_eq!(
        witness
            .history("tasks", doomed)
            .await
            .expect("history")
            .len(),
        2
    );
    for (who, laptop) in [("alice", &alice), ("bob", &bob)] {
        let s = store(laptop);
        // The lost laptop's edit too: both held it, both now hold the server's.
        for id in [shared, alices, bobs, doomed, lost] {
            let mine = s.record("tasks", id).expect("held");
            let theirs = on_server(id);
            assert_eq!(
                (&mine.fields, mine.deleted),
                (&theirs.fields, theirs.deleted),
                "{who}: {id}"
            );
            assert_eq!(mine.state, RecordState::Synced, "{who}: {id}");
        }
        let counts = s.counts().expect("counts");
        assert_eq!((counts.outbox, counts.conflicts), (0, 0), "{who}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_sqlite_server_gets_back_every_edit_made_after_its_backup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("ferry.db").display());
    backup_restore_and_converge(&db, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_postgresql_server_gets_back_every_edit_made_after_its_backup() {
    let Some(pg) = TestDb::create().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    backup_restore_and_converge(&pg.url, dir.path()).await;
    // The restore analyzed the new tables: the planner has statistics.
    assert!(pg.analyzed("records").await.expect("statistics"));
}
