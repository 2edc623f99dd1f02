//! Attached files at rest in an encrypted profile. Each file is sealed with
//! AES-256-GCM in the STREAM construction (the `aead` crate's `StreamBE32`):
//! 64 KiB chunks, each authenticated with its position and with whether it
//! is the last, so chunks cannot be reordered, dropped or cut off unnoticed.
//! The key is derived from the database key (HKDF-SHA256), so it lives and
//! dies with it: a wiped profile's files are unreadable even if their
//! blocks survive on the disk.
//!
//! Layout: `FERRYF1\0`, a random 7-byte nonce prefix, one zero byte, then
//! the chunks (64 KiB + a 16-byte tag each; the last holds 0 to 64 KiB).
//! Plain byte `n` is in chunk `n / 64 KiB`, so a read can start anywhere.
//! A profile that is not encrypted keeps its files as they are.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::stream::{NewStream, StreamBE32, StreamPrimitive};
use aes_gcm::aead::{KeyInit, Payload};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Plain bytes in a chunk.
pub const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;
const SEALED_CHUNK: u64 = (CHUNK + TAG) as u64;
const MAGIC: &[u8; 8] = b"FERRYF1\0";
const NONCE: usize = 7;
/// Bytes before the first chunk.
pub const HEADER: u64 = 16;

/// The key of a profile's files.
#[derive(Clone)]
pub struct FileKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for FileKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileKey(<redacted>)")
    }
}

impl FileKey {
    /// The files' key of a database key: never the database key itself.
    pub(crate) fn derive(database_key: &[u8; 32]) -> FileKey {
        let mut key = Zeroizing::new([0u8; 32]);
        hkdf::Hkdf::<sha2::Sha256>::new(None, database_key)
            .expand(b"ferry attached files v1", key.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 length");
        FileKey(key)
    }

    fn stream(&self, nonce: &[u8; NONCE]) -> StreamBE32<Aes256Gcm> {
        let cipher =
            Aes256Gcm::new_from_slice(self.0.as_ref()).expect("an AES-256 key is 32 bytes");
        StreamBE32::from_aead(cipher, nonce.into())
    }
}

fn damaged(path: &Path, detail: &str) -> Error {
    Error::BadFile {
        path: path.to_path_buf(),
        detail: format!(
            "{detail}: it is damaged, or was not sealed with this profile's key; fetch or attach it again"
        ),
    }
}

/// Seals a file as its plain bytes come: what [`Sealer::push`] and
/// [`Sealer::finish`] return is written, in order, after what was there.
pub struct Sealer {
    stream: StreamBE32<Aes256Gcm>,
    header: Option<[u8; HEADER as usize]>,
    position: u32,
    pending: Vec<u8>,
}

impl Sealer {
    /// A new sealed file (its header comes with the first bytes out).
    pub fn new(key: &FileKey) -> Sealer {
        let mut nonce = [0u8; NONCE];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
        let mut header = [0u8; HEADER as usize];
        header[..MAGIC.len()].copy_from_slice(MAGIC);
        header[MAGIC.len()..MAGIC.len() + NONCE].copy_from_slice(&nonce);
        Sealer {
            stream: key.stream(&nonce),
            header: Some(header),
            position: 0,
            pending: Vec::with_capacity(CHUNK + 1),
        }
    }

    /// Continues the sealed file at `path`, which holds whole chunks that
    /// are not the last (a transfer cut short): cuts off a torn chunk and
    /// says how many plain bytes it holds. A file that is not a sealed
    /// beginning is started over.
    pub fn resume(key: &FileKey, path: &Path) -> Result<(Sealer, u64)> {
        let restart = || -> Result<(Sealer, u64)> {
            std::fs::write(path, b"")
                .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
            Ok((Sealer::new(key), 0))
        };
        let mut file = match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Sealer::new(key), 0)),
            Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), e)),
        };
        let len = file
            .metadata()
            .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?
            .len();
        let mut header = [0u8; HEADER as usize];
        if len < HEADER || file.read_exact(&mut header).is_err() || &header[..MAGIC.len()] != MAGIC
        {
            return restart();
        }
        let nonce: [u8; NONCE] = header[MAGIC.len()..MAGIC.len() + NONCE]
            .try_into()
            .map_err(|_| damaged(path, "its header is short"))?;
        let stream = key.stream(&nonce);
        let mut whole = (len - HEADER) / SEALED_CHUNK;
        // The last whole chunk must open as a middle chunk: one that does
        // not (the final chunk, or bytes from elsewhere) is done again.
        if whole > 0 {
            let mut chunk = vec![0u8; SEALED_CHUNK as usize];
            let at = HEADER + (whole - 1) * SEALED_CHUNK;
            let opens = file.seek(SeekFrom::Start(at)).is_ok()
                && file.read_exact(&mut chunk).is_ok()
                && u32::try_from(whole - 1)
                    .ok()
                    .is_some_and(|p| stream.decrypt(p, false, chunk.as_slice()).is_ok());
            if !opens {
                whole -= 1;
            }
        }
        let position = u32::try_from(whole).map_err(|_| damaged(path, "too many chunks"))?;
        file.set_len(HEADER + whole * SEALED_CHUNK)
            .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
        Ok((
            Sealer {
                stream,
                header: None,
                position,
                pending: Vec::with_capacity(CHUNK + 1),
            },
            whole * CHUNK as u64,
        ))
    }

    /// Takes plain bytes; returns the sealed bytes of every chunk now known
    /// not to be the last.
    pub fn push(&mut self, mut data: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        if let Some(header) = self.header.take() {
            out.extend_from_slice(&header);
        }
        while !data.is_empty() {
            let room = CHUNK + 1 - self.pending.len();
            let take = room.min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
            // A chunk is sealed once a byte after it has come.
            if self.pending.len() > CHUNK {
                let rest = self.pending.split_off(CHUNK);
                let sealed = self
                    .stream
                    .encrypt(self.position, false, self.pending.as_slice())
                    .map_err(|_| Error::Inconsistent("cannot seal a file chunk".into()))?;
                out.extend_from_slice(&sealed);
                self.position = self
                    .position
                    .checked_add(1)
                    .ok_or_else(|| Error::Inconsistent("a file of over 256 TiB".into()))?;
                self.pending = rest;
                self.pending.reserve(CHUNK + 1);
            }
        }
        Ok(out)
    }

    /// The last chunk (holding what is pending, perhaps nothing).
    pub fn finish(mut self) -> Result<Vec<u8>> {
        let mut out = self.header.take().map(|h| h.to_vec()).unwrap_or_default();
        let sealed = self
            .stream
            .encrypt(
                self.position,
                true,
                Payload {
                    msg: &self.pending,
                    aad: b"",
                },
            )
            .map_err(|_| Error::Inconsistent("cannot seal a file chunk".into()))?;
        out.extend_from_slice(&sealed);
        Ok(out)
    }
}

/// Whether the file at `path` is sealed (rather than kept as it is).
pub fn is_sealed(path: &Path) -> Result<bool> {
    let mut file = std::fs::File::open(path)
        .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    let mut head = [0u8; MAGIC.len()];
    Ok(file.read_exact(&mut head).is_ok() && &head == MAGIC)
}

/// Reads the plain bytes of a kept file from `offset` on: a sealed file is
/// opened with `key` (chunk by chunk, each checked), any other as it is.
pub fn reader(key: Option<&FileKey>, path: &Path, offset: u64) -> Result<Box<dyn Read + Send>> {
    let fail = |e| Error::io(format!("cannot read {}", path.display()), e);
    let mut file = std::fs::File::open(path).map_err(fail)?;
    let len = file.metadata().map_err(fail)?.len();
    let mut header = [0u8; HEADER as usize];
    let sealed =
        len >= HEADER && file.read_exact(&mut header).is_ok() && &header[..MAGIC.len()] == MAGIC;
    if !sealed {
        file.seek(SeekFrom::Start(offset)).map_err(fail)?;
        return Ok(Box::new(file));
    }
    let Some(key) = key else {
        return Err(Error::BadFile {
            path: path.to_path_buf(),
            detail: "it is sealed, and this profile has no key to open it".into(),
        });
    };
    let nonce: [u8; NONCE] = header[MAGIC.len()..MAGIC.len() + NONCE]
        .try_into()
        .map_err(|_| damaged(path, "its header is short"))?;
    let chunks = (len - HEADER).div_ceil(SEALED_CHUNK);
    let position = offset / CHUNK as u64;
    file.seek(SeekFrom::Start(HEADER + position * SEALED_CHUNK))
        .map_err(fail)?;
    Ok(Box::new(Opener {
        stream: key.stream(&nonce),
        file,
        path: path.to_path_buf(),
        position,
        chunks,
        skip: (offset % CHUNK as u64) as usize,
        plain: Vec::new(),
        at: 0,
        sealed: vec![0u8; SEALED_CHUNK as usize],
    }))
}

struct Opener {
    stream: StreamBE32<Aes256Gcm>,
    file: std::fs::File,
    path: std::path::PathBuf,
    position: u64,
    chunks: u64,
    skip: usize,
    plain: Vec<u8>,
    at: usize,
    sealed: Vec<u8>,
}

impl Opener {
    fn next_chunk(&mut self) -> std::io::Result<bool> {
        if self.position >= self.chunks {
            return Ok(false);
        }
        let last = self.position + 1 == self.chunks;
        let mut got = 0;
        while got < self.sealed.len() {
            match self.file.read(&mut self.sealed[got..])? {
                0 => break,
                n => got += n,
            }
        }
        let bad = |detail: &str| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                damaged(&self.path, detail).to_string(),
            )
        };
        if got < TAG || (!last && got < self.sealed.len()) {
            return Err(bad("it ends early"));
        }
        let position = u32::try_from(self.position).map_err(|_| bad("too many chunks"))?;
        self.plain = self
            .stream
            .decrypt(position, last, &self.sealed[..got])
            .map_err(|_| bad("a part does not open"))?;
        self.at = std::mem::take(&mut self.skip).min(self.plain.len());
        self.position += 1;
        Ok(true)
    }
}

impl Read for Opener {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at >= self.plain.len() {
            if !self.next_chunk()? {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.plain.len() - self.at);
        buf[..n].copy_from_slice(&self.plain[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> FileKey {
        FileKey::derive(&[7u8; 32])
    }

    fn sealed(bytes: &[u8], pushes: usize) -> Vec<u8> {
        let mut s = Sealer::new(&key());
        let mut out = Vec::new();
        let step = bytes.len().div_ceil(pushes.max(1)).max(1);
        for part in bytes.chunks(step) {
            out.extend(s.push(part).expect("push"));
        }
        out.extend(s.finish().expect("finish"));
        out
    }

    fn read_from(path: &Path, offset: u64) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        reader(Some(&key()), path, offset)
            .map_err(|e| std::io::Error::other(e.to_string()))?
            .read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn sealed_bytes_read_back_from_any_offset_and_hide_the_plain_text() {
        let dir = tempfile::tempdir().expect("dir");
        for size in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17] {
            let plain: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let path = dir.path().join(format!("f{size}"));
            std::fs::write(&path, sealed(&plain, 7)).expect("write");
            assert!(is_sealed(&path).expect("sealed"));
            for offset in [0, 1, CHUNK as u64, size as u64 / 2, size as u64] {
                let offset = offset.min(size as u64);
                assert_eq!(
                    read_from(&path, offset).expect("read"),
                    plain[offset as usize..],
                    "size {size} offset {offset}"
                );
            }
        }
        let secret = b"a contract nobody else may read ".repeat(5000);
        let path = dir.path().join("secret");
        std::fs::write(&path, sealed(&secret, 3)).expect("write");
        let on_disk = std::fs::read(&path).expect("read");
        assert!(!on_disk.windows(20).any(|w| w == &secret[..20]));
    }

    #[test]
    fn a_changed_reordered_or_cut_file_is_refused_not_read_as_garbage() {
        let dir = tempfile::tempdir().expect("dir");
        let plain: Vec<u8> = (0..3 * CHUNK + 5).map(|i| (i % 13) as u8).collect();
        let good = sealed(&plain, 1);
        let path = dir.path().join("f");
        let flipped = {
            let mut b = good.clone();
            b[HEADER as usize + CHUNK + 100] ^= 1;
            b
        };
        let cut = good[..(HEADER + 2 * SEALED_CHUNK) as usize].to_vec();
        let swapped = {
            let mut b = good.clone();
            let (h, c) = (HEADER as usize, SEALED_CHUNK as usize);
            let first = b[h..h + c].to_vec();
            let second = b[h + c..h + 2 * c].to_vec();
            b[h..h + c].copy_from_slice(&second);
            b[h + c..h + 2 * c].copy_from_slice(&first);
            b
        };
        for (what, bytes) in [("flipped", flipped), ("cut", cut), ("swapped", swapped)] {
            std::fs::write(&path, bytes).expect("write");
            assert!(read_from(&path, 0).is_err(), "{what} must not read");
        }
        std::fs::write(&path, &good).expect("write");
        let other = FileKey::derive(&[8u8; 32]);
        let mut out = Vec::new();
        assert!(
            reader(Some(&other), &path, 0)
                .expect("opens")
                .read_to_end(&mut out)
                .is_err()
        );
    }

    #[test]
    fn a_sealing_cut_short_continues_after_its_last_whole_chunk() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("partial");
        let plain: Vec<u8> = (0..4 * CHUNK + 99).map(|i| (i % 241) as u8).collect();
        let mut s = Sealer::new(&key());
        let mut written = s.push(&plain[..2 * CHUNK + 500]).expect("push");
        // Cut in the middle of the second chunk's bytes on disk.
        written.truncate(written.len() - 1000);
        std::fs::write(&path, &written).expect("write");
        let (mut s, have) = Sealer::resume(&key(), &path).expect("resume");
        assert_eq!(have, CHUNK as u64);
        let mut rest = s.push(&plain[have as usize..]).expect("push");
        rest.extend(s.finish().expect("finish"));
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open");
        std::io::Write::write_all(&mut file, &rest).expect("append");
        assert_eq!(read_from(&path, 0).expect("read"), plain);
        // A finished file cut before its rename: its last chunk is done again.
        let done = sealed(&plain[..2 * CHUNK], 1);
        std::fs::write(&path, &done).expect("write");
        let (_, have) = Sealer::resume(&key(), &path).expect("resume");
        assert_eq!(have, CHUNK as u64);
    }
}
