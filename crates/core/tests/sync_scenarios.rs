//! Sync stories against a real ferry-server on a loopback port.

mod common;

use common::{Client, LossyProxy, TestServer, fields};
use ferry_core::protocol::{ConflictKind, Status};
use ferry_core::{Error, FieldChoice, RecordState, Resolution};
use serde_json::json;

async fn task_everyone_has(server: &TestServer, alice: &Client, bob: &Client) -> uuid::Uuid {
    let id = alice
        .store()
        .create(
            "tasks",
            fields(json!({"title": "Call the plumber", "status": "todo", "priority": 2})),
        )
        .expect("create");
    alice.sync().await;
    bob.sync().await;
    assert_eq!(
        server.record("tasks", id).await.expect("on server").version,
        1
    );
    id
}

#[tokio::test]
async fn alice_works_offline_then_reconnects_and_bob_sees_her_work() {
    let server = TestServer::start().await;
    let alice = Client::login(&server, "alice").await;
    let bob = Client::login(&server, "bob").await;
    alice.store().set_work_offline(true).expect("offline");
    let id = alice
        .store()
        .create("tasks", fields(json!({"title": "Offline task"})))
        .expect("create");
    alice
        .store()
        .update("tasks", id, fields(json!({"status": "doing"})))
        .expect("edit");
    assert!(matches!(
        alice.engine.sync().await,
        Err(Error::WorkingOffline)
    ));
    assert_eq!(
        alice.store().counts().expect("counts").outbox,
        1,
        "create and edit coalesce"
    );
    assert!(
        server.record("tasks", id).await.is_none(),
        "nothing left while offline"
    );

    alice.store().set_work_offline(false).expect("online");
    let report = alice.sync().await;
    assert_eq!((report.pushed.applied, report.outbox), (1, 0));
    bob.sync().await;
    let seen = bob.store().record("tasks", id).expect("bob has it");
    assert_eq!(
        seen.fields,
        fields(json!({"title": "Offline task", "status": "doing"}))
    );
    assert_eq!(seen.state, RecordState::Synced);
}

#[tokio::test]
async fn alice_and_bob_edit_different_fields_and_both_edits_survive() {
    let server = TestServer::start().await;
    let alice = Client::login(&server, "alice").await;
    let bob = Client::login(&server, "bob").await;
    let id = task_everyone_has(&server, &alice, &bob).await;

    alice
        .store()
        .update(
            "tasks",
            id,
            fields(json!({"title": "Call the plumber today"})),
        )
        .expect("alice");
    bob.store()
        .update("tasks", id, fields(json!({"status": "doing"})))
        .expect("bob");
    alice.sync().await;
    let report = bob.sync().await;
    assert_eq!((report.pushed.merged, report.conflicts), (1, 0));
    alice.sync().await;

    let want = fields(json!({"title": "Call the plumber today", "status": "doing", "priority": 2}));
    assert_eq!(
        server.record("tasks", id).await.expect("server").fields,
        want
    );
    for c in [&alice, &bob] {
        let r = c.store().record("tasks", id).expect("record");
        assert_eq!(
            (r.fields.clone(), r.state),
            (want.clone(), RecordState::Synced)
        );
        assert!(c.store().conflicts().expect("conflicts").is_empty());
    }
}

/// Both change the title; bob's sync reports a conflict with base, mine and
/// theirs; `resolve` settles it and everyone ends equal.
async fn same_field_conflict(resolution: Resolution, expected_title: &str) {
    let server = TestServer::start().await;
    let alice = Client::login(&server, "alice").await;
    let bob = Client::login(&server, "bob").await;
    let id = task_everyone_has(&server, &alice, &bob).await;

    alice
        .store()
        .update("tasks", id, fields(json!({"title": "Alice's title"})))
        .expect("alice");
    bob.store()
        .update(
            "tasks",
            id,
            fields(json!({"title": "Bob's title", "priority": 5})),
        )
        .expect("bob");
    alice.sync().await;
    let report = bob.sync().await;
    assert_eq!(
        (report.pushed.conflicts, report.conflicts, report.outbox),
        (1, 1, 0)
    );
    let conflict = bob.store().conflict("tasks", id).expect("conflict");
    assert_eq!(conflict.kind, ConflictKind::EditEdit);
    assert_eq!(conflict.fields, vec!["title".to_string()]);
    assert_eq!(conflict.base.get("title"), Some(&json!("Call the plumber")));
    assert_eq!(conflict.mine.get("title"), Some(&json!("Bob's title")));
    assert_eq!(
        conflict.theirs.fields.get("title"),
        Some(&json!("Alice's title"))
    );
    assert_eq!(
        bob.store().record("tasks", id).expect("bob").state,
        RecordState::Conflict
    );
    assert!(matches!(
        bob.store()
            .update("tasks", id, fields(json!({"title": "x"}))),
        Err(Error::InConflict { .. })
    ));

    let copy = bob
        .store()
        .resolve("tasks", id, &resolution)
        .expect("resolve");
    assert!(bob.store().conflicts().expect("conflicts").is_empty());
    let report = bob.sync().await;
    assert_eq!((report.outbox, report.conflicts), (0, 0));
    alice.sync().await;

    let on_server = server.record("tasks", id).await.expect("server");
    assert_eq!(on_server.fields.get("title"), Some(&json!(expected_title)));
    for c in [&alice, &bob] {
        let r = c.store().record("tasks", id).expect("record");
        assert_eq!(r.fields, on_server.fields);
        assert_eq!(r.state, RecordState::Synced);
    }
    if let Some(copy) = copy {
        let kept = server.record("tasks", copy).await.expect("copy on server");
        assert_eq!(kept.fields.get("title"), Some(&json!("Bob's title")));
        assert_eq!(
            alice
                .store()
                .record("tasks", copy)
                .expect("alice has the copy")
                .fields,
            kept.fields
        );
    }
}

#[tokio::test]
async fn same_field_conflict_resolved_with_mine() {
    same_field_conflict(Resolution::Mine, "Bob's title").await;
}

#[tokio::test]
async fn same_field_conflict_resolved_with_theirs() {
    same_field_conflict(Resolution::Theirs, "Alice's title").await;
}

#[tokio::test]
async fn same_field_conflict_resolved_with_a_typed_value() {
    same_field_conflict(
        Resolution::Fields(vec![(
            "title".into(),
            FieldChoice::Value(json!("Both of us")),
        )]),
        "Both of us",
    )
    .await;
}

#[tokio::test]
async fn same_field_conflict_resolved_by_keeping_both() {
    same_field_conflict(Resolution::KeepBoth, "Alice's title").await;
}

#[tokio::test]
async fn alice_edits_offline_bob_deletes_alice_restores() {
    let server = TestServer::start().await;
    let alice = Client::login(&server, "alice").await;
    let bob = Client::login(&server, "bob").await;
    let id = task_everyone_has(&server, &alice, &bob).await;

    alice
        .store()
        .update("tasks", id, fields(json!({"status": "done"})))
        .expect("alice edits");
    bob.store().delete("tasks", id).expect("bob deletes");
    bob.sync().await;
    let report = alice.sync().await;
    assert_eq!(report.conflicts, 1);
    let conflict = alice.store().conflict("tasks", id).expect("conflict");
    assert_eq!(conflict.kind, ConflictKind::EditDelete);
    assert!(conflict.theirs.deleted);
    // The record is gone on the server; alice keeps it, with her change, until she decides.
    let mine = alice.store().record("tasks", id).expect("alice");
    assert!(!mine.deleted);
    assert!(matches!(
        alice
            .store()
            .resolve("tasks", id, &Resolution::Fields(vec![])),
        Err(Error::InvalidResolution(_))
    ));
    alice
        .store()
        .resolve("tasks", id, &Resolution::Restore)
        .expect("restore");
    assert_eq!(alice.sync().await.outbox, 0);
    bob.sync().await;
    let id2 = id;
    let on_server = server.record("tasks", id2).await.expect("server");
    assert!(!on_server.deleted);
    assert_eq!(on_server.fields.get("status"), Some(&json!("done")));
    let at_bob = bob.store().record("tasks", id2).expect("bob");
    assert!(!at_bob.deleted);
    assert_eq!(at_bob.fields, on_server.fields);
}

#[tokio::test]
async fn alice_edits_bob_deleted_alice_accepts_the_deletion() {
    let server = TestServer::start().await;
    let alice = Client::login(&server, "alice").await;
    let bob = Client::login(&server, "bob").await;
    let id = task_everyone_has(&server, &alice, &bob).await;
    alice
        .store()
        .update("tasks", id, fields(json!({"status": "done"})))
        .expect("alice edits");
    bob.store().delete("tasks", id).expect("bob deletes");
    bob.sync().await;
    alice.sync().await;
    alice
        .store()
        .resolve("tasks", id, &Resolution::AcceptDelete)
        .expect("accept");
    assert_eq!(alice.sync().await.outbox, 0);
    assert!(
        alice
            .store()
            .record("tasks", id)
            .expect("tombstone")
            .deleted
    );
    assert!(server.record("tasks", id).await.expect("server").deleted);
    assert_eq!(
        server.history_len("tasks", id).await,
        2,
        "create and bob's delete only"
    );
}

#[tokio::test]
async fn alice_deletes_bob_edits_then_each_delete_conflict_choice() {
    let server = TestServer::start().await;
    let alice = Client::login(&server, "alice").await;
    let bob = Client::login(&server, "bob").await;
    for (resolution, deleted) in [
        (Resolution::Restore, false),
        (Resolution::AcceptDelete, true),
    ] {
        let id = task_everyone_has(&server, &alice, &bob).await;
        alice.store().delete("tasks", id).expect("alice deletes");
        bob.store()
            .update("tasks", id, fields(json!({"priority": 9})))
            .expect("bob edits");
        bob.sync().await;
        alice.sync().await;
        let conflict = alice.store().conflict("tasks", id).expect("conflict");
        assert_eq!(conflict.kind, ConflictKind::DeleteEdit);
        assert_eq!(conflict.fields, vec!["priority".to_string()]);
        assert!(matches!(
            alice.store().resolve("tasks", id, &Resolution::KeepBoth),
            Err(Error::InvalidResolution(_))
        ));
        alice
            .store()
            .resolve("tasks", id, &resolution)
            .expect("resolve");
        assert_eq!(alice.sync().await.outbox, 0);
        bob.sync().await;
        let on_server = server.record("tasks", id).await.expect("server");
        assert_eq!(on_server.deleted, deleted, "{resolution:?}");
        for c in [&alice, &bob] {
            let r = c.store().record("tasks", id).expect("record");
            assert_eq!(
                (r.deleted, r.fields.clone()),
                (deleted, on_server.fields.clone()),
                "{resolution:?}"
            );
        }
    }
}

/// Alice and bob both retitle the task; alice syncs first, so bob holds an
/// edit/edit conflict.
async fn title_conflict_at_bob(alice: &Client, bob: &Client, id: uuid::Uuid) {
    bob.store()
        .update("tasks", id, fields(json!({"title": "Bob's title"})))
        .expect("bob");
    alice
        .store()
        .update("tasks", id, fields(json!({"title": "Alice's title"})))
        .expect("alice");
    alice.sync().await;
    bob.sync().await;
}

/// Alice deletes the task and both sync.
async fn alice_deletes_it(alice: &Client, bob: &Client, id: uuid::Uuid) {
    alice.store().delete("tasks", id).expect("alice deletes");
    alice.sync().await;
    bob.sync().await;
}

#[tokio::test]
async fn a_conflict_follows_the_record_when_the_server_deletes_it_and_someone_restores_it() {
    let server = TestServer::start().await;
    let alice = Client::login(&server, "alice").await;
    let bob = Client::login(&server, "bob").await;
    let alices_laptop = Client::login(&server, "alice").await;
    let id = task_everyone_has(&server, &alice, &bob).await;
    alices_laptop.sync().await;

    title_conflict_at_bob(&alice, &bob, id).await;
    let conflict = bob.store().conflict("tasks", id).expect("conflict");
    assert_eq!(conflict.kind, ConflictKind::EditEdit);

    // The server deletes the record: bob's conflict is now edit/delete.
    alice_deletes_it(&alice, &bob, id).await;
    let conflict = bob.store().conflict("tasks", id).expect("still a conflict");
    assert_eq!(conflict.kind, ConflictKind::EditDelete);
    assert_eq!(conflict.fields, vec!["title".to_string()]);
    assert!(conflict.theirs.deleted);
    assert!(matches!(
        bob.store()
            .resolve("tasks", id, &Resolution::Fields(vec![])),
        Err(Error::InvalidResolution(_))
    ));

    // Alice's laptop restores it with its own edit: an edit/edit conflict again.
    alices_laptop
        .store()
        .update("tasks", id, fields(json!({"status": "doing"})))
        .expect("laptop edits");
    alices_laptop.sync().await;
    alices_laptop
        .store()
        .resolve("tasks", id, &Resolution::Restore)
        .expect("laptop restores");
    assert_eq!(alices_laptop.sync().await.outbox, 0);
    bob.sync().await;
    let conflict = bob.store().conflict("tasks", id).expect("still a conflict");
    assert_eq!(conflict.kind, ConflictKind::EditEdit);
    assert_eq!(conflict.fields, vec!["title".to_string()]);
    assert!(!conflict.theirs.deleted);

    // Theirs is the restored record as it is: nothing new goes to the server.
    bob.store()
        .resolve("tasks", id, &Resolution::Theirs)
        .expect("theirs");
    assert_eq!(bob.sync().await.outbox, 0);
    let on_server = server.record("tasks", id).await.expect("server");
    assert!(!on_server.deleted);
    assert_eq!(on_server.fields.get("title"), Some(&json!("Alice's title")));
    assert_eq!(on_server.fields.get("status"), Some(&json!("doing")));
    assert_eq!(server.history_len("tasks", id).await, 4);
    let at_bob = bob.store().record("tasks", id).expect("bob");
    assert_eq!(
        (at_bob.deleted, &at_bob.fields, at_bob.state),
        (false, &on_server.fields, RecordState::Synced)
    );
}

#[tokio::test]
async fn taking_theirs_on_an_edit_conflict_the_server_then_deleted_accepts_the_deletion() {
    let server = TestServer::start().await;
    let alice = Client::login(&server, "alice").await;
    let bob = Client::login(&server, "bob").await;
    let id = task_everyone_has(&server, &alice, &bob).await;
    title_conflict_at_bob(&alice, &bob, id).await;
    alice_deletes_it(&alice, &bob, id).await;

    bob.store()
        .resolve("tasks", id, &Resolution::Theirs)
        .expect("theirs");
    assert_eq!(bob.sync().await.outbox, 0);
    assert!(server.record("tasks", id).await.expect("server").deleted);
    assert_eq!(
        server.history_len("tasks", id).await,
        3,
        "create, alice's edit and her delete: no restore"
    );
    let at_bob = bob.store().record("tasks", id).expect("bob");
    assert_eq!((at_bob.deleted, at_bob.state), (true, RecordState::Synced));
}

#[tokio::test]
async fn a_delete_conflict_settles_itself_when_the_server_deletes_the_record_too() {
    let server = TestServer::start().await;
    let alice = Client::login(&server, "alice").await;
    let bob = Client::login(&server, "bob").await;
    let id = task_everyone_has(&server, &alice, &bob).await;
    alice.store().delete("tasks", id).expect("alice deletes");
    bob.store()
        .update("tasks", id, fields(json!({"priority": 9})))
        .expect("bob edits");
    bob.sync().await;
    alice.sync().await;
    assert_eq!(
        alice.store().conflict("tasks", id).expect("conflict").kind,
        ConflictKind::DeleteEdit
    );

    bob.store().delete("tasks", id).expect("bob deletes too");
    bob.sync().await;
    let report = alice.sync().await;
    assert_eq!((report.conflicts, report.outbox), (0, 0));
    assert!(alice.store().conflicts().expect("conflicts").is_empty());
    let at_alice = alice.store().record("tasks", id).expect("tombstone");
    assert_eq!(
        (at_alice.deleted, at_alice.state),
        (true, RecordState::Synced)
    );
    assert_eq!(server.history_len("tasks", id).await, 3);
}

#[tokio::test]
async fn a_change_made_just_before_my_push_is_still_pulled() {
    let server = TestServer::start().await;
    let alice = Client::login(&server, "alice").await;
    let bob = Client::login(&server, "bob").await;
    let a = task_everyone_has(&server, &alice, &bob).await;
    let b = task_everyone_has(&server, &alice, &bob).await;

    // Bob's write lands between alice's last pull and her push: her cursor
    // may not jump over it along with her own writes.
    bob.store()
        .update("tasks", a, fields(json!({"status": "doing"})))
        .expect("bob");
    bob.sync().await;
    alice
        .store()
        .update("tasks", b, fields(json!({"status": "done"})))
        .expect("alice");
    let report = alice.sync().await;
    assert_eq!((report.pushed.applied, report.pulled), (1, 1));
    assert_eq!(
        alice
            .store()
            .record("tasks", a)
            .expect("a")
            .fields
            .get("status"),
        Some(&json!("doing"))
    );
    // Her own write followed on from her cursor now: nothing to pull back.
    alice
        .store()
        .update("tasks", b, fields(json!({"priority": 1})))
        .expect("alice");
    let report = alice.sync().await;
    assert_eq!((report.pushed.applied, report.pulled), (1, 0));
    bob.sync().await;
    for id in [a, b] {
        let on_server = server.record("tasks", id).await.expect("server");
        for c in [&alice, &bob] {
            let r = c.store().record("tasks", id).expect("record");
            assert_eq!(
                (&r.fields, r.base_version()),
                (&on_server.fields, Some(on_server.version))
            );
        }
    }
    assert_eq!(
        alice.store().cursor().expect("cursor"),
        bob.store().cursor().expect("cursor")
    );
}

#[tokio::test]
async fn edits_coalesce_into_one_entry_that_keeps_the_first_base() {
    let server = TestServer::start().await;
    let alice = Client::login(&server, "alice").await;
    let bob = Client::login(&server, "bob").await;
    let id = task_everyone_has(&server, &alice, &bob).await;
    let store = alice.store();
    store
        .update("tasks", id, fields(json!({"status": "doing"})))
        .expect("1");
    store
        .update(
            "tasks",
            id,
            fields(json!({"status": "done", "priority": 1})),
        )
        .expect("2");
    let outbox = store.outbox(10).expect("outbox");
    assert_eq!(outbox.len(), 1);
    let m = &outbox[0].mutation;
    assert_eq!(m.base_version, Some(1));
    assert_eq!(m.base, fields(json!({"status": "todo", "priority": 2})));
    assert_eq!(m.fields, fields(json!({"status": "done", "priority": 1})));

    // Created and deleted before it was ever sent: nothing to send at all.
    let gone = store
        .create("tasks", fields(json!({"title": "never mind"})))
        .expect("create");
    store.delete("tasks", gone).expect("delete");
    assert_eq!(store.outbox(10).expect("outbox").len(), 1);
    assert!(store.record("tasks", gone).is_ok_and(|r| r.deleted));

    // An entry in flight is never modified: the next edit gets its own entry.
    let batch = store.take_batch(10).expect("batch");
    assert_eq!(batch.len(), 1);
    store
        .update("tasks", id, fields(json!({"assignee": "bob"})))
        .expect("3");
    let outbox = store.outbox(10).expect("outbox");
    assert_eq!(outbox.len(), 2);
    assert_eq!(outbox[0].mutation, batch[0].mutation);
    // The sync re-sends the one in flight, then the later one, rebased on the first's answer.
    let report = alice.sync().await;
    assert_eq!(
        (report.pushed.applied, report.conflicts, report.outbox),
        (2, 0, 0)
    );
    assert_eq!(server.history_len("tasks", id).await, 3);
    assert_eq!(
        server.record("tasks", id).await.expect("server").fields,
        fields(
            json!({"title": "Call the plumber", "status": "done", "priority": 1, "assignee": "bob"})
        )
    );
}

#[tokio::test]
async fn small_batches_go_out_while_earlier_answers_are_stored_and_keep_their_order() {
    let server = TestServer::start().await;
    let alice = Client::login(&server, "alice").await;
    let store = alice.store();
    let ids: Vec<uuid::Uuid> = (0..7)
        .map(|i| {
            store
                .create("tasks", fields(json!({"title": format!("task {i}")})))
                .expect("create")
        })
        .collect();
    alice.sync().await;
    // The first record's edit is in flight (as after a crash) and edited again;
    // the others are edited once. With batches of two, the later edit of the
    // first record must wait for the answer to its first edit.
    store
        .update("tasks", ids[0], fields(json!({"status": "doing"})))
        .expect("edit");
    assert_eq!(store.take_batch(1).expect("batch").len(), 1);
    store
        .update("tasks", ids[0], fields(json!({"status": "done"})))
        .expect("edit again");
    for (i, id) in ids.iter().enumerate().skip(1) {
        store
            .update("tasks", *id, fields(json!({"priority": i})))
            .expect("edit");
    }
    let mut engine = ferry_core::SyncEngine::new(alice.engine.profile().clone());
    engine.batch_size = 2;
    let report = engine.sync().await.expect("sync");
    assert_eq!(
        (
            report.pushed.applied,
            report.pushed.merged,
            report.conflicts,
            report.outbox
        ),
        (8, 0, 0, 0)
    );
    assert_eq!(server.history_len("tasks", ids[0]).await, 3);
    let first = server.record("tasks", ids[0]).await.expect("server");
    assert_eq!(first.fields.get("status"), Some(&json!("done")));
    for (i, id) in ids.iter().enumerate().skip(1) {
        let r = server.record("tasks", *id).await.expect("server");
        assert_eq!(r.fields.get("priority"), Some(&json!(i)));
        assert_eq!(
            store.record("tasks", *id).expect("local").base_version(),
            Some(r.version)
        );
    }
}

#[tokio::test]
async fn a_response_lost_after_the_server_committed_is_retried_without_applying_twice() {
    let server = TestServer::start().await;
    let alice = Client::login(&server, "alice").await;
    alice.sync().await;
    let id = alice
        .store()
        .create("tasks", fields(json!({"title": "once"})))
        .expect("create");
    alice
        .store()
        .create("contacts", fields(json!({"name": "Ann"})))
        .expect("create");
    // The push reaches the server, which commits; the answer never arrives.
    let batch = alice.store().take_batch(1000).expect("batch");
    let api = alice.engine.api().expect("api");
    let mutations: Vec<_> = batch.iter().map(|e| e.mutation.clone()).collect();
    let lost = api.push(&mutations).await.expect("pushed");
    assert!(lost.results.iter().all(|r| r.status == Status::Applied));
    alice
        .store()
        .update("tasks", id, fields(json!({"status": "doing"})))
        .expect("edit meanwhile");
    // The next sync re-sends both with the same mutation ids.
    let report = alice.sync().await;
    assert_eq!(
        (report.pushed.applied, report.conflicts, report.outbox),
        (3, 0, 0)
    );
    assert_eq!(
        server.history_len("tasks", id).await,
        2,
        "create once, edit once"
    );
    assert_eq!(
        alice
            .store()
            .record("tasks", id)
            .expect("local")
            .base_version(),
        Some(2)
    );
}

#[tokio::test]
async fn a_client_killed_mid_sync_and_restarted_loses_nothing_and_duplicates_nothing() {
    let server = TestServer::start().await;
    let mut alice = Client::login(&server, "alice").await;
    let bob = Client::login(&server, "bob").await;
    let id = task_everyone_has(&server, &alice, &bob).await;
    alice
        .store()
        .update("tasks", id, fields(json!({"status": "done"})))
        .expect("edit");
    let new = alice
        .store()
        .create("tasks", fields(json!({"title": "new"})))
        .expect("create");
    // Killed after marking the batch in flight and sending it, before storing the answer.
    let batch = alice.store().take_batch(1000).expect("batch");
    let mutations: Vec<_> = batch.iter().map(|e| e.mutation.clone()).collect();
    alice
        .engine
        .api()
        .expect("api")
        .push(&mutations)
        .await
        .expect("push");
    alice.restart();
    assert_eq!(
        alice.store().counts().expect("counts").outbox,
        2,
        "nothing lost"
    );
    let report = alice.sync().await;
    assert_eq!(
        (report.outbox, report.conflicts, report.rejected),
        (0, 0, 0)
    );
    assert_eq!(server.history_len("tasks", id).await, 2);
    assert_eq!(server.history_len("tasks", new).await, 1);
    bob.sync().await;
    assert_eq!(
        bob.store()
            .record("tasks", id)
            .expect("bob")
            .fields
            .get("status"),
        Some(&json!("done"))
    );
}

#[tokio::test]
async fn a_pull_of_ten_thousand_records_comes_in_pages() {
    let server = TestServer::start().await;
    let records = (0..10_000)
        .map(|i| fields(json!({"name": format!("Contact {i:05}"), "company": "Acme"})))
        .collect();
    server.seed("alice", "contacts", records).await;
    let mut alice = Client::login(&server, "alice").await;
    std::sync::Arc::get_mut(&mut alice.engine)
        .expect("sole owner")
        .page_size = 700;
    let report = alice.sync().await;
    assert_eq!(report.pulled, 10_000);
    assert_eq!(alice.store().counts().expect("counts").records, 10_000);
    let mut q = ferry_core::Query::new("contacts");
    q.limit = 3;
    q.offset = 9_998;
    let page = alice.store().query(&q).expect("page");
    assert_eq!(page.records.len(), 2);
    assert!(!page.has_more);
    q.search = Some("contact 04242".into());
    q.offset = 0;
    let found = alice.store().query(&q).expect("search");
    assert_eq!(found.records.len(), 1);
    assert_eq!(
        alice.sync().await.pulled,
        0,
        "nothing to do the second time"
    );
}

#[tokio::test]
async fn an_edit_the_server_refuses_stays_visible_until_fixed() {
    let server = TestServer::start().await;
    let alice = Client::login(&server, "alice").await;
    let bob = Client::login(&server, "bob").await;
    let id = task_everyone_has(&server, &alice, &bob).await;
    // The server's status options change after alice's schema was cached.
    let mut defs = schema_file_tasks(&server).await;
    defs.fields
        .iter_mut()
        .filter(|f| f.name == "status")
        .for_each(|f| f.options = Some(vec!["open".into(), "closed".into()]));
    alice
        .store()
        .update("tasks", id, fields(json!({"status": "done"})))
        .expect("valid locally");
    server
        .store
        .put_collections(&[defs])
        .await
        .expect("schema change");
    let report = alice.sync().await;
    assert_eq!(report.pushed.rejected, 1);
    let r = alice.store().record("tasks", id).expect("local");
    assert_eq!(r.state, RecordState::Rejected);
    assert_eq!(
        r.fields.get("status"),
        Some(&json!("done")),
        "the edit stays visible"
    );
    assert!(
        r.error
            .as_ref()
            .is_some_and(|e| e.message.contains("status"))
    );
    alice
        .store()
        .update("tasks", id, fields(json!({"status": "closed"})))
        .expect("fix");
    let report = alice.sync().await;
    assert_eq!((report.pushed.applied, report.rejected), (1, 0));
    assert_eq!(
        alice.store().record("tasks", id).expect("local").state,
        RecordState::Synced
    );
    assert_eq!(
        server
            .record("tasks", id)
            .await
            .expect("server")
            .fields
            .get("status"),
        Some(&json!("closed"))
    );
}

async fn schema_file_tasks(server: &TestServer) -> ferry_server::schema_file::CollectionDef {
    server
        .store
        .collections()
        .await
        .expect("defs")
        .into_iter()
        .find(|d| d.name == "tasks")
        .expect("tasks")
}

#[tokio::test]
async fn fields_added_and_removed_on_the_server_follow_without_losing_local_data() {
    let server = TestServer::start().await;
    let alice = Client::login(&server, "alice").await;
    let bob = Client::login(&server, "bob").await;
    let id = task_everyone_has(&server, &alice, &bob).await;
    let mut defs = schema_file_tasks(&server).await;
    defs.fields.push(ferry_core::protocol::Field {
        name: "estimate".into(),
        label: "Estimate".into(),
        field_type: ferry_core::protocol::FieldType::Number,
        required: false,
        options: None,
        merge: None,
        multiple: false,
        max_size: None,
        accept: None,
    });
    server
        .store
        .put_collections(&[defs.clone()])
        .await
        .expect("add field");
    alice.sync().await;
    assert!(
        alice
            .store()
            .collection("tasks")
            .expect("tasks")
            .field("estimate")
            .is_some()
    );
    alice
        .store()
        .update(
            "tasks",
            id,
            fields(json!({"estimate": 3, "status": "doing"})),
        )
        .expect("use it");
    // The field goes away (a migration) before alice's edit is sent: the
    // edit is refused, saying so, and stays with her to copy and discard.
    drop(defs);
    migrate_tasks(
        &server,
        ferry_core::protocol::admin::FieldMigration::RemoveField {
            field: "estimate".into(),
        },
    )
    .await;
    let report = alice.sync().await;
    assert_eq!((report.pushed.applied, report.pushed.rejected), (0, 1));
    assert!(
        alice
            .store()
            .collection("tasks")
            .expect("tasks")
            .field("estimate")
            .is_none()
    );
    let kept = alice.store().record("tasks", id).expect("local");
    assert_eq!(kept.state, RecordState::Rejected);
    assert_eq!(
        (kept.fields.get("estimate"), kept.fields.get("status")),
        (Some(&json!(3)), Some(&json!("doing")))
    );
    assert_eq!(
        kept.error.as_ref().map(|e| e.code.as_str()),
        Some("field_removed")
    );
}

#[tokio::test]
async fn carol_may_read_contacts_only() {
    let server = TestServer::start().await;
    let alice = Client::login(&server, "alice").await;
    alice
        .store()
        .create(
            "contacts",
            fields(json!({"name": "Ann", "region": "north"})),
        )
        .expect("create");
    alice
        .store()
        .create("contacts", fields(json!({"name": "Bo", "region": "south"})))
        .expect("create");
    alice.sync().await;
    let carol = Client::login(&server, "carol").await;
    carol.sync().await;
    // The north's contacts only.
    assert_eq!(carol.store().counts().expect("counts").records, 1);
    assert!(matches!(
        carol
            .store()
            .create("contacts", fields(json!({"name": "x"}))),
        Err(Error::ReadOnly(_))
    ));
    assert!(matches!(
        carol.store().collection("tasks"),
        Err(Error::UnknownCollection(_))
    ));
}

#[tokio::test]
async fn a_push_answer_dropped_by_a_proxy_is_retried_and_applied_once() {
    let server = TestServer::start().await;
    let proxy = LossyProxy::start(&server).await;
    let alice = Client::login_via(&proxy.url, "alice").await;
    let id = alice
        .store()
        .create("tasks", fields(json!({"title": "exactly once"})))
        .expect("create");
    let other = alice
        .store()
        .create("contacts", fields(json!({"name": "Once"})))
        .expect("create");
    proxy.drop_next_push_response();
    let err = alice.engine.sync().await.expect_err("the answer is lost");
    assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
    assert_eq!(proxy.dropped(), 1);
    assert!(
        server.record("tasks", id).await.is_some(),
        "the server committed"
    );
    let outbox = alice.store().outbox(10).expect("outbox");
    assert!(
        outbox.len() == 2 && outbox.iter().all(|e| e.in_flight),
        "still waiting for an answer"
    );

    let report = alice.sync().await;
    assert_eq!(
        (report.pushed.applied, report.outbox, report.conflicts),
        (2, 0, 0)
    );
    assert_eq!(server.history_len("tasks", id).await, 1);
    assert_eq!(server.history_len("contacts", other).await, 1);
    assert_eq!(
        alice.store().record("tasks", id).expect("local").state,
        RecordState::Synced
    );
}

#[tokio::test]
async fn an_edit_made_while_the_first_was_in_flight_is_part_of_my_side_of_the_conflict() {
    let server = TestServer::start().await;
    let alice = Client::login(&server, "alice").await;
    let bob = Client::login(&server, "bob").await;
    let id = task_everyone_has(&server, &alice, &bob).await;
    bob.store()
        .update("tasks", id, fields(json!({"title": "Bob's"})))
        .expect("first");
    let in_flight = bob.store().take_batch(10).expect("batch");
    assert_eq!(in_flight.len(), 1);
    bob.store()
        .update("tasks", id, fields(json!({"priority": 7})))
        .expect("second");
    alice
        .store()
        .update("tasks", id, fields(json!({"title": "Alice's"})))
        .expect("alice");
    alice.sync().await;
    let report = bob.sync().await;
    assert_eq!((report.conflicts, report.outbox), (1, 0));
    bob.store()
        .resolve("tasks", id, &Resolution::Mine)
        .expect("mine");
    bob.sync().await;
    let on_server = server.record("tasks", id).await.expect("server");
    assert_eq!(on_server.fields.get("title"), Some(&json!("Bob's")));
    assert_eq!(on_server.fields.get("priority"), Some(&json!(7)));
}

#[tokio::test]
async fn a_push_batch_holds_about_push_bytes_and_at_least_one_entry() {
    let server = TestServer::start().await;
    let alice = Client::login(&server, "alice").await;
    let store = alice.store();
    let notes = "n".repeat(1000);
    for i in 0..3 {
        store
            .create(
                "tasks",
                fields(json!({"title": format!("task {i}"), "notes": notes})),
            )
            .expect("create");
    }
    // Each entry is 1,000 to 1,400 bytes of JSON.
    assert_eq!(store.take_batch_within(1000, 10).expect("batch").len(), 1);
    assert_eq!(store.take_batch_within(1000, 3000).expect("batch").len(), 2);
    assert_eq!(
        store.take_batch_within(2, usize::MAX).expect("batch").len(),
        2
    );
    assert_eq!(
        store
            .take_batch_within(1000, usize::MAX)
            .expect("batch")
            .len(),
        3
    );
    let mut engine = ferry_core::SyncEngine::new(alice.engine.profile().clone());
    engine.push_bytes = 1;
    let report = engine.sync().await.expect("sync in pushes of one");
    assert_eq!(report.pushed.applied, 3);
    assert_eq!(report.outbox, 0);
}

/// Runs a field migration of tasks on the server, as the admin, to its end.
async fn migrate_tasks(server: &TestServer, m: ferry_core::protocol::admin::FieldMigration) {
    let job = ferry_server::migration::start(&server.state, "tasks", m, "admin")
        .await
        .unwrap_or_else(|e| panic!("migration refused: {e:?}"));
    common::eventually("the migration finishes", || {
        server.state.migrations.list().iter().any(|j| {
            j.id == job.id && j.state != ferry_core::protocol::admin::MigrationState::Running
        })
    })
    .await;
    let done = server.state.migrations.list();
    let job = done.iter().find(|j| j.id == job.id).expect("listed");
    assert_eq!(
        job.state,
        ferry_core::protocol::admin::MigrationState::Done,
        "{job:?}"
    );
}

/// An administrator renames one field, removes another and changes the
/// type of a third while alice holds an unsent edit of each: the rename's
/// and the type change's land on the server under the new name and type;
/// the edit of the removed field is refused, says so, and stays on her
/// laptop; bob, in sync, sees the fields as they are now.
async fn migrations_while_alice_edits_offline(server: TestServer) {
    use ferry_core::protocol::FieldType;
    use ferry_core::protocol::admin::FieldMigration;
    let alice = Client::login(&server, "alice").await;
    let bob = Client::login(&server, "bob").await;
    let create = |f: serde_json::Value| alice.store().create("tasks", fields(f)).expect("create");
    let renamed = create(json!({"title": "notes", "notes": "first line"}));
    let removed = create(json!({"title": "assignee", "assignee": "bob"}));
    let retyped = create(json!({"title": "priority", "priority": 2}));
    alice.sync().await;
    bob.sync().await;
    // Offline edits, sent only after the migrations.
    let edit =
        |id, f: serde_json::Value| alice.store().update("tasks", id, fields(f)).expect("edit");
    edit(renamed, json!({"notes": "first line\nsecond line"}));
    edit(removed, json!({"assignee": "carol"}));
    edit(retyped, json!({"priority": 3}));

    migrate_tasks(
        &server,
        FieldMigration::RenameField {
            field: "notes".into(),
            to: "details".into(),
        },
    )
    .await;
    migrate_tasks(
        &server,
        FieldMigration::RemoveField {
            field: "assignee".into(),
        },
    )
    .await;
    migrate_tasks(
        &server,
        FieldMigration::ChangeType {
            field: "priority".into(),
            to: FieldType::Text,
        },
    )
    .await;

    let report = alice.sync().await;
    assert_eq!(
        (
            report.pushed.applied + report.pushed.merged,
            report.pushed.rejected,
            report.pushed.conflicts
        ),
        (2, 1, 0),
        "{report:?}"
    );
    let on_server = |id| {
        let server = &server;
        async move {
            server
                .record("tasks", id)
                .await
                .expect("on the server")
                .fields
        }
    };
    assert_eq!(
        on_server(renamed).await.get("details"),
        Some(&json!("first line\nsecond line"))
    );
    assert_eq!(on_server(renamed).await.get("notes"), None);
    assert_eq!(on_server(retyped).await.get("priority"), Some(&json!("3")));
    assert_eq!(on_server(removed).await.get("assignee"), None);
    // Her edit of the removed field stays with her, saying why.
    let kept = alice.store().record("tasks", removed).expect("local");
    assert_eq!(kept.state, RecordState::Rejected);
    assert_eq!(kept.fields.get("assignee"), Some(&json!("carol")));
    assert!(
        kept.error
            .as_ref()
            .is_some_and(|e| e.message.contains("removed the field \"assignee\"")),
        "{:?}",
        kept.error
    );
    let mine = alice.store().record("tasks", renamed).expect("local");
    assert_eq!(mine.state, RecordState::Synced);
    assert_eq!(
        mine.fields.get("details"),
        Some(&json!("first line\nsecond line"))
    );
    let tasks = alice.store().collection("tasks").expect("tasks");
    assert!(tasks.field("details").is_some() && tasks.field("notes").is_none());
    assert_eq!(
        tasks.field("priority").map(|f| f.field_type),
        Some(FieldType::Text)
    );

    bob.sync().await;
    let theirs = bob.store().record("tasks", retyped).expect("bob's");
    assert_eq!(theirs.fields.get("priority"), Some(&json!("3")));
    assert_eq!(
        bob.store()
            .record("tasks", renamed)
            .expect("bob's")
            .fields
            .get("details"),
        Some(&json!("first line\nsecond line"))
    );
}

#[tokio::test]
async fn migrations_while_alice_edits_offline_on_sqlite() {
    migrations_while_alice_edits_offline(TestServer::start().await).await;
}

#[tokio::test]
async fn migrations_while_alice_edits_offline_on_postgres() {
    let Some(server) = TestServer::start_on_postgres().await else {
        return;
    };
    migrations_while_alice_edits_offline(server).await;
}
