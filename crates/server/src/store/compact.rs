//! History retention: what `ferry-server compact` and the compaction task
//! remove, worked out once for both stores (DESIGN.md, "Retention").
//!
//! Old versions go from the oldest end of each record's history only (the
//! stored rows are reverse deltas: a version is rebuilt from the ones after
//! it, so removing the oldest never breaks the rest). A deletion older than
//! its collection's `tombstone_days` takes the whole record with it; the
//! highest sequence position so forgotten is the *horizon*: a cursor below
//! it may have missed that deletion, so a pull from it answers 410
//! `cursor_expired` and the client pulls everything again.

use chrono::{DateTime, Utc};
use ferry_protocol::admin::Retention;

/// What to compact: each collection's retention as of `now`, walking the
/// change sequence `window` positions per transaction (short transactions:
/// pushes wait for each one, not for the whole compaction).
#[derive(Debug, Clone)]
pub struct CompactPlan {
    pub collections: Vec<(String, Retention)>,
    pub now: DateTime<Utc>,
    pub window: i64,
}

impl CompactPlan {
    /// The plan of every collection that keeps less than everything.
    pub fn of(defs: &[crate::schema_file::CollectionDef], now: DateTime<Utc>) -> CompactPlan {
        CompactPlan {
            collections: defs
                .iter()
                .filter(|d| !d.retention().keeps_all())
                .map(|d| (d.name.clone(), d.retention()))
                .collect(),
            now,
            window: 20_000,
        }
    }
}

/// What a compaction removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CompactReport {
    /// Old versions (history rows) removed.
    pub versions_removed: u64,
    /// Deleted records forgotten entirely.
    pub records_forgotten: u64,
    /// No cursor below this is good any more (0: every cursor is).
    pub horizon: i64,
}

impl CompactReport {
    pub fn add(&mut self, other: CompactReport) {
        self.versions_removed += other.versions_removed;
        self.records_forgotten += other.records_forgotten;
        self.horizon = self.horizon.max(other.horizon);
    }
}

/// The bounds one collection's compaction works with, as SQL parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounds {
    /// Versions at least this many behind the latest may go (`None`: any).
    pub versions: Option<i64>,
    /// Versions stamped before this may go (`None`: any).
    pub before: Option<String>,
    /// Deletions stamped before this are forgotten (`None`: never).
    pub tombstones_before: Option<String>,
}

impl Bounds {
    pub fn of(retention: &Retention, now: DateTime<Utc>) -> Bounds {
        Bounds {
            versions: retention.versions.map(i64::from),
            before: retention.days.map(|d| stamp_days_before(now, d)),
            tombstones_before: retention
                .tombstone_days()
                .map(|d| stamp_days_before(now, d)),
        }
    }

    /// Whether old versions go at all (else only tombstones may).
    pub fn prunes_versions(&self) -> bool {
        self.versions.is_some() || self.before.is_some()
    }
}

/// The stored-stamp text of `days` before `now`: stamps order as text, so
/// `updated_at < this` is "older than `days`".
fn stamp_days_before(now: DateTime<Utc>, days: u32) -> String {
    let t = now - chrono::Duration::days(i64::from(days));
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The meta key of the horizon.
pub const HORIZON_KEY: &str = "compacted_seq";

/// Whether a pull from `since` (within `walk`) may have missed a deletion
/// compaction forgot, with the horizon at `horizon`. A cursor has seen
/// every change up to it, so any forgotten deletion after it was missed. A
/// walk from the start holds only what its pages brought: a deletion
/// written before the walk began reached it as the record's row or not at
/// all, so only one written after it began can have been missed.
pub fn expired(since: super::Cursor, walk: Option<super::Walk>, horizon: i64) -> bool {
    let seen = match walk {
        Some(w) if w.start == 0 => w.began.max(since.0),
        _ => since.0,
    };
    since.0 > 0 && seen < horizon
}

/// The message of a 410 `cursor_expired`.
pub fn expired_message(horizon: i64) -> String {
    format!(
        "this cursor is older than the history the server keeps (compacted up to {horizon}): pull everything again from the start, keeping unsent edits"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Cursor, Walk};

    #[test]
    fn a_walk_from_the_start_expires_only_past_where_it_began() {
        assert!(!expired(Cursor(0), None, 500), "from the start");
        assert!(expired(Cursor(100), None, 500));
        assert!(!expired(Cursor(500), None, 500));
        let fresh = |began| Some(Walk { start: 0, began });
        // Its first page ended at 100; the deletions forgotten were older than the walk.
        assert!(!expired(Cursor(100), fresh(900), 500));
        // One written after it began was forgotten meanwhile.
        assert!(expired(Cursor(100), fresh(400), 500));
        // A walk from an earlier cursor held the records before it.
        assert!(expired(
            Cursor(100),
            Some(Walk {
                start: 50,
                began: 900
            }),
            500
        ));
    }

    #[test]
    fn cutoffs_are_stamps_that_order_as_text() {
        let now: DateTime<Utc> = "2026-12-06T10:00:00Z".parse().expect("time");
        let b = Bounds::of(
            &Retention {
                versions: Some(3),
                days: Some(30),
                tombstone_days: None,
            },
            now,
        );
        assert_eq!(b.versions, Some(3));
        assert_eq!(b.before.as_deref(), Some("2026-11-06T10:00:00.000Z"));
        // Tombstones follow `days` unless told otherwise.
        assert_eq!(b.tombstones_before, b.before);
        let older = "2026-11-06T09:59:59.999Z-0000-srv";
        let newer = "2026-11-06T10:00:00.000Z-0000-srv";
        let cut = b.before.as_deref().unwrap_or_default();
        assert!(older < cut && newer > cut);
        let only_versions = Bounds::of(
            &Retention {
                versions: Some(1),
                ..Retention::default()
            },
            now,
        );
        assert_eq!(only_versions.tombstones_before, None);
        assert!(only_versions.prunes_versions());
        let only_tombstones = Bounds::of(
            &Retention {
                tombstone_days: Some(7),
                ..Retention::default()
            },
            now,
        );
        assert!(!only_tombstones.prunes_versions());
        assert_eq!(
            only_tombstones.tombstones_before.as_deref(),
            Some("2026-11-29T10:00:00.000Z")
        );
    }
}
