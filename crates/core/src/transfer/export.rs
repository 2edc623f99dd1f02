//! Writing the records a query matches to CSV or JSON lines.

use std::io::Write;
use std::path::Path;

use serde_json::{Map, Value};

use super::values::cell_text;
use super::{ExportReport, FileFormat};
use crate::error::{Error, Result};
use crate::store::{LocalStore, Query};

/// Writes every record `q` matches (limit and offset aside), in its order,
/// to `path`: a header row of `id` and the field names, then one row per
/// record (CSV, RFC 4180, UTF-8), or one object per line (JSON lines,
/// values as stored). The file appears whole or not at all: it is written
/// beside its place and renamed into it.
pub fn export(
    store: &LocalStore,
    q: &Query,
    format: FileFormat,
    path: &Path,
) -> Result<ExportReport> {
    let col = store.collection(&q.collection)?;
    let io = |e: std::io::Error| Error::Io {
        context: format!("cannot write {}", path.display()),
        source: e,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let tmp = tempfile::NamedTempFile::new_in(&dir).map_err(io)?;
    let mut out = std::io::BufWriter::new(tmp);
    let names: Vec<&str> = col.fields.iter().map(|f| f.name.as_str()).collect();
    let mut rows = 0u64;
    match format {
        FileFormat::Csv => {
            let mut w = csv::WriterBuilder::new().from_writer(&mut out);
            let header = std::iter::once("id").chain(names.iter().copied());
            w.write_record(header).map_err(|e| io(e.into()))?;
            store.each(q, |r| {
                let cells = std::iter::once(r.id.to_string()).chain(
                    names
                        .iter()
                        .map(|n| cell_text(r.fields.get(*n).unwrap_or(&Value::Null))),
                );
                w.write_record(cells).map_err(|e| io(e.into()))?;
                rows += 1;
                Ok(())
            })?;
            w.flush().map_err(io)?;
        }
        FileFormat::Jsonl => {
            store.each(q, |r| {
                let mut o = Map::new();
                o.insert("id".into(), Value::String(r.id.to_string()));
                for n in &names {
                    if let Some(v) = r.fields.get(*n).filter(|v| !v.is_null()) {
                        o.insert((*n).to_string(), v.clone());
                    }
                }
                serde_json::to_writer(&mut out, &o)
                    .map_err(|e| Error::Inconsistent(format!("a record as JSON: {e}")))?;
                out.write_all(b"\n").map_err(io)?;
                rows += 1;
                Ok(())
            })?;
        }
    }
    let tmp = out.into_inner().map_err(|e| io(e.into_error()))?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(ExportReport {
        path: path.display().to_string(),
        format,
        rows,
    })
}
