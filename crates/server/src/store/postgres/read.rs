//! Reads: versions rebuilt from history rows, a record's history a chunk
//! at a time, the collections.

use deadpool_postgres::GenericClient;
use ferry_protocol::{Fields, Hlc, Record};
use uuid::Uuid;

use super::super::history::{PageReader, StoredVersion};
use super::super::{StoreError, json_err, stored_hlc};
use super::pg_err;
use crate::merge::Current;
use crate::schema_file::CollectionDef;

/// A version as stored in history.
#[derive(Clone)]
pub(super) struct Version {
    pub version: i64,
    pub fields: Fields,
    pub deleted: bool,
    pub hlc: Hlc,
    pub updated_at: Hlc,
    pub updated_by: String,
    pub merged_from: Option<i64>,
}

impl Version {
    pub(super) fn record(&self, collection: &str, id: Uuid) -> Record {
        Record {
            collection: collection.to_string(),
            id,
            version: self.version,
            fields: self.fields.clone(),
            deleted: self.deleted,
            updated_at: self.updated_at.clone(),
            updated_by: self.updated_by.clone(),
            merged_from: self.merged_from,
        }
    }

    pub(super) fn current(&self) -> Current {
        Current {
            version: self.version,
            fields: self.fields.clone(),
            deleted: self.deleted,
            hlc: self.hlc.clone(),
        }
    }
}

/// Columns: version, fields, deleted, hlc, updated_at, updated_by, merged_from.
pub(super) fn version_from_row(
    row: &tokio_postgres::Row,
    at: usize,
) -> Result<Version, StoreError> {
    let fields: String = row.get(at + 1);
    let hlc: String = row.get(at + 3);
    let updated_at: String = row.get(at + 4);
    Ok(Version {
        version: row.get(at),
        fields: serde_json::from_str(&fields).map_err(json_err)?,
        deleted: row.get(at + 2),
        hlc: stored_hlc(&hlc)?,
        updated_at: stored_hlc(&updated_at)?,
        updated_by: row.get(at + 5),
        merged_from: row.get(at + 6),
    })
}

/// Rows read per round trip while walking a record's history.
const HISTORY_CHUNK: i64 = 64;

/// Reads a record's history from just after `after` into `reader`, a chunk
/// at a time, until it has enough to rebuild its versions.
pub(super) async fn read_history(
    client: &impl GenericClient,
    collection: &str,
    id: Uuid,
    mut after: i64,
    reader: &mut PageReader,
) -> Result<(), StoreError> {
    let stmt = client
        .prepare_cached(
            "SELECT version, fields, deleted, hlc, updated_at, updated_by, merged_from, delta FROM history
             WHERE collection = $1 AND id = $2 AND version > $3 ORDER BY version LIMIT $4",
        )
        .await
        .map_err(pg_err)?;
    loop {
        let rows = client
            .query(&stmt, &[&collection, &id, &after, &HISTORY_CHUNK])
            .await
            .map_err(pg_err)?;
        let full = rows.len() as i64 == HISTORY_CHUNK;
        for row in &rows {
            let len = row.get::<_, &str>(1).len();
            let v = version_from_row(row, 0)?;
            after = v.version;
            let stored = StoredVersion {
                record: v.record(collection, id),
                delta: row.get(7),
            };
            if !reader.push(stored, len) {
                return Ok(());
            }
        }
        if !full {
            return Ok(());
        }
    }
}

const COLLECTIONS_SQL: &str = "SELECT definition FROM collections ORDER BY position";

/// Every collection, in definition order.
pub(super) async fn collections(
    client: &impl GenericClient,
) -> Result<Vec<CollectionDef>, StoreError> {
    let stmt = client
        .prepare_cached(COLLECTIONS_SQL)
        .await
        .map_err(pg_err)?;
    client
        .query(&stmt, &[])
        .await
        .map_err(pg_err)?
        .iter()
        .map(|r| serde_json::from_str(r.get::<_, &str>(0)).map_err(json_err))
        .collect()
}
