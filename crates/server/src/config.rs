//! Server configuration in two stages: a raw layer merged from a TOML file, then `VAMOS_*`
//! environment variables, then command-line flags (later wins; unknown file keys rejected), and
//! a validated [`Settings`] the server runs with. `Debug` hides the database password.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

/// One configuration layer; every key optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub db: Option<String>,
    pub addr: Option<String>,
    pub catalogue: Option<PathBuf>,
    /// Minimum count published in public figures (small-cell suppression); default 5.
    pub public_min_cell: Option<u64>,
    /// Hours a browser session lasts; default 8.
    pub session_hours: Option<i64>,
    /// Mark cookies `Secure` (default true; browsers accept them on http://localhost).
    pub cookie_secure: Option<bool>,
    /// Send HSTS (only behind TLS); default false.
    pub hsts: Option<bool>,
    /// Request body limit in KiB; default 1024.
    pub body_limit_kib: Option<usize>,
    /// Body limit of uploads (counter-referral batches and files) in MiB; default 64.
    pub upload_limit_mib: Option<usize>,
    /// Request timeout in seconds; default 30.
    pub request_timeout_secs: Option<u64>,
    /// Login attempts per client address per minute; default 10.
    pub login_rate_per_minute: Option<u32>,
    /// API requests per account or address per minute; default 600.
    pub api_rate_per_minute: Option<u32>,
    /// Failed logins before the account is locked (with growing back-off); default 5.
    pub lockout_threshold: Option<i64>,
    /// Log filter (`info`, `debug`, …); default `info`.
    pub log: Option<String>,
    /// Where the DCI Social Registry API is served; default `/dci`.
    pub dci_base_path: Option<String>,
    /// This registry's id in DCI headers (`sender_id` of callbacks); default `siis.gov.py`.
    pub dci_registry_id: Option<String>,
    /// File with this registry's ed25519 signing key (base64 seed, `vamos dci keygen`);
    /// without it callbacks go unsigned.
    pub dci_signing_key_file: Option<PathBuf>,
    /// Seconds between checks for new registrations to notify to subscribers; default 60.
    pub dci_notify_secs: Option<u64>,
    /// Keep the registry of the latest measurement in memory for the Logros updater (about
    /// 1.5 GiB for the national registry), and where every person lives for the
    /// counter-referral checks (about 0.3 GiB more); default true. Off: each update reads the
    /// affected districts from the database, and each check its persons.
    pub resident_registry: Option<bool>,
    /// PostgreSQL: connections applying the counter-referral intake log side by side; default
    /// 2 (1 to 8). SQLite applies it on the writer's connection, one writer per file.
    pub counter_referral_appliers: Option<usize>,
}

impl RawConfig {
    /// Reads a TOML file; unknown keys are an error naming them.
    pub fn from_file(path: &std::path::Path) -> anyhow::Result<RawConfig> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("no se pudo leer {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    /// The `VAMOS_*` variables of `vars` (e.g. `VAMOS_PUBLIC_MIN_CELL=10`).
    pub fn from_env(vars: impl IntoIterator<Item = (String, String)>) -> anyhow::Result<RawConfig> {
        let mut table = toml::Table::new();
        for (k, v) in vars {
            let Some(key) = k.strip_prefix("VAMOS_") else {
                continue;
            };
            let key = key.to_ascii_lowercase();
            // Variables of other commands (VAMOS_DB is shared) and secrets in files only.
            const KEYS: &[&str] = &[
                "db",
                "addr",
                "catalogue",
                "public_min_cell",
                "session_hours",
                "cookie_secure",
                "hsts",
                "body_limit_kib",
                "upload_limit_mib",
                "request_timeout_secs",
                "login_rate_per_minute",
                "api_rate_per_minute",
                "lockout_threshold",
                "log",
                "dci_base_path",
                "dci_registry_id",
                "dci_signing_key_file",
                "dci_notify_secs",
                "resident_registry",
                "counter_referral_appliers",
            ];
            if !KEYS.contains(&key.as_str()) {
                continue;
            }
            let value = if let Ok(n) = v.parse::<i64>() {
                toml::Value::Integer(n)
            } else if let Ok(b) = v.parse::<bool>() {
                toml::Value::Boolean(b)
            } else {
                toml::Value::String(v)
            };
            table.insert(key, value);
        }
        table
            .try_into()
            .map_err(|e| anyhow::anyhow!("variables VAMOS_*: {e}"))
    }

    /// `other` over `self`: keys set in `other` win.
    pub fn merge(self, other: RawConfig) -> RawConfig {
        macro_rules! pick {
            ($($f:ident),*) => { RawConfig { $($f: other.$f.or(self.$f)),* } };
        }
        pick!(
            db,
            addr,
            catalogue,
            public_min_cell,
            session_hours,
            cookie_secure,
            hsts,
            body_limit_kib,
            upload_limit_mib,
            request_timeout_secs,
            login_rate_per_minute,
            api_rate_per_minute,
            lockout_threshold,
            log,
            dci_base_path,
            dci_registry_id,
            dci_signing_key_file,
            dci_notify_secs,
            resident_registry,
            counter_referral_appliers
        )
    }
}

/// Validated settings.
#[derive(Clone)]
pub struct Settings {
    pub db: String,
    pub addr: SocketAddr,
    pub catalogue: Option<PathBuf>,
    pub public_min_cell: u64,
    pub session_hours: i64,
    pub cookie_secure: bool,
    pub hsts: bool,
    pub body_limit: usize,
    pub upload_limit: usize,
    pub request_timeout: std::time::Duration,
    pub login_rate_per_minute: u32,
    pub api_rate_per_minute: u32,
    pub lockout_threshold: i64,
    pub log: String,
    /// Normalised: starts with `/`, no trailing `/` (e.g. `/dci`).
    pub dci_base_path: String,
    pub dci_registry_id: String,
    pub dci_signing_key_file: Option<PathBuf>,
    pub dci_notify: std::time::Duration,
    pub resident_registry: bool,
    pub counter_referral_appliers: usize,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("db", &redact_url(&self.db))
            .field("addr", &self.addr)
            .field("public_min_cell", &self.public_min_cell)
            .finish_non_exhaustive()
    }
}

/// A database URL without its password.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl TryFrom<RawConfig> for Settings {
    type Error = anyhow::Error;
    fn try_from(r: RawConfig) -> anyhow::Result<Settings> {
        let addr_text = r.addr.unwrap_or_else(|| "127.0.0.1:8080".into());
        let addr: SocketAddr = addr_text.parse().map_err(|_| {
            anyhow::anyhow!(
                "dirección «{addr_text}» inválida: use IP:PUERTO, p. ej. 127.0.0.1:8080"
            )
        })?;
        let k = r.public_min_cell.unwrap_or(5);
        if k < 2 {
            anyhow::bail!("public_min_cell debe ser al menos 2 (recibido {k})");
        }
        let base = r.dci_base_path.unwrap_or_else(|| "/dci".into());
        let base = format!("/{}", base.trim_matches('/'));
        if base == "/"
            || base.starts_with("/api")
            || !base
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/-_.".contains(c))
        {
            anyhow::bail!(
                "dci_base_path «{base}» inválido: use una ruta propia como /dci (letras, números, - _ . /; no / ni /api)"
            );
        }
        Ok(Settings {
            dci_base_path: base,
            dci_registry_id: r.dci_registry_id.unwrap_or_else(|| "siis.gov.py".into()),
            dci_signing_key_file: r.dci_signing_key_file,
            dci_notify: std::time::Duration::from_secs(
                r.dci_notify_secs.unwrap_or(60).clamp(1, 86_400),
            ),
            db: r.db.unwrap_or_else(|| "sqlite:vamos.sqlite".into()),
            addr,
            catalogue: r.catalogue,
            public_min_cell: k,
            session_hours: r.session_hours.unwrap_or(8).clamp(1, 24 * 7),
            cookie_secure: r.cookie_secure.unwrap_or(true),
            hsts: r.hsts.unwrap_or(false),
            body_limit: r.body_limit_kib.unwrap_or(1024).clamp(16, 256 * 1024) * 1024,
            upload_limit: r.upload_limit_mib.unwrap_or(64).clamp(1, 1024) * 1024 * 1024,
            request_timeout: std::time::Duration::from_secs(
                r.request_timeout_secs.unwrap_or(30).clamp(1, 3600),
            ),
            login_rate_per_minute: r.login_rate_per_minute.unwrap_or(10).max(1),
            api_rate_per_minute: r.api_rate_per_minute.unwrap_or(600).max(1),
            lockout_threshold: r.lockout_threshold.unwrap_or(5).max(1),
            log: r.log.unwrap_or_else(|| "info".into()),
            resident_registry: r.resident_registry.unwrap_or(true),
            counter_referral_appliers: match r.counter_referral_appliers.unwrap_or(2) {
                n @ 1..=8 => n,
                n => {
                    anyhow::bail!("counter_referral_appliers debe estar entre 1 y 8 (recibido {n})")
                }
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_merge_in_order_and_validate() {
        let file: RawConfig =
            toml::from_str("addr = \"127.0.0.1:9000\"\npublic_min_cell = 7\n").unwrap();
        let env = RawConfig::from_env([
            ("VAMOS_PUBLIC_MIN_CELL".to_string(), "10".to_string()),
            ("VAMOS_UNRELATED".to_string(), "x".to_string()),
        ])
        .unwrap();
        let flags = RawConfig {
            db: Some("sqlite:x.sqlite".into()),
            ..Default::default()
        };
        let s = Settings::try_from(file.merge(env).merge(flags)).unwrap();
        assert_eq!(s.public_min_cell, 10);
        assert_eq!(s.addr.port(), 9000);
        assert_eq!(s.db, "sqlite:x.sqlite");
        assert!(s.resident_registry, "on by default");
        let off =
            RawConfig::from_env([("VAMOS_RESIDENT_REGISTRY".to_string(), "false".to_string())])
                .unwrap();
        assert!(!Settings::try_from(off).unwrap().resident_registry);
        assert_eq!(s.counter_referral_appliers, 2, "two by default");
        let one = RawConfig::from_env([(
            "VAMOS_COUNTER_REFERRAL_APPLIERS".to_string(),
            "1".to_string(),
        )])
        .unwrap();
        assert_eq!(
            Settings::try_from(one).unwrap().counter_referral_appliers,
            1
        );
        assert!(Settings::try_from(RawConfig {
            counter_referral_appliers: Some(0),
            ..Default::default()
        })
        .is_err());
        assert!(toml::from_str::<RawConfig>("nope = 1").is_err());
        assert!(Settings::try_from(RawConfig {
            addr: Some("localhost".into()),
            ..Default::default()
        })
        .is_err());
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
    }
}
