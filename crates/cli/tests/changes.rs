//! Change requests end to end, on every backend, through `vamos changes …` as named accounts:
//! each type requested by an orientador or a Mesa member, approved by UTGS analysts (two for
//! the structural ones), and then visible in the unit's history; corrections and dated changes;
//! the merge of two registrations of one person whose referrals, counter-referrals and
//! administrative records end up on the survivor. The refusals (self-approval, conflicts, stale
//! requests, scope, documents) are in `attacks_changes.rs`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod changes_site;
mod common;

use changes_site::*;
use vamos_domain::versions::UnitStatus;
use vamos_store::versions;

#[test]
fn a_person_correction_is_approved_and_rewrites_the_current_version() {
    for s in sites() {
        let (h, members) = s.household_with(2);
        let p = members[0];
        let id = s.ask(
            "ori",
            &Ask::new("corregir_persona", &[p])
                .set("given_names=Ana Corregida")
                .correction()
                .reason("error de tipeo en la FIPS")
                .doc("cedula", "ci.pdf", PDF),
        );
        let shown = s.ok("ana1", &["changes", "show", &id.to_string()]);
        let pv = &shown["vista_previa"][0];
        assert_eq!(pv["cambios"][0]["campo"], "given_names", "{}", s.label());
        assert_eq!(
            pv["cambios"][0]["despues"],
            "Ana Corregida",
            "{}",
            s.label()
        );
        let done = s.ok("ana1", &["changes", "approve", &id.to_string()]);
        assert_eq!(done["estado"], "aplicada", "{}", s.label());
        let vs = versions::person_versions(&mut s.store().db(), p).unwrap();
        assert_eq!(vs.len(), 2, "{}", s.label());
        assert_eq!(vs[1].0.given_names, "Ana Corregida", "{}", s.label());
        assert_eq!(
            vs[1].1.valid_from,
            vs[0].1.valid_from,
            "{}: a correction keeps the date",
            s.label()
        );
        assert_eq!(vs[1].1.change_id, Some(id), "{}", s.label());
        assert_eq!(s.active_members(h), members.len(), "{}", s.label());
    }
}

#[test]
fn a_household_move_from_a_date_writes_a_version_valid_from_that_date() {
    for s in sites() {
        let (h, _) = s.household_with(1);
        let id = s.ask(
            "ori",
            &Ask::new("mudar_hogar", &[h])
                .set("address=Calle Nueva 123")
                .since("01/10/2026")
                .reason("se mudaron"),
        );
        s.ok("ana1", &["changes", "approve", &id.to_string()]);
        let vs = versions::household_versions(&mut s.store().db(), h).unwrap();
        assert_eq!(vs.len(), 2, "{}", s.label());
        assert_eq!(
            vs[1].0.address.as_deref(),
            Some("Calle Nueva 123"),
            "{}",
            s.label()
        );
        assert_eq!(vs[1].1.valid_from, Some(d("2026-10-01")), "{}", s.label());
        assert_ne!(
            vs[0].0.address.as_deref(),
            Some("Calle Nueva 123"),
            "{}",
            s.label()
        );
    }
}

#[test]
fn adding_a_member_registers_a_new_person_from_the_date_given() {
    for s in sites() {
        let (h, members) = s.household_with(1);
        let id = s.ask(
            "mesa",
            &Ask::new("agregar_miembro", &[h])
                .set("given_names=Bebé")
                .set("family_names=Nuevo")
                .set("birth_date=2026-09-15")
                .set("sex=mujer")
                .set("relationship=hijo")
                .since("2026-09-15")
                .reason("nacimiento")
                .doc("certificado_nacimiento", "acta.png", PNG),
        );
        s.ok("ana1", &["changes", "approve", &id.to_string()]);
        assert_eq!(s.active_members(h), members.len() + 1, "{}", s.label());
    }
}

#[test]
fn removing_a_member_and_a_death_leave_them_out_of_the_household() {
    for s in sites() {
        let (h, members) = s.household_with(3);
        let id = s.ask(
            "ori",
            &Ask::new("retirar_miembro", &[members[1]])
                .since("2026-10-01")
                .reason("se fue a trabajar afuera")
                .doc("declaracion", "nota.jpg", JPEG),
        );
        s.ok("ana1", &["changes", "approve", &id.to_string()]);
        let id = s.ask(
            "ori",
            &Ask::new("marcar_fallecimiento", &[members[2]])
                .since("2026-10-02")
                .reason("falleció")
                .doc("certificado_defuncion", "acta.pdf", PDF),
        );
        s.ok("ana2", &["changes", "approve", &id.to_string()]);
        assert_eq!(s.active_members(h), members.len() - 2, "{}", s.label());
        let (_, m) = versions::person(&mut s.store().db(), members[2])
            .unwrap()
            .unwrap();
        assert_eq!(m.status, UnitStatus::Fallecido, "{}", s.label());
        assert_eq!(m.valid_from, Some(d("2026-10-02")), "{}", s.label());
    }
}

#[test]
fn a_transfer_moves_a_member_to_another_household() {
    for s in sites() {
        let (h1, m1) = s.household_with(2);
        let (h2, m2) = s.other_household(h1);
        let id = s.ask(
            "ori",
            &Ask::new("trasladar_miembro", &[m1[1], h2])
                .set("relationship=otro_pariente")
                .since("2026-10-01")
                .reason("se mudó con su tía")
                .doc("declaracion", "nota.pdf", PDF),
        );
        s.ok("ana1", &["changes", "approve", &id.to_string()]);
        assert_eq!(s.active_members(h1), m1.len() - 1, "{}", s.label());
        assert_eq!(s.active_members(h2), m2.len() + 1, "{}", s.label());
    }
}

#[test]
fn changing_the_head_swaps_the_relationships() {
    for s in sites() {
        let (h, members) = s.household_with(2);
        let head = s.head_of(h);
        let new_head = *members.iter().find(|m| Some(**m) != head).unwrap();
        let id = s.ask(
            "ori",
            &Ask::new("cambiar_jefe", &[h, new_head])
                .set("relacion_anterior=conyuge")
                .since("2026-10-01")
                .reason("cambio de jefatura")
                .doc("declaracion", "nota.pdf", PDF),
        );
        s.ok("ana1", &["changes", "approve", &id.to_string()]);
        assert_eq!(s.head_of(h), Some(new_head), "{}", s.label());
    }
}

#[test]
fn a_split_needs_two_approvals_and_makes_a_new_household() {
    for s in sites() {
        let (h, members) = s.household_with(3);
        let before = s.household_count();
        let chosen = format!("{},{}", members[1], members[2]);
        let id = s.ask(
            "mesa",
            &Ask::new("dividir_hogar", &[h])
                .set(&format!("members={chosen}"))
                .since("2026-10-01")
                .reason("formaron su propio hogar")
                .doc("declaracion", "nota.pdf", PDF),
        );
        let first = s.ok("ana1", &["changes", "approve", &id.to_string()]);
        assert_eq!(first["estado"], "pendiente", "{}", s.label());
        let done = s.ok("ana2", &["changes", "approve", &id.to_string()]);
        assert_eq!(done["estado"], "aplicada", "{}", s.label());
        assert_eq!(s.household_count(), before + 1, "{}", s.label());
        assert_eq!(s.active_members(h), members.len() - 2, "{}", s.label());
    }
}

#[test]
fn merging_two_households_moves_the_members_to_the_survivor() {
    for s in sites() {
        let (dup, dm) = s.household_with(1);
        let (survivor, sm) = s.other_household(dup);
        let id = s.ask(
            "mesa",
            &Ask::new("fusionar_hogares", &[dup, survivor])
                .correction()
                .reason("registrado dos veces"),
        );
        s.ok("ana1", &["changes", "approve", &id.to_string()]);
        s.ok("ana2", &["changes", "approve", &id.to_string()]);
        assert_eq!(
            s.active_members(survivor),
            sm.len() + dm.len(),
            "{}",
            s.label()
        );
        let (_, m) = versions::household(&mut s.store().db(), dup)
            .unwrap()
            .unwrap();
        assert_eq!(m.status, UnitStatus::Fusionado, "{}", s.label());
        assert_eq!(m.merged_into, Some(survivor), "{}", s.label());
    }
}

#[test]
fn merging_two_registrations_of_a_person_moves_referrals_and_evidence_to_the_survivor() {
    for s in sites() {
        let (h1, m1) = s.household_with(1);
        let (h2, _) = s.other_household(h1);
        let dup = m1[0];
        let survivor = s.members(h2)[0];
        let (referral, counter, admin) = s.evidence_for(dup);
        let id = s.ask(
            "mesa",
            &Ask::new("fusionar_personas", &[dup, survivor])
                .correction()
                .reason("misma cédula"),
        );
        s.ok("ana1", &["changes", "approve", &id.to_string()]);
        s.ok("ana2", &["changes", "approve", &id.to_string()]);
        let mut st = s.store();
        let refs = vamos_store::changes::person_referrals(&mut st.db(), survivor).unwrap();
        assert!(
            refs.iter().any(|(r, _)| *r == referral),
            "{}: {refs:?}",
            s.label()
        );
        assert!(
            vamos_store::changes::person_referrals(&mut st.db(), dup)
                .unwrap()
                .is_empty(),
            "{}",
            s.label()
        );
        let (c, a) = vamos_store::changes::person_evidence_counts(&mut st.db(), survivor).unwrap();
        assert!(c >= 1 && a >= 1, "{}: {c} {a}", s.label());
        assert_eq!(
            vamos_store::changes::person_evidence_counts(&mut st.db(), dup).unwrap(),
            (0, 0),
            "{}",
            s.label()
        );
        let _ = (counter, admin);
        let (_, m) = versions::person(&mut st.db(), dup).unwrap().unwrap();
        assert_eq!(m.status, UnitStatus::Fusionado, "{}", s.label());
        assert_eq!(m.merged_into, Some(survivor), "{}", s.label());
    }
}

#[test]
fn a_death_closes_the_persons_open_referrals_with_the_reason() {
    for s in sites() {
        let (_, members) = s.household_with(1);
        let p = members[0];
        let (referral, _, _) = s.evidence_for(p);
        let id = s.ask(
            "ori",
            &Ask::new("marcar_fallecimiento", &[p])
                .since("2026-10-02")
                .reason("falleció")
                .doc("certificado_defuncion", "acta.pdf", PDF),
        );
        s.ok("ana1", &["changes", "approve", &id.to_string()]);
        let refs = vamos_store::changes::person_referrals(&mut s.store().db(), p).unwrap();
        let status = refs
            .iter()
            .find(|(r, _)| *r == referral)
            .map(|(_, st)| st.clone());
        assert_eq!(status.as_deref(), Some("cerrada"), "{}", s.label());
    }
}

#[test]
fn an_applied_change_reaches_the_latest_measurements_logros_at_once() {
    for s in sites() {
        let measured = s.ok("admin", &["classify", "--as-of", "2026-12-01"]);
        let m = measured["measurement"].as_i64().unwrap();
        let (h, members) = s.household_with(3);
        // The latest stored figures after each approval are those a fresh classification
        // computes (which then becomes the latest).
        let check = |step: &str| {
            let mut store = s.store();
            let parse = |rows: Vec<(u16, String)>| -> Vec<(u16, serde_json::Value)> {
                rows.into_iter()
                    .map(|(d, j)| (d, serde_json::from_str(&j).unwrap()))
                    .collect()
            };
            let (_, refreshed) = store.measurement(None).unwrap().unwrap();
            let fresh = s.ok("admin", &["classify", "--as-of", "2026-12-01"]);
            let (_, expected) = store
                .measurement(fresh["measurement"].as_i64())
                .unwrap()
                .unwrap();
            let (refreshed, expected) = (parse(refreshed), parse(expected));
            for ((d, a), (_, b)) in refreshed.iter().zip(&expected) {
                assert!(a == b, "{}: after {step}, district {d} differs", s.label());
            }
            assert_eq!(refreshed.len(), expected.len(), "{}", s.label());
        };
        let id = s.ask(
            "ana1",
            &Ask::new("mudar_hogar", &[h])
                .set(&format!("community_id={}", s.community_in(1602)))
                .since("2026-11-25")
                .reason("se mudaron a otro distrito piloto"),
        );
        let done = s.ok("ana2", &["changes", "approve", &id.to_string()]);
        assert_eq!(done["logros"]["measurement"], m, "{}", s.label());
        assert_eq!(
            done["logros"]["districts"],
            serde_json::json!(["1116", "1602"]),
            "{}",
            s.label()
        );
        check("the move");
        let death = s.ask(
            "ana2",
            &Ask::new("marcar_fallecimiento", &[members[0]])
                .since("2026-11-26")
                .reason("falleció")
                .doc("certificado_defuncion", "acta.pdf", PDF),
        );
        s.ok("ana1", &["changes", "approve", &death.to_string()]);
        check("the death");
    }
}

#[test]
fn a_move_keeps_the_households_district_and_community_together() {
    for s in sites() {
        let (h, _) = s.household_with(1);
        let other = s.community_in(1602);
        let move_to = || {
            Ask::new("mudar_hogar", &[h])
                .since("2026-11-25")
                .reason("mudanza")
        };
        let err = s.ask_refused("ana1", &move_to().set("district_code=1602"));
        assert!(
            err.contains("indique también la comunidad"),
            "{}: {err}",
            s.label()
        );
        let err = s.ask_refused(
            "ana1",
            &move_to()
                .set("district_code=1116")
                .set(&format!("community_id={other}")),
        );
        assert!(err.contains("es del distrito 1602"), "{}: {err}", s.label());
        let id = s.ask("ana1", &move_to().set(&format!("community_id={other}")));
        s.ok("ana2", &["changes", "approve", &id.to_string()]);
        let (now, _) = versions::household(&mut s.store().db(), h)
            .unwrap()
            .unwrap();
        assert_eq!(now.district.get(), 1602, "{}", s.label());
        assert_eq!(now.community_id, other, "{}", s.label());
    }
}

#[test]
fn the_list_filters_by_state_and_type_and_exports_csv() {
    for s in sites() {
        let (h, _) = s.household_with(1);
        let id = s.ask(
            "ori",
            &Ask::new("mudar_hogar", &[h])
                .set("address=Otra")
                .correction()
                .reason("dirección mal escrita"),
        );
        let list = s.ok(
            "ana1",
            &[
                "changes",
                "list",
                "--estado",
                "pendiente",
                "--tipo",
                "mudar_hogar",
            ],
        );
        let items = list["solicitudes"].as_array().unwrap();
        assert!(items.iter().any(|r| r["id"] == id), "{}", s.label());
        let none = s.ok("ana1", &["changes", "list", "--estado", "aplicada"]);
        assert!(
            none["solicitudes"].as_array().unwrap().is_empty(),
            "{}",
            s.label()
        );
        let csv = s.text("ana1", &["changes", "list", "--csv"]);
        // UTF-8 with BOM, so a spreadsheet shows the accents.
        assert!(csv.starts_with("\u{feff}id,tipo,"), "{}", s.label());
        assert!(csv.contains("mudar_hogar"), "{}", s.label());
    }
}
