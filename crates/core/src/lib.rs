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

pub mod client;
pub mod conflict;
pub mod device;
pub mod error;
pub mod hlc;
pub mod outbox;
pub mod profile;
pub mod recovery;
pub mod store;
pub mod sync;
pub mod token_store;

pub use client::{Client, ClientStatus, Resolved};
pub use conflict::{Conflict, FieldChoice, Resolution};
pub use error::{ConnectionFailure, Error, Result};
pub use ferry_protocol as protocol;
pub use outbox::OutboxEntry;
pub use profile::{Account, KeyringUse, Profile, Token, TokenStore};
pub use recovery::Recovery;
pub use store::{Counts, LocalRecord, LocalStore, Page, Query, RecordState, SortOrder};
pub use sync::{
    ConnState, Connectivity, ConnectivityOptions, Event, HttpOptions, PushSummary, RecordRef,
    SyncEngine, SyncReport, Trigger,
};
