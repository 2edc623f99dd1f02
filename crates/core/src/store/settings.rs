//! Settings: small named values kept beside the records (the pull cursor,
//! the clock, the account, "work offline").

use rusqlite::{Connection, OptionalExtension, params};

use super::LocalStore;
use crate::error::Result;

/// Settings keys.
pub(crate) mod keys {
    pub const CURSOR: &str = "cursor";
    /// The server's epoch as last seen (changes when it is restored).
    pub const SERVER_EPOCH: &str = "server_epoch";
    /// "1" while everything is pulled again (`store::resync`).
    pub const RESYNCING: &str = "resyncing";
    pub const LAST_SYNC: &str = "last_sync";
    pub const HLC: &str = "hlc";
    pub const NODE: &str = "node";
    pub const SERVER: &str = "server";
    pub const USERNAME: &str = "username";
    pub const DEVICE_ID: &str = "device_id";
    pub const WORK_OFFLINE: &str = "work_offline";
    /// Where the login token is kept: `keyring`, `database` or `file`.
    pub const TOKEN_STORE: &str = "token_store";
    /// The token's entry name in the OS keyring.
    pub const TOKEN_ENTRY: &str = "token_entry";
    /// The token itself, when kept in the (encrypted) database.
    pub const TOKEN: &str = "token";
}

pub(crate) fn get_setting(c: &Connection, key: &str) -> Result<Option<String>> {
    Ok(
        c.prepare_cached("SELECT value FROM settings WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?,
    )
}

pub(crate) fn set_setting(c: &Connection, key: &str, value: Option<&str>) -> Result<()> {
    match value {
        // Cached: the clock is read and written in every edit's transaction.
        Some(v) => c
            .prepare_cached(
                "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2",
            )?
            .execute(params![key, v])?,
        None => c
            .prepare_cached("DELETE FROM settings WHERE key = ?1")?
            .execute([key])?,
    };
    Ok(())
}

impl LocalStore {
    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        self.read(|c| get_setting(c, key))
    }

    pub fn set_setting(&self, key: &str, value: Option<&str>) -> Result<()> {
        self.write(|tx| set_setting(tx, key, value))
    }

    /// Sets several settings in one transaction (`None` removes one), so
    /// they never disagree (an account without its token's place).
    pub fn set_settings(&self, values: &[(&str, Option<&str>)]) -> Result<()> {
        self.write(|tx| {
            for (key, value) in values {
                set_setting(tx, key, *value)?;
            }
            Ok(())
        })
    }

    /// The pull cursor: `None` before the first pull.
    pub fn cursor(&self) -> Result<Option<String>> {
        self.setting(keys::CURSOR)
    }

    /// When the last full sync cycle ended (RFC 3339).
    pub fn last_sync(&self) -> Result<Option<String>> {
        self.setting(keys::LAST_SYNC)
    }

    pub fn work_offline(&self) -> Result<bool> {
        Ok(self.setting(keys::WORK_OFFLINE)?.as_deref() == Some("1"))
    }

    pub fn set_work_offline(&self, offline: bool) -> Result<()> {
        self.set_setting(keys::WORK_OFFLINE, offline.then_some("1"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip() {
        let store = LocalStore::open_in_memory().expect("open");
        assert_eq!(store.setting("x").expect("get"), None);
        store.set_setting("x", Some("1")).expect("set");
        assert_eq!(store.setting("x").expect("get").as_deref(), Some("1"));
        store.set_setting("x", None).expect("clear");
        assert_eq!(store.setting("x").expect("get"), None);
        store
            .set_settings(&[("x", Some("2")), ("y", Some("3")), ("z", None)])
            .expect("set several");
        assert_eq!(store.setting("x").expect("get").as_deref(), Some("2"));
        assert_eq!(store.setting("y").expect("get").as_deref(), Some("3"));
        store
            .set_settings(&[("x", None), ("y", None)])
            .expect("clear several");
        assert_eq!(store.setting("y").expect("get"), None);
    }
}
