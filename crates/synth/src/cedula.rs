//! Synthetic cédula numbers: unique across the whole population, random-looking, and roughly
//! ordered by age like the real ones (older people were issued lower numbers).
//!
//! The range 150,000 .. ≈ 8,000,000 is cut into one block per 5-year birth cohort, oldest
//! first, each sized for a national-scale population (6.6 M persons, age pyramid and cédula
//! coverage of `calib`) with 20 % headroom. Inside a block the j-th holder gets
//! `start + (a·j + c) mod size` with `gcd(a, size) = 1`: a bijection, so numbers never repeat,
//! yet consecutive holders get numbers far apart. `a` and `c` come from the seed. Each block has
//! a second, smaller sub-block for people who appear only in administrative files (not in the
//! survey), so generating those never shifts the survey's numbers. That sub-block is used from
//! both ends: the five original registries take indices 0, 1, 2, … and the UTGS registry takes
//! size − 1, size − 2, …, so adding UTGS outsiders never shifts the numbers of the others. A full
//! block spills into a shared overflow range (from the next round million, ≈ 8,000,000), and only
//! past that does a person go without a number.

use crate::calib::AGE_BANDS_PCT;
use crate::rng::Rng64;

/// Expected persons at national scale (1.9 M households × ≈3.45).
const NATIONAL_PERSONS: f64 = 6_600_000.0;
const FIRST_NUMBER: u64 = 150_000;
const SPILL_END: u64 = 99_999_999;
/// Share of each block reserved for administrative-only persons.
const OUTSIDER_SHARE: f64 = 0.08;

#[derive(Debug, Clone)]
struct Block {
    start: u64,
    size: u64,
    mult: u64,
    offset: u64,
    /// Indices handed out from the bottom (0, 1, …).
    used: u64,
    /// Indices handed out from the top (size − 1, size − 2, …).
    used_top: u64,
}

impl Block {
    fn new(start: u64, size: u64, rng: &mut impl Rng64) -> Block {
        let size = size.max(1);
        // A multiplier coprime with the size makes j ↦ a·j + c (mod size) a bijection; keep it
        // in the middle of the range so neighbours land far apart.
        let mut mult = if size > 1000 {
            size / 7 + rng.bits() % (size * 5 / 7)
        } else {
            1 + rng.bits() % size
        };
        while gcd(mult, size) != 1 {
            mult = if mult + 1 >= size { 1 } else { mult + 1 };
        }
        Block {
            start,
            size,
            mult,
            offset: rng.bits() % size,
            used: 0,
            used_top: 0,
        }
    }

    fn full(&self) -> bool {
        self.used + self.used_top >= self.size
    }

    fn number(&self, j: u64) -> Option<u32> {
        let k = (u128::from(j) * u128::from(self.mult) + u128::from(self.offset))
            % u128::from(self.size);
        u32::try_from(self.start + k as u64).ok()
    }

    /// The next number from the bottom of the index range.
    fn next(&mut self) -> Option<u32> {
        if self.full() {
            return None;
        }
        let j = self.used;
        self.used += 1;
        self.number(j)
    }

    /// The next number from the top of the index range (disjoint from `next` until they meet).
    fn next_top(&mut self) -> Option<u32> {
        if self.full() {
            return None;
        }
        let j = self.size - 1 - self.used_top;
        self.used_top += 1;
        self.number(j)
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Hands out cédula numbers; see the module documentation.
#[derive(Debug, Clone)]
pub(crate) struct CedulaAllocator {
    /// Survey blocks by age band (index 0 = ages 0–4).
    survey: Vec<Block>,
    outsiders: Vec<Block>,
    spill_survey: Block,
    spill_outsiders: Block,
}

/// Share of a 5-year age band that holds a cédula (see `model::has_cedula`).
fn holder_rate(band: usize) -> f64 {
    match band {
        0 => 0.40,
        1..=3 => 0.80,
        _ => 0.96,
    }
}

impl CedulaAllocator {
    pub(crate) fn new(rng: &mut impl Rng64) -> CedulaAllocator {
        let n = AGE_BANDS_PCT.len();
        let mut sizes = Vec::with_capacity(n);
        for band in 0..n {
            let pct = AGE_BANDS_PCT.get(band).copied().unwrap_or(0.0).max(0.01);
            let expected = NATIONAL_PERSONS * pct / 100.0 * holder_rate(band);
            sizes.push((expected * 1.2) as u64 + 200);
        }
        // Oldest band first: lowest numbers.
        let mut survey = vec![None; n];
        let mut outsiders = vec![None; n];
        let mut next = FIRST_NUMBER;
        for band in (0..n).rev() {
            let size = sizes.get(band).copied().unwrap_or(200);
            let out_size = (size as f64 * OUTSIDER_SHARE) as u64 + 50;
            if let Some(slot) = survey.get_mut(band) {
                *slot = Some(Block::new(next, size, rng));
            }
            next += size;
            if let Some(slot) = outsiders.get_mut(band) {
                *slot = Some(Block::new(next, out_size, rng));
            }
            next += out_size;
        }
        // The overflow range starts at the next round million after the blocks (≈ 8,000,000).
        let spill_start = next.div_ceil(1_000_000) * 1_000_000;
        let half = (SPILL_END - spill_start) / 2;
        CedulaAllocator {
            survey: survey.into_iter().flatten().collect(),
            outsiders: outsiders.into_iter().flatten().collect(),
            spill_survey: Block::new(spill_start, half, rng),
            spill_outsiders: Block::new(spill_start + half, half, rng),
        }
    }

    fn band(age: u32) -> usize {
        ((age / 5) as usize).min(AGE_BANDS_PCT.len() - 1)
    }

    /// A new number for a survey person of this age (years at the reference date).
    pub(crate) fn survey(&mut self, age: u32) -> Option<u32> {
        let b = Self::band(age);
        self.survey
            .get_mut(b)
            .and_then(Block::next)
            .or_else(|| self.spill_survey.next())
    }

    /// A new number for a person present only in administrative files.
    pub(crate) fn outsider(&mut self, age: u32) -> Option<u32> {
        let b = Self::band(age);
        self.outsiders
            .get_mut(b)
            .and_then(Block::next)
            .or_else(|| self.spill_outsiders.next())
    }

    /// A new number for a person present only in the UTGS registry: same sub-blocks as
    /// `outsider`, taken from the other end, so UTGS never shifts the other registries' numbers.
    pub(crate) fn outsider_utgs(&mut self, age: u32) -> Option<u32> {
        let b = Self::band(age);
        self.outsiders
            .get_mut(b)
            .and_then(Block::next_top)
            .or_else(|| self.spill_outsiders.next_top())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn numbers_are_unique_and_age_ordered() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut a = CedulaAllocator::new(&mut rng);
        let mut seen = std::collections::HashSet::new();
        let mut young = Vec::new();
        let mut old = Vec::new();
        for i in 0..200_000u32 {
            let age = i % 95;
            let n = a.survey(age).unwrap();
            assert!(seen.insert(n), "repeated {n}");
            if age < 10 {
                young.push(n);
            } else if age > 70 {
                old.push(n);
            }
            if i % 10 == 0 {
                assert!(seen.insert(a.outsider(age).unwrap()));
            }
            if i % 20 == 0 {
                assert!(seen.insert(a.outsider_utgs(age).unwrap()));
            }
        }
        let mean = |v: &[u32]| v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len() as f64;
        assert!(
            mean(&old) < mean(&young) / 3.0,
            "older people should have lower numbers"
        );
        assert!(seen.iter().all(|&n| (100_000..100_000_000).contains(&n)));
        // The tiny 105–109 band overflows into the spill range, still unique.
        for _ in 0..2_000 {
            assert!(seen.insert(a.survey(107).unwrap()));
        }
    }

    #[test]
    fn utgs_outsiders_do_not_shift_the_other_outsiders() {
        let fresh = || CedulaAllocator::new(&mut rand_chacha::ChaCha8Rng::seed_from_u64(3));
        let (mut plain, mut mixed) = (fresh(), fresh());
        let mut utgs = std::collections::HashSet::new();
        for i in 0..50_000u32 {
            let age = i % 90;
            assert_eq!(plain.outsider(age), mixed.outsider(age));
            assert_eq!(plain.survey(age), mixed.survey(age));
            if i % 3 == 0 {
                assert!(utgs.insert(mixed.outsider_utgs(age).unwrap()));
            }
        }
        // Disjoint from what the other registries got.
        let mut again = fresh();
        for i in 0..50_000u32 {
            let age = i % 90;
            assert!(!utgs.contains(&again.outsider(age).unwrap()));
            assert!(!utgs.contains(&again.survey(age).unwrap()));
        }
    }
}
