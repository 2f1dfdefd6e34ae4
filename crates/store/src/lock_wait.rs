//! Turns at SQLite's write lock inside one process. SQLite has one writer at a time per file
//! and no queue: a connection that finds the lock taken sleeps and tries again (its busy
//! handler), and a thread that commits back to back — the server's counter-referral writer
//! under a stream of batches — takes the lock again within microseconds of releasing it, so a
//! waiting connection can miss every gap until its patience runs out ("database is locked").
//! On the national bench the Logros updater's save waited its 10 s and failed under load, and
//! the registry it keeps in memory, dropped as stale, was read again at a heavy CPU cost while
//! the intake went on (measured: BENCHMARKS.md, issue 5).
//!
//! Every SQLite connection of the process waits through [`wait_for_write_lock`], which notes
//! the time of each try; a heavy writer calls [`yield_to_waiting_writers`] before each of its
//! transactions and stands aside while some connection has been waiting. Another process
//! (a CLI import beside the server) is not seen: it waits as SQLite's own handler would.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long a connection waits for the write lock before its statement fails with
/// `SQLITE_BUSY` (as `PRAGMA busy_timeout = 10000` did before).
const PATIENCE: Duration = Duration::from_secs(10);

/// Between two tries of a waiting connection: short, so that a writer standing aside is not
/// kept waiting long for it.
const RETRY: Duration = Duration::from_millis(1);

/// A wait noted more recently than this means a connection is still waiting (it tries again
/// every [`RETRY`]; the margin is for a loaded machine's late wake-ups).
const RECENT: Duration = Duration::from_millis(10);

/// When a connection of this process last tried for the lock, in microseconds since
/// [`epoch`] plus one; 0: never.
static LAST_WAIT: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// When this thread's current wait began.
    static WAIT_STARTED: Cell<Option<Instant>> = const { Cell::new(None) };
    /// Whether this thread is a heavy writer: its own waits are not noted (it would stand
    /// aside for itself).
    static HEAVY: Cell<bool> = const { Cell::new(false) };
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_micros() -> u64 {
    u64::try_from(epoch().elapsed().as_micros()).unwrap_or(u64::MAX - 1) + 1
}

/// The busy handler of every SQLite connection (`tries`: how many times it was called before
/// for this wait): notes the wait, sleeps [`RETRY`] and tries again, for up to [`PATIENCE`].
pub fn wait_for_write_lock(tries: i32) -> bool {
    let now = Instant::now();
    let started = WAIT_STARTED.with(|s| {
        let started = match s.get() {
            Some(t) if tries > 0 => t,
            _ => now,
        };
        s.set(Some(started));
        started
    });
    if now.duration_since(started) >= PATIENCE {
        return false;
    }
    if !HEAVY.with(Cell::get) {
        LAST_WAIT.store(now_micros(), Ordering::Relaxed);
    }
    std::thread::sleep(RETRY);
    true
}

/// Marks the calling thread as a heavy writer (see [`yield_to_waiting_writers`]).
pub fn mark_heavy_writer() {
    HEAVY.with(|h| h.set(true));
}

/// Whether some connection of this process other than a heavy writer's is waiting for the
/// write lock.
fn someone_waits() -> bool {
    let last = LAST_WAIT.load(Ordering::Relaxed);
    last != 0 && now_micros().saturating_sub(last) <= RECENT.as_micros() as u64
}

/// Stands aside while another connection of this process waits for the write lock, for up to
/// `patience`: it takes the lock at its next try, and this thread's next transaction waits for
/// it to commit. Returns how long it stood aside.
pub fn yield_to_waiting_writers(patience: Duration) -> Duration {
    let start = Instant::now();
    while someone_waits() && start.elapsed() < patience {
        std::thread::sleep(RETRY);
    }
    start.elapsed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    fn open(path: &std::path::Path) -> Connection {
        let c = Connection::open(path).unwrap();
        c.execute_batch("PRAGMA journal_mode = WAL").unwrap();
        c.busy_handler(Some(wait_for_write_lock)).unwrap();
        c
    }

    /// A writer holds the lock for 150 ms while another connection asks for one write, then
    /// commits and — standing aside or not — begins its next transaction at once. Returns
    /// whether the waiting write went in between the writer's two transactions.
    fn waiting_write_goes_in_between(stand_aside: bool) -> bool {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("turnos.sqlite");
        open(&path)
            .execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
            .unwrap();
        let (holding_tx, holding_rx) = std::sync::mpsc::channel();
        let busy_path = path.clone();
        let busy = std::thread::spawn(move || {
            mark_heavy_writer();
            let c = open(&busy_path);
            c.execute_batch("BEGIN IMMEDIATE; INSERT INTO t (v) VALUES ('primera')")
                .unwrap();
            holding_tx.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(150));
            c.execute_batch("COMMIT").unwrap();
            if stand_aside {
                yield_to_waiting_writers(Duration::from_secs(2));
            }
            c.execute_batch("BEGIN IMMEDIATE; INSERT INTO t (v) VALUES ('segunda'); COMMIT")
                .unwrap();
        });
        holding_rx.recv().unwrap();
        let c = open(&path);
        c.execute("INSERT INTO t (v) VALUES ('espera')", [])
            .unwrap();
        busy.join().unwrap();
        let order: Vec<String> = c
            .prepare("SELECT v FROM t ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        order == ["primera", "espera", "segunda"]
    }

    #[test]
    fn a_writer_standing_aside_lets_a_waiting_connection_in() {
        // A few tries each way, stopping at the first that shows it: on a machine busy with
        // other work (a build beside the tests) a thread can be kept off the processor longer
        // than the waiting connection's 1 ms between tries, or than `RECENT`, and one try alone
        // failed once so. Without the standing aside the first loop fails unless a scheduling
        // accident lets the waiting write in on one of its tries (checked by hand with
        // `yield_to_waiting_writers` returning at once: all five missed).
        const TRIES: usize = 5;
        assert!(
            (0..TRIES).any(|_| waiting_write_goes_in_between(true)),
            "standing aside, the waiting write never went in between"
        );
        // Without standing aside the writer's next transaction takes the lock first: the
        // waiting connection tries once a millisecond and misses the gap between the two.
        assert!(
            (0..TRIES).any(|_| !waiting_write_goes_in_between(false)),
            "without standing aside, the waiting write still always went in between"
        );
    }

    #[test]
    fn a_waiter_gives_up_after_its_patience() {
        // Fresh thread: its first call starts the wait.
        let h = std::thread::spawn(|| {
            assert!(wait_for_write_lock(0));
            WAIT_STARTED.with(|s| s.set(Instant::now().checked_sub(PATIENCE)));
            !wait_for_write_lock(1)
        });
        assert!(h.join().unwrap());
    }
}
