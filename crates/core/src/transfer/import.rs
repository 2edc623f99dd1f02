//! Reading a file to import: its table, the mapping, each row's problems,
//! and the import itself in journalled batches.

use std::collections::HashSet;
use std::path::Path;

use ferry_protocol::{Collection, Fields};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::values::{cell_text, cell_value};
use super::{
    ColumnMapping, FileFormat, IMPORT_BATCH, ImportOptions, ImportPreview, ImportProgress,
    ImportReport, LISTED_PROBLEMS, PREVIEW_ROWS, RowProblem,
};
use crate::error::{Error, Result};
pub use crate::model::Cancel;
use crate::store::LocalStore;
use crate::store::imports::{ImportJournal, ImportRow, RowOutcome, check_key};

/// Rows from which an import into a snapshot holding no more records
/// rebuilds the indexes once instead of keeping them up to date.
pub const BULK_IMPORT_ROWS: u64 = 20_000;

/// Largest file an import reads (it is read whole).
const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;

/// A file read as a table: its columns and, per data row, one cell per
/// column (missing cells are null) or what is wrong with the row.
struct Table {
    format: FileFormat,
    columns: Vec<String>,
    rows: Vec<std::result::Result<Vec<Value>, String>>,
    /// The file's bytes, hashed: an import's identity.
    digest: [u8; 32],
}

fn bad(path: &Path, detail: impl Into<String>) -> Error {
    Error::BadFile {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

fn read_table(path: &Path) -> Result<Table> {
    let io = |e| Error::Io {
        context: format!("cannot read {}", path.display()),
        source: e,
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_FILE_BYTES {
        return Err(bad(
            path,
            format!("the file is larger than {} MB", MAX_FILE_BYTES >> 20),
        ));
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let digest: [u8; 32] = Sha256::digest(&bytes).into();
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        bad(
            path,
            format!(
                "not UTF-8 text (byte {}); save it as UTF-8 (in Excel: \"CSV UTF-8\")",
                e.valid_up_to()
            ),
        )
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let format = FileFormat::of(path);
    let (columns, rows) = match format {
        FileFormat::Csv => read_csv(path, text)?,
        FileFormat::Jsonl => read_jsonl(text),
    };
    Ok(Table {
        format,
        columns,
        rows,
        digest,
    })
}

/// The delimiter the header line uses most: comma, semicolon (spreadsheets
/// in many European locales) or tab.
fn delimiter(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or("");
    let count = |c: char| header.chars().filter(|&x| x == c).count();
    [(b',', count(',')), (b';', count(';')), (b'\t', count('\t'))]
        .into_iter()
        .max_by_key(|&(d, n)| (n, d == b','))
        .map_or(b',', |(d, _)| d)
}

type Rows = Vec<std::result::Result<Vec<Value>, String>>;

fn read_csv(path: &Path, text: &str) -> Result<(Vec<String>, Rows)> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter(text))
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| bad(path, format!("the header row cannot be read: {e}")))?
        .clone();
    let mut columns: Vec<String> = Vec::with_capacity(headers.len());
    for (i, h) in headers.iter().enumerate() {
        let mut name = h.trim().to_string();
        if name.is_empty() {
            name = format!("Column {}", i + 1);
        }
        let base = name.clone();
        let mut n = 2;
        while columns.contains(&name) {
            name = format!("{base} ({n})");
            n += 1;
        }
        columns.push(name);
    }
    if columns.is_empty() {
        return Err(bad(path, "the file is empty: it has no header row"));
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            bad(path, format!("line {line}: {e}"))
        })?;
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if record.len() > columns.len() {
            rows.push(Err(format!(
                "has {} cells, the header {}",
                record.len(),
                columns.len()
            )));
            continue;
        }
        let mut cells: Vec<Value> = record
            .iter()
            .map(|c| Value::String(c.to_string()))
            .collect();
        cells.resize(columns.len(), Value::Null);
        rows.push(Ok(cells));
    }
    Ok((columns, rows))
}

fn read_jsonl(text: &str) -> (Vec<String>, Rows) {
    let mut columns: Vec<String> = Vec::new();
    let mut objects = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(o)) => {
                for k in o.keys() {
                    if !columns.contains(k) {
                        columns.push(k.clone());
                    }
                }
                objects.push(Ok(o));
            }
            Ok(_) => objects.push(Err("is not a JSON object".to_string())),
            Err(e) => objects.push(Err(format!("is not valid JSON: {e}"))),
        }
    }
    let rows = objects
        .into_iter()
        .map(|o| {
            o.map(|mut o| {
                columns
                    .iter()
                    .map(|c| o.remove(c).unwrap_or(Value::Null))
                    .collect()
            })
        })
        .collect();
    (columns, rows)
}

/// Letters and digits only, lower-cased: "E-mail" and "email" meet.
fn squash(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Each column to the field whose name or label it spells (each field once).
pub(crate) fn guess(col: &Collection, columns: &[String]) -> Vec<ColumnMapping> {
    let mut taken = HashSet::new();
    columns
        .iter()
        .map(|column| {
            let c = squash(column);
            let field = col
                .fields
                .iter()
                .find(|f| {
                    !taken.contains(&f.name) && (squash(&f.name) == c || squash(&f.label) == c)
                })
                .map(|f| f.name.clone());
            if let Some(f) = &field {
                taken.insert(f.clone());
            }
            ColumnMapping {
                column: column.clone(),
                field,
            }
        })
        .collect()
}

/// The column index of each mapped field; errors for a mapping that names
/// an unknown column or field, or maps two columns to one field.
fn mapped(
    col: &Collection,
    columns: &[String],
    options: &ImportOptions,
) -> Result<Vec<(usize, String)>> {
    let mut out: Vec<(usize, String)> = Vec::new();
    for m in &options.mapping {
        let Some(field) = &m.field else { continue };
        let i = columns.iter().position(|c| c == &m.column).ok_or_else(|| {
            Error::InvalidValue(format!("the file has no column \"{}\"", m.column))
        })?;
        if col.field(field).is_none() {
            return Err(Error::InvalidValue(format!(
                "{} has no field \"{field}\"",
                col.label
            )));
        }
        if let Some((j, _)) = out.iter().find(|(_, f)| f == field) {
            return Err(Error::InvalidValue(format!(
                "columns \"{}\" and \"{}\" both go to {field}; choose one",
                columns[*j], m.column
            )));
        }
        out.push((i, field.clone()));
    }
    if out.is_empty() {
        return Err(Error::InvalidValue(
            "no column goes to a field: choose a field for at least one column".into(),
        ));
    }
    if let Some(key) = &options.key {
        check_key(col, key)?;
        if !out.iter().any(|(_, f)| f == key) {
            return Err(Error::InvalidValue(format!(
                "to match rows by {key}, a column must go to {key}"
            )));
        }
    }
    Ok(out)
}

/// A row's values, or its problems. Required fields are checked for rows
/// that will create a record (`creates`).
fn row_fields(
    col: &Collection,
    map: &[(usize, String)],
    cells: &[Value],
    creates: bool,
) -> std::result::Result<Fields, Vec<String>> {
    let mut fields = Fields::new();
    let mut reasons = Vec::new();
    for (i, name) in map {
        let Some(field) = col.field(name) else {
            continue;
        };
        match cell_value(field, cells.get(*i).unwrap_or(&Value::Null)) {
            Ok(Some(v)) => {
                fields.insert(name.clone(), v);
            }
            Ok(None) => {}
            Err(e) => reasons.push(e),
        }
    }
    if reasons.is_empty() && creates {
        for f in col.fields.iter().filter(|f| f.required) {
            if f.check(fields.get(&f.name).unwrap_or(&Value::Null))
                .is_err()
            {
                reasons.push(format!("{} is required", f.label));
            }
        }
    }
    if reasons.is_empty()
        && let Err(e) = ferry_protocol::check_field_sizes(&fields)
            .and_then(|()| ferry_protocol::check_record_size(&fields, None))
    {
        reasons.push(e);
    }
    if reasons.is_empty() {
        Ok(fields)
    } else {
        Err(reasons)
    }
}

/// Every row checked: its values (and whether it matches a record), or its problems.
struct Checked {
    rows: Vec<std::result::Result<(Fields, bool), Vec<String>>>,
}

fn check_rows(
    store: &LocalStore,
    col: &Collection,
    table: &Table,
    options: &ImportOptions,
) -> Result<Checked> {
    let map = mapped(col, &table.columns, options)?;
    // Which rows match a record, by their key's value.
    let key_cells: Vec<Option<Value>> = match &options.key {
        Some(key) => {
            let (i, _) = map
                .iter()
                .find(|(_, f)| f == key)
                .ok_or_else(|| Error::InvalidValue(format!("no column goes to {key}")))?;
            let field = col
                .field(key)
                .ok_or_else(|| Error::InvalidValue(key.clone()))?;
            table
                .rows
                .iter()
                .map(|r| {
                    r.as_ref()
                        .ok()
                        .and_then(|cells| cell_value(field, &cells[*i]).ok().flatten())
                })
                .collect()
        }
        None => Vec::new(),
    };
    let matches = match &options.key {
        Some(key) => store.key_matches(&col.name, key, &key_cells)?,
        None => vec![false; table.rows.len()],
    };
    // A key value met earlier in the file matches the record that row creates.
    let mut seen = HashSet::new();
    let rows = table
        .rows
        .iter()
        .enumerate()
        .map(|(n, r)| {
            let cells = r.as_ref().map_err(|e| vec![e.clone()])?;
            let key = key_cells.get(n).cloned().flatten().map(|v| v.to_string());
            let earlier = key.as_ref().is_some_and(|k| !seen.insert(k.clone()));
            let matched = matches.get(n).copied().unwrap_or(false) || earlier;
            row_fields(col, &map, cells, !matched).map(|f| (f, matched))
        })
        .collect();
    Ok(Checked { rows })
}

fn problems(checked: &Checked) -> (Vec<RowProblem>, u64) {
    let mut listed = Vec::new();
    let mut count = 0;
    for (n, r) in checked.rows.iter().enumerate() {
        if let Err(reasons) = r {
            count += 1;
            if listed.len() < LISTED_PROBLEMS {
                listed.push(RowProblem {
                    row: n as u64 + 1,
                    reasons: reasons.clone(),
                });
            }
        }
    }
    (listed, count)
}

/// The identity of an import: the file's bytes, the collection and the options.
fn import_id(table: &Table, collection: &str, options: &ImportOptions) -> Result<String> {
    let options = serde_json::to_string(options)
        .map_err(|e| Error::Inconsistent(format!("import options: {e}")))?;
    let mut h = Sha256::new();
    h.update(table.digest);
    h.update(collection.as_bytes());
    h.update([0]);
    h.update(options.as_bytes());
    Ok(hex::encode(h.finalize()))
}

fn options_or_guess(
    col: &Collection,
    table: &Table,
    options: Option<ImportOptions>,
) -> ImportOptions {
    match options {
        Some(o) if !o.mapping.is_empty() => o,
        Some(o) => ImportOptions {
            mapping: guess(col, &table.columns),
            key: o.key,
        },
        None => ImportOptions {
            mapping: guess(col, &table.columns),
            key: None,
        },
    }
}

/// What importing `path` into `collection` would do; nothing is written.
/// Without options (or without a mapping) the mapping is guessed.
pub fn preview(
    store: &LocalStore,
    collection: &str,
    path: &Path,
    options: Option<ImportOptions>,
) -> Result<ImportPreview> {
    let col = store.collection(collection)?;
    let table = read_table(path)?;
    let options = options_or_guess(&col, &table, options);
    let sample = table
        .rows
        .iter()
        .take(PREVIEW_ROWS)
        .map(|r| match r {
            Ok(cells) => cells.iter().map(cell_text).collect(),
            Err(_) => Vec::new(),
        })
        .collect();
    let journal = store.import_journal(&import_id(&table, collection, &options)?)?;
    let resume_from = journal.filter(|j| !j.finished()).map_or(0, |j| j.done);
    let (valid, matches, listed, problem_rows) = match check_rows(store, &col, &table, &options) {
        Ok(checked) => {
            let (listed, count) = problems(&checked);
            let left = checked
                .rows
                .iter()
                .skip(usize::try_from(resume_from).unwrap_or(usize::MAX));
            let ok = left.filter_map(|r| r.as_ref().ok());
            let matches = ok.clone().filter(|(_, m)| *m).count() as u64;
            (ok.count() as u64, matches, listed, count)
        }
        // A mapping that cannot work: every row waits on it.
        Err(Error::InvalidValue(reason)) => (
            0,
            0,
            vec![RowProblem {
                row: 0,
                reasons: vec![reason],
            }],
            table.rows.len() as u64,
        ),
        Err(e) => return Err(e),
    };
    Ok(ImportPreview {
        path: path.display().to_string(),
        format: table.format,
        columns: table.columns.clone(),
        sample,
        rows: table.rows.len() as u64,
        valid,
        problems: listed,
        problem_rows,
        options,
        matches,
        resume_from,
        already_imported: journal.is_some_and(|j| j.finished()),
    })
}

/// Imports `path` into `collection` in batches of [`IMPORT_BATCH`] rows,
/// each one transaction that also records how far the import got. Rows
/// with problems are left out (and listed). An import of the same file
/// with the same options that was cut short continues after its last
/// batch; one that finished is not done again unless `again`.
pub fn import(
    store: &LocalStore,
    collection: &str,
    path: &Path,
    options: &ImportOptions,
    again: bool,
    cancel: &Cancel,
    mut progress: impl FnMut(ImportProgress),
) -> Result<ImportReport> {
    let col = store.collection(collection)?;
    let table = read_table(path)?;
    let options = options_or_guess(&col, &table, Some(options.clone()));
    let mut id = import_id(&table, collection, &options)?;
    let total = table.rows.len() as u64;
    let mut start = 0;
    match store.import_journal(&id)? {
        Some(j) if j.finished() && !again => {
            return Err(Error::InvalidValue(format!(
                "{} was already imported into {} with these settings; nothing is left to import",
                path.display(),
                col.label
            )));
        }
        Some(j) if j.finished() => {
            id = format!("{id}:{}", uuid::Uuid::now_v7());
        }
        Some(j) => start = j.done,
        None => {}
    }
    let checked = check_rows(store, &col, &table, &options)?;
    let (listed, problem_rows) = problems(&checked);
    let mut report = ImportReport {
        rows: total,
        created: 0,
        updated: 0,
        unchanged: 0,
        skipped: problem_rows,
        problems: listed,
        resumed_from: start,
        cancelled: false,
        done: start,
    };
    progress(ImportProgress { done: start, total });
    // A large import into a small snapshot skips keeping the search and
    // sort indexes row by row and rebuilds them once at the end (a crash
    // before then: the next open rebuilds them).
    let left = total.saturating_sub(start);
    let held: i64 = store.collection_counts()?.iter().map(|(_, n)| n).sum();
    // Not with a key: its lookups walk the key field's sort index.
    let bulk = options.key.is_none()
        && left >= BULK_IMPORT_ROWS
        && i64::try_from(left).unwrap_or(i64::MAX) >= held;
    if bulk {
        store.begin_bulk_load()?;
    }
    let written = write_batches(
        store,
        collection,
        &options,
        &checked,
        &id,
        cancel,
        &mut report,
        &mut progress,
    );
    if bulk {
        store.end_bulk_load()?;
    }
    written?;
    if total == 0 {
        let journal = ImportJournal { done: 0, rows: 0 };
        store.import_batch(collection, None, &[], &id, journal)?;
    }
    Ok(report)
}

/// Writes the rows from `report.done` on, a batch per transaction, until
/// done or cancelled.
#[allow(clippy::too_many_arguments)]
fn write_batches(
    store: &LocalStore,
    collection: &str,
    options: &ImportOptions,
    checked: &Checked,
    id: &str,
    cancel: &Cancel,
    report: &mut ImportReport,
    progress: &mut impl FnMut(ImportProgress),
) -> Result<()> {
    let total = report.rows;
    let mut at = usize::try_from(report.done).unwrap_or(usize::MAX);
    while at < checked.rows.len() {
        if cancel.is_cancelled() {
            report.cancelled = true;
            break;
        }
        let end = (at + IMPORT_BATCH).min(checked.rows.len());
        let batch: Vec<ImportRow> = checked.rows[at..end]
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .map(|(fields, _)| ImportRow {
                fields: fields.clone(),
            })
            .collect();
        let journal = ImportJournal {
            done: end as u64,
            rows: total,
        };
        let outcomes =
            store.import_batch(collection, options.key.as_deref(), &batch, id, journal)?;
        for o in outcomes {
            match o {
                RowOutcome::Created => report.created += 1,
                RowOutcome::Updated => report.updated += 1,
                RowOutcome::Unchanged => report.unchanged += 1,
                RowOutcome::Held => report.skipped += 1,
            }
        }
        at = end;
        report.done = end as u64;
        progress(ImportProgress {
            done: report.done,
            total,
        });
    }
    Ok(())
}
