//! `ferry-server gc`: deletes stored files that no version of any record
//! names once they are older than a grace period (an upload whose change is
//! not yet pushed is young), and unfinished uploads left that long.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferry_protocol::FieldType;

use super::{BlobError, Blobs};
use crate::store::{DynStore, StoreError};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GcReport {
    /// Files a stored version of a record names.
    pub kept_named: usize,
    /// Unnamed files younger than the grace period.
    pub kept_young: usize,
    pub deleted: usize,
    pub deleted_bytes: u64,
    pub uploads_deleted: usize,
    pub uploads_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum GcError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blobs(#[from] BlobError),
    #[error("cannot clean the upload directory {path}: {source}")]
    Staging {
        path: String,
        source: std::io::Error,
    },
}

/// Every blob a stored version of a record names.
async fn named(store: &DynStore) -> Result<HashSet<String>, StoreError> {
    let mut out = HashSet::new();
    for def in store.collections().await? {
        for field in def
            .fields
            .iter()
            .filter(|f| f.field_type == FieldType::File)
        {
            out.extend(store.blob_refs(&def.name, &field.name).await?);
        }
    }
    Ok(out)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Collects garbage; with `dry_run`, only counts it.
pub async fn collect(
    store: &DynStore,
    blobs: &Blobs,
    grace: Duration,
    dry_run: bool,
) -> Result<GcReport, GcError> {
    let before = now_ms() - i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
    let mut report = GcReport::default();
    // Stored before the names are read: a file stored later is young.
    let stored = blobs.store.list().await?;
    let named_first = named(store).await?;
    let mut doomed = Vec::new();
    for meta in stored {
        if named_first.contains(meta.id.as_str()) {
            report.kept_named += 1;
        } else if meta.stored_ms > before {
            report.kept_young += 1;
        } else {
            doomed.push(meta);
        }
    }
    if !dry_run && !doomed.is_empty() {
        // Once its uploaders are forgotten no push may name a doomed file
        // (DESIGN.md, "Files"); one that did so meanwhile is seen now.
        for meta in &doomed {
            store.forget_blob(meta.id.as_str()).await?;
        }
        let named_now = named(store).await?;
        doomed.retain(|meta| {
            let saved = named_now.contains(meta.id.as_str());
            report.kept_named += usize::from(saved);
            !saved
        });
    }
    for meta in &doomed {
        if !dry_run {
            blobs.store.delete(&meta.id).await?;
        }
        report.deleted += 1;
        report.deleted_bytes += meta.size;
    }
    let cutoff = SystemTime::now().checked_sub(grace).unwrap_or(UNIX_EPOCH);
    let (n, bytes) = clean_staging(&blobs.staging, cutoff, dry_run)?;
    report.uploads_deleted = n;
    report.uploads_bytes = bytes;
    tracing::info!(?report, dry_run, "garbage collected");
    Ok(report)
}

/// Removes unfinished uploads (`DIR/USER/SHA-SIZE`) untouched since `cutoff`.
fn clean_staging(dir: &Path, cutoff: SystemTime, dry_run: bool) -> Result<(usize, u64), GcError> {
    let err = |path: &Path| {
        let path = path.display().to_string();
        move |source| GcError::Staging { path, source }
    };
    let (mut n, mut bytes) = (0, 0);
    let users = match std::fs::read_dir(dir) {
        Ok(users) => users,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, 0)),
        Err(e) => return Err(err(dir)(e)),
    };
    for user in users {
        let user = user.map_err(err(dir))?.path();
        if !user.is_dir() {
            continue;
        }
        for upload in std::fs::read_dir(&user).map_err(err(&user))? {
            let upload = upload.map_err(err(&user))?;
            let meta = upload.metadata().map_err(err(&upload.path()))?;
            if !meta.is_file() || meta.modified().map_err(err(&upload.path()))? > cutoff {
                continue;
            }
            if !dry_run {
                std::fs::remove_file(upload.path()).map_err(err(&upload.path()))?;
            }
            n += 1;
            bytes += meta.len();
        }
    }
    Ok((n, bytes))
}
