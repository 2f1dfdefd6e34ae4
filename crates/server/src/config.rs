//! Server configuration in two stages: [`RawConfig`], the keys merged by `figment` from a TOML
//! file, then `VAMOS_*` environment variables, then command-line flags (later wins; unknown
//! file keys rejected), and the validated [`Settings`] the server runs with. Neither stage shows
//! the database password: `RawConfig` has no `Debug`, and that of `Settings` redacts it.

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The keys of every layer, all optional; the one list of them (the environment layer takes its
/// variable names from it too).
#[derive(Clone, Default, Deserialize, Serialize)]
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
    /// The address users reach the server at (`https://vamos.gov.py`), behind whatever proxy
    /// ends TLS; when it is `https`, every response carries HSTS. Default none.
    pub public_url: Option<String>,
    /// Send HSTS even without an `https` `public_url` (behind TLS); default false.
    pub hsts: Option<bool>,
    /// Request body limit in KiB; default 1024.
    pub body_limit_kib: Option<usize>,
    /// Body limit of uploads (counter-referral batches and files) in MiB; default 64.
    pub upload_limit_mib: Option<usize>,
    /// Request timeout in seconds; default 30.
    pub request_timeout_secs: Option<u64>,
    /// Login attempts per client address per minute; default 10.
    pub login_rate_per_minute: Option<u32>,
    /// Authenticated requests (API and web pages) per account per minute; default 600.
    pub api_rate_per_minute: Option<u32>,
    /// Failed logins before the account is locked (with growing back-off); default 5.
    pub lockout_threshold: Option<i64>,
    /// Distinct persons an account may name in counter-referrals per hour that are not
    /// registered within its scope (a batch past it is refused whole); default 200.
    pub counter_referral_misses_per_hour: Option<usize>,
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
    /// File with the audit chain's key (`vamos audit key init`); default: next to a SQLite
    /// database, required on PostgreSQL. Without a key the server does not start.
    pub audit_key_file: Option<PathBuf>,
    /// File where the audit chain's keyed checkpoint is kept; default: next to a SQLite
    /// database, or next to the key on PostgreSQL.
    pub audit_checkpoint_file: Option<PathBuf>,
}

impl RawConfig {
    /// The layers in order: the TOML `file` (if any; unknown keys are an error naming them),
    /// the `VAMOS_*` variables named after a key (`VAMOS_PUBLIC_MIN_CELL` sets
    /// `public_min_cell`), then `flags` (a struct whose set fields are keys; leave unset ones
    /// out with `skip_serializing_if`, or they would erase the layers below).
    pub fn layered(file: Option<&Path>, flags: impl Serialize) -> anyhow::Result<RawConfig> {
        let mut figment = Figment::new();
        if let Some(path) = file {
            // figment treats a missing file as an empty one; a named file must exist.
            std::fs::File::open(path)
                .map_err(|e| anyhow::anyhow!("no se pudo leer {}: {e}", path.display()))?;
            figment = figment.merge(Toml::file_exact(path));
        }
        // Other commands' variables (VAMOS_USER, VAMOS_PASSWORD, VAMOS_CONFIG…) share the
        // prefix: only those named after a key are configuration, the rest are not ours.
        let keys = RawConfig::keys();
        let env = Env::prefixed("VAMOS_").filter(move |k| keys.iter().any(|key| k == key.as_str()));
        figment
            .merge(env)
            .merge(Serialized::defaults(flags))
            .extract()
            .map_err(|errors| {
                let all: Vec<String> = errors.into_iter().map(|e| e.to_string()).collect();
                anyhow::anyhow!("configuración inválida: {}", all.join("; "))
            })
    }

    /// Every key's name, from the struct itself (an empty layer serializes each field as none).
    fn keys() -> Vec<String> {
        figment::value::Value::serialize(RawConfig::default())
            .ok()
            .and_then(|v| v.into_dict())
            .map(|d| d.into_keys().collect())
            .unwrap_or_default()
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
    /// Normalised: `http(s)://host[:port][/path]` without a trailing `/`.
    pub public_url: Option<String>,
    /// Send HSTS: `hsts` set, or `public_url` is `https`.
    pub hsts: bool,
    pub body_limit: usize,
    pub upload_limit: usize,
    pub request_timeout: std::time::Duration,
    pub login_rate_per_minute: u32,
    pub api_rate_per_minute: u32,
    pub lockout_threshold: i64,
    pub counter_referral_misses_per_hour: usize,
    pub log: String,
    /// Normalised: starts with `/`, no trailing `/` (e.g. `/dci`).
    pub dci_base_path: String,
    pub dci_registry_id: String,
    pub dci_signing_key_file: Option<PathBuf>,
    pub dci_notify: std::time::Duration,
    pub resident_registry: bool,
    pub counter_referral_appliers: usize,
    /// The audit chain's key and checkpoint files, as configured (defaults are resolved by
    /// `vamos_app::audit`, the same for the command line).
    pub audit_files: vamos_app::audit::AuditFiles,
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

/// A `public_url` normalised (no trailing `/`), or why it is not one: `http` or `https`, a
/// host, no spaces, query or fragment.
fn public_url(url: &str) -> anyhow::Result<String> {
    let url = url.trim().trim_end_matches('/');
    let host = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .map(|rest| rest.split('/').next().unwrap_or(""));
    match host {
        Some(h)
            if !h.is_empty()
                && url.bytes().all(|b| b.is_ascii_graphic())
                && !url.contains(['?', '#', '\\', '@']) =>
        {
            Ok(url.to_string())
        }
        _ => anyhow::bail!(
            "public_url «{url}» inválida: use la dirección pública del servicio, p. ej. https://vamos.gov.py"
        ),
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
        let k = r
            .public_min_cell
            .unwrap_or(vamos_app::suppression::DEFAULT_MIN_CELL);
        if k < 2 {
            anyhow::bail!("public_min_cell debe ser al menos 2 (recibido {k})");
        }
        let public_url = r.public_url.as_deref().map(public_url).transpose()?;
        let https = public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"));
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
            hsts: r.hsts.unwrap_or(false) || https,
            public_url,
            body_limit: r.body_limit_kib.unwrap_or(1024).clamp(16, 256 * 1024) * 1024,
            upload_limit: r.upload_limit_mib.unwrap_or(64).clamp(1, 1024) * 1024 * 1024,
            request_timeout: std::time::Duration::from_secs(
                r.request_timeout_secs.unwrap_or(30).clamp(1, 3600),
            ),
            login_rate_per_minute: r.login_rate_per_minute.unwrap_or(10).max(1),
            api_rate_per_minute: r.api_rate_per_minute.unwrap_or(600).max(1),
            lockout_threshold: r.lockout_threshold.unwrap_or(5).max(1),
            counter_referral_misses_per_hour: r
                .counter_referral_misses_per_hour
                .unwrap_or(vamos_app::counter_referrals::misses::DEFAULT_PER_HOUR)
                .max(1),
            log: r.log.unwrap_or_else(|| "info".into()),
            resident_registry: r.resident_registry.unwrap_or(true),
            audit_files: vamos_app::audit::AuditFiles {
                key: r.audit_key_file,
                checkpoint: r.audit_checkpoint_file,
            },
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
    use figment::Jail;

    /// The command line's layer in tests: only `db` and `addr`, unset ones left out.
    #[derive(Default, Serialize)]
    struct Flags {
        #[serde(skip_serializing_if = "Option::is_none")]
        db: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        addr: Option<String>,
    }

    /// Settings from `file` (written in the jail as `vamos.toml`), the jail's environment and
    /// `flags`.
    fn load(jail: &mut Jail, file: Option<&str>, flags: Flags) -> anyhow::Result<Settings> {
        let path = match file {
            Some(text) => {
                jail.create_file("vamos.toml", text)?;
                Some(jail.directory().join("vamos.toml"))
            }
            None => None,
        };
        Settings::try_from(RawConfig::layered(path.as_deref(), flags)?)
    }

    /// Runs `f` with a clean `VAMOS_*` environment (the jail restores the process's after).
    #[allow(clippy::result_large_err)] // reason: the closure's type is figment's `Jail` API
    fn jailed(f: impl FnOnce(&mut Jail) -> anyhow::Result<()>) {
        Jail::expect_with(|jail| {
            jail.clear_env();
            f(jail).map_err(|e| figment::Error::from(format!("{e:#}")))
        });
    }

    #[test]
    fn the_environment_overrides_the_file_and_flags_override_both() {
        jailed(|jail| {
            jail.set_env("VAMOS_PUBLIC_MIN_CELL", "10");
            jail.set_env("VAMOS_ADDR", "127.0.0.1:9001");
            let s = load(
                jail,
                Some("addr = \"127.0.0.1:9000\"\npublic_min_cell = 7\ndb = \"sqlite:f.sqlite\"\nhsts = true\n"),
                Flags {
                    addr: Some("127.0.0.1:9002".into()),
                    ..Flags::default()
                },
            )?;
            assert_eq!(s.public_min_cell, 10, "environment over file");
            assert_eq!(s.addr.port(), 9002, "flag over environment");
            assert_eq!(s.db, "sqlite:f.sqlite", "file where nothing overrides it");
            assert!(s.hsts);
            Ok(())
        });
    }

    #[test]
    fn unset_flags_do_not_erase_the_layers_below() {
        jailed(|jail| {
            jail.set_env("VAMOS_DB", "sqlite:env.sqlite");
            let s = load(jail, None, Flags::default())?;
            assert_eq!(s.db, "sqlite:env.sqlite");
            Ok(())
        });
    }

    #[test]
    fn every_key_has_its_default() {
        jailed(|jail| {
            let s = load(jail, None, Flags::default())?;
            assert_eq!(s.db, "sqlite:vamos.sqlite");
            assert_eq!(s.addr.to_string(), "127.0.0.1:8080");
            assert_eq!(s.catalogue, None);
            assert_eq!(s.public_min_cell, 5);
            assert_eq!(s.session_hours, 8);
            assert!(s.cookie_secure);
            assert_eq!(s.public_url, None);
            assert!(!s.hsts);
            assert_eq!(s.body_limit, 1024 * 1024);
            assert_eq!(s.upload_limit, 64 * 1024 * 1024);
            assert_eq!(s.request_timeout.as_secs(), 30);
            assert_eq!(s.login_rate_per_minute, 10);
            assert_eq!(s.api_rate_per_minute, 600);
            assert_eq!(s.lockout_threshold, 5);
            assert_eq!(s.log, "info");
            assert_eq!(s.dci_base_path, "/dci");
            assert_eq!(s.dci_registry_id, "siis.gov.py");
            assert_eq!(s.dci_signing_key_file, None);
            assert_eq!(s.dci_notify.as_secs(), 60);
            assert!(s.resident_registry);
            assert_eq!(s.counter_referral_appliers, 2);
            assert_eq!(s.audit_files.key, None);
            assert_eq!(s.audit_files.checkpoint, None);
            Ok(())
        });
    }

    #[test]
    fn every_key_has_its_environment_variable() {
        jailed(|jail| {
            let vars = [
                ("DB", "postgres://u:p@h:5432/db?x=[1]"),
                ("ADDR", "127.0.0.1:9100"),
                ("CATALOGUE", "cat"),
                ("PUBLIC_MIN_CELL", "9"),
                ("SESSION_HOURS", "2"),
                ("COOKIE_SECURE", "false"),
                ("PUBLIC_URL", "http://vamos.example/"),
                ("HSTS", "true"),
                ("BODY_LIMIT_KIB", "32"),
                ("UPLOAD_LIMIT_MIB", "3"),
                ("REQUEST_TIMEOUT_SECS", "7"),
                ("LOGIN_RATE_PER_MINUTE", "11"),
                ("API_RATE_PER_MINUTE", "12"),
                ("LOCKOUT_THRESHOLD", "4"),
                ("COUNTER_REFERRAL_MISSES_PER_HOUR", "30"),
                ("LOG", "warn,vamos_server=debug"),
                ("DCI_BASE_PATH", "/registro/"),
                ("DCI_REGISTRY_ID", "otro.gov.py"),
                ("DCI_SIGNING_KEY_FILE", "k.key"),
                ("DCI_NOTIFY_SECS", "5"),
                ("RESIDENT_REGISTRY", "false"),
                ("COUNTER_REFERRAL_APPLIERS", "1"),
                ("AUDIT_KEY_FILE", "auditoria.key"),
                ("AUDIT_CHECKPOINT_FILE", "control.json"),
            ];
            assert_eq!(vars.len(), RawConfig::keys().len(), "one variable per key");
            for (k, v) in vars {
                jail.set_env(format!("VAMOS_{k}"), v);
            }
            let s = load(jail, None, Flags::default())?;
            assert_eq!(s.db, "postgres://u:p@h:5432/db?x=[1]", "a URL stays text");
            assert_eq!(s.addr.port(), 9100);
            assert_eq!(s.catalogue, Some(PathBuf::from("cat")));
            assert_eq!(s.public_min_cell, 9);
            assert_eq!(s.session_hours, 2);
            assert!(!s.cookie_secure);
            assert_eq!(s.public_url.as_deref(), Some("http://vamos.example"));
            assert!(s.hsts);
            assert_eq!(s.body_limit, 32 * 1024);
            assert_eq!(s.upload_limit, 3 * 1024 * 1024);
            assert_eq!(s.request_timeout.as_secs(), 7);
            assert_eq!(s.login_rate_per_minute, 11);
            assert_eq!(s.api_rate_per_minute, 12);
            assert_eq!(s.lockout_threshold, 4);
            assert_eq!(s.counter_referral_misses_per_hour, 30);
            assert_eq!(s.log, "warn,vamos_server=debug");
            assert_eq!(s.dci_base_path, "/registro");
            assert_eq!(s.dci_registry_id, "otro.gov.py");
            assert_eq!(s.dci_signing_key_file, Some(PathBuf::from("k.key")));
            assert_eq!(s.dci_notify.as_secs(), 5);
            assert!(!s.resident_registry);
            assert_eq!(s.counter_referral_appliers, 1);
            assert_eq!(s.audit_files.key, Some(PathBuf::from("auditoria.key")));
            assert_eq!(
                s.audit_files.checkpoint,
                Some(PathBuf::from("control.json"))
            );
            Ok(())
        });
    }

    #[test]
    fn other_vamos_variables_are_not_configuration() {
        jailed(|jail| {
            jail.set_env("VAMOS_UNRELATED", "x");
            jail.set_env("VAMOS_USER", "admin");
            jail.set_env("VAMOS_CONFIG", "otro.toml");
            assert!(load(jail, None, Flags::default()).is_ok());
            Ok(())
        });
    }

    #[test]
    fn an_unknown_file_key_is_an_error_naming_it() {
        jailed(|jail| {
            let e = load(jail, Some("nope = 1\n"), Flags::default()).unwrap_err();
            assert!(e.to_string().contains("nope"), "{e}");
            assert!(e.to_string().starts_with("configuración inválida"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn a_malformed_variable_is_an_error_naming_it() {
        jailed(|jail| {
            jail.set_env("VAMOS_PUBLIC_MIN_CELL", "muchos");
            let e = load(jail, None, Flags::default()).unwrap_err();
            assert!(
                e.to_string().contains("\"PUBLIC_MIN_CELL\" in `VAMOS_`"),
                "{e}"
            );
            Ok(())
        });
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let e = RawConfig::layered(Some(Path::new("/no/existe/vamos.toml")), Flags::default())
            .err()
            .unwrap();
        assert!(
            e.to_string()
                .starts_with("no se pudo leer /no/existe/vamos.toml"),
            "{e}"
        );
    }

    #[test]
    fn validation_rejects_out_of_range_values_in_spanish() {
        let check = |raw: RawConfig, expected: &str| {
            let e = Settings::try_from(raw).unwrap_err().to_string();
            assert!(e.starts_with(expected), "{e}");
        };
        check(
            RawConfig {
                counter_referral_appliers: Some(0),
                ..RawConfig::default()
            },
            "counter_referral_appliers debe estar entre 1 y 8 (recibido 0)",
        );
        check(
            RawConfig {
                addr: Some("localhost".into()),
                ..RawConfig::default()
            },
            "dirección «localhost» inválida",
        );
        check(
            RawConfig {
                public_min_cell: Some(1),
                ..RawConfig::default()
            },
            "public_min_cell debe ser al menos 2 (recibido 1)",
        );
        check(
            RawConfig {
                public_url: Some("vamos.gov.py".into()),
                ..RawConfig::default()
            },
            "public_url «vamos.gov.py» inválida",
        );
        check(
            RawConfig {
                dci_base_path: Some("/api/dci".into()),
                ..RawConfig::default()
            },
            "dci_base_path «/api/dci» inválido",
        );
    }

    #[test]
    fn an_https_public_url_turns_hsts_on() {
        let hsts = |public_url: Option<&str>, hsts: Option<bool>| {
            Settings::try_from(RawConfig {
                public_url: public_url.map(str::to_string),
                hsts,
                ..RawConfig::default()
            })
            .unwrap()
            .hsts
        };
        assert!(hsts(Some("https://vamos.gov.py"), None));
        assert!(hsts(Some("https://vamos.gov.py"), Some(false)));
        assert!(!hsts(Some("http://127.0.0.1:8080"), None));
        assert!(hsts(Some("http://127.0.0.1:8080"), Some(true)));
        assert!(!hsts(None, None));
    }

    #[test]
    fn the_database_password_is_hidden() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        let s = Settings::try_from(RawConfig {
            db: Some("postgres://u:secret@h/db".into()),
            ..RawConfig::default()
        })
        .unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("postgres://u:***@h/db"), "{shown}");
    }
}
