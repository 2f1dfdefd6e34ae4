//! Record linkage on the registry (issue 40): `vamos import admin` links the records without a
//! cédula match and queues the doubtful ones; analysts decide the queue (API and web), each
//! decision kept as a label; `vamos linkage dedupe` proposes merges as change requests — on both
//! stores, with the attacks the queue must withstand: roles and tokens without the permission,
//! refusals that would tell whether a pair exists, decided pairs decided again, formulas in the
//! labels, markup in what the page shows, oversize settings.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use common::{call, login, vamos, PW};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The shipped settings with a link threshold so high that most links wait for review.
fn strict_settings(dir: &Path, version: &str) -> PathBuf {
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../data/linkage/settings/admin_registro.toml"),
    )
    .unwrap();
    assert!(shipped.contains("\nlink = 0.95\n") && shipped.contains("\nreview = 0.6\n"));
    let text = shipped
        .replace("\nlink = 0.95\n", "\nlink = 0.99999\n")
        .replace("\nreview = 0.6\n", "\nreview = 0.3\n")
        .replace(
            "version = \"admin-registro-2026.1\"",
            &format!("version = \"{version}\""),
        );
    let path = dir.join(format!("estricta-{}.toml", text.len()));
    std::fs::write(&path, text).unwrap();
    path
}

fn ok(o: &std::process::Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// A pilot population imported on a store: the survey, then the administrative files linked
/// by `settings` (the shipped ones when `None`), with the import's JSON.
struct Site {
    db: vamos_store::testing::TestDb,
    dir: PathBuf,
    import: Value,
}

fn site(db: vamos_store::testing::TestDb, settings: Option<&str>) -> Site {
    let dir = tempfile::tempdir().unwrap().keep();
    common::synth_pilots(&dir, "300", "40");
    let url = db.url.clone();
    common::init_db(&url, &dir);
    ok(&vamos(
        &[
            "import",
            "fips",
            "--db",
            &url,
            "datos/fips.csv",
            "datos/fips-miembros.csv",
            "--date",
            "2026-11-01",
        ],
        &dir,
        &[],
    ));
    let settings = settings.map(|v| strict_settings(&dir, v));
    let mut args = vec![
        "import",
        "admin",
        "--db",
        &url,
        "datos/admin",
        "--date",
        "2026-11-01",
        "--format",
        "json",
    ];
    if let Some(s) = &settings {
        args.extend(["--linkage-settings", s.to_str().unwrap()]);
    }
    let import: Value = serde_json::from_str(&ok(&vamos(&args, &dir, &[]))).unwrap();
    for (name, role, territories) in [("lnk_ana", "analista", ""), ("lnk_mesa", "mesa", "1116")] {
        let mut args = vec!["user", "create", "--db", &url, name, "--role", role];
        if !territories.is_empty() {
            args.extend(["--territories", territories]);
        }
        ok(&vamos(&args, &dir, &[("VAMOS_PASSWORD", PW)]));
    }
    Site { db, dir, import }
}

/// Pilots linked by the shipped model.
static SHIPPED: std::sync::LazyLock<Vec<Site>> = std::sync::LazyLock::new(|| {
    vamos_store::testing::all_dbs()
        .into_iter()
        .map(|db| site(db, None))
        .collect()
});

/// A model version written as a formula, as a hostile settings file could (TOML-escaped).
const HOSTILE_VERSION: &str = "=HYPERLINK(\\\"http://x\\\")<b>v</b>";

/// Pilots linked by a model whose link threshold sends most links to review; its version is a
/// formula.
static QUEUED: std::sync::LazyLock<Vec<Site>> = std::sync::LazyLock::new(|| {
    vamos_store::testing::all_dbs()
        .into_iter()
        .map(|db| site(db, Some(HOSTILE_VERSION)))
        .collect()
});

fn check(s: &Site) -> Value {
    let o = vamos(
        &[
            "linkage",
            "check",
            "--db",
            &s.db.url,
            "--truth",
            "datos/verdad/enlace_admin.csv",
            "--format",
            "json",
        ],
        &s.dir,
        &[],
    );
    serde_json::from_str(&ok(&o)).unwrap()
}

#[test]
fn import_admin_links_records_without_a_cedula_match_at_high_precision() {
    for s in SHIPPED.iter() {
        let i = &s.import;
        let unmatched = i["records_unmatched"].as_u64().unwrap();
        let linked = i["records_linked"].as_u64().unwrap();
        assert!(unmatched > 0 && linked > 0, "{}: {i}", s.db.label);
        assert!(i["records_for_review"].is_u64(), "{i}");
        assert!(
            i["linkage_model"]
                .as_str()
                .unwrap()
                .starts_with("admin-registro-2026.1 · sha256:"),
            "{i}"
        );
        let c = check(s);
        // Before linking, the records without a cédula match were this share of all:
        let before = unmatched as f64 / c["records"].as_f64().unwrap();
        assert!(before > 0.25, "{}: {before} {c}", s.db.label);
        assert!(
            c["share_unmatched_or_in_review"].as_f64().unwrap() < 0.10,
            "{}: {c}",
            s.db.label
        );
        assert!(
            c["precision"].as_f64().unwrap() >= 0.99,
            "{}: {c}",
            s.db.label
        );
        assert_eq!(c["linked_by_model"].as_u64().unwrap(), linked, "{c}");
    }
}

#[test]
fn linking_again_finds_nothing_new_and_duplicates_nothing() {
    for s in SHIPPED.iter() {
        let before = check(s);
        let o = vamos(
            &["linkage", "admin", "--db", &s.db.url, "--format", "json"],
            &s.dir,
            &[],
        );
        let v: Value = serde_json::from_str(&ok(&o)).unwrap();
        assert_eq!(v["records_linked"], 0, "{}: {v}", s.db.label);
        assert_eq!(v["records_for_review"], 0, "{}: {v}", s.db.label);
        let after = check(s);
        let changed: Vec<String> = before
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, v)| after[k.as_str()] != **v)
            .map(|(k, v)| format!("{k}: {v} → {}", after[k.as_str()]))
            .collect();
        assert!(changed.is_empty(), "{}: {changed:?}", s.db.label);
    }
}

fn server_and(s: &Site, user: &str) -> (common::Server, common::Who) {
    let srv = common::start(&s.db.url, &s.dir);
    let who = login(&srv, user, PW);
    (srv, who)
}

#[test]
fn the_review_queue_lists_the_doubtful_pairs_likeliest_first() {
    for s in QUEUED.iter() {
        let queued = s.import["records_for_review"].as_u64().unwrap();
        assert!(queued > 0, "{}: {}", s.db.label, s.import);
        let (srv, who) = server_and(s, "lnk_ana");
        let (st, v, _) = call(&srv, &who, "get", "/api/linkage/reviews?estado=todos", None);
        assert_eq!(st, 200);
        // Every pair the import queued (other tests decide some of them meanwhile).
        assert_eq!(v["total"].as_u64().unwrap(), queued, "{}", s.db.label);
        let pairs = v["pares"].as_array().unwrap();
        assert!(!pairs.is_empty() && pairs.len() <= 25);
        let p: Vec<f64> = pairs
            .iter()
            .map(|x| x["probabilidad"].as_f64().unwrap())
            .collect();
        assert!(p.windows(2).all(|w| w[0] >= w[1]), "{p:?}");
        // Between the thresholds, or above both when two persons reach the link threshold.
        assert!(p.iter().all(|x| (0.3..=1.0).contains(x)), "{p:?}");
        let one = &pairs[0];
        assert!(one["registro"]["nombres"].is_string() && one["persona"]["id"].is_i64());
        // The waterfall explains the probability: prior and steps add up to the weight.
        let w = &one["cascada"];
        let sum: f64 = w["prior_weight"].as_f64().unwrap()
            + w["steps"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["weight"].as_f64().unwrap() + s["tf_adjustment"].as_f64().unwrap())
                .sum::<f64>();
        assert!((sum - w["weight"].as_f64().unwrap()).abs() < 1e-9, "{w}");
        assert_eq!(w["steps"].as_array().unwrap().len(), 6);
    }
}

/// The `n`-th likeliest pair of the queue as first built: each test decides its own pair, so
/// that tests running at once never decide the same one.
fn pending(srv: &common::Server, who: &common::Who, n: usize) -> Value {
    let (_, v, _) = call(srv, who, "get", "/api/linkage/reviews?estado=todos", None);
    let p = v["pares"][n].clone();
    assert!(p.is_object(), "fewer than {} pairs", n + 1);
    p
}

#[test]
fn accepting_a_pair_links_the_record_and_keeps_the_label() {
    for s in QUEUED.iter() {
        let (srv, who) = server_and(s, "lnk_ana");
        let before = check(s);
        let pair = pending(&srv, &who, 0);
        let id = pair["id"].as_i64().unwrap();
        let (st, v, _) = call(
            &srv,
            &who,
            "post",
            &format!("/api/linkage/reviews/{id}/accept"),
            None,
        );
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["estado"], "aceptado");
        assert!(v["decidido_por"].as_str().unwrap().starts_with("lnk_ana"));
        let after = check(s);
        assert_eq!(
            after["linked_by_review"].as_u64().unwrap(),
            before["linked_by_review"].as_u64().unwrap() + 1,
            "{after}"
        );
        assert_eq!(
            after["waiting_review"].as_u64().unwrap(),
            before["waiting_review"].as_u64().unwrap() - 1
        );
        let (st, csv, _) = call(&srv, &who, "get", "/api/linkage/labels", None);
        assert_eq!(st, 200);
        let csv = csv.as_str().unwrap();
        assert!(
            csv.lines()
                .any(|l| l.contains(",aceptado,")
                    && l.starts_with(&pair["registro"]["id"].to_string())),
            "{csv}"
        );
        let audit = ok(&vamos(&["audit", "export", "--db", &s.db.url], &s.dir, &[]));
        assert!(
            audit
                .lines()
                .any(|l| l.contains("decidir un par del enlace")
                    && l.contains(&format!(",\"{id}\","))),
            "{audit}"
        );
    }
}

#[test]
fn a_decided_pair_cannot_be_decided_again() {
    for s in QUEUED.iter() {
        let (srv, who) = server_and(s, "lnk_ana");
        let id = pending(&srv, &who, 1)["id"].as_i64().unwrap();
        let path = |a: &str| format!("/api/linkage/reviews/{id}/{a}");
        assert_eq!(call(&srv, &who, "post", &path("reject"), None).0, 200);
        let (st, v, _) = call(&srv, &who, "post", &path("accept"), None);
        assert_eq!(st, 409, "{v}");
        assert!(v.to_string().contains("ya fue decidido"), "{v}");
    }
}

#[test]
fn a_rejected_pair_is_never_linked_nor_proposed_again() {
    for db in vamos_store::testing::all_dbs() {
        // Its own pilots: linking again changes the queue the other tests read.
        let s = site(db, Some("rechazo-2026.1"));
        let (srv, who) = server_and(&s, "lnk_ana");
        let pair = pending(&srv, &who, 0);
        let (id, record) = (
            pair["id"].as_i64().unwrap(),
            pair["registro"]["id"].as_i64().unwrap(),
        );
        let (st, _, _) = call(
            &srv,
            &who,
            "post",
            &format!("/api/linkage/reviews/{id}/reject"),
            None,
        );
        assert_eq!(st, 200);
        // Linking again with a link threshold below the pair's probability: without the
        // rejection, the record would now link to that person.
        let text = std::fs::read_to_string(strict_settings(&s.dir, "rechazo-2026.1"))
            .unwrap()
            .replace("\nlink = 0.99999\n", "\nlink = 0.31\n");
        let low = s.dir.join("bajo.toml");
        std::fs::write(&low, text).unwrap();
        ok(&vamos(
            &[
                "linkage",
                "admin",
                "--db",
                &s.db.url,
                "--settings",
                low.to_str().unwrap(),
            ],
            &s.dir,
            &[],
        ));
        let mut store = s.db.open();
        let person = vamos_store::linkage::record_person(&mut store.db(), record).unwrap();
        assert_ne!(person, pair["persona"]["id"].as_i64(), "{}", s.db.label);
        // Nor is it linked to anyone else unseen: a record with a rejection goes to review.
        assert_eq!(person, None, "{}", s.db.label);
        let (_, v, _) = call(&srv, &who, "get", "/api/linkage/reviews?estado=todos", None);
        let total = v["total"].as_i64().unwrap();
        for page in 1..=(total + 24) / 25 {
            let (_, v, _) = call(
                &srv,
                &who,
                "get",
                &format!("/api/linkage/reviews?estado=todos&pagina={page}"),
                None,
            );
            for p in v["pares"].as_array().unwrap() {
                if p["registro"]["id"] == pair["registro"]["id"]
                    && p["persona"]["id"] == pair["persona"]["id"]
                {
                    assert_eq!(p["estado"], "rechazado", "{}", s.db.label);
                }
            }
        }
        std::fs::remove_dir_all(&s.dir).ok();
    }
}

#[test]
fn a_refusal_does_not_tell_whether_a_pair_exists() {
    for s in QUEUED.iter() {
        let (srv, ana) = server_and(s, "lnk_ana");
        let id = pending(&srv, &ana, 5)["id"].as_i64().unwrap();
        // A Mesa (territorial, without the permission): the same refusal for a real pair and
        // for one that does not exist.
        let mesa = login(&srv, "lnk_mesa", PW);
        let (st_real, real, _) = call(
            &srv,
            &mesa,
            "get",
            &format!("/api/linkage/reviews/{id}"),
            None,
        );
        let (st_none, none, _) = call(&srv, &mesa, "get", "/api/linkage/reviews/999999999", None);
        assert_eq!((st_real, st_none), (403, 403));
        assert_eq!(real["error"], none["error"]);
        // The analyst: a pair that does not exist is 404, named by its number only.
        let (st, v, _) = call(&srv, &ana, "get", "/api/linkage/reviews/999999999", None);
        assert_eq!(st, 404);
        assert_eq!(v["error"]["message"], "no existe el par 999999999");
        // A token of the analyst limited to reading the registry reviews nothing.
        let o = vamos(
            &[
                "token",
                "create",
                "--db",
                &s.db.url,
                "--user",
                "lnk_ana",
                "--name",
                "lector",
                "--days",
                "1",
                "--scopes",
                "registro:leer",
            ],
            &s.dir,
            &[],
        );
        let token = ok(&o).trim().to_string();
        let reader = common::Who {
            bearer: Some(token),
            ..Default::default()
        };
        let (st, _, _) = call(&srv, &reader, "get", "/api/linkage/reviews", None);
        assert_eq!(st, 403);
        let (st, _, _) = call(
            &srv,
            &reader,
            "post",
            &format!("/api/linkage/reviews/{id}/accept"),
            None,
        );
        assert_eq!(st, 403);
        let (_, v, _) = call(
            &srv,
            &ana,
            "get",
            &format!("/api/linkage/reviews/{id}"),
            None,
        );
        assert_eq!(v["estado"], "pendiente");
    }
}

#[test]
fn roles_without_the_review_permission_are_refused() {
    for s in QUEUED.iter() {
        let srv = common::start(&s.db.url, &s.dir);
        let mesa = login(&srv, "lnk_mesa", PW);
        for path in [
            "/api/linkage/reviews",
            "/api/linkage/reviews/1",
            "/api/linkage/labels",
        ] {
            let (st, v, _) = call(&srv, &mesa, "get", path, None);
            assert_eq!(st, 403, "{path}: {v}");
        }
        let (st, _, _) = call(&srv, &mesa, "post", "/api/linkage/reviews/1/accept", None);
        assert_eq!(st, 403);
        let (st, _, _) = call(
            &srv,
            &common::Who::default(),
            "get",
            "/api/linkage/reviews",
            None,
        );
        assert_eq!(st, 401);
    }
}

#[test]
fn the_labels_neutralise_a_formula_in_the_model_version() {
    for s in QUEUED.iter() {
        let (srv, who) = server_and(s, "lnk_ana");
        let id = pending(&srv, &who, 3)["id"].as_i64().unwrap();
        call(
            &srv,
            &who,
            "post",
            &format!("/api/linkage/reviews/{id}/reject"),
            None,
        );
        let (_, csv, _) = call(&srv, &who, "get", "/api/linkage/labels", None);
        let csv = csv.as_str().unwrap();
        assert!(csv.contains("'=HYPERLINK"), "{csv}");
        assert!(
            !csv.contains(",=HYPERLINK") && !csv.contains(",\"=HYPERLINK"),
            "{csv}"
        );
    }
}

#[test]
fn the_review_page_escapes_markup_in_names() {
    for s in QUEUED.iter() {
        let (srv, who) = server_and(s, "lnk_ana");
        let id = pending(&srv, &who, 4)["id"].as_i64().unwrap();
        let (st, html, _) = call(&srv, &who, "get", &format!("/enlace/{id}"), None);
        assert_eq!(st, 200);
        let html = html.as_str().unwrap();
        assert!(html.contains("Cómo se llegó a la probabilidad"), "{html}");
        assert!(html.contains("Aceptar: es la misma persona"));
        // The model version carries quotes, a formula and markup: shown as text.
        assert!(
            !html.contains("<b>v</b>"),
            "markup from the settings reached the page"
        );
        assert!(
            html.contains("&lt;b&gt;v&lt;&#x2f;b&gt;") || html.contains("&lt;b&gt;v&lt;/b&gt;")
        );
        assert!(html.contains("=HYPERLINK("));
        let (st, page, _) = call(&srv, &who, "get", "/enlace", None);
        assert_eq!(st, 200);
        assert!(page
            .as_str()
            .unwrap()
            .contains("Revisión del enlace de registros"));
    }
}

#[test]
fn oversize_or_invalid_settings_are_refused_with_a_clear_error() {
    let s = &QUEUED[0];
    let big = s.dir.join("grande.toml");
    std::fs::write(&big, "#".repeat(2 << 20)).unwrap();
    let bad = s.dir.join("mala.toml");
    std::fs::write(&bad, "version = 1\n").unwrap();
    for (file, says) in [(&big, "no pasa de"), (&bad, "mala.toml")] {
        let o = vamos(
            &[
                "linkage",
                "admin",
                "--db",
                &s.db.url,
                "--settings",
                file.to_str().unwrap(),
            ],
            &s.dir,
            &[],
        );
        assert!(!o.status.success());
        assert!(String::from_utf8_lossy(&o.stderr).contains(says), "{says}");
    }
}

/// A household of the survey registered a second time under a new key, its members without
/// their cédulas (children and careless forms have none): the same persons twice.
fn register_a_duplicate(s: &Site) -> usize {
    let read = |f: &str| std::fs::read_to_string(s.dir.join("datos").join(f)).unwrap();
    let (hh, members) = (read("fips.csv"), read("fips-miembros.csv"));
    let mut lines = hh.lines();
    let header = lines.next().unwrap();
    let row = lines.next().unwrap();
    let key = row.rsplit(',').next().unwrap().trim();
    let new_key = "uuid:00000000-0000-4000-8000-000000000040";
    let dup = s.dir.join("duplicado");
    std::fs::create_dir_all(&dup).unwrap();
    std::fs::write(
        dup.join("fips.csv"),
        format!("{header}\n{}\n", row.replace(key, new_key)),
    )
    .unwrap();
    let mut m = members.lines();
    let mheader = m.next().unwrap();
    let cedula = mheader
        .split(',')
        .position(|c| c == "miembros-cedula")
        .unwrap();
    let mut out = vec![mheader.to_string()];
    for line in m.filter(|l| l.contains(key)) {
        let mut cells: Vec<String> = line.split(',').map(str::to_string).collect();
        cells[cedula] = String::new();
        out.push(cells.join(",").replace(key, new_key));
    }
    let n = out.len() - 1;
    std::fs::write(dup.join("fips-miembros.csv"), out.join("\n") + "\n").unwrap();
    let o = vamos(
        &[
            "import",
            "fips",
            "--db",
            &s.db.url,
            "duplicado/fips.csv",
            "duplicado/fips-miembros.csv",
            "--date",
            "2026-11-01",
            "--format",
            "json",
        ],
        &s.dir,
        &[],
    );
    let v: Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(v["persons_accepted"].as_u64().unwrap() as usize, n, "{v}");
    n
}

#[test]
fn dedupe_proposes_merges_of_a_registered_twice_household_as_change_requests() {
    let dbs = vamos_store::testing::all_dbs();
    for db in dbs {
        let s = site(db, None);
        let n = register_a_duplicate(&s);
        let run = || {
            let o = vamos(
                &[
                    "linkage",
                    "dedupe",
                    "--db",
                    &s.db.url,
                    "--territory",
                    "PY",
                    "--format",
                    "json",
                ],
                &s.dir,
                &[],
            );
            serde_json::from_str::<Value>(&ok(&o)).unwrap()
        };
        let v = run();
        let proposals = v["proposals"].as_array().unwrap();
        // Every duplicated member is proposed for merging into the earlier registration.
        assert!(v["requests_created"].as_u64().unwrap() as usize >= n, "{v}");
        assert!(
            proposals
                .iter()
                .all(|p| p["survivor"].as_i64() < p["duplicate"].as_i64()),
            "{v}"
        );
        let o = vamos(
            &["changes", "list", "--db", &s.db.url, "--format", "json"],
            &s.dir,
            &[],
        );
        let list = ok(&o);
        assert!(list.contains("fusionar_personas"), "{list}");
        // A second run files nothing twice: the open requests are named instead.
        let again = run();
        assert_eq!(again["requests_created"], 0, "{again}");
        assert!(
            again["proposals"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p["note"].is_string()),
            "{again}"
        );
    }
}

#[test]
fn the_self_registration_review_shows_who_may_be_registered_already() {
    for s in SHIPPED.iter() {
        // A surveyed person registers herself again, in capitals and without her cédula.
        let text = std::fs::read_to_string(s.dir.join("datos/fips-miembros.csv")).unwrap();
        let mut rdr = csv::Reader::from_reader(text.as_bytes());
        let h = rdr.headers().unwrap().clone();
        let at = |n: &str| h.iter().position(|c| c == n).unwrap();
        let row = rdr.records().next().unwrap().unwrap();
        let hh = std::fs::read_to_string(s.dir.join("datos/fips.csv")).unwrap();
        let mut hr = csv::Reader::from_reader(hh.as_bytes());
        let hh_h = hr.headers().unwrap().clone();
        let parent = &row[at("PARENT_KEY")];
        let household = hr
            .records()
            .map(Result::unwrap)
            .find(|r| &r[hh_h.iter().position(|c| c == "KEY").unwrap()] == parent)
            .unwrap();
        let district = &household[hh_h.iter().position(|c| c == "ubicacion-distrito").unwrap()];
        let (srv, who) = server_and(s, "lnk_ana");
        let (nombres, apellidos) = (
            row[at("miembros-nombres")].to_uppercase(),
            row[at("miembros-apellidos")].to_uppercase(),
        );
        let form = [
            ("distrito", district),
            ("area", "urbana"),
            ("localidad", "Barrio San Roque"),
            ("m0_nombres", nombres.as_str()),
            ("m0_apellidos", apellidos.as_str()),
            ("m0_fecha", &row[at("miembros-fecha_nacimiento")]),
            ("m0_sexo", &row[at("miembros-sexo")]),
            ("m0_relacion", "jefe"),
        ];
        self_register(&srv, &form);
        let (st, html, _) = call(&srv, &who, "get", "/autorregistro/revision", None);
        assert_eq!(st, 200);
        let html = html.as_str().unwrap();
        assert!(
            html.contains("Posiblemente ya registrados"),
            "{}",
            s.db.label
        );
        let surname = row[at("miembros-apellidos")]
            .split(' ')
            .next()
            .unwrap()
            .to_string();
        let hint = &html[html.find("Posiblemente ya registrados").unwrap()..];
        assert!(hint.contains(&surname), "{}: {surname}", s.db.label);
        assert!(hint.contains("/registro/hogares/"), "{}", s.db.label);
    }
}

/// Sends the public self-registration form with `fields`, after the wait its token asks for.
fn self_register(srv: &common::Server, fields: &[(&str, &str)]) {
    let a: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let page = a
        .get(&format!("{}/autorregistro", srv.base))
        .call()
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    let marker = "name=\"token\" value=\"";
    let i = page.find(marker).unwrap() + marker.len();
    let token = page[i..].split('"').next().unwrap().replace("&#x2f;", "/");
    std::thread::sleep(std::time::Duration::from_millis(3200));
    let mut form: Vec<(&str, &str)> = fields.to_vec();
    form.push(("token", &token));
    let r = a
        .post(&format!("{}/autorregistro", srv.base))
        .send_form(form.iter().copied())
        .unwrap();
    let status = r.status().as_u16();
    let body = r.into_body().read_to_string().unwrap_or_default();
    let err = body
        .find("role=\"alert\"")
        .map_or("", |i| &body[i..(i + 400).min(body.len())]);
    assert!(status < 400, "{status}: {err}");
}

#[test]
fn records_imported_before_the_survey_get_their_persons_when_linking_runs_again() {
    for db in vamos_store::testing::all_dbs() {
        let dir = tempfile::tempdir().unwrap().keep();
        common::synth_pilots(&dir, "120", "41");
        let url = db.url.clone();
        common::init_db(&url, &dir);
        let run = |args: &[&str]| -> Value {
            let mut a = args.to_vec();
            a.extend(["--db", &url, "--format", "json"]);
            serde_json::from_str(&ok(&vamos(&a, &dir, &[]))).unwrap()
        };
        // The registries arrive first: nobody is registered yet, nothing links.
        let admin = run(&["import", "admin", "datos/admin", "--date", "2026-11-01"]);
        assert_eq!(admin["records_linked"], 0, "{}", db.label);
        run(&[
            "import",
            "fips",
            "datos/fips.csv",
            "datos/fips-miembros.csv",
            "--date",
            "2026-11-01",
        ]);
        let linked = run(&["linkage", "admin"]);
        assert!(
            linked["records_linked_by_national_id"].as_u64().unwrap() > 0,
            "{}",
            db.label
        );
        assert!(
            linked["records_linked"].as_u64().unwrap() > 0,
            "{}",
            db.label
        );
        let c: Value = serde_json::from_str(&ok(&vamos(
            &[
                "linkage",
                "check",
                "--db",
                &url,
                "--truth",
                "datos/verdad/enlace_admin.csv",
                "--format",
                "json",
            ],
            &dir,
            &[],
        )))
        .unwrap();
        assert!(c["precision"].as_f64().unwrap() >= 0.99, "{}", db.label);
        assert!(
            c["share_unmatched_or_in_review"].as_f64().unwrap() < 0.10,
            "{}: {}",
            db.label,
            c["share_unmatched_or_in_review"]
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}

#[test]
fn a_cedula_of_someone_born_another_day_is_judged_again_by_every_field() {
    for db in vamos_store::testing::all_dbs() {
        let dir = tempfile::tempdir().unwrap().keep();
        common::synth_pilots(&dir, "150", "42");
        let url = db.url.clone();
        common::init_db(&url, &dir);
        ok(&vamos(
            &[
                "import",
                "fips",
                "--db",
                &url,
                "datos/fips.csv",
                "datos/fips-miembros.csv",
            ],
            &dir,
            &[],
        ));
        // The registries first: the model they train judges the record below.
        ok(&vamos(
            &["import", "admin", "--db", &url, "datos/admin"],
            &dir,
            &[],
        ));
        let text = std::fs::read_to_string(dir.join("datos/fips-miembros.csv")).unwrap();
        let mut rdr = csv::Reader::from_reader(text.as_bytes());
        let h = rdr.headers().unwrap().clone();
        let at = |n: &str| h.iter().position(|c| c == n).unwrap();
        let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
        // A holds a cédula; B, born another day, has none (a child).
        let a = rows
            .iter()
            .find(|r| !r[at("miembros-cedula")].is_empty())
            .unwrap();
        let b = rows
            .iter()
            .find(|r| {
                r[at("miembros-cedula")].is_empty()
                    && r[at("miembros-fecha_nacimiento")] != a[at("miembros-fecha_nacimiento")]
            })
            .unwrap();
        // B's record carries A's cédula, as a mistyped form would.
        let csv_text = format!(
            "id_registro,cedula,nombres,apellidos,fecha_nacimiento,sexo,servicio,fecha_evento\n\
             X-1,{},{},{},{},{},vacuna,2026-10-01\n",
            &a[at("miembros-cedula")],
            &b[at("miembros-nombres")],
            &b[at("miembros-apellidos")],
            &b[at("miembros-fecha_nacimiento")],
            &b[at("miembros-sexo")],
        );
        std::fs::write(dir.join("uno.csv"), csv_text).unwrap();
        let v: Value = serde_json::from_str(&ok(&vamos(
            &[
                "import", "admin", "--db", &url, "uno.csv", "--source", "MSPBS", "--format", "json",
            ],
            &dir,
            &[],
        )))
        .unwrap();
        assert_eq!(
            v["records_unmatched"], 0,
            "{}: the cédula matched",
            db.label
        );
        assert_eq!(
            v["records_national_id_doubted"], 1,
            "{}: {}",
            db.label, v["linkage_error"]
        );
        let mut store = db.open();
        let keys = vamos_store::linkage::record_keys(&mut store.db()).unwrap();
        let got = keys.iter().find(|k| k.record_key == "X-1").unwrap();
        let key_of = |r: &csv::StringRecord| r[at("KEY")].trim_start_matches("uuid:").to_string();
        assert_ne!(
            got.person_key,
            Some(key_of(a)),
            "{}: linked to the cédula's holder",
            db.label
        );
        assert_eq!(got.person_key, Some(key_of(b)), "{}", db.label);
        std::fs::remove_dir_all(&dir).ok();
    }
}
