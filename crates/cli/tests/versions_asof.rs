//! Classification follows versions (issue 36), end to end through `vamos classify` on every
//! backend under test: a measurement is reproduced exactly at its (as_of, known_at) after later
//! versions were written — a moved household, a death, two births, changed answers —, a
//! reading at a later date sees them, and `--known-at` before them ignores them.

// Tests fail loudly on purpose: unwrap, panic and indexing are how they assert.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{init_db, synth_pilots, vamos};
use serde_json::Value as Json;
use vamos_domain::versions::{UnitStatus, VersionMeta};
use vamos_domain::Value;
use vamos_store::testing::{all_dbs, RawSql};
use vamos_store::versions::{self, VersionSet};

fn classify(url: &str, d: &std::path::Path, as_of: &str, known_at: Option<&str>) -> Json {
    let mut args = vec![
        "classify", "--db", url, "--as-of", as_of, "--format", "json",
    ];
    if let Some(k) = known_at {
        args.extend(["--known-at", k]);
    }
    let o = vamos(&args, d, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// What a measurement says: its Logros at every level and how many units it read.
fn figures(m: &Json) -> (Json, Json, Json) {
    (
        m["levels"].clone(),
        m["persons"].clone(),
        m["households"].clone(),
    )
}

/// The change request number the versions of [`write_changes`] carry.
const CHANGE: i64 = 7;

/// Second versions valid from `from`, recorded at `recorded_at`: household 1 moves to a
/// community of another district, household 2 changes answers, person 1 dies, two babies are
/// born into household 3.
fn write_changes(url: &str, from: &str, recorded_at: &str) {
    let mut store = vamos_store::open(url).unwrap();
    let mut db = store.db();
    let from = chrono::NaiveDate::parse_from_str(from, "%Y-%m-%d").unwrap();
    let meta = |version| VersionMeta {
        version,
        valid_from: Some(from),
        recorded_at: recorded_at.to_string(),
        status: UnitStatus::Activo,
        merged_into: None,
        change_id: Some(CHANGE),
    };
    let (mut moved, m1) = versions::household(&mut db, 1).unwrap().unwrap();
    // A community of another district: the last household's.
    let last = RawSql::query_opt(&mut db, "SELECT max(id) FROM households", &[])
        .unwrap()
        .and_then(|r| r.int(0))
        .unwrap();
    let (far, _) = versions::household(&mut db, last).unwrap().unwrap();
    assert_ne!(far.district, moved.district, "the pilot districts differ");
    moved.district = far.district;
    moved.community_id = far.community_id;
    let (mut changed, m2) = versions::household(&mut db, 2).unwrap().unwrap();
    for a in changed.answers.iter_mut().take(4) {
        *a = Value::Null;
    }
    let (dead, pm) = versions::person(&mut db, 1).unwrap().unwrap();
    let (_, m3) = versions::household(&mut db, 3).unwrap().unwrap();
    let _ = m3;
    let members = versions::member_versions(&mut db, 3).unwrap();
    let (mother, _) = members.first().unwrap().clone();
    let next = versions::next_person_id(&mut db).unwrap();
    let babies: Vec<_> = (0..2)
        .map(|k| {
            let mut b = mother.clone();
            b.id = next + k;
            b.national_id = None;
            b.birth_date = from;
            b.relationship = "hijo".into();
            b.submission_key = format!("nacimiento-{k}");
            (b, meta(1))
        })
        .collect();
    let set = VersionSet {
        households: vec![
            (moved, meta(m1.version + 1)),
            (changed, meta(m2.version + 1)),
        ],
        persons: vec![(
            dead,
            VersionMeta {
                status: UnitStatus::Fallecido,
                ..meta(pm.version + 1)
            },
        )],
        new_persons: babies,
        ..Default::default()
    };
    versions::apply(&mut db, &set).unwrap();
}

#[test]
fn a_measurement_is_reproduced_at_its_reading_after_later_versions_and_later_dates_see_them() {
    for db in all_dbs() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        synth_pilots(d, "200", "36");
        init_db(&db.url, d);
        let o = vamos(
            &[
                "import",
                "fips",
                "--db",
                &db.url,
                "datos",
                "--date",
                "2026-11-01",
            ],
            d,
            &[],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let at_a = classify(&db.url, d, "2026-11-23", None);
        let at_b = classify(&db.url, d, "2027-06-01", None);
        let known = at_b["known_at"].as_str().unwrap().to_string();
        assert!(
            at_a["known_at"].is_string(),
            "{}: known_at recorded",
            db.label
        );
        // Changes learnt after both measurements (recorded_at compares to the second).
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let later =
            vamos_domain::versions::parse_known_at(&known).unwrap() + chrono::Duration::seconds(1);
        let recorded = later.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        write_changes(&db.url, "2027-03-01", &recorded);
        // At A, before the changes were true: the same Logros, with or without --known-at.
        let again_a = classify(&db.url, d, "2026-11-23", None);
        assert_eq!(figures(&again_a), figures(&at_a), "{}: at A", db.label);
        let a_known = at_a["known_at"].as_str().unwrap().to_string();
        let again_a_known = classify(&db.url, d, "2026-11-23", Some(&a_known));
        assert_eq!(figures(&again_a_known), figures(&at_a), "{}", db.label);
        // At B as known when B was measured: the changes are ignored, the figures reproduced.
        let again_b_known = classify(&db.url, d, "2027-06-01", Some(&known));
        assert_eq!(
            figures(&again_b_known),
            figures(&at_b),
            "{}: at B known then",
            db.label
        );
        // At B as known now: one person died, two were born.
        let now_b = classify(&db.url, d, "2027-06-01", None);
        assert_eq!(
            now_b["persons"].as_u64().unwrap(),
            at_b["persons"].as_u64().unwrap() + 1,
            "{}: a death and two births",
            db.label
        );
        assert_ne!(
            now_b["levels"], at_b["levels"],
            "{}: the Logros move",
            db.label
        );
    }
}

#[test]
fn a_known_at_that_is_not_a_moment_is_refused_in_spanish() {
    for db in all_dbs() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        init_db(&db.url, d);
        let o = vamos(
            &[
                "classify",
                "--db",
                &db.url,
                "--as-of",
                "2026-11-23",
                "--known-at",
                "ayer",
            ],
            d,
            &[],
        );
        assert!(!o.status.success(), "{}", db.label);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("momento no válido"), "{}: {err}", db.label);
    }
}

#[test]
fn after_a_refresh_the_latest_measurement_counts_a_change_as_a_fresh_classification_does() {
    for db in all_dbs() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        synth_pilots(d, "200", "37");
        init_db(&db.url, d);
        let o = vamos(
            &[
                "import",
                "fips",
                "--db",
                &db.url,
                "datos",
                "--date",
                "2026-11-01",
            ],
            d,
            &[],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let first = classify(&db.url, d, "2027-06-01", None);
        let known =
            vamos_domain::versions::parse_known_at(first["known_at"].as_str().unwrap()).unwrap();
        let recorded = known + chrono::Duration::seconds(2);
        std::thread::sleep(std::time::Duration::from_millis(2100));
        write_changes(
            &db.url,
            "2027-03-01",
            &recorded.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
        let mut store = vamos_store::open(&db.url).unwrap();
        let catalogue = vamos_app::measurements::load_catalogue(None).unwrap();
        let last_person = vamos_store::versions::next_person_id(&mut store.db()).unwrap() - 1;
        let touched = vamos_app::versions::Touched {
            households: vec![1, 2, 3],
            persons: vec![1, last_person - 1, last_person],
        };
        let mut resident = None;
        let report = vamos_app::versions::refresh(
            store.as_mut(),
            &catalogue,
            &touched,
            CHANGE,
            "2027-06-02T00:00:00Z",
            &mut resident,
        )
        .unwrap()
        .unwrap();
        assert!(
            report.districts.len() >= 2,
            "{}: the move touches two districts",
            db.label
        );
        let id = first["measurement"].as_i64().unwrap();
        let (_, refreshed) = store.measurement(Some(id)).unwrap().unwrap();
        let fresh = classify(&db.url, d, "2027-06-01", None);
        let (_, expected) = store
            .measurement(fresh["measurement"].as_i64())
            .unwrap()
            .unwrap();
        let parse = |rows: Vec<(u16, String)>| -> Vec<(u16, Json)> {
            rows.into_iter()
                .map(|(d, j)| (d, serde_json::from_str(&j).unwrap()))
                .collect()
        };
        assert_eq!(parse(refreshed), parse(expected), "{}", db.label);
    }
}

/// `vamos <args>` in `d` that must succeed: the last line of its output as JSON.
fn json_of(args: &[&str], d: &std::path::Path) -> Json {
    let o = vamos(args, d, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    serde_json::from_str(out.lines().last().unwrap_or("")).unwrap()
}

// The acceptance case of issue 36: the four pilot districts surveyed (interviews in the 90 days
// before 1 May 2026), measured on that date, then interviewed again six months later by
// `vamos synth --reinterview-of` (moves, births, departures, changed answers) and imported.
#[test]
fn a_reinterview_wave_leaves_the_first_measurement_reproducible_and_the_second_date_sees_it() {
    for db in all_dbs() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let url = db.url.as_str();
        let synth = |args: &[&str]| {
            let o = vamos(args, d, &[]);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            String::from_utf8_lossy(&o.stdout).into_owned()
        };
        synth(&[
            "synth",
            "--households",
            "240",
            "--seed",
            "41",
            "--out",
            "uno",
            "--reference-date",
            "2026-05-01",
        ]);
        let wave = synth(&[
            "synth",
            "--reinterview-of",
            "uno",
            "--out",
            "dos",
            "--seed",
            "41",
        ]);
        // "  240 hogares, 1234 personas, …": the second wave's persons.
        let wave_persons: u64 = wave
            .split(" hogares, ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .unwrap()
            .parse()
            .unwrap();
        init_db(url, d);
        let first = json_of(
            &[
                "import",
                "fips",
                "--db",
                url,
                "uno",
                "--date",
                "2026-05-01",
                "--format",
                "json",
            ],
            d,
        );
        assert_eq!(first["households_accepted"], 240, "{}: {first}", db.label);
        let m1 = classify(url, d, "2026-05-01", None);

        let second = json_of(
            &[
                "import",
                "fips",
                "--db",
                url,
                "dos",
                "--date",
                "2026-11-01",
                "--format",
                "json",
            ],
            d,
        );
        let updated = second["households_updated"].as_u64().unwrap();
        assert!(updated > 0, "{}: {second}", db.label);
        assert_eq!(second["households_accepted"], 0, "{}: {second}", db.label);
        assert_eq!(
            updated + second["households_unchanged"].as_u64().unwrap(),
            240,
            "{}: {second}",
            db.label
        );

        // A household the second wave changed has two versions, each with its interview date.
        let mut store = vamos_store::open(url).unwrap();
        let changed = RawSql::query_opt(
            &mut store.db(),
            "SELECT MIN(id) FROM household_history",
            &[],
        )
        .unwrap()
        .and_then(|r| r.int(0))
        .unwrap();
        let h = json_of(
            &[
                "registry",
                "history",
                "--db",
                url,
                "--household",
                &changed.to_string(),
                "--format",
                "json",
            ],
            d,
        );
        let vs = h["versions"].as_array().unwrap();
        assert_eq!(vs.len(), 2, "{}: {h}", db.label);
        assert!(vs[0]["valid_from"].is_null(), "{h}");
        assert!(
            vs[1]["valid_from"].as_str().unwrap() >= "2026-08-01",
            "{}: valid from the re-interview: {h}",
            db.label
        );
        assert!(
            vs[1]["provenance"]["import_id"].as_i64().unwrap() > 0,
            "{h}"
        );

        // At the first date as the registry knew it then: the same figures, exactly.
        let known = m1["known_at"].as_str().unwrap();
        let exact = classify(url, d, "2026-05-01", Some(known));
        assert_eq!(figures(&exact), figures(&m1), "{}", db.label);
        // As known now, the first date also counts the babies the second wave found born
        // before it (a member since birth) — and nothing the second wave changed later.
        let now = classify(url, d, "2026-05-01", None);
        let babies = RawSql::query_opt(
            &mut store.db(),
            "SELECT COUNT(*) FROM persons WHERE valid_from IS NOT NULL
             AND valid_from <= '2026-05-01' AND version = 1",
            &[],
        )
        .unwrap()
        .and_then(|r| r.int(0))
        .unwrap();
        assert_eq!(
            now["persons"].as_i64().unwrap(),
            m1["persons"].as_i64().unwrap() + babies,
            "{}",
            db.label
        );
        assert_eq!(now["households"], m1["households"], "{}", db.label);

        // At the second date: the second wave's members, no one who left, no one twice.
        let m2 = classify(url, d, "2026-11-01", None);
        assert_ne!(figures(&m2), figures(&m1), "{}", db.label);
        assert_eq!(m2["households"], 240, "{}", db.label);
        assert_eq!(m2["persons"], wave_persons, "{}: {m2}", db.label);
    }
}

/// The pilot communities' survey written again `days` later: new submission keys, dates moved,
/// and every community's answers changed (health post and school distance, community water).
fn resurvey(from: &std::path::Path, to: &std::path::Path, days: i64) {
    let mut r = csv::Reader::from_path(from).unwrap();
    let h = r.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|c| c == n).unwrap();
    let mut w = csv::Writer::from_path(to).unwrap();
    w.write_record(&h).unwrap();
    for rec in r.records() {
        let mut row: Vec<String> = rec.unwrap().iter().map(String::from).collect();
        for c in ["KEY", "meta-instanceID"] {
            row[col(c)].push_str("-r2");
        }
        for c in ["today", "fecha_relevamiento"] {
            let d = chrono::NaiveDate::parse_from_str(&row[col(c)], "%Y-%m-%d").unwrap();
            row[col(c)] = (d + chrono::Duration::days(days)).to_string();
        }
        row[col("servicios-puesto_salud")] = "mas_15km".into();
        row[col("servicios-escuela")] = "mas_15km".into();
        row[col("servicios-agua_comunitaria")] = "no".into();
        w.write_record(&row).unwrap();
    }
    w.flush().unwrap();
}

// Communities have versions too: a community surveyed again is a second version — its history
// shows both surveys, a measurement at the first date is reproduced exactly, and one at the
// second date reads the new answers.
#[test]
fn a_community_surveyed_again_has_two_versions_and_a_measurement_reads_the_survey_of_its_date() {
    for db in all_dbs() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let url = db.url.as_str();
        synth_pilots(d, "200", "43");
        init_db(url, d);
        let import = |kind: &str, path: &str, date: &str| {
            json_of(
                &[
                    "import", kind, "--db", url, path, "--date", date, "--format", "json",
                ],
                d,
            )
        };
        import("fips", "datos", "2026-11-01");
        import("comunidades", "datos/comunidades.csv", "2026-11-01");
        let m1 = classify(url, d, "2026-11-01", None);
        let explain = |as_of: &str| {
            let e = json_of(
                &[
                    "explain",
                    "--db",
                    url,
                    "--community",
                    "1",
                    "--as-of",
                    as_of,
                    "--format",
                    "json",
                ],
                d,
            );
            let school = e["categories"][0]["services"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["service"] == "escuela_cercana")
                .cloned()
                .unwrap();
            (e, school)
        };
        let (before, _) = explain("2026-11-01");
        resurvey(
            &d.join("datos/comunidades.csv"),
            &d.join("comunidades-2.csv"),
            200,
        );
        let again = import("comunidades", "comunidades-2.csv", "2027-12-31");
        assert!(
            again["community_surveys_accepted"].as_u64().unwrap() > 0,
            "{}: {again}",
            db.label
        );
        // The first date as known now: the first surveys still describe it.
        let again1 = classify(url, d, "2026-11-01", None);
        assert_eq!(figures(&again1), figures(&m1), "{}", db.label);
        assert_eq!(explain("2026-11-01").0, before, "{}", db.label);
        // The second date reads the second survey: the school is now beyond 5 km.
        let (_, school) = explain("2027-12-31");
        assert_eq!(school["status"], "desprotegido", "{}: {school}", db.label);
        let h = json_of(
            &[
                "registry",
                "history",
                "--db",
                url,
                "--community",
                "1",
                "--format",
                "json",
            ],
            d,
        );
        let vs = h["versions"].as_array().unwrap();
        assert_eq!(vs.len(), 2, "{}: {h}", db.label);
        assert!(vs[0]["valid_from"].is_null(), "{h}");
        assert_eq!(vs[1]["valid_from"], vs[1]["survey_date"], "{h}");
        let changed: Vec<&str> = vs[1]["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["field"].as_str().unwrap())
            .collect();
        assert!(changed.contains(&"servicios-escuela"), "{h}");
        // No such community: a clear Spanish error.
        let o = vamos(
            &["registry", "history", "--db", url, "--community", "999999"],
            d,
            &[],
        );
        assert!(!o.status.success());
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("comunidad 999999 no encontrada"),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}
