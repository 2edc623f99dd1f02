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
    /// When clients fetch the files of its `file` fields (an addition);
    /// absent: on first open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetch_files: Option<FetchFiles>,
}

/// When a client fetches a collection's files.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FetchFiles {
    /// With the records, so they are there offline.
    Eager,
    /// When someone first opens one.
    #[default]
    OnOpen,
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
    /// A `file` field may hold more than one file.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub multiple: bool,
    /// A `file` field's largest file, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<u64>,
    /// What a `file` field takes: MIME types (`image/png`, `image/*`) or
    /// extensions (`.pdf`); absent: anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept: Option<Vec<String>>,
}

/// One attached file, as a `file` field's value holds it: the bytes are
/// the blob named by `sha256` (`/v1/blobs/{sha256}`).
///
/// ```
/// # use ferry_protocol::FileRef;
/// let json = r#"{"sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","name":"site.jpg","size":4,"mime":"image/jpeg"}"#;
/// let v: FileRef = serde_json::from_str(json).unwrap();
/// assert_eq!(serde_json::to_string(&v).unwrap(), json);
/// ```
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileRef {
    /// The SHA-256 of the bytes, 64 lowercase hex digits.
    pub sha256: String,
    /// The file's name, without a directory.
    pub name: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub size: u64,
    /// Its MIME type; `application/octet-stream` when unknown.
    pub mime: String,
}

/// Whether `s` is a SHA-256 as blobs are named: 64 lowercase hex digits.
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl FileRef {
    /// The files a `file` field's value holds; none for `null` or a value
    /// that is not a list of files.
    pub fn list(value: Option<&Value>) -> Vec<FileRef> {
        match value {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| serde_json::from_value(v.clone()).ok())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Whether a field's `accept` list takes this file: a MIME type, a
    /// family (`image/*`) or an extension (`.pdf`), compared ignoring case.
    pub fn accepted_by(&self, accept: &[String]) -> bool {
        let mime = self.mime.to_ascii_lowercase();
        let name = self.name.to_ascii_lowercase();
        accept.iter().any(|a| {
            let a = a.trim().to_ascii_lowercase();
            if let Some(family) = a.strip_suffix("/*") {
                mime.split('/').next() == Some(family)
            } else if a.starts_with('.') {
                name.ends_with(&a)
            } else {
                mime == a
            }
        })
    }
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
    /// Attached files: an array of [`FileRef`]s (one at most unless the
    /// field is `multiple`). Served only to clients that ask for it
    /// (`GET /v1/schema?types=file`).
    File,
}

impl Field {
    /// An optional field of `field_type` labelled by its name, without
    /// options or settings.
    pub fn new(name: &str, field_type: FieldType) -> Field {
        Field {
            name: name.into(),
            label: name.into(),
            field_type,
            required: false,
            options: None,
            merge: None,
            multiple: false,
            max_size: None,
            accept: None,
        }
    }

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
            (FieldType::File, Value::Array(items)) => return self.check_files(items),
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

impl Field {
    fn check_files(&self, items: &[Value]) -> Result<(), String> {
        let name = &self.name;
        if items.len() > 1 && !self.multiple {
            return Err(format!("field \"{name}\" holds one file"));
        }
        if self.required && items.is_empty() {
            return Err(format!("field \"{name}\" is required"));
        }
        for item in items {
            let file: FileRef = serde_json::from_value(item.clone())
                .map_err(|_| format!("field \"{name}\" must be {}", FieldType::File.describe()))?;
            if !is_sha256(&file.sha256) || file.name.trim().is_empty() || file.mime.is_empty() {
                return Err(format!(
                    "field \"{name}\" must be {}",
                    FieldType::File.describe()
                ));
            }
            if let Some(max) = self.max_size
                && file.size > max
            {
                return Err(format!(
                    "\"{}\" is larger than field \"{name}\" takes ({} bytes at most)",
                    file.name, max
                ));
            }
            if let Some(accept) = &self.accept
                && !file.accepted_by(accept)
            {
                return Err(format!(
                    "field \"{name}\" takes {} files, not \"{}\"",
                    accept.join(", "),
                    file.name
                ));
            }
        }
        Ok(())
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
            FieldType::File => "a list of files ({sha256, name, size, mime})",
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
            multiple: false,
            max_size: None,
            accept: None,
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
            (FieldType::File, json!([file("a.pdf", 10)]), true),
            (FieldType::File, json!([]), true),
            (
                FieldType::File,
                json!([file("a.pdf", 10), file("b.pdf", 10)]),
                false,
            ),
            (
                FieldType::File,
                json!([{"sha256": "ab", "name": "a", "size": 1, "mime": "text/plain"}]),
                false,
            ),
            (FieldType::File, json!(["a.pdf"]), false),
            (FieldType::File, json!(file("a.pdf", 10)), false),
        ];
        for (t, v, ok) in cases {
            assert_eq!(field(*t, false).check(v).is_ok(), *ok, "{t:?} {v}");
        }
    }

    fn file(name: &str, size: u64) -> Value {
        let mime = if name.ends_with(".pdf") {
            "application/pdf"
        } else {
            "image/jpeg"
        };
        json!({"sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
               "name": name, "size": size, "mime": mime})
    }

    #[test]
    fn a_file_field_keeps_to_its_size_kinds_and_count() {
        let mut f = field(FieldType::File, false);
        f.multiple = true;
        f.max_size = Some(100);
        f.accept = Some(vec!["image/*".into(), ".pdf".into()]);
        assert!(
            f.check(&json!([file("a.pdf", 10), file("b.JPG", 100)]))
                .is_ok()
        );
        let err = f
            .check(&json!([file("big.pdf", 101)]))
            .expect_err("too large");
        assert!(err.contains("\"big.pdf\" is larger"), "{err}");
        let mut doc = file("notes.txt", 1);
        doc["mime"] = json!("text/plain");
        let err = f.check(&json!([doc])).expect_err("not accepted");
        assert!(err.contains("takes image/*, .pdf files"), "{err}");
        f.required = true;
        assert!(f.check(&json!([])).is_err());
    }

    #[test]
    fn a_schema_with_file_fields_reads_back_as_written() {
        let json = r#"{"name":"photos","label":"Photos","type":"file","required":false,"multiple":true,"max_size":1048576,"accept":["image/*"]}"#;
        let f: Field = serde_json::from_str(json).expect("parses");
        assert_eq!(serde_json::to_string(&f).expect("writes"), json);
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
