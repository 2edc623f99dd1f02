//! outbox, export-outbox, import-outbox.

use std::path::Path;
use std::process::ExitCode;

use ferry_core::protocol::Op;

use crate::output::say;
use crate::{Ctx, output};

pub fn list(ctx: &Ctx) -> anyhow::Result<ExitCode> {
    let entries = ctx.store().outbox(usize::MAX)?;
    if ctx.json {
        output::json(&entries)?;
        return Ok(ExitCode::SUCCESS);
    }
    if entries.is_empty() {
        say!("the outbox is empty");
    }
    for e in &entries {
        let m = &e.mutation;
        let what = match (m.op, m.base_version) {
            (Op::Delete, _) => "delete".to_string(),
            (Op::Put, None) => "create".to_string(),
            (Op::Put, Some(_)) => {
                let names: Vec<&str> = m.fields.keys().map(String::as_str).collect();
                format!("set {}", names.join(", "))
            }
        };
        let flight = if e.in_flight {
            " (sent, awaiting answer)"
        } else {
            ""
        };
        say!(
            "{} {} {}  {what}{flight}",
            e.created_at,
            m.collection,
            m.record_id
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn export(ctx: &Ctx, file: &Path) -> anyhow::Result<ExitCode> {
    let n = ctx.store().export_outbox(file)?;
    if ctx.json {
        output::json(&serde_json::json!({"exported": n, "file": file}))?;
    } else {
        say!("saved {n} unsent edit(s) to {}", file.display());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn import(ctx: &Ctx, file: &Path) -> anyhow::Result<ExitCode> {
    let n = ctx.store().import_outbox(file)?;
    if ctx.json {
        output::json(&serde_json::json!({"imported": n}))?;
    } else {
        say!("added {n} edit(s) to the outbox; `ferry sync` sends them");
    }
    Ok(ExitCode::SUCCESS)
}
