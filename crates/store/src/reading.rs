//! Loads that read the registry as it was (issue 36): the versions a classification at
//! (`as_of`, `known_at`) sees, per unit the one [`vamos_domain::versions::pick`] selects.
//!
//! Each load reads the current rows filtered in SQL by the same visibility test as
//! [`VersionMeta::visible`](vamos_domain::versions::VersionMeta::visible) and by status, and
//! separately the few things versions change: the ids whose current row a visible past version
//! outranks (skipped) and the past versions picked where the current row is not (merged into
//! the stream in id order, so the sinks keep receiving ascending ids). With no history the
//! extra queries return nothing and the load costs what it did before versions.

use chrono::{DateTime, NaiveDate, Utc};
use rustc_hash::FxHashSet;
use vamos_domain::{
    AdminEventRow, AnswerRef, CommunityRow, DistrictCode, HouseholdRow, NationalId, PersonRow,
    RegistrySink, Sex,
};

/// The moment a load reads the registry at: the versions true on `as_of`, among those the
/// registry had learnt by `known_at` (everything it knows now, when `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    as_of: NaiveDate,
    known_at: Option<DateTime<Utc>>,
    /// A change request whose versions are left out: the registry as it was just before that
    /// change was applied, whatever else was recorded in the same second.
    without_change: Option<i64>,
}

impl Reading {
    /// The versions valid on `as_of` as known now.
    pub fn at(as_of: NaiveDate) -> Reading {
        Reading {
            as_of,
            known_at: None,
            without_change: None,
        }
    }

    /// The versions valid on `as_of` as the registry knew them at `known_at`.
    pub fn known_at(as_of: NaiveDate, known_at: Option<DateTime<Utc>>) -> Reading {
        Reading {
            as_of,
            known_at,
            without_change: None,
        }
    }

    /// The same reading without the versions change request `id` wrote.
    pub fn without_change(mut self, id: i64) -> Reading {
        self.without_change = Some(id);
        self
    }

    pub fn as_of(&self) -> NaiveDate {
        self.as_of
    }

    /// `known_at` as stored (`recorded_at` compares as text: RFC 3339 UTC to the second).
    pub fn known_at_text(&self) -> Option<String> {
        self.known_at
            .map(|k| k.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    }

    /// The SQL test that a version of alias `a` is visible: the same comparison as
    /// `VersionMeta::visible` (a NULL `recorded_at`, read as the empty text, is always known).
    /// The values are rendered from typed dates, never from user text.
    pub(crate) fn visible_sql(&self, a: &str) -> String {
        let as_of = self.as_of.format("%Y-%m-%d");
        let mut s = format!("({a}.valid_from IS NULL OR {a}.valid_from <= '{as_of}')");
        if let Some(k) = self.known_at_text() {
            s.push_str(&format!(
                " AND ({a}.recorded_at IS NULL OR {a}.recorded_at <= '{k}')"
            ));
            // An import's rows carry its start as `recorded_at` but become known when it
            // commits: a reading known at k leaves out an import still under way then, so a
            // measurement taken during a long import is reproduced without it. Imports commit
            // one at a time in id order, so "finished by k" is an id bound (computed once per
            // statement: the subquery does not depend on the row).
            s.push_str(&format!(
                " AND ({a}.change_id IS NOT NULL OR {a}.import_id <= (SELECT COALESCE(MAX(i.id), 0) \
                 FROM imports i WHERE i.finished_at IS NOT NULL AND i.finished_at <= '{k}'))"
            ));
        }
        if let Some(c) = self.without_change {
            s.push_str(&format!(
                " AND ({a}.change_id IS NULL OR {a}.change_id <> {c})"
            ));
        }
        s
    }
}

impl Reading {
    /// The SQL that picks the survey of community `c` at this reading: a community's surveys
    /// are its versions, each valid from its survey date and known once its import finished.
    /// Among those known, the latest on or before `as_of`; before the first one, the first
    /// (a community's first survey describes it since always, as a unit's first registration
    /// does); ties to the latest submission key.
    pub(crate) fn community_survey_sql(&self, c: &str) -> String {
        let as_of = self.as_of.format("%Y-%m-%d");
        let known = self.known_at_text().map_or(String::new(), |k| {
            format!(
                " AND x.import_id <= (SELECT COALESCE(MAX(i.id), 0) FROM imports i \
                 WHERE i.finished_at IS NOT NULL AND i.finished_at <= '{k}')"
            )
        });
        format!(
            "SELECT x.submission_key FROM community_surveys x WHERE x.community_id = {c}.id{known} \
             ORDER BY CASE WHEN x.survey_date <= '{as_of}' THEN 0 ELSE 1 END, \
             CASE WHEN x.survey_date <= '{as_of}' THEN x.survey_date END DESC, \
             x.survey_date, x.submission_key DESC LIMIT 1"
        )
    }
}

/// The SQL test that version `x` outranks version `y` of the same unit: `pick`'s order — later
/// `valid_from` (NULL earliest), then later `recorded_at` (NULL as empty text), then higher
/// version number.
pub(crate) fn outranks_sql(x: &str, y: &str) -> String {
    let vf = |a: &str| format!("COALESCE({a}.valid_from, '')");
    let ra = |a: &str| format!("COALESCE({a}.recorded_at, '')");
    format!(
        "({vx} > {vy} OR ({vx} = {vy} AND ({rx} > {ry} OR ({rx} = {ry} AND {x}.version > {y}.version))))",
        vx = vf(x),
        vy = vf(y),
        rx = ra(x),
        ry = ra(y),
    )
}

#[derive(Debug, Clone)]
enum Answer {
    Null,
    Int(i64),
    Text(String),
}

impl Answer {
    fn of(a: &AnswerRef<'_>) -> Answer {
        match a {
            AnswerRef::Null => Answer::Null,
            AnswerRef::Int(n) => Answer::Int(*n),
            AnswerRef::Text(t) => Answer::Text((*t).to_string()),
        }
    }
    fn borrowed(&self) -> AnswerRef<'_> {
        match self {
            Answer::Null => AnswerRef::Null,
            Answer::Int(n) => AnswerRef::Int(*n),
            Answer::Text(t) => AnswerRef::Text(t),
        }
    }
}

struct PastHousehold {
    id: i64,
    district: DistrictCode,
    community_id: i64,
    area: Option<String>,
    interview_date: NaiveDate,
    answers: Vec<Answer>,
}

struct PastPerson {
    id: i64,
    household_id: i64,
    national_id: Option<NationalId>,
    birth_date: NaiveDate,
    sex: Sex,
    relationship: String,
    answers: Vec<Answer>,
}

/// The past versions picked for a load, kept until their place in the id order comes.
#[derive(Default)]
pub(crate) struct Past {
    households: Vec<PastHousehold>,
    persons: Vec<PastPerson>,
}

impl RegistrySink for Past {
    fn community(&mut self, _: &CommunityRow<'_>) {}

    fn household(&mut self, r: &HouseholdRow<'_>) {
        self.households.push(PastHousehold {
            id: r.id,
            district: r.district,
            community_id: r.community_id,
            area: r.area.map(str::to_string),
            interview_date: r.interview_date,
            answers: r.answers.iter().map(Answer::of).collect(),
        });
    }

    fn person(&mut self, r: &PersonRow<'_>) {
        self.persons.push(PastPerson {
            id: r.id,
            household_id: r.household_id,
            national_id: r.national_id,
            birth_date: r.birth_date,
            sex: r.sex,
            relationship: r.relationship.to_string(),
            answers: r.answers.iter().map(Answer::of).collect(),
        });
    }

    fn admin_event(&mut self, _: &AdminEventRow<'_>) {}
}

fn emit_household(sink: &mut dyn RegistrySink, h: &PastHousehold) {
    let answers: Vec<AnswerRef<'_>> = h.answers.iter().map(Answer::borrowed).collect();
    sink.household(&HouseholdRow {
        id: h.id,
        district: h.district,
        community_id: h.community_id,
        area: h.area.as_deref(),
        interview_date: h.interview_date,
        answers: &answers,
    });
}

fn emit_person(sink: &mut dyn RegistrySink, p: &PastPerson) {
    let answers: Vec<AnswerRef<'_>> = p.answers.iter().map(Answer::borrowed).collect();
    sink.person(&PersonRow {
        id: p.id,
        household_id: p.household_id,
        national_id: p.national_id,
        birth_date: p.birth_date,
        sex: p.sex,
        relationship: &p.relationship,
        answers: &answers,
    });
}

/// A sink in front of the caller's that drops the current rows outranked by a past version
/// (`skip`) and slips the picked past versions in before the first current row with a larger
/// id. Both streams are in id order, so the caller's sink still receives ascending ids; call
/// [`Merge::finish`] after the current rows to hand over the past versions left.
pub(crate) struct Merge<'a> {
    sink: &'a mut dyn RegistrySink,
    past: Past,
    next_household: usize,
    next_person: usize,
    skip: FxHashSet<i64>,
}

impl<'a> Merge<'a> {
    pub(crate) fn new(sink: &'a mut dyn RegistrySink, past: Past, skip: FxHashSet<i64>) -> Self {
        Merge {
            sink,
            past,
            next_household: 0,
            next_person: 0,
            skip,
        }
    }

    /// Hands over the past households with an id below `id` (all of them with `None`).
    fn households_before(&mut self, id: Option<i64>) {
        while let Some(h) = self.past.households.get(self.next_household) {
            if id.is_some_and(|id| h.id >= id) {
                break;
            }
            emit_household(self.sink, h);
            self.next_household += 1;
        }
    }

    /// Hands over the past persons with an id below `id` (all of them with `None`).
    fn persons_before(&mut self, id: Option<i64>) {
        while let Some(p) = self.past.persons.get(self.next_person) {
            if id.is_some_and(|id| p.id >= id) {
                break;
            }
            emit_person(self.sink, p);
            self.next_person += 1;
        }
    }

    /// Hands over the past versions that come after every current row.
    pub(crate) fn finish(mut self) {
        self.households_before(None);
        self.persons_before(None);
    }
}

impl RegistrySink for Merge<'_> {
    fn community(&mut self, r: &CommunityRow<'_>) {
        self.sink.community(r);
    }

    fn household(&mut self, r: &HouseholdRow<'_>) {
        self.households_before(Some(r.id));
        if self.skip.is_empty() || !self.skip.contains(&r.id) {
            self.sink.household(r);
        }
    }

    fn person(&mut self, r: &PersonRow<'_>) {
        self.persons_before(Some(r.id));
        if self.skip.is_empty() || !self.skip.contains(&r.id) {
            self.sink.person(r);
        }
    }

    fn admin_event(&mut self, r: &AdminEventRow<'_>) {
        self.sink.admin_event(r);
    }
}
