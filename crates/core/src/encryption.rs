//! The profile's database is encrypted with SQLCipher (AES-256, each page
//! authenticated) under a random 256-bit key. The key is kept in the OS
//! keyring when one answers; where none does it is derived from a passphrase
//! the user types (Argon2id), and never written beside the data.
//!
//! `encryption.json` in the profile says which, and holds a check value of
//! the key, so a wrong passphrase or a keyring holding another key is told
//! apart from a damaged file (which recovery would set aside). It holds
//! nothing secret. Whether the database itself is encrypted is read from its
//! first bytes: a plain SQLite file starts with its format name.
//!
//! A plain database (from before encryption, or made with
//! `FERRY_ENCRYPTION=off`) is encrypted in place on open: exported into a
//! new file that replaces the old one by a rename, after the key file is
//! written, so a crash at any moment leaves the old file or the new one.

use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{Error, Result, classify};
use crate::store::{LocalStore, write_private};
use crate::token_store::{self, KeyringUse};

/// Says how the profile's key is kept; nothing in it is secret.
pub const KEY_FILE: &str = "encryption.json";
const DB_FILE: &str = crate::profile::DB_FILE;
/// A new encrypted copy while a plain database is being encrypted.
const ENCRYPTING: &str = "ferry.db.encrypting";
/// What a plain SQLite database file starts with.
const PLAIN_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Argon2id cost for a passphrase: 46 MiB, one pass (OWASP's first choice).
const ARGON_MEMORY_KIB: u32 = 47_104;
const ARGON_ITERATIONS: u32 = 1;
const ARGON_LANES: u32 = 1;

/// How pages are authenticated. SQLCipher 4's default is HMAC-SHA512;
/// Ferry makes new databases with HMAC-SHA256, which processors with SHA
/// extensions compute about three times as fast (the page reads of a first
/// pull cost a third as much), and which is as strong for this use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum PageMac {
    /// What databases encrypted before the choice was recorded use.
    #[default]
    HmacSha512,
    HmacSha256,
}

impl PageMac {
    fn pragma(self) -> &'static str {
        match self {
            PageMac::HmacSha512 => "HMAC_SHA512",
            PageMac::HmacSha256 => "HMAC_SHA256",
        }
    }
}

/// How a database's pages are encrypted, beyond the key. Not stored in
/// the database (nothing of it is readable without them): `encryption.json`
/// says, and a key file that names none means SQLCipher 4's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Cipher {
    #[serde(default)]
    mac: PageMac,
    /// Bytes per page; SQLCipher's default, 4096, is what new databases
    /// use too. Larger pages make long scans cheaper (SQLCipher's work per
    /// page is partly fixed) and every edit dearer (each page it reads or
    /// writes is decrypted or encrypted whole): docs/performance.md has
    /// both measured.
    #[serde(default = "Cipher::default_page_size")]
    page_size: u32,
}

impl Default for Cipher {
    fn default() -> Cipher {
        Cipher {
            mac: PageMac::default(),
            page_size: Cipher::default_page_size(),
        }
    }
}

impl Cipher {
    /// What new databases use.
    const NEW: Cipher = Cipher {
        mac: PageMac::HmacSha256,
        page_size: 4096,
    };

    fn default_page_size() -> u32 {
        4096
    }

    /// Sets these on database `schema` of `conn`, after its key and before its first read.
    fn apply(self, conn: &Connection, schema: &str) -> rusqlite::Result<()> {
        let db = Some(rusqlite::DatabaseName::Attached(schema));
        conn.pragma_update(db, "cipher_page_size", self.page_size)?;
        conn.pragma_update(db, "cipher_hmac_algorithm", self.mac.pragma())
    }
}

/// A database key and how its pages are encrypted. Wiped from memory when
/// dropped; never printed.
#[derive(Clone)]
pub struct DbKey {
    key: Zeroizing<[u8; 32]>,
    cipher: Cipher,
}

impl std::fmt::Debug for DbKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DbKey(<redacted>)")
    }
}

impl DbKey {
    fn new(key: Zeroizing<[u8; 32]>, cipher: Cipher) -> DbKey {
        DbKey { key, cipher }
    }

    fn random() -> DbKey {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, key.as_mut());
        DbKey::new(key, Cipher::NEW)
    }

    fn from_hex(s: &str, cipher: Cipher) -> Option<DbKey> {
        let mut key = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(s.trim(), key.as_mut()).ok()?;
        Some(DbKey::new(key, cipher))
    }

    fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.key.as_ref()))
    }

    /// SQLCipher's raw-key form, `x'…'`: used as is, without its own key derivation.
    fn pragma(&self) -> Zeroizing<String> {
        Zeroizing::new(format!("x'{}'", self.to_hex().as_str()))
    }

    /// The key of the profile's attached files.
    pub(crate) fn file_key(&self) -> crate::sealed::FileKey {
        crate::sealed::FileKey::derive(&self.key)
    }

    /// Keys the connection's main database (before its first read).
    pub(crate) fn apply(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.pragma_update(None, "key", self.pragma().as_str())?;
        self.cipher.apply(conn, "main")
    }

    /// A value that tells whether a key is this one, and nothing about it.
    fn check(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"ferry database key check\0");
        h.update(self.key.as_ref());
        hex::encode(&h.finalize()[..16])
    }

    fn from_passphrase(
        passphrase: &str,
        salt: &[u8],
        cost: &Cost,
        cipher: Cipher,
    ) -> Result<DbKey> {
        let params = argon2::Params::new(cost.memory_kib, cost.iterations, cost.lanes, Some(32))
            .map_err(|e| Error::Inconsistent(format!("{KEY_FILE}: {e}")))?;
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut key = Zeroizing::new([0u8; 32]);
        argon
            .hash_password_into(passphrase.as_bytes(), salt, key.as_mut())
            .map_err(|e| Error::Inconsistent(format!("cannot derive the key: {e}")))?;
        Ok(DbKey::new(key, cipher))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Cost {
    memory_kib: u32,
    iterations: u32,
    lanes: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum KeyFile {
    /// A random key in the OS keyring, under `entry`.
    Keyring {
        entry: String,
        check: String,
        #[serde(flatten)]
        cipher: Cipher,
    },
    /// A key derived from the passphrase with Argon2id.
    Passphrase {
        salt: String,
        #[serde(flatten)]
        cost: Cost,
        check: String,
        #[serde(flatten)]
        cipher: Cipher,
    },
}

/// How a profile's local data is protected.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Protection {
    /// Encrypted, the key in the OS keyring.
    Keyring,
    /// Encrypted, the key derived from a passphrase typed at each start.
    Passphrase,
    /// Not encrypted: made with `FERRY_ENCRYPTION=off`.
    Off,
}

impl std::fmt::Display for Protection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Protection::Keyring => "encrypted; the key is in the OS keyring",
            Protection::Passphrase => "encrypted; the key comes from this profile's passphrase",
            Protection::Off => "NOT encrypted (FERRY_ENCRYPTION=off)",
        })
    }
}

/// How to open a profile's data.
#[derive(Clone)]
pub struct Unlock {
    /// Whether the OS keyring may keep the key (and the login token).
    pub keyring: KeyringUse,
    passphrase: Option<Zeroizing<String>>,
    encrypt: bool,
}

impl std::fmt::Debug for Unlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unlock")
            .field("keyring", &self.keyring)
            .field(
                "passphrase",
                &self.passphrase.as_ref().map(|_| "<redacted>"),
            )
            .field("encrypt", &self.encrypt)
            .finish()
    }
}

impl Unlock {
    /// Encrypted, with the keyring as allowed and no passphrase yet.
    pub fn new(keyring: KeyringUse) -> Unlock {
        Unlock {
            keyring,
            passphrase: None,
            encrypt: true,
        }
    }

    /// From the environment: `FERRY_KEYRING`, `FERRY_PASSPHRASE`, and
    /// `FERRY_ENCRYPTION=off` (a plain database stays plain; for
    /// measurements and for machines whose disks are encrypted anyway).
    pub fn from_env() -> Unlock {
        let mut unlock = Unlock::new(KeyringUse::from_env());
        if let Ok(p) = std::env::var("FERRY_PASSPHRASE")
            && !p.is_empty()
        {
            unlock = unlock.passphrase(p);
        }
        if let Ok(v) = std::env::var("FERRY_ENCRYPTION")
            && matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "off" | "0" | "false" | "no"
            )
        {
            unlock.encrypt = false;
        }
        unlock
    }

    pub fn passphrase(mut self, passphrase: impl Into<String>) -> Unlock {
        self.passphrase = Some(Zeroizing::new(passphrase.into()));
        self
    }

    /// A plain database stays plain, and a new one is made plain.
    pub fn unencrypted(mut self) -> Unlock {
        self.encrypt = false;
        self
    }

    pub fn has_passphrase(&self) -> bool {
        self.passphrase.is_some()
    }
}

/// Whether `db` is a plain SQLite file; `None` when it is absent or empty.
fn is_plain(db: &Path) -> Result<Option<bool>> {
    let mut head = [0u8; 16];
    let mut file = match std::fs::File::open(db) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(format!("cannot read {}", db.display()), e)),
    };
    let mut read = 0;
    while read < head.len() {
        match file.read(&mut head[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(e) => return Err(Error::io(format!("cannot read {}", db.display()), e)),
        }
    }
    Ok(match read {
        0 => None,
        _ => Some(read == head.len() && &head == PLAIN_HEADER),
    })
}

fn read_key_file(dir: &Path) -> Result<Option<KeyFile>> {
    let path = dir.join(KEY_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::BadFile {
                path,
                detail: format!("it does not say how this profile's key is kept ({e})"),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("cannot read {}", path.display()), e)),
    }
}

fn write_key_file(dir: &Path, file: &KeyFile) -> Result<()> {
    let tmp = dir.join(format!("{KEY_FILE}.tmp"));
    let text = serde_json::to_vec_pretty(file)
        .map_err(|e| Error::Inconsistent(format!("cannot write {KEY_FILE}: {e}")))?;
    write_private(&tmp, &text)?;
    rename_durably(&tmp, &dir.join(KEY_FILE))
}

fn rename_durably(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to)
        .map_err(|e| Error::io(format!("cannot replace {}", to.display()), e))?;
    if let Some(dir) = to.parent() {
        // The rename itself survives a power cut once the folder is synced.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Makes a key for a new encrypted database and says where it is kept.
fn new_key(unlock: &Unlock) -> Result<(DbKey, KeyFile)> {
    if unlock.keyring == KeyringUse::Auto {
        let key = DbKey::random();
        let entry = format!("database key {}", uuid::Uuid::new_v4().simple());
        if token_store::set(&entry, key.to_hex().as_str()) {
            let check = key.check();
            let cipher = key.cipher;
            return Ok((
                key,
                KeyFile::Keyring {
                    entry,
                    check,
                    cipher,
                },
            ));
        }
    }
    let Some(passphrase) = &unlock.passphrase else {
        return Err(Error::PassphraseNeeded { new: true });
    };
    let mut salt = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut salt);
    let cost = Cost {
        memory_kib: ARGON_MEMORY_KIB,
        iterations: ARGON_ITERATIONS,
        lanes: ARGON_LANES,
    };
    let key = DbKey::from_passphrase(passphrase, &salt, &cost, Cipher::NEW)?;
    let check = key.check();
    Ok((
        key,
        KeyFile::Passphrase {
            salt: hex::encode(salt),
            cost,
            check,
            cipher: Cipher::NEW,
        },
    ))
}

/// The key a key file describes.
fn existing_key(file: &KeyFile, unlock: &Unlock) -> Result<DbKey> {
    match file {
        KeyFile::Keyring {
            entry,
            check,
            cipher,
        } => {
            let found = token_store::get(entry).map_err(|why| Error::KeyUnavailable {
                detail: format!("does not answer ({})", why.0),
            })?;
            let key = found
                .as_deref()
                .and_then(|hex| DbKey::from_hex(hex, *cipher))
                .ok_or_else(|| Error::KeyUnavailable {
                    detail: "no longer holds it".into(),
                })?;
            if key.check() != *check {
                return Err(Error::KeyUnavailable {
                    detail: "holds a key that does not open it".into(),
                });
            }
            Ok(key)
        }
        KeyFile::Passphrase {
            salt,
            cost,
            check,
            cipher,
        } => {
            let Some(passphrase) = &unlock.passphrase else {
                return Err(Error::PassphraseNeeded { new: false });
            };
            let salt = hex::decode(salt).map_err(|e| Error::BadFile {
                path: PathBuf::from(KEY_FILE),
                detail: format!("its salt is not hex ({e})"),
            })?;
            let key = DbKey::from_passphrase(passphrase, &salt, cost, *cipher)?;
            if key.check() != *check {
                return Err(Error::WrongPassphrase);
            }
            Ok(key)
        }
    }
}

fn protection_of(file: &KeyFile) -> Protection {
    match file {
        KeyFile::Keyring { .. } => Protection::Keyring,
        KeyFile::Passphrase { .. } => Protection::Passphrase,
    }
}

/// Opens the database of the profile in `dir` (creating, encrypting or
/// unlocking it as `unlock` allows).
pub(crate) fn open_store(dir: &Path, unlock: &Unlock) -> Result<(LocalStore, Protection)> {
    let db = dir.join(DB_FILE);
    let recorded = read_key_file(dir)?;
    let plain = is_plain(&db)?;
    if plain != Some(false) && !unlock.encrypt {
        return Ok((LocalStore::open(&db)?, Protection::Off));
    }
    let (key, file) = match (plain, recorded) {
        // Not plain and no key file: either damaged or its key file lost.
        (Some(false), None) => {
            return Err(Error::Corrupt {
                path: db,
                detail: format!(
                    "it is not a plain database and {KEY_FILE}, which says where its key is, is missing"
                ),
            });
        }
        // A key file beside a plain (or no) database is one whose
        // encryption was cut short: it is done again with that key.
        (_, Some(file)) => (existing_key(&file, unlock)?, file),
        // The key file first: once the new database is in place its key
        // must be findable.
        (_, None) => {
            let (key, file) = new_key(unlock)?;
            write_key_file(dir, &file)?;
            (key, file)
        }
    };
    if plain == Some(true) {
        encrypt_in_place(dir, &key)?;
    }
    Ok((
        LocalStore::open_with_key(&db, Some(key))?,
        protection_of(&file),
    ))
}

/// Encrypts the plain database in `dir` under `key`.
fn encrypt_in_place(dir: &Path, key: &DbKey) -> Result<()> {
    let db = dir.join(DB_FILE);
    let new = dir.join(ENCRYPTING);
    for stale in [new.clone(), dir.join(format!("{ENCRYPTING}-journal"))] {
        match std::fs::remove_file(&stale) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(format!("cannot remove {}", stale.display()), e)),
        }
    }
    crate::store::restrict_new_file(&new)?;
    let started = std::time::Instant::now();
    {
        let plain = Connection::open(&db).map_err(|e| classify(&db, e))?;
        plain
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| classify(&db, e))?;
        let export = || -> rusqlite::Result<()> {
            // Everything in the log goes into the file first, so nothing is left behind in it.
            plain.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            let version: i64 = plain.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            plain.execute(
                "ATTACH DATABASE ?1 AS encrypted KEY ?2",
                rusqlite::params![new.to_string_lossy(), key.pragma().as_str()],
            )?;
            key.cipher.apply(&plain, "encrypted")?;
            plain.query_row("SELECT sqlcipher_export('encrypted')", [], |_| Ok(()))?;
            plain.execute_batch(&format!("PRAGMA encrypted.user_version = {version}"))?;
            plain.execute_batch("DETACH DATABASE encrypted")
        };
        export().map_err(|e| classify(&db, e))?;
    }
    std::fs::File::open(&new)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(format!("cannot sync {}", new.display()), e))?;
    // The old log and shared memory belong to the plain file; the log is empty now.
    for suffix in ["-wal", "-shm"] {
        let old = dir.join(format!("{DB_FILE}{suffix}"));
        match std::fs::remove_file(&old) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(format!("cannot remove {}", old.display()), e)),
        }
    }
    rename_durably(&new, &db)?;
    tracing::info!(elapsed = ?started.elapsed(), "the profile's database is now encrypted");
    Ok(())
}

/// The key of the encrypted database in `dir`; `None` when it is plain or absent.
pub(crate) fn key_of(dir: &Path, unlock: &Unlock) -> Result<Option<DbKey>> {
    match (is_plain(&dir.join(DB_FILE))?, read_key_file(dir)?) {
        (Some(false), Some(file)) => existing_key(&file, unlock).map(Some),
        _ => Ok(None),
    }
}

/// How the profile in `dir` is protected, without opening it.
pub fn protection(dir: &Path) -> Result<Protection> {
    Ok(match (is_plain(&dir.join(DB_FILE))?, read_key_file(dir)?) {
        (Some(false), Some(file)) => protection_of(&file),
        _ => Protection::Off,
    })
}

/// Forgets the key of the profile in `dir`: its keyring entry and key file.
/// Without it the database can never be read again.
pub(crate) fn forget_key(dir: &Path) -> Result<()> {
    if let Ok(Some(KeyFile::Keyring { entry, .. })) = read_key_file(dir) {
        token_store::delete(&entry);
    }
    match std::fs::remove_file(dir.join(KEY_FILE)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(format!("cannot remove {KEY_FILE}"), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_round_trips_through_hex_and_checks_only_itself() {
        let key = DbKey::random();
        let again = DbKey::from_hex(&key.to_hex(), Cipher::NEW).expect("hex");
        assert_eq!(key.check(), again.check());
        assert_ne!(key.check(), DbKey::random().check());
        assert!(!format!("{key:?}").contains(&key.to_hex()[..8]));
    }

    #[test]
    fn a_passphrase_gives_the_same_key_with_the_same_salt_only() {
        let cost = Cost {
            memory_kib: 1024,
            iterations: 1,
            lanes: 1,
        };
        let a = DbKey::from_passphrase("correct horse", b"0123456789abcdef", &cost, Cipher::NEW)
            .expect("a");
        let b = DbKey::from_passphrase("correct horse", b"0123456789abcdef", &cost, Cipher::NEW)
            .expect("b");
        let c = DbKey::from_passphrase("correct horse", b"fedcba9876543210", &cost, Cipher::NEW)
            .expect("c");
        assert_eq!(a.check(), b.check());
        assert_ne!(a.check(), c.check());
    }

    fn opens_with(db: &Path, key: &DbKey, mac: &str, page_size: u32) -> bool {
        let conn = Connection::open(db).expect("open");
        conn.pragma_update(None, "key", key.pragma().as_str())
            .expect("key");
        conn.pragma_update(None, "cipher_page_size", page_size)
            .expect("page size");
        conn.pragma_update(None, "cipher_hmac_algorithm", mac)
            .expect("mac");
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })
        .is_ok()
    }

    #[test]
    fn new_databases_use_hmac_sha256_and_the_page_size_recorded() {
        let unlock = Unlock::new(KeyringUse::Off).passphrase("correct horse");
        let new = tempfile::tempdir().expect("dir");
        drop(open_store(new.path(), &unlock).expect("new profile"));
        // A plain profile encrypted in place gets the same.
        let plain = tempfile::tempdir().expect("dir");
        drop(open_store(plain.path(), &unlock.clone().unencrypted()).expect("plain"));
        drop(open_store(plain.path(), &unlock).expect("encrypted in place"));
        for dir in [new.path(), plain.path()] {
            let file = read_key_file(dir).expect("read").expect("key file");
            let key = existing_key(&file, &unlock).expect("key");
            assert_eq!(key.cipher, Cipher::NEW);
            let db = dir.join(DB_FILE);
            assert!(opens_with(&db, &key, "HMAC_SHA256", 4096));
            assert!(
                !opens_with(&db, &key, "HMAC_SHA512", 4096),
                "not SQLCipher's default MAC"
            );
            assert!(
                !opens_with(&db, &key, "HMAC_SHA256", 8192),
                "pages of the size recorded"
            );
        }
    }

    #[test]
    fn a_key_file_opens_its_database_with_the_cipher_it_names_or_sqlcipher_defaults() {
        let cost = Cost {
            memory_kib: 1024,
            iterations: 1,
            lanes: 1,
        };
        let salt = b"0123456789abcdef";
        // (what the key file adds, the pragmas the database was made with)
        let cases = [
            (serde_json::json!({}), vec![]),
            (
                serde_json::json!({"mac": "hmac-sha256", "page_size": 8192}),
                vec![
                    ("cipher_page_size", "8192"),
                    ("cipher_hmac_algorithm", "HMAC_SHA256"),
                ],
            ),
        ];
        for (named, made_with) in cases {
            let dir = tempfile::tempdir().expect("dir");
            let key = DbKey::from_passphrase("correct horse", salt, &cost, Cipher::default())
                .expect("key");
            {
                let conn = Connection::open(dir.path().join(DB_FILE)).expect("open");
                conn.pragma_update(None, "key", key.pragma().as_str())
                    .expect("key");
                for (pragma, value) in &made_with {
                    conn.pragma_update(None, pragma, value).expect("cipher");
                }
                conn.execute_batch(
                    "CREATE TABLE kept (v TEXT); INSERT INTO kept VALUES ('still here');",
                )
                .expect("write");
            }
            let mut file = serde_json::json!({
                "kind": "passphrase",
                "salt": hex::encode(salt),
                "memory_kib": 1024,
                "iterations": 1,
                "lanes": 1,
                "check": key.check(),
            });
            if let (Some(file), Some(named)) = (file.as_object_mut(), named.as_object()) {
                file.extend(named.clone());
            }
            std::fs::write(dir.path().join(KEY_FILE), file.to_string()).expect("key file");
            let unlock = Unlock::new(KeyringUse::Off).passphrase("correct horse");
            let (store, protection) = open_store(dir.path(), &unlock).expect("opens");
            assert_eq!(protection, Protection::Passphrase);
            let kept: String = store
                .read(|c| Ok(c.query_row("SELECT v FROM kept", [], |r| r.get(0))?))
                .expect("read");
            assert_eq!(kept, "still here", "{named}");
        }
    }
}
