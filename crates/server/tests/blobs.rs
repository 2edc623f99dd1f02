//! Files' bytes over HTTP (DESIGN.md, "Blobs"): resumable uploads checked
//! against their SHA-256, ranges, access by the uploader only, limits.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::{TEST_MAX_FILE, TEST_QUOTA, TestServer, assert_error};
use serde_json::Value;
use sha2::Digest;
use tokio::io::AsyncWriteExt;

fn sha(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ seed).collect()
}

const MB: usize = 1024 * 1024;

async fn put(
    server: &TestServer,
    token: &str,
    id: &str,
    bytes: &[u8],
    range: Option<(usize, usize)>,
) -> reqwest::Response {
    let mut req = server
        .http
        .put(server.url(&format!("/v1/blobs/{id}")))
        .bearer_auth(token);
    if let Some((start, total)) = range {
        req = req.header(
            "Content-Range",
            format!("bytes {start}-{}/{total}", start + bytes.len() - 1),
        );
    }
    req.body(bytes.to_vec()).send().await.expect("put")
}

/// A whole-file PUT of which only `sent` bytes went, on a connection left
/// open (given back), a moment after they went.
async fn put_begun(
    server: &TestServer,
    token: &str,
    id: &str,
    bytes: &[u8],
    sent: usize,
) -> tokio::net::TcpStream {
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut conn = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let head_lines = format!(
        "PUT /v1/blobs/{id} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\n\r\n",
        bytes.len()
    );
    conn.write_all(head_lines.as_bytes())
        .await
        .expect("headers");
    conn.write_all(&bytes[..sent]).await.expect("some bytes");
    conn.flush().await.expect("flush");
    tokio::time::sleep(Duration::from_millis(300)).await;
    conn
}

async fn head(server: &TestServer, token: &str, id: &str) -> (u16, Option<u64>, Option<u64>) {
    let resp = server
        .http
        .head(server.url(&format!("/v1/blobs/{id}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("head");
    let num = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
    };
    (
        resp.status().as_u16(),
        num("content-length"),
        num("upload-offset"),
    )
}

async fn a_file_sent_in_parts_is_checked_stored_and_readable_by_its_uploader_only(
    server: TestServer,
) {
    let (alice, bob) = (server.login("alice").await, server.login("bob").await);
    let bytes = pattern(3 * MB, 7);
    let id = sha(&bytes);
    assert_eq!(head(&server, &alice, &id).await, (404, Some(0), Some(0)));

    let resp = put(&server, &alice, &id, &bytes[..MB], Some((0, 3 * MB))).await;
    assert_eq!(resp.status(), 202);
    assert_eq!(resp.headers()["upload-offset"], "1048576");
    let status: Value = resp.json().await.expect("json");
    assert_eq!(status["received"], MB as u64);
    assert_eq!(status["size"], 3 * MB as u64);

    // A part that does not start where the upload stands is refused, saying where.
    let resp = put(
        &server,
        &alice,
        &id,
        &bytes[2 * MB..],
        Some((2 * MB, 3 * MB)),
    )
    .await;
    assert_eq!(resp.headers()["upload-offset"], "1048576");
    assert_error(resp, 409, "upload_offset").await;
    assert_eq!(head(&server, &alice, &id).await.2, Some(MB as u64));

    let resp = put(&server, &alice, &id, &bytes[MB..], Some((MB, 3 * MB))).await;
    assert_eq!(resp.status(), 201);
    assert_eq!(head(&server, &alice, &id).await.0, 200);
    assert_eq!(head(&server, &alice, &id).await.1, Some(3 * MB as u64));

    let got = server
        .get(&format!("/v1/blobs/{id}"), &alice)
        .send()
        .await
        .expect("get");
    assert_eq!(got.status(), 200);
    assert!(got.bytes().await.expect("bytes") == bytes);
    let part = server
        .get(&format!("/v1/blobs/{id}"), &alice)
        .header("Range", "bytes=10-19")
        .send()
        .await
        .expect("get");
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], "bytes 10-19/3145728");
    assert_eq!(part.bytes().await.expect("bytes"), bytes[10..20]);
    let outside = server
        .get(&format!("/v1/blobs/{id}"), &alice)
        .header("Range", "bytes=5000000-")
        .send()
        .await
        .expect("get");
    assert_error(outside, 416, "range_not_satisfiable").await;

    // The hash alone gives bob nothing.
    assert_eq!(head(&server, &bob, &id).await.0, 404);
    let resp = server
        .get(&format!("/v1/blobs/{id}"), &bob)
        .send()
        .await
        .expect("get");
    assert_error(resp, 404, "not_found").await;
    // Sending it again: alice has it already; bob, sending the bytes, gets it too.
    assert_eq!(put(&server, &alice, &id, &bytes, None).await.status(), 200);
    assert_eq!(put(&server, &bob, &id, &bytes, None).await.status(), 201);
    assert_eq!(head(&server, &bob, &id).await.0, 200);
}

async fn bytes_that_do_not_hash_to_the_name_are_refused_and_the_upload_starts_over(
    server: TestServer,
) {
    let alice = server.login("alice").await;
    let claimed = sha(b"what I said I would send");
    let resp = put(&server, &alice, &claimed, b"something else", None).await;
    let message = assert_error(resp, 422, "hash_mismatch").await;
    assert!(message.contains("send the file again"), "{message}");
    assert_eq!(
        head(&server, &alice, &claimed).await,
        (404, Some(0), Some(0))
    );
}

async fn files_over_the_limit_or_the_quota_are_refused_with_413(server: TestServer) {
    let alice = server.login("alice").await;
    let huge = TEST_MAX_FILE as usize + 1;
    let resp = put(&server, &alice, &"ab".repeat(32), b"x", Some((0, huge))).await;
    let message = assert_error(resp, 413, "too_large").await;
    assert!(message.contains("at most 8 MB"), "{message}");

    let first = pattern(7 * MB, 1);
    assert_eq!(
        put(&server, &alice, &sha(&first), &first, None)
            .await
            .status(),
        201
    );
    let second = pattern(TEST_QUOTA as usize - 6 * MB, 2);
    let resp = put(&server, &alice, &sha(&second), &second, None).await;
    let message = assert_error(resp, 413, "quota_exceeded").await;
    assert_eq!(
        message,
        "this file (6 MB) would take your files to 13 MB of your 12 MB"
    );
}

async fn malformed_names_and_ranges_and_missing_tokens_are_refused(server: TestServer) {
    let alice = server.login("alice").await;
    let resp = put(&server, &alice, "not-a-hash", b"x", None).await;
    assert_error(resp, 400, "malformed_request").await;
    let resp = server
        .http
        .put(server.url(&format!("/v1/blobs/{}", "cd".repeat(32))))
        .bearer_auth(&alice)
        .header("Content-Range", "bytes 5-2/10")
        .body("x")
        .send()
        .await
        .expect("put");
    assert_error(resp, 400, "malformed_request").await;
    let resp = server
        .http
        .get(server.url(&format!("/v1/blobs/{}", "cd".repeat(32))))
        .send()
        .await
        .expect("get");
    assert_error(resp, 401, "unauthenticated").await;
}

/// A connection lost in the middle of a part keeps what arrived: the
/// upload continues from there.
async fn a_part_cut_off_midway_keeps_what_arrived(server: TestServer) {
    let alice = server.login("alice").await;
    let bytes = pattern(2 * MB, 3);
    let id = sha(&bytes);
    let conn = put_begun(&server, &alice, &id, &bytes, 300_000).await;
    drop(conn);
    let deadline = Instant::now() + Duration::from_secs(10);
    let offset = loop {
        let (status, _, offset) = head(&server, &alice, &id).await;
        assert_eq!(status, 404);
        if offset == Some(300_000) || Instant::now() > deadline {
            break offset;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(offset, Some(300_000), "the bytes that arrived are kept");
    let resp = put(
        &server,
        &alice,
        &id,
        &bytes[300_000..],
        Some((300_000, bytes.len())),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let got = server
        .get(&format!("/v1/blobs/{id}"), &alice)
        .send()
        .await
        .expect("get");
    assert!(got.bytes().await.expect("bytes") == bytes);
}

/// A client gone silent mid-part (a laptop killed behind a proxy that keeps
/// the connection) does not hold its upload: the next request takes over,
/// learns where the upload stands, and finishes it.
async fn a_newer_request_takes_over_from_a_silent_one(server: TestServer) {
    let alice = server.login("alice").await;
    let bytes = pattern(2 * MB, 5);
    let id = sha(&bytes);
    let silent = put_begun(&server, &alice, &id, &bytes, 300_000).await;

    // The silent connection stays open; a new attempt from the start hears
    // where the server stands, and goes on from there.
    let resp = tokio::time::timeout(
        Duration::from_secs(10),
        put(&server, &alice, &id, &bytes, Some((0, bytes.len()))),
    )
    .await
    .expect("answered while the other connection is silent");
    let offset = match resp.status().as_u16() {
        201 => bytes.len(),
        409 => resp
            .headers()
            .get("upload-offset")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            .expect("Upload-Offset"),
        other => panic!("unexpected {other}"),
    };
    assert!(offset <= 300_000, "{offset}");
    if offset < bytes.len() {
        let resp = put(
            &server,
            &alice,
            &id,
            &bytes[offset..],
            Some((offset, bytes.len())),
        )
        .await;
        assert_eq!(resp.status(), 201);
    }
    let got = server
        .get(&format!("/v1/blobs/{id}"), &alice)
        .send()
        .await
        .expect("get");
    assert!(got.bytes().await.expect("bytes") == bytes);
    drop(silent);
}

both_blob_stores!(
    a_file_sent_in_parts_is_checked_stored_and_readable_by_its_uploader_only,
    bytes_that_do_not_hash_to_the_name_are_refused_and_the_upload_starts_over,
    files_over_the_limit_or_the_quota_are_refused_with_413,
    malformed_names_and_ranges_and_missing_tokens_are_refused,
    a_part_cut_off_midway_keeps_what_arrived,
    a_newer_request_takes_over_from_a_silent_one,
);
