//! Governance, territorial rollout, community priorities, follow-up reports and microdata
//! (issue 41), on every backend, through the command line (and the API where the acceptance
//! compares with it): the real minute of `002_*` as written, agreements that notify and carry
//! over, scope and oversize refused, reports that read only published measurements and equal
//! the public API, and k-anonymous extracts checked by brute force.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{call, init_db, login, start, synth_pilots, vamos, PW};
use serde_json::Value;
use std::path::PathBuf;
use vamos_store::testing::{all_dbs, TestDb};

struct Site {
    db: TestDb,
    dir: PathBuf,
}

static SITES: std::sync::LazyLock<Vec<Site>> = std::sync::LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap().keep();
    synth_pilots(&dir, "200", "41");
    all_dbs()
        .into_iter()
        .map(|db| {
            let url = db.url.clone();
            init_db(&url, &dir);
            let users: [(&str, &str, Option<&str>); 6] = [
                ("mesa", "mesa", Some("1116")),
                ("mesa2", "mesa", Some("1116")),
                ("mesa_sp", "mesa", Some("0218")),
                ("coord", "coordinador", Some("1116")),
                ("analista", "analista", None),
                ("plan", "planificador", None),
            ];
            let mut steps: Vec<Vec<String>> = vec![
                vec![
                    "import",
                    "fips",
                    "--db",
                    &url,
                    "datos",
                    "--date",
                    "2026-11-01",
                ],
                vec!["import", "comunidades", "--db", &url, "datos"],
                vec!["classify", "--db", &url, "--as-of", "2026-11-01"],
                vec!["measurements", "publish", "--db", &url, "1"],
                vec!["referrals", "generate", "--db", &url, "--measurement", "1"],
            ]
            .into_iter()
            .map(|v| v.into_iter().map(str::to_string).collect())
            .collect();
            for (name, role, t) in users {
                let mut v: Vec<String> = ["user", "create", "--db", &url, name, "--role", role]
                    .into_iter()
                    .map(str::to_string)
                    .collect();
                if let Some(t) = t {
                    v.extend(["--territories".to_string(), t.to_string()]);
                }
                steps.push(v);
            }
            for args in steps {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let o = vamos(&args, &dir, &[("VAMOS_PASSWORD", PW)]);
                assert!(
                    o.status.success(),
                    "{args:?}: {}",
                    String::from_utf8_lossy(&o.stderr)
                );
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
    fn run_as(&self, who: &str, args: &[&str]) -> std::process::Output {
        let mut a: Vec<&str> = args.to_vec();
        a.extend(["--db", self.url()]);
        vamos(&a, &self.dir, &[("VAMOS_USER", who)])
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
    fn refused(&self, who: &str, args: &[&str]) -> String {
        let o = self.run_as(who, args);
        assert!(!o.status.success(), "{args:?} should be refused");
        String::from_utf8_lossy(&o.stderr).into_owned()
    }
    fn json(&self, who: &str, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(who, args)).unwrap()
    }
    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{}-{name}", self.db.label))
    }
    /// Records a meeting of `body` from `minute` (JSON) as `who`; its number.
    fn record(&self, who: &str, minute: &Value) -> i64 {
        let f = self.file(&format!("minuta-{}.json", rand_name()));
        std::fs::write(&f, minute.to_string()).unwrap();
        let out = self.ok(who, &["governance", "record", f.to_str().unwrap()]);
        out.split_whitespace().nth(1).unwrap().parse().unwrap()
    }
}

fn rand_name() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A minute of Villeta's Mesa held on `date` with `agreements`.
fn minute(body: &str, title: &str, date: &str, agreements: Value) -> Value {
    serde_json::json!({
        "body": body, "title": title, "held_on": date, "place": "Municipalidad de Villeta",
        "time_from": "09:00", "time_to": "11:00",
        "objectives": ["Seguir los casos del distrito"], "agenda": ["Casos", "Acuerdos"],
        "development": ["Se revisan los casos abiertos."],
        "attendance": [{"name": "Ana Benítez", "institution": "MSPBS"}],
        "agreements": agreements,
    })
}

#[test]
fn the_minute_of_002_is_in_the_system_as_written_with_its_four_agreements() {
    for s in SITES.iter() {
        let list = s.json("analista", &["governance", "meetings", "--format", "json"]);
        let m = list
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["held_on"] == "2023-01-31")
            .expect("the minute of 31/01/2023");
        assert_eq!(m["body"], "MT-PE", "{}", s.db.label);
        let id = m["id"].as_i64().unwrap().to_string();
        let m = s.json(
            "analista",
            &["governance", "meeting", &id, "--format", "json"],
        );
        let a = m["agreements"].as_array().unwrap();
        assert_eq!(a.len(), 4);
        // Owners and dates only where the minute gives them; no attendance list invented.
        for x in &a[..3] {
            assert!(x["owner"].is_null());
        }
        assert!(a[3]["owner"].as_str().unwrap().contains("MINNA"));
        assert_eq!(a[3]["due_on"], "2023-02-07");
        assert_eq!(a[0]["due_on"], "2023-07-07");
        assert!(a[1]["due_on"].is_null());
        assert!(m["attendance"].is_null());
        assert!(m["endorsement"]
            .as_str()
            .unwrap()
            .contains("registro de asistencia"));
        assert!(m["source"].as_str().unwrap().contains("002_"));
        assert_eq!(m["development"].as_array().unwrap().len(), 8);
        // Loading again adds nothing.
        init_db(s.url(), &s.dir);
        let again = s.json("analista", &["governance", "meetings", "--format", "json"]);
        let n = again
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["held_on"] == "2023-01-31")
            .count();
        assert_eq!(n, 1);
        let bodies = s.json("analista", &["governance", "bodies", "--format", "json"]);
        let villeta = bodies
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["code"] == "MPS-1116")
            .unwrap();
        assert_eq!(villeta["installed_on"], "2020-08-21");
        assert!(villeta["source"].as_str().unwrap().contains("21.08.2020"));
    }
}

#[test]
fn an_overdue_agreement_notifies_its_owner_and_the_body_and_carries_over_to_the_next_meeting() {
    for s in SITES.iter() {
        s.ok(
            "mesa",
            &[
                "governance",
                "member",
                "--body",
                "MPS-1116",
                "--name",
                "Luis Ortiz",
                "--institution",
                "MDS",
                "--role",
                "integrante",
                "--account",
                "mesa2",
            ],
        );
        let title = format!("Sesión ordinaria {}", rand_name());
        let first = s.record(
            "mesa",
            &minute(
                "MPS-1116",
                &title,
                "01/10/2026",
                serde_json::json!([
                    {"text": "Visitar a las familias sin cédula", "owner_account": "mesa", "due_on": "15/10/2026"},
                    {"text": "Preparar la feria de servicios", "owner": "Municipalidad", "due_on": "31/12/2099"},
                ]),
            ),
        );
        let m = s.json(
            "mesa",
            &[
                "governance",
                "meeting",
                &first.to_string(),
                "--format",
                "json",
            ],
        );
        let overdue_id = m["agreements"][0]["id"].as_i64().unwrap();
        // The owner and the body's member are told; someone else is not.
        let own = s.ok("mesa", &["governance", "notices"]);
        assert!(
            own.contains("a su cargo") && own.contains("Visitar a las familias"),
            "{own}"
        );
        let member = s.ok("mesa2", &["governance", "notices"]);
        assert!(member.contains("Visitar a las familias"), "{member}");
        let other = s.ok("mesa_sp", &["governance", "notices"]);
        assert!(!other.contains("Visitar a las familias"), "{other}");
        // A member of two bodies hears from both.
        s.ok(
            "analista",
            &[
                "governance",
                "member",
                "--body",
                "MT-PE",
                "--name",
                "Luis Ortiz",
                "--institution",
                "MDS",
                "--role",
                "referente",
                "--account",
                "mesa2",
            ],
        );
        let member = s.ok("mesa2", &["governance", "notices"]);
        assert!(
            member.contains("Visitar a las familias")
                && member.contains("Planificación Estratégica"),
            "{member}"
        );

        // The next meeting carries both open items.
        let second = s.record(
            "mesa",
            &minute(
                "MPS-1116",
                &format!("{title} (2)"),
                "05/11/2026",
                serde_json::json!([]),
            ),
        );
        let m2 = s.json(
            "mesa",
            &[
                "governance",
                "meeting",
                &second.to_string(),
                "--format",
                "json",
            ],
        );
        let carried: Vec<i64> = m2["carried"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_i64().unwrap())
            .collect();
        assert!(carried.contains(&overdue_id));
        let overdue = &m2["carried"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == overdue_id)
            .unwrap()["overdue"];
        assert_eq!(overdue, &Value::Bool(true));
        // Done: no more notices, and a meeting after it no longer carries it.
        s.ok(
            "mesa",
            &[
                "governance",
                "agreement",
                &overdue_id.to_string(),
                "--status",
                "cumplido",
                "--note",
                "Visitas hechas",
            ],
        );
        let own = s.ok("mesa", &["governance", "notices"]);
        assert!(!own.contains("Visitar a las familias"), "{own}");
        let third = s.record(
            "mesa",
            &minute(
                "MPS-1116",
                &format!("{title} (3)"),
                &vamos_app::clock::today().format("%d/%m/%Y").to_string(),
                serde_json::json!([]),
            ),
        );
        let m3 = s.json(
            "mesa",
            &[
                "governance",
                "meeting",
                &third.to_string(),
                "--format",
                "json",
            ],
        );
        assert!(!m3["carried"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == overdue_id));
    }
}

#[test]
fn recording_for_a_body_outside_the_scope_is_refused() {
    for s in SITES.iter() {
        let f = s.file(&format!("fuera-{}.json", rand_name()));
        std::fs::write(
            &f,
            minute("MPS-0218", "Sesión", "01/10/2026", serde_json::json!([])).to_string(),
        )
        .unwrap();
        // Another district's Mesa reads like one that does not exist.
        let e = s.refused("mesa", &["governance", "record", f.to_str().unwrap()]);
        assert!(e.contains("no existe la instancia"), "{e}");
        // A national body is readable, but recording in it needs a nationwide scope.
        let e = s.refused(
            "mesa",
            &[
                "governance",
                "member",
                "--body",
                "GS",
                "--name",
                "X",
                "--institution",
                "Y",
                "--role",
                "Z",
            ],
        );
        assert!(e.contains("fuera de su ámbito"), "{e}");
        // Reading without the permission: an operator-less public role has none.
        let e = s.refused("nadie", &["governance", "bodies"]);
        assert!(!e.is_empty());
    }
}

#[test]
fn a_link_to_a_case_outside_the_scope_reads_like_a_missing_one() {
    for s in SITES.iter() {
        let out = s.run_as(
            "mesa",
            &["governance", "record", &{
                let f = s.file(&format!("caso-{}.json", rand_name()));
                std::fs::write(
                    &f,
                    minute(
                        "MPS-1116",
                        &format!("Casos {}", rand_name()),
                        "02/10/2026",
                        serde_json::json!([{"text": "Seguir el caso", "link_kind": "caso", "link_ref": "987654"}]),
                    )
                    .to_string(),
                )
                .unwrap();
                f.to_str().unwrap().to_string()
            }],
        );
        assert!(!out.status.success());
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(
            e.contains("no existe") && e.contains("fuera de su ámbito"),
            "{e}"
        );
        // A target that does not exist is refused too.
        let f = s.file(&format!("meta-{}.json", rand_name()));
        std::fs::write(
            &f,
            minute(
                "MPS-1116",
                &format!("Metas {}", rand_name()),
                "03/10/2026",
                serde_json::json!([{"text": "Subir la cobertura", "link_kind": "meta", "link_ref": "1116:4:2099"}]),
            )
            .to_string(),
        )
        .unwrap();
        let e = s.refused("mesa", &["governance", "record", f.to_str().unwrap()]);
        assert!(e.contains("no existe"), "{e}");
    }
}

#[test]
fn oversize_minutes_are_refused_with_a_clear_reason() {
    for s in SITES.iter() {
        let many: Vec<Value> = (0..51)
            .map(|i| serde_json::json!({"text": format!("Acuerdo {i}")}))
            .collect();
        let f = s.file(&format!("grande-{}.json", rand_name()));
        std::fs::write(
            &f,
            minute(
                "MPS-1116",
                "Muchos acuerdos",
                "04/10/2026",
                Value::Array(many),
            )
            .to_string(),
        )
        .unwrap();
        let e = s.refused("mesa", &["governance", "record", f.to_str().unwrap()]);
        assert!(e.contains("como mucho 50 acuerdos"), "{e}");
        let long = "x".repeat(4001);
        let f = s.file(&format!("largo-{}.json", rand_name()));
        std::fs::write(
            &f,
            minute(
                "MPS-1116",
                "Largo",
                "04/10/2026",
                serde_json::json!([{"text": long}]),
            )
            .to_string(),
        )
        .unwrap();
        let e = s.refused("mesa", &["governance", "record", f.to_str().unwrap()]);
        assert!(e.contains("acuerdo 1") && e.contains("4000"), "{e}");
        let f = s.file(&format!("futuro-{}.json", rand_name()));
        std::fs::write(
            &f,
            minute("MPS-1116", "Futuro", "01/01/2099", serde_json::json!([])).to_string(),
        )
        .unwrap();
        let e = s.refused("mesa", &["governance", "record", f.to_str().unwrap()]);
        assert!(e.contains("todavía no ocurrió"), "{e}");
    }
}

#[test]
fn the_agreements_export_neutralises_formulas() {
    let s = &SITES[0];
    let url = s.url().to_string();
    s.record(
        "mesa",
        &minute(
            "MPS-1116",
            &format!("Inyección {}", rand_name()),
            "07/10/2026",
            serde_json::json!([{"text": "=HYPERLINK(\"http://malo.example\",\"ver\")", "owner": "+cmd"}]),
        ),
    );
    let server = start(&url, &s.dir);
    let who = login(&server, "mesa", PW);
    let (status, body, _) = call(
        &server,
        &who,
        "get",
        "/gobernanza/acuerdos.csv?estado=todos",
        None,
    );
    assert_eq!(status, 200);
    let text = body.as_str().unwrap_or_default().to_string();
    assert!(
        text.contains("'=HYPERLINK"),
        "{}",
        &text[..text.len().min(300)]
    );
    assert!(text.contains("'+cmd"));
    assert!(!text.contains(",=HYPERLINK"));
}

#[test]
fn the_openapi_document_has_bodies_meetings_and_meeting_agreements() {
    let s = &SITES[0];
    let server = start(s.url(), &s.dir);
    let who = login(&server, "analista", PW);
    let (status, doc, _) = call(&server, &who, "get", "/api/openapi.json", None);
    assert_eq!(status, 200);
    for p in [
        "/api/bodies",
        "/api/meetings",
        "/api/meeting-agreements",
        "/api/reports",
        "/api/rollout",
        "/api/priorities",
    ] {
        assert!(doc["paths"].get(p).is_some(), "{p}");
    }
    let (status, v, _) = call(
        &server,
        &who,
        "get",
        "/api/meeting-agreements?state=vencidos",
        None,
    );
    assert_eq!(status, 200);
    assert!(v["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["due_on"] == "2023-02-07"));
}

#[test]
fn a_quarterly_report_refuses_a_period_without_a_published_measurement() {
    for s in SITES.iter() {
        let out = s.file("nada.pdf");
        let e = s.refused(
            "analista",
            &[
                "report",
                "--territory",
                "1116",
                "--period",
                "2026-T3",
                "--out",
                out.to_str().unwrap(),
            ],
        );
        assert!(
            e.contains("no hay una medición publicada de Villeta"),
            "{e}"
        );
        assert!(!out.exists());
        let e = s.refused(
            "analista",
            &[
                "report",
                "--territory",
                "1116",
                "--period",
                "2026-T9",
                "--json",
            ],
        );
        assert!(e.contains("período inválido"), "{e}");
    }
}

#[test]
fn a_quarterly_report_names_the_territory_and_the_ten_logros_and_its_figures_equal_the_api() {
    for s in SITES.iter() {
        for (t, name) in [("1116", "Villeta"), ("PY", "Paraguay")] {
            let out = s.file(&format!("informe-{t}.pdf"));
            s.ok(
                "analista",
                &[
                    "report",
                    "--territory",
                    t,
                    "--period",
                    "2026-T4",
                    "--out",
                    out.to_str().unwrap(),
                ],
            );
            let text = vamos_app::pdf::text_of(&std::fs::read(&out).unwrap());
            assert!(text.contains(name), "{t}");
            for n in 1..=10 {
                assert!(text.contains(&format!("Logro {n}")), "{t}: Logro {n}");
            }
        }
        let data = s.json(
            "analista",
            &[
                "report",
                "--territory",
                "1116",
                "--period",
                "2026-T4",
                "--json",
            ],
        );
        let server = start(s.url(), &s.dir);
        let who = login(&server, "analista", PW);
        let m = data["measurement"]["id"].as_i64().unwrap();
        let (status, public, _) = call(
            &server,
            &who,
            "get",
            &format!("/api/public/logros?territory=1116&measurement={m}"),
            None,
        );
        assert_eq!(status, 200);
        assert_eq!(data["logros"], public["logros"], "{}", s.db.label);
        let (status, api, _) = call(
            &server,
            &who,
            "get",
            "/api/reports/data?territory=1116&period=2026-T4",
            None,
        );
        assert_eq!(status, 200);
        assert_eq!(api["logros"], data["logros"]);
        // Its funnel is the referrals API's total for the same territory.
        let (status, funnel, _) = call(
            &server,
            &who,
            "get",
            "/api/referrals/funnel?territory=1116",
            None,
        );
        assert_eq!(status, 200);
        assert!(data["funnel"]["referred"].as_u64().unwrap() > 0);
        assert_eq!(data["funnel"], funnel["total"], "{}", s.db.label);
    }
}

#[test]
fn a_published_report_is_versioned_and_served_byte_for_byte_on_the_open_data_page() {
    use sha2::Digest;
    for s in SITES.iter() {
        let analysis = s.file("analisis.txt");
        std::fs::write(
            &analysis,
            "La cobertura del Logro 4 avanza; falta la cédula en el área rural.",
        )
        .unwrap();
        let out = s.file("publicado.pdf");
        let args = [
            "report",
            "--territory",
            "0607",
            "--period",
            "2026-T4",
            "--publish",
            "--analysis",
            analysis.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        let first = s.ok("analista", &args);
        let second = s.ok("analista", &args);
        assert!(
            first.contains("versión 1") || first.contains("(versión"),
            "{first}"
        );
        assert!(second.contains("versión 2"), "{second}");
        let bytes = std::fs::read(&out).unwrap();
        assert!(vamos_app::pdf::text_of(&bytes).contains("falta la cédula"));
        let server = start(s.url(), &s.dir);
        let who = login(&server, "analista", PW);
        let (_, list, _) = call(&server, &who, "get", "/api/reports", None);
        let r = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["territory"] == "0607" && r["version"] == 2)
            .unwrap()
            .clone();
        let digest = r["digest"].as_str().unwrap();
        let public = ureq::get(&format!(
            "{}/datos-abiertos/informes/{}.pdf",
            server.base, r["id"]
        ))
        .call()
        .unwrap()
        .into_body()
        .read_to_vec()
        .unwrap();
        let h: String = sha2::Sha256::digest(&public)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(h, digest);
        // The published edition is public: overdue agreements counted per body, not their text.
        let national = s.file("publicado-py.pdf");
        s.ok(
            "analista",
            &[
                "report",
                "--territory",
                "PY",
                "--period",
                "2026-T4",
                "--publish",
                "--analysis",
                analysis.to_str().unwrap(),
                "--out",
                national.to_str().unwrap(),
            ],
        );
        let text = vamos_app::pdf::text_of(&std::fs::read(&national).unwrap());
        assert!(text.contains("Acuerdos vencidos"));
        assert!(!text.contains("cada una de estas instituciones"));
        // A planner cannot publish, and a published version cannot be published again.
        let e = s.refused(
            "plan",
            &[
                "report",
                "--territory",
                "0607",
                "--period",
                "2026-T4",
                "--publish",
                "--out",
                out.to_str().unwrap(),
            ],
        );
        assert!(e.contains("no permite"), "{e}");
        let (status, _, _) = call(
            &server,
            &who,
            "post",
            &format!("/api/reports/{}/publish", r["id"]),
            None,
        );
        assert_eq!(status, 409);
    }
}

/// Each record's frequency among the released quasi-identifiers, counting an empty (suppressed)
/// value as matching any value — independently of the code under test, in O(n²).
fn brute_force_frequencies(rows: &[Vec<String>]) -> Vec<usize> {
    rows.iter()
        .map(|a| {
            rows.iter()
                .filter(|b| {
                    a.iter()
                        .zip(b.iter())
                        .all(|(x, y)| x.is_empty() || y.is_empty() || x == y)
                })
                .count()
        })
        .collect()
}

#[test]
fn a_microdata_extract_with_k_5_has_every_quasi_identifier_combination_at_least_5_times() {
    for s in SITES.iter() {
        let dir = s.file("microdatos");
        let out = s.ok(
            "analista",
            &[
                "microdata",
                "--measurement",
                "1",
                "--k",
                "5",
                "--out",
                dir.to_str().unwrap(),
                "--recipient",
                "Evaluación de prueba, acuerdo 1/2026",
            ],
        );
        assert!(out.contains("logrado 5"), "{out}");
        let mut r = csv::Reader::from_path(dir.join("microdatos.csv")).unwrap();
        let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
        // No direct identifier.
        for bad in [
            "nombre",
            "cedula",
            "documento",
            "direccion",
            "telefono",
            "latitud",
            "persona",
            "hogar",
        ] {
            assert!(
                !header.iter().any(|h| h.contains(bad)),
                "{bad} in {header:?}"
            );
        }
        let qi: Vec<usize> = vamos_app::microdata::QUASI_IDENTIFIERS
            .iter()
            .map(|q| header.iter().position(|h| h == q).unwrap())
            .collect();
        let rows: Vec<Vec<String>> = r
            .records()
            .map(|rec| {
                let rec = rec.unwrap();
                qi.iter().map(|&i| rec[i].to_string()).collect()
            })
            .collect();
        assert!(rows.len() > 100);
        // Communities under a pseudonym of the release, never the registry's number.
        let t = vamos_app::microdata::QUASI_IDENTIFIERS
            .iter()
            .position(|q| *q == "territorio")
            .unwrap();
        for r in &rows {
            let v = &r[t];
            let ok = v.is_empty()
                || v == "PY"
                || (v.len() == 2 || v.len() == 4) && v.chars().all(|c| c.is_ascii_digit())
                || v.split_once("-c")
                    .is_some_and(|(d, n)| d.len() == 4 && n.parse::<u32>().is_ok());
            assert!(ok, "territorio {v}");
        }
        let f = brute_force_frequencies(&rows);
        assert!(
            f.iter().all(|&n| n >= 5),
            "min fk {}",
            f.iter().min().unwrap()
        );
        let risk: Value =
            serde_json::from_slice(&std::fs::read(dir.join("riesgo.json")).unwrap()).unwrap();
        assert_eq!(risk["k_logrado"], 5);
        assert_eq!(risk["registros"].as_u64().unwrap() as usize, rows.len());
        let suppressed = rows
            .iter()
            .filter(|r| r.iter().any(String::is_empty))
            .count();
        assert_eq!(
            risk["registros_con_supresion"].as_u64().unwrap() as usize,
            suppressed
        );
        assert!(risk["registros_generalizados"].is_u64());
        assert!(
            risk["reidentificaciones_esperadas"].as_f64().unwrap()
                <= rows.len() as f64 / 5.0 + 1e-9
        );
    }
}

#[test]
fn microdata_is_refused_to_whoever_may_not_release_it_and_every_release_is_logged() {
    for s in SITES.iter() {
        let dir = s.file("no");
        let e = s.refused(
            "mesa",
            &[
                "microdata",
                "--measurement",
                "1",
                "--out",
                dir.to_str().unwrap(),
            ],
        );
        assert!(e.contains("no permite"), "{e}");
        assert!(!dir.join("microdatos.csv").exists());
        let e = s.refused(
            "analista",
            &[
                "microdata",
                "--measurement",
                "1",
                "--k",
                "1",
                "--out",
                dir.to_str().unwrap(),
            ],
        );
        assert!(e.contains("k: de 2 a 100"), "{e}");
        let server = start(s.url(), &s.dir);
        let who = login(&server, "analista", PW);
        let dir = s.file("otra");
        s.ok(
            "analista",
            &[
                "microdata",
                "--measurement",
                "1",
                "--out",
                dir.to_str().unwrap(),
                "--recipient",
                "Auditoría",
            ],
        );
        let (status, v, _) = call(&server, &who, "get", "/api/microdata/releases", None);
        assert_eq!(status, 200);
        assert!(v["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["recipient"] == "Auditoría"));
        let mesa = login(&server, "mesa", PW);
        let (status, _, _) = call(&server, &mesa, "get", "/api/microdata/releases", None);
        assert_eq!(status, 403);
    }
}

#[test]
fn a_rollout_process_is_completed_only_with_a_document_and_only_within_scope() {
    for s in SITES.iter() {
        let e = s.refused(
            "coord",
            &[
                "governance",
                "rollout-update",
                "--district",
                "1116",
                "--process",
                "3",
                "--status",
                "completado",
            ],
        );
        assert!(e.contains("al menos un documento"), "{e}");
        s.ok(
            "coord",
            &[
                "governance",
                "rollout-update",
                "--district",
                "1116",
                "--process",
                "3",
                "--status",
                "completado",
                "--completed",
                "21/08/2020",
                "--started",
                "01/07/2020",
                "--coordinator",
                "Coordinación Central",
                "--evidence",
                "Acta de instalación de la Mesa",
                "--evidence-ref",
                "Acta 1/2020",
            ],
        );
        let d = s.json(
            "coord",
            &[
                "governance",
                "rollout",
                "--district",
                "1116",
                "--format",
                "json",
            ],
        );
        let step = &d[0]["steps"][2];
        assert_eq!(step["status"], "completado");
        assert_eq!(step["completed_on_es"], "21/08/2020");
        assert_eq!(step["evidence"][0]["reference"], "Acta 1/2020");
        // The Espacios SPS are the district's ORIENTACIONES SPS delivery points.
        assert!(d[0]["espacios"].is_array());
        let e = s.refused(
            "coord",
            &[
                "governance",
                "rollout-update",
                "--district",
                "0218",
                "--process",
                "1",
                "--status",
                "en_curso",
            ],
        );
        assert!(e.contains("fuera de su ámbito"), "{e}");
        let national = s.json("analista", &["governance", "rollout", "--format", "json"]);
        assert!(national
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["district"] == "1116" && d["completed"] == 1));
    }
}

#[test]
fn community_priorities_add_up_per_district_and_export_neutralised() {
    for s in SITES.iter() {
        let p = s.json(
            "plan",
            &[
                "governance",
                "priorities",
                "--district",
                "1116",
                "--format",
                "json",
            ],
        );
        let list = p["priorities"].as_array().unwrap();
        assert!(!list.is_empty());
        let share: f64 = list.iter().map(|x| x["share"].as_f64().unwrap()).sum();
        assert!((share - 1.0).abs() < 1e-9);
        let scores: Vec<i64> = list.iter().map(|x| x["score"].as_i64().unwrap()).collect();
        assert!(scores.windows(2).all(|w| w[0] >= w[1]));
        // The ranks counted equal the communities' surveys as imported (latest per community).
        let ranked: i64 = list.iter().map(|x| x["ranked"][0].as_i64().unwrap()).sum();
        assert_eq!(ranked, p["communities"].as_i64().unwrap());
        let csv = s.file("prioridades.csv");
        s.ok(
            "plan",
            &["governance", "priorities", "--csv", csv.to_str().unwrap()],
        );
        let text = std::fs::read_to_string(&csv).unwrap();
        assert!(text.starts_with('\u{feff}'));
        assert!(text.contains("1116,Villeta"));
        let e = s.refused(
            "plan",
            &[
                "governance",
                "priority-link",
                "--district",
                "1116",
                "--priority",
                "agua",
                "--kind",
                "ae",
                "--reference",
                "NO-EXISTE",
            ],
        );
        assert!(e.contains("no existe"), "{e}");
        let e = s.refused(
            "mesa",
            &[
                "governance",
                "priority-link",
                "--district",
                "1116",
                "--priority",
                "agua",
                "--kind",
                "ae",
                "--reference",
                "X",
            ],
        );
        assert!(e.contains("no permite"), "{e}");
    }
}

#[test]
fn every_governance_page_renders_for_those_who_may_read_it() {
    let s = &SITES[0];
    let server = start(s.url(), &s.dir);
    for (user, pages) in [
        (
            "analista",
            &[
                "/gobernanza",
                "/gobernanza/instancias/MT-PE",
                "/gobernanza/reuniones/1",
                "/gobernanza/acuerdos?estado=vencidos",
                "/gobernanza/despliegue",
                "/gobernanza/despliegue?t=11",
                "/gobernanza/despliegue/1116",
                "/gobernanza/prioridades",
                "/gobernanza/prioridades?distrito=1116",
                "/gobernanza/informes",
            ][..],
        ),
        (
            "plan",
            &["/gobernanza/prioridades?distrito=1116", "/gobernanza"][..],
        ),
        ("mesa", &["/gobernanza/instancias/MPS-1116"][..]),
    ] {
        let who = login(&server, user, PW);
        for p in pages {
            let (status, body, _) = call(&server, &who, "get", p, None);
            assert_eq!(
                status,
                200,
                "{user} {p}: {}",
                body.as_str()
                    .unwrap_or("")
                    .chars()
                    .take(300)
                    .collect::<String>()
            );
        }
    }
    let public = common::Who::default();
    for p in [
        "/datos-abiertos",
        "/datos-abiertos?t=1116",
        "/datos-abiertos/indicadores.csv",
    ] {
        let (status, _, _) = call(&server, &public, "get", p, None);
        assert_eq!(status, 200, "{p}");
    }
    // Governance needs an account; a draft report is never public.
    let (status, _, _) = call(&server, &public, "get", "/api/bodies", None);
    assert_eq!(status, 401);
    let (status, _, _) = call(
        &server,
        &public,
        "get",
        "/datos-abiertos/informes/999.pdf",
        None,
    );
    assert_eq!(status, 404);
}

#[test]
fn the_monitoring_calendar_shows_each_quarter_cut_off_and_its_published_measurement() {
    for s in SITES.iter() {
        s.ok(
            "analista",
            &[
                "report",
                "--territory",
                "0218",
                "--period",
                "2026-T4",
                "--cut-off",
                "15/11/2026",
            ],
        );
        let out = s.ok(
            "analista",
            &["report", "--territory", "0218", "--calendar", "2026"],
        );
        let q4 = out.lines().find(|l| l.contains("2026-T4")).unwrap();
        assert!(
            q4.contains("corte 15/11/2026 (declarado)") && q4.contains("medición 1"),
            "{q4}"
        );
        assert!(q4.contains("listo") || q4.contains("publicado"), "{q4}");
        let q3 = out.lines().find(|l| l.contains("2026-T3")).unwrap();
        assert!(
            q3.contains("sin medición publicada") && q3.contains("vencido"),
            "{q3}"
        );
        let e = s.refused(
            "analista",
            &[
                "report",
                "--territory",
                "0218",
                "--period",
                "2026-T4",
                "--cut-off",
                "01/01/2027",
            ],
        );
        assert!(e.contains("fuera del"), "{e}");
        let e = s.refused(
            "plan",
            &[
                "report",
                "--territory",
                "0218",
                "--period",
                "2026-T4",
                "--cut-off",
                "15/11/2026",
            ],
        );
        assert!(e.contains("no permite"), "{e}");
    }
}

#[test]
fn another_districts_mesa_reads_neither_the_meeting_nor_its_agreements() {
    for s in SITES.iter() {
        let first = s.record(
            "mesa",
            &minute(
                "MPS-1116",
                &format!("Sesión reservada {}", rand_name()),
                "02/10/2026",
                serde_json::json!([{"text": "Acordar la visita", "owner_account": "mesa", "due_on": "15/10/2026"}]),
            ),
        );
        let m = s.json(
            "mesa",
            &[
                "governance",
                "meeting",
                &first.to_string(),
                "--format",
                "json",
            ],
        );
        let overdue_id = m["agreements"][0]["id"].as_i64().unwrap();
        // Another district's Mesa reads neither the meeting nor its agreements.
        let e = s.refused("mesa_sp", &["governance", "meeting", &first.to_string()]);
        assert!(e.contains("no existe la reunión"), "{e}");
        let list = s.json(
            "mesa_sp",
            &[
                "governance",
                "agreements",
                "--state",
                "todos",
                "--format",
                "json",
            ],
        );
        assert!(!list
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == overdue_id));
        // An account to notify must exist.
        let e = s.refused(
            "mesa",
            &[
                "governance",
                "agreement",
                &overdue_id.to_string(),
                "--status",
                "en_curso",
                "--owner-account",
                "no_existe",
            ],
        );
        assert!(e.contains("no hay una cuenta"), "{e}");
    }
}

#[test]
fn a_member_who_left_is_no_longer_notified_by_the_body() {
    for s in SITES.iter() {
        s.ok(
            "analista",
            &[
                "governance",
                "member",
                "--body",
                "MT-PE",
                "--name",
                "Coordinación Central",
                "--institution",
                "UTGS",
                "--role",
                "referente territorial",
                "--account",
                "coord",
            ],
        );
        let notices = s.ok("coord", &["governance", "notices"]);
        assert!(notices.contains("Planificación Estratégica"), "{notices}");
        let body = s.json(
            "analista",
            &[
                "governance",
                "bodies",
                "--body",
                "MT-PE",
                "--format",
                "json",
            ],
        );
        let id = body["members_list"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["account"] == "coord" && m["until"].is_null())
            .unwrap()["id"]
            .as_i64()
            .unwrap()
            .to_string();
        s.ok(
            "analista",
            &[
                "governance",
                "member-end",
                "--body",
                "MT-PE",
                "--member",
                &id,
                "--until",
                "01/12/2026",
            ],
        );
        let notices = s.ok("coord", &["governance", "notices"]);
        assert!(!notices.contains("Planificación Estratégica"), "{notices}");
        let e = s.refused(
            "analista",
            &[
                "governance",
                "member-end",
                "--body",
                "MT-PE",
                "--member",
                &id,
                "--until",
                "02/12/2026",
            ],
        );
        assert!(e.contains("no tiene un miembro vigente"), "{e}");
    }
}
