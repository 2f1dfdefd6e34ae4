//! The connection of a heavy writer — the server's counter-referral writer, which commits
//! back to back under a stream of submissions — with the backend tuning that job needs, kept
//! here so that nothing above the store names a PRAGMA, a checkpoint or a lock handler.
//!
//! The writer says what kind of transaction comes next ([`WriteKind`]); the store decides what
//! that means for its backend. On SQLite: the connection reads the whole file through a memory
//! map and keeps a large page cache, a checkpointer thread copies the WAL into the database
//! off the writer's thread, the WAL's checkpoint threshold follows the kind of commit, and the
//! writer stands aside before each transaction while another connection of the process waits
//! for the write lock ([`crate::lock_wait`]). On PostgreSQL none of that applies: writers
//! queue for their locks and the server checkpoints by itself.

use crate::sqlite_store::{
    cache_kib, checkpoint_after_pages, map_whole_file, start_checkpointer, SQLITE_WAL_PAGES,
    WRITER_CACHE_KIB, WRITER_WAL_PAGES,
};
use crate::{Backend, Result, Store};
use std::sync::mpsc::SyncSender;
use std::time::Duration;

/// What the writer's next transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    /// A small group stored at once while nothing waits (single events): its answer must not
    /// wait behind a large checkpoint, so SQLite's own threshold applies and the checkpointer
    /// is not woken.
    Small,
    /// A larger group (appended to the intake log, as a rule): fewer, larger checkpoints, so a
    /// page written again before one is copied into the database once.
    Batch,
    /// An application of the log: none in the commit while the checkpointer runs (it is woken
    /// right after and copies the application's pages off the writer's thread).
    Application,
}

/// The longest the writer stands aside before one of its transactions for another connection
/// waiting for SQLite's write lock (see [`HeavyWriter::prepare`]).
const STAND_ASIDE: Duration = Duration::from_millis(500);

/// A heavy writer's connection, opened lazily and tuned for its backend. Used from one thread
/// (SQLite's lock turns are noted per thread).
pub struct HeavyWriter {
    url: String,
    store: Option<Box<dyn Store>>,
    /// The connection's checkpoint threshold, in WAL pages (`None`: not set yet).
    wal_pages: Option<u32>,
    /// Wakes the checkpointer after a commit (SQLite; `None` until started).
    checkpointer: Option<SyncSender<()>>,
}

impl HeavyWriter {
    /// A writer for the database at `url` (no connection yet; the first is opened on the
    /// thread that uses it).
    pub fn new(url: &str) -> HeavyWriter {
        HeavyWriter {
            url: url.to_string(),
            store: None,
            wal_pages: None,
            checkpointer: None,
        }
    }

    /// The connection, opened and tuned on first use (and again after [`Self::reset`]).
    pub fn connection(&mut self) -> Result<&mut Box<dyn Store>> {
        let store = match self.store.take() {
            Some(s) => s,
            None => {
                // SQLite: this thread's own waits for the write lock are not taken for another
                // connection's, for which it stands aside before each transaction.
                crate::lock_wait::mark_heavy_writer();
                let mut s = crate::open(&self.url)?;
                // SQLite: random index pages of the whole file, read without copying them.
                map_whole_file(&mut s.db())?;
                // SQLite: room for every page one application of the log changes.
                cache_kib(&mut s.db(), WRITER_CACHE_KIB)?;
                if s.backend() == Backend::Sqlite && self.checkpointer.is_none() {
                    self.checkpointer = start_checkpointer(&self.url);
                }
                self.wal_pages = None;
                s
            }
        };
        Ok(self.store.insert(store))
    }

    /// Readies the connection for a transaction of `kind`: stands aside while another
    /// connection waits for the write lock (SQLite), then sets the commit's checkpoint
    /// threshold for that kind.
    pub fn prepare(&mut self, kind: WriteKind) -> Result<&mut Box<dyn Store>> {
        take_turn();
        let pages = self.wal_pages_for(kind);
        if self.wal_pages != Some(pages) {
            let s = self.connection()?;
            checkpoint_after_pages(&mut s.db(), pages)?;
            self.wal_pages = Some(pages);
        }
        self.connection()
    }

    /// After a committed transaction of `kind`: wakes the checkpointer when that kind leaves
    /// the WAL to it.
    pub fn committed(&self, kind: WriteKind) {
        if kind != WriteKind::Small {
            if let Some(c) = &self.checkpointer {
                // One wake-up waiting is enough.
                let _ = c.try_send(());
            }
        }
    }

    /// Drops the connection after an error (the next use opens a fresh one).
    pub fn reset(&mut self) {
        self.store = None;
    }

    /// The checkpoint threshold of a commit of `kind`, in WAL pages.
    fn wal_pages_for(&self, kind: WriteKind) -> u32 {
        match kind {
            WriteKind::Small => SQLITE_WAL_PAGES,
            WriteKind::Batch => WRITER_WAL_PAGES,
            // With the checkpointer copying them itself in its commit, checkpoints and their
            // `fsync` took a large share of the writer's time.
            WriteKind::Application if self.checkpointer.is_some() => 0,
            WriteKind::Application => WRITER_WAL_PAGES,
        }
    }
}

/// Lets the process's other connections waiting for SQLite's write lock (the Logros updater's
/// save, a referral's transition, an audited read) in before the writer's next transaction,
/// standing aside up to [`STAND_ASIDE`]: committing back to back, the writer took the lock
/// again before a waiting connection's next try, and under a stream of batches the Logros
/// updater's save failed after its 10 s ("database is locked"). Nothing to do on PostgreSQL,
/// whose writers queue for their locks.
fn take_turn() {
    let stood = crate::lock_wait::yield_to_waiting_writers(STAND_ASIDE);
    if stood >= Duration::from_millis(50) {
        tracing::debug!(
            milisegundos = stood.as_millis() as u64,
            "escritor pesado: turno cedido"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer(checkpointer: bool) -> HeavyWriter {
        let (tx, _rx) = std::sync::mpsc::sync_channel(1);
        HeavyWriter {
            url: String::new(),
            store: None,
            wal_pages: None,
            checkpointer: checkpointer.then_some(tx),
        }
    }

    #[test]
    fn applications_leave_the_wal_to_the_checkpointer_when_there_is_one() {
        assert_eq!(writer(true).wal_pages_for(WriteKind::Application), 0);
        assert_eq!(
            writer(false).wal_pages_for(WriteKind::Application),
            WRITER_WAL_PAGES
        );
    }

    #[test]
    fn single_events_keep_sqlites_own_checkpoint_threshold_and_logged_groups_a_larger_one() {
        let w = writer(true);
        assert_eq!(w.wal_pages_for(WriteKind::Small), SQLITE_WAL_PAGES);
        assert_eq!(w.wal_pages_for(WriteKind::Batch), WRITER_WAL_PAGES);
    }
}
