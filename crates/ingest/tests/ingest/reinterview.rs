//! Re-interviews (issue 36): the four pilot districts' synthetic survey interviewed again six
//! months later (`vamos_synth::reinterview`) becomes new versions of the same households —
//! counts stay right, history shows both interviews, and a re-run changes nothing.

use crate::opts;
use std::path::Path;
use vamos_domain::{DistrictCode, ImportKind};
use vamos_ingest::{run_import, ImportSummary, NoProgress};
use vamos_store::testing::{all_dbs, RawSql, TestDb};

fn wave_one(dir: &Path) {
    let cfg = vamos_synth::SynthConfig {
        districts: ["1116", "1602", "0218", "0607"]
            .iter()
            .map(|d| DistrictCode::try_from(*d).unwrap())
            .collect(),
        households: 300,
        seed: 5,
        reference_date: chrono::NaiveDate::from_ymd_opt(2026, 5, 1).unwrap(),
        admin: false,
    };
    vamos_synth::generate(&cfg, dir, &|_, _| {}).unwrap();
}

fn import(db: &TestDb, dir: &Path, changes: Option<&Path>) -> ImportSummary {
    let mut s = db.open();
    let mut o = opts(ImportKind::Fips, None);
    o.changes = changes.map(Path::to_path_buf);
    run_import(s.as_mut(), &[dir.to_path_buf()], &o, &NoProgress).unwrap()
}

fn count(db: &TestDb, sql: &str) -> i64 {
    let mut s = db.open();
    let mut d = s.db();
    d.query_opt(sql, &[]).unwrap().unwrap().int(0).unwrap()
}

#[test]
fn a_reinterview_wave_becomes_new_versions_and_a_rerun_changes_nothing() {
    let one = tempfile::tempdir().unwrap();
    let two = tempfile::tempdir().unwrap();
    wave_one(one.path());
    let report = vamos_synth::reinterview(one.path(), two.path(), 5).unwrap();
    for db in all_dbs() {
        let first = import(&db, one.path(), None);
        assert_eq!(first.households_accepted, 300, "{}", db.label);
        let changes = two.path().join("cambios.csv");
        let second = import(&db, two.path(), Some(&changes));
        assert!(second.committed, "{}", db.label);
        assert_eq!(
            second.households_accepted, 0,
            "{}: no new household",
            db.label
        );
        assert_eq!(second.households_to_review, 0, "{}", db.label);
        assert!(second.households_updated > 0, "{}: {second:?}", db.label);
        assert_eq!(
            second.households_updated + second.households_unchanged,
            300,
            "{}: {second:?}",
            db.label
        );
        assert!(
            second.persons_added > 0 && second.persons_left > 0,
            "{second:?}"
        );
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM households"),
            300,
            "{}",
            db.label
        );
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM persons WHERE status = 'activo'") as u64,
            report.persons,
            "{}: active persons are the second wave's members",
            db.label
        );
        let text = std::fs::read_to_string(&changes).unwrap();
        assert!(text.contains("hogar,persona,campo,antes,después"), "{text}");
        // A household that moved: two versions, the second valid from the re-interview.
        let moved = count(
            &db,
            "SELECT MIN(h.id) FROM households h JOIN household_history o ON o.id = h.id
             WHERE o.community_id <> h.community_id",
        );
        let versions =
            vamos_store::versions::household_versions(&mut db.open().db(), moved).unwrap();
        assert_eq!(versions.len(), 2, "{}", db.label);
        assert_eq!(versions[0].1.valid_from, None);
        assert_eq!(versions[1].1.valid_from, Some(versions[1].0.interview_date));
        assert!(versions[1].0.interview_date > versions[0].0.interview_date);
        // The same file again changes nothing.
        let again = import(&db, two.path(), None);
        assert_eq!(
            (
                again.households_updated,
                again.households_accepted,
                again.households_already_registered
            ),
            (0, 0, 300),
            "{}",
            db.label
        );
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM household_history") as u64,
            second.households_updated
        );
    }
}

/// The re-interview fuzz target's invariants on deterministic mutations of a real second wave:
/// no panic, every household row accounted for once, a re-run adds and changes nothing.
#[test]
fn mutated_reinterviews_never_panic_and_every_household_is_accounted_for() {
    let one = tempfile::tempdir().unwrap();
    let two = tempfile::tempdir().unwrap();
    let cfg = vamos_synth::SynthConfig {
        districts: vec![DistrictCode::try_from("1116").unwrap()],
        households: 12,
        seed: 9,
        reference_date: chrono::NaiveDate::from_ymd_opt(2025, 3, 1).unwrap(),
        admin: false,
    };
    vamos_synth::generate(&cfg, one.path(), &|_, _| {}).unwrap();
    vamos_synth::reinterview(one.path(), two.path(), 9).unwrap();
    let read = |d: &Path, f: &str| std::fs::read(d.join(f)).unwrap();
    let first = (
        read(one.path(), "fips.csv"),
        read(one.path(), "fips-miembros.csv"),
    );
    let (h, m) = (
        read(two.path(), "fips.csv"),
        read(two.path(), "fips-miembros.csv"),
    );
    // The harness imports as of 2026-01-01: both waves (2025) are in the past.
    let whole = vamos_ingest::fuzzing::reinterview_files((&first.0, &first.1), &h, &m).unwrap();
    assert_eq!(
        whole.households_updated + whole.households_unchanged,
        12,
        "{whole:?}"
    );
    let mut rng = 0x51_7CC1_B727_220Au64;
    let (mut imported, mut revisited) = (0, 0);
    for _ in 0..60 {
        let (mut h2, mut m2) = (h.clone(), m.clone());
        crate::import::mutate(&mut h2, &mut rng);
        crate::import::mutate(&mut m2, &mut rng);
        if let Ok(s) = vamos_ingest::fuzzing::reinterview_files((&first.0, &first.1), &h2, &m2) {
            imported += 1;
            revisited += u64::from(s.households_updated + s.households_unchanged > 0);
        }
    }
    // The mutated waves mostly still read and still find their households.
    assert!(imported > 30 && revisited > 30, "{imported} {revisited}");
}
