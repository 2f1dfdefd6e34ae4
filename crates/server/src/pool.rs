//! A small pool of store connections for blocking work: each request borrows a connection on a
//! blocking thread (`spawn_blocking`) and returns it when done. SQLite connections are cheap;
//! PostgreSQL ones are reused. Work run here writes its audit records through the pool's
//! [`AuditWriter`] (group commit, `vamos_app::audit`).

use crate::error::{ApiError, ApiResult};
use std::sync::{Arc, Mutex};
use vamos_store::Store;

pub use vamos_app::audit::{set_thread_writer, AuditWriter};

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
            set_thread_writer(pool.inner.writer.clone());
            let r = f(s.as_mut());
            set_thread_writer(None);
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
