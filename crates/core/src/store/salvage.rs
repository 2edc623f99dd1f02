//! Reading what can still be read from a damaged database (for
//! [`crate::recovery`]): opened read-only, it is never written.

use std::path::Path;

use ferry_protocol::Mutation;
use rusqlite::OpenFlags;

use crate::encryption::DbKey;

/// Reads what it can from a damaged database, without writing to it: the
/// unsent mutations and the settings of `keys` that could be read, and
/// why the outbox could not be, when it could not.
pub(crate) fn salvage(
    path: &Path,
    key: Option<&DbKey>,
    keys: &[&str],
) -> (Vec<Mutation>, Vec<(String, String)>, Option<String>) {
    let conn = match super::connect(path, OpenFlags::SQLITE_OPEN_READ_ONLY, key) {
        Ok(c) => c,
        Err(e) => return (Vec::new(), Vec::new(), Some(e.to_string())),
    };
    let mut settings = Vec::new();
    for key in keys {
        if let Ok(v) = conn.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
            r.get::<_, String>(0)
        }) {
            settings.push(((*key).to_string(), v));
        }
    }
    let read = || -> rusqlite::Result<Vec<Mutation>> {
        let mut stmt = conn.prepare(
            "SELECT mutation_id, collection, record_id, op, base_version, base, fields, hlc FROM outbox ORDER BY seq",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(serde_json::json!({
                "mutation_id": r.get::<_, String>(0)?,
                "collection": r.get::<_, String>(1)?,
                "record_id": r.get::<_, String>(2)?,
                "op": r.get::<_, String>(3)?,
                "base_version": r.get::<_, Option<i64>>(4)?,
                "base": serde_json::from_str::<serde_json::Value>(&r.get::<_, String>(5)?).unwrap_or_default(),
                "fields": serde_json::from_str::<serde_json::Value>(&r.get::<_, String>(6)?).unwrap_or_default(),
                "hlc": r.get::<_, String>(7)?,
            }))
        })?;
        let mut out = Vec::new();
        for row in rows {
            // A row that no longer parses is skipped; the damaged file keeps it.
            if let Ok(m) = serde_json::from_value(row?) {
                out.push(m);
            }
        }
        Ok(out)
    };
    match read() {
        Ok(m) => (m, settings, None),
        Err(e) => (Vec::new(), settings, Some(e.to_string())),
    }
}
