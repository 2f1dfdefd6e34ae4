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
        let id = s.request(
            "ori",
            &[
                "--tipo",
                "corregir_persona",
                "--unidad",
                &p.to_string(),
                "--set",
                "given_names=Ana Corregida",
                "--efecto",
                "correccion",
                "--motivo",
                "error de tipeo en la FIPS",
            ],
            &[("cedula", "ci.pdf", PDF)],
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
        let id = s.request(
            "ori",
            &[
                "--tipo",
                "mudar_hogar",
                "--unidad",
                &h.to_string(),
                "--set",
                "address=Calle Nueva 123",
                "--efecto",
                "cambio",
                "--desde",
                "01/10/2026",
                "--motivo",
                "se mudaron",
            ],
            &[],
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
        let id = s.request(
            "mesa",
            &[
                "--tipo",
                "agregar_miembro",
                "--unidad",
                &h.to_string(),
                "--set",
                "given_names=Bebé",
                "--set",
                "family_names=Nuevo",
                "--set",
                "birth_date=2026-09-15",
                "--set",
                "sex=mujer",
                "--set",
                "relationship=hijo",
                "--efecto",
                "cambio",
                "--desde",
                "2026-09-15",
                "--motivo",
                "nacimiento",
            ],
            &[("certificado_nacimiento", "acta.png", PNG)],
        );
        s.ok("ana1", &["changes", "approve", &id.to_string()]);
        assert_eq!(s.active_members(h), members.len() + 1, "{}", s.label());
    }
}

#[test]
fn removing_a_member_and_a_death_leave_them_out_of_the_household() {
    for s in sites() {
        let (h, members) = s.household_with(3);
        let id = s.request(
            "ori",
            &[
                "--tipo",
                "retirar_miembro",
                "--unidad",
                &members[1].to_string(),
                "--efecto",
                "cambio",
                "--desde",
                "2026-10-01",
                "--motivo",
                "se fue a trabajar afuera",
            ],
            &[("declaracion", "nota.jpg", JPEG)],
        );
        s.ok("ana1", &["changes", "approve", &id.to_string()]);
        let id = s.request(
            "ori",
            &[
                "--tipo",
                "marcar_fallecimiento",
                "--unidad",
                &members[2].to_string(),
                "--efecto",
                "cambio",
                "--desde",
                "2026-10-02",
                "--motivo",
                "falleció",
            ],
            &[("certificado_defuncion", "acta.pdf", PDF)],
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
        let id = s.request(
            "ori",
            &[
                "--tipo",
                "trasladar_miembro",
                "--unidad",
                &m1[1].to_string(),
                "--unidad",
                &h2.to_string(),
                "--set",
                "relationship=otro_pariente",
                "--efecto",
                "cambio",
                "--desde",
                "2026-10-01",
                "--motivo",
                "se mudó con su tía",
            ],
            &[("declaracion", "nota.pdf", PDF)],
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
        let id = s.request(
            "ori",
            &[
                "--tipo",
                "cambiar_jefe",
                "--unidad",
                &h.to_string(),
                "--unidad",
                &new_head.to_string(),
                "--set",
                "relacion_anterior=conyuge",
                "--efecto",
                "cambio",
                "--desde",
                "2026-10-01",
                "--motivo",
                "cambio de jefatura",
            ],
            &[("declaracion", "nota.pdf", PDF)],
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
        let id = s.request(
            "mesa",
            &[
                "--tipo",
                "dividir_hogar",
                "--unidad",
                &h.to_string(),
                "--set",
                &format!("members={chosen}"),
                "--efecto",
                "cambio",
                "--desde",
                "2026-10-01",
                "--motivo",
                "formaron su propio hogar",
            ],
            &[("declaracion", "nota.pdf", PDF)],
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
        let id = s.request(
            "mesa",
            &[
                "--tipo",
                "fusionar_hogares",
                "--unidad",
                &dup.to_string(),
                "--unidad",
                &survivor.to_string(),
                "--efecto",
                "correccion",
                "--motivo",
                "registrado dos veces",
            ],
            &[],
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
        let id = s.request(
            "mesa",
            &[
                "--tipo",
                "fusionar_personas",
                "--unidad",
                &dup.to_string(),
                "--unidad",
                &survivor.to_string(),
                "--efecto",
                "correccion",
                "--motivo",
                "misma cédula",
            ],
            &[],
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
        let id = s.request(
            "ori",
            &[
                "--tipo",
                "marcar_fallecimiento",
                "--unidad",
                &p.to_string(),
                "--efecto",
                "cambio",
                "--desde",
                "2026-10-02",
                "--motivo",
                "falleció",
            ],
            &[("certificado_defuncion", "acta.pdf", PDF)],
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
fn the_list_filters_by_state_and_type_and_exports_csv() {
    for s in sites() {
        let (h, _) = s.household_with(1);
        let id = s.request(
            "ori",
            &[
                "--tipo",
                "mudar_hogar",
                "--unidad",
                &h.to_string(),
                "--set",
                "address=Otra",
                "--efecto",
                "correccion",
                "--motivo",
                "dirección mal escrita",
            ],
            &[],
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
        assert!(csv.starts_with("id,tipo,"), "{}", s.label());
        assert!(csv.contains("mudar_hogar"), "{}", s.label());
    }
}
