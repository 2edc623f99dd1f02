//! A ledger of one writer's edits, to prove after crashes and faults that
//! every edit reached the server exactly once. Each edit appends a unique
//! word to a task's notes, so the server's last version must hold exactly
//! the words the ledger wrote, in order: a lost edit misses a word, an edit
//! applied twice (or an old one applied again late) shows as a version that
//! changes nothing or a notes value that goes back.

use std::collections::BTreeMap;

use ferry_core::protocol::Fields;
use ferry_core::{LocalStore, RecordState, SyncEngine};
use rand::Rng;
use rand::seq::SliceRandom;
use serde_json::{Value, json};
use uuid::Uuid;

pub const COLLECTION: &str = "tasks";

/// How many of the newest tasks edits go to.
const HOT: usize = 60;

#[derive(Debug, Default)]
pub struct Ledger {
    /// Each record's notes as the writer left them.
    notes: BTreeMap<Uuid, String>,
    words: u64,
    pub creates: usize,
    pub edits: usize,
}

fn fields(v: Value) -> Fields {
    v.as_object().cloned().unwrap_or_default()
}

impl Ledger {
    /// Creates `n` tasks locally.
    pub fn create(&mut self, store: &LocalStore, n: usize) {
        for _ in 0..n {
            self.words += 1;
            let title = format!("ledger task {}", self.words);
            let id = store
                .create(COLLECTION, fields(json!({ "title": title })))
                .unwrap_or_else(|e| panic!("create a task: {e}"));
            self.notes.insert(id, String::new());
            self.creates += 1;
        }
    }

    /// Appends a word to the notes of a random task, `n` times, locally.
    /// The tasks are among the newest: edits pile up on records whose
    /// earlier edits may still be in flight, where an edit applied twice
    /// (or late) would show.
    pub fn edit(&mut self, store: &LocalStore, rng: &mut impl Rng, n: usize) {
        let newest = self.newest();
        for _ in 0..n {
            let Some(&id) = newest.choose(rng) else {
                return;
            };
            self.words += 1;
            let notes = self.notes.get(&id).cloned().unwrap_or_default();
            let notes = format!("{notes} w{}", self.words).trim().to_string();
            store
                .update(COLLECTION, id, fields(json!({ "notes": notes })))
                .unwrap_or_else(|e| panic!("edit task {id}: {e}"));
            self.notes.insert(id, notes);
            self.edits += 1;
        }
    }

    /// The newest tasks, which edits go to.
    pub fn newest(&self) -> Vec<Uuid> {
        self.notes.keys().rev().take(HOT).copied().collect()
    }

    /// Every task, newest first.
    pub fn ids(&self) -> Vec<Uuid> {
        self.notes.keys().rev().copied().collect()
    }

    pub fn len(&self) -> usize {
        self.notes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.notes.is_empty()
    }

    /// Checks every record on the server (through `engine`'s history) and in
    /// `engine`'s local snapshot. `context` names the run (its seed).
    pub async fn check(&self, engine: &SyncEngine, context: &str) {
        let store = engine.profile().store();
        let counts = store
            .counts()
            .unwrap_or_else(|e| panic!("{context}: counts: {e}"));
        let conflicts = store.conflicts().unwrap_or_default();
        let first: Vec<String> = conflicts
            .iter()
            .take(3)
            .map(|c| {
                format!(
                    "{} {}: {:?} on {:?}, base version {:?}, mine {:?}, theirs {:?}",
                    c.collection,
                    c.record_id,
                    c.kind,
                    c.fields,
                    c.base_version,
                    c.mine_changes,
                    c.theirs.fields
                )
            })
            .collect();
        assert_eq!(
            (counts.outbox, counts.conflicts, counts.rejected),
            (0, 0, 0),
            "{context}: everything sent, no conflict, nothing refused; conflicts: {first:#?}"
        );
        for (id, notes) in &self.notes {
            let history = engine
                .history(COLLECTION, *id)
                .await
                .unwrap_or_else(|e| panic!("{context}: history of {id}: {e}"));
            let Some(last) = history.last() else {
                panic!("{context}: task {id} never reached the server");
            };
            let versions: Vec<i64> = history.iter().map(|r| r.version).collect();
            let expected: Vec<i64> = (1..=history.len() as i64).collect();
            assert_eq!(versions, expected, "{context}: versions of {id}");
            for pair in history.windows(2) {
                assert_ne!(
                    pair[0].fields, pair[1].fields,
                    "{context}: task {id}: version {} repeats version {} (an edit applied twice)",
                    pair[1].version, pair[0].version
                );
            }
            let got = last
                .fields
                .get("notes")
                .and_then(Value::as_str)
                .unwrap_or("");
            assert_eq!(
                got, notes,
                "{context}: task {id}: the server's notes are not the edits made, each once"
            );
            assert!(!last.deleted, "{context}: task {id} deleted");
            let local = store
                .record(COLLECTION, *id)
                .unwrap_or_else(|e| panic!("{context}: local task {id}: {e}"));
            assert_eq!(local.fields, last.fields, "{context}: local {id} = server");
            assert_eq!(local.base_version(), Some(last.version), "{context}: {id}");
            assert_eq!(local.state, RecordState::Synced, "{context}: {id}");
        }
    }
}
