//! Blob storage: the bytes of attached files, content-addressed by their
//! SHA-256, apart from the records that name them. Two backends behind one
//! trait, held to one conformance suite: a directory on disk (the default,
//! beside the SQLite database) and S3-compatible object storage (through the
//! `object_store` crate) for servers that scale out.

mod disk;
pub mod gc;
mod s3;

#[cfg(test)]
mod conformance;
/// moto on loopback, for the tests of this crate and of those that use it.
#[doc(hidden)]
pub mod moto;

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use tokio_util::sync::CancellationToken;

pub use disk::DiskBlobs;
pub use s3::S3Blobs;

/// A blob's name: the lowercase hex SHA-256 of its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobId(String);

impl BlobId {
    /// Reads 64 hex digits (either case); anything else is no blob id.
    pub fn parse(s: &str) -> Option<BlobId> {
        (s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| BlobId(s.to_ascii_lowercase()))
    }

    /// The id of `bytes`.
    pub fn of(bytes: &[u8]) -> BlobId {
        use sha2::Digest;
        BlobId(hex::encode(sha2::Sha256::digest(bytes)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for BlobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A stored blob, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    pub id: BlobId,
    pub size: u64,
    /// When it was stored (Unix ms): garbage collection spares young blobs.
    pub stored_ms: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob {0} is not stored")]
    NotFound(BlobId),
    #[error("bytes {start}-{end} are outside blob {id} ({size} bytes)")]
    Range {
        id: BlobId,
        start: u64,
        end: u64,
        size: u64,
    },
    #[error("blob storage: {0}")]
    Backend(String),
}

pub type BlobStream = BoxStream<'static, Result<Bytes, BlobError>>;

/// Where blobs live. Every method is safe to retry: storing a blob that is
/// already there changes nothing, deleting one that is gone succeeds.
#[async_trait::async_trait]
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    /// Stores the file at `path`, whose bytes the caller has checked hash to
    /// `id`. It is readable whole or not at all; `path` is left as it was.
    async fn put_file(&self, id: &BlobId, path: &Path) -> Result<(), BlobError>;
    /// Stores the file at `path` as [`BlobStore::put_file`] does, and takes
    /// it: afterwards `path` is gone (a store on the same disk moves it in
    /// instead of copying its bytes). The caller has synced it.
    async fn take_file(&self, id: &BlobId, path: &Path) -> Result<(), BlobError> {
        self.put_file(id, path).await?;
        match tokio::fs::remove_file(path).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(BlobError::Backend(format!(
                "cannot remove {}: {e}",
                path.display()
            ))),
            _ => Ok(()),
        }
    }
    /// The size of a stored blob; `None` when it is not stored.
    async fn size(&self, id: &BlobId) -> Result<Option<u64>, BlobError>;
    /// The bytes of `range` (the whole blob when `None`), streamed.
    async fn get(&self, id: &BlobId, range: Option<Range<u64>>) -> Result<BlobStream, BlobError>;
    async fn delete(&self, id: &BlobId) -> Result<(), BlobError>;
    /// Every stored blob, in no particular order.
    async fn list(&self) -> Result<Vec<BlobMeta>, BlobError>;
}

pub type DynBlobs = Arc<dyn BlobStore>;

/// The server's files: the store, where unfinished uploads wait, and the limits.
#[derive(Debug)]
pub struct Blobs {
    pub store: DynBlobs,
    /// Unfinished uploads, one file per user and blob (`DIR/USER/SHA-SIZE`),
    /// on this server's disk whatever the store.
    pub staging: std::path::PathBuf,
    /// Largest file, in bytes.
    pub max_blob_bytes: u64,
    /// Bytes of files each user may have uploaded in all; none: no quota.
    pub quota_bytes: Option<u64>,
    /// Uploads being written now, and the hashes of unfinished ones.
    pub(crate) uploads: Uploads,
}

/// One user's upload of one blob.
pub(crate) type UploadKey = (uuid::Uuid, BlobId);

/// Uploads on this server: one writer at a time per user and blob (a newer
/// request takes over from an older one, which keeps what arrived and
/// stops), and the SHA-256 of each unfinished upload's bytes so far, so the
/// last part need not read the file back (after a restart it is read).
#[derive(Debug, Default)]
pub(crate) struct Uploads {
    slots: std::sync::Mutex<HashMap<UploadKey, Arc<UploadSlot>>>,
    hashes: std::sync::Mutex<HashMap<UploadKey, (u64, sha2::Sha256)>>,
}

#[derive(Debug, Default)]
struct UploadSlot {
    turn: Arc<tokio::sync::Mutex<()>>,
    stop: std::sync::Mutex<CancellationToken>,
}

/// The right to write one upload, until dropped; `stop` fires when a newer
/// request for the same upload arrives.
pub(crate) struct UploadTurn<'a> {
    uploads: &'a Uploads,
    key: UploadKey,
    slot: Arc<UploadSlot>,
    _turn: tokio::sync::OwnedMutexGuard<()>,
    pub stop: CancellationToken,
}

/// Unfinished uploads whose hash is kept in memory; beyond, the oldest
/// are forgotten (and read back when they finish).
const HASHES_KEPT: usize = 4096;

impl Uploads {
    /// Waits for the upload's turn, asking an earlier writer to stop.
    pub(crate) async fn turn(&self, key: UploadKey) -> UploadTurn<'_> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots.entry(key.clone()).or_default().clone()
        };
        slot.stop.lock().unwrap_or_else(|p| p.into_inner()).cancel();
        let turn = slot.turn.clone().lock_owned().await;
        let stop = CancellationToken::new();
        *slot.stop.lock().unwrap_or_else(|p| p.into_inner()) = stop.clone();
        UploadTurn {
            uploads: self,
            key,
            slot,
            _turn: turn,
            stop,
        }
    }

    /// The hash of the upload's first `offset` bytes, when known; a new
    /// one at offset 0.
    pub(crate) fn take_hash(&self, key: &UploadKey, offset: u64) -> Option<sha2::Sha256> {
        let kept = self
            .hashes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
        match kept {
            Some((at, hash)) if at == offset => Some(hash),
            _ => (offset == 0).then(sha2::Sha256::default),
        }
    }

    pub(crate) fn keep_hash(&self, key: UploadKey, offset: u64, hash: sha2::Sha256) {
        let mut hashes = self.hashes.lock().unwrap_or_else(|p| p.into_inner());
        if hashes.len() >= HASHES_KEPT {
            hashes.clear();
        }
        hashes.insert(key, (offset, hash));
    }
}

impl Drop for UploadTurn<'_> {
    fn drop(&mut self) {
        let mut slots = self.uploads.slots.lock().unwrap_or_else(|p| p.into_inner());
        // Counted under the lock: the map's and ours means no one waits.
        if Arc::strong_count(&self.slot) <= 2 {
            slots.remove(&self.key);
        }
    }
}

/// Default [`Blobs::max_blob_bytes`]: 1 GiB.
pub const MAX_BLOB_BYTES: u64 = 1024 * 1024 * 1024;

impl Blobs {
    pub fn new(store: DynBlobs, staging: std::path::PathBuf) -> Blobs {
        Blobs {
            store,
            staging,
            max_blob_bytes: MAX_BLOB_BYTES,
            quota_bytes: None,
            uploads: Uploads::default(),
        }
    }
}

/// `bytes` in MB, to one decimal where it matters ("3.2 MB", "12 MB").
pub fn megabytes(bytes: u64) -> String {
    let mb = bytes as f64 / (1024.0 * 1024.0);
    if (mb - mb.round()).abs() < 0.05 {
        format!("{mb:.0} MB")
    } else {
        format!("{mb:.1} MB")
    }
}

/// Opens the blob store a `--blobs` setting names: `s3://BUCKET[/PREFIX]`
/// (endpoint, region and credentials from the usual `AWS_*` variables), or
/// a directory (`file:///var/lib/ferry/blobs` or a plain path).
pub fn open(setting: &str) -> Result<DynBlobs, BlobError> {
    if let Some(rest) = setting.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(BlobError::Backend(format!(
                "--blobs {setting}: say the bucket, s3://BUCKET[/PREFIX]"
            )));
        }
        return Ok(Arc::new(S3Blobs::from_env(bucket, prefix)?));
    }
    let dir = setting.strip_prefix("file://").unwrap_or(setting);
    if dir.is_empty() || setting.contains("://") && !setting.starts_with("file://") {
        return Err(BlobError::Backend(format!(
            "--blobs {setting}: give a directory or s3://BUCKET[/PREFIX]"
        )));
    }
    Ok(Arc::new(DiskBlobs::open(Path::new(dir))?))
}

/// Checks a byte range against a blob's size.
fn check_range(id: &BlobId, range: &Range<u64>, size: u64) -> Result<(), BlobError> {
    if range.start > range.end || range.end > size {
        return Err(BlobError::Range {
            id: id.clone(),
            start: range.start,
            end: range.end,
            size,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_64_hex_digits_in_lowercase() {
        let id = BlobId::of(b"hello");
        assert_eq!(
            id.as_str(),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(BlobId::parse(&id.as_str().to_uppercase()), Some(id));
        for bad in [
            "",
            "2cf24d",
            &"g".repeat(64),
            &"a".repeat(65),
            "../../etc/passwd",
        ] {
            assert_eq!(BlobId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_setting_names_a_directory_or_a_bucket() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("blobs");
        assert!(open(&path.to_string_lossy()).is_ok());
        assert!(path.is_dir(), "made on open");
        assert!(open(&format!("file://{}", path.display())).is_ok());
        for bad in ["", "s3://", "ftp://host/dir"] {
            assert!(open(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn the_disk_store_keeps_the_contract() {
        let dir = tempfile::tempdir().expect("dir");
        let root = dir.path().join("blobs");
        let store: DynBlobs = Arc::new(DiskBlobs::open(&root).expect("open"));
        // Unfinished uploads kept in the same directory are not blobs.
        let stray = root.join("uploads").join("ab");
        std::fs::create_dir_all(&stray).expect("dir");
        std::fs::write(stray.join("c".repeat(64)), b"part").expect("write");
        conformance::run_all(store, dir.path()).await;
    }

    #[tokio::test]
    async fn the_s3_store_keeps_the_contract() {
        let Some(moto) = moto::Moto::start().await else {
            return;
        };
        let dir = tempfile::tempdir().expect("dir");
        let store: DynBlobs = Arc::new(moto.store("conformance").await);
        conformance::run_all(store, dir.path()).await;
    }
}
