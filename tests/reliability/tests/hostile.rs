//! Hostile input: a corpus of malformed JSON, huge bodies, deep nesting and
//! invalid UTF-8 sent to every endpoint that reads a body; injection-looking
//! strings in every field of every collection, in ids, names, cursors and
//! searches. Nothing may answer 5xx, every refusal is in the error shape,
//! nothing malformed changes anything, and hostile strings are stored and
//! returned as plain data, on the server and in the client's local database.

#[path = "../../../crates/core/tests/common/mod.rs"]
mod common;

use common::{Client, TestServer};
use ferry_core::Query;
use serde_json::{Value, json};

const INJECTIONS: &[&str] = &[
    "'); DROP TABLE records;--",
    "Robert'); DROP TABLE users; --",
    "\" OR 1=1 --",
    "' OR ''='",
    "1; DELETE FROM outbox",
    "<script>alert('x')</script>",
    "<img src=x onerror=alert(1)>",
    "${jndi:ldap://example.invalid/a}",
    "{{7*7}}",
    "%s%n%x",
    "../../../../etc/passwd",
    "\u{0000}nul",
    "\u{202e}reversed",
    "NEAR(a b) OR title:* AND \"",
    "a\" * ^ - : ( ) {",
    "🙂 ∑ 中文 עברית",
    "\\x00\\n\\r",
    "$(rm -rf ~)",
    "`id`",
];

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().expect("http")
}

async fn token(server: &TestServer, user: &str) -> String {
    let resp = http()
        .post(format!("{}/v1/auth/login", server.url))
        .json(&json!({"username": user, "password": "demo", "device_name": "hostile"}))
        .send()
        .await
        .expect("login");
    let body: Value = resp.json().await.expect("login JSON");
    body["token"].as_str().expect("token").to_string()
}

/// The malformed bodies: each must be refused (4xx) in the error shape.
fn corpus() -> Vec<(String, Vec<u8>)> {
    let m = r#"{"mutation_id":"0190a1b2-0000-7000-8000-000000000001","collection":"tasks","record_id":"0190a1b2-0000-7000-8000-000000000002","op":"put","base_version":null,"base":{},"fields":{"title":"x"},"hlc":"2026-11-27T08:00:00.000Z-0000-h"}"#;
    let mut c: Vec<(String, Vec<u8>)> = [
        "",
        " ",
        "null",
        "true",
        "0",
        "\"mutations\"",
        "[]",
        "{",
        "}",
        "{\"mutations\":",
        "{\"mutations\":[",
        "{\"mutations\":[}",
        "{\"mutations\":null}",
        "{\"mutations\":{}}",
        "{\"mutations\":\"[]\"}",
        "{\"mutations\":[null]}",
        "{\"mutations\":[1]}",
        "{\"mutations\":[[]]}",
        "{\"mutations\":[{}]}",
        "{\"mutations\":[]} trailing",
        "{\"mutations\":[]}{\"mutations\":[]}",
        "{'mutations':[]}",
        "{mutations:[]}",
        "{\"mutations\":[],}",
        "{\"mutations\":[NaN]}",
        "{\"mutations\":[Infinity]}",
        "{\"mutations\":[1e99999]}",
        "{\"mutations\":[0x10]}",
        "{\"mutations\":[\"\\uD800\"]}",
        "{\"mutations\":[\"\\u00\"]}",
        "{\"mutations\":[\"unterminated]}",
        "\u{feff}{\"mutations\":[]}",
        "/* comment */ {\"mutations\":[]}",
    ]
    .iter()
    .map(|s| (format!("{s:?}"), s.as_bytes().to_vec()))
    .collect();
    // Mutations broken one field at a time.
    let replacements = [
        ("\"op\":\"put\"", "\"op\":\"upsert\""),
        ("\"op\":\"put\"", "\"op\":null"),
        ("\"base_version\":null", "\"base_version\":\"1\""),
        ("\"base_version\":null", "\"base_version\":1.5"),
        (
            "\"base_version\":null",
            "\"base_version\":-99999999999999999999999",
        ),
        ("\"fields\":{\"title\":\"x\"}", "\"fields\":[\"title\"]"),
        ("\"fields\":{\"title\":\"x\"}", "\"fields\":\"title=x\""),
        ("\"base\":{}", "\"base\":[]"),
        (
            "\"hlc\":\"2026-11-27T08:00:00.000Z-0000-h\"",
            "\"hlc\":\"yesterday\"",
        ),
        (
            "\"hlc\":\"2026-11-27T08:00:00.000Z-0000-h\"",
            "\"hlc\":\"2026-11-27T08:00:00.000Z-0000-'; DROP TABLE x;--\"",
        ),
        (
            "\"record_id\":\"0190a1b2-0000-7000-8000-000000000002\"",
            "\"record_id\":\"'; DROP TABLE records;--\"",
        ),
        (
            "\"record_id\":\"0190a1b2-0000-7000-8000-000000000002\"",
            "\"record_id\":12",
        ),
        (
            "\"mutation_id\":\"0190a1b2-0000-7000-8000-000000000001\"",
            "\"mutation_id\":\"1 OR 1=1\"",
        ),
        (
            "\"mutation_id\":\"0190a1b2-0000-7000-8000-000000000001\",",
            "",
        ),
        ("\"collection\":\"tasks\"", "\"collection\":[\"tasks\"]"),
    ];
    for (from, to) in replacements {
        let body = format!("{{\"mutations\":[{}]}}", m.replace(from, to));
        c.push((format!("mutation with {to}"), body.into_bytes()));
    }
    // Invalid UTF-8 inside and outside strings.
    let mut bad = br#"{"mutations":[{"collection":"ta"#.to_vec();
    bad.extend_from_slice(b"\xff\xfesks\"}]}");
    c.push(("invalid UTF-8 in a string".into(), bad));
    c.push((
        "invalid UTF-8 bytes".into(),
        b"\xc3\x28\xa0\xa1\xe2\x28\xa1".to_vec(),
    ));
    c.push((
        "overlong UTF-8".into(),
        b"{\"mutations\":[\"\xc0\xaf\"]}".to_vec(),
    ));
    // Deep nesting, both kinds, and wide nesting.
    for depth in [200, 5_000, 100_000] {
        c.push((
            format!("{depth} nested arrays"),
            format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes(),
        ));
        c.push((
            format!("{depth} nested objects in a field"),
            m.replace(
                "\"x\"",
                &format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth)),
            )
            .into_bytes(),
        ));
    }
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_huge_and_deep_bodies_are_refused_and_change_nothing() {
    let server = TestServer::start().await;
    let alice = token(&server, "alice").await;
    let http = http();
    let changes = |token: String| {
        let http = http.clone();
        let url = format!("{}/v1/changes?limit=5000", server.url);
        async move {
            let resp = http
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("changes");
            resp.json::<Value>().await.expect("changes JSON")["cursor"].clone()
        }
    };
    let cursor_before = changes(alice.clone()).await;
    let mut tried = 0;
    let corpus = corpus();
    for (name, body) in &corpus {
        for (path, auth) in [("/v1/push", true), ("/v1/auth/login", false)] {
            let mut req = http
                .post(format!("{}{path}", server.url))
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
            if auth {
                req = req.bearer_auth(&alice);
            }
            let resp = req.send().await.expect("request");
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap_or_default();
            assert!(
                (400..500).contains(&status),
                "{path} with {name}: {status} {text}"
            );
            let error: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{path} with {name}: not JSON ({e}): {text}"));
            assert!(
                error["error"]["code"].is_string() && error["error"]["message"].is_string(),
                "{path} with {name}: not the error shape: {text}"
            );
            tried += 1;
        }
    }
    // Huge: over the 16 MiB limit, on push and login; and wrong content types.
    let huge = vec![b'['; 17 * 1024 * 1024];
    for (path, body, ctype) in [
        ("/v1/push", huge.clone(), "application/json"),
        ("/v1/auth/login", huge, "application/json"),
        ("/v1/push", b"{\"mutations\":[]}".to_vec(), "text/plain"),
        (
            "/v1/push",
            b"mutations=[]".to_vec(),
            "application/x-www-form-urlencoded",
        ),
    ] {
        let resp = http
            .post(format!("{}{path}", server.url))
            .bearer_auth(&alice)
            .header(reqwest::header::CONTENT_TYPE, ctype)
            .body(body)
            .send()
            .await;
        if let Ok(resp) = resp {
            let status = resp.status().as_u16();
            assert!((400..500).contains(&status), "{path} {ctype}: {status}");
        }
        tried += 1;
    }
    // Hostile query strings and paths.
    for query in [
        "since=' OR 1=1 --",
        "since=-1",
        "since=99999999999999999999999",
        "limit=-5",
        "limit=1e3",
        "limit=%00",
        "since=%FF%FE",
    ] {
        let resp = http
            .get(format!("{}/v1/changes?{query}", server.url))
            .bearer_auth(&alice)
            .send()
            .await
            .expect("changes");
        assert!(
            resp.status().is_client_error(),
            "changes?{query}: {}",
            resp.status()
        );
        tried += 1;
    }
    for path in [
        "tasks'%20OR%201=1--/x",
        "..%2F..%2Fetc/passwd",
        "%00/%00",
        "tasks/%FF%FE",
    ] {
        let resp = http
            .get(format!("{}/v1/records/{path}/history", server.url))
            .bearer_auth(&alice)
            .send()
            .await
            .expect("history");
        assert!(
            resp.status().is_client_error(),
            "history {path}: {}",
            resp.status()
        );
        tried += 1;
    }
    assert_eq!(
        changes(alice.clone()).await,
        cursor_before,
        "nothing was written"
    );
    println!("{}", json!({"test": "hostile_bodies", "inputs": tried}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injection_looking_strings_in_every_field_stay_plain_data_everywhere() {
    let server = TestServer::start().await;
    let alice = Client::login(&server, "alice").await;
    let bob = Client::login(&server, "bob").await;
    alice.sync().await;
    let mut made = Vec::new();
    for (i, evil) in INJECTIONS.iter().enumerate() {
        let task = common::fields(json!({
            "title": evil, "assignee": evil, "notes": evil, "status": "todo",
        }));
        let contact = common::fields(json!({
            "name": evil, "email": evil, "phone": evil, "company": evil, "notes": evil,
            "tags": [evil, format!("tag{i}")],
        }));
        let t = alice
            .store()
            .create("tasks", task.clone())
            .expect("create a task");
        let c = alice
            .store()
            .create("contacts", contact.clone())
            .expect("create a contact");
        made.push(("tasks", t, task));
        made.push(("contacts", c, contact));
    }
    // Hostile names of collections and fields are refused before anything is stored.
    for evil in INJECTIONS {
        assert!(
            alice
                .store()
                .create(evil, common::fields(json!({"title": "x"})))
                .is_err()
        );
        let mut fields = common::fields(json!({"title": "x"}));
        fields.insert((*evil).to_string(), json!("y"));
        assert!(alice.store().create("tasks", fields).is_err());
    }
    let report = alice.sync().await;
    assert_eq!(report.pushed.applied, made.len(), "{report:?}");
    bob.sync().await;
    for (collection, id, fields) in &made {
        let on_server = server.record(collection, *id).await.expect("on the server");
        assert_eq!(&on_server.fields, fields, "server {collection}/{id}");
        let at_bob = bob.store().record(collection, *id).expect("bob has it");
        assert_eq!(&at_bob.fields, fields, "bob {collection}/{id}");
    }
    // Local search takes any text as words, never as query syntax.
    let mut searched = 0;
    for evil in INJECTIONS {
        for collection in ["tasks", "contacts"] {
            let mut q = Query::new(collection);
            q.search = Some((*evil).to_string());
            let page = bob
                .store()
                .query(&q)
                .unwrap_or_else(|e| panic!("search {evil:?} in {collection}: {e}"));
            assert!(page.records.len() <= made.len());
            let mut q = Query::new(collection);
            q.filters = common::fields(json!({"status": evil}));
            let _ = bob.store().query(&q);
            searched += 1;
        }
    }
    // Everything is still there and still works.
    let id = bob
        .store()
        .create("tasks", common::fields(json!({"title": "Still works"})))
        .expect("create");
    bob.sync().await;
    assert!(server.record("tasks", id).await.is_some());
    println!(
        "{}",
        json!({"test": "hostile_strings", "records": made.len(), "searches": searched, "strings": INJECTIONS.len()})
    );
}
