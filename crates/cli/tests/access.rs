//! Access management end to end, on every backend: classify the pilot districts → generate
//! referrals → an MSPBS token pulls its Villeta list (only MSPBS services, only the agreed
//! fields) → a batch of counter-referrals is posted (the invalid events reported one by one,
//! the same batch again changes nothing) → `vamos logros` and `vamos explain` show the change
//! without a new classification → the funnel counts the served referral; the life cycle; the
//! command-line export and file import. And the durability test: the server is killed with
//! SIGKILL while a load generator posts counter-referrals, then restarted; every event
//! acknowledged before the kill is there, none twice. And the Logros updater, in memory and
//! from the database, against a new classification.
//!
//! One test per behaviour. Each of the three scenarios is a sequence whose steps depend on
//! the ones before (a referral is acknowledged, then answered, then cannot move), so each runs
//! once per backend in a `LazyLock`, keeping what every step answered, and one test checks one
//! step. The durability run starts in the background as soon as any test runs: its load and
//! its kill then overlap the other runs, as the three scenario tests used to.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde_json::{json, Value};
use std::path::Path;
use std::process::Output;
use std::sync::LazyLock;
use std::time::Duration;
use vamos_store::testing::RawSql;
use vamos_store::testing::{all_dbs, TestDb};

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

/// Starts the durability run in the background as soon as any test runs (see the module doc).
fn warm_up() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::thread::spawn(|| LazyLock::force(&KILLED));
    });
}

// ---------------------------------------------------------------------------------------------
// The journey of a referral, on every backend: generated, listed, acknowledged, answered by a
// counter-referral, then the Logros, the funnel, the life cycle, the command line. Each step
// depends on the ones before it, so the journey runs once per backend and keeps what each
// step answered; each test checks one step.

struct Journey {
    /// The measurement id, and what generating referrals answered (then again).
    m: i64,
    generated: Value,
    generated_again: Value,
    /// The counter-referral writer's view of the referrals, once ready.
    intake_referrals: Value,
    /// The MSPBS operator's list of Villeta.
    list: (u16, Value),
    other_institution: u16,
    other_district: Value,
    csv: (u16, Value),
    acknowledged: (u16, Value),
    /// The person referral answered, its service's figures before, its status before.
    rid: i64,
    before: (u64, u64),
    status_before: String,
    batch: (u16, Value),
    batch_again: Value,
    single_again: u16,
    conflict: u16,
    after: (u64, u64),
    logros_after: Value,
    explain_after: Value,
    status_after: String,
    funnel: (u16, Value),
    service: String,
    lifecycle: Option<Lifecycle>,
    served_moved: u16,
    route: (u16, Value),
    export_csv: Output,
    export_xlsx: Output,
    xlsx: Vec<u8>,
    file_import: Value,
    file_import_again: Value,
    generated_after: Value,
    verified: Output,
}

/// Another referral of the list moved by hand: contacted, rejected without then with a
/// reason, then moved again.
struct Lifecycle {
    contacted: (u16, Value),
    rejected_without_reason: u16,
    rejected: (u16, Value),
    moved_when_closed: u16,
}

static JOURNEYS: LazyLock<Vec<Journey>> = LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    synth(d);
    all_dbs().iter().map(|db| journey(&db.url, d)).collect()
});

fn journeys() -> &'static [Journey] {
    warm_up();
    &JOURNEYS
}

#[allow(clippy::too_many_lines)] // reason: a fixture that runs one flow once, each step kept for a test of its own
fn journey(url: &str, d: &Path) -> Journey {
    let (m, token) = setup(url, d);

    // Generate: referrals for every institution, addressed by priority.
    let generated = json_out(
        &["referrals", "generate", "--db", url, "--format", "json"],
        d,
    );
    // Generating again duplicates nothing.
    let generated_again = json_out(
        &["referrals", "generate", "--db", url, "--format", "json"],
        d,
    );

    let monitor = monitoring(url, d, "monitoreo");
    let s = start(url, d);
    // The writer reads which units were referred for which service (those a
    // counter-referral can answer), and says so.
    let mut intake_referrals = Value::Null;
    for _ in 0..300 {
        let (_, ready, _) = call(&s, &monitor, "get", "/api/ready", None);
        intake_referrals = ready["counter_referral_intake"]["referrals"].clone();
        if intake_referrals["state"] == "ready" {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let his = Who {
        bearer: Some(token.clone()),
        ..Who::default()
    };
    // The MSPBS list of Villeta.
    let (st, list, _) = call(
        &s,
        &his,
        "get",
        "/api/referrals?territory=1116&limit=1000",
        None,
    );
    let items = list["items"].as_array().cloned().unwrap_or_default();
    // Another institution's list, another district.
    let other_institution = call(&s, &his, "get", "/api/referrals?institution=MEC", None).0;
    let (_, other_district, _) = call(&s, &his, "get", "/api/referrals?territory=0607", None);
    // CSV download.
    let (csv_st, csv, _) = call(
        &s,
        &his,
        "get",
        "/api/referrals?territory=1116&format=csv",
        None,
    );

    // Acknowledge receipt: emitida → recibida.
    let (ack_st, ack, _) = call(
        &s,
        &his,
        "post",
        "/api/referrals/acknowledge",
        Some(json!({"territory": "1116"})),
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
    let explain = || {
        json_out(
            &[
                "explain",
                "--db",
                url,
                "--person-id",
                &pid.to_string(),
                "--format",
                "json",
            ],
            d,
        )
    };
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
    let status_before = status_of(&explain());

    // The batch: one valid event, three invalid ones.
    let batch = json!({"events": [
        {"event_id": "HIS-1", "person_id": pid, "service": service, "delivered_on": "20/11/2026", "place": "USF Villeta", "place_district": "1116"},
        {"event_id": "HIS-2", "person_id": pid, "service": service, "delivered_on": "31/02/2026"},
        {"event_id": "HIS-3", "person_id": pid, "service": "matricula_escolar", "delivered_on": "2026-11-20"},
        {"event_id": "HIS-4", "person_id": 999_999_999, "service": service, "delivered_on": "2026-11-20"}
    ]});
    let (batch_st, sum, _) = call(
        &s,
        &his,
        "post",
        "/api/counter-referrals/batch",
        Some(batch.clone()),
    );
    // The same batch again.
    let (_, batch_again, _) = call(
        &s,
        &his,
        "post",
        "/api/counter-referrals/batch",
        Some(batch),
    );
    // A single event with the same id, then a conflicting re-use of it.
    let one = json!({"event_id": "HIS-1", "person_id": pid, "service": service, "delivered_on": "2026-11-20", "place": "USF Villeta", "place_district": 1116});
    let single_again = call(&s, &his, "post", "/api/counter-referrals", Some(one)).0;
    let conflict = json!({"event_id": "HIS-1", "person_id": pid, "service": service, "delivered_on": "2026-11-19"});
    let conflict = call(&s, &his, "post", "/api/counter-referrals", Some(conflict)).0;

    // The Logros move without a new classification run (the server's updater, seconds).
    let mut after = before;
    for _ in 0..100 {
        after = service_counts(url, d, "1116", logro, &service);
        if after != before {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let logros_after = json_out(
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
    let explain_after = explain();
    let status_after = status_of(&explain_after);

    // The funnel.
    let (funnel_st, funnel, _) = call(
        &s,
        &his,
        "get",
        "/api/referrals/funnel?territory=1116",
        None,
    );

    // Life cycle: contact, a rejection needs a reason, a closed referral cannot move.
    let open: Vec<i64> = items
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .filter(|i| *i != rid)
        .collect();
    let lifecycle = open.first().map(|other_id| {
        let path = format!("/api/referrals/{other_id}/status");
        let (st, v, _) = call(
            &s,
            &his,
            "post",
            &path,
            Some(json!({"status": "contactada"})),
        );
        let contacted = (st, v);
        let rejected_without_reason = call(
            &s,
            &his,
            "post",
            &path,
            Some(json!({"status": "rechazada"})),
        )
        .0;
        let (st, v, _) = call(
            &s,
            &his,
            "post",
            &path,
            Some(json!({"status": "rechazada", "reason": "la persona se mudó a otro distrito"})),
        );
        let rejected = (st, v);
        let moved_when_closed = call(
            &s,
            &his,
            "post",
            &path,
            Some(json!({"status": "contactada"})),
        )
        .0;
        Lifecycle {
            contacted,
            rejected_without_reason,
            rejected,
            moved_when_closed,
        }
    });
    let served_moved = call(
        &s,
        &his,
        "post",
        &format!("/api/referrals/{rid}/status"),
        Some(json!({"status": "contactada"})),
    )
    .0;

    // The personal route.
    let (route_st, route, _) = call(&s, &his, "get", &format!("/api/persons/{pid}/route"), None);
    drop(s);

    // Command line: export with the agreement, import a Latin-1 ';' file with dd/mm/yyyy.
    let export_csv = vamos(
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
    let export_xlsx = vamos(
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
    let xlsx = std::fs::read(d.join("mspbs.xlsx")).unwrap_or_default();
    let mut file = b"Id Evento;Instituci\xf3n;Persona ID;Servicio;Fecha Entrega;Lugar\n".to_vec();
    file.extend_from_slice(format!("ARCH-1;MSPBS;{pid};{service};21/11/2026;USF\nARCH-2;MSPBS;{pid};{service};32/11/2026;USF\n").as_bytes());
    std::fs::write(d.join("contra.csv"), &file).unwrap();
    let import = || {
        json_out(
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
        )
    };
    let file_import = import();
    let file_import_again = import();

    // The served need does not come back; the audit chain holds.
    let generated_after = json_out(
        &["referrals", "generate", "--db", url, "--format", "json"],
        d,
    );
    let verified = vamos(&["audit", "verify", "--db", url], d, &[]);
    Journey {
        m,
        generated,
        generated_again,
        intake_referrals,
        list: (st, list),
        other_institution,
        other_district,
        csv: (csv_st, csv),
        acknowledged: (ack_st, ack),
        rid,
        before,
        status_before,
        batch: (batch_st, sum),
        batch_again,
        single_again,
        conflict,
        after,
        logros_after,
        explain_after,
        status_after,
        funnel: (funnel_st, funnel),
        service,
        lifecycle,
        served_moved,
        route: (route_st, route),
        export_csv,
        export_xlsx,
        xlsx,
        file_import,
        file_import_again,
        generated_after,
        verified,
    }
}

impl Journey {
    fn items(&self) -> &Vec<Value> {
        self.list.1["items"].as_array().unwrap()
    }

    fn created(&self) -> u64 {
        self.generated["created"].as_u64().unwrap()
    }
}

#[test]
fn referrals_are_generated_from_the_latest_measurement_for_every_institution() {
    for j in journeys() {
        let g = &j.generated;
        assert_eq!(g["measurement"], j.m);
        assert!(j.created() > 0, "{g}");
        assert!(g["by_institution"]["MSPBS"].as_u64().unwrap() > 0, "{g}");
    }
}

#[test]
fn generating_referrals_again_duplicates_nothing() {
    for j in journeys() {
        let again = &j.generated_again;
        assert_eq!(again["created"], 0, "{again}");
        assert_eq!(again["kept"].as_u64().unwrap(), j.created(), "{again}");
    }
}

#[test]
fn the_counter_referral_writer_reads_which_units_were_referred() {
    for j in journeys() {
        let referrals = &j.intake_referrals;
        assert_eq!(referrals["state"], "ready", "{referrals}");
        let pairs = referrals["pairs"].as_u64().unwrap();
        let created = j.created();
        assert!(pairs > 0 && pairs <= created, "{referrals} of {created}");
    }
}

#[test]
fn an_operator_lists_only_its_institutions_referrals_of_its_district_with_the_agreed_fields() {
    for j in journeys() {
        let (st, list) = &j.list;
        assert_eq!(*st, 200, "{list}");
        let items = j.items();
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
    }
}

#[test]
fn referrals_are_listed_by_priority() {
    for j in journeys() {
        let prio: Vec<i64> = j
            .items()
            .iter()
            .map(|i| i["priority"].as_i64().unwrap())
            .collect();
        assert!(prio.windows(2).all(|w| w[0] >= w[1]), "{prio:?}");
    }
}

#[test]
fn another_institutions_referral_list_is_refused() {
    for j in journeys() {
        assert_eq!(j.other_institution, 403);
    }
}

#[test]
fn another_districts_referral_list_is_empty() {
    for j in journeys() {
        let other = &j.other_district;
        assert_eq!(other["total"], 0, "{other}");
    }
}

#[test]
fn referrals_download_as_csv_with_spanish_headers() {
    for j in journeys() {
        let (st, csv) = &j.csv;
        assert_eq!(*st, 200);
        assert!(
            csv.as_str()
                .unwrap()
                .contains("referencia,estado,prioridad"),
            "{csv}"
        );
    }
}

#[test]
fn acknowledging_receipt_acknowledges_the_whole_list() {
    for j in journeys() {
        let (st, ack) = &j.acknowledged;
        assert_eq!(*st, 200, "{ack}");
        assert_eq!(
            ack["acknowledged"].as_u64().unwrap(),
            j.list.1["total"].as_u64().unwrap()
        );
    }
}

#[test]
fn a_referred_person_is_unprotected_before_the_counter_referral() {
    for j in journeys() {
        assert_eq!(j.status_before, "desprotegido");
    }
}

#[test]
fn a_batch_accepts_the_valid_event_and_rejects_the_three_invalid_ones() {
    for j in journeys() {
        let (st, sum) = &j.batch;
        assert_eq!(*st, 200, "{sum}");
        assert_eq!(
            (
                sum["accepted"].as_u64(),
                sum["duplicates"].as_u64(),
                sum["rejected"].as_u64()
            ),
            (Some(1), Some(0), Some(3)),
            "{sum}"
        );
    }
}

#[test]
fn a_batch_names_the_column_of_each_rejected_event() {
    for j in journeys() {
        let sum = &j.batch.1;
        let errors = sum["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 3, "{sum}");
        assert_eq!(errors[0]["column"], "fecha_entrega");
        assert_eq!(errors[0]["value"], "31/02/2026");
        assert_eq!(errors[1]["column"], "servicio");
        assert_eq!(errors[2]["column"], "persona_id");
    }
}

#[test]
fn an_accepted_event_names_the_referral_it_answers() {
    for j in journeys() {
        let sum = &j.batch.1;
        assert_eq!(sum["results"][0]["referral_id"], j.rid, "{sum}");
    }
}

#[test]
fn the_same_batch_again_changes_nothing() {
    for j in journeys() {
        let sum2 = &j.batch_again;
        assert_eq!(
            (
                sum2["accepted"].as_u64(),
                sum2["duplicates"].as_u64(),
                sum2["rejected"].as_u64()
            ),
            (Some(0), Some(1), Some(3)),
            "{sum2}"
        );
    }
}

#[test]
fn a_single_event_is_idempotent_on_its_id() {
    for j in journeys() {
        assert_eq!(j.single_again, 200);
    }
}

#[test]
fn a_conflicting_reuse_of_an_event_id_is_refused() {
    for j in journeys() {
        assert_eq!(j.conflict, 422);
    }
}

#[test]
fn a_counter_referral_moves_the_logros_without_a_new_classification() {
    for j in journeys() {
        let (before, after) = (j.before, j.after);
        assert_eq!(
            after,
            (before.0 + 1, before.1 - 1),
            "{before:?} → {after:?}"
        );
        assert_eq!(
            j.logros_after["measurement"]["id"], j.m,
            "no new measurement"
        );
    }
}

#[test]
fn a_counter_referral_protects_the_person_and_explains_why() {
    for j in journeys() {
        let exp = &j.explain_after;
        assert_eq!(j.status_after, "protegido", "{exp}");
        assert!(
            exp.to_string().contains("contra-referencia (MSPBS)"),
            "{exp}"
        );
    }
}

#[test]
fn the_funnel_shows_the_served_referral() {
    for j in journeys() {
        let (st, f) = &j.funnel;
        assert_eq!(*st, 200, "{f}");
        assert!(f["total"]["served"].as_u64().unwrap() >= 1, "{f}");
        let row = f["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["service"] == j.service.as_str())
            .unwrap();
        assert_eq!(row["institution"], "MSPBS");
        assert!(row["median_days"].is_number(), "{row}");
    }
}

#[test]
fn a_referral_can_be_marked_contacted() {
    for j in journeys() {
        if let Some(l) = &j.lifecycle {
            let (st, v) = &l.contacted;
            assert_eq!(*st, 200, "{v}");
            assert_eq!(v["referral"]["status"], "contactada");
        }
    }
}

#[test]
fn a_rejection_needs_a_reason() {
    for j in journeys() {
        if let Some(l) = &j.lifecycle {
            assert_eq!(l.rejected_without_reason, 409);
        }
    }
}

#[test]
fn a_rejection_with_a_reason_closes_the_referral_into_its_history() {
    for j in journeys() {
        if let Some(l) = &j.lifecycle {
            let (st, v) = &l.rejected;
            assert_eq!(*st, 200, "{v}");
            assert_eq!(v["history"].as_array().unwrap().len(), 4, "{v}");
        }
    }
}

#[test]
fn a_rejected_referral_cannot_move() {
    for j in journeys() {
        if let Some(l) = &j.lifecycle {
            assert_eq!(l.moved_when_closed, 409);
        }
    }
}

#[test]
fn a_served_referral_cannot_move() {
    for j in journeys() {
        assert_eq!(j.served_moved, 409);
    }
}

#[test]
fn the_personal_route_lists_what_is_missing_and_where_to_go() {
    for j in journeys() {
        let (st, route) = &j.route;
        assert_eq!(*st, 200, "{route}");
        assert!(route["route"].as_array().unwrap().len() >= 2, "{route}");
    }
}

#[test]
fn the_command_line_exports_referrals_as_csv_with_the_agreed_fields_only() {
    for j in journeys() {
        let o = &j.export_csv;
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let csv = String::from_utf8_lossy(&o.stdout);
        assert!(csv.contains("persona_given_names"), "{csv}");
        assert!(
            !csv.contains("persona_ingreso"),
            "a field outside the agreement"
        );
    }
}

#[test]
fn the_command_line_exports_referrals_as_xlsx() {
    for j in journeys() {
        let o = &j.export_xlsx;
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(j.xlsx.starts_with(b"PK"));
    }
}

#[test]
fn a_latin1_semicolon_file_of_counter_referrals_imports_and_names_its_bad_row() {
    for j in journeys() {
        let v = &j.file_import;
        assert_eq!(
            (v["accepted"].as_u64(), v["rejected"].as_u64()),
            (Some(1), Some(1)),
            "{v}"
        );
        assert_eq!(v["errors"][0]["row"], 3);
        assert_eq!(v["errors"][0]["file"], "contra.csv");
    }
}

#[test]
fn importing_the_same_counter_referral_file_again_duplicates_nothing() {
    for j in journeys() {
        let v = &j.file_import_again;
        assert_eq!(
            (v["accepted"].as_u64(), v["duplicates"].as_u64()),
            (Some(0), Some(1)),
            "{v}"
        );
    }
}

#[test]
fn a_served_need_is_not_referred_again() {
    for j in journeys() {
        let g = &j.generated_after;
        assert_eq!(g["created"], 0, "{g}");
    }
}

#[test]
fn the_audit_chain_holds_after_the_referral_journey() {
    for j in journeys() {
        let o = &j.verified;
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

// ---------------------------------------------------------------------------------------------
// Durability: the server is killed with SIGKILL while load generators post counter-referrals,
// then restarted. Runs once per backend; each test checks one thing found afterwards.

struct Killed {
    label: &'static str,
    /// The event ids acknowledged as accepted before the kill, and how many came in batches.
    acked: Vec<String>,
    batched: usize,
    /// The intake log's pending events once the restarted writer settled.
    pending: Option<u64>,
    /// How many times each event is stored.
    stored: std::collections::HashMap<String, i64>,
    /// The ids of the counter-referrals received by the API, and the subjects of the audit
    /// records of their submissions.
    api_ids: Vec<String>,
    audited: std::collections::HashSet<String>,
    verified: Output,
    /// Re-sending twenty acknowledged events one by one: the status of each.
    resent: Vec<(String, u16)>,
    /// A whole acknowledged batch again.
    batch_again: (u16, Value),
}

static KILLED: LazyLock<Vec<Killed>> = LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let dbs = all_dbs();
    // Built in the background: should the process end first, nothing is left behind.
    let _at_exit: Vec<AtExit> = dbs
        .iter()
        .map(|db| AtExit::new(&[], &[d], Some(db)))
        .collect();
    synth(d);
    dbs.iter().map(|db| killed(db, d)).collect()
});

fn killed_runs() -> &'static [Killed] {
    warm_up();
    &KILLED
}

fn killed(db: &TestDb, d: &Path) -> Killed {
    let url = db.url.as_str();
    let (_, token) = setup(url, d);
    let s = start(url, d);
    let _killed_at_exit = AtExit::new(&[s.child.id()], &[], None);
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
    std::thread::sleep(Duration::from_millis(1500));
    let mut s = s;
    s.child.kill().unwrap(); // SIGKILL
    s.child.wait().unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acked: Vec<String> = gens.into_iter().flat_map(|g| g.join().unwrap()).collect();
    let batched = acked.iter().filter(|id| id.starts_with("L-")).count();
    drop(s);
    // Restarted: once the writer has applied its intake log.
    let s = start(url, d);
    let _at_exit = AtExit::new(&[s.child.id()], &[], None);
    let monitor = monitoring(url, d, "monitoreo");
    let mut pending = None;
    for _ in 0..300 {
        let (_, ready, _) = call(&s, &monitor, "get", "/api/ready", None);
        pending = ready["counter_referral_intake"]["pending"].as_u64();
        if pending == Some(0) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut store = vamos_store::open(url).unwrap();
    let rows = store.db().query("SELECT event_key, count(*) FROM counter_referrals WHERE institution = 'MSPBS' GROUP BY event_key", &[]).unwrap();
    let stored: std::collections::HashMap<String, i64> = rows
        .iter()
        .map(|r| (r.text(0), r.int(1).unwrap()))
        .collect();
    let audited: std::collections::HashSet<String> = store
        .db()
        .query(
            "SELECT subject_id FROM audit_log WHERE action = 'recibir contra-referencias'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.text(0))
        .collect();
    let api_ids: Vec<String> = store
        .db()
        .query(
            "SELECT id FROM counter_referrals WHERE channel = 'api'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.int(0).unwrap().to_string())
        .collect();
    let verified = vamos(&["audit", "verify", "--db", url], d, &[]);
    // Re-sending what was acknowledged.
    let resent = acked
        .iter()
        .take(20)
        .map(|id| {
            let n: usize = id.rsplit('-').next().unwrap().parse().unwrap();
            let body = json!({"event_id": id, "person_id": persons[n % persons.len()], "service": service, "delivered_on": "2026-11-20"});
            (
                id.clone(),
                call(&s, &his, "post", "/api/counter-referrals", Some(body)).0,
            )
        })
        .collect();
    // And a whole acknowledged batch again.
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
    eprintln!(
        "{}: {} events acknowledged before SIGKILL ({batched} in batches)",
        db.label,
        acked.len()
    );
    Killed {
        label: db.label,
        acked,
        batched,
        pending,
        stored,
        api_ids,
        audited,
        verified,
        resent,
        batch_again: (st, again),
    }
}

#[test]
fn the_load_generators_get_single_and_batch_acknowledgements_before_the_sigkill() {
    for k in killed_runs() {
        assert!(
            k.acked.len() >= 10,
            "the load generator got too few answers: {}",
            k.acked.len()
        );
        assert!(k.batched >= BATCH, "{}: no batch acknowledged", k.label);
    }
}

#[test]
fn the_restarted_writer_applies_its_intake_log() {
    for k in killed_runs() {
        assert_eq!(
            k.pending,
            Some(0),
            "{}: the intake log was not applied",
            k.label
        );
    }
}

#[test]
fn every_acknowledged_counter_referral_survives_a_sigkill_once() {
    for k in killed_runs() {
        for id in &k.acked {
            assert_eq!(
                k.stored.get(id),
                Some(&1),
                "{} acknowledged event {id} missing after SIGKILL",
                k.label
            );
        }
        assert!(k.stored.values().all(|n| *n == 1));
    }
}

#[test]
fn every_stored_counter_referral_was_committed_with_its_audit_record() {
    for k in killed_runs() {
        for id in &k.api_ids {
            assert!(
                k.audited.contains(id),
                "{}: counter-referral {id} stored without its audit record",
                k.label
            );
        }
    }
}

#[test]
fn the_audit_chain_holds_after_a_sigkill() {
    for k in killed_runs() {
        let o = &k.verified;
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    }
}

#[test]
fn resending_acknowledged_events_duplicates_nothing() {
    for k in killed_runs() {
        for (id, st) in &k.resent {
            assert_eq!(*st, 200, "{id}");
        }
    }
}

#[test]
fn a_whole_acknowledged_batch_again_is_all_duplicates() {
    for k in killed_runs() {
        let (st, again) = &k.batch_again;
        assert_eq!(*st, 200, "{again}");
        assert_eq!(
            (again["accepted"].as_u64(), again["duplicates"].as_u64()),
            (Some(0), Some(BATCH as u64)),
            "{}: {again}",
            k.label
        );
    }
}

/// Waits until the server's updater has applied every counter-referral received.
fn wait_applied(url: &str) {
    let mut s = vamos_store::open(url).unwrap();
    for _ in 0..300 {
        let last = vamos_store::counter_referrals::last_counter_referral(&mut s.db()).unwrap();
        let (m, _) = s.measurement(None).unwrap().unwrap();
        if m.counter_referrals_applied_through >= last {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("the updater did not apply the counter-referrals within 30 s");
}

/// Waits until `/api/ready` (asked by `monitor`) reports the Logros updater's registry in
/// memory as `state`.
fn wait_resident(s: &Server, monitor: &Who, state: &str) -> Value {
    for _ in 0..300 {
        let (_, v, _) = call(s, monitor, "get", "/api/ready", None);
        if v["resident_registry"]["state"] == state && v["person_places"]["state"] == state {
            return v;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("the registry and the persons' places in memory never became {state}");
}

// ---------------------------------------------------------------------------------------------
// The Logros updater, with the registry in memory and then from the database, against a new
// classification of the same date. Runs once per backend; each test checks one thing.

struct Incremental {
    label: &'static str,
    /// `/api/ready` once the registry and the persons' places are in memory.
    ready: Value,
    /// Villeta's MSPBS referrals, and how many of them are persons'.
    list: Value,
    persons: usize,
    /// The batch checked with the registry in memory, then the one from the database, and how
    /// many events each carried.
    in_memory: (u16, Value, usize),
    from_database: (u16, Value, usize),
    before: Value,
    updated: Value,
    classified: Output,
    reclassified: Value,
}

static INCREMENTAL: LazyLock<Vec<Incremental>> = LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    synth(d);
    all_dbs().iter().map(|db| incremental(db, d)).collect()
});

fn incremental_runs() -> &'static [Incremental] {
    warm_up();
    &INCREMENTAL
}

fn incremental(db: &TestDb, d: &Path) -> Incremental {
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
    let monitor = monitoring(url, d, "monitoreo");
    let ready = wait_resident(&s, &monitor, "ready");
    let (_, list, _) = call(
        &s,
        &his,
        "get",
        "/api/referrals?territory=1116&limit=60",
        None,
    );
    let items = list["items"].as_array().unwrap();
    let event = |i: usize, it: &Value| json!({"event_id": format!("EQ-{}-{i}", db.label), "person_id": it["unit_id"], "service": it["service"], "delivered_on": "2026-11-20"});
    let persons: Vec<&Value> = items
        .iter()
        .filter(|i| i["unit_kind"] == "persona")
        .collect();
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
    let in_memory = (st, sum, first.len() + 1);
    wait_applied(url);
    drop(s);
    // From the database (the registry in memory turned off).
    let s = start_with(url, d, &[("VAMOS_RESIDENT_REGISTRY", "false")]);
    wait_resident(&s, &monitor, "off");
    let (st, sum, _) = call(
        &s,
        &his,
        "post",
        "/api/counter-referrals/batch",
        Some(batch(second, first.len())),
    );
    let from_database = (st, sum, second.len() + 1);
    wait_applied(url);
    drop(s);
    let updated = logros(d);
    // A new classification of the same date.
    let classified = vamos(&["classify", "--db", url, "--as-of", "2026-11-23"], d, &[]);
    let reclassified = logros(d);
    Incremental {
        label: db.label,
        ready,
        persons: persons.len(),
        list,
        in_memory,
        from_database,
        before,
        updated,
        classified,
        reclassified,
    }
}

#[test]
fn the_updater_keeps_the_registry_and_the_persons_places_in_memory() {
    for r in incremental_runs() {
        let ready = &r.ready;
        assert!(
            ready["resident_registry"]["persons"].as_u64().unwrap() > 0,
            "{ready}"
        );
        // Checked and applied with the persons' places in memory too.
        assert!(
            ready["person_places"]["persons"].as_u64().unwrap() > 0,
            "{ready}"
        );
    }
}

#[test]
fn villeta_has_enough_person_referrals_to_answer() {
    for r in incremental_runs() {
        let list = &r.list;
        assert!(list["items"].as_array().unwrap().len() >= 20, "{list}");
        assert!(r.persons >= 10, "{list}");
    }
}

#[test]
fn a_batch_is_accepted_whole_with_the_registry_in_memory() {
    for r in incremental_runs() {
        let (st, sum, events) = &r.in_memory;
        assert_eq!(*st, 200, "{sum}");
        assert_eq!(sum["accepted"].as_u64().unwrap() as usize, *events, "{sum}");
    }
}

#[test]
fn a_batch_is_accepted_whole_with_the_registry_read_from_the_database() {
    for r in incremental_runs() {
        let (st, sum, events) = &r.from_database;
        assert_eq!(*st, 200, "{sum}");
        assert_eq!(sum["accepted"].as_u64().unwrap() as usize, *events, "{sum}");
    }
}

#[test]
fn counter_referrals_move_the_figures_incrementally() {
    for r in incremental_runs() {
        assert_ne!(
            r.updated, r.before,
            "{}: the events moved no figure",
            r.label
        );
    }
}

#[test]
fn a_health_post_opened_moves_the_communities_health_service() {
    let health = |l: &Value| {
        l.as_array()
            .and_then(|a| a.iter().find(|x| x["logro"] == 10))
            .and_then(|x| x["services"].as_array())
            .and_then(|s| s.iter().find(|x| x["service"] == "salud_cercana"))
            .map(|x| x["protected"].as_u64().unwrap_or(0))
            .unwrap_or(0)
    };
    for r in incremental_runs() {
        assert!(
            health(&r.updated) > health(&r.before),
            "{}: no community's health service moved",
            r.label
        );
    }
}

#[test]
fn incremental_logros_match_a_new_classification() {
    for r in incremental_runs() {
        let o = &r.classified;
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(
            r.reclassified, r.updated,
            "{}: incremental figures differ from a new classification",
            r.label
        );
    }
}
