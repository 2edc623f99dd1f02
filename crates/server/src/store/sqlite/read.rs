//! Reads: records and history rebuilt from rows, pages of history and of
//! changes. Each page is read inside one transaction by its caller.

use ferry_protocol::Record;
use rusqlite::{Connection, params};
use uuid::Uuid;

use super::super::history::{PageReader, StoredVersion};
use super::super::{HistoryPage, StoreError, json_err, stored_hlc};
use super::db_err;
use crate::schema_file::CollectionDef;

pub(super) fn parse_uuid(s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s)
        .map_err(|e| StoreError::Internal(format!("stored id {s:?} is not a UUID: {e}")))
}

/// Columns: collection, id, version, fields, deleted, updated_at, updated_by.
fn record_from_row(row: &rusqlite::Row<'_>) -> Result<Record, StoreError> {
    record_from_row_with(row, |text| serde_json::from_str(&text).map_err(json_err))
}

fn record_from_row_with<F>(
    row: &rusqlite::Row<'_>,
    fields: impl FnOnce(String) -> Result<F, StoreError>,
) -> Result<Record<F>, StoreError> {
    let get = |e: rusqlite::Error| db_err(e);
    let id: String = row.get(1).map_err(get)?;
    let text: String = row.get(3).map_err(get)?;
    let updated_at: String = row.get(5).map_err(get)?;
    Ok(Record {
        collection: row.get(0).map_err(get)?,
        id: parse_uuid(&id)?,
        version: row.get(2).map_err(get)?,
        fields: fields(text)?,
        deleted: row.get(4).map_err(get)?,
        updated_at: stored_hlc(&updated_at)?,
        updated_by: row.get(6).map_err(get)?,
        merged_from: None,
    })
}

const RECORD_COLUMNS: &str = "collection, id, version, fields, deleted, updated_at, updated_by";

/// Columns: those of [`RECORD_COLUMNS`], then delta and merged_from.
fn stored_from_row(row: &rusqlite::Row<'_>) -> Result<(StoredVersion, usize), StoreError> {
    let len = row.get_ref(3).map_err(db_err)?.as_str().map_or(0, str::len);
    let record = Record {
        merged_from: row.get(8).map_err(db_err)?,
        ..record_from_row(row)?
    };
    Ok((
        StoredVersion {
            record,
            delta: row.get(7).map_err(db_err)?,
        },
        len,
    ))
}

/// Reads a record's history from just after `after` into `reader`, until
/// it has enough to rebuild its versions.
pub(super) fn read_history(
    conn: &Connection,
    collection: &str,
    id: &str,
    after: i64,
    reader: &mut PageReader,
) -> Result<(), StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS}, delta, merged_from FROM history
             WHERE collection = ?1 AND id = ?2 AND version > ?3 ORDER BY version"
        ))
        .map_err(db_err)?;
    let mut rows = stmt.query(params![collection, id, after]).map_err(db_err)?;
    while let Some(row) = rows.next().map_err(db_err)? {
        let (stored, len) = stored_from_row(row)?;
        if !reader.push(stored, len) {
            break;
        }
    }
    Ok(())
}

pub(super) fn record_at(
    conn: &Connection,
    collection: &str,
    id: &str,
    version: i64,
) -> Result<Option<Record>, StoreError> {
    let mut reader = PageReader::new(1, usize::MAX);
    read_history(conn, collection, id, version - 1, &mut reader)?;
    reader.finish_at(version).map_err(StoreError::Internal)
}

/// The latest version of a record.
pub(super) fn current(
    conn: &Connection,
    collection: &str,
    id: &str,
) -> Result<Option<Record>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT h.collection, h.id, h.version, h.fields, h.deleted, h.updated_at, h.updated_by
             FROM records r JOIN history h ON h.seq = r.seq WHERE r.collection = ?1 AND r.id = ?2",
        )
        .map_err(db_err)?;
    let mut rows = stmt.query(params![collection, id]).map_err(db_err)?;
    match rows.next().map_err(db_err)? {
        Some(row) => record_from_row(row).map(Some),
        None => Ok(None),
    }
}

pub(super) fn load_collections(conn: &Connection) -> Result<Vec<CollectionDef>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT definition FROM collections ORDER BY position")
        .map_err(db_err)?;
    let defs = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(db_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_err)?;
    defs.iter()
        .map(|d| serde_json::from_str(d).map_err(json_err))
        .collect()
}

pub(super) fn history_page(
    c: &Connection,
    collection: &str,
    id: &str,
    after: i64,
    limit: usize,
    max_bytes: usize,
) -> Result<HistoryPage, StoreError> {
    let mut reader = PageReader::new(limit, max_bytes);
    read_history(c, collection, id, after, &mut reader)?;
    let versions = reader.finish().map_err(StoreError::Internal)?;
    let latest: Option<i64> = c
        .prepare_cached("SELECT max(version) FROM history WHERE collection = ?1 AND id = ?2")
        .and_then(|mut s| s.query_row(params![collection, id], |r| r.get(0)))
        .map_err(db_err)?;
    Ok(HistoryPage::new(versions, latest))
}

pub(super) fn max_seq(conn: &Connection) -> Result<i64, StoreError> {
    conn.query_row(
        // The horizon too: compaction may have removed the rows of the
        // latest positions, and a position is never given out twice.
        "SELECT max(coalesce((SELECT max(seq) FROM history), 0), coalesce((SELECT max(seq) FROM user_feed), 0),
                coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'compacted_seq'), 0))",
        [],
        |r| r.get(0),
    )
    .map_err(db_err)
}
