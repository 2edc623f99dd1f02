//! Access, against the real `ferry-server` binary with its logs captured:
//! every endpoint without a token, with a garbage token and with a revoked
//! one; a user without a grant (dana reads contacts only) can neither read
//! nor write tasks through changes, push, history or events; failed logins
//! are rate limited; and no password or token ever appears in a log line,
//! even at the most verbose log level. With row rules, a record outside the
//! user's rows is invisible and unwritable on every endpoint.

use std::time::{Duration, Instant};

use ferry_reliability::server_process::{ServerProcess, admin, seed_demo};
use reqwest::{Method, Response};
use serde_json::{Value, json};
use uuid::Uuid;

const DANA_PASSWORD: &str = "dana-Secret-7f3a9c";

struct Http {
    base: String,
    http: reqwest::Client,
}

impl Http {
    fn request(&self, method: Method, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let req = self.http.request(method, format!("{}{path}", self.base));
        match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    async fn login(&self, username: &str, password: &str) -> Response {
        self.request(Method::POST, "/v1/auth/login", None)
            .json(
                &json!({"username": username, "password": password, "device_name": "access-test"}),
            )
            .send()
            .await
            .expect("login request")
    }

    async fn token(&self, username: &str, password: &str) -> String {
        let resp = self.login(username, password).await;
        assert_eq!(resp.status(), 200, "login {username}");
        let body: Value = resp.json().await.expect("login JSON");
        body["token"].as_str().expect("token").to_string()
    }

    async fn json(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.request(method, path, Some(token));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}

fn create_task(id: Uuid) -> Value {
    json!({"mutations": [{
        "mutation_id": Uuid::now_v7(), "collection": "tasks", "record_id": id, "op": "put",
        "base_version": null, "base": {}, "fields": {"title": "Not yours"},
        "hlc": "2026-11-27T08:00:00.000Z-0000-access"
    }]})
}

/// Reads the event stream until `deadline`; true if a `changes` event came.
async fn changes_event_before(resp: &mut Response, deadline: Instant) -> bool {
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, resp.chunk()).await {
            Ok(Ok(Some(bytes))) => {
                seen.extend_from_slice(&bytes);
                if String::from_utf8_lossy(&seen).contains("event: changes") {
                    return true;
                }
            }
            _ => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_refuse_strangers_and_users_without_a_grant_and_logs_keep_secrets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("ferry.db");
    seed_demo(&db);
    admin(&db, &["user", "add", "dana"], &format!("{DANA_PASSWORD}\n"));
    admin(&db, &["grant", "dana", "contacts", "--read"], "");
    let server = ServerProcess::start(&db, 0);
    let api = Http {
        base: server.url.clone(),
        http: reqwest::Client::builder().no_proxy().build().expect("http"),
    };

    let alice = api.token("alice", "demo").await;
    let dana = api.token("dana", DANA_PASSWORD).await;
    let revoked = api.token("alice", "demo").await;
    let (status, _) = api
        .json(Method::POST, "/v1/auth/logout", &revoked, None)
        .await;
    assert_eq!(status, 204, "logout");

    // A task that exists, for history.
    let task = Uuid::now_v7();
    let (status, body) = api
        .json(Method::POST, "/v1/push", &alice, Some(create_task(task)))
        .await;
    assert_eq!(
        (status, &body["results"][0]["status"]),
        (200, &json!("applied"))
    );

    // No token, a garbage token, a revoked token: 401 everywhere.
    let endpoints = [
        (Method::GET, "/v1/schema".to_string()),
        (Method::GET, "/v1/changes".to_string()),
        (Method::POST, "/v1/push".to_string()),
        (Method::GET, "/v1/events".to_string()),
        (Method::GET, format!("/v1/records/tasks/{task}/history")),
        (Method::POST, "/v1/auth/logout".to_string()),
    ];
    let garbage = "g".repeat(43);
    let mut refused = 0;
    for (method, path) in &endpoints {
        for token in [None, Some(garbage.as_str()), Some(revoked.as_str())] {
            let mut req = api.request(method.clone(), path, token);
            if path == "/v1/push" {
                req = req.json(&create_task(Uuid::now_v7()));
            }
            let resp = req.send().await.expect("request");
            assert_eq!(resp.status(), 401, "{method} {path} with {token:?}");
            let body: Value = resp.json().await.expect("error JSON");
            assert_eq!(body["error"]["code"], "unauthenticated", "{method} {path}");
            refused += 1;
        }
    }

    // dana reads contacts only: tasks are invisible and unwritable.
    let (status, schema) = api.json(Method::GET, "/v1/schema", &dana, None).await;
    let names: Vec<&str> = schema["collections"]
        .as_array()
        .map(|c| c.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!((status, names), (200, vec!["contacts"]));
    let mut since = String::new();
    let mut pulled = 0;
    loop {
        let path = format!("/v1/changes?limit=5000{since}");
        let (status, page) = api.json(Method::GET, &path, &dana, None).await;
        assert_eq!(status, 200);
        for change in page["changes"].as_array().expect("changes") {
            assert_eq!(change["collection"], "contacts", "dana pulled {change}");
            pulled += 1;
        }
        if page["has_more"] != json!(true) {
            break;
        }
        since = format!("&since={}", page["cursor"].as_str().expect("cursor"));
    }
    assert!(pulled > 0, "dana pulls the contacts she may read");
    let (status, body) = api
        .json(
            Method::GET,
            &format!("/v1/records/tasks/{task}/history"),
            &dana,
            None,
        )
        .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (403, &json!("forbidden")),
        "{body}"
    );
    let (status, body) = api
        .json(Method::POST, "/v1/push", &dana, Some(create_task(task)))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["results"][0]["status"], "rejected", "{body}");
    assert_eq!(body["results"][0]["error"]["code"], "forbidden", "{body}");
    let stranger = Uuid::now_v7();
    let (_, body) = api
        .json(Method::POST, "/v1/push", &dana, Some(create_task(stranger)))
        .await;
    assert_eq!(body["results"][0]["error"]["code"], "forbidden", "{body}");
    let contact = json!({"mutations": [{
        "mutation_id": Uuid::now_v7(), "collection": "contacts", "record_id": Uuid::now_v7(),
        "op": "put", "base_version": null, "base": {}, "fields": {"name": "Read only"},
        "hlc": "2026-11-27T08:00:00.000Z-0000-access"
    }]});
    let (_, body) = api
        .json(Method::POST, "/v1/push", &dana, Some(contact))
        .await;
    assert_eq!(body["results"][0]["error"]["code"], "forbidden", "{body}");
    let (_, history) = api
        .json(
            Method::GET,
            &format!("/v1/records/tasks/{task}/history"),
            &alice,
            None,
        )
        .await;
    assert_eq!(
        history["versions"].as_array().map(Vec::len),
        Some(1),
        "dana's pushes changed nothing: {history}"
    );
    let (status, _) = api
        .json(
            Method::GET,
            &format!("/v1/records/tasks/{stranger}/history"),
            &alice,
            None,
        )
        .await;
    assert_eq!(status, 404, "dana's create never happened");

    // Events: dana hears of a contact commit, never of a task commit.
    let mut events = api
        .request(Method::GET, "/v1/events", Some(&dana))
        .send()
        .await
        .expect("events");
    assert_eq!(events.status(), 200);
    let (status, _) = api
        .json(
            Method::POST,
            "/v1/push",
            &alice,
            Some(create_task(Uuid::now_v7())),
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        !changes_event_before(&mut events, Instant::now() + Duration::from_millis(1500)).await,
        "dana was told of a task commit"
    );
    let public = json!({"mutations": [{
        "mutation_id": Uuid::now_v7(), "collection": "contacts", "record_id": Uuid::now_v7(),
        "op": "put", "base_version": null, "base": {}, "fields": {"name": "Everyone may see"},
        "hlc": "2026-11-27T08:00:01.000Z-0000-access"
    }]});
    let (status, _) = api
        .json(Method::POST, "/v1/push", &alice, Some(public))
        .await;
    assert_eq!(status, 200);
    assert!(
        changes_event_before(&mut events, Instant::now() + Duration::from_secs(10)).await,
        "dana hears of the contact commit"
    );
    drop(events);

    // Failed logins: five per username, then even the right password waits.
    let wrong: Vec<String> = (0..6).map(|i| format!("wrong-Secret-{i}-b0b")).collect();
    for (i, password) in wrong.iter().enumerate() {
        let resp = api.login("bob", password).await;
        let expected = if i < 5 { 401 } else { 429 };
        assert_eq!(resp.status(), expected, "failed login {}", i + 1);
        if expected == 429 {
            assert!(resp.headers().contains_key(reqwest::header::RETRY_AFTER));
        }
    }
    assert_eq!(
        api.login("bob", "demo").await.status(),
        429,
        "bob is limited"
    );
    assert_eq!(
        api.login("alice", "demo").await.status(),
        200,
        "alice is not"
    );

    // The logs: verbose, and free of every secret this test used.
    let logs = server.logs();
    for expected in ["failed login", "/v1/push", "/v1/auth/login"] {
        assert!(
            logs.contains(expected),
            "the logs were captured: no {expected:?} in\n{logs}"
        );
    }
    let mut secrets: Vec<&str> = vec![DANA_PASSWORD, &alice, &dana, &revoked, &garbage];
    secrets.extend(wrong.iter().map(String::as_str));
    for secret in secrets {
        for line in logs.lines() {
            assert!(
                !line.contains(secret),
                "a secret in the server's log: {line}"
            );
        }
    }
    println!(
        "{}",
        json!({"test": "access", "unauthenticated_refused": refused, "log_lines_checked": logs.lines().count()})
    );
}

fn contact(id: Uuid, base_version: Option<i64>, fields: Value) -> Value {
    json!({"mutations": [{
        "mutation_id": Uuid::now_v7(), "collection": "contacts", "record_id": id, "op": "put",
        "base_version": base_version, "base": {}, "fields": fields,
        "hlc": "2026-11-27T08:00:00.000Z-0000-access"
    }]})
}

/// Every page of changes for `token`: (records, removed ids).
async fn pull(api: &Http, token: &str, since: &mut String) -> (Vec<Value>, Vec<Uuid>) {
    let (mut records, mut removed) = (Vec::new(), Vec::new());
    loop {
        let path = format!("/v1/changes?limit=3{since}");
        let (status, page) = api.json(Method::GET, &path, token, None).await;
        assert_eq!(status, 200, "{page}");
        records.extend(page["changes"].as_array().cloned().unwrap_or_default());
        for r in page["removed"].as_array().cloned().unwrap_or_default() {
            removed.push(r["id"].as_str().and_then(|s| s.parse().ok()).expect("id"));
        }
        *since = format!("&since={}", page["cursor"].as_str().expect("cursor"));
        if page["has_more"] != json!(true) {
            return (records, removed);
        }
    }
}

/// Row rules set with the admin commands: erin writes the north's contacts
/// only. A contact of another region is invisible to her on every endpoint
/// (changes, history, events) and unwritable (push), a move out of her
/// rows reaches her as a removal, and a team grant brings the south in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_outside_ones_own_are_invisible_and_unwritable_on_every_endpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("ferry.db");
    seed_demo(&db);
    admin(&db, &["user", "add", "erin"], &format!("{DANA_PASSWORD}\n"));
    admin(
        &db,
        &[
            "grant",
            "erin",
            "contacts",
            "--write",
            "--where",
            "region=north",
        ],
        "",
    );
    // A rule on a field the collection is not partitioned by is refused, saying why.
    let out = std::process::Command::new(ferry_reliability::tool("ferry-server"))
        .args(["--db", &format!("sqlite://{}", db.display())])
        .args([
            "grant",
            "erin",
            "contacts",
            "--read",
            "--where",
            "company=Acme",
        ])
        .output()
        .expect("run ferry-server");
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("partitioned by \"region\""), "{said}");

    let server = ServerProcess::start(&db, 0);
    let api = Http {
        base: server.url.clone(),
        http: reqwest::Client::builder().no_proxy().build().expect("http"),
    };
    let alice = api.token("alice", "demo").await;
    let erin = api.token("erin", DANA_PASSWORD).await;
    let (north, south) = (Uuid::now_v7(), Uuid::now_v7());
    for (id, region) in [(north, "north"), (south, "south")] {
        let (_, body) = api
            .json(
                Method::POST,
                "/v1/push",
                &alice,
                Some(contact(id, None, json!({"name": region, "region": region}))),
            )
            .await;
        assert_eq!(body["results"][0]["status"], "applied", "{body}");
    }

    // Changes: the north only, in small pages.
    let mut since = String::new();
    let (records, _) = pull(&api, &erin, &mut since).await;
    assert!(records.len() > 10, "the demo's north contacts and mine");
    assert!(
        records.iter().all(|r| r["fields"]["region"] == "north"),
        "{records:?}"
    );
    assert!(records.iter().any(|r| r["id"] == json!(north)));
    // History: a south contact is as good as unknown.
    let (status, _) = api
        .json(
            Method::GET,
            &format!("/v1/records/contacts/{south}/history"),
            &erin,
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = api
        .json(
            Method::GET,
            &format!("/v1/records/contacts/{north}/history"),
            &erin,
            None,
        )
        .await;
    assert_eq!(status, 200);
    // Push: an edit of the south contact, a new one in the south and a move
    // of hers to the south are refused; an edit of hers is applied.
    for attempt in [
        contact(south, Some(1), json!({"name": "mine now"})),
        contact(
            Uuid::now_v7(),
            None,
            json!({"name": "elsewhere", "region": "south"}),
        ),
        contact(north, Some(1), json!({"region": "south"})),
    ] {
        let (_, body) = api
            .json(Method::POST, "/v1/push", &erin, Some(attempt))
            .await;
        assert_eq!(body["results"][0]["status"], "rejected", "{body}");
        assert_eq!(body["results"][0]["error"]["code"], "forbidden", "{body}");
    }
    let (_, body) = api
        .json(
            Method::POST,
            "/v1/push",
            &erin,
            Some(contact(north, Some(1), json!({"phone": "+1 555 0100"}))),
        )
        .await;
    assert_eq!(body["results"][0]["status"], "applied", "{body}");
    // Events: a south commit is not hers; a north one is.
    let mut events = api
        .request(Method::GET, "/v1/events", Some(&erin))
        .send()
        .await
        .expect("events");
    let (_, body) = api
        .json(
            Method::POST,
            "/v1/push",
            &alice,
            Some(contact(south, Some(1), json!({"phone": "1"}))),
        )
        .await;
    assert_eq!(body["results"][0]["status"], "applied", "{body}");
    assert!(
        !changes_event_before(&mut events, Instant::now() + Duration::from_millis(1500)).await,
        "erin was told of a south commit"
    );
    // Moved out of her rows by alice: a removal on her next pull, and an event.
    let (_, body) = api
        .json(
            Method::POST,
            "/v1/push",
            &alice,
            Some(contact(north, Some(2), json!({"region": "south"}))),
        )
        .await;
    assert_eq!(body["results"][0]["status"], "applied", "{body}");
    assert!(
        changes_event_before(&mut events, Instant::now() + Duration::from_secs(10)).await,
        "erin hears that a record left her view"
    );
    drop(events);
    let (records, removed) = pull(&api, &erin, &mut since).await;
    assert_eq!((records.len(), removed), (0, vec![north]));

    // A team grant of the south: both south contacts come in on her next pull.
    admin(&db, &["team", "add", "south-desk"], "");
    admin(
        &db,
        &[
            "grant",
            "--team",
            "south-desk",
            "contacts",
            "--read",
            "--where",
            "region=south",
        ],
        "",
    );
    admin(&db, &["team", "member", "south-desk", "erin"], "");
    let (records, _) = pull(&api, &erin, &mut since).await;
    let ids: Vec<&Value> = records.iter().map(|r| &r["id"]).collect();
    assert!(
        ids.contains(&&json!(north)) && ids.contains(&&json!(south)),
        "{records:?}"
    );
    assert!(records.iter().all(|r| r["fields"]["region"] == "south"));
    admin(
        &db,
        &["team", "member", "south-desk", "erin", "--remove"],
        "",
    );
    let (records, removed) = pull(&api, &erin, &mut since).await;
    assert!(records.is_empty());
    assert!(
        removed.contains(&north) && removed.contains(&south),
        "{removed:?}"
    );
}
