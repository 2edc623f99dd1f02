//! Blobs as objects in an S3-compatible bucket, `PREFIX/ab/abcd…`, through
//! the `object_store` crate. A blob larger than one part goes up as a
//! multipart upload read from its file part by part, never held whole.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use futures::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as Key;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use tokio::io::AsyncReadExt;

use super::{BlobError, BlobId, BlobMeta, BlobStore, BlobStream, check_range};

/// Parts of a multipart upload (S3 wants at least 5 MiB but for the last).
const PART: usize = 8 * 1024 * 1024;

#[derive(Debug)]
pub struct S3Blobs {
    store: Arc<dyn ObjectStore>,
    prefix: String,
}

fn s3_err(e: object_store::Error) -> BlobError {
    BlobError::Backend(e.to_string())
}

impl S3Blobs {
    /// The bucket `bucket`, blobs under `prefix`; endpoint, region and
    /// credentials from the environment (`AWS_ENDPOINT`, `AWS_REGION`,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_ALLOW_HTTP`…).
    pub fn from_env(bucket: &str, prefix: &str) -> Result<S3Blobs, BlobError> {
        let builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        S3Blobs::build(builder, prefix)
    }

    /// A store from a configured builder.
    pub fn build(builder: AmazonS3Builder, prefix: &str) -> Result<S3Blobs, BlobError> {
        let store = builder.build().map_err(s3_err)?;
        Ok(S3Blobs {
            store: Arc::new(store),
            prefix: prefix.trim_matches('/').to_string(),
        })
    }

    fn key(&self, id: &BlobId) -> Key {
        let s = id.as_str();
        let name = format!("{}/{s}", &s[..2]);
        if self.prefix.is_empty() {
            Key::from(name)
        } else {
            Key::from(format!("{}/{name}", self.prefix))
        }
    }
}

#[async_trait::async_trait]
impl BlobStore for S3Blobs {
    async fn put_file(&self, id: &BlobId, path: &Path) -> Result<(), BlobError> {
        if self.size(id).await?.is_some() {
            return Ok(());
        }
        let read_err =
            |e: std::io::Error| BlobError::Backend(format!("cannot read {}: {e}", path.display()));
        let mut file = tokio::fs::File::open(path).await.map_err(read_err)?;
        let size = file.metadata().await.map_err(read_err)?.len();
        let key = self.key(id);
        if size <= PART as u64 {
            let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            file.read_to_end(&mut bytes).await.map_err(read_err)?;
            self.store
                .put(&key, PutPayload::from(bytes))
                .await
                .map_err(s3_err)?;
            return Ok(());
        }
        let upload = self.store.put_multipart(&key).await.map_err(s3_err)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
        let mut buf = vec![0u8; 1024 * 1024];
        loop {
            // At most two parts in flight: memory stays a few parts whatever the size.
            writer.wait_for_capacity(2).await.map_err(s3_err)?;
            let n = match file.read(&mut buf).await {
                Ok(n) => n,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(read_err(e));
                }
            };
            if n == 0 {
                break;
            }
            writer.write(&buf[..n]);
        }
        writer.finish().await.map_err(s3_err)?;
        Ok(())
    }

    async fn size(&self, id: &BlobId) -> Result<Option<u64>, BlobError> {
        match self.store.head(&self.key(id)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(s3_err(e)),
        }
    }

    async fn get(&self, id: &BlobId, range: Option<Range<u64>>) -> Result<BlobStream, BlobError> {
        let size = self
            .size(id)
            .await?
            .ok_or_else(|| BlobError::NotFound(id.clone()))?;
        let range = range.unwrap_or(0..size);
        check_range(id, &range, size)?;
        // S3 has no empty range: nothing to fetch.
        if range.is_empty() {
            return Ok(futures::stream::empty().boxed());
        }
        let options = GetOptions {
            range: Some(GetRange::Bounded(range)),
            ..GetOptions::default()
        };
        let result = match self.store.get_opts(&self.key(id), options).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(BlobError::NotFound(id.clone()));
            }
            Err(e) => return Err(s3_err(e)),
        };
        Ok(result
            .into_stream()
            .map(|chunk| chunk.map_err(s3_err))
            .boxed())
    }

    async fn delete(&self, id: &BlobId) -> Result<(), BlobError> {
        match self.store.delete(&self.key(id)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(s3_err(e)),
        }
    }

    async fn list(&self) -> Result<Vec<BlobMeta>, BlobError> {
        let prefix = (!self.prefix.is_empty()).then(|| Key::from(self.prefix.as_str()));
        let mut listed = self.store.list(prefix.as_ref());
        let mut out = Vec::new();
        while let Some(meta) = listed.next().await {
            let meta = meta.map_err(s3_err)?;
            let Some(id) = meta.location.filename().and_then(BlobId::parse) else {
                continue;
            };
            out.push(BlobMeta {
                id,
                size: meta.size,
                stored_ms: meta.last_modified.timestamp_millis(),
            });
        }
        Ok(out)
    }
}
