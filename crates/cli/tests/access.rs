//! Access management end to end, on every backend: classify the pilot districts → generate
//! referrals → an MSPBS token pulls its Villeta list (only MSPBS services, only the agreed
//! fields) → a batch of counter-referrals is posted (the invalid events reported one by one,
//! the same batch again changes nothing) → `vamos logros` and `vamos explain` show the change
//! without a new classification → the funnel counts the served referral; the life cycle; the
//! command-line export and file import. And the durability test: the server is killed with
//! SIGKILL while a load generator posts counter-referrals, then restarted; every event
//! acknowledged before the kill is there, none twice.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde_json::{json, Value};
use std::path::Path;
use vamos_store::testing::all_dbs;

mod common;
use common::*;

/// Builds the pilot registry in `url`, classifies it, and creates the MSPBS operator of
/// Villeta (token with the referral scopes) and its data-sharing agreement. Returns the
/// measurement id and the operator's token.
fn setup(url: &str, d: &Path) -> (i64, String) {
    let o = vamos(
        &["db", "init", "--db", url],
        d,
        &[("VAMOS_ADMIN_PASSWORD", PW)],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = vamos(
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
        &[],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = vamos(&["classify", "--db", url, "--as-of", "2026-11-23"], d, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m: i64 = String::from_utf8_lossy(&o.stdout)
        .lines()
        .last()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let o = vamos(
        &[
            "user",
            "create",
            "--db",
            url,
            "mspbs_villeta",
            "--role",
            "operador",
            "--institution",
            "MSPBS",
            "--territories",
            "1116",
        ],
        d,
        &[("VAMOS_PASSWORD", PW)],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = vamos(
        &[
            "agreement",
            "create",
            "--db",
            url,
            "--institution",
            "MSPBS",
            "--fields",
            "given_names,family_names,national_id,birth_date,district_code",
            "--purpose",
            "referencia de servicios de salud",
            "--from",
            "2026-01-01",
            "--to",
            "2030-12-31",
        ],
        d,
        &[],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = vamos(
        &["token", "create", "--db", url, "--user", "mspbs_villeta", "--name", "sistema HIS", "--days", "2", "--scopes", "referencias:leer,referencias:gestionar,contrarreferencias:enviar,logros:leer,estatus:leer"],
        d,
        &[],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (m, String::from_utf8_lossy(&o.stdout).trim().to_string())
}

fn synth(d: &Path) {
    let o = vamos(
        &[
            "synth",
            "--households",
            "400",
            "--seed",
            "11",
            "--out",
            "datos",
            "--reference-date",
            "2026-11-01",
        ],
        d,
        &[],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn json_out(args: &[&str], d: &Path) -> Value {
    let o = vamos(args, d, &[]);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8_lossy(&o.stdout);
    serde_json::from_str(text.lines().last().unwrap()).unwrap()
}

/// The figures of `service` in Logro `logro` of the territory, from `vamos logros`.
fn service_counts(url: &str, d: &Path, territory: &str, logro: u64, service: &str) -> (u64, u64) {
    let v = json_out(
        &[
            "logros",
            "--db",
            url,
            "--territory",
            territory,
            "--format",
            "json",
        ],
        d,
    );
    let l = v["logros"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["logro"] == logro)
        .unwrap();
    let s = l["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == service);
    s.map(|s| {
        (
            s["protected"].as_u64().unwrap(),
            s["unprotected"].as_u64().unwrap(),
        )
    })
    .unwrap_or((0, 0))
}

#[test]
fn referral_to_counter_referral_moves_status_and_logros_without_reclassifying() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    synth(d);
    for db in all_dbs() {
        let url = db.url.as_str();
        let (m, token) = setup(url, d);

        // Generate: referrals for every institution, addressed by priority.
        let g = json_out(
            &["referrals", "generate", "--db", url, "--format", "json"],
            d,
        );
        assert_eq!(g["measurement"], m);
        let created = g["created"].as_u64().unwrap();
        assert!(created > 0, "{g}");
        assert!(g["by_institution"]["MSPBS"].as_u64().unwrap() > 0, "{g}");
        // Generating again duplicates nothing.
        let again = json_out(
            &["referrals", "generate", "--db", url, "--format", "json"],
            d,
        );
        assert_eq!(again["created"], 0, "{again}");
        assert_eq!(again["kept"].as_u64().unwrap(), created, "{again}");

        let s = start(url, d);
        // The writer reads which units were referred for which service (those a
        // counter-referral can answer), and says so.
        let mut referrals = Value::Null;
        for _ in 0..300 {
            let (_, ready, _) = call(&s, &Who::default(), "get", "/api/ready", None);
            referrals = ready["counter_referral_intake"]["referrals"].clone();
            if referrals["state"] == "ready" {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert_eq!(referrals["state"], "ready", "{referrals}");
        let pairs = referrals["pairs"].as_u64().unwrap();
        assert!(pairs > 0 && pairs <= created, "{referrals} of {created}");
        let his = Who {
            bearer: Some(token.clone()),
            ..Who::default()
        };
        // The MSPBS list of Villeta: MSPBS services only, Villeta only, agreed fields only.
        let (st, list, _) = call(
            &s,
            &his,
            "get",
            "/api/referrals?territory=1116&limit=1000",
            None,
        );
        assert_eq!(st, 200, "{list}");
        let items = list["items"].as_array().unwrap();
        assert!(!items.is_empty(), "{list}");
        let allowed = [
            "id",
            "given_names",
            "family_names",
            "national_id",
            "birth_date",
            "district_code",
        ];
        for it in items {
            assert_eq!(it["institution"], "MSPBS");
            assert_eq!(it["district_code"], 1116);
            if let Some(p) = it["person"].as_object() {
                for k in p.keys() {
                    assert!(
                        allowed.contains(&k.as_str()),
                        "field {k} outside the agreement"
                    );
                }
            }
        }
        // Priorities come first.
        let prio: Vec<i64> = items
            .iter()
            .map(|i| i["priority"].as_i64().unwrap())
            .collect();
        assert!(prio.windows(2).all(|w| w[0] >= w[1]), "{prio:?}");
        // Another institution's list, another district: refused or empty.
        assert_eq!(
            call(&s, &his, "get", "/api/referrals?institution=MEC", None).0,
            403
        );
        let (_, other, _) = call(&s, &his, "get", "/api/referrals?territory=0607", None);
        assert_eq!(other["total"], 0, "{other}");
        // CSV download with Spanish headers.
        let (st, csv, _) = call(
            &s,
            &his,
            "get",
            "/api/referrals?territory=1116&format=csv",
            None,
        );
        assert_eq!(st, 200);
        assert!(
            csv.as_str()
                .unwrap()
                .contains("referencia,estado,prioridad"),
            "{csv}"
        );

        // Acknowledge receipt: emitida → recibida.
        let (st, ack, _) = call(
            &s,
            &his,
            "post",
            "/api/referrals/acknowledge",
            Some(json!({"territory": "1116"})),
        );
        assert_eq!(st, 200, "{ack}");
        assert_eq!(
            ack["acknowledged"].as_u64().unwrap(),
            list["total"].as_u64().unwrap()
        );

        // A person referral to answer, and its service figures before.
        let target = items
            .iter()
            .find(|i| i["unit_kind"] == "persona")
            .expect("a person referral");
        let (rid, pid, service) = (
            target["id"].as_i64().unwrap(),
            target["unit_id"].as_i64().unwrap(),
            target["service"].as_str().unwrap().to_string(),
        );
        let logro = [
            "antes_del_nacimiento",
            "en_el_nacimiento",
            "despues_del_nacimiento",
            "ninez",
            "adolescencia",
            "juventud",
            "adultez",
            "adultos_mayores",
            "hogares",
            "entorno",
        ]
        .iter()
        .position(|c| *c == target["category"].as_str().unwrap())
        .unwrap() as u64
            + 1;
        let before = service_counts(url, d, "1116", logro, &service);
        let exp = json_out(
            &[
                "explain",
                "--db",
                url,
                "--person",
                &pid.to_string(),
                "--format",
                "json",
            ],
            d,
        );
        let status_of = |e: &Value| -> String {
            e["categories"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|c| c["services"].as_array().unwrap().iter())
                .find(|x| x["service"] == service.as_str())
                .map(|x| x["status"].as_str().unwrap().to_string())
                .unwrap()
        };
        assert_eq!(status_of(&exp), "desprotegido");

        // The batch: one valid event, three invalid ones, each reported.
        let batch = json!({"events": [
            {"event_id": "HIS-1", "person_id": pid, "service": service, "delivered_on": "20/11/2026", "place": "USF Villeta", "place_district": "1116"},
            {"event_id": "HIS-2", "person_id": pid, "service": service, "delivered_on": "31/02/2026"},
            {"event_id": "HIS-3", "person_id": pid, "service": "matricula_escolar", "delivered_on": "2026-11-20"},
            {"event_id": "HIS-4", "person_id": 999_999_999, "service": service, "delivered_on": "2026-11-20"}
        ]});
        let (st, sum, _) = call(
            &s,
            &his,
            "post",
            "/api/counter-referrals/batch",
            Some(batch.clone()),
        );
        assert_eq!(st, 200, "{sum}");
        assert_eq!(
            (
                sum["accepted"].as_u64(),
                sum["duplicates"].as_u64(),
                sum["rejected"].as_u64()
            ),
            (Some(1), Some(0), Some(3)),
            "{sum}"
        );
        let errors = sum["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 3, "{sum}");
        assert_eq!(errors[0]["column"], "fecha_entrega");
        assert_eq!(errors[0]["value"], "31/02/2026");
        assert_eq!(errors[1]["column"], "servicio");
        assert_eq!(errors[2]["column"], "persona_id");
        assert_eq!(sum["results"][0]["referral_id"], rid, "{sum}");
        // The same batch again changes nothing.
        let (_, sum2, _) = call(
            &s,
            &his,
            "post",
            "/api/counter-referrals/batch",
            Some(batch),
        );
        assert_eq!(
            (
                sum2["accepted"].as_u64(),
                sum2["duplicates"].as_u64(),
                sum2["rejected"].as_u64()
            ),
            (Some(0), Some(1), Some(3)),
            "{sum2}"
        );
        // A single event: idempotent on its id, a conflicting re-use refused.
        let one = json!({"event_id": "HIS-1", "person_id": pid, "service": service, "delivered_on": "2026-11-20", "place": "USF Villeta", "place_district": 1116});
        assert_eq!(
            call(&s, &his, "post", "/api/counter-referrals", Some(one)).0,
            200
        );
        let conflict = json!({"event_id": "HIS-1", "person_id": pid, "service": service, "delivered_on": "2026-11-19"});
        assert_eq!(
            call(&s, &his, "post", "/api/counter-referrals", Some(conflict)).0,
            422
        );

        // The Logros move without a new classification run (the server's updater, seconds).
        let mut after = before;
        for _ in 0..100 {
            after = service_counts(url, d, "1116", logro, &service);
            if after != before {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert_eq!(
            after,
            (before.0 + 1, before.1 - 1),
            "{before:?} → {after:?}"
        );
        let ms = json_out(
            &[
                "logros",
                "--db",
                url,
                "--territory",
                "1116",
                "--format",
                "json",
            ],
            d,
        );
        assert_eq!(ms["measurement"]["id"], m, "no new measurement");
        let exp = json_out(
            &[
                "explain",
                "--db",
                url,
                "--person",
                &pid.to_string(),
                "--format",
                "json",
            ],
            d,
        );
        assert_eq!(status_of(&exp), "protegido", "{exp}");
        assert!(
            exp.to_string().contains("contra-referencia (MSPBS)"),
            "{exp}"
        );

        // The funnel shows the served referral.
        let (st, f, _) = call(
            &s,
            &his,
            "get",
            "/api/referrals/funnel?territory=1116",
            None,
        );
        assert_eq!(st, 200, "{f}");
        assert!(f["total"]["served"].as_u64().unwrap() >= 1, "{f}");
        let row = f["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["service"] == service.as_str())
            .unwrap();
        assert_eq!(row["institution"], "MSPBS");
        assert!(row["median_days"].is_number(), "{row}");

        // Life cycle: contact, a rejection needs a reason, a closed referral cannot move.
        let open: Vec<i64> = items
            .iter()
            .map(|i| i["id"].as_i64().unwrap())
            .filter(|i| *i != rid)
            .collect();
        if let Some(&other_id) = open.first() {
            let path = format!("/api/referrals/{other_id}/status");
            let (st, v, _) = call(
                &s,
                &his,
                "post",
                &path,
                Some(json!({"status": "contactada"})),
            );
            assert_eq!(st, 200, "{v}");
            assert_eq!(v["referral"]["status"], "contactada");
            assert_eq!(
                call(
                    &s,
                    &his,
                    "post",
                    &path,
                    Some(json!({"status": "rechazada"}))
                )
                .0,
                409
            );
            let (st, v, _) = call(
                &s,
                &his,
                "post",
                &path,
                Some(
                    json!({"status": "rechazada", "reason": "la persona se mudó a otro distrito"}),
                ),
            );
            assert_eq!(st, 200, "{v}");
            assert_eq!(v["history"].as_array().unwrap().len(), 4, "{v}");
            assert_eq!(
                call(
                    &s,
                    &his,
                    "post",
                    &path,
                    Some(json!({"status": "contactada"}))
                )
                .0,
                409
            );
        }
        assert_eq!(
            call(
                &s,
                &his,
                "post",
                &format!("/api/referrals/{rid}/status"),
                Some(json!({"status": "contactada"}))
            )
            .0,
            409
        );

        // The personal route lists what is missing and where to go.
        let (st, route, _) = call(&s, &his, "get", &format!("/api/persons/{pid}/route"), None);
        assert_eq!(st, 200, "{route}");
        assert!(route["route"].as_array().unwrap().len() >= 2, "{route}");
        drop(s);

        // Command line: export with the agreement, import a Latin-1 ';' file with dd/mm/yyyy.
        let o = vamos(
            &[
                "referrals",
                "export",
                "--db",
                url,
                "--institution",
                "MSPBS",
                "--territory",
                "1116",
                "--format",
                "csv",
            ],
            d,
            &[],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let csv = String::from_utf8_lossy(&o.stdout);
        assert!(csv.contains("persona_given_names"), "{csv}");
        assert!(
            !csv.contains("persona_ingreso"),
            "a field outside the agreement"
        );
        let o = vamos(
            &[
                "referrals",
                "export",
                "--db",
                url,
                "--institution",
                "MSPBS",
                "--format",
                "xlsx",
                "--out",
                "mspbs.xlsx",
            ],
            d,
            &[],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(std::fs::read(d.join("mspbs.xlsx"))
            .unwrap()
            .starts_with(b"PK"));
        let mut file =
            b"Id Evento;Instituci\xf3n;Persona ID;Servicio;Fecha Entrega;Lugar\n".to_vec();
        file.extend_from_slice(format!("ARCH-1;MSPBS;{pid};{service};21/11/2026;USF\nARCH-2;MSPBS;{pid};{service};32/11/2026;USF\n").as_bytes());
        std::fs::write(d.join("contra.csv"), &file).unwrap();
        let v = json_out(
            &[
                "counter-referrals",
                "import",
                "--db",
                url,
                "contra.csv",
                "--format",
                "json",
            ],
            d,
        );
        assert_eq!(
            (v["accepted"].as_u64(), v["rejected"].as_u64()),
            (Some(1), Some(1)),
            "{v}"
        );
        assert_eq!(v["errors"][0]["row"], 3);
        assert_eq!(v["errors"][0]["file"], "contra.csv");
        let v = json_out(
            &[
                "counter-referrals",
                "import",
                "--db",
                url,
                "contra.csv",
                "--format",
                "json",
            ],
            d,
        );
        assert_eq!(
            (v["accepted"].as_u64(), v["duplicates"].as_u64()),
            (Some(0), Some(1)),
            "{v}"
        );

        // The served need does not come back; the audit chain holds.
        let g = json_out(
            &["referrals", "generate", "--db", url, "--format", "json"],
            d,
        );
        assert_eq!(g["created"], 0, "{g}");
        let o = vamos(&["audit", "verify", "--db", url], d, &[]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    }
}

/// Posts counter-referrals until told to stop: one per request (`batch` 1: each applied in
/// its acknowledging commit) or `batch` per request (more than the writer applies at once:
/// they go through its intake log); returns the event ids acknowledged as accepted before the
/// connection broke.
fn load_generator(
    base: String,
    token: String,
    persons: Vec<i64>,
    service: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    prefix: &'static str,
    batch: usize,
) -> Vec<String> {
    let agent = agent();
    let mut acked = Vec::new();
    let mut n = 0usize;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) && n < 5_000.max(200 * batch) {
        let events: Vec<Value> = (n..n + batch)
            .map(|k| json!({"event_id": format!("{prefix}-{k}"), "person_id": persons[k % persons.len()], "service": service, "delivered_on": "2026-11-20"}))
            .collect();
        n += batch;
        let (path, body) = match events.as_slice() {
            [one] => ("/api/counter-referrals", one.clone()),
            _ => ("/api/counter-referrals/batch", json!({ "events": events })),
        };
        let r = agent
            .post(&format!("{base}{path}"))
            .header("authorization", &format!("Bearer {token}"))
            .send_json(body);
        match r {
            Ok(mut resp) if resp.status().is_success() => {
                let sum: Value = resp.body_mut().read_json().unwrap();
                let results = sum["results"]
                    .as_array()
                    .cloned()
                    .unwrap_or_else(|| vec![sum["result"].clone()]);
                for r in results {
                    if r["status"] == "aceptado" {
                        acked.push(r["event_id"].as_str().unwrap().to_string());
                    }
                }
            }
            Ok(_) => {}
            Err(_) => break, // the server is gone
        }
    }
    acked
}

/// Events per batch of the batch [`load_generator`].
const BATCH: usize = 300;

#[test]
fn every_acknowledged_counter_referral_survives_a_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    synth(d);
    for db in all_dbs() {
        let url = db.url.as_str();
        let (_, token) = setup(url, d);
        let s = start(url, d);
        let his = Who {
            bearer: Some(token.clone()),
            ..Who::default()
        };
        let admin = login(&s, "admin", PW);
        let (_, found, _) = call(
            &s,
            &admin,
            "get",
            "/api/persons?territory=1116&limit=50",
            None,
        );
        let persons: Vec<i64> = found["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_i64().unwrap())
            .collect();
        assert!(!persons.is_empty());
        let service = "control_prenatal".to_string();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        // Single events (applied in the acknowledging commit) and batches (through the log).
        let gens: Vec<_> = ["A", "B", "L"]
            .into_iter()
            .map(|prefix| {
                let (base, token, persons, service, stop) = (
                    s.base.clone(),
                    token.clone(),
                    persons.clone(),
                    service.clone(),
                    stop.clone(),
                );
                let batch = if prefix == "L" { BATCH } else { 1 };
                std::thread::spawn(move || {
                    load_generator(base, token, persons, service, stop, prefix, batch)
                })
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let mut s = s;
        s.child.kill().unwrap(); // SIGKILL
        s.child.wait().unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let acked: Vec<String> = gens.into_iter().flat_map(|g| g.join().unwrap()).collect();
        assert!(
            acked.len() >= 10,
            "the load generator got too few answers: {}",
            acked.len()
        );
        let batched = acked.iter().filter(|id| id.starts_with("L-")).count();
        assert!(batched >= BATCH, "{}: no batch acknowledged", db.label);
        drop(s);
        // Restarted: once the writer has applied its intake log, every acknowledged event is
        // there, once.
        let s = start(url, d);
        let mut pending = None;
        for _ in 0..300 {
            let (_, ready, _) = call(&s, &Who::default(), "get", "/api/ready", None);
            pending = ready["counter_referral_intake"]["pending"].as_u64();
            if pending == Some(0) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert_eq!(
            pending,
            Some(0),
            "{}: the intake log was not applied",
            db.label
        );
        let mut store = vamos_store::open(url).unwrap();
        let rows = store.sql().query("SELECT event_key, count(*) FROM counter_referrals WHERE institution = 'MSPBS' GROUP BY event_key", &[]).unwrap();
        let stored: std::collections::HashMap<String, i64> = rows
            .iter()
            .map(|r| (r.text(0), r.int(1).unwrap()))
            .collect();
        for id in &acked {
            assert_eq!(
                stored.get(id),
                Some(&1),
                "{} acknowledged event {id} missing after SIGKILL",
                db.label
            );
        }
        assert!(stored.values().all(|n| *n == 1));
        // Each stored event was committed with the audit record of its submission.
        let audited: std::collections::HashSet<String> = store
            .sql()
            .query(
                "SELECT subject_id FROM audit_log WHERE action = 'recibir contra-referencias'",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.text(0))
            .collect();
        for r in &store
            .sql()
            .query(
                "SELECT id FROM counter_referrals WHERE channel = 'api'",
                &[],
            )
            .unwrap()
        {
            let id = r.int(0).unwrap().to_string();
            assert!(
                audited.contains(&id),
                "{}: counter-referral {id} stored without its audit record",
                db.label
            );
        }
        let o = vamos(&["audit", "verify", "--db", url], d, &[]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
        // Re-sending what was acknowledged duplicates nothing.
        for id in acked.iter().take(20) {
            let n: usize = id.rsplit('-').next().unwrap().parse().unwrap();
            let body = json!({"event_id": id, "person_id": persons[n % persons.len()], "service": service, "delivered_on": "2026-11-20"});
            assert_eq!(
                call(&s, &his, "post", "/api/counter-referrals", Some(body)).0,
                200,
                "{id}"
            );
        }
        // And a whole acknowledged batch again: all duplicates.
        let first: Vec<Value> = (0..BATCH)
            .map(|k| json!({"event_id": format!("L-{k}"), "person_id": persons[k % persons.len()], "service": service, "delivered_on": "2026-11-20"}))
            .collect();
        let (st, again, _) = call(
            &s,
            &his,
            "post",
            "/api/counter-referrals/batch",
            Some(json!({ "events": first })),
        );
        assert_eq!(st, 200, "{again}");
        assert_eq!(
            (again["accepted"].as_u64(), again["duplicates"].as_u64()),
            (Some(0), Some(BATCH as u64)),
            "{}: {again}",
            db.label
        );
        eprintln!(
            "{}: {} events acknowledged before SIGKILL ({batched} in batches), all present",
            db.label,
            acked.len()
        );
    }
}

/// Waits until the server's updater has applied every counter-referral received.
fn wait_applied(url: &str) {
    let mut s = vamos_store::open(url).unwrap();
    for _ in 0..300 {
        let last = vamos_store::counter_referrals::last_counter_referral(s.sql()).unwrap();
        let (m, _) = s.measurement(None).unwrap().unwrap();
        if m.counter_referrals_applied_through >= last {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("the updater did not apply the counter-referrals within 30 s");
}

/// Waits until `/api/ready` reports the Logros updater's registry in memory as `state`.
fn wait_resident(s: &Server, state: &str) -> Value {
    for _ in 0..300 {
        let (_, v, _) = call(s, &Who::default(), "get", "/api/ready", None);
        if v["resident_registry"]["state"] == state && v["person_places"]["state"] == state {
            return v;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("the registry and the persons' places in memory never became {state}");
}

#[test]
fn incremental_logros_in_memory_and_from_the_database_match_a_new_classification() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    synth(d);
    for db in all_dbs() {
        let url = db.url.as_str();
        let (_, token) = setup(url, d);
        json_out(
            &["referrals", "generate", "--db", url, "--format", "json"],
            d,
        );
        let his = Who {
            bearer: Some(token.clone()),
            ..Who::default()
        };
        let logros = |d: &Path| {
            json_out(
                &[
                    "logros",
                    "--db",
                    url,
                    "--territory",
                    "1116",
                    "--format",
                    "json",
                ],
                d,
            )["logros"]
                .clone()
        };
        let before = logros(d);
        // Events answering Villeta's MSPBS person referrals.
        let s = start(url, d);
        let ready = wait_resident(&s, "ready");
        assert!(
            ready["resident_registry"]["persons"].as_u64().unwrap() > 0,
            "{ready}"
        );
        // Checked and applied with the persons' places in memory too.
        assert!(
            ready["person_places"]["persons"].as_u64().unwrap() > 0,
            "{ready}"
        );
        let (_, list, _) = call(
            &s,
            &his,
            "get",
            "/api/referrals?territory=1116&limit=60",
            None,
        );
        let items = list["items"].as_array().unwrap();
        assert!(items.len() >= 20, "{list}");
        let event = |i: usize, it: &Value| json!({"event_id": format!("EQ-{}-{i}", db.label), "person_id": it["unit_id"], "service": it["service"], "delivered_on": "2026-11-20"});
        let persons: Vec<&Value> = items
            .iter()
            .filter(|i| i["unit_kind"] == "persona")
            .collect();
        assert!(persons.len() >= 10, "{list}");
        let (first, second) = persons.split_at(persons.len() / 2);
        // And, in each batch, an event that moves a community's figures (a health post opened:
        // only `Entorno` rules name it; the synthetic communities have no survey, so their
        // health service is sin dato until then), reported by a resident: the update must
        // measure that community again, and only the units each event reaches (`EventReach`).
        let residents = [first[0]["unit_id"].clone(), second[0]["unit_id"].clone()];
        let batch = |part: &[&Value], from: usize| {
            let mut events: Vec<Value> = part
                .iter()
                .enumerate()
                .map(|(i, it)| event(from + i, it))
                .collect();
            let resident = &residents[usize::from(from > 0)];
            events.push(json!({"event_id": format!("EQ-{}-usf-{from}", db.label), "person_id": resident, "service": "habilitacion_usf", "delivered_on": "2026-11-20"}));
            json!({ "events": events })
        };
        // In memory.
        let (st, sum, _) = call(
            &s,
            &his,
            "post",
            "/api/counter-referrals/batch",
            Some(batch(first, 0)),
        );
        assert_eq!(st, 200, "{sum}");
        assert_eq!(
            sum["accepted"].as_u64().unwrap() as usize,
            first.len() + 1,
            "{sum}"
        );
        wait_applied(url);
        drop(s);
        // From the database (the registry in memory turned off).
        let s = start_with(url, d, &[("VAMOS_RESIDENT_REGISTRY", "false")]);
        wait_resident(&s, "off");
        let (st, sum, _) = call(
            &s,
            &his,
            "post",
            "/api/counter-referrals/batch",
            Some(batch(second, first.len())),
        );
        assert_eq!(st, 200, "{sum}");
        assert_eq!(
            sum["accepted"].as_u64().unwrap() as usize,
            second.len() + 1,
            "{sum}"
        );
        wait_applied(url);
        drop(s);
        let updated = logros(d);
        assert_ne!(updated, before, "{}: the events moved no figure", db.label);
        // The communities' health service moved (the events reached them).
        let health = |l: &Value| {
            l.as_array()
                .and_then(|a| a.iter().find(|x| x["logro"] == 10))
                .and_then(|x| x["services"].as_array())
                .and_then(|s| s.iter().find(|x| x["service"] == "salud_cercana"))
                .map(|x| x["protected"].as_u64().unwrap_or(0))
                .unwrap_or(0)
        };
        assert!(
            health(&updated) > health(&before),
            "{}: no community's health service moved",
            db.label
        );
        // A new classification of the same date counts the same counter-referrals.
        let o = vamos(&["classify", "--db", url, "--as-of", "2026-11-23"], d, &[]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(
            logros(d),
            updated,
            "{}: incremental figures differ from a new classification",
            db.label
        );
    }
}
