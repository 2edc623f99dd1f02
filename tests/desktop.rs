//! The desktop app end to end, through its real webview: `tauri-driver` with
//! WebKitWebDriver under Xvfb, the built `ferry-desktop`, a real
//! `ferry-server` and the `ferry` CLI as a second client.
//!
//! Needs `tauri-driver`, `WebKitWebDriver` and `Xvfb` (`make deps` installs
//! them) and the `ferry-server` and `ferry` binaries built next to this test
//! (`make test` builds them first). Set `FERRY_SKIP_DESKTOP_E2E=1` to skip.
#![cfg(target_os = "linux")] // WebKitWebDriver is Linux only.

use std::io::Write;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const PATIENCE: Duration = Duration::from_secs(30);
/// The app runs without a keyring here, so its data is encrypted with this.
const PASSPHRASE: &str = "correct horse battery staple";

/// A child process killed when the test ends, however it ends.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Xvfb, asked to stop (SIGTERM) so it removes its lock and socket: a
/// killed one leaves them, and later displays start beside stale ones.
struct XvfbGuard(Child);

impl Drop for XvfbGuard {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A child started as the leader of its own process group, killed with the
/// whole group when the test ends: tauri-driver starts WebKitWebDriver, which
/// starts the app, and neither would die with tauri-driver alone.
struct GroupGuard(Child);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `target/<profile>/`, where Cargo put the workspace binaries.
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf()
}

fn tool(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: build it first (`cargo build -p ferry-server -p ferry-cli`, as `make test` does)",
        path.display()
    );
    path
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let home_bin = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin").join(name));
    std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .chain(home_bin)
        .find(|p| p.exists())
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An Xvfb display of our own, unless one is already set.
fn display() -> (String, Option<XvfbGuard>) {
    if let Ok(d) = std::env::var("DISPLAY")
        && !d.is_empty()
    {
        return (d, None);
    }
    for n in 90..200 {
        if Path::new(&format!("/tmp/.X{n}-lock")).exists() {
            continue;
        }
        let child = Command::new("Xvfb")
            .args([
                format!(":{n}").as_str(),
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start Xvfb (apt-get install xvfb)");
        let guard = XvfbGuard(child);
        let socket = format!("/tmp/.X11-unix/X{n}");
        wait_until("Xvfb", || Path::new(&socket).exists());
        return (format!(":{n}"), Some(guard));
    }
    panic!("no free X display number");
}

/// The `ferry` CLI on its own profile.
struct Cli {
    bin: PathBuf,
    profile: PathBuf,
}

impl Cli {
    fn run(&self, args: &[&str], stdin: Option<&str>) -> (bool, String) {
        let mut child = Command::new(&self.bin)
            .arg("--profile")
            .arg(&self.profile)
            .args(args)
            .env("FERRY_KEYRING", "off")
            .env("FERRY_PASSPHRASE", PASSPHRASE)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run ferry");
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input.as_bytes())
                .expect("write stdin");
        }
        let out = child.wait_with_output().expect("ferry output");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    fn ok(&self, args: &[&str]) -> String {
        let (ok, text) = self.run(args, None);
        assert!(ok, "ferry {args:?} failed: {text}");
        text
    }

    /// Syncs until the server's task `id` has `value` in `field`.
    /// The id of the task whose title matches `search`, once the server has it.
    fn until_listed(&self, search: &str) -> String {
        let start = Instant::now();
        loop {
            self.ok(&["sync"]);
            let listed: Value =
                serde_json::from_str(&self.ok(&["ls", "tasks", "--search", search, "--json"]))
                    .expect("ls json");
            if let Some(id) = listed["records"]
                .as_array()
                .and_then(|a| a.first())
                .and_then(|r| r["id"].as_str())
            {
                return id.to_string();
            }
            assert!(
                start.elapsed() < PATIENCE,
                "the server never got a task matching {search:?}: {listed}"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    fn until_server_has(&self, id: &str, field: &str, value: &str) {
        let start = Instant::now();
        loop {
            self.ok(&["sync"]);
            let shown: Value = serde_json::from_str(&self.ok(&["show", "tasks", id, "--json"]))
                .expect("show json");
            if shown["fields"][field] == json!(value) {
                return;
            }
            assert!(
                start.elapsed() < PATIENCE,
                "the server never got {field} = {value:?}: {shown}"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

/// A W3C WebDriver session, spoken over plain HTTP.
struct Driver {
    http: reqwest::blocking::Client,
    base: String,
    /// The X display the app runs on.
    display: String,
}

impl Driver {
    fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method, &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().unwrap_or_else(|e| panic!("{url}: {e}"));
        let v: Value = resp.json().unwrap_or_else(|e| panic!("{url}: {e}"));
        v["value"].clone()
    }

    fn find(&self, css: &str) -> Option<String> {
        let v = self.call(
            reqwest::Method::POST,
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        // An element reference; an error ("no such element") is an object too.
        if v.get("error").is_some() {
            return None;
        }
        v.as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    fn wait(&self, css: &str) -> String {
        let start = Instant::now();
        loop {
            if let Some(id) = self.find(css) {
                return id;
            }
            if start.elapsed() > PATIENCE {
                self.screenshot("timeout");
                panic!("timed out waiting for {css}");
            }
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    fn click(&self, css: &str) {
        let id = self.wait(css);
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        );
    }

    fn clear_and_type(&self, css: &str, text: &str) {
        let id = self.wait(css);
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/clear"),
            Some(json!({})),
        );
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        );
    }

    /// Types into a field until it holds `text`: keys sent while the
    /// window is still starting up can be lost.
    fn fill(&self, css: &str, text: &str) {
        let read = format!(
            "return document.querySelector({}).value",
            serde_json::to_string(css).unwrap_or_default()
        );
        self.wait_for(&format!("{css} to hold {text:?}"), |d| {
            d.clear_and_type(css, text);
            d.eval(&read).as_str() == Some(text)
        });
    }

    fn go_offline(&self) {
        self.click("[data-testid=work-offline]");
        self.wait_for("offline", |d| {
            d.attr("[data-testid=status]", "data-state").as_deref() == Some("offline")
        });
    }

    /// Waits for the one conflict, opens it (from the badge, then from the
    /// list if the badge shows the list) and waits for `shown` in its dialog.
    fn open_the_conflict(&self, shown: &str) {
        self.wait_for("the conflict badge", |d| {
            d.find("[data-testid=conflicts-badge]").is_some()
                && d.text("[data-testid=conflicts-badge]").trim() == "1"
        });
        self.click("[data-testid=conflicts-badge]");
        self.wait_for("the conflict dialog or list", |d| {
            d.find("[data-testid=conflict-dialog]").is_some()
                || d.find("[data-testid=conflict-item]").is_some()
        });
        if self.find("[data-testid=conflict-dialog]").is_none() {
            self.click("[data-testid=conflict-item]");
        }
        self.wait(shown);
        // Let the dialog finish fading in, for the screenshot.
        std::thread::sleep(Duration::from_millis(400));
    }

    /// Sets a field's value as typing would (line breaks included), until it holds `text`.
    fn set_value(&self, css: &str, text: &str) {
        let (css_json, text_json) = (
            serde_json::to_string(css).unwrap_or_default(),
            serde_json::to_string(text).unwrap_or_default(),
        );
        let script = format!(
            "const e = document.querySelector({css_json}); if (!e) return null; e.value = {text_json}; \
             e.dispatchEvent(new Event('input', {{bubbles: true}})); return e.value"
        );
        self.wait_for(&format!("{css} to hold {text:?}"), |d| {
            d.eval(&script).as_str() == Some(text)
        });
    }

    fn text(&self, css: &str) -> String {
        let id = self.wait(css);
        self.call(reqwest::Method::GET, &format!("/element/{id}/text"), None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn attr(&self, css: &str, name: &str) -> Option<String> {
        let id = self.find(css)?;
        self.call(
            reqwest::Method::GET,
            &format!("/element/{id}/attribute/{name}"),
            None,
        )
        .as_str()
        .map(str::to_string)
    }

    fn eval(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    /// Opens the one record of `collection` that `search` finds.
    fn open_alone(&self, collection: &str, search: &str) {
        self.click(&format!("[data-testid=collection-{collection}]"));
        self.fill("[data-testid=search]", search);
        self.wait_for("the record alone in the list", |d| {
            d.eval("return document.querySelectorAll('[data-testid=row]').length")
                .as_u64()
                == Some(1)
        });
        self.click("[data-testid=row]");
    }

    fn wait_for(&self, what: &str, mut f: impl FnMut(&Driver) -> bool) {
        let start = Instant::now();
        while !f(self) {
            if start.elapsed() > PATIENCE {
                self.screenshot("timeout");
                panic!("timed out waiting for {what}");
            }
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    /// Saves a PNG under test-artifacts/desktop/ for a person to look at.
    /// The screen as the user sees it, window and all. Taken from the X
    /// display: WebKitWebDriver's own screenshot waits about a minute for a
    /// compositor frame that a software-painted webview never produces.
    fn screenshot(&self, name: &str) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-artifacts/desktop");
        let _ = std::fs::create_dir_all(&dir);
        let _ = Command::new("import")
            .args(["-display", &self.display, "-window", "root"])
            .arg(dir.join(format!("{name}.png")))
            .stderr(Stdio::null())
            .status();
    }
}

#[test]
fn sign_in_edit_offline_conflict_and_resolve_in_the_real_app() {
    if std::env::var_os("FERRY_SKIP_DESKTOP_E2E").is_some() {
        eprintln!("skipped: FERRY_SKIP_DESKTOP_E2E is set");
        return;
    }
    let tauri_driver = find_on_path("tauri-driver").expect(
        "tauri-driver is not installed: run `make deps` (cargo install tauri-driver --locked)",
    );
    let native = find_on_path("WebKitWebDriver")
        .expect("WebKitWebDriver is missing: apt-get install webkit2gtk-driver");
    let tmp = tempfile::tempdir().expect("tempdir");

    // The server, seeded with the demo data.
    let server_bin = tool("ferry-server");
    let db = format!("sqlite://{}", tmp.path().join("server.db").display());
    let seeded = Command::new(&server_bin)
        .args(["--db", &db, "seed-demo"])
        .output()
        .expect("seed");
    assert!(
        seeded.status.success(),
        "{}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let _server = Guard(
        Command::new(&server_bin)
            .args([
                "--db",
                &db,
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--metrics-listen",
                "off",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ferry-server"),
    );
    let http = reqwest::blocking::Client::new();
    wait_until("the server", || {
        http.get(format!("{url}/v1/health"))
            .send()
            .is_ok_and(|r| r.status().is_success())
    });

    // Bob, on the command line.
    let bob = Cli {
        bin: tool("ferry"),
        profile: tmp.path().join("bob"),
    };
    let (ok, text) = bob.run(&["login", &url, "bob"], Some("demo\n"));
    assert!(ok, "bob's login: {text}");
    bob.ok(&["sync"]);

    // The app, through tauri-driver.
    let (display, _xvfb) = display();
    let driver_port = free_port();
    let native_port = free_port();
    let _driver = GroupGuard(
        Command::new(&tauri_driver)
            .process_group(0)
            .args([
                "--port",
                &driver_port.to_string(),
                "--native-port",
                &native_port.to_string(),
                "--native-driver",
            ])
            .arg(&native)
            .env("DISPLAY", &display)
            .env("FERRY_PROFILE", tmp.path().join("alice"))
            // No keyring and no passphrase given: the app asks for one.
            .env("FERRY_KEYRING", "off")
            .env_remove("FERRY_PASSPHRASE")
            .env("FERRY_DEMO_URL", "http://127.0.0.1:9")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tauri-driver"),
    );
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    let driver_url = format!("http://127.0.0.1:{driver_port}");
    wait_until("tauri-driver", || {
        http.get(format!("{driver_url}/status")).send().is_ok()
    });
    let app = env!("CARGO_BIN_EXE_ferry-desktop");
    let created: Value = http
        .post(format!("{driver_url}/session"))
        .json(&json!({"capabilities": {"alwaysMatch": {"tauri:options": {"application": app}}}}))
        .send()
        .expect("new session")
        .json()
        .expect("session json");
    let session = created["value"]["sessionId"]
        .as_str()
        .unwrap_or_else(|| panic!("no session: {created}"))
        .to_string();
    let d = Driver {
        http,
        base: format!("{driver_url}/session/{session}"),
        display: display.clone(),
    };

    // A new profile without a keyring: a passphrase is chosen first.
    d.wait("[data-testid=passphrase-screen]");
    d.fill("#passphrase", PASSPHRASE);
    d.fill("#passphrase-again", PASSPHRASE);
    d.screenshot("choose-passphrase");
    d.click("[data-testid=unlock]");

    // Sign in as alice.
    d.wait("#server");
    d.fill("#server", &url);
    d.fill("#username", "alice");
    d.fill("#password", "demo");
    d.screenshot("connect");
    d.click("[data-testid=connect]");
    d.wait_for("the tasks list", |d| {
        d.click("[data-testid=collection-tasks]");
        d.eval("return document.querySelector('main h1, h1')?.textContent")
            .as_str()
            == Some("Tasks")
    });
    d.wait("[data-testid=row]");
    d.wait_for("online", |d| {
        d.attr("[data-testid=status]", "data-state").as_deref() == Some("online")
    });
    // More tasks than one window of rows: the list counts them with a command of its own.
    d.wait_for("the list's count", |d| {
        let shown = d.text("[data-testid=collection-tasks]");
        d.attr("[data-testid=record-list]", "data-total")
            .is_some_and(|t| t.parse::<u32>().is_ok_and(|n| n > 100) && shown.contains(&t))
    });
    // Taken once counted: before, the rows can be there with the count still 0.
    d.screenshot("list");

    // Create a task and edit it.
    d.click("[data-testid=new-record]");
    d.fill("[data-field=title]", "Desktop end-to-end task");
    d.click("[data-testid=save]");
    // On the server itself: the pending count can read 0 before the save lands.
    let id = bob.until_listed("Desktop end-to-end");
    d.fill("[data-field=title]", "Desktop task, edited");
    d.click("[data-testid=save]");
    d.wait_for("the edit to reach the server", |d| {
        d.attr("[data-testid=pending-count]", "data-count")
            .as_deref()
            == Some("0")
    });

    // Offline in the app, bob edits the same field, back online: a conflict.
    d.go_offline();
    d.fill("[data-field=title]", "Alice's title");
    d.click("[data-testid=save]");
    bob.ok(&["sync"]);
    bob.ok(&["set", "tasks", &id, "title=Bob's title"]);
    bob.ok(&["sync"]);
    d.click("[data-testid=work-offline]");
    d.open_the_conflict("[data-testid=conflict-dialog]");
    d.screenshot("conflict");
    d.click("[data-testid=choose-mine-title]");
    d.click("[data-testid=resolve]");
    bob.until_server_has(&id, "title", "Alice's title");
    d.screenshot("resolved");

    // A text conflict, settled part by part: both change two words of the
    // notes, and alice the first line too, which merges by itself.
    d.open_alone("tasks", "Alice's title");
    d.set_value(
        "[data-field=notes]",
        "Bring the ladder.\nCall on Monday.\nPay cash.\n",
    );
    d.click("[data-testid=save]");
    // On the server itself: the pending count can still read 0 from before
    // the save, and going offline then would keep both edits in one entry.
    bob.until_server_has(
        &id,
        "notes",
        "Bring the ladder.\nCall on Monday.\nPay cash.\n",
    );
    d.wait_for("alice to store the answer", |d| {
        d.attr("[data-testid=pending-count]", "data-count")
            .as_deref()
            == Some("0")
    });
    d.go_offline();
    d.set_value(
        "[data-field=notes]",
        "Bring the long ladder.\nCall on Tuesday.\nPay cheque.\n",
    );
    d.click("[data-testid=save]");
    bob.ok(&["sync"]);
    bob.ok(&[
        "set",
        "tasks",
        &id,
        "notes=Bring the ladder.\nCall on Wednesday.\nPay card.\n",
    ]);
    bob.ok(&["sync"]);
    d.click("[data-testid=work-offline]");
    d.open_the_conflict("[data-testid=part-notes-2]");
    d.screenshot("text-conflict");
    d.click("[data-testid=part-notes-1-mine]");
    d.click("[data-testid=part-notes-2-theirs]");
    d.click("[data-testid=resolve]");
    bob.until_server_has(
        &id,
        "notes",
        "Bring the long ladder.\nCall on Tuesday.\nPay card.\n",
    );

    // Import a CSV in the real app: the collection's Import…, a typed path,
    // the preview with its guessed mapping and a row left out, then the
    // new contacts in the list and, after the sync, on the server.
    let csv = tmp.path().join("people.csv");
    std::fs::write(
        &csv,
        "Name,E-mail,Shoe size\n\"Imported, Ada\",ada@import.example,38\n,nobody@import.example,\nImported Grace,grace@import.example,41\n",
    )
    .expect("write the CSV");
    d.click("[data-testid=collection-contacts]");
    d.click("[data-testid=open-import]");
    d.fill("[data-testid=import-path]", &csv.display().to_string());
    d.click("[data-testid=import-open]");
    d.wait_for("the preview of 3 rows, 2 to import", |d| {
        d.find("[data-testid=import-summary]")
            .is_some_and(|_| d.text("[data-testid=import-summary]").contains('2'))
            && d.find("[data-testid=import-problems]").is_some()
    });
    d.screenshot("import-preview");
    d.click("[data-testid=import-start]");
    d.wait("[data-testid=import-result]");
    d.screenshot("import-done");
    d.click("[data-testid=import-close]");
    d.fill("[data-testid=search]", "Imported");
    d.wait_for("the two imported contacts in the list", |d| {
        d.eval("return document.querySelectorAll('[data-testid=row]').length")
            .as_u64()
            == Some(2)
    });
    d.wait_for("the import to reach the server", |d| {
        d.attr("[data-testid=pending-count]", "data-count")
            .as_deref()
            == Some("0")
    });
    bob.ok(&["sync"]);
    let found = bob.ok(&["ls", "contacts", "--search", "Imported"]);
    assert!(
        found.contains("Imported, Ada") && found.contains("Imported Grace"),
        "bob sees the imported contacts: {found}"
    );

    // A photo dropped on the task's attachments in the real app: the
    // shell's drop event (as the system sends it, with the file's path),
    // the app copies it in, shows its thumbnail, sends it before the
    // change; bob fetches the same bytes.
    let photo = tmp.path().join("site.png");
    image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 5) as u8, 160])
    })
    .save(&photo)
    .expect("write the photo");
    d.open_alone("tasks", "Alice's title");
    // The field hears the shell's drops once its listener is registered.
    d.wait("[data-file-field=attachments][data-drop-ready=true]");
    let dropped = d.eval(&format!(
        "const f = document.querySelector('[data-file-field=attachments]');
         f.scrollIntoView();
         const r = f.getBoundingClientRect(), s = window.devicePixelRatio || 1;
         return window.__TAURI_INTERNALS__.invoke('plugin:event|emit', {{
           event: 'tauri://drag-drop',
           payload: {{ paths: [{path}], position: {{ x: (r.x + r.width / 2) * s, y: (r.y + r.height / 2) * s }} }}
         }}).then(() => 'dropped');",
        path = json!(photo.display().to_string())
    ));
    assert_eq!(dropped, json!("dropped"), "the drop event: {dropped}");
    d.wait_for("the photo sent, with its thumbnail", |d| {
        d.find("[data-file='site.png'] img.thumb").is_some()
            && d.text("[data-file='site.png']").contains("Sent")
    });
    d.wait_for("the change naming it sent after it", |d| {
        d.text("[data-testid=record-state]") == "Synced"
    });
    d.screenshot("file-attached");
    bob.ok(&["sync"]);
    let out = tmp.path().join("bob-files");
    bob.ok(&[
        "fetch",
        "tasks",
        &id,
        "attachments",
        "--out",
        &out.display().to_string(),
    ]);
    assert_eq!(
        std::fs::read(out.join("site.png")).expect("bob's copy"),
        std::fs::read(&photo).expect("the photo"),
        "bob fetched the bytes alice dropped"
    );

    // Settings → Security: encrypted, the key from the passphrase; and no
    // file of the profile holds a task's title, or a picture (the dropped
    // photo and its thumbnail are sealed).
    d.click("[data-testid=open-settings]");
    d.wait_for("the Security section", |d| {
        d.text("[data-testid=security-encryption]")
            .starts_with("Encrypted (AES-256, SQLCipher 4")
            && d.text("[data-testid=security-key]")
                .contains("from your passphrase")
    });
    d.screenshot("settings-security");
    let mut pending = vec![tmp.path().join("alice")];
    let mut seen = 0;
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("the profile") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            seen += 1;
            let bytes = std::fs::read(&path).expect("read");
            for (what, plain) in [
                ("a task's title", &b"Desktop end-to-end task"[..]),
                ("a PNG picture", &b"\x89PNG\r\n\x1a\n"[..]),
            ] {
                assert!(
                    !bytes.windows(plain.len()).any(|w| w == plain),
                    "{} holds {what} in plain text",
                    path.display()
                );
            }
        }
    }
    assert!(seen > 3, "the profile's files were read ({seen})");

    let _ = d.eval("return document.title");
    let _ = d.http.delete(&d.base).send();
}
