//! Blobs as files in a directory: `ROOT/ab/cd/abcd…` (the id's first two
//! pairs of hex digits fan the files out), written to `ROOT/tmp` first and
//! renamed into place, so a blob is there whole or not at all.

use std::io::{ErrorKind, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};

use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use super::{BlobError, BlobId, BlobMeta, BlobStore, BlobStream, check_range};

/// Bytes read from disk at a time when a blob is sent.
const READ_BYTES: usize = 256 * 1024;

#[derive(Debug)]
pub struct DiskBlobs {
    root: PathBuf,
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> BlobError {
    BlobError::Backend(format!("{what} {}: {e}", path.display()))
}

impl DiskBlobs {
    /// Opens (and makes, when missing) the directory `root`.
    pub fn open(root: &Path) -> Result<DiskBlobs, BlobError> {
        let tmp = root.join("tmp");
        std::fs::create_dir_all(&tmp).map_err(|e| io_err("cannot make", &tmp, e))?;
        Ok(DiskBlobs {
            root: root.to_path_buf(),
        })
    }

    fn path(&self, id: &BlobId) -> PathBuf {
        let s = id.as_str();
        self.root.join(&s[..2]).join(&s[2..4]).join(s)
    }
}

/// Copies `from` to `to` through a synced temporary file in `tmp`.
fn store_whole(from: &Path, to: &Path, tmp: &Path) -> Result<(), BlobError> {
    let parent = to
        .parent()
        .ok_or_else(|| BlobError::Backend(format!("no directory for {}", to.display())))?;
    std::fs::create_dir_all(parent).map_err(|e| io_err("cannot make", parent, e))?;
    let staged = tmp.join(uuid::Uuid::now_v7().to_string());
    let result = (|| {
        std::fs::copy(from, &staged).map_err(|e| io_err("cannot copy", from, e))?;
        std::fs::File::open(&staged)
            .and_then(|f| f.sync_all())
            .map_err(|e| io_err("cannot sync", &staged, e))?;
        std::fs::rename(&staged, to).map_err(|e| io_err("cannot place", to, e))?;
        std::fs::File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_err("cannot sync", parent, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&staged);
    }
    result
}

/// Moves synced `from` to `to` (copying when they are on different disks),
/// or drops it when `to` is there already.
fn move_whole(from: &Path, to: &Path, tmp: &Path) -> Result<(), BlobError> {
    let remove = |p: &Path| match std::fs::remove_file(p) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(io_err("cannot remove", p, e)),
        _ => Ok(()),
    };
    if to.is_file() {
        return remove(from);
    }
    let parent = to
        .parent()
        .ok_or_else(|| BlobError::Backend(format!("no directory for {}", to.display())))?;
    std::fs::create_dir_all(parent).map_err(|e| io_err("cannot make", parent, e))?;
    match std::fs::rename(from, to) {
        Ok(()) => std::fs::File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_err("cannot sync", parent, e)),
        Err(e) if e.kind() == ErrorKind::CrossesDevices => {
            store_whole(from, to, tmp)?;
            remove(from)
        }
        Err(e) => Err(io_err("cannot place", to, e)),
    }
}

fn list_under(root: &Path) -> Result<Vec<BlobMeta>, BlobError> {
    let mut out = Vec::new();
    let read = |dir: &Path| std::fs::read_dir(dir).map_err(|e| io_err("cannot list", dir, e));
    for first in read(root)? {
        let first = first.map_err(|e| io_err("cannot list", root, e))?.path();
        // Only the fan-out directories (two hex digits): not tmp, nor uploads kept beside.
        let fan_out = |p: &Path| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.len() == 2 && n.bytes().all(|b| b.is_ascii_hexdigit()))
        };
        if !first.is_dir() || !fan_out(&first) {
            continue;
        }
        for second in read(&first)? {
            let second = second.map_err(|e| io_err("cannot list", &first, e))?.path();
            if !second.is_dir() || !fan_out(&second) {
                continue;
            }
            for file in read(&second)? {
                let file = file.map_err(|e| io_err("cannot list", &second, e))?;
                let Some(id) = file.file_name().to_str().and_then(BlobId::parse) else {
                    continue;
                };
                let meta = file
                    .metadata()
                    .map_err(|e| io_err("cannot read", &file.path(), e))?;
                let stored_ms = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
                out.push(BlobMeta {
                    id,
                    size: meta.len(),
                    stored_ms,
                });
            }
        }
    }
    Ok(out)
}

fn blocking_err(e: tokio::task::JoinError) -> BlobError {
    BlobError::Backend(format!("a blob task failed: {e}"))
}

#[async_trait::async_trait]
impl BlobStore for DiskBlobs {
    async fn put_file(&self, id: &BlobId, path: &Path) -> Result<(), BlobError> {
        let to = self.path(id);
        if tokio::fs::try_exists(&to).await.unwrap_or(false) {
            return Ok(());
        }
        let (from, tmp) = (path.to_path_buf(), self.root.join("tmp"));
        tokio::task::spawn_blocking(move || store_whole(&from, &to, &tmp))
            .await
            .map_err(blocking_err)?
    }

    async fn take_file(&self, id: &BlobId, path: &Path) -> Result<(), BlobError> {
        let (from, to, tmp) = (path.to_path_buf(), self.path(id), self.root.join("tmp"));
        tokio::task::spawn_blocking(move || move_whole(&from, &to, &tmp))
            .await
            .map_err(blocking_err)?
    }

    async fn size(&self, id: &BlobId) -> Result<Option<u64>, BlobError> {
        let path = self.path(id);
        match tokio::fs::metadata(&path).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("cannot read", &path, e)),
        }
    }

    async fn get(&self, id: &BlobId, range: Option<Range<u64>>) -> Result<BlobStream, BlobError> {
        let path = self.path(id);
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(BlobError::NotFound(id.clone()));
            }
            Err(e) => return Err(io_err("cannot open", &path, e)),
        };
        let size = file
            .metadata()
            .await
            .map_err(|e| io_err("cannot read", &path, e))?
            .len();
        let range = range.unwrap_or(0..size);
        check_range(id, &range, size)?;
        file.seek(SeekFrom::Start(range.start))
            .await
            .map_err(|e| io_err("cannot read", &path, e))?;
        // Large reads: each is a trip to the blocking pool.
        let stream = ReaderStream::with_capacity(file.take(range.end - range.start), READ_BYTES)
            .map(move |chunk| chunk.map_err(|e| io_err("cannot read", &path, e)));
        Ok(stream.boxed())
    }

    async fn delete(&self, id: &BlobId) -> Result<(), BlobError> {
        let path = self.path(id);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("cannot delete", &path, e)),
        }
    }

    async fn list(&self) -> Result<Vec<BlobMeta>, BlobError> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || list_under(&root))
            .await
            .map_err(blocking_err)?
    }
}
