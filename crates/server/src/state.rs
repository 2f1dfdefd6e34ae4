//! Shared server state: settings, the connection pool, the compiled catalogue, metrics and
//! the rate limiters (governor's, keyed by client address or account).

use crate::config::Settings;
use crate::pool::Pool;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vamos_catalogue::Catalogue;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub pool: Pool,
    pub catalogue: Arc<Catalogue>,
    /// The Prometheus exporter's registry, rendered at `GET /metrics`.
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// Login attempts per client address (`login_rate_per_minute`).
    pub login_limiter: Arc<RateLimiter<IpAddr>>,
    /// Authenticated requests per account (`api_rate_per_minute`).
    pub api_limiter: Arc<RateLimiter<i64>>,
    /// Self-registration forms per client address ([`SELF_REGISTRATIONS`]).
    pub selfreg_limiter: Arc<RateLimiter<IpAddr>>,
    /// Grievances lodged on the public page per client address ([`GRIEVANCES_LODGED`]).
    pub grievance_lodge_limiter: Arc<RateLimiter<IpAddr>>,
    /// Tracking-code look-ups and appeals per client address ([`GRIEVANCE_LOOKUPS`]).
    pub grievance_track_limiter: Arc<RateLimiter<IpAddr>>,
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
                vamos_app::accounts::ApiToken,
                vamos_app::accounts::User,
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
    ) -> Option<(vamos_app::accounts::ApiToken, vamos_app::accounts::User)> {
        let m = self.entries.lock().ok()?;
        let (at, t, u) = m.get(hash)?;
        (at.elapsed() < Self::TTL).then(|| (t.clone(), u.clone()))
    }

    pub fn put(
        &self,
        hash: String,
        token: vamos_app::accounts::ApiToken,
        user: vamos_app::accounts::User,
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

/// Requests allowed per key (a client address, an account): governor's keyed GCRA limiter.
pub type RateLimiter<K> = governor::DefaultKeyedRateLimiter<K>;

/// The self-registration form's limit per client address: 5 in 10 minutes.
pub const SELF_REGISTRATIONS: (u32, Duration) = (5, Duration::from_secs(600));

/// Grievances the public page accepts per client address: 5 in 10 minutes, as
/// self-registrations.
pub const GRIEVANCES_LODGED: (u32, Duration) = (5, Duration::from_secs(600));

/// Tracking-code look-ups (and appeals) per client address: 30 in 10 minutes — a person checks
/// a few times; somebody trying codes is stopped long before 100 random bits matter.
pub const GRIEVANCE_LOOKUPS: (u32, Duration) = (30, Duration::from_secs(600));

/// `per_window` requests per `window`: a burst of `per_window`, then one more each
/// `window / per_window` (GCRA refills gradually, so no client waits for a window to roll over
/// and none gets more than `per_window` a window after its burst).
pub fn quota(per_window: u32, window: Duration) -> governor::Quota {
    let burst = std::num::NonZeroU32::new(per_window).unwrap_or(std::num::NonZeroU32::MIN);
    governor::Quota::with_period(window / burst.get())
        .unwrap_or_else(|| governor::Quota::per_second(burst))
        .allow_burst(burst)
}

/// A limiter of [`quota`]`(per_window, window)` per key.
pub fn limiter<K: std::hash::Hash + Eq + Clone>(
    per_window: u32,
    window: Duration,
) -> RateLimiter<K> {
    RateLimiter::dashmap(quota(per_window, window))
}

#[cfg(test)]
mod tests {
    use super::*;

    type FakeClock = governor::clock::FakeRelativeClock;
    type FakeLimiter = governor::RateLimiter<
        &'static str,
        governor::state::keyed::DefaultKeyedStateStore<&'static str>,
        FakeClock,
        governor::middleware::NoOpMiddleware<<FakeClock as governor::clock::Clock>::Instant>,
    >;

    /// A limiter of `quota(per_window, window)` on a clock the test moves.
    fn on_fake_clock(per_window: u32, window: Duration) -> (FakeLimiter, FakeClock) {
        let clock = FakeClock::default();
        let l = governor::RateLimiter::dashmap_with_clock(quota(per_window, window), clock.clone());
        (l, clock)
    }

    #[test]
    fn a_limiter_allows_its_whole_quota_at_once_then_refuses() {
        let (l, _) = on_fake_clock(SELF_REGISTRATIONS.0, SELF_REGISTRATIONS.1);
        for i in 0..5 {
            assert!(l.check_key(&"a").is_ok(), "request {i}");
        }
        assert!(l.check_key(&"a").is_err(), "the sixth in ten minutes");
    }

    #[test]
    fn a_limiter_counts_each_key_apart() {
        let (l, _) = on_fake_clock(2, Duration::from_secs(60));
        assert!(l.check_key(&"a").is_ok() && l.check_key(&"a").is_ok());
        assert!(l.check_key(&"a").is_err());
        assert!(l.check_key(&"b").is_ok());
    }

    #[test]
    fn a_refused_key_gets_one_more_request_each_window_share() {
        let (l, clock) = on_fake_clock(SELF_REGISTRATIONS.0, SELF_REGISTRATIONS.1);
        for _ in 0..5 {
            assert!(l.check_key(&"a").is_ok());
        }
        clock.advance(Duration::from_secs(119));
        assert!(l.check_key(&"a").is_err(), "before a fifth of the window");
        clock.advance(Duration::from_secs(1));
        assert!(l.check_key(&"a").is_ok(), "one more after 120 s");
        assert!(l.check_key(&"a").is_err());
        clock.advance(Duration::from_secs(600));
        for _ in 0..5 {
            assert!(
                l.check_key(&"a").is_ok(),
                "the whole quota after a quiet window"
            );
        }
        assert!(
            l.check_key(&"a").is_err(),
            "never more than the quota at once"
        );
    }

    #[test]
    fn a_key_is_forgotten_once_its_quota_is_whole_again() {
        let (l, clock) = on_fake_clock(2, Duration::from_secs(60));
        assert!(l.check_key(&"a").is_ok() && l.check_key(&"b").is_ok());
        clock.advance(Duration::from_secs(15));
        l.retain_recent();
        assert_eq!(l.len(), 2, "a quota still refilling is kept");
        clock.advance(Duration::from_secs(50));
        l.retain_recent();
        assert_eq!(l.len(), 0);
    }

    #[test]
    fn a_zero_quota_is_read_as_one() {
        let (l, _) = on_fake_clock(0, Duration::from_secs(60));
        assert!(l.check_key(&"a").is_ok());
        assert!(l.check_key(&"a").is_err());
    }
}
