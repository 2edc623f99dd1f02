//! What a field's value means, for the server and the client alike: when two
//! values are the same, and how a change is applied. The server merges by
//! these rules and the client coalesces its edits and settles conflicts by
//! them; written on each side, the two would drift, and a client would see a
//! conflict the server does not (or the other way round).
//!
//! - An absent field and a `null` one are the same: a record stores no nulls,
//!   and a change to `null` clears the field.
//! - Numbers compare by value: `1` and `1.0` are the same number.

use serde_json::Value;

use crate::Fields;

/// JSON equality where `1` and `1.0` are the same number (in arrays too).
pub fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_value(a, b))
        }
        _ => a == b,
    }
}

/// A field's value; `null` when the record has none.
pub fn field_value<'a>(fields: &'a Fields, name: &str) -> &'a Value {
    fields.get(name).unwrap_or(&Value::Null)
}

/// Sets one field; `null` clears it.
pub fn set_field(fields: &mut Fields, name: &str, value: Value) {
    if value.is_null() {
        fields.remove(name);
    } else {
        fields.insert(name.to_string(), value);
    }
}

/// Applies a mutation's changed fields: each is set, and `null` clears it.
pub fn apply_changes(fields: &mut Fields, changes: &Fields) {
    for (name, value) in changes {
        set_field(fields, name, value.clone());
    }
}

/// `base` with `changes` applied.
pub fn with_changes(base: &Fields, changes: &Fields) -> Fields {
    let mut out = base.clone();
    apply_changes(&mut out, changes);
    out
}

/// Names of the fields whose values differ between two versions, sorted.
pub fn changed_fields(a: &Fields, b: &Fields) -> Vec<String> {
    let mut names: Vec<String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| !same_value(field_value(a, k), field_value(b, k)))
        .cloned()
        .collect();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(v: Value) -> Fields {
        match v {
            Value::Object(m) => m,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn numbers_are_the_same_whatever_their_spelling() {
        assert!(same_value(&json!(1), &json!(1.0)));
        assert!(same_value(&json!([1, "a"]), &json!([1.0, "a"])));
        assert!(!same_value(&json!(1), &json!(2)));
        assert!(!same_value(&json!([1]), &json!([1, 1])));
        assert!(!same_value(&json!(1), &json!("1")));
        assert!(same_value(&json!({"a": 1}), &json!({"a": 1})));
    }

    #[test]
    fn an_absent_field_is_null() {
        let f = fields(json!({"title": "a"}));
        assert_eq!(field_value(&f, "title"), &json!("a"));
        assert_eq!(field_value(&f, "notes"), &Value::Null);
    }

    #[test]
    fn applying_null_clears_and_anything_else_sets() {
        let mut f = fields(json!({"title": "a", "notes": "x"}));
        apply_changes(
            &mut f,
            &fields(json!({"notes": null, "status": "done", "gone": null})),
        );
        assert_eq!(f, fields(json!({"title": "a", "status": "done"})));
        let base = fields(json!({"title": "a"}));
        assert_eq!(
            with_changes(&base, &fields(json!({"title": null, "priority": 2}))),
            fields(json!({"priority": 2}))
        );
        set_field(&mut f, "title", Value::Null);
        assert_eq!(f, fields(json!({"status": "done"})));
    }

    #[test]
    fn changed_fields_are_named_once_in_order() {
        let a = fields(json!({"title": "a", "priority": 1, "notes": "x"}));
        let b = fields(json!({"title": "b", "priority": 1.0, "status": "done"}));
        assert_eq!(changed_fields(&a, &b), ["notes", "status", "title"]);
        assert!(changed_fields(&a, &a).is_empty());
    }
}
