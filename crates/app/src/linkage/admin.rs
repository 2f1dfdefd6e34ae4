//! Linking administrative records to registered persons without a cédula match: the records of
//! an import (or every one still without a person) against the registry's active persons, by
//! the shipped model (`data/linkage/settings/admin_registro.toml`, or another settings file).
//! The model is trained on the run's own data (u from random pairs, m by EM) and kept with its
//! version; a record's likeliest person above the link threshold becomes its person (evidence
//! for its services), one between the thresholds goes to the clerical review queue, and pairs
//! an analyst rejected are never proposed again. Two persons above the link threshold for one
//! record are not a link: the pair goes to review.

use super::{check_rules, short_hash};
use crate::{Actor, Error, Result};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;
use std::path::Path;
use vamos_domain::Permission;
use vamos_linkage::block::{Input, Keys};
use vamos_linkage::{Settings, Table};
use vamos_store::linkage::{self as stored, Link, NewModel, NewReview, Subject};
use vamos_store::Store;

/// The shipped model of administrative records against the registry.
pub const SETTINGS: &str = include_str!("../../../../data/linkage/settings/admin_registro.toml");

/// The columns a [`Subject`] is given to a model as (its settings name them).
pub const COLUMNS: [&str; 7] = [
    "id",
    "cedula",
    "nombres",
    "apellidos",
    "fecha_nacimiento",
    "sexo",
    "distrito",
];

/// A model's table of stored subjects.
pub fn table(settings: &Settings, subjects: &[Subject]) -> Result<Table> {
    let cols: Vec<String> = COLUMNS.iter().map(|c| (*c).to_string()).collect();
    let rows: Vec<Vec<String>> = subjects
        .iter()
        .map(|s| {
            vec![
                s.id.to_string(),
                s.national_id.map(|n| n.to_string()).unwrap_or_default(),
                s.given_names.clone().unwrap_or_default(),
                s.family_names.clone().unwrap_or_default(),
                s.birth_date.clone().unwrap_or_default(),
                s.sex.clone().unwrap_or_default(),
                s.district_code.map(|d| d.to_string()).unwrap_or_default(),
            ]
        })
        .collect();
    Table::new(settings, &cols, &rows).map_err(Error::bad_request)
}

/// Fewer records than this are scored by the latest model kept for the same settings, if any,
/// rather than a model trained on them.
pub const MIN_TRAINING_RECORDS: usize = 2_000;

/// What a linking run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    /// Records without a person that got one by their cédula (registered after the record
    /// was imported).
    pub records_linked_by_national_id: u64,
    /// Records linked by their cédula alone to a person born another day, given back to the
    /// model to judge with every field (the cédula among them).
    pub records_national_id_doubted: u64,
    /// Records without a person that the model then tried.
    pub records: u64,
    /// Active persons they were compared with.
    pub persons: u64,
    pub pairs_compared: u64,
    /// Records that got their person.
    pub records_linked: u64,
    /// Records whose likeliest person waits for an analyst.
    pub records_for_review: u64,
    /// The model's version (`None` when there was nothing to link).
    pub model_version: Option<String>,
    /// Whether the model was trained on this run (else a kept one scored it: too few records).
    pub model_trained: bool,
    pub link_threshold: f64,
    pub review_threshold: f64,
    pub seconds: f64,
}

/// Links the records of `import` (every record without a person when `None`) with settings
/// from `settings_file` (the shipped ones when `None`), as `actor`; audited.
pub fn link(
    store: &mut dyn Store,
    actor: &Actor,
    import: Option<i64>,
    settings_file: Option<&Path>,
) -> Result<Outcome> {
    actor.require(Permission::RegistryLoad)?;
    let (settings, text, version) = super::registry_settings(settings_file)?;
    let started = std::time::Instant::now();
    let mut out = Outcome {
        link_threshold: settings.thresholds.link,
        review_threshold: settings.thresholds.review,
        ..Outcome::default()
    };
    // Whatever it changed before failing is committed: the audit record names both.
    let r = link_steps(store, &settings, &text, &version, import, &mut out);
    out.seconds = started.elapsed().as_secs_f64();
    let subject = import.map(|i| i.to_string()).unwrap_or_default();
    let done = format!(
        "{} por cédula, {} por cédula dudosa; {} registros: {} enlazados, {} a revisión (modelo {})",
        out.records_linked_by_national_id,
        out.records_national_id_doubted,
        out.records,
        out.records_linked,
        out.records_for_review,
        out.model_version.as_deref().unwrap_or("ninguno")
    );
    actor.audit(
        store,
        "enlazar registros administrativos",
        "importación",
        &subject,
        "enlace de registros sin coincidencia de cédula",
        &match &r {
            Ok(()) => done,
            Err(e) => format!("error: {e}; hecho antes: {done}"),
        },
    )?;
    r.map(|()| out)
}

/// The steps of [`link`]: by cédula, then by the model.
fn link_steps(
    store: &mut dyn Store,
    settings: &Settings,
    text: &str,
    version: &str,
    import: Option<i64>,
    out: &mut Outcome,
) -> Result<()> {
    // A record imported before the survey that registered its person gets it by cédula first;
    // a pair waiting for such a record leaves the queue.
    out.records_linked_by_national_id = stored::link_by_national_id(&mut store.db(), import)?;
    stored::retire_settled(&mut store.db(), &crate::clock::now_rfc3339())?;
    let mut records = stored::unlinked_records(&mut store.db(), import)?;
    // A cédula that matched someone born another day is as likely a mistyped cédula as a
    // mistyped date: the model judges those records too, with every field; their cédula link
    // gives way to its decision only when the run is written.
    let doubted = stored::doubted_national_id_links(&mut store.db(), import)?;
    out.records_national_id_doubted = doubted.len() as u64;
    let doubted_ids: Vec<i64> = doubted.iter().map(|d| d.id).collect();
    records.extend(doubted);
    out.records = records.len() as u64;
    if records.is_empty() {
        return Ok(());
    }
    let persons = stored::persons(&mut store.db(), None)?;
    out.persons = persons.len() as u64;
    if persons.is_empty() {
        return Ok(());
    }
    run(
        store,
        settings,
        text,
        version,
        import,
        (&records, &doubted_ids),
        &persons,
        out,
    )
}

/// The likeliest person of a record, and how many persons reach the link threshold for it.
#[derive(Debug, Clone, Copy)]
struct Best {
    right: u32,
    probability: f64,
    above_link: u32,
}

#[allow(clippy::too_many_arguments)] // reason: one run's inputs, passed once
fn run(
    store: &mut dyn Store,
    settings: &Settings,
    text: &str,
    version: &str,
    import: Option<i64>,
    (records, doubted): (&[Subject], &[i64]),
    persons: &[Subject],
    out: &mut Outcome,
) -> Result<()> {
    let left = table(settings, records)?;
    let right = table(settings, persons)?;
    let input = Input::Link(&left, &right);
    check_rules(settings, input)?;
    let keys = Keys::new(input, &settings.blocking).map_err(Error::bad_request)?;
    // Few records teach a model little (a re-run over what is left may not even give an EM
    // session a pair): the latest model kept with the same training (the thresholds may
    // differ) scores them instead.
    let kept = if records.len() < MIN_TRAINING_RECORDS {
        super::kept_model(store, settings)?
    } else {
        None
    };
    let (model, kept_id) = match kept {
        Some((k, m)) => (
            m.with_term_frequencies(settings, input),
            Some((k.id, k.version)),
        ),
        None => (
            vamos_linkage::train(settings, input).map_err(Error::bad_request)?,
            None,
        ),
    };
    let t = settings.thresholds;
    let (scored, compared) = model.predict(settings, input, &keys, t.review);
    out.pairs_compared = compared;
    let rejected: FxHashSet<(i64, i64)> = stored::rejected_pairs(&mut store.db())?
        .into_iter()
        .collect();
    // A record an analyst already rejected a person for is not linked to another one unseen.
    let reviewed: FxHashSet<i64> = rejected.iter().map(|(r, _)| *r).collect();
    let id = |v: &[Subject], i: u32| v.get(i as usize).map_or(0, |s| s.id);
    let mut best: FxHashMap<u32, Best> = FxHashMap::default();
    for p in &scored {
        if rejected.contains(&(id(records, p.left), id(persons, p.right))) {
            continue;
        }
        let e = best.entry(p.left).or_insert(Best {
            right: p.right,
            probability: p.probability,
            above_link: 0,
        });
        if p.probability >= t.link {
            e.above_link += 1;
        }
        if p.probability > e.probability {
            e.right = p.right;
            e.probability = p.probability;
        }
    }
    let parameters = serde_json::to_string(&model).map_err(|e| Error::internal(e.to_string()))?;
    let model_version = match &kept_id {
        Some((_, v)) => v.clone(),
        None => format!(
            "{version} · modelo:{}",
            short_hash(&format!("{text}\u{1f}{parameters}"))
        ),
    };
    let mut best: Vec<(u32, Best)> = best.into_iter().collect();
    best.sort_unstable_by_key(|(l, _)| *l);
    let mut links = Vec::new();
    let mut reviews = Vec::new();
    for (l, b) in best {
        let Some(record) = records.get(l as usize) else {
            continue;
        };
        let person_id = id(persons, b.right);
        if b.probability >= t.link && b.above_link == 1 && !reviewed.contains(&record.id) {
            links.push(Link {
                admin_record_id: record.id,
                person_id,
                probability: b.probability,
            });
        } else {
            let w = model.waterfall(settings, &left, &right, l, b.right);
            reviews.push(NewReview {
                admin_record_id: record.id,
                person_id,
                probability: b.probability,
                waterfall: serde_json::to_string(&w).map_err(|e| Error::internal(e.to_string()))?,
                district_code: record
                    .district_code
                    .or_else(|| persons.get(b.right as usize).and_then(|p| p.district_code)),
            });
        }
    }
    let at = crate::clock::now_rfc3339();
    let model_id = match &kept_id {
        Some((id, _)) => *id,
        None => stored::keep_model(
            &mut store.db(),
            &NewModel {
                version: &model_version,
                settings: text,
                training_key: &super::training_key(settings),
                parameters: &parameters,
                trained_at: &at,
                records_left: records.len() as i64,
                records_right: persons.len() as i64,
                pairs: compared as i64,
            },
        )?,
    };
    let (linked, queued) = stored::record(
        &mut store.db(),
        model_id,
        import,
        doubted,
        &links,
        &reviews,
        &at,
    )?;
    stored::retire_settled(&mut store.db(), &at)?;
    out.records_linked = linked;
    out.records_for_review = queued;
    out.model_version = Some(model_version);
    out.model_trained = kept_id.is_none();
    Ok(())
}

/// How the administrative records stand against a synthetic population's truth
/// (`verdad/enlace_admin.csv`: `id_registro, persona`, the member's `KEY` or empty for someone
/// outside the registry).
#[derive(Debug, Clone, Default, Serialize)]
pub struct TruthCheck {
    pub records: u64,
    /// Records the truth has no line for (not measured).
    pub records_without_truth: u64,
    /// Records whose person is outside the registry, by the truth.
    pub outsiders: u64,
    pub linked_by_national_id: u64,
    pub linked_by_model: u64,
    pub linked_by_review: u64,
    pub waiting_review: u64,
    /// Records without a person and not in review.
    pub unmatched: u64,
    /// (unmatched + waiting review) / records.
    pub share_unmatched_or_in_review: f64,
    /// Links to the person the truth names, over all links.
    pub precision: f64,
    /// The same, of the model's links alone.
    pub precision_model: f64,
    pub wrong_links: u64,
    /// Outsiders wrongly given a person.
    pub outsiders_linked: u64,
}

/// Measures the registry's administrative records against `truth`, as `actor` (who reads the
/// registry); audited.
pub fn check(store: &mut dyn Store, actor: &Actor, truth: &Path) -> Result<TruthCheck> {
    actor.require(Permission::RegistryRead)?;
    let (headers, rows) = super::read_csv(truth)?;
    let file = truth.display().to_string();
    let at = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| {
            Error::bad_request(format!(
                "{file}: falta la columna «{name}» (id_registro, persona)"
            ))
        })
    };
    let (r, p) = (at("id_registro")?, at("persona")?);
    let truth: FxHashMap<&str, &str> = rows
        .iter()
        .filter_map(|row| {
            let person = row.get(p)?.as_str();
            // The registry keeps a submission's key without ODK's `uuid:` prefix.
            Some((
                row.get(r)?.as_str(),
                person.strip_prefix("uuid:").unwrap_or(person),
            ))
        })
        .collect();
    let keys = stored::record_keys(&mut store.db())?;
    let mut c = TruthCheck {
        records: keys.len() as u64,
        ..TruthCheck::default()
    };
    let (mut right, mut right_model) = (0u64, 0u64);
    for k in &keys {
        let Some(expected) = truth.get(k.record_key.as_str()) else {
            c.records_without_truth += 1;
            continue;
        };
        if expected.is_empty() {
            c.outsiders += 1;
        }
        match (&k.person_key, k.link_method.as_deref()) {
            (None, _) if k.in_review => c.waiting_review += 1,
            (None, _) => c.unmatched += 1,
            (Some(got), method) => {
                let ok = got == expected;
                match method {
                    Some("enlace") => {
                        c.linked_by_model += 1;
                        right_model += u64::from(ok);
                    }
                    Some("revision") => c.linked_by_review += 1,
                    _ => c.linked_by_national_id += 1,
                }
                right += u64::from(ok);
                if !ok {
                    c.wrong_links += 1;
                    c.outsiders_linked += u64::from(expected.is_empty());
                }
            }
        }
    }
    let linked = c.linked_by_national_id + c.linked_by_model + c.linked_by_review;
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    c.precision = ratio(right, linked);
    c.precision_model = ratio(right_model, c.linked_by_model);
    c.share_unmatched_or_in_review = ratio(
        c.unmatched + c.waiting_review,
        c.records - c.records_without_truth,
    );
    actor.audit(
        store,
        "medir el enlace contra la verdad",
        "enlace",
        "",
        "evaluación del enlace de registros (población sintética)",
        &format!("{} registros, precisión {:.4}", c.records, c.precision),
    )?;
    Ok(c)
}
