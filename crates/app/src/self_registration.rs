//! Self-registration (step 1C of the operating cycle): a household registered by its own
//! members through the public form waits in a review queue — never directly in the registry —
//! until a UTGS analyst approves it (it is then imported through the simplified-registration
//! importer, with the same validation as a field form; its key `autorregistro:<id>` makes a
//! second approval change nothing) or rejects it with a reason. Every read of the queue and
//! every decision is audited.

use crate::{Actor, Error, ErrorKind, Result};
use chrono::Datelike;
use std::collections::HashMap;
use vamos_domain::limits::Limit;
use vamos_domain::{DistrictCode, ImportKind, Role};
use vamos_store::self_registrations::{self as stored, NewSelfRegistration, SelfRegistration};
use vamos_store::Store;

/// Member slots on the form.
pub const SLOTS: usize = 8;
/// The relationship codes of the simplified form (`relacion` of the FIPS).
pub const RELATIONS: [&str; 11] = [
    "jefe",
    "conyuge",
    "hijo",
    "yerno_nuera",
    "nieto",
    "padre_madre",
    "suegro",
    "hermano",
    "otro_pariente",
    "no_pariente",
    "servicio_domestico",
];
/// Below this age a head or spouse is questioned (a birth date typed wrong, most likely).
pub const MIN_PARTNER_AGE: i32 = 14;
/// Submissions shown in the review queue.
pub const QUEUE_LIMIT: i64 = 100;
const PURPOSE: &str = "revisión del autorregistro";

/// A member as submitted.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Member {
    pub nombres: String,
    pub apellidos: String,
    pub cedula: Option<String>,
    pub fecha_nacimiento: String,
    pub sexo: String,
    pub relacion_jefe: String,
}

/// A valid submission, ready to queue.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    pub district: DistrictCode,
    pub area: Option<String>,
    pub locality: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub members: Vec<Member>,
}

/// Validates the form: the district, the members (names, a real birth date not in the future,
/// sex, relationship, a numeric cédula if any), exactly one head. Errors are message ids with
/// the member's number (`self-error-birth|2`), for the page to translate.
pub fn validate(
    v: &HashMap<String, String>,
    today: chrono::NaiveDate,
) -> std::result::Result<Submission, Vec<String>> {
    let get = |k: &str| v.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
    let mut errors = Vec::new();
    let district = get("distrito")
        .parse::<u16>()
        .ok()
        .and_then(|n| DistrictCode::from_number(n).ok());
    if district.is_none() {
        errors.push("self-error-district|".to_string());
    }
    // The registry places every household in a community (barrio, compañía or localidad).
    if get("localidad").is_empty() {
        errors.push("self-error-locality|".to_string());
    }
    let mut members = Vec::new();
    for i in 0..SLOTS {
        let f = |k: &str| get(&format!("m{i}_{k}"));
        let (nombres, apellidos) = (f("nombres"), f("apellidos"));
        let any = [&nombres, &apellidos, &f("fecha"), &f("cedula")]
            .iter()
            .any(|x| !x.is_empty());
        if !any {
            continue;
        }
        let n = i + 1;
        if nombres.is_empty()
            || apellidos.is_empty()
            || Limit::Name.check(&nombres).is_err()
            || Limit::Name.check(&apellidos).is_err()
        {
            errors.push(format!("self-error-names|{n}"));
        }
        let birth = vamos_ingest::dates::parse_date(&f("fecha")).ok().flatten();
        match birth {
            Some(d) if d <= today && d.year_ce().1 >= 1900 => {}
            _ => errors.push(format!("self-error-birth|{n}")),
        }
        let sexo = f("sexo");
        if sexo != "mujer" && sexo != "hombre" {
            errors.push(format!("self-error-sex|{n}"));
        }
        let rel = f("relacion");
        if !RELATIONS.contains(&rel.as_str()) {
            errors.push(format!("self-error-relation|{n}"));
        }
        let ced = f("cedula").replace(['.', ' '], "");
        if !ced.is_empty() && (ced.len() > 9 || !ced.chars().all(|c| c.is_ascii_digit())) {
            errors.push(format!("self-error-cedula|{n}"));
        }
        members.push(Member {
            nombres,
            apellidos,
            cedula: (!ced.is_empty()).then_some(ced),
            fecha_nacimiento: birth.map(|d| d.to_string()).unwrap_or_default(),
            sexo,
            relacion_jefe: rel,
        });
    }
    // A head or spouse under 14 is almost always a date typed wrong (a five-year-old spouse):
    // the form asks the person to check it, and takes it once they confirm it is right.
    if get("confirmo_edades") != "si" {
        for (i, m) in members.iter().enumerate() {
            let young = chrono::NaiveDate::parse_from_str(&m.fecha_nacimiento, "%Y-%m-%d")
                .ok()
                .is_some_and(|b| vamos_ingest::dates::age_at(b, today) < MIN_PARTNER_AGE);
            if young && (m.relacion_jefe == "conyuge" || m.relacion_jefe == "jefe") {
                errors.push(format!("self-error-young|{}", i + 1));
            }
        }
    }
    if members.is_empty() {
        errors.push("self-error-no-members|".to_string());
    } else if members.iter().filter(|m| m.relacion_jefe == "jefe").count() != 1 {
        errors.push("self-error-head|".to_string());
    }
    // Locality, address and phone: refused when longer than a place may be (they were cut
    // silently before; a person should know what was not kept).
    if ["localidad", "direccion", "telefono"]
        .iter()
        .any(|k| Limit::Place.check(&get(k)).is_err())
    {
        errors.push("self-error-too-long|".to_string());
    }
    let text = |k: &str| Some(get(k)).filter(|s| !s.is_empty());
    match district {
        Some(district) if errors.is_empty() => Ok(Submission {
            district,
            area: text("area").filter(|a| a == "urbana" || a == "rural"),
            locality: text("localidad"),
            address: text("direccion"),
            phone: text("telefono"),
            members,
        }),
        _ => Err(errors),
    }
}

/// An error id of [`validate`] as (message id, member number).
pub fn split_error(e: &str) -> (String, String) {
    match e.split_once('|') {
        Some((k, n)) => (k.to_string(), n.to_string()),
        None => (e.to_string(), String::new()),
    }
}

/// Queues a valid submission as pending; returns its number. The applicant is nobody's
/// account: the audit record names the submission, not persons.
pub fn submit(store: &mut dyn Store, sub: &Submission, at: &str) -> Result<i64> {
    let members = serde_json::to_string(&sub.members).map_err(Error::internal)?;
    let id = stored::insert(
        &mut store.db(),
        &NewSelfRegistration {
            submitted_at: at,
            district_code: i64::from(sub.district.get()),
            area: sub.area.as_deref(),
            locality: sub.locality.as_deref(),
            address: sub.address.as_deref(),
            phone: sub.phone.as_deref(),
            members: &members,
        },
    )?;
    Actor::public().audit(
        store,
        "autorregistro recibido",
        "autorregistro",
        &id.to_string(),
        "registro simplificado (paso 1C)",
        "pendiente de revisión",
    )?;
    Ok(id)
}

/// Whether `actor` may review self-registrations (a task of the UTGS).
pub fn require_reviewer(actor: &Actor) -> Result<()> {
    if matches!(actor.role, Some(Role::Administrador | Role::Analista)) {
        Ok(())
    } else {
        Err(Error::forbidden(
            "la revisión del autorregistro es tarea de la UTGS",
        ))
    }
}

/// The review queue (pending first), with each submission's members; an audited read.
pub fn queue(store: &mut dyn Store, actor: &Actor) -> Result<Vec<(SelfRegistration, Vec<Member>)>> {
    require_reviewer(actor)?;
    let rows = stored::queue(&mut store.db(), QUEUE_LIMIT)?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.to_string()).collect();
    actor.audit(
        store,
        "leer autorregistros",
        "autorregistro",
        &ids.join(","),
        PURPOSE,
        &format!("ok: {}", ids.len()),
    )?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let members = serde_json::from_str(&r.members).unwrap_or_default();
            (r, members)
        })
        .collect())
}

/// For each pending submission of `rows`, the registered persons its members may already be
/// (`vamos_app::linkage::registered`): a reviewer sees them before approving a duplicate. An
/// audited read (it shows registered persons).
pub fn already_registered(
    store: &mut dyn Store,
    actor: &Actor,
    rows: &[(SelfRegistration, Vec<Member>)],
) -> Result<Vec<Vec<crate::linkage::registered::Likely>>> {
    require_reviewer(actor)?;
    let scorer = crate::linkage::registered::Scorer::load(store)?;
    let districts = (!actor.scope.is_nationwide()).then(|| actor.scope.district_ranges());
    let mut out = Vec::with_capacity(rows.len());
    let mut shown = Vec::new();
    for (r, members) in rows {
        if r.status != "pendiente" {
            out.push(Vec::new());
            continue;
        }
        let people: Vec<crate::linkage::registered::NewPerson> = members
            .iter()
            .map(|m| crate::linkage::registered::NewPerson {
                national_id: m.cedula.as_deref().and_then(|c| c.trim().parse().ok()),
                given_names: m.nombres.clone(),
                family_names: m.apellidos.clone(),
                birth_date: m.fecha_nacimiento.clone(),
                sex: m.sexo.clone(),
                district_code: r.district_code,
            })
            .collect();
        let likely =
            crate::linkage::registered::likely(store, &scorer, &people, districts.as_deref())?;
        shown.extend(likely.iter().map(|l| l.person_id.to_string()));
        out.push(likely);
    }
    if !shown.is_empty() {
        actor.audit(
            store,
            "buscar registros existentes",
            "persona",
            &shown.join(","),
            PURPOSE,
            &format!("ok: {} posibles registros existentes", shown.len()),
        )?;
    }
    Ok(out)
}

/// A reviewer's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject { reason: String },
}

/// What a decision did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decided {
    Approved,
    Rejected,
    /// It had been decided before: nothing changed.
    AlreadyDecided,
}

/// Approves (imports the household) or rejects (with its reason) submission `id`. `db_url`
/// is the database the importer opens its own connection to.
pub fn decide(
    store: &mut dyn Store,
    db_url: &str,
    actor: &Actor,
    id: i64,
    decision: &Decision,
) -> Result<Decided> {
    require_reviewer(actor)?;
    let Some(r) = stored::get(&mut store.db(), id)? else {
        return Err(Error::not_found(format!(
            "autorregistro {id} no encontrado"
        )));
    };
    if r.status != "pendiente" {
        return Ok(Decided::AlreadyDecided);
    }
    let now = crate::clock::now_rfc3339();
    let subject = id.to_string();
    if let Decision::Reject { reason } = decision {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(Error::bad_request("indique el motivo del rechazo"));
        }
        Limit::FreeText
            .check(reason)
            .map_err(|e| Error::bad_request(format!("motivo del rechazo: {e}")))?;
        stored::reject(&mut store.db(), id, &actor.name, &now, reason)?;
        actor.audit(
            store,
            "rechazar autorregistro",
            "autorregistro",
            &subject,
            PURPOSE,
            "ok",
        )?;
        return Ok(Decided::Rejected);
    }
    let summary = import_household(db_url, &r, &now)?;
    if !summary.committed {
        let reasons: Vec<String> = summary.rejections_by_reason.keys().cloned().collect();
        actor.audit(
            store,
            "aprobar autorregistro",
            "autorregistro",
            &subject,
            PURPOSE,
            &format!("rechazado por el importador: {}", reasons.join("; ")),
        )?;
        return Err(Error::new(
            ErrorKind::Invalid,
            "autorregistro_invalido",
            format!(
                "el importador rechazó el formulario: {}",
                reasons.join("; ")
            ),
        ));
    }
    stored::approve(&mut store.db(), id, &actor.name, &now, summary.import_id)?;
    actor.audit(
        store,
        "aprobar autorregistro",
        "autorregistro",
        &subject,
        PURPOSE,
        &format!(
            "ok: importación {} ({} personas)",
            summary.import_id.unwrap_or_default(),
            summary.persons_accepted
        ),
    )?;
    Ok(Decided::Approved)
}

/// Imports an approved submission as a simplified-registration form (strict: all or nothing),
/// written as the form's two CSV files in a temporary folder the importer reads.
fn import_household(
    db_url: &str,
    r: &SelfRegistration,
    now: &str,
) -> Result<vamos_ingest::ImportSummary> {
    let dir = tempfile::tempdir().map_err(Error::internal)?;
    let key = format!("autorregistro:{}", r.id);
    let members: Vec<Member> = serde_json::from_str(&r.members).map_err(Error::internal)?;
    let dist = format!("{:04}", r.district_code);
    let opt = |s: &Option<String>| s.clone().unwrap_or_default();
    // Plain `csv::Writer`, not `csv_safe`: these files go straight to the importer and no person
    // opens them, so a phone `+595 981 …` must reach it unchanged (tidy test exemption).
    let write = || -> std::result::Result<(), csv::Error> {
        let mut hh = csv::Writer::from_path(dir.path().join("registro_simplificado.csv"))?;
        hh.write_record([
            "today",
            "ubicacion-departamento",
            "ubicacion-distrito",
            "ubicacion-area",
            "ubicacion-localidad",
            "ubicacion-direccion",
            "contacto-telefono",
            "KEY",
        ])?;
        hh.write_record([
            now.get(..10).unwrap_or(""),
            dist.get(..2).unwrap_or(""),
            &dist,
            &opt(&r.area),
            &opt(&r.locality),
            &opt(&r.address),
            &opt(&r.phone),
            &key,
        ])?;
        hh.flush()?;
        let mut pp = csv::Writer::from_path(dir.path().join("registro_simplificado-miembros.csv"))?;
        pp.write_record([
            "miembros-nombres",
            "miembros-apellidos",
            "miembros-cedula",
            "miembros-fecha_nacimiento",
            "miembros-sexo",
            "miembros-relacion_jefe",
            "PARENT_KEY",
            "KEY",
        ])?;
        for (i, m) in members.iter().enumerate() {
            pp.write_record([
                m.nombres.as_str(),
                m.apellidos.as_str(),
                m.cedula.as_deref().unwrap_or(""),
                m.fecha_nacimiento.as_str(),
                m.sexo.as_str(),
                m.relacion_jefe.as_str(),
                key.as_str(),
                &format!("{key}/miembros[{}]", i + 1),
            ])?;
        }
        pp.flush()?;
        Ok(())
    };
    write().map_err(Error::internal)?;
    let opts = vamos_ingest::ImportOptions {
        kind: ImportKind::Simplificado,
        source: Some("AUTORREGISTRO".into()),
        strict: true,
        synthetic: Some(false),
        import_date: crate::clock::now().date_naive(),
        started_at: now.to_string(),
        rejects: Some(dir.path().join("rechazos.csv")),
        changes: None,
        unmatched: None,
        clock: crate::clock::now_rfc3339,
    };
    let mut store = vamos_store::open(db_url)?;
    vamos_ingest::run_import(
        store.as_mut(),
        &[dir.path().to_path_buf()],
        &opts,
        &vamos_ingest::NoProgress,
    )
    .map_err(|e| Error::bad_request(format!("el formulario no se pudo importar: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_form_needs_a_district_real_members_and_one_head() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let ok = form(&[
            ("distrito", "1116"),
            ("localidad", "Barrio Centro"),
            ("m0_nombres", "Ana"),
            ("m0_apellidos", "Benítez"),
            ("m0_fecha", "04/05/1990"),
            ("m0_sexo", "mujer"),
            ("m0_relacion", "jefe"),
            ("m0_cedula", "4.123.456"),
            ("m1_nombres", "Luis"),
            ("m1_apellidos", "Benítez"),
            ("m1_fecha", "2015-02-01"),
            ("m1_sexo", "hombre"),
            ("m1_relacion", "hijo"),
        ]);
        let sub = validate(&ok, today).unwrap();
        assert_eq!(sub.district.get(), 1116);
        assert_eq!(sub.locality.as_deref(), Some("Barrio Centro"));
        let m = &sub.members;
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].cedula.as_deref(), Some("4123456"));
        assert_eq!(m[0].fecha_nacimiento, "1990-05-04");
        let bad = form(&[
            ("distrito", "9999"),
            ("m0_nombres", "Ana"),
            ("m0_apellidos", ""),
            ("m0_fecha", "31/02/2026"),
            ("m0_sexo", "x"),
            ("m0_relacion", "hijo"),
            ("m0_cedula", "12ab"),
        ]);
        let e = validate(&bad, today).unwrap_err();
        for want in [
            "self-error-district|",
            "self-error-names|1",
            "self-error-birth|1",
            "self-error-sex|1",
            "self-error-cedula|1",
            "self-error-head|",
        ] {
            assert!(e.iter().any(|x| x == want), "{want}: {e:?}");
        }
        assert_eq!(
            validate(&form(&[("distrito", "1116")]), today).unwrap_err(),
            vec![
                "self-error-locality|".to_string(),
                "self-error-no-members|".to_string()
            ]
        );
        assert_eq!(
            split_error("self-error-birth|2"),
            ("self-error-birth".into(), "2".into())
        );
    }

    #[test]
    fn a_five_year_old_spouse_is_questioned_until_the_person_confirms_the_dates() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let mut f = form(&[
            ("distrito", "1116"),
            ("localidad", "Barrio Centro"),
            ("m0_nombres", "Ana"),
            ("m0_apellidos", "Benítez"),
            ("m0_fecha", "04/05/1990"),
            ("m0_sexo", "mujer"),
            ("m0_relacion", "jefe"),
            ("m1_nombres", "Luis"),
            ("m1_apellidos", "Benítez"),
            ("m1_fecha", "01/02/2021"),
            ("m1_sexo", "hombre"),
            ("m1_relacion", "conyuge"),
        ]);
        assert_eq!(
            validate(&f, today).unwrap_err(),
            vec!["self-error-young|2".to_string()]
        );
        f.insert("confirmo_edades".into(), "si".into());
        assert_eq!(validate(&f, today).unwrap().members.len(), 2);
        // A child of five is no question.
        f.remove("confirmo_edades");
        f.insert("m1_relacion".into(), "hijo".into());
        assert!(validate(&f, today).is_ok());
    }

    #[test]
    fn an_oversize_address_in_the_self_registration_form_is_refused() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let long_place = "x".repeat(vamos_domain::limits::PLACE + 1);
        let long_name = "ñ".repeat(vamos_domain::limits::NAME + 1);
        let mut f = form(&[
            ("distrito", "1116"),
            ("localidad", "Barrio Centro"),
            ("m0_apellidos", "Benítez"),
            ("m0_fecha", "04/05/1990"),
            ("m0_sexo", "mujer"),
            ("m0_relacion", "jefe"),
        ]);
        f.insert("m0_nombres".into(), "Ana".into());
        f.insert("direccion".into(), long_place.clone());
        let e = validate(&f, today).unwrap_err();
        assert_eq!(e, vec!["self-error-too-long|".to_string()]);
        f.insert("direccion".into(), long_place[1..].to_string());
        f.insert("m0_nombres".into(), long_name);
        let e = validate(&f, today).unwrap_err();
        assert_eq!(e, vec!["self-error-names|1".to_string()]);
        f.insert("m0_nombres".into(), "Ana".into());
        let sub = validate(&f, today).unwrap();
        assert_eq!(
            sub.address.map(|a| a.chars().count()),
            Some(vamos_domain::limits::PLACE)
        );
    }

    #[test]
    fn only_utgs_analysts_and_administrators_review_self_registrations() {
        let mut a = Actor::public();
        assert!(require_reviewer(&a).is_err());
        for (role, ok) in [
            (Role::Analista, true),
            (Role::Administrador, true),
            (Role::Operador, false),
            (Role::Mesa, false),
        ] {
            a.role = Some(role);
            assert_eq!(require_reviewer(&a).is_ok(), ok, "{role:?}");
        }
    }
}
