//! A small pool of store connections for blocking work: each request borrows a connection on a
//! blocking thread (`spawn_blocking`) and returns it when done. SQLite connections are cheap;
//! PostgreSQL ones are reused.
//!
//! Audit records go through one [`AuditWriter`] per pool: a thread with its own connection that
//! appends every queued record to the hash chain in one transaction (group commit). A handler
//! waits until its record is committed before it answers, so no disclosure goes unrecorded, but
//! concurrent requests share a commit instead of queueing for the database's write lock.

use crate::error::{ApiError, ApiResult};
use axum::http::StatusCode;
use std::cell::RefCell;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use vamos_store::{AuditEntry, Store};

/// One queued record and where to report its commit.
type Job = (AuditEntry, mpsc::SyncSender<Result<(), String>>);

/// Most records committed together.
const MAX_BATCH: usize = vamos_store::audit::WRITER_BATCH;

/// The single writer of the audit chain (see the module documentation).
#[derive(Clone)]
pub struct AuditWriter {
    tx: mpsc::SyncSender<Job>,
}

impl AuditWriter {
    /// Starts the writer thread for the database at `url` (connected lazily, reconnected after
    /// an error).
    pub fn start(url: &str) -> anyhow::Result<AuditWriter> {
        let (tx, rx) = mpsc::sync_channel::<Job>(4 * MAX_BATCH);
        let url = url.to_string();
        std::thread::Builder::new()
            .name("auditoria".into())
            .spawn(move || {
                let mut store: Option<Box<dyn Store>> = None;
                // The chain head after this writer's last batch (see `append_as_writer`).
                let mut head: vamos_store::audit::Head = None;
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(j) => batch.push(j),
                            Err(_) => break,
                        }
                    }
                    let (entries, replies): (Vec<AuditEntry>, Vec<_>) = batch.into_iter().unzip();
                    let result = match store.as_mut() {
                        Some(s) => Ok(s),
                        None => vamos_store::open(&url).map(|s| store.insert(s)),
                    }
                    .and_then(|s| {
                        vamos_store::audit::append_as_writer(s.sql(), &entries, &mut head)
                    });
                    let reply = match result {
                        Ok(_) => Ok(()),
                        Err(e) => {
                            store = None;
                            head = None;
                            Err(e.to_string())
                        }
                    };
                    for r in replies {
                        let _ = r.send(reply.clone());
                    }
                }
            })?;
        Ok(AuditWriter { tx })
    }

    /// Queues `e` and waits for its commit.
    pub fn write(&self, e: AuditEntry) -> ApiResult<()> {
        self.write_all(vec![e])
    }

    /// Queues every record of `entries` (they share a commit) and waits until all are
    /// committed.
    pub fn write_all(&self, entries: Vec<AuditEntry>) -> ApiResult<()> {
        let unavailable = |why: String| {
            tracing::error!(motivo = %why, "registro de auditoría no disponible");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "auditoria_no_disponible",
                "no se pudo registrar la auditoría; la consulta no se respondió",
            )
        };
        let mut waiting = Vec::with_capacity(entries.len());
        for e in entries {
            let (rtx, rrx) = mpsc::sync_channel(1);
            self.tx
                .send((e, rtx))
                .map_err(|_| unavailable("escritor detenido".into()))?;
            waiting.push(rrx);
        }
        for rrx in waiting {
            rrx.recv()
                .map_err(|_| unavailable("escritor detenido".into()))?
                .map_err(unavailable)?;
        }
        Ok(())
    }
}

thread_local! {
    /// The audit writer of the pool whose work runs on this thread, if any.
    static WRITER: RefCell<Option<AuditWriter>> = const { RefCell::new(None) };
}

/// Appends `e` to the audit chain: through the pool's writer when called inside
/// [`Pool::run`], else on `store` directly (commands, tests).
pub fn write_audit(store: &mut dyn Store, e: AuditEntry) -> ApiResult<()> {
    match WRITER.with(|w| w.borrow().clone()) {
        Some(w) => w.write(e),
        None => {
            store.audit(&e)?;
            Ok(())
        }
    }
}

#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    url: String,
    writer: Option<AuditWriter>,
    idle: Mutex<Vec<Box<dyn Store>>>,
    max_idle: usize,
    /// At most `max_idle` connections at work: a request beyond waits for one to come back
    /// instead of opening (and closing) a connection of its own, which costs far more than
    /// waiting on PostgreSQL.
    permits: tokio::sync::Semaphore,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // A PostgreSQL client blocks on its own runtime when dropped, which panics on a tokio
        // worker (the server's state is dropped there at shutdown): drop them on a plain thread.
        let idle = self.idle.get_mut().map(std::mem::take).unwrap_or_default();
        if !idle.is_empty() {
            let _ = std::thread::spawn(move || drop(idle)).join();
        }
    }
}

impl Pool {
    pub fn new(url: &str, max_idle: usize, writer: Option<AuditWriter>) -> Pool {
        Pool {
            inner: Arc::new(Inner {
                url: url.to_string(),
                writer,
                idle: Mutex::new(Vec::new()),
                max_idle,
                permits: tokio::sync::Semaphore::new(max_idle.max(1)),
            }),
        }
    }

    fn take(&self) -> vamos_store::Result<Box<dyn Store>> {
        let reused = self.inner.idle.lock().ok().and_then(|mut v| v.pop());
        match reused {
            Some(s) => Ok(s),
            None => vamos_store::open(&self.inner.url),
        }
    }

    fn give(&self, s: Box<dyn Store>) {
        if let Ok(mut v) = self.inner.idle.lock() {
            if v.len() < self.inner.max_idle {
                v.push(s);
            }
        }
    }

    /// Runs `f` with a connection on a blocking thread. A connection whose work failed with a
    /// server error is dropped rather than reused (it may be in a broken transaction).
    pub async fn run<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Store) -> ApiResult<T> + Send + 'static,
    {
        let pool = self.clone();
        let permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(ApiError::internal)?;
        let out = tokio::task::spawn_blocking(move || {
            let mut s = pool.take()?;
            WRITER.with(|w| *w.borrow_mut() = pool.inner.writer.clone());
            let r = f(s.as_mut());
            WRITER.with(|w| *w.borrow_mut() = None);
            let broken = matches!(&r, Err(e) if e.status.is_server_error());
            if !broken {
                pool.give(s);
            }
            r
        })
        .await
        .map_err(ApiError::internal)?;
        drop(permit);
        out
    }
}
