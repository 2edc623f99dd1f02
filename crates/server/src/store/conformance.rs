//! The store conformance suite: written once against [`Store`], run for
//! every backend. A backend passes when `run_all` returns.

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ferry_protocol::{
    Access, ConflictKind, Field, FieldType, Fields, Hlc, Mutation, Op, Policy, Status,
};
use serde_json::json;
use uuid::Uuid;

use super::{
    Cursor, DeviceRow, DynStore, NewDevice, PushContext, PushOutcome, Session, StoreError,
};
use crate::clock::Clock;
use crate::schema_file::CollectionDef;

/// A fresh, empty store and whatever keeps it alive (a temp dir, a database).
pub type Fresh = (DynStore, Box<dyn Any + Send>);

pub async fn run_all<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Fresh, StoreError>>,
{
    macro_rules! case {
        ($name:ident) => {{
            let (store, guard) = make().await.expect("a fresh store");
            $name(store.clone()).await;
            drop(store);
            drop(guard);
        }};
    }
    case!(users_and_passwords);
    case!(grants);
    case!(sessions);
    case!(devices);
    case!(collections_keep_order_and_replace);
    case!(create_update_and_history);
    case!(replayed_mutation_returns_first_result_and_writes_nothing);
    case!(conflicts_and_rejections_write_nothing);
    case!(delete_and_restore);
    case!(paging_sees_every_change_once_in_order);
    case!(changes_only_from_readable_collections);
    case!(latest_stamp_survives);
    case!(a_push_names_where_its_writes_sit_in_the_feed);
    case!(rejections_of_what_the_user_may_not_write_are_not_remembered);
    case!(mutation_ids_past_the_horizon_are_forgotten);
    case!(a_poisoned_latest_stamp_does_not_pin_a_restarted_clock);
    case!(history_grows_with_what_changed_and_pages);
    case!(collection_sizes_count_records_and_history_rows);
    case!(rows_follow_moves_grants_and_teams);
    case!(rows_of_ones_own);
    case!(rows_backfill_once);
    case!(rows_write_without_read);
    case!(rows_grant_between_rules_and_page);
    case!(blob_owners_are_remembered);
    case!(roles_keep_an_administrator);
    case!(the_audit_log_filters_and_pages);
    case!(every_grant_is_listed_with_its_subject);
    case!(records_are_counted_per_partition_value);
    case!(field_usage_counts_values_of_live_records);
    case!(history_is_compacted_by_retention);
}

/// Retention: old versions go from the oldest end (the rest still rebuild),
/// a deletion older than its days takes the record with it and raises the
/// horizon, below which a pull answers `CursorExpired`; a collection that
/// keeps everything keeps everything; an edit of a forgotten record is an
/// edit/delete conflict, and a replay of a removed version answers with
/// the record as it is.
async fn history_is_compacted_by_retention(store: DynStore) {
    use super::compact::{CompactPlan, CompactReport};
    use ferry_protocol::admin::Retention;
    setup(&store).await;
    store
        .set_grant("u", "b", Some(Access::Write))
        .await
        .expect("grant");
    let ctx = ctx_of(&store, "u").await;
    let (kept, gone, other) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let create = put("a", kept, None, json!({}), json!({"title": "v1", "n": 1}));
    let pushed = |m: Mutation| one(&store, ctx.clone(), m);
    assert_eq!(pushed(create.clone()).await.status, Status::Applied);
    pushed(put("a", gone, None, json!({}), json!({"title": "gone"}))).await;
    pushed(put("b", other, None, json!({}), json!({"title": "b1"}))).await;
    let (_, before_deletion) = all_changes(&store, &["a", "b"]).await;
    for v in 1..5 {
        let r = pushed(put(
            "a",
            kept,
            Some(v),
            json!({"title": format!("v{v}"), "n": v}),
            json!({"title": format!("v{}", v + 1), "n": v + 1}),
        ))
        .await;
        assert_eq!(r.status, Status::Applied);
    }
    for v in 1..3 {
        pushed(put(
            "b",
            other,
            Some(v),
            json!({"n": null}),
            json!({"n": v}),
        ))
        .await;
    }
    assert_eq!(pushed(delete("a", gone, 1)).await.status, Status::Applied);
    let before = store.history("a", kept).await.expect("history");
    assert_eq!(before.len(), 5);
    assert_eq!(store.horizon().await.expect("horizon"), 0);

    let plan = CompactPlan {
        collections: vec![(
            "a".into(),
            Retention {
                versions: Some(2),
                days: None,
                tombstone_days: Some(1),
            },
        )],
        now: chrono::Utc::now() + chrono::Duration::days(2),
        window: 3,
    };
    let high = store.high_water().await.expect("high water");
    let report = store.compact(&plan).await.expect("compact");
    // Positions are never given out twice, though the latest rows are gone.
    assert_eq!(store.high_water().await.expect("high water"), high);
    assert_eq!(
        (report.versions_removed, report.records_forgotten),
        (3, 1),
        "{report:?}"
    );
    let horizon = store.horizon().await.expect("horizon");
    assert!(
        horizon > before_deletion.0 && horizon == report.horizon,
        "{report:?}"
    );
    // The two latest versions remain, rebuilt exactly as they were.
    assert_eq!(
        store.history("a", kept).await.expect("history"),
        before[3..].to_vec()
    );
    assert_eq!(store.history("b", other).await.expect("history").len(), 3);
    assert_eq!(store.current("a", gone).await.expect("current"), None);
    assert!(store.history("a", gone).await.expect("history").is_empty());
    // Compacting again finds nothing more.
    assert_eq!(
        store.compact(&plan).await.expect("compact"),
        CompactReport {
            horizon,
            ..CompactReport::default()
        }
    );

    // A cursor below the horizon may have missed the deletion.
    let reader = || super::Reader::of_collections(vec!["a".into(), "b".into()]);
    assert!(matches!(
        store.changes(before_deletion, 100, reader()).await,
        Err(StoreError::CursorExpired(h)) if h == horizon
    ));
    let fresh = store
        .changes(Cursor(0), 100, reader())
        .await
        .expect("from the start");
    assert!(fresh.changes.iter().all(|r| r.id != gone));
    assert_eq!(fresh.changes.len(), 2);
    store
        .changes(Cursor(horizon), 100, reader())
        .await
        .expect("from the horizon");

    // An edit of the forgotten record is an edit of a deleted one…
    let edit = pushed(put(
        "a",
        gone,
        Some(1),
        json!({"title": "gone"}),
        json!({"title": "mine"}),
    ))
    .await;
    assert_eq!(
        edit.conflict.as_ref().map(|c| c.kind),
        Some(ConflictKind::EditDelete)
    );
    let theirs = edit.record.expect("the record as a deletion");
    assert!(theirs.deleted && theirs.version == 0 && theirs.fields.is_empty());
    // …its deletion is done already, and restoring it from version 0 creates it.
    assert_eq!(pushed(delete("a", gone, 2)).await.status, Status::Applied);
    let out = store
        .push(
            ctx.clone(),
            vec![put("a", gone, Some(0), json!({}), json!({"title": "back"}))],
        )
        .await
        .expect("push");
    assert!(
        out.last_write.is_some_and(|c| c.0 > high),
        "{:?} after {high}",
        out.last_write
    );
    let restored = out.results[0].clone();
    assert_eq!(restored.status, Status::Applied);
    assert_eq!(restored.record.map(|r| r.version), Some(1));
    // A replay whose version was removed answers with the record as it is.
    let replay = pushed(create).await;
    assert_eq!(replay.status, Status::Applied);
    assert_eq!(replay.record.map(|r| r.version), Some(5));
}

/// Records with a value for a field (not null, "", or []), and per value
/// of a choice field; deleted records do not count.
async fn field_usage_counts_values_of_live_records(store: DynStore) {
    partitioned(&store, "p", &[]).await;
    let admin = ctx_of(&store, "admin").await;
    let with = |fields: serde_json::Value| put("p", Uuid::now_v7(), None, json!({}), fields);
    let gone = placed("p", "region", "south", "gone");
    store
        .push(
            admin.clone(),
            vec![
                placed("p", "region", "north", "a"),
                placed("p", "region", "north", "b"),
                placed("p", "region", "east", "c"),
                with(json!({"title": "d", "region": null})),
                with(json!({"title": "f"})),
                gone.clone(),
            ],
        )
        .await
        .expect("push");
    let r = one(&store, admin, delete("p", gone.record_id, 1)).await;
    assert_eq!(r.status, Status::Applied);
    let usage = store.field_usage("p", "region", true).await.expect("usage");
    assert_eq!((usage.live, usage.with_value), (5, 3));
    let options: Vec<(String, u64)> = usage
        .options
        .iter()
        .filter(|o| !o.value.is_empty())
        .map(|o| (o.value.clone(), o.records))
        .collect();
    assert_eq!(options, [("east".to_string(), 1), ("north".to_string(), 2)]);
    let titles = store.field_usage("p", "title", false).await.expect("usage");
    assert_eq!((titles.live, titles.with_value), (5, 5));
    assert!(titles.options.is_empty());
    assert!(matches!(
        store.field_usage("p", "x') OR 1=1 --", false).await,
        Err(StoreError::Invalid(_))
    ));
}

/// Roles and disabling: the last enabled admin cannot be demoted or
/// disabled, and disabling signs out every device of the user.
async fn roles_keep_an_administrator(store: DynStore) {
    use ferry_protocol::admin::Role;
    let ann = store.create_user("ann", "h").await.expect("user");
    store.create_user("ben", "h").await.expect("user");
    let user = |name: &'static str| {
        let store = store.clone();
        async move {
            let users = store.admin_users().await.expect("users");
            users
                .into_iter()
                .find(|u| u.username == name)
                .expect("listed")
        }
    };
    assert_eq!(user("ann").await.role, Role::Member);
    store
        .update_user("ann", Some(Role::Admin), None)
        .await
        .expect("role");
    let row = store.user_by_name("ann").await.expect("read").expect("row");
    assert_eq!((row.role, row.disabled), (Role::Admin, false));
    for (role, disabled) in [(Some(Role::Member), None), (None, Some(true))] {
        assert!(
            matches!(
                store.update_user("ann", role, disabled).await,
                Err(StoreError::LastAdmin(_))
            ),
            "the last admin stays: {role:?} {disabled:?}"
        );
    }
    assert_eq!(user("ann").await.role, Role::Admin, "nothing half-written");
    assert!(matches!(
        store.update_user("nobody", Some(Role::Admin), None).await,
        Err(StoreError::NotFound(_))
    ));

    store
        .update_user("ben", Some(Role::Admin), None)
        .await
        .expect("a second admin");
    let (t1, t2) = ([21u8; 32], [22u8; 32]);
    store
        .create_session(ann, &device("ann-laptop"), &t1)
        .await
        .expect("session");
    store
        .create_session(ann, &device("ann-phone"), &t2)
        .await
        .expect("session");
    assert_eq!(user("ann").await.devices, 2);
    let signed_out = store
        .update_user("ann", None, Some(true))
        .await
        .expect("disable");
    assert_eq!(signed_out, 2);
    let ann_now = user("ann").await;
    assert!(ann_now.disabled);
    assert_eq!(ann_now.devices, 0);
    for t in [t1, t2] {
        let d = store.token_device(&t).await.expect("read").expect("row");
        assert!(d.revoked, "{}", d.name);
    }
    assert!(matches!(
        store.update_user("ben", None, Some(true)).await,
        Err(StoreError::LastAdmin(_))
    ));
    assert_eq!(
        store
            .update_user("ann", None, Some(false))
            .await
            .expect("enable"),
        0
    );
    assert!(!user("ann").await.disabled);
}

/// Audit lines come back newest first, filtered by actor, action prefix
/// and target, a page at a time.
async fn the_audit_log_filters_and_pages(store: DynStore) {
    use super::{AuditFilter, NewAudit};
    let device = Uuid::now_v7();
    let lines = [
        ("ann", "user.add", "dana"),
        ("ann", "user.disable", "dana"),
        ("cli:root", "grant.give", "tasks"),
        ("ben", "user.add", "erin"),
        ("ann", "team.add", "north"),
    ];
    for (actor, action, target) in lines {
        store
            .add_audit(NewAudit {
                actor: actor.into(),
                device_id: (actor == "ann").then_some(device),
                ip: Some("192.0.2.7".into()),
                action: action.into(),
                target: target.into(),
                detail: json!({"n": 1}),
            })
            .await
            .expect("audit");
    }
    let read = |f: AuditFilter| {
        let store = store.clone();
        async move {
            let got = store.audit(f).await.expect("audit");
            got.into_iter()
                .map(|e| (e.actor, e.action, e.target))
                .collect::<Vec<_>>()
        }
    };
    let all = store
        .audit(AuditFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(all.len(), 5);
    assert_eq!(all[0].action, "team.add", "newest first");
    assert_eq!(all[0].device_id, Some(device));
    assert_eq!(all[0].ip.as_deref(), Some("192.0.2.7"));
    assert_eq!(all[0].detail, json!({"n": 1}));
    assert!(all.windows(2).all(|w| w[0].seq > w[1].seq));
    let t = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(
        read(AuditFilter {
            actor: Some("ann".into()),
            limit: 10,
            ..Default::default()
        })
        .await,
        [
            t("ann", "team.add", "north"),
            t("ann", "user.disable", "dana"),
            t("ann", "user.add", "dana")
        ]
    );
    assert_eq!(
        read(AuditFilter {
            action: Some("user.".into()),
            target: Some("dana".into()),
            limit: 10,
            ..Default::default()
        })
        .await,
        [
            t("ann", "user.disable", "dana"),
            t("ann", "user.add", "dana")
        ]
    );
    // A prefix is a prefix, not a pattern.
    assert_eq!(
        read(AuditFilter {
            action: Some("user%".into()),
            limit: 10,
            ..Default::default()
        })
        .await,
        []
    );
    let page = read(AuditFilter {
        before: Some(all[1].seq),
        limit: 2,
        ..Default::default()
    })
    .await;
    assert_eq!(
        page,
        [
            t("cli:root", "grant.give", "tasks"),
            t("ann", "user.disable", "dana")
        ]
    );
}

/// The grants of users, teams and everyone, the values of one grant gathered.
async fn every_grant_is_listed_with_its_subject(store: DynStore) {
    use ferry_protocol::admin::{Grant, GrantAccess, Subject};
    partitioned(&store, "p", &["dana"]).await;
    let grant =
        |subject, collection: &str, access: Option<crate::rules::Right>, values: &[&str]| {
            super::RuleChange::Grant {
                subject,
                collection: collection.into(),
                access,
                values: values.iter().map(|v| v.to_string()).collect(),
            }
        };
    use super::GrantSubject as G;
    use crate::rules::Right;
    store
        .change_rules(super::RuleChange::TeamAdd("north".into()))
        .await
        .expect("team");
    for change in [
        grant(
            G::User("dana".into()),
            "p",
            Some(Right::Read),
            &["south", "north"],
        ),
        grant(G::Team("north".into()), "p", Some(Right::Write), &["north"]),
        grant(G::Everyone, "t", Some(Right::Read), &[]),
        grant(G::User("dana".into()), "t", Some(Right::Write), &[]),
    ] {
        store.change_rules(change).await.expect("grant");
    }
    let user = |n: &str| Subject::User { name: n.into() };
    let g = |subject, collection: &str, access, values: &[&str]| Grant {
        subject,
        collection: collection.into(),
        access,
        values: values.iter().map(|v| v.to_string()).collect(),
    };
    assert_eq!(
        store.all_grants().await.expect("grants"),
        [
            g(user("admin"), "p", GrantAccess::Write, &[]),
            g(user("dana"), "p", GrantAccess::Read, &["north", "south"]),
            g(
                Subject::Team {
                    name: "north".into()
                },
                "p",
                GrantAccess::Write,
                &["north"]
            ),
            g(user("dana"), "t", GrantAccess::Write, &[]),
            g(Subject::Everyone, "t", GrantAccess::Read, &[]),
        ]
    );
}

/// Live records of a collection, all or those in some partition values.
async fn records_are_counted_per_partition_value(store: DynStore) {
    partitioned(&store, "p", &[]).await;
    let admin = ctx_of(&store, "admin").await;
    let (n1, n2, s1, e1) = (
        placed("p", "region", "north", "n1"),
        placed("p", "region", "north", "n2"),
        placed("p", "region", "south", "s1"),
        placed("p", "region", "east", "e1"),
    );
    store
        .push(admin.clone(), vec![n1.clone(), n2, s1, e1.clone()])
        .await
        .expect("push");
    let count = |values: Option<&[&str]>| {
        let store = store.clone();
        let values = values.map(|v| v.iter().map(|s| s.to_string()).collect());
        async move { store.count_records("p", values).await.expect("count") }
    };
    assert_eq!(count(None).await, 4);
    assert_eq!(count(Some(&["north"])).await, 2);
    assert_eq!(count(Some(&["north", "south"])).await, 3);
    assert_eq!(count(Some(&["west"])).await, 0);
    // Deleted and moved records count where they are now.
    let gone = delete("p", e1.record_id, 1);
    assert_eq!(
        one(&store, admin.clone(), gone).await.status,
        Status::Applied
    );
    let r = one(&store, admin, moved(&n1, 1, "region", "north", "south")).await;
    assert_eq!(r.status, Status::Applied);
    assert_eq!(count(None).await, 3);
    assert_eq!(count(Some(&["north"])).await, 1);
    assert_eq!(count(Some(&["south"])).await, 2);
    assert_eq!(
        store.count_records("nothing", None).await.expect("count"),
        0
    );
}

/// The sampled gauges of `/metrics`: records (deleted ones too) and
/// history rows per collection that has any.
async fn collection_sizes_count_records_and_history_rows(store: DynStore) {
    let ctx = setup(&store).await;
    assert_eq!(store.collection_sizes().await.expect("sizes"), []);
    let (one, two) = (Uuid::now_v7(), Uuid::now_v7());
    let create = |id| put("a", id, None, json!({}), json!({"title": "t"}));
    store
        .push(ctx.clone(), vec![create(one), create(two)])
        .await
        .expect("push");
    let edit = put(
        "a",
        one,
        Some(1),
        json!({"title": "t"}),
        json!({"title": "u"}),
    );
    let out = store.push(ctx, vec![edit]).await.expect("push");
    assert_eq!(out.results[0].status, Status::Applied);
    assert_eq!(
        store.collection_sizes().await.expect("sizes"),
        [super::CollectionSize {
            collection: "a".into(),
            records: 2,
            history_rows: 3,
        }]
    );
}

/// Pushes the creation of a new record titled `title` in `collection`.
async fn create_titled(
    store: &DynStore,
    ctx: PushContext,
    collection: &str,
    title: &str,
) -> PushOutcome {
    let m = put(
        collection,
        Uuid::now_v7(),
        None,
        json!({}),
        json!({"title": title}),
    );
    store.push(ctx, vec![m]).await.expect("push")
}

fn def(name: &str) -> CollectionDef {
    CollectionDef {
        partition_by: None,
        fetch_files: None,
        retired: Default::default(),
        history: None,
        name: name.into(),
        label: name.to_uppercase(),
        title_field: "title".into(),
        policy: Policy::Manual,
        fields: vec![
            Field {
                name: "title".into(),
                label: "Title".into(),
                field_type: FieldType::Text,
                required: true,
                options: None,
                merge: None,
                multiple: false,
                max_size: None,
                accept: None,
            },
            Field {
                name: "n".into(),
                label: "N".into(),
                field_type: FieldType::Number,
                required: false,
                options: None,
                merge: None,
                multiple: false,
                max_size: None,
                accept: None,
            },
            Field {
                name: "note".into(),
                label: "Note".into(),
                field_type: FieldType::Text,
                required: false,
                options: None,
                merge: None,
                multiple: false,
                max_size: None,
                accept: None,
            },
        ],
    }
}

fn obj(v: serde_json::Value) -> Fields {
    v.as_object().cloned().unwrap_or_default()
}

fn stamp() -> Hlc {
    Hlc::new(chrono::Utc::now().timestamp_millis(), 0, "dev").expect("stamp")
}

fn put(
    collection: &str,
    id: Uuid,
    base_version: Option<i64>,
    base: serde_json::Value,
    fields: serde_json::Value,
) -> Mutation {
    Mutation {
        mutation_id: Uuid::now_v7(),
        collection: collection.into(),
        record_id: id,
        op: Op::Put,
        base_version,
        base: obj(base),
        fields: obj(fields),
        hlc: stamp(),
    }
}

fn delete(collection: &str, id: Uuid, base_version: i64) -> Mutation {
    Mutation {
        op: Op::Delete,
        ..put(collection, id, Some(base_version), json!({}), json!({}))
    }
}

/// A user "u" who writes `a` and reads `b`, with both collections defined.
async fn setup(store: &DynStore) -> PushContext {
    store
        .put_collections(&[def("a"), def("b")])
        .await
        .expect("collections");
    let user_id = store.create_user("u", "hash").await.expect("user");
    store
        .set_grant("u", "a", Some(Access::Write))
        .await
        .expect("grant");
    store
        .set_grant("u", "b", Some(Access::Read))
        .await
        .expect("grant");
    let grants = store.grants(user_id).await.expect("grants");
    PushContext {
        session: Session {
            user_id,
            username: "u".into(),
            device_id: Uuid::now_v7(),
        },
        view: Arc::new(super::view_of_grants(&grants)),
        clock: Arc::new(Clock::new(
            "srv",
            None,
            crate::Limits::default().max_clock_drift,
        )),
    }
}

async fn a_push_names_where_its_writes_sit_in_the_feed(store: DynStore) {
    let ctx = setup(&store).await;
    let x = Uuid::now_v7();
    let first = store
        .push(
            ctx.clone(),
            vec![put("a", x, None, json!({}), json!({"title": "x"}))],
        )
        .await
        .expect("push");
    let (_, feed_end) = all_changes(&store, &["a"]).await;
    assert_eq!(first.last_write, Some(feed_end));
    assert!(first.written_after < feed_end);

    let (y, z) = (Uuid::now_v7(), Uuid::now_v7());
    let out = store
        .push(
            ctx.clone(),
            vec![
                put("a", y, None, json!({}), json!({"title": "y"})),
                put(
                    "a",
                    x,
                    Some(1),
                    json!({"title": "x"}),
                    json!({"title": "x2"}),
                ),
                put("a", z, None, json!({}), json!({"title": "z"})),
            ],
        )
        .await
        .expect("push");
    // A client that had pulled up to the end of the feed holds `written_after`.
    assert_eq!(out.written_after, feed_end);
    let page = store
        .changes(
            out.written_after,
            5000,
            super::Reader::of_collections(vec!["a".into()]),
        )
        .await
        .expect("changes");
    let mut ids: Vec<Uuid> = page.changes.iter().map(|r| r.id).collect();
    ids.sort();
    let mut mine = vec![x, y, z];
    mine.sort();
    assert_eq!(
        ids, mine,
        "the feed after it holds exactly the push's writes"
    );
    assert_eq!(Some(page.cursor), out.last_write);

    // A push that writes nothing names no range.
    let again = store
        .push(
            ctx.clone(),
            vec![put(
                "a",
                x,
                Some(1),
                json!({"title": "x"}),
                json!({"title": "other"}),
            )],
        )
        .await
        .expect("push");
    assert_eq!(again.results[0].status, Status::Conflict);
    assert_eq!(again.last_write, None);
}

async fn all_changes(
    store: &DynStore,
    collections: &[&str],
) -> (Vec<ferry_protocol::Record<super::RawFields>>, Cursor) {
    let cols: Vec<String> = collections.iter().map(|s| s.to_string()).collect();
    let page = store
        .changes(Cursor(0), 5000, super::Reader::of_collections(cols))
        .await
        .expect("changes");
    (page.changes, page.cursor)
}

async fn users_and_passwords(store: DynStore) {
    let id = store.create_user("alice", "h1").await.expect("create");
    assert!(matches!(
        store.create_user("alice", "h2").await,
        Err(StoreError::Exists(_))
    ));
    let row = store
        .user_by_name("alice")
        .await
        .expect("lookup")
        .expect("exists");
    assert_eq!((row.id, row.password_hash.as_str()), (id, "h1"));
    assert!(
        store
            .user_by_name("nobody")
            .await
            .expect("lookup")
            .is_none()
    );
    let token = [7u8; 32];
    store
        .create_session(id, &device("laptop"), &token)
        .await
        .expect("session");
    store
        .set_password("alice", "h2")
        .await
        .expect("set password");
    assert_eq!(
        store
            .user_by_name("alice")
            .await
            .expect("lookup")
            .expect("exists")
            .password_hash,
        "h2"
    );
    assert!(
        store.session(&token).await.expect("lookup").is_none(),
        "a new password ends sessions"
    );
    assert!(matches!(
        store.set_password("nobody", "x").await,
        Err(StoreError::NotFound(_))
    ));
}

async fn grants(store: DynStore) {
    let id = store.create_user("bob", "h").await.expect("create");
    store
        .set_grant("bob", "a", Some(Access::Read))
        .await
        .expect("grant");
    store
        .set_grant("bob", "b", Some(Access::Write))
        .await
        .expect("grant");
    store
        .set_grant("bob", "a", Some(Access::Write))
        .await
        .expect("upgrade");
    store.set_grant("bob", "b", None).await.expect("revoke");
    let g = store.grants(id).await.expect("grants");
    assert_eq!(g, HashMap::from([("a".to_string(), Access::Write)]));
    assert!(matches!(
        store.set_grant("nobody", "a", Some(Access::Read)).await,
        Err(StoreError::NotFound(_))
    ));
}

fn device(name: &str) -> NewDevice {
    NewDevice {
        name: name.into(),
        ..NewDevice::default()
    }
}

async fn sessions(store: DynStore) {
    let id = store.create_user("carol", "h").await.expect("create");
    let (t1, t2) = ([1u8; 32], [2u8; 32]);
    let d1 = store
        .create_session(id, &device("one"), &t1)
        .await
        .expect("session");
    let d2 = store
        .create_session(id, &device("two"), &t2)
        .await
        .expect("session");
    assert_ne!(d1, d2);
    let s = store.session(&t1).await.expect("lookup").expect("exists");
    assert_eq!(
        (s.user_id, s.username.as_str(), s.device_id),
        (id, "carol", d1)
    );
    store.revoke_session(&t1).await.expect("revoke");
    assert!(store.session(&t1).await.expect("lookup").is_none());
    assert!(
        store.session(&t2).await.expect("lookup").is_some(),
        "other devices stay logged in"
    );
}

async fn devices(store: DynStore) {
    let dana = store.create_user("dana", "h").await.expect("create");
    let erin = store.create_user("erin", "h").await.expect("create");
    let (t1, t2, t3) = ([11u8; 32], [12u8; 32], [13u8; 32]);
    let laptop = NewDevice {
        name: "dana-laptop".into(),
        platform: "linux".into(),
        app_version: "ferry-desktop 0.4.0".into(),
        ip: Some("192.0.2.7".into()),
    };
    let d1 = store
        .create_session(dana, &laptop, &t1)
        .await
        .expect("session");
    let d2 = store
        .create_session(dana, &device("dana-phone"), &t2)
        .await
        .expect("session");
    let d3 = store
        .create_session(erin, &device("erin-laptop"), &t3)
        .await
        .expect("session");
    let row = store.token_device(&t1).await.expect("lookup").expect("row");
    assert_eq!(
        (
            row.id,
            row.user_id,
            row.username.as_str(),
            row.name.as_str(),
            row.platform.as_str(),
            row.app_version.as_str(),
            row.last_ip.as_deref(),
            row.revoked,
            row.wipe
        ),
        (
            d1,
            dana,
            "dana",
            "dana-laptop",
            "linux",
            "ferry-desktop 0.4.0",
            Some("192.0.2.7"),
            false,
            false
        )
    );
    assert_eq!(row.first_seen, row.last_seen);
    // A contact moves last_seen on and notes where it came from.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    store
        .touch_session(&t1, Some("198.51.100.4".into()))
        .await
        .expect("touch");
    let touched = store.token_device(&t1).await.expect("lookup").expect("row");
    assert!(touched.last_seen > row.last_seen, "{touched:?}");
    assert_eq!(touched.last_ip.as_deref(), Some("198.51.100.4"));
    assert_eq!(touched.first_seen, row.first_seen);

    // Per user, most recently seen first; everyone's without a user.
    let ids = |rows: Vec<DeviceRow>| rows.into_iter().map(|d| d.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.devices(Some(dana)).await.expect("list")),
        [d1, d2]
    );
    let all = ids(store.devices(None).await.expect("list"));
    assert!(all.contains(&d3) && all.len() == 3, "{all:?}");

    // Revoked: the token opens no session, the row says why; wipe too.
    let before = store.revoke_device(d2, false).await.expect("revoke");
    assert_eq!(before.map(|d| d.name), Some("dana-phone".to_string()));
    assert!(store.session(&t2).await.expect("lookup").is_none());
    let revoked = store
        .token_device(&t2)
        .await
        .expect("lookup")
        .expect("kept");
    assert!(revoked.revoked && !revoked.wipe);
    store.revoke_device(d1, true).await.expect("wipe");
    let wiped = store
        .token_device(&t1)
        .await
        .expect("lookup")
        .expect("kept");
    assert!(wiped.revoked && wiped.wipe);
    assert!(store.session(&t3).await.expect("lookup").is_some());
    assert!(
        store
            .revoke_device(uuid::Uuid::now_v7(), false)
            .await
            .expect("revoke nothing")
            .is_none()
    );
}

async fn collections_keep_order_and_replace(store: DynStore) {
    store
        .put_collections(&[def("zeta"), def("alpha")])
        .await
        .expect("put");
    let mut changed = def("zeta");
    changed.label = "Zeta v2".into();
    store
        .put_collections(&[changed.clone(), def("mid")])
        .await
        .expect("put");
    let names: Vec<String> = store
        .collections()
        .await
        .expect("list")
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["zeta", "alpha", "mid"]);
    assert_eq!(store.collections().await.expect("list")[0], changed);
    let mut bad = def("bad");
    bad.title_field = "missing".into();
    assert!(store.put_collections(&[bad]).await.is_err());
}

/// A record with one large field, edited many times (some edits several to
/// a push): history storage grows with the edits, not with the record's
/// size; every version comes back exactly, whole or paged; replays and
/// delete/edit conflicts still see old versions.
async fn history_grows_with_what_changed_and_pages(store: DynStore) {
    const BIG: usize = 100_000;
    let ctx = setup(&store).await;
    let id = Uuid::now_v7();
    let big = |c: char| c.to_string().repeat(BIG);
    let first = put(
        "a",
        id,
        None,
        json!({}),
        json!({"title": "t", "note": big('a')}),
    );
    let out = store
        .push(ctx.clone(), vec![first.clone()])
        .await
        .expect("create");
    assert_eq!(out.results[0].status, Status::Applied);
    let mut expected = vec![obj(json!({"title": "t", "note": big('a')}))];
    let mut big_changes = 0;
    for round in 0..10i64 {
        // Three edits of the record in one push, each on the one before.
        let mut batch = Vec::new();
        for k in 0..3i64 {
            let base = expected.len() as i64;
            let mut next = expected[expected.len() - 1].clone();
            let change = if k == 2 && round % 4 == 0 {
                big_changes += 1;
                json!({"note": big(char::from(b'b' + round as u8))})
            } else if k == 1 && round == 5 {
                // Removing a field is a change too.
                json!({"n": null})
            } else {
                json!({"n": round * 10 + k, "title": format!("t{round}")})
            };
            for (name, v) in obj(change.clone()) {
                if v.is_null() {
                    next.remove(&name);
                } else {
                    next.insert(name, v);
                }
            }
            batch.push(put("a", id, Some(base), json!({}), change));
            expected.push(next);
        }
        let out = store.push(ctx.clone(), batch).await.expect("edits");
        for r in &out.results {
            assert_eq!(r.status, Status::Applied, "{r:?}");
        }
        assert_eq!(
            out.results[2].record.as_ref().map(|r| &r.fields),
            expected.last()
        );
    }
    let stored = store.history_stored_bytes("a", id).await.expect("bytes");
    // Whole copies would be 31 x 100 KB; changes are the first value, each
    // replaced large value, the latest, and a few small fields per version.
    let bound = (2 + big_changes) * BIG as u64 + 64 * expected.len() as u64;
    assert!(
        stored <= bound,
        "history holds {stored} bytes for {} versions; at most {bound} expected",
        expected.len()
    );

    let all = store.history("a", id).await.expect("history");
    assert_eq!(all.len(), expected.len());
    for (i, (got, want)) in all.iter().zip(&expected).enumerate() {
        assert_eq!(got.version, i as i64 + 1);
        assert_eq!(&got.fields, want, "version {}", i + 1);
    }
    // Pages of 7: the same versions, has_more until the last.
    let mut paged = Vec::new();
    loop {
        let after = paged
            .last()
            .map_or(0, |r: &ferry_protocol::Record| r.version);
        let page = store
            .history_page("a", id, after, 7, usize::MAX)
            .await
            .expect("page");
        assert!(page.versions.len() <= 7);
        let done = !page.has_more;
        paged.extend(page.versions);
        if done {
            break;
        }
    }
    assert_eq!(paged, all);
    // A byte budget smaller than one version still gives one.
    let page = store.history_page("a", id, 3, 100, 10).await.expect("page");
    assert_eq!(page.versions.len(), 1);
    assert_eq!(page.versions[0], all[3]);
    assert!(page.has_more);
    let page = store
        .history_page("a", id, 31, 100, 10)
        .await
        .expect("page");
    assert!(page.versions.is_empty() && !page.has_more);

    // A replayed create answers with version 1 as it was.
    let out = store.push(ctx.clone(), vec![first]).await.expect("replay");
    assert_eq!(out.results[0].record.as_ref(), Some(&all[0]));
    // Deleting from version 2 names what changed since then.
    let out = store
        .push(ctx.clone(), vec![delete("a", id, 2)])
        .await
        .expect("delete");
    let conflict = out.results[0].conflict.as_ref().expect("conflict");
    assert_eq!(conflict.kind, ConflictKind::DeleteEdit);
    assert_eq!(conflict.fields, ["n", "note", "title"]);
}

async fn create_update_and_history(store: DynStore) {
    let ctx = setup(&store).await;
    let id = Uuid::now_v7();
    let out = store
        .push(
            ctx.clone(),
            vec![put(
                "a",
                id,
                None,
                json!({}),
                json!({"title": "one", "n": 1}),
            )],
        )
        .await
        .expect("push");
    let r = &out.results[0];
    assert_eq!(r.status, Status::Applied, "{r:?}");
    let rec = r.record.as_ref().expect("record");
    assert_eq!(
        (rec.version, rec.updated_by.as_str(), rec.deleted),
        (1, "u", false)
    );
    assert_eq!(out.touched, ["a"]);
    let first_seq = out.last_write.expect("written");

    let out = store
        .push(
            ctx.clone(),
            vec![put("a", id, Some(1), json!({"n": 1}), json!({"n": 2}))],
        )
        .await
        .expect("push");
    assert_eq!(out.results[0].status, Status::Applied);
    assert!(out.last_write.expect("written") > first_seq);
    // A second client still on version 1 changes another field: merged.
    let out = store
        .push(
            ctx.clone(),
            vec![put(
                "a",
                id,
                Some(1),
                json!({"note": null}),
                json!({"note": "hi"}),
            )],
        )
        .await
        .expect("push");
    let r = &out.results[0];
    assert_eq!(r.status, Status::Merged);
    assert_eq!(
        r.record.as_ref().expect("record").fields,
        obj(json!({"title": "one", "n": 2, "note": "hi"}))
    );

    let history = store.history("a", id).await.expect("history");
    assert_eq!(
        history.iter().map(|r| r.version).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(history[0].fields, obj(json!({"title": "one", "n": 1})));
    assert!(
        history
            .windows(2)
            .all(|w| w[0].updated_at < w[1].updated_at)
    );
    assert!(
        store
            .history("a", Uuid::now_v7())
            .await
            .expect("history")
            .is_empty()
    );
    let (changes, _) = all_changes(&store, &["a"]).await;
    assert_eq!(
        changes.len(),
        1,
        "a record appears once, at its latest version"
    );
    assert_eq!(changes[0].version, 3);
}

async fn replayed_mutation_returns_first_result_and_writes_nothing(store: DynStore) {
    let ctx = setup(&store).await;
    let id = Uuid::now_v7();
    let create = put("a", id, None, json!({}), json!({"title": "once"}));
    let first = store
        .push(ctx.clone(), vec![create.clone()])
        .await
        .expect("push");
    let edit = put(
        "a",
        id,
        Some(1),
        json!({"title": "once"}),
        json!({"title": "twice"}),
    );
    store
        .push(ctx.clone(), vec![edit.clone()])
        .await
        .expect("push");
    let (_, cursor_before) = all_changes(&store, &["a"]).await;

    let again = store
        .push(ctx.clone(), vec![create.clone(), edit.clone()])
        .await
        .expect("replay");
    assert_eq!(
        again.results[0], first.results[0],
        "the first answer, record as it was then"
    );
    assert_eq!(again.results[1].record.as_ref().expect("record").version, 2);
    assert_eq!(again.last_write, None);
    let (_, cursor_after) = all_changes(&store, &["a"]).await;
    assert_eq!(cursor_before, cursor_after, "nothing written");
    assert_eq!(store.history("a", id).await.expect("history").len(), 2);

    // The same mutation twice in one batch is applied once.
    let id2 = Uuid::now_v7();
    let m = put("a", id2, None, json!({}), json!({"title": "dup"}));
    let out = store
        .push(ctx.clone(), vec![m.clone(), m])
        .await
        .expect("push");
    assert_eq!(out.results[0], out.results[1]);
    assert_eq!(store.history("a", id2).await.expect("history").len(), 1);
}

async fn conflicts_and_rejections_write_nothing(store: DynStore) {
    let ctx = setup(&store).await;
    let id = Uuid::now_v7();
    store
        .push(
            ctx.clone(),
            vec![put(
                "a",
                id,
                None,
                json!({}),
                json!({"title": "t", "note": "base"}),
            )],
        )
        .await
        .expect("push");
    store
        .push(
            ctx.clone(),
            vec![put(
                "a",
                id,
                Some(1),
                json!({"note": "base"}),
                json!({"note": "theirs"}),
            )],
        )
        .await
        .expect("push");
    let (_, before) = all_changes(&store, &["a", "b"]).await;
    let out = store
        .push(
            ctx.clone(),
            vec![
                put(
                    "a",
                    id,
                    Some(1),
                    json!({"note": "base"}),
                    json!({"note": "mine"}),
                ),
                put(
                    "b",
                    Uuid::now_v7(),
                    None,
                    json!({}),
                    json!({"title": "read only"}),
                ),
                put(
                    "nope",
                    Uuid::now_v7(),
                    None,
                    json!({}),
                    json!({"title": "x"}),
                ),
                put("a", Uuid::now_v7(), None, json!({}), json!({"title": 5})),
            ],
        )
        .await
        .expect("push");
    let r = &out.results;
    assert_eq!(r[0].status, Status::Conflict);
    let c = r[0].conflict.as_ref().expect("conflict");
    assert_eq!(
        (c.kind, c.fields.as_slice()),
        (ConflictKind::EditEdit, &["note".to_string()][..])
    );
    assert_eq!(
        r[0].record.as_ref().expect("current").fields["note"],
        json!("theirs")
    );
    let codes: Vec<&str> = r[1..]
        .iter()
        .map(|r| r.error.as_ref().map_or("", |e| e.code.as_str()))
        .collect();
    assert_eq!(codes, ["forbidden", "unknown_collection", "invalid_field"]);
    assert!(
        r[1..]
            .iter()
            .all(|r| r.status == Status::Rejected && r.record.is_none())
    );
    assert_eq!(out.last_write, None);
    let (_, after) = all_changes(&store, &["a", "b"]).await;
    assert_eq!(before, after);
}

async fn delete_and_restore(store: DynStore) {
    let ctx = setup(&store).await;
    let id = Uuid::now_v7();
    store
        .push(
            ctx.clone(),
            vec![put("a", id, None, json!({}), json!({"title": "t"}))],
        )
        .await
        .expect("push");
    store
        .push(
            ctx.clone(),
            vec![put("a", id, Some(1), json!({"n": null}), json!({"n": 5}))],
        )
        .await
        .expect("push");
    let out = store
        .push(ctx.clone(), vec![delete("a", id, 1)])
        .await
        .expect("push");
    let c = out.results[0]
        .conflict
        .as_ref()
        .expect("delete/edit conflict");
    assert_eq!(
        (c.kind, c.fields.as_slice()),
        (ConflictKind::DeleteEdit, &["n".to_string()][..])
    );
    let out = store
        .push(ctx.clone(), vec![delete("a", id, 2)])
        .await
        .expect("push");
    let rec = out.results[0].record.clone().expect("tombstone");
    assert!(rec.deleted && rec.version == 3);
    let (changes, _) = all_changes(&store, &["a"]).await;
    assert!(
        changes.iter().any(|r| r.id == id && r.deleted),
        "tombstones are pulled"
    );
    let out = store
        .push(
            ctx.clone(),
            vec![put("a", id, Some(2), json!({"n": 5}), json!({"n": 6}))],
        )
        .await
        .expect("push");
    assert_eq!(
        out.results[0].conflict.as_ref().map(|c| c.kind),
        Some(ConflictKind::EditDelete)
    );
    let out = store
        .push(
            ctx.clone(),
            vec![put("a", id, Some(3), json!({}), json!({"n": 6}))],
        )
        .await
        .expect("push");
    let rec = out.results[0].record.clone().expect("restored");
    assert!(!rec.deleted && rec.version == 4 && rec.fields["title"] == json!("t"));
}

async fn paging_sees_every_change_once_in_order(store: DynStore) {
    let ctx = setup(&store).await;
    let ids: Vec<Uuid> = (0..2500).map(|_| Uuid::now_v7()).collect();
    for chunk in ids.chunks(1000) {
        let batch = chunk
            .iter()
            .map(|id| put("a", *id, None, json!({}), json!({"title": id.to_string()})))
            .collect();
        store.push(ctx.clone(), batch).await.expect("push");
    }
    // Re-edit some so they move to the end of the sequence.
    let batch = ids[..300]
        .iter()
        .map(|id| put("a", *id, Some(1), json!({"n": null}), json!({"n": 1})))
        .collect();
    store.push(ctx.clone(), batch).await.expect("push");

    let mut seen = HashSet::new();
    let mut cursor = Cursor(0);
    let mut pages = 0;
    loop {
        let page = store
            .changes(cursor, 97, super::Reader::of_collections(vec!["a".into()]))
            .await
            .expect("page");
        assert!(page.changes.len() <= 97);
        let next = page.cursor;
        assert!(next >= cursor, "the cursor never goes back");
        for r in &page.changes {
            assert!(seen.insert(r.id), "record {} seen twice", r.id);
        }
        cursor = next;
        pages += 1;
        if !page.has_more {
            break;
        }
    }
    assert_eq!(seen.len(), ids.len(), "every record seen");
    assert!(pages >= 2500 / 97);
    let page = store
        .changes(cursor, 100, super::Reader::of_collections(vec!["a".into()]))
        .await
        .expect("page");
    assert!(page.changes.is_empty() && !page.has_more);
}

async fn changes_only_from_readable_collections(store: DynStore) {
    let ctx = setup(&store).await;
    store
        .set_grant("u", "b", Some(Access::Write))
        .await
        .expect("grant");
    let mut ctx = ctx;
    ctx.view = Arc::new(super::view_of_grants(
        &store.grants(ctx.session.user_id).await.expect("grants"),
    ));
    create_titled(&store, ctx.clone(), "a", "in a").await;
    create_titled(&store, ctx.clone(), "b", "in b").await;
    let (only_a, cursor) = all_changes(&store, &["a"]).await;
    assert_eq!(only_a.len(), 1);
    assert_eq!(only_a[0].collection, "a");
    let (both, both_cursor) = all_changes(&store, &["a", "b"]).await;
    assert_eq!(both.len(), 2);
    assert_eq!(
        cursor, both_cursor,
        "the cursor moves past changes the reader cannot see"
    );
    let (none, _) = all_changes(&store, &[]).await;
    assert!(none.is_empty());
}

async fn latest_stamp_survives(store: DynStore) {
    assert_eq!(store.latest_stamp().await.expect("stamp"), None);
    let ctx = setup(&store).await;
    let out = create_titled(&store, ctx.clone(), "a", "t").await;
    let written = out.results[0]
        .record
        .as_ref()
        .expect("record")
        .updated_at
        .clone();
    assert_eq!(store.latest_stamp().await.expect("stamp"), Some(written));
    store.ping().await.expect("ping");
}

/// How many mutation ids the store remembers: pruning with no horizon
/// forgets (and counts) them all.
async fn remembered_count(store: &DynStore) -> usize {
    tokio::time::sleep(Duration::from_millis(5)).await;
    store
        .prune_mutations(Duration::ZERO, usize::MAX)
        .await
        .expect("prune")
}

/// Breaks: remembering every result (rows pile up, and the replay after the
/// grant is still `forbidden`); not checking names first (the 16 KB name is
/// echoed as `unknown_collection`).
async fn rejections_of_what_the_user_may_not_write_are_not_remembered(store: DynStore) {
    let ctx = setup(&store).await;
    let mut hostile = Vec::new();
    for i in 0..500 {
        let name = match i % 3 {
            0 => format!("{}{i}", "x".repeat(16 * 1024)),
            1 => "b".to_string(),
            _ => "nope".to_string(),
        };
        hostile.push(put(
            &name,
            Uuid::now_v7(),
            None,
            json!({}),
            json!({"title": "t"}),
        ));
    }
    let out = store
        .push(ctx.clone(), hostile.clone())
        .await
        .expect("push");
    assert_eq!(out.last_write, None);
    for (i, r) in out.results.iter().enumerate() {
        let error = r.error.as_ref().expect("an error");
        let code = ["invalid_collection", "forbidden", "unknown_collection"][i % 3];
        assert_eq!((r.status, error.code.as_str()), (Status::Rejected, code));
        assert!(
            error.message.len() < 200,
            "not echoed: {}",
            error.message.len()
        );
    }
    // A writer's accepted mutation is remembered; nothing of the above is.
    let ok = put("a", Uuid::now_v7(), None, json!({}), json!({"title": "t"}));
    store.push(ctx.clone(), vec![ok]).await.expect("push");
    assert_eq!(remembered_count(&store).await, 1);

    // Replays are decided again: the same rejection, nothing stored.
    let again = store
        .push(ctx.clone(), hostile.clone())
        .await
        .expect("push");
    assert_eq!(again.results, out.results);
    assert_eq!(remembered_count(&store).await, 0);

    // Granted in between: the replay is applied, once.
    let forbidden = hostile[1].clone();
    store
        .set_grant("u", "b", Some(Access::Write))
        .await
        .expect("grant");
    let granted = PushContext {
        view: Arc::new(super::view_of_grants(
            &store.grants(ctx.session.user_id).await.expect("grants"),
        )),
        ..ctx.clone()
    };
    let applied = store
        .push(granted.clone(), vec![forbidden.clone()])
        .await
        .expect("push");
    assert_eq!(applied.results[0].status, Status::Applied);
    let replay = store
        .push(granted, vec![forbidden.clone()])
        .await
        .expect("push");
    assert_eq!(replay.results, applied.results);
    assert_eq!(replay.last_write, None);
    let history = store
        .history("b", forbidden.record_id)
        .await
        .expect("history");
    assert_eq!(history.len(), 1);
}

/// Breaks: pruning by the wrong side of the horizon, or ignoring the limit.
async fn mutation_ids_past_the_horizon_are_forgotten(store: DynStore) {
    let ctx = setup(&store).await;
    let (old_id, new_id) = (Uuid::now_v7(), Uuid::now_v7());
    let old = put("a", old_id, None, json!({}), json!({"title": "old"}));
    let new = put("a", new_id, None, json!({}), json!({"title": "new"}));
    let first_old = store
        .push(ctx.clone(), vec![old.clone()])
        .await
        .expect("push");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let first_new = store
        .push(ctx.clone(), vec![new.clone()])
        .await
        .expect("push");

    let horizon = Duration::from_millis(500);
    assert_eq!(store.prune_mutations(horizon, 10).await.expect("prune"), 1);
    assert_eq!(store.prune_mutations(horizon, 10).await.expect("prune"), 0);
    // Still remembered: the first answer again.
    let again = store
        .push(ctx.clone(), vec![new.clone()])
        .await
        .expect("push");
    assert_eq!(again.results, first_new.results);
    // Forgotten: decided again, as an edit of what it already wrote, which
    // writes nothing (DESIGN.md, "Wire protocol v1").
    let late = store
        .push(ctx.clone(), vec![old.clone()])
        .await
        .expect("push");
    assert_eq!(first_old.results[0].status, Status::Applied);
    assert_eq!(late.results[0].status, Status::Merged);
    assert_eq!(late.last_write, None);
    assert_eq!(store.history("a", old_id).await.expect("history").len(), 1);

    // A batch never deletes more than its limit.
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        store
            .prune_mutations(Duration::ZERO, 1)
            .await
            .expect("prune"),
        1
    );
    assert_eq!(remembered_count(&store).await, 1);
}

/// A store that already holds a stamp in year 9999 (written before clocks
/// were capped): a clock restarted over it stays near the wall clock.
/// Breaks: taking the stored floor as it is.
async fn a_poisoned_latest_stamp_does_not_pin_a_restarted_clock(store: DynStore) {
    fn year_9999() -> i64 {
        253_402_300_799_000
    }
    let mut ctx = setup(&store).await;
    let drift = crate::Limits::default().max_clock_drift;
    ctx.clock = Arc::new(Clock::with_wall_clock("old", None, drift, year_9999));
    create_titled(&store, ctx.clone(), "a", "t").await;
    let floor = store.latest_stamp().await.expect("stamp").expect("a stamp");
    assert!(floor.to_string().starts_with("9999-"), "{floor}");

    ctx.clock = Arc::new(Clock::new("srv", Some(floor), drift));
    let out = create_titled(&store, ctx.clone(), "a", "t").await;
    let stamped = &out.results[0].record.as_ref().expect("record").updated_at;
    let now = chrono::Utc::now().timestamp_millis();
    let ahead = stamped.wall_ms() - now;
    let drift = i64::try_from(drift.as_millis()).unwrap_or(i64::MAX);
    assert!((-60_000..drift + 60_000).contains(&ahead), "{stamped}");
}

/// Helpers for store tests outside this suite.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    pub(crate) async fn setup(store: &DynStore) -> PushContext {
        super::setup(store).await
    }

    pub(crate) fn put(
        collection: &str,
        id: Uuid,
        base_version: Option<i64>,
        fields: serde_json::Value,
    ) -> Mutation {
        super::put(collection, id, base_version, json!({}), fields)
    }
}

/// A collection `p` partitioned by `region` (a choice), and `t` by
/// `assignee` (a text).
fn partitioned_defs() -> Vec<CollectionDef> {
    let mut p = def("p");
    p.fields.push(Field {
        name: "region".into(),
        label: "Region".into(),
        field_type: FieldType::Choice,
        required: false,
        options: Some(vec!["north".into(), "south".into(), "east".into()]),
        merge: None,
        multiple: false,
        max_size: None,
        accept: None,
    });
    p.partition_by = Some("region".into());
    let mut t = def("t");
    t.fields.push(Field {
        name: "assignee".into(),
        label: "Assignee".into(),
        field_type: FieldType::Text,
        required: false,
        options: None,
        merge: None,
        multiple: false,
        max_size: None,
        accept: None,
    });
    t.partition_by = Some("assignee".into());
    vec![p, t]
}

/// The partitioned collections, `admin` who writes all of `collection`,
/// and `users` without grants.
async fn partitioned(store: &DynStore, collection: &str, users: &[&str]) {
    store
        .put_collections(&partitioned_defs())
        .await
        .expect("collections");
    for name in std::iter::once(&"admin").chain(users) {
        store.create_user(name, "h").await.expect("user");
    }
    store
        .set_grant("admin", collection, Some(Access::Write))
        .await
        .expect("grant");
}

/// What a user may see and write now, as a request would find it.
async fn view_now(store: &DynStore, name: &str) -> (Uuid, crate::rules::View) {
    let user = store
        .user_by_name(name)
        .await
        .expect("user")
        .expect("exists");
    let rules = store.rules_for(user.id).await.expect("rules");
    let defs = store.collections().await.expect("defs");
    (user.id, crate::rules::View::new(name, &rules, &defs))
}

async fn ctx_of(store: &DynStore, name: &str) -> PushContext {
    let (user_id, view) = view_now(store, name).await;
    PushContext {
        session: Session {
            user_id,
            username: name.into(),
            device_id: Uuid::now_v7(),
        },
        view: Arc::new(view),
        clock: Arc::new(Clock::new(
            "srv",
            None,
            crate::Limits::default().max_clock_drift,
        )),
    }
}

/// A client's copy: the records it holds, by id, and its cursor.
#[derive(Default)]
struct Device {
    held: HashMap<Uuid, serde_json::Value>,
    cursor: Cursor,
    walk: Option<super::Walk>,
    /// Records received, counted over every page.
    received: usize,
}

impl Device {
    /// Pulls every page, in pages of `limit`, as a client does.
    async fn pull(&mut self, store: &DynStore, name: &str, limit: usize) {
        while self.page(store, name, limit).await {}
    }

    /// Pulls one page; whether there is more.
    async fn page(&mut self, store: &DynStore, name: &str, limit: usize) -> bool {
        {
            let before_view = store.high_water().await.expect("high water");
            let (user_id, view) = view_now(store, name).await;
            let reader = super::Reader {
                user_id,
                view,
                walk: self.walk,
            };
            let page = store
                .changes(self.cursor, limit, reader)
                .await
                .expect("changes");
            self.walk = super::Walk::after(self.walk, self.cursor, before_view, &page);
            self.received += page.changes.len();
            let mut seen = HashSet::new();
            for r in page.changes {
                assert!(seen.insert(r.id), "a record at most once per page");
                if r.deleted {
                    self.held.remove(&r.id);
                } else {
                    let fields: serde_json::Value =
                        serde_json::from_str(r.fields.get()).expect("fields");
                    self.held.insert(r.id, fields);
                }
            }
            for gone in page.removed {
                assert!(seen.insert(gone.id), "in changes or removed, not both");
                self.held.remove(&gone.id);
            }
            assert!(page.cursor >= self.cursor, "the cursor never goes back");
            self.cursor = page.cursor;
            page.has_more
        }
    }

    /// Holds exactly the live records named, in any order.
    fn holds(&self, ids: &[Uuid]) -> bool {
        self.held.len() == ids.len() && ids.iter().all(|id| self.held.contains_key(id))
    }
}

fn placed(collection: &str, field: &str, value: &str, title: &str) -> Mutation {
    put(
        collection,
        Uuid::now_v7(),
        None,
        json!({}),
        json!({"title": title, field: value}),
    )
}

fn moved(m: &Mutation, version: i64, field: &str, from: &str, to: &str) -> Mutation {
    put(
        &m.collection,
        m.record_id,
        Some(version),
        json!({ field: from }),
        json!({ field: to }),
    )
}

async fn one(store: &DynStore, ctx: PushContext, m: Mutation) -> ferry_protocol::MutationResult {
    let mut out = store.push(ctx, vec![m]).await.expect("push");
    out.results.remove(0)
}

fn forbidden(r: &ferry_protocol::MutationResult) -> bool {
    r.status == Status::Rejected && r.error.as_ref().is_some_and(|e| e.code == "forbidden")
}

/// Records move in and out of partitions, grants and teams change: each
/// device ends holding exactly the records its user may read, by pulls of
/// small pages, and writes outside one's rows are refused.
async fn rows_follow_moves_grants_and_teams(store: DynStore) {
    partitioned(&store, "p", &["dana", "erin"]).await;
    let grant = |subject: super::GrantSubject, access: Option<Access>, value: &str| {
        super::RuleChange::Grant {
            subject,
            collection: "p".into(),
            access: access.map(Into::into),
            values: vec![value.into()],
        }
    };
    let dana = || super::GrantSubject::User("dana".into());
    let erin = || super::GrantSubject::User("erin".into());
    store
        .change_rules(grant(dana(), Some(Access::Write), "north"))
        .await
        .expect("grant");
    store
        .change_rules(grant(erin(), Some(Access::Write), "south"))
        .await
        .expect("grant");
    let admin = ctx_of(&store, "admin").await;
    let (n1, n2, s1) = (
        placed("p", "region", "north", "n1"),
        placed("p", "region", "north", "n2"),
        placed("p", "region", "south", "s1"),
    );
    store
        .push(admin.clone(), vec![n1.clone(), n2.clone(), s1.clone()])
        .await
        .expect("push");
    let (mut d, mut e) = (Device::default(), Device::default());
    d.pull(&store, "dana", 1).await;
    e.pull(&store, "erin", 1).await;
    assert!(d.holds(&[n1.record_id, n2.record_id]));
    assert!(e.holds(&[s1.record_id]));

    // Moved out of dana's rows: she receives its removal, erin the record.
    let r = one(
        &store,
        admin.clone(),
        moved(&n1, 1, "region", "north", "south"),
    )
    .await;
    assert_eq!(r.status, Status::Applied);
    d.pull(&store, "dana", 1).await;
    e.pull(&store, "erin", 2).await;
    assert!(d.holds(&[n2.record_id]), "n1 left dana's view");
    assert!(
        e.holds(&[s1.record_id, n1.record_id]),
        "n1 came into erin's"
    );

    // Writes outside dana's rows are refused: an edit of n1, a record
    // placed in the south, moving n2 there; nothing is written.
    let dana_ctx = ctx_of(&store, "dana").await;
    let edit = put(
        "p",
        n1.record_id,
        Some(2),
        json!({"title": "n1"}),
        json!({"title": "mine"}),
    );
    assert!(forbidden(&one(&store, dana_ctx.clone(), edit).await));
    assert!(forbidden(
        &one(
            &store,
            dana_ctx.clone(),
            placed("p", "region", "south", "x")
        )
        .await
    ));
    assert!(forbidden(
        &one(
            &store,
            dana_ctx.clone(),
            moved(&n2, 1, "region", "north", "south")
        )
        .await
    ));
    let edit = put(
        "p",
        n2.record_id,
        Some(1),
        json!({"title": "n2"}),
        json!({"title": "n2 edited"}),
    );
    assert_eq!(
        one(&store, dana_ctx.clone(), edit).await.status,
        Status::Applied
    );
    assert_eq!(
        store
            .history("p", n2.record_id)
            .await
            .expect("history")
            .len(),
        2
    );

    // A grant of south brings its records without a full resync; taking
    // north away removes north's.
    store
        .change_rules(grant(dana(), Some(Access::Read), "south"))
        .await
        .expect("grant");
    d.pull(&store, "dana", 1).await;
    assert!(d.holds(&[n2.record_id, s1.record_id, n1.record_id]));
    store
        .change_rules(grant(dana(), None, "north"))
        .await
        .expect("revoke");
    d.pull(&store, "dana", 2).await;
    assert!(d.holds(&[s1.record_id, n1.record_id]));

    // Teams: a grant to a team reaches each member as they join and leave.
    store
        .change_rules(super::RuleChange::TeamAdd("east-team".into()))
        .await
        .expect("team");
    store
        .change_rules(grant(
            super::GrantSubject::Team("east-team".into()),
            Some(Access::Read),
            "east",
        ))
        .await
        .expect("grant");
    let e1 = placed("p", "region", "east", "e1");
    store
        .push(admin.clone(), vec![e1.clone()])
        .await
        .expect("push");
    d.pull(&store, "dana", 1).await;
    assert!(d.holds(&[s1.record_id, n1.record_id]), "not a member yet");
    let member = |add| super::RuleChange::Member {
        team: "east-team".into(),
        username: "dana".into(),
        add,
    };
    store.change_rules(member(true)).await.expect("join");
    d.pull(&store, "dana", 1).await;
    assert!(d.holds(&[s1.record_id, n1.record_id, e1.record_id]));
    assert_eq!(
        store.teams().await.expect("teams"),
        [super::Team {
            name: "east-team".into(),
            members: vec!["dana".into()]
        }]
    );
    store.change_rules(member(false)).await.expect("leave");
    d.pull(&store, "dana", 1).await;
    assert!(d.holds(&[s1.record_id, n1.record_id]));

    // A value grant needs the collection's partition field.
    let bad = super::RuleChange::Grant {
        subject: dana(),
        collection: "a".into(),
        access: Some(Access::Read.into()),
        values: vec!["north".into()],
    };
    assert!(matches!(
        store.change_rules(bad).await,
        Err(StoreError::NotFound(_) | StoreError::Invalid(_))
    ));
    // Erin never saw a thing outside the south.
    e.pull(&store, "erin", 3).await;
    assert!(e.holds(&[s1.record_id, n1.record_id]));
}

/// A grant's backfill reaches a fresh device once: its records come through
/// the rows it now reads, and their queued entries are not sent again. A
/// device whose pull straddles the grant gets every record too.
async fn rows_backfill_once(store: DynStore) {
    partitioned(&store, "p", &["dana"]).await;
    let admin = ctx_of(&store, "admin").await;
    let north: Vec<Mutation> = (0..12)
        .map(|i| placed("p", "region", "north", &format!("n{i}")))
        .collect();
    let south: Vec<Mutation> = (0..12)
        .map(|i| placed("p", "region", "south", &format!("s{i}")))
        .collect();
    // South first: a pull of north's rows walks past south's positions.
    let mut all = south.clone();
    all.extend(north.iter().cloned());
    store.push(admin.clone(), all).await.expect("push");
    let grant = |value: &str| super::RuleChange::Grant {
        subject: super::GrantSubject::User("dana".into()),
        collection: "p".into(),
        access: Some(Access::Read.into()),
        values: vec![value.into()],
    };
    store.change_rules(grant("north")).await.expect("grant");
    let ids = |ms: &[Mutation]| ms.iter().map(|m| m.record_id).collect::<Vec<_>>();

    let mut fresh = Device::default();
    fresh.pull(&store, "dana", 5).await;
    assert!(fresh.holds(&ids(&north)));
    assert_eq!(fresh.received, north.len(), "each record sent once");

    // Halfway through a pull, south is granted too: none of it is missed.
    let mut straddling = Device::default();
    assert!(straddling.page(&store, "dana", 5).await);
    store.change_rules(grant("south")).await.expect("grant");
    straddling.pull(&store, "dana", 5).await;
    let mut both = ids(&north);
    both.extend(ids(&south));
    assert!(straddling.holds(&both), "every record of both");
    let mut later = Device::default();
    later.pull(&store, "dana", 5).await;
    assert!(later.holds(&both));
    assert_eq!(later.received, both.len(), "each record sent once");
}

/// A grant lands after a pull read the user's rules but before it read its
/// first page: that page goes by the old rules, so the walk may not count
/// on the rows for the new grant's records, and none is missed.
async fn rows_grant_between_rules_and_page(store: DynStore) {
    partitioned(&store, "p", &["dana"]).await;
    let grant = |value: &str| super::RuleChange::Grant {
        subject: super::GrantSubject::User("dana".into()),
        collection: "p".into(),
        access: Some(Access::Read.into()),
        values: vec![value.into()],
    };
    store.change_rules(grant("north")).await.expect("grant");
    let admin = ctx_of(&store, "admin").await;
    // South first: the first page of north's rows is past all of them.
    let mut all: Vec<Mutation> = (0..6)
        .map(|i| placed("p", "region", "south", &format!("s{i}")))
        .collect();
    all.extend((0..6).map(|i| placed("p", "region", "north", &format!("n{i}"))));
    store.push(admin, all.clone()).await.expect("push");

    let mut d = Device::default();
    let before_view = store.high_water().await.expect("high water");
    let (user_id, stale) = view_now(&store, "dana").await;
    store.change_rules(grant("south")).await.expect("grant");
    let reader = super::Reader {
        user_id,
        view: stale,
        walk: None,
    };
    let page = store.changes(d.cursor, 3, reader).await.expect("page");
    assert!(page.has_more);
    for r in &page.changes {
        d.held.insert(r.id, serde_json::Value::Null);
    }
    d.walk = super::Walk::after(None, d.cursor, before_view, &page);
    d.cursor = page.cursor;
    d.pull(&store, "dana", 3).await;
    let ids: Vec<Uuid> = all.iter().map(|m| m.record_id).collect();
    assert!(d.holds(&ids), "every record of both, held {}", d.held.len());
}

/// A writer moves a record out of their own view: a dispatcher reads and
/// writes the north and may write, not read, the south. Handing a record
/// to the south is allowed and takes it off their device; they cannot touch
/// it there, nor place anything where they may not write.
async fn rows_write_without_read(store: DynStore) {
    use crate::rules::Right;
    partitioned(&store, "p", &["disp", "erin"]).await;
    let grant = |name: &str, right: Right, value: &str| super::RuleChange::Grant {
        subject: super::GrantSubject::User(name.into()),
        collection: "p".into(),
        access: Some(right),
        values: vec![value.into()],
    };
    for change in [
        grant("disp", Right::Write, "north"),
        grant("disp", Right::WriteOnly, "south"),
        grant("erin", Right::Read, "south"),
    ] {
        store.change_rules(change).await.expect("grant");
    }
    let whole = super::RuleChange::Grant {
        subject: super::GrantSubject::User("disp".into()),
        collection: "p".into(),
        access: Some(Right::WriteOnly),
        values: Vec::new(),
    };
    assert!(
        matches!(store.change_rules(whole).await, Err(StoreError::Invalid(m)) if m.contains("--where")),
        "write-only names its values"
    );
    let rows = view_now(&store, "disp").await.1.get("p").expect("p").rows();
    assert_eq!(
        rows.map(|r| (r.read, r.write)),
        Some((
            Some(vec!["north".into()]),
            Some(vec!["north".into(), "south".into()])
        ))
    );

    let n1 = placed("p", "region", "north", "n1");
    store
        .push(ctx_of(&store, "admin").await, vec![n1.clone()])
        .await
        .expect("push");
    let (mut d, mut e) = (Device::default(), Device::default());
    d.pull(&store, "disp", 2).await;
    assert!(d.holds(&[n1.record_id]));
    let disp = ctx_of(&store, "disp").await;
    assert_eq!(
        one(
            &store,
            disp.clone(),
            moved(&n1, 1, "region", "north", "south")
        )
        .await
        .status,
        Status::Applied,
        "moved out of what disp reads, within what they write"
    );
    d.pull(&store, "disp", 2).await;
    assert!(d.holds(&[]), "gone from disp's device");
    e.pull(&store, "erin", 2).await;
    assert!(e.holds(&[n1.record_id]), "the south has it");

    // There, disp may not change it; a record placed in the south is taken
    // and not seen again; the east is not disp's to write.
    let edit = put(
        "p",
        n1.record_id,
        Some(2),
        json!({"title": "n1"}),
        json!({"title": "mine"}),
    );
    let refused = one(&store, disp.clone(), edit).await;
    assert!(forbidden(&refused), "{refused:?}");
    let s2 = placed("p", "region", "south", "s2");
    assert_eq!(
        one(&store, disp.clone(), s2.clone()).await.status,
        Status::Applied
    );
    assert!(forbidden(
        &one(&store, disp.clone(), placed("p", "region", "east", "e1")).await
    ));
    d.pull(&store, "disp", 2).await;
    assert!(d.holds(&[]));
    e.pull(&store, "erin", 2).await;
    assert!(e.holds(&[n1.record_id, s2.record_id]));
    assert_eq!(
        store
            .history("p", n1.record_id)
            .await
            .expect("history")
            .len(),
        2,
        "the move is in history"
    );
}

/// Who uploaded which file: they may read it, and its size counts once
/// toward their quota however often they send it.
async fn blob_owners_are_remembered(store: DynStore) {
    for name in ["ann", "ben"] {
        store.create_user(name, "h").await.expect("user");
    }
    let id = |name: &str| {
        let store = store.clone();
        let name = name.to_string();
        async move {
            store
                .user_by_name(&name)
                .await
                .expect("user")
                .expect("exists")
                .id
        }
    };
    let (ann, ben) = (id("ann").await, id("ben").await);
    let (a, b) = ("a".repeat(64), "b".repeat(64));
    assert!(!store.blob_readable(&a, ann).await.expect("readable"));
    store.add_blob_owner(&a, ann, 10).await.expect("owner");
    store.add_blob_owner(&a, ann, 10).await.expect("again");
    store.add_blob_owner(&b, ann, 5).await.expect("owner");
    assert!(store.blob_readable(&a, ann).await.expect("readable"));
    assert!(!store.blob_readable(&a, ben).await.expect("readable"));
    assert_eq!(store.blob_bytes(ann).await.expect("bytes"), 15);
    assert_eq!(store.blob_bytes(ben).await.expect("bytes"), 0);
}

/// `$user`: everyone sees and edits the records assigned to them; a
/// reassignment moves a record from one laptop to the other.
async fn rows_of_ones_own(store: DynStore) {
    partitioned(&store, "t", &["dana", "erin"]).await;
    store
        .change_rules(super::RuleChange::Grant {
            subject: super::GrantSubject::Everyone,
            collection: "t".into(),
            access: Some(Access::Write.into()),
            values: vec![crate::rules::SELF_VALUE.into()],
        })
        .await
        .expect("grant");
    let admin = ctx_of(&store, "admin").await;
    let (t1, t2) = (
        placed("t", "assignee", "dana", "t1"),
        placed("t", "assignee", "erin", "t2"),
    );
    store
        .push(admin.clone(), vec![t1.clone(), t2.clone()])
        .await
        .expect("push");
    let (mut d, mut e) = (Device::default(), Device::default());
    d.pull(&store, "dana", 10).await;
    e.pull(&store, "erin", 10).await;
    assert!(d.holds(&[t1.record_id]) && e.holds(&[t2.record_id]));
    // Dana may not hand her task to erin (erin's rows are not hers to write).
    let dana = ctx_of(&store, "dana").await;
    assert!(forbidden(
        &one(&store, dana, moved(&t1, 1, "assignee", "dana", "erin")).await
    ));
    assert_eq!(
        one(&store, admin, moved(&t1, 1, "assignee", "dana", "erin"))
            .await
            .status,
        Status::Applied
    );
    d.pull(&store, "dana", 10).await;
    e.pull(&store, "erin", 10).await;
    assert!(d.holds(&[]) && e.holds(&[t1.record_id, t2.record_id]));
    // A user added later sees their own from their first pull.
    store.create_user("finn", "h").await.expect("user");
    let mut f = Device::default();
    f.pull(&store, "finn", 10).await;
    assert!(f.holds(&[]));
}
