//! Tests of the whole generator: determinism, exact totals, household coherence, form codes,
//! relevance rules, calibration against the public figures, and the registry files' defects.
//! Each test generates into a temporary directory and reads the files back as an importer would.

use crate::*;
use calamine::{open_workbook, Data, Reader, Xlsx};
use std::collections::{BTreeMap, HashMap, HashSet};
use vamos_domain::schema::{
    FieldKind, FieldSpec, COMMUNITY_FIELDS, HOUSEHOLD_FIELDS, PERSON_FIELDS,
};

fn reference() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 10, 15).unwrap()
}

fn cfg(districts: &[u16], households: u64, seed: u64, admin: bool) -> SynthConfig {
    SynthConfig {
        districts: districts
            .iter()
            .map(|&d| DistrictCode::from_number(d).unwrap())
            .collect(),
        households,
        seed,
        reference_date: reference(),
        admin,
    }
}

fn run(c: &SynthConfig) -> (tempfile::TempDir, SynthReport) {
    let dir = tempfile::tempdir().unwrap();
    let r = generate(c, dir.path(), &|_, _| {}).unwrap();
    (dir, r)
}

/// A CSV file read back: header positions and rows.
struct Table {
    cols: HashMap<String, usize>,
    rows: Vec<csv::StringRecord>,
}

impl Table {
    fn read(path: &Path) -> Table {
        Self::read_with(path, b',')
    }
    fn read_with(path: &Path, delim: u8) -> Table {
        let mut r = csv::ReaderBuilder::new()
            .delimiter(delim)
            .from_path(path)
            .unwrap();
        let cols = r
            .headers()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, h)| (h.to_string(), i))
            .collect();
        let rows = r.records().map(|x| x.unwrap()).collect();
        Table { cols, rows }
    }
    fn get<'a>(&self, row: &'a csv::StringRecord, col: &str) -> &'a str {
        let i = *self
            .cols
            .get(col)
            .unwrap_or_else(|| panic!("no column {col}"));
        row.get(i).unwrap()
    }
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|_| panic!("bad date {s}"))
}

/// Choice lists of an XLSForm (list_name → names).
fn choices(form: &str) -> HashMap<String, HashSet<String>> {
    let path = format!("{}/../../forms/{form}", env!("CARGO_MANIFEST_DIR"));
    let mut wb: Xlsx<_> = open_workbook(path).unwrap();
    let range = wb.worksheet_range("choices").unwrap();
    let mut out: HashMap<String, HashSet<String>> = HashMap::new();
    for row in range.rows().skip(1) {
        let cell = |i: usize| match row.get(i) {
            Some(Data::String(s)) => s.clone(),
            Some(Data::Float(f)) => format!("{f}"),
            Some(Data::Int(n)) => n.to_string(),
            _ => String::new(),
        };
        let (list, name) = (cell(0), cell(1));
        if !list.is_empty() {
            out.entry(list).or_default().insert(name);
        }
    }
    out
}

fn check_value(
    lists: &HashMap<String, HashSet<String>>,
    col: &str,
    kind: FieldKind,
    v: &str,
    bad: &mut BTreeMap<String, String>,
) {
    if v.is_empty() {
        return;
    }
    match kind {
        FieldKind::SelectOne(list) => {
            if !lists.get(list).is_some_and(|l| l.contains(v)) {
                bad.insert(col.to_string(), v.to_string());
            }
        }
        FieldKind::SelectMultiple(list) => {
            for t in v.split(' ') {
                if !lists.get(list).is_some_and(|l| l.contains(t)) {
                    bad.insert(col.to_string(), v.to_string());
                }
            }
        }
        FieldKind::Integer { min, max } => match v.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => {}
            _ => {
                bad.insert(col.to_string(), v.to_string());
            }
        },
        FieldKind::Text => {}
    }
}

fn col_name(f: &FieldSpec) -> String {
    format!("{}-{}", f.group, f.name)
}

const MIXED: [u16; 6] = [0, 1116, 1602, 218, 607, 1604];

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let a = run(&cfg(&MIXED, 600, 42, true));
    let b = run(&cfg(&MIXED, 600, 42, true));
    let c = run(&cfg(&MIXED, 600, 43, true));
    let files = [
        "fips.csv",
        "fips-miembros.csv",
        "comunidades.csv",
        "admin/mec_matricula.csv",
        "admin/mspbs_vacunacion.csv",
        "admin/ips_aportes.csv",
        "admin/pension_adultos_mayores.csv",
        "admin/rc_nacimientos.csv",
        "admin/utgs_orientaciones.csv",
        "manifest.json",
        "LEEME_SINTETICO.txt",
    ];
    for f in files {
        let x = std::fs::read(a.0.path().join(f)).unwrap();
        let y = std::fs::read(b.0.path().join(f)).unwrap();
        assert!(x == y, "{f} differs between two runs with the same seed");
    }
    for f in [
        "fips.csv",
        "fips-miembros.csv",
        "comunidades.csv",
        "admin/ips_aportes.csv",
        "admin/utgs_orientaciones.csv",
    ] {
        let x = std::fs::read(a.0.path().join(f)).unwrap();
        let z = std::fs::read(c.0.path().join(f)).unwrap();
        assert!(x != z, "{f} identical with a different seed");
    }
    assert_eq!(
        a.1,
        SynthReport {
            files: a.1.files.clone(),
            ..b.1.clone()
        }
    );
}

#[test]
fn admin_files_do_not_change_the_survey() {
    let with = run(&cfg(&MIXED, 400, 9, true));
    let without = run(&cfg(&MIXED, 400, 9, false));
    for f in ["fips.csv", "fips-miembros.csv", "comunidades.csv"] {
        assert!(
            std::fs::read(with.0.path().join(f)).unwrap()
                == std::fs::read(without.0.path().join(f)).unwrap(),
            "{f}"
        );
    }
    assert!(!without.0.path().join("admin").exists());
    assert_eq!(without.1.admin_records, 0);
    assert!(with.1.admin_records > 0);
}

#[test]
fn every_admin_record_has_its_truth_a_survey_member_or_an_outsider() {
    let (dir, r) = run(&cfg(&MIXED, 400, 9, true));
    let truth = Table::read(&dir.path().join("verdad/enlace_admin.csv"));
    assert_eq!(truth.rows.len() as u64, r.admin_records);
    let members: HashSet<String> = {
        let m = Table::read(&dir.path().join("fips-miembros.csv"));
        m.rows.iter().map(|x| m.get(x, "KEY").to_string()).collect()
    };
    let mut ids = HashSet::new();
    let mut outsiders = 0;
    for row in &truth.rows {
        assert!(ids.insert(truth.get(row, "id_registro").to_string()));
        match truth.get(row, "persona") {
            "" => outsiders += 1,
            key => assert!(members.contains(key), "{key}"),
        }
    }
    // ≈ 5 % of records are about someone not in the survey (by design).
    let share = f64::from(outsiders) / truth.rows.len() as f64;
    assert!((0.03..0.07).contains(&share), "{share}");
    // Every record of the registry files is in the truth.
    let mut listed = 0;
    for f in std::fs::read_dir(dir.path().join("admin")).unwrap() {
        let path = f.unwrap().path();
        let mec = path.ends_with("mec_matricula.csv");
        let bytes = std::fs::read(&path).unwrap();
        let text = if mec {
            encoding_rs::WINDOWS_1252.decode(&bytes).0.into_owned()
        } else {
            String::from_utf8(bytes).unwrap()
        };
        let mut rdr = csv::ReaderBuilder::new()
            .delimiter(if mec { b';' } else { b',' })
            .from_reader(text.as_bytes());
        for rec in rdr.records() {
            assert!(ids.contains(rec.unwrap().get(0).unwrap()));
            listed += 1;
        }
    }
    assert_eq!(listed, truth.rows.len());
}

#[test]
fn split_is_exact_and_proportional() {
    assert_eq!(split_exact(10, &[1, 1, 1]), vec![4, 3, 3]);
    assert_eq!(split_exact(7, &[0, 5, 0]), vec![0, 7, 0]);
    assert_eq!(split_exact(0, &[3, 4]), vec![0, 0]);
    let w: Vec<u64> = crate::calib::district_stats()
        .unwrap()
        .iter()
        .map(|s| s.pop5plus)
        .collect();
    for total in [1, 263, 1_000, 1_900_000, 1_900_001] {
        let parts = split_exact(total, &w);
        assert_eq!(parts.iter().sum::<u64>(), total);
    }
    let parts = split_exact(1_900_000, &w);
    // Asunción has 436,289 of 5,644,232 aged 5+.
    assert_eq!(parts[0], (1_900_000u128 * 436_289 / 5_644_232) as u64 + 1);
}

#[test]
fn household_total_is_exact_per_district() {
    let ds = [0u16, 1101, 1102, 1602, 1701, 218];
    let c = cfg(&ds, 1_001, 5, false);
    let (dir, r) = run(&c);
    assert_eq!(r.households, 1_001);
    let fips = Table::read(&dir.path().join("fips.csv"));
    assert_eq!(fips.rows.len(), 1_001);
    let mut per: BTreeMap<String, u64> = BTreeMap::new();
    for row in &fips.rows {
        *per.entry(fips.get(row, "ubicacion-distrito").to_string())
            .or_default() += 1;
    }
    let stats = crate::calib::district_stats().unwrap();
    let mut sorted = ds;
    sorted.sort();
    let w: Vec<u64> = sorted
        .iter()
        .map(|&d| stats.iter().find(|s| s.code.get() == d).unwrap().pop5plus)
        .collect();
    let expected = split_exact(1_001, &w);
    for (d, e) in sorted.iter().zip(expected) {
        assert_eq!(
            per.get(&format!("{d:04}")).copied().unwrap_or(0),
            e,
            "district {d:04}"
        );
    }
    let fw = r
        .files
        .iter()
        .find(|f| f.path.ends_with("fips.csv"))
        .unwrap();
    assert_eq!(fw.rows, 1_001);
}

#[test]
fn rejects_empty_requests() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg(&[0], 10, 1, false);
    c.districts.clear();
    assert!(matches!(
        generate(&c, dir.path(), &|_, _| {}),
        Err(SynthError::NoDistricts)
    ));
    let c = cfg(&[0], 0, 1, false);
    assert!(matches!(
        generate(&c, dir.path(), &|_, _| {}),
        Err(SynthError::NoHouseholds)
    ));
}

#[test]
fn census_table_aligns_with_the_official_district_list() {
    let codes: Vec<DistrictCode> = crate::calib::district_stats()
        .unwrap()
        .iter()
        .map(|s| s.code)
        .collect();
    assert_eq!(codes, all_districts());
    assert_eq!(codes.len(), 263);
    let total: u64 = crate::calib::district_stats()
        .unwrap()
        .iter()
        .map(|s| s.pop5plus)
        .sum();
    assert_eq!(total, 5_644_232);
}

#[test]
fn every_schema_field_is_generated() {
    assert!(
        crate::out::unknown_fields().is_empty(),
        "{:?}",
        crate::out::unknown_fields()
    );
}

/// A national sample shared by the calibration tests (generated once per test binary run).
fn national() -> &'static (tempfile::TempDir, SynthReport) {
    static N: std::sync::OnceLock<(tempfile::TempDir, SynthReport)> = std::sync::OnceLock::new();
    N.get_or_init(|| {
        run(&cfg(
            &all_districts().iter().map(|d| d.get()).collect::<Vec<_>>(),
            20_000,
            2026,
            true,
        ))
    })
}

#[test]
fn every_code_exists_in_the_xlsforms() {
    let (dir, _) = national();
    let fips_lists = choices("fips.xlsx");
    let comm_lists = choices("comunidad.xlsx");
    let mut bad = BTreeMap::new();
    let fips = Table::read(&dir.path().join("fips.csv"));
    for row in &fips.rows {
        for f in HOUSEHOLD_FIELDS {
            let c = col_name(f);
            check_value(&fips_lists, &c, f.kind, fips.get(row, &c), &mut bad);
        }
        for (c, list) in [
            ("consentimiento", "si_no"),
            ("ubicacion-departamento", "departamento"),
            ("ubicacion-distrito", "distrito"),
            ("ubicacion-area", "area"),
        ] {
            check_value(
                &fips_lists,
                c,
                FieldKind::SelectOne(list),
                fips.get(row, c),
                &mut bad,
            );
        }
        let cuartos: u32 = fips.get(row, "vivienda-cuartos").parse().unwrap();
        let dorm: u32 = fips.get(row, "vivienda-dormitorios").parse().unwrap();
        assert!(dorm <= cuartos);
    }
    let m = Table::read(&dir.path().join("fips-miembros.csv"));
    for row in &m.rows {
        for f in PERSON_FIELDS {
            let c = col_name(f);
            check_value(&fips_lists, &c, f.kind, m.get(row, &c), &mut bad);
        }
        for (c, list) in [
            ("miembros-sexo", "sexo"),
            ("miembros-relacion_jefe", "relacion"),
        ] {
            check_value(
                &fips_lists,
                c,
                FieldKind::SelectOne(list),
                m.get(row, c),
                &mut bad,
            );
        }
    }
    let cm = Table::read(&dir.path().join("comunidades.csv"));
    for row in &cm.rows {
        for f in COMMUNITY_FIELDS {
            let c = col_name(f);
            check_value(&comm_lists, &c, f.kind, cm.get(row, &c), &mut bad);
        }
        for (c, list) in [
            ("ubicacion-distrito", "distrito"),
            ("ubicacion-area", "area"),
        ] {
            check_value(
                &comm_lists,
                c,
                FieldKind::SelectOne(list),
                cm.get(row, c),
                &mut bad,
            );
        }
        let p: Vec<&str> = (1..=3)
            .map(|i| cm.get(row, &format!("prioridades-prioridad_{i}")))
            .collect();
        assert!(p[0] != p[1] && p[0] != p[2] && p[1] != p[2], "{p:?}");
        let n: u32 = cm.get(row, "prioridades-participantes").parse().unwrap();
        assert!((5..=300).contains(&n));
    }
    assert!(bad.is_empty(), "codes not in the XLSForm: {bad:?}");
}

#[test]
fn households_are_coherent() {
    let (dir, r) = national();
    let fips = Table::read(&dir.path().join("fips.csv"));
    let m = Table::read(&dir.path().join("fips-miembros.csv"));
    let keys: HashSet<&str> = fips.rows.iter().map(|row| fips.get(row, "KEY")).collect();
    assert_eq!(keys.len(), fips.rows.len(), "household keys must be unique");
    for row in &fips.rows {
        assert_eq!(fips.get(row, "KEY"), fips.get(row, "meta-instanceID"));
        assert_eq!(fips.get(row, "deviceid"), "vamos-synth (sintético)");
    }
    let mut by_household: HashMap<&str, Vec<&csv::StringRecord>> = HashMap::new();
    for row in &m.rows {
        let parent = m.get(row, "PARENT_KEY");
        assert!(keys.contains(parent));
        by_household.entry(parent).or_default().push(row);
    }
    assert_eq!(
        by_household.len() as u64,
        r.households,
        "every household has members"
    );
    let mut cedulas = HashSet::new();
    for (parent, members) in &by_household {
        let heads = members
            .iter()
            .filter(|x| m.get(x, "miembros-relacion_jefe") == "jefe")
            .count();
        assert_eq!(heads, 1, "household {parent}");
        assert_eq!(m.get(members[0], "miembros-relacion_jefe"), "jefe");
        let head_age: u32 = m.get(members[0], "miembros-edad").parse().unwrap();
        assert!(head_age >= 18);
        let head_surnames = m.get(members[0], "miembros-apellidos");
        let head_first = head_surnames.split(' ').next().unwrap();
        for (i, x) in members.iter().enumerate() {
            assert_eq!(m.get(x, "KEY"), format!("{parent}/miembros[{}]", i + 1));
            let age: u32 = m.get(x, "miembros-edad").parse().unwrap();
            if m.get(x, "miembros-relacion_jefe") == "hijo" {
                assert!(
                    head_age >= age + 15 && head_age <= age + 60,
                    "head {head_age}, child {age}"
                );
                assert!(
                    m.get(x, "miembros-apellidos").contains(head_first),
                    "child carries the head's surname"
                );
            }
            let ced = m.get(x, "miembros-cedula");
            if !ced.is_empty() {
                assert!(
                    ced.len() >= 3 && ced.len() <= 9 && ced.bytes().all(|b| b.is_ascii_digit())
                );
                assert!(cedulas.insert(ced.to_string()), "cédula {ced} repeated");
                assert_eq!(m.get(x, "miembros-tiene_cedula"), "si");
            }
        }
    }
    let persons = m.rows.len() as f64 / fips.rows.len() as f64;
    assert!(
        (3.15..=3.7).contains(&persons),
        "persons per household {persons:.2}"
    );
}

#[test]
fn ages_dates_and_relevance_follow_the_form() {
    let (dir, _) = national();
    let fips = Table::read(&dir.path().join("fips.csv"));
    let m = Table::read(&dir.path().join("fips-miembros.csv"));
    let r = reference();
    let mut interview: HashMap<&str, NaiveDate> = HashMap::new();
    for row in &fips.rows {
        let d = date(fips.get(row, "fecha_entrevista"));
        assert!(d < r && d >= r - chrono::Days::new(90), "{d}");
        assert_eq!(fips.get(row, "today"), fips.get(row, "fecha_entrevista"));
        let sub = fips.get(row, "SubmissionDate");
        assert!(sub.ends_with(".000Z") && date(&sub[..10]) <= r + chrono::Days::new(1));
        assert!(fips.get(row, "start").ends_with("-03:00"));
        interview.insert(fips.get(row, "KEY"), d);
        let electricity = fips.get(row, "vivienda-electricidad");
        assert_eq!(
            fips.get(row, "vivienda-tarifa_social").is_empty(),
            electricity != "ande"
        );
    }
    for row in &m.rows {
        let g = |c: &str| m.get(row, &format!("miembros-{c}"));
        let age: u32 = g("edad").parse().unwrap();
        assert!(age <= 110);
        let birth = date(g("fecha_nacimiento"));
        let at = interview[m.get(row, "PARENT_KEY")];
        assert!(birth <= at);
        assert_eq!(crate::model::age_at(birth, at), age);
        let woman = g("sexo") == "mujer";
        assert_eq!(
            !g("embarazada").is_empty(),
            woman && (10..=55).contains(&age),
            "embarazada, {age}"
        );
        assert_eq!(
            !g("controles_prenatales").is_empty(),
            g("embarazada") == "si"
        );
        assert_eq!(!g("asiste_escuela").is_empty(), age >= 3);
        assert_eq!(!g("alfabetizado").is_empty(), age >= 6);
        assert_eq!(!g("carnet_vacunacion").is_empty(), age < 18);
        assert_eq!(!g("trabaja").is_empty(), age >= 10);
        assert_eq!(!g("tipo_empleo").is_empty(), g("trabaja") == "si");
        assert_eq!(!g("aporta_jubilacion").is_empty(), g("trabaja") == "si");
        assert_eq!(!g("pueblo_indigena").is_empty(), g("indigena") == "si");
        for c in [
            "nombres",
            "apellidos",
            "nivel_educativo",
            "seguro_salud",
            "inscripcion_nacimiento",
            "tiene_cedula",
            "recibe_pension",
            "idiomas",
            "programas",
            "indigena",
        ] {
            assert!(!g(c).is_empty(), "{c} is required");
        }
        let prog = g("programas");
        assert!(prog == "ninguno" || !prog.split(' ').any(|p| p == "ninguno"));
        if g("recibe_pension") == "adultos_mayores" {
            assert!(age >= 65 && prog.contains("adultos_mayores"));
        }
    }
}

/// Shares computed from the national sample, compared with the published figures the model is
/// calibrated on (tolerances allow for sampling noise and the model's approximations).
#[test]
fn national_sample_matches_public_figures() {
    let (dir, _) = national();
    let fips = Table::read(&dir.path().join("fips.csv"));
    let m = Table::read(&dir.path().join("fips-miembros.csv"));
    let area: HashMap<&str, &str> = fips
        .rows
        .iter()
        .map(|r| (fips.get(r, "KEY"), fips.get(r, "ubicacion-area")))
        .collect();
    let n = m.rows.len() as f64;
    let share = |f: &dyn Fn(&csv::StringRecord) -> bool,
                 of: &dyn Fn(&csv::StringRecord) -> bool| {
        let base: Vec<_> = m.rows.iter().filter(|r| of(r)).collect();
        base.iter().filter(|r| f(r)).count() as f64 / base.len().max(1) as f64
    };
    let g = |r: &csv::StringRecord, c: &str| m.get(r, &format!("miembros-{c}")).to_string();
    let age = |r: &csv::StringRecord| g(r, "edad").parse::<u32>().unwrap();
    let all = |_: &csv::StringRecord| true;
    let urban = |r: &csv::StringRecord| area[m.get(r, "PARENT_KEY")] == "urbana";

    let under15 = share(&|r| age(r) < 15, &all);
    let over65 = share(&|r| age(r) >= 65, &all);
    let under5 = share(&|r| age(r) < 5, &all);
    let urban_share = share(&urban, &all);
    let insured = share(&|r| g(r, "seguro_salud") != "ninguno", &all);
    let insured_u = share(&|r| g(r, "seguro_salud") != "ninguno", &urban);
    let insured_r = share(&|r| g(r, "seguro_salud") != "ninguno", &|r| !urban(r));
    let ips = share(&|r| g(r, "seguro_salud") == "ips", &all);
    let attend_6_14 = share(&|r| g(r, "asiste_escuela") == "si", &|r| {
        (6..=14).contains(&age(r))
    });
    let attend_15_17 = share(&|r| g(r, "asiste_escuela") == "si", &|r| {
        (15..=17).contains(&age(r))
    });
    let literate = share(&|r| g(r, "alfabetizado") == "si", &|r| age(r) >= 15);
    let works = share(&|r| g(r, "trabaja") == "si", &|r| {
        (18..=64).contains(&age(r))
    });
    let informal = share(&|r| g(r, "aporta_jubilacion") == "no", &|r| {
        g(r, "trabaja") == "si"
    });
    let am = share(&|r| g(r, "recibe_pension") == "adultos_mayores", &|r| {
        age(r) >= 65
    });
    let contrib = share(
        &|r| {
            matches!(
                g(r, "recibe_pension").as_str(),
                "ips_jubilacion" | "otra_caja"
            )
        },
        &|r| age(r) >= 65,
    );
    let wg = share(
        &|r| {
            ["ver", "oir", "caminar", "recordar", "cuidado", "comunicar"]
                .iter()
                .any(|d| matches!(g(r, &format!("wg_{d}")).as_str(), "mucha" | "no_puede"))
        },
        &all,
    );
    let pregnant = share(&|r| g(r, "embarazada") == "si", &|r| {
        g(r, "sexo") == "mujer" && (15..=44).contains(&age(r))
    });
    let cedula_adults = share(&|r| g(r, "tiene_cedula") == "si", &|r| age(r) >= 18);
    let cedula_0_4 = share(&|r| g(r, "tiene_cedula") == "si", &|r| age(r) < 5);
    let indigenous = share(&|r| g(r, "indigena") == "si", &all);
    let vacc = share(&|r| g(r, "carnet_vacunacion") == "si", &|r| age(r) < 5);
    let registered = share(&|r| g(r, "inscripcion_nacimiento") == "si", &all);
    let ande = fips
        .rows
        .iter()
        .filter(|r| fips.get(r, "vivienda-electricidad") == "ande")
        .count() as f64
        / fips.rows.len() as f64;
    let firewood_r = {
        let rural: Vec<_> = fips
            .rows
            .iter()
            .filter(|r| fips.get(r, "ubicacion-area") == "rural")
            .collect();
        rural
            .iter()
            .filter(|r| fips.get(r, "vivienda-combustible_cocina") == "lena")
            .count() as f64
            / rural.len() as f64
    };
    let report = format!(
        "persons {n} per household {:.3}\nunder 5 {under5:.3} under 15 {under15:.3} 65+ {over65:.3} urban {urban_share:.3}\n\
         insured {insured:.3} (urban {insured_u:.3}, rural {insured_r:.3}) ips {ips:.3}\n\
         attend 6-14 {attend_6_14:.3} 15-17 {attend_15_17:.3} literate 15+ {literate:.3}\n\
         works 18-64 {works:.3} informal {informal:.3} adultos mayores 65+ {am:.3} contributory 65+ {contrib:.3}\n\
         WG disability {wg:.3} pregnant 15-44 {pregnant:.3} cédula 18+ {cedula_adults:.3} 0-4 {cedula_0_4:.3}\n\
         indigenous {indigenous:.3} vaccination card 0-4 {vacc:.3} birth registered {registered:.3}\n\
         ANDE {ande:.3} firewood (rural households) {firewood_r:.3}",
        n / fips.rows.len() as f64
    );
    println!("{report}");
    let within = |x: f64, lo: f64, hi: f64, what: &str| {
        assert!((lo..=hi).contains(&x), "{what} = {x:.3}\n{report}")
    };
    within(under5, 0.06, 0.10, "0–4 share (CNPV 7.6 %)");
    within(under15, 0.22, 0.30, "under-15 share (CNPV 25.0 %)");
    within(over65, 0.065, 0.115, "65+ share (CNPV ≈ 8.8 %)");
    within(urban_share, 0.62, 0.76, "urban share (CNPV 69 %)");
    within(insured, 0.22, 0.35, "health insurance (EPHC 28.6 %)");
    assert!(
        insured_u > insured_r + 0.1,
        "urban insurance above rural\n{report}"
    );
    within(ips, 0.14, 0.26, "IPS (EPHC ≈ 19–20 %)");
    within(attend_6_14, 0.88, 0.99, "attendance 6–14");
    within(attend_15_17, 0.70, 0.92, "attendance 15–17");
    within(literate, 0.90, 0.99, "literacy 15+ (CNPV 96.3 %)");
    within(works, 0.62, 0.80, "employment 18–64");
    within(informal, 0.55, 0.75, "informality");
    within(am, 0.30, 0.58, "Adultos Mayores pension 65+");
    within(contrib, 0.10, 0.30, "contributory pension 65+");
    within(wg, 0.03, 0.08, "WG disability");
    within(pregnant, 0.02, 0.05, "pregnant women 15–44");
    within(cedula_adults, 0.90, 0.99, "cédula 18+");
    within(cedula_0_4, 0.25, 0.50, "cédula 0–4");
    within(indigenous, 0.01, 0.04, "indigenous share (CNPV 2.3 %)");
    within(vacc, 0.65, 0.88, "vaccination card 0–4");
    within(registered, 0.90, 0.99, "birth registration");
    within(ande, 0.94, 0.995, "ANDE electricity");
    within(firewood_r, 0.3, 0.7, "rural firewood");
}

#[test]
fn indigenous_people_live_where_they_live() {
    let boqueron = run(&cfg(&[1602, 1604, 1605, 1606], 3_000, 11, false));
    let central: Vec<u16> = (1101..=1119).collect();
    let central = run(&cfg(&central, 3_000, 11, false));
    let share = |dir: &Path| {
        let m = Table::read(&dir.join("fips-miembros.csv"));
        let ind: Vec<_> = m
            .rows
            .iter()
            .filter(|r| m.get(r, "miembros-indigena") == "si")
            .collect();
        let pueblos: HashSet<String> = ind
            .iter()
            .map(|r| m.get(r, "miembros-pueblo_indigena").to_string())
            .collect();
        for r in &ind {
            assert!(m.get(r, "miembros-idiomas").contains("lengua_indigena"));
        }
        (ind.len() as f64 / m.rows.len() as f64, pueblos)
    };
    let (b, pb) = share(boqueron.0.path());
    let (c, _) = share(central.0.path());
    assert!(b > 0.3, "Boquerón indigenous share {b:.3}");
    assert!(c < 0.02, "Central indigenous share {c:.3}");
    assert!(pb.contains("nivacle"));
    assert!(pb.iter().all(|p| [
        "nivacle",
        "enlhet_norte",
        "guarani_nandeva",
        "guarani_occidental",
        "ayoreo",
        "manjui"
    ]
    .contains(&p.as_str())));
    let comm = Table::read(&boqueron.0.path().join("comunidades.csv"));
    assert!(comm
        .rows
        .iter()
        .any(|r| comm.get(r, "ubicacion-localidad").starts_with("Comunidad ")));
    // Indigenous households are more deprived: less grid electricity.
    let fips = Table::read(&boqueron.0.path().join("fips.csv"));
    let ind_comm: Vec<_> = fips
        .rows
        .iter()
        .filter(|r| fips.get(r, "ubicacion-localidad").starts_with("Comunidad "))
        .collect();
    let no_ande = ind_comm
        .iter()
        .filter(|r| fips.get(r, "vivienda-electricidad") != "ande")
        .count() as f64
        / ind_comm.len() as f64;
    assert!(
        no_ande > 0.1,
        "indigenous households without ANDE {no_ande:.3}"
    );
}

#[test]
fn points_are_inside_their_department() {
    let (dir, _) = national();
    let geo = crate::geo::Geo::load().unwrap();
    for (file, gps) in [
        ("fips.csv", "ubicacion-gps"),
        ("comunidades.csv", "ubicacion-gps"),
    ] {
        let t = Table::read(&dir.path().join(file));
        for r in &t.rows {
            let v: Vec<f64> = t
                .get(r, gps)
                .split(' ')
                .map(|x| x.parse().unwrap())
                .collect();
            assert_eq!(v.len(), 4);
            let dept: u8 = t.get(r, "ubicacion-departamento").parse().unwrap();
            let p = crate::geo::Point {
                lat: v[0],
                lon: v[1],
            };
            assert!(geo.contains(dept, p), "{p:?} outside department {dept}");
        }
    }
}

#[test]
fn mec_file_is_windows_1252_with_semicolons() {
    let (dir, _) = national();
    let bytes = std::fs::read(dir.path().join("admin/mec_matricula.csv")).unwrap();
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "accented names must not be UTF-8"
    );
    let (text, _, had_errors) = encoding_rs::WINDOWS_1252.decode(&bytes);
    assert!(!had_errors);
    assert!(text.starts_with(
        "id_registro;cedula;nombres;apellidos;fecha_nacimiento;sexo;distrito;servicio;fecha_evento;detalle\r\n"
    ));
    assert!(text.contains("N° "), "degree sign decoded from 0xB0");
    let mut rows = 0;
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(';').collect();
        assert_eq!(f.len(), 10, "{line}");
        assert!(f[0].starts_with("MEC-"));
        for d in [f[4], f[8]] {
            assert!(NaiveDate::parse_from_str(d, "%d/%m/%Y").is_ok(), "{d}");
        }
        assert!(f[5] == "M" || f[5] == "F");
        assert_eq!(f[7], "matricula_escolar");
        rows += 1;
    }
    assert!(rows > 1_000);
    // The UTF-8 registries use commas and ISO dates.
    let ips = Table::read(&dir.path().join("admin/ips_aportes.csv"));
    assert_eq!(ips.cols.len(), 10);
    assert!(ips
        .rows
        .iter()
        .all(|r| ips.get(r, "servicio") == "aporte_ips"));
}

#[test]
fn registries_carry_realistic_defects() {
    let (dir, _) = national();
    let m = Table::read(&dir.path().join("fips-miembros.csv"));
    let survey: HashSet<&str> = m
        .rows
        .iter()
        .map(|r| m.get(r, "miembros-cedula"))
        .filter(|c| !c.is_empty())
        .collect();
    let lo = reference() - chrono::Days::new(548);
    for file in [
        "ips_aportes.csv",
        "pension_adultos_mayores.csv",
        "mspbs_vacunacion.csv",
        "rc_nacimientos.csv",
        "utgs_orientaciones.csv",
    ] {
        let t = Table::read(&dir.path().join("admin").join(file));
        assert!(t.rows.len() > 100, "{file}: {} rows", t.rows.len());
        let n = t.rows.len() as f64;
        let missing = t
            .rows
            .iter()
            .filter(|r| t.get(r, "cedula").is_empty())
            .count() as f64
            / n;
        let unmatched = t
            .rows
            .iter()
            .filter(|r| !t.get(r, "cedula").is_empty() && !survey.contains(t.get(r, "cedula")))
            .count() as f64
            / n;
        // ORIENTACIONES SPS records must still be valid (365 days) at the reference date.
        let lo = if file == "utgs_orientaciones.csv" {
            reference() - chrono::Days::new(364)
        } else {
            lo
        };
        for r in &t.rows {
            let d = date(t.get(r, "fecha_evento"));
            assert!(d >= lo && d <= reference(), "{file}: event {d}");
            assert!(t.get(r, "distrito").len() == 4);
        }
        if file == "ips_aportes.csv" || file == "pension_adultos_mayores.csv" {
            // Adults: ≈ 3 % missing; mistyped (≈ 2 %) and outsiders (≈ 5 %) do not match.
            assert!(
                (0.01..0.08).contains(&missing),
                "{file}: missing {missing:.3}"
            );
            assert!(
                (0.03..0.12).contains(&unmatched),
                "{file}: unmatched {unmatched:.3}"
            );
        }
    }
    let ips = Table::read(&dir.path().join("admin/ips_aportes.csv"));
    let upper = ips
        .rows
        .iter()
        .filter(|r| ips.get(r, "apellidos").chars().all(|c| !c.is_lowercase()))
        .count();
    assert!(
        upper as f64 > 0.7 * ips.rows.len() as f64,
        "IPS writes names in upper case"
    );
}

#[test]
fn utgs_orientaciones_reach_pilot_districts_first() {
    let (dir, _) = run(&cfg(
        &[1116, 1602, 218, 607, 1101, 1604, 1005],
        4_000,
        5,
        true,
    ));
    let pilot = |d: &str| ["1116", "1602", "0218", "0607"].contains(&d);
    let fips = Table::read(&dir.path().join("fips.csv"));
    let district: HashMap<&str, &str> = fips
        .rows
        .iter()
        .map(|r| (fips.get(r, "KEY"), fips.get(r, "ubicacion-distrito")))
        .collect();
    let m = Table::read(&dir.path().join("fips-miembros.csv"));
    let u = Table::read(&dir.path().join("admin/utgs_orientaciones.csv"));
    assert_eq!(u.cols.len(), 10);
    let window_start = reference() - chrono::Days::new(364);
    let mut with_cedula = HashSet::new();
    for r in &u.rows {
        assert!(u.get(r, "id_registro").starts_with("UTGS-"));
        // Valid at the reference date: the catalogue's rule has `vigencia_dias = 365`.
        let d = date(u.get(r, "fecha_evento"));
        assert!(d >= window_start && d <= reference(), "event {d}");
        let detalle = u.get(r, "detalle");
        // A community activity has its own service code (it also evidences the community's).
        let expected = if detalle.starts_with("Jornada comunitaria - ") {
            "orientacion_comunitaria"
        } else {
            assert!(
                detalle.starts_with("Espacio SPS ") || detalle == "Orientación telefónica",
                "{detalle}"
            );
            "orientacion"
        };
        assert_eq!(u.get(r, "servicio"), expected, "{detalle}");
        if !u.get(r, "cedula").is_empty() {
            with_cedula.insert(u.get(r, "cedula"));
        }
    }
    // Share of survey persons with a cédula whose cédula has a record, by territory and age;
    // and records without a cédula against persons without one.
    // Index: [pilot?][child?] → (persons, matched).
    let mut reach = [[(0u32, 0u32); 2]; 2];
    let mut without = [0u32; 2];
    let mut survey = HashSet::new();
    for r in &m.rows {
        let p = usize::from(pilot(district[m.get(r, "PARENT_KEY")]));
        let ced = m.get(r, "miembros-cedula");
        if ced.is_empty() {
            without[p] += 1;
            continue;
        }
        survey.insert(ced);
        let child = usize::from(m.get(r, "miembros-edad").parse::<u32>().unwrap() < 18);
        let cell = &mut reach[p][child];
        cell.0 += 1;
        cell.1 += u32::from(with_cedula.contains(ced));
    }
    let share = |c: &[(u32, u32)]| {
        let (n, k) = c.iter().fold((0, 0), |a, x| (a.0 + x.0, a.1 + x.1));
        assert!(n > 500, "{n} persons");
        f64::from(k) / f64::from(n)
    };
    let (pilot_all, other_all) = (share(&reach[1]), share(&reach[0]));
    let (pilot_children, other_children) = (share(&reach[1][1..]), share(&reach[0][1..]));
    let mut unnamed = [0u32; 2];
    for r in u.rows.iter().filter(|r| u.get(r, "cedula").is_empty()) {
        unnamed[usize::from(pilot(u.get(r, "distrito")))] += 1;
    }
    let no_cedula = |p: usize| f64::from(unnamed[p]) / f64::from(without[p]);
    let unmatched = u
        .rows
        .iter()
        .filter(|r| !u.get(r, "cedula").is_empty() && !survey.contains(u.get(r, "cedula")))
        .count() as f64
        / u.rows.len() as f64;
    let report = format!(
        "persons with cédula reached: pilot {pilot_all:.3} (under 18 {pilot_children:.3}), \
         elsewhere {other_all:.3} (under 18 {other_children:.3}); records without cédula per \
         person without: pilot {:.3}, elsewhere {:.3}; records not matching {unmatched:.3}",
        no_cedula(1),
        no_cedula(0)
    );
    println!("{report}");
    assert!((0.72..=0.88).contains(&pilot_all), "{report}");
    assert!((0.33..=0.52).contains(&other_all), "{report}");
    assert!(pilot_all > other_all + 0.25, "{report}");
    // Children are covered through records in their own name.
    assert!((0.70..=0.92).contains(&pilot_children), "{report}");
    assert!((0.30..=0.55).contains(&other_children), "{report}");
    // Persons without a cédula are reached about as often; their records carry none.
    assert!(
        no_cedula(1) > 0.6 * pilot_all && no_cedula(1) < 1.4 * pilot_all,
        "{report}"
    );
    assert!(no_cedula(0) < no_cedula(1), "{report}");
    // Mistyped cédulas, outsiders and numbers the survey did not record.
    assert!((0.04..=0.14).contains(&unmatched), "{report}");
}

#[test]
fn manifest_and_notice_say_synthetic() {
    let c = cfg(&[1116, 1602], 200, 77, true);
    let (dir, r) = run(&c);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(v["synthetic"], true);
    assert_eq!(v["generator"], "vamos synth");
    assert_eq!(v["seed"], 77);
    assert_eq!(v["households"], 200);
    assert_eq!(v["persons"], r.persons);
    assert_eq!(v["reference_date"], "2026-10-15");
    assert_eq!(v["districts"], serde_json::json!(["1116", "1602"]));
    let mec = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "admin/mec_matricula.csv")
        .unwrap();
    assert_eq!(mec["encoding"], "windows-1252");
    let utgs = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "admin/utgs_orientaciones.csv")
        .unwrap();
    assert_eq!(utgs["encoding"], "utf-8");
    assert_eq!(utgs["delimiter"], ",");
    assert!(utgs["what"].as_str().unwrap().ends_with("— SINTÉTICO"));
    assert!(utgs["rows"].as_u64().unwrap() > 0);
    let leeme = std::fs::read_to_string(dir.path().join("LEEME_SINTETICO.txt")).unwrap();
    assert!(
        leeme.contains("SINTÉTICOS") && leeme.contains("semilla 77") && leeme.contains("Villeta")
    );
    assert!(leeme.contains("admin/utgs_orientaciones.csv") && leeme.contains("ORIENTACIONES SPS"));
    assert!(r.files.iter().all(|f| f.path.exists()));
    assert_eq!(
        r.communities as usize,
        Table::read(&dir.path().join("comunidades.csv")).rows.len()
    );
}

/// National-scale timing on a tenth of the country; run with
/// `cargo test --release -p vamos-synth -- --ignored --nocapture timing`.
#[test]
#[ignore]
fn timing_100k_households() {
    let districts: Vec<u16> = all_districts().iter().map(|d| d.get()).collect();
    for admin in [false, true] {
        let c = cfg(&districts, 100_000, 1, admin);
        let dir = tempfile::tempdir().unwrap();
        let t = std::time::Instant::now();
        let r = generate(&c, dir.path(), &|_, _| {}).unwrap();
        println!(
            "100,000 households (admin: {admin}): {:.2} s, {} persons, {} communities, {} admin records",
            t.elapsed().as_secs_f64(),
            r.persons,
            r.communities,
            r.admin_records
        );
    }
}

/// Writes a national sample to `$VAMOS_SYNTH_OUT` for inspection (development aid); the size
/// is `$VAMOS_SYNTH_HOUSEHOLDS` (default 30,000), e.g. 1,900,000 for national scale, and
/// `$VAMOS_SYNTH_DISTRICTS` (comma-separated codes, e.g. `1116,1602,0218,0607`) narrows it.
#[test]
#[ignore]
fn dump_sample() {
    let Ok(out) = std::env::var("VAMOS_SYNTH_OUT") else {
        return;
    };
    let households = std::env::var("VAMOS_SYNTH_HOUSEHOLDS")
        .ok()
        .and_then(|h| h.parse().ok())
        .unwrap_or(30_000);
    let districts: Vec<u16> = match std::env::var("VAMOS_SYNTH_DISTRICTS") {
        Ok(list) => list.split(',').map(|d| d.trim().parse().unwrap()).collect(),
        Err(_) => all_districts().iter().map(|d| d.get()).collect(),
    };
    let t = std::time::Instant::now();
    let r = generate(
        &cfg(&districts, households, 3, true),
        Path::new(&out),
        &|_, _| {},
    )
    .unwrap();
    println!(
        "{households} households: {:.1} s, {} persons, {} communities, {} admin records",
        t.elapsed().as_secs_f64(),
        r.persons,
        r.communities,
        r.admin_records
    );
}

/// Every household of a re-interview wave can be tied to its first interview: it edits the
/// earlier submission (`meta-deprecatedID`) or keeps a member with a cédula — never a household
/// whose only cédula-bearing member is the one who left.
#[test]
fn every_reinterviewed_household_keeps_a_way_to_be_matched() {
    // Large enough to meet the rare case (a household whose one cédula-bearing member left).
    let (one, _) = run(&cfg(&[1116, 1602, 218, 607], 40000, 11, false));
    let two = tempfile::tempdir().unwrap();
    let r = reinterview(one.path(), two.path(), 11).unwrap();
    assert_eq!(r.households, 40000);
    let h = Table::read(&two.path().join("fips.csv"));
    let m = Table::read(&two.path().join("fips-miembros.csv"));
    let with_nid: HashSet<&str> = m
        .rows
        .iter()
        .filter(|row| !m.get(row, "miembros-cedula").is_empty())
        .map(|row| m.get(row, "PARENT_KEY"))
        .collect();
    let mut by_edit = 0;
    for row in &h.rows {
        if !h.get(row, "meta-deprecatedID").is_empty() {
            by_edit += 1;
        } else {
            assert!(
                with_nid.contains(h.get(row, "KEY")),
                "household {} cannot be matched",
                h.get(row, "KEY")
            );
        }
    }
    // Both ways of matching are exercised.
    assert!(by_edit > 0 && by_edit < 40000, "{by_edit}");
}
