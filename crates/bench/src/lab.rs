// TEMPORARY lab: variants of the client's bulk load, timed in isolation.
use crate::dataset::{SORT_FIELDS_LAB, record_fields};
use rusqlite::functions::FunctionFlags;
use serde_json::{Value, json};
use std::time::Instant;

fn text_of(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(s);
        }
        Value::Array(a) => a.iter().for_each(|x| text_of(x, out)),
        Value::Object(m) => m.values().for_each(|x| text_of(x, out)),
        _ => {}
    }
}

pub fn run(n: usize) -> anyhow::Result<Value> {
    let rows: Vec<(String, String)> = (0..n)
        .map(|i| {
            (
                uuid::Uuid::now_v7().to_string(),
                serde_json::to_string(&record_fields(i)).unwrap_or_default(),
            )
        })
        .collect();
    let dir = tempfile::tempdir()?;
    let mut out = serde_json::Map::new();
    let variants = std::env::var("LAB").unwrap_or("old,new".into());
    for variant in variants.split(',') {
        let path = dir.path().join(format!("{variant}.db"));
        let c = rusqlite::Connection::open(&path)?;
        c.create_scalar_function(
            "ferry_text",
            1,
            FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
            |ctx| {
                let s: String = ctx.get(0)?;
                let v: Value = serde_json::from_str(&s).unwrap_or(Value::Null);
                let mut o = String::new();
                text_of(&v, &mut o);
                Ok(o)
            },
        )?;
        c.pragma_update(None, "journal_mode", "WAL")?;
        c.pragma_update(None, "synchronous", "NORMAL")?;
        c.pragma_update(None, "cache_size", -65_536)?;
        c.pragma_update(None, "temp_store", "MEMORY")?;
        let has = |k: &str| variant.contains(k);
        if has("threads") {
            c.pragma_update(None, "threads", 2)?;
        }
        c.execute_batch("CREATE TABLE records (rid INTEGER PRIMARY KEY, collection TEXT NOT NULL, id TEXT NOT NULL, fields TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0, base_version INTEGER, base_fields TEXT, base_deleted INTEGER NOT NULL DEFAULT 0, base_updated_at TEXT, base_updated_by TEXT, error TEXT, UNIQUE (collection, id));
            CREATE INDEX records_live ON records(collection, deleted);
            CREATE INDEX records_rejected ON records(collection) WHERE error IS NOT NULL;")?;
        let fts = if has("fullfts") {
            "fts5(body, tokenize = 'unicode61 remove_diacritics 2')"
        } else if has("cfull") {
            "fts5(body, content='', contentless_delete=1, tokenize = 'unicode61 remove_diacritics 2')"
        } else if has("cdelp4") {
            "fts5(body, content='', contentless_delete=1, detail=none, prefix='1 2 3 4', tokenize = 'unicode61 remove_diacritics 2')"
        } else if has("cdelp") {
            "fts5(body, content='', contentless_delete=1, detail=none, prefix='2 3', tokenize = 'unicode61 remove_diacritics 2')"
        } else if has("cdel") {
            "fts5(body, content='', contentless_delete=1, detail=none, tokenize = 'unicode61 remove_diacritics 2')"
        } else if has("cless") {
            "fts5(body, content='', detail=none, columnsize=0, tokenize = 'unicode61 remove_diacritics 2')"
        } else {
            "fts5(body, detail=none, columnsize=0, tokenize = 'unicode61 remove_diacritics 2')"
        };
        c.execute_batch(&format!("CREATE VIRTUAL TABLE records_fts USING {fts}"))?;
        let base = if has("nobase") { "NULL" } else { "?2" };
        let t = Instant::now();
        for chunk in rows.chunks(2000) {
            let tx = c.unchecked_transaction()?;
            {
                let mut st = tx.prepare_cached(&format!("INSERT INTO records (collection, id, fields, deleted, base_version, base_fields, base_deleted, base_updated_at, base_updated_by) VALUES ('items', ?1, ?2, 0, 1, {base}, 0, '2026-11-26T09:30:00.000Z-0000-srv', 'bench')"))?;
                let mut look = tx.prepare_cached(
                    "SELECT base_version FROM records WHERE collection = 'items' AND id = ?1",
                )?;
                for (id, f) in chunk {
                    let _ = look.exists([id])?;
                    st.execute(rusqlite::params![id, f])?;
                }
            }
            tx.commit()?;
        }
        let mut o = serde_json::Map::new();
        o.insert("insert_s".into(), json!(t.elapsed().as_secs_f64()));
        let time = |sql: &str| -> anyhow::Result<f64> {
            let t = Instant::now();
            c.execute_batch(sql)?;
            Ok(t.elapsed().as_secs_f64())
        };
        let text = if has("jsontree") {
            "(SELECT group_concat(value, ' ') FROM json_tree(records.fields) WHERE type = 'text')"
        } else {
            "ferry_text(fields)"
        };
        o.insert("fts_s".into(), json!(time(&format!("BEGIN; INSERT INTO records_fts(rowid, body) SELECT rid, {text} FROM records; COMMIT;"))?));
        let segs = |c: &rusqlite::Connection| -> i64 {
            c.query_row(
                "SELECT count(*) FROM records_fts_idx WHERE segid IS NOT NULL AND term = ''",
                [],
                |r| r.get(0),
            )
            .unwrap_or(-1)
        };
        o.insert("segments".into(), json!(segs(&c)));
        if has("opt") {
            o.insert(
                "optimize_s".into(),
                json!(time(
                    "INSERT INTO records_fts(records_fts) VALUES('optimize')"
                )?),
            );
            o.insert("segments_after".into(), json!(segs(&c)));
        }
        c.execute_batch("CREATE VIRTUAL TABLE records_vocab USING fts5vocab(records_fts, 'row')")?;
        for w in ["harbour", "item", "4711", "ha", "owner1"] {
            let mut st = c.prepare(
                "SELECT term FROM records_vocab WHERE term >= ?1 AND term < ?2 LIMIT 33",
            )?;
            let t = Instant::now();
            let terms: Vec<String> = st
                .query_map(rusqlite::params![w, format!("{w}\u{10FFFF}")], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            o.insert(
                format!("vocab {w} -> {}", terms.len()),
                json!(t.elapsed().as_secs_f64() * 1000.0),
            );
        }
        let t = Instant::now();
        c.execute_batch("BEGIN")?;
        for f in SORT_FIELDS_LAB {
            if has("slim") {
                c.execute_batch(&format!("CREATE INDEX sort_items__{f} ON records(json_extract(fields, '$.{f}')) WHERE collection = 'items' AND deleted = 0"))?;
            } else {
                c.execute_batch(&format!("CREATE INDEX sort_items__{f} ON records(deleted, json_extract(fields, '$.{f}'), id) WHERE collection = 'items'"))?;
            }
        }
        c.execute_batch("COMMIT")?;
        o.insert("indexes_s".into(), json!(t.elapsed().as_secs_f64()));
        let size: i64 = c.query_row(
            "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size",
            [],
            |r| r.get(0),
        )?;
        o.insert("db_mb".into(), json!(size / 1_000_000));
        // search timings
        let mut st = c.prepare("SELECT count(*) FROM records_fts WHERE records_fts MATCH ?1")?;
        for q in [
            "\"harbour\"*",
            "\"ha\"*",
            "\"owner17\"*",
            "\"item\"* \"4711\"*",
        ] {
            let t = Instant::now();
            let k: i64 = st.query_row([q], |r| r.get(0))?;
            o.insert(
                format!("count {q} = {k}"),
                json!(t.elapsed().as_secs_f64() * 1000.0),
            );
        }
        for q in [
            "\"harbour\"*",
            "\"harbour\"",
            "\"ha\"*",
            "\"owner17\"*",
            "\"owner17\"",
            "\"item\"* \"4711\"*",
            "\"item\" \"4711\"*",
        ] {
            for lim in [1, 2000, 20000] {
                let mut st = c.prepare("SELECT count(*) FROM (SELECT rowid FROM records_fts WHERE records_fts MATCH ?1 LIMIT ?2)")?;
                let t = Instant::now();
                let k: i64 = st.query_row(rusqlite::params![q, lim], |r| r.get(0))?;
                o.insert(
                    format!("limit {lim} {q} = {k}"),
                    json!(t.elapsed().as_secs_f64() * 1000.0),
                );
            }
            let mut st = c.prepare(
                "SELECT count(*) FROM records_fts WHERE records_fts MATCH ?1 AND rowid = ?2",
            )?;
            let t = Instant::now();
            let mut hits = 0i64;
            for rid in 1..=200i64 {
                hits += st.query_row(rusqlite::params![q, rid * 397], |r| r.get::<_, i64>(0))?;
            }
            o.insert(
                format!("probe {q} x200 hits {hits}"),
                json!(t.elapsed().as_secs_f64() * 1000.0),
            );
        }
        out.insert(variant.to_string(), Value::Object(o));
    }
    Ok(Value::Object(out))
}
