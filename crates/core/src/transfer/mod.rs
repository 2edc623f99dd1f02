//! Data in and out of a collection: CSV (RFC 4180) and JSON lines.
//!
//! Import reads a file, maps its columns to fields, checks every row
//! against the schema, and writes the rows as ordinary local edits (each
//! with its outbox entry) in transactions of [`IMPORT_BATCH`] rows. Each
//! transaction also records how far the import got, under a key made from
//! the file's bytes, the collection and the options: an import cut short
//! (a crash, or cancelled) keeps a clean prefix of whole batches, and
//! importing the same file again continues after it, so no row is
//! imported twice and none is lost.
//!
//! Export writes the records a [`crate::Query`] matches (every one, in its
//! order), with ISO dates, tags joined in one cell and UTF-8 throughout.

mod export;
mod import;
mod values;

use serde::{Deserialize, Serialize};

pub use export::export;
pub use import::{BULK_IMPORT_ROWS, Cancel, import, preview};

/// Rows written per transaction of an import.
pub const IMPORT_BATCH: usize = 2000;
/// Rows of the file a preview shows.
pub const PREVIEW_ROWS: usize = 20;
/// Rows with problems a preview or report lists (all are counted).
pub const LISTED_PROBLEMS: usize = 100;
/// The separator of a tags field's values in one CSV cell.
pub const TAG_SEPARATOR: &str = "; ";

/// A file's format, from its extension (`.jsonl`, `.ndjson`: JSON lines).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    Csv,
    Jsonl,
}

impl FileFormat {
    /// The format a file name says; CSV unless it ends in `.jsonl`, `.ndjson` or `.json`.
    pub fn of(path: &std::path::Path) -> FileFormat {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("jsonl" | "ndjson" | "json") => FileFormat::Jsonl,
            _ => FileFormat::Csv,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            FileFormat::Csv => "csv",
            FileFormat::Jsonl => "jsonl",
        }
    }
}

/// Which field a column of the file goes to (none: the column is left out).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnMapping {
    pub column: String,
    pub field: Option<String>,
}

/// How an import's rows meet the records already there.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ImportOptions {
    /// Column to field. Empty: guessed from the headers and the fields'
    /// names and labels.
    #[serde(default)]
    pub mapping: Vec<ColumnMapping>,
    /// Update the record whose `key` field equals the row's, and create the
    /// rows that match none. None: create every row.
    #[serde(default)]
    pub key: Option<String>,
}

/// A row that will not be imported, and why.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowProblem {
    /// The row's number among the file's data rows, from 1 (the header is not counted).
    pub row: u64,
    pub reasons: Vec<String>,
}

/// What importing a file would do, before anything is written.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportPreview {
    pub path: String,
    pub format: FileFormat,
    /// The file's columns, in order (JSON lines: every key, in the order
    /// first met; a line's own keys in alphabetical order).
    pub columns: Vec<String>,
    /// The first rows, one text per column.
    pub sample: Vec<Vec<String>>,
    /// Data rows in the file.
    pub rows: u64,
    /// Rows that would be imported (those after `resume_from`).
    pub valid: u64,
    /// The first rows with problems ([`LISTED_PROBLEMS`] at most).
    pub problems: Vec<RowProblem>,
    /// Every row with a problem.
    pub problem_rows: u64,
    /// The options checked: the mapping given, or the one guessed.
    pub options: ImportOptions,
    /// With a key: rows to import that match a record (they update it).
    pub matches: u64,
    /// Rows an earlier import of this file with these options already
    /// brought in (cut short: it continues after them).
    pub resume_from: u64,
    /// This file was already imported in full with these options.
    pub already_imported: bool,
}

/// What an import did.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportReport {
    pub rows: u64,
    pub created: u64,
    pub updated: u64,
    /// Matched a record whose values were already the row's.
    pub unchanged: u64,
    /// Rows left out for their problems.
    pub skipped: u64,
    pub problems: Vec<RowProblem>,
    /// Rows an earlier import of the file had already brought in.
    pub resumed_from: u64,
    /// Cancelled: rows up to `done` are in, the rest are not.
    pub cancelled: bool,
    /// Rows handled so far (all of them unless cancelled).
    pub done: u64,
}

/// How far an import is, for a progress bar.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ImportProgress {
    pub done: u64,
    pub total: u64,
}

/// What an export wrote.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportReport {
    pub path: String,
    pub format: FileFormat,
    pub rows: u64,
}
