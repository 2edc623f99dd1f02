//! What an operator runs beside the API: history compaction (by hand and on
//! a schedule), backups and restores (docs/operations.md, "Backups").
//!
//! A restore takes the server back in time, so it starts a new epoch
//! (DESIGN.md, "Backups and restore"): clients notice at their next contact,
//! send again what the restore lost, and pull everything again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::store::compact::{CompactPlan, CompactReport};
use crate::store::{DynStore, StoreError};

/// Compacts every collection's history by its retention, as of now.
pub async fn compact(store: &DynStore) -> Result<CompactReport, StoreError> {
    let defs = store.collections().await?;
    let plan = CompactPlan::of(&defs, chrono::Utc::now());
    store.compact(&plan).await
}

/// Runs [`compact`] every `every` (the first time one `every` after start),
/// until the server shuts down. A failure is logged and tried again next time.
pub fn spawn_compaction(state: &crate::AppState, every: Duration) {
    let store = state.store.clone();
    let metrics = state.metrics.clone();
    let mut stopping = state.shutdown.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stopping.wait_for(|s| *s) => return,
            }
            let done = compact(&store).await;
            if let Ok(r) = &done {
                metrics.compacted(r);
            }
            match done {
                Ok(r) if r == CompactReport::default() => {}
                Ok(r) => tracing::info!(
                    versions = r.versions_removed,
                    records = r.records_forgotten,
                    horizon = r.horizon,
                    "compacted history"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "history compaction failed; trying again later")
                }
            }
        }
    });
}

/// The meta key a backup notes its time under (copied into the backup).
const BACKUP_TAKEN_AT: &str = "backup_taken_at";

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The lock file that tells a restore a server serves the database.
fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Held by `serve` for as long as it serves a SQLite database: a restore
/// refuses to replace a database a server has open.
pub fn hold_serve_lock(db: &Path) -> anyhow::Result<std::fs::File> {
    let path = lock_path(db);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
    file.try_lock_shared().map_err(|_| {
        anyhow::anyhow!(
            "{} is being restored; start the server when the restore is done",
            db.display()
        )
    })?;
    Ok(file)
}

fn sqlite_err(what: &str, path: &Path, e: rusqlite::Error) -> anyhow::Error {
    anyhow::anyhow!("{what} {}: {e}", path.display())
}

/// Copies a SQLite database, while it serves, into `to` with SQLite's
/// online backup API: one consistent snapshot (the copy reads it in one
/// step; writers go on meanwhile). Returns the size of the copy.
pub fn backup_sqlite(db: &Path, to: &Path) -> anyhow::Result<u64> {
    if !db.exists() {
        anyhow::bail!("there is no database at {}", db.display());
    }
    if to.exists() {
        anyhow::bail!("{} exists; back up to a new file", to.display());
    }
    let src = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_WRITE)
        .map_err(|e| sqlite_err("cannot open", db, e))?;
    src.busy_timeout(Duration::from_secs(30))
        .map_err(|e| sqlite_err("cannot use", db, e))?;
    // Noted in the database itself, so that the copy carries it.
    src.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [BACKUP_TAKEN_AT, &now()],
    )
    .map_err(|e| sqlite_err("cannot note the backup in", db, e))?;
    let partial = with_suffix(to, ".partial");
    let _ = std::fs::remove_file(&partial);
    {
        let mut dst =
            Connection::open(&partial).map_err(|e| sqlite_err("cannot create", &partial, e))?;
        let backup = rusqlite::backup::Backup::new(&src, &mut dst)
            .map_err(|e| sqlite_err("cannot back up", db, e))?;
        // All pages in one step (-1): steps a write comes between start over.
        let deadline = std::time::Instant::now() + Duration::from_secs(600);
        loop {
            use rusqlite::backup::StepResult;
            match backup
                .step(-1)
                .map_err(|e| sqlite_err("cannot back up", db, e))?
            {
                StepResult::Done => break,
                StepResult::More | StepResult::Busy | StepResult::Locked
                    if std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(100));
                }
                _ => anyhow::bail!("{} stayed busy for 10 minutes; try again", db.display()),
            }
        }
    }
    check_backup(&partial)?;
    std::fs::rename(&partial, to)
        .map_err(|e| anyhow::anyhow!("cannot move the backup to {}: {e}", to.display()))?;
    Ok(std::fs::metadata(to).map(|m| m.len()).unwrap_or(0))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Checks that `path` is a whole Ferry database; returns when it was taken.
fn check_backup(path: &Path) -> anyhow::Result<Option<String>> {
    let c = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| sqlite_err("cannot open the backup", path, e))?;
    let ok: String = c
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|_| anyhow::anyhow!("{} is not a SQLite database", path.display()))?;
    if ok != "ok" {
        anyhow::bail!("the backup {} is damaged: {ok}", path.display());
    }
    let epoch: Option<String> = c
        .query_row("SELECT value FROM meta WHERE key = 'epoch'", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(|_| anyhow::anyhow!("{} is not a Ferry server database", path.display()))?;
    if epoch.is_none() {
        anyhow::bail!("{} is not a Ferry server database", path.display());
    }
    c.query_row(
        "SELECT value FROM meta WHERE key = ?1",
        [BACKUP_TAKEN_AT],
        |r| r.get(0),
    )
    .optional()
    .map_err(|e| sqlite_err("cannot read", path, e))
}

/// Replaces the SQLite database at `db` with the backup `from`, which
/// starts a new epoch. Refused while a server serves it. The database as
/// it was is kept beside it (`ferry.db.before-restore-…`). Returns the new
/// epoch and where the old database went.
pub async fn restore_sqlite(from: &Path, db: &Path) -> anyhow::Result<(String, Option<PathBuf>)> {
    let taken_at = check_backup(from)?;
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_path(db))
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", lock_path(db).display()))?;
    if lock.try_lock().is_err() {
        anyhow::bail!(
            "a server is serving {}; stop it first (a restore replaces the database under it)",
            db.display()
        );
    }
    let incoming = with_suffix(db, ".restoring");
    let _ = std::fs::remove_file(&incoming);
    std::fs::copy(from, &incoming)
        .map_err(|e| anyhow::anyhow!("cannot copy {}: {e}", from.display()))?;
    // Opening migrates an older backup to this version; then the new epoch.
    let incoming_url = incoming.to_string_lossy().to_string();
    let epoch = {
        let store: DynStore =
            std::sync::Arc::new(crate::store::sqlite::SqliteStore::open(&incoming_url)?);
        let epoch = store.start_epoch(taken_at).await?;
        drop(store);
        epoch
    };
    checkpoint(&incoming)?;
    let aside = if db.exists() {
        checkpoint(db)?;
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        let aside = with_suffix(db, &format!(".before-restore-{stamp}"));
        std::fs::rename(db, &aside)
            .map_err(|e| anyhow::anyhow!("cannot move {} aside: {e}", db.display()))?;
        Some(aside)
    } else {
        None
    };
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(with_suffix(db, suffix));
        let _ = std::fs::remove_file(with_suffix(&incoming, suffix));
    }
    std::fs::rename(&incoming, db)
        .map_err(|e| anyhow::anyhow!("cannot move the restored database into place: {e}"))?;
    drop(lock);
    Ok((epoch, aside))
}

/// Moves everything in a database's write-ahead log into the file itself,
/// so the file alone is the whole database.
fn checkpoint(db: &Path) -> anyhow::Result<()> {
    let c = Connection::open(db).map_err(|e| sqlite_err("cannot open", db, e))?;
    c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .map_err(|e| sqlite_err("cannot checkpoint", db, e))
}

/// Runs `program` with `args`, failing with its error output.
fn run_tool(program: &str, args: &[&str]) -> anyhow::Result<()> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .map_err(|e| {
            anyhow::anyhow!("cannot run {program} (is PostgreSQL's client installed?): {e}")
        })?;
    if !out.status.success() {
        anyhow::bail!(
            "{program} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Backs up a PostgreSQL database with `pg_dump` (custom format: one
/// consistent snapshot while servers go on serving).
pub async fn backup_postgres(store: &DynStore, url: &str, to: &Path) -> anyhow::Result<u64> {
    if to.exists() {
        anyhow::bail!("{} exists; back up to a new file", to.display());
    }
    store
        .set_meta(vec![(BACKUP_TAKEN_AT.to_string(), now())])
        .await?;
    let to_s = to.to_string_lossy();
    run_tool(
        "pg_dump",
        &[
            "--format=custom",
            "--no-owner",
            "--file",
            &to_s,
            "--dbname",
            url,
        ],
    )?;
    Ok(std::fs::metadata(to).map(|m| m.len()).unwrap_or(0))
}

/// Restores a `pg_dump` backup into the database at `url` with
/// `pg_restore --clean` (stop every server first), then starts a new epoch.
pub async fn restore_postgres(
    url: &str,
    from: &Path,
    pg: &crate::store::postgres::PgOptions,
) -> anyhow::Result<String> {
    if !from.exists() {
        anyhow::bail!("there is no backup at {}", from.display());
    }
    let from_s = from.to_string_lossy();
    run_tool(
        "pg_restore",
        &[
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            "--exit-on-error",
            "--dbname",
            url,
            &from_s,
        ],
    )?;
    // pg_restore brings no planner statistics: without them the first
    // minutes of serving are slow, until autovacuum has been through.
    run_tool("vacuumdb", &["--analyze", "--quiet", "--dbname", url])?;
    let store = crate::store::open_with(url, pg).await?;
    let taken_at = store.meta(BACKUP_TAKEN_AT).await?;
    Ok(store.start_epoch(taken_at).await?)
}
