//! Talking to the server: the HTTP API, the sync cycle, storing push
//! answers, the event listener and the connectivity task.

pub mod ack;
pub mod api;
pub mod connectivity;
pub mod engine;
pub mod events;

use serde::Serialize;

pub use ack::PushSummary;
pub use api::Api;
pub use connectivity::{ConnState, Connectivity, ConnectivityOptions, Trigger};
pub use engine::{SyncEngine, SyncReport};

/// What any UI may subscribe to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// Records changed locally because of a sync.
    DataChanged,
    /// A sync cycle finished.
    Synced(SyncReport),
    /// The connection changed state.
    State(ConnState),
}
