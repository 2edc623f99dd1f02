//! Recovering from a damaged local database.
//!
//! The damaged file is never deleted: it is moved aside. Whatever can still
//! be read from it — the unsent outbox entries and the account settings —
//! is saved first (the entries to a JSON export next to it), then a fresh
//! database is created, the account restored and the entries re-imported.
//! The next sync pushes them and rebuilds the snapshot from the server.

use std::path::{Path, PathBuf};

use ferry_protocol::Mutation;
use rusqlite::{Connection, OpenFlags};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::profile::{DB_FILE, KeyringUse, Profile};
use crate::store::keys;
use crate::store::outbox::write_export;

/// What a recovery did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recovery {
    /// Where the damaged database was moved.
    pub damaged: PathBuf,
    /// The export of the unsent edits that could be read, if any.
    pub rescued: Option<PathBuf>,
    pub rescued_entries: usize,
    /// Why the outbox could not be read, when it could not.
    pub unreadable: Option<String>,
}

const SAVED_SETTINGS: &[&str] = &[
    keys::SERVER,
    keys::USERNAME,
    keys::DEVICE_ID,
    keys::NODE,
    keys::HLC,
    keys::TOKEN_STORE,
    keys::TOKEN_ENTRY,
];

/// Reads what it can from a damaged database, without writing to it.
fn salvage(path: &Path) -> (Vec<Mutation>, Vec<(String, String)>, Option<String>) {
    let conn = match Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY) {
        Ok(c) => c,
        Err(e) => return (Vec::new(), Vec::new(), Some(e.to_string())),
    };
    let mut settings = Vec::new();
    for key in SAVED_SETTINGS {
        if let Ok(v) = conn.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
            r.get::<_, String>(0)
        }) {
            settings.push(((*key).to_string(), v));
        }
    }
    let read = || -> rusqlite::Result<Vec<Mutation>> {
        let mut stmt = conn.prepare(
            "SELECT mutation_id, collection, record_id, op, base_version, base, fields, hlc FROM outbox ORDER BY seq",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(serde_json::json!({
                "mutation_id": r.get::<_, String>(0)?,
                "collection": r.get::<_, String>(1)?,
                "record_id": r.get::<_, String>(2)?,
                "op": r.get::<_, String>(3)?,
                "base_version": r.get::<_, Option<i64>>(4)?,
                "base": serde_json::from_str::<serde_json::Value>(&r.get::<_, String>(5)?).unwrap_or_default(),
                "fields": serde_json::from_str::<serde_json::Value>(&r.get::<_, String>(6)?).unwrap_or_default(),
                "hlc": r.get::<_, String>(7)?,
            }))
        })?;
        let mut out = Vec::new();
        for row in rows {
            // A row that no longer parses is skipped; the damaged file keeps it.
            if let Ok(m) = serde_json::from_value(row?) {
                out.push(m);
            }
        }
        Ok(out)
    };
    match read() {
        Ok(m) => (m, settings, None),
        Err(e) => (Vec::new(), settings, Some(e.to_string())),
    }
}

fn move_aside(from: &Path, to: &Path) -> Result<()> {
    match std::fs::rename(from, to) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(
            format!("cannot move {} aside", from.display()),
            e,
        )),
    }
}

impl Profile {
    /// Sets a damaged database aside and starts a fresh one that keeps the
    /// account and the unsent edits. Sync afterwards to rebuild from the server.
    pub fn recover(dir: &Path) -> Result<(Profile, Recovery)> {
        Profile::recover_with(dir, KeyringUse::from_env())
    }

    /// [`Profile::recover`], choosing whether a new token may go to the OS keyring.
    pub fn recover_with(dir: &Path, keyring: KeyringUse) -> Result<(Profile, Recovery)> {
        let db = dir.join(DB_FILE);
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        let (mutations, settings, unreadable) = salvage(&db);
        let rescued = if mutations.is_empty() {
            None
        } else {
            let path = dir.join(format!("outbox-rescued-{stamp}.json"));
            write_export(&path, mutations.clone())?;
            Some(path)
        };
        let damaged = dir.join(format!("{DB_FILE}.damaged-{stamp}"));
        move_aside(&db, &damaged)?;
        for suffix in ["-wal", "-shm"] {
            let from = dir.join(format!("{DB_FILE}{suffix}"));
            move_aside(
                &from,
                &dir.join(format!("{DB_FILE}.damaged-{stamp}{suffix}")),
            )?;
        }
        let profile = Profile::open_with(dir, keyring)?;
        profile.store().write(|tx| {
            for (k, v) in &settings {
                crate::store::set_setting(tx, k, Some(v))?;
            }
            Ok(())
        })?;
        if let Some(path) = &rescued {
            profile.store().import_outbox(path)?;
        }
        tracing::warn!(damaged = %damaged.display(), entries = mutations.len(), "local database rebuilt");
        Ok((
            profile,
            Recovery {
                damaged,
                rescued,
                rescued_entries: mutations.len(),
                unreadable,
            },
        ))
    }
}
