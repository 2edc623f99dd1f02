//! import and export: CSV and JSON lines in and out of a collection.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use ferry_core::Query;
use ferry_core::transfer::{self, Cancel, ColumnMapping, FileFormat, ImportOptions};

use crate::output::{say, say_err};
use crate::{Ctx, UsageError, output};

#[derive(Args)]
pub struct ImportArgs {
    collection: String,
    /// A CSV file (comma, semicolon or tab separated, with a header row) or
    /// JSON lines (`.jsonl`, `.ndjson`, `.json`: one object per line).
    file: PathBuf,
    /// Column to field, e.g. `--map "E-mail address=email"`; `COLUMN=` leaves
    /// a column out. Columns not named are guessed from the fields' names
    /// and labels.
    #[arg(long = "map", value_name = "COLUMN=FIELD")]
    map: Vec<String>,
    /// Update the record whose FIELD equals the row's, creating rows that
    /// match none (default: create a record for every row).
    #[arg(long, value_name = "FIELD")]
    key: Option<String>,
    /// Show what would happen (the mapping, the rows with problems) and
    /// change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Import a file that was already imported with these settings again.
    #[arg(long)]
    again: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Csv,
    Jsonl,
}

#[derive(Args)]
pub struct ExportArgs {
    collection: String,
    /// Where to write (default: standard output).
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Default: from the output file's extension, else CSV.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Only records whose text contains these words (prefixes).
    #[arg(long)]
    search: Option<String>,
    /// Only records whose FIELD equals VALUE (for tags: holds it).
    #[arg(long = "where", value_name = "FIELD=VALUE")]
    filters: Vec<String>,
    /// Sort by this field (default: the title field); prefix with - for descending.
    #[arg(long, allow_hyphen_values = true)]
    sort: Option<String>,
}

/// The options the arguments give: named columns mapped, the rest guessed.
fn options(ctx: &Ctx, args: &ImportArgs) -> anyhow::Result<ImportOptions> {
    let guessed = transfer::preview(ctx.store(), &args.collection, &args.file, None)?;
    let mut mapping = guessed.options.mapping;
    for m in &args.map {
        let (column, field) = m
            .split_once('=')
            .ok_or_else(|| UsageError(format!("--map {m:?}: give COLUMN=FIELD")))?;
        if !mapping.iter().any(|c| c.column == column) {
            return Err(
                UsageError(format!("--map {m:?}: the file has no column {column:?}")).into(),
            );
        }
        let field = field.trim();
        for c in &mut mapping {
            if c.column == column {
                c.field = (!field.is_empty()).then(|| field.to_string());
            } else if !field.is_empty() && c.field.as_deref() == Some(field) {
                // A field named here is taken from the column guessed for it.
                c.field = None;
            }
        }
    }
    Ok(ImportOptions {
        mapping,
        key: args.key.clone(),
    })
}

fn print_mapping(mapping: &[ColumnMapping]) {
    for m in mapping {
        match &m.field {
            Some(f) => say!("  {} -> {f}", m.column),
            None => say!("  {} (left out)", m.column),
        }
    }
}

pub fn import(ctx: &Ctx, args: &ImportArgs) -> anyhow::Result<ExitCode> {
    let options = options(ctx, args)?;
    if args.dry_run {
        let p = transfer::preview(ctx.store(), &args.collection, &args.file, Some(options))?;
        if ctx.json {
            output::json(&p)?;
            return Ok(ExitCode::SUCCESS);
        }
        say!("{} rows in {}; columns:", p.rows, args.file.display());
        print_mapping(&p.options.mapping);
        match &p.options.key {
            Some(key) => say!(
                "{} rows would be imported: {} update the record with their {key}, {} are new",
                p.valid,
                p.matches,
                p.valid - p.matches
            ),
            None => say!("{} rows would be imported as new records", p.valid),
        }
        print_problems(&p.problems, p.problem_rows);
        if p.resume_from > 0 {
            say!(
                "An earlier import of this file stopped after row {}; importing continues after it.",
                p.resume_from
            );
        }
        if p.already_imported {
            say!("This file was already imported with these settings (--again imports it again).");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let cancel = Cancel::default();
    let show = !ctx.json && std::io::stderr().is_terminal();
    let report = ctx.client.import(
        &args.collection,
        &args.file,
        &options,
        args.again,
        &cancel,
        |p| {
            if show && p.total > 0 {
                eprint!("\rImporting… {} of {} rows", p.done, p.total);
            }
        },
    )?;
    if show {
        eprintln!();
    }
    if ctx.json {
        output::json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    if report.resumed_from > 0 {
        say!(
            "Continued after row {} (imported before).",
            report.resumed_from
        );
    }
    let rows = report.done - report.resumed_from;
    let verb = if report.cancelled {
        "Stopped after"
    } else {
        "Read"
    };
    say!(
        "{verb} {rows} rows: {} new, {} updated, {} unchanged; {} left out.",
        report.created,
        report.updated,
        report.unchanged,
        report.skipped
    );
    print_problems(&report.problems, report.skipped);
    say!("They are sent at the next sync.");
    Ok(ExitCode::SUCCESS)
}

fn print_problems(problems: &[transfer::RowProblem], count: u64) {
    for p in problems {
        if p.row == 0 {
            say_err!("  {}", p.reasons.join("; "));
        } else {
            say_err!("  row {}: {}", p.row, p.reasons.join("; "));
        }
    }
    if count > problems.len() as u64 && problems.first().is_some_and(|p| p.row > 0) {
        say_err!(
            "  … and {} more rows with problems",
            count - problems.len() as u64
        );
    }
}

pub fn export(ctx: &Ctx, args: &ExportArgs) -> anyhow::Result<ExitCode> {
    let col = ctx.store().collection(&args.collection)?;
    let mut q = Query::new(&args.collection);
    q.search = args.search.clone().filter(|s| !s.trim().is_empty());
    if let Some(sort) = &args.sort {
        crate::records::sort_by(&mut q, sort);
    }
    for f in &args.filters {
        let (name, text) = f
            .split_once('=')
            .ok_or_else(|| UsageError(format!("--where {f:?}: give FIELD=VALUE")))?;
        let field = col
            .field(name)
            .ok_or_else(|| UsageError(format!("{} has no field {name:?}", col.label)))?;
        let value = if field.field_type == ferry_core::protocol::FieldType::Tags {
            serde_json::Value::String(text.to_string())
        } else {
            crate::records::parse_value(field, text).map_err(UsageError)?
        };
        q.filters.insert(name.to_string(), value);
    }
    let format = match (args.format, &args.output) {
        (Some(Format::Csv), _) => FileFormat::Csv,
        (Some(Format::Jsonl), _) => FileFormat::Jsonl,
        (None, Some(path)) => FileFormat::of(path),
        (None, None) => FileFormat::Csv,
    };
    match &args.output {
        Some(path) => {
            let report = transfer::export(ctx.store(), &q, format, path)?;
            if ctx.json {
                output::json(&report)?;
            } else {
                say!("Exported {} records to {}.", report.rows, path.display());
            }
        }
        None => {
            // To standard output: through a file, so it is whole or absent.
            let dir = tempfile::tempdir()?;
            let path = dir.path().join(format!("export.{}", format.extension()));
            transfer::export(ctx.store(), &q, format, &path)?;
            let mut file = std::fs::File::open(Path::new(&path))?;
            std::io::copy(&mut file, &mut std::io::stdout().lock())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
