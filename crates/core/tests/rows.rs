//! Row rules end to end, a real server and real clients: records that leave
//! a person's view leave their laptop (list, search, counts), unless their
//! unsent edits are in them; then the edits wait as a `lost_access`
//! conflict to export, copy where they may write, or discard. Edits
//! outside one's writable rows are refused before they are queued. Each on
//! SQLite and on PostgreSQL.

mod common;

use common::{Client, TestServer, fields};
use ferry_core::protocol::{Access, ConflictKind};
use ferry_core::{Error, Query, Resolution};
use serde_json::json;
use uuid::Uuid;

fn search(client: &Client, words: &str) -> usize {
    let mut q = Query::new("contacts");
    q.search = Some(words.to_string());
    client.store().query(&q).expect("search").records.len()
}

fn listed(client: &Client) -> Vec<Uuid> {
    let mut q = Query::new("contacts");
    q.limit = 1000;
    client
        .store()
        .query(&q)
        .expect("list")
        .records
        .into_iter()
        .map(|r| r.id)
        .collect()
}

/// alice creates a contact in the north (where carol reads) and one in the south.
async fn north_and_south(alice: &Client) -> (Uuid, Uuid) {
    let north = alice
        .store()
        .create(
            "contacts",
            fields(json!({"name": "Nadia Nord", "region": "north"})),
        )
        .expect("create");
    let south = alice
        .store()
        .create(
            "contacts",
            fields(json!({"name": "Sami Sud", "region": "south"})),
        )
        .expect("create");
    alice.sync().await;
    (north, south)
}

/// A server, alice, and dana (who writes the north's contacts only) holding
/// alice's north contact.
async fn dana_of_the_north(server: TestServer) -> (TestServer, Client, Client, Uuid) {
    server
        .add_user("dana", "contacts", Access::Write, &["north"])
        .await;
    let alice = Client::login(&server, "alice").await;
    let (north, _) = north_and_south(&alice).await;
    let dana = Client::login(&server, "dana").await;
    dana.sync().await;
    (server, alice, dana, north)
}

async fn a_contact_moved_out_of_carols_region_leaves_her_laptop(server: TestServer) {
    let alice = Client::login(&server, "alice").await;
    let (north, _) = north_and_south(&alice).await;
    let carol = Client::login(&server, "carol").await;
    carol.sync().await;
    assert_eq!(listed(&carol), [north]);
    assert_eq!(search(&carol, "Nadia"), 1);

    alice
        .store()
        .update("contacts", north, fields(json!({"region": "south"})))
        .expect("move");
    alice.sync().await;
    let report = carol.sync().await;
    assert!(report.pulled >= 1, "{report:?}");
    assert!(listed(&carol).is_empty(), "gone from her list");
    assert_eq!(search(&carol, "Nadia"), 0, "and from her search");
    assert_eq!(carol.store().counts().expect("counts").records, 0);
    assert!(carol.store().conflicts().expect("conflicts").is_empty());

    // Moved back: it returns.
    alice
        .store()
        .update("contacts", north, fields(json!({"region": "north"})))
        .expect("move back");
    alice.sync().await;
    carol.sync().await;
    assert_eq!(listed(&carol), [north]);
}

async fn an_unsent_edit_of_a_record_that_left_my_view_waits_for_my_decision(server: TestServer) {
    let (server, alice, dana, north) = dana_of_the_north(server).await;
    // dana edits offline; meanwhile alice moves the contact to the south.
    dana.store()
        .update(
            "contacts",
            north,
            fields(json!({"phone": "+47 22 00 00 00"})),
        )
        .expect("edit");
    alice
        .store()
        .update("contacts", north, fields(json!({"region": "south"})))
        .expect("move");
    alice.sync().await;
    dana.sync().await;

    // Her edit is neither lost nor sent: the record stays, as a conflict.
    let conflicts = dana.store().conflicts().expect("conflicts");
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    let k = &conflicts[0];
    assert_eq!((k.kind, k.record_id), (ConflictKind::LostAccess, north));
    assert_eq!(k.mine_changes.get("phone"), Some(&json!("+47 22 00 00 00")));
    assert_eq!(listed(&dana), [north]);
    assert!(dana.store().outbox(10).expect("outbox").is_empty());
    let history = server.history_len("contacts", north).await;
    assert_eq!(history, 2, "created and moved; dana's edit was not applied");
    // It cannot be taken as an ordinary conflict.
    assert!(matches!(
        dana.store().resolve("contacts", north, &Resolution::Mine),
        Err(Error::InvalidResolution(_))
    ));

    // Exported: the file holds the edit, and the record leaves her laptop.
    let file = dana.dir.path().join("nadia.json");
    dana.store()
        .resolve(
            "contacts",
            north,
            &Resolution::Export { path: file.clone() },
        )
        .expect("export");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("file")).expect("JSON");
    assert_eq!(saved["changes"]["phone"], "+47 22 00 00 00");
    assert_eq!(saved["fields"]["name"], "Nadia Nord");
    assert!(listed(&dana).is_empty());
    assert!(dana.store().conflicts().expect("conflicts").is_empty());
    dana.sync().await;
    assert_eq!(server.history_len("contacts", north).await, 2);
}

async fn an_edit_the_server_refuses_as_forbidden_is_kept_and_can_be_copied_where_i_may_write(
    server: TestServer,
) {
    let (server, _alice, dana, north) = dana_of_the_north(server).await;
    // Her write of the north is taken away while she edits offline.
    dana.store()
        .update(
            "contacts",
            north,
            fields(json!({"notes": "Prefers mornings."})),
        )
        .expect("edit");
    server
        .grant("dana", "contacts", Some(Access::Read), &["north"])
        .await;
    dana.sync().await;
    let conflicts = dana.store().conflicts().expect("conflicts");
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    assert_eq!(conflicts[0].kind, ConflictKind::LostAccess);

    // Write access again, in the east only: the copy must go there.
    server
        .grant("dana", "contacts", Some(Access::Write), &["east"])
        .await;
    dana.sync().await;
    let refused = dana.store().resolve(
        "contacts",
        north,
        &Resolution::CopyAsNew {
            set: Default::default(),
        },
    );
    let Err(Error::InvalidField { field, message }) = refused else {
        panic!("a copy in the north is refused: {refused:?}");
    };
    assert_eq!(field, "region");
    assert!(message.contains("east"), "{message}");
    let set = fields(json!({"region": "east"}));
    let copy = dana
        .store()
        .resolve("contacts", north, &Resolution::CopyAsNew { set })
        .expect("copy")
        .expect("a new record");
    dana.sync().await;
    let stored = server
        .record("contacts", copy)
        .await
        .expect("on the server");
    assert_eq!(stored.fields["notes"], "Prefers mornings.");
    assert_eq!(stored.fields["region"], "east");
    assert_eq!(stored.fields["name"], "Nadia Nord");
    assert_eq!(
        server.history_len("contacts", north).await,
        1,
        "the original is untouched"
    );
    // She may still read the original: it shows the server's version again.
    let original = dana
        .store()
        .record("contacts", north)
        .expect("still hers to read");
    assert_eq!(original.fields.get("notes"), None);
    assert_eq!(original.state, ferry_core::RecordState::Synced);
}

async fn edits_outside_my_writable_rows_are_refused_before_they_are_queued(server: TestServer) {
    let (_server, _alice, dana, north) = dana_of_the_north(server).await;
    let moved = dana
        .store()
        .update("contacts", north, fields(json!({"region": "south"})));
    assert!(
        matches!(moved, Err(Error::InvalidField { ref field, .. }) if field == "region"),
        "{moved:?}"
    );
    let created = dana.store().create(
        "contacts",
        fields(json!({"name": "Elsewhere", "region": "west"})),
    );
    assert!(
        matches!(created, Err(Error::InvalidField { .. })),
        "{created:?}"
    );
    assert!(dana.store().outbox(10).expect("outbox").is_empty());
    // Within her rows, as ever.
    dana.store()
        .create(
            "contacts",
            fields(json!({"name": "Nearby", "region": "north"})),
        )
        .expect("create in the north");
}

/// dana edits a north contact offline, then the north is taken from her
/// (she writes the east instead): her edit waits as a `lost_access` conflict.
async fn a_lost_edit_in_the_north(server: TestServer) -> (TestServer, Client, Uuid) {
    let (server, _alice, dana, north) = dana_of_the_north(server).await;
    dana.store()
        .update("contacts", north, fields(json!({"phone": "1"})))
        .expect("edit");
    server.grant("dana", "contacts", None, &[]).await;
    server
        .grant("dana", "contacts", Some(Access::Write), &["east"])
        .await;
    dana.sync().await;
    assert_eq!(dana.store().conflicts().expect("conflicts").len(), 1);
    (server, dana, north)
}

async fn discarding_a_lost_edit_drops_it_and_the_record(server: TestServer) {
    let (server, dana, north) = a_lost_edit_in_the_north(server).await;
    dana.store()
        .resolve("contacts", north, &Resolution::Discard)
        .expect("discard");
    assert!(listed(&dana).is_empty());
    assert!(dana.store().conflicts().expect("conflicts").is_empty());
    dana.sync().await;
    assert_eq!(server.history_len("contacts", north).await, 1);
}

/// dana reads and writes the north and may hand contacts to the south,
/// which she may write but not read: the hand-over leaves her laptop (no
/// conflict, nothing lost), and the south holds it.
async fn a_contact_i_hand_to_a_region_i_cannot_read_leaves_my_laptop(server: TestServer) {
    let (server, alice, dana, north) = dana_of_the_north(server).await;
    server
        .grant_right(
            "dana",
            "contacts",
            Some(ferry_server::rules::Right::WriteOnly),
            &["south"],
        )
        .await;
    dana.sync().await;
    dana.store()
        .update("contacts", north, fields(json!({"region": "south"})))
        .expect("hand over");
    let handed = dana
        .store()
        .create(
            "contacts",
            fields(json!({"name": "Straight South", "region": "south"})),
        )
        .expect("create in the south");
    let report = dana.sync().await;
    assert_eq!(report.pushed.applied, 2, "{report:?}");
    assert!(listed(&dana).is_empty(), "both left her list");
    assert_eq!(search(&dana, "Nadia"), 0);
    assert_eq!(dana.store().counts().expect("counts").records, 0);
    assert!(dana.store().conflicts().expect("conflicts").is_empty());
    assert!(dana.store().outbox(10).expect("outbox").is_empty());
    dana.sync().await;
    assert!(listed(&dana).is_empty(), "and stay gone");
    alice.sync().await;
    let south = alice
        .store()
        .record("contacts", north)
        .expect("alice has it");
    assert_eq!(south.fields.get("region"), Some(&json!("south")));
    alice
        .store()
        .record("contacts", handed)
        .expect("and the new one");
    assert_eq!(server.history_len("contacts", north).await, 2);
}

/// The north is taken from dana while she has an unsent edit of a contact
/// there, and given back before she decides: the contact is hers to see
/// again, so discarding her edit leaves it on her laptop at the server's
/// version.
async fn a_record_that_comes_back_before_i_decide_stays_when_i_discard(server: TestServer) {
    let (server, dana, north) = a_lost_edit_in_the_north(server).await;
    server
        .grant("dana", "contacts", Some(Access::Write), &["north"])
        .await;
    dana.sync().await;
    dana.store()
        .resolve("contacts", north, &Resolution::Discard)
        .expect("discard");
    assert_eq!(listed(&dana), [north], "still hers to see");
    let record = dana.store().record("contacts", north).expect("record");
    assert_eq!(record.fields.get("phone"), None);
    assert_eq!(record.state, ferry_core::RecordState::Synced);
    dana.sync().await;
    assert_eq!(listed(&dana), [north]);
}

/// dana (the north) and erin (the south) edit at the same time as alice,
/// who sees everything: every edit lands, alice's and dana's edits of one
/// contact merge, and each of them ends holding exactly their own region.
async fn two_people_with_different_rows_edit_at_once(server: TestServer) {
    let (server, alice, dana, north) = dana_of_the_north(server).await;
    server
        .add_user("erin", "contacts", Access::Write, &["south"])
        .await;
    let erin = Client::login(&server, "erin").await;
    erin.sync().await;
    let south = listed(&erin);
    assert_eq!(south.len(), 1, "alice's south contact");
    let south = south[0];

    dana.store()
        .update("contacts", north, fields(json!({"phone": "dana's"})))
        .expect("dana edits");
    let dana_new = dana
        .store()
        .create(
            "contacts",
            fields(json!({"name": "Dana's", "region": "north"})),
        )
        .expect("dana creates");
    erin.store()
        .update("contacts", south, fields(json!({"phone": "erin's"})))
        .expect("erin edits");
    let erin_new = erin
        .store()
        .create(
            "contacts",
            fields(json!({"name": "Erin's", "region": "south"})),
        )
        .expect("erin creates");
    alice
        .store()
        .update(
            "contacts",
            north,
            fields(json!({"email": "alice@example.com"})),
        )
        .expect("alice edits");
    let (d, e, a) = tokio::join!(dana.sync(), erin.sync(), alice.sync());
    for report in [&d, &e, &a] {
        assert_eq!(report.pushed.rejected, 0, "{report:?}");
        assert_eq!(report.conflicts, 0, "{report:?}");
    }
    for c in [&dana, &erin, &alice, &dana, &erin] {
        c.sync().await;
    }
    let merged = alice.store().record("contacts", north).expect("north");
    assert_eq!(merged.fields.get("phone"), Some(&json!("dana's")));
    assert_eq!(
        merged.fields.get("email"),
        Some(&json!("alice@example.com"))
    );
    assert_eq!(
        alice
            .store()
            .record("contacts", south)
            .expect("south")
            .fields
            .get("phone"),
        Some(&json!("erin's"))
    );
    let mut dana_has = listed(&dana);
    dana_has.sort();
    let mut want = vec![north, dana_new];
    want.sort();
    assert_eq!(dana_has, want, "dana: the north only");
    let mut erin_has = listed(&erin);
    erin_has.sort();
    let mut want = vec![south, erin_new];
    want.sort();
    assert_eq!(erin_has, want, "erin: the south only");
    assert_eq!(
        dana.store()
            .record("contacts", north)
            .expect("north")
            .fields,
        merged.fields
    );
    assert_eq!(listed(&alice).len(), 4);
}

/// Each scenario on an embedded SQLite server and on PostgreSQL.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                super::$name(TestServer::start().await).await;
            }

            #[tokio::test]
            async fn postgres() {
                if let Some(server) = TestServer::start_on_postgres().await {
                    super::$name(server).await;
                }
            }
        }
    )*};
}

on_both_stores!(
    a_contact_moved_out_of_carols_region_leaves_her_laptop,
    an_unsent_edit_of_a_record_that_left_my_view_waits_for_my_decision,
    an_edit_the_server_refuses_as_forbidden_is_kept_and_can_be_copied_where_i_may_write,
    edits_outside_my_writable_rows_are_refused_before_they_are_queued,
    discarding_a_lost_edit_drops_it_and_the_record,
    a_contact_i_hand_to_a_region_i_cannot_read_leaves_my_laptop,
    a_record_that_comes_back_before_i_decide_stays_when_i_discard,
    two_people_with_different_rows_edit_at_once,
);
