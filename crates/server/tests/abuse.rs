//! Abuse without an account, or with a read-only one: login floods, slow
//! and idle connections, and piles of event streams are bounded.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// A raw connection to the test server.
async fn connect(server: &TestServer) -> TcpStream {
    let addr = server.base.trim_start_matches("http://");
    TcpStream::connect(addr).await.expect("connect")
}

/// Reads until the server closes the connection; panics if it is still
/// open at `deadline`. Returns what it sent.
async fn closed_by(mut conn: TcpStream, deadline: Instant) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout_at(deadline, conn.read(&mut buf)).await {
            Err(_) => panic!(
                "the server kept the connection open; it sent {:?}",
                String::from_utf8_lossy(&got)
            ),
            Ok(Ok(0) | Err(_)) => return got,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn concurrent_wrong_passwords_get_no_more_checks_than_the_limit() {
    let server = TestServer::start().await;
    let attempts = (0..20).map(|_| server.try_login("bob", "wrong"));
    let statuses: Vec<u16> = futures::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    let count = |s: u16| statuses.iter().filter(|&&x| x == s).count();
    assert_eq!(
        (count(401), count(429)),
        (5, 15),
        "5 checked and refused, the rest throttled: {statuses:?}"
    );
    // The right password does not slip through after them.
    assert_error(server.try_login("bob", PASSWORD).await, 429, "rate_limited").await;
    // Another user is not affected.
    server.login("alice").await;
}

#[tokio::test]
async fn logins_past_the_password_check_limit_are_busy_with_retry_after() {
    let mut limits = test_limits();
    limits.login_concurrency = 1;
    limits.login_wait = Duration::ZERO;
    let server = TestServer::start_with(limits).await;
    // Unknown users: each is checked against the decoy hash, and none is throttled.
    let users: Vec<String> = (0..8).map(|i| format!("nobody{i}")).collect();
    let responses =
        futures::future::join_all(users.iter().map(|u| server.try_login(u, "wrong"))).await;
    let mut busy = 0;
    for resp in responses {
        if resp.status() == 503 {
            busy += 1;
            let retry_after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .expect("503 carries Retry-After in seconds");
            assert!(retry_after >= 1);
            assert_error(resp, 503, "busy").await;
        } else {
            assert_error(resp, 401, "bad_credentials").await;
        }
    }
    assert!(
        busy >= 1,
        "8 logins at once with 1 check at a time: some are busy"
    );
    // The checks are free again, and a busy answer counted no failure.
    server.login("alice").await;
}

#[tokio::test]
async fn a_login_body_over_8_kib_is_too_large() {
    let server = TestServer::start().await;
    let body = json!({"username": "alice", "password": "x".repeat(9 * 1024), "device_name": "d"});
    let resp = server
        .http
        .post(server.url("/v1/auth/login"))
        .json(&body)
        .send()
        .await
        .expect("login");
    assert_error(resp, 413, "too_large").await;
    // Other endpoints keep the larger limit: this body is merely malformed there.
    let token = server.login("alice").await;
    let resp = server
        .post("/v1/push", &token)
        .json(&body)
        .send()
        .await
        .expect("push");
    assert_error(resp, 400, "malformed_request").await;
}

#[tokio::test]
async fn half_sent_headers_are_closed_after_the_header_timeout() {
    let mut limits = test_limits();
    limits.header_timeout = Duration::from_millis(500);
    let server = TestServer::start_with(limits).await;
    let mut conn = connect(&server).await;
    conn.write_all(b"GET /v1/health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await
        .expect("write");
    let start = Instant::now();
    closed_by(conn, start + Duration::from_secs(5)).await;
    assert!(
        start.elapsed() >= Duration::from_millis(400),
        "not before the timeout"
    );
}

#[tokio::test]
async fn idle_connections_at_the_cap_time_out_and_health_answers_again() {
    let mut limits = test_limits();
    limits.max_connections = 4;
    limits.header_timeout = Duration::from_millis(500);
    let server = TestServer::start_with(limits).await;
    let start = Instant::now();
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(connect(&server).await);
    }
    // A kept-alive connection that went idle after a request closes too.
    let mut used = connect(&server).await;
    used.write_all(b"GET /v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("write");
    let health = server.http.get(server.url("/v1/health")).send();
    let resp = tokio::time::timeout(Duration::from_secs(5), health)
        .await
        .expect("health answers once idle connections time out")
        .expect("health");
    assert_eq!(resp.status(), 200);
    for conn in idle {
        closed_by(conn, start + Duration::from_secs(5)).await;
    }
    let answer = closed_by(used, start + Duration::from_secs(5)).await;
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
}

#[tokio::test]
async fn new_connections_wait_while_the_cap_is_reached() {
    let mut limits = test_limits();
    limits.max_connections = 4;
    limits.header_timeout = Duration::from_secs(30);
    let server = TestServer::start_with(limits).await;
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(connect(&server).await);
    }
    let waiting = tokio::time::timeout(
        Duration::from_secs(1),
        server.http.get(server.url("/v1/health")).send(),
    )
    .await;
    assert!(
        waiting.is_err(),
        "a fifth connection is not served: {waiting:?}"
    );
    // One closes: the next in the backlog is served.
    drop(idle.pop());
    let resp = tokio::time::timeout(
        Duration::from_secs(5),
        server.http.get(server.url("/v1/health")).send(),
    )
    .await
    .expect("served once a connection closed")
    .expect("health");
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn a_users_stream_past_the_limit_ends_their_oldest() {
    let mut limits = test_limits();
    limits.max_event_streams = 2;
    let server = TestServer::start_with(limits).await;
    let carol = server.login("carol").await;
    let alice = server.login("alice").await;
    let mut first = EventStream::connect(&server, &carol).await;
    first.next_frame(deadline()).await.expect("a greeting");
    let mut second = EventStream::connect(&server, &carol).await;
    let mut others = EventStream::connect(&server, &alice).await;
    let mut third = EventStream::connect(&server, &carol).await;
    let until = Instant::now() + Duration::from_secs(5);
    while first.next_frame(deadline()).await.is_some() {
        assert!(Instant::now() < until, "the oldest stream is still open");
    }
    // The newer ones, and another user's, stay open: they get greetings and keep-alives.
    for stream in [&mut second, &mut third, &mut others] {
        for _ in 0..2 {
            stream.next_frame(deadline()).await.expect("still open");
        }
    }
}

#[tokio::test]
async fn a_login_body_sent_slowly_times_out() {
    let mut limits = test_limits();
    limits.header_timeout = Duration::from_millis(500);
    let server = TestServer::start_with(limits).await;
    let mut conn = connect(&server).await;
    conn.write_all(
        b"POST /v1/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"username\":",
    )
    .await
    .expect("write");
    let start = Instant::now();
    let answer = closed_by(conn, start + Duration::from_secs(5)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"timeout""#), "{answer}");
    assert!(
        start.elapsed() >= Duration::from_millis(400),
        "not before the timeout"
    );
}

#[tokio::test]
async fn headers_past_64_kib_are_refused() {
    let server = TestServer::start().await;
    let mut conn = connect(&server).await;
    let head = format!(
        "GET /v1/health HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
        "x".repeat(80 * 1024)
    );
    // The server may close before reading it all.
    let _ = conn.write_all(head.as_bytes()).await;
    let answer = closed_by(conn, Instant::now() + Duration::from_secs(5)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
}
