//! The `ferry` binary against a real ferry-server on a loopback port.

#[path = "../../core/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Output;

use common::TestServer;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

async fn ferry(profile: &Path, args: &[&str], stdin: &str) -> Output {
    // Tests never touch the OS keyring.
    ferry_with(
        profile,
        args,
        stdin,
        &[
            ("FERRY_KEYRING", Some("off")),
            ("FERRY_PASSPHRASE", Some(common::PASSPHRASE)),
        ],
    )
    .await
}

/// `ferry` with some environment variables set (`Some`) or removed (`None`).
async fn ferry_with(
    profile: &Path,
    args: &[&str],
    stdin: &str,
    env: &[(&str, Option<&str>)],
) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_ferry"));
    command
        .arg("--profile")
        .arg(profile)
        .args(args)
        .env_remove("FERRY_PROFILE");
    for (name, value) in env {
        match value {
            Some(v) => command.env(name, v),
            None => command.env_remove(name),
        };
    }
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn ferry");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.as_bytes())
        .await
        .expect("write stdin");
    drop(input);
    child.wait_with_output().await.expect("ferry ran")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).trim().to_string()
}

/// Runs a command that must succeed; returns its standard output.
async fn ok(profile: &Path, args: &[&str]) -> String {
    let o = ferry(profile, args, "").await;
    assert_eq!(o.status.code(), Some(0), "ferry {args:?}: {}", stderr(&o));
    stdout(&o)
}

async fn json(profile: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&ok(profile, &all).await).expect("JSON output")
}

async fn login(server: &TestServer, profile: &Path, user: &str) {
    let o = ferry(profile, &["login", &server.url, user], "demo\n").await;
    assert_eq!(o.status.code(), Some(0), "login: {}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_against_a_real_server() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (alice, bob) = (dir.path().join("alice"), dir.path().join("bob"));

    let bad = ferry(&alice, &["login", &server.url, "alice"], "wrong\n").await;
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("wrong username or password"),
        "{}",
        stderr(&bad)
    );
    login(&server, &alice, "alice").await;
    login(&server, &bob, "bob").await;

    // create, ls, show, set, delete
    let id = ok(
        &alice,
        &[
            "create",
            "tasks",
            "title=Call the plumber",
            "status=todo",
            "priority=2",
            "due=2026-12-01",
        ],
    )
    .await;
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    let refused = ferry(&alice, &["create", "tasks", "title=x", "due=tomorrow"], "").await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("\"due\""), "{}", stderr(&refused));
    let usage = ferry(&alice, &["create", "tasks", "title"], "").await;
    assert_eq!(usage.status.code(), Some(2), "{}", stderr(&usage));
    assert_eq!(
        ferry(&alice, &["frobnicate"], "").await.status.code(),
        Some(2)
    );
    assert!(
        ok(&alice, &["ls", "tasks"])
            .await
            .contains("Call the plumber [pending]")
    );
    let outbox = json(&alice, &["outbox"]).await;
    assert_eq!(outbox.as_array().map(Vec::len), Some(1));

    // offline: sync fails clearly and changes nothing
    ok(&alice, &["offline"]).await;
    let o = ferry(&alice, &["sync"], "").await;
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("offline"), "{}", stderr(&o));
    assert_eq!(json(&alice, &["status"]).await["state"], "working offline");
    // Signing in asks to reach the server: it ends working offline, as in the app.
    login(&server, &alice, "alice").await;
    assert_eq!(json(&alice, &["status"]).await["state"], "online");

    let report = json(&alice, &["sync"]).await;
    assert_eq!(report["pushed"]["applied"], 1);
    let status = json(&alice, &["status"]).await;
    assert_eq!(
        (status["state"].as_str(), status["outbox"].as_i64()),
        (Some("online"), Some(0))
    );
    assert!(status["last_sync"].is_string() && status["cursor"].is_string());

    ok(&bob, &["sync"]).await;
    let shown = json(&bob, &["show", "tasks", &id]).await;
    assert_eq!(shown["fields"]["priority"], 2);
    assert_eq!(shown["state"], "synced");

    // both edit the title: bob gets a conflict and resolves it field by field
    ok(&alice, &["set", "tasks", &id, "title=Alice's"]).await;
    ok(&alice, &["sync"]).await;
    ok(&bob, &["set", "tasks", &id, "title=Bob's", "priority=5"]).await;
    let o = ferry(&bob, &["set", "tasks", &id, "vip=true"], "").await;
    assert_eq!(o.status.code(), Some(1), "tasks has no vip field");
    ok(&bob, &["sync"]).await;
    let conflicts = json(&bob, &["conflicts"]).await;
    assert_eq!(conflicts[0]["kind"], "edit_edit");
    assert!(
        ok(&bob, &["conflicts"])
            .await
            .contains("title: base \"Call the plumber\" · mine \"Bob's\" · theirs \"Alice's\"")
    );
    let o = ferry(&bob, &["resolve", "tasks", &id], "").await;
    assert_eq!(o.status.code(), Some(2), "a resolution must be chosen");
    ok(
        &bob,
        &["resolve", "tasks", &id, "--field", "title=value:Ours"],
    )
    .await;
    ok(&bob, &["sync"]).await;
    ok(&alice, &["sync"]).await;
    assert_eq!(
        json(&alice, &["show", "tasks", &id]).await["fields"]["title"],
        "Ours"
    );

    // search and sort
    ok(&alice, &["create", "tasks", "title=Buy milk", "priority=9"]).await;
    let page = json(&alice, &["ls", "tasks", "--search", "milk"]).await;
    assert_eq!(page["records"].as_array().map(Vec::len), Some(1));
    // Nothing found is said, on stderr, with what was asked.
    let none = ferry(&alice, &["ls", "tasks", "--search", "zebra"], "").await;
    assert_eq!(none.status.code(), Some(0));
    assert_eq!(stdout(&none), "");
    assert_eq!(stderr(&none), "no records in \"tasks\" match \"zebra\"");
    let past = ferry(&alice, &["ls", "tasks", "--offset", "5000"], "").await;
    assert_eq!(stderr(&past), "no records in \"tasks\" past --offset 5000");
    let page = json(
        &alice,
        &["ls", "tasks", "--sort", "-priority", "--limit", "1"],
    )
    .await;
    assert_eq!(page["records"][0]["fields"]["title"], "Buy milk");
    assert_eq!(page["has_more"], true);

    // export and import the outbox
    let file = dir.path().join("outbox.json");
    ok(&alice, &["export-outbox", file.to_str().expect("utf-8")]).await;
    let fresh = dir.path().join("alice2");
    login(&server, &fresh, "alice").await;
    ok(&fresh, &["import-outbox", file.to_str().expect("utf-8")]).await;
    assert_eq!(
        json(&fresh, &["outbox"]).await.as_array().map(Vec::len),
        Some(1)
    );
    ok(&fresh, &["sync"]).await;
    ok(&alice, &["sync"]).await;
    assert_eq!(
        json(&alice, &["status"]).await["outbox"],
        0,
        "the same mutation, applied once"
    );

    // delete, then logout
    ok(&alice, &["delete", "tasks", &id]).await;
    ok(&alice, &["sync"]).await;
    assert!(json(&alice, &["show", "tasks", &id]).await["deleted"].as_bool() == Some(true));
    ok(&alice, &["logout"]).await;
    let o = ferry(&alice, &["sync"], "").await;
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("ferry login"), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_database_names_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = dir.path().join("p");
    std::fs::create_dir_all(&profile).expect("dir");
    std::fs::write(profile.join("ferry.db"), vec![0x42u8; 8192]).expect("write garbage");
    let o = ferry(&profile, &["status"], "").await;
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("ferry.db") && err.contains("damaged"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("ferry sync --recover"), "{err}");

    // The way out: the damaged file is set aside (never deleted) and a fresh one made.
    let o = ferry(&profile, &["sync", "--recover"], "").await;
    let err = stderr(&o);
    assert!(err.contains("moved to"), "{err}");
    assert_eq!(
        o.status.code(),
        Some(1),
        "the account could not be read back: log in again"
    );
    assert!(err.contains("ferry login"), "{err}");
    let kept = std::fs::read_dir(&profile)
        .expect("list")
        .filter_map(Result::ok)
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("ferry.db.damaged-")
        });
    assert!(kept, "the damaged file is kept");
    ok(&profile, &["status"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_profile_is_one_line_that_names_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = dir.path().join("p");
    ok(&profile, &["offline"]).await;
    let db = profile.join("ferry.db");
    let held = ferry_core::Profile::open_with(&profile, &common::unlock()).expect("open");
    let other = held
        .store()
        .second_connection()
        .expect("another connection");
    other
        .execute_batch("BEGIN EXCLUSIVE")
        .expect("hold the write lock");
    let o = ferry(&profile, &["online"], "").await;
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&db.display().to_string()) && err.contains("another Ferry"),
        "{err}"
    );
    other.execute_batch("ROLLBACK").expect("let go");
    ok(&profile, &["online"]).await;
}

/// Without a keyring to talk to (here: a session bus that does not exist,
/// and, where dbus-daemon is installed, a session bus without a secret
/// service), login does not wait for one, and keeps the token inside the
/// encrypted database (the key from a passphrase), never in a file beside it.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_keyring_the_token_is_kept_in_the_encrypted_database_and_logout_removes_it() {
    use std::os::unix::fs::PermissionsExt;

    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let nowhere = format!("unix:path={}", dir.path().join("no-bus").display());
    let bus = SessionBus::start().await;
    let mut buses = vec![nowhere.clone()];
    buses.extend(bus.as_ref().map(|b| b.address.clone()));
    for (i, address) in buses.iter().enumerate() {
        let profile = dir.path().join(format!("p{i}"));
        let env = [
            ("FERRY_KEYRING", None),
            ("FERRY_PASSPHRASE", Some(common::PASSPHRASE)),
            ("DBUS_SESSION_BUS_ADDRESS", Some(address.as_str())),
        ];
        let started = std::time::Instant::now();
        let o = ferry_with(&profile, &["login", &server.url, "alice"], "demo\n", &env).await;
        assert_eq!(o.status.code(), Some(0), "login: {}", stderr(&o));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(15),
            "login waited {:?} for a keyring that is not there",
            started.elapsed()
        );
        let status: Value = serde_json::from_str(&stdout(
            &ferry_with(&profile, &["--json", "status"], "", &env).await,
        ))
        .expect("status JSON");
        // The database is encrypted (a passphrase, as no keyring answers): the
        // token is kept in it, never in a file beside it.
        assert_eq!(status["token_store"], "database", "{status}");
        assert_eq!(status["logged_in"], true);
        assert!(!profile.join("token").exists(), "no token file");
        let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode(&profile.join("ferry.db")), 0o600);
        assert_eq!(mode(&profile), 0o700);
        let o = ferry_with(&profile, &["sync"], "", &env).await;
        assert_eq!(o.status.code(), Some(0), "sync: {}", stderr(&o));

        let o = ferry_with(&profile, &["logout"], "", &env).await;
        assert_eq!(o.status.code(), Some(0), "logout: {}", stderr(&o));

        let status: Value = serde_json::from_str(&stdout(
            &ferry_with(&profile, &["--json", "status"], "", &env).await,
        ))
        .expect("status JSON");
        assert_eq!(
            (
                status["logged_in"].as_bool(),
                status["token_store"].is_null()
            ),
            (Some(false), true)
        );
    }
}

/// A private D-Bus session bus with no services on it, if dbus-daemon is
/// installed; stopped when dropped.
#[cfg(target_os = "linux")]
struct SessionBus {
    address: String,
    _daemon: tokio::process::Child,
}

#[cfg(target_os = "linux")]
impl SessionBus {
    async fn start() -> Option<SessionBus> {
        use tokio::io::AsyncBufReadExt;
        let mut daemon = tokio::process::Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile", "--print-address=1"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .ok()?;
        let mut lines = tokio::io::BufReader::new(daemon.stdout.take()?).lines();
        let address = tokio::time::timeout(std::time::Duration::from_secs(10), lines.next_line())
            .await
            .ok()?
            .ok()??;
        Some(SessionBus {
            address,
            _daemon: daemon,
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminal_codes_in_others_records_are_shown_escaped() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (alice, bob) = (dir.path().join("alice"), dir.path().join("bob"));
    login(&server, &alice, "alice").await;
    login(&server, &bob, "bob").await;
    // A clipboard write (OSC 52), a screen clear and a carriage return.
    let hostile = "Invoice\u{1b}]52;c;ZXZpbA==\u{7}\u{1b}[2J\rpaid";
    let id = ok(&alice, &["create", "tasks", &format!("title={hostile}")]).await;
    ok(&alice, &["sync"]).await;
    ok(&bob, &["sync"]).await;
    for args in [vec!["ls", "tasks"], vec!["show", "tasks", &id]] {
        let out = ok(&bob, &args).await;
        assert!(
            !out.contains(['\u{1b}', '\u{7}', '\r']),
            "ferry {args:?} printed terminal codes raw: {out:?}"
        );
        assert!(
            out.contains("Invoice\\u{1b}]52;c;ZXZpbA==\\u{7}\\u{1b}[2J\\u{d}paid"),
            "ferry {args:?}: {out:?}"
        );
    }
    // JSON output keeps the exact value.
    assert_eq!(
        json(&bob, &["show", "tasks", &id]).await["fields"]["title"],
        hostile
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_conflicts_show_their_parts_and_resolve_from_a_file() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (alice, bob) = (dir.path().join("alice"), dir.path().join("bob"));
    login(&server, &alice, "alice").await;
    login(&server, &bob, "bob").await;
    let notes = "Met at the fair.\nCall on Monday.\nLikes tea.\n";
    let id = ok(
        &alice,
        &[
            "create",
            "contacts",
            "name=Ada",
            &format!("notes={notes}"),
            "tags=a,later",
        ],
    )
    .await;
    ok(&alice, &["sync"]).await;
    ok(&bob, &["sync"]).await;

    // Both change notes and tags; only the second line clashes.
    let alice_notes = "Met at the fair in May.\nCall on Tuesday.\nLikes tea.\n";
    let bob_notes = "Met at the fair.\nCall on Wednesday.\nLikes green tea.\n";
    ok(
        &alice,
        &[
            "set",
            "contacts",
            &id,
            &format!("notes={alice_notes}"),
            "tags=a",
        ],
    )
    .await;
    ok(&alice, &["sync"]).await;
    ok(
        &bob,
        &[
            "set",
            "contacts",
            &id,
            &format!("notes={bob_notes}"),
            "tags=a,later,urgent",
        ],
    )
    .await;
    let report = json(&bob, &["sync"]).await;
    assert_eq!(report["pushed"]["conflicts"], 1, "{report}");
    let conflicts = json(&bob, &["conflicts"]).await;
    assert_eq!(
        conflicts[0]["fields"],
        serde_json::json!(["notes"]),
        "tags merge: {conflicts}"
    );
    assert_eq!(
        conflicts[0]["parts"]["notes"],
        serde_json::json!([
            {"clean": "Met at the fair in May.\nCall on "},
            {"clash": {"base": "Monday", "mine": "Wednesday", "theirs": "Tuesday"}},
            {"clean": ".\nLikes green tea.\n"}
        ])
    );
    let shown = ok(&bob, &["conflicts"]).await;
    assert!(
        shown.contains("notes: merged text, 1 clashing part")
            && shown.contains("| Call on \n    | <<<<<<< mine\n    | Wednesday\n    | =======\n    | Tuesday\n    | >>>>>>> theirs"),
        "{shown}"
    );

    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "Met at the fair in May.\nCall on <<<<<<< mine").expect("write");
    let arg = format!("notes=file:{}", file.display());
    let o = ferry(&bob, &["resolve", "contacts", &id, "--field", &arg], "").await;
    assert_eq!(o.status.code(), Some(2), "markers left in: {}", stderr(&o));
    assert!(stderr(&o).contains("clash markers"), "{}", stderr(&o));
    let settled = "Met at the fair in May.\nCall on Wednesday or Tuesday.\nLikes green tea.\n";
    std::fs::write(&file, settled).expect("write");
    ok(&bob, &["resolve", "contacts", &id, "--field", &arg]).await;
    ok(&bob, &["sync"]).await;
    ok(&alice, &["sync"]).await;
    let fields = &json(&alice, &["show", "contacts", &id]).await["fields"];
    assert_eq!(fields["notes"], settled);
    assert_eq!(fields["tags"], serde_json::json!(["a", "urgent"]));
}

/// `ferry import` previews, imports, refuses to import a file twice, and
/// updates by a key; `ferry export` writes what `ls` would show, as CSV.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_and_export_a_csv() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let alice = dir.path().join("alice");
    login(&server, &alice, "alice").await;
    ok(&alice, &["sync"]).await;
    let file = dir.path().join("people.csv");
    std::fs::write(
        &file,
        "Name;E-mail;Tags;Shoe\n\"Lovelace; Ada\";ada@example.org;math, poetry;38\n;nobody@example.org;;\nGrace;grace@example.org;;41\n",
    )
    .expect("write");
    let path = file.to_str().expect("path");
    let dry = ok(&alice, &["import", "contacts", path, "--dry-run"]).await;
    assert!(
        dry.contains("Name -> name") && dry.contains("Shoe (left out)"),
        "{dry}"
    );
    assert!(
        dry.contains("2 rows would be imported as new records"),
        "{dry}"
    );
    let o = ferry(&alice, &["import", "contacts", path], "").await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("Read 3 rows: 2 new, 0 updated, 0 unchanged; 1 left out."),
        "{}",
        stdout(&o)
    );
    assert!(
        stderr(&o).contains("row 2: Name is required"),
        "{}",
        stderr(&o)
    );
    let again = ferry(&alice, &["import", "contacts", path], "").await;
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("already imported"),
        "{}",
        stderr(&again)
    );

    std::fs::write(
        &file,
        "email,company\nada@example.org,Analytical Engines\nnew@example.org,\n",
    )
    .expect("write");
    let o = ferry(&alice, &["import", "contacts", path, "--key", "email"], "").await;
    // The new row has no name: it cannot be created; Ada is updated.
    assert!(stdout(&o).contains("0 new, 1 updated"), "{}", stdout(&o));

    let csv = ok(&alice, &["export", "contacts", "--search", "lovelace"]).await;
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("id,name,email,phone,company,region,notes,tags,vip,photo")
    );
    let row = lines.next().expect("a row");
    assert!(
        row.ends_with(",Lovelace; Ada,ada@example.org,,Analytical Engines,,,math; poetry,,"),
        "{row}"
    );
    assert_eq!(lines.next(), None);
    let out = dir.path().join("all.jsonl");
    let said = ok(
        &alice,
        &["export", "contacts", "-o", out.to_str().expect("path")],
    )
    .await;
    let n = std::fs::read_to_string(&out).expect("read").lines().count();
    assert!(said.contains("Exported 2 records") && n == 2, "{said}");
}

/// A record that left my view with my edit in it: `ferry conflicts` says so
/// and what to do; `ferry resolve --export` keeps the edit in a file and the
/// record leaves; the ordinary `--mine` is refused, saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_edit_is_listed_and_exported() {
    let server = TestServer::start().await;
    server
        .add_user(
            "dana",
            "contacts",
            ferry_core::protocol::Access::Write,
            &["north"],
        )
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (alice, dana) = (dir.path().join("alice"), dir.path().join("dana"));
    login(&server, &alice, "alice").await;
    login(&server, &dana, "dana").await;
    let id = ok(
        &alice,
        &["create", "contacts", "name=Nadia Nord", "region=north"],
    )
    .await;
    ok(&alice, &["sync"]).await;
    ok(&dana, &["sync"]).await;
    ok(&dana, &["set", "contacts", &id, "phone=+47 22 00 00 00"]).await;
    ok(&alice, &["set", "contacts", &id, "region=south"]).await;
    ok(&alice, &["sync"]).await;
    ok(&dana, &["sync"]).await;

    let listed = ok(&dana, &["conflicts"]).await;
    assert!(
        listed.contains("you edited a record you may no longer see or change"),
        "{listed}"
    );
    assert!(
        listed.contains("phone: last seen \"\" · mine \"+47 22 00 00 00\""),
        "{listed}"
    );
    assert!(listed.contains("--export FILE or --copy"), "{listed}");
    let refused = ferry(&dana, &["resolve", "contacts", &id, "--mine"], "").await;
    assert_ne!(refused.status.code(), Some(0));
    assert!(
        stderr(&refused).contains("you may no longer see or edit this record"),
        "{}",
        stderr(&refused)
    );

    let file = dir.path().join("nadia.json");
    let said = ok(
        &dana,
        &[
            "resolve",
            "contacts",
            &id,
            "--export",
            file.to_str().expect("path"),
        ],
    )
    .await;
    assert!(said.contains("the record left this device"), "{said}");
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("file")).expect("JSON");
    assert_eq!(saved["format"], "ferry-lost-edits-1");
    assert_eq!(saved["changes"]["phone"], "+47 22 00 00 00");
    assert_eq!(ok(&dana, &["conflicts"]).await, "no conflicts");
    let gone = ferry(&dana, &["show", "contacts", &id], "").await;
    assert_ne!(gone.status.code(), Some(0), "{}", stdout(&gone));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_detach_and_fetch_files() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (alice, bob) = (dir.path().join("alice"), dir.path().join("bob"));
    login(&server, &alice, "alice").await;
    login(&server, &bob, "bob").await;
    let (plan, photo) = (dir.path().join("plan.pdf"), dir.path().join("site.jpg"));
    std::fs::write(&plan, b"%PDF the plan").expect("write");
    std::fs::write(&photo, b"a photo of the site").expect("write");
    let id = ok(&alice, &["create", "tasks", "title=Survey"]).await;
    let id = id.trim();
    let plan_s = plan.display().to_string();
    let photo_s = photo.display().to_string();
    let out = ok(
        &alice,
        &["attach", "tasks", id, "attachments", &plan_s, &photo_s],
    )
    .await;
    assert!(
        out.contains("plan.pdf") && out.contains("waiting to be sent"),
        "{out}"
    );
    // A file field is not set as text, and a missing file is a usage error.
    let o = ferry(&alice, &["set", "tasks", id, "attachments=plan.pdf"], "").await;
    assert!(stderr(&o).contains("use `ferry attach`"), "{}", stderr(&o));
    let o = ferry(
        &alice,
        &["attach", "tasks", id, "attachments", "/nope/x.pdf"],
        "",
    )
    .await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = ferry(&alice, &["attach", "tasks", id, "title", &plan_s], "").await;
    assert!(
        stderr(&o).contains("its file fields: attachments"),
        "{}",
        stderr(&o)
    );
    ok(&alice, &["sync"]).await;

    ok(&bob, &["sync"]).await;
    let out_dir = dir.path().join("out");
    let fetched = json(
        &bob,
        &[
            "fetch",
            "tasks",
            id,
            "attachments",
            "--out",
            &out_dir.display().to_string(),
        ],
    )
    .await;
    assert_eq!(fetched.as_array().map(Vec::len), Some(2), "{fetched}");
    assert_eq!(
        std::fs::read(out_dir.join("plan.pdf")).expect("plan"),
        b"%PDF the plan"
    );
    assert_eq!(
        std::fs::read(out_dir.join("site.jpg")).expect("photo"),
        b"a photo of the site"
    );

    let left = json(&bob, &["detach", "tasks", id, "attachments", "plan.pdf"]).await;
    assert_eq!(left.as_array().map(Vec::len), Some(1));
    assert_eq!(left[0]["name"], "site.jpg");
    let o = ferry(
        &bob,
        &["detach", "tasks", id, "attachments", "plan.pdf"],
        "",
    )
    .await;
    assert!(
        stderr(&o).contains("no file \"plan.pdf\" in field \"attachments\"; it holds: site.jpg"),
        "{}",
        stderr(&o)
    );
    ok(&bob, &["sync"]).await;
    ok(&alice, &["sync"]).await;
    let text = ok(&alice, &["show", "tasks", id]).await;
    assert!(text.contains("attachments: site.jpg (19 B)"), "{text}");
    let shown = json(&alice, &["show", "tasks", id]).await;
    assert_eq!(
        shown["fields"]["attachments"].as_array().map(Vec::len),
        Some(1),
        "{shown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_file_is_said_and_sent_again_when_asked() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let alice = dir.path().join("alice");
    login(&server, &alice, "alice").await;
    let big = dir.path().join("survey.bin");
    std::fs::write(&big, vec![7u8; common::MAX_FILE as usize + 1]).expect("write");
    let id = ok(&alice, &["create", "tasks", "title=Survey"]).await;
    let id = id.trim();
    ok(
        &alice,
        &[
            "attach",
            "tasks",
            id,
            "attachments",
            &big.display().to_string(),
        ],
    )
    .await;
    let o = ferry(&alice, &["sync"], "").await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let said = stderr(&o);
    assert!(
        said.contains("a file of 50.3 MB (")
            && said.contains("could not be sent: a file may be at most 48 MB"),
        "{said}"
    );
    assert!(
        said.contains("or now with `ferry sync --retry-files`"),
        "{said}"
    );
    assert!(said.contains("1 edit(s) are still in the outbox"), "{said}");
    assert_eq!(server.upload_refusals(), 1);
    // A plain sync does not send it again; asked, it does.
    ferry(&alice, &["sync"], "").await;
    assert_eq!(server.upload_refusals(), 1);
    let o = ferry(&alice, &["sync", "--retry-files"], "").await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(server.upload_refusals(), 2);
    assert!(
        stderr(&o).contains("could not be sent: a file may be at most 48 MB"),
        "{}",
        stderr(&o)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_are_listed_and_one_signs_another_out() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (laptop, desktop) = (dir.path().join("laptop"), dir.path().join("desktop"));
    login(&server, &laptop, "alice").await;
    login(&server, &desktop, "alice").await;
    let listed = json(&laptop, &["devices"]).await;
    let listed = listed.as_array().expect("a list");
    assert_eq!(listed.len(), 2, "{listed:?}");
    let other = listed
        .iter()
        .find(|d| d["current"] == false)
        .expect("the other device");
    assert_eq!(other["platform"], std::env::consts::OS);
    assert!(
        other["app_version"]
            .as_str()
            .is_some_and(|v| v == concat!("ferry CLI ", env!("CARGO_PKG_VERSION"))),
        "{other}"
    );
    let text = ok(&laptop, &["devices"]).await;
    assert!(text.contains("(this device)"), "{text}");

    let id = other["id"].as_str().expect("id");
    let said = ok(&laptop, &["devices", "--sign-out", id]).await;
    assert!(said.contains("signed out"), "{said}");
    // The desktop hears why, and keeps its data.
    let o = ferry(&desktop, &["sync"], "").await;
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("this device was signed out"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        json(&laptop, &["devices"])
            .await
            .as_array()
            .expect("a list")
            .len(),
        1
    );
}

/// A device an administrator marked for wiping: the next command that
/// reaches the server deletes the profile's data and key, and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_told_to_wipe_deletes_its_data_and_key_and_says_why() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = dir.path().join("p");
    login(&server, &profile, "alice").await;
    ok(&profile, &["offline"]).await;
    ok(&profile, &["create", "tasks", "title=Never sent"]).await;
    ok(&profile, &["online"]).await;
    let name = server
        .store
        .devices(None)
        .await
        .expect("devices")
        .into_iter()
        .find(|d| d.username == "alice")
        .expect("alice's device")
        .name;
    server.revoke_device(&name, true).await;
    let o = ferry(&profile, &["sync"], "").await;
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("delete its Ferry data") && err.contains("1 unsent edit(s) discarded"),
        "{err}"
    );
    let left = common::file_names(&profile);
    assert!(
        !left
            .iter()
            .any(|n| n.starts_with("ferry.db") || n == "encryption.json" || n == "token"),
        "left behind: {left:?}"
    );
    // Starting over works.
    let o = ferry(&profile, &["login", &server.url, "alice"], "demo\n").await;
    assert_eq!(o.status.code(), Some(0), "login again: {}", stderr(&o));
}

#[tokio::test]
async fn output_into_a_closed_pipe_ends_quietly() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = dir.path().join("p");
    login(&server, &profile, "alice").await;
    ok(&profile, &["sync"]).await;
    // As `ferry status | head -0`: the reader is gone before the first line.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
        .arg("--profile")
        .arg(&profile)
        .arg("status")
        .env("FERRY_KEYRING", "off")
        .env("FERRY_PASSPHRASE", common::PASSPHRASE)
        .env_remove("FERRY_PROFILE")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.trim().is_empty(), "nothing said: {stderr}");
}
