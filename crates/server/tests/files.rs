//! Files on records over HTTP (DESIGN.md, "Files"): a change names only
//! files the server holds and the pusher may name; a record's readers read
//! its files through it, nobody else (a hash alone gives nothing); the
//! schema shows file fields only to clients that ask; gc keeps what any
//! version names.

#[macro_use]
mod common;

use std::time::Duration;

use common::{TestServer, assert_error, create, update};
use serde_json::{Value, json};
use sha2::Digest;
use uuid::Uuid;

fn file(bytes: &[u8], name: &str, mime: &str) -> Value {
    json!({"sha256": hex::encode(sha2::Sha256::digest(bytes)), "name": name,
           "size": bytes.len(), "mime": mime})
}

async fn upload(server: &TestServer, token: &str, bytes: &[u8]) -> u16 {
    let sha = hex::encode(sha2::Sha256::digest(bytes));
    server
        .http
        .put(server.url(&format!("/v1/blobs/{sha}")))
        .bearer_auth(token)
        .body(bytes.to_vec())
        .send()
        .await
        .expect("put")
        .status()
        .as_u16()
}

/// GET of a file, with `query` (`collection=…&record=…`) when not empty.
async fn get(server: &TestServer, token: &str, f: &Value, query: &str) -> reqwest::Response {
    let sha = f["sha256"].as_str().expect("sha");
    let url = server.url(&format!("/v1/blobs/{sha}?{query}"));
    server
        .http
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("get")
}

/// The status of a GET of a file, through a record when `through` names one.
async fn read(server: &TestServer, token: &str, f: &Value, through: Option<Uuid>) -> u16 {
    let query = through.map_or(String::new(), |id| {
        format!("collection=contacts&record={id}")
    });
    get(server, token, f, &query).await.status().as_u16()
}

fn code(r: &Value) -> &str {
    r["error"]["code"].as_str().unwrap_or_default()
}

async fn a_change_naming_a_file_the_server_lacks_is_refused_until_it_is_uploaded(
    server: TestServer,
) {
    let alice = server.login("alice").await;
    let bytes = b"minutes of the site visit";
    let f = file(bytes, "minutes.txt", "text/plain");
    let m = create(
        "tasks",
        Uuid::now_v7(),
        json!({"title": "Visit", "attachments": [f]}),
    );
    let r = server.push(&alice, std::slice::from_ref(&m)).await;
    assert_eq!(
        (r[0]["status"].as_str(), code(&r[0])),
        (Some("rejected"), "missing_file")
    );
    let message = r[0]["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("\"minutes.txt\"") && message.contains("upload it"),
        "{message}"
    );
    // Not remembered: the same mutation goes through once the file is there.
    assert_eq!(upload(&server, &alice, bytes).await, 201);
    let r = server.push(&alice, &[m]).await;
    assert_eq!(r[0]["status"], "applied", "{r:?}");
}

async fn a_hash_alone_attaches_nothing_and_reads_nothing(server: TestServer) {
    let (alice, bob) = (server.login("alice").await, server.login("bob").await);
    let bytes = b"alice's contract";
    let f = file(bytes, "contract.pdf", "application/pdf");
    assert_eq!(upload(&server, &alice, bytes).await, 201);
    // Bob knows the hash but never had the bytes: he may not attach it...
    let m = create(
        "tasks",
        Uuid::now_v7(),
        json!({"title": "Mine now", "attachments": [f]}),
    );
    let r = server.push(&bob, std::slice::from_ref(&m)).await;
    assert_eq!(code(&r[0]), "missing_file");
    // ...nor read it, with or without naming a record that does not hold it.
    assert_eq!(read(&server, &bob, &f, None).await, 404);
    let other = Uuid::now_v7();
    let r = server
        .push(
            &bob,
            &[create(
                "contacts",
                other,
                json!({"name": "Decoy", "region": "north"}),
            )],
        )
        .await;
    assert_eq!(r[0]["status"], "applied");
    assert_eq!(read(&server, &bob, &f, Some(other)).await, 404);
    // Sending the bytes proves he has them: then he may.
    assert_eq!(upload(&server, &bob, bytes).await, 201);
    let r = server.push(&bob, &[m]).await;
    assert_eq!(r[0]["status"], "applied");
}

async fn a_records_readers_read_its_files_through_it_while_it_names_them_and_they_may_see_it(
    server: TestServer,
) {
    let (alice, carol) = (server.login("alice").await, server.login("carol").await);
    let bytes = b"\x89PNG a portrait";
    let photo = file(bytes, "portrait.png", "image/png");
    assert_eq!(upload(&server, &alice, bytes).await, 201);
    let id = Uuid::now_v7();
    let r = server
        .push(
            &alice,
            &[create(
                "contacts",
                id,
                json!({"name": "Ann", "region": "north", "photo": [photo]}),
            )],
        )
        .await;
    assert_eq!(r[0]["status"], "applied");
    // Carol reads the north: through the record, not by hash alone.
    assert_eq!(read(&server, &carol, &photo, None).await, 404);
    assert_eq!(read(&server, &carol, &photo, Some(id)).await, 200);
    let body = get(
        &server,
        &carol,
        &photo,
        &format!("collection=contacts&record={id}"),
    )
    .await
    .bytes()
    .await
    .expect("bytes");
    assert_eq!(&body[..], bytes);
    // The record moves to the south: no longer hers to read, nor its files.
    let r = server
        .push(
            &alice,
            &[update(
                "contacts",
                id,
                1,
                json!({"region": "north"}),
                json!({"region": "south"}),
            )],
        )
        .await;
    assert_eq!(r[0]["status"], "applied");
    assert_eq!(read(&server, &carol, &photo, Some(id)).await, 404);
    // Back north without the photo: the record no longer names it.
    let r = server
        .push(
            &alice,
            &[update(
                "contacts",
                id,
                2,
                json!({"region": "south", "photo": [photo]}),
                json!({"region": "north", "photo": null}),
            )],
        )
        .await;
    assert_eq!(r[0]["status"], "applied");
    assert_eq!(read(&server, &carol, &photo, Some(id)).await, 404);
    // A malformed record id is a clear 400.
    let resp = get(&server, &carol, &photo, "collection=contacts&record=nope").await;
    assert_error(resp, 400, "malformed_request").await;
}

async fn file_fields_are_shown_only_to_clients_that_ask_for_them(server: TestServer) {
    let alice = server.login("alice").await;
    let fields = |schema: &Value| -> Vec<String> {
        schema["collections"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["name"] == "contacts")
            .flat_map(|c| c["fields"].as_array().cloned().unwrap_or_default())
            .filter_map(|f| f["name"].as_str().map(str::to_string))
            .collect()
    };
    let schema = async |path: &str| -> Value {
        let resp = server.get(path, &alice).send().await.expect("schema");
        resp.json().await.expect("json")
    };
    let old = schema("/v1/schema").await;
    assert!(!fields(&old).contains(&"photo".to_string()), "{old}");
    let new = schema("/v1/schema?types=file").await;
    assert!(fields(&new).contains(&"photo".to_string()), "{new}");
    let contacts = new["collections"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"] == "contacts")
        .expect("contacts");
    assert_eq!(contacts["fetch_files"], "eager");
    let photo = contacts["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["name"] == "photo")
        .expect("photo");
    assert_eq!(photo["accept"], json!(["image/*"]));
}

async fn gc_keeps_files_any_version_names_and_young_ones_and_collects_the_rest(server: TestServer) {
    let alice = server.login("alice").await;
    let blobs = server.blobs.clone().expect("blobs here");
    let (kept, dropped, orphan) = (
        &b"kept: named by v1"[..],
        &b"named then removed"[..],
        &b"never named"[..],
    );
    for b in [kept, dropped, orphan] {
        assert_eq!(upload(&server, &alice, b).await, 201);
    }
    let id = Uuid::now_v7();
    let (fk, fd) = (
        file(kept, "a.txt", "text/plain"),
        file(dropped, "b.txt", "text/plain"),
    );
    let r = server
        .push(
            &alice,
            &[create(
                "tasks",
                id,
                json!({"title": "T", "attachments": [fk, fd]}),
            )],
        )
        .await;
    assert_eq!(r[0]["status"], "applied");
    let r = server
        .push(
            &alice,
            &[update(
                "tasks",
                id,
                1,
                json!({"attachments": [fk, fd]}),
                json!({"attachments": [fk]}),
            )],
        )
        .await;
    assert_eq!(r[0]["status"], "applied");
    // An unfinished upload.
    let partial = b"half of something";
    let resp = server
        .http
        .put(server.url(&format!(
            "/v1/blobs/{}",
            hex::encode(sha2::Sha256::digest(partial))
        )))
        .bearer_auth(&alice)
        .header("Content-Range", format!("bytes 0-3/{}", partial.len()))
        .body(partial[..4].to_vec())
        .send()
        .await
        .expect("part");
    assert_eq!(resp.status(), 202);

    let gc = ferry_server::blobs::gc::collect;
    let young = gc(&server.store, &blobs, Duration::from_secs(3600), false)
        .await
        .expect("gc");
    assert_eq!(
        (
            young.kept_named,
            young.kept_young,
            young.deleted,
            young.uploads_deleted
        ),
        (2, 1, 0, 0)
    );
    let dry = gc(&server.store, &blobs, Duration::ZERO, true)
        .await
        .expect("gc");
    assert_eq!((dry.deleted, dry.uploads_deleted), (1, 1));
    assert_eq!(
        read(&server, &alice, &file(orphan, "c", "text/plain"), None).await,
        200
    );
    let now = gc(&server.store, &blobs, Duration::ZERO, false)
        .await
        .expect("gc");
    assert_eq!(
        (
            now.kept_named,
            now.deleted,
            now.deleted_bytes,
            now.uploads_deleted
        ),
        (2, 1, orphan.len() as u64, 1)
    );
    // What any version names stays (the removed file can be restored).
    assert_eq!(read(&server, &alice, &fk, None).await, 200);
    assert_eq!(read(&server, &alice, &fd, None).await, 200);
    assert_eq!(
        read(&server, &alice, &file(orphan, "c", "text/plain"), None).await,
        404
    );
    // The quota no longer counts what was collected.
    assert_eq!(
        server
            .store
            .blob_bytes(
                server
                    .store
                    .user_by_name("alice")
                    .await
                    .expect("user")
                    .expect("alice")
                    .id
            )
            .await
            .expect("bytes"),
        (kept.len() + dropped.len()) as u64
    );
}

both_blob_stores!(
    a_change_naming_a_file_the_server_lacks_is_refused_until_it_is_uploaded,
    a_hash_alone_attaches_nothing_and_reads_nothing,
    a_records_readers_read_its_files_through_it_while_it_names_them_and_they_may_see_it,
    file_fields_are_shown_only_to_clients_that_ask_for_them,
    gc_keeps_files_any_version_names_and_young_ones_and_collects_the_rest,
);
