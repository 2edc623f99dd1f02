//! Record rows: a local value (what the user sees, with their unsent edits)
//! and a base (the last server state seen), plus applying pulled pages.

use ferry_protocol::{ErrorBody, Fields, Hlc, Record};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use uuid::Uuid;

use super::{LocalStore, keys, set_setting};
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

/// A record as this device holds it.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocalRecord {
    pub collection: String,
    pub id: Uuid,
    /// The local value, unsent edits included.
    pub fields: Fields,
    pub deleted: bool,
    /// The last server state seen; `None` for a record never acknowledged.
    pub base: Option<Record>,
    pub state: RecordState,
    /// Why the server refused the last edit.
    pub error: Option<ErrorBody>,
}

impl LocalRecord {
    pub fn base_version(&self) -> Option<i64> {
        self.base.as_ref().map(|b| b.version)
    }
}

/// Fields are stored as SQLite's binary JSON (JSONB), which sort indexes and
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

/// Builds a record from a row of [`RECORD_SELECT`].
pub(crate) fn from_row(row: &Row<'_>) -> Result<LocalRecord> {
    let collection: String = row.get(0)?;
    let id = parse_uuid(&row.get::<_, String>(1)?)?;
    let fields: Fields = json(&row.get::<_, String>(2)?, "record fields")?;
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
                    Some(base) => json(&base, "base fields")?,
                    None => fields.clone(),
                },
                deleted: row.get(6)?,
                updated_at,
                updated_by: row.get::<_, Option<String>>(8)?.unwrap_or_default(),
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
fn set_base_of<F: PulledFields>(
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

/// The statement [`insert_new`] runs, prepared once for a page.
fn new_record_insert(c: &Connection) -> Result<rusqlite::CachedStatement<'_>> {
    Ok(c.prepare_cached(
        "INSERT INTO records (collection, id, fields, deleted, base_version, base_fields, base_deleted,
                              base_updated_at, base_updated_by)
         VALUES (?1, ?2, jsonb(?3), ?4, ?5, NULL, ?4, ?6, ?7)
         ON CONFLICT (collection, id) DO NOTHING",
    )?)
}

/// Stores a pulled record that is not in the snapshot yet; false, writing
/// nothing, if it is.
fn insert_new<F: PulledFields>(
    insert: &mut rusqlite::Statement<'_>,
    r: &Record<F>,
) -> Result<bool> {
    let inserted = insert.execute(params![
        r.collection,
        r.id.to_string(),
        r.fields.json()?,
        r.deleted,
        r.version,
        r.updated_at.to_string(),
        r.updated_by
    ])?;
    Ok(inserted == 1)
}

/// What applying a pulled record needs to know about the local row:
/// whether it exists, its base version, and whether it holds local changes.
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

/// [`local_row`] for many records of one collection at once: only those
/// that exist are in the map.
fn local_rows(
    c: &Connection,
    collection: &str,
    ids: Vec<String>,
) -> Result<std::collections::HashMap<String, (Option<i64>, bool)>> {
    let ids = std::rc::Rc::new(
        ids.into_iter()
            .map(rusqlite::types::Value::Text)
            .collect::<Vec<_>>(),
    );
    let mut stmt = c.prepare_cached(
        "SELECT r.id, r.base_version,
                r.error IS NOT NULL
                OR EXISTS (SELECT 1 FROM outbox o WHERE o.collection = r.collection AND o.record_id = r.id)
                OR EXISTS (SELECT 1 FROM conflicts k WHERE k.collection = r.collection AND k.record_id = r.id)
         FROM records r WHERE r.collection = ?1 AND r.id IN rarray(?2)",
    )?;
    let rows = stmt.query_map(params![collection, ids], |r| {
        Ok((r.get::<_, String>(0)?, (r.get(1)?, r.get(2)?)))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Applies one pulled record, given its local row ([`local_row`]): replaces
/// a record without local changes, only rebases one with them; never goes
/// back to an older version. Returns whether anything changed.
pub(crate) fn apply_pulled<F: PulledFields>(
    c: &Connection,
    r: &Record<F>,
    row: Option<(Option<i64>, bool)>,
) -> Result<bool> {
    let id = r.id.to_string();
    let (base_version, local_changes) = row.unwrap_or((None, false));
    if base_version.is_some_and(|v| v >= r.version) {
        return Ok(false);
    }
    set_base_of(c, r, !local_changes, row.is_some())?;
    if local_changes && base_version.is_none() {
        // Pending edits known before the record itself (an imported outbox):
        // show them on top of the server's record.
        let mut fields = r.fields.values()?;
        let mut deleted = r.deleted;
        for e in crate::outbox::entries_for(c, &r.collection, r.id)? {
            match e.mutation.op {
                ferry_protocol::Op::Put => {
                    crate::outbox::apply_changes(&mut fields, &e.mutation.fields)
                }
                ferry_protocol::Op::Delete => deleted = true,
            }
        }
        set_local(c, &r.collection, r.id, &fields, deleted)?;
    }
    if local_changes {
        // A conflict shows the server's latest state as "theirs".
        let updated = c
            .prepare_cached(
                "UPDATE conflicts SET theirs = ?3 WHERE collection = ?1 AND record_id = ?2",
            )?
            .execute(params![r.collection, id, to_json(r)?])?;
        if updated > 0 {
            crate::conflict::refresh(c, &r.collection, r.id)?;
        }
    }
    Ok(true)
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

    /// Applies one page of pulled changes and moves the cursor, in one
    /// transaction. Returns how many records changed locally.
    pub fn apply_page<F: PulledFields>(
        &self,
        changes: &[Record<F>],
        cursor: &str,
    ) -> Result<usize> {
        self.write(|tx| {
            let mut changed = 0;
            let mut latest: Option<&Hlc> = None;
            // A first pull: nearly every record is new, and inserting one is
            // how to find out, without reading its row first.
            let first_pull = super::bulk::active(tx)?;
            // Otherwise the local rows of the page, read at once.
            let mut rows = std::collections::HashMap::new();
            let mut collections: Vec<&str> = changes
                .iter()
                .filter(|_| !first_pull)
                .map(|r| r.collection.as_str())
                .collect();
            collections.sort_unstable();
            collections.dedup();
            for collection in collections {
                let ids = changes
                    .iter()
                    .filter(|r| r.collection == collection)
                    .map(|r| r.id.to_string())
                    .collect();
                for (id, row) in local_rows(tx, collection, ids)? {
                    rows.insert((collection, id), row);
                }
            }
            let mut seen = std::collections::HashSet::new();
            let mut insert = first_pull.then(|| new_record_insert(tx)).transpose()?;
            for r in changes {
                latest = latest.max(Some(&r.updated_at));
                if let Some(insert) = insert.as_mut()
                    && insert_new(insert, r)?
                {
                    changed += 1;
                    continue;
                }
                let id = r.id.to_string();
                let row = if !first_pull && seen.insert((r.collection.as_str(), r.id)) {
                    rows.remove(&(r.collection.as_str(), id))
                } else {
                    // Stored before this first pull, or twice in the page: its row as it is now.
                    local_row(tx, &r.collection, &id)?
                };
                if apply_pulled(tx, r, row)? {
                    changed += 1;
                }
            }
            if let Some(stamp) = latest {
                crate::hlc::observe(tx, stamp)?;
            }
            set_setting(tx, keys::CURSOR, Some(cursor))?;
            Ok(changed)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::schema::tests::tasks;

    fn pulled(id: Uuid, version: i64, title: &str) -> Record {
        let fields = match serde_json::json!({ "title": title }) {
            serde_json::Value::Object(m) => m,
            _ => Fields::new(),
        };
        Record {
            collection: "tasks".into(),
            id,
            version,
            fields,
            deleted: false,
            updated_at: Hlc::new(1_795_700_000_000 + version, 0, "srv").expect("stamp"),
            updated_by: "bob".into(),
        }
    }

    /// id, fields, deleted; base version, fields, deleted, stamp and author; error.
    type Row = (
        String,
        String,
        bool,
        Option<i64>,
        Option<String>,
        bool,
        Option<String>,
        Option<String>,
        Option<String>,
    );

    /// Every record's row as text, in id order.
    fn rows(store: &LocalStore) -> Vec<Row> {
        store
            .read(|c| {
                Ok(c.prepare(
                    "SELECT id, json(fields), deleted, base_version, json(base_fields), base_deleted,
                            base_updated_at, base_updated_by, error
                     FROM records ORDER BY id",
                )?
                .query_map([], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                        r.get(8)?,
                    ))
                })?
                .collect::<rusqlite::Result<_>>()?)
            })
            .expect("rows")
    }

    #[test]
    fn a_first_pull_stores_what_any_other_pull_would() {
        let (other, once) = (Uuid::now_v7(), Uuid::now_v7());
        let mut results = Vec::new();
        for first_pull in [false, true] {
            let store = LocalStore::open_in_memory().expect("open");
            store.replace_schema(&[tasks(&[])]).expect("schema");
            // A record made here and not sent yet, which the server's pages
            // then bring too (as after importing an outbox).
            let fields = pulled(other, 0, "mine").fields;
            let mine = store.create("tasks", fields).expect("create");
            if first_pull {
                store.begin_bulk_load().expect("begin");
            }
            let page = [
                pulled(other, 1, "new"),
                pulled(once, 1, "once"),
                pulled(mine, 3, "theirs"),
                pulled(other, 2, "newer"),
            ];
            assert_eq!(store.apply_page(&page, "4").expect("apply"), 4);
            if first_pull {
                store.end_bulk_load().expect("end");
            }
            let rows = rows(&store);
            let of = |id: Uuid| rows.iter().find(|r| r.0 == id.to_string()).cloned();
            let stored = of(other).expect("the new record");
            assert_eq!(
                (stored.2, stored.3, stored.4.clone()),
                (false, Some(2), None)
            );
            assert!(stored.1.contains("newer"), "{stored:?}");
            let single = of(once).expect("a record pulled once");
            assert_eq!((single.3, single.7.as_deref()), (Some(1), Some("bob")));
            let kept = of(mine).expect("my record");
            assert_eq!(kept.3, Some(3));
            assert!(
                kept.1.contains("mine") && kept.4.as_deref().is_some_and(|b| b.contains("theirs")),
                "{kept:?}"
            );
            // My record's id is made anew each time round.
            let same: Vec<Row> = rows
                .into_iter()
                .map(|mut r| {
                    if r.0 == mine.to_string() {
                        r.0 = "mine".into();
                    }
                    r
                })
                .collect();
            results.push(same);
        }
        assert_eq!(results[0], results[1]);
    }
}
