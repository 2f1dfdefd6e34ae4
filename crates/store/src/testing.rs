//! Test support shared by the workspace's test suites: fresh, empty stores of every backend
//! under test. SQLite always; PostgreSQL when `VAMOS_TEST_POSTGRES_URL` is set (CI sets it, and
//! an unreachable server is then a failure, never a silent skip).

// Test support: failing loudly is the point (a test that cannot reach its database must fail).
#![allow(clippy::panic)]

use crate::sql::{Db, Param, Row};
use crate::{Backend, PostgresStore, Result, SqliteStore, Store};
use std::sync::atomic::{AtomicU32, Ordering};

/// The environment variable naming the PostgreSQL server used by the test suites.
pub const POSTGRES_ENV: &str = "VAMOS_TEST_POSTGRES_URL";

/// A database created for one test and removed afterwards.
pub struct TestDb {
    pub url: String,
    pub label: &'static str,
    _dir: Option<tempfile::TempDir>,
    drop_pg: Option<(String, String)>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = &self.drop_pg {
            if let Ok(mut c) = postgres::Client::connect(admin_url, postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
            remove_audit_files(name);
        }
    }
}

/// The folder of the audit keys and checkpoints the suites name for PostgreSQL databases.
pub fn audit_dir() -> std::path::PathBuf {
    std::env::temp_dir().join("vamos-pruebas-auditoria")
}

/// The PostgreSQL database named in `url`, if it is a PostgreSQL URL.
fn postgres_name(url: &str) -> Option<&str> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return None;
    }
    url.rsplit('/').next()?.split('?').next()
}

/// The audit key file of database `url` as the suites set it up: beside a SQLite file (the
/// default), in [`audit_dir`] for a PostgreSQL database (which has no default).
pub fn audit_key_file(url: &str) -> std::path::PathBuf {
    match postgres_name(url) {
        Some(name) => audit_dir().join(format!("{name}.key")),
        None => std::path::PathBuf::from(format!(
            "{}.audit-key",
            url.trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:")
        )),
    }
}

/// The audit checkpoint file of database `url` as the suites set it up ([`audit_key_file`]).
pub fn audit_checkpoint_file(url: &str) -> std::path::PathBuf {
    match postgres_name(url) {
        Some(name) => audit_dir().join(format!("{name}.checkpoint.json")),
        None => std::path::PathBuf::from(format!(
            "{}.audit-checkpoint.json",
            url.trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:")
        )),
    }
}

/// The variables naming the audit key and checkpoint of a PostgreSQL database at `url` for a
/// `vamos` the suites run (one pair per database, in [`audit_dir`]); none for SQLite, whose
/// defaults sit beside its file.
pub fn audit_env(url: &str) -> Vec<(&'static str, String)> {
    if postgres_name(url).is_none() {
        return Vec::new();
    }
    let _ = std::fs::create_dir_all(audit_dir());
    vec![
        (
            "VAMOS_AUDIT_KEY_FILE",
            audit_key_file(url).display().to_string(),
        ),
        (
            "VAMOS_AUDIT_CHECKPOINT_FILE",
            audit_checkpoint_file(url).display().to_string(),
        ),
    ]
}

/// Removes the audit files of PostgreSQL database `name` ([`audit_env`]).
pub fn remove_audit_files(name: &str) {
    if let Ok(entries) = std::fs::read_dir(audit_dir()) {
        for e in entries.flatten() {
            let file = e.file_name();
            let file = file.to_string_lossy();
            if file.starts_with(&format!("{name}.")) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

impl TestDb {
    /// Opens (and migrates) the store of this database.
    pub fn open(&self) -> Box<dyn Store> {
        let mut s: Box<dyn Store> = if self.label == "sqlite" {
            let path = self.url.trim_start_matches("sqlite:");
            match SqliteStore::open(path) {
                Ok(s) => Box::new(s),
                Err(e) => panic!("sqlite: {e}"),
            }
        } else {
            match PostgresStore::connect(&self.url) {
                Ok(s) => Box::new(s),
                Err(e) => panic!("postgres: {e}"),
            }
        };
        if let Err(e) = s.migrate() {
            panic!("migrate {}: {e}", self.label);
        }
        s
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh SQLite database in a temporary directory.
pub fn sqlite_db() -> TestDb {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("tempdir: {e}"),
    };
    let url = format!("sqlite:{}", dir.path().join("test.sqlite").display());
    TestDb {
        url,
        label: "sqlite",
        _dir: Some(dir),
        drop_pg: None,
    }
}

/// A fresh PostgreSQL database, when the suite runs against PostgreSQL.
pub fn postgres_db() -> Option<TestDb> {
    let admin_url = std::env::var(POSTGRES_ENV).ok().filter(|s| !s.is_empty())?;
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let name = format!("vamos_t_{}_{}", std::process::id(), n);
    let mut c = match postgres::Client::connect(&admin_url, postgres::NoTls) {
        Ok(c) => c,
        Err(e) => panic!("{POSTGRES_ENV}={admin_url} no responde: {e}"),
    };
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        if let Err(e) = c.batch_execute(&sql) {
            panic!("{sql}: {}", crate::StoreError::from(e));
        }
    }
    // Replace the database name in the URL (the last path segment, before any query).
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b.to_string(), format!("?{q}")),
        None => (admin_url.clone(), String::new()),
    };
    let prefix = match base.rfind('/') {
        Some(i) if i > "postgres://".len() => base.get(..i).unwrap_or(&base).to_string(),
        _ => base.clone(),
    };
    let url = format!("{prefix}/{name}{query}");
    Some(TestDb {
        url,
        label: "postgres",
        _dir: None,
        drop_pg: Some((admin_url, name)),
    })
}

/// Every backend under test, each with a fresh database.
pub fn all_dbs() -> Vec<TestDb> {
    let mut v = vec![sqlite_db()];
    v.extend(postgres_db());
    v
}

/// Raw SQL on a [`Db`], for test suites that set up or inspect what no typed function of the
/// store exposes (a tidy test keeps it out of everything but tests).
pub trait RawSql {
    fn dialect(&self) -> Backend;
    fn query(&mut self, sql: &str, params: &[Param]) -> Result<Vec<Row>>;
    fn query_opt(&mut self, sql: &str, params: &[Param]) -> Result<Option<Row>>;
    fn execute(&mut self, sql: &str, params: &[Param]) -> Result<u64>;
    fn batch(&mut self, sql: &str) -> Result<()>;
}

impl RawSql for Db<'_> {
    fn dialect(&self) -> Backend {
        self.backend()
    }
    fn query(&mut self, sql: &str, params: &[Param]) -> Result<Vec<Row>> {
        self.raw().query(sql, params)
    }
    fn query_opt(&mut self, sql: &str, params: &[Param]) -> Result<Option<Row>> {
        self.raw().query_opt(sql, params)
    }
    fn execute(&mut self, sql: &str, params: &[Param]) -> Result<u64> {
        self.raw().execute(sql, params)
    }
    fn batch(&mut self, sql: &str) -> Result<()> {
        self.raw().batch(sql)
    }
}
