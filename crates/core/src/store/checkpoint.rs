//! Background WAL checkpoints.
//!
//! With SQLite's automatic checkpoints the edit that crosses the threshold
//! pays for copying the whole log back into the database — a local edit that
//! usually takes a fraction of a millisecond then takes several. A thread
//! with its own connection checkpoints passively (never blocking readers or
//! writers) instead; the automatic checkpoint stays as a far-off backstop.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::OpenFlags;

use crate::encryption::DbKey;

/// Pages in the log before the writer checkpoints by itself (about 40 MB).
pub(crate) const BACKSTOP_PAGES: i64 = 10_000;
const EVERY: Duration = Duration::from_millis(250);

pub(crate) struct Checkpointer {
    /// Set during a bulk load: the log is copied back once, after it.
    paused: Arc<AtomicBool>,
    /// Whether the last checkpoint copied the whole log.
    caught_up: Arc<AtomicBool>,
    /// The writer's automatic checkpoint waits to come back until the
    /// background ones have caught up after a bulk load.
    backstop_pending: AtomicBool,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path`; `None` if it cannot open
    /// a second connection (the automatic checkpoint still works then).
    pub(crate) fn start(path: &Path, key: Option<&DbKey>) -> Option<Checkpointer> {
        let conn = super::connect(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            key,
        )
        .ok()?;
        conn.busy_timeout(Duration::from_millis(100)).ok()?;
        let (stop, stopped) = mpsc::channel::<()>();
        let paused = Arc::new(AtomicBool::new(false));
        let caught_up = Arc::new(AtomicBool::new(true));
        let (pause, done) = (paused.clone(), caught_up.clone());
        let thread = std::thread::Builder::new()
            .name("ferry-checkpoint".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
                    if pause.load(Ordering::Relaxed) {
                        continue;
                    }
                    // (busy, frames in the log, frames copied back)
                    match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, i64>(1)?,
                            r.get::<_, i64>(2)?,
                        ))
                    }) {
                        Ok((busy, log, copied)) => {
                            done.store(busy == 0 && log == copied, Ordering::Relaxed);
                        }
                        Err(e) => tracing::debug!(error = %e, "background checkpoint skipped"),
                    }
                }
            })
            .ok()?;
        Some(Checkpointer {
            paused,
            caught_up,
            backstop_pending: AtomicBool::new(false),
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Checkpointer {
    /// Holds the background checkpoints (a bulk load writes a large log
    /// that would be copied back again and again as it grows), or lets them
    /// run again.
    pub(crate) fn pause(&self, pause: bool) {
        if pause {
            self.caught_up.store(false, Ordering::Relaxed);
        } else {
            self.backstop_pending.store(true, Ordering::Relaxed);
        }
        self.paused.store(pause, Ordering::Relaxed);
    }

    /// Whether the writer should take its automatic checkpoint back now:
    /// true once, after the background checkpoints caught up with the log
    /// a bulk load left.
    pub(crate) fn backstop_due(&self) -> bool {
        self.backstop_pending.load(Ordering::Relaxed)
            && self.caught_up.load(Ordering::Relaxed)
            && self.backstop_pending.swap(false, Ordering::Relaxed)
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
