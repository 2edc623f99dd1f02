//! Recovering from a damaged local database.
//!
//! The damaged file is never deleted: it is moved aside. Whatever can still
//! be read from it — the unsent outbox entries and the account settings —
//! is saved first (the entries to a JSON export next to it), then a fresh
//! database is created, the account restored and the entries re-imported.
//! The next sync pushes them and rebuilds the snapshot from the server.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::encryption::Unlock;
use crate::error::{Error, Result};
use crate::profile::{DB_FILE, Profile};
use crate::store::keys;
use crate::store::outbox::write_export;
use crate::store::salvage::salvage;

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
    keys::TOKEN,
];

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
        Profile::recover_with(dir, &Unlock::from_env())
    }

    /// [`Profile::recover`], unlocking as `unlock` allows. An encrypted
    /// database is read with its key, and its fresh one gets the same key: a
    /// wrong passphrase fails here and sets nothing aside.
    pub fn recover_with(dir: &Path, unlock: &Unlock) -> Result<(Profile, Recovery)> {
        let db = dir.join(DB_FILE);
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        let key = crate::encryption::key_of(dir, unlock)?;
        let (mutations, settings, unreadable) = salvage(&db, key.as_ref(), SAVED_SETTINGS);
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
        let profile = Profile::open_with(dir, unlock)?;
        let settings: Vec<(&str, Option<&str>)> = settings
            .iter()
            .map(|(k, v)| (k.as_str(), Some(v.as_str())))
            .collect();
        profile.store().set_settings(&settings)?;
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
