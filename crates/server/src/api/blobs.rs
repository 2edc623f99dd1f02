//! Files' bytes (DESIGN.md, "Blobs"): uploaded in resumable chunks, each
//! blob named by its SHA-256 and checked against it before it is stored;
//! read back whole or by range. A blob is readable only by someone who may:
//! its uploader, and the readers of a record naming it when they ask
//! through that record (`?collection=C&record=ID`), so a hash alone gives
//! nothing; to anyone else it is not there (404).

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferry_protocol::BlobStatus;
use futures::StreamExt;
use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

use super::Json;
use crate::AppState;
use crate::auth::Authenticated;
use crate::blobs::{BlobError, BlobId, Blobs, megabytes};
use crate::error::ApiError;

/// Where an unfinished upload continues: on `HEAD` and on a chunk that
/// does not start there (409 `upload_offset`).
pub const UPLOAD_OFFSET: HeaderName = HeaderName::from_static("upload-offset");

fn blobs(state: &AppState) -> Result<&Blobs, ApiError> {
    state
        .blobs
        .as_deref()
        .ok_or_else(|| ApiError::NotFound("this server keeps no files".into()))
}

fn blob_id(s: &str) -> Result<BlobId, ApiError> {
    BlobId::parse(s)
        .ok_or_else(|| ApiError::Malformed("a blob is named by its SHA-256: 64 hex digits".into()))
}

fn blob_err(e: BlobError) -> ApiError {
    match e {
        BlobError::NotFound(_) => ApiError::NotFound("no such file".into()),
        BlobError::Range { size, .. } => ApiError::BadRange(format!("the file has {size} bytes")),
        BlobError::Backend(msg) => {
            tracing::error!(error = %msg, "blob storage");
            ApiError::Unavailable
        }
    }
}

fn io_err(e: std::io::Error) -> ApiError {
    tracing::error!(error = %e, "blob upload staging");
    ApiError::Internal
}

/// The staging file of `user`'s upload of `id`, `size` bytes in all.
fn staged(blobs: &Blobs, user: Uuid, id: &BlobId, size: u64) -> PathBuf {
    blobs
        .staging
        .join(user.to_string())
        .join(format!("{id}-{size}"))
}

async fn staged_len(path: &Path) -> Result<u64, ApiError> {
    match tokio::fs::metadata(path).await {
        Ok(m) => Ok(m.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(io_err(e)),
    }
}

/// The longest unfinished upload of `id` by `user`, whatever its size.
async fn resume_point(blobs: &Blobs, user: Uuid, id: &BlobId) -> u64 {
    let dir = blobs.staging.join(user.to_string());
    let Ok(mut entries) = tokio::fs::read_dir(&dir).await else {
        return 0;
    };
    let mut best = 0;
    while let Ok(Some(e)) = entries.next_entry().await {
        if e.file_name().to_string_lossy().starts_with(id.as_str())
            && let Ok(m) = e.metadata().await
        {
            best = best.max(m.len());
        }
    }
    best
}

/// The record through which a reader asks for a file it names.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Through {
    /// The collection of a record whose file field names the file.
    collection: Option<String>,
    /// That record's id: whoever may read it may read its files.
    record: Option<Uuid>,
}

fn through(
    query: Result<Query<Through>, axum::extract::rejection::QueryRejection>,
) -> Result<Through, ApiError> {
    let Query(t) = query.map_err(|_| {
        ApiError::Malformed("collection must be a collection's name and record a UUID".into())
    })?;
    Ok(t)
}

/// Whether the user may read stored blob `id` (they uploaded it, or may
/// read the record `through` names and it names the file); its size then.
async fn readable(
    state: &AppState,
    auth: &Authenticated,
    id: &BlobId,
    through: &Through,
) -> Result<Option<u64>, ApiError> {
    let blobs = blobs(state)?;
    let mut may = state
        .store
        .blob_readable(id.as_str(), auth.session.user_id)
        .await?;
    if !may && let (Some(collection), Some(record)) = (&through.collection, through.record) {
        let (view, defs) = state.view_and_collections(&auth.session).await?;
        may = super::files::readable_through(state, &view, &defs, collection, record, id.as_str())
            .await?;
    }
    if !may {
        return Ok(None);
    }
    blobs.store.size(id).await.map_err(blob_err)
}

/// Whether the file is stored and yours to read (its size in
/// Content-Length), and where an unfinished upload of it continues.
#[utoipa::path(head, path = "/v1/blobs/{sha256}", tag = "blobs", security(("bearer" = [])),
    params(("sha256" = String, Path, description = "The file's SHA-256, 64 hex digits"), Through),
    responses(
        (status = 200, description = "Stored and yours to read; Content-Length is its size"),
        (status = 404, description = "Not stored, or not yours to read; `Upload-Offset` says where your unfinished upload of it continues (0: none)"),
        (status = 400, description = "Not a SHA-256"),
        (status = 401, description = "Missing or invalid token"),
    ))]
pub async fn head_blob(
    State(state): State<AppState>,
    auth: Authenticated,
    UrlPath(sha256): UrlPath<String>,
    query: Result<Query<Through>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let id = blob_id(&sha256)?;
    if let Some(size) = readable(&state, &auth, &id, &through(query)?).await? {
        return Ok((
            [
                (header::CONTENT_LENGTH, HeaderValue::from(size)),
                (header::ACCEPT_RANGES, HeaderValue::from_static("bytes")),
            ],
            StatusCode::OK,
        )
            .into_response());
    }
    let offset = resume_point(blobs(&state)?, auth.session.user_id, &id).await;
    Ok((
        [(UPLOAD_OFFSET, HeaderValue::from(offset))],
        StatusCode::NOT_FOUND,
    )
        .into_response())
}

/// `Range: bytes=S-E` or `bytes=S-` of a `size`-byte file, as an end-exclusive range.
fn parse_range(value: &str, size: u64) -> Result<std::ops::Range<u64>, ApiError> {
    let bad = || {
        ApiError::BadRange(format!(
            "ask for bytes=START-END within the file's {size} bytes"
        ))
    };
    let spec = value.strip_prefix("bytes=").ok_or_else(bad)?;
    let (start, end) = spec.split_once('-').ok_or_else(bad)?;
    let start: u64 = start.trim().parse().map_err(|_| bad())?;
    let end: u64 = if end.trim().is_empty() {
        size.checked_sub(1).ok_or_else(bad)?
    } else {
        end.trim()
            .parse::<u64>()
            .map_err(|_| bad())?
            .min(size.saturating_sub(1))
    };
    if start > end || start >= size {
        return Err(bad());
    }
    Ok(start..end + 1)
}

/// The file's bytes, whole or the `Range` asked for (206).
#[utoipa::path(get, path = "/v1/blobs/{sha256}", tag = "blobs", security(("bearer" = [])),
    params(
        ("sha256" = String, Path, description = "The file's SHA-256, 64 hex digits"),
        ("Range" = Option<String>, Header, description = "`bytes=START-END` or `bytes=START-`: part of the file"),
        Through,
    ),
    responses(
        (status = 200, description = "The whole file", content_type = "application/octet-stream"),
        (status = 206, description = "The range asked for, with Content-Range", content_type = "application/octet-stream"),
        (status = 404, description = "Not stored, or not yours to read", body = ferry_protocol::ErrorResponse),
        (status = 416, description = "A range outside the file", body = ferry_protocol::ErrorResponse),
        (status = 400, description = "Not a SHA-256", body = ferry_protocol::ErrorResponse),
        (status = 401, description = "Missing or invalid token", body = ferry_protocol::ErrorResponse),
    ))]
pub async fn get_blob(
    State(state): State<AppState>,
    auth: Authenticated,
    UrlPath(sha256): UrlPath<String>,
    query: Result<Query<Through>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = blob_id(&sha256)?;
    let size = readable(&state, &auth, &id, &through(query)?)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such file".into()))?;
    let range = match headers.get(header::RANGE) {
        Some(v) => Some(parse_range(v.to_str().unwrap_or_default(), size)?),
        None => None,
    };
    let stream = blobs(&state)?
        .store
        .get(&id, range.clone())
        .await
        .map_err(blob_err)?;
    let body = Body::from_stream(stream.map(|chunk| chunk.map_err(std::io::Error::other)));
    let mut response = Response::new(body);
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    // A blob never changes: its name is its content.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    h.insert(
        header::ETAG,
        HeaderValue::from_str(&format!("\"{id}\"")).map_err(|_| ApiError::Internal)?,
    );
    match range {
        Some(r) => {
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(r.end - r.start));
            h.insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes {}-{}/{size}", r.start, r.end - 1))
                    .map_err(|_| ApiError::Internal)?,
            );
            *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        }
        None => {
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
        }
    }
    Ok(response)
}

/// `Content-Range: bytes S-E/T` (E inclusive), or the whole file when absent.
fn parse_content_range(headers: &HeaderMap) -> Result<(u64, Option<u64>, u64), ApiError> {
    let bad = || ApiError::Malformed("Content-Range must be bytes START-END/TOTAL".into());
    let Some(v) = headers.get(header::CONTENT_RANGE) else {
        let len = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| {
                ApiError::Malformed(
                    "say the file's size: Content-Length, or Content-Range for a part".into(),
                )
            })?;
        return Ok((0, len.checked_sub(1), len));
    };
    let spec = v
        .to_str()
        .map_err(|_| bad())?
        .strip_prefix("bytes ")
        .ok_or_else(bad)?;
    let (span, total) = spec.split_once('/').ok_or_else(bad)?;
    let total: u64 = total.parse().map_err(|_| bad())?;
    let (start, end) = span.split_once('-').ok_or_else(bad)?;
    let (start, end): (u64, u64) = (
        start.parse().map_err(|_| bad())?,
        end.parse().map_err(|_| bad())?,
    );
    if start > end || end >= total {
        return Err(bad());
    }
    Ok((start, Some(end), total))
}

/// Reads and drops a refused part's body (up to a part's size), so the
/// client, still sending it, reads the refusal instead of a broken pipe.
async fn drain(body: Body) {
    const MOST: usize = 16 * 1024 * 1024;
    let mut stream = body.into_data_stream();
    let mut seen = 0;
    while seen < MOST
        && let Some(Ok(chunk)) = stream.next().await
    {
        seen += chunk.len();
    }
}

/// How long a part may send nothing before the server stops waiting for
/// it (keeping what arrived): a client gone without closing its connection
/// must not hold its upload.
const PART_IDLE: std::time::Duration = std::time::Duration::from_secs(60);

/// Bytes gathered before a write to the staging file.
const WRITE_BUFFER: usize = 1024 * 1024;

/// A SHA-256 computed on a blocking thread from the chunks fed to it.
struct Hashing {
    chunks: tokio::sync::mpsc::Sender<bytes::Bytes>,
    done: tokio::task::JoinHandle<sha2::Sha256>,
}

impl Hashing {
    fn start(mut hash: sha2::Sha256) -> Hashing {
        let (chunks, mut rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(64);
        let done = tokio::task::spawn_blocking(move || {
            while let Some(chunk) = rx.blocking_recv() {
                hash.update(&chunk);
            }
            hash
        });
        Hashing { chunks, done }
    }

    async fn feed(&self, chunk: bytes::Bytes) {
        // The receiver lives until `finish`.
        let _ = self.chunks.send(chunk).await;
    }

    /// The hash of every chunk fed; `None` if its thread failed.
    async fn finish(self) -> Option<sha2::Sha256> {
        drop(self.chunks);
        self.done.await.ok()
    }
}

async fn sha256_of(path: &Path) -> Result<BlobId, ApiError> {
    let mut file = tokio::fs::File::open(path).await.map_err(io_err)?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 1024 * 1024];
    loop {
        let n = file.read(&mut buf).await.map_err(io_err)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    BlobId::parse(&hex::encode(hasher.finalize())).ok_or(ApiError::Internal)
}

/// Uploads the file's bytes, whole or a part at a time (`Content-Range:
/// bytes START-END/TOTAL`, each part starting where the last ended; `HEAD`
/// says where). A connection lost mid-part keeps what arrived. When the
/// last byte is in, the bytes must hash to the name: then the file is
/// stored (201) and yours to read. Uploading a file you already have is 200.
#[utoipa::path(put, path = "/v1/blobs/{sha256}", tag = "blobs", security(("bearer" = [])),
    params(
        ("sha256" = String, Path, description = "The file's SHA-256, 64 hex digits"),
        ("Content-Range" = Option<String>, Header, description = "`bytes START-END/TOTAL` (END inclusive) for a part; absent: the whole file"),
    ),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The bytes"),
    responses(
        (status = 201, description = "The last part: the file is stored", body = BlobStatus),
        (status = 200, description = "You have this file already; nothing was stored", body = BlobStatus),
        (status = 202, description = "A part is in; `received` (and `Upload-Offset`) say where the next starts", body = BlobStatus),
        (status = 409, description = "`upload_offset`: the part does not start where the upload stands (see `Upload-Offset`)", body = ferry_protocol::ErrorResponse),
        (status = 413, description = "`too_large` (a file over the limit) or `quota_exceeded` (your files would pass your quota)", body = ferry_protocol::ErrorResponse),
        (status = 422, description = "`hash_mismatch`: the bytes do not hash to the name; the upload starts over", body = ferry_protocol::ErrorResponse),
        (status = 400, description = "Not a SHA-256, or a malformed Content-Range", body = ferry_protocol::ErrorResponse),
        (status = 401, description = "Missing or invalid token", body = ferry_protocol::ErrorResponse),
    ))]
pub async fn put_blob(
    State(state): State<AppState>,
    auth: Authenticated,
    UrlPath(sha256): UrlPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let id = blob_id(&sha256)?;
    let blobs = blobs(&state)?;
    let user = auth.session.user_id;
    let (start, end, total) = parse_content_range(&headers)?;
    let status = |received| BlobStatus {
        sha256: id.to_string(),
        size: total,
        received,
    };
    if total > blobs.max_blob_bytes {
        drain(body).await;
        return Err(ApiError::TooLarge(format!(
            "a file may be at most {} MB",
            blobs.max_blob_bytes / (1024 * 1024)
        )));
    }
    if readable(&state, &auth, &id, &Through::default()).await? == Some(total) {
        return Ok((StatusCode::OK, Json(status(total))).into_response());
    }
    if let Some(quota) = blobs.quota_bytes {
        let used = state.store.blob_bytes(user).await?;
        if used.saturating_add(total) > quota {
            drain(body).await;
            return Err(ApiError::QuotaExceeded(format!(
                "this file ({}) would take your files to {} of your {}",
                megabytes(total),
                megabytes(used.saturating_add(total)),
                megabytes(quota)
            )));
        }
    }
    let path = staged(blobs, user, &id, total);
    let key = (user, id.clone());
    let turn = blobs.uploads.turn(key.clone()).await;
    let offset = staged_len(&path).await?;
    if start != offset {
        // Read, so the client sees the answer rather than a broken pipe.
        drain(body).await;
        return Err(ApiError::UploadOffset { offset });
    }
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(io_err)?;
    }
    let file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .await
        .map_err(io_err)?;
    let mut file = tokio::io::BufWriter::with_capacity(WRITE_BUFFER, file);
    // Hashed as it arrives, beside the writing, when the bytes before are known.
    let hashing = blobs.uploads.take_hash(&key, offset).map(Hashing::start);
    let want = end.map_or(0, |e| e + 1 - start);
    let mut got = 0u64;
    let mut stream = body.into_data_stream();
    let mut broken = false;
    loop {
        let next = tokio::select! {
            () = turn.stop.cancelled() => None,
            next = tokio::time::timeout(PART_IDLE, stream.next()) => Some(next),
        };
        let chunk = match next {
            Some(Ok(None)) => break,
            Some(Ok(Some(Ok(chunk)))) => chunk,
            // Gone, silent too long, or taken over by a newer request: keep
            // what arrived, to continue from.
            _ => {
                broken = true;
                break;
            }
        };
        got += chunk.len() as u64;
        if got > want {
            let file = file.into_inner();
            file.set_len(offset).await.map_err(io_err)?;
            return Err(ApiError::Malformed(format!(
                "the body is longer than the {want} bytes its range says"
            )));
        }
        if let Some(h) = &hashing {
            h.feed(chunk.clone()).await;
        }
        file.write_all(&chunk).await.map_err(io_err)?;
    }
    file.flush().await.map_err(io_err)?;
    let received = offset + got;
    // Only the whole file is synced: after a crash of the machine a part
    // may come back short or damaged, which the hash at the end catches.
    if !broken && received == total {
        file.get_ref().sync_all().await.map_err(io_err)?;
    }
    drop(file);
    let hash = match hashing {
        Some(h) => h.finish().await,
        None => None,
    };
    if broken || received < total {
        if let Some(h) = hash {
            blobs.uploads.keep_hash(key, received, h);
        }
        return Ok((
            StatusCode::ACCEPTED,
            [(UPLOAD_OFFSET, HeaderValue::from(received))],
            Json(status(received)),
        )
            .into_response());
    }
    let got_id = match hash {
        Some(h) => BlobId::parse(&hex::encode(h.finalize())).ok_or(ApiError::Internal)?,
        None => sha256_of(&path).await?,
    };
    if got_id != id {
        let _ = tokio::fs::remove_file(&path).await;
        return Err(ApiError::HashMismatch(format!(
            "the {total} bytes sent do not hash to {id}; send the file again from the start"
        )));
    }
    blobs.store.take_file(&id, &path).await.map_err(blob_err)?;
    state.store.add_blob_owner(id.as_str(), user, total).await?;
    drop(turn);
    Ok((StatusCode::CREATED, Json(status(total))).into_response())
}
