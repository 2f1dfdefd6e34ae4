//! The limit on probing with counter-referrals: how many distinct persons an account may name
//! that are not registered within its scope, per hour.
//!
//! A counter-referral that names someone outside the sender's scope is answered exactly as one
//! naming nobody (see [`super::check`]), so a batch cannot tell the two apart; this limit stops
//! the remaining use of batches as a search engine — testing cédulas by the thousand to learn
//! which belong to someone registered in the caller's own territory, or to anyone at all once a
//! scope is wide. It counts *distinct* keys not found, not events: a legitimate batch of 20,000
//! events about the caller's own patients finds them and costs nothing, and re-sending an event
//! whose person was registered meanwhile costs nothing again.
//!
//! The count lives in the server's memory (one server per registry): a restart forgets it,
//! which only an administrator of the machine can cause.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The window the limit counts over.
pub const WINDOW: Duration = Duration::from_secs(3600);

/// Distinct persons not found in scope that an account may name per hour, unless configured.
pub const DEFAULT_PER_HOUR: usize = 200;

/// Distinct keys not found in scope per account within the last [`WINDOW`].
#[derive(Debug)]
pub struct MissLimit {
    per_hour: usize,
    seen: Mutex<HashMap<String, HashMap<String, Instant>>>,
}

impl MissLimit {
    pub fn new(per_hour: usize) -> MissLimit {
        MissLimit {
            per_hour,
            seen: Mutex::default(),
        }
    }

    /// The number allowed per hour.
    pub fn per_hour(&self) -> usize {
        self.per_hour
    }

    /// Admits a submission of `account` that named `misses` (keys not found in its scope) at
    /// `now`: when they and the others of the last hour stay within the limit they are counted
    /// and `Ok`; otherwise nothing is counted (the submission is refused whole and answers
    /// nothing) and `Err` says how many the account already named.
    pub fn admit(
        &self,
        account: &str,
        misses: &BTreeSet<String>,
        now: Instant,
    ) -> Result<(), usize> {
        if misses.is_empty() {
            return Ok(());
        }
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        // Forget what fell out of the window, for every account (bounded memory).
        seen.retain(|_, keys| {
            keys.retain(|_, at| now.saturating_duration_since(*at) < WINDOW);
            !keys.is_empty()
        });
        let keys = seen.entry(account.to_string()).or_default();
        let new = misses.iter().filter(|k| !keys.contains_key(*k)).count();
        if keys.len() + new > self.per_hour {
            return Err(keys.len());
        }
        for k in misses {
            keys.entry(k.clone()).or_insert(now);
        }
        Ok(())
    }
}

/// The account a caller acts for: its name without the token it used (`ana (token 3)` →
/// `ana`), so that one account's tokens share one limit. User names have no spaces.
pub fn account_of(actor_name: &str) -> &str {
    actor_name.split(' ').next().unwrap_or(actor_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(r: std::ops::Range<u32>) -> BTreeSet<String> {
        r.map(|n| format!("cédula {n}")).collect()
    }

    #[test]
    fn distinct_misses_are_limited_per_account_and_hour() {
        let l = MissLimit::new(10);
        let t = Instant::now();
        assert_eq!(l.admit("ana", &keys(0..8), t), Ok(()));
        // The same keys again cost nothing.
        assert_eq!(l.admit("ana", &keys(0..8), t), Ok(()));
        // Three more would pass the limit: refused whole, nothing counted.
        assert_eq!(l.admit("ana", &keys(8..11), t), Err(8));
        assert_eq!(l.admit("ana", &keys(8..10), t), Ok(()));
        // Another account has its own count.
        assert_eq!(l.admit("beto", &keys(0..10), t), Ok(()));
        // An hour later the window is empty again.
        assert_eq!(l.admit("ana", &keys(20..30), t + WINDOW), Ok(()));
    }

    #[test]
    fn tokens_of_one_account_share_its_limit() {
        assert_eq!(account_of("ana (token 7)"), "ana");
        assert_eq!(account_of("ana"), "ana");
    }
}
