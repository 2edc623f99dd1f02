//! Printing: one place decides between human text and `--json`.

use ferry_core::protocol::{Collection, Fields};
use serde::Serialize;
use serde_json::Value;

/// Prints `value` as JSON.
pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A field value as a person reads it.
pub fn value(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(value).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// The record's title: its title field, or its id.
pub fn title(fields: &Fields, collection: Option<&Collection>) -> String {
    collection
        .and_then(|c| fields.get(&c.title_field))
        .map(value)
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "(untitled)".to_string())
}

/// One line per field, in schema order, then any values the schema no longer lists.
pub fn fields(fields: &Fields, collection: Option<&Collection>) {
    let mut shown = Vec::new();
    if let Some(c) = collection {
        for f in &c.fields {
            println!(
                "  {:<12} {}",
                format!("{}:", f.name),
                fields.get(&f.name).map(value).unwrap_or_default()
            );
            shown.push(f.name.as_str());
        }
    }
    for (k, v) in fields.iter().filter(|(k, _)| !shown.contains(&k.as_str())) {
        println!("  {:<12} {}", format!("{k}:"), value(v));
    }
}
