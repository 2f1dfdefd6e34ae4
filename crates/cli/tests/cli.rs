//! Black-box tests of the `vamos` binary: the interface the acceptance checks use (exit codes,
//! `--format json` as the last line, idempotent `db init`, stats per territory), on SQLite and,
//! when configured, PostgreSQL.

// Tests fail loudly on purpose: unwrap, panic and indexing are how they assert.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;
use std::process::{Command, Output};
use vamos_store::testing::all_dbs;

fn vamos(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vamos"))
        .args(args)
        .current_dir(cwd)
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

#[test]
fn synth_import_twice_and_stats_through_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = vamos(
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
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("SINTÉTICA"));
    for db in all_dbs() {
        let url = db.url.as_str();
        for _ in 0..2 {
            assert!(
                vamos(&["db", "init", "--db", url], d).status.success(),
                "{}",
                db.label
            );
        }
        let first = last_json(&vamos(
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
        ));
        assert_eq!(first["households_accepted"], 200, "{}", db.label);
        assert_eq!(first["rows_rejected"], 0);
        assert_eq!(first["synthetic"], true);
        let persons = first["persons_accepted"].as_u64().unwrap();
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
        assert!(admin.status.success());
        let admin = last_json(&admin);
        assert!(admin["records_accepted"].as_u64().unwrap() > 0);
        assert!(admin["records_unmatched"].as_u64().is_some());
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
        assert_eq!(
            (nation["households"].as_u64(), nation["persons"].as_u64()),
            (Some(200), Some(persons))
        );
        let again = last_json(&vamos(
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
        ));
        assert_eq!(
            (
                again["households_accepted"].as_u64(),
                again["households_already_registered"].as_u64()
            ),
            (Some(0), Some(200))
        );
        assert_eq!(stats("PY"), nation, "{}", db.label);
        // Department and district figures add up to the nation.
        let sum: u64 = ["11", "16", "02", "06"]
            .iter()
            .map(|t| stats(t)["persons"].as_u64().unwrap())
            .sum();
        assert_eq!(sum, persons);
        let villeta = stats("1116");
        assert_eq!(villeta["territory"]["name"], "Villeta");
        assert_eq!(villeta["territory"]["level"], "district");
    }
}

#[test]
fn exit_codes_tell_ran_refused_and_unreadable_apart() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let url = format!("sqlite:{}", d.join("r.sqlite").display());
    assert!(vamos(&["db", "init", "--db", &url], d).status.success());
    std::fs::write(d.join("fips.csv"), "KEY,ubicacion-distrito,ubicacion-localidad,fecha_entrevista\nuuid:a,1116,Centro,2026-10-01\nuuid:b,9999,Centro,2026-10-01\n").unwrap();
    std::fs::write(d.join("fips-miembros.csv"), "PARENT_KEY,KEY,miembros-nombres,miembros-apellidos,miembros-fecha_nacimiento,miembros-sexo,miembros-relacion_jefe\nuuid:a,uuid:a/miembros[1],Ana,Vera,01/02/1990,mujer,jefe\n").unwrap();
    // --strict with a rejection: nothing stored, exit 1.
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
    // Without --strict: runs, exit 0, one rejection reported in Spanish.
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
    // Unreadable input: exit 2 with a Spanish message.
    let o = vamos(&["import", "fips", "--db", &url, "no-existe.csv"], d);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no existe"));
    // A database that was never initialised is named as such.
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
    let o = vamos(&["territory", "list", "--department", "16"], dir.path());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("Mariscal José Félix Estigarribia") && text.contains("piloto"),
        "{text}"
    );
}

#[test]
#[allow(clippy::too_many_lines)] // reason: a scenario test, to be split into one test per behaviour
fn classify_logros_and_explain_through_the_command_line() {
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
    for db in all_dbs() {
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
        assert_eq!(nation["measurement"]["id"], id);
        assert_eq!(nation["measurement"]["as_of"], "2026-11-23");
        assert!(nation["measurement"]["catalogue_version"]
            .as_str()
            .unwrap()
            .starts_with("sha256:"));
        assert_eq!(nation["territory"]["level"], "nation");
        let list = nation["logros"].as_array().unwrap();
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
        assert_eq!(
            list[8]["identified"], 300,
            "every household is identified for Logro 9"
        );
        // Departments are the sums of their districts; the nation the sum of departments.
        for (dep, dist) in [
            ("11", "1116"),
            ("16", "1602"),
            ("02", "0218"),
            ("06", "0607"),
        ] {
            assert_eq!(
                logros(dep)["logros"],
                logros(dist)["logros"],
                "{}",
                db.label
            );
        }
        let sum: u64 = ["11", "16", "02", "06"]
            .iter()
            .map(|t| logros(t)["logros"][3]["identified"].as_u64().unwrap())
            .sum();
        assert_eq!(sum, list[3]["identified"].as_u64().unwrap());
        let csv = vamos(&["logros", "--db", url, "--format", "csv"], d);
        assert_eq!(String::from_utf8_lossy(&csv.stdout).lines().count(), 11);
        // classify's JSON carries the roll-ups it computed: the nation and the 18 departments,
        // equal to what `logros` reads back.
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
        let levels = again["levels"].as_array().unwrap();
        assert_eq!(levels.len(), 19);
        assert_eq!(levels[0]["territory"], "PY");
        for (i, l) in levels[0]["logros"].as_array().unwrap().iter().enumerate() {
            assert_eq!(l["identified"], list[i]["identified"]);
            assert_eq!(l["protected"], list[i]["protected"]);
        }
        let stages = &again["stages_ms"];
        for stage in ["load", "evaluate", "aggregate", "store"] {
            assert!(stages[stage].is_u64(), "{stage}");
        }
        // Explain a person, service by service, and leave an audit record.
        let e = last_json(&vamos(
            &["explain", "--db", url, "--person", "1", "--format", "json"],
            d,
        ));
        assert!(e["category"].is_string(), "{e}");
        assert!(e["concurrent"].is_boolean());
        let services = e["services"].as_array().unwrap();
        assert!(!services.is_empty());
        for s in services {
            assert!(["protegido", "desprotegido", "no_aplica", "sin_dato"]
                .contains(&s["status"].as_str().unwrap()));
            assert!(s["evidence"]["detail"].is_string());
        }
        // By cédula: the head of household 1 in the synthetic survey has one.
        let cedula: i64 = if db.label == "sqlite" {
            let st = vamos_store::SqliteStore::open(url.trim_start_matches("sqlite:")).unwrap();
            st.connection().query_row("SELECT national_id FROM persons WHERE national_id IS NOT NULL ORDER BY id LIMIT 1", [], |r| r.get(0)).unwrap()
        } else {
            let mut st = vamos_store::PostgresStore::connect(url).unwrap();
            st.client().query_one("SELECT national_id FROM persons WHERE national_id IS NOT NULL ORDER BY id LIMIT 1", &[]).unwrap().get(0)
        };
        let by_id = last_json(&vamos(
            &[
                "explain",
                "--db",
                url,
                "--person",
                &cedula.to_string(),
                "--format",
                "json",
            ],
            d,
        ));
        assert!(
            by_id["unit"]["id"].as_i64().unwrap() > 0
                && by_id["unit"]["id"].as_i64() != Some(cedula),
            "{by_id}"
        );
        let text = vamos(&["explain", "--db", url, "--household", "1"], d);
        assert!(String::from_utf8_lossy(&text.stdout).contains("Hogares (Logro 9)"));
        let missing = vamos(&["explain", "--db", url, "--community", "999999"], d);
        assert_eq!(missing.status.code(), Some(2));
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
        assert_eq!(audits, 4, "every explanation (found or not) is audited");
    }
}

#[test]
fn catalogue_check_reports_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let o = vamos(&["catalogue", "check"], dir.path());
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("ILUSTRATIVO") && text.lines().last().unwrap().starts_with("sha256:"),
        "{text}"
    );
    // A copy of the default catalogue with an unknown field, an unknown institution and a
    // malformed rule.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../catalogue/default");
    let cat = dir.path().join("cat");
    std::fs::create_dir_all(cat.join("servicios")).unwrap();
    std::fs::copy(root.join("catalogo.toml"), cat.join("catalogo.toml")).unwrap();
    for e in std::fs::read_dir(root.join("servicios")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, cat.join("servicios").join(p.file_name().unwrap())).unwrap();
    }
    let hog = cat.join("servicios/hogares.toml");
    let text = std::fs::read_to_string(&hog).unwrap();
    let bad = text
        .replacen("hogar.fuente_agua", "hogar.fuente_de_agua", 1)
        .replacen("institucion = \"ANDE\"", "institucion = \"ANDEX\"", 1)
        .replacen("hogar.internet == 'si'", "hogar.internet == ", 1);
    assert_ne!(bad, text);
    std::fs::write(&hog, &bad).unwrap();
    let o = vamos(&["catalogue", "check", cat.to_str().unwrap()], dir.path());
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    let line_of = |needle: &str| bad.lines().position(|l| l.contains(needle)).unwrap() + 1;
    assert!(
        err.contains(&format!(
            "servicios/hogares.toml:{}:",
            line_of("hogar.fuente_de_agua")
        )) && err.contains("campo desconocido «hogar.fuente_de_agua»"),
        "{err}"
    );
    assert!(
        err.contains(&format!("servicios/hogares.toml:{}:", line_of("ANDEX")))
            && err.contains("institución desconocida «ANDEX»"),
        "{err}"
    );
    assert!(err.contains("expresión incompleta"), "{err}");
}

#[test]
fn backup_and_restore_round_trip_on_both_stores() {
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
            .sql()
            .query_opt("SELECT COUNT(*) FROM persons", &[])
            .unwrap();
        r.and_then(|r| r.int(0)).unwrap()
    };
    let targets = all_dbs();
    for (i, (db, target)) in all_dbs().iter().zip(&targets).enumerate() {
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
        ok(vamos(&["backup", "--db", url, "--out", &copy], d));
        assert!(
            !vamos(&["backup", "--db", url, "--out", &copy], d)
                .status
                .success(),
            "an existing backup is never overwritten"
        );
        let target_url = if target.label == "sqlite" {
            format!(
                "sqlite:{}",
                d.join(format!("restaurada-{i}.sqlite")).display()
            )
        } else {
            target.url.clone()
        };
        let o = ok(vamos(&["restore", "--db", &target_url, &copy], d));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("íntegro"),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(count(&target_url), count(url));
        assert!(count(url) > 0);
        ok(vamos(&["audit", "verify", "--db", &target_url], d));
        // A SQLite target that exists needs --force; a copy of the other backend is refused.
        if target.label == "sqlite" {
            assert!(!vamos(&["restore", "--db", &target_url, &copy], d)
                .status
                .success());
            ok(vamos(
                &["restore", "--db", &target_url, "--force", &copy],
                d,
            ));
        }
        let wrong = if db.label == "sqlite" {
            "postgres://postgres@127.0.0.1:1/nada".to_string()
        } else {
            format!("sqlite:{}", d.join("otra.sqlite").display())
        };
        let o = vamos(&["restore", "--db", &wrong, &copy], d);
        assert!(!o.status.success());
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("no es una copia"),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}
