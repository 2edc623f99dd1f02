//! conflicts, resolve.

use std::process::ExitCode;

use clap::{ArgGroup, Args};
use ferry_core::protocol::ConflictKind;
use ferry_core::protocol::merge3::TextPart;
use ferry_core::{FieldChoice, Resolution};

use crate::output::say;
use crate::records::{parse_id, parse_value};
use crate::{Ctx, UsageError, output};

#[derive(Args)]
#[command(group(ArgGroup::new("how").required(true).args(["mine", "theirs", "field", "keep_both", "restore", "accept_delete", "export", "copy", "discard"])))]
pub struct ResolveArgs {
    collection: String,
    id: String,
    /// Take my side.
    #[arg(long)]
    mine: bool,
    /// Take the server's side.
    #[arg(long)]
    theirs: bool,
    /// Per conflicting field: NAME=mine, NAME=theirs, NAME=value:TEXT, or
    /// NAME=file:PATH (the final text, e.g. the merged text of `ferry
    /// conflicts` with its clashes edited; - reads standard input). For a
    /// text, mine and theirs settle only the clashing parts.
    #[arg(long, value_name = "NAME=mine|theirs|value:TEXT|file:PATH")]
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
    /// A record you may no longer see: write your edits to this JSON file;
    /// then it leaves this device.
    #[arg(long, value_name = "FILE")]
    export: Option<std::path::PathBuf>,
    /// A record you may no longer see: your version becomes a new record
    /// (with --set NAME=VALUE over it, e.g. a region you may write).
    #[arg(long)]
    copy: bool,
    /// With --copy: a field value of the new record.
    #[arg(long, value_name = "NAME=VALUE", requires = "copy")]
    set: Vec<String>,
    /// A record you may no longer see: drop your edits.
    #[arg(long)]
    discard: bool,
}

fn kind(k: ConflictKind) -> &'static str {
    match k {
        ConflictKind::EditEdit => "both edited",
        ConflictKind::EditDelete => "you edited, the server deleted",
        ConflictKind::DeleteEdit => "you deleted, the server edited",
        ConflictKind::LostAccess => "you edited a record you may no longer see or change",
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
        if c.kind == ConflictKind::LostAccess {
            for (name, mine) in &c.mine_changes {
                let theirs = c
                    .theirs
                    .fields
                    .get(name)
                    .map(output::value)
                    .unwrap_or_default();
                say!(
                    "  {name}: last seen {theirs:?} · mine {:?}",
                    output::value(mine)
                );
            }
            say!(
                "  keep your edits with --export FILE or --copy [--set NAME=VALUE], or drop them with --discard"
            );
            continue;
        }
        for name in &c.fields {
            let get = |f: &ferry_core::protocol::Fields| {
                f.get(name).map(output::value).unwrap_or_default()
            };
            match c.parts.get(name) {
                Some(parts) => show_parts(name, parts),
                None => say!(
                    "  {name}: base {:?} · mine {:?} · theirs {:?}",
                    get(&c.base),
                    get(&c.mine),
                    get(&c.theirs.fields)
                ),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A text conflict as the merged text, each clashing part between
/// markers as git writes them, so it can be edited and passed back with
/// `--field NAME=file:PATH`.
fn show_parts(name: &str, parts: &[TextPart]) {
    let clashes = parts
        .iter()
        .filter(|p| matches!(p, TextPart::Clash { .. }))
        .count();
    let s = if clashes == 1 { "" } else { "s" };
    say!("  {name}: merged text, {clashes} clashing part{s} (mine, theirs, or edit the text):");
    let mut text = String::new();
    for part in parts {
        match part {
            TextPart::Clean(t) => text.push_str(t),
            TextPart::Clash { mine, theirs, .. } => {
                for (marker, side) in [("<<<<<<< mine\n", mine), ("=======\n", theirs)] {
                    if !text.is_empty() && !text.ends_with('\n') {
                        text.push('\n');
                    }
                    text.push_str(marker);
                    text.push_str(side);
                }
                if !text.ends_with('\n') {
                    text.push('\n');
                }
                text.push_str(">>>>>>> theirs\n");
            }
        }
    }
    for line in text.lines() {
        say!("    | {line}");
    }
}

/// The text of `--field NAME=file:PATH`; `-` is standard input.
fn read_text(path: &str) -> anyhow::Result<String> {
    let text = if path == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(path)
    };
    text.map_err(|e| anyhow::anyhow!("cannot read {path}: {e}"))
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
    } else if let Some(path) = &args.export {
        Resolution::Export { path: path.clone() }
    } else if args.discard {
        Resolution::Discard
    } else if args.copy {
        let col = ctx.store().collection(&args.collection)?;
        let mut set = ferry_core::protocol::Fields::new();
        for s in &args.set {
            let (name, text) = s
                .split_once('=')
                .ok_or_else(|| UsageError(format!("--set {s:?} is not NAME=VALUE")))?;
            let field = col.field(name).ok_or_else(|| {
                anyhow::anyhow!("collection \"{}\" has no field \"{name}\"", col.name)
            })?;
            set.insert(
                name.to_string(),
                parse_value(field, text).map_err(anyhow::Error::msg)?,
            );
        }
        Resolution::CopyAsNew { set }
    } else {
        let col = ctx.store().collection(&args.collection)?;
        let mut choices = Vec::new();
        for f in &args.field {
            let (name, how) = f.split_once('=').ok_or_else(|| {
                UsageError(format!(
                    "--field {f:?} is not NAME=mine|theirs|value:TEXT|file:PATH"
                ))
            })?;
            let choice = match how {
                "mine" => FieldChoice::Mine,
                "theirs" => FieldChoice::Theirs,
                other if other.starts_with("file:") => {
                    let text = read_text(&other["file:".len()..])?;
                    if text.contains("<<<<<<< mine") || text.contains(">>>>>>> theirs") {
                        return Err(UsageError(format!(
                            "the text for {name} still has clash markers (<<<<<<< mine … >>>>>>> theirs): keep what you want and remove them"
                        ))
                        .into());
                    }
                    FieldChoice::Value(serde_json::Value::String(text))
                }
                other => {
                    let text = other.strip_prefix("value:").ok_or_else(|| {
                        UsageError(format!(
                            "--field {name}=…: say mine, theirs, value:TEXT or file:PATH"
                        ))
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
    } else if let Some(path) = &args.export {
        say!(
            "your edits are in {}; the record left this device",
            path.display()
        );
    } else if args.discard {
        say!("your edits were dropped; the record left this device");
    } else {
        say!("resolved; `ferry sync` sends it");
    }
    Ok(ExitCode::SUCCESS)
}
