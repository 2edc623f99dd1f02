//! ls, show, create, set, delete; values parsed by their field's type.

use std::process::ExitCode;

use clap::Args;
use ferry_core::protocol::{Collection, Field, FieldType, Fields};
use ferry_core::{Query, RecordState, SortOrder};
use serde_json::Value;
use uuid::Uuid;

use crate::output::{say, say_err};
use crate::{Ctx, UsageError, output};

#[derive(Args)]
pub struct LsArgs {
    collection: String,
    /// Only records whose text contains these words (prefixes).
    #[arg(long)]
    search: Option<String>,
    /// Sort by this field (default: the title field); prefix with - for descending.
    #[arg(long, allow_hyphen_values = true)]
    sort: Option<String>,
    /// At most this many records.
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Skip this many records first (paging).
    #[arg(long, default_value_t = 0)]
    offset: usize,
}

pub fn parse_id(id: &str) -> anyhow::Result<Uuid> {
    Uuid::parse_str(id)
        .map_err(|_| UsageError(format!("{id:?} is not a record id (a UUID)")).into())
}

/// Parses the text a user typed for a field; an empty text clears it.
pub fn parse_value(field: &Field, text: &str) -> Result<Value, String> {
    let name = &field.name;
    let value = if text.is_empty() {
        Value::Null
    } else {
        match field.field_type {
            FieldType::Number => {
                if let Ok(i) = text.trim().parse::<i64>() {
                    Value::from(i)
                } else {
                    let n: f64 = text
                        .trim()
                        .parse()
                        .map_err(|_| format!("field \"{name}\" must be a number, not {text:?}"))?;
                    serde_json::Number::from_f64(n)
                        .map(Value::Number)
                        .ok_or_else(|| format!("field \"{name}\" must be a finite number"))?
                }
            }
            FieldType::Boolean => match text.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "y" | "1" => Value::Bool(true),
                "false" | "no" | "n" | "0" => Value::Bool(false),
                _ => {
                    return Err(format!(
                        "field \"{name}\" must be true or false, not {text:?}"
                    ));
                }
            },
            FieldType::Tags => Value::Array(
                text.split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(|t| Value::String(t.to_string()))
                    .collect(),
            ),
            FieldType::File => {
                return Err(format!(
                    "field \"{name}\" holds files: use `ferry attach` and `ferry detach`"
                ));
            }
            _ => Value::String(text.to_string()),
        }
    };
    field.check(&value)?;
    Ok(value)
}

/// Parses `FIELD=VALUE` arguments against the collection's schema.
pub fn parse_assignments(collection: &Collection, args: &[String]) -> anyhow::Result<Fields> {
    let mut fields = Fields::new();
    for arg in args {
        let (name, text) = arg
            .split_once('=')
            .ok_or_else(|| UsageError(format!("{arg:?} is not FIELD=VALUE")))?;
        let field = collection.field(name).ok_or_else(|| {
            let names: Vec<&str> = collection.fields.iter().map(|f| f.name.as_str()).collect();
            anyhow::anyhow!(
                "collection \"{}\" has no field \"{name}\" (fields: {})",
                collection.name,
                names.join(", ")
            )
        })?;
        fields.insert(
            name.to_string(),
            parse_value(field, text).map_err(anyhow::Error::msg)?,
        );
    }
    Ok(fields)
}

fn state_mark(state: RecordState) -> &'static str {
    match state {
        RecordState::Synced => "",
        RecordState::Pending => " [pending]",
        RecordState::Conflict => " [conflict]",
        RecordState::Rejected => " [rejected]",
    }
}

/// `--sort FIELD` (ascending) or `--sort -FIELD` (descending).
pub fn sort_by(q: &mut Query, sort: &str) {
    match sort.strip_prefix('-') {
        Some(field) => {
            q.sort = Some(field.to_string());
            q.order = SortOrder::Descending;
        }
        None => q.sort = Some(sort.to_string()),
    }
}

pub fn ls(ctx: &Ctx, args: &LsArgs) -> anyhow::Result<ExitCode> {
    let collection = ctx.store().collection(&args.collection)?;
    let mut q = Query::new(&args.collection);
    q.search = args.search.clone();
    if let Some(sort) = &args.sort {
        sort_by(&mut q, sort);
    }
    q.limit = args.limit.max(1);
    q.offset = args.offset;
    let page = ctx.store().query(&q)?;
    if ctx.json {
        output::json(&page)?;
        return Ok(ExitCode::SUCCESS);
    }
    for r in &page.records {
        let mut line = format!(
            "{}  {}{}",
            r.id,
            output::title(&r.fields, Some(&collection)),
            state_mark(r.state)
        );
        if let Some(e) = &r.error {
            line.push_str(&format!(" — {}", e.message));
        }
        say!("{line}");
    }
    if page.has_more {
        say!("… more: --offset {}", args.offset + page.records.len());
    }
    // Said on stderr: a script reading the list still gets nothing.
    if page.records.is_empty() {
        let name = &args.collection;
        match (&args.search, args.offset) {
            (Some(s), _) if !s.trim().is_empty() => {
                say_err!("no records in \"{name}\" match \"{}\"", s.trim())
            }
            (_, 0) => say_err!("\"{name}\" holds no records here"),
            (_, offset) => say_err!("no records in \"{name}\" past --offset {offset}"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn show(ctx: &Ctx, collection: &str, id: &str) -> anyhow::Result<ExitCode> {
    let id = parse_id(id)?;
    let record = ctx.store().record(collection, id)?;
    if ctx.json {
        output::json(&record)?;
        return Ok(ExitCode::SUCCESS);
    }
    let col = ctx.store().collection(collection).ok();
    say!("{} {}{}", collection, record.id, state_mark(record.state));
    if record.deleted {
        say!("  (deleted)");
    }
    output::fields(&record.fields, col.as_ref());
    match &record.base {
        Some(b) => say!(
            "  version {} by {} at {}",
            b.version,
            b.updated_by,
            b.updated_at
        ),
        None => say!("  not on the server yet"),
    }
    if let Some(e) = &record.error {
        say!("  refused by the server: {}", e.message);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn create(ctx: &Ctx, collection: &str, values: &[String]) -> anyhow::Result<ExitCode> {
    let col = ctx.store().collection(collection)?;
    let fields = parse_assignments(&col, values)?;
    let id = ctx.client.create(collection, fields)?.id;
    if ctx.json {
        output::json(&serde_json::json!({"id": id}))?;
    } else {
        say!("{id}");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn set(ctx: &Ctx, collection: &str, id: &str, values: &[String]) -> anyhow::Result<ExitCode> {
    let id = parse_id(id)?;
    let col = ctx.store().collection(collection)?;
    let fields = parse_assignments(&col, values)?;
    let record = ctx.client.update(collection, id, fields)?;
    if ctx.json {
        output::json(&record)?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn delete(ctx: &Ctx, collection: &str, id: &str) -> anyhow::Result<ExitCode> {
    let id = parse_id(id)?;
    ctx.client.delete(collection, id)?;
    if ctx.json {
        output::json(&serde_json::json!({"deleted": id}))?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(t: FieldType) -> Field {
        Field {
            name: "f".into(),
            label: "F".into(),
            field_type: t,
            required: false,
            options: None,
            merge: None,
            multiple: false,
            max_size: None,
            accept: None,
        }
    }

    #[test]
    fn values_are_parsed_by_type_and_bad_ones_name_the_field() {
        assert_eq!(
            parse_value(&field(FieldType::Number), "2").expect("int"),
            Value::from(2)
        );
        assert_eq!(
            parse_value(&field(FieldType::Number), "2.5").expect("float"),
            Value::from(2.5)
        );
        assert_eq!(
            parse_value(&field(FieldType::Boolean), "yes").expect("bool"),
            Value::Bool(true)
        );
        assert_eq!(
            parse_value(&field(FieldType::Tags), "a, b").expect("tags"),
            serde_json::json!(["a", "b"])
        );
        assert_eq!(
            parse_value(&field(FieldType::Text), "").expect("clear"),
            Value::Null
        );
        let err = parse_value(&field(FieldType::Date), "tomorrow").expect_err("bad date");
        assert!(err.contains("\"f\""), "{err}");
        assert!(
            parse_value(&field(FieldType::Number), "lots")
                .expect_err("nan")
                .contains("\"f\"")
        );
    }
}
