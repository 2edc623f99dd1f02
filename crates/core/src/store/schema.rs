//! The schema cache: the collections the server last described, in order.
//!
//! Replaced whole on every sync. A collection or field that disappears from
//! the server disappears here, but the values records hold for it stay in
//! their JSON, so nothing local is lost if it comes back.

use ferry_protocol::{Collection, FieldType};
use rusqlite::{Connection, OptionalExtension, params};

use super::LocalStore;
use crate::error::{Error, Result};

/// Names safe to splice into SQL: the server allows only these for
/// collections and fields.
pub(crate) fn safe_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && name.len() <= 64
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Field types worth a sort index (long text and tags are not sorted by).
fn sortable(t: FieldType) -> bool {
    !matches!(t, FieldType::Longtext | FieldType::Tags)
}

pub(crate) fn sort_index_name(collection: &str, field: &str) -> String {
    format!("sort_{collection}__{field}")
}

impl LocalStore {
    /// Replaces the cached schema and keeps one sort index per sortable field.
    pub fn replace_schema(&self, collections: &[Collection]) -> Result<()> {
        if self.collections()? == collections {
            return Ok(());
        }
        self.write(|tx| {
            tx.execute("DELETE FROM collections", [])?;
            for (i, c) in collections.iter().enumerate() {
                let def =
                    serde_json::to_string(c).map_err(|e| Error::Inconsistent(e.to_string()))?;
                tx.execute(
                    "INSERT INTO collections (name, position, def) VALUES (?1, ?2, ?3)",
                    params![c.name, i as i64, def],
                )?;
            }
            // During a bulk load the indexes are built at its end.
            let build = !super::bulk::active(tx)?;
            sync_sort_indexes(tx, collections, build)
        })
    }

    /// Every cached collection, in the server's order.
    pub fn collections(&self) -> Result<Vec<Collection>> {
        self.read(collections_in)
    }

    /// One collection, or an error telling the user to refresh the schema.
    pub fn collection(&self, name: &str) -> Result<Collection> {
        self.read(|c| collection_in(c, name))?
            .ok_or_else(|| Error::UnknownCollection(name.to_string()))
    }
}

/// Keeps exactly one sort index per sortable field of `collections`;
/// with `build` false, only drops the ones no longer wanted.
pub(crate) fn sync_sort_indexes(
    tx: &Connection,
    collections: &[Collection],
    build: bool,
) -> Result<()> {
    let mut wanted = Vec::new();
    for c in collections.iter().filter(|c| safe_name(&c.name)) {
        for f in c
            .fields
            .iter()
            .filter(|f| sortable(f.field_type) && safe_name(&f.name))
        {
            let index = sort_index_name(&c.name, &f.name);
            if build {
                // Live records only, by value and then row id; `deleted` (always 0)
                // leads so the planner sees the index serves `deleted = 0`.
                tx.execute_batch(&format!(
                    "CREATE INDEX IF NOT EXISTS {index}
                     ON records(deleted, json_extract(fields, '$.{field}')) WHERE collection = '{collection}' AND deleted = 0",
                    field = f.name,
                    collection = c.name
                ))?;
            }
            wanted.push(index);
        }
    }
    for index in sort_indexes(tx)?.iter().filter(|i| !wanted.contains(i)) {
        tx.execute_batch(&format!("DROP INDEX IF EXISTS {index}"))?;
    }
    Ok(())
}

pub(crate) fn sort_indexes(c: &Connection) -> Result<Vec<String>> {
    Ok(c.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'sort\\_%' ESCAPE '\\'",
    )?
    .query_map([], |r| r.get(0))?
    .collect::<rusqlite::Result<_>>()?)
}

/// Every cached collection, read inside a transaction.
pub(crate) fn collections_in(c: &Connection) -> Result<Vec<Collection>> {
    let mut stmt = c.prepare("SELECT def FROM collections ORDER BY position")?;
    let defs: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    defs.iter()
        .map(|d| {
            serde_json::from_str(d).map_err(|e| Error::Inconsistent(format!("cached schema: {e}")))
        })
        .collect()
}

pub(crate) fn collection_in(c: &Connection, name: &str) -> Result<Option<Collection>> {
    let def: Option<String> = c
        .query_row("SELECT def FROM collections WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?;
    def.map(|d| {
        serde_json::from_str(&d).map_err(|e| Error::Inconsistent(format!("cached schema: {e}")))
    })
    .transpose()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ferry_protocol::{Access, Field, Policy};

    pub(crate) fn tasks(extra: &[&str]) -> Collection {
        let mut fields = vec![Field {
            name: "title".into(),
            label: "Title".into(),
            field_type: FieldType::Text,
            required: true,
            options: None,
            merge: None,
            multiple: false,
            max_size: None,
            accept: None,
        }];
        for name in extra {
            fields.push(Field {
                name: (*name).into(),
                label: (*name).into(),
                field_type: FieldType::Text,
                required: false,
                options: None,
                merge: None,
                multiple: false,
                max_size: None,
                accept: None,
            });
        }
        Collection {
            name: "tasks".into(),
            label: "Tasks".into(),
            title_field: "title".into(),
            policy: Policy::Manual,
            access: Access::Write,
            fields,
            rows: None,
            fetch_files: None,
        }
    }

    #[test]
    fn a_field_added_then_removed_keeps_its_sort_index_only_while_it_exists() {
        let store = LocalStore::open_in_memory().expect("open");
        store.replace_schema(&[tasks(&["owner"])]).expect("schema");
        let indexes = |s: &LocalStore| -> Vec<String> {
            s.read(|c| {
                Ok(c.prepare(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'sort%'",
                )?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?)
            })
            .expect("indexes")
        };
        assert_eq!(indexes(&store).len(), 2);
        store.replace_schema(&[tasks(&[])]).expect("schema");
        assert_eq!(indexes(&store), vec![sort_index_name("tasks", "title")]);
        assert_eq!(store.collection("tasks").expect("tasks").fields.len(), 1);
        assert!(matches!(
            store.collection("nope"),
            Err(Error::UnknownCollection(_))
        ));
    }
}
