//! The HTTP API of wire protocol v1 (DESIGN.md), end to end: each test starts
//! a real server on a random 127.0.0.1 port and talks to it with reqwest.

mod common;

use std::collections::HashSet;

use common::{
    EventStream, PASSWORD, TestServer, assert_error, assert_keys, create, deadline, delete,
    event_cursor, update,
};
use serde_json::{Value, json};
use uuid::Uuid;

fn id_of(record: &Value) -> Uuid {
    Uuid::parse_str(record["id"].as_str().expect("id")).expect("uuid")
}

fn cursor_number(cursor: &Value) -> u64 {
    // Opaque to clients; this server's cursors start with a sequence number (mid-walk, `~` and where the walk
    // began follow), which lets us check they never go back.
    cursor
        .as_str()
        .and_then(|s| s.split('~').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("cursor {cursor}"))
}

// ---------------------------------------------------------------- health, routing, OpenAPI

#[tokio::test]
async fn health_answers_ok_with_the_server_version() {
    let server = TestServer::start().await;
    let resp = server
        .http
        .get(server.url("/v1/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("JSON");
    assert_eq!(
        body,
        json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})
    );
}

#[tokio::test]
async fn unknown_endpoints_and_wrong_methods_answer_in_the_error_shape() {
    let server = TestServer::start().await;
    let token = server.login("alice").await;
    assert_error(
        server
            .get("/v1/nothing-here", &token)
            .send()
            .await
            .expect("get"),
        404,
        "not_found",
    )
    .await;
    assert_error(
        server.http.get(server.url("/")).send().await.expect("get"),
        404,
        "not_found",
    )
    .await;
    assert_error(
        server
            .http
            .get(server.url("/v2/health"))
            .send()
            .await
            .expect("get"),
        404,
        "not_found",
    )
    .await;
    assert_error(
        server.get("/v1/push", &token).send().await.expect("get"),
        405,
        "method_not_allowed",
    )
    .await;
    assert_error(
        server
            .http
            .post(server.url("/v1/health"))
            .send()
            .await
            .expect("post"),
        405,
        "method_not_allowed",
    )
    .await;
    assert_error(
        server
            .http
            .delete(server.url("/v1/schema"))
            .send()
            .await
            .expect("delete"),
        405,
        "method_not_allowed",
    )
    .await;
}

#[tokio::test]
async fn openapi_document_is_openapi_3_and_lists_every_v1_endpoint() {
    let server = TestServer::start().await;
    let resp = server
        .http
        .get(server.url("/v1/openapi.json"))
        .send()
        .await
        .expect("openapi");
    assert_eq!(resp.status(), 200);
    let content_type = resp.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let doc: Value = serde_json::from_str(&resp.text().await.expect("body")).expect("valid JSON");
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "openapi: {}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    for (path, method) in [
        ("/v1/health", "get"),
        ("/v1/auth/login", "post"),
        ("/v1/auth/logout", "post"),
        ("/v1/schema", "get"),
        ("/v1/changes", "get"),
        ("/v1/push", "post"),
        ("/v1/events", "get"),
        ("/v1/records/{collection}/{id}/history", "get"),
    ] {
        assert!(
            paths.get(path).is_some_and(|p| p.get(method).is_some()),
            "{method} {path} is not documented"
        );
    }
}

// ---------------------------------------------------------------- login and logout

#[tokio::test]
async fn alice_logs_in_and_gets_a_token_for_a_new_device() {
    let server = TestServer::start().await;
    let resp = server.try_login("alice", PASSWORD).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("JSON");
    assert_keys(&body, &["token", "device_id", "user"]);
    let token = body["token"].as_str().expect("token");
    assert_eq!(token.len(), 43, "256 bits of unpadded base64url: {token}");
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{token}"
    );
    let device = Uuid::parse_str(body["device_id"].as_str().expect("device_id"))
        .expect("device id is a UUID");
    assert_keys(&body["user"], &["id", "username"]);
    assert_eq!(body["user"]["username"], "alice");
    Uuid::parse_str(body["user"]["id"].as_str().expect("user id")).expect("user id is a UUID");

    // A second login is another device with another token, and both work.
    let again: Value = server
        .try_login("alice", PASSWORD)
        .await
        .json()
        .await
        .expect("JSON");
    assert_ne!(again["token"], body["token"]);
    assert_ne!(
        again["device_id"].as_str(),
        Some(device.to_string().as_str())
    );
    assert_eq!(again["user"]["id"], body["user"]["id"]);
    for t in [token, again["token"].as_str().expect("token")] {
        assert_eq!(
            server
                .get("/v1/schema", t)
                .send()
                .await
                .expect("schema")
                .status(),
            200
        );
    }
}

#[tokio::test]
async fn wrong_password_and_unknown_user_are_both_bad_credentials() {
    let server = TestServer::start().await;
    let resp = server.try_login("alice", "not the password").await;
    assert_eq!(
        resp.headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .map(|v| v.as_bytes()),
        Some(&b"Bearer"[..])
    );
    assert_error(resp, 401, "bad_credentials").await;
    let wrong_password = assert_error(
        server.try_login("alice", "demo2").await,
        401,
        "bad_credentials",
    )
    .await;
    let unknown_user = assert_error(
        server.try_login("mallory", PASSWORD).await,
        401,
        "bad_credentials",
    )
    .await;
    assert_eq!(
        wrong_password, unknown_user,
        "the answer must not tell which users exist"
    );
    assert_error(server.try_login("", "").await, 401, "bad_credentials").await;
}

#[tokio::test]
async fn malformed_login_requests_are_refused_without_logging_in() {
    let server = TestServer::start().await;
    let login = server.url("/v1/auth/login");
    let post = |body: &'static str| {
        server
            .http
            .post(&login)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
    };
    assert_error(
        post("{\"username\":\"alice\",").await.expect("post"),
        400,
        "malformed_request",
    )
    .await;
    assert_error(
        post("not json at all").await.expect("post"),
        400,
        "malformed_request",
    )
    .await;
    assert_error(post("").await.expect("post"), 400, "malformed_request").await;
    // Wrong types and missing fields are malformed too, not 422.
    assert_error(
        post(r#"{"username":42,"password":"demo","device_name":"x"}"#)
            .await
            .expect("post"),
        400,
        "malformed_request",
    )
    .await;
    assert_error(
        post(r#"{"username":"alice","password":["demo"],"device_name":"x"}"#)
            .await
            .expect("post"),
        400,
        "malformed_request",
    )
    .await;
    assert_error(
        post(r#"{"username":"alice","password":"demo"}"#)
            .await
            .expect("post"),
        400,
        "malformed_request",
    )
    .await;
    assert_error(post("[]").await.expect("post"), 400, "malformed_request").await;
    let too_long = json!({"username": "a".repeat(65), "password": "demo", "device_name": "x"});
    assert_error(
        server
            .http
            .post(&login)
            .json(&too_long)
            .send()
            .await
            .expect("post"),
        400,
        "malformed_request",
    )
    .await;

    // A JSON body without Content-Type: application/json.
    let resp = server
        .http
        .post(&login)
        .body(r#"{"username":"alice","password":"demo","device_name":"x"}"#)
        .send()
        .await
        .expect("post");
    assert_error(resp, 415, "unsupported_media_type").await;
    let resp = server
        .http
        .post(&login)
        .header(reqwest::header::CONTENT_TYPE, "text/plain")
        .body(r#"{"username":"alice","password":"demo","device_name":"x"}"#)
        .send()
        .await
        .expect("post");
    assert_error(resp, 415, "unsupported_media_type").await;

    // None of that counted against alice.
    server.login("alice").await;
}

#[tokio::test]
async fn after_five_failed_logins_even_the_right_password_is_rate_limited() {
    let server = TestServer::start().await;
    for attempt in 1..=5 {
        let resp = server.try_login("bob", &format!("guess {attempt}")).await;
        assert_error(resp, 401, "bad_credentials").await;
    }
    let resp = server.try_login("bob", PASSWORD).await;
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .expect("429 carries Retry-After")
        .to_str()
        .expect("ascii")
        .parse::<u64>()
        .expect("Retry-After is a number of seconds");
    assert!(
        (1..=300).contains(&retry_after),
        "Retry-After: {retry_after}"
    );
    assert_error(resp, 429, "rate_limited").await;
    // Usernames are throttled case-insensitively.
    assert_error(server.try_login("BOB", PASSWORD).await, 429, "rate_limited").await;
    // Other users are not locked out by bob's failures.
    server.login("alice").await;
}

#[tokio::test]
async fn logout_revokes_exactly_that_token() {
    let server = TestServer::start().await;
    let token = server.login("alice").await;
    let other_device = server.login("alice").await;
    assert_eq!(
        server
            .get("/v1/schema", &token)
            .send()
            .await
            .expect("schema")
            .status(),
        200
    );

    let resp = server
        .post("/v1/auth/logout", &token)
        .send()
        .await
        .expect("logout");
    assert_eq!(resp.status(), 204);
    assert!(resp.bytes().await.expect("body").is_empty());

    assert_error(
        server
            .get("/v1/schema", &token)
            .send()
            .await
            .expect("schema"),
        401,
        "unauthenticated",
    )
    .await;
    assert_error(
        server
            .post("/v1/auth/logout", &token)
            .send()
            .await
            .expect("logout"),
        401,
        "unauthenticated",
    )
    .await;
    assert_eq!(
        server
            .get("/v1/schema", &other_device)
            .send()
            .await
            .expect("schema")
            .status(),
        200
    );
}

#[tokio::test]
async fn requests_without_a_valid_bearer_token_are_unauthenticated() {
    let server = TestServer::start().await;
    let token = server.login("alice").await;
    let garbage = "x".repeat(43);
    for path in [
        "/v1/schema",
        "/v1/changes",
        "/v1/events",
        "/v1/devices",
        &format!("/v1/records/contacts/{}/history", Uuid::nil()),
    ] {
        let url = server.url(path);
        let no_token = server.http.get(&url).send().await.expect("get");
        assert_eq!(
            no_token
                .headers()
                .get(reqwest::header::WWW_AUTHENTICATE)
                .map(|v| v.as_bytes()),
            Some(&b"Bearer"[..])
        );
        assert_error(no_token, 401, "unauthenticated").await;
        assert_error(
            server
                .http
                .get(&url)
                .bearer_auth(&garbage)
                .send()
                .await
                .expect("get"),
            401,
            "unauthenticated",
        )
        .await;
        let basic = server
            .http
            .get(&url)
            .header(reqwest::header::AUTHORIZATION, format!("Basic {token}"));
        assert_error(basic.send().await.expect("get"), 401, "unauthenticated").await;
        let bare = server
            .http
            .get(&url)
            .header(reqwest::header::AUTHORIZATION, token.clone());
        assert_error(bare.send().await.expect("get"), 401, "unauthenticated").await;
        assert_error(
            server
                .http
                .get(&url)
                .bearer_auth("")
                .send()
                .await
                .expect("get"),
            401,
            "unauthenticated",
        )
        .await;
    }
    let push = server
        .http
        .post(server.url("/v1/push"))
        .json(&json!({"mutations": []}));
    assert_error(push.send().await.expect("push"), 401, "unauthenticated").await;
    let logout = server
        .http
        .post(server.url("/v1/auth/logout"))
        .bearer_auth(&garbage);
    assert_error(logout.send().await.expect("logout"), 401, "unauthenticated").await;
    let logout = server
        .http
        .post(server.url("/v1/auth/logout"))
        .basic_auth("alice", Some(PASSWORD));
    assert_error(logout.send().await.expect("logout"), 401, "unauthenticated").await;
    // The real token still works after all that.
    assert_eq!(
        server
            .get("/v1/schema", &token)
            .send()
            .await
            .expect("schema")
            .status(),
        200
    );
}

// ---------------------------------------------------------------- schema

#[tokio::test]
async fn alice_sees_contacts_and_tasks_with_write_access_and_fields_in_order() {
    let server = TestServer::start().await;
    let token = server.login("alice").await;
    let schema: Value = server
        .get("/v1/schema", &token)
        .send()
        .await
        .expect("schema")
        .json()
        .await
        .expect("JSON");
    assert_keys(&schema, &["collections"]);
    let collections = schema["collections"].as_array().expect("collections");
    let names: Vec<&str> = collections
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["contacts", "tasks"]);
    for c in collections {
        // Contacts' files come with the records (the demo says so).
        let keys: &[&str] = if c["name"] == "contacts" {
            &[
                "name",
                "label",
                "title_field",
                "policy",
                "access",
                "fields",
                "fetch_files",
            ]
        } else {
            &["name", "label", "title_field", "policy", "access", "fields"]
        };
        assert_keys(c, keys);
        assert_eq!(c["access"], "write");
        assert_eq!(c["policy"], "manual");
    }
    let field_names = |c: &Value| -> Vec<String> {
        c["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .map(|f| f["name"].as_str().expect("name").to_string())
            .collect()
    };
    assert_eq!(
        field_names(&collections[0]),
        [
            "name", "email", "phone", "company", "region", "notes", "tags", "vip"
        ]
    );
    assert_eq!(
        field_names(&collections[1]),
        ["title", "status", "due", "priority", "assignee", "notes"]
    );
    assert_eq!(collections[0]["title_field"], "name");
    assert_eq!(collections[1]["title_field"], "title");
    assert_eq!(collections[0]["label"], "Contacts");
    assert_eq!(
        collections[0]["fields"][0],
        json!({"name": "name", "label": "Name", "type": "text", "required": true, "merge": "whole"})
    );
    assert_eq!(
        collections[1]["fields"][1],
        json!({"name": "status", "label": "Status", "type": "choice", "required": false, "options": ["todo", "doing", "done"], "merge": "whole"})
    );
    // Each field names how it merges: tags as sets, long text by lines, the rest whole.
    let merges: Vec<(&str, &str)> = collections[0]["fields"]
        .as_array()
        .map(|f| {
            f.iter()
                .map(|f| {
                    (
                        f["name"].as_str().unwrap_or(""),
                        f["merge"].as_str().unwrap_or(""),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        merges,
        [
            ("name", "whole"),
            ("email", "whole"),
            ("phone", "whole"),
            ("company", "whole"),
            ("region", "whole"),
            ("notes", "text"),
            ("tags", "set"),
            ("vip", "whole")
        ]
    );
    let types: Vec<&str> = collections[0]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["type"].as_str().expect("type"))
        .collect();
    assert_eq!(
        types,
        [
            "text", "text", "text", "text", "choice", "longtext", "tags", "boolean"
        ]
    );
}

#[tokio::test]
async fn carol_sees_only_contacts_with_read_access() {
    let server = TestServer::start().await;
    let token = server.login("carol").await;
    let schema: Value = server
        .get("/v1/schema", &token)
        .send()
        .await
        .expect("schema")
        .json()
        .await
        .expect("JSON");
    let collections = schema["collections"].as_array().expect("collections");
    assert_eq!(collections.len(), 1, "{schema}");
    assert_eq!(collections[0]["name"], "contacts");
    assert_eq!(collections[0]["access"], "read");
    // The north only, and nothing to write.
    assert_eq!(
        collections[0]["rows"],
        json!({"field": "region", "read": ["north"], "write": []})
    );
    // A writer of the whole collection is told of no rows.
    let alice = server.login("alice").await;
    let schema: Value = server
        .get("/v1/schema", &alice)
        .send()
        .await
        .expect("schema")
        .json()
        .await
        .expect("JSON");
    assert!(schema["collections"][0].get("rows").is_none(), "{schema}");
}

// ---------------------------------------------------------------- push and changes

#[tokio::test]
async fn alice_creates_and_updates_a_contact_and_both_are_applied() {
    let server = TestServer::start().await;
    let alice = server.login("alice").await;
    let id = Uuid::now_v7();

    let r = &server
        .push(
            &alice,
            &[create(
                "contacts",
                id,
                json!({"name": "Ada Lovelace", "vip": true}),
            )],
        )
        .await[0];
    assert_eq!(r["status"], "applied");
    let record = &r["record"];
    assert_eq!(record["collection"], "contacts");
    assert_eq!(id_of(record), id);
    assert_eq!(record["version"], 1);
    assert_eq!(
        record["fields"],
        json!({"name": "Ada Lovelace", "vip": true})
    );
    assert_eq!(record["deleted"], false);
    assert_eq!(record["updated_by"], "alice");

    let edit = update(
        "contacts",
        id,
        1,
        json!({"email": null}),
        json!({"email": "ada@engine.example"}),
    );
    let r = &server.push(&alice, &[edit]).await[0];
    assert_eq!(r["status"], "applied");
    assert_eq!(r["record"]["version"], 2);
    assert_eq!(
        r["record"]["fields"],
        json!({"name": "Ada Lovelace", "vip": true, "email": "ada@engine.example"})
    );
    assert!(
        r["record"]["updated_at"].as_str() > record["updated_at"].as_str(),
        "server stamps move forward"
    );

    let (changes, _) = server.pull_all(&alice).await;
    assert_eq!(
        changes.len(),
        1,
        "a record appears once, at its latest version"
    );
    assert_eq!(changes[0], r["record"]);

    let history = server.history(&alice, "contacts", id).await;
    let versions: Vec<i64> = history
        .iter()
        .map(|v| v["version"].as_i64().expect("version"))
        .collect();
    assert_eq!(versions, [1, 2], "oldest first");
    assert_eq!(history[0], *record);
    assert_eq!(history[1], r["record"]);
}

/// Alice creates a contact and changes its email; returns its id. The
/// record is then at version 2.
async fn contact_edited_by_alice(server: &TestServer, alice: &str) -> Uuid {
    let id = Uuid::now_v7();
    server
        .push(
            alice,
            &[create(
                "contacts",
                id,
                json!({"name": "Grace Hopper", "email": "grace@navy.example"}),
            )],
        )
        .await;
    let edit = update(
        "contacts",
        id,
        1,
        json!({"email": "grace@navy.example"}),
        json!({"email": "grace@cobol.example"}),
    );
    assert_eq!(server.push(alice, &[edit]).await[0]["status"], "applied");
    id
}

#[tokio::test]
async fn bob_edits_another_field_from_an_old_base_and_the_edits_merge() {
    let server = TestServer::start().await;
    let (alice, bob) = (server.login("alice").await, server.login("bob").await);
    let id = contact_edited_by_alice(&server, &alice).await;

    let bobs = update(
        "contacts",
        id,
        1,
        json!({"phone": null}),
        json!({"phone": "+1 (312) 555-0142"}),
    );
    let r = &server.push(&bob, &[bobs]).await[0];
    assert_eq!(r["status"], "merged");
    assert_eq!(r["record"]["version"], 3);
    assert_eq!(r["record"]["updated_by"], "bob");
    assert_eq!(
        r["record"]["merged_from"], 1,
        "version 3 merged an edit made on version 1"
    );
    assert_eq!(
        r["record"]["fields"],
        json!({"name": "Grace Hopper", "email": "grace@cobol.example", "phone": "+1 (312) 555-0142"})
    );
    // An edit that already matches the server merges without a new version.
    let same = update(
        "contacts",
        id,
        1,
        json!({"email": "grace@navy.example"}),
        json!({"email": "grace@cobol.example"}),
    );
    let r2 = &server.push(&bob, &[same]).await[0];
    assert_eq!(r2["status"], "merged");
    assert_eq!(r2["record"], r["record"]);
    assert_eq!(server.history(&alice, "contacts", id).await.len(), 3);
}

#[tokio::test]
async fn bob_edits_the_field_alice_changed_and_gets_an_edit_edit_conflict() {
    let server = TestServer::start().await;
    let (alice, bob) = (server.login("alice").await, server.login("bob").await);
    let id = contact_edited_by_alice(&server, &alice).await;
    let cursor = server.cursor(&alice).await;
    let current = server
        .history(&alice, "contacts", id)
        .await
        .pop()
        .expect("latest version");

    let bobs = update(
        "contacts",
        id,
        1,
        json!({"email": "grace@navy.example", "company": null}),
        json!({"email": "grace@bob.example", "company": "US Navy"}),
    );
    let r = &server.push(&bob, &[bobs]).await[0];
    assert_eq!(r["status"], "conflict");
    assert_eq!(
        r["conflict"],
        json!({"kind": "edit_edit", "fields": ["email"]})
    );
    assert_eq!(
        r["record"], current,
        "a conflict carries the server's current record"
    );
    assert!(r["error"].is_null());

    // Nothing was written, not even the field that did not conflict.
    assert_eq!(server.cursor(&alice).await, cursor);
    assert_eq!(server.history(&alice, "contacts", id).await.len(), 2);
}

#[tokio::test]
async fn alice_deletes_a_record_bob_changed_since_and_gets_a_delete_edit_conflict() {
    let server = TestServer::start().await;
    let (alice, bob) = (server.login("alice").await, server.login("bob").await);
    let id = Uuid::now_v7();
    server
        .push(
            &alice,
            &[create("contacts", id, json!({"name": "Katherine Johnson"}))],
        )
        .await;
    let bobs = update(
        "contacts",
        id,
        1,
        json!({"phone": null}),
        json!({"phone": "+44 20 7946 0123"}),
    );
    assert_eq!(server.push(&bob, &[bobs]).await[0]["status"], "applied");
    let current = server
        .history(&alice, "contacts", id)
        .await
        .pop()
        .expect("latest");

    let r = &server.push(&alice, &[delete("contacts", id, 1)]).await[0];
    assert_eq!(r["status"], "conflict");
    assert_eq!(
        r["conflict"],
        json!({"kind": "delete_edit", "fields": ["phone"]})
    );
    assert_eq!(r["record"], current);
    assert_eq!(r["record"]["deleted"], false);

    // Deleting from the current version is applied: a tombstone, in changes too.
    let r = &server.push(&alice, &[delete("contacts", id, 2)]).await[0];
    assert_eq!(r["status"], "applied");
    assert_eq!(r["record"]["version"], 3);
    assert_eq!(r["record"]["deleted"], true);
    let (changes, _) = server.pull_all(&bob).await;
    assert_eq!(changes, vec![r["record"].clone()], "tombstones are pulled");
}

#[tokio::test]
async fn bob_edits_a_record_alice_deleted_and_gets_an_edit_delete_conflict() {
    let server = TestServer::start().await;
    let (alice, bob) = (server.login("alice").await, server.login("bob").await);
    let id = Uuid::now_v7();
    server
        .push(
            &alice,
            &[create(
                "tasks",
                id,
                json!({"title": "Order toner", "status": "todo"}),
            )],
        )
        .await;
    let tombstone = server.push(&alice, &[delete("tasks", id, 1)]).await[0]["record"].clone();
    assert_eq!(tombstone["deleted"], true);

    let bobs = update(
        "tasks",
        id,
        1,
        json!({"status": "todo", "notes": null}),
        json!({"status": "done", "notes": "x"}),
    );
    let r = &server.push(&bob, &[bobs]).await[0];
    assert_eq!(r["status"], "conflict");
    assert_eq!(
        r["conflict"],
        json!({"kind": "edit_delete", "fields": ["notes", "status"]})
    );
    assert_eq!(r["record"], tombstone);
    assert_eq!(server.history(&bob, "tasks", id).await.len(), 2);
}

#[tokio::test]
async fn invalid_mutations_are_rejected_one_by_one_in_request_order() {
    let server = TestServer::start().await;
    let alice = server.login("alice").await;
    let (ok_task, ok_contact) = (Uuid::now_v7(), Uuid::now_v7());
    let cases: Vec<(Value, Option<&str>)> = vec![
        (
            create(
                "tasks",
                ok_task,
                json!({"title": "Valid task", "priority": 2, "due": "2026-02-28"}),
            ),
            None,
        ),
        (
            create("projects", Uuid::now_v7(), json!({"title": "x"})),
            Some("unknown_collection"),
        ),
        (
            create(
                "contacts",
                Uuid::now_v7(),
                json!({"name": "x", "nickname": "y"}),
            ),
            Some("invalid_field"),
        ),
        (
            create(
                "tasks",
                Uuid::now_v7(),
                json!({"title": "x", "priority": "3"}),
            ),
            Some("invalid_field"),
        ),
        (
            create(
                "tasks",
                Uuid::now_v7(),
                json!({"title": "x", "due": "2026-02-30"}),
            ),
            Some("invalid_field"),
        ),
        (
            create(
                "tasks",
                Uuid::now_v7(),
                json!({"title": "x", "due": "2026-2-3"}),
            ),
            Some("invalid_field"),
        ),
        (
            create(
                "tasks",
                Uuid::now_v7(),
                json!({"title": "x", "status": "blocked"}),
            ),
            Some("invalid_field"),
        ),
        (
            create(
                "contacts",
                Uuid::now_v7(),
                json!({"name": "x", "tags": "vip"}),
            ),
            Some("invalid_field"),
        ),
        (
            create(
                "contacts",
                Uuid::now_v7(),
                json!({"name": "x", "tags": ["a", 1]}),
            ),
            Some("invalid_field"),
        ),
        (
            create(
                "contacts",
                Uuid::now_v7(),
                json!({"name": "x", "vip": "yes"}),
            ),
            Some("invalid_field"),
        ),
        (
            create("contacts", Uuid::now_v7(), json!({"name": 7})),
            Some("invalid_field"),
        ),
        (
            create(
                "contacts",
                Uuid::now_v7(),
                json!({"email": "nobody@mail.example"}),
            ),
            Some("invalid_field"),
        ),
        (
            create("contacts", Uuid::now_v7(), json!({"name": "   "})),
            Some("invalid_field"),
        ),
        (
            create("contacts", Uuid::now_v7(), json!({"name": null})),
            Some("invalid_field"),
        ),
        (
            create(
                "contacts",
                ok_contact,
                json!({"name": "Valid contact", "tags": ["a", "b"], "vip": false}),
            ),
            None,
        ),
    ];
    let mutations: Vec<Value> = cases.iter().map(|(m, _)| m.clone()).collect();
    let results = server.push(&alice, &mutations).await;
    for ((m, want), r) in cases.iter().zip(&results) {
        match want {
            None => assert_eq!(r["status"], "applied", "{m} → {r}"),
            Some(code) => {
                assert_eq!(r["status"], "rejected", "{m} → {r}");
                assert_eq!(r["error"]["code"], *code, "{m} → {r}");
                assert!(r["record"].is_null() && r["conflict"].is_null(), "{r}");
            }
        }
    }
    let message = |i: usize| {
        results[i]["error"]["message"]
            .as_str()
            .expect("message")
            .to_string()
    };
    assert!(message(2).contains("nickname"), "{}", message(2));
    assert!(message(4).contains("due"), "{}", message(4));

    // Only the two valid records were written.
    let (changes, _) = server.pull_all(&alice).await;
    let ids: HashSet<Uuid> = changes.iter().map(id_of).collect();
    assert_eq!(ids, HashSet::from([ok_task, ok_contact]));
}

#[tokio::test]
async fn pushing_the_same_batch_twice_returns_the_same_results_and_writes_nothing_more() {
    let server = TestServer::start().await;
    let alice = server.login("alice").await;
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let batch = vec![
        create("contacts", a, json!({"name": "Mary Jackson"})),
        update(
            "contacts",
            a,
            1,
            json!({"company": null}),
            json!({"company": "NACA"}),
        ),
        create(
            "tasks",
            b,
            json!({"title": "Wind tunnel", "status": "someday"}),
        ),
        create(
            "tasks",
            b,
            json!({"title": "Wind tunnel", "status": "todo"}),
        ),
        update(
            "tasks",
            b,
            1,
            json!({"title": "Wind tunnel"}),
            json!({"title": "Wind tunnel test"}),
        ),
    ];
    let first = server.push(&alice, &batch).await;
    let statuses: Vec<&str> = first
        .iter()
        .map(|r| r["status"].as_str().expect("status"))
        .collect();
    assert_eq!(
        statuses,
        ["applied", "applied", "rejected", "applied", "applied"]
    );
    let cursor = server.cursor(&alice).await;

    let second = server.push(&alice, &batch).await;
    assert_eq!(second, first, "a replay answers the first results again");
    assert_eq!(
        server.cursor(&alice).await,
        cursor,
        "a replay writes nothing"
    );
    assert_eq!(server.history(&alice, "contacts", a).await.len(), 2);
    assert_eq!(server.history(&alice, "tasks", b).await.len(), 2);

    // Replaying one mutation alone, after others moved on, still answers as first.
    let bob = server.login("bob").await;
    let moved = update(
        "tasks",
        b,
        2,
        json!({"status": "todo"}),
        json!({"status": "done"}),
    );
    assert_eq!(server.push(&bob, &[moved]).await[0]["status"], "applied");
    let again = server.push(&alice, &batch[4..]).await;
    assert_eq!(again[0], first[4]);
    assert_eq!(server.history(&alice, "tasks", b).await.len(), 3);
}

/// Pulls every change page by page, checking each page; the ids seen, in
/// order, and the number of pages. `edited` records must be at version 2,
/// the others at version 1.
async fn pull_in_pages(
    server: &TestServer,
    token: &str,
    limit: Option<usize>,
    edited: &[Uuid],
) -> (HashSet<Uuid>, Vec<Uuid>, usize) {
    let mut seen: HashSet<Uuid> = HashSet::new();
    let mut order = Vec::new();
    let mut since: Option<String> = None;
    let mut last_cursor = 0;
    let mut pages = 0;
    loop {
        let mut query = Vec::new();
        if let Some(s) = &since {
            query.push(format!("since={s}"));
        }
        if let Some(l) = limit {
            query.push(format!("limit={l}"));
        }
        let page = server.changes(token, &query.join("&")).await;
        pages += 1;
        let changes = page["changes"].as_array().expect("changes");
        let max = limit.unwrap_or(500);
        assert!(
            changes.len() <= max,
            "page of {} over the limit {max}",
            changes.len()
        );
        for r in changes {
            assert!(seen.insert(id_of(r)), "{} seen twice", r["id"]);
            order.push(id_of(r));
            assert_eq!(
                r["version"],
                if edited.contains(&id_of(r)) { 2 } else { 1 },
                "{r}"
            );
        }
        let cursor = cursor_number(&page["cursor"]);
        assert!(
            cursor >= last_cursor,
            "cursor went back from {last_cursor} to {cursor}"
        );
        last_cursor = cursor;
        since = Some(page["cursor"].as_str().expect("cursor").to_string());
        if !page["has_more"].as_bool().expect("has_more") {
            break;
        }
        assert_eq!(changes.len(), max, "a page with more to come is full");
    }
    // Nothing more after the end.
    let tail = server
        .changes(token, &format!("since={}", since.expect("cursor")))
        .await;
    assert_eq!(tail["changes"], json!([]));
    assert_eq!(tail["has_more"], false);
    (seen, order, pages)
}

#[tokio::test]
async fn pulling_3000_records_in_pages_yields_each_exactly_once() {
    let server = TestServer::start().await;
    let alice = server.login("alice").await;
    let mut created = Vec::new();
    for batch in 0..3 {
        let mutations: Vec<Value> = (0..1000)
            .map(|i| {
                let id = Uuid::now_v7();
                created.push(id);
                create(
                    "contacts",
                    id,
                    json!({"name": format!("Contact {batch}-{i}")}),
                )
            })
            .collect();
        let results = server.push(&alice, &mutations).await;
        assert!(results.iter().all(|r| r["status"] == "applied"));
    }
    // Some records change again before anyone pulls: they appear once, at their latest version.
    let edits: Vec<Value> = created[..10]
        .iter()
        .map(|id| {
            update(
                "contacts",
                *id,
                1,
                json!({"vip": null}),
                json!({"vip": true}),
            )
        })
        .collect();
    server.push(&alice, &edits).await;

    let edited = &created[..10];
    let (seen, order, pages) = pull_in_pages(&server, &alice, Some(250), edited).await;
    assert_eq!(seen, created.iter().copied().collect::<HashSet<_>>());
    assert_eq!(pages, 12);
    // In change order: the untouched records first, in the order they were written, the edited ones last.
    assert_eq!(order[..2990], created[10..]);
    assert_eq!(order[2990..], created[..10]);

    let (seen_default, _, pages_default) = pull_in_pages(&server, &alice, None, edited).await;
    assert_eq!(seen_default, seen);
    assert_eq!(pages_default, 6, "the default page size is 500");

    // since omitted starts from the beginning, like since="".
    let first = server.changes(&alice, "limit=3").await;
    let ids: Vec<Uuid> = first["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(ids, created[10..13]);
    assert_eq!(server.changes(&alice, "since=&limit=3").await, first);
    assert_eq!(first["has_more"], true);

    // Bad limits and cursors are malformed, and say so in the error shape.
    for query in [
        "limit=0",
        "limit=-1",
        "limit=ten",
        "since=garbage",
        "since=-5",
        "since=1.5",
        "since=%00",
    ] {
        let resp = server
            .get(&format!("/v1/changes?{query}"), &alice)
            .send()
            .await
            .expect("changes");
        assert_error(resp, 400, "malformed_request").await;
    }

    // limit=99999 is capped at 5000.
    for batch in 0..3 {
        let n = if batch < 2 { 1000 } else { 1 };
        let mutations: Vec<Value> = (0..n)
            .map(|i| {
                create(
                    "tasks",
                    Uuid::now_v7(),
                    json!({"title": format!("Task {batch}-{i}")}),
                )
            })
            .collect();
        server.push(&alice, &mutations).await;
    }
    let big = server.changes(&alice, "limit=99999").await;
    assert_eq!(big["changes"].as_array().expect("changes").len(), 5000);
    assert_eq!(big["has_more"], true);
    let rest = server
        .changes(
            &alice,
            &format!(
                "since={}&limit=99999",
                big["cursor"].as_str().expect("cursor")
            ),
        )
        .await;
    assert_eq!(rest["changes"].as_array().expect("changes").len(), 1);
    assert_eq!(rest["has_more"], false);
}

// ---------------------------------------------------------------- hostile pushes

#[tokio::test]
async fn a_push_of_1001_mutations_is_too_large_and_writes_nothing() {
    let server = TestServer::start().await;
    let alice = server.login("alice").await;
    let mutations: Vec<Value> = (0..1001)
        .map(|i| create("tasks", Uuid::now_v7(), json!({"title": format!("t{i}")})))
        .collect();
    let body = serde_json::to_vec(&json!({"mutations": mutations})).expect("JSON");
    assert!(
        body.len() < 1024 * 1024,
        "the count, not the body limit, must refuse this"
    );
    let resp = server
        .post("/v1/push", &alice)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body);
    let message = assert_error(resp.send().await.expect("push"), 413, "too_large").await;
    assert!(message.contains("1000"), "{message}");
    assert_eq!(server.pull_all(&alice).await.0, Vec::<Value>::new());
    // Exactly 1000 is fine.
    let results = server.push(&alice, &mutations[..1000]).await;
    assert!(results.iter().all(|r| r["status"] == "applied"));
}

#[tokio::test]
async fn a_body_over_the_limit_is_too_large() {
    let server = TestServer::start().await;
    let alice = server.login("alice").await;
    let notes = "n".repeat(1024 * 1024 + 1024);
    let mutation = create(
        "contacts",
        Uuid::now_v7(),
        json!({"name": "Big", "notes": notes}),
    );
    let resp = server
        .post("/v1/push", &alice)
        .json(&json!({"mutations": [mutation]}))
        .send()
        .await
        .expect("push");
    assert_error(resp, 413, "too_large").await;
    assert_eq!(server.pull_all(&alice).await.0, Vec::<Value>::new());
    // The same on login, which has no business with a megabyte either.
    let login =
        json!({"username": "alice", "password": "p".repeat(2 * 1024 * 1024), "device_name": "x"});
    let resp = server
        .http
        .post(server.url("/v1/auth/login"))
        .json(&login)
        .send()
        .await
        .expect("login");
    assert_error(resp, 413, "too_large").await;
}

#[tokio::test]
async fn deeply_nested_json_is_malformed_not_a_crash() {
    let server = TestServer::start().await;
    let alice = server.login("alice").await;
    let arrays = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let objects = |depth: usize| format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
    // Login bodies are at most 8 KiB: nested as deep as fits.
    for (nested, login_body) in [
        (arrays(10_000), arrays(1_000)),
        (objects(10_000), objects(1_000)),
    ] {
        let mutation = create(
            "contacts",
            Uuid::now_v7(),
            json!({"name": "Deep", "notes": "PLACEHOLDER"}),
        );
        let body = serde_json::to_string(&json!({"mutations": [mutation]}))
            .expect("JSON")
            .replace("\"PLACEHOLDER\"", &nested);
        let resp = server
            .post("/v1/push", &alice)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        let resp = resp.send().await.expect("push");
        assert!(!resp.status().is_server_error(), "{}", resp.status());
        assert_error(resp, 400, "malformed_request").await;

        // The whole body nested, on login too.
        let resp = server
            .http
            .post(server.url("/v1/auth/login"))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(login_body)
            .send()
            .await
            .expect("login");
        assert_error(resp, 400, "malformed_request").await;
    }
    assert_eq!(
        server
            .http
            .get(server.url("/v1/health"))
            .send()
            .await
            .expect("health")
            .status(),
        200
    );
    assert_eq!(server.pull_all(&alice).await.0, Vec::<Value>::new());
}

#[tokio::test]
async fn a_body_that_is_not_utf8_is_malformed() {
    let server = TestServer::start().await;
    let alice = server.login("alice").await;
    let mutation = create("contacts", Uuid::now_v7(), json!({"name": "NAME"}));
    let text = serde_json::to_string(&json!({"mutations": [mutation]})).expect("JSON");
    let mut body = Vec::new();
    let (before, after) = text.split_once("NAME").expect("placeholder");
    body.extend_from_slice(before.as_bytes());
    body.extend_from_slice(b"Ren\xe9e \xff\xfe");
    body.extend_from_slice(after.as_bytes());
    let resp = server
        .post("/v1/push", &alice)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body);
    assert_error(resp.send().await.expect("push"), 400, "malformed_request").await;
    let resp = server
        .http
        .post(server.url("/v1/auth/login"))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(&b"{\"username\":\"al\xffice\",\"password\":\"demo\",\"device_name\":\"x\"}"[..])
        .send()
        .await
        .expect("login");
    assert_error(resp, 400, "malformed_request").await;
    assert_eq!(server.pull_all(&alice).await.0, Vec::<Value>::new());
}

#[tokio::test]
async fn injection_looking_strings_are_stored_and_returned_as_plain_data() {
    let server = TestServer::start().await;
    let alice = server.login("alice").await;
    let id = Uuid::now_v7();
    let fields = json!({
        "name": "'); DROP TABLE records;--",
        "company": "Robert'); DROP TABLE users; --",
        "notes": "<script>alert('x')</script>\" OR 1=1 -- \u{0000} \u{202e}",
        "tags": ["<img src=x onerror=alert(1)>", "' OR ''='", "%s%n", "${jndi:ldap://x}"],
    });
    let r = &server
        .push(&alice, &[create("contacts", id, fields.clone())])
        .await[0];
    assert_eq!(r["status"], "applied");
    assert_eq!(r["record"]["fields"], fields);

    let (changes, _) = server.pull_all(&alice).await;
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["fields"], fields);
    assert_eq!(
        server.history(&alice, "contacts", id).await[0]["fields"],
        fields
    );
    // The tables are all still there.
    let r = &server
        .push(
            &alice,
            &[create(
                "tasks",
                Uuid::now_v7(),
                json!({"title": "Still works"}),
            )],
        )
        .await[0];
    assert_eq!(r["status"], "applied");
    server.login("bob").await;

    // Hostile names in a collection are not names (and are not repeated);
    // in a path they are just unknown.
    let evil = create(
        "contacts'; DROP TABLE records;--",
        Uuid::now_v7(),
        json!({"name": "x"}),
    );
    let r = &server.push(&alice, &[evil]).await[0];
    assert_eq!(r["error"]["code"], "invalid_collection");
    assert!(
        !r["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("DROP")
    );
    let path = format!("/v1/records/contacts'%20OR%201=1--/{id}/history");
    assert_error(
        server.get(&path, &alice).send().await.expect("history"),
        404,
        "not_found",
    )
    .await;
    assert_eq!(server.pull_all(&alice).await.0.len(), 2);
}

// ---------------------------------------------------------------- access control

#[tokio::test]
async fn carol_cannot_write_tasks_or_her_read_only_contacts() {
    let server = TestServer::start().await;
    let (alice, carol) = (server.login("alice").await, server.login("carol").await);
    let contact = Uuid::now_v7();
    server
        .push(
            &alice,
            &[create(
                "contacts",
                contact,
                json!({"name": "Dorothy Vaughan"}),
            )],
        )
        .await;
    let cursor = server.cursor(&alice).await;

    let attempts = [
        create("tasks", Uuid::now_v7(), json!({"title": "Carol's task"})),
        create(
            "contacts",
            Uuid::now_v7(),
            json!({"name": "Carol's contact"}),
        ),
        update(
            "contacts",
            contact,
            1,
            json!({"phone": null}),
            json!({"phone": "+61 2 5550 1234"}),
        ),
        delete("contacts", contact, 1),
    ];
    for r in server.push(&carol, &attempts).await {
        assert_eq!(r["status"], "rejected", "{r}");
        assert_eq!(r["error"]["code"], "forbidden", "{r}");
    }
    assert_eq!(server.cursor(&alice).await, cursor, "nothing was written");
    assert_eq!(server.history(&alice, "contacts", contact).await.len(), 1);
}

#[tokio::test]
async fn carol_pulls_contacts_but_never_tasks() {
    let server = TestServer::start().await;
    let (alice, carol) = (server.login("alice").await, server.login("carol").await);
    let contact = Uuid::now_v7();
    let task = Uuid::now_v7();
    server
        .push(
            &alice,
            &[
                create(
                    "tasks",
                    task,
                    json!({"title": "Secret task", "assignee": "carol"}),
                ),
                create(
                    "contacts",
                    contact,
                    json!({"name": "Mae Jemison", "region": "north"}),
                ),
                create(
                    "contacts",
                    Uuid::now_v7(),
                    json!({"name": "In the south", "region": "south"}),
                ),
                create("contacts", Uuid::now_v7(), json!({"name": "In no region"})),
                create("tasks", Uuid::now_v7(), json!({"title": "Another secret"})),
            ],
        )
        .await;
    server.push(&alice, &[delete("tasks", task, 1)]).await;

    let (changes, cursor) = server.pull_all(&carol).await;
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["collection"], "contacts");
    assert_eq!(id_of(&changes[0]), contact);
    for query in ["limit=1", "limit=5000", "since=0"] {
        let page = server.changes(&carol, query).await;
        assert!(
            page["changes"]
                .as_array()
                .expect("changes")
                .iter()
                .all(|r| r["collection"] == "contacts"),
            "{page}"
        );
    }
    let tail = server.changes(&carol, &format!("since={cursor}")).await;
    assert_eq!(tail["changes"], json!([]));
    assert_eq!(tail["has_more"], false);
}

/// Granted the south after its contacts exist, carol's fresh pull in small
/// pages gets each of them once: mid-walk cursors carry where the walk
/// began, and one made up is refused.
#[tokio::test]
async fn a_grants_backfill_reaches_a_fresh_pull_once() {
    let server = TestServer::start().await;
    let (alice, carol) = (server.login("alice").await, server.login("carol").await);
    let south: Vec<Value> = (0..12)
        .map(|i| {
            create(
                "contacts",
                Uuid::now_v7(),
                json!({"name": format!("South {i}"), "region": "south"}),
            )
        })
        .collect();
    server.push(&alice, &south).await;
    server
        .store
        .change_rules(ferry_server::store::RuleChange::Grant {
            subject: ferry_server::store::GrantSubject::User("carol".into()),
            collection: "contacts".into(),
            access: Some(ferry_server::rules::Right::Read),
            values: vec!["south".into()],
        })
        .await
        .expect("grant");
    let (mut received, mut since, mut walked) = (Vec::new(), String::new(), false);
    loop {
        let page = server
            .changes(&carol, &format!("since={since}&limit=5"))
            .await;
        received.extend(
            page["changes"]
                .as_array()
                .expect("changes")
                .iter()
                .map(id_of),
        );
        since = page["cursor"].as_str().expect("cursor").to_string();
        walked |= since.contains('~');
        if !page["has_more"].as_bool().expect("has_more") {
            assert!(
                !since.contains('~'),
                "a finished walk's cursor is plain: {since}"
            );
            break;
        }
    }
    assert!(walked, "mid-walk cursors carry the walk");
    let unique: HashSet<Uuid> = received.iter().copied().collect();
    assert_eq!(unique.len(), 12, "{received:?}");
    assert_eq!(received.len(), 12, "each once: {received:?}");
    let resp = server
        .get("/v1/changes?since=5~9~1", &carol)
        .send()
        .await
        .expect("changes");
    assert_error(resp, 400, "malformed_request").await;
}

#[tokio::test]
async fn history_is_only_for_readable_known_records() {
    let server = TestServer::start().await;
    let (alice, carol) = (server.login("alice").await, server.login("carol").await);
    let (task, contact) = (Uuid::now_v7(), Uuid::now_v7());
    server
        .push(
            &alice,
            &[
                create("tasks", task, json!({"title": "Private"})),
                create(
                    "contacts",
                    contact,
                    json!({"name": "Public", "region": "north"}),
                ),
            ],
        )
        .await;

    assert_eq!(server.history(&carol, "contacts", contact).await.len(), 1);
    // Outside carol's rows, a record is as good as unknown to her.
    server
        .push(
            &alice,
            &[update(
                "contacts",
                contact,
                1,
                json!({"region": "north"}),
                json!({"region": "east"}),
            )],
        )
        .await;
    let resp = server
        .get(&format!("/v1/records/contacts/{contact}/history"), &carol)
        .send()
        .await
        .expect("history");
    assert_error(resp, 404, "not_found").await;
    assert_eq!(server.history(&alice, "contacts", contact).await.len(), 2);
    let resp = server
        .get(&format!("/v1/records/tasks/{task}/history"), &carol)
        .send()
        .await
        .expect("history");
    assert_error(resp, 403, "forbidden").await;
    let resp = server
        .get(&format!("/v1/records/projects/{task}/history"), &alice)
        .send()
        .await
        .expect("history");
    assert_error(resp, 404, "not_found").await;
    let resp = server
        .get(
            &format!("/v1/records/contacts/{}/history", Uuid::now_v7()),
            &alice,
        )
        .send()
        .await
        .expect("h");
    assert_error(resp, 404, "not_found").await;
    // A task id under contacts is no contact.
    let resp = server
        .get(&format!("/v1/records/contacts/{task}/history"), &alice)
        .send()
        .await
        .expect("history");
    assert_error(resp, 404, "not_found").await;
    for bad in ["not-a-uuid", "1234", "%27%3B--"] {
        let resp = server
            .get(&format!("/v1/records/contacts/{bad}/history"), &alice)
            .send()
            .await
            .expect("history");
        assert_error(resp, 400, "malformed_request").await;
    }
}

#[tokio::test]
async fn carol_gets_an_event_for_a_contacts_commit_but_not_for_a_task_commit() {
    let server = TestServer::start().await;
    let (alice, carol) = (server.login("alice").await, server.login("carol").await);
    let mut events = EventStream::connect(&server, &carol).await;

    server
        .push(
            &alice,
            &[create(
                "tasks",
                Uuid::now_v7(),
                json!({"title": "Not for carol"}),
            )],
        )
        .await;
    let after_task = server.cursor(&alice).await;
    server
        .push(
            &alice,
            &[create(
                "contacts",
                Uuid::now_v7(),
                json!({"name": "Not in carol's region", "region": "west"}),
            )],
        )
        .await;
    server
        .push(
            &alice,
            &[create(
                "contacts",
                Uuid::now_v7(),
                json!({"name": "For carol", "region": "north"}),
            )],
        )
        .await;
    let after_contact = server.cursor(&alice).await;
    assert_ne!(after_task, after_contact);

    // The contacts commit is the positive control: its event must be the first one carol gets.
    let frame = events
        .next_changes(deadline())
        .await
        .expect("an event for the contacts commit");
    assert_eq!(
        event_cursor(&frame),
        after_contact,
        "the task commit's and the west contact's events must never reach carol"
    );
}

// ---------------------------------------------------------------- events

#[tokio::test]
async fn alice_is_told_of_a_commit_with_the_cursor_a_pull_ends_at() {
    let server = TestServer::start().await;
    let (alice, bob) = (server.login("alice").await, server.login("bob").await);
    let mut events = EventStream::connect(&server, &alice).await;
    let greeting = events.next_frame(deadline()).await.expect("a greeting");
    assert!(greeting.raw.starts_with(':'), "{greeting:?}");

    server
        .push(
            &bob,
            &[create(
                "contacts",
                Uuid::now_v7(),
                json!({"name": "Pushed by bob"}),
            )],
        )
        .await;
    let frame = events
        .next_changes(deadline())
        .await
        .expect("a changes event");
    assert!(
        frame.raw.lines().any(|l| l == "event: changes"),
        "{}",
        frame.raw
    );
    let data_line = frame
        .raw
        .lines()
        .find(|l| l.starts_with("data:"))
        .expect("data line");
    let cursor = event_cursor(&frame);
    assert_eq!(data_line, format!("data: {{\"cursor\":\"{cursor}\"}}"));
    assert_eq!(cursor, server.cursor(&alice).await);

    // Her own commits too, each with its own cursor.
    server
        .push(
            &alice,
            &[create(
                "tasks",
                Uuid::now_v7(),
                json!({"title": "Pushed by alice"}),
            )],
        )
        .await;
    let second = event_cursor(
        &events
            .next_changes(deadline())
            .await
            .expect("a second event"),
    );
    assert_eq!(second, server.cursor(&alice).await);
    assert!(cursor_number(&json!(second)) > cursor_number(&json!(cursor)));

    // A push that writes nothing tells nobody.
    let rejected = server
        .push(&alice, &[create("projects", Uuid::now_v7(), json!({}))])
        .await;
    assert_eq!(rejected[0]["status"], "rejected");
    server
        .push(
            &alice,
            &[create("tasks", Uuid::now_v7(), json!({"title": "Third"}))],
        )
        .await;
    let third = event_cursor(
        &events
            .next_changes(deadline())
            .await
            .expect("a third event"),
    );
    assert_eq!(third, server.cursor(&alice).await);
}

#[tokio::test]
async fn an_idle_event_stream_gets_keep_alive_comments() {
    let server = TestServer::start().await;
    let alice = server.login("alice").await;
    let mut events = EventStream::connect(&server, &alice).await;
    let started = tokio::time::Instant::now();
    let mut comments = 0;
    while comments < 3 {
        let frame = events
            .next_frame(deadline())
            .await
            .expect("the stream stays open");
        assert!(
            frame.raw.starts_with(':'),
            "only comments on an idle stream: {frame:?}"
        );
        assert!(frame.event.is_none() && frame.data.is_none());
        comments += 1;
    }
    // A greeting and two keep-alives 200 ms apart: far sooner than 15 s.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn events_without_a_token_are_unauthenticated() {
    let server = TestServer::start().await;
    let resp = server
        .http
        .get(server.url("/v1/events"))
        .send()
        .await
        .expect("events");
    assert_error(resp, 401, "unauthenticated").await;
    let resp = server
        .http
        .get(server.url("/v1/events"))
        .bearer_auth("nope")
        .send()
        .await
        .expect("events");
    assert_error(resp, 401, "unauthenticated").await;
}

#[tokio::test]
async fn after_logout_the_event_stream_ends_at_the_next_commit() {
    let server = TestServer::start().await;
    let (alice, bob) = (server.login("alice").await, server.login("bob").await);
    let mut events = EventStream::connect(&server, &alice).await;
    let resp = server
        .post("/v1/auth/logout", &alice)
        .send()
        .await
        .expect("logout");
    assert_eq!(resp.status(), 204);

    server
        .push(
            &bob,
            &[create(
                "contacts",
                Uuid::now_v7(),
                json!({"name": "After logout"}),
            )],
        )
        .await;
    loop {
        match events.next_frame(deadline()).await {
            None => break,
            Some(frame) => assert!(
                frame.event.is_none() && frame.data.is_none(),
                "an event after logout: {frame:?}"
            ),
        }
    }
    assert_error(
        server
            .get("/v1/events", &alice)
            .send()
            .await
            .expect("events"),
        401,
        "unauthenticated",
    )
    .await;
}

#[tokio::test]
async fn stopping_the_server_ends_open_event_streams() {
    let server = TestServer::start().await;
    let alice = server.login("alice").await;
    let mut events = EventStream::connect(&server, &alice).await;
    events.next_frame(deadline()).await.expect("a greeting");
    drop(server);
    let deadline = deadline();
    while events.next_frame(deadline).await.is_some() {}
}

// ---------------------------------------------------------------- sizes and history pages

/// A field value over 256 KiB of JSON is rejected `field_too_large` naming
/// the field; one at the limit is fine. A write that would grow a record
/// past 1 MiB is rejected `record_too_large`; one that shrinks it is not.
#[tokio::test]
async fn oversized_fields_and_records_are_rejected_with_clear_codes() {
    let server = TestServer::start().await;
    let alice = server.login("alice").await;
    let max = ferry_protocol::MAX_FIELD_BYTES;
    // A JSON string is its characters and two quotes.
    let over = create(
        "contacts",
        Uuid::now_v7(),
        json!({"name": "Big", "notes": "n".repeat(max - 1)}),
    );
    let r = &server.push(&alice, &[over]).await[0];
    assert_eq!(r["status"], "rejected", "{r}");
    assert_eq!(r["error"]["code"], "field_too_large");
    let message = r["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("notes") && message.contains(&max.to_string()),
        "{message}"
    );
    assert_eq!(server.pull_all(&alice).await.0, Vec::<Value>::new());

    let id = Uuid::now_v7();
    let part = "x".repeat(260_000);
    let r = &server
        .push(
            &alice,
            &[create(
                "contacts",
                id,
                json!({"name": "Big", "notes": part}),
            )],
        )
        .await[0];
    assert_eq!(r["status"], "applied", "{}", r["error"]);
    for (v, field) in [(1, "company"), (2, "phone"), (3, "email")] {
        let r = &server
            .push(
                &alice,
                &[update(
                    "contacts",
                    id,
                    v,
                    json!({field: null}),
                    json!({field: part}),
                )],
            )
            .await[0];
        assert_eq!(r["status"], "applied", "{}", r["error"]);
    }
    let grow = update(
        "contacts",
        id,
        4,
        json!({"name": "Big"}),
        json!({"name": "y".repeat(20_000)}),
    );
    let r = &server.push(&alice, &[grow]).await[0];
    assert_eq!(r["status"], "rejected");
    assert_eq!(r["error"]["code"], "record_too_large");
    let message = r["error"]["message"].as_str().expect("message");
    assert!(
        message.contains(&ferry_protocol::MAX_RECORD_BYTES.to_string()),
        "{message}"
    );
    let shrink = update(
        "contacts",
        id,
        4,
        json!({"notes": part}),
        json!({"notes": "short"}),
    );
    assert_eq!(server.push(&alice, &[shrink]).await[0]["status"], "applied");
}

/// More than 16 mutations of one record in a push are refused whole with
/// 413 `too_many_versions`, writing nothing; 16 are fine.
#[tokio::test]
async fn a_push_with_too_many_versions_of_one_record_is_refused_whole() {
    let server = TestServer::start().await;
    let alice = server.login("alice").await;
    let id = Uuid::now_v7();
    server
        .push(&alice, &[create("tasks", id, json!({"title": "t0"}))])
        .await;
    let edits: Vec<Value> = (1..=17)
        .map(|i| update("tasks", id, i, json!({}), json!({"title": format!("t{i}")})))
        .collect();
    let resp = server
        .post("/v1/push", &alice)
        .json(&json!({"mutations": edits}))
        .send()
        .await
        .expect("push");
    let message = assert_error(resp, 413, "too_many_versions").await;
    assert!(
        message.contains("16") && message.contains(&id.to_string()),
        "{message}"
    );
    assert_eq!(server.history(&alice, "tasks", id).await.len(), 1);
    let results = server.push(&alice, &edits[..16]).await;
    assert!(results.iter().all(|r| r["status"] == "applied"));
    assert_eq!(server.history(&alice, "tasks", id).await.len(), 17);
}

/// History comes in pages: by `limit` (default 100), after `after_version`,
/// and by bytes (4 MiB), always at least one version, with `has_more`.
#[tokio::test]
async fn history_is_paged_by_count_and_bytes() {
    let server = TestServer::start().await;
    let alice = server.login("alice").await;
    let id = Uuid::now_v7();
    let notes = "n".repeat(200_000);
    server
        .push(
            &alice,
            &[create(
                "contacts",
                id,
                json!({"name": "v1", "notes": notes}),
            )],
        )
        .await;
    for v in 1..25 {
        let edit = update(
            "contacts",
            id,
            v,
            json!({}),
            json!({"name": format!("v{}", v + 1)}),
        );
        assert_eq!(server.push(&alice, &[edit]).await[0]["status"], "applied");
    }
    let versions = |body: &Value| -> Vec<i64> {
        body["versions"]
            .as_array()
            .expect("versions")
            .iter()
            .map(|v| v["version"].as_i64().expect("version"))
            .collect()
    };
    let page = server.history_page(&alice, "contacts", id, "limit=3").await;
    assert_eq!(versions(&page), [1, 2, 3]);
    assert_eq!(page["has_more"], true);
    assert_eq!(page["versions"][1]["fields"]["name"], "v2");
    assert_eq!(page["versions"][1]["fields"]["notes"], notes.as_str());
    let page = server
        .history_page(&alice, "contacts", id, "after_version=23&limit=5")
        .await;
    assert_eq!(versions(&page), [24, 25]);
    assert_eq!(page["has_more"], false);
    let page = server
        .history_page(&alice, "contacts", id, "after_version=25")
        .await;
    assert_eq!(versions(&page), Vec::<i64>::new());
    assert_eq!(page["has_more"], false);
    // 25 versions of 200 KB are over 4 MiB: the default page stops short.
    let page = server.history_page(&alice, "contacts", id, "").await;
    let n = versions(&page).len();
    assert!((1..25).contains(&n), "{n} versions in a 4 MiB page");
    assert_eq!(page["has_more"], true);
    let all = server.history(&alice, "contacts", id).await;
    assert_eq!(all.len(), 25);
    for (i, v) in all.iter().enumerate() {
        assert_eq!(v["fields"]["name"], format!("v{}", i + 1));
        assert_eq!(v["fields"]["notes"], notes.as_str());
    }
    for bad in ["limit=0", "after_version=-1", "limit=x"] {
        let resp = server
            .get(&format!("/v1/records/contacts/{id}/history?{bad}"), &alice)
            .send()
            .await
            .expect("history");
        assert_error(resp, 400, "malformed_request").await;
    }
    let resp = server
        .get(
            &format!(
                "/v1/records/contacts/{}/history?after_version=3",
                Uuid::now_v7()
            ),
            &alice,
        )
        .send()
        .await
        .expect("history");
    assert_error(resp, 404, "not_found").await;
}
