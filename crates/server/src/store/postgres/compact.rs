//! History retention on PostgreSQL (see `store::compact`). Each window
//! takes the change sequence's lock first, as pushes do, so a record is
//! never forgotten while a push writes a new version of it.

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::super::StoreError;
use super::super::compact::{Bounds, CompactReport, HORIZON_KEY};
use super::pg_err;

pub(super) async fn meta(c: &impl GenericClient, key: &str) -> Result<Option<String>, StoreError> {
    let row = c
        .query_opt("SELECT value FROM meta WHERE key = $1", &[&key])
        .await
        .map_err(pg_err)?;
    Ok(row.map(|r| r.get(0)))
}

pub(super) async fn set_meta(
    c: &impl GenericClient,
    key: &str,
    value: &str,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO meta (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &[&key, &value],
    )
    .await
    .map(drop)
    .map_err(pg_err)
}

pub(super) async fn horizon(c: &impl GenericClient) -> Result<i64, StoreError> {
    Ok(meta(c, HORIZON_KEY)
        .await?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

/// Compacts one collection's rows at positions `(lo, hi]`, inside the
/// caller's transaction (which holds the change sequence's lock).
pub(super) async fn window(
    c: &impl GenericClient,
    collection: &str,
    b: &Bounds,
    lo: i64,
    hi: i64,
) -> Result<CompactReport, StoreError> {
    let mut report = CompactReport::default();
    if b.prunes_versions() {
        let n = c
            .execute(
                "DELETE FROM history WHERE seq IN (
                     SELECT h.seq FROM history h
                     JOIN records r ON r.collection = h.collection AND r.id = h.id
                     JOIN history cur ON cur.seq = r.seq
                     WHERE h.seq > $1 AND h.seq <= $2 AND h.collection = $3 AND h.seq <> r.seq
                       AND (CAST($4 AS BIGINT) IS NULL OR h.version <= cur.version - $4)
                       AND (CAST($5 AS TEXT) IS NULL OR h.updated_at < $5))",
                &[&lo, &hi, &collection, &b.versions, &b.before],
            )
            .await
            .map_err(pg_err)?;
        report.versions_removed = n;
    }
    let Some(before) = &b.tombstones_before else {
        return Ok(report);
    };
    let gone = c
        .query(
            "SELECT r.seq, r.id FROM records r JOIN history h ON h.seq = r.seq
             WHERE r.seq > $1 AND r.seq <= $2 AND r.collection = $3
               AND h.deleted AND h.updated_at < $4",
            &[&lo, &hi, &collection, before],
        )
        .await
        .map_err(pg_err)?;
    for row in gone {
        let (seq, id): (i64, Uuid) = (row.get(0), row.get(1));
        for sql in [
            "DELETE FROM history WHERE collection = $1 AND id = $2",
            "DELETE FROM records WHERE collection = $1 AND id = $2",
            "DELETE FROM record_parts WHERE collection = $1 AND id = $2",
        ] {
            c.execute(sql, &[&collection, &id]).await.map_err(pg_err)?;
        }
        report.records_forgotten += 1;
        report.horizon = report.horizon.max(seq);
    }
    if report.horizon > horizon(c).await? {
        set_meta(c, HORIZON_KEY, &report.horizon.to_string()).await?;
    }
    Ok(report)
}
