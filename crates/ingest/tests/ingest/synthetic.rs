//! Acceptance tests on synthetic surveys of the four pilot districts (made by `vamos_synth`):
//! a re-import changes nothing, and a file with 50 planted errors of every kind yields exactly
//! those 50 problems, each on its row and column with its reason, with every other row accepted.

use crate::opts;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use vamos_domain::{DistrictCode, ImportKind};
use vamos_ingest::{run_import, ImportSummary, NoProgress};
use vamos_store::testing::{all_dbs, RawSql, TestDb};

fn pilot_survey(dir: &Path, households: u64) -> vamos_synth::SynthReport {
    let cfg = vamos_synth::SynthConfig {
        districts: ["1116", "1602", "0218", "0607"]
            .iter()
            .map(|d| DistrictCode::try_from(*d).unwrap())
            .collect(),
        households,
        seed: 11,
        reference_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        admin: true,
    };
    vamos_synth::generate(&cfg, dir, &|_, _| {}).unwrap()
}

fn import(
    db: &TestDb,
    kind: ImportKind,
    paths: &[PathBuf],
    rejects: Option<PathBuf>,
) -> ImportSummary {
    let mut s = db.open();
    run_import(s.as_mut(), paths, &opts(kind, rejects), &NoProgress).unwrap()
}

fn counts(db: &TestDb) -> Vec<vamos_store::DistrictCounts> {
    db.open().district_counts().unwrap()
}

#[test]
fn a_synthetic_folder_imports_every_admin_file_as_the_institution_its_manifest_names() {
    for db in all_dbs() {
        let dir = tempfile::tempdir().unwrap();
        pilot_survey(dir.path(), 200);
        import(&db, ImportKind::Fips, &[dir.path().to_path_buf()], None);
        // No --source: each file's institution comes from manifest.json.
        let no_source = |paths: &[PathBuf]| {
            let mut o = opts(ImportKind::Admin, None);
            o.source = None;
            run_import(db.open().as_mut(), paths, &o, &NoProgress).unwrap()
        };
        let sum = no_source(&[dir.path().to_path_buf()]);
        assert!(sum.records_accepted > 0, "{}: {sum:?}", db.label);
        assert_eq!(
            sum.rows_rejected, 0,
            "{}: {:?}",
            db.label, sum.rejections_by_reason
        );
        assert!(sum.files.len() >= 5, "every admin file: {:?}", sum.files);
        let mut s = db.open();
        let mut sql = s.db();
        let institutions: Vec<String> = sql
            .query(
                "SELECT DISTINCT institution FROM admin_records ORDER BY institution",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.text(0))
            .collect();
        for want in ["MEC", "MSPBS", "UTGS"] {
            assert!(
                institutions.iter().any(|i| i == want),
                "{}: {want} in {institutions:?}",
                db.label
            );
        }
        // The admin folder alone finds the manifest of its parent.
        let again = no_source(&[dir.path().join("admin")]);
        assert_eq!(
            again.records_accepted, 0,
            "{}: re-runs do not duplicate",
            db.label
        );
        assert_eq!(again.rows_rejected, 0, "{}", db.label);
    }
}

#[test]
fn reimporting_a_pilot_survey_gives_identical_counts() {
    let dir = tempfile::tempdir().unwrap();
    let report = pilot_survey(dir.path(), 400);
    for db in all_dbs() {
        let all = |db: &TestDb| {
            let f = import(db, ImportKind::Fips, &[dir.path().to_path_buf()], None);
            let c = import(
                db,
                ImportKind::Comunidades,
                &[dir.path().to_path_buf()],
                None,
            );
            let a = import(db, ImportKind::Admin, &[dir.path().to_path_buf()], None);
            (f, c, a)
        };
        let (f, c, a) = all(&db);
        assert!(f.synthetic, "labelled sintético from the manifest");
        assert_eq!(
            (f.households_accepted, f.persons_accepted, f.rows_rejected),
            (400, report.persons, 0),
            "{}",
            db.label
        );
        assert_eq!(c.community_surveys_accepted, report.communities);
        assert!(
            a.records_accepted > 0
                && a.records_unmatched > 0
                && a.records_unmatched < a.records_accepted
        );
        let first = counts(&db);
        assert_eq!(
            first.iter().map(|c| c.synthetic_households).sum::<u64>(),
            400
        );
        let (f2, c2, a2) = all(&db);
        assert_eq!(
            (
                f2.households_accepted,
                f2.persons_accepted,
                f2.households_already_registered
            ),
            (0, 0, 400),
            "{}",
            db.label
        );
        assert_eq!(
            (c2.community_surveys_accepted, c2.surveys_already_registered),
            (0, report.communities)
        );
        assert_eq!(a2.records_accepted, 0);
        assert_eq!(
            a2.records_already_registered,
            a.records_accepted + a.rows_rejected - a2.rows_rejected
        );
        assert_eq!(counts(&db), first, "{}", db.label);
    }
}

type Table = (Vec<String>, Vec<Vec<String>>);

fn read(path: &Path) -> Table {
    let mut r = csv::Reader::from_path(path).unwrap();
    let h = r.headers().unwrap().iter().map(String::from).collect();
    (
        h,
        r.records()
            .map(|x| x.unwrap().iter().map(String::from).collect())
            .collect(),
    )
}

fn write(path: &Path, t: &Table) {
    let mut w = csv::Writer::from_path(path).unwrap();
    w.write_record(&t.0).unwrap();
    for r in &t.1 {
        w.write_record(r).unwrap();
    }
}

fn col(t: &Table, name: &str) -> usize {
    t.0.iter().position(|h| h == name).unwrap()
}

#[test]
#[allow(clippy::too_many_lines)] // reason: a scenario test, to be split into one test per behaviour
fn fifty_planted_errors_yield_exactly_fifty_problems() {
    let dir = tempfile::tempdir().unwrap();
    pilot_survey(dir.path(), 300);
    let (hp, mp) = (
        dir.path().join("fips.csv"),
        dir.path().join("fips-miembros.csv"),
    );
    let (mut h, mut m) = (read(&hp), read(&mp));
    let (n_h, n_m) = (h.1.len(), m.1.len());
    let (hk, hd, mk, mpk, mrel, mbirth, mced, mname, mins) = (
        col(&h, "KEY"),
        col(&h, "ubicacion-distrito"),
        col(&m, "KEY"),
        col(&m, "PARENT_KEY"),
        col(&m, "miembros-relacion_jefe"),
        col(&m, "miembros-fecha_nacimiento"),
        col(&m, "miembros-cedula"),
        col(&m, "miembros-nombres"),
        col(&m, "miembros-seguro_salud"),
    );
    // (file, spreadsheet row, column, reason fragment)
    let mut planted: Vec<(&str, usize, String, &str)> = Vec::new();
    // 5 unknown district codes: households 0..5 (their members follow them out, reported apart).
    let mut cascade_keys = Vec::new();
    for i in 0..5 {
        h.1[i][hd] = format!("99{:02}", i);
        cascade_keys.push(h.1[i][hk].clone());
        planted.push((
            "fips.csv",
            i + 2,
            "ubicacion-distrito".into(),
            "distrito desconocido",
        ));
    }
    // 5 duplicate submissions: copies of households 10..15 appended at the end.
    for i in 10..15 {
        let row = h.1[i].clone();
        h.1.push(row);
        planted.push(("fips.csv", h.1.len() + 1, "KEY".into(), "envío duplicado"));
    }
    // Member-level errors on distinct non-head members of households not touched above.
    let usable: Vec<usize> = (0..n_m)
        .filter(|&i| m.1[i][mrel] != "jefe" && !cascade_keys.contains(&m.1[i][mpk]))
        .collect();
    let mut it = usable.into_iter().step_by(3);
    let mut take = || it.next().unwrap();
    for k in 0..5 {
        let i = take();
        m.1[i][mbirth] = "2030-01-01".into();
        planted.push((
            "fips-miembros.csv",
            i + 2,
            "miembros-fecha_nacimiento".into(),
            "en el futuro",
        ));
        let i = take();
        m.1[i][mbirth] = "1890-06-15".into();
        planted.push((
            "fips-miembros.csv",
            i + 2,
            "miembros-fecha_nacimiento".into(),
            "edad mayor a 120",
        ));
        let i = take();
        m.1[i][mbirth] = "31/02/2001".into();
        planted.push((
            "fips-miembros.csv",
            i + 2,
            "miembros-fecha_nacimiento".into(),
            "fecha imposible",
        ));
        let i = take();
        m.1[i][mpk] = format!("uuid:no-existe-{k}");
        m.1[i][mk] = format!("uuid:no-existe-{k}/miembros[1]");
        planted.push((
            "fips-miembros.csv",
            i + 2,
            "PARENT_KEY".into(),
            "miembro sin hogar",
        ));
        let i = take();
        m.1[i][mrel] = "jefe".into();
        planted.push((
            "fips-miembros.csv",
            i + 2,
            "miembros-relacion_jefe".into(),
            "segundo jefe de hogar",
        ));
        let i = take();
        m.1[i][mins] = "fonasa".into();
        planted.push((
            "fips-miembros.csv",
            i + 2,
            "miembros-seguro_salud".into(),
            "código desconocido",
        ));
        let i = take();
        m.1[i][mname] = "   ".into();
        planted.push((
            "fips-miembros.csv",
            i + 2,
            "miembros-nombres".into(),
            "falta el dato obligatorio",
        ));
    }
    // 5 cédulas repeated with another birth date: a later member takes an earlier one's cédula.
    let with_id: Vec<usize> = (0..n_m)
        .filter(|&i| !m.1[i][mced].is_empty() && !cascade_keys.contains(&m.1[i][mpk]))
        .filter(|&i| {
            !planted
                .iter()
                .any(|p| p.0 == "fips-miembros.csv" && p.1 == i + 2)
        })
        .collect();
    for k in 0..5 {
        let (src, dst) = (with_id[k], with_id[with_id.len() - 1 - k]);
        assert_ne!(m.1[src][mbirth], m.1[dst][mbirth]);
        m.1[dst][mced] = m.1[src][mced].clone();
        planted.push((
            "fips-miembros.csv",
            dst + 2,
            "miembros-cedula".into(),
            "otra fecha de nacimiento",
        ));
    }
    assert_eq!(planted.len(), 50);
    write(&hp, &h);
    write(&mp, &m);
    let cascaded =
        m.1.iter()
            .filter(|r| cascade_keys.contains(&r[mpk]))
            .count() as u64;

    for db in all_dbs() {
        let rej = dir.path().join(format!("rechazos-{}.csv", db.label));
        let s = import(
            &db,
            ImportKind::Fips,
            &[dir.path().to_path_buf()],
            Some(rej.clone()),
        );
        let text = std::fs::read_to_string(&rej).unwrap();
        let mut r = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
        let rows: Vec<BTreeMap<String, String>> = {
            let hdr = r.headers().unwrap().clone();
            r.records()
                .map(|x| {
                    hdr.iter()
                        .zip(x.unwrap().iter())
                        .map(|(a, b)| (a.to_string(), b.to_string()))
                        .collect()
                })
                .collect()
        };
        let primary: Vec<&BTreeMap<String, String>> = rows
            .iter()
            .filter(|r| !r["motivo"].starts_with("el hogar de este miembro fue rechazado"))
            .collect();
        assert_eq!(primary.len(), 50, "{}: {primary:#?}", db.label);
        for (file, row, column, reason) in &planted {
            let hit = primary
                .iter()
                .find(|r| r["archivo"] == *file && r["fila"] == row.to_string())
                .unwrap_or_else(|| panic!("{file}:{row} not reported"));
            assert_eq!(&hit["columna"], column, "{file}:{row}");
            assert!(
                hit["motivo"].contains(reason),
                "{file}:{row}: {}",
                hit["motivo"]
            );
        }
        // Members of the 5 rejected households are reported, pointing at their household.
        assert_eq!((rows.len() - primary.len()) as u64, cascaded);
        assert_eq!(s.problems, 50 + cascaded);
        assert_eq!(s.members_of_rejected_households, cascaded);
        assert_eq!(s.rows_rejected, 50 + cascaded);
        // Every other row is accepted.
        assert_eq!(s.households_accepted, n_h as u64 - 5, "{}", db.label);
        assert_eq!(s.households_rejected, 10);
        assert_eq!(
            s.persons_accepted,
            n_m as u64 - 40 - cascaded,
            "{}",
            db.label
        );
        assert_eq!(s.persons_rejected, 40 + cascaded);
    }
}
