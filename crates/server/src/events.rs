//! Commit notifications for `GET /v1/events`.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, watch};
use uuid::Uuid;

use crate::store::Cursor;

/// One commit: the cursor after it and the collections it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub cursor: Cursor,
    pub collections: Vec<String>,
    /// For partitioned collections: the partition values the commit's
    /// records were in, before or after. A collection without an entry
    /// counts as touching every value.
    pub parts: std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
}

/// Fans commits out to every open event stream of this process.
#[derive(Clone)]
pub struct Events {
    tx: broadcast::Sender<Commit>,
}

impl Default for Events {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(1024).0,
        }
    }
}

impl Events {
    pub fn publish(&self, commit: Commit) {
        // No listeners is fine.
        let _ = self.tx.send(commit);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Commit> {
        self.tx.subscribe()
    }
}

/// Each user's open streams, oldest first: an id and the sender whose drop ends it.
type OpenStreams = HashMap<Uuid, VecDeque<(u64, watch::Sender<()>)>>;

/// Each user's open event streams, oldest first, so that one user cannot
/// hold more than `max` connections open with them.
pub struct StreamRegistry {
    max: usize,
    next_id: AtomicU64,
    open: Mutex<OpenStreams>,
}

/// An open stream's place in the registry; it ends when `ended` reports a
/// closed channel, and leaves the registry when dropped.
pub struct StreamSlot {
    registry: Arc<StreamRegistry>,
    user_id: Uuid,
    id: u64,
    pub ended: watch::Receiver<()>,
}

impl StreamRegistry {
    pub fn new(max: usize) -> Self {
        Self {
            max: max.max(1),
            next_id: AtomicU64::new(0),
            open: Mutex::new(HashMap::new()),
        }
    }

    /// Registers a new stream of `user_id`, ending their oldest past the limit.
    pub fn open(self: &Arc<Self>, user_id: Uuid) -> StreamSlot {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = watch::channel(());
        let mut open = self.lock();
        let streams = open.entry(user_id).or_default();
        streams.push_back((id, tx));
        while streams.len() > self.max {
            // Dropping the sender ends that stream.
            streams.pop_front();
        }
        StreamSlot {
            registry: self.clone(),
            user_id,
            id,
            ended: rx,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OpenStreams> {
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.registry.lock();
        if let Some(streams) = open.get_mut(&self.user_id) {
            streams.retain(|(id, _)| *id != self.id);
            if streams.is_empty() {
                open.remove(&self.user_id);
            }
        }
    }
}
