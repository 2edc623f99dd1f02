//! A million records (`ferry-bench scale`): `--records` records (1,000,000)
//! on the server, in three setups: one `ferry-server` process on SQLite,
//! one on PostgreSQL, two on one PostgreSQL database (the second reuses the
//! first's database when both run). In each:
//! - `--clients` clients (1000) each hold an event stream; `--active` of
//!   them (50) push 10 new records every `--pace` seconds (10) and pull
//!   when told of a commit (see crowd.rs), for `--secs` seconds (60);
//! - then (not on the two-process setup) a new ferry-core profile pulls
//!   every record, in a child process of the bench whose peak memory is
//!   its own (`scale-pull-child`).
//!
//! Records are seeded straight into the store, 2,000 per push, before any
//! server starts; on PostgreSQL the database is then vacuumed, analyzed
//! and checkpointed, as an operator would after a bulk load. Databases
//! live in a new directory under `--dir` (the temporary directory by
//! default), and PostgreSQL's in a new database on
//! `FERRY_BENCH_PG_URL`, else `FERRY_TEST_PG_URL`, else
//! postgres://postgres@127.0.0.1:5432/test; both go when the run ends.
//! Each client is a user of its own with one session, so no user holds
//! more than one stream.

mod crowd;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use ferry_core::{Profile, SyncEngine};
use ferry_protocol::{Access, Fields, Hlc, Mutation, Op};
use ferry_server::clock::Clock;
use ferry_server::store::postgres::{PgOptions, PgStore};
use ferry_server::store::{DynStore, NewDevice, PushContext, Session};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::dataset::{COLLECTION, bench_collection, rate, record_fields};
use crate::load::{ServerProcess, pg_server_url};

const SEEDER: &str = "seeder";
const PASSWORD: &str = "bench";
/// Mutations per seeding push.
const SEED_BATCH: usize = 2000;
/// Peak memory of the client's initial pull must stay under this (MB).
const PULL_PEAK_TARGET_MB: f64 = 400.0;
const SETUPS: [(&str, bool, usize); 3] = [
    ("sqlite", false, 1),
    ("postgres", true, 1),
    ("postgres2", true, 2),
];

struct Opts {
    records: usize,
    clients: usize,
    active: usize,
    secs: u64,
    pace: Duration,
    only: Option<Vec<String>>,
    pull: bool,
    dir: std::path::PathBuf,
    pool: usize,
}

fn opts(args: &[String]) -> anyhow::Result<Opts> {
    let get = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let number = |name: &str, default: usize| -> anyhow::Result<usize> {
        get(name).map_or(Ok(default), |v| {
            v.parse()
                .with_context(|| format!("{name} takes a number, not {v:?}"))
        })
    };
    let only = get("--only").map(|o| o.split(',').map(String::from).collect::<Vec<_>>());
    if let Some(bad) = only
        .iter()
        .flatten()
        .find(|o| !SETUPS.iter().any(|(name, ..)| name == o))
    {
        bail!("--only takes sqlite, postgres or postgres2 (comma-separated), not {bad:?}");
    }
    let opts = Opts {
        records: number("--records", 1_000_000)?,
        clients: number("--clients", 1000)?,
        active: number("--active", 50)?,
        secs: number("--secs", 60)? as u64,
        pace: Duration::from_secs(number("--pace", 10)? as u64),
        only,
        pull: !args.iter().any(|a| a == "--no-pull"),
        dir: get("--dir").map_or_else(std::env::temp_dir, Into::into),
        pool: number("--db-pool-size", 16)?,
    };
    if opts.active > opts.clients || opts.records == 0 || opts.pace.is_zero() {
        bail!("--active at most --clients, --records and --pace at least 1");
    }
    Ok(opts)
}

pub fn run(args: &[String]) -> anyhow::Result<Value> {
    match args.first().map(String::as_str) {
        Some("scale-pull-child") => return pull_child(&args[1..]),
        Some("scale-server-child") => return server_child(&args[1..]),
        _ => {}
    }
    let opts = opts(args)?;
    check_open_files(opts.clients)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run_async(opts))
}

/// The bench holds a connection per client and each server one per client
/// of its own (they inherit this limit): fail early rather than midway.
fn check_open_files(clients: usize) -> anyhow::Result<()> {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let soft: Option<usize> = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|n| n.parse().ok());
    let need = 2 * clients + 500;
    if let Some(soft) = soft
        && soft < need
    {
        bail!(
            "{clients} clients need about {need} open files and the limit is {soft}: raise it (ulimit -n {need}; make bench-scale does)"
        );
    }
    Ok(())
}

/// A seeded database: the sessions of the clients, and where its feed ends.
struct Seeded {
    tokens: Vec<String>,
    head: i64,
    /// Seconds to write the records, and to make the users before them.
    seed_secs: f64,
    users_secs: f64,
}

/// Where a setup's data lives, and how big it is.
enum Database {
    Sqlite(std::path::PathBuf),
    Postgres(Arc<PgStore>),
}

impl Database {
    async fn megabytes(&self) -> Option<f64> {
        let bytes = match self {
            Database::Sqlite(path) => {
                let dir = path.parent()?;
                let name = path.file_name()?.to_string_lossy().into_owned();
                std::fs::read_dir(dir)
                    .ok()?
                    .flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with(&name))
                    .filter_map(|e| e.metadata().ok())
                    .map(|m| m.len())
                    .sum::<u64>()
            }
            Database::Postgres(pg) => {
                let client = pg.pool().get().await.ok()?;
                let row = client
                    .query_one("SELECT pg_database_size(current_database())", &[])
                    .await
                    .ok()?;
                u64::try_from(row.get::<_, i64>(0)).ok()?
            }
        };
        Some(megabytes(bytes))
    }
}

fn megabytes(bytes: u64) -> f64 {
    (bytes as f64 / (1024.0 * 1024.0) * 10.0).round() / 10.0
}

async fn run_async(opts: Opts) -> anyhow::Result<Value> {
    let bin = server_program()?;
    std::fs::create_dir_all(&opts.dir)?;
    let dir = tempfile::Builder::new()
        .prefix("ferry-scale-")
        .tempdir_in(&opts.dir)?;
    let mut results = serde_json::Map::new();
    // PostgreSQL's database, seeded once for both of its setups.
    let mut pg: Option<(
        ferry_server::store::postgres::testing::TestDb,
        Arc<PgStore>,
        Seeded,
    )> = None;
    for (name, postgres, processes) in SETUPS {
        if opts
            .only
            .as_ref()
            .is_some_and(|o| !o.iter().any(|n| n == name))
        {
            continue;
        }
        eprintln!(
            "scale: {name}: {} records, {} clients ({} active) for {} s",
            opts.records, opts.clients, opts.active, opts.secs
        );
        let figures = if postgres {
            if pg.is_none() {
                let db =
                    ferry_server::store::postgres::testing::TestDb::create_on(&pg_server_url())
                        .await;
                let options = PgOptions {
                    pool_size: opts.pool,
                    ..Default::default()
                };
                let store = Arc::new(PgStore::open(&db.url, &options).await?);
                let seeded = seed(store.clone(), opts.records, opts.clients).await?;
                let settling = std::time::Instant::now();
                db.settle()
                    .await
                    .context("VACUUM and CHECKPOINT after seeding")?;
                eprintln!(
                    "scale: vacuumed and checkpointed in {:.1} s",
                    settling.elapsed().as_secs_f64()
                );
                pg = Some((db, store, seeded));
            }
            let (db, store, seeded) = pg.as_mut().context("the PostgreSQL database")?;
            let setup = Setup {
                bin: &bin,
                url: &db.url,
                processes,
                database: Database::Postgres(store.clone()),
                dir: dir.path(),
            };
            let (figures, head) = one_setup(&setup, seeded, &opts).await?;
            // The next setup's clients start where this one's ended.
            seeded.head = head;
            figures
        } else {
            let path = dir.path().join("server.db");
            let url = format!("sqlite://{}", path.display());
            let seeded = seed(
                ferry_server::store::open(&url).await?,
                opts.records,
                opts.clients,
            )
            .await?;
            let setup = Setup {
                bin: &bin,
                url: &url,
                processes,
                database: Database::Sqlite(path),
                dir: dir.path(),
            };
            one_setup(&setup, &seeded, &opts).await?.0
        };
        results.insert(name.into(), figures);
    }
    // The PostgreSQL database goes now, the SQLite one with the directory.
    drop(pg);
    drop(dir);
    Ok(report(&opts, results))
}

fn report(opts: &Opts, results: serde_json::Map<String, Value>) -> Value {
    let mut targets = serde_json::Map::new();
    let errors: u64 = results
        .values()
        .map(|v| v["errors"].as_u64().unwrap_or(1))
        .sum();
    targets.insert("no_errors".into(), json!(errors == 0));
    let undelivered: u64 = results
        .values()
        .map(|v| v["undelivered"].as_u64().unwrap_or(1))
        .sum();
    targets.insert(
        "every_push_told_to_every_client".into(),
        json!(undelivered == 0),
    );
    for (name, figures) in &results {
        if let Some(mb) = figures["initial_pull"]["peak_rss_mb"].as_f64() {
            targets.insert(
                format!("initial_pull_peak_rss_under_400_mb_{name}"),
                json!(mb < PULL_PEAK_TARGET_MB),
            );
        }
    }
    json!({
        "suite": "scale",
        "date": chrono::Utc::now().format("%Y-%m-%d").to_string(),
        "records": opts.records,
        "avg_record_bytes": serde_json::to_string(&record_fields(0)).map(|s| s.len()).unwrap_or(0),
        "clients": opts.clients,
        "active_clients": opts.active,
        "seconds": opts.secs,
        "push_every_s": opts.pace.as_secs_f64(),
        "mutations_per_push": crowd::BATCH,
        "pull_page": crowd::PULL_PAGE,
        "pg_pool_size": opts.pool,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "data_dir": opts.dir.display().to_string(),
        "results": results,
        "targets": targets,
    })
}

struct Setup<'a> {
    bin: &'a ServerProgram,
    url: &'a str,
    processes: usize,
    database: Database,
    dir: &'a Path,
}

/// The crowd against the setup's processes, their memory, and (with one
/// process) the initial pull of a new profile.
async fn one_setup(
    setup: &Setup<'_>,
    seeded: &Seeded,
    opts: &Opts,
) -> anyhow::Result<(Value, i64)> {
    // A connection per stream, more for the active clients' requests.
    let max_connections = 2 * opts.clients + 100;
    let servers: Vec<ServerProcess> = (0..setup.processes)
        .map(|_| ServerProcess::spawn(setup.bin.command(setup.url, max_connections, opts.pool)))
        .collect::<anyhow::Result<_>>()?;
    let bases: Vec<String> = servers.iter().map(|s| s.base.clone()).collect();
    let crowd = crowd::Crowd {
        active: opts.active,
        secs: opts.secs,
        pace: opts.pace,
    };
    let (mut figures, head) = crowd::drive(&bases, &seeded.tokens, seeded.head, &crowd).await?;
    let kb = |key: &str| -> Vec<u64> { servers.iter().filter_map(|s| s.memory_kb(key)).collect() };
    let (rss, peak) = (kb("VmRSS"), kb("VmHWM"));
    figures["server_rss_mb"] = json!(rss.iter().sum::<u64>() / 1024);
    figures["server_peak_rss_mb"] = json!(peak.iter().sum::<u64>() / 1024);
    figures["server_peak_rss_mb_each"] = json!(peak.iter().map(|k| k / 1024).collect::<Vec<_>>());
    figures["server"] = json!(setup.bin.name());
    figures["seed_secs"] = json!((seeded.seed_secs * 10.0).round() / 10.0);
    figures["seed_records_per_s"] = json!(rate(opts.records, seeded.seed_secs));
    figures["users_secs"] = json!((seeded.users_secs * 10.0).round() / 10.0);
    figures["database_mb"] = json!(setup.database.megabytes().await);
    if opts.pull && setup.processes == 1 {
        eprintln!("scale: initial pull of every record into a new profile");
        let profile = setup.dir.join("profile");
        let pull = initial_pull(&bases[0], &profile, opts.records);
        let _ = std::fs::remove_dir_all(&profile);
        figures["initial_pull"] = pull?;
    }
    drop(servers);
    Ok((figures, head))
}

/// What runs each server process: the `ferry-server` binary beside the
/// bench, or, where there is none, the bench itself serving the same
/// library the same way (`scale-server-child`, see [`server_child`]).
enum ServerProgram {
    Binary(std::path::PathBuf),
    Bench(std::path::PathBuf),
}

fn server_program() -> anyhow::Result<ServerProgram> {
    let exe = std::env::current_exe()?;
    let bin = exe.with_file_name("ferry-server");
    Ok(if bin.exists() {
        ServerProgram::Binary(bin)
    } else {
        eprintln!(
            "scale: no {} (cargo build --release -p ferry-server): serving from the bench's own processes",
            bin.display()
        );
        ServerProgram::Bench(exe)
    })
}

impl ServerProgram {
    fn command(&self, url: &str, max_connections: usize, pool: usize) -> Command {
        let (max_connections, pool) = (max_connections.to_string(), pool.to_string());
        match self {
            ServerProgram::Binary(bin) => {
                let mut c = Command::new(bin);
                c.args(["--db", url, "--db-pool-size", &pool, "serve"])
                    .args(["--listen", "127.0.0.1:0", "--metrics-listen", "off"])
                    .args(["--max-connections", &max_connections]);
                c
            }
            ServerProgram::Bench(exe) => {
                let mut c = Command::new(exe);
                c.args(["scale-server-child", "--db", url, "--db-pool-size", &pool])
                    .args(["--max-connections", &max_connections]);
                c
            }
        }
    }

    fn name(&self) -> &'static str {
        match self {
            ServerProgram::Binary(_) => "ferry-server serve",
            ServerProgram::Bench(_) => "ferry-bench scale-server-child",
        }
    }
}

/// A server as `ferry-server serve` runs one, with its default limits but
/// `--max-connections`: the store the URL names, the router, a free
/// loopback port printed first. No metrics, compaction or files. Serves
/// until killed.
fn server_child(args: &[String]) -> anyhow::Result<Value> {
    let get = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
            .with_context(|| format!("scale-server-child needs {name}"))
    };
    let url = get("--db")?;
    let pool_size: usize = get("--db-pool-size")?.parse()?;
    let max_connections: usize = get("--max-connections")?.parse()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        use std::io::Write;
        let options = PgOptions {
            pool_size,
            ..Default::default()
        };
        let store = ferry_server::store::open_with(&url, &options).await?;
        let limits = ferry_server::Limits {
            max_connections,
            ..ferry_server::Limits::default()
        };
        let (state, stop_streams) = ferry_server::AppState::new(store, limits).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!(
            "ferry-server listening on http://{}",
            listener.local_addr()?
        );
        std::io::stdout().flush()?;
        ferry_server::serve(listener, state, stop_streams, std::future::pending()).await?;
        Ok(Value::Null)
    })
}

/// Seeds `records` records and a user and session per client.
async fn seed(store: DynStore, records: usize, clients: usize) -> anyhow::Result<Seeded> {
    let started = Instant::now();
    store.put_collections(&[bench_collection()]).await?;
    // One hash for every user: each is checked only by the pull's login.
    let hash = ferry_server::auth::hash_password(PASSWORD).map_err(anyhow::Error::msg)?;
    let seeder = store.create_user(SEEDER, &hash).await?;
    store
        .set_grant(SEEDER, COLLECTION, Some(Access::Write))
        .await?;
    // Users and grants first: a grant made after the records exist puts
    // every record in that user's feed (a million rows per user).
    let mut tokens = Vec::with_capacity(clients);
    for i in 0..clients {
        let name = format!("client{i}");
        let user = store.create_user(&name, &hash).await?;
        store
            .set_grant(&name, COLLECTION, Some(Access::Write))
            .await?;
        let token = ferry_server::auth::new_token();
        let device = NewDevice {
            name: "scale".into(),
            ..Default::default()
        };
        store
            .create_session(user, &device, &ferry_server::auth::token_hash(&token))
            .await?;
        tokens.push(token);
    }
    let records_started = Instant::now();
    let ctx = PushContext::with_grants(
        Session {
            user_id: seeder,
            username: SEEDER.into(),
            device_id: Uuid::nil(),
        },
        &HashMap::from([(COLLECTION.to_string(), Access::Write)]),
        Arc::new(Clock::new("bench", None, Duration::from_secs(300))),
    );
    // The next batch is built on a thread of its own while one is written.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Mutation>>(2);
    let builder = std::thread::spawn(move || -> anyhow::Result<()> {
        let hlc = Hlc::new(chrono::Utc::now().timestamp_millis(), 0, "bench").context("stamp")?;
        for start in (0..records).step_by(SEED_BATCH) {
            let batch = (start..(start + SEED_BATCH).min(records))
                .map(|i| Mutation {
                    mutation_id: Uuid::now_v7(),
                    collection: COLLECTION.into(),
                    record_id: Uuid::now_v7(),
                    op: Op::Put,
                    base_version: None,
                    base: Fields::new(),
                    fields: record_fields(i),
                    hlc: hlc.clone(),
                })
                .collect();
            if tx.blocking_send(batch).is_err() {
                break;
            }
        }
        Ok(())
    });
    let (mut head, mut written) = (0, 0usize);
    while let Some(batch) = rx.recv().await {
        let out = store.push(ctx.clone(), batch).await?;
        if let Some(bad) = out.results.iter().find(|r| r.record.is_none()) {
            bail!("a seeding write was not applied: {bad:?}");
        }
        written += out.results.len();
        head = out.last_write.map_or(head, |c| c.0);
        if written % 100_000 < SEED_BATCH {
            eprintln!("scale: seeded {written} records");
        }
    }
    builder
        .join()
        .map_err(|_| anyhow::anyhow!("the seeding thread panicked"))??;
    if written != records {
        bail!("seeded {written} records, expected {records}");
    }
    Ok(Seeded {
        tokens,
        head,
        seed_secs: records_started.elapsed().as_secs_f64(),
        users_secs: (records_started - started).as_secs_f64(),
    })
}

/// Runs the initial pull in a child process (`scale-pull-child`) so that
/// its peak memory is the client's alone; adds the profile's size.
fn initial_pull(base: &str, profile: &Path, records: usize) -> anyhow::Result<Value> {
    let exe = std::env::current_exe()?;
    let out = Command::new(&exe)
        .arg("scale-pull-child")
        .args(["--base", base, "--user", SEEDER, "--profile"])
        .arg(profile)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("start {}", exe.display()))?;
    if !out.status.success() {
        bail!("the pull's child process failed ({})", out.status);
    }
    let mut figures: Value =
        serde_json::from_slice(&out.stdout).context("the pull's child printed no JSON")?;
    let pulled = figures["records"].as_u64().unwrap_or(0);
    if pulled < records as u64 {
        bail!("the initial pull brought {pulled} records, expected at least {records}");
    }
    figures["profile_mb"] = json!(megabytes(directory_bytes(profile)));
    figures["encrypted"] = json!(std::env::var("FERRY_ENCRYPTION").as_deref() != Ok("off"));
    Ok(figures)
}

/// The bytes of the files under `dir`.
fn directory_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => directory_bytes(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}

/// The child: signs a new profile in and pulls everything, then prints its
/// time and its peak memory, the whole process's and the pull's alone.
fn pull_child(args: &[String]) -> anyhow::Result<Value> {
    let get = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
            .with_context(|| format!("scale-pull-child needs {name}"))
    };
    let (base, user, profile) = (get("--base")?, get("--user")?, get("--profile")?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let profile = Profile::open_with(Path::new(&profile), &crate::unlock())?;
        let engine = SyncEngine::new(Arc::new(profile));
        engine.login(&base, &user, PASSWORD, "scale bench").await?;
        let before_pull = memory_kb("VmHWM");
        // From here the peak is the pull's (where /proc allows a reset).
        let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        let start = Instant::now();
        let report = engine.sync().await?;
        let secs = start.elapsed().as_secs_f64();
        let mb = |kb: Option<u64>| kb.map(|kb| (kb as f64 / 1024.0).round());
        Ok(json!({
            "records": report.pulled,
            "seconds": (secs * 100.0).round() / 100.0,
            "records_per_s": rate(report.pulled, secs),
            "peak_rss_mb": mb(memory_kb("VmHWM")),
            "peak_rss_measured": if reset {
                "VmHWM of the client's process during the pull, reset just before it"
            } else {
                "VmHWM of the client's process since it started"
            },
            "peak_rss_before_pull_mb": mb(before_pull),
            "rss_after_mb": mb(memory_kb("VmRSS")),
        }))
    })
}

/// A line of `/proc/self/status` in kB.
fn memory_kb(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
