//! Files on records end to end, a real server and real clients: attached
//! offline and usable at once, sent before the change naming them, fetched
//! with the records (eager collections) or when opened, sent once however
//! many laptops attach them, merged as a conflict with "keep both",
//! refused with a reason, sent again when the server lost them, evicted
//! least recently used. Each on SQLite and on PostgreSQL.

mod common;

use std::path::{Path, PathBuf};

use common::{Client, TestServer, fields};
use ferry_core::protocol::{ConflictKind, FileRef};
use ferry_core::{Error, Event, FieldChoice, Resolution};
use serde_json::json;
use uuid::Uuid;

fn front(c: &Client) -> ferry_core::Client {
    ferry_core::Client::with_engine(c.engine.clone(), "test")
}

/// A file of `len` bytes drawn from `seed` in `dir`.
fn make_file(dir: &Path, name: &str, len: usize, seed: u8) -> PathBuf {
    let path = dir.join(name);
    let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8 ^ seed).collect();
    std::fs::write(&path, bytes).expect("write a file");
    path
}

/// The plain bytes of a file kept in `c`'s profile (sealed there: the profile is encrypted).
fn kept_bytes(c: &Client, path: &Path) -> Vec<u8> {
    let files = front(c).files();
    assert!(
        ferry_core::sealed::is_sealed(path).expect("kept"),
        "{} is kept sealed",
        path.display()
    );
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut files.reader(path, 0).expect("open"), &mut out).expect("read");
    out
}

fn files_of(c: &Client, collection: &str, id: Uuid, field: &str) -> Vec<FileRef> {
    let r = c.store().record(collection, id).expect("record");
    FileRef::list(r.fields.get(field))
}

async fn a_photo_attached_offline_is_usable_at_once_and_reaches_the_others(server: TestServer) {
    let alice = Client::login(&server, "alice").await;
    let id = alice
        .store()
        .create(
            "contacts",
            fields(json!({"name": "Ann", "region": "north"})),
        )
        .expect("create");
    alice.sync().await;
    let bob = Client::login(&server, "bob").await;
    bob.sync().await;

    alice.store().set_work_offline(true).expect("offline");
    let src = tempfile::tempdir().expect("dir");
    let photo = make_file(src.path(), "ann.jpg", 300_000, 3);
    let app = front(&alice);
    app.attach("contacts", id, "photo", std::slice::from_ref(&photo))
        .expect("attach offline");
    let f = &files_of(&alice, "contacts", id, "photo")[0];
    assert_eq!(
        (f.name.as_str(), f.size, f.mime.as_str()),
        ("ann.jpg", 300_000, "image/jpeg")
    );
    // Usable at once, offline, even once the original is gone.
    let copy = src.path().join("copy of ann.jpg");
    std::fs::copy(&photo, &copy).expect("copy");
    std::fs::remove_file(&photo).expect("remove the original");
    let here = app
        .fetch_file("contacts", id, &f.sha256)
        .await
        .expect("here");
    assert_eq!(
        kept_bytes(&alice, &here),
        std::fs::read(&copy).expect("copy")
    );
    let state = alice
        .store()
        .file(&f.sha256)
        .expect("state")
        .expect("known");
    assert_eq!(state.upload.as_deref(), Some("waiting"));

    alice.store().set_work_offline(false).expect("online");
    alice.sync().await;
    assert_eq!(
        alice
            .store()
            .file(&f.sha256)
            .expect("state")
            .expect("known")
            .upload,
        None
    );
    assert_eq!(alice.store().outbox(10).expect("outbox").len(), 0);

    // Contacts fetch their files with the records: bob has it without opening it.
    bob.sync().await;
    let theirs = files_of(&bob, "contacts", id, "photo");
    assert_eq!(theirs, files_of(&alice, "contacts", id, "photo"));
    let kept = front(&bob)
        .files()
        .present(bob.store(), &f.sha256)
        .expect("present");
    let bytes = kept_bytes(&bob, &kept.expect("fetched with the records"));
    assert_eq!(bytes, std::fs::read(&copy).expect("copy"));
    // Carol reads the north: she gets it too, through the record.
    let carol = Client::login(&server, "carol").await;
    carol.sync().await;
    assert!(
        front(&carol)
            .files()
            .present(carol.store(), &f.sha256)
            .expect("present")
            .is_some()
    );
}

async fn tasks_files_come_when_opened_and_two_laptops_send_a_file_once(server: TestServer) {
    let alice = Client::login(&server, "alice").await;
    let laptop2 = Client::login(&server, "alice").await;
    let bob = Client::login(&server, "bob").await;
    let src = tempfile::tempdir().expect("dir");
    let report = make_file(src.path(), "report.pdf", 2_000_000, 9);
    let (a, b) = (
        alice
            .store()
            .create("tasks", fields(json!({"title": "Audit"})))
            .expect("create"),
        laptop2
            .store()
            .create("tasks", fields(json!({"title": "Review"})))
            .expect("create"),
    );
    front(&alice)
        .attach("tasks", a, "attachments", std::slice::from_ref(&report))
        .expect("attach");
    front(&laptop2)
        .attach("tasks", b, "attachments", std::slice::from_ref(&report))
        .expect("attach");
    alice.sync().await;
    // The second laptop finds the file on the server: no byte is sent again.
    let mut events = laptop2.engine.subscribe();
    laptop2.sync().await;
    let mut uploads = 0;
    while let Ok(e) = events.try_recv() {
        if matches!(&e, Event::File(p) if p.direction == "upload") {
            uploads += 1;
        }
    }
    assert_eq!(uploads, 0, "the second laptop sent the file again");
    assert_eq!(laptop2.store().outbox(10).expect("outbox").len(), 0);

    // Tasks' files are fetched when opened, not with the records.
    bob.sync().await;
    let f = &files_of(&bob, "tasks", a, "attachments")[0];
    let files = front(&bob).files();
    assert!(
        files
            .present(bob.store(), &f.sha256)
            .expect("present")
            .is_none()
    );
    // A fetch cut short before its first whole part (a header and nothing
    // more to continue from) starts over, header and all.
    let partial = bob.dir.path().join("profile/files/partial");
    std::fs::create_dir_all(&partial).expect("dir");
    let key = bob.store().file_key().expect("encrypted");
    let begun = ferry_core::sealed::Sealer::new(&key)
        .push(b"the first bytes")
        .expect("seal");
    std::fs::write(partial.join(&f.sha256), begun).expect("plant");
    let got = front(&bob)
        .fetch_files("tasks", a, "attachments")
        .await
        .expect("fetch");
    assert_eq!(got.len(), 1);
    assert_eq!(
        kept_bytes(&bob, &got[0].1),
        std::fs::read(&report).expect("read")
    );
}

async fn two_people_attaching_to_one_field_meet_in_a_conflict_and_keep_both(server: TestServer) {
    let alice = Client::login(&server, "alice").await;
    let id = alice
        .store()
        .create("tasks", fields(json!({"title": "Site visit"})))
        .expect("create");
    alice.sync().await;
    let bob = Client::login(&server, "bob").await;
    bob.sync().await;
    let src = tempfile::tempdir().expect("dir");
    let mine = make_file(src.path(), "alice.png", 10_000, 1);
    let theirs = make_file(src.path(), "bob.png", 10_000, 2);
    front(&alice)
        .attach("tasks", id, "attachments", &[mine])
        .expect("attach");
    front(&bob)
        .attach("tasks", id, "attachments", &[theirs])
        .expect("attach");
    bob.sync().await;
    alice.sync().await;
    let conflicts = alice.store().conflicts().expect("conflicts");
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].kind, ConflictKind::EditEdit);
    // Keep both: the merged value holds both sides' files.
    let (m, t) = (
        FileRef::list(conflicts[0].mine.get("attachments")),
        FileRef::list(conflicts[0].theirs.fields.get("attachments")),
    );
    let both: Vec<FileRef> = m.into_iter().chain(t).collect();
    assert_eq!(both.len(), 2);
    front(&alice)
        .resolve(
            "tasks",
            id,
            &Resolution::Fields(vec![(
                "attachments".into(),
                FieldChoice::Value(serde_json::to_value(&both).expect("json")),
            )]),
        )
        .expect("resolve");
    alice.sync().await;
    bob.sync().await;
    let names: Vec<String> = files_of(&bob, "tasks", id, "attachments")
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(names, ["alice.png", "bob.png"]);
    // Bob reads alice's file through the record.
    let got = front(&bob)
        .fetch_files("tasks", id, "attachments")
        .await
        .expect("fetch");
    assert_eq!(got.len(), 2);
}

async fn refused_files_say_why_and_lost_ones_are_sent_again(server: TestServer) {
    let alice = Client::login(&server, "alice").await;
    let app = front(&alice);
    let src = tempfile::tempdir().expect("dir");
    let id = alice
        .store()
        .create("contacts", fields(json!({"name": "Bo", "region": "east"})))
        .expect("create");
    // The field's own limits refuse before anything is queued.
    let doc = make_file(src.path(), "cv.pdf", 100, 4);
    match app.attach("contacts", id, "photo", &[doc]) {
        Err(Error::InvalidField { field, message }) => {
            assert_eq!(field, "photo");
            assert!(
                message.contains("takes image/* files, not \"cv.pdf\""),
                "{message}"
            );
        }
        other => panic!("a PDF as a photo: {other:?}"),
    }
    let two = [
        make_file(src.path(), "a.png", 10, 1),
        make_file(src.path(), "b.png", 10, 2),
    ];
    assert!(matches!(
        app.attach("contacts", id, "photo", &two),
        Err(Error::InvalidField { .. })
    ));
    // The server's limit: the file waits, failed with the server's reason.
    let tid = alice
        .store()
        .create("tasks", fields(json!({"title": "Big"})))
        .expect("create");
    let big = make_file(src.path(), "big.bin", common::MAX_FILE as usize + 1, 5);
    app.attach("tasks", tid, "attachments", &[big])
        .expect("attach");
    alice.sync().await;
    let f = &files_of(&alice, "tasks", tid, "attachments")[0];
    let state = alice
        .store()
        .file(&f.sha256)
        .expect("state")
        .expect("known");
    assert_eq!(state.upload.as_deref(), Some("failed"), "{state:?}");
    assert!(
        state
            .error
            .as_deref()
            .is_some_and(|e| e.contains("at most 48 MB")),
        "{state:?}"
    );
    assert!(state.retry_at.is_some(), "{state:?}");
    assert_eq!(server.upload_refusals(), 1);
    // Not sent again at every sync (a part's bytes spent for the same refusal)...
    alice.sync().await;
    assert_eq!(server.upload_refusals(), 1);
    assert!(
        alice
            .store()
            .files_to_send()
            .expect("waiting")
            .iter()
            .any(|f| f.sha256 == state.sha256),
        "still shown as waiting"
    );
    // ...but when its owner asks.
    assert_eq!(alice.store().files_retry().expect("retry"), 1);
    alice.sync().await;
    assert_eq!(server.upload_refusals(), 2);
    // The change that names it never reached the server.
    assert!(server.record("tasks", tid).await.is_none());
    assert!(
        alice
            .store()
            .outbox(10)
            .expect("outbox")
            .iter()
            .any(|e| e.mutation.record_id == tid)
    );

    // A file the server lost (collected while the change waited) is sent again.
    let other = make_file(src.path(), "small.txt", 1000, 6);
    let sid = alice
        .store()
        .create("tasks", fields(json!({"title": "Lost"})))
        .expect("create");
    app.attach("tasks", sid, "attachments", &[other])
        .expect("attach");
    let s = files_of(&alice, "tasks", sid, "attachments")[0]
        .sha256
        .clone();
    alice
        .store()
        .file_uploaded(&s)
        .expect("pretend it was sent");
    alice.sync().await;
    assert_eq!(
        alice
            .store()
            .file(&s)
            .expect("state")
            .expect("known")
            .upload
            .as_deref(),
        Some("waiting")
    );
    alice.sync().await;
    let on_server = server.record("tasks", sid).await.expect("on the server");
    assert_eq!(
        FileRef::list(on_server.fields.get("attachments"))[0].sha256,
        s
    );
}

async fn files_beyond_the_cache_limit_are_evicted_least_recently_used_first(server: TestServer) {
    let alice = Client::login(&server, "alice").await;
    let src = tempfile::tempdir().expect("dir");
    let mut ids = Vec::new();
    for i in 0..3u8 {
        let id = alice
            .store()
            .create("tasks", fields(json!({"title": format!("T{i}")})))
            .expect("create");
        let f = make_file(src.path(), &format!("f{i}.bin"), 600_000, i);
        front(&alice)
            .attach("tasks", id, "attachments", &[f])
            .expect("attach");
        ids.push(id);
    }
    alice.sync().await;
    let bob = Client::login(&server, "bob").await;
    bob.sync().await;
    bob.store()
        .set_setting(ferry_core::files::CACHE_SETTING, Some("1"))
        .expect("1 MB cache");
    let app = front(&bob);
    let mut paths = Vec::new();
    for id in &ids {
        paths.push(
            app.fetch_files("tasks", *id, "attachments")
                .await
                .expect("fetch")[0]
                .1
                .clone(),
        );
    }
    // 1.8 MB fetched into 1 MB: the two least recently used went.
    assert!(!paths[0].exists() && !paths[1].exists() && paths[2].exists());
    // Opening one again fetches it again.
    let again = app
        .fetch_files("tasks", ids[0], "attachments")
        .await
        .expect("fetch")[0]
        .1
        .clone();
    assert!(again.exists() && !paths[2].exists());
    // A file waiting to be sent is never evicted.
    let id = bob
        .store()
        .create("tasks", fields(json!({"title": "Mine"})))
        .expect("create");
    bob.store().set_work_offline(true).expect("offline");
    app.attach(
        "tasks",
        id,
        "attachments",
        &[make_file(src.path(), "mine.bin", 2_000_000, 9)],
    )
    .expect("attach");
    app.files().evict(bob.store()).expect("evict");
    let mine = &files_of(&bob, "tasks", id, "attachments")[0];
    assert!(
        app.files()
            .present(bob.store(), &mine.sha256)
            .expect("present")
            .is_some()
    );
}

async fn a_revoked_grant_takes_the_files_away_with_the_records(server: TestServer) {
    let alice = Client::login(&server, "alice").await;
    let src = tempfile::tempdir().expect("dir");
    let id = alice
        .store()
        .create("tasks", fields(json!({"title": "Secret"})))
        .expect("create");
    front(&alice)
        .attach(
            "tasks",
            id,
            "attachments",
            &[make_file(src.path(), "s.txt", 50, 1)],
        )
        .expect("attach");
    alice.sync().await;
    let bob = Client::login(&server, "bob").await;
    bob.sync().await;
    server.grant("bob", "tasks", None, &[]).await;
    let err = front(&bob)
        .fetch_files("tasks", id, "attachments")
        .await
        .expect_err("revoked");
    assert!(matches!(&err, Error::Server { status: 404, .. }), "{err:?}");
}

macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::TestServer::start().await).await;
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $name() {
                let Some(server) = super::TestServer::start_on_postgres().await else {
                    return;
                };
                super::$name(server).await;
            })*
        }
    };
}

on_both_stores!(
    a_photo_attached_offline_is_usable_at_once_and_reaches_the_others,
    tasks_files_come_when_opened_and_two_laptops_send_a_file_once,
    two_people_attaching_to_one_field_meet_in_a_conflict_and_keep_both,
    refused_files_say_why_and_lost_ones_are_sent_again,
    files_beyond_the_cache_limit_are_evicted_least_recently_used_first,
    a_revoked_grant_takes_the_files_away_with_the_records,
);
