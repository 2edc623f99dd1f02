//! Profiles: one directory per account, holding the local database and the
//! login token, both readable only by the user.
//!
//! The token lives in the OS keyring where one answers, otherwise in a file
//! (`token`, mode 0600) next to the database ([`crate::token_store`]). The
//! database's settings remember which, so a token stays where it was put.
//! The database is encrypted ([`crate::encryption`]).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::encryption::{Protection, Unlock};
use crate::error::{Error, Result};
use crate::store::{LocalStore, keys, write_private};
pub use crate::token_store::{KeyringUse, TokenStore};

/// A bearer token. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn new(token: impl Into<String>) -> Token {
        Token(token.into())
    }

    /// The secret itself, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Who this profile is logged in as.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Account {
    pub server: String,
    pub username: String,
    pub device_id: Option<String>,
}

/// Set once the files of an encrypted profile are all sealed.
const FILES_SEALED: &str = "files_sealed";

pub struct Profile {
    dir: PathBuf,
    store: Arc<LocalStore>,
    protection: Protection,
    keyring: KeyringUse,
    /// The token once read, so a sync does not ask the keyring every time.
    token: Mutex<Option<Token>>,
}

impl fmt::Debug for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Profile")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

pub const DB_FILE: &str = "ferry.db";
pub const TOKEN_FILE: &str = "token";

impl Profile {
    /// The default profile directory: `<OS data dir>/ferry/default`.
    pub fn default_dir() -> Result<PathBuf> {
        dirs::data_dir()
            .map(|d| d.join("ferry").join("default"))
            .ok_or_else(|| {
                Error::io(
                    "cannot find the user's data directory",
                    std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "set --profile DIR or FERRY_PROFILE",
                    ),
                )
            })
    }

    /// Opens (creating if needed) the profile in `dir` as the environment
    /// says ([`Unlock::from_env`]).
    pub fn open(dir: &Path) -> Result<Profile> {
        Profile::open_with(dir, &Unlock::from_env())
    }

    /// Opens (creating if needed) the profile in `dir`: its database
    /// encrypted or unlocked with a key from the OS keyring or `unlock`'s
    /// passphrase; the token in the keyring where `unlock` allows.
    pub fn open_with(dir: &Path, unlock: &Unlock) -> Result<Profile> {
        create_private_dir(dir)?;
        let (store, protection) = crate::encryption::open_store(dir, unlock)?;
        if store.encrypted() && store.setting(FILES_SEALED)?.is_none() {
            // Files attached before the profile was encrypted are sealed once.
            crate::files::Files::new(dir, store.file_key()).seal_plain()?;
            store.set_setting(FILES_SEALED, Some("1"))?;
        }
        Ok(Profile {
            dir: dir.to_path_buf(),
            store: Arc::new(store),
            protection,
            keyring: unlock.keyring,
            token: Mutex::new(None),
        })
    }

    /// How the local data is protected.
    pub fn protection(&self) -> Protection {
        self.protection
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn store(&self) -> &Arc<LocalStore> {
        &self.store
    }

    /// The profile's attached files (sealed with its key when it is encrypted).
    pub fn files(&self) -> crate::files::Files {
        crate::files::Files::new(&self.dir, self.store.file_key())
    }

    fn token_path(&self) -> PathBuf {
        self.dir.join(TOKEN_FILE)
    }

    fn cached_token(&self) -> std::sync::MutexGuard<'_, Option<Token>> {
        self.token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Where the token is kept: `None` when there is no token.
    pub fn token_store(&self) -> Result<Option<TokenStore>> {
        let recorded = self
            .store
            .setting(keys::TOKEN_STORE)?
            .as_deref()
            .and_then(TokenStore::from_setting);
        Ok(match recorded {
            Some(TokenStore::Keyring) => Some(TokenStore::Keyring),
            Some(TokenStore::Database) => Some(TokenStore::Database),
            // Profiles from before the keyring keep their token in the file.
            _ => self.token_path().exists().then_some(TokenStore::File),
        })
    }

    /// The login token, if this profile has one.
    pub fn token(&self) -> Result<Option<Token>> {
        let mut cached = self.cached_token();
        if cached.is_none() {
            *cached = self.read_token()?;
        }
        Ok(cached.clone())
    }

    fn read_token(&self) -> Result<Option<Token>> {
        if self.token_store()? == Some(TokenStore::Database) {
            return Ok(self
                .store
                .setting(keys::TOKEN)?
                .filter(|t| !t.is_empty())
                .map(Token));
        }
        if self.token_store()? == Some(TokenStore::Keyring) {
            let name = self.store.setting(keys::TOKEN_ENTRY)?.unwrap_or_default();
            return match crate::token_store::get(&name) {
                Ok(token) => Ok(token.filter(|t| !t.is_empty()).map(Token)),
                Err(why) => {
                    // Not logged in, as far as this process can tell: logging in
                    // again keeps the new token in the file.
                    tracing::debug!(
                        ?why,
                        "the token is in the OS keyring, which cannot be reached"
                    );
                    Ok(None)
                }
            };
        }
        match std::fs::read_to_string(self.token_path()) {
            Ok(s) if !s.trim().is_empty() => Ok(Some(Token(s.trim().to_string()))),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(
                format!(
                    "cannot read the login token {}",
                    self.token_path().display()
                ),
                e,
            )),
        }
    }

    /// Keeps the account and its token: in the OS keyring when allowed and
    /// one answers, else in the encrypted database, else (a plain database)
    /// in the token file.
    pub(crate) fn save_login(&self, account: &Account, token: &Token) -> Result<()> {
        self.clear_token()?;
        let name = format!(
            "{}@{} {}",
            account.username,
            account.server,
            uuid::Uuid::new_v4().simple()
        );
        let in_keyring =
            self.keyring == KeyringUse::Auto && crate::token_store::set(&name, token.expose());
        let store = if in_keyring {
            TokenStore::Keyring
        } else if self.store.encrypted() {
            TokenStore::Database
        } else {
            write_private(&self.token_path(), token.0.as_bytes())?;
            TokenStore::File
        };
        let in_database = (store == TokenStore::Database).then_some(token.expose());
        self.store.set_settings(&[
            (keys::SERVER, Some(&account.server)),
            (keys::USERNAME, Some(&account.username)),
            (keys::DEVICE_ID, account.device_id.as_deref()),
            (keys::TOKEN_STORE, Some(store.as_setting())),
            (keys::TOKEN_ENTRY, in_keyring.then_some(name.as_str())),
            (keys::TOKEN, in_database),
        ])?;
        tracing::debug!(%store, "login token kept");
        *self.cached_token() = Some(token.clone());
        Ok(())
    }

    /// Forgets the token, wherever it is kept (the account and local data stay).
    pub(crate) fn clear_token(&self) -> Result<()> {
        *self.cached_token() = None;
        if let Some(name) = self.store.setting(keys::TOKEN_ENTRY)? {
            crate::token_store::delete(&name);
        }
        self.store.set_settings(&[
            (keys::TOKEN_STORE, None),
            (keys::TOKEN_ENTRY, None),
            (keys::TOKEN, None),
        ])?;
        match std::fs::remove_file(self.token_path()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(
                format!(
                    "cannot remove the login token {}",
                    self.token_path().display()
                ),
                e,
            )),
        }
    }

    /// Deletes this profile's local data, as the server asked: the key first
    /// (so what a disk may still hold can never be read), the sign-in, then
    /// the database, its damaged copies and rescued edits, and the files.
    /// Returns how many unsent edits were discarded. The profile is unusable
    /// afterwards; open it again to start over.
    pub fn wipe(&self) -> Result<i64> {
        let unsent = self.store.pending_counts().map(|p| p.outbox).unwrap_or(0);
        self.clear_token()?;
        crate::encryption::forget_key(&self.dir)?;
        let entries = std::fs::read_dir(&self.dir)
            .map_err(|e| Error::io(format!("cannot list {}", self.dir.display()), e))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            let ours = name.starts_with(DB_FILE)
                || name.starts_with("outbox-rescued-")
                || name == crate::files::DIR;
            if !ours {
                continue;
            }
            let path = entry.path();
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            removed.map_err(|e| Error::io(format!("cannot delete {}", path.display()), e))?;
        }
        tracing::warn!(unsent, "local data wiped as the server asked");
        Ok(unsent)
    }

    pub fn account(&self) -> Result<Option<Account>> {
        let (Some(server), Some(username)) = (
            self.store.setting(keys::SERVER)?,
            self.store.setting(keys::USERNAME)?,
        ) else {
            return Ok(None);
        };
        Ok(Some(Account {
            server,
            username,
            device_id: self.store.setting(keys::DEVICE_ID)?,
        }))
    }
}

fn create_private_dir(dir: &Path) -> Result<()> {
    let context = || format!("cannot create the profile directory {}", dir.display());
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| Error::io(context(), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_keyring_the_token_is_a_file_only_the_user_can_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let profile = Profile::open_with(
            &dir.path().join("p"),
            &Unlock::new(KeyringUse::Off).unencrypted(),
        )
        .expect("open");
        assert_eq!(profile.token().expect("token"), None);
        assert_eq!(profile.token_store().expect("store"), None);
        let account = Account {
            server: "http://127.0.0.1:1".into(),
            username: "alice".into(),
            device_id: None,
        };
        profile
            .save_login(&account, &Token::new("s3cret"))
            .expect("save");
        assert_eq!(
            profile.token().expect("token").as_ref().map(Token::expose),
            Some("s3cret")
        );
        assert!(!format!("{:?}", profile.token()).contains("s3cret"));
        assert_eq!(
            profile.token_store().expect("store"),
            Some(TokenStore::File)
        );
        // A fresh process reads it back from the file.
        let again = Profile::open_with(
            &dir.path().join("p"),
            &Unlock::new(KeyringUse::Off).unencrypted(),
        )
        .expect("reopen");
        assert_eq!(
            again.token().expect("token").as_ref().map(Token::expose),
            Some("s3cret")
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("p").join(TOKEN_FILE))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
            let mode = std::fs::metadata(dir.path().join("p"))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0);
        }
        assert_eq!(profile.account().expect("account"), Some(account));
        profile.clear_token().expect("clear");
        assert_eq!(profile.token().expect("token"), None);
        assert_eq!(profile.token_store().expect("store"), None);
        assert!(!dir.path().join("p").join(TOKEN_FILE).exists());
    }
}
