//! The audit chain's key and checkpoint file: where they are for a database, reading and
//! creating the key, and the configuration that every writer of audit records — the server,
//! the command line, the demo — and `audit verify` share, resolved here once for all of them.
//!
//! The key is a file of 32 random bytes in base64, outside the database: whoever can write the
//! database but not read the key cannot forge a seal. The operator names it (`VAMOS_AUDIT_KEY_FILE`;
//! the server's `audit_key_file`); for a SQLite database left to the defaults it sits next to
//! the database file, created by `vamos db init` (mode 0600) — convenient for the demo and a
//! single machine, while production keeps it elsewhere, readable only by the service. Without a
//! key no writer starts. The checkpoint file (`VAMOS_AUDIT_CHECKPOINT_FILE`,
//! `audit_checkpoint_file`) defaults to next to the SQLite database, or on PostgreSQL to next to
//! the key, named after the database (one key may serve several databases; each keeps its own).

use super::checkpoint::CheckpointFile;
use crate::{Error, ErrorKind};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use vamos_store::audit::AuditKey;

/// The variable naming the key file (the command line; the server reads it as `audit_key_file`).
pub const KEY_FILE_ENV: &str = "VAMOS_AUDIT_KEY_FILE";
/// The variable naming the checkpoint file (the server: `audit_checkpoint_file`).
pub const CHECKPOINT_FILE_ENV: &str = "VAMOS_AUDIT_CHECKPOINT_FILE";

/// The files the operator named, if any (the rest take their defaults: [`AuditPaths::of`]).
#[derive(Debug, Clone, Default)]
pub struct AuditFiles {
    pub key: Option<PathBuf>,
    pub checkpoint: Option<PathBuf>,
}

impl AuditFiles {
    /// As the environment names them ([`KEY_FILE_ENV`], [`CHECKPOINT_FILE_ENV`]; empty is unset).
    pub fn from_env() -> AuditFiles {
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        AuditFiles {
            key: var(KEY_FILE_ENV),
            checkpoint: var(CHECKPOINT_FILE_ENV),
        }
    }
}

/// Where the key and the checkpoint of one database are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPaths {
    pub key: PathBuf,
    pub checkpoint: PathBuf,
    /// The key is where the defaults put it (next to a SQLite database), not where the operator
    /// named.
    pub key_by_default: bool,
}

/// The file of a SQLite URL (`sqlite:<path>` or `sqlite://<path>`).
fn sqlite_file(db_url: &str) -> Option<&str> {
    db_url
        .strip_prefix("sqlite://")
        .or_else(|| db_url.strip_prefix("sqlite:"))
        .filter(|p| !p.is_empty())
}

/// The database a PostgreSQL URL names (its last path segment, without parameters).
fn database_name(db_url: &str) -> &str {
    let path = db_url.split('?').next().unwrap_or(db_url);
    let after_scheme = path.split_once("://").map_or(path, |(_, rest)| rest);
    match after_scheme.split_once('/') {
        Some((_, db)) if !db.is_empty() => db.rsplit('/').next().unwrap_or(db),
        _ => "postgres",
    }
}

/// `path` with `suffix` added to its file name (`vamos.sqlite` → `vamos.sqlite.audit-key`).
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

impl AuditPaths {
    /// The paths for database `db_url`: those named in `files`, else next to a SQLite database
    /// (`<file>.audit-key`, `<file>.audit-checkpoint.json`); on PostgreSQL the key must be named
    /// and the checkpoint defaults to next to it, named after the database
    /// (`<key>.<database>.checkpoint.json`).
    pub fn of(db_url: &str, files: &AuditFiles) -> crate::Result<AuditPaths> {
        let sqlite = sqlite_file(db_url).map(Path::new);
        let (key, key_by_default) = match (&files.key, sqlite) {
            (Some(k), _) => (k.clone(), false),
            (None, Some(db)) => (beside(db, ".audit-key"), true),
            (None, None) => {
                return Err(Error::new(
                    ErrorKind::Unavailable,
                    "sin_clave_de_auditoria",
                    format!(
                        "no hay clave de auditoría configurada: con PostgreSQL indique su archivo con {KEY_FILE_ENV} (o audit_key_file en la configuración del servidor), fuera del servidor de la base; créela con «vamos audit key init --out <archivo>»"
                    ),
                ))
            }
        };
        let checkpoint = match (&files.checkpoint, sqlite) {
            (Some(c), _) => c.clone(),
            (None, Some(db)) => beside(db, ".audit-checkpoint.json"),
            (None, None) => beside(&key, &format!(".{}.checkpoint.json", database_name(db_url))),
        };
        Ok(AuditPaths {
            key,
            checkpoint,
            key_by_default,
        })
    }
}

/// Reads the key file at `path`.
pub fn read_key(path: &Path) -> crate::Result<AuditKey> {
    let missing = |why: String| {
        Error::new(
            ErrorKind::Unavailable,
            "sin_clave_de_auditoria",
            format!(
                "no se pudo leer la clave de auditoría {} ({why}): sin ella no se escriben ni se verifican registros de auditoría. Créela con «vamos audit key init» (o «vamos db init» en una base SQLite nueva), o indique su archivo con {KEY_FILE_ENV}",
                path.display()
            ),
        )
    };
    let text = std::fs::read_to_string(path).map_err(|e| missing(e.to_string()))?;
    let bytes = B64
        .decode(text.trim())
        .map_err(|_| missing("no es base64".into()))?;
    AuditKey::from_bytes(&bytes).map_err(|e| missing(e.to_string()))
}

/// Creates a new random key at `path`, readable only by its owner; never over an existing file.
pub fn create_key(path: &Path) -> crate::Result<AuditKey> {
    use std::io::Write;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::internal(format!("sin fuente aleatoria del sistema: {e}")))?;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let failed = |e: std::io::Error| {
        Error::new(
            ErrorKind::Conflict,
            "clave_de_auditoria_no_creada",
            format!(
                "no se pudo crear la clave de auditoría {}: {e}{}",
                path.display(),
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    " (ya existe: una clave no se sobrescribe, o los registros que selló dejarían de verificarse)"
                } else {
                    ""
                }
            ),
        )
    };
    let mut f = o.open(path).map_err(failed)?;
    writeln!(f, "{}", B64.encode(bytes))
        .and_then(|()| f.sync_all())
        .map_err(failed)?;
    Ok(AuditKey::from_bytes(&bytes)?)
}

/// What a writer of audit records and `audit verify` need: the key and the checkpoint file.
#[derive(Debug)]
pub struct AuditConfig {
    key: AuditKey,
    pub paths: AuditPaths,
    pub checkpoint: CheckpointFile,
}

impl AuditConfig {
    /// The configuration of database `db_url`: the key must exist (else an error saying how to
    /// create it). A writer also checks that it can keep the checkpoint
    /// ([`CheckpointFile::check_writable`]); `verify` only reads it.
    pub fn load(db_url: &str, files: &AuditFiles) -> crate::Result<AuditConfig> {
        let paths = AuditPaths::of(db_url, files)?;
        let key = read_key(&paths.key)?;
        AuditConfig::with_key(key, paths)
    }

    /// The configuration with `key` (just read or created) at `paths`.
    pub fn with_key(key: AuditKey, paths: AuditPaths) -> crate::Result<AuditConfig> {
        let checkpoint = CheckpointFile::new(paths.checkpoint.clone());
        Ok(AuditConfig {
            key,
            paths,
            checkpoint,
        })
    }

    pub fn key(&self) -> &AuditKey {
        &self.key
    }
}

/// The configuration of this process's audit records (see [`install`]).
static INSTALLED: RwLock<Option<Arc<AuditConfig>>> = RwLock::new(None);

/// Makes `config` the one every audit record of this process is sealed with: the command line
/// installs its database's at start, the server its own. Like the clock, it is the process's,
/// not a parameter of each use case: every use case writes audit records, through
/// [`super::write_audit`].
pub fn install(config: Arc<AuditConfig>) {
    if let Ok(mut c) = INSTALLED.write() {
        *c = Some(config);
    }
}

/// The installed configuration; without one no audit record is written.
pub fn installed() -> crate::Result<Arc<AuditConfig>> {
    INSTALLED
        .read()
        .ok()
        .and_then(|c| c.clone())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Unavailable,
                "sin_clave_de_auditoria",
                format!("no hay clave de auditoría configurada: sin ella no se escriben registros de auditoría (créela con «vamos audit key init» o indíquela con {KEY_FILE_ENV})"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(key: Option<&str>, checkpoint: Option<&str>) -> AuditFiles {
        AuditFiles {
            key: key.map(PathBuf::from),
            checkpoint: checkpoint.map(PathBuf::from),
        }
    }

    #[test]
    fn a_sqlite_database_keeps_its_key_and_checkpoint_beside_it_by_default() {
        let p = AuditPaths::of("sqlite:datos/vamos.sqlite", &files(None, None)).unwrap();
        assert_eq!(p.key, PathBuf::from("datos/vamos.sqlite.audit-key"));
        assert_eq!(
            p.checkpoint,
            PathBuf::from("datos/vamos.sqlite.audit-checkpoint.json")
        );
        assert!(p.key_by_default);
    }

    #[test]
    fn a_named_key_file_is_used_and_the_sqlite_checkpoint_stays_with_its_database() {
        let p = AuditPaths::of("sqlite://v.sqlite", &files(Some("/etc/k"), None)).unwrap();
        assert_eq!(p.key, PathBuf::from("/etc/k"));
        assert_eq!(
            p.checkpoint,
            PathBuf::from("v.sqlite.audit-checkpoint.json")
        );
        assert!(!p.key_by_default);
    }

    #[test]
    fn postgresql_needs_a_named_key_and_keeps_each_databases_checkpoint_beside_it() {
        let e = AuditPaths::of("postgres://u@h/db", &files(None, None)).unwrap_err();
        assert!(e.message.contains(KEY_FILE_ENV), "{}", e.message);
        let p = AuditPaths::of(
            "postgres://u:p@h:5432/vamos?sslmode=require",
            &files(Some("/etc/vamos/a.key"), None),
        )
        .unwrap();
        assert_eq!(
            p.checkpoint,
            PathBuf::from("/etc/vamos/a.key.vamos.checkpoint.json")
        );
        let p = AuditPaths::of(
            "postgres://u@h/db",
            &files(Some("/etc/vamos/a.key"), Some("/var/lib/vamos/c.json")),
        )
        .unwrap();
        assert_eq!(p.checkpoint, PathBuf::from("/var/lib/vamos/c.json"));
    }

    #[test]
    fn a_created_key_is_read_back_as_the_same_key_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clave");
        let made = create_key(&path).unwrap();
        assert_eq!(read_key(&path).unwrap().id(), made.id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(create_key(&path).is_err());
    }
}
