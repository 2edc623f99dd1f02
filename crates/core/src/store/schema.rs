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

/// Field types kept as sort keys (long text, tags and files are not sorted by).
fn sortable(t: FieldType) -> bool {
    !matches!(t, FieldType::Longtext | FieldType::Tags | FieldType::File)
}

// Sort keys live in a narrow table per collection, `"sort:<collection>"`:
// one row per live record (`rid` as in `records`) and one column,
// `"f:<field>"`, per sortable field, each with an index of its own. Building
// them at the end of a bulk load reads the records once (their indexes then
// read only this table), and an edit rewrites only the indexes of the
// fields it changed; indexes of expressions over `records.fields` did both
// once per field. Triggers on `records` keep the table. Names carry a `:`,
// which no collection or field name holds, so no two can clash.

/// The quoted name of `collection`'s sort key table.
pub(crate) fn sort_table(collection: &str) -> String {
    format!("\"sort:{collection}\"")
}

/// The sort key of `field` in `row` (a row of `records`): what the
/// triggers, a fill and the end of a bulk load all store.
pub(crate) fn sort_value(row: &str, field: &str) -> String {
    format!("json_extract({row}.fields, '$.{field}')")
}

/// The quoted name of `field`'s column in its sort key table.
pub(crate) fn sort_column(field: &str) -> String {
    format!("\"f:{field}\"")
}

/// Whether `collection`'s sort key table has a column for `field` (none
/// does during a bulk load, or for a field that is not sortable).
pub(crate) fn has_sort_key(c: &Connection, collection: &str, field: &str) -> Result<bool> {
    Ok(
        c.prepare_cached("SELECT EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2)")?
            .query_row(
                params![format!("sort:{collection}"), format!("f:{field}")],
                |r| r.get(0),
            )?,
    )
}

/// One collection's sort keys: its table and the sortable fields it holds.
pub(crate) struct SortKeys<'a> {
    pub collection: &'a str,
    pub fields: Vec<&'a str>,
}

impl SortKeys<'_> {
    /// Each collection with sortable fields, with those fields.
    pub(crate) fn wanted(collections: &[Collection]) -> Vec<SortKeys<'_>> {
        collections
            .iter()
            .filter(|c| safe_name(&c.name))
            .map(|c| SortKeys {
                collection: &c.name,
                fields: c
                    .fields
                    .iter()
                    .filter(|f| sortable(f.field_type) && safe_name(&f.name))
                    .map(|f| f.name.as_str())
                    .collect(),
            })
            .filter(|k| !k.fields.is_empty())
            .collect()
    }

    fn columns(&self) -> String {
        self.fields
            .iter()
            .map(|f| sort_column(f))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The sort key values of `row`'s fields (`row` names a row of `records`).
    fn values(&self, row: &str) -> String {
        self.fields
            .iter()
            .map(|f| sort_value(row, f))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Creates the (empty) table and the triggers that keep it.
    pub(crate) fn create(&self, tx: &Connection) -> Result<()> {
        let (collection, table) = (self.collection, sort_table(self.collection));
        let (columns, new) = (self.columns(), self.values("new"));
        let mut sql = format!(
            "CREATE TABLE {table} (rid INTEGER PRIMARY KEY, {columns});
             CREATE TRIGGER \"sort:{collection}:on insert\" AFTER INSERT ON records
             WHEN new.collection = '{collection}' AND new.deleted = 0 BEGIN
                INSERT OR REPLACE INTO {table} (rid, {columns}) VALUES (new.rid, {new});
             END;
             CREATE TRIGGER \"sort:{collection}:on delete\" AFTER DELETE ON records
             WHEN old.collection = '{collection}' AND old.deleted = 0 BEGIN
                DELETE FROM {table} WHERE rid = old.rid;
             END;
             CREATE TRIGGER \"sort:{collection}:on deleted\" AFTER UPDATE OF deleted ON records
             WHEN new.collection = '{collection}' AND old.deleted IS NOT new.deleted BEGIN
                DELETE FROM {table} WHERE rid = old.rid;
                INSERT INTO {table} (rid, {columns}) SELECT new.rid, {new} WHERE new.deleted = 0;
             END;"
        );
        for f in &self.fields {
            let (column, was, is) = (sort_column(f), sort_value("old", f), sort_value("new", f));
            sql.push_str(&format!(
                "CREATE TRIGGER \"sort:{collection}:on {f}\" AFTER UPDATE OF fields ON records
                 WHEN new.collection = '{collection}' AND new.deleted = 0
                    AND {was} IS NOT {is} BEGIN
                    UPDATE {table} SET {column} = {is} WHERE rid = new.rid;
                 END;"
            ));
        }
        tx.execute_batch(&sql)?;
        Ok(())
    }

    /// Fills the table from the live records, in row id order.
    pub(crate) fn fill(&self, tx: &Connection) -> Result<()> {
        tx.execute_batch(&format!(
            "INSERT INTO {table} (rid, {columns})
                SELECT rid, {values} FROM records WHERE collection = '{collection}' AND deleted = 0 ORDER BY rid",
            table = sort_table(self.collection),
            columns = self.columns(),
            values = self.values("records"),
            collection = self.collection,
        ))?;
        Ok(())
    }

    /// The statement adding one row: the row id, then a value per field.
    pub(crate) fn insert(&self) -> String {
        let params = (2..=self.fields.len() + 1)
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "INSERT INTO {} (rid, {}) VALUES (?1, {params})",
            sort_table(self.collection),
            self.columns()
        )
    }

    /// Indexes each field's column: once filled, as sorting everything
    /// once is cheaper than inserting into the indexes row by row.
    pub(crate) fn index(&self, tx: &Connection) -> Result<()> {
        let (collection, table) = (self.collection, sort_table(self.collection));
        for f in &self.fields {
            tx.execute_batch(&format!(
                "CREATE INDEX \"sort:{collection}:{f}\" ON {table}({})",
                sort_column(f)
            ))?;
        }
        Ok(())
    }
}

/// Keeps exactly one sort key table per collection with sortable fields,
/// each with a column per such field and an index per column; with `build`
/// false (a bulk load is under way, whose end builds them), drops them all.
pub(crate) fn sync_sort_keys(
    tx: &Connection,
    collections: &[Collection],
    build: bool,
) -> Result<()> {
    let wanted = if build {
        SortKeys::wanted(collections)
    } else {
        Vec::new()
    };
    for keys in missing_sort_keys(tx, &wanted)? {
        let start = std::time::Instant::now();
        keys.create(tx)?;
        keys.fill(tx)?;
        let filled = start.elapsed();
        keys.index(tx)?;
        tracing::debug!(
            collection = keys.collection,
            ?filled,
            indexed = ?start.elapsed() - filled,
            "sort keys built"
        );
    }
    Ok(())
}

/// Drops every sort key table but those `wanted`, as they are, and says
/// which of those are missing.
pub(crate) fn missing_sort_keys<'a, 'b>(
    tx: &Connection,
    wanted: &'b [SortKeys<'a>],
) -> Result<Vec<&'b SortKeys<'a>>> {
    let mut kept = Vec::new();
    for table in names_in(tx, "table", "sort:")? {
        let collection = &table["sort:".len()..];
        let columns: Vec<String> = tx
            .prepare("SELECT name FROM pragma_table_info(?1) WHERE name <> 'rid' ORDER BY cid")?
            .query_map([&table], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let want: Option<Vec<String>> = wanted
            .iter()
            .find(|k| k.collection == collection)
            .map(|k| k.fields.iter().map(|f| format!("f:{f}")).collect());
        if want.as_ref() == Some(&columns) {
            kept.push(collection.to_string());
        } else {
            drop_sort_keys(tx, collection)?;
        }
    }
    // Indexes of an older Ferry, over `records` itself.
    for index in names_in(tx, "index", "sort_")? {
        tx.execute_batch(&format!("DROP INDEX IF EXISTS \"{index}\""))?;
    }
    Ok(wanted
        .iter()
        .filter(|k| !kept.iter().any(|c| c == k.collection))
        .collect())
}

/// The names of the schema objects of `kind` starting with `prefix`.
pub(crate) fn names_in(c: &Connection, kind: &str, prefix: &str) -> Result<Vec<String>> {
    Ok(c.prepare(
        "SELECT name FROM sqlite_master WHERE type = ?1 AND substr(name, 1, length(?2)) = ?2 ORDER BY name",
    )?
    .query_map([kind, prefix], |r| r.get(0))?
    .collect::<rusqlite::Result<_>>()?)
}

/// Drops `collection`'s sort key table, its indexes and the triggers keeping it.
fn drop_sort_keys(tx: &Connection, collection: &str) -> Result<()> {
    for trigger in names_in(tx, "trigger", &format!("sort:{collection}:"))? {
        tx.execute_batch(&format!("DROP TRIGGER IF EXISTS \"{trigger}\""))?;
    }
    tx.execute_batch(&format!("DROP TABLE IF EXISTS {}", sort_table(collection)))?;
    Ok(())
}

impl LocalStore {
    /// Replaces the cached schema and keeps the sort keys of its sortable fields.
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
            sync_sort_keys(tx, collections, build)
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

    /// `collection`'s sort key table holds exactly its live records' values
    /// of `fields`.
    pub(crate) fn assert_sort_keys_true(
        store: &LocalStore,
        collection: &str,
        fields: &[&str],
        step: &str,
    ) {
        let keys = SortKeys {
            collection,
            fields: fields.to_vec(),
        };
        let read = |c: &Connection, sql: &str| -> Result<Vec<Vec<rusqlite::types::Value>>> {
            Ok(c.prepare(sql)?
                .query_map([], |r| (0..=fields.len()).map(|i| r.get(i)).collect())?
                .collect::<rusqlite::Result<_>>()?)
        };
        let (stored, values) = store
            .read(|c| {
                Ok((
                    read(
                        c,
                        &format!("SELECT rid, {} FROM {} ORDER BY rid", keys.columns(), sort_table(collection)),
                    )?,
                    read(
                        c,
                        &format!(
                            "SELECT rid, {} FROM records WHERE collection = '{collection}' AND deleted = 0 ORDER BY rid",
                            keys.values("records")
                        ),
                    )?,
                ))
            })
            .expect("rows");
        assert_eq!(stored, values, "{step}");
    }

    #[test]
    fn a_field_added_then_removed_keeps_its_sort_key_only_while_it_exists() {
        let store = LocalStore::open_in_memory().expect("open");
        store.replace_schema(&[tasks(&["owner"])]).expect("schema");
        let indexes = |s: &LocalStore| s.read(|c| names_in(c, "index", "sort:")).expect("indexes");
        assert_eq!(
            indexes(&store),
            vec!["sort:tasks:owner", "sort:tasks:title"]
        );
        store.replace_schema(&[tasks(&[])]).expect("schema");
        assert_eq!(indexes(&store), vec!["sort:tasks:title"]);
        assert!(
            store
                .read(|c| has_sort_key(c, "tasks", "title"))
                .expect("title")
        );
        assert!(
            !store
                .read(|c| has_sort_key(c, "tasks", "owner"))
                .expect("owner")
        );
        assert_eq!(
            store
                .read(|c| names_in(c, "trigger", "sort:tasks:"))
                .expect("triggers"),
            vec![
                "sort:tasks:on delete",
                "sort:tasks:on deleted",
                "sort:tasks:on insert",
                "sort:tasks:on title"
            ]
        );
        assert_eq!(store.collection("tasks").expect("tasks").fields.len(), 1);
        assert!(matches!(
            store.collection("nope"),
            Err(Error::UnknownCollection(_))
        ));
    }

    /// Whatever writes a record (an edit, a delete and a restore, many at
    /// once, a change dropped, a pull, a record taken out of view, a field
    /// added to the schema), its sort keys are the values in the record.
    #[test]
    fn every_write_keeps_the_sort_keys() {
        use ferry_protocol::{Fields, Record, Removed};
        let store = LocalStore::open_in_memory().expect("open");
        store.replace_schema(&[tasks(&["owner"])]).expect("schema");
        let fields = |title: &str, owner: Option<&str>| {
            let mut f = Fields::new();
            f.insert("title".into(), title.into());
            f.insert(
                "owner".into(),
                owner.map_or(serde_json::Value::Null, Into::into),
            );
            f
        };
        let check = |store: &LocalStore, step: &str| {
            assert_sort_keys_true(store, "tasks", &["title", "owner"], step);
        };
        let a = store.create("tasks", fields("a", Some("ann"))).expect("a");
        let b = store.create("tasks", fields("b", None)).expect("b");
        let c = store.create("tasks", fields("c", Some("cy"))).expect("c");
        check(&store, "created");
        store
            .update("tasks", a, fields("a2", Some("al")))
            .expect("a");
        store
            .update("tasks", b, fields("b", Some("bo")))
            .expect("b");
        store.update("tasks", c, fields("c", None)).expect("c");
        check(&store, "edited");
        store.delete("tasks", a).expect("delete");
        check(&store, "deleted");
        store.restore("tasks", a).expect("restore");
        check(&store, "restored");
        store
            .update_many("tasks", &[a, c], &fields("many", Some("mo")))
            .expect("many");
        check(&store, "edited many");
        store.delete_many("tasks", &[b, c]).expect("delete many");
        check(&store, "deleted many");
        store.restore_many("tasks", &[b]).expect("restore many");
        check(&store, "restored many");
        let newest = store.outbox(100).expect("outbox").pop().expect("an entry");
        store.discard(newest.mutation.mutation_id).expect("discard");
        check(&store, "change dropped");
        let pulled = |id, deleted, owner: &str| Record {
            collection: "tasks".into(),
            id,
            version: 1,
            fields: fields("from the server", Some(owner)),
            deleted,
            updated_at: ferry_protocol::Hlc::new(1_795_700_000_000, 0, "srv").expect("stamp"),
            updated_by: "bob".into(),
            merged_from: None,
        };
        let d = uuid::Uuid::now_v7();
        let page = [
            pulled(a, false, "sam"),
            pulled(c, true, "sid"),
            pulled(d, false, "dee"),
        ];
        store.apply_page(&page, &[], "1").expect("pull");
        check(&store, "pulled");
        let gone = Removed {
            collection: "tasks".into(),
            id: d,
        };
        store
            .apply_page::<Fields>(&[], &[gone], "2")
            .expect("removed");
        check(&store, "taken out of view");
        store
            .replace_schema(&[tasks(&["owner", "due"])])
            .expect("schema");
        check(&store, "field added");
        assert!(
            store
                .read(|c| has_sort_key(c, "tasks", "due"))
                .expect("due")
        );
    }
}
