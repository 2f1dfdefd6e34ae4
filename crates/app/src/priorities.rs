//! Community priorities (issue 41, Modelo de Gestión §3.6 step 1D, *identificación de las
//! demandas comunitarias con priorización referencial*): each community ranks three needs in
//! its Entorno survey; this module adds them up per district — what communities ask for most,
//! weighted by how many took part — and shows them next to the district's Entorno Logro (Logro
//! 10), for the Mesa and the planners, with a CSV export and links from a priority to a planned
//! strategic action or a budget line (the source's aim: orient resources, mainly Fuente 10).
//!
//! The weight of a ranking is the survey's participants times 3, 2 or 1 for first, second or
//! third place (a survey that did not count its participants counts one participant): a
//! need ranked first by an assembly of 80 outweighs one ranked first by a meeting of five.
//! Each community counts with its latest survey. Communities are places, not persons: the
//! figures are aggregates, read with `gobernanza:leer`; linking needs `planes:editar`.

use crate::{Actor, Error, Result};
use serde::{Deserialize, Serialize};
use vamos_domain::{DistrictCode, Permission, Territory, TerritoryCode};
use vamos_store::governance::{self as sg, PriorityCount, PriorityLink};
use vamos_store::Store;

const PURPOSE: &str = "prioridades comunitarias (paso 1D)";

/// One need in a district.
#[derive(Debug, Clone, Serialize)]
pub struct Priority {
    pub code: String,
    pub label: String,
    /// Communities that ranked it first, second, third.
    pub ranked: [i64; 3],
    pub communities: i64,
    pub participants: i64,
    pub score: i64,
    /// Share of the district's total score.
    pub share: f64,
    pub links: Vec<PriorityLink>,
}

/// A district's priorities, strongest first, with its Entorno Logro.
#[derive(Debug, Clone, Serialize)]
pub struct District {
    pub district: String,
    pub name: String,
    pub priorities: Vec<Priority>,
    /// Communities whose latest survey ranked at least one need.
    pub communities: i64,
    /// Logro 10 (Entorno) in the latest measurement: (measurement, as of, protected,
    /// identified, coverage) — `None` when the caller may not read the district's figures or
    /// there is no measurement.
    pub entorno: Option<EntornoLogro>,
}

/// The Entorno Logro of a district.
#[derive(Debug, Clone, Serialize)]
pub struct EntornoLogro {
    pub measurement: i64,
    pub as_of: String,
    pub protected: u64,
    pub identified: u64,
    pub coverage: Option<f64>,
}

fn label(code: &str) -> String {
    vamos_ingest::forms::form(vamos_ingest::forms::FormId::Comunidad)
        .choice_label("prioridad", code)
        .map_or_else(|| code.to_string(), str::to_string)
}

fn weight(rank: i64) -> i64 {
    match rank {
        1 => 3,
        2 => 2,
        _ => 1,
    }
}

fn build(district: i64, counts: &[PriorityCount], links: &[PriorityLink]) -> Vec<Priority> {
    let mut out: Vec<Priority> = Vec::new();
    for c in counts.iter().filter(|c| c.district == district) {
        let idx = match out.iter().position(|p| p.code == c.priority) {
            Some(i) => i,
            None => {
                out.push(Priority {
                    code: c.priority.clone(),
                    label: label(&c.priority),
                    ranked: [0; 3],
                    communities: 0,
                    participants: 0,
                    score: 0,
                    share: 0.0,
                    links: links
                        .iter()
                        .filter(|l| l.district == district && l.priority == c.priority)
                        .cloned()
                        .collect(),
                });
                out.len() - 1
            }
        };
        if let Some(p) = out.get_mut(idx) {
            if let Some(slot) = usize::try_from(c.rank - 1)
                .ok()
                .and_then(|r| p.ranked.get_mut(r))
            {
                *slot += c.communities;
            }
            p.communities += c.communities;
            p.participants += c.participants;
            p.score += weight(c.rank) * c.participants;
        }
    }
    let total: i64 = out.iter().map(|p| p.score).sum();
    for p in &mut out {
        p.share = if total > 0 {
            p.score as f64 / total as f64
        } else {
            0.0
        };
    }
    out.sort_by(|a, b| b.score.cmp(&a.score).then_with(|| a.code.cmp(&b.code)));
    out
}

fn entorno(store: &mut dyn Store, actor: &Actor, d: DistrictCode) -> Option<EntornoLogro> {
    let t = TerritoryCode::District(d);
    if !crate::measurements::reads_unsuppressed(actor, t) {
        return None;
    }
    let (m, table) = crate::measurements::logros_of(store, None, t).ok()??;
    let l = table.iter().find(|l| l.category == "entorno")?;
    Some(EntornoLogro {
        measurement: m.id,
        as_of: crate::clock::date_es(&m.as_of.to_string()),
        protected: l.all.protected,
        identified: l.all.identified,
        coverage: (l.all.identified > 0).then(|| l.all.protected as f64 / l.all.identified as f64),
    })
}

/// District `district`'s priorities (audited).
pub fn district(store: &mut dyn Store, actor: &Actor, district: &str) -> Result<District> {
    actor.require(Permission::GovernanceRead)?;
    let d = crate::rollout::district_code(district)?;
    let n = i64::from(d.get());
    let counts = sg::priority_counts(&mut store.db(), &[n])?;
    let links = sg::priority_links(&mut store.db(), &[n])?;
    let priorities = build(n, &counts, &links);
    // Every community's latest survey ranks a first need (the form requires it).
    let communities = priorities.iter().map(|p| p.ranked[0]).sum();
    let entorno = entorno(store, actor, d);
    actor.audit(store, "leer", "prioridades", &d.to_string(), PURPOSE, "ok")?;
    Ok(District {
        district: d.to_string(),
        name: Territory::official().name_of(TerritoryCode::District(d)),
        priorities,
        communities,
        entorno,
    })
}

/// Every district's priorities within `territory` (the nation when `None`), for the export and
/// the overview: (district code, name, priorities). Audited.
pub fn all(
    store: &mut dyn Store,
    actor: &Actor,
    territory: Option<&str>,
) -> Result<Vec<(String, String, Vec<Priority>)>> {
    actor.require(Permission::GovernanceRead)?;
    let within = crate::registry::parse_territory(territory.filter(|s| !s.trim().is_empty()))?;
    let counts = sg::priority_counts(&mut store.db(), &[])?;
    let links = sg::priority_links(&mut store.db(), &[])?;
    let mut districts: Vec<i64> = counts.iter().map(|c| c.district).collect();
    districts.dedup();
    let t = Territory::official();
    let mut out = Vec::new();
    for n in districts {
        let Some(d) = DistrictCode::from_stored(n) else {
            continue;
        };
        if !crate::referrals::territory_within(TerritoryCode::District(d), within) {
            continue;
        }
        out.push((
            d.to_string(),
            t.name_of(TerritoryCode::District(d)),
            build(n, &counts, &links),
        ));
    }
    actor.audit(
        store,
        "listar",
        "prioridades",
        &within.to_string(),
        PURPOSE,
        "ok",
    )?;
    Ok(out)
}

/// [`all`] as CSV (BOM; every cell neutralised).
pub fn csv(store: &mut dyn Store, actor: &Actor, territory: Option<&str>) -> Result<Vec<u8>> {
    let rows = all(store, actor, territory)?;
    let mut w = vamos_domain::csv_safe::CsvWriter::from_writer(b"\xEF\xBB\xBF".to_vec());
    let e = |e: csv::Error| Error::internal(e);
    w.write_record([
        "distrito",
        "nombre_distrito",
        "prioridad",
        "etiqueta",
        "comunidades_1er_lugar",
        "comunidades_2do_lugar",
        "comunidades_3er_lugar",
        "participantes",
        "puntaje",
        "proporcion",
        "vinculos",
    ])
    .map_err(e)?;
    for (code, name, list) in &rows {
        for p in list {
            let links: Vec<String> = p
                .links
                .iter()
                .map(|l| format!("{}:{}", l.link_kind, l.link_ref))
                .collect();
            w.write_record([
                code.clone(),
                name.clone(),
                p.code.clone(),
                p.label.clone(),
                p.ranked[0].to_string(),
                p.ranked[1].to_string(),
                p.ranked[2].to_string(),
                p.participants.to_string(),
                p.score.to_string(),
                format!("{:.4}", p.share),
                links.join(" "),
            ])
            .map_err(e)?;
        }
    }
    w.into_inner().map_err(Error::internal)
}

/// A link from a district's priority to a planned AE or a budget line.
#[derive(Debug, Clone, Deserialize)]
pub struct LinkInput {
    pub district: String,
    pub priority: String,
    /// `ae` or `presupuesto`.
    pub kind: String,
    pub reference: String,
}

/// Links a priority (`planes:editar`, the district in scope); whether the link was new.
pub fn link(store: &mut dyn Store, actor: &Actor, l: &LinkInput) -> Result<bool> {
    let d = crate::rollout::district_code(&l.district)?;
    let subject = format!("{d}/{}", l.priority.chars().take(30).collect::<String>());
    if let Err(e) = actor.require(Permission::PlansEdit) {
        actor.audit(
            store,
            "vincular",
            "prioridad",
            &subject,
            PURPOSE,
            "denegado",
        )?;
        return Err(e);
    }
    if !actor.operator && !actor.scope.contains(d) {
        actor.audit(
            store,
            "vincular",
            "prioridad",
            &subject,
            PURPOSE,
            "denegado: fuera de su ámbito",
        )?;
        return Err(Error::forbidden(format!(
            "{} está fuera de su ámbito territorial",
            Territory::official().name_of(TerritoryCode::District(d))
        )));
    }
    let known = vamos_ingest::forms::form(vamos_ingest::forms::FormId::Comunidad)
        .choice_list("prioridad")
        .contains(&l.priority.as_str());
    if !known {
        return Err(Error::bad_request(format!(
            "prioridad desconocida: «{}»",
            l.priority.chars().take(30).collect::<String>()
        )));
    }
    let reference = l.reference.trim();
    if !matches!(l.kind.as_str(), "ae" | "presupuesto")
        || reference.is_empty()
        || reference.chars().count() > 60
        || !sg::link_exists(&mut store.db(), &l.kind, reference)?
    {
        return Err(Error::bad_request(format!(
            "vínculo: no existe {} «{}»",
            if l.kind == "ae" {
                "la acción estratégica"
            } else {
                "la línea presupuestaria"
            },
            reference.chars().take(60).collect::<String>()
        )));
    }
    let new = sg::add_priority_link(
        &mut store.db(),
        &PriorityLink {
            district: i64::from(d.get()),
            priority: l.priority.clone(),
            link_kind: l.kind.clone(),
            link_ref: reference.to_string(),
            created_by: actor.name.clone(),
            created_at: crate::clock::now_rfc3339(),
        },
    )?;
    actor.audit(
        store,
        "vincular",
        "prioridad",
        &subject,
        PURPOSE,
        if new { "ok" } else { "ok: ya estaba" },
    )?;
    Ok(new)
}
