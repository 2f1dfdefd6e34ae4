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

/// House rule (ENGINEERING.md, style 7): every Rust file opens with a `//!` doc saying why it exists.
#[test]
fn every_rust_file_opens_with_a_module_doc() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut stack = vec![root.join("crates"), root.join("fuzz/fuzz_targets")];
    let mut checked = 0;
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                assert!(
                    text.starts_with("//!"),
                    "{} has no //! doc on its first line",
                    p.display()
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 20, "only {checked} files found");
}
