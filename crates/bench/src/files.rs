//! Attached files (`ferry-bench files`): 200 files of 1 MB and one file of
//! 200 MB sent (`ferry sync`) and fetched (`ferry fetch`) by the real `ferry`
//! client against a server on loopback whose files live on the same disk,
//! each against a plain `cp` of the same bytes measured in the same run
//! (target: at least 0.5x `cp`'s throughput), with the client's peak
//! memory during the 200 MB transfers (target: under 100 MB); and paging
//! through 10,000 records that hold images against 10,000 that do not
//! (target: as fast, within noise).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use ferry_core::LocalStore;
use ferry_protocol::{Access, Collection, Field, FieldType, Fields, Policy};
use ferry_server::store::sqlite::SqliteStore;
use ferry_server::{AppState, Limits, demo};
use serde_json::{Value, json};

use crate::dataset::{ms, ratio};

const MB: usize = 1024 * 1024;

fn ferry_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let bin = exe.with_file_name("ferry");
    if !bin.is_file() {
        bail!(
            "{} is missing: build it first (make bench-files)",
            bin.display()
        );
    }
    Ok(bin)
}

/// Runs `ferry` on `profile`; returns its wall time and peak resident memory (bytes).
fn ferry(profile: &Path, args: &[&str], stdin: &str) -> anyhow::Result<(Duration, u64, String)> {
    let start = Instant::now();
    let mut child = Command::new(ferry_binary()?)
        .arg("--profile")
        .arg(profile)
        .args(args)
        // Encrypted as a laptop without a keyring is: the database, and
        // the files kept, sealed under a key from this passphrase.
        .env("FERRY_KEYRING", "off")
        .env("FERRY_PASSPHRASE", "files bench passphrase")
        .env_remove("FERRY_ENCRYPTION")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut input) = child.stdin.take() {
        use std::io::Write;
        input.write_all(stdin.as_bytes())?;
    }
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    loop {
        // VmHWM: the process's peak resident set so far.
        if let Ok(status) = std::fs::read_to_string(&status_path)
            && let Some(kb) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak = peak.max(kb * 1024);
        }
        if child.try_wait()?.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output()?;
    let took = start.elapsed();
    if !out.status.success() {
        bail!("ferry {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok((
        took,
        peak,
        String::from_utf8_lossy(&out.stdout).into_owned(),
    ))
}

fn cp(from: &[PathBuf], to: &Path) -> anyhow::Result<Duration> {
    std::fs::create_dir_all(to)?;
    let start = Instant::now();
    let status = Command::new("cp").args(from).arg(to).status()?;
    if !status.success() {
        bail!("cp failed");
    }
    Ok(start.elapsed())
}

/// `cp` and then `sync` of the copies: the same bytes made durable, as the
/// server makes an upload and the client a download before saying done.
fn cp_synced(from: &[PathBuf], to: &Path) -> anyhow::Result<Duration> {
    std::fs::create_dir_all(to)?;
    let start = Instant::now();
    let status = Command::new("cp").args(from).arg(to).status()?;
    let copies: Vec<PathBuf> = from
        .iter()
        .filter_map(|f| f.file_name().map(|n| to.join(n)))
        .collect();
    let synced = Command::new("sync").args(&copies).status()?;
    if !status.success() || !synced.success() {
        bail!("cp or sync failed");
    }
    Ok(start.elapsed())
}

/// SHA-256 of the files on one core, read from the page cache as `cp`
/// reads them: the check every transfer makes of every byte it receives
/// (the server of an upload, the client of a download), one file's bytes
/// in order.
fn sha256(from: &[PathBuf]) -> anyhow::Result<Duration> {
    use sha2::Digest;
    use std::io::Read;
    let mut buf = vec![0u8; MB];
    let start = Instant::now();
    for path in from {
        let mut file = std::fs::File::open(path)?;
        let mut hasher = sha2::Sha256::new();
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        std::hint::black_box(hasher.finalize());
    }
    Ok(start.elapsed())
}

fn write_files(dir: &Path, count: usize, size: usize, seed: u8) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    (0..count)
        .map(|i| {
            let path = dir.join(format!("file{i:03}.bin"));
            let bytes: Vec<u8> = (0..size)
                .map(|j| ((j / 3 + i) % 251) as u8 ^ seed)
                .collect();
            std::fs::write(&path, bytes)?;
            Ok(path)
        })
        .collect()
}

fn mb_per_s(bytes: usize, d: Duration) -> f64 {
    (bytes as f64 / MB as f64) / d.as_secs_f64().max(1e-9)
}

/// One case: attach `files` to a new task as alice, send them, fetch them as bob.
fn case(
    base: &str,
    dir: &Path,
    name: &str,
    files: &[PathBuf],
    bytes: usize,
) -> anyhow::Result<Value> {
    let alice = dir.join(format!("{name}-alice"));
    let bob = dir.join(format!("{name}-bob"));
    ferry(&alice, &["login", base, "alice"], "demo\n")?;
    ferry(&bob, &["login", base, "bob"], "demo\n")?;
    let (_, _, id) = ferry(&alice, &["create", "tasks", &format!("title={name}")], "")?;
    let id = id.trim().to_string();
    let mut attach = vec!["attach", "tasks", id.as_str(), "attachments"];
    let paths: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    attach.extend(paths.iter().map(String::as_str));
    let (attached, _, _) = ferry(&alice, &attach, "")?;
    let (up, up_peak, _) = ferry(&alice, &["sync"], "")?;
    // The fixed cost of a run: a sync with nothing to send.
    let (idle, _, _) = ferry(&alice, &["sync"], "")?;
    ferry(&bob, &["sync"], "")?;
    let out = dir.join(format!("{name}-fetched"));
    let out_arg = out.display().to_string();
    let (down, down_peak, _) = ferry(
        &bob,
        &["fetch", "tasks", &id, "attachments", "--out", &out_arg],
        "",
    )?;
    let copied = cp(files, &dir.join(format!("{name}-cp")))?;
    let cp_rate = mb_per_s(bytes, copied);
    let durable = cp_synced(files, &dir.join(format!("{name}-cp-synced")))?;
    let durable_rate = mb_per_s(bytes, durable);
    let hash_rate = mb_per_s(bytes, sha256(files)?);
    Ok(json!({
        "files": files.len(),
        "bytes": bytes,
        "cp_ms": ms(copied),
        "cp_mb_per_s": cp_rate,
        "cp_synced_ms": ms(durable),
        "cp_synced_mb_per_s": durable_rate,
        "sha256_mb_per_s": hash_rate,
        "sha256_vs_cp": ratio(hash_rate, cp_rate),
        "upload_vs_cp_synced": ratio(mb_per_s(bytes, up), durable_rate),
        "download_vs_cp_synced": ratio(mb_per_s(bytes, down), durable_rate),
        "attach_ms": ms(attached),
        "idle_sync_ms": ms(idle),
        "upload_ms": ms(up),
        "upload_mb_per_s": mb_per_s(bytes, up),
        "upload_vs_cp": ratio(mb_per_s(bytes, up), cp_rate),
        "download_ms": ms(down),
        "download_mb_per_s": mb_per_s(bytes, down),
        "download_vs_cp": ratio(mb_per_s(bytes, down), cp_rate),
        "upload_peak_rss_mb": up_peak as f64 / MB as f64,
        "download_peak_rss_mb": down_peak as f64 / MB as f64,
    }))
}

fn list_collection(name: &str, with_files: bool) -> Collection {
    let mut fields = vec![
        Field::new("title", FieldType::Text),
        Field::new("notes", FieldType::Longtext),
    ];
    if with_files {
        fields.push(Field {
            accept: Some(vec!["image/*".into()]),
            ..Field::new("photo", FieldType::File)
        });
    }
    Collection {
        name: name.into(),
        label: name.into(),
        title_field: "title".into(),
        policy: Policy::Manual,
        access: Access::Write,
        fields,
        rows: None,
        fetch_files: None,
    }
}

/// Paging through 10,000 records, 100 at a time as the list does, with
/// and without an image in each.
fn list(dir: &Path) -> anyhow::Result<Value> {
    let store = LocalStore::open(&dir.join("list.db"))?;
    store.replace_schema(&[
        list_collection("plain", false),
        list_collection("photos", true),
        list_collection("wordy", false),
    ])?;
    for i in 0..10_000 {
        let mut f = Fields::new();
        f.insert("title".into(), json!(format!("Record {i:05}")));
        f.insert("notes".into(), json!("Checked on site; all in order."));
        store.create("plain", f.clone())?;
        let photo = json!([{"sha256": format!("{:064x}", i), "name": format!("site-{i}.jpg"), "size": 2_400_000, "mime": "image/jpeg"}]);
        // The control: as many more bytes, as text rather than a file.
        let mut wordy = f.clone();
        let pad = serde_json::to_string(&photo)?.len();
        wordy.insert(
            "notes".into(),
            json!(format!(
                "Checked on site; all in order. {}",
                "w".repeat(pad)
            )),
        );
        store.create("wordy", wordy)?;
        f.insert("photo".into(), photo);
        store.create("photos", f)?;
    }
    let page_all = |collection: &str| -> anyhow::Result<Duration> {
        let mut best = Duration::MAX;
        for _ in 0..5 {
            let start = Instant::now();
            for page in 0..100 {
                let mut q = ferry_core::Query::new(collection);
                q.limit = 100;
                q.offset = page * 100;
                let got = store.query_json(&q)?;
                if got.records.len() != 100 {
                    bail!(
                        "page {page} of {collection} has {} records",
                        got.records.len()
                    );
                }
            }
            best = best.min(start.elapsed());
        }
        Ok(best)
    };
    let plain = page_all("plain")?;
    let photos = page_all("photos")?;
    let wordy = page_all("wordy")?;
    Ok(json!({
        "records": 10_000,
        "plain_ms": ms(plain),
        "with_images_ms": ms(photos),
        "with_images_vs_plain": ratio(photos.as_secs_f64(), plain.as_secs_f64()),
        "same_bytes_as_text_ms": ms(wordy),
        "with_images_vs_same_bytes_as_text": ratio(photos.as_secs_f64(), wordy.as_secs_f64()),
    }))
}

pub fn run() -> anyhow::Result<Value> {
    let dir = tempfile::tempdir_in(
        std::env::var_os("FERRY_BENCH_DIR")
            .unwrap_or_else(|| std::env::temp_dir().into_os_string()),
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let store = Arc::new(SqliteStore::open(
        &dir.path().join("server.db").to_string_lossy(),
    )?);
    let blobs = ferry_server::blobs::open(&dir.path().join("blobs").to_string_lossy())?;
    let (base, _stop) = runtime.block_on(async {
        let store: ferry_server::store::DynStore = store;
        demo::seed_schema_and_users(&store, ferry_server::auth::hash_password)
            .await
            .map_err(anyhow::Error::msg)?;
        let (mut state, stop_streams) = AppState::new(store, Limits::default()).await?;
        state.blobs = Some(Arc::new(ferry_server::blobs::Blobs::new(
            blobs,
            dir.path().join("uploads"),
        )));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(ferry_server::serve(listener, state, stop_streams, async {
            let _ = stopped.await;
        }));
        anyhow::Ok((base, stop))
    })?;
    let small = write_files(&dir.path().join("small"), 200, MB, 1).context("writing the files")?;
    let big = write_files(&dir.path().join("big"), 1, 200 * MB, 2).context("writing the file")?;
    let small_case = case(&base, dir.path(), "small", &small, 200 * MB)?;
    let big_case = case(&base, dir.path(), "big", &big, 200 * MB)?;
    let list = list(dir.path())?;
    let f = |case: &Value, key: &str| case[key].as_f64().unwrap_or(0.0);
    let targets = json!({
        "small_upload_at_least_half_cp": f(&small_case, "upload_vs_cp") >= 0.5,
        "small_download_at_least_half_cp": f(&small_case, "download_vs_cp") >= 0.5,
        "big_upload_at_least_half_cp": f(&big_case, "upload_vs_cp") >= 0.5,
        "big_download_at_least_half_cp": f(&big_case, "download_vs_cp") >= 0.5,
        "big_transfer_peak_rss_under_100_mb": f(&big_case, "upload_peak_rss_mb") < 100.0
            && f(&big_case, "download_peak_rss_mb") < 100.0,
        "list_with_images_as_fast": f(&list, "with_images_vs_plain") <= 1.2,
    });
    Ok(json!({
        "bench": "files",
        "date": chrono::Utc::now().format("%Y-%m-%d").to_string(),
        "small": small_case,
        "big": big_case,
        "list": list,
        "targets": targets,
    }))
}
