//! The plain data the client core hands out and takes: outbox entries,
//! conflicts and how to settle them, what a push did. No SQL and no I/O, so
//! the store (which keeps them) and sync (which moves them) both build on it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ferry_protocol::merge3::TextPart;
use ferry_protocol::{ConflictKind, Fields, Mutation, Op, Record};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// One outbox entry: a mutation waiting to be acknowledged.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxEntry {
    pub seq: i64,
    /// Handed to a push whose answer is not stored yet.
    pub in_flight: bool,
    pub created_at: String,
    pub mutation: Mutation,
}

/// A conflict waiting for a person.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conflict {
    pub collection: String,
    pub record_id: Uuid,
    pub kind: ConflictKind,
    /// The fields both sides changed (for delete/edit: what the server changed).
    pub fields: Vec<String>,
    /// The version my edit started from, and its values of the fields I changed.
    pub base_version: Option<i64>,
    pub base: Fields,
    /// My edit: `put` or `delete`, my whole local value, and what I changed.
    pub mine_op: Op,
    pub mine: Fields,
    pub mine_changes: Fields,
    /// The server's latest state.
    pub theirs: Record,
    pub created_at: String,
    /// For each conflicting field merged as text: the text as merged, its
    /// clashing stretches marked. Worked out from base, mine and theirs.
    pub parts: BTreeMap<String, Vec<TextPart>>,
}

/// How to settle one field of an edit/edit conflict.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldChoice {
    Mine,
    Theirs,
    /// A typed value (checked against the field's type).
    Value(Value),
}

/// How to settle a conflict.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    /// Take my side: my edits over theirs, or for delete conflicts my
    /// restore (edit/delete) or my deletion (delete/edit).
    Mine,
    /// Take the server's side as it is.
    Theirs,
    /// Per conflicting field; fields only I changed keep my value.
    Fields(Vec<(String, FieldChoice)>),
    /// My version becomes a new record; the original takes the server's side.
    KeepBoth,
    /// Keep the record alive: with my changes (edit/delete), or the server's
    /// edited version (delete/edit).
    Restore,
    /// Let the record be deleted.
    AcceptDelete,
    /// For a record I may no longer see (`lost_access`): write my version and
    /// my changes to a JSON file, then let the record leave this device.
    Export { path: std::path::PathBuf },
    /// For `lost_access`: my version, with `set` over it (a partition value
    /// I may write), becomes a new record; the original leaves this device.
    CopyAsNew { set: Fields },
    /// For `lost_access`: drop my edits; the record leaves this device.
    Discard,
}

/// What one push did, counted by outcome.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct PushSummary {
    pub applied: usize,
    pub merged: usize,
    pub conflicts: usize,
    pub rejected: usize,
}

impl PushSummary {
    pub fn add(&mut self, other: PushSummary) {
        self.applied += other.applied;
        self.merged += other.merged;
        self.conflicts += other.conflicts;
        self.rejected += other.rejected;
    }

    pub fn total(&self) -> usize {
        self.applied + self.merged + self.conflicts + self.rejected
    }
}

/// What an edit of many records did.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct BulkReport {
    /// Records changed.
    pub changed: u64,
    /// Records left as they were, and why (waiting for a decision, deleted, …).
    pub skipped: Vec<BulkSkip>,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BulkSkip {
    pub id: Uuid,
    pub reason: String,
}

/// Stops a long piece of work: an import after its current batch, a count
/// at once.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Ready for the next import.
    pub fn reset(&self) {
        self.0.store(false, Ordering::SeqCst);
    }
}
