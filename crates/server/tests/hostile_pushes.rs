//! Pushes meant to hurt the server: rejected mutations that would fill the
//! disk, and stamps far in the future that would pin every clock.

mod common;

use std::time::Duration;

use common::{TestServer, create, update};
use ferry_protocol::{Access, Field, FieldType, Hlc, Policy};
use ferry_server::Limits;
use ferry_server::schema_file::CollectionDef;
use serde_json::{Value, json};
use uuid::Uuid;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn wall_ms(record: &Value) -> i64 {
    let stamp: Hlc = record["updated_at"]
        .as_str()
        .expect("updated_at")
        .parse()
        .expect("a stamp");
    stamp.wall_ms()
}

/// How many mutation ids the server remembers (pruning with no horizon
/// forgets and counts them all).
async fn remembered(server: &TestServer) -> usize {
    tokio::time::sleep(Duration::from_millis(5)).await;
    server
        .store
        .prune_mutations(Duration::ZERO, usize::MAX)
        .await
        .expect("prune")
}

/// Carol may only read contacts. 500 mutations with 16 KB collection names
/// (and others to collections she may not write) store nothing, and the
/// answers do not echo the names. Before the fix each was remembered with
/// its name, ~16 MB a push, and every answer repeated the name.
#[tokio::test]
async fn a_read_only_user_pushing_long_names_stores_nothing_and_gets_no_echo() {
    let server = TestServer::start_with(Limits::default()).await;
    let carol = server.login("carol").await;
    let long = "x".repeat(16 * 1024);
    let mutations: Vec<Value> = (0..500)
        .map(|i| {
            let collection = match i % 4 {
                0 | 1 => format!("{long}{i}"),
                2 => "tasks".to_string(),
                _ => "contacts".to_string(),
            };
            create(&collection, Uuid::now_v7(), json!({"title": "t"}))
        })
        .collect();
    for _ in 0..2 {
        let resp = server
            .post("/v1/push", &carol)
            .json(&json!({ "mutations": mutations }))
            .send()
            .await
            .expect("push");
        assert_eq!(resp.status(), 200);
        let body = resp.text().await.expect("body");
        assert!(!body.contains(&long[..100]), "the name is echoed");
        assert!(body.len() < 200 * 1024, "{} bytes of answers", body.len());
        let body: Value = serde_json::from_str(&body).expect("JSON");
        for (i, r) in body["results"]
            .as_array()
            .expect("results")
            .iter()
            .enumerate()
        {
            let code = if i % 4 < 2 {
                "invalid_collection"
            } else {
                "forbidden"
            };
            assert_eq!(
                (&r["status"], &r["error"]["code"]),
                (&json!("rejected"), &json!(code))
            );
        }
        assert_eq!(remembered(&server).await, 0, "nothing remembered");
    }
}

fn notes_collection() -> CollectionDef {
    CollectionDef {
        partition_by: None,
        fetch_files: None,
        retired: Default::default(),
        history: None,
        name: "notes".into(),
        label: "Notes".into(),
        title_field: "title".into(),
        policy: Policy::NewestWins,
        fields: vec![Field {
            name: "title".into(),
            label: "Title".into(),
            field_type: FieldType::Text,
            required: true,
            options: None,
            merge: None,
            multiple: false,
            max_size: None,
            accept: None,
        }],
    }
}

/// A stamp in year 9999 is capped: the edit is applied (nothing lost), the
/// server's stamps stay near now, and the stamp does not win `newest_wins`
/// against a later honest edit. Fails without the caps (push handler:
/// `newest_wins` keeps the 9999 edit; clock: `updated_at` in 9999).
#[tokio::test]
async fn a_stamp_in_year_9999_pins_neither_the_server_clock_nor_newest_wins() {
    // No drift allowed, so "later than the capped stamp" is now.
    let server = TestServer::start_with(Limits {
        max_clock_drift: Duration::ZERO,
        ..common::test_limits()
    })
    .await;
    server
        .store
        .put_collections(&[notes_collection()])
        .await
        .expect("collection");
    for user in ["alice", "bob"] {
        server
            .store
            .set_grant(user, "notes", Some(Access::Write))
            .await
            .expect("grant");
    }
    let (alice, bob) = (server.login("alice").await, server.login("bob").await);
    let id = Uuid::now_v7();
    let created = server
        .push(&alice, &[create("notes", id, json!({"title": "first"}))])
        .await;
    assert_eq!(created[0]["status"], "applied");

    let mut evil = update(
        "notes",
        id,
        1,
        json!({"title": "first"}),
        json!({"title": "evil"}),
    );
    evil["hlc"] = json!("9999-12-31T23:59:59.999Z-ffff-evil");
    let r = server.push(&alice, &[evil]).await;
    assert_eq!(r[0]["status"], "applied", "a skewed clock loses no edit");
    let record = &r[0]["record"];
    assert!((wall_ms(record) - now_ms()).abs() < 60_000, "{record}");

    // Bob, from the first version, a moment later: his edit is newer.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let honest = update(
        "notes",
        id,
        1,
        json!({"title": "first"}),
        json!({"title": "honest"}),
    );
    let r = server.push(&bob, &[honest]).await;
    assert_eq!(r[0]["status"], "merged", "{}", r[0]);
    assert_eq!(r[0]["record"]["fields"]["title"], "honest", "{}", r[0]);
    let later = wall_ms(&r[0]["record"]);
    assert!((later - now_ms()).abs() < 60_000, "{}", r[0]);
}

/// The server forgets mutation ids past its horizon on its own (a push
/// prunes, at most once a minute); newer ones stay. Fails if pushes never
/// prune, or prune the wrong side of the horizon.
#[tokio::test]
async fn pushes_forget_mutation_ids_past_the_horizon() {
    let server = TestServer::start_with(Limits {
        mutation_horizon: Duration::from_millis(400),
        ..common::test_limits()
    })
    .await;
    let alice = server.login("alice").await;
    let old = create("tasks", Uuid::now_v7(), json!({"title": "old"}));
    // The first push prunes (nothing is old yet) and starts the minute.
    server.push(&alice, std::slice::from_ref(&old)).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (state, _stop) = ferry_server::AppState::new(
        server.store.clone(),
        Limits {
            mutation_horizon: Duration::from_millis(400),
            ..common::test_limits()
        },
    )
    .await
    .expect("state");
    let new = create("tasks", Uuid::now_v7(), json!({"title": "new"}));
    server.push(&alice, &[new]).await;
    // Another process (a fresh state) has not pruned yet: it does now.
    state.prune_mutations_now_and_then().await;
    assert_eq!(remembered(&server).await, 1, "only the new id is left");
}
