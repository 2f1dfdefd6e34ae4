//! Territorial rollout (issue 41, Modelo de Gestión §3.2.5): the six processes through which
//! the UTGS's territorial coordinators take each district — prepare the arrival, agree with
//! local actors, install the Mesa de Protección Social, install the Espacios SPS, manage citizen
//! participation, strengthen the sub-national government — each with its status, dates,
//! responsible coordinator and the documents that show it done. A process is marked
//! `completado` only with its date and at least one document: the national view must be
//! believable. The Espacios SPS are not a second list: they are the delivery points of
//! ORIENTACIONES SPS (with what they host and the Mesa that meets there), read from the same
//! table the Orientaciones guide and the routes read.
//!
//! Reading needs `gobernanza:leer`; recording `gobernanza:registrar` within the district.

use crate::{Actor, Error, Result};
use serde::{Deserialize, Serialize};
use vamos_domain::{DistrictCode, Permission, Territory, TerritoryCode};
use vamos_store::governance::{self as sg, Evidence, RolloutStep};
use vamos_store::Store;

/// The six processes (number, name, objective as the Modelo de Gestión states it).
pub const PROCESSES: [(i64, &str, &str); 6] = [
    (1, "Preparación de la llegada territorial", "Organizar y ejecutar las actividades que generan las condiciones para el primer acercamiento y la llegada al territorio."),
    (2, "Contacto y acuerdos con actores locales", "Identificar actores locales y oportunidades de colaboración, y formalizar acuerdos para implementar el SPS en el territorio."),
    (3, "Instalación de la Mesa de Protección Social", "Definir formalmente la conformación de la Mesa, sus integrantes, objetivos y plan de acción."),
    (4, "Instalación de los Espacios SPS", "Disponer de un espacio físico de trabajo integrador para los referentes del dispositivo de atención, sede de ORIENTACIONES SPS."),
    (5, "Gestión de la participación ciudadana", "Generar espacios de participación que involucren a los actores sociales en las decisiones y la gestión del SPS."),
    (6, "Fortalecimiento del gobierno subnacional", "Identificar oportunidades de mejora de las capacidades de gestión del gobierno subnacional para transferirle competencias SPS."),
];

/// Step statuses and their labels.
pub const STATUSES: [(&str, &str); 3] = [
    ("pendiente", "Pendiente"),
    ("en_curso", "En curso"),
    ("completado", "Completado"),
];

const PURPOSE: &str = "despliegue territorial del SPS";

/// A step as shown.
#[derive(Debug, Clone, Serialize)]
pub struct StepView {
    pub process: i64,
    pub name: &'static str,
    pub objective: &'static str,
    pub status: String,
    pub status_label: String,
    pub started_on_es: Option<String>,
    pub completed_on_es: Option<String>,
    pub coordinator: Option<String>,
    pub evidence: Vec<Evidence>,
    pub note: Option<String>,
    pub updated_by: Option<String>,
}

/// A district's rollout.
#[derive(Debug, Clone, Serialize)]
pub struct DistrictRollout {
    pub district: String,
    pub name: String,
    pub department: String,
    pub steps: Vec<StepView>,
    pub completed: usize,
    /// The Espacios SPS of the district: its ORIENTACIONES SPS delivery points, one per place.
    pub espacios: Vec<Espacio>,
    /// The district's Mesa de Protección Social, when the system knows it.
    pub mesa: Option<(String, String)>,
}

/// An Espacio SPS: a delivery point of ORIENTACIONES SPS.
#[derive(Debug, Clone, Serialize)]
pub struct Espacio {
    pub name: String,
    pub address: Option<String>,
    pub hours: Option<String>,
    pub hosted_services: Option<String>,
    pub mesa_body: Option<String>,
}

fn label(s: &str) -> String {
    STATUSES
        .iter()
        .find(|(c, _)| *c == s)
        .map_or(s, |(_, l)| *l)
        .to_string()
}

fn steps_of(recorded: &[RolloutStep], district: i64) -> Vec<StepView> {
    PROCESSES
        .iter()
        .map(|(n, name, objective)| {
            let r = recorded
                .iter()
                .find(|s| s.district == district && s.process == *n);
            StepView {
                process: *n,
                name,
                objective,
                status: r.map_or("pendiente".into(), |r| r.status.clone()),
                status_label: label(r.map_or("pendiente", |r| r.status.as_str())),
                started_on_es: r
                    .and_then(|r| r.started_on.as_deref())
                    .map(crate::clock::date_es),
                completed_on_es: r
                    .and_then(|r| r.completed_on.as_deref())
                    .map(crate::clock::date_es),
                coordinator: r.and_then(|r| r.coordinator.clone()),
                evidence: r.map(|r| r.evidence.clone()).unwrap_or_default(),
                note: r.and_then(|r| r.note.clone()),
                updated_by: r.map(|r| r.updated_by.clone()),
            }
        })
        .collect()
}

/// A district code as written (`DDdd`), or the refusal naming it.
pub(crate) fn district_code(s: &str) -> Result<DistrictCode> {
    DistrictCode::try_from(s.trim())
        .map_err(|e| Error::bad_request(format!("distrito inválido: {e}")))
}

fn espacios(store: &mut dyn Store, d: DistrictCode) -> Result<Vec<Espacio>> {
    let points =
        vamos_store::delivery_points::delivery_points_for(&mut store.db(), &d.to_string())?;
    let mut out: Vec<Espacio> = Vec::new();
    for p in points
        .into_iter()
        .filter(|p| p.service.starts_with("orientaciones_sps") && p.territory == d.to_string())
    {
        if out.iter().any(|e| e.name == p.name) {
            continue;
        }
        out.push(Espacio {
            name: p.name,
            address: p.address,
            hours: p.hours,
            hosted_services: p.hosted_services,
            mesa_body: p.mesa_body,
        });
    }
    Ok(out)
}

fn district_view(
    store: &mut dyn Store,
    d: DistrictCode,
    recorded: &[RolloutStep],
    bodies: &[vamos_store::governance::Body],
) -> Result<DistrictRollout> {
    let t = Territory::official();
    let number = i64::from(d.get());
    let steps = steps_of(recorded, number);
    let code = d.to_string();
    Ok(DistrictRollout {
        name: t.name_of(TerritoryCode::District(d)),
        department: t.name_of(TerritoryCode::Department(d.department())),
        completed: steps.iter().filter(|s| s.status == "completado").count(),
        steps,
        espacios: espacios(store, d)?,
        mesa: bodies
            .iter()
            .find(|b| b.territory == code && b.kind == "mesa_proteccion_social")
            .map(|b| (b.code.clone(), b.name.clone())),
        district: code,
    })
}

/// The national view: every district where a process was recorded or a Mesa is installed
/// (within `territory` when given), each with its six processes; and per process how many
/// of those districts completed it.
#[derive(Debug, Clone, Serialize)]
pub struct National {
    pub districts: Vec<DistrictRollout>,
    pub completed_by_process: Vec<(i64, &'static str, usize)>,
}

/// The national (or a department's) view of the rollout (audited).
pub fn national(store: &mut dyn Store, actor: &Actor, territory: Option<&str>) -> Result<National> {
    actor.require(Permission::GovernanceRead)?;
    let within = crate::registry::parse_territory(territory.filter(|s| !s.trim().is_empty()))?;
    let recorded = sg::rollout(&mut store.db(), &[])?;
    let bodies = sg::bodies(&mut store.db())?;
    let mut numbers: Vec<i64> = recorded.iter().map(|s| s.district).collect();
    numbers.extend(
        bodies
            .iter()
            .filter(|b| b.kind == "mesa_proteccion_social")
            .filter_map(|b| b.territory.parse::<i64>().ok()),
    );
    numbers.sort_unstable();
    numbers.dedup();
    let mut districts = Vec::new();
    for n in numbers {
        let Some(d) = DistrictCode::from_stored(n) else {
            continue;
        };
        if !crate::referrals::territory_within(TerritoryCode::District(d), within) {
            continue;
        }
        districts.push(district_view(store, d, &recorded, &bodies)?);
    }
    let completed_by_process = PROCESSES
        .iter()
        .map(|(n, name, _)| {
            let done = districts
                .iter()
                .filter(|d| {
                    d.steps
                        .iter()
                        .any(|s| s.process == *n && s.status == "completado")
                })
                .count();
            (*n, *name, done)
        })
        .collect();
    actor.audit(
        store,
        "listar",
        "despliegue",
        &within.to_string(),
        PURPOSE,
        "ok",
    )?;
    Ok(National {
        districts,
        completed_by_process,
    })
}

/// District `district`'s rollout (audited).
pub fn district(store: &mut dyn Store, actor: &Actor, district: &str) -> Result<DistrictRollout> {
    actor.require(Permission::GovernanceRead)?;
    let d = district_code(district)?;
    let recorded = sg::rollout(&mut store.db(), &[i64::from(d.get())])?;
    let bodies = sg::bodies(&mut store.db())?;
    let v = district_view(store, d, &recorded, &bodies)?;
    actor.audit(store, "leer", "despliegue", &d.to_string(), PURPOSE, "ok")?;
    Ok(v)
}

/// A coordinator's update of one process (dates `dd/mm/aaaa` or ISO).
#[derive(Debug, Clone, Deserialize, Default)]
pub struct StepInput {
    pub status: String,
    #[serde(default)]
    pub started_on: Option<String>,
    #[serde(default)]
    pub completed_on: Option<String>,
    #[serde(default)]
    pub coordinator: Option<String>,
    /// A document added to the step's evidence (kept with the earlier ones).
    #[serde(default)]
    pub evidence_title: Option<String>,
    #[serde(default)]
    pub evidence_reference: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// Records process `process` of district `district` (`gobernanza:registrar` within it).
#[allow(clippy::too_many_lines)] // reason: one rule per field of the step
pub fn update(
    store: &mut dyn Store,
    actor: &Actor,
    district: &str,
    process: i64,
    s: &StepInput,
) -> Result<DistrictRollout> {
    let d = district_code(district)?;
    let subject = format!("{d}/{process}");
    if let Err(e) = actor.require(Permission::GovernanceRecord) {
        actor.audit(
            store,
            "actualizar",
            "despliegue",
            &subject,
            PURPOSE,
            "denegado",
        )?;
        return Err(e);
    }
    if !actor.operator && !actor.scope.contains(d) {
        actor.audit(
            store,
            "actualizar",
            "despliegue",
            &subject,
            PURPOSE,
            "denegado: fuera de su ámbito",
        )?;
        return Err(Error::forbidden(format!(
            "{} está fuera de su ámbito territorial",
            Territory::official().name_of(TerritoryCode::District(d))
        )));
    }
    if !PROCESSES.iter().any(|(n, _, _)| *n == process) {
        return Err(Error::bad_request("proceso: de 1 a 6"));
    }
    if !STATUSES.iter().any(|(c, _)| *c == s.status) {
        return Err(Error::bad_request(format!(
            "estado: «{}» no es pendiente, en_curso ni completado",
            s.status.chars().take(20).collect::<String>()
        )));
    }
    let number = i64::from(d.get());
    let mut step = sg::rollout(&mut store.db(), &[number])?
        .into_iter()
        .find(|x| x.process == process)
        .unwrap_or(RolloutStep {
            district: number,
            process,
            ..RolloutStep::default()
        });
    use crate::governance::{opt_date as date, opt_text as text};
    if let Some(x) = date(s.started_on.as_deref(), "inicio")? {
        step.started_on = Some(x);
    }
    if let Some(x) = date(s.completed_on.as_deref(), "fin")? {
        step.completed_on = Some(x);
    }
    if let Some(c) = text(s.coordinator.as_deref(), "coordinador", 200)? {
        step.coordinator = Some(c);
    }
    if let Some(n) = text(s.note.as_deref(), "nota", 2000)? {
        step.note = Some(n);
    }
    if let Some(title) = text(s.evidence_title.as_deref(), "documento", 200)? {
        if step.evidence.len() >= 50 {
            return Err(Error::bad_request("como mucho 50 documentos por proceso"));
        }
        step.evidence.push(Evidence {
            title,
            reference: text(
                s.evidence_reference.as_deref(),
                "referencia del documento",
                300,
            )?
            .unwrap_or_default(),
        });
    }
    step.status = s.status.clone();
    match step.status.as_str() {
        "completado" => {
            if step.completed_on.is_none() {
                step.completed_on = Some(crate::clock::today().to_string());
            }
            if step.evidence.is_empty() {
                return Err(Error::bad_request(
                    "un proceso completado necesita al menos un documento que lo muestre (acta, resolución, fotografía, informe)",
                ));
            }
        }
        "en_curso" => {
            step.completed_on = None;
            if step.started_on.is_none() {
                step.started_on = Some(crate::clock::today().to_string());
            }
        }
        _ => step.completed_on = None,
    }
    if let (Some(a), Some(b)) = (&step.started_on, &step.completed_on) {
        if b < a {
            return Err(Error::bad_request("el proceso termina antes de empezar"));
        }
    }
    step.updated_by = actor.name.clone();
    step.updated_at = crate::clock::now_rfc3339();
    sg::put_rollout(&mut store.db(), &step)?;
    actor.audit(
        store,
        "actualizar",
        "despliegue",
        &subject,
        PURPOSE,
        &format!("ok: {}", step.status),
    )?;
    let recorded = sg::rollout(&mut store.db(), &[number])?;
    let bodies = sg::bodies(&mut store.db())?;
    district_view(store, d, &recorded, &bodies)
}
