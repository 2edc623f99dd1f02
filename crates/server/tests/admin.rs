//! The administrator's API (DESIGN.md, "Administration"): every endpoint
//! refuses strangers (401) and members (403), and a console cookie without
//! the CSRF header; admins manage users, teams, grants and devices, and
//! each change leaves an audit line that never holds a password or token.

mod common;

use common::{PASSWORD, TestServer, assert_error, create, server_cli};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

/// Every admin operation: (method, path, body). A new endpoint that is not
/// here fails `the_access_list_covers_every_admin_endpoint`.
fn operations() -> Vec<(Method, &'static str, Value)> {
    let device = "/v1/admin/devices/0193a1b2-0000-7000-8000-000000000001/revoke";
    vec![
        (Method::GET, "/v1/admin/session", Value::Null),
        (Method::DELETE, "/v1/admin/session", Value::Null),
        (Method::GET, "/v1/admin/users", Value::Null),
        (
            Method::POST,
            "/v1/admin/users",
            json!({"username": "mallory", "password": "12345678"}),
        ),
        (
            Method::PATCH,
            "/v1/admin/users/alice",
            json!({"role": "admin"}),
        ),
        (Method::GET, "/v1/admin/devices", Value::Null),
        (Method::POST, device, json!({"wipe": true})),
        (Method::GET, "/v1/admin/teams", Value::Null),
        (Method::POST, "/v1/admin/teams", json!({"name": "mallory"})),
        (Method::DELETE, "/v1/admin/teams/north", Value::Null),
        (
            Method::PUT,
            "/v1/admin/teams/north/members/alice",
            Value::Null,
        ),
        (
            Method::DELETE,
            "/v1/admin/teams/north/members/alice",
            Value::Null,
        ),
        (Method::GET, "/v1/admin/grants", Value::Null),
        (
            Method::POST,
            "/v1/admin/grants",
            json!({"subject": {"kind": "everyone"}, "collection": "tasks", "access": "write"}),
        ),
        (
            Method::GET,
            "/v1/admin/preview?username=carol&collection=contacts",
            Value::Null,
        ),
        (Method::GET, "/v1/admin/collections", Value::Null),
        (Method::POST, "/v1/admin/collections", visits()),
        (Method::PUT, "/v1/admin/collections/tasks", visits()),
        (
            Method::GET,
            "/v1/admin/collections/tasks/fields/title/usage",
            Value::Null,
        ),
        (
            Method::POST,
            "/v1/admin/collections/tasks/migrations",
            json!({"kind": "remove_field", "field": "notes"}),
        ),
        (Method::GET, "/v1/admin/migrations", Value::Null),
        (Method::GET, "/v1/admin/changes", Value::Null),
        (
            Method::GET,
            "/v1/admin/records/tasks/0193a1b2-0000-7000-8000-000000000001/history",
            Value::Null,
        ),
        (Method::GET, "/v1/admin/audit", Value::Null),
        (Method::GET, "/v1/admin/health", Value::Null),
    ]
}

/// A new collection's definition.
fn visits() -> Value {
    json!({"name": "visits", "label": "Visits", "title_field": "place",
           "fields": [{"name": "place", "label": "Place", "type": "text", "required": true}]})
}

fn request(
    server: &TestServer,
    method: Method,
    path: &str,
    body: &Value,
) -> reqwest::RequestBuilder {
    let r = server.http.request(method, server.url(path));
    if body.is_null() { r } else { r.json(body) }
}

/// An admin call with a bearer token that must answer `status`; its body.
async fn call(
    server: &TestServer,
    token: &str,
    method: Method,
    path: &str,
    body: Value,
    status: u16,
) -> Value {
    let resp = request(server, method.clone(), path, &body)
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    let got = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    assert_eq!(got, status, "{method} {path}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Signs in to the console as `username`; the cookie's token.
async fn console_cookie(server: &TestServer, username: &str) -> String {
    let resp = server
        .http
        .post(server.url("/v1/admin/session"))
        .json(&json!({"username": username, "password": PASSWORD, "device_name": "Admin console"}))
        .send()
        .await
        .expect("sign in");
    assert_eq!(resp.status(), 200);
    let cookie = resp
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .expect("a cookie")
        .to_string();
    let token = cookie
        .strip_prefix("ferry_console=")
        .and_then(|c| c.split(';').next())
        .expect("ferry_console=TOKEN");
    token.to_string()
}

/// The audit log, newest first.
async fn audit(server: &TestServer, token: &str, query: &str) -> Vec<Value> {
    let page = call(
        server,
        token,
        Method::GET,
        &format!("/v1/admin/audit?{query}"),
        Value::Null,
        200,
    )
    .await;
    page["entries"].as_array().expect("entries").clone()
}

#[tokio::test]
async fn every_admin_endpoint_refuses_strangers_members_and_cookies_without_the_csrf_header() {
    let server = TestServer::start().await;
    let alice = server.login("alice").await;
    let admin_cookie = console_cookie(&server, "admin").await;
    for (method, path, body) in operations() {
        let resp = request(&server, method.clone(), path, &body)
            .send()
            .await
            .expect("request");
        assert_error(resp, 401, "unauthenticated").await;
        let resp = request(&server, method.clone(), path, &body)
            .bearer_auth(&alice)
            .send()
            .await
            .expect("request");
        let message = assert_error(resp, 403, "forbidden").await;
        assert!(
            message.contains("administrator"),
            "{method} {path}: {message}"
        );
        let resp = request(&server, method.clone(), path, &body)
            .header("cookie", format!("ferry_console={admin_cookie}"))
            .send()
            .await
            .expect("request");
        assert_error(resp, 403, "csrf").await;
    }
    // None of those refused requests changed anything.
    let users = server.store.admin_users().await.expect("users");
    assert!(users.iter().all(|u| u.username != "mallory"));
    assert!(
        users
            .iter()
            .any(|u| u.username == "alice" && u.role.name() == "member")
    );
    assert!(server.store.teams().await.expect("teams").is_empty());
    let lines = server
        .store
        .audit(ferry_server::store::AuditFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(
        lines.iter().map(|l| l.action.as_str()).collect::<Vec<_>>(),
        ["console.sign_in"]
    );
}

#[test]
fn the_access_list_covers_every_admin_endpoint() {
    let doc = ferry_server::openapi();
    let mut documented = Vec::new();
    for (path, item) in &doc.paths.paths {
        if !path.starts_with("/v1/admin/") || path == "/v1/admin/session" {
            continue;
        }
        for (method, op) in [
            (Method::GET, &item.get),
            (Method::POST, &item.post),
            (Method::PUT, &item.put),
            (Method::PATCH, &item.patch),
            (Method::DELETE, &item.delete),
        ] {
            if op.is_some() {
                documented.push(format!("{method} {path}"));
            }
        }
    }
    let tested: Vec<String> = operations()
        .into_iter()
        .filter(|(_, p, _)| *p != "/v1/admin/session")
        .map(|(m, p, _)| {
            let p = p.split('?').next().unwrap_or(p);
            let p = p
                .replace("0193a1b2-0000-7000-8000-000000000001", "{id}")
                .replace("/north", "/{name}")
                .replace("collections/tasks", "collections/{name}")
                .replace("records/tasks/{id}", "records/{collection}/{id}")
                .replace("fields/title", "fields/{field}")
                .replace("members/alice", "members/{username}")
                .replace("users/alice", "users/{username}");
            format!("{m} {p}")
        })
        .collect();
    documented.sort();
    let mut tested_sorted = tested.clone();
    tested_sorted.sort();
    assert_eq!(documented, tested_sorted);
}

#[tokio::test]
async fn an_admin_manages_users_and_each_change_is_audited() {
    let server = TestServer::start().await;
    let admin = server.login("admin").await;
    let post = |body: Value, status| {
        call(
            &server,
            &admin,
            Method::POST,
            "/v1/admin/users",
            body,
            status,
        )
    };
    let dana = post(
        json!({"username": "dana", "password": "dana-secret-1"}),
        201,
    )
    .await;
    assert_eq!(dana["username"], "dana");
    assert_eq!(dana["role"], "member");
    assert_eq!(dana["disabled"], false);
    assert_eq!(dana["devices"], 0);
    for (body, status, code) in [
        (
            json!({"username": "dana", "password": "another-pass"}),
            409,
            "exists",
        ),
        (
            json!({"username": "da na", "password": "another-pass"}),
            422,
            "invalid",
        ),
        (
            json!({"username": "erin", "password": "short"}),
            422,
            "invalid",
        ),
    ] {
        let resp = server
            .post("/v1/admin/users", &admin)
            .json(&body)
            .send()
            .await
            .expect("request");
        assert_error(resp, status, code).await;
    }
    let listed = call(
        &server,
        &admin,
        Method::GET,
        "/v1/admin/users?q=DAN",
        Value::Null,
        200,
    )
    .await;
    let names: Vec<&str> = listed["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert_eq!(names, ["dana"]);

    // Disabling signs dana's devices out and keeps her from signing in.
    let resp = server.try_login("dana", "dana-secret-1").await;
    assert_eq!(resp.status(), 200);
    let token = resp.json::<Value>().await.expect("JSON")["token"]
        .as_str()
        .expect("token")
        .to_string();
    let patch = |body: Value, status| {
        call(
            &server,
            &admin,
            Method::PATCH,
            "/v1/admin/users/dana",
            body,
            status,
        )
    };
    let disabled = patch(json!({"disabled": true}), 200).await;
    assert_eq!(
        (disabled["disabled"].clone(), disabled["devices"].clone()),
        (json!(true), json!(0))
    );
    let resp = server
        .get("/v1/schema", &token)
        .send()
        .await
        .expect("schema");
    assert_error(resp, 401, "device_revoked").await;
    let resp = server.try_login("dana", "dana-secret-1").await;
    let message = assert_error(resp, 403, "forbidden").await;
    assert!(message.contains("disabled"), "{message}");
    patch(json!({"disabled": false}), 200).await;

    // A new password: the old one no longer opens, the new one does.
    patch(json!({"password": "dana-secret-2"}), 200).await;
    assert_error(
        server.try_login("dana", "dana-secret-1").await,
        401,
        "bad_credentials",
    )
    .await;
    assert_eq!(
        server.try_login("dana", "dana-secret-2").await.status(),
        200
    );
    let resp = server
        .http
        .patch(server.url("/v1/admin/users/dana"))
        .bearer_auth(&admin)
        .json(&json!({"password": "short"}))
        .send()
        .await
        .expect("request");
    assert_error(resp, 422, "invalid").await;

    // Roles: dana becomes an admin; the last enabled admin cannot step down.
    assert_eq!(patch(json!({"role": "admin"}), 200).await["role"], "admin");
    call(
        &server,
        &admin,
        Method::PATCH,
        "/v1/admin/users/dana",
        json!({"role": "member"}),
        200,
    )
    .await;
    let resp = server
        .http
        .patch(server.url("/v1/admin/users/admin"))
        .bearer_auth(&admin)
        .json(&json!({"disabled": true}))
        .send()
        .await
        .expect("request");
    assert_error(resp, 409, "last_admin").await;
    let resp = server
        .http
        .patch(server.url("/v1/admin/users/nobody"))
        .bearer_auth(&admin)
        .json(&json!({"role": "admin"}))
        .send()
        .await
        .expect("request");
    assert_error(resp, 404, "not_found").await;

    let lines = audit(&server, &admin, "target=dana").await;
    let actions: Vec<&str> = lines.iter().filter_map(|l| l["action"].as_str()).collect();
    assert_eq!(
        actions,
        [
            "user.role",
            "user.role",
            "user.password",
            "user.enable",
            "user.disable",
            "user.add"
        ]
    );
    let admin_row = server
        .store
        .user_by_name("admin")
        .await
        .expect("read")
        .expect("admin");
    let devices = server
        .store
        .devices(Some(admin_row.id))
        .await
        .expect("devices");
    for l in &lines {
        assert_eq!(l["actor"], "admin");
        assert_eq!(l["ip"], "127.0.0.1");
        assert_eq!(l["device_id"], devices[0].id.to_string());
    }
    assert_eq!(lines[4]["detail"], json!({"devices_signed_out": 1}));
    // No password or token in the whole log.
    let all = serde_json::to_string(&audit(&server, &admin, "limit=500").await).expect("JSON");
    for secret in [
        "dana-secret-1",
        "dana-secret-2",
        token.as_str(),
        admin.as_str(),
    ] {
        assert!(!all.contains(secret), "the audit log holds a secret");
    }
}

#[tokio::test]
async fn teams_and_grants_change_what_a_user_sees_and_the_preview_counts_it() {
    let server = TestServer::start().await;
    let admin = server.login("admin").await;
    // Records in each region of the demo's contacts.
    let alice = server.login("alice").await;
    let regions = ["north", "north", "north", "south", "east"];
    let creates: Vec<Value> = regions
        .iter()
        .map(|r| {
            create(
                "contacts",
                Uuid::now_v7(),
                json!({"name": "A", "region": r}),
            )
        })
        .collect();
    server.push(&alice, &creates).await;
    let preview = |user: &'static str| {
        let (server, admin) = (&server, &admin);
        async move {
            let path = format!("/v1/admin/preview?username={user}&collection=contacts");
            call(server, admin, Method::GET, &path, Value::Null, 200).await
        }
    };
    assert_eq!(
        preview("carol").await,
        json!({"username": "carol", "collection": "contacts", "visible": 3, "total": 5})
    );
    assert_eq!(preview("bob").await["visible"], 5);

    let team = call(
        &server,
        &admin,
        Method::POST,
        "/v1/admin/teams",
        json!({"name": "south"}),
        201,
    )
    .await;
    assert_eq!(team, json!({"name": "south", "members": []}));
    let resp = server
        .post("/v1/admin/teams", &admin)
        .json(&json!({"name": "South Team"}))
        .send()
        .await
        .expect("request");
    assert_error(resp, 422, "invalid").await;
    let team = call(
        &server,
        &admin,
        Method::PUT,
        "/v1/admin/teams/south/members/carol",
        Value::Null,
        200,
    )
    .await;
    assert_eq!(team["members"], json!(["carol"]));
    let grant = |body: Value, status| {
        call(
            &server,
            &admin,
            Method::POST,
            "/v1/admin/grants",
            body,
            status,
        )
    };
    let grants = grant(
        json!({"subject": {"kind": "team", "name": "south"}, "collection": "contacts",
               "access": "read", "values": ["south"]}),
        200,
    )
    .await;
    assert!(
        grants["grants"]
            .as_array()
            .expect("grants")
            .contains(&json!({
            "subject": {"kind": "team", "name": "south"}, "collection": "contacts",
            "access": "read", "values": ["south"]}))
    );
    assert_eq!(preview("carol").await["visible"], 4);
    // carol pulls what the grant gave her.
    let carol = server.login("carol").await;
    let (records, _) = server.pull_all(&carol).await;
    assert_eq!(
        records
            .iter()
            .filter(|r| r["collection"] == "contacts")
            .count(),
        4
    );

    for (body, status, code) in [
        (
            json!({"subject": {"kind": "user", "name": "nobody"}, "collection": "contacts", "access": "read"}),
            404,
            "not_found",
        ),
        (
            json!({"subject": {"kind": "team", "name": "nowhere"}, "collection": "contacts", "access": "read"}),
            404,
            "not_found",
        ),
        (
            json!({"subject": {"kind": "everyone"}, "collection": "tasks", "access": "read", "values": ["x"]}),
            422,
            "invalid",
        ),
        (
            json!({"subject": {"kind": "everyone"}, "collection": "contacts", "access": "write_only"}),
            422,
            "invalid",
        ),
    ] {
        let resp = server
            .post("/v1/admin/grants", &admin)
            .json(&body)
            .send()
            .await
            .expect("request");
        assert_error(resp, status, code).await;
    }
    let resp = server
        .get(
            "/v1/admin/preview?username=carol&collection=nothing",
            &admin,
        )
        .send()
        .await
        .expect("request");
    assert_error(resp, 404, "not_found").await;

    // Out of the team: carol sees the north again only.
    let team = call(
        &server,
        &admin,
        Method::DELETE,
        "/v1/admin/teams/south/members/carol",
        Value::Null,
        200,
    )
    .await;
    assert_eq!(team["members"], json!([]));
    assert_eq!(preview("carol").await["visible"], 3);
    grant(
        json!({"subject": {"kind": "team", "name": "south"}, "collection": "contacts", "access": null}),
        200,
    )
    .await;
    call(
        &server,
        &admin,
        Method::DELETE,
        "/v1/admin/teams/south",
        Value::Null,
        204,
    )
    .await;
    let resp = server
        .http
        .delete(server.url("/v1/admin/teams/south"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("request");
    assert_error(resp, 404, "not_found").await;
    let actions: Vec<String> = audit(&server, &admin, "action=team.")
        .await
        .iter()
        .filter_map(|l| l["action"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        actions,
        [
            "team.remove",
            "team.member_remove",
            "team.member_add",
            "team.add"
        ]
    );
    let given = audit(&server, &admin, "action=grant.give").await;
    assert_eq!(given.len(), 1);
    assert_eq!(given[0]["target"], "contacts");
    assert_eq!(
        given[0]["detail"],
        json!({"subject": {"kind": "team", "name": "south"}, "access": "read", "values": ["south"]})
    );
}

#[tokio::test]
async fn an_admin_revokes_and_wipes_devices() {
    let server = TestServer::start().await;
    let admin = server.login("admin").await;
    let alice = server.login("alice").await;
    let listed = call(
        &server,
        &admin,
        Method::GET,
        "/v1/admin/devices?username=alice",
        Value::Null,
        200,
    )
    .await;
    let devices = listed["devices"].as_array().expect("devices");
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0]["username"], "alice");
    assert_eq!(devices[0]["revoked"], false);
    let id = devices[0]["id"].as_str().expect("id").to_string();
    let path = format!("/v1/admin/devices/{id}/revoke");
    let after = call(
        &server,
        &admin,
        Method::POST,
        &path,
        json!({"wipe": true}),
        200,
    )
    .await;
    assert_eq!(
        (after["revoked"].clone(), after["wipe"].clone()),
        (json!(true), json!(true))
    );
    let resp = server
        .get("/v1/schema", &alice)
        .send()
        .await
        .expect("schema");
    assert_error(resp, 401, "wipe").await;
    let unknown = format!("/v1/admin/devices/{}/revoke", Uuid::now_v7());
    let resp = server
        .post(&unknown, &admin)
        .json(&json!({}))
        .send()
        .await
        .expect("request");
    assert_error(resp, 404, "not_found").await;
    let resp = server
        .post("/v1/admin/devices/not-a-uuid/revoke", &admin)
        .json(&json!({}))
        .send()
        .await
        .expect("request");
    assert_error(resp, 400, "malformed_request").await;
    let resp = server
        .get("/v1/admin/devices?username=nobody", &admin)
        .send()
        .await
        .expect("request");
    assert_error(resp, 404, "not_found").await;
    let lines = audit(&server, &admin, "action=device.").await;
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["action"], "device.wipe");
    assert_eq!(lines[0]["target"], id);
    assert_eq!(lines[0]["detail"]["username"], "alice");
}

#[tokio::test]
async fn the_console_session_is_a_strict_cookie_and_its_page_has_a_strict_policy() {
    let server = TestServer::start().await;
    let resp = server
        .http
        .post(server.url("/v1/admin/session"))
        .json(&json!({"username": "admin", "password": PASSWORD, "device_name": "x"}))
        .send()
        .await
        .expect("sign in");
    assert_eq!(resp.status(), 200);
    let cookie = resp
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .expect("cookie")
        .to_string();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "no Secure flag over plain HTTP");
    let token = console_cookie(&server, "admin").await;
    let with_cookie = |method: Method, path: &str| {
        server
            .http
            .request(method, server.url(path))
            .header("cookie", format!("other=1; ferry_console={token}"))
            .header("x-ferry-csrf", "1")
    };
    let resp = with_cookie(Method::GET, "/v1/admin/session")
        .send()
        .await
        .expect("session");
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<Value>().await.expect("JSON"),
        json!({"username": "admin"})
    );
    // The cookie opens the admin API only: the sync API takes bearer tokens.
    let resp = with_cookie(Method::GET, "/v1/schema")
        .send()
        .await
        .expect("schema");
    assert_error(resp, 401, "unauthenticated").await;

    for (username, password, status, code) in [
        ("alice", PASSWORD, 403, "forbidden"),
        ("admin", "wrong", 401, "bad_credentials"),
    ] {
        let resp = server
            .http
            .post(server.url("/v1/admin/session"))
            .json(&json!({"username": username, "password": password, "device_name": "x"}))
            .send()
            .await
            .expect("sign in");
        assert!(resp.headers().get(reqwest::header::SET_COOKIE).is_none());
        assert_error(resp, status, code).await;
    }

    let resp = with_cookie(Method::DELETE, "/v1/admin/session")
        .send()
        .await
        .expect("out");
    assert_eq!(resp.status(), 204);
    let cleared = resp
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .expect("cookie")
        .to_string();
    assert!(
        cleared.starts_with("ferry_console=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    let resp = with_cookie(Method::GET, "/v1/admin/session")
        .send()
        .await
        .expect("session");
    assert_error(resp, 401, "unauthenticated").await;

    // The page: a strict CSP, never framed; /admin leads to it.
    let resp = server
        .http
        .get(server.url("/admin/"))
        .send()
        .await
        .expect("page");
    assert_eq!(
        resp.status(),
        200,
        "the console is built (npm run build in ui/)"
    );
    let csp = resp
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .expect("CSP")
        .to_string();
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(resp.headers()["x-frame-options"], "DENY");
    let html = resp.text().await.expect("html");
    assert!(html.contains("<script type=\"module\""), "{html}");
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .expect("client");
    let resp = no_redirect
        .get(server.url("/admin"))
        .send()
        .await
        .expect("page");
    assert_eq!(resp.status(), 308);
    assert_eq!(resp.headers()["location"], "/admin/");
    let resp = server
        .http
        .get(server.url("/admin/assets/nothing.js"))
        .send()
        .await
        .expect("asset");
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn the_audit_log_pages_and_health_reports_the_server() {
    let server = TestServer::start().await;
    let admin = server.login("admin").await;
    for name in ["t1", "t2", "t3", "t4", "t5"] {
        call(
            &server,
            &admin,
            Method::POST,
            "/v1/admin/teams",
            json!({"name": name}),
            201,
        )
        .await;
    }
    let first = call(
        &server,
        &admin,
        Method::GET,
        "/v1/admin/audit?limit=2",
        Value::Null,
        200,
    )
    .await;
    let targets = |page: &Value| -> Vec<String> {
        page["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .filter_map(|l| l["target"].as_str().map(str::to_string))
            .collect()
    };
    assert_eq!(targets(&first), ["t5", "t4"]);
    let next = first["next"].as_i64().expect("next");
    let second = call(
        &server,
        &admin,
        Method::GET,
        &format!("/v1/admin/audit?limit=2&before={next}"),
        Value::Null,
        200,
    )
    .await;
    assert_eq!(targets(&second), ["t3", "t2"]);
    let last = call(
        &server,
        &admin,
        Method::GET,
        &format!(
            "/v1/admin/audit?limit=2&before={}",
            second["next"].as_i64().expect("next")
        ),
        Value::Null,
        200,
    )
    .await;
    assert_eq!(targets(&last), ["t1"]);
    assert!(last.get("next").is_none(), "the last page has no next");
    for bad in ["limit=0", "limit=501", "before=x"] {
        let resp = server
            .get(&format!("/v1/admin/audit?{bad}"), &admin)
            .send()
            .await
            .expect("request");
        assert_error(resp, 400, "malformed_request").await;
    }

    let alice = server.login("alice").await;
    server
        .push(
            &alice,
            &[create("tasks", Uuid::now_v7(), json!({"title": "x"}))],
        )
        .await;
    let health = call(
        &server,
        &admin,
        Method::GET,
        "/v1/admin/health",
        Value::Null,
        200,
    )
    .await;
    assert_eq!(health["database"], "sqlite");
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        health["collections"]
            .as_array()
            .expect("collections")
            .contains(&json!({"collection": "tasks", "records": 1, "history_rows": 1}))
    );
    let pushes = health["pushes"].as_array().expect("pushes");
    assert_eq!(pushes.len(), ferry_server::metrics::RECENT_MINUTES);
    let total: u64 = pushes.iter().filter_map(|m| m["pushes"].as_u64()).sum();
    assert_eq!(total, 1);
    assert_eq!(health["event_streams"], 0);
}

#[tokio::test]
async fn the_server_commands_make_admins_and_leave_audit_lines() {
    let server = TestServer::start().await;
    let ok = |out: std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let said = ok(server_cli(
        &server,
        &["user", "add", "ann", "--admin"],
        "ann-secret-1\n",
    ));
    assert!(said.contains("administrator"), "{said}");
    let ann = server
        .store
        .user_by_name("ann")
        .await
        .expect("read")
        .expect("ann");
    assert_eq!(ann.role.name(), "admin");
    ok(server_cli(&server, &["user", "role", "alice", "admin"], ""));
    ok(server_cli(
        &server,
        &["user", "role", "alice", "member"],
        "",
    ));
    let out = server_cli(&server, &["user", "role", "alice", "owner"], "");
    assert!(!out.status.success());
    let alice = server.login("alice").await;
    let said = ok(server_cli(&server, &["user", "disable", "alice"], ""));
    assert!(said.contains("1 device(s) signed out"), "{said}");
    assert_error(
        server
            .get("/v1/schema", &alice)
            .send()
            .await
            .expect("schema"),
        401,
        "device_revoked",
    )
    .await;
    ok(server_cli(
        &server,
        &["user", "disable", "alice", "--enable"],
        "",
    ));
    server.login("alice").await;
    ok(server_cli(&server, &["team", "add", "north"], ""));
    ok(server_cli(
        &server,
        &["grant", "--team", "north", "tasks", "--read"],
        "",
    ));
    // Neither the last admin's demotion nor a bad name gets through.
    ok(server_cli(
        &server,
        &["user", "role", "admin", "member"],
        "",
    ));
    let out = server_cli(&server, &["user", "role", "ann", "member"], "");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("last administrator"));

    let token = server.try_login("ann", "ann-secret-1").await;
    assert_eq!(token.status(), 200);
    let token = token.json::<Value>().await.expect("JSON")["token"]
        .as_str()
        .expect("token")
        .to_string();
    let lines = audit(&server, &token, "actor=cli:operator").await;
    let got: Vec<(String, String)> = lines
        .iter()
        .map(|l| {
            (
                l["action"].as_str().unwrap_or_default().to_string(),
                l["target"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("user.role", "admin"),
        ("grant.give", "tasks"),
        ("team.add", "north"),
        ("user.enable", "alice"),
        ("user.disable", "alice"),
        ("user.role", "alice"),
        ("user.role", "alice"),
        ("user.add", "ann"),
    ]
    .iter()
    .map(|(a, t)| (a.to_string(), t.to_string()))
    .collect();
    assert_eq!(got, want);
    assert!(
        lines
            .iter()
            .all(|l| l["device_id"].is_null() && l["ip"].is_null())
    );
    assert_eq!(lines[7]["detail"], json!({"role": "admin"}));
    assert_eq!(
        lines[1]["detail"],
        json!({"subject": {"kind": "team", "name": "north"}, "access": "read", "values": []})
    );
}

#[tokio::test]
async fn collections_change_in_place_only_where_no_value_is_lost_or_broken_on_sqlite() {
    collections_change_in_place_only_where_no_value_is_lost_or_broken(TestServer::start().await)
        .await;
}

#[tokio::test]
async fn collections_change_in_place_only_where_no_value_is_lost_or_broken_on_postgres() {
    let Some((server, _db)) = on_postgres().await else {
        return;
    };
    collections_change_in_place_only_where_no_value_is_lost_or_broken(server).await;
}

async fn collections_change_in_place_only_where_no_value_is_lost_or_broken(server: TestServer) {
    let admin = server.login("admin").await;
    let created = call(
        &server,
        &admin,
        Method::POST,
        "/v1/admin/collections",
        visits(),
        201,
    )
    .await;
    assert_eq!(created["name"], "visits");
    assert_eq!(created["fields"][0]["merge"], "whole");
    let resp = server
        .post("/v1/admin/collections", &admin)
        .json(&visits())
        .send()
        .await
        .expect("request");
    assert_error(resp, 409, "exists").await;
    let mut bad = visits();
    bad["title_field"] = json!("nope");
    let resp = server
        .post("/v1/admin/collections", &admin)
        .json(&bad)
        .send()
        .await
        .expect("request");
    let message = assert_error(resp, 422, "invalid").await;
    assert!(message.contains("title field \"nope\""), "{message}");

    // Tasks with and without a due date; alice listens for events.
    let alice = server.login("alice").await;
    let mut events = common::EventStream::connect(&server, &alice).await;
    let due = ["2026-12-01", "2026-12-02"];
    let mut creates: Vec<Value> = due
        .iter()
        .map(|d| {
            create(
                "tasks",
                Uuid::now_v7(),
                json!({"title": "t", "due": d, "status": "todo"}),
            )
        })
        .collect();
    creates.push(create(
        "tasks",
        Uuid::now_v7(),
        json!({"title": "u", "status": "doing"}),
    ));
    server.push(&alice, &creates).await;
    assert!(
        events.next_changes(common::deadline()).await.is_some(),
        "the push's event"
    );

    let tasks = call(
        &server,
        &admin,
        Method::GET,
        "/v1/admin/collections",
        Value::Null,
        200,
    )
    .await;
    let mut spec = tasks["collections"]
        .as_array()
        .expect("collections")
        .iter()
        .find(|c| c["name"] == "tasks")
        .expect("tasks")
        .clone();
    for key in ["access", "rows"] {
        spec.as_object_mut().expect("object").remove(key);
    }
    let field = |spec: &Value, name: &str| -> usize {
        spec["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .position(|f| f["name"] == name)
            .expect("field")
    };
    let put = |spec: Value| {
        server
            .http
            .put(server.url("/v1/admin/collections/tasks"))
            .bearer_auth(&admin)
            .json(&spec)
            .send()
    };

    // Making "due" required: one task has none.
    let mut required = spec.clone();
    required["fields"][field(&spec, "due")]["required"] = json!(true);
    let message = assert_error(put(required).await.expect("put"), 422, "invalid").await;
    assert!(
        message.contains("1 of 3 records") && message.contains("Due"),
        "{message}"
    );
    // Dropping an option a task holds.
    let mut options = spec.clone();
    let status = field(&spec, "status");
    let kept: Vec<Value> = spec["fields"][status]["options"]
        .as_array()
        .expect("options")
        .iter()
        .filter(|o| *o != "doing")
        .cloned()
        .collect();
    options["fields"][status]["options"] = json!(kept);
    let message = assert_error(put(options).await.expect("put"), 422, "invalid").await;
    assert!(
        message.contains("1 records") && message.contains("\"doing\""),
        "{message}"
    );
    // A new field that is required at once: no task has a value for it.
    let mut new_required = spec.clone();
    new_required["fields"]
        .as_array_mut()
        .expect("fields")
        .push(json!({"name": "zone", "label": "Zone", "type": "text", "required": true}));
    let message = assert_error(put(new_required).await.expect("put"), 422, "invalid").await;
    assert!(
        message.contains("3 of 3 records") && message.contains("Zone"),
        "{message}"
    );
    // Removing a field, changing a type: migrations, not edits.
    let mut removed = spec.clone();
    removed["fields"]
        .as_array_mut()
        .expect("fields")
        .remove(field(&spec, "due"));
    let message = assert_error(put(removed).await.expect("put"), 422, "invalid").await;
    assert!(message.contains("migration"), "{message}");
    let mut retyped = spec.clone();
    retyped["fields"][field(&spec, "due")]["type"] = json!("text");
    let message = assert_error(put(retyped).await.expect("put"), 422, "invalid").await;
    assert!(message.contains("from date to text"), "{message}");
    // None of those changed anything.
    let now = server.store.collections().await.expect("defs");
    let tasks_now = now.iter().find(|d| d.name == "tasks").expect("tasks");
    assert!(
        !tasks_now
            .fields
            .iter()
            .any(|f| f.name == "due" && f.required)
    );

    // A new field, a new label, another order: made, audited and announced.
    let mut edited = spec.clone();
    edited["fields"]
        .as_array_mut()
        .expect("fields")
        .push(json!({"name": "place", "label": "Place", "type": "text", "required": false}));
    edited["fields"][0]["label"] = json!("Task");
    edited["fields"].as_array_mut().expect("fields").swap(1, 2);
    let resp = put(edited.clone()).await.expect("put");
    assert_eq!(
        resp.status(),
        200,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    let frame = events.next_changes(common::deadline()).await;
    assert!(frame.is_some(), "alice hears of the new field");
    let schema: Value = server
        .get("/v1/schema", &alice)
        .send()
        .await
        .expect("schema")
        .json()
        .await
        .expect("JSON");
    let tasks = schema["collections"]
        .as_array()
        .expect("collections")
        .iter()
        .find(|c| c["name"] == "tasks")
        .expect("tasks")
        .clone();
    assert!(
        tasks["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .any(|f| f["name"] == "place")
    );
    assert_eq!(tasks["fields"][0]["label"], "Task");
    let lines = audit(&server, &admin, "target=tasks").await;
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["action"], "collection.edit");
    assert_eq!(lines[0]["detail"]["added_fields"], json!(["place"]));
    assert_eq!(lines[0]["detail"]["reordered"], true);
    let created = audit(&server, &admin, "action=collection.add").await;
    assert_eq!(created[0]["target"], "visits");

    // Once every task has a due date, it may become required.
    let usage = call(
        &server,
        &admin,
        Method::GET,
        "/v1/admin/collections/tasks/fields/due/usage",
        Value::Null,
        200,
    )
    .await;
    assert_eq!(
        (usage["live"].clone(), usage["with_value"].clone()),
        (json!(3), json!(2))
    );
    let usage = call(
        &server,
        &admin,
        Method::GET,
        "/v1/admin/collections/tasks/fields/status/usage",
        Value::Null,
        200,
    )
    .await;
    assert!(
        usage["options"]
            .as_array()
            .expect("options")
            .contains(&json!({"value": "doing", "records": 1}))
    );
    let resp = server
        .get("/v1/admin/collections/tasks/fields/nope/usage", &admin)
        .send()
        .await
        .expect("request");
    assert_error(resp, 404, "not_found").await;
    let undated = creates[2]["record_id"]
        .as_str()
        .expect("id")
        .parse::<Uuid>()
        .expect("uuid");
    server
        .push(
            &alice,
            &[common::update(
                "tasks",
                undated,
                1,
                json!({}),
                json!({"due": "2026-12-03"}),
            )],
        )
        .await;
    let mut required = edited.clone();
    required["fields"][field(&edited, "due")]["required"] = json!(true);
    assert_eq!(put(required).await.expect("put").status(), 200);
    let resp = server
        .http
        .put(server.url("/v1/admin/collections/nothing"))
        .bearer_auth(&admin)
        .json(&json!({"name": "nothing", "label": "N", "title_field": "a",
                      "fields": [{"name": "a", "label": "A", "type": "text", "required": false}]}))
        .send()
        .await
        .expect("request");
    assert_error(resp, 404, "not_found").await;
}

/// Starts a migration of tasks and waits until it is done; the job.
async fn migrate(server: &TestServer, admin: &str, body: Value) -> Value {
    let job = call(
        server,
        admin,
        Method::POST,
        "/v1/admin/collections/tasks/migrations",
        body,
        202,
    )
    .await;
    let deadline = common::deadline();
    loop {
        let list = call(
            server,
            admin,
            Method::GET,
            "/v1/admin/migrations",
            Value::Null,
            200,
        )
        .await;
        let now = list["migrations"]
            .as_array()
            .expect("migrations")
            .iter()
            .find(|j| j["id"] == job["id"])
            .expect("listed")
            .clone();
        if now["state"] != "running" {
            assert_eq!(now["state"], "done", "{now}");
            assert_eq!(now["done"], now["total"], "{now}");
            return now;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still running: {now}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The current version of a task, as alice pulls it.
async fn task(server: &TestServer, token: &str, id: &str) -> Value {
    let (records, _) = server.pull_all(token).await;
    records
        .into_iter()
        .find(|r| r["id"] == id)
        .expect("the task")
}

/// Rename, remove and change the type of fields of tasks that hold
/// records, while alice holds edits of each made before: every value is
/// kept (the old ones in history), her edits land under the new name and
/// type, and her edit of the removed field is refused saying so.
async fn migrations_keep_values_and_offline_edits(server: TestServer) {
    let admin = server.login("admin").await;
    let alice = server.login("alice").await;
    let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
    server
        .push(
            &alice,
            &[
                create(
                    "tasks",
                    ids[0],
                    json!({"title": "one", "notes": "n1", "priority": 1}),
                ),
                create(
                    "tasks",
                    ids[1],
                    json!({"title": "two", "notes": "n2", "assignee": "bob"}),
                ),
                create("tasks", ids[2], json!({"title": "three", "priority": 2})),
            ],
        )
        .await;
    // Edits alice made offline, before any migration.
    let offline_notes = common::update(
        "tasks",
        ids[0],
        1,
        json!({"notes": "n1"}),
        json!({"notes": "n1, then more"}),
    );
    let offline_assignee = common::update(
        "tasks",
        ids[1],
        1,
        json!({"assignee": "bob"}),
        json!({"assignee": "carol"}),
    );
    let offline_priority = common::update(
        "tasks",
        ids[2],
        1,
        json!({"priority": 2}),
        json!({"priority": 5}),
    );
    let id = |i: usize| ids[i].to_string();

    // Rename: dry run, then for real.
    let rename = json!({"kind": "rename_field", "field": "notes", "to": "details"});
    let plan = call(
        &server,
        &admin,
        Method::POST,
        "/v1/admin/collections/tasks/migrations?dry_run=true",
        rename.clone(),
        200,
    )
    .await;
    assert_eq!(
        plan,
        json!({"records": 2, "unconvertible": 0, "examples": []})
    );
    let defs = server.store.collections().await.expect("defs");
    assert!(
        defs.iter()
            .any(|d| d.name == "tasks" && d.field("notes").is_some()),
        "a dry run changes nothing"
    );
    migrate(&server, &admin, rename).await;
    let one = task(&server, &alice, &id(0)).await;
    assert_eq!(one["fields"]["details"], "n1");
    assert!(one["fields"].get("notes").is_none(), "{one}");
    assert_eq!(one["version"], 2);
    assert_eq!(one["updated_by"], "admin");
    let history = server.history(&alice, "tasks", ids[0]).await;
    assert_eq!(
        history[0]["fields"]["notes"], "n1",
        "the old name stays in history"
    );
    assert_eq!(
        task(&server, &alice, &id(2)).await["version"],
        1,
        "a task without notes is left alone"
    );
    let results = server.push(&alice, &[offline_notes]).await;
    assert!(
        matches!(results[0]["status"].as_str(), Some("applied" | "merged")),
        "{results:?}"
    );
    assert_eq!(
        task(&server, &alice, &id(0)).await["fields"]["details"],
        "n1, then more"
    );

    // Remove: the value stays in history; an edit of it is refused, saying so.
    migrate(
        &server,
        &admin,
        json!({"kind": "remove_field", "field": "assignee"}),
    )
    .await;
    let two = task(&server, &alice, &id(1)).await;
    assert!(two["fields"].get("assignee").is_none(), "{two}");
    assert_eq!(
        server.history(&alice, "tasks", ids[1]).await[0]["fields"]["assignee"],
        "bob"
    );
    let results = server.push(&alice, &[offline_assignee]).await;
    assert_eq!(results[0]["status"], "rejected");
    assert_eq!(results[0]["error"]["code"], "field_removed");
    assert!(
        results[0]["error"]["message"]
            .as_str()
            .expect("message")
            .contains("\"assignee\"")
    );

    // Change a type: every value converts, and an offline edit in the old type too.
    migrate(
        &server,
        &admin,
        json!({"kind": "change_type", "field": "priority", "to": "text"}),
    )
    .await;
    assert_eq!(
        task(&server, &alice, &id(2)).await["fields"]["priority"],
        "2"
    );
    let results = server.push(&alice, &[offline_priority]).await;
    assert!(
        matches!(results[0]["status"].as_str(), Some("applied" | "merged")),
        "{results:?}"
    );
    assert_eq!(
        task(&server, &alice, &id(2)).await["fields"]["priority"],
        "5"
    );

    // What would not convert is named, and nothing changes.
    let to_number = json!({"kind": "change_type", "field": "title", "to": "number"});
    let plan = call(
        &server,
        &admin,
        Method::POST,
        "/v1/admin/collections/tasks/migrations?dry_run=true",
        to_number.clone(),
        200,
    )
    .await;
    assert_eq!(plan["unconvertible"], 3);
    assert_eq!(plan["examples"].as_array().expect("examples").len(), 3);
    assert!(
        plan["examples"]
            .as_array()
            .expect("examples")
            .iter()
            .any(|e| e["title"] == "one" && e["value"] == "one")
    );
    let resp = server
        .post("/v1/admin/collections/tasks/migrations", &admin)
        .json(&to_number)
        .send()
        .await
        .expect("request");
    let message = assert_error(resp, 422, "invalid").await;
    assert!(message.contains("3 records"), "{message}");
    for (body, code) in [
        (
            json!({"kind": "rename_field", "field": "details", "to": "notes"}),
            "invalid",
        ),
        (json!({"kind": "remove_field", "field": "title"}), "invalid"),
        (
            json!({"kind": "change_type", "field": "due", "to": "number"}),
            "invalid",
        ),
    ] {
        let resp = server
            .post("/v1/admin/collections/tasks/migrations", &admin)
            .json(&body)
            .send()
            .await
            .expect("request");
        assert_error(resp, 422, code).await;
    }

    // alice's app sees the fields as they are now.
    let schema: Value = server
        .get("/v1/schema", &alice)
        .send()
        .await
        .expect("schema")
        .json()
        .await
        .expect("JSON");
    let tasks = schema["collections"]
        .as_array()
        .expect("collections")
        .iter()
        .find(|c| c["name"] == "tasks")
        .expect("tasks")
        .clone();
    let names: Vec<&str> = tasks["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert!(
        names.contains(&"details") && !names.contains(&"notes") && !names.contains(&"assignee"),
        "{names:?}"
    );
    let actions: Vec<Value> = audit(&server, &admin, "action=collection.migrate")
        .await
        .iter()
        .map(|l| l["detail"]["kind"].clone())
        .collect();
    assert_eq!(
        actions,
        [
            json!("change_type"),
            json!("remove_field"),
            json!("rename_field")
        ]
    );
}

#[tokio::test]
async fn migrations_keep_values_and_offline_edits_on_sqlite() {
    migrations_keep_values_and_offline_edits(TestServer::start().await).await;
}

#[tokio::test]
async fn migrations_keep_values_and_offline_edits_on_postgres() {
    let Some((server, _db)) = on_postgres().await else {
        return;
    };
    migrations_keep_values_and_offline_edits(server).await;
}

#[tokio::test]
async fn recent_changes_say_who_wrote_what_and_lead_to_the_history_on_sqlite() {
    recent_changes_say_who_wrote_what_and_lead_to_the_history(TestServer::start().await).await;
}

#[tokio::test]
async fn recent_changes_say_who_wrote_what_and_lead_to_the_history_on_postgres() {
    let Some((server, _db)) = on_postgres().await else {
        return;
    };
    recent_changes_say_who_wrote_what_and_lead_to_the_history(server).await;
}

async fn recent_changes_say_who_wrote_what_and_lead_to_the_history(server: TestServer) {
    let admin = server.login("admin").await;
    let (alice, bob) = (server.login("alice").await, server.login("bob").await);
    let (t, c) = (Uuid::now_v7(), Uuid::now_v7());
    server
        .push(&alice, &[create("tasks", t, json!({"title": "first"}))])
        .await;
    server
        .push(
            &bob,
            &[create(
                "contacts",
                c,
                json!({"name": "Ann Lee", "region": "north"}),
            )],
        )
        .await;
    server
        .push(
            &bob,
            &[common::update(
                "tasks",
                t,
                1,
                json!({"title": "first"}),
                json!({"title": "renamed"}),
            )],
        )
        .await;
    server
        .push(&alice, &[common::delete("contacts", c, 1)])
        .await;
    let page = call(
        &server,
        &admin,
        Method::GET,
        "/v1/admin/changes?limit=3",
        Value::Null,
        200,
    )
    .await;
    let rows: Vec<(String, String, i64, String, bool)> = page["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|r| {
            (
                r["collection"].as_str().unwrap_or_default().to_string(),
                r["updated_by"].as_str().unwrap_or_default().to_string(),
                r["version"].as_i64().unwrap_or_default(),
                r["title"].as_str().unwrap_or_default().to_string(),
                r["deleted"].as_bool().unwrap_or_default(),
            )
        })
        .collect();
    let row = |c: &str, u: &str, v, t: &str, d| (c.to_string(), u.to_string(), v, t.to_string(), d);
    assert_eq!(
        rows,
        [
            row("contacts", "alice", 2, "Ann Lee", true),
            row("tasks", "bob", 2, "renamed", false),
            row("contacts", "bob", 1, "Ann Lee", false),
        ]
    );
    let next = page["next"].as_i64().expect("next");
    let older = call(
        &server,
        &admin,
        Method::GET,
        &format!("/v1/admin/changes?before={next}"),
        Value::Null,
        200,
    )
    .await;
    assert_eq!(older["changes"].as_array().expect("changes").len(), 1);
    assert!(older.get("next").is_none());
    assert_eq!(
        older["changes"][0]["title"], "renamed",
        "the title as it is now"
    );
    let bobs = call(
        &server,
        &admin,
        Method::GET,
        "/v1/admin/changes?user=bob&collection=tasks",
        Value::Null,
        200,
    )
    .await;
    assert_eq!(bobs["changes"].as_array().expect("changes").len(), 1);

    // carol may read no tasks; the admin reads any record's history.
    let history = call(
        &server,
        &admin,
        Method::GET,
        &format!("/v1/admin/records/tasks/{t}/history"),
        Value::Null,
        200,
    )
    .await;
    let titles: Vec<&str> = history["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .filter_map(|v| v["fields"]["title"].as_str())
        .collect();
    assert_eq!(titles, ["first", "renamed"]);
    let carol = server.login("carol").await;
    let resp = server
        .get(&format!("/v1/records/tasks/{t}/history"), &carol)
        .send()
        .await
        .expect("request");
    assert_error(resp, 403, "forbidden").await;
    let resp = server
        .get(
            &format!("/v1/admin/records/tasks/{}/history", Uuid::now_v7()),
            &admin,
        )
        .send()
        .await
        .expect("request");
    assert_error(resp, 404, "not_found").await;
    let resp = server
        .get("/v1/admin/changes?limit=0", &admin)
        .send()
        .await
        .expect("request");
    assert_error(resp, 400, "malformed_request").await;
}

/// A server over a fresh PostgreSQL database, and the database (dropped
/// after the server); none when no PostgreSQL answers (and none is required).
async fn on_postgres() -> Option<(TestServer, ferry_server::store::postgres::testing::TestDb)> {
    let db = ferry_server::store::postgres::testing::TestDb::create().await?;
    let store: ferry_server::store::DynStore = std::sync::Arc::new(
        ferry_server::store::postgres::PgStore::open(&db.url, &Default::default())
            .await
            .expect("open"),
    );
    Some((TestServer::start_over(store).await, db))
}
