//! Talking to the server: the HTTP API, the sync cycle, the event listener
//! and the connectivity task. What a sync stores, it stores through the
//! [`LocalStore`](crate::store::LocalStore)'s methods.

pub mod api;
pub mod connectivity;
pub mod engine;
pub mod events;

use serde::Serialize;

pub use crate::model::PushSummary;
pub use api::{Api, HttpOptions, plain_http_warning};
pub use connectivity::{ConnState, Connectivity, ConnectivityOptions, Trigger};
pub use engine::{SyncEngine, SyncReport};

/// One record, by collection and id.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct RecordRef {
    pub collection: String,
    pub id: uuid::Uuid,
}

/// The records a sync changed, up to a limit that keeps events small.
#[derive(Debug, Default)]
pub(crate) struct ChangedRecords {
    records: Vec<RecordRef>,
    truncated: bool,
}

impl ChangedRecords {
    const LIMIT: usize = 1000;

    pub(crate) fn add(&mut self, collection: &str, id: uuid::Uuid) {
        if self.records.len() < Self::LIMIT {
            self.records.push(RecordRef {
                collection: collection.to_string(),
                id,
            });
        } else {
            self.truncated = true;
        }
    }

    pub(crate) fn into_event(mut self) -> Event {
        self.records
            .sort_by(|a, b| (&a.collection, a.id).cmp(&(&b.collection, b.id)));
        self.records.dedup();
        Event::DataChanged {
            records: self.records,
            truncated: self.truncated,
        }
    }
}

/// What any UI may subscribe to.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// Records changed locally because of a sync: which ones, so views can
    /// refresh in place. `truncated` means more changed than are listed.
    DataChanged {
        records: Vec<RecordRef>,
        truncated: bool,
    },
    /// A sync cycle finished.
    Synced(SyncReport),
    /// The connection changed state.
    State(ConnState),
    /// An attached file is being sent or fetched.
    File(crate::files::FileProgress),
    /// The server told this device to delete its data, and it did: the
    /// profile is gone (`unsent` edits discarded) and must be opened anew.
    Wiped { unsent: i64 },
}
