//! Multidimensional poverty (issue 39): `vamos ipm compute` on a table of deprivations gives the
//! hand-worked Alkire–Foster figures (bad cells named with file, row, column and value); over a
//! classified registry, `vamos ipm` gives the acceptance fields and identities, agrees with the
//! exported matrix, rolls departments up from households, takes other cut-offs, keeps each
//! account to its scope, and a household's profile needs poverty in the agreement — with an
//! indicator withheld when its rule reads an answer the agreement leaves out.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use common::vamos;
use serde_json::Value;

const METHOD: &str = r#"
version = "prueba"
k = 0.5
[[dimension]]
code = "D1"
name = "Primera"
weight = 0.5
[[dimension]]
code = "D2"
name = "Segunda"
weight = 0.5
[[indicator]]
code = "a"
name = "a"
dimension = "D1"
weight_in_dimension = 0.5
[[indicator]]
code = "b"
name = "b"
dimension = "D1"
weight_in_dimension = 0.5
[[indicator]]
code = "c"
name = "c"
dimension = "D2"
weight_in_dimension = 1.0
"#;

#[test]
fn a_table_of_deprivations_gives_the_hand_worked_figures() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("metodo.toml"), METHOD).unwrap();
    std::fs::write(
        d.path().join("privaciones.csv"),
        "a,b,c,weight\n1,0,1,2\n1,0,0,1\n0,0,1,1\n0,0,0,4\n",
    )
    .unwrap();
    let o = vamos(
        &[
            "ipm",
            "compute",
            "--method",
            "metodo.toml",
            "--input",
            "privaciones.csv",
            "--format",
            "json",
        ],
        d.path(),
        &[],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let f = |v: &Value| v.as_f64().unwrap();
    assert!((f(&r["H"]) - 0.375).abs() < 1e-12, "{r}");
    assert!((f(&r["A"]) - 2.0 / 3.0).abs() < 1e-12);
    assert!((f(&r["M0"]) - 0.25).abs() < 1e-12);
    assert!((f(&r["indicators"][0]["censored"]) - 0.25).abs() < 1e-12);
    assert!((f(&r["indicators"][0]["uncensored"]) - 0.375).abs() < 1e-12);
    // A cell that is not 1, 0 or empty is named.
    std::fs::write(d.path().join("mala.csv"), "a,b,c\n1,si,0\n").unwrap();
    let o = vamos(
        &[
            "ipm",
            "compute",
            "--method",
            "metodo.toml",
            "--input",
            "mala.csv",
        ],
        d.path(),
        &[],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("fila 2, columna «b», valor «si»"), "{err}");
}

/// The pilot districts, imported and classified once per store.
struct Site {
    db: vamos_store::testing::TestDb,
    dir: std::path::PathBuf,
}

static SITES: std::sync::LazyLock<Vec<Site>> = std::sync::LazyLock::new(|| sites(false));

/// The same pilots classified by a catalogue that decides poverty by the IPM (`cat_ipm`), with
/// their referrals generated.
static IPM_SITES: std::sync::LazyLock<Vec<Site>> = std::sync::LazyLock::new(|| sites(true));

/// The pilots imported and classified on each store — by the IPM when `by_ipm`.
fn sites(by_ipm: bool) -> Vec<Site> {
    let dir = tempfile::tempdir().unwrap().keep();
    common::synth_pilots(&dir, "400", "39");
    if by_ipm {
        let cat = dir.join("cat_ipm");
        std::fs::create_dir_all(cat.join("servicios")).unwrap();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../catalogue/default");
        for entry in walk(&root) {
            let rel = entry.strip_prefix(&root).unwrap();
            std::fs::copy(&entry, cat.join(rel)).unwrap();
        }
        let meta = cat.join("catalogo.toml");
        let text = std::fs::read_to_string(&meta).unwrap();
        assert!(text.contains("\npobreza = \"ingreso\""));
        std::fs::write(
            &meta,
            text.replace("\npobreza = \"ingreso\"", "\npobreza = \"ipm\""),
        )
        .unwrap();
    }
    let with_catalogue = |mut args: Vec<String>| {
        if by_ipm {
            args.extend(["--catalogue".to_string(), "cat_ipm".to_string()]);
        }
        args
    };
    vamos_store::testing::all_dbs()
        .into_iter()
        .map(|db| {
            let url = db.url.clone();
            common::init_db(&url, &dir);
            let mut steps = vec![
                [
                    "import",
                    "fips",
                    "--db",
                    &url,
                    "datos",
                    "--date",
                    "2026-11-01",
                ]
                .map(String::from)
                .to_vec(),
                with_catalogue(
                    ["classify", "--db", &url, "--as-of", "2026-11-01"]
                        .map(String::from)
                        .to_vec(),
                ),
            ];
            if by_ipm {
                steps.push(with_catalogue(
                    ["referrals", "generate", "--db", &url]
                        .map(String::from)
                        .to_vec(),
                ));
            }
            for args in steps {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let o = vamos(&args, &dir, &[]);
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            }
            accounts(&url, &dir);
            Site {
                db,
                dir: dir.clone(),
            }
        })
        .collect()
}

/// Every file under `root`.
fn walk(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(root).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The accounts of the tests: an analyst, Villeta's Mesa and orientador, and three operators
/// of Villeta — MSPBS's agreement leaves poverty out, MEC's lists it, MDS's lists it with every
/// answer the index reads.
fn accounts(url: &str, dir: &std::path::Path) {
    let every = format!(
        "id,given_names,family_names,district_code,pobreza,{}",
        vamos_app::ipm_method::fields_read().unwrap().join(",")
    );
    for (name, role, territories) in [
        ("ipm_ana", "analista", ""),
        ("ipm_mesa", "mesa", "1116"),
        ("ipm_orienta", "orientador", "1116"),
    ] {
        let mut args = vec!["user", "create", "--db", url, name, "--role", role];
        if !territories.is_empty() {
            args.extend(["--territories", territories]);
        }
        let o = vamos(&args, dir, &[("VAMOS_PASSWORD", common::PW)]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    for (user, inst, fields) in [
        (
            "ipm_mspbs",
            "MSPBS",
            "id,given_names,family_names,district_code",
        ),
        (
            "ipm_mec",
            "MEC",
            "id,given_names,family_names,district_code,pobreza",
        ),
        ("ipm_mds", "MDS", every.as_str()),
    ] {
        for args in [
            vec![
                "user",
                "create",
                "--db",
                url,
                user,
                "--role",
                "operador",
                "--institution",
                inst,
                "--territories",
                "1116",
            ],
            vec![
                "agreement",
                "create",
                "--db",
                url,
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
            ],
        ] {
            let o = vamos(&args, dir, &[("VAMOS_PASSWORD", common::PW)]);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
    }
}

impl Site {
    /// `vamos <args> --db <url>` as `user` (the operator when empty).
    fn run(&self, user: &str, args: &[&str]) -> std::process::Output {
        let mut a = args.to_vec();
        a.extend(["--db", &self.db.url]);
        let env: Vec<(&str, &str)> = if user.is_empty() {
            Vec::new()
        } else {
            vec![("VAMOS_USER", user)]
        };
        vamos(&a, &self.dir, &env)
    }

    fn json(&self, user: &str, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["--format", "json"]);
        let o = self.run(user, &a);
        assert!(
            o.status.success(),
            "{}: {}",
            self.db.label,
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice(&o.stdout).unwrap()
    }
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

#[test]
fn the_registry_index_has_the_acceptance_fields_and_the_alkire_foster_identities() {
    for s in SITES.iter() {
        let r = s.json("", &["ipm"]);
        assert!(
            r["method_version"]
                .as_str()
                .unwrap()
                .starts_with("INE-IPM-2021"),
            "{r}"
        );
        assert!((f(&r["k"]) - 0.26).abs() < 1e-12);
        assert_eq!(r["territory"], "PY");
        let (h, a, m0) = (f(&r["H"]), f(&r["A"]), f(&r["M0"]));
        assert!(
            h > 0.0 && h < 1.0 && a >= 0.26,
            "{}: H {h} A {a}",
            s.db.label
        );
        assert!((m0 - h * a).abs() < 1e-12, "M0 = H × A");
        let inds = r["indicators"].as_array().unwrap();
        assert_eq!(inds.len(), 15);
        let sum: f64 = inds.iter().map(|i| f(&i["contribution"])).sum();
        assert!(
            (sum - m0).abs() < 1e-12,
            "M0 = Σ weight × censored headcount"
        );
        for i in inds {
            assert!(f(&i["censored"]) <= f(&i["uncensored"]) + 1e-12, "{i}");
            assert!(i["dimension"].is_string() && i["weight"].is_number(), "{i}");
        }
        let missing = f(&r["missing_share"]);
        assert!((0.0..0.2).contains(&missing), "{missing}");
        assert!(r["measurement"]["synthetic"].as_bool().unwrap());
    }
}

#[test]
fn the_deprivation_matrix_recomputed_by_the_method_file_gives_the_stored_figures() {
    let method = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../catalogue/ipm/ine_paraguay.toml");
    for s in SITES.iter() {
        let matrix = s.dir.join(format!("matriz-{}.csv", s.db.label));
        let o = s.run("", &["ipm", "matrix", "--out", matrix.to_str().unwrap()]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let text = std::fs::read_to_string(&matrix).unwrap();
        let header = text.lines().next().unwrap();
        // No identifier leaves: the columns are the district, the area, counts and indicators.
        let columns: Vec<&str> = header.split(',').collect();
        assert_eq!(
            columns[..8],
            [
                "distrito",
                "area",
                "personas",
                "ninos",
                "mujeres",
                "adultos_mayores",
                "discapacidad",
                "indigenas"
            ]
        );
        assert_eq!(columns.len(), 8 + 15, "{header}");
        assert!(!text.contains("uuid"), "no submission key");
        let o = vamos(
            &[
                "ipm",
                "compute",
                "--method",
                method.to_str().unwrap(),
                "--input",
                matrix.to_str().unwrap(),
                "--format",
                "json",
            ],
            &s.dir,
            &[],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let from_matrix: Value = serde_json::from_slice(&o.stdout).unwrap();
        let stored = s.json("", &["ipm"]);
        for key in ["H", "A", "M0", "missing_share"] {
            assert!(
                (f(&from_matrix[key]) - f(&stored[key])).abs() < 1e-12,
                "{}: {key} {} vs {}",
                s.db.label,
                from_matrix[key],
                stored[key]
            );
        }
    }
}

#[test]
fn a_department_rolls_up_from_its_households_not_from_an_average_of_district_ratios() {
    for s in SITES.iter() {
        let nation = s.json("", &["ipm"]);
        let dept = s.json("", &["ipm", "--territory", "11"]);
        let listed = nation["territories"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["territory"] == "11")
            .unwrap();
        assert!((f(&listed["H"]) - f(&dept["H"])).abs() < 1e-12);
        // The department's incidence is its districts' poor persons over their persons.
        let districts = dept["territories"].as_array().unwrap();
        let persons: f64 = districts.iter().map(|d| f(&d["persons"])).sum();
        let poor: f64 = districts
            .iter()
            .map(|d| f(&d["H"]) * f(&d["persons"]))
            .sum();
        assert!(persons > 0.0);
        assert!(
            (poor / persons - f(&dept["H"])).abs() < 1e-9,
            "{}",
            s.db.label
        );
    }
}

#[test]
fn another_cut_off_changes_the_figures_and_robustness_lists_each_cut_off() {
    for s in SITES.iter() {
        let at_26 = s.json("", &["ipm"]);
        let at_50 = s.json("", &["ipm", "--k", "0.5", "--k-list", "0.26,0.5"]);
        assert!((f(&at_50["k"]) - 0.5).abs() < 1e-12);
        assert!(f(&at_50["H"]) <= f(&at_26["H"]));
        let rob = at_50["robustness"].as_array().unwrap();
        assert_eq!(rob.len(), 2);
        assert!((f(&rob[0]["H"]) - f(&at_26["H"])).abs() < 1e-12);
        let refused = s.run("", &["ipm", "--k", "1.5"]);
        assert!(!refused.status.success());
        assert!(String::from_utf8_lossy(&refused.stderr).contains("k debe estar entre 0 y 1"));
        let changed = s.json("", &["ipm", "--compare", "1"]);
        assert_eq!(
            f(&changed["change"]["H"]["absolute"]),
            0.0,
            "the same measurement"
        );
    }
}

#[test]
fn a_mesa_reads_the_index_of_its_district_only_and_only_who_loads_the_registry_exports_the_matrix()
{
    for s in SITES.iter() {
        let own = s.json("ipm_mesa", &["ipm", "--territory", "1116"]);
        assert_eq!(own["territory"], "1116");
        for other in ["PY", "11", "1602"] {
            let o = s.run("ipm_mesa", &["ipm", "--territory", other]);
            assert!(!o.status.success(), "{}: {other}", s.db.label);
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(err.contains("fuera de su ámbito"), "{err}");
            assert!(!err.contains("\"H\""), "no figure in the refusal");
        }
        let o = s.run("ipm_mesa", &["ipm", "--csv", "-"]);
        assert!(
            !o.status.success(),
            "the table of every territory is national"
        );
        let o = s.run("ipm_orienta", &["ipm", "--territory", "1116"]);
        assert!(
            !o.status.success(),
            "an orientadora reads no internal figures"
        );
        let out = s.dir.join(format!("m-mesa-{}.csv", s.db.label));
        let o = s.run(
            "ipm_mesa",
            &["ipm", "matrix", "--out", out.to_str().unwrap()],
        );
        assert!(!o.status.success(), "a Mesa does not load the registry");
        assert!(!out.exists(), "a refused export leaves no file");
        // The analyst who classifies may, and it is audited.
        let out = s.dir.join(format!("m-ana-{}.csv", s.db.label));
        let o = s.run(
            "ipm_ana",
            &["ipm", "matrix", "--out", out.to_str().unwrap()],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let audit = s.run("", &["audit", "export"]);
        let text = String::from_utf8_lossy(&audit.stdout);
        assert!(
            text.contains("matriz de privaciones del IPM") && text.contains("ipm_ana"),
            "{text}"
        );
    }
}

#[test]
fn the_table_of_every_territory_is_a_neutralised_csv_with_the_nation_first() {
    for s in SITES.iter() {
        let o = s.run("", &["ipm", "--csv", "-"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let text = String::from_utf8(o.stdout).unwrap();
        let mut lines = text.lines();
        assert!(lines
            .next()
            .unwrap()
            .starts_with("medicion,fecha_referencia,sintetico,territorio"));
        assert!(lines.next().unwrap().contains(",PY,Paraguay,nación,"));
        assert!(
            text.lines().any(|l| l.contains(",1116,")),
            "a pilot district"
        );
        assert!(!text
            .lines()
            .any(|l| l.split(',').any(|c| c.starts_with('='))));
    }
}

impl Site {
    /// A household of Villeta (1116) and one elsewhere, found by the operator's profile.
    fn households(&self) -> (i64, i64) {
        let (mut inside, mut outside) = (None, None);
        for id in (1..420).step_by(7) {
            let o = self.run("", &["ipm", "household", &id.to_string()]);
            if !o.status.success() {
                continue;
            }
            let v: Value = serde_json::from_slice(&o.stdout).unwrap();
            if v["district"] == 1116 {
                inside.get_or_insert(id);
            } else {
                outside.get_or_insert(id);
            }
            if inside.is_some() && outside.is_some() {
                break;
            }
        }
        (inside.unwrap(), outside.unwrap())
    }
}

#[test]
fn a_households_profile_explains_each_indicator_and_its_score_decides_poverty() {
    for s in SITES.iter() {
        let (id, _) = s.households();
        let o = s.run("ipm_ana", &["ipm", "household", &id.to_string()]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        let inds = v["indicators"].as_array().unwrap();
        assert_eq!(inds.len(), 15);
        assert!(inds
            .iter()
            .all(|i| !i["explanation"].as_str().unwrap().is_empty()));
        let known: f64 = inds
            .iter()
            .filter(|i| i["deprived"] == true)
            .map(|i| f(&i["weight"]))
            .sum();
        if inds.iter().all(|i| i["deprived"].is_boolean()) {
            assert!((known - f(&v["score"])).abs() < 1e-12);
            assert_eq!(v["poor"].as_bool().unwrap(), known + 1e-12 >= 0.26);
        } else {
            // A sin dato leaves the score unknown; only deprivations known to reach k decide.
            assert!(v["score"].is_null());
            assert_eq!(v["poor"].as_bool(), (known + 1e-12 >= 0.26).then_some(true));
        }
    }
}

#[test]
fn the_profile_needs_poverty_in_the_agreement_and_a_household_in_scope() {
    for s in SITES.iter() {
        let (inside, outside) = s.households();
        let profile = |user: &str, id: i64| s.run(user, &["ipm", "household", &id.to_string()]);
        let refused = profile("ipm_mspbs", inside);
        assert!(!refused.status.success());
        let err = String::from_utf8_lossy(&refused.stderr);
        assert!(err.contains("no incluye la pobreza"), "{err}");
        assert!(
            refused.stdout.is_empty() && !err.contains("score"),
            "nothing of the profile"
        );
        let seen = profile("ipm_mec", inside);
        assert!(
            seen.status.success(),
            "{}",
            String::from_utf8_lossy(&seen.stderr)
        );
        // MEC's agreement lists poverty but no answer behind the indicators (illness, work,
        // school…) nor the birth date behind every age: each indicator reading one is withheld,
        // and so is the score, which would tell them.
        let v: Value = serde_json::from_slice(&seen.stdout).unwrap();
        let ill = v["indicators"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["indicator"] == "sin_atencion_salud")
            .unwrap();
        assert_eq!(ill["withheld"], true, "{ill}");
        assert!(
            ill["deprived"].is_null() && ill["members_deprived"].as_array().unwrap().is_empty()
        );
        assert!(v["score"].is_null() && v["score_withheld"] == true);
        // Outside Villeta, or no such household: refused as the registry refuses a household
        // (audited), with nothing of the profile.
        for user in ["ipm_mec", "ipm_mspbs"] {
            for id in [outside, 99_999_999] {
                let o = profile(user, id);
                assert!(!o.status.success() && o.stdout.is_empty(), "{user} {id}");
                let err = String::from_utf8_lossy(&o.stderr);
                assert!(
                    !err.contains("score") && !err.contains("indicator"),
                    "{err}"
                );
            }
        }
    }
}

#[test]
fn the_population_pobreza_follows_the_ipm_when_the_catalogue_chooses_it() {
    for (by_income, by_ipm) in SITES.iter().zip(IPM_SITES.iter()) {
        // Logro 9 counts every household: its «pobreza» breakdown is the households found poor.
        let poor_households = |s: &Site| -> i64 {
            let v = s.json("", &["logros"]);
            let l = v["logros"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["logro"] == 9)
                .unwrap()
                .clone();
            assert_eq!(l["identified"], 400, "{}", s.db.label);
            l["breakdowns"]["pobreza"]["identified"].as_i64().unwrap()
        };
        let ipm = by_ipm.json("", &["ipm"]);
        let h = &ipm["households"];
        assert_eq!(ipm["missing_share"], 0.0);
        let expected = (f(&h["H"]) * f(&ipm["units"])).round() as i64;
        assert_eq!(poor_households(by_ipm), expected, "{}", by_ipm.db.label);
        assert_ne!(
            poor_households(by_income),
            expected,
            "the income line and the IPM find different households in these pilots"
        );
    }
}

#[test]
fn the_sql_of_a_catalogue_choosing_the_ipm_warns_that_it_leaves_poverty_unknown() {
    let s = &IPM_SITES[0];
    let sql = |dir: &str| {
        let o = vamos(
            &["catalogue", "sql", dir, "--as-of", "2026-11-01"],
            &s.dir,
            &[],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o
    };
    let o = sql("cat_ipm");
    assert!(String::from_utf8_lossy(&o.stderr).contains("IPM"));
    assert!(String::from_utf8_lossy(&o.stdout).contains("< NULL AS pobre"));
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../catalogue/default");
    let o = sql(root.to_str().unwrap());
    assert!(o.stderr.is_empty());
    assert!(String::from_utf8_lossy(&o.stdout).contains("< 900000 AS pobre"));
}

/// A household's poverty profile as the analyst reads it.
fn profile(s: &Site, id: i64) -> Value {
    let o = s.run("ipm_ana", &["ipm", "household", &id.to_string()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn the_canal_verde_poverty_criterion_flags_households_the_ipm_finds_poor() {
    for s in IPM_SITES.iter() {
        let v = s.json(
            "",
            &[
                "cases",
                "candidates",
                "--catalogue",
                "cat_ipm",
                "--territory",
                "1116",
                "--limit",
                "1000",
            ],
        );
        let flagged: Vec<i64> = v
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| {
                c["unit_kind"] == "hogar"
                    && c["reasons"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|r| r.as_str().unwrap().contains("pobreza"))
            })
            .map(|c| c["unit_id"].as_i64().unwrap())
            .collect();
        assert!(!flagged.is_empty(), "{}", s.db.label);
        for id in flagged {
            let p = profile(s, id);
            assert_eq!(p["poor"], true, "household {id} ({})", s.db.label);
        }
    }
}

#[test]
fn referrals_ordered_by_deprivation_need_poverty_in_the_agreement() {
    for s in IPM_SITES.iter() {
        let export = |user: &str, order: &str| {
            s.run(
                user,
                &[
                    "referrals",
                    "export",
                    "--institution",
                    match user {
                        "ipm_mds" => "MDS",
                        "ipm_mec" => "MEC",
                        _ => "MSPBS",
                    },
                    "--order",
                    order,
                    "--format",
                    "json",
                ],
            )
        };
        let o = export("ipm_mds", "privacion");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        let rows = v["referrals"].as_array().unwrap();
        let scores: Vec<Option<f64>> = rows
            .iter()
            .map(|r| r["deprivation_score"].as_f64())
            .collect();
        assert!(scores.iter().filter(|x| x.is_some()).count() > 1);
        let known: Vec<f64> = scores.iter().map_while(|x| *x).collect();
        assert!(
            known.windows(2).all(|w| w[0] >= w[1]),
            "highest first: {known:?}"
        );
        assert!(
            scores[known.len()..].iter().all(Option::is_none),
            "unknown last"
        );
        // The score of a household is its profile's.
        let r = rows
            .iter()
            .find(|r| r["household_id"].is_i64() && r["deprivation_score"].is_f64())
            .unwrap();
        let p = profile(s, r["household_id"].as_i64().unwrap());
        assert!((f(&p["score"]) - f(&r["deprivation_score"])).abs() < 1e-4);

        // MSPBS's agreement leaves poverty out, MEC's the answers behind it (the score's sum of
        // weights would tell which): no order by it, no score in their rows.
        for user in ["ipm_mspbs", "ipm_mec"] {
            let refused = export(user, "privacion");
            assert!(!refused.status.success());
            let err = String::from_utf8_lossy(&refused.stderr);
            assert!(err.contains("debe incluir la pobreza"), "{err}");
            assert!(refused.stdout.is_empty());
            let o = export(user, "prioridad");
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let v: Value = serde_json::from_slice(&o.stdout).unwrap();
            let rows = v["referrals"].as_array().unwrap();
            assert!(!rows.is_empty(), "{user}");
            assert!(rows.iter().all(|r| r.get("deprivation_score").is_none()));
        }
    }
}
