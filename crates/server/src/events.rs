//! Commit notifications for `GET /v1/events`.

use tokio::sync::broadcast;

/// One commit: the cursor after it and the collections it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub cursor: String,
    pub collections: Vec<String>,
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
