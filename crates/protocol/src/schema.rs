//! Collections, their fields, and the rules a field value must follow.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Fields;

/// `GET /v1/schema`: the collections the user may read.
///
/// ```
/// # use ferry_protocol::SchemaResponse;
/// let json = r#"{"collections":[{"name":"tasks","label":"Tasks","title_field":"title","policy":"manual","access":"write","fields":[{"name":"title","label":"Title","type":"text","required":true},{"name":"status","label":"Status","type":"choice","required":false,"options":["todo","doing","done"]}]}]}"#;
/// let v: SchemaResponse = serde_json::from_str(json).unwrap();
/// assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SchemaResponse {
    pub collections: Vec<Collection>,
}

/// A named set of records with ordered fields; `title_field` names the field
/// shown as the record's title.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Collection {
    pub name: String,
    pub label: String,
    pub title_field: String,
    pub policy: Policy,
    /// What the requesting user may do with it.
    pub access: Access,
    pub fields: Vec<Field>,
    /// Set when the collection is partitioned by a field and the user's
    /// rows are limited (an addition): which values they may read and
    /// write. Absent: the whole collection, as `access` says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<Rows>,
}

/// The partition values of a collection a user may read and write.
/// `read`/`write` absent: every value; empty: none.
///
/// ```
/// # use ferry_protocol::Rows;
/// let json = r#"{"field":"region","read":["north","east"],"write":["north"]}"#;
/// let v: Rows = serde_json::from_str(json).unwrap();
/// assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// ```
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rows {
    /// The field whose value places a record in a partition.
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write: Option<Vec<String>>,
}

impl Rows {
    /// Whether a record whose partition field holds `value` (text, choice
    /// or tags) is among `values` (`None`: all).
    pub fn admits(values: Option<&[String]>, value: Option<&Value>) -> bool {
        let Some(values) = values else {
            return true;
        };
        partition_values(value).iter().any(|v| values.contains(v))
    }
}

/// The partition values a field value places a record in: a text or
/// choice is one value, tags one per tag, anything else (null) none.
pub fn partition_values(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => {
            let mut out: Vec<String> = items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            out.sort();
            out.dedup();
            out
        }
        _ => Vec::new(),
    }
}

impl Collection {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// How the server settles two edits of the same field.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Report a conflict for a person to resolve.
    #[default]
    Manual,
    /// The edit with the later HLC stamp wins.
    NewestWins,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Access {
    Read,
    Write,
}

/// One field of a collection.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Field {
    pub name: String,
    pub label: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    #[serde(default)]
    pub required: bool,
    /// The allowed values of a `choice` field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
    /// How two edits of this field meet; absent means the default for its
    /// type ([`Field::merge_kind`]). Servers older than merge kinds leave it
    /// out and merge every field `whole`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<MergeKind>,
}

/// How the server merges two edits of one field made from the same base
/// (DESIGN.md, "Merge rules").
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MergeKind {
    /// A list of tags: both sides' additions and removals apply; never a conflict.
    Set,
    /// A text: merged by lines and words; only overlapping changes conflict.
    Text,
    /// The value as a whole: two different changes conflict.
    Whole,
}

impl MergeKind {
    /// The kind a field of this type gets when the schema names none.
    pub fn default_for(t: FieldType) -> MergeKind {
        match t {
            FieldType::Tags => MergeKind::Set,
            FieldType::Longtext => MergeKind::Text,
            _ => MergeKind::Whole,
        }
    }

    /// Its name in the schema and on the wire.
    pub fn name(self) -> &'static str {
        match self {
            MergeKind::Set => "set",
            MergeKind::Text => "text",
            MergeKind::Whole => "whole",
        }
    }

    /// Whether a field of type `t` may be merged this way.
    pub fn fits(self, t: FieldType) -> bool {
        match self {
            MergeKind::Whole => true,
            MergeKind::Set => t == FieldType::Tags,
            MergeKind::Text => matches!(t, FieldType::Text | FieldType::Longtext),
        }
    }
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    Longtext,
    Number,
    Boolean,
    /// `YYYY-MM-DD`.
    Date,
    /// RFC 3339.
    Datetime,
    /// One of the field's `options`.
    Choice,
    /// An array of strings.
    Tags,
}

impl Field {
    /// How edits of this field merge: the schema's `merge`, or the default
    /// for its type.
    pub fn merge_kind(&self) -> MergeKind {
        self.merge
            .unwrap_or_else(|| MergeKind::default_for(self.field_type))
    }

    /// Checks one value against this field; the error is a sentence naming
    /// the field. `null` is allowed unless the field is required.
    pub fn check(&self, value: &Value) -> Result<(), String> {
        let name = &self.name;
        let ok = match (self.field_type, value) {
            (_, Value::Null) => {
                return if self.required {
                    Err(format!("field \"{name}\" is required"))
                } else {
                    Ok(())
                };
            }
            (FieldType::Text | FieldType::Longtext, Value::String(s)) => {
                if self.required && s.trim().is_empty() {
                    return Err(format!("field \"{name}\" is required"));
                }
                true
            }
            (FieldType::Number, Value::Number(n)) => n.as_f64().is_some_and(f64::is_finite),
            (FieldType::Boolean, Value::Bool(_)) => true,
            (FieldType::Date, Value::String(s)) => {
                s.len() == 10 && chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
            }
            (FieldType::Datetime, Value::String(s)) => {
                chrono::DateTime::parse_from_rfc3339(s).is_ok()
            }
            (FieldType::Choice, Value::String(s)) => {
                let options = self.options.as_deref().unwrap_or_default();
                if !options.iter().any(|o| o == s) {
                    return Err(format!(
                        "field \"{name}\" must be one of: {}",
                        options.join(", ")
                    ));
                }
                true
            }
            (FieldType::Tags, Value::Array(items)) => items.iter().all(Value::is_string),
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "field \"{name}\" must be {}",
                self.field_type.describe()
            ))
        }
    }
}

impl FieldType {
    /// What a value of this type looks like, for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Longtext => "text",
            FieldType::Number => "a number",
            FieldType::Boolean => "true or false",
            FieldType::Date => "a date (YYYY-MM-DD)",
            FieldType::Datetime => "a date and time (RFC 3339, e.g. 2026-11-26T09:30:00Z)",
            FieldType::Choice => "one of the field's options",
            FieldType::Tags => "a list of text tags",
        }
    }
}

impl Collection {
    /// Checks changed fields against the schema: every name must be a field
    /// and every value valid for it.
    pub fn check_fields(&self, values: &Fields) -> Result<(), String> {
        check_fields(&self.name, &self.fields, values)
    }

    /// Checks that a whole record has every required field.
    pub fn check_required(&self, values: &Fields) -> Result<(), String> {
        check_required(&self.fields, values)
    }
}

/// Checks changed values against the fields of `collection`: every name must
/// be a field and every value valid for it.
pub fn check_fields(collection: &str, fields: &[Field], values: &Fields) -> Result<(), String> {
    for (name, value) in values {
        let field = fields
            .iter()
            .find(|f| &f.name == name)
            .ok_or_else(|| format!("collection \"{collection}\" has no field \"{name}\""))?;
        field.check(value)?;
    }
    Ok(())
}

/// Checks that a whole record's values hold every required field.
pub fn check_required(fields: &[Field], values: &Fields) -> Result<(), String> {
    for field in fields.iter().filter(|f| f.required) {
        field.check(values.get(&field.name).unwrap_or(&Value::Null))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(field_type: FieldType, required: bool) -> Field {
        Field {
            name: "f".into(),
            label: "F".into(),
            field_type,
            required,
            options: (field_type == FieldType::Choice).then(|| vec!["a".into(), "b".into()]),
            merge: None,
        }
    }

    #[test]
    fn each_type_accepts_its_values_and_refuses_others() {
        let cases: &[(FieldType, Value, bool)] = &[
            (FieldType::Text, json!("hi"), true),
            (FieldType::Text, json!(1), false),
            (FieldType::Longtext, json!("a\nb"), true),
            (FieldType::Number, json!(1.5), true),
            (FieldType::Number, json!("1"), false),
            (FieldType::Boolean, json!(true), true),
            (FieldType::Boolean, json!(0), false),
            (FieldType::Date, json!("2026-02-28"), true),
            (FieldType::Date, json!("2026-02-30"), false),
            (FieldType::Date, json!("2026-2-3"), false),
            (FieldType::Datetime, json!("2026-11-26T09:30:00Z"), true),
            (FieldType::Datetime, json!("2026-11-26 09:30"), false),
            (FieldType::Choice, json!("a"), true),
            (FieldType::Choice, json!("c"), false),
            (FieldType::Tags, json!(["x", "y"]), true),
            (FieldType::Tags, json!(["x", 1]), false),
            (FieldType::Tags, json!("x"), false),
        ];
        for (t, v, ok) in cases {
            assert_eq!(field(*t, false).check(v).is_ok(), *ok, "{t:?} {v}");
        }
    }

    #[test]
    fn null_only_when_optional() {
        assert!(field(FieldType::Text, false).check(&Value::Null).is_ok());
        let err = field(FieldType::Text, true)
            .check(&Value::Null)
            .expect_err("required");
        assert!(err.contains("\"f\" is required"));
        assert!(field(FieldType::Text, true).check(&json!("  ")).is_err());
    }
}
