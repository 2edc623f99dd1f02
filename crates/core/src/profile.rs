//! Profiles: one directory per account, holding the local database and the
//! login token, both readable only by the user.
//!
//! The token lives in a file (`token`, mode 0600) next to the database: the
//! fallback the issue asks for, and for now the only store (an OS keyring can
//! be put in front of it without changing callers).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::outbox::write_private;
use crate::store::{LocalStore, keys};

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
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Account {
    pub server: String,
    pub username: String,
    pub device_id: Option<String>,
}

pub struct Profile {
    dir: PathBuf,
    store: Arc<LocalStore>,
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

    /// Opens (creating if needed) the profile in `dir`.
    pub fn open(dir: &Path) -> Result<Profile> {
        create_private_dir(dir)?;
        let store = LocalStore::open(&dir.join(DB_FILE))?;
        Ok(Profile {
            dir: dir.to_path_buf(),
            store: Arc::new(store),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn store(&self) -> &Arc<LocalStore> {
        &self.store
    }

    fn token_path(&self) -> PathBuf {
        self.dir.join(TOKEN_FILE)
    }

    pub fn token(&self) -> Result<Option<Token>> {
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

    pub(crate) fn save_login(&self, account: &Account, token: &Token) -> Result<()> {
        write_private(&self.token_path(), token.0.as_bytes())?;
        self.store.write(|tx| {
            crate::store::set_setting(tx, keys::SERVER, Some(&account.server))?;
            crate::store::set_setting(tx, keys::USERNAME, Some(&account.username))?;
            crate::store::set_setting(tx, keys::DEVICE_ID, account.device_id.as_deref())
        })
    }

    /// Forgets the token (the account and local data stay).
    pub(crate) fn clear_token(&self) -> Result<()> {
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
        let profile = Profile::open(&dir.path().join("p")).expect("open");
        assert_eq!(profile.token().expect("token"), None);
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
    }
}
