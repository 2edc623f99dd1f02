//! attach, detach, fetch: files on records.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use ferry_core::protocol::FileRef;

use crate::output::say;
use crate::records::parse_id;
use crate::{Ctx, UsageError, output};

#[derive(Args)]
pub struct AttachArgs {
    collection: String,
    id: String,
    /// The file field.
    field: String,
    /// Files to attach (copied into the profile: usable offline at once,
    /// sent before the change at the next sync).
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

#[derive(Args)]
pub struct DetachArgs {
    collection: String,
    id: String,
    field: String,
    /// Files to remove, by name or by SHA-256 (its first 8 or more digits).
    #[arg(required = true)]
    files: Vec<String>,
}

#[derive(Args)]
pub struct FetchArgs {
    collection: String,
    id: String,
    field: String,
    /// Copy the files into this folder (default: the current folder).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// A file's size for people: "812 B", "3.4 kB", "12.0 MB".
pub fn human_size(bytes: u64) -> String {
    let b = bytes as f64;
    if bytes < 1000 {
        format!("{bytes} B")
    } else if b < 1e6 {
        format!("{:.1} kB", b / 1e3)
    } else if b < 1e9 {
        format!("{:.1} MB", b / 1e6)
    } else {
        format!("{:.1} GB", b / 1e9)
    }
}

fn list(ctx: &Ctx, files: &[FileRef]) {
    for f in files {
        let state = match ctx.store().file(&f.sha256) {
            Ok(Some(l)) if l.upload.as_deref() == Some("failed") => format!(
                "not sent: {}",
                l.error.unwrap_or_else(|| "unknown error".into())
            ),
            Ok(Some(l)) if l.upload.is_some() => "waiting to be sent".to_string(),
            Ok(Some(l)) if l.present => "here".to_string(),
            _ => "on the server".to_string(),
        };
        say!(
            "{}  {}  {}  {}  ({state})",
            &f.sha256[..12.min(f.sha256.len())],
            human_size(f.size),
            f.mime,
            f.name
        );
    }
}

pub fn attach(ctx: &Ctx, args: &AttachArgs) -> anyhow::Result<ExitCode> {
    let id = parse_id(&args.id)?;
    for f in &args.files {
        if !f.is_file() {
            return Err(UsageError(format!("{} is not a file", f.display())).into());
        }
    }
    let record = ctx
        .client
        .attach(&args.collection, id, &args.field, &args.files)?;
    let files = FileRef::list(record.fields.get(&args.field));
    if ctx.json {
        output::json(&files)?;
    } else {
        list(ctx, &files);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn detach(ctx: &Ctx, args: &DetachArgs) -> anyhow::Result<ExitCode> {
    let id = parse_id(&args.id)?;
    let record = ctx
        .client
        .detach(&args.collection, id, &args.field, &args.files)?;
    let files = FileRef::list(record.fields.get(&args.field));
    if ctx.json {
        output::json(&files)?;
    } else if files.is_empty() {
        say!("field \"{}\" holds no files now", args.field);
    } else {
        list(ctx, &files);
    }
    Ok(ExitCode::SUCCESS)
}

/// A name for `name` in `dir` that no other file of this fetch took.
fn unique_in(dir: &Path, name: &str, taken: &mut std::collections::HashSet<String>) -> PathBuf {
    let safe: String = Path::new(name)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty() && n != ".." && n != ".")
        .unwrap_or_else(|| "file".into());
    let (stem, ext) = match safe.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s.to_string(), format!(".{e}")),
        _ => (safe.clone(), String::new()),
    };
    let mut candidate = safe;
    let mut n = 1;
    while !taken.insert(candidate.clone()) {
        n += 1;
        candidate = format!("{stem} ({n}){ext}");
    }
    dir.join(candidate)
}

pub async fn fetch(ctx: &Ctx, args: &FetchArgs) -> anyhow::Result<ExitCode> {
    let id = parse_id(&args.id)?;
    let fetched = ctx
        .client
        .fetch_files(&args.collection, id, &args.field)
        .await?;
    let mut out = Vec::new();
    let mut taken = std::collections::HashSet::new();
    // The kept copies are named by hash (and sealed in an encrypted profile): people get plain, named copies.
    let dir = args.out.clone().unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    let files = ctx.client.files();
    for (file, kept) in fetched {
        let path = unique_in(&dir, &file.name, &mut taken);
        files.copy_out(&kept, &path)?;
        out.push(serde_json::json!({"name": file.name, "sha256": file.sha256, "size": file.size, "path": path}));
        if !ctx.json {
            say!(
                "{}  {}  {}",
                human_size(file.size),
                file.name,
                path.display()
            );
        }
    }
    if ctx.json {
        output::json(&out)?;
    } else if out.is_empty() {
        say!("field \"{}\" holds no files", args.field);
    }
    Ok(ExitCode::SUCCESS)
}
