//! A cell of a file as a field's value, and a field's value as a cell.

use ferry_protocol::{Field, FieldType};
use serde_json::{Value, json};

use super::TAG_SEPARATOR;

/// A cell read from a file (CSV: always text; JSON lines: any JSON value)
/// as the value of `field`. Empty cells are `None` (the field is not set).
pub(crate) fn cell_value(field: &Field, cell: &Value) -> Result<Option<Value>, String> {
    let value = match cell {
        Value::Null => return Ok(None),
        Value::String(s) if s.trim().is_empty() => return Ok(None),
        Value::String(s) => from_text(field, s)?,
        Value::Array(_) | Value::Bool(_) | Value::Number(_) => cell.clone(),
        Value::Object(_) => {
            return Err(format!("{}: an object is not a value", field.label));
        }
    };
    field
        .check(&value)
        .map_err(|e| format!("{}: {e}", field.label))?;
    Ok(Some(value))
}

fn from_text(field: &Field, s: &str) -> Result<Value, String> {
    let t = s.trim();
    let bad = |what: &str| format!("{}: \"{t}\" is not {what}", field.label);
    Ok(match field.field_type {
        FieldType::Text | FieldType::Longtext => json!(s),
        FieldType::Number => {
            let n: f64 = t.parse().map_err(|_| bad("a number"))?;
            if !n.is_finite() {
                return Err(bad("a number"));
            }
            // Whole numbers stay integers, as people type them.
            if n.fract() == 0.0 && n.abs() < 9.0e15 && !t.contains(['.', 'e', 'E']) {
                json!(n as i64)
            } else {
                json!(n)
            }
        }
        FieldType::Boolean => match t.to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "1" => json!(true),
            "false" | "no" | "n" | "0" => json!(false),
            _ => return Err(bad("yes or no (true/false, yes/no, 1/0)")),
        },
        FieldType::Date => {
            // A timestamp's date is the date (spreadsheets add midnight).
            let d = t.split(['T', ' ']).next().unwrap_or(t);
            if chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err() {
                return Err(bad("a date in the form YYYY-MM-DD"));
            }
            json!(d)
        }
        FieldType::Datetime => {
            let parsed = chrono::DateTime::parse_from_rfc3339(t)
                .or_else(|_| chrono::DateTime::parse_from_rfc3339(&t.replacen(' ', "T", 1)));
            match parsed {
                Ok(d) => json!(d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
                Err(_) => return Err(bad("a date and time such as 2026-11-26T09:30:00Z")),
            }
        }
        FieldType::Choice => {
            let options = field.options.as_deref().unwrap_or_default();
            match options.iter().find(|o| o.eq_ignore_ascii_case(t)) {
                Some(o) => json!(o),
                None => {
                    return Err(format!(
                        "{}: \"{t}\" is not one of {}",
                        field.label,
                        options.join(", ")
                    ));
                }
            }
        }
        FieldType::Tags => {
            // "a; b" as exported; "a, b" as people often type.
            let sep = if t.contains(';') { ';' } else { ',' };
            let mut tags: Vec<String> = Vec::new();
            for tag in t.split(sep).map(str::trim).filter(|x| !x.is_empty()) {
                if !tags.iter().any(|x| x == tag) {
                    tags.push(tag.to_string());
                }
            }
            json!(tags)
        }
        FieldType::File => {
            return Err(format!(
                "{}: files cannot come from a text cell; attach them to the records",
                field.label
            ));
        }
    })
}

/// A field's value as one CSV cell: text as is, numbers and booleans as
/// JSON writes them, dates as stored (ISO), tags joined by [`TAG_SEPARATOR`].
pub(crate) fn cell_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(cell_text)
            .collect::<Vec<_>>()
            .join(TAG_SEPARATOR),
        // An attached file: its name (the bytes are not in the export).
        Value::Object(file) if file.get("name").is_some_and(Value::is_string) => {
            cell_text(&file["name"])
        }
        other => other.to_string(),
    }
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
            options: (t == FieldType::Choice).then(|| vec!["Open".into(), "Done".into()]),
            merge: None,
            multiple: false,
            max_size: None,
            accept: None,
        }
    }

    #[test]
    fn cells_become_values_of_their_field() {
        let ok: &[(FieldType, Value, Value)] = &[
            (FieldType::Text, json!(" Ada "), json!(" Ada ")),
            (FieldType::Number, json!("42"), json!(42)),
            (FieldType::Number, json!("-1.5"), json!(-1.5)),
            (FieldType::Number, json!(7), json!(7)),
            (FieldType::Boolean, json!("Yes"), json!(true)),
            (FieldType::Boolean, json!("0"), json!(false)),
            (FieldType::Date, json!("2026-02-28"), json!("2026-02-28")),
            (
                FieldType::Date,
                json!("2026-02-28T00:00:00"),
                json!("2026-02-28"),
            ),
            (
                FieldType::Datetime,
                json!("2026-11-26 09:30:00Z"),
                json!("2026-11-26T09:30:00Z"),
            ),
            (FieldType::Choice, json!("done"), json!("Done")),
            (FieldType::Tags, json!("a; b;a"), json!(["a", "b"])),
            (FieldType::Tags, json!("x, y"), json!(["x", "y"])),
            (FieldType::Tags, json!(["x"]), json!(["x"])),
        ];
        for (t, cell, want) in ok {
            assert_eq!(
                cell_value(&field(*t), cell).as_ref(),
                Ok(&Some(want.clone())),
                "{t:?} {cell}"
            );
        }
        assert_eq!(cell_value(&field(FieldType::Number), &json!(" ")), Ok(None));
        assert_eq!(cell_value(&field(FieldType::Text), &Value::Null), Ok(None));
    }

    #[test]
    fn bad_cells_say_which_field_and_why() {
        let bad: &[(FieldType, Value, &str)] = &[
            (
                FieldType::Number,
                json!("abc"),
                "F: \"abc\" is not a number",
            ),
            (FieldType::Number, json!("NaN"), "is not a number"),
            (FieldType::Boolean, json!("maybe"), "is not yes or no"),
            (FieldType::Date, json!("02/28/2026"), "YYYY-MM-DD"),
            (FieldType::Date, json!("2026-02-30"), "YYYY-MM-DD"),
            (
                FieldType::Choice,
                json!("Later"),
                "is not one of Open, Done",
            ),
            (FieldType::Text, json!(3), "F:"),
            (FieldType::Text, json!({"a": 1}), "an object is not a value"),
        ];
        for (t, cell, want) in bad {
            match cell_value(&field(*t), cell) {
                Err(e) => assert!(e.contains(want), "{t:?} {cell}: {e}"),
                Ok(v) => panic!("{t:?} {cell} took {v:?}"),
            }
        }
    }

    #[test]
    fn values_become_cells() {
        assert_eq!(cell_text(&json!(["a", "b c"])), "a; b c");
        assert_eq!(cell_text(&json!(1.5)), "1.5");
        assert_eq!(cell_text(&json!(true)), "true");
        assert_eq!(cell_text(&Value::Null), "");
        assert_eq!(cell_text(&json!("2026-01-02")), "2026-01-02");
    }
}
