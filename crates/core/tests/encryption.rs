//! The profile's database is encrypted: nothing of the records can be read
//! in its files, a wrong passphrase is a clear error that changes nothing,
//! and a plain profile from before is encrypted in place with its outbox.
//! Attached files are sealed too (their thumbnails and opened copies are
//! the desktop app's, tested there).

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{Client, TestServer, fields, files_holding, unlock};
use ferry_core::{Error, KeyringUse, Profile, Protection, SyncEngine, Unlock};
use serde_json::json;

const MARKER: &str = "Zanzibar-7431 secret field value";

/// A photo whose bytes hold the marker, outside any profile.
fn marked_photo(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("marked.jpg");
    std::fs::write(&path, MARKER.repeat(20_000)).expect("write the photo");
    path
}

fn header(dir: &Path) -> Vec<u8> {
    let bytes = std::fs::read(dir.join("ferry.db")).expect("read the database");
    bytes[..16].to_vec()
}

#[tokio::test]
async fn nothing_of_the_records_can_be_read_in_the_profiles_files() {
    let server = TestServer::start().await;
    let alice = Client::login(&server, "alice").await;
    let sent = alice
        .store()
        .create("contacts", fields(json!({"name": MARKER})))
        .expect("create");
    alice.sync().await;
    // Unsent, in a conflict-free outbox, and in the search index.
    alice
        .store()
        .update(
            "contacts",
            sent,
            fields(json!({"notes": format!("{MARKER} again")})),
        )
        .expect("edit");
    // A file attached (sent, and kept here).
    let src = tempfile::tempdir().expect("dir");
    let app = ferry_core::Client::with_engine(alice.engine.clone(), "test");
    app.attach("contacts", sent, "photo", &[marked_photo(src.path())])
        .expect("attach");
    alice.sync().await;
    assert_eq!(alice.store().pending_counts().expect("counts").outbox, 0);
    assert_eq!(alice.engine.profile().protection(), Protection::Passphrase);
    assert!(alice.store().encrypted());
    assert!(
        alice
            .store()
            .cipher_version()
            .expect("version")
            .is_some_and(|v| !v.is_empty())
    );
    let dir = alice.dir.path().join("profile");
    // While open (the WAL holds the latest pages) and after closing.
    assert_eq!(files_holding(&dir, MARKER), Vec::<String>::new());
    assert_ne!(header(&dir), b"SQLite format 3\0".to_vec());
    let Client { engine, dir: keep } = alice;
    drop(engine);
    let dir = keep.path().join("profile");
    assert_eq!(files_holding(&dir, MARKER), Vec::<String>::new());
    let again = Profile::open_with(&dir, &unlock()).expect("reopen");
    assert_eq!(
        again
            .store()
            .record("contacts", sent)
            .expect("read")
            .fields
            .get("name"),
        Some(&json!(MARKER))
    );
}

#[tokio::test]
async fn a_wrong_passphrase_is_a_clear_error_that_changes_nothing() {
    let server = TestServer::start().await;
    let alice = Client::login(&server, "alice").await;
    let id = alice
        .store()
        .create("tasks", fields(json!({"title": "waits"})))
        .expect("create");
    let Client { engine, dir: keep } = alice;
    drop(engine);
    let dir = keep.path().join("profile");
    let listing = |dir: &Path| {
        let mut names: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
            .expect("list")
            .map(|e| {
                let p = e.expect("entry").path();
                let bytes = if p.is_file() {
                    std::fs::read(&p).expect("read")
                } else {
                    Vec::new()
                };
                (p.display().to_string(), bytes)
            })
            .collect();
        names.sort();
        names
    };
    let before = listing(&dir);
    let wrong = Unlock::new(KeyringUse::Off).passphrase("not the passphrase");
    let err = Profile::open_with(&dir, &wrong).expect_err("a wrong passphrase opens nothing");
    assert!(matches!(err, Error::WrongPassphrase), "{err:?}");
    assert!(
        err.to_string().contains("passphrase does not open"),
        "{err}"
    );
    let err = Profile::recover_with(&dir, &wrong).expect_err("nor recovers anything");
    assert!(matches!(err, Error::WrongPassphrase), "{err:?}");
    let err = Profile::open_with(&dir, &Unlock::new(KeyringUse::Off)).expect_err("none given");
    assert!(
        matches!(err, Error::PassphraseNeeded { new: false }),
        "{err:?}"
    );
    assert!(err.to_string().contains("FERRY_PASSPHRASE"), "{err}");
    assert_eq!(listing(&dir), before, "the profile is untouched");
    let profile = Profile::open_with(&dir, &unlock()).expect("the right one opens it");
    assert_eq!(profile.store().pending_counts().expect("outbox").outbox, 1);
    assert!(profile.store().record("tasks", id).is_ok());
}

#[tokio::test]
async fn without_a_keyring_or_passphrase_a_new_profile_is_not_made_with_its_key_beside_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = Profile::open_with(&dir.path().join("p"), &Unlock::new(KeyringUse::Off))
        .expect_err("no place for the key");
    assert!(
        matches!(err, Error::PassphraseNeeded { new: true }),
        "{err:?}"
    );
    assert!(!dir.path().join("p").join("ferry.db").exists());
}

#[tokio::test]
async fn a_plain_profile_is_encrypted_in_place_with_its_outbox() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let profile_dir = dir.path().join("profile");
    let plain = Profile::open_with(&profile_dir, &unlock().unencrypted()).expect("plain");
    assert_eq!(plain.protection(), Protection::Off);
    let engine = Arc::new(SyncEngine::new(Arc::new(plain)));
    engine
        .login(&server.url, "alice", "demo", "old laptop")
        .await
        .expect("login");
    engine.sync().await.expect("sync");
    let id = engine
        .profile()
        .store()
        .create("contacts", fields(json!({"name": MARKER})))
        .expect("create");
    let src = tempfile::tempdir().expect("dir");
    ferry_core::Client::with_engine(engine.clone(), "test")
        .attach("contacts", id, "photo", &[marked_photo(src.path())])
        .expect("attach");
    let waiting = engine
        .profile()
        .store()
        .pending_counts()
        .expect("outbox")
        .outbox;
    drop(engine);
    // A copy opened by an older version of the app, beside the files.
    let opened = profile_dir.join("open").join("0123456789abcdef");
    std::fs::create_dir_all(&opened).expect("dir");
    std::fs::write(opened.join("marked.jpg"), MARKER).expect("opened copy");
    assert_eq!(header(&profile_dir), b"SQLite format 3\0".to_vec());
    let plain_files = files_holding(&profile_dir, MARKER);
    assert!(
        plain_files.iter().any(|f| f.contains("files")),
        "{plain_files:?}"
    );

    let profile = Profile::open_with(&profile_dir, &unlock()).expect("encrypted on open");
    assert_eq!(profile.protection(), Protection::Passphrase);
    assert_eq!(files_holding(&profile_dir, MARKER), Vec::<String>::new());
    assert!(!profile_dir.join("ferry.db.encrypting").exists());
    assert_eq!(
        profile.store().pending_counts().expect("outbox").outbox,
        waiting
    );
    assert_eq!(
        profile
            .store()
            .record("contacts", id)
            .expect("kept")
            .fields
            .get("name"),
        Some(&json!(MARKER))
    );
    // Still signed in, and what waited is sent.
    let engine = Arc::new(SyncEngine::new(Arc::new(profile)));
    let report = engine.sync().await.expect("sync");
    assert_eq!(report.outbox, 0);
    // The sealed photo reads back as it was, and went to the server.
    let app = ferry_core::Client::with_engine(engine.clone(), "test");
    let record = engine
        .profile()
        .store()
        .record("contacts", id)
        .expect("record");
    let photo = &ferry_core::protocol::FileRef::list(record.fields.get("photo"))[0];
    let kept = app
        .fetch_file("contacts", id, &photo.sha256)
        .await
        .expect("kept");
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut app.files().reader(&kept, 0).expect("open"), &mut bytes)
        .expect("read");
    assert_eq!(bytes, MARKER.repeat(20_000).into_bytes());
    assert_eq!(
        engine
            .profile()
            .store()
            .files_to_send()
            .expect("files")
            .len(),
        0
    );
}
