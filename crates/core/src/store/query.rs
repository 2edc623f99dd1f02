//! Paged, sorted, filtered and searched reads of one collection. Nothing
//! here ever loads a whole collection: every query has a limit, sorts walk
//! the per-field sort keys the schema cache keeps, and search uses FTS5.

use ferry_protocol::Fields;
use rusqlite::types::Value as SqlValue;
use serde::Serialize;
use serde_json::Value;

use super::LocalStore;
use super::records::{LocalRecord, RECORD_SELECT, StoredFields, from_row};
use super::schema::{has_sort_key, safe_name, sort_column, sort_table};
use super::search::{self, Search};
use crate::error::{Error, Result};
use crate::model::Cancel;

/// Largest page a query returns.
pub const MAX_PAGE: usize = 1000;

/// SQLite program steps between two looks at a count's [`Cancel`] (a few
/// microseconds' work).
const CANCEL_CHECK_STEPS: std::ffi::c_int = 1000;

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum SortOrder {
    #[default]
    Ascending,
    Descending,
}

/// What to read from one collection.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub collection: String,
    /// Words to find in the records' text values (each a prefix, all required).
    pub search: Option<String>,
    /// Field to sort by; default: the collection's title field.
    pub sort: Option<String>,
    pub order: SortOrder,
    /// Field equals value.
    pub filters: Fields,
    pub limit: usize,
    pub offset: usize,
}

impl Query {
    pub fn new(collection: impl Into<String>) -> Self {
        Query {
            collection: collection.into(),
            search: None,
            sort: None,
            order: SortOrder::Ascending,
            filters: Fields::new(),
            limit: 50,
            offset: 0,
        }
    }
}

/// One page of records.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(concrete(F = Fields)))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<F = Fields> {
    pub records: Vec<LocalRecord<F>>,
    pub has_more: bool,
}

/// The search `q` asks for, if any.
fn search_in(c: &rusqlite::Connection, q: &Query) -> Result<Option<Search>> {
    match q.search.as_deref() {
        Some(text) => search::search(c, text),
        None => Ok(None),
    }
}

fn to_sql(v: &Value) -> SqlValue {
    match v {
        Value::Null => SqlValue::Null,
        Value::Bool(b) => SqlValue::Integer(i64::from(*b)),
        Value::Number(n) => n.as_i64().map_or_else(
            || SqlValue::Real(n.as_f64().unwrap_or(0.0)),
            SqlValue::Integer,
        ),
        Value::String(s) => SqlValue::Text(s.clone()),
        other => SqlValue::Text(other.to_string()),
    }
}

/// Appends the search and filter conditions of `q` to `sql`.
fn push_conditions(
    q: &Query,
    search: Option<String>,
    sql: &mut String,
    args: &mut Vec<SqlValue>,
) -> Result<()> {
    if let Some(expr) = search {
        args.push(SqlValue::Text(expr));
        sql.push_str(&format!(
            " AND r.rid IN (SELECT rowid FROM records_fts WHERE records_fts MATCH ?{})",
            args.len()
        ));
    }
    for (name, value) in &q.filters {
        if !safe_name(name) {
            return Err(Error::InvalidValue(format!(
                "there is no field \"{name}\" to filter by"
            )));
        }
        if value.is_null() {
            sql.push_str(&format!(" AND json_extract(r.fields, '$.{name}') IS NULL"));
        } else {
            // A tags field matches when it holds the value.
            args.push(to_sql(value));
            let n = args.len();
            sql.push_str(&format!(
                " AND (json_extract(r.fields, '$.{name}') = ?{n} OR (json_type(r.fields, '$.{name}') = 'array' \
                 AND EXISTS (SELECT 1 FROM json_each(r.fields, '$.{name}') WHERE value = ?{n})))"
            ));
        }
    }
    Ok(())
}

impl LocalStore {
    /// How many live records match `q` (its search and filters; paging ignored).
    pub fn count(&self, q: &Query) -> Result<i64> {
        Ok(self.counted(q, None)?.unwrap_or(0))
    }

    /// As [`LocalStore::count`], or `None` once `cancel` is set: counting
    /// a word found in a million records takes a while, and the next
    /// query (one typed since, which cancels this count) waits for the
    /// store meanwhile.
    pub fn count_unless_cancelled(&self, q: &Query, cancel: &Cancel) -> Result<Option<i64>> {
        self.counted(q, Some(cancel))
    }

    fn counted(&self, q: &Query, cancel: Option<&Cancel>) -> Result<Option<i64>> {
        if !safe_name(&q.collection) {
            return Err(Error::UnknownCollection(q.collection.clone()));
        }
        let mut sql = format!(
            "SELECT count(*) FROM records r WHERE r.collection = '{}' AND r.deleted = 0",
            q.collection
        );
        let mut args = Vec::new();
        let search = match self.read(|c| search_in(c, q))? {
            Some(Search::Nothing) => return Ok(Some(0)),
            Some(Search::Match(expr)) if q.filters.is_empty() => {
                return self.read_unless(cancel, |c| {
                    search::count_live(c, &q.collection, &expr, self.search)
                });
            }
            Some(Search::Match(expr)) => Some(expr),
            None => None,
        };
        push_conditions(q, search, &mut sql, &mut args)?;
        self.read_unless(cancel, |c| {
            Ok(c.prepare_cached(&sql)?
                .query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?)
        })
    }

    /// Runs `f` as [`LocalStore::read`] does, or stops it as soon as
    /// `cancel` is set (SQLite checks between steps of its program).
    fn read_unless<T>(
        &self,
        cancel: Option<&Cancel>,
        f: impl FnOnce(&rusqlite::Connection) -> Result<T>,
    ) -> Result<Option<T>> {
        let Some(cancel) = cancel else {
            return self.read(f).map(Some);
        };
        self.read(|c| {
            if cancel.is_cancelled() {
                return Ok(None);
            }
            let flag = cancel.clone();
            c.progress_handler(CANCEL_CHECK_STEPS, Some(move || flag.is_cancelled()));
            let out = f(c);
            c.progress_handler(CANCEL_CHECK_STEPS, None::<fn() -> bool>);
            match out {
                Err(Error::Database(rusqlite::Error::SqliteFailure(e, _)))
                    if e.code == rusqlite::ErrorCode::OperationInterrupted
                        && cancel.is_cancelled() =>
                {
                    Ok(None)
                }
                other => other.map(Some),
            }
        })
    }

    /// Live records per collection.
    pub fn collection_counts(&self) -> Result<Vec<(String, i64)>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT collection, count(*) FROM records WHERE deleted = 0 GROUP BY collection",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Every live record `q` matches (its limit and offset aside), in its
    /// order, a page at a time: between pages the store is free for others.
    pub fn each(&self, q: &Query, mut f: impl FnMut(LocalRecord) -> Result<()>) -> Result<()> {
        let mut page = Query {
            limit: MAX_PAGE,
            offset: 0,
            ..q.clone()
        };
        loop {
            let Page { records, has_more } = self.query(&page)?;
            page.offset += records.len();
            for r in records {
                f(r)?;
            }
            if !has_more {
                return Ok(());
            }
        }
    }

    /// One page of the live (not deleted) records of a collection.
    pub fn query(&self, q: &Query) -> Result<Page> {
        self.query_as(q)
    }

    /// [`query`](Self::query) with each record's fields (and its base's)
    /// as the stored JSON text, unparsed: for the record list, which only
    /// hands them on.
    pub fn query_json(&self, q: &Query) -> Result<Page<Box<serde_json::value::RawValue>>> {
        self.query_as(q)
    }

    fn query_as<F: StoredFields>(&self, q: &Query) -> Result<Page<F>> {
        if !safe_name(&q.collection) {
            return Err(Error::UnknownCollection(q.collection.clone()));
        }
        let collection = self.read(|c| super::schema::collection_in(c, &q.collection))?;
        let sort = match (&q.sort, &collection) {
            (Some(s), _) => Some(s.clone()),
            (None, Some(c)) => Some(c.title_field.clone()),
            (None, None) => None,
        };
        if let Some(name) = &sort {
            let known = collection.as_ref().is_none_or(|c| c.field(name).is_some());
            if !safe_name(name) || !known {
                return Err(Error::InvalidValue(format!(
                    "collection \"{}\" has no field \"{name}\" to sort by",
                    q.collection
                )));
            }
        }
        let search = match self.read(|c| search_in(c, q))? {
            Some(Search::Nothing) => {
                return Ok(Page {
                    records: Vec::new(),
                    has_more: false,
                });
            }
            Some(Search::Match(expr)) => Some(expr),
            None => None,
        };
        let dir = match q.order {
            SortOrder::Ascending => "ASC",
            SortOrder::Descending => "DESC",
        };
        let sort = sort.as_deref();
        let limit = q.limit.clamp(1, MAX_PAGE);
        if let Some(expr) = search {
            let (mut conditions, mut args) = (String::new(), Vec::new());
            push_conditions(q, None, &mut conditions, &mut args)?;
            return self.read(|c| {
                let order = order_in(c, &q.collection, sort)?;
                let page = search::PageQuery {
                    collection: &q.collection,
                    conditions: &conditions,
                    args: &args,
                    order: &order,
                    dir,
                    offset: q.offset,
                    rows: limit + 1,
                    settings: self.search,
                };
                let rids = search::page(c, &page, &expr)?;
                page_of(c, &rids, limit)
            });
        }
        // Ascending by a field, empty values come last, as people expect:
        // the records with a value, then (when the page reaches past them)
        // those without, each part walking the field's index.
        if sort.is_some() && q.order == SortOrder::Ascending {
            let filled = self.page_where(
                q,
                &Slice {
                    sort,
                    dir,
                    part: Part::Filled,
                    offset: q.offset,
                    limit,
                },
            )?;
            if filled.has_more {
                return Ok(filled);
            }
            let (skip, mut records) = if filled.records.is_empty() && q.offset > 0 {
                let with_value = self.count_filled(q, sort)?;
                (q.offset.saturating_sub(with_value), Vec::new())
            } else {
                (0, filled.records)
            };
            let empty = self.page_where(
                q,
                &Slice {
                    sort,
                    dir,
                    part: Part::Empty,
                    offset: skip,
                    limit: limit - records.len(),
                },
            )?;
            records.extend(empty.records);
            return Ok(Page {
                records,
                has_more: empty.has_more,
            });
        }
        self.page_where(
            q,
            &Slice {
                sort,
                dir,
                part: Part::All,
                offset: q.offset,
                limit,
            },
        )
    }

    /// How many live records matching `q`'s filters (no search) have a
    /// value to sort by.
    fn count_filled(&self, q: &Query, sort: Option<&str>) -> Result<usize> {
        self.read(|c| {
            let order = order_in(c, &q.collection, sort)?;
            let mut sql = format!(
                "SELECT count(*) {} AND {} IS NOT NULL",
                order.scope(&q.collection, !q.filters.is_empty()),
                order.key
            );
            let mut args: Vec<SqlValue> = Vec::new();
            push_conditions(q, None, &mut sql, &mut args)?;
            let n: i64 = c
                .prepare_cached(&sql)?
                .query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?;
            Ok(usize::try_from(n).unwrap_or(0))
        })
    }

    /// A page of the live records matching `q`'s filters (no search) in
    /// `part`, sorted by `sort` then row id.
    fn page_where<F: StoredFields>(&self, q: &Query, slice: &Slice<'_>) -> Result<Page<F>> {
        self.read(|c| {
            let (sql, args) = page_sql(c, q, slice)?;
            tracing::trace!(%sql, "query");
            let rids = c
                .prepare_cached(&sql)?
                .query_map(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<i64>>>()?;
            page_of(c, &rids, slice.limit)
        })
    }
}

/// Which page of a query's records: `part` of them, in `sort`'s order
/// (`dir`), `limit` from `offset`.
struct Slice<'a> {
    sort: Option<&'a str>,
    dir: &'a str,
    part: Part,
    offset: usize,
    limit: usize,
}

/// The page of the records `rids` (one more than `limit` says there are more).
fn page_of<F: StoredFields>(
    c: &rusqlite::Connection,
    rids: &[i64],
    limit: usize,
) -> Result<Page<F>> {
    let mut stmt = c.prepare_cached(&format!("{RECORD_SELECT} WHERE r.rid = ?1"))?;
    let mut records = Vec::with_capacity(limit.min(rids.len()));
    for rid in rids.iter().take(limit) {
        let mut rows = stmt.query([rid])?;
        if let Some(row) = rows.next()? {
            records.push(from_row(row)?);
        }
    }
    Ok(Page {
        records,
        has_more: rids.len() > limit,
    })
}

/// The statement reading the row ids of a page (see
/// [`LocalStore::page_where`]) and its parameters.
fn page_sql(
    c: &rusqlite::Connection,
    q: &Query,
    slice: &Slice<'_>,
) -> Result<(String, Vec<SqlValue>)> {
    let Slice {
        sort,
        dir,
        part,
        offset,
        limit,
    } = *slice;
    let order = order_in(c, &q.collection, sort)?;
    let (key, rid) = (&order.key, order.rid);
    let (only, by) = match part {
        Part::All => (String::new(), format!("{key} {dir}, {rid} {dir}")),
        Part::Filled => (
            format!(" AND {key} IS NOT NULL"),
            format!("{key} {dir}, {rid} {dir}"),
        ),
        Part::Empty => (format!(" AND {key} IS NULL"), format!("{rid} {dir}")),
    };
    let mut sql = format!(
        "SELECT {rid} {}{only}",
        order.scope(&q.collection, !q.filters.is_empty())
    );
    let mut args: Vec<SqlValue> = Vec::new();
    push_conditions(q, None, &mut sql, &mut args)?;
    sql.push_str(&format!(" ORDER BY {by}"));
    args.push(SqlValue::Integer(
        i64::try_from(limit + 1).unwrap_or(i64::MAX),
    ));
    sql.push_str(&format!(" LIMIT ?{}", args.len()));
    args.push(SqlValue::Integer(i64::try_from(offset).unwrap_or(i64::MAX)));
    sql.push_str(&format!(" OFFSET ?{}", args.len()));
    Ok((sql, args))
}

/// Which of a collection's records a page is taken from.
#[derive(Clone, Copy)]
enum Part {
    All,
    /// Those with a value to sort by, in its order.
    Filled,
    /// Those without, in row id order.
    Empty,
}

/// How a page is ordered: by `key`, then by row id (`rid`).
pub(crate) struct Order {
    /// The collection's sort key table, when the page is ordered by one of
    /// its columns (`s`; it holds exactly the collection's live records).
    table: Option<String>,
    pub key: String,
    pub rid: &'static str,
    /// False when ordered by record id (a collection not in the schema).
    pub by_field: bool,
}

impl Order {
    /// `FROM` and `WHERE` for the live records of `collection`, walked in
    /// this order; `filtered`, the records themselves (`r`) are read too
    /// (for conditions on their fields). Unfiltered, a walk of the sort key
    /// table reads nothing else, however many rows an offset skips.
    pub(crate) fn scope(&self, collection: &str, filtered: bool) -> String {
        match &self.table {
            Some(table) if filtered => {
                format!("FROM {table} s CROSS JOIN records r ON r.rid = s.rid WHERE TRUE")
            }
            Some(table) => format!("FROM {table} s WHERE TRUE"),
            None => format!("FROM records r WHERE r.collection = '{collection}' AND r.deleted = 0"),
        }
    }

    /// `FROM` for the records (`r`) with their sort keys, if any, for a
    /// lookup by row id.
    pub(crate) fn from(&self) -> String {
        match &self.table {
            Some(table) => format!("{table} s JOIN records r ON r.rid = s.rid"),
            None => "records r".into(),
        }
    }
}

/// How to order `collection` by `sort`: by its sort key when the field has
/// one (see `schema.rs`), else by the value in the record.
fn order_in(c: &rusqlite::Connection, collection: &str, sort: Option<&str>) -> Result<Order> {
    Ok(match sort {
        Some(name) if has_sort_key(c, collection, name)? => Order {
            table: Some(sort_table(collection)),
            key: format!("s.{}", sort_column(name)),
            rid: "s.rid",
            by_field: true,
        },
        Some(name) => Order {
            table: None,
            key: format!("json_extract(r.fields, '$.{name}')"),
            rid: "r.rid",
            by_field: true,
        },
        None => Order {
            table: None,
            key: "r.id".into(),
            rid: "r.rid",
            by_field: false,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    /// A cancelled count stops where it is (not at its end), and the next
    /// one, not cancelled, runs to its end.
    #[test]
    fn a_cancelled_count_stops_at_once() {
        let store = LocalStore::open_in_memory().expect("open");
        let cancel = Cancel::default();
        let trip = cancel.clone();
        store
            .read(|c| {
                // Cancels as the count passes its thousandth row.
                Ok(c.create_scalar_function(
                    "trip",
                    1,
                    rusqlite::functions::FunctionFlags::SQLITE_UTF8,
                    move |ctx| {
                        if ctx.get::<i64>(0)? == 1000 {
                            trip.cancel();
                        }
                        Ok(1)
                    },
                )?)
            })
            .expect("function");
        let count =
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
                     SELECT count(*) FROM n WHERE trip(i)";
        let run = |cancel: Option<&Cancel>| {
            store.read_unless(cancel, |c| {
                Ok(c.query_row(count, [], |r| r.get::<_, i64>(0))?)
            })
        };
        assert_eq!(run(Some(&cancel)).expect("cancelled"), None);
        assert_eq!(run(None).expect("whole"), Some(100_000));
        let q = Query::new("tasks");
        assert_eq!(
            store.count_unless_cancelled(&q, &cancel).expect("count"),
            None
        );
        assert_eq!(store.count(&q).expect("count"), 0);
    }

    /// The record list's page, fields left as stored JSON, says to the app
    /// what the parsed page says: records never sent, synced (base = local
    /// value), and with unsent edits (base apart), in a search too.
    #[test]
    fn a_page_as_stored_json_is_the_parsed_page() {
        let store = LocalStore::open_in_memory().expect("open");
        store
            .replace_schema(&[crate::store::schema::tests::tasks(&["status"])])
            .expect("schema");
        let fields = |v: serde_json::Value| match v {
            Value::Object(m) => m,
            _ => Fields::new(),
        };
        let synced = Uuid::now_v7();
        let edited = Uuid::now_v7();
        let pulled = |id, title: &str| ferry_protocol::Record {
            collection: "tasks".into(),
            id,
            version: 2,
            fields: fields(
                serde_json::json!({"title": title, "photo": [{"sha256": "ab", "name": "a.jpg", "size": 3}], "n": 1.5}),
            ),
            deleted: false,
            updated_at: ferry_protocol::Hlc::new(1_795_700_000_000, 0, "srv").expect("stamp"),
            updated_by: "bob".into(),
            merged_from: None,
        };
        store
            .apply_page(
                &[
                    pulled(synced, "Task synced, \"quoted\" é"),
                    pulled(edited, "Task edited"),
                ],
                &[],
                "c1",
            )
            .expect("pull");
        store
            .update(
                "tasks",
                edited,
                fields(serde_json::json!({"status": "open"})),
            )
            .expect("edit");
        store
            .create(
                "tasks",
                fields(serde_json::json!({"title": "Task never sent", "status": "new"})),
            )
            .expect("create");
        let mut q = Query::new("tasks");
        for search in [None, Some("task")] {
            q.search = search.map(str::to_string);
            let parsed = serde_json::to_value(store.query(&q).expect("page")).expect("json");
            let stored = serde_json::to_value(store.query_json(&q).expect("page")).expect("json");
            assert_eq!(
                parsed["records"].as_array().map(Vec::len),
                Some(3),
                "{parsed}"
            );
            assert_eq!(stored, parsed);
        }
    }

    /// Sorting a large collection must walk the field's index, not sort
    /// every row: each part of a page, either way, filtered or not; and
    /// unfiltered, without reading the records it passes.
    #[test]
    fn sorting_uses_the_field_index() {
        let store = LocalStore::open_in_memory().expect("open");
        store
            .replace_schema(&[crate::store::schema::tests::tasks(&["owner", "status"])])
            .expect("schema");
        let mut q = Query::new("tasks");
        for filtered in [false, true] {
            if filtered {
                q.filters.insert("status".into(), Value::from("open"));
            }
            for (part, dir) in [
                (Part::All, "DESC"),
                (Part::Filled, "ASC"),
                (Part::Empty, "ASC"),
            ] {
                let plan: Vec<String> = store
                    .read(|c| {
                        let slice = Slice {
                            sort: Some("owner"),
                            dir,
                            part,
                            offset: 0,
                            limit: 50,
                        };
                        let (sql, args) = page_sql(c, &q, &slice)?;
                        let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
                        let rows = stmt
                            .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                                r.get::<_, String>(3)
                            })?;
                        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
                    })
                    .expect("plan");
                let plan = plan.join("; ");
                assert!(
                    plan.contains("INDEX sort:tasks:owner") && !plan.contains("TEMP B-TREE"),
                    "{dir}, filtered {filtered}: {plan}"
                );
                // Unfiltered, the rows an offset skips are not read at all.
                assert_eq!(
                    plan.contains("SEARCH r "),
                    filtered,
                    "{dir}, filtered {filtered}: {plan}"
                );
            }
        }
    }

    /// Ascending, records without a value come after those with one, on
    /// every page, searched or not; descending, too.
    #[test]
    fn empty_values_sort_last() {
        let mut store = LocalStore::open_in_memory().expect("open");
        store
            .replace_schema(&[crate::store::schema::tests::tasks(&["owner"])])
            .expect("schema");
        let mut want = Vec::new();
        for i in 0..9 {
            let mut f = Fields::new();
            f.insert("title".into(), Value::from(format!("task {i}")));
            if i % 3 != 0 {
                f.insert("owner".into(), Value::from(format!("o{}", 9 - i)));
            }
            let id = store.create("tasks", f).expect("create");
            want.push((i % 3 == 0, format!("o{}", 9 - i), id));
        }
        want.sort_by_key(|(empty, owner, _)| {
            (*empty, if *empty { String::new() } else { owner.clone() })
        });
        let order = |store: &LocalStore, q: &Query, page: usize| -> Vec<Uuid> {
            let mut out = Vec::new();
            let mut offset = 0;
            loop {
                let p = store
                    .query(&Query {
                        limit: page,
                        offset,
                        ..q.clone()
                    })
                    .expect("query");
                offset += p.records.len();
                out.extend(p.records.into_iter().map(|r| r.id));
                if !p.has_more {
                    return out;
                }
            }
        };
        let mut q = Query::new("tasks");
        q.sort = Some("owner".into());
        for page in [1, 2, 4, 6, 7, 50] {
            let got = order(&store, &q, page);
            assert_eq!(
                got[..6],
                want.iter().take(6).map(|w| w.2).collect::<Vec<_>>()[..],
                "page {page}"
            );
            assert_eq!(got.len(), 9, "page {page}");
        }
        q.search = Some("task".into());
        assert_eq!(
            order(&store, &q, 4)[..6],
            want.iter().take(6).map(|w| w.2).collect::<Vec<_>>()[..]
        );
        // A search with many matches walks the sort index instead.
        store.search = crate::store::search::SearchSettings {
            few: 2,
            collect: 4,
            window: 2,
        };
        for page in [1, 4, 50] {
            let got = order(&store, &q, page);
            assert_eq!(
                got[..6],
                want.iter().take(6).map(|w| w.2).collect::<Vec<_>>()[..],
                "search, page {page}"
            );
            assert_eq!(got.len(), 9, "search, page {page}");
        }
        q.search = None;
        q.order = SortOrder::Descending;
        let got = order(&store, &q, 4);
        let mut filled: Vec<Uuid> = want.iter().take(6).map(|w| w.2).collect();
        filled.reverse();
        assert_eq!(got[..6], filled[..]);
    }
}
