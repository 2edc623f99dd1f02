//! A real S3 API on loopback for the tests: moto in server mode, from the
//! venv `scripts/moto.sh` makes (or `FERRY_TEST_MOTO`), on a port of its own,
//! stopped when dropped. `make test` sets `FERRY_REQUIRE_S3`: then a missing
//! moto fails the test instead of skipping it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use object_store::aws::AmazonS3Builder;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::S3Blobs;

pub struct Moto {
    child: tokio::process::Child,
    port: u16,
}

fn binary() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("FERRY_TEST_MOTO") {
        return Some(PathBuf::from(path));
    }
    let home = std::env::var_os("HOME")?;
    let path = PathBuf::from(home).join(".cache/ferry/moto/bin/moto_server");
    path.exists().then_some(path)
}

impl Moto {
    /// Starts moto; `None` (the test skips) when it is not installed and
    /// `FERRY_REQUIRE_S3` is not set.
    pub async fn start() -> Option<Moto> {
        let Some(bin) = binary().filter(|b| b.exists()) else {
            assert!(
                std::env::var_os("FERRY_REQUIRE_S3").is_none(),
                "FERRY_REQUIRE_S3 is set but moto is not installed: run scripts/moto.sh"
            );
            eprintln!("skipped: moto is not installed (scripts/moto.sh)");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = tokio::process::Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "moto did not listen within 30 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Some(Moto { child, port })
    }

    /// A fresh bucket `bucket` and a store over it.
    pub async fn store(&self, bucket: &str) -> S3Blobs {
        // moto takes an unsigned request to make a bucket.
        let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .expect("connect to moto");
        let request = format!(
            "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        conn.write_all(request.as_bytes()).await.expect("send");
        let mut answer = String::new();
        conn.read_to_string(&mut answer).await.expect("answer");
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "making the bucket: {answer}"
        );
        let builder = AmazonS3Builder::new()
            .with_endpoint(format!("http://127.0.0.1:{}", self.port))
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_bucket_name(bucket)
            .with_access_key_id("test")
            .with_secret_access_key("test");
        S3Blobs::build(builder, "ferry/blobs").expect("store")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
