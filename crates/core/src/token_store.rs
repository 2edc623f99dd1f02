//! Where a profile keeps its login token: the OS keyring (the Secret Service
//! on Linux, the Keychain on macOS, the Credential Manager on Windows) when
//! one answers, otherwise a file in the profile that only the user can read.
//!
//! A keyring that is missing, locked or slow must never hang Ferry: every
//! keyring call runs on a thread of its own and is given up after a short
//! timeout, after which this process stops asking the keyring and uses the
//! file. `FERRY_KEYRING=off` always uses the file (tests set it so they never
//! touch a developer's real keyring).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;

/// The keyring's service name for Ferry's entries.
const SERVICE: &str = "ferry";
/// How long a keyring call may take before Ferry gives up on the keyring.
const TIMEOUT: Duration = Duration::from_millis(1500);
/// Set once the keyring failed or timed out in this process.
static KEYRING_DOWN: AtomicBool = AtomicBool::new(false);

/// Where a token is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenStore {
    /// The OS keyring.
    Keyring,
    /// The profile's encrypted database (no keyring answers).
    Database,
    /// The `token` file in the profile, mode 0600.
    File,
}

impl TokenStore {
    pub(crate) fn as_setting(self) -> &'static str {
        match self {
            TokenStore::Keyring => "keyring",
            TokenStore::Database => "database",
            TokenStore::File => "file",
        }
    }

    pub(crate) fn from_setting(s: &str) -> Option<TokenStore> {
        match s {
            "keyring" => Some(TokenStore::Keyring),
            "database" => Some(TokenStore::Database),
            "file" => Some(TokenStore::File),
            _ => None,
        }
    }
}

impl std::fmt::Display for TokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TokenStore::Keyring => "the OS keyring",
            TokenStore::Database => "the encrypted local database",
            TokenStore::File => "a file only you can read",
        })
    }
}

/// Whether a profile may keep its token in the OS keyring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyringUse {
    /// The keyring when one answers, else the file.
    Auto,
    /// Always the file.
    Off,
}

impl KeyringUse {
    /// `Off` when `FERRY_KEYRING` is `off` (or `0`, `false`, `no`), else `Auto`.
    pub fn from_env() -> KeyringUse {
        match std::env::var("FERRY_KEYRING") {
            Ok(v)
                if matches!(
                    v.trim().to_ascii_lowercase().as_str(),
                    "off" | "0" | "false" | "no"
                ) =>
            {
                KeyringUse::Off
            }
            _ => KeyringUse::Auto,
        }
    }
}

/// Why the keyring could not be used.
#[derive(Debug)]
pub(crate) struct Unavailable(pub(crate) String);

/// Runs one keyring call on its own thread, waiting at most [`TIMEOUT`].
/// A keyring that fails to answer is not asked again by this process.
fn call<T: Send + 'static>(
    what: &'static str,
    f: impl FnOnce() -> keyring::Result<T> + Send + 'static,
) -> Result<keyring::Result<T>, Unavailable> {
    if KEYRING_DOWN.load(Ordering::Relaxed) {
        return Err(Unavailable("the keyring did not answer earlier".into()));
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("ferry-keyring".into())
        .spawn(move || {
            let _ = tx.send(f());
        });
    if let Err(e) = spawned {
        return Err(Unavailable(format!("cannot start a thread: {e}")));
    }
    // A call that times out is left to finish on its own thread.
    let answer = rx
        .recv_timeout(TIMEOUT)
        .map_err(|_| Unavailable(format!("no answer within {TIMEOUT:?}")));
    let unavailable = match &answer {
        Err(e) => Some(e.0.clone()),
        Ok(Err(e @ (keyring::Error::NoStorageAccess(_) | keyring::Error::PlatformFailure(_)))) => {
            Some(e.to_string())
        }
        Ok(_) => None,
    };
    if let Some(why) = unavailable {
        KEYRING_DOWN.store(true, Ordering::Relaxed);
        tracing::debug!(%why, what, "the OS keyring is unavailable; using the token file");
        return Err(Unavailable(why));
    }
    answer
}

fn entry(name: &str) -> keyring::Result<keyring::Entry> {
    keyring::Entry::new(SERVICE, name)
}

/// Stores `token` under `name`; `false` when the keyring cannot be used.
pub(crate) fn set(name: &str, token: &str) -> bool {
    let (name, token) = (name.to_string(), token.to_string());
    match call("store the token", move || {
        entry(&name)?.set_password(&token)
    }) {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "the OS keyring refused the token; using the token file");
            false
        }
        Err(_) => false,
    }
}

/// The token stored under `name`: `Ok(None)` when there is none.
pub(crate) fn get(name: &str) -> Result<Option<String>, Unavailable> {
    let name = name.to_string();
    match call("read the token", move || entry(&name)?.get_password())? {
        Ok(token) => Ok(Some(token)),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(Unavailable(e.to_string())),
    }
}

/// Removes the token stored under `name`, if the keyring can be reached.
pub(crate) fn delete(name: &str) {
    let name = name.to_string();
    match call("remove the token", move || {
        entry(&name)?.delete_credential()
    }) {
        Ok(Ok(()) | Err(keyring::Error::NoEntry)) => {}
        Ok(Err(e)) => tracing::debug!(error = %e, "the OS keyring kept the old token"),
        Err(Unavailable(why)) => {
            tracing::debug!(%why, "the old token could not be removed from the OS keyring");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip() {
        for s in [TokenStore::Keyring, TokenStore::Database, TokenStore::File] {
            assert_eq!(TokenStore::from_setting(s.as_setting()), Some(s));
        }
        assert_eq!(TokenStore::from_setting("elsewhere"), None);
    }
}
