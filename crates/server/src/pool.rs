//! A small pool of store connections for blocking work: each request borrows a connection on a
//! blocking thread (`spawn_blocking`) and returns it when done. SQLite connections are cheap;
//! PostgreSQL ones are reused.

use crate::error::{ApiError, ApiResult};
use std::sync::{Arc, Mutex};
use vamos_store::Store;

#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    url: String,
    idle: Mutex<Vec<Box<dyn Store>>>,
    max_idle: usize,
}

impl Pool {
    pub fn new(url: &str, max_idle: usize) -> Pool {
        Pool {
            inner: Arc::new(Inner {
                url: url.to_string(),
                idle: Mutex::new(Vec::new()),
                max_idle,
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
        tokio::task::spawn_blocking(move || {
            let mut s = pool.take()?;
            let r = f(s.as_mut());
            let broken = matches!(&r, Err(e) if e.status.is_server_error());
            if !broken {
                pool.give(s);
            }
            r
        })
        .await
        .map_err(ApiError::internal)?
    }
}
