//! conflicts, resolve.

use std::process::ExitCode;

use clap::{ArgGroup, Args};
use ferry_core::protocol::ConflictKind;
use ferry_core::{FieldChoice, Resolution};

use crate::output::say;
use crate::records::{parse_id, parse_value};
use crate::{Ctx, UsageError, output};

#[derive(Args)]
#[command(group(ArgGroup::new("how").required(true).args(["mine", "theirs", "field", "keep_both", "restore", "accept_delete"])))]
pub struct ResolveArgs {
    collection: String,
    id: String,
    /// Take my side.
    #[arg(long)]
    mine: bool,
    /// Take the server's side.
    #[arg(long)]
    theirs: bool,
    /// Per conflicting field: NAME=mine, NAME=theirs or NAME=value:TEXT.
    #[arg(long, value_name = "NAME=mine|theirs|value:TEXT")]
    field: Vec<String>,
    /// Keep both: my version becomes a new record.
    #[arg(long)]
    keep_both: bool,
    /// Keep the record (with my changes, or the server's edit).
    #[arg(long)]
    restore: bool,
    /// Let the record be deleted.
    #[arg(long)]
    accept_delete: bool,
}

fn kind(k: ConflictKind) -> &'static str {
    match k {
        ConflictKind::EditEdit => "both edited",
        ConflictKind::EditDelete => "you edited, the server deleted",
        ConflictKind::DeleteEdit => "you deleted, the server edited",
    }
}

pub fn list(ctx: &Ctx) -> anyhow::Result<ExitCode> {
    let conflicts = ctx.store().conflicts()?;
    if ctx.json {
        output::json(&conflicts)?;
        return Ok(ExitCode::SUCCESS);
    }
    if conflicts.is_empty() {
        say!("no conflicts");
    }
    for c in &conflicts {
        let col = ctx.store().collection(&c.collection).ok();
        say!(
            "{} {}  {} ({})",
            c.collection,
            c.record_id,
            output::title(&c.mine, col.as_ref()),
            kind(c.kind)
        );
        for name in &c.fields {
            let get = |f: &ferry_core::protocol::Fields| {
                f.get(name).map(output::value).unwrap_or_default()
            };
            say!(
                "  {name}: base {:?} · mine {:?} · theirs {:?}",
                get(&c.base),
                get(&c.mine),
                get(&c.theirs.fields)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn resolve(ctx: &Ctx, args: &ResolveArgs) -> anyhow::Result<ExitCode> {
    let id = parse_id(&args.id)?;
    let resolution = if args.mine {
        Resolution::Mine
    } else if args.theirs {
        Resolution::Theirs
    } else if args.keep_both {
        Resolution::KeepBoth
    } else if args.restore {
        Resolution::Restore
    } else if args.accept_delete {
        Resolution::AcceptDelete
    } else {
        let col = ctx.store().collection(&args.collection)?;
        let mut choices = Vec::new();
        for f in &args.field {
            let (name, how) = f.split_once('=').ok_or_else(|| {
                UsageError(format!("--field {f:?} is not NAME=mine|theirs|value:TEXT"))
            })?;
            let choice = match how {
                "mine" => FieldChoice::Mine,
                "theirs" => FieldChoice::Theirs,
                other => {
                    let text = other.strip_prefix("value:").ok_or_else(|| {
                        UsageError(format!("--field {name}=…: say mine, theirs or value:TEXT"))
                    })?;
                    let field = col.field(name).ok_or_else(|| {
                        anyhow::anyhow!("collection \"{}\" has no field \"{name}\"", col.name)
                    })?;
                    FieldChoice::Value(parse_value(field, text).map_err(anyhow::Error::msg)?)
                }
            };
            choices.push((name.to_string(), choice));
        }
        Resolution::Fields(choices)
    };
    let copy = ctx.client.resolve(&args.collection, id, &resolution)?.copy;
    if ctx.json {
        output::json(&serde_json::json!({"resolved": id, "copy": copy}))?;
    } else if let Some(copy) = copy {
        say!("resolved; your version is now record {copy}; `ferry sync` sends it");
    } else {
        say!("resolved; `ferry sync` sends it");
    }
    Ok(ExitCode::SUCCESS)
}
