//! How much waits for the server or the user, for status displays.

use rusqlite::Connection;

use super::LocalStore;
use crate::error::Result;

/// What waits for the server or the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Pending {
    pub outbox: i64,
    pub conflicts: i64,
    pub rejected: i64,
}

/// How much is waiting, for status displays.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Counts {
    pub outbox: i64,
    pub conflicts: i64,
    pub rejected: i64,
    pub records: i64,
}

impl LocalStore {
    /// Counts for a status line.
    pub fn counts(&self) -> Result<Counts> {
        self.read(|c| {
            let pending = pending_in(c)?;
            Ok(Counts {
                outbox: pending.outbox,
                conflicts: pending.conflicts,
                rejected: pending.rejected,
                records: c.query_row(
                    "SELECT count(*) FROM records WHERE deleted = 0",
                    [],
                    |r| r.get(0),
                )?,
            })
        })
    }

    /// Counts of what waits for the server or the user (cheap: no record scan).
    pub fn pending_counts(&self) -> Result<Pending> {
        self.read(pending_in)
    }
}

fn pending_in(c: &Connection) -> Result<Pending> {
    let n = |sql: &str| c.query_row(sql, [], |r| r.get::<_, i64>(0));
    Ok(Pending {
        outbox: n("SELECT count(*) FROM outbox")?,
        conflicts: n("SELECT count(*) FROM conflicts")?,
        rejected: n("SELECT count(*) FROM records WHERE error IS NOT NULL")?,
    })
}
