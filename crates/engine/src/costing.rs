//! Costing from targets (issue 38): what it costs to bring a Logro of a district from its
//! coverage to a target. A Logro counts concurrent protection, so a unit reaches it when every
//! núcleo service it lacks is given: its cost is the sum of the unit costs of *its* missing
//! services (`desprotegido`, and `sin_dato` counted as missing — whether it is, a FIPS update
//! would tell). The cheapest way to reach a target protects the units in increasing order of that
//! cost; a [`Gap`] keeps them so ordered with prefix sums, so any target is answered in time
//! proportional to the number of services, whatever the district's size.

use crate::classify::{Classifier, Decision, Status, Unit};
use crate::data::RegistryData;
use rayon::prelude::*;
use vamos_domain::services::Category;
use vamos_domain::DistrictCode;

/// The units of one Logro of one district that the measurement does not protect, cheapest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    pub district: DistrictCode,
    pub category: Category,
    /// Units the Logro counts, and those in concurrent protection.
    pub identified: u64,
    pub protected: u64,
    /// The category's núcleo services (catalogue indices): the columns of the counts below.
    pub services: Vec<usize>,
    /// `prefix_cost[k]`: the cost of the `k` cheapest units (PYG, unit costs of the catalogue).
    prefix_cost: Vec<i64>,
    /// `prefix_units[s][k]`: how many of the `k` cheapest units lack service `services[s]`.
    prefix_units: Vec<Vec<u32>>,
    /// `prefix_unknown[k]`: how many of the `k` cheapest units have a service without data.
    prefix_unknown: Vec<u32>,
}

/// What protecting the `units` cheapest units of a [`Gap`] takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Take {
    pub units: u64,
    /// Σ unit costs of the services they lack.
    pub cost: i64,
    /// Per service of [`Gap::services`]: how many of them lack it.
    pub by_service: Vec<u64>,
    /// How many of them have a service without data (a FIPS update would tell whether they lack
    /// it).
    pub unknown: u64,
}

impl Gap {
    /// Units not protected (the most a target can add).
    pub fn unprotected(&self) -> u64 {
        self.prefix_cost.len().saturating_sub(1) as u64
    }

    /// Units to protect for coverage `target` (0..=1): enough that protected / identified
    /// reaches it — none when the coverage already does.
    pub fn needed(&self, target: f64) -> u64 {
        let goal = (target.clamp(0.0, 1.0) * self.identified as f64 - 1e-9).ceil();
        let goal = if goal.is_finite() && goal > 0.0 {
            goal as u64
        } else {
            0
        };
        goal.saturating_sub(self.protected).min(self.unprotected())
    }

    /// How many of the cheapest units cost at most `c` (their costs never decrease).
    pub fn at_most(&self, c: i64) -> u64 {
        let (mut lo, mut hi) = (0usize, self.prefix_cost.len().saturating_sub(1));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let cost = self.prefix_cost.get(mid + 1).copied().unwrap_or(0)
                - self.prefix_cost.get(mid).copied().unwrap_or(0);
            if cost <= c {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo as u64
    }

    /// The dearest unit's cost (0 when every unit is protected).
    pub fn dearest(&self) -> i64 {
        let n = self.prefix_cost.len();
        if n < 2 {
            return 0;
        }
        self.prefix_cost.get(n - 1).copied().unwrap_or(0)
            - self.prefix_cost.get(n - 2).copied().unwrap_or(0)
    }

    /// `units` units chosen in proportion to every unit not protected — each service lacked,
    /// and the cost, as that share of the whole gap (rounded down) — rather than the cheapest.
    pub fn take_share(&self, units: u64) -> Take {
        let all = self.take(self.unprotected());
        let n = all.units.max(1);
        let k = units.min(all.units);
        let part = |x: u64| x.saturating_mul(k) / n;
        Take {
            units: k,
            cost: i64::try_from(i128::from(all.cost) * i128::from(k) / i128::from(n))
                .unwrap_or(i64::MAX),
            by_service: all.by_service.iter().map(|x| part(*x)).collect(),
            unknown: part(all.unknown),
        }
    }

    /// The `units` cheapest units (at most every unprotected one).
    pub fn take(&self, units: u64) -> Take {
        let k = usize::try_from(units.min(self.unprotected())).unwrap_or(usize::MAX);
        let at = |v: &[u32]| u64::from(v.get(k).copied().unwrap_or(0));
        Take {
            units: k as u64,
            cost: self.prefix_cost.get(k).copied().unwrap_or(0),
            by_service: self.prefix_units.iter().map(|p| at(p)).collect(),
            unknown: at(&self.prefix_unknown),
        }
    }
}

/// The `k` cheapest units of `gaps` taken as one pool (a department costed as a whole): how
/// many each gap gives — every unit cheaper than the `k`-th, then those costing the same in the
/// order the gaps are listed. Taking more never takes fewer from any gap.
pub fn pooled(gaps: &[&Gap], k: u64) -> Vec<u64> {
    let total: u64 = gaps.iter().map(|g| g.unprotected()).sum();
    let k = k.min(total);
    if k == 0 {
        return vec![0; gaps.len()];
    }
    let at_most = |c: i64| -> u64 { gaps.iter().map(|g| g.at_most(c)).sum() };
    let (mut lo, mut hi) = (0i64, gaps.iter().map(|g| g.dearest()).max().unwrap_or(0));
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if at_most(mid) >= k {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let mut counts: Vec<u64> = gaps
        .iter()
        .map(|g| if lo == 0 { 0 } else { g.at_most(lo - 1) })
        .collect();
    let mut left = k - counts.iter().sum::<u64>();
    for (g, n) in gaps.iter().zip(counts.iter_mut()) {
        let extra = (g.at_most(lo) - *n).min(left);
        *n += extra;
        left -= extra;
    }
    counts
}

/// One unit not protected: its cost and what it lacks.
struct Lacking {
    cost: i64,
    /// Bits over the category's núcleo services.
    missing: u64,
    unknown: bool,
}

/// The gaps of every Logro of every district in `data`, for unit costs `unit_cost` (per
/// catalogue service index; the catalogue's `costo_unitario_pyg` unless a territory overrides
/// it).
pub fn gaps(cls: &Classifier<'_>, data: &RegistryData, unit_cost: &[i64]) -> Vec<Gap> {
    let nucleo: Vec<Vec<usize>> = Category::ALL
        .iter()
        .map(|c| cls.catalogue.nucleo(*c).into_iter().take(64).collect())
        .collect();
    let mut districts: Vec<DistrictCode> = data
        .household_district
        .iter()
        .chain(data.community_district.iter())
        .copied()
        .collect();
    districts.sort_unstable();
    districts.dedup();
    // (district, category) → its units; filled in one pass per kind of unit.
    let slot = |d: DistrictCode, c: Category| -> usize {
        districts.binary_search(&d).unwrap_or(0) * Category::ALL.len() + (c.logro() as usize - 1)
    };
    let n = districts.len() * Category::ALL.len();
    let lacking_of = |c: Category, dec: &[Decision]| -> Option<Lacking> {
        if cls.concurrent(dec) {
            return None;
        }
        let list = nucleo.get(c.logro() as usize - 1)?;
        let (mut cost, mut missing, mut unknown) = (0i64, 0u64, false);
        for d in dec {
            let Some(bit) = list.iter().position(|&s| s == d.service) else {
                continue;
            };
            if matches!(d.status, Status::Desprotegido | Status::SinDato) {
                cost += unit_cost.get(d.service).copied().unwrap_or(0);
                missing |= 1 << bit;
                unknown |= d.status == Status::SinDato;
            }
        }
        Some(Lacking {
            cost,
            missing,
            unknown,
        })
    };
    // Per slot: identified, protected, and the units not protected.
    type Acc = (Vec<u64>, Vec<u64>, Vec<Vec<Lacking>>);
    let empty = || -> Acc { (vec![0; n], vec![0; n], (0..n).map(|_| Vec::new()).collect()) };
    let merge = |mut a: Acc, b: Acc| -> Acc {
        for (i, (x, (y, z))) in b.0.into_iter().zip(b.1.into_iter().zip(b.2)).enumerate() {
            if let (Some(ai), Some(ap), Some(al)) = (a.0.get_mut(i), a.1.get_mut(i), a.2.get_mut(i))
            {
                *ai += x;
                *ap += y;
                al.extend(z);
            }
        }
        a
    };
    let record = |acc: &mut Acc, d: DistrictCode, c: Category, dec: &[Decision]| {
        let i = slot(d, c);
        let lacking = lacking_of(c, dec);
        if let (Some(ai), Some(ap), Some(al)) =
            (acc.0.get_mut(i), acc.1.get_mut(i), acc.2.get_mut(i))
        {
            *ai += 1;
            match lacking {
                None => *ap += 1,
                Some(l) => al.push(l),
            }
        }
    };
    let chunk = 65_536;
    let persons = (0..data.persons().div_ceil(chunk))
        .into_par_iter()
        .map(|ch| {
            let mut acc = empty();
            let (mut dec, mut cats) = (Vec::new(), Vec::new());
            for p in ch * chunk..((ch + 1) * chunk).min(data.persons()) {
                let h = data.person_household.get(p).copied().unwrap_or(0) as usize;
                let Some(&d) = data.household_district.get(h) else {
                    continue;
                };
                cls.person_categories(data, p, &mut cats);
                for &c in &cats {
                    dec.clear();
                    cls.classify(data, Unit::Person(p), c, &mut dec);
                    record(&mut acc, d, c, &dec);
                }
            }
            acc
        })
        .reduce(empty, merge);
    let mut acc = persons;
    let mut dec = Vec::new();
    for h in 0..data.households() {
        let Some(&d) = data.household_district.get(h) else {
            continue;
        };
        dec.clear();
        cls.classify(data, Unit::Household(h), Category::Hogares, &mut dec);
        record(&mut acc, d, Category::Hogares, &dec);
    }
    for c in 0..data.communities() {
        let Some(&d) = data.community_district.get(c) else {
            continue;
        };
        dec.clear();
        cls.classify(data, Unit::Community(c), Category::Entorno, &mut dec);
        record(&mut acc, d, Category::Entorno, &dec);
    }
    let (identified, protected, lacking) = acc;
    lacking
        .into_par_iter()
        .enumerate()
        .filter_map(|(i, units)| {
            let d = *districts.get(i / Category::ALL.len())?;
            let c = *Category::ALL.get(i % Category::ALL.len())?;
            let ident = *identified.get(i)?;
            if ident == 0 {
                return None;
            }
            let services = nucleo.get(c.logro() as usize - 1)?.clone();
            Some(gap_of(d, c, ident, *protected.get(i)?, services, units))
        })
        .collect()
}

/// A [`Gap`] from its units not protected (in any order).
fn gap_of(
    district: DistrictCode,
    category: Category,
    identified: u64,
    protected: u64,
    services: Vec<usize>,
    mut units: Vec<Lacking>,
) -> Gap {
    units.sort_by_key(|u| u.cost);
    let mut prefix_cost = Vec::with_capacity(units.len() + 1);
    let mut prefix_units: Vec<Vec<u32>> = services
        .iter()
        .map(|_| Vec::with_capacity(units.len() + 1))
        .collect();
    let mut prefix_unknown = Vec::with_capacity(units.len() + 1);
    let (mut cost, mut unknown) = (0i64, 0u32);
    let mut counts = vec![0u32; services.len()];
    prefix_cost.push(0);
    prefix_unknown.push(0);
    for p in &mut prefix_units {
        p.push(0);
    }
    for u in &units {
        cost += u.cost;
        unknown += u32::from(u.unknown);
        prefix_cost.push(cost);
        prefix_unknown.push(unknown);
        for (bit, (count, p)) in counts.iter_mut().zip(&mut prefix_units).enumerate() {
            *count += u32::from(u.missing >> bit & 1 == 1);
            p.push(*count);
        }
    }
    Gap {
        district,
        category,
        identified,
        protected,
        services,
        prefix_cost,
        prefix_units,
        prefix_unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gap(costs: &[(i64, u64, bool)], identified: u64, protected: u64) -> Gap {
        let units: Vec<Lacking> = costs
            .iter()
            .map(|&(cost, missing, unknown)| Lacking {
                cost,
                missing,
                unknown,
            })
            .collect();
        let d = DistrictCode::from_number(1116).unwrap_or_else(|_| unreachable!());
        gap_of(
            d,
            Category::Hogares,
            identified,
            protected,
            vec![0, 1],
            units,
        )
    }

    #[test]
    fn a_target_at_or_below_the_coverage_needs_no_unit() {
        let g = gap(&[(5, 1, false), (7, 2, false)], 10, 6);
        assert_eq!(g.needed(0.6), 0);
        assert_eq!(g.needed(0.3), 0);
        assert_eq!(g.take(g.needed(0.5)).cost, 0);
    }

    #[test]
    fn the_cheapest_units_are_protected_first_and_their_services_counted() {
        let g = gap(&[(9, 3, false), (2, 1, true), (4, 2, false)], 10, 5);
        assert_eq!(g.needed(0.7), 2);
        let t = g.take(2);
        assert_eq!(t.cost, 6, "2 + 4");
        assert_eq!(t.by_service, vec![1, 1]);
        assert_eq!(t.unknown, 1);
        // A target beyond reach takes every unprotected unit.
        assert_eq!(g.take(g.needed(1.0)).units, 3);
        assert_eq!(g.take(10).cost, 15);
    }

    #[test]
    fn a_pool_takes_the_cheapest_units_of_all_its_gaps() {
        let a = gap(&[(2, 1, false), (8, 1, false), (9, 1, false)], 10, 5);
        let b = gap(&[(3, 2, false), (4, 2, false), (20, 2, false)], 10, 5);
        assert_eq!(pooled(&[&a, &b], 3), vec![1, 2], "2, 3, 4");
        assert_eq!(pooled(&[&a, &b], 0), vec![0, 0]);
        assert_eq!(pooled(&[&a, &b], 99), vec![3, 3], "at most every unit");
        // Never fewer from a gap when more are taken.
        let mut before = vec![0, 0];
        for k in 0..=6 {
            let now = pooled(&[&a, &b], k);
            assert!(now.iter().zip(&before).all(|(x, y)| x >= y), "{k}: {now:?}");
            assert_eq!(now.iter().sum::<u64>(), k);
            before = now;
        }
    }

    #[test]
    fn a_proportional_choice_costs_the_gaps_average_per_unit() {
        let g = gap(
            &[(2, 1, false), (4, 1, true), (6, 2, false), (8, 2, false)],
            10,
            6,
        );
        let t = g.take_share(2);
        assert_eq!(t.cost, 10, "half of 20");
        assert_eq!(t.by_service, vec![1, 1]);
        assert_eq!(t.unknown, 0, "a quarter of one, rounded down");
        assert!(
            g.take(2).cost <= t.cost,
            "the cheapest choice never costs more"
        );
    }
}
