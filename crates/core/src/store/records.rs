//! Record rows: a local value (what the user sees, with their unsent edits)
//! and a base (the last server state seen).

use ferry_protocol::{ErrorBody, Fields, Hlc, Record};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use uuid::Uuid;

use super::LocalStore;
use crate::error::{Error, Result};

/// Where a record stands relative to the server.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordState {
    /// The local value is the server's.
    Synced,
    /// Local edits wait in the outbox.
    Pending,
    /// The server reported a conflict that needs a person.
    Conflict,
    /// The server refused the last edit; it stays visible with its error.
    Rejected,
}

/// A record as this device holds it; its fields parsed into values, or
/// kept as the stored JSON text for the record list.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(concrete(F = Fields)))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocalRecord<F = Fields> {
    pub collection: String,
    pub id: Uuid,
    /// The local value, unsent edits included.
    pub fields: F,
    pub deleted: bool,
    /// The last server state seen; `None` for a record never acknowledged.
    pub base: Option<Record<F>>,
    pub state: RecordState,
    /// Why the server refused the last edit.
    pub error: Option<ErrorBody>,
}

impl<F> LocalRecord<F> {
    pub fn base_version(&self) -> Option<i64> {
        self.base.as_ref().map(|b| b.version)
    }
}

/// Fields are stored as SQLite's binary JSON (JSONB), which sort keys and
/// filters read without parsing. The base's fields are stored only when they
/// differ from the local value: `base_fields` is null for a record without
/// local changes.
pub(crate) const RECORD_SELECT: &str =
    "SELECT r.collection, r.id, json(r.fields), r.deleted, r.base_version, json(r.base_fields),
        r.base_deleted, r.base_updated_at, r.base_updated_by, r.error,
        EXISTS (SELECT 1 FROM outbox o WHERE o.collection = r.collection AND o.record_id = r.id),
        EXISTS (SELECT 1 FROM conflicts k WHERE k.collection = r.collection AND k.record_id = r.id)
    FROM records r";

fn json<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| Error::Inconsistent(format!("{what}: {e}")))
}

/// The fields of a pulled record: parsed, or kept as the JSON the server
/// sent (which a pull stores as it is, without parsing it into values).
pub trait PulledFields: Serialize {
    /// The fields as JSON text.
    fn json(&self) -> Result<std::borrow::Cow<'_, str>>;
    /// The fields as values.
    fn values(&self) -> Result<Fields>;
}

impl PulledFields for Fields {
    fn json(&self) -> Result<std::borrow::Cow<'_, str>> {
        to_json(self).map(std::borrow::Cow::Owned)
    }

    fn values(&self) -> Result<Fields> {
        Ok(self.clone())
    }
}

impl PulledFields for Box<serde_json::value::RawValue> {
    fn json(&self) -> Result<std::borrow::Cow<'_, str>> {
        let text = self.get();
        if !text.trim_start().starts_with('{') {
            return Err(Error::Inconsistent(format!(
                "the server sent record fields that are not an object: {}",
                text.chars().take(40).collect::<String>()
            )));
        }
        Ok(std::borrow::Cow::Borrowed(text))
    }

    fn values(&self) -> Result<Fields> {
        json(self.get(), "pulled fields")
    }
}

pub(crate) fn to_json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Inconsistent(e.to_string()))
}

pub(crate) fn parse_uuid(s: &str) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|e| Error::Inconsistent(format!("record id {s:?}: {e}")))
}

/// How a record's fields are read from the store: parsed into values, or
/// kept as the stored JSON text for a view that only passes them on (the
/// record list: parsing each row's values cost more than the rest of it).
pub trait StoredFields: Sized + Clone {
    fn from_stored(text: String, what: &str) -> Result<Self>;
}

impl StoredFields for Fields {
    fn from_stored(text: String, what: &str) -> Result<Self> {
        json(&text, what)
    }
}

impl StoredFields for Box<serde_json::value::RawValue> {
    fn from_stored(text: String, what: &str) -> Result<Self> {
        serde_json::value::RawValue::from_string(text)
            .map_err(|e| Error::Inconsistent(format!("{what}: {e}")))
    }
}

/// Builds a record from a row of [`RECORD_SELECT`].
pub(crate) fn from_row<F: StoredFields>(row: &Row<'_>) -> Result<LocalRecord<F>> {
    let collection: String = row.get(0)?;
    let id = parse_uuid(&row.get::<_, String>(1)?)?;
    let fields = F::from_stored(row.get::<_, String>(2)?, "record fields")?;
    let base = match row.get::<_, Option<i64>>(4)? {
        Some(version) => {
            let updated_at: Option<String> = row.get(7)?;
            let updated_at: Hlc = updated_at
                .as_deref()
                .ok_or_else(|| Error::Inconsistent("base without a stamp".into()))?
                .parse()
                .map_err(|e: ferry_protocol::HlcError| Error::Inconsistent(e.to_string()))?;
            Some(Record {
                collection: collection.clone(),
                id,
                version,
                fields: match row.get::<_, Option<String>>(5)? {
                    Some(base) => F::from_stored(base, "base fields")?,
                    None => fields.clone(),
                },
                deleted: row.get(6)?,
                updated_at,
                updated_by: row.get::<_, Option<String>>(8)?.unwrap_or_default(),
                merged_from: None,
            })
        }
        None => None,
    };
    let error: Option<ErrorBody> = row
        .get::<_, Option<String>>(9)?
        .map(|e| json(&e, "record error"))
        .transpose()?;
    let (pending, conflict): (bool, bool) = (row.get(10)?, row.get(11)?);
    let state = if conflict {
        RecordState::Conflict
    } else if error.is_some() {
        RecordState::Rejected
    } else if pending {
        RecordState::Pending
    } else {
        RecordState::Synced
    };
    Ok(LocalRecord {
        collection,
        id,
        fields,
        deleted: row.get(3)?,
        base,
        state,
        error,
    })
}

pub(crate) fn load(c: &Connection, collection: &str, id: Uuid) -> Result<Option<LocalRecord>> {
    let mut stmt = c.prepare_cached(&format!(
        "{RECORD_SELECT} WHERE r.collection = ?1 AND r.id = ?2"
    ))?;
    let mut rows = stmt.query(params![collection, id.to_string()])?;
    match rows.next()? {
        Some(row) => Ok(Some(from_row(row)?)),
        None => Ok(None),
    }
}

/// Whether the record holds anything the server has not accepted: outbox
/// entries, a conflict, or a rejected edit.
pub(crate) fn has_local_changes(c: &Connection, collection: &str, id: &str) -> Result<bool> {
    let mut stmt = c.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM outbox WHERE collection = ?1 AND record_id = ?2)
             OR EXISTS (SELECT 1 FROM conflicts WHERE collection = ?1 AND record_id = ?2)
             OR EXISTS (SELECT 1 FROM records WHERE collection = ?1 AND id = ?2 AND error IS NOT NULL)",
    )?;
    Ok(stmt.query_row(params![collection, id], |r| r.get(0))?)
}

/// Sets the local value, creating the row (without a base) if needed. A
/// base that was the local value is stored on its own first.
pub(crate) fn set_local(
    c: &Connection,
    collection: &str,
    id: Uuid,
    fields: &Fields,
    deleted: bool,
) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO records (collection, id, fields, deleted) VALUES (?1, ?2, jsonb(?3), ?4)
         ON CONFLICT (collection, id) DO UPDATE SET fields = jsonb(?3), deleted = ?4,
            base_fields = CASE WHEN base_version IS NOT NULL THEN coalesce(base_fields, fields) END",
    )?
    .execute(params![
        collection,
        id.to_string(),
        to_json(fields)?,
        deleted
    ])?;
    Ok(())
}

/// Drops the local changes of a record: its local value becomes its base
/// again, or, never synced, the record goes.
pub(crate) fn revert_to_base(c: &Connection, collection: &str, id: Uuid) -> Result<()> {
    let id = id.to_string();
    let reverted = c
        .prepare_cached(
            "UPDATE records SET fields = coalesce(base_fields, fields), deleted = base_deleted,
                base_fields = NULL, error = NULL
             WHERE collection = ?1 AND id = ?2 AND base_version IS NOT NULL",
        )?
        .execute(params![collection, id])?;
    if reverted == 0 {
        c.prepare_cached("DELETE FROM records WHERE collection = ?1 AND id = ?2")?
            .execute(params![collection, id])?;
    }
    Ok(())
}

pub(crate) fn set_error(
    c: &Connection,
    collection: &str,
    id: Uuid,
    error: Option<&ErrorBody>,
) -> Result<()> {
    let error = error.map(to_json).transpose()?;
    c.prepare_cached("UPDATE records SET error = ?3 WHERE collection = ?1 AND id = ?2")?
        .execute(params![collection, id.to_string(), error])?;
    Ok(())
}

/// Sets the base to a server record; with `replace_local`, the local value too.
pub(crate) fn set_base(c: &Connection, r: &Record, replace_local: bool) -> Result<()> {
    set_base_of(c, r, replace_local, true)
}

/// [`set_base`], told whether the row may exist already.
pub(super) fn set_base_of<F: PulledFields>(
    c: &Connection,
    r: &Record<F>,
    replace_local: bool,
    may_exist: bool,
) -> Result<()> {
    let fields = r.fields.json()?;
    let args = params![
        r.collection,
        r.id.to_string(),
        fields,
        r.deleted,
        r.version,
        r.updated_at.to_string(),
        r.updated_by
    ];
    // Rewriting an unchanged local value would still redo its search and sort index entries.
    let unchanged = replace_local
        && may_exist
        && c.prepare_cached(
            "SELECT fields = jsonb(?3) AND deleted = ?4 FROM records WHERE collection = ?1 AND id = ?2",
        )?
        .query_row(
            params![r.collection, r.id.to_string(), fields, r.deleted],
            |row| row.get::<_, bool>(0),
        )
        .optional()?
        .unwrap_or(false);
    // With the local value replaced, the base is the local value: `base_fields` stays null.
    if unchanged {
        c.prepare_cached(
            "UPDATE records SET base_version = ?5, base_fields = NULL, base_deleted = ?4, base_updated_at = ?6,
                base_updated_by = ?7, error = NULL
             WHERE collection = ?1 AND id = ?2",
        )?
        .execute(args)?;
    } else if replace_local {
        c.prepare_cached(
            "INSERT INTO records (collection, id, fields, deleted, base_version, base_fields, base_deleted,
                                  base_updated_at, base_updated_by)
             VALUES (?1, ?2, jsonb(?3), ?4, ?5, NULL, ?4, ?6, ?7)
             ON CONFLICT (collection, id) DO UPDATE SET fields = jsonb(?3), deleted = ?4, base_version = ?5,
                base_fields = NULL, base_deleted = ?4, base_updated_at = ?6, base_updated_by = ?7, error = NULL",
        )?
        .execute(args)?;
    } else {
        c.prepare_cached(
            "INSERT INTO records (collection, id, fields, deleted, base_version, base_fields, base_deleted,
                                  base_updated_at, base_updated_by)
             VALUES (?1, ?2, jsonb(?3), ?4, ?5, NULL, ?4, ?6, ?7)
             ON CONFLICT (collection, id) DO UPDATE SET base_version = ?5,
                base_fields = jsonb(?3), base_deleted = ?4, base_updated_at = ?6, base_updated_by = ?7",
        )?
        .execute(args)?;
    }
    Ok(())
}

/// What applying a pulled record needs to know about the local row:
/// whether it exists, its base version, and whether it holds local changes.
/// Whether a record arriving at version `version`, stamped `stamp`, is
/// newer than the base held, `held` its version: a later version, or a
/// later stamp. A record the server forgot (its deletion past retention)
/// and someone created again starts over at version 1, later than the
/// old deletion held here.
pub(crate) fn newer_than_base(
    c: &Connection,
    collection: &str,
    id: &str,
    held: Option<i64>,
    version: i64,
    stamp: &ferry_protocol::Hlc,
) -> Result<bool> {
    let Some(held) = held else {
        return Ok(true);
    };
    if version > held {
        return Ok(true);
    }
    let base_stamp: Option<String> = c
        .prepare_cached("SELECT base_updated_at FROM records WHERE collection = ?1 AND id = ?2")?
        .query_row(params![collection, id], |r| r.get(0))
        .optional()?
        .flatten();
    Ok(base_stamp.is_some_and(|b| b < stamp.to_string()))
}

pub(crate) fn local_row(
    c: &Connection,
    collection: &str,
    id: &str,
) -> Result<Option<(Option<i64>, bool)>> {
    Ok(c.prepare_cached(
        "SELECT r.base_version,
                r.error IS NOT NULL
                OR EXISTS (SELECT 1 FROM outbox o WHERE o.collection = r.collection AND o.record_id = r.id)
                OR EXISTS (SELECT 1 FROM conflicts k WHERE k.collection = r.collection AND k.record_id = r.id)
         FROM records r WHERE r.collection = ?1 AND r.id = ?2",
    )?
    .query_row(params![collection, id], |r| Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, bool>(1)?)))
    .optional()?)
}

impl LocalStore {
    /// One record, deleted or not.
    pub fn record(&self, collection: &str, id: Uuid) -> Result<LocalRecord> {
        self.read(|c| load(c, collection, id))?
            .ok_or_else(|| Error::UnknownRecord {
                collection: collection.to_string(),
                id: id.to_string(),
            })
    }
}
