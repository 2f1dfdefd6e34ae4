//! Adversarial tests of change requests, on every backend: maker-checker (no self-approval, no
//! approval by a role the type does not name), conflicts between open requests, stale requests,
//! documents of the wrong type or size, units and requests outside the caller's territories
//! answered exactly like missing ones, formula injection in the CSV export.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod changes_site;
mod common;

use changes_site::*;
use vamos_store::testing::RawSql;

fn correct(s: &Site, user: &str, p: i64, field: &str, value: &str) -> i64 {
    s.ask(
        user,
        &Ask::new("corregir_persona", &[p])
            .set(&format!("{field}={value}"))
            .correction()
            .reason("error de tipeo")
            .doc("cedula", "ci.pdf", PDF),
    )
}

#[test]
fn a_requester_cannot_approve_their_own_request() {
    for s in sites() {
        let (_, m) = s.household_with(1);
        let id = correct(&s, "ana1", m[0], "given_names", "Ana");
        let err = s.refused("ana1", &["changes", "approve", &id.to_string()]);
        assert!(err.contains("propia solicitud"), "{}: {err}", s.label());
        let err = s.refused(
            "ana1",
            &["changes", "reject", &id.to_string(), "--motivo", "no"],
        );
        assert!(err.contains("propia solicitud"), "{}: {err}", s.label());
        s.ok("ana2", &["changes", "approve", &id.to_string()]);
    }
}

#[test]
fn an_orientador_or_mesa_member_cannot_approve() {
    for s in sites() {
        let (_, m) = s.household_with(1);
        let id = correct(&s, "ana1", m[0], "given_names", "Ana");
        for who in ["ori", "mesa"] {
            let err = s.refused(who, &["changes", "approve", &id.to_string()]);
            assert!(
                err.contains("no permite") || err.contains("no puede aprobar"),
                "{}: {err}",
                s.label()
            );
        }
    }
}

#[test]
fn approving_without_a_named_account_is_refused() {
    for s in sites() {
        let (_, m) = s.household_with(1);
        let id = correct(&s, "ori", m[0], "given_names", "Ana");
        let err = s.refused("", &["changes", "approve", &id.to_string()]);
        assert!(err.contains("cuenta con nombre"), "{}: {err}", s.label());
    }
}

#[test]
fn a_second_open_request_on_the_same_field_is_refused_naming_the_first() {
    for s in sites() {
        let (_, m) = s.household_with(1);
        let first = correct(&s, "ori", m[0], "given_names", "Ana");
        let err = s.ask_refused(
            "mesa",
            &Ask::new("corregir_persona", &[m[0]])
                .set("given_names=Otra")
                .correction()
                .reason("x")
                .doc("cedula", "ci.pdf", PDF),
        );
        assert!(err.contains(&format!("la {first}")), "{}: {err}", s.label());
        // Another field of the same person is not a conflict.
        correct(&s, "mesa", m[0], "family_names", "Benítez");
    }
}

#[test]
fn a_structural_request_blocks_any_other_request_on_its_units() {
    for s in sites() {
        let (h1, m1) = s.household_with(1);
        let (h2, _) = s.other_household(h1);
        s.ask(
            "mesa",
            &Ask::new("fusionar_hogares", &[h1, h2])
                .correction()
                .reason("duplicado"),
        );
        let err = s.ask_refused(
            "ori",
            &Ask::new("mudar_hogar", &[h2])
                .set("address=X")
                .correction()
                .reason("x"),
        );
        assert!(err.contains("solicitud abierta"), "{}: {err}", s.label());
        let _ = m1;
    }
}

#[test]
fn a_request_whose_unit_changed_since_is_refused_at_approval() {
    for s in sites() {
        let (_, m) = s.household_with(1);
        let first = correct(&s, "ori", m[0], "given_names", "Ana");
        let second = correct(&s, "ori", m[0], "family_names", "Benítez");
        s.ok("ana1", &["changes", "approve", &first.to_string()]);
        let err = s.refused("ana1", &["changes", "approve", &second.to_string()]);
        assert!(
            err.contains("revise de nuevo la vista previa"),
            "{}: {err}",
            s.label()
        );
        let shown = s.ok("ana1", &["changes", "show", &second.to_string()]);
        assert!(
            shown["vista_previa_error"].as_str().is_some(),
            "{}",
            s.label()
        );
    }
}

#[test]
fn a_document_that_is_not_pdf_jpeg_or_png_is_refused_whatever_its_name() {
    for s in sites() {
        let (_, m) = s.household_with(1);
        let err = s.ask_refused(
            "ori",
            &Ask::new("marcar_fallecimiento", &[m[0]])
                .since("2026-10-01")
                .reason("x")
                .doc(
                    "certificado_defuncion",
                    "acta.pdf",
                    b"MZ\x90\x00este no es un PDF",
                ),
        );
        assert!(
            err.contains("no es PDF, JPEG ni PNG"),
            "{}: {err}",
            s.label()
        );
    }
}

#[test]
fn a_document_over_10_mb_is_refused() {
    for s in sites() {
        let (_, m) = s.household_with(1);
        let mut big = PDF.to_vec();
        big.resize(10 * 1024 * 1024 + 1, b'x');
        let err = s.ask_refused(
            "ori",
            &Ask::new("marcar_fallecimiento", &[m[0]])
                .since("2026-10-01")
                .reason("x")
                .doc("certificado_defuncion", "grande.pdf", &big),
        );
        assert!(err.contains("10 MB"), "{}: {err}", s.label());
    }
}

#[test]
fn a_death_without_a_certificate_is_refused() {
    for s in sites() {
        let (_, m) = s.household_with(1);
        let err = s.ask_refused(
            "ori",
            &Ask::new("marcar_fallecimiento", &[m[0]])
                .since("2026-10-01")
                .reason("x")
                .doc("declaracion", "nota.pdf", PDF),
        );
        assert!(
            err.contains("certificado de defunción"),
            "{}: {err}",
            s.label()
        );
    }
}

#[test]
fn units_and_requests_out_of_scope_are_answered_like_missing_ones() {
    for s in sites() {
        let (_, m) = s.household_with(1);
        let ask = |p: i64| {
            Ask::new("corregir_persona", &[p])
                .set("given_names=X")
                .correction()
                .reason("x")
                .doc("cedula", "ci.pdf", PDF)
        };
        let e1 = s.ask_refused("mesa_lejos", &ask(m[0]));
        let e2 = s.ask_refused("mesa_lejos", &ask(99_999_999));
        assert_eq!(
            e1.replace(&m[0].to_string(), "N"),
            e2.replace("99999999", "N"),
            "{}",
            s.label()
        );
        let id = correct(&s, "ori", m[0], "given_names", "Ana");
        let e1 = s.refused("mesa_lejos", &["changes", "show", &id.to_string()]);
        let e2 = s.refused("mesa_lejos", &["changes", "show", "99999999"]);
        assert_eq!(
            e1.replace(&id.to_string(), "N"),
            e2.replace("99999999", "N"),
            "{}",
            s.label()
        );
        let list = s.ok("mesa_lejos", &["changes", "list"]);
        assert!(
            list["solicitudes"].as_array().unwrap().is_empty(),
            "{}",
            s.label()
        );
    }
}

#[test]
fn an_orientador_cannot_request_a_merge() {
    for s in sites() {
        let (h1, _) = s.household_with(1);
        let (h2, _) = s.other_household(h1);
        let err = s.ask_refused(
            "ori",
            &Ask::new("fusionar_hogares", &[h1, h2])
                .correction()
                .reason("x"),
        );
        assert!(err.contains("no puede solicitar"), "{}: {err}", s.label());
    }
}

#[test]
fn the_csv_export_neutralises_formulas() {
    for s in sites() {
        let (h, _) = s.household_with(1);
        s.ask(
            "ori",
            &Ask::new("mudar_hogar", &[h])
                .set("address=X")
                .correction()
                .reason("=HYPERLINK(\"http://x\",\"y\")"),
        );
        let csv = s.text("ana1", &["changes", "list", "--csv"]);
        assert!(csv.contains("'=HYPERLINK"), "{}: {csv}", s.label());
        assert!(!csv.contains(",=HYPERLINK"), "{}", s.label());
    }
}

#[test]
fn a_household_history_out_of_scope_reads_like_a_missing_one_and_is_audited() {
    for s in sites() {
        let (h, _) = s.household_with(1);
        let history =
            |user: &str, id: &str| s.refused(user, &["registry", "history", "--household", id]);
        let far = history("mesa_lejos", &h.to_string());
        let missing = history("mesa_lejos", "99999999");
        assert_eq!(
            far.replace(&h.to_string(), "N"),
            missing.replace("99999999", "N"),
            "{}",
            s.label()
        );
        // A coordinator reads figures, not the registry.
        let e = history("coord", &h.to_string());
        assert!(
            e.contains("no permite leer el registro"),
            "{}: {e}",
            s.label()
        );
        let mut st = s.store();
        let mut db = st.db();
        let outcomes: Vec<String> = db
            .query(
                "SELECT outcome FROM audit_log WHERE actor = 'mesa_lejos (línea de órdenes)'
                 AND action = 'leer historial de hogar' ORDER BY id",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.text(0))
            .collect();
        assert_eq!(
            outcomes,
            vec![
                "denegado: fuera de su ámbito territorial".to_string(),
                "no encontrado".to_string()
            ],
            "{}",
            s.label()
        );
    }
}

#[test]
fn a_household_history_hides_fields_outside_the_agreement_also_in_what_changed() {
    for s in sites() {
        let (h, m) = s.household_with(1);
        let p = m[0];
        let before = s.ok(
            "ana1",
            &["registry", "history", "--household", &h.to_string()],
        );
        let old_id = before["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == p)
            .and_then(|x| x["versions"][0].get("national_id").cloned());
        let id = correct(&s, "ana1", p, "national_id", "7654321");
        s.ok("ana2", &["changes", "approve", &id.to_string()]);
        let id = correct(&s, "ana1", p, "given_names", "Nombre Corregido");
        s.ok("ana2", &["changes", "approve", &id.to_string()]);
        s.text(
            "admin",
            &[
                "agreement",
                "create",
                "--institution",
                "MSPBS",
                "--fields",
                "given_names,family_names,birth_date,district_code",
                "--purpose",
                "controles prenatales",
                "--from",
                "2026-01-01",
                "--to",
                "2030-12-31",
            ],
        );
        let o = common::vamos(
            &[
                "user",
                "create",
                "--db",
                &s.db.url,
                "oper",
                "--role",
                "operador",
                "--institution",
                "MSPBS",
                "--territories",
                "1116",
            ],
            s.dir.path(),
            &[("VAMOS_PASSWORD", common::PW)],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        // The analyst sees the corrected cédula in what changed; the operator does not.
        let full = s.ok(
            "ana1",
            &["registry", "history", "--household", &h.to_string()],
        );
        assert!(
            full.to_string().contains("7654321"),
            "{}: {full}",
            s.label()
        );
        let seen = s.ok(
            "oper",
            &["registry", "history", "--household", &h.to_string()],
        );
        let text = seen.to_string();
        assert!(!text.contains("7654321"), "{}: {text}", s.label());
        if let Some(old) = old_id {
            assert!(!text.contains(&old.to_string()), "{}: {text}", s.label());
        }
        assert!(!text.contains("national_id"), "{}: {text}", s.label());
        assert!(
            text.contains("Nombre Corregido"),
            "{}: a field of the agreement stays visible: {text}",
            s.label()
        );
    }
}
