//! Small, panic-free sampling helpers over a seeded generator.
//!
//! `rand`'s `random_bool` and `random_range` panic on out-of-range arguments; the model computes
//! many probabilities and bounds, so these helpers clamp instead. All randomness of the crate
//! flows from `ChaCha8Rng` streams derived from the user's seed (see `lib.rs`), which is what
//! makes the output byte-identical for the same configuration.

use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Sampling helpers, implemented for every `rand::Rng`.
pub(crate) trait Rng64 {
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64;
    /// A raw 64-bit draw.
    fn bits(&mut self) -> u64;
    /// True with probability `p` (clamped to [0, 1]).
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    /// Uniform integer in `lo..=hi` (returns `lo` when `hi <= lo`).
    fn int(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = (hi - lo) as u64 + 1;
        lo + (self.bits() % span) as i64
    }
    /// Uniform float in [lo, hi).
    fn float(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    /// Roughly normal (sum of uniforms), mean `mu`, standard deviation `sd`.
    fn normal(&mut self, mu: f64, sd: f64) -> f64 {
        let s: f64 = (0..4).map(|_| self.unit()).sum::<f64>() - 2.0;
        // Var of a sum of 4 U(0,1) is 4/12 = 1/3.
        mu + sd * s * 3f64.sqrt()
    }
    /// One item by weight (weights need not sum to 1); `T::default()` for an empty list.
    fn pick<T: Copy + Default>(&mut self, items: &[(T, f64)]) -> T {
        let total: f64 = items.iter().map(|x| x.1.max(0.0)).sum();
        let mut u = self.unit() * total;
        for &(v, w) in items {
            let w = w.max(0.0);
            if u < w {
                return v;
            }
            u -= w;
        }
        items
            .iter()
            .rev()
            .find(|x| x.1 > 0.0)
            .map(|x| x.0)
            .unwrap_or_default()
    }
    /// One element of a slice, uniformly; `T::default()` for an empty slice.
    fn choose<T: Copy + Default>(&mut self, items: &[T]) -> T {
        if items.is_empty() {
            return T::default();
        }
        let i = self.int(0, items.len() as i64 - 1) as usize;
        items.get(i).copied().unwrap_or_default()
    }
}

impl<R: Rng> Rng64 for R {
    fn unit(&mut self) -> f64 {
        // 53 random bits → [0, 1).
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
    fn bits(&mut self) -> u64 {
        self.next_u64()
    }
}

/// Purposes of the independent random streams of one district. Keeping them apart means, for
/// example, that turning `--admin` on does not change a single byte of `fips.csv`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stream {
    Households = 0,
    Communities = 1,
    Admin = 2,
    /// The UTGS registry (ORIENTACIONES SPS), added after the others: a stream of its own keeps
    /// the older registry files byte-identical.
    Utgs = 3,
}

/// The generator for one (seed, district, purpose): same key, distinct ChaCha stream.
pub(crate) fn stream(seed: u64, district: u16, purpose: Stream) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream((u64::from(district) << 8) | purpose as u64);
    r
}

/// A generator for global (not per-district) decisions, e.g. the cédula number layout.
pub(crate) fn global(seed: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(u64::MAX);
    r
}
