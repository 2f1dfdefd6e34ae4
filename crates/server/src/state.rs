//! Shared server state: settings, the connection pool, the compiled catalogue, metrics and
//! the rate limiters.

use crate::config::Settings;
use crate::pool::Pool;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vamos_catalogue::Catalogue;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub pool: Pool,
    pub catalogue: Arc<Catalogue>,
    pub metrics: Arc<Metrics>,
    pub login_limiter: Arc<RateLimiter>,
    pub api_limiter: Arc<RateLimiter>,
    pub started: Instant,
    /// This registry's DCI signing key (`dci_signing_key_file`), when configured.
    pub dci_key: Option<Arc<ed25519_dalek::SigningKey>>,
    /// Recently verified API tokens (see [`TokenCache`]).
    pub tokens: Arc<TokenCache>,
    /// The single writer of counter-referrals (group commit).
    pub intake: vamos_app::counter_referrals::intake::Intake,
    /// Wakes the counter-referral updater (a batch was accepted).
    pub access_wake: Arc<tokio::sync::Notify>,
    /// The Logros updater's registry in memory.
    pub resident: Arc<ResidentSlot>,
    /// Where every registered person lives, in memory, for counter-referral checks.
    pub places: Arc<PlacesSlot>,
}

/// The persons' places in memory ([`vamos_store::places::PersonPlaces`]), shared by the
/// counter-referral checks; read in the background at start-up and again after an import.
#[derive(Default)]
pub struct PlacesSlot {
    pub copy: std::sync::RwLock<Option<Arc<vamos_store::places::PersonPlaces>>>,
    /// A reading (or the check whether one is needed) is under way.
    pub loading: std::sync::atomic::AtomicBool,
    /// When the last check started (at least [`ResidentSlot::RETRY`] apart).
    pub last_load: Mutex<Option<Instant>>,
}

impl PlacesSlot {
    /// The copy, if read.
    pub fn get(&self) -> Option<Arc<vamos_store::places::PersonPlaces>> {
        self.copy.read().ok().and_then(|c| c.clone())
    }

    /// Persons held (0 when there is no copy).
    pub fn persons(&self) -> usize {
        self.get().map_or(0, |p| p.persons())
    }

    /// `loading` (a first reading under way), `ready` or `none` (for readiness).
    pub fn state(&self) -> &'static str {
        match self.get() {
            Some(_) => "ready",
            None if self.loading.load(Ordering::Relaxed) => "loading",
            None => "none",
        }
    }
}

/// The Logros updater's copy of the registry in memory ([`vamos_app::counter_referrals::Resident`]): taken
/// by each update pass, read again in the background when missing or stale.
#[derive(Default)]
pub struct ResidentSlot {
    pub copy: Mutex<Option<vamos_app::counter_referrals::Resident>>,
    /// A reading is under way.
    pub loading: std::sync::atomic::AtomicBool,
    /// When the last reading started (readings are at least [`ResidentSlot::RETRY`] apart).
    pub last_load: Mutex<Option<Instant>>,
    /// Persons held by the copy (0 when there is none).
    pub persons: AtomicU64,
}

impl ResidentSlot {
    pub const RETRY: Duration = Duration::from_secs(30);

    /// `ready`, `loading` or `none` (for readiness and metrics).
    pub fn state(&self) -> &'static str {
        if self.loading.load(Ordering::Relaxed) {
            "loading"
        } else if self.persons.load(Ordering::Relaxed) > 0 {
            "ready"
        } else {
            "none"
        }
    }
}

/// API tokens verified in the last [`TokenCache::TTL`], keyed by the token's SHA-256, with the
/// account they act for: a busy institutional system does not pay a database round trip per
/// request. A revocation made through the API empties the cache at once; one made with the
/// command line (another process) takes effect within the TTL.
#[derive(Default)]
pub struct TokenCache {
    entries: Mutex<
        HashMap<
            String,
            (
                Instant,
                vamos_store::accounts::ApiToken,
                vamos_store::accounts::User,
            ),
        >,
    >,
}

impl TokenCache {
    pub const TTL: Duration = Duration::from_secs(5);
    /// Most tokens kept (the cache is emptied when full).
    const MAX: usize = 10_000;

    /// The cached token and account for `hash`, if verified less than a TTL ago.
    pub fn get(
        &self,
        hash: &str,
    ) -> Option<(vamos_store::accounts::ApiToken, vamos_store::accounts::User)> {
        let m = self.entries.lock().ok()?;
        let (at, t, u) = m.get(hash)?;
        (at.elapsed() < Self::TTL).then(|| (t.clone(), u.clone()))
    }

    pub fn put(
        &self,
        hash: String,
        token: vamos_store::accounts::ApiToken,
        user: vamos_store::accounts::User,
    ) {
        if let Ok(mut m) = self.entries.lock() {
            if m.len() >= Self::MAX {
                m.clear();
            }
            m.insert(hash, (Instant::now(), token, user));
        }
    }

    /// Forgets every token (after a revocation or an account change).
    pub fn clear(&self) {
        if let Ok(mut m) = self.entries.lock() {
            m.clear();
        }
    }
}

/// Per (method, route, status): request count and total seconds.
pub type RequestCounts = HashMap<(String, String, u16), (u64, f64)>;

/// Counters exported at `/metrics` (Prometheus text format).
#[derive(Default)]
pub struct Metrics {
    /// (method, route, status class) → count and total seconds.
    pub requests: Mutex<RequestCounts>,
    pub logins_ok: AtomicU64,
    pub logins_failed: AtomicU64,
    pub rate_limited: AtomicU64,
}

impl Metrics {
    pub fn observe(&self, method: &str, route: &str, status: u16, secs: f64) {
        if let Ok(mut m) = self.requests.lock() {
            let e = m
                .entry((method.to_string(), route.to_string(), status))
                .or_insert((0, 0.0));
            e.0 += 1;
            e.1 += secs;
        }
    }

    /// The Prometheus exposition text.
    pub fn render(&self, uptime: Duration) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let _ = writeln!(s, "# HELP vamos_http_requests_total Solicitudes HTTP atendidas.\n# TYPE vamos_http_requests_total counter");
        let rows: Vec<_> = self
            .requests
            .lock()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default();
        let mut rows = rows;
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        for ((m, r, st), (n, _)) in &rows {
            let _ = writeln!(
                s,
                "vamos_http_requests_total{{method=\"{m}\",route=\"{}\",status=\"{st}\"}} {n}",
                r.replace('"', "'")
            );
        }
        let _ = writeln!(s, "# HELP vamos_http_request_duration_seconds_sum Tiempo total de servidor por ruta.\n# TYPE vamos_http_request_duration_seconds_sum counter");
        for ((m, r, st), (_, secs)) in &rows {
            let _ = writeln!(
                s,
                "vamos_http_request_duration_seconds_sum{{method=\"{m}\",route=\"{}\",status=\"{st}\"}} {secs:.6}",
                r.replace('"', "'")
            );
        }
        let counters = [
            (
                "vamos_logins_total{result=\"ok\"}",
                &self.logins_ok,
                "Inicios de sesión.",
            ),
            (
                "vamos_logins_total{result=\"failed\"}",
                &self.logins_failed,
                "",
            ),
            (
                "vamos_rate_limited_total",
                &self.rate_limited,
                "Solicitudes rechazadas por límite de frecuencia.",
            ),
        ];
        for (name, v, help) in counters {
            let base = name.split('{').next().unwrap_or(name);
            if !help.is_empty() {
                let _ = writeln!(s, "# HELP {base} {help}\n# TYPE {base} counter");
            }
            let _ = writeln!(s, "{name} {}", v.load(Ordering::Relaxed));
        }
        let _ = writeln!(s, "# HELP vamos_uptime_seconds Segundos desde el arranque.\n# TYPE vamos_uptime_seconds gauge\nvamos_uptime_seconds {:.0}", uptime.as_secs_f64());
        s
    }
}

/// A fixed-window limiter per key (client address, account).
pub struct RateLimiter {
    per_window: u32,
    window: Duration,
    hits: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    pub fn new(per_window: u32, window: Duration) -> RateLimiter {
        RateLimiter {
            per_window,
            window,
            hits: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a hit; `false` when the key is over its limit in this window.
    pub fn allow(&self, key: &str) -> bool {
        let now = Instant::now();
        let Ok(mut hits) = self.hits.lock() else {
            return true;
        };
        if hits.len() > 100_000 {
            hits.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let e = hits.entry(key.to_string()).or_insert((now, 0));
        if now.duration_since(e.0) >= self.window {
            *e = (now, 0);
        }
        e.1 += 1;
        e.1 <= self.per_window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_counts_per_key_and_window() {
        let l = RateLimiter::new(2, Duration::from_secs(60));
        assert!(l.allow("a"));
        assert!(l.allow("a"));
        assert!(!l.allow("a"));
        assert!(l.allow("b"));
        let m = Metrics::default();
        m.observe("GET", "/api/health", 200, 0.001);
        assert!(m.render(Duration::from_secs(3)).contains(
            "vamos_http_requests_total{method=\"GET\",route=\"/api/health\",status=\"200\"} 1"
        ));
    }
}
