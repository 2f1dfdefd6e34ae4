//! Behavioural tests of the importers, on both backends: what is accepted, what is rejected
//! (file, row, column, value, reason), atomicity, idempotency, and every input layout
//! (ODK Central CSV / ZIP, KoboToolbox, XLSX, Latin-1 with `;` and dd/mm/yyyy).

use crate::opts;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use vamos_domain::schema::{HOUSEHOLD_FIELDS, PERSON_FIELDS};
use vamos_domain::ImportKind;
use vamos_ingest::{run_import, ImportSummary, NoProgress};
use vamos_store::testing::{all_dbs, TestDb};

/// A household row: field overrides on top of valid defaults.
fn household(key: &str, district: &str, over: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut m: BTreeMap<String, String> = BTreeMap::new();
    let dep = district.get(..2).unwrap_or("").to_string();
    for (k, v) in [
        ("SubmissionDate", "2026-10-02T14:03:11.000Z"),
        ("consentimiento", "si"),
        ("fecha_entrevista", "2026-10-01"),
        ("ubicacion-departamento", dep.as_str()),
        ("ubicacion-distrito", district),
        ("ubicacion-area", "urbana"),
        ("ubicacion-localidad", "Barrio San Roque"),
        ("ubicacion-gps", "-25.5091 -57.5611 0 5"),
        ("vivienda-tenencia", "propia"),
        ("vivienda-material_paredes", "ladrillo"),
        ("vivienda-material_piso", "baldosa"),
        ("vivienda-material_techo", "teja"),
        ("vivienda-cuartos", "3"),
        ("vivienda-dormitorios", "2"),
        ("vivienda-fuente_agua", "red_essap_senasa"),
        ("vivienda-saneamiento", "pozo_ciego"),
        ("vivienda-electricidad", "ande"),
        ("vivienda-tarifa_social", "no"),
        ("vivienda-internet", "si"),
        ("vivienda-combustible_cocina", "gas"),
        ("vivienda-basura", "recoleccion_publica"),
        ("ReviewState", ""),
        ("meta-instanceID", &format!("uuid:{key}")),
        ("KEY", &format!("uuid:{key}")),
    ] {
        m.insert(k.to_string(), v.to_string());
    }
    for (k, v) in over {
        m.insert(k.to_string(), v.to_string());
    }
    m
}

fn person(
    parent: &str,
    n: u32,
    rel: &str,
    birth: &str,
    sex: &str,
    cedula: &str,
    over: &[(&str, &str)],
) -> BTreeMap<String, String> {
    let mut m: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in [
        ("miembros-nombres", "María José"),
        ("miembros-apellidos", "Benítez Ayala"),
        ("miembros-cedula", cedula),
        ("miembros-fecha_nacimiento", birth),
        ("miembros-sexo", sex),
        ("miembros-relacion_jefe", rel),
        ("miembros-wg_ver", "sin_dificultad"),
        ("miembros-indigena", "no"),
        ("miembros-idiomas", "guarani castellano"),
        ("miembros-seguro_salud", "ninguno"),
        (
            "miembros-tiene_cedula",
            if cedula.is_empty() { "no" } else { "si" },
        ),
        ("miembros-programas", "ninguno"),
        ("PARENT_KEY", &format!("uuid:{parent}")),
        ("KEY", &format!("uuid:{parent}/miembros[{n}]")),
    ] {
        m.insert(k.to_string(), v.to_string());
    }
    for (k, v) in over {
        m.insert(k.to_string(), v.to_string());
    }
    m
}

fn household_header() -> Vec<String> {
    let mut h: Vec<String> = [
        "SubmissionDate",
        "consentimiento",
        "fecha_entrevista",
        "ubicacion-departamento",
        "ubicacion-distrito",
        "ubicacion-area",
        "ubicacion-localidad",
        "ubicacion-gps",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    h.extend(
        HOUSEHOLD_FIELDS
            .iter()
            .map(|f| format!("vivienda-{}", f.name)),
    );
    h.extend([
        "ReviewState".to_string(),
        "meta-instanceID".to_string(),
        "KEY".to_string(),
    ]);
    h
}

fn person_header() -> Vec<String> {
    let mut h: Vec<String> = [
        "nombres",
        "apellidos",
        "cedula",
        "fecha_nacimiento",
        "sexo",
        "relacion_jefe",
    ]
    .iter()
    .map(|s| format!("miembros-{s}"))
    .collect();
    h.extend(PERSON_FIELDS.iter().map(|f| format!("miembros-{}", f.name)));
    h.extend(["PARENT_KEY".to_string(), "KEY".to_string()]);
    h
}

fn write_csv(path: &Path, header: &[String], rows: &[BTreeMap<String, String>], delim: u8) {
    let mut w = csv::WriterBuilder::new()
        .delimiter(delim)
        .from_path(path)
        .unwrap();
    w.write_record(header).unwrap();
    for r in rows {
        w.write_record(header.iter().map(|h| r.get(h).cloned().unwrap_or_default()))
            .unwrap();
    }
    w.flush().unwrap();
}

/// Three valid households (Villeta, Mariscal Estigarribia, San Juan Nepomuceno), 7 persons.
type Rows = Vec<BTreeMap<String, String>>;

fn valid_survey() -> (Rows, Rows) {
    let hh = vec![
        household("h1", "1116", &[]),
        household(
            "h2",
            "1602",
            &[
                ("ubicacion-localidad", "Comunidad Indígena Yalve Sanga"),
                ("ubicacion-gps", "-22.03 -60.61 0 5"),
            ],
        ),
        household(
            "h3",
            "0607",
            &[("ubicacion-area", "rural"), ("ubicacion-gps", "")],
        ),
    ];
    let pp = vec![
        person("h1", 1, "jefe", "1980-05-17", "mujer", "1234567", &[]),
        person("h1", 2, "conyuge", "1978-01-02", "hombre", "2345678", &[]),
        person("h1", 3, "hijo", "2015-07-30", "hombre", "", &[]),
        person(
            "h2",
            1,
            "jefe",
            "1960-03-03",
            "hombre",
            "3456789",
            &[
                ("miembros-indigena", "si"),
                ("miembros-pueblo_indigena", "nivacle"),
            ],
        ),
        person("h2", 2, "nieto", "2025-12-01", "mujer", "", &[]),
        person("h3", 1, "jefe", "1950-09-09", "mujer", "456789", &[]),
        person(
            "h3",
            2,
            "hijo",
            "1990-10-10",
            "mujer",
            "5678901",
            &[
                ("miembros-embarazada", "si"),
                ("miembros-controles_prenatales", "3"),
            ],
        ),
    ];
    (hh, pp)
}

fn write_survey(dir: &Path, hh: &[BTreeMap<String, String>], pp: &[BTreeMap<String, String>]) {
    write_csv(&dir.join("fips.csv"), &household_header(), hh, b',');
    write_csv(&dir.join("fips-miembros.csv"), &person_header(), pp, b',');
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

fn counts(db: &TestDb) -> (u64, u64, u64) {
    let mut s = db.open();
    let c = s.district_counts().unwrap();
    (
        c.iter().map(|x| x.persons).sum(),
        c.iter().map(|x| x.households).sum(),
        c.iter().map(|x| x.communities).sum(),
    )
}

fn read_rejects(p: &Path) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(p).unwrap();
    let text = text.trim_start_matches('\u{feff}');
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let h = r.headers().unwrap().clone();
    r.records()
        .map(|x| {
            h.iter()
                .zip(x.unwrap().iter())
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        })
        .collect()
}

#[test]
fn valid_survey_is_accepted_and_reimport_changes_nothing() {
    for db in all_dbs() {
        let dir = tempfile::tempdir().unwrap();
        let (hh, pp) = valid_survey();
        write_survey(dir.path(), &hh, &pp);
        let s = import(&db, ImportKind::Fips, &[dir.path().to_path_buf()], None);
        assert_eq!(
            (s.households_accepted, s.persons_accepted, s.rows_rejected),
            (3, 7, 0),
            "{}: {:?}",
            db.label,
            s.rejections_by_reason
        );
        assert_eq!(s.communities_created, 3);
        assert_eq!(counts(&db), (7, 3, 3));
        let again = import(&db, ImportKind::Fips, &[dir.path().to_path_buf()], None);
        assert_eq!(
            (
                again.households_accepted,
                again.persons_accepted,
                again.rows_rejected
            ),
            (0, 0, 0),
            "{}",
            db.label
        );
        assert_eq!(
            (
                again.households_already_registered,
                again.persons_already_registered
            ),
            (3, 7)
        );
        assert_eq!(counts(&db), (7, 3, 3), "{}", db.label);
    }
}

/// Each planted error is reported once, on its own row and column, with its reason.
#[test]
#[allow(clippy::too_many_lines)] // reason: a scenario test, to be split into one test per behaviour
fn each_kind_of_bad_row_is_rejected_with_file_row_column_and_reason() {
    for db in all_dbs() {
        let dir = tempfile::tempdir().unwrap();
        let (mut hh, mut pp) = valid_survey();
        // Households (file rows start at 2).
        hh.push(household(
            "bad-district",
            "9999",
            &[("ubicacion-departamento", "11")],
        )); // row 5
        hh.push(household("h1", "1116", &[])); // row 6: duplicate submission
        hh.push(household(
            "bad-date",
            "1116",
            &[("fecha_entrevista", "31/02/2026")],
        )); // row 7
        hh.push(household(
            "bad-code",
            "1116",
            &[("vivienda-fuente_agua", "canilla")],
        )); // row 8
        hh.push(household(
            "bad-dep",
            "1116",
            &[("ubicacion-departamento", "16")],
        )); // row 9
        hh.push(household(
            "reviewed",
            "1116",
            &[("ReviewState", "rejected")],
        )); // row 10
            // Members.
        pp.push(person("nobody", 1, "jefe", "1990-01-01", "mujer", "", &[])); // row 9: no household
        pp.push(person("h1", 4, "jefe", "1999-01-01", "hombre", "", &[])); // row 10: second head
        pp.push(person("h1", 5, "hijo", "2027-01-01", "mujer", "", &[])); // row 11: born in the future
        pp.push(person(
            "h3",
            3,
            "padre_madre",
            "1890-01-01",
            "hombre",
            "",
            &[],
        )); // row 12: older than 120
        pp.push(person(
            "h3",
            4,
            "nieto",
            "2020-02-20",
            "mujer",
            "1234567",
            &[],
        )); // row 13: cédula of h1/1, other birth date
        pp.push(person("h3", 5, "nieto", "20/20/2020", "mujer", "", &[])); // row 14: impossible date
        pp.push(person(
            "bad-district",
            1,
            "jefe",
            "1990-01-01",
            "mujer",
            "",
            &[],
        )); // row 15: household rejected
        write_survey(dir.path(), &hh, &pp);
        let rej = dir.path().join("rechazos.csv");
        let s = import(
            &db,
            ImportKind::Fips,
            &[dir.path().to_path_buf()],
            Some(rej.clone()),
        );
        assert_eq!(
            (s.households_accepted, s.persons_accepted),
            (3, 7),
            "{}",
            db.label
        );
        assert_eq!(
            (s.households_rejected, s.persons_rejected, s.rows_rejected),
            (6, 7, 13),
            "{}",
            db.label
        );
        let rows = read_rejects(&rej);
        let find = |file: &str, row: &str| -> &BTreeMap<String, String> {
            rows.iter()
                .find(|r| r["archivo"] == file && r["fila"] == row)
                .unwrap_or_else(|| panic!("{file}:{row} not reported: {rows:?}"))
        };
        let expect = [
            (
                "fips.csv",
                "5",
                "ubicacion-distrito",
                "9999",
                "distrito desconocido",
            ),
            ("fips.csv", "6", "KEY", "h1", "envío duplicado"),
            (
                "fips.csv",
                "7",
                "fecha_entrevista",
                "31/02/2026",
                "fecha imposible",
            ),
            (
                "fips.csv",
                "8",
                "vivienda-fuente_agua",
                "canilla",
                "código desconocido",
            ),
            (
                "fips.csv",
                "9",
                "ubicacion-departamento",
                "16",
                "no pertenece al departamento",
            ),
            (
                "fips.csv",
                "10",
                "ReviewState",
                "rejected",
                "rechazado en la revisión de ODK Central",
            ),
            (
                "fips-miembros.csv",
                "9",
                "PARENT_KEY",
                "nobody",
                "miembro sin hogar",
            ),
            (
                "fips-miembros.csv",
                "10",
                "miembros-relacion_jefe",
                "jefe",
                "segundo jefe de hogar",
            ),
            (
                "fips-miembros.csv",
                "11",
                "miembros-fecha_nacimiento",
                "2027-01-01",
                "en el futuro",
            ),
            (
                "fips-miembros.csv",
                "12",
                "miembros-fecha_nacimiento",
                "1890-01-01",
                "edad mayor a 120",
            ),
            (
                "fips-miembros.csv",
                "13",
                "miembros-cedula",
                "1234567",
                "otra fecha de nacimiento",
            ),
            (
                "fips-miembros.csv",
                "14",
                "miembros-fecha_nacimiento",
                "20/20/2020",
                "fecha imposible",
            ),
            (
                "fips-miembros.csv",
                "15",
                "PARENT_KEY",
                "bad-district",
                "hogar de este miembro fue rechazado",
            ),
        ];
        for (file, row, col, val, reason) in expect {
            let r = find(file, row);
            assert_eq!(r["columna"], col, "{file}:{row}");
            assert_eq!(r["valor"], val, "{file}:{row}");
            assert!(
                r["motivo"].contains(reason),
                "{file}:{row}: {}",
                r["motivo"]
            );
        }
        assert_eq!(rows.len(), 13, "one problem per planted row: {rows:#?}");
        assert_eq!(counts(&db), (7, 3, 3), "{}", db.label);
    }
}

#[test]
fn strict_import_commits_nothing_and_is_recorded_as_refused() {
    for db in all_dbs() {
        let dir = tempfile::tempdir().unwrap();
        let (mut hh, pp) = valid_survey();
        hh.push(household("bad", "0000x", &[]));
        write_survey(dir.path(), &hh, &pp);
        let mut s = db.open();
        let mut o = opts(ImportKind::Fips, None);
        o.strict = true;
        let sum = run_import(s.as_mut(), &[dir.path().to_path_buf()], &o, &NoProgress).unwrap();
        assert!(!sum.committed);
        assert_eq!(
            (
                sum.status.as_str(),
                sum.households_accepted,
                sum.rows_valid,
                sum.rows_rejected
            ),
            ("rechazada", 0, 10, 1)
        );
        assert_eq!(counts(&db), (0, 0, 0), "{}", db.label);
        let hist = s.imports(5).unwrap();
        assert_eq!(hist[0].status, "rechazada", "{}", db.label);
    }
}

#[test]
fn missing_required_column_stops_before_writing() {
    for db in all_dbs() {
        let dir = tempfile::tempdir().unwrap();
        let (hh, pp) = valid_survey();
        let header: Vec<String> = household_header()
            .into_iter()
            .filter(|h| h != "ubicacion-distrito")
            .collect();
        write_csv(&dir.path().join("fips.csv"), &header, &hh, b',');
        write_csv(
            &dir.path().join("fips-miembros.csv"),
            &person_header(),
            &pp,
            b',',
        );
        let mut s = db.open();
        let e = run_import(
            s.as_mut(),
            &[dir.path().to_path_buf()],
            &opts(ImportKind::Fips, None),
            &NoProgress,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("faltan columnas obligatorias: ubicacion-distrito"),
            "{e}"
        );
        assert!(s.imports(5).unwrap().is_empty());
        assert_eq!(counts(&db), (0, 0, 0));
    }
}

#[test]
fn latin1_semicolon_and_day_first_dates_are_read() {
    let db = vamos_store::testing::sqlite_db();
    let dir = tempfile::tempdir().unwrap();
    let (hh, mut pp) = valid_survey();
    for p in &mut pp {
        let b = p["miembros-fecha_nacimiento"].clone();
        let (y, m, d) = (&b[0..4], &b[5..7], &b[8..10]);
        p.insert("miembros-fecha_nacimiento".into(), format!("{d}/{m}/{y}"));
    }
    write_csv(&dir.path().join("fips.csv"), &household_header(), &hh, b';');
    // Persons file re-encoded to Windows-1252, as Excel saves "CSV (delimitado por comas)".
    let tmp = dir.path().join("utf8.csv");
    write_csv(&tmp, &person_header(), &pp, b';');
    let utf8 = std::fs::read_to_string(&tmp).unwrap();
    std::fs::remove_file(&tmp).unwrap();
    let (latin1, _, bad) = encoding_rs::WINDOWS_1252.encode(&utf8);
    assert!(!bad);
    assert!(latin1.contains(&0xED)); // í of Benítez as one byte
    std::fs::write(dir.path().join("fips-miembros.csv"), &latin1).unwrap();
    let s = import(&db, ImportKind::Fips, &[dir.path().to_path_buf()], None);
    assert_eq!(
        (s.households_accepted, s.persons_accepted, s.rows_rejected),
        (3, 7, 0),
        "{:?}",
        s.rejections_by_reason
    );
    let st = vamos_store::SqliteStore::open(db.url.trim_start_matches("sqlite:")).unwrap();
    let (name, birth): (String, String) = st
        .connection()
        .query_row(
            "SELECT family_names, birth_date FROM persons WHERE national_id = 1234567",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (name.as_str(), birth.as_str()),
        ("Benítez Ayala", "1980-05-17")
    );
}

#[test]
fn xlsx_workbook_and_zip_export_import_like_csv() {
    let (hh, pp) = valid_survey();
    // XLSX: first sheet households, sheet "miembros" members (Kobo / hand-made layout).
    let db = vamos_store::testing::sqlite_db();
    let dir = tempfile::tempdir().unwrap();
    let xlsx = dir.path().join("fips.xlsx");
    let mut wb = rust_xlsxwriter::Workbook::new();
    for (name, header, rows) in [
        ("fips", household_header(), &hh),
        ("miembros", person_header(), &pp),
    ] {
        let ws = wb.add_worksheet().set_name(name).unwrap();
        for (c, h) in header.iter().enumerate() {
            ws.write_string(0, c as u16, h).unwrap();
        }
        for (r, row) in rows.iter().enumerate() {
            for (c, h) in header.iter().enumerate() {
                let v = row.get(h).cloned().unwrap_or_default();
                // Numbers typed as numbers, as Excel would store them.
                if let Ok(n) = v.parse::<f64>() {
                    ws.write_number(r as u32 + 1, c as u16, n).unwrap();
                } else {
                    ws.write_string(r as u32 + 1, c as u16, &v).unwrap();
                }
            }
        }
    }
    wb.save(&xlsx).unwrap();
    let s = import(&db, ImportKind::Fips, &[xlsx], None);
    assert_eq!(
        (s.households_accepted, s.persons_accepted, s.rows_rejected),
        (3, 7, 0),
        "{:?}",
        s.rejections_by_reason
    );
    assert_eq!(counts(&db), (7, 3, 3));

    // ZIP: ODK Central's "download all" archive.
    let db = vamos_store::testing::sqlite_db();
    let zdir = tempfile::tempdir().unwrap();
    write_survey(zdir.path(), &hh, &pp);
    let zpath = dir.path().join("fips.zip");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&zpath).unwrap());
    for f in ["fips.csv", "fips-miembros.csv"] {
        z.start_file(f, zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut z, &std::fs::read(zdir.path().join(f)).unwrap()).unwrap();
    }
    z.finish().unwrap();
    let s = import(&db, ImportKind::Fips, &[zpath], None);
    assert_eq!(
        (s.households_accepted, s.persons_accepted, s.rows_rejected),
        (3, 7, 0)
    );
}

#[test]
fn kobo_layout_with_slash_groups_and_uuid_links() {
    let db = vamos_store::testing::sqlite_db();
    let dir = tempfile::tempdir().unwrap();
    let (hh, pp) = valid_survey();
    let kobo = |h: &str| -> String {
        match h {
            "KEY" => "_uuid".into(),
            "PARENT_KEY" => "_submission__uuid".into(),
            "meta-instanceID" => "meta/instanceID".into(),
            other => other.replace('-', "/"),
        }
    };
    let strip = |rows: &[BTreeMap<String, String>]| -> Vec<BTreeMap<String, String>> {
        rows.iter()
            .map(|r| {
                r.iter()
                    .filter(|(k, _)| k.as_str() != "KEY" || !r.contains_key("PARENT_KEY"))
                    .map(|(k, v)| (kobo(k), v.trim_start_matches("uuid:").to_string()))
                    .collect()
            })
            .collect()
    };
    let hh_header: Vec<String> = household_header().iter().map(|h| kobo(h)).collect();
    let pp_header: Vec<String> = person_header()
        .iter()
        .filter(|h| h.as_str() != "KEY")
        .map(|h| kobo(h))
        .collect();
    write_csv(&dir.path().join("fips.csv"), &hh_header, &strip(&hh), b';');
    write_csv(
        &dir.path().join("fips-miembros.csv"),
        &pp_header,
        &strip(&pp),
        b';',
    );
    let s = import(&db, ImportKind::Fips, &[dir.path().to_path_buf()], None);
    assert_eq!(
        (s.households_accepted, s.persons_accepted, s.rows_rejected),
        (3, 7, 0),
        "{:?}",
        s.rejections_by_reason
    );
    // Same submissions exported by ODK Central: recognised as already registered.
    let dir2 = tempfile::tempdir().unwrap();
    write_survey(dir2.path(), &hh, &pp);
    let again = import(&db, ImportKind::Fips, &[dir2.path().to_path_buf()], None);
    assert_eq!(
        (
            again.households_accepted,
            again.households_already_registered
        ),
        (0, 3)
    );
}

#[test]
fn simplified_form_registers_composition_and_location() {
    for db in all_dbs() {
        let dir = tempfile::tempdir().unwrap();
        let hh = vec![household("s1", "0218", &[])];
        let pp = vec![
            person("s1", 1, "jefe", "1985-04-04", "mujer", "", &[]),
            person("s1", 2, "hijo", "2012-04-04", "hombre", "", &[]),
        ];
        let hh_header: Vec<String> = [
            "today",
            "ubicacion-departamento",
            "ubicacion-distrito",
            "ubicacion-area",
            "ubicacion-localidad",
            "contacto-telefono",
            "KEY",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut rows = hh.clone();
        rows[0].insert("today".into(), "2026-11-01".into());
        write_csv(
            &dir.path().join("registro_simplificado.csv"),
            &hh_header,
            &rows,
            b',',
        );
        let pp_header: Vec<String> = [
            "nombres",
            "apellidos",
            "cedula",
            "fecha_nacimiento",
            "sexo",
            "relacion_jefe",
        ]
        .iter()
        .map(|s| format!("miembros-{s}"))
        .chain(["PARENT_KEY".to_string(), "KEY".to_string()])
        .collect();
        write_csv(
            &dir.path().join("registro_simplificado-miembros.csv"),
            &pp_header,
            &pp,
            b',',
        );
        let s = import(
            &db,
            ImportKind::Simplificado,
            &[dir.path().to_path_buf()],
            None,
        );
        assert_eq!(
            (s.households_accepted, s.persons_accepted, s.rows_rejected),
            (1, 2, 0),
            "{}: {:?}",
            db.label,
            s.rejections_by_reason
        );
    }
}

#[test]
fn community_surveys_are_imported_and_deduplicated() {
    for db in all_dbs() {
        let dir = tempfile::tempdir().unwrap();
        let header: Vec<String> = [
            "SubmissionDate",
            "fecha_relevamiento",
            "ubicacion-departamento",
            "ubicacion-distrito",
            "ubicacion-area",
            "ubicacion-localidad",
            "ubicacion-gps",
            "servicios-puesto_salud",
            "servicios-escuela",
            "servicios-agua_comunitaria",
            "servicios-camino_todo_tiempo",
            "servicios-punto_conectividad",
            "prioridades-prioridad_1",
            "prioridades-prioridad_2",
            "prioridades-prioridad_3",
            "prioridades-participantes",
            "KEY",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let row = |key: &str, dist: &str, loc: &str, p: [&str; 3]| -> BTreeMap<String, String> {
            header
                .iter()
                .cloned()
                .zip(
                    [
                        "2026-10-02",
                        "2026-10-01",
                        &dist[..2],
                        dist,
                        "rural",
                        loc,
                        "",
                        "hasta_5km",
                        "en_la_comunidad",
                        "si",
                        "no",
                        "no",
                        p[0],
                        p[1],
                        p[2],
                        "40",
                        key,
                    ]
                    .iter()
                    .map(|s| s.to_string()),
                )
                .collect()
        };
        let rows = vec![
            row(
                "c1",
                "1602",
                "Comunidad Indígena Yalve Sanga",
                ["agua", "caminos", "salud"],
            ),
            row(
                "c2",
                "1116",
                "Barrio San Roque",
                ["empleo", "seguridad", "otra"],
            ),
            row("c3", "1116", "Barrio Centro", ["agua", "agua", "salud"]),
            row("c4", "7777", "X", ["agua", "caminos", "salud"]),
        ];
        write_csv(&dir.path().join("comunidades.csv"), &header, &rows, b',');
        let s = import(
            &db,
            ImportKind::Comunidades,
            &[dir.path().join("comunidades.csv")],
            None,
        );
        assert_eq!(
            (
                s.community_surveys_accepted,
                s.communities_created,
                s.rows_rejected
            ),
            (2, 2, 2),
            "{}: {:?}",
            db.label,
            s.rejections_by_reason
        );
        let again = import(
            &db,
            ImportKind::Comunidades,
            &[dir.path().join("comunidades.csv")],
            None,
        );
        assert_eq!(
            (
                again.community_surveys_accepted,
                again.surveys_already_registered
            ),
            (0, 2)
        );
        assert_eq!(counts(&db).2, 2);
    }
}

#[test]
fn admin_records_match_by_cedula_keep_unmatched_and_do_not_duplicate() {
    for db in all_dbs() {
        let dir = tempfile::tempdir().unwrap();
        let (hh, pp) = valid_survey();
        write_survey(dir.path(), &hh, &pp);
        import(&db, ImportKind::Fips, &[dir.path().to_path_buf()], None);
        let admin = dir.path().join("mec.csv");
        std::fs::write(
            &admin,
            "id_registro;cedula;nombres;apellidos;fecha_nacimiento;sexo;distrito;servicio;fecha_evento;detalle\n\
             MEC-1;1.234.567;MARIA JOSE;BENITEZ;17/05/1980;F;1116;matricula_escolar;01/03/2026;\n\
             MEC-2;9999999;Pedro;Gonzalez;01/01/2012;M;1116;matricula_escolar;01/03/2026;\n\
             MEC-3;;Ana;Vera;01/01/2013;F;1116;matricula_escolar;01/03/2026;\n\
             MEC-4;12ab;Ana;Vera;01/01/2013;F;1116;matricula_escolar;01/03/2026;\n\
             MEC-5;456789;Rosa;Ayala;09/09/1950;F;1116;matricula_escolar;30/02/2026;\n\
             MEC-1;1234567;MARIA JOSE;BENITEZ;17/05/1980;F;1116;matricula_escolar;01/03/2026;\n",
        )
        .unwrap();
        let mut s = db.open();
        let mut o = opts(ImportKind::Admin, Some(dir.path().join("rej.csv")));
        o.source = Some("mec".into());
        o.unmatched = Some(dir.path().join("sin.csv"));
        let sum = run_import(s.as_mut(), std::slice::from_ref(&admin), &o, &NoProgress).unwrap();
        assert_eq!(
            (
                sum.records_accepted,
                sum.records_unmatched,
                sum.rows_rejected
            ),
            (3, 2, 3),
            "{}: {:?}",
            db.label,
            sum.rejections_by_reason
        );
        let unmatched = std::fs::read_to_string(dir.path().join("sin.csv")).unwrap();
        assert_eq!(unmatched.lines().count(), 3, "{unmatched}");
        let again = run_import(s.as_mut(), &[admin], &o, &NoProgress).unwrap();
        assert_eq!(
            (again.records_accepted, again.records_already_registered),
            (0, 4),
            "{}",
            db.label
        );
        let c = s.district_counts().unwrap();
        assert_eq!(
            c.iter().map(|x| x.admin_records).sum::<u64>(),
            1,
            "one matched record, in Villeta"
        );
    }
}

#[test]
fn an_admin_record_born_more_than_120_years_ago_is_rejected_with_its_reason() {
    for db in all_dbs() {
        let dir = tempfile::tempdir().unwrap();
        let (hh, pp) = valid_survey();
        write_survey(dir.path(), &hh, &pp);
        import(&db, ImportKind::Fips, &[dir.path().to_path_buf()], None);
        let admin = dir.path().join("mec.csv");
        std::fs::write(
            &admin,
            "id_registro;cedula;nombres;apellidos;fecha_nacimiento;sexo;distrito;servicio;fecha_evento;detalle\n\
             MEC-1;1.234.567;MARIA JOSE;BENITEZ;17/05/1890;F;1116;matricula_escolar;01/03/2026;\n",
        )
        .unwrap();
        let mut s = db.open();
        let mut o = opts(ImportKind::Admin, Some(dir.path().join("rej.csv")));
        o.source = Some("mec".into());
        let sum = run_import(s.as_mut(), &[admin], &o, &NoProgress).unwrap();
        assert_eq!(
            (sum.records_accepted, sum.rows_rejected),
            (0, 1),
            "{}",
            db.label
        );
        let report = read_rejects(&dir.path().join("rej.csv"));
        let (value, reason) = rejection_of(&report, "fecha_nacimiento");
        assert_eq!(value, "17/05/1890");
        assert!(reason.contains("mayor a 120 años"), "{reason}");
    }
}

/// The rejection of `column` in a report: its value and reason.
fn rejection_of(report: &[BTreeMap<String, String>], column: &str) -> (String, String) {
    let r = report
        .iter()
        .find(|r| r["columna"] == column)
        .unwrap_or_else(|| panic!("no {column} in {report:?}"));
    (r["valor"].clone(), r["motivo"].clone())
}

#[test]
fn oversize_texts_are_refused_by_every_importer() {
    // Characters, not bytes: `ñ` is two bytes and counts one.
    let long = |n: usize| "ñ".repeat(n);
    for db in all_dbs() {
        let dir = tempfile::tempdir().unwrap();
        let (mut hh, mut pp) = valid_survey();
        hh[1].insert("ubicacion-localidad".into(), long(201));
        hh[2].insert("ubicacion-localidad".into(), long(200));
        pp[1].insert("miembros-apellidos".into(), long(101));
        write_survey(dir.path(), &hh, &pp);
        let rej = dir.path().join("rej.csv");
        let sum = import(
            &db,
            ImportKind::Fips,
            &[dir.path().to_path_buf()],
            Some(rej.clone()),
        );
        // The household with the long locality (and its two members), the member with the long
        // family name; the 200-character locality is a place like any other.
        assert_eq!(
            (
                sum.households_rejected,
                sum.persons_rejected,
                sum.households_accepted
            ),
            (1, 3, 2),
            "{}: {:?}",
            db.label,
            sum.rejections_by_reason
        );
        let report = read_rejects(&rej);
        let (value, reason) = rejection_of(&report, "ubicacion-localidad");
        assert_eq!(value, format!("{}…", long(200)), "cut at 200 characters");
        assert_eq!(
            reason,
            "texto demasiado largo: 201 caracteres; una dirección o un lugar admite a lo sumo 200"
        );
        let (value, reason) = rejection_of(&report, "miembros-apellidos");
        assert_eq!(value, long(101));
        assert_eq!(
            reason,
            "texto demasiado largo: 101 caracteres; un nombre admite a lo sumo 100"
        );

        let admin = dir.path().join("mec.csv");
        std::fs::write(
            &admin,
            format!(
                "id_registro;cedula;nombres;apellidos;fecha_nacimiento;sexo;distrito;servicio;fecha_evento;detalle\n\
                 MEC-1;1234567;{};BENITEZ;17/05/1980;F;1116;matricula_escolar;01/03/2026;\n\
                 MEC-2;2345678;Juan;Benítez;02/01/1978;M;1116;matricula_escolar;01/03/2026;{}\n\
                 MEC-3;2345678;Juan;Benítez;02/01/1978;M;1116;matricula_escolar;01/03/2026;{}\n",
                long(101),
                long(2001),
                long(2000)
            ),
        )
        .unwrap();
        let mut s = db.open();
        let mut o = opts(ImportKind::Admin, Some(dir.path().join("rej-mec.csv")));
        o.source = Some("mec".into());
        let sum = run_import(s.as_mut(), std::slice::from_ref(&admin), &o, &NoProgress).unwrap();
        assert_eq!(
            (sum.records_accepted, sum.rows_rejected),
            (1, 2),
            "{}",
            db.label
        );
        let report = read_rejects(&dir.path().join("rej-mec.csv"));
        assert!(rejection_of(&report, "nombres")
            .1
            .contains("101 caracteres"));
        let (value, reason) = rejection_of(&report, "detalle");
        assert_eq!(value, format!("{}…", long(200)));
        assert!(reason.contains("2001 caracteres; un texto libre admite a lo sumo 2000"));
    }
}

/// xorshift: deterministic pseudo-random numbers for the mutation tests.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

pub(crate) fn mutate(v: &mut Vec<u8>, rng: &mut u64) {
    mutate_with(v, rng, b",;\n\r\"\t\xe1\xef\xbb\xbf0/-9 ");
}

/// Mutates `v` a few times: a byte replaced or inserted from `interesting`, a byte removed or
/// randomised, a line duplicated.
fn mutate_with(v: &mut Vec<u8>, rng: &mut u64, interesting: &[u8]) {
    for _ in 0..1 + next(rng) % 6 {
        if v.is_empty() {
            v.push(b'x');
        }
        let at = (next(rng) % v.len() as u64) as usize;
        match next(rng) % 5 {
            0 => v[at] = interesting[(next(rng) % interesting.len() as u64) as usize],
            1 => v.insert(
                at,
                interesting[(next(rng) % interesting.len() as u64) as usize],
            ),
            2 => {
                v.remove(at);
            }
            3 => v[at] = next(rng) as u8,
            _ => {
                // Duplicate the line that contains `at` (duplicate submissions / members).
                let start = v[..at]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |i| i + 1);
                let end = v[at..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(v.len(), |i| at + i + 1);
                let line = v[start..end].to_vec();
                v.splice(end..end, line);
            }
        }
    }
}

/// The fuzz targets' invariants, exercised on every test run with deterministic mutations of
/// valid files: no panic, and every row accepted, rejected or already registered.
#[test]
fn mutated_inputs_never_panic_and_every_row_is_accounted_for() {
    let dir = tempfile::tempdir().unwrap();
    let (hh, pp) = valid_survey();
    write_survey(dir.path(), &hh, &pp);
    let h = std::fs::read(dir.path().join("fips.csv")).unwrap();
    let m = std::fs::read(dir.path().join("fips-miembros.csv")).unwrap();
    let admin = b"id_registro,cedula,servicio,fecha_evento,fecha_nacimiento,distrito\nA1,1234567,vacuna,2025-01-01,2020-01-01,1116\nA2,,vacuna,01/02/2025,,0607\n".to_vec();
    let counter = b"id_evento;institucion;cedula;servicio;fecha_entrega;lugar\nE1;MSPBS;1.234.567;control_prenatal;20/11/2026;USF\nE2;MSPBS;;bcg;2026-11-20;\n".to_vec();
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut imported = 0;
    for _ in 0..200 {
        let (mut h2, mut m2, mut a2) = (h.clone(), m.clone(), admin.clone());
        mutate(&mut h2, &mut rng);
        mutate(&mut m2, &mut rng);
        mutate(&mut a2, &mut rng);
        if vamos_ingest::fuzzing::fips_files(&h2, &m2).is_ok() {
            imported += 1;
        }
        let _ = vamos_ingest::fuzzing::admin_file(&a2);
        let mut c2 = counter.clone();
        mutate(&mut c2, &mut rng);
        let _ = vamos_ingest::fuzzing::counter_referral_file(&c2);
        let text: String = String::from_utf8_lossy(&a2[..a2.len().min(24)]).into_owned();
        vamos_ingest::fuzzing::date_text(&text);
    }
    // Most mutations leave the files readable: the invariants were really checked.
    assert!(
        imported > 100,
        "only {imported} mutated surveys were readable"
    );
}

/// The workbook harnesses of the fuzz targets, on deterministic mutations of a workbook's
/// sheet XML and of its archive bytes: the part scanner answers the same however the bytes
/// arrive, and neither the inspection nor the sheet reader ever panics.
#[test]
fn mutated_workbooks_never_panic() {
    const XML: &[u8] = b"<>/=\"'&;!-?[]c si row 0A1\0";
    let dir = tempfile::tempdir().unwrap();
    let sheet = br#"<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="inlineStr"><is><t>x &amp; y</t></is></c></row><!-- c --><row r="2"><c r="A2"><v>1.5</v></c><c r="B2" t="s"><v>1</v></c></row>"#;
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut read = 0;
    for i in 0..200 {
        let mut xml = sheet.to_vec();
        mutate_with(&mut xml, &mut rng, XML);
        vamos_ingest::fuzzing::xml_part(&xml);
        let path = dir.path().join(format!("m{i}.xlsx"));
        vamos_ingest::fuzzing::write_xlsx(
            &path,
            &mut |w| w.write_all(&xml),
            Some(&mut |w| w.write_all(b"<si><t>a</t></si><si><t>b</t></si>")),
        )
        .unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        if vamos_ingest::fuzzing::xlsx_bytes(&bytes) > 0 {
            read += 1;
        }
        mutate_with(&mut bytes, &mut rng, XML);
        vamos_ingest::fuzzing::xlsx_bytes(&bytes);
    }
    // Most mutated sheets still read: the reader, not only the inspection, was exercised.
    assert!(read > 50, "only {read} mutated workbooks were readable");
}
