//! Row rules: which records of a collection each user may read and write.
//!
//! A collection may be partitioned by one of its fields (text, choice or
//! tags). A grant gives a user, a team or everyone access to the whole
//! collection or to some of its partition values; `$user` stands for the
//! user's own username. A user's *view* is the union of every grant that
//! applies to them, worked out per request from the stored rules, so a
//! change of grants or teams takes effect at once. Written once for every
//! backend: the stores only read and write rows.

use std::collections::{BTreeSet, HashMap};

use ferry_protocol::{Access, Rows, partition_values};
use serde_json::Value;

use crate::merge::{self, Current, Decision};
use crate::schema_file::CollectionDef;
use ferry_protocol::{Fields, Mutation};

/// The value that stands for the user's own username in a grant.
pub const SELF_VALUE: &str = "$user";

/// Who a grant is for, as stored in `rules.subject`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    User(uuid::Uuid),
    Team(String),
    Everyone,
}

impl Subject {
    pub fn key(&self) -> String {
        match self {
            Subject::User(id) => format!("user:{id}"),
            Subject::Team(name) => format!("team:{name}"),
            Subject::Everyone => "*".to_string(),
        }
    }
}

/// What a grant gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Right {
    Read,
    /// Read and write.
    Write,
    /// Write without read, on partition values only: one may place records
    /// there (create them there, or move them there from rows one may
    /// change) and then no longer sees them. A dispatcher handing work to
    /// other regions, a drop box.
    WriteOnly,
}

impl Right {
    /// Its name in the database.
    pub fn name(self) -> &'static str {
        match self {
            Right::Read => "read",
            Right::Write => "write",
            Right::WriteOnly => "write_only",
        }
    }

    /// Reads [`Right::name`]; anything else reads as the least, read.
    pub fn parse(s: &str) -> Right {
        match s {
            "write" => Right::Write,
            "write_only" => Right::WriteOnly,
            _ => Right::Read,
        }
    }
}

impl From<Access> for Right {
    fn from(a: Access) -> Right {
        match a {
            Access::Read => Right::Read,
            Access::Write => Right::Write,
        }
    }
}

/// One stored grant that applies to a user: to the whole collection
/// (`value: None`) or to one partition value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRow {
    pub collection: String,
    pub access: Right,
    pub value: Option<String>,
}

/// Some rows of a collection, or all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    Values(BTreeSet<String>),
}

impl Scope {
    fn add(&mut self, value: Option<String>) {
        match (self, value) {
            (Scope::All, _) => {}
            (s @ Scope::Values(_), None) => *s = Scope::All,
            (Scope::Values(v), Some(value)) => {
                v.insert(value);
            }
        }
    }

    /// Whether a record placed in `parts` is in the scope.
    pub fn admits(&self, parts: &[String]) -> bool {
        match self {
            Scope::All => true,
            Scope::Values(v) => parts.iter().any(|p| v.contains(p)),
        }
    }

    pub fn values(&self) -> Option<&BTreeSet<String>> {
        match self {
            Scope::All => None,
            Scope::Values(v) => Some(v),
        }
    }
}

/// What a user may do with one collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionView {
    /// The partition field, when the collection has one.
    pub field: Option<String>,
    pub read: Scope,
    /// `None`: read only.
    pub write: Option<Scope>,
}

impl CollectionView {
    pub fn access(&self) -> Access {
        if self.write.is_some() {
            Access::Write
        } else {
            Access::Read
        }
    }

    /// The rows on the wire (`Collection.rows`): set only when some rows are withheld.
    pub fn rows(&self) -> Option<Rows> {
        let field = self.field.clone()?;
        let list = |s: &Scope| s.values().map(|v| v.iter().cloned().collect());
        let write = match &self.write {
            Some(s) => list(s),
            None => Some(Vec::new()),
        };
        if self.read == Scope::All && write.is_none() {
            return None;
        }
        Some(Rows {
            field,
            read: list(&self.read),
            write,
        })
    }
}

/// Everything a user may read and write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    pub collections: HashMap<String, CollectionView>,
}

impl View {
    /// The view `rules` give `username`, over the collections `defs` define.
    /// A value grant on a collection that is not partitioned gives nothing.
    pub fn new(username: &str, rules: &[RuleRow], defs: &[CollectionDef]) -> View {
        let mut collections: HashMap<String, CollectionView> = HashMap::new();
        for rule in rules {
            let Some(def) = defs.iter().find(|d| d.name == rule.collection) else {
                continue;
            };
            if rule.value.is_some() && def.partition_by.is_none() {
                continue;
            }
            let value = rule.value.as_ref().map(|v| {
                if v == SELF_VALUE {
                    username.to_string()
                } else {
                    v.clone()
                }
            });
            let view = collections
                .entry(rule.collection.clone())
                .or_insert_with(|| CollectionView {
                    field: def.partition_by.clone(),
                    read: Scope::Values(BTreeSet::new()),
                    write: None,
                });
            if rule.access != Right::WriteOnly {
                view.read.add(value.clone());
            }
            if rule.access != Right::Read {
                view.write
                    .get_or_insert_with(|| Scope::Values(BTreeSet::new()))
                    .add(value);
            }
        }
        View { collections }
    }

    pub fn get(&self, collection: &str) -> Option<&CollectionView> {
        self.collections.get(collection)
    }

    /// The user's access to each collection they may read at all.
    pub fn grants(&self) -> HashMap<String, Access> {
        self.collections
            .iter()
            .map(|(c, v)| (c.clone(), v.access()))
            .collect()
    }

    /// Whether the user may read a record of `collection` placed in `parts`.
    pub fn reads(&self, collection: &str, parts: &[String]) -> bool {
        self.get(collection).is_some_and(|v| v.read.admits(parts))
    }

    /// Collections the user reads whole, and those they read only some
    /// values of (with the values), each sorted by name.
    pub fn read_scopes(&self) -> (Vec<String>, Vec<(String, Vec<String>)>) {
        let mut whole = Vec::new();
        let mut partial = Vec::new();
        for (c, v) in &self.collections {
            match &v.read {
                Scope::All => whole.push(c.clone()),
                Scope::Values(values) if !values.is_empty() => {
                    partial.push((c.clone(), values.iter().cloned().collect()));
                }
                Scope::Values(_) => {}
            }
        }
        whole.sort();
        partial.sort();
        (whole, partial)
    }
}

/// How a user's reading of one collection changed: the rows that came
/// into their view (`gained`) and those that left it (`lost`), each `None`
/// when there are none (`Scope::All`: any row of the collection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadChange {
    pub collection: String,
    pub gained: Option<Scope>,
    pub lost: Option<Scope>,
}

pub fn changed_reads(before: &View, after: &View) -> Vec<ReadChange> {
    let mut names: BTreeSet<&String> = before.collections.keys().collect();
    names.extend(after.collections.keys());
    let none = Scope::Values(BTreeSet::new());
    let values = |v: BTreeSet<String>| (!v.is_empty()).then_some(Scope::Values(v));
    let mut out = Vec::new();
    for name in names {
        let b = before.get(name).map_or(&none, |v| &v.read);
        let a = after.get(name).map_or(&none, |v| &v.read);
        let (gained, lost) = match (b, a) {
            (Scope::Values(b), Scope::Values(a)) => (
                values(a.difference(b).cloned().collect()),
                values(b.difference(a).cloned().collect()),
            ),
            (Scope::All, Scope::All) => (None, None),
            (Scope::Values(_), Scope::All) => (Some(Scope::All), None),
            (Scope::All, Scope::Values(_)) => (None, Some(Scope::All)),
        };
        if gained.is_some() || lost.is_some() {
            out.push(ReadChange {
                collection: name.clone(),
                gained,
                lost,
            });
        }
    }
    out
}

/// Decides one mutation for a user with `view`: [`merge::decide`], and where the
/// user may write only some rows of the collection, the record must be in
/// one they may change (read and write) before the write (else `forbidden`,
/// told alike whether or not the user can see it) and in one they may
/// write after it (a write may not place a record where its writer may not
/// write; it may take it out of what they read).
pub fn decide_in_view(
    m: &Mutation,
    def: Option<&CollectionDef>,
    view: &View,
    current: Option<&Current>,
    base_fields: impl FnOnce(i64) -> Option<Fields>,
) -> Decision {
    let cv = view.get(&m.collection);
    let access = cv.map(CollectionView::access);
    let rows = match (def, cv.and_then(|v| v.write.as_ref())) {
        (Some(def), Some(Scope::Values(values))) => Some((def, values)),
        _ => None,
    };
    let Some((def, values)) = rows else {
        return merge::decide(m, def, access, current, base_fields);
    };
    let field = def.partition_by.as_deref().unwrap_or_default();
    let read = cv.map_or(Scope::Values(BTreeSet::new()), |v| v.read.clone());
    let refuse = |what: &str, values: &BTreeSet<String>| {
        let list: Vec<&str> = values.iter().map(String::as_str).collect();
        Decision::Reject(ferry_protocol::ErrorBody::new(
            "forbidden",
            format!(
                "you may not {what}: in collection \"{}\" you may {} only records whose {field} is {}",
                m.collection,
                if what == PLACE { "write" } else { "change" },
                if list.is_empty() {
                    "(none)".to_string()
                } else {
                    list.join(", ")
                }
            ),
        ))
    };
    let scope = Scope::Values(values.clone());
    if let Some(c) = current {
        let parts = parts_of(Some(def), &c.fields);
        let changeable: BTreeSet<String> = match &read {
            Scope::All => values.clone(),
            Scope::Values(r) => values.intersection(r).cloned().collect(),
        };
        if !Scope::Values(changeable.clone()).admits(&parts) {
            return refuse(CHANGE, &changeable);
        }
    }
    let decision = merge::decide(m, Some(def), access, current, base_fields);
    if let Decision::Write { fields, .. } = &decision
        && !scope.admits(&parts_of(Some(def), fields))
    {
        return refuse(PLACE, values);
    }
    decision
}

const CHANGE: &str = "write this record";
const PLACE: &str = "place a record there";

/// The partition values a record with `fields` is placed in (none when
/// the collection is not partitioned).
pub fn parts_of(def: Option<&CollectionDef>, fields: &ferry_protocol::Fields) -> Vec<String> {
    match def.and_then(|d| d.partition_by.as_ref()) {
        Some(field) => partition_values(fields.get(field)),
        None => Vec::new(),
    }
}

/// Stored form of a record's partition values: a JSON array, `None` when
/// the collection is not partitioned.
pub fn parts_json(def: Option<&CollectionDef>, parts: &[String]) -> Option<String> {
    def.and_then(|d| d.partition_by.as_ref())
        .map(|_| Value::from(parts.to_vec()).to_string())
}

/// Reads [`parts_json`]; anything unreadable counts as no values.
pub fn parse_parts(stored: Option<&str>) -> Vec<String> {
    stored
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default()
}

/// Checks a grant's `--where` before it is stored: the collection must be
/// partitioned by `field`, and the values must be non-empty text.
pub fn check_where(def: &CollectionDef, field: &str, values: &[String]) -> Result<(), String> {
    let c = &def.name;
    let Some(by) = &def.partition_by else {
        return Err(format!(
            "collection \"{c}\" is not partitioned: set partition_by in its schema to grant rows of it"
        ));
    };
    if by != field {
        return Err(format!(
            "collection \"{c}\" is partitioned by \"{by}\", not \"{field}\""
        ));
    }
    if values.is_empty() || values.iter().any(|v| v.trim().is_empty()) {
        return Err("say which values: --where FIELD=VALUE[,VALUE…]".to_string());
    }
    // A choice holds only its options: any other value would match nothing.
    if let Some(options) = def.field(by).and_then(|f| f.options.as_ref())
        && let Some(v) = values
            .iter()
            .find(|v| *v != SELF_VALUE && !options.contains(v))
    {
        return Err(format!(
            "\"{v}\" is not an option of {by} in collection \"{c}\" (its options: {})",
            options.join(", ")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(partition: Option<&str>) -> CollectionDef {
        let text = format!(
            r#"[[collections]]
name = "contacts"
label = "Contacts"
title_field = "name"
{}
fields = [
  {{ name = "name", label = "Name", type = "text", required = true }},
  {{ name = "region", label = "Region", type = "choice", options = ["north", "south"] }},
]"#,
            partition.map_or(String::new(), |p| format!("partition_by = \"{p}\""))
        );
        crate::schema_file::parse(&text).expect("schema").remove(0)
    }

    fn rule(access: impl Into<Right>, value: Option<&str>) -> RuleRow {
        RuleRow {
            collection: "contacts".into(),
            access: access.into(),
            value: value.map(str::to_string),
        }
    }

    #[test]
    fn values_add_up_and_a_whole_grant_covers_them() {
        let defs = [def(Some("region"))];
        let v = View::new(
            "dana",
            &[
                rule(Access::Read, Some("north")),
                rule(Access::Write, Some("south")),
            ],
            &defs,
        );
        let c = v.get("contacts").expect("view");
        assert!(c.read.admits(&["north".into()]) && c.read.admits(&["south".into()]));
        assert!(!c.write.as_ref().expect("write").admits(&["north".into()]));
        assert_eq!(c.access(), Access::Write);
        let v = View::new(
            "dana",
            &[rule(Access::Read, Some("north")), rule(Access::Read, None)],
            &defs,
        );
        assert_eq!(v.get("contacts").expect("view").read, Scope::All);
        assert_eq!(
            v.get("contacts").expect("view").rows().expect("rows").read,
            None
        );
    }

    #[test]
    fn self_value_is_the_username_and_unpartitioned_value_grants_give_nothing() {
        let v = View::new(
            "dana",
            &[rule(Access::Write, Some(SELF_VALUE))],
            &[def(Some("region"))],
        );
        assert!(v.reads("contacts", &["dana".into()]));
        assert!(!v.reads("contacts", &["$user".into()]));
        let v = View::new("dana", &[rule(Access::Write, Some("north"))], &[def(None)]);
        assert!(v.get("contacts").is_none());
    }

    #[test]
    fn a_grant_names_the_partition_field_and_its_options() {
        let d = def(Some("region"));
        assert!(check_where(&d, "region", &["north".into()]).is_ok());
        let e = check_where(&d, "name", &["north".into()]).expect_err("another field");
        assert!(e.contains("partitioned by \"region\""), "{e}");
        let e = check_where(&d, "region", &["nort".into()]).expect_err("a typo");
        assert!(e.contains("options: north, south"), "{e}");
        let e = check_where(&def(None), "region", &["north".into()]).expect_err("unpartitioned");
        assert!(e.contains("not partitioned"), "{e}");
    }

    #[test]
    fn changed_reads_names_the_values_that_came_or_went() {
        let defs = [def(Some("region"))];
        let before = View::new("d", &[rule(Access::Read, Some("north"))], &defs);
        let after = View::new("d", &[rule(Access::Read, Some("south"))], &defs);
        let change = |gained: Option<Scope>, lost: Option<Scope>| ReadChange {
            collection: "contacts".into(),
            gained,
            lost,
        };
        let one = |v: &str| Some(Scope::Values([v.to_string()].into()));
        assert_eq!(
            changed_reads(&before, &after),
            vec![change(one("south"), one("north"))]
        );
        assert!(changed_reads(&before, &before).is_empty());
        let whole = View::new("d", &[rule(Access::Read, None)], &defs);
        assert_eq!(
            changed_reads(&before, &whole),
            vec![change(Some(Scope::All), None)]
        );
        assert_eq!(
            changed_reads(&whole, &View::default()),
            vec![change(None, Some(Scope::All))]
        );
    }
}
