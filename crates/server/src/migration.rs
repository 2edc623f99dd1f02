//! Migrations of a field of a collection that holds records: rename it,
//! remove it, change its type. The definition changes first (remembering
//! the old name, the removed field, the old type in `Retired`), then a
//! background job writes a new version of every record holding a value, as
//! the admin, through the ordinary push: the old value stays in history,
//! every device pulls the change, a record edited meanwhile is merged or
//! tried again. An edit made offline before the migration is brought up to
//! date when it arrives ([`upgrade`]): under the new name, in the new type;
//! an edit of a removed field is refused with `field_removed`, and the
//! device keeps it to copy or discard. A server restarted mid-way resumes.

use std::sync::{Arc, Mutex, PoisonError};

use ferry_protocol::admin::{
    FieldMigration, MigrationJob, MigrationPlan, MigrationState, Unconvertible,
};
use ferry_protocol::fields::field_value;
use ferry_protocol::{ErrorBody, Field, FieldType, Fields, Mutation, Op};
use serde_json::Value;
use uuid::Uuid;

use crate::AppState;
use crate::schema_file::CollectionDef;
use crate::store::{Cursor, PushContext, Reader, Session, StoreError};

/// Records a migration reads and writes at a time.
const BATCH: usize = 500;
/// Passes over the records before giving up on those that keep changing.
const PASSES: usize = 5;
/// Unconvertible records a plan shows.
const EXAMPLES: usize = 50;

fn type_name(t: FieldType) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Whether values of `from` may become values of `to`: to text from any
/// plain value, and from text to a number, a date or tags where each value
/// converts.
pub fn convertible(from: FieldType, to: FieldType) -> bool {
    use FieldType::*;
    matches!(
        (from, to),
        (
            Text | Longtext | Number | Boolean | Date | Datetime | Choice | Tags,
            Text | Longtext
        ) | (Text | Longtext, Number | Date | Tags)
    ) && from != to
}

/// `value` (of a `from` field) as a value of `to`; `None` when it does not
/// convert.
pub fn convert(value: &Value, from: FieldType, to: FieldType) -> Option<Value> {
    use FieldType::*;
    if value.is_null() {
        return Some(Value::Null);
    }
    match (from, to, value) {
        (_, Text | Longtext, Value::String(s)) => Some(Value::String(s.clone())),
        (Number, Text | Longtext, Value::Number(n)) => Some(Value::String(n.to_string())),
        (Boolean, Text | Longtext, Value::Bool(b)) => Some(Value::String(b.to_string())),
        (Tags, Text | Longtext, Value::Array(items)) => Some(Value::String(
            items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", "),
        )),
        (Text | Longtext, Number, Value::String(s)) => {
            let n: f64 = s.trim().parse().ok()?;
            serde_json::Number::from_f64(n).map(Value::Number)
        }
        (Text | Longtext, Date, Value::String(s)) => {
            let s = s.trim();
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .filter(|_| s.len() == 10)
                .map(|_| Value::String(s.to_string()))
        }
        (Text | Longtext, Tags, Value::String(s)) => Some(Value::Array(
            s.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| Value::String(t.to_string()))
                .collect(),
        )),
        _ => None,
    }
}

/// The field a migration names, or why it cannot run on `def`.
fn field<'a>(def: &'a CollectionDef, name: &str) -> Result<&'a Field, String> {
    def.field(name)
        .ok_or_else(|| format!("collection \"{}\" has no field \"{name}\"", def.name))
}

/// `def` as it is after `m`, with what it retired; or why `m` cannot run.
pub fn migrated(def: &CollectionDef, m: &FieldMigration) -> Result<CollectionDef, String> {
    if let Some((running, _)) = &def.retired.running {
        return Err(format!(
            "a migration of \"{}\" is still running ({running:?}); wait for it to finish",
            def.name
        ));
    }
    let mut next = def.clone();
    let c = &def.name;
    match m {
        FieldMigration::RenameField { field: name, to } => {
            field(def, name)?;
            if def.field(to).is_some() || def.retired.holds(to) {
                return Err(format!(
                    "\"{to}\" is, or was, a field of \"{c}\": pick another name"
                ));
            }
            if def.partition_by.as_deref() == Some(name) {
                return Err(format!(
                    "\"{name}\" places the records of \"{c}\" in partitions (partition_by): it keeps its name"
                ));
            }
            for f in &mut next.fields {
                if &f.name == name {
                    f.name.clone_from(to);
                }
            }
            if &next.title_field == name {
                next.title_field.clone_from(to);
            }
            // Older names of this field now lead to the new one.
            for current in next.retired.renamed.values_mut() {
                if current == name {
                    current.clone_from(to);
                }
            }
            next.retired.renamed.insert(name.clone(), to.clone());
            if let Some(t) = next.retired.retyped.remove(name) {
                next.retired.retyped.insert(to.clone(), t);
            }
        }
        FieldMigration::RemoveField { field: name } => {
            field(def, name)?;
            if &def.title_field == name {
                return Err(format!(
                    "\"{name}\" is the title of \"{c}\": make another field the title first"
                ));
            }
            if def.partition_by.as_deref() == Some(name) {
                return Err(format!(
                    "\"{name}\" places the records of \"{c}\" in partitions (partition_by): it cannot be removed"
                ));
            }
            if def.fields.len() == 1 {
                return Err(format!("\"{name}\" is the only field of \"{c}\""));
            }
            next.fields.retain(|f| &f.name != name);
            next.retired.removed.push(name.clone());
            next.retired.retyped.remove(name);
        }
        FieldMigration::ChangeType { field: name, to } => {
            let f = field(def, name)?;
            if !convertible(f.field_type, *to) {
                return Err(format!(
                    "\"{name}\" cannot become {} from {}: a field becomes text or long text from any \
                     plain type, and a number, a date or tags from text",
                    type_name(*to),
                    type_name(f.field_type)
                ));
            }
            if def.partition_by.as_deref() == Some(name) && *to != FieldType::Text {
                return Err(format!(
                    "\"{name}\" places the records of \"{c}\" in partitions (partition_by): it stays text"
                ));
            }
            let from = f.field_type;
            for f in &mut next.fields {
                if &f.name == name {
                    f.field_type = *to;
                    f.options = None;
                    f.merge = f.merge.filter(|k| k.fits(*to));
                }
            }
            // The first type is the one offline edits may still be in.
            next.retired.retyped.entry(name.clone()).or_insert(from);
        }
    }
    next.validate()?;
    Ok(next)
}

/// The change `m` makes to a record holding `fields` (a `from` field for a
/// type change): `(base, changes)`; `Ok(None)` when it changes nothing,
/// `Err(value)` when the value does not convert.
pub fn record_change(
    m: &FieldMigration,
    fields: &Fields,
    from: FieldType,
) -> Result<Option<(Fields, Fields)>, Value> {
    let pair = |k: &str, v: Value| Fields::from_iter([(k.to_string(), v)]);
    match m {
        FieldMigration::RenameField { field, to } => {
            let Some(v) = fields.get(field) else {
                return Ok(None);
            };
            let there = field_value(fields, to).clone();
            let mut base = pair(field, v.clone());
            base.insert(to.clone(), there.clone());
            let mut changes = pair(field, Value::Null);
            changes.insert(to.clone(), if there.is_null() { v.clone() } else { there });
            Ok(Some((base, changes)))
        }
        FieldMigration::RemoveField { field } => Ok(fields
            .get(field)
            .map(|v| (pair(field, v.clone()), pair(field, Value::Null)))),
        FieldMigration::ChangeType { field, to } => {
            let Some(v) = fields.get(field) else {
                return Ok(None);
            };
            let converted = convert(v, from, *to).ok_or_else(|| v.clone())?;
            if &converted == v {
                return Ok(None);
            }
            Ok(Some((pair(field, v.clone()), pair(field, converted))))
        }
    }
}

/// Brings a mutation made before migrations of its collection up to date:
/// values under a field's old name move to its current one, values in a
/// field's old type are converted. An edit that sets a removed field is
/// refused, saying so; its device keeps it.
pub fn upgrade(def: &CollectionDef, m: &mut Mutation) -> Result<(), ErrorBody> {
    let retired = &def.retired;
    if retired.is_empty() || m.op == Op::Delete {
        return Ok(());
    }
    for (old, new) in &retired.renamed {
        for values in [&mut m.fields, &mut m.base] {
            if let Some(v) = values.remove(old)
                && !values.contains_key(new)
            {
                values.insert(new.clone(), v);
            }
        }
    }
    for removed in &retired.removed {
        if m.fields.get(removed).is_some_and(|v| !v.is_null()) {
            return Err(ErrorBody::new(
                "field_removed",
                format!(
                    "an administrator removed the field \"{removed}\" of \"{}\": this edit of it was not saved; copy what you need from it, then discard it",
                    def.name
                ),
            ));
        }
        m.fields.remove(removed);
        m.base.remove(removed);
    }
    for (name, from) in &retired.retyped {
        let Some(f) = def.field(name) else { continue };
        for values in [&mut m.fields, &mut m.base] {
            if let Some(v) = values.get_mut(name)
                && f.check(v).is_err()
                && let Some(c) = convert(v, *from, f.field_type)
            {
                *v = c;
            }
        }
    }
    Ok(())
}

/// The migrations this process started or resumed, newest first.
#[derive(Default)]
pub struct Jobs {
    list: Mutex<Vec<MigrationJob>>,
}

impl Jobs {
    pub fn list(&self) -> Vec<MigrationJob> {
        self.list
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn update(&self, id: Uuid, f: impl FnOnce(&mut MigrationJob)) {
        let mut list = self.list.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(job) = list.iter_mut().find(|j| j.id == id) {
            f(job);
        }
    }

    /// Adds a running job, unless one of `collection` runs already.
    fn begin(&self, job: MigrationJob) -> Result<(), Box<MigrationJob>> {
        let mut list = self.list.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(running) = list
            .iter()
            .find(|j| j.collection == job.collection && j.state == MigrationState::Running)
        {
            return Err(Box::new(running.clone()));
        }
        list.insert(0, job);
        list.truncate(100);
        Ok(())
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The records of a collection from the start of the feed to `until`, a
/// page at a time (deleted ones too).
struct Pages {
    collection: String,
    until: i64,
    cursor: Option<Cursor>,
}

impl Pages {
    fn new(collection: &str, until: i64) -> Pages {
        Pages {
            collection: collection.to_string(),
            until,
            cursor: Some(Cursor(0)),
        }
    }

    async fn next(
        &mut self,
        state: &AppState,
    ) -> Result<Option<Vec<ferry_protocol::Record<crate::store::RawFields>>>, StoreError> {
        let Some(cursor) = self.cursor else {
            return Ok(None);
        };
        let page = state
            .store
            .changes(
                cursor,
                BATCH,
                Reader::of_collections(vec![self.collection.clone()]),
            )
            .await?;
        self.cursor = (page.has_more && page.cursor.0 < self.until).then_some(page.cursor);
        Ok(Some(page.changes))
    }
}

fn fields_of(r: &ferry_protocol::Record<crate::store::RawFields>) -> Result<Fields, StoreError> {
    serde_json::from_str(r.fields.get())
        .map_err(|e| StoreError::Internal(format!("stored fields are unreadable: {e}")))
}

/// What `m` would do to the records of `def` (before the change).
pub async fn plan(
    state: &AppState,
    def: &CollectionDef,
    m: &FieldMigration,
) -> Result<MigrationPlan, StoreError> {
    let from = match m {
        FieldMigration::ChangeType { field, .. } => def.field(field).map(|f| f.field_type),
        _ => None,
    }
    .unwrap_or(FieldType::Text);
    let until = state.store.high_water().await?;
    let mut plan = MigrationPlan {
        records: 0,
        unconvertible: 0,
        examples: Vec::new(),
    };
    let title = def.title_field.clone();
    let mut pages = Pages::new(&def.name, until);
    while let Some(records) = pages.next(state).await? {
        for r in records.iter().filter(|r| !r.deleted) {
            let fields = fields_of(r)?;
            match record_change(m, &fields, from) {
                Ok(None) => {}
                Ok(Some(_)) => plan.records += 1,
                Err(value) => {
                    plan.unconvertible += 1;
                    if plan.examples.len() < EXAMPLES {
                        plan.examples.push(Unconvertible {
                            id: r.id,
                            title: field_value(&fields, &title)
                                .as_str()
                                .unwrap_or_default()
                                .to_string(),
                            value,
                        });
                    }
                }
            }
        }
    }
    Ok(plan)
}

/// Changes the definition and starts rewriting the records in the
/// background, as `actor`; the job. Refused (`Err(message)`) when a value
/// would not convert or the migration cannot run.
pub async fn start(
    state: &AppState,
    collection: &str,
    m: FieldMigration,
    actor: &str,
) -> Result<MigrationJob, StartError> {
    let defs = state.store.collections().await?;
    let def = defs
        .iter()
        .find(|d| d.name == collection)
        .ok_or_else(|| StartError::NotFound(format!("there is no collection \"{collection}\"")))?;
    let mut next = migrated(def, &m).map_err(StartError::Refused)?;
    let planned = plan(state, def, &m).await?;
    if planned.unconvertible > 0 {
        return Err(StartError::Refused(format!(
            "{} records hold a value that would not convert (first: {}); change them first",
            planned.unconvertible,
            planned
                .examples
                .first()
                .map(|u| format!("\"{}\" holds {}", u.title, u.value))
                .unwrap_or_default()
        )));
    }
    let job = new_job(state, collection, &m).await?;
    state
        .migrations
        .begin(job.clone())
        .map_err(StartError::Busy)?;
    next.retired.running = Some((m, actor.to_string()));
    if let Err(e) = state.store.put_collections(&[next]).await {
        state.migrations.update(job.id, |j| {
            j.state = MigrationState::Failed;
            j.error = Some(e.to_string());
        });
        return Err(e.into());
    }
    spawn(state.clone(), job.clone(), def.clone());
    Ok(job)
}

/// A job of `m` on `collection`, starting now, to look at its live records.
async fn new_job(
    state: &AppState,
    collection: &str,
    m: &FieldMigration,
) -> Result<MigrationJob, StoreError> {
    Ok(MigrationJob {
        id: Uuid::now_v7(),
        collection: collection.to_string(),
        migration: m.clone(),
        state: MigrationState::Running,
        done: 0,
        total: state.store.count_records(collection, None).await?,
        started_at: now(),
        finished_at: None,
        error: None,
    })
}

/// Why a migration did not start.
#[derive(Debug)]
pub enum StartError {
    NotFound(String),
    Refused(String),
    /// One of the collection runs already.
    Busy(Box<MigrationJob>),
    Store(StoreError),
}

impl From<StoreError> for StartError {
    fn from(e: StoreError) -> Self {
        StartError::Store(e)
    }
}

/// Resumes the migrations a stopped server left running.
pub async fn resume(state: &AppState) -> Result<(), StoreError> {
    for def in state.store.collections().await? {
        let Some((m, _)) = def.retired.running.clone() else {
            continue;
        };
        let job = new_job(state, &def.name, &m).await?;
        if state.migrations.begin(job.clone()).is_ok() {
            tracing::info!(collection = %def.name, migration = ?m, "resuming a migration");
            // The type a changed field had is kept in `retired`.
            let mut before = def.clone();
            if let FieldMigration::ChangeType { field, .. } = &m
                && let (Some(t), Some(f)) = (
                    def.retired.retyped.get(field),
                    before.fields.iter_mut().find(|f| &f.name == field),
                )
            {
                f.field_type = *t;
            }
            spawn(state.clone(), job, before);
        }
    }
    Ok(())
}

fn spawn(state: AppState, job: MigrationJob, before: CollectionDef) {
    tokio::spawn(async move {
        let id = job.id;
        let outcome = run(&state, &job, &before).await;
        let finished = now();
        match &outcome {
            Ok(()) => {
                tracing::info!(collection = %job.collection, migration = ?job.migration, "migration done")
            }
            Err(e) => tracing::error!(collection = %job.collection, error = %e, "migration failed"),
        }
        state.migrations.update(id, |j| {
            j.finished_at = Some(finished);
            match outcome {
                Ok(()) => j.state = MigrationState::Done,
                Err(e) => {
                    j.state = MigrationState::Failed;
                    j.error = Some(e.to_string());
                }
            }
        });
    });
}

/// Rewrites every record `job` touches, then marks the collection's
/// migration finished.
async fn run(
    state: &AppState,
    job: &MigrationJob,
    before: &CollectionDef,
) -> Result<(), StoreError> {
    let def = state
        .store
        .collections()
        .await?
        .into_iter()
        .find(|d| d.name == job.collection)
        .ok_or_else(|| {
            StoreError::NotFound(format!("collection \"{}\" is gone", job.collection))
        })?;
    let actor = def
        .retired
        .running
        .as_ref()
        .map(|(_, a)| a.clone())
        .unwrap_or_default();
    let user = state.store.user_by_name(&actor).await?;
    let ctx = PushContext {
        session: Session {
            user_id: user.as_ref().map_or(Uuid::nil(), |u| u.id),
            username: if actor.is_empty() {
                "ferry-server".into()
            } else {
                actor
            },
            device_id: Uuid::nil(),
        },
        view: Arc::new(crate::rules::View {
            collections: std::iter::once((
                job.collection.clone(),
                crate::rules::CollectionView {
                    field: None,
                    read: crate::rules::Scope::All,
                    write: Some(crate::rules::Scope::All),
                },
            ))
            .collect(),
        }),
        clock: state.clock.clone(),
    };
    let from = match &job.migration {
        FieldMigration::ChangeType { field, .. } => before.field(field).map(|f| f.field_type),
        _ => None,
    }
    .unwrap_or(FieldType::Text);
    for pass in 0..PASSES {
        let until = state.store.high_water().await?;
        let mut left = 0u64;
        let mut seen = 0u64;
        let mut pages = Pages::new(&job.collection, until);
        while let Some(records) = pages.next(state).await? {
            let mut batch = Vec::new();
            for r in records.iter().filter(|r| !r.deleted) {
                let fields = fields_of(r)?;
                // A value that no longer converts (written meanwhile) stays; its device was told.
                if let Ok(Some((base, fields))) = record_change(&job.migration, &fields, from) {
                    batch.push(Mutation {
                        mutation_id: Uuid::now_v7(),
                        collection: r.collection.clone(),
                        record_id: r.id,
                        op: Op::Put,
                        base_version: Some(r.version),
                        base,
                        fields,
                        hlc: state
                            .clock
                            .stamp(None)
                            .map_err(|e| StoreError::Internal(e.to_string()))?,
                    });
                }
            }
            seen += records.len() as u64;
            if !batch.is_empty() {
                let outcome = state.store.push(ctx.clone(), batch).await?;
                let written = outcome
                    .results
                    .iter()
                    .filter(|r| {
                        matches!(
                            r.status,
                            ferry_protocol::Status::Applied | ferry_protocol::Status::Merged
                        )
                    })
                    .count();
                left += (outcome.results.len() - written) as u64;
                if let Some(cursor) = outcome.last_write
                    && !state.store_relays_commits
                {
                    state.events.publish(crate::events::Commit {
                        cursor,
                        collections: outcome.touched,
                        parts: outcome.touched_parts,
                    });
                }
            }
            let done = seen;
            state
                .migrations
                .update(job.id, |j| j.done = j.done.max(done.min(j.total)));
        }
        if left == 0 {
            break;
        }
        tracing::info!(collection = %job.collection, pass, left, "records changed meanwhile; another pass");
    }
    let mut done = state
        .store
        .collections()
        .await?
        .into_iter()
        .find(|d| d.name == job.collection)
        .ok_or_else(|| {
            StoreError::NotFound(format!("collection \"{}\" is gone", job.collection))
        })?;
    done.retired.running = None;
    state.store.put_collections(&[done]).await?;
    let total = job.total;
    state
        .migrations
        .update(job.id, |j| j.done = j.done.max(total));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tasks() -> CollectionDef {
        crate::schema_file::parse(
            r#"
[[collections]]
name = "tasks"
label = "Tasks"
title_field = "title"
partition_by = "region"
[[collections.fields]]
name = "title"
label = "Title"
type = "text"
[[collections.fields]]
name = "notes"
label = "Notes"
type = "text"
[[collections.fields]]
name = "count"
label = "Count"
type = "text"
[[collections.fields]]
name = "region"
label = "Region"
type = "text"
"#,
        )
        .expect("schema")
        .remove(0)
    }

    fn fields(v: Value) -> Fields {
        serde_json::from_value(v).expect("fields")
    }

    #[test]
    fn a_collection_has_one_migration_running_at_a_time() {
        let jobs = Jobs::default();
        let job = |collection: &str| MigrationJob {
            id: Uuid::now_v7(),
            collection: collection.into(),
            migration: FieldMigration::RemoveField { field: "x".into() },
            state: MigrationState::Running,
            done: 0,
            total: 10,
            started_at: now(),
            finished_at: None,
            error: None,
        };
        let first = job("tasks");
        assert!(jobs.begin(first.clone()).is_ok());
        assert_eq!(jobs.begin(job("tasks")).map_err(|j| j.id), Err(first.id));
        assert!(
            jobs.begin(job("contacts")).is_ok(),
            "another collection may"
        );
        jobs.update(first.id, |j| j.state = MigrationState::Done);
        assert!(jobs.begin(job("tasks")).is_ok(), "once it is done");
        assert_eq!(jobs.list().len(), 3, "the refused one is not listed");
    }

    #[test]
    fn values_convert_where_they_can() {
        use FieldType::*;
        assert_eq!(convert(&json!(2.5), Number, Text), Some(json!("2.5")));
        assert_eq!(convert(&json!(3), Number, Longtext), Some(json!("3")));
        assert_eq!(convert(&json!(["a", "b"]), Tags, Text), Some(json!("a, b")));
        assert_eq!(convert(&json!(" 12 "), Text, Number), Some(json!(12.0)));
        assert_eq!(convert(&json!("twelve"), Text, Number), None);
        assert_eq!(
            convert(&json!("2026-12-05"), Text, Date),
            Some(json!("2026-12-05"))
        );
        assert_eq!(convert(&json!("5 Dec"), Text, Date), None);
        assert_eq!(
            convert(&json!("a, b,,c"), Text, Tags),
            Some(json!(["a", "b", "c"]))
        );
        assert_eq!(convert(&json!(true), Boolean, Text), Some(json!("true")));
        assert!(!convertible(Number, Date));
        assert!(!convertible(Text, Text));
        assert!(!convertible(File, Text));
    }

    #[test]
    fn a_rename_keeps_the_values_and_leads_old_names_on() {
        let def = tasks();
        let once = migrated(
            &def,
            &FieldMigration::RenameField {
                field: "notes".into(),
                to: "details".into(),
            },
        )
        .expect("rename");
        assert!(once.field("details").is_some() && once.field("notes").is_none());
        let twice = migrated(
            &once,
            &FieldMigration::RenameField {
                field: "details".into(),
                to: "remarks".into(),
            },
        )
        .expect("rename again");
        assert_eq!(twice.retired.renamed["notes"], "remarks");
        assert_eq!(twice.retired.renamed["details"], "remarks");
        // Back to an old name: refused, or old edits would land in the wrong field.
        let back = FieldMigration::RenameField {
            field: "remarks".into(),
            to: "notes".into(),
        };
        assert!(migrated(&twice, &back).is_err());
        let title = migrated(
            &def,
            &FieldMigration::RenameField {
                field: "title".into(),
                to: "name".into(),
            },
        )
        .expect("rename the title");
        assert_eq!(title.title_field, "name");
        for bad in [
            FieldMigration::RenameField {
                field: "region".into(),
                to: "area".into(),
            },
            FieldMigration::RenameField {
                field: "notes".into(),
                to: "title".into(),
            },
            FieldMigration::RenameField {
                field: "nope".into(),
                to: "x".into(),
            },
            FieldMigration::RemoveField {
                field: "title".into(),
            },
            FieldMigration::ChangeType {
                field: "notes".into(),
                to: FieldType::File,
            },
        ] {
            assert!(migrated(&def, &bad).is_err(), "{bad:?}");
        }

        let change = record_change(
            &FieldMigration::RenameField {
                field: "notes".into(),
                to: "details".into(),
            },
            &fields(json!({"title": "t", "notes": "n"})),
            FieldType::Text,
        );
        assert_eq!(
            change,
            Ok(Some((
                fields(json!({"notes": "n", "details": null})),
                fields(json!({"notes": null, "details": "n"}))
            )))
        );
    }

    #[test]
    fn offline_edits_are_brought_up_to_date() {
        let def = tasks();
        let def = migrated(
            &def,
            &FieldMigration::RenameField {
                field: "notes".into(),
                to: "details".into(),
            },
        )
        .expect("rename");
        let def = migrated(
            &def,
            &FieldMigration::RemoveField {
                field: "region".into(),
            },
        );
        assert!(def.is_err(), "the partition field stays");
        let mut def = tasks();
        def.partition_by = None;
        let def = migrated(
            &def,
            &FieldMigration::RenameField {
                field: "notes".into(),
                to: "details".into(),
            },
        )
        .and_then(|d| {
            migrated(
                &d,
                &FieldMigration::RemoveField {
                    field: "region".into(),
                },
            )
        })
        .and_then(|d| {
            migrated(
                &d,
                &FieldMigration::ChangeType {
                    field: "count".into(),
                    to: FieldType::Number,
                },
            )
        })
        .expect("migrations");
        let mut m = Mutation {
            mutation_id: Uuid::now_v7(),
            collection: "tasks".into(),
            record_id: Uuid::now_v7(),
            op: Op::Put,
            base_version: Some(3),
            base: fields(json!({"notes": "old", "count": "1"})),
            fields: fields(json!({"notes": "new", "count": "2"})),
            hlc: "2026-12-05T10:00:00.000Z-0000-dev".parse().expect("hlc"),
        };
        upgrade(&def, &mut m).expect("upgraded");
        assert_eq!(m.fields, fields(json!({"details": "new", "count": 2.0})));
        assert_eq!(m.base, fields(json!({"details": "old", "count": 1.0})));
        m.fields.insert("region".into(), json!("north"));
        let err = upgrade(&def, &mut m).expect_err("removed");
        assert_eq!(err.code, "field_removed");
        assert!(err.message.contains("\"region\""), "{}", err.message);
    }
}
