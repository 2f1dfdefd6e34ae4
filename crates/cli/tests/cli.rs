//! Black-box tests of the `vamos` binary: the interface the acceptance checks use (exit codes,
//! `--format json` as the last line, idempotent `db init`, stats per territory), on SQLite and,
//! when configured, PostgreSQL.
//!
//! One test per behaviour. The sequences whose steps depend on one another (import, then the
//! same import again; classify, then explain and count the audit records; back up, then
//! restore) run once per backend in a `LazyLock`, keeping what each step answered, and one
//! test checks one step.

// Tests fail loudly on purpose: unwrap, panic and indexing are how they assert.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::LazyLock;
use vamos_store::testing::RawSql;
use vamos_store::testing::{all_dbs, TestDb};

mod common;
use common::AtExit;

/// Starts the three shared runs in the background as soon as any test runs, so that the two
/// test threads never both wait for the same one while another could be running.
fn warm_up() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::thread::spawn(|| LazyLock::force(&SYNTHESISED));
        std::thread::spawn(|| LazyLock::force(&CLASSIFIED));
        std::thread::spawn(|| LazyLock::force(&ROUND_TRIPS));
    });
}

/// Every backend's fresh database, each with the guard that drops it (and removes `d`) should
/// the process end while a run built in the background is still going.
fn guarded_dbs(d: &Path) -> (Vec<TestDb>, Vec<AtExit>) {
    let dbs = all_dbs();
    let guards = dbs
        .iter()
        .map(|db| AtExit::new(&[], &[d], Some(db)))
        .collect();
    (dbs, guards)
}

fn vamos(args: &[&str], cwd: &Path) -> Output {
    vamos_with(args, cwd, &[])
}

/// [`vamos`] with extra environment (the PostgreSQL suite's audit files are added as for every
/// command: `common::audit_env`).
fn vamos_with(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vamos"))
        .args(args)
        .current_dir(cwd)
        .envs(common::audit_env(args, env))
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn last_json(o: &Output) -> serde_json::Value {
    let out = String::from_utf8_lossy(&o.stdout);
    let line = out
        .lines()
        .last()
        .unwrap_or_else(|| panic!("no output; stderr: {}", String::from_utf8_lossy(&o.stderr)));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

// ---------------------------------------------------------------------------------------------
// Synthesise four districts, initialise twice, import the survey and administrative records,
// read the stats, import the survey again.

struct Imported {
    label: &'static str,
    inits: Vec<bool>,
    first: Value,
    admin: Output,
    nation: Value,
    again: Value,
    nation_again: Value,
    /// The persons of the four departments of the districts, added up.
    departments: u64,
    villeta: Value,
}

struct Synthesised {
    synth: Output,
    runs: Vec<Imported>,
}

static SYNTHESISED: LazyLock<Synthesised> = LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let synth = vamos(
        &[
            "synth",
            "--districts",
            "1116,1602,0218,0607",
            "--households",
            "200",
            "--seed",
            "5",
            "--out",
            "datos",
            "--reference-date",
            "2026-11-01",
        ],
        d,
    );
    let (dbs, _at_exit) = guarded_dbs(d);
    let runs = dbs
        .iter()
        .map(|db| {
            let url = db.url.as_str();
            let inits = (0..2)
                .map(|_| vamos(&["db", "init", "--db", url], d).status.success())
                .collect();
            let import = || {
                last_json(&vamos(
                    &[
                        "import",
                        "fips",
                        "--db",
                        url,
                        "datos",
                        "--format",
                        "json",
                        "--date",
                        "2026-11-23",
                    ],
                    d,
                ))
            };
            let first = import();
            let admin = vamos(
                &[
                    "import",
                    "admin",
                    "--db",
                    url,
                    "datos/admin/ips_aportes.csv",
                    "--source",
                    "IPS",
                    "--format",
                    "json",
                ],
                d,
            );
            let stats = |t: &str| {
                last_json(&vamos(
                    &[
                        "registry",
                        "stats",
                        "--db",
                        url,
                        "--territory",
                        t,
                        "--format",
                        "json",
                    ],
                    d,
                ))
            };
            let nation = stats("PY");
            let again = import();
            let nation_again = stats("PY");
            let departments = ["11", "16", "02", "06"]
                .iter()
                .map(|t| stats(t)["persons"].as_u64().unwrap())
                .sum();
            Imported {
                label: db.label,
                inits,
                first,
                admin,
                nation,
                again,
                nation_again,
                departments,
                villeta: stats("1116"),
            }
        })
        .collect();
    Synthesised { synth, runs }
});

fn synthesised_runs() -> &'static [Imported] {
    warm_up();
    &SYNTHESISED.runs
}

fn synthesised_synth() -> &'static Output {
    warm_up();
    &SYNTHESISED.synth
}

impl Imported {
    fn persons(&self) -> u64 {
        self.first["persons_accepted"].as_u64().unwrap()
    }
}

#[test]
fn synth_says_its_data_are_synthetic() {
    let o = synthesised_synth();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("SINTÉTICA"));
}

#[test]
fn db_init_twice_succeeds_both_times() {
    for r in synthesised_runs() {
        for ok in &r.inits {
            assert!(ok, "{}", r.label);
        }
    }
}

#[test]
fn importing_the_survey_accepts_every_household_labelled_synthetic() {
    for r in synthesised_runs() {
        let first = &r.first;
        assert_eq!(first["households_accepted"], 200, "{}", r.label);
        assert_eq!(first["rows_rejected"], 0);
        assert_eq!(first["synthetic"], true);
    }
}

#[test]
fn importing_administrative_records_reports_the_accepted_and_unmatched() {
    for r in synthesised_runs() {
        assert!(r.admin.status.success());
        let admin = last_json(&r.admin);
        assert!(admin["records_accepted"].as_u64().unwrap() > 0);
        assert!(admin["records_unmatched"].as_u64().is_some());
    }
}

#[test]
fn registry_stats_count_the_nations_households_and_persons() {
    for r in synthesised_runs() {
        let nation = &r.nation;
        assert_eq!(
            (nation["households"].as_u64(), nation["persons"].as_u64()),
            (Some(200), Some(r.persons()))
        );
    }
}

#[test]
fn importing_the_same_survey_again_registers_nothing_new() {
    for r in synthesised_runs() {
        let again = &r.again;
        assert_eq!(
            (
                again["households_accepted"].as_u64(),
                again["households_already_registered"].as_u64()
            ),
            (Some(0), Some(200))
        );
        assert_eq!(r.nation_again, r.nation, "{}", r.label);
    }
}

#[test]
fn department_figures_add_up_to_the_nation() {
    for r in synthesised_runs() {
        assert_eq!(r.departments, r.persons());
    }
}

#[test]
fn a_districts_stats_name_it_and_its_level() {
    for r in synthesised_runs() {
        let villeta = &r.villeta;
        assert_eq!(villeta["territory"]["name"], "Villeta");
        assert_eq!(villeta["territory"]["level"], "district");
    }
}

// ---------------------------------------------------------------------------------------------
// Exit codes: 0 ran, 1 refused, 2 unreadable.

/// An initialised SQLite database in `d`, and the survey files of two households, one of them
/// in an unknown district.
fn one_rejection(d: &Path) -> String {
    let url = format!("sqlite:{}", d.join("r.sqlite").display());
    assert!(vamos(&["db", "init", "--db", &url], d).status.success());
    std::fs::write(d.join("fips.csv"), "KEY,ubicacion-distrito,ubicacion-localidad,fecha_entrevista\nuuid:a,1116,Centro,2026-10-01\nuuid:b,9999,Centro,2026-10-01\n").unwrap();
    std::fs::write(d.join("fips-miembros.csv"), "PARENT_KEY,KEY,miembros-nombres,miembros-apellidos,miembros-fecha_nacimiento,miembros-sexo,miembros-relacion_jefe\nuuid:a,uuid:a/miembros[1],Ana,Vera,01/02/1990,mujer,jefe\n").unwrap();
    url
}

#[test]
fn a_strict_import_with_a_rejection_stores_nothing_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let url = one_rejection(d);
    let o = vamos(
        &[
            "import",
            "fips",
            "--db",
            &url,
            "fips.csv",
            "--strict",
            "--format",
            "json",
            "--rejects",
            "r.csv",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(last_json(&o)["committed"], false);
    let stats = last_json(&vamos(
        &["registry", "stats", "--db", &url, "--format", "json"],
        d,
    ));
    assert_eq!(stats["households"], 0);
}

#[test]
fn an_import_with_a_rejection_exits_0_and_reports_it_in_spanish() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let url = one_rejection(d);
    let o = vamos(
        &[
            "import",
            "fips",
            "--db",
            &url,
            "fips.csv",
            "--rejects",
            "r.csv",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("filas rechazadas: 1"), "{text}");
    let report = std::fs::read_to_string(d.join("r.csv")).unwrap();
    assert!(
        report.contains("fips.csv,3,ubicacion-distrito,9999,distrito desconocido"),
        "{report}"
    );
}

#[test]
fn unreadable_input_exits_2_with_a_spanish_message() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let url = one_rejection(d);
    let o = vamos(&["import", "fips", "--db", &url, "no-existe.csv"], d);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no existe"));
}

#[test]
fn a_database_never_initialised_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = vamos(
        &[
            "registry",
            "stats",
            "--db",
            &format!("sqlite:{}", d.join("nueva.sqlite").display()),
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("vamos db init"));
}

#[test]
fn territory_list_ships_the_official_districts() {
    let dir = tempfile::tempdir().unwrap();
    let o = vamos(&["territory", "list", "--format", "json"], dir.path());
    let v = last_json(&o);
    assert_eq!(v.as_array().unwrap().len(), 263);
}

#[test]
fn territory_list_of_a_department_marks_its_pilot_districts() {
    let dir = tempfile::tempdir().unwrap();
    let o = vamos(&["territory", "list", "--department", "16"], dir.path());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("Mariscal José Félix Estigarribia") && text.contains("piloto"),
        "{text}"
    );
}

// ---------------------------------------------------------------------------------------------
// Classify, read the Logros back, classify again as JSON, explain (four times, each audited).

struct Classified {
    label: &'static str,
    /// The measurement id classify printed as its last line.
    id: i64,
    nation: Value,
    /// `logros` of each department of the districts, and of its district.
    pairs: Vec<(Value, Value)>,
    /// Logro 4's identified units of the four departments, added up.
    departments_logro_4: u64,
    csv: Output,
    again: Value,
    explained: Value,
    cedula: i64,
    by_cedula: Value,
    /// `explain --person-id <that cédula>`: a cédula is never tried as an internal number.
    cedula_as_id: std::process::Output,
    household: Output,
    missing: Output,
    audits: i64,
}

static CLASSIFIED: LazyLock<Vec<Classified>> = LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = vamos(
        &[
            "synth",
            "--households",
            "300",
            "--seed",
            "9",
            "--out",
            "datos",
            "--reference-date",
            "2026-11-01",
        ],
        d,
    );
    assert!(o.status.success());
    let (dbs, _at_exit) = guarded_dbs(d);
    dbs.iter().map(|db| classified(db, d)).collect()
});

fn classified(db: &TestDb, d: &Path) -> Classified {
    let url = db.url.as_str();
    assert!(vamos(&["db", "init", "--db", url], d).status.success());
    assert!(vamos(
        &[
            "import",
            "fips",
            "--db",
            url,
            "datos",
            "--date",
            "2026-11-23"
        ],
        d
    )
    .status
    .success());
    assert!(vamos(
        &["import", "admin", "--db", url, "datos", "--source", "X"],
        d
    )
    .status
    .success());
    // classify prints the measurement id as its last line.
    let o = vamos(&["classify", "--db", url, "--as-of", "2026-11-23"], d);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let id: i64 = String::from_utf8_lossy(&o.stdout)
        .lines()
        .last()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let logros = |t: &str| {
        last_json(&vamos(
            &["logros", "--db", url, "--territory", t, "--format", "json"],
            d,
        ))
    };
    let nation = logros("PY");
    let pairs = [
        ("11", "1116"),
        ("16", "1602"),
        ("02", "0218"),
        ("06", "0607"),
    ]
    .iter()
    .map(|(dep, dist)| (logros(dep), logros(dist)))
    .collect();
    let departments_logro_4 = ["11", "16", "02", "06"]
        .iter()
        .map(|t| logros(t)["logros"][3]["identified"].as_u64().unwrap())
        .sum();
    let csv = vamos(&["logros", "--db", url, "--format", "csv"], d);
    let again = last_json(&vamos(
        &[
            "classify",
            "--db",
            url,
            "--as-of",
            "2026-11-23",
            "--format",
            "json",
        ],
        d,
    ));
    // Explain a person, service by service.
    let explained = last_json(&vamos(
        &[
            "explain",
            "--db",
            url,
            "--person-id",
            "1",
            "--format",
            "json",
        ],
        d,
    ));
    // By cédula: the head of household 1 in the synthetic survey has one.
    let cedula: i64 = if db.label == "sqlite" {
        let st = vamos_store::SqliteStore::open(url.trim_start_matches("sqlite:")).unwrap();
        st.connection()
            .query_row(
                "SELECT national_id FROM persons WHERE national_id IS NOT NULL ORDER BY id LIMIT 1",
                [],
                |r| r.get(0),
            )
            .unwrap()
    } else {
        let mut st = vamos_store::PostgresStore::connect(url).unwrap();
        st.client()
            .query_one(
                "SELECT national_id FROM persons WHERE national_id IS NOT NULL ORDER BY id LIMIT 1",
                &[],
            )
            .unwrap()
            .get(0)
    };
    let by_cedula = last_json(&vamos(
        &[
            "explain",
            "--db",
            url,
            "--cedula",
            &cedula.to_string(),
            "--format",
            "json",
        ],
        d,
    ));
    let cedula_as_id = vamos(
        &["explain", "--db", url, "--person-id", &cedula.to_string()],
        d,
    );
    let household = vamos(&["explain", "--db", url, "--household", "1"], d);
    let missing = vamos(&["explain", "--db", url, "--community", "999999"], d);
    let audits: i64 = if db.label == "sqlite" {
        let st = vamos_store::SqliteStore::open(url.trim_start_matches("sqlite:")).unwrap();
        st.connection()
            .query_row(
                "SELECT count(*) FROM audit_log WHERE action = 'explicar estatus'",
                [],
                |r| r.get(0),
            )
            .unwrap()
    } else {
        let mut st = vamos_store::PostgresStore::connect(url).unwrap();
        st.client()
            .query_one(
                "SELECT count(*) FROM audit_log WHERE action = 'explicar estatus'",
                &[],
            )
            .unwrap()
            .get(0)
    };
    Classified {
        label: db.label,
        id,
        nation,
        pairs,
        departments_logro_4,
        csv,
        again,
        explained,
        cedula,
        by_cedula,
        cedula_as_id,
        household,
        missing,
        audits,
    }
}

fn classified_runs() -> &'static [Classified] {
    warm_up();
    &CLASSIFIED
}

impl Classified {
    fn list(&self) -> &Vec<Value> {
        self.nation["logros"].as_array().unwrap()
    }
}

#[test]
fn logros_reads_back_the_measurement_classify_printed() {
    for c in classified_runs() {
        let nation = &c.nation;
        assert_eq!(nation["measurement"]["id"], c.id);
        assert_eq!(nation["measurement"]["as_of"], "2026-11-23");
        assert!(nation["measurement"]["catalogue_version"]
            .as_str()
            .unwrap()
            .starts_with("sha256:"));
    }
}

#[test]
fn the_nation_has_ten_logros_whose_coverage_is_protected_over_identified() {
    for c in classified_runs() {
        assert_eq!(c.nation["territory"]["level"], "nation");
        let list = c.list();
        assert_eq!(list.len(), 10);
        for (i, l) in list.iter().enumerate() {
            assert_eq!(l["logro"], i as u64 + 1);
            let (idf, prot) = (
                l["identified"].as_u64().unwrap(),
                l["protected"].as_u64().unwrap(),
            );
            assert!(prot <= idf);
            match l["coverage"].as_f64() {
                Some(c) => assert!((c - prot as f64 / idf as f64).abs() < 1e-4),
                None => assert_eq!(idf, 0),
            }
            assert!(
                l["without_data"].as_u64().is_some()
                    && l["breakdowns"].is_object()
                    && l["category"].is_string()
            );
        }
    }
}

#[test]
fn every_household_is_identified_for_logro_9() {
    for c in classified_runs() {
        assert_eq!(
            c.list()[8]["identified"],
            300,
            "every household is identified for Logro 9"
        );
    }
}

#[test]
fn departments_are_the_sums_of_their_districts() {
    for c in classified_runs() {
        for (dep, dist) in &c.pairs {
            assert_eq!(dep["logros"], dist["logros"], "{}", c.label);
        }
    }
}

#[test]
fn the_nation_is_the_sum_of_its_departments() {
    for c in classified_runs() {
        assert_eq!(
            c.departments_logro_4,
            c.list()[3]["identified"].as_u64().unwrap()
        );
    }
}

#[test]
fn logros_downloads_as_csv_with_a_line_per_logro() {
    for c in classified_runs() {
        assert_eq!(String::from_utf8_lossy(&c.csv.stdout).lines().count(), 11);
    }
}

/// classify's JSON carries the roll-ups it computed: the nation and the 18 departments, equal
/// to what `logros` reads back.
#[test]
fn classify_reports_the_roll_ups_it_computed() {
    for c in classified_runs() {
        let levels = c.again["levels"].as_array().unwrap();
        assert_eq!(levels.len(), 19);
        assert_eq!(levels[0]["territory"], "PY");
        let list = c.list();
        for (i, l) in levels[0]["logros"].as_array().unwrap().iter().enumerate() {
            assert_eq!(l["identified"], list[i]["identified"]);
            assert_eq!(l["protected"], list[i]["protected"]);
        }
    }
}

#[test]
fn classify_reports_the_time_of_each_stage() {
    for c in classified_runs() {
        let stages = &c.again["stages_ms"];
        for stage in ["load", "evaluate", "aggregate", "store"] {
            assert!(stages[stage].is_u64(), "{stage}");
        }
    }
}

#[test]
fn explain_gives_a_persons_status_service_by_service() {
    for c in classified_runs() {
        let e = &c.explained;
        assert!(e["category"].is_string(), "{e}");
        assert!(e["concurrent"].is_boolean());
        let services = e["services"].as_array().unwrap();
        assert!(!services.is_empty());
        for s in services {
            assert!(["protegido", "desprotegido", "no_aplica", "sin_dato"]
                .contains(&s["status"].as_str().unwrap()));
            assert!(s["evidence"]["detail"].is_string());
        }
    }
}

#[test]
fn explain_finds_a_person_by_cedula() {
    for c in classified_runs() {
        let by_id = &c.by_cedula;
        assert!(
            by_id["unit"]["id"].as_i64().unwrap() > 0
                && by_id["unit"]["id"].as_i64() != Some(c.cedula),
            "{by_id}"
        );
    }
}

/// Issue 37: `--person 5967276` explained whichever person had that internal number (at
/// national scale most cédulas are also some person's number). The two are separate now.
#[test]
fn a_cedula_is_never_taken_for_an_internal_number() {
    for c in classified_runs() {
        assert_eq!(
            c.cedula_as_id.status.code(),
            Some(2),
            "{}: {}",
            c.label,
            String::from_utf8_lossy(&c.cedula_as_id.stdout)
        );
        assert!(
            String::from_utf8_lossy(&c.cedula_as_id.stderr).contains("no se encontró"),
            "{}",
            String::from_utf8_lossy(&c.cedula_as_id.stderr)
        );
    }
}

#[test]
fn explain_describes_a_household() {
    for c in classified_runs() {
        assert!(String::from_utf8_lossy(&c.household.stdout).contains("Hogares (Logro 9)"));
    }
}

#[test]
fn explaining_a_community_that_does_not_exist_exits_2() {
    for c in classified_runs() {
        assert_eq!(c.missing.status.code(), Some(2));
    }
}

#[test]
fn every_explanation_found_or_not_is_audited() {
    for c in classified_runs() {
        // By id, by cédula, a cédula given as an id (not found), a household, a missing community.
        assert_eq!(c.audits, 5, "every explanation (found or not) is audited");
    }
}

// ---------------------------------------------------------------------------------------------
// The catalogue check.

#[test]
fn catalogue_check_accepts_the_default_catalogue_and_prints_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let o = vamos(&["catalogue", "check"], dir.path());
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("ILUSTRATIVO") && text.lines().last().unwrap().starts_with("sha256:"),
        "{text}"
    );
}

/// A copy of the default catalogue with an unknown field, an unknown institution and a
/// malformed rule, and what `vamos catalogue check` said of it.
struct BadCatalogue {
    original: String,
    bad: String,
    check: Output,
}

static BAD_CATALOGUE: LazyLock<BadCatalogue> = LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../catalogue/default");
    let cat = dir.path().join("cat");
    std::fs::create_dir_all(cat.join("servicios")).unwrap();
    std::fs::copy(root.join("catalogo.toml"), cat.join("catalogo.toml")).unwrap();
    for e in std::fs::read_dir(root.join("servicios")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, cat.join("servicios").join(p.file_name().unwrap())).unwrap();
    }
    let hog = cat.join("servicios/hogares.toml");
    let original = std::fs::read_to_string(&hog).unwrap();
    let bad = original
        .replacen("hogar.fuente_agua", "hogar.fuente_de_agua", 1)
        .replacen("institucion = \"ANDE\"", "institucion = \"ANDEX\"", 1)
        .replacen("hogar.internet == 'si'", "hogar.internet == ", 1);
    std::fs::write(&hog, &bad).unwrap();
    let check = vamos(&["catalogue", "check", cat.to_str().unwrap()], dir.path());
    BadCatalogue {
        original,
        bad,
        check,
    }
});

impl BadCatalogue {
    fn line_of(&self, needle: &str) -> usize {
        self.bad.lines().position(|l| l.contains(needle)).unwrap() + 1
    }

    fn err(&self) -> String {
        String::from_utf8_lossy(&self.check.stderr).to_string()
    }
}

#[test]
fn catalogue_check_refuses_a_broken_catalogue_with_exit_1() {
    let c = &*BAD_CATALOGUE;
    assert_ne!(c.bad, c.original);
    assert_eq!(c.check.status.code(), Some(1));
}

#[test]
fn catalogue_check_names_the_file_and_line_of_an_unknown_field() {
    let c = &*BAD_CATALOGUE;
    let err = c.err();
    assert!(
        err.contains(&format!(
            "servicios/hogares.toml:{}:",
            c.line_of("hogar.fuente_de_agua")
        )) && err.contains("campo desconocido «hogar.fuente_de_agua»"),
        "{err}"
    );
}

#[test]
fn catalogue_check_names_the_file_and_line_of_an_unknown_institution() {
    let c = &*BAD_CATALOGUE;
    let err = c.err();
    assert!(
        err.contains(&format!("servicios/hogares.toml:{}:", c.line_of("ANDEX")))
            && err.contains("institución desconocida «ANDEX»"),
        "{err}"
    );
}

#[test]
fn catalogue_check_reports_an_incomplete_expression() {
    let err = BAD_CATALOGUE.err();
    assert!(err.contains("expresión incompleta"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Backup and restore, on each backend into a fresh one of the same kind.

struct RoundTrip {
    label: &'static str,
    backed_up: Output,
    backed_up_again: Output,
    restored: Output,
    /// Persons in the restored copy and in the original.
    counts: (i64, i64),
    verified: Output,
    /// Restoring over the existing SQLite copy without, then with `--force`.
    over_existing: Option<(Output, Output)>,
    into_other_backend: Output,
}

static ROUND_TRIPS: LazyLock<Vec<RoundTrip>> = LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ok = |o: Output| {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o
    };
    ok(vamos(
        &[
            "synth",
            "--households",
            "40",
            "--seed",
            "3",
            "--out",
            "datos",
            "--reference-date",
            "2026-11-01",
        ],
        d,
    ));
    let count = |url: &str| {
        let mut s = vamos_store::open(url).unwrap();
        let r = s
            .db()
            .query_opt("SELECT COUNT(*) FROM persons", &[])
            .unwrap();
        r.and_then(|r| r.int(0)).unwrap()
    };
    let (targets, _targets_at_exit) = guarded_dbs(d);
    let (dbs, _at_exit) = guarded_dbs(d);
    dbs.iter()
        .zip(&targets)
        .enumerate()
        .map(|(i, (db, target))| {
            let url = db.url.as_str();
            ok(vamos(&["db", "init", "--db", url], d));
            ok(vamos(
                &[
                    "import",
                    "fips",
                    "--db",
                    url,
                    "datos",
                    "--date",
                    "2026-11-23",
                ],
                d,
            ));
            let copy = format!("copia-{i}");
            let backed_up = vamos(&["backup", "--db", url, "--out", &copy], d);
            let backed_up_again = vamos(&["backup", "--db", url, "--out", &copy], d);
            let target_url = if target.label == "sqlite" {
                format!(
                    "sqlite:{}",
                    d.join(format!("restaurada-{i}.sqlite")).display()
                )
            } else {
                target.url.clone()
            };
            // The copy was sealed with the source's key: the restored database is verified
            // with it (a SQLite target keeps its checkpoint beside it, a PostgreSQL one where
            // the suite names it).
            let key = vamos_store::testing::audit_key_file(url)
                .display()
                .to_string();
            let with_key = [("VAMOS_AUDIT_KEY_FILE", key.as_str())];
            let restored = vamos_with(&["restore", "--db", &target_url, &copy], d, &with_key);
            let counts = (count(&target_url), count(url));
            let verified = vamos_with(&["audit", "verify", "--db", &target_url], d, &with_key);
            // A SQLite target that exists needs --force; a copy of the other backend is refused.
            let over_existing = (target.label == "sqlite").then(|| {
                (
                    vamos_with(&["restore", "--db", &target_url, &copy], d, &with_key),
                    vamos_with(
                        &["restore", "--db", &target_url, "--force", &copy],
                        d,
                        &with_key,
                    ),
                )
            });
            let wrong = if db.label == "sqlite" {
                "postgres://postgres@127.0.0.1:1/nada".to_string()
            } else {
                format!("sqlite:{}", d.join("otra.sqlite").display())
            };
            let into_other_backend = vamos_with(&["restore", "--db", &wrong, &copy], d, &with_key);
            RoundTrip {
                label: db.label,
                backed_up,
                backed_up_again,
                restored,
                counts,
                verified,
                over_existing,
                into_other_backend,
            }
        })
        .collect()
});

fn round_trips() -> &'static [RoundTrip] {
    warm_up();
    &ROUND_TRIPS
}

fn succeeded(o: &Output) {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn an_existing_backup_is_never_overwritten() {
    for r in round_trips() {
        succeeded(&r.backed_up);
        assert!(
            !r.backed_up_again.status.success(),
            "an existing backup is never overwritten"
        );
    }
}

#[test]
fn a_restored_copy_is_whole_with_every_person() {
    for r in round_trips() {
        let o = &r.restored;
        succeeded(o);
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("íntegro"),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let (restored, original) = r.counts;
        assert_eq!(restored, original);
        assert!(original > 0, "{}", r.label);
    }
}

#[test]
fn a_restored_copys_audit_chain_verifies() {
    for r in round_trips() {
        succeeded(&r.verified);
    }
}

#[test]
fn a_restore_names_the_audit_checkpoint_it_restores_to() {
    for r in round_trips() {
        let err = String::from_utf8_lossy(&r.restored.stderr);
        assert!(
            err.contains("Restaurada al punto de control de auditoría de la copia")
                && err.contains("registros, el último el"),
            "{}: {err}",
            r.label
        );
    }
}

#[test]
fn restoring_over_an_existing_sqlite_database_needs_force() {
    for r in round_trips() {
        if let Some((without, with)) = &r.over_existing {
            assert!(!without.status.success());
            succeeded(with);
        }
    }
}

#[test]
fn a_copy_is_not_restored_into_the_other_backend() {
    for r in round_trips() {
        let o = &r.into_other_backend;
        assert!(!o.status.success());
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("no es una copia"),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The account a command acts as (`--as` / `VAMOS_USER`).

/// The audit trail of `url` exported as CSV.
fn audit_csv(url: &str, d: &Path) -> String {
    let out = d.join("auditoria.csv");
    let o = vamos(
        &[
            "audit",
            "export",
            "--db",
            url,
            "--out",
            out.to_str().unwrap(),
        ],
        d,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read_to_string(out).unwrap()
}

#[test]
fn a_command_acting_as_an_unknown_account_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for db in all_dbs() {
        common::init_db(&db.url, d);
        let o = common::vamos(
            &[
                "--as", "nadie", "user", "create", "--db", &db.url, "ana", "--role", "analista",
            ],
            d,
            &[("VAMOS_PASSWORD", "Una-Clave-Segura-2026")],
        );
        assert_eq!(o.status.code(), Some(2), "{}", db.url);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("no existe la cuenta «nadie»"), "{err}");
        assert!(!audit_csv(&db.url, d).contains("\"ana\""), "{}", db.url);
    }
}

#[test]
fn a_command_acting_as_a_disabled_account_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for db in all_dbs() {
        common::init_db(&db.url, d);
        let pw = [("VAMOS_PASSWORD", "Una-Clave-Segura-2026")];
        let create = [
            "user", "create", "--db", &db.url, "bea", "--role", "analista",
        ];
        assert!(
            common::vamos(&create, d, &pw).status.success(),
            "{}",
            db.url
        );
        let disable = ["user", "disable", "--db", &db.url, "bea"];
        assert!(vamos(&disable, d).status.success(), "{}", db.url);
        let o = common::vamos(
            &[
                "--as", "bea", "user", "create", "--db", &db.url, "carla", "--role", "analista",
            ],
            d,
            &pw,
        );
        assert_eq!(o.status.code(), Some(2), "{}", db.url);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("la cuenta «bea» está desactivada"), "{err}");
    }
}

#[test]
fn the_audit_trail_names_the_account_a_command_acted_as() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for db in all_dbs() {
        common::init_db(&db.url, d);
        let o = common::vamos(
            &[
                "user", "create", "--db", &db.url, "ana", "--role", "analista",
            ],
            d,
            &[
                ("VAMOS_PASSWORD", "Una-Clave-Segura-2026"),
                ("VAMOS_USER", "admin"),
            ],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let o = common::vamos(
            &["user", "disable", "--db", &db.url, "ana"],
            d,
            &[("USER", "operadora")],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let trail = audit_csv(&db.url, d);
        let created = trail
            .lines()
            .find(|l| l.contains("\"crear cuenta\"") && l.contains("\"ana\""))
            .unwrap_or_else(|| panic!("{trail}"));
        assert!(
            created.contains("\"admin (línea de órdenes)\""),
            "{created}"
        );
        assert!(created.contains("\"administrador\""), "{created}");
        let disabled = trail
            .lines()
            .find(|l| l.contains("\"desactivar cuenta\""))
            .unwrap_or_else(|| panic!("{trail}"));
        assert!(
            disabled.contains("\"operadora (línea de órdenes, sin cuenta)\""),
            "{disabled}"
        );
    }
}

#[test]
fn a_command_acting_as_an_account_is_held_to_the_permissions_of_its_role() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for db in all_dbs() {
        common::init_db(&db.url, d);
        let pw = [("VAMOS_PASSWORD", "Una-Clave-Segura-2026")];
        let create = [
            "user", "create", "--db", &db.url, "ana", "--role", "analista",
        ];
        assert!(
            common::vamos(&create, d, &pw).status.success(),
            "{}",
            db.url
        );
        for cmd in [
            vec!["--as", "ana", "user", "list", "--db", &db.url],
            vec!["--as", "ana", "user", "disable", "--db", &db.url, "admin"],
        ] {
            let o = vamos(&cmd, d);
            assert_eq!(o.status.code(), Some(2), "{}: {cmd:?}", db.url);
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(err.contains("administrar cuentas"), "{err}");
        }
        let o = vamos(&["user", "list", "--db", &db.url], d);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let admin = String::from_utf8_lossy(&o.stdout)
            .lines()
            .find(|l| l.starts_with("admin "))
            .map(str::to_string)
            .unwrap_or_default();
        assert!(admin.contains(" sí "), "{admin}");
        assert!(
            !audit_csv(&db.url, d).contains("\"desactivar cuenta\""),
            "{}",
            db.url
        );
    }
}

#[test]
fn a_sender_added_acting_as_an_unknown_account_is_not_registered() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for db in all_dbs() {
        common::init_db(&db.url, d);
        let o = vamos(
            &[
                "--as",
                "nadie",
                "dci",
                "sender",
                "add",
                "--db",
                &db.url,
                "--id",
                "his.mspbs.gov.py",
                "--user",
                "admin",
            ],
            d,
        );
        assert_eq!(o.status.code(), Some(2), "{}", db.url);
        let o = vamos(&["dci", "sender", "list", "--db", &db.url], d);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(
            !String::from_utf8_lossy(&o.stdout).contains("his.mspbs.gov.py"),
            "{}",
            db.url
        );
    }
}

#[test]
fn an_import_is_recorded_in_the_audit_trail_with_its_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let url = one_rejection(d);
    let o = common::vamos(
        &[
            "import",
            "fips",
            "--db",
            &url,
            "fips.csv",
            "--rejects",
            "r.csv",
        ],
        d,
        &[("USER", "cargadora")],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let trail = audit_csv(&url, d);
    let line = trail
        .lines()
        .find(|l| l.contains("\"importar archivos\""))
        .unwrap_or_else(|| panic!("{trail}"));
    assert!(
        line.contains("cargadora (línea de órdenes, sin cuenta)"),
        "{line}"
    );
    assert!(line.contains("fips: fips.csv"), "{line}");
    assert!(
        line.contains("completada: 2 filas válidas, 1 rechazadas"),
        "{line}"
    );
}

#[test]
fn an_account_without_the_permission_to_load_cannot_import_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let url = one_rejection(d);
    let pw = [("VAMOS_PASSWORD", "Una-Clave-Segura-2026")];
    let create = [
        "user",
        "create",
        "--db",
        &url,
        "mesa1",
        "--role",
        "mesa",
        "--territories",
        "11",
    ];
    let o = common::vamos(&create, d, &pw);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = common::vamos(
        &["--as", "mesa1", "import", "fips", "--db", &url, "fips.csv"],
        d,
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("cargar archivos al registro"), "{err}");
    let stats = last_json(&vamos(
        &["registry", "stats", "--db", &url, "--format", "json"],
        d,
    ));
    assert_eq!(stats["households"], 0);
}

#[test]
fn a_classification_is_recorded_in_the_audit_trail() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let url = one_rejection(d);
    let o = vamos(&["import", "fips", "--db", &url, "fips.csv"], d);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = vamos(&["classify", "--db", &url, "--as-of", "2026-11-01"], d);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let trail = audit_csv(&url, d);
    let line = trail
        .lines()
        .find(|l| l.contains("\"clasificar\""))
        .unwrap_or_else(|| panic!("{trail}"));
    assert!(line.contains("PY al 2026-11-01"), "{line}");
    assert!(line.contains("ok: medición 1"), "{line}");
}

#[test]
fn an_analyst_cannot_register_or_list_dci_senders() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = vamos_store::testing::sqlite_db();
    common::init_db(&db.url, d);
    let pw = [("VAMOS_PASSWORD", "Una-Clave-Segura-2026")];
    let create = [
        "user", "create", "--db", &db.url, "ana", "--role", "analista",
    ];
    assert!(common::vamos(&create, d, &pw).status.success());
    let add = [
        "--as",
        "ana",
        "dci",
        "sender",
        "add",
        "--db",
        &db.url,
        "--id",
        "his.mspbs.gov.py",
        "--user",
        "ana",
    ];
    let o = common::vamos(&add, d, &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("administrar cuentas"), "{err}");
    let o = common::vamos(
        &["--as", "ana", "dci", "sender", "list", "--db", &db.url],
        d,
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    // The machine's operator (no account) may.
    let o = common::vamos(&add[2..], d, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn the_usage_example_imports_every_admin_file_so_orientations_count_in_the_logros() {
    for db in all_dbs() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let url = db.url.as_str();
        let step = |args: &[&str]| {
            let o = vamos(args, d);
            assert!(
                o.status.success(),
                "{}: {args:?}: {}",
                db.label,
                String::from_utf8_lossy(&o.stderr)
            );
            o
        };
        // The block of docs/usage.md, as written (four pilot districts, fewer households).
        step(&[
            "synth",
            "--districts",
            "1116,1602,0218,0607",
            "--households",
            "400",
            "--seed",
            "7",
            "--out",
            "datos",
        ]);
        common::init_db(url, d);
        step(&[
            "import",
            "fips",
            "--db",
            url,
            "datos",
            "--rejects",
            "rechazos.csv",
        ]);
        step(&["import", "comunidades", "--db", url, "datos"]);
        step(&[
            "import",
            "admin",
            "--db",
            url,
            "datos",
            "--unmatched",
            "sin_cedula.csv",
        ]);
        step(&["classify", "--db", url, "--as-of", "2026-11-23"]);
        let logros = last_json(&step(&["logros", "--db", url, "--format", "json"]));
        let protected: u64 = logros["logros"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["protected"].as_u64().unwrap_or(0))
            .sum();
        assert!(
            protected > 0,
            "{}: every Logro at 0 % — the UTGS orientations were not imported: {logros}",
            db.label
        );
    }
}
