//! The `ferry-server` binary as a child process on a SQLite file or a
//! PostgreSQL database, with the demo schema and users, its standard error
//! (the logs) kept for the test to read. It can be killed with SIGKILL and
//! started again on the same port.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::tool;

pub struct ServerProcess {
    pub url: String,
    pub port: u16,
    /// The database URL (`sqlite://…` or `postgres://…`).
    db: String,
    child: Child,
    logs: Arc<Mutex<Vec<u8>>>,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs an administration command (`user add`, `grant`, `seed-demo`) on
/// `db` with `stdin` as its input; panics with its error output if it fails.
pub fn admin(db: &Path, args: &[&str], stdin: &str) {
    admin_on(&sqlite_url(db), args, stdin);
}

/// [`admin`] on the database `url` names.
pub fn admin_on(url: &str, args: &[&str], stdin: &str) {
    use std::io::Write;
    let mut child = Command::new(tool("ferry-server"))
        .arg("--db")
        .arg(url)
        .args(args)
        .env_remove("FERRY_DB")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ferry-server");
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(stdin.as_bytes());
    }
    let out = child.wait_with_output().expect("ferry-server ran");
    assert!(
        out.status.success(),
        "ferry-server {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The demo schema, users (password "demo") and records.
pub fn seed_demo(db: &Path) {
    admin(db, &["seed-demo"], "");
}

/// [`seed_demo`] on the database `url` names.
pub fn seed_demo_on(url: &str) {
    admin_on(url, &["seed-demo"], "");
}

fn sqlite_url(db: &Path) -> String {
    format!("sqlite://{}", db.display())
}

impl ServerProcess {
    /// Serves the SQLite file `db` on a free loopback port (`port` 0) or on `port`.
    pub fn start(db: &Path, port: u16) -> ServerProcess {
        ServerProcess::start_on(&sqlite_url(db), port)
    }

    /// Serves the database `url` names (`sqlite://…` or `postgres://…`).
    pub fn start_on(db: &str, port: u16) -> ServerProcess {
        let mut child = Command::new(tool("ferry-server"))
            .arg("--db")
            .arg(db)
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .args(["--metrics-listen", "off"])
            .env_remove("FERRY_DB")
            .env_remove("FERRY_LISTEN")
            // Everything the server would ever log, to check none of it is a secret.
            .env("FERRY_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ferry-server");
        let logs = Arc::new(Mutex::new(Vec::new()));
        if let Some(mut stderr) = child.stderr.take() {
            let logs = logs.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = stderr.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if let Ok(mut l) = logs.lock() {
                        l.extend_from_slice(&buf[..n]);
                    }
                }
            });
        }
        let stdout = child.stdout.take().expect("server stdout");
        let mut line = String::new();
        let mut reader = BufReader::new(stdout);
        let started = reader.read_line(&mut line).is_ok_and(|n| n > 0);
        if !started {
            let _ = child.kill();
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(100));
            panic!(
                "ferry-server did not start: {}",
                String::from_utf8_lossy(&logs.lock().map(|l| l.clone()).unwrap_or_default())
            );
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while reader.read_line(&mut sink).is_ok_and(|n| n > 0) {
                sink.clear();
            }
        });
        let url = line
            .trim()
            .rsplit(' ')
            .next()
            .filter(|u| u.starts_with("http://"))
            .unwrap_or_else(|| panic!("unexpected first line from ferry-server: {line:?}"))
            .to_string();
        let port = url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {url}"));
        ServerProcess {
            url,
            port,
            db: db.to_string(),
            child,
            logs,
        }
    }

    /// SIGKILL: no shutdown, no flush beyond what the server already made durable.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// After [`kill9`](Self::kill9): the same database on the same port. The
    /// port was ours a moment ago; retry briefly while the OS lets it go.
    pub fn restart(&mut self) {
        self.kill9();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if std::net::TcpListener::bind(("127.0.0.1", self.port)).is_ok() {
                break;
            }
            assert!(Instant::now() < deadline, "port {} stays busy", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
        let fresh = ServerProcess::start_on(&self.db, self.port);
        let old = std::mem::replace(self, fresh);
        // The old logs come first.
        if let (Ok(old_logs), Ok(mut new_logs)) = (old.logs.lock(), self.logs.lock()) {
            let mut all = old_logs.clone();
            all.extend_from_slice(&new_logs);
            *new_logs = all;
        }
    }

    /// Everything the server logged so far.
    pub fn logs(&self) -> String {
        let bytes = self.logs.lock().map(|l| l.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}
