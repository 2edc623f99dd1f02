//! The OpenAPI document is generated from the handlers; these tests fail
//! when the checked-in copy or the routes drift from it.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use ferry_server::store::sqlite::SqliteStore;
use ferry_server::{AppState, Limits};
use tower::ServiceExt;

#[test]
fn checked_in_document_matches_the_handlers() {
    let generated = ferry_server::openapi()
        .to_pretty_json()
        .expect("serialises");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
    let checked_in = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        generated.trim() == checked_in.trim(),
        "crates/server/openapi.json is stale: run `make openapi` and commit it"
    );
}

#[test]
fn documents_every_v1_endpoint_of_the_protocol() {
    let doc = ferry_server::openapi();
    let mut paths: Vec<&str> = doc.paths.paths.keys().map(String::as_str).collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        [
            "/v1/admin/audit",
            "/v1/admin/changes",
            "/v1/admin/collections",
            "/v1/admin/collections/{name}",
            "/v1/admin/collections/{name}/fields/{field}/usage",
            "/v1/admin/collections/{name}/migrations",
            "/v1/admin/devices",
            "/v1/admin/devices/{id}/revoke",
            "/v1/admin/grants",
            "/v1/admin/health",
            "/v1/admin/migrations",
            "/v1/admin/preview",
            "/v1/admin/records/{collection}/{id}/history",
            "/v1/admin/session",
            "/v1/admin/teams",
            "/v1/admin/teams/{name}",
            "/v1/admin/teams/{name}/members/{username}",
            "/v1/admin/users",
            "/v1/admin/users/{username}",
            "/v1/app/update/{target}/{version}",
            "/v1/auth/login",
            "/v1/auth/logout",
            "/v1/blobs/{sha256}",
            "/v1/changes",
            "/v1/devices",
            "/v1/devices/{id}",
            "/v1/events",
            "/v1/health",
            "/v1/push",
            "/v1/records/{collection}/{id}/history",
            "/v1/schema",
        ]
    );
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let store = Arc::new(SqliteStore::open(":memory:").expect("store"));
    let (state, _stop) = AppState::new(store, Limits::default())
        .await
        .expect("state");
    let app = ferry_server::router(state);
    let doc = ferry_server::openapi();
    let mut checked = 0;
    for (path, item) in &doc.paths.paths {
        let uri = path
            .replace("{collection}", "tasks")
            .replace("{id}", "0193a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b")
            .replace("{target}", "linux-x86_64")
            .replace("{version}", "0.1.0")
            .replace("{sha256}", &"ab".repeat(32))
            .replace("{name}", "north")
            .replace("{username}", "dana")
            .replace("{field}", "title");
        for (method, op) in [
            (Method::GET, &item.get),
            (Method::POST, &item.post),
            (Method::HEAD, &item.head),
            (Method::PUT, &item.put),
            (Method::DELETE, &item.delete),
            (Method::PATCH, &item.patch),
        ] {
            if op.is_none() {
                continue;
            }
            let request = Request::builder()
                .method(method.clone())
                .uri(&uri)
                .body(Body::empty())
                .expect("request");
            let response = app.clone().oneshot(request).await.expect("response");
            let status = response.status();
            assert!(
                status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {uri} is documented but answers {status}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 40);
}
