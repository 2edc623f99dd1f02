//! Several `ferry-server` processes on one PostgreSQL database.
//!
//! - A client with an event stream on process A is told of a commit made
//!   through process B within a second (LISTEN/NOTIFY); with row rules, only
//!   of commits in its rows, and of a grant made by the admin command.
//! - `GET /v1/health` answers 503 while PostgreSQL is down and 200 again,
//!   without a restart, once it is back. This one stops and starts a
//!   private throwaway cluster, so other tests' server is left alone.
//!
//! - `ferry-server migrate` moves a SQLite server to PostgreSQL, and its
//!   clients carry on with their tokens, cursors and mutation ids.
//!
//! The server comes from `FERRY_TEST_PG_URL` (`make test` sets it up).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::{EventStream, TestServer, create, delete, event_cursor, update};
use ferry_server::store::DynStore;
use ferry_server::store::postgres::testing::TestDb;
use ferry_server::store::postgres::{PgOptions, PgStore};
use ferry_server::store::sqlite::SqliteStore;
use ferry_server::{AppState, Limits};
use serde_json::{Value, json};
use tokio::time::Instant;
use uuid::Uuid;

/// A `ferry-server serve` child process; killed when dropped.
struct ServerProcess {
    child: Child,
    base: String,
}

impl ServerProcess {
    fn start(db_url: &str) -> ServerProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ferry-server"))
            .args(["--db", db_url, "--db-pool-size", "4"])
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--metrics-listen",
                "off",
            ])
            .env("FERRY_LOG", "ferry_server=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start ferry-server");
        let stdout = child.stdout.take().expect("stdout");
        let base = common::listening_base(stdout);
        ServerProcess { child, base }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_commit_through_process_b_reaches_an_event_stream_on_process_a_within_a_second() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let store: DynStore = Arc::new(
        PgStore::open(&db.url, &PgOptions::default())
            .await
            .expect("open"),
    );
    common::seed(&store).await;
    let (a, b) = (ServerProcess::start(&db.url), ServerProcess::start(&db.url));
    let (a, b) = (
        (TestServer::remote(a.base.clone(), store.clone()), a),
        (TestServer::remote(b.base.clone(), store.clone()), b),
    );
    let (server_a, server_b) = (&a.0, &b.0);
    let alice_on_a = server_a.login("alice").await;
    let bob_on_b = server_b.login("bob").await;

    let mut events = EventStream::connect(server_a, &alice_on_a).await;
    let greeting = events
        .next_frame(common::deadline())
        .await
        .expect("a greeting");
    assert!(greeting.raw.starts_with(':'), "{greeting:?}");

    for round in 0..3 {
        let id = Uuid::now_v7();
        let results = server_b
            .push(
                &bob_on_b,
                &[create(
                    "contacts",
                    id,
                    json!({"name": format!("From B {round}")}),
                )],
            )
            .await;
        assert_eq!(results[0]["status"], "applied");
        let pushed = Instant::now();
        let frame = events
            .next_changes(pushed + Duration::from_secs(1))
            .await
            .expect("a changes event on A within a second");
        let cursor = event_cursor(&frame);
        assert_eq!(
            cursor,
            server_a.cursor(&alice_on_a).await,
            "the event carries the cursor a pull from A ends at"
        );
        let (changes, _) = server_a.pull_all(&alice_on_a).await;
        assert!(changes.iter().any(|c| c["id"] == json!(id)));
    }
    drop(events);
    drop((a, b));
    drop(store);
    drop(db);
}

/// Row rules across processes: a commit of a south contact through B is
/// not told to carol (the north only) on A; a grant of the south made with
/// the admin command, a third process, is, and her next pull brings it.
#[tokio::test]
async fn row_rules_reach_event_streams_of_every_process() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let store: DynStore = Arc::new(
        PgStore::open(&db.url, &PgOptions::default())
            .await
            .expect("open"),
    );
    common::seed(&store).await;
    let (a, b) = (ServerProcess::start(&db.url), ServerProcess::start(&db.url));
    let (server_a, server_b) = (
        TestServer::remote(a.base.clone(), store.clone()),
        TestServer::remote(b.base.clone(), store.clone()),
    );
    let carol = server_a.login("carol").await;
    let bob = server_b.login("bob").await;
    let mut events = EventStream::connect(&server_a, &carol).await;
    events
        .next_frame(common::deadline())
        .await
        .expect("a greeting");

    let south = Uuid::now_v7();
    let results = server_b
        .push(
            &bob,
            &[create(
                "contacts",
                south,
                json!({"name": "South", "region": "south"}),
            )],
        )
        .await;
    assert_eq!(results[0]["status"], "applied");
    let heard = tokio::time::timeout(
        Duration::from_secs(1),
        events.next_changes(common::deadline()),
    )
    .await;
    assert!(heard.is_err(), "carol was told of a south contact");
    let (changes, _) = server_a.pull_all(&carol).await;
    assert!(changes.is_empty(), "{changes:?}");

    let out = Command::new(env!("CARGO_BIN_EXE_ferry-server"))
        .args(["--db", &db.url])
        .args([
            "grant",
            "carol",
            "contacts",
            "--read",
            "--where",
            "region=south",
        ])
        .output()
        .expect("run ferry-server grant");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let granted = Instant::now();
    events
        .next_changes(granted + Duration::from_secs(1))
        .await
        .expect("an event on A within a second of the grant");
    let (changes, _) = server_a.pull_all(&carol).await;
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["id"], json!(south));
    drop(events);
    drop((a, b));
    drop(store);
    drop(db);
}

// ---------------------------------------------------------------- a private cluster

/// A PostgreSQL cluster of its own in a temporary directory, on a free
/// loopback port, run as user `postgres` when the test runs as root
/// (PostgreSQL refuses to run as root). Stopped and removed when dropped.
struct PrivateCluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
}

fn pg_bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    dirs.sort();
    dirs.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl PrivateCluster {
    fn run(&self, program: &str, args: &[&str]) {
        let exe = self.bin.join(program);
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd
            .args(args)
            .current_dir("/")
            .output()
            .expect("run a PostgreSQL program");
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn create() -> PrivateCluster {
        let bin = pg_bin_dir().expect("PostgreSQL's initdb (Debian package postgresql)");
        let dir = std::env::temp_dir().join(format!("ferry-pg-{}", Uuid::new_v4().simple()));
        std::fs::create_dir(&dir).expect("cluster dir");
        if is_root() {
            let ok = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&dir)
                .status()
                .expect("chown");
            assert!(ok.success(), "chown the cluster dir to postgres");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let cluster = PrivateCluster { dir, bin, port };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &["-D", &data, "-U", "postgres", "-A", "trust", "--no-sync"],
        );
        cluster.start();
        cluster
    }

    fn data(&self) -> String {
        self.dir.join("data").to_string_lossy().to_string()
    }

    fn start(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log").to_string_lossy().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &opts,
                "-l",
                &log,
                "-w",
                "-t",
                "30",
                "start",
            ],
        );
    }

    fn stop(&self) {
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-m", "fast", "-w", "-t", "30", "stop"],
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let data = self.data();
        let exe = self.bin.join("pg_ctl");
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let _ = cmd
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .current_dir("/")
            .output();
        let _ = std::fs::remove_dir_all(Path::new(&self.dir));
    }
}

async fn health(http: &reqwest::Client, base: &str) -> u16 {
    match http
        .get(format!("{base}/v1/health"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
    {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

async fn wait_for_health(http: &reqwest::Client, base: &str, want: u16, within: Duration) {
    let until = Instant::now() + within;
    loop {
        let got = health(http, base).await;
        if got == want {
            return;
        }
        assert!(
            Instant::now() < until,
            "health stayed {got}, not {want}, for {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn health_is_503_while_postgres_is_down_and_recovers_when_it_is_back() {
    // Like every PostgreSQL test, this runs where a test server is configured.
    if ferry_server::store::postgres::testing::server_url().is_none() {
        return;
    }
    let cluster = PrivateCluster::create();
    let options = PgOptions {
        pool_size: 4,
        timeout: Duration::from_secs(2),
        wait: Duration::from_secs(2),
    };
    let store: DynStore = Arc::new(PgStore::open(&cluster.url(), &options).await.expect("open"));
    common::seed(&store).await;
    let (state, stop_streams) = AppState::new(store.clone(), Limits::default())
        .await
        .expect("state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(ferry_server::serve(listener, state, stop_streams, async {
        let _ = stopped.await;
    }));
    let server = TestServer::remote(base.clone(), store.clone());
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");

    assert_eq!(health(&http, &base).await, 200);
    let alice = server.login("alice").await;

    cluster.stop();
    wait_for_health(&http, &base, 503, Duration::from_secs(10)).await;
    // Requests that need the database are 503 too, in the error shape.
    let resp = server
        .get("/v1/changes", &alice)
        .send()
        .await
        .expect("changes");
    assert_eq!(resp.status(), 503);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["error"]["code"], "unavailable");

    cluster.start();
    wait_for_health(&http, &base, 200, Duration::from_secs(20)).await;
    // The pool has replaced its connections: the old session works again.
    let results = server
        .push(
            &alice,
            &[create("contacts", Uuid::now_v7(), json!({"name": "After"}))],
        )
        .await;
    assert_eq!(results[0]["status"], "applied");

    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    drop(server);
    drop(store);
    drop(cluster);
}

/// A server in this process over `store`; stops when the sender is dropped or fires.
async fn serve_in_process(
    store: DynStore,
) -> (
    TestServer,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let (state, stop_streams) = AppState::new(store.clone(), Limits::default())
        .await
        .expect("state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(ferry_server::serve(listener, state, stop_streams, async {
        let _ = stopped.await;
    }));
    (TestServer::remote(base, store), stop, task)
}

fn migrate(from: &Path, to: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ferry-server"))
        .arg("migrate")
        .arg("--from")
        .arg(format!("sqlite://{}", from.display()))
        .args(["--to", to])
        .stdin(Stdio::null())
        .output()
        .expect("run ferry-server migrate")
}

#[tokio::test]
async fn migrate_moves_a_sqlite_server_to_postgres_and_its_clients_carry_on() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ferry.db");

    // A SQLite server with creates, edits, a merge, a conflict and a delete.
    let sqlite: DynStore =
        Arc::new(SqliteStore::open(&path.to_string_lossy()).expect("open sqlite"));
    common::seed(&sqlite).await;
    let (server, stop, task) = serve_in_process(sqlite.clone()).await;
    let (alice, bob) = (server.login("alice").await, server.login("bob").await);
    let ids: Vec<Uuid> = (0..30).map(|_| Uuid::now_v7()).collect();
    let creates: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let region = ["north", "south", "east"][i % 3];
            create(
                "contacts",
                *id,
                json!({"name": format!("Contact {i}"), "region": region}),
            )
        })
        .collect();
    server.push(&alice, &creates).await;
    // Row rules: carol reads the north (the demo's grant) and, through a
    // team granted later, the south; her feed holds what that brought in.
    for args in [
        &["team", "add", "south-desk"][..],
        &[
            "grant",
            "--team",
            "south-desk",
            "contacts",
            "--read",
            "--where",
            "region=south",
        ],
        &["team", "member", "south-desk", "carol"],
        &[
            "grant",
            "carol",
            "contacts",
            "--write-only",
            "--where",
            "region=east",
        ],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_ferry-server"))
            .arg("--db")
            .arg(format!("sqlite://{}", path.display()))
            .args(args)
            .output()
            .expect("run ferry-server");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let whole = Command::new(env!("CARGO_BIN_EXE_ferry-server"))
        .arg("--db")
        .arg(format!("sqlite://{}", path.display()))
        .args(["grant", "carol", "contacts", "--write-only"])
        .output()
        .expect("run ferry-server");
    assert!(!whole.status.success());
    assert!(
        String::from_utf8_lossy(&whole.stderr).contains("--write-only needs --where"),
        "{}",
        String::from_utf8_lossy(&whole.stderr)
    );
    let edits = vec![
        update(
            "contacts",
            ids[0],
            1,
            json!({"name": "Contact 0"}),
            json!({"name": "Renamed"}),
        ),
        update(
            "contacts",
            ids[1],
            1,
            json!({"email": null}),
            json!({"email": "a@example.com"}),
        ),
    ];
    let first_edits = server.push(&alice, &edits).await;
    let later = vec![
        update(
            "contacts",
            ids[1],
            1,
            json!({"phone": null}),
            json!({"phone": "123"}),
        ),
        update(
            "contacts",
            ids[0],
            1,
            json!({"name": "Contact 0"}),
            json!({"name": "Clash"}),
        ),
        delete("contacts", ids[2], 1),
        create("tasks", Uuid::now_v7(), json!({"title": "A task"})),
    ];
    let later_results = server.push(&bob, &later).await;
    let statuses: Vec<&str> = later_results
        .iter()
        .map(|r| r["status"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(statuses, ["merged", "conflict", "applied", "applied"]);
    let (changes_before, cursor_before) = server.pull_all(&alice).await;
    let carol = server.login("carol").await;
    let carols_before = server.pull_all(&carol).await;
    assert_eq!(
        carols_before.0.len(),
        20,
        "the north's and the south's ten each"
    );
    let history_before = server.history(&alice, "contacts", ids[1]).await;
    // bob's phone, made on version 1, merged with alice's email of version 2.
    let merged_from: Vec<&Value> = history_before.iter().map(|v| &v["merged_from"]).collect();
    assert_eq!(merged_from, [&Value::Null, &Value::Null, &json!(1)]);
    let _ = stop.send(());
    let _ = task.await;
    drop(server);
    // A device told to wipe, with what it said of itself.
    let bob_id = sqlite
        .user_by_name("bob")
        .await
        .expect("bob")
        .expect("exists")
        .id;
    let spare = ferry_server::store::NewDevice {
        name: "bob-spare".into(),
        platform: "linux".into(),
        app_version: "ferry-desktop 0.4.0".into(),
        ip: Some("192.0.2.9".into()),
    };
    let spare_id = sqlite
        .create_session(bob_id, &spare, &[9u8; 32])
        .await
        .expect("session");
    sqlite.revoke_device(spare_id, true).await.expect("revoke");
    let by_id = |mut d: Vec<ferry_server::store::DeviceRow>| {
        d.sort_by_key(|d| d.id);
        d
    };
    let devices_before = by_id(sqlite.devices(None).await.expect("devices"));
    sqlite.create_user("dora", "h").await.expect("dora");
    sqlite
        .update_user("dora", Some(ferry_protocol::admin::Role::Admin), Some(true))
        .await
        .expect("a disabled admin");
    sqlite
        .add_audit(ferry_server::store::NewAudit {
            actor: "admin".into(),
            device_id: Some(Uuid::now_v7()),
            ip: Some("192.0.2.1".into()),
            action: "user.disable".into(),
            target: "dora".into(),
            detail: json!({"devices_signed_out": 0}),
        })
        .await
        .expect("audit");
    let everything = ferry_server::store::AuditFilter {
        limit: 1000,
        ..Default::default()
    };
    let audit_before = sqlite.audit(everything.clone()).await.expect("audit");
    let users_before = sqlite.admin_users().await.expect("users");
    drop(sqlite);

    let out = migrate(&path, &db.url);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "migrate failed: {stderr}");
    assert!(
        stderr.contains("5 users") && stderr.contains("35 record versions of 31 records"),
        "{stderr}"
    );

    let pg: DynStore = Arc::new(
        PgStore::open(&db.url, &PgOptions::default())
            .await
            .expect("open postgres"),
    );
    // Roles, disabled users and the audit log came along.
    assert_eq!(pg.admin_users().await.expect("users"), users_before);
    assert_eq!(pg.audit(everything).await.expect("audit"), audit_before);
    let (server, stop, task) = serve_in_process(pg.clone()).await;
    // The same tokens, the same pages, the same cursor, the same history.
    let (changes_after, cursor_after) = server.pull_all(&alice).await;
    assert_eq!(changes_after, changes_before);
    assert_eq!(cursor_after, cursor_before);
    assert_eq!(
        server.pull_all(&carol).await,
        carols_before,
        "carol's rows came along"
    );
    assert_eq!(
        server.history(&bob, "contacts", ids[1]).await,
        history_before
    );
    // Mutation ids seen before are answered from memory, not applied again.
    assert_eq!(server.push(&alice, &edits).await, first_edits);
    assert_eq!(server.push(&bob, &later).await, later_results);
    assert_eq!(server.cursor(&alice).await, cursor_before);
    // Her write-only east too: she may place a contact there, and not see it.
    let east = create(
        "contacts",
        Uuid::now_v7(),
        json!({"name": "Handed east", "region": "east"}),
    );
    let placed = server.push(&carol, &[east]).await;
    assert_eq!(placed[0]["status"], "applied", "{placed:?}");
    let (carols_after, _) = server.pull_all(&carol).await;
    assert_eq!(carols_after.len(), 20, "{carols_after:?}");
    // New writes continue the sequence.
    server
        .push(
            &alice,
            &[create("contacts", Uuid::now_v7(), json!({"name": "New"}))],
        )
        .await;
    let next: i64 = server.cursor(&alice).await.parse().expect("cursor");
    assert_eq!(next, cursor_before.parse::<i64>().expect("cursor") + 2);
    // Devices too: what they said, when they were seen, the wipe.
    assert_eq!(
        by_id(pg.devices(None).await.expect("devices")),
        devices_before
    );
    // Passwords came along too.
    assert_eq!(
        server.try_login("carol", common::PASSWORD).await.status(),
        200
    );
    let _ = stop.send(());
    let _ = task.await;
    drop(server);

    // Never into a database that already holds data.
    let again = migrate(&path, &db.url);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already holds Ferry data"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    drop(pg);
    drop(db);
}
