//! The checkpoint file: the last keyed checkpoint of the audit chain (its head and count,
//! sealed with the chain's key), kept outside the database, which `audit verify` checks the
//! chain against — a chain whose last rows were deleted verifies on its own, but falls short of
//! the checkpoint.
//!
//! Every writer advances it after each commit that appended rows (the server's audit writer
//! after each group commit, the counter-referral writer after each of its commits, a command
//! after its own): a commit holds as many records as were waiting, so under load the file is
//! written once per many records, and the window in which deleted rows could go unnoticed is
//! one commit. It only moves forward, and only along the chain it vouches for: a writer whose
//! rows do not extend the checkpointed head (rows deleted and written again) leaves it as it is
//! for `verify` to report. It is written to a temporary file, synced and renamed over the old
//! one, after the commit it describes — durable itself — so that it is never ahead of what the
//! database keeps; writers of several processes take turns through a lock file beside it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use vamos_store::audit::{self as chain, AuditKey, Checkpoint, Segment};
use vamos_store::Db;

/// What [`CheckpointFile::advance`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Advance {
    /// The checkpoint now names the new head.
    Written,
    /// It already named that head or a later one (another writer got there first).
    Covered,
    /// The chain no longer runs through the checkpointed head, or the file is not a checkpoint
    /// sealed with this key: it is left as it is, for `verify` to report (Spanish reason).
    Diverged(String),
}

/// The checkpoint file of one database.
#[derive(Debug, Clone)]
pub struct CheckpointFile {
    path: PathBuf,
}

/// Takes turns among this process's writers (others are held off by the lock file).
static IN_PROCESS: Mutex<()> = Mutex::new(());

/// `path` with `suffix` added to its file name.
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

impl CheckpointFile {
    pub fn new(path: PathBuf) -> CheckpointFile {
        CheckpointFile { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The lock file writers take turns on (the checkpoint itself is replaced, not locked).
    fn lock_path(&self) -> PathBuf {
        beside(&self.path, ".lock")
    }

    /// Whether this process can keep the file: its lock file beside it can be opened for
    /// writing (checked when a writer starts, so that one that could not refuses to start).
    pub fn check_writable(&self) -> crate::Result<()> {
        self.open_lock().map(|_| ()).map_err(|e| {
            crate::Error::unavailable(
                "punto_de_control_no_escribible",
                format!(
                    "no se puede escribir el punto de control de auditoría junto a {} ({e}): indique otro archivo con {}",
                    self.path.display(),
                    super::keys::CHECKPOINT_FILE_ENV
                ),
            )
        })
    }

    fn open_lock(&self) -> std::io::Result<std::fs::File> {
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.lock_path())
    }

    /// Runs `f` holding the turn of this process and the lock file.
    fn locked<T>(&self, f: impl FnOnce() -> std::io::Result<T>) -> std::io::Result<T> {
        let _turn = IN_PROCESS.lock().unwrap_or_else(|e| e.into_inner());
        let lock = self.open_lock()?;
        lock.lock()?;
        let out = f();
        drop(lock);
        out
    }

    /// What the file holds: `Ok(None)` when there is none yet, `Err` (why, in Spanish) when it
    /// cannot be read as a checkpoint.
    pub fn read(&self) -> Result<Option<Checkpoint>, String> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| format!("{} no es un punto de control ({e})", self.path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("no se pudo leer {} ({e})", self.path.display())),
        }
    }

    /// Writes `c` over the file: a temporary file beside it, synced, then renamed (a reader
    /// sees the old checkpoint or the new one, whole).
    fn write(&self, c: &Checkpoint) -> std::io::Result<()> {
        let tmp = beside(&self.path, &format!(".{}.tmp", std::process::id()));
        let text = serde_json::to_string_pretty(c).map_err(std::io::Error::other)?;
        {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.write_all(b"\n")?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)
    }

    /// Replaces whatever the file holds with `c`, unconditionally: a database restored from a
    /// backup goes back to the checkpoint the backup carries.
    pub fn replace(&self, c: &Checkpoint) -> std::io::Result<()> {
        self.locked(|| self.write(c))
    }

    /// After a commit that appended `segment`: moves the checkpoint to the segment's head,
    /// sealed with `key` at `at`, if the chain there runs through the head the file names (the
    /// segment itself tells in the common case; otherwise `db` is asked for the seal of that
    /// row — one query, only when other writers appended in between). A missing file is
    /// started.
    pub fn advance(
        &self,
        key: &AuditKey,
        db: &mut Db<'_>,
        segment: &Segment,
        at: &str,
    ) -> std::io::Result<Advance> {
        let Some((last, last_seal)) = segment.head() else {
            return Ok(Advance::Covered);
        };
        self.locked(|| {
            let current = match self.read() {
                Ok(c) => c,
                Err(why) => return Ok(Advance::Diverged(why)),
            };
            if let Some(c) = &current {
                if !c.is_authentic(key) {
                    return Ok(Advance::Diverged(format!(
                        "{} no es un punto de control sellado con esta clave",
                        self.path.display()
                    )));
                }
                if c.head_id >= last {
                    return Ok(Advance::Covered);
                }
                let through = match segment.seal_of(c.head_id) {
                    Some(seal) => seal == c.head_hash,
                    None if c.head_id == segment.first_id - 1 => segment.prev == c.head_hash,
                    None => {
                        chain::seal_at(db, c.head_id).map_err(std::io::Error::other)?
                            == Some(c.head_hash.clone())
                    }
                };
                if !through {
                    return Ok(Advance::Diverged(format!(
                        "la cadena ya no pasa por el registro {} que selló el punto de control del {}",
                        c.head_id, c.at
                    )));
                }
            }
            self.write(&Checkpoint::seal(key, last, last_seal, at))?;
            Ok(Advance::Written)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> AuditKey {
        AuditKey::from_bytes(&[byte; 32]).unwrap()
    }

    fn segment(first_id: i64, prev: &str, seals: &[&str]) -> Segment {
        Segment {
            first_id,
            prev: prev.into(),
            seals: seals.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// A SQLite store only for the call signature: these cases never ask it.
    fn with_db<T>(f: impl FnOnce(&mut Db<'_>) -> T) -> T {
        let db = vamos_store::testing::sqlite_db();
        let mut s = db.open();
        f(&mut s.db())
    }

    #[test]
    fn the_checkpoint_moves_along_the_chain_it_vouches_for() {
        let dir = tempfile::tempdir().unwrap();
        let file = CheckpointFile::new(dir.path().join("c.json"));
        let k = key(1);
        with_db(|db| {
            let first = segment(1, chain::GENESIS, &["a", "b"]);
            assert_eq!(
                file.advance(&k, db, &first, "t1").unwrap(),
                Advance::Written
            );
            assert_eq!(file.read().unwrap().unwrap().head_id, 2);
            let next = segment(3, "b", &["c"]);
            assert_eq!(file.advance(&k, db, &next, "t2").unwrap(), Advance::Written);
            let c = file.read().unwrap().unwrap();
            assert_eq!((c.rows, c.head_id, c.head_hash.as_str()), (3, 3, "c"));
            assert!(c.is_authentic(&k));
            // An older segment, written by another writer before: already covered.
            assert_eq!(
                file.advance(&k, db, &first, "t3").unwrap(),
                Advance::Covered
            );
        });
    }

    #[test]
    fn rows_written_again_after_the_checkpointed_head_do_not_move_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = CheckpointFile::new(dir.path().join("c.json"));
        let k = key(1);
        with_db(|db| {
            file.advance(&k, db, &segment(1, chain::GENESIS, &["a", "b", "c"]), "t1")
                .unwrap();
            // Rows 2 and 3 deleted, then 2, 3 and 4 written again from row 1.
            let again = segment(2, "a", &["x", "y", "z"]);
            let done = file.advance(&k, db, &again, "t2").unwrap();
            assert!(matches!(done, Advance::Diverged(_)), "{done:?}");
            assert_eq!(file.read().unwrap().unwrap().head_hash, "c");
        });
    }

    #[test]
    fn a_checkpoint_of_another_key_is_left_for_verify_to_report() {
        let dir = tempfile::tempdir().unwrap();
        let file = CheckpointFile::new(dir.path().join("c.json"));
        with_db(|db| {
            file.advance(&key(1), db, &segment(1, chain::GENESIS, &["a"]), "t1")
                .unwrap();
            let done = file
                .advance(&key(2), db, &segment(2, "a", &["b"]), "t2")
                .unwrap();
            assert!(matches!(done, Advance::Diverged(_)), "{done:?}");
        });
    }
}
