//! Access management in the engine: the *needs* a measurement reveals — one per unit and
//! desprotegido service — with what orders them into a referral list (how many services the unit
//! lacks, its populations of special attention, whether the service is critical for age).
//! Turning needs into referrals, and answering them, is `vamos_app::referrals`' work.

use crate::classify::{Classifier, Decision, Status, Unit};
use crate::data::RegistryData;
use crate::logros::{Populations, PERSON_BREAKDOWNS};
use rayon::prelude::*;
use vamos_domain::services::Category;
use vamos_domain::DistrictCode;

/// One unit lacking one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub unit: Unit,
    pub category: Category,
    /// Catalogue index of the service.
    pub service: usize,
    pub district: DistrictCode,
    /// Services the unit lacks across all its categories (desprotecciones).
    pub unprotected: u32,
    /// Populations of special attention the unit belongs to (breakdown keys).
    pub populations: Vec<&'static str>,
    /// The service is critical for age (pregnancy, birth: it cannot wait).
    pub critical: bool,
}

impl Need {
    /// The referral priority: critical services first, then the units lacking most services,
    /// then those belonging to more populations of special attention. Higher comes first.
    pub fn priority(&self) -> i64 {
        i64::from(self.critical) * 10_000
            + i64::from(self.unprotected.min(99)) * 100
            + self.populations.len() as i64
    }
}

/// Categories whose services cannot wait: prenatal care, birth registration, newborn vaccines.
pub fn critical_category(c: Category) -> bool {
    matches!(c, Category::AntesDelNacimiento | Category::EnElNacimiento)
}

/// Every need of every unit of `data`, in unit order (persons, households, communities).
pub fn needs(cls: &Classifier<'_>, data: &RegistryData) -> Vec<Need> {
    let pops = Populations::new(cls, data);
    let person_needs = |p: usize| -> Vec<Need> {
        let h = data.person_household.get(p).copied().unwrap_or(0) as usize;
        let Some(&district) = data.household_district.get(h) else {
            return Vec::new();
        };
        let mut cats = Vec::new();
        cls.person_categories(data, p, &mut cats);
        let mut dec: Vec<(Category, Decision)> = Vec::new();
        let mut buf = Vec::new();
        for &c in &cats {
            buf.clear();
            cls.classify(data, Unit::Person(p), c, &mut buf);
            dec.extend(buf.iter().map(|d| (c, *d)));
        }
        let flags = pops.person(p);
        let populations: Vec<&'static str> = PERSON_BREAKDOWNS
            .iter()
            .zip(flags)
            .filter(|(_, on)| *on)
            .map(|(k, _)| *k)
            .collect();
        unit_needs(Unit::Person(p), district, &dec, &populations)
    };
    let mut out: Vec<Need> = (0..data.persons())
        .into_par_iter()
        .flat_map_iter(person_needs)
        .collect();
    let household_needs = |h: usize| -> Vec<Need> {
        let Some(&district) = data.household_district.get(h) else {
            return Vec::new();
        };
        let mut buf = Vec::new();
        cls.classify(data, Unit::Household(h), Category::Hogares, &mut buf);
        let dec: Vec<_> = buf.iter().map(|d| (Category::Hogares, *d)).collect();
        let populations: Vec<&'static str> = crate::logros::HOUSEHOLD_BREAKDOWNS
            .iter()
            .zip(pops.household(h))
            .filter(|(_, on)| *on)
            .map(|(k, _)| *k)
            .collect();
        unit_needs(Unit::Household(h), district, &dec, &populations)
    };
    out.par_extend(
        (0..data.households())
            .into_par_iter()
            .flat_map_iter(household_needs),
    );
    let community_needs = |c: usize| -> Vec<Need> {
        let Some(&district) = data.community_district.get(c) else {
            return Vec::new();
        };
        let mut buf = Vec::new();
        cls.classify(data, Unit::Community(c), Category::Entorno, &mut buf);
        let dec: Vec<_> = buf.iter().map(|d| (Category::Entorno, *d)).collect();
        let populations: Vec<&'static str> = crate::logros::COMMUNITY_BREAKDOWNS
            .iter()
            .zip(pops.community(c))
            .filter(|(_, on)| *on)
            .map(|(k, _)| *k)
            .collect();
        unit_needs(Unit::Community(c), district, &dec, &populations)
    };
    out.par_extend(
        (0..data.communities())
            .into_par_iter()
            .flat_map_iter(community_needs),
    );
    out
}

fn unit_needs(
    unit: Unit,
    district: DistrictCode,
    decisions: &[(Category, Decision)],
    populations: &[&'static str],
) -> Vec<Need> {
    let unprotected = decisions
        .iter()
        .filter(|(_, d)| d.status == Status::Desprotegido)
        .count() as u32;
    let mut out: Vec<Need> = Vec::new();
    for (c, d) in decisions {
        // A service in two of the person's categories (a baby under one) is one need.
        if d.status == Status::Desprotegido && !out.iter().any(|n| n.service == d.service) {
            out.push(Need {
                unit,
                category: *c,
                service: d.service,
                district,
                unprotected,
                populations: populations.to_vec(),
                critical: critical_category(*c),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_orders_critical_then_unprotected_then_populations() {
        let need = |critical, unprotected, populations: Vec<&'static str>| Need {
            unit: Unit::Person(0),
            category: Category::Adultez,
            service: 0,
            district: DistrictCode::from_number(1116).unwrap(),
            unprotected,
            populations,
            critical,
        };
        let a = need(true, 1, vec![]);
        let b = need(false, 5, vec![]);
        let c = need(false, 4, vec!["mujeres", "pobreza", "indigenas"]);
        let d = need(false, 4, vec!["mujeres"]);
        assert!(a.priority() > b.priority());
        assert!(b.priority() > c.priority());
        assert!(c.priority() > d.priority());
        assert!(critical_category(Category::AntesDelNacimiento));
        assert!(!critical_category(Category::Hogares));
    }
}
