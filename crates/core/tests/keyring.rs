//! The key of an encrypted profile kept in the OS keyring, against a
//! keyring held in this process's memory (the `keyring` crate's own seam;
//! its real stores are the crate's to test): nothing typed, the key never
//! in a file, a keyring that lost the key or holds another is told apart
//! from damage and changes nothing, and a wipe takes the key away.

use std::any::Any;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, Once};

use ferry_core::{Error, KeyringUse, Profile, Protection, Unlock};
use keyring::credential::{Credential, CredentialApi, CredentialBuilderApi};

type Secrets = Arc<Mutex<HashMap<(String, String), Vec<u8>>>>;

#[derive(Debug)]
struct Memory(Secrets);

#[derive(Debug)]
struct Entry {
    secrets: Secrets,
    id: (String, String),
}

fn secrets() -> Secrets {
    static SECRETS: std::sync::OnceLock<Secrets> = std::sync::OnceLock::new();
    static INSTALL: Once = Once::new();
    let secrets = SECRETS.get_or_init(Secrets::default).clone();
    INSTALL.call_once(|| {
        keyring::set_default_credential_builder(Box::new(Memory(secrets.clone())));
    });
    secrets
}

fn held(s: &Secrets) -> std::sync::MutexGuard<'_, HashMap<(String, String), Vec<u8>>> {
    s.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl CredentialApi for Entry {
    fn set_secret(&self, secret: &[u8]) -> keyring::Result<()> {
        held(&self.secrets).insert(self.id.clone(), secret.to_vec());
        Ok(())
    }
    fn get_secret(&self) -> keyring::Result<Vec<u8>> {
        held(&self.secrets)
            .get(&self.id)
            .cloned()
            .ok_or(keyring::Error::NoEntry)
    }
    fn delete_credential(&self) -> keyring::Result<()> {
        held(&self.secrets)
            .remove(&self.id)
            .map(|_| ())
            .ok_or(keyring::Error::NoEntry)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl CredentialBuilderApi for Memory {
    fn build(
        &self,
        _target: Option<&str>,
        service: &str,
        user: &str,
    ) -> keyring::Result<Box<Credential>> {
        Ok(Box::new(Entry {
            secrets: self.0.clone(),
            id: (service.to_string(), user.to_string()),
        }))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The keyring entry encryption.json names.
fn entry_of(dir: &Path) -> (String, String) {
    let text = std::fs::read_to_string(dir.join("encryption.json")).expect("key file");
    let file: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(file["kind"], "keyring", "{text}");
    let entry = file["entry"].as_str().expect("entry").to_string();
    ("ferry".to_string(), entry)
}

/// A new profile keyed from the keyring: its folder (kept by the guard) and entry.
fn new_profile() -> (tempfile::TempDir, std::path::PathBuf, (String, String)) {
    let tmp = tempfile::tempdir().expect("dir");
    let dir = tmp.path().join("profile");
    let profile = Profile::open_with(&dir, &Unlock::new(KeyringUse::Auto)).expect("new");
    assert_eq!(profile.protection(), Protection::Keyring);
    drop(profile);
    let entry = entry_of(&dir);
    (tmp, dir, entry)
}

fn db_bytes(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("ferry.db")).expect("database")
}

#[test]
fn a_key_in_the_keyring_opens_the_profile_without_a_word_and_is_never_in_a_file() {
    let secrets = secrets();
    let tmp = tempfile::tempdir().expect("dir");
    let dir = tmp.path().join("profile");
    let auto = Unlock::new(KeyringUse::Auto);
    {
        let profile = Profile::open_with(&dir, &auto).expect("made without a passphrase");
        assert_eq!(profile.protection(), Protection::Keyring);
        assert!(profile.store().encrypted());
        profile
            .store()
            .set_setting("kept", Some("still here"))
            .expect("write");
    }
    let entry = entry_of(&dir);
    let key = held(&secrets)
        .get(&entry)
        .cloned()
        .expect("the key is in the keyring");
    let key = String::from_utf8(key).expect("hex");
    assert_eq!(key.len(), 64);
    for file in std::fs::read_dir(&dir).expect("list").flatten() {
        if file.path().is_file() {
            let bytes = std::fs::read(file.path()).expect("read");
            assert!(
                !bytes.windows(16).any(|w| w == &key.as_bytes()[..16]),
                "{} holds the key",
                file.path().display()
            );
        }
    }
    let again = Profile::open_with(&dir, &auto).expect("opens again, nothing typed");
    assert_eq!(again.protection(), Protection::Keyring);
    assert_eq!(
        again.store().setting("kept").expect("read").as_deref(),
        Some("still here")
    );
}

#[test]
fn a_keyring_that_lost_the_key_or_holds_another_is_said_and_changes_nothing() {
    let secrets = secrets();
    let (_tmp, dir, entry) = new_profile();
    let auto = Unlock::new(KeyringUse::Auto);
    let key = held(&secrets).get(&entry).cloned().expect("key");
    let before = db_bytes(&dir);

    held(&secrets).insert(entry.clone(), "ab".repeat(32).into_bytes());
    let err = Profile::open_with(&dir, &auto).expect_err("another key");
    assert!(
        matches!(&err, Error::KeyUnavailable { detail } if detail.contains("does not open")),
        "{err:?}"
    );
    held(&secrets).remove(&entry);
    let err = Profile::open_with(&dir, &auto).expect_err("no key");
    assert!(
        matches!(&err, Error::KeyUnavailable { detail } if detail.contains("no longer holds")),
        "{err:?}"
    );
    assert!(err.to_string().contains("keyring"), "{err}");
    assert_eq!(db_bytes(&dir), before, "the database is untouched");
    assert!(
        !std::fs::read_dir(&dir)
            .expect("list")
            .flatten()
            .any(|f| f.file_name().to_string_lossy().contains("damaged")),
        "nothing was set aside as damaged"
    );
    held(&secrets).insert(entry, key);
    assert!(
        Profile::open_with(&dir, &auto).is_ok(),
        "the key back, it opens"
    );
}

#[test]
fn a_wipe_takes_the_key_out_of_the_keyring() {
    let secrets = secrets();
    let (_tmp, dir, entry) = new_profile();
    let profile = Profile::open_with(&dir, &Unlock::new(KeyringUse::Auto)).expect("opens");
    assert!(held(&secrets).contains_key(&entry));
    profile.wipe().expect("wipe");
    assert!(!held(&secrets).contains_key(&entry), "the key is gone");
    assert!(!dir.join("ferry.db").exists());
    assert!(!dir.join("encryption.json").exists());
}
