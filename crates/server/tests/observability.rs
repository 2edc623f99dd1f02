//! What an operator watches: `/metrics` on its own listener, scraped and
//! parsed as Prometheus text; the request id in the `X-Request-Id` header,
//! in error bodies and in JSON log lines.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{EventStream, PATIENCE, TestServer, create, deadline, update};
use prometheus_parse::{Scrape, Value as Metric};
use serde_json::{Value, json};
use uuid::Uuid;

/// `GET /metrics` of the server's metrics listener, parsed.
async fn scrape(server: &TestServer) -> Scrape {
    let base = server.metrics_base.as_deref().expect("a metrics listener");
    let resp = server
        .http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.expect("metrics text");
    Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("Prometheus text parses")
}

/// The value of the one sample of `name` with every label of `labels`.
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .and_then(|s| match s.value {
            Metric::Counter(n) | Metric::Gauge(n) | Metric::Untyped(n) => Some(n),
            _ => None,
        })
}

fn has_histogram(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> bool {
    scrape.samples.iter().any(|s| {
        s.metric == name
            && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v))
            && matches!(&s.value, Metric::Histogram(b) if b.iter().any(|c| c.count >= 1.0))
    })
}

/// Scrapes until `ready` holds for a scrape (the sizes are sampled).
async fn scrape_until(server: &TestServer, ready: impl Fn(&Scrape) -> bool) -> Scrape {
    let until = deadline();
    loop {
        let s = scrape(server).await;
        if ready(&s) {
            return s;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "metrics never got there: {:?}",
            s.samples
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_scrape_after_pushes_pulls_and_a_failed_login_has_every_series() {
    let server = TestServer::start().await;
    let (alice, bob) = (server.login("alice").await, server.login("bob").await);
    let wrong = server.try_login("alice", "not her password").await;
    assert_eq!(wrong.status(), 401);
    let stream = EventStream::connect(&server, &alice).await;

    let (grace, ada) = (Uuid::now_v7(), Uuid::now_v7());
    server
        .push(
            &alice,
            &[
                create("contacts", grace, json!({"name": "Grace Hopper"})),
                create("contacts", ada, json!({"name": "Ada Lovelace"})),
            ],
        )
        .await;
    // Bob's edit from version 1 of a record alice changed since merges.
    server
        .push(
            &alice,
            &[update(
                "contacts",
                grace,
                1,
                json!({"name": "Grace Hopper"}),
                json!({"name": "Grace B. Hopper"}),
            )],
        )
        .await;
    let merged = server
        .push(
            &bob,
            &[update(
                "contacts",
                grace,
                1,
                json!({"email": null}),
                json!({"email": "grace@navy.example"}),
            )],
        )
        .await;
    assert_eq!(merged[0]["status"], "merged");
    server.pull_all(&alice).await;
    let nowhere = server
        .get(&format!("/v1/no-such-thing/{}", Uuid::now_v7()), &alice)
        .send()
        .await
        .expect("get");
    assert_eq!(nowhere.status(), 404);

    // The sizes are sampled: wait for a sample taken after the last write.
    let s = scrape_until(&server, |s| {
        value(s, "ferry_records", &[("collection", "contacts")]) == Some(2.0)
            && value(s, "ferry_history_rows", &[("collection", "contacts")]) == Some(4.0)
    })
    .await;
    let push_ok = [("route", "/v1/push"), ("method", "POST"), ("status", "200")];
    assert_eq!(value(&s, "ferry_http_requests_total", &push_ok), Some(3.0));
    assert!(value(&s, "ferry_http_requests_total", &[("route", "/v1/changes")]).is_some());
    assert_eq!(
        value(
            &s,
            "ferry_http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        ),
        Some(1.0)
    );
    assert!(
        s.samples.iter().all(|x| x
            .labels
            .get("route")
            .is_none_or(|r| !r.contains("no-such-thing"))),
        "a raw path never becomes a label"
    );
    assert!(has_histogram(&s, "ferry_push_duration_seconds", &[]));
    assert!(has_histogram(&s, "ferry_pull_duration_seconds", &[]));
    assert!(has_histogram(
        &s,
        "ferry_store_query_duration_seconds",
        &[("operation", "push")]
    ));
    assert_eq!(
        value(&s, "ferry_mutations_total", &[("outcome", "applied")]),
        Some(3.0)
    );
    assert_eq!(
        value(&s, "ferry_mutations_total", &[("outcome", "merged")]),
        Some(1.0)
    );
    assert_eq!(
        value(
            &s,
            "ferry_login_failures_total",
            &[("reason", "bad_credentials")]
        ),
        Some(1.0)
    );
    assert_eq!(value(&s, "ferry_event_streams_open", &[]), Some(1.0));
    assert_eq!(
        value(&s, "ferry_history_rows", &[("collection", "contacts")]),
        Some(4.0),
        "two creates, an update and a merge"
    );
    assert_eq!(
        value(&s, "ferry_records", &[("collection", "tasks")]),
        Some(0.0),
        "every collection of the schema, empty ones too"
    );

    drop(stream);
    scrape_until(&server, |s| {
        value(s, "ferry_event_streams_open", &[]) == Some(0.0)
    })
    .await;
}

#[tokio::test]
async fn the_metrics_are_not_served_on_the_api_listener() {
    let server = TestServer::start().await;
    let token = server.login("alice").await;
    let resp = server
        .get("/metrics", &token)
        .send()
        .await
        .expect("get /metrics");
    assert_eq!(resp.status(), 404);
    let base = server.metrics_base.as_deref().expect("a metrics listener");
    assert_ne!(base, server.base);
    let other = server
        .http
        .get(format!("{base}/v1/health"))
        .send()
        .await
        .expect("get");
    assert_eq!(other.status(), 404, "the metrics listener serves no API");
}

#[tokio::test]
async fn every_answer_has_a_request_id_and_an_error_body_carries_the_same() {
    let server = TestServer::start().await;
    let resp = server
        .http
        .get(server.url("/v1/health"))
        .send()
        .await
        .expect("health");
    let id = resp.headers()["x-request-id"]
        .to_str()
        .expect("ASCII")
        .to_string();
    assert!(!id.is_empty());

    // An error: the header and the body's request_id are one id, the client's.
    let resp = server
        .http
        .get(server.url("/v1/changes"))
        .header("x-request-id", "support-ticket-42")
        .send()
        .await
        .expect("changes without a token");
    assert_eq!(resp.status(), 401);
    let header = resp.headers()["x-request-id"]
        .to_str()
        .expect("ASCII")
        .to_string();
    let body: Value = resp.json().await.expect("error JSON");
    assert_eq!(header, "support-ticket-42");
    assert_eq!(body["error"]["request_id"], "support-ticket-42");
    assert_eq!(body["error"]["code"], "unauthenticated");

    // An unfit id (too long, or with a space) is replaced by a new one.
    for unfit in ["x".repeat(65), "two words".to_string()] {
        let resp = server
            .http
            .get(server.url("/v1/no-such-thing"))
            .header("x-request-id", &unfit)
            .send()
            .await
            .expect("get");
        let header = resp.headers()["x-request-id"]
            .to_str()
            .expect("ASCII")
            .to_string();
        let body: Value = resp.json().await.expect("error JSON");
        assert_ne!(header, unfit);
        assert_eq!(body["error"]["request_id"], header.as_str());
    }
}

/// A `ferry-server serve` child process with JSON logs; killed when dropped.
struct JsonLoggingServer {
    child: Child,
    base: String,
    log: mpsc::Receiver<String>,
    _dir: tempfile::TempDir,
}

impl JsonLoggingServer {
    fn start() -> JsonLoggingServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = format!("sqlite://{}", dir.path().join("ferry.db").display());
        let mut child = Command::new(env!("CARGO_BIN_EXE_ferry-server"))
            .args(["--db", &db])
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(["--metrics-listen", "127.0.0.1:0"])
            .env("FERRY_LOG_FORMAT", "json")
            .env("FERRY_LOG", "ferry_server=info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ferry-server");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, log) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let stdout = child.stdout.take().expect("stdout");
        let base = common::listening_base(stdout);
        JsonLoggingServer {
            child,
            base,
            log,
            _dir: dir,
        }
    }

    /// The first log line, parsed, for which `wanted` holds.
    fn log_line(&self, wanted: impl Fn(&Value) -> bool) -> Value {
        let until = std::time::Instant::now() + PATIENCE;
        loop {
            let left = until.saturating_duration_since(std::time::Instant::now());
            let line = self.log.recv_timeout(left).expect("the awaited log line");
            let parsed: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
            if wanted(&parsed) {
                return parsed;
            }
        }
    }
}

impl Drop for JsonLoggingServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn json_logs_carry_the_request_id_and_name_the_metrics_address() {
    let server = JsonLoggingServer::start();
    let started = server.log_line(|l| l["fields"]["message"] == "serving metrics at /metrics");
    let metrics_addr = started["fields"]["addr"]
        .as_str()
        .expect("the bound metrics address")
        .to_string();
    assert!(
        !metrics_addr.ends_with(":0"),
        "the bound port: {metrics_addr}"
    );

    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let resp = http
        .post(format!("{}/v1/auth/login", server.base))
        .header("x-request-id", "json-log-7")
        .json(&json!({"username": "nobody", "password": "wrong", "device_name": "d"}))
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status(), 401);
    let line = server.log_line(|l| l["fields"]["message"] == "failed login");
    assert_eq!(line["span"]["request_id"], "json-log-7", "{line}");
    assert_eq!(line["span"]["route"], "/v1/auth/login", "{line}");

    let scrape = http
        .get(format!("http://{metrics_addr}/metrics"))
        .send()
        .await
        .expect("scrape the process");
    assert_eq!(scrape.status(), 200);
    let text = scrape.text().await.expect("text");
    assert!(
        text.contains("ferry_login_failures_total{reason=\"bad_credentials\"} 1"),
        "{text}"
    );
}
