//! Registry deduplication: the active persons of a territory compared among themselves by the
//! linkage model (the shipped settings, or another file; the trained model is kept with its
//! version), pairs above the link threshold grouped into entities, and each entity's other
//! records proposed for merging into its oldest (the lowest id: the id that stays, so an
//! entity's id is stable as records join it) — as `fusionar_personas` change requests, which
//! analysts approve or reject like any other. A record joined to the entity only through
//! another (its own pair with the oldest below the threshold) is listed, not proposed. A pair
//! that already has an open request is not proposed twice.

use super::admin::table;
use super::check_rules;
use crate::{Actor, Error, Result};
use serde::Serialize;
use std::path::Path;
use vamos_domain::{Permission, TerritoryCode};
use vamos_linkage::block::{Input, Keys};
use vamos_store::linkage as stored;
use vamos_store::Store;

/// A proposed merge.
#[derive(Debug, Clone, Serialize)]
pub struct Proposal {
    /// The record that would be merged away, and the one it joins (the entity's oldest).
    pub duplicate: i64,
    pub survivor: i64,
    pub probability: f64,
    /// The change request created (`None`: not created — see `note`).
    pub change_request: Option<i64>,
    pub note: Option<String>,
}

/// What a deduplication found and proposed.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub territory: String,
    pub persons: u64,
    pub pairs_compared: u64,
    /// Pairs at or above the link threshold.
    pub pairs_linked: u64,
    /// Entities with more than one record.
    pub entities_with_duplicates: u64,
    pub proposals: Vec<Proposal>,
    /// Change requests created.
    pub requests_created: u64,
    pub model_version: String,
    pub seconds: f64,
}

/// Deduplicates `territory`'s persons as `actor`; with `propose`, files each merge as a change
/// request (else only lists them).
pub fn dedupe(
    store: &mut dyn Store,
    actor: &Actor,
    territory: TerritoryCode,
    settings_file: Option<&Path>,
    propose: bool,
) -> Result<Outcome> {
    actor.require(Permission::RegistryRead)?;
    actor.require(Permission::ChangesRequest)?;
    if !actor.scope.covers(territory) {
        return Err(Error::forbidden(format!(
            "el territorio {territory} está fuera de su ámbito"
        )));
    }
    let (settings, text, version) = super::registry_settings(settings_file)?;
    let started = std::time::Instant::now();
    let ranges = vamos_domain::Scope::Territories(vec![territory]).district_ranges();
    let persons = stored::persons(&mut store.db(), Some(&ranges))?;
    let mut out = Outcome {
        territory: territory.to_string(),
        persons: persons.len() as u64,
        pairs_compared: 0,
        pairs_linked: 0,
        entities_with_duplicates: 0,
        proposals: Vec::new(),
        requests_created: 0,
        model_version: version,
        seconds: 0.0,
    };
    if persons.len() >= 2 {
        let t = table(&settings, &persons)?;
        let input = Input::Dedupe(&t);
        check_rules(&settings, input)?;
        let keys = Keys::new(input, &settings.blocking).map_err(Error::bad_request)?;
        let model = vamos_linkage::train(&settings, input).map_err(Error::bad_request)?;
        let link = settings.thresholds.link;
        let (scored, compared) = model.predict(&settings, input, &keys, link);
        out.pairs_compared = compared;
        out.pairs_linked = scored.len() as u64;
        let edges: Vec<(u32, u32)> = scored.iter().map(|p| (p.left, p.right)).collect();
        let entity = vamos_linkage::cluster::components(persons.len(), &edges);
        // Each entity's oldest record: the smallest id among its members.
        let mut oldest: rustc_hash::FxHashMap<u32, usize> = rustc_hash::FxHashMap::default();
        for (i, e) in entity.iter().enumerate() {
            let id = persons.get(i).map_or(i64::MAX, |p| p.id);
            oldest
                .entry(*e)
                .and_modify(|o| {
                    if persons.get(*o).map_or(i64::MAX, |p| p.id) > id {
                        *o = i;
                    }
                })
                .or_insert(i);
        }
        let parameters =
            serde_json::to_string(&model).map_err(|e| Error::internal(e.to_string()))?;
        out.model_version = format!(
            "{} · modelo:{}",
            out.model_version,
            super::short_hash(&format!("{text}\u{1f}{parameters}"))
        );
        stored::keep_model(
            &mut store.db(),
            &stored::NewModel {
                version: &out.model_version,
                settings: &text,
                training_key: &super::training_key(&settings),
                parameters: &parameters,
                trained_at: &crate::clock::now_rfc3339(),
                records_left: persons.len() as i64,
                records_right: persons.len() as i64,
                pairs: compared as i64,
            },
        )?;
        let mut proposals = Vec::new();
        let mut entities = Vec::new();
        for (i, e) in entity.iter().enumerate() {
            let Some(&o) = oldest.get(e) else { continue };
            if o == i {
                continue;
            }
            let (Some(dup), Some(surv)) = (persons.get(i), persons.get(o)) else {
                continue;
            };
            entities.push(*e);
            // Entities chain pairs (A~B, B~C): a member is proposed only when it and the oldest
            // are themselves above the threshold; otherwise it is listed for a person to look.
            let (a, b) = (i.min(o) as u32, i.max(o) as u32);
            let direct = model.waterfall(&settings, &t, &t, a, b).probability;
            proposals.push(Proposal {
                duplicate: dup.id,
                survivor: surv.id,
                probability: direct,
                change_request: None,
                note: (direct < link).then(|| {
                    format!(
                        "unido a la entidad por otro registro: su probabilidad directa con la persona {} no llega al umbral; no se propone",
                        surv.id
                    )
                }),
            });
        }
        entities.sort_unstable();
        entities.dedup();
        out.entities_with_duplicates = entities.len() as u64;
        if propose {
            for p in proposals.iter_mut().filter(|p| p.note.is_none()) {
                let input = crate::changes::RequestInput {
                    tipo: "fusionar_personas".into(),
                    unidades: vec![p.duplicate, p.survivor],
                    efecto: "correccion".into(),
                    motivo: format!(
                        "Posible registro duplicado hallado por el enlace de registros (probabilidad {}, modelo {})",
                        vamos_domain::numbers::decimal_es(p.probability * 100.0, 1) + " %",
                        out.model_version
                    ),
                    ..Default::default()
                };
                match crate::changes::request(store, actor, &input) {
                    Ok(r) => {
                        p.change_request = r.get("id").and_then(serde_json::Value::as_i64);
                        out.requests_created += 1;
                    }
                    // An open request on the same persons, a person changed meanwhile: the
                    // merge is listed with why it was not filed.
                    Err(e) => p.note = Some(e.to_string()),
                }
            }
        }
        out.proposals = proposals;
    }
    out.seconds = started.elapsed().as_secs_f64();
    actor.audit(
        store,
        "deduplicar el registro",
        "territorio",
        &territory.to_string(),
        "deduplicación del registro por enlace de registros",
        &format!(
            "{} personas, {} fusiones propuestas, {} solicitudes creadas",
            out.persons,
            out.proposals.len(),
            out.requests_created
        ),
    )?;
    Ok(out)
}
