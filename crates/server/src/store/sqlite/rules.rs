//! Row rules on SQLite: the grants that apply to a user, changes of grants
//! and teams with what they bring into or take out of each view, pages of
//! changes of the rows a reader may see, and partition values kept in step
//! with a collection's `partition_by`.

use ferry_protocol::Record;
use rusqlite::{Connection, OptionalExtension, ToSql, Transaction, params};

use super::super::{
    ChangesPage, Cursor, GrantSubject, Reader, RuleChange, StoreError, TEAMS_SQL, Team, Walk,
    check_grant, json_err, no_such_team, no_such_user, now, sort_page, stored_hlc, teams_from,
};
use super::read::{load_collections, max_seq, parse_uuid};
use super::{db_err, push::write_parts};
use crate::rules::{self, Right, RuleRow, Scope, Subject, View, changed_reads};
use crate::schema_file::CollectionDef;

pub(super) fn rules_for(c: &Connection, user_id: &str) -> Result<Vec<RuleRow>, StoreError> {
    let mut stmt = c
        .prepare_cached(
            "SELECT collection, access, '' FROM grants WHERE user_id = ?1
             UNION ALL
             SELECT collection, access, value FROM rules
             WHERE subject = 'user:' || ?1 OR subject = '*'
                OR subject IN (SELECT 'team:' || team FROM team_members WHERE user_id = ?1)",
        )
        .map_err(db_err)?;
    let rows = stmt
        .query_map(params![user_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .map_err(db_err)?;
    let mut out = Vec::new();
    for row in rows {
        let (collection, access, value) = row.map_err(db_err)?;
        out.push(RuleRow {
            collection,
            access: Right::parse(&access),
            value: (!value.is_empty()).then_some(value),
        });
    }
    Ok(out)
}

fn user_id(tx: &Connection, username: &str) -> Result<String, StoreError> {
    tx.query_row(
        "SELECT id FROM users WHERE username = ?1",
        params![username],
        |r| r.get(0),
    )
    .optional()
    .map_err(db_err)?
    .ok_or_else(|| no_such_user(username))
}

fn team_exists(tx: &Connection, team: &str) -> Result<(), StoreError> {
    let found: Option<i64> = tx
        .query_row("SELECT 1 FROM teams WHERE name = ?1", params![team], |r| {
            r.get(0)
        })
        .optional()
        .map_err(db_err)?;
    found.map(|_| ()).ok_or_else(|| no_such_team(team))
}

/// (id, username) of each user a query of ids and names returns.
fn users(tx: &Connection, sql: &str, arg: &str) -> Result<Vec<(String, String)>, StoreError> {
    let mut stmt = tx.prepare(sql).map_err(db_err)?;
    let rows = stmt
        .query_map(params![arg], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(db_err)?;
    rows.collect::<Result<_, _>>().map_err(db_err)
}

fn members(tx: &Connection, team: &str) -> Result<Vec<(String, String)>, StoreError> {
    users(
        tx,
        "SELECT u.id, u.username FROM team_members m JOIN users u ON u.id = m.user_id WHERE m.team = ?1",
        team,
    )
}

fn view_of(
    tx: &Connection,
    user: &(String, String),
    defs: &[CollectionDef],
) -> Result<View, StoreError> {
    Ok(View::new(&user.1, &rules_for(tx, &user.0)?, defs))
}

pub(super) fn change_rules(tx: &Transaction<'_>, change: &RuleChange) -> Result<(), StoreError> {
    let defs = load_collections(tx)?;
    check_grant(change, &defs)?;
    let affected: Vec<(String, String)> = match change {
        RuleChange::Grant { subject, .. } => match subject {
            GrantSubject::User(name) => vec![(user_id(tx, name)?, name.clone())],
            GrantSubject::Team(team) => {
                team_exists(tx, team)?;
                members(tx, team)?
            }
            GrantSubject::Everyone => {
                users(tx, "SELECT id, username FROM users WHERE ?1 = ?1", "")?
            }
        },
        RuleChange::TeamAdd(_) => Vec::new(),
        RuleChange::TeamRemove(team) => {
            team_exists(tx, team)?;
            members(tx, team)?
        }
        RuleChange::Member { team, username, .. } => {
            team_exists(tx, team)?;
            vec![(user_id(tx, username)?, username.clone())]
        }
    };
    let before = affected
        .iter()
        .map(|u| view_of(tx, u, &defs))
        .collect::<Result<Vec<_>, _>>()?;
    apply(tx, change, affected.first().map(|u| u.0.as_str()))?;
    for (user, before) in affected.iter().zip(before) {
        let after = view_of(tx, user, &defs)?;
        for change in changed_reads(&before, &after) {
            for (scope, gained) in [(&change.gained, true), (&change.lost, false)] {
                if let Some(scope) = scope {
                    queue(tx, &user.0, &change.collection, scope, gained)?;
                }
            }
        }
    }
    Ok(())
}

fn apply(tx: &Connection, change: &RuleChange, user: Option<&str>) -> Result<(), StoreError> {
    match change {
        RuleChange::Grant {
            subject,
            collection,
            access,
            values,
        } => {
            let key = match (subject, user) {
                (GrantSubject::User(_), Some(id)) => Subject::User(parse_uuid(id)?).key(),
                (GrantSubject::User(name), None) => return Err(no_such_user(name)),
                (GrantSubject::Team(t), _) => Subject::Team(t.clone()).key(),
                (GrantSubject::Everyone, _) => Subject::Everyone.key(),
            };
            let user_whole = matches!(subject, GrantSubject::User(_)) && values.is_empty();
            match access {
                Some(a) if user_whole => {
                    tx.execute(
                        "INSERT INTO grants (user_id, collection, access) VALUES (?1, ?2, ?3)
                         ON CONFLICT (user_id, collection) DO UPDATE SET access = ?3",
                        params![user, collection, a.name()],
                    )
                    .map_err(db_err)?;
                }
                Some(a) => {
                    let values = if values.is_empty() {
                        vec![String::new()]
                    } else {
                        values.clone()
                    };
                    for v in values {
                        tx.execute(
                            "INSERT INTO rules (subject, collection, value, access) VALUES (?1, ?2, ?3, ?4)
                             ON CONFLICT (subject, collection, value) DO UPDATE SET access = ?4",
                            params![key, collection, v, a.name()],
                        )
                        .map_err(db_err)?;
                    }
                }
                None if values.is_empty() => {
                    if let Some(id) = user.filter(|_| matches!(subject, GrantSubject::User(_))) {
                        tx.execute(
                            "DELETE FROM grants WHERE user_id = ?1 AND collection = ?2",
                            params![id, collection],
                        )
                        .map_err(db_err)?;
                    }
                    tx.execute(
                        "DELETE FROM rules WHERE subject = ?1 AND collection = ?2",
                        params![key, collection],
                    )
                    .map_err(db_err)?;
                }
                None => {
                    for v in values {
                        tx.execute(
                            "DELETE FROM rules WHERE subject = ?1 AND collection = ?2 AND value = ?3",
                            params![key, collection, v],
                        )
                        .map_err(db_err)?;
                    }
                }
            }
        }
        RuleChange::TeamAdd(name) => {
            let n = tx
                .execute(
                    "INSERT INTO teams (name, created_at) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
                    params![name, now()],
                )
                .map_err(db_err)?;
            if n == 0 {
                return Err(StoreError::Exists(format!(
                    "team \"{name}\" already exists"
                )));
            }
        }
        RuleChange::TeamRemove(name) => {
            tx.execute(
                "DELETE FROM rules WHERE subject = ?1",
                params![Subject::Team(name.clone()).key()],
            )
            .map_err(db_err)?;
            tx.execute("DELETE FROM team_members WHERE team = ?1", params![name])
                .map_err(db_err)?;
            tx.execute("DELETE FROM teams WHERE name = ?1", params![name])
                .map_err(db_err)?;
        }
        RuleChange::Member { team, add, .. } => {
            let sql = if *add {
                "INSERT INTO team_members (team, user_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING"
            } else {
                "DELETE FROM team_members WHERE team = ?1 AND user_id = ?2"
            };
            tx.execute(sql, params![team, user]).map_err(db_err)?;
        }
    }
    Ok(())
}

/// Puts every record of `scope` in `collection` into the user's feed, each
/// at a sequence position of its own after every change so far: the next
/// pull sends each one the user now sees and a removal of each other one.
fn queue(
    tx: &Connection,
    user_id: &str,
    collection: &str,
    scope: &Scope,
    gained: bool,
) -> Result<(), StoreError> {
    let base = max_seq(tx)?;
    match scope {
        Scope::All => tx.execute(
            "INSERT INTO user_feed (user_id, seq, collection, id, gained, record_seq)
             SELECT ?1, ?2 + row_number() OVER (ORDER BY id), collection, id, ?4, seq FROM records WHERE collection = ?3",
            params![user_id, base, collection, gained],
        ),
        Scope::Values(values) => {
            let values = serde_json::to_string(values).map_err(json_err)?;
            tx.execute(
                "INSERT INTO user_feed (user_id, seq, collection, id, gained, record_seq)
                 SELECT ?1, ?2 + row_number() OVER (ORDER BY d.id), ?3, d.id, ?5, r.seq FROM (
                     SELECT DISTINCT id FROM record_parts
                     WHERE collection = ?3 AND value IN (SELECT value FROM json_each(?4))
                 ) d JOIN records r ON r.collection = ?3 AND r.id = d.id",
                params![user_id, base, collection, values, gained],
            )
        }
    }
    .map_err(db_err)?;
    Ok(())
}

pub(super) fn teams(c: &Connection) -> Result<Vec<Team>, StoreError> {
    let mut stmt = c.prepare(TEAMS_SQL).map_err(db_err)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
        })
        .map_err(db_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_err)?;
    Ok(teams_from(rows))
}

/// Rebuilds the partition values of a collection's records when its
/// `partition_by` changes (or it is first defined with one).
pub(super) fn repartition(tx: &Connection, def: &CollectionDef) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM record_parts WHERE collection = ?1",
        params![def.name],
    )
    .map_err(db_err)?;
    let mut stmt = tx
        .prepare(
            "SELECT r.id, r.seq, h.fields FROM records r JOIN history h ON h.seq = r.seq WHERE r.collection = ?1",
        )
        .map_err(db_err)?;
    let rows = stmt
        .query_map(params![def.name], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .map_err(db_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_err)?;
    let mut set_parts = tx
        .prepare_cached("UPDATE records SET parts = ?3 WHERE collection = ?1 AND id = ?2")
        .map_err(db_err)?;
    for (id, seq, fields) in rows {
        let fields: ferry_protocol::Fields = serde_json::from_str(&fields).map_err(json_err)?;
        let parts = rules::parts_of(Some(def), &fields);
        set_parts
            .execute(params![def.name, id, rules::parts_json(Some(def), &parts)])
            .map_err(db_err)?;
        write_parts(tx, &def.name, &id, seq, &[], &parts)?;
    }
    Ok(())
}

/// The feed statement for `reader` and its arguments after the first two
/// (`?1` the cursor, `?2` the rows to fetch): the user, the (collection,
/// value) pairs of their rows as JSON, the collections they read whole.
fn feed_sql(reader: &Reader) -> Result<(String, Vec<Box<dyn ToSql>>), StoreError> {
    let (whole, partial) = reader.view.read_scopes();
    let (began, start) = Walk::bounds(reader.walk);
    let mut args: Vec<Box<dyn ToSql>> = vec![
        Box::new(reader.user_id.to_string()),
        Box::new(began),
        Box::new(start),
    ];
    let mut arms = vec![
        // A record that came into view and changed after the cursor, or
        // after the walk's start when it came before the walk began, comes
        // through the other sources: not twice (a fresh pull has them all).
        "SELECT * FROM (SELECT u.seq, u.collection, u.id FROM user_feed u
         JOIN records fr ON fr.collection = u.collection AND fr.id = u.id
         WHERE u.user_id = ?3 AND u.seq > ?1
           AND NOT (u.gained AND (u.record_seq > ?1 OR (u.seq <= ?4 AND u.record_seq > ?5)))
           AND NOT (u.gained AND fr.seq > ?1) ORDER BY u.seq LIMIT ?2)"
            .to_string(),
    ];
    let pairs: Vec<(&String, &String)> = partial
        .iter()
        .flat_map(|(c, values)| values.iter().map(move |v| (c, v)))
        .collect();
    if !partial.is_empty() {
        args.push(Box::new(serde_json::to_string(&pairs).map_err(json_err)?));
        arms.push(format!(
            "SELECT * FROM (SELECT p.seq, p.collection, p.id FROM json_each(?{}) j
             JOIN record_parts p ON p.collection = j.value ->> 0 AND p.value = j.value ->> 1 AND p.seq > ?1
             ORDER BY p.seq LIMIT ?2)",
            args.len() + 2
        ));
    }
    if !whole.is_empty() {
        let first = args.len() + 3;
        let placeholders = (0..whole.len())
            .map(|i| format!("?{}", first + i))
            .collect::<Vec<_>>()
            .join(", ");
        args.extend(whole.into_iter().map(|c| Box::new(c) as Box<dyn ToSql>));
        arms.push(format!(
            "SELECT * FROM (SELECT seq, collection, id FROM records
             WHERE seq > ?1 AND +collection IN ({placeholders}) ORDER BY seq LIMIT ?2)"
        ));
    }
    let sql = format!(
        "SELECT f.seq, h.collection, h.id, h.version, h.fields, h.deleted, h.updated_at, h.updated_by, r.parts
         FROM ({}) f JOIN records r ON r.collection = f.collection AND r.id = f.id JOIN history h ON h.seq = r.seq
         ORDER BY f.seq LIMIT ?2",
        arms.join(" UNION ALL ")
    );
    Ok((sql, args))
}

/// The query plan of the feed statement for `reader` (for benchmarks and
/// the performance notes).
pub(super) fn explain_feed(c: &Connection, reader: &Reader) -> Result<Vec<String>, StoreError> {
    let (sql, rest) = feed_sql(reader)?;
    let mut stmt = c
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .map_err(db_err)?;
    let (since, fetch) = (0i64, 501i64);
    let mut args: Vec<&dyn ToSql> = vec![&since, &fetch];
    args.extend(rest.iter().map(|a| a.as_ref()));
    let rows = stmt
        .query_map(args.as_slice(), |r| r.get::<_, String>(3))
        .map_err(db_err)?;
    rows.collect::<Result<_, _>>().map_err(db_err)
}

pub(super) fn changes_page(
    c: &Connection,
    since: Cursor,
    limit: usize,
    reader: &Reader,
) -> Result<ChangesPage, StoreError> {
    let high_water = max_seq(c)?;
    let fetch = i64::try_from(limit + 1).unwrap_or(i64::MAX);
    let (sql, rest) = feed_sql(reader)?;
    let mut args: Vec<&dyn ToSql> = vec![&since.0, &fetch];
    args.extend(rest.iter().map(|a| a.as_ref()));
    let mut stmt = c.prepare_cached(&sql).map_err(db_err)?;
    let mut rows = stmt.query(args.as_slice()).map_err(db_err)?;
    let mut page = Vec::with_capacity(limit.min(1024));
    let mut last_seq = since.0;
    let mut has_more = false;
    while let Some(row) = rows.next().map_err(db_err)? {
        if page.len() == limit {
            has_more = true;
            break;
        }
        last_seq = row.get(0).map_err(db_err)?;
        let id: String = row.get(2).map_err(db_err)?;
        let fields: String = row.get(4).map_err(db_err)?;
        let updated_at: String = row.get(6).map_err(db_err)?;
        let record = Record {
            collection: row.get(1).map_err(db_err)?,
            id: parse_uuid(&id)?,
            version: row.get(3).map_err(db_err)?,
            fields: serde_json::value::RawValue::from_string(fields).map_err(json_err)?,
            deleted: row.get(5).map_err(db_err)?,
            updated_at: stored_hlc(&updated_at)?,
            updated_by: row.get(7).map_err(db_err)?,
            merged_from: None,
        };
        page.push((record, row.get::<_, Option<String>>(8).map_err(db_err)?));
    }
    let (changes, removed) = sort_page(&reader.view, page);
    let mut page = ChangesPage::new(changes, since, last_seq, has_more, high_water);
    page.removed = removed;
    Ok(page)
}
