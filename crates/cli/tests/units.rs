//! The units behind a figure (issue 37, item 6), on every backend, through `vamos units` as
//! named accounts: the list behind a Logro card, a service row and a population row counts
//! exactly what the figure counts; and the attacks — a district outside the account's scope,
//! a population or a service the agreement withholds used as an oracle, fields outside the
//! agreement, a formula in a name reaching the CSV — are refused or neutralised, each audited.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{init_db, synth_pilots, vamos, PW};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;
use vamos_store::testing::{all_dbs, RawSql, TestDb};

/// A classified registry of the pilot districts and its accounts: `ana` (analyst, national),
/// `mspbs_op` (MSPBS operator of Villeta whose
/// agreement lists `id, given_names, family_names, district_code` only) and `mec_op` (MEC's, the
/// same and `birth_date`).
struct Site {
    db: TestDb,
    dir: PathBuf,
}

static SITES: std::sync::LazyLock<Vec<Site>> = std::sync::LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap().keep();
    synth_pilots(&dir, "300", "41");
    all_dbs().into_iter().map(|db| site(db, &dir)).collect()
});

fn must(o: Output) -> Output {
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn site(db: TestDb, d: &Path) -> Site {
    let url = db.url.clone();
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--db", &url]);
        must(vamos(&all, d, &[("VAMOS_PASSWORD", PW)]));
    };
    init_db(&url, d);
    run(&["import", "fips", "datos", "--date", "2026-11-01"]);
    run(&["classify", "--as-of", "2026-11-01"]);
    run(&["user", "create", "ana", "--role", "analista"]);
    for (user, inst, fields) in [
        (
            "mspbs_op",
            "MSPBS",
            "id,given_names,family_names,district_code",
        ),
        (
            "mec_op",
            "MEC",
            "id,given_names,family_names,district_code,birth_date",
        ),
    ] {
        run(&[
            "user",
            "create",
            user,
            "--role",
            "operador",
            "--institution",
            inst,
            "--territories",
            "1116",
        ]);
        run(&[
            "agreement",
            "create",
            "--institution",
            inst,
            "--fields",
            fields,
            "--purpose",
            "referencias",
            "--from",
            "2026-01-01",
            "--to",
            "2030-12-31",
        ]);
    }
    Site {
        db,
        dir: d.to_path_buf(),
    }
}

impl Site {
    fn run(&self, user: &str, args: &[&str]) -> Output {
        let mut a: Vec<&str> = vec!["units"];
        a.extend(args);
        a.extend(["--db", &self.db.url]);
        vamos(&a, &self.dir, &[("VAMOS_USER", user)])
    }

    fn json(&self, user: &str, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["--format", "json"]);
        let o = must(self.run(user, &a));
        serde_json::from_slice(&o.stdout).unwrap()
    }

    fn refused(&self, user: &str, args: &[&str]) -> String {
        let o = self.run(user, args);
        assert!(
            !o.status.success(),
            "{}: should have been refused: {}",
            self.db.label,
            String::from_utf8_lossy(&o.stdout)
        );
        String::from_utf8_lossy(&o.stderr).into_owned()
    }

    fn logros(&self, territory: &str) -> Value {
        let o = must(vamos(
            &[
                "logros",
                "--db",
                &self.db.url,
                "--territory",
                territory,
                "--format",
                "json",
            ],
            &self.dir,
            &[],
        ));
        serde_json::from_slice(&o.stdout).unwrap()
    }

    /// The audit outcomes of `actor`'s unit lists (its name and the interface), oldest first.
    fn audited(&self, actor: &str) -> Vec<String> {
        let mut s = self.db.open();
        let mut db = s.db();
        db.query(
            &format!(
                "SELECT outcome FROM audit_log WHERE actor LIKE '{actor} %' AND action = 'listar unidades' ORDER BY id"
            ),
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.text(0))
        .collect()
    }
}

fn count(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or(0)
}

#[test]
fn the_units_behind_a_card_a_service_and_a_population_are_those_the_figure_counts() {
    for s in SITES.iter() {
        let logros = s.logros("1116");
        for l in logros["logros"].as_array().unwrap() {
            let n = l["logro"].as_u64().unwrap().to_string();
            let all = l;
            let list = s.json("ana", &["--territory", "1116", "--logro", &n]);
            assert_eq!(
                count(&list, "total"),
                count(all, "identified") - count(all, "protected"),
                "{}: Logro {n}",
                s.db.label
            );
            let none = s.json(
                "ana",
                &["--territory", "1116", "--logro", &n, "--state", "sin_dato"],
            );
            assert_eq!(
                count(&none, "total"),
                count(all, "without_data"),
                "{}: Logro {n} sin dato",
                s.db.label
            );
            for sv in l["services"].as_array().unwrap() {
                let code = sv["service"].as_str().unwrap();
                let rows = s.json(
                    "ana",
                    &[
                        "--territory",
                        "1116",
                        "--logro",
                        &n,
                        "--service",
                        code,
                        "--limit",
                        "1000",
                    ],
                );
                assert_eq!(
                    count(&rows, "total"),
                    count(sv, "unprotected"),
                    "{}: {code}",
                    s.db.label
                );
                // Each unit listed lacks that very service.
                for u in rows["units"].as_array().unwrap() {
                    assert!(
                        u["lacking"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|x| x["service"] == code && x["status"] == "desprotegido"),
                        "{u}"
                    );
                }
            }
            for (p, c) in l["breakdowns"].as_object().unwrap() {
                let rows = s.json(
                    "ana",
                    &["--territory", "1116", "--logro", &n, "--population", p],
                );
                assert_eq!(
                    count(&rows, "total"),
                    count(c, "identified") - count(c, "protected"),
                    "{}: Logro {n} {p}",
                    s.db.label
                );
            }
        }
    }
}

#[test]
fn the_units_list_pages_through_every_unit_once() {
    for s in SITES.iter() {
        let first = s.json(
            "ana",
            &["--territory", "1116", "--logro", "9", "--limit", "7"],
        );
        let total = count(&first, "total") as usize;
        assert!(total > 7, "{}: {total}", s.db.label);
        let mut seen = std::collections::BTreeSet::new();
        for page in 1..=first["pages"].as_u64().unwrap() {
            let p = s.json(
                "ana",
                &[
                    "--territory",
                    "1116",
                    "--logro",
                    "9",
                    "--limit",
                    "7",
                    "--page",
                    &page.to_string(),
                ],
            );
            for u in p["units"].as_array().unwrap() {
                assert!(seen.insert(u["id"].as_i64().unwrap()), "{u} twice");
            }
        }
        assert_eq!(seen.len(), total, "{}", s.db.label);
    }
}

#[test]
fn units_outside_the_account_territory_are_refused_and_audited() {
    for s in SITES.iter() {
        let e = s.refused("mec_op", &["--territory", "1602", "--logro", "8"]);
        assert!(e.contains("fuera de su ámbito territorial"), "{e}");
        assert!(
            s.audited("mec_op")
                .iter()
                .any(|o| o.starts_with("denegado")),
            "{}",
            s.db.label
        );
        // Within its district it is answered, and the units shown are in the audit record.
        let p = s.json(
            "mec_op",
            &["--territory", "1116", "--logro", "8", "--limit", "3"],
        );
        let first = p["units"][0]["id"].as_i64().unwrap();
        assert!(
            s.audited("mec_op")
                .iter()
                .any(|o| o.starts_with("ok: 3 de") && o.contains(&format!("persona:{first}"))),
            "{}: {:?}",
            s.db.label,
            s.audited("mec_op")
        );
    }
}

#[test]
fn a_list_is_asked_per_district_with_clear_errors() {
    for s in SITES.iter() {
        let e = s.refused("ana", &["--territory", "11", "--logro", "9"]);
        assert!(e.contains("elija un distrito de Central"), "{e}");
        let e = s.refused("ana", &["--territory", "1116", "--logro", "11"]);
        assert!(e.contains("no existe el Logro 11"), "{e}");
        let e = s.refused(
            "ana",
            &[
                "--territory",
                "1116",
                "--logro",
                "9",
                "--service",
                "no_existe",
            ],
        );
        assert!(e.contains("no es un servicio del paquete núcleo"), "{e}");
        let e = s.refused(
            "ana",
            &["--territory", "1116", "--logro", "9", "--state", "todos"],
        );
        assert!(e.contains("estado «todos» desconocido"), "{e}");
    }
}

#[test]
fn a_withheld_population_service_or_category_cannot_be_listed() {
    for s in SITES.iter() {
        // Poverty is outside MSPBS's agreement: listing the poor households would tell it.
        let e = s.refused(
            "mspbs_op",
            &[
                "--territory",
                "1116",
                "--logro",
                "9",
                "--population",
                "pobreza",
            ],
        );
        assert!(
            e.contains("no permite listar la población «pobreza»"),
            "{e}"
        );
        assert!(
            s.audited("mspbs_op")
                .iter()
                .any(|o| o.starts_with("denegado: su convenio")),
            "{}: the refusal is audited",
            s.db.label
        );
        // Without birth dates, who is in an age category is withheld too.
        let e = s.refused("mspbs_op", &["--territory", "1116", "--logro", "3"]);
        assert!(e.contains("no permite listar el Logro 3"), "{e}");
        // A card with a service whose eligibility names work (outside MEC's agreement) would
        // tell who works: only its other services may be listed, one by one.
        let e = s.refused("mec_op", &["--territory", "1116", "--logro", "7"]);
        assert!(e.contains("Liste servicio por servicio"), "{e}");
        // The communities' list is within its agreement.
        let p = s.json("mspbs_op", &["--territory", "1116", "--logro", "10"]);
        assert!(count(&p, "total") > 0, "{}", s.db.label);
    }
}

#[test]
fn a_units_row_carries_only_the_fields_of_the_agreement() {
    for s in SITES.iter() {
        let args = ["--territory", "1116", "--logro", "8", "--limit", "1000"];
        // The analyst sees cédulas; MEC's agreement lists names and birth dates, not cédulas.
        let full = s.json("ana", &args);
        assert!(
            full["units"]
                .as_array()
                .unwrap()
                .iter()
                .any(|u| !u["national_id"].is_null()),
            "{}",
            s.db.label
        );
        let narrow = s.json("mec_op", &args);
        assert_eq!(narrow["total"], full["total"], "{}", s.db.label);
        for u in narrow["units"].as_array().unwrap() {
            assert!(u.get("national_id").is_none(), "{u}");
            assert!(u.get("household_id").is_none(), "{u}");
            assert!(u.get("sex").is_none(), "{u}");
            assert!(u["birth_date"].is_string(), "{u}");
        }
        let o = must(s.run(
            "mec_op",
            &["--territory", "1116", "--logro", "8", "--format", "csv"],
        ));
        let text = String::from_utf8(o.stdout).unwrap();
        let mut rows = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
        let at = rows
            .headers()
            .unwrap()
            .iter()
            .position(|h| h == "cedula")
            .unwrap();
        for r in rows.records() {
            assert_eq!(r.unwrap().get(at), Some(""));
        }
    }
}

#[test]
fn a_formula_in_a_name_reaches_the_units_csv_as_text() {
    for s in SITES.iter() {
        let p = s.json(
            "ana",
            &["--territory", "1116", "--logro", "7", "--limit", "1"],
        );
        let id = p["units"][0]["id"].as_i64().unwrap();
        {
            let mut st = s.db.open();
            let mut db = st.db();
            db.execute(
                &format!(
                    "UPDATE persons SET given_names = '=HYPERLINK(\"http://evil.example\",\"Ver\")' WHERE id = {id}"
                ),
                &[],
            )
            .unwrap();
        }
        let o = must(s.run(
            "ana",
            &["--territory", "1116", "--logro", "7", "--format", "csv"],
        ));
        let text = String::from_utf8(o.stdout).unwrap();
        assert!(text.starts_with('\u{feff}'), "a BOM for spreadsheets");
        let line = text
            .lines()
            .find(|l| l.contains("HYPERLINK"))
            .unwrap_or_else(|| panic!("{}: the person is listed", s.db.label));
        assert!(line.contains("\"'=HYPERLINK"), "{line}");
    }
}
