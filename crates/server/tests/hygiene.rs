//! What every answer and every log line must not give away or let through:
//! API answers are never sniffed or cached, and a hostile username cannot
//! forge log lines or send terminal codes to the operator's console.

mod common;

use common::{Captured, TestServer};

#[tokio::test]
async fn api_answers_are_neither_sniffed_nor_cached() {
    let server = TestServer::start().await;
    let token = server.login("alice").await;
    let answers = [
        server.http.get(server.url("/v1/health")).send().await,
        server.get("/v1/schema", &token).send().await,
        server.get("/v1/changes", "not-a-token").send().await,
        server.http.get(server.url("/v1/nowhere")).send().await,
    ];
    for resp in answers {
        let resp = resp.expect("request");
        let url = resp.url().to_string();
        let headers = resp.headers();
        assert_eq!(
            headers.get("x-content-type-options").map(|v| v.as_bytes()),
            Some(&b"nosniff"[..]),
            "{url}"
        );
        assert_eq!(
            headers.get("cache-control").map(|v| v.as_bytes()),
            Some(&b"no-store"[..]),
            "{url}"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_username_with_newlines_and_escape_codes_cannot_forge_log_lines() {
    let (captured, _guard) = Captured::logs("ferry_server=info");

    let server = TestServer::start().await;
    // At most 64 bytes, the longest username the server takes.
    let forged = "mallory\n2026-12-04T00:00:00Z INFO login admin\u{1b}]52;c;eA==\u{7}";
    let resp = server.try_login(forged, "wrong").await;
    assert_eq!(resp.status(), 401);

    let log = captured.text();
    assert!(log.contains("failed login"), "the failure is logged: {log}");
    let failure = log
        .lines()
        .find(|l| l.contains("failed login"))
        .unwrap_or_default();
    assert!(
        failure.contains("mallory\\n2026"),
        "the newline is shown escaped on the failure's own line: {failure}"
    );
    assert!(
        !log.lines().any(|l| l.starts_with("2026-12-04T00:00:00Z")),
        "a forged line: {log}"
    );
    assert!(
        !log.contains('\u{1b}') && !log.contains('\u{7}'),
        "terminal codes reach the log raw: {log:?}"
    );
}
