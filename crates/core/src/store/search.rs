//! Full-text search over the text values of local records.
//!
//! The index (`records_fts`, FTS5) holds only what searching needs: which
//! terms each record contains, without a copy of the text or positions. It
//! is fed by `ferry_text(fields)`, a function of this crate registered on
//! every connection, which joins a record's string values.
//!
//! Every word typed is a prefix ("harb" finds "harbour"). FTS5 answers a
//! prefix query by merging the lists of every term it covers before it
//! returns the first row, which for a common word costs tens of
//! milliseconds on 100,000 records. So each prefix is expanded here, through
//! the index's term list, into the few exact terms it stands for: FTS5 reads
//! those lazily and stops as soon as a page is full. Only a prefix standing
//! for very many terms stays a prefix query.

use std::fmt::Write as _;
use std::rc::Rc;

use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::{Value as SqlValue, ValueRef};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::query::Order;
use crate::error::Result;

/// Most exact terms one typed word is expanded into. FTS5 opens each
/// term's list for every query (a few microseconds each), where a prefix
/// query first merges every list it covers (at a million records, 100 ms
/// for a digit): a few hundred terms still cost less.
const MAX_EXPANSION: usize = 512;

/// Where a search changes its way of reading matches. The defaults suit
/// 100,000 records; tests lower them to take every way on a few hundred.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SearchSettings {
    /// Below this many matches a search sorts them; from it on, it walks the
    /// sort index and keeps the rows that match.
    pub few: usize,
    /// Most matches read from the search index for one page.
    pub collect: usize,
    /// Row ids asked of the search index at once past the matches read.
    pub window: i64,
}

impl Default for SearchSettings {
    fn default() -> Self {
        SearchSettings {
            few: 1000,
            collect: 20_000,
            window: 2048,
        }
    }
}

/// Registers `ferry_text(json)`, used by the search index's triggers, and
/// `rarray()`, a list of values bound as one parameter.
pub(crate) fn register_functions(c: &Connection) -> rusqlite::Result<()> {
    rusqlite::vtab::array::load_module(c)?;
    c.create_scalar_function(
        "ferry_text",
        1,
        FunctionFlags::SQLITE_UTF8
            | FunctionFlags::SQLITE_DETERMINISTIC
            | FunctionFlags::SQLITE_INNOCUOUS,
        |ctx| {
            Ok(match ctx.get_raw(0) {
                ValueRef::Blob(jsonb) => searchable_text_of_jsonb(jsonb),
                other => searchable_text(other.as_str().unwrap_or("")),
            })
        },
    )
}

/// The string values of a JSON document (record fields), nested ones too;
/// keys, numbers and booleans are left out. The index keeps no positions,
/// only which terms a record holds, so each run of non-blank characters is
/// given once (a token never spans a blank): long texts that repeat their
/// words cost the index less to read.
pub(crate) fn searchable_text(json: &str) -> String {
    let mut all = String::new();
    let mut de = serde_json::Deserializer::from_str(json);
    if Strings(&mut all).deserialize(&mut de).is_err() {
        return String::new();
    }
    each_word_once(&all)
}

/// [`searchable_text`] of SQLite's binary JSON, read in place.
pub(crate) fn searchable_text_of_jsonb(jsonb: &[u8]) -> String {
    let mut all = String::new();
    jsonb_strings(jsonb, &mut all);
    each_word_once(&all)
}

fn each_word_once(all: &str) -> String {
    let mut seen = std::collections::HashSet::with_capacity_and_hasher(64, WordHasher);
    let mut out = String::with_capacity(all.len().min(4096));
    // Split at ASCII blanks only (twice as quick): a run that other blanks
    // would split further is still dropped only when it repeats exactly, so
    // no term is lost.
    for word in all.split_ascii_whitespace() {
        if seen.insert(word) {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(word);
        }
    }
    out
}

/// FNV-1a: quick for short words; a collision only costs time.
#[derive(Default, Clone, Copy)]
struct WordHasher;

impl std::hash::BuildHasher for WordHasher {
    type Hasher = Fnv;

    fn build_hasher(&self) -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Appends the strings of a sequence of JSONB elements to `out`; an
/// object's labels are left out. Stops at anything malformed.
fn jsonb_strings(mut bytes: &[u8], out: &mut String) {
    const TEXT: u8 = 7;
    const TEXTJ: u8 = 8;
    const TEXT5: u8 = 9;
    const TEXTRAW: u8 = 10;
    const ARRAY: u8 = 11;
    const OBJECT: u8 = 12;
    while let Some((kind, payload, rest)) = jsonb_element(bytes) {
        match kind {
            TEXT | TEXTRAW => {
                if let Ok(s) = std::str::from_utf8(payload) {
                    push_text(out, s);
                }
            }
            TEXTJ | TEXT5 => {
                if let Ok(s) = std::str::from_utf8(payload) {
                    match serde_json::from_str::<String>(&format!("\"{s}\"")) {
                        Ok(unescaped) => push_text(out, &unescaped),
                        // JSON5 escapes: the words around them still count.
                        Err(_) => push_text(out, &s.replace('\\', " ")),
                    }
                }
            }
            ARRAY => jsonb_strings(payload, out),
            OBJECT => {
                let mut entries = payload;
                while let Some((_, _, value)) = jsonb_element(entries) {
                    let Some((_, _, next)) = jsonb_element(value) else {
                        return;
                    };
                    jsonb_strings(&value[..value.len() - next.len()], out);
                    entries = next;
                }
            }
            _ => {}
        }
        bytes = rest;
    }
}

/// The first JSONB element of `bytes` (<https://sqlite.org/jsonb.html>): its
/// type, its payload, and the bytes after it.
fn jsonb_element(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&first, rest) = bytes.split_first()?;
    let (size, rest) = match first >> 4 {
        n @ 0..=11 => (usize::from(n), rest),
        n => {
            let (size, rest) = rest.split_at_checked(1usize << (n - 12))?;
            let size = size.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
            (usize::try_from(size).ok()?, rest)
        }
    };
    let (payload, rest) = rest.split_at_checked(size)?;
    Some((first & 0x0f, payload, rest))
}

fn push_text(out: &mut String, s: &str) {
    if !out.is_empty() {
        out.push(' ');
    }
    out.push_str(s);
}

/// Collects every string of a JSON value into one text.
struct Strings<'a>(&'a mut String);

impl<'de> DeserializeSeed<'de> for Strings<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strings<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_str<E>(self, s: &str) -> Result<(), E> {
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        self.0.push_str(s);
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Strings(self.0))?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value_seed(Strings(self.0))?;
        }
        Ok(())
    }
}

/// What a search for some text becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Search {
    /// A word that no indexed term starts with: nothing can match.
    Nothing,
    /// An FTS5 `MATCH` expression.
    Match(String),
}

/// The search for `text`, where every word must appear as a prefix;
/// `None` when the text holds no word.
pub(crate) fn search(c: &Connection, text: &str) -> Result<Option<Search>> {
    let mut groups = Vec::new();
    for word in words(text) {
        for token in tokens(c, word)? {
            match expand(c, &token)? {
                Some(group) => groups.push(group),
                None => return Ok(Some(Search::Nothing)),
            }
        }
    }
    Ok((!groups.is_empty()).then(|| Search::Match(groups.join(" AND "))))
}

/// The words of a search, split as the user would.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// The index's terms for one word: its tokens, folded as the index folds
/// them. An ASCII word is one token; any other is tokenized by FTS5 itself,
/// so a word it splits in two never becomes a phrase (which the index,
/// without positions, cannot answer).
fn tokens(c: &Connection, word: &str) -> Result<Vec<String>> {
    if word.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Ok(vec![word.to_ascii_lowercase()]);
    }
    c.execute_batch(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_words
            USING fts5(w, tokenize = 'unicode61 remove_diacritics 2');
         CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_words_terms
            USING fts5vocab(temp, search_words, instance);
         DELETE FROM temp.search_words;",
    )?;
    c.prepare_cached("INSERT INTO temp.search_words (rowid, w) VALUES (1, ?1)")?
        .execute([word])?;
    let tokens = c
        .prepare_cached("SELECT term FROM temp.search_words_terms ORDER BY \"offset\"")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(tokens)
}

/// The exact terms `prefix` stands for, as an FTS5 group; a prefix query
/// when there are too many; `None` when there are none.
fn expand(c: &Connection, prefix: &str) -> Result<Option<String>> {
    let mut stmt = c.prepare_cached(
        "SELECT term FROM records_fts_terms WHERE term >= ?1 AND term < ?1 || char(1114111) LIMIT ?2",
    )?;
    let terms = stmt
        .query_map(rusqlite::params![prefix, MAX_EXPANSION as i64 + 1], |r| {
            r.get::<_, String>(0)
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(match terms.len() {
        0 => None,
        n if n > MAX_EXPANSION => Some(format!("{}*", quote(prefix))),
        _ => {
            let mut group = String::from("(");
            for (i, t) in terms.iter().enumerate() {
                let _ = write!(group, "{}{}", if i > 0 { " OR " } else { "" }, quote(t));
            }
            group.push(')');
            Some(group)
        }
    })
}

/// An FTS5 string: user input stays inert.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Where a page of matches comes from: one collection's live records, with
/// filters, in one order.
pub(crate) struct PageQuery<'a> {
    pub collection: &'a str,
    /// Filter conditions, each starting with ` AND `, numbering their
    /// parameters from `?1`.
    pub conditions: &'a str,
    pub args: &'a [SqlValue],
    /// What the page is ordered by (then by row id).
    pub order: &'a Order,
    /// `ASC` or `DESC`.
    pub dir: &'a str,
    pub offset: usize,
    /// Rows wanted: a page and one more, to tell whether there are more.
    pub rows: usize,
    pub settings: SearchSettings,
}

/// The row ids of one page of the records matching `expr`, in order.
///
/// The matches are read from the search index up to `settings.collect` of
/// them. Fewer than `settings.few`: they are sorted. More: the sort index is walked and
/// each row kept if it is a match, known from those read, or, past the last
/// one read (very many matches), asked of the search index a window of row
/// ids at a time (the rows next to each other in a sort order are often
/// next to each other in the table too). So a page costs about as much for
/// a word in every record as for a rare one. A prefix query is read whole:
/// FTS5 merges all of it before the first row anyway, and again for every
/// question asked of it.
pub(crate) fn page(c: &Connection, q: &PageQuery<'_>, expr: &str) -> Result<Vec<i64>> {
    let mut matches = Vec::new();
    let mut all_read = false;
    let collect = if is_prefix_query(expr) {
        usize::MAX
    } else {
        q.settings.collect
    };
    {
        let mut stmt =
            c.prepare_cached("SELECT rowid FROM records_fts WHERE records_fts MATCH ?1")?;
        let mut rows = stmt.query([expr])?;
        while matches.len() < collect {
            match rows.next()? {
                Some(row) => matches.push(row.get::<_, i64>(0)?),
                None => {
                    all_read = true;
                    break;
                }
            }
        }
    }
    if matches.is_empty() && all_read {
        return Ok(Vec::new());
    }
    let n = q.args.len();
    let limits = [
        SqlValue::Integer(i64::try_from(q.rows).unwrap_or(i64::MAX)),
        SqlValue::Integer(i64::try_from(q.offset).unwrap_or(i64::MAX)),
    ];
    if all_read && matches.len() < q.settings.few {
        // Few: find them by row id and sort them (the unary `+` keeps the
        // planner off the sort index).
        let sql = format!(
            "SELECT r.rid FROM {} WHERE r.rid IN rarray(?{}) AND r.collection = '{}' AND r.deleted = 0{}
             ORDER BY +{key} IS NULL, +{key} {dir}, r.rid {dir} LIMIT ?{} OFFSET ?{}",
            q.order.from(),
            n + 1,
            q.collection,
            q.conditions,
            n + 2,
            n + 3,
            key = q.order.key,
            dir = q.dir,
        );
        let set = Rc::new(
            matches
                .into_iter()
                .map(SqlValue::Integer)
                .collect::<Vec<_>>(),
        );
        let mut stmt = c.prepare_cached(&sql)?;
        let params = q
            .args
            .iter()
            .map(|a| a as &dyn rusqlite::ToSql)
            .chain(std::iter::once(&set as &dyn rusqlite::ToSql))
            .chain(limits.iter().map(|a| a as &dyn rusqlite::ToSql));
        let rids = stmt
            .query_map(rusqlite::params_from_iter(params), |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<i64>>>()?;
        return Ok(rids);
    }
    let boundary = if all_read {
        i64::MAX
    } else {
        matches.last().copied().unwrap_or(i64::MIN)
    };
    // Ascending by a field, records without a value come last (as in an
    // unsearched list): the walk takes those with one, then the rest.
    let (key, rid) = (&q.order.key, q.order.rid);
    let base = format!(
        "SELECT {rid} {}{}",
        q.order.scope(q.collection, !q.conditions.is_empty()),
        q.conditions,
    );
    let walks = if q.dir == "ASC" && q.order.by_field {
        vec![
            format!("{base} AND {key} IS NOT NULL ORDER BY {key} ASC, {rid} ASC"),
            format!("{base} AND {key} IS NULL ORDER BY {rid} ASC"),
        ]
    } else {
        vec![format!(
            "{base} ORDER BY {key} {dir}, {rid} {dir}",
            dir = q.dir
        )]
    };
    let mut past = Windows::new(c, expr, q.settings.window)?;
    let (mut skipped, mut page) = (0, Vec::with_capacity(q.rows));
    for walk in walks {
        let mut stmt = c.prepare_cached(&walk)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(q.args.iter()))?;
        while page.len() < q.rows {
            let Some(row) = rows.next()? else { break };
            let rid: i64 = row.get(0)?;
            let hit = if rid <= boundary {
                matches.binary_search(&rid).is_ok()
            } else {
                past.has(rid)?
            };
            if !hit {
                continue;
            }
            if skipped < q.offset {
                skipped += 1;
            } else {
                page.push(rid);
            }
        }
    }
    Ok(page)
}

/// Whether `expr` holds a prefix query (a word standing for too many terms
/// to list): index terms are letters and digits only, so a `*` in it is
/// always FTS5's prefix operator.
fn is_prefix_query(expr: &str) -> bool {
    expr.contains('*')
}

/// The matches of one expression in windows of row ids, each read from the
/// search index once (the latest few kept).
struct Windows<'c> {
    stmt: rusqlite::CachedStatement<'c>,
    expr: &'c str,
    size: i64,
    /// `(first, end, matches)`: the matches with `first <= rowid < end`.
    read: std::collections::VecDeque<(i64, i64, Vec<i64>)>,
}

impl<'c> Windows<'c> {
    /// Windows kept: a page's walk seldom leaves more than a few.
    const KEPT: usize = 64;

    fn new(c: &'c Connection, expr: &'c str, size: i64) -> Result<Self> {
        Ok(Windows {
            stmt: c.prepare_cached(
                "SELECT rowid FROM records_fts WHERE records_fts MATCH ?1 AND rowid >= ?2 AND rowid < ?3",
            )?,
            expr,
            size: size.max(1),
            read: std::collections::VecDeque::new(),
        })
    }

    /// Whether row `rid` matches.
    fn has(&mut self, rid: i64) -> Result<bool> {
        if let Some((_, _, m)) = self.read.iter().find(|(a, b, _)| *a <= rid && rid < *b) {
            return Ok(m.binary_search(&rid).is_ok());
        }
        let end = rid.saturating_add(self.size);
        let mut m = self
            .stmt
            .query_map(rusqlite::params![self.expr, rid, end], |r| {
                r.get::<_, i64>(0)
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        m.sort_unstable();
        let hit = m.binary_search(&rid).is_ok();
        if self.read.len() == Self::KEPT {
            self.read.pop_front();
        }
        self.read.push_back((rid, end, m));
        Ok(hit)
    }
}

/// How many live records of `collection` match `expr`. Fewer than
/// `settings.few` matches are looked up by row id. More are merged, both in row id
/// order, with the collection's live records (its `records_live` index):
/// SQLite's own plan for `rid IN (matches)` first builds a temporary index
/// of every match, which for a word in most of 100,000 records costs
/// several times more.
pub(crate) fn count_live(
    c: &Connection,
    collection: &str,
    expr: &str,
    settings: SearchSettings,
) -> Result<i64> {
    fn next(rows: &mut rusqlite::Rows<'_>) -> rusqlite::Result<Option<i64>> {
        rows.next()?.map(|row| row.get(0)).transpose()
    }
    let mut stmt = c.prepare_cached(
        "SELECT rowid FROM records_fts WHERE records_fts MATCH ?1 ORDER BY rowid",
    )?;
    let mut matches = stmt.query([expr])?;
    let mut first = Vec::new();
    while first.len() < settings.few {
        match next(&mut matches)? {
            Some(rid) => first.push(SqlValue::Integer(rid)),
            None => {
                let set = Rc::new(first);
                return Ok(c
                    .prepare_cached(
                        "SELECT count(*) FROM records WHERE rid IN rarray(?1) AND collection = ?2 AND deleted = 0",
                    )?
                    .query_row(rusqlite::params![set, collection], |r| r.get(0))?);
            }
        }
    }
    let mut first = first.into_iter().map(|v| match v {
        SqlValue::Integer(rid) => rid,
        _ => i64::MIN,
    });
    let mut next_match = || -> rusqlite::Result<Option<i64>> {
        match first.next() {
            Some(rid) => Ok(Some(rid)),
            None => next(&mut matches),
        }
    };
    let mut stmt = c.prepare_cached(
        "SELECT rid FROM records WHERE collection = ?1 AND deleted = 0 ORDER BY rid",
    )?;
    let mut live = stmt.query([collection])?;
    let (mut m, mut l) = (next_match()?, next(&mut live)?);
    let mut n = 0;
    while let (Some(a), Some(b)) = (m, l) {
        match a.cmp(&b) {
            std::cmp::Ordering::Less => m = next_match()?,
            std::cmp::Ordering::Greater => l = next(&mut live)?,
            std::cmp::Ordering::Equal => {
                n += 1;
                m = next_match()?;
                l = next(&mut live)?;
            }
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LocalStore;

    #[test]
    fn the_text_of_a_record_is_its_strings() {
        assert_eq!(
            searchable_text(
                r#"{"title":"Call the plumber","n":3,"ok":true,"tags":["x",{"k":"deep"}],"none":null}"#
            ),
            "Call the plumber x deep"
        );
        assert_eq!(
            searchable_text(r#"{"body":"tide quay tide\nquay, tide","title":"Tide"}"#),
            "tide quay quay, Tide"
        );
        assert_eq!(searchable_text("not json"), "");
        // Runs joined by other blanks are kept whole, so their terms all stay.
        assert_eq!(
            searchable_text(
                r#"{"a":"12\u00a0kg 12\u00a0kg kg","b":"a-rather-long-word a-rather-long-word"}"#
            ),
            "12\u{a0}kg kg a-rather-long-word"
        );
    }

    #[test]
    fn the_text_of_binary_json_is_the_same() {
        let c = Connection::open_in_memory().expect("open");
        for json in [
            r#"{"title":"Call the plumber","n":3,"ok":true,"tags":["x",{"k":"deep"}],"none":null}"#,
            r#"{"notes":"line one\nline \"two\" caf\u00e9 tab\there","big":"__BIG__"}"#,
            r#"["a", 1.5e3, {"b": ["c", "d d"]}]"#,
        ] {
            let json = json.replace("__BIG__", &"word ".repeat(3000));
            let jsonb: Vec<u8> = c
                .query_row("SELECT jsonb(?1)", [&json], |r| r.get(0))
                .expect("jsonb");
            assert_eq!(
                searchable_text_of_jsonb(&jsonb),
                searchable_text(&json),
                "{json}"
            );
        }
        assert_eq!(searchable_text_of_jsonb(&[0xff, 0x01]), "");
    }

    /// Thresholds a few dozen records cross, so every way is taken.
    const SMALL: SearchSettings = SearchSettings {
        few: 10,
        collect: 40,
        window: 3,
    };

    fn store_with(titles: &[&str]) -> LocalStore {
        let mut store = LocalStore::open_in_memory().expect("open");
        store.search = SMALL;
        store
            .write(|tx| {
                for t in titles {
                    tx.execute(
                        "INSERT INTO records (collection, id, fields) VALUES ('tasks', ?1, ?2)",
                        [
                            uuid::Uuid::now_v7().to_string(),
                            serde_json::json!({ "title": t }).to_string(),
                        ],
                    )?;
                }
                Ok(())
            })
            .expect("insert");
        store
    }

    #[test]
    fn words_become_the_terms_they_start() {
        let store = store_with(&["Harbour crane", "Harbours", "Café Noël", "Quay"]);
        let search = |text: &str| store.read(|c| search(c, text)).expect("search");
        assert_eq!(
            search("HARB cr"),
            Some(Search::Match(
                "(\"harbour\" OR \"harbours\") AND (\"crane\")".into()
            ))
        );
        // Folded as the index folds: case and accents.
        assert_eq!(
            search("café noel"),
            Some(Search::Match("(\"cafe\") AND (\"noel\")".into()))
        );
        assert_eq!(search("zebra"), Some(Search::Nothing));
        assert_eq!(search("  ,, "), None);
        // FTS5 syntax in the input stays inert.
        assert_eq!(search("\"); DROP TABLE records; --"), Some(Search::Nothing));
    }

    /// Every way a page is found (sorting few matches, walking the sort
    /// index past many, asking the index past the matches read) gives the
    /// page a plain sort of the matches would.
    #[test]
    fn pages_of_matches_are_the_sorted_matches() {
        let mut store = LocalStore::open_in_memory().expect("open");
        store.search = SMALL;
        store
            .replace_schema(&[crate::store::schema::tests::tasks(&["owner"])])
            .expect("schema");
        let ids: Vec<uuid::Uuid> = (0..200)
            .map(|i| {
                let mut words = vec!["common"];
                if i % 8 == 0 {
                    words.push("quarter");
                }
                if i % 50 == 7 {
                    words.push("rare");
                }
                let fields = serde_json::json!({
                    "title": format!("{} {}", (i * 37) % 101, words.join(" ")),
                    "owner": format!("o{}", i % 9),
                });
                store
                    .create("tasks", fields.as_object().cloned().unwrap_or_default())
                    .expect("create")
            })
            .collect();
        assert_eq!(ids.len(), 200);
        for (word, matches) in [("rare", 4), ("quarter", 25), ("common", 200)] {
            for (sort, order) in [
                ("title", crate::store::SortOrder::Ascending),
                ("owner", crate::store::SortOrder::Descending),
            ] {
                let mut all = crate::store::Query::new("tasks");
                all.sort = Some(sort.into());
                all.order = order;
                all.limit = 1000;
                let expected: Vec<uuid::Uuid> = store
                    .query(&all)
                    .expect("all")
                    .records
                    .into_iter()
                    .filter(|r| {
                        r.fields
                            .get("title")
                            .and_then(|t| t.as_str())
                            .is_some_and(|t| t.split(' ').any(|w| w == word))
                    })
                    .map(|r| r.id)
                    .collect();
                assert_eq!(expected.len(), matches);
                for (offset, limit) in [(0, 7), (5, 20), (22, 10), (0, 1000)] {
                    let mut q = all.clone();
                    q.search = Some(word[..3].to_string());
                    q.offset = offset;
                    q.limit = limit;
                    let page = store.query(&q).expect("search");
                    let got: Vec<uuid::Uuid> = page.records.iter().map(|r| r.id).collect();
                    let want: Vec<uuid::Uuid> =
                        expected.iter().skip(offset).take(limit).copied().collect();
                    assert_eq!(got, want, "{word} by {sort} from {offset}");
                    assert_eq!(page.has_more, offset + limit < matches, "{word} {offset}");
                }
            }
        }
    }

    /// Counting, whether the matches are few (looked up) or many (merged),
    /// agrees with SQLite's count: other collections, deleted records and
    /// non-matches are left out.
    #[test]
    fn counts_of_matches_leave_out_other_collections_and_deleted_records() {
        let titles: Vec<&str> = (0..30)
            .map(|i| ["red fox", "red hen", "blue fox"][i % 3])
            .chain(["red cat", "red cat"])
            .collect();
        let store = store_with(&titles);
        store
            .write(|tx| {
                tx.execute(
                    "INSERT INTO records (collection, id, fields) VALUES ('notes', 'n1', '{\"title\":\"red fox\"}')",
                    [],
                )?;
                tx.execute(
                    "UPDATE records SET deleted = 1 WHERE rid = (SELECT min(rid) FROM records WHERE fields LIKE '%red cat%')",
                    [],
                )?;
                Ok(())
            })
            .expect("write");
        for (text, want) in [
            ("red", 21),
            ("fox", 20),
            ("red fox", 10),
            ("fo", 20),
            ("blue", 10),
            ("cat", 1),
            ("hen fox", 0),
        ] {
            let Some(Search::Match(expr)) = store.read(|c| search(c, text)).expect("search") else {
                panic!("{text}: no search");
            };
            let merged = store
                .read(|c| count_live(c, "tasks", &expr, SMALL))
                .expect("count");
            let plain: i64 = store
                .read(|c| {
                    Ok(c.query_row(
                        "SELECT count(*) FROM records WHERE collection = 'tasks' AND deleted = 0
                         AND rid IN (SELECT rowid FROM records_fts WHERE records_fts MATCH ?1)",
                        [&expr],
                        |r| r.get(0),
                    )?)
                })
                .expect("plain");
            assert_eq!((merged, plain), (want, want), "{text}");
        }
    }

    /// A word standing for more terms than are listed stays a prefix
    /// query, and a page of its matches is read the way such queries are
    /// (whole) yet is the same page.
    #[test]
    fn a_prefix_of_very_many_terms_stays_a_prefix() {
        let mut titles: Vec<String> = (0..MAX_EXPANSION + 20)
            .map(|i| format!("word{i}"))
            .collect();
        titles.extend((0..30).map(|i| format!("other{i}")));
        let store = store_with(&titles.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(
            store.read(|c| search(c, "wo")).expect("search"),
            Some(Search::Match("\"wo\"*".into()))
        );
        let title = |r: &crate::store::LocalRecord| {
            r.fields
                .get("title")
                .and_then(|t| t.as_str())
                .map(String::from)
        };
        let mut all = crate::store::Query::new("tasks");
        all.sort = Some("title".into());
        all.limit = 1000;
        let want: Vec<String> = store
            .query(&all)
            .expect("all")
            .records
            .iter()
            .filter_map(title)
            .filter(|t| t.starts_with("word"))
            .collect();
        assert_eq!(want.len(), MAX_EXPANSION + 20);
        for (offset, limit) in [(0, 7), (300, 50), (MAX_EXPANSION, 1000)] {
            let mut q = crate::store::Query::new("tasks");
            q.search = Some("wo".into());
            q.sort = Some("title".into());
            q.offset = offset;
            q.limit = limit;
            let page = store.query(&q).expect("page");
            let got: Vec<String> = page.records.iter().filter_map(title).collect();
            let expected: Vec<String> = want.iter().skip(offset).take(limit).cloned().collect();
            assert_eq!(got, expected, "from {offset}");
            assert_eq!(page.has_more, offset + limit < want.len(), "from {offset}");
        }
        let mut q = crate::store::Query::new("tasks");
        q.search = Some("wo".into());
        assert_eq!(store.count(&q).expect("count"), want.len() as i64);
    }
}
