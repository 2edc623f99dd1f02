//! Row rules on PostgreSQL: the grants that apply to a user, changes of
//! grants and teams with what they bring into or take out of each view
//! (taking sequence numbers under the `change_seq` lock, like a push), and
//! pages of changes of the rows a reader may see, read in one statement.

use deadpool_postgres::GenericClient;
use ferry_protocol::Record;
use uuid::Uuid;

use super::super::{
    ChangesPage, Cursor, GrantSubject, Reader, RuleChange, StoreError, TEAMS_SQL, Team, Walk,
    check_grant, json_err, no_such_team, no_such_user, now, sort_page, stored_hlc, teams_from,
};
use super::pg_err;
use super::read::collections;
use crate::rules::{self, Right, RuleRow, Scope, Subject, View, changed_reads};
use crate::schema_file::CollectionDef;

pub(super) async fn rules_for(
    c: &impl GenericClient,
    user_id: Uuid,
) -> Result<Vec<RuleRow>, StoreError> {
    let stmt = c
        .prepare_cached(
            "SELECT collection, access, '' FROM grants WHERE user_id = $1
             UNION ALL
             SELECT collection, access, value FROM rules
             WHERE subject = 'user:' || $1::text OR subject = '*'
                OR subject IN (SELECT 'team:' || team FROM team_members WHERE user_id = $1)",
        )
        .await
        .map_err(pg_err)?;
    Ok(c.query(&stmt, &[&user_id])
        .await
        .map_err(pg_err)?
        .iter()
        .map(|r| {
            let value: String = r.get(2);
            RuleRow {
                collection: r.get(0),
                access: Right::parse(r.get(1)),
                value: (!value.is_empty()).then_some(value),
            }
        })
        .collect())
}

async fn user_id(tx: &impl GenericClient, username: &str) -> Result<Uuid, StoreError> {
    tx.query_opt("SELECT id FROM users WHERE username = $1", &[&username])
        .await
        .map_err(pg_err)?
        .map(|r| r.get(0))
        .ok_or_else(|| no_such_user(username))
}

async fn team_exists(tx: &impl GenericClient, team: &str) -> Result<(), StoreError> {
    tx.query_opt("SELECT 1 FROM teams WHERE name = $1", &[&team])
        .await
        .map_err(pg_err)?
        .map(|_| ())
        .ok_or_else(|| no_such_team(team))
}

async fn members(tx: &impl GenericClient, team: &str) -> Result<Vec<(Uuid, String)>, StoreError> {
    Ok(tx
        .query(
            "SELECT u.id, u.username FROM team_members m JOIN users u ON u.id = m.user_id WHERE m.team = $1",
            &[&team],
        )
        .await
        .map_err(pg_err)?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

async fn view_of(
    tx: &impl GenericClient,
    user: &(Uuid, String),
    defs: &[CollectionDef],
) -> Result<View, StoreError> {
    Ok(View::new(&user.1, &rules_for(tx, user.0).await?, defs))
}

pub(super) async fn change_rules(
    client: &mut deadpool_postgres::Object,
    change: &RuleChange,
) -> Result<(), StoreError> {
    let tx = client.transaction().await.map_err(pg_err)?;
    // Feed entries take sequence numbers in commit order, as pushes do.
    let mut next: i64 = tx
        .query_one("SELECT value FROM change_seq FOR UPDATE", &[])
        .await
        .map_err(pg_err)?
        .get(0);
    let defs = collections(&tx).await?;
    check_grant(change, &defs)?;
    let affected: Vec<(Uuid, String)> = match change {
        RuleChange::Grant { subject, .. } => match subject {
            GrantSubject::User(name) => vec![(user_id(&tx, name).await?, name.clone())],
            GrantSubject::Team(team) => {
                team_exists(&tx, team).await?;
                members(&tx, team).await?
            }
            GrantSubject::Everyone => tx
                .query("SELECT id, username FROM users", &[])
                .await
                .map_err(pg_err)?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect(),
        },
        RuleChange::TeamAdd(_) => Vec::new(),
        RuleChange::TeamRemove(team) => {
            team_exists(&tx, team).await?;
            members(&tx, team).await?
        }
        RuleChange::Member { team, username, .. } => {
            team_exists(&tx, team).await?;
            vec![(user_id(&tx, username).await?, username.clone())]
        }
    };
    let mut before = Vec::with_capacity(affected.len());
    for u in &affected {
        before.push(view_of(&tx, u, &defs).await?);
    }
    apply(&tx, change, affected.first().map(|u| u.0)).await?;
    let start = next;
    let mut touched: Vec<String> = Vec::new();
    for (user, before) in affected.iter().zip(before) {
        let after = view_of(&tx, user, &defs).await?;
        for change in changed_reads(&before, &after) {
            for (scope, gained) in [(&change.gained, true), (&change.lost, false)] {
                if let Some(scope) = scope {
                    next += queue(&tx, user.0, &change.collection, scope, gained, next).await?;
                }
            }
            if !touched.contains(&change.collection) {
                touched.push(change.collection);
            }
        }
    }
    if next != start {
        tx.execute("UPDATE change_seq SET value = $1", &[&next])
            .await
            .map_err(pg_err)?;
        // Streams of every process hear of it at once, as of a push.
        let payload =
            serde_json::json!({"cursor": next.to_string(), "collections": touched}).to_string();
        tx.execute("SELECT pg_notify($1, $2)", &[&super::CHANNEL, &payload])
            .await
            .map_err(pg_err)?;
    }
    tx.commit().await.map_err(pg_err)
}

async fn apply(
    tx: &impl GenericClient,
    change: &RuleChange,
    user: Option<Uuid>,
) -> Result<(), StoreError> {
    match change {
        RuleChange::Grant {
            subject,
            collection,
            access,
            values,
        } => {
            let key = match (subject, user) {
                (GrantSubject::User(_), Some(id)) => Subject::User(id).key(),
                (GrantSubject::User(name), None) => return Err(no_such_user(name)),
                (GrantSubject::Team(t), _) => Subject::Team(t.clone()).key(),
                (GrantSubject::Everyone, _) => Subject::Everyone.key(),
            };
            let user_whole = matches!(subject, GrantSubject::User(_)) && values.is_empty();
            match access {
                Some(a) if user_whole => {
                    tx.execute(
                        "INSERT INTO grants (user_id, collection, access) VALUES ($1, $2, $3)
                         ON CONFLICT (user_id, collection) DO UPDATE SET access = excluded.access",
                        &[&user, &collection, &a.name()],
                    )
                    .await
                    .map_err(pg_err)?;
                }
                Some(a) => {
                    let values = if values.is_empty() {
                        vec![String::new()]
                    } else {
                        values.clone()
                    };
                    for v in values {
                        tx.execute(
                            "INSERT INTO rules (subject, collection, value, access) VALUES ($1, $2, $3, $4)
                             ON CONFLICT (subject, collection, value) DO UPDATE SET access = excluded.access",
                            &[&key, &collection, &v, &a.name()],
                        )
                        .await
                        .map_err(pg_err)?;
                    }
                }
                None if values.is_empty() => {
                    if let Some(id) = user.filter(|_| matches!(subject, GrantSubject::User(_))) {
                        tx.execute(
                            "DELETE FROM grants WHERE user_id = $1 AND collection = $2",
                            &[&id, &collection],
                        )
                        .await
                        .map_err(pg_err)?;
                    }
                    tx.execute(
                        "DELETE FROM rules WHERE subject = $1 AND collection = $2",
                        &[&key, &collection],
                    )
                    .await
                    .map_err(pg_err)?;
                }
                None => {
                    tx.execute(
                        "DELETE FROM rules WHERE subject = $1 AND collection = $2 AND value = ANY($3)",
                        &[&key, &collection, &values],
                    )
                    .await
                    .map_err(pg_err)?;
                }
            }
        }
        RuleChange::TeamAdd(name) => {
            let n = tx
                .execute(
                    "INSERT INTO teams (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                    &[&name, &now()],
                )
                .await
                .map_err(pg_err)?;
            if n == 0 {
                return Err(StoreError::Exists(format!(
                    "team \"{name}\" already exists"
                )));
            }
        }
        RuleChange::TeamRemove(name) => {
            let key = Subject::Team(name.clone()).key();
            tx.execute("DELETE FROM rules WHERE subject = $1", &[&key])
                .await
                .map_err(pg_err)?;
            tx.execute("DELETE FROM team_members WHERE team = $1", &[&name])
                .await
                .map_err(pg_err)?;
            tx.execute("DELETE FROM teams WHERE name = $1", &[&name])
                .await
                .map_err(pg_err)?;
        }
        RuleChange::Member { team, add, .. } => {
            let sql = if *add {
                "INSERT INTO team_members (team, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
            } else {
                "DELETE FROM team_members WHERE team = $1 AND user_id = $2"
            };
            tx.execute(sql, &[&team, &user]).await.map_err(pg_err)?;
        }
    }
    Ok(())
}

/// Puts every record of `scope` in `collection` into the user's feed at
/// positions after `base`; returns how many.
async fn queue(
    tx: &impl GenericClient,
    user_id: Uuid,
    collection: &str,
    scope: &Scope,
    gained: bool,
    base: i64,
) -> Result<i64, StoreError> {
    let n = match scope {
        Scope::All => tx
            .execute(
                "INSERT INTO user_feed (user_id, seq, collection, id, gained, record_seq)
                 SELECT $1, $2 + row_number() OVER (ORDER BY id), collection, id, $4, seq FROM records WHERE collection = $3",
                &[&user_id, &base, &collection, &gained],
            )
            .await,
        Scope::Values(values) => {
            let values: Vec<&String> = values.iter().collect();
            tx.execute(
                "INSERT INTO user_feed (user_id, seq, collection, id, gained, record_seq)
                 SELECT $1, $2 + row_number() OVER (ORDER BY d.id), $3, d.id, $5, r.seq FROM (
                     SELECT DISTINCT id FROM record_parts WHERE collection = $3 AND value = ANY($4)
                 ) d JOIN records r ON r.collection = $3 AND r.id = d.id",
                &[&user_id, &base, &collection, &values, &gained],
            )
            .await
        }
    }
    .map_err(pg_err)?;
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}

pub(super) async fn teams(c: &impl GenericClient) -> Result<Vec<Team>, StoreError> {
    let rows = c.query(TEAMS_SQL, &[]).await.map_err(pg_err)?;
    Ok(teams_from(rows.iter().map(|r| (r.get(0), r.get(1)))))
}

/// Rebuilds the partition values of a collection's records when its
/// `partition_by` changes (or it is first defined with one).
pub(super) async fn repartition(
    tx: &impl GenericClient,
    def: &CollectionDef,
) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM record_parts WHERE collection = $1",
        &[&def.name],
    )
    .await
    .map_err(pg_err)?;
    let rows = tx
        .query(
            "SELECT r.id, r.seq, h.fields FROM records r JOIN history h ON h.seq = r.seq WHERE r.collection = $1",
            &[&def.name],
        )
        .await
        .map_err(pg_err)?;
    let (mut ids, mut parts_json) = (Vec::new(), Vec::new());
    let (mut p_values, mut p_ids, mut p_seqs) = (Vec::new(), Vec::new(), Vec::new());
    for row in rows {
        let id: Uuid = row.get(0);
        let seq: i64 = row.get(1);
        let fields: ferry_protocol::Fields =
            serde_json::from_str(row.get::<_, &str>(2)).map_err(json_err)?;
        let parts = rules::parts_of(Some(def), &fields);
        ids.push(id);
        parts_json.push(rules::parts_json(Some(def), &parts));
        for v in parts {
            p_values.push(v);
            p_ids.push(id);
            p_seqs.push(seq);
        }
    }
    tx.execute(
        "UPDATE records r SET parts = u.parts FROM unnest($2::uuid[], $3::text[]) AS u(id, parts)
         WHERE r.collection = $1 AND r.id = u.id",
        &[&def.name, &ids, &parts_json],
    )
    .await
    .map_err(pg_err)?;
    tx.execute(
        "INSERT INTO record_parts (collection, value, id, seq, present)
         SELECT $1, * FROM unnest($2::text[], $3::uuid[], $4::bigint[]), (VALUES (true)) t",
        &[&def.name, &p_values, &p_ids, &p_seqs],
    )
    .await
    .map_err(pg_err)?;
    Ok(())
}

/// The feed: every source walked in sequence order up to the page size, by
/// index, in one statement (one snapshot) with the high-water mark. `$1`
/// the cursor, `$2` rows to fetch, `$3` the user, `$4`/`$5` the (collection,
/// value) pairs of their rows, `$6` the collections they read whole, `$7`/`$8`
/// where their walk began ([`Walk::bounds`]): a record that came into view
/// and changed after the cursor, or after the walk's start when it came
/// before the walk began, comes through the other sources, not twice.
const FEED_SQL: &str = "SELECT hw.value, p.seq, p.collection, p.id, p.version, p.fields, p.deleted, p.updated_at, p.updated_by, p.parts
             FROM change_seq hw LEFT JOIN LATERAL (
                 SELECT f.seq, h.collection, h.id, h.version, h.fields, h.deleted, h.updated_at, h.updated_by, r.parts
                 FROM (
                     (SELECT u.seq, u.collection, u.id FROM user_feed u
                      JOIN records fr ON fr.collection = u.collection AND fr.id = u.id
                      WHERE u.user_id = $3 AND u.seq > $1
                        AND NOT (u.gained AND (u.record_seq > $1 OR (u.seq <= $7 AND u.record_seq > $8)))
                        AND NOT (u.gained AND fr.seq > $1)
                      ORDER BY u.seq LIMIT $2)
                     UNION ALL
                     (SELECT q.seq, q.collection, q.id FROM unnest($4::text[], $5::text[]) AS k(collection, value)
                      CROSS JOIN LATERAL (
                          SELECT seq, collection, id FROM record_parts
                          WHERE collection = k.collection AND value = k.value AND seq > $1 ORDER BY seq LIMIT $2
                      ) q)
                     UNION ALL
                     (SELECT seq, collection, id FROM records
                      WHERE cardinality($6::text[]) > 0 AND seq > $1 AND collection = ANY($6) ORDER BY seq LIMIT $2)
                 ) f
                 JOIN records r ON r.collection = f.collection AND r.id = f.id
                 JOIN history h ON h.seq = r.seq
                 ORDER BY f.seq LIMIT $2
             ) p ON true
             ORDER BY p.seq";

/// The feed's arguments after the cursor and the page size (`$3`…`$8`).
struct FeedArgs {
    user: Uuid,
    p_cols: Vec<String>,
    p_values: Vec<String>,
    whole: Vec<String>,
    began: i64,
    start: i64,
}

impl FeedArgs {
    fn of(reader: &Reader) -> FeedArgs {
        let (whole, partial) = reader.view.read_scopes();
        let (mut p_cols, mut p_values) = (Vec::new(), Vec::new());
        for (c, values) in &partial {
            for v in values {
                p_cols.push(c.clone());
                p_values.push(v.clone());
            }
        }
        let (began, start) = Walk::bounds(reader.walk);
        FeedArgs {
            user: reader.user_id,
            p_cols,
            p_values,
            whole,
            began,
            start,
        }
    }

    /// Every parameter of [`FEED_SQL`], after `since` and `fetch`.
    fn with<'a>(
        &'a self,
        since: &'a i64,
        fetch: &'a i64,
    ) -> [&'a (dyn tokio_postgres::types::ToSql + Sync); 8] {
        [
            since,
            fetch,
            &self.user,
            &self.p_cols,
            &self.p_values,
            &self.whole,
            &self.began,
            &self.start,
        ]
    }
}

/// The plan PostgreSQL chooses for the feed of `reader`.
pub(super) async fn explain_feed(
    client: &impl GenericClient,
    reader: &Reader,
) -> Result<Vec<String>, StoreError> {
    let args = FeedArgs::of(reader);
    let rows = client
        .query(&format!("EXPLAIN {FEED_SQL}"), &args.with(&0, &501))
        .await
        .map_err(pg_err)?;
    Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
}

pub(super) async fn changes_page(
    client: &impl GenericClient,
    since: Cursor,
    limit: usize,
    reader: &Reader,
) -> Result<ChangesPage, StoreError> {
    let args = FeedArgs::of(reader);
    let stmt = client.prepare_cached(FEED_SQL).await.map_err(pg_err)?;
    let fetch = i64::try_from(limit + 1).unwrap_or(i64::MAX);
    let rows = client
        .query(&stmt, &args.with(&since.0, &fetch))
        .await
        .map_err(pg_err)?;
    let high_water: i64 = rows.first().map_or(since.0, |r| r.get(0));
    let mut page = Vec::with_capacity(rows.len().min(limit));
    let mut last_seq = since.0;
    let mut has_more = false;
    for row in &rows {
        let Some(seq) = row.get::<_, Option<i64>>(1) else {
            break;
        };
        if page.len() == limit {
            has_more = true;
            break;
        }
        let fields: String = row.get(5);
        let updated_at: String = row.get(7);
        let record = Record {
            collection: row.get(2),
            id: row.get(3),
            version: row.get(4),
            fields: serde_json::value::RawValue::from_string(fields).map_err(json_err)?,
            deleted: row.get(6),
            updated_at: stored_hlc(&updated_at)?,
            updated_by: row.get(8),
            merged_from: None,
        };
        page.push((record, row.get::<_, Option<String>>(9)));
        last_seq = seq;
    }
    let (changes, removed) = sort_page(&reader.view, page);
    let mut page = ChangesPage::new(changes, since, last_seq, has_more, high_water);
    page.removed = removed;
    Ok(page)
}
