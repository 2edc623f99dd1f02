//! Printing: one place decides between human text and `--json`.
//!
//! Human text goes through [`say!`] and [`say_err!`], which show control
//! characters escaped: record values and server messages come from other
//! people, and a terminal obeys escape sequences (clipboard writes, screen
//! clears, fake prompts). JSON output is escaped by serde.

use std::borrow::Cow;

use ferry_core::protocol::{Collection, Fields};
use serde::Serialize;
use serde_json::Value;

/// Prints a line of human text, control characters escaped.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::output::line(&$crate::output::safe(&format!($($arg)*)))
    };
}

/// Like [`say!`], on standard error.
macro_rules! say_err {
    ($($arg:tt)*) => {
        eprintln!("{}", $crate::output::safe(&format!($($arg)*)))
    };
}

pub(crate) use {say, say_err};

/// Whether a terminal could act on `c` rather than show it: C0 and C1
/// controls other than newline and tab, and the bidirectional overrides
/// that make text read differently from what it is.
fn unsafe_char(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every character a terminal could act on written as `\u{…}`.
pub fn safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if unsafe_char(c) {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// Writes a line to standard output. When the reader has gone (`ferry ls |
/// head`), ferry ends quietly with the status of a tool killed by SIGPIPE
/// (141); the profile is left as after a crash, which loses nothing.
pub fn line(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}") {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(141);
        }
        eprintln!("ferry: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}

/// Prints `value` as JSON.
pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    line(&serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A field value as a person reads it.
pub fn value(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(value).collect::<Vec<_>>().join(", "),
        // An attached file: its name and size.
        Value::Object(file) if file.get("name").is_some_and(Value::is_string) => format!(
            "{} ({})",
            value(&file["name"]),
            crate::files::human_size(file.get("size").and_then(Value::as_u64).unwrap_or(0))
        ),
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
            say!(
                "  {:<12} {}",
                format!("{}:", f.name),
                fields.get(&f.name).map(value).unwrap_or_default()
            );
            shown.push(f.name.as_str());
        }
    }
    for (k, v) in fields.iter().filter(|(k, _)| !shown.contains(&k.as_str())) {
        say!("  {:<12} {}", format!("{k}:"), value(v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_codes_are_shown_not_obeyed() {
        assert_eq!(
            safe("plain text, accents é, emoji 🚢"),
            "plain text, accents é, emoji 🚢"
        );
        assert_eq!(safe("two\nlines\tand a tab"), "two\nlines\tand a tab");
        assert_eq!(
            safe("\u{1b}]52;c;ZXZpbA==\u{7}"),
            "\\u{1b}]52;c;ZXZpbA==\\u{7}"
        );
        assert_eq!(safe("\u{1b}[2J\r"), "\\u{1b}[2J\\u{d}");
        assert_eq!(safe("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(safe("abc\u{202e}fed"), "abc\\u{202e}fed");
    }
}
