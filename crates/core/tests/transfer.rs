//! Import, export and edits of many records, on a local store: what is
//! written, what each row becomes, and that nothing is imported twice.

use std::path::{Path, PathBuf};

use ferry_core::protocol::{Collection, Fields, Op};
use ferry_core::transfer::{self, Cancel, ColumnMapping, FileFormat, IMPORT_BATCH, ImportOptions};
use ferry_core::{Error, LocalStore, Query, RecordState};
use serde_json::{Value, json};
use uuid::Uuid;

fn contacts() -> Collection {
    serde_json::from_value(json!({
        "name": "contacts", "label": "Contacts", "title_field": "name",
        "policy": "manual", "access": "write",
        "fields": [
            {"name": "name", "label": "Name", "type": "text", "required": true},
            {"name": "email", "label": "E-mail", "type": "text"},
            {"name": "age", "label": "Age", "type": "number"},
            {"name": "met", "label": "Met on", "type": "date"},
            {"name": "vip", "label": "VIP", "type": "boolean"},
            {"name": "stage", "label": "Stage", "type": "choice", "options": ["Lead", "Customer"]},
            {"name": "tags", "label": "Tags", "type": "tags"},
            {"name": "notes", "label": "Notes", "type": "longtext"}
        ]
    }))
    .expect("collection")
}

struct Fixture {
    store: LocalStore,
    dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("dir");
    let store = LocalStore::open(&dir.path().join("ferry.db")).expect("store");
    store.replace_schema(&[contacts()]).expect("schema");
    Fixture { store, dir }
}

impl Fixture {
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    fn all(&self) -> Vec<Fields> {
        let mut out = Vec::new();
        self.store
            .each(&Query::new("contacts"), |r| {
                out.push(r.fields);
                Ok(())
            })
            .expect("each");
        out
    }

    fn import(
        &self,
        path: &Path,
        options: &ImportOptions,
    ) -> ferry_core::Result<transfer::ImportReport> {
        transfer::import(
            &self.store,
            "contacts",
            path,
            options,
            false,
            &Cancel::default(),
            |_| {},
        )
    }
}

fn guessed() -> ImportOptions {
    ImportOptions::default()
}

#[test]
fn a_csv_imports_with_its_columns_guessed_and_bad_rows_listed() {
    let f = fixture();
    let path = f.file(
        "people.csv",
        "\u{feff}Name,E-Mail,age,Met on,VIP,Stage,Tags,Shoe size\n\
         \"Lovelace, Ada\",ada@example.org,36,1815-12-10,yes,customer,\"math; poetry\",38\n\
         Grace,grace@example.org,abc,,no,Lead,,41\n\
         ,nobody@example.org,1,,,,,\n\
         Alan,alan@example.org,41,1912-06-23,,Later,,\n\
         \"Multi\nLine\",m@example.org,,,,,,,extra\n\
         Tim,,,,,,\"web, physics\",\n",
    );
    let p = transfer::preview(&f.store, "contacts", &path, None).expect("preview");
    assert_eq!(p.format, FileFormat::Csv);
    assert_eq!(p.rows, 6);
    let fields: Vec<Option<&str>> = p
        .options
        .mapping
        .iter()
        .map(|m| m.field.as_deref())
        .collect();
    assert_eq!(
        fields,
        [
            Some("name"),
            Some("email"),
            Some("age"),
            Some("met"),
            Some("vip"),
            Some("stage"),
            Some("tags"),
            None
        ]
    );
    assert_eq!(p.sample[0][0], "Lovelace, Ada");
    let reasons: Vec<(u64, String)> = p
        .problems
        .iter()
        .map(|r| (r.row, r.reasons.join(" | ")))
        .collect();
    assert_eq!(reasons.len(), 4, "{reasons:#?}");
    assert_eq!(reasons[0].0, 2);
    assert!(
        reasons[0].1.contains("Age: \"abc\" is not a number"),
        "{reasons:?}"
    );
    assert_eq!(reasons[1].0, 3);
    assert!(reasons[1].1.contains("required"), "{reasons:?}");
    assert!(
        reasons[2]
            .1
            .contains("\"Later\" is not one of Lead, Customer"),
        "{reasons:?}"
    );
    assert!(
        reasons[3].1.contains("has 9 cells, the header 8"),
        "{reasons:?}"
    );
    assert_eq!((p.valid, p.problem_rows), (2, 4));
    // Nothing was written by the preview.
    assert!(f.all().is_empty());

    let report = f.import(&path, &guessed()).expect("import");
    assert_eq!((report.created, report.skipped, report.done), (2, 4, 6));
    let all = f.all();
    assert_eq!(all.len(), 2);
    let ada = &all[0];
    assert_eq!(ada["name"], json!("Lovelace, Ada"));
    assert_eq!(ada["age"], json!(36));
    assert_eq!(ada["met"], json!("1815-12-10"));
    assert_eq!(ada["vip"], json!(true));
    assert_eq!(ada["stage"], json!("Customer"));
    assert_eq!(ada["tags"], json!(["math", "poetry"]));
    assert_eq!(all[1]["tags"], json!(["web", "physics"]));
    // Each row is an edit waiting to be sent, like any other.
    let outbox = f.store.outbox(100).expect("outbox");
    assert_eq!(outbox.len(), 2);
    assert!(
        outbox
            .iter()
            .all(|e| e.mutation.op == Op::Put && e.mutation.base_version.is_none())
    );
}

#[test]
fn semicolons_and_json_lines_are_read_too() {
    let f = fixture();
    let path = f.file("people.csv", "name;age\nAda;36\n\"Bo;b\";2\n");
    let report = f.import(&path, &guessed()).expect("import");
    assert_eq!(report.created, 2);
    let path = f.file(
        "more.jsonl",
        "{\"name\":\"Cy\",\"tags\":[\"a\",\"b\"],\"age\":3}\n\n{\"name\":\"Di\",\"age\":\"4\"}\nnot json\n[1]\n",
    );
    let p = transfer::preview(&f.store, "contacts", &path, None).expect("preview");
    assert_eq!(p.format, FileFormat::Jsonl);
    assert_eq!(p.columns, ["age", "name", "tags"]);
    assert_eq!((p.rows, p.valid, p.problem_rows), (4, 2, 2));
    assert!(p.problems[0].reasons[0].contains("is not valid JSON"));
    let report = f.import(&path, &guessed()).expect("import");
    assert_eq!(report.created, 2);
    let names: Vec<Value> = f.all().iter().map(|r| r["name"].clone()).collect();
    assert_eq!(
        names,
        [json!("Ada"), json!("Bo;b"), json!("Cy"), json!("Di")]
    );
}

#[test]
fn a_key_updates_the_records_it_matches_and_creates_the_others() {
    let f = fixture();
    let ada = f
        .store
        .create(
            "contacts",
            Fields::from_iter([
                ("name".into(), json!("Ada")),
                ("email".into(), json!("ada@x.org")),
            ]),
        )
        .expect("create");
    let path = f.file(
        "update.csv",
        "email,name,age\nada@x.org,Ada,37\nnew@x.org,Newton,84\nnew@x.org,Isaac Newton,\nada@x.org,Ada,37\n",
    );
    let options = ImportOptions {
        mapping: Vec::new(),
        key: Some("email".into()),
    };
    let p = transfer::preview(&f.store, "contacts", &path, Some(options.clone())).expect("preview");
    assert_eq!((p.valid, p.matches), (4, 3), "{p:#?}");
    let report = f.import(&path, &options).expect("import");
    assert_eq!(
        (report.created, report.updated, report.unchanged),
        (1, 2, 1),
        "{report:#?}"
    );
    let all = f.all();
    assert_eq!(all.len(), 2);
    let a = f.store.record("contacts", ada).expect("ada");
    assert_eq!(a.fields["age"], json!(37));
    // An empty cell leaves a matched record's value alone.
    let newton = all
        .iter()
        .find(|r| r["email"] == json!("new@x.org"))
        .expect("newton");
    assert_eq!(
        (newton["name"].clone(), newton["age"].clone()),
        (json!("Isaac Newton"), json!(84))
    );
    // A key no column goes to, or a tags field as key, is refused clearly.
    let wrong = ImportOptions {
        mapping: vec![ColumnMapping {
            column: "name".into(),
            field: Some("name".into()),
        }],
        key: Some("email".into()),
    };
    let e = f.import(&path, &wrong).expect_err("unmapped key");
    assert!(e.to_string().contains("a column must go to email"), "{e}");
}

#[test]
fn an_import_cut_short_continues_after_its_last_batch_and_never_twice() {
    let f = fixture();
    let rows = IMPORT_BATCH * 2 + 10;
    let mut text = String::from("name,age\n");
    for i in 0..rows {
        text.push_str(&format!("Person {i},{i}\n"));
    }
    let path = f.file("many.csv", &text);
    let cancel = Cancel::default();
    let stop = cancel.clone();
    let report = transfer::import(
        &f.store,
        "contacts",
        &path,
        &guessed(),
        false,
        &cancel,
        |p| {
            if p.done > 0 {
                stop.cancel();
            }
        },
    )
    .expect("import");
    assert!(report.cancelled);
    assert_eq!(report.done, IMPORT_BATCH as u64);
    assert_eq!(f.all().len(), IMPORT_BATCH);
    let p = transfer::preview(&f.store, "contacts", &path, None).expect("preview");
    assert_eq!(
        (p.resume_from, p.already_imported),
        (IMPORT_BATCH as u64, false)
    );

    let report = f.import(&path, &guessed()).expect("again");
    assert_eq!(
        (report.resumed_from, report.created, report.done),
        (
            IMPORT_BATCH as u64,
            (rows - IMPORT_BATCH) as u64,
            rows as u64
        )
    );
    let all = f.all();
    assert_eq!(all.len(), rows);
    let mut ages: Vec<i64> = all.iter().filter_map(|r| r["age"].as_i64()).collect();
    ages.sort_unstable();
    assert_eq!(ages, (0..rows as i64).collect::<Vec<_>>(), "each row once");
    assert_eq!(f.store.outbox(rows + 10).expect("outbox").len(), rows);

    // Done: importing it again is refused, unless asked for.
    let p = transfer::preview(&f.store, "contacts", &path, None).expect("preview");
    assert!(p.already_imported);
    let e = f.import(&path, &guessed()).expect_err("twice");
    assert!(e.to_string().contains("already imported"), "{e}");
    let again = transfer::import(
        &f.store,
        "contacts",
        &path,
        &guessed(),
        true,
        &Cancel::default(),
        |_| {},
    )
    .expect("again on purpose");
    assert_eq!(again.created, rows as u64);
}

#[test]
fn a_file_that_cannot_be_read_says_why_and_writes_nothing() {
    let f = fixture();
    let latin1 = f.dir.path().join("latin1.csv");
    std::fs::write(&latin1, b"name\nJos\xe9\n").expect("write");
    let e = transfer::preview(&f.store, "contacts", &latin1, None).expect_err("latin1");
    assert!(
        matches!(e, Error::BadFile { .. }) && e.to_string().contains("not UTF-8"),
        "{e}"
    );
    let e = transfer::preview(
        &f.store,
        "contacts",
        &f.dir.path().join("missing.csv"),
        None,
    )
    .expect_err("missing");
    assert!(e.to_string().contains("cannot read"), "{e}");
    let empty = f.file("empty.csv", "");
    let e = f.import(&empty, &guessed()).expect_err("empty");
    assert!(e.to_string().contains("no header row"), "{e}");
    let none = f.file("none.csv", "shoe,hat\n1,2\n");
    let e = f.import(&none, &guessed()).expect_err("nothing mapped");
    assert!(e.to_string().contains("choose a field"), "{e}");
    assert!(f.all().is_empty());
    assert!(f.store.outbox(10).expect("outbox").is_empty());
}

#[test]
fn export_writes_rfc_4180_csv_and_json_lines_of_the_query() {
    let f = fixture();
    let mk = |fields: Value| {
        let fields: Fields = serde_json::from_value(fields).expect("fields");
        f.store.create("contacts", fields).expect("create")
    };
    let b = mk(
        json!({"name": "Bob \"the builder\"", "age": 40, "tags": ["a", "b c"], "met": "2026-01-02"}),
    );
    let a =
        mk(json!({"name": "Ann, PhD", "notes": "line 1\nline 2", "vip": true, "stage": "Lead"}));
    mk(json!({"name": "Zoë", "stage": "Customer"}));
    let path = f.dir.path().join("out.csv");
    let mut q = Query::new("contacts");
    q.filters.insert("stage".into(), Value::Null);
    let report = transfer::export(&f.store, &Query::new("contacts"), FileFormat::Csv, &path)
        .expect("export");
    assert_eq!(report.rows, 3);
    let bytes = std::fs::read_to_string(&path).expect("read");
    assert_eq!(
        bytes,
        format!(
            "id,name,email,age,met,vip,stage,tags,notes\n\
             {a},\"Ann, PhD\",,,,true,Lead,,\"line 1\nline 2\"\n\
             {b},\"Bob \"\"the builder\"\"\",,40,2026-01-02,,,a; b c,\n\
             {z},Zoë,,,,,Customer,,\n",
            z = f.all()[2]
                .get("name")
                .map(|_| find(&f, "Zoë"))
                .unwrap_or_default()
        )
    );
    // The view's filter and order.
    let mut q = Query::new("contacts");
    q.filters.insert("stage".into(), json!("Lead"));
    let path = f.dir.path().join("leads.jsonl");
    let report = transfer::export(&f.store, &q, FileFormat::Jsonl, &path).expect("export");
    assert_eq!(report.rows, 1);
    let line = std::fs::read_to_string(&path).expect("read");
    let v: Value = serde_json::from_str(line.trim_end()).expect("json");
    assert_eq!(
        v,
        json!({"id": a.to_string(), "name": "Ann, PhD", "notes": "line 1\nline 2", "vip": true, "stage": "Lead"})
    );
    // What was exported imports back to the same values.
    let g = fixture();
    let back = g.file("back.csv", &bytes);
    assert_eq!(g.import(&back, &guessed()).expect("import").created, 3);
    let strip = |v: Vec<Fields>| -> Vec<Fields> { v };
    assert_eq!(strip(g.all()), strip(f.all()));
}

fn find(f: &Fixture, name: &str) -> String {
    let mut id = String::new();
    f.store
        .each(&Query::new("contacts"), |r| {
            if r.fields["name"] == json!(name) {
                id = r.id.to_string();
            }
            Ok(())
        })
        .expect("each");
    id
}

#[test]
fn many_records_change_in_one_go_with_one_outbox_entry_each() {
    let f = fixture();
    let ids: Vec<Uuid> = (0..5)
        .map(|i| {
            f.store
                .create(
                    "contacts",
                    Fields::from_iter([
                        ("name".into(), json!(format!("P{i}"))),
                        ("tags".into(), json!(["old"])),
                    ]),
                )
                .expect("create")
        })
        .collect();
    let report = f
        .store
        .update_many(
            "contacts",
            &ids,
            &Fields::from_iter([("stage".into(), json!("Lead"))]),
        )
        .expect("update");
    assert_eq!((report.changed, report.skipped.len()), (5, 0));
    // Coalesced with each record's unsent creation: still one entry each.
    assert_eq!(f.store.outbox(100).expect("outbox").len(), 5);
    let report = f
        .store
        .tag_many(
            "contacts",
            &ids[..3],
            "tags",
            &["new".into()],
            &["old".into()],
        )
        .expect("tags");
    assert_eq!(report.changed, 3);
    assert_eq!(
        f.store.record("contacts", ids[0]).expect("r").fields["tags"],
        json!(["new"])
    );
    assert_eq!(
        f.store.record("contacts", ids[4]).expect("r").fields["tags"],
        json!(["old"])
    );
    // Setting what is already there changes nothing.
    let report = f
        .store
        .update_many(
            "contacts",
            &ids,
            &Fields::from_iter([("stage".into(), json!("Lead"))]),
        )
        .expect("same");
    assert_eq!(report.changed, 0);
    // An invalid value changes no record.
    let e = f
        .store
        .update_many(
            "contacts",
            &ids,
            &Fields::from_iter([("age".into(), json!("x"))]),
        )
        .expect_err("invalid");
    assert!(matches!(e, Error::InvalidValue(_)), "{e}");
    let e = f
        .store
        .update_many(
            "contacts",
            &ids,
            &Fields::from_iter([("name".into(), Value::Null)]),
        )
        .expect_err("required");
    assert!(e.to_string().contains("required"), "{e}");
    assert!(
        f.all()
            .iter()
            .all(|r| r["name"].is_string() && r.get("age").is_none())
    );

    let report = f.store.delete_many("contacts", &ids[..2]).expect("delete");
    assert_eq!(report.changed, 2);
    // Deleted records are skipped, with the reason.
    let report = f
        .store
        .update_many(
            "contacts",
            &ids,
            &Fields::from_iter([("age".into(), json!(1))]),
        )
        .expect("update");
    assert_eq!(report.changed, 3);
    assert_eq!(report.skipped.len(), 2);
    assert_eq!(report.skipped[0].reason, "deleted");
    // Never sent, they come back as new records.
    let report = f
        .store
        .restore_many("contacts", &ids[..2])
        .expect("restore");
    assert_eq!(report.changed, 2);
    assert_eq!(f.all().len(), 5);
    assert_eq!(f.store.outbox(100).expect("outbox").len(), 5);
}

/// An edit of many records keeps the search index right, in the same
/// transaction, and single edits after it are indexed as before.
#[test]
fn many_records_edited_at_once_are_found_by_their_new_words_only() {
    let f = fixture();
    let ids: Vec<Uuid> = (0..120)
        .map(|i| {
            f.store
                .create(
                    "contacts",
                    Fields::from_iter([
                        ("name".into(), json!(format!("Person {i}"))),
                        ("notes".into(), json!("Oldcorp")),
                    ]),
                )
                .expect("create")
        })
        .collect();
    let found = |word: &str| {
        let mut q = Query::new("contacts");
        q.search = Some(word.into());
        q.limit = 1000;
        let mut ids: Vec<Uuid> = f
            .store
            .query(&q)
            .expect("search")
            .records
            .iter()
            .map(|r| r.id)
            .collect();
        ids.sort();
        ids
    };
    let report = f
        .store
        .update_many(
            "contacts",
            &ids[..100],
            &Fields::from_iter([("notes".into(), json!("Newcorp"))]),
        )
        .expect("update");
    assert_eq!(report.changed, 100);
    let mut want = ids[..100].to_vec();
    want.sort();
    assert_eq!(found("Newcorp"), want);
    assert_eq!(found("Oldcorp").len(), 20);
    let report = f
        .store
        .tag_many("contacts", &ids[..60], "tags", &["zebra".into()], &[])
        .expect("tags");
    assert_eq!(report.changed, 60);
    assert_eq!(found("zebra").len(), 60);
    // A failed edit of many leaves the index (and the trigger) as they were.
    f.store
        .update_many(
            "contacts",
            &ids,
            &Fields::from_iter([("age".into(), json!("x"))]),
        )
        .expect_err("invalid");
    f.store
        .update(
            "contacts",
            ids[119],
            Fields::from_iter([("notes".into(), json!("Solo"))]),
        )
        .expect("update one");
    assert_eq!(found("Solo"), vec![ids[119]]);
    assert_eq!(found("Oldcorp").len(), 19);
}

#[test]
fn a_discarded_change_can_be_made_again() {
    let f = fixture();
    let id = f
        .store
        .create(
            "contacts",
            Fields::from_iter([("name".into(), json!("Ada"))]),
        )
        .expect("create");
    let entry = f.store.outbox(10).expect("outbox")[0].clone();
    let gone = f
        .store
        .discard(entry.mutation.mutation_id)
        .expect("discard");
    assert_eq!(gone.mutation.record_id, id);
    assert!(matches!(
        f.store.record("contacts", id),
        Err(Error::UnknownRecord { .. })
    ));
    assert!(f.store.outbox(10).expect("outbox").is_empty());
    f.store.reapply(&gone.mutation).expect("undo");
    let r = f.store.record("contacts", id).expect("back");
    assert_eq!(
        (r.fields["name"].clone(), r.state),
        (json!("Ada"), RecordState::Pending)
    );
    assert_eq!(f.store.outbox(10).expect("outbox").len(), 1);
    // Gone already: a clear error.
    let e = f.store.discard(Uuid::now_v7()).expect_err("unknown");
    assert!(e.to_string().contains("no longer waiting"), "{e}");
}

#[path = "common/mod.rs"]
mod common;

/// Synced records deleted together come back together, and the server
/// sees one edit per record.
#[tokio::test]
async fn many_synced_records_deleted_come_back_with_undo() {
    let server = common::TestServer::start().await;
    let client = common::Client::login(&server, "alice").await;
    let store = client.store();
    let ids: Vec<Uuid> = (0..4)
        .map(|i| {
            store
                .create(
                    "contacts",
                    common::fields(json!({"name": format!("Gone {i}")})),
                )
                .expect("create")
        })
        .collect();
    client.sync().await;
    let report = store.delete_many("contacts", &ids).expect("delete");
    assert_eq!(report.changed, 4);
    assert_eq!(store.outbox(10).expect("outbox").len(), 4);
    let report = store.restore_many("contacts", &ids).expect("restore");
    assert_eq!((report.changed, report.skipped.len()), (4, 0));
    // The deletions were withdrawn before they were sent: nothing to send.
    assert!(store.outbox(10).expect("outbox").is_empty());
    store.delete_many("contacts", &ids[..2]).expect("delete");
    client.sync().await;
    let report = store
        .restore_many("contacts", &ids[..2])
        .expect("restore after sync");
    assert_eq!(report.changed, 2);
    client.sync().await;
    for id in &ids {
        let r = server.record("contacts", *id).await;
        assert!(r.is_some_and(|r| !r.deleted), "{id} is back on the server");
    }
}

/// A large import into an empty snapshot rebuilds the search and sort
/// indexes once at the end: afterwards both find the new rows.
#[test]
fn a_large_import_is_searchable_and_sortable_after() {
    let f = fixture();
    let rows = transfer::BULK_IMPORT_ROWS as usize + 5;
    let mut text = String::from("name,age\n");
    for i in 0..rows {
        text.push_str(&format!("Person{i},{}\n", rows - i));
    }
    let path = f.file("large.csv", &text);
    let report = f.import(&path, &guessed()).expect("import");
    assert_eq!(report.created, rows as u64);
    let mut q = Query::new("contacts");
    q.search = Some(format!("Person{}", rows - 1));
    let found = f.store.query(&q).expect("search");
    assert_eq!(found.records.len(), 1);
    let mut q = Query::new("contacts");
    q.sort = Some("age".into());
    q.limit = 1;
    let first = f.store.query(&q).expect("sort");
    assert_eq!(first.records[0].fields["age"], json!(1));
    let count = f.store.count(&Query::new("contacts")).expect("count");
    assert_eq!(count, rows as i64);
}
