//! Planning and budgeting for results (issue 38), on every backend, through the command line:
//! the strategic framework travels as XLSX (round trip, rejections row by row, versions), the
//! budget imports all or nothing and is compared with a saved costing scenario, and a
//! management agreement adopts only shared targets and follows them against the measurements.
//! Who may do what: planners edit, authorities read, others are refused.

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
use vamos_store::testing::{all_dbs, TestDb};

struct Site {
    db: TestDb,
    dir: PathBuf,
}

static SITES: std::sync::LazyLock<Vec<Site>> = std::sync::LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap().keep();
    synth_pilots(&dir, "200", "38");
    all_dbs()
        .into_iter()
        .map(|db| {
            let url = db.url.clone();
            init_db(&url, &dir);
            for args in [
                vec![
                    "import",
                    "fips",
                    "--db",
                    &url,
                    "datos",
                    "--date",
                    "2026-11-01",
                ],
                vec!["classify", "--db", &url, "--as-of", "2026-11-01"],
                vec![
                    "user",
                    "create",
                    "--db",
                    &url,
                    "plan",
                    "--role",
                    "planificador",
                ],
                vec![
                    "user",
                    "create",
                    "--db",
                    &url,
                    "auto",
                    "--role",
                    "autoridad",
                ],
                vec![
                    "user",
                    "create",
                    "--db",
                    &url,
                    "mesa",
                    "--role",
                    "mesa",
                    "--territories",
                    "1116",
                ],
            ] {
                let o = vamos(&args, &dir, &[("VAMOS_PASSWORD", PW)]);
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            }
            Site {
                db,
                dir: dir.clone(),
            }
        })
        .collect()
});

impl Site {
    fn url(&self) -> &str {
        &self.db.url
    }
    /// `vamos` as account `who` (the planner unless said otherwise).
    fn run_as(&self, who: &str, args: &[&str]) -> std::process::Output {
        vamos(args, &self.dir, &[("VAMOS_USER", who)])
    }
    fn ok(&self, who: &str, args: &[&str]) -> String {
        let o = self.run_as(who, args);
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }
    fn json(&self, who: &str, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(who, args)).unwrap()
    }
    fn file(&self, name: &str) -> String {
        self.dir
            .join(format!("{}-{name}", self.db.label))
            .display()
            .to_string()
    }
}

fn write_plan(path: &str, f: &vamos_store::plans::Framework) {
    std::fs::write(path, vamos_app::plans::xlsx::write(f).unwrap()).unwrap();
}

fn illustrative() -> vamos_store::plans::Framework {
    vamos_app::plans::xlsx::illustrative().unwrap()
}

/// The values of indicator `code` in a plan's view.
fn values<'a>(v: &'a Value, code: &str) -> Vec<&'a Value> {
    let mut out = Vec::new();
    for g in v["objectives"].as_array().unwrap() {
        for s in g["specific"].as_array().unwrap() {
            for a in s["actions"].as_array().unwrap() {
                for i in a["indicators"].as_array().unwrap() {
                    if i["code"] == code {
                        out.extend(i["values"].as_array().unwrap());
                    }
                }
            }
        }
    }
    out
}

#[test]
fn the_illustrative_plan_round_trips_through_xlsx_with_baselines_from_the_latest_measurement() {
    for s in SITES.iter() {
        let (a, b) = (s.file("ilustrativo.xlsx"), s.file("exportado.xlsx"));
        s.ok("plan", &["plan", "template", "--illustrative", "--out", &a]);
        let out = s.ok("plan", &["plan", "import", "--db", s.url(), &a]);
        assert!(out.contains("líneas de base de la medición"), "{out}");
        let id = out
            .split_whitespace()
            .find_map(|w| w.parse::<i64>().ok())
            .unwrap()
            .to_string();
        let view = s.json(
            "auto",
            &[
                "plan",
                "show",
                "--db",
                s.url(),
                "--plan",
                &id,
                "--format",
                "json",
            ],
        );
        assert_eq!(view["plan"]["illustrative"], true);
        // Logro 4 in Paraguay: the baseline is the latest measurement's coverage, named.
        let logros = s.json(
            "plan",
            &[
                "logros",
                "--db",
                s.url(),
                "--territory",
                "PY",
                "--format",
                "json",
            ],
        );
        let four = logros["logros"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["logro"] == 4)
            .unwrap();
        let py = values(&view, "I2")
            .into_iter()
            .find(|x| x["territory"]["code"] == "PY")
            .unwrap();
        assert!(
            (py["baseline"].as_f64().unwrap() - four["coverage"].as_f64().unwrap()).abs() < 1e-3,
            "{py}"
        );
        assert_eq!(py["baseline_measurement"], logros["measurement"]["id"]);
        assert!(
            (py["gap"].as_f64().unwrap() - (0.6 - py["baseline"].as_f64().unwrap())).abs() < 1e-9
        );
        // Exported and imported again: the same plan, not a second one.
        s.ok(
            "plan",
            &[
                "plan",
                "export",
                "--db",
                s.url(),
                "--plan",
                &id,
                "--out",
                &b,
            ],
        );
        let again = s.ok("plan", &["plan", "import", "--db", s.url(), &b]);
        assert!(again.starts_with(&format!("Plan {id} ")), "{again}");
        let list = s.json(
            "plan",
            &["plan", "list", "--db", s.url(), "--format", "json"],
        );
        let named = list
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["name"] == view["plan"]["name"])
            .count();
        assert_eq!(named, 1, "{list}");
        let again = s.json(
            "plan",
            &[
                "plan",
                "show",
                "--db",
                s.url(),
                "--plan",
                &id,
                "--format",
                "json",
            ],
        );
        assert_eq!(values(&again, "I2"), values(&view, "I2"));
    }
}

#[test]
fn a_plan_with_mistakes_is_rejected_row_by_row_and_nothing_is_stored() {
    for s in SITES.iter() {
        let mut f = illustrative();
        f.plan.name = "Plan con errores".into();
        f.actions[0].institutions = vec!["NO_EXISTE".into()];
        f.indicators[0].reference = "11".into();
        f.values[0].territory = "99".into();
        f.values[1].target = Some(1.7);
        let path = s.file("errores.xlsx");
        write_plan(&path, &f);
        let o = s.run_as("plan", &["plan", "import", "--db", s.url(), &path]);
        assert_eq!(o.status.code(), Some(2));
        let err = String::from_utf8_lossy(&o.stderr);
        for expected in [
            "Acciones, fila 2, columna «instituciones», valor «NO_EXISTE»",
            "Indicadores, fila 2, columna «referencia», valor «11»",
            "Metas, fila 2, columna «territorio», valor «99»",
            "Metas, fila 3, columna «meta», valor «1.7»",
            "nada se guardó",
        ] {
            assert!(err.contains(expected), "missing «{expected}» in:\n{err}");
        }
        let list = s.json(
            "plan",
            &["plan", "list", "--db", s.url(), "--format", "json"],
        );
        assert!(
            list.as_array()
                .unwrap()
                .iter()
                .all(|p| p["name"] != "Plan con errores"),
            "{list}"
        );
    }
}

#[test]
fn a_new_version_in_force_replaces_the_previous_one() {
    for s in SITES.iter() {
        let mut f = illustrative();
        f.plan.name = "Plan versionado".into();
        let path = s.file("v1.xlsx");
        write_plan(&path, &f);
        s.ok("plan", &["plan", "import", "--db", s.url(), &path]);
        f.plan.version = 2;
        f.plan.period_from = 2026;
        f.plan.period_to = 2029;
        for v in &mut f.values {
            v.year = 2029;
        }
        write_plan(&path, &f);
        s.ok("plan", &["plan", "import", "--db", s.url(), &path]);
        let list = s.json(
            "plan",
            &["plan", "list", "--db", s.url(), "--format", "json"],
        );
        let status = |v: i64| {
            list.as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == "Plan versionado" && p["version"] == v)
                .unwrap()["status"]
                .clone()
        };
        assert_eq!(status(1), "reemplazado");
        assert_eq!(status(2), "vigente");
    }
}

#[test]
fn a_plans_text_is_written_as_text_never_as_a_formula() {
    for s in SITES.iter() {
        let mut f = illustrative();
        f.plan.name = "Plan con fórmulas".into();
        f.objectives[0].description = "=HYPERLINK(\"http://x\",\"y\")".into();
        let path = s.file("formula.xlsx");
        write_plan(&path, &f);
        s.ok("plan", &["plan", "import", "--db", s.url(), &path]);
        let list = s.json(
            "plan",
            &["plan", "list", "--db", s.url(), "--format", "json"],
        );
        let id = list
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "Plan con fórmulas")
            .unwrap()["id"]
            .to_string();
        let out = s.file("formula-exportado.xlsx");
        s.ok(
            "plan",
            &[
                "plan",
                "export",
                "--db",
                s.url(),
                "--plan",
                &id,
                "--out",
                &out,
            ],
        );
        use calamine::Reader;
        let mut wb: calamine::Xlsx<_> = calamine::open_workbook(&out).unwrap();
        let formulas = wb.worksheet_formula("Objetivos").unwrap();
        assert!(
            formulas.used_cells().all(|(_, _, f)| f.is_empty()),
            "a formula was written"
        );
        let cells = wb.worksheet_range("Objetivos").unwrap();
        assert!(cells
            .used_cells()
            .any(|(_, _, c)| c.to_string().starts_with("=HYPERLINK")));
    }
}

fn budget_file(dir: &Path, name: &str, rows: &[&str]) -> String {
    let header = "anio,tipo_presupuesto,programa,subprograma,proyecto,entidad,objeto_gasto,fuente_financiamiento,organismo_financiador,departamento,presupuesto_inicial,presupuesto_vigente,obligado,pagado,servicio_vamos,accion_estrategica";
    let path = dir.join(name);
    std::fs::write(&path, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
    path.display().to_string()
}

#[test]
fn a_budget_import_is_all_or_nothing_and_a_rerun_replaces_its_years() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/planning/presupuesto_ilustrativo.csv");
    let shipped = shipped.display().to_string();
    for s in SITES.iter() {
        let out = s.ok("plan", &["budget", "import", "--db", s.url(), &shipped]);
        assert!(
            out.contains("ILUSTRATIVOS") && out.contains("NO VERIFICADO"),
            "{out}"
        );
        let before = s.json(
            "auto",
            &[
                "budget",
                "show",
                "--db",
                s.url(),
                "--year",
                "2027",
                "--format",
                "json",
            ],
        );
        let again = s.ok("plan", &["budget", "import", "--db", s.url(), &shipped]);
        assert!(
            again.contains("(11 reemplazadas)") || again.contains("reemplazadas"),
            "{again}"
        );
        let after = s.json(
            "auto",
            &[
                "budget",
                "show",
                "--db",
                s.url(),
                "--year",
                "2027",
                "--format",
                "json",
            ],
        );
        assert_eq!(before["total"], after["total"], "a re-run duplicated lines");
        assert_eq!(before["lines"], after["lines"]);
        // A file with mistakes: every one reported, nothing stored (the year 2030 stays empty).
        let bad = budget_file(
            &s.dir,
            &format!("{}-malo.csv", s.db.label),
            &[
                "2030,Programas,Tekoporã,,,MDS,Transferencias,40,Tesoro,02,10,10,5,5,tekopora,",
                "2030,Programas,Tekoporã,,,MDS,Transferencias,10,Tesoro,02,abc,10,5,5,tekopora,",
                "2030,Programas,Tekoporã,,,MDS,Transferencias,10,Tesoro,02,10,10,5,9,tekopora,",
                "2030,Programas,Tekoporã,,,MDS,Transferencias,10,Tesoro,02,10,10,5,5,no_existe,",
            ],
        );
        let o = s.run_as("plan", &["budget", "import", "--db", s.url(), &bad]);
        assert_eq!(o.status.code(), Some(2));
        let err = String::from_utf8_lossy(&o.stderr);
        for expected in [
            "fila 2, columna «fuente», valor «40»",
            "fila 3, columna «inicial», valor «abc»",
            "fila 4, columna «obligado»",
            "fila 5, columna «servicio», valor «no_existe»",
        ] {
            assert!(err.contains(expected), "missing «{expected}» in:\n{err}");
        }
        let none = s.json(
            "auto",
            &[
                "budget",
                "show",
                "--db",
                s.url(),
                "--year",
                "2030",
                "--format",
                "json",
            ],
        );
        assert_eq!(none["lines"], 0, "{none}");
    }
}

#[test]
fn what_is_needed_is_the_saved_scenarios_cost_of_the_year_beside_what_is_allocated() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/planning/presupuesto_ilustrativo.csv");
    for s in SITES.iter() {
        s.ok(
            "plan",
            &[
                "budget",
                "import",
                "--db",
                s.url(),
                &shipped.display().to_string(),
            ],
        );
        let o = s.run_as(
            "plan",
            &[
                "cost",
                "--db",
                s.url(),
                "--territory",
                "02",
                "--logro",
                "4",
                "--target",
                "0.9",
                "--by",
                "2028",
                "--save",
                "San Pedro al 90 %",
                "--format",
                "json",
            ],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let costing: Value = serde_json::from_slice(&o.stdout).unwrap();
        let saved = String::from_utf8_lossy(&o.stderr);
        let id = saved
            .split_whitespace()
            .find_map(|w| w.parse::<i64>().ok())
            .unwrap()
            .to_string();
        let v = s.json(
            "auto",
            &[
                "budget",
                "show",
                "--db",
                s.url(),
                "--year",
                "2027",
                "--territory",
                "02",
                "--scenario",
                &id,
                "--format",
                "json",
            ],
        );
        let year = costing["by_year"]
            .as_array()
            .unwrap()
            .iter()
            .find(|y| y["year"] == 2027)
            .unwrap();
        let needed: i64 = year["services"]
            .as_object()
            .unwrap()
            .values()
            .map(|c| c.as_i64().unwrap())
            .sum();
        assert_eq!(v["total"]["needed"].as_i64().unwrap(), needed, "{v}");
        assert_eq!(
            year["cost"].as_i64().unwrap(),
            needed,
            "a year's cost is its services'"
        );
        // The department's lines, the national ones apart.
        assert!(v["national_lines"]["current"].as_i64().unwrap() > 0);
        let eeb = v["by_service"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["service"] == "educacion_escolar_basica")
            .unwrap();
        assert_eq!(eeb["stages"]["current"], 39_500_000_000_i64);
        let ue = v["cooperation"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["tag"].as_str().unwrap().contains("Unión Europea"))
            .unwrap();
        assert_eq!(ue["stages"]["current"], 9_000_000_000_i64);
    }
}

#[test]
fn a_management_agreement_adopts_only_shared_targets_and_follows_them() {
    for s in SITES.iter() {
        let path = s.dir.join(format!("{}-acuerdo.json", s.db.label));
        let agreement = serde_json::json!({
            "title": "Acuerdo por la niñez de Villeta", "territory": "1116", "parties": ["MEC", "MSPBS"],
            "period_from": "01/01/2027", "period_to": "31/12/2028", "signed_on": "15/11/2026",
            "commitments": [{"kind": "operativo", "institution": "MSPBS", "description": "Vacunación en escuelas"}],
            "targets": [{"territory": "1116", "logro": 4, "year": 2029}],
        });
        std::fs::write(&path, agreement.to_string()).unwrap();
        let p = path.display().to_string();
        let o = s.run_as(
            "plan",
            &["management-agreements", "save", "--db", s.url(), &p],
        );
        assert!(!o.status.success());
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("no hay meta compartida"),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        s.ok(
            "plan",
            &[
                "targets",
                "set",
                "--db",
                s.url(),
                "--territory",
                "1116",
                "--logro",
                "4",
                "--year",
                "2029",
                "--coverage",
                "0.8",
            ],
        );
        let out = s.ok(
            "plan",
            &["management-agreements", "save", "--db", s.url(), &p],
        );
        let id = out
            .split_whitespace()
            .find_map(|w| w.parse::<i64>().ok())
            .unwrap()
            .to_string();
        let v = s.json(
            "auto",
            &[
                "management-agreements",
                "show",
                "--db",
                s.url(),
                &id,
                "--format",
                "json",
            ],
        );
        assert_eq!(v["status"], "firmado", "signed, its period not yet begun");
        let t = &v["targets"][0];
        assert_eq!(t["coverage"], 0.8);
        let logros = s.json(
            "plan",
            &[
                "logros",
                "--db",
                s.url(),
                "--territory",
                "1116",
                "--format",
                "json",
            ],
        );
        let four = logros["logros"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["logro"] == 4)
            .unwrap();
        assert!(
            (t["progress"]["current"].as_f64().unwrap() - four["coverage"].as_f64().unwrap()).abs()
                < 1e-3,
            "{t}"
        );
        assert_eq!(
            t["progress"]["reaches"],
            Value::Null,
            "one measurement: no trend"
        );
        // A commitment of an institution outside the parties is refused.
        let mut bad = agreement.clone();
        bad["commitments"][0]["institution"] = "MDS".into();
        std::fs::write(&path, bad.to_string()).unwrap();
        let o = s.run_as(
            "plan",
            &["management-agreements", "save", "--db", s.url(), &p],
        );
        assert!(String::from_utf8_lossy(&o.stderr).contains("no es parte del acuerdo"));
    }
}

#[test]
fn authorities_read_plans_and_budgets_but_only_planners_edit_them() {
    for s in SITES.iter() {
        let path = s.file("autoridad.xlsx");
        write_plan(&path, &illustrative());
        for (who, args) in [
            (
                "auto",
                vec!["plan", "import", "--db", s.url(), path.as_str()],
            ),
            (
                "mesa",
                vec!["plan", "import", "--db", s.url(), path.as_str()],
            ),
            (
                "auto",
                vec![
                    "cost",
                    "--db",
                    s.url(),
                    "--territory",
                    "1116",
                    "--logro",
                    "4",
                    "--target",
                    "0.8",
                    "--by",
                    "2028",
                    "--save",
                    "x",
                ],
            ),
            ("mesa", vec!["plan", "list", "--db", s.url()]),
            ("mesa", vec!["budget", "show", "--db", s.url()]),
        ] {
            let o = s.run_as(who, &args);
            assert!(!o.status.success(), "{who} {args:?} was allowed");
            assert!(
                String::from_utf8_lossy(&o.stderr).contains("no permite"),
                "{who} {args:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        s.ok("auto", &["plan", "list", "--db", s.url()]);
        s.ok("auto", &["management-agreements", "list", "--db", s.url()]);
    }
}

#[test]
fn the_shipped_illustrative_workbook_is_the_illustrative_plan() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/planning/marco_estrategico_ilustrativo.xlsx");
    let (read, _, problems) = vamos_app::plans::xlsx::read(&shipped).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    let mut expected = illustrative();
    // Read back from a workbook, objectives carry no category when specific (and so on): compare
    // what the workbook holds.
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("fresco.xlsx");
    write_plan(&fresh.display().to_string(), &expected);
    let (again, _, _) = vamos_app::plans::xlsx::read(&fresh).unwrap();
    expected = again;
    assert_eq!(read, expected, "regenerate it: vamos plan template --illustrative --out data/planning/marco_estrategico_ilustrativo.xlsx");
}
