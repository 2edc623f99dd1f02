//! Devices (DESIGN.md, "Devices"): each sign-in is one, listed to its user
//! with what it said of itself and when it was last seen; a user signs out
//! their other devices, never another user's; a revoked device's token and
//! open event streams stop at once; a device told to wipe hears so; a
//! session unused for longer than the server keeps them expires, and use
//! keeps it alive.

mod common;

use std::time::Duration;

use tokio::time::Instant;

use common::{
    Captured, EventStream, PASSWORD, TestServer, assert_error, create, server_cli, test_limits,
};
use serde_json::{Value, json};
use uuid::Uuid;

/// Signs `username` in as a desktop app on Linux; the token.
async fn sign_in(server: &TestServer, username: &str, device: &str) -> String {
    let resp = server
        .http
        .post(server.url("/v1/auth/login"))
        .json(
            &json!({"username": username, "password": PASSWORD, "device_name": device,
                      "platform": "linux", "app_version": "ferry-desktop 0.4.0"}),
        )
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("JSON");
    body["token"].as_str().expect("token").to_string()
}

async fn devices(server: &TestServer, token: &str) -> Vec<Value> {
    let resp = server.get("/v1/devices", token).send().await.expect("list");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("JSON");
    body["devices"].as_array().expect("devices").clone()
}

fn named<'a>(list: &'a [Value], name: &str) -> &'a Value {
    list.iter()
        .find(|d| d["name"] == name)
        .unwrap_or_else(|| panic!("no device {name} in {list:?}"))
}

#[tokio::test]
async fn a_user_sees_their_devices_and_signs_out_another_of_theirs_only() {
    let server = TestServer::start().await;
    let laptop = sign_in(&server, "alice", "alice-laptop").await;
    let desktop = sign_in(&server, "alice", "alice-desktop").await;
    let bob = sign_in(&server, "bob", "bob-laptop").await;

    let mine = devices(&server, &laptop).await;
    assert_eq!(mine.len(), 2, "{mine:?}");
    let here = named(&mine, "alice-laptop");
    assert_eq!(here["current"], true);
    assert_eq!(named(&mine, "alice-desktop")["current"], false);
    assert_eq!(
        (&here["platform"], &here["app_version"], &here["last_ip"]),
        (
            &json!("linux"),
            &json!("ferry-desktop 0.4.0"),
            &json!("127.0.0.1")
        )
    );
    // The session ends 30 days after the last use.
    let seen = chrono::DateTime::parse_from_rfc3339(here["last_seen"].as_str().expect("seen"))
        .expect("RFC 3339");
    let ends = chrono::DateTime::parse_from_rfc3339(here["expires_at"].as_str().expect("ends"))
        .expect("RFC 3339");
    assert_eq!((ends - seen).num_days(), 30);

    // Bob's device is not alice's to see or to sign out.
    let bobs = devices(&server, &bob).await;
    assert_eq!(bobs.len(), 1);
    let bob_device = bobs[0]["id"].as_str().expect("id");
    let resp = server
        .http
        .delete(server.url(&format!("/v1/devices/{bob_device}")))
        .bearer_auth(&laptop)
        .send()
        .await
        .expect("delete");
    assert_error(resp, 404, "not_found").await;
    assert_eq!(devices(&server, &bob).await.len(), 1);

    // Alice signs her desktop out from the laptop: its token and its open
    // event stream stop at once; the laptop goes on.
    let mut stream = EventStream::connect(&server, &desktop).await;
    let desktop_id = named(&mine, "alice-desktop")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let resp = server
        .http
        .delete(server.url(&format!("/v1/devices/{desktop_id}")))
        .bearer_auth(&laptop)
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status(), 204);
    let resp = server
        .post("/v1/push", &desktop)
        .json(&json!({"mutations": [create("contacts", Uuid::now_v7(), json!({"name": "Late", "region": "north"}))]}))
        .send()
        .await
        .expect("push");
    assert_error(resp, 401, "device_revoked").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Some(frame) = stream.next_frame(deadline).await {
        assert!(
            frame.event.is_none(),
            "an event after the sign-out: {frame:?}"
        );
    }
    let left = devices(&server, &laptop).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["name"], "alice-laptop");
}

#[tokio::test(flavor = "current_thread")]
async fn a_device_told_to_wipe_hears_so_and_others_keep_working() {
    let (log, _guard) = Captured::logs("ferry_server=info");
    let server = TestServer::start().await;
    let laptop = sign_in(&server, "alice", "alice-laptop").await;
    let other = sign_in(&server, "alice", "alice-desktop").await;
    let id: Uuid = devices(&server, &laptop)
        .await
        .iter()
        .find(|d| d["current"] == true)
        .and_then(|d| d["id"].as_str())
        .and_then(|s| s.parse().ok())
        .expect("id");
    server
        .store
        .revoke_device(id, true)
        .await
        .expect("revoke")
        .expect("was there");
    let message = assert_error(
        server
            .get("/v1/schema", &laptop)
            .header("Ferry-Unsent-Edits", "7")
            .send()
            .await
            .expect("schema"),
        401,
        "wipe",
    )
    .await;
    assert!(message.contains("delete its local data"), "{message}");
    assert_eq!(devices(&server, &other).await.len(), 1);
    // The audit line names the user and device and counts what is lost.
    let text = log.text();
    let line = text
        .lines()
        .find(|l| l.contains("told a device to wipe its data"))
        .unwrap_or_else(|| panic!("no wipe line: {text}"));
    for part in [
        "username=alice".to_string(),
        format!("device_id={id}"),
        "unsent_edits=Some(7)".to_string(),
    ] {
        assert!(line.contains(&part), "{part} in {line}");
    }
}

#[tokio::test]
async fn an_unused_session_expires_and_a_used_one_lives_on() {
    let server = TestServer::start_with(ferry_server::Limits {
        session_lifetime: Duration::from_secs(3),
        ..test_limits()
    })
    .await;
    let used = sign_in(&server, "alice", "used").await;
    let idle = sign_in(&server, "bob", "idle").await;
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let resp = server
            .get("/v1/schema", &used)
            .send()
            .await
            .expect("schema");
        assert_eq!(resp.status(), 200, "a session in use stays open");
    }
    assert_error(
        server
            .get("/v1/schema", &idle)
            .send()
            .await
            .expect("schema"),
        401,
        "session_expired",
    )
    .await;
    // Signing in again gives a fresh session.
    let again = sign_in(&server, "bob", "idle").await;
    let resp = server
        .get("/v1/schema", &again)
        .send()
        .await
        .expect("schema");
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn an_administrator_lists_devices_and_revokes_one_with_a_wipe_after_confirming() {
    let server = TestServer::start().await;
    let laptop = sign_in(&server, "alice", "alice-laptop").await;
    let _bob = sign_in(&server, "bob", "bob-laptop").await;

    let out = server_cli(&server, &["device", "list", "alice"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        listed.contains("alice-laptop") && listed.contains("linux") && listed.contains("signed in"),
        "{listed}"
    );
    assert!(!listed.contains("bob-laptop"), "{listed}");
    let id = listed
        .lines()
        .find(|l| l.contains("alice-laptop"))
        .and_then(|l| l.split_whitespace().next())
        .expect("the device's id")
        .to_string();

    // A wipe says what it loses and wants the user's name typed.
    let out = server_cli(&server, &["device", "revoke", &id, "--wipe"], "bob\n");
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("edits it has not sent, which are lost"),
        "{said}"
    );
    assert!(said.contains("not confirmed"), "{said}");
    let resp = server
        .get("/v1/schema", &laptop)
        .send()
        .await
        .expect("schema");
    assert_eq!(resp.status(), 200, "nothing changed");

    let out = server_cli(&server, &["device", "revoke", &id, "--wipe"], "alice\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_error(
        server
            .get("/v1/schema", &laptop)
            .send()
            .await
            .expect("schema"),
        401,
        "wipe",
    )
    .await;
    let out = server_cli(&server, &["device", "list", "--all"], "");
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        listed
            .lines()
            .any(|l| l.contains("alice-laptop") && l.trim_end().ends_with("wipe")),
        "{listed}"
    );
    assert!(listed.contains("bob-laptop"), "{listed}");

    let out = server_cli(
        &server,
        &["device", "revoke", &Uuid::now_v7().to_string()],
        "",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no device"));
}
