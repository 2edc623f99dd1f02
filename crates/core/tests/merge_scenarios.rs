//! Merge by meaning through real clients, on a SQLite and on a PostgreSQL
//! server: tags merge as sets and notes by lines without asking; a clash in
//! notes reaches the client as parts and is settled part by part.

mod common;

use common::{Client, TestServer, fields};
use ferry_core::protocol::merge3::TextPart;
use ferry_core::{FieldChoice, RecordState, Resolution};
use serde_json::{Value, json};

const NOTES: &str = "Met at the fair.\nCall on Monday.\nLikes tea.\n";

/// A contact alice made and both have.
async fn contact_everyone_has(alice: &Client, bob: &Client) -> uuid::Uuid {
    let id = alice
        .store()
        .create(
            "contacts",
            fields(json!({"name": "Ada", "notes": NOTES, "tags": ["a", "later"]})),
        )
        .expect("create");
    alice.sync().await;
    bob.sync().await;
    id
}

async fn both_end_with(server: &TestServer, clients: [&Client; 2], id: uuid::Uuid) -> Value {
    let on_server = server.record("contacts", id).await.expect("server");
    for c in clients {
        let r = c.store().record("contacts", id).expect("record");
        assert_eq!(
            (&r.fields, r.state),
            (&on_server.fields, RecordState::Synced)
        );
        assert!(c.store().conflicts().expect("conflicts").is_empty());
    }
    Value::Object(on_server.fields)
}

async fn different_lines_and_tags_merge_without_asking(server: TestServer) {
    let alice = Client::login(&server, "alice").await;
    let bob = Client::login(&server, "bob").await;
    let id = contact_everyone_has(&alice, &bob).await;

    let edit = |c: &Client, f: Value| c.store().update("contacts", id, fields(f)).expect("edit");
    edit(
        &alice,
        json!({"notes": "Met at the fair in May.\nCall on Monday.\nLikes tea.\n", "tags": ["a"]}),
    );
    edit(
        &bob,
        json!({"notes": "Met at the fair.\nCall on Monday.\nLikes green tea.\nHas a dog.\n", "tags": ["a", "later", "urgent"]}),
    );
    alice.sync().await;
    let report = bob.sync().await;
    assert_eq!(
        (report.pushed.merged, report.pushed.conflicts),
        (1, 0),
        "{report:?}"
    );
    alice.sync().await;

    let now = both_end_with(&server, [&alice, &bob], id).await;
    assert_eq!(
        now["notes"],
        "Met at the fair in May.\nCall on Monday.\nLikes green tea.\nHas a dog.\n"
    );
    assert_eq!(now["tags"], json!(["a", "urgent"]));

    // History shows the merge: bob's edit, made on version 1, with alice's version 2.
    let history = server.store.history("contacts", id).await.expect("history");
    let merged_from: Vec<Option<i64>> = history.iter().map(|v| v.merged_from).collect();
    assert_eq!(merged_from, [None, None, Some(1)]);
}

async fn a_text_clash_is_settled_part_by_part(server: TestServer) {
    let alice = Client::login(&server, "alice").await;
    let bob = Client::login(&server, "bob").await;
    let id = contact_everyone_has(&alice, &bob).await;

    let edit = |c: &Client, f: Value| c.store().update("contacts", id, fields(f)).expect("edit");
    edit(
        &alice,
        json!({"notes": "Met at the fair in May.\nCall on Tuesday.\nLikes tea.\n"}),
    );
    edit(
        &bob,
        json!({"notes": "Met at the fair.\nCall on Wednesday.\nLikes green tea.\n", "tags": ["a"]}),
    );
    alice.sync().await;
    let report = bob.sync().await;
    assert_eq!(report.pushed.conflicts, 1, "{report:?}");

    let k = bob.store().conflict("contacts", id).expect("conflict");
    assert_eq!(k.fields, ["notes"]);
    let parts = &k.parts["notes"];
    assert_eq!(
        parts,
        &[
            TextPart::Clean("Met at the fair in May.\nCall on ".into()),
            TextPart::Clash {
                base: "Monday".into(),
                mine: "Wednesday".into(),
                theirs: "Tuesday".into(),
            },
            TextPart::Clean(".\nLikes green tea.\n".into()),
        ]
    );
    // Both, in order, for the clashing word; what merged cleanly stays.
    let text: String = parts
        .iter()
        .map(|p| match p {
            TextPart::Clean(t) => t.clone(),
            TextPart::Clash { mine, theirs, .. } => format!("{mine} or {theirs}"),
        })
        .collect();
    let choice = FieldChoice::Value(json!(text));
    bob.store()
        .resolve(
            "contacts",
            id,
            &Resolution::Fields(vec![("notes".into(), choice)]),
        )
        .expect("resolve");
    bob.sync().await;
    alice.sync().await;
    let now = both_end_with(&server, [&alice, &bob], id).await;
    assert_eq!(
        now["notes"],
        "Met at the fair in May.\nCall on Wednesday or Tuesday.\nLikes green tea.\n"
    );
    // Bob's tag change, not in conflict, went out with the resolution.
    assert_eq!(now["tags"], json!(["a"]));
}

async fn keeping_mine_on_a_text_clash_keeps_their_other_changes(server: TestServer) {
    let alice = Client::login(&server, "alice").await;
    let bob = Client::login(&server, "bob").await;
    let id = contact_everyone_has(&alice, &bob).await;

    let edit = |c: &Client, f: Value| c.store().update("contacts", id, fields(f)).expect("edit");
    edit(
        &alice,
        json!({"notes": "Met at the fair in May.\nCall on Tuesday.\nLikes tea.\n"}),
    );
    edit(
        &bob,
        json!({"notes": "Met at the fair.\nCall on Wednesday.\nLikes tea.\n"}),
    );
    alice.sync().await;
    bob.sync().await;
    bob.store()
        .resolve("contacts", id, &Resolution::Mine)
        .expect("resolve");
    bob.sync().await;
    alice.sync().await;
    let now = both_end_with(&server, [&alice, &bob], id).await;
    assert_eq!(
        now["notes"],
        "Met at the fair in May.\nCall on Wednesday.\nLikes tea.\n"
    );
}

/// A conflict whose clash went away with a later pull still lists the
/// fields only I have to send; "mine" for tags keeps their changes too.
async fn mine_on_tags_left_in_a_conflict_keeps_their_tag_changes(server: TestServer) {
    let alice = Client::login(&server, "alice").await;
    let bob = Client::login(&server, "bob").await;
    let id = contact_everyone_has(&alice, &bob).await;

    let edit = |c: &Client, f: Value| c.store().update("contacts", id, fields(f)).expect("edit");
    edit(
        &alice,
        json!({"notes": "Met at the fair.\nCall on Tuesday.\nLikes tea.\n", "tags": ["a"]}),
    );
    edit(
        &bob,
        json!({"notes": "Met at the fair.\nCall on Wednesday.\nLikes tea.\n", "tags": ["a", "later", "urgent"]}),
    );
    alice.sync().await;
    bob.sync().await;
    assert_eq!(
        bob.store()
            .conflict("contacts", id)
            .expect("conflict")
            .fields,
        ["notes"]
    );
    // Alice comes round to bob's day: nothing clashes any more, bob's tags are still to send.
    edit(
        &alice,
        json!({"notes": "Met at the fair.\nCall on Wednesday.\nLikes tea.\n"}),
    );
    alice.sync().await;
    bob.sync().await;
    let k = bob.store().conflict("contacts", id).expect("conflict");
    assert_eq!(k.fields, ["tags"]);
    bob.store()
        .resolve(
            "contacts",
            id,
            &Resolution::Fields(vec![("tags".into(), FieldChoice::Mine)]),
        )
        .expect("resolve");
    bob.sync().await;
    alice.sync().await;
    let now = both_end_with(&server, [&alice, &bob], id).await;
    assert_eq!(
        now["tags"],
        json!(["a", "urgent"]),
        "alice's removal of \"later\" stays"
    );
}

/// Each scenario as two tests: on a SQLite and on a PostgreSQL server
/// (skipped without one, failing under `FERRY_REQUIRE_PG`).
macro_rules! on_both_stores {
    ($($scenario:ident => $sqlite:ident, $postgres:ident;)*) => {$(
        #[tokio::test]
        async fn $sqlite() {
            $scenario(TestServer::start().await).await;
        }

        #[tokio::test]
        async fn $postgres() {
            if let Some(server) = TestServer::start_on_postgres().await {
                $scenario(server).await;
            }
        }
    )*};
}

on_both_stores! {
    mine_on_tags_left_in_a_conflict_keeps_their_tag_changes => mine_on_tags_left_in_a_conflict_keeps_their_tag_changes_on_sqlite, mine_on_tags_left_in_a_conflict_keeps_their_tag_changes_on_postgres;
    different_lines_and_tags_merge_without_asking => different_lines_and_tags_merge_without_asking_on_sqlite, different_lines_and_tags_merge_without_asking_on_postgres;
    a_text_clash_is_settled_part_by_part => a_text_clash_is_settled_part_by_part_on_sqlite, a_text_clash_is_settled_part_by_part_on_postgres;
    keeping_mine_on_a_text_clash_keeps_their_other_changes => keeping_mine_on_a_text_clash_keeps_their_other_changes_on_sqlite, keeping_mine_on_a_text_clash_keeps_their_other_changes_on_postgres;
}
