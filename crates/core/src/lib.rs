//! Ferry client core: the local snapshot, the durable outbox and the sync
//! engine, headless. The desktop app and the `ferry` CLI are thin shells
//! over this crate; [`Client`] holds the policy they share (sign-in clears
//! work-offline, the status snapshot, local edits that announce themselves).
//!
//! Invariants:
//! - a local edit is one transaction: the record's local value and its
//!   outbox entry change together;
//! - an outbox entry leaves only in the transaction that stores its
//!   acknowledgement, and an entry in flight is never modified, so a crash
//!   at any point loses nothing and (thanks to `mutation_id`) duplicates
//!   nothing;
//! - pulled changes replace records without local changes and only rebase
//!   those with them; the cursor moves in the same transaction as its page;
//! - this device's HLC never goes backwards, across restarts too.
//!
//! Layers, each using only those below it:
//! - [`Client`] (sign-in, work offline, the status snapshot, local edits and
//!   their events: what the desktop and the CLI share) drives the others;
//! - [`transfer`] (CSV and JSON lines in and out: mapping, checking,
//!   journalled import batches) calls the handle's methods;
//! - [`sync`] (the HTTP API, the sync cycle, events, connectivity),
//!   [`profile`] and [`recovery`] (a profile's folder, account and token) call
//!   the [`LocalStore`] handle's methods;
//! - [`store`] runs every SQL statement on the local snapshot (its `mod.rs`
//!   lists which file holds which of the handle's methods);
//! - [`model`] (the plain types store keeps), [`error`], and
//!   [`ferry_protocol`] (the wire types and what a field's value means).

pub mod client;
pub mod device;
pub mod encryption;
pub mod error;
pub mod files;
pub mod model;
pub mod profile;
pub mod recovery;
pub mod sealed;
pub mod store;
pub mod sync;
pub mod token_store;
pub mod transfer;

pub use client::{Client, ClientStatus, Resolved};
pub use encryption::{Protection, Unlock};
pub use error::{AuthFailure, ConnectionFailure, Error, Result};
pub use ferry_protocol as protocol;
pub use model::{
    BulkReport, BulkSkip, Cancel, Conflict, FieldChoice, OutboxEntry, PushSummary, Resolution,
};
pub use profile::{Account, KeyringUse, Profile, Token, TokenStore};
pub use recovery::Recovery;
pub use store::{Counts, LocalRecord, LocalStore, Page, Query, RecordState, SortOrder};
pub use sync::{
    ConnState, Connectivity, ConnectivityOptions, Event, HttpOptions, RecordRef, SyncEngine,
    SyncReport, Trigger,
};

/// The paths these types had before they moved to [`model`] (their SQL is
/// in [`store`]), kept for code written against them.
pub mod conflict {
    pub use crate::model::{Conflict, FieldChoice, Resolution};
}
/// See [`conflict`].
pub mod outbox {
    pub use crate::model::OutboxEntry;
}
