//! Loads at a reading (issue 36): the rows a load streams at (`as_of`, `known_at`) are, per
//! unit, exactly the version `vamos_domain::versions::pick` selects when it is active — the SQL
//! and the rule held together on randomised version sets, on every backend under test.

// Tests fail loudly on purpose: unwrap, panic and indexing are how they assert.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use chrono::{NaiveDate, TimeZone, Utc};
use vamos_domain::schema::{HOUSEHOLD_FIELDS, PERSON_FIELDS};
use vamos_domain::versions::{pick, UnitStatus, VersionMeta};
use vamos_domain::*;
use vamos_store::testing::all_dbs;
use vamos_store::versions::{self, VersionSet};
use vamos_store::{ImportMeta, Reading, SnapshotNeeds, Store};

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// One import of `n` households of two members each, in two communities of Villeta and one of
/// Luque (so district loads leave some out).
fn registry(store: &mut dyn Store, n: i64) {
    let mut tx = store
        .begin_import(&ImportMeta {
            kind: ImportKind::Fips,
            source: Some("UTGS".into()),
            synthetic: true,
            started_at: "2026-11-23T10:00:00Z".into(),
            files: vec!["fips.csv".into()],
        })
        .unwrap();
    let import_id = tx.import_id();
    let s = tx.snapshot(SnapshotNeeds::default()).unwrap();
    let villeta = DistrictCode::try_from("1116").unwrap();
    let luque = DistrictCode::try_from("1107").unwrap();
    let c0 = s.next_community_id;
    let places = [(c0, villeta), (c0 + 1, villeta), (c0 + 2, luque)];
    tx.insert_communities(
        &places
            .iter()
            .map(|&(id, district)| Community {
                id,
                district,
                name: format!("Comunidad {id}"),
                area: Some("urbana".into()),
            })
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let prov = |row| Provenance {
        import_id,
        file_no: 0,
        row,
    };
    let (h0, p0) = (s.next_household_id, s.next_person_id);
    let mut households = Vec::new();
    let mut persons = Vec::new();
    for i in 0..n {
        let (community, district) = places[(i % 3) as usize];
        let mut answers = vec![Value::Null; HOUSEHOLD_FIELDS.len()];
        answers[4] = Value::Int(3);
        households.push(Household {
            id: h0 + i,
            submission_key: format!("k-{i}"),
            district,
            community_id: community,
            area: Some("v1".into()),
            address: None,
            latitude: None,
            longitude: None,
            interview_date: d("2026-10-01"),
            form: ImportKind::Fips,
            answers,
            provenance: prov(i as u64),
        });
        for m in 0..2 {
            persons.push(Person {
                id: p0 + 2 * i + m,
                household_id: h0 + i,
                submission_key: format!("k-{i}/miembros[{m}]"),
                given_names: "Ana".into(),
                family_names: "Benítez".into(),
                national_id: None,
                birth_date: d("1980-05-17"),
                sex: Sex::Mujer,
                relationship: "v1".into(),
                answers: vec![Value::Null; PERSON_FIELDS.len()],
                provenance: prov((2 * i + m) as u64),
            });
        }
    }
    tx.insert_households(&households).unwrap();
    tx.insert_persons(&persons).unwrap();
    // Finished when it started: rows of an import count from its finish (`Reading`), and here
    // only their `recorded_at` and `valid_from` are under test.
    tx.commit("2026-11-23T10:00:00Z", "{}").unwrap();
}

/// A small deterministic generator (no dependency for one test).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
    fn of<T: Clone>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())].clone()
    }
}

const DATES: [Option<&str>; 4] = [
    None,
    Some("2026-06-01"),
    Some("2027-01-01"),
    Some("2027-06-01"),
];
const RECORDED: [&str; 3] = [
    "2026-11-23T10:00:00Z",
    "2027-01-10T08:00:00Z",
    "2027-05-01T12:00:00Z",
];

fn random_meta(rng: &mut Lcg, version: i64, statuses: &[UnitStatus]) -> VersionMeta {
    VersionMeta {
        version,
        valid_from: rng.of(&DATES).map(d),
        recorded_at: rng.of(&RECORDED).to_string(),
        status: rng.of(statuses),
        merged_into: None,
        change_id: None,
    }
}

/// Gives each unit 0 to 3 more versions — new current ones and past-only ones, with random
/// dates, times of recording and statuses — tagging each version's content with its number.
fn randomise(store: &mut dyn Store, rng: &mut Lcg, households: &[i64], persons: &[i64]) {
    let mut db = store.db();
    let mut set = VersionSet::default();
    let hs = [UnitStatus::Activo, UnitStatus::Activo, UnitStatus::Disuelto];
    let ps = [
        UnitStatus::Activo,
        UnitStatus::Activo,
        UnitStatus::Fallecido,
        UnitStatus::Retirado,
    ];
    for &id in households {
        let (h, _) = versions::household(&mut db, id).unwrap().unwrap();
        for v in 2..2 + rng.below(4) as i64 {
            let mut h = h.clone();
            h.area = Some(format!("v{v}"));
            let m = random_meta(rng, v, &hs);
            // A past-only version never outranks by number the current ones written later.
            if rng.below(3) == 0 {
                set.past_households.push((h, m));
            } else {
                set.households.push((h, m));
            }
        }
    }
    for &id in persons {
        let (p, _) = versions::person(&mut db, id).unwrap().unwrap();
        for v in 2..2 + rng.below(4) as i64 {
            let mut p = p.clone();
            p.relationship = format!("v{v}");
            let m = random_meta(rng, v, &ps);
            if rng.below(3) == 0 {
                set.past_persons.push((p, m));
            } else {
                set.persons.push((p, m));
            }
        }
    }
    // `apply` writes current versions in order and refuses one that does not follow: write
    // them one version at a time, past-only ones last under their own numbers.
    let mut current = VersionSet::default();
    for v in 2..6 {
        current.households = set
            .households
            .iter()
            .filter(|(_, m)| m.version == v)
            .cloned()
            .collect();
        current.persons = set
            .persons
            .iter()
            .filter(|(_, m)| m.version == v)
            .cloned()
            .collect();
        versions::apply(&mut db, &current).unwrap();
    }
    let past = VersionSet {
        past_households: set.past_households,
        past_persons: set.past_persons,
        ..Default::default()
    };
    versions::apply(&mut db, &past).unwrap();
}

/// What a load streamed: (id, the version tag) of households and persons, in arrival order.
#[derive(Default, Debug, PartialEq)]
struct Seen {
    households: Vec<(i64, String)>,
    persons: Vec<(i64, String)>,
}

impl RegistrySink for Seen {
    fn community(&mut self, _: &CommunityRow<'_>) {}
    fn household(&mut self, r: &HouseholdRow<'_>) {
        self.households
            .push((r.id, r.area.unwrap_or("").to_string()));
    }
    fn person(&mut self, r: &PersonRow<'_>) {
        self.persons.push((r.id, r.relationship.to_string()));
    }
    fn admin_event(&mut self, _: &AdminEventRow<'_>) {}
}

/// What `pick` says a reading sees: per unit its picked version's tag, when active.
fn expected(store: &mut dyn Store, at: (NaiveDate, Option<&str>), n: i64) -> Seen {
    let mut db = store.db();
    let mut seen = Seen::default();
    for id in 1..=n {
        let vs = versions::household_versions(&mut db, id).unwrap();
        if let Some(m) = pick(vs.iter().map(|(_, m)| m), at.0, at.1) {
            if m.status.is_active() {
                let (h, _) = vs.iter().find(|(_, x)| x == m).unwrap();
                seen.households
                    .push((id, h.area.clone().unwrap_or_default()));
            }
        }
    }
    for id in 1..=2 * n {
        let vs = versions::person_versions(&mut db, id).unwrap();
        if let Some(m) = pick(vs.iter().map(|(_, m)| m), at.0, at.1) {
            if m.status.is_active() {
                let (p, _) = vs.iter().find(|(_, x)| x == m).unwrap();
                seen.persons.push((id, p.relationship.clone()));
            }
        }
    }
    seen
}

#[test]
fn a_load_at_a_reading_streams_the_versions_pick_selects_in_id_order() {
    const N: i64 = 30;
    for db in all_dbs() {
        let mut s = db.open();
        registry(s.as_mut(), N);
        let mut rng = Lcg(0x5eed_0036);
        let households: Vec<i64> = (1..=N).collect();
        let persons: Vec<i64> = (1..=2 * N).collect();
        randomise(s.as_mut(), &mut rng, &households, &persons);
        let as_ofs = [
            "2026-01-01",
            "2026-06-01",
            "2026-12-31",
            "2027-01-01",
            "2027-12-31",
        ];
        let known = [
            None,
            Some(Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap()),
            Some(Utc.with_ymd_and_hms(2027, 2, 1, 0, 0, 0).unwrap()),
            Some(Utc.with_ymd_and_hms(2027, 5, 1, 12, 0, 0).unwrap()),
        ];
        for as_of in as_ofs {
            for k in known {
                let at = Reading::known_at(d(as_of), k);
                let text = at.known_at_text();
                let want = expected(s.as_mut(), (d(as_of), text.as_deref()), N);
                let mut got = Seen::default();
                s.load_registry(TerritoryCode::Nation, &at, &mut got)
                    .unwrap();
                assert_eq!(got, want, "{}: nation at {as_of}, {text:?}", db.label);
                // A district and a list of communities read the same versions of their units.
                let villeta = TerritoryCode::parse("1116").unwrap();
                let mut part = Seen::default();
                s.load_registry(villeta, &at, &mut part).unwrap();
                let in_villeta = |id: i64| (id - 1) % 3 != 2;
                let want_h: Vec<_> = want
                    .households
                    .iter()
                    .filter(|(id, _)| in_villeta(*id))
                    .cloned()
                    .collect();
                assert_eq!(part.households, want_h, "{}: Villeta {as_of}", db.label);
                let want_p: Vec<_> = want
                    .persons
                    .iter()
                    .filter(|(id, _)| in_villeta((id + 1) / 2))
                    .cloned()
                    .collect();
                assert_eq!(part.persons, want_p, "{}: Villeta {as_of}", db.label);
                let mut one = Seen::default();
                s.load_communities(&[2], i64::MAX, &at, &mut one).unwrap();
                let want_c: Vec<_> = want
                    .households
                    .iter()
                    .filter(|(id, _)| (id - 1) % 3 == 1)
                    .cloned()
                    .collect();
                assert_eq!(one.households, want_c, "{}: community 2", db.label);
            }
        }
    }
}

#[test]
fn without_history_a_load_reads_every_active_current_row() {
    for db in all_dbs() {
        let mut s = db.open();
        registry(s.as_mut(), 6);
        let mut got = Seen::default();
        s.load_registry(
            TerritoryCode::Nation,
            &Reading::at(d("2020-01-01")),
            &mut got,
        )
        .unwrap();
        assert_eq!(got.households.len(), 6, "{}", db.label);
        assert_eq!(got.persons.len(), 12, "{}", db.label);
    }
}

/// The survey each community is read with.
#[derive(Default)]
struct Surveys(Vec<(i64, Option<NaiveDate>)>);

impl RegistrySink for Surveys {
    fn community(&mut self, r: &CommunityRow<'_>) {
        self.0.push((r.id, r.survey_date));
    }
    fn household(&mut self, _: &HouseholdRow<'_>) {}
    fn person(&mut self, _: &PersonRow<'_>) {}
    fn admin_event(&mut self, _: &AdminEventRow<'_>) {}
}

/// One import of a community survey of community 1, dated `date`, finished at `finished`.
fn survey(store: &mut dyn Store, key: &str, date: &str, finished: &str) {
    let mut tx = store
        .begin_import(&ImportMeta {
            kind: ImportKind::Comunidades,
            source: None,
            synthetic: true,
            started_at: finished.into(),
            files: vec!["comunidades.csv".into()],
        })
        .unwrap();
    let import_id = tx.import_id();
    tx.insert_community_surveys(&[CommunitySurvey {
        submission_key: key.into(),
        community_id: 1,
        survey_date: d(date),
        latitude: None,
        longitude: None,
        answers: vec![Value::Null; vamos_domain::schema::COMMUNITY_FIELDS.len()],
        provenance: Provenance {
            import_id,
            file_no: 0,
            row: 1,
        },
    }])
    .unwrap();
    tx.commit(finished, "{}").unwrap();
}

#[test]
fn a_community_is_read_with_its_survey_valid_at_the_reading_as_then_known() {
    for db in all_dbs() {
        let mut s = db.open();
        registry(s.as_mut(), 3);
        survey(s.as_mut(), "c-1", "2026-03-01", "2026-03-10T00:00:00Z");
        survey(s.as_mut(), "c-2", "2026-09-01", "2026-09-10T00:00:00Z");
        let read = |s: &mut dyn Store, as_of: &str, known: Option<&str>| {
            let k = known.map(|k| chrono::DateTime::parse_from_rfc3339(k).unwrap().to_utc());
            let mut got = Surveys::default();
            s.load_registry(
                TerritoryCode::Nation,
                &Reading::known_at(d(as_of), k),
                &mut got,
            )
            .unwrap();
            got.0.iter().find(|(id, _)| *id == 1).unwrap().1
        };
        let first = Some(d("2026-03-01"));
        let second = Some(d("2026-09-01"));
        assert_eq!(read(s.as_mut(), "2026-12-31", None), second, "{}", db.label);
        assert_eq!(read(s.as_mut(), "2026-06-30", None), first, "{}", db.label);
        // Before its first survey a community is described by it (as since always).
        assert_eq!(read(s.as_mut(), "2025-01-01", None), first, "{}", db.label);
        // Known before the second survey's import finished: the first.
        let before = Some("2026-09-09T00:00:00Z");
        assert_eq!(
            read(s.as_mut(), "2026-12-31", before),
            first,
            "{}",
            db.label
        );
        // Known before any survey: none.
        let none = Some("2026-01-01T00:00:00Z");
        assert_eq!(read(s.as_mut(), "2026-12-31", none), None, "{}", db.label);
        // A community without any survey is still read, without answers.
        let mut all = Surveys::default();
        s.load_registry(
            TerritoryCode::Nation,
            &Reading::at(d("2026-12-31")),
            &mut all,
        )
        .unwrap();
        assert!(all.0.contains(&(2, None)), "{}: {:?}", db.label, all.0);
    }
}
