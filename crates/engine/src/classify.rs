//! Classification: for an explicit reference date (`as_of`), the categories of each unit and
//! the status of each service of its packages — protegido, desprotegido, no aplica, sin dato —
//! decided by the first evidence rule that decides, in the catalogue's order.

use crate::data::{day, RegistryData};
use chrono::NaiveDate;
use std::collections::HashMap;
use vamos_catalogue::{Catalogue, EvidenceSource, Fact, Facts, Scope, Tri, VarId};
use vamos_domain::schema::{COMMUNITY_FIELDS, HOUSEHOLD_FIELDS, PERSON_FIELDS};
use vamos_domain::services::{Category, Package};
use vamos_domain::{EvidenceKind, EvidenceSource as Source};

/// Protection status of a unit for one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Protegido,
    Desprotegido,
    NoAplica,
    SinDato,
}

/// Why a service got its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Because {
    /// Evidence rule `rule` of the service decided, with evidence dated `day`.
    Rule { rule: usize, day: i32 },
    /// The eligibility condition is false.
    NotEligible,
    /// The eligibility condition cannot be evaluated (missing answers).
    EligibilityUnknown,
    /// No rule decided.
    NoEvidence,
}

/// The status of one service for one unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub service: usize,
    pub status: Status,
    pub because: Because,
}

/// A unit of analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Person(usize),
    Household(usize),
    Community(usize),
}

/// Admin / counter-referral rule resolved to the registry's interned source and codes.
struct AdminRule {
    source: Option<u32>,
    services: Vec<u32>,
    /// A counter-referral rule (its events may count after `as_of`, see
    /// [`Classifier::with_counter_referrals_until`]).
    counter_referral: bool,
}

/// A catalogue ready to classify one registry at one date.
pub struct Classifier<'c> {
    pub catalogue: &'c Catalogue,
    pub as_of: NaiveDate,
    as_of_day: i32,
    by_category: Vec<Vec<usize>>,
    admin: Vec<Vec<Option<AdminRule>>>,
    /// Last day a counter-referral counts (`as_of` unless updated incrementally).
    cr_until_day: i32,
    /// Who is poor (the population «pobreza», the household variable `pobre`).
    pub poverty: PovertyRule,
}

/// Who is poor: by income per member under the catalogue's line, or by the multidimensional
/// poverty index (one decision per household, computed by the caller from the IPM method).
#[derive(Debug, Clone)]
pub enum PovertyRule {
    /// Income per member under the line (`None`: no line, nobody is known poor).
    Income(Option<i64>),
    /// Household `h` is poor by the IPM when `flags[h]` is `Some(true)`; `None` is a household
    /// whose missing answers leave it undecided.
    Multidimensional(std::sync::Arc<[Option<bool>]>),
}

/// No poverty rule at all (facts read where poverty plays no part).
pub static NO_POVERTY: PovertyRule = PovertyRule::Income(None);

impl PovertyRule {
    /// Whether household `h` of `d` is poor (`None`: unknown).
    pub fn of(&self, d: &RegistryData, h: usize) -> Option<bool> {
        match self {
            PovertyRule::Income(line) => {
                let members = i64::from(*d.household_members.get(h)?);
                let income = (*d.household_income.get(h)?)?;
                let line = (*line)?;
                (members > 0).then(|| income / members < line)
            }
            PovertyRule::Multidimensional(flags) => flags.get(h).copied().flatten(),
        }
    }
}

/// Days a declared pregnancy stays current after the interview.
pub const PREGNANCY_DAYS: i32 = 280;

impl<'c> Classifier<'c> {
    pub fn new(catalogue: &'c Catalogue, data: &RegistryData, as_of: NaiveDate) -> Classifier<'c> {
        let by_category = Category::ALL
            .iter()
            .map(|c| {
                catalogue
                    .services
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.category == *c)
                    .map(|(i, _)| i)
                    .collect()
            })
            .collect();
        let admin = catalogue
            .services
            .iter()
            .map(|s| {
                s.evidence
                    .iter()
                    .map(|e| {
                        let (source, services) = events_read(&e.source)?;
                        Some(AdminRule {
                            source: data.event_sources.get(source),
                            services: services
                                .iter()
                                .filter_map(|x| data.symbols.get(x))
                                .collect(),
                            counter_referral: matches!(
                                e.source,
                                EvidenceSource::CounterReferral { .. }
                            ),
                        })
                    })
                    .collect()
            })
            .collect();
        Classifier {
            catalogue,
            as_of,
            as_of_day: day(as_of),
            by_category,
            admin,
            cr_until_day: day(as_of),
            poverty: match catalogue.poverty {
                vamos_catalogue::Poverty::Ingreso => {
                    PovertyRule::Income(catalogue.poverty_line_pyg)
                }
                // Nobody until the caller hands over the IPM's decisions
                // ([`Classifier::with_multidimensional_poverty`]).
                vamos_catalogue::Poverty::Ipm => PovertyRule::Multidimensional(Vec::new().into()),
            },
        }
    }

    /// Decides poverty by the IPM: `poor[h]` is household `h`'s decision (for a catalogue that
    /// chose `pobreza = "ipm"`).
    pub fn with_multidimensional_poverty(mut self, poor: Vec<Option<bool>>) -> Classifier<'c> {
        self.poverty = PovertyRule::Multidimensional(poor.into());
        self
    }

    /// Lets counter-referrals delivered up to `until` count (a measurement kept up to date with
    /// the services delivered after its reference date); `as_of` still dates everything else.
    pub fn with_counter_referrals_until(mut self, until: NaiveDate) -> Classifier<'c> {
        self.cr_until_day = day(until).max(self.as_of_day);
        self
    }

    /// The services of a category (all packages), as catalogue indices.
    pub fn services_of(&self, c: Category) -> &[usize] {
        self.by_category
            .get(c.logro() as usize - 1)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The person categories of a person at `as_of` (a pregnant woman is also in her age
    /// category; a baby under one is both *en el nacimiento* and *después del nacimiento*).
    pub fn person_categories(&self, d: &RegistryData, p: usize, out: &mut Vec<Category>) {
        out.clear();
        let Some(&birth) = d.person_birth.get(p) else {
            return;
        };
        if birth > self.as_of {
            return;
        }
        let years = age_years(birth, self.as_of);
        let months = age_months(birth, self.as_of);
        let h = d.person_household.get(p).copied().unwrap_or(0) as usize;
        let interview = d
            .household_interview_day
            .get(h)
            .copied()
            .unwrap_or(i32::MIN);
        let pregnant = vamos_domain::schema::position(PERSON_FIELDS, "embarazada")
            .and_then(|i| d.person_answers.get(i))
            .and_then(|c| c.code(p))
            == Some("si");
        if pregnant
            && d.person_woman.get(p) == Some(&true)
            && self.as_of_day - interview <= PREGNANCY_DAYS
            && self.as_of_day >= interview
        {
            out.push(Category::AntesDelNacimiento);
        }
        if months < 12 {
            out.push(Category::EnElNacimiento);
        }
        out.push(match years {
            0..=4 => Category::DespuesDelNacimiento,
            5..=13 => Category::Ninez,
            14..=17 => Category::Adolescencia,
            18..=29 => Category::Juventud,
            30..=59 => Category::Adultez,
            _ => Category::AdultosMayores,
        });
    }

    /// Decides every service of `category` for `unit`, appending to `out`.
    pub fn classify(
        &self,
        d: &RegistryData,
        unit: Unit,
        category: Category,
        out: &mut Vec<Decision>,
    ) {
        let facts = UnitFacts::new(d, unit, self.as_of, &self.poverty);
        let evidence_day = match unit {
            Unit::Community(c) => d.community_survey_day.get(c).copied().unwrap_or(i32::MIN),
            _ => facts
                .household
                .and_then(|h| d.household_interview_day.get(h).copied())
                .unwrap_or(i32::MIN),
        };
        for &si in self.services_of(category) {
            let Some(s) = self.catalogue.services.get(si) else {
                continue;
            };
            let mut decision = Decision {
                service: si,
                status: Status::SinDato,
                because: Because::NoEvidence,
            };
            match s.eligibility.as_ref().map(|e| e.eval(&facts)) {
                Some(Tri::False) => {
                    out.push(Decision {
                        status: Status::NoAplica,
                        because: Because::NotEligible,
                        ..decision
                    });
                    continue;
                }
                Some(Tri::Unknown) => {
                    out.push(Decision {
                        because: Because::EligibilityUnknown,
                        ..decision
                    });
                    continue;
                }
                _ => {}
            }
            for (ri, rule) in s.evidence.iter().enumerate() {
                let valid = |ev_day: i32| {
                    rule.valid_days
                        .is_none_or(|v| self.as_of_day - ev_day <= v as i32)
                };
                let decided = match &rule.source {
                    EvidenceSource::Fips { rule: expr } => {
                        if evidence_day == i32::MIN
                            || evidence_day > self.as_of_day
                            || !valid(evidence_day)
                        {
                            None
                        } else {
                            match expr.eval(&facts) {
                                Tri::True => Some((Status::Protegido, evidence_day)),
                                Tri::False => Some((Status::Desprotegido, evidence_day)),
                                Tri::Unknown => None,
                            }
                        }
                    }
                    EvidenceSource::Admin { .. } | EvidenceSource::CounterReferral { .. } => {
                        let r = self
                            .admin
                            .get(si)
                            .and_then(|v| v.get(ri))
                            .and_then(Option::as_ref);
                        let hit = r.and_then(|r| self.latest_event(d, unit, r, &valid));
                        match hit {
                            Some(day) => Some((Status::Protegido, day)),
                            None if rule.absence_unprotects => {
                                Some((Status::Desprotegido, self.as_of_day))
                            }
                            None => None,
                        }
                    }
                };
                if let Some((status, day)) = decided {
                    decision.status = status;
                    decision.because = Because::Rule { rule: ri, day };
                    break;
                }
            }
            out.push(decision);
        }
    }

    /// The most recent valid event matching an admin rule, for a person (or any member of a
    /// household, or any resident of a community); events after `as_of` do not count yet.
    fn latest_event(
        &self,
        d: &RegistryData,
        unit: Unit,
        r: &AdminRule,
        valid: &dyn Fn(i32) -> bool,
    ) -> Option<i32> {
        let source = r.source?;
        let until = if r.counter_referral {
            self.cr_until_day
        } else {
            self.as_of_day
        };
        let best = |p: usize| -> Option<i32> {
            d.events_of(p)
                .iter()
                .rev()
                .filter(|e| {
                    e.source == source
                        && r.services.contains(&e.service)
                        && e.day <= until
                        && valid(e.day)
                })
                .map(|e| e.day)
                .next()
        };
        match unit {
            Unit::Person(p) => best(p),
            Unit::Household(h) => d
                .members_of(h)
                .iter()
                .filter_map(|&p| best(p as usize))
                .max(),
            // A community: a record of any of its registered residents (e.g. attendance at a
            // community activity).
            Unit::Community(c) => d
                .households_of(c)
                .iter()
                .flat_map(|&h| d.members_of(h as usize))
                .filter_map(|&p| best(p as usize))
                .max(),
        }
    }

    /// Whether the núcleo package is fully protected (concurrent protection).
    pub fn concurrent(&self, decisions: &[Decision]) -> bool {
        decisions
            .iter()
            .filter(|x| {
                self.catalogue
                    .services
                    .get(x.service)
                    .is_some_and(|s| s.package == Package::Nucleo)
            })
            .all(|x| matches!(x.status, Status::Protegido | Status::NoAplica))
    }
}

/// The events an evidence rule reads: their source (a `contrarreferencia` rule reads the
/// institution's counter-referrals, an `admin` rule its administrative records, never the
/// other's) and the service codes; `None` for a FIPS rule.
fn events_read(source: &EvidenceSource) -> Option<(Source<&str>, &[String])> {
    match source {
        EvidenceSource::Admin {
            institution,
            services,
        } => Some((Source::Admin(institution), services)),
        EvidenceSource::CounterReferral {
            institution,
            services,
        } => Some((Source::CounterReferral(institution), services)),
        EvidenceSource::Fips { .. } => None,
    }
}

/// The kinds of unit whose status an event of one institution and service can change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reach {
    pub person: bool,
    pub household: bool,
    pub community: bool,
}

/// Which kinds of unit each event reaches: a service's `admin` or `contrarreferencia` rule
/// reads events of its institution and services only — of the person, of any member of the
/// household (*Hogares*), of any resident of the community (*Entorno*) — and nothing else in a
/// classification reads events. An event no rule of a kind names cannot move that kind's
/// figures: an incremental update measures again only the units an event reaches.
#[derive(Debug, Clone, Default)]
pub struct EventReach {
    /// What the `admin` rules name.
    admin: Named,
    /// What the `contrarreferencia` rules name.
    counter_referral: Named,
}

/// Institution → service → the kinds of unit whose rules name it.
type Named = HashMap<String, HashMap<String, Reach>>;

impl EventReach {
    pub fn new(catalogue: &Catalogue) -> EventReach {
        let mut reach = EventReach::default();
        for s in &catalogue.services {
            for (source, services) in s.evidence.iter().filter_map(|e| events_read(&e.source)) {
                let named = match source.kind() {
                    EvidenceKind::Admin => &mut reach.admin,
                    EvidenceKind::CounterReferral => &mut reach.counter_referral,
                };
                for service in services {
                    let r = named
                        .entry(source.institution().to_string())
                        .or_default()
                        .entry(service.clone())
                        .or_default();
                    match s.category.unit() {
                        vamos_domain::services::Unit::Person => r.person = true,
                        vamos_domain::services::Unit::Household => r.household = true,
                        vamos_domain::services::Unit::Community => r.community = true,
                    }
                }
            }
        }
        reach
    }

    /// The kinds of unit an event of `source` and `service` can move.
    pub fn of(&self, source: Source<&str>, service: &str) -> Reach {
        let named = match source.kind() {
            EvidenceKind::Admin => &self.admin,
            EvidenceKind::CounterReferral => &self.counter_referral,
        };
        named
            .get(source.institution())
            .and_then(|m| m.get(service))
            .copied()
            .unwrap_or_default()
    }
}

/// Whole years from birth to a date.
pub fn age_years(birth: NaiveDate, at: NaiveDate) -> i64 {
    use chrono::Datelike;
    let mut y = i64::from(at.year() - birth.year());
    if (at.month(), at.day()) < (birth.month(), birth.day()) {
        y -= 1;
    }
    y
}

/// Whole months from birth to a date.
pub fn age_months(birth: NaiveDate, at: NaiveDate) -> i64 {
    use chrono::Datelike;
    let mut m =
        i64::from(at.year() - birth.year()) * 12 + i64::from(at.month()) - i64::from(birth.month());
    if at.day() < birth.day() {
        m -= 1;
    }
    m
}

/// The facts of one unit (a person sees its household's too).
pub struct UnitFacts<'a> {
    d: &'a RegistryData,
    person: Option<usize>,
    pub household: Option<usize>,
    community: Option<usize>,
    years: i64,
    months: i64,
    poverty: &'a PovertyRule,
}

impl<'a> UnitFacts<'a> {
    pub fn new(
        d: &'a RegistryData,
        unit: Unit,
        as_of: NaiveDate,
        poverty: &'a PovertyRule,
    ) -> UnitFacts<'a> {
        let (person, household, community) = match unit {
            Unit::Person(p) => (
                Some(p),
                d.person_household.get(p).map(|&h| h as usize),
                None,
            ),
            Unit::Household(h) => (None, Some(h), None),
            Unit::Community(c) => (None, None, Some(c)),
        };
        let birth = person.and_then(|p| d.person_birth.get(p).copied());
        UnitFacts {
            d,
            person,
            household,
            community,
            years: birth.map_or(0, |b| age_years(b, as_of)),
            months: birth.map_or(0, |b| age_months(b, as_of)),
            poverty,
        }
    }

    fn per_capita(&self, h: usize) -> Option<i64> {
        let members = i64::from(*self.d.household_members.get(h)?);
        let income = (*self.d.household_income.get(h)?)?;
        (members > 0).then(|| income / members)
    }
}

fn code(list: &'static [&'static str], k: u8) -> Fact<'static> {
    match k {
        0 => Fact::Null,
        k => list
            .get(usize::from(k) - 1)
            .map_or(Fact::Null, |s| Fact::Text(s)),
    }
}

impl Facts for UnitFacts<'_> {
    fn get(&self, var: VarId) -> Fact<'_> {
        let i = var.index as usize;
        let d = self.d;
        match var.scope {
            Scope::Person => {
                let Some(p) = self.person else {
                    return Fact::Null;
                };
                if let Some(c) = d.person_answers.get(i) {
                    return c.get(p);
                }
                match i - PERSON_FIELDS.len() {
                    0 => Fact::Int(self.years),
                    1 => Fact::Int(self.months),
                    2 => Fact::Text(if d.person_woman.get(p) == Some(&true) {
                        "mujer"
                    } else {
                        "hombre"
                    }),
                    3 => code(
                        d.relationship_list,
                        d.person_relationship.get(p).copied().unwrap_or(0),
                    ),
                    4 => Fact::Bool(d.person_has_id.get(p) == Some(&true)),
                    5 => match d.person_disability.get(p) {
                        Some(0) => Fact::Bool(false),
                        Some(1) => Fact::Bool(true),
                        _ => Fact::Null,
                    },
                    _ => Fact::Null,
                }
            }
            Scope::Household => {
                let Some(h) = self.household else {
                    return Fact::Null;
                };
                if let Some(c) = d.household_answers.get(i) {
                    return c.get(h);
                }
                match i - HOUSEHOLD_FIELDS.len() {
                    0 => code(d.area_list, d.household_area.get(h).copied().unwrap_or(0)),
                    1 => Fact::Int(i64::from(d.household_members.get(h).copied().unwrap_or(0))),
                    2 => self.per_capita(h).map_or(Fact::Null, Fact::Int),
                    3 => self.poverty.of(d, h).map_or(Fact::Null, Fact::Bool),
                    _ => Fact::Null,
                }
            }
            Scope::Community => {
                let Some(c) = self.community else {
                    return Fact::Null;
                };
                if let Some(col) = d.community_answers.get(i) {
                    return col.get(c);
                }
                match i - COMMUNITY_FIELDS.len() {
                    0 => code(d.area_list, d.community_area.get(c).copied().unwrap_or(0)),
                    _ => Fact::Null,
                }
            }
        }
    }
}
