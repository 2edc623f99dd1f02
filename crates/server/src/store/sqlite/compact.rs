//! History retention on SQLite (see `store::compact`).

use rusqlite::{Connection, OptionalExtension, params};

use super::super::StoreError;
use super::super::compact::{Bounds, CompactReport, HORIZON_KEY};
use super::db_err;

pub(super) fn meta(c: &Connection, key: &str) -> Result<Option<String>, StoreError> {
    c.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()
        .map_err(db_err)
}

pub(super) fn set_meta(c: &Connection, key: &str, value: &str) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )
    .map(drop)
    .map_err(db_err)
}

/// The horizon as the transaction `c` sees it.
pub(super) fn horizon(c: &Connection) -> Result<i64, StoreError> {
    Ok(meta(c, HORIZON_KEY)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

/// Compacts one collection's rows at positions `(lo, hi]`.
pub(super) fn window(
    c: &Connection,
    collection: &str,
    b: &Bounds,
    lo: i64,
    hi: i64,
) -> Result<CompactReport, StoreError> {
    let mut report = CompactReport::default();
    if b.prunes_versions() {
        let n = c
            .prepare_cached(
                "DELETE FROM history WHERE seq IN (
                     SELECT h.seq FROM history h
                     JOIN records r ON r.collection = h.collection AND r.id = h.id
                     JOIN history cur ON cur.seq = r.seq
                     WHERE h.seq > ?1 AND h.seq <= ?2 AND h.collection = ?3 AND h.seq <> r.seq
                       AND (?4 IS NULL OR h.version <= cur.version - ?4)
                       AND (?5 IS NULL OR h.updated_at < ?5))",
            )
            .and_then(|mut s| s.execute(params![lo, hi, collection, b.versions, b.before]))
            .map_err(db_err)?;
        report.versions_removed = n as u64;
    }
    let Some(before) = &b.tombstones_before else {
        return Ok(report);
    };
    let gone: Vec<(i64, String)> = c
        .prepare_cached(
            "SELECT r.seq, r.id FROM records r JOIN history h ON h.seq = r.seq
             WHERE r.seq > ?1 AND r.seq <= ?2 AND r.collection = ?3
               AND h.deleted = 1 AND h.updated_at < ?4",
        )
        .and_then(|mut s| {
            s.query_map(params![lo, hi, collection, before], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect()
        })
        .map_err(db_err)?;
    for (seq, id) in gone {
        for sql in [
            "DELETE FROM history WHERE collection = ?1 AND id = ?2",
            "DELETE FROM records WHERE collection = ?1 AND id = ?2",
            "DELETE FROM record_parts WHERE collection = ?1 AND id = ?2",
        ] {
            c.prepare_cached(sql)
                .and_then(|mut s| s.execute(params![collection, id]))
                .map_err(db_err)?;
        }
        report.records_forgotten += 1;
        report.horizon = report.horizon.max(seq);
    }
    if report.horizon > horizon(c)? {
        set_meta(c, HORIZON_KEY, &report.horizon.to_string())?;
    }
    Ok(report)
}
