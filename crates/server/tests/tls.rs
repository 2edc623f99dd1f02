//! `--tls-cert/--tls-key`: the API over HTTPS with rustls.

use std::sync::Arc;

use ferry_server::store::sqlite::SqliteStore;
use ferry_server::{AppState, Limits};

/// A state over an empty store, its stop sender, and a loopback listener.
async fn server_parts() -> (
    AppState,
    tokio::sync::watch::Sender<bool>,
    tokio::net::TcpListener,
) {
    server_parts_with(Limits::default()).await
}

async fn server_parts_with(
    limits: Limits,
) -> (
    AppState,
    tokio::sync::watch::Sender<bool>,
    tokio::net::TcpListener,
) {
    let store = Arc::new(SqliteStore::open(":memory:").expect("store"));
    let (state, stop) = AppState::new(store, limits).await.expect("state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    (state, stop, listener)
}

/// A self-signed certificate for localhost and its key, as PEM files in a
/// temporary directory (kept while the directory is).
fn self_signed() -> (
    tempfile::TempDir,
    rcgen::CertifiedKey,
    std::path::PathBuf,
    std::path::PathBuf,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).expect("write cert");
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).expect("write key");
    (dir, cert, cert_path, key_path)
}

#[tokio::test]
async fn serves_https_with_the_given_certificate() {
    let (_dir, cert, cert_path, key_path) = self_signed();

    let (state, stop, listener) = server_parts().await;
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (c, k) = (cert_path.clone(), key_path.clone());
    let server = tokio::spawn(async move {
        ferry_server::serve_tls(
            listener,
            state,
            stop,
            async {
                let _ = rx.await;
            },
            &c,
            &k,
        )
        .await
    });

    let trusted = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).expect("pem"),
        )
        .resolve("localhost", ([127, 0, 0, 1], port).into())
        .build()
        .expect("client");
    let url = format!("https://localhost:{port}/v1/health");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let body: serde_json::Value = loop {
        match trusted.get(&url).send().await {
            Ok(resp) => break resp.json().await.expect("json"),
            Err(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Err(e) => panic!("HTTPS health check failed: {e}"),
        }
    };
    assert_eq!(body["status"], "ok");

    // A client that does not trust the certificate is refused.
    let untrusted = reqwest::Client::builder()
        .resolve("localhost", ([127, 0, 0, 1], port).into())
        .build()
        .expect("client");
    assert!(untrusted.get(&url).send().await.is_err());
    // Plain HTTP to the TLS port gets no API answer.
    let plain = reqwest::get(format!("http://127.0.0.1:{port}/v1/health")).await;
    assert!(plain.map(|r| !r.status().is_success()).unwrap_or(true));

    let _ = tx.send(());
    server.await.expect("join").expect("clean shutdown");
}

#[tokio::test]
async fn a_missing_certificate_is_a_clear_error() {
    let (state, stop, listener) = server_parts().await;
    let missing = std::path::Path::new("/nonexistent/cert.pem");
    let err = ferry_server::serve_tls(
        listener,
        state,
        stop,
        std::future::pending(),
        missing,
        missing,
    )
    .await
    .expect_err("must fail");
    assert!(
        err.to_string()
            .contains("cannot load TLS certificate /nonexistent/cert.pem"),
        "{err}"
    );
}

/// Reads until the server closes `conn`; panics if it is open after 5 s.
async fn closed_within_5_s(mut conn: impl tokio::io::AsyncRead + Unpin) {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, conn.read(&mut buf)).await {
            Err(_) => panic!("the server kept the connection open"),
            Ok(Ok(0) | Err(_)) => return,
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn silent_handshakes_and_half_sent_headers_time_out_over_tls() {
    use tokio::io::AsyncWriteExt;
    let (_dir, cert, cert_path, key_path) = self_signed();
    let limits = Limits {
        header_timeout: std::time::Duration::from_millis(500),
        ..Limits::default()
    };
    let (state, stop, listener) = server_parts_with(limits).await;
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        ferry_server::serve_tls(
            listener,
            state,
            stop,
            std::future::pending(),
            &cert_path,
            &key_path,
        )
        .await
    });

    // No handshake at all.
    let silent = tokio::net::TcpStream::connect(addr).await.expect("connect");
    closed_within_5_s(silent).await;

    // A handshake, then half a request.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).expect("root");
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let mut tls = connector.connect(name, tcp).await.expect("TLS handshake");
    tls.write_all(b"GET /v1/health HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .expect("write");
    closed_within_5_s(tls).await;
}
