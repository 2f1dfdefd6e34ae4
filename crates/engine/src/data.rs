//! The registry in memory, column by column, as the classification reads it: one compact
//! column per answer (a choice as a 1-byte index into its list, an integer as `i32`, a
//! multiple choice as a bit set), so a national registry (6.5 M persons) fits in a few hundred
//! megabytes and evaluation never touches a string it has to allocate.

use chrono::NaiveDate;
use rustc_hash::FxHashMap;
use vamos_catalogue::{Fact, Vocabulary};
use vamos_domain::schema::{COMMUNITY_FIELDS, HOUSEHOLD_FIELDS, PERSON_FIELDS};
use vamos_domain::{
    AdminEventRow, AnswerRef, CommunityRow, DistrictCode, FieldKind, FieldSpec, HouseholdRow,
    PersonRow, RegistrySink, Sex,
};

/// Days since 1970-01-01 (compact date; the engine only subtracts and compares dates).
pub fn day(d: NaiveDate) -> i32 {
    (d - NaiveDate::default()).num_days() as i32
}

/// One answer column.
pub enum Column {
    /// 0 = no answer, k = `list[k - 1]`.
    Code {
        list: &'static [&'static str],
        data: Vec<u8>,
    },
    /// `i32::MIN` = no answer.
    Int(Vec<i32>),
    /// Bit i = `list[i]` chosen; `u64::MAX` = no answer.
    Multi {
        list: &'static [&'static str],
        data: Vec<u64>,
    },
}

impl Column {
    fn new(f: &FieldSpec, vocab: &dyn Vocabulary) -> Column {
        match f.kind {
            FieldKind::SelectOne(l) => Column::Code {
                list: vocab.choices(l).unwrap_or(&[]),
                data: Vec::new(),
            },
            FieldKind::SelectMultiple(l) => Column::Multi {
                list: vocab.choices(l).unwrap_or(&[]),
                data: Vec::new(),
            },
            FieldKind::Integer { .. } | FieldKind::Text => Column::Int(Vec::new()),
        }
    }

    fn push(&mut self, a: AnswerRef<'_>) {
        match self {
            Column::Code { list, data } => {
                let k = match a {
                    AnswerRef::Text(t) => list
                        .iter()
                        .position(|c| *c == t)
                        .map_or(0, |i| (i + 1).min(255) as u8),
                    _ => 0,
                };
                data.push(k);
            }
            Column::Int(data) => data.push(match a {
                AnswerRef::Int(n) => i32::try_from(n).unwrap_or(i32::MAX),
                _ => i32::MIN,
            }),
            Column::Multi { list, data } => data.push(match a {
                AnswerRef::Text(t) => t
                    .split_whitespace()
                    .filter_map(|c| list.iter().position(|x| *x == c))
                    .filter(|&i| i < 64)
                    .fold(0u64, |acc, i| acc | (1u64 << i)),
                _ => u64::MAX,
            }),
        }
    }

    /// The fact at a row.
    pub fn get(&self, row: usize) -> Fact<'static> {
        match self {
            Column::Code { list, data } => match data.get(row).copied().unwrap_or(0) {
                0 => Fact::Null,
                k => list
                    .get(usize::from(k) - 1)
                    .map_or(Fact::Null, |s| Fact::Text(s)),
            },
            Column::Int(data) => match data.get(row).copied().unwrap_or(i32::MIN) {
                i32::MIN => Fact::Null,
                n => Fact::Int(i64::from(n)),
            },
            Column::Multi { data, .. } => match data.get(row).copied().unwrap_or(u64::MAX) {
                u64::MAX => Fact::Null,
                b => Fact::Bits(b),
            },
        }
    }

    /// The code at a row, for choice columns.
    pub fn code(&self, row: usize) -> Option<&'static str> {
        match self.get(row) {
            Fact::Text(s) => Some(s),
            _ => None,
        }
    }
}

fn columns(fields: &[FieldSpec], vocab: &dyn Vocabulary) -> Vec<Column> {
    fields.iter().map(|f| Column::new(f, vocab)).collect()
}

/// Interned strings (institution and service codes of administrative events).
#[derive(Default)]
pub struct Symbols {
    map: FxHashMap<String, u32>,
    pub names: Vec<String>,
}

impl Symbols {
    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.map.get(s) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(s.to_string());
        self.map.insert(s.to_string(), i);
        i
    }
    pub fn get(&self, s: &str) -> Option<u32> {
        self.map.get(s).copied()
    }
}

/// An administrative event about a person.
#[derive(Debug, Clone, Copy)]
pub struct Event {
    pub institution: u32,
    pub service: u32,
    pub day: i32,
}

/// The registry of a territory, ready to classify.
pub struct RegistryData {
    // Communities.
    pub community_id: Vec<i64>,
    pub community_district: Vec<DistrictCode>,
    pub community_area: Vec<u8>,
    pub community_survey_day: Vec<i32>,
    pub community_answers: Vec<Column>,
    // Households.
    pub household_id: Vec<i64>,
    pub household_district: Vec<DistrictCode>,
    pub household_community: Vec<u32>,
    pub household_area: Vec<u8>,
    pub household_interview_day: Vec<i32>,
    pub household_answers: Vec<Column>,
    pub household_members: Vec<u16>,
    /// Sum of declared monthly incomes; `None` when a working member's income is missing.
    pub household_income: Vec<Option<i64>>,
    // Persons.
    pub person_id: Vec<i64>,
    pub person_household: Vec<u32>,
    pub person_birth_day: Vec<i32>,
    pub person_birth: Vec<NaiveDate>,
    pub person_woman: Vec<bool>,
    pub person_relationship: Vec<u8>,
    pub person_has_id: Vec<bool>,
    /// Washington Group cut-off: 0 no, 1 yes, 2 no answers.
    pub person_disability: Vec<u8>,
    pub person_answers: Vec<Column>,
    // Administrative events, grouped by person: `events[event_start[p]..event_start[p + 1]]`.
    pub events: Vec<Event>,
    pub event_start: Vec<u32>,
    /// Members of each household: `household_persons[household_person_start[h]..[h + 1]]`.
    pub household_persons: Vec<u32>,
    pub household_person_start: Vec<u32>,
    pub symbols: Symbols,
    pub relationship_list: &'static [&'static str],
    pub area_list: &'static [&'static str],
    // Load-time indexes.
    household_index: FxHashMap<i64, u32>,
    community_index: FxHashMap<i64, u32>,
    person_index: FxHashMap<i64, u32>,
    pending_events: Vec<(u32, Event)>,
    /// Rows that referred to something missing (a person whose household is outside the
    /// territory loaded, an event of an unknown person…): counted, not classified.
    pub orphans: u64,
}

/// 1-based position of a code in its choice list (0 = no answer or unknown code).
fn code_index(list: &[&str], a: Option<&str>) -> u8 {
    a.and_then(|a| list.iter().position(|c| *c == a))
        .map_or(0, |i| (i + 1) as u8)
}

impl RegistryData {
    pub fn new(vocab: &dyn Vocabulary) -> RegistryData {
        RegistryData {
            community_id: Vec::new(),
            community_district: Vec::new(),
            community_area: Vec::new(),
            community_survey_day: Vec::new(),
            community_answers: columns(COMMUNITY_FIELDS, vocab),
            household_id: Vec::new(),
            household_district: Vec::new(),
            household_community: Vec::new(),
            household_area: Vec::new(),
            household_interview_day: Vec::new(),
            household_answers: columns(HOUSEHOLD_FIELDS, vocab),
            household_members: Vec::new(),
            household_income: Vec::new(),
            person_id: Vec::new(),
            person_household: Vec::new(),
            person_birth_day: Vec::new(),
            person_birth: Vec::new(),
            person_woman: Vec::new(),
            person_relationship: Vec::new(),
            person_has_id: Vec::new(),
            person_disability: Vec::new(),
            person_answers: columns(PERSON_FIELDS, vocab),
            events: Vec::new(),
            event_start: Vec::new(),
            household_persons: Vec::new(),
            household_person_start: Vec::new(),
            symbols: Symbols::default(),
            relationship_list: vocab.choices("relacion").unwrap_or(&[]),
            area_list: vocab.choices("area").unwrap_or(&[]),
            household_index: FxHashMap::default(),
            community_index: FxHashMap::default(),
            person_index: FxHashMap::default(),
            pending_events: Vec::new(),
            orphans: 0,
        }
    }

    pub fn persons(&self) -> usize {
        self.person_id.len()
    }
    pub fn households(&self) -> usize {
        self.household_id.len()
    }
    pub fn communities(&self) -> usize {
        self.community_id.len()
    }

    pub fn person_by_id(&self, id: i64) -> Option<usize> {
        self.person_index.get(&id).map(|&i| i as usize)
    }
    pub fn household_by_id(&self, id: i64) -> Option<usize> {
        self.household_index.get(&id).map(|&i| i as usize)
    }
    pub fn community_by_id(&self, id: i64) -> Option<usize> {
        self.community_index.get(&id).map(|&i| i as usize)
    }

    /// The events of a person.
    pub fn events_of(&self, p: usize) -> &[Event] {
        let (a, b) = (
            self.event_start.get(p).copied().unwrap_or(0),
            self.event_start.get(p + 1).copied().unwrap_or(0),
        );
        self.events.get(a as usize..b as usize).unwrap_or(&[])
    }

    /// Closes loading: groups events by person and drops the load-time indexes' slack.
    pub fn finish(&mut self) {
        let mut pending = std::mem::take(&mut self.pending_events);
        pending.sort_by_key(|(p, e)| (*p, e.day));
        let n = self.persons();
        let mut start = vec![0u32; n + 1];
        for (p, _) in &pending {
            if let Some(s) = start.get_mut(*p as usize + 1) {
                *s += 1;
            }
        }
        for i in 0..n {
            let prev = start.get(i).copied().unwrap_or(0);
            if let Some(s) = start.get_mut(i + 1) {
                *s += prev;
            }
        }
        self.events = pending.into_iter().map(|(_, e)| e).collect();
        self.event_start = start;
        // Household income: a working member without declared income makes it unknown.
        let trabaja = vamos_domain::schema::position(PERSON_FIELDS, "trabaja");
        let ingreso = vamos_domain::schema::position(PERSON_FIELDS, "ingreso_mensual");
        let mut income: Vec<Option<i64>> = vec![Some(0); self.households()];
        for p in 0..n {
            let h = self.person_household.get(p).copied().unwrap_or(0) as usize;
            let works = trabaja
                .and_then(|c| self.person_answers.get(c))
                .and_then(|c| c.code(p))
                == Some("si");
            let inc = ingreso
                .and_then(|c| self.person_answers.get(c))
                .map(|c| c.get(p));
            if let Some(slot) = income.get_mut(h) {
                *slot = match (*slot, inc) {
                    (Some(sum), Some(Fact::Int(x))) => Some(sum + x),
                    (Some(sum), _) if !works => Some(sum),
                    _ => None,
                };
            }
        }
        self.household_income = income;
        // Members by household (persons arrive in id order, households interleave).
        let nh = self.households();
        let mut start = vec![0u32; nh + 1];
        for &h in &self.person_household {
            if let Some(s) = start.get_mut(h as usize + 1) {
                *s += 1;
            }
        }
        for i in 0..nh {
            let prev = start.get(i).copied().unwrap_or(0);
            if let Some(s) = start.get_mut(i + 1) {
                *s += prev;
            }
        }
        let mut fill = start.clone();
        let mut members = vec![0u32; n];
        for (p, &h) in self.person_household.iter().enumerate() {
            if let Some(slot) = fill.get_mut(h as usize) {
                if let Some(m) = members.get_mut(*slot as usize) {
                    *m = p as u32;
                }
                *slot += 1;
            }
        }
        self.household_persons = members;
        self.household_person_start = start;
    }

    /// The members of a household.
    pub fn members_of(&self, h: usize) -> &[u32] {
        let (a, b) = (
            self.household_person_start.get(h).copied().unwrap_or(0),
            self.household_person_start.get(h + 1).copied().unwrap_or(0),
        );
        self.household_persons
            .get(a as usize..b as usize)
            .unwrap_or(&[])
    }
}

impl RegistrySink for RegistryData {
    fn community(&mut self, r: &CommunityRow<'_>) {
        self.community_index
            .insert(r.id, self.community_id.len() as u32);
        self.community_id.push(r.id);
        self.community_district.push(r.district);
        self.community_area.push(code_index(self.area_list, r.area));
        self.community_survey_day
            .push(r.survey_date.map_or(i32::MIN, day));
        for (c, a) in self.community_answers.iter_mut().zip(r.answers.iter()) {
            c.push(*a);
        }
    }

    fn household(&mut self, r: &HouseholdRow<'_>) {
        let Some(&community) = self.community_index.get(&r.community_id) else {
            self.orphans += 1;
            return;
        };
        self.household_index
            .insert(r.id, self.household_id.len() as u32);
        self.household_id.push(r.id);
        self.household_district.push(r.district);
        self.household_community.push(community);
        self.household_area.push(code_index(self.area_list, r.area));
        self.household_interview_day.push(day(r.interview_date));
        self.household_members.push(0);
        for (c, a) in self.household_answers.iter_mut().zip(r.answers.iter()) {
            c.push(*a);
        }
    }

    fn person(&mut self, r: &PersonRow<'_>) {
        let Some(&h) = self.household_index.get(&r.household_id) else {
            self.orphans += 1;
            return;
        };
        if let Some(m) = self.household_members.get_mut(h as usize) {
            *m = m.saturating_add(1);
        }
        self.person_index.insert(r.id, self.person_id.len() as u32);
        self.person_id.push(r.id);
        self.person_household.push(h);
        self.person_birth_day.push(day(r.birth_date));
        self.person_birth.push(r.birth_date);
        self.person_woman.push(r.sex == Sex::Mujer);
        self.person_relationship
            .push(code_index(self.relationship_list, Some(r.relationship)));
        self.person_has_id.push(r.national_id.is_some());
        let row = self.person_id.len() - 1;
        for (c, a) in self.person_answers.iter_mut().zip(r.answers.iter()) {
            c.push(*a);
        }
        // Washington Group cut-off over the six domains.
        let cut_off = vamos_domain::schema::washington_group_cut_off(
            vamos_domain::schema::WG_FIELDS.iter().map(|name| {
                vamos_domain::schema::position(PERSON_FIELDS, name)
                    .and_then(|i| self.person_answers.get(i))
                    .and_then(|c| c.code(row))
            }),
        );
        self.person_disability.push(match cut_off {
            Some(true) => 1,
            Some(false) => 0,
            None => 2,
        });
    }

    fn admin_event(&mut self, r: &AdminEventRow<'_>) {
        let Some(&p) = self.person_index.get(&r.person_id) else {
            self.orphans += 1;
            return;
        };
        let e = Event {
            institution: self.symbols.intern(r.institution),
            service: self.symbols.intern(r.service),
            day: day(r.event_date),
        };
        self.pending_events.push((p, e));
    }
}
