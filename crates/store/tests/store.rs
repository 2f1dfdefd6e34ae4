//! Behavioural tests of the storage trait, run against every backend under test (SQLite
//! always, PostgreSQL when VAMOS_TEST_POSTGRES_URL is set): the same story for both.

// Tests fail loudly on purpose: unwrap, panic and indexing are how they assert.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use chrono::NaiveDate;
use vamos_domain::schema::{COMMUNITY_FIELDS, HOUSEHOLD_FIELDS, PERSON_FIELDS};
use vamos_domain::*;
use vamos_store::counter_referrals::Applied;
use vamos_store::testing::{all_dbs, RawSql};
use vamos_store::{ImportMeta, SnapshotNeeds, Store};

fn meta() -> ImportMeta {
    ImportMeta {
        kind: ImportKind::Fips,
        source: Some("UTGS".into()),
        synthetic: true,
        started_at: "2026-11-23T10:00:00Z".into(),
        files: vec!["fips.csv".into(), "fips-miembros.csv".into()],
    }
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// The registry as the engine reads it at the synthetic data's date, as known now.
fn now() -> vamos_store::Reading {
    vamos_store::Reading::at(d("2026-11-23"))
}

/// Writes one community, household, person and admin record in one import.
fn write_one(store: &mut dyn Store, commit: bool) -> i64 {
    let mut tx = store.begin_import(&meta()).unwrap();
    let import_id = tx.import_id();
    let s = tx.snapshot(SnapshotNeeds::default()).unwrap();
    let villeta = DistrictCode::try_from("1116").unwrap();
    tx.insert_communities(&[Community {
        id: s.next_community_id,
        district: villeta,
        name: "Barrio San Roque".into(),
        area: Some("urbana".into()),
    }])
    .unwrap();
    let mut answers = vec![Value::Null; HOUSEHOLD_FIELDS.len()];
    answers[0] = Value::Code("propia");
    answers[4] = Value::Int(3);
    tx.insert_households(&[Household {
        id: s.next_household_id,
        submission_key: format!("k-{import_id}"),
        district: villeta,
        community_id: s.next_community_id,
        area: Some("urbana".into()),
        address: Some("Calle 1\tcon tab".into()),
        latitude: Some(-25.5),
        longitude: Some(-57.56),
        interview_date: d("2026-10-01"),
        form: ImportKind::Fips,
        answers,
        provenance: Provenance {
            import_id,
            file_no: 0,
            row: 2,
        },
    }])
    .unwrap();
    let mut panswers = vec![Value::Null; PERSON_FIELDS.len()];
    panswers[10] = Value::Text("guarani castellano".into());
    tx.insert_persons(&[Person {
        id: s.next_person_id,
        household_id: s.next_household_id,
        submission_key: format!("k-{import_id}/miembros[1]"),
        given_names: "María José".into(),
        family_names: "Benítez\\Ayala".into(),
        national_id: NationalId::parse_optional(&format!("{}", 1234560 + import_id)).unwrap(),
        birth_date: d("1980-05-17"),
        sex: Sex::Mujer,
        relationship: "jefe".into(),
        answers: panswers,
        provenance: Provenance {
            import_id,
            file_no: 1,
            row: 2,
        },
    }])
    .unwrap();
    tx.insert_admin_records(&[AdminRecord {
        id: s.next_admin_id,
        institution: "MSPBS".into(),
        record_key: format!("r-{import_id}"),
        national_id: None,
        person_id: Some(s.next_person_id),
        given_names: None,
        family_names: None,
        birth_date: None,
        sex: None,
        district: Some(villeta),
        service: "vacunacion".into(),
        event_date: d("2026-01-02"),
        detail: None,
        provenance: Provenance {
            import_id,
            file_no: 0,
            row: 2,
        },
    }])
    .unwrap();
    if commit {
        tx.commit("2026-11-23T10:01:00Z", r#"{"persons_accepted":1}"#)
            .unwrap();
    } else {
        tx.rollback().unwrap();
    }
    import_id
}

#[test]
fn migrate_is_idempotent() {
    for db in all_dbs() {
        let mut s = db.open(); // migrates once
        assert!(s.migrate().unwrap().is_empty(), "{}", db.label);
        assert!(s.district_counts().unwrap().is_empty(), "{}", db.label);
    }
}

#[test]
fn committed_import_is_visible_and_counted() {
    for db in all_dbs() {
        let mut s = db.open();
        write_one(s.as_mut(), true);
        let counts = s.district_counts().unwrap();
        assert_eq!(counts.len(), 1, "{}", db.label);
        let c = counts[0];
        assert_eq!(
            (
                c.district,
                c.persons,
                c.households,
                c.communities,
                c.synthetic_households,
                c.admin_records
            ),
            (1116, 1, 1, 1, 1, 1),
            "{}",
            db.label
        );
        let hist = s.imports(10).unwrap();
        assert_eq!(hist.len(), 1);
        assert_eq!(hist[0].status, "completada");
        assert_eq!(hist[0].summary.as_ref().unwrap()["persons_accepted"], 1);
        // The snapshot of a later import sees what was written.
        let mut tx = s.begin_import(&meta()).unwrap();
        let snap = tx
            .snapshot(SnapshotNeeds {
                household_keys: true,
                national_ids: true,
                communities: true,
                survey_keys: true,
                admin_keys: true,
            })
            .unwrap();
        assert!(snap.household_keys.contains_key("k-1"), "{}", db.label);
        assert_eq!(snap.national_ids.len(), 1);
        assert_eq!(
            snap.national_ids.values().next().unwrap().birth_date,
            d("1980-05-17")
        );
        assert_eq!(snap.communities.len(), 1);
        assert!(snap
            .admin_keys
            .contains(&("MSPBS".to_string(), "r-1".to_string())));
        assert_eq!(
            (
                snap.next_household_id,
                snap.next_person_id,
                snap.next_admin_id
            ),
            (2, 2, 2)
        );
        tx.rollback().unwrap();
    }
}

#[test]
fn rolled_back_or_dropped_import_leaves_nothing() {
    for db in all_dbs() {
        let mut s = db.open();
        write_one(s.as_mut(), false);
        assert!(s.district_counts().unwrap().is_empty(), "{}", db.label);
        {
            let mut tx = s.begin_import(&meta()).unwrap();
            tx.insert_communities(&[Community {
                id: 1,
                district: DistrictCode::try_from("0607").unwrap(),
                name: "Centro".into(),
                area: None,
            }])
            .unwrap();
            // dropped without commit
        }
        assert!(s.district_counts().unwrap().is_empty(), "{}", db.label);
        assert!(s.imports(10).unwrap().is_empty(), "{}", db.label);
        let id = s
            .record_refused_import(&meta(), "2026-11-23T10:02:00Z", "{}")
            .unwrap();
        let hist = s.imports(10).unwrap();
        assert_eq!((hist[0].id, hist[0].status.as_str()), (id, "rechazada"));
    }
}

#[test]
fn the_heavy_writers_sqlite_connection_maps_the_whole_file_caches_1_gib_and_checkpoints_by_kind() {
    use vamos_store::heavy_writer::{HeavyWriter, WriteKind};
    for db in all_dbs() {
        let mut s = db.open();
        write_one(s.as_mut(), true);
        let mut writer = HeavyWriter::new(&db.url);
        let pragma = |w: &mut HeavyWriter, name: &str| {
            w.connection()
                .unwrap()
                .db()
                .query_opt(&format!("PRAGMA {name}"), &[])
                .unwrap()
                .and_then(|r| r.int(0))
        };
        let persons = writer
            .connection()
            .unwrap()
            .db()
            .query_opt("SELECT count(*) FROM persons", &[])
            .unwrap()
            .and_then(|r| r.int(0));
        assert_eq!(persons, Some(1), "{}", db.label);
        if db.label != "sqlite" {
            // Nothing to tune on PostgreSQL: each kind of transaction just gets the connection.
            for kind in [WriteKind::Small, WriteKind::Batch, WriteKind::Application] {
                writer.prepare(kind).unwrap();
                writer.committed(kind);
            }
            continue;
        }
        // The whole file through a memory map: SQLite answers the size it took, capped at the
        // SQLITE_MAX_MMAP_SIZE it was built with (2 GB unless .cargo/config.toml's flag
        // reached the build): a terabyte means the flag took.
        assert_eq!(pragma(&mut writer, "mmap_size"), Some(1 << 40));
        // A 1 GiB page cache (a negative size is in KiB).
        assert_eq!(pragma(&mut writer, "cache_size"), Some(-(1 << 20)));
        // Single events keep SQLite's own checkpoint threshold; larger groups wait for 64 MiB;
        // applications leave the WAL to the checkpointer thread.
        writer.prepare(WriteKind::Small).unwrap();
        assert_eq!(pragma(&mut writer, "wal_autocheckpoint"), Some(1_000));
        writer.prepare(WriteKind::Batch).unwrap();
        assert_eq!(pragma(&mut writer, "wal_autocheckpoint"), Some(16_000));
        writer.prepare(WriteKind::Application).unwrap();
        assert_eq!(pragma(&mut writer, "wal_autocheckpoint"), Some(0));
        // After an error the connection is opened (and tuned) again.
        writer.reset();
        assert_eq!(pragma(&mut writer, "cache_size"), Some(-(1 << 20)));
    }
}

#[test]
fn text_with_tabs_and_backslashes_round_trips() {
    for db in all_dbs() {
        let mut s = db.open();
        write_one(s.as_mut(), true);
        // Read back through the concrete backend.
        let (addr, family): (String, String) = if db.label == "sqlite" {
            let st = vamos_store::SqliteStore::open(db.url.trim_start_matches("sqlite:")).unwrap();
            st.connection()
                .query_row("SELECT h.address, p.family_names FROM households h JOIN persons p ON p.household_id = h.id", [], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
        } else {
            let mut st = vamos_store::PostgresStore::connect(&db.url).unwrap();
            let r = st
                .client()
                .query_one("SELECT h.address, p.family_names FROM households h JOIN persons p ON p.household_id = h.id", &[])
                .unwrap();
            (r.get(0), r.get(1))
        };
        assert_eq!(addr, "Calle 1\tcon tab", "{}", db.label);
        assert_eq!(family, "Benítez\\Ayala", "{}", db.label);
    }
}

#[test]
fn answer_columns_match_the_domain_schema() {
    for db in all_dbs() {
        let _ = db.open();
        for (table, fields) in [
            ("households", HOUSEHOLD_FIELDS),
            ("persons", PERSON_FIELDS),
            ("community_surveys", COMMUNITY_FIELDS),
        ] {
            let cols: Vec<String> = if db.label == "sqlite" {
                let st =
                    vamos_store::SqliteStore::open(db.url.trim_start_matches("sqlite:")).unwrap();
                let mut q = st
                    .connection()
                    .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
                    .unwrap();
                q.query_map([], |r| r.get(0))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect()
            } else {
                let mut st = vamos_store::PostgresStore::connect(&db.url).unwrap();
                st.client()
                    .query(
                        "SELECT column_name FROM information_schema.columns WHERE table_name = $1",
                        &[&table],
                    )
                    .unwrap()
                    .iter()
                    .map(|r| r.get(0))
                    .collect()
            };
            for f in fields {
                assert!(
                    cols.iter().any(|c| c == f.name),
                    "{} {table}.{} missing",
                    db.label,
                    f.name
                );
            }
        }
    }
}

#[test]
fn postgres_suite_is_not_silently_skipped_in_ci() {
    // CI exports VAMOS_CI_REQUIRE_POSTGRES=1 together with the server URL.
    if std::env::var("VAMOS_CI_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
        assert!(
            vamos_store::testing::postgres_db().is_some(),
            "CI requires {}",
            vamos_store::testing::POSTGRES_ENV
        );
    }
}

/// Records every row a load delivers, in order within each kind (the parallel load delivers
/// the events before the persons; each kind keeps its order).
#[derive(Default, Debug, PartialEq)]
struct Recorder {
    units: Vec<String>,
    persons: Vec<String>,
    events: Vec<String>,
}

impl Recorder {
    fn len(&self) -> usize {
        self.units.len() + self.persons.len() + self.events.len()
    }
}

impl RegistrySink for Recorder {
    fn community(&mut self, r: &CommunityRow<'_>) {
        self.units.push(format!("c{} {}", r.id, r.district));
    }
    fn household(&mut self, r: &HouseholdRow<'_>) {
        self.units.push(format!(
            "h{} c{} {}",
            r.id, r.community_id, r.interview_date
        ));
    }
    fn person(&mut self, r: &PersonRow<'_>) {
        self.persons.push(format!(
            "p{} h{} {} {:?}",
            r.id, r.household_id, r.birth_date, r.answers
        ));
    }
    fn admin_event(&mut self, r: &AdminEventRow<'_>) {
        self.events.push(format!(
            "e{} {:?} {} {}",
            r.person_id, r.source, r.service, r.event_date
        ));
    }
}

impl PartitionedSink for Recorder {
    fn part(&self) -> Recorder {
        Recorder::default()
    }
    fn absorb(&mut self, part: Recorder) {
        assert!(part.units.is_empty(), "units are read into the sink itself");
        self.persons.extend(part.persons);
        self.events.extend(part.events);
    }
}

#[test]
fn parallel_load_reads_exactly_what_the_sequential_load_reads() {
    for db in all_dbs() {
        let mut store = db.open();
        write_many(store.as_mut(), 3, 7);
        for territory in ["PY", "11", "1116", "0218"] {
            let t = TerritoryCode::parse(territory).unwrap();
            let mut sequential = Recorder::default();
            store.load_registry(t, &now(), &mut sequential).unwrap();
            for readers in [1, 2, 3] {
                let mut parallel = Recorder::default();
                vamos_store::load_registry_parallel(
                    store.as_mut(),
                    t,
                    &now(),
                    &mut parallel,
                    readers,
                    i64::MAX,
                )
                .unwrap();
                assert_eq!(parallel, sequential, "{} {territory} {readers}", db.label);
            }
            // One community, three households, seven persons with one event each.
            let expected = if territory == "0218" {
                0
            } else {
                1 + 3 + 7 + 7
            };
            assert_eq!(sequential.len(), expected, "{} {territory}", db.label);
            let bounds = store.person_id_bounds(t).unwrap();
            assert_eq!(bounds.is_some(), expected > 0, "{} {territory}", db.label);
        }
        // The snapshots are closed: the connection can write again.
        write_one(store.as_mut(), true);
    }
}

#[test]
fn load_communities_reads_whole_communities() {
    for db in all_dbs() {
        let mut store = db.open();
        write_one(store.as_mut(), true); // community 1: one household, person 1
        write_many(store.as_mut(), 3, 7); // community 2: three households, persons 2..=8
        let villeta = TerritoryCode::parse("1116").unwrap();
        let mut whole = Recorder::default();
        store.load_registry(villeta, &now(), &mut whole).unwrap();
        // Events come in no particular order (the engine sorts them by person and date).
        whole.events.sort();
        let load = |store: &mut dyn Store, ids: &[i64]| {
            let mut r = Recorder::default();
            store
                .load_communities(ids, i64::MAX, &now(), &mut r)
                .unwrap();
            r.events.sort();
            r
        };
        let first = load(store.as_mut(), &[1]);
        assert_eq!(first.len(), 1 + 1 + 1 + 1, "{}", db.label);
        let second = load(store.as_mut(), &[2]);
        assert_eq!(second.units.len(), 1 + 3, "{}", db.label);
        assert_eq!(second.persons.len(), 7, "{}", db.label);
        assert_eq!(second.events.len(), 7, "{}", db.label);
        // Both communities are the whole district, row for row and in order.
        assert_eq!(load(store.as_mut(), &[1, 2]), whole, "{}", db.label);
        // Unknown communities, or none: nothing.
        assert_eq!(load(store.as_mut(), &[999]).len(), 0, "{}", db.label);
        assert_eq!(load(store.as_mut(), &[]).len(), 0, "{}", db.label);
        // Counter-referrals count up to the id given.
        use vamos_store::counter_referrals::{insert_counter_referrals, locate_persons};
        let (by_id, _) = locate_persons(&mut store.db(), &[3], &[]).unwrap();
        let event = prenatal_event(by_id[&3], "e1", "d1");
        let answers = Default::default();
        let stored =
            insert_counter_referrals(&mut store.db(), &[event], &answers, "2026-11-23T10:00:00Z")
                .unwrap();
        let vamos_store::counter_referrals::Outcome::Stored { id, .. } = stored[0] else {
            panic!("{stored:?}")
        };
        let upto = |store: &mut dyn Store, through: i64| {
            let mut r = Recorder::default();
            store
                .load_communities(&[2], through, &now(), &mut r)
                .unwrap();
            r.events.sort();
            r.events
        };
        assert_eq!(upto(store.as_mut(), id - 1), second.events, "{}", db.label);
        let with = upto(store.as_mut(), id);
        assert_eq!(with.len(), 8, "{}", db.label);
        assert!(
            with.contains(&"e3 CounterReferral(\"MSPBS\") control_prenatal 2026-11-20".to_string()),
            "{} {with:?}",
            db.label
        );
    }
}

/// One import of one community with `households` households and `persons` persons dealt
/// round-robin over them (so a household's members are not contiguous by id), each person with
/// one administrative event.
fn write_many(store: &mut dyn Store, households: i64, persons: i64) {
    let mut tx = store.begin_import(&meta()).unwrap();
    let import_id = tx.import_id();
    let s = tx.snapshot(SnapshotNeeds::default()).unwrap();
    let villeta = DistrictCode::try_from("1116").unwrap();
    let provenance = Provenance {
        import_id,
        file_no: 0,
        row: 2,
    };
    tx.insert_communities(&[Community {
        id: s.next_community_id,
        district: villeta,
        name: "Compañía Mbocayaty".into(),
        area: Some("rural".into()),
    }])
    .unwrap();
    let hh: Vec<Household> = (0..households)
        .map(|k| Household {
            id: s.next_household_id + k,
            submission_key: format!("m-{k}"),
            district: villeta,
            community_id: s.next_community_id,
            area: Some("rural".into()),
            address: None,
            latitude: None,
            longitude: None,
            interview_date: d("2026-10-01"),
            form: ImportKind::Fips,
            answers: vec![Value::Null; HOUSEHOLD_FIELDS.len()],
            provenance,
        })
        .collect();
    tx.insert_households(&hh).unwrap();
    let pp: Vec<Person> = (0..persons)
        .map(|k| {
            let mut answers = vec![Value::Null; PERSON_FIELDS.len()];
            answers[0] = Value::Code(if k % 2 == 0 { "si" } else { "no" });
            Person {
                id: s.next_person_id + k,
                household_id: s.next_household_id + k % households,
                submission_key: format!("m-{}/miembros[{k}]", k % households),
                given_names: "Ana".into(),
                family_names: "Ruiz".into(),
                national_id: None,
                birth_date: d("2000-01-01") + chrono::Days::new(k as u64),
                sex: Sex::Mujer,
                relationship: if k < households { "jefe" } else { "hijo" }.into(),
                answers,
                provenance,
            }
        })
        .collect();
    tx.insert_persons(&pp).unwrap();
    let aa: Vec<AdminRecord> = (0..persons)
        .map(|k| AdminRecord {
            id: s.next_admin_id + k,
            institution: "MEC".into(),
            record_key: format!("mec-{k}"),
            national_id: None,
            person_id: Some(s.next_person_id + k),
            given_names: None,
            family_names: None,
            birth_date: None,
            sex: None,
            district: Some(villeta),
            service: "matricula".into(),
            event_date: d("2026-03-01"),
            detail: None,
            provenance,
        })
        .collect();
    tx.insert_admin_records(&aa).unwrap();
    tx.commit("2026-11-23T10:01:00Z", "{}").unwrap();
}

#[test]
fn grouped_counter_referrals_settle_duplicates_and_conflicts_in_one_commit() {
    use vamos_store::counter_referrals::{insert_counter_referrals, locate_persons, Outcome};
    for db in all_dbs() {
        let mut s = db.open();
        write_one(s.as_mut(), true);
        let (by_id, _) = locate_persons(&mut s.db(), &[1], &[]).unwrap();
        let person = by_id[&1];
        let event = |key: &str, digest: &str| prenatal_event(person, key, digest);
        let answers = Default::default();
        // Two submissions grouped into one call: the second repeats the first's event (a
        // duplicate) and reuses its id with other content (a conflict).
        let first = insert_counter_referrals(
            &mut s.db(),
            &[
                event("e1", "d1"),
                event("e1", "d1"),
                event("e1", "d2"),
                event("e2", "d3"),
            ],
            &answers,
            "2026-11-23T10:00:00Z",
        )
        .unwrap();
        let Outcome::Stored {
            id: e1,
            referral: None,
        } = first[0]
        else {
            panic!("{}: {first:?}", db.label)
        };
        assert_eq!(first[1], Outcome::Duplicate { id: e1 }, "{}", db.label);
        assert_eq!(first[2], Outcome::Conflict, "{}", db.label);
        assert!(
            matches!(first[3], Outcome::Stored { id, .. } if id == e1 + 1),
            "{}",
            db.label
        );
        // A later call sees what was committed.
        let again = insert_counter_referrals(
            &mut s.db(),
            &[event("e1", "d1"), event("e2", "otro")],
            &answers,
            "2026-11-23T10:00:01Z",
        )
        .unwrap();
        assert_eq!(
            again,
            vec![Outcome::Duplicate { id: e1 }, Outcome::Conflict],
            "{}",
            db.label
        );
        assert_eq!(counter_referrals(s.as_mut()), 2, "{}", db.label);
    }
}

/// How many counter-referrals are stored.
fn counter_referrals(s: &mut dyn Store) -> i64 {
    s.db()
        .query_opt("SELECT count(*) FROM counter_referrals", &[])
        .unwrap()
        .and_then(|r| r.int(0))
        .unwrap()
}

#[test]
fn counter_referrals_of_persons_not_in_the_registry_are_refused_whole() {
    use vamos_store::counter_referrals::{insert_counter_referrals, locate_persons};
    for db in all_dbs() {
        let mut s = db.open();
        write_one(s.as_mut(), true);
        let (by_id, _) = locate_persons(&mut s.db(), &[1], &[]).unwrap();
        let mut stranger = by_id[&1];
        stranger.person_id = 999_999;
        // SQLite by its foreign key, PostgreSQL by the check that replaced it (migration 0014):
        // the call fails, and the valid event sent in the same call is not kept either.
        let refused = insert_counter_referrals(
            &mut s.db(),
            &[
                prenatal_event(by_id[&1], "ok", "d1"),
                prenatal_event(stranger, "nadie", "d2"),
            ],
            &Default::default(),
            "2026-11-23T10:00:00Z",
        );
        assert!(refused.is_err(), "{}", db.label);
        if db.label == "postgres" {
            assert!(
                refused.unwrap_err().to_string().contains("persona 999999"),
                "{}",
                db.label
            );
        }
        assert_eq!(counter_referrals(s.as_mut()), 0, "{}", db.label);
    }
}

/// A prenatal check reported by MSPBS for `person` in Villeta.
/// Logs `events` as the server's writer does, with the outcomes as the follow-up's result.
fn log_group(
    sql: &mut vamos_store::Db<'_>,
    events: &[vamos_store::counter_referrals::NewCounterReferral],
    at: &str,
    known: &mut vamos_store::counter_referrals::KnownKeys,
) -> (
    Vec<vamos_store::counter_referrals::Outcome>,
    vamos_store::counter_referrals::Logged,
) {
    vamos_store::counter_referrals::log_counter_referrals_and(
        sql,
        events,
        &[],
        at,
        known,
        |_, o| Ok(o.to_vec()),
    )
    .unwrap()
}

fn prenatal_event(
    person: vamos_store::counter_referrals::PersonPlace,
    key: &str,
    digest: &str,
) -> vamos_store::counter_referrals::NewCounterReferral {
    vamos_store::counter_referrals::NewCounterReferral {
        institution: "MSPBS".into(),
        event_key: key.into(),
        digest: digest.into(),
        person,
        service: "control_prenatal".into(),
        delivered_on: "2026-11-20".into(),
        place: None,
        place_district: Some(1116),
        channel: "api".into(),
        received_by: "prueba".into(),
    }
}

/// A need of person 1 of Villeta for `service` (MSPBS, critical), as a referral generation
/// gives it.
fn person_one_need(service: &str) -> vamos_store::referrals::NewReferral {
    vamos_store::referrals::NewReferral {
        unit_kind: "persona",
        unit_id: 1,
        household_id: None,
        community_id: None,
        district_code: 1116,
        category: "gestacion".into(),
        service: service.into(),
        institution: "MSPBS".into(),
        priority: 1,
        unprotected: 1,
        populations: String::new(),
        critical: true,
        due_on: "2026-12-23".into(),
        deprivation: None,
    }
}

/// An empty measurement of Villeta (for referrals to hang on).
fn villeta_measurement(s: &mut dyn Store) -> i64 {
    s.save_measurement(
        &vamos_store::MeasurementMeta {
            as_of: d("2026-11-23"),
            catalogue_version: "prueba".into(),
            catalogue_label: "prueba".into(),
            territory: "1116".into(),
            synthetic: true,
            created_at: "2026-11-23T10:00:00Z".into(),
            details: "{}".into(),
            known_at: None,
        },
        &[],
    )
    .unwrap()
}

#[test]
fn logros_progress_is_saved_only_over_the_watermark_it_was_computed_from() {
    use vamos_store::counter_referrals::save_progress;
    for db in all_dbs() {
        let mut s = db.open();
        let m = villeta_measurement(s.as_mut());
        let saved = |s: &mut dyn Store| {
            let (rec, mut rows) = s.measurement(Some(m)).unwrap().unwrap();
            rows.sort();
            (rec.counter_referrals_applied_through, rows)
        };
        let at = "2026-11-24T10:00:00Z";
        let two = [(1116, "[1]".to_string()), (1101, "[2]".to_string())];
        assert!(
            save_progress(&mut s.db(), m, 0, 10, &two, at).unwrap(),
            "{}",
            db.label
        );
        let want = vec![(1101, "[2]".to_string()), (1116, "[1]".to_string())];
        assert_eq!(saved(s.as_mut()), (10, want.clone()), "{}", db.label);
        // Computed from a watermark another updater has moved since: nothing is written.
        let late = [(1116, "[9]".to_string())];
        assert!(
            !save_progress(&mut s.db(), m, 0, 20, &late, at).unwrap(),
            "{}",
            db.label
        );
        assert_eq!(saved(s.as_mut()), (10, want), "{}", db.label);
        // A district stored before is replaced, one not stored is added, the others kept.
        let next = [(1116, "[3]".to_string()), (1102, "[4]".to_string())];
        assert!(
            save_progress(&mut s.db(), m, 10, 20, &next, at).unwrap(),
            "{}",
            db.label
        );
        let want = vec![
            (1101, "[2]".to_string()),
            (1102, "[4]".to_string()),
            (1116, "[3]".to_string()),
        ];
        assert_eq!(saved(s.as_mut()), (20, want.clone()), "{}", db.label);
        // No district moved: only the watermark.
        assert!(
            save_progress(&mut s.db(), m, 20, 25, &[], at).unwrap(),
            "{}",
            db.label
        );
        assert_eq!(saved(s.as_mut()), (25, want), "{}", db.label);
    }
}

/// Person 1 of Villeta registered, an empty measurement, and the answer of MSPBS's prenatal
/// checks (to person referrals for `control_prenatal`): (the person, the measurement, answers).
fn villeta_prenatal(
    s: &mut dyn Store,
) -> (
    vamos_store::counter_referrals::PersonPlace,
    i64,
    vamos_store::counter_referrals::AnswerMap,
) {
    write_one(s, true);
    let (by_id, _) =
        vamos_store::counter_referrals::locate_persons(&mut s.db(), &[1], &[]).unwrap();
    let m = villeta_measurement(s);
    let mut answers: vamos_store::counter_referrals::AnswerMap = Default::default();
    answers.insert(
        ("MSPBS".into(), "control_prenatal".into()),
        vec![("control_prenatal".into(), "persona")],
    );
    (by_id[&1], m, answers)
}

#[test]
fn the_writer_skips_the_lookup_of_referrals_never_made_and_catches_up_with_new_ones() {
    use vamos_store::counter_referrals::{
        apply_logged_counter_referrals, KnownKeys, ReferralUnits,
    };
    use vamos_store::referrals::sync_referrals;
    for db in all_dbs() {
        let mut s = db.open();
        let (person, m, answers) = villeta_prenatal(s.as_mut());
        let count =
            |s: &mut dyn Store, q: &str| s.db().query_opt(q, &[]).unwrap().and_then(|r| r.int(0));
        // Read before any referral exists: nothing held.
        let units = std::sync::RwLock::new(ReferralUnits::load(&mut s.db(), &answers).unwrap());
        assert!(units.read().unwrap().is_empty(), "{}", db.label);
        // Referrals generated afterwards (by any process): the prenatal one can be answered,
        // the other one no event code answers.
        sync_referrals(
            &mut s.db(),
            m,
            &[(1116, 1116)],
            &[
                person_one_need("control_prenatal"),
                person_one_need("vacunas_adultos"),
            ],
            "2026-11-23",
            "2026-11-23T10:00:00Z",
            "prueba",
        )
        .unwrap();
        let mut known = KnownKeys::load(&mut s.db()).unwrap();
        log_group(
            &mut s.db(),
            &[prenatal_event(person, "e1", "d1")],
            "2026-11-23T10:01:00Z",
            &mut known,
        );
        // Applied with the fingerprints read before the referral: caught up first, so the
        // event answers it.
        assert_eq!(
            apply_logged_counter_referrals(&mut s.db(), &answers, 10, Some(&units)).unwrap(),
            Applied::Events(1),
            "{}",
            db.label
        );
        assert_eq!(
            count(
                s.as_mut(),
                "SELECT count(*) FROM referrals WHERE status = 'atendida' AND service = 'control_prenatal' AND counter_referral_id IS NOT NULL"
            ),
            Some(1),
            "{}",
            db.label
        );
        assert_eq!(units.read().unwrap().len(), 1, "{}", db.label);
        assert!(
            units
                .read()
                .unwrap()
                .may_have("persona", 1, "control_prenatal"),
            "{}",
            db.label
        );
        assert!(
            !units
                .read()
                .unwrap()
                .may_have("persona", 1, "vacunas_adultos"),
            "{}",
            db.label
        );
        assert!(
            !units
                .read()
                .unwrap()
                .may_have("persona", 2, "control_prenatal"),
            "{}",
            db.label
        );
        // A second prenatal check: the referral is served already, so it answers nothing.
        log_group(
            &mut s.db(),
            &[prenatal_event(person, "e2", "d2")],
            "2026-11-23T10:02:00Z",
            &mut known,
        );
        apply_logged_counter_referrals(&mut s.db(), &answers, 10, Some(&units)).unwrap();
        assert_eq!(
            count(
                s.as_mut(),
                "SELECT count(*) FROM counter_referrals WHERE referral_id IS NULL"
            ),
            Some(1),
            "{}",
            db.label
        );
        // Referrals deleted by hand: read again from scratch.
        s.db()
            .batch("UPDATE counter_referrals SET referral_id = NULL; DELETE FROM referral_events; DELETE FROM referrals")
            .unwrap();
        units.write().unwrap().catch_up(&mut s.db()).unwrap();
        assert!(units.read().unwrap().is_empty(), "{}", db.label);
        assert_eq!(
            count(s.as_mut(), "SELECT count(*) FROM counter_referrals"),
            Some(2),
            "{}",
            db.label
        );
    }
}

#[test]
#[allow(clippy::too_many_lines)] // reason: a scenario test, to be split into one test per behaviour
fn logged_counter_referrals_are_acknowledged_first_and_applied_later_in_order() {
    use vamos_store::counter_referrals::{
        apply_logged_counter_referrals, insert_counter_referrals, insert_counter_referrals_and,
        locate_persons, logged_counter_referrals, KnownKeys, Logged, Outcome,
    };
    use vamos_store::referrals::sync_referrals;
    for db in all_dbs() {
        let mut s = db.open();
        write_one(s.as_mut(), true);
        let (by_id, _) = locate_persons(&mut s.db(), &[1], &[]).unwrap();
        let person = by_id[&1];
        let m = villeta_measurement(s.as_mut());
        let need = person_one_need("control_prenatal");
        sync_referrals(
            &mut s.db(),
            m,
            &[(1116, 1116)],
            &[need],
            "2026-11-23",
            "2026-11-23T10:00:00Z",
            "prueba",
        )
        .unwrap();
        let event = |key: &str, digest: &str| prenatal_event(person, key, digest);
        let mut answers: vamos_store::counter_referrals::AnswerMap = Default::default();
        answers.insert(
            ("MSPBS".into(), "control_prenatal".into()),
            vec![("control_prenatal".into(), "persona")],
        );
        let count =
            |s: &mut dyn Store, q: &str| s.db().query_opt(q, &[]).unwrap().and_then(|r| r.int(0));
        // One stored the usual way (answering nothing) before the writer read its fingerprints.
        let before = insert_counter_referrals(
            &mut s.db(),
            &[event("e0", "d0")],
            &Default::default(),
            "2026-11-23T10:00:00Z",
        )
        .unwrap();
        let Outcome::Stored { id: e0, .. } = before[0] else {
            panic!("{before:?}")
        };
        let mut known = KnownKeys::load(&mut s.db()).unwrap();
        assert_eq!(known.len(), 1, "{}", db.label);
        // A group is logged: new events get ids, nothing is read per event, nothing applied.
        let (outcomes, report) = log_group(
            &mut s.db(),
            &[
                event("e1", "d1"),
                event("e2", "d2"),
                event("e1", "d1"),
                event("e2", "otro"),
            ],
            "2026-11-23T10:01:00Z",
            &mut known,
        );
        assert_eq!(
            outcomes,
            vec![
                Outcome::Logged { id: e0 + 1 },
                Outcome::Logged { id: e0 + 2 },
                Outcome::Duplicate { id: e0 + 1 },
                Outcome::Conflict
            ],
            "{}",
            db.label
        );
        assert_eq!(report, Logged { logged: 2 }, "{}", db.label);
        assert_eq!(
            logged_counter_referrals(&mut s.db()).unwrap(),
            2,
            "{}",
            db.label
        );
        assert_eq!(
            count(s.as_mut(), "SELECT count(*) FROM counter_referrals"),
            Some(1),
            "{}",
            db.label
        );
        // Another process stores an event meanwhile (the command-line import): it applies the
        // log first, so ids stay in order and a re-send of a logged event is recognised.
        let cli = insert_counter_referrals(
            &mut s.db(),
            &[event("e2", "d2"), event("e3", "d3")],
            &answers,
            "2026-11-23T10:02:00Z",
        )
        .unwrap();
        assert_eq!(
            cli,
            vec![
                Outcome::Duplicate { id: e0 + 2 },
                Outcome::Stored {
                    id: e0 + 3,
                    referral: None
                }
            ],
            "{}",
            db.label
        );
        assert_eq!(
            logged_counter_referrals(&mut s.db()).unwrap(),
            0,
            "{}",
            db.label
        );
        // The logged event answered the open referral when applied.
        assert_eq!(
            count(
                s.as_mut(),
                "SELECT counter_referral_id FROM referrals WHERE status = 'atendida'"
            ),
            Some(e0 + 1),
            "{}",
            db.label
        );
        assert_eq!(
            count(
                s.as_mut(),
                &format!(
                    "SELECT referral_id FROM counter_referrals WHERE id = {}",
                    e0 + 1
                )
            ),
            count(
                s.as_mut(),
                "SELECT id FROM referrals WHERE status = 'atendida'"
            ),
            "{}",
            db.label
        );
        // The writer's next group catches up with what the other process stored: its re-send
        // is a duplicate, not a second row (it would break the unique key when applied).
        let (again, report) = log_group(
            &mut s.db(),
            &[event("e3", "d3"), event("e4", "d4"), event("e5", "d5")],
            "2026-11-23T10:03:00Z",
            &mut known,
        );
        assert_eq!(
            again,
            vec![
                Outcome::Duplicate { id: e0 + 3 },
                Outcome::Logged { id: e0 + 4 },
                Outcome::Logged { id: e0 + 5 }
            ],
            "{}",
            db.label
        );
        assert_eq!(report.logged, 2, "{}", db.label);
        // Fingerprints read afresh (a restart) hold the logged events too.
        let reread = KnownKeys::load(&mut s.db()).unwrap();
        assert_eq!(reread.len(), 6, "{}", db.label);
        assert!(reread.may_contain("MSPBS", "e5"), "{}", db.label);
        // Applied in chunks of at least one logged group, in order, each leaving the log.
        assert_eq!(
            apply_logged_counter_referrals(&mut s.db(), &answers, 1, None).unwrap(),
            Applied::Events(2),
            "{}",
            db.label
        );
        assert_eq!(
            apply_logged_counter_referrals(&mut s.db(), &answers, 1, None).unwrap(),
            Applied::Empty,
            "{}",
            db.label
        );
        if db.label == "sqlite" {
            // The application ran without the foreign-key probe; the connection has it again.
            assert_eq!(
                count(s.as_mut(), "PRAGMA foreign_keys"),
                Some(1),
                "{}",
                db.label
            );
        }
        assert_eq!(
            count(s.as_mut(), "SELECT count(*) FROM counter_referrals"),
            Some(6),
            "{}",
            db.label
        );
        assert_eq!(
            count(s.as_mut(), "SELECT count(*) FROM counter_referral_log"),
            Some(0),
            "{}",
            db.label
        );
        assert_eq!(
            count(s.as_mut(), &format!("SELECT count(*) FROM counter_referrals WHERE received_at = '2026-11-23T10:03:00Z' AND id > {}", e0 + 3)),
            Some(2),
            "{}: applied events keep the time they were received",
            db.label
        );
        // The writer's small group, stored at once, adds its events to
        // the fingerprints: re-sent in a later logged group, a duplicate.
        let small = insert_counter_referrals_and(
            &mut s.db(),
            &[event("e6", "d6")],
            &answers,
            "2026-11-23T10:03:30Z",
            Some(&mut known),
            |_, o| Ok(o.to_vec()),
        )
        .unwrap();
        assert_eq!(
            small,
            vec![Outcome::Stored {
                id: e0 + 6,
                referral: None
            }],
            "{}",
            db.label
        );
        assert_eq!(
            logged_counter_referrals(&mut s.db()).unwrap(),
            0,
            "{}",
            db.label
        );
        let (resent, _) = log_group(
            &mut s.db(),
            &[event("e6", "d6")],
            "2026-11-23T10:03:40Z",
            &mut known,
        );
        assert_eq!(
            resent,
            vec![Outcome::Duplicate { id: e0 + 6 }],
            "{}",
            db.label
        );
    }
}

#[test]
fn a_resent_event_still_in_the_log_is_recognised_without_applying_the_log() {
    use vamos_store::counter_referrals::{
        apply_logged_counter_referrals, locate_persons, logged_counter_referrals, KnownKeys,
        Outcome,
    };
    for db in all_dbs() {
        let mut s = db.open();
        write_one(s.as_mut(), true);
        let (by_id, _) = locate_persons(&mut s.db(), &[1], &[]).unwrap();
        let person = by_id[&1];
        let event = |key: &str, digest: &str| prenatal_event(person, key, digest);
        let mut known = KnownKeys::load(&mut s.db()).unwrap();
        // More groups than the log is read at a time: the re-sends are found on every page.
        let mut ids = Vec::new();
        for i in 0..40 {
            let (o, _) = log_group(
                &mut s.db(),
                &[event(&format!("g{i}"), "d")],
                "2026-11-23T10:00:00Z",
                &mut known,
            );
            let [Outcome::Logged { id }] = o[..] else {
                panic!("{o:?}")
            };
            ids.push(id);
        }
        let (resent, report) = log_group(
            &mut s.db(),
            &[
                event("g0", "d"),
                event("g39", "otro"),
                event("g21", "d"),
                event("nuevo", "d"),
            ],
            "2026-11-23T10:01:00Z",
            &mut known,
        );
        assert_eq!(
            resent,
            vec![
                Outcome::Duplicate { id: ids[0] },
                Outcome::Conflict,
                Outcome::Duplicate { id: ids[21] },
                Outcome::Logged { id: ids[39] + 1 }
            ],
            "{}",
            db.label
        );
        assert_eq!(report.logged, 1, "{}", db.label);
        // Recognised in the log: nothing was applied to look them up.
        assert_eq!(
            logged_counter_referrals(&mut s.db()).unwrap(),
            41,
            "{}",
            db.label
        );
        // Half applied: the re-sends are found in the table and in the log alike.
        assert_eq!(
            apply_logged_counter_referrals(&mut s.db(), &Default::default(), 20, None).unwrap(),
            Applied::Events(20),
            "{}",
            db.label
        );
        let (again, _) = log_group(
            &mut s.db(),
            &[event("g3", "d"), event("g30", "d"), event("nuevo", "d")],
            "2026-11-23T10:02:00Z",
            &mut known,
        );
        assert_eq!(
            again,
            vec![
                Outcome::Duplicate { id: ids[3] },
                Outcome::Duplicate { id: ids[30] },
                Outcome::Duplicate { id: ids[39] + 1 }
            ],
            "{}",
            db.label
        );
    }
}

#[test]
fn lines_encoded_ahead_are_logged_as_given_only_when_every_event_of_their_run_is_new() {
    use vamos_store::counter_referrals::{
        apply_logged_counter_referrals, insert_counter_referrals, locate_persons,
        log_counter_referrals_and, KnownKeys, Outcome,
    };
    use vamos_store::intake_log::push_events;
    for db in all_dbs() {
        let mut s = db.open();
        write_one(s.as_mut(), true);
        let (by_id, _) = locate_persons(&mut s.db(), &[1], &[]).unwrap();
        let person = by_id[&1];
        let event = |key: &str| prenatal_event(person, key, key);
        let answers = Default::default();
        let at = "2026-11-23T10:00:00Z";
        insert_counter_referrals(&mut s.db(), &[event("viejo")], &answers, at).unwrap();
        let mut known = KnownKeys::load(&mut s.db()).unwrap();
        // Two submissions, each encoded ahead; the second re-sends an event stored before.
        let first = [event("a1"), event("a2")];
        let second = [event("b1"), event("viejo"), event("b2")];
        let mut lines = (String::new(), String::new());
        push_events(&mut lines.0, &first);
        push_events(&mut lines.1, &second);
        // Markers show which lines were used: the first run's as given (all new), the second
        // re-encoded (as given they would log "viejo" again).
        lines.0 = lines.0.replace("a2", "A2-AS-GIVEN");
        lines.1 = lines.1.replace("b1", "B1-AS-GIVEN");
        let rows: Vec<&vamos_store::counter_referrals::NewCounterReferral> =
            first.iter().chain(&second).collect();
        let runs = [(2, Some(lines.0.as_str())), (3, Some(lines.1.as_str()))];
        let (outcomes, report) =
            log_counter_referrals_and(&mut s.db(), &rows, &runs, at, &mut known, |_, o| {
                Ok(o.to_vec())
            })
            .unwrap();
        assert_eq!(report.logged, 4, "{}", db.label);
        assert!(
            matches!(outcomes[3], Outcome::Duplicate { .. }),
            "{outcomes:?} {}",
            db.label
        );
        apply_logged_counter_referrals(&mut s.db(), &answers, 1000, None).unwrap();
        let keys: Vec<String> = s
            .db()
            .query("SELECT event_key FROM counter_referrals ORDER BY id", &[])
            .unwrap()
            .iter()
            .map(|r| r.text(0))
            .collect();
        assert_eq!(
            keys,
            ["viejo", "a1", "A2-AS-GIVEN", "b1", "b2"],
            "{}",
            db.label
        );
        // Runs that do not add up to the events are ignored: everything encoded here.
        let third = [event("c1"), event("c2")];
        let rows: Vec<&vamos_store::counter_referrals::NewCounterReferral> = third.iter().collect();
        let wrong = [(1, Some("basura\n"))];
        log_counter_referrals_and(&mut s.db(), &rows, &wrong, at, &mut known, |_, _| Ok(()))
            .unwrap();
        apply_logged_counter_referrals(&mut s.db(), &answers, 1000, None).unwrap();
        let n = s
            .db()
            .query_opt(
                "SELECT count(*) FROM counter_referrals WHERE event_key IN ('c1', 'c2')",
                &[],
            )
            .unwrap()
            .and_then(|r| r.int(0));
        assert_eq!(n, Some(2), "{}", db.label);
    }
}

#[test]
fn referrals_ordered_by_deprivation_put_the_most_deprived_first_and_unknown_last() {
    use vamos_store::referrals::{referrals, sync_referrals, ReferralFilter};
    for db in all_dbs() {
        let mut s = db.open();
        let m = villeta_measurement(s.as_mut());
        // Priorities against deprivations: the orders disagree.
        let needs: Vec<_> = [(5, Some(1000)), (9, None), (1, Some(4200)), (7, Some(2500))]
            .into_iter()
            .enumerate()
            .map(
                |(i, (priority, deprivation))| vamos_store::referrals::NewReferral {
                    unit_id: i as i64 + 1,
                    priority,
                    deprivation,
                    ..person_one_need("control_prenatal")
                },
            )
            .collect();
        sync_referrals(
            &mut s.db(),
            m,
            &[(1116, 1116)],
            &needs,
            "2026-11-23",
            "2026-11-23T10:00:00Z",
            "prueba",
        )
        .unwrap();
        let mut order = |by_deprivation| -> Vec<(i64, Option<f64>)> {
            referrals(
                &mut s.db(),
                &ReferralFilter {
                    by_deprivation,
                    ..Default::default()
                },
            )
            .unwrap()
            .into_iter()
            .map(|(r, _)| (r.unit_id, r.deprivation_score))
            .collect()
        };
        assert_eq!(
            order(true),
            vec![(3, Some(0.42)), (4, Some(0.25)), (1, Some(0.1)), (2, None)],
            "{}",
            db.label
        );
        let by_priority: Vec<i64> = order(false).into_iter().map(|(u, _)| u).collect();
        assert_eq!(by_priority, vec![2, 4, 1, 3], "{}", db.label);
    }
}

#[test]
fn an_open_referral_without_a_score_gets_its_households_on_the_next_generation() {
    use vamos_store::referrals::{referrals, sync_referrals, ReferralFilter};
    for db in all_dbs() {
        let mut s = db.open();
        let m = villeta_measurement(s.as_mut());
        let mut sync = |deprivation| {
            let need = vamos_store::referrals::NewReferral {
                deprivation,
                ..person_one_need("control_prenatal")
            };
            sync_referrals(
                &mut s.db(),
                m,
                &[(1116, 1116)],
                &[need],
                "2026-11-23",
                "2026-11-23T10:00:00Z",
                "prueba",
            )
            .unwrap();
            let rows = referrals(&mut s.db(), &ReferralFilter::default()).unwrap();
            assert_eq!(rows.len(), 1, "{}", db.label);
            rows[0].0.deprivation_score
        };
        assert_eq!(sync(None), None);
        assert_eq!(sync(Some(3000)), Some(0.3), "{}", db.label);
        // Kept as issued: a later score does not replace it.
        assert_eq!(sync(Some(5000)), Some(0.3), "{}", db.label);
    }
}

#[test]
fn referral_generation_writes_many_referrals_in_slices_and_keeps_them_on_a_rerun() {
    use vamos_store::referrals::{sync_referrals, NewReferral};
    for db in all_dbs() {
        let mut s = db.open();
        let m = villeta_measurement(s.as_mut());
        // More than one slice of rows (10,000), and a need repeated.
        let needs: Vec<NewReferral> = (0..25_001)
            .map(|k| NewReferral {
                unit_kind: "persona",
                unit_id: (k % 25_000) + 1,
                household_id: None,
                community_id: None,
                district_code: 1116,
                category: "gestacion".into(),
                service: "control_prenatal".into(),
                institution: "MSPBS".into(),
                priority: 1,
                unprotected: 1,
                populations: String::new(),
                critical: true,
                due_on: "2026-12-23".into(),
                deprivation: Some(k % 7),
            })
            .collect();
        let sync = |s: &mut dyn Store| {
            sync_referrals(
                &mut s.db(),
                m,
                &[(1116, 1116)],
                &needs,
                "2026-11-23",
                "2026-11-23T10:00:00Z",
                "prueba",
            )
            .unwrap()
        };
        let first = sync(s.as_mut());
        assert_eq!((first.created, first.kept), (25_000, 0), "{}", db.label);
        let count = |s: &mut dyn Store, q: &str| s.db().query(q, &[]).unwrap()[0].int(0).unwrap();
        assert_eq!(
            count(s.as_mut(), "SELECT count(*) FROM referrals"),
            25_000,
            "{}",
            db.label
        );
        assert_eq!(
            count(s.as_mut(), "SELECT count(*) FROM referral_events"),
            25_000,
            "{}",
            db.label
        );
        let again = sync(s.as_mut());
        assert_eq!((again.created, again.kept), (0, 25_000), "{}", db.label);
        assert_eq!(
            count(s.as_mut(), "SELECT count(*) FROM referrals"),
            25_000,
            "{}",
            db.label
        );
    }
}

#[test]
fn planner_statistics_are_refreshed_once_a_table_has_grown() {
    use vamos_store::sql::refresh_statistics_if_stale;
    for db in all_dbs() {
        let mut s = db.open();
        let sql = &mut s.db();
        if db.label == "sqlite" {
            assert!(!refresh_statistics_if_stale(sql, "persons").unwrap());
            continue;
        }
        sql.batch("CREATE TABLE grow_t (id BIGINT); ANALYZE grow_t")
            .unwrap();
        sql.batch("INSERT INTO grow_t SELECT generate_series(1, 5000)")
            .unwrap();
        // The server's activity counters reach the statistics views within about a second.
        let mut refreshed = false;
        for _ in 0..50 {
            if refresh_statistics_if_stale(sql, "grow_t").unwrap() {
                refreshed = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert!(
            refreshed,
            "5,000 rows after an ANALYZE of none must refresh the statistics"
        );
        let analysed = sql
            .query_opt(
                "SELECT reltuples FROM pg_class WHERE relname = 'grow_t'",
                &[],
            )
            .unwrap()
            .and_then(|r| r.at(0).real());
        assert_eq!(analysed, Some(5000.0));
        std::thread::sleep(std::time::Duration::from_millis(1200));
        assert!(
            !refresh_statistics_if_stale(sql, "grow_t").unwrap(),
            "fresh now"
        );
    }
}

#[test]
fn counter_referrals_and_their_audit_records_commit_or_roll_back_together() {
    use vamos_store::counter_referrals::{
        insert_counter_referrals_and, locate_persons, NewCounterReferral,
    };
    use vamos_store::{audit, AuditEntry};
    for db in all_dbs() {
        let mut s = db.open();
        write_one(s.as_mut(), true);
        let (by_id, _) = locate_persons(&mut s.db(), &[1], &[]).unwrap();
        let event = |key: &str| NewCounterReferral {
            institution: "MSPBS".into(),
            event_key: key.into(),
            digest: key.into(),
            person: by_id[&1],
            service: "control_prenatal".into(),
            delivered_on: "2026-11-20".into(),
            place: None,
            place_district: None,
            channel: "api".into(),
            received_by: "prueba".into(),
        };
        let entry = |subject: &str| AuditEntry {
            at: "2026-11-23T10:00:00Z".into(),
            actor: "prueba".into(),
            action: "recibir contra-referencias".into(),
            subject_kind: "contra-referencias".into(),
            subject_id: subject.into(),
            purpose: "api".into(),
            outcome: "ok".into(),
            role: None,
            institution: Some("MSPBS".into()),
            request_id: None,
        };
        let key = audit::AuditKey::from_bytes(&[7; 32]).unwrap();
        // An earlier record, as the server's audit writer leaves one.
        audit::append(&mut s.db(), &key, &entry("antes")).unwrap();
        // SQLite statistics taken while the log was empty must not make the head's lookup scan
        // the whole log (it stays correct either way; this is the state the bench met).
        if db.label == "sqlite" {
            s.db().batch("ANALYZE").unwrap();
        }
        let count = |s: &mut Box<dyn Store>, table: &str| {
            s.db()
                .query_opt(&format!("SELECT count(*) FROM {table}"), &[])
                .unwrap()
                .and_then(|r| r.int(0))
                .unwrap()
        };
        let answers = Default::default();
        // Committed together.
        let ids = insert_counter_referrals_and(
            &mut s.db(),
            &[event("e1"), event("e2")],
            &answers,
            "2026-11-23T10:00:00Z",
            None,
            |sql, outcomes| {
                assert_eq!(outcomes.len(), 2);
                audit::append_in_tx(sql, &key, &[entry("1"), entry("2")]).map(|s| s.ids())
            },
        )
        .unwrap();
        assert_eq!(ids, vec![2, 3], "{}", db.label);
        assert_eq!(count(&mut s, "counter_referrals"), 2, "{}", db.label);
        assert_eq!(count(&mut s, "audit_log"), 3, "{}", db.label);
        // A failure after the audit records undoes the events too.
        let failed = insert_counter_referrals_and(
            &mut s.db(),
            &[event("e3")],
            &answers,
            "2026-11-23T10:00:01Z",
            None,
            |sql, _| {
                audit::append_in_tx(sql, &key, &[entry("3")])?;
                Err::<(), _>(vamos_store::StoreError::Invalid("prueba".into()))
            },
        );
        assert!(failed.is_err(), "{}", db.label);
        assert_eq!(count(&mut s, "counter_referrals"), 2, "{}", db.label);
        assert_eq!(count(&mut s, "audit_log"), 3, "{}", db.label);
        // The chain goes on from the committed records and verifies.
        let last = audit::append(&mut s.db(), &key, &entry("después")).unwrap();
        let (head_id, head) = last.head().unwrap();
        let checkpoint = audit::Checkpoint::seal(&key, head_id, head, "2026-11-23T10:00:02Z");
        let v = audit::verify(&mut s.db(), &key, Some(&checkpoint)).unwrap();
        assert_eq!((v.rows, v.broken), (4, None), "{}", db.label);
    }
}

#[test]
fn person_places_in_memory_answer_as_the_database_and_follow_later_imports() {
    use vamos_store::counter_referrals::locate_persons;
    use vamos_store::places::PersonPlaces;
    let sorted = |(by_id, by_cedula): vamos_store::counter_referrals::Located| {
        let mut ids: Vec<_> = by_id.into_iter().collect();
        ids.sort_by_key(|(k, _)| *k);
        let mut ced: Vec<_> = by_cedula
            .into_iter()
            .map(|(k, mut v)| {
                v.sort_by_key(|p| p.person_id);
                (k, v)
            })
            .collect();
        ced.sort_by_key(|(k, _)| *k);
        format!("{ids:?} {ced:?}")
    };
    for db in all_dbs() {
        let mut s = db.open();
        let first = write_one(s.as_mut(), true);
        let places = PersonPlaces::load(&mut s.db()).unwrap();
        assert_eq!(places.persons(), 1, "{}", db.label);
        let ids: Vec<i64> = (0..12).collect();
        let cedula = 1_234_560 + first;
        let cedulas = [cedula, 99_999];
        let from_db = sorted(locate_persons(&mut s.db(), &ids, &cedulas).unwrap());
        assert!(
            from_db.contains(&format!("({cedula}, [PersonPlace")),
            "{from_db}"
        );
        assert_eq!(
            sorted(places.locate(&mut s.db(), &ids, &cedulas).unwrap()),
            from_db,
            "{}",
            db.label
        );
        // A later import: its person is not held (found in the database all the same), and it
        // gives a held cédula to a second person — memory alone would answer one person.
        write_many(s.as_mut(), 3, 7);
        let newest = s
            .db()
            .query_opt("SELECT MAX(id) FROM persons", &[])
            .unwrap()
            .and_then(|r| r.int(0))
            .unwrap();
        s.db()
            .execute(
                "UPDATE persons SET national_id = $1 WHERE id = $2",
                &[cedula.into(), newest.into()],
            )
            .unwrap();
        let from_db = sorted(locate_persons(&mut s.db(), &ids, &cedulas).unwrap());
        assert!(
            from_db.contains(&format!("person_id: {newest}")),
            "{from_db}"
        );
        assert_eq!(
            sorted(places.locate(&mut s.db(), &ids, &cedulas).unwrap()),
            from_db,
            "{}: after a later import",
            db.label
        );
        // Read again, the copy holds everyone.
        let again = PersonPlaces::load(&mut s.db()).unwrap();
        assert_eq!(again.persons(), 8, "{}", db.label);
        assert_eq!(again.with_cedula(cedula).len(), 2, "{}", db.label);
    }
}

/// PostgreSQL: appliers of the intake log work side by side on connections of their own
/// (the server runs two by default). Each claims rows the others have not, a referral is
/// answered once however many appliers hold events for it, the Logros watermark never passes
/// an id still being applied, and ids given after rows were applied out of order never collide.
#[allow(clippy::too_many_lines)] // reason: a scenario test, to be split into one test per behaviour
#[test]
fn appliers_side_by_side_lose_nothing_answer_a_referral_once_and_keep_the_watermark_behind() {
    use vamos_store::counter_referrals::{
        apply_logged_counter_referrals, insert_counter_referrals, last_counter_referral,
        logged_counter_referrals, KnownKeys, ReferralUnits,
    };
    use vamos_store::referrals::sync_referrals;
    let Some(db) = vamos_store::testing::postgres_db() else {
        return;
    };
    let mut s = db.open();
    let (person, m, answers) = villeta_prenatal(s.as_mut());
    sync_referrals(
        &mut s.db(),
        m,
        &[(1116, 1116)],
        &[person_one_need("control_prenatal")],
        "2026-11-23",
        "2026-11-23T10:00:00Z",
        "prueba",
    )
    .unwrap();
    let count = |s: &mut dyn Store, q: &str| {
        s.db()
            .query_opt(q, &[])
            .unwrap()
            .and_then(|r| r.int(0))
            .unwrap()
    };
    let mut known = KnownKeys::load(&mut s.db()).unwrap();
    // Groups of 5 events, every one a prenatal check of person 1: all answer one referral.
    let group = |g: usize| -> Vec<_> {
        (0..5)
            .map(|i| prenatal_event(person, &format!("g{g}-{i}"), &format!("d{g}-{i}")))
            .collect()
    };
    let first_id = count(
        s.as_mut(),
        "SELECT COALESCE(MAX(id), 0) + 1 FROM counter_referrals",
    );

    // Two appliers, each on a group of its own, both find the referral open and wait for its
    // lock (held here): the first to take it answers it, the second finds it answered.
    for g in 0..2 {
        log_group(&mut s.db(), &group(g), "2026-11-23T10:01:00Z", &mut known);
    }
    let mut gate = db.open();
    gate.db().batch("BEGIN").unwrap();
    gate.db()
        .query("SELECT id FROM referrals FOR UPDATE", &[])
        .unwrap();
    std::thread::scope(|scope| {
        let racers: Vec<_> = (0..2)
            .map(|_| {
                let (db, answers) = (&db, &answers);
                scope.spawn(move || {
                    let mut c = db.open();
                    apply_logged_counter_referrals(&mut c.db(), answers, 5, None).unwrap()
                })
            })
            .collect();
        let mut waiting = 0;
        for _ in 0..1000 {
            waiting = count(
                s.as_mut(),
                "SELECT count(DISTINCT pid) FROM pg_locks WHERE NOT granted",
            );
            if waiting == 2 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        gate.db().batch("ROLLBACK").unwrap();
        assert_eq!(waiting, 2, "both appliers waited for the referral");
        for r in racers {
            assert_eq!(r.join().unwrap(), Applied::Events(5));
        }
    });
    assert_eq!(
        count(
            s.as_mut(),
            "SELECT count(*) FROM counter_referrals WHERE referral_id IS NOT NULL"
        ),
        1,
        "one of the two answers the referral"
    );
    assert_eq!(
        count(
            s.as_mut(),
            "SELECT count(*) FROM referral_events WHERE to_status = 'atendida'"
        ),
        1
    );

    // 60 groups more. An applier holds the oldest, not yet committed: another applies all the
    // rest, and the watermark stays short of the row held.
    for g in 2..62 {
        log_group(&mut s.db(), &group(g), "2026-11-23T10:01:00Z", &mut known);
    }
    let first_row = first_id + 10;
    assert_eq!(
        count(s.as_mut(), "SELECT MIN(id) FROM counter_referral_log"),
        first_row
    );
    let mut holder = db.open();
    holder.db().batch("BEGIN").unwrap();
    let held = holder
        .db()
        .query_opt(
            "SELECT id FROM counter_referral_log ORDER BY id LIMIT 1 FOR UPDATE",
            &[],
        )
        .unwrap()
        .and_then(|r| r.int(0));
    assert_eq!(held, Some(first_row));
    let mut other = db.open();
    assert_eq!(
        apply_logged_counter_referrals(&mut other.db(), &answers, 1000, None).unwrap(),
        Applied::Events(295),
        "every group after the one held"
    );
    assert_eq!(
        count(s.as_mut(), "SELECT MAX(id) FROM counter_referrals"),
        first_row + 299
    );
    assert_eq!(last_counter_referral(&mut s.db()).unwrap(), first_row - 1);
    // What is left is claimed: nothing applied, but not empty either.
    assert_eq!(
        apply_logged_counter_referrals(&mut other.db(), &answers, 1000, None).unwrap(),
        Applied::Claimed
    );
    // The writer logs again meanwhile: its ids follow the largest given (in the table now),
    // not the last of the log's newest row (the one held).
    log_group(&mut s.db(), &group(62), "2026-11-23T10:02:00Z", &mut known);
    holder.db().batch("ROLLBACK").unwrap();

    // Two appliers work the log off side by side.
    let units = std::sync::RwLock::new(ReferralUnits::load(&mut s.db(), &answers).unwrap());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            let (db, answers, units) = (&db, &answers, &units);
            scope.spawn(move || {
                let mut c = db.open();
                loop {
                    match apply_logged_counter_referrals(&mut c.db(), answers, 5, Some(units))
                        .unwrap()
                    {
                        Applied::Events(_) => {}
                        Applied::Claimed => std::thread::sleep(std::time::Duration::from_millis(1)),
                        Applied::Empty => break,
                    }
                }
            });
        }
    });
    assert_eq!(logged_counter_referrals(&mut s.db()).unwrap(), 0);
    assert_eq!(
        count(s.as_mut(), "SELECT count(*) FROM counter_referrals"),
        315
    );
    assert_eq!(
        count(
            s.as_mut(),
            "SELECT count(DISTINCT id) FROM counter_referrals"
        ),
        315
    );
    assert_eq!(
        count(
            s.as_mut(),
            "SELECT MAX(id) - MIN(id) + 1 FROM counter_referrals"
        ),
        315,
        "ids given after the out-of-order application follow on"
    );
    assert_eq!(last_counter_referral(&mut s.db()).unwrap(), first_row + 304);
    assert_eq!(
        count(
            s.as_mut(),
            "SELECT count(*) FROM counter_referrals WHERE referral_id IS NOT NULL"
        ),
        1,
        "one event answers the referral"
    );
    assert_eq!(
        count(
            s.as_mut(),
            "SELECT count(*) FROM referrals r JOIN counter_referrals c ON c.id = r.counter_referral_id AND c.referral_id = r.id WHERE r.status = 'atendida'"
        ),
        1
    );
    assert_eq!(
        count(
            s.as_mut(),
            "SELECT count(*) FROM referral_events WHERE to_status = 'atendida'"
        ),
        1,
        "one transition to served"
    );
    // A store at once after all that (a command-line import): the next id, no collision.
    let out = insert_counter_referrals(
        &mut s.db(),
        &[prenatal_event(person, "suelto", "d-suelto")],
        &answers,
        "2026-11-23T10:03:00Z",
    )
    .unwrap();
    assert!(
        matches!(out.as_slice(), [vamos_store::counter_referrals::Outcome::Stored { id, .. }] if *id == first_row + 305),
        "{out:?}"
    );
}

#[test]
fn a_new_version_keeps_the_replaced_one_in_the_history() {
    use vamos_domain::versions::{UnitStatus, VersionMeta};
    use vamos_store::versions;
    for db in all_dbs() {
        let mut s = db.open();
        write_one(s.as_mut(), true);
        let mut d0 = s.db();
        let (h, hm) = versions::household(&mut d0, 1).unwrap().unwrap();
        let (p, pm) = versions::person(&mut d0, 1).unwrap().unwrap();
        assert_eq!(hm.version, 1, "{}", db.label);
        assert_eq!(hm.recorded_at, "2026-11-23T10:00:00Z", "{}", db.label);
        assert_eq!(pm.status, UnitStatus::Activo, "{}", db.label);
        let mut h2 = h.clone();
        h2.submission_key = "k-reentrevista".into();
        h2.interview_date = d("2027-04-02");
        h2.answers[4] = Value::Int(4);
        let m2 = VersionMeta {
            version: 2,
            valid_from: Some(d("2027-04-02")),
            recorded_at: "2027-04-10T12:00:00Z".into(),
            status: UnitStatus::Activo,
            merged_into: None,
            change_id: None,
        };
        let mut dead = p.clone();
        dead.answers[10] = Value::Text("guarani".into());
        let dm = VersionMeta {
            status: UnitStatus::Fallecido,
            valid_from: Some(d("2027-03-01")),
            ..m2.clone()
        };
        let next = versions::next_person_id(&mut d0).unwrap();
        let mut baby = p.clone();
        baby.id = next;
        baby.national_id = None;
        baby.birth_date = d("2027-02-01");
        let bm = VersionMeta {
            version: 1,
            valid_from: Some(d("2027-02-01")),
            ..m2.clone()
        };
        let set = versions::VersionSet {
            households: vec![(h2.clone(), m2.clone())],
            persons: vec![(dead, dm)],
            new_persons: vec![(baby, bm)],
            ..Default::default()
        };
        versions::apply(&mut d0, &set).unwrap();
        let hv = versions::household_versions(&mut d0, 1).unwrap();
        assert_eq!(hv.len(), 2, "{}", db.label);
        assert_eq!(hv[0].0, h, "{}: version 1 unchanged", db.label);
        assert_eq!(hv[1].0, h2, "{}", db.label);
        assert_eq!(hv[1].1, m2, "{}", db.label);
        let mv = versions::member_versions(&mut d0, 1).unwrap();
        assert_eq!(mv.len(), 3, "{}", db.label);
        assert_eq!(mv[1].1.status, UnitStatus::Fallecido, "{}", db.label);
        assert_eq!(mv[2].0.id, next, "{}", db.label);
        // A version that does not follow the current one is refused, and nothing is written.
        let stale = versions::VersionSet {
            households: vec![(h2, m2)],
            ..Default::default()
        };
        assert!(versions::apply(&mut d0, &stale).is_err(), "{}", db.label);
        assert_eq!(versions::household_versions(&mut d0, 1).unwrap().len(), 2);
    }
}
