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
use crate::error::{Error, Result};

/// Largest page a query returns.
pub const MAX_PAGE: usize = 1000;

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
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page {
    pub records: Vec<LocalRecord>,
    pub has_more: bool,
}

/// An FTS5 query where every word of `text` must appear, as a prefix.
/// Quoting each word keeps FTS5 syntax in user input inert.
pub(crate) fn match_expression(text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| format!("\"{}\"*", w.replace('"', "\"\"")))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// Whether a search matches few enough records to sort them all, rather
/// than walk the sort index until a page of matches is found.
fn few_matches(c: &rusqlite::Connection, expr: &str) -> Result<bool> {
    const FEW: i64 = 2000;
    let n: i64 = c
        .prepare_cached("SELECT count(*) FROM (SELECT rowid FROM records_fts WHERE records_fts MATCH ?1 LIMIT ?2)")?
        .query_row(rusqlite::params![expr, FEW], |r| r.get(0))?;
    Ok(n < FEW)
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

impl LocalStore {
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
        // The collection name is spliced in (it is a safe name) so the planner can use the partial sort indexes.
        let mut sql = format!(
            "{RECORD_SELECT} WHERE r.collection = '{}' AND r.deleted = 0",
            q.collection
        );
        let mut args: Vec<SqlValue> = Vec::new();
        let search = q.search.as_deref().and_then(match_expression);
        let searching = search.is_some();
        let few_matches = match &search {
            Some(expr) => self.read(|c| few_matches(c, expr))?,
            None => false,
        };
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
                args.push(to_sql(value));
                sql.push_str(&format!(
                    " AND json_extract(r.fields, '$.{name}') = ?{}",
                    args.len()
                ));
            }
        }
        let dir = match q.order {
            SortOrder::Ascending => "ASC",
            SortOrder::Descending => "DESC",
        };
        // With a search, the matches are few: find them through the index
        // and sort them, rather than walk the sort index testing every row
        // (the unary `+` keeps the planner off the sort index).
        let plus = if searching && few_matches { "+" } else { "" };
        match &sort {
            Some(name) => sql.push_str(&format!(
                " ORDER BY {plus}json_extract(r.fields, '$.{name}') {dir}, r.id {dir}"
            )),
            None => sql.push_str(&format!(" ORDER BY r.id {dir}")),
        }
        let limit = q.limit.clamp(1, MAX_PAGE);
        args.push(SqlValue::Integer(
            i64::try_from(limit + 1).unwrap_or(i64::MAX),
        ));
        sql.push_str(&format!(" LIMIT ?{}", args.len()));
        args.push(SqlValue::Integer(
            i64::try_from(q.offset).unwrap_or(i64::MAX),
        ));
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
                     ORDER BY json_extract(r.fields, '$.owner') ASC, r.id ASC LIMIT 51 OFFSET 0"
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

    #[test]
    fn search_words_become_quoted_prefixes() {
        assert_eq!(
            match_expression("plumb call").as_deref(),
            Some("\"plumb\"* \"call\"*")
        );
        assert_eq!(
            match_expression("\"); DROP TABLE records; --").as_deref(),
            Some("\"DROP\"* \"TABLE\"* \"records\"*")
        );
        assert_eq!(match_expression("  ,, "), None);
    }
}
