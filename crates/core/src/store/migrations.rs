//! Versioned, forward-only migrations of the local database.
//!
//! `PRAGMA user_version` holds the number of migrations applied. Each
//! migration runs in its own transaction together with the version bump, so
//! a crash leaves the database at a whole version. A database from a newer
//! Ferry is refused rather than guessed at.

use rusqlite::Connection;

/// Migration `i` takes the database from version `i` to `i + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: settings, the schema cache, records with their base, the outbox.
    "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE collections (
        name TEXT PRIMARY KEY,
        position INTEGER NOT NULL,
        def TEXT NOT NULL
     );
     CREATE TABLE records (
        rid INTEGER PRIMARY KEY,
        collection TEXT NOT NULL,
        id TEXT NOT NULL,
        fields TEXT NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0,
        base_version INTEGER,
        base_fields TEXT,
        base_deleted INTEGER NOT NULL DEFAULT 0,
        base_updated_at TEXT,
        base_updated_by TEXT,
        error TEXT,
        UNIQUE (collection, id)
     );
     CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        mutation_id TEXT NOT NULL UNIQUE,
        collection TEXT NOT NULL,
        record_id TEXT NOT NULL,
        op TEXT NOT NULL,
        base_version INTEGER,
        base TEXT NOT NULL,
        fields TEXT NOT NULL,
        hlc TEXT NOT NULL,
        in_flight INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
     );
     CREATE INDEX outbox_by_record ON outbox(collection, record_id);",
    // 2: conflicts waiting for a person.
    "CREATE TABLE conflicts (
        collection TEXT NOT NULL,
        record_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        fields TEXT NOT NULL,
        base_version INTEGER,
        base TEXT NOT NULL,
        mine_op TEXT NOT NULL,
        mine TEXT NOT NULL,
        mine_changes TEXT NOT NULL,
        theirs TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (collection, record_id)
     );",
    // 3: full-text index over the text values of local records, kept by triggers.
    "CREATE VIRTUAL TABLE records_fts USING fts5(body, tokenize = 'unicode61 remove_diacritics 2');
     CREATE TRIGGER records_fts_insert AFTER INSERT ON records BEGIN
        INSERT INTO records_fts(rowid, body)
        VALUES (new.rid, (SELECT group_concat(value, ' ') FROM json_tree(new.fields) WHERE type = 'text'));
     END;
     CREATE TRIGGER records_fts_update AFTER UPDATE OF fields ON records WHEN old.fields IS NOT new.fields BEGIN
        DELETE FROM records_fts WHERE rowid = old.rid;
        INSERT INTO records_fts(rowid, body)
        VALUES (new.rid, (SELECT group_concat(value, ' ') FROM json_tree(new.fields) WHERE type = 'text'));
     END;
     CREATE TRIGGER records_fts_delete AFTER DELETE ON records BEGIN
        DELETE FROM records_fts WHERE rowid = old.rid;
     END;
     INSERT INTO records_fts(rowid, body)
        SELECT rid, (SELECT group_concat(value, ' ') FROM json_tree(records.fields) WHERE type = 'text') FROM records;
     CREATE INDEX records_live ON records(collection, deleted);
     CREATE INDEX records_rejected ON records(collection) WHERE error IS NOT NULL;",
    // 4: a leaner search index: which terms each record holds, without a copy
    //    of the text or positions, fed by ferry_text() (registered on every
    //    connection) and with a term list for prefix expansion; and a base
    //    stored only when it differs from the local value.
    "DROP TRIGGER IF EXISTS records_fts_insert;
     DROP TRIGGER IF EXISTS records_fts_update;
     DROP TRIGGER IF EXISTS records_fts_delete;
     DROP TABLE records_fts;
     CREATE VIRTUAL TABLE records_fts USING fts5(body, content = '', contentless_delete = 1, detail = none,
        tokenize = 'unicode61 remove_diacritics 2');
     CREATE VIRTUAL TABLE records_fts_terms USING fts5vocab(records_fts, row);
     CREATE TRIGGER records_fts_insert AFTER INSERT ON records BEGIN
        INSERT INTO records_fts(rowid, body) VALUES (new.rid, ferry_text(new.fields));
     END;
     CREATE TRIGGER records_fts_update AFTER UPDATE OF fields ON records WHEN old.fields IS NOT new.fields BEGIN
        DELETE FROM records_fts WHERE rowid = old.rid;
        INSERT INTO records_fts(rowid, body) VALUES (new.rid, ferry_text(new.fields));
     END;
     CREATE TRIGGER records_fts_delete AFTER DELETE ON records BEGIN
        DELETE FROM records_fts WHERE rowid = old.rid;
     END;
     INSERT INTO records_fts(rowid, body) SELECT rid, ferry_text(fields) FROM records;
     UPDATE records SET base_fields = NULL WHERE base_version IS NOT NULL AND base_fields = fields;",
    // 5: fields as binary JSON (JSONB), which sort indexes and filters read
    //    without parsing; the search triggers read them through json(). The
    //    text indexed does not change. (Opening the store rebuilds the sort
    //    indexes in their new shape.)
    "DROP TRIGGER IF EXISTS records_fts_insert;
     DROP TRIGGER IF EXISTS records_fts_update;
     UPDATE records SET
        base_fields = CASE WHEN base_version IS NOT NULL AND base_fields IS NOT fields THEN jsonb(base_fields) END,
        fields = jsonb(fields);
     CREATE TRIGGER records_fts_insert AFTER INSERT ON records BEGIN
        INSERT INTO records_fts(rowid, body) VALUES (new.rid, ferry_text(json(new.fields)));
     END;
     CREATE TRIGGER records_fts_update AFTER UPDATE OF fields ON records WHEN old.fields IS NOT new.fields BEGIN
        DELETE FROM records_fts WHERE rowid = old.rid;
        INSERT INTO records_fts(rowid, body) VALUES (new.rid, ferry_text(json(new.fields)));
     END;",
    // 6: a `lost_access` conflict of a record the server took out of my
    //    view (1), or of an edit it refused while I may still see it (0).
    "ALTER TABLE conflicts ADD COLUMN gone INTEGER NOT NULL DEFAULT 0;",
    // 7: attached files this laptop holds or must send: `upload` is
    //    'waiting' (to send before the change naming it is pushed) or
    //    'failed' (with `error`); `sent` is how much the server has of it.
    "CREATE TABLE files (
        sha256 TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        present INTEGER NOT NULL DEFAULT 0,
        upload TEXT,
        sent INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        used_at TEXT NOT NULL
     ) WITHOUT ROWID;
     CREATE INDEX files_to_send ON files(upload) WHERE upload IS NOT NULL;",
    // 8: sort keys in tables of their own instead of indexes over
    //    `records`; built from the schema cache once migrated
    //    (`LocalStore::open`), as no statement here can name them.
    "",
    // 9: changes the server acknowledged, kept to be sent again if it is
    //    restored from a backup; records a full pull has yet to bring back.
    "CREATE TABLE acked (
        seq INTEGER PRIMARY KEY,
        mutation_id TEXT NOT NULL UNIQUE,
        collection TEXT NOT NULL,
        record_id TEXT NOT NULL,
        op TEXT NOT NULL,
        base_version INTEGER,
        base TEXT NOT NULL,
        fields TEXT NOT NULL,
        hlc TEXT NOT NULL,
        created_at TEXT NOT NULL,
        acked_at TEXT NOT NULL
     );
     CREATE INDEX acked_by_time ON acked(acked_at);
     CREATE TABLE resync_unseen (
        collection TEXT NOT NULL,
        id TEXT NOT NULL,
        PRIMARY KEY (collection, id)
     ) WITHOUT ROWID;",
    // 10: a file the server refused (too large, over the quota) is tried
    //    again from `retry_at` on, or when its owner asks; not each sync.
    "ALTER TABLE files ADD COLUMN retry_at TEXT;",
];

/// The version since which sort keys have their current shape; opening
/// an older database rebuilds them.
pub(crate) const SORT_KEY_SHAPE: i64 = 8;

/// The version this build writes.
pub(crate) fn latest() -> i64 {
    MIGRATIONS.len() as i64
}

pub(crate) fn version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Applies the migrations after the database's version, up to `target`.
/// Returns the version found before migrating.
pub(crate) fn migrate_to(conn: &mut Connection, target: i64) -> rusqlite::Result<i64> {
    let found = version(conn)?;
    for v in found..target {
        let Some(sql) = usize::try_from(v).ok().and_then(|i| MIGRATIONS.get(i)) else {
            break;
        };
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", v + 1)?;
        tx.commit()?;
        tracing::info!(version = v + 1, "local database migrated");
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record_count(conn: &Connection) -> i64 {
        conn.query_row("SELECT count(*) FROM records", [], |r| r.get(0))
            .expect("count")
    }

    /// From every earlier version, holding data, to the latest: nothing lost,
    /// and the full-text index covers records written before it existed.
    #[test]
    fn migrates_from_every_earlier_version() {
        for start in 1..=latest() {
            let mut conn = Connection::open_in_memory().expect("open");
            crate::store::search::register_functions(&conn).expect("functions");
            migrate_to(&mut conn, start).expect("migrate to start");
            conn.execute(
                "INSERT INTO records (collection, id, fields, base_version, base_fields)
                 VALUES ('tasks', 'a', '{\"title\":\"Call the plumber\"}', 1, '{\"title\":\"Call the plumber\"}')",
                [],
            )
            .expect("insert");
            conn.execute(
                "INSERT INTO records (collection, id, fields, base_version, base_fields)
                 VALUES ('tasks', 'b', '{\"title\":\"Mine\"}', 1, '{\"title\":\"Theirs\"}')",
                [],
            )
            .expect("insert");
            conn.execute(
                "INSERT INTO outbox (mutation_id, collection, record_id, op, base, fields, hlc, created_at)
                 VALUES ('m1', 'tasks', 'a', 'put', '{}', '{}', 'h', 'now')",
                [],
            )
            .expect("outbox");
            let found = migrate_to(&mut conn, latest()).expect("migrate to latest");
            assert_eq!(found, start);
            assert_eq!(version(&conn).expect("version"), latest());
            assert_eq!(record_count(&conn), 2, "from version {start}");
            if start < 5 {
                let kinds: Vec<String> = conn
                    .prepare("SELECT DISTINCT typeof(fields) FROM records")
                    .expect("prepare")
                    .query_map([], |r| r.get(0))
                    .expect("kinds")
                    .collect::<rusqlite::Result<_>>()
                    .expect("kinds");
                assert_eq!(kinds, ["blob"], "fields become JSONB");
            }
            let bases: Vec<String> = conn
                .prepare("SELECT json(coalesce(base_fields, fields)) FROM records ORDER BY id")
                .expect("prepare")
                .query_map([], |r| r.get(0))
                .expect("bases")
                .collect::<rusqlite::Result<_>>()
                .expect("bases");
            assert_eq!(
                bases,
                ["{\"title\":\"Call the plumber\"}", "{\"title\":\"Theirs\"}"],
                "from version {start}"
            );
            let hits: i64 = conn
                .query_row(
                    "SELECT count(*) FROM records_fts WHERE records_fts MATCH 'plumb* OR theirs'",
                    [],
                    |r| r.get(0),
                )
                .expect("search");
            assert_eq!(hits, 1, "from version {start}");
            let pending: i64 = conn
                .query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))
                .expect("outbox");
            assert_eq!(pending, 1);
        }
    }

    #[test]
    fn migrating_twice_changes_nothing() {
        let mut conn = Connection::open_in_memory().expect("open");
        crate::store::search::register_functions(&conn).expect("functions");
        migrate_to(&mut conn, latest()).expect("first");
        assert_eq!(migrate_to(&mut conn, latest()).expect("second"), latest());
    }
}
