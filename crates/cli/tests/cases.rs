//! Canal Verde cases end to end (issue 37), on every backend, through `vamos cases …` as named
//! accounts of Mariscal Estigarribia's Mesa (1602): a desprotegido indigenous household is a
//! candidate; its case is opened and assigned; closing is refused while its plan is not
//! verified; the institutions' counter-referrals arrive for each planned service; the system
//! reports the plan complete and closing succeeds; the timeline shows each step. Another ending
//! needs a second person's approval, and a case outside the account's district does not exist
//! for it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{synth_pilots, vamos, PW};
use serde_json::Value;
use std::path::Path;
use std::process::Output;
use vamos_catalogue::EvidenceSource;
use vamos_store::testing::{all_dbs, RawSql, TestDb};

struct Site {
    db: TestDb,
    dir: tempfile::TempDir,
}

fn must(o: Output) -> Output {
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

impl Site {
    fn new(db: TestDb) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let url = db.url.clone();
        synth_pilots(d, "400", "37");
        must(vamos(
            &["db", "init", "--db", &url],
            d,
            &[("VAMOS_ADMIN_PASSWORD", PW)],
        ));
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
            vec!["referrals", "generate", "--db", &url],
        ] {
            must(vamos(&args, d, &[]));
        }
        for (name, role, terr) in [
            ("mesa_me", "mesa", "1602"),
            ("coord_me", "supervisor", "1602"),
            ("mesa_villeta", "mesa", "1116"),
            ("ori_me", "orientador", "1602"),
        ] {
            must(vamos(
                &[
                    "user",
                    "create",
                    "--db",
                    &url,
                    name,
                    "--role",
                    role,
                    "--territories",
                    terr,
                ],
                d,
                &[("VAMOS_PASSWORD", PW)],
            ));
        }
        for name in ["ana1", "ana2"] {
            must(vamos(
                &["user", "create", "--db", &url, name, "--role", "analista"],
                d,
                &[("VAMOS_PASSWORD", PW)],
            ));
        }
        Site { db, dir }
    }

    fn run(&self, user: &str, args: &[&str]) -> Output {
        let mut a: Vec<&str> = args.to_vec();
        a.extend(["--db", &self.db.url]);
        vamos(&a, self.dir.path(), &[("VAMOS_USER", user)])
    }

    fn ok(&self, user: &str, args: &[&str]) -> Value {
        let mut a: Vec<&str> = args.to_vec();
        a.extend(["--format", "json"]);
        let o = must(self.run(user, &a));
        let out = String::from_utf8_lossy(&o.stdout);
        serde_json::from_str(out.lines().last().unwrap_or("")).unwrap()
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

    fn ints(&self, sql: &str) -> Vec<i64> {
        let mut s = self.db.open();
        let mut db = s.db();
        db.query(sql, &[])
            .unwrap()
            .iter()
            .filter_map(|r| r.int(0))
            .collect()
    }
}

/// The counter-referral service code and institution that prove `service`, if the catalogue
/// has such evidence.
fn proof(service: &str) -> Option<(String, String)> {
    let cat = vamos_app::measurements::load_catalogue(None).unwrap();
    let s = cat.services.iter().find(|s| s.code == service)?;
    s.evidence.iter().find_map(|e| match &e.source {
        EvidenceSource::CounterReferral {
            institution,
            services,
        } => Some((services.first()?.clone(), institution.clone())),
        _ => None,
    })
}

/// A counter-referral file proving every service task of `case` for its unit (a household's
/// own services through its first member), delivered yesterday.
fn proofs(site: &Site, case: &Value, path: &Path) -> usize {
    let yesterday = (vamos_app::clock::today() - chrono::Duration::days(1)).to_string();
    let mut w = csv::Writer::from_path(path).unwrap();
    w.write_record([
        "id_evento",
        "institucion",
        "persona_id",
        "servicio",
        "fecha_entrega",
    ])
    .unwrap();
    let mut n = 0;
    for t in case["tasks"].as_array().unwrap() {
        if t["kind"] != "servicio" {
            continue;
        }
        let service = t["service"].as_str().unwrap();
        let (code, inst) = proof(service).unwrap_or_else(|| panic!("no proof for {service}"));
        let unit = t["unit_id"].as_i64().unwrap();
        let person = if t["unit_kind"] == "persona" {
            unit
        } else {
            site.ints(&format!(
                "SELECT MIN(id) FROM persons WHERE household_id = {unit} AND status = 'activo'"
            ))[0]
        };
        w.write_record([
            format!("CV-{}", t["id"]),
            inst,
            person.to_string(),
            code,
            yesterday.clone(),
        ])
        .unwrap();
        n += 1;
    }
    w.flush().unwrap();
    n
}

/// The notifications of `user`: (kind, case id).
fn notices(site: &Site, user: &str) -> Vec<(String, String)> {
    site.ok(user, &["cases", "notifications"])
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["kind"].as_str().unwrap().to_string(),
                n["case_id"].to_string(),
            )
        })
        .collect()
}

/// The first indigenous household candidate of Mariscal Estigarribia whose every open referral
/// can be proven by a counter-referral.
fn indigenous_household(site: &Site) -> i64 {
    // The Mesa's fields do not include indigenous identity: its list withholds it (and the
    // criteria that name it); a UTGS analyst sees why each unit is a candidate.
    let mesa = site.ok("mesa_me", &["cases", "candidates", "--territory", "1602"]);
    let text = mesa.to_string();
    assert!(
        !text.contains("indigenas") && !text.to_lowercase().contains("indígena"),
        "{}: the Mesa's candidates reveal indigenous identity",
        site.db.label
    );
    let list = site.ok("ana1", &["cases", "candidates", "--territory", "1602"]);
    let list = list.as_array().unwrap();
    assert!(!list.is_empty(), "{}: no candidates", site.db.label);
    for c in list {
        assert_eq!(c["district_code"], 1602, "{c}");
        assert!(["alta", "media", "baja"].contains(&c["priority"].as_str().unwrap()));
        assert!(!c["reasons"].as_array().unwrap().is_empty(), "{c}");
    }
    list.iter()
        .filter(|c| {
            c["unit_kind"] == "hogar"
                && c["populations"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p == "indigenas")
        })
        .map(|c| c["unit_id"].as_i64().unwrap())
        .find(|h| {
            let mut s = site.db.open();
            let mut db = s.db();
            db.query(
                &format!(
                    "SELECT service FROM referrals WHERE household_id = {h} AND status IN ('emitida', 'recibida', 'contactada')"
                ),
                &[],
            )
            .unwrap()
            .iter()
            .all(|r| proof(&r.text(0)).is_some())
        })
        .unwrap_or_else(|| panic!("{}: no indigenous household candidate", site.db.label))
}

#[test]
fn a_case_closes_as_protected_only_once_counter_referrals_prove_every_planned_service() {
    for db in all_dbs() {
        let site = Site::new(db);
        let label = site.db.label;
        let h = indigenous_household(&site);
        let opened = site.ok(
            "mesa_me",
            &[
                "cases",
                "open",
                "--household",
                &h.to_string(),
                "--reason",
                "hogar indígena con servicios sin proteger",
                "--origin",
                "candidato",
            ],
        );
        let id = opened["id"].as_i64().unwrap().to_string();
        // The same household cannot have two open cases.
        let twice = site.refused(
            "mesa_me",
            &[
                "cases",
                "open",
                "--household",
                &h.to_string(),
                "--reason",
                "otra vez",
            ],
        );
        assert!(
            twice.contains(&format!("ya tiene el caso abierto {id}")),
            "{twice}"
        );
        // Nobody follows it yet: the Mesa is told.
        assert!(
            notices(&site, "mesa_me").contains(&("sin_asignar".into(), id.clone())),
            "{label}"
        );
        site.ok("mesa_me", &["cases", "assign", &id, "--to", "mesa_me"]);
        assert!(!notices(&site, "mesa_me").contains(&("sin_asignar".into(), id.clone())));
        let case = site.ok("mesa_me", &["cases", "show", &id]);
        assert_eq!(case["status"], "en_seguimiento", "{label}: {case}");
        assert_eq!(case["unit"]["kind"], "hogar");
        assert_eq!(case["unit"]["id"], h);
        let tasks = case["tasks"].as_array().unwrap();
        assert!(!tasks.is_empty(), "{label}: an empty plan");
        for t in tasks {
            assert!(t["referral_id"].is_i64(), "{t}");
            assert_eq!(t["status"], "pendiente", "{t}");
            assert!(t["due"].is_string());
        }
        // Closing is refused while a planned service is unverified, with the reason.
        let refused = site.refused("mesa_me", &["cases", "close", &id]);
        assert!(
            refused.contains("no se puede cerrar como protegido: falta verificar"),
            "{label}: {refused}"
        );
        // The institutions report each service delivered.
        let file = site.dir.path().join("contrarreferencias.csv");
        let n = proofs(&site, &case, &file);
        assert_eq!(n, tasks.len());
        must(vamos(
            &[
                "counter-referrals",
                "import",
                "--db",
                &site.db.url,
                file.to_str().unwrap(),
            ],
            site.dir.path(),
            &[],
        ));
        // A unit whose every referral was answered is no longer a candidate.
        let still = site.ok("mesa_me", &["cases", "candidates", "--territory", "1602"]);
        assert!(
            !still
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["unit_kind"] == "hogar" && c["unit_id"] == h),
            "{label}"
        );
        // The counter-referral that completes the plan tells the Mesa the case can be closed…
        assert!(
            notices(&site, "mesa_me").contains(&("contra_referencias".into(), id.clone())),
            "{label}: {:?}",
            notices(&site, "mesa_me")
        );
        // …the system verifies and reports the plan complete…
        let checked = site.ok("mesa_me", &["cases", "check", &id]);
        assert_eq!(checked["plan_complete"], true, "{label}: {checked}");
        assert_eq!(checked["status"], "plan_completo", "{label}");
        for t in checked["tasks"].as_array().unwrap() {
            assert_eq!(t["status"], "verificada", "{label}: {t}");
            assert_eq!(t["evidence"]["status"], "protegido", "{label}: {t}");
        }
        // …and closing succeeds.
        let closed = site.ok("mesa_me", &["cases", "close", &id]);
        assert_eq!(closed["status"], "cerrado", "{label}");
        let done = site.ok("mesa_me", &["cases", "show", &id]);
        assert_eq!(done["ending"], "protegido");
        let steps: Vec<&str> = done["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert_eq!(
            steps,
            vec!["abierto", "asignado", "verificacion", "cerrado"],
            "{label}"
        );
        // The Mesa's figures count it.
        let figures = site.ok("mesa_me", &["cases", "figures"]);
        assert_eq!(figures["closed_protected"], 1, "{label}: {figures}");
        assert!(
            figures["median_days_to_protection"].is_number(),
            "{label}: {figures}"
        );
        // Per population: the analyst sees the indigenous household's case counted there; the
        // Mesa, whose fields do not include indigenous identity, is not told of that population.
        let per = |user: &str| -> Vec<Value> {
            site.ok(user, &["cases", "figures"])["by_population"]
                .as_array()
                .unwrap()
                .clone()
        };
        let indigenous = per("ana1")
            .into_iter()
            .find(|p| p["population"] == "indigenas")
            .unwrap_or_else(|| panic!("{label}: no indigenous figures"));
        assert_eq!(indigenous["closed_protected"], 1, "{label}: {indigenous}");
        assert!(
            per("mesa_me")
                .iter()
                .all(|p| p["population"] != "indigenas"),
            "{label}"
        );
        // Every read and change was audited under the account's name.
        let audited = site.ints(
            "SELECT COUNT(*) FROM audit_log WHERE actor LIKE 'mesa_me%' AND subject_kind = 'caso'",
        );
        assert!(audited[0] >= 6, "{label}: {audited:?}");
    }
}

#[test]
fn another_ending_needs_a_second_persons_approval() {
    for db in all_dbs() {
        let site = Site::new(db);
        let label = site.db.label;
        let h = indigenous_household(&site);
        let id = site.ok(
            "mesa_me",
            &[
                "cases",
                "open",
                "--household",
                &h.to_string(),
                "--reason",
                "seguimiento",
            ],
        )["id"]
            .as_i64()
            .unwrap()
            .to_string();
        // The timeline names no criterion the Mesa's fields withhold (indigenous identity).
        let shown = site.ok("mesa_me", &["cases", "show", &id]).to_string();
        assert!(
            !shown.to_lowercase().contains("indígena"),
            "{label}: the case tells the Mesa what its fields withhold: {shown}"
        );
        // Without a reason: refused.
        let why = site.refused("mesa_me", &["cases", "close", &id, "--ending", "mudanza"]);
        assert!(why.contains("necesita un motivo"), "{label}: {why}");
        let asked = site.ok(
            "mesa_me",
            &[
                "cases",
                "close",
                &id,
                "--ending",
                "mudanza",
                "--reason",
                "se mudó a Asunción",
            ],
        );
        assert_eq!(asked["status"], "cierre_pendiente", "{label}");
        // A Mesa member cannot approve; the supervisor who asked cannot either.
        let not_allowed = site.refused("mesa_villeta", &["cases", "approve", &id]);
        assert!(not_allowed.contains("no permite"), "{label}: {not_allowed}");
        let member = site.refused("mesa_me", &["cases", "approve", &id]);
        assert!(member.contains("no permite"), "{label}: {member}");
        let approved = site.ok("coord_me", &["cases", "approve", &id]);
        assert_eq!(approved["status"], "cerrado", "{label}");
        let shown = site.ok("coord_me", &["cases", "show", &id]);
        assert_eq!(shown["ending"], "mudanza");
        assert_eq!(shown["ending_requested_by"], "mesa_me");
        assert_eq!(shown["approved_by"], "coord_me");
        // A supervisor asking for an ending cannot approve it.
        site.ok(
            "coord_me",
            &["cases", "reopen", &id, "--reason", "volvió al distrito"],
        );
        site.ok(
            "coord_me",
            &[
                "cases",
                "close",
                &id,
                "--ending",
                "sin_contacto",
                "--reason",
                "no responde",
            ],
        );
        let own = site.refused("coord_me", &["cases", "approve", &id]);
        assert!(own.contains("usted mismo"), "{label}: {own}");
    }
}

#[test]
fn a_case_outside_the_accounts_district_does_not_exist_for_it() {
    for db in all_dbs() {
        let site = Site::new(db);
        let label = site.db.label;
        let h = indigenous_household(&site);
        let id = site.ok(
            "mesa_me",
            &[
                "cases",
                "open",
                "--household",
                &h.to_string(),
                "--reason",
                "seguimiento",
            ],
        )["id"]
            .as_i64()
            .unwrap()
            .to_string();
        for args in [
            vec!["cases", "show", id.as_str()],
            vec!["cases", "close", id.as_str()],
            vec!["cases", "note", id.as_str(), "--text", "hola"],
        ] {
            let e = site.refused("mesa_villeta", &args);
            assert!(
                e.contains(&format!("caso {id} no encontrado")),
                "{label}: {e}"
            );
        }
        // Nor may it open a case for a unit of another district, or list its candidates.
        let e = site.refused(
            "mesa_villeta",
            &[
                "cases",
                "open",
                "--household",
                &h.to_string(),
                "--reason",
                "x",
            ],
        );
        assert!(e.contains("no encontrad"), "{label}: {e}");
        let e = site.refused(
            "mesa_villeta",
            &["cases", "candidates", "--territory", "1602"],
        );
        assert!(e.contains("fuera de su ámbito"), "{label}: {e}");
        let listed = site.ok("mesa_villeta", &["cases", "list", "--all"]);
        assert_eq!(listed.as_array().unwrap().len(), 0, "{label}: {listed}");
        // An orientador opens a case but cannot follow it.
        let e = site.refused("ori_me", &["cases", "show", &id]);
        assert!(e.contains("no permite"), "{label}: {e}");
    }
}

#[test]
fn the_api_answers_out_of_scope_cases_as_missing_and_refuses_oversize_text() {
    use common::{call, login, start};
    use serde_json::json;
    for db in all_dbs() {
        let site = Site::new(db);
        let label = site.db.label;
        let h = indigenous_household(&site);
        let s = start(&site.db.url, site.dir.path());
        let me = login(&s, "mesa_me", PW);
        let villeta = login(&s, "mesa_villeta", PW);
        let (st, v, _) = call(
            &s,
            &me,
            "post",
            "/api/cases",
            Some(json!({"unit_kind": "hogar", "unit_id": h, "reason": "seguimiento"})),
        );
        assert_eq!(st, 200, "{label}: {v}");
        let id = v["id"].as_i64().unwrap();
        // Another district's Mesa: the case and the unit do not exist for it, the same answer
        // as a number never used, and no count leaks through the filters.
        for path in [format!("/api/cases/{id}"), "/api/cases/999999".to_string()] {
            let (st, v, _) = call(&s, &villeta, "get", &path, None);
            assert_eq!(st, 404, "{label} {path}: {v}");
            assert!(
                v["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("no encontrado"),
                "{v}"
            );
        }
        let (st, v, _) = call(&s, &villeta, "get", "/api/cases?territory=1602", None);
        assert_eq!(st, 403, "{label}: {v}");
        let (st, v, _) = call(&s, &villeta, "get", "/api/cases?all=true", None);
        assert_eq!(st, 200, "{label}: {v}");
        assert_eq!(v["items"].as_array().unwrap().len(), 0, "{label}: {v}");
        let (st, v, _) = call(&s, &villeta, "get", "/api/cases/candidates", None);
        assert_eq!(st, 200, "{label}: {v}");
        assert!(
            v["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["district_code"] == 1116),
            "{label}: another district's candidates leaked"
        );
        let (st, _, _) = call(
            &s,
            &villeta,
            "post",
            "/api/cases",
            Some(json!({"unit_kind": "hogar", "unit_id": h, "reason": "x"})),
        );
        assert_eq!(st, 404, "{label}: a unit of another district");
        // Oversize text is refused with a Spanish reason, and nothing is written.
        let big = "x".repeat(vamos_domain::limits::FREE_TEXT + 1);
        let (st, v, _) = call(
            &s,
            &me,
            "post",
            &format!("/api/cases/{id}/notes"),
            Some(json!({"kind": "nota", "text": big})),
        );
        assert_eq!(st, 400, "{label}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("demasiado largo"),
            "{v}"
        );
        let (st, v, _) = call(
            &s,
            &me,
            "post",
            &format!("/api/cases/{id}/close"),
            Some(json!({"ending": "rechazo", "reason": big})),
        );
        assert_eq!(st, 400, "{label}: {v}");
        let (_, shown, _) = call(&s, &me, "get", &format!("/api/cases/{id}"), None);
        assert_eq!(shown["status"], "abierto", "{label}: {shown}");
        assert_eq!(shown["timeline"].as_array().unwrap().len(), 1, "{label}");
        // A service task is not ticked by hand.
        let task = shown["tasks"][0]["id"].as_i64().unwrap();
        let (st, v, _) = call(
            &s,
            &me,
            "post",
            &format!("/api/cases/{id}/tasks/{task}"),
            Some(json!({"done": true, "note": "listo"})),
        );
        assert_eq!(st, 400, "{label}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("contra-referencia"),
            "{v}"
        );
    }
}

#[test]
fn a_household_that_moves_offers_its_open_case_to_the_new_districts_mesa() {
    for db in all_dbs() {
        let site = Site::new(db);
        let label = site.db.label;
        let h = indigenous_household(&site);
        let id = site.ok(
            "mesa_me",
            &[
                "cases",
                "open",
                "--household",
                &h.to_string(),
                "--reason",
                "seguimiento",
            ],
        )["id"]
            .as_i64()
            .unwrap()
            .to_string();
        // Villeta's Mesa cannot take a case that was not offered to it, is told nothing of
        // it and counts none.
        let early = site.refused("mesa_villeta", &["cases", "accept", &id]);
        assert!(early.contains("no encontrado"), "{label}: {early}");
        assert!(
            notices(&site, "mesa_villeta").iter().all(|(_, c)| *c != id),
            "{label}: another district's case in the notices"
        );
        assert_eq!(
            site.ok("mesa_villeta", &["cases", "figures"])["open"],
            0,
            "{label}"
        );
        let villeta = site.ints("SELECT MIN(id) FROM communities WHERE district_code = 1116")[0];
        let asked = site.ok(
            "ana1",
            &[
                "changes",
                "request",
                "--tipo",
                "mudar_hogar",
                "--unidad",
                &h.to_string(),
                "--set",
                &format!("community_id={villeta}"),
                "--efecto",
                "cambio",
                "--desde",
                "2026-11-20",
                "--motivo",
                "se mudaron a Villeta",
            ],
        );
        let cr = asked["id"].as_i64().unwrap().to_string();
        site.ok("ana2", &["changes", "approve", &cr]);
        // The new district's Mesa is told and sees the case; the old one still follows it.
        assert!(
            notices(&site, "mesa_villeta").contains(&("ofrecido".into(), id.clone())),
            "{label}: {:?}",
            notices(&site, "mesa_villeta")
        );
        let offered = site.ok("mesa_villeta", &["cases", "show", &id]);
        assert_eq!(offered["offered_to"], 1116, "{label}: {offered}");
        assert_eq!(offered["district_code"], 1602);
        // Read there, but not worked there until accepted.
        let early_note = site.refused(
            "mesa_villeta",
            &[
                "cases",
                "note",
                &id,
                "--kind",
                "nota",
                "--text",
                "antes de aceptar",
            ],
        );
        assert!(
            early_note.contains("acéptelo primero"),
            "{label}: {early_note}"
        );
        // Only the Mesa it was offered to accepts it.
        let other = site.refused("mesa_me", &["cases", "accept", &id]);
        assert!(other.contains("otro distrito"), "{label}: {other}");
        site.ok("mesa_villeta", &["cases", "accept", &id]);
        assert_eq!(
            site.ok("mesa_villeta", &["cases", "figures"])["open"],
            1,
            "{label}"
        );
        assert_eq!(
            site.ok("mesa_me", &["cases", "figures"])["open"],
            0,
            "{label}"
        );
        let moved = site.ok("mesa_villeta", &["cases", "show", &id]);
        assert_eq!(moved["district_code"], 1116, "{label}");
        assert!(moved["offered_to"].is_null());
        let kinds: Vec<&str> = moved["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, vec!["abierto", "ofrecido", "traspasado"], "{label}");
        // The old district's Mesa no longer reaches it.
        let gone = site.refused("mesa_me", &["cases", "show", &id]);
        assert!(gone.contains("no encontrado"), "{label}: {gone}");
    }
}

#[test]
fn an_orientation_recorded_at_the_counter_makes_the_persons_orientaciones_sps_protegido() {
    use common::{call, login, start};
    use serde_json::json;
    for db in all_dbs() {
        let site = Site::new(db);
        let label = site.db.label;
        let (person, cedula) = {
            let mut s = site.db.open();
            let mut db = s.db();
            let r = db
                .query(
                    "SELECT p.id, p.national_id FROM persons p JOIN households h ON h.id = p.household_id
                     WHERE h.district_code = 1602 AND p.national_id IS NOT NULL AND p.status = 'activo'
                     ORDER BY p.id LIMIT 1",
                    &[],
                )
                .unwrap();
            (r[0].int(0).unwrap(), r[0].int(1).unwrap())
        };
        let far = site.ints(
            "SELECT MIN(p.id) FROM persons p JOIN households h ON h.id = p.household_id WHERE h.district_code = 1116",
        )[0];
        let s = start(&site.db.url, site.dir.path());
        let ori = login(&s, "ori_me", PW);
        let mesa = login(&s, "mesa_me", PW);
        // The orientador finds the person by cédula, within its district.
        let (st, v, _) = call(
            &s,
            &ori,
            "get",
            &format!("/api/persons?cedula={cedula}"),
            None,
        );
        assert_eq!(st, 200, "{label}: {v}");
        assert_eq!(v["items"][0]["id"], person, "{label}: {v}");
        let status = |who: &common::Who| {
            let (st, v, _) = call(
                &s,
                who,
                "get",
                &format!(
                    "/api/persons/{person}/status?as_of={}",
                    vamos_app::clock::today()
                ),
                None,
            );
            assert_eq!(st, 200, "{label}: {v}");
            v["categories"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|c| c["services"].as_array().unwrap().clone())
                .find(|sv| {
                    sv["service"]
                        .as_str()
                        .unwrap()
                        .starts_with("orientaciones_sps")
                })
                .map(|sv| sv["status"].as_str().unwrap().to_string())
                .unwrap()
        };
        // The FIPS does not ask about it: without a record of the service it is not known.
        assert_eq!(status(&ori), "sin_dato", "{label}");
        let (st, v, _) = call(
            &s,
            &ori,
            "post",
            "/api/orientations",
            Some(json!({"person_id": person, "place": "Oficina de Mariscal Estigarribia"})),
        );
        assert_eq!(st, 201, "{label}: {v}");
        // The same orientation twice the same day changes nothing.
        let (st, v, _) = call(
            &s,
            &ori,
            "post",
            "/api/orientations",
            Some(json!({"person_id": person, "place": "Oficina de Mariscal Estigarribia"})),
        );
        assert_eq!(st, 200, "{label}: {v}");
        assert_eq!(v["duplicates"], 1, "{label}: {v}");
        assert_eq!(status(&ori), "protegido", "{label}");
        // A person of another district is refused like a missing one; a Mesa member does not
        // record orientations; oversize input is refused.
        let (st, v, _) = call(
            &s,
            &ori,
            "post",
            "/api/orientations",
            Some(json!({"person_id": far})),
        );
        assert_eq!(st, 422, "{label}: {v}");
        let (st2, v2, _) = call(
            &s,
            &ori,
            "post",
            "/api/orientations",
            Some(json!({"person_id": 99_999_999})),
        );
        assert_eq!(st2, 422, "{label}: {v2}");
        assert_eq!(
            v["errors"][0]["reason"], v2["errors"][0]["reason"],
            "{label}: out of scope reads like missing"
        );
        let (st, _, _) = call(
            &s,
            &mesa,
            "post",
            "/api/orientations",
            Some(json!({"person_id": person})),
        );
        assert_eq!(st, 403, "{label}");
        let (st, _, _) = call(
            &s,
            &ori,
            "post",
            "/api/orientations",
            Some(json!({"person_id": person, "place": "x".repeat(201)})),
        );
        assert_eq!(st, 400, "{label}");
        // The person page: the orientador's own district shows it with the orientation; a
        // person of another district is refused as the registry API refuses it (403, outside
        // the account's territories), without a word of its data, and the refusal is audited.
        let (st, page, _) = call(
            &s,
            &ori,
            "get",
            &format!("/registro/personas/{person}"),
            None,
        );
        assert_eq!(st, 200, "{label}");
        assert!(
            page.as_str().unwrap().contains("ORIENTACIONES SPS"),
            "{label}"
        );
        let (st_far, far_page, _) =
            call(&s, &ori, "get", &format!("/registro/personas/{far}"), None);
        assert_eq!(st_far, 403, "{label}");
        let far_page = far_page.as_str().unwrap();
        assert!(far_page.contains("fuera de su ámbito"), "{label}");
        assert!(
            !far_page.contains("ORIENTACIONES"),
            "{label}: no status of another district"
        );
        let (st_none, _, _) = call(&s, &ori, "get", "/registro/personas/99999999", None);
        assert_eq!(st_none, 404, "{label}");
        let refused = site.ints(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE actor LIKE 'ori_me%' AND action = 'leer persona'
             AND subject_id = '{far}' AND outcome LIKE 'denegado%'"
        ));
        assert_eq!(refused[0], 1, "{label}");
        let audited = site.ints(
            "SELECT COUNT(*) FROM audit_log WHERE actor LIKE 'ori_me (orientación)%' AND action = 'recibir contra-referencias'",
        );
        assert!(audited[0] >= 2, "{label}: {audited:?}");
    }
}

#[test]
fn an_explanation_reads_only_the_units_community_and_says_what_the_survey_recorded() {
    use vamos_app::measurements::{explain, explain_in, FormVocabulary};
    use vamos_store::UnitKind;
    for db in all_dbs() {
        let site = Site::new(db);
        let label = site.db.label;
        let cat = vamos_app::measurements::load_catalogue(None).unwrap();
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let district = vamos_domain::DistrictCode::from_number(1602).unwrap();
        let mut store = site.db.open();
        let mut whole = vamos_engine::RegistryData::new(&FormVocabulary);
        store
            .load_registry(
                vamos_domain::TerritoryCode::District(district),
                &vamos_store::Reading::at(day),
                &mut whole,
            )
            .unwrap();
        whole.finish();
        let persons = site.ints(
            "SELECT p.id FROM persons p JOIN households h ON h.id = p.household_id WHERE h.district_code = 1602 ORDER BY p.id LIMIT 15",
        );
        let households =
            site.ints("SELECT id FROM households WHERE district_code = 1602 ORDER BY id LIMIT 5");
        let units = persons
            .iter()
            .map(|p| (UnitKind::Person, *p))
            .chain(households.iter().map(|h| (UnitKind::Household, *h)));
        let mut said = 0;
        for (kind, id) in units {
            let from_community =
                explain(store.as_mut(), &cat, kind, id, district, day, day).unwrap();
            let from_district = explain_in(&whole, &cat, kind, id, district, day, day).unwrap();
            assert_eq!(from_community, from_district, "{label}: {kind:?} {id}");
            for sv in from_community["categories"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|c| c["services"].as_array().unwrap().clone())
            {
                let detail = sv["evidence"]["detail"].as_str().unwrap_or_default();
                if sv["evidence"]["source"] == "FIPS" {
                    // The recorded answer and the verdict, not the rule's wording.
                    assert!(detail.starts_with("La FIPS registra: "), "{detail}");
                    assert!(
                        detail.ends_with(&format!(
                            "→ {}",
                            sv["status"].as_str().unwrap().replace('_', " ")
                        )),
                        "{detail}"
                    );
                    assert!(sv["evidence"]["technical"]
                        .as_str()
                        .unwrap()
                        .contains("regla:"));
                    said += 1;
                }
            }
        }
        assert!(
            said > 0,
            "{label}: no survey-decided service among the units"
        );
    }
}

#[test]
fn a_barrier_met_on_a_task_is_counted_where_it_blocks_and_a_facilitator_is_followed() {
    for db in all_dbs() {
        let site = Site::new(db);
        let label = site.db.label;
        let h = indigenous_household(&site);
        let id = site.ok(
            "mesa_me",
            &[
                "cases",
                "open",
                "--household",
                &h.to_string(),
                "--reason",
                "seguimiento",
            ],
        )["id"]
            .as_i64()
            .unwrap()
            .to_string();
        let case = site.ok("mesa_me", &["cases", "show", &id]);
        let task = case["tasks"][0]["id"].to_string();
        site.ok(
            "mesa_me",
            &[
                "cases",
                "task",
                &id,
                "--task",
                &task,
                "--barrier",
                "documentos",
                "--note",
                "sin partida de nacimiento",
            ],
        );
        // The territorial view puts the barrier that blocks the case first.
        let view = site.ok("mesa_me", &["barriers", "view", "--territory", "1602"]);
        let first = &view["barriers"][0];
        assert_eq!(first["code"], "documentos", "{label}: {view}");
        assert_eq!(first["blocked_cases"], 1, "{label}");
        assert_eq!(first["blocked_tasks"], 1, "{label}");
        // A Mesa with no scope there neither reads nor records it.
        let out = site.refused("mesa_villeta", &["barriers", "view", "--territory", "1602"]);
        assert!(out.contains("fuera de su ámbito"), "{label}: {out}");
        let own = site.ok("mesa_villeta", &["barriers", "view"]);
        assert_eq!(own["territory"]["code"], "1116", "{label}");
        assert!(
            own["barriers"]
                .as_array()
                .unwrap()
                .iter()
                .all(|b| b["blocked_cases"] == 0),
            "{label}: {own}"
        );
        let record = |user: &str, barrier: &str, text: &str| {
            site.run(
                user,
                &[
                    "barriers",
                    "record",
                    "--territory",
                    "1602",
                    "--barrier",
                    barrier,
                    "--description",
                    text,
                ],
            )
        };
        assert!(!record("mesa_villeta", "distancia", "ruta cortada")
            .status
            .success());
        let unknown =
            String::from_utf8_lossy(&record("mesa_me", "marciana", "x").stderr).into_owned();
        assert!(
            unknown.contains("barrera desconocida «marciana»"),
            "{label}: {unknown}"
        );
        let long = "x".repeat(20_000);
        assert!(
            !record("mesa_me", "distancia", &long).status.success(),
            "{label}"
        );
        assert!(
            record("mesa_me", "distancia", "el puente del arroyo se cayó")
                .status
                .success()
        );
        follow_a_facilitator(&site);
        let view = site.ok("ana1", &["barriers", "view"]);
        let fac = &view["facilitators"][0];
        assert_eq!(fac["status"], "cumplido", "{label}");
        assert_eq!(fac["result_label"], "Funcionó", "{label}");
        assert_eq!(fac["still_blocked"], 1, "{label}");
        assert_eq!(fac["updates"].as_array().unwrap().len(), 2, "{label}");
        let distancia = view["barriers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["code"] == "distancia")
            .unwrap()
            .clone();
        assert_eq!(distancia["recorded"], 1, "{label}");
    }
}

/// A facilitator in Mariscal Estigarribia: designed by its Mesa, judged only once it ends, out
/// of reach of another district's Mesa, followed up by the coordinator.
fn follow_a_facilitator(site: &Site) {
    let label = site.db.label;
    // A facilitator: designed, followed, judged only once it ends.
    let f = site.ok(
        "mesa_me",
        &[
            "barriers",
            "facilitator",
            "--territory",
            "1602",
            "--barrier",
            "documentos",
            "--name",
            "Jornada de cedulación en la comunidad",
            "--owner",
            "Registro Civil",
            "--from",
            "01/12/2026",
            "--to",
            "31/12/2026",
        ],
    )["id"]
        .to_string();
    let early = site.refused(
        "mesa_me",
        &[
            "barriers", "follow", &f, "--status", "en_curso", "--result", "funciono",
        ],
    );
    assert!(
        early.contains("cuando el facilitador termina"),
        "{label}: {early}"
    );
    let other = site.refused(
        "mesa_villeta",
        &["barriers", "follow", &f, "--status", "suspendido"],
    );
    assert!(
        other.contains("no existe el facilitador"),
        "{label}: {other}"
    );
    site.ok(
        "coord_me",
        &[
            "barriers",
            "follow",
            &f,
            "--status",
            "cumplido",
            "--result",
            "funciono",
            "--note",
            "40 cédulas",
        ],
    );
}
