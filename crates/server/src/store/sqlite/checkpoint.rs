//! WAL checkpoints on a thread of their own.
//!
//! SQLite copies committed pages from the WAL back into the database file
//! (a checkpoint) inside whichever commit takes the WAL past
//! `wal_autocheckpoint` pages: with pushes of a thousand records that was
//! every few pushes, and that push waited for the copy and its fsyncs (a
//! quarter of a push's database time in the server bench). Here the writer
//! only asks after each commit, and this thread checkpoints while the next
//! push runs. Commits are exactly as durable as before: a commit is durable
//! once its WAL frames are synced; a checkpoint only moves them.

use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};

use rusqlite::Connection;

use super::super::StoreError;

/// WAL pages past which a commit checkpoints by itself anyway (about 40 MB):
/// a bound for when this thread falls behind, never reached while it keeps up.
pub(super) const WRITER_AUTOCHECKPOINT_PAGES: i64 = 10_000;

pub(super) struct Checkpointer {
    wake: SyncSender<()>,
}

impl Checkpointer {
    /// Starts the thread over `conn`, a connection of its own.
    pub fn start(conn: Connection) -> Result<Checkpointer, StoreError> {
        let (wake, woken) = sync_channel::<()>(1);
        std::thread::Builder::new()
            .name("ferry-checkpoint".into())
            .spawn(move || {
                // Ends when the store, and with it the sender, is dropped.
                while woken.recv().is_ok() {
                    // PASSIVE never waits for readers or the writer: what it
                    // cannot copy now, a later one will.
                    if let Err(e) =
                        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(error = %e, "WAL checkpoint failed; the next commit asks again");
                    }
                }
            })
            .map_err(|e| {
                StoreError::Unavailable(format!("cannot start the checkpoint thread: {e}"))
            })?;
        Ok(Checkpointer { wake })
    }

    /// After a commit: a checkpoint soon, unless one is already waiting to run.
    pub fn nudge(&self) {
        match self.wake.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) => {}
            Err(TrySendError::Disconnected(())) => {
                tracing::warn!("the checkpoint thread has ended; commits checkpoint by themselves");
            }
        }
    }
}
