//! Paged, sorted, filtered and searched reads of one collection. Nothing
//! here ever loads a whole collection: every query has a limit, sorts use
//! the per-field indexes the schema cache keeps, and search uses FTS5.

use ferry_protocol::Fields;
use rusqlite::types::Value as SqlValue;
use serde::Serialize;
use serde_json::Value;

use super::LocalStore;
use super::records::{LocalRecord, RECORD_SELECT, from_row};
use super::schema::safe_name;
use super::search::{self, Search};
use crate::error::{Error, Result};

/// Largest page a query returns.
pub const MAX_PAGE: usize = 1000;

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
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page {
    pub records: Vec<LocalRecord>,
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
        if !safe_name(&q.collection) {
            return Err(Error::UnknownCollection(q.collection.clone()));
        }
        let mut sql = format!(
            "SELECT count(*) FROM records r WHERE r.collection = '{}' AND r.deleted = 0",
            q.collection
        );
        let mut args = Vec::new();
        let search = match self.read(|c| search_in(c, q))? {
            Some(Search::Nothing) => return Ok(0),
            Some(Search::Match(expr)) if q.filters.is_empty() => {
                return self.read(|c| search::count_live(c, &q.collection, &expr, self.search));
            }
            Some(Search::Match(expr)) => Some(expr),
            None => None,
        };
        push_conditions(q, search, &mut sql, &mut args)?;
        self.read(|c| {
            Ok(c.prepare_cached(&sql)?
                .query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?)
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
        let key = match &sort {
            Some(name) => format!("json_extract(r.fields, '$.{name}')"),
            None => "r.id".to_string(),
        };
        let limit = q.limit.clamp(1, MAX_PAGE);
        if let Some(expr) = search {
            let (mut conditions, mut args) = (String::new(), Vec::new());
            push_conditions(q, None, &mut conditions, &mut args)?;
            let page = search::PageQuery {
                collection: &q.collection,
                conditions: &conditions,
                args: &args,
                key: &key,
                dir,
                offset: q.offset,
                rows: limit + 1,
                settings: self.search,
            };
            return self.read(|c| {
                let rids = search::page(c, &page, &expr)?;
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
            });
        }
        // Ascending by a field, empty values come last, as people expect:
        // the records with a value, then (when the page reaches past them)
        // those without, each part walking the field's index.
        if sort.is_some() && q.order == SortOrder::Ascending {
            let filled = self.page_where(
                q,
                &key,
                dir,
                &format!(" AND {key} IS NOT NULL"),
                q.offset,
                limit,
            )?;
            if filled.has_more {
                return Ok(filled);
            }
            let (skip, mut records) = if filled.records.is_empty() && q.offset > 0 {
                let with_value = self.count_where(q, &format!(" AND {key} IS NOT NULL"))?;
                (q.offset.saturating_sub(with_value), Vec::new())
            } else {
                (0, filled.records)
            };
            let empty = self.page_where(
                q,
                "r.rid",
                dir,
                &format!(" AND {key} IS NULL"),
                skip,
                limit - records.len(),
            )?;
            records.extend(empty.records);
            return Ok(Page {
                records,
                has_more: empty.has_more,
            });
        }
        self.page_where(q, &key, dir, "", q.offset, limit)
    }

    /// How many live records match `q`'s filters and `extra` (no search).
    fn count_where(&self, q: &Query, extra: &str) -> Result<usize> {
        let mut sql = format!(
            "SELECT count(*) FROM records r WHERE r.collection = '{}' AND r.deleted = 0{extra}",
            q.collection
        );
        let mut args: Vec<SqlValue> = Vec::new();
        push_conditions(q, None, &mut sql, &mut args)?;
        self.read(|c| {
            let n: i64 = c
                .prepare_cached(&sql)?
                .query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?;
            Ok(usize::try_from(n).unwrap_or(0))
        })
    }

    /// A page of the live records matching `q`'s filters and `extra` (no
    /// search), ordered by `key` then row id.
    fn page_where(
        &self,
        q: &Query,
        key: &str,
        dir: &str,
        extra: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Page> {
        // The collection name is spliced in (it is a safe name) so the planner can use the partial sort indexes.
        let mut sql = format!(
            "{RECORD_SELECT} WHERE r.collection = '{}' AND r.deleted = 0{extra}",
            q.collection
        );
        let mut args: Vec<SqlValue> = Vec::new();
        push_conditions(q, None, &mut sql, &mut args)?;
        sql.push_str(&format!(" ORDER BY {key} {dir}, r.rid {dir}"));
        args.push(SqlValue::Integer(
            i64::try_from(limit + 1).unwrap_or(i64::MAX),
        ));
        sql.push_str(&format!(" LIMIT ?{}", args.len()));
        args.push(SqlValue::Integer(i64::try_from(offset).unwrap_or(i64::MAX)));
        sql.push_str(&format!(" OFFSET ?{}", args.len()));
        tracing::trace!(%sql, "query");
        self.read(|c| {
            let mut stmt = c.prepare_cached(&sql)?;
            let mut rows = stmt.query(rusqlite::params_from_iter(args.iter()))?;
            let mut records = Vec::with_capacity(limit.min(128));
            let mut has_more = false;
            while let Some(row) = rows.next()? {
                if records.len() == limit {
                    has_more = true;
                    break;
                }
                records.push(from_row(row)?);
            }
            Ok(Page { records, has_more })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    /// Sorting a large collection must walk the field's index, not sort every row.
    #[test]
    fn sorting_uses_the_field_index() {
        let store = LocalStore::open_in_memory().expect("open");
        store
            .replace_schema(&[crate::store::schema::tests::tasks(&["owner"])])
            .expect("schema");
        let plan: Vec<String> = store
            .read(|c| {
                let sql = format!(
                    "EXPLAIN QUERY PLAN {RECORD_SELECT} WHERE r.collection = 'tasks' AND r.deleted = 0 \
                     ORDER BY json_extract(r.fields, '$.owner') ASC, r.rid ASC LIMIT 51 OFFSET 0"
                );
                let mut stmt = c.prepare(&sql)?;
                let rows = stmt.query_map([], |r| r.get::<_, String>(3))?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .expect("plan");
        let plan = plan.join("; ");
        assert!(
            plan.contains("sort_tasks__owner") && !plan.contains("TEMP B-TREE"),
            "{plan}"
        );
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
        store.search = crate::store::search::SearchSettings { few: 2, collect: 4 };
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
