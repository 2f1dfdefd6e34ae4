//! The registry in memory, column by column, as the classification reads it: one compact
//! column per answer (a choice as a 1-byte index into its list, an integer as `i32`, a
//! multiple choice as a bit set), so a national registry (6.5 M persons) fits in a few hundred
//! megabytes and evaluation never touches a string it has to allocate.

use chrono::NaiveDate;
use rustc_hash::FxHashMap;
use vamos_catalogue::{Fact, Vocabulary};
use vamos_domain::schema::{COMMUNITY_FIELDS, HOUSEHOLD_FIELDS, PERSON_FIELDS};
use vamos_domain::{
    AdminEventRow, AnswerRef, CommunityRow, DistrictCode, EvidenceKind, EvidenceSource, FieldKind,
    FieldSpec, HouseholdRow, PersonRow, RegistrySink, Sex,
};

/// Days since 1970-01-01 (compact date; the engine only subtracts and compares dates).
pub fn day(d: NaiveDate) -> i32 {
    (d - NaiveDate::default()).num_days() as i32
}

/// A choice list prepared for lookups while loading: each code as its length and its first
/// and last eight bytes, so finding a code compares integers (codes up to 16 bytes are then
/// told apart exactly; longer ones are confirmed byte by byte).
pub struct Choices {
    pub list: &'static [&'static str],
    keys: Vec<(usize, u64, u64)>,
}

fn code_key(b: &[u8]) -> (usize, u64, u64) {
    let word = |s: &[u8]| {
        let mut w = [0u8; 8];
        for (d, c) in w.iter_mut().zip(s) {
            *d = *c;
        }
        u64::from_le_bytes(w)
    };
    let tail = b.get(b.len().saturating_sub(8)..).unwrap_or(&[]);
    (b.len(), word(b), word(tail))
}

impl Choices {
    fn new(list: &'static [&'static str]) -> Choices {
        Choices {
            list,
            keys: list.iter().map(|c| code_key(c.as_bytes())).collect(),
        }
    }

    /// Position of `code` in the list.
    fn position(&self, code: &str) -> Option<usize> {
        let key = code_key(code.as_bytes());
        (0..self.keys.len()).find(|&i| {
            self.keys.get(i) == Some(&key) && (key.0 <= 16 || self.list.get(i) == Some(&code))
        })
    }
}

/// One answer column.
pub enum Column {
    /// 0 = no answer, k = `list[k - 1]`.
    Code { choices: Choices, data: Vec<u8> },
    /// `i32::MIN` = no answer.
    Int(Vec<i32>),
    /// Bit i = `list[i]` chosen; `u64::MAX` = no answer.
    Multi { choices: Choices, data: Vec<u64> },
}

impl Column {
    fn new(f: &FieldSpec, vocab: &dyn Vocabulary) -> Column {
        match f.kind {
            FieldKind::SelectOne(l) => Column::Code {
                choices: Choices::new(vocab.choices(l).unwrap_or(&[])),
                data: Vec::new(),
            },
            FieldKind::SelectMultiple(l) => Column::Multi {
                choices: Choices::new(vocab.choices(l).unwrap_or(&[])),
                data: Vec::new(),
            },
            FieldKind::Integer { .. } | FieldKind::Text => Column::Int(Vec::new()),
        }
    }

    fn push(&mut self, a: AnswerRef<'_>) {
        match self {
            Column::Code { choices, data } => {
                let k = match a {
                    AnswerRef::Text(t) => choices.position(t).map_or(0, |i| (i + 1).min(255) as u8),
                    _ => 0,
                };
                data.push(k);
            }
            Column::Int(data) => data.push(match a {
                AnswerRef::Int(n) => i32::try_from(n).unwrap_or(i32::MAX),
                _ => i32::MIN,
            }),
            Column::Multi { choices, data } => data.push(match a {
                AnswerRef::Text(t) => t
                    .split_whitespace()
                    .filter_map(|c| choices.position(c))
                    .filter(|&i| i < 64)
                    .fold(0u64, |acc, i| acc | (1u64 << i)),
                _ => u64::MAX,
            }),
        }
    }

    /// The fact at a row.
    pub fn get(&self, row: usize) -> Fact<'static> {
        match self {
            Column::Code { choices, data } => match data.get(row).copied().unwrap_or(0) {
                0 => Fact::Null,
                k => choices
                    .list
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

impl Column {
    /// An empty column over the same choice list.
    fn empty_like(&self) -> Column {
        match self {
            Column::Code { choices, .. } => Column::Code {
                choices: Choices::new(choices.list),
                data: Vec::new(),
            },
            Column::Int(_) => Column::Int(Vec::new()),
            Column::Multi { choices, .. } => Column::Multi {
                choices: Choices::new(choices.list),
                data: Vec::new(),
            },
        }
    }

    /// Appends the rows of a column of the same kind.
    fn append(&mut self, other: Column) {
        match (self, other) {
            (Column::Code { data, .. }, Column::Code { data: more, .. }) => data.extend(more),
            (Column::Int(data), Column::Int(more)) => data.extend(more),
            (Column::Multi { data, .. }, Column::Multi { data: more, .. }) => data.extend(more),
            // Parts are made by `empty_like`: the kinds always agree.
            _ => {}
        }
    }
}

fn columns(fields: &[FieldSpec], vocab: &dyn Vocabulary) -> Vec<Column> {
    fields.iter().map(|f| Column::new(f, vocab)).collect()
}

/// Interned strings (service codes of events).
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

/// Interned evidence sources: one id per channel and institution, so that an administrative
/// record and a counter-referral of the same institution never share one and a rule matches an
/// event's source by comparing two integers. One table of institution codes per channel: a
/// source is found by its borrowed institution code, as a string is in [`Symbols`].
#[derive(Default)]
pub struct EventSources {
    admin: FxHashMap<String, u32>,
    counter_referral: FxHashMap<String, u32>,
    /// The source of each id.
    pub list: Vec<EvidenceSource>,
}

impl EventSources {
    fn table(&self, kind: EvidenceKind) -> &FxHashMap<String, u32> {
        match kind {
            EvidenceKind::Admin => &self.admin,
            EvidenceKind::CounterReferral => &self.counter_referral,
        }
    }

    pub fn intern(&mut self, s: EvidenceSource<&str>) -> u32 {
        if let Some(i) = self.get(s) {
            return i;
        }
        let i = self.list.len() as u32;
        self.list.push(s.owned());
        let table = match s.kind() {
            EvidenceKind::Admin => &mut self.admin,
            EvidenceKind::CounterReferral => &mut self.counter_referral,
        };
        table.insert(s.institution().to_string(), i);
        i
    }

    pub fn get(&self, s: EvidenceSource<&str>) -> Option<u32> {
        self.table(s.kind()).get(s.institution()).copied()
    }

    /// The source of an id.
    pub fn source(&self, i: u32) -> Option<EvidenceSource<&str>> {
        self.list.get(i as usize).map(EvidenceSource::as_deref)
    }
}

/// Row position by id. The store delivers each kind of row in ascending id order, so the id
/// column itself is the index: the row `id - first id` first (consecutive ids), a binary
/// search otherwise; should ids ever arrive out of order, a hash map is built from then on
/// (correct either way, fast in the usual case).
#[derive(Default)]
struct IdIndex {
    last: Option<i64>,
    map: Option<FxHashMap<i64, u32>>,
}

impl IdIndex {
    /// Records `id` at `row`; `previous` yields the ids before it, in row order (read only
    /// when ids turn out not to be ascending).
    fn push(&mut self, previous: impl Iterator<Item = i64>, id: i64, row: u32) {
        if self.map.is_none() && self.last.is_some_and(|l| id <= l) {
            self.map = Some(previous.zip(0u32..).collect());
        }
        if let Some(m) = &mut self.map {
            m.insert(id, row);
        }
        self.last = Some(id);
    }

    fn get(&self, ids: &[i64], id: i64) -> Option<u32> {
        match &self.map {
            Some(m) => m.get(&id).copied(),
            None => {
                // Ascending ids without gaps put `id` at `id - first`: one read instead of a
                // binary search's ~23 scattered ones over a national registry's ids. With
                // gaps, `id` can only be before that place (ids[i] >= first + i).
                let first = *ids.first()?;
                let guess = usize::try_from(id.checked_sub(first)?).ok()?;
                match ids.get(guess) {
                    Some(&g) if g == id => Some(guess as u32),
                    Some(_) => ids.get(..guess)?.binary_search(&id).ok().map(|i| i as u32),
                    None => ids.binary_search(&id).ok().map(|i| i as u32),
                }
            }
        }
    }
}

/// An event about a person: an administrative record or a counter-referral.
#[derive(Debug, Clone, Copy)]
pub struct Event {
    /// In [`RegistryData::event_sources`].
    pub source: u32,
    /// In [`RegistryData::symbols`].
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
    /// Persons given events by [`Self::add_events`] after loading: all their events, by day
    /// (they replace the person's slice of `events`, which stays as loaded).
    added_events: FxHashMap<u32, Vec<Event>>,
    /// Members of each household: `household_persons[household_person_start[h]..[h + 1]]`.
    pub household_persons: Vec<u32>,
    pub household_person_start: Vec<u32>,
    /// Households of each community: `community_households[community_household_start[c]..[c + 1]]`.
    pub community_households: Vec<u32>,
    pub community_household_start: Vec<u32>,
    pub symbols: Symbols,
    pub event_sources: EventSources,
    pub relationship_list: &'static [&'static str],
    pub area_list: &'static [&'static str],
    // Load-time indexes.
    household_index: IdIndex,
    community_index: IdIndex,
    person_index: IdIndex,
    /// Household id of each person as read; linked to `person_household` by [`Self::finish`].
    person_household_id: Vec<i64>,
    /// Positions of the six Washington Group answers among the person answers.
    wg_columns: [usize; 6],
    /// Events with their person id as read; grouped by person by [`Self::finish`].
    pending_events: Vec<(i64, Event)>,
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
            community_answers: columns(COMMUNITY_FIELDS, vocab),
            household_answers: columns(HOUSEHOLD_FIELDS, vocab),
            person_answers: columns(PERSON_FIELDS, vocab),
            relationship_list: vocab.choices("relacion").unwrap_or(&[]),
            area_list: vocab.choices("area").unwrap_or(&[]),
            ..RegistryData::empty()
        }
    }

    /// No rows and no answer columns.
    fn empty() -> RegistryData {
        RegistryData {
            community_id: Vec::new(),
            community_district: Vec::new(),
            community_area: Vec::new(),
            community_survey_day: Vec::new(),
            community_answers: Vec::new(),
            household_id: Vec::new(),
            household_district: Vec::new(),
            household_community: Vec::new(),
            household_area: Vec::new(),
            household_interview_day: Vec::new(),
            household_answers: Vec::new(),
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
            person_answers: Vec::new(),
            events: Vec::new(),
            event_start: Vec::new(),
            added_events: FxHashMap::default(),
            household_persons: Vec::new(),
            household_person_start: Vec::new(),
            community_households: Vec::new(),
            community_household_start: Vec::new(),
            symbols: Symbols::default(),
            event_sources: EventSources::default(),
            relationship_list: &[],
            area_list: &[],
            household_index: IdIndex::default(),
            community_index: IdIndex::default(),
            person_index: IdIndex::default(),
            person_household_id: Vec::new(),
            wg_columns: vamos_domain::schema::WG_FIELDS.map(|name| {
                vamos_domain::schema::position(PERSON_FIELDS, name).unwrap_or(usize::MAX)
            }),
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
        self.person_index
            .get(&self.person_id, id)
            .map(|i| i as usize)
    }
    pub fn household_by_id(&self, id: i64) -> Option<usize> {
        self.household_index
            .get(&self.household_id, id)
            .map(|i| i as usize)
    }
    pub fn community_by_id(&self, id: i64) -> Option<usize> {
        self.community_index
            .get(&self.community_id, id)
            .map(|i| i as usize)
    }

    /// The events of a person.
    pub fn events_of(&self, p: usize) -> &[Event] {
        // Checked for emptiness first: a full classification asks for every person.
        if !self.added_events.is_empty() {
            if let Some(v) = u32::try_from(p)
                .ok()
                .and_then(|p| self.added_events.get(&p))
            {
                return v;
            }
        }
        let (a, b) = (
            self.event_start.get(p).copied().unwrap_or(0),
            self.event_start.get(p + 1).copied().unwrap_or(0),
        );
        self.events.get(a as usize..b as usize).unwrap_or(&[])
    }

    /// Closes loading: links persons to their households (dropping, as orphans, persons whose
    /// household was not loaded), groups events by person, derives household sizes and
    /// incomes.
    pub fn finish(&mut self) {
        self.link_households();
        let mut pending: Vec<(u32, Event)> = Vec::with_capacity(self.pending_events.len());
        for (id, e) in std::mem::take(&mut self.pending_events) {
            match self.person_index.get(&self.person_id, id) {
                Some(p) => pending.push((p, e)),
                None => self.orphans += 1,
            }
        }
        pending.sort_by_key(|(p, e)| (*p, e.day));
        let n = self.persons();
        let start = offsets(pending.iter().map(|(p, _)| *p), n);
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
        // Members by household (persons arrive in id order, households interleave), and
        // households by community.
        (self.household_person_start, self.household_persons) =
            group_by(&self.person_household, self.households());
        (self.community_household_start, self.community_households) =
            group_by(&self.household_community, self.communities());
    }

    /// Adds events after [`Self::finish`]: `(person id, source, service, date)`, as the
    /// store's events query gives them. The Logros updater reads a territory once (or keeps the
    /// whole registry in memory), measures the persons named, adds the counter-referrals
    /// received since and measures them again. The cost is that of the persons named, not of
    /// the registry: each one's events move to a list of its own, kept by day. Events of
    /// persons not loaded are counted as orphans.
    pub fn add_events<'a>(
        &mut self,
        events: impl IntoIterator<Item = (i64, EvidenceSource<&'a str>, &'a str, NaiveDate)>,
    ) {
        let mut touched: Vec<u32> = Vec::new();
        for (id, source, service, date) in events {
            let e = Event {
                source: self.event_sources.intern(source),
                service: self.symbols.intern(service),
                day: day(date),
            };
            let Some(p) = self.person_index.get(&self.person_id, id) else {
                self.orphans += 1;
                continue;
            };
            if !self.added_events.contains_key(&p) {
                let loaded = self.events_of(p as usize).to_vec();
                self.added_events.insert(p, loaded);
            }
            if let Some(list) = self.added_events.get_mut(&p) {
                list.push(e);
            }
            touched.push(p);
        }
        touched.sort_unstable();
        touched.dedup();
        for p in touched {
            if let Some(list) = self.added_events.get_mut(&p) {
                // Stable: events of the same day keep their order, as a load gives them.
                list.sort_by_key(|e| e.day);
            }
        }
    }

    /// The households of a community.
    pub fn households_of(&self, c: usize) -> &[u32] {
        let (a, b) = (
            self.community_household_start.get(c).copied().unwrap_or(0),
            self.community_household_start
                .get(c + 1)
                .copied()
                .unwrap_or(0),
        );
        self.community_households
            .get(a as usize..b as usize)
            .unwrap_or(&[])
    }

    /// Resolves each person's household id to its row; persons of households not loaded are
    /// removed and counted as orphans.
    fn link_households(&mut self) {
        let ids = std::mem::take(&mut self.person_household_id);
        let mut keep = Vec::with_capacity(ids.len());
        let mut linked = Vec::with_capacity(ids.len());
        let mut last: Option<(i64, u32)> = None;
        for &id in &ids {
            let h = match last {
                Some((l, h)) if l == id => Some(h),
                _ => self.household_index.get(&self.household_id, id),
            };
            if let Some(h) = h {
                last = Some((id, h));
                linked.push(h);
            }
            keep.push(h.is_some());
        }
        let dropped = keep.iter().filter(|k| !**k).count();
        if dropped > 0 {
            self.orphans += dropped as u64;
            fn retain<T>(v: &mut Vec<T>, keep: &[bool]) {
                let mut k = keep.iter().copied();
                v.retain(|_| k.next().unwrap_or(false));
            }
            retain(&mut self.person_id, &keep);
            retain(&mut self.person_birth_day, &keep);
            retain(&mut self.person_birth, &keep);
            retain(&mut self.person_woman, &keep);
            retain(&mut self.person_relationship, &keep);
            retain(&mut self.person_has_id, &keep);
            retain(&mut self.person_disability, &keep);
            for c in &mut self.person_answers {
                match c {
                    Column::Code { data, .. } => retain(data, &keep),
                    Column::Int(data) => retain(data, &keep),
                    Column::Multi { data, .. } => retain(data, &keep),
                }
            }
            let mut index = IdIndex::default();
            for (row, &id) in self.person_id.iter().enumerate() {
                index.push(self.person_id.iter().take(row).copied(), id, row as u32);
            }
            self.person_index = index;
        }
        for &h in &linked {
            if let Some(m) = self.household_members.get_mut(h as usize) {
                *m = m.saturating_add(1);
            }
        }
        self.person_household = linked;
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
        let row = self.community_id.len() as u32;
        self.community_index
            .push(self.community_id.iter().copied(), r.id, row);
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
        let Some(community) = self.community_index.get(&self.community_id, r.community_id) else {
            self.orphans += 1;
            return;
        };
        let row = self.household_id.len() as u32;
        self.household_index
            .push(self.household_id.iter().copied(), r.id, row);
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
        // The household is linked in `finish`: persons may be read before their households
        // (on another connection, see `PartitionedSink`).
        self.person_household_id.push(r.household_id);
        let row = self.person_id.len() as u32;
        self.person_index
            .push(self.person_id.iter().copied(), r.id, row);
        self.person_id.push(r.id);
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
            self.wg_columns
                .iter()
                .map(|&i| self.person_answers.get(i).and_then(|c| c.code(row))),
        );
        self.person_disability.push(match cut_off {
            Some(true) => 1,
            Some(false) => 0,
            None => 2,
        });
    }

    fn admin_event(&mut self, r: &AdminEventRow<'_>) {
        let e = Event {
            source: self.event_sources.intern(r.source),
            service: self.symbols.intern(r.service),
            day: day(r.event_date),
        };
        self.pending_events.push((r.person_id, e));
    }
}

/// Where each group starts when rows are ordered by their key in `0..groups` (`groups + 1`
/// offsets; keys out of range are not counted).
fn offsets(keys: impl Iterator<Item = u32>, groups: usize) -> Vec<u32> {
    let mut start = vec![0u32; groups + 1];
    for k in keys {
        if let Some(s) = start.get_mut(k as usize + 1) {
            *s += 1;
        }
    }
    for i in 0..groups {
        let prev = start.get(i).copied().unwrap_or(0);
        if let Some(s) = start.get_mut(i + 1) {
            *s += prev;
        }
    }
    start
}

/// Groups rows by a key in `0..groups`: returns `start` (`groups + 1` offsets) and the rows of
/// group `g` at `rows[start[g]..start[g + 1]]`, in row order.
fn group_by(keys: &[u32], groups: usize) -> (Vec<u32>, Vec<u32>) {
    let start = offsets(keys.iter().copied(), groups);
    let mut fill = start.clone();
    let mut rows = vec![0u32; keys.len()];
    for (row, &k) in keys.iter().enumerate() {
        if let Some(slot) = fill.get_mut(k as usize) {
            if let Some(r) = rows.get_mut(*slot as usize) {
                *r = row as u32;
            }
            *slot += 1;
        }
    }
    (start, rows)
}

/// A date range and a count: what one source contributed to a measurement.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SourceSpan {
    /// Institution (administrative records) or the survey's name.
    pub source: String,
    pub records: u64,
    /// First and last date of the records (interview, survey or event date).
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

impl SourceSpan {
    fn of(source: &str, days: impl Iterator<Item = i32>) -> SourceSpan {
        let (mut n, mut lo, mut hi) = (0u64, i32::MAX, i32::MIN);
        for d in days.filter(|&d| d != i32::MIN) {
            n += 1;
            lo = lo.min(d);
            hi = hi.max(d);
        }
        let date =
            |d: i32| (n > 0).then(|| NaiveDate::default() + chrono::Duration::days(i64::from(d)));
        SourceSpan {
            source: source.to_string(),
            records: n,
            from: date(lo),
            to: date(hi),
        }
    }
}

impl RegistryData {
    /// The data sources a classification of this registry used, with their dates: the FIPS
    /// household interviews, the Entorno community surveys, each institution's administrative
    /// records and its counter-referrals.
    pub fn sources(&self) -> Vec<SourceSpan> {
        let mut out = vec![
            SourceSpan::of("FIPS", self.household_interview_day.iter().copied()),
            SourceSpan::of("Entorno", self.community_survey_day.iter().copied()),
        ];
        let mut by_source: Vec<u32> = self.events.iter().map(|e| e.source).collect();
        by_source.sort_unstable();
        by_source.dedup();
        for i in by_source {
            let name = self
                .event_sources
                .source(i)
                .map_or_else(String::new, |s| s.to_string());
            out.push(SourceSpan::of(
                &name,
                self.events.iter().filter(|e| e.source == i).map(|e| e.day),
            ));
        }
        out
    }
}

impl vamos_domain::PartitionedSink for RegistryData {
    fn part(&self) -> RegistryData {
        RegistryData {
            community_answers: self
                .community_answers
                .iter()
                .map(Column::empty_like)
                .collect(),
            household_answers: self
                .household_answers
                .iter()
                .map(Column::empty_like)
                .collect(),
            person_answers: self.person_answers.iter().map(Column::empty_like).collect(),
            relationship_list: self.relationship_list,
            area_list: self.area_list,
            wg_columns: self.wg_columns,
            ..RegistryData::empty()
        }
    }

    fn absorb(&mut self, part: RegistryData) {
        for (i, &id) in part.person_id.iter().enumerate() {
            let row = (self.person_id.len() + i) as u32;
            let previous = self
                .person_id
                .iter()
                .chain(part.person_id.get(..i).unwrap_or(&[]));
            self.person_index.push(previous.copied(), id, row);
        }
        self.person_id.extend(part.person_id);
        self.person_household_id.extend(part.person_household_id);
        self.person_birth_day.extend(part.person_birth_day);
        self.person_birth.extend(part.person_birth);
        self.person_woman.extend(part.person_woman);
        self.person_relationship.extend(part.person_relationship);
        self.person_has_id.extend(part.person_has_id);
        self.person_disability.extend(part.person_disability);
        for (c, more) in self.person_answers.iter_mut().zip(part.person_answers) {
            c.append(more);
        }
        for (id, e) in part.pending_events {
            let name = |s: u32| {
                part.symbols
                    .names
                    .get(s as usize)
                    .map_or("", |x| x.as_str())
            };
            let source = part
                .event_sources
                .source(e.source)
                .unwrap_or(EvidenceSource::Admin(""));
            let e = Event {
                source: self.event_sources.intern(source),
                service: self.symbols.intern(name(e.service)),
                day: e.day,
            };
            self.pending_events.push((id, e));
        }
        self.orphans += part.orphans;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_found_exactly_long_or_short() {
        // Long codes sharing length, first and last eight bytes must still be told apart.
        let list: &'static [&'static str] = &[
            "si",
            "no",
            "secundaria_AAAA_completa",
            "secundaria_BBBB_completa",
            "s",
            "",
        ];
        let c = Choices::new(list);
        for (i, code) in list.iter().enumerate() {
            assert_eq!(c.position(code), Some(i), "{code}");
        }
        for absent in ["sí", "si ", "secundaria_CCCC_completa", "nos", "n"] {
            assert_eq!(c.position(absent), None, "{absent}");
        }
    }

    #[test]
    fn ids_are_found_with_and_without_gaps() {
        for ids in [
            vec![1i64, 2, 3, 4, 5],
            vec![10, 11, 15, 16, 40, 41, 42],
            vec![-3, 0, 7],
            vec![5],
            vec![],
        ] {
            let index = IdIndex::default();
            for (row, id) in ids.iter().enumerate() {
                assert_eq!(index.get(&ids, *id), Some(row as u32), "{id} in {ids:?}");
            }
            for absent in [-100, -1, 6, 12, 39, 43, i64::MIN, i64::MAX] {
                if !ids.contains(&absent) {
                    assert_eq!(index.get(&ids, absent), None, "{absent} in {ids:?}");
                }
            }
        }
    }
}
