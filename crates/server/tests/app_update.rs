//! A team publishes a signed release into the server's releases directory;
//! an older app asking `/v1/app/update/{target}/{version}` is offered it,
//! with a signature that verifies against the team's public key, and a
//! current app is told there is nothing newer.

use std::io::Cursor;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ferry_server::store::sqlite::SqliteStore;
use ferry_server::{AppState, Limits};
use serde_json::{Value, json};
use tower::ServiceExt;

/// Signs `bytes` the way `tauri signer sign --app-version` does: the
/// signature file's text, base64-encoded.
fn sign(keys: &minisign::KeyPair, bytes: &[u8], version: &str) -> String {
    let signature = minisign::sign(
        Some(&keys.pk),
        &keys.sk,
        Cursor::new(bytes),
        Some(&format!("file:ferry.deb\tversion:{version}")),
        None,
    )
    .expect("sign");
    BASE64.encode(signature.into_string())
}

fn verifies(keys: &minisign::KeyPair, bytes: &[u8], signature: &str) -> bool {
    let text = BASE64.decode(signature).expect("base64 signature");
    let text = String::from_utf8(text).expect("utf-8 signature");
    let signature = minisign::SignatureBox::from_string(&text).expect("signature box");
    minisign::verify(&keys.pk, &signature, Cursor::new(bytes), true, false, false).is_ok()
}

async fn app(releases: Option<&std::path::Path>) -> axum::Router {
    let store = Arc::new(SqliteStore::open(":memory:").expect("store"));
    let (mut state, _stop) = AppState::new(store, Limits::default())
        .await
        .expect("state");
    state.releases = releases.map(Into::into);
    ferry_server::router(state)
}

async fn get(app: &axum::Router, path: &str) -> (StatusCode, Option<Value>) {
    let request = Request::builder()
        .uri(path)
        .body(Body::empty())
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("response");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    let body = (!bytes.is_empty()).then(|| serde_json::from_slice(&bytes).expect("JSON body"));
    (status, body)
}

#[tokio::test]
async fn an_older_app_is_offered_the_newer_signed_release() {
    let keys = minisign::KeyPair::generate_unencrypted_keypair().expect("keys");
    let dir = tempfile::tempdir().expect("tempdir");
    let deb = b"the 0.2.0 package".to_vec();
    let msi = b"the 0.2.0 Windows installer".to_vec();
    let manifest = json!({
        "version": "0.2.0",
        "notes": "Faster search.",
        "pub_date": "2026-11-27T08:00:00Z",
        "platforms": {
            "linux-x86_64-deb": {"url": "https://dl.example.org/Ferry_0.2.0_amd64.deb", "signature": sign(&keys, &deb, "0.2.0")},
            "windows-x86_64-msi": {"url": "https://dl.example.org/Ferry_0.2.0_x64_en-US.msi", "signature": sign(&keys, &msi, "0.2.0")},
        }
    });
    std::fs::write(dir.path().join("0.2.0.json"), manifest.to_string()).expect("publish");
    // An older release and a stray file stay out of the answer.
    std::fs::write(
        dir.path().join("0.1.5.json"),
        json!({"version": "0.1.5", "platforms": {"linux-x86_64-deb": {"url": "https://dl.example.org/old.deb", "signature": "x"}}}).to_string(),
    )
    .expect("publish");
    std::fs::write(dir.path().join("notes.json"), "not a manifest").expect("write");
    let app = app(Some(dir.path())).await;

    let (status, body) = get(&app, "/v1/app/update/linux-x86_64/0.1.0").await;
    assert_eq!(status, StatusCode::OK);
    let body = body.expect("a manifest");
    assert_eq!(body["version"], "0.2.0");
    assert_eq!(body["notes"], "Faster search.");
    let platforms = body["platforms"].as_object().expect("platforms");
    assert_eq!(
        platforms.keys().collect::<Vec<_>>(),
        ["linux-x86_64-deb"],
        "only this target's installers"
    );
    let signature = platforms["linux-x86_64-deb"]["signature"]
        .as_str()
        .expect("signature");
    assert!(verifies(&keys, &deb, signature), "the signature verifies");
    assert!(!verifies(&keys, b"a tampered package", signature));

    let (status, body) = get(&app, "/v1/app/update/windows-x86_64/0.1.9").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.expect("manifest")["version"], "0.2.0");

    for current in ["0.2.0", "0.3.0"] {
        let (status, body) = get(&app, &format!("/v1/app/update/linux-x86_64/{current}")).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{current} is up to date");
        assert!(body.is_none());
    }
    let (status, _) = get(&app, "/v1/app/update/darwin-aarch64/0.1.0").await;
    assert_eq!(status, StatusCode::NO_CONTENT, "nothing for that platform");

    let (status, body) = get(&app, "/v1/app/update/linux-x86_64/latest").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body.expect("error")["error"]["code"], "malformed_request");
    let (status, _) = get(&app, "/v1/app/update/Linux%20x86/0.1.0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn without_a_releases_directory_there_is_never_an_update() {
    let app = app(None).await;
    let (status, _) = get(&app, "/v1/app/update/linux-x86_64/0.0.1").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let missing = tempfile::tempdir().expect("tempdir");
    let app = self::app(Some(&missing.path().join("not-yet"))).await;
    let (status, _) = get(&app, "/v1/app/update/linux-x86_64/0.0.1").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}
