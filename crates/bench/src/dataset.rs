//! The records every suite works on (about 1 KB, 10 fields, one collection)
//! and the raw reference: inserting the same rows into SQLite in one
//! transaction, the fastest SQLite can take them on this machine.

use std::time::{Duration, Instant};

use ferry_protocol::{Field, FieldType, Fields, Policy};
use ferry_server::schema_file::CollectionDef;
use serde_json::{Value, json};
use uuid::Uuid;

pub const COLLECTION: &str = "items";
const STATUSES: [&str; 3] = ["todo", "doing", "done"];
const WORDS: [&str; 10] = [
    "harbour", "ledger", "invoice", "crane", "tide", "cargo", "berth", "manifest", "pilot", "quay",
];

pub fn bench_collection() -> CollectionDef {
    let f = |name: &str, t: FieldType| Field {
        required: name == "title",
        options: (t == FieldType::Choice).then(|| STATUSES.map(String::from).to_vec()),
        ..Field::new(name, t)
    };
    CollectionDef {
        partition_by: None,
        fetch_files: None,
        retired: Default::default(),
        history: None,
        name: COLLECTION.into(),
        label: "Items".into(),
        title_field: "title".into(),
        policy: Policy::Manual,
        fields: vec![
            f("title", FieldType::Text),
            f("body", FieldType::Longtext),
            f("status", FieldType::Choice),
            f("priority", FieldType::Number),
            f("due", FieldType::Date),
            f("done", FieldType::Boolean),
            f("tags", FieldType::Tags),
            f("owner", FieldType::Text),
            f("email", FieldType::Text),
            f("updated", FieldType::Datetime),
        ],
    }
}

/// A record of about 1 KB with 10 fields; different for every `i`.
pub fn record_fields(i: usize) -> Fields {
    let w = |k: usize| WORDS[(i * 7 + k * 3) % WORDS.len()];
    let body: String = (0..110).map(w).collect::<Vec<_>>().join(" ");
    let v = json!({
        "title": format!("Item {i}: {} {}", w(1), w(2)),
        "body": &body[..body.len().min(900)],
        "status": STATUSES[i % 3],
        "priority": (i % 5) + 1,
        "due": format!("2027-{:02}-{:02}", i % 12 + 1, i % 28 + 1),
        "done": i.is_multiple_of(2),
        "tags": [w(4), w(5)],
        "owner": format!("owner{}", i % 50),
        "email": format!("owner{}@example.com", i % 50),
        "updated": format!("2026-11-{:02}T{:02}:30:00Z", i % 28 + 1, i % 24),
    });
    match v {
        Value::Object(m) => m,
        _ => Fields::new(),
    }
}

/// Items per second, rounded.
pub fn rate(n: usize, secs: f64) -> f64 {
    (n as f64 / secs.max(1e-9)).round()
}

/// `a / b` with two decimals.
pub fn ratio(a: f64, b: f64) -> f64 {
    ((a / b.max(1e-9)) * 100.0).round() / 100.0
}

/// Milliseconds with three decimals.
pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// The `q`-quantile (0..=1) of `samples`, nearest rank.
pub fn quantile(samples: &mut [Duration], q: f64) -> Duration {
    samples.sort_unstable();
    let Some(last) = samples.len().checked_sub(1) else {
        return Duration::ZERO;
    };
    let i = ((last as f64) * q).round() as usize;
    samples[i.min(last)]
}

/// How the raw reference commits, matching the database it stands for.
#[derive(Debug, Clone, Copy)]
pub enum Synchronous {
    /// The server: every commit reaches the disk.
    Full,
    /// The client: WAL with `synchronous=NORMAL`.
    Normal,
}

/// Inserts the rows `n` records make (id, version, fields and stamps) into
/// one table with a unique index, in one transaction: the fastest SQLite
/// can take them. Returns rows per second.
pub fn raw_insert(dir: &std::path::Path, n: usize, sync: Synchronous) -> anyhow::Result<f64> {
    let path = dir.join("raw.db");
    let _ = std::fs::remove_file(&path);
    let conn = rusqlite::Connection::open(&path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(
        None,
        "synchronous",
        match sync {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        },
    )?;
    conn.execute_batch(
        "CREATE TABLE records (collection TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL,
           fields TEXT NOT NULL, deleted INTEGER NOT NULL, updated_at TEXT NOT NULL, updated_by TEXT NOT NULL,
           hlc TEXT NOT NULL, seq INTEGER NOT NULL);
         CREATE UNIQUE INDEX records_by_id ON records(collection, id)",
    )?;
    let rows: Vec<(String, String)> = (0..n)
        .map(|i| {
            Ok((
                Uuid::now_v7().to_string(),
                serde_json::to_string(&record_fields(i))?,
            ))
        })
        .collect::<anyhow::Result<_>>()?;
    let stamp = "2026-11-26T09:30:00.000Z-0000-srv";
    let start = Instant::now();
    let tx = conn.unchecked_transaction()?;
    {
        let mut stmt = tx.prepare(
            "INSERT INTO records (collection, id, version, fields, deleted, updated_at, updated_by, hlc, seq)
             VALUES (?1, ?2, 1, ?3, 0, ?4, 'bench', ?4, ?5)",
        )?;
        for (seq, (id, fields)) in rows.iter().enumerate() {
            stmt.execute(rusqlite::params![
                COLLECTION,
                id,
                fields,
                stamp,
                seq as i64 + 1
            ])?;
        }
    }
    tx.commit()?;
    Ok(rate(n, start.elapsed().as_secs_f64()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_about_a_kilobyte_with_ten_fields() {
        let r = record_fields(12_345);
        assert_eq!(r.len(), 10);
        let bytes = serde_json::to_string(&r).map(|s| s.len()).unwrap_or(0);
        assert!((800..1200).contains(&bytes), "{bytes} bytes");
    }

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let mut s: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        assert_eq!(quantile(&mut s, 0.5), Duration::from_millis(51));
        assert_eq!(quantile(&mut s, 0.99), Duration::from_millis(99));
        assert_eq!(quantile(&mut [], 0.99), Duration::ZERO);
    }
}
