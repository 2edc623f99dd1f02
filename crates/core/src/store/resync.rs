//! Pulling everything again without losing anything (DESIGN.md,
//! "Retention" and "Backups and restore").
//!
//! When the server no longer keeps the history since this device's cursor
//! (410 `cursor_expired`), or was restored from a backup (410
//! `epoch_changed`), the device pulls every record again from the start.
//! Its outbox and conflicts stay: unsent edits are pushed as ever (the
//! server merges them from their bases, or answers an edit of a record it
//! no longer holds as an edit/delete conflict), and records the full pull
//! does not bring back leave the device, except those with something of
//! mine waiting on them (unsent edits, a conflict, a refused edit).
//!
//! After a restore the server has lost what it acknowledged since its
//! backup. This device keeps every acknowledged change for
//! [`ACKED_KEEP_DAYS`] and puts them back in the outbox, in their order and
//! with their mutation ids: the server applies those it lost and answers
//! the ones it still remembers with their first result, so each is applied
//! once.

use ferry_protocol::Record;
use rusqlite::{Connection, params};

use super::{LocalStore, get_setting, keys, now_rfc3339, set_setting};
use crate::error::Result;
use crate::model::OutboxEntry;

/// Days an acknowledged change is kept to be sent again after a restore:
/// longer than the age of any backup an operator would restore (daily
/// backups, kept a few weeks, are the usual practice), and short enough
/// that the copies stay small (a busy user's month is some thousands of
/// changes, a few MB).
pub const ACKED_KEEP_DAYS: i64 = 30;

/// Keeps a copy of an acknowledged (applied or merged) entry.
pub(crate) fn keep_acked(c: &Connection, e: &OutboxEntry) -> Result<()> {
    let m = &e.mutation;
    c.prepare_cached(
        "INSERT OR REPLACE INTO acked (seq, mutation_id, collection, record_id, op, base_version, base, fields, hlc, created_at, acked_at)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11",
    )?
    .execute(params![
        e.seq,
        m.mutation_id.to_string(),
        m.collection,
        m.record_id.to_string(),
        match m.op {
            ferry_protocol::Op::Put => "put",
            ferry_protocol::Op::Delete => "delete",
        },
        m.base_version,
        super::records::to_json(&m.base)?,
        super::records::to_json(&m.fields)?,
        m.hlc.to_string(),
        e.created_at,
        now_rfc3339(),
    ])?;
    Ok(())
}

/// Forgets acknowledged changes older than [`ACKED_KEEP_DAYS`].
pub(crate) fn prune_acked(c: &Connection) -> Result<()> {
    let cutoff = super::rfc3339(chrono::Utc::now() - chrono::Duration::days(ACKED_KEEP_DAYS));
    c.prepare_cached("DELETE FROM acked WHERE acked_at < ?1")?
        .execute([cutoff])?;
    Ok(())
}

/// Whether a full pull is under way.
pub(crate) fn active(c: &Connection) -> Result<bool> {
    Ok(get_setting(c, keys::RESYNCING)?.as_deref() == Some("1"))
}

/// Notes records a page of the full pull brought (or removed): they are
/// not left behind at its end.
pub(crate) fn seen<F>(
    c: &Connection,
    changes: &[Record<F>],
    removed: &[ferry_protocol::Removed],
) -> Result<()> {
    if !active(c)? {
        return Ok(());
    }
    let mut stmt =
        c.prepare_cached("DELETE FROM resync_unseen WHERE collection = ?1 AND id = ?2")?;
    for (collection, id) in changes
        .iter()
        .map(|r| (&r.collection, r.id))
        .chain(removed.iter().map(|r| (&r.collection, r.id)))
    {
        stmt.execute(params![collection, id.to_string()])?;
    }
    Ok(())
}

impl LocalStore {
    /// The server's epoch as this device last saw it.
    pub fn server_epoch(&self) -> Result<Option<String>> {
        self.setting(keys::SERVER_EPOCH)
    }

    /// Notes the server's epoch, the first time one is seen.
    pub fn note_server_epoch(&self, epoch: &str) -> Result<()> {
        self.write(|tx| {
            if get_setting(tx, keys::SERVER_EPOCH)?.is_none() {
                set_setting(tx, keys::SERVER_EPOCH, Some(epoch))?;
            }
            Ok(())
        })
    }

    /// Starts pulling everything again, in one transaction: the cursor goes,
    /// and every record the server held is noted, to leave at the end
    /// unless the pull brings it back. After a restore (`epoch`: the
    /// server's new one) the changes it acknowledged in the last
    /// [`ACKED_KEEP_DAYS`] go back in the outbox, as sent before and not
    /// answered: in order, never merged with later edits.
    pub fn begin_resync(&self, epoch: Option<&str>) -> Result<usize> {
        self.write(|tx| {
            let mut requeued = 0;
            if let Some(epoch) = epoch {
                prune_acked(tx)?;
                requeued = tx.execute(
                    "INSERT OR IGNORE INTO outbox (seq, mutation_id, collection, record_id, op, base_version, base, fields, hlc, in_flight, created_at)
                     SELECT seq, mutation_id, collection, record_id, op, base_version, base, fields, hlc, 1, created_at
                     FROM acked ORDER BY seq",
                    [],
                )?;
                tx.execute("DELETE FROM acked", [])?;
                set_setting(tx, keys::SERVER_EPOCH, Some(epoch))?;
            }
            tx.execute("DELETE FROM resync_unseen", [])?;
            tx.execute(
                "INSERT INTO resync_unseen (collection, id)
                 SELECT collection, id FROM records WHERE base_version IS NOT NULL",
                [],
            )?;
            set_setting(tx, keys::CURSOR, None)?;
            set_setting(tx, keys::RESYNCING, Some("1"))?;
            tracing::info!(requeued, after_restore = epoch.is_some(), "pulling everything again");
            Ok(requeued)
        })
    }

    /// Ends a full pull that reached its end: the records it did not bring
    /// back leave, unless something of mine waits on them. Returns how many
    /// left.
    pub fn finish_resync(&self) -> Result<usize> {
        self.write(|tx| {
            if !active(tx)? {
                return Ok(0);
            }
            let left: Vec<ferry_protocol::Removed> = tx
                .prepare("SELECT collection, id FROM resync_unseen")?
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?
                .into_iter()
                .filter_map(|(collection, id)| {
                    uuid::Uuid::parse_str(&id)
                        .ok()
                        .map(|id| ferry_protocol::Removed { collection, id })
                })
                .collect();
            // Those with something of mine on them stay: their edits are
            // pushed (the server answers an edit of a record it forgot as
            // an edit/delete conflict), their conflicts wait for me.
            let mut changed = 0;
            for r in &left {
                if !super::records::has_local_changes(tx, &r.collection, &r.id.to_string())? {
                    super::lost::remove(tx, &r.collection, r.id)?;
                    changed += 1;
                }
            }
            tx.execute("DELETE FROM resync_unseen", [])?;
            set_setting(tx, keys::RESYNCING, None)?;
            tracing::info!(left = left.len(), "pulled everything again");
            Ok(changed)
        })
    }

    /// Whether everything is being pulled again.
    pub fn resyncing(&self) -> Result<bool> {
        self.read(active)
    }

    /// Acknowledged changes kept to be sent again after a restore.
    pub fn acked_count(&self) -> Result<usize> {
        self.read(|c| {
            let n: i64 = c.query_row("SELECT count(*) FROM acked", [], |r| r.get(0))?;
            Ok(usize::try_from(n).unwrap_or(0))
        })
    }
}
