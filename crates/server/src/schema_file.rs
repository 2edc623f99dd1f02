//! The TOML schema file of `ferry-server schema apply`.
//!
//! ```toml
//! [[collections]]
//! name = "tasks"
//! label = "Tasks"
//! title_field = "title"
//! policy = "manual"          # or "newest_wins"; default "manual"
//!
//! [[collections.fields]]
//! name = "title"
//! label = "Title"
//! type = "text"              # text longtext number boolean date datetime choice tags file
//! required = true
//! merge = "whole"            # or "set" (tags), "text" (text, longtext); default by type
//! ```
//!
//! A `file` field may say `multiple = true`, `max_size = BYTES` and
//! `accept = ["image/*", ".pdf"]`; its collection may say
//! `fetch_files = "eager"` (clients fetch its files with the records) or
//! `"on_open"` (the default).
//!
//! How long history is kept, per collection (default: all of it):
//!
//! ```toml
//! [collections.history]
//! versions = 20              # the latest 20 versions of each record
//! days = 365                 # and any younger than a year
//! tombstone_days = 90        # deleted records forgotten after 90 days (default: days)
//! ```
//!
//! A collection may name `partition_by = "FIELD"` (a text, choice or tags
//! field): then grants may give some of its rows, by that field's value.

use std::collections::HashSet;

use ferry_protocol::{Access, Collection, Field, FieldType, Policy};
use serde::Deserialize;

/// A collection as an administrator defines it (access is per user, so it is
/// not part of the definition).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionDef {
    pub name: String,
    pub label: String,
    pub title_field: String,
    #[serde(default)]
    pub policy: Policy,
    pub fields: Vec<Field>,
    /// The field whose value places a record in a partition (row rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_by: Option<String>,
    /// When clients fetch its files: `eager` (with the records) or
    /// `on_open` (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetch_files: Option<ferry_protocol::FetchFiles>,
    /// What migrations did to its fields, kept so that an edit made offline
    /// before one still lands (crate::migration). Not part of a schema file.
    #[serde(default, skip_serializing_if = "Retired::is_empty")]
    pub retired: Retired,
    /// How much history is kept (`[collections.history]`); absent: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<ferry_protocol::admin::Retention>,
}

/// Fields as migrations left them: old names of renamed fields (old →
/// current), removed fields, and the types fields had before a change of
/// type; and the migration still rewriting records, if one is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Retired {
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub renamed: std::collections::BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub retyped: std::collections::BTreeMap<String, FieldType>,
    /// The migration rewriting records now, and who started it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<(ferry_protocol::admin::FieldMigration, String)>,
}

impl Retired {
    pub fn is_empty(&self) -> bool {
        self == &Retired::default()
    }

    /// Whether `name` was a field's name before a migration.
    pub fn holds(&self, name: &str) -> bool {
        self.renamed.contains_key(name) || self.removed.iter().any(|r| r == name)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SchemaFile {
    collections: Vec<CollectionDef>,
}

impl From<ferry_protocol::admin::CollectionSpec> for CollectionDef {
    fn from(s: ferry_protocol::admin::CollectionSpec) -> Self {
        CollectionDef {
            name: s.name,
            label: s.label,
            title_field: s.title_field,
            policy: s.policy,
            fields: s.fields,
            partition_by: s.partition_by,
            fetch_files: s.fetch_files,
            retired: Retired::default(),
            history: s.history,
        }
    }
}

/// Parses and checks a schema file; the error says what to fix.
pub fn parse(text: &str) -> Result<Vec<CollectionDef>, String> {
    let file: SchemaFile = toml::from_str(text).map_err(|e| format!("invalid schema file: {e}"))?;
    let mut names = HashSet::new();
    for c in &file.collections {
        c.validate()?;
        if !names.insert(c.name.as_str()) {
            return Err(format!("collection \"{}\" is defined twice", c.name));
        }
    }
    Ok(file.collections)
}

/// Names usable as collection and field names: they appear in URLs and JSON keys.
pub fn valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && name.len() <= 64
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl CollectionDef {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The collection as a user with `access` sees it; each field names its
    /// merge kind, the default for its type when the schema file set none.
    pub fn into_collection(self, access: Access) -> Collection {
        let fields = self
            .fields
            .into_iter()
            .map(|f| Field {
                merge: Some(f.merge_kind()),
                ..f
            })
            .collect();
        Collection {
            name: self.name,
            label: self.label,
            title_field: self.title_field,
            policy: self.policy,
            access,
            fields,
            rows: None,
            fetch_files: self.fetch_files,
        }
    }

    /// The definition as the admin API shows it, each field naming its
    /// merge kind.
    pub fn into_spec(self) -> ferry_protocol::admin::CollectionSpec {
        ferry_protocol::admin::CollectionSpec {
            name: self.name,
            label: self.label,
            title_field: self.title_field,
            policy: self.policy,
            fields: self
                .fields
                .into_iter()
                .map(|f| Field {
                    merge: Some(f.merge_kind()),
                    ..f
                })
                .collect(),
            partition_by: self.partition_by,
            fetch_files: self.fetch_files,
            history: self.history,
        }
    }

    /// How much of its history is kept.
    pub fn retention(&self) -> ferry_protocol::admin::Retention {
        self.history.unwrap_or_default()
    }

    /// Whether the collection has `file` fields.
    pub fn has_files(&self) -> bool {
        self.fields.iter().any(|f| f.field_type == FieldType::File)
    }

    pub fn validate(&self) -> Result<(), String> {
        let c = &self.name;
        if !valid_name(c) {
            return Err(format!(
                "collection name \"{c}\" must start with a lowercase letter and hold only a-z, 0-9 and _ (at most 64)"
            ));
        }
        if self.fields.is_empty() {
            return Err(format!("collection \"{c}\" has no fields"));
        }
        if let Some(h) = &self.history {
            if h.versions == Some(0) {
                return Err(format!(
                    "collection \"{c}\": history.versions must be at least 1 (the latest version is always kept)"
                ));
            }
            if h.days == Some(0) || h.tombstone_days == Some(0) {
                return Err(format!(
                    "collection \"{c}\": history.days and history.tombstone_days must be at least 1"
                ));
            }
        }
        let mut seen = HashSet::new();
        for f in &self.fields {
            if !valid_name(&f.name) {
                return Err(format!(
                    "field name \"{}\" in collection \"{c}\" must start with a lowercase letter and hold only a-z, 0-9 and _",
                    f.name
                ));
            }
            if !seen.insert(f.name.as_str()) {
                return Err(format!(
                    "field \"{}\" is defined twice in collection \"{c}\"",
                    f.name
                ));
            }
            match (f.field_type, &f.options) {
                (FieldType::Choice, Some(o)) if !o.is_empty() => {}
                (FieldType::Choice, _) => {
                    return Err(format!(
                        "choice field \"{}\" in collection \"{c}\" needs options",
                        f.name
                    ));
                }
                (_, Some(_)) => {
                    return Err(format!(
                        "only choice fields take options (field \"{}\" in \"{c}\")",
                        f.name
                    ));
                }
                (_, None) => {}
            }
            if let Some(kind) = f.merge
                && !kind.fits(f.field_type)
            {
                return Err(format!(
                    "field \"{}\" in collection \"{c}\" cannot merge as {}: set is for tags, text for text and longtext, whole for any field",
                    f.name,
                    kind.name()
                ));
            }
            let file_settings = f.multiple || f.max_size.is_some() || f.accept.is_some();
            if file_settings && f.field_type != FieldType::File {
                return Err(format!(
                    "only file fields take multiple, max_size and accept (field \"{}\" in \"{c}\")",
                    f.name
                ));
            }
            if f.field_type == FieldType::File && f.name == self.title_field {
                return Err(format!(
                    "title field \"{}\" of collection \"{c}\" cannot be a file field",
                    f.name
                ));
            }
        }
        if !seen.contains(self.title_field.as_str()) {
            return Err(format!(
                "title field \"{}\" of collection \"{c}\" is not one of its fields",
                self.title_field
            ));
        }
        if let Some(p) = &self.partition_by {
            match self.field(p).map(|f| f.field_type) {
                None => {
                    return Err(format!(
                        "partition_by \"{p}\" of collection \"{c}\" is not one of its fields"
                    ));
                }
                Some(FieldType::Text | FieldType::Choice | FieldType::Tags) => {}
                Some(_) => {
                    return Err(format!(
                        "collection \"{c}\" cannot be partitioned by \"{p}\": partition_by must be a text, choice or tags field"
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[collections]]
name = "tasks"
label = "Tasks"
title_field = "title"
policy = "newest_wins"

[[collections.fields]]
name = "title"
label = "Title"
type = "text"
required = true

[[collections.fields]]
name = "status"
label = "Status"
type = "choice"
options = ["todo", "done"]
"#;

    #[test]
    fn parses_a_good_file() {
        let cols = parse(GOOD).expect("valid");
        assert_eq!(cols.len(), 1);
        assert_eq!(cols[0].policy, Policy::NewestWins);
        assert_eq!(
            cols[0].fields[1].options.as_deref(),
            Some(&["todo".to_string(), "done".to_string()][..])
        );
    }

    #[test]
    fn explains_what_is_wrong() {
        let cases = [
            (
                GOOD.replace("title_field = \"title\"", "title_field = \"nope\""),
                "title field \"nope\"",
            ),
            (
                GOOD.replace("options = [\"todo\", \"done\"]", ""),
                "needs options",
            ),
            (
                GOOD.replace("name = \"tasks\"", "name = \"Tasks!\""),
                "collection name",
            ),
            (
                GOOD.replace("type = \"text\"", "type = \"blob\""),
                "invalid schema file",
            ),
            (
                GOOD.replace("type = \"text\"", "type = \"text\"\nmerge = \"set\""),
                "cannot merge as set: set is for tags",
            ),
            (
                GOOD.replace("type = \"text\"", "type = \"text\"\nmerge = \"lines\""),
                "invalid schema file",
            ),
            (
                format!(
                    "{GOOD}\n{}",
                    &GOOD[GOOD.find("[[collections]]").unwrap_or(0)..]
                ),
                "defined twice",
            ),
        ];
        for (text, expected) in cases {
            let err = parse(&text).expect_err("invalid");
            assert!(
                err.contains(expected),
                "{err:?} should mention {expected:?}"
            );
        }
    }
}
