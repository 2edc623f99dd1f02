//! The server's merge (`merge::decide`, and through it the field semantics
//! of `ferry_protocol::fields`, which the client shares) on mutations and
//! records built from the fuzz input, checked against the rules of DESIGN.md:
//! - what it writes fits the schema;
//! - a write is the current record with the mutation's fields applied, each
//!   merged by its kind (`merge3::merge_value`) when the record moved on;
//! - it never overwrites a field someone else changed since the base
//!   (that merges or is a conflict), and it reports a conflict only for
//!   fields whose merge clashes;
//! - deciding the same mutation again on its own result changes nothing
//!   (exactly-once at the level of the merge).
#![no_main]

#[allow(dead_code)]
#[path = "../../../crates/server/src/schema_file.rs"]
mod schema_file;

#[allow(dead_code)]
#[path = "../../../crates/server/src/merge.rs"]
mod merge;

use std::sync::OnceLock;

use ferry_protocol::fields::{field_value as get, same_value};
use ferry_protocol::merge3::{FieldMerge, merge_value};
use ferry_protocol::{Access, ConflictKind, Field, FieldType, Fields, Hlc, MergeKind, Mutation, Op};
use libfuzzer_sys::fuzz_target;
use merge::{Current, Decision, decide};
use schema_file::CollectionDef;

const DEMO_SCHEMA: &str = include_str!("../../../crates/server/demo/schema.toml");
use serde_json::{Value, json};

/// The demo's tasks, with tags: a `whole`, a `text` and a `set` field of
/// each kind.
fn tasks() -> &'static CollectionDef {
    static DEF: OnceLock<CollectionDef> = OnceLock::new();
    DEF.get_or_init(|| {
        let mut def = schema_file::parse(DEMO_SCHEMA)
            .expect("demo schema")
            .into_iter()
            .find(|d| d.name == "tasks")
            .expect("tasks");
        def.fields.push(Field {
            name: "tags".into(),
            label: "Tags".into(),
            field_type: FieldType::Tags,
            required: false,
            options: None,
            merge: None,
            multiple: false,
            max_size: None,
            accept: None,
        });
        def
    })
}

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn next(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn pick<T: Clone>(&mut self, from: &[T]) -> T {
        from[usize::from(self.next()) % from.len()].clone()
    }

    /// Some fields of the tasks collection, valid or not, null meaning "clear".
    fn fields(&mut self) -> Fields {
        let choices: [(&str, Vec<Value>); 6] = [
            ("title", vec![json!("a"), json!("b"), json!(""), Value::Null, json!(3)]),
            ("status", vec![json!("todo"), json!("done"), json!("nope"), Value::Null]),
            ("priority", vec![json!(1), json!(1.0), json!(2), json!("high"), Value::Null]),
            (
                "notes",
                vec![
                    json!("one\ntwo\n"),
                    json!("one\nTWO\n"),
                    json!("ONE\ntwo\n"),
                    json!("one\r\ntwo\r\n"),
                    json!("y"),
                    Value::Null,
                ],
            ),
            ("tags", vec![json!(["a"]), json!(["a", "b"]), json!(["b", "c"]), json!([]), Value::Null]),
            ("colour", vec![json!("red")]),
        ];
        let mask = self.next();
        let mut f = Fields::new();
        for (i, (name, values)) in choices.iter().enumerate() {
            if mask & (1 << i) != 0 {
                f.insert((*name).to_string(), self.pick(values));
            }
        }
        f
    }

    fn hlc(&mut self) -> Hlc {
        Hlc::new(1_793_491_200_000 + i64::from(self.next()), 0, "fuzz").expect("stamp")
    }
}

fn kind(name: &str) -> MergeKind {
    tasks().field(name).map_or(MergeKind::Whole, Field::merge_kind)
}

fn without_nulls(f: &Fields) -> Fields {
    f.iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    let def = tasks();
    let current = if b.next() % 4 == 0 {
        None
    } else {
        let fields = without_nulls(&b.fields());
        Some(Current {
            version: i64::from(b.next() % 5) + 1,
            fields,
            deleted: b.next() % 5 == 0,
            hlc: b.hlc(),
        })
    };
    // The server only ever stores records that fit the schema.
    if let Some(c) = &current
        && (ferry_protocol::check_fields("tasks", &def.fields, &c.fields).is_err()
            || ferry_protocol::check_required(&def.fields, &c.fields).is_err())
    {
        return;
    }
    let base_version = match b.next() % 4 {
        0 => None,
        1 => current.as_ref().map(|c| c.version),
        _ => Some(i64::from(b.next() % 7) - 1),
    };
    let m = Mutation {
        mutation_id: uuid::Uuid::nil(),
        collection: "tasks".into(),
        record_id: uuid::Uuid::nil(),
        op: if b.next() % 4 == 0 { Op::Delete } else { Op::Put },
        base_version,
        base: b.fields(),
        fields: b.fields(),
        hlc: b.hlc(),
    };
    let base_fields = |_: i64| Some(Fields::new());
    let decision = decide(&m, Some(def), Some(Access::Write), current.as_ref(), base_fields);
    let empty = Fields::new();
    let theirs = current.as_ref().map_or(&empty, |c| &c.fields);
    let moved_on = current
        .as_ref()
        .is_some_and(|c| !c.deleted && m.base_version.unwrap_or(0) != c.version);
    match &decision {
        Decision::Write { fields, deleted: false, .. } => {
            ferry_protocol::check_fields("tasks", &def.fields, fields).expect("a write fits the schema");
            ferry_protocol::check_required(&def.fields, fields).expect("required fields are there");
            for name in fields.keys().chain(theirs.keys()).chain(m.fields.keys()) {
                let expected = match m.fields.get(name) {
                    Some(mine) if moved_on => match merge_value(kind(name), get(&m.base, name), mine, get(theirs, name)) {
                        FieldMerge::Merged(v) => v,
                        FieldMerge::Clash(_) => panic!("field {name} clashes, yet the merge wrote {fields:?}"),
                    },
                    Some(mine) => mine.clone(),
                    None => get(theirs, name).clone(),
                };
                assert!(
                    same_value(get(fields, name), &expected),
                    "field {name}: wrote {:?}, the current record with the mutation applied has {expected:?}",
                    get(fields, name)
                );
            }
            if moved_on {
                for name in m.fields.keys() {
                    let (now, base, wrote) = (get(theirs, name), get(&m.base, name), get(fields, name));
                    assert!(
                        kind(name) != MergeKind::Whole || same_value(now, base) || same_value(wrote, now),
                        "field {name} was changed by someone else ({base:?} -> {now:?}) and overwritten with {wrote:?}"
                    );
                }
            }
        }
        Decision::Conflict { kind: ConflictKind::EditEdit, fields, parts } => {
            assert!(moved_on, "an edit/edit conflict on a record that did not move on");
            for name in fields {
                let mine = m.fields.get(name).expect("a conflicting field is one I changed");
                let (now, base) = (get(theirs, name), get(&m.base, name));
                let FieldMerge::Clash(text) = merge_value(kind(name), base, mine, now) else {
                    panic!("field {name} reported in conflict, but {base:?} -> {now:?} vs mine {mine:?} merges");
                };
                assert_eq!(parts.get(name).cloned().unwrap_or_default(), text, "the clashing parts of {name}");
            }
        }
        _ => {}
    }
    // Deciding the same mutation again, on the record it produced, changes
    // nothing; but for a base past the record's version (after a restore, or
    // a forgotten record made again) the version it names may then exist:
    // such replays are answered from memory, by mutation id.
    let current_version = current.as_ref().map_or(0, |c| c.version);
    if let (Decision::Write { fields, deleted, .. }, Some(version), false) = (
        &decision,
        Some(current_version + 1),
        m.base_version.is_some_and(|b| b > current_version),
    ) {
        let after = Current {
            version,
            fields: fields.clone(),
            deleted: *deleted,
            hlc: m.hlc.clone(),
        };
        let again = decide(&m, Some(def), Some(Access::Write), Some(&after), |_| Some(Fields::new()));
        assert!(
            matches!(again, Decision::Unchanged { .. }),
            "the same mutation decided twice wrote again: {again:?} after {decision:?}"
        );
    }
});
