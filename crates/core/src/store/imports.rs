//! Imports, one batch per transaction: each row is an ordinary local edit
//! (with its outbox entry), and the same transaction records how many of
//! the file's rows are in, so an import cut short resumes after its last
//! whole batch and never brings a row in twice.

use ferry_protocol::{FieldType, Fields};
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::LocalStore;
use super::edits::{create_in, real_changes, update_loaded, writable};
use super::records;
use super::schema::safe_name;
use super::settings::{get_setting, set_setting};
use crate::error::{Error, Result};

/// One row to import: create it, or, with a key, update the record whose
/// key field holds `fields[key]` (creating it when none does).
#[derive(Debug, Clone)]
pub struct ImportRow {
    pub fields: Fields,
}

/// What became of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowOutcome {
    Created,
    Updated,
    Unchanged,
    /// The matched record waits for a decision on a conflict: left alone.
    Held,
}

/// How far the import of one file (with one set of options) got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportJournal {
    /// The file's data rows handled (imported or left out), from the first.
    pub done: u64,
    pub rows: u64,
}

impl ImportJournal {
    pub fn finished(&self) -> bool {
        self.done >= self.rows
    }
}

fn journal_key(import: &str) -> String {
    format!("import:{import}")
}

/// The live record of `collection` whose `key` field equals `value`.
fn find_by_key(c: &Connection, collection: &str, key: &str, value: &Value) -> Result<Option<Uuid>> {
    // The collection is spliced in (a safe name) so the field's sort index serves the lookup.
    let sql = format!(
        "SELECT r.id FROM records r WHERE r.collection = '{collection}' AND r.deleted = 0
         AND json_extract(r.fields, '$.{key}') = ?1 ORDER BY r.rid LIMIT 1"
    );
    let arg = match value {
        Value::String(s) => rusqlite::types::Value::Text(s.clone()),
        Value::Number(n) => n.as_i64().map_or_else(
            || rusqlite::types::Value::Real(n.as_f64().unwrap_or(0.0)),
            rusqlite::types::Value::Integer,
        ),
        Value::Bool(b) => rusqlite::types::Value::Integer(i64::from(*b)),
        _ => return Ok(None),
    };
    let id: Option<String> = c
        .prepare_cached(&sql)?
        .query_row([arg], |r| r.get(0))
        .optional()?;
    id.map(|s| records::parse_uuid(&s)).transpose()
}

/// Checks that `key` can match records of `collection`.
pub(crate) fn check_key(col: &ferry_protocol::Collection, key: &str) -> Result<()> {
    match col.field(key) {
        Some(f) if safe_name(key) && !matches!(f.field_type, FieldType::Tags) => Ok(()),
        Some(_) => Err(Error::InvalidValue(format!(
            "{} cannot be the key: a tags field holds several values",
            key
        ))),
        None => Err(Error::InvalidValue(format!(
            "{} has no field \"{key}\" to match rows by",
            col.label
        ))),
    }
}

impl LocalStore {
    /// For each value, whether a live record's `key` field holds it.
    pub fn key_matches(
        &self,
        collection: &str,
        key: &str,
        values: &[Option<Value>],
    ) -> Result<Vec<bool>> {
        if !safe_name(collection) || !safe_name(key) {
            return Err(Error::InvalidValue(format!(
                "there is no field \"{key}\" to match by"
            )));
        }
        self.read(|c| {
            values
                .iter()
                .map(|v| match v {
                    Some(v) => Ok(find_by_key(c, collection, key, v)?.is_some()),
                    None => Ok(false),
                })
                .collect()
        })
    }

    /// How far an import got (see [`LocalStore::import_batch`]).
    pub fn import_journal(&self, import: &str) -> Result<Option<ImportJournal>> {
        self.read(|c| {
            get_setting(c, &journal_key(import))?
                .map(|v| {
                    serde_json::from_str(&v)
                        .map_err(|e| Error::Inconsistent(format!("import journal: {e}")))
                })
                .transpose()
        })
    }

    /// Imports `rows` in one transaction and records that `journal.done`
    /// rows of the file `import` names are in. Rows are checked as they are
    /// written: one that fails stops the batch and nothing of it stays.
    pub fn import_batch(
        &self,
        collection: &str,
        key: Option<&str>,
        rows: &[ImportRow],
        import: &str,
        journal: ImportJournal,
    ) -> Result<Vec<RowOutcome>> {
        self.write(|tx| {
            let col = writable(tx, collection)?;
            if let Some(key) = key {
                check_key(&col, key)?;
            }
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                let found = match key.and_then(|k| row.fields.get(k).map(|v| (k, v))) {
                    Some((k, v)) => find_by_key(tx, collection, k, v)?,
                    None => None,
                };
                let outcome = match found {
                    None => {
                        create_in(tx, &col, row.fields.clone())?;
                        RowOutcome::Created
                    }
                    Some(id) => {
                        let r = records::load(tx, collection, id)?.ok_or_else(|| {
                            Error::Inconsistent("a matched record went missing".into())
                        })?;
                        if r.state == records::RecordState::Conflict {
                            out.push(RowOutcome::Held);
                            continue;
                        }
                        let changes = real_changes(&r, row.fields.clone());
                        if changes.is_empty() {
                            RowOutcome::Unchanged
                        } else {
                            update_loaded(tx, &col, r, changes)?;
                            RowOutcome::Updated
                        }
                    }
                };
                out.push(outcome);
            }
            let value = serde_json::to_string(&journal)
                .map_err(|e| Error::Inconsistent(format!("import journal: {e}")))?;
            set_setting(tx, &journal_key(import), Some(&value))?;
            Ok(out)
        })
    }
}
