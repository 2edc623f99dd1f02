//! `ferry-server migrate --from sqlite://… --to postgres://…`: copies a
//! SQLite server's whole database into an empty PostgreSQL database, rows
//! and sequence numbers as they are, so clients keep their cursors, tokens
//! and pending mutation ids.

use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags, params};
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::StoreError;
use super::postgres::{PgOptions, PgStore};
use super::sqlite::SqliteStore;

/// History rows as columns, for `unnest`.
type HistoryColumns = (
    Vec<i64>,
    Vec<String>,
    Vec<Uuid>,
    Vec<i64>,
    Vec<String>,
    Vec<bool>,
    Vec<String>,
    Vec<String>,
    Vec<String>,
    Vec<bool>,
    Vec<Option<i64>>,
);

/// Mutation outcome rows as columns, for `unnest`.
type MutationColumns = (
    Vec<Uuid>,
    Vec<Uuid>,
    Vec<String>,
    Vec<String>,
    Vec<Uuid>,
    Vec<Option<i64>>,
    Vec<Option<String>>,
    Vec<Option<String>>,
);

/// Rows copied per statement.
const CHUNK: i64 = 5000;

/// What was copied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Copied {
    pub users: usize,
    /// Lines of the audit log.
    pub audit: usize,
    pub grants: usize,
    pub sessions: usize,
    pub collections: usize,
    pub history: usize,
    pub records: usize,
    pub mutations: usize,
    /// Row rules: grants in `rules`, teams, memberships, feed entries.
    pub rules: usize,
    /// Who uploaded which file (the files' bytes stay where `--blobs` keeps them).
    pub blob_owners: usize,
    pub last_seq: i64,
}

impl std::fmt::Display for Copied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} users, {} grants, {} sessions, {} collections, {} record versions of {} records, {} mutation outcomes, {} rows of row rules, {} file uploads, {} audit lines; change sequence at {}",
            self.users,
            self.grants,
            self.sessions,
            self.collections,
            self.history,
            self.records,
            self.mutations,
            self.rules,
            self.blob_owners,
            self.audit,
            self.last_seq
        )
    }
}

fn db_err(e: rusqlite::Error) -> StoreError {
    StoreError::Internal(format!("reading the SQLite database: {e}"))
}

fn pg_err(e: tokio_postgres::Error) -> StoreError {
    StoreError::Internal(format!("writing the PostgreSQL database: {e}"))
}

fn uuid(s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(|e| StoreError::Internal(format!("stored id {s:?}: {e}")))
}

type Sqlite = Arc<Mutex<Connection>>;

async fn read<T: Send + 'static>(
    conn: &Sqlite,
    f: impl FnOnce(&Connection) -> Result<T, rusqlite::Error> + Send + 'static,
) -> Result<T, StoreError> {
    let conn = conn.clone();
    tokio::task::spawn_blocking(move || {
        let c = conn.lock().unwrap_or_else(|e| e.into_inner());
        f(&c).map_err(db_err)
    })
    .await
    .map_err(|e| StoreError::Internal(format!("reading task failed: {e}")))?
}

/// Copies the SQLite database at `from` (a path) into the PostgreSQL
/// database `to`, which must hold no Ferry data yet. All in one PostgreSQL
/// transaction: on any error nothing is left behind. Stop the server that
/// uses `from` first.
pub async fn sqlite_to_postgres(
    from: &str,
    to: &str,
    options: &PgOptions,
) -> Result<Copied, StoreError> {
    if !std::path::Path::new(from).is_file() {
        return Err(StoreError::NotFound(format!(
            "there is no SQLite database at {from:?}"
        )));
    }
    // Opening migrates an older file to the current schema first.
    drop(SqliteStore::open(from)?);
    let conn =
        Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(db_err)?;
    let src: Sqlite = Arc::new(Mutex::new(conn));
    // One read transaction: a consistent copy even if something writes meanwhile.
    read(&src, |c| c.execute_batch("BEGIN")).await?;

    let target = PgStore::open(to, options).await?;
    let mut client = target
        .pool()
        .get()
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
    let tx = client.transaction().await.map_err(pg_err)?;
    let held: i64 = tx
        .query_one(
            "SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM collections)
                  + (SELECT count(*) FROM history) + (SELECT value FROM change_seq FOR UPDATE)",
            &[],
        )
        .await
        .map_err(pg_err)?
        .get(0);
    if held != 0 {
        return Err(StoreError::Exists(
            "the PostgreSQL database already holds Ferry data; migrate into an empty database"
                .into(),
        ));
    }
    let mut copied = Copied::default();

    let users = read(&src, |c| {
        let mut s = c.prepare("SELECT id, username, password_hash, created_at FROM users")?;
        let rows = s.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        rows.collect::<Result<Vec<_>, _>>()
    })
    .await?;
    copied.users = users.len();
    let (mut ids, mut names, mut hashes, mut created) = (vec![], vec![], vec![], vec![]);
    for (id, name, hash, at) in users {
        ids.push(uuid(&id)?);
        names.push(name);
        hashes.push(hash);
        created.push(at);
    }
    tx.execute(
        "INSERT INTO users (id, username, password_hash, created_at)
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[])",
        &[&ids, &names, &hashes, &created],
    )
    .await
    .map_err(pg_err)?;

    let grants = read(&src, |c| {
        let mut s = c.prepare("SELECT user_id, collection, access FROM grants")?;
        let rows = s.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        rows.collect::<Result<Vec<_>, _>>()
    })
    .await?;
    copied.grants = grants.len();
    let (mut users, mut cols, mut access) = (vec![], vec![], vec![]);
    for (u, c, a) in grants {
        users.push(uuid(&u)?);
        cols.push(c);
        access.push(a);
    }
    tx.execute(
        "INSERT INTO grants (user_id, collection, access)
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[])",
        &[&users, &cols, &access],
    )
    .await
    .map_err(pg_err)?;

    let sessions = read(&src, |c| {
        let mut s = c.prepare(
            "SELECT token_hash, user_id, device_id, device_name, created_at FROM sessions",
        )?;
        let rows = s.query_map([], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?;
        rows.collect::<Result<Vec<_>, _>>()
    })
    .await?;
    copied.sessions = sessions.len();
    let (mut tokens, mut users, mut devices, mut device_names, mut created) =
        (vec![], vec![], vec![], vec![], vec![]);
    for (t, u, d, n, at) in sessions {
        tokens.push(t);
        users.push(uuid(&u)?);
        devices.push(uuid(&d)?);
        device_names.push(n);
        created.push(at);
    }
    tx.execute(
        "INSERT INTO sessions (token_hash, user_id, device_id, device_name, created_at)
         SELECT * FROM unnest($1::bytea[], $2::uuid[], $3::uuid[], $4::text[], $5::text[])",
        &[&tokens, &users, &devices, &device_names, &created],
    )
    .await
    .map_err(pg_err)?;
    // What each device said of itself, when it was last seen, revoked, wiped.
    type Details = (
        Vec<u8>,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        bool,
    );
    let details: Vec<Details> = read(&src, |c| {
        let mut s = c.prepare(
            "SELECT token_hash, platform, app_version, last_seen_at, last_ip, revoked_at, wipe FROM sessions",
        )?;
        let rows = s.query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })?;
        rows.collect::<Result<Vec<_>, _>>()
    })
    .await?;
    let (mut tokens, mut platforms, mut versions) = (vec![], vec![], vec![]);
    let (mut seen, mut ips, mut revoked, mut wipes) = (vec![], vec![], vec![], vec![]);
    for (t, p, v, s, ip, r, w) in details {
        tokens.push(t);
        platforms.push(p);
        versions.push(v);
        seen.push(s);
        ips.push(ip);
        revoked.push(r);
        wipes.push(w);
    }
    tx.execute(
        "UPDATE sessions s SET platform = d.platform, app_version = d.app_version, last_seen_at = d.last_seen_at,
             last_ip = d.last_ip, revoked_at = d.revoked_at, wipe = d.wipe
         FROM unnest($1::bytea[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bool[])
             AS d(token_hash, platform, app_version, last_seen_at, last_ip, revoked_at, wipe)
         WHERE s.token_hash = d.token_hash",
        &[
            &tokens, &platforms, &versions, &seen, &ips, &revoked, &wipes,
        ],
    )
    .await
    .map_err(pg_err)?;

    let collections = read(&src, |c| {
        let mut s = c.prepare("SELECT name, position, definition FROM collections")?;
        let rows = s.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        rows.collect::<Result<Vec<_>, _>>()
    })
    .await?;
    copied.collections = collections.len();
    let (mut names, mut positions, mut defs) = (vec![], vec![], vec![]);
    for (n, p, d) in collections {
        names.push(n);
        positions.push(p);
        defs.push(d);
    }
    tx.execute(
        "INSERT INTO collections (name, position, definition)
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[])",
        &[&names, &positions, &defs],
    )
    .await
    .map_err(pg_err)?;

    // History, in chunks by sequence number.
    let mut after = 0i64;
    loop {
        type Row = (
            i64,
            String,
            String,
            i64,
            String,
            bool,
            String,
            String,
            String,
            bool,
            Option<i64>,
        );
        let rows: Vec<Row> = read(&src, move |c| {
            let mut s = c.prepare(
                "SELECT seq, collection, id, version, fields, deleted, updated_at, updated_by, hlc, delta, merged_from
                 FROM history WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?;
            let rows = s.query_map(params![after, CHUNK], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                    r.get(10)?,
                ))
            })?;
            rows.collect::<Result<Vec<_>, _>>()
        })
        .await?;
        let Some(last) = rows.last() else { break };
        after = last.0;
        copied.history += rows.len();
        let mut cols: HistoryColumns = Default::default();
        for (seq, collection, id, version, fields, deleted, at, by, hlc, delta, merged_from) in rows
        {
            cols.0.push(seq);
            cols.1.push(collection);
            cols.2.push(uuid(&id)?);
            cols.3.push(version);
            cols.4.push(fields);
            cols.5.push(deleted);
            cols.6.push(at);
            cols.7.push(by);
            cols.8.push(hlc);
            cols.9.push(delta);
            cols.10.push(merged_from);
        }
        let params: [&(dyn ToSql + Sync); 11] = [
            &cols.0, &cols.1, &cols.2, &cols.3, &cols.4, &cols.5, &cols.6, &cols.7, &cols.8,
            &cols.9, &cols.10,
        ];
        tx.execute(
            "INSERT INTO history (seq, collection, id, version, fields, deleted, updated_at, updated_by, hlc, delta,
                                  merged_from)
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::uuid[], $4::bigint[], $5::text[],
                                  $6::boolean[], $7::text[], $8::text[], $9::text[], $10::boolean[],
                                  $11::bigint[])",
            &params,
        )
        .await
        .map_err(pg_err)?;
    }
    copied.last_seq = after;

    let mut after = 0i64;
    loop {
        type Row = (i64, String, String, Option<String>);
        let rows: Vec<Row> = read(&src, move |c| {
            let mut s = c.prepare(
                "SELECT seq, collection, id, parts FROM records WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?;
            let rows = s.query_map(params![after, CHUNK], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?;
            rows.collect::<Result<Vec<_>, _>>()
        })
        .await?;
        let Some(last) = rows.last() else { break };
        after = last.0;
        copied.records += rows.len();
        let (mut seqs, mut cols, mut ids, mut parts) = (vec![], vec![], vec![], vec![]);
        for (seq, c, id, p) in rows {
            seqs.push(seq);
            cols.push(c);
            ids.push(uuid(&id)?);
            parts.push(p);
        }
        tx.execute(
            "INSERT INTO records (seq, collection, id, parts)
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::uuid[], $4::text[])",
            &[&seqs, &cols, &ids, &parts],
        )
        .await
        .map_err(pg_err)?;
    }
    copied.rules = copy_row_rules(&src, &tx).await?;
    copied.blob_owners = copy_blob_owners(&src, &tx).await?;
    copied.audit = copy_admin(&src, &tx).await?;
    // The epoch and the horizon too: clients keep their cursors.
    let meta: Vec<(String, String)> = read(&src, |c| {
        c.prepare("SELECT key, value FROM meta")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect()
    })
    .await?;
    for (key, value) in &meta {
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[key, value],
        )
        .await
        .map_err(pg_err)?;
    }
    let feed_end: i64 = read(&src, |c| {
        c.query_row(
            "SELECT max(coalesce((SELECT max(seq) FROM user_feed), 0),
                        coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'compacted_seq'), 0))",
            [],
            |r| r.get(0),
        )
    })
    .await?;
    copied.last_seq = copied.last_seq.max(feed_end);

    // Mutation outcomes, in chunks by key.
    let mut after = (String::new(), String::new());
    loop {
        type Row = (
            String,
            String,
            String,
            String,
            String,
            Option<i64>,
            Option<String>,
            Option<String>,
        );
        let key = after.clone();
        let rows: Vec<Row> = read(&src, move |c| {
            let mut s = c.prepare(
                "SELECT user_id, mutation_id, status, collection, record_id, version, conflict, error
                 FROM mutations WHERE (user_id, mutation_id) > (?1, ?2)
                 ORDER BY user_id, mutation_id LIMIT ?3",
            )?;
            let rows = s.query_map(params![key.0, key.1, CHUNK], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            })?;
            rows.collect::<Result<Vec<_>, _>>()
        })
        .await?;
        let Some(last) = rows.last() else { break };
        after = (last.0.clone(), last.1.clone());
        copied.mutations += rows.len();
        let mut cols: MutationColumns = Default::default();
        for (u, m, status, collection, record, version, conflict, error) in rows {
            cols.0.push(uuid(&u)?);
            cols.1.push(uuid(&m)?);
            cols.2.push(status);
            cols.3.push(collection);
            cols.4.push(uuid(&record)?);
            cols.5.push(version);
            cols.6.push(conflict);
            cols.7.push(error);
        }
        let params: [&(dyn ToSql + Sync); 8] = [
            &cols.0, &cols.1, &cols.2, &cols.3, &cols.4, &cols.5, &cols.6, &cols.7,
        ];
        tx.execute(
            "INSERT INTO mutations (user_id, mutation_id, status, collection, record_id, version, conflict, error)
             SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::bigint[],
                                  $7::text[], $8::text[])",
            &params,
        )
        .await
        .map_err(pg_err)?;
    }

    tx.execute("UPDATE change_seq SET value = $1", &[&copied.last_seq])
        .await
        .map_err(pg_err)?;
    tx.commit().await.map_err(pg_err)?;
    let _ = read(&src, |c| c.execute_batch("COMMIT")).await;
    Ok(copied)
}

/// Copies users' roles and states and the audit log (its `seq` kept, and
/// the sequence moved past it). Returns the audit lines.
async fn copy_admin(
    src: &Sqlite,
    tx: &deadpool_postgres::Transaction<'_>,
) -> Result<usize, StoreError> {
    let roles: Vec<(String, String, bool)> = read(src, |c| {
        let mut s = c.prepare("SELECT id, role, disabled FROM users")?;
        let rows = s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<Result<Vec<_>, _>>()
    })
    .await?;
    let (mut ids, mut role, mut disabled) = (vec![], vec![], vec![]);
    for (id, r, d) in roles {
        ids.push(uuid(&id)?);
        role.push(r);
        disabled.push(d);
    }
    tx.execute(
        "UPDATE users u SET role = d.role, disabled = d.disabled
         FROM unnest($1::uuid[], $2::text[], $3::boolean[]) AS d(id, role, disabled) WHERE u.id = d.id",
        &[&ids, &role, &disabled],
    )
    .await
    .map_err(pg_err)?;
    type Line = (
        i64,
        String,
        String,
        Option<String>,
        Option<String>,
        String,
        String,
        String,
    );
    let lines: Vec<Line> = read(src, |c| {
        let mut s = c.prepare(
            "SELECT seq, at, actor, device_id, ip, action, target, detail FROM audit ORDER BY seq",
        )?;
        let rows = s.query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
            ))
        })?;
        rows.collect::<Result<Vec<_>, _>>()
    })
    .await?;
    let mut cols: (Vec<i64>, Vec<String>, Vec<String>, Vec<Option<uuid::Uuid>>) =
        Default::default();
    let mut rest: (Vec<Option<String>>, Vec<String>, Vec<String>, Vec<String>) = Default::default();
    for (seq, at, actor, device, ip, action, target, detail) in &lines {
        cols.0.push(*seq);
        cols.1.push(at.clone());
        cols.2.push(actor.clone());
        cols.3.push(device.as_deref().map(uuid).transpose()?);
        rest.0.push(ip.clone());
        rest.1.push(action.clone());
        rest.2.push(target.clone());
        rest.3.push(detail.clone());
    }
    tx.execute(
        "INSERT INTO audit (seq, at, actor, device_id, ip, action, target, detail)
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[])",
        &[&cols.0, &cols.1, &cols.2, &cols.3, &rest.0, &rest.1, &rest.2, &rest.3],
    )
    .await
    .map_err(pg_err)?;
    tx.execute(
        "SELECT setval(pg_get_serial_sequence('audit', 'seq'), greatest((SELECT max(seq) FROM audit), 1))",
        &[],
    )
    .await
    .map_err(pg_err)?;
    Ok(lines.len())
}

/// Copies what row rules keep: grants in `rules`, teams and their members,
/// records' partition values and users' feed entries. Returns the rows.
async fn copy_blob_owners(
    src: &Sqlite,
    tx: &deadpool_postgres::Transaction<'_>,
) -> Result<usize, StoreError> {
    let rows: Vec<(String, String, i64, String)> = read(src, |c| {
        let mut s = c.prepare("SELECT sha256, user_id, size, created_at FROM blob_owners")?;
        let rows = s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        rows.collect::<Result<Vec<_>, _>>()
    })
    .await?;
    let (mut shas, mut users, mut sizes, mut times) = (vec![], vec![], vec![], vec![]);
    for (sha, user, size, at) in &rows {
        shas.push(sha.clone());
        users.push(uuid(user)?);
        sizes.push(*size);
        times.push(at.clone());
    }
    tx.execute(
        "INSERT INTO blob_owners (sha256, user_id, size, created_at)
         SELECT s, u, n, t::timestamptz FROM unnest($1::text[], $2::uuid[], $3::bigint[], $4::text[]) AS x(s, u, n, t)",
        &[&shas, &users, &sizes, &times],
    )
    .await
    .map_err(pg_err)?;
    Ok(rows.len())
}

async fn copy_row_rules(
    src: &Sqlite,
    tx: &deadpool_postgres::Transaction<'_>,
) -> Result<usize, StoreError> {
    let mut n = 0;
    let texts = |sql: &'static str, width: usize| {
        read(src, move |c| {
            let mut s = c.prepare(sql)?;
            let rows = s.query_map([], |r| {
                (0..width)
                    .map(|i| r.get::<_, String>(i))
                    .collect::<Result<Vec<_>, _>>()
            })?;
            rows.collect::<Result<Vec<Vec<String>>, _>>()
        })
    };
    let column = |rows: &[Vec<String>], i: usize| -> Vec<String> {
        rows.iter().map(|r| r[i].clone()).collect()
    };

    let rows = texts("SELECT name, created_at FROM teams", 2).await?;
    n += rows.len();
    tx.execute(
        "INSERT INTO teams (name, created_at) SELECT * FROM unnest($1::text[], $2::text[])",
        &[&column(&rows, 0), &column(&rows, 1)],
    )
    .await
    .map_err(pg_err)?;
    let rows = texts("SELECT team, user_id FROM team_members", 2).await?;
    n += rows.len();
    let users = rows
        .iter()
        .map(|r| uuid(&r[1]))
        .collect::<Result<Vec<_>, _>>()?;
    tx.execute(
        "INSERT INTO team_members (team, user_id) SELECT * FROM unnest($1::text[], $2::uuid[])",
        &[&column(&rows, 0), &users],
    )
    .await
    .map_err(pg_err)?;
    let rows = texts("SELECT subject, collection, value, access FROM rules", 4).await?;
    n += rows.len();
    tx.execute(
        "INSERT INTO rules (subject, collection, value, access)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])",
        &[
            &column(&rows, 0),
            &column(&rows, 1),
            &column(&rows, 2),
            &column(&rows, 3),
        ],
    )
    .await
    .map_err(pg_err)?;

    // Partition values and feed entries may be many: in chunks by key.
    let mut after = (String::new(), String::new(), String::new());
    loop {
        let key = after.clone();
        let rows: Vec<(String, String, String, i64, bool)> = read(src, move |c| {
            let mut s = c.prepare(
                "SELECT collection, value, id, seq, present FROM record_parts
                 WHERE (collection, value, id) > (?1, ?2, ?3) ORDER BY collection, value, id LIMIT ?4",
            )?;
            let rows = s.query_map(params![key.0, key.1, key.2, CHUNK], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?;
            rows.collect::<Result<Vec<_>, _>>()
        })
        .await?;
        let Some(last) = rows.last() else { break };
        after = (last.0.clone(), last.1.clone(), last.2.clone());
        n += rows.len();
        let (mut cols, mut values, mut ids, mut seqs, mut present) =
            (vec![], vec![], vec![], vec![], vec![]);
        for (c, v, id, seq, p) in rows {
            cols.push(c);
            values.push(v);
            ids.push(uuid(&id)?);
            seqs.push(seq);
            present.push(p);
        }
        tx.execute(
            "INSERT INTO record_parts (collection, value, id, seq, present)
             SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::bigint[], $5::boolean[])",
            &[&cols, &values, &ids, &seqs, &present],
        )
        .await
        .map_err(pg_err)?;
    }
    let mut after = (String::new(), 0i64);
    loop {
        let key = after.clone();
        type FeedRow = (String, i64, String, String, bool, i64);
        let rows: Vec<FeedRow> = read(src, move |c| {
            let mut s = c.prepare(
                "SELECT user_id, seq, collection, id, gained, record_seq FROM user_feed
                 WHERE (user_id, seq) > (?1, ?2) ORDER BY user_id, seq LIMIT ?3",
            )?;
            let rows = s.query_map(params![key.0, key.1, CHUNK], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?;
            rows.collect::<Result<Vec<_>, _>>()
        })
        .await?;
        let Some(last) = rows.last() else { break };
        after = (last.0.clone(), last.1);
        n += rows.len();
        let (mut users, mut seqs, mut cols, mut ids, mut gained, mut record_seqs) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        for (u, seq, c, id, g, record_seq) in rows {
            record_seqs.push(record_seq);
            users.push(uuid(&u)?);
            seqs.push(seq);
            cols.push(c);
            ids.push(uuid(&id)?);
            gained.push(g);
        }
        tx.execute(
            "INSERT INTO user_feed (user_id, seq, collection, id, gained, record_seq)
             SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::uuid[], $5::boolean[], $6::bigint[])",
            &[&users, &seqs, &cols, &ids, &gained, &record_seqs],
        )
        .await
        .map_err(pg_err)?;
    }
    Ok(n)
}
