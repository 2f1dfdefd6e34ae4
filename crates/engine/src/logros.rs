//! The ten Logros: per district, for each category, the units identified, those in concurrent
//! protection (every applicable núcleo service protegido), those with missing data, the
//! breakdowns by populations of special attention and the coverage of each núcleo service.
//! Departments and the nation are the sums of their districts, so rolled-up figures always
//! equal the sum of their parts.

use crate::classify::{Classifier, Decision, Status, Unit};
use crate::data::RegistryData;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use vamos_domain::schema::PERSON_FIELDS;
use vamos_domain::services::Category;
use vamos_domain::{DistrictCode, Territory, TerritoryCode};

/// Populations of special attention (persons), in breakdown order.
pub const PERSON_BREAKDOWNS: [&str; 6] = [
    "ninos",
    "mujeres",
    "adultos_mayores",
    "discapacidad",
    "indigenas",
    "pobreza",
];
/// Breakdowns of households and communities.
pub const HOUSEHOLD_BREAKDOWNS: [&str; 2] = ["pobreza", "rural"];
pub const COMMUNITY_BREAKDOWNS: [&str; 1] = ["rural"];

/// Counts of a population.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub identified: u64,
    pub protected: u64,
    pub without_data: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.identified += o.identified;
        self.protected += o.protected;
        self.without_data += o.without_data;
    }
    /// Protected over identified; `None` when nobody was identified.
    pub fn coverage(&self) -> Option<f64> {
        (self.identified > 0).then(|| self.protected as f64 / self.identified as f64)
    }
}

/// Coverage of one núcleo service among the units it applies to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceCounts {
    pub service: String,
    pub applicable: u64,
    pub protected: u64,
    pub unprotected: u64,
    pub without_data: u64,
}

/// One Logro in one territory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogroCounts {
    pub logro: u8,
    pub category: String,
    pub all: Counts,
    pub breakdowns: BTreeMap<String, Counts>,
    pub services: Vec<ServiceCounts>,
}

impl LogroCounts {
    fn add(&mut self, o: &LogroCounts) {
        self.all.add(&o.all);
        for (k, v) in &o.breakdowns {
            self.breakdowns.entry(k.clone()).or_default().add(v);
        }
        for s in &o.services {
            match self.services.iter_mut().find(|x| x.service == s.service) {
                Some(x) => {
                    x.applicable += s.applicable;
                    x.protected += s.protected;
                    x.unprotected += s.unprotected;
                    x.without_data += s.without_data;
                }
                None => self.services.push(s.clone()),
            }
        }
    }
}

impl Counts {
    fn sub(&mut self, o: &Counts) {
        self.identified = self.identified.saturating_sub(o.identified);
        self.protected = self.protected.saturating_sub(o.protected);
        self.without_data = self.without_data.saturating_sub(o.without_data);
    }
}

impl LogroCounts {
    fn sub(&mut self, o: &LogroCounts) {
        self.all.sub(&o.all);
        for (k, v) in &o.breakdowns {
            if let Some(x) = self.breakdowns.get_mut(k) {
                x.sub(v);
            }
        }
        for s in &o.services {
            if let Some(x) = self.services.iter_mut().find(|x| x.service == s.service) {
                x.applicable = x.applicable.saturating_sub(s.applicable);
                x.protected = x.protected.saturating_sub(s.protected);
                x.unprotected = x.unprotected.saturating_sub(s.unprotected);
                x.without_data = x.without_data.saturating_sub(s.without_data);
            }
        }
    }
}

/// Updates stored district Logros in place for a change in some units: adds their figures
/// `after` and subtracts their figures `before` (the same units classified twice, see
/// [`measure_units`]). Districts not yet stored are added.
pub fn apply_change(
    stored: &mut Vec<DistrictLogros>,
    before: &[DistrictLogros],
    after: &[DistrictLogros],
) {
    for a in after {
        match stored.iter_mut().find(|d| d.district == a.district) {
            Some(d) => {
                for l in &a.logros {
                    match d.logros.iter_mut().find(|x| x.logro == l.logro) {
                        Some(x) => x.add(l),
                        None => d.logros.push(l.clone()),
                    }
                }
            }
            None => stored.push(a.clone()),
        }
    }
    for b in before {
        if let Some(d) = stored.iter_mut().find(|d| d.district == b.district) {
            for l in &b.logros {
                if let Some(x) = d.logros.iter_mut().find(|x| x.logro == l.logro) {
                    x.sub(l);
                }
            }
        }
    }
}

/// The ten Logros of one district.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistrictLogros {
    pub district: DistrictCode,
    pub logros: Vec<LogroCounts>,
}

/// Adds up districts into a territory's ten Logros.
pub fn roll_up<'a>(
    parts: impl IntoIterator<Item = &'a DistrictLogros>,
    territory: TerritoryCode,
) -> Vec<LogroCounts> {
    let mut out: Vec<LogroCounts> = Category::ALL
        .iter()
        .map(|c| LogroCounts {
            logro: c.logro(),
            category: c.code().to_string(),
            ..Default::default()
        })
        .collect();
    for d in parts.into_iter().filter(|d| territory.contains(d.district)) {
        for l in &d.logros {
            if let Some(t) = out.iter_mut().find(|x| x.logro == l.logro) {
                t.add(l);
            }
        }
    }
    out
}

/// Accumulator of one category in one district (fixed-size arrays: the hot loop allocates nothing).
#[derive(Clone)]
struct CatAcc {
    all: [u64; 3],
    breakdowns: [[u64; 3]; 6],
    /// Per núcleo service of the category: applicable, protected, unprotected, without data.
    services: Vec<[u64; 4]>,
}

struct Acc {
    slots: Vec<Vec<CatAcc>>,
}

impl Acc {
    fn new(districts: usize, nucleo: &[Vec<usize>]) -> Acc {
        let cats: Vec<CatAcc> = nucleo
            .iter()
            .map(|s| CatAcc {
                all: [0; 3],
                breakdowns: [[0; 3]; 6],
                services: vec![[0; 4]; s.len()],
            })
            .collect();
        Acc {
            slots: vec![cats; districts],
        }
    }
    fn merge(mut self, o: Acc) -> Acc {
        for (a, b) in self.slots.iter_mut().zip(o.slots) {
            for (x, y) in a.iter_mut().zip(b) {
                for (a, b) in x.all.iter_mut().zip(y.all) {
                    *a += b;
                }
                for (bx, by) in x.breakdowns.iter_mut().zip(y.breakdowns) {
                    for (a, b) in bx.iter_mut().zip(by) {
                        *a += b;
                    }
                }
                for (sx, sy) in x.services.iter_mut().zip(y.services) {
                    for (a, b) in sx.iter_mut().zip(sy) {
                        *a += b;
                    }
                }
            }
        }
        self
    }
}

/// The figures of one unit in one category.
fn record(
    acc: &mut CatAcc,
    nucleo: &[usize],
    decisions: &[Decision],
    concurrent: bool,
    flags: &[bool],
) {
    let without = decisions
        .iter()
        .any(|d| nucleo.contains(&d.service) && d.status == Status::SinDato);
    let add = |a: &mut [u64; 3]| {
        a[0] += 1;
        a[1] += u64::from(concurrent);
        a[2] += u64::from(without && !concurrent);
    };
    add(&mut acc.all);
    for (b, &on) in acc.breakdowns.iter_mut().zip(flags) {
        if on {
            add(b);
        }
    }
    for (slot, si) in acc.services.iter_mut().zip(nucleo) {
        if let Some(d) = decisions.iter().find(|d| d.service == *si) {
            match d.status {
                Status::NoAplica => {}
                s => {
                    slot[0] += 1;
                    match s {
                        Status::Protegido => slot[1] += 1,
                        Status::Desprotegido => slot[2] += 1,
                        _ => slot[3] += 1,
                    }
                }
            }
        }
    }
}

/// Which populations of special attention a unit belongs to, in breakdown order
/// ([`PERSON_BREAKDOWNS`], [`HOUSEHOLD_BREAKDOWNS`], [`COMMUNITY_BREAKDOWNS`]).
pub struct Populations<'a> {
    data: &'a RegistryData,
    as_of: chrono::NaiveDate,
    indigena: Option<&'a crate::data::Column>,
    poverty: crate::classify::PovertyRule,
}

impl<'a> Populations<'a> {
    pub fn new(cls: &Classifier<'_>, data: &'a RegistryData) -> Populations<'a> {
        Populations {
            data,
            as_of: cls.as_of,
            indigena: vamos_domain::schema::position(PERSON_FIELDS, "indigena")
                .and_then(|i| data.person_answers.get(i)),
            poverty: cls.poverty.clone(),
        }
    }

    /// Whether household `h` is poor by the catalogue's measure (income per member under the
    /// line, or the IPM); unknown is not poor.
    pub fn poor(&self, h: usize) -> bool {
        self.poverty.of(self.data, h) == Some(true)
    }

    fn rural(&self, code: u8) -> bool {
        self.data.area_list.get(usize::from(code).wrapping_sub(1)) == Some(&"rural")
    }

    /// Children, women, older adults, disability, indigenous, poverty.
    pub fn person(&self, p: usize) -> [bool; 6] {
        let d = self.data;
        let h = d.person_household.get(p).copied().unwrap_or(0) as usize;
        let years = d
            .person_birth
            .get(p)
            .map_or(0, |b| crate::classify::age_years(*b, self.as_of));
        [
            years < 18,
            d.person_woman.get(p) == Some(&true),
            years >= 60,
            d.person_disability.get(p) == Some(&1),
            self.indigena.and_then(|c| c.code(p)) == Some("si"),
            self.poor(h),
        ]
    }

    /// Poverty, rural.
    pub fn household(&self, h: usize) -> [bool; 2] {
        [
            self.poor(h),
            self.rural(self.data.household_area.get(h).copied().unwrap_or(0)),
        ]
    }

    /// Rural.
    pub fn community(&self, c: usize) -> [bool; 1] {
        [self.rural(self.data.community_area.get(c).copied().unwrap_or(0))]
    }
}

/// Work done for one unit: accumulate, unit index, decision and category buffers.
type UnitFn<'a> = dyn Fn(&mut Acc, usize, &mut Vec<Decision>, &mut Vec<Category>) + Sync + 'a;

/// Classifies every unit of `data` and returns the ten Logros of each district present.
pub fn measure(cls: &Classifier<'_>, data: &RegistryData) -> Vec<DistrictLogros> {
    tally(cls, data, None)
}

/// The units [`measure_units`] classifies, as indices into the registry data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitSet {
    pub persons: Vec<usize>,
    pub households: Vec<usize>,
    pub communities: Vec<usize>,
}

/// The figures of some units only, per district (what they add to a measurement): with
/// [`apply_change`], a measurement is updated without classifying everyone again.
pub fn measure_units(
    cls: &Classifier<'_>,
    data: &RegistryData,
    units: &UnitSet,
) -> Vec<DistrictLogros> {
    tally(cls, data, Some(units))
}

#[allow(clippy::too_many_lines)] // reason: one pass over its input, not yet split into steps
fn tally(cls: &Classifier<'_>, data: &RegistryData, only: Option<&UnitSet>) -> Vec<DistrictLogros> {
    let territory = Territory::official();
    let slot_of = |d: DistrictCode| {
        territory
            .districts()
            .binary_search_by_key(&d, |x| x.code)
            .unwrap_or(0)
    };
    let nd = territory.districts().len();
    let nucleo: Vec<Vec<usize>> = Category::ALL
        .iter()
        .map(|c| cls.catalogue.nucleo(*c))
        .collect();
    let pops = Populations::new(cls, data);
    // Records one classified unit in its district's accumulator.
    let add =
        |acc: &mut Acc, district: DistrictCode, c: Category, dec: &[Decision], flags: &[bool]| {
            let i = c.logro() as usize - 1;
            if let (Some(slot), Some(nuc)) = (
                acc.slots
                    .get_mut(slot_of(district))
                    .and_then(|s| s.get_mut(i)),
                nucleo.get(i),
            ) {
                record(slot, nuc, dec, cls.concurrent(dec), flags);
            }
        };
    let chunks = rayon::current_num_threads().max(1) * 4;
    let run = |n: usize, list: Option<&Vec<usize>>, f: &UnitFn<'_>| -> Acc {
        if let Some(list) = list {
            let mut acc = Acc::new(nd, &nucleo);
            let (mut dec, mut cats) = (Vec::new(), Vec::new());
            for &u in list.iter().filter(|&&u| u < n) {
                f(&mut acc, u, &mut dec, &mut cats);
            }
            return acc;
        }
        let size = n.div_ceil(chunks).max(1);
        (0..n.div_ceil(size))
            .into_par_iter()
            .map(|c| {
                let mut acc = Acc::new(nd, &nucleo);
                let (mut dec, mut cats) = (Vec::new(), Vec::new());
                for u in c * size..((c + 1) * size).min(n) {
                    f(&mut acc, u, &mut dec, &mut cats);
                }
                acc
            })
            .reduce(|| Acc::new(nd, &nucleo), Acc::merge)
    };
    let persons = run(
        data.persons(),
        only.map(|u| &u.persons),
        &|acc, p, dec, cats| {
            cls.person_categories(data, p, cats);
            let h = data.person_household.get(p).copied().unwrap_or(0) as usize;
            let Some(&district) = data.household_district.get(h) else {
                return;
            };
            let flags = pops.person(p);
            for &c in cats.iter() {
                dec.clear();
                cls.classify(data, Unit::Person(p), c, dec);
                add(acc, district, c, dec, &flags);
            }
        },
    );
    let households = run(
        data.households(),
        only.map(|u| &u.households),
        &|acc, h, dec, _| {
            let Some(&district) = data.household_district.get(h) else {
                return;
            };
            dec.clear();
            cls.classify(data, Unit::Household(h), Category::Hogares, dec);
            let flags = pops.household(h);
            add(acc, district, Category::Hogares, dec, &flags);
        },
    );
    let communities = run(
        data.communities(),
        only.map(|u| &u.communities),
        &|acc, c, dec, _| {
            let Some(&district) = data.community_district.get(c) else {
                return;
            };
            dec.clear();
            cls.classify(data, Unit::Community(c), Category::Entorno, dec);
            let flags = pops.community(c);
            add(acc, district, Category::Entorno, dec, &flags);
        },
    );
    let total = persons.merge(households).merge(communities);
    let mut present = vec![false; nd];
    let districts: Vec<DistrictCode> = match only {
        None => data
            .household_district
            .iter()
            .chain(&data.community_district)
            .copied()
            .collect(),
        Some(u) => u
            .persons
            .iter()
            .filter_map(|&p| data.person_household.get(p))
            .filter_map(|&h| data.household_district.get(h as usize))
            .chain(
                u.households
                    .iter()
                    .filter_map(|&h| data.household_district.get(h)),
            )
            .chain(
                u.communities
                    .iter()
                    .filter_map(|&c| data.community_district.get(c)),
            )
            .copied()
            .collect(),
    };
    for d in districts {
        if let Some(x) = present.get_mut(slot_of(d)) {
            *x = true;
        }
    }
    total
        .slots
        .into_iter()
        .enumerate()
        .filter(|(i, _)| present.get(*i) == Some(&true))
        .filter_map(|(i, cats)| {
            let district = territory.districts().get(i)?.code;
            let logros = Category::ALL
                .iter()
                .zip(cats)
                .zip(&nucleo)
                .map(|((c, a), nuc)| {
                    let keys: &[&str] = match c {
                        Category::Hogares => &HOUSEHOLD_BREAKDOWNS,
                        Category::Entorno => &COMMUNITY_BREAKDOWNS,
                        _ => &PERSON_BREAKDOWNS,
                    };
                    let counts = |x: [u64; 3]| Counts {
                        identified: x[0],
                        protected: x[1],
                        without_data: x[2],
                    };
                    LogroCounts {
                        logro: c.logro(),
                        category: c.code().to_string(),
                        all: counts(a.all),
                        breakdowns: keys
                            .iter()
                            .zip(a.breakdowns)
                            .map(|(k, b)| (k.to_string(), counts(b)))
                            .collect(),
                        services: nuc
                            .iter()
                            .zip(&a.services)
                            .filter_map(|(si, s)| {
                                Some(ServiceCounts {
                                    service: cls.catalogue.services.get(*si)?.code.clone(),
                                    applicable: s[0],
                                    protected: s[1],
                                    unprotected: s[2],
                                    without_data: s[3],
                                })
                            })
                            .collect(),
                    }
                })
                .collect();
            Some(DistrictLogros { district, logros })
        })
        .collect()
}

/// Which units of a figure a list asks for: those the figure counts as not protected, or
/// those it counts as without data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behind {
    /// Of a Logro: not in concurrent protection (the card's complement of *protegidos*); of a
    /// service: `desprotegido` for it.
    Unprotected,
    /// Of a Logro: not protected with some núcleo service *sin dato*; of a service: `sin_dato`.
    WithoutData,
}

/// The figure a list of units stands behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Figure {
    pub category: Category,
    /// One núcleo service of the category (catalogue index): its row instead of the card.
    pub service: Option<usize>,
    /// A breakdown of the category (index into its populations, see [`Populations`]).
    pub population: Option<usize>,
    pub which: Behind,
}

/// One unit behind a figure, with the núcleo services it lacks (not protegido nor no aplica).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitBehind {
    pub unit: Unit,
    pub district: DistrictCode,
    pub lacking: Vec<(usize, Status)>,
}

/// The units that figure `f` counts, in registry order — the same decisions [`measure`] made,
/// so the list and the figure agree unit for unit.
pub fn units_behind(cls: &Classifier<'_>, data: &RegistryData, f: Figure) -> Vec<UnitBehind> {
    let nucleo = cls.catalogue.nucleo(f.category);
    let pops = Populations::new(cls, data);
    let counted = |dec: &[Decision]| -> bool {
        match f.service {
            Some(s) => dec.iter().any(|d| {
                d.service == s
                    && d.status
                        == match f.which {
                            Behind::Unprotected => Status::Desprotegido,
                            Behind::WithoutData => Status::SinDato,
                        }
            }),
            None => {
                let concurrent = cls.concurrent(dec);
                let without = dec
                    .iter()
                    .any(|d| nucleo.contains(&d.service) && d.status == Status::SinDato);
                !concurrent && (f.which == Behind::Unprotected || without)
            }
        }
    };
    let lacking = |dec: &[Decision]| -> Vec<(usize, Status)> {
        dec.iter()
            .filter(|d| {
                nucleo.contains(&d.service)
                    && matches!(d.status, Status::Desprotegido | Status::SinDato)
            })
            .map(|d| (d.service, d.status))
            .collect()
    };
    let in_population = |flags: &[bool]| f.population.is_none_or(|i| flags.get(i) == Some(&true));
    let mut out = Vec::new();
    let mut dec = Vec::new();
    let mut cats = Vec::new();
    let mut keep = |unit: Unit, district: DistrictCode, dec: &[Decision]| {
        if counted(dec) {
            out.push(UnitBehind {
                unit,
                district,
                lacking: lacking(dec),
            });
        }
    };
    match f.category.unit() {
        vamos_domain::services::Unit::Person => {
            for p in 0..data.persons() {
                cls.person_categories(data, p, &mut cats);
                if !cats.contains(&f.category) || !in_population(&pops.person(p)) {
                    continue;
                }
                let h = data.person_household.get(p).copied().unwrap_or(0) as usize;
                let Some(&district) = data.household_district.get(h) else {
                    continue;
                };
                dec.clear();
                cls.classify(data, Unit::Person(p), f.category, &mut dec);
                keep(Unit::Person(p), district, &dec);
            }
        }
        vamos_domain::services::Unit::Household => {
            for h in 0..data.households() {
                let Some(&district) = data.household_district.get(h) else {
                    continue;
                };
                if !in_population(&pops.household(h)) {
                    continue;
                }
                dec.clear();
                cls.classify(data, Unit::Household(h), f.category, &mut dec);
                keep(Unit::Household(h), district, &dec);
            }
        }
        vamos_domain::services::Unit::Community => {
            for c in 0..data.communities() {
                let Some(&district) = data.community_district.get(c) else {
                    continue;
                };
                if !in_population(&pops.community(c)) {
                    continue;
                }
                dec.clear();
                cls.classify(data, Unit::Community(c), f.category, &mut dec);
                keep(Unit::Community(c), district, &dec);
            }
        }
    }
    out
}
