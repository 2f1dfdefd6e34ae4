//! The clerical review queue of record linkage: pairs of an administrative record and its
//! likeliest registered person whose probability fell between the model's two thresholds. An
//! analyst sees both side by side with the waterfall of the score and accepts (the record gets
//! the person: evidence for its service) or rejects (never proposed again). Every decision is
//! kept as a label — the pairs, their probability and the answer — to evaluate the model and
//! set its thresholds (`labels_csv`).
//!
//! Who: `enlace:revisar` (administrators and analysts) with a field policy that shows every
//! field — comparing identities needs them all —, within the account's territories (a pair
//! outside them reads as absent). Every list, view, decision and export is audited.

use crate::{Actor, Error, Result};
use serde::Serialize;
use serde_json::Value as Json;
use vamos_domain::{FieldPolicy, Permission};
use vamos_store::linkage::{self as stored, Decided, Review, ReviewFilter, Subject};
use vamos_store::Store;

/// Pairs per page.
pub const PAGE: i64 = 25;

/// The states of a pair, with their labels.
pub const STATES: [(&str, &str); 4] = [
    ("pendiente", "pendiente"),
    ("aceptado", "aceptado: la misma persona"),
    ("rechazado", "rechazado: otra persona"),
    ("superado", "superado: el registro se enlazó por otra vía"),
];

/// The label of a state code.
pub fn state_label(code: &str) -> &'static str {
    STATES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or("desconocido", |(_, l)| l)
}

/// The districts the actor may review (`None`: national), after checking it may review at all.
fn reach(actor: &Actor) -> Result<Option<Vec<(i64, i64)>>> {
    actor.require(Permission::LinkageReview)?;
    if actor.operator {
        return Ok(None);
    }
    if actor.role.map(vamos_domain::Role::field_policy) != Some(FieldPolicy::All) {
        return Err(Error::forbidden(
            "revisar pares del enlace requiere ver todos los datos de identificación",
        ));
    }
    Ok((!actor.scope.is_nationwide()).then(|| actor.scope.district_ranges()))
}

/// One side of a pair, as shown.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    pub id: i64,
    pub cedula: Option<String>,
    pub nombres: Option<String>,
    pub apellidos: Option<String>,
    /// `dd/mm/aaaa`.
    pub fecha_nacimiento: Option<String>,
    pub sexo: Option<String>,
    pub distrito: Option<String>,
    pub distrito_nombre: Option<String>,
}

fn side(s: &Subject) -> Side {
    let district = s
        .district_code
        .and_then(|d| vamos_domain::DistrictCode::try_from(d.to_string().as_str()).ok());
    Side {
        id: s.id,
        cedula: s.national_id.map(|n| n.to_string()),
        nombres: s.given_names.clone(),
        apellidos: s.family_names.clone(),
        fecha_nacimiento: s.birth_date.as_deref().map(crate::clock::date_es),
        sexo: s.sex.clone(),
        distrito: district.map(|d| d.to_string()),
        distrito_nombre: district.and_then(|d| {
            vamos_domain::Territory::official()
                .district(d)
                .map(|x| x.name.clone())
        }),
    }
}

/// A pair as analysts see it.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub id: i64,
    pub estado: String,
    pub estado_nombre: &'static str,
    pub probabilidad: f64,
    pub modelo: String,
    pub creado_en: String,
    pub decidido_por: Option<String>,
    pub decidido_en: Option<String>,
    /// The administrative record: its institution, service and date with the identity.
    pub institucion: String,
    pub servicio: String,
    pub fecha_evento: String,
    pub registro: Side,
    /// The registered person.
    pub persona: Side,
    /// The score explained comparison by comparison (`vamos_linkage::Waterfall`).
    pub cascada: Json,
}

fn item(r: &Review) -> Item {
    Item {
        id: r.id,
        estado: r.state.clone(),
        estado_nombre: state_label(&r.state),
        probabilidad: r.probability,
        modelo: r.model_version.clone(),
        creado_en: r.created_at.clone(),
        decidido_por: r.decided_by.clone(),
        decidido_en: r.decided_at.clone(),
        institucion: r.institution.clone(),
        servicio: r.service.clone(),
        fecha_evento: crate::clock::date_es(&r.event_date),
        registro: side(&r.record),
        persona: side(&r.person),
        cascada: serde_json::from_str(&r.waterfall).unwrap_or(Json::Null),
    }
}

/// A page of the queue.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    pub pares: Vec<Item>,
    pub total: u64,
    pub pagina: i64,
    pub paginas: i64,
    pub estado: Option<String>,
}

/// The queue in state `state` (every state when `None`), page `page` (from 1), likeliest first.
pub fn list(store: &mut dyn Store, actor: &Actor, state: Option<&str>, page: i64) -> Result<Page> {
    let districts = reach(actor)?;
    if let Some(s) = state {
        if !STATES.iter().any(|(c, _)| *c == s) {
            return Err(Error::bad_request(format!(
                "estado «{}» desconocido; estados: {}",
                vamos_domain::limits::echo(s),
                STATES.map(|(c, _)| c).join(", ")
            )));
        }
    }
    let page = page.max(1);
    let (rows, total) = stored::reviews(
        &mut store.db(),
        &ReviewFilter {
            state: state.map(str::to_string),
            districts,
            limit: PAGE,
            offset: (page - 1).saturating_mul(PAGE),
        },
    )?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.to_string()).collect();
    actor.audit(
        store,
        "consultar la revisión del enlace",
        "enlace",
        &ids.join(","),
        "revisión de pares del enlace de registros",
        &format!("{} pares (de {total})", rows.len()),
    )?;
    Ok(Page {
        pares: rows.iter().map(item).collect(),
        total,
        pagina: page,
        paginas: (total as i64 + PAGE - 1) / PAGE,
        estado: state.map(str::to_string),
    })
}

/// One pair; out of the actor's territories it reads as absent.
pub fn show(store: &mut dyn Store, actor: &Actor, id: i64) -> Result<Item> {
    let districts = reach(actor)?;
    let r = stored::review_by_id(&mut store.db(), id, districts.as_deref())?
        .ok_or_else(|| Error::not_found(format!("no existe el par {id}")))?;
    actor.audit(
        store,
        "ver un par del enlace",
        "enlace",
        &id.to_string(),
        "revisión de pares del enlace de registros",
        "visto",
    )?;
    Ok(item(&r))
}

/// Accepts (`accept`) or rejects pair `id`; the decision is audited and kept as a label.
pub fn decide(store: &mut dyn Store, actor: &Actor, id: i64, accept: bool) -> Result<Item> {
    let districts = reach(actor)?;
    stored::review_by_id(&mut store.db(), id, districts.as_deref())?
        .ok_or_else(|| Error::not_found(format!("no existe el par {id}")))?;
    let at = crate::clock::now_rfc3339();
    let r = stored::decide(&mut store.db(), id, accept, &actor.name, &at);
    let outcome = match &r {
        Ok(Decided::Accepted) => "aceptado: la misma persona".to_string(),
        Ok(Decided::Rejected) => "rechazado: otra persona".to_string(),
        Ok(Decided::Superseded) => {
            "superado: el registro ya tenía persona o la persona ya no está activa".to_string()
        }
        Err(e) => format!("no decidido: {e}"),
    };
    actor.audit(
        store,
        "decidir un par del enlace",
        "enlace",
        &id.to_string(),
        "revisión de pares del enlace de registros",
        &outcome,
    )?;
    if r? == Decided::Superseded {
        return Err(Error::conflict(format!(
            "el registro del par {id} ya tiene una persona, o la persona ya no está activa (fusionada o retirada): el par quedó superado"
        )));
    }
    let r = stored::review_by_id(&mut store.db(), id, districts.as_deref())?
        .ok_or_else(|| Error::not_found(format!("no existe el par {id}")))?;
    Ok(item(&r))
}

/// The decided pairs as CSV (labels: record, person, probability, decision, model), every cell
/// neutralised against formulas. National reviewers only: labels carry no district.
pub fn labels_csv(store: &mut dyn Store, actor: &Actor) -> Result<String> {
    if reach(actor)?.is_some() {
        return Err(Error::forbidden(
            "las etiquetas del enlace son nacionales: las exporta una cuenta de alcance nacional",
        ));
    }
    let rows = stored::labels(&mut store.db())?;
    // A byte-order mark, so that a spreadsheet opens the accents right.
    let mut w = vamos_domain::csv_safe::CsvWriter::from_writer(b"\xEF\xBB\xBF".to_vec());
    w.write_record([
        "registro_administrativo",
        "persona",
        "probabilidad",
        "decision",
        "modelo",
    ])
    .map_err(Error::internal)?;
    for l in &rows {
        w.write_record([
            l.admin_record_id.to_string(),
            l.person_id.to_string(),
            format!("{:.6}", l.probability),
            l.decision.clone(),
            l.model_version.clone(),
        ])
        .map_err(Error::internal)?;
    }
    let bytes = w.into_inner().map_err(Error::internal)?;
    actor.audit(
        store,
        "exportar las etiquetas del enlace",
        "enlace",
        "",
        "evaluar el modelo de enlace y fijar sus umbrales",
        &format!("{} pares decididos", rows.len()),
    )?;
    String::from_utf8(bytes).map_err(Error::internal)
}
