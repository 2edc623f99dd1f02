//! Attached files this laptop holds or must send (their bytes live in the
//! profile's `files` directory, see [`crate::files`]).

use rusqlite::{OptionalExtension, params};

use super::{LocalStore, now_rfc3339, rfc3339};
use crate::error::Result;

/// What this laptop knows of one file.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LocalFile {
    pub sha256: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub size: u64,
    /// Its bytes are on this laptop.
    pub present: bool,
    /// `waiting` (to send), `failed` (see `error`), or absent (nothing to send).
    pub upload: Option<String>,
    /// Bytes the server has of an upload.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub sent: u64,
    pub error: Option<String>,
    /// When a file the server refused is tried again (RFC 3339); absent: at
    /// the next sync.
    pub retry_at: Option<String>,
}

fn file_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<LocalFile> {
    Ok(LocalFile {
        sha256: r.get(0)?,
        size: r.get::<_, i64>(1)?.max(0) as u64,
        present: r.get(2)?,
        upload: r.get(3)?,
        sent: r.get::<_, i64>(4)?.max(0) as u64,
        error: r.get(5)?,
        retry_at: r.get(6)?,
    })
}

const FILE_COLUMNS: &str = "sha256, size, present, upload, sent, error, retry_at";

fn size_i64(size: u64) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
}

impl LocalStore {
    /// Notes a file just attached here: present, and waiting to be sent.
    pub fn file_added(&self, sha256: &str, size: u64) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO files (sha256, size, present, upload, used_at) VALUES (?1, ?2, 1, 'waiting', ?3)
                 ON CONFLICT (sha256) DO UPDATE SET present = 1, used_at = ?3,
                    upload = CASE WHEN upload = 'failed' OR upload IS NULL THEN 'waiting' ELSE upload END,
                    error = NULL, retry_at = NULL",
                params![sha256, size_i64(size), now_rfc3339()],
            )?;
            Ok(())
        })
    }

    /// Notes a file fetched from the server: present, nothing to send.
    pub fn file_fetched(&self, sha256: &str, size: u64) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO files (sha256, size, present, used_at) VALUES (?1, ?2, 1, ?3)
                 ON CONFLICT (sha256) DO UPDATE SET present = 1, used_at = ?3",
                params![sha256, size_i64(size), now_rfc3339()],
            )?;
            Ok(())
        })
    }

    /// What this laptop knows of a file.
    pub fn file(&self, sha256: &str) -> Result<Option<LocalFile>> {
        self.read(|c| {
            Ok(c.prepare_cached(&format!(
                "SELECT {FILE_COLUMNS} FROM files WHERE sha256 = ?1"
            ))?
            .query_row([sha256], file_from_row)
            .optional()?)
        })
    }

    /// Files waiting to be sent, failed ones too, oldest first.
    pub fn files_to_send(&self) -> Result<Vec<LocalFile>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {FILE_COLUMNS} FROM files WHERE upload IS NOT NULL ORDER BY used_at"
            ))?;
            let rows = stmt.query_map([], file_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// The files to try sending now: those waiting, and those failed whose
    /// time to try again has come (a retry may succeed), oldest first.
    pub fn files_due(&self) -> Result<Vec<LocalFile>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {FILE_COLUMNS} FROM files
                 WHERE upload IS NOT NULL AND (retry_at IS NULL OR retry_at <= ?1)
                 ORDER BY used_at"
            ))?;
            let rows = stmt.query_map([now_rfc3339()], file_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// How many files wait to be sent, and their bytes.
    pub fn files_waiting(&self) -> Result<(i64, u64)> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT count(*), coalesce(sum(size), 0) FROM files WHERE upload IS NOT NULL",
                [],
                |r| Ok((r.get(0)?, r.get::<_, i64>(1)?.max(0) as u64)),
            )?)
        })
    }

    /// Notes how much of an upload the server holds.
    pub fn file_sent(&self, sha256: &str, sent: u64) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE files SET sent = ?2 WHERE sha256 = ?1",
                params![sha256, size_i64(sent)],
            )?;
            Ok(())
        })
    }

    /// Notes that the server holds the whole file for me: nothing to send.
    pub fn file_uploaded(&self, sha256: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE files SET upload = NULL, error = NULL, retry_at = NULL, sent = size WHERE sha256 = ?1",
                [sha256],
            )?;
            Ok(())
        })
    }

    /// Notes why a file could not be sent; it is tried again at the next
    /// sync, or once `retry_after` has passed when given.
    pub fn file_upload_failed(
        &self,
        sha256: &str,
        error: &str,
        retry_after: Option<chrono::Duration>,
    ) -> Result<()> {
        let retry_at = retry_after.map(|d| rfc3339(chrono::Utc::now() + d));
        self.write(|tx| {
            tx.execute(
                "UPDATE files SET upload = 'failed', error = ?2, retry_at = ?3 WHERE sha256 = ?1",
                params![sha256, error, retry_at],
            )?;
            Ok(())
        })
    }

    /// Makes every failed file due at the next sync (its owner asked to
    /// try again); how many.
    pub fn files_retry(&self) -> Result<usize> {
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE files SET upload = 'waiting', error = NULL, retry_at = NULL
                 WHERE upload = 'failed'",
                [],
            )?)
        })
    }

    /// Marks files the server says it lacks to be sent again; one it
    /// refused keeps its refusal and its time to try again.
    pub fn files_resend(&self, shas: &[String]) -> Result<()> {
        self.write(|tx| {
            for sha in shas {
                tx.execute(
                    "UPDATE files SET upload = 'waiting', sent = 0
                     WHERE sha256 = ?1 AND present = 1 AND retry_at IS NULL",
                    [sha],
                )?;
            }
            Ok(())
        })
    }

    /// Notes that a file was opened: it is the last to be evicted.
    pub fn file_used(&self, sha256: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE files SET used_at = ?2 WHERE sha256 = ?1",
                params![sha256, now_rfc3339()],
            )?;
            Ok(())
        })
    }

    /// Present files beyond `limit` bytes in all that may be evicted (none
    /// waiting to be sent), least recently used first.
    pub fn files_to_evict(&self, limit: u64) -> Result<Vec<LocalFile>> {
        self.read(|c| {
            let total: i64 = c.query_row(
                "SELECT coalesce(sum(size), 0) FROM files WHERE present = 1",
                [],
                |r| r.get(0),
            )?;
            let mut over = total.max(0) as u64;
            let mut out = Vec::new();
            if over <= limit {
                return Ok(out);
            }
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {FILE_COLUMNS} FROM files WHERE present = 1 AND upload IS NULL ORDER BY used_at"
            ))?;
            let mut rows = stmt.query([])?;
            while over > limit
                && let Some(row) = rows.next()?
            {
                let file = file_from_row(row)?;
                over = over.saturating_sub(file.size);
                out.push(file);
            }
            Ok(out)
        })
    }

    /// Notes that a file's bytes were removed from this laptop, unless it
    /// came to wait for sending meanwhile (then it stays).
    pub fn file_evicted(&self, sha256: &str) -> Result<bool> {
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE files SET present = 0 WHERE sha256 = ?1 AND upload IS NULL",
                [sha256],
            )? > 0)
        })
    }

    /// The files that records of `collection` name in fields `fields` and
    /// that are not on this laptop: (sha256, size, a record naming it).
    pub fn files_missing(
        &self,
        collection: &str,
        fields: &[String],
    ) -> Result<Vec<(String, u64, uuid::Uuid)>> {
        self.read(|c| {
            let mut out = Vec::new();
            let mut seen = std::collections::HashSet::new();
            let mut stmt = c.prepare_cached(
                "SELECT json_extract(f.value, '$.sha256'), json_extract(f.value, '$.size'), r.id
                 FROM records r, json_each(r.fields, ?2) f
                 WHERE r.collection = ?1 AND r.deleted = 0
                   AND json_type(r.fields, ?2) = 'array'
                   AND NOT EXISTS (SELECT 1 FROM files WHERE files.sha256 = json_extract(f.value, '$.sha256') AND present = 1)",
            )?;
            for field in fields {
                let path = format!("$.\"{field}\"");
                let rows = stmt.query_map(params![collection, path], |r| {
                    Ok((
                        r.get::<_, Option<String>>(0)?,
                        r.get::<_, Option<i64>>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })?;
                for row in rows {
                    let (Some(sha), size, id) = row? else { continue };
                    let Ok(id) = uuid::Uuid::parse_str(&id) else {
                        continue;
                    };
                    if seen.insert(sha.clone()) {
                        out.push((sha, size.unwrap_or(0).max(0) as u64, id));
                    }
                }
            }
            Ok(out)
        })
    }
}
