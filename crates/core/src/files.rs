//! Attached files on this laptop. Their bytes live in the profile's `files`
//! directory, named by SHA-256 (`files/ab/<sha256>`), so a file attached
//! twice or to two records is kept once. A file attached here is sent to
//! the server in resumable parts before the change naming it is pushed
//! (the state of each upload is in the local database beside the outbox);
//! a file named by a pulled record is fetched when opened, or with the
//! records for collections that say so, and evicted least recently used
//! beyond the cache limit unless it still waits to be sent. In an
//! encrypted profile the bytes are sealed (`sealed.rs`); read them with
//! [`Files::reader`] or [`Files::copy_out`], never from the path.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferry_protocol::FileRef;
use futures::StreamExt;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::sealed::{FileKey, Sealer};
use crate::store::LocalStore;
use crate::sync::api::{Api, BlobHead};

/// Bytes sent in one request of an upload: a dropped connection loses at
/// most this much.
pub const PART_BYTES: u64 = 8 * 1024 * 1024;
/// The folder of a profile holding its files.
pub const DIR: &str = "files";
/// Files sent or fetched at once: small files cost round trips and syncs
/// more than bytes.
pub const PARALLEL_TRANSFERS: usize = 4;

/// How long a file the server refused waits before it is sent again
/// unasked: its limits or the quota may have changed by then, and sending
/// it at every sync would spend a part's bytes each time for a refusal.
pub const REFUSED_RETRY: chrono::Duration = chrono::Duration::hours(1);
/// Bytes gathered before a write to disk.
const WRITE_BUFFER: usize = 1024 * 1024;
/// Bytes between two progress reports of a transfer.
const PROGRESS_STEP: u64 = 1024 * 1024;
/// The cache limit when the profile sets none (setting `file_cache_mb`).
pub const DEFAULT_CACHE_MB: u64 = 2048;
/// The setting holding the cache limit, in MB.
pub const CACHE_SETTING: &str = "file_cache_mb";

/// Progress of one file's transfer, for status displays.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileProgress {
    pub sha256: String,
    /// `upload` or `download`.
    pub direction: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub done: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub size: u64,
}

pub type Progress<'a> = &'a (dyn Fn(FileProgress) + Send + Sync);

/// The profile's file directory.
#[derive(Debug, Clone)]
pub struct Files {
    dir: PathBuf,
    key: Option<Arc<FileKey>>,
}

fn io(context: String) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::io(context, e)
}

impl Files {
    /// The files of the profile in `profile_dir`, sealed with `key` when the profile is encrypted.
    pub fn new(profile_dir: &Path, key: Option<FileKey>) -> Files {
        Files {
            dir: profile_dir.join(DIR),
            key: key.map(Arc::new),
        }
    }

    /// The plain bytes of a file kept here, from `offset` on. Blocking.
    pub fn reader(&self, path: &Path, offset: u64) -> Result<Box<dyn Read + Send>> {
        crate::sealed::reader(self.key.as_deref(), path, offset)
    }

    /// Copies the plain bytes of a file kept here to `to`. Blocking.
    pub fn copy_out(&self, path: &Path, to: &Path) -> Result<u64> {
        let mut input = self.reader(path, 0)?;
        let mut out =
            std::fs::File::create(to).map_err(io(format!("cannot write {}", to.display())))?;
        std::io::copy(&mut input, &mut out).map_err(io(format!(
            "cannot copy {} to {}",
            path.display(),
            to.display()
        )))
    }

    /// Keeps `bytes` at `path` in this profile (sealed when it is encrypted).
    pub fn write_small(&self, path: &Path, mut bytes: &[u8]) -> Result<()> {
        self.dir_for(path)?;
        let dir = path.parent().unwrap_or(&self.dir);
        let sealer = self.key.as_deref().map(Sealer::new);
        copy_in(&mut bytes, path, dir, sealer, |_| {})?
            .persist(path)
            .map_err(|e| Error::io(format!("cannot write {}", path.display()), e.error))?;
        Ok(())
    }

    /// Reads what [`Files::write_small`] kept. Blocking.
    pub fn read_small(&self, path: &Path) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.reader(path, 0)?
            .read_to_end(&mut out)
            .map_err(io(format!("cannot read {}", path.display())))?;
        Ok(out)
    }

    /// Seals the files an encrypted profile kept as they were (attached
    /// before it was encrypted), each through a new file renamed over the
    /// old, and removes the plain thumbnails and opened copies (made again
    /// when needed). Blocking.
    pub fn seal_plain(&self) -> Result<usize> {
        let Some(key) = self.key.as_deref() else {
            return Ok(0);
        };
        // Thumbnails, and the copies opened by older versions beside the files.
        let profile_dir = self.dir.parent().unwrap_or(&self.dir);
        for dir in [self.dir.join("thumbs"), profile_dir.join("open")] {
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(format!("cannot remove {}", dir.display()), e)),
            }
        }
        let fans = match std::fs::read_dir(&self.dir) {
            Ok(fans) => fans,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(Error::io(format!("cannot read {}", self.dir.display()), e)),
        };
        let mut sealed = 0;
        for fan in fans.flatten() {
            let name = fan.file_name();
            let name = name.to_string_lossy();
            // Partial fetches start over; kept files live in two-letter folders.
            if name == "partial" || name == "tmp" {
                let _ = std::fs::remove_dir_all(fan.path());
                continue;
            }
            if name.len() != 2 || !fan.path().is_dir() {
                continue;
            }
            let files = fan
                .path()
                .read_dir()
                .map_err(io(format!("cannot read {}", fan.path().display())))?;
            for file in files.flatten() {
                let path = file.path();
                if !path.is_file() || crate::sealed::is_sealed(&path)? {
                    continue;
                }
                self.seal_file(key, &path)?;
                sealed += 1;
            }
        }
        if sealed > 0 {
            tracing::info!(
                files = sealed,
                "attached files sealed with the profile's key"
            );
        }
        Ok(sealed)
    }

    fn sha256_of(&self, path: &Path) -> Result<String> {
        let mut file = self.reader(path, 0)?;
        let mut hasher = Sha256::new();
        std::io::copy(&mut file, &mut hasher)
            .map_err(io(format!("cannot read {}", path.display())))?;
        Ok(hex::encode(hasher.finalize()))
    }

    fn seal_file(&self, key: &FileKey, path: &Path) -> Result<()> {
        let dir = path.parent().unwrap_or(&self.dir);
        let mut input =
            std::fs::File::open(path).map_err(io(format!("cannot read {}", path.display())))?;
        let tmp = copy_in(&mut input, path, dir, Some(Sealer::new(key)), |_| {})?;
        tmp.persist(path)
            .map_err(|e| Error::io(format!("cannot write {}", path.display()), e.error))?;
        Ok(())
    }

    /// Where file `sha256`'s bytes are kept once present.
    pub fn path(&self, sha256: &str) -> PathBuf {
        let fan = sha256.get(..2).unwrap_or("00");
        self.dir.join(fan).join(sha256)
    }

    fn partial(&self, sha256: &str) -> PathBuf {
        self.dir.join("partial").join(sha256)
    }

    fn dir_for(&self, path: &Path) -> Result<()> {
        let parent = path.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(parent).map_err(io(format!("cannot create {}", parent.display())))
    }

    /// Copies `source` in, hashing it on the way: the bytes are kept even if
    /// the source is later moved or changed. Blocking.
    pub fn import(&self, source: &Path) -> Result<FileRef> {
        let mut input =
            std::fs::File::open(source).map_err(io(format!("cannot read {}", source.display())))?;
        if !input
            .metadata()
            .map_err(io(format!("cannot read {}", source.display())))?
            .is_file()
        {
            return Err(Error::BadFile {
                path: source.to_path_buf(),
                detail: "not a file".into(),
            });
        }
        let tmp_dir = self.dir.join("tmp");
        std::fs::create_dir_all(&tmp_dir)
            .map_err(io(format!("cannot create {}", tmp_dir.display())))?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let sealer = self.key.as_deref().map(Sealer::new);
        let tmp = copy_in(&mut input, source, &tmp_dir, sealer, |bytes| {
            hasher.update(bytes);
            size += bytes.len() as u64;
        })?;
        let sha256 = hex::encode(hasher.finalize());
        let path = self.path(&sha256);
        self.dir_for(&path)?;
        tmp.persist(&path)
            .map_err(|e| Error::io(format!("cannot write {}", path.display()), e.error))?;
        let name = source
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".into());
        let mime = mime_guess::from_path(source)
            .first_or_octet_stream()
            .essence_str()
            .to_string();
        Ok(FileRef {
            sha256,
            name,
            size,
            mime,
        })
    }

    /// The path of a file present here.
    pub fn present(&self, store: &LocalStore, sha256: &str) -> Result<Option<PathBuf>> {
        let path = self.path(sha256);
        let known = store.file(sha256)?.is_some_and(|f| f.present);
        Ok((known && path.is_file()).then_some(path))
    }

    /// Sends every file due to be sent. A file the server refuses (too
    /// large, over the quota) is marked failed with its reason, to be tried
    /// again after [`REFUSED_RETRY`] or when asked, and the others go on; a
    /// lost connection ends it (`Unreachable`), to continue where it
    /// stopped next time.
    pub async fn send_waiting(
        &self,
        api: &Api,
        store: &LocalStore,
        progress: Progress<'_>,
    ) -> Result<usize> {
        let files = store.files_due()?;
        let results: Vec<Result<bool>> = futures::stream::iter(files)
            .map(|file| self.send_one(api, store, file, progress))
            .buffer_unordered(PARALLEL_TRANSFERS)
            .collect()
            .await;
        let mut sent = 0;
        for result in results {
            if result? {
                sent += 1;
            }
        }
        Ok(sent)
    }

    /// Sends one file; `false` when it cannot be sent and is marked failed.
    async fn send_one(
        &self,
        api: &Api,
        store: &LocalStore,
        file: crate::store::files::LocalFile,
        progress: Progress<'_>,
    ) -> Result<bool> {
        let path = self.path(&file.sha256);
        if !file.present || !path.is_file() {
            store.file_upload_failed(
                &file.sha256,
                "its bytes are no longer on this laptop; attach it again",
                None,
            )?;
            return Ok(false);
        }
        match self.upload(api, store, &file, &path, progress).await {
            Ok(()) => {
                store.file_uploaded(&file.sha256)?;
                Ok(true)
            }
            Err(Error::Server { status, body }) if body.code != "upload_offset" => {
                tracing::info!(sha256 = %file.sha256, error = %body.message, "upload refused");
                // Too large or over the quota: the same answer until a limit changes.
                let retry_after = (status == 413).then_some(REFUSED_RETRY);
                store.file_upload_failed(&file.sha256, &body.message, retry_after)?;
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    async fn upload(
        &self,
        api: &Api,
        store: &LocalStore,
        file: &crate::store::files::LocalFile,
        path: &Path,
        progress: Progress<'_>,
    ) -> Result<()> {
        let (sha256, size) = (file.sha256.as_str(), file.size);
        // A part answered 409 (the server stands elsewhere) is asked again
        // from where it stands; a few in a row mean something else is wrong.
        let mut misplaced = 0;
        // Asked first: a file the server has already is never sent again.
        let mut offset = match api.blob_head(sha256).await? {
            BlobHead::Stored(_) => return Ok(()),
            BlobHead::Missing { offset } => offset.min(size),
        };
        loop {
            let len = PART_BYTES.min(size - offset);
            // Read from the disk as it is sent: never more than a buffer in memory.
            let reader = self.reader(path, offset)?;
            let stream = blocking_stream(reader.take(len), 256 * 1024);
            match api
                .blob_put(
                    sha256,
                    offset,
                    len,
                    size,
                    reqwest::Body::wrap_stream(stream),
                )
                .await
            {
                Ok(status) => {
                    offset = status.received.min(size);
                    store.file_sent(sha256, offset)?;
                    progress(FileProgress {
                        sha256: sha256.to_string(),
                        direction: "upload".into(),
                        done: offset,
                        size,
                    });
                    if offset >= size {
                        return Ok(());
                    }
                    misplaced = 0;
                }
                Err(Error::Server { status: 409, .. }) if misplaced < 3 => {
                    misplaced += 1;
                    offset = match api.blob_head(sha256).await? {
                        BlobHead::Stored(_) => return Ok(()),
                        BlobHead::Missing { offset } => offset.min(size),
                    };
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Fetches file `sha256` (`size` bytes) through the record naming it,
    /// unless it is here already; continues a fetch cut short. Its bytes
    /// are checked against the name before they are kept.
    pub async fn fetch(
        &self,
        api: &Api,
        store: &LocalStore,
        sha256: &str,
        through: (&str, uuid::Uuid),
        progress: Progress<'_>,
    ) -> Result<PathBuf> {
        if let Some(path) = self.present(store, sha256)? {
            store.file_used(sha256)?;
            return Ok(path);
        }
        let partial = self.partial(sha256);
        self.dir_for(&partial)?;
        let (mut sealer, have) = match self.key.as_deref() {
            Some(key) => {
                let (sealer, have) = Sealer::resume(key, &partial)?;
                (Some(sealer), have)
            }
            None => (None, std::fs::metadata(&partial).map_or(0, |m| m.len())),
        };
        let resp = api.blob_get(sha256, Some(through), have).await?;
        if resp.status() != reqwest::StatusCode::PARTIAL_CONTENT {
            // The whole file comes (again): sealed from its start, header and all.
            sealer = self.key.as_deref().map(Sealer::new);
        }
        let resumed = resp.status() == reqwest::StatusCode::PARTIAL_CONTENT;
        let size = resp
            .content_length()
            .map_or(0, |n| if resumed { have + n } else { n });
        let out = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(!resumed)
            .append(resumed)
            .open(&partial)
            .map_err(io(format!("cannot write {}", partial.display())))?;
        let writer = Writer::start(out, sealer, &partial);
        let mut done = if resumed { have } else { 0 };
        let mut told = done;
        // Hashed on the way unless continued (then read back at the end).
        let mut hasher = (!resumed).then(Sha256::new);
        let mut body = resp.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    // What arrived is kept, to continue from.
                    writer.stop().await?;
                    return Err(Error::Unreachable {
                        url: api.base().to_string(),
                        detail: e.to_string(),
                        kind: crate::error::ConnectionFailure::of(&e),
                    });
                }
            };
            if let Some(h) = hasher.as_mut() {
                h.update(&chunk);
            }
            done += chunk.len() as u64;
            if !writer.write(chunk).await {
                // The writer stopped on an error: `finish` says which.
                break;
            }
            if done - told >= PROGRESS_STEP || done == size {
                told = done;
                progress(FileProgress {
                    sha256: sha256.to_string(),
                    direction: "download".into(),
                    done,
                    size,
                });
            }
        }
        writer.finish().await?;
        let got = match hasher {
            Some(h) => hex::encode(h.finalize()),
            None => {
                let p = partial.clone();
                let files = self.clone();
                joined(
                    tokio::task::spawn_blocking(move || files.sha256_of(&p)).await,
                    "hashing",
                )?
            }
        };
        if got != sha256 {
            let _ = std::fs::remove_file(&partial);
            return Err(Error::Inconsistent(format!(
                "the server sent a file whose bytes do not match its name {sha256}; fetch it again"
            )));
        }
        let path = self.path(sha256);
        self.dir_for(&path)?;
        std::fs::rename(&partial, &path).map_err(io(format!("cannot write {}", path.display())))?;
        store.file_fetched(sha256, done)?;
        self.evict(store)?;
        Ok(path)
    }

    /// Removes the least recently used files beyond the cache limit, never
    /// one waiting to be sent.
    pub fn evict(&self, store: &LocalStore) -> Result<usize> {
        let limit = cache_limit(store)?;
        let mut n = 0;
        for file in store.files_to_evict(limit)? {
            if store.file_evicted(&file.sha256)? {
                let path = self.path(&file.sha256);
                if let Err(e) = std::fs::remove_file(&path)
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    return Err(Error::io(format!("cannot remove {}", path.display()), e));
                }
                n += 1;
            }
        }
        Ok(n)
    }
}

/// Seals (in an encrypted profile) and writes a fetch's bytes on a thread
/// of its own, beside the receiving and hashing.
struct Writer {
    /// `None` ends the file.
    chunks: tokio::sync::mpsc::Sender<Option<bytes::Bytes>>,
    done: tokio::task::JoinHandle<Result<()>>,
}

impl Writer {
    fn start(file: std::fs::File, mut sealer: Option<Sealer>, path: &Path) -> Writer {
        let (chunks, mut rx) = tokio::sync::mpsc::channel::<Option<bytes::Bytes>>(64);
        let context = format!("cannot write {}", path.display());
        let done = tokio::task::spawn_blocking(move || {
            let mut out = std::io::BufWriter::with_capacity(WRITE_BUFFER, file);
            let write_err = || io(context.clone());
            loop {
                match rx.blocking_recv() {
                    Some(Some(chunk)) => match sealer.as_mut() {
                        Some(s) => out.write_all(&s.push(&chunk)?),
                        None => out.write_all(&chunk),
                    }
                    .map_err(write_err())?,
                    // The end: the seal's last part, then a sync.
                    Some(None) => {
                        if let Some(s) = sealer.take() {
                            out.write_all(&s.finish()?).map_err(write_err())?;
                        }
                        out.flush().map_err(write_err())?;
                        return out.get_ref().sync_all().map_err(write_err());
                    }
                    // Stopped: what arrived is kept, to continue from.
                    None => return out.flush().map_err(write_err()),
                }
            }
        });
        Writer { chunks, done }
    }

    /// Hands `chunk` on; `false` once the writer stopped on an error.
    async fn write(&self, chunk: bytes::Bytes) -> bool {
        self.chunks.send(Some(chunk)).await.is_ok()
    }

    /// Keeps what was written, its seal unfinished, to continue from.
    async fn stop(self) -> Result<()> {
        drop(self.chunks);
        joined(self.done.await, "writing")
    }

    /// Ends the file and syncs it; or says why writing stopped.
    async fn finish(self) -> Result<()> {
        // A writer that stopped on an error has closed its end: `joined` says why.
        let _ = self.chunks.send(None).await;
        drop(self.chunks);
        joined(self.done.await, "writing")
    }
}

/// The result of a blocking task.
fn joined<T>(r: std::result::Result<Result<T>, tokio::task::JoinError>, what: &str) -> Result<T> {
    r.map_err(|e| Error::Inconsistent(format!("{what} failed: {e}")))?
}

/// The cache limit in bytes (setting `file_cache_mb`).
pub fn cache_limit(store: &LocalStore) -> Result<u64> {
    let mb = store
        .setting(CACHE_SETTING)?
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(DEFAULT_CACHE_MB);
    Ok(mb.saturating_mul(1024 * 1024))
}

/// Copies `input` (read from `source`) into a new synced temporary file in
/// `dir`, sealed when a sealer is given; `each` sees the plain bytes.
fn copy_in(
    input: &mut impl Read,
    source: &Path,
    dir: &Path,
    mut sealer: Option<Sealer>,
    mut each: impl FnMut(&[u8]),
) -> Result<tempfile::NamedTempFile> {
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(io(format!("cannot write in {}", dir.display())))?;
    let write_err = || io(format!("cannot write in {}", dir.display()));
    let mut buf = vec![0u8; 1024 * 1024];
    loop {
        let n = input
            .read(&mut buf)
            .map_err(io(format!("cannot read {}", source.display())))?;
        if n == 0 {
            break;
        }
        each(&buf[..n]);
        let written = match sealer.as_mut() {
            Some(s) => tmp.write_all(&s.push(&buf[..n])?),
            None => tmp.write_all(&buf[..n]),
        };
        written.map_err(write_err())?;
    }
    if let Some(s) = sealer {
        tmp.write_all(&s.finish()?).map_err(write_err())?;
    }
    tmp.as_file().sync_all().map_err(write_err())?;
    Ok(tmp)
}

/// The bytes of a blocking reader as a stream, read `chunk` at a time on the blocking pool.
fn blocking_stream(
    reader: impl Read + Send + 'static,
    chunk: usize,
) -> impl futures::Stream<Item = std::io::Result<Vec<u8>>> + Send + 'static {
    futures::stream::try_unfold(Some(reader), move |reader| async move {
        let Some(mut reader) = reader else {
            return Ok(None);
        };
        let (reader, buf) = tokio::task::spawn_blocking(move || {
            let mut buf = vec![0u8; chunk];
            let mut got = 0;
            while got < chunk {
                match reader.read(&mut buf[got..]) {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            buf.truncate(got);
            Ok((reader, buf))
        })
        .await
        .map_err(std::io::Error::other)??;
        if buf.is_empty() {
            return Ok(None);
        }
        Ok(Some((buf, Some(reader))))
    })
}
