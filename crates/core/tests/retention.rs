//! A laptop offline across a history compaction (DESIGN.md, "Retention"):
//! its cursor falls below what the server keeps, so it pulls everything
//! again, keeping its unsent edits and conflicts. Against a real server on
//! SQLite and on PostgreSQL.

mod common;

use common::{Client, TestServer, fields};
use ferry_core::protocol::ConflictKind;
use ferry_core::{RecordState, Resolution};
use ferry_server::store::compact::CompactPlan;
use serde_json::json;

/// Forgets every deletion in `tasks` (as if two days had passed with a
/// one-day retention of deletions) and all but each record's latest version.
async fn compact_tasks(server: &TestServer) -> ferry_server::store::compact::CompactReport {
    let plan = CompactPlan {
        collections: vec![(
            "tasks".into(),
            ferry_core::protocol::admin::Retention {
                versions: Some(1),
                days: None,
                tombstone_days: Some(1),
            },
        )],
        now: chrono::Utc::now() + chrono::Duration::days(2),
        window: 50,
    };
    server.store.compact(&plan).await.expect("compact")
}

async fn bob_offline_across_a_compaction(server: TestServer) {
    // Enough records that pulling everything again takes several pages.
    let many = (0..4500)
        .map(|n| fields(json!({"title": format!("Task {n}")})))
        .collect();
    server.seed("alice", "tasks", many).await;
    let alice = Client::login(&server, "alice").await;
    let bob = Client::login(&server, "bob").await;
    let task = |title: &str| fields(json!({"title": title, "status": "todo"}));
    let edited = alice
        .store()
        .create("tasks", task("Edited by both"))
        .expect("create");
    let deleted = alice
        .store()
        .create("tasks", task("Deleted, edited by bob"))
        .expect("create");
    let gone = alice
        .store()
        .create("tasks", task("Deleted, untouched"))
        .expect("create");
    let busy = alice
        .store()
        .create("tasks", task("Edited often"))
        .expect("create");
    alice.sync().await;
    bob.sync().await;
    let before = bob.store().cursor().expect("cursor");

    // Bob, offline: edits two records, creates one.
    bob.store()
        .update("tasks", edited, fields(json!({"status": "doing"})))
        .expect("edit");
    bob.store()
        .update("tasks", deleted, fields(json!({"priority": 3})))
        .expect("edit");
    let new = bob
        .store()
        .create("tasks", task("Bob's new task"))
        .expect("create");
    // Meanwhile alice deletes two, edits two; then the server compacts.
    alice
        .store()
        .update("tasks", edited, fields(json!({"title": "Edited by alice"})))
        .expect("edit");
    for n in 0..3 {
        alice
            .store()
            .update("tasks", busy, fields(json!({"priority": n})))
            .expect("edit");
        alice.sync().await;
    }
    alice.store().delete("tasks", deleted).expect("delete");
    alice.store().delete("tasks", gone).expect("delete");
    alice.sync().await;
    let report = compact_tasks(&server).await;
    assert_eq!(report.records_forgotten, 2, "{report:?}");
    assert!(report.versions_removed >= 3, "{report:?}");

    // Bob comes back: his edits go out, then he pulls everything again.
    let r = bob.sync().await;
    assert_eq!(r.pushed.conflicts, 1, "{r:?}");
    assert_eq!(r.outbox, 0);
    assert_ne!(bob.store().cursor().expect("cursor"), before);
    assert!(!bob.store().resyncing().expect("resyncing"));
    // His edit of a record alice changed meanwhile merged; his new task is in.
    let mine = bob.store().record("tasks", edited).expect("record");
    assert_eq!(
        (mine.fields["title"].clone(), mine.fields["status"].clone()),
        (json!("Edited by alice"), json!("doing"))
    );
    assert_eq!(mine.state, RecordState::Synced);
    assert_eq!(
        server
            .record("tasks", new)
            .await
            .map(|r| r.fields["title"].clone()),
        Some(json!("Bob's new task"))
    );
    // The deletion he never saw left with the compaction; he held no edit of it.
    assert!(
        bob.store().record("tasks", gone).is_err(),
        "forgotten and unedited: gone"
    );
    // His edit of a record deleted and forgotten is an edit/delete conflict…
    let conflict = bob.store().conflict("tasks", deleted).expect("conflict");
    assert_eq!(conflict.kind, ConflictKind::EditDelete);
    // …which he settles by restoring it, with his edit.
    bob.store()
        .resolve("tasks", deleted, &Resolution::Restore)
        .expect("restore");
    bob.sync().await;
    let back = server.record("tasks", deleted).await.expect("restored");
    assert_eq!(back.fields["priority"], json!(3));
    assert!(!back.deleted);

    // Everyone converges on the server.
    alice.sync().await;
    for client in [&alice, &bob] {
        for id in [edited, deleted, busy, new] {
            let local = client.store().record("tasks", id).expect("held");
            let theirs = server.record("tasks", id).await.expect("on the server");
            assert_eq!(local.fields, theirs.fields, "{id}");
            assert_eq!(local.state, RecordState::Synced, "{id}");
        }
        // Gone, or (alice deleted it here) a deletion only this laptop holds.
        let held = client.store().record("tasks", gone);
        assert!(held.as_ref().map_or(true, |r| r.deleted), "{held:?}");
        assert_eq!(client.store().counts().expect("counts").outbox, 0);
    }
}

#[tokio::test]
async fn a_laptop_offline_across_a_compaction_pulls_everything_again_keeping_its_edits() {
    bob_offline_across_a_compaction(TestServer::start().await).await;
}

#[tokio::test]
async fn the_same_on_postgresql() {
    if let Some(server) = TestServer::start_on_postgres().await {
        bob_offline_across_a_compaction(server).await;
    }
}
