//! The index over the registry: each indicator's rule (the catalogue's compiled rule language)
//! decided for every household at a reference date — from the dwelling's answers, or from its
//! members' by [`Members`] — and the households gathered into additive cells per district: one
//! per area and deprivation pattern, with households, persons and persons of each population of
//! special attention. Cells are what a measurement keeps: any territory's figures are computed
//! from its districts' cells (a department from its households, never an average of ratios),
//! at any cut-off k, over persons, households or a population, exactly as from the households.

use super::{compute, Figures, Members, Method, RuleUnit, Unit, WithoutEligible};
use crate::classify::{Unit as RegistryUnit, UnitFacts, NO_POVERTY};
use crate::data::RegistryData;
use chrono::NaiveDate;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use vamos_catalogue::{compile, Compiled, Scope, Tri, Vocabulary};
use vamos_domain::schema::PERSON_FIELDS;

/// Populations of special attention the cells count persons of, in cell order.
pub const POPULATIONS: [&str; 5] = [
    "ninos",
    "mujeres",
    "adultos_mayores",
    "discapacidad",
    "indigenas",
];

/// The most indicators a method may have (one bit each in a cell's patterns).
pub const INDICATORS_MAX: usize = 32;

#[derive(Debug)]
struct Rule {
    unit: RuleUnit,
    deprived: Compiled,
    eligible: Option<Compiled>,
    members: Members,
    without_eligible: WithoutEligible,
}

/// A method whose indicators' rules are compiled against the registry's variables.
#[derive(Debug)]
pub struct RegistryMethod {
    pub method: Method,
    pub weights: Vec<f64>,
    rules: Vec<Rule>,
}

/// How one indicator was decided for a household, member by member (for its profile).
#[derive(Debug, Clone, PartialEq)]
pub struct Decided {
    pub deprived: Option<bool>,
    /// Members (positions in the registry) deprived, and those whose answer is missing.
    pub members_deprived: Vec<usize>,
    pub members_unknown: Vec<usize>,
}

impl RegistryMethod {
    /// Compiles every indicator's rule; an error names the indicator and what is wrong.
    pub fn compile(method: Method, vocab: &dyn Vocabulary) -> Result<RegistryMethod, String> {
        let weights = method.weights()?;
        if method.indicators.len() > INDICATORS_MAX {
            return Err(format!(
                "un método admite hasta {INDICATORS_MAX} indicadores; éste tiene {}",
                method.indicators.len()
            ));
        }
        let mut rules = Vec::with_capacity(method.indicators.len());
        for i in &method.indicators {
            let r = i.rule.as_ref().ok_or_else(|| {
                format!(
                    "el indicador {} no tiene regla ([indicator.rule]): sin ella no se calcula sobre el registro",
                    i.code
                )
            })?;
            let scopes: &[Scope] = match r.unit {
                RuleUnit::Hogar => &[Scope::Household],
                RuleUnit::Persona => &[Scope::Person, Scope::Household],
            };
            let deprived = compile(&r.deprived, scopes, vocab)
                .map_err(|e| format!("indicador {}, regla de privación: {e}", i.code))?;
            let eligible = match (&r.eligible, r.unit) {
                (None, _) => None,
                (Some(_), RuleUnit::Hogar) => {
                    return Err(format!(
                        "indicador {}: «eligible» es para reglas por persona",
                        i.code
                    ))
                }
                (Some(e), RuleUnit::Persona) => Some(
                    compile(e, scopes, vocab)
                        .map_err(|e| format!("indicador {}, regla de elegibilidad: {e}", i.code))?,
                ),
            };
            rules.push(Rule {
                unit: r.unit,
                deprived,
                eligible,
                members: r.members,
                without_eligible: r.without_eligible,
            });
        }
        Ok(RegistryMethod {
            method,
            weights,
            rules,
        })
    }

    /// The compiled rules of indicator `j` (deprivation, and eligibility when any): what a
    /// caller's data-sharing agreement is checked against before its detail is shown.
    pub fn rules_of(&self, j: usize) -> Vec<&Compiled> {
        self.rules
            .get(j)
            .map(|r| {
                std::iter::once(&r.deprived)
                    .chain(r.eligible.as_ref())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Indicator `j` for household `h` at `as_of`; `detail` collects the members behind it.
    fn decide(
        &self,
        j: usize,
        d: &RegistryData,
        h: usize,
        as_of: NaiveDate,
        mut detail: Option<&mut Decided>,
    ) -> Option<bool> {
        let rule = self.rules.get(j)?;
        let as_of = answered_at(d, h, as_of);
        if rule.unit == RuleUnit::Hogar {
            let f = UnitFacts::new(d, RegistryUnit::Household(h), as_of, &NO_POVERTY);
            return tri(rule.deprived.eval(&f));
        }
        let (mut eligible, mut deprived, mut not, mut unknown) = (0u32, 0u32, 0u32, 0u32);
        for &p in d.members_of(h) {
            let p = p as usize;
            let f = UnitFacts::new(d, RegistryUnit::Person(p), as_of, &NO_POVERTY);
            let is = match &rule.eligible {
                Some(e) => e.eval(&f),
                None => Tri::True,
            };
            let says = match is {
                Tri::False => continue,
                Tri::Unknown => Tri::Unknown,
                Tri::True => {
                    eligible += 1;
                    rule.deprived.eval(&f)
                }
            };
            match says {
                Tri::True => {
                    deprived += 1;
                    if let Some(x) = detail.as_deref_mut() {
                        x.members_deprived.push(p);
                    }
                    // One deprived member decides "any"; the rest matters only for detail.
                    if rule.members == Members::Alguno && detail.is_none() {
                        return Some(true);
                    }
                }
                Tri::False => not += 1,
                Tri::Unknown => {
                    unknown += 1;
                    if let Some(x) = detail.as_deref_mut() {
                        x.members_unknown.push(p);
                    }
                }
            }
        }
        outcome(rule, [eligible, deprived, not, unknown])
    }

    /// Household `h`'s deprivations at `as_of`, in the method's order, into `out`.
    pub fn household(
        &self,
        d: &RegistryData,
        h: usize,
        as_of: NaiveDate,
        out: &mut Vec<Option<bool>>,
    ) {
        out.clear();
        let as_of = answered_at(d, h, as_of);
        // Member by member, every person rule at once: each member's facts (age at `as_of`…)
        // are worked out once, not once per indicator. Tallies: eligible, deprived, not,
        // unknown.
        let mut tally = [[0u32; 4]; INDICATORS_MAX];
        if self.rules.iter().any(|r| r.unit == RuleUnit::Persona) {
            for &p in d.members_of(h) {
                let f = UnitFacts::new(d, RegistryUnit::Person(p as usize), as_of, &NO_POVERTY);
                for (rule, t) in self.rules.iter().zip(tally.iter_mut()) {
                    if rule.unit != RuleUnit::Persona
                        || (rule.members == Members::Alguno && t[1] > 0)
                    {
                        continue;
                    }
                    let says = match rule.eligible.as_ref().map_or(Tri::True, |e| e.eval(&f)) {
                        Tri::False => continue,
                        Tri::Unknown => Tri::Unknown,
                        Tri::True => {
                            t[0] += 1;
                            rule.deprived.eval(&f)
                        }
                    };
                    match says {
                        Tri::True => t[1] += 1,
                        Tri::False => t[2] += 1,
                        Tri::Unknown => t[3] += 1,
                    }
                }
            }
        }
        let hf = UnitFacts::new(d, RegistryUnit::Household(h), as_of, &NO_POVERTY);
        out.extend(
            self.rules
                .iter()
                .zip(tally)
                .map(|(rule, t)| match rule.unit {
                    RuleUnit::Hogar => tri(rule.deprived.eval(&hf)),
                    RuleUnit::Persona => outcome(rule, t),
                }),
        );
    }

    /// Household `h`'s deprivations with the members behind each one (its profile).
    pub fn household_detail(&self, d: &RegistryData, h: usize, as_of: NaiveDate) -> Vec<Decided> {
        (0..self.rules.len())
            .map(|j| {
                let mut x = Decided {
                    deprived: None,
                    members_deprived: Vec::new(),
                    members_unknown: Vec::new(),
                };
                x.deprived = self.decide(j, d, h, as_of, Some(&mut x));
                x
            })
            .collect()
    }

    /// The weighted deprivation score of a household's deprivations (`None` with one sin dato).
    pub fn score(&self, deprived: &[Option<bool>]) -> Option<f64> {
        let mut c = 0.0;
        for (g, w) in deprived.iter().zip(&self.weights) {
            if (*g)? {
                c += w;
            }
        }
        Some(c)
    }

    /// Every household's decision at `as_of`: poor (its score reaches `k`), not poor, or `None`
    /// when a sin dato leaves it undecided — what a catalogue choosing the IPM classifies the
    /// population «pobreza» by. A household whose known deprivations alone reach `k` is poor
    /// whatever its missing answers say (the index leaves it out; a priority need not).
    pub fn poor_households(&self, d: &RegistryData, as_of: NaiveDate) -> Vec<Option<bool>> {
        (0..d.households())
            .into_par_iter()
            .map_init(Vec::new, |g, h| self.poor(d, h, as_of, g))
            .collect()
    }

    /// Every household's decision ([`RegistryMethod::poor_households`]) and its deprivation
    /// score — what referrals are ordered by: the score when every indicator is known, the
    /// known deprivations' weight (a lower bound) when they already make it poor, else `None`.
    pub fn assess(&self, d: &RegistryData, as_of: NaiveDate) -> Vec<(Option<bool>, Option<f64>)> {
        (0..d.households())
            .into_par_iter()
            .map_init(Vec::new, |g, h| {
                self.household(d, h, as_of, g);
                let poor = self.poor_by(g);
                let score = self.score(g).or_else(|| {
                    (poor == Some(true)).then(|| {
                        g.iter()
                            .zip(&self.weights)
                            .filter(|(x, _)| **x == Some(true))
                            .map(|(_, w)| w)
                            .sum()
                    })
                });
                (poor, score)
            })
            .collect()
    }

    /// [`RegistryMethod::poor_households`] decided for `households` only (the others `None`):
    /// for a few units remeasured in a registry held in memory.
    pub fn poor_households_among(
        &self,
        d: &RegistryData,
        as_of: NaiveDate,
        households: &[usize],
    ) -> Vec<Option<bool>> {
        let mut out = vec![None; d.households()];
        let mut g = Vec::new();
        for &h in households {
            if let Some(x) = out.get_mut(h) {
                *x = self.poor(d, h, as_of, &mut g);
            }
        }
        out
    }

    fn poor(
        &self,
        d: &RegistryData,
        h: usize,
        as_of: NaiveDate,
        g: &mut Vec<Option<bool>>,
    ) -> Option<bool> {
        self.household(d, h, as_of, g);
        super::decide(g, &self.weights, self.method.k)
    }

    /// Whether a household with these deprivations is poor ([`super::decide`]).
    pub fn poor_by(&self, deprived: &[Option<bool>]) -> Option<bool> {
        super::decide(deprived, &self.weights, self.method.k)
    }

    /// The cells of every district of `d` at `as_of` (district code, cells), in district order.
    pub fn cells(&self, d: &RegistryData, as_of: NaiveDate) -> Vec<(u16, Cells)> {
        self.cells_and_poor(d, as_of).0
    }

    /// [`RegistryMethod::cells`] and, from the same pass, every household's decision
    /// ([`RegistryMethod::poor_households`]): a classification that decides poverty by the IPM
    /// reads the registry's deprivations once.
    pub fn cells_and_poor(
        &self,
        d: &RegistryData,
        as_of: NaiveDate,
    ) -> (Vec<(u16, Cells)>, Vec<Option<bool>>) {
        let indigena = vamos_domain::schema::position(PERSON_FIELDS, "indigena")
            .and_then(|i| d.person_answers.get(i));
        let n = d.households();
        let chunk = (n / (rayon::current_num_threads().max(1) * 8)).max(4096);
        type Key = (u16, u8, u32, u32);
        type Part = (FxHashMap<Key, [u64; 7]>, Vec<Option<bool>>);
        let parts: Vec<Part> = (0..n.div_ceil(chunk))
            .into_par_iter()
            .map(|c| {
                let mut map: FxHashMap<Key, [u64; 7]> = FxHashMap::default();
                let mut poor = Vec::with_capacity(chunk);
                let mut g = Vec::with_capacity(self.rules.len());
                for h in c * chunk..((c + 1) * chunk).min(n) {
                    self.household(d, h, as_of, &mut g);
                    poor.push(self.poor_by(&g));
                    let (mut mask, mut missing) = (0u32, 0u32);
                    for (j, x) in g.iter().enumerate() {
                        match x {
                            Some(true) => mask |= 1 << j,
                            Some(false) => {}
                            None => missing |= 1 << j,
                        }
                    }
                    let key = (
                        d.household_district.get(h).map_or(0, |x| x.get()),
                        d.household_area.get(h).copied().unwrap_or(0),
                        mask,
                        missing,
                    );
                    let e = map.entry(key).or_default();
                    e[0] += 1;
                    for &p in d.members_of(h) {
                        let p = p as usize;
                        let years = d
                            .person_birth
                            .get(p)
                            .map_or(0, |b| crate::classify::age_years(*b, as_of));
                        e[1] += 1;
                        let pops = [
                            years < 18,
                            d.person_woman.get(p) == Some(&true),
                            years >= 60,
                            d.person_disability.get(p) == Some(&1),
                            indigena.and_then(|c| c.code(p)) == Some("si"),
                        ];
                        for (x, is) in e.iter_mut().skip(2).zip(pops) {
                            *x += u64::from(is);
                        }
                    }
                }
                (map, poor)
            })
            .collect();
        let mut all: FxHashMap<Key, [u64; 7]> = FxHashMap::default();
        let mut poor = Vec::with_capacity(n);
        for (m, p) in parts {
            poor.extend(p);
            for (k, v) in m {
                let e = all.entry(k).or_default();
                for (a, b) in e.iter_mut().zip(v) {
                    *a += b;
                }
            }
        }
        let mut by_district: std::collections::BTreeMap<u16, Cells> = Default::default();
        for ((district, area, mask, missing), v) in all {
            let c = by_district.entry(district).or_insert_with(|| Cells {
                indicators: self
                    .method
                    .indicators
                    .iter()
                    .map(|i| i.code.clone())
                    .collect(),
                cells: Vec::new(),
            });
            let area_code = match d.area_list.get(usize::from(area).wrapping_sub(1)) {
                Some(&"urbana") => 1,
                Some(&"rural") => 2,
                _ => 0,
            };
            let [hh, persons, p0, p1, p2, p3, p4] = v;
            c.cells.push([
                area_code,
                u64::from(mask),
                u64::from(missing),
                hh,
                persons,
                p0,
                p1,
                p2,
                p3,
                p4,
            ]);
        }
        for c in by_district.values_mut() {
            c.cells.sort_unstable();
        }
        (by_district.into_iter().collect(), poor)
    }
}

/// The day household `h`'s answers describe: its interview (the survey's convention: ages, and
/// so who is eligible and how far behind at school, are those of the day the answers were
/// given), `as_of` when the registry has no interview date. Without it, a pupil on time when
/// interviewed would fall behind year after year in the index while the answer stood still.
fn answered_at(d: &RegistryData, h: usize, as_of: NaiveDate) -> NaiveDate {
    d.household_interview_day
        .get(h)
        .filter(|&&day| day != 0 && day != i32::MIN)
        .and_then(|&day| {
            NaiveDate::default().checked_add_signed(chrono::Duration::days(i64::from(day)))
        })
        .filter(|&day| day <= as_of)
        .unwrap_or(as_of)
}

/// A person rule's decision for the household from its members' tallies (eligible, deprived,
/// not deprived, unknown): one deprived member decides "alguno" and one who is not decides
/// "todos", whatever the others; otherwise an unknown member leaves it sin dato.
fn outcome(rule: &Rule, [eligible, deprived, not, unknown]: [u32; 4]) -> Option<bool> {
    let none_eligible = match rule.without_eligible {
        WithoutEligible::NoPrivado => Some(false),
        WithoutEligible::Privado => Some(true),
        WithoutEligible::SinDato => None,
    };
    match rule.members {
        Members::Alguno if deprived > 0 => Some(true),
        Members::Todos if not > 0 => Some(false),
        _ if unknown > 0 => None,
        _ if eligible == 0 => none_eligible,
        Members::Alguno => Some(false),
        Members::Todos => Some(true),
    }
}

fn tri(t: Tri) -> Option<bool> {
    match t {
        Tri::True => Some(true),
        Tri::False => Some(false),
        Tri::Unknown => None,
    }
}

/// A district's households by area and deprivation pattern: each cell is `[area (1 urbana,
/// 2 rural, 0 unknown), deprived bits, sin dato bits, households, persons, then persons of each
/// of the` [`POPULATIONS`]`]`; bit j is the j-th of `indicators`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cells {
    pub indicators: Vec<String>,
    pub cells: Vec<[u64; 10]>,
}

/// Whom the figures count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Over {
    /// Persons living in poor households (INE's convention).
    Persons,
    Households,
    /// Persons of one of the [`POPULATIONS`] (by position).
    Population(usize),
}

/// Which households of the cells count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Area {
    #[default]
    All,
    Urban,
    Rural,
}

/// The figures of some districts' cells (a territory), at cut-off `k` (the method's when
/// `None`): the same as computing over their households one by one.
pub fn figures(
    method: &Method,
    parts: &[&Cells],
    over: Over,
    area: Area,
    k: Option<f64>,
) -> Result<Figures, String> {
    let codes: Vec<&str> = method.indicators.iter().map(|i| i.code.as_str()).collect();
    // Cells of the same pattern (in any district or area) are merged first, in integers: the
    // figures then weigh each distinct pattern once, whatever the size of the territory.
    let mut patterns: FxHashMap<(u64, u64), (u64, u64)> = FxHashMap::default();
    for c in parts {
        if c.indicators
            .iter()
            .map(String::as_str)
            .ne(codes.iter().copied())
        {
            return Err(
                "estas cifras se calcularon con otros indicadores: recalcule la medición con este método"
                    .into(),
            );
        }
        for cell in &c.cells {
            let [a, mask, missing, households, persons, ..] = *cell;
            let keep = match area {
                Area::All => true,
                Area::Urban => a == 1,
                Area::Rural => a == 2,
            };
            let weight = match over {
                Over::Persons => persons,
                Over::Households => households,
                Over::Population(i) => cell.get(5 + i).copied().unwrap_or(0),
            };
            if !keep || weight == 0 {
                continue;
            }
            let e = patterns.entry((mask, missing)).or_default();
            e.0 += weight;
            e.1 += households;
        }
    }
    let mut keys: Vec<(u64, u64)> = patterns.keys().copied().collect();
    keys.sort_unstable();
    let units: Vec<Unit> = keys
        .into_iter()
        .map(|(mask, missing)| {
            let (weight, count) = patterns.get(&(mask, missing)).copied().unwrap_or_default();
            Unit {
                deprived: (0..codes.len())
                    .map(|j| (missing >> j & 1 == 0).then_some(mask >> j & 1 == 1))
                    .collect(),
                weight: weight as f64,
                count,
            }
        })
        .collect();
    compute(method, &units, k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipm::{Dimension, Indicator};

    /// The hand-worked method of `ipm`'s tests: a and b weigh ¼, c weighs ½.
    fn method() -> Method {
        let ind = |c: &str, d: &str, w: f64| Indicator {
            code: c.into(),
            name: c.into(),
            dimension: d.into(),
            weight_in_dimension: w,
            rule: None,
            explanation: String::new(),
            source: String::new(),
        };
        let dim = |c: &str| Dimension {
            code: c.into(),
            name: c.into(),
            weight: 0.5,
        };
        Method {
            version: "prueba".into(),
            k: 0.5,
            dimensions: vec![dim("D1"), dim("D2")],
            indicators: vec![
                ind("a", "D1", 0.5),
                ind("b", "D1", 0.5),
                ind("c", "D2", 1.0),
            ],
        }
    }

    fn cells(rows: Vec<[u64; 10]>) -> Cells {
        Cells {
            indicators: vec!["a".into(), "b".into(), "c".into()],
            cells: rows,
        }
    }

    #[test]
    fn cells_of_two_districts_give_the_hand_worked_figures_of_their_households() {
        // The four households of the hand example (a+c, a, c, none; 2, 1, 1, 4 persons), split
        // between two districts and two areas; pattern bits: a = 1, b = 2, c = 4.
        let d1 = cells(vec![
            [1, 5, 0, 1, 2, 1, 0, 0, 0, 0],
            [2, 1, 0, 1, 1, 0, 0, 0, 0, 0],
        ]);
        let d2 = cells(vec![
            [1, 4, 0, 1, 1, 1, 0, 0, 0, 0],
            [2, 0, 0, 2, 4, 0, 0, 0, 0, 0],
        ]);
        let m = method();
        let r = figures(&m, &[&d1, &d2], Over::Persons, Area::All, None).unwrap();
        assert!(
            (r.h - 3.0 / 8.0).abs() < 1e-12 && (r.a - 2.0 / 3.0).abs() < 1e-12,
            "{r:?}"
        );
        assert!(
            (r.indicators[0].censored - 2.0 / 8.0).abs() < 1e-12,
            "censoring of a"
        );
        assert_eq!(r.units, 5, "households, whatever the weight");
        // Over households: poor are the first and the third of five.
        let h = figures(&m, &[&d1, &d2], Over::Households, Area::All, None).unwrap();
        assert!((h.h - 2.0 / 5.0).abs() < 1e-12);
        // Urban only: the two households of area 1 (2 + 1 persons), both poor.
        let u = figures(&m, &[&d1, &d2], Over::Persons, Area::Urban, None).unwrap();
        assert!((u.h - 1.0).abs() < 1e-12 && (u.a - (2.0 * 0.75 + 0.5) / 3.0).abs() < 1e-12);
        // Children (first population): one in each urban household.
        let c = figures(&m, &[&d1, &d2], Over::Population(0), Area::All, None).unwrap();
        assert!((c.h - 1.0).abs() < 1e-12 && (c.weight - 2.0).abs() < 1e-12);
        // Another cut-off, from the same cells.
        let k = figures(&m, &[&d1, &d2], Over::Persons, Area::All, Some(0.25)).unwrap();
        assert!((k.h - 4.0 / 8.0).abs() < 1e-12);
    }

    #[test]
    fn a_household_with_an_indicator_sin_dato_is_counted_apart_in_cells_too() {
        // Pattern a, with b sin dato (bit 2 missing): 3 persons left out.
        let d = cells(vec![
            [1, 1, 2, 1, 3, 0, 0, 0, 0, 0],
            [1, 5, 0, 1, 1, 0, 0, 0, 0, 0],
        ]);
        let r = figures(&method(), &[&d], Over::Persons, Area::All, None).unwrap();
        assert_eq!((r.units, r.units_missing), (1, 1));
        assert!((r.missing_share - 0.75).abs() < 1e-12);
    }

    #[test]
    fn cells_of_another_method_are_refused() {
        let mut d = cells(vec![[1, 1, 0, 1, 1, 0, 0, 0, 0, 0]]);
        d.indicators.swap(0, 1);
        let e = figures(&method(), &[&d], Over::Persons, Area::All, None).unwrap_err();
        assert!(e.contains("otros indicadores"), "{e}");
    }

    #[test]
    fn every_rule_of_a_method_must_compile_and_person_rules_alone_take_eligibility() {
        struct V;
        impl Vocabulary for V {
            fn choices(&self, list: &str) -> Option<&'static [&'static str]> {
                (list == "si_no").then_some(&["si", "no"][..])
            }
        }
        let mut m = method();
        assert!(RegistryMethod::compile(m.clone(), &V)
            .unwrap_err()
            .contains("no tiene regla"));
        let rule = |unit, deprived: &str, eligible: Option<&str>| {
            Some(crate::ipm::IndicatorRule {
                unit,
                deprived: deprived.into(),
                eligible: eligible.map(str::to_string),
                members: Members::Alguno,
                without_eligible: WithoutEligible::NoPrivado,
            })
        };
        m.indicators[0].rule = rule(
            RuleUnit::Persona,
            "persona.trabaja == 'no'",
            Some("persona.edad >= 15"),
        );
        m.indicators[1].rule = rule(
            RuleUnit::Hogar,
            "hogar.miembros > 3 * hogar.dormitorios",
            None,
        );
        m.indicators[2].rule = rule(RuleUnit::Hogar, "persona.edad > 3", None);
        let e = RegistryMethod::compile(m.clone(), &V).unwrap_err();
        assert!(e.starts_with("indicador c"), "{e}");
        m.indicators[2].rule = rule(
            RuleUnit::Hogar,
            "hogar.miembros > 9",
            Some("persona.edad > 3"),
        );
        assert!(RegistryMethod::compile(m.clone(), &V)
            .unwrap_err()
            .contains("«eligible» es para reglas por persona"));
        m.indicators[2].rule = rule(RuleUnit::Hogar, "hogar.miembros > 9", None);
        assert!(RegistryMethod::compile(m, &V).is_ok());
    }
}

#[cfg(test)]
mod outcome_tests {
    use super::*;

    struct NoLists;
    impl Vocabulary for NoLists {
        fn choices(&self, _: &str) -> Option<&'static [&'static str]> {
            None
        }
    }

    fn rule(members: Members, without_eligible: WithoutEligible) -> Rule {
        let always = compile("true", &[Scope::Person], &NoLists).unwrap_or_else(|e| panic!("{e}"));
        Rule {
            unit: RuleUnit::Persona,
            deprived: always,
            eligible: None,
            members,
            without_eligible,
        }
    }

    #[test]
    fn one_deprived_member_decides_alguno_and_one_who_is_not_decides_todos_whatever_is_unknown() {
        // Tallies: eligible, deprived, not deprived, unknown.
        let any = rule(Members::Alguno, WithoutEligible::NoPrivado);
        assert_eq!(outcome(&any, [2, 1, 0, 1]), Some(true));
        assert_eq!(
            outcome(&any, [2, 0, 1, 1]),
            None,
            "the unknown one might be deprived"
        );
        assert_eq!(outcome(&any, [2, 0, 2, 0]), Some(false));
        let all = rule(Members::Todos, WithoutEligible::NoPrivado);
        assert_eq!(outcome(&all, [2, 0, 1, 1]), Some(false));
        assert_eq!(
            outcome(&all, [2, 1, 0, 1]),
            None,
            "the unknown one might not be"
        );
        assert_eq!(outcome(&all, [2, 2, 0, 0]), Some(true));
    }

    #[test]
    fn a_household_without_eligible_members_is_what_the_method_says() {
        assert_eq!(
            outcome(&rule(Members::Alguno, WithoutEligible::NoPrivado), [0; 4]),
            Some(false)
        );
        assert_eq!(
            outcome(&rule(Members::Todos, WithoutEligible::Privado), [0; 4]),
            Some(true)
        );
        assert_eq!(
            outcome(&rule(Members::Alguno, WithoutEligible::SinDato), [0; 4]),
            None
        );
        // A member whose eligibility is unknown leaves it sin dato rather than "no eligible".
        assert_eq!(
            outcome(
                &rule(Members::Alguno, WithoutEligible::NoPrivado),
                [0, 0, 0, 1]
            ),
            None
        );
    }
}
