//! Everyday-use suite: importing a CSV of `n` records into an empty local
//! store (each row an outbox entry, as in the app), exporting them again,
//! and edits of 10,000 records at once. The import is also given as a
//! ratio to a raw SQLite insert of the same rows measured in the same run.

use std::io::Write;
use std::time::Instant;

use anyhow::bail;
use ferry_core::protocol::{Access, Fields};
use ferry_core::transfer::{self, Cancel, FileFormat, ImportOptions};
use ferry_core::{LocalStore, Query};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::dataset::{
    COLLECTION, Synchronous, bench_collection, rate, ratio, raw_insert, record_fields,
};

/// Records edited at once.
const BULK: usize = 10_000;
/// Runs of each edit of many, the best kept (a shared, noisy machine).
const ROUNDS: usize = 3;

fn csv_cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

/// Writes `n` records as CSV (their text has no commas or quotes).
fn write_csv(path: &std::path::Path, n: usize) -> anyhow::Result<usize> {
    let names: Vec<String> = bench_collection()
        .fields
        .iter()
        .map(|f| f.name.clone())
        .collect();
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "{}", names.join(","))?;
    for i in 0..n {
        let f = record_fields(i);
        let cells: Vec<String> = names
            .iter()
            .map(|k| csv_cell(f.get(k).unwrap_or(&Value::Null)))
            .collect();
        writeln!(out, "{}", cells.join(","))?;
    }
    out.flush()?;
    Ok(std::fs::metadata(path)?.len() as usize)
}

fn best(mut f: impl FnMut(usize) -> anyhow::Result<()>) -> anyhow::Result<f64> {
    let mut times = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        let t = Instant::now();
        f(round)?;
        times.push(t.elapsed().as_secs_f64());
    }
    Ok(times.into_iter().fold(f64::INFINITY, f64::min))
}

fn secs(s: f64) -> f64 {
    (s * 1000.0).round() / 1000.0
}

pub fn run(n: usize) -> anyhow::Result<Value> {
    if n < BULK {
        bail!("the everyday suite needs at least {BULK} records");
    }
    let dir = tempfile::tempdir()?;
    let csv = dir.path().join("records.csv");
    let file_bytes = write_csv(&csv, n)?;
    let store = LocalStore::open(&dir.path().join("ferry.db"))?;
    store.replace_schema(&[bench_collection().into_collection(Access::Write)])?;

    let start = Instant::now();
    let report = transfer::import(
        &store,
        COLLECTION,
        &csv,
        &ImportOptions::default(),
        false,
        &Cancel::default(),
        |_| {},
    )?;
    let import_secs = start.elapsed().as_secs_f64();
    if report.created != n as u64 || report.skipped != 0 {
        bail!("the import of {n} rows ended with {report:?}");
    }
    let raw = raw_insert(dir.path(), n, Synchronous::Normal)?;

    let out = dir.path().join("export.csv");
    let start = Instant::now();
    let exported = transfer::export(&store, &Query::new(COLLECTION), FileFormat::Csv, &out)?;
    let export_secs = start.elapsed().as_secs_f64();
    if exported.rows != n as u64 {
        bail!("exported {} of {n} records", exported.rows);
    }

    let mut ids: Vec<Uuid> = Vec::with_capacity(BULK);
    store.each(&Query::new(COLLECTION), |r| {
        if ids.len() < BULK {
            ids.push(r.id);
        }
        Ok(())
    })?;
    let set_secs = best(|round| {
        let changes =
            Fields::from_iter([("owner".to_string(), json!(format!("new owner {round}")))]);
        let r = store.update_many(COLLECTION, &ids, &changes)?;
        if r.changed as usize != BULK {
            bail!("set a field: {r:?}");
        }
        Ok(())
    })?;
    let tag_secs = best(|round| {
        let tag = format!("bulk{round}");
        store.tag_many(COLLECTION, &ids, "tags", &[tag], &[])?;
        Ok(())
    })?;
    let delete_secs = best(|_| {
        let d = store.delete_many(COLLECTION, &ids)?;
        // Never-sent records leave nothing to restore: bring them back as new.
        let r = store.restore_many(COLLECTION, &ids)?;
        if d.changed != BULK as u64 {
            bail!("delete: {d:?}, restore: {r:?}");
        }
        Ok(())
    })?;
    let outbox = store.pending_counts()?.outbox;

    let import_rate = rate(n, import_secs);
    let most = set_secs.max(tag_secs);
    Ok(json!({
        "suite": "everyday",
        "date": chrono::Utc::now().format("%Y-%m-%d").to_string(),
        "records": n,
        "avg_record_bytes": file_bytes / n.max(1),
        "import": {
            "seconds": secs(import_secs),
            "rows_per_s": import_rate,
            "raw_sqlite_insert_rows_per_s": raw.round(),
            "slowdown_vs_raw": ratio(raw, import_rate),
        },
        "export_csv_seconds": secs(export_secs),
        "bulk": {
            "records": BULK,
            "set_field_seconds": secs(set_secs),
            "add_tag_seconds": secs(tag_secs),
            "delete_and_restore_seconds": secs(delete_secs),
        },
        "outbox_after": outbox,
        "targets": {
            "import_100k_under_10_s": n < 100_000 || import_secs < 10.0,
            "bulk_edit_10k_under_2_s": most < 2.0,
        },
    }))
}
