//! Costing from targets (issue 38), on every backend, through `vamos cost` and the use case: the
//! identities a planner relies on — cost = Σ units × unit cost (× overhead and indexation); a
//! department's cost = Σ its districts'; a target at or below the baseline costs nothing;
//! doubling a unit cost doubles that service's cost — and the path in equal yearly steps.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{init_db, synth_pilots, vamos};
use serde_json::Value;
use std::path::PathBuf;
use vamos_store::testing::{all_dbs, TestDb};

struct Site {
    db: TestDb,
    dir: PathBuf,
}

static SITES: std::sync::LazyLock<Vec<Site>> = std::sync::LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap().keep();
    synth_pilots(&dir, "300", "38");
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
            ] {
                let o = vamos(&args, &dir, &[]);
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
    fn cost(&self, territory: &str, logro: &str, target: &str, extra: &[&str]) -> Value {
        let mut args = vec![
            "cost",
            "--db",
            &self.db.url,
            "--territory",
            territory,
            "--logro",
            logro,
            "--target",
            target,
            "--by",
            "2028",
            "--format",
            "json",
        ];
        args.extend(extra);
        let o = vamos(&args, &self.dir, &[]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    }
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap()
}

#[test]
fn the_cost_is_the_sum_of_units_times_unit_costs_per_service_and_year() {
    for s in SITES.iter() {
        let c = s.cost("1116", "9", "0.9", &[]);
        assert!(int(&c["units_to_protect"]) > 0, "{}: {c}", s.db.label);
        let mut total = 0;
        for sv in c["by_service"].as_array().unwrap() {
            assert_eq!(
                int(&sv["cost"]),
                int(&sv["units"]) * int(&sv["unit_cost"]),
                "{sv}"
            );
            total += int(&sv["cost"]);
        }
        assert_eq!(int(&c["total_cost"]), total, "{}", s.db.label);
        // Equal steps: two years, each about half of the units, the last one at the target.
        let years = c["by_year"].as_array().unwrap();
        assert_eq!(years.len(), 2, "2027 and 2028");
        let units: i64 = years.iter().map(|y| int(&y["units"])).sum();
        assert_eq!(units, int(&c["units_to_protect"]));
        assert!(
            years[1]["coverage"].as_f64().unwrap() >= 0.9 - 1e-9
                || int(&c["unreachable_units"]) > 0
        );
        let yearly: i64 = years.iter().map(|y| int(&y["cost"])).sum();
        assert!(
            (yearly - total).abs() <= 2,
            "rounding only: {yearly} vs {total}"
        );
        assert!(c["catalogue_version"]
            .as_str()
            .unwrap()
            .starts_with("sha256:"));
        assert_eq!(c["baseline"]["measurement"], 1);
    }
}

#[test]
fn overhead_and_indexation_multiply_each_years_cost() {
    for s in SITES.iter() {
        let plain = s.cost("1116", "9", "0.9", &[]);
        let more = s.cost(
            "1116",
            "9",
            "0.9",
            &["--overhead", "0.1", "--indexation", "0.05"],
        );
        for (a, b) in plain["by_year"]
            .as_array()
            .unwrap()
            .iter()
            .zip(more["by_year"].as_array().unwrap())
        {
            let year = int(&a["year"]) - 2026;
            let expected = int(&a["cost"]) as f64 * 1.1 * 1.05f64.powi(year as i32);
            assert!((int(&b["cost"]) as f64 - expected).abs() <= 2.0, "{a} {b}");
        }
    }
}

#[test]
fn a_departments_cost_is_the_sum_of_its_districts() {
    for s in SITES.iter() {
        // Central (11) holds pilot districts; each gets the target.
        let dept = s.cost("11", "7", "0.8", &[]);
        let mut sum = 0;
        let mut districts = 0;
        for d in vamos_domain::Territory::official().districts() {
            if d.code.department().get() != 11 {
                continue;
            }
            let o = vamos(
                &[
                    "cost",
                    "--db",
                    &s.db.url,
                    "--territory",
                    &d.code.to_string(),
                    "--logro",
                    "7",
                    "--target",
                    "0.8",
                    "--by",
                    "2028",
                    "--format",
                    "json",
                ],
                &s.dir,
                &[],
            );
            if o.status.success() {
                let c: Value = serde_json::from_slice(&o.stdout).unwrap();
                sum += int(&c["total_cost"]);
                districts += usize::from(c["districts"].as_u64().unwrap() > 0);
            }
        }
        assert!(
            districts > 0,
            "{}: no district of Central has data",
            s.db.label
        );
        assert_eq!(int(&dept["total_cost"]), sum, "{}", s.db.label);
    }
}

#[test]
fn a_target_at_or_below_the_baseline_costs_nothing() {
    for s in SITES.iter() {
        let c = s.cost("1116", "9", "0.0", &[]);
        assert_eq!(int(&c["units_to_protect"]), 0);
        assert_eq!(int(&c["total_cost"]), 0);
        let now = c["baseline"]["coverage"].as_f64().unwrap();
        let at = s.cost("1116", "9", &format!("{now}"), &[]);
        assert_eq!(int(&at["total_cost"]), 0, "{}: {at}", s.db.label);
    }
}

#[test]
fn doubling_a_unit_cost_doubles_that_services_cost() {
    for s in SITES.iter() {
        let mut store = s.db.open();
        let catalogue = vamos_app::measurements::load_catalogue(None).unwrap();
        let (m, _) = store.measurement(None).unwrap().unwrap();
        let t = vamos_domain::TerritoryCode::parse("1116").unwrap();
        let (data, as_of, until) =
            vamos_app::measurements::registry_as_figures_stand(store.as_mut(), &m, t, 1).unwrap();
        let cls = vamos_engine::classify::Classifier::new(&catalogue, &data, as_of)
            .with_counter_referrals_until(until);
        let q = vamos_app::costing::CostQuery {
            territory: "1116".into(),
            logro: 9,
            target: 1.0,
            by: 2028,
            overhead: 0.0,
            indexation: 0.0,
            verification_cost: 0,
            measurement: None,
            options: Default::default(),
        };
        let run = |cat: &vamos_catalogue::Catalogue| {
            let costs = vamos_app::costing::unit_costs(cat);
            let all = vamos_engine::costing::gaps(&cls, &data, &costs);
            let mine: Vec<&vamos_engine::costing::Gap> = all
                .iter()
                .filter(|g| g.category == vamos_domain::services::Category::Hogares)
                .collect();
            vamos_app::costing::scenario(cat, &mine, &q, 2026).by_service
        };
        let before = run(&catalogue);
        let target = before.first().unwrap().service.clone();
        let mut doubled = catalogue.clone();
        for sv in &mut doubled.services {
            if sv.code == target {
                sv.unit_cost_pyg *= 2;
            }
        }
        let after = run(&doubled);
        for (a, b) in before.iter().zip(&after) {
            if a.service == target {
                assert_eq!(b.cost, 2 * a.cost, "{}", s.db.label);
            } else {
                assert_eq!(b.cost, a.cost, "{}", s.db.label);
            }
        }
    }
}

#[test]
fn only_planners_set_targets_and_everyone_who_reads_logros_lists_them() {
    for s in SITES.iter() {
        let run = |user: &str, args: &[&str]| {
            let mut a = args.to_vec();
            a.extend(["--db", &s.db.url]);
            vamos(
                &a,
                &s.dir,
                &[("VAMOS_USER", user), ("VAMOS_PASSWORD", common::PW)],
            )
        };
        for (name, role) in [("plan_ana", "analista"), ("plan_mesa", "mesa")] {
            let mut args = vec!["user", "create", name, "--role", role];
            if role == "mesa" {
                args.extend(["--territories", "1116"]);
            }
            let _ = run("", &args);
        }
        let set = [
            "targets",
            "set",
            "--territory",
            "1116",
            "--logro",
            "4",
            "--year",
            "2028",
            "--coverage",
            "0.7",
        ];
        let refused = run("plan_mesa", &set);
        assert!(
            !refused.status.success(),
            "{}: a Mesa sets no target",
            s.db.label
        );
        assert!(String::from_utf8_lossy(&refused.stderr).contains("no permite definir las metas"));
        assert!(run("plan_ana", &set).status.success(), "{}", s.db.label);
        let listed = run("plan_mesa", &["targets", "list", "--format", "json"]);
        let v: Value = serde_json::from_slice(&listed.stdout).unwrap();
        assert!(
            v.as_array()
                .unwrap()
                .iter()
                .any(|t| t["territory"] == "1116" && t["coverage"] == 0.7),
            "{v}"
        );
    }
}

#[test]
fn a_target_outside_zero_to_one_is_refused_for_one_scenario_and_for_a_sweep() {
    for s in SITES.iter() {
        for extra in [
            vec!["--logro", "9", "--by", "2028"],
            vec!["--sweep", "2027-2028"],
        ] {
            let mut args = vec![
                "cost",
                "--db",
                &s.db.url,
                "--territory",
                "1116",
                "--target",
                "7",
            ];
            args.extend(extra);
            let o = vamos(&args, &s.dir, &[]);
            assert!(!o.status.success(), "{}", s.db.label);
            assert!(
                String::from_utf8_lossy(&o.stderr).contains("la meta es una cobertura entre 0 y 1"),
                "{}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
}

#[test]
fn a_unit_cost_set_for_a_territory_prices_that_service_there() {
    for s in SITES.iter() {
        let mut store = s.db.open();
        let catalogue = vamos_app::measurements::load_catalogue(None).unwrap();
        let (m, _) = store.measurement(None).unwrap().unwrap();
        let t = vamos_domain::TerritoryCode::parse("1116").unwrap();
        let (data, as_of, until) =
            vamos_app::measurements::registry_as_figures_stand(store.as_mut(), &m, t, 1).unwrap();
        let cls = vamos_engine::classify::Classifier::new(&catalogue, &data, as_of)
            .with_counter_referrals_until(until);
        let all =
            vamos_engine::costing::gaps(&cls, &data, &vamos_app::costing::unit_costs(&catalogue));
        let mine: Vec<&vamos_engine::costing::Gap> = all
            .iter()
            .filter(|g| g.category == vamos_domain::services::Category::Hogares)
            .collect();
        let mut q = vamos_app::costing::CostQuery {
            territory: "1116".into(),
            logro: 9,
            target: 1.0,
            by: 2028,
            overhead: 0.0,
            indexation: 0.0,
            verification_cost: 0,
            measurement: None,
            options: Default::default(),
        };
        let before = vamos_app::costing::scenario(&catalogue, &mine, &q, 2026).by_service;
        let first = before.first().unwrap();
        let index = catalogue
            .services
            .iter()
            .position(|x| x.code == first.service)
            .unwrap();
        // Set for Villeta's department: it applies to Villeta.
        let dept = vamos_domain::TerritoryCode::parse("11").unwrap();
        q.options.unit_costs = vec![(index, dept, 2 * first.unit_cost)];
        let after = vamos_app::costing::scenario(&catalogue, &mine, &q, 2026).by_service;
        for (a, b) in before.iter().zip(&after) {
            if a.service == first.service {
                assert_eq!(b.cost, 2 * a.cost, "{}", s.db.label);
                assert_eq!(b.unit_cost, 2 * a.unit_cost);
            } else {
                assert_eq!(b.cost, a.cost, "{}", s.db.label);
            }
        }
        // Set for another department: Villeta keeps the catalogue's.
        q.options.unit_costs = vec![(index, vamos_domain::TerritoryCode::parse("02").unwrap(), 1)];
        assert_eq!(
            vamos_app::costing::scenario(&catalogue, &mine, &q, 2026).by_service,
            before
        );
    }
}

#[test]
fn choices_paths_and_pools_keep_the_costing_sound() {
    for s in SITES.iter() {
        let base = s.cost("PY", "7", "0.8", &[]);
        // Everyone: every choice protects every unit at the same cost.
        let all = s.cost("PY", "7", "1.0", &[]);
        for extra in [&["--selection", "proporcional"][..], &["--pool"][..]] {
            let c = s.cost("PY", "7", "1.0", extra);
            assert_eq!(c["units_to_protect"], all["units_to_protect"], "{extra:?}");
            assert!(
                (int(&c["total_cost"]) - int(&all["total_cost"])).abs()
                    <= 2 * c["by_service"].as_array().unwrap().len() as i64,
                "{extra:?}"
            );
        }
        // In proportion costs at least what the cheapest units cost.
        let share = s.cost("PY", "7", "0.8", &["--selection", "proporcional"]);
        assert_eq!(share["units_to_protect"], base["units_to_protect"]);
        assert!(
            int(&share["total_cost"]) >= int(&base["total_cost"]),
            "{}",
            s.db.label
        );
        // One pool: the cheapest units anywhere cost no more, for no more units.
        let pool = s.cost("PY", "7", "0.8", &["--pool"]);
        if int(&pool["units_to_protect"]) <= int(&base["units_to_protect"]) {
            assert!(
                int(&pool["total_cost"]) <= int(&base["total_cost"]),
                "{}",
                s.db.label
            );
        }
        // More at the start: the first year protects at least the equal step's units; the
        // same units overall.
        let early = s.cost("PY", "7", "0.8", &["--path", "al_inicio"]);
        let late = s.cost("PY", "7", "0.8", &["--path", "al_final"]);
        let first = |c: &Value| int(&c["by_year"][0]["units"]);
        assert!(first(&early) >= first(&base) && first(&base) >= first(&late));
        for c in [&early, &late] {
            assert_eq!(c["units_to_protect"], base["units_to_protect"]);
        }
        // An unknown word is refused.
        let o = vamos(
            &[
                "cost",
                "--db",
                &s.db.url,
                "--territory",
                "PY",
                "--logro",
                "7",
                "--target",
                "0.8",
                "--by",
                "2028",
                "--path",
                "rapido",
            ],
            &s.dir,
            &[],
        );
        assert!(!o.status.success());
        assert!(String::from_utf8_lossy(&o.stderr).contains("camino desconocido"));
    }
}
