//! What the desktop app relies on beyond the CLI: undoing a delete, counts
//! for the sidebar and the scroll height, tag filters, and sync events that
//! name the records they changed.

mod common;

use common::{Client, TestServer, fields};
use ferry_core::{Event, Query};
use serde_json::json;

#[tokio::test]
async fn undoing_an_unsent_delete_withdraws_it() {
    let server = TestServer::start().await;
    let alice = Client::login(&server, "alice").await;
    let id = alice
        .store()
        .create("tasks", fields(json!({"title": "Keep me"})))
        .expect("create");
    alice.sync().await;
    alice
        .store()
        .update("tasks", id, fields(json!({"status": "doing"})))
        .expect("edit");
    alice.store().delete("tasks", id).expect("delete");
    assert!(alice.store().record("tasks", id).expect("local").deleted);

    alice.store().restore("tasks", id).expect("undo");
    let local = alice.store().record("tasks", id).expect("local");
    assert!(!local.deleted);
    assert_eq!(local.fields.get("status"), Some(&json!("doing")));
    // One entry is left: the edit made before the delete, not the delete.
    let outbox = alice.store().outbox(10).expect("outbox");
    assert_eq!(outbox.len(), 1, "{outbox:?}");
    assert_eq!(outbox[0].mutation.op, ferry_core::protocol::Op::Put);
    assert_eq!(alice.sync().await.outbox, 0);
    let on_server = server.record("tasks", id).await.expect("server");
    assert!(!on_server.deleted);
    assert_eq!(on_server.fields.get("status"), Some(&json!("doing")));
}

#[tokio::test]
async fn undoing_a_delete_the_server_already_has_restores_the_record() {
    let server = TestServer::start().await;
    let alice = Client::login(&server, "alice").await;
    let bob = Client::login(&server, "bob").await;
    let id = alice
        .store()
        .create(
            "tasks",
            fields(json!({"title": "Back again", "priority": 2})),
        )
        .expect("create");
    alice.sync().await;
    alice.store().delete("tasks", id).expect("delete");
    alice.sync().await;
    assert!(server.record("tasks", id).await.expect("server").deleted);

    alice.store().restore("tasks", id).expect("undo");
    assert_eq!(alice.sync().await.outbox, 0);
    let on_server = server.record("tasks", id).await.expect("server");
    assert!(!on_server.deleted);
    assert_eq!(on_server.fields.get("title"), Some(&json!("Back again")));
    assert_eq!(on_server.fields.get("priority"), Some(&json!(2)));
    bob.sync().await;
    assert!(!bob.store().record("tasks", id).expect("bob").deleted);
}

#[tokio::test]
async fn counts_and_tag_filters_match_the_query() {
    let server = TestServer::start().await;
    let alice = Client::login(&server, "alice").await;
    for (i, tags) in [json!(["home"]), json!(["work", "home"]), json!(["work"])]
        .into_iter()
        .enumerate()
    {
        alice
            .store()
            .create(
                "contacts",
                fields(json!({"name": format!("Person {i}"), "tags": tags, "vip": i == 0})),
            )
            .expect("create");
    }
    let mut q = Query::new("contacts");
    assert_eq!(alice.store().count(&q).expect("count"), 3);
    q.filters = fields(json!({"tags": "home"}));
    assert_eq!(alice.store().count(&q).expect("count"), 2);
    assert_eq!(alice.store().query(&q).expect("query").records.len(), 2);
    q.filters = fields(json!({"vip": true}));
    assert_eq!(alice.store().count(&q).expect("count"), 1);
    q.filters = fields(json!({}));
    q.search = Some("person 2".into());
    assert_eq!(alice.store().count(&q).expect("count"), 1);
    let counts = alice.store().collection_counts().expect("counts");
    assert_eq!(counts, vec![("contacts".to_string(), 3)]);
}

#[tokio::test]
async fn a_sync_names_the_records_it_changed() {
    let server = TestServer::start().await;
    let alice = Client::login(&server, "alice").await;
    let bob = Client::login(&server, "bob").await;
    let id = bob
        .store()
        .create("tasks", fields(json!({"title": "From bob"})))
        .expect("create");
    bob.sync().await;
    let mut events = alice.engine.subscribe();
    alice.sync().await;
    let mut named = None;
    while let Ok(e) = events.try_recv() {
        if let Event::DataChanged { records, truncated } = e {
            named = Some((records, truncated));
        }
    }
    let (records, truncated) = named.expect("a data-changed event");
    assert!(!truncated);
    assert!(
        records
            .iter()
            .any(|r| r.collection == "tasks" && r.id == id),
        "{records:?}"
    );
}

/// An edit the server would reject for its size is refused at once, before
/// it enters the outbox, with the field and the limit named.
#[tokio::test]
async fn an_oversized_edit_is_refused_locally() {
    let server = TestServer::start().await;
    let alice = Client::login(&server, "alice").await;
    let max = ferry_core::protocol::MAX_FIELD_BYTES;
    let err = alice
        .store()
        .create(
            "tasks",
            fields(json!({"title": "Big", "notes": "n".repeat(max)})),
        )
        .expect_err("too large a field");
    let msg = err.to_string();
    assert!(
        msg.contains("notes") && msg.contains(&max.to_string()),
        "{msg}"
    );
    let id = alice
        .store()
        .create(
            "contacts",
            fields(json!({"name": "Big", "notes": "x".repeat(250_000)})),
        )
        .expect("create");
    for field in ["email", "phone", "company"] {
        alice
            .store()
            .update("contacts", id, fields(json!({field: "x".repeat(250_000)})))
            .expect("edit");
    }
    let err = alice
        .store()
        .update("contacts", id, fields(json!({"name": "y".repeat(100_000)})))
        .expect_err("too large a record");
    assert!(err.to_string().contains("at most"), "{err}");
    assert_eq!(alice.store().outbox(usize::MAX).expect("outbox").len(), 1);
    alice.sync().await;
    assert!(alice.store().outbox(usize::MAX).expect("outbox").is_empty());
    assert_eq!(server.history_len("contacts", id).await, 1);
    // History comes back whole through the pages.
    let versions = alice.engine.history("contacts", id).await.expect("history");
    assert_eq!(versions.len(), 1);
    assert_eq!(
        versions[0].fields["email"].as_str().map(str::len),
        Some(250_000)
    );
}
