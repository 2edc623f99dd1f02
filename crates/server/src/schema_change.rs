//! Changing a collection that holds records. What cannot lose or break a
//! value changes in place (labels, order, new fields, new options, policy,
//! a field made required when every record has a value); what could is
//! refused here and done as an explicit migration. The console's API and
//! `ferry-server schema apply` both go through [`apply`], so they refuse
//! the same things with the same words.

use ferry_protocol::FieldType;

use crate::schema_file::CollectionDef;
use crate::store::{DynStore, StoreError};

/// What an edit asks of the records before it may be made.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RecordChecks {
    /// Fields that become required: every live record must have a value.
    pub required: Vec<String>,
    /// Choice fields and the options they lose: no live record may hold one.
    pub removed_options: Vec<(String, Vec<String>)>,
}

fn type_name(t: FieldType) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The part of editing `old` into `new` that does not depend on records:
/// `new` must be valid, and keep every field of `old` with its type.
pub fn check_edit(old: &CollectionDef, new: &CollectionDef) -> Result<RecordChecks, String> {
    new.validate()?;
    let c = &new.name;
    let mut checks = RecordChecks::default();
    if let Some(f) = new
        .fields
        .iter()
        .find(|f| old.field(&f.name).is_none() && old.retired.holds(&f.name))
    {
        return Err(format!(
            "\"{}\" was a field of \"{c}\" before a migration: edits made offline may still name it, so pick another name",
            f.name
        ));
    }
    for before in &old.fields {
        let Some(after) = new.field(&before.name) else {
            return Err(format!(
                "field \"{}\" of \"{c}\" is missing: removing a field is a migration (the console's \
                 Remove field), which keeps its values in the records' history",
                before.name
            ));
        };
        if after.field_type != before.field_type {
            return Err(format!(
                "field \"{}\" of \"{c}\" changes type from {} to {}: changing a type is a migration \
                 (the console's Change type), allowed where every value converts",
                before.name,
                type_name(before.field_type),
                type_name(after.field_type)
            ));
        }
        if after.required && !before.required {
            checks.required.push(after.name.clone());
        }
        let gone: Vec<String> = before
            .options
            .iter()
            .flatten()
            .filter(|o| !after.options.iter().flatten().any(|n| n == *o))
            .cloned()
            .collect();
        if !gone.is_empty() {
            checks.removed_options.push((after.name.clone(), gone));
        }
    }
    // A new field holds no value yet: required from the start only while
    // the collection holds no record.
    for f in new
        .fields
        .iter()
        .filter(|f| f.required && old.field(&f.name).is_none())
    {
        checks.required.push(f.name.clone());
    }
    Ok(checks)
}

/// Refuses, saying how many records, an edit that would leave a record
/// without a required value or holding an option that is gone.
pub async fn check_records(
    store: &DynStore,
    def: &CollectionDef,
    checks: &RecordChecks,
) -> Result<(), StoreError> {
    let label = |field: &str| {
        def.field(field)
            .map_or_else(|| field.to_string(), |f| f.label.clone())
    };
    for field in &checks.required {
        let usage = store.field_usage(&def.name, field, false).await?;
        let missing = usage.live - usage.with_value.min(usage.live);
        if missing > 0 {
            return Err(StoreError::Invalid(format!(
                "{missing} of {} records of \"{}\" have no {}: give them one first, or leave it optional",
                usage.live,
                def.name,
                label(field)
            )));
        }
    }
    for (field, gone) in &checks.removed_options {
        let usage = store.field_usage(&def.name, field, true).await?;
        for o in usage.options.iter().filter(|o| gone.contains(&o.value)) {
            if o.records > 0 {
                return Err(StoreError::Invalid(format!(
                    "{} records of \"{}\" hold \"{}\" in {}: change them first, or keep the option",
                    o.records,
                    def.name,
                    o.value,
                    label(field)
                )));
            }
        }
    }
    Ok(())
}

/// Adds or changes collections, each checked against what it was and the
/// records it holds; nothing is stored unless every one passes. Returns
/// the names of the collections that changed.
pub async fn apply(store: &DynStore, defs: &[CollectionDef]) -> Result<Vec<String>, StoreError> {
    let before = store.collections().await?;
    let mut changed = Vec::new();
    let mut defs = defs.to_vec();
    for def in &mut defs {
        def.validate().map_err(StoreError::Invalid)?;
        let Some(old) = before.iter().find(|d| d.name == def.name) else {
            changed.push(def.name.clone());
            continue;
        };
        // What migrations retired stays, whatever the new definition says.
        def.retired = old.retired.clone();
        if old == def {
            continue;
        }
        let checks = check_edit(old, def).map_err(StoreError::Invalid)?;
        check_records(store, def, &checks).await?;
        changed.push(def.name.clone());
    }
    store.put_collections(&defs).await?;
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tasks() -> CollectionDef {
        crate::schema_file::parse(
            r#"
[[collections]]
name = "tasks"
label = "Tasks"
title_field = "title"
[[collections.fields]]
name = "title"
label = "Title"
type = "text"
required = true
[[collections.fields]]
name = "status"
label = "Status"
type = "choice"
options = ["todo", "doing", "done"]
[[collections.fields]]
name = "due"
label = "Due"
type = "date"
"#,
        )
        .expect("schema")
        .remove(0)
    }

    #[test]
    fn labels_order_new_fields_and_options_change_in_place() {
        let old = tasks();
        let mut new = old.clone();
        new.label = "To do".into();
        new.fields.reverse();
        new.fields[0].label = "Due by".into();
        let mut notes = new.fields[2].clone();
        notes.name = "notes".into();
        notes.required = false;
        new.fields.push(notes);
        if let Some(o) = new.fields[1].options.as_mut() {
            o.push("blocked".into());
        }
        new.policy = ferry_protocol::Policy::NewestWins;
        assert_eq!(check_edit(&old, &new), Ok(RecordChecks::default()));
    }

    #[test]
    fn what_could_break_a_record_is_named() {
        let old = tasks();
        let mut new = old.clone();
        new.fields[2].required = true;
        let mut zone = new.fields[0].clone();
        zone.name = "zone".into();
        new.fields.push(zone);
        if let Some(o) = new.fields[1].options.as_mut() {
            o.retain(|o| o != "doing");
        }
        assert_eq!(
            check_edit(&old, &new),
            Ok(RecordChecks {
                required: vec!["due".into(), "zone".into()],
                removed_options: vec![("status".into(), vec!["doing".into()])],
            })
        );
    }

    #[test]
    fn removing_a_field_or_changing_its_type_is_a_migration() {
        let old = tasks();
        let mut gone = old.clone();
        gone.fields.pop();
        let err = check_edit(&old, &gone).expect_err("removed");
        assert!(
            err.contains("\"due\"") && err.contains("migration"),
            "{err}"
        );
        let mut retyped = old.clone();
        retyped.fields[2].field_type = FieldType::Text;
        let err = check_edit(&old, &retyped).expect_err("retyped");
        assert!(err.contains("from date to text"), "{err}");
        let mut invalid = old.clone();
        invalid.title_field = "nope".into();
        assert!(check_edit(&old, &invalid).is_err());
    }
}
